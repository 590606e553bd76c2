/*
 * cache.c — get/set messages per second through a cache actor, to put
 * beside redis-benchmark on loopback (bench/cache-vs-redis.sh).
 *
 *   cache [N [KEYS [VALUESIZE [P [CLIENTS [BATCH [BATCH_P]]]]]]]
 *       (defaults 1000000 100000 3, P both 16 and 1, CLIENTS 1, BATCH 16,
 *       BATCH_P 4; BATCH 0 skips the batched run)
 *
 * A client actor keeps up to P requests in flight (nact_request, the path
 * any actor uses), like redis-benchmark -P 16 keeps 16 commands in flight
 * per connection; each reply sends the next request until N have been
 * answered. Keys are "key:%012d" with a random number below KEYS (as
 * redis-benchmark -r KEYS writes them), values VALUESIZE bytes (a msgpack
 * bin, as redis-benchmark -d writes VALUESIZE bytes). First N sets, then N
 * gets. Every operation is its own nact_msg request; its body is copied
 * from a template built once by nact_cache_msg_set / _get with the key's
 * digits overwritten in place (redis-benchmark does the same with its
 * command buffer). CLIENTS > 1 runs that many client actors, each with P
 * in flight and N/CLIENTS requests (redis-benchmark's -c).
 *
 * Then the batched run: N/BATCH MSET and then MGET messages of BATCH keys
 * each (random keys as above), BATCH_P messages in flight per client: the
 * rate counts keys (operations), msg_rate counts messages. Prints:
 *
 *   peer=nactor bench=cache_set n=N seconds=S rate=R pipeline=P keys=K value_size=V clients=C
 *   peer=nactor bench=cache_get n=N seconds=S rate=R pipeline=P keys=K value_size=V clients=C hits=H
 *   peer=nactor bench=cache_mset n=N seconds=S rate=R pipeline=BP ... batch=B messages=M msg_rate=MR
 *   peer=nactor bench=cache_mget n=N seconds=S rate=R pipeline=BP ... batch=B messages=M msg_rate=MR hits=H
 *
 * Every line also has cpu_seconds (user + system CPU time of the whole
 * process during the phase: client, cache and runtime threads) and
 * ops_per_cpu_second, which depends far less than the rate on what else
 * the machine is running.
 *
 * and checks its own results: every request answered, no error reply, the
 * values read back are the bytes written (every key of a batch), and the
 * cache's own stats agree (sets = N, hits + misses = N).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nactor/cache.h>
#include <nactor/nactor.h>

#include <nng/supplemental/util/platform.h>

#define MAX_BATCH 64

/* A prebuilt request body: the 12 digits of key i are at body + dig[i]. */
struct tmpl {
	uint32_t type;
	uint8_t *body; /* malloc'd */
	size_t len;
	int nkeys;
	size_t dig[MAX_BATCH];
};

/* The body of a set (or get) of "key:000000000000" as the library builds
 * it; batch > 0: an MSET (MGET) of batch such keys. */
static int make_tmpl(struct tmpl *t, nact_system *sys, int set, const uint8_t *val, size_t vlen,
    int batch)
{
	static const char key[] = "key:000000000000";
	nact_cache_item it[MAX_BATCH];
	for (int i = 0; i < batch; i++) {
		memset(&it[i], 0, sizeof(it[i]));
		it[i].key = key;
		it[i].klen = 16;
		it[i].val = val;
		it[i].vlen = vlen;
	}
	nact_msg *m;
	int rv;
	if (batch > 0)
		rv = set ? nact_cache_msg_mset(&m, sys, it, (size_t)batch, -1) :
		           nact_cache_msg_mget(&m, sys, it, (size_t)batch);
	else
		rv = set ? nact_cache_msg_set(&m, sys, key, 16, val, vlen, -1) :
		           nact_cache_msg_get(&m, sys, key, 16);
	if (rv != 0)
		return rv;
	size_t n;
	const uint8_t *b = nact_msg_body(m, &n);
	t->type = nact_msg_type(m);
	t->body = malloc(n);
	t->len = n;
	t->nkeys = 0;
	/* The value is 'x' bytes: the only "key:" strings are the keys. */
	for (size_t i = 0; t->body != NULL && i + 16 <= n && t->nkeys < MAX_BATCH; i++) {
		if (memcmp(b + i, key, 16) == 0) {
			t->dig[t->nkeys++] = i + 4;
			i += 15;
		}
	}
	if (t->body != NULL)
		memcpy(t->body, b, n);
	nact_msg_free(m);
	if (t->body == NULL)
		return NACT_ENOMEM;
	return t->nkeys == (batch > 0 ? batch : 1) ? 0 : NACT_EINVAL;
}

