/*
 * actors/actor.c — actor lifecycle, sending, and one actor turn.
 *
 * DESIGN
 * Actor structs are type-stable (slabs live until the system closes) and
 * are found from an id by indexing: id -> slab -> struct, then the struct's
 * current id is compared. A sender that loses a race with the actor's end
 * can therefore still push safely: its message carries the old target id,
 * and the consumer turns every message whose target is not the struct's
 * current id into a dead letter. Nothing is lost and nothing is delivered
 * to the wrong actor.
 *
 * Two lanes per actor: the main lane (lock-free MPSC, envelope.h) and the
 * control lane (a Treiber stack: push by CAS, the consumer takes all with
 * one exchange and reverses). The control lane is never bounded and is
 * processed first in every turn, so stop and request timeouts cannot be
 * delayed or eaten by an overflow policy.
 *
 * Bounded mailboxes count queued messages in ext->count (only counted
 * messages carry NACTI_MF_COUNTED, so a racing sender of an earlier
 * incarnation cannot skew the count). Drop-oldest lets a producer pop, so
 * for that policy producers and the consumer pop under ext->mtx.
 *
 * Lock order: amtx -> pool mutex; ext->mtx is never held while calling
 * other locks' owners except the pool.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/internal.h"

__thread nact_ctx *nacti_cur;         /* documented thread-local: running ctx */
__thread void (*nacti_run_end)(void); /* documented thread-local (internal.h) */

static inline void run_end(void)
{
	void (*f)(void) = nacti_run_end;
	if (f != NULL) {
		nacti_run_end = NULL;
		f();
	}
}

#define MQ(a) NACTI_MQ(&(a)->mq_head, &(a)->mq_tail)

_Static_assert(sizeof(struct nacti_actor) == 128, "actor struct: two cache lines");

struct nacti_actor *nacti_actor_at(nact_system *sys, uint32_t idx)
{
	uint32_t s = idx >> NACTI_ASLAB_SHIFT;
	if (s >= NACTI_ASLAB_MAX)
		return NULL;
	/* acquire: pairs with the release publishing a new slab. */
	struct nacti_actor *slab = atomic_load_explicit(&sys->aslabs[s], memory_order_acquire);
	/* A struct of a published slab that is not carved yet is all zero:
	 * its id (0) matches no sender, so it is never pushed to. */
	if (slab == NULL)
		return NULL;
	return &slab[idx & (NACTI_ASLAB_SIZE - 1)];
}

struct nacti_actor_ext *nacti_actor_ext(struct nacti_actor *a)
{
	return atomic_load_explicit(&a->cext, memory_order_acquire);
}

/* Take a free struct or carve one. Under amtx. */
static struct nacti_actor *actor_get(nact_system *sys)
{
	struct nacti_actor *a = sys->afree;
	if (a != NULL) {
		sys->afree = a->rq_next;
		a->rq_next = NULL;
		return a;
	}
	uint32_t idx = atomic_load_explicit(&sys->acarved, memory_order_relaxed);
	uint32_t s = idx >> NACTI_ASLAB_SHIFT;
	if (s >= NACTI_ASLAB_MAX)
		return NULL;
	struct nacti_actor *slab = atomic_load_explicit(&sys->aslabs[s], memory_order_relaxed);
	if (slab == NULL) {
		slab = aligned_alloc(64, NACTI_ASLAB_SIZE * sizeof(*slab));
		if (slab == NULL)
			return NULL;
		memset(slab, 0, NACTI_ASLAB_SIZE * sizeof(*slab));
		atomic_store_explicit(&sys->aslabs[s], slab, memory_order_release);
	}
	a = &slab[idx & (NACTI_ASLAB_SIZE - 1)];
	if (sys->cfg.metrics && a->met == NULL && nacti_metrics_carve(a) != 0)
		return NULL;
	nact_msg *stub = nacti_env_get(sys->pool);
	if (stub == NULL)
		return NULL;
	nacti_mq_init(MQ(a), stub);
	atomic_store_explicit(&a->ctl, NULL, memory_order_relaxed);
	atomic_store_explicit(&a->id, 0, memory_order_relaxed);
	a->gen = 1;
	a->idx = idx;
	/* release: nacti_actor_at readers see the initialised struct. */
	atomic_store_explicit(&sys->acarved, idx + 1, memory_order_release);
	return a;
}

int nacti_ext_get(struct nacti_actor *a, struct nacti_actor_ext **xp)
{
	/* acquire: a winner's initialisation is visible to us */
	struct nacti_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_acquire);
	if (x == NULL) {
		x = calloc(1, sizeof(*x));
		if (x == NULL)
			return NACT_ENOMEM;
		if (nng_mtx_alloc(&x->mtx) != 0) {
			free(x);
			return NACT_ENOMEM;
		}
		if (nng_cv_alloc(&x->cv, x->mtx) != 0) {
			nng_mtx_free(x->mtx);
			free(x);
			return NACT_ENOMEM;
		}
		/* Any thread may create it (monitors, links): the first CAS
		 * wins and the loser frees its copy. seq_cst: pairs with die()
		 * retiring the id, then reading ext. */
		struct nacti_actor_ext *none = NULL;
		if (!atomic_compare_exchange_strong_explicit(&a->ext, &none, x,
		        memory_order_seq_cst, memory_order_acquire)) {
			nng_cv_free(x->cv);
			nng_mtx_free(x->mtx);
			free(x);
			x = none;
		} else {
			atomic_store_explicit(&a->cext, x, memory_order_release);
		}
	}
	*xp = x;
	return 0;
}

