/*
 * transport/dcache.c — the distributed cache front end (include/nactor/
 * dcache.h, docs/dcache.md).
 *
 * Placement is rendezvous hashing: for a key, every member gets the weight
 * mix(fnv1a(name, 0, key)); members sorted by decreasing weight (ties by
 * name) give the key's order, the same on every node. The owners are the
 * first `replicas` members of that order that member_live() says are live.
 *
 * The handle keeps, per member, the cache actor id found by
 * nact_node_whereis (with the peer's node number it was found for). It is
 * forgotten when the member is seen down, when a request to it times out
 * or finds it down, so a member that restarted (new actor ids, same node
 * number) is looked up again. Requests are plain cache.h requests sent
 * with nact_call; the lock only guards the id table and the counters.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/dcache.h>
#include <nactor/node.h>
#include <nactor/registry.h>

struct member {
	char name[NACT_NODE_NAME_MAX + 1];
	int self;      /* this node */
	uint16_t node; /* peer number the cached id is for (node->mtx) */
	nact_aid aid;  /* cached cache actor id, NONE = look it up */
};

struct nact_dcache {
	nact_system *sys;
	nng_mtx *mtx; /* members' node/aid, counters */
	struct member *m;
	uint32_t n;
	uint32_t replicas;
	int timeout_ms, whereis_ms;
	char cache_name[NACT_NAME_MAX + 1];
	nact_aid local; /* spawned by open, or NONE */
	_Atomic uint64_t fallbacks, timeouts, down_skips, repairs, lookups;
};

/* A (weight, member index) pair for sorting. */
struct rank {
	uint64_t w;
	uint32_t i;
};

