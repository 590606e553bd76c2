/*
 * actors/pipeline.c — pipelines: stage actors, credits, flush, controller.
 *
 * DESIGN
 * Actors of one pipeline: one stage actor per stage, n worker actors per
 * parallel-map stage, and a controller. nact_pipeline_start spawns them
 * all (workers first, then stages, then the controller), writes the ids
 * into the states, and sends INIT to the controller, which monitors every
 * other actor and then sends START to each stage. Nothing else knows the
 * ids before that, so every state is complete before its first message.
 *
 * Credits. Stage i+1 grants stage i `window` credits at START (CREDIT
 * [n]) and gives them back as it consumes items, in batches of a quarter
 * window (st_thr). Stage i sends an item only while st_credit > 0; what it
 * cannot send waits in st_outq, and while st_outq is not empty the stage
 * consumes no input (inputs wait in st_inq, at most `window` of them since
 * upstream has no more credit). Invariant: items sent by i and not yet
 * credited back by i+1 <= window of i+1. A stage with outputs pending
 * never deadlocks: the sink always consumes, so credit flows back up.
 * For a pipeline fed from outside, the head's credits live in
 * pl->credits (an atomic that pushers decrement); waiters are woken by
 * the head when it adds credits (pl->nwait, Dekker-style with seq_cst:
 * a pusher increments nwait then re-checks credits; the head adds
 * credits then reads nwait, so one of them sees the other).
 *
 * End of stream. EOS travels behind the items (one sender, FIFO). A stage
 * that has EOS, an empty st_inq, no work out (pmap) and an empty st_outq
 * emits its partial batch/window, runs the flush function, sends EOS on
 * and is done; the sink reports SINKDONE to the controller.
 *
 * Ending. The controller ends the pipeline once (ctl_finish): on SINKDONE
 * (success), on a FAIL from a stage (NACT_ESTAGE), on a DOWN of any actor
 * it monitors (NACT_ESTAGE), or on CANCEL from the registry's on_cancel
 * callback (NACT_ECANCELED). It stops every actor still alive, waits for
 * all their DOWNs, then reports (callback, notify message, waiters) and
 * exits. So when nact_pipeline_wait returns 0 no actor of it is left.
 *
 * Memory. struct nact_pipeline is refcounted: the caller's handle, every
 * actor (dropped by its state destructor) and the on_cancel callback
 * (dropped when it runs, or by the controller when complete/fail wins the
 * race, since the registry then never calls it).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/pipeline.h>
#include <nactor/supervisor.h>

#include "actors/internal.h"

/* Internal message types (pipeline range). */
#define PL_T_CREDIT 0xFFFF0310u   /* [n] from downstream */
#define PL_T_EOS 0xFFFF0311u      /* end of stream, from upstream */
#define PL_T_START 0xFFFF0312u    /* from the controller */
#define PL_T_RETRY 0xFFFF0313u    /* to self, after a backoff */
#define PL_T_TICK 0xFFFF0314u     /* [gen] time batch period, to self */
#define PL_T_WORK 0xFFFF0315u     /* item, stage -> worker */
#define PL_T_WOUT 0xFFFF0316u     /* output item, worker -> stage */
#define PL_T_WDONE 0xFFFF0317u    /* [status, rc], worker -> stage */
#define PL_T_FAIL 0xFFFF0318u     /* [stage, item, code, text] -> controller */
#define PL_T_SINKDONE 0xFFFF0319u /* [items] sink -> controller */
#define PL_T_CANCEL 0xFFFF031Au   /* [opid] on_cancel -> controller */
#define PL_T_MORE 0xFFFF031Bu     /* source: keep generating, to self */
#define PL_T_INIT 0xFFFF031Cu     /* start -> controller */

#define PL_WINDOW_DEFAULT 64
#define PL_TBATCH_CAP 1024
#define PL_SOURCE_BUDGET 64 /* source calls per turn, for fairness */
#define PL_MAX_STAGES 64
#define PL_MAX_WORKERS 1024

enum { W_OK = 0, W_SKIPPED = 1, W_FAILED = 2 };

/* ---- a growable ring of owned messages ---- */

struct msgq {
	nact_msg **v;
	uint32_t head, n, cap; /* cap a power of two or 0 */
};

static int q_push(struct msgq *q, nact_msg *m)
{
	if (q->n == q->cap) {
		uint32_t ncap = q->cap ? q->cap * 2 : 16;
		nact_msg **nv = malloc(sizeof(*nv) * ncap);
		if (nv == NULL)
			return NACT_ENOMEM;
		for (uint32_t i = 0; i < q->n; i++)
			nv[i] = q->v[(q->head + i) & (q->cap - 1)];
		free(q->v);
		q->v = nv;
		q->head = 0;
		q->cap = ncap;
	}
	q->v[(q->head + q->n) & (q->cap - 1)] = m;
	q->n++;
	return 0;
}

static nact_msg *q_pop(struct msgq *q)
{
	if (q->n == 0)
		return NULL;
	nact_msg *m = q->v[q->head];
	q->head = (q->head + 1) & (q->cap - 1);
	q->n--;
	return m;
}

static void q_fini(struct msgq *q)
{
	nact_msg *m;
	while ((m = q_pop(q)) != NULL)
		nact_msg_free(m);
	free(q->v);
	q->v = NULL;
	q->cap = 0;
}

/* ---- the shared pipeline object ---- */

struct pl_stat {
	_Atomic uint64_t in, out, skipped, retries, bad;
};

struct pl_cfg {
	nact_pl_stage s;
	char name[32];
	uint32_t wfirst; /* pmap: index of its first worker in pl->workers */
};

struct nact_pipeline {
	nact_system *sys;
	_Atomic int refs;
	size_t n;
	struct pl_cfg *cfg;    /* n, immutable after start */
	struct pl_stat *stats; /* n */
	nact_aid *aids;        /* n stage ids, written before INIT */
	nact_aid *workers;     /* nworkers */
	uint32_t nworkers;
	nact_aid ctl;
	nact_opid op;
	nact_pipeline_opts opts;
	char opname[64];
	int ext; /* fed from outside (no source stage) */

	/* feeding from outside */
	_Atomic int64_t credits; /* head credits available to pushers */
	_Atomic int nwait;       /* blocked pushers + actors to notify */
	_Atomic int ended;       /* nact_pipeline_end called */
	_Atomic int finishing;   /* result decided: pushes refused */
	_Atomic int fin_code;

	_Atomic int64_t inflight, peak;

	nng_mtx *mtx; /* guards waiters, done, res */
	nng_cv *cv;   /* done, credits, finishing */
	nact_aid *waiters;
	uint32_t nwaiters, capwaiters;
	int done;
	nact_pl_result res;
};

static void pl_ref(nact_pipeline *pl)
{
	atomic_fetch_add_explicit(&pl->refs, 1, memory_order_relaxed);
}

static void pl_unref(nact_pipeline *pl)
{
	/* acq_rel: the last one sees every write made under other refs */
	if (atomic_fetch_sub_explicit(&pl->refs, 1, memory_order_acq_rel) != 1)
		return;
	nng_cv_free(pl->cv);
	nng_mtx_free(pl->mtx);
	free(pl->waiters);
	free(pl->workers);
	free(pl->aids);
	free(pl->stats);
	free(pl->cfg);
	free(pl);
}

static void inflight_add(nact_pipeline *pl, int64_t d)
{
	if (!pl->opts.count_inflight || d == 0)
		return;
	int64_t now = atomic_fetch_add_explicit(&pl->inflight, d, memory_order_relaxed) + d;
	if (d > 0) {
		int64_t pk = atomic_load_explicit(&pl->peak, memory_order_relaxed);
		while (now > pk &&
		    !atomic_compare_exchange_weak_explicit(&pl->peak, &pk, now,
		        memory_order_relaxed, memory_order_relaxed))
			;
	}
}

static void stat_add(_Atomic uint64_t *c, uint64_t d)
{
	atomic_fetch_add_explicit(c, d, memory_order_relaxed);
}

/* Wake blocked pushers and tell waiting actors there is room. */
static void pl_notify(nact_pipeline *pl)
{
	nng_mtx_lock(pl->mtx);
	for (uint32_t i = 0; i < pl->nwaiters; i++) {
		nact_msg *m;
		if (nact_msg_alloc(&m, pl->sys, NACT_T_PL_READY) != 0)
			continue;
		if (nact_send(pl->sys, pl->waiters[i], m) != 0)
			nact_msg_free(m);
	}
	atomic_fetch_sub(&pl->nwait, (int)pl->nwaiters);
	pl->nwaiters = 0;
	nng_cv_wake(pl->cv);
	nng_mtx_unlock(pl->mtx);
}

static int take_credit(nact_pipeline *pl)
{
	int64_t c = atomic_load(&pl->credits);
	while (c > 0)
		if (atomic_compare_exchange_weak(&pl->credits, &c, c - 1))
			return 1;
	return 0;
}

