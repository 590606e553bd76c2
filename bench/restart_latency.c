/*
 * restart_latency.c — time from a child's failure to its restarted
 * successor handling its next message.
 *
 *   restart_latency N
 *
 * A one-for-one supervisor (no backoff, an intensity that never trips)
 * runs one child. The child's start function spawns the worker and queues
 * a PING for it: the first message the new incarnation handles. The worker
 * handles its PING, then fails at once (its behaviour returns an error),
 * N times in a row. So each cycle is: the failing handler returns -> the
 * actor ends, its DOWN reaches the supervisor -> the supervisor decides,
 * calls the start function (spawn, monitor, link, PING) -> the new worker
 * handles the PING. Timestamps are taken on CLOCK_MONOTONIC just before the
 * failing return and at the start of the next PING; their sum over N cycles
 * is `seconds`. Prints
 *
 *   peer=nactor bench=restart_latency n=N seconds=S rate=R us_per_restart=U
 *
 * plus the slowest cycle on stderr. The program checks that the supervisor
 * counted N restarts and that every PING was handled by a new incarnation.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h>

enum { T_PING = 1 };

struct bench {
	long n;            /* restarts wanted */
	atomic_long pings; /* PINGs handled (one per incarnation) */
	uint64_t t_fail;   /* ns: the last failure (written by the worker) */
	uint64_t sum_ns;   /* failure -> next PING, summed */
	uint64_t max_ns;   /* ... the slowest */
	nact_aid last;     /* the incarnation that handled the last PING */
	nng_mtx *mtx;      /* main waits on cv for the end */
	nng_cv *cv;
	int done; /* under mtx */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Only one incarnation runs at a time and each starts after the previous
 * one ended (through the supervisor's messages), so the plain fields of
 * struct bench are handed from one to the next in order. */
static int worker(nact_ctx *ctx, nact_msg *m)
{
	struct bench *b = nact_state(ctx);
	if (nact_msg_type(m) != T_PING)
		return 0;
	uint64_t t = now_ns();
	long k = atomic_fetch_add(&b->pings, 1);
	if (k > 0) {
		uint64_t d = t - b->t_fail;
		b->sum_ns += d;
		if (d > b->max_ns)
			b->max_ns = d;
		if (nact_self(ctx).v == b->last.v)
			return NACT_ESTATE; /* not a new incarnation: wrong */
	}
	b->last = nact_self(ctx);
	if (k == b->n) {
		nng_mtx_lock(b->mtx);
		b->done = 1;
		nng_cv_wake(b->cv);
		nng_mtx_unlock(b->mtx);
		return 0;
	}
	b->t_fail = now_ns();
	return NACT_EINVAL; /* fail: the supervisor restarts us */
}

static int start_worker(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	nact_msg *m;
	int rv = nact_spawn(idp, sys, worker, arg, NULL, NULL);
	if (rv != 0)
		return rv;
	if ((rv = nact_msg_alloc(&m, sys, T_PING)) == 0 && (rv = nact_send(sys, *idp, m)) != 0)
		nact_msg_free(m);
	if (rv != 0)
		nact_stop(sys, *idp); /* a failed start leaves nothing running */
	return rv;
}

int main(int argc, char **argv)
{
	nact_system *sys;
	nact_aid sup;
	struct bench b = {0};
	char *end;

	b.n = argc > 1 ? strtol(argv[1], &end, 10) : 100000;
	if (argc > 2 || b.n < 1 || (argc > 1 && *end != '\0')) {
		fprintf(stderr, "usage: restart_latency [N >= 1]\n");
		return 2;
	}
	if (nng_mtx_alloc(&b.mtx) != 0 || nng_cv_alloc(&b.cv, b.mtx) != 0)
		return 1;
	if (nact_system_open(&sys, NULL) != 0)
		return 1;
	nact_child_spec child = {.id = "worker", .start = start_worker, .arg = &b};
	nact_sup_spec spec = {.strategy = NACT_ONE_FOR_ONE,
	    .intensity = UINT32_MAX,
	    .period_ms = 1,
	    .children = &child,
	    .nchildren = 1};
	int rv = nact_sup_start(&sup, sys, &spec);
	if (rv != 0) {
		fprintf(stderr, "restart_latency: nact_sup_start: %s\n", nact_strerror(rv));
		return 1;
	}
	/* every restart: a few spawns, messages and timers' worth of work;
	 * allow ~1 ms each, plus slack for slow machines */
	nng_time until = nng_clock() + 10000 + (nng_time)b.n;
	nng_mtx_lock(b.mtx);
	while (!b.done && nng_cv_until(b.cv, until) != NNG_ETIMEDOUT)
		;
	int done = b.done;
	nng_mtx_unlock(b.mtx);
	nact_child_info ci;
	uint32_t nci = 0;
	rv = done ? nact_sup_children(sys, sup, &ci, 1, &nci, 5000) : NACT_ETIMEDOUT;
	int ok =
	    rv == 0 && nci == 1 && ci.restarts == (uint32_t)b.n && atomic_load(&b.pings) == b.n + 1;
	nact_system_close(sys, 5000);
	nng_cv_free(b.cv);
	nng_mtx_free(b.mtx);
	if (!ok) {
		fprintf(stderr, "restart_latency: %s (restarts %u, pings %ld, want %ld)\n",
		    rv ? nact_strerror(rv) : "wrong count", nci ? ci.restarts : 0,
		    atomic_load(&b.pings), b.n);
		return 1;
	}
	double s = b.sum_ns / 1e9;
	printf("peer=nactor bench=restart_latency n=%ld seconds=%.6f rate=%.0f "
	       "us_per_restart=%.2f\n",
	    b.n, s, b.n / s, b.sum_ns / 1e3 / b.n);
	fprintf(stderr, "restart_latency: slowest %.1f us\n", b.max_ns / 1e3);
	return 0;
}
