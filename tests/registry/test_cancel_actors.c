/*
 * tests/registry/test_cancel_actors.c — cancelable actors, more cancel
 * sources, operations carried by requests, and the wait-for graph.
 *
 * Contract checked (include/nactor/registry.h, "cancelable actors" and
 * "more cancel sources"):
 * - nact_spawn_op: the op is running and records the actor; it completes
 *   when the actor exits normally, is cancelled (manual, "actor stopped")
 *   when it is stopped, fails with "actor exited: ..." otherwise.
 * - A cancel makes the op final at once and the actor gets NACT_T_CANCEL
 *   [id, reason, message]; an actor that ends within the grace is not
 *   killed; one that ignores it is killed after the grace (DOWN "killed").
 *   opts.timeout_ms times the op out (the actor hears "timeout").
 * - Cancel racing the actor's own complete: exactly one final state, the
 *   loser gets NACT_ESTATE, the actor hears a cancel iff cancel won.
 * - cancel_when: the condition is polled on the system clock and cancels
 *   with reason CONDITION; cancel_on: a combined token cancelled by any of
 *   its sources with that source's reason; never by a completed source.
 * - Requests: a request from an op-running actor carries a child op
 *   "request" (parent = the actor's op) that completes on reply (and is
 *   then not kept in the history), times out
 *   with the request, and is cancelled with the caller's op; the callee
 *   sees it with nact_op_is_cancelled. A request made while handling such
 *   a request is its grandchild, its deadline is the earlier one, and it is
 *   refused with NACT_ECANCELED once the parent op is cancelled.
 * - Wait-for graph: A -> B -> C -> A is refused with NACT_ECYCLE at the
 *   request that closes it, reported by nact_op_cycles with the ids.
 */
#include "testutil.h"

static nact_system *open_sys(int manual)
{
	nact_config cfg;
	nact_system *sys = NULL;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.clock = manual ? NACT_CLOCK_MANUAL : NACT_CLOCK_MONOTONIC;
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

static nact_op_opts op_opts(const char *name)
{
	nact_op_opts o;
	memset(&o, 0, sizeof(o));
	o.name = name;
	return o;
}

static int send_type(nact_system *sys, nact_aid to, uint32_t type)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		return rv;
	if ((rv = nact_send(sys, to, m)) != 0)
		nact_msg_free(m);
	return rv;
}

/* ---- a worker that hears cancels ---- */

#define T_EXIT 1u  /* exit normally */
#define T_FAIL 2u  /* return an error */
#define T_DONE 3u  /* complete own op, keep running */
#define T_NOTE 4u  /* record nact_self_op */
#define T_LEAVE 5u /* set: on cancel, exit at once; else ignore cancels */

struct worker {
	atomic_int cancels;
	atomic_int leave_on_cancel;
	atomic_uint_fast64_t cancel_id;
	atomic_uint_fast64_t self_op;
	char reason[32];
	char msg[64];
	atomic_int done_rv;
};

static int worker_fn(nact_ctx *ctx, nact_msg *m)
{
	struct worker *w = nact_state(ctx);
	switch (nact_msg_type(m)) {
	case T_EXIT:
		nact_exit(ctx, 0);
		return 0;
	case T_FAIL:
		return NACT_EBADMSG;
	case T_DONE:
		atomic_store(&w->done_rv, nact_op_complete(nact_sys(ctx), nact_self_op(ctx)) + 1);
		return 0;
	case T_NOTE:
		atomic_store(&w->self_op, nact_self_op(ctx).v);
		return 0;
	case NACT_T_CANCEL: {
		nact_reader r;
		uint32_t n = 0;
		uint64_t id = 0;
		const char *s;
		size_t sl;
		if (nact_reader_init(&r, m, NULL) == 0) {
			if (nact_read_array(&r, &n) == 0 && n == 3 &&
			    nact_read_uint(&r, &id) == 0 && nact_read_str(&r, &s, &sl) == 0 &&
			    sl < sizeof(w->reason)) {
				memcpy(w->reason, s, sl);
				w->reason[sl] = '\0';
				if (nact_read_str(&r, &s, &sl) == 0 && sl < sizeof(w->msg)) {
					memcpy(w->msg, s, sl);
					w->msg[sl] = '\0';
				}
			}
			nact_reader_fini(&r);
		}
		atomic_store(&w->cancel_id, id);
		atomic_fetch_add(&w->cancels, 1);
		if (atomic_load(&w->leave_on_cancel))
			nact_exit(ctx, 0);
		return 0;
	}
	default:
		return 0;
	}
}

