/*
 * tests/cancel/test_stream_tree.c — progress events in the status stream
 * (rate limit per operation, the last report before a status change) and
 * the supervision trees in the "tree" verb.
 */
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "registry/server_internal.h"
#include "mputil.h"
#include "testutil.h"

static char tmpdir[64];

/* One event: "op STATUS" or "progress P", appended to log (";"-separated). */
static int next_event(nng_socket sub, char *log, size_t cap, uint64_t want_id)
{
	for (;;) {
		nng_msg *m;
		msgpack_unpacked up;
		size_t off = 0;
		char ev[64];
		if (nng_recvmsg(sub, &m, 0) != 0)
			return -1;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, nng_msg_body(m), nng_msg_len(m), &off) !=
		    MSGPACK_UNPACK_SUCCESS) {
			nng_msg_free(m);
			return -1;
		}
		const msgpack_object *op = mp_get(&up.data, "op");
		const msgpack_object *e = mp_get(&up.data, "event");
		int skip = mp_u(mp_get(op, "id")) != want_id;
		if (mp_is(e, "progress")) {
			const msgpack_object *p = mp_get(op, "progress");
			snprintf(ev, sizeof(ev), "progress %.2f;", p != NULL ? p->via.f64 : -1.0);
		} else if (mp_is(e, "op")) {
			const msgpack_object *st = mp_get(op, "status");
			snprintf(ev, sizeof(ev), "op %.*s;", st ? (int)st->via.str.size : 1,
			    st ? st->via.str.ptr : "?");
		} else {
			snprintf(ev, sizeof(ev), "?;");
		}
		msgpack_unpacked_destroy(&up);
		nng_msg_free(m);
		if (skip)
			continue;
		size_t n = strlen(log);
		snprintf(log + n, cap - n, "%s", ev);
		return 0;
	}
}

/* Subscribe, and make sure the subscription is live: create probe
 * operations until one's event arrives (no fixed sleep). */
static int subscribe(nact_system *sys, const char *node, nng_socket *sub)
{
	char url[256];
	snprintf(url, sizeof(url), "ipc://%s/nactor/%s.pub.ipc", tmpdir, node);
	if (nng_sub0_open(sub) != 0 || nng_socket_set(*sub, NNG_OPT_SUB_SUBSCRIBE, "", 0) != 0)
		return -1;
	nng_socket_set_ms(*sub, NNG_OPT_RECVTIMEO, 50);
	if (nng_dial(*sub, url, NULL, 0) != 0)
		return -1;
	for (int i = 0; i < 200; i++) {
		nact_opid p;
		nng_msg *m;
		if (nact_op_create(&p, sys, "probe", NACT_OPID_NONE, NULL) != 0)
			return -1;
		nact_op_start(sys, p);
		nact_op_complete(sys, p);
		if (nng_recvmsg(*sub, &m, 0) == 0) {
			nng_msg_free(m);
			/* drain the rest of the probes' events */
			while (nng_recvmsg(*sub, &m, 0) == 0)
				nng_msg_free(m);
			nng_socket_set_ms(*sub, NNG_OPT_RECVTIMEO, (nng_duration)nt_slow(5000));
			return 0;
		}
	}
	return -1;
}

