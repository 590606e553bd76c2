/*
 * cache.c — get/set messages per second through a cache actor, to put
 * beside redis-benchmark on loopback (bench/cache-vs-redis.sh).
 *
 *   cache [N [KEYS [VALUESIZE [P [CLIENTS]]]]]
 *       (defaults 1000000 100000 3, P both 16 and 1, CLIENTS 1)
 *
 * A client actor keeps up to P requests in flight (nact_request, the path
 * any actor uses), like redis-benchmark -P 16 keeps 16 commands in flight
 * per connection; each reply sends the next request until N have been
 * answered. Keys are "key:%012d" with a random number below KEYS (as
 * redis-benchmark -r KEYS writes them), values VALUESIZE bytes (a msgpack
 * bin, as redis-benchmark -d writes VALUESIZE bytes). First N sets, then N
 * gets. CLIENTS > 1 runs that many client actors, each with P in flight
 * and N/CLIENTS requests (redis-benchmark's -c: the clients' own work is
 * then spread over the workers). Prints per phase and P:
 *
 *   peer=nactor bench=cache_set n=N seconds=S rate=R pipeline=P keys=K value_size=V clients=C
 *   peer=nactor bench=cache_get n=N seconds=S rate=R pipeline=P keys=K value_size=V clients=C hits=H
 *
 * and checks its own results: every request answered, no error reply, the
 * values read back are the bytes written, and the cache's own stats agree
 * (sets = N, hits + misses = N).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/cache.h>
#include <nactor/nactor.h>

#include <nng/supplemental/util/platform.h>

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

static void send_one(nact_ctx *ctx, client *c);

static void on_reply(nact_ctx *ctx, nact_msg *rep, int err, void *arg)
{
	client *c = arg;
	if (err != 0) {
		c->errs++;
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

static void send_one(nact_ctx *ctx, client *c)
{
	/* "key:%012ld" with the digits written in place, as redis-benchmark
	 * does for -r (snprintf alone cost 20% of the client's time). */
	char key[16] = "key:000000000000";
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	uint64_t r = c->rng % (uint64_t)c->keys;
	for (int i = 15; i >= 4 && r > 0; i--, r /= 10)
		key[i] = (char)('0' + r % 10);
	size_t kl = sizeof(key);
	nact_msg *m;
	int rv = c->set ?
	    nact_cache_msg_set(&m, nact_sys(ctx), key, (size_t)kl, c->val, c->vlen, -1) :
	    nact_cache_msg_get(&m, nact_sys(ctx), key, (size_t)kl);
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
	if (n < 1 || keys < 1 || vs < 1 || vs > 1000000 || p < 0 || p > 100000 || nc < 1 ||
	    nc > 64 || nc > n) {
		fprintf(stderr, "usage: cache [N [KEYS [VALUESIZE [P [CLIENTS]]]]]\n");
		return 2;
	}
	int pipes[2] = {16, 1}, np = 2;
	if (p > 0) {
		pipes[0] = (int)p;
		np = 1;
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
		}
		if (nng_mtx_alloc(&g.mtx) != 0 || nng_cv_alloc(&g.cv, g.mtx) != 0)
			return 1;
		for (int set = 1; set >= 0; set--) {
			double s = 0;
			rv = run(sys, cache, cs, (int)nc, &g, set, n, keys, pipes[pi], &c, &s);
			if (rv != 0 || c.errs != 0 || c.badval != 0 || c.got != n) {
				fprintf(stderr,
				    "cache: %s P=%d: rv=%s errors=%ld bad values=%ld answered=%ld/%ld\n",
				    set ? "set" : "get", pipes[pi], nact_strerror(rv), c.errs,
				    c.badval, c.got, n);
				fails++;
			}
			printf(
			    "peer=nactor bench=cache_%s n=%ld seconds=%.3f rate=%.0f pipeline=%d "
			    "keys=%ld value_size=%ld clients=%ld",
			    set ? "set" : "get", n, s, n / s, pipes[pi], keys, vs, nc);
			if (!set)
				printf(" hits=%ld", c.hits);
			printf("\n");
			fflush(stdout);
		}
		nact_cache_stats st;
		if ((rv = nact_cache_stats_get(sys, cache, &st, 10000)) != 0 ||
		    st.sets != (uint64_t)n || st.hits + st.misses != (uint64_t)n ||
		    st.hits != (uint64_t)c.hits) {
			fprintf(stderr,
			    "cache: stats disagree: %s sets=%llu hits=%llu misses=%llu\n",
			    nact_strerror(rv), (unsigned long long)st.sets,
			    (unsigned long long)st.hits, (unsigned long long)st.misses);
			fails++;
		}
		nact_system_close(sys, 10000);
		nng_cv_free(g.cv);
		nng_mtx_free(g.mtx);
	}
	free(val);
	return fails ? 1 : 0;
}