/* Send a small internal message whose body is an array of ints. */
static int send_ints(nact_system *sys, nact_aid to, uint32_t type, const int64_t *v, int n)
{
	nact_msg *m;
	nact_pack pk;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		return rv;
	if (n > 0) {
		nact_pack_init(&pk, m);
		nact_pack_array(&pk, (uint32_t)n);
		for (int i = 0; i < n; i++)
			nact_pack_int(&pk, v[i]);
		if ((rv = nact_pack_error(&pk)) != 0) {
			nact_msg_free(m);
			return rv;
		}
	}
	if ((rv = nact_send(sys, to, m)) != 0)
		nact_msg_free(m);
	return rv;
}

/* Read a body [int, int...] into v (at most n); *got = count. */
static int read_ints(const nact_msg *m, int64_t *v, uint32_t n, uint32_t *got)
{
	nact_reader r;
	uint32_t cnt;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv != 0)
		return rv;
	rv = nact_read_array(&r, &cnt);
	if (rv == 0 && cnt > n)
		rv = NACT_EBADMSG;
	for (uint32_t i = 0; rv == 0 && i < cnt; i++)
		rv = nact_read_int(&r, &v[i]);
	nact_reader_fini(&r);
	*got = rv == 0 ? cnt : 0;
	return rv;
}

static const void *item_bytes(const nact_msg *m, size_t *len)
{
	return nact_msg_body(m, len);
}

/* Make a delivered (borrowed) message ours: move its nng_msg into a new
 * envelope. The borrowed envelope is left empty (the runtime frees it). */
static nact_msg *own_msg(nact_system *sys, nact_msg *m)
{
	nact_msg *c;
	nng_msg *nm = nact_msg_take(m);
	if (nact_msg_wrap(&c, sys, nm) != 0) {
		nng_msg_free(nm);
		return NULL;
	}
	return c;
}

/* ---- stage outputs ---- */

struct nact_pl_out {
	nact_system *sys;
	struct msgq q;
	nact_pack pk;
	nact_msg *cur; /* item being packed (also the last in q) */
	int err;
};

static void out_check(nact_pl_out *o)
{
	if (o->cur != NULL && o->err == 0)
		o->err = nact_pack_error(&o->pk);
	o->cur = NULL;
}

int nact_pl_emit(nact_pl_out *out, nact_pack **pkp)
{
	nact_msg *m;
	if (out == NULL || pkp == NULL)
		return NACT_EINVAL;
	out_check(out);
	int rv = nact_msg_alloc(&m, out->sys, NACT_T_PL_ITEM);
	if (rv == 0 && (rv = q_push(&out->q, m)) != 0)
		nact_msg_free(m);
	if (rv != 0)
		return out->err = rv;
	nact_pack_init(&out->pk, m);
	out->cur = m;
	*pkp = &out->pk;
	return 0;
}

int nact_pl_emit_raw(nact_pl_out *out, const void *item, size_t len)
{
	nact_msg *m;
	if (out == NULL || item == NULL || len == 0)
		return NACT_EINVAL;
	out_check(out);
	int rv = nact_msg_alloc(&m, out->sys, NACT_T_PL_ITEM);
	if (rv == 0 && nng_msg_append(nact_msg_nng(m), item, len) != 0)
		rv = NACT_ENOMEM;
	if (rv == 0 && (rv = q_push(&out->q, m)) != 0)
		rv = NACT_ENOMEM;
	if (rv != 0) {
		nact_msg_free(m);
		return out->err = rv;
	}
	return 0;
}

static void out_init(nact_pl_out *o, nact_system *sys)
{
	memset(o, 0, sizeof(*o));
	o->sys = sys;
}

/* ---- stage actors ---- */

struct wbuf {
	char *p;
	size_t len, cap;
};

static int wbuf_put(struct wbuf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;
		while (ncap < b->len + len)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (np == NULL)
			return NACT_ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

struct slot {
	int busy, done, status;
	int64_t rc;
	uint64_t idx;
	struct msgq outs;
};

struct stage {
	nact_pipeline *pl;
	nact_system *sys;
	const struct pl_cfg *c;
	uint32_t idx;
	int kind;
	nact_aid self, up, down;
	int started, failed;

	/* input side */
	uint32_t win, thr, unret; /* window, return batch, consumed not returned */
	struct msgq inq;
	int eos_in, flushed, eos_out;
	uint64_t nproc; /* next item index */

	/* output side */
	int64_t credit;
	struct msgq outq;

	/* retry of the current item (or source call) */
	int waiting;
	nact_msg *cur;
	uint64_t cur_idx;
	uint32_t attempt;
	int src_done;

	/* batch, time batch */
	struct wbuf bb;
	uint32_t bcount;
	uint64_t gen;
	nact_timer timer;
	int timer_on;

	/* window */
	struct wbuf *ring;
	uint64_t wcount, wlast;

	/* pmap */
	uint32_t nw;
	nact_aid *w;
	int *wslot; /* worker -> slot, -1 idle */
	struct slot *slots;
	uint64_t next_seq, next_emit;
	uint32_t outstanding;

	/* sink */
	uint64_t sunk, next_progress;

	nact_ctx *ctx; /* during a handler only (for nact_forward) */
};

static void stage_fini(void *arg)
{
	struct stage *st = arg;
	q_fini(&st->inq);
	q_fini(&st->outq);
	nact_msg_free(st->cur);
	free(st->bb.p);
	if (st->ring != NULL)
		for (uint32_t i = 0; i < st->c->s.n; i++)
			free(st->ring[i].p);
	free(st->ring);
	if (st->slots != NULL)
		for (uint32_t i = 0; i < st->nw; i++)
			q_fini(&st->slots[i].outs);
	free(st->slots);
	free(st->wslot);
	nact_pipeline *pl = st->pl;
	free(st);
	pl_unref(pl);
}

static void stage_bad(struct stage *st, nact_msg *m)
{
	stat_add(&st->pl->stats[st->idx].bad, 1);
	if (nact_msg_flags(m) & NACT_MF_REQUEST)
		nact_reply_error(st->sys, m, NACT_EBADMSG, "pipeline stage: unexpected message");
}

/* Report a failure to the controller; the stage then stops processing. */
static void stage_fail(struct stage *st, uint64_t idx, int code, const char *what)
{
	nact_msg *m;
	nact_pack pk;
	char text[160];

	st->failed = 1;
	snprintf(text, sizeof(text), "%s: %s", what, nact_strerror(code));
	if (nact_msg_alloc(&m, st->sys, PL_T_FAIL) != 0)
		return;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 4);
	nact_pack_int(&pk, st->idx);
	nact_pack_int(&pk, (int64_t)idx);
	nact_pack_int(&pk, code);
	nact_pack_str(&pk, text);
	if (nact_pack_error(&pk) != 0 || nact_send(st->sys, st->pl->ctl, m) != 0)
		nact_msg_free(m);
}

/* Give consumed items' credits back upstream (force: whatever is owed). */
static void give_credit(struct stage *st, int force)
{
	if (st->unret == 0 || (!force && st->unret < st->thr))
		return;
	uint32_t n = st->unret;
	st->unret = 0;
	if (st->pl->ext && st->idx == 0) {
		atomic_fetch_add(&st->pl->credits, n); /* seq_cst: see DESIGN */
		if (atomic_load(&st->pl->nwait) > 0)
			pl_notify(st->pl);
		return;
	}
	int64_t v = n;
	send_ints(st->sys, st->up, PL_T_CREDIT, &v, 1);
}

/* One input item is done with (consumed, dropped or failed). */
static void consumed(struct stage *st)
{
	inflight_add(st->pl, -1);
	st->unret++;
	give_credit(st, 0);
}

static void send_down(struct stage *st, nact_msg *m)
{
	nact_msg_set_type(m, NACT_T_PL_ITEM);
	st->credit--;
	if (nact_send(st->sys, st->down, m) != 0) {
		nact_msg_free(m);
		return;
	}
	stat_add(&st->pl->stats[st->idx].out, 1);
}

static void flush_out(struct stage *st)
{
	while (st->credit > 0 && st->outq.n > 0)
		send_down(st, q_pop(&st->outq));
}

/* Queue an output (owned); counts it in flight. */
static void put_out(struct stage *st, nact_msg *m)
{
	inflight_add(st->pl, 1);
	if (st->outq.n == 0 && st->credit > 0) {
		send_down(st, m);
		return;
	}
	if (q_push(&st->outq, m) != 0) {
		nact_msg_free(m);
		inflight_add(st->pl, -1);
		stage_fail(st, st->nproc, NACT_ENOMEM, "output queue");
	}
}

