/*
 * mailbox/pool.c — envelope pools: per-thread caches over a shared depot.
 *
 * DESIGN
 * Envelopes are carved from 64 KiB slabs aligned on 64 KiB, so the slab
 * (and its pool) of any envelope is found by masking its address. Slabs are
 * never returned to malloc before the pool is destroyed, which makes every
 * envelope pointer type-stable for the pool's lifetime.
 *
 * Each thread keeps a private free list (a "magazine") in thread-local
 * storage. Alloc and free touch only that list: no lock, no atomic
 * read-modify-write. When a thread's list grows past 2*MAG it hands MAG
 * envelopes to the depot; when it is empty it takes a chain from the depot
 * or carves a new batch. The depot is under a mutex, taken at most once
 * per MAG messages. This is how an envelope freed by a receiver on another
 * worker flows back to senders without a per-message cross-thread free.
 *
 * Thread-local state (documented global): one cache per thread, bound to
 * one pool by a generation number unique to each pool. A thread that turns
 * to another pool abandons its cache (the envelopes stay owned by their
 * slabs and are freed with their pool); a stale cache of a destroyed pool
 * is recognised by its generation and never dereferenced.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox/envelope.h"

#define SLAB_SIZE (64 * 1024)
#define MAG 256

struct slab {
	nacti_pool *pool;  /* owner */
	struct slab *next; /* all slabs of the pool */
	uint32_t used;     /* envelopes carved so far */
};

#define SLAB_FIRST ((sizeof(struct slab) + 15) & ~(size_t)15)
#define SLAB_CAP ((SLAB_SIZE - SLAB_FIRST) / sizeof(nact_msg))

struct chain {
	nact_msg *head;
	uint32_t n;
};

struct nacti_pool {
	nng_mtx *mtx;        /* guards everything below */
	struct slab *slabs;  /* list of all slabs */
	struct slab *cur;    /* slab being carved */
	struct chain *depot; /* full chains handed back by threads */
	size_t ndepot;
	size_t capdepot;
	uint64_t gen;       /* unique per pool, never 0 */
	nact_system *owner; /* system this pool belongs to */
	_Atomic uint64_t carved;
};

struct tcache {
	uint64_t gen;   /* pool generation this cache belongs to; 0 = none */
	nact_msg *free; /* private free list */
	uint32_t n;
};

static _Atomic uint64_t pool_gen_next = 1; /* documented global: pool ids */
static __thread struct tcache tc;          /* documented global: see DESIGN */

int nacti_pool_init(nacti_pool **pp)
{
	nacti_pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NACT_ENOMEM;
	if (nng_mtx_alloc(&p->mtx) != 0) {
		free(p);
		return NACT_ENOMEM;
	}
	p->gen = atomic_fetch_add_explicit(&pool_gen_next, 1, memory_order_relaxed);
	*pp = p;
	return 0;
}

void nacti_pool_fini(nacti_pool *p)
{
	if (p == NULL)
		return;
	struct slab *s = p->slabs;
	while (s != NULL) {
		struct slab *n = s->next;
		nact_msg *e = (nact_msg *)((char *)s + SLAB_FIRST);
		for (uint32_t i = 0; i < s->used; i++)
			if (e[i].nm != NULL)
				nng_msg_free(e[i].nm);
		free(s);
		s = n;
	}
	if (tc.gen == p->gen) {
		tc.gen = 0;
		tc.free = NULL;
		tc.n = 0;
	}
	free(p->depot);
	nng_mtx_free(p->mtx);
	free(p);
}

void nacti_pool_set_owner(nacti_pool *p, nact_system *sys)
{
	p->owner = sys;
}

nact_system *nacti_pool_owner(nacti_pool *p)
{
	return p->owner;
}

nacti_pool *nacti_env_pool(const nact_msg *m)
{
	const struct slab *s = (const struct slab *)((uintptr_t)m & ~(uintptr_t)(SLAB_SIZE - 1));
	return s->pool;
}

uint64_t nacti_pool_carved(nacti_pool *p)
{
	return atomic_load_explicit(&p->carved, memory_order_relaxed);
}

