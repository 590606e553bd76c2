/*
 * tests/actors/test_request.c — request/reply.
 *
 * Contract checked (include/nactor/actor.h, "request / reply"):
 * - nact_request from a handler delivers the request with NACT_MF_REQUEST,
 *   a nonzero corr and the requester as sender; nact_reply answers it; the
 *   callback runs once, inside the requesting actor, with the reply (flag
 *   NACT_MF_REPLY, same corr) and err 0, and is not called again when the
 *   request's timeout would have passed.
 * - With no reply, the callback runs exactly once with reply NULL and err
 *   NACT_ETIMEDOUT. A reply arriving after that is a dead letter
 *   NACT_DL_LATE and never a second callback.
 * - nact_reply_to answers a kept request from any thread (here: main).
 * - A failed nact_request (NULL callback) never calls the callback and
 *   leaves the request with the caller.
 * - nact_call from a non-actor thread returns the reply (caller frees it),
 *   NACT_ETIMEDOUT when no reply comes (request consumed), NACT_ENOENT for a
 *   target that is not alive (caller keeps the request); from inside a
 *   handler it is refused with NACT_EDEADLK.
 */
#include "testutil.h"

enum { T_REQ = 1, T_GO, T_REPLY_NOW, T_BADREQ, T_CALL };
enum { ECHO = 0, SILENT = 1 };

typedef struct server_st {
	int mode;
	atomic_int requests;
	atomic_uint_least64_t last_sender;
	atomic_uint_least64_t last_corr;
	atomic_int last_flags;
	atomic_int bad;
} server_st;

static int server(nact_ctx *ctx, nact_msg *m)
{
	server_st *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);

	if (nact_msg_type(m) == T_REPLY_NOW) {
		/* Answer the kept request, late. */
		nact_msg *rep = nt_msg_int(sys, T_REQ, -1);
		nact_aid to = {atomic_load(&s->last_sender)};
		if (rep == NULL || nact_reply_to(sys, to, atomic_load(&s->last_corr), rep) != 0) {
			nact_msg_free(rep);
			atomic_fetch_add(&s->bad, 1);
		}
		return 0;
	}
	atomic_store(&s->last_sender, nact_msg_sender(m).v);
	atomic_store(&s->last_corr, nact_msg_corr(m));
	atomic_store(&s->last_flags, nact_msg_flags(m));
	if (s->mode == ECHO) {
		nact_msg *rep = nt_msg_int(sys, T_REQ, 2 * nt_body_int(m, 0));
		if (rep == NULL || nact_reply(sys, m, rep) != 0) {
			nact_msg_free(rep);
			atomic_fetch_add(&s->bad, 1);
		}
	}
	atomic_fetch_add_explicit(&s->requests, 1, memory_order_release);
	return 0;
}

typedef struct client_st {
	nact_aid target;
	int timeout_ms;
	atomic_int req_rv;
	atomic_int req_done;
	atomic_int cb_calls;
	atomic_int cb_err;
	atomic_int cb_null_reply;
	atomic_llong cb_value;
	atomic_int cb_flags;
	atomic_uint_least64_t cb_corr;
	atomic_uint_least64_t cb_self;
	atomic_int wrong_arg;
} client_st;

static void on_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	client_st *c = arg;
	if (arg != nact_state(ctx))
		atomic_fetch_add(&c->wrong_arg, 1);
	atomic_store(&c->cb_self, nact_self(ctx).v);
	atomic_store(&c->cb_err, err);
	atomic_store(&c->cb_null_reply, reply == NULL);
	if (reply != NULL) {
		atomic_store(&c->cb_value, nt_body_int(reply, 0));
		atomic_store(&c->cb_flags, nact_msg_flags(reply));
		atomic_store(&c->cb_corr, nact_msg_corr(reply));
	}
	atomic_fetch_add_explicit(&c->cb_calls, 1, memory_order_release);
}