static void out_commit(struct stage *st, nact_pl_out *o)
{
	nact_msg *m;
	while ((m = q_pop(&o->q)) != NULL)
		put_out(st, m);
	q_fini(&o->q);
}

static void out_discard(nact_pl_out *o)
{
	q_fini(&o->q);
}

/* The result of a user function that emitted into o: rc, or o's error
 * when the function succeeded but an emit failed. */
static int out_result(nact_pl_out *o, int rc)
{
	out_check(o);
	return rc == 0 && o->err != 0 ? o->err : rc;
}

/* out_result for a stage: on success o's items go out, else they are
 * dropped. */
static int out_finish(struct stage *st, nact_pl_out *o, int rc)
{
	rc = out_result(o, rc);
	if (rc == 0)
		out_commit(st, o);
	else
		out_discard(o);
	return rc;
}

/* Emit the batch buffer as one array of bcount items. */
static void emit_batch_array(struct stage *st)
{
	nact_msg *m;
	nact_pack pk;
	int rv = nact_msg_alloc(&m, st->sys, NACT_T_PL_ITEM);
	if (rv == 0) {
		nact_pack_init(&pk, m);
		nact_pack_array(&pk, st->bcount);
		rv = nact_pack_error(&pk);
	}
	if (rv == 0 && nng_msg_append(nact_msg_nng(m), st->bb.p, st->bb.len) != 0)
		rv = NACT_ENOMEM;
	if (rv != 0) {
		nact_msg_free(m);
		stage_fail(st, st->nproc, rv, "batch");
		return;
	}
	put_out(st, m);
}

static void batch_emit(struct stage *st)
{
	if (st->bcount == 0)
		return;
	emit_batch_array(st);
	st->bb.len = 0;
	st->bcount = 0;
	if (st->timer_on) {
		nact_timer_cancel(st->sys, st->timer);
		st->timer_on = 0;
	}
	st->gen++;
}

/* Emit the last min(wcount, n) items of the window. */
static void window_emit(struct stage *st)
{
	uint32_t n = st->c->s.n;
	uint32_t k = st->wcount < n ? (uint32_t)st->wcount : n;
	uint32_t first = (uint32_t)((st->wcount - k) % n);
	nact_msg *m;
	nact_pack pk;
	int rv = nact_msg_alloc(&m, st->sys, NACT_T_PL_ITEM);
	if (rv == 0) {
		nact_pack_init(&pk, m);
		nact_pack_array(&pk, k);
		rv = nact_pack_error(&pk);
	}
	for (uint32_t i = 0; rv == 0 && i < k; i++) {
		const struct wbuf *b = &st->ring[(first + i) % n];
		if (nng_msg_append(nact_msg_nng(m), b->p, b->len) != 0)
			rv = NACT_ENOMEM;
	}
	if (rv != 0) {
		nact_msg_free(m);
		stage_fail(st, st->nproc, rv, "window");
		return;
	}
	st->wlast = st->wcount;
	put_out(st, m);
}

static int call_fn(struct stage *st, const void *b, size_t len, nact_pl_out *o, int *keep)
{
	const nact_pl_stage *s = &st->c->s;
	switch (st->kind) {
	case NACT_PL_MAP:
		return s->map(s->arg, b, len, o);
	case NACT_PL_FILTER:
		return s->filter(s->arg, b, len, keep);
	case NACT_PL_SINK:
		return s->sink(s->arg, b, len);
	default:
		return NACT_EINVAL;
	}
}

/* Schedule a retry of the current item / source call. Returns 1 if
 * scheduled, 0 if the retries are exhausted. */
static int retry_later(struct stage *st, nact_aid self, uint32_t *attempt, _Atomic uint64_t *ctr)
{
	const nact_pl_stage *s = &st->c->s;
	nact_msg *t;
	if (*attempt >= s->retries)
		return 0;
	uint32_t base = s->backoff_ms ? s->backoff_ms : 1;
	uint32_t sh = *attempt < 20 ? *attempt : 20;
	uint64_t d = (uint64_t)base << sh;
	if (d > 60000)
		d = 60000;
	(*attempt)++;
	stat_add(ctr, 1);
	if (nact_msg_alloc(&t, st->sys, PL_T_RETRY) != 0)
		return 0;
	if (nact_send_after(st->sys, self, t, (int)d, NULL) != 0) {
		nact_msg_free(t);
		return 0;
	}
	return 1;
}

/* After a function error: 1 = retry scheduled (keep the item), 0 = item
 * skipped, -1 = the pipeline fails. */
static int on_error(struct stage *st, int rc, uint64_t idx)
{
	const nact_pl_stage *s = &st->c->s;
	int pol = s->policy;
	if (pol == NACT_PL_RETRY) {
		if (retry_later(st, st->self, &st->attempt, &st->pl->stats[st->idx].retries))
			return 1;
		pol = s->then == NACT_PL_SKIP ? NACT_PL_SKIP : NACT_PL_FAIL;
	}
	st->attempt = 0;
	if (pol == NACT_PL_SKIP) {
		stat_add(&st->pl->stats[st->idx].skipped, 1);
		return 0;
	}
	char what[96];
	snprintf(what, sizeof(what), "stage '%s' failed on item %llu", st->c->name,
	    (unsigned long long)idx);
	stage_fail(st, idx, rc, what);
	return -1;
}

static void sink_progress(struct stage *st)
{
	nact_pipeline *pl = st->pl;
	st->sunk++;
	if (st->sunk < st->next_progress)
		return;
	uint64_t every = pl->opts.progress_every ? pl->opts.progress_every : 4096;
	st->next_progress = st->sunk + every;
	double f = 0;
	if (pl->opts.expected_items > 0) {
		f = (double)st->sunk / (double)pl->opts.expected_items;
		if (f > 1)
			f = 1;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "%llu items", (unsigned long long)st->sunk);
	nact_op_progress(st->sys, pl->op, f, msg);
}

/* Process one input item. owned: m is ours (else borrowed from the
 * handler). Returns 1 if the stage is now waiting for a retry. */
static int process(struct stage *st, nact_msg *m, int owned)
{
	const nact_pl_stage *s = &st->c->s;
	size_t len;
	const void *b = item_bytes(m, &len);
	uint64_t idx = st->attempt == 0 ? st->nproc++ : st->cur_idx;

	switch (st->kind) {
	case NACT_PL_BATCH:
	case NACT_PL_TIME_BATCH: {
		if (wbuf_put(&st->bb, b, len) != 0) {
			stage_fail(st, idx, NACT_ENOMEM, "batch buffer");
			break;
		}
		st->bcount++;
		uint32_t cap = s->n;
		if (st->kind == NACT_PL_TIME_BATCH && st->bcount == 1 && cap > 1) {
			nact_msg *t;
			int64_t g = (int64_t)st->gen;
			nact_pack pk;
			if (nact_msg_alloc(&t, st->sys, PL_T_TICK) == 0) {
				nact_pack_init(&pk, t);
				nact_pack_array(&pk, 1);
				nact_pack_int(&pk, g);
				if (nact_send_after(st->sys, st->self, t, (int)s->interval_ms,
				        &st->timer) == 0)
					st->timer_on = 1;
				else
					nact_msg_free(t);
			}
		}
		if (st->bcount >= cap)
			batch_emit(st);
		break;
	}
	case NACT_PL_WINDOW: {
		struct wbuf *w = &st->ring[st->wcount % s->n];
		w->len = 0;
		if (wbuf_put(w, b, len) != 0) {
			stage_fail(st, idx, NACT_ENOMEM, "window buffer");
			break;
		}
		st->wcount++;
		if (st->wcount >= s->n && (st->wcount - s->n) % s->slide == 0)
			window_emit(st);
		break;
	}
	default: {
		nact_pl_out o;
		int keep = 0;
		out_init(&o, st->sys);
		int rc = out_finish(st, &o, call_fn(st, b, len, &o, &keep));
		if (rc == 0) {
			st->attempt = 0;
			if (st->kind == NACT_PL_SINK)
				sink_progress(st);
			if (st->kind == NACT_PL_FILTER && keep) {
				/* the item passes on unchanged: ownership moves on.
				 * A delivered one goes on without a copy when it can
				 * be sent now (as from this stage: the next checks
				 * the sender). */
				if (!owned && st->ctx != NULL && st->outq.n == 0 &&
				    st->credit > 0) {
					nact_msg_set_type(m, NACT_T_PL_ITEM);
					nacti_put64(nacti_hdr(m) + NACTI_OFF_SENDER, st->self.v);
					if (nact_forward(st->ctx, st->down, m) == 0) {
						st->credit--;
						stat_add(&st->pl->stats[st->idx].out, 1);
						st->unret++;
						give_credit(st, 0);
						return 0;
					}
				}
				nact_msg *fw = owned ? m : own_msg(st->sys, m);
				if (fw != NULL) {
					inflight_add(st->pl, -1); /* put_out counts it again */
					put_out(st, fw);
				}
				st->unret++;
				give_credit(st, 0);
				return 0;
			}
			break;
		}
		int e = on_error(st, rc, idx);
		if (e == 1) {
			st->cur = owned ? m : own_msg(st->sys, m);
			st->cur_idx = idx;
			st->waiting = 1;
			if (st->cur == NULL) { /* out of memory: give up the item */
				st->waiting = 0;
				st->attempt = 0;
				stage_fail(st, idx, NACT_ENOMEM, "retry");
				return 0;
			}
			return 1;
		}
		break;
	}
	}
	if (owned)
		nact_msg_free(m);
	consumed(st);
	return 0;
}

