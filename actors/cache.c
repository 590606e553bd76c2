/*
 * actors/cache.c — the cache actor (include/nactor/cache.h).
 *
 * DESIGN
 * One actor owns everything below, so nothing is locked:
 *  - entries: a chained hash table (power-of-two buckets, doubled at load
 *    factor 1) of `struct centry`, each one allocation holding key then
 *    value bytes; every entry is also on the LRU list (head = most recently
 *    used). A lookup that finds an expired entry drops it (an expiration);
 *    a sweep timer (NACT_T_CACHE_SWEEP to self every sweep_ms) drops
 *    expired entries it finds among up to 256 entries per tick, resuming
 *    where it stopped. After every store, LRU entries are evicted from the
 *    tail until both bounds (entries, bytes) hold.
 *  - pending lookups: get-or-compute misses (and, in a layered cache,
 *    backing lookups) are `struct pend` records in two small tables keyed
 *    like the entries, each with the list of waiters (reply address and
 *    corr). The first miss starts one nact_request (to the compute actor or
 *    the backing cache); later misses on the key only join the list; the
 *    request's callback (reply or timeout, exactly once) stores the value
 *    and answers every waiter, then frees the record. When the actor ends,
 *    its requests are dropped by the runtime and the records freed by fini
 *    (waiters then time out on their own side).
 *  - batches (MGET / MSET) are checked whole first, then run key by key
 *    through the same lookup / store as GET / SET; an MGET judges every
 *    key at one `now`, so an entry found live stays allocated until its
 *    reply, which is sized first and written in place in one resize.
 *  - request bodies are read with a small bounds-checked msgpack cursor
 *    (no allocation): a value is located by skipping it, which proves it is
 *    one well-formed msgpack value, and its bytes are stored and returned
 *    as they came.
 * Invariants: c->nent / c->bytes are the sums over the table; an entry is
 * in exactly one bucket chain and on the LRU list; nexp counts entries with
 * an expiry (the sweep is skipped while it is 0).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/cache.h>

/* ------------------------------------------------------------------ */
/* msgpack cursor                                                       */

typedef struct mcur {
	const uint8_t *p;
	size_t n;
	size_t off;
} mcur;

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The msgpack types 0xc0-0xdf: how many length bytes follow the type
 * byte (lb), the fixed payload bytes (fix), and what the length counts
 * (LEN_BYTES: payload bytes, LEN_ELEMS: array elements, LEN_PAIRS: map
 * pairs). bad = 1 for 0xc1, the one byte msgpack never uses. */
enum { LEN_BYTES = 0, LEN_ELEMS = 1, LEN_PAIRS = 2 };
static const struct {
	uint8_t lb, fix, what, bad;
} mtab[32] = {
    [0x00] = {0, 0, 0, 0},         /* nil */
    [0x01] = {0, 0, 0, 1},         /* never used */
    [0x02] = {0, 0, 0, 0},         /* false */
    [0x03] = {0, 0, 0, 0},         /* true */
    [0x04] = {1, 0, LEN_BYTES, 0}, /* bin8 */
    [0x05] = {2, 0, LEN_BYTES, 0}, /* bin16 */
    [0x06] = {4, 0, LEN_BYTES, 0}, /* bin32 */
    [0x07] = {1, 1, LEN_BYTES, 0}, /* ext8: + type byte */
    [0x08] = {2, 1, LEN_BYTES, 0}, /* ext16 */
    [0x09] = {4, 1, LEN_BYTES, 0}, /* ext32 */
    [0x0a] = {0, 4, 0, 0},         /* float32 */
    [0x0b] = {0, 8, 0, 0},         /* float64 */
    [0x0c] = {0, 1, 0, 0},         /* uint8 */
    [0x0d] = {0, 2, 0, 0},         /* uint16 */
    [0x0e] = {0, 4, 0, 0},         /* uint32 */
    [0x0f] = {0, 8, 0, 0},         /* uint64 */
    [0x10] = {0, 1, 0, 0},         /* int8 */
    [0x11] = {0, 2, 0, 0},         /* int16 */
    [0x12] = {0, 4, 0, 0},         /* int32 */
    [0x13] = {0, 8, 0, 0},         /* int64 */
    [0x14] = {0, 2, 0, 0},         /* fixext1: type + data */
    [0x15] = {0, 3, 0, 0},         /* fixext2 */
    [0x16] = {0, 5, 0, 0},         /* fixext4 */
    [0x17] = {0, 9, 0, 0},         /* fixext8 */
    [0x18] = {0, 17, 0, 0},        /* fixext16 */
    [0x19] = {1, 0, LEN_BYTES, 0}, /* str8 */
    [0x1a] = {2, 0, LEN_BYTES, 0}, /* str16 */
    [0x1b] = {4, 0, LEN_BYTES, 0}, /* str32 */
    [0x1c] = {2, 0, LEN_ELEMS, 0}, /* array16 */
    [0x1d] = {4, 0, LEN_ELEMS, 0}, /* array32 */
    [0x1e] = {2, 0, LEN_PAIRS, 0}, /* map16 */
    [0x1f] = {4, 0, LEN_PAIRS, 0}, /* map32 */
};

/* The value at c->off: *hdr is its header size (type byte and length
 * bytes), *body its payload bytes, *kids the values inside it. Checks only
 * that the header itself is there. */
static inline int mhead(const mcur *c, size_t *hdr, uint64_t *body, uint64_t *kids)
{
	if (c->off >= c->n)
		return NACT_ETRUNC;
	const uint8_t *p = c->p + c->off;
	uint8_t b = p[0];
	*hdr = 1;
	*body = 0;
	*kids = 0;
	if (b <= 0x7f || b >= 0xe0) /* fixints */
		return 0;
	if (b <= 0x8f) { /* fixmap */
		*kids = 2u * (b & 0x0f);
		return 0;
	}
	if (b <= 0x9f) { /* fixarray */
		*kids = b & 0x0f;
		return 0;
	}
	if (b <= 0xbf) { /* fixstr */
		*body = b & 0x1f;
		return 0;
	}
	int t = b - 0xc0;
	if (mtab[t].bad)
		return NACT_EMALFORMED;
	size_t lb = mtab[t].lb;
	if (c->n - c->off < 1 + lb)
		return NACT_ETRUNC;
	uint64_t v = be(p + 1, (int)lb);
	*hdr = 1 + lb;
	*body = mtab[t].fix;
	if (lb == 0)
		return 0;
	if (mtab[t].what == LEN_ELEMS)
		*kids = v;
	else if (mtab[t].what == LEN_PAIRS)
		*kids = 2 * v;
	else
		*body += v;
	return 0;
}

/* Skip one value (with everything inside it). Iterative: each value costs
 * at least one byte, so a claimed count larger than the bytes left is
 * rejected at once and the loop is O(bytes). */
static int mbytes(mcur *c, const void **b, size_t *n);

static int mskip(mcur *c)
{
	/* Fast path: a scalar, str or bin (the usual cache value), no loop. */
	if (c->off < c->n) {
		uint8_t b = c->p[c->off];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			c->off++;
			return 0;
		}
		if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xc4 && b <= 0xc6) ||
		    (b >= 0xd9 && b <= 0xdb)) {
			const void *x;
			size_t l;
			return mbytes(c, &x, &l);
		}
	}
	uint64_t todo = 1;
	while (todo > 0) {
		size_t hdr;
		uint64_t body, kids;
		int rv = mhead(c, &hdr, &body, &kids);
		if (rv != 0)
			return rv;
		size_t left = c->n - c->off;
		if (hdr > left || body > left - hdr)
			return NACT_ETRUNC;
		c->off += hdr + (size_t)body;
		todo--;
		if (kids > c->n - c->off)
			return NACT_ETRUNC;
		todo += kids;
	}
	return 0;
}

/* An array header: *n its element count. Decoded directly (no table): the
 * request path reads one of these and a key per message. */
static int marray(mcur *c, uint32_t *n)
{
	size_t left = c->n - c->off; /* c->off <= c->n always */
	if (left == 0)
		return NACT_ETRUNC;
	const uint8_t *p = c->p + c->off;
	uint8_t b = p[0];
	if (b >= 0x90 && b <= 0x9f) {
		*n = b & 0x0f;
		c->off++;
		return 0;
	}
	if (b == 0xdc) {
		if (left < 3)
			return NACT_ETRUNC;
		*n = (uint32_t)p[1] << 8 | p[2];
		c->off += 3;
		return 0;
	}
	if (b == 0xdd) {
		if (left < 5)
			return NACT_ETRUNC;
		*n = (uint32_t)be(p + 1, 4);
		c->off += 5;
		return 0;
	}
	return NACT_ETYPE;
}

