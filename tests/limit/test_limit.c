/*
 * tests/limit/test_limit.c — limiters, gather and retry
 * (include/nactor/limit.h).
 *
 * Contract checked:
 * - token bucket (manual clock): starts full (burst), refuses with
 *   NACT_ELIMITED and the exact wait, succeeds after waiting that long;
 *   over a long run it admits rate * time + burst; rate changes keep the
 *   earned tokens; bad arguments are NACT_EINVAL.
 * - concurrency limiter: max permits, refusal counted, release of nothing
 *   is NACT_ESTATE.
 * - AIMD (manual clock): overload halves the rate once per cooldown, down
 *   to min; successes add about `add` per rate's worth; latency over the
 *   target counts as overload; bad options refused.
 * - gather: at most `limit` requests in flight, results in task order;
 *   all-settled reports error replies and per-task timeouts per task;
 *   first-error cancels the rest; the whole-gather timeout (manual clock,
 *   nact_gather_start + NACT_T_GATHER_DONE) reports every unfinished task
 *   timed out; bad arguments; from a handler nact_gather is NACT_EDEADLK.
 * - retry: a flaky worker succeeds after k failures (k+1 attempts); a
 *   non-retryable error is returned at once; exhaustion returns the last
 *   error; timeouts are retried; the delays follow the documented formula
 *   (doubling, cap, jitter bounds); the caller's deadline is respected.
 */
#include "testutil.h"

#include <nactor/limit.h>
#include <nng/supplemental/util/platform.h>

#define WAIT_MS 10000
#define MS 1000000ull

/* ---- token bucket ---- */

static void test_rate(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MANUAL));
	nact_rate r;
	uint64_t w = 0;
	REQUIRE_RV(nact_rate_init(&r, sys, 10, 2)); /* 10/s, burst 2 */
	CHECK_RV(nact_rate_try(&r, 1, &w));
	CHECK_EQ_U64(w, 0);
	CHECK_RV(nact_rate_try(&r, 1, &w));
	CHECK_ERR(nact_rate_try(&r, 1, &w), NACT_ELIMITED);
	CHECK_EQ_U64(w, 100 * MS);
	CHECK_EQ_U64(nact_rate_wait(&r, 2), 200 * MS);
	CHECK_RV(nact_clock_advance(sys, 50 * MS));
	CHECK_ERR(nact_rate_try(&r, 1, &w), NACT_ELIMITED);
	CHECK_EQ_U64(w, 50 * MS);
	CHECK_RV(nact_clock_advance(sys, w));
	CHECK_RV(nact_rate_try(&r, 1, &w));
	/* a long run: 1 ms steps for 10 s admit 10 * 10 (+ nothing: empty now) */
	int ok = 0;
	for (int i = 0; i < 10000; i++) {
		CHECK_RV(nact_clock_advance(sys, MS));
		while (nact_rate_try(&r, 1, NULL) == 0)
			ok++;
	}
	CHECK_EQ_INT(ok, 100);
	/* idle time saves up at most burst */
	CHECK_RV(nact_clock_advance(sys, 60000 * MS));
	ok = 0;
	while (nact_rate_try(&r, 1, NULL) == 0)
		ok++;
	CHECK_EQ_INT(ok, 2);
	/* n tokens at once, and a rate change */
	CHECK_RV(nact_clock_advance(sys, 200 * MS));
	CHECK_RV(nact_rate_try(&r, 2, &w));
	CHECK_RV(nact_rate_set(&r, 1000, 0));
	CHECK_EQ_U64(nact_rate_wait(&r, 1), 1 * MS);
	CHECK_RV(nact_rate_set(&r, 1000, 5));
	CHECK_RV(nact_clock_advance(sys, 1000 * MS));
	ok = 0;
	while (nact_rate_try(&r, 1, NULL) == 0)
		ok++;
	CHECK_EQ_INT(ok, 5);

	/* bad arguments */
	nact_rate b;
	CHECK_ERR(nact_rate_init(NULL, sys, 1, 1), NACT_EINVAL);
	CHECK_ERR(nact_rate_init(&b, NULL, 1, 1), NACT_EINVAL);
	CHECK_ERR(nact_rate_init(&b, sys, 0, 1), NACT_EINVAL);
	CHECK_ERR(nact_rate_init(&b, sys, -1, 1), NACT_EINVAL);
	CHECK_ERR(nact_rate_init(&b, sys, 1, 0.5), NACT_EINVAL);
	CHECK_ERR(nact_rate_init(&b, sys, 1.0 / 0.0, 1), NACT_EINVAL);
	CHECK_ERR(nact_rate_init(&b, sys, 0.0 / 0.0, 1), NACT_EINVAL);
	CHECK_ERR(nact_rate_try(&r, 0, &w), NACT_EINVAL);
	CHECK_ERR(nact_rate_try(&r, -1, &w), NACT_EINVAL);
	CHECK_ERR(nact_rate_try(&r, 6, &w), NACT_EINVAL); /* > burst: never */
	CHECK_ERR(nact_rate_try(NULL, 1, &w), NACT_EINVAL);
	CHECK_ERR(nact_rate_set(&r, 0, 1), NACT_EINVAL);
	nact_system_close(sys, 5000);
}

