/*
 * transport/credit.c — the receiving side of credit flow control between
 * nodes (docs/wire.md, "Credit flow control"): per-peer inboxes of checked
 * DATA frames and the thread that delivers them into mailboxes.
 *
 * A frame pushed on an empty inbox is delivered in place by the pushing
 * thread (nng's receive callback, or the lane thread): no hop through the
 * pump. Only when that finds a full bounded mailbox, or frames are already
 * queued, does the pump take over. The pump is the only consumer of
 * queued frames: it reads the head frame without the lock (nobody else
 * touches a head frame; it skips an inbox whose producer is delivering in
 * place) and takes the lock to pop it. Producers append under the lock.
 * When some record waits for room in a full bounded mailbox, the pump
 * retries every NACTI_PUMP_RETRY_MS; with nothing queued it sleeps until
 * a push wakes it.
 */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/error.h>

#include "transport/netsec.h"

#define FR_HDR 4

struct inframe {
	struct inframe *next;
	nng_msg *m;
	uint64_t cid;
	size_t off; /* next record (pump only) */
};

struct nacti_inq {
	struct nacti_inq *next; /* all inboxes of c */
	struct nacti_credit *c;
	void *peer;
	struct inframe *head, *tail;
	size_t bytes;      /* payload bytes queued, all connections */
	uint64_t cid;      /* current connection, 0 = none */
	uint64_t window;   /* bytes granted per connection */
	uint64_t cur;      /* payload bytes of cid queued */
	uint64_t consumed; /* payload bytes of cid delivered */
	uint64_t granted;  /* consumed when the last grant was asked */
	int direct;        /* a producer delivers in place (the pump skips q) */
};

struct nacti_credit {
	void *node;
	nacti_deliver_fn deliver;
	nacti_grant_fn grant;
	nng_mtx *mtx;
	nng_cv *cv;
	struct nacti_inq *inqs;
	int stopping;
	int kicked;
	nng_thread *thr;
};

/* The largest frame a sender builds (node.c's FRAME_TARGET): an idle
 * inbox grants early when what the sender still counts as outstanding
 * could keep a frame this big waiting. */
#define GRANT_SLACK (64 * 1024)

/* A frame of pl payload bytes from connection cid left q (c->mtx held).
 * Returns 1 when the sender should be granted more: every quarter window
 * consumed, or when the inbox ran empty and the sender could be short of
 * room for its next frame. Not at every empty inbox: a request/reply
 * exchange would send one CREDIT frame per message. */
static int consumed_locked(struct nacti_inq *q, uint64_t cid, size_t pl)
{
	q->bytes -= pl;
	if (cid != q->cid)
		return 0;
	q->cur -= pl;
	q->consumed += pl;
	uint64_t owed = q->consumed - q->granted;
	if (owed < q->window / 4 && (q->cur != 0 || owed + GRANT_SLACK <= q->window))
		return 0;
	q->granted = q->consumed;
	return 1;
}

/* Deliver f's records from f->off on (c->mtx not held). Returns 1 when all
 * went, 0 when one waits for room (f->off names it). */
static int deliver_frame(struct nacti_credit *c, struct nacti_inq *q, struct inframe *f)
{
	const uint8_t *b = nng_msg_body(f->m);
	size_t len = nng_msg_len(f->m);
	nacti_rec r;
	for (;;) {
		size_t o = f->off;
		if (nacti_frame_next(b, len, &o, &r) != 0)
			return 1;
		if (c->deliver(c->node, q->peer, &r, 1) == NACT_EFULL)
			return 0;
		f->off = o;
	}
}

static void pump(void *arg)
{
	struct nacti_credit *c = arg;
	nng_mtx_lock(c->mtx);
	while (!c->stopping) {
		int blocked = 0, work = 0;
		c->kicked = 0;
		for (struct nacti_inq *q = c->inqs; q != NULL && !c->stopping; q = q->next) {
			while (q->head != NULL && !q->direct && !c->stopping) {
				struct inframe *f = q->head;
				nng_mtx_unlock(c->mtx);
				size_t len = nng_msg_len(f->m);
				int full = !deliver_frame(c, q, f);
				nng_mtx_lock(c->mtx);
				if (full) {
					blocked = 1;
					break;
				}
				work = 1;
				q->head = f->next;
				if (q->head == NULL)
					q->tail = NULL;
				int grant = consumed_locked(q, f->cid, len - FR_HDR);
				nng_mtx_unlock(c->mtx);
				nng_msg_free(f->m);
				free(f);
				if (grant)
					c->grant(c->node, q->peer);
				nng_mtx_lock(c->mtx);
			}
		}
		if (c->stopping)
			break;
		if (work || c->kicked)
			continue;
		if (blocked)
			nng_cv_until(c->cv, nng_clock() + NACTI_PUMP_RETRY_MS);
		else
			nng_cv_wait(c->cv);
	}
	nng_mtx_unlock(c->mtx);
}