int nacti_ext_shared(struct nacti_actor *a, struct nacti_actor_ext **xp)
{
	return nacti_ext_get(a, xp);
}

struct nacti_actor_ext *nacti_actor_ext_any(struct nacti_actor *a)
{
	return atomic_load_explicit(&a->ext, memory_order_acquire);
}

static int spawn_common(nact_aid *idp, nact_system *sys, nact_behaviour fn, void *state,
    nact_state_fini fini, const nact_spawn_opts *opts, uint64_t opid)
{
	if (idp == NULL || sys == NULL || fn == NULL)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys); /* isolation hook */
	if (opts != NULL) {
		if (opts->capacity > 0 &&
		    (opts->overflow < NACT_OVERFLOW_FAIL ||
		        opts->overflow > NACT_OVERFLOW_DROP_OLDEST))
			return NACT_EINVAL;
		if (opts->name != NULL &&
		    (opts->name[0] == '\0' || strlen(opts->name) > NACT_NAME_MAX))
			return NACT_EINVAL;
	}
	if (atomic_load_explicit(&sys->closing, memory_order_relaxed))
		return NACT_ECLOSED;

	nng_mtx_lock(sys->amtx);
	struct nacti_actor *a = actor_get(sys);
	nng_mtx_unlock(sys->amtx);
	if (a == NULL)
		return NACT_ENOMEM;

	struct nacti_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_relaxed);
	int want_ext = opid != 0 ||
	    (opts != NULL &&
	        (opts->capacity > 0 || opts->name != NULL || opts->handler_deadline_ms > 0));
	if (want_ext && nacti_ext_get(a, &x) != 0)
		goto out_free;
	if (x != NULL) {
		atomic_store_explicit(&x->cap, opts ? opts->capacity : 0, memory_order_relaxed);
		atomic_store_explicit(&x->overflow, opts ? opts->overflow : 0,
		    memory_order_relaxed);
		x->name = NULL;
		x->pending = x->ptail = NULL; /* the rest was reset by requests_drop */
		x->rcv_timeout_ms = 0;
		x->rcv_stamp = 0;
		x->rcv_timer.v = 0;
		nacti_links_reset(x);
		x->deadline_ms = opts ? opts->handler_deadline_ms : 0;
		atomic_store_explicit(&x->opid, opid, memory_order_relaxed);
	}
	a->fn = fn;
	a->state = state;
	a->fini = fini;
	a->flags = 0;
	nact_aid id = {NACTI_ID(a->gen, a->idx)};
	if (opts != NULL && opts->name != NULL) {
		x->name = strdup(opts->name);
		if (x->name == NULL)
			goto out_free;
		int rv = nacti_names_add(sys, x->name, id);
		if (rv != 0) {
			free(x->name);
			x->name = NULL;
			nng_mtx_lock(sys->amtx);
			a->rq_next = sys->afree;
			sys->afree = a;
			nng_mtx_unlock(sys->amtx);
			return rv;
		}
	}
	if (a->met != NULL)
		nacti_metrics_spawn(a, opts != NULL ? opts->name : NULL);
	atomic_fetch_add_explicit(&sys->spawned, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&sys->live, 1, memory_order_relaxed);
	/* release: publishes fn/state/ext settings to senders and consumers
	 * that acquire the id. */
	atomic_store_explicit(&a->cid, id.v, memory_order_release);
	atomic_store_explicit(&a->id, id.v, memory_order_release);
	NACTI_DEBUG(sys, "spawn %#llx", (unsigned long long)id.v);
	*idp = id;
	return 0;

out_free:
	nng_mtx_lock(sys->amtx);
	a->rq_next = sys->afree;
	sys->afree = a;
	nng_mtx_unlock(sys->amtx);
	return NACT_ENOMEM;
}

int nact_spawn(nact_aid *idp, nact_system *sys, nact_behaviour fn, void *state,
    nact_state_fini fini, const nact_spawn_opts *opts)
{
	return spawn_common(idp, sys, fn, state, fini, opts, 0);
}

int nact_spawn_op(nact_aid *idp, nact_opid *opp, nact_system *sys, nact_behaviour fn, void *state,
    nact_state_fini fini, const nact_spawn_opts *opts, const nact_op_opts *op)
{
	if (idp == NULL || sys == NULL || fn == NULL || op == NULL || op->timeout_ms < 0)
		return NACT_EINVAL;
	nact_opid id;
	int rv = nact_op_create(&id, sys, op->name, op->parent, op->tags);
	if (rv != 0)
		return rv;
	nact_op_start(sys, id);
	if ((rv = spawn_common(idp, sys, fn, state, fini, opts, id.v)) != 0) {
		nact_op_fail(sys, id, nact_strerror(rv));
		return rv;
	}
	nacti_ops_attach(sys, id, *idp, op->grace_ms ? op->grace_ms : 1000);
	if (op->timeout_ms > 0)
		nact_op_cancel_after(sys, id, op->timeout_ms); /* fails only if it ended */
	if (opp != NULL)
		*opp = id;
	return 0;
}