/* A watcher that records DOWN reasons. */
struct watch {
	atomic_int watching;
	atomic_int downs;
	atomic_int reason;
};

#define T_WATCH 20u /* watcher: monitor the actor in the body [id] */

static int watch_fn(nact_ctx *ctx, nact_msg *m)
{
	struct watch *w = nact_state(ctx);
	nact_exit_info ei;
	if (nact_msg_type(m) == T_WATCH) {
		nact_reader r;
		uint32_t n;
		uint64_t id, ref;
		if (nact_reader_init(&r, m, NULL) == 0) {
			if (nact_read_array(&r, &n) == 0 && n == 1 &&
			    nact_read_uint(&r, &id) == 0 &&
			    nact_monitor(ctx, (nact_aid){id}, &ref) == 0)
				atomic_fetch_add(&w->watching, 1);
			nact_reader_fini(&r);
		}
		return 0;
	}
	if (nact_msg_type(m) == NACT_T_DOWN && nact_exit_info_read(m, &ei) == 0) {
		atomic_store(&w->reason, ei.reason);
		atomic_fetch_add(&w->downs, 1);
	}
	return 0;
}

static void test_lifecycle(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct worker w[4];
	memset(w, 0, sizeof(w));
	nact_aid a[4];
	nact_opid o[4];
	nact_op_opts oo = op_opts("job");
	nact_op_info in;

	for (int i = 0; i < 4; i++)
		REQUIRE_RV(nact_spawn_op(&a[i], &o[i], sys, worker_fn, &w[i], NULL, NULL, &oo));
	REQUIRE_RV(nact_op_get(sys, o[0], &in));
	CHECK_EQ_INT(in.status, NACT_OP_RUNNING);
	CHECK_STR(in.name, "job");
	CHECK_EQ_U64(in.actor.v, a[0].v);
	REQUIRE_RV(send_type(sys, a[0], T_NOTE));
	CHECK(NT_WAIT(atomic_load(&w[0].self_op) == o[0].v, NT_LONG_MS));

	/* normal exit -> completed */
	REQUIRE_RV(send_type(sys, a[0], T_EXIT));
	CHECK(NT_WAIT(status_of(sys, o[0]) == NACT_OP_COMPLETED, NT_LONG_MS));
	/* error exit -> failed with the reason */
	REQUIRE_RV(send_type(sys, a[1], T_FAIL));
	CHECK(NT_WAIT(status_of(sys, o[1]) == NACT_OP_FAILED, NT_LONG_MS));
	REQUIRE_RV(nact_op_get(sys, o[1], &in));
	CHECK(strstr(in.message, "actor exited") != NULL);
	CHECK(strstr(in.message, nact_strerror(NACT_EBADMSG)) != NULL);
	/* stopped -> cancelled, manual */
	REQUIRE_RV(nact_stop(sys, a[2]));
	CHECK(NT_WAIT(status_of(sys, o[2]) == NACT_OP_CANCELLED, NT_LONG_MS));
	REQUIRE_RV(nact_op_get(sys, o[2], &in));
	CHECK_EQ_INT(in.reason, NACT_CANCEL_MANUAL);
	CHECK_STR(in.message, "actor stopped");
	CHECK_EQ_INT(atomic_load(&w[2].cancels), 0);
	/* the behaviour completes its op itself and keeps running */
	REQUIRE_RV(send_type(sys, a[3], T_DONE));
	CHECK(NT_WAIT(atomic_load(&w[3].done_rv) == 1, NT_LONG_MS));
	CHECK_EQ_INT(status_of(sys, o[3]), NACT_OP_COMPLETED);
	CHECK(nact_alive(sys, a[3]));
	REQUIRE_RV(nact_stop(sys, a[3]));
	CHECK(NT_WAIT(!nact_alive(sys, a[3]), NT_LONG_MS));
	CHECK_EQ_INT(status_of(sys, o[3]), NACT_OP_COMPLETED); /* unchanged */

	/* bad arguments */
	nact_aid x;
	CHECK_ERR(nact_spawn_op(&x, NULL, sys, worker_fn, NULL, NULL, NULL, NULL), NACT_EINVAL);
	nact_op_opts bad = op_opts("");
	CHECK_ERR(nact_spawn_op(&x, NULL, sys, worker_fn, NULL, NULL, NULL, &bad), NACT_EINVAL);
	bad = op_opts("x");
	bad.parent.v = 999999;
	CHECK_ERR(nact_spawn_op(&x, NULL, sys, worker_fn, NULL, NULL, NULL, &bad), NACT_ENOENT);
	nact_system_close(sys, 2000);
}

