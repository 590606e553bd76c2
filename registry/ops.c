/*
 * registry/ops.c — the operation registry: operations, their tree, cancel
 * tokens and callbacks, and the bounded history of finished ones.
 *
 * DESIGN
 * One mutex (t->mtx) guards everything here. Registering is a lock, a
 * struct from a small free cache, a hash insert and two list links: well
 * under a microsecond, and nothing contends with the actors' hot paths.
 *
 * - Live operations (pending, running) are `struct op`s in a chained hash
 *   table keyed by id. Ids come from a counter starting at 1 and are never
 *   reused, so `id & mask` spreads them evenly; an id below t->next that is
 *   not live has finished (that is how NACT_ESTATE is told from
 *   NACT_ENOENT without a history scan).
 * - Every live op is also on the all-list (creation order, for list) and,
 *   if its parent is live, on the parent's children list. A parent that
 *   finishes normally detaches its live children (they keep parent.v).
 * - A final transition copies the op into the history ring (FIFO of
 *   nact_op_info, grown by doubling up to the bound) and frees the struct
 *   into the free cache (at most OPS_CACHE kept), so memory stays flat.
 * - Cancel walks the subtree post-order, iteratively (a chain of 100k ops
 *   must not recurse): descend to a leaf, finalize it (which unlinks it
 *   from its parent), go back to the parent, repeat until the root is
 *   final. The ops' on_cancel records are spliced, in that order, onto a
 *   local list that runs after the unlock: callbacks never run under the
 *   lock, may call back in, and see children before parents.
 * - Deadlines (cancel_after) are timers (actors/timer.c) whose message goes
 *   to one internal actor, spawned on first use; it cancels the op with
 *   reason TIMEOUT unless the op was re-armed since (tseq). A final op
 *   cancels its timer, so a million ops with long deadlines that finish
 *   early leave nothing behind.
 *
 * Where issue 5 goes next: cancel is final at once here. Cancelable actors
 * need a grace period, so a cancel will first mark the tree "cancel
 * requested" (is_cancelled turns 1, callbacks and cancel messages go out)
 * and the final state follows when the actor stops or the grace ends;
 * finalize() and the post-order walk stay as they are. Signals, condition
 * callbacks and request deadlines are more cancel sources calling
 * cancel_op(); the IPC server reads through nact_op_list / nact_op_get.
 * - Status hook: while a node serves its registry, t->hook is called
 *   under t->mtx on every status change (create, start and each
 *   finalize) with the op's new public view, so the server can publish
 *   it in order; it must not block nor call in here. When nobody serves
 *   it is NULL and costs one test.
 * - Progress hook (t->phook, same rules): called from nact_op_progress at
 *   most once per t->pwindow_ns per op (o->pub_ns); a report inside the
 *   window is held (o->pub_held) and published by the next report after
 *   the window or, at the latest, just before the op's next status change
 *   (OPS_PFLUSH), so the last progress before a change is never lost.
 *
 * Lock order: t->smtx (spawn of the deadline actor) -> the actor table's
 * locks; t->mtx -> the timer mutex (nact_timer_cancel in finalize) -> the
 * message pool; t->mtx -> nng's locks of the server's PUB socket (the
 * hook). The timer thread never calls in here with its lock held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/internal.h"
#include "registry/server_internal.h"

#define OPS_HISTORY_DEFAULT 1000
#define OPS_CACHE 1024 /* freed structs kept for reuse */
#define OPS_BUCKETS0 256

/* One on_cancel registration. id and reason are filled when it is queued
 * to run. */
struct cbrec {
	struct cbrec *next;
	void (*cb)(void *arg, nact_opid id, int reason);
	void *arg;
	int own_arg; /* arg is ours (malloc'd): freed with the record */
	nact_opid id;
	int reason;
};

/* A cancelled operation owned by an actor: after the unlock the actor gets
 * NACT_T_CANCEL and, grace_ms later, is killed if still alive. */
struct ownrec {
	struct ownrec *next;
	nact_aid actor;
	uint32_t grace_ms;
	nact_opid id;
	int reason;
	char msg[256];
};

/* A wait-for edge: the op waits on a request (corr) served by op `on`. */
struct wedge {
	struct wedge *next;
	uint64_t corr;
	uint64_t on;
};

struct op {
	struct op *hnext;            /* hash chain */
	struct op *aprev, *anext;    /* all-list, creation order */
	struct op *parent;           /* live parent, or NULL */
	struct op *child;            /* first live child */
	struct op *sprev, *snext;    /* siblings under parent */
	struct cbrec *cbs, **cbtail; /* on_cancel callbacks, in order */
	nact_timer timer;            /* armed deadline (cancel_after), or 0 */
	uint64_t tseq;               /* which arming the timer belongs to */
	uint64_t pub_ns;             /* 1 + time of the last progress event, 0: none */
	int pub_held;                /* a progress report not published yet */
	nact_aid owner;              /* cancelable actor running it, or 0 */
	uint32_t grace_ms;           /* the owner's grace after a cancel */
	/* condition source (cancel_when): checked every cint ms */
	int (*cond)(void *arg, nact_opid id);
	void *cond_arg;
	int cint;
	nact_timer ctimer;   /* the next check, or 0 */
	uint64_t cseq;       /* which arming of the condition ctimer belongs to */
	int quiet;           /* a request's op: kept in the history only if it
	                        did not complete */
	struct wedge *waits; /* wait-for edges out of this op */
	uint64_t mark;       /* cycle search epoch */
	nact_op_info info;   /* the public view */
};