/* A str or a bin: its bytes. */
static int mbytes(mcur *c, const void **b, size_t *n)
{
	size_t left = c->n - c->off;
	if (left == 0)
		return NACT_ETRUNC;
	const uint8_t *p = c->p + c->off;
	uint8_t t = p[0];
	size_t hdr, len;
	if (t >= 0xa0 && t <= 0xbf) {
		hdr = 1;
		len = t & 0x1f;
	} else if (t == 0xc4 || t == 0xd9) {
		if (left < 2)
			return NACT_ETRUNC;
		hdr = 2;
		len = p[1];
	} else if (t == 0xc5 || t == 0xda) {
		if (left < 3)
			return NACT_ETRUNC;
		hdr = 3;
		len = (size_t)p[1] << 8 | p[2];
	} else if (t == 0xc6 || t == 0xdb) {
		if (left < 5)
			return NACT_ETRUNC;
		hdr = 5;
		len = (size_t)be(p + 1, 4);
	} else {
		return NACT_ETYPE;
	}
	if (len > left - hdr)
		return NACT_ETRUNC;
	*b = p + hdr;
	*n = len;
	c->off += hdr + len;
	return 0;
}

static int mint(mcur *c, int64_t *v)
{
	if (c->off >= c->n)
		return NACT_ETRUNC;
	const uint8_t *p = c->p + c->off;
	size_t left = c->n - c->off;
	uint8_t b = p[0];
	if (b <= 0x7f || b >= 0xe0) {
		*v = (int8_t)b;
		c->off++;
		return 0;
	}
	if (b < 0xcc || b > 0xd3) /* uint8..64, int8..64 */
		return NACT_ETYPE;
	int l = mtab[b - 0xc0].fix;
	int sgn = b >= 0xd0;
	if (left < 1u + (size_t)l)
		return NACT_ETRUNC;
	uint64_t u = be(p + 1, l);
	if (sgn) {
		if (l < 8 && (u & (1ull << (8 * l - 1))))
			u |= ~0ull << (8 * l); /* sign-extend */
		*v = (int64_t)u;
	} else {
		if (u > INT64_MAX)
			return NACT_ERANGE;
		*v = (int64_t)u;
	}
	c->off += 1u + (size_t)l;
	return 0;
}

static int mnil(mcur *c)
{
	if (c->off < c->n && c->p[c->off] == 0xc0) {
		c->off++;
		return 1;
	}
	return 0;
}

int nact_msgpack_value_size(const void *buf, size_t len, size_t *sizep)
{
	if (buf == NULL && len > 0)
		return NACT_EINVAL;
	mcur c = {buf, len, 0};
	int rv = mskip(&c);
	if (rv == 0 && sizep != NULL)
		*sizep = c.off;
	return rv;
}

static void mcur_msg(mcur *c, const nact_msg *m)
{
	size_t n;
	c->p = nact_msg_body(m, &n);
	c->n = n;
	c->off = 0;
}

/* ------------------------------------------------------------------ */
/* the hash tables                                                      */

/* Common head of an entry and a pending record. */
struct hnode {
	struct hnode *hnext;
	uint64_t hash;
	const char *key;
	uint32_t klen;
};

struct htab {
	struct hnode **b;
	size_t mask; /* buckets - 1 */
	size_t n;
};