nact_opid nact_self_op(nact_ctx *ctx)
{
	struct nacti_actor_ext *x = ctx != NULL ? nacti_actor_ext(ctx->a) : NULL;
	return (nact_opid){x != NULL ? atomic_load_explicit(&x->opid, memory_order_relaxed) : 0};
}

uint64_t nacti_actor_opid(nact_system *sys, nact_aid id)
{
	if (id.v == 0 || NACTI_ID_NODE(id.v) != 0)
		return 0;
	struct nacti_actor *a = nacti_actor_at(sys, NACTI_ID_IDX(id.v));
	if (a == NULL || atomic_load_explicit(&a->id, memory_order_acquire) != id.v)
		return 0;
	struct nacti_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_acquire);
	uint64_t op = x != NULL ? atomic_load_explicit(&x->opid, memory_order_relaxed) : 0;
	/* still the same incarnation? (else op may be the next one's) */
	if (atomic_load_explicit(&a->id, memory_order_acquire) != id.v)
		return 0;
	return op;
}

int nact_alive(nact_system *sys, nact_aid id)
{
	if (sys == NULL || id.v == 0 || NACTI_ID_NODE(id.v) != 0)
		return 0;
	struct nacti_actor *a = nacti_actor_at(sys, NACTI_ID_IDX(id.v));
	return a != NULL && atomic_load_explicit(&a->id, memory_order_acquire) == id.v;
}

/* ---- producer side ---- */

static void ctl_push(struct nacti_actor *a, nact_msg *m)
{
	nact_msg *old = atomic_load_explicit(&a->ctl, memory_order_relaxed);
	do {
		atomic_store_explicit(&m->next, old, memory_order_relaxed);
		/* seq_cst: pairs with the consumer's mark-empty then check. */
	} while (!atomic_compare_exchange_weak_explicit(&a->ctl, &old, m, memory_order_seq_cst,
	    memory_order_relaxed));
}

static int in_actor(void)
{
	return nacti_cur != NULL;
}

/* Reserve a slot in a fail/block bounded mailbox. */
static int reserve(struct nacti_actor_ext *x, uint32_t cap)
{
	uint32_t c = atomic_load_explicit(&x->count, memory_order_relaxed);
	do {
		if (c >= cap)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(&x->count, &c, c + 1, memory_order_seq_cst,
	    memory_order_relaxed));
	return 1;
}

/* Push into a bounded mailbox per its policy. 0, NACT_EFULL, NACT_ETIMEDOUT. */
static int push_bounded(nact_system *sys, struct nacti_actor *a, struct nacti_actor_ext *x,
    uint32_t cap, nact_msg *m, int timeout_ms, int *sched)
{
	int pol = atomic_load_explicit(&x->overflow, memory_order_relaxed);
	uint8_t *h = nacti_hdr(m);
	nacti_put16(h + NACTI_OFF_FLAGS, nacti_le16(h + NACTI_OFF_FLAGS) | NACTI_MF_COUNTED);
	if (pol == NACT_OVERFLOW_DROP_OLDEST) {
		nact_msg *dropped = NULL;
		nng_mtx_lock(x->mtx);
		while (atomic_load_explicit(&x->count, memory_order_relaxed) >= cap) {
			nact_msg *old = nacti_mq_pop(MQ(a));
			if (old == NULL)
				break; /* a producer mid-push: tolerate one extra */
			if (nacti_le16(nacti_hdr(old) + NACTI_OFF_FLAGS) & NACTI_MF_COUNTED)
				atomic_fetch_sub_explicit(&x->count, 1, memory_order_relaxed);
			if (a->met != NULL)
				atomic_fetch_add_explicit(&a->met->dropped, 1,
				    memory_order_relaxed);
			atomic_store_explicit(&old->next, dropped, memory_order_relaxed);
			dropped = old;
		}
		atomic_fetch_add_explicit(&x->count, 1, memory_order_relaxed);
		*sched = nacti_mq_push(MQ(a), m);
		nng_mtx_unlock(x->mtx);
		while (dropped != NULL) {
			nact_msg *n = atomic_load_explicit(&dropped->next, memory_order_relaxed);
			nacti_deadletter(sys, dropped, NACT_DL_DROPPED);
			dropped = n;
		}
		return 0;
	}
	if (!reserve(x, cap)) {
		if (pol != NACT_OVERFLOW_BLOCK || in_actor() || timeout_ms == 0)
			goto full;
		nng_time until = nng_clock() + (nng_time)(timeout_ms < 0 ? 0 : timeout_ms);
		int ok = 0;
		nng_mtx_lock(x->mtx);
		atomic_fetch_add_explicit(&x->waiters, 1, memory_order_seq_cst);
		for (;;) {
			if (reserve(x, cap)) {
				ok = 1;
				break;
			}
			if (atomic_load_explicit(&sys->closing, memory_order_relaxed))
				break;
			if (nng_cv_until(x->cv, until) == NNG_ETIMEDOUT) {
				ok = reserve(x, cap);
				break;
			}
		}
		atomic_fetch_sub_explicit(&x->waiters, 1, memory_order_relaxed);
		nng_mtx_unlock(x->mtx);
		if (!ok) {
			nacti_put16(h + NACTI_OFF_FLAGS,
			    nacti_le16(h + NACTI_OFF_FLAGS) & ~NACTI_MF_COUNTED);
			return NACT_ETIMEDOUT;
		}
	}
	*sched = nacti_mq_push(MQ(a), m);
	return 0;
full:
	nacti_put16(h + NACTI_OFF_FLAGS, nacti_le16(h + NACTI_OFF_FLAGS) & ~NACTI_MF_COUNTED);
	return NACT_EFULL;
}