struct nacti_ops {
	nng_mtx *mtx;
	struct op **b; /* hash buckets */
	uint32_t nb;   /* power of two */
	uint32_t n;    /* live ops */
	uint64_t next; /* next id */
	struct op *ahead, *atail;
	struct op *cache; /* free structs, via hnext */
	uint32_t ncache;
	/* history ring: h[(hfirst + i) % hcap] for i < hn, oldest first */
	nact_op_info *h;
	uint32_t hcap, hfirst, hn;
	uint32_t hmax; /* the bound */
	/* deadlines: one internal actor, spawned by the first cancel_after,
	 * receives the timer messages and cancels with reason TIMEOUT */
	nng_mtx *smtx;   /* serialises that spawn (taken before amtx) */
	nact_aid tactor; /* under mtx once set */
	uint64_t tseq;   /* arming counter */
	/* status hook (the registry server's PUB socket), under mtx */
	void (*hook)(void *arg, const nact_op_info *in);
	void *hook_arg;
	/* progress hook (same server), under mtx; rate-limited per op */
	void (*phook)(void *arg, const nact_op_info *in);
	void *phook_arg;
	uint64_t pwindow_ns;
	/* live supervisors (the "tree" verb), under mtx; nsup used */
	struct nacti_supent *sups;
	uint32_t nsup, capsup;
	/* wait-for graph: search epoch, cycles refused, the last one */
	uint64_t epoch;
	uint64_t ncycles;
	char last_cycle[256];
};

/* Tell the hook, if any, about o's new status (under t->mtx). */
#define OPS_HOOK(t, o)                                        \
	do {                                                  \
		if ((t)->hook != NULL)                        \
			(t)->hook((t)->hook_arg, &(o)->info); \
	} while (0)

/* Publish o's held progress report, if any, before a status change
 * (under t->mtx). */
#define OPS_PFLUSH(t, o)                                        \
	do {                                                    \
		if ((o)->pub_held && (t)->phook != NULL)        \
			(t)->phook((t)->phook_arg, &(o)->info); \
		(o)->pub_held = 0;                              \
	} while (0)

void nacti_ops_set_progress_hook(nact_system *sys, void (*fn)(void *arg, const nact_op_info *in),
    void *arg, uint64_t window_ns)
{
	struct nacti_ops *t = sys->ops;
	nng_mtx_lock(t->mtx);
	t->phook = fn;
	t->phook_arg = arg;
	t->pwindow_ns = window_ns;
	nng_mtx_unlock(t->mtx);
}

void nacti_ops_set_hook(nact_system *sys, void (*fn)(void *arg, const nact_op_info *in), void *arg)
{
	struct nacti_ops *t = sys->ops;
	nng_mtx_lock(t->mtx);
	t->hook = fn;
	t->hook_arg = arg;
	nng_mtx_unlock(t->mtx);
}

static const char *status_names[] = {"pending", "running", "completed", "failed", "cancelled",
    "timedout"};
static const char *reason_names[] = {"none", "manual", "timeout", "signal", "condition", "parent"};

const char *nact_op_status_str(int status)
{
	if (status < 0 || status >= NACT_OP_NSTATUS)
		return "?";
	return status_names[status];
}

const char *nact_op_reason_str(int reason)
{
	if (reason < 0 || reason >= NACT_CANCEL_NREASONS)
		return "?";
	return reason_names[reason];
}

int nacti_ops_init(nact_system *sys)
{
	struct nacti_ops *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NACT_ENOMEM;
	t->nb = OPS_BUCKETS0;
	t->b = calloc(t->nb, sizeof(*t->b));
	if (t->b == NULL || nng_mtx_alloc(&t->mtx) != 0) {
		free(t->b);
		free(t);
		return NACT_ENOMEM;
	}
	if (nng_mtx_alloc(&t->smtx) != 0) {
		nng_mtx_free(t->mtx);
		free(t->b);
		free(t);
		return NACT_ENOMEM;
	}
	t->next = 1;
	t->hmax = sys->cfg.op_history ? sys->cfg.op_history : OPS_HISTORY_DEFAULT;
	sys->ops = t;
	return 0;
}

static void free_cbs(struct cbrec *c)
{
	while (c != NULL) {
		struct cbrec *n = c->next;
		if (c->own_arg)
			free(c->arg);
		free(c);
		c = n;
	}
}

static void free_wedges(struct wedge *e)
{
	while (e != NULL) {
		struct wedge *n = e->next;
		free(e);
		e = n;
	}
}

void nacti_ops_fini(nact_system *sys)
{
	struct nacti_ops *t = sys->ops;
	if (t == NULL)
		return;
	for (struct op *o = t->ahead; o != NULL;) {
		struct op *n = o->anext;
		free_cbs(o->cbs);
		free_wedges(o->waits);
		free(o);
		o = n;
	}
	while (t->cache != NULL) {
		struct op *n = t->cache->hnext;
		free(t->cache);
		t->cache = n;
	}
	free(t->sups);
	free(t->h);
	free(t->b);
	nng_mtx_free(t->smtx);
	nng_mtx_free(t->mtx);
	free(t);
	sys->ops = NULL;
}

/* ---- lookup, under t->mtx ---- */

static struct op *find(struct nacti_ops *t, uint64_t id)
{
	struct op *o = t->b[id & (t->nb - 1)];
	while (o != NULL && o->info.id.v != id)
		o = o->hnext;
	return o;
}

/* The error for an id that is not live: finished (ESTATE) or never was. */
static int not_live(struct nacti_ops *t, uint64_t id)
{
	return (id != 0 && id < t->next) ? NACT_ESTATE : NACT_ENOENT;
}

