/*
 * tests/registry/test_ops.c — the operation registry and cancel tokens.
 *
 * Contract checked (include/nactor/registry.h, "operations and
 * cancellation"):
 * - Status machine: pending -start-> running -complete|fail-> final;
 *   pending|running -cancel-> cancelled (timed out for reason TIMEOUT).
 *   Every other change is NACT_ESTATE; an unknown id NACT_ENOENT. Times
 *   come from the system clock (manual here, so exact).
 * - Every cancel reason is recorded; NONE and out-of-range ones are
 *   NACT_EINVAL. is_cancelled is 1 exactly for cancelled/timed-out ops.
 * - Cancel racing complete from two threads ends in exactly one final
 *   state each time; the loser gets NACT_ESTATE; the on_cancel callback
 *   runs iff cancel won (run under TSan too).
 * - Cancel propagates down a 3-level tree: every child before its parent,
 *   children with reason PARENT; finished children are left alone; a
 *   subtree cancel leaves siblings alone; a parent that completes leaves
 *   its children running.
 * - on_cancel runs once, at once if already cancelled, never for a
 *   completed op (NACT_ESTATE), and may call back into the registry.
 * - The history keeps the newest N finished ops; an evicted id is
 *   NACT_ENOENT; clear empties it.
 * - 1M ops created and finished keep VmRSS flat.
 * - list filters by status and counts past max.
 * - Bad arguments are refused; an op created in a handler records the actor.
 * - cancel_after: the op times out (children cancelled with reason PARENT)
 *   when the clock passes the deadline, not before; re-arming moves it; an
 *   op that finishes first is untouched; final ops are NACT_ESTATE.
 */
#include <math.h>
#include <pthread.h>

#include "testutil.h"

static nact_system *open_sys(uint32_t history)
{
	nact_config cfg;
	nact_system *sys = NULL;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.clock = NACT_CLOCK_MANUAL;
	cfg.op_history = history;
	if (nact_system_open(&sys, &cfg) != 0)
		return NULL;
	return sys;
}

static int status_of(nact_system *sys, nact_opid id)
{
	nact_op_info in;
	if (nact_op_get(sys, id, &in) != 0)
		return -1;
	return in.status;
}

