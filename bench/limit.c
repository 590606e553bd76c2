/*
 * limit.c — the cost of the limiters' try path.
 *
 *   limit [M]      (default M = 20000000)
 *
 * rate_try: M calls of nact_rate_try(1 token) on a bucket fast enough that
 * most succeed (each call reads the system clock, nact_now, and refills);
 * climit: M nact_climit_try + nact_climit_release pairs; alimit: M
 * nact_alimit_try + nact_alimit_report(success) pairs. Prints
 *
 *   peer=nactor bench=limit_rate_try n=M seconds=S rate=R ns_per_call=X
 *   peer=nactor bench=limit_climit n=M seconds=S rate=R ns_per_call=X
 *   peer=nactor bench=limit_alimit n=M seconds=S rate=R ns_per_call=X
 *
 * and checks its results: every call returned 0 or NACT_ELIMITED, the
 * counts add up to M, and the concurrency limiter ends with no permit out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nactor/limit.h>
#include <nactor/nactor.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void line(const char *name, long m, double dt)
{
	printf("peer=nactor bench=%s n=%ld seconds=%.3f rate=%.0f ns_per_call=%.1f\n", name, m, dt,
	    m / dt, dt * 1e9 / m);
}

int main(int argc, char **argv)
{
	long m = argc > 1 ? strtol(argv[1], NULL, 10) : 20000000;
	nact_system *sys;
	nact_config cfg;
	int rv, ok = 1;
	if (m < 1) {
		fprintf(stderr, "usage: limit [M]\n");
		return 2;
	}
	nact_config_init(&cfg);
	cfg.workers = 1;
	if ((rv = nact_system_open(&sys, &cfg)) != 0) {
		fprintf(stderr, "limit: open: %s\n", nact_strerror(rv));
		return 1;
	}

	nact_rate r;
	long got = 0, refused = 0, other = 0;
	nact_rate_init(&r, sys, 1e9, 1000);
	double t0 = now_s();
	for (long i = 0; i < m; i++) {
		rv = nact_rate_try(&r, 1, NULL);
		got += rv == 0;
		refused += rv == NACT_ELIMITED;
		other += rv != 0 && rv != NACT_ELIMITED;
	}
	double dt = now_s() - t0;
	if (other != 0 || got + refused != m || got == 0) {
		fprintf(stderr, "limit: rate_try got %ld refused %ld other %ld\n", got, refused,
		    other);
		ok = 0;
	} else {
		line("limit_rate_try", m, dt);
	}

	nact_climit c;
	nact_climit_init(&c, 4);
	got = other = 0;
	t0 = now_s();
	for (long i = 0; i < m; i++) {
		if (nact_climit_try(&c) == 0 && nact_climit_release(&c) == 0)
			got++;
		else
			other++;
	}
	dt = now_s() - t0;
	if (got != m || c.inflight != 0) {
		fprintf(stderr, "limit: climit got %ld other %ld\n", got, other);
		ok = 0;
	} else {
		line("limit_climit", m, dt);
	}

	nact_alimit a;
	nact_alimit_opts ao = {.max = 1e9, .burst = 1000};
	nact_alimit_init(&a, sys, &ao);
	got = refused = other = 0;
	t0 = now_s();
	for (long i = 0; i < m; i++) {
		rv = nact_alimit_try(&a, NULL);
		got += rv == 0;
		refused += rv == NACT_ELIMITED;
		other += rv != 0 && rv != NACT_ELIMITED;
		nact_alimit_report(&a, 0);
	}
	dt = now_s() - t0;
	if (other != 0 || got + refused != m || got == 0 || a.increases != (uint64_t)m) {
		fprintf(stderr, "limit: alimit got %ld refused %ld other %ld\n", got, refused,
		    other);
		ok = 0;
	} else {
		line("limit_alimit", m, dt);
	}
	nact_system_close(sys, 5000);
	return ok ? 0 : 1;
}