static void test_cancel_grace(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct worker w[3];
	static struct watch wt;
	memset(w, 0, sizeof(w));
	memset(&wt, 0, sizeof(wt));
	nact_aid a[3], watcher;
	nact_opid o[3];
	nact_op_opts oo = op_opts("graceful");
	nact_op_info in;

	REQUIRE_RV(nact_spawn(&watcher, sys, watch_fn, &wt, NULL, NULL));
	/* a[0] leaves on cancel; a[1] ignores it and is killed */
	atomic_store(&w[0].leave_on_cancel, 1);
	oo.grace_ms = 100;
	REQUIRE_RV(nact_spawn_op(&a[0], &o[0], sys, worker_fn, &w[0], NULL, NULL, &oo));
	REQUIRE_RV(nact_spawn_op(&a[1], &o[1], sys, worker_fn, &w[1], NULL, NULL, &oo));
	{
		nact_msg *m;
		nact_pack p;
		REQUIRE_RV(nact_msg_alloc(&m, sys, T_WATCH));
		nact_pack_init(&p, m);
		nact_pack_array(&p, 1);
		nact_pack_uint(&p, a[1].v);
		REQUIRE_RV(nact_send(sys, watcher, m));
		CHECK(NT_WAIT(atomic_load(&wt.watching) == 1, NT_LONG_MS));
	}

	REQUIRE_RV(nact_op_cancel(sys, o[0], NACT_CANCEL_MANUAL, "bye"));
	CHECK_EQ_INT(status_of(sys, o[0]), NACT_OP_CANCELLED); /* final at once */
	CHECK(NT_WAIT(atomic_load(&w[0].cancels) == 1, NT_LONG_MS));
	CHECK_EQ_U64(atomic_load(&w[0].cancel_id), o[0].v);
	CHECK_STR(w[0].reason, "manual");
	CHECK_STR(w[0].msg, "bye");
	CHECK(NT_WAIT(!nact_alive(sys, a[0]), NT_LONG_MS));
	REQUIRE_RV(nact_op_get(sys, o[0], &in));
	CHECK_EQ_INT(in.status, NACT_OP_CANCELLED); /* not overwritten by the exit */
	CHECK_STR(in.message, "bye");

	REQUIRE_RV(nact_op_cancel(sys, o[1], NACT_CANCEL_MANUAL, NULL));
	CHECK(NT_WAIT(atomic_load(&w[1].cancels) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&wt.downs) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&wt.reason), NACT_EXIT_KILLED);
	CHECK(!nact_alive(sys, a[1]));

	/* timeout from the spawn options */
	oo.timeout_ms = 20;
	atomic_store(&w[2].leave_on_cancel, 1);
	REQUIRE_RV(nact_spawn_op(&a[2], &o[2], sys, worker_fn, &w[2], NULL, NULL, &oo));
	CHECK(NT_WAIT(status_of(sys, o[2]) == NACT_OP_TIMEDOUT, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&w[2].cancels) == 1, NT_LONG_MS));
	CHECK_STR(w[2].reason, "timeout");
	CHECK(NT_WAIT(!nact_alive(sys, a[2]), NT_LONG_MS));
	nact_system_close(sys, 2000);
}

/* A parent op cancels its actor children first (tree), each hears it. */
static void test_tree_of_actors(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct worker w[6];
	memset(w, 0, sizeof(w));
	nact_opid root, o[6];
	nact_aid a[6];
	REQUIRE_RV(nact_op_create(&root, sys, "root", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, root));
	for (int i = 0; i < 6; i++) {
		nact_op_opts oo = op_opts(i < 2 ? "mid" : "leaf");
		oo.parent = i < 2 ? root : o[i % 2];
		atomic_store(&w[i].leave_on_cancel, 1);
		REQUIRE_RV(nact_spawn_op(&a[i], &o[i], sys, worker_fn, &w[i], NULL, NULL, &oo));
	}
	REQUIRE_RV(nact_op_cancel(sys, root, NACT_CANCEL_MANUAL, "all"));
	for (int i = 0; i < 6; i++) {
		nact_op_info in;
		CHECK(NT_WAIT(!nact_alive(sys, a[i]), NT_LONG_MS));
		CHECK_EQ_INT(atomic_load(&w[i].cancels), 1);
		CHECK_STR(w[i].reason, "parent");
		REQUIRE_RV(nact_op_get(sys, o[i], &in));
		CHECK_EQ_INT(in.status, NACT_OP_CANCELLED);
		CHECK_EQ_INT(in.reason, NACT_CANCEL_PARENT);
	}
	nact_system_close(sys, 2000);
}