/* Run the source function once. */
static void source_call(struct stage *st)
{
	const nact_pl_stage *s = &st->c->s;
	nact_pl_out o;
	int done = 0;
	uint64_t idx = st->attempt == 0 ? st->nproc++ : st->cur_idx;
	out_init(&o, st->sys);
	int rc = out_finish(st, &o, s->source(s->arg, &o, &done));
	if (rc == 0) {
		st->attempt = 0;
		if (done) {
			st->src_done = 1;
			st->eos_in = 1;
		}
		return;
	}
	if (on_error(st, rc, idx) == 1) {
		st->cur_idx = idx;
		st->waiting = 1;
	}
}

/* ---- parallel map ---- */

static int pmap_slot_free(struct stage *st, int *slotp, int *wp)
{
	int w = -1;
	for (uint32_t i = 0; i < st->nw; i++)
		if (st->wslot[i] < 0) {
			w = (int)i;
			break;
		}
	if (w < 0)
		return 0;
	int slot;
	if (st->c->s.ordered) {
		if (st->next_seq - st->next_emit >= st->nw)
			return 0;
		slot = (int)(st->next_seq % st->nw);
		if (st->slots[slot].busy)
			return 0;
	} else {
		slot = w;
	}
	*slotp = slot;
	*wp = w;
	return 1;
}

static void pmap_dispatch(struct stage *st, nact_msg *m)
{
	int slot = 0, w = 0;
	(void)pmap_slot_free(st, &slot, &w); /* caller checked */
	struct slot *sl = &st->slots[slot];
	sl->busy = 1;
	sl->done = 0;
	sl->status = W_OK;
	sl->idx = st->nproc++;
	st->wslot[w] = slot;
	st->next_seq++;
	st->outstanding++;
	nact_msg_set_type(m, PL_T_WORK);
	if (nact_send(st->sys, st->w[w], m) != 0) {
		nact_msg_free(m);
		stage_fail(st, sl->idx, NACT_ECLOSED, "worker send");
	}
}

static void pmap_emit_slot(struct stage *st, struct slot *sl)
{
	nact_msg *o;
	while ((o = q_pop(&sl->outs)) != NULL) {
		inflight_add(st->pl, -1); /* counted by the worker; put_out recounts */
		put_out(st, o);
	}
	sl->busy = 0;
}

static void pmap_done(struct stage *st, int w, int status, int64_t rc)
{
	int slot = st->wslot[w];
	struct slot *sl = &st->slots[slot];
	st->wslot[w] = -1;
	st->outstanding--;
	sl->done = 1;
	sl->status = status;
	consumed(st);
	if (status == W_SKIPPED)
		stat_add(&st->pl->stats[st->idx].skipped, 1);
	if (status == W_FAILED) {
		char what[96];
		snprintf(what, sizeof(what), "stage '%s' failed on item %llu", st->c->name,
		    (unsigned long long)sl->idx);
		stage_fail(st, sl->idx, (int)rc, what);
		return;
	}
	if (!st->c->s.ordered) {
		pmap_emit_slot(st, sl);
		return;
	}
	for (;;) {
		struct slot *nx = &st->slots[st->next_emit % st->nw];
		if (!nx->busy || !nx->done)
			break;
		pmap_emit_slot(st, nx);
		st->next_emit++;
	}
}

/* ---- the stage loop ---- */

static void stage_eos(struct stage *st)
{
	const nact_pl_stage *s = &st->c->s;
	if (!st->flushed) {
		st->flushed = 1;
		if (st->kind == NACT_PL_BATCH || st->kind == NACT_PL_TIME_BATCH)
			batch_emit(st);
		else if (st->kind == NACT_PL_WINDOW && st->wcount > st->wlast)
			window_emit(st);
		else if (s->flush != NULL) {
			nact_pl_out o;
			out_init(&o, st->sys);
			int rc = out_finish(st, &o,
			    s->flush(s->arg, st->kind == NACT_PL_SINK ? NULL : &o));
			if (rc != 0) {
				if (s->policy != NACT_PL_SKIP) {
					char what[96];
					snprintf(what, sizeof(what), "stage '%s' failed at flush",
					    st->c->name);
					stage_fail(st, st->nproc, rc, what);
				} else {
					stat_add(&st->pl->stats[st->idx].skipped, 1);
				}
			}
		}
		if (st->failed || st->outq.n > 0)
			return;
	}
	give_credit(st, 1);
	st->eos_out = 1;
	if (st->kind == NACT_PL_SINK) {
		int64_t v = (int64_t)st->sunk;
		nact_op_progress(st->sys, st->pl->op, 1.0, NULL);
		send_ints(st->sys, st->pl->ctl, PL_T_SINKDONE, &v, 1);
		return;
	}
	send_ints(st->sys, st->down, PL_T_EOS, NULL, 0);
}

static void pump(struct stage *st)
{
	int budget = PL_SOURCE_BUDGET;
	for (;;) {
		if (st->failed || st->eos_out || !st->started)
			return;
		flush_out(st);
		if (st->outq.n > 0 || st->waiting)
			return;
		if (st->kind == NACT_PL_PMAP) {
			int slot, w;
			while (st->inq.n > 0 && st->outq.n == 0 && !st->failed &&
			    pmap_slot_free(st, &slot, &w))
				pmap_dispatch(st, q_pop(&st->inq));
			if (st->eos_in && st->inq.n == 0 && st->outstanding == 0) {
				stage_eos(st);
				if (st->eos_out || st->failed)
					return;
				continue;
			}
			return;
		}
		if (st->inq.n > 0) {
			if (process(st, q_pop(&st->inq), 1))
				return;
			continue;
		}
		if (st->kind == NACT_PL_SOURCE && !st->src_done) {
			if (st->credit <= 0)
				return;
			if (budget-- <= 0) {
				send_ints(st->sys, st->self, PL_T_MORE, NULL, 0);
				return;
			}
			source_call(st);
			continue;
		}
		if (st->eos_in) {
			stage_eos(st);
			if (st->eos_out || st->failed)
				return;
			continue;
		}
		return;
	}
}

static int stage_item(struct stage *st, nact_msg *m)
{
	nact_pipeline *pl = st->pl;
	if (st->idx == 0 ? (!pl->ext || nact_msg_opid(m) != pl->op.v) :
	                   nact_msg_sender(m).v != st->up.v) {
		stage_bad(st, m);
		return 0;
	}
	if (st->eos_in || st->kind == NACT_PL_SOURCE) {
		stage_bad(st, m);
		return 0;
	}
	size_t len;
	const void *b = nact_msg_body(m, &len);
	if (st->idx == 0 && (len == 0 || nact_msgpack_validate(b, len, NULL) != 0)) {
		/* a pushed item that is not msgpack: it used a credit, give it back */
		stat_add(&pl->stats[0].bad, 1);
		consumed(st);
		return 0;
	}
	stat_add(&pl->stats[st->idx].in, 1);
	if (st->failed)
		return 0;
	if (st->started && st->inq.n == 0 && st->outq.n == 0 && !st->waiting &&
	    st->kind != NACT_PL_PMAP) {
		process(st, m, 0);
		pump(st);
		return 0;
	}
	nact_msg *c = own_msg(st->sys, m);
	if (c == NULL || q_push(&st->inq, c) != 0) {
		nact_msg_free(c);
		stage_fail(st, st->nproc, NACT_ENOMEM, "input queue");
		return 0;
	}
	pump(st);
	return 0;
}

/* 1 if m is the DOWN of the pipeline's controller. */
static int ctl_down(const nact_msg *m, nact_pipeline *pl)
{
	nact_exit_info info;
	return nact_exit_info_read(m, &info) == 0 && info.id.v == pl->ctl.v;
}

static int stage_msg(struct stage *st, nact_ctx *ctx, nact_msg *m);

static int stage_fn(nact_ctx *ctx, nact_msg *m)
{
	struct stage *st = nact_state(ctx);
	st->ctx = ctx;
	int rv = stage_msg(st, ctx, m);
	st->ctx = NULL;
	return rv;
}