static void test_climit(void)
{
	nact_climit c;
	REQUIRE_RV(nact_climit_init(&c, 2));
	CHECK_RV(nact_climit_try(&c));
	CHECK_RV(nact_climit_try(&c));
	CHECK_ERR(nact_climit_try(&c), NACT_ELIMITED);
	CHECK_EQ_U64(c.refused, 1);
	CHECK_RV(nact_climit_release(&c));
	CHECK_RV(nact_climit_try(&c));
	CHECK_RV(nact_climit_set(&c, 1)); /* two still taken */
	CHECK_RV(nact_climit_release(&c));
	CHECK_ERR(nact_climit_try(&c), NACT_ELIMITED);
	CHECK_RV(nact_climit_release(&c));
	CHECK_RV(nact_climit_try(&c));
	CHECK_RV(nact_climit_release(&c));
	CHECK_ERR(nact_climit_release(&c), NACT_ESTATE);
	CHECK_ERR(nact_climit_init(&c, 0), NACT_EINVAL);
	CHECK_ERR(nact_climit_init(NULL, 1), NACT_EINVAL);
	CHECK_ERR(nact_climit_set(&c, 0), NACT_EINVAL);
	CHECK_ERR(nact_climit_try(NULL), NACT_EINVAL);
}

static void test_alimit(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MANUAL));
	nact_alimit a;
	nact_alimit_opts o = {.max = 100,
	    .min = 10,
	    .add = 10,
	    .cooldown_ms = 100,
	    .target_lat_ns = 5 * MS};
	REQUIRE_RV(nact_alimit_init(&a, sys, &o));
	CHECK(nact_alimit_rate(&a) == 100);
	nact_alimit_report(&a, 1);
	CHECK(nact_alimit_rate(&a) == 50);
	nact_alimit_report(&a, 1); /* same episode */
	CHECK(nact_alimit_rate(&a) == 50);
	CHECK_RV(nact_clock_advance(sys, 100 * MS));
	nact_alimit_latency(&a, 6 * MS); /* over target: overload */
	CHECK(nact_alimit_rate(&a) == 25);
	CHECK_EQ_U64(a.decreases, 2);
	for (int i = 0; i < 4; i++) {
		CHECK_RV(nact_clock_advance(sys, 100 * MS));
		nact_alimit_report(&a, 1);
	}
	CHECK(nact_alimit_rate(&a) == 10); /* floor */
	/* additive increase: 10 successes at rate 10 add about 10 */
	for (int i = 0; i < 10; i++)
		nact_alimit_latency(&a, 1 * MS);
	double r = nact_alimit_rate(&a);
	CHECK(r > 17 && r < 20);
	for (int i = 0; i < 100000; i++)
		nact_alimit_report(&a, 0);
	CHECK(nact_alimit_rate(&a) == 100); /* ceiling */
	/* the bucket follows the rate */
	uint64_t w;
	CHECK_RV(nact_alimit_try(&a, &w));
	CHECK_ERR(nact_alimit_try(&a, &w), NACT_ELIMITED);
	CHECK_EQ_U64(w, 10 * MS);

	static const nact_alimit_opts bad[] = {
	    {.max = 0},
	    {.max = -5},
	    {.max = 10, .min = 20},
	    {.max = 10, .initial = 11},
	    {.max = 10, .min = 5, .initial = 4},
	    {.max = 10, .mult = 1},
	    {.max = 10, .mult = 1.5},
	    {.max = 10, .mult = -0.5},
	    {.max = 10, .add = -1},
	    {.max = 10, .burst = 0.5},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rv = nact_alimit_init(&a, sys, &bad[i]);
		if (rv != NACT_EINVAL)
			nt_fail(__FILE__, __LINE__, "bad opts %zu accepted (%d)", i, rv);
	}
	CHECK_ERR(nact_alimit_init(&a, sys, NULL), NACT_EINVAL);
	nact_system_close(sys, 5000);
}

