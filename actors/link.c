/*
 * actors/link.c — monitors, links, trapping exits, and exit reasons.
 *
 * DESIGN
 * The monitors on an actor and its links live in its ext under ext->mtx,
 * because other actors add and remove them from their own threads. The
 * monitors an actor holds on others (mons_out) are its consumer's alone.
 * An actor's end (die() in actor.c) retires its id first, then takes its
 * lists under the lock: anyone who adds a monitor or link checks the id
 * under the same lock, so either it is in the lists that are notified, or
 * it sees the actor gone and gets NACT_EXIT_NOPROC at once. Nothing can
 * fall between the two.
 *
 * Notifications are control-lane messages (never bounded or dropped):
 * NACT_T_DOWN to watchers (corr = monitor ref) and NACTI_T_EXITSIG to
 * linked actors, which run_ctl (actor.c) turns into an exit or, for an
 * actor that traps exits, into a NACT_T_EXIT message for its behaviour. The
 * body is the msgpack map {"id", "reason", "text"} (nact_exit_info_read).
 *
 * A link to an actor of another node (node bits set) is kept in the
 * links list like any other, plus the node's own record (transport/
 * node.c, through sys->node_link): linking, unlinking and the end of a
 * linked actor go to the other node as frames, and the node delivers
 * the other side's exit signal (or nodedown) only while the link is still
 * in the list (nacti_link_take).
 *
 * Lock order: one ext mutex at a time; never two. The node may hold its
 * own mutex when it takes an ext mutex; the node hook is never called
 * with an ext mutex held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/node.h>

#include "actors/internal.h"

/* ---- exit reasons ---- */

const char *nact_exit_str(int reason)
{
	switch (reason) {
	case NACT_EXIT_NORMAL:
		return "normal";
	case NACT_EXIT_SHUTDOWN:
		return "shutdown";
	case NACT_EXIT_KILLED:
		return "killed";
	case NACT_EXIT_NOPROC:
		return "noproc";
	case NACT_EXIT_DEADLINE:
		return "deadline";
	case NACT_EXIT_INTENSITY:
		return "intensity";
	default:
		break;
	}
	if (NACT_EXIT_IS_SIGNAL(reason))
		return "signal";
	return nact_strerror(reason);
}

char *nact_exit_format(int reason, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return buf;
	if (NACT_EXIT_IS_SIGNAL(reason))
		snprintf(buf, len, "signal %d", NACT_EXIT_SIGNO(reason));
	else if (reason > 0)
		snprintf(buf, len, "error %d: %s", reason, nact_strerror(reason));
	else
		snprintf(buf, len, "%s", nact_exit_str(reason));
	return buf;
}

int nact_exit_abnormal(int reason)
{
	return reason != NACT_EXIT_NORMAL && reason != NACT_EXIT_SHUTDOWN;
}

void nact_exit_msg(nact_ctx *ctx, int reason, const char *text)
{
	nact_exit(ctx, reason);
	snprintf(ctx->text, sizeof(ctx->text), "%s", text ? text : "");
}

/* ---- exit info messages ---- */

int nacti_exitinfo_msg(nact_msg **mp, nact_system *sys, uint32_t type, uint64_t ref, nact_aid from,
    nact_aid id, int reason, const char *text)
{
	nact_msg *m;
	char buf[64];
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		return rv;
	if (text == NULL || text[0] == '\0')
		text = nact_exit_format(reason, buf, sizeof(buf));
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_map(&pk, 3);
	nact_pack_str(&pk, "id");
	nact_pack_uint(&pk, id.v);
	nact_pack_str(&pk, "reason");
	nact_pack_int(&pk, reason);
	nact_pack_str(&pk, "text");
	nact_pack_str(&pk, text);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	uint8_t *h = nacti_hdr(m);
	nacti_put64(h + NACTI_OFF_CORR, ref);
	nacti_put64(h + NACTI_OFF_SENDER, from.v);
	*mp = m;
	return 0;
}