/* cfg.metrics: count a delivered message (a's main-lane pushes, and the
 * sending actor's messages out). */
static inline void metrics_sent(nact_system *sys, struct nacti_actor *a, int ctl)
{
	nact_ctx *c = nacti_cur;
	int mine = c != NULL && c->sys == sys;
	if (!ctl) {
		struct nacti_metrics *tm = a->pmet;
		uint32_t wi = mine && c->w != NULL ? c->w->idx : NACTI_ENQ_SLOTS;
		if (wi < NACTI_ENQ_SLOTS) /* single writer: this worker */
			atomic_store_explicit(&tm->enq_w[wi],
			    atomic_load_explicit(&tm->enq_w[wi], memory_order_relaxed) + 1,
			    memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&tm->enq_x, 1, memory_order_relaxed);
	}
	if (mine && c->self.v != 0 && c->a != NULL && c->a->met != NULL) {
		/* single writer: the worker running the sender */
		_Atomic uint64_t *o = &c->a->met->out;
		atomic_store_explicit(o, atomic_load_explicit(o, memory_order_relaxed) + 1,
		    memory_order_relaxed);
	}
}

int nacti_deliver(nact_system *sys, nact_aid to, nact_msg *m, int ctl, int timeout_ms)
{
	uint8_t *h = nacti_hdr(m);
	nacti_put64(h + NACTI_OFF_TARGET, to.v);
	if (NACTI_ID_NODE(to.v) != 0 || to.v == 0) {
		/* node hook: a remote id goes to the transport */
		int (*ns)(nact_system *, nact_aid, nact_msg *, int, int) =
		    atomic_load_explicit(&sys->node_send, memory_order_acquire);
		if (ns != NULL && to.v != 0)
			return ns(sys, to, m, ctl, timeout_ms);
		nacti_deadletter(sys, m, NACT_DL_UNKNOWN);
		return 0;
	}
	struct nacti_actor *a = nacti_actor_at(sys, NACTI_ID_IDX(to.v));
	if (a == NULL) {
		nacti_deadletter(sys, m, NACT_DL_UNKNOWN);
		return 0;
	}
	/* acquire: pairs with spawn's release of the id (fn, ext settings). */
	if (atomic_load_explicit(&a->id, memory_order_acquire) != to.v) {
		/* slow path: tell an id that never existed from an ended one */
		uint32_t gen = (uint32_t)((to.v >> NACTI_IDX_BITS) & NACTI_GEN_MASK);
		int never =
		    NACTI_ID_IDX(to.v) >= atomic_load_explicit(&sys->acarved, memory_order_relaxed);
		nng_mtx_lock(sys->amtx);
		never =
		    never || gen >= a->gen + 1; /* gen not yet issued (a->gen is current/next) */
		nng_mtx_unlock(sys->amtx);
		/* a reply whose requester is gone (a timed-out nact_call's
		 * waiter, or an ended actor) arrived late */
		int late = !never && (nacti_le16(h + NACTI_OFF_FLAGS) & NACT_MF_REPLY);
		nacti_deadletter(sys, m,
		    never    ? NACT_DL_UNKNOWN :
		        late ? NACT_DL_LATE :
		               NACT_DL_DEAD);
		return 0;
	}
	int sched;
	if (ctl) {
		uint16_t f = nacti_le16(h + NACTI_OFF_FLAGS);
		nacti_put16(h + NACTI_OFF_FLAGS,
		    (uint16_t)((f | NACT_MF_CONTROL) & ~NACTI_MF_COUNTED));
		ctl_push(a, m);
		sched = nacti_mq_claim(MQ(a));
	} else {
		struct nacti_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_acquire);
		uint32_t cap = x ? atomic_load_explicit(&x->cap, memory_order_relaxed) : 0;
		if (cap > 0) {
			int rv = push_bounded(sys, a, x, cap, m, timeout_ms, &sched);
			if (rv != 0)
				return rv;
		} else {
			sched = nacti_mq_push(MQ(a), m);
		}
	}
	if (sys->cfg.metrics)
		metrics_sent(sys, a, ctl);
	if (sched)
		nacti_schedule(sys, a);
	return 0;
}

static int send_common(nact_system *sys, nact_aid to, nact_msg *m, int timeout_ms)
{
	if (sys == NULL || m == NULL || m->nm == NULL)
		return NACT_EINVAL;
	if (atomic_load_explicit(&sys->closing, memory_order_relaxed)) {
		/* isolation hook: an isolated actor's stub system is closing */
		if (sys->child != NULL)
			return nacti_child_send(sys, to, m);
		return NACT_ECLOSED;
	}
	nact_ctx *ctx = nacti_cur;
	if (ctx != NULL && m == ctx->cur)
		return nact_forward(ctx, to, m);
	uint8_t *h = nacti_hdr(m);
	nacti_put64(h + NACTI_OFF_SENDER, ctx != NULL && ctx->sys == sys ? ctx->self.v : 0);
	NACTI_DEBUG(sys, "send %#llx -> %#llx type %#x",
	    (unsigned long long)nacti_le64(h + NACTI_OFF_SENDER), (unsigned long long)to.v,
	    nacti_le32(h + NACTI_OFF_TYPE));
	return nacti_deliver(sys, to, m, 0, timeout_ms);
}