/* ---- a worker: answers [v] after a delay ---- */

enum { T_WORK = 1, T_DONE = 2 };

typedef struct worker_st {
	int delay_ms;
	atomic_int inflight;
	atomic_int max_inflight;
	atomic_int requests;
	atomic_int fail_first; /* error replies before succeeding */
	int fail_code;
} worker_st;

/* Body of T_WORK: one int v. v < 0: error reply NACT_ECACHE; v == 999:
 * never answered; else reply 2 * v after delay_ms. */
static int worker(nact_ctx *ctx, nact_msg *m)
{
	worker_st *w = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (nact_msg_type(m) == T_DONE) {
		nact_reader r;
		uint64_t to = 0, corr = 0;
		int64_t v = 0;
		uint32_t n;
		if (nact_reader_init(&r, m, NULL) == 0) {
			nact_read_array(&r, &n);
			nact_read_uint(&r, &to);
			nact_read_uint(&r, &corr);
			nact_read_int(&r, &v);
			nact_reader_fini(&r);
		}
		atomic_fetch_sub(&w->inflight, 1);
		nact_msg *rep = nt_msg_int(sys, T_WORK, 2 * v);
		if (rep != NULL && nact_reply_to(sys, (nact_aid){to}, corr, rep) != 0)
			nact_msg_free(rep);
		return 0;
	}
	atomic_fetch_add(&w->requests, 1);
	int64_t v = nt_body_int(m, 0);
	if (atomic_load(&w->fail_first) > 0) {
		atomic_fetch_sub(&w->fail_first, 1);
		nact_reply_error(sys, m, w->fail_code, "flaky");
		return 0;
	}
	if (v < 0) {
		nact_reply_error(sys, m, NACT_ECACHE, "negative");
		return 0;
	}
	if (v == 999)
		return 0;
	int cur = atomic_fetch_add(&w->inflight, 1) + 1;
	int mx = atomic_load(&w->max_inflight);
	while (cur > mx && !atomic_compare_exchange_weak(&w->max_inflight, &mx, cur))
		;
	nact_pack pk;
	nact_msg *d = nt_msg_begin(sys, T_DONE, &pk);
	nact_pack_array(&pk, 3);
	nact_pack_uint(&pk, nact_msg_sender(m).v);
	nact_pack_uint(&pk, nact_msg_corr(m));
	nact_pack_int(&pk, v);
	d = nt_msg_end(d, &pk, "done");
	if (d != NULL && nact_send_after(sys, nact_self(ctx), d, w->delay_ms, NULL) != 0)
		nact_msg_free(d);
	return 0;
}

static void make_tasks(nact_system *sys, nact_aid to, const int64_t *v, size_t n, nact_task *t)
{
	for (size_t i = 0; i < n; i++) {
		t[i].to = to;
		t[i].req = nt_msg_int(sys, T_WORK, v[i]);
	}
}

