/*
 * tests/cache/test_cache.c — the cache actor (include/nactor/cache.h).
 *
 * Contract checked:
 * - get / set / delete / clear through the blocking API and the raw wire
 *   protocol: a miss is NACT_ENOENT, the value comes back byte for byte.
 * - TTL on the system clock (manual clock here): the default TTL, a
 *   per-entry TTL, 0 = never; an expired entry is a miss and counted as an
 *   expiration, both when touched and when the sweep timer finds it.
 * - LRU: with max_entries the least recently used entry (a get refreshes)
 *   is evicted first; with max_bytes entries go until the bytes fit; an
 *   entry larger than max_bytes is refused with NACT_ERESOURCE.
 * - get-or-compute: 50 concurrent misses on one key start one computation
 *   and every waiter gets the value; a compute error gives every waiter
 *   NACT_ECACHE, no answer gives every waiter NACT_ETIMEDOUT; later gets
 *   hit.
 * - layered cache: a local miss is served by the backing cache and kept
 *   locally; sets and deletes write through; get-or-compute computes once
 *   in the backing layer for two local layers.
 * - stats: hits, misses, evictions, expirations, hit rate.
 * - invalidation: NACT_T_EVENT with a key (bin or str), nil (clear), an
 *   array of keys; a topic filter; malformed events are counted.
 * - bad input: a table of wrong types and malformed bodies; a request gets
 *   an NACT_EBADMSG error reply, a non-request is counted and dropped, and
 *   the cache keeps working.
 * - batches (MGET / MSET): hits and misses mixed in order, repeated keys,
 *   empty batches, exactly NACT_CACHE_BATCH_MAX and one more (NACT_EINVAL
 *   from the builders, NACT_ELIMIT from the cache), a bad pair or an
 *   oversized entry refuses the whole batch, TTL and LRU per key, a cast
 *   MSET, a layered cache refusing batches with NACT_ENOTSUP.
 * - supervision: the cache restarts under a supervisor (empty).
 */
#include <pthread.h>

#include <nactor/cache.h>
#include <nactor/supervisor.h>

#include "testutil.h"

#define TMO 5000

/* msgpack of a str value. */
static size_t mp_str(uint8_t *buf, const char *s)
{
	size_t n = strlen(s);
	buf[0] = (uint8_t)(0xa0 | n); /* n < 32 */
	memcpy(buf + 1, s, n);
	return n + 1;
}

static int cset(nact_system *sys, nact_aid c, const char *k, const char *v, int ttl)
{
	uint8_t buf[64];
	size_t n = mp_str(buf, v);
	return nact_cache_set(sys, c, k, strlen(k), buf, n, ttl, TMO);
}

/* 1 if k maps to v, 0 on a miss, -1 otherwise. */
static int cget(nact_system *sys, nact_aid c, const char *k, const char *v)
{
	void *val = NULL;
	size_t vl = 0;
	int rv = nact_cache_get(sys, c, k, strlen(k), &val, &vl, TMO);
	if (rv == NACT_ENOENT)
		return 0;
	if (rv != 0) {
		fprintf(stderr, "  get %s: %s\n", k, nact_strerror(rv));
		return -1;
	}
	uint8_t want[64];
	size_t wn = mp_str(want, v);
	int ok = vl == wn && memcmp(val, want, wn) == 0;
	free(val);
	return ok ? 1 : -1;
}

static nact_cache_stats stats(nact_system *sys, nact_aid c)
{
	nact_cache_stats st;
	memset(&st, 0, sizeof(st));
	CHECK_RV(nact_cache_stats_get(sys, c, &st, TMO));
	return st;
}

static void test_basic(void)
{
	nact_system *sys;
	nact_aid c;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_cache_spawn(&c, sys, NULL));

	CHECK_EQ_INT(cget(sys, c, "a", ""), 0);
	CHECK_RV(cset(sys, c, "a", "alpha", -1));
	CHECK_RV(cset(sys, c, "b", "beta", -1));
	CHECK_EQ_INT(cget(sys, c, "a", "alpha"), 1);
	CHECK_RV(cset(sys, c, "a", "ALPHA!", -1)); /* overwrite, other size */
	CHECK_EQ_INT(cget(sys, c, "a", "ALPHA!"), 1);
	CHECK_RV(cset(sys, c, "a", "ALPHA?", -1)); /* overwrite, same size */
	CHECK_EQ_INT(cget(sys, c, "a", "ALPHA?"), 1);

	/* A binary key with a NUL inside, an empty key, a structured value. */
	const char bk[3] = {'x', 0, 'y'};
	const uint8_t mv[] = {0x82, 0xa1, 'n', 0x2a, 0xa1, 'l', 0x93, 0x01, 0xc0, 0xc3};
	CHECK_RV(nact_cache_set(sys, c, bk, 3, mv, sizeof(mv), -1, TMO));
	CHECK_RV(nact_cache_set(sys, c, "", 0, mv, sizeof(mv), -1, TMO));
	void *v = NULL;
	size_t vl = 0;
	CHECK_RV(nact_cache_get(sys, c, bk, 3, &v, &vl, TMO));
	CHECK(vl == sizeof(mv) && v && memcmp(v, mv, vl) == 0);
	free(v);
	CHECK_ERR(nact_cache_get(sys, c, "x", 1, &v, &vl, TMO), NACT_ENOENT);
	/* A value that is not one msgpack value is refused client-side. */
	const uint8_t two[] = {0x01, 0x02};
	CHECK_ERR(nact_cache_set(sys, c, "k", 1, two, 2, -1, TMO), NACT_EINVAL);

	int d = -1;
	CHECK_RV(nact_cache_del(sys, c, "a", 1, &d, TMO));
	CHECK_EQ_INT(d, 1);
	CHECK_RV(nact_cache_del(sys, c, "a", 1, &d, TMO));
	CHECK_EQ_INT(d, 0);
	CHECK_EQ_INT(cget(sys, c, "a", ""), 0);

	nact_cache_stats st = stats(sys, c);
	CHECK_EQ_U64(st.entries, 3);
	CHECK_EQ_U64(st.hits, 4);
	CHECK_EQ_U64(st.misses, 3);
	CHECK(st.hit_rate > 0.56 && st.hit_rate < 0.58);

	uint64_t n = 0;
	CHECK_RV(nact_cache_clear(sys, c, &n, TMO));
	CHECK_EQ_U64(n, 3);
	CHECK_EQ_INT(cget(sys, c, "b", ""), 0);
	st = stats(sys, c);
	CHECK_EQ_U64(st.entries, 0);
	CHECK_EQ_U64(st.bytes, 0);

	nact_system_close(sys, TMO);
}