static void grow(struct nacti_ops *t)
{
	uint32_t nb = t->nb * 2;
	struct op **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return; /* keep the old table: longer chains, still correct */
	for (uint32_t i = 0; i < t->nb; i++) {
		struct op *o = t->b[i];
		while (o != NULL) {
			struct op *n = o->hnext;
			struct op **pp = &b[o->info.id.v & (nb - 1)];
			o->hnext = *pp;
			*pp = o;
			o = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

/* Append a copy of o's info to the history, evicting the oldest when full.
 * If the ring cannot grow it evicts earlier instead: the bound is a
 * maximum, never exceeded. */
static void history_push(struct nacti_ops *t, const nact_op_info *in)
{
	if (t->hn == t->hcap && t->hcap < t->hmax) {
		uint32_t cap = t->hcap ? t->hcap * 2 : 64;
		if (cap > t->hmax)
			cap = t->hmax;
		nact_op_info *h = malloc((size_t)cap * sizeof(*h));
		if (h != NULL) {
			for (uint32_t i = 0; i < t->hn; i++)
				h[i] = t->h[(t->hfirst + i) % t->hcap];
			free(t->h);
			t->h = h;
			t->hcap = cap;
			t->hfirst = 0;
		}
	}
	if (t->hcap == 0)
		return;         /* no memory for any history: forget it */
	if (t->hn == t->hcap) { /* full: drop the oldest */
		t->hfirst = (t->hfirst + 1) % t->hcap;
		t->hn--;
	}
	t->h[(t->hfirst + t->hn) % t->hcap] = *in;
	t->hn++;
}

/* Make o final with status/reason/msg: unlink it everywhere, detach its
 * live children, copy it to the history and free it. Its callbacks are
 * appended to *run (cancel) or freed (complete, fail). */
static void finalize(nact_system *sys, struct nacti_ops *t, struct op *o, int status, int reason,
    const char *msg, struct cbrec ***runtail, struct ownrec **own)
{
	OPS_PFLUSH(t, o);
	o->info.status = status;
	o->info.reason = reason;
	if (msg != NULL)
		snprintf(o->info.message, sizeof(o->info.message), "%s", msg);
	o->info.ended_ns = nact_now(sys);
	if (status == NACT_OP_COMPLETED)
		o->info.progress = 1.0;
	if (o->timer.v != 0) /* its deadline is moot: free the timer now */
		nact_timer_cancel(sys, o->timer);
	if (o->ctimer.v != 0)
		nact_timer_cancel(sys, o->ctimer);
	free_wedges(o->waits);
	o->waits = NULL;
	if (own != NULL && o->owner.v != 0) {
		struct ownrec *r = malloc(sizeof(*r));
		if (r != NULL) { /* else the actor is not told: it ends with the system */
			r->actor = o->owner;
			r->grace_ms = o->grace_ms;
			r->id = o->info.id;
			r->reason = reason;
			snprintf(r->msg, sizeof(r->msg), "%s", o->info.message);
			r->next = *own;
			*own = r;
		}
	}

	/* hash */
	struct op **pp = &t->b[o->info.id.v & (t->nb - 1)];
	while (*pp != o)
		pp = &(*pp)->hnext;
	*pp = o->hnext;
	t->n--;
	/* all-list */
	if (o->aprev)
		o->aprev->anext = o->anext;
	else
		t->ahead = o->anext;
	if (o->anext)
		o->anext->aprev = o->aprev;
	else
		t->atail = o->aprev;
	/* parent's children */
	if (o->parent != NULL) {
		if (o->sprev)
			o->sprev->snext = o->snext;
		else
			o->parent->child = o->snext;
		if (o->snext)
			o->snext->sprev = o->sprev;
	}
	/* children left (normal end only): orphans that keep parent.v */
	for (struct op *c = o->child; c != NULL;) {
		struct op *n = c->snext;
		c->parent = NULL;
		c->sprev = c->snext = NULL;
		c = n;
	}
	/* callbacks */
	if (runtail != NULL && o->cbs != NULL) {
		for (struct cbrec *c = o->cbs; c != NULL; c = c->next) {
			c->id = o->info.id;
			c->reason = reason;
		}
		**runtail = o->cbs;
		*runtail = o->cbtail;
	} else {
		free_cbs(o->cbs);
	}
	OPS_HOOK(t, o);
	if (!(o->quiet && status == NACT_OP_COMPLETED))
		history_push(t, &o->info);
	if (t->ncache < OPS_CACHE) {
		o->hnext = t->cache;
		t->cache = o;
		t->ncache++;
	} else {
		free(o);
	}
}

/* Run and free queued callbacks (outside the lock). */
static void run_cbs(struct cbrec *c)
{
	while (c != NULL) {
		struct cbrec *n = c->next;
		c->cb(c->arg, c->id, c->reason);
		if (c->own_arg)
			free(c->arg);
		free(c);
		c = n;
	}
}

static void tell_owners(nact_system *sys, struct ownrec *r);

/* ---- the API ---- */

int nact_op_create(nact_opid *idp, nact_system *sys, const char *name, nact_opid parent,
    const char *tags)
{
	if (idp == NULL || sys == NULL || name == NULL)
		return NACT_EINVAL;
	size_t nlen = strlen(name);
	size_t tlen = tags != NULL ? strlen(tags) : 0;
	if (nlen == 0 || nlen >= sizeof(((nact_op_info *)0)->name) ||
	    tlen >= sizeof(((nact_op_info *)0)->tags))
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	nact_aid actor =
	    (nacti_cur != NULL && nacti_cur->sys == sys) ? nacti_cur->self : NACT_AID_NONE;
	uint64_t now = nact_now(sys);

	nng_mtx_lock(t->mtx);
	struct op *p = NULL;
	if (parent.v != 0 && (p = find(t, parent.v)) == NULL) {
		int rv = not_live(t, parent.v);
		nng_mtx_unlock(t->mtx);
		return rv;
	}
	struct op *o = t->cache;
	if (o != NULL) {
		t->cache = o->hnext;
		t->ncache--;
	} else if ((o = malloc(sizeof(*o))) == NULL) {
		nng_mtx_unlock(t->mtx);
		return NACT_ENOMEM;
	}
	/* Only the fixed fields: the strings are NUL-terminated copies, and
	 * their tails are never read (snapshots copy whole structs, which is
	 * fine: the bytes are ours). */
	o->child = NULL;
	o->timer.v = 0;
	o->tseq = 0;
	o->pub_ns = 0;
	o->pub_held = 0;
	o->owner.v = 0;
	o->grace_ms = 0;
	o->cond = NULL;
	o->cond_arg = NULL;
	o->cint = 0;
	o->ctimer.v = 0;
	o->cseq = 0;
	o->quiet = 0;
	o->waits = NULL;
	o->mark = 0;
	o->cbs = NULL;
	o->cbtail = &o->cbs;
	o->info.id.v = t->next++;
	o->info.parent = parent;
	memcpy(o->info.name, name, nlen + 1);
	memcpy(o->info.tags, tags != NULL ? tags : "", tlen + 1);
	o->info.status = NACT_OP_PENDING;
	o->info.reason = NACT_CANCEL_NONE;
	o->info.message[0] = '\0';
	o->info.created_ns = now;
	o->info.started_ns = 0;
	o->info.ended_ns = 0;
	o->info.progress = 0;
	o->info.progress_msg[0] = '\0';
	o->info.actor = actor;
	/* hash */
	struct op **pp = &t->b[o->info.id.v & (t->nb - 1)];
	o->hnext = *pp;
	*pp = o;
	/* all-list */
	o->anext = NULL;
	o->aprev = t->atail;
	if (t->atail)
		t->atail->anext = o;
	else
		t->ahead = o;
	t->atail = o;
	/* parent's children: at the head (order among siblings is not part
	 * of the contract; cancel handles every child before the parent) */
	o->parent = p;
	o->sprev = NULL;
	o->snext = NULL;
	if (p != NULL) {
		o->snext = p->child;
		if (p->child)
			p->child->sprev = o;
		p->child = o;
	}
	if (++t->n > t->nb * 2)
		grow(t);
	OPS_HOOK(t, o);
	*idp = o->info.id;
	nng_mtx_unlock(t->mtx);
	return 0;
}

int nact_op_start(nact_system *sys, nact_opid id)
{
	if (sys == NULL)
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	uint64_t now = nact_now(sys);
	int rv = 0;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	if (o == NULL)
		rv = not_live(t, id.v);
	else if (o->info.status != NACT_OP_PENDING)
		rv = NACT_ESTATE;
	else {
		OPS_PFLUSH(t, o);
		o->info.status = NACT_OP_RUNNING;
		o->info.started_ns = now;
		OPS_HOOK(t, o);
	}
	nng_mtx_unlock(t->mtx);
	return rv;
}

int nact_op_progress(nact_system *sys, nact_opid id, double fraction, const char *msg)
{
	if (sys == NULL || !(fraction >= 0.0 && fraction <= 1.0)) /* NaN fails too */
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	uint64_t now = nact_now(sys);
	int rv = 0;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	if (o == NULL)
		rv = not_live(t, id.v);
	else {
		o->info.progress = fraction;
		if (msg != NULL)
			snprintf(o->info.progress_msg, sizeof(o->info.progress_msg), "%s", msg);
		if (t->phook != NULL) {
			/* at most one event per window; a held one goes out
			 * with the next report after it, or before the next
			 * status change */
			if (o->pub_ns == 0 || now + 1 - o->pub_ns >= t->pwindow_ns) {
				o->pub_ns = now + 1; /* 0 stays "never" */
				o->pub_held = 0;
				t->phook(t->phook_arg, &o->info);
			} else {
				o->pub_held = 1;
			}
		}
	}
	nng_mtx_unlock(t->mtx);
	return rv;
}

/* complete / fail: RUNNING -> status. */
static int end_op(nact_system *sys, nact_opid id, int status, const char *msg)
{
	if (sys == NULL)
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	int rv = 0;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	if (o == NULL)
		rv = not_live(t, id.v);
	else if (o->info.status != NACT_OP_RUNNING)
		rv = NACT_ESTATE;
	else
		finalize(sys, t, o, status, NACT_CANCEL_NONE, msg, NULL, NULL);
	nng_mtx_unlock(t->mtx);
	return rv;
}

int nact_op_complete(nact_system *sys, nact_opid id)
{
	return end_op(sys, id, NACT_OP_COMPLETED, NULL);
}

int nact_op_fail(nact_system *sys, nact_opid id, const char *msg)
{
	return end_op(sys, id, NACT_OP_FAILED, msg);
}

/* Cancel id and its subtree; seq != 0: only if its deadline is still
 * the arming seq (a timer message that lost a race with a re-arm is
 * ignored, NACT_ESTATE). */
static int cancel_op(nact_system *sys, nact_opid id, int reason, const char *msg, uint64_t seq)
{
	struct nacti_ops *t = sys->ops;
	struct cbrec *run = NULL, **runtail = &run;
	struct ownrec *own = NULL;
	nng_mtx_lock(t->mtx);
	struct op *root = find(t, id.v);
	if (root == NULL || (seq != 0 && root->tseq != seq)) {
		int rv = root == NULL ? not_live(t, id.v) : NACT_ESTATE;
		nng_mtx_unlock(t->mtx);
		return rv;
	}
	/* Post-order, iteratively: finalizing a leaf unlinks it from its
	 * parent, so the parent's next child (or the parent itself, once it
	 * has none) comes up next. */
	struct op *o = root;
	for (;;) {
		while (o->child != NULL)
			o = o->child;
		struct op *p = o->parent;
		if (o == root) {
			finalize(sys, t, o,
			    reason == NACT_CANCEL_TIMEOUT ? NACT_OP_TIMEDOUT : NACT_OP_CANCELLED,
			    reason, msg, &runtail, &own);
			break;
		}
		finalize(sys, t, o, NACT_OP_CANCELLED, NACT_CANCEL_PARENT, msg, &runtail, &own);
		o = p;
	}
	nng_mtx_unlock(t->mtx);
	tell_owners(sys, own);
	run_cbs(run);
	return 0;
}

int nact_op_cancel(nact_system *sys, nact_opid id, int reason, const char *msg)
{
	if (sys == NULL || reason <= NACT_CANCEL_NONE || reason >= NACT_CANCEL_NREASONS)
		return NACT_EINVAL;
	return cancel_op(sys, id, reason, msg, 0);
}

/* ---- deadlines ---- */

#define OPS_T_DEADLINE 1u /* [id, seq, ms]: a deadline passed */
#define OPS_T_GRACE 2u    /* [actor, id, ms]: a cancelled owner's grace ended */
#define OPS_T_COND 3u     /* [id]: time to check the op's condition */

static void grace_end(nact_ctx *ctx, nact_msg *m);
static void cond_check(nact_ctx *ctx, nact_msg *m);

static int deadline_fn(nact_ctx *ctx, nact_msg *m)
{
	nact_reader r;
	uint32_t n;
	uint64_t id, seq, ms;
	if (nact_msg_type(m) == OPS_T_GRACE) {
		grace_end(ctx, m);
		return 0;
	}
	if (nact_msg_type(m) == OPS_T_COND) {
		cond_check(ctx, m);
		return 0;
	}
	if (nact_msg_type(m) != OPS_T_DEADLINE || nact_reader_init(&r, m, NULL) != 0)
		return 0; /* not ours: ignore */
	int bad = nact_read_array(&r, &n) != 0 || n != 3 || nact_read_uint(&r, &id) != 0 ||
	    nact_read_uint(&r, &seq) != 0 || nact_read_uint(&r, &ms) != 0;
	nact_reader_fini(&r);
	if (bad)
		return 0;
	char text[64];
	snprintf(text, sizeof(text), "deadline of %llu ms passed", (unsigned long long)ms);
	cancel_op(nact_sys(ctx), (nact_opid){id}, NACT_CANCEL_TIMEOUT, text, seq);
	return 0; /* already finished, or re-armed: nothing to do */
}

/* The deadline actor, spawned on first use. */
static int deadline_actor(nact_system *sys, nact_aid *ap)
{
	struct nacti_ops *t = sys->ops;
	int rv = 0;
	nng_mtx_lock(t->smtx);
	nng_mtx_lock(t->mtx);
	*ap = t->tactor;
	nng_mtx_unlock(t->mtx);
	if (ap->v == 0 && (rv = nact_spawn(ap, sys, deadline_fn, NULL, NULL, NULL)) == 0) {
		nng_mtx_lock(t->mtx);
		t->tactor = *ap;
		nng_mtx_unlock(t->mtx);
	}
	nng_mtx_unlock(t->smtx);
	return rv;
}

int nact_op_cancel_after(nact_system *sys, nact_opid id, int ms)
{
	if (sys == NULL || ms < 0)
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	nact_aid a;
	nact_msg *m;
	nact_pack pk;
	nact_timer tm;
	uint64_t seq;
	int rv;

	/* Reserve this arming first, so a timer that fires before it is
	 * published below is already the current one. */
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	rv = o == NULL ? not_live(t, id.v) : 0;
	seq = ++t->tseq;
	if (o != NULL)
		o->tseq = seq;
	nng_mtx_unlock(t->mtx);
	if (rv != 0)
		return rv;
	if ((rv = deadline_actor(sys, &a)) != 0)
		return rv;
	if ((rv = nact_msg_alloc(&m, sys, OPS_T_DEADLINE)) != 0)
		return rv;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 3);
	nact_pack_uint(&pk, id.v);
	nact_pack_uint(&pk, seq);
	nact_pack_uint(&pk, (uint64_t)ms);
	if ((rv = nact_pack_error(&pk)) != 0 || (rv = nact_send_after(sys, a, m, ms, &tm)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	/* Publish the timer. The op may have ended meanwhile, by this very
	 * deadline or otherwise (nobody else will free this timer then), or
	 * been re-armed by another thread (a later seq: this arming lost).
	 * Either way the arming itself succeeded: 0. */
	nact_timer old;
	nng_mtx_lock(t->mtx);
	o = find(t, id.v);
	if (o == NULL || o->tseq != seq) {
		old = tm;
	} else {
		old = o->timer;
		o->timer = tm;
	}
	nng_mtx_unlock(t->mtx);
	if (old.v != 0)
		nact_timer_cancel(sys, old);
	return rv;
}

/* The history entry for id, or NULL. Under t->mtx. Newest first: recent
 * ids are the likely ones. */
static const nact_op_info *history_find(struct nacti_ops *t, uint64_t id)
{
	for (uint32_t i = t->hn; i-- > 0;) {
		const nact_op_info *in = &t->h[(t->hfirst + i) % t->hcap];
		if (in->id.v == id)
			return in;
	}
	return NULL;
}

int nact_op_is_cancelled(nact_system *sys, nact_opid id)
{
	if (sys == NULL || id.v == 0)
		return 0;
	struct nacti_ops *t = sys->ops;
	int c = 0;
	nng_mtx_lock(t->mtx);
	if (find(t, id.v) == NULL && id.v < t->next) {
		/* finished: look it up (live ops are never cancelled: cancel
		 * is final at once in this version) */
		const nact_op_info *in = history_find(t, id.v);
		c = in != NULL &&
		    (in->status == NACT_OP_CANCELLED || in->status == NACT_OP_TIMEDOUT);
	}
	nng_mtx_unlock(t->mtx);
	return c;
}

int nact_op_on_cancel(nact_system *sys, nact_opid id,
    void (*cb)(void *arg, nact_opid id, int reason), void *arg)
{
	if (sys == NULL || cb == NULL)
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	struct cbrec *c = malloc(sizeof(*c));
	if (c == NULL)
		return NACT_ENOMEM;
	c->next = NULL;
	c->cb = cb;
	c->arg = arg;
	c->own_arg = 0;
	int rv = 0, now_reason = NACT_CANCEL_NONE;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	if (o != NULL) {
		*o->cbtail = c;
		o->cbtail = &c->next;
		c = NULL;
	} else if ((rv = not_live(t, id.v)) == NACT_ESTATE) {
		const nact_op_info *in = history_find(t, id.v);
		if (in == NULL)
			rv = NACT_ENOENT; /* finished and forgotten */
		else if (in->status == NACT_OP_CANCELLED || in->status == NACT_OP_TIMEDOUT) {
			rv = 0;
			now_reason = in->reason;
		}
	}
	nng_mtx_unlock(t->mtx);
	if (c != NULL) {
		if (rv == 0)
			cb(arg, id, now_reason); /* already cancelled: at once */
		free(c);
	}
	return rv;
}

int nact_op_get(nact_system *sys, nact_opid id, nact_op_info *out)
{
	if (sys == NULL || out == NULL)
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	int rv = 0;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	const nact_op_info *in = o != NULL ? &o->info : history_find(t, id.v);
	if (in != NULL)
		*out = *in;
	else
		rv = NACT_ENOENT;
	nng_mtx_unlock(t->mtx);
	return rv;
}

int nact_op_list(nact_system *sys, int status, nact_op_info *out, size_t max, size_t *np)
{
	if (sys == NULL || np == NULL || status < -1 || status >= NACT_OP_NSTATUS ||
	    (out == NULL && max > 0))
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	size_t n = 0;
	nng_mtx_lock(t->mtx);
	if (status < NACT_OP_COMPLETED) { /* any, pending, running: live ones */
		for (struct op *o = t->ahead; o != NULL; o = o->anext) {
			if (status != -1 && o->info.status != status)
				continue;
			if (n < max)
				out[n] = o->info;
			n++;
		}
	}
	if (status == -1 || status >= NACT_OP_COMPLETED) {
		for (uint32_t i = 0; i < t->hn; i++) {
			const nact_op_info *in = &t->h[(t->hfirst + i) % t->hcap];
			if (status != -1 && in->status != status)
				continue;
			if (n < max)
				out[n] = *in;
			n++;
		}
	}
	nng_mtx_unlock(t->mtx);
	*np = n;
	return 0;
}

void nact_op_history_clear(nact_system *sys)
{
	if (sys == NULL)
		return;
	struct nacti_ops *t = sys->ops;
	nng_mtx_lock(t->mtx);
	free(t->h);
	t->h = NULL;
	t->hcap = t->hfirst = t->hn = 0;
	nng_mtx_unlock(t->mtx);
}

/* ---- live supervisors (registry/server_internal.h) ---- */

int nacti_sups_add(nact_system *sys, nact_aid sup, const char *name)
{
	struct nacti_ops *t;
	int rv = 0;
	if (sys == NULL || (t = sys->ops) == NULL || sup.v == 0)
		return NACT_EINVAL;
	nng_mtx_lock(t->mtx);
	if (t->nsup == t->capsup) {
		uint32_t cap = t->capsup ? t->capsup * 2 : 16;
		struct nacti_supent *v = realloc(t->sups, (size_t)cap * sizeof(*v));
		if (v == NULL) {
			rv = NACT_ENOMEM;
			goto out;
		}
		t->sups = v;
		t->capsup = cap;
	}
	t->sups[t->nsup].aid = sup;
	snprintf(t->sups[t->nsup].name, sizeof(t->sups[0].name), "%s", name != NULL ? name : "");
	t->nsup++;
out:
	nng_mtx_unlock(t->mtx);
	return rv;
}

void nacti_sups_del(nact_system *sys, nact_aid sup)
{
	struct nacti_ops *t;
	if (sys == NULL || (t = sys->ops) == NULL)
		return;
	nng_mtx_lock(t->mtx);
	for (uint32_t i = 0; i < t->nsup; i++)
		if (t->sups[i].aid.v == sup.v) {
			memmove(&t->sups[i], &t->sups[i + 1],
			    (t->nsup - i - 1) * sizeof(t->sups[0]));
			t->nsup--;
			break;
		}
	nng_mtx_unlock(t->mtx);
}

size_t nacti_sups_list(nact_system *sys, struct nacti_supent *out, size_t max)
{
	struct nacti_ops *t;
	size_t n;
	if (sys == NULL || (t = sys->ops) == NULL)
		return 0;
	nng_mtx_lock(t->mtx);
	n = t->nsup;
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = t->sups[i];
	nng_mtx_unlock(t->mtx);
	return n;
}
/* ---- cancelable actors ---- */

/* Send one (actor, op) pair the cancel message and arm its grace timer.
 * Any thread, no lock held. */
static void tell_owner(nact_system *sys, const struct ownrec *r)
{
	nact_msg *m;
	nact_pack pk;
	if (nact_msg_alloc(&m, sys, NACT_T_CANCEL) != 0)
		return;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 3);
	nact_pack_uint(&pk, r->id.v);
	nact_pack_str(&pk, nact_op_reason_str(r->reason));
	nact_pack_str(&pk, r->msg);
	nact_msg_set_opid(m, r->id.v);
	if (nact_pack_error(&pk) != 0 || nacti_deliver(sys, r->actor, m, 1, 0) != 0)
		nact_msg_free(m);
	/* The grace timer: the actor is killed when it ends if still alive
	 * (ids are never reused, so a kill of an ended actor is a no-op). */
	nact_aid a;
	if (deadline_actor(sys, &a) != 0 || nact_msg_alloc(&m, sys, OPS_T_GRACE) != 0) {
		nact_kill(sys, r->actor); /* closing, or no memory: no grace */
		return;
	}
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 3);
	nact_pack_uint(&pk, r->actor.v);
	nact_pack_uint(&pk, r->id.v);
	nact_pack_uint(&pk, r->grace_ms);
	if (nact_pack_error(&pk) != 0 || nact_send_after(sys, a, m, (int)r->grace_ms, NULL) != 0) {
		nact_msg_free(m);
		nact_kill(sys, r->actor);
	}
}

/* Tell the owners of a cancelled tree, children first (the list was built
 * parents first), and free the records. */
static void tell_owners(nact_system *sys, struct ownrec *r)
{
	struct ownrec *rev = NULL;
	while (r != NULL) {
		struct ownrec *n = r->next;
		r->next = rev;
		rev = r;
		r = n;
	}
	while (rev != NULL) {
		struct ownrec *n = rev->next;
		tell_owner(sys, rev);
		free(rev);
		rev = n;
	}
}

static void grace_end(nact_ctx *ctx, nact_msg *m)
{
	nact_reader r;
	uint32_t n;
	uint64_t aid, id, ms;
	if (nact_reader_init(&r, m, NULL) != 0)
		return;
	int bad = nact_read_array(&r, &n) != 0 || n != 3 || nact_read_uint(&r, &aid) != 0 ||
	    nact_read_uint(&r, &id) != 0 || nact_read_uint(&r, &ms) != 0;
	nact_reader_fini(&r);
	if (bad)
		return;
	nact_system *sys = nact_sys(ctx);
	if (nact_kill(sys, (nact_aid){aid}) == 0)
		nact_log(sys, NACT_LOG_WARN,
		    "operation %llu: actor %#llx still running %llu ms after its cancel: killed",
		    (unsigned long long)id, (unsigned long long)aid, (unsigned long long)ms);
}

int nacti_ops_attach(nact_system *sys, nact_opid id, nact_aid actor, uint32_t grace_ms)
{
	struct nacti_ops *t = sys->ops;
	nact_op_info in;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	if (o != NULL) {
		o->owner = actor;
		o->grace_ms = grace_ms;
		o->info.actor = actor;
	}
	nng_mtx_unlock(t->mtx);
	if (o != NULL)
		return 0;
	/* Cancelled before the actor was attached: tell it now. */
	if (nact_op_get(sys, id, &in) == 0 &&
	    (in.status == NACT_OP_CANCELLED || in.status == NACT_OP_TIMEDOUT)) {
		struct ownrec r;
		r.actor = actor;
		r.grace_ms = grace_ms;
		r.id = id;
		r.reason = in.reason;
		snprintf(r.msg, sizeof(r.msg), "%s", in.message);
		tell_owner(sys, &r);
	}
	return 0;
}

void nacti_ops_actor_ended(nact_system *sys, uint64_t opid, int reason, const char *text)
{
	struct nacti_ops *t = sys->ops;
	if (t == NULL || opid == 0)
		return;
	int status;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, opid);
	if (o != NULL)
		o->owner.v = 0; /* ended: no cancel message, no grace */
	status = o != NULL ? o->info.status : -1;
	nng_mtx_unlock(t->mtx);
	if (status < 0)
		return; /* already final: the op ended first (or was cancelled) */
	nact_opid id = {opid};
	if (status == NACT_OP_PENDING)
		nact_op_start(sys, id);
	if (reason == NACT_EXIT_NORMAL) {
		nact_op_complete(sys, id);
	} else if (reason == NACT_EXIT_SHUTDOWN) {
		cancel_op(sys, id, NACT_CANCEL_MANUAL, "actor stopped", 0);
	} else {
		char msg[256];
		char rs[64];
		nact_exit_format(reason, rs, sizeof(rs));
		if (text != NULL && text[0] != '\0')
			snprintf(msg, sizeof(msg), "actor exited: %s: %s", rs, text);
		else
			snprintf(msg, sizeof(msg), "actor exited: %s", rs);
		nact_op_fail(sys, id, msg);
	}
}

/* ---- more cancel sources ---- */

static int cond_arm(nact_system *sys, uint64_t id, uint64_t seq, int ms, nact_timer *tp)
{
	nact_aid a;
	nact_msg *m;
	nact_pack pk;
	int rv;
	if ((rv = deadline_actor(sys, &a)) != 0 || (rv = nact_msg_alloc(&m, sys, OPS_T_COND)) != 0)
		return rv;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 2);
	nact_pack_uint(&pk, id);
	nact_pack_uint(&pk, seq);
	if ((rv = nact_pack_error(&pk)) != 0 || (rv = nact_send_after(sys, a, m, ms, tp)) != 0)
		nact_msg_free(m);
	return rv;
}

