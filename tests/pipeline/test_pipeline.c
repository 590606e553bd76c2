/*
 * tests/pipeline/test_pipeline.c — pipelines (include/nactor/pipeline.h).
 *
 * Contract checked here:
 *  - each stage kind transforms items as documented: map (0..n outputs),
 *    filter, batch(n) and sliding window(size, slide) including the
 *    partial batch/window flushed at end of stream, time batch on the
 *    system clock (a manual clock drives it), parallel map with a
 *    concurrency limit, ordered and unordered;
 *  - error policies: skip and count, retry with backoff on the system
 *    clock then fail or skip, fail (NACT_ESTAGE naming stage and item);
 *  - completion is reported to the callback, a notify actor and
 *    nact_pipeline_wait, after the sink saw end of stream, and no actor
 *    of the pipeline is left;
 *  - the operation is completed/failed, and cancelling it through the
 *    registry mid-stream stops everything (result NACT_ECANCELED);
 *  - a crashed stage fails the pipeline, nothing hangs;
 *  - feeding from a thread (blocking push with timeout) and from an actor
 *    (NACT_EFULL then NACT_T_PL_READY);
 *  - backpressure: a fast producer against a slow stage keeps the items in
 *    flight under the sum of the windows, and peak RSS bounded;
 *  - bad messages to every actor of a pipeline are counted and dropped
 *    (requests get NACT_EBADMSG) and the pipeline still completes.
 */
#include "testutil.h"

#include <nactor/pipeline.h>

#define LONG_MS 20000

/* ---- helpers ---- */

static int rd_int(const void *b, size_t len, int64_t *v)
{
	nact_reader r;
	int rv = nact_reader_init_buf(&r, b, len, NULL);
	if (rv == 0)
		rv = nact_read_int(&r, v);
	nact_reader_fini(&r);
	return rv;
}

static int emit_int(nact_pl_out *out, int64_t v)
{
	nact_pack *pk;
	int rv = nact_pl_emit(out, &pk);
	if (rv == 0)
		nact_pack_int(pk, v);
	return rv;
}

/* A sink that records ints, or arrays of ints as (len, elems...) flattened
 * into `vals` with a -1 separator. */
#define SINK_MAX 4096
struct rec {
	int64_t vals[SINK_MAX];
	_Atomic int n;
	_Atomic int ends;
	int arrays;
};

static int rec_sink(void *arg, const void *b, size_t len)
{
	struct rec *r = arg;
	int n = atomic_load(&r->n);
	if (!r->arrays) {
		int64_t v;
		if (rd_int(b, len, &v) != 0)
			return NACT_EBADMSG;
		if (n < SINK_MAX)
			r->vals[n++] = v;
	} else {
		nact_reader rd;
		uint32_t cnt;
		int64_t v;
		if (nact_reader_init_buf(&rd, b, len, NULL) != 0)
			return NACT_EBADMSG;
		if (nact_read_array(&rd, &cnt) == 0)
			while (nact_read_int(&rd, &v) == 0 && n < SINK_MAX)
				r->vals[n++] = v;
		nact_reader_fini(&rd);
		if (n < SINK_MAX)
			r->vals[n++] = -1;
	}
	atomic_store(&r->n, n);
	return 0;
}

static int rec_end(void *arg, nact_pl_out *out)
{
	struct rec *r = arg;
	(void)out;
	atomic_fetch_add(&r->ends, 1);
	return 0;
}

static nact_pl_stage rec_stage(struct rec *r)
{
	nact_pl_stage s = nact_pl_sink("rec", rec_sink, r);
	s.flush = rec_end;
	return s;
}

/* A source of ints 0..limit-1. */
struct gen {
	int64_t next, limit;
};

static int gen_fn(void *arg, nact_pl_out *out, int *done)
{
	struct gen *g = arg;
	if (g->next < g->limit) {
		int rv = emit_int(out, g->next);
		if (rv != 0)
			return rv;
		g->next++;
	}
	if (g->next >= g->limit)
		*done = 1;
	return 0;
}

static int double_fn(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	int64_t v;
	(void)arg;
	if (rd_int(b, len, &v) != 0)
		return NACT_EBADMSG;
	return emit_int(out, v * 2);
}

/* 0..n outputs: v copies of v (max 3) */
static int fan_fn(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	int64_t v;
	(void)arg;
	if (rd_int(b, len, &v) != 0)
		return NACT_EBADMSG;
	for (int64_t i = 0; i < v % 4; i++)
		if (nact_pl_emit_raw(out, b, len) != 0)
			return NACT_ENOMEM;
	return 0;
}

static int even_fn(void *arg, const void *b, size_t len, int *keep)
{
	int64_t v;
	(void)arg;
	if (rd_int(b, len, &v) != 0)
		return NACT_EBADMSG;
	*keep = v % 2 == 0;
	return 0;
}

static nact_msg *int_msg(nact_system *sys, int64_t v)
{
	nact_pack pk;
	nact_msg *m = nt_msg_begin(sys, 1, &pk);
	if (m != NULL)
		nact_pack_int(&pk, v);
	return m;
}

static uint64_t live_actors(nact_system *sys)
{
	nact_stats st;
	nact_system_stats(sys, &st);
	return st.live;
}

/* ---- stage kinds ---- */