static void test_progress_events(void)
{
	nact_system *sys;
	nng_socket sub;
	nact_opid a, b;
	char log[512] = "";
	rundir_fresh(tmpdir, "cst");
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MANUAL));
	REQUIRE_RV(nact_registry_serve(sys, "prog", NULL, 0));
	REQUIRE(subscribe(sys, "prog", &sub) == 0);

	/* the first report goes out; the next ones within 100 ms are held;
	 * the latest held one goes out with the first report after the
	 * window, or just before the status change */
	REQUIRE_RV(nact_op_create(&a, sys, "batch", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_progress(sys, a, 0.1, "one"));
	REQUIRE_RV(nact_op_progress(sys, a, 0.2, NULL));
	REQUIRE_RV(nact_op_progress(sys, a, 0.3, NULL));
	REQUIRE_RV(nact_clock_advance(sys, 100 * 1000000ull));
	REQUIRE_RV(nact_op_progress(sys, a, 0.4, NULL));
	REQUIRE_RV(nact_clock_advance(sys, 99 * 1000000ull));
	REQUIRE_RV(nact_op_progress(sys, a, 0.5, NULL));
	REQUIRE_RV(nact_op_progress(sys, a, 0.6, "six"));
	REQUIRE_RV(nact_op_complete(sys, a));
	for (int i = 0; i < 6; i++)
		REQUIRE(next_event(sub, log, sizeof(log), a.v) == 0);
	CHECK_STR(log,
	    "op pending;op running;progress 0.10;progress 0.40;progress 0.60;"
	    "op completed;");

	/* a held report comes before a cancel too; nothing held: no extra */
	log[0] = '\0';
	REQUIRE_RV(nact_op_create(&b, sys, "held", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_progress(sys, b, 0.25, NULL)); /* while pending */
	REQUIRE_RV(nact_op_progress(sys, b, 0.5, NULL));
	REQUIRE_RV(nact_op_start(sys, b));
	REQUIRE_RV(nact_clock_advance(sys, 200 * 1000000ull));
	REQUIRE_RV(nact_op_progress(sys, b, 0.75, NULL));
	REQUIRE_RV(nact_op_cancel(sys, b, NACT_CANCEL_MANUAL, NULL));
	for (int i = 0; i < 6; i++)
		REQUIRE(next_event(sub, log, sizeof(log), b.v) == 0);
	CHECK_STR(log,
	    "op pending;progress 0.25;progress 0.50;op running;progress 0.75;"
	    "op cancelled;");

	/* many reports in one window: one event, not a flood */
	nact_opid c;
	uint64_t got = 0;
	REQUIRE_RV(nact_op_create(&c, sys, "flood", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, c));
	for (int i = 0; i <= 1000; i++)
		REQUIRE_RV(nact_op_progress(sys, c, i / 1000.0, NULL));
	REQUIRE_RV(nact_op_complete(sys, c));
	log[0] = '\0';
	for (int i = 0; i < 5; i++)
		REQUIRE(next_event(sub, log, sizeof(log), c.v) == 0);
	CHECK_STR(log, "op pending;op running;progress 0.00;progress 1.00;op completed;");
	(void)got;
	nng_close(sub);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

/* ---- supervision trees ---- */

static int idle_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	(void)m;
	return 0;
}

static int idle_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	(void)arg;
	(void)extra;
	return nact_spawn(idp, sys, idle_fn, NULL, NULL, NULL);
}

static int jobs_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	static const nact_child_spec kid = {.id = "job", .start = idle_start};
	nact_sup_spec sp = {.name = "jobs", .children = &kid, .nchildren = 1};
	(void)arg;
	(void)extra;
	return nact_sup_start(idp, sys, &sp);
}

/* Ask "tree" (without a socket) and unpack the reply into up. */
static int tree(nact_system *sys, msgpack_unpacked *up, nng_msg **mp)
{
	static const unsigned char req[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa4, 0x74, 0x72, 0x65, 0x65}; /* {"v":1,"verb":"tree"} */
	size_t off = 0;
	if (nng_msg_alloc(mp, 0) != 0)
		return -1;
	nacti_regsrv_answer(sys, "t", req, sizeof(req), *mp);
	msgpack_unpacked_init(up);
	return msgpack_unpack_next(up, nng_msg_body(*mp), nng_msg_len(*mp), &off) ==
	        MSGPACK_UNPACK_SUCCESS ?
	    0 :
	    -1;
}

static const msgpack_object *kid(const msgpack_object *n, uint32_t i)
{
	const msgpack_object *c = mp_get(n, "children");
	if (c == NULL || c->type != MSGPACK_OBJECT_ARRAY || i >= c->via.array.size)
		return NULL;
	return &c->via.array.ptr[i];
}

static uint32_t nkids(const msgpack_object *n)
{
	const msgpack_object *c = mp_get(n, "children");
	return c != NULL && c->type == MSGPACK_OBJECT_ARRAY ? c->via.array.size : UINT32_MAX;
}

/* 1 once the tree shows "jobs" as a supervisor with its one child: a
 * supervisor started by another's start function lists itself (and starts
 * its children) when it runs its init, after the parent's start returned. */