static uint64_t khash(const void *k, size_t n)
{
	/* Eight bytes per step (multiply and fold), then a final mix so the
	 * low bits (the bucket) are good. */
	const uint8_t *p = k;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		uint64_t w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static int htab_init(struct htab *t, size_t nb)
{
	t->b = calloc(nb, sizeof(*t->b));
	t->mask = nb - 1;
	t->n = 0;
	return t->b ? 0 : NACT_ENOMEM;
}

static struct hnode *htab_find(struct htab *t, uint64_t h, const void *k, size_t kl)
{
	for (struct hnode *e = t->b[h & t->mask]; e != NULL; e = e->hnext)
		if (e->hash == h && e->klen == kl && memcmp(e->key, k, kl) == 0)
			return e;
	return NULL;
}

static void htab_grow(struct htab *t)
{
	size_t nb = (t->mask + 1) * 2;
	struct hnode **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return; /* keep the longer chains: still correct */
	for (size_t i = 0; i <= t->mask; i++) {
		struct hnode *e = t->b[i];
		while (e != NULL) {
			struct hnode *nx = e->hnext;
			e->hnext = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = nx;
		}
	}
	free(t->b);
	t->b = b;
	t->mask = nb - 1;
}

static void htab_add(struct htab *t, struct hnode *e)
{
	if (t->n >= t->mask + 1)
		htab_grow(t);
	struct hnode **bp = &t->b[e->hash & t->mask];
	e->hnext = *bp;
	*bp = e;
	t->n++;
}

static void htab_del(struct htab *t, struct hnode *e)
{
	for (struct hnode **pp = &t->b[e->hash & t->mask]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			t->n--;
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* the cache state                                                      */

struct centry {
	struct hnode h;       /* key points at data */
	struct centry *lprev; /* LRU: towards the head (more recent) */
	struct centry *lnext; /* LRU: towards the tail */
	uint64_t expires;     /* nact_now deadline; 0 = never */
	uint32_t vlen;        /* value bytes, after the key in data */
	char data[];          /* key, then value */
};

struct waiter {
	nact_aid to;
	uint64_t corr;
};

struct pend {
	struct hnode h;    /* key points at data */
	struct cache *c;   /* owner */
	int compute;       /* 1: get-or-compute table, 0: backing get */
	int ttl_ms;        /* for the stored value */
	struct waiter *w;  /* waiters */
	uint32_t nw, capw; /* used, allocated */
	char data[];       /* key */
};

/* A write-through set/del waiting for the backing cache. */
struct wthru {
	struct cache *c;
	struct waiter w;
	int is_set;    /* 1 set, 0 del */
	uint32_t klen; /* key in data, removed locally if the backing set fails */
	char data[];
};

struct cache {
	nact_cache_config cfg;
	char *topic; /* cfg.topic's copy */
	nact_system *sys;
	struct htab tab;  /* struct centry */
	struct htab pget; /* struct pend, backing gets */
	struct htab pcmp; /* struct pend, computations */
	struct centry *head, *tail;
	uint64_t bytes; /* key + value bytes */
	uint64_t nexp;  /* entries with an expiry */
	size_t sweep_b; /* next bucket the sweep looks at */
	nact_cache_stats st;
};

static void lru_unlink(struct cache *c, struct centry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		c->head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		c->tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push(struct cache *c, struct centry *e)
{
	e->lprev = NULL;
	e->lnext = c->head;
	if (c->head)
		c->head->lprev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

static void entry_drop(struct cache *c, struct centry *e)
{
	htab_del(&c->tab, &e->h);
	lru_unlink(c, e);
	c->bytes -= e->h.klen + (uint64_t)e->vlen;
	if (e->expires)
		c->nexp--;
	free(e);
}

static int expired(struct cache *c, const struct centry *e, uint64_t now)
{
	(void)c;
	return e->expires != 0 && now >= e->expires;
}

/* Live entry for key, or NULL (an expired one is dropped), judged at
 * now; now 0 reads the clock, and only when the entry can expire. A batch
 * reads the time once and judges all its keys at that instant, so an entry
 * found live stays live (and allocated) for the rest of the batch even if
 * its key comes again. */
static struct centry *lookup_at(struct cache *c, uint64_t h, const void *k, size_t kl, uint64_t now)
{
	struct centry *e = (struct centry *)htab_find(&c->tab, h, k, kl);
	if (e != NULL && e->expires != 0 && expired(c, e, now != 0 ? now : nact_now(c->sys))) {
		entry_drop(c, e);
		c->st.expirations++;
		e = NULL;
	}
	return e;
}

static struct centry *lookup(struct cache *c, uint64_t h, const void *k, size_t kl)
{
	return lookup_at(c, h, k, kl, 0);
}

/* Count a lookup's hit or miss; a hit moves to the front of the LRU.
 * Returns e. */
static struct centry *count_hit(struct cache *c, struct centry *e)
{
	if (e == NULL) {
		c->st.misses++;
		return NULL;
	}
	c->st.hits++;
	lru_unlink(c, e);
	lru_push(c, e);
	return e;
}

static void enforce_bounds(struct cache *c, struct centry *keep)
{
	uint64_t now = 0;
	int have_now = 0;
	while (c->tail != NULL &&
	    ((c->cfg.max_entries && c->tab.n > c->cfg.max_entries) ||
	        (c->cfg.max_bytes && c->bytes > c->cfg.max_bytes))) {
		struct centry *v = c->tail;
		if (v == keep)
			break; /* cannot happen: keep fits the bounds alone */
		if (v->expires && !have_now) {
			now = nact_now(c->sys);
			have_now = 1;
		}
		if (v->expires && now >= v->expires)
			c->st.expirations++;
		else
			c->st.evictions++;
		entry_drop(c, v);
	}
}

static uint64_t ttl_deadline(struct cache *c, int ttl_ms)
{
	uint64_t t = ttl_ms < 0 ? c->cfg.default_ttl_ms : (uint64_t)ttl_ms;
	return t ? nact_now(c->sys) + t * 1000000u : 0;
}

/* Store key = val. NACT_ERESOURCE if it cannot fit the byte bound alone. */
static int store(struct cache *c, uint64_t h, const void *k, size_t kl, const void *v, size_t vl,
    int ttl_ms)
{
	if (kl > UINT32_MAX || vl > UINT32_MAX || (c->cfg.max_bytes && kl + vl > c->cfg.max_bytes))
		return NACT_ERESOURCE;
	uint64_t exp = ttl_deadline(c, ttl_ms);
	struct centry *e = (struct centry *)htab_find(&c->tab, h, k, kl);
	if (e != NULL && e->vlen == vl) {
		/* Same size: overwrite in place, no allocation. */
		memcpy(e->data + kl, v, vl);
		if (e->expires)
			c->nexp--;
		e->expires = exp;
		if (exp)
			c->nexp++;
		lru_unlink(c, e);
		lru_push(c, e);
		c->st.sets++;
		return 0;
	}
	struct centry *ne = malloc(sizeof(*ne) + kl + vl);
	if (ne == NULL)
		return NACT_ENOMEM;
	if (e != NULL)
		entry_drop(c, e);
	memcpy(ne->data, k, kl);
	memcpy(ne->data + kl, v, vl);
	ne->h.hash = h;
	ne->h.key = ne->data;
	ne->h.klen = (uint32_t)kl;
	ne->vlen = (uint32_t)vl;
	ne->expires = exp;
	if (exp)
		c->nexp++;
	htab_add(&c->tab, &ne->h);
	lru_push(c, ne);
	c->bytes += kl + vl;
	c->st.sets++;
	enforce_bounds(c, ne);
	return 0;
}

static int del_key(struct cache *c, const void *k, size_t kl)
{
	struct centry *e = (struct centry *)htab_find(&c->tab, khash(k, kl), k, kl);
	if (e == NULL)
		return 0;
	int live = !(e->expires && expired(c, e, nact_now(c->sys)));
	if (live)
		c->st.deletes++;
	else
		c->st.expirations++;
	entry_drop(c, e);
	return live;
}

static uint64_t clear_all(struct cache *c)
{
	uint64_t n = 0;
	while (c->head != NULL) {
		entry_drop(c, c->head);
		n++;
	}
	c->st.deletes += n;
	return n;
}

/* ------------------------------------------------------------------ */
/* replies                                                              */

/* Up to this many bytes, a body is assembled on the stack and appended to
 * the message at once: each nng_msg_append costs about as much as the
 * rest of building a small request. */
#define ONE_APPEND 512
/* Values up to this size are copied into a reply through a small stack
 * buffer (the hot path of get). */
#define SMALL_VALUE 126

/* Append b (n bytes) to the body of nm: the length is moved with
 * nng_msg_realloc (no copy while the buffer has room, which a pooled
 * envelope always has for small bodies) and the bytes written in place. */
static int put_body(nng_msg *nm, const void *b, size_t n)
{
	size_t len = nng_msg_len(nm);
	if (nng_msg_realloc(nm, len + n) != 0)
		return NACT_ENOMEM;
	memcpy((uint8_t *)nng_msg_body(nm) + len, b, n);
	return 0;
}

/* Append n parts to nm. */
static int append_parts(nng_msg *nm, const void *const *pp, const size_t *pl, int n)
{
	size_t tot = 0;
	for (int i = 0; i < n; i++)
		tot += pl[i];
	if (tot <= ONE_APPEND) {
		uint8_t b[ONE_APPEND];
		size_t o = 0;
		for (int i = 0; i < n; i++) {
			if (pl[i] > 0)
				memcpy(b + o, pp[i], pl[i]);
			o += pl[i];
		}
		return nng_msg_append(nm, b, o) == 0 ? 0 : NACT_ENOMEM;
	}
	for (int i = 0; i < n; i++)
		if (pl[i] > 0 && nng_msg_append(nm, pp[i], pl[i]) != 0)
			return NACT_ENOMEM;
	return 0;
}

/* A tag byte, then the low w bytes of v big-endian; returns 1 + w. */
static size_t enc_tag(uint8_t *b, uint8_t tag, uint64_t v, int w)
{
	b[0] = tag;
	for (int i = 0; i < w; i++)
		b[1 + i] = (uint8_t)(v >> (8 * (w - 1 - i)));
	return 1 + (size_t)w;
}

/* msgpack of an int (smallest form); returns the length (at most 9). */
static size_t enc_int(uint8_t *b, int64_t v)
{
	if (v >= -32 && v <= 127) {
		b[0] = (uint8_t)v;
		return 1;
	}
	if (v >= INT32_MIN && v <= INT32_MAX)
		return enc_tag(b, 0xd2, (uint64_t)v, 4);
	return enc_tag(b, 0xd3, (uint64_t)v, 8);
}

static size_t enc_uint(uint8_t *b, uint64_t v)
{
	if (v <= 127) {
		b[0] = (uint8_t)v;
		return 1;
	}
	return enc_tag(b, 0xcf, v, 8);
}

/* A bin header for n bytes; returns its length (2, 3 or 5). */
static size_t enc_bin(uint8_t *b, size_t n)
{
	if (n < 256)
		return enc_tag(b, 0xc4, n, 1);
	return n < 65536 ? enc_tag(b, 0xc5, n, 2) : enc_tag(b, 0xc6, n, 4);
}

static void send_reply(struct cache *c, nact_aid to, uint64_t corr, nact_msg *m)
{
	if (nact_reply_to(c->sys, to, corr, m) != 0)
		nact_msg_free(m);
}

static void reply_value(struct cache *c, nact_aid to, uint64_t corr, const void *v, size_t vl)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, c->sys, NACT_T_CACHE_VALUE) != 0)
		return; /* the requester times out */
	nng_msg *nm = nact_msg_nng(m);
	int rv;
	if (v != NULL && vl <= SMALL_VALUE) {
		/* The usual small value: one buffer, one append. */
		uint8_t b[2 + SMALL_VALUE];
		b[0] = 0x92;
		b[1] = 0xc3;
		memcpy(b + 2, v, vl);
		rv = put_body(nm, b, 2 + vl);
	} else if (v != NULL) {
		static const uint8_t hit[2] = {0x92, 0xc3};
		const void *pp[2] = {hit, v};
		size_t pl[2] = {2, vl};
		rv = append_parts(nm, pp, pl, 2);
	} else {
		static const uint8_t miss[3] = {0x92, 0xc2, 0xc0};
		rv = put_body(nm, miss, 3);
	}
	if (rv != 0) {
		nact_msg_free(m);
		return;
	}
	send_reply(c, to, corr, m);
}

static void reply_done(struct cache *c, nact_aid to, uint64_t corr, uint64_t n)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, c->sys, NACT_T_CACHE_DONE) != 0)
		return;
	if (n < 128) { /* the common case, [1] or [0]: two bytes, one append */
		const uint8_t b[2] = {0x91, (uint8_t)n};
		if (put_body(nact_msg_nng(m), b, 2) != 0) {
			nact_msg_free(m);
			return;
		}
	} else {
		nact_pack p;
		nact_pack_init(&p, m);
		nact_pack_array(&p, 1);
		nact_pack_uint(&p, n);
		if (nact_pack_error(&p) != 0) {
			nact_msg_free(m);
			return;
		}
	}
	send_reply(c, to, corr, m);
}

static void reply_err(struct cache *c, nact_aid to, uint64_t corr, int code, const char *text)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, c->sys, NACT_T_ERROR) != 0)
		return;
	nact_pack p;
	nact_pack_init(&p, m);
	nact_pack_array(&p, 2);
	nact_pack_int(&p, code);
	nact_pack_str(&p, text != NULL ? text : nact_strerror(code));
	if (nact_pack_error(&p) != 0) {
		nact_msg_free(m);
		return;
	}
	send_reply(c, to, corr, m);
}

static int is_req(const nact_msg *m)
{
	return (nact_msg_flags(m) & NACT_MF_REQUEST) != 0;
}

/* A bad message: error reply if it is a request, else counted and dropped. */
static int bad(struct cache *c, const nact_msg *m, const char *why)
{
	c->st.bad++;
	if (is_req(m))
		nact_reply_error(c->sys, m, NACT_EBADMSG, why);
	return 0;
}

static void reply_stats(struct cache *c, const nact_msg *req)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, c->sys, NACT_T_CACHE_STATS_R) != 0)
		return;
	nact_cache_stats s = c->st;
	s.entries = c->tab.n;
	s.bytes = c->bytes;
	s.hit_rate = s.hits + s.misses ? (double)s.hits / (double)(s.hits + s.misses) : 0.0;
	const struct {
		const char *k;
		uint64_t v;
	} f[] = {{"hits", s.hits}, {"misses", s.misses}, {"evictions", s.evictions},
	    {"expirations", s.expirations}, {"sets", s.sets}, {"deletes", s.deletes},
	    {"computes", s.computes}, {"compute_errors", s.compute_errors}, {"bad", s.bad},
	    {"events", s.events}, {"entries", s.entries}, {"bytes", s.bytes}};
	nact_pack p;
	nact_pack_init(&p, m);
	nact_pack_map(&p, (uint32_t)(sizeof(f) / sizeof(f[0])) + 1);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		nact_pack_str(&p, f[i].k);
		nact_pack_uint(&p, f[i].v);
	}
	nact_pack_str(&p, "hit_rate");
	nact_pack_double(&p, s.hit_rate);
	if (nact_pack_error(&p) != 0) {
		nact_msg_free(m);
		return;
	}
	if (nact_reply(c->sys, req, m) != 0)
		nact_msg_free(m);
}