static void test_map_filter_thread_feed(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static struct rec r;
	memset(&r, 0, sizeof(r));
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	uint64_t live0 = live_actors(sys);
	nact_pl_stage st[] = {nact_pl_map("fan", fan_fn, NULL),
	    nact_pl_filter("even", even_fn, NULL), nact_pl_map("double", double_fn, NULL),
	    rec_stage(&r)};
	st[0].window = 4;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 4, NULL));
	CHECK_ERR(nact_pipeline_push(NULL, pl, NULL), NACT_EINVAL);
	for (int i = 0; i < 100; i++) {
		nact_msg *m = int_msg(sys, i);
		REQUIRE(m != NULL);
		CHECK_RV(nact_pipeline_push_wait(pl, m, LONG_MS));
	}
	CHECK_RV(nact_pipeline_end(pl));
	CHECK_ERR(nact_pipeline_end(pl), NACT_ESTATE);
	nact_msg *late = int_msg(sys, 1);
	CHECK_ERR(nact_pipeline_push_wait(pl, late, 10), NACT_ESTATE);
	nact_msg_free(late);
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, 0);
	/* fan: v%4 copies; even: keep v even; double */
	int k = 0, ok = 1;
	for (int i = 0; i < 100; i++)
		if (i % 2 == 0)
			for (int c = 0; c < i % 4; c++)
				ok &= k < atomic_load(&r.n) && r.vals[k++] == 2 * i;
	CHECK(ok);
	CHECK_EQ_INT(atomic_load(&r.n), k);
	CHECK_EQ_U64(res.items, (uint64_t)k);
	CHECK_EQ_INT(atomic_load(&r.ends), 1);
	nact_pl_stats s;
	CHECK_RV(nact_pipeline_stats(pl, 0, &s));
	CHECK_EQ_U64(s.in, 100);
	CHECK_ERR(nact_pipeline_stats(pl, 4, &s), NACT_EINVAL);
	CHECK(NT_WAIT(live_actors(sys) == live0, NT_LONG_MS)); /* the controller ends last */
	nact_op_info oi;
	CHECK_RV(nact_op_get(sys, nact_pipeline_opid(pl), &oi));
	CHECK_EQ_INT(oi.status, NACT_OP_COMPLETED);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

static int run_src(nact_system *sys, nact_pl_stage *st, size_t n, nact_pl_result *res)
{
	nact_pipeline *pl;
	int rv = nact_pipeline_start(&pl, sys, st, n, NULL);
	if (rv != 0)
		return rv;
	rv = nact_pipeline_wait(pl, LONG_MS, res);
	nact_pipeline_free(pl);
	return rv;
}

static int vals_eq(struct rec *r, const int64_t *want, int n)
{
	if (atomic_load(&r->n) != n) {
		fprintf(stderr, "  got %d values, want %d:", atomic_load(&r->n), n);
		for (int i = 0; i < atomic_load(&r->n) && i < 40; i++)
			fprintf(stderr, " %lld", (long long)r->vals[i]);
		fprintf(stderr, "\n");
		return 0;
	}
	for (int i = 0; i < n; i++)
		if (r->vals[i] != want[i]) {
			fprintf(stderr, "  value %d: got %lld want %lld\n", i,
			    (long long)r->vals[i], (long long)want[i]);
			return 0;
		}
	return 1;
}

static void test_batch_flush(void)
{
	nact_system *sys;
	nact_pl_result res;
	static struct rec r;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	/* 10 items in batches of 3: the last batch is the partial [9] */
	memset(&r, 0, sizeof(r));
	r.arrays = 1;
	struct gen g = {0, 10};
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g), nact_pl_batch("b3", 3),
	    rec_stage(&r)};
	REQUIRE_RV(run_src(sys, st, 3, &res));
	CHECK_EQ_INT(res.code, 0);
	static const int64_t want[] = {0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, -1};
	CHECK(vals_eq(&r, want, 14));
	CHECK_EQ_U64(res.items, 4);
	/* an exact multiple: no empty batch at the end */
	memset(&r, 0, sizeof(r));
	r.arrays = 1;
	g = (struct gen){0, 6};
	REQUIRE_RV(run_src(sys, st, 3, &res));
	static const int64_t want2[] = {0, 1, 2, -1, 3, 4, 5, -1};
	CHECK(vals_eq(&r, want2, 8));
	nact_system_close(sys, 5000);
}

static void test_window(void)
{
	nact_system *sys;
	nact_pl_result res;
	static struct rec r;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	struct gen g;
	/* size 3, slide 1 over 5 items */
	memset(&r, 0, sizeof(r));
	r.arrays = 1;
	g = (struct gen){0, 5};
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g), nact_pl_window("w", 3, 1),
	    rec_stage(&r)};
	REQUIRE_RV(run_src(sys, st, 3, &res));
	static const int64_t w1[] = {0, 1, 2, -1, 1, 2, 3, -1, 2, 3, 4, -1};
	CHECK(vals_eq(&r, w1, 12));
	/* size 4, slide 2 over 7 items: [0..3] [2..5], then the flush [3..6] */
	memset(&r, 0, sizeof(r));
	r.arrays = 1;
	g = (struct gen){0, 7};
	st[1] = nact_pl_window("w", 4, 2);
	REQUIRE_RV(run_src(sys, st, 3, &res));
	static const int64_t w2[] = {0, 1, 2, 3, -1, 2, 3, 4, 5, -1, 3, 4, 5, 6, -1};
	CHECK(vals_eq(&r, w2, 15));
	/* a window never filled: the partial one at the end */
	memset(&r, 0, sizeof(r));
	r.arrays = 1;
	g = (struct gen){0, 3};
	st[1] = nact_pl_window("w", 5, 1);
	REQUIRE_RV(run_src(sys, st, 3, &res));
	static const int64_t w3[] = {0, 1, 2, -1};
	CHECK(vals_eq(&r, w3, 4));
	/* empty stream: nothing emitted, still completes */
	memset(&r, 0, sizeof(r));
	r.arrays = 1;
	g = (struct gen){0, 0};
	REQUIRE_RV(run_src(sys, st, 3, &res));
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_INT(atomic_load(&r.n), 0);
	CHECK_EQ_INT(atomic_load(&r.ends), 1);
	nact_system_close(sys, 5000);
}