static int client(nact_ctx *ctx, nact_msg *m)
{
	client_st *c = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_msg *req = nt_msg_int(sys, T_REQ, nt_body_int(m, 0));
	int rv;

	if (req == NULL)
		return 0;
	switch (nact_msg_type(m)) {
	case T_GO:
		rv = nact_request(ctx, c->target, req, c->timeout_ms, on_reply, c);
		break;
	case T_BADREQ:
		rv = nact_request(ctx, c->target, req, c->timeout_ms, NULL, c);
		break;
	case T_CALL: {
		nact_msg *rep = NULL;
		rv = nact_call(sys, c->target, req, 1000, &rep);
		if (rv == 0)
			nact_msg_free(rep);
		break;
	}
	default:
		rv = NACT_EINVAL;
		break;
	}
	if (rv != 0)
		nact_msg_free(req); /* failed: still ours */
	atomic_store(&c->req_rv, rv);
	atomic_store_explicit(&c->req_done, 1, memory_order_release);
	return 0;
}

typedef struct pair {
	nact_system *sys;
	server_st srv;
	client_st cli;
	nact_aid sid, cid;
} pair;

static int setup(pair *p, int mode, int timeout_ms)
{
	int rv;
	memset(p, 0, sizeof(*p));
	if ((rv = nt_open(&p->sys, 2, NACT_CLOCK_MONOTONIC)) != 0)
		return rv;
	p->srv.mode = mode;
	if ((rv = nact_spawn(&p->sid, p->sys, server, &p->srv, NULL, NULL)) != 0)
		return rv;
	p->cli.target = p->sid;
	p->cli.timeout_ms = timeout_ms;
	return nact_spawn(&p->cid, p->sys, client, &p->cli, NULL, NULL);
}

static void test_request_reply(void)
{
	pair p;
	REQUIRE_RV(setup(&p, ECHO, 200));

	nt_send_int(p.sys, p.cid, T_GO, 21);
	CHECK(NT_WAIT(atomic_load(&p.cli.cb_calls) == 1, NT_LONG_MS));
	CHECK_ERR(atomic_load(&p.cli.req_rv), 0);
	CHECK_ERR(atomic_load(&p.cli.cb_err), 0);
	CHECK_EQ_INT(atomic_load(&p.cli.cb_null_reply), 0);
	CHECK_EQ_INT(atomic_load(&p.cli.cb_value), 42);
	CHECK(atomic_load(&p.cli.cb_flags) & NACT_MF_REPLY);
	CHECK_EQ_U64(atomic_load(&p.cli.cb_self), p.cid.v);
	CHECK_EQ_INT(atomic_load(&p.cli.wrong_arg), 0);
	/* What the server saw. */
	CHECK(atomic_load(&p.srv.last_flags) & NACT_MF_REQUEST);
	CHECK(atomic_load(&p.srv.last_corr) != 0);
	CHECK_EQ_U64(atomic_load(&p.srv.last_corr), atomic_load(&p.cli.cb_corr));
	CHECK_EQ_U64(atomic_load(&p.srv.last_sender), p.cid.v);
	/* The request's timer must not fire a second callback. */
	CHECK(NT_STAYS_FALSE(atomic_load(&p.cli.cb_calls) > 1, 400));
	CHECK_EQ_U64(nact_deadletters(p.sys, NACT_DL_LATE), 0);

	/* Several outstanding requests, each answered once. */
	for (int i = 0; i < 10; i++)
		nt_send_int(p.sys, p.cid, T_GO, i);
	CHECK(NT_WAIT(atomic_load(&p.cli.cb_calls) == 11, NT_LONG_MS));
	CHECK(NT_STAYS_FALSE(atomic_load(&p.cli.cb_calls) > 11, 400));
	CHECK_EQ_INT(atomic_load(&p.srv.bad), 0);
	nact_system_close(p.sys, 5000);
}