static int jobs_listed(nact_system *sys)
{
	msgpack_unpacked up;
	nng_msg *m;
	int ok = 0;
	if (tree(sys, &up, &m) != 0)
		return 0;
	const msgpack_object *sups = mp_get(&up.data, "supervisors");
	if (sups != NULL && sups->type == MSGPACK_OBJECT_ARRAY && sups->via.array.size == 1) {
		const msgpack_object *jobs = kid(&sups->via.array.ptr[0], 1);
		ok = jobs != NULL && mp_is(mp_get(jobs, "kind"), "supervisor") && nkids(jobs) == 1;
	}
	msgpack_unpacked_destroy(&up);
	nng_msg_free(m);
	return ok;
}

static void test_supervision_tree(void)
{
	nact_system *sys;
	nact_aid app;
	nact_child_info ci[4];
	uint32_t n = 0;
	msgpack_unpacked up;
	nng_msg *m;
	const nact_child_spec kids[] = {
	    {.id = "db", .start = idle_start, .restart = NACT_PERMANENT},
	    {.id = "jobs", .start = jobs_start, .restart = NACT_PERMANENT},
	};
	nact_sup_spec sp = {.name = "app", .intensity = 10, .children = kids, .nchildren = 2};
	REQUIRE_RV(nt_open(&sys, 2, 0));
	/* no supervisor: an empty array */
	REQUIRE(tree(sys, &up, &m) == 0);
	CHECK(mp_get(&up.data, "supervisors") != NULL &&
	    mp_get(&up.data, "supervisors")->via.array.size == 0);
	msgpack_unpacked_destroy(&up);
	nng_msg_free(m);

	REQUIRE_RV(nact_sup_start(&app, sys, &sp));
	/* kill db twice: two restarts, last exit "killed" */
	for (int k = 0; k < 2; k++) {
		REQUIRE_RV(nact_sup_children(sys, app, ci, 4, &n, 5000));
		REQUIRE(n == 2);
		nact_aid old = ci[0].aid;
		REQUIRE_RV(nact_kill(sys, old));
		CHECK(NT_WAIT(nact_sup_children(sys, app, ci, 4, &n, 5000) == 0 && n == 2 &&
		        ci[0].running && ci[0].aid.v != old.v,
		    NT_LONG_MS));
	}
	CHECK(NT_WAIT(jobs_listed(sys), NT_LONG_MS));
	REQUIRE(tree(sys, &up, &m) == 0);
	const msgpack_object *sups = mp_get(&up.data, "supervisors");
	REQUIRE(sups != NULL && sups->type == MSGPACK_OBJECT_ARRAY);
	CHECK_EQ_INT(sups->via.array.size, 1); /* jobs is under app, not a root */
	const msgpack_object *r = &sups->via.array.ptr[0];
	CHECK(mp_is(mp_get(r, "kind"), "supervisor"));
	CHECK(mp_is(mp_get(r, "id"), "app"));
	CHECK(mp_is(mp_get(r, "name"), "app"));
	CHECK_EQ_U64(mp_u(mp_get(r, "aid")), app.v);
	CHECK(mp_is(mp_get(r, "status"), "running"));
	CHECK_EQ_INT(nkids(r), 2);
	const msgpack_object *db = kid(r, 0), *jobs = kid(r, 1);
	CHECK(mp_is(mp_get(db, "kind"), "worker"));
	CHECK(mp_is(mp_get(db, "id"), "db"));
	CHECK_EQ_U64(mp_u(mp_get(db, "restarts")), 2);
	CHECK(mp_is(mp_get(db, "last_exit"), "killed"));
	CHECK(mp_is(mp_get(db, "status"), "running"));
	CHECK_EQ_INT(nkids(db), 0);
	CHECK(mp_is(mp_get(jobs, "kind"), "supervisor"));
	CHECK(mp_is(mp_get(jobs, "name"), "jobs"));
	CHECK_EQ_INT(nkids(jobs), 1);
	CHECK(mp_is(mp_get(kid(jobs, 0), "id"), "job"));
	CHECK(mp_is(mp_get(kid(jobs, 0), "kind"), "worker"));
	CHECK(mp_get(&up.data, "supervisors_truncated") != NULL &&
	    !mp_get(&up.data, "supervisors_truncated")->via.boolean);
	msgpack_unpacked_destroy(&up);
	nng_msg_free(m);

	/* stopped: gone from the tree */
	REQUIRE_RV(nact_stop(sys, app));
	CHECK(NT_WAIT(!nact_alive(sys, app), NT_LONG_MS));
	CHECK(NT_WAIT(nacti_sups_list(sys, NULL, 0) == 0, NT_LONG_MS));
	REQUIRE(tree(sys, &up, &m) == 0);
	CHECK_EQ_INT(mp_get(&up.data, "supervisors")->via.array.size, 0);
	msgpack_unpacked_destroy(&up);
	nng_msg_free(m);
	nact_system_close(sys, 5000);
}

