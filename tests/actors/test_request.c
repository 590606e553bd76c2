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
 * - Many requests with mixed timeouts (one timer serves them all): each
 *   times out exactly once, in deadline order, not before its deadline
 *   (manual clock); one answered in time never times out; a request made
 *   from a timeout callback is timed out in its turn.
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

/* ---- many deadlines, one timer ---- */

#define T_MANY 40u /* requester: make the requests */
#define T_ANS 41u  /* holder: answer the request with corr in the body */
#define T_HOLD 42u /* the requests */

struct many {
	nact_aid holder;
	atomic_int order[16]; /* timeout index by arrival */
	atomic_int ntimeouts;
	atomic_int replies;
	atomic_int again; /* requests made from a timeout callback */
	uint64_t corr[16];
};

static const int many_ms[] = {50, 10, 30, 10, 70, 20};
#define NMANY 6

static int many_requester(nact_ctx *ctx, nact_msg *m);

static void many_cb(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct many *s = nact_state(ctx);
	int i = (int)(intptr_t)arg;
	if (err == 0) {
		atomic_fetch_add(&s->replies, 1);
		return;
	}
	int k = atomic_fetch_add(&s->ntimeouts, 1);
	if (k < 16)
		atomic_store(&s->order[k], i);
	if (i == 1 && atomic_load(&s->again) == 0) { /* a new request from here */
		nact_msg *q;
		if (nact_msg_alloc(&q, nact_sys(ctx), T_HOLD) == 0) {
			atomic_store(&s->again, 1);
			if (nact_request(ctx, s->holder, q, 100, many_cb, (void *)(intptr_t)9) != 0)
				nact_msg_free(q);
		}
	}
	(void)reply;
}

static int many_requester(nact_ctx *ctx, nact_msg *m)
{
	struct many *s = nact_state(ctx);
	if (nact_msg_type(m) != T_MANY)
		return 0;
	for (int i = 0; i < NMANY; i++) {
		nact_msg *q;
		if (nact_msg_alloc(&q, nact_sys(ctx), T_HOLD) != 0)
			return NACT_ENOMEM;
		if (nact_request(ctx, s->holder, q, many_ms[i], many_cb, (void *)(intptr_t)i) != 0)
			return NACT_EINVAL;
	}
	return 0;
}

struct holder {
	atomic_int n;
	nact_msg *keep[16]; /* copies of the requests (for replying) */
};

static void holder_fini(void *p)
{
	struct holder *h = p;
	for (int i = 0; i < 16; i++)
		nact_msg_free(h->keep[i]);
}

static int holder_fn(nact_ctx *ctx, nact_msg *m)
{
	struct holder *h = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (nact_msg_type(m) == T_HOLD) {
		int i = atomic_load(&h->n);
		if (i < 16 && nact_msg_alloc(&h->keep[i], sys, T_HOLD) == 0) {
			nng_msg *d = nact_msg_nng(h->keep[i]), *src = nact_msg_nng(m);
			nng_msg_clear(d);
			nng_msg_append(d, nng_msg_body(src), nng_msg_len(src));
		}
		atomic_fetch_add(&h->n, 1);
	} else if (nact_msg_type(m) == T_ANS) {
		/* answer the request that arrived 5th (the 70 ms one) */
		nact_msg *r;
		if (h->keep[4] != NULL && nact_msg_alloc(&r, sys, 1) == 0 &&
		    nact_reply(sys, h->keep[4], r) != 0)
			nact_msg_free(r);
	}
	return 0;
}

static void test_many_deadlines(void)
{
	nact_config cfg;
	nact_system *sys;
	nact_config_init(&cfg);
	cfg.clock = NACT_CLOCK_MANUAL;
	cfg.workers = 2;
	REQUIRE_RV(nact_system_open(&sys, &cfg));
	static struct many s;
	static struct holder h;
	memset(&s, 0, sizeof(s));
	memset(&h, 0, sizeof(h));
	nact_aid req;
	REQUIRE_RV(nact_spawn(&s.holder, sys, holder_fn, &h, holder_fini, NULL));
	REQUIRE_RV(nact_spawn(&req, sys, many_requester, &s, NULL, NULL));
	nact_msg *m;
	REQUIRE_RV(nact_msg_alloc(&m, sys, T_MANY));
	REQUIRE_RV(nact_send(sys, req, m));
	CHECK(NT_WAIT(atomic_load(&h.n) == NMANY, NT_LONG_MS));
	/* step the clock 1 ms at a time: timeouts come in deadline order,
	 * never early */
	const int want[] = {1, 3, 5, 2, 0}; /* 10, 10, 20, 30, 50 ms */
	int seen = 0;
	for (int ms = 1; ms <= 60; ms++) {
		CHECK_RV(nact_clock_advance(sys, 1000000));
		int expect = 0;
		for (int i = 0; i < NMANY; i++)
			expect += i != 4 && many_ms[i] <= ms;
		CHECK(NT_WAIT(atomic_load(&s.ntimeouts) >= expect, NT_LONG_MS));
		/* and no more than that (settle: the actor is idle once it
		 * handled what the clock delivered) */
		NT_WAIT(0, 2);
		CHECK(atomic_load(&s.ntimeouts) <= expect + (atomic_load(&s.again) && ms >= 110));
		seen = expect;
	}
	CHECK_EQ_INT(seen, 5);
	for (int k = 0; k < 5; k++)
		CHECK_EQ_INT(atomic_load(&s.order[k]), want[k]);
	/* the 70 ms one is answered in time: no timeout for it */
	REQUIRE_RV(nact_msg_alloc(&m, sys, T_ANS));
	REQUIRE_RV(nact_send(sys, s.holder, m));
	CHECK(NT_WAIT(atomic_load(&s.replies) == 1, NT_LONG_MS));
	/* the request made from the 10 ms timeout callback (at 10 ms, 100 ms
	 * timeout) times out at 110 ms */
	CHECK_EQ_INT(atomic_load(&s.again), 1);
	CHECK_RV(nact_clock_advance(sys, 40 * 1000000)); /* 100 ms */
	NT_WAIT(0, 20);
	CHECK_EQ_INT(atomic_load(&s.ntimeouts), 5);
	CHECK_RV(nact_clock_advance(sys, 10 * 1000000)); /* 110 ms */
	CHECK(NT_WAIT(atomic_load(&s.ntimeouts) == 6, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s.order[5]), 9);
	CHECK_RV(nact_clock_advance(sys, 1000 * 1000000ull));
	NT_WAIT(0, 20);
	CHECK_EQ_INT(atomic_load(&s.ntimeouts), 6);
	CHECK_EQ_INT(atomic_load(&s.replies), 1);
	nact_system_close(sys, 2000);
}

NT_MAIN(NT_CASE(test_many_deadlines), NT_CASE(test_request_reply), NT_CASE(test_request_timeout),
    NT_CASE(test_late_reply), NT_CASE(test_reply_from_main), NT_CASE(test_request_bad),
    NT_CASE(test_call_in_handler), NT_CASE(test_call_main))
