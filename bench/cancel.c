/*
 * cancel.c — what the cancel area costs: a signal's cancel pass over a big
 * tree, and progress reports while the node publishes them.
 *
 *   cancel [T [N]]      (defaults T = 100000, N = 1000000)
 *
 * op_cancel_all: T live operations in a tree (up to 10 children per node,
 * 6 levels for 100k), one on_cancel callback on each, then one
 * nact_op_cancel_all(NACT_CANCEL_SIGNAL) (what the first SIGTERM does),
 * timed until it returns (every callback has run by then).
 * op_progress_held: N nact_op_progress calls on one operation while the
 * registry is served (the PUB socket has no subscriber): after the first,
 * each falls inside the 100 ms window and is held, so this is the cost of
 * a report on the hot path. op_progress_pub: N operations with one report
 * each, every one published (packed and handed to nng).
 *
 *   peer=nactor bench=op_cancel_all n=T seconds=S rate=R
 *   peer=nactor bench=op_progress_held n=N seconds=S rate=R ns_per_op=X
 *   peer=nactor bench=op_progress_pub n=N seconds=S rate=R ns_per_op=X
 *
 * Checks: every call succeeds, the callbacks ran exactly T times, each
 * with reason signal, nothing is left live.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <nactor/nactor.h>
#include <nactor/signal.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct counts {
	long calls, signal;
};

static void count_cb(void *arg, nact_opid id, int reason)
{
	struct counts *c = arg; /* every callback runs on the cancelling thread */
	c->calls++;
	c->signal += reason == NACT_CANCEL_SIGNAL;
	(void)id;
}

static long arg_or(int argc, char **argv, int i, long dflt)
{
	if (argc <= i)
		return dflt;
	char *end;
	long v = strtol(argv[i], &end, 10);
	return (*end != '\0' || v < 1) ? -1 : v;
}

static int fail(const char *what, int rv)
{
	fprintf(stderr, "cancel bench: %s: %s\n", what, nact_strerror(rv));
	return 1;
}

int main(int argc, char **argv)
{
	long tn = arg_or(argc, argv, 1, 100000), n = arg_or(argc, argv, 2, 1000000);
	nact_system *sys;
	nact_config cfg;
	struct counts c = {0, 0};
	size_t live = 0, k = 0;
	char dir[64];
	int rv;
	if (n < 1 || tn < 1) {
		fprintf(stderr, "usage: cancel [T [N]]\n");
		return 2;
	}
	nact_config_init(&cfg);
	cfg.workers = 1;
	if ((rv = nact_system_open(&sys, &cfg)) != 0)
		return fail("open", rv);

	/* op_cancel_all */
	nact_opid *ids = malloc((size_t)tn * sizeof(*ids));
	if (ids == NULL)
		return fail("malloc", NACT_ENOMEM);
	for (long i = 0; i < tn; i++) {
		nact_opid parent = i == 0 ? NACT_OPID_NONE : ids[(i - 1) / 10];
		if ((rv = nact_op_create(&ids[i], sys, "node", parent, NULL)) != 0 ||
		    (rv = nact_op_on_cancel(sys, ids[i], count_cb, &c)) != 0)
			return fail("create", rv);
	}
	double t0 = now_s();
	rv = nact_op_cancel_all(sys, NACT_CANCEL_SIGNAL, "bench", &k);
	double dt = now_s() - t0;
	if (rv != 0)
		return fail("cancel_all", rv);
	nact_op_list(sys, NACT_OP_PENDING, NULL, 0, &live);
	if (c.calls != tn || c.signal != tn || (long)k != tn || live != 0) {
		fprintf(stderr,
		    "cancel bench: %ld callbacks (%ld signal), %zu cancelled, %zu live\n", c.calls,
		    c.signal, k, live);
		return 1;
	}
	printf("peer=nactor bench=op_cancel_all n=%ld seconds=%.6f rate=%.0f\n", tn, dt, tn / dt);
	free(ids);

	/* progress, while serving */
	snprintf(dir, sizeof(dir), "/tmp/nact-bench-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return fail("mkdtemp", NACT_ESYSERR);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	if ((rv = nact_registry_serve(sys, "bench", NULL, 0)) != 0)
		return fail("serve", rv);
	nact_opid a;
	if ((rv = nact_op_create(&a, sys, "held", NACT_OPID_NONE, NULL)) != 0 ||
	    (rv = nact_op_start(sys, a)) != 0)
		return fail("create", rv);
	t0 = now_s();
	for (long i = 0; i < n; i++)
		if ((rv = nact_op_progress(sys, a, (double)i / n, NULL)) != 0)
			return fail("progress", rv);
	dt = now_s() - t0;
	printf("peer=nactor bench=op_progress_held n=%ld seconds=%.6f rate=%.0f ns_per_op=%.1f\n",
	    n, dt, n / dt, dt * 1e9 / n);
	if ((rv = nact_op_complete(sys, a)) != 0)
		return fail("complete", rv);

	long pn = n / 10 > 0 ? n / 10 : 1; /* one op each: fewer */
	double spent = 0;
	for (long i = 0; i < pn; i++) {
		if ((rv = nact_op_create(&a, sys, "pub", NACT_OPID_NONE, NULL)) != 0)
			return fail("create", rv);
		t0 = now_s();
		rv = nact_op_progress(sys, a, 0.5, "half");
		spent += now_s() - t0;
		if (rv != 0)
			return fail("progress", rv);
		if ((rv = nact_op_cancel(sys, a, NACT_CANCEL_MANUAL, NULL)) != 0)
			return fail("cancel", rv);
	}
	printf("peer=nactor bench=op_progress_pub n=%ld seconds=%.6f rate=%.0f ns_per_op=%.1f\n",
	    pn, spent, pn / spent, spent * 1e9 / pn);
	nact_system_close(sys, 2000);
	char p[128];
	snprintf(p, sizeof(p), "%s/nactor", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}