/* A supervisor busy in its handler (a child start that blocks) does not
 * answer within 500 ms: shown "unresponsive", and the reply still comes. */
static nt_gate gate;

static int blocking_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	(void)arg;
	(void)extra;
	nt_gate_block(&gate);
	return nact_spawn(idp, sys, idle_fn, NULL, NULL, NULL);
}

struct starter {
	nact_system *sys;
	nact_aid sup;
	int rv;
};

static void start_child_thread(void *arg)
{
	struct starter *st = arg;
	nact_aid kid;
	st->rv = nact_sup_start_child(st->sys, st->sup, NULL, &kid, (int)nt_slow(NT_LONG_MS));
}

static void test_unresponsive_supervisor(void)
{
	nact_system *sys;
	nact_aid pool;
	nng_thread *thr;
	msgpack_unpacked up;
	nng_msg *m;
	static const nact_child_spec tmpl = {.id = "conn", .start = blocking_start};
	nact_sup_spec sp = {.name = "pool",
	    .strategy = NACT_SIMPLE_ONE_FOR_ONE,
	    .child_template = &tmpl};
	REQUIRE_RV(nt_open(&sys, 2, 0));
	REQUIRE_RV(nact_sup_start(&pool, sys, &sp));
	struct starter st = {.sys = sys, .sup = pool, .rv = -1};
	REQUIRE_RV(nng_thread_create(&thr, start_child_thread, &st));
	CHECK(NT_WAIT(atomic_load(&gate.entered), NT_LONG_MS));
	uint64_t t0 = nt_now_ms();
	REQUIRE(tree(sys, &up, &m) == 0);
	uint64_t took = nt_now_ms() - t0;
	const msgpack_object *sups = mp_get(&up.data, "supervisors");
	REQUIRE(sups != NULL && sups->type == MSGPACK_OBJECT_ARRAY && sups->via.array.size == 1);
	CHECK(mp_is(mp_get(&sups->via.array.ptr[0], "name"), "pool"));
	CHECK(mp_is(mp_get(&sups->via.array.ptr[0], "status"), "unresponsive"));
	CHECK_EQ_INT(nkids(&sups->via.array.ptr[0]), 0);
	CHECK(took >= 400); /* it did wait for the answer (lower bound only) */
	msgpack_unpacked_destroy(&up);
	nng_msg_free(m);
	nt_gate_open(&gate);
	nng_thread_destroy(thr); /* joins */
	CHECK_RV(st.rv);
	/* answering again: one running child */
	REQUIRE(tree(sys, &up, &m) == 0);
	sups = mp_get(&up.data, "supervisors");
	REQUIRE(sups != NULL && sups->type == MSGPACK_OBJECT_ARRAY && sups->via.array.size == 1);
	CHECK(mp_is(mp_get(&sups->via.array.ptr[0], "status"), "running"));
	CHECK_EQ_INT(nkids(&sups->via.array.ptr[0]), 1);
	CHECK(mp_is(mp_get(kid(&sups->via.array.ptr[0], 0), "id"), "conn"));
	msgpack_unpacked_destroy(&up);
	nng_msg_free(m);
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_progress_events), NT_CASE(test_supervision_tree),
    NT_CASE(test_unresponsive_supervisor))