int nacti_send_exitinfo(nact_system *sys, nact_aid to, uint32_t type, uint64_t ref, nact_aid from,
    nact_aid id, int reason, const char *text)
{
	nact_msg *m;
	int rv = nacti_exitinfo_msg(&m, sys, type, ref, from, id, reason, text);
	if (rv == 0 && (rv = nacti_deliver(sys, to, m, 1, 0)) != 0)
		nact_msg_free(m);
	return rv;
}

int nact_exit_info_read(const nact_msg *m, nact_exit_info *out)
{
	if (m == NULL || out == NULL || m->nm == NULL)
		return NACT_EINVAL;
	uint32_t t = nact_msg_type(m);
	if (t != NACT_T_DOWN && t != NACT_T_EXIT)
		return NACT_EINVAL;
	memset(out, 0, sizeof(*out));
	out->ref = t == NACT_T_DOWN ? nact_msg_corr(m) : 0;
	nact_reader r;
	uint32_t n;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv == 0)
		rv = nact_read_map(&r, &n);
	for (uint32_t i = 0; rv == 0 && i < n; i++) {
		const char *k, *s;
		size_t kl, sl;
		uint64_t u;
		int64_t v;
		if ((rv = nact_read_str(&r, &k, &kl)) != 0)
			break;
		if (kl == 2 && memcmp(k, "id", 2) == 0 && (rv = nact_read_uint(&r, &u)) == 0)
			out->id.v = u;
		else if (kl == 6 && memcmp(k, "reason", 6) == 0 &&
		    (rv = nact_read_int(&r, &v)) == 0)
			out->reason = (int)v;
		else if (kl == 4 && memcmp(k, "text", 4) == 0 &&
		    (rv = nact_read_str(&r, &s, &sl)) == 0)
			snprintf(out->text, sizeof(out->text), "%.*s", (int)sl, s);
		else if (rv == 0) {
			msgpack_object o; /* unknown key: skip its value */
			rv = nact_read_object(&r, &o);
		}
	}
	nact_reader_fini(&r);
	return rv;
}

/* ---- lists ---- */

static int mon_add(struct nacti_mon **a, uint32_t *n, uint32_t *cap, uint64_t ref, nact_aid who)
{
	if (*n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 4;
		struct nacti_mon *na = realloc(*a, nc * sizeof(*na));
		if (na == NULL)
			return NACT_ENOMEM;
		*a = na;
		*cap = nc;
	}
	(*a)[(*n)++] = (struct nacti_mon){ref, who};
	return 0;
}

/* Remove the entry with ref; its other end into *who. 1 if found. */
static int mon_del(struct nacti_mon *a, uint32_t *n, uint64_t ref, nact_aid *who)
{
	for (uint32_t i = 0; i < *n; i++) {
		if (a[i].ref == ref) {
			if (who != NULL)
				*who = a[i].who;
			a[i] = a[--*n];
			return 1;
		}
	}
	return 0;
}

static int link_has(const struct nacti_actor_ext *x, nact_aid id)
{
	for (uint32_t i = 0; i < x->nlinks; i++)
		if (x->links[i].v == id.v)
			return 1;
	return 0;
}

static int link_add(struct nacti_actor_ext *x, nact_aid id)
{
	if (link_has(x, id))
		return 0;
	if (x->nlinks == x->caplinks) {
		uint32_t nc = x->caplinks ? x->caplinks * 2 : 4;
		nact_aid *na = realloc(x->links, nc * sizeof(*na));
		if (na == NULL)
			return NACT_ENOMEM;
		x->links = na;
		x->caplinks = nc;
	}
	x->links[x->nlinks++] = id;
	return 0;
}

static void link_del(struct nacti_actor_ext *x, nact_aid id)
{
	for (uint32_t i = 0; i < x->nlinks; i++) {
		if (x->links[i].v == id.v) {
			x->links[i] = x->links[--x->nlinks];
			return;
		}
	}
}