static int stage_msg(struct stage *st, nact_ctx *ctx, nact_msg *m)
{
	uint32_t type = nact_msg_type(m);
	nact_aid from = nact_msg_sender(m);
	int64_t v[2];
	uint32_t got;

	switch (type) {
	case NACT_T_PL_ITEM:
		return stage_item(st, m);
	case PL_T_CREDIT:
		if (st->kind == NACT_PL_SINK || from.v != st->down.v ||
		    read_ints(m, v, 1, &got) != 0 || got != 1 || v[0] <= 0 || v[0] > (1 << 30)) {
			stage_bad(st, m);
			return 0;
		}
		st->credit += v[0];
		pump(st);
		return 0;
	case PL_T_EOS:
		if (st->eos_in || st->kind == NACT_PL_SOURCE ||
		    (st->idx == 0 ? nact_msg_opid(m) != st->pl->op.v : from.v != st->up.v)) {
			stage_bad(st, m);
			return 0;
		}
		st->eos_in = 1;
		pump(st);
		return 0;
	case PL_T_START:
		if (st->started || from.v != st->pl->ctl.v) {
			stage_bad(st, m);
			return 0;
		}
		st->started = 1;
		/* if the controller dies, nobody would stop us: watch it */
		nact_monitor(ctx, st->pl->ctl, NULL);
		if (st->kind != NACT_PL_SOURCE) {
			st->unret = st->win;
			give_credit(st, 1);
		}
		pump(st);
		return 0;
	case PL_T_RETRY:
		if (from.v != st->self.v) {
			stage_bad(st, m);
			return 0;
		}
		if (!st->waiting)
			return 0;
		st->waiting = 0;
		if (st->cur != NULL) {
			nact_msg *c = st->cur;
			st->cur = NULL;
			if (process(st, c, 1))
				return 0;
		} else if (st->kind == NACT_PL_SOURCE) {
			source_call(st);
		}
		pump(st);
		return 0;
	case PL_T_MORE:
		if (from.v != st->self.v) {
			stage_bad(st, m);
			return 0;
		}
		pump(st);
		return 0;
	case PL_T_TICK:
		if (st->kind != NACT_PL_TIME_BATCH || from.v != st->self.v ||
		    read_ints(m, v, 1, &got) != 0 || got != 1) {
			stage_bad(st, m);
			return 0;
		}
		if ((uint64_t)v[0] == st->gen && st->bcount > 0 && !st->failed) {
			st->timer_on = 0;
			batch_emit(st);
			pump(st);
		}
		return 0;
	case PL_T_WOUT:
	case PL_T_WDONE: {
		int w = -1;
		for (uint32_t i = 0; st->kind == NACT_PL_PMAP && i < st->nw; i++)
			if (st->w[i].v == from.v)
				w = (int)i;
		if (w < 0 || st->wslot[w] < 0) {
			stage_bad(st, m);
			return 0;
		}
		if (type == PL_T_WOUT) {
			nact_msg *c = own_msg(st->sys, m);
			if (c == NULL || q_push(&st->slots[st->wslot[w]].outs, c) != 0) {
				nact_msg_free(c);
				stage_fail(st, st->nproc, NACT_ENOMEM, "pmap outputs");
			}
			return 0;
		}
		if (read_ints(m, v, 2, &got) != 0 || got != 2 || v[0] < W_OK || v[0] > W_FAILED) {
			stage_bad(st, m);
			return 0;
		}
		if (!st->failed) {
			pmap_done(st, w, (int)v[0], v[1]);
			pump(st);
		}
		return 0;
	}
	case NACT_T_DOWN:
		if (ctl_down(m, st->pl)) {
			nact_exit(ctx, 0);
			return 0;
		}
		stage_bad(st, m);
		return 0;
	default:
		stage_bad(st, m);
		return 0;
	}
}

/* ---- parallel-map workers ---- */

struct worker {
	nact_pipeline *pl;
	const struct pl_cfg *c;
	uint32_t sidx;
	nact_aid self, stage;
	nact_msg *cur;
	uint32_t attempt;
	int started;
};

static void worker_fini(void *arg)
{
	struct worker *wk = arg;
	nact_pipeline *pl = wk->pl;
	nact_msg_free(wk->cur);
	free(wk);
	pl_unref(pl);
}

static void worker_run(nact_ctx *ctx, struct worker *wk)
{
	nact_system *sys = nact_sys(ctx);
	const nact_pl_stage *s = &wk->c->s;
	nact_pl_out o;
	size_t len;
	const void *b = item_bytes(wk->cur, &len);
	int64_t v[2] = {W_OK, 0};

	out_init(&o, sys);
	int rc = out_result(&o, s->map(s->arg, b, len, &o));
	if (rc == 0) {
		nact_msg *m;
		while ((m = q_pop(&o.q)) != NULL) {
			inflight_add(wk->pl, 1);
			nact_msg_set_type(m, PL_T_WOUT);
			if (nact_send(sys, wk->stage, m) != 0) {
				inflight_add(wk->pl, -1);
				nact_msg_free(m);
			}
		}
		q_fini(&o.q);
	} else {
		out_discard(&o);
		int pol = s->policy;
		if (pol == NACT_PL_RETRY) {
			struct stage fake = {.sys = sys, .c = wk->c, .pl = wk->pl};
			if (retry_later(&fake, wk->self, &wk->attempt,
			        &wk->pl->stats[wk->sidx].retries))
				return;
			pol = s->then == NACT_PL_SKIP ? NACT_PL_SKIP : NACT_PL_FAIL;
		}
		v[0] = pol == NACT_PL_SKIP ? W_SKIPPED : W_FAILED;
		v[1] = rc;
	}
	wk->attempt = 0;
	nact_msg_free(wk->cur);
	wk->cur = NULL;
	send_ints(sys, wk->stage, PL_T_WDONE, v, 2);
}

static int worker_fn(nact_ctx *ctx, nact_msg *m)
{
	struct worker *wk = nact_state(ctx);
	uint32_t type = nact_msg_type(m);
	nact_aid from = nact_msg_sender(m);

	if (type == PL_T_WORK && from.v == wk->stage.v && wk->cur == NULL) {
		wk->cur = own_msg(nact_sys(ctx), m);
		if (wk->cur == NULL) {
			int64_t v[2] = {W_FAILED, NACT_ENOMEM};
			send_ints(nact_sys(ctx), wk->stage, PL_T_WDONE, v, 2);
			return 0;
		}
		wk->attempt = 0;
		worker_run(ctx, wk);
		return 0;
	}
	if (type == PL_T_RETRY && from.v == wk->self.v && wk->cur != NULL && wk->attempt > 0) {
		worker_run(ctx, wk);
		return 0;
	}
	if (type == PL_T_START && from.v == wk->pl->ctl.v && !wk->started) {
		wk->started = 1;
		nact_monitor(ctx, wk->pl->ctl, NULL);
		return 0;
	}
	if (type == NACT_T_DOWN && ctl_down(m, wk->pl)) {
		nact_exit(ctx, 0);
		return 0;
	}
	stat_add(&wk->pl->stats[wk->sidx].bad, 1);
	if (nact_msg_flags(m) & NACT_MF_REQUEST)
		nact_reply_error(nact_sys(ctx), m, NACT_EBADMSG,
		    "pipeline worker: unexpected message");
	return 0;
}

/* ---- controller ---- */

struct ctl {
	nact_pipeline *pl;
	size_t nact; /* stages then workers */
	nact_aid *aids;
	char *down;
	size_t ndown;
	int inited, finishing;
	nact_pl_result res;
};

static void ctl_fini(void *arg)
{
	struct ctl *c = arg;
	nact_pipeline *pl = c->pl;
	free(c->aids);
	free(c->down);
	free(c);
	pl_unref(pl);
}

static void ctl_report(nact_ctx *ctx, struct ctl *c)
{
	nact_pipeline *pl = c->pl;
	if (pl->opts.done != NULL)
		pl->opts.done(pl->opts.done_arg, &c->res);
	if (pl->opts.notify.v != 0) {
		nact_msg *m;
		nact_pack pk;
		if (nact_msg_alloc(&m, pl->sys, NACT_T_PL_DONE) == 0) {
			nact_pack_init(&pk, m);
			nact_pack_array(&pk, 5);
			nact_pack_int(&pk, c->res.code);
			nact_pack_str(&pk, c->res.message);
			nact_pack_int(&pk, c->res.stage);
			nact_pack_int(&pk, c->res.item);
			nact_pack_uint(&pk, c->res.items);
			if (nact_pack_error(&pk) != 0 ||
			    nact_send(pl->sys, pl->opts.notify, m) != 0)
				nact_msg_free(m);
		}
	}
	nng_mtx_lock(pl->mtx);
	pl->res = c->res;
	pl->done = 1;
	nng_cv_wake(pl->cv);
	nng_mtx_unlock(pl->mtx);
	nact_exit(ctx, 0);
}