static void test_time_batch_manual_clock(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static struct rec r;
	memset(&r, 0, sizeof(r));
	r.arrays = 1;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MANUAL));
	nact_pl_stage st[] = {nact_pl_time_batch("tb", 1000, 4), rec_stage(&r)};
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 2, NULL));
	for (int i = 0; i < 3; i++)
		CHECK_RV(nact_pipeline_push_wait(pl, int_msg(sys, i), LONG_MS));
	nact_pl_stats s;
	CHECK(NT_WAIT(nact_pipeline_stats(pl, 0, &s) == 0 && s.in == 3, NT_LONG_MS));
	/* no time has passed: nothing emitted */
	CHECK(NT_STAYS_FALSE(atomic_load(&r.n) > 0, NT_QUIET_MS));
	CHECK_RV(nact_clock_advance(sys, 999000000ull));
	CHECK(NT_STAYS_FALSE(atomic_load(&r.n) > 0, NT_QUIET_MS));
	CHECK_RV(nact_clock_advance(sys, 1000000ull));
	CHECK(NT_WAIT(atomic_load(&r.n) == 4, NT_LONG_MS));
	/* cap: 6 more items -> a batch of 4 at once, 2 left for the flush */
	for (int i = 3; i < 9; i++)
		CHECK_RV(nact_pipeline_push_wait(pl, int_msg(sys, i), LONG_MS));
	CHECK(NT_WAIT(atomic_load(&r.n) == 9, NT_LONG_MS));
	CHECK_RV(nact_pipeline_end(pl));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, 0);
	static const int64_t want[] = {0, 1, 2, -1, 3, 4, 5, 6, -1, 7, 8, -1};
	CHECK(vals_eq(&r, want, 12));
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* pmap: slow for small values so outputs come back out of order */
struct pm {
	_Atomic int cur, max, calls;
	int fail_at;
};

static int pm_fn(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	struct pm *p = arg;
	int64_t v;
	if (rd_int(b, len, &v) != 0)
		return NACT_EBADMSG;
	int c = atomic_fetch_add(&p->cur, 1) + 1;
	int m = atomic_load(&p->max);
	while (c > m && !atomic_compare_exchange_weak(&p->max, &m, c))
		;
	atomic_fetch_add(&p->calls, 1);
	if (v % 8 == 0)
		nng_msleep(3);
	atomic_fetch_sub(&p->cur, 1);
	if (p->fail_at >= 0 && v == p->fail_at)
		return NACT_ERANGE;
	return emit_int(out, v + 1000);
}

static void test_pmap(void)
{
	nact_system *sys;
	nact_pl_result res;
	static struct rec r;
	static struct pm p;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	for (int ordered = 1; ordered >= 0; ordered--) {
		memset(&r, 0, sizeof(r));
		memset(&p, 0, sizeof(p));
		p.fail_at = -1;
		struct gen g = {0, 200};
		nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g),
		    nact_pl_pmap("pm", pm_fn, &p, 3, ordered), rec_stage(&r)};
		REQUIRE_RV(run_src(sys, st, 3, &res));
		CHECK_EQ_INT(res.code, 0);
		CHECK_EQ_INT(atomic_load(&r.n), 200);
		CHECK(atomic_load(&p.max) <= 3);
		int inorder = 1;
		char seen[200] = {0};
		for (int i = 0; i < atomic_load(&r.n); i++) {
			int64_t v = r.vals[i] - 1000;
			inorder &= v == i;
			if (v >= 0 && v < 200)
				seen[v]++;
		}
		int all = 1;
		for (int i = 0; i < 200; i++)
			all &= seen[i] == 1;
		CHECK(all);
		if (ordered)
			CHECK(inorder);
		printf("  pmap ordered=%d: max concurrency %d, in order %d\n", ordered,
		    atomic_load(&p.max), inorder);
	}
	/* fail policy in a pmap: NACT_ESTAGE with the item index */
	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	p.fail_at = 50;
	struct gen g = {0, 200};
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g),
	    nact_pl_pmap("pm", pm_fn, &p, 4, 1), rec_stage(&r)};
	REQUIRE_RV(run_src(sys, st, 3, &res));
	CHECK_EQ_INT(res.code, NACT_ESTAGE);
	CHECK_EQ_INT(res.stage, 1);
	CHECK_EQ_INT(res.item, 50);
	CHECK(strstr(res.message, "'pm'") != NULL);
	/* skip policy: 199 items */
	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	p.fail_at = 50;
	g = (struct gen){0, 200};
	st[1].policy = NACT_PL_SKIP;
	REQUIRE_RV(run_src(sys, st, 3, &res));
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_INT(atomic_load(&r.n), 199);
	nact_system_close(sys, 5000);
}

/* ---- error policies ---- */

struct flaky {
	int64_t bad;       /* item that fails */
	int fails_left;    /* failures before it succeeds (-1 = always) */
	_Atomic int calls; /* calls for the bad item */
};

static int flaky_fn(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	struct flaky *f = arg;
	int64_t v;
	if (rd_int(b, len, &v) != 0)
		return NACT_EBADMSG;
	if (v % 7 == f->bad || v == f->bad) {
		if (v == f->bad)
			atomic_fetch_add(&f->calls, 1);
		if (f->fails_left != 0) {
			if (f->fails_left > 0 && v == f->bad)
				f->fails_left--;
			return NACT_ERANGE;
		}
	}
	return emit_int(out, v);
}

