/*
 * isolated.c — what a message to a crash-isolated actor costs next to the
 * same message to an in-process actor.
 *
 *   isolated [N]        (default 20000)
 *
 * The same behaviour (a counter that also answers pings) runs twice: as an
 * ordinary actor, and isolated in its own process (nact_spawn_isolated,
 * cfg.isolation = 1). Two workloads each, one line per result in the
 * format of the other benchmarks:
 *
 *   peer=nactor bench=inprocess_msg n=N seconds=S rate=R
 *   peer=nactor bench=isolated_msg n=N seconds=S rate=R
 *   peer=nactor bench=inprocess_rtt n=N seconds=S rate=R
 *   peer=nactor bench=isolated_rtt n=N seconds=S rate=R
 *
 *   *_msg   main sends N one-way "inc" messages, then nact_calls "get";
 *           the reply carries the count, which must be N (timed from the
 *           first send to the reply)
 *   *_rtt   a pinger actor and the counter exchange N ping/pong round
 *           trips (each pong triggers the next ping); main nact_calls the
 *           pinger with "go" and gets the reply when it is done
 *
 * An isolated actor has one message in flight to its process at a time
 * (the rest wait in its mailbox, so they survive a crash): both workloads
 * pay one ipc round trip per message there, which is what this measures.
 * Each workload checks its result; the program exits 1 if one fails.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/nactor.h>

enum {
	T_INC = 1, /* empty */
	T_GET,     /* request; reply T_COUNT */
	T_COUNT,   /* body = count */
	T_PING,    /* empty; answered with T_PONG to the sender */
	T_PONG,    /* empty */
	T_GO,      /* request to the pinger: body = round trips; reply T_DONE */
	T_DONE     /* empty */
};

#define CALL_TIMEOUT_MS 600000

static void die(const char *what, int rv)
{
	fprintf(stderr, "isolated: %s: %s\n", what, rv ? nact_strerror(rv) : "check failed");
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *bench, long n, double s)
{
	printf("peer=nactor bench=%s n=%ld seconds=%.6f rate=%.0f\n", bench, n, s, (double)n / s);
	fflush(stdout);
}

static nact_msg *msg_int(nact_system *sys, uint32_t type, int64_t v, int with_body)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		die("nact_msg_alloc", rv);
	if (with_body) {
		nact_pack pk;
		nact_pack_init(&pk, m);
		nact_pack_int(&pk, v);
		if ((rv = nact_pack_error(&pk)) != 0)
			die("nact_pack", rv);
	}
	return m;
}

static int64_t body_int(const nact_msg *m)
{
	nact_reader r;
	int64_t v = -1;
	if (nact_reader_init(&r, m, NULL) == 0) {
		nact_read_int(&r, &v);
		nact_reader_fini(&r);
	}
	return v;
}

/* ---- the counter: the same behaviour in-process and isolated ---- */

typedef struct counter {
	int64_t n;
} counter;

static int counter_init(void **statep, const void *arg, size_t arglen)
{
	(void)arg;
	(void)arglen;
	*statep = calloc(1, sizeof(counter));
	return *statep != NULL ? 0 : NACT_ENOMEM;
}

static int counter_fn(nact_ctx *ctx, nact_msg *m)
{
	counter *c = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	switch (nact_msg_type(m)) {
	case T_INC:
		c->n++;
		return 0;
	case T_GET: {
		nact_msg *r = msg_int(sys, T_COUNT, c->n, 1);
		if (nact_reply(sys, m, r) != 0)
			nact_msg_free(r);
		return 0;
	}
	case T_PING: {
		nact_msg *r = msg_int(sys, T_PONG, 0, 0);
		if (nact_send(sys, nact_msg_sender(m), r) != 0)
			nact_msg_free(r);
		return 0;
	}
	default:
		return 0;
	}
}

/* ---- the pinger (in this process) ---- */

typedef struct pinger {
	nact_aid target;
	int64_t left;
	nact_aid go_from; /* the T_GO request to answer */
	uint64_t go_corr;
} pinger;

