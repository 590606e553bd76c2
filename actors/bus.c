/*
 * actors/bus.c — the event bus actor (include/nactor/bus.h).
 *
 * DESIGN
 * The subscription table lives in a reference-counted handle (nact_bus),
 * not in the actor, so a supervisor can restart the bus actor without
 * losing subscriptions. Only the running bus actor reads or writes the
 * table (one actor at a time: a start refuses while one is alive, and a
 * supervisor restarts only after the DOWN), so the hot path takes no lock.
 *
 * Subscriptions made through the handle carry C pointers (callbacks,
 * filters, maps). They never travel in a message body: nact_bus_on puts the
 * prepared record on the handle's pending list (under hd_mtx) and sends
 * NACT_T_BUS_ATTACH [id]; the bus moves the record with that id into the
 * table. A forged ATTACH names no pending record and is a bad message, so
 * no byte a client sends is ever used as a pointer.
 *
 * A publish is decoded in place: the body is validated against the default
 * reader limits, then walked by hand to find the topic and the byte range
 * of the payload, which is copied verbatim into each delivery (no decode,
 * no re-encode of the payload on the fan-out path).
 *
 * Each actor listener (and pipe target) is monitored once, however many
 * subscriptions it has (bm_nsubs); a new bus actor monitors them all again
 * on its first message. Removal during delivery (once, DOWN cannot happen
 * mid-delivery) is deferred to after the loop.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/bus.h>
#include <nng/supplemental/util/platform.h>
#include <nactor/supervisor.h>

struct bus_sub {
	struct bus_sub *next;
	uint64_t id;
	char *pattern;
	size_t plen;
	nact_aid actor;
	nact_bus_fn fn;
	void *arg;
	nact_bus_filter_fn filter;
	void *filter_arg;
	nact_bus_map_fn map;
	void *map_arg;
	uint32_t flags;
	int gone; /* removed by once during a delivery loop */
};

struct bus_mon {
	struct bus_mon *next;
	nact_aid who;
	uint64_t ref;
	uint32_t nsubs;
};

struct nact_bus {
	nact_system *sys;
	atomic_int refs;         /* caller + each bus actor */
	_Atomic uint64_t aid;    /* current bus actor */
	_Atomic uint64_t nextid; /* subscription ids */
	uint32_t capacity;
	char *name;
	nng_mtx *mtx;            /* guards pending */
	struct bus_sub *pending; /* prepared by nact_bus_on, not attached yet */
	/* Bus actor only: */
	struct bus_sub *subs; /* in subscription order */
	struct bus_mon *mons;
	nact_bus_stats st;
	int sweep; /* some subscription is marked gone */
};

struct bus_actor {
	nact_bus *b;
	int inited; /* monitors set for this actor instance */
};

/* ---- topics and patterns ---- */

static int seg_is(const char *s, size_t n, char c)
{
	return n == 1 && s[0] == c;
}

/* 0 if s (n bytes) is a valid topic (pattern = 0) or pattern (1). */
static int topic_check(const char *s, size_t n, int pattern)
{
	if (s == NULL || n == 0 || n > NACT_BUS_TOPIC_MAX)
		return NACT_EINVAL;
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != '.') {
			if (s[j] == '\0')
				return NACT_EINVAL;
			j++;
		}
		if (j == i)
			return NACT_EINVAL; /* empty segment */
		int wild = seg_is(s + i, j - i, '*') || seg_is(s + i, j - i, '>');
		if (wild && !pattern)
			return NACT_EINVAL;
		if (seg_is(s + i, j - i, '>') && j != n)
			return NACT_EINVAL; /* '>' only last */
		i = j + 1;
	}
	return 0;
}

static int match(const char *p, size_t pl, const char *t, size_t tl)
{
	const char *pp = p, *pend = p + pl, *tp = t, *tend = t + tl;

	if (t[0] == '$') {
		size_t n0 = 0;
		while (n0 < pl && p[n0] != '.')
			n0++;
		if (seg_is(p, n0, '*') || seg_is(p, n0, '>'))
			return 0; /* reserved topics only by name */
	}
	for (;;) {
		const char *ps = pp, *ts = tp;
		while (pp < pend && *pp != '.')
			pp++;
		while (tp < tend && *tp != '.')
			tp++;
		size_t pn = (size_t)(pp - ps), tn = (size_t)(tp - ts);
		if (seg_is(ps, pn, '>'))
			return 1;
		if (!seg_is(ps, pn, '*') && (pn != tn || memcmp(ps, ts, pn) != 0))
			return 0;
		int pdone = pp == pend, tdone = tp == tend;
		if (pdone || tdone)
			return pdone && tdone;
		pp++;
		tp++;
	}
}

int nact_bus_match(const char *pattern, const char *topic)
{
	if (pattern == NULL || topic == NULL)
		return -1;
	size_t pl = strlen(pattern), tl = strlen(topic);
	if (topic_check(pattern, pl, 1) != 0 || topic_check(topic, tl, 0) != 0)
		return -1;
	return match(pattern, pl, topic, tl);
}

/* ---- raw msgpack walking (after nact_msgpack_validate) ---- */

static int be_len(const unsigned char *b, size_t len, size_t off, size_t n, uint64_t *v)
{
	if (off + n > len)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | b[off + i];
	*v = x;
	return 0;
}

/* Skip one value at *off (and everything inside it). The body was
 * validated, but every step is still bounds-checked. */