int nact_send(nact_system *sys, nact_aid to, nact_msg *m)
{
	return send_common(sys, to, m, 0);
}

int nact_send_wait(nact_system *sys, nact_aid to, nact_msg *m, int timeout_ms)
{
	return send_common(sys, to, m, timeout_ms);
}

int nact_stop(nact_system *sys, nact_aid id)
{
	if (sys == NULL)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys); /* isolation hook */
	if (!nact_alive(sys, id))
		return NACT_ENOENT;
	nact_msg *m;
	int rv = nact_msg_alloc(&m, sys, NACT_T_STOP);
	if (rv != 0)
		return rv;
	nact_ctx *ctx = nacti_cur;
	nacti_put64(nacti_hdr(m) + NACTI_OFF_SENDER,
	    ctx != NULL && ctx->sys == sys ? ctx->self.v : 0);
	NACTI_DEBUG(sys, "stop %#llx", (unsigned long long)id.v);
	return nacti_deliver(sys, id, m, 1, 0);
}

/* ---- handler API ---- */

nact_aid nact_self(nact_ctx *ctx)
{
	return ctx->self;
}
nact_system *nact_sys(nact_ctx *ctx)
{
	return ctx->sys;
}
void *nact_state(nact_ctx *ctx)
{
	return ctx->a->state;
}
void nact_become(nact_ctx *ctx, nact_behaviour fn)
{
	if (fn != NULL)
		ctx->a->fn = fn;
}
void nact_exit(nact_ctx *ctx, int reason)
{
	ctx->exiting = 1;
	ctx->reason = reason;
}

int nact_forward(nact_ctx *ctx, nact_aid to, nact_msg *msg)
{
	if (ctx == NULL || msg == NULL || msg != ctx->cur || ctx->consumed)
		return NACT_EINVAL;
	if (ctx->sys->child != NULL) /* isolation hook: to the parent */
		return nacti_child_forward(ctx, to, msg);
	ctx->consumed = 1;
	int rv = nacti_deliver(ctx->sys, to, msg, 0, 0);
	if (rv != 0)
		ctx->consumed = 0;
	return rv;
}

static void rcv_arm(nact_ctx *ctx, struct nacti_actor_ext *x)
{
	if (x->rcv_timer.v != 0) {
		nact_timer_cancel(ctx->sys, x->rcv_timer);
		x->rcv_timer.v = 0;
	}
	if (x->rcv_timeout_ms <= 0)
		return;
	nact_msg *m;
	if (nact_msg_alloc(&m, ctx->sys, NACT_T_TIMEOUT) != 0)
		return;
	nacti_put64(nacti_hdr(m) + NACTI_OFF_CORR, x->rcv_stamp);
	nacti_put64(nacti_hdr(m) + NACTI_OFF_SENDER, ctx->self.v);
	uint64_t due = nact_now(ctx->sys) + (uint64_t)x->rcv_timeout_ms * 1000000u;
	if (nacti_timer_add(ctx->sys, ctx->self, m, 0, due, &x->rcv_timer) != 0)
		nact_msg_free(m);
}