static void ctl_finish(nact_ctx *ctx, struct ctl *c, int code, int stage, int64_t item,
    const char *msg, uint64_t items)
{
	nact_pipeline *pl = c->pl;
	if (c->finishing)
		return;
	c->finishing = 1;
	c->res.code = code;
	c->res.stage = stage;
	c->res.item = item;
	c->res.items = items;
	snprintf(c->res.message, sizeof(c->res.message), "%s", msg ? msg : "");

	atomic_store(&pl->fin_code, code == 0 ? NACT_ESTATE : code);
	atomic_store(&pl->finishing, 1);
	/* blocked pushers wake, actors waiting for room get READY: their
	 * next push returns the result code */
	pl_notify(pl);

	if (code != NACT_ECANCELED) {
		int rv = code == 0 ? nact_op_complete(pl->sys, pl->op) :
		                     nact_op_fail(pl->sys, pl->op, c->res.message);
		if (rv == 0)
			pl_unref(pl); /* the on_cancel callback will never run */
	}
	for (size_t i = 0; i < c->nact; i++)
		if (!c->down[i])
			nact_stop(pl->sys, c->aids[i]);
	if (c->ndown == c->nact)
		ctl_report(ctx, c);
}

static const char *aid_name(struct ctl *c, size_t i, char *buf, size_t len)
{
	nact_pipeline *pl = c->pl;
	if (i < pl->n)
		return pl->cfg[i].name;
	size_t w = i - pl->n;
	for (size_t s = 0; s < pl->n; s++)
		if (pl->cfg[s].s.kind == NACT_PL_PMAP && w >= pl->cfg[s].wfirst &&
		    w < pl->cfg[s].wfirst + pl->cfg[s].s.n) {
			snprintf(buf, len, "%s/worker%zu", pl->cfg[s].name, w - pl->cfg[s].wfirst);
			return buf;
		}
	return "?";
}

static int ctl_stage_of(struct ctl *c, size_t i)
{
	nact_pipeline *pl = c->pl;
	if (i < pl->n)
		return (int)i;
	size_t w = i - pl->n;
	for (size_t s = 0; s < pl->n; s++)
		if (pl->cfg[s].s.kind == NACT_PL_PMAP && w >= pl->cfg[s].wfirst &&
		    w < pl->cfg[s].wfirst + pl->cfg[s].s.n)
			return (int)s;
	return -1;
}

static int ctl_fn(nact_ctx *ctx, nact_msg *m)
{
	struct ctl *c = nact_state(ctx);
	nact_pipeline *pl = c->pl;
	uint32_t type = nact_msg_type(m);
	nact_aid from = nact_msg_sender(m);
	int64_t v[1];
	uint32_t got;

	switch (type) {
	case PL_T_INIT:
		if (c->inited)
			break;
		c->inited = 1;
		for (size_t i = 0; i < c->nact; i++)
			nact_monitor(ctx, c->aids[i], NULL);
		for (size_t i = 0; i < c->nact; i++)
			send_ints(pl->sys, c->aids[i], PL_T_START, NULL, 0);
		return 0;
	case NACT_T_DOWN: {
		nact_exit_info info;
		if (nact_exit_info_read(m, &info) != 0)
			break;
		size_t i;
		for (i = 0; i < c->nact; i++)
			if (c->aids[i].v == info.id.v)
				break;
		if (i == c->nact || c->down[i])
			break;
		c->down[i] = 1;
		c->ndown++;
		if (!c->finishing) {
			char buf[48], msg[256];
			snprintf(msg, sizeof(msg), "stage '%s' ended: %.180s",
			    aid_name(c, i, buf, sizeof(buf)), info.text);
			ctl_finish(ctx, c, NACT_ESTAGE, ctl_stage_of(c, i), -1, msg, 0);
		} else if (c->ndown == c->nact) {
			ctl_report(ctx, c);
		}
		return 0;
	}
	case PL_T_FAIL: {
		nact_reader r;
		uint32_t n;
		int64_t sidx, item, code;
		const char *text;
		size_t tl;
		size_t i;
		for (i = 0; i < c->nact; i++)
			if (c->aids[i].v == from.v)
				break;
		if (i == c->nact || nact_reader_init(&r, m, NULL) != 0)
			break;
		int rv = nact_read_array(&r, &n);
		if (rv == 0 && n != 4)
			rv = NACT_EBADMSG;
		if (rv == 0)
			rv = nact_read_int(&r, &sidx);
		if (rv == 0)
			rv = nact_read_int(&r, &item);
		if (rv == 0)
			rv = nact_read_int(&r, &code);
		if (rv == 0)
			rv = nact_read_str(&r, &text, &tl);
		if (rv == 0 && (sidx < 0 || (size_t)sidx >= pl->n))
			rv = NACT_EBADMSG;
		if (rv == 0) {
			char msg[256];
			snprintf(msg, sizeof(msg), "%.*s", (int)(tl < 250 ? tl : 250), text);
			(void)code;
			ctl_finish(ctx, c, NACT_ESTAGE, (int)sidx, item, msg, 0);
		}
		nact_reader_fini(&r);
		if (rv != 0)
			break;
		return 0;
	}
	case PL_T_SINKDONE:
		if (from.v != pl->aids[pl->n - 1].v || read_ints(m, v, 1, &got) != 0 || got != 1)
			break;
		ctl_finish(ctx, c, 0, -1, -1, "", (uint64_t)v[0]);
		return 0;
	case PL_T_CANCEL:
		if (read_ints(m, v, 1, &got) != 0 || got != 1 || (uint64_t)v[0] != pl->op.v)
			break;
		ctl_finish(ctx, c, NACT_ECANCELED, -1, -1, "cancelled", 0);
		return 0;
	default:
		break;
	}
	/* anything else, or a malformed body: counted (against the sink's
	 * stats would mislead; the controller counts in stage 0's bad) */
	stat_add(&pl->stats[0].bad, 1);
	if (nact_msg_flags(m) & NACT_MF_REQUEST)
		nact_reply_error(pl->sys, m, NACT_EBADMSG,
		    "pipeline controller: unexpected message");
	return 0;
}

static void pl_on_cancel(void *arg, nact_opid id, int reason)
{
	nact_pipeline *pl = arg;
	int64_t v = (int64_t)id.v;
	(void)reason;
	send_ints(pl->sys, pl->ctl, PL_T_CANCEL, &v, 1);
	pl_unref(pl);
}

/* ---- stage constructors ---- */

static nact_pl_stage mk(int kind, const char *name, void *arg)
{
	nact_pl_stage s;
	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.name = name;
	s.arg = arg;
	return s;
}

nact_pl_stage nact_pl_source(const char *name, nact_pl_source_fn fn, void *arg)
{
	nact_pl_stage s = mk(NACT_PL_SOURCE, name, arg);
	s.source = fn;
	return s;
}

nact_pl_stage nact_pl_map(const char *name, nact_pl_map_fn fn, void *arg)
{
	nact_pl_stage s = mk(NACT_PL_MAP, name, arg);
	s.map = fn;
	return s;
}

nact_pl_stage nact_pl_filter(const char *name, nact_pl_filter_fn fn, void *arg)
{
	nact_pl_stage s = mk(NACT_PL_FILTER, name, arg);
	s.filter = fn;
	return s;
}

nact_pl_stage nact_pl_batch(const char *name, uint32_t n)
{
	nact_pl_stage s = mk(NACT_PL_BATCH, name, NULL);
	s.n = n;
	return s;
}

nact_pl_stage nact_pl_window(const char *name, uint32_t size, uint32_t slide)
{
	nact_pl_stage s = mk(NACT_PL_WINDOW, name, NULL);
	s.n = size;
	s.slide = slide;
	return s;
}

nact_pl_stage nact_pl_time_batch(const char *name, uint32_t interval_ms, uint32_t max_items)
{
	nact_pl_stage s = mk(NACT_PL_TIME_BATCH, name, NULL);
	s.interval_ms = interval_ms;
	s.n = max_items;
	return s;
}

nact_pl_stage nact_pl_pmap(const char *name, nact_pl_map_fn fn, void *arg, uint32_t concurrency,
    int ordered)
{
	nact_pl_stage s = mk(NACT_PL_PMAP, name, arg);
	s.map = fn;
	s.n = concurrency;
	s.ordered = ordered;
	return s;
}

nact_pl_stage nact_pl_sink(const char *name, nact_pl_sink_fn fn, void *arg)
{
	nact_pl_stage s = mk(NACT_PL_SINK, name, arg);
	s.sink = fn;
	return s;
}

/* ---- start ---- */

static const char *kind_str(int k)
{
	static const char *const names[] = {"?", "source", "map", "filter", "batch", "window",
	    "tbatch", "pmap", "sink"};
	return k >= 1 && k <= 8 ? names[k] : "?";
}