static void test_ttl(void)
{
	nact_system *sys;
	nact_aid c;
	nact_cache_config cfg;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MANUAL));
	nact_cache_config_init(&cfg);
	cfg.default_ttl_ms = 1000;
	cfg.sweep_ms = 60000; /* out of the way for the lazy part */
	REQUIRE_RV(nact_cache_spawn(&c, sys, &cfg));

	CHECK_RV(cset(sys, c, "dflt", "1", -1)); /* 1000 ms */
	CHECK_RV(cset(sys, c, "short", "2", 100));
	CHECK_RV(cset(sys, c, "never", "3", 0));
	CHECK_RV(nact_clock_advance(sys, 99 * 1000000ull));
	CHECK_EQ_INT(cget(sys, c, "short", "2"), 1);
	CHECK_RV(nact_clock_advance(sys, 1 * 1000000ull));
	CHECK_EQ_INT(cget(sys, c, "short", ""), 0);
	CHECK_EQ_INT(cget(sys, c, "dflt", "1"), 1);
	CHECK_RV(nact_clock_advance(sys, 900 * 1000000ull));
	CHECK_EQ_INT(cget(sys, c, "dflt", ""), 0);
	CHECK_EQ_INT(cget(sys, c, "never", "3"), 1);
	nact_cache_stats st = stats(sys, c);
	CHECK_EQ_U64(st.expirations, 2);
	CHECK_EQ_U64(st.entries, 1);
	nact_system_close(sys, TMO);

	/* The sweep drops expired entries nobody touches. */
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MANUAL));
	cfg.sweep_ms = 500;
	REQUIRE_RV(nact_cache_spawn(&c, sys, &cfg));
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		CHECK_RV(cset(sys, c, k, "v", i < 60 ? 200 : 0));
	}
	CHECK_EQ_U64(stats(sys, c).entries, 100);
	CHECK_RV(nact_clock_advance(sys, 500 * 1000000ull)); /* fires the sweep */
	CHECK(NT_WAIT(stats(sys, c).entries == 40, NT_LONG_MS));
	st = stats(sys, c);
	CHECK_EQ_U64(st.expirations, 60);
	CHECK_EQ_U64(st.misses, 0);
	nact_system_close(sys, TMO);
}

static void test_lru(void)
{
	nact_system *sys;
	nact_aid c;
	nact_cache_config cfg;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_cache_config_init(&cfg);
	cfg.max_entries = 3;
	REQUIRE_RV(nact_cache_spawn(&c, sys, &cfg));
	CHECK_RV(cset(sys, c, "a", "1", -1));
	CHECK_RV(cset(sys, c, "b", "2", -1));
	CHECK_RV(cset(sys, c, "c", "3", -1));
	CHECK_EQ_INT(cget(sys, c, "a", "1"), 1); /* a is now the most recent */
	CHECK_RV(cset(sys, c, "d", "4", -1));    /* evicts b */
	CHECK_EQ_INT(cget(sys, c, "b", ""), 0);
	CHECK_RV(cset(sys, c, "e", "5", -1)); /* evicts c */
	CHECK_EQ_INT(cget(sys, c, "c", ""), 0);
	CHECK_EQ_INT(cget(sys, c, "a", "1"), 1);
	CHECK_EQ_INT(cget(sys, c, "d", "4"), 1);
	CHECK_EQ_INT(cget(sys, c, "e", "5"), 1);
	nact_cache_stats st = stats(sys, c);
	CHECK_EQ_U64(st.evictions, 2);
	CHECK_EQ_U64(st.entries, 3);
	nact_system_close(sys, TMO);

	/* max_bytes: key + value bytes. Each entry here is 1 + 11 = 12. */
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_cache_config_init(&cfg);
	cfg.max_bytes = 40;
	REQUIRE_RV(nact_cache_spawn(&c, sys, &cfg));
	CHECK_RV(cset(sys, c, "a", "0123456789", -1));
	CHECK_RV(cset(sys, c, "b", "0123456789", -1));
	CHECK_RV(cset(sys, c, "c", "0123456789", -1));
	CHECK_EQ_U64(stats(sys, c).bytes, 36);
	CHECK_RV(cset(sys, c, "d", "0123456789", -1)); /* 48 > 40: a goes */
	CHECK_EQ_INT(cget(sys, c, "a", ""), 0);
	CHECK_EQ_INT(cget(sys, c, "b", "0123456789"), 1);
	/* A 28-byte entry needs two to go: c and d (b was just used). */
	CHECK_RV(cset(sys, c, "e", "0123456789abcdefghijklmnop", -1));
	CHECK_EQ_INT(cget(sys, c, "c", ""), 0);
	CHECK_EQ_INT(cget(sys, c, "d", ""), 0);
	CHECK_EQ_INT(cget(sys, c, "b", "0123456789"), 1);
	st = stats(sys, c);
	CHECK_EQ_U64(st.evictions, 3);
	CHECK_EQ_U64(st.bytes, 40);
	/* Larger than max_bytes on its own: refused, nothing evicted. */
	uint8_t big[64];
	memset(big, 0, sizeof(big));
	big[0] = 0xc4;
	big[1] = 50;
	CHECK_ERR(nact_cache_set(sys, c, "z", 1, big, 52, -1, TMO), NACT_ERESOURCE);
	CHECK_EQ_U64(stats(sys, c).entries, 2);
	nact_system_close(sys, TMO);
}

/* ---- get-or-compute ---- */

enum { CM_HOLD = 0, CM_FAIL = 1, CM_SILENT = 2 };
enum { T_GO = 1, T_RELEASE = 2 };

/* A compute actor that keeps the requests it gets and answers them when
 * told (T_RELEASE), with a value (CM_HOLD) or an error (CM_FAIL, which
 * answers at once after the release), or never (CM_SILENT). */
typedef struct compute_st {
	int mode;
	atomic_int calls;
	nact_aid to[64];
	uint64_t corr[64];
	char key[64][32];
	int n;
	int released; /* CM_FAIL: T_RELEASE seen */
} compute_st;

static void compute_answer(nact_system *sys, compute_st *s, int i)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, s->mode == CM_FAIL ? NACT_T_ERROR : 7) != 0)
		return;
	nact_pack p;
	nact_pack_init(&p, m);
	if (s->mode == CM_FAIL) { /* as nact_reply_error */
		nact_pack_array(&p, 2);
		nact_pack_int(&p, NACT_EINVAL);
		nact_pack_str(&p, "no such thing");
	} else {
		char v[48];
		snprintf(v, sizeof(v), "computed:%s", s->key[i]);
		nact_pack_str(&p, v);
	}
	if (nact_reply_to(sys, s->to[i], s->corr[i], m) != 0)
		nact_msg_free(m);
}

static int compute_fn(nact_ctx *ctx, nact_msg *m)
{
	compute_st *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (nact_msg_type(m) == T_RELEASE) {
		for (int i = 0; i < s->n; i++)
			compute_answer(sys, s, i);
		s->n = 0;
		s->released = 1;
		return 0;
	}
	const void *k;
	size_t kl;
	if (nact_cache_compute_key(m, &k, &kl) != 0) {
		nact_reply_error(sys, m, NACT_EBADMSG, NULL);
		return 0;
	}
	atomic_fetch_add(&s->calls, 1);
	if (s->mode == CM_FAIL && s->released) {
		nact_reply_error(sys, m, NACT_EINVAL, "no such thing");
		return 0;
	}
	if (s->mode == CM_SILENT || s->n == 64)
		return 0;
	s->to[s->n] = nact_msg_sender(m);
	s->corr[s->n] = nact_msg_corr(m);
	snprintf(s->key[s->n], sizeof(s->key[0]), "%.*s", (int)kl, (const char *)k);
	s->n++;
	return 0;
}

/* A client actor: on T_GO sends `n` get-or-compute requests for `key`. */
typedef struct client_st {
	nact_aid cache, compute;
	const char *key;
	int n;
	int ttl_ms, compute_ms;
	atomic_int replies, values, errs, last_err, bad_value;
} client_st;