/* Publish tm as the op's next check if arming seq is still current;
 * else (ended, or re-armed since) cancel it. */
static void cond_publish(nact_system *sys, uint64_t id, uint64_t seq, nact_timer tm)
{
	struct nacti_ops *t = sys->ops;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id);
	int stale = o == NULL || o->cseq != seq;
	if (!stale)
		o->ctimer = tm;
	nng_mtx_unlock(t->mtx);
	if (stale)
		nact_timer_cancel(sys, tm);
}

static void cond_check(nact_ctx *ctx, nact_msg *m)
{
	nact_system *sys = nact_sys(ctx);
	struct nacti_ops *t = sys->ops;
	nact_reader r;
	uint32_t n;
	uint64_t id, seq;
	if (nact_reader_init(&r, m, NULL) != 0)
		return;
	int bad = nact_read_array(&r, &n) != 0 || n != 2 || nact_read_uint(&r, &id) != 0 ||
	    nact_read_uint(&r, &seq) != 0;
	nact_reader_fini(&r);
	if (bad)
		return;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id);
	int current = o != NULL && o->cseq == seq && o->cond != NULL;
	int (*cond)(void *, nact_opid) = current ? o->cond : NULL;
	void *arg = current ? o->cond_arg : NULL;
	int ms = current ? o->cint : 0;
	if (current)
		o->ctimer.v = 0; /* this one fired */
	nng_mtx_unlock(t->mtx);
	if (!current)
		return; /* ended or re-armed meanwhile */
	if (cond(arg, (nact_opid){id})) {
		cancel_op(sys, (nact_opid){id}, NACT_CANCEL_CONDITION, "condition met", 0);
		return;
	}
	nact_timer tm;
	if (cond_arm(sys, id, seq, ms, &tm) == 0)
		cond_publish(sys, id, seq, tm);
}