static void test_policies(void)
{
	nact_system *sys;
	nact_pl_result res;
	static struct rec r;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));

	/* fail: item 13 */
	memset(&r, 0, sizeof(r));
	struct flaky f = {13, -1, 0};
	struct gen g = {0, 50};
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g), nact_pl_map("flaky", flaky_fn, &f),
	    rec_stage(&r)};
	REQUIRE_RV(run_src(sys, st, 3, &res));
	CHECK_EQ_INT(res.code, NACT_ESTAGE);
	CHECK_EQ_INT(res.stage, 1);
	CHECK_EQ_INT(res.item, 13);
	CHECK(strstr(res.message, "stage 'flaky' failed on item 13") != NULL);
	printf("  fail: %s\n", res.message);
	CHECK_EQ_INT(atomic_load(&r.ends), 0); /* no end of stream after a failure */

	/* skip: items 13 fails, counted */
	memset(&r, 0, sizeof(r));
	f = (struct flaky){13, -1, 0};
	g = (struct gen){0, 50};
	st[1].policy = NACT_PL_SKIP;
	nact_pipeline *pl;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 3, NULL));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_INT(atomic_load(&r.n), 49);
	nact_pl_stats s;
	CHECK_RV(nact_pipeline_stats(pl, 1, &s));
	CHECK_EQ_U64(s.skipped, 1);
	CHECK_EQ_U64(s.in, 50);
	CHECK_EQ_U64(s.out, 49);
	nact_pipeline_free(pl);

	/* retry: fails twice then succeeds */
	memset(&r, 0, sizeof(r));
	f = (struct flaky){13, 2, 0};
	g = (struct gen){0, 50};
	st[1].policy = NACT_PL_RETRY;
	st[1].retries = 3;
	st[1].backoff_ms = 2;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 3, NULL));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_INT(atomic_load(&r.n), 50);
	CHECK_EQ_INT(atomic_load(&f.calls), 3);
	CHECK_RV(nact_pipeline_stats(pl, 1, &s));
	CHECK_EQ_U64(s.retries, 2);
	int inorder = 1;
	for (int i = 0; i < 50; i++)
		inorder &= r.vals[i] == i;
	CHECK(inorder);
	nact_pipeline_free(pl);

	/* retry exhausted, then fail */
	memset(&r, 0, sizeof(r));
	f = (struct flaky){13, -1, 0};
	g = (struct gen){0, 50};
	REQUIRE_RV(run_src(sys, st, 3, &res));
	CHECK_EQ_INT(res.code, NACT_ESTAGE);
	CHECK_EQ_INT(res.item, 13);
	CHECK_EQ_INT(atomic_load(&f.calls), 4);

	/* retry exhausted, then skip */
	memset(&r, 0, sizeof(r));
	f = (struct flaky){13, -1, 0};
	g = (struct gen){0, 50};
	st[1].then = NACT_PL_SKIP;
	REQUIRE_RV(run_src(sys, st, 3, &res));
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_INT(atomic_load(&r.n), 49);
	nact_system_close(sys, 5000);
}

/* The backoff runs on the system clock: with a manual clock the retry
 * waits for nact_clock_advance. */
static void test_retry_manual_clock(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static struct rec r;
	memset(&r, 0, sizeof(r));
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MANUAL));
	struct flaky f = {5, 1, 0};
	nact_pl_stage st[] = {nact_pl_map("flaky", flaky_fn, &f), rec_stage(&r)};
	st[0].policy = NACT_PL_RETRY;
	st[0].retries = 1;
	st[0].backoff_ms = 500;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 2, NULL));
	CHECK_RV(nact_pipeline_push_wait(pl, int_msg(sys, 5), LONG_MS));
	CHECK_RV(nact_pipeline_push_wait(pl, int_msg(sys, 6), LONG_MS));
	CHECK(NT_WAIT(atomic_load(&f.calls) == 1, NT_LONG_MS));
	CHECK(NT_STAYS_FALSE(atomic_load(&r.n) > 0, NT_QUIET_MS));
	CHECK_RV(nact_clock_advance(sys, 500000000ull));
	CHECK(NT_WAIT(atomic_load(&r.n) == 2, NT_LONG_MS));
	CHECK_EQ_INT(r.vals[0], 5);
	CHECK_EQ_INT(r.vals[1], 6);
	CHECK_RV(nact_pipeline_end(pl));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, 0);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* ---- completion reporting ---- */

struct donecb {
	_Atomic int calls;
	_Atomic int code;
	_Atomic int sink_ends_at_call;
	struct rec *r;
};

static void done_cb(void *arg, const nact_pl_result *res)
{
	struct donecb *d = arg;
	atomic_store(&d->sink_ends_at_call, atomic_load(&d->r->ends));
	atomic_store(&d->code, res->code);
	atomic_fetch_add(&d->calls, 1);
}

struct watcher {
	_Atomic int got;
	_Atomic int64_t code, items;
};

static int watcher_fn(nact_ctx *ctx, nact_msg *m)
{
	struct watcher *w = nact_state(ctx);
	if (nact_msg_type(m) != NACT_T_PL_DONE)
		return 0;
	nact_reader r;
	uint32_t n;
	int64_t code, stage, item;
	uint64_t items;
	const char *s;
	size_t sl;
	if (nact_reader_init(&r, m, NULL) == 0 && nact_read_array(&r, &n) == 0 && n == 5 &&
	    nact_read_int(&r, &code) == 0 && nact_read_str(&r, &s, &sl) == 0 &&
	    nact_read_int(&r, &stage) == 0 && nact_read_int(&r, &item) == 0 &&
	    nact_read_uint(&r, &items) == 0) {
		atomic_store(&w->code, code);
		atomic_store(&w->items, (int64_t)items);
		atomic_fetch_add(&w->got, 1);
	}
	nact_reader_fini(&r);
	return 0;
}

static void test_completion(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static struct rec r;
	static struct watcher w;
	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid wid;
	REQUIRE_RV(nact_spawn(&wid, sys, watcher_fn, &w, NULL, NULL));
	struct donecb d = {0, -1, -1, &r};
	struct gen g = {0, 1000};
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g), nact_pl_batch("b", 7),
	    rec_stage(&r)};
	r.arrays = 1;
	nact_pipeline_opts o = {0};
	o.name = "test-pipeline";
	o.done = done_cb;
	o.done_arg = &d;
	o.notify = wid;
	o.expected_items = 143;
	o.progress_every = 10;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 3, &o));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK(nact_pipeline_done(pl));
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_U64(res.items, 143); /* 142 batches of 7 + the partial of 6 */
	CHECK_EQ_INT(atomic_load(&d.calls), 1);
	CHECK_EQ_INT(atomic_load(&d.code), 0);
	CHECK_EQ_INT(atomic_load(&d.sink_ends_at_call), 1); /* sink saw EOS first */
	CHECK(NT_WAIT(atomic_load(&w.got) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&w.code), 0);
	CHECK_EQ_INT(atomic_load(&w.items), 143);
	nact_op_info oi;
	CHECK_RV(nact_op_get(sys, nact_pipeline_opid(pl), &oi));
	CHECK_EQ_INT(oi.status, NACT_OP_COMPLETED);
	CHECK_STR(oi.name, "test-pipeline");
	CHECK(oi.progress == 1.0);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* ---- cancel through the registry ---- */