/* Refill the thread cache; called with the cache empty and bound to p. */
static int refill(nacti_pool *p)
{
	nng_mtx_lock(p->mtx);
	if (p->ndepot > 0) {
		struct chain c = p->depot[--p->ndepot];
		nng_mtx_unlock(p->mtx);
		tc.free = c.head;
		tc.n = c.n;
		return 0;
	}
	nact_msg *head = NULL;
	uint32_t n = 0;
	while (n < MAG) {
		struct slab *s = p->cur;
		if (s == NULL || s->used == SLAB_CAP) {
			void *mem = aligned_alloc(SLAB_SIZE, SLAB_SIZE);
			if (mem == NULL)
				break;
			s = mem;
			s->pool = p;
			s->used = 0;
			s->next = p->slabs;
			p->slabs = s;
			p->cur = s;
		}
		nact_msg *e = (nact_msg *)((char *)s + SLAB_FIRST) + s->used++;
		e->nm = NULL;
		atomic_store_explicit(&e->next, head, memory_order_relaxed);
		head = e;
		n++;
	}
	nng_mtx_unlock(p->mtx);
	atomic_fetch_add_explicit(&p->carved, n, memory_order_relaxed);
	tc.free = head;
	tc.n = n;
	return n > 0 ? 0 : NACT_ENOMEM;
}

nact_msg *nacti_env_get(nacti_pool *p)
{
	if (tc.gen != p->gen) {
		tc.gen = p->gen;
		tc.free = NULL;
		tc.n = 0;
	}
	if (tc.free == NULL && refill(p) != 0)
		return NULL;
	nact_msg *e = tc.free;
	tc.free = atomic_load_explicit(&e->next, memory_order_relaxed);
	tc.n--;
	atomic_store_explicit(&e->next, NULL, memory_order_relaxed);
	return e;
}

void nacti_env_put(nact_msg *m)
{
	nacti_pool *p = nacti_env_pool(m);
	if (tc.gen != p->gen) {
		tc.gen = p->gen;
		tc.free = NULL;
		tc.n = 0;
	}
	atomic_store_explicit(&m->next, tc.free, memory_order_relaxed);
	tc.free = m;
	if (++tc.n < 2 * MAG)
		return;
	/* Hand the oldest MAG (the tail of the list) to the depot. */
	nact_msg *cut = tc.free;
	for (uint32_t i = 1; i < MAG; i++)
		cut = atomic_load_explicit(&cut->next, memory_order_relaxed);
	struct chain c = {atomic_load_explicit(&cut->next, memory_order_relaxed), tc.n - MAG};
	atomic_store_explicit(&cut->next, NULL, memory_order_relaxed);
	tc.n = MAG;
	nng_mtx_lock(p->mtx);
	if (p->ndepot == p->capdepot) {
		size_t ncap = p->capdepot ? p->capdepot * 2 : 64;
		struct chain *nd = realloc(p->depot, ncap * sizeof(*nd));
		if (nd == NULL) {
			/* Keep them: memory is owned by slabs, nothing leaks; the
			 * chain is simply not reused. */
			nng_mtx_unlock(p->mtx);
			return;
		}
		p->depot = nd;
		p->capdepot = ncap;
	}
	p->depot[p->ndepot++] = c;
	nng_mtx_unlock(p->mtx);
}

/* Room a fresh nng_msg gets, so small bodies never make it grow. */
#define FRESH_CAP 128

int nacti_env_prepare(nact_msg *m, uint32_t type)
{
	static const uint8_t zero_hdr[NACT_HDR_SIZE] = {NACT_HDR_MAGIC, NACT_HDR_VERSION};
	if (m->nm == NULL) {
		if (nng_msg_alloc(&m->nm, FRESH_CAP) != 0) {
			m->nm = NULL;
			return NACT_ENOMEM;
		}
	}
	/* A recycled nng_msg keeps its buffer: shrinking to the header only
	 * moves its length (nng_msg_realloc), so no allocation and no copy of
	 * the old contents. */
	if (nng_msg_len(m->nm) != NACT_HDR_SIZE && nng_msg_realloc(m->nm, NACT_HDR_SIZE) != 0)
		return NACT_ENOMEM;
	uint8_t *h = nng_msg_body(m->nm);
	memcpy(h, zero_hdr, NACT_HDR_SIZE);
	nacti_put32(h + NACTI_OFF_TYPE, type);
	return 0;
}
