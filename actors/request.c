/*
 * actors/request.c — request/reply with timeouts.
 *
 * DESIGN
 * A request is an ordinary message with NACT_MF_REQUEST, a correlation id
 * and an absolute deadline in its header. From an actor (nact_request) the
 * pending entry lives in the requester's ext, and a timer armed in advance
 * puts NACT_T_REQ_TIMEOUT on the requester's control lane. Whichever of
 * reply and timeout reaches the requester first removes the pending entry
 * and calls the callback; the other finds no entry (a late reply becomes a
 * dead letter "late", a late timeout is ignored). So the callback runs
 * exactly once, always on the requester's own turn.
 *
 * The deadline travels with the request: if it passes before the callee
 * gets to it, the callee drops it unhandled ("expired"), so a caller that
 * gave up leaves no work running behind it.
 *
 * nact_call (outside actors) spawns a short-lived waiter actor as the
 * reply address and waits on a condition variable with a timeout. The
 * waiter's state is reference counted because the waiter can outlive the
 * call (a reply racing the timeout).
 */
#include <stdlib.h>

#include "actors/internal.h"

struct nacti_pending {
	struct nacti_pending *next;
	uint64_t corr;
	nact_reply_fn cb;
	void *arg;
	nact_timer timer;
};

static uint64_t corr_new(nact_system *sys)
{
	return atomic_fetch_add_explicit(&sys->corr_next, 1, memory_order_relaxed);
}