typedef struct client {
	nact_aid cache;
	int set;        /* phase: 1 sets, 0 gets */
	long n, keys;   /* requests to make; key space */
	int pipe;       /* in flight */
	long sent, got; /* so far */
	long errs, hits, badval;
	uint64_t rng;
	const uint8_t *val; /* msgpack bin of VALUESIZE bytes */
	size_t vlen;
	struct group *g; /* where it says it is done */
	int batch;       /* 0: one key per message; else keys per MSET/MGET */
	struct tmpl tset, tget;
} client;

/* The clients of one run, and how many have finished. */
struct group {
	nng_mtx *mtx;
	nng_cv *cv;
	int done;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) used by the whole process so far. */
static double cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	    ru.ru_stime.tv_usec / 1e6;
}

static void send_one(nact_ctx *ctx, client *c);

static void on_reply(nact_ctx *ctx, nact_msg *rep, int err, void *arg)
{
	client *c = arg;
	if (err != 0) {
		c->errs++;
	} else if (c->batch > 0 && c->set) {
		uint64_t n = 0;
		if (nact_cache_reply_done(rep, &n) != 0 || n != (uint64_t)c->batch)
			c->errs++;
	} else if (c->batch > 0) {
		nact_cache_item it[MAX_BATCH];
		if (nact_cache_reply_mvalue(rep, it, (size_t)c->batch) != 0) {
			c->errs++;
		} else {
			for (int i = 0; i < c->batch; i++) {
				if (it[i].hit &&
				    (it[i].vlen != c->vlen ||
				        memcmp(it[i].val, c->val, c->vlen) != 0))
					c->badval++;
				else
					c->hits += it[i].hit;
			}
		}
	} else if (c->set) {
		if (nact_cache_reply_done(rep, NULL) != 0)
			c->errs++;
	} else {
		int hit = 0;
		const void *v;
		size_t vl;
		if (nact_cache_reply_value(rep, &hit, &v, &vl) != 0)
			c->errs++;
		else if (hit && (vl != c->vlen || memcmp(v, c->val, vl) != 0))
			c->badval++;
		else
			c->hits += hit;
	}
	c->got++;
	if (c->sent < c->n)
		send_one(ctx, c);
	if (c->got == c->n) {
		nng_mtx_lock(c->g->mtx);
		c->g->done++;
		nng_cv_wake(c->g->cv);
		nng_mtx_unlock(c->g->mtx);
	}
}

/* Write r as 12 decimal digits at d, two digits per step (redis-benchmark
 * likewise overwrites the digits of its prebuilt command in place). */
static void put_digits(char *d, uint64_t r)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
	                            "25262728293031323334353637383940414243444546474849"
	                            "50515253545556575859606162636465666768697071727374"
	                            "75767778798081828384858687888990919293949596979899";
	for (int i = 10; i >= 0; i -= 2, r /= 100)
		memcpy(d + i, pairs + 2 * (r % 100), 2);
}

static uint64_t next_key(client *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng % (uint64_t)c->keys;
}

static void send_one(nact_ctx *ctx, client *c)
{
	/* A real request message per operation: a fresh nact_msg of the
	 * cache's type whose body is the template (made once by
	 * nact_cache_msg_set / _get, so the bytes are the library's own)
	 * with the key's digits overwritten in place. */
	struct tmpl *t = c->set ? &c->tset : &c->tget;
	for (int i = 0; i < t->nkeys; i++)
		put_digits((char *)t->body + t->dig[i], next_key(c));
	nact_msg *m;
	int rv = nact_msg_alloc(&m, nact_sys(ctx), t->type);
	if (rv == 0 && nng_msg_append(nact_msg_nng(m), t->body, t->len) != 0) {
		nact_msg_free(m);
		rv = NACT_ENOMEM;
	}
	c->sent++;
	if (rv == 0 && (rv = nact_request(ctx, c->cache, m, 30000, on_reply, c)) != 0)
		nact_msg_free(m);
	if (rv != 0) { /* count it as answered, with an error */
		c->errs++;
		c->got++;
	}
}