void nact_dcache_opts_init(nact_dcache_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* A 64-bit finalizer (spreads FNV's weak low-entropy inputs). */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

static uint64_t weight(const char *name, const void *key, size_t klen)
{
	uint8_t sep = 0;
	uint64_t h = fnv1a(UINT64_C(0xcbf29ce484222325), name, strlen(name));
	h = fnv1a(h, &sep, 1);
	return mix64(fnv1a(h, key, klen));
}

static int rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;
	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	return x->i < y->i ? -1 : (x->i > y->i);
}

/* The key's order: r[0..n) by decreasing weight. Names are unique and the
 * weight ties (1 in 2^64) broken by configuration index, which every node
 * shares when configured alike. */
static void key_order(const nact_dcache *dc, const void *key, size_t klen, struct rank *r)
{
	for (uint32_t i = 0; i < dc->n; i++) {
		r[i].w = weight(dc->m[i].name, key, klen);
		r[i].i = i;
	}
	qsort(r, dc->n, sizeof(*r), rank_cmp);
}

/* THE membership question (the one place to change for SWIM): is member i
 * live now? On 1, *nodep is its node number (0 = this node). */
static int member_live(nact_dcache *dc, uint32_t i, uint16_t *nodep)
{
	if (dc->m[i].self) {
		*nodep = 0;
		return 1;
	}
	uint16_t no = 0;
	if (nact_node_peer(dc->sys, dc->m[i].name, &no, 0) != 0)
		return 0;
	*nodep = no;
	return nact_node_up(dc->sys, no);
}

static void forget(nact_dcache *dc, uint32_t i)
{
	nng_mtx_lock(dc->mtx);
	dc->m[i].aid = NACT_AID_NONE;
	nng_mtx_unlock(dc->mtx);
}

/* The cache actor of live member i (node no). */
static int member_aid(nact_dcache *dc, uint32_t i, uint16_t no, nact_aid *aidp)
{
	if (dc->m[i].self) {
		*aidp = dc->local.v ? dc->local : nact_whereis(dc->sys, dc->cache_name);
		return aidp->v ? 0 : NACT_ENOENT;
	}
	nng_mtx_lock(dc->mtx);
	nact_aid a = dc->m[i].aid;
	int ok = a.v != 0 && dc->m[i].node == no;
	nng_mtx_unlock(dc->mtx);
	if (ok) {
		*aidp = a;
		return 0;
	}
	atomic_fetch_add(&dc->lookups, 1);
	int rv = nact_node_whereis(dc->sys, no, dc->cache_name, &a, dc->whereis_ms);
	if (rv != 0)
		return rv;
	nng_mtx_lock(dc->mtx);
	dc->m[i].aid = a;
	dc->m[i].node = no;
	nng_mtx_unlock(dc->mtx);
	*aidp = a;
	return 0;
}

/* Owners of the key: up to dc->replicas live members in weight order, into
 * idx/nodes. Members seen down lose their cached id. */
static uint32_t owners(nact_dcache *dc, const void *key, size_t klen, uint32_t *idx,
    uint16_t *nodes)
{
	struct rank r[NACT_DCACHE_MAX_MEMBERS];
	key_order(dc, key, klen, r);
	uint32_t k = 0;
	for (uint32_t j = 0; j < dc->n && k < dc->replicas; j++) {
		uint16_t no;
		if (member_live(dc, r[j].i, &no)) {
			idx[k] = r[j].i;
			nodes[k++] = no;
		} else {
			atomic_fetch_add(&dc->down_skips, 1);
			forget(dc, r[j].i);
		}
	}
	return k;
}

/* After a failed request to member i: forget its id when it may be stale
 * (timeout, down, gone), count. Returns rv. */
static int failed(nact_dcache *dc, uint32_t i, int rv)
{
	if (rv == NACT_ETIMEDOUT)
		atomic_fetch_add(&dc->timeouts, 1);
	if (rv == NACT_ENODEDOWN)
		atomic_fetch_add(&dc->down_skips, 1);
	if (rv == NACT_ETIMEDOUT || rv == NACT_ENODEDOWN || rv == NACT_ENOENT || rv == NACT_ECLOSED)
		forget(dc, i);
	return rv;
}

static int check_key(nact_dcache *dc, const void *key, size_t klen)
{
	if (dc == NULL || (key == NULL && klen > 0))
		return NACT_EINVAL;
	return 0;
}

/* Combine the outcome of one owner into the call's error: a real error
 * beats a down owner, which beats nothing. */
static int worse(int cur, int rv)
{
	if (cur == 0 || cur == NACT_ENODEDOWN)
		return rv;
	return rv == NACT_ENODEDOWN ? cur : rv;
}

int nact_dcache_set(nact_dcache *dc, const void *key, size_t klen, const void *val, size_t vlen,
    int ttl_ms, uint32_t *copiesp)
{
	if (copiesp != NULL)
		*copiesp = 0;
	if (check_key(dc, key, klen) != 0 || val == NULL || vlen == 0)
		return NACT_EINVAL;
	uint32_t idx[NACT_DCACHE_MAX_MEMBERS];
	uint16_t nodes[NACT_DCACHE_MAX_MEMBERS];
	uint32_t k = owners(dc, key, klen, idx, nodes), copies = 0;
	int err = NACT_ENODEDOWN;
	for (uint32_t j = 0; j < k; j++) {
		nact_aid a;
		int rv = member_aid(dc, idx[j], nodes[j], &a);
		if (rv == 0)
			rv = nact_cache_set(dc->sys, a, key, klen, val, vlen, ttl_ms,
			    dc->timeout_ms);
		if (rv == NACT_EDEADLK || rv == NACT_EINVAL)
			return rv;
		if (rv == 0)
			copies++;
		else
			err = worse(err, failed(dc, idx[j], rv));
	}
	if (copiesp != NULL)
		*copiesp = copies;
	return copies > 0 ? 0 : err;
}

int nact_dcache_del(nact_dcache *dc, const void *key, size_t klen, int *deletedp)
{
	if (deletedp != NULL)
		*deletedp = 0;
	if (check_key(dc, key, klen) != 0)
		return NACT_EINVAL;
	uint32_t idx[NACT_DCACHE_MAX_MEMBERS];
	uint16_t nodes[NACT_DCACHE_MAX_MEMBERS];
	uint32_t k = owners(dc, key, klen, idx, nodes), done = 0;
	int err = NACT_ENODEDOWN, any = 0;
	for (uint32_t j = 0; j < k; j++) {
		nact_aid a;
		int del = 0;
		int rv = member_aid(dc, idx[j], nodes[j], &a);
		if (rv == 0)
			rv = nact_cache_del(dc->sys, a, key, klen, &del, dc->timeout_ms);
		if (rv == NACT_EDEADLK)
			return rv;
		if (rv == 0) {
			done++;
			any |= del;
		} else {
			err = worse(err, failed(dc, idx[j], rv));
		}
	}
	if (deletedp != NULL)
		*deletedp = any;
	return done > 0 ? 0 : err;
}

/* Read repair: cast SET key -> val to the owners that answered a miss. */
static void repair(nact_dcache *dc, const uint32_t *idx, const uint16_t *nodes, const int *missed,
    uint32_t upto, const void *key, size_t klen, const void *val, size_t vlen)
{
	for (uint32_t j = 0; j < upto; j++) {
		nact_aid a;
		nact_msg *m;
		if (!missed[j] || member_aid(dc, idx[j], nodes[j], &a) != 0)
			continue;
		if (nact_cache_msg_set(&m, dc->sys, key, klen, val, vlen, -1) != 0)
			continue;
		if (nact_send(dc->sys, a, m) != 0)
			nact_msg_free(m);
		else
			atomic_fetch_add(&dc->repairs, 1);
	}
}

int nact_dcache_get(nact_dcache *dc, const void *key, size_t klen, void **valp, size_t *vlenp)
{
	if (check_key(dc, key, klen) != 0 || valp == NULL || vlenp == NULL)
		return NACT_EINVAL;
	*valp = NULL;
	*vlenp = 0;
	uint32_t idx[NACT_DCACHE_MAX_MEMBERS];
	uint16_t nodes[NACT_DCACHE_MAX_MEMBERS];
	int missed[NACT_DCACHE_MAX_MEMBERS];
	uint32_t k = owners(dc, key, klen, idx, nodes);
	int err = NACT_ENODEDOWN, nmiss = 0;
	for (uint32_t j = 0; j < k; j++) {
		nact_aid a;
		missed[j] = 0;
		if (j > 0)
			atomic_fetch_add(&dc->fallbacks, 1);
		int rv = member_aid(dc, idx[j], nodes[j], &a);
		if (rv == 0) {
			rv = nact_cache_get(dc->sys, a, key, klen, valp, vlenp, dc->timeout_ms);
			if (rv == 0) {
				if (nmiss > 0)
					repair(dc, idx, nodes, missed, j, key, klen, *valp, *vlenp);
				return 0;
			}
			if (rv == NACT_ENOENT) { /* a miss (the actor is alive: a dead
			                            remote one times out) */
				missed[j] = 1;
				nmiss++;
				continue;
			}
		}
		if (rv == NACT_EDEADLK)
			return rv;
		err = worse(err, failed(dc, idx[j], rv));
	}
	return nmiss > 0 ? NACT_ENOENT : err;
}

int nact_dcache_live(nact_dcache *dc, const char **names, uint32_t max, uint32_t *np)
{
	if (dc == NULL || np == NULL || (names == NULL && max > 0))
		return NACT_EINVAL;
	uint32_t k = 0;
	for (uint32_t i = 0; i < dc->n; i++) {
		uint16_t no;
		if (member_live(dc, i, &no)) {
			if (k < max)
				names[k] = dc->m[i].name;
			k++;
		}
	}
	*np = k;
	return 0;
}

int nact_dcache_owners(nact_dcache *dc, const void *key, size_t klen, int live_only,
    const char **names, uint32_t max, uint32_t *np)
{
	if (check_key(dc, key, klen) != 0 || np == NULL || (names == NULL && max > 0))
		return NACT_EINVAL;
	struct rank r[NACT_DCACHE_MAX_MEMBERS];
	key_order(dc, key, klen, r);
	uint32_t k = 0;
	for (uint32_t j = 0; j < dc->n; j++) {
		uint16_t no;
		if (live_only && !member_live(dc, r[j].i, &no))
			continue;
		if (k < max)
			names[k] = dc->m[r[j].i].name;
		k++;
	}
	*np = k;
	return 0;
}

nact_aid nact_dcache_local(nact_dcache *dc)
{
	return dc != NULL ? dc->local : NACT_AID_NONE;
}

void nact_dcache_stats_get(nact_dcache *dc, nact_dcache_stats *st)
{
	st->fallbacks = atomic_load(&dc->fallbacks);
	st->timeouts = atomic_load(&dc->timeouts);
	st->down_skips = atomic_load(&dc->down_skips);
	st->repairs = atomic_load(&dc->repairs);
	st->lookups = atomic_load(&dc->lookups);
}

int nact_dcache_open(nact_dcache **dcp, nact_system *sys, const nact_dcache_opts *o)
{
	if (dcp == NULL || sys == NULL || o == NULL || o->members == NULL || o->nmembers == 0 ||
	    o->nmembers > NACT_DCACHE_MAX_MEMBERS || o->replicas > o->nmembers ||
	    o->timeout_ms < 0 || o->whereis_timeout_ms < 0)
		return NACT_EINVAL;
	*dcp = NULL;
	const char *cname = o->cache_name != NULL ? o->cache_name : NACT_DCACHE_NAME;
	if (cname[0] == '\0' || strlen(cname) > NACT_NAME_MAX)
		return NACT_EINVAL;
	if (o->self != NULL && (o->self[0] == '\0' || strlen(o->self) > NACT_NODE_NAME_MAX))
		return NACT_EINVAL;
	for (uint32_t i = 0; i < o->nmembers; i++) {
		const char *a = o->members[i];
		if (a == NULL || a[0] == '\0' || strlen(a) > NACT_NODE_NAME_MAX)
			return NACT_EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(a, o->members[j]) == 0)
				return NACT_EINVAL;
	}
	nact_dcache *dc = calloc(1, sizeof(*dc));
	if (dc == NULL)
		return NACT_ENOMEM;
	dc->m = calloc(o->nmembers, sizeof(*dc->m));
	if (dc->m == NULL || nng_mtx_alloc(&dc->mtx) != 0) {
		free(dc->m);
		free(dc);
		return NACT_ENOMEM;
	}
	dc->sys = sys;
	dc->n = o->nmembers;
	dc->replicas = o->replicas ? o->replicas : 1;
	dc->timeout_ms = o->timeout_ms ? o->timeout_ms : 1000;
	dc->whereis_ms = o->whereis_timeout_ms ? o->whereis_timeout_ms : dc->timeout_ms;
	snprintf(dc->cache_name, sizeof(dc->cache_name), "%s", cname);
	int member = 0;
	for (uint32_t i = 0; i < o->nmembers; i++) {
		snprintf(dc->m[i].name, sizeof(dc->m[i].name), "%s", o->members[i]);
		dc->m[i].self = o->self != NULL && strcmp(o->self, o->members[i]) == 0;
		member |= dc->m[i].self;
	}
	if (member && !o->no_local_cache) {
		nact_cache_config cfg;
		if (o->cache != NULL)
			cfg = *o->cache;
		else
			nact_cache_config_init(&cfg);
		cfg.name = dc->cache_name;
		int rv = nact_cache_spawn(&dc->local, sys, &cfg);
		if (rv != 0) {
			nng_mtx_free(dc->mtx);
			free(dc->m);
			free(dc);
			return rv;
		}
	}
	*dcp = dc;
	return 0;
}

void nact_dcache_close(nact_dcache *dc)
{
	if (dc == NULL)
		return;
	if (dc->local.v != 0)
		nact_stop(dc->sys, dc->local);
	nng_mtx_free(dc->mtx);
	free(dc->m);
	free(dc);
}