/* ------------------------------------------------------------------ */
/* pending lookups (computations and backing gets)                      */

static void pend_free(struct pend *p)
{
	free(p->w);
	free(p);
}

static int pend_wait(struct pend *p, const nact_msg *req)
{
	if (p->nw == p->capw) {
		uint32_t nc = p->capw ? p->capw * 2 : 4;
		struct waiter *w = realloc(p->w, nc * sizeof(*w));
		if (w == NULL)
			return NACT_ENOMEM;
		p->w = w;
		p->capw = nc;
	}
	p->w[p->nw].to = nact_msg_sender(req);
	p->w[p->nw].corr = nact_msg_corr(req);
	p->nw++;
	return 0;
}

static struct pend *pend_new(struct cache *c, int compute, uint64_t h, const void *k, size_t kl,
    int ttl_ms)
{
	struct pend *p = calloc(1, sizeof(*p) + kl);
	if (p == NULL)
		return NULL;
	memcpy(p->data, k, kl);
	p->h.hash = h;
	p->h.key = p->data;
	p->h.klen = (uint32_t)kl;
	p->c = c;
	p->compute = compute;
	p->ttl_ms = ttl_ms;
	return p;
}

/* Answer every waiter of p (value, miss or error) and free it. */
static void pend_finish(struct pend *p, const void *v, size_t vl, int hit, int err,
    const char *text)
{
	struct cache *c = p->c;
	htab_del(p->compute ? &c->pcmp : &c->pget, &p->h);
	for (uint32_t i = 0; i < p->nw; i++) {
		if (err)
			reply_err(c, p->w[i].to, p->w[i].corr, err, text);
		else
			reply_value(c, p->w[i].to, p->w[i].corr, hit ? v : NULL, vl);
	}
	pend_free(p);
}

/* The reply of a compute actor, of the backing cache's get-or-compute, or
 * of the backing cache's get. */
static void pend_reply(nact_ctx *ctx, nact_msg *rep, int err, void *arg)
{
	struct pend *p = arg;
	struct cache *c = p->c;
	(void)ctx;
	char text[200];
	if (err != 0) {
		c->st.compute_errors++;
		/* No answer: a computation timed out; a backing get means the
		 * backing cache is unreachable. */
		pend_finish(p, NULL, 0, 0, p->compute ? NACT_ETIMEDOUT : NACT_ECACHE,
		    p->compute ? "cache compute timed out" : "backing cache timed out");
		return;
	}
	if (nact_msg_type(rep) == NACT_T_ERROR) {
		int code = NACT_ECACHE;
		char et[160] = "";
		nact_error_read(rep, &code, et, sizeof(et));
		c->st.compute_errors++;
		/* A compute actor's own failure is a cache error for the waiters;
		 * a backing cache's error (already a cache code) passes through. */
		int out = code;
		if (p->compute && !c->cfg.backing.v)
			out = NACT_ECACHE;
		snprintf(text, sizeof(text), "%s: %s",
		    p->compute ? "cache compute failed" : "backing cache failed", et);
		pend_finish(p, NULL, 0, 0, out, text);
		return;
	}
	const void *v = NULL;
	size_t vl = 0;
	int hit = 1;
	if (p->compute && !c->cfg.backing.v) {
		/* Compute actor: the whole body is the value. */
		size_t n, sz;
		v = nact_msg_body(rep, &n);
		vl = n;
		if (nact_msgpack_value_size(v, n, &sz) != 0 || sz != n) {
			c->st.compute_errors++;
			pend_finish(p, NULL, 0, 0, NACT_ECACHE,
			    "cache compute failed: reply is not one msgpack value");
			return;
		}
	} else {
		int rv = nact_cache_reply_value(rep, &hit, &v, &vl);
		if (rv != 0) {
			c->st.compute_errors++;
			pend_finish(p, NULL, 0, 0, NACT_ECACHE, "backing cache: bad reply");
			return;
		}
	}
	if (hit)
		store(c, p->h.hash, p->h.key, p->h.klen, v, vl, p->ttl_ms);
	pend_finish(p, v, vl, hit, 0, NULL);
}

/* Start (or join) a lookup for key. compute: the compute actor (0 for a
 * plain backing get). */
static void pend_start(struct cache *c, nact_ctx *ctx, const nact_msg *req, uint64_t h,
    const void *k, size_t kl, nact_aid compute, int ttl_ms, int timeout_ms)
{
	int is_cmp = compute.v != 0;
	struct htab *t = is_cmp ? &c->pcmp : &c->pget;
	struct pend *p = (struct pend *)htab_find(t, h, k, kl);
	if (p != NULL) {
		if (pend_wait(p, req) != 0)
			nact_reply_error(c->sys, req, NACT_ENOMEM, NULL);
		return;
	}
	p = pend_new(c, is_cmp, h, k, kl, ttl_ms);
	if (p == NULL || pend_wait(p, req) != 0) {
		if (p)
			pend_free(p);
		nact_reply_error(c->sys, req, NACT_ENOMEM, NULL);
		return;
	}
	nact_msg *m = NULL;
	int rv;
	int tmo;
	nact_aid to;
	if (c->cfg.backing.v) {
		to = c->cfg.backing;
		tmo = (int)c->cfg.backing_timeout_ms;
		if (is_cmp) {
			rv = nact_cache_msg_compute_get(&m, c->sys, k, kl, compute, ttl_ms,
			    timeout_ms);
			tmo += timeout_ms;
		} else {
			rv = nact_cache_msg_get(&m, c->sys, k, kl);
		}
	} else {
		to = compute;
		tmo = timeout_ms;
		rv = nact_msg_alloc(&m, c->sys, NACT_T_CACHE_COMPUTE);
		if (rv == 0) {
			nact_pack pk;
			nact_pack_init(&pk, m);
			nact_pack_array(&pk, 1);
			nact_pack_bin(&pk, k, kl);
			rv = nact_pack_error(&pk);
		}
	}
	if (rv == 0)
		rv = nact_request(ctx, to, m, tmo, pend_reply, p);
	if (rv != 0) {
		nact_msg_free(m);
		pend_free(p);
		c->st.compute_errors++;
		nact_reply_error(c->sys, req, NACT_ECACHE, "cache: cannot start the lookup");
		return;
	}
	c->st.computes++;
	htab_add(t, &p->h);
}

/* ------------------------------------------------------------------ */
/* write-through to the backing cache                                   */

static void wthru_reply(nact_ctx *ctx, nact_msg *rep, int err, void *arg)
{
	struct wthru *w = arg;
	struct cache *c = w->c;
	(void)ctx;
	uint64_t n = 0;
	int rv = err;
	char text[200] = "backing cache timed out";
	if (rv == 0 && nact_msg_type(rep) == NACT_T_ERROR) {
		char et[160] = "";
		rv = NACT_ECACHE;
		nact_error_read(rep, &rv, et, sizeof(et));
		snprintf(text, sizeof(text), "backing cache failed: %s", et);
	} else if (rv == 0 && nact_cache_reply_done(rep, &n) != 0) {
		rv = NACT_ECACHE;
		snprintf(text, sizeof(text), "backing cache: bad reply");
	} else if (rv != 0) {
		rv = NACT_ECACHE;
	}
	if (rv != 0) {
		if (w->is_set) /* do not keep locally what the backing cache refused */
			del_key(c, w->data, w->klen);
		if (w->w.to.v)
			reply_err(c, w->w.to, w->w.corr, rv, text);
	} else if (w->w.to.v) {
		reply_done(c, w->w.to, w->w.corr, n);
	}
	free(w);
}

/* Forward the request body to the backing cache; reply when it answers. */
static int wthru_start(struct cache *c, nact_ctx *ctx, const nact_msg *req, int is_set,
    const void *k, size_t kl)
{
	struct wthru *w = malloc(sizeof(*w) + kl);
	if (w == NULL)
		return NACT_ENOMEM;
	w->c = c;
	w->is_set = is_set;
	w->klen = (uint32_t)kl;
	memcpy(w->data, k, kl);
	w->w.to = is_req(req) ? nact_msg_sender(req) : NACT_AID_NONE;
	w->w.corr = nact_msg_corr(req);
	nact_msg *m;
	int rv = nact_msg_alloc(&m, c->sys, nact_msg_type(req));
	if (rv == 0) {
		size_t n;
		const void *b = nact_msg_body(req, &n);
		rv = nng_msg_append(nact_msg_nng(m), b, n) == 0 ? 0 : NACT_ENOMEM;
	}
	if (rv == 0)
		rv = nact_request(ctx, c->cfg.backing, m, (int)c->cfg.backing_timeout_ms,
		    wthru_reply, w);
	if (rv != 0) {
		nact_msg_free(m);
		free(w);
	}
	return rv;
}