void nacti_links_reset(struct nacti_actor_ext *x)
{
	nng_mtx_lock(x->mtx);
	x->nmons_in = 0;
	x->nlinks = 0;
	nng_mtx_unlock(x->mtx);
	x->nmons_out = 0;
	x->trap = 0;
	x->deadline_ms = 0;
}

void nacti_links_free(struct nacti_actor_ext *x)
{
	free(x->mons_in);
	free(x->links);
	free(x->mons_out);
	x->mons_in = x->mons_out = NULL;
	x->links = NULL;
}

/* The struct and ext of a live actor, ext created if needed; NULL if the
 * id is not alive (checked again under the lock by callers). */
static struct nacti_actor *live_ext(nact_system *sys, nact_aid id, struct nacti_actor_ext **xp)
{
	if (NACTI_ID_NODE(id.v) != 0 || id.v == 0)
		return NULL;
	struct nacti_actor *a = nacti_actor_at(sys, NACTI_ID_IDX(id.v));
	if (a == NULL || atomic_load_explicit(&a->id, memory_order_acquire) != id.v)
		return NULL;
	if (nacti_ext_shared(a, xp) != 0)
		return NULL;
	return a;
}

/* ---- monitors ---- */

int nact_monitor(nact_ctx *ctx, nact_aid target, uint64_t *refp)
{
	struct nacti_actor_ext *me, *tx;
	if (ctx == NULL || target.v == ctx->self.v)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(ctx->sys); /* isolation hook */
	int rv = nacti_ext_shared(ctx->a, &me);
	if (rv != 0)
		return rv;
	nact_system *sys = ctx->sys;
	uint64_t ref = atomic_fetch_add_explicit(&sys->corr_next, 1, memory_order_relaxed);
	if (NACTI_ID_NODE(target.v) != 0) { /* node hook: a remote target */
		int (*nm)(nact_system *, nact_aid, nact_aid, uint64_t) =
		    atomic_load_explicit(&sys->node_monitor, memory_order_acquire);
		if (nm == NULL)
			return nacti_send_exitinfo(sys, ctx->self, NACT_T_DOWN, ref, target, target,
			    NACT_EXIT_NOPROC, NULL);
		if ((rv = nm(sys, ctx->self, target, ref)) == 0 && refp != NULL)
			*refp = ref;
		return rv;
	}
	int added = 0;
	struct nacti_actor *t = live_ext(sys, target, &tx);
	if (t != NULL) {
		nng_mtx_lock(tx->mtx);
		/* seq_cst: pairs with die()'s id store then ext lock */
		if (atomic_load_explicit(&t->id, memory_order_seq_cst) == target.v) {
			rv = mon_add(&tx->mons_in, &tx->nmons_in, &tx->capmons_in, ref, ctx->self);
			added = rv == 0;
		}
		nng_mtx_unlock(tx->mtx);
		if (rv != 0)
			return rv;
	}
	if (added) {
		if ((rv = mon_add(&me->mons_out, &me->nmons_out, &me->capmons_out, ref, target)) !=
		    0) {
			nng_mtx_lock(tx->mtx);
			mon_del(tx->mons_in, &tx->nmons_in, ref, NULL);
			nng_mtx_unlock(tx->mtx);
			return rv;
		}
	} else {
		rv = nacti_send_exitinfo(sys, ctx->self, NACT_T_DOWN, ref, target, target,
		    NACT_EXIT_NOPROC, NULL);
		if (rv != 0)
			return rv;
	}
	NACTI_DEBUG(sys, "monitor %#llx -> %#llx ref %llu", (unsigned long long)ctx->self.v,
	    (unsigned long long)target.v, (unsigned long long)ref);
	if (refp != NULL)
		*refp = ref;
	return 0;
}