static void free_results(nact_task_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nact_msg_free(r[i].reply);
}

static void test_gather_all(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	static worker_st ws;
	memset(&ws, 0, sizeof(ws));
	ws.delay_ms = 5;
	nact_aid w;
	REQUIRE_RV(nact_spawn(&w, sys, worker, &ws, NULL, NULL));

	enum { N = 12 };
	int64_t v[N];
	for (int i = 0; i < N; i++)
		v[i] = i + 1;
	nact_task t[N];
	nact_task_result res[N];
	make_tasks(sys, w, v, N, t);
	nact_gather_opts o = {.limit = 3, .timeout_ms = (int)nt_slow(WAIT_MS)};
	CHECK_RV(nact_gather(sys, t, N, &o, res));
	for (int i = 0; i < N; i++) {
		CHECK(t[i].req == NULL);
		CHECK_EQ_INT(res[i].status, 0);
		CHECK(res[i].reply != NULL);
		if (res[i].reply != NULL)
			CHECK_EQ_INT(nt_body_int(res[i].reply, -1), 2 * (i + 1));
	}
	free_results(res, N);
	CHECK(atomic_load(&ws.max_inflight) <= 3);
	CHECK(atomic_load(&ws.max_inflight) >= 1);

	/* all settled with an error reply and a task timeout */
	int64_t v2[5] = {1, -2, 999, 4, 5};
	make_tasks(sys, w, v2, 5, t);
	nact_gather_opts o2 = {.limit = 2,
	    .timeout_ms = (int)nt_slow(WAIT_MS),
	    .task_timeout_ms = 100};
	CHECK_RV(nact_gather(sys, t, 5, &o2, res));
	CHECK_EQ_INT(res[0].status, 0);
	CHECK_EQ_INT(res[1].status, NACT_ECACHE);
	CHECK(res[1].reply != NULL && nact_msg_type(res[1].reply) == NACT_T_ERROR);
	CHECK_EQ_INT(res[2].status, NACT_ETIMEDOUT);
	CHECK(res[2].reply == NULL);
	CHECK_EQ_INT(res[3].status, 0);
	CHECK_EQ_INT(res[4].status, 0);
	if (res[4].reply != NULL)
		CHECK_EQ_INT(nt_body_int(res[4].reply, -1), 10);
	free_results(res, 5);

	/* first error: the rest is cancelled */
	int64_t v3[5] = {1, 2, -3, 4, 5};
	make_tasks(sys, w, v3, 5, t);
	nact_gather_opts o3 = {.limit = 1,
	    .timeout_ms = (int)nt_slow(WAIT_MS),
	    .mode = NACT_GATHER_FIRST_ERROR};
	int before = atomic_load(&ws.requests);
	CHECK_RV(nact_gather(sys, t, 5, &o3, res));
	CHECK_EQ_INT(res[0].status, 0);
	CHECK_EQ_INT(res[1].status, 0);
	CHECK_EQ_INT(res[2].status, NACT_ECACHE);
	CHECK_EQ_INT(res[3].status, NACT_ECANCELED);
	CHECK_EQ_INT(res[4].status, NACT_ECANCELED);
	CHECK(res[3].reply == NULL);
	free_results(res, 5);
	CHECK_EQ_INT(atomic_load(&ws.requests) - before, 3); /* 4 and 5 never sent */

	/* the whole gather times out (real clock, short) */
	int64_t v4[3] = {999, 999, 1};
	make_tasks(sys, w, v4, 3, t);
	nact_gather_opts o4 = {.limit = 1, .timeout_ms = 50};
	CHECK_RV(nact_gather(sys, t, 3, &o4, res));
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(res[i].status, NACT_ETIMEDOUT);
	free_results(res, 3);

	/* a task to an actor that is not alive: its request is a dead letter,
	 * the task times out */
	nact_task d = {.to = {w.v + 1000000}, .req = nt_msg_int(sys, T_WORK, 1)};
	nact_gather_opts o5 = {.timeout_ms = 50};
	CHECK_RV(nact_gather(sys, &d, 1, &o5, res));
	CHECK_EQ_INT(res[0].status, NACT_ETIMEDOUT);

	/* bad arguments: nothing taken */
	nact_task bt = {.to = w, .req = nt_msg_int(sys, T_WORK, 1)};
	nact_task nul = {.to = w, .req = NULL};
	nact_gather_opts bo = {.timeout_ms = 100};
	nact_gather_opts zero = {.timeout_ms = 0};
	nact_gather_opts badmode = {.timeout_ms = 100, .mode = 7};
	nact_gather_opts negtask = {.timeout_ms = 100, .task_timeout_ms = -1};
	CHECK_ERR(nact_gather(NULL, &bt, 1, &bo, res), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, NULL, 1, &bo, res), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, &bt, 0, &bo, res), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, &bt, 1, NULL, res), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, &bt, 1, &zero, res), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, &bt, 1, &badmode, res), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, &bt, 1, &negtask, res), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, &bt, 1, &bo, NULL), NACT_EINVAL);
	CHECK_ERR(nact_gather(sys, &nul, 1, &bo, res), NACT_EINVAL);
	CHECK_ERR(nact_gather_start(sys, &bt, 1, &bo, NACT_AID_NONE, 0, NULL), NACT_EINVAL);
	CHECK(bt.req != NULL);
	nact_msg_free(bt.req);

	nact_system_close(sys, 5000);
}