int nact_op_cancel_when(nact_system *sys, nact_opid id, int (*cond)(void *arg, nact_opid id),
    void *arg, int interval_ms)
{
	if (sys == NULL || cond == NULL || interval_ms <= 0)
		return NACT_EINVAL;
	struct nacti_ops *t = sys->ops;
	nact_timer old = {0}, tm;
	uint64_t seq = 0;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, id.v);
	int rv = o == NULL ? not_live(t, id.v) : 0;
	if (o != NULL) {
		old = o->ctimer;
		o->ctimer.v = 0;
		o->cond = cond;
		o->cond_arg = arg;
		o->cint = interval_ms;
		o->cseq = seq = ++t->tseq;
	}
	nng_mtx_unlock(t->mtx);
	if (rv != 0)
		return rv;
	if (old.v != 0)
		nact_timer_cancel(sys, old);
	if ((rv = cond_arm(sys, id.v, seq, interval_ms, &tm)) != 0) {
		nng_mtx_lock(t->mtx);
		if ((o = find(t, id.v)) != NULL && o->cseq == seq)
			o->cond = NULL;
		nng_mtx_unlock(t->mtx);
		return rv;
	}
	cond_publish(sys, id.v, seq, tm);
	return 0;
}

struct linkarg {
	nact_system *sys;
	nact_opid target;
};