int nacti_credit_start(struct nacti_credit **cp, void *node, nacti_deliver_fn deliver,
    nacti_grant_fn grant)
{
	struct nacti_credit *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NACT_ENOMEM;
	c->node = node;
	c->deliver = deliver;
	c->grant = grant;
	if (nng_mtx_alloc(&c->mtx) != 0 || nng_cv_alloc(&c->cv, c->mtx) != 0) {
		nacti_credit_free(c);
		return NACT_ENOMEM;
	}
	if (nng_thread_create(&c->thr, pump, c) != 0) {
		c->thr = NULL;
		nacti_credit_free(c);
		return NACT_ESYSERR;
	}
	*cp = c;
	return 0;
}

void nacti_credit_stop(struct nacti_credit *c)
{
	if (c == NULL || c->thr == NULL)
		return;
	nng_mtx_lock(c->mtx);
	c->stopping = 1;
	nng_cv_wake(c->cv);
	nng_mtx_unlock(c->mtx);
	nng_thread_destroy(c->thr);
	c->thr = NULL;
}

void nacti_credit_free(struct nacti_credit *c)
{
	if (c == NULL)
		return;
	nacti_credit_stop(c);
	while (c->inqs != NULL) {
		struct nacti_inq *q = c->inqs;
		c->inqs = q->next;
		while (q->head != NULL) {
			struct inframe *f = q->head;
			q->head = f->next;
			nng_msg_free(f->m);
			free(f);
		}
		free(q);
	}
	if (c->cv)
		nng_cv_free(c->cv);
	if (c->mtx)
		nng_mtx_free(c->mtx);
	free(c);
}

struct nacti_inq *nacti_inq_new(struct nacti_credit *c, void *peer)
{
	struct nacti_inq *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->peer = peer;
	q->c = c;
	nng_mtx_lock(c->mtx);
	q->next = c->inqs;
	c->inqs = q;
	nng_mtx_unlock(c->mtx);
	return q;
}

void nacti_inq_reset(struct nacti_inq *q, uint64_t cid, uint64_t window)
{
	struct nacti_credit *c = q->c;
	nng_mtx_lock(c->mtx);
	q->cid = cid;
	q->window = window;
	q->cur = 0;
	q->consumed = 0;
	q->granted = 0;
	nng_mtx_unlock(c->mtx);
}

int nacti_inq_push(struct nacti_inq *q, nng_msg *m, uint64_t cid)
{
	struct nacti_credit *c = q->c;
	size_t pl = nng_msg_len(m) - FR_HDR;
	struct inframe *f = malloc(sizeof(*f));
	if (f == NULL)
		return NACT_ENOMEM;
	f->next = NULL;
	f->m = m;
	f->cid = cid;
	f->off = FR_HDR;
	nng_mtx_lock(c->mtx);
	if (cid == q->cid) {
		/* one frame larger than the window passes when nothing else is
		 * outstanding (the sender waits for that too) */
		if (q->cur > 0 && q->cur + pl > q->window) {
			nng_mtx_unlock(c->mtx);
			free(f);
			return NACT_ELIMIT;
		}
		q->cur += pl;
	}
	q->bytes += pl;
	if (q->head == NULL && !q->direct) {
		/* nothing queued before it: deliver in place, without waking
		 * the pump (one thread hop less per frame); only a record
		 * that finds a full mailbox leaves the rest to the pump */
		q->direct = 1;
		nng_mtx_unlock(c->mtx);
		int all = deliver_frame(c, q, f);
		int grant = 0;
		nng_mtx_lock(c->mtx);
		q->direct = 0;
		if (all) {
			grant = consumed_locked(q, cid, pl);
		} else {
			/* ahead of anything pushed meanwhile */
			f->next = q->head;
			q->head = f;
			if (q->tail == NULL)
				q->tail = f;
		}
		if (!all || q->head != NULL) {
			c->kicked = 1;
			nng_cv_wake(c->cv);
		}
		nng_mtx_unlock(c->mtx);
		if (all) {
			nng_msg_free(m);
			free(f);
			if (grant)
				c->grant(c->node, q->peer);
		}
		return 0;
	}
	if (q->tail != NULL)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	c->kicked = 1;
	nng_cv_wake(c->cv);
	nng_mtx_unlock(c->mtx);
	return 0;
}

void nacti_inq_state(struct nacti_inq *q, uint64_t *cid, uint64_t *window, uint64_t *consumed)
{
	nng_mtx_lock(q->c->mtx);
	*cid = q->cid;
	*window = q->window;
	*consumed = q->consumed;
	nng_mtx_unlock(q->c->mtx);
}

size_t nacti_inq_bytes(struct nacti_inq *q)
{
	nng_mtx_lock(q->c->mtx);
	size_t b = q->bytes;
	nng_mtx_unlock(q->c->mtx);
	return b;
}