int nacti_monitor_add(nact_system *sys, nact_aid target, uint64_t ref, nact_aid watcher)
{
	struct nacti_actor_ext *tx;
	int rv = NACT_ENOENT;
	struct nacti_actor *t = live_ext(sys, target, &tx);
	if (t == NULL)
		return NACT_ENOENT;
	nng_mtx_lock(tx->mtx);
	if (atomic_load_explicit(&t->id, memory_order_seq_cst) == target.v)
		rv = mon_add(&tx->mons_in, &tx->nmons_in, &tx->capmons_in, ref, watcher);
	nng_mtx_unlock(tx->mtx);
	return rv;
}

/* The ext of id, locked, if id still names a live actor that has one;
 * else NULL (nothing locked). For removals: no ext means nothing to remove. */
static struct nacti_actor_ext *lock_if_live(nact_system *sys, nact_aid id)
{
	if (NACTI_ID_NODE(id.v) != 0)
		return NULL;
	struct nacti_actor *a = nacti_actor_at(sys, NACTI_ID_IDX(id.v));
	struct nacti_actor_ext *x = a ? nacti_actor_ext_any(a) : NULL;
	if (x == NULL)
		return NULL;
	nng_mtx_lock(x->mtx);
	if (atomic_load_explicit(&a->id, memory_order_seq_cst) == id.v)
		return x;
	nng_mtx_unlock(x->mtx);
	return NULL;
}

/* Remove ref from target's monitors (if target is still that actor). */
static void unmonitor_at(nact_system *sys, nact_aid target, uint64_t ref)
{
	struct nacti_actor_ext *tx = lock_if_live(sys, target);
	if (tx != NULL) {
		mon_del(tx->mons_in, &tx->nmons_in, ref, NULL);
		nng_mtx_unlock(tx->mtx);
	}
}

int nact_demonitor(nact_ctx *ctx, uint64_t ref)
{
	struct nacti_actor_ext *me = ctx ? nacti_actor_ext(ctx->a) : NULL;
	nact_aid target;
	if (me == NULL || !mon_del(me->mons_out, &me->nmons_out, ref, &target)) {
		/* node hook: a monitor of a remote actor */
		int (*nd)(nact_system *, nact_aid, uint64_t) = ctx == NULL ?
		    NULL :
		    atomic_load_explicit(&ctx->sys->node_demonitor, memory_order_acquire);
		return nd != NULL ? nd(ctx->sys, ctx->self, ref) : NACT_ENOENT;
	}
	unmonitor_at(ctx->sys, target, ref);
	return 0;
}

void nacti_monitor_del(nact_system *sys, nact_aid target, uint64_t ref)
{
	unmonitor_at(sys, target, ref);
}

/* ---- links ---- */

void nact_trap_exit(nact_ctx *ctx, int on)
{
	struct nacti_actor_ext *x;
	if (ctx != NULL && nacti_ext_shared(ctx->a, &x) == 0)
		x->trap = on != 0;
}

/* A link to a remote actor: our half here (so that our own end signals
 * it, through the node hook), the other half on its node. A node that is
 * down (or no node running) answers as a gone actor would: an exit signal
 * right away, reason nodedown (noproc when there is no node at all). */
static int link_remote(nact_ctx *ctx, struct nacti_actor_ext *me, nact_aid other)
{
	nact_system *sys = ctx->sys;
	int (*nl)(nact_system *, int, nact_aid, nact_aid, int, const char *) =
	    atomic_load_explicit(&sys->node_link, memory_order_acquire);
	if (nl == NULL)
		return nacti_send_exitinfo(sys, ctx->self, NACTI_T_EXITSIG, 0, other, other,
		    NACT_EXIT_NOPROC, NULL);
	nng_mtx_lock(me->mtx);
	int had = link_has(me, other);
	int rv = link_add(me, other);
	nng_mtx_unlock(me->mtx);
	if (rv != 0)
		return rv;
	if ((rv = nl(sys, NACTI_NL_LINK, ctx->self, other, 0, NULL)) == 0) {
		NACTI_DEBUG(sys, "link %#llx <-> remote %#llx", (unsigned long long)ctx->self.v,
		    (unsigned long long)other.v);
		return 0;
	}
	if (!had) {
		nng_mtx_lock(me->mtx);
		link_del(me, other);
		nng_mtx_unlock(me->mtx);
	}
	if (rv == NACT_ENODEDOWN)
		return nacti_send_exitinfo(sys, ctx->self, NACTI_T_EXITSIG, 0, other, other,
		    NACT_EXIT_NODEDOWN, "nodedown");
	return rv;
}