/* The actor completing its own op races a cancel from this thread. */
static void test_race_complete_cancel(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	int rounds = (int)nt_scaled(300), cancelled = 0, completed = 0;
	struct worker *ws = calloc((size_t)rounds, sizeof(*ws)); /* outlive the actors */
	REQUIRE(ws != NULL);
	for (int i = 0; i < rounds; i++) {
		struct worker *w = &ws[i];
		atomic_store(&w->leave_on_cancel, 1);
		nact_aid a;
		nact_opid o;
		nact_op_opts oo = op_opts("race");
		REQUIRE_RV(nact_spawn_op(&a, &o, sys, worker_fn, w, NULL, NULL, &oo));
		REQUIRE_RV(send_type(sys, a, T_DONE));
		for (volatile int k = 0; k < (i % 32) * 20000; k++) /* vary who wins */
			;
		int crv = nact_op_cancel(sys, o, NACT_CANCEL_MANUAL, NULL);
		CHECK(crv == 0 || crv == NACT_ESTATE);
		/* the actor's own complete returned: 0 + 1 or ESTATE + 1 */
		CHECK(NT_WAIT(atomic_load(&w->done_rv) != 0 || !nact_alive(sys, a), NT_LONG_MS));
		int st = status_of(sys, o);
		if (crv == 0) {
			CHECK_EQ_INT(st, NACT_OP_CANCELLED);
			CHECK(NT_WAIT(!nact_alive(sys, a), NT_LONG_MS));
			cancelled++;
		} else {
			CHECK_EQ_INT(st, NACT_OP_COMPLETED);
			CHECK_EQ_INT(atomic_load(&w->done_rv), 1);
			CHECK_EQ_INT(atomic_load(&w->cancels), 0);
			completed++;
			nact_stop(sys, a);
		}
	}
	CHECK_EQ_INT(cancelled + completed, rounds);
	fprintf(stderr, "  race: %d cancelled, %d completed\n", cancelled, completed);
	nact_system_close(sys, 2000);
	free(ws);
}

/* ---- more sources ---- */

static int cond_fn(void *arg, nact_opid id)
{
	(void)id;
	return atomic_fetch_add((atomic_int *)arg, 1) + 1 >= 3; /* true on the 3rd check */
}