int nact_receive_timeout(nact_ctx *ctx, int timeout_ms)
{
	struct nacti_actor_ext *x;
	if (ctx == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(ctx->sys); /* isolation hook */
	int rv = nacti_ext_get(ctx->a, &x);
	if (rv != 0)
		return rv;
	x->rcv_timeout_ms = timeout_ms;
	rcv_arm(ctx, x);
	return 0;
}

/* ---- consumer side ---- */

/* Producers of a drop-oldest mailbox pop too (under x->mtx), so its
 * consumer side may only be touched under that lock. */
static int drop_oldest(struct nacti_actor_ext *x)
{
	return x != NULL && atomic_load_explicit(&x->cap, memory_order_relaxed) != 0 &&
	    atomic_load_explicit(&x->overflow, memory_order_relaxed) == NACT_OVERFLOW_DROP_OLDEST;
}

/* cfg.metrics: the consumer popped one main-lane message (single writer). */
static inline void metrics_popped(struct nacti_metrics *met)
{
	atomic_store_explicit(&met->deq, atomic_load_explicit(&met->deq, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

static nact_msg *cons_pop(struct nacti_actor *a, struct nacti_actor_ext *x)
{
	nact_msg *m;
	if (x == NULL || atomic_load_explicit(&x->cap, memory_order_relaxed) == 0) {
		m = nacti_mq_pop(MQ(a));
		if (a->met != NULL && m != NULL)
			metrics_popped(a->met);
		return m;
	}
	int drop =
	    atomic_load_explicit(&x->overflow, memory_order_relaxed) == NACT_OVERFLOW_DROP_OLDEST;
	if (drop)
		nng_mtx_lock(x->mtx);
	m = nacti_mq_pop(MQ(a));
	if (m != NULL && (nacti_le16(nacti_hdr(m) + NACTI_OFF_FLAGS) & NACTI_MF_COUNTED)) {
		atomic_fetch_sub_explicit(&x->count, 1, memory_order_seq_cst);
		if (!drop && atomic_load_explicit(&x->waiters, memory_order_seq_cst) > 0) {
			nng_mtx_lock(x->mtx);
			nng_cv_wake(x->cv);
			nng_mtx_unlock(x->mtx);
		}
	}
	if (drop)
		nng_mtx_unlock(x->mtx);
	if (a->met != NULL && m != NULL)
		metrics_popped(a->met);
	return m;
}

static int cons_markempty(struct nacti_actor *a, struct nacti_actor_ext *x)
{
	if (x == NULL ||
	    atomic_load_explicit(&x->overflow, memory_order_relaxed) != NACT_OVERFLOW_DROP_OLDEST ||
	    atomic_load_explicit(&x->cap, memory_order_relaxed) == 0)
		return nacti_mq_markempty(MQ(a));
	nng_mtx_lock(x->mtx);
	int ok = nacti_mq_markempty(MQ(a));
	nng_mtx_unlock(x->mtx);
	return ok;
}

/* Take the whole control lane, oldest first. */
static nact_msg *ctl_take(struct nacti_actor *a)
{
	/* acquire: pairs with the pushers' CAS so message bytes are visible. */
	nact_msg *l = atomic_exchange_explicit(&a->ctl, NULL, memory_order_acquire);
	nact_msg *r = NULL;
	while (l != NULL) {
		nact_msg *n = atomic_load_explicit(&l->next, memory_order_relaxed);
		atomic_store_explicit(&l->next, r, memory_order_relaxed);
		r = l;
		l = n;
	}
	return r;
}

/* The actor in ctx ends now: id retired, name and requests dropped, state
 * destructor run, everything queued turned into dead letters, struct freed
 * for reuse. */
static void die(nact_ctx *ctx)
{
	nact_system *sys = ctx->sys;
	struct nacti_actor *a = ctx->a;
	uint64_t id = ctx->self.v;

	/* seq_cst, then read ext: whoever adds a monitor or link either saw
	 * the id retired or created ext before this load (nacti_ext_get). */
	atomic_store_explicit(&a->id, 0, memory_order_seq_cst);
	atomic_store_explicit(&a->cid, 0, memory_order_release);
	struct nacti_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_seq_cst);
	NACTI_DEBUG(sys, "exit %#llx reason %s", (unsigned long long)id,
	    nact_exit_str(ctx->reason));
	if (x != NULL) {
		if (x->name != NULL) {
			nacti_names_drop(sys, x->name, ctx->self);
			free(x->name);
			x->name = NULL;
		}
		nacti_requests_drop(sys, x);
		if (x->rcv_timer.v != 0)
			nact_timer_cancel(sys, x->rcv_timer);
		x->rcv_timer.v = 0;
		x->rcv_timeout_ms = 0;
		uint64_t op = atomic_exchange_explicit(&x->opid, 0, memory_order_relaxed);
		if (op != 0)
			nacti_ops_actor_ended(sys, op, ctx->reason, ctx->text);
	}
	if (a->fini != NULL)
		a->fini(a->state);
	a->state = NULL;
	a->fini = NULL;
	nact_msg *m;
	for (m = ctl_take(a); m != NULL;) {
		nact_msg *n = atomic_load_explicit(&m->next, memory_order_relaxed);
		nacti_env_put(m); /* control messages to an ended actor are moot */
		m = n;
	}
	while ((m = cons_pop(a, x)) != NULL)
		nacti_deadletter(sys, m,
		    nacti_le64(nacti_hdr(m) + NACTI_OFF_TARGET) == id ? NACT_DL_STOPPED :
		                                                        NACT_DL_DEAD);
	if (x != NULL)
		nacti_links_exit(ctx, x, id);
	ctx->exiting = 0;
	ctx->text[0] = '\0';
	ctx->self.v = 0;
	nng_mtx_lock(sys->amtx);
	a->gen = (a->gen + 1) & (uint32_t)NACTI_GEN_MASK;
	if (a->gen == 0)
		a->gen = 1;
	a->rq_next = sys->afree;
	sys->afree = a;
	if (atomic_fetch_sub_explicit(&sys->live, 1, memory_order_relaxed) == 1 &&
	    atomic_load_explicit(&sys->closing, memory_order_relaxed))
		nng_cv_wake(sys->livecv);
	nng_mtx_unlock(sys->amtx);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* cfg.metrics: run the behaviour on m, counted, published in the worker's
 * watchdog slot (actors/internal.h), timed one call in NACTI_TIME_EVERY. */
static inline __attribute__((always_inline)) int metrics_call(nact_ctx *ctx,
    struct nacti_metrics *met, nact_msg *m, const uint8_t *h)
{
	struct nacti_worker *w = ctx->w;
	nact_behaviour fn = ctx->a->fn;
	uint32_t type = nacti_le32(h + NACTI_OFF_TYPE);
	uint64_t calls = atomic_load_explicit(&met->handled, memory_order_relaxed);
	atomic_store_explicit(&met->handled, calls + 1, memory_order_relaxed);
	uint64_t seq = 0;
	int prof = 0;
	if (w != NULL) {
		seq = atomic_load_explicit(&w->wd_seq, memory_order_relaxed);
		atomic_store_explicit(&w->wd_aid, ctx->self.v, memory_order_relaxed);
		atomic_store_explicit(&w->wd_fn, (uintptr_t)fn, memory_order_relaxed);
		atomic_store_explicit(&w->wd_type, type, memory_order_relaxed);
		/* release: a reader that sees the odd seq sees the fields */
		atomic_store_explicit(&w->wd_seq, seq + 1, memory_order_release);
		prof = atomic_load_explicit(&ctx->sys->profiling, memory_order_relaxed);
	}
	int sample = calls % NACTI_TIME_EVERY == 0;
	int rv =
	    sample || prof ? nacti_metrics_timed(ctx, met, fn, m, type, sample, prof) : fn(ctx, m);
	if (w != NULL)
		atomic_store_explicit(&w->wd_seq, seq + 2, memory_order_release);
	return rv;
}

/* Run the behaviour on m. A nonzero return ends the actor with that reason;
 * a handler that ran past the actor's deadline ends it with
 * NACT_EXIT_DEADLINE (it cannot be interrupted in-process, so this is
 * reported when it returns). */
static inline __attribute__((always_inline)) void call_fn(nact_ctx *ctx, nact_msg *m,
    const uint8_t *h, struct nacti_actor_ext *x)
{
	struct nacti_actor *a = ctx->a;
	uint32_t dl = x != NULL ? x->deadline_ms : 0;
	uint64_t t0 = dl ? mono_ms() : 0;
	ctx->cur = m;
	ctx->consumed = 0;
	struct nacti_metrics *met = a->met;
	int rv = met == NULL ? a->fn(ctx, m) : metrics_call(ctx, met, m, h);
	if (rv != 0 && !ctx->exiting) {
		ctx->exiting = 1;
		ctx->reason = rv;
	}
	if (dl && !ctx->exiting && mono_ms() - t0 > dl) {
		uint64_t took = mono_ms() - t0;
		nact_log(ctx->sys, NACT_LOG_WARN,
		    "actor %#llx: handler for type %#x ran %llu ms, deadline %u ms",
		    (unsigned long long)ctx->self.v, nact_msg_type(m), (unsigned long long)took,
		    dl);
		nact_exit_msg(ctx, NACT_EXIT_DEADLINE, "handler deadline exceeded");
	}
	ctx->cur = NULL;
}

/* Control lane: stop, kill, exit signals, monitors' DOWN, request timeouts. */
static void run_ctl(nact_ctx *ctx)
{
	nact_msg *m = ctl_take(ctx->a);
	while (m != NULL) {
		nact_msg *n = atomic_load_explicit(&m->next, memory_order_relaxed);
		uint8_t *h = nacti_hdr(m);
		uint64_t aid = atomic_load_explicit(&ctx->a->cid, memory_order_acquire);
		int keep = 0;
		if (aid != 0 && nacti_le64(h + NACTI_OFF_TARGET) == aid) {
			struct nacti_actor_ext *x = nacti_actor_ext(ctx->a);
			int trap = x != NULL && x->trap;
			nact_exit_info ei;
			ctx->self.v = aid;
			switch (nacti_le32(h + NACTI_OFF_TYPE)) {
			case NACT_T_STOP:
				if (!trap) {
					nact_exit(ctx, NACT_EXIT_SHUTDOWN);
					break;
				}
				/* trapped: the behaviour gets an EXIT with reason
				 * shutdown from whoever stopped it, here, in the
				 * stop's place among the control messages */
				{
					nact_aid by = {nacti_le64(h + NACTI_OFF_SENDER)};
					nact_msg *e;
					nacti_env_put(m);
					m = NULL;
					if (nacti_exitinfo_msg(&e, ctx->sys, NACT_T_EXIT, 0, by, by,
					        NACT_EXIT_SHUTDOWN, NULL) != 0) {
						nact_exit(ctx, NACT_EXIT_SHUTDOWN); /* no memory */
						break;
					}
					nacti_put64(nacti_hdr(e) + NACTI_OFF_TARGET, aid);
					call_fn(ctx, e, nacti_hdr(e), x);
					if (!ctx->consumed)
						nacti_env_put(e);
				}
				break;
			case NACTI_T_KILL:
				nact_exit(ctx, NACT_EXIT_KILLED);
				break;
			case NACTI_T_EXITSIG:
				nact_msg_set_type(m, NACT_T_EXIT);
				if (trap) {
					call_fn(ctx, m, h, x);
					keep = ctx->consumed;
				} else if (nact_exit_info_read(m, &ei) == 0 &&
				    ei.reason != NACT_EXIT_NORMAL) {
					nact_exit_msg(ctx, ei.reason, ei.text);
				}
				break;
			case NACT_T_DOWN:
			case NACT_T_CANCEL:
			case NACT_T_EXIT: /* a trapped stop, re-queued above */
				call_fn(ctx, m, h, x);
				keep = ctx->consumed;
				break;
			case NACT_T_REQ_TIMEOUT:
				nacti_request_timeout(ctx, nacti_le64(h + NACTI_OFF_CORR));
				break;
			default:
				break;
			}
		}
		if (m != NULL && !keep)
			nacti_env_put(m);
		if (ctx->exiting)
			die(ctx);
		m = n;
	}
}

/* Handle one main-lane message. */
static void handle(nact_ctx *ctx, nact_msg *m, struct nacti_actor_ext *x)
{
	struct nacti_actor *a = ctx->a;
	const uint8_t *h = nacti_hdr(m);
	/* acquire: see fn/state of the incarnation the id names. */
	uint64_t aid = atomic_load_explicit(&a->cid, memory_order_acquire);
	if (aid == 0 || nacti_le64(h + NACTI_OFF_TARGET) != aid) {
		nacti_deadletter(ctx->sys, m,
		    (nacti_le16(h + NACTI_OFF_FLAGS) & NACT_MF_REPLY) ? NACT_DL_LATE :
		                                                        NACT_DL_DEAD);
		return;
	}
	ctx->self.v = aid;
	uint64_t dl = nacti_le64(h + NACTI_OFF_DEADLINE);
	if (dl != 0 && nact_now(ctx->sys) > dl) {
		nacti_deadletter(ctx->sys, m, NACT_DL_EXPIRED);
		return;
	}
	uint16_t f = nacti_le16(h + NACTI_OFF_FLAGS);
	ctx->consumed = 0;
	if ((f & NACT_MF_REPLY) && !(a->flags & NACTI_AF_WAITER)) {
		ctx->cur = m;
		nacti_request_reply(ctx, m);
		ctx->cur = NULL;
	} else if (x != NULL && nacti_le32(h + NACTI_OFF_TYPE) == NACT_T_TIMEOUT &&
	    nacti_le64(h + NACTI_OFF_CORR) != x->rcv_stamp) {
		/* a receive timeout overtaken by a message: stale */
	} else {
		call_fn(ctx, m, h, x);
	}
	if (!ctx->consumed)
		nacti_env_put(m);
	if (x != NULL && x->rcv_timeout_ms > 0 && !ctx->exiting) {
		x->rcv_stamp++;
		rcv_arm(ctx, x);
	}
	if (ctx->exiting)
		die(ctx);
}

void nacti_actor_run(struct nacti_worker *w, struct nacti_actor *a)
{
	nact_ctx ctx = {.sys = w->sys, .w = w, .a = a};
	nact_ctx *prev = nacti_cur;
	uint32_t batch = w->sys->cfg.batch;
	uint32_t n = 0;
	nacti_cur = &ctx;
	for (;;) {
		if (atomic_load_explicit(&a->ctl, memory_order_relaxed) != NULL)
			run_ctl(&ctx);
		struct nacti_actor_ext *x = atomic_load_explicit(&a->cext, memory_order_acquire);
		nact_msg *m = NULL;
		while (n < batch && (m = cons_pop(a, x)) != NULL) {
			n++;
			handle(&ctx, m, x);
			/* a stop (or request timeout) takes effect right after
			 * the handler that was running when it arrived */
			if (atomic_load_explicit(&a->ctl, memory_order_relaxed) != NULL)
				run_ctl(&ctx);
			x = atomic_load_explicit(&a->cext, memory_order_acquire);
		}
		run_end(); /* the replies may be what brings the next message */
		if (n >= batch) {
			nacti_reschedule(w, a);
			break;
		}
		/* Nothing else for this worker to do: wait a moment for the
		 * next message before giving the actor up. A producer that
		 * keeps this actor busy then never pays for scheduling it
		 * (global queue and a wake-up) after each short lull. */
		if (n > 0 && !drop_oldest(x) && nacti_linger(w, MQ(a)))
			continue;
		if (!cons_markempty(a, x)) {
			/* a producer is between its exchange and its link:
			 * yield rather than spin on it. */
			nacti_reschedule(w, a);
			break;
		}
		/* seq_cst load: pairs with ctl_push's CAS then claim. */
		if (atomic_load_explicit(&a->ctl, memory_order_seq_cst) != NULL &&
		    nacti_mq_claim(MQ(a)))
			continue;
		break;
	}
	nacti_cur = prev;
}

/* Single-threaded, at close: end every actor still alive, free exts and
 * slabs. Messages are freed with the envelope pool afterwards. */
void nacti_actors_fini(nact_system *sys)
{
	uint32_t n = atomic_load_explicit(&sys->acarved, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		struct nacti_actor *a = nacti_actor_at(sys, i);
		struct nacti_actor_ext *x = atomic_load_explicit(&a->ext, memory_order_relaxed);
		uint64_t id = atomic_load_explicit(&a->id, memory_order_relaxed);
		if (id != 0) {
			nact_ctx ctx = {.sys = sys, .a = a, .self = {id}};
			nact_ctx *prev = nacti_cur;
			nacti_cur = &ctx;
			if (x != NULL) {
				if (x->name != NULL) {
					nacti_names_drop(sys, x->name, ctx.self);
					free(x->name);
					x->name = NULL;
				}
				nacti_requests_drop(sys, x);
			}
			if (a->fini != NULL)
				a->fini(a->state);
			nacti_cur = prev;
			atomic_store_explicit(&a->id, 0, memory_order_relaxed);
			atomic_fetch_sub_explicit(&sys->live, 1, memory_order_relaxed);
		}
		if (x != NULL) {
			nacti_links_free(x);
			nng_cv_free(x->cv);
			nng_mtx_free(x->mtx);
			free(x);
		}
	}
	/* metrics blocks last: a monitor's threads (watchdog, Prometheus)
	 * read every actor's until its destructor above stopped them */
	for (uint32_t i = 0; i < n; i++)
		nacti_metrics_free(nacti_actor_at(sys, i));
	for (uint32_t s = 0; s < NACTI_ASLAB_MAX; s++) {
		struct nacti_actor *slab =
		    atomic_load_explicit(&sys->aslabs[s], memory_order_relaxed);
		if (slab == NULL)
			break;
		free(slab);
	}
}