static int skip_value(const unsigned char *b, size_t len, size_t *off)
{
	uint64_t todo = 1;
	size_t o = *off;

	while (todo > 0) {
		if (o >= len)
			return -1;
		unsigned c = b[o++];
		uint64_t n = 0, add = 0;
		todo--;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
			continue;
		if (c >= 0x80 && c <= 0x8f) {
			todo += 2u * (c & 0x0f);
			continue;
		}
		if (c >= 0x90 && c <= 0x9f) {
			todo += c & 0x0f;
			continue;
		}
		if (c >= 0xa0 && c <= 0xbf) {
			add = c & 0x1f;
		} else {
			size_t w = 0; /* width of a length (or count) field that follows */
			switch (c) {
			case 0xcc:
			case 0xd0:
				add = 1;
				break;
			case 0xcd:
			case 0xd1:
			case 0xd4:
				add = 2;
				break;
			case 0xd5:
				add = 3;
				break;
			case 0xca:
			case 0xce:
			case 0xd2:
				add = 4;
				break;
			case 0xd6:
				add = 5;
				break;
			case 0xcb:
			case 0xcf:
			case 0xd3:
				add = 8;
				break;
			case 0xd7:
				add = 9;
				break;
			case 0xd8:
				add = 17;
				break;
			case 0xc7: /* ext: the length, then a type byte */
			case 0xc8:
			case 0xc9:
				add = 1;
				w = (size_t)1 << (c - 0xc7);
				break;
			case 0xc4: /* bin */
			case 0xc5:
			case 0xc6:
				w = (size_t)1 << (c - 0xc4);
				break;
			case 0xd9: /* str */
			case 0xda:
			case 0xdb:
				w = (size_t)1 << (c - 0xd9);
				break;
			case 0xdc: /* array 16/32, map 16/32 */
			case 0xde:
				w = 2;
				break;
			case 0xdd:
			case 0xdf:
				w = 4;
				break;
			default:
				return -1; /* 0xc1: never used */
			}
			if (w != 0 && be_len(b, len, o, w, &n))
				return -1;
			if (c >= 0xdc) {
				o += w;
				todo += c >= 0xde ? 2 * n : n;
				continue;
			}
			add += w + n;
		}
		if (add > len - o)
			return -1;
		o += (size_t)add;
	}
	*off = o;
	return 0;
}

/* A decoded publish: pointers into the body. */
typedef struct pub {
	const char *topic;
	size_t tlen;
	const void *payload;
	size_t plen;
	uint64_t hops;
} pub;

static int read_array_hdr(const unsigned char *b, size_t len, size_t *off, uint64_t *n)
{
	if (*off >= len)
		return -1;
	unsigned c = b[(*off)++];
	if (c >= 0x90 && c <= 0x9f) {
		*n = c & 0x0f;
		return 0;
	}
	size_t w = c == 0xdc ? 2 : c == 0xdd ? 4 : 0;
	if (w == 0 || be_len(b, len, *off, w, n))
		return -1;
	*off += w;
	return 0;
}

static int read_str_hdr(const unsigned char *b, size_t len, size_t *off, const char **s, size_t *sl)
{
	if (*off >= len)
		return -1;
	unsigned c = b[(*off)++];
	uint64_t n;
	if (c >= 0xa0 && c <= 0xbf) {
		n = c & 0x1f;
	} else {
		size_t w = c == 0xd9 ? 1 : c == 0xda ? 2 : c == 0xdb ? 4 : 0;
		if (w == 0 || be_len(b, len, *off, w, &n))
			return -1;
		*off += w;
	}
	if (n > len - *off)
		return -1;
	*s = (const char *)b + *off;
	*sl = (size_t)n;
	*off += (size_t)n;
	return 0;
}

static int read_uint_raw(const unsigned char *b, size_t len, size_t *off, uint64_t *v)
{
	if (*off >= len)
		return -1;
	unsigned c = b[(*off)++];
	if (c <= 0x7f) {
		*v = c;
		return 0;
	}
	size_t w = c == 0xcc ? 1 : c == 0xcd ? 2 : c == 0xce ? 4 : c == 0xcf ? 8 : 0;
	if (w == 0 || be_len(b, len, *off, w, v))
		return -1;
	*off += w;
	return 0;
}

/* Decode [topic, payload] or [topic, payload, hops]. */
static int pub_decode(const nact_msg *m, pub *p)
{
	size_t len, off = 0;
	const unsigned char *b = nact_msg_body(m, &len);
	uint64_t n;

	if (nact_msgpack_validate(b, len, NULL) != 0)
		return NACT_EBADMSG;
	if (read_array_hdr(b, len, &off, &n) || (n != 2 && n != 3))
		return NACT_EBADMSG;
	if (read_str_hdr(b, len, &off, &p->topic, &p->tlen))
		return NACT_EBADMSG;
	if (topic_check(p->topic, p->tlen, 0) != 0)
		return NACT_EBADMSG;
	size_t ps = off;
	if (skip_value(b, len, &off))
		return NACT_EBADMSG;
	p->payload = b + ps;
	p->plen = off - ps;
	p->hops = 0;
	if (n == 3 && read_uint_raw(b, len, &off, &p->hops))
		return NACT_EBADMSG;
	return 0;
}

/* ---- handle ---- */

static void sub_free(struct bus_sub *s)
{
	if (s != NULL) {
		free(s->pattern);
		free(s);
	}
}

static void bus_unref(nact_bus *b)
{
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Last reference: no actor and no caller can touch b any more. */
	struct bus_sub *s;
	while ((s = b->subs) != NULL) {
		b->subs = s->next;
		sub_free(s);
	}
	while ((s = b->pending) != NULL) {
		b->pending = s->next;
		sub_free(s);
	}
	struct bus_mon *mo;
	while ((mo = b->mons) != NULL) {
		b->mons = mo->next;
		free(mo);
	}
	nng_mtx_free(b->mtx);
	free(b->name);
	free(b);
}