static void test_condition_and_combined(void)
{
	nact_system *sys = open_sys(1);
	REQUIRE(sys != NULL);
	static atomic_int checks;
	atomic_store(&checks, 0);
	nact_opid c, x, s1, s2, s3;
	nact_op_info in;

	REQUIRE_RV(nact_op_create(&c, sys, "cond", NACT_OPID_NONE, NULL));
	CHECK_ERR(nact_op_cancel_when(sys, c, NULL, NULL, 10), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel_when(sys, c, cond_fn, &checks, 0), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel_when(sys, (nact_opid){999999}, cond_fn, &checks, 10), NACT_ENOENT);
	REQUIRE_RV(nact_op_cancel_when(sys, c, cond_fn, &checks, 10));
	for (int i = 1; i <= 2; i++) {
		CHECK_RV(nact_clock_advance(sys, 10 * 1000000ull));
		CHECK(NT_WAIT(atomic_load(&checks) == i, NT_LONG_MS));
		CHECK_EQ_INT(status_of(sys, c), NACT_OP_PENDING);
	}
	CHECK_RV(nact_clock_advance(sys, 10 * 1000000ull));
	CHECK(NT_WAIT(status_of(sys, c) == NACT_OP_CANCELLED, NT_LONG_MS));
	REQUIRE_RV(nact_op_get(sys, c, &in));
	CHECK_EQ_INT(in.reason, NACT_CANCEL_CONDITION);
	CHECK_STR(in.message, "condition met");
	CHECK_EQ_INT(atomic_load(&checks), 3);
	CHECK_RV(nact_clock_advance(sys, 100 * 1000000ull)); /* no more checks */
	CHECK_EQ_INT(atomic_load(&checks), 3);
	CHECK_ERR(nact_op_cancel_when(sys, c, cond_fn, &checks, 10), NACT_ESTATE);

	/* combined: x is cancelled by whichever of s1, s2, s3 goes first */
	REQUIRE_RV(nact_op_create(&x, sys, "combined", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&s1, sys, "s1", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&s2, sys, "s2", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&s3, sys, "s3", NACT_OPID_NONE, NULL));
	CHECK_ERR(nact_op_cancel_on(sys, x, x), NACT_EINVAL);
	REQUIRE_RV(nact_op_cancel_on(sys, x, s1));
	REQUIRE_RV(nact_op_cancel_on(sys, x, s2));
	REQUIRE_RV(nact_op_cancel_on(sys, x, s3));
	REQUIRE_RV(nact_op_start(sys, s1));
	REQUIRE_RV(nact_op_complete(sys, s1)); /* completing a source: nothing */
	CHECK_EQ_INT(status_of(sys, x), NACT_OP_PENDING);
	REQUIRE_RV(nact_op_cancel_after(sys, s2, 5));
	CHECK_RV(nact_clock_advance(sys, 5 * 1000000ull));
	CHECK(NT_WAIT(status_of(sys, x) != NACT_OP_PENDING, NT_LONG_MS));
	REQUIRE_RV(nact_op_get(sys, x, &in));
	CHECK_EQ_INT(in.status, NACT_OP_TIMEDOUT); /* s2's reason: timeout */
	CHECK(strstr(in.message, "source operation") != NULL);
	CHECK_RV(nact_op_cancel(sys, s3, NACT_CANCEL_MANUAL, NULL)); /* x already final */
	/* a source already cancelled cancels at once */
	nact_opid y;
	REQUIRE_RV(nact_op_create(&y, sys, "late", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_cancel_on(sys, y, s3));
	REQUIRE_RV(nact_op_get(sys, y, &in));
	CHECK_EQ_INT(in.status, NACT_OP_CANCELLED);
	CHECK_EQ_INT(in.reason, NACT_CANCEL_MANUAL);
	/* a source that completed: refused */
	nact_opid z;
	REQUIRE_RV(nact_op_create(&z, sys, "z", NACT_OPID_NONE, NULL));
	CHECK_ERR(nact_op_cancel_on(sys, z, s1), NACT_ESTATE);
	nact_system_close(sys, 2000);
}

/* ---- requests carry operations ---- */

#define T_ASK 10u     /* client: request the server (body: [timeout ms]) */
#define T_SERVE 11u   /* server: the request */
#define T_RELEASE 12u /* server: reply to the held request now */

struct server {
	nact_system *sys;
	nact_aid next;            /* middle_fn: where sub-requests go */
	atomic_int hold;          /* 1: keep the request, reply on T_RELEASE (the
	                           * test thread changes it while the actor runs) */
	nact_msg *held;           /* the held request (owned) */
	atomic_uint_fast64_t op;  /* opid of the request being served */
	atomic_uint_fast64_t dl;  /* its deadline */
	atomic_int got;           /* requests received */
	atomic_int subrv;         /* result of the sub-request + 1000 */
	atomic_uint_fast64_t sub; /* opid the sub-request carried (seen by next) */
};

static void server_fini(void *p)
{
	struct server *s = p;
	nact_msg_free(s->held);
	s->held = NULL;
}

static void ignore_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	(void)ctx;
	(void)reply;
	(void)err;
	(void)arg;
}

