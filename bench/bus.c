/*
 * bus.c — events per second through the event bus to N actor listeners.
 *
 *   bus [E [N...]]      (defaults E = 200000, N = 1 10 100)
 *
 * For each N: a bus with N actor listeners on "bench.*"; one thread
 * publishes E events on "bench.t" (payload: one int) with
 * nact_bus_publish_int; timed from the first publish until every listener
 * has received all E events. Prints
 *
 *   peer=nactor bench=bus_publish n=E seconds=S rate=R listeners=N
 *       deliveries_per_s=D
 *
 * (rate = events published per second, each delivered to N listeners) and
 * checks its own result: every listener got exactly E events, in order,
 * and the bus counted E publishes and E * N deliveries with no error.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nactor/bus.h>
#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct lst {
	atomic_long got;
	long next;     /* next expected payload (listener only) */
	long disorder; /* events out of order (listener only) */
} lst;

static int listener(nact_ctx *ctx, nact_msg *m)
{
	lst *l = nact_state(ctx);
	const void *p;
	size_t pl;
	nact_reader r;
	int64_t v = -1;
	if (nact_event_read(m, NULL, NULL, &p, &pl) == 0 &&
	    nact_reader_init_buf(&r, p, pl, NULL) == 0) {
		nact_read_int(&r, &v);
		nact_reader_fini(&r);
	}
	if (v != l->next)
		l->disorder++;
	l->next = v + 1;
	atomic_fetch_add_explicit(&l->got, 1, memory_order_release);
	return 0;
}

static int run(long e, long n)
{
	nact_system *sys;
	nact_bus *b;
	int rv, ok = 1;
	if ((rv = nact_system_open(&sys, NULL)) != 0 || (rv = nact_bus_open(&b, sys, NULL)) != 0) {
		fprintf(stderr, "bus: open: %s\n", nact_strerror(rv));
		return 0;
	}
	lst *ls = calloc((size_t)n, sizeof(*ls));
	for (long i = 0; ls != NULL && i < n; i++) {
		nact_aid a;
		if (nact_spawn(&a, sys, listener, &ls[i], NULL, NULL) != 0 ||
		    nact_bus_on_actor(b, "bench.*", a, NULL) != 0)
			ok = 0;
	}
	uint64_t cnt = 0;
	if (ls == NULL || !ok ||
	    nact_bus_count(sys, nact_bus_aid(b), "bench.t", &cnt, 10000) != 0 ||
	    cnt != (uint64_t)n) {
		fprintf(stderr, "bus: setup failed\n");
		ok = 0;
		goto out;
	}
	nact_aid bus = nact_bus_aid(b);
	double t0 = now_s();
	for (long i = 0; i < e; i++) {
		if ((rv = nact_bus_publish_int(sys, bus, "bench.t", i)) != 0) {
			fprintf(stderr, "bus: publish: %s\n", nact_strerror(rv));
			ok = 0;
			goto out;
		}
	}
	double limit = t0 + 120;
	for (long i = 0; i < n; i++) {
		while (
		    atomic_load_explicit(&ls[i].got, memory_order_acquire) < e && now_s() < limit)
			nng_msleep(1);
	}
	double dt = now_s() - t0;
	for (long i = 0; i < n; i++) {
		if (atomic_load(&ls[i].got) != e || ls[i].disorder != 0) {
			fprintf(stderr, "bus: listener %ld got %ld (disorder %ld), want %ld\n", i,
			    (long)atomic_load(&ls[i].got), ls[i].disorder, e);
			ok = 0;
		}
	}
	nact_bus_stats st;
	if (nact_bus_stats_get(sys, bus, &st, 10000) != 0 || st.published != (uint64_t)e ||
	    st.delivered != (uint64_t)(e * n) || st.errors != 0) {
		fprintf(stderr, "bus: stats wrong\n");
		ok = 0;
	}
	if (ok)
		printf("peer=nactor bench=bus_publish n=%ld seconds=%.3f rate=%.0f listeners=%ld "
		       "deliveries_per_s=%.0f\n",
		    e, dt, e / dt, n, (double)e * n / dt);
out:
	nact_system_close(sys, 10000);
	nact_bus_free(b);
	free(ls);
	return ok;
}

int main(int argc, char **argv)
{
	long e = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	static const long dflt[] = {1, 10, 100};
	if (e < 1) {
		fprintf(stderr, "usage: bus [E [N...]]\n");
		return 2;
	}
	int ok = 1;
	if (argc > 2) {
		for (int i = 2; i < argc; i++) {
			long n = strtol(argv[i], NULL, 10);
			if (n < 1) {
				fprintf(stderr, "usage: bus [E [N...]]\n");
				return 2;
			}
			ok &= run(e, n);
		}
	} else {
		for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
			ok &= run(e, dflt[i]);
	}
	return ok ? 0 : 1;
}