/* ------------------------------------------------------------------ */
/* batches (MGET, MSET)                                                 */

/* Results of a batch get kept on the stack up to this many keys. */
#define MGET_STACK 64

/* msgpack array header for n elements; returns its length (1, 3 or 5). */
static size_t enc_arr(uint8_t *b, uint32_t n)
{
	if (n <= 15) {
		b[0] = (uint8_t)(0x90 | n);
		return 1;
	}
	return n <= 0xffff ? enc_tag(b, 0xdc, n, 2) : enc_tag(b, 0xdd, n, 4);
}

static int batch_refused(struct cache *c, const nact_msg *m, int code, const char *why)
{
	c->st.bad++;
	if (is_req(m))
		nact_reply_error(c->sys, m, code, why);
	return 0;
}

/* MGET [key...] -> MVALUE [hit, value, ...]: every key is a get (hit or
 * miss counted, a hit moves to the LRU head, an expired entry is dropped).
 * Found entries stay valid until the reply is built: a later lookup only
 * drops the entry of its own key, which an earlier one already dropped. */
static int on_mget(struct cache *c, nact_msg *m, mcur *r)
{
	uint32_t n;
	if (!is_req(m))
		return bad(c, m, "cache mget must be a request");
	if (marray(r, &n) != 0)
		return bad(c, m, "cache mget: body must be [key...]");
	if (n > NACT_CACHE_BATCH_MAX)
		return batch_refused(c, m, NACT_ELIMIT,
		    "cache mget: more than NACT_CACHE_BATCH_MAX keys");
	if (c->cfg.backing.v)
		return batch_refused(c, m, NACT_ENOTSUP,
		    "cache mget: not supported by a layered cache");
	/* Check every key first: a bad batch is refused whole. */
	mcur chk = *r;
	const void *k;
	size_t kl;
	for (uint32_t i = 0; i < n; i++)
		if (mbytes(&chk, &k, &kl) != 0)
			return bad(c, m, "cache mget: body must be [key...] (bin or str keys)");
	if (chk.off != chk.n)
		return bad(c, m, "cache mget: body must be [key...]");
	struct centry *stk[MGET_STACK];
	struct centry **found = stk;
	if (n > MGET_STACK && (found = malloc(n * sizeof(*found))) == NULL) {
		nact_reply_error(c->sys, m, NACT_ENOMEM, NULL);
		return 0;
	}
	size_t tot = 5; /* the array header, at most */
	uint64_t now = c->nexp > 0 ? nact_now(c->sys) : 0;
	for (uint32_t i = 0; i < n; i++) {
		mbytes(r, &k, &kl);
		struct centry *e = count_hit(c, lookup_at(c, khash(k, kl), k, kl, now));
		found[i] = e;
		tot += e != NULL ? 1 + e->vlen : 2;
	}
	nact_msg *rep;
	int rv = nact_msg_alloc(&rep, c->sys, NACT_T_CACHE_MVALUE);
	nng_msg *nm = rv == 0 ? nact_msg_nng(rep) : NULL;
	size_t len = nm ? nng_msg_len(nm) : 0;
	if (rv == 0 && nng_msg_realloc(nm, len + tot) != 0) {
		nact_msg_free(rep);
		rv = NACT_ENOMEM;
	}
	if (rv == 0) {
		/* One resize, then every byte written in place. */
		uint8_t *b = (uint8_t *)nng_msg_body(nm) + len, *b0 = b;
		b += enc_arr(b, 2 * n);
		for (uint32_t i = 0; i < n; i++) {
			struct centry *e = found[i];
			if (e != NULL) {
				*b++ = 0xc3;
				memcpy(b, e->data + e->h.klen, e->vlen);
				b += e->vlen;
			} else {
				*b++ = 0xc2;
				*b++ = 0xc0;
			}
		}
		if (nng_msg_realloc(nm, len + (size_t)(b - b0)) != 0) { /* shrinks: cannot fail */
			nact_msg_free(rep);
			rv = NACT_ENOMEM;
		}
	}
	if (found != stk)
		free(found);
	if (rv != 0) {
		nact_reply_error(c->sys, m, rv, NULL);
		return 0;
	}
	send_reply(c, nact_msg_sender(m), nact_msg_corr(m), rep);
	return 0;
}

/* MSET [ttl_ms, key, value, ...] -> DONE [n]: the whole body is checked
 * first (nothing is stored from a bad batch), then each pair is stored in
 * order, exactly as that many SETs in a row. */