static void client_reply(nact_ctx *ctx, nact_msg *rep, int err, void *arg)
{
	client_st *s = arg;
	(void)ctx;
	if (err == 0) {
		int hit = 0;
		const void *v;
		size_t vl;
		err = nact_cache_reply_value(rep, &hit, &v, &vl);
		if (err == 0 && hit) {
			char want[64];
			uint8_t mp[64];
			snprintf(want, sizeof(want), "computed:%s", s->key);
			size_t wn = mp_str(mp, want);
			if (vl != wn || memcmp(v, mp, wn) != 0)
				atomic_fetch_add(&s->bad_value, 1);
			atomic_fetch_add(&s->values, 1);
		} else if (err == 0) {
			atomic_fetch_add(&s->bad_value, 1);
		}
	}
	if (err != 0) {
		atomic_store(&s->last_err, err);
		atomic_fetch_add(&s->errs, 1);
	}
	atomic_fetch_add(&s->replies, 1);
}

static int client_fn(nact_ctx *ctx, nact_msg *m)
{
	client_st *s = nact_state(ctx);
	(void)m;
	for (int i = 0; i < s->n; i++) {
		nact_msg *req;
		if (nact_cache_msg_compute_get(&req, nact_sys(ctx), s->key, strlen(s->key),
		        s->compute, s->ttl_ms, s->compute_ms) != 0)
			continue;
		if (nact_request(ctx, s->cache, req, 30000, client_reply, s) != 0)
			nact_msg_free(req);
	}
	return 0;
}

static void go(nact_system *sys, nact_aid to, uint32_t type)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, type) == 0 && nact_send(sys, to, m) != 0)
		nact_msg_free(m);
}

static void run_compute(int mode, int compute_ms)
{
	nact_system *sys;
	nact_aid c, cp, cl;
	static compute_st cs;
	static client_st cli;
	memset(&cs, 0, sizeof(cs));
	memset(&cli, 0, sizeof(cli));
	cs.mode = mode;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_cache_spawn(&c, sys, NULL));
	REQUIRE_RV(nact_spawn(&cp, sys, compute_fn, &cs, NULL, NULL));
	cli.cache = c;
	cli.compute = cp;
	cli.key = "user:42";
	cli.n = 50;
	cli.ttl_ms = 0;
	cli.compute_ms = compute_ms;
	REQUIRE_RV(nact_spawn(&cl, sys, client_fn, &cli, NULL, NULL));
	go(sys, cl, T_GO);
	CHECK(NT_WAIT(atomic_load(&cs.calls) == 1, NT_LONG_MS));
	if (mode == CM_HOLD || mode == CM_FAIL) {
		/* Every request is queued behind the one computation (a
		 * failure answered before the client has sent them all would
		 * let the later ones start a computation of their own). */
		CHECK(NT_WAIT(stats(sys, c).misses == 50, NT_LONG_MS));
		CHECK_EQ_INT(atomic_load(&cli.replies), 0);
		go(sys, cp, T_RELEASE);
	}
	CHECK(NT_WAIT(atomic_load(&cli.replies) == 50, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&cs.calls), 1);
	nact_cache_stats st = stats(sys, c);
	CHECK_EQ_U64(st.computes, 1);
	if (mode == CM_HOLD) {
		CHECK_EQ_INT(atomic_load(&cli.values), 50);
		CHECK_EQ_INT(atomic_load(&cli.bad_value), 0);
		CHECK_EQ_INT(cget(sys, c, "user:42", "computed:user:42"), 1);
		/* Now a hit: no second computation. */
		void *v = NULL;
		size_t vl;
		CHECK_RV(nact_cache_get_or_compute(sys, c, "user:42", 7, cp, 0, 0, &v, &vl, TMO));
		free(v);
		CHECK_EQ_INT(atomic_load(&cs.calls), 1);
	} else {
		int want = mode == CM_FAIL ? NACT_ECACHE : NACT_ETIMEDOUT;
		CHECK_EQ_INT(atomic_load(&cli.errs), 50);
		CHECK_EQ_INT(atomic_load(&cli.last_err), want);
		CHECK_EQ_U64(st.compute_errors, 1);
		CHECK_EQ_INT(cget(sys, c, "user:42", ""), 0);
		/* The blocking wrapper reports the same error. */
		CHECK_ERR(nact_cache_get_or_compute(sys, c, "user:42", 7, cp, 0, compute_ms, NULL,
		              NULL, TMO),
		    want);
		CHECK_EQ_INT(atomic_load(&cs.calls), 2);
	}
	nact_system_close(sys, TMO);
}

static void test_compute_once(void)
{
	run_compute(CM_HOLD, 0);
}

static void test_compute_fail(void)
{
	run_compute(CM_FAIL, 0);
}

static void test_compute_timeout(void)
{
	run_compute(CM_SILENT, 100);
}

/* nact_cache_computer_spawn with a function; many threads on one key. */
static atomic_int fn_calls;

static int square_fn(void *arg, const void *key, size_t klen, nact_pack *out)
{
	(void)arg;
	atomic_fetch_add(&fn_calls, 1);
	nng_msleep(50); /* a slow computation: the threads below all miss */
	if (klen == 4 && memcmp(key, "fail", 4) == 0)
		return NACT_EINVAL;
	char buf[16];
	snprintf(buf, sizeof(buf), "%.*s", (int)(klen < 15 ? klen : 15), (const char *)key);
	long n = strtol(buf, NULL, 10);
	nact_pack_int(out, n * n);
	return 0;
}

struct thr_arg {
	nact_system *sys;
	nact_aid c, cp;
	int rv;
	int64_t val;
};

static void *thr_get(void *p)
{
	struct thr_arg *a = p;
	void *v = NULL;
	size_t vl = 0;
	a->rv = nact_cache_get_or_compute(a->sys, a->c, "12", 2, a->cp, -1, 0, &v, &vl, TMO);
	if (a->rv == 0) {
		nact_reader r;
		if (nact_reader_init_buf(&r, v, vl, NULL) == 0) {
			nact_read_int(&r, &a->val);
			nact_reader_fini(&r);
		}
	}
	free(v);
	return NULL;
}