static int check_stage(const nact_pl_stage *s, size_t i, size_t n)
{
	if (s->kind < NACT_PL_SOURCE || s->kind > NACT_PL_SINK)
		return NACT_EINVAL;
	if ((s->kind == NACT_PL_SOURCE) != (i == 0 && s->kind == NACT_PL_SOURCE))
		return NACT_EINVAL;
	if ((s->kind == NACT_PL_SINK) != (i == n - 1))
		return NACT_EINVAL;
	if (s->policy < NACT_PL_FAIL || s->policy > NACT_PL_RETRY)
		return NACT_EINVAL;
	if (s->window > (1u << 24) || s->retries > 1000)
		return NACT_EINVAL;
	switch (s->kind) {
	case NACT_PL_SOURCE:
		return s->source ? 0 : NACT_EINVAL;
	case NACT_PL_MAP:
		return s->map ? 0 : NACT_EINVAL;
	case NACT_PL_FILTER:
		return s->filter ? 0 : NACT_EINVAL;
	case NACT_PL_SINK:
		return s->sink ? 0 : NACT_EINVAL;
	case NACT_PL_BATCH:
		return s->n >= 1 && s->n <= (1u << 20) ? 0 : NACT_EINVAL;
	case NACT_PL_WINDOW:
		return s->n >= 1 && s->n <= (1u << 16) && s->slide >= 1 && s->slide <= s->n ?
		    0 :
		    NACT_EINVAL;
	case NACT_PL_TIME_BATCH:
		return s->interval_ms >= 1 && s->interval_ms <= 86400000u && s->n <= (1u << 20) ?
		    0 :
		    NACT_EINVAL;
	case NACT_PL_PMAP:
		return s->map && s->n >= 1 && s->n <= PL_MAX_WORKERS ? 0 : NACT_EINVAL;
	}
	return NACT_EINVAL;
}

int nact_pipeline_start(nact_pipeline **plp, nact_system *sys, const nact_pl_stage *stages,
    size_t n, const nact_pipeline_opts *opts)
{
	int rv;
	if (plp == NULL || sys == NULL || stages == NULL || n < 2 || n > PL_MAX_STAGES)
		return NACT_EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((rv = check_stage(&stages[i], i, n)) != 0)
			return rv;

	nact_pipeline *pl = calloc(1, sizeof(*pl));
	if (pl == NULL)
		return NACT_ENOMEM;
	pl->sys = sys;
	pl->n = n;
	atomic_init(&pl->refs, 1);
	if (opts != NULL)
		pl->opts = *opts;
	snprintf(pl->opname, sizeof(pl->opname), "%s",
	    pl->opts.name != NULL ? pl->opts.name : "pipeline");
	pl->opts.name = pl->opname;
	pl->ext = stages[0].kind != NACT_PL_SOURCE;
	pl->cfg = calloc(n, sizeof(*pl->cfg));
	pl->stats = calloc(n, sizeof(*pl->stats));
	pl->aids = calloc(n, sizeof(*pl->aids));
	if (pl->cfg == NULL || pl->stats == NULL || pl->aids == NULL ||
	    nng_mtx_alloc(&pl->mtx) != 0 || nng_cv_alloc(&pl->cv, pl->mtx) != 0) {
		pl_unref(pl);
		return NACT_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct pl_cfg *c = &pl->cfg[i];
		c->s = stages[i];
		if (c->s.name != NULL)
			snprintf(c->name, sizeof(c->name), "%s", c->s.name);
		else
			snprintf(c->name, sizeof(c->name), "%s%zu", kind_str(c->s.kind), i);
		c->s.name = c->name;
		if (c->s.kind == NACT_PL_TIME_BATCH && c->s.n == 0)
			c->s.n = PL_TBATCH_CAP;
		if (c->s.kind == NACT_PL_PMAP) {
			c->wfirst = pl->nworkers;
			pl->nworkers += c->s.n;
		}
	}
	if (pl->nworkers > PL_MAX_WORKERS) {
		pl_unref(pl);
		return NACT_EINVAL;
	}
	if (pl->nworkers > 0 && (pl->workers = calloc(pl->nworkers, sizeof(nact_aid))) == NULL) {
		pl_unref(pl);
		return NACT_ENOMEM;
	}

	/* the operation, and its cancel callback (holds a ref) */
	if ((rv = nact_op_create(&pl->op, sys, pl->opname, pl->opts.parent, "pipeline")) != 0) {
		pl_unref(pl);
		return rv;
	}

	/* states first, then the actors */
	size_t nact = n + pl->nworkers;
	struct stage **sts = calloc(n, sizeof(*sts));
	struct worker **wks = calloc(pl->nworkers + 1, sizeof(*wks));
	struct ctl *ctl = calloc(1, sizeof(*ctl));
	nact_aid *all = calloc(nact, sizeof(nact_aid));
	char *down = calloc(nact, 1);
	rv = (sts && wks && ctl && all && down) ? 0 : NACT_ENOMEM;
	for (size_t i = 0; rv == 0 && i < n; i++) {
		struct stage *st = calloc(1, sizeof(*st));
		const struct pl_cfg *c = &pl->cfg[i];
		if (st == NULL) {
			rv = NACT_ENOMEM;
			break;
		}
		sts[i] = st;
		st->pl = pl;
		st->sys = sys;
		st->c = c;
		st->idx = (uint32_t)i;
		st->kind = c->s.kind;
		st->win = c->s.window ? c->s.window : PL_WINDOW_DEFAULT;
		st->thr = (st->win + 3) / 4;
		if (st->kind == NACT_PL_WINDOW &&
		    (st->ring = calloc(c->s.n, sizeof(*st->ring))) == NULL)
			rv = NACT_ENOMEM;
		if (st->kind == NACT_PL_PMAP) {
			st->nw = c->s.n;
			st->w = &pl->workers[c->wfirst];
			st->wslot = malloc(sizeof(int) * st->nw);
			st->slots = calloc(st->nw, sizeof(*st->slots));
			if (st->wslot == NULL || st->slots == NULL)
				rv = NACT_ENOMEM;
			else
				for (uint32_t k = 0; k < st->nw; k++)
					st->wslot[k] = -1;
			for (uint32_t k = 0; rv == 0 && k < st->nw; k++) {
				struct worker *wk = calloc(1, sizeof(*wk));
				if (wk == NULL) {
					rv = NACT_ENOMEM;
					break;
				}
				wk->pl = pl;
				wk->c = c;
				wk->sidx = (uint32_t)i;
				wks[c->wfirst + k] = wk;
			}
		}
	}
	if (rv != 0) {
		for (size_t i = 0; sts && i < n; i++)
			if (sts[i] != NULL) {
				pl_ref(pl);
				stage_fini(sts[i]);
			}
		for (size_t i = 0; wks && i < pl->nworkers; i++)
			free(wks[i]);
		goto out_fail;
	}

	/* spawn: workers, stages, controller; each spawned actor holds a ref */
	size_t spawned_w = 0, spawned_s = 0;
	for (; spawned_w < pl->nworkers; spawned_w++) {
		nact_spawn_opts so = {0};
		const struct pl_cfg *c = wks[spawned_w]->c;
		so.handler_deadline_ms = c->s.handler_deadline_ms;
		pl_ref(pl);
		rv = nact_spawn(&pl->workers[spawned_w], sys, worker_fn, wks[spawned_w],
		    worker_fini, &so);
		if (rv != 0) {
			pl_unref(pl);
			break;
		}
		wks[spawned_w]->self = pl->workers[spawned_w];
	}
	for (; rv == 0 && spawned_s < n; spawned_s++) {
		nact_spawn_opts so = {0};
		so.handler_deadline_ms = pl->cfg[spawned_s].s.handler_deadline_ms;
		pl_ref(pl);
		rv = nact_spawn(&pl->aids[spawned_s], sys, stage_fn, sts[spawned_s], stage_fini,
		    &so);
		if (rv != 0) {
			pl_unref(pl);
			break;
		}
		sts[spawned_s]->self = pl->aids[spawned_s];
	}
	if (rv == 0) {
		ctl->pl = pl;
		ctl->nact = nact;
		ctl->aids = all;
		ctl->down = down;
		memcpy(all, pl->aids, n * sizeof(nact_aid));
		if (pl->nworkers)
			memcpy(all + n, pl->workers, pl->nworkers * sizeof(nact_aid));
		pl_ref(pl);
		rv = nact_spawn(&pl->ctl, sys, ctl_fn, ctl, ctl_fini, NULL);
		if (rv != 0)
			pl_unref(pl);
	}
	if (rv != 0) {
		for (size_t i = 0; i < spawned_w; i++)
			nact_stop(sys, pl->workers[i]);
		for (size_t i = 0; i < spawned_s; i++)
			nact_stop(sys, pl->aids[i]);
		for (size_t i = spawned_w; i < pl->nworkers; i++)
			free(wks[i]);
		for (size_t i = spawned_s; i < n; i++) {
			pl_ref(pl);
			stage_fini(sts[i]);
		}
		goto out_fail;
	}

	/* wire neighbours and workers (before any message reaches them) */
	for (size_t i = 0; i < n; i++) {
		sts[i]->up = i > 0 ? pl->aids[i - 1] : NACT_AID_NONE;
		sts[i]->down = i + 1 < n ? pl->aids[i + 1] : NACT_AID_NONE;
	}
	for (size_t k = 0; k < pl->nworkers; k++)
		wks[k]->stage = pl->aids[wks[k]->sidx];
	free(sts);
	free(wks);

	pl_ref(pl); /* for the on_cancel callback */
	if ((rv = nact_op_on_cancel(sys, pl->op, pl_on_cancel, pl)) != 0)
		pl_unref(pl);
	if (rv == 0)
		rv = nact_op_start(sys, pl->op);
	if (rv == 0)
		rv = send_ints(sys, pl->ctl, PL_T_INIT, NULL, 0);
	if (rv != 0) {
		/* every actor is up: cancel through the registry so the
		 * callback path frees what it holds; then drop our handle */
		nact_op_cancel(sys, pl->op, NACT_CANCEL_MANUAL, "pipeline start failed");
		for (size_t i = 0; i < nact; i++)
			nact_stop(sys, all[i]);
		nact_stop(sys, pl->ctl);
		pl_unref(pl);
		return rv;
	}
	*plp = pl;
	return 0;

out_fail:
	free(sts);
	free(wks);
	free(ctl);
	free(all);
	free(down);
	nact_op_cancel(sys, pl->op, NACT_CANCEL_MANUAL, "pipeline start failed");
	pl_unref(pl);
	return rv;
}