static void link_cb(void *arg, nact_opid src, int reason)
{
	struct linkarg *l = arg;
	char msg[64];
	snprintf(msg, sizeof(msg), "source operation %llu was cancelled",
	    (unsigned long long)src.v);
	/* reason PARENT on the source says why it went; pass the cause on as
	 * the source's own reason when it has one */
	cancel_op(l->sys, l->target, reason, msg, 0);
}

int nact_op_cancel_on(nact_system *sys, nact_opid id, nact_opid source)
{
	if (sys == NULL || id.v == source.v)
		return NACT_EINVAL;
	struct linkarg *l = malloc(sizeof(*l));
	struct cbrec *c = malloc(sizeof(*c));
	if (l == NULL || c == NULL) {
		free(l);
		free(c);
		return NACT_ENOMEM;
	}
	l->sys = sys;
	l->target = id;
	c->next = NULL;
	c->cb = link_cb;
	c->arg = l;
	c->own_arg = 1;
	struct nacti_ops *t = sys->ops;
	int rv, now_reason = NACT_CANCEL_NONE;
	nng_mtx_lock(t->mtx);
	struct op *o = find(t, source.v);
	if (find(t, id.v) == NULL) {
		rv = not_live(t, id.v);
	} else if (o != NULL) {
		*o->cbtail = c;
		o->cbtail = &c->next;
		c = NULL;
		rv = 0;
	} else if ((rv = not_live(t, source.v)) == NACT_ESTATE) {
		const nact_op_info *in = history_find(t, source.v);
		if (in != NULL &&
		    (in->status == NACT_OP_CANCELLED || in->status == NACT_OP_TIMEDOUT)) {
			rv = 0; /* already cancelled: cancel id at once */
			now_reason = in->reason;
		}
	}
	nng_mtx_unlock(t->mtx);
	if (c != NULL) {
		if (rv == 0)
			link_cb(l, source, now_reason);
		free(l);
		free(c);
	}
	return rv;
}