int nact_bus_alloc(nact_bus **bp, nact_system *sys, const nact_bus_opts *opts)
{
	if (bp == NULL || sys == NULL)
		return NACT_EINVAL;
	nact_bus *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NACT_ENOMEM;
	if (nng_mtx_alloc(&b->mtx) != 0) {
		free(b);
		return NACT_ENOMEM;
	}
	if (opts != NULL && opts->name != NULL && (b->name = strdup(opts->name)) == NULL) {
		nng_mtx_free(b->mtx);
		free(b);
		return NACT_ENOMEM;
	}
	b->sys = sys;
	b->capacity = opts != NULL ? opts->capacity : 0;
	atomic_init(&b->refs, 1);
	atomic_init(&b->aid, 0);
	atomic_init(&b->nextid, 1);
	*bp = b;
	return 0;
}

void nact_bus_free(nact_bus *b)
{
	if (b != NULL)
		bus_unref(b);
}

nact_aid nact_bus_aid(const nact_bus *b)
{
	nact_aid a = {0};
	if (b != NULL)
		a.v = atomic_load_explicit(&((nact_bus *)b)->aid, memory_order_acquire);
	return a;
}

static int bus_behaviour(nact_ctx *ctx, nact_msg *m);

static void bus_actor_fini(void *p)
{
	struct bus_actor *ba = p;
	bus_unref(ba->b);
	free(ba);
}

static int bus_spawn(nact_aid *idp, nact_bus *b)
{
	nact_aid cur = nact_bus_aid(b);
	if (cur.v != 0 && nact_alive(b->sys, cur))
		return NACT_ESTATE;
	struct bus_actor *ba = calloc(1, sizeof(*ba));
	if (ba == NULL)
		return NACT_ENOMEM;
	ba->b = b;
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	nact_spawn_opts so = {0};
	so.capacity = b->capacity;
	so.overflow = NACT_OVERFLOW_FAIL;
	so.name = b->name;
	nact_aid id;
	int rv = nact_spawn(&id, b->sys, bus_behaviour, ba, bus_actor_fini, &so);
	if (rv != 0) {
		atomic_fetch_sub_explicit(&b->refs, 1, memory_order_relaxed);
		free(ba);
		return rv;
	}
	atomic_store_explicit(&b->aid, id.v, memory_order_release);
	if (idp != NULL)
		*idp = id;
	return 0;
}

int nact_bus_start(nact_bus *b)
{
	if (b == NULL)
		return NACT_EINVAL;
	return bus_spawn(NULL, b);
}

int nact_bus_open(nact_bus **bp, nact_system *sys, const nact_bus_opts *opts)
{
	int rv = nact_bus_alloc(bp, sys, opts);
	if (rv != 0)
		return rv;
	if ((rv = nact_bus_start(*bp)) != 0) {
		nact_bus_free(*bp);
		*bp = NULL;
	}
	return rv;
}

int nact_bus_child_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	nact_bus *b = arg;
	if (b == NULL || b->sys != sys)
		return NACT_EINVAL;
	return bus_spawn(idp, b);
}

/* ---- messages ---- */

static int send_or_free(nact_system *sys, nact_aid to, nact_msg *m)
{
	int rv = nact_send(sys, to, m);
	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

static int msg_uint1(nact_msg **mp, nact_system *sys, uint32_t type, uint64_t v)
{
	nact_pack pk;
	int rv = nact_msg_alloc(mp, sys, type);
	if (rv != 0)
		return rv;
	nact_pack_init(&pk, *mp);
	nact_pack_array(&pk, 1);
	nact_pack_uint(&pk, v);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(*mp);
		*mp = NULL;
	}
	return rv;
}

/* Unlink the pending subscription id (prepared, not attached yet) and
 * return it (the caller owns it), or NULL. Any thread. */
static struct bus_sub *pending_take(nact_bus *b, uint64_t id)
{
	struct bus_sub *x = NULL;
	nng_mtx_lock(b->mtx);
	for (struct bus_sub **pp = &b->pending; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			x = *pp;
			*pp = x->next;
			break;
		}
	}
	nng_mtx_unlock(b->mtx);
	return x;
}

int nact_bus_on(nact_bus *b, const nact_bus_sub *s, uint64_t *idp)
{
	if (b == NULL || s == NULL || s->pattern == NULL)
		return NACT_EINVAL;
	size_t pl = strlen(s->pattern);
	if (topic_check(s->pattern, pl, 1) != 0)
		return NACT_EINVAL;
	if ((s->actor.v != 0) == (s->fn != NULL))
		return NACT_EINVAL;
	if ((s->flags & NACT_BUS_PIPE) && s->actor.v == 0)
		return NACT_EINVAL;
	if (s->flags & ~(NACT_BUS_ONCE | NACT_BUS_PIPE))
		return NACT_EINVAL;
	nact_aid bus = nact_bus_aid(b);
	if (bus.v == 0)
		return NACT_ESTATE;
	struct bus_sub *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NACT_ENOMEM;
	if ((r->pattern = strdup(s->pattern)) == NULL) {
		free(r);
		return NACT_ENOMEM;
	}
	r->plen = pl;
	r->actor = s->actor;
	r->fn = s->fn;
	r->arg = s->arg;
	r->filter = s->filter;
	r->filter_arg = s->filter_arg;
	r->map = s->map;
	r->map_arg = s->map_arg;
	r->flags = s->flags;
	r->id = atomic_fetch_add_explicit(&b->nextid, 1, memory_order_relaxed);

	nact_msg *m;
	int rv = msg_uint1(&m, b->sys, NACT_T_BUS_ATTACH, r->id);
	if (rv != 0) {
		sub_free(r);
		return rv;
	}
	nng_mtx_lock(b->mtx);
	r->next = b->pending;
	b->pending = r;
	nng_mtx_unlock(b->mtx);
	uint64_t id = r->id;
	if ((rv = nact_send(b->sys, bus, m)) != 0) {
		nact_msg_free(m);
		/* Take it back unless the bus already did (it cannot have: the
		 * message was not sent), so it is still pending. */
		sub_free(pending_take(b, id));
		return rv;
	}
	if (idp != NULL)
		*idp = id;
	return 0;
}