static int slow_sink(void *arg, const void *b, size_t len)
{
	_Atomic int *n = arg;
	(void)b;
	(void)len;
	if (atomic_fetch_add(n, 1) % 16 == 0)
		nng_msleep(1);
	return 0;
}

static void test_cancel_registry(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static _Atomic int n;
	atomic_store(&n, 0);
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	uint64_t live0 = live_actors(sys);
	struct gen g = {0, INT64_MAX};
	static struct pm p;
	memset(&p, 0, sizeof(p));
	p.fail_at = -1;
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g), nact_pl_map("x2", double_fn, NULL),
	    nact_pl_pmap("pm", pm_fn, &p, 2, 1), nact_pl_window("w", 4, 2),
	    nact_pl_sink("slow", slow_sink, (void *)&n)};
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 5, NULL));
	CHECK(NT_WAIT(atomic_load(&n) > 100, NT_LONG_MS));
	CHECK_RV(nact_op_cancel(sys, nact_pipeline_opid(pl), NACT_CANCEL_MANUAL, "test"));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, NACT_ECANCELED);
	CHECK(NT_WAIT(live_actors(sys) == live0, NT_LONG_MS)); /* the controller ends last */
	nact_op_info oi;
	CHECK_RV(nact_op_get(sys, nact_pipeline_opid(pl), &oi));
	CHECK_EQ_INT(oi.status, NACT_OP_CANCELLED);
	int at = atomic_load(&n);
	CHECK(NT_STAYS_FALSE(atomic_load(&n) != at, NT_QUIET_MS));
	CHECK_ERR(nact_pipeline_cancel(pl), NACT_ESTATE);
	nact_pipeline_free(pl);

	/* nact_pipeline_free of a running pipeline cancels it */
	g = (struct gen){0, INT64_MAX};
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 5, NULL));
	nact_opid op = nact_pipeline_opid(pl);
	nact_pipeline_free(pl);
	CHECK(NT_WAIT(live_actors(sys) == live0, NT_LONG_MS));
	CHECK_RV(nact_op_get(sys, op, &oi));
	CHECK_EQ_INT(oi.status, NACT_OP_CANCELLED);
	nact_system_close(sys, 5000);
}

/* ---- a stage that crashes ---- */

static int sleepy_fn(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	int64_t v;
	(void)arg;
	if (rd_int(b, len, &v) != 0)
		return NACT_EBADMSG;
	if (v == 3)
		nng_msleep(200);
	return emit_int(out, v);
}

static void test_stage_crash(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static _Atomic int n;
	atomic_store(&n, 0);
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	uint64_t live0 = live_actors(sys);
	struct gen g = {0, INT64_MAX};
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g), nact_pl_map("x2", double_fn, NULL),
	    nact_pl_sink("slow", slow_sink, (void *)&n)};
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 3, NULL));
	CHECK(NT_WAIT(atomic_load(&n) > 50, NT_LONG_MS));
	CHECK_RV(nact_kill(sys, nact_pipeline_stage_aid(pl, 1)));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, NACT_ESTAGE);
	CHECK_EQ_INT(res.stage, 1);
	CHECK(strstr(res.message, "'x2'") != NULL);
	printf("  crash: %s\n", res.message);
	CHECK(NT_WAIT(live_actors(sys) == live0, NT_LONG_MS)); /* the controller ends last */
	nact_op_info oi;
	CHECK_RV(nact_op_get(sys, nact_pipeline_opid(pl), &oi));
	CHECK_EQ_INT(oi.status, NACT_OP_FAILED);
	nact_pipeline_free(pl);

	/* a pmap worker killed */
	static struct pm p;
	memset(&p, 0, sizeof(p));
	p.fail_at = -1;
	g = (struct gen){0, INT64_MAX};
	atomic_store(&n, 0);
	st[1] = nact_pl_pmap("pm", pm_fn, &p, 2, 0);
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 3, NULL));
	CHECK(NT_WAIT(atomic_load(&n) > 50, NT_LONG_MS));
	/* the controller stopped: every stage and worker ends too (nothing is
	 * left running), but nobody reports: wait times out */
	CHECK_RV(nact_stop(sys, nact_pipeline_controller(pl)));
	CHECK(NT_WAIT(live_actors(sys) == live0, NT_LONG_MS));
	CHECK_ERR(nact_pipeline_wait(pl, 50, &res), NACT_ETIMEDOUT);
	nact_pipeline_free(pl); /* still cancels the operation */

	/* a handler past its deadline ends the stage: the pipeline fails */
	g = (struct gen){0, 100};
	atomic_store(&n, 0);
	st[1] = nact_pl_map("sleepy", sleepy_fn, NULL);
	st[1].handler_deadline_ms = 20;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 3, NULL));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, NACT_ESTAGE);
	CHECK_EQ_INT(res.stage, 1);
	CHECK(strstr(res.message, "'sleepy'") != NULL);
	printf("  deadline: %s\n", res.message);
	CHECK(NT_WAIT(live_actors(sys) == live0, NT_LONG_MS));
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* ---- feeding from an actor ---- */

struct feeder {
	nact_pipeline *pl;
	int64_t next, limit;
	_Atomic int efull, ready, finished;
};

static int feeder_fn(nact_ctx *ctx, nact_msg *m)
{
	struct feeder *f = nact_state(ctx);
	uint32_t t = nact_msg_type(m);
	if (t == NACT_T_PL_READY)
		atomic_fetch_add(&f->ready, 1);
	if (t != NACT_T_PL_READY && t != 77)
		return 0;
	while (f->next < f->limit) {
		nact_msg *it = int_msg(nact_sys(ctx), f->next);
		int rv = nact_pipeline_push(ctx, f->pl, it);
		if (rv == NACT_EFULL) {
			nact_msg_free(it);
			atomic_fetch_add(&f->efull, 1);
			return 0; /* READY will come */
		}
		if (rv != 0) {
			nact_msg_free(it);
			return rv;
		}
		f->next++;
	}
	if (!atomic_load(&f->finished)) {
		atomic_store(&f->finished, 1);
		nact_pipeline_end(f->pl);
	}
	return 0;
}