static void test_computer_threads(void)
{
	nact_system *sys;
	nact_aid c, cp;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_cache_spawn(&c, sys, NULL));
	atomic_store(&fn_calls, 0);
	REQUIRE_RV(nact_cache_computer_spawn(&cp, sys, square_fn, NULL));
	pthread_t t[8];
	struct thr_arg a[8];
	for (int i = 0; i < 8; i++) {
		a[i] = (struct thr_arg){sys, c, cp, -1, 0};
		pthread_create(&t[i], NULL, thr_get, &a[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_RV(a[i].rv);
		CHECK_EQ_INT(a[i].val, 144);
	}
	/* The threads may not all have queued within the 50 ms of the first
	 * computation, but each computation answers every waiter queued then. */
	CHECK(atomic_load(&fn_calls) >= 1 && atomic_load(&fn_calls) <= 8);
	CHECK_EQ_U64(stats(sys, c).computes, (uint64_t)atomic_load(&fn_calls));
	CHECK_ERR(nact_cache_get_or_compute(sys, c, "fail", 4, cp, -1, 0, NULL, NULL, TMO),
	    NACT_ECACHE);
	nact_system_close(sys, TMO);
}

/* ---- layered ---- */

static void test_layered(void)
{
	nact_system *sys;
	nact_aid shared, l1, l2, cp;
	nact_cache_config cfg;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_cache_spawn(&shared, sys, NULL));
	nact_cache_config_init(&cfg);
	cfg.backing = shared;
	cfg.max_entries = 100;
	REQUIRE_RV(nact_cache_spawn(&l1, sys, &cfg));
	REQUIRE_RV(nact_cache_spawn(&l2, sys, &cfg));

	/* Set through l1: both layers have it. */
	CHECK_RV(cset(sys, l1, "a", "A", -1));
	CHECK_EQ_U64(stats(sys, l1).entries, 1);
	CHECK_EQ_INT(cget(sys, shared, "a", "A"), 1);
	/* l2 misses locally, hits the shared layer, keeps it. */
	CHECK_EQ_INT(cget(sys, l2, "a", "A"), 1);
	CHECK_EQ_INT(cget(sys, l2, "a", "A"), 1);
	nact_cache_stats s2 = stats(sys, l2);
	CHECK_EQ_U64(s2.misses, 1);
	CHECK_EQ_U64(s2.hits, 1);
	CHECK_EQ_U64(s2.entries, 1);
	CHECK_EQ_U64(stats(sys, shared).hits, 2); /* the direct get + l2's miss */
	/* A miss in both layers. */
	CHECK_EQ_INT(cget(sys, l1, "nope", ""), 0);
	/* Delete through l1: gone from l1 and shared (l2 keeps its copy until
	 * invalidated: that is what events are for). */
	int d = 0;
	CHECK_RV(nact_cache_del(sys, l1, "a", 1, &d, TMO));
	CHECK_EQ_INT(d, 1);
	CHECK_EQ_INT(cget(sys, shared, "a", ""), 0);
	CHECK_EQ_INT(cget(sys, l1, "a", ""), 0);

	/* get-or-compute through two local layers: one computation, in the
	 * shared layer. */
	static compute_st cs;
	memset(&cs, 0, sizeof(cs));
	cs.mode = CM_HOLD;
	REQUIRE_RV(nact_spawn(&cp, sys, compute_fn, &cs, NULL, NULL));
	static client_st c1, c2;
	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	c1.cache = l1;
	c2.cache = l2;
	c1.compute = c2.compute = cp;
	c1.key = c2.key = "k";
	c1.n = c2.n = 10;
	nact_aid a1, a2;
	REQUIRE_RV(nact_spawn(&a1, sys, client_fn, &c1, NULL, NULL));
	REQUIRE_RV(nact_spawn(&a2, sys, client_fn, &c2, NULL, NULL));
	go(sys, a1, T_GO);
	go(sys, a2, T_GO);
	CHECK(NT_WAIT(atomic_load(&cs.calls) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(stats(sys, shared).misses >= 3, NT_LONG_MS)); /* "nope" + l1 + l2 */
	go(sys, cp, T_RELEASE);
	CHECK(
	    NT_WAIT(atomic_load(&c1.replies) == 10 && atomic_load(&c2.replies) == 10, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&c1.values) + atomic_load(&c2.values), 20);
	CHECK_EQ_INT(atomic_load(&c1.bad_value) + atomic_load(&c2.bad_value), 0);
	CHECK_EQ_INT(atomic_load(&cs.calls), 1);
	CHECK_EQ_INT(cget(sys, l1, "k", "computed:k"), 1);
	/* l1 started 3 lookups: the backing gets of "nope" and "a", then "k". */
	CHECK_EQ_U64(stats(sys, l1).computes, 3);
	CHECK_EQ_U64(stats(sys, shared).computes, 1);

	/* The backing cache gone: a local miss and a set fail with a cache
	 * error, never hang. */
	nact_cache_config_init(&cfg);
	cfg.backing = shared;
	cfg.backing_timeout_ms = 200;
	nact_aid l3;
	REQUIRE_RV(nact_cache_spawn(&l3, sys, &cfg));
	CHECK_RV(nact_stop(sys, shared));
	CHECK(NT_WAIT(!nact_alive(sys, shared), NT_LONG_MS));
	CHECK_ERR(nact_cache_get(sys, l3, "q", 1, NULL, NULL, TMO), NACT_ECACHE);
	CHECK_ERR(cset(sys, l3, "q", "Q", -1), NACT_ECACHE);
	CHECK_EQ_U64(stats(sys, l3).entries, 0);
	nact_system_close(sys, TMO);
}

/* ---- invalidation events ---- */

static void send_event(nact_system *sys, nact_aid to, const char *topic, const uint8_t *payload,
    size_t n)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, NACT_T_EVENT) != 0)
		return;
	nact_pack p;
	nact_pack_init(&p, m);
	nact_pack_array(&p, 2);
	nact_pack_str(&p, topic);
	if (nact_pack_error(&p) || nng_msg_append(nact_msg_nng(m), payload, n) != 0 ||
	    nact_send(sys, to, m) != 0)
		nact_msg_free(m);
}

static void test_events(void)
{
	nact_system *sys;
	nact_aid c;
	nact_cache_config cfg;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_cache_config_init(&cfg);
	cfg.topic = "inval";
	REQUIRE_RV(nact_cache_spawn(&c, sys, &cfg));
	const char *keys[] = {"a", "b", "c", "d", "e"};
	for (int i = 0; i < 5; i++)
		CHECK_RV(cset(sys, c, keys[i], "v", -1));

	const uint8_t str_a[] = {0xa1, 'a'};
	const uint8_t bin_b[] = {0xc4, 1, 'b'};
	const uint8_t arr_cd[] = {0x92, 0xa1, 'c', 0xc4, 1, 'd'};
	const uint8_t nil[] = {0xc0};
	const uint8_t bad_arr[] = {0x92, 0xa1, 'e', 0x01}; /* an int in the list */
	const uint8_t bad_int[] = {0x07};

	send_event(sys, c, "other", str_a, sizeof(str_a)); /* not our topic */
	CHECK(NT_STAYS_FALSE(stats(sys, c).entries != 5, NT_QUIET_MS));
	send_event(sys, c, "inval", str_a, sizeof(str_a));
	CHECK(NT_WAIT(cget(sys, c, "a", "") == 0, NT_LONG_MS));
	send_event(sys, c, "inval", bin_b, sizeof(bin_b));
	send_event(sys, c, "inval", arr_cd, sizeof(arr_cd));
	send_event(sys, c, "inval", bad_arr, sizeof(bad_arr));
	send_event(sys, c, "inval", bad_int, sizeof(bad_int));
	CHECK(NT_WAIT(stats(sys, c).entries == 1, NT_LONG_MS));
	CHECK_EQ_INT(cget(sys, c, "e", "v"), 1);
	send_event(sys, c, "inval", nil, sizeof(nil));
	CHECK(NT_WAIT(stats(sys, c).entries == 0, NT_LONG_MS));
	nact_cache_stats st = stats(sys, c);
	CHECK_EQ_U64(st.events, 4);
	CHECK_EQ_U64(st.bad, 2);
	CHECK_EQ_U64(st.deletes, 5);
	nact_system_close(sys, TMO);
}

/* ---- bad input ---- */