static void test_request_timeout(void)
{
	pair p;
	REQUIRE_RV(setup(&p, SILENT, 50));

	uint64_t t0 = nt_now_ms();
	nt_send_int(p.sys, p.cid, T_GO, 1);
	CHECK(NT_WAIT(atomic_load(&p.cli.cb_calls) == 1, NT_LONG_MS));
	uint64_t el = nt_now_ms() - t0;
	CHECK_ERR(atomic_load(&p.cli.req_rv), 0);
	CHECK_ERR(atomic_load(&p.cli.cb_err), NACT_ETIMEDOUT);
	CHECK_EQ_INT(atomic_load(&p.cli.cb_null_reply), 1);
	CHECK_EQ_U64(atomic_load(&p.cli.cb_self), p.cid.v);
	CHECK(el >= 45);
	CHECK_EQ_INT(atomic_load(&p.srv.requests), 1);
	CHECK(NT_STAYS_FALSE(atomic_load(&p.cli.cb_calls) > 1, 200));
	nact_system_close(p.sys, 5000);
}

static void test_late_reply(void)
{
	pair p;
	REQUIRE_RV(setup(&p, SILENT, 50));

	nt_send_int(p.sys, p.cid, T_GO, 1);
	CHECK(NT_WAIT(atomic_load(&p.cli.cb_calls) == 1, NT_LONG_MS));
	CHECK_ERR(atomic_load(&p.cli.cb_err), NACT_ETIMEDOUT);
	CHECK(NT_WAIT(atomic_load(&p.srv.requests) == 1, NT_LONG_MS));

	/* Now the server answers: a dead letter, not a second callback. */
	nt_send_int(p.sys, p.sid, T_REPLY_NOW, 0);
	CHECK(NT_WAIT(nact_deadletters(p.sys, NACT_DL_LATE) == 1, NT_LONG_MS));
	CHECK(NT_STAYS_FALSE(atomic_load(&p.cli.cb_calls) > 1, NT_QUIET_MS));
	CHECK_EQ_INT(atomic_load(&p.cli.cb_calls), 1);
	CHECK_EQ_INT(atomic_load(&p.srv.bad), 0);
	nact_system_close(p.sys, 5000);
}

static void test_reply_from_main(void)
{
	pair p;
	REQUIRE_RV(setup(&p, SILENT, 30000));

	nt_send_int(p.sys, p.cid, T_GO, 1);
	CHECK(
	    NT_WAIT(atomic_load_explicit(&p.srv.requests, memory_order_acquire) == 1, NT_LONG_MS));
	nact_aid to = {atomic_load(&p.srv.last_sender)};
	CHECK_EQ_U64(to.v, p.cid.v);
	nact_msg *rep = nt_msg_int(p.sys, T_REQ, 777);
	REQUIRE(rep != NULL);
	int rv = nact_reply_to(p.sys, to, atomic_load(&p.srv.last_corr), rep);
	CHECK_RV(rv);
	if (rv != 0)
		nact_msg_free(rep);
	CHECK(NT_WAIT(atomic_load(&p.cli.cb_calls) == 1, NT_LONG_MS));
	CHECK_ERR(atomic_load(&p.cli.cb_err), 0);
	CHECK_EQ_INT(atomic_load(&p.cli.cb_value), 777);
	nact_system_close(p.sys, 5000);
}

static void test_request_bad(void)
{
	pair p;
	REQUIRE_RV(setup(&p, ECHO, 100));

	nt_send_int(p.sys, p.cid, T_BADREQ, 1);
	CHECK(NT_WAIT(atomic_load(&p.cli.req_done), NT_LONG_MS));
	CHECK_ERR(atomic_load(&p.cli.req_rv), NACT_EINVAL);
	/* Nothing was sent, no callback will come. */
	CHECK(NT_STAYS_FALSE(atomic_load(&p.cli.cb_calls) != 0, 300));
	CHECK_EQ_INT(atomic_load(&p.srv.requests), 0);
	nact_system_close(p.sys, 5000);
}