static int client_fn(nact_ctx *ctx, nact_msg *m)
{
	client *c = nact_state(ctx);
	(void)m;
	for (int i = 0; i < c->pipe && c->sent < c->n; i++)
		send_one(ctx, c);
	return 0;
}

/* One phase with nc clients; the results are summed into *sum. */
static int run(nact_system *sys, nact_aid cache, client *cs, int nc, struct group *g, int set,
    long n, long keys, int pipe, client *sum, double *secs)
{
	nact_aid cl[64];
	int rv = 0, spawned = 0;
	g->done = 0;
	for (int i = 0; i < nc; i++) {
		client *c = &cs[i];
		c->set = set;
		c->n = n / nc + (i < n % nc);
		c->keys = keys;
		c->pipe = pipe;
		c->sent = c->got = c->errs = c->hits = c->badval = 0;
		c->cache = cache;
		c->g = g;
		if ((rv = nact_spawn(&cl[i], sys, client_fn, c, NULL, NULL)) != 0)
			break;
		spawned++;
	}
	double t0 = now_s();
	for (int i = 0; rv == 0 && i < spawned; i++) {
		nact_msg *go;
		if ((rv = nact_msg_alloc(&go, sys, 1)) != 0)
			break;
		if ((rv = nact_send(sys, cl[i], go)) != 0)
			nact_msg_free(go);
	}
	nng_mtx_lock(g->mtx);
	nng_time dl = nng_clock() + 600000;
	while (rv == 0 && g->done < spawned)
		if (nng_cv_until(g->cv, dl) == NNG_ETIMEDOUT)
			break;
	int done = g->done == nc;
	nng_mtx_unlock(g->mtx);
	*secs = now_s() - t0;
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < spawned; i++) {
		nact_stop(sys, cl[i]);
		sum->got += cs[i].got;
		sum->errs += cs[i].errs;
		sum->hits += cs[i].hits;
		sum->badval += cs[i].badval;
	}
	return rv != 0 ? rv : done ? 0 : NACT_ETIMEDOUT;
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
	long n = arg_or(argc, argv, 1, 1000000), keys = arg_or(argc, argv, 2, 100000);
	long vs = arg_or(argc, argv, 3, 3), p = arg_or(argc, argv, 4, 0);
	long nc = arg_or(argc, argv, 5, 1);
	/* BATCH 0 (skip the batched phase) is allowed. */
	long batch = argc > 6 ? (strcmp(argv[6], "0") == 0 ? 0 : arg_or(argc, argv, 6, 16)) : 16;
	long bp = arg_or(argc, argv, 7, 4);
	if (n < 1 || keys < 1 || vs < 1 || vs > 1000000 || p < 0 || p > 100000 || nc < 1 ||
	    nc > 64 || nc > n || batch < 0 || batch > MAX_BATCH || bp < 1 || bp > 100000 ||
	    (batch > 0 && n / batch < nc)) {
		fprintf(stderr,
		    "usage: cache [N [KEYS [VALUESIZE [P [CLIENTS [BATCH [BATCH_P]]]]]]]\n");
		return 2;
	}
	/* The runs: {messages in flight, keys per message (0: one GET/SET)}. */
	int pipes[3] = {16, 1, (int)bp}, bats[3] = {0, 0, (int)batch}, np = 0;
	int runs_p[3], runs_b[3];
	for (int i = 0; i < 3; i++) {
		if (i == 1 && p > 0)
			continue; /* P given: only that depth, one key per message */
		if (i == 2 && batch == 0)
			continue;
		runs_p[np] = i == 0 && p > 0 ? (int)p : pipes[i];
		runs_b[np++] = bats[i];
	}
	uint8_t *val = malloc((size_t)vs + 5);
	if (val == NULL)
		return 1;
	size_t vlen;
	if (vs < 256) {
		val[0] = 0xc4;
		val[1] = (uint8_t)vs;
		vlen = 2;
	} else if (vs < 65536) {
		val[0] = 0xc5;
		val[1] = (uint8_t)(vs >> 8);
		val[2] = (uint8_t)vs;
		vlen = 3;
	} else {
		val[0] = 0xc6;
		for (int i = 0; i < 4; i++)
			val[1 + i] = (uint8_t)(vs >> (24 - 8 * i));
		vlen = 5;
	}
	memset(val + vlen, 'x', (size_t)vs);
	vlen += (size_t)vs;

	int fails = 0;
	for (int pi = 0; pi < np; pi++) {
		nact_system *sys;
		nact_aid cache;
		int rv;
		if ((rv = nact_system_open(&sys, NULL)) != 0 ||
		    (rv = nact_cache_spawn(&cache, sys, NULL)) != 0) {
			fprintf(stderr, "cache: open: %s\n", nact_strerror(rv));
			return 1;
		}
		static client cs[64];
		client c; /* the sums */
		struct group g = {0};
		memset(cs, 0, sizeof(cs));
		for (int i = 0; i < nc; i++) {
			cs[i].rng = 0x2545F4914F6CDD1Dull + 0x9E3779B97F4A7C15ull * (uint64_t)i;
			cs[i].val = val;
			cs[i].vlen = vlen;
			cs[i].batch = runs_b[pi];
			if (make_tmpl(&cs[i].tset, sys, 1, val, vlen, runs_b[pi]) != 0 ||
			    make_tmpl(&cs[i].tget, sys, 0, val, vlen, runs_b[pi]) != 0) {
				fprintf(stderr, "cache: cannot build the request templates\n");
				return 1;
			}
		}
		if (nng_mtx_alloc(&g.mtx) != 0 || nng_cv_alloc(&g.cv, g.mtx) != 0)
			return 1;
		int b = runs_b[pi], pp = runs_p[pi];
		long msgs = b > 0 ? n / b : n;   /* messages per phase */
		long ops = b > 0 ? msgs * b : n; /* keys per phase */
		for (int set = 1; set >= 0; set--) {
			double s = 0;
			const char *name = b > 0 ? (set ? "mset" : "mget") : (set ? "set" : "get");
			double cpu0 = cpu_s();
			rv = run(sys, cache, cs, (int)nc, &g, set, msgs, keys, pp, &c, &s);
			double cpu = cpu_s() - cpu0;
			if (rv != 0 || c.errs != 0 || c.badval != 0 || c.got != msgs) {
				fprintf(stderr,
				    "cache: %s P=%d: rv=%s errors=%ld bad values=%ld answered=%ld/%ld\n",
				    name, pp, nact_strerror(rv), c.errs, c.badval, c.got, msgs);
				fails++;
			}
			printf(
			    "peer=nactor bench=cache_%s n=%ld seconds=%.3f rate=%.0f pipeline=%d "
			    "keys=%ld value_size=%ld clients=%ld",
			    name, ops, s, ops / s, pp, keys, vs, nc);
			printf(" cpu_seconds=%.3f ops_per_cpu_second=%.0f", cpu,
			    cpu > 0 ? ops / cpu : 0.0);
			if (b > 0)
				printf(" batch=%d messages=%ld msg_rate=%.0f", b, msgs, msgs / s);
			if (!set)
				printf(" hits=%ld", c.hits);
			printf("\n");
			fflush(stdout);
		}
		nact_cache_stats st;
		if ((rv = nact_cache_stats_get(sys, cache, &st, 10000)) != 0 ||
		    st.sets != (uint64_t)ops || st.hits + st.misses != (uint64_t)ops ||
		    st.hits != (uint64_t)c.hits) {
			fprintf(stderr,
			    "cache: stats disagree: %s sets=%llu hits=%llu misses=%llu\n",
			    nact_strerror(rv), (unsigned long long)st.sets,
			    (unsigned long long)st.hits, (unsigned long long)st.misses);
			fails++;
		}
		for (int i = 0; i < nc; i++) {
			free(cs[i].tset.body);
			free(cs[i].tget.body);
		}
		nact_system_close(sys, 10000);
		nng_cv_free(g.cv);
		nng_mtx_free(g.mtx);
	}
	free(val);
	return fails ? 1 : 0;
}