static void test_bad_input(void)
{
	static const struct {
		uint32_t type;
		const char *body; /* msgpack bytes */
		size_t len;
		const char *what;
	} tab[] = {
	    {NACT_T_CACHE_GET, "", 0, "get, empty body"},
	    {NACT_T_CACHE_GET, "\x90", 1, "get, []"},
	    {NACT_T_CACHE_GET, "\x91\x01", 2, "get, int key"},
	    {NACT_T_CACHE_GET, "\x92\xa1k\xa1k", 5, "get, two keys"},
	    {NACT_T_CACHE_GET, "\x91\xa5k", 3, "get, truncated key"},
	    {NACT_T_CACHE_GET, "\x91\xdb\xff\xff\xff\xff", 6, "get, huge str length"},
	    {NACT_T_CACHE_GET, "\xa1k", 2, "get, key not in an array"},
	    {NACT_T_CACHE_GET, "\x91\xa1k\x00", 4, "get, trailing bytes"},
	    {NACT_T_CACHE_SET, "\x91\xa1k", 3, "set, no value"},
	    {NACT_T_CACHE_SET, "\x92\xa1k\xc1", 4, "set, 0xc1 value"},
	    {NACT_T_CACHE_SET, "\x92\xa1k\x93\x01", 5, "set, truncated array value"},
	    {NACT_T_CACHE_SET, "\x92\xa1k\xdd\xff\xff\xff\xff", 8, "set, array claims 4G"},
	    {NACT_T_CACHE_SET, "\x93\xa1k\x01\xa1x", 6, "set, str ttl"},
	    {NACT_T_CACHE_SET, "\x94\xa1k\x01\x01\x01", 6, "set, 4 fields"},
	    {NACT_T_CACHE_SET, "\x93\xa1k\x01\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 13,
	        "set, ttl out of range"},
	    {NACT_T_CACHE_DEL, "\x90", 1, "del, []"},
	    {NACT_T_CACHE_CLEAR, "\x91\x01", 2, "clear, [1]"},
	    {NACT_T_CACHE_COMPUTE_GET, "\x91\xa1k", 3, "compute, no actor"},
	    {NACT_T_CACHE_COMPUTE_GET, "\x92\xa1k\x00", 4, "compute, actor 0"},
	    {NACT_T_CACHE_COMPUTE_GET, "\x92\xa1k\xa1x", 5, "compute, str actor"},
	    {NACT_T_CACHE_STATS, "\xc0", 1, "stats, nil"},
	    {NACT_T_CACHE_VALUE, "\x92\xc3\x01", 3, "a reply type"},
	    {NACT_T_CACHE_COMPUTE, "\x91\xa1k", 3, "a compute request"},
	    {0xFFFF02FEu, "\x90", 1, "unknown cache type"},
	    {42, "\x90", 1, "user type"},
	    {NACT_T_CACHE_GET, "\x91\x81\xa1k\xa1v", 5, "get, map key"},
	    {NACT_T_CACHE_MGET, "", 0, "mget, empty body"},
	    {NACT_T_CACHE_MGET, "\xa1k", 2, "mget, not an array"},
	    {NACT_T_CACHE_MGET, "\x91\x01", 2, "mget, int key"},
	    {NACT_T_CACHE_MGET, "\x92\xa1k\xc0", 4, "mget, nil second key"},
	    {NACT_T_CACHE_MGET, "\x92\xa1k\xa5k", 4, "mget, truncated second key"},
	    {NACT_T_CACHE_MGET, "\x92\xa1k", 3, "mget, fewer keys than claimed"},
	    {NACT_T_CACHE_MGET, "\x91\xa1k\x00", 4, "mget, trailing bytes"},
	    {NACT_T_CACHE_MSET, "\x90", 1, "mset, []"},
	    {NACT_T_CACHE_MSET, "\x92\x00\xa1k", 4, "mset, key without value"},
	    {NACT_T_CACHE_MSET, "\x93\xa1x\xa1k\x01", 5, "mset, str ttl"},
	    {NACT_T_CACHE_MSET, "\x93\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa1k\x01", 13,
	        "mset, ttl out of range"},
	    {NACT_T_CACHE_MSET, "\x93\x00\x01\x01", 4, "mset, int key"},
	    {NACT_T_CACHE_MSET, "\x93\x00\xa1k\xc1", 5, "mset, 0xc1 value"},
	    {NACT_T_CACHE_MSET, "\x95\x00\xa1k\x01\xa1j", 6, "mset, last value missing"},
	    {NACT_T_CACHE_MSET, "\x93\x00\xa1k\x01\x00", 6, "mset, trailing bytes"},
	    {NACT_T_CACHE_MVALUE, "\x90", 1, "a batch reply type"},
	};
	const size_t n = sizeof(tab) / sizeof(tab[0]);
	nact_system *sys;
	nact_aid c;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_cache_spawn(&c, sys, NULL));
	CHECK_RV(cset(sys, c, "keep", "me", -1));

	for (size_t i = 0; i < n; i++) {
		nact_msg *m, *rep = NULL;
		REQUIRE_RV(nact_msg_alloc(&m, sys, tab[i].type));
		if (tab[i].len)
			REQUIRE(nng_msg_append(nact_msg_nng(m), tab[i].body, tab[i].len) == 0);
		int rv = nact_call(sys, c, m, TMO, &rep);
		if (rv != 0) {
			fprintf(stderr, "  bad input \"%s\": call %s\n", tab[i].what,
			    nact_strerror(rv));
			CHECK(0);
			if (rv != NACT_ETIMEDOUT)
				nact_msg_free(m);
			continue;
		}
		int code = 0;
		char text[128] = "";
		int erv = nact_error_read(rep, &code, text, sizeof(text));
		if (erv != 0 || code != NACT_EBADMSG) {
			fprintf(stderr, "  bad input \"%s\": reply type %#x code %d\n", tab[i].what,
			    nact_msg_type(rep), code);
			CHECK(0);
		}
		nact_msg_free(rep);
	}
	/* The same bodies as plain messages: counted and dropped. Casts of
	 * SET/DEL/CLEAR with a bad body are bad too. */
	for (size_t i = 0; i < n; i++) {
		nact_msg *m;
		REQUIRE_RV(nact_msg_alloc(&m, sys, tab[i].type));
		if (tab[i].len)
			REQUIRE(nng_msg_append(nact_msg_nng(m), tab[i].body, tab[i].len) == 0);
		if (nact_send(sys, c, m) != 0)
			nact_msg_free(m);
	}
	/* Requests that are fine but not allowed as casts: also bad. */
	nact_msg *m;
	REQUIRE_RV(nact_cache_msg_get(&m, sys, "keep", 4));
	CHECK_RV(nact_send(sys, c, m));
	CHECK(NT_WAIT(stats(sys, c).bad == 2 * n + 1, NT_LONG_MS));
	CHECK_EQ_INT(cget(sys, c, "keep", "me"), 1);
	/* A valid cast works: set without a reply. */
	uint8_t v[8];
	size_t vn = mp_str(v, "cast");
	REQUIRE_RV(nact_cache_msg_set(&m, sys, "c", 1, v, vn, -1));
	CHECK_RV(nact_send(sys, c, m));
	CHECK(NT_WAIT(cget(sys, c, "c", "cast") == 1, NT_LONG_MS));
	CHECK(nact_alive(sys, c));
	/* Bad arguments on the client side. */
	CHECK_ERR(nact_cache_msg_compute_get(&m, sys, "k", 1, NACT_AID_NONE, 0, 0), NACT_EINVAL);
	CHECK_ERR(nact_cache_msg_get(&m, sys, NULL, 3), NACT_EINVAL);
	nact_system_close(sys, TMO);
}