static int server_fn(nact_ctx *ctx, nact_msg *m)
{
	struct server *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_msg *r;
	switch (nact_msg_type(m)) {
	case T_SERVE:
		atomic_store(&s->op, nact_msg_opid(m));
		atomic_store(&s->dl, nact_msg_deadline(m));
		atomic_fetch_add(&s->got, 1);
		if (atomic_load(&s->hold)) {
			nact_msg_free(s->held);
			/* keep a copy of the request: the header is what
			 * nact_reply needs */
			s->held = NULL;
			if (nact_msg_alloc(&s->held, sys, T_SERVE) == 0) {
				nng_msg *src = nact_msg_nng(m), *dst = nact_msg_nng(s->held);
				nng_msg_clear(dst);
				nng_msg_append(dst, nng_msg_body(src), nng_msg_len(src));
			}
			return 0;
		}
		if (nact_msg_alloc(&r, sys, 1) == 0 && nact_reply(sys, m, r) != 0)
			nact_msg_free(r);
		return 0;
	case T_RELEASE:
		if (s->held != NULL) {
			if (nact_msg_alloc(&r, sys, 1) == 0 && nact_reply(sys, s->held, r) != 0)
				nact_msg_free(r);
			nact_msg_free(s->held);
			s->held = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

/* A middle server: on T_SERVE it makes a sub-request to next (with a long
 * timeout) while handling, and records the result of the call. */
static int middle_fn(nact_ctx *ctx, nact_msg *m)
{
	struct server *s = nact_state(ctx);
	if (nact_msg_type(m) != T_SERVE)
		return 0;
	atomic_store(&s->op, nact_msg_opid(m));
	atomic_store(&s->dl, nact_msg_deadline(m));
	atomic_fetch_add(&s->got, 1);
	nact_msg *q;
	if (nact_msg_alloc(&q, nact_sys(ctx), T_SERVE) != 0)
		return 0;
	int rv = nact_request(ctx, s->next, q, 60000, ignore_reply, NULL);
	if (rv != 0)
		nact_msg_free(q);
	atomic_store(&s->subrv, 1000 + rv);
	return 0;
}

struct client {
	nact_aid server;
	atomic_int replies;
	atomic_int timeouts;
	atomic_int rv; /* nact_request's result + 1000 */
};

static void client_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct client *c = nact_state(ctx);
	(void)reply;
	(void)arg;
	if (err == NACT_ETIMEDOUT)
		atomic_fetch_add(&c->timeouts, 1);
	else
		atomic_fetch_add(&c->replies, 1);
}

static int client_fn(nact_ctx *ctx, nact_msg *m)
{
	struct client *c = nact_state(ctx);
	if (nact_msg_type(m) != T_ASK)
		return 0;
	nact_reader r;
	uint32_t n;
	int64_t ms = 1000;
	if (nact_reader_init(&r, m, NULL) == 0) {
		if (nact_read_array(&r, &n) == 0 && n == 1)
			nact_read_int(&r, &ms);
		nact_reader_fini(&r);
	}
	nact_msg *q;
	if (nact_msg_alloc(&q, nact_sys(ctx), T_SERVE) != 0)
		return 0;
	int rv = nact_request(ctx, c->server, q, (int)ms, client_reply, NULL);
	if (rv != 0)
		nact_msg_free(q);
	atomic_store(&c->rv, 1000 + rv);
	return 0;
}

static int ask(nact_system *sys, nact_aid client, int64_t ms)
{
	nact_msg *m;
	nact_pack p;
	int rv = nact_msg_alloc(&m, sys, T_ASK);
	if (rv != 0)
		return rv;
	nact_pack_init(&p, m);
	nact_pack_array(&p, 1);
	nact_pack_int(&p, ms);
	if ((rv = nact_pack_error(&p)) != 0 || (rv = nact_send(sys, client, m)) != 0)
		nact_msg_free(m);
	return rv;
}

static void test_request_ops(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct server sv;
	static struct client cl;
	memset(&sv, 0, sizeof(sv));
	memset(&cl, 0, sizeof(cl));
	nact_aid s, c;
	nact_opid co;
	nact_op_info in;
	nact_op_opts oo = op_opts("client");

	sv.sys = sys;
	REQUIRE_RV(nact_spawn(&s, sys, server_fn, &sv, server_fini, NULL));
	cl.server = s;
	REQUIRE_RV(nact_spawn_op(&c, &co, sys, client_fn, &cl, NULL, NULL, &oo));

	/* 1. answered at once: the request op is a completed child */
	REQUIRE_RV(ask(sys, c, 10000));
	CHECK(NT_WAIT(atomic_load(&cl.replies) == 1, NT_LONG_MS));
	uint64_t rop = atomic_load(&sv.op);
	CHECK(rop != 0 && rop != co.v);
	/* completed request ops are not kept in the history */
	CHECK_ERR(nact_op_get(sys, (nact_opid){rop}, &in), NACT_ENOENT);

	/* 2. the caller times out: the callee's op is cancelled (timedout) */
	atomic_store(&sv.hold, 1); /* before the message that reads it is sent */
	REQUIRE_RV(ask(sys, c, 30));
	CHECK(NT_WAIT(atomic_load(&cl.timeouts) == 1, NT_LONG_MS));
	rop = atomic_load(&sv.op);
	CHECK(nact_op_is_cancelled(sys, (nact_opid){rop}));
	CHECK_EQ_INT(status_of(sys, (nact_opid){rop}), NACT_OP_TIMEDOUT);
	REQUIRE_RV(send_type(sys, s, T_RELEASE)); /* late reply: a dead letter */
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_LATE) == 1, NT_LONG_MS));

	/* 3. the caller's op is cancelled: the callee's op goes with it */
	REQUIRE_RV(ask(sys, c, 60000));
	CHECK(NT_WAIT(atomic_load(&sv.got) == 3, NT_LONG_MS));
	rop = atomic_load(&sv.op);
	REQUIRE_RV(nact_op_get(sys, (nact_opid){rop}, &in));
	CHECK_STR(in.name, "request");
	CHECK_EQ_U64(in.parent.v, co.v);
	CHECK_EQ_INT(in.status, NACT_OP_RUNNING);
	CHECK_EQ_U64(in.actor.v, c.v); /* created in the client's handler */
	REQUIRE_RV(nact_op_cancel(sys, co, NACT_CANCEL_MANUAL, "stop it"));
	CHECK(nact_op_is_cancelled(sys, (nact_opid){rop}));
	REQUIRE_RV(nact_op_get(sys, (nact_opid){rop}, &in));
	CHECK_EQ_INT(in.reason, NACT_CANCEL_PARENT);
	nact_system_close(sys, 2000);
}