int nacti_link_add_remote(nact_system *sys, nact_aid local, nact_aid remote)
{
	struct nacti_actor_ext *x;
	int rv = NACT_ENOENT;
	struct nacti_actor *a = live_ext(sys, local, &x);
	if (a == NULL || NACTI_ID_NODE(remote.v) == 0)
		return NACT_ENOENT;
	nng_mtx_lock(x->mtx);
	if (atomic_load_explicit(&a->id, memory_order_seq_cst) == local.v)
		rv = link_add(x, remote);
	nng_mtx_unlock(x->mtx);
	return rv;
}

int nacti_link_take(nact_system *sys, nact_aid local, nact_aid remote)
{
	struct nacti_actor_ext *x = lock_if_live(sys, local);
	int had = 0;
	if (x != NULL) {
		had = link_has(x, remote);
		link_del(x, remote);
		nng_mtx_unlock(x->mtx);
	}
	return had;
}

int nact_link(nact_ctx *ctx, nact_aid other)
{
	struct nacti_actor_ext *me, *ox;
	if (ctx == NULL || other.v == ctx->self.v || other.v == 0)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(ctx->sys); /* isolation hook */
	int rv = nacti_ext_shared(ctx->a, &me);
	if (rv != 0)
		return rv;
	nact_system *sys = ctx->sys;
	int ok = 0;
	if (NACTI_ID_NODE(other.v) != 0) /* node hook: a remote actor */
		return link_remote(ctx, me, other);
	struct nacti_actor *o = live_ext(sys, other, &ox);
	if (o != NULL) {
		nng_mtx_lock(ox->mtx);
		if (atomic_load_explicit(&o->id, memory_order_seq_cst) == other.v) {
			rv = link_add(ox, ctx->self);
			ok = rv == 0;
		}
		nng_mtx_unlock(ox->mtx);
		if (rv != 0)
			return rv;
	}
	if (!ok)
		return nacti_send_exitinfo(sys, ctx->self, NACTI_T_EXITSIG, 0, other, other,
		    NACT_EXIT_NOPROC, NULL);
	nng_mtx_lock(me->mtx);
	rv = link_add(me, other);
	nng_mtx_unlock(me->mtx);
	if (rv != 0) {
		nng_mtx_lock(ox->mtx);
		link_del(ox, ctx->self);
		nng_mtx_unlock(ox->mtx);
		return rv;
	}
	NACTI_DEBUG(sys, "link %#llx <-> %#llx", (unsigned long long)ctx->self.v,
	    (unsigned long long)other.v);
	return 0;
}

static void unlink_at(nact_system *sys, nact_aid other, nact_aid self)
{
	struct nacti_actor_ext *ox = lock_if_live(sys, other);
	if (ox != NULL) {
		link_del(ox, self);
		nng_mtx_unlock(ox->mtx);
	}
}

int nact_unlink(nact_ctx *ctx, nact_aid other)
{
	struct nacti_actor_ext *me = ctx ? nacti_actor_ext(ctx->a) : NULL;
	if (ctx == NULL)
		return NACT_EINVAL;
	if (me != NULL) {
		nng_mtx_lock(me->mtx);
		link_del(me, other);
		nng_mtx_unlock(me->mtx);
	}
	if (NACTI_ID_NODE(other.v) != 0) { /* node hook: the remote half */
		int (*nl)(nact_system *, int, nact_aid, nact_aid, int, const char *) =
		    atomic_load_explicit(&ctx->sys->node_link, memory_order_acquire);
		if (nl != NULL)
			nl(ctx->sys, NACTI_NL_UNLINK, ctx->self, other, 0, NULL);
		return 0;
	}
	unlink_at(ctx->sys, other, ctx->self);
	return 0;
}