int nact_bus_on_actor(nact_bus *b, const char *pattern, nact_aid who, uint64_t *idp)
{
	nact_bus_sub s = {.pattern = pattern, .actor = who};
	return who.v == 0 ? NACT_EINVAL : nact_bus_on(b, &s, idp);
}

int nact_bus_on_fn(nact_bus *b, const char *pattern, nact_bus_fn fn, void *arg, uint64_t *idp)
{
	nact_bus_sub s = {.pattern = pattern, .fn = fn, .arg = arg};
	return fn == NULL ? NACT_EINVAL : nact_bus_on(b, &s, idp);
}

int nact_bus_once_fn(nact_bus *b, const char *pattern, nact_bus_fn fn, void *arg, uint64_t *idp)
{
	nact_bus_sub s = {.pattern = pattern, .fn = fn, .arg = arg, .flags = NACT_BUS_ONCE};
	return fn == NULL ? NACT_EINVAL : nact_bus_on(b, &s, idp);
}

int nact_bus_pipe(nact_bus *b, nact_aid to_bus, const char *pattern, uint64_t *idp)
{
	nact_bus_sub s = {.pattern = pattern != NULL ? pattern : ">",
	    .actor = to_bus,
	    .flags = NACT_BUS_PIPE};
	if (to_bus.v == 0 || (b != NULL && to_bus.v == nact_bus_aid(b).v))
		return NACT_EINVAL;
	return nact_bus_on(b, &s, idp);
}

int nact_bus_off(nact_bus *b, uint64_t id)
{
	if (b == NULL || id == 0)
		return NACT_EINVAL;
	struct bus_sub *x = pending_take(b, id);
	if (x != NULL) {
		sub_free(x);
		return 0;
	}
	nact_msg *m;
	int rv = msg_uint1(&m, b->sys, NACT_T_BUS_UNSUB, id);
	if (rv != 0)
		return rv;
	return send_or_free(b->sys, nact_bus_aid(b), m);
}

int nact_bus_msg(nact_msg **mp, nact_system *sys, const char *topic, nact_pack *pk)
{
	if (mp == NULL || sys == NULL || topic == NULL || pk == NULL)
		return NACT_EINVAL;
	size_t tl = strlen(topic);
	if (topic_check(topic, tl, 0) != 0 || topic[0] == '$')
		return NACT_EINVAL;
	int rv = nact_msg_alloc(mp, sys, NACT_T_BUS_PUB);
	if (rv != 0)
		return rv;
	nact_pack_init(pk, *mp);
	nact_pack_array(pk, 2);
	nact_pack_strn(pk, topic, tl);
	if ((rv = nact_pack_error(pk)) != 0) {
		nact_msg_free(*mp);
		*mp = NULL;
	}
	return rv;
}

/* Send a publish built with nact_bus_msg; freed instead when its packing
 * failed. */
static int pub_send(nact_system *sys, nact_aid bus, nact_msg *m, const nact_pack *pk)
{
	int rv = nact_pack_error(pk);
	if (rv != 0) {
		nact_msg_free(m);
		return rv;
	}
	return send_or_free(sys, bus, m);
}

int nact_bus_publish(nact_system *sys, nact_aid bus, const char *topic, const void *payload,
    size_t plen)
{
	nact_msg *m;
	nact_pack pk;
	if (payload == NULL && plen != 0)
		return NACT_EINVAL;
	if (plen != 0) {
		size_t off = 0;
		if (nact_msgpack_validate(payload, plen, NULL) != 0 ||
		    skip_value(payload, plen, &off) != 0 || off != plen)
			return NACT_EINVAL; /* not exactly one value */
	}
	int rv = nact_bus_msg(&m, sys, topic, &pk);
	if (rv != 0)
		return rv;
	if (plen == 0)
		nact_pack_nil(&pk);
	else if (nng_msg_append(nact_msg_nng(m), payload, plen) != 0)
		pk.err = NACT_ENOMEM;
	return pub_send(sys, bus, m, &pk);
}

int nact_bus_publish_int(nact_system *sys, nact_aid bus, const char *topic, int64_t v)
{
	nact_msg *m;
	nact_pack pk;
	int rv = nact_bus_msg(&m, sys, topic, &pk);
	if (rv != 0)
		return rv;
	nact_pack_int(&pk, v);
	return pub_send(sys, bus, m, &pk);
}

int nact_bus_publish_str(nact_system *sys, nact_aid bus, const char *topic, const char *s)
{
	nact_msg *m;
	nact_pack pk;
	if (s == NULL)
		return NACT_EINVAL;
	int rv = nact_bus_msg(&m, sys, topic, &pk);
	if (rv != 0)
		return rv;
	nact_pack_str(&pk, s);
	return pub_send(sys, bus, m, &pk);
}

static int sub_msg(nact_msg **mp, nact_system *sys, const char *pattern, nact_aid who,
    uint32_t flags)
{
	if (sys == NULL || pattern == NULL || topic_check(pattern, strlen(pattern), 1) != 0 ||
	    (flags & ~(NACT_BUS_ONCE | NACT_BUS_PIPE)))
		return NACT_EINVAL;
	nact_pack pk;
	int rv = nact_msg_alloc(mp, sys, NACT_T_BUS_SUB);
	if (rv != 0)
		return rv;
	nact_pack_init(&pk, *mp);
	nact_pack_array(&pk, 3);
	nact_pack_str(&pk, pattern);
	nact_pack_uint(&pk, who.v);
	nact_pack_uint(&pk, flags);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(*mp);
		*mp = NULL;
	}
	return rv;
}

