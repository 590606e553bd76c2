/*
 * ops.c — what registering an operation costs, and how fast a big tree of
 * operations is cancelled.
 *
 *   ops [N [T]]      (defaults N = 1000000, T = 100000)
 *
 * op_register: N times nact_op_create + nact_op_start + nact_op_complete
 * from one thread (so each also moves into the bounded history and frees
 * its live entry). op_cancel_tree: T operations in a tree (each node has
 * up to 10 children, 6 levels for 100k), one on_cancel callback on every
 * node, then one nact_op_cancel of the root, timed until it returns (every
 * callback has run by then). Prints
 *
 *   peer=nactor bench=op_register n=N seconds=S rate=R ns_per_op=X
 *   peer=nactor bench=op_cancel_tree n=T seconds=S rate=R
 *   peer=nactor bench=op_cancel_actors n=T seconds=S rate=R
 *
 * op_cancel_actors: T cancelable actors (nact_spawn_op) whose operations
 * form the same tree, each ending itself when it gets NACT_T_CANCEL; timed
 * from the cancel of the root until every actor has ended (its state
 * destructor ran), on the default number of workers.
 *
 * Every figure checks its own results: every call succeeds, the callbacks
 * ran exactly T times, every actor ended, and nothing is left live.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nactor/nactor.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void count_cb(void *arg, nact_opid id, int reason)
{
	long *n = arg; /* every callback runs on the cancelling thread */
	(*n)++;
	(void)id;
	(void)reason;
}

static int leaver_fn(nact_ctx *ctx, nact_msg *m)
{
	if (nact_msg_type(m) == NACT_T_CANCEL)
		nact_exit(ctx, 0);
	return 0;
}

static void leaver_fini(void *state)
{
	atomic_fetch_add_explicit((atomic_long *)state, 1, memory_order_relaxed);
}

/* T op-running actors in a tree; cancel the root op; wait for all ends. */
static int cancel_actors(long tn)
{
	nact_system *sys;
	int rv;
	static atomic_long ended;
	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	nact_opid *ids = malloc((size_t)tn * sizeof(*ids));
	if (ids == NULL)
		return 1;
	atomic_store(&ended, 0);
	for (long i = 0; i < tn; i++) {
		nact_op_opts oo = {.name = "actor",
		    .parent = i == 0 ? NACT_OPID_NONE : ids[(i - 1) / 10]};
		nact_aid a;
		if ((rv = nact_spawn_op(&a, &ids[i], sys, leaver_fn, &ended, leaver_fini, NULL,
		         &oo)) != 0) {
			fprintf(stderr, "actor %ld: %s\n", i, nact_strerror(rv));
			return 1;
		}
	}
	double t0 = now_s();
	if ((rv = nact_op_cancel(sys, ids[0], NACT_CANCEL_MANUAL, "bench")) != 0) {
		fprintf(stderr, "cancel: %s\n", nact_strerror(rv));
		return 1;
	}
	/* Poll for the ends (1 ms naps): the figure includes every actor's
	 * turn to handle its cancel and end. Give up after 60 s. */
	struct timespec nap = {0, 1000000};
	while (atomic_load(&ended) < tn && now_s() - t0 < 60)
		nanosleep(&nap, NULL);
	double s = now_s() - t0;
	long got = atomic_load(&ended);
	printf("peer=nactor bench=op_cancel_actors n=%ld seconds=%.3f rate=%.0f\n", tn, s, tn / s);
	size_t live = 1;
	int bad = got != tn;
	bad |= nact_op_list(sys, NACT_OP_RUNNING, NULL, 0, &live) != 0 || live != 0;
	if (bad)
		fprintf(stderr, "check failed: %ld of %ld actors ended, %zu ops live\n", got, tn,
		    live);
	free(ids);
	nact_system_close(sys, 5000);
	return bad;
}

static long arg_or(int argc, char **argv, int i, long dflt)
{
	if (argc <= i)
		return dflt;
	char *end;
	long v = strtol(argv[i], &end, 10);
	return (*end != '\0' || v < 1) ? -1 : v;
}

int main(int argc, char **argv)
{
	long n = arg_or(argc, argv, 1, 1000000), tn = arg_or(argc, argv, 2, 100000);
	nact_system *sys;
	nact_config cfg;
	int rv;

	if (n < 1 || tn < 1) {
		fprintf(stderr, "usage: ops [N [T]]\n");
		return 2;
	}
	nact_config_init(&cfg);
	cfg.workers = 1; /* the registry does not use them; keep them quiet */
	if ((rv = nact_system_open(&sys, &cfg)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}

	/* ---- op_register ---- */
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		nact_opid id;
		if ((rv = nact_op_create(&id, sys, "bench", NACT_OPID_NONE, NULL)) != 0 ||
		    (rv = nact_op_start(sys, id)) != 0 || (rv = nact_op_complete(sys, id)) != 0) {
			fprintf(stderr, "op %ld: %s\n", i, nact_strerror(rv));
			return 1;
		}
	}
	double s = now_s() - t0;
	printf("peer=nactor bench=op_register n=%ld seconds=%.3f rate=%.0f ns_per_op=%.1f\n", n, s,
	    n / s, s * 1e9 / n);

	/* ---- op_cancel_tree ---- */
	nact_opid *ids = malloc((size_t)tn * sizeof(*ids));
	long calls = 0;
	if (ids == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (long i = 0; i < tn; i++) {
		nact_opid parent = i == 0 ? NACT_OPID_NONE : ids[(i - 1) / 10];
		if ((rv = nact_op_create(&ids[i], sys, "node", parent, NULL)) != 0 ||
		    (rv = nact_op_start(sys, ids[i])) != 0 ||
		    (rv = nact_op_on_cancel(sys, ids[i], count_cb, &calls)) != 0) {
			fprintf(stderr, "tree node %ld: %s\n", i, nact_strerror(rv));
			return 1;
		}
	}
	t0 = now_s();
	if ((rv = nact_op_cancel(sys, ids[0], NACT_CANCEL_MANUAL, "bench")) != 0) {
		fprintf(stderr, "cancel: %s\n", nact_strerror(rv));
		return 1;
	}
	s = now_s() - t0;
	printf("peer=nactor bench=op_cancel_tree n=%ld seconds=%.3f rate=%.0f\n", tn, s, tn / s);

	size_t live = 1;
	int bad = calls != tn;
	bad |= nact_op_list(sys, NACT_OP_RUNNING, NULL, 0, &live) != 0 || live != 0;
	bad |= nact_op_is_cancelled(sys, ids[0]) != 1;
	if (bad)
		fprintf(stderr, "check failed: %ld callbacks for %ld nodes, %zu live\n", calls, tn,
		    live);
	free(ids);
	nact_system_close(sys, 1000);
	if (bad)
		return 1;
	return cancel_actors(tn);
}