/* Receives the NACT_T_GATHER_DONE message and checks it. */
typedef struct done_st {
	atomic_int got;
	int n;
	uint64_t tag;
	int status[8];
	int64_t val[8];
	atomic_int deadlk;
} done_st;

static int done_actor(nact_ctx *ctx, nact_msg *m)
{
	done_st *d = nact_state(ctx);
	if (nact_msg_type(m) == T_WORK) {
		/* from a handler, the blocking gather refuses */
		nact_task t = {.to = nact_self(ctx), .req = m};
		nact_task_result r;
		nact_gather_opts o = {.timeout_ms = 10};
		if (nact_gather(nact_sys(ctx), &t, 1, &o, &r) == NACT_EDEADLK)
			atomic_store(&d->deadlk, 1);
		return 0;
	}
	if (nact_msg_type(m) != NACT_T_GATHER_DONE)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < 8; i++) {
		int st;
		uint32_t type;
		const void *b;
		size_t bl;
		if (nact_gather_done_read(m, i, &d->tag, &n, &st, &type, &b, &bl) != 0)
			break;
		d->status[i] = st;
		d->val[i] = -1;
		nact_reader r;
		if (type == T_WORK && nact_reader_init_buf(&r, b, bl, NULL) == 0) {
			nact_read_int(&r, &d->val[i]);
			nact_reader_fini(&r);
		}
	}
	d->n = (int)n;
	CHECK_ERR(nact_gather_done_read(m, 99, NULL, NULL, NULL, NULL, NULL, NULL), NACT_ERANGE);
	atomic_store_explicit(&d->got, 1, memory_order_release);
	return 0;
}