static void test_actor_feed(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static _Atomic int n;
	atomic_store(&n, 0);
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_pl_stage st[] = {nact_pl_map("x2", double_fn, NULL),
	    nact_pl_sink("slow", slow_sink, (void *)&n)};
	st[0].window = 8;
	st[1].window = 8;
	nact_pipeline_opts o = {0};
	o.count_inflight = 1;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 2, &o));
	static struct feeder f;
	memset(&f, 0, sizeof(f));
	f.pl = pl;
	f.limit = 2000;
	nact_aid fid;
	REQUIRE_RV(nact_spawn(&fid, sys, feeder_fn, &f, NULL, NULL));
	nact_msg *go;
	REQUIRE_RV(nact_msg_alloc(&go, sys, 77));
	REQUIRE_RV(nact_send(sys, fid, go));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_U64(res.items, 2000);
	CHECK(atomic_load(&f.efull) > 0);
	CHECK(atomic_load(&f.ready) > 0);
	int64_t now, peak;
	nact_pipeline_inflight(pl, &now, &peak);
	CHECK_EQ_INT(now, 0);
	CHECK(peak <= 16 + 2);
	printf("  actor feed: %d EFULL, %d READY, peak in flight %lld\n", atomic_load(&f.efull),
	    atomic_load(&f.ready), (long long)peak);
	/* a thread push from a handler is refused, from outside it is fine */
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* An actor waiting for room is told when the pipeline ends: READY, then
 * its push returns the result code. */
struct waiter {
	nact_pipeline *pl;
	_Atomic int efull, ready, last_rv;
};

static int waiter_fn(nact_ctx *ctx, nact_msg *m)
{
	struct waiter *w = nact_state(ctx);
	uint32_t t = nact_msg_type(m);
	if (t == NACT_T_PL_READY)
		atomic_fetch_add(&w->ready, 1);
	else if (t != 77)
		return 0;
	for (;;) {
		nact_msg *it = int_msg(nact_sys(ctx), 1);
		int rv = nact_pipeline_push(ctx, w->pl, it);
		atomic_store(&w->last_rv, rv);
		if (rv == 0)
			continue;
		nact_msg_free(it);
		if (rv == NACT_EFULL)
			atomic_fetch_add(&w->efull, 1);
		return 0;
	}
}

static int stuck_sink(void *arg, const void *b, size_t len);

static void test_ready_on_cancel(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static _Atomic int release;
	static struct waiter w;
	atomic_store(&release, 0);
	memset(&w, 0, sizeof(w));
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_pl_stage st[] = {nact_pl_map("x2", double_fn, NULL),
	    nact_pl_sink("stuck", stuck_sink, (void *)&release)};
	st[0].window = 2;
	st[1].window = 2;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 2, NULL));
	w.pl = pl;
	nact_aid wid;
	REQUIRE_RV(nact_spawn(&wid, sys, waiter_fn, &w, NULL, NULL));
	nact_msg *go;
	REQUIRE_RV(nact_msg_alloc(&go, sys, 77));
	REQUIRE_RV(nact_send(sys, wid, go));
	/* it pushes until the sink is stuck: then its last EFULL gets no READY
	 * and nothing moves (wait for two equal snapshots) */
	int r0 = -1;
	for (int k = 0; k < 500 && r0 < 0; k++) {
		int e = atomic_load(&w.efull), r = atomic_load(&w.ready);
		nng_msleep(20);
		if (e >= 1 && e == atomic_load(&w.efull) && r == atomic_load(&w.ready))
			r0 = r;
	}
	REQUIRE(r0 >= 0);
	CHECK_EQ_INT(atomic_load(&w.efull), r0 + 1);
	CHECK_RV(nact_pipeline_cancel(pl));
	atomic_store(&release, 1); /* let the sink's handler return */
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, NACT_ECANCELED);
	CHECK(NT_WAIT(atomic_load(&w.ready) > r0, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&w.last_rv) == NACT_ECANCELED, NT_LONG_MS));
	nact_stop(sys, wid);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* ---- backpressure ---- */