static void test_transitions(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	nact_opid a, b, c, d;
	nact_op_info in;

	CHECK_RV(nact_clock_advance(sys, 1000));
	REQUIRE_RV(nact_op_create(&a, sys, "job", NACT_OPID_NONE, "k=v"));
	CHECK(a.v != 0);
	REQUIRE_RV(nact_op_get(sys, a, &in));
	CHECK_EQ_U64(in.id.v, a.v);
	CHECK_EQ_U64(in.parent.v, 0);
	CHECK_STR(in.name, "job");
	CHECK_STR(in.tags, "k=v");
	CHECK_EQ_INT(in.status, NACT_OP_PENDING);
	CHECK_EQ_INT(in.reason, NACT_CANCEL_NONE);
	CHECK_EQ_U64(in.created_ns, 1000);
	CHECK_EQ_U64(in.started_ns, 0);
	CHECK_EQ_U64(in.ended_ns, 0);
	CHECK_EQ_U64(in.actor.v, 0);

	/* pending: cannot complete or fail */
	CHECK_ERR(nact_op_complete(sys, a), NACT_ESTATE);
	CHECK_ERR(nact_op_fail(sys, a, "x"), NACT_ESTATE);
	CHECK_RV(nact_op_progress(sys, a, 0.0, "queued"));

	CHECK_RV(nact_clock_advance(sys, 1000));
	CHECK_RV(nact_op_start(sys, a));
	CHECK_ERR(nact_op_start(sys, a), NACT_ESTATE);
	CHECK_RV(nact_op_progress(sys, a, 0.5, "half"));
	CHECK_RV(nact_op_progress(sys, a, 0.6, NULL)); /* keeps the message */
	REQUIRE_RV(nact_op_get(sys, a, &in));
	CHECK_EQ_INT(in.status, NACT_OP_RUNNING);
	CHECK_EQ_U64(in.started_ns, 2000);
	CHECK(in.progress == 0.6);
	CHECK_STR(in.progress_msg, "half");

	CHECK_RV(nact_clock_advance(sys, 1000));
	CHECK_RV(nact_op_complete(sys, a));
	REQUIRE_RV(nact_op_get(sys, a, &in));
	CHECK_EQ_INT(in.status, NACT_OP_COMPLETED);
	CHECK_EQ_U64(in.ended_ns, 3000);
	CHECK(in.progress == 1.0);
	/* final: nothing else */
	CHECK_ERR(nact_op_start(sys, a), NACT_ESTATE);
	CHECK_ERR(nact_op_complete(sys, a), NACT_ESTATE);
	CHECK_ERR(nact_op_fail(sys, a, "x"), NACT_ESTATE);
	CHECK_ERR(nact_op_cancel(sys, a, NACT_CANCEL_MANUAL, "x"), NACT_ESTATE);
	CHECK_ERR(nact_op_progress(sys, a, 0.1, "x"), NACT_ESTATE);
	CHECK_EQ_INT(status_of(sys, a), NACT_OP_COMPLETED);

	/* running -> failed, with its message */
	REQUIRE_RV(nact_op_create(&b, sys, "b", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_start(sys, b));
	CHECK_RV(nact_op_fail(sys, b, "disk full"));
	REQUIRE_RV(nact_op_get(sys, b, &in));
	CHECK_EQ_INT(in.status, NACT_OP_FAILED);
	CHECK_STR(in.message, "disk full");
	CHECK_STR(in.tags, "");
	CHECK_ERR(nact_op_complete(sys, b), NACT_ESTATE);
	CHECK_ERR(nact_op_cancel(sys, b, NACT_CANCEL_MANUAL, NULL), NACT_ESTATE);

	/* pending -> cancelled; running -> cancelled */
	REQUIRE_RV(nact_op_create(&c, sys, "c", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_cancel(sys, c, NACT_CANCEL_MANUAL, "no longer needed"));
	CHECK_EQ_INT(status_of(sys, c), NACT_OP_CANCELLED);
	CHECK_ERR(nact_op_start(sys, c), NACT_ESTATE);
	REQUIRE_RV(nact_op_create(&d, sys, "d", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_start(sys, d));
	CHECK_RV(nact_op_cancel(sys, d, NACT_CANCEL_MANUAL, NULL));
	CHECK_EQ_INT(status_of(sys, d), NACT_OP_CANCELLED);
	CHECK_ERR(nact_op_complete(sys, d), NACT_ESTATE);
	CHECK_ERR(nact_op_cancel(sys, d, NACT_CANCEL_MANUAL, NULL), NACT_ESTATE);

	/* ids never issued */
	nact_opid bad = {d.v + 100};
	CHECK_ERR(nact_op_start(sys, bad), NACT_ENOENT);
	CHECK_ERR(nact_op_complete(sys, bad), NACT_ENOENT);
	CHECK_ERR(nact_op_cancel(sys, bad, NACT_CANCEL_MANUAL, NULL), NACT_ENOENT);
	CHECK_ERR(nact_op_get(sys, bad, &in), NACT_ENOENT);
	CHECK_ERR(nact_op_start(sys, NACT_OPID_NONE), NACT_ENOENT);
	nact_system_close(sys, 1000);
}

static void test_cancel_reasons(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	for (int r = NACT_CANCEL_MANUAL; r < NACT_CANCEL_NREASONS; r++) {
		nact_opid id;
		nact_op_info in;
		REQUIRE_RV(nact_op_create(&id, sys, "r", NACT_OPID_NONE, NULL));
		CHECK_RV(nact_op_start(sys, id));
		CHECK_EQ_INT(nact_op_is_cancelled(sys, id), 0);
		CHECK_RV(nact_op_cancel(sys, id, r, nact_op_reason_str(r)));
		CHECK_EQ_INT(nact_op_is_cancelled(sys, id), 1);
		REQUIRE_RV(nact_op_get(sys, id, &in));
		CHECK_EQ_INT(in.reason, r);
		CHECK_EQ_INT(in.status,
		    r == NACT_CANCEL_TIMEOUT ? NACT_OP_TIMEDOUT : NACT_OP_CANCELLED);
		CHECK_STR(in.message, nact_op_reason_str(r));
	}
	CHECK_STR(nact_op_reason_str(NACT_CANCEL_TIMEOUT), "timeout");
	CHECK_STR(nact_op_reason_str(NACT_CANCEL_PARENT), "parent");
	CHECK_STR(nact_op_reason_str(99), "?");
	CHECK_STR(nact_op_status_str(NACT_OP_TIMEDOUT), "timedout");
	CHECK_STR(nact_op_status_str(-1), "?");

	nact_opid id;
	REQUIRE_RV(nact_op_create(&id, sys, "r", NACT_OPID_NONE, NULL));
	CHECK_ERR(nact_op_cancel(sys, id, NACT_CANCEL_NONE, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel(sys, id, NACT_CANCEL_NREASONS, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel(sys, id, -1, NULL), NACT_EINVAL);
	CHECK_EQ_INT(status_of(sys, id), NACT_OP_PENDING);
	/* completed and failed ones are not cancelled; nor unknown ids */
	CHECK_RV(nact_op_start(sys, id));
	CHECK_RV(nact_op_complete(sys, id));
	CHECK_EQ_INT(nact_op_is_cancelled(sys, id), 0);
	CHECK_EQ_INT(nact_op_is_cancelled(sys, (nact_opid){id.v + 5}), 0);
	CHECK_EQ_INT(nact_op_is_cancelled(sys, NACT_OPID_NONE), 0);
	CHECK_EQ_INT(nact_op_is_cancelled(NULL, id), 0);
	/* a long message is truncated, not refused */
	char big[600];
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nact_op_info in;
	REQUIRE_RV(nact_op_create(&id, sys, "r", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_cancel(sys, id, NACT_CANCEL_MANUAL, big));
	REQUIRE_RV(nact_op_get(sys, id, &in));
	CHECK_EQ_INT(strlen(in.message), sizeof(in.message) - 1);
	nact_system_close(sys, 1000);
}

/* ---- race: cancel vs complete ---- */

#define RACE_K 256

struct race {
	nact_system *sys;
	nact_opid ids[RACE_K];
	int rv_complete[RACE_K];
	int rv_cancel[RACE_K];
	atomic_int cbs[RACE_K];
	pthread_barrier_t bar;
	int backwards; /* the canceller's direction this round */
};

static void race_cb(void *arg, nact_opid id, int reason)
{
	atomic_int *n = arg;
	atomic_fetch_add(n, 1);
	(void)id;
	(void)reason;
}

/* Both threads leave the barrier together; the main thread is parked in
 * join, so on a 2-core machine both really run at once. */
static void race_wait(struct race *r)
{
	pthread_barrier_wait(&r->bar);
}

static void *race_completer(void *arg)
{
	struct race *r = arg;
	race_wait(r);
	for (int i = 0; i < RACE_K; i++)
		r->rv_complete[i] = nact_op_complete(r->sys, r->ids[i]);
	return NULL;
}

static void *race_canceller(void *arg)
{
	struct race *r = arg;
	race_wait(r);
	/* odd rounds walk backwards: the two threads meet in the middle, so
	 * both outcomes are common; even rounds run neck and neck */
	for (int k = 0; k < RACE_K; k++) {
		int i = r->backwards ? RACE_K - 1 - k : k;
		r->rv_cancel[i] = nact_op_cancel(r->sys, r->ids[i], NACT_CANCEL_MANUAL, "race");
	}
	return NULL;
}

static void test_race_cancel_complete(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct race r;
	long rounds = nt_scaled(200);
	long ncancel = 0, ncomplete = 0;
	r.sys = sys;
	for (long round = 0; round < rounds; round++) {
		for (int i = 0; i < RACE_K; i++) {
			REQUIRE_RV(nact_op_create(&r.ids[i], sys, "race", NACT_OPID_NONE, NULL));
			REQUIRE_RV(nact_op_start(sys, r.ids[i]));
			atomic_store(&r.cbs[i], 0);
			REQUIRE_RV(nact_op_on_cancel(sys, r.ids[i], race_cb, &r.cbs[i]));
		}
		REQUIRE(pthread_barrier_init(&r.bar, NULL, 2) == 0);
		r.backwards = (int)(round & 1);
		pthread_t t1, t2;
		REQUIRE(pthread_create(&t1, NULL, race_completer, &r) == 0);
		REQUIRE(pthread_create(&t2, NULL, race_canceller, &r) == 0);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		pthread_barrier_destroy(&r.bar);
		for (int i = 0; i < RACE_K; i++) {
			int st = status_of(sys, r.ids[i]);
			int won_cancel = r.rv_cancel[i] == 0;
			int won_complete = r.rv_complete[i] == 0;
			CHECK(won_cancel != won_complete);
			CHECK_ERR(won_cancel ? r.rv_complete[i] : r.rv_cancel[i], NACT_ESTATE);
			CHECK_EQ_INT(st, won_cancel ? NACT_OP_CANCELLED : NACT_OP_COMPLETED);
			CHECK_EQ_INT(atomic_load(&r.cbs[i]), won_cancel ? 1 : 0);
			ncancel += won_cancel;
			ncomplete += won_complete;
		}
	}
	printf("  %ld rounds x %d: cancel won %ld, complete won %ld\n", rounds, RACE_K, ncancel,
	    ncomplete);
	nact_system_close(sys, 1000);
}

/* ---- propagation ---- */

struct order {
	nact_opid seen[32];
	int reasons[32];
	int n;
};

static void order_cb(void *arg, nact_opid id, int reason)
{
	struct order *o = arg; /* called on the cancelling thread: no lock */
	if (o->n < 32) {
		o->seen[o->n] = id;
		o->reasons[o->n] = reason;
		o->n++;
	}
}

static int pos_of(const struct order *o, nact_opid id)
{
	for (int i = 0; i < o->n; i++)
		if (o->seen[i].v == id.v)
			return i;
	return -1;
}

static void test_tree_propagation(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	struct order ord = {0};
	nact_opid root, kid[2], gk[2][2];
	nact_op_info in;

	CHECK_RV(nact_clock_advance(sys, 5));

	REQUIRE_RV(nact_op_create(&root, sys, "root", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, root));
	for (int i = 0; i < 2; i++) {
		REQUIRE_RV(nact_op_create(&kid[i], sys, "kid", root, NULL));
		REQUIRE_RV(nact_op_start(sys, kid[i]));
		for (int j = 0; j < 2; j++) {
			REQUIRE_RV(nact_op_create(&gk[i][j], sys, "grandkid", kid[i], NULL));
			REQUIRE_RV(nact_op_on_cancel(sys, gk[i][j], order_cb, &ord));
		}
		REQUIRE_RV(nact_op_on_cancel(sys, kid[i], order_cb, &ord));
	}
	REQUIRE_RV(nact_op_on_cancel(sys, root, order_cb, &ord));
	REQUIRE_RV(nact_op_get(sys, gk[1][0], &in));
	CHECK_EQ_U64(in.parent.v, kid[1].v);

	/* one grandchild finishes first: left alone by the cancel */
	CHECK_RV(nact_op_start(sys, gk[0][1]));
	CHECK_RV(nact_op_complete(sys, gk[0][1]));

	CHECK_RV(nact_op_cancel(sys, root, NACT_CANCEL_SIGNAL, "shutdown"));
	CHECK_EQ_INT(ord.n, 6); /* root, 2 kids, 3 live grandkids */
	CHECK_EQ_INT(pos_of(&ord, root), 5);
	CHECK_EQ_INT(ord.reasons[5], NACT_CANCEL_SIGNAL);
	CHECK_EQ_INT(pos_of(&ord, gk[0][1]), -1);
	for (int i = 0; i < 2; i++) {
		int pk = pos_of(&ord, kid[i]);
		CHECK(pk >= 0 && pk < 5);
		for (int j = 0; j < 2; j++) {
			if (i == 0 && j == 1)
				continue;
			int pg = pos_of(&ord, gk[i][j]);
			CHECK(pg >= 0 && pg < pk);
		}
	}
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(ord.reasons[i], NACT_CANCEL_PARENT);
	REQUIRE_RV(nact_op_get(sys, root, &in));
	CHECK_EQ_INT(in.status, NACT_OP_CANCELLED);
	CHECK_EQ_INT(in.reason, NACT_CANCEL_SIGNAL);
	REQUIRE_RV(nact_op_get(sys, gk[1][1], &in));
	CHECK_EQ_INT(in.status, NACT_OP_CANCELLED);
	CHECK_EQ_INT(in.reason, NACT_CANCEL_PARENT);
	CHECK_STR(in.message, "shutdown");
	CHECK(in.ended_ns != 0);
	CHECK_EQ_INT(status_of(sys, gk[0][1]), NACT_OP_COMPLETED);
	/* a finished parent takes no children */
	nact_opid x;
	CHECK_ERR(nact_op_create(&x, sys, "late", root, NULL), NACT_ESTATE);
	CHECK_ERR(nact_op_create(&x, sys, "late", (nact_opid){root.v + 1000}, NULL), NACT_ENOENT);

	/* timeout of a subtree: siblings and the parent stay; the subtree
	 * root times out, its children are cancelled with reason parent */
	nact_opid p, s1, s2, s1k;
	REQUIRE_RV(nact_op_create(&p, sys, "p", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&s1, sys, "s1", p, NULL));
	REQUIRE_RV(nact_op_create(&s2, sys, "s2", p, NULL));
	REQUIRE_RV(nact_op_create(&s1k, sys, "s1k", s1, NULL));
	CHECK_RV(nact_op_cancel(sys, s1, NACT_CANCEL_TIMEOUT, "slow"));
	CHECK_EQ_INT(status_of(sys, s1), NACT_OP_TIMEDOUT);
	CHECK_EQ_INT(status_of(sys, s1k), NACT_OP_CANCELLED);
	CHECK_EQ_INT(status_of(sys, s2), NACT_OP_PENDING);
	CHECK_EQ_INT(status_of(sys, p), NACT_OP_PENDING);

	/* a parent that completes leaves its children running */
	CHECK_RV(nact_op_start(sys, p));
	CHECK_RV(nact_op_complete(sys, p));
	REQUIRE_RV(nact_op_get(sys, s2, &in));
	CHECK_EQ_INT(in.status, NACT_OP_PENDING);
	CHECK_EQ_U64(in.parent.v, p.v);
	CHECK_RV(nact_op_cancel(sys, s2, NACT_CANCEL_MANUAL, NULL));
	CHECK_EQ_INT(status_of(sys, s2), NACT_OP_CANCELLED);
	nact_system_close(sys, 1000);
}

/* A deep chain must not recurse: cancel 100k levels. */
static void test_deep_chain(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	long n = nt_scaled(100000);
	nact_opid first, id = NACT_OPID_NONE;
	for (long i = 0; i < n; i++) {
		REQUIRE_RV(nact_op_create(&id, sys, "link", id, NULL));
		if (i == 0)
			first = id;
	}
	CHECK_RV(nact_op_cancel(sys, first, NACT_CANCEL_MANUAL, NULL));
	size_t live;
	CHECK_RV(nact_op_list(sys, NACT_OP_PENDING, NULL, 0, &live));
	CHECK_EQ_INT(live, 0);
	CHECK_EQ_INT(nact_op_is_cancelled(sys, first), 1); /* final last: newest */
	CHECK_EQ_INT(status_of(sys, first), NACT_OP_CANCELLED);
	nact_system_close(sys, 1000);
}

/* ---- on_cancel ---- */

struct once {
	nact_system *sys;
	atomic_int calls;
	int reason;
	nact_opid id;
	int got_status; /* status seen from inside the callback */
};

static void once_cb(void *arg, nact_opid id, int reason)
{
	struct once *o = arg;
	atomic_fetch_add(&o->calls, 1);
	o->reason = reason;
	o->id = id;
	o->got_status = status_of(o->sys, id); /* calls back in: no deadlock */
}

static void test_on_cancel(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	struct once a = {.sys = sys}, b = {.sys = sys}, c = {.sys = sys};
	nact_opid id;

	REQUIRE_RV(nact_op_create(&id, sys, "x", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_on_cancel(sys, id, once_cb, &a));
	CHECK_RV(nact_op_on_cancel(sys, id, once_cb, &b));
	CHECK_EQ_INT(atomic_load(&a.calls), 0);
	CHECK_RV(nact_op_cancel(sys, id, NACT_CANCEL_CONDITION, "cond"));
	CHECK_EQ_INT(atomic_load(&a.calls), 1);
	CHECK_EQ_INT(atomic_load(&b.calls), 1);
	CHECK_EQ_INT(a.reason, NACT_CANCEL_CONDITION);
	CHECK_EQ_U64(a.id.v, id.v);
	CHECK_EQ_INT(a.got_status, NACT_OP_CANCELLED); /* final before callbacks */
	CHECK_ERR(nact_op_cancel(sys, id, NACT_CANCEL_MANUAL, NULL), NACT_ESTATE);
	CHECK_EQ_INT(atomic_load(&a.calls), 1);

	/* already cancelled: at once, with the recorded reason */
	CHECK_RV(nact_op_on_cancel(sys, id, once_cb, &c));
	CHECK_EQ_INT(atomic_load(&c.calls), 1);
	CHECK_EQ_INT(c.reason, NACT_CANCEL_CONDITION);

	/* completed: refused, never called */
	struct once d = {.sys = sys};
	nact_opid e;
	REQUIRE_RV(nact_op_create(&e, sys, "e", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_on_cancel(sys, e, once_cb, &d));
	CHECK_RV(nact_op_start(sys, e));
	CHECK_RV(nact_op_complete(sys, e));
	CHECK_ERR(nact_op_on_cancel(sys, e, once_cb, &d), NACT_ESTATE);
	CHECK_EQ_INT(atomic_load(&d.calls), 0);
	CHECK_ERR(nact_op_on_cancel(sys, (nact_opid){e.v + 9}, once_cb, &d), NACT_ENOENT);
	CHECK_ERR(nact_op_on_cancel(sys, e, NULL, &d), NACT_EINVAL);
	CHECK_ERR(nact_op_on_cancel(NULL, e, once_cb, &d), NACT_EINVAL);
	CHECK_EQ_INT(atomic_load(&d.calls), 0);

	/* callbacks of live ops at close are freed, not called */
	REQUIRE_RV(nact_op_create(&e, sys, "left", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_on_cancel(sys, e, once_cb, &d));
	nact_system_close(sys, 1000);
	CHECK_EQ_INT(atomic_load(&d.calls), 0);
}

/* ---- history ---- */

static void test_history_bound(void)
{
	nact_system *sys = open_sys(100);
	REQUIRE(sys != NULL);
	nact_opid first = NACT_OPID_NONE, id = NACT_OPID_NONE;
	for (int i = 0; i < 5000; i++) {
		REQUIRE_RV(nact_op_create(&id, sys, "h", NACT_OPID_NONE, NULL));
		if (i == 0)
			first = id;
		REQUIRE_RV(nact_op_start(sys, id));
		if (i % 2)
			REQUIRE_RV(nact_op_complete(sys, id));
		else
			REQUIRE_RV(nact_op_cancel(sys, id, NACT_CANCEL_MANUAL, NULL));
	}
	static nact_op_info out[200];
	size_t n;
	CHECK_RV(nact_op_list(sys, -1, out, 200, &n));
	CHECK_EQ_INT(n, 100);
	for (size_t i = 0; i < n && i < 100; i++)
		CHECK_EQ_U64(out[i].id.v, id.v - 99 + i); /* the newest, oldest first */
	nact_op_info in;
	CHECK_ERR(nact_op_get(sys, first, &in), NACT_ENOENT);
	CHECK_ERR(nact_op_get(sys, (nact_opid){id.v - 100}, &in), NACT_ENOENT);
	CHECK_RV(nact_op_get(sys, (nact_opid){id.v - 99}, &in));
	CHECK_EQ_INT(nact_op_is_cancelled(sys, first), 0); /* forgotten */
	CHECK_EQ_INT(nact_op_is_cancelled(sys, (nact_opid){id.v - 1}), 1);
	CHECK_RV(nact_op_list(sys, NACT_OP_CANCELLED, NULL, 0, &n));
	CHECK_EQ_INT(n, 50);

	/* clear: finished ones go, live ones stay */
	nact_opid live;
	REQUIRE_RV(nact_op_create(&live, sys, "live", NACT_OPID_NONE, NULL));
	nact_op_history_clear(sys);
	nact_op_history_clear(NULL);
	CHECK_RV(nact_op_list(sys, -1, out, 200, &n));
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_U64(out[0].id.v, live.v);
	CHECK_ERR(nact_op_get(sys, id, &in), NACT_ENOENT);
	/* and fills again */
	CHECK_RV(nact_op_start(sys, live));
	CHECK_RV(nact_op_complete(sys, live));
	CHECK_RV(nact_op_get(sys, live, &in));
	nact_system_close(sys, 1000);
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static void test_memory_flat(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	long n = nt_scaled(1000000), warm = n / 10;
	long before = 0;
	nact_opid parent = NACT_OPID_NONE;
	for (long i = 0; i < n; i++) {
		nact_opid id;
		if (i == warm)
			before = rss_kb();
		/* every 8th op has a parent still running, so the tree links
		 * are exercised too; one parent per 64 ops */
		if (i % 64 == 0) {
			if (parent.v != 0)
				REQUIRE_RV(nact_op_cancel(sys, parent, NACT_CANCEL_MANUAL, NULL));
			REQUIRE_RV(nact_op_create(&parent, sys, "p", NACT_OPID_NONE, NULL));
		}
		REQUIRE_RV(nact_op_create(&id, sys, "m", i % 8 ? NACT_OPID_NONE : parent, "t"));
		REQUIRE_RV(nact_op_start(sys, id));
		if (i % 8 == 0)
			continue; /* a child: left running for its parent's cancel */
		REQUIRE_RV(nact_op_complete(sys, id));
	}
	long after = rss_kb();
	size_t live;
	CHECK_RV(nact_op_list(sys, NACT_OP_RUNNING, NULL, 0, &live));
	printf("  %ld ops: VmRSS %ld kB after %ld, %ld kB at the end; %zu running\n", n, before,
	    warm, after, live);
	CHECK(before > 0 && after > 0);
	CHECK(after - before < 4096); /* flat: no per-op growth (1M ops would be GBs) */
	nact_system_close(sys, 1000);
}

/* ---- list ---- */

static void test_list_filter(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	nact_opid id;
	int want[NACT_OP_NSTATUS] = {3, 2, 4, 1, 2, 1};
	for (int i = 0; i < want[NACT_OP_PENDING]; i++)
		REQUIRE_RV(nact_op_create(&id, sys, "pending", NACT_OPID_NONE, NULL));
	for (int i = 0; i < want[NACT_OP_RUNNING]; i++) {
		REQUIRE_RV(nact_op_create(&id, sys, "running", NACT_OPID_NONE, NULL));
		REQUIRE_RV(nact_op_start(sys, id));
	}
	for (int i = 0; i < want[NACT_OP_COMPLETED]; i++) {
		REQUIRE_RV(nact_op_create(&id, sys, "completed", NACT_OPID_NONE, NULL));
		REQUIRE_RV(nact_op_start(sys, id));
		REQUIRE_RV(nact_op_complete(sys, id));
	}
	REQUIRE_RV(nact_op_create(&id, sys, "failed", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, id));
	REQUIRE_RV(nact_op_fail(sys, id, "oops"));
	for (int i = 0; i < want[NACT_OP_CANCELLED]; i++) {
		REQUIRE_RV(nact_op_create(&id, sys, "cancelled", NACT_OPID_NONE, NULL));
		REQUIRE_RV(nact_op_cancel(sys, id, NACT_CANCEL_MANUAL, NULL));
	}
	REQUIRE_RV(nact_op_create(&id, sys, "timedout", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_cancel(sys, id, NACT_CANCEL_TIMEOUT, NULL));

	nact_op_info out[16];
	size_t n, total = 0;
	for (int s = 0; s < NACT_OP_NSTATUS; s++) {
		CHECK_RV(nact_op_list(sys, s, out, 16, &n));
		CHECK_EQ_INT(n, want[s]);
		for (size_t i = 0; i < n; i++) {
			CHECK_EQ_INT(out[i].status, s);
			CHECK_STR(out[i].name, nact_op_status_str(s));
		}
		total += n;
	}
	CHECK_RV(nact_op_list(sys, -1, out, 16, &n));
	CHECK_EQ_INT(n, total);
	CHECK_STR(out[0].name, "pending"); /* live first, oldest first */
	CHECK_STR(out[n - 1].name, "timedout");
	/* max smaller than the matches: writes max, counts all */
	memset(out, 0, sizeof(out));
	CHECK_RV(nact_op_list(sys, -1, out, 2, &n));
	CHECK_EQ_INT(n, total);
	CHECK(out[2].id.v == 0);
	CHECK_RV(nact_op_list(sys, NACT_OP_COMPLETED, NULL, 0, &n));
	CHECK_EQ_INT(n, want[NACT_OP_COMPLETED]);
	nact_system_close(sys, 1000);
}

/* ---- bad arguments ---- */

static void test_bad_args(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	nact_opid id;
	nact_op_info in;
	size_t n;
	char name64[65], tags128[129];
	memset(name64, 'n', 64);
	name64[64] = '\0';
	memset(tags128, 't', 128);
	tags128[128] = '\0';

	CHECK_ERR(nact_op_create(NULL, sys, "x", NACT_OPID_NONE, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_create(&id, NULL, "x", NACT_OPID_NONE, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_create(&id, sys, NULL, NACT_OPID_NONE, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_create(&id, sys, "", NACT_OPID_NONE, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_create(&id, sys, name64, NACT_OPID_NONE, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_create(&id, sys, "x", NACT_OPID_NONE, tags128), NACT_EINVAL);
	CHECK_ERR(nact_op_create(&id, sys, "x", (nact_opid){12345}, NULL), NACT_ENOENT);
	name64[63] = '\0';
	tags128[127] = '\0';
	REQUIRE_RV(nact_op_create(&id, sys, name64, NACT_OPID_NONE, tags128)); /* at the limits */
	REQUIRE_RV(nact_op_get(sys, id, &in));
	CHECK_STR(in.name, name64);
	CHECK_STR(in.tags, tags128);

	CHECK_ERR(nact_op_start(NULL, id), NACT_EINVAL);
	CHECK_ERR(nact_op_progress(sys, id, -0.1, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_progress(sys, id, 1.5, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_progress(sys, id, NAN, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_progress(NULL, id, 0.5, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_complete(NULL, id), NACT_EINVAL);
	CHECK_ERR(nact_op_fail(NULL, id, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel(NULL, id, NACT_CANCEL_MANUAL, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_get(NULL, id, &in), NACT_EINVAL);
	CHECK_ERR(nact_op_get(sys, id, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_get(sys, NACT_OPID_NONE, &in), NACT_ENOENT);
	CHECK_ERR(nact_op_list(NULL, -1, NULL, 0, &n), NACT_EINVAL);
	CHECK_ERR(nact_op_list(sys, -1, NULL, 0, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_list(sys, -2, NULL, 0, &n), NACT_EINVAL);
	CHECK_ERR(nact_op_list(sys, NACT_OP_NSTATUS, NULL, 0, &n), NACT_EINVAL);
	CHECK_ERR(nact_op_list(sys, -1, NULL, 3, &n), NACT_EINVAL);
	CHECK_EQ_INT(status_of(sys, id), NACT_OP_PENDING); /* untouched by all that */
	nact_system_close(sys, 1000);
}

/* ---- created inside a handler ---- */

struct mk {
	atomic_uint_least64_t id;
};

static int make_op(nact_ctx *ctx, nact_msg *m)
{
	struct mk *s = nact_state(ctx);
	nact_opid id;
	if (nact_op_create(&id, nact_sys(ctx), "in-actor", NACT_OPID_NONE, NULL) == 0)
		atomic_store(&s->id, id.v);
	(void)m;
	return 0;
}

static void test_actor_recorded(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	static struct mk s;
	nact_aid a;
	nact_msg *m;
	REQUIRE_RV(nact_spawn(&a, sys, make_op, &s, NULL, NULL));
	REQUIRE_RV(nact_msg_alloc(&m, sys, 1));
	REQUIRE_RV(nact_send(sys, a, m));
	CHECK(NT_WAIT(atomic_load(&s.id) != 0, NT_LONG_MS));
	nact_op_info in;
	REQUIRE_RV(nact_op_get(sys, (nact_opid){atomic_load(&s.id)}, &in));
	CHECK_EQ_U64(in.actor.v, a.v);
	CHECK(in.created_ns != 0);
	nact_system_close(sys, 1000);
}

/* ---- deadlines ---- */

static void test_cancel_after(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	nact_opid a, ak, b, c;
	nact_op_info in;
	struct once cb = {.sys = sys};

	REQUIRE_RV(nact_op_create(&a, sys, "a", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&ak, sys, "ak", a, NULL));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_on_cancel(sys, a, once_cb, &cb));
	REQUIRE_RV(nact_op_create(&b, sys, "b", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&c, sys, "c", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_cancel_after(sys, a, 100));
	CHECK_RV(nact_op_cancel_after(sys, b, 100));
	CHECK_RV(nact_op_cancel_after(sys, c, 50));
	CHECK_RV(nact_op_cancel_after(sys, c, 300)); /* re-armed: later */
	CHECK_RV(nact_op_start(sys, b));
	CHECK_RV(nact_op_complete(sys, b)); /* finishes first */

	CHECK_RV(nact_clock_advance(sys, 99 * 1000000ull));
	CHECK(NT_STAYS_FALSE(nact_op_is_cancelled(sys, a), NT_QUIET_MS));
	CHECK_RV(nact_clock_advance(sys, 1 * 1000000ull));
	CHECK(NT_WAIT(nact_op_is_cancelled(sys, a), NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&cb.calls) == 1, NT_LONG_MS));
	CHECK_EQ_INT(cb.reason, NACT_CANCEL_TIMEOUT);
	REQUIRE_RV(nact_op_get(sys, a, &in));
	CHECK_EQ_INT(in.status, NACT_OP_TIMEDOUT);
	CHECK_EQ_INT(in.reason, NACT_CANCEL_TIMEOUT);
	CHECK_STR(in.message, "deadline of 100 ms passed");
	CHECK_EQ_U64(in.ended_ns, 100 * 1000000ull);
	REQUIRE_RV(nact_op_get(sys, ak, &in));
	CHECK_EQ_INT(in.status, NACT_OP_CANCELLED);
	CHECK_EQ_INT(in.reason, NACT_CANCEL_PARENT);
	CHECK_EQ_INT(status_of(sys, b), NACT_OP_COMPLETED);
	/* c's first deadline (50) was replaced by 300 */
	CHECK_EQ_INT(status_of(sys, c), NACT_OP_PENDING);
	CHECK_RV(nact_clock_advance(sys, 200 * 1000000ull));
	CHECK(NT_WAIT(status_of(sys, c) == NACT_OP_TIMEDOUT, NT_LONG_MS));

	CHECK_ERR(nact_op_cancel_after(sys, a, 10), NACT_ESTATE);
	CHECK_ERR(nact_op_cancel_after(sys, (nact_opid){c.v + 50}, 10), NACT_ENOENT);
	CHECK_ERR(nact_op_cancel_after(sys, c, -1), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel_after(NULL, c, 10), NACT_EINVAL);

	/* many deadlines that never fire: finished ops free their timers */
	long n = nt_scaled(20000);
	for (long i = 0; i < n; i++) {
		nact_opid id;
		REQUIRE_RV(nact_op_create(&id, sys, "d", NACT_OPID_NONE, NULL));
		REQUIRE_RV(nact_op_cancel_after(sys, id, 3600 * 1000));
		REQUIRE_RV(nact_op_start(sys, id));
		REQUIRE_RV(nact_op_complete(sys, id));
	}
	/* a live one at close: its timer is freed with the system */
	REQUIRE_RV(nact_op_create(&c, sys, "left", NACT_OPID_NONE, NULL));
	CHECK_RV(nact_op_cancel_after(sys, c, 3600 * 1000));
	nact_system_close(sys, 1000);
}

NT_MAIN(NT_CASE(test_transitions), NT_CASE(test_cancel_reasons), NT_CASE(test_race_cancel_complete),
    NT_CASE(test_tree_propagation), NT_CASE(test_deep_chain), NT_CASE(test_on_cancel),
    NT_CASE(test_history_bound), NT_CASE(test_memory_flat), NT_CASE(test_list_filter),
    NT_CASE(test_bad_args), NT_CASE(test_actor_recorded), NT_CASE(test_cancel_after))