static void test_gather_manual(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MANUAL));
	static worker_st ws;
	memset(&ws, 0, sizeof(ws));
	ws.delay_ms = 10;
	static done_st ds;
	memset(&ds, 0, sizeof(ds));
	nact_aid w, da;
	REQUIRE_RV(nact_spawn(&w, sys, worker, &ws, NULL, NULL));
	REQUIRE_RV(nact_spawn(&da, sys, done_actor, &ds, NULL, NULL));

	/* task 0 answers after 10 ms, task 1 never, task 2 never starts
	 * (limit 2, so it waits for a slot that frees only at the timeout) */
	int64_t v[3] = {21, 999, 999};
	nact_task t[3];
	make_tasks(sys, w, v, 3, t);
	nact_gather_opts o = {.limit = 2, .timeout_ms = 1000};
	nact_aid g;
	REQUIRE_RV(nact_gather_start(sys, t, 3, &o, da, 77, &g));
	CHECK(NT_WAIT(atomic_load(&ws.requests) == 2, WAIT_MS));
	CHECK_RV(nact_clock_advance(sys, 10 * MS));
	CHECK(NT_WAIT(atomic_load(&ws.requests) == 3, WAIT_MS)); /* slot freed */
	/* bad input to the gather actor: a request gets EBADMSG, a tick with
	 * a wrong nonce is ignored */
	nact_msg *rep = NULL, *bad = nt_msg_int(sys, NACT_T_LIMIT_TICK, 0);
	int code = 0;
	CHECK_RV(nact_send(sys, g, bad));
	bad = nt_msg_int(sys, 12345, 0);
	REQUIRE_RV(nact_call(sys, g, bad, WAIT_MS, &rep));
	CHECK(nact_error_read(rep, &code, NULL, 0) == 0 && code == NACT_EBADMSG);
	nact_msg_free(rep);
	CHECK(nact_alive(sys, g));
	CHECK(NT_STAYS_FALSE(atomic_load(&ds.got), NT_QUIET_MS));
	CHECK_RV(nact_clock_advance(sys, 990 * MS));
	CHECK(NT_WAIT(atomic_load_explicit(&ds.got, memory_order_acquire), WAIT_MS));
	CHECK_EQ_INT(ds.n, 3);
	CHECK_EQ_U64(ds.tag, 77);
	CHECK_EQ_INT(ds.status[0], 0);
	CHECK_EQ_INT(ds.val[0], 42);
	CHECK_EQ_INT(ds.status[1], NACT_ETIMEDOUT);
	CHECK_EQ_INT(ds.status[2], NACT_ETIMEDOUT);
	CHECK(NT_WAIT(!nact_alive(sys, g), WAIT_MS));

	nt_send_int(sys, da, T_WORK, 1);
	CHECK(NT_WAIT(atomic_load(&ds.deadlk), WAIT_MS));
	nact_system_close(sys, 5000);
}

/* ---- retry ---- */