static int on_mset(struct cache *c, nact_msg *m, mcur *r)
{
	uint32_t n;
	int64_t ttl;
	const void *k;
	size_t kl;
	if (marray(r, &n) != 0 || n == 0 || n % 2 != 1)
		return bad(c, m, "cache mset: body must be [ttl_ms, key, value, ...]");
	n /= 2;
	if (n > NACT_CACHE_BATCH_MAX)
		return batch_refused(c, m, NACT_ELIMIT,
		    "cache mset: more than NACT_CACHE_BATCH_MAX pairs");
	if (c->cfg.backing.v)
		return batch_refused(c, m, NACT_ENOTSUP,
		    "cache mset: not supported by a layered cache");
	if (mint(r, &ttl) != 0 || ttl > INT32_MAX)
		return bad(c, m, "cache mset: ttl_ms must be an int");
	mcur chk = *r;
	for (uint32_t i = 0; i < n; i++) {
		if (mbytes(&chk, &k, &kl) != 0)
			return bad(c, m, "cache mset: keys must be bin or str");
		size_t v0 = chk.off;
		if (mskip(&chk) != 0)
			return bad(c, m, "cache mset: value is not well-formed msgpack");
		if (c->cfg.max_bytes && kl + (chk.off - v0) > c->cfg.max_bytes) {
			c->st.bad++;
			if (is_req(m))
				nact_reply_error(c->sys, m, NACT_ERESOURCE,
				    "cache mset: entry larger than max_bytes");
			return 0;
		}
	}
	if (chk.off != chk.n)
		return bad(c, m, "cache mset: body must be [ttl_ms, key, value, ...]");
	for (uint32_t i = 0; i < n; i++) {
		mbytes(r, &k, &kl);
		size_t v0 = r->off;
		mskip(r);
		int rv =
		    store(c, khash(k, kl), k, kl, r->p + v0, r->off - v0, ttl < 0 ? -1 : (int)ttl);
		if (rv != 0) {
			if (is_req(m))
				nact_reply_error(c->sys, m, rv,
				    "cache mset: stored only part of the batch");
			return 0;
		}
	}
	if (is_req(m))
		reply_done(c, nact_msg_sender(m), nact_msg_corr(m), n);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the behaviour                                                        */

static void sweep(struct cache *c, nact_ctx *ctx)
{
	if (c->nexp > 0 && c->tab.n > 0) {
		uint64_t now = nact_now(c->sys);
		size_t seen = 0, nb = c->tab.mask + 1, walked = 0;
		while (seen < 256 && walked < nb) {
			size_t b = c->sweep_b++ & c->tab.mask;
			walked++;
			struct hnode *e = c->tab.b[b];
			while (e != NULL) {
				struct hnode *nx = e->hnext;
				struct centry *ce = (struct centry *)e;
				seen++;
				if (ce->expires && now >= ce->expires) {
					entry_drop(c, ce);
					c->st.expirations++;
				}
				e = nx;
			}
		}
	}
	nact_msg *m;
	if (nact_msg_alloc(&m, c->sys, NACT_T_CACHE_SWEEP) == 0 &&
	    nact_send_after(c->sys, nact_self(ctx), m, (int)c->cfg.sweep_ms, NULL) != 0)
		nact_msg_free(m);
}

static void on_event(struct cache *c, const nact_msg *m)
{
	mcur r;
	uint32_t n;
	const void *t;
	size_t tl;
	mcur_msg(&r, m);
	if (marray(&r, &n) != 0 || n != 2 || mbytes(&r, &t, &tl) != 0) {
		c->st.bad++;
		return;
	}
	if (c->topic != NULL && (strlen(c->topic) != tl || memcmp(c->topic, t, tl) != 0))
		return; /* another topic: not ours */
	mcur v = r;
	if (mskip(&v) != 0 || v.off != v.n) {
		c->st.bad++;
		return;
	}
	const void *k;
	size_t kl;
	if (mnil(&r)) {
		clear_all(c);
	} else if (mbytes(&r, &k, &kl) == 0) {
		del_key(c, k, kl);
	} else if (marray(&r, &n) == 0) {
		/* Check every element first: a bad list is dropped whole. */
		mcur chk = r;
		for (uint32_t i = 0; i < n; i++) {
			if (mbytes(&chk, &k, &kl) != 0) {
				c->st.bad++;
				return;
			}
		}
		for (uint32_t i = 0; i < n; i++) {
			mbytes(&r, &k, &kl);
			del_key(c, k, kl);
		}
	} else {
		c->st.bad++;
		return;
	}
	c->st.events++;
}

/* A get's lookup: on a hit, reply with the value and return 1; on a
 * miss (counted), return 0. */
static int reply_hit(struct cache *c, const nact_msg *m, uint64_t h, const void *k, size_t kl)
{
	struct centry *e = count_hit(c, lookup(c, h, k, kl));
	if (e == NULL)
		return 0;
	reply_value(c, nact_msg_sender(m), nact_msg_corr(m), e->data + kl, e->vlen);
	return 1;
}

static int cache_fn(nact_ctx *ctx, nact_msg *m)
{
	struct cache *c = nact_state(ctx);
	uint32_t type = nact_msg_type(m);
	mcur r;
	uint32_t n = 0;
	const void *k = NULL, *v = NULL;
	size_t kl = 0;
	int64_t ttl = -1, tmo = 0, cid = 0;

	mcur_msg(&r, m);
	switch (type) {
	case NACT_T_CACHE_GET: {
		if (!is_req(m))
			return bad(c, m, "cache get must be a request");
		if (marray(&r, &n) != 0 || n != 1 || mbytes(&r, &k, &kl) != 0 || r.off != r.n)
			return bad(c, m, "cache get: body must be [key]");
		uint64_t h = khash(k, kl);
		if (reply_hit(c, m, h, k, kl))
			return 0;
		if (c->cfg.backing.v) {
			pend_start(c, ctx, m, h, k, kl, NACT_AID_NONE, -1, 0);
			return 0;
		}
		reply_value(c, nact_msg_sender(m), nact_msg_corr(m), NULL, 0);
		return 0;
	}
	case NACT_T_CACHE_SET: {
		if (marray(&r, &n) != 0 || n < 2 || n > 3 || mbytes(&r, &k, &kl) != 0)
			return bad(c, m, "cache set: body must be [key, value, ttl_ms?]");
		size_t v0 = r.off;
		if (mskip(&r) != 0)
			return bad(c, m, "cache set: value is not well-formed msgpack");
		v = r.p + v0;
		size_t vl = r.off - v0;
		if ((n == 3 && mint(&r, &ttl) != 0) || r.off != r.n || ttl > INT32_MAX)
			return bad(c, m, "cache set: ttl_ms must be an int");
		int rv = store(c, khash(k, kl), k, kl, v, vl, ttl < 0 ? -1 : (int)ttl);
		if (rv != 0) {
			if (is_req(m))
				nact_reply_error(c->sys, m, rv,
				    rv == NACT_ERESOURCE ?
				        "cache set: entry larger than max_bytes" :
				        NULL);
			return 0;
		}
		if (c->cfg.backing.v) {
			if ((rv = wthru_start(c, ctx, m, 1, k, kl)) != 0) {
				del_key(c, k, kl);
				if (is_req(m))
					nact_reply_error(c->sys, m, NACT_ECACHE,
					    "cache set: cannot write through");
			}
			return 0;
		}
		if (is_req(m))
			reply_done(c, nact_msg_sender(m), nact_msg_corr(m), 1);
		return 0;
	}
	case NACT_T_CACHE_DEL: {
		if (marray(&r, &n) != 0 || n != 1 || mbytes(&r, &k, &kl) != 0 || r.off != r.n)
			return bad(c, m, "cache del: body must be [key]");
		int d = del_key(c, k, kl);
		if (c->cfg.backing.v) {
			if (wthru_start(c, ctx, m, 0, k, kl) != 0 && is_req(m))
				nact_reply_error(c->sys, m, NACT_ECACHE,
				    "cache del: cannot write through");
			return 0;
		}
		if (is_req(m))
			reply_done(c, nact_msg_sender(m), nact_msg_corr(m), (uint64_t)d);
		return 0;
	}
	case NACT_T_CACHE_CLEAR: {
		if (marray(&r, &n) != 0 || n != 0 || r.off != r.n)
			return bad(c, m, "cache clear: body must be []");
		uint64_t cnt = clear_all(c);
		if (is_req(m))
			reply_done(c, nact_msg_sender(m), nact_msg_corr(m), cnt);
		return 0;
	}
	case NACT_T_CACHE_COMPUTE_GET: {
		if (!is_req(m))
			return bad(c, m, "cache get-or-compute must be a request");
		if (marray(&r, &n) != 0 || n < 2 || n > 4 || mbytes(&r, &k, &kl) != 0 ||
		    mint(&r, &cid) != 0 || cid <= 0 || (n >= 3 && mint(&r, &ttl) != 0) ||
		    (n >= 4 && mint(&r, &tmo) != 0) || r.off != r.n || ttl > INT32_MAX ||
		    tmo > INT32_MAX)
			return bad(c, m,
			    "cache get-or-compute: body must be [key, compute, ttl_ms?, timeout_ms?]");
		uint64_t h = khash(k, kl);
		if (reply_hit(c, m, h, k, kl))
			return 0;
		int t = tmo > 0 ? (int)tmo : (int)c->cfg.compute_timeout_ms;
		pend_start(c, ctx, m, h, k, kl, (nact_aid){(uint64_t)cid}, ttl < 0 ? -1 : (int)ttl,
		    t);
		return 0;
	}
	case NACT_T_CACHE_MGET:
		return on_mget(c, m, &r);
	case NACT_T_CACHE_MSET:
		return on_mset(c, m, &r);
	case NACT_T_CACHE_STATS:
		if (!is_req(m))
			return bad(c, m, "cache stats must be a request");
		if (marray(&r, &n) != 0 || n != 0 || r.off != r.n)
			return bad(c, m, "cache stats: body must be []");
		reply_stats(c, m);
		return 0;
	case NACT_T_CACHE_SWEEP:
		if (nact_msg_sender(m).v != 0 && nact_msg_sender(m).v != nact_self(ctx).v)
			return bad(c, m, "cache sweep is the cache's own timer");
		sweep(c, ctx);
		return 0;
	case NACT_T_EVENT:
		on_event(c, m);
		return 0;
	default:
		return bad(c, m, "not a cache message");
	}
}

static void cache_fini(void *arg)
{
	struct cache *c = arg;
	if (c == NULL)
		return;
	while (c->head != NULL)
		entry_drop(c, c->head);
	struct htab *ts[2] = {&c->pget, &c->pcmp};
	for (int i = 0; i < 2; i++) {
		for (size_t b = 0; ts[i]->b && b <= ts[i]->mask; b++) {
			struct hnode *e = ts[i]->b[b];
			while (e != NULL) {
				struct hnode *nx = e->hnext;
				pend_free((struct pend *)e);
				e = nx;
			}
		}
		free(ts[i]->b);
	}
	free(c->tab.b);
	free(c->topic);
	free(c);
}

/* ------------------------------------------------------------------ */
/* spawning                                                             */

void nact_cache_config_init(nact_cache_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
}

int nact_cache_spawn(nact_aid *idp, nact_system *sys, const nact_cache_config *cfg)
{
	if (idp == NULL || sys == NULL)
		return NACT_EINVAL;
	struct cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NACT_ENOMEM;
	if (cfg != NULL)
		c->cfg = *cfg;
	c->cfg.name = NULL;
	c->cfg.topic = NULL;
	if (c->cfg.sweep_ms == 0)
		c->cfg.sweep_ms = 1000;
	if (c->cfg.compute_timeout_ms == 0)
		c->cfg.compute_timeout_ms = 5000;
	if (c->cfg.backing_timeout_ms == 0)
		c->cfg.backing_timeout_ms = 5000;
	if (c->cfg.sweep_ms > INT32_MAX || c->cfg.compute_timeout_ms > INT32_MAX / 2 ||
	    c->cfg.backing_timeout_ms > INT32_MAX / 2) {
		free(c);
		return NACT_EINVAL;
	}
	c->sys = sys;
	int rv = 0;
	if (cfg != NULL && cfg->topic != NULL && (c->topic = strdup(cfg->topic)) == NULL)
		rv = NACT_ENOMEM;
	if (rv == 0)
		rv = htab_init(&c->tab, 64);
	if (rv == 0)
		rv = htab_init(&c->pget, 16);
	if (rv == 0)
		rv = htab_init(&c->pcmp, 16);
	if (rv != 0) {
		cache_fini(c);
		return rv;
	}
	nact_spawn_opts o = {0};
	o.name = cfg != NULL ? cfg->name : NULL;
	o.capacity = c->cfg.capacity;
	o.overflow = NACT_OVERFLOW_FAIL;
	uint32_t sweep_ms = c->cfg.sweep_ms;
	nact_aid id;
	if ((rv = nact_spawn(&id, sys, cache_fn, c, cache_fini, &o)) != 0) {
		cache_fini(c);
		return rv;
	}
	/* The first sweep tick; each tick arms the next. */
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, NACT_T_CACHE_SWEEP) == 0 &&
	    nact_send_after(sys, id, m, (int)sweep_ms, NULL) != 0)
		nact_msg_free(m);
	*idp = id;
	return 0;
}

int nact_cache_child_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	(void)extra;
	return nact_cache_spawn(idp, sys, arg);
}

/* ------------------------------------------------------------------ */
/* building requests                                                    */