/* Fuzz-ish: random bodies on every cache type never crash the cache. */
static void test_random_bodies(void)
{
	nact_system *sys;
	nact_aid c;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_cache_spawn(&c, sys, NULL));
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	long iters = nt_scaled(20000);
	for (long i = 0; i < iters; i++) {
		uint8_t buf[24];
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		size_t len = seed % sizeof(buf);
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)(seed >> (j % 8 * 8)) ^ (uint8_t)(j * 37);
		if (len > 0 && (seed & 1))
			buf[0] = (uint8_t)(0x90 | (seed >> 8 & 3)); /* often an array */
		nact_msg *m;
		if (nact_msg_alloc(&m, sys, 0xFFFF0200u + (uint32_t)(seed >> 20) % 8) != 0)
			continue;
		if (nng_msg_append(nact_msg_nng(m), buf, len) != 0 || nact_send(sys, c, m) != 0)
			nact_msg_free(m);
	}
	nact_cache_stats st = stats(sys, c); /* answered after all of them */
	CHECK(st.bad > 0);
	CHECK(nact_alive(sys, c));
	/* The reply readers on random bodies: an error code, never a crash or
	 * a pointer outside the reply. */
	int ok = 1;
	for (long i = 0; i < iters / 4; i++) {
		uint8_t buf[24];
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		size_t len = seed % sizeof(buf);
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)(seed >> (j % 8 * 8)) ^ (uint8_t)(j * 29);
		if (len > 0 && (seed & 1))
			buf[0] = (uint8_t)(0x90 | (seed >> 8 & 7));
		nact_msg *m;
		uint32_t types[3] = {NACT_T_CACHE_MVALUE, NACT_T_CACHE_VALUE, NACT_T_CACHE_DONE};
		if (nact_msg_alloc(&m, sys, types[(seed >> 24) % 3]) != 0)
			continue;
		if (nng_msg_append(nact_msg_nng(m), buf, len) == 0) {
			size_t bl;
			const uint8_t *body = nact_msg_body(m, &bl);
			nact_cache_item it[4];
			int hit;
			const void *v;
			size_t vl;
			uint64_t n;
			if (nact_cache_reply_mvalue(m, it, (seed >> 32) % 4) == 0)
				for (size_t k = 0; k < (seed >> 32) % 4; k++)
					ok &= !it[k].hit ||
					    ((const uint8_t *)it[k].val >= body &&
					        (const uint8_t *)it[k].val + it[k].vlen <=
					            body + bl);
			if (nact_cache_reply_value(m, &hit, &v, &vl) == 0 && hit)
				ok &= (const uint8_t *)v >= body &&
				    (const uint8_t *)v + vl <= body + bl;
			(void)nact_cache_reply_done(m, &n);
		}
		nact_msg_free(m);
	}
	CHECK(ok);
	nact_system_close(sys, TMO);
}

/* nact_msgpack_value_size: every msgpack type, every truncation. */
static void test_value_size(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "abc", 3);
	msgpack_pack_nil(&pk);
	msgpack_pack_int64(&pk, -5);
	msgpack_pack_array(&pk, 20);
	int64_t ints[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967296ll, -1, -32, -33, -129,
	    -32769, -2147483649ll};
	for (size_t i = 0; i < 14; i++)
		msgpack_pack_int64(&pk, ints[i]);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_ext(&pk, 1, 7);
	msgpack_pack_ext_body(&pk, "x", 1);
	char big[70000];
	memset(big, 'b', sizeof(big));
	msgpack_pack_array(&pk, 6);
	msgpack_pack_str(&pk, 40); /* str8 */
	msgpack_pack_str_body(&pk, big, 40);
	msgpack_pack_str(&pk, 300); /* str16 */
	msgpack_pack_str_body(&pk, big, 300);
	msgpack_pack_bin(&pk, 70000); /* bin32 */
	msgpack_pack_bin_body(&pk, big, 70000);
	msgpack_pack_ext(&pk, 4, 2); /* fixext4 */
	msgpack_pack_ext_body(&pk, big, 4);
	msgpack_pack_ext(&pk, 300, 3); /* ext16 */
	msgpack_pack_ext_body(&pk, big, 300);
	msgpack_pack_map(&pk, 20); /* map16 */
	for (int i = 0; i < 20; i++) {
		msgpack_pack_int(&pk, i);
		msgpack_pack_array(&pk, 0);
	}
	size_t n = 0;
	CHECK_RV(nact_msgpack_value_size(sb.data, sb.size, &n));
	CHECK_EQ_U64(n, sb.size);
	/* Every proper prefix is truncated; a trailing byte is not counted. */
	int bad = 0;
	for (size_t len = 0; len < sb.size; len++)
		if (nact_msgpack_value_size(sb.data, len, &n) != NACT_ETRUNC)
			bad++;
	CHECK_EQ_INT(bad, 0);
	msgpack_sbuffer_write(&sb, "\x01", 1);
	CHECK_RV(nact_msgpack_value_size(sb.data, sb.size, &n));
	CHECK_EQ_U64(n, sb.size - 1);
	msgpack_sbuffer_destroy(&sb);
	CHECK_ERR(nact_msgpack_value_size("\xc1", 1, &n), NACT_EMALFORMED);
	CHECK_ERR(nact_msgpack_value_size("\x92\x01\xc1", 3, &n), NACT_EMALFORMED);
	CHECK_ERR(nact_msgpack_value_size("\xdf\xff\xff\xff\xff", 5, &n), NACT_ETRUNC);
	CHECK_ERR(nact_msgpack_value_size("", 0, &n), NACT_ETRUNC);
}

/* ---- batches (MGET / MSET) ---- */

/* items[i] = {key k[i], value msgpack str v[i]} (vbuf holds the values). */
static void items_of(nact_cache_item *it, uint8_t (*vbuf)[40], const char *const *k,
    const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&it[i], 0, sizeof(it[i]));
		it[i].key = k[i];
		it[i].klen = strlen(k[i]);
		if (v != NULL) {
			it[i].vlen = mp_str(vbuf[i], v[i]);
			it[i].val = vbuf[i];
		}
	}
}

/* mget keys k; want[i] = the value's str, or NULL for a miss. 1 if all
 * match. */
static int mget_is(nact_system *sys, nact_aid c, const char *const *k, const char *const *want,
    size_t n)
{
	nact_cache_item it[16];
	nact_msg *rep = NULL;
	items_of(it, NULL, k, NULL, n);
	int rv = nact_cache_mget(sys, c, it, n, &rep, TMO);
	if (rv != 0) {
		fprintf(stderr, "  mget: %s\n", nact_strerror(rv));
		return 0;
	}
	int ok = 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t w[40];
		size_t wn = want[i] ? mp_str(w, want[i]) : 0;
		if (it[i].hit != (want[i] != NULL) ||
		    (want[i] && (it[i].vlen != wn || memcmp(it[i].val, w, wn) != 0))) {
			fprintf(stderr, "  mget: key %s: hit %d, wanted %s\n", k[i], it[i].hit,
			    want[i] ? want[i] : "a miss");
			ok = 0;
		}
	}
	nact_msg_free(rep);
	return ok;
}

