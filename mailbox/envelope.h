/*
 * mailbox/envelope.h — internal: the envelope, its header bytes, and the
 * lock-free MPSC mailbox queue.
 *
 * DESIGN
 * An envelope (struct nact_msg) is a queue node plus the nng_msg it owns.
 * Envelopes live in 64 KiB slabs owned by their pool (mailbox/pool.c); the
 * slab header is found by masking the envelope address, so an envelope
 * needs no back pointer and stays 16 bytes.
 *
 * The mailbox queue is the intrusive Vyukov MPSC queue with the refinement
 * ponyc uses (actor/messageq.c): the low bit of the head pointer records
 * "empty and not scheduled". A push is one atomic exchange; its result tells
 * the producer whether it made the queue non-empty and therefore owns the
 * job of scheduling the actor. The consumer marks the queue empty with one
 * CAS when it runs out of messages. Exactly one thread holds the right to
 * run an actor at any time (the one that saw the bit set, until the next
 * successful mark-empty).
 *
 * The queue always holds one stub node. Pop returns the old stub after
 * moving the payload (the nng_msg pointer) into it from the node that
 * becomes the new stub, so the popped envelope is fully detached: the
 * handler may free, forward or keep it with no effect on the queue.
 */
#ifndef NACTOR_MAILBOX_ENVELOPE_H
#define NACTOR_MAILBOX_ENVELOPE_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/mailbox.h>

struct nact_msg {
	_Atomic(struct nact_msg *) next; /* queue / free-list link */
	nng_msg *nm;                     /* owned; NULL in an empty stub */
};

/* Header field offsets (see mailbox.h). */
#define NACTI_OFF_FLAGS 2
#define NACTI_OFF_TYPE 4
#define NACTI_OFF_TARGET 8
#define NACTI_OFF_SENDER 16
#define NACTI_OFF_CORR 24
#define NACTI_OFF_OPID 32
#define NACTI_OFF_DEADLINE 40

/* Little-endian loads and stores; memcpy compiles to one move on x86. */
static inline uint64_t nacti_le64(const uint8_t *p)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
#else
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
#endif
}
static inline void nacti_put64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
#else
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
#endif
}
static inline uint32_t nacti_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void nacti_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t nacti_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline void nacti_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The header bytes of an envelope that holds a message. */
static inline uint8_t *nacti_hdr(const nact_msg *m)
{
	return nng_msg_body(m->nm);
}

/* ---- MPSC queue ---- */

/* The queue is two fields that the owner may place on separate cache
 * lines (the actor struct does): head is the producers', tail the
 * consumer's. The calls take both. */
struct nacti_mq {
	_Atomic uintptr_t *head; /* producers; bit 0: empty and not scheduled */
	nact_msg **tail;         /* consumer only: the current stub */
};
#define NACTI_MQ(h, t) ((struct nacti_mq){(h), (t)})

/* Start with stub as the only node, marked empty (not scheduled). */
static inline void nacti_mq_init(struct nacti_mq q, nact_msg *stub)
{
	atomic_store_explicit(&stub->next, NULL, memory_order_relaxed);
	atomic_store_explicit(q.head, (uintptr_t)stub | 1, memory_order_relaxed);
	*q.tail = stub;
}

/* Append m. Returns 1 if the queue was marked empty: the caller must then
 * schedule its actor. Any thread. */
static inline int nacti_mq_push(struct nacti_mq q, nact_msg *m)
{
	atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
	/* acq_rel: release publishes m's contents to the consumer; acquire
	 * orders us after the previous producer so prev is a live node. */
	uintptr_t prev = atomic_exchange_explicit(q.head, (uintptr_t)m, memory_order_acq_rel);
	nact_msg *p = (nact_msg *)(prev & ~(uintptr_t)1);
	/* release: the consumer's acquire load of p->next sees m's fields. */
	atomic_store_explicit(&p->next, m, memory_order_release);
	return (int)(prev & 1);
}

/* Consumer only. Take the oldest message, or NULL when none is linked yet
 * (empty, or a producer between its exchange and its link store). */
static inline nact_msg *nacti_mq_pop(struct nacti_mq q)
{
	nact_msg *tail = *q.tail;
	nact_msg *next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (next == NULL)
		return NULL;
	*q.tail = next;
	nng_msg *t = tail->nm; /* swap payloads: the new stub keeps the old */
	tail->nm = next->nm;   /* stub's cached nng_msg (or NULL) */
	next->nm = t;
	atomic_store_explicit(&tail->next, NULL, memory_order_relaxed);
	return tail;
}

/* Consumer only. Mark the queue empty and unscheduled if no message was
 * pushed since the last pop. Returns 1 on success: the caller gives up the
 * right to run the actor. seq_cst pairs with the control-lane check. */
static inline int nacti_mq_markempty(struct nacti_mq q)
{
	uintptr_t expect = (uintptr_t)*q.tail;
	return atomic_compare_exchange_strong_explicit(q.head, &expect, expect | 1,
	    memory_order_seq_cst, memory_order_relaxed);
}

/* Any thread: if the queue is marked unscheduled, clear the mark and return
 * 1 (the caller must schedule the actor); else 0. Used by the control lane,
 * which is not in this queue. */
static inline int nacti_mq_claim(struct nacti_mq q)
{
	uintptr_t h = atomic_load_explicit(q.head, memory_order_seq_cst);
	while (h & 1) {
		if (atomic_compare_exchange_weak_explicit(q.head, &h, h & ~(uintptr_t)1,
		        memory_order_seq_cst, memory_order_seq_cst))
			return 1;
	}
	return 0;
}

/* ---- envelope pool (mailbox/pool.c) ---- */

typedef struct nacti_pool nacti_pool;

int nacti_pool_init(nacti_pool **pp);
/* Free every slab and every nng_msg any envelope still holds. Single
 * threaded: after every worker has stopped. */
void nacti_pool_fini(nacti_pool *p);
/* An envelope from the calling thread's cache; nm may be NULL or a cached
 * nng_msg with stale contents. NULL on out of memory. */
nact_msg *nacti_env_get(nacti_pool *p);
/* Back to the calling thread's cache (keeps nm for reuse). */
void nacti_env_put(nact_msg *m);
uint64_t nacti_pool_carved(nacti_pool *p);
/* The pool an envelope belongs to. */
nacti_pool *nacti_env_pool(const nact_msg *m);
/* The system owning a pool (set at system open). */
void nacti_pool_set_owner(nacti_pool *p, nact_system *sys);
nact_system *nacti_pool_owner(nacti_pool *p);

/* Prepare an envelope for a fresh message: nng_msg allocated or cleared
 * and a zeroed header of the given type. 0 or NACT_ENOMEM. */
int nacti_env_prepare(nact_msg *m, uint32_t type);

#endif