/* client -> middle -> leaf: the sub-request is a grandchild of the
 * client's op, carries the earlier deadline, and is refused once the
 * request's op is cancelled. */
static void test_request_chain(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct server leaf, mid;
	static struct client cl;
	memset(&leaf, 0, sizeof(leaf));
	memset(&mid, 0, sizeof(mid));
	memset(&cl, 0, sizeof(cl));
	nact_aid l, md, c;
	nact_opid co;
	nact_op_info in;
	nact_op_opts oo = op_opts("client");

	leaf.sys = mid.sys = sys;
	atomic_store(&leaf.hold, 1);
	REQUIRE_RV(nact_spawn(&l, sys, server_fn, &leaf, server_fini, NULL));
	mid.next = l;
	REQUIRE_RV(nact_spawn(&md, sys, middle_fn, &mid, NULL, NULL));
	cl.server = md;
	REQUIRE_RV(nact_spawn_op(&c, &co, sys, client_fn, &cl, NULL, NULL, &oo));

	REQUIRE_RV(ask(sys, c, 20000));
	CHECK(NT_WAIT(atomic_load(&leaf.got) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&mid.subrv), 1000);
	uint64_t r1 = atomic_load(&mid.op), r2 = atomic_load(&leaf.op);
	REQUIRE_RV(nact_op_get(sys, (nact_opid){r2}, &in));
	CHECK_EQ_U64(in.parent.v, r1);
	REQUIRE_RV(nact_op_get(sys, (nact_opid){r1}, &in));
	CHECK_EQ_U64(in.parent.v, co.v);
	/* the middle asked with 60 s; the client's 20 s deadline wins */
	CHECK(atomic_load(&leaf.dl) != 0);
	CHECK_EQ_U64(atomic_load(&leaf.dl), atomic_load(&mid.dl));

	/* cancel the client's op: the whole chain is cancelled */
	REQUIRE_RV(nact_op_cancel(sys, co, NACT_CANCEL_MANUAL, NULL));
	CHECK(nact_op_is_cancelled(sys, (nact_opid){r1}));
	CHECK(nact_op_is_cancelled(sys, (nact_opid){r2}));

	/* a request made for a cancelled op is refused */
	static struct client cl2;
	memset(&cl2, 0, sizeof(cl2));
	nact_aid c2;
	nact_opid co2;
	cl2.server = md;
	REQUIRE_RV(nact_spawn_op(&c2, &co2, sys, client_fn, &cl2, NULL, NULL, &oo));
	atomic_store(&leaf.hold, 0); /* the leaf may still be in its first handler */
	REQUIRE_RV(nact_op_cancel(sys, co2, NACT_CANCEL_MANUAL, NULL));
	/* the client's op is cancelled: its own next request is refused
	 * (the actor itself ended: grace 1 s, it ignores cancels; send
	 * before that) */
	REQUIRE_RV(ask(sys, c2, 1000));
	CHECK(NT_WAIT(atomic_load(&cl2.rv) != 0, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&cl2.rv), 1000 + NACT_ECANCELED);
	nact_system_close(sys, 2000);
}

/* ---- wait-for cycles ---- */

/* Each node forwards a request to its next as a new request and holds it
 * (never replies), so every node waits on the next. */
struct cnode {
	nact_aid next;
	atomic_int rv; /* result of its request + 1000 */
	atomic_int got;
};

static int cnode_fn(nact_ctx *ctx, nact_msg *m)
{
	struct cnode *n = nact_state(ctx);
	if (nact_msg_type(m) != T_SERVE && nact_msg_type(m) != T_ASK)
		return 0;
	atomic_fetch_add(&n->got, 1);
	if (atomic_load(&n->rv) != 0)
		return 0; /* asked once already */
	nact_msg *q;
	if (nact_msg_alloc(&q, nact_sys(ctx), T_SERVE) != 0)
		return 0;
	int rv = nact_request(ctx, n->next, q, 60000, ignore_reply, NULL);
	if (rv != 0)
		nact_msg_free(q);
	atomic_store(&n->rv, 1000 + rv);
	return 0;
}