/* A raw request (body bytes as given); the error code of the reply, 0 for
 * a non-error reply, -1 if no reply. */
static int raw_call(nact_system *sys, nact_aid c, uint32_t type, const void *body, size_t len)
{
	nact_msg *m, *rep = NULL;
	if (nact_msg_alloc(&m, sys, type) != 0)
		return -1;
	if (len > 0 && nng_msg_append(nact_msg_nng(m), body, len) != 0) {
		nact_msg_free(m);
		return -1;
	}
	int rv = nact_call(sys, c, m, TMO, &rep);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		return -1;
	}
	int code = 0;
	if (nact_msg_type(rep) == NACT_T_ERROR && nact_error_read(rep, &code, NULL, 0) != 0)
		code = -1;
	nact_msg_free(rep);
	return code;
}

static void test_batch(void)
{
	nact_system *sys;
	nact_aid c;
	nact_cache_config cfg;
	nact_cache_item it[NACT_CACHE_BATCH_MAX + 1];
	static uint8_t vb[NACT_CACHE_BATCH_MAX + 1][40];
	uint64_t n = 0;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_cache_spawn(&c, sys, NULL));

	/* Hits and misses mixed, in the keys' order; a repeated key. */
	const char *k3[] = {"a", "b", "c"}, *v3[] = {"1", "2", "3"};
	items_of(it, vb, k3, v3, 3);
	CHECK_RV(nact_cache_mset(sys, c, it, 3, -1, &n, TMO));
	CHECK_EQ_U64(n, 3);
	const char *k5[] = {"a", "x", "c", "b", "a"}, *w5[] = {"1", NULL, "3", "2", "1"};
	CHECK(mget_is(sys, c, k5, w5, 5));
	nact_cache_stats st = stats(sys, c);
	CHECK_EQ_U64(st.sets, 3);
	CHECK_EQ_U64(st.hits, 4);
	CHECK_EQ_U64(st.misses, 1);
	CHECK_EQ_U64(st.entries, 3);
	/* Single-key requests see what a batch stored, and the reverse. */
	CHECK_EQ_INT(cget(sys, c, "b", "2"), 1);
	CHECK_RV(cset(sys, c, "x", "X", -1));
	const char *kx[] = {"x"}, *wx[] = {"X"};
	CHECK(mget_is(sys, c, kx, wx, 1));

	/* Empty batches. */
	CHECK_RV(nact_cache_mset(sys, c, NULL, 0, -1, &n, TMO));
	CHECK_EQ_U64(n, 0);
	CHECK(mget_is(sys, c, NULL, NULL, 0));

	/* The limit: exactly NACT_CACHE_BATCH_MAX works, one more is refused
	 * by the builders (NACT_EINVAL) and by the cache (NACT_ELIMIT). */
	static char keys[NACT_CACHE_BATCH_MAX + 1][16];
	for (size_t i = 0; i <= NACT_CACHE_BATCH_MAX; i++) {
		snprintf(keys[i], sizeof(keys[i]), "m%zu", i);
		memset(&it[i], 0, sizeof(it[i]));
		it[i].key = keys[i];
		it[i].klen = strlen(keys[i]);
		it[i].vlen = mp_str(vb[i], keys[i]);
		it[i].val = vb[i];
	}
	CHECK_RV(nact_cache_mset(sys, c, it, NACT_CACHE_BATCH_MAX, 0, &n, TMO));
	CHECK_EQ_U64(n, NACT_CACHE_BATCH_MAX);
	nact_msg *rep = NULL, *m;
	CHECK_RV(nact_cache_mget(sys, c, it, NACT_CACHE_BATCH_MAX, &rep, TMO));
	int allhit = 1;
	for (size_t i = 0; i < NACT_CACHE_BATCH_MAX; i++)
		allhit &= it[i].hit && it[i].vlen == 1 + strlen(keys[i]) &&
		    memcmp((const uint8_t *)it[i].val + 1, keys[i], strlen(keys[i])) == 0;
	CHECK(allhit);
	nact_msg_free(rep);
	CHECK_ERR(nact_cache_msg_mget(&m, sys, it, NACT_CACHE_BATCH_MAX + 1), NACT_EINVAL);
	CHECK_ERR(nact_cache_msg_mset(&m, sys, it, NACT_CACHE_BATCH_MAX + 1, 0), NACT_EINVAL);
	static uint8_t raw[3 + 1 + 3 * (NACT_CACHE_BATCH_MAX + 1)];
	size_t o = 0;
	uint32_t cnt = NACT_CACHE_BATCH_MAX + 1;
	raw[o++] = 0xdc;
	raw[o++] = (uint8_t)(cnt >> 8);
	raw[o++] = (uint8_t)cnt;
	for (uint32_t i = 0; i < cnt; i++) {
		raw[o++] = 0xa1;
		raw[o++] = 'k';
	}
	CHECK_EQ_INT(raw_call(sys, c, NACT_T_CACHE_MGET, raw, o), NACT_ELIMIT);
	o = 0;
	cnt = 1 + 2 * (NACT_CACHE_BATCH_MAX + 1);
	raw[o++] = 0xdc;
	raw[o++] = (uint8_t)(cnt >> 8);
	raw[o++] = (uint8_t)cnt;
	raw[o++] = 0x00; /* ttl */
	for (uint32_t i = 0; i < NACT_CACHE_BATCH_MAX + 1; i++) {
		raw[o++] = 0xa1;
		raw[o++] = 'k';
		raw[o++] = 0x01;
	}
	CHECK_EQ_INT(raw_call(sys, c, NACT_T_CACHE_MSET, raw, o), NACT_ELIMIT);
	CHECK_EQ_INT(raw_call(sys, c, NACT_T_CACHE_MGET, "\xdd\xff\xff\xff\xff", 5), NACT_ELIMIT);

	/* A bad pair refuses the whole batch: nothing stored. */
	uint64_t before = stats(sys, c).entries;
	CHECK_EQ_INT(raw_call(sys, c, NACT_T_CACHE_MSET, "\x95\x00\xa1p\x01\xa1q\xc1", 7),
	    NACT_EBADMSG);
	CHECK_EQ_U64(stats(sys, c).entries, before);
	CHECK_EQ_INT(cget(sys, c, "p", ""), 0);
	uint8_t bad[2] = {0xc1, 0};
	it[0].val = bad;
	it[0].vlen = 1;
	CHECK_ERR(nact_cache_msg_mset(&m, sys, it, 2, 0), NACT_EINVAL);
	/* A cast MSET is applied. */
	const char *kc[] = {"cast"}, *vc[] = {"C"};
	items_of(it, vb, kc, vc, 1);
	REQUIRE_RV(nact_cache_msg_mset(&m, sys, it, 1, -1));
	CHECK_RV(nact_send(sys, c, m));
	CHECK(NT_WAIT(cget(sys, c, "cast", "C") == 1, NT_LONG_MS));
	nact_system_close(sys, TMO);

	/* TTL per key (manual clock), and an entry over max_bytes refuses the
	 * batch. */
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MANUAL));
	nact_cache_config_init(&cfg);
	cfg.default_ttl_ms = 1000;
	cfg.sweep_ms = 60000;
	cfg.max_bytes = 60;
	REQUIRE_RV(nact_cache_spawn(&c, sys, &cfg));
	const char *kt[] = {"s1", "s2"}, *vt[] = {"1", "2"};
	items_of(it, vb, kt, vt, 2);
	CHECK_RV(nact_cache_mset(sys, c, it, 2, 100, NULL, TMO));
	const char *kd[] = {"d1"}, *vd[] = {"3"};
	items_of(it, vb, kd, vd, 1);
	CHECK_RV(nact_cache_mset(sys, c, it, 1, -1, NULL, TMO)); /* the default 1000 */
	const char *kn[] = {"n1"}, *vn[] = {"4"};
	items_of(it, vb, kn, vn, 1);
	CHECK_RV(nact_cache_mset(sys, c, it, 1, 0, NULL, TMO)); /* never */
	const char *ka[] = {"s1", "s2", "d1", "n1"};
	const char *wa0[] = {"1", "2", "3", "4"}, *wa1[] = {NULL, NULL, "3", "4"},
	           *wa2[] = {NULL, NULL, NULL, "4"};
	CHECK(mget_is(sys, c, ka, wa0, 4));
	CHECK_RV(nact_clock_advance(sys, 100 * 1000000ull));
	CHECK(mget_is(sys, c, ka, wa1, 4));
	CHECK_RV(nact_clock_advance(sys, 900 * 1000000ull));
	CHECK(mget_is(sys, c, ka, wa2, 4));
	CHECK_EQ_U64(stats(sys, c).expirations, 3);
	char big[80];
	memset(big, 'b', sizeof(big));
	big[79] = 0;
	uint8_t bigv[90];
	bigv[0] = 0xd9;
	bigv[1] = 79;
	memcpy(bigv + 2, big, 79);
	items_of(it, vb, kd, vd, 1);
	memset(&it[1], 0, sizeof(it[1]));
	it[1].key = "big";
	it[1].klen = 3;
	it[1].val = bigv;
	it[1].vlen = 81; /* 3 + 81 > 60 */
	CHECK_RV(nact_cache_mset(sys, c, it, 1, 0, NULL, TMO));
	CHECK_ERR(nact_cache_mset(sys, c, it + 1, 1, 0, NULL, TMO), NACT_ERESOURCE);
	uint64_t sets = stats(sys, c).sets;
	CHECK_ERR(nact_cache_mset(sys, c, it, 2, 0, NULL, TMO), NACT_ERESOURCE);
	CHECK_EQ_U64(stats(sys, c).sets, sets); /* d1 not stored again either */
	nact_system_close(sys, TMO);

	/* LRU per key: a batch get refreshes, a batch set evicts in order. */
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_cache_config_init(&cfg);
	cfg.max_entries = 3;
	REQUIRE_RV(nact_cache_spawn(&c, sys, &cfg));
	items_of(it, vb, k3, v3, 3);
	CHECK_RV(nact_cache_mset(sys, c, it, 3, -1, NULL, TMO));
	const char *kr[] = {"a"}, *wr[] = {"1"};
	CHECK(mget_is(sys, c, kr, wr, 1)); /* a is now the most recent */
	const char *k2[] = {"d", "e"}, *v2[] = {"4", "5"};
	items_of(it, vb, k2, v2, 2);
	CHECK_RV(nact_cache_mset(sys, c, it, 2, -1, NULL, TMO)); /* evicts b, then c */
	const char *kl[] = {"a", "b", "c", "d", "e"}, *wl[] = {"1", NULL, NULL, "4", "5"};
	CHECK(mget_is(sys, c, kl, wl, 5));
	/* A batch larger than the bound keeps its last keys. */
	const char *k6[] = {"p", "q", "r", "s", "t"}, *v6[] = {"1", "2", "3", "4", "5"};
	items_of(it, vb, k6, v6, 5);
	CHECK_RV(nact_cache_mset(sys, c, it, 5, -1, NULL, TMO));
	const char *w6[] = {NULL, NULL, "3", "4", "5"};
	CHECK(mget_is(sys, c, k6, w6, 5));
	st = stats(sys, c);
	CHECK_EQ_U64(st.evictions, 2 + 5);
	CHECK_EQ_U64(st.entries, 3);
	nact_system_close(sys, TMO);

	/* A layered cache refuses batches (NACT_ENOTSUP), single keys work. */
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid shared, l1;
	REQUIRE_RV(nact_cache_spawn(&shared, sys, NULL));
	nact_cache_config_init(&cfg);
	cfg.backing = shared;
	REQUIRE_RV(nact_cache_spawn(&l1, sys, &cfg));
	items_of(it, vb, k3, v3, 3);
	CHECK_ERR(nact_cache_mset(sys, l1, it, 3, -1, NULL, TMO), NACT_ENOTSUP);
	CHECK_ERR(nact_cache_mget(sys, l1, it, 3, &rep, TMO), NACT_ENOTSUP);
	CHECK(rep == NULL);
	CHECK_RV(nact_cache_mset(sys, shared, it, 3, -1, NULL, TMO));
	CHECK_EQ_INT(cget(sys, l1, "b", "2"), 1);
	nact_system_close(sys, TMO);
}