/* A request: the array header for n fields (n <= 15), then, if n > 0, the
 * key as a bin, the value bytes v (may be NULL) and the encoded tail t. */
static int build_req(nact_msg **mp, nact_system *sys, uint32_t type, uint32_t n, const void *k,
    size_t kl, const void *v, size_t vl, const uint8_t *t, size_t tl)
{
	if (mp == NULL || sys == NULL || (k == NULL && kl > 0) || kl > UINT32_MAX)
		return NACT_EINVAL;
	uint8_t h[6];
	size_t hl = 0;
	h[hl++] = (uint8_t)(0x90 | n);
	if (n > 0)
		hl += enc_bin(h + hl, kl);
	int rv = nact_msg_alloc(mp, sys, type);
	if (rv != 0)
		return rv;
	const void *pp[4] = {h, k, v, t};
	size_t pl[4] = {hl, n > 0 ? kl : 0, v ? vl : 0, t ? tl : 0};
	if ((rv = append_parts(nact_msg_nng(*mp), pp, pl, 4)) != 0) {
		nact_msg_free(*mp);
		*mp = NULL;
	}
	return rv;
}

int nact_cache_msg_get(nact_msg **mp, nact_system *sys, const void *key, size_t klen)
{
	return build_req(mp, sys, NACT_T_CACHE_GET, 1, key, klen, NULL, 0, NULL, 0);
}

int nact_cache_msg_set(nact_msg **mp, nact_system *sys, const void *key, size_t klen,
    const void *val, size_t vlen, int ttl_ms)
{
	size_t sz;
	if (val == NULL || nact_msgpack_value_size(val, vlen, &sz) != 0 || sz != vlen)
		return NACT_EINVAL;
	uint8_t t[9];
	size_t tl = enc_int(t, ttl_ms);
	return build_req(mp, sys, NACT_T_CACHE_SET, 3, key, klen, val, vlen, t, tl);
}

int nact_cache_msg_del(nact_msg **mp, nact_system *sys, const void *key, size_t klen)
{
	return build_req(mp, sys, NACT_T_CACHE_DEL, 1, key, klen, NULL, 0, NULL, 0);
}

int nact_cache_msg_clear(nact_msg **mp, nact_system *sys)
{
	return build_req(mp, sys, NACT_T_CACHE_CLEAR, 0, NULL, 0, NULL, 0, NULL, 0);
}

int nact_cache_msg_compute_get(nact_msg **mp, nact_system *sys, const void *key, size_t klen,
    nact_aid compute, int ttl_ms, int timeout_ms)
{
	if (compute.v == 0)
		return NACT_EINVAL;
	uint8_t t[27];
	size_t tl = enc_uint(t, compute.v);
	tl += enc_int(t + tl, ttl_ms);
	tl += enc_int(t + tl, timeout_ms);
	return build_req(mp, sys, NACT_T_CACHE_COMPUTE_GET, 4, key, klen, NULL, 0, t, tl);
}

int nact_cache_msg_stats(nact_msg **mp, nact_system *sys)
{
	return build_req(mp, sys, NACT_T_CACHE_STATS, 0, NULL, 0, NULL, 0, NULL, 0);
}

/* A batch request: the array header, the ttl if set, then each key (bin)
 * and, if set, its value. Sized first, resized once, written in place. */
static int build_batch(nact_msg **mp, nact_system *sys, int set, const nact_cache_item *it,
    size_t n, int ttl_ms)
{
	if (mp == NULL || sys == NULL || n > NACT_CACHE_BATCH_MAX || (it == NULL && n > 0))
		return NACT_EINVAL;
	size_t tot = 5 + 9;
	for (size_t i = 0; i < n; i++) {
		if ((it[i].key == NULL && it[i].klen > 0) || it[i].klen > UINT32_MAX)
			return NACT_EINVAL;
		tot += 5 + it[i].klen;
		if (set) {
			size_t sz;
			if (it[i].val == NULL ||
			    nact_msgpack_value_size(it[i].val, it[i].vlen, &sz) != 0 ||
			    sz != it[i].vlen)
				return NACT_EINVAL;
			tot += it[i].vlen;
		}
	}
	int rv = nact_msg_alloc(mp, sys, set ? NACT_T_CACHE_MSET : NACT_T_CACHE_MGET);
	if (rv != 0)
		return rv;
	nng_msg *nm = nact_msg_nng(*mp);
	size_t len = nng_msg_len(nm);
	if (nng_msg_realloc(nm, len + tot) != 0) {
		nact_msg_free(*mp);
		*mp = NULL;
		return NACT_ENOMEM;
	}
	uint8_t *b = (uint8_t *)nng_msg_body(nm) + len, *b0 = b;
	b += enc_arr(b, (uint32_t)(set ? 1 + 2 * n : n));
	if (set)
		b += enc_int(b, ttl_ms);
	for (size_t i = 0; i < n; i++) {
		b += enc_bin(b, it[i].klen);
		if (it[i].klen > 0)
			memcpy(b, it[i].key, it[i].klen);
		b += it[i].klen;
		if (set) {
			memcpy(b, it[i].val, it[i].vlen);
			b += it[i].vlen;
		}
	}
	nng_msg_realloc(nm, len + (size_t)(b - b0)); /* shrinks: no allocation */
	return 0;
}

int nact_cache_msg_mget(nact_msg **mp, nact_system *sys, const nact_cache_item *items, size_t n)
{
	return build_batch(mp, sys, 0, items, n, 0);
}

int nact_cache_msg_mset(nact_msg **mp, nact_system *sys, const nact_cache_item *items, size_t n,
    int ttl_ms)
{
	return build_batch(mp, sys, 1, items, n, ttl_ms);
}

/* ------------------------------------------------------------------ */
/* reading replies                                                      */

/* 0 when rep is of type want; else the code of an error reply, or
 * NACT_EBADMSG. */
static int reply_check(const nact_msg *rep, uint32_t want)
{
	uint32_t type = nact_msg_type(rep);
	int code = NACT_EBADMSG;
	if (type == want)
		return 0;
	if (type != NACT_T_ERROR || nact_error_read(rep, &code, NULL, 0) != 0 || code == 0)
		return NACT_EBADMSG;
	return code;
}

/* One hit flag and value of a reply at r: on a hit, *v and *vl the
 * value's bytes (pointing into the reply), else NULL and 0. 0, or -1
 * when malformed. */
static int read_hit(mcur *r, int *hit, const void **v, size_t *vl)
{
	if (r->off >= r->n)
		return -1;
	uint8_t b = r->p[r->off++];
	if (b != 0xc2 && b != 0xc3)
		return -1;
	size_t v0 = r->off;
	if (mskip(r) != 0)
		return -1;
	*hit = b == 0xc3;
	*v = *hit ? r->p + v0 : NULL;
	*vl = *hit ? r->off - v0 : 0;
	return 0;
}

int nact_cache_reply_value(const nact_msg *rep, int *hitp, const void **valp, size_t *vlenp)
{
	if (rep == NULL || hitp == NULL)
		return NACT_EINVAL;
	int rv = reply_check(rep, NACT_T_CACHE_VALUE);
	if (rv != 0)
		return rv;
	mcur r;
	uint32_t n;
	mcur_msg(&r, rep);
	int hit;
	const void *v;
	size_t vl;
	if (marray(&r, &n) != 0 || n != 2 || read_hit(&r, &hit, &v, &vl) != 0 || r.off != r.n)
		return NACT_EBADMSG;
	*hitp = hit;
	if (valp)
		*valp = v;
	if (vlenp)
		*vlenp = vl;
	return 0;
}

int nact_cache_reply_done(const nact_msg *rep, uint64_t *np)
{
	if (rep == NULL)
		return NACT_EINVAL;
	int rv = reply_check(rep, NACT_T_CACHE_DONE);
	if (rv != 0)
		return rv;
	mcur r;
	uint32_t n;
	int64_t v;
	mcur_msg(&r, rep);
	if (r.n == 2 && r.p[0] == 0x91 && r.p[1] <= 0x7f) { /* [n < 128]: the usual */
		if (np)
			*np = r.p[1];
		return 0;
	}
	if (marray(&r, &n) != 0 || n != 1 || mint(&r, &v) != 0 || v < 0 || r.off != r.n)
		return NACT_EBADMSG;
	if (np)
		*np = (uint64_t)v;
	return 0;
}

int nact_cache_reply_mvalue(const nact_msg *rep, nact_cache_item *items, size_t n)
{
	if (rep == NULL || (items == NULL && n > 0))
		return NACT_EINVAL;
	int rv = reply_check(rep, NACT_T_CACHE_MVALUE);
	if (rv != 0)
		return rv;
	mcur r;
	uint32_t cnt;
	mcur_msg(&r, rep);
	if (marray(&r, &cnt) != 0 || cnt % 2 != 0 || cnt / 2 != n)
		return NACT_EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (read_hit(&r, &items[i].hit, &items[i].val, &items[i].vlen) != 0)
			return NACT_EBADMSG;
	}
	return r.off == r.n ? 0 : NACT_EBADMSG;
}