/* Peak RSS limit for the backpressure test: fixed, independent of the item
 * count. Sanitizer runtimes keep freed memory in quarantine (ASan) or
 * shadow it (TSan), so there the limit is loose and the in-flight count
 * is the real check. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_LIMIT_KB (3L * 1024 * 1024)
#else
#define RSS_LIMIT_KB (128L * 1024)
#endif

static long vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

struct slowmap {
	uint64_t n;
};

static int slow_map(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	struct slowmap *s = arg;
	if (++s->n % 2000 == 0)
		nng_msleep(1);
	return nact_pl_emit_raw(out, b, len);
}

struct counter {
	uint64_t n, sum;
};

static int count_sink(void *arg, const void *b, size_t len)
{
	struct counter *c = arg;
	int64_t v;
	if (rd_int(b, len, &v) != 0)
		return NACT_EBADMSG;
	c->n++;
	c->sum += (uint64_t)v;
	return 0;
}

static void test_backpressure(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	long total = nt_scaled(2000000);
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	long rss0 = vm_hwm_kb();
	struct gen g = {0, total};
	struct slowmap sm = {0};
	struct counter c = {0, 0};
	nact_pl_stage st[] = {nact_pl_source("gen", gen_fn, &g), nact_pl_map("x2", double_fn, NULL),
	    nact_pl_map("slow", slow_map, &sm), nact_pl_sink("count", count_sink, &c)};
	uint32_t windows = 0;
	for (int i = 1; i < 4; i++) {
		st[i].window = 32 * (uint32_t)i;
		windows += st[i].window;
	}
	nact_pipeline_opts o = {0};
	o.count_inflight = 1;
	uint64_t t0 = nt_now_ms();
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 4, &o));
	REQUIRE_RV(nact_pipeline_wait(pl, 120000, &res));
	uint64_t ms = nt_now_ms() - t0;
	CHECK_EQ_INT(res.code, 0);
	CHECK_EQ_U64(c.n, (uint64_t)total);
	CHECK_EQ_U64(c.sum, (uint64_t)total * (uint64_t)(total - 1)); /* 2 * sum(0..n-1) */
	int64_t now, peak;
	nact_pipeline_inflight(pl, &now, &peak);
	long rss1 = vm_hwm_kb();
	printf("  backpressure: %ld items in %llu ms, peak in flight %lld (bound %u), VmHWM %ld -> "
	       "%ld kB\n",
	    total, (unsigned long long)ms, (long long)peak, windows + 3, rss0, rss1);
	CHECK_EQ_INT(now, 0);
	/* each stage holds at most its window of inputs plus one item's outputs */
	CHECK(peak > 0 && peak <= (int64_t)windows + 3);
	/* generous, and independent of the item count: 2M unbounded items
	 * would take hundreds of MB */
	CHECK(rss1 > 0 && rss1 < RSS_LIMIT_KB);
	nact_pipeline_free(pl);

	/* the same from a thread with a blocking push */
	struct slowmap sm2 = {0};
	struct counter c2 = {0, 0};
	nact_pl_stage st2[] = {nact_pl_map("slow", slow_map, &sm2),
	    nact_pl_sink("count", count_sink, &c2)};
	st2[0].window = 16;
	st2[1].window = 16;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st2, 2, &o));
	long n2 = nt_scaled(100000);
	for (long i = 0; i < n2; i++) {
		nact_msg *m = int_msg(sys, i);
		int rv = nact_pipeline_push_wait(pl, m, LONG_MS);
		if (rv != 0) {
			CHECK_RV(rv);
			nact_msg_free(m);
			break;
		}
	}
	CHECK_RV(nact_pipeline_end(pl));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_U64(c2.n, (uint64_t)n2);
	nact_pipeline_inflight(pl, &now, &peak);
	CHECK(peak <= 16 + 16 + 1);
	printf("  thread feed: %ld items, peak in flight %lld\n", n2, (long long)peak);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* A blocking push times out when the pipeline does not move. */
static int stuck_sink(void *arg, const void *b, size_t len)
{
	_Atomic int *release = arg;
	(void)b;
	(void)len;
	while (!atomic_load(release))
		nng_msleep(1);
	return 0;
}

static void test_push_timeout(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static _Atomic int release;
	atomic_store(&release, 0);
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_pl_stage st[] = {nact_pl_map("x2", double_fn, NULL),
	    nact_pl_sink("stuck", stuck_sink, (void *)&release)};
	st[0].window = 2;
	st[1].window = 2;
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 2, NULL));
	int rv = 0, pushed = 0;
	while (pushed < 100) {
		nact_msg *m = int_msg(sys, pushed);
		rv = nact_pipeline_push_wait(pl, m, 50);
		if (rv != 0) {
			nact_msg_free(m);
			break;
		}
		pushed++;
	}
	CHECK_ERR(rv, NACT_ETIMEDOUT);
	CHECK(pushed <= 2 + 2 + 1 + 1);
	atomic_store(&release, 1);
	CHECK_RV(nact_pipeline_end(pl));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_U64(res.items, (uint64_t)pushed);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

/* ---- bad input ---- */

static void test_bad_spec(void)
{
	nact_system *sys;
	nact_pipeline *pl = NULL;
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	struct rec *r = calloc(1, sizeof(*r));
	struct gen g = {0, 1};
	nact_pl_stage sink = rec_stage(r), src = nact_pl_source("g", gen_fn, &g);
	nact_pl_stage mp = nact_pl_map("m", double_fn, NULL);
	struct {
		const char *what;
		nact_pl_stage s[3];
		size_t n;
	} cases[] = {
	    {"one stage", {sink}, 1},
	    {"no sink at end", {src, mp}, 2},
	    {"source not first", {mp, src, sink}, 3},
	    {"sink in the middle", {src, sink, sink}, 3},
	    {"map without fn", {src, nact_pl_map("m", NULL, NULL), sink}, 3},
	    {"batch 0", {src, nact_pl_batch("b", 0), sink}, 3},
	    {"window slide 0", {src, nact_pl_window("w", 3, 0), sink}, 3},
	    {"window slide > size", {src, nact_pl_window("w", 3, 4), sink}, 3},
	    {"time batch 0 ms", {src, nact_pl_time_batch("t", 0, 0), sink}, 3},
	    {"pmap 0 workers", {src, nact_pl_pmap("p", double_fn, NULL, 0, 0), sink}, 3},
	    {"bad kind", {src, {.kind = 99}, sink}, 3},
	    {"bad policy", {src, {.kind = NACT_PL_MAP, .map = double_fn, .policy = 7}, sink}, 3},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rv = nact_pipeline_start(&pl, sys, cases[i].s, cases[i].n, NULL);
		if (rv != NACT_EINVAL)
			nt_fail(__FILE__, __LINE__, "%s: got %d", cases[i].what, rv);
	}
	nact_pl_stage ok[] = {src, sink};
	CHECK_ERR(nact_pipeline_start(NULL, sys, ok, 2, NULL), NACT_EINVAL);
	CHECK_ERR(nact_pipeline_start(&pl, NULL, ok, 2, NULL), NACT_EINVAL);
	nact_pipeline_opts o = {0};
	o.name = "";
	CHECK_ERR(nact_pipeline_start(&pl, sys, ok, 2, &o), NACT_EINVAL);
	/* a source pipeline cannot be fed or ended from outside */
	REQUIRE_RV(nact_pipeline_start(&pl, sys, ok, 2, NULL));
	nact_msg *m = int_msg(sys, 1);
	CHECK_ERR(nact_pipeline_push_wait(pl, m, 10), NACT_EINVAL);
	nact_msg_free(m);
	CHECK_ERR(nact_pipeline_end(pl), NACT_EINVAL);
	nact_pl_result res;
	CHECK_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	nact_pipeline_free(pl);
	nact_pipeline_free(NULL);
	free(r);
	nact_system_close(sys, 5000);
}