int nact_bus_subscribe(nact_system *sys, nact_aid bus, const char *pattern, nact_aid who,
    uint32_t flags)
{
	nact_msg *m;
	int rv = sub_msg(&m, sys, pattern, who, flags);
	return rv != 0 ? rv : send_or_free(sys, bus, m);
}

/* Read a body [uint] (possibly with more elements after it). */
static int read_one_uint(const nact_msg *m, uint64_t *v)
{
	nact_reader r;
	uint32_t n;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv != 0)
		return rv;
	rv = nact_read_array(&r, &n);
	if (rv == 0 && n < 1)
		rv = NACT_EBADMSG;
	if (rv == 0)
		rv = nact_read_uint(&r, v);
	nact_reader_fini(&r);
	return rv;
}

/* nact_call and read one uint out of a [uint] reply of type `type`. */
static int call_uint(nact_system *sys, nact_aid bus, nact_msg *req, uint32_t type, uint64_t *v,
    int timeout_ms)
{
	nact_msg *rep = NULL;
	int rv = nact_call(sys, bus, req, timeout_ms, &rep);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(req);
		return rv;
	}
	if (nact_msg_type(rep) == NACT_T_ERROR) {
		int code = NACT_EBADMSG;
		nact_error_read(rep, &code, NULL, 0);
		nact_msg_free(rep);
		return code;
	}
	rv = nact_msg_type(rep) == type ? read_one_uint(rep, v) : NACT_EBADMSG;
	nact_msg_free(rep);
	return rv;
}

int nact_bus_subscribe_call(nact_system *sys, nact_aid bus, const char *pattern, nact_aid who,
    uint32_t flags, uint64_t *idp, int timeout_ms)
{
	nact_msg *m;
	uint64_t id = 0;
	int rv = sub_msg(&m, sys, pattern, who, flags);
	if (rv == 0)
		rv = call_uint(sys, bus, m, NACT_T_BUS_SUB, &id, timeout_ms);
	if (rv == 0 && idp != NULL)
		*idp = id;
	return rv;
}

int nact_bus_unsubscribe_call(nact_system *sys, nact_aid bus, uint64_t id, int *removedp,
    int timeout_ms)
{
	nact_msg *m;
	uint64_t n = 0;
	if (sys == NULL)
		return NACT_EINVAL;
	int rv = msg_uint1(&m, sys, NACT_T_BUS_UNSUB, id);
	if (rv == 0)
		rv = call_uint(sys, bus, m, NACT_T_BUS_UNSUB, &n, timeout_ms);
	if (rv == 0 && removedp != NULL)
		*removedp = (int)n;
	return rv;
}

int nact_bus_count(nact_system *sys, nact_aid bus, const char *topic, uint64_t *np, int timeout_ms)
{
	nact_msg *m;
	nact_pack pk;
	if (sys == NULL || topic == NULL || np == NULL)
		return NACT_EINVAL;
	int rv = nact_msg_alloc(&m, sys, NACT_T_BUS_COUNT);
	if (rv != 0)
		return rv;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 1);
	nact_pack_str(&pk, topic);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	return call_uint(sys, bus, m, NACT_T_BUS_COUNT, np, timeout_ms);
}