/* ---- the end of an actor ---- */

void nacti_links_notify(nact_system *sys, struct nacti_actor_ext *x, nact_aid self, int reason,
    const char *text)
{
	struct nacti_mon *mons;
	nact_aid *links;
	uint32_t nmons, nlinks;

	/* Take the lists: after this, adders see the id retired (or, for an
	 * isolated actor whose process died, start from empty lists). */
	nng_mtx_lock(x->mtx);
	mons = x->mons_in;
	nmons = x->nmons_in;
	links = x->links;
	nlinks = x->nlinks;
	x->mons_in = NULL;
	x->nmons_in = x->capmons_in = 0;
	x->links = NULL;
	x->nlinks = x->caplinks = 0;
	nng_mtx_unlock(x->mtx);

	if (text != NULL && text[0] == '\0')
		text = NULL;
	for (uint32_t i = 0; i < nmons; i++)
		nacti_send_exitinfo(sys, mons[i].who, NACT_T_DOWN, mons[i].ref, self, self, reason,
		    text);
	int (*nl)(nact_system *, int, nact_aid, nact_aid, int, const char *) =
	    nlinks > 0 ? atomic_load_explicit(&sys->node_link, memory_order_acquire) : NULL;
	for (uint32_t i = 0; i < nlinks; i++) {
		if (NACTI_ID_NODE(links[i].v) != 0) { /* node hook: a remote link */
			if (nl != NULL)
				nl(sys, NACTI_NL_EXIT, self, links[i], reason, text);
			continue;
		}
		unlink_at(sys, links[i], self);
		nacti_send_exitinfo(sys, links[i], NACTI_T_EXITSIG, 0, self, self, reason, text);
	}
	free(mons);
	free(links);
}

void nacti_links_exit(nact_ctx *ctx, struct nacti_actor_ext *x, uint64_t id)
{
	nacti_links_notify(ctx->sys, x, (nact_aid){id}, ctx->reason, ctx->text);
	/* Monitors this actor held on others are dropped. */
	for (uint32_t i = 0; i < x->nmons_out; i++)
		unmonitor_at(ctx->sys, x->mons_out[i].who, x->mons_out[i].ref);
	x->nmons_out = 0;
	x->trap = 0;
}

/* ---- signals from outside ---- */

static int ctl_to(nact_system *sys, nact_aid id, uint32_t type, int reason)
{
	if (sys == NULL)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys); /* isolation hook */
	if (!nact_alive(sys, id))
		return NACT_ENOENT;
	nact_ctx *ctx = nacti_cur;
	nact_aid from = ctx != NULL && ctx->sys == sys ? ctx->self : NACT_AID_NONE;
	if (type == NACTI_T_KILL) {
		nact_msg *m;
		int rv = nact_msg_alloc(&m, sys, NACTI_T_KILL);
		if (rv != 0)
			return rv;
		nacti_put64(nacti_hdr(m) + NACTI_OFF_SENDER, from.v);
		return nacti_deliver(sys, id, m, 1, 0);
	}
	return nacti_send_exitinfo(sys, id, type, 0, from, from, reason, NULL);
}

int nact_kill(nact_system *sys, nact_aid id)
{
	NACTI_DEBUG(sys, "kill %#llx", (unsigned long long)id.v);
	return ctl_to(sys, id, NACTI_T_KILL, NACT_EXIT_KILLED);
}

int nact_exit_actor(nact_system *sys, nact_aid id, int reason)
{
	return ctl_to(sys, id, NACTI_T_EXITSIG, reason);
}