/* Send a raw message of type t with body bytes to `to`. */
static void send_raw(nact_system *sys, nact_aid to, uint32_t t, const void *b, size_t len)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, t) != 0)
		return;
	if (len)
		nng_msg_append(nact_msg_nng(m), b, len);
	if (nact_send(sys, to, m) != 0)
		nact_msg_free(m);
}

static void test_bad_messages(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static struct rec r;
	static struct pm p;
	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	p.fail_at = -1;
	r.arrays = 1;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_pl_stage st[] = {nact_pl_map("x2", double_fn, NULL),
	    nact_pl_filter("ev", even_fn, NULL), nact_pl_pmap("pm", pm_fn, &p, 2, 1),
	    nact_pl_batch("b", 2), nact_pl_window("w", 2, 1), nact_pl_time_batch("tb", 100000, 1),
	    nact_pl_sink("rec", rec_sink, &r)};
	size_t ns = sizeof(st) / sizeof(st[0]);
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, ns, NULL));
	/* the internal types of the pipeline range, and some others */
	static const uint32_t types[] = {NACT_T_PL_ITEM, NACT_T_PL_READY, NACT_T_PL_DONE,
	    0xFFFF0310u, 0xFFFF0311u, 0xFFFF0312u, 0xFFFF0313u, 0xFFFF0314u, 0xFFFF0315u,
	    0xFFFF0316u, 0xFFFF0317u, 0xFFFF0318u, 0xFFFF0319u, 0xFFFF031Au, 0xFFFF031Bu,
	    0xFFFF031Cu, 0xFFFF03FFu, 1, 12345};
	static const struct {
		const char *b;
		size_t len;
	} bodies[] = {
	    {"", 0},                                          /* empty */
	    {"\x91\x05", 2},                                  /* [5] */
	    {"\x92\x00\x00", 3},                              /* [0, 0] */
	    {"\x91", 1},                                      /* truncated array */
	    {"\xc1", 1},                                      /* never-used byte */
	    {"\x94\x00\x00\x00\xa1x", 6},                     /* [0,0,0,"x"] (a FAIL body) */
	    {"\x91\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 10}, /* [2^64-1] */
	    {"\xa3"
	     "abc",
	        4}, /* a string */
	};
	size_t nt = sizeof(types) / sizeof(types[0]), nb = sizeof(bodies) / sizeof(bodies[0]);
	/* every stage, the controller: from outside (sender 0) */
	for (size_t a = 0; a <= ns; a++) {
		nact_aid to =
		    a < ns ? nact_pipeline_stage_aid(pl, a) : nact_pipeline_controller(pl);
		for (size_t t = 0; t < nt; t++)
			for (size_t b = 0; b < nb; b++)
				send_raw(sys, to, types[t], bodies[b].b, bodies[b].len);
	}
	/* a request with an unknown type gets NACT_EBADMSG */
	for (size_t a = 0; a <= ns; a++) {
		nact_aid to =
		    a < ns ? nact_pipeline_stage_aid(pl, a) : nact_pipeline_controller(pl);
		nact_msg *req, *rep = NULL;
		REQUIRE_RV(nact_msg_alloc(&req, sys, 4242));
		int rv = nact_call(sys, to, req, LONG_MS, &rep);
		CHECK_RV(rv);
		if (rv == 0) {
			int code = 0;
			CHECK_RV(nact_error_read(rep, &code, NULL, 0));
			CHECK_EQ_INT(code, NACT_EBADMSG);
			nact_msg_free(rep);
		} else if (rv != NACT_ETIMEDOUT) {
			nact_msg_free(req);
		}
	}
	/* bad items pushed through the API: counted, credit returned */
	for (size_t b = 0; b < nb; b++) {
		if (bodies[b].len > 0 &&
		    nact_msgpack_validate(bodies[b].b, bodies[b].len, NULL) == 0)
			continue;
		nact_msg *m;
		REQUIRE_RV(nact_msg_alloc(&m, sys, 1));
		if (bodies[b].len)
			nng_msg_append(nact_msg_nng(m), bodies[b].b, bodies[b].len);
		CHECK_RV(nact_pipeline_push_wait(pl, m, LONG_MS));
	}
	/* the pipeline still works */
	for (int i = 0; i < 20; i++)
		CHECK_RV(nact_pipeline_push_wait(pl, int_msg(sys, i), LONG_MS));
	CHECK_RV(nact_pipeline_end(pl));
	REQUIRE_RV(nact_pipeline_wait(pl, LONG_MS, &res));
	CHECK_EQ_INT(res.code, 0);
	/* 0..19 doubled, all even: pmap +1000, batches of 2, windows of 2
	 * slide 1 over 10 batches: 9 windows, each a batch of arrays */
	CHECK_EQ_U64(res.items, 9);
	uint64_t bad = 0;
	for (size_t a = 0; a < ns; a++) {
		nact_pl_stats s;
		CHECK_RV(nact_pipeline_stats(pl, a, &s));
		CHECK(s.bad > 0);
		bad += s.bad;
	}
	printf("  bad messages counted: %llu\n", (unsigned long long)bad);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_map_filter_thread_feed), NT_CASE(test_batch_flush), NT_CASE(test_window),
    NT_CASE(test_time_batch_manual_clock), NT_CASE(test_pmap), NT_CASE(test_policies),
    NT_CASE(test_retry_manual_clock), NT_CASE(test_completion), NT_CASE(test_cancel_registry),
    NT_CASE(test_stage_crash), NT_CASE(test_actor_feed), NT_CASE(test_ready_on_cancel),
    NT_CASE(test_backpressure), NT_CASE(test_push_timeout), NT_CASE(test_bad_messages),
    NT_CASE(test_bad_spec))