int nact_bus_stats_get(nact_system *sys, nact_aid bus, nact_bus_stats *st, int timeout_ms)
{
	nact_msg *m, *rep = NULL;
	nact_pack pk;
	if (sys == NULL || st == NULL)
		return NACT_EINVAL;
	int rv = nact_msg_alloc(&m, sys, NACT_T_BUS_STATS);
	if (rv != 0)
		return rv;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 0);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	if ((rv = nact_call(sys, bus, m, timeout_ms, &rep)) != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		return rv;
	}
	nact_reader r;
	uint32_t n = 0;
	memset(st, 0, sizeof(*st));
	rv =
	    nact_msg_type(rep) == NACT_T_BUS_STATS ? nact_reader_init(&r, rep, NULL) : NACT_EBADMSG;
	if (rv == 0) {
		rv = nact_read_map(&r, &n);
		for (uint32_t i = 0; rv == 0 && i < n; i++) {
			const char *k;
			size_t kl;
			uint64_t v;
			if ((rv = nact_read_str(&r, &k, &kl)) != 0 ||
			    (rv = nact_read_uint(&r, &v)) != 0)
				break;
#define STAT_FIELD(f)                                   \
	if (kl == strlen(#f) && memcmp(k, #f, kl) == 0) \
		st->f = v;
			STAT_FIELD(published)
			STAT_FIELD(delivered)
			STAT_FIELD(errors)
			STAT_FIELD(dropped)
			STAT_FIELD(bad)
			STAT_FIELD(loops)
			STAT_FIELD(subs)
#undef STAT_FIELD
		}
		nact_reader_fini(&r);
	}
	nact_msg_free(rep);
	return rv;
}

int nact_event_read(const nact_msg *m, const char **topic, size_t *tlen, const void **payload,
    size_t *plen)
{
	pub p;
	if (m == NULL || nact_msg_type(m) != NACT_T_EVENT)
		return NACT_EINVAL;
	if (pub_decode(m, &p) != 0 || p.hops != 0)
		return NACT_EBADMSG;
	if (topic != NULL)
		*topic = p.topic;
	if (tlen != NULL)
		*tlen = p.tlen;
	if (payload != NULL)
		*payload = p.payload;
	if (plen != NULL)
		*plen = p.plen;
	return 0;
}

/* ---- the bus actor ---- */

static void mon_add(nact_ctx *ctx, nact_bus *b, nact_aid who)
{
	for (struct bus_mon *mo = b->mons; mo != NULL; mo = mo->next) {
		if (mo->who.v == who.v) {
			mo->nsubs++;
			return;
		}
	}
	struct bus_mon *mo = calloc(1, sizeof(*mo));
	if (mo == NULL)
		return; /* no auto-unsubscribe for this one; delivery still works */
	mo->who = who;
	mo->nsubs = 1;
	if (nact_monitor(ctx, who, &mo->ref) != 0) {
		free(mo);
		return;
	}
	mo->next = b->mons;
	b->mons = mo;
}

static void mon_del(nact_ctx *ctx, nact_bus *b, nact_aid who)
{
	for (struct bus_mon **pp = &b->mons; *pp != NULL; pp = &(*pp)->next) {
		struct bus_mon *mo = *pp;
		if (mo->who.v != who.v)
			continue;
		if (--mo->nsubs == 0) {
			nact_demonitor(ctx, mo->ref);
			*pp = mo->next;
			free(mo);
		}
		return;
	}
}

static void sub_install(nact_ctx *ctx, nact_bus *b, struct bus_sub *s)
{
	struct bus_sub **pp = &b->subs;
	while (*pp != NULL)
		pp = &(*pp)->next;
	s->next = NULL;
	*pp = s;
	b->st.subs++;
	if (s->actor.v != 0)
		mon_add(ctx, b, s->actor);
}

/* Remove (and free) the subscription with id; 1 if found. */
static int sub_remove(nact_ctx *ctx, nact_bus *b, uint64_t id)
{
	for (struct bus_sub **pp = &b->subs; *pp != NULL; pp = &(*pp)->next) {
		struct bus_sub *s = *pp;
		if (s->id != id)
			continue;
		*pp = s->next;
		b->st.subs--;
		if (s->actor.v != 0)
			mon_del(ctx, b, s->actor);
		sub_free(s);
		return 1;
	}
	return 0;
}

static void deliver(nact_ctx *ctx, nact_bus *b, const pub *p, int is_error);

/* Report an event error on the error topic. */
static void report(nact_ctx *ctx, nact_bus *b, const pub *p, const struct bus_sub *s, int code,
    const char *text, int is_error)
{
	b->st.errors++;
	if (is_error) {
		b->st.dropped++;
		return;
	}
	nact_msg *m;
	nact_pack pk;
	if (nact_msg_alloc(&m, nact_sys(ctx), NACT_T_BUS_PUB) != 0) {
		b->st.dropped++;
		return;
	}
	nact_pack_init(&pk, m);
	nact_pack_map(&pk, 5);
	nact_pack_str(&pk, "topic");
	nact_pack_strn(&pk, p->topic, p->tlen);
	nact_pack_str(&pk, "sub");
	nact_pack_uint(&pk, s->id);
	nact_pack_str(&pk, "listener");
	nact_pack_uint(&pk, s->actor.v);
	nact_pack_str(&pk, "code");
	nact_pack_int(&pk, code);
	nact_pack_str(&pk, "text");
	nact_pack_str(&pk, text);
	if (nact_pack_error(&pk) == 0) {
		size_t len;
		pub e = {.topic = NACT_BUS_ERROR_TOPIC, .tlen = strlen(NACT_BUS_ERROR_TOPIC)};
		e.payload = nact_msg_body(m, &len);
		e.plen = len;
		deliver(ctx, b, &e, 1);
	} else {
		b->st.dropped++;
	}
	nact_msg_free(m);
}

static int code_of(int rv)
{
	return rv > 0 && rv < 0x10000000 ? rv : NACT_EHANDLER;
}

/* Build the message for an actor or pipe listener. */
static int event_msg(nact_msg **mp, nact_system *sys, const struct bus_sub *s, const pub *p,
    const void *payload, size_t plen)
{
	int pipe = (s->flags & NACT_BUS_PIPE) != 0;
	nact_pack pk;
	int rv = nact_msg_alloc(mp, sys, pipe ? NACT_T_BUS_PUB : NACT_T_EVENT);
	if (rv != 0)
		return rv;
	nact_pack_init(&pk, *mp);
	nact_pack_array(&pk, pipe ? 3 : 2);
	nact_pack_strn(&pk, p->topic, p->tlen);
	if (pk.err == 0 && nng_msg_append(nact_msg_nng(*mp), payload, plen) != 0)
		pk.err = NACT_ENOMEM;
	if (pipe)
		nact_pack_uint(&pk, p->hops + 1);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(*mp);
		*mp = NULL;
	}
	return rv;
}

static void deliver(nact_ctx *ctx, nact_bus *b, const pub *p, int is_error)
{
	nact_system *sys = nact_sys(ctx);

	for (struct bus_sub *s = b->subs; s != NULL; s = s->next) {
		if (s->gone || !match(s->pattern, s->plen, p->topic, p->tlen))
			continue;
		if ((s->flags & NACT_BUS_PIPE) && p->hops + 1 > NACT_BUS_MAX_HOPS) {
			b->st.loops++;
			continue;
		}
		if (s->filter != NULL) {
			int f = s->filter(p->topic, p->tlen, p->payload, p->plen, s->filter_arg);
			if (f < 0) {
				report(ctx, b, p, s, NACT_EHANDLER, "filter failed", is_error);
				continue;
			}
			if (f == 0)
				continue;
		}
		const void *payload = p->payload;
		size_t plen = p->plen;
		nact_msg *mapped = NULL;
		if (s->map != NULL) {
			nact_pack pk;
			int rv = nact_msg_alloc(&mapped, sys, 0);
			if (rv != 0) {
				report(ctx, b, p, s, rv, "map: out of memory", is_error);
				continue;
			}
			nact_pack_init(&pk, mapped);
			rv = s->map(p->topic, p->tlen, p->payload, p->plen, &pk, s->map_arg);
			if (rv == 0)
				rv = nact_pack_error(&pk);
			size_t off = 0;
			if (rv == 0) {
				payload = nact_msg_body(mapped, &plen);
				if (nact_msgpack_validate(payload, plen, NULL) != 0 ||
				    skip_value(payload, plen, &off) != 0 || off != plen)
					rv = NACT_EINVAL; /* not exactly one value */
			}
			if (rv != 0) {
				nact_msg_free(mapped);
				report(ctx, b, p, s, code_of(rv), "map failed", is_error);
				continue;
			}
		}
		if (s->fn != NULL) {
			int rv = s->fn(ctx, p->topic, p->tlen, payload, plen, s->arg);
			b->st.delivered++;
			if (rv != 0)
				report(ctx, b, p, s, code_of(rv), "handler failed", is_error);
		} else {
			nact_msg *m;
			int rv = event_msg(&m, sys, s, p, payload, plen);
			if (rv == 0 && (rv = nact_send(sys, s->actor, m)) != 0)
				nact_msg_free(m);
			if (rv == 0) {
				b->st.delivered++;
			} else {
				report(ctx, b, p, s, rv,
				    rv == NACT_EFULL ? "listener mailbox full" : "delivery failed",
				    is_error);
				nact_msg_free(mapped);
				continue; /* a once-listener keeps waiting */
			}
		}
		nact_msg_free(mapped);
		if (s->flags & NACT_BUS_ONCE) {
			s->gone = 1;
			b->sweep = 1;
		}
	}
	/* Only the outer loop frees: an error delivery nested in it must not
	 * free a subscription the outer loop still points at. */
	if (!is_error && b->sweep) {
		b->sweep = 0;
		struct bus_sub *s = b->subs;
		while (s != NULL) {
			struct bus_sub *nx = s->next;
			if (s->gone)
				sub_remove(ctx, b, s->id);
			s = nx;
		}
	}
}