/* The uint fields of a STATS_R map, by name. */
static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
    {"hits", offsetof(nact_cache_stats, hits)},
    {"misses", offsetof(nact_cache_stats, misses)},
    {"evictions", offsetof(nact_cache_stats, evictions)},
    {"expirations", offsetof(nact_cache_stats, expirations)},
    {"sets", offsetof(nact_cache_stats, sets)},
    {"deletes", offsetof(nact_cache_stats, deletes)},
    {"computes", offsetof(nact_cache_stats, computes)},
    {"compute_errors", offsetof(nact_cache_stats, compute_errors)},
    {"bad", offsetof(nact_cache_stats, bad)},
    {"events", offsetof(nact_cache_stats, events)},
    {"entries", offsetof(nact_cache_stats, entries)},
    {"bytes", offsetof(nact_cache_stats, bytes)},
};

int nact_cache_reply_stats(const nact_msg *rep, nact_cache_stats *st)
{
	if (rep == NULL || st == NULL)
		return NACT_EINVAL;
	int rv = reply_check(rep, NACT_T_CACHE_STATS_R);
	if (rv != 0)
		return rv;
	nact_reader r;
	uint32_t np;
	memset(st, 0, sizeof(*st));
	if (nact_reader_init(&r, rep, NULL) != 0)
		return NACT_EBADMSG;
	rv = nact_read_map(&r, &np);
	for (uint32_t i = 0; rv == 0 && i < np; i++) {
		const char *s;
		size_t sl;
		uint64_t u = 0;
		double d;
		if ((rv = nact_read_str(&r, &s, &sl)) != 0)
			break;
		if (sl == 8 && memcmp(s, "hit_rate", 8) == 0) {
			rv = nact_read_double(&r, &d);
			st->hit_rate = d;
			continue;
		}
		if ((rv = nact_read_uint(&r, &u)) != 0)
			break;
		for (size_t k = 0; k < sizeof(stat_fields) / sizeof(stat_fields[0]); k++) {
			const char *name = stat_fields[k].name;
			if (strlen(name) == sl && memcmp(name, s, sl) == 0)
				*(uint64_t *)((char *)st + stat_fields[k].off) = u;
		}
	}
	nact_reader_fini(&r);
	return rv == 0 ? 0 : NACT_EBADMSG;
}

int nact_cache_compute_key(const nact_msg *req, const void **keyp, size_t *klenp)
{
	if (req == NULL || keyp == NULL || klenp == NULL)
		return NACT_EINVAL;
	if (nact_msg_type(req) != NACT_T_CACHE_COMPUTE)
		return NACT_EBADMSG;
	mcur r;
	uint32_t n;
	mcur_msg(&r, req);
	if (marray(&r, &n) != 0 || n != 1 || mbytes(&r, keyp, klenp) != 0 || r.off != r.n)
		return NACT_EBADMSG;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the computer actor                                                   */

struct computer {
	nact_cache_compute_fn fn;
	void *arg;
};

static int computer_fn(nact_ctx *ctx, nact_msg *m)
{
	struct computer *cp = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	const void *k;
	size_t kl;
	if (!is_req(m))
		return 0; /* nothing to answer: dropped */
	if (nact_cache_compute_key(m, &k, &kl) != 0) {
		nact_reply_error(sys, m, NACT_EBADMSG, "not a cache compute request");
		return 0;
	}
	nact_msg *rep;
	if (nact_msg_alloc(&rep, sys, NACT_T_CACHE_VALUE) != 0) {
		nact_reply_error(sys, m, NACT_ENOMEM, NULL);
		return 0;
	}
	nact_pack p;
	nact_pack_init(&p, rep);
	int rv = cp->fn(cp->arg, k, kl, &p);
	if (rv == 0)
		rv = nact_pack_error(&p);
	if (rv != 0) {
		nact_msg_free(rep);
		nact_reply_error(sys, m, rv, NULL);
		return 0;
	}
	if (nact_reply(sys, m, rep) != 0)
		nact_msg_free(rep);
	return 0;
}

int nact_cache_computer_spawn(nact_aid *idp, nact_system *sys, nact_cache_compute_fn fn, void *arg)
{
	if (idp == NULL || sys == NULL || fn == NULL)
		return NACT_EINVAL;
	struct computer *cp = malloc(sizeof(*cp));
	if (cp == NULL)
		return NACT_ENOMEM;
	cp->fn = fn;
	cp->arg = arg;
	int rv = nact_spawn(idp, sys, computer_fn, cp, free, NULL);
	if (rv != 0)
		free(cp);
	return rv;
}

/* ------------------------------------------------------------------ */
/* blocking wrappers                                                    */

static int call(nact_system *sys, nact_aid cache, nact_msg *req, int timeout_ms, nact_msg **rep)
{
	int rv = nact_call(sys, cache, req, timeout_ms, rep);
	if (rv != 0 && rv != NACT_ETIMEDOUT)
		nact_msg_free(req); /* not consumed */
	return rv;
}

static int value_out(nact_msg *rep, void **valp, size_t *vlenp)
{
	int hit = 0;
	const void *v;
	size_t vl;
	int rv = nact_cache_reply_value(rep, &hit, &v, &vl);
	if (rv == 0 && !hit)
		rv = NACT_ENOENT;
	if (rv == 0) {
		void *cp = malloc(vl ? vl : 1);
		if (cp == NULL) {
			rv = NACT_ENOMEM;
		} else {
			memcpy(cp, v, vl);
			if (valp)
				*valp = cp;
			else
				free(cp);
			if (vlenp)
				*vlenp = vl;
		}
	}
	nact_msg_free(rep);
	return rv;
}

int nact_cache_get(nact_system *sys, nact_aid cache, const void *key, size_t klen, void **valp,
    size_t *vlenp, int timeout_ms)
{
	nact_msg *req, *rep;
	int rv = nact_cache_msg_get(&req, sys, key, klen);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	return rv ? rv : value_out(rep, valp, vlenp);
}

int nact_cache_get_or_compute(nact_system *sys, nact_aid cache, const void *key, size_t klen,
    nact_aid compute, int ttl_ms, int compute_timeout_ms, void **valp, size_t *vlenp,
    int timeout_ms)
{
	nact_msg *req, *rep;
	int rv =
	    nact_cache_msg_compute_get(&req, sys, key, klen, compute, ttl_ms, compute_timeout_ms);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	return rv ? rv : value_out(rep, valp, vlenp);
}

static int done_out(nact_msg *rep, uint64_t *np)
{
	int rv = nact_cache_reply_done(rep, np);
	nact_msg_free(rep);
	return rv;
}

int nact_cache_set(nact_system *sys, nact_aid cache, const void *key, size_t klen, const void *val,
    size_t vlen, int ttl_ms, int timeout_ms)
{
	nact_msg *req, *rep;
	int rv = nact_cache_msg_set(&req, sys, key, klen, val, vlen, ttl_ms);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	return rv ? rv : done_out(rep, NULL);
}

int nact_cache_del(nact_system *sys, nact_aid cache, const void *key, size_t klen, int *deletedp,
    int timeout_ms)
{
	nact_msg *req, *rep;
	uint64_t n = 0;
	int rv = nact_cache_msg_del(&req, sys, key, klen);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	if (rv == 0)
		rv = done_out(rep, &n);
	if (rv == 0 && deletedp)
		*deletedp = n > 0;
	return rv;
}

int nact_cache_clear(nact_system *sys, nact_aid cache, uint64_t *np, int timeout_ms)
{
	nact_msg *req, *rep;
	int rv = nact_cache_msg_clear(&req, sys);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	return rv ? rv : done_out(rep, np);
}

int nact_cache_stats_get(nact_system *sys, nact_aid cache, nact_cache_stats *st, int timeout_ms)
{
	nact_msg *req, *rep;
	if (st == NULL)
		return NACT_EINVAL;
	int rv = nact_cache_msg_stats(&req, sys);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	if (rv != 0)
		return rv;
	rv = nact_cache_reply_stats(rep, st);
	nact_msg_free(rep);
	return rv;
}

int nact_cache_mget(nact_system *sys, nact_aid cache, nact_cache_item *items, size_t n,
    nact_msg **replyp, int timeout_ms)
{
	nact_msg *req, *rep;
	if (replyp == NULL)
		return NACT_EINVAL;
	*replyp = NULL;
	int rv = nact_cache_msg_mget(&req, sys, items, n);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	if (rv != 0)
		return rv;
	if ((rv = nact_cache_reply_mvalue(rep, items, n)) != 0) {
		nact_msg_free(rep);
		return rv;
	}
	*replyp = rep;
	return 0;
}

int nact_cache_mset(nact_system *sys, nact_aid cache, const nact_cache_item *items, size_t n,
    int ttl_ms, uint64_t *np, int timeout_ms)
{
	nact_msg *req, *rep;
	int rv = nact_cache_msg_mset(&req, sys, items, n, ttl_ms);
	if (rv == 0)
		rv = call(sys, cache, req, timeout_ms, &rep);
	return rv ? rv : done_out(rep, np);
}