static struct nacti_pending *pending_take(struct nacti_actor_ext *x, uint64_t corr)
{
	for (struct nacti_pending **pp = &x->pending; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->corr == corr) {
			struct nacti_pending *p = *pp;
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

int nact_request(nact_ctx *ctx, nact_aid to, nact_msg *req, int timeout_ms, nact_reply_fn cb,
    void *arg)
{
	if (ctx == NULL || req == NULL || req->nm == NULL || cb == NULL || timeout_ms <= 0 ||
	    req == ctx->cur)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(ctx->sys); /* isolation hook */
	nact_system *sys = ctx->sys;
	struct nacti_actor_ext *x;
	int rv = nacti_ext_get(ctx->a, &x);
	if (rv != 0)
		return rv;
	struct nacti_pending *p = malloc(sizeof(*p));
	if (p == NULL)
		return NACT_ENOMEM;
	nact_msg *tm;
	rv = nact_msg_alloc(&tm, sys, NACT_T_REQ_TIMEOUT);
	if (rv != 0) {
		free(p);
		return rv;
	}
	uint64_t corr = corr_new(sys);
	uint64_t due = nact_now(sys) + (uint64_t)timeout_ms * 1000000u;
	nacti_put64(nacti_hdr(tm) + NACTI_OFF_CORR, corr);
	p->corr = corr;
	p->cb = cb;
	p->arg = arg;
	p->timer.v = 0;
	if ((rv = nacti_timer_add(sys, ctx->self, tm, 1, due, &p->timer)) != 0) {
		nact_msg_free(tm);
		free(p);
		return rv;
	}
	uint8_t *h = nacti_hdr(req);
	nacti_put16(h + NACTI_OFF_FLAGS, nacti_le16(h + NACTI_OFF_FLAGS) | NACT_MF_REQUEST);
	nacti_put64(h + NACTI_OFF_CORR, corr);
	nacti_put64(h + NACTI_OFF_DEADLINE, due);
	p->next = x->pending;
	x->pending = p;
	rv = nact_send(sys, to, req);
	if (rv != 0) {
		pending_take(x, corr);
		nact_timer_cancel(sys, p->timer);
		free(p);
	}
	return rv;
}

void nacti_request_reply(nact_ctx *ctx, nact_msg *m)
{
	struct nacti_actor_ext *x = nacti_actor_ext(ctx->a);
	uint64_t corr = nacti_le64(nacti_hdr(m) + NACTI_OFF_CORR);
	struct nacti_pending *p = x ? pending_take(x, corr) : NULL;
	if (p == NULL) {
		ctx->consumed = 1;
		nacti_deadletter(ctx->sys, m, NACT_DL_LATE);
		return;
	}
	nact_timer_cancel(ctx->sys, p->timer);
	p->cb(ctx, m, 0, p->arg);
	free(p);
}

void nacti_request_timeout(nact_ctx *ctx, uint64_t corr)
{
	struct nacti_actor_ext *x = nacti_actor_ext(ctx->a);
	struct nacti_pending *p = x ? pending_take(x, corr) : NULL;
	if (p == NULL)
		return;
	nact_msg *prev = ctx->cur;
	ctx->cur = NULL;
	p->cb(ctx, NULL, NACT_ETIMEDOUT, p->arg);
	ctx->cur = prev;
	free(p);
}

/* The actor ended: its callbacks are never called; timers cancelled. */
void nacti_requests_drop(nact_system *sys, struct nacti_actor_ext *x)
{
	while (x->pending != NULL) {
		struct nacti_pending *p = x->pending;
		x->pending = p->next;
		nact_timer_cancel(sys, p->timer);
		free(p);
	}
}

int nact_reply_to(nact_system *sys, nact_aid to, uint64_t corr, nact_msg *reply)
{
	if (sys == NULL || reply == NULL || reply->nm == NULL)
		return NACT_EINVAL;
	nact_ctx *ctx = nacti_cur;
	if (ctx != NULL && ctx->cur == reply)
		return NACT_EINVAL;
	uint8_t *h = nacti_hdr(reply);
	uint16_t f = nacti_le16(h + NACTI_OFF_FLAGS);
	nacti_put16(h + NACTI_OFF_FLAGS, (uint16_t)((f | NACT_MF_REPLY) & ~NACT_MF_REQUEST));
	nacti_put64(h + NACTI_OFF_CORR, corr);
	return nact_send(sys, to, reply);
}

int nact_reply(nact_system *sys, const nact_msg *req, nact_msg *reply)
{
	if (req == NULL || req->nm == NULL)
		return NACT_EINVAL;
	if (!(nact_msg_flags(req) & NACT_MF_REQUEST))
		return NACT_EINVAL;
	return nact_reply_to(sys, nact_msg_sender(req), nact_msg_corr(req), reply);
}

int nact_reply_error(nact_system *sys, const nact_msg *req, int code, const char *text)
{
	if (sys == NULL || req == NULL)
		return NACT_EINVAL;
	if (!(nact_msg_flags(req) & NACT_MF_REQUEST))
		return NACT_EINVAL;
	nact_msg *r;
	int rv = nact_msg_alloc(&r, sys, NACT_T_ERROR);
	if (rv != 0)
		return rv;
	nact_pack p;
	nact_pack_init(&p, r);
	nact_pack_array(&p, 2);
	nact_pack_int(&p, code);
	nact_pack_str(&p, text != NULL ? text : nact_strerror(code));
	if ((rv = nact_pack_error(&p)) != 0 ||
	    (rv = nact_reply_to(sys, nact_msg_sender(req), nact_msg_corr(req), r)) != 0)
		nact_msg_free(r);
	return rv;
}

int nact_error_read(const nact_msg *m, int *codep, char *text, size_t len)
{
	if (m == NULL || codep == NULL || (text == NULL && len > 0))
		return NACT_EINVAL;
	if (nact_msg_type(m) != NACT_T_ERROR)
		return NACT_ETYPE;
	nact_reader r;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv != 0)
		return rv;
	uint32_t n = 0;
	int64_t code = 0;
	size_t sl = 0;
	const char *s = NULL;
	if ((rv = nact_read_array(&r, &n)) == 0 && n != 2)
		rv = NACT_EMALFORMED;
	if (rv == 0)
		rv = nact_read_int(&r, &code);
	if (rv == 0 && (code < INT32_MIN || code > INT32_MAX))
		rv = NACT_ERANGE;
	if (rv == 0)
		rv = nact_read_str(&r, &s, &sl);
	if (rv == 0) {
		*codep = (int)code;
		if (len > 0) {
			size_t k = sl < len - 1 ? sl : len - 1;
			memcpy(text, s, k);
			text[k] = '\0';
		}
	}
	nact_reader_fini(&r);
	return rv;
}

/* ---- blocking call from outside actors ---- */

struct waiter {
	nng_mtx *mtx;
	nng_cv *cv;
	_Atomic int refs;
	uint64_t corr;
	nact_msg *reply; /* under mtx */
	int done;        /* under mtx: 1 replied, -1 abandoned */
};

static void waiter_unref(void *arg)
{
	struct waiter *w = arg;
	if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
		return;
	nng_cv_free(w->cv);
	nng_mtx_free(w->mtx);
	free(w);
}

static int waiter_fn(nact_ctx *ctx, nact_msg *m)
{
	struct waiter *w = nact_state(ctx);
	if (!(nact_msg_flags(m) & NACT_MF_REPLY) || nact_msg_corr(m) != w->corr)
		return 0; /* not ours: freed by the runtime */
	nng_mtx_lock(w->mtx);
	if (w->done == 0) {
		w->reply = m;
		w->done = 1;
		ctx->consumed = 1; /* handed to the caller */
		nng_cv_wake(w->cv);
	}
	nng_mtx_unlock(w->mtx);
	if (!ctx->consumed) {
		/* the caller gave up: a late reply */
		ctx->consumed = 1;
		nacti_deadletter(ctx->sys, m, NACT_DL_LATE);
	}
	nact_exit(ctx, NACT_EXIT_NORMAL);
	return 0;
}

/* The waiter sees replies through its behaviour, not the pending table. */
int nact_call(nact_system *sys, nact_aid to, nact_msg *req, int timeout_ms, nact_msg **replyp)
{
	if (sys == NULL || req == NULL || req->nm == NULL || replyp == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys); /* isolation hook */
	if (nacti_cur != NULL)
		return NACT_EDEADLK;
	if (NACTI_ID_NODE(to.v) == 0 && !nact_alive(sys, to)) /* remote: node hook */
		return NACT_ENOENT;
	struct waiter *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NACT_ENOMEM;
	if (nng_mtx_alloc(&w->mtx) != 0 || nng_cv_alloc(&w->cv, w->mtx) != 0) {
		if (w->mtx)
			nng_mtx_free(w->mtx);
		free(w);
		return NACT_ENOMEM;
	}
	atomic_store(&w->refs, 2);
	w->corr = corr_new(sys);
	nact_aid wid;
	int rv = nact_spawn(&wid, sys, waiter_fn, w, waiter_unref, NULL);
	if (rv != 0) {
		atomic_store(&w->refs, 1);
		waiter_unref(w);
		return rv;
	}
	/* Replies to the waiter go to its behaviour, not the pending table.
	 * Set before the request leaves, so before any reply can arrive. */
	nacti_actor_at(sys, NACTI_ID_IDX(wid.v))->flags |= NACTI_AF_WAITER;
	uint64_t due = nact_now(sys) + (uint64_t)timeout_ms * 1000000u;
	uint8_t *h = nacti_hdr(req);
	nacti_put16(h + NACTI_OFF_FLAGS, nacti_le16(h + NACTI_OFF_FLAGS) | NACT_MF_REQUEST);
	nacti_put64(h + NACTI_OFF_CORR, w->corr);
	nacti_put64(h + NACTI_OFF_DEADLINE, due);
	nacti_put64(h + NACTI_OFF_SENDER, wid.v);
	rv = nacti_deliver(sys, to, req, 0, 0);
	if (rv != 0) {
		nact_stop(sys, wid);
		waiter_unref(w);
		return rv;
	}
	nng_time until = nng_clock() + (nng_time)timeout_ms;
	nng_mtx_lock(w->mtx);
	while (w->done == 0) {
		if (nng_cv_until(w->cv, until) == NNG_ETIMEDOUT)
			break;
	}
	nact_msg *reply = w->reply;
	if (w->done == 0)
		w->done = -1;
	nng_mtx_unlock(w->mtx);
	if (reply == NULL)
		nact_stop(sys, wid);
	waiter_unref(w);
	if (reply == NULL)
		return NACT_ETIMEDOUT;
	*replyp = reply;
	return 0;
}