static void test_cycle(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct cnode n[3];
	memset(n, 0, sizeof(n));
	nact_aid a[3];
	nact_opid o[3];
	char last[256];
	const char *names[3] = {"A", "B", "C"};
	CHECK_EQ_U64(nact_op_cycles(sys, last, sizeof(last)), 0);
	CHECK_STR(last, "");
	for (int i = 0; i < 3; i++) {
		nact_op_opts oo = op_opts(names[i]);
		REQUIRE_RV(nact_spawn_op(&a[i], &o[i], sys, cnode_fn, &n[i], NULL, NULL, &oo));
	}
	for (int i = 0; i < 3; i++)
		n[i].next = a[(i + 1) % 3];      /* before the first message */
	REQUIRE_RV(send_type(sys, a[0], T_ASK)); /* A -> B -> C -> A */
	CHECK(NT_WAIT(atomic_load(&n[2].rv) != 0, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&n[0].rv), 1000);
	CHECK_EQ_INT(atomic_load(&n[1].rv), 1000);
	CHECK_EQ_INT(atomic_load(&n[2].rv), 1000 + NACT_ECYCLE);
	CHECK_EQ_INT(atomic_load(&n[0].got), 1); /* C's request never reached A */
	CHECK_EQ_U64(nact_op_cycles(sys, last, sizeof(last)), 1);
	char want[256];
	snprintf(want, sizeof(want), "%llu -> %llu -> %llu -> %llu", (unsigned long long)o[2].v,
	    (unsigned long long)o[0].v, (unsigned long long)o[1].v, (unsigned long long)o[2].v);
	CHECK_STR(last, want);
	nact_system_close(sys, 2000);
}

/* A handler that took or forwarded the message it handles, then makes a
 * request: nothing is read from the message it gave away. */
#define T_TAKE 30u
#define T_FWD 31u

struct giver {
	nact_aid server;
	nact_aid sink;
	atomic_int rv; /* request result + 1000 */
};

static int giver_fn(nact_ctx *ctx, nact_msg *m)
{
	struct giver *g = nact_state(ctx);
	if (nact_msg_type(m) == T_TAKE)
		nng_msg_free(nact_msg_take(m));
	else if (nact_msg_type(m) == T_FWD)
		nact_forward(ctx, g->sink, m);
	else
		return 0;
	nact_msg *q;
	if (nact_msg_alloc(&q, nact_sys(ctx), T_SERVE) != 0)
		return 0;
	int rv = nact_request(ctx, g->server, q, 10000, ignore_reply, NULL);
	if (rv != 0)
		nact_msg_free(q);
	atomic_store(&g->rv, 1000 + rv);
	return 0;
}

static int sink_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	(void)m;
	return 0;
}

static void test_request_after_giving_away(void)
{
	nact_system *sys = open_sys(0);
	REQUIRE(sys != NULL);
	static struct server sv;
	static struct giver g;
	memset(&sv, 0, sizeof(sv));
	memset(&g, 0, sizeof(g));
	nact_aid s, gv;
	sv.sys = sys;
	REQUIRE_RV(nact_spawn(&s, sys, server_fn, &sv, server_fini, NULL));
	REQUIRE_RV(nact_spawn(&g.sink, sys, sink_fn, NULL, NULL, NULL));
	g.server = s;
	REQUIRE_RV(nact_spawn(&gv, sys, giver_fn, &g, NULL, NULL));
	const uint32_t types[2] = {T_TAKE, T_FWD};
	for (int i = 0; i < 2; i++) {
		nact_msg *m;
		REQUIRE_RV(nact_msg_alloc(&m, sys, types[i]));
		nact_msg_set_opid(m, 12345); /* would be read if the guard failed */
		atomic_store(&g.rv, 0);
		REQUIRE_RV(nact_send(sys, gv, m));
		CHECK(NT_WAIT(atomic_load(&g.rv) != 0, NT_LONG_MS));
		CHECK_EQ_INT(atomic_load(&g.rv), 1000);
		CHECK(NT_WAIT(atomic_load(&sv.got) == i + 1, NT_LONG_MS));
		CHECK_EQ_U64(atomic_load(&sv.op), 0);
	}
	nact_system_close(sys, 2000);
}

NT_MAIN(NT_CASE(test_request_after_giving_away), NT_CASE(test_lifecycle),
    NT_CASE(test_cancel_grace), NT_CASE(test_tree_of_actors), NT_CASE(test_race_complete_cancel),
    NT_CASE(test_condition_and_combined), NT_CASE(test_request_ops), NT_CASE(test_request_chain),
    NT_CASE(test_cycle))