/* ---- the wait-for graph ---- */

struct frame {
	struct op *o;
	struct wedge *e;
};

int nacti_ops_wait_add(nact_system *sys, uint64_t waiter, uint64_t on, uint64_t corr)
{
	struct nacti_ops *t = sys->ops;
	if (waiter == 0 || on == 0 || waiter == on)
		return 0;
	struct wedge *e = malloc(sizeof(*e));
	if (e == NULL)
		return NACT_ENOMEM;
	e->corr = corr;
	e->on = on;
	struct frame *fr = NULL;
	size_t n = 0, cap = 0;
	int rv = 0;
	nng_mtx_lock(t->mtx);
	struct op *w = find(t, waiter), *x = find(t, on);
	if (w == NULL || x == NULL) {
		nng_mtx_unlock(t->mtx);
		free(e);
		return 0; /* not both live: nothing can wait in a cycle */
	}
	/* Depth-first from `on` along existing edges: reaching `waiter`
	 * means the new edge closes a cycle; the stack is the path. */
	uint64_t epoch = ++t->epoch;
	x->mark = epoch;
	for (;;) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct frame *f = realloc(fr, nc * sizeof(*f));
			if (f == NULL) {
				rv = NACT_ENOMEM;
				break;
			}
			fr = f;
			cap = nc;
		}
		fr[n].o = x;
		fr[n].e = x->waits;
		n++;
		if (x == w) {
			rv = NACT_ECYCLE;
			break;
		}
		x = NULL;
		while (n > 0 && x == NULL) {
			struct frame *f = &fr[n - 1];
			if (f->e == NULL) {
				n--;
				continue;
			}
			struct wedge *ne = f->e;
			f->e = ne->next;
			struct op *y = find(t, ne->on);
			if (y != NULL && y->mark != epoch) {
				y->mark = epoch;
				x = y;
			}
		}
		if (x == NULL)
			break; /* searched everything: no cycle */
	}
	if (rv == 0) {
		e->next = w->waits;
		w->waits = e;
		e = NULL;
	} else if (rv == NACT_ECYCLE) {
		/* waiter -> on -> ... -> waiter: fr[0] is `on`, fr[n-1] waiter */
		char *b = t->last_cycle;
		size_t len = sizeof(t->last_cycle), k;
		k = (size_t)snprintf(b, len, "%llu", (unsigned long long)waiter);
		for (size_t i = 0; i < n && k < len; i++)
			k += (size_t)snprintf(b + k, len - k, " -> %llu",
			    (unsigned long long)fr[i].o->info.id.v);
		t->ncycles++;
	}
	char text[256];
	if (rv == NACT_ECYCLE)
		memcpy(text, t->last_cycle, sizeof(text));
	nng_mtx_unlock(t->mtx);
	free(fr);
	free(e);
	if (rv == NACT_ECYCLE)
		nact_log(sys, NACT_LOG_WARN, "request refused: wait-for cycle of operations %s",
		    text);
	return rv;
}