static void test_backoff(void)
{
	nact_retry_opts o = {.base_delay_ms = 10, .max_delay_ms = 100};
	static const uint32_t want[] = {10, 20, 40, 80, 100, 100, 100};
	for (uint32_t a = 1; a <= 7; a++)
		CHECK_EQ_INT(nact_backoff_ms(&o, a, NULL), want[a - 1]);
	CHECK_EQ_INT(nact_backoff_ms(&o, 1000, NULL), 100); /* no overflow */
	o.jitter_pct = 50;
	uint64_t rng = 12345;
	int lo = 1000, hi = 0;
	for (int i = 0; i < 2000; i++) {
		int d = (int)nact_backoff_ms(&o, 4, &rng);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	CHECK(lo >= 40 && hi <= 80 && lo < 45 && hi > 75);
	/* defaults: 5 attempts of 1000 ms, delays 10, 20, 40, 80 */
	CHECK_EQ_U64(nact_retry_budget_ms(NULL), 5000 + 150 + 100);
}

typedef struct call_arg {
	nact_system *sys;
	nact_aid to;
	int rv;
	int code;
} call_arg;

static void caller_thread(void *arg)
{
	call_arg *ca = arg;
	nact_msg *rep = NULL, *go = nt_msg_int(ca->sys, NACT_T_RETRY_GO, 0);
	ca->rv = nact_call(ca->sys, ca->to, go, (int)nt_slow(WAIT_MS), &rep);
	if (ca->rv == 0 && nact_error_read(rep, &ca->code, NULL, 0) != 0)
		ca->code = -1;
	nact_msg_free(rep);
}

static void test_retry(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	static worker_st ws;
	memset(&ws, 0, sizeof(ws));
	ws.delay_ms = 1;
	ws.fail_code = NACT_ERESOURCE;
	nact_aid w;
	REQUIRE_RV(nact_spawn(&w, sys, worker, &ws, NULL, NULL));
	nact_retry_opts o = {.max_attempts = 5,
	    .base_delay_ms = 2,
	    .max_delay_ms = 10,
	    .jitter_pct = 50,
	    .attempt_timeout_ms = (uint32_t)nt_slow(2000)};
	nact_msg *rep = NULL;

	/* succeeds on the 4th attempt */
	atomic_store(&ws.fail_first, 3);
	atomic_store(&ws.requests, 0);
	CHECK_RV(nact_retry_call(sys, w, nt_msg_int(sys, T_WORK, 8), &o, &rep, 0));
	CHECK(rep != NULL && nact_msg_type(rep) == T_WORK);
	if (rep != NULL)
		CHECK_EQ_INT(nt_body_int(rep, -1), 16);
	nact_msg_free(rep);
	CHECK_EQ_INT(atomic_load(&ws.requests), 4);

	/* exhausted: the last error reply */
	atomic_store(&ws.fail_first, 100);
	atomic_store(&ws.requests, 0);
	rep = NULL;
	CHECK_RV(nact_retry_call(sys, w, nt_msg_int(sys, T_WORK, 8), &o, &rep, 0));
	int code = 0;
	CHECK(rep != NULL && nact_error_read(rep, &code, NULL, 0) == 0);
	CHECK_EQ_INT(code, NACT_ERESOURCE);
	nact_msg_free(rep);
	CHECK_EQ_INT(atomic_load(&ws.requests), 5);

	/* not retryable: once */
	atomic_store(&ws.fail_first, 100);
	ws.fail_code = NACT_EBADMSG;
	atomic_store(&ws.requests, 0);
	rep = NULL;
	CHECK_RV(nact_retry_call(sys, w, nt_msg_int(sys, T_WORK, 8), &o, &rep, 0));
	CHECK(rep != NULL && nact_error_read(rep, &code, NULL, 0) == 0 && code == NACT_EBADMSG);
	nact_msg_free(rep);
	CHECK_EQ_INT(atomic_load(&ws.requests), 1);
	atomic_store(&ws.fail_first, 0);

	/* timeouts are retried, then reported */
	nact_retry_opts ot = {.max_attempts = 3, .base_delay_ms = 1, .attempt_timeout_ms = 20};
	atomic_store(&ws.requests, 0);
	rep = NULL;
	CHECK_RV(nact_retry_call(sys, w, nt_msg_int(sys, T_WORK, 999), &ot, &rep,
	    (int)nt_slow(WAIT_MS)));
	CHECK(rep != NULL && nact_error_read(rep, &code, NULL, 0) == 0 && code == NACT_ETIMEDOUT);
	nact_msg_free(rep);
	CHECK_EQ_INT(atomic_load(&ws.requests), 3);

	/* the caller's deadline caps the retries: delays of 100 ms, 150 ms to
	 * go: one or two attempts, an answer before the caller gives up */
	nact_retry_opts od = {.max_attempts = 10, .base_delay_ms = 100, .max_delay_ms = 100};
	atomic_store(&ws.fail_first, 100);
	ws.fail_code = NACT_ERESOURCE;
	atomic_store(&ws.requests, 0);
	rep = NULL;
	CHECK_RV(nact_retry_call(sys, w, nt_msg_int(sys, T_WORK, 1), &od, &rep, (int)nt_slow(150)));
	CHECK(rep != NULL && nact_error_read(rep, &code, NULL, 0) == 0 && code == NACT_ERESOURCE);
	nact_msg_free(rep);
	CHECK(atomic_load(&ws.requests) <= 2 * (int)nt_slow(1));
	atomic_store(&ws.fail_first, 0);

	/* bad arguments */
	nact_aid rid;
	nact_msg *m = nt_msg_int(sys, T_WORK, 1);
	nact_retry_opts bj = {.jitter_pct = 101};
	CHECK_ERR(nact_retry_spawn(&rid, sys, NACT_AID_NONE, m, NULL), NACT_EINVAL);
	CHECK_ERR(nact_retry_spawn(&rid, NULL, w, m, NULL), NACT_EINVAL);
	CHECK_ERR(nact_retry_spawn(&rid, sys, w, NULL, NULL), NACT_EINVAL);
	CHECK_ERR(nact_retry_spawn(&rid, sys, w, m, &bj), NACT_EINVAL);
	CHECK_ERR(nact_retry_call(sys, w, m, NULL, NULL, 0), NACT_EINVAL);
	CHECK_ERR(nact_retry_call(sys, w, m, NULL, &rep, -1), NACT_EINVAL);
	nact_msg_free(m);

	/* a second request to a retry actor: EBADMSG; the first is answered */
	REQUIRE_RV(nact_retry_spawn(&rid, sys, w, nt_msg_int(sys, T_WORK, 999), &ot));
	nact_msg *go1 = nt_msg_int(sys, NACT_T_RETRY_GO, 0);
	CHECK_RV(nact_send(sys, rid, go1)); /* not a request: ignored */
	static call_arg ca;
	ca = (call_arg){.sys = sys, .to = rid};
	atomic_store(&ws.requests, 0);
	nng_thread *th;
	REQUIRE(nng_thread_create(&th, caller_thread, &ca) == 0);
	CHECK(NT_WAIT(atomic_load(&ws.requests) >= 1, WAIT_MS));
	nact_msg *go3 = nt_msg_int(sys, NACT_T_RETRY_GO, 0);
	rep = NULL;
	CHECK_RV(nact_call(sys, rid, go3, WAIT_MS, &rep));
	CHECK(rep != NULL && nact_error_read(rep, &code, NULL, 0) == 0 && code == NACT_EBADMSG);
	nact_msg_free(rep);
	nng_thread_destroy(th);
	CHECK_EQ_INT(ca.rv, 0);
	CHECK_EQ_INT(ca.code, NACT_ETIMEDOUT);

	nact_system_close(sys, 5000);
}

/* nact_retry_request from an actor. */
typedef struct rq_st {
	nact_aid target;
	atomic_int got;
	atomic_llong val;
} rq_st;

static void rq_cb(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	rq_st *s = arg;
	atomic_store(&s->val, err == 0 ? nt_body_int(reply, -1) : -err);
	atomic_store(&s->got, 1);
}

static int rq_actor(nact_ctx *ctx, nact_msg *m)
{
	rq_st *s = nact_state(ctx);
	nact_retry_opts o = {.base_delay_ms = 1};
	nact_msg *req = nt_msg_int(nact_sys(ctx), T_WORK, 50);
	if (nact_retry_request(ctx, s->target, req, &o, 0, rq_cb, s) != 0) {
		nact_msg_free(req);
		atomic_store(&s->got, -1);
	}
	return 0;
}

static void test_retry_request(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	static worker_st ws;
	memset(&ws, 0, sizeof(ws));
	ws.delay_ms = 1;
	ws.fail_code = NACT_ERESOURCE;
	atomic_store(&ws.fail_first, 2);
	static rq_st rs;
	memset(&rs, 0, sizeof(rs));
	nact_aid w, a;
	REQUIRE_RV(nact_spawn(&w, sys, worker, &ws, NULL, NULL));
	rs.target = w;
	REQUIRE_RV(nact_spawn(&a, sys, rq_actor, &rs, NULL, NULL));
	nt_send_int(sys, a, 1, 0);
	CHECK(NT_WAIT(atomic_load(&rs.got) != 0, WAIT_MS));
	CHECK_EQ_INT(atomic_load(&rs.got), 1);
	CHECK_EQ_INT(atomic_load(&rs.val), 100);
	CHECK_EQ_INT(atomic_load(&ws.requests), 3);
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_rate), NT_CASE(test_climit), NT_CASE(test_alimit), NT_CASE(test_gather_all),
    NT_CASE(test_gather_manual), NT_CASE(test_backoff), NT_CASE(test_retry),
    NT_CASE(test_retry_request))