/* ---- feeding ---- */

static int push_send(nact_pipeline *pl, nact_msg *m)
{
	nact_msg_set_type(m, NACT_T_PL_ITEM);
	nact_msg_set_opid(m, pl->op.v);
	inflight_add(pl, 1);
	int rv = nact_send(pl->sys, pl->aids[0], m);
	if (rv != 0) {
		inflight_add(pl, -1);
		atomic_fetch_add(&pl->credits, 1);
	}
	return rv;
}

static int push_state(nact_pipeline *pl)
{
	if (atomic_load(&pl->finishing))
		return atomic_load(&pl->fin_code);
	if (atomic_load(&pl->ended))
		return NACT_ESTATE;
	return 0;
}

int nact_pipeline_push(nact_ctx *ctx, nact_pipeline *pl, nact_msg *m)
{
	int rv;
	if (ctx == NULL || pl == NULL || m == NULL || !pl->ext)
		return NACT_EINVAL;
	if ((rv = push_state(pl)) != 0)
		return rv;
	if (take_credit(pl))
		return push_send(pl, m);
	nact_aid self = nact_self(ctx);
	nng_mtx_lock(pl->mtx);
	atomic_fetch_add(&pl->nwait, 1); /* seq_cst: see DESIGN */
	if (take_credit(pl)) {
		atomic_fetch_sub(&pl->nwait, 1);
		nng_mtx_unlock(pl->mtx);
		return push_send(pl, m);
	}
	for (uint32_t i = 0; i < pl->nwaiters; i++)
		if (pl->waiters[i].v == self.v) {
			atomic_fetch_sub(&pl->nwait, 1); /* already listed */
			nng_mtx_unlock(pl->mtx);
			return NACT_EFULL;
		}
	if (pl->nwaiters == pl->capwaiters) {
		uint32_t nc = pl->capwaiters ? pl->capwaiters * 2 : 8;
		nact_aid *nw = realloc(pl->waiters, nc * sizeof(*nw));
		if (nw == NULL) {
			atomic_fetch_sub(&pl->nwait, 1);
			nng_mtx_unlock(pl->mtx);
			return NACT_ENOMEM;
		}
		pl->waiters = nw;
		pl->capwaiters = nc;
	}
	pl->waiters[pl->nwaiters++] = self;
	nng_mtx_unlock(pl->mtx);
	return NACT_EFULL;
}

int nact_pipeline_push_wait(nact_pipeline *pl, nact_msg *m, int timeout_ms)
{
	int rv;
	if (pl == NULL || m == NULL || !pl->ext || timeout_ms < 0)
		return NACT_EINVAL;
	if (nacti_cur != NULL)
		return NACT_EDEADLK;
	nng_time deadline = nng_clock() + (nng_time)timeout_ms;
	for (;;) {
		if ((rv = push_state(pl)) != 0)
			return rv;
		if (take_credit(pl))
			return push_send(pl, m);
		nng_mtx_lock(pl->mtx);
		atomic_fetch_add(&pl->nwait, 1); /* seq_cst: see DESIGN */
		rv = 0;
		if (atomic_load(&pl->credits) <= 0 && !atomic_load(&pl->finishing))
			rv = nng_cv_until(pl->cv, deadline);
		atomic_fetch_sub(&pl->nwait, 1);
		nng_mtx_unlock(pl->mtx);
		if (rv == NNG_ETIMEDOUT) {
			if (take_credit(pl))
				return push_send(pl, m);
			return NACT_ETIMEDOUT;
		}
	}
}

int nact_pipeline_end(nact_pipeline *pl)
{
	nact_msg *m;
	int rv;
	if (pl == NULL || !pl->ext)
		return NACT_EINVAL;
	int z = 0;
	if (!atomic_compare_exchange_strong(&pl->ended, &z, 1))
		return NACT_ESTATE;
	if ((rv = nact_msg_alloc(&m, pl->sys, PL_T_EOS)) != 0)
		return rv;
	nact_msg_set_opid(m, pl->op.v);
	if ((rv = nact_send(pl->sys, pl->aids[0], m)) != 0)
		nact_msg_free(m);
	return rv;
}

int nact_pipeline_cancel(nact_pipeline *pl)
{
	if (pl == NULL)
		return NACT_EINVAL;
	return nact_op_cancel(pl->sys, pl->op, NACT_CANCEL_MANUAL, "pipeline cancelled");
}

int nact_pipeline_wait(nact_pipeline *pl, int timeout_ms, nact_pl_result *r)
{
	int rv = 0;
	if (pl == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	if (nacti_cur != NULL)
		return NACT_EDEADLK;
	nng_time deadline = nng_clock() + (nng_time)timeout_ms;
	nng_mtx_lock(pl->mtx);
	while (!pl->done && rv == 0)
		rv = nng_cv_until(pl->cv, deadline);
	if (pl->done) {
		rv = 0;
		if (r != NULL)
			*r = pl->res;
	} else {
		rv = NACT_ETIMEDOUT;
	}
	nng_mtx_unlock(pl->mtx);
	return rv;
}

int nact_pipeline_done(nact_pipeline *pl)
{
	if (pl == NULL)
		return 0;
	nng_mtx_lock(pl->mtx);
	int d = pl->done;
	nng_mtx_unlock(pl->mtx);
	return d;
}

int nact_pipeline_stats(nact_pipeline *pl, size_t stage, nact_pl_stats *st)
{
	if (pl == NULL || st == NULL || stage >= pl->n)
		return NACT_EINVAL;
	struct pl_stat *s = &pl->stats[stage];
	st->in = atomic_load_explicit(&s->in, memory_order_relaxed);
	st->out = atomic_load_explicit(&s->out, memory_order_relaxed);
	st->skipped = atomic_load_explicit(&s->skipped, memory_order_relaxed);
	st->retries = atomic_load_explicit(&s->retries, memory_order_relaxed);
	st->bad = atomic_load_explicit(&s->bad, memory_order_relaxed);
	return 0;
}

void nact_pipeline_inflight(nact_pipeline *pl, int64_t *now, int64_t *peak)
{
	if (now != NULL)
		*now = pl ? atomic_load_explicit(&pl->inflight, memory_order_relaxed) : 0;
	if (peak != NULL)
		*peak = pl ? atomic_load_explicit(&pl->peak, memory_order_relaxed) : 0;
}

nact_aid nact_pipeline_stage_aid(nact_pipeline *pl, size_t stage)
{
	if (pl == NULL || stage >= pl->n)
		return NACT_AID_NONE;
	return pl->aids[stage];
}

nact_aid nact_pipeline_controller(nact_pipeline *pl)
{
	return pl ? pl->ctl : NACT_AID_NONE;
}

nact_opid nact_pipeline_opid(nact_pipeline *pl)
{
	return pl ? pl->op : NACT_OPID_NONE;
}

void nact_pipeline_free(nact_pipeline *pl)
{
	if (pl == NULL)
		return;
	if (!nact_pipeline_done(pl))
		nact_op_cancel(pl->sys, pl->op, NACT_CANCEL_MANUAL, "pipeline freed");
	pl_unref(pl);
}