void nacti_ops_wait_del(nact_system *sys, uint64_t waiter, uint64_t corr)
{
	struct nacti_ops *t = sys->ops;
	if (waiter == 0)
		return;
	struct wedge *e = NULL;
	nng_mtx_lock(t->mtx);
	struct op *w = find(t, waiter);
	if (w != NULL) {
		for (struct wedge **pp = &w->waits; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->corr == corr) {
				e = *pp;
				*pp = e->next;
				break;
			}
		}
	}
	nng_mtx_unlock(t->mtx);
	free(e);
}

uint64_t nact_op_cycles(nact_system *sys, char *last, size_t len)
{
	if (sys == NULL)
		return 0;
	struct nacti_ops *t = sys->ops;
	nng_mtx_lock(t->mtx);
	uint64_t n = t->ncycles;
	if (last != NULL && len > 0)
		snprintf(last, len, "%s", t->last_cycle);
	nng_mtx_unlock(t->mtx);
	return n;
}

/* A request made on behalf of op `parent`: a child op "request" that the
 * callee's work runs under. *ropp = 0 when parent is not a live op here
 * (unknown: its id is passed on as is). NACT_ECANCELED when parent was
 * cancelled: no new work for it. */
int nacti_ops_request_begin(nact_system *sys, uint64_t parent, nact_aid to, uint64_t *ropp)
{
	char tags[40];
	nact_opid rop;
	*ropp = 0;
	snprintf(tags, sizeof(tags), "to=%#llx", (unsigned long long)to.v);
	int rv = nact_op_create(&rop, sys, "request", (nact_opid){parent}, tags);
	if (rv == 0) {
		nng_mtx_lock(sys->ops->mtx);
		struct op *o = find(sys->ops, rop.v);
		if (o != NULL)
			o->quiet = 1;
		nng_mtx_unlock(sys->ops->mtx);
	}
	if (rv == NACT_ESTATE)
		return nact_op_is_cancelled(sys, (nact_opid){parent}) ? NACT_ECANCELED : 0;
	if (rv == NACT_ENOENT)
		return 0;
	if (rv != 0)
		return rv;
	nact_op_start(sys, rop);
	*ropp = rop.v;
	return 0;
}