static void test_call_in_handler(void)
{
	pair p;
	REQUIRE_RV(setup(&p, ECHO, 100));

	uint64_t t0 = nt_now_ms();
	nt_send_int(p.sys, p.cid, T_CALL, 1);
	CHECK(NT_WAIT(atomic_load(&p.cli.req_done), NT_LONG_MS));
	CHECK_ERR(atomic_load(&p.cli.req_rv), NACT_EDEADLK);
	CHECK(nt_now_ms() - t0 < 900); /* refused, not timed out */
	CHECK(NT_STAYS_FALSE(atomic_load(&p.srv.requests) != 0, NT_QUIET_MS));
	nact_system_close(p.sys, 5000);
}

static void test_call_main(void)
{
	pair p;
	REQUIRE_RV(setup(&p, ECHO, 100));
	nact_msg *req, *rep = NULL;

	/* Success: the reply is ours to free. */
	req = nt_msg_int(p.sys, T_REQ, 5);
	REQUIRE(req != NULL);
	int rv = nact_call(p.sys, p.sid, req, 10000, &rep);
	CHECK_RV(rv);
	if (rv == 0 && rep != NULL) {
		CHECK_EQ_INT(nt_body_int(rep, 0), 10);
		CHECK(nact_msg_flags(rep) & NACT_MF_REPLY);
		nact_msg_free(rep);
	} else if (rv != 0 && rv != NACT_ETIMEDOUT) {
		nact_msg_free(req);
	}
	/* The server saw a request from no actor. */
	CHECK(atomic_load(&p.srv.last_flags) & NACT_MF_REQUEST);
	CHECK(atomic_load(&p.srv.last_corr) != 0);

	/* Many calls in a row. */
	int bad = 0;
	for (int i = 0; i < 200; i++) {
		req = nt_msg_int(p.sys, T_REQ, i);
		rep = NULL;
		rv = req ? nact_call(p.sys, p.sid, req, 10000, &rep) : NACT_ENOMEM;
		if (rv != 0 || rep == NULL || nt_body_int(rep, -1) != 2 * i)
			bad++;
		if (rv == 0)
			nact_msg_free(rep);
		else if (rv != NACT_ETIMEDOUT)
			nact_msg_free(req);
	}
	CHECK_EQ_INT(bad, 0);

	/* Timeout: the request is consumed. */
	server_st silent = {.mode = SILENT};
	nact_aid sil;
	REQUIRE_RV(nact_spawn(&sil, p.sys, server, &silent, NULL, NULL));
	req = nt_msg_int(p.sys, T_REQ, 1);
	REQUIRE(req != NULL);
	uint64_t t0 = nt_now_ms();
	rep = NULL;
	rv = nact_call(p.sys, sil, req, 50, &rep);
	CHECK_ERR(rv, NACT_ETIMEDOUT);
	CHECK(nt_now_ms() - t0 >= 45);
	if (rv == 0)
		nact_msg_free(rep);
	else if (rv != NACT_ETIMEDOUT)
		nact_msg_free(req);
	/* Its late answer is a dead letter. */
	CHECK(NT_WAIT(atomic_load(&silent.requests) == 1, NT_LONG_MS));
	nt_send_int(p.sys, sil, T_REPLY_NOW, 0);
	CHECK(NT_WAIT(nact_deadletters(p.sys, NACT_DL_LATE) == 1, NT_LONG_MS));

	/* A target that is not alive: refused, the caller keeps req. */
	CHECK_RV(nact_stop(p.sys, sil));
	CHECK(NT_WAIT(!nact_alive(p.sys, sil), NT_LONG_MS));
	req = nt_msg_int(p.sys, T_REQ, 1);
	REQUIRE(req != NULL);
	rv = nact_call(p.sys, sil, req, 1000, &rep);
	CHECK_ERR(rv, NACT_ENOENT);
	if (rv == 0)
		nact_msg_free(rep);
	else if (rv != NACT_ETIMEDOUT)
		nact_msg_free(req);
	nact_system_close(p.sys, 5000);
}

NT_MAIN(NT_CASE(test_request_reply), NT_CASE(test_request_timeout), NT_CASE(test_late_reply),
    NT_CASE(test_reply_from_main), NT_CASE(test_request_bad), NT_CASE(test_call_in_handler),
    NT_CASE(test_call_main))