static int is_request(const nact_msg *m)
{
	return (nact_msg_flags(m) & NACT_MF_REQUEST) != 0;
}

static void bad(nact_ctx *ctx, nact_bus *b, const nact_msg *m, const char *why)
{
	b->st.bad++;
	if (is_request(m))
		nact_reply_error(nact_sys(ctx), m, NACT_EBADMSG, why);
}

static void reply_uint(nact_ctx *ctx, const nact_msg *req, uint32_t type, uint64_t v)
{
	nact_msg *m;
	if (!is_request(req))
		return;
	if (msg_uint1(&m, nact_sys(ctx), type, v) != 0) {
		nact_reply_error(nact_sys(ctx), req, NACT_ENOMEM, NULL);
		return;
	}
	if (nact_reply(nact_sys(ctx), req, m) != 0)
		nact_msg_free(m);
}

static void on_pub(nact_ctx *ctx, nact_bus *b, nact_msg *m)
{
	pub p;
	if (pub_decode(m, &p) != 0) {
		bad(ctx, b, m, "publish: body must be [topic, payload] with a valid topic");
		return;
	}
	if (p.topic[0] == '$') {
		bad(ctx, b, m, "publish: topics starting with '$' are reserved");
		return;
	}
	b->st.published++;
	uint64_t before = b->st.delivered;
	deliver(ctx, b, &p, 0);
	reply_uint(ctx, m, NACT_T_BUS_PUB, b->st.delivered - before);
}

static void on_sub(nact_ctx *ctx, nact_bus *b, nact_msg *m)
{
	nact_reader r;
	uint32_t n = 0;
	const char *pat;
	size_t pl = 0;
	uint64_t who = 0, flags = 0;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv == 0) {
		rv = nact_read_array(&r, &n);
		if (rv == 0 && n != 3)
			rv = NACT_EBADMSG;
		if (rv == 0)
			rv = nact_read_str(&r, &pat, &pl);
		if (rv == 0)
			rv = nact_read_uint(&r, &who);
		if (rv == 0)
			rv = nact_read_uint(&r, &flags);
		nact_reader_fini(&r);
	}
	if (who == 0)
		who = nact_msg_sender(m).v;
	if (rv != 0 || topic_check(pat, pl, 1) != 0 || who == 0 || who == nact_self(ctx).v ||
	    (flags & ~(uint64_t)(NACT_BUS_ONCE | NACT_BUS_PIPE))) {
		bad(ctx, b, m, "subscribe: body must be [pattern, listener, flags]");
		return;
	}
	struct bus_sub *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->pattern = malloc(pl + 1)) == NULL) {
		free(s);
		if (is_request(m))
			nact_reply_error(nact_sys(ctx), m, NACT_ENOMEM, NULL);
		return;
	}
	memcpy(s->pattern, pat, pl);
	s->pattern[pl] = '\0';
	s->plen = pl;
	s->actor.v = who;
	s->flags = (uint32_t)flags;
	s->id = atomic_fetch_add_explicit(&b->nextid, 1, memory_order_relaxed);
	sub_install(ctx, b, s);
	reply_uint(ctx, m, NACT_T_BUS_SUB, s->id);
}

static void on_attach(nact_ctx *ctx, nact_bus *b, nact_msg *m)
{
	uint64_t id;
	if (read_one_uint(m, &id) != 0) {
		bad(ctx, b, m, "attach: body is not [id]");
		return;
	}
	struct bus_sub *s = pending_take(b, id);
	if (s == NULL) {
		/* Already attached by bus_init after a restart: not an error. */
		for (struct bus_sub *x = b->subs; x != NULL; x = x->next) {
			if (x->id == id) {
				reply_uint(ctx, m, NACT_T_BUS_ATTACH, id);
				return;
			}
		}
		bad(ctx, b, m, "attach: no such pending subscription");
		return;
	}
	sub_install(ctx, b, s);
	reply_uint(ctx, m, NACT_T_BUS_ATTACH, s->id);
}

static void on_unsub(nact_ctx *ctx, nact_bus *b, nact_msg *m)
{
	uint64_t id;
	if (read_one_uint(m, &id) != 0) {
		bad(ctx, b, m, "unsubscribe: body must be [id]");
		return;
	}
	int removed = sub_remove(ctx, b, id);
	struct bus_sub *x = removed ? NULL : pending_take(b, id);
	if (x != NULL) {
		sub_free(x);
		removed = 1;
	}
	reply_uint(ctx, m, NACT_T_BUS_UNSUB, (uint64_t)removed);
}