static void ping(nact_ctx *ctx, pinger *p)
{
	nact_msg *m = msg_int(nact_sys(ctx), T_PING, 0, 0);
	int rv = nact_send(nact_sys(ctx), p->target, m);
	if (rv != 0)
		die("ping", rv);
}

static int pinger_fn(nact_ctx *ctx, nact_msg *m)
{
	pinger *p = nact_state(ctx);
	switch (nact_msg_type(m)) {
	case T_GO:
		p->left = body_int(m);
		p->go_from = nact_msg_sender(m);
		p->go_corr = nact_msg_corr(m);
		ping(ctx, p);
		return 0;
	case T_PONG:
		if (--p->left > 0) {
			ping(ctx, p);
			return 0;
		}
		nact_msg *d = msg_int(nact_sys(ctx), T_DONE, 0, 0);
		if (nact_reply_to(nact_sys(ctx), p->go_from, p->go_corr, d) != 0)
			die("reply", NACT_EINVAL);
		return 0;
	default:
		die("pinger: unexpected message", 0);
		return 0;
	}
}

/* ---- workloads ---- */

static void bench_msg(nact_system *sys, nact_aid target, long n, const char *name)
{
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		int rv = nact_send(sys, target, msg_int(sys, T_INC, 0, 0));
		if (rv != 0)
			die("send inc", rv);
	}
	nact_msg *rep = NULL;
	int rv = nact_call(sys, target, msg_int(sys, T_GET, 0, 0), CALL_TIMEOUT_MS, &rep);
	if (rv != 0)
		die("call get", rv);
	double s = now_s() - t0;
	int64_t got = body_int(rep);
	nact_msg_free(rep);
	if (got != n) {
		fprintf(stderr, "isolated: %s: count %" PRId64 ", want %ld\n", name, got, n);
		exit(1);
	}
	report(name, n, s);
}

static void bench_rtt(nact_system *sys, nact_aid target, long n, const char *name)
{
	pinger *p = calloc(1, sizeof(*p));
	if (p == NULL)
		die("calloc", NACT_ENOMEM);
	p->target = target;
	nact_aid pid;
	int rv = nact_spawn(&pid, sys, pinger_fn, p, free, NULL);
	if (rv != 0)
		die("spawn pinger", rv);
	double t0 = now_s();
	nact_msg *rep = NULL;
	rv = nact_call(sys, pid, msg_int(sys, T_GO, n, 1), CALL_TIMEOUT_MS, &rep);
	if (rv != 0)
		die("call go", rv);
	double s = now_s() - t0;
	if (nact_msg_type(rep) != T_DONE)
		die("pinger reply", 0);
	nact_msg_free(rep);
	nact_stop(sys, pid);
	report(name, n, s);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	if (n <= 0) {
		fprintf(stderr, "usage: isolated [N]\n");
		return 2;
	}
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.isolation = 1; /* first thing: the launcher starts before any thread */
	nact_system *sys;
	int rv = nact_system_open(&sys, &cfg);
	if (rv != 0)
		die("nact_system_open", rv);

	void *st;
	if ((rv = counter_init(&st, NULL, 0)) != 0)
		die("counter_init", rv);
	nact_aid local, iso;
	if ((rv = nact_spawn(&local, sys, counter_fn, st, free, NULL)) != 0)
		die("spawn", rv);
	if ((rv = nact_spawn_isolated(&iso, sys, counter_fn, counter_init, NULL, 0, free, NULL)) !=
	    0)
		die("nact_spawn_isolated", rv);

	/* warm up: the isolated process is started asynchronously */
	for (int i = 0; i < 2; i++) {
		nact_msg *rep = NULL;
		rv = nact_call(sys, i ? iso : local, msg_int(sys, T_GET, 0, 0), CALL_TIMEOUT_MS,
		    &rep);
		if (rv != 0)
			die("warm-up call", rv);
		nact_msg_free(rep);
	}

	bench_msg(sys, local, n, "inprocess_msg");
	bench_msg(sys, iso, n, "isolated_msg");
	bench_rtt(sys, local, n, "inprocess_rtt");
	bench_rtt(sys, iso, n, "isolated_rtt");

	nact_system_close(sys, 5000);
	return 0;
}