/* ---- supervision ---- */

static void test_supervised(void)
{
	nact_system *sys;
	nact_aid sup;
	nact_cache_config cfg;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_cache_config_init(&cfg);
	cfg.name = "sessions";
	nact_child_spec child = {.id = "sessions",
	    .start = nact_cache_child_start,
	    .arg = &cfg,
	    .restart = NACT_PERMANENT};
	nact_sup_spec spec = {.name = "caches",
	    .strategy = NACT_ONE_FOR_ONE,
	    .children = &child,
	    .nchildren = 1};
	REQUIRE_RV(nact_sup_start(&sup, sys, &spec));
	nact_child_info ci;
	uint32_t nci = 0;
	REQUIRE_RV(nact_sup_children(sys, sup, &ci, 1, &nci, TMO));
	REQUIRE(nci == 1 && ci.running);
	nact_aid c = ci.aid;
	CHECK_RV(cset(sys, c, "s", "1", -1));
	CHECK_RV(nact_kill(sys, c));
	CHECK(NT_WAIT(nact_sup_children(sys, sup, &ci, 1, &nci, TMO) == 0 && ci.running &&
	        ci.aid.v != c.v,
	    NT_LONG_MS));
	CHECK_EQ_INT(cget(sys, ci.aid, "s", ""), 0); /* restarted empty */
	CHECK_RV(cset(sys, ci.aid, "s", "2", -1));
	CHECK_EQ_INT(cget(sys, ci.aid, "s", "2"), 1);
	nact_system_close(sys, TMO);
}

NT_MAIN(NT_CASE(test_basic), NT_CASE(test_ttl), NT_CASE(test_lru), NT_CASE(test_compute_once),
    NT_CASE(test_compute_fail), NT_CASE(test_compute_timeout), NT_CASE(test_computer_threads),
    NT_CASE(test_layered), NT_CASE(test_events), NT_CASE(test_bad_input),
    NT_CASE(test_random_bodies), NT_CASE(test_value_size), NT_CASE(test_batch),
    NT_CASE(test_supervised))