static void on_count(nact_ctx *ctx, nact_bus *b, nact_msg *m)
{
	nact_reader r;
	uint32_t n = 0;
	const char *t;
	size_t tl = 0;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv == 0) {
		rv = nact_read_array(&r, &n);
		if (rv == 0 && n != 1)
			rv = NACT_EBADMSG;
		if (rv == 0)
			rv = nact_read_str(&r, &t, &tl);
		nact_reader_fini(&r);
	}
	if (rv != 0 || (tl != 0 && topic_check(t, tl, 0) != 0)) {
		bad(ctx, b, m, "count: body must be [topic]");
		return;
	}
	uint64_t c = 0;
	for (struct bus_sub *s = b->subs; s != NULL; s = s->next)
		if (tl == 0 || match(s->pattern, s->plen, t, tl))
			c++;
	reply_uint(ctx, m, NACT_T_BUS_COUNT, c);
}

static void on_stats(nact_ctx *ctx, nact_bus *b, nact_msg *m)
{
	if (!is_request(m)) {
		b->st.bad++;
		return;
	}
	nact_msg *rep;
	nact_pack pk;
	if (nact_msg_alloc(&rep, nact_sys(ctx), NACT_T_BUS_STATS) != 0) {
		nact_reply_error(nact_sys(ctx), m, NACT_ENOMEM, NULL);
		return;
	}
	nact_pack_init(&pk, rep);
	nact_pack_map(&pk, 7);
	nact_pack_str(&pk, "published");
	nact_pack_uint(&pk, b->st.published);
	nact_pack_str(&pk, "delivered");
	nact_pack_uint(&pk, b->st.delivered);
	nact_pack_str(&pk, "errors");
	nact_pack_uint(&pk, b->st.errors);
	nact_pack_str(&pk, "dropped");
	nact_pack_uint(&pk, b->st.dropped);
	nact_pack_str(&pk, "bad");
	nact_pack_uint(&pk, b->st.bad);
	nact_pack_str(&pk, "loops");
	nact_pack_uint(&pk, b->st.loops);
	nact_pack_str(&pk, "subs");
	nact_pack_uint(&pk, b->st.subs);
	if (nact_pack_error(&pk) != 0 || nact_reply(nact_sys(ctx), m, rep) != 0) {
		nact_msg_free(rep);
		nact_reply_error(nact_sys(ctx), m, NACT_ENOMEM, NULL);
	}
}

static void on_down(nact_ctx *ctx, nact_bus *b, nact_msg *m)
{
	nact_exit_info ei;
	if (nact_exit_info_read(m, &ei) != 0) {
		b->st.bad++;
		return;
	}
	/* Only a DOWN for a monitor this actor set counts. */
	struct bus_mon **pp = &b->mons;
	while (*pp != NULL && !((*pp)->who.v == ei.id.v && (*pp)->ref == ei.ref))
		pp = &(*pp)->next;
	if (*pp == NULL)
		return; /* stale (demonitored) or forged: ignore */
	struct bus_mon *mo = *pp;
	*pp = mo->next;
	free(mo);
	for (struct bus_sub **sp = &b->subs; *sp != NULL;) {
		struct bus_sub *s = *sp;
		if (s->actor.v == ei.id.v) {
			*sp = s->next;
			b->st.subs--;
			sub_free(s);
		} else {
			sp = &s->next;
		}
	}
}

static void bus_init(nact_ctx *ctx, struct bus_actor *ba)
{
	nact_bus *b = ba->b;
	struct bus_mon *mo;
	/* Monitors of a previous bus actor died with it. */
	while ((mo = b->mons) != NULL) {
		b->mons = mo->next;
		free(mo);
	}
	for (struct bus_sub *s = b->subs; s != NULL; s = s->next)
		if (s->actor.v != 0)
			mon_add(ctx, b, s->actor);
	ba->inited = 1;
	/* Subscriptions made while no bus actor was alive (their ATTACH went
	 * to the dead one): install them now, oldest first. */
	nng_mtx_lock(b->mtx);
	struct bus_sub *p = b->pending, *rev = NULL;
	b->pending = NULL;
	nng_mtx_unlock(b->mtx);
	while (p != NULL) {
		struct bus_sub *nx = p->next;
		p->next = rev;
		rev = p;
		p = nx;
	}
	while (rev != NULL) {
		struct bus_sub *nx = rev->next;
		sub_install(ctx, b, rev);
		rev = nx;
	}
}

static int bus_behaviour(nact_ctx *ctx, nact_msg *m)
{
	struct bus_actor *ba = nact_state(ctx);
	nact_bus *b = ba->b;

	if (!ba->inited)
		bus_init(ctx, ba);
	if (nact_msg_flags(m) & NACT_MF_REPLY) {
		b->st.bad++;
		return 0;
	}
	switch (nact_msg_type(m)) {
	case NACT_T_BUS_PUB:
		on_pub(ctx, b, m);
		break;
	case NACT_T_BUS_SUB:
		on_sub(ctx, b, m);
		break;
	case NACT_T_BUS_UNSUB:
		on_unsub(ctx, b, m);
		break;
	case NACT_T_BUS_ATTACH:
		on_attach(ctx, b, m);
		break;
	case NACT_T_BUS_COUNT:
		on_count(ctx, b, m);
		break;
	case NACT_T_BUS_STATS:
		on_stats(ctx, b, m);
		break;
	case NACT_T_DOWN:
		on_down(ctx, b, m);
		break;
	default:
		bad(ctx, b, m, "bus: unknown message type");
		break;
	}
	return 0;
}
