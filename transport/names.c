/*
 * transport/names.c — behaviours by name, remote spawn and cluster-wide
 * names (include/nactor/node.h, docs/names.md).
 *
 * One service actor per system, "nact.names", owns a struct gnames (its
 * state, also reachable as sys->gnames). The behaviour table and the
 * replica of cluster-wide names live there under g->mtx, so lookups and
 * registrations run on the caller's thread; everything that needs an actor
 * (monitoring registered actors, pending remote spawns, peer events,
 * frames from peers) goes through the service's mailbox, in order.
 *
 * Peers talk with K_NAMES frames (docs/wire.md), each one msgpack array:
 *   [1, token, behaviour, args]        spawn request
 *   [2, token, code, id48, text]       spawn result (code 0: id48 is the
 *                                      new actor's id on the sender)
 *   [3, name, owner, id48, time_ms]    owner registered name
 *   [4, name, owner, time_ms]          owner unregistered name
 * A node sends [3] for each of its names to every peer that comes up and
 * to every peer up when it registers; [4] when it unregisters or the actor
 * ends. A peer's names are dropped when it goes down.
 *
 * Lock order: node.c's node lock, then g->mtx, then node.c's peer locks
 * (frames are queued under g->mtx so their order matches the table's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/node.h>
#include <nactor/registry.h>
#include <nactor/supervisor.h>

#include "actors/internal.h"
#include "transport/names_int.h"

#define SVC_NAME "nact.names"
/* service-internal message types (node range, names block 0x80..0xBF) */
#define T_PEER 0xFFFF0790u  /* [node, name, up] */
#define T_FRAME 0xFFFF0791u /* [node, bin frame] */
#define T_WATCH 0xFFFF0792u /* [id]: monitor this registered actor */
#define T_NSTOP 0xFFFF0793u /* the node is stopping */
#define T_CHECK 0xFFFF0794u /* [node, owner]: drop owner's names unless node is up */

/* A peer can send REG before this node sees it up (both connections
 * authenticated). Its names are kept, and checked again after this long:
 * a peer that never comes up (so never goes down either) loses them. */
#define UNSEEN_MS 5000

enum { F_SPAWN = 1, F_SPAWN_R = 2, F_REG = 3, F_UNREG = 4 };

#define PENDING_MAX 4096
#define ID_LOW ((UINT64_C(1) << 48) - 1)

struct bdef {
	char name[NACT_BEHAVIOUR_NAME_MAX + 1];
	nact_behaviour_def def;
};

struct gent {
	char name[NACT_GLOBAL_NAME_MAX + 1];
	int mine;                           /* registered here */
	char owner[NACT_NODE_NAME_MAX + 1]; /* owner node (remote entries) */
	uint16_t node;                      /* local number of the owner, 0 = here */
	uint64_t id48;                      /* the actor's id on its owner */
	uint64_t t;                         /* registration time, ms since the epoch */
};

struct pend {
	uint64_t tok;
	uint16_t node;
	nact_aid who;
	uint64_t corr;
};

struct gnames {
	nact_system *sys;
	nng_mtx *mtx;
	nng_cv *cv; /* the name table changed */
	nact_aid svc;
	struct bdef *b;
	uint32_t nb, capb;
	struct gent *g;
	uint32_t ng, capg;
	/* service only */
	struct pend *p;
	uint32_t np, capp;
	uint64_t tok;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void gn_free(void *arg)
{
	struct gnames *g = arg;
	if (g == NULL)
		return;
	void *exp = g;
	atomic_compare_exchange_strong(&g->sys->gnames, &exp, NULL);
	if (g->cv)
		nng_cv_free(g->cv);
	if (g->mtx)
		nng_mtx_free(g->mtx);
	free(g->b);
	free(g->g);
	free(g->p);
	free(g);
}

static int svc_main(nact_ctx *ctx, nact_msg *m);

/* The system's gnames, created (with its service actor) on first use. */
static struct gnames *gn_get(nact_system *sys)
{
	struct gnames *g = atomic_load(&sys->gnames);
	if (g != NULL)
		return g;
	if (atomic_load(&sys->closing))
		return NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->sys = sys;
	if (nng_mtx_alloc(&g->mtx) != 0 || nng_cv_alloc(&g->cv, g->mtx) != 0) {
		gn_free(g);
		return NULL;
	}
	nng_mtx_lock(g->mtx);
	void *exp = NULL;
	if (!atomic_compare_exchange_strong(&sys->gnames, &exp, g)) {
		nng_mtx_unlock(g->mtx);
		gn_free(g);
		return exp;
	}
	nact_spawn_opts so = {0};
	so.name = SVC_NAME;
	int rv = nact_spawn(&g->svc, sys, svc_main, g, gn_free, &so);
	nng_mtx_unlock(g->mtx);
	if (rv != 0) {
		nact_log(sys, NACT_LOG_ERROR, "names: cannot start the %s service: %s", SVC_NAME,
		    nact_strerror(rv));
		gn_free(g);
		return NULL;
	}
	return g;
}

static nact_aid svc_aid(struct gnames *g)
{
	nng_mtx_lock(g->mtx);
	nact_aid a = g->svc;
	nng_mtx_unlock(g->mtx);
	return a;
}

/* ---- frames ---- */

static int frame_send(struct gnames *g, uint16_t node, nact_msg *f)
{
	size_t len;
	const void *b = nact_msg_body(f, &len);
	return nacti_node_send_names(g->sys, node, b, len);
}

static nact_msg *frame_reg(struct gnames *g, const struct gent *e, const char *self, int unreg)
{
	nact_msg *f;
	if (nact_msg_alloc(&f, g->sys, 0) != 0)
		return NULL;
	nact_pack pk;
	nact_pack_init(&pk, f);
	nact_pack_array(&pk, unreg ? 4 : 5);
	nact_pack_uint(&pk, unreg ? F_UNREG : F_REG);
	nact_pack_str(&pk, e->name);
	nact_pack_str(&pk, self);
	if (!unreg)
		nact_pack_uint(&pk, e->id48);
	nact_pack_uint(&pk, e->t);
	if (nact_pack_error(&pk) != 0) {
		nact_msg_free(f);
		return NULL;
	}
	return f;
}

/* Send e ([3] or [4]) to every peer that is up (g->mtx held). */
static void bcast_locked(struct gnames *g, const struct gent *e, int unreg)
{
	char self[NACT_NODE_NAME_MAX + 1];
	if (nacti_node_self(g->sys, self, sizeof(self)) != 0)
		return; /* not a node: nobody to tell */
	nact_msg *f = frame_reg(g, e, self, unreg);
	if (f == NULL)
		return;
	uint32_t np = nacti_node_npeers(g->sys);
	for (uint32_t no = 1; no <= np; no++)
		if (nact_node_up(g->sys, (uint16_t)no))
			frame_send(g, (uint16_t)no, f);
	nact_msg_free(f);
}

/* ---- the name table (g->mtx held) ---- */

static struct gent *gfind(struct gnames *g, const char *name)
{
	for (uint32_t i = 0; i < g->ng; i++)
		if (strcmp(g->g[i].name, name) == 0)
			return &g->g[i];
	return NULL;
}

static struct gent *gadd(struct gnames *g)
{
	if (g->ng == g->capg) {
		uint32_t c = g->capg ? g->capg * 2 : 16;
		struct gent *a = realloc(g->g, c * sizeof(*a));
		if (a == NULL)
			return NULL;
		g->g = a;
		g->capg = c;
	}
	struct gent *e = &g->g[g->ng++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void gdel(struct gnames *g, struct gent *e)
{
	*e = g->g[--g->ng];
	nng_cv_wake(g->cv);
}

/* (t, owner) order: < 0 if a wins over b. */
static int gcmp(uint64_t ta, const char *oa, uint64_t tb, const char *ob)
{
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(oa, ob);
}

/* ---- behaviours ---- */

static int bfind(struct gnames *g, const char *name)
{
	for (uint32_t i = 0; i < g->nb; i++)
		if (strcmp(g->b[i].name, name) == 0)
			return (int)i;
	return -1;
}

int nact_behaviour_register(nact_system *sys, const char *name, const nact_behaviour_def *def)
{
	if (sys == NULL || name == NULL || def == NULL || def->fn == NULL || name[0] == '\0' ||
	    strlen(name) > NACT_BEHAVIOUR_NAME_MAX)
		return NACT_EINVAL;
	struct gnames *g = gn_get(sys);
	if (g == NULL)
		return atomic_load(&sys->closing) ? NACT_ECLOSED : NACT_ENOMEM;
	int rv = 0;
	nng_mtx_lock(g->mtx);
	if (bfind(g, name) >= 0) {
		rv = NACT_EEXIST;
	} else if (g->nb == g->capb) {
		uint32_t c = g->capb ? g->capb * 2 : 8;
		struct bdef *a = realloc(g->b, c * sizeof(*a));
		if (a == NULL)
			rv = NACT_ENOMEM;
		else {
			g->b = a;
			g->capb = c;
		}
	}
	if (rv == 0) {
		struct bdef *b = &g->b[g->nb++];
		snprintf(b->name, sizeof(b->name), "%s", name);
		b->def = *def;
	}
	nng_mtx_unlock(g->mtx);
	return rv;
}

int nact_behaviour_unregister(nact_system *sys, const char *name)
{
	if (sys == NULL || name == NULL)
		return NACT_EINVAL;
	struct gnames *g = gn_get(sys);
	if (g == NULL)
		return NACT_ENOENT;
	nng_mtx_lock(g->mtx);
	int i = bfind(g, name);
	if (i >= 0)
		g->b[i] = g->b[--g->nb];
	nng_mtx_unlock(g->mtx);
	return i >= 0 ? 0 : NACT_ENOENT;
}

/* Spawn behaviour name here from args (runs in the service). */
static int spawn_local(struct gnames *g, const char *name, size_t nlen, const void *args,
    size_t alen, nact_aid *aidp, char *err, size_t errlen)
{
	char bn[NACT_BEHAVIOUR_NAME_MAX + 1];
	err[0] = '\0';
	if (nlen == 0 || nlen > NACT_BEHAVIOUR_NAME_MAX || memchr(name, '\0', nlen) != NULL) {
		snprintf(err, errlen, "bad behaviour name");
		return NACT_EINVAL;
	}
	memcpy(bn, name, nlen);
	bn[nlen] = '\0';
	nng_mtx_lock(g->mtx);
	int i = bfind(g, bn);
	nact_behaviour_def d;
	if (i >= 0)
		d = g->b[i].def;
	nng_mtx_unlock(g->mtx);
	if (i < 0) {
		snprintf(err, errlen, "no behaviour named \"%s\"", bn);
		return NACT_ENOENT;
	}
	void *state = NULL;
	if (d.init != NULL) {
		int rv = d.init(g->sys, args, alen, &state, err, errlen);
		if (rv != 0) {
			if (err[0] == '\0')
				snprintf(err, errlen, "%s: arguments refused: %s", bn,
				    nact_strerror(rv));
			return rv;
		}
	} else if (alen != 0) {
		snprintf(err, errlen, "%s takes no arguments", bn);
		return NACT_EBADMSG;
	}
	nact_spawn_opts so = {0};
	so.capacity = d.capacity;
	so.overflow = d.overflow;
	int rv = nact_spawn(aidp, g->sys, d.fn, state, d.fini, &so);
	if (rv != 0) {
		if (d.fini != NULL && state != NULL)
			d.fini(state);
		snprintf(err, errlen, "spawn %s: %s", bn, nact_strerror(rv));
	}
	return rv;
}

/* ---- replies of the service ---- */

static void reply_err_to(nact_system *sys, nact_aid who, uint64_t corr, int code, const char *t)
{
	nact_msg *r;
	if (nact_msg_alloc(&r, sys, NACT_T_ERROR) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, r);
	nact_pack_array(&pk, 2);
	nact_pack_int(&pk, code);
	nact_pack_str(&pk, t != NULL && t[0] ? t : nact_strerror(code));
	if (nact_pack_error(&pk) != 0 || nact_reply_to(sys, who, corr, r) != 0)
		nact_msg_free(r);
}

static void reply_ok_to(nact_system *sys, nact_aid who, uint64_t corr, nact_aid aid)
{
	nact_msg *r;
	if (nact_msg_alloc(&r, sys, NACT_T_SPAWN_OK) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, r);
	nact_pack_array(&pk, 1);
	nact_pack_uint(&pk, aid.v);
	if (nact_pack_error(&pk) != 0 || nact_reply_to(sys, who, corr, r) != 0)
		nact_msg_free(r);
}

static void pend_fail_node(struct gnames *g, uint16_t node, int all)
{
	for (uint32_t i = 0; i < g->np;) {
		if (all || g->p[i].node == node) {
			reply_err_to(g->sys, g->p[i].who, g->p[i].corr, NACT_ENODEDOWN,
			    "node went down during the spawn");
			g->p[i] = g->p[--g->np];
		} else {
			i++;
		}
	}
}

/* ---- service handlers ---- */

/* NACT_T_SPAWN_REQ [node, name, args] from a local requester. */
static void on_spawn_req(struct gnames *g, nact_msg *m)
{
	nact_system *sys = g->sys;
	nact_reader r;
	uint32_t n;
	uint64_t node;
	const char *name;
	size_t nl, al = 0;
	const void *args = NULL;
	nact_aid who = nact_msg_sender(m);
	uint64_t corr = nact_msg_corr(m);
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return;
	if (nact_reader_init(&r, m, NULL) != 0) {
		nact_reply_error(sys, m, NACT_EBADMSG, "spawn request: malformed body");
		return;
	}
	int rv = nact_read_array(&r, &n);
	if (rv == 0 && n != 3)
		rv = NACT_EBADMSG;
	if (rv == 0)
		rv = nact_read_uint(&r, &node);
	if (rv == 0)
		rv = nact_read_str(&r, &name, &nl);
	if (rv == 0)
		rv = nact_read_bin(&r, &args, &al);
	if (rv == 0 && node > NACT_NODE_MAX_PEERS)
		rv = NACT_EINVAL;
	if (rv != 0) {
		nact_reader_fini(&r);
		nact_reply_error(sys, m, NACT_EBADMSG,
		    "spawn request: expected [node, behaviour, args]");
		return;
	}
	if (node == 0) {
		char err[256];
		nact_aid aid;
		rv = spawn_local(g, name, nl, args, al, &aid, err, sizeof(err));
		nact_reader_fini(&r);
		if (rv == 0)
			reply_ok_to(sys, who, corr, aid);
		else
			reply_err_to(sys, who, corr, rv, err);
		return;
	}
	if (!nact_node_up(sys, (uint16_t)node)) {
		nact_reader_fini(&r);
		reply_err_to(sys, who, corr, NACT_ENODEDOWN, "node not up");
		return;
	}
	if (g->np == PENDING_MAX) {
		nact_reader_fini(&r);
		reply_err_to(sys, who, corr, NACT_ERESOURCE, "too many spawns in flight");
		return;
	}
	if (g->np == g->capp) {
		uint32_t c = g->capp ? g->capp * 2 : 16;
		struct pend *a = realloc(g->p, c * sizeof(*a));
		if (a == NULL) {
			nact_reader_fini(&r);
			reply_err_to(sys, who, corr, NACT_ENOMEM, NULL);
			return;
		}
		g->p = a;
		g->capp = c;
	}
	nact_msg *f;
	rv = nact_msg_alloc(&f, sys, 0);
	if (rv == 0) {
		nact_pack pk;
		nact_pack_init(&pk, f);
		nact_pack_array(&pk, 4);
		nact_pack_uint(&pk, F_SPAWN);
		nact_pack_uint(&pk, ++g->tok);
		nact_pack_strn(&pk, name, nl);
		nact_pack_bin(&pk, args, al);
		rv = nact_pack_error(&pk);
		if (rv == 0)
			rv = frame_send(g, (uint16_t)node, f);
		nact_msg_free(f);
	}
	nact_reader_fini(&r);
	if (rv != 0) {
		reply_err_to(sys, who, corr, rv, "cannot send the spawn request");
		return;
	}
	g->p[g->np++] = (struct pend){g->tok, (uint16_t)node, who, corr};
}

static void send_lost(struct gnames *g, const struct gent *e, const char *winner)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, g->sys, NACT_T_NAME_LOST) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 2);
	nact_pack_str(&pk, e->name);
	nact_pack_str(&pk, winner);
	nact_aid a = {e->id48};
	if (nact_pack_error(&pk) != 0 || nact_send(g->sys, a, m) != 0)
		nact_msg_free(m);
}

/* [3, name, owner, id48, t] from peer `node`. */
static void on_reg(struct gnames *g, uint16_t node, const char *name, const char *owner,
    uint64_t id48, uint64_t t)
{
	char self[NACT_NODE_NAME_MAX + 1] = "";
	nacti_node_self(g->sys, self, sizeof(self));
	nng_mtx_lock(g->mtx);
	struct gent *e = gfind(g, name);
	if (e != NULL && !e->mine && strcmp(e->owner, owner) == 0) {
		e->node = node;
		e->id48 = id48;
		e->t = t;
	} else if (e != NULL) {
		const char *eo = e->mine ? self : e->owner;
		int neww = gcmp(t, owner, e->t, eo) < 0;
		nact_log(g->sys, NACT_LOG_WARN,
		    "names: conflict on global name \"%s\" between node %s (t=%llu) and node %s "
		    "(t=%llu): node %s keeps it",
		    name, eo, (unsigned long long)e->t, owner, (unsigned long long)t,
		    neww ? owner : eo);
		if (neww) {
			if (e->mine)
				send_lost(g, e, owner);
			e->mine = 0;
			snprintf(e->owner, sizeof(e->owner), "%s", owner);
			e->node = node;
			e->id48 = id48;
			e->t = t;
			nng_cv_wake(g->cv);
		}
	} else if ((e = gadd(g)) != NULL) {
		snprintf(e->name, sizeof(e->name), "%s", name);
		snprintf(e->owner, sizeof(e->owner), "%s", owner);
		e->node = node;
		e->id48 = id48;
		e->t = t;
		nng_cv_wake(g->cv);
	}
	nng_mtx_unlock(g->mtx);
}

static void on_unreg(struct gnames *g, const char *name, const char *owner, uint64_t t)
{
	nng_mtx_lock(g->mtx);
	struct gent *e = gfind(g, name);
	if (e != NULL && !e->mine && strcmp(e->owner, owner) == 0 && e->t == t)
		gdel(g, e);
	nng_mtx_unlock(g->mtx);
}

static int rd_cstr(nact_reader *r, char *out, size_t cap)
{
	const char *s;
	size_t n;
	int rv = nact_read_str(r, &s, &n);
	if (rv != 0)
		return rv;
	if (n == 0 || n >= cap || memchr(s, '\0', n) != NULL)
		return NACT_EBADMSG;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static void check_later(struct gnames *g, uint16_t node, const char *owner)
{
	nact_msg *m;
	nact_timer t;
	if (nact_msg_alloc(&m, g->sys, T_CHECK) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 2);
	nact_pack_uint(&pk, node);
	nact_pack_str(&pk, owner);
	if (nact_pack_error(&pk) != 0 || nact_send_after(g->sys, svc_aid(g), m, UNSEEN_MS, &t) != 0)
		nact_msg_free(m);
}

/* A K_NAMES frame from peer node. */
static void on_frame(struct gnames *g, uint16_t node, const void *buf, size_t len)
{
	nact_system *sys = g->sys;
	nact_reader r;
	uint32_t n;
	uint64_t op = 0, tok, id, t;
	int rv = nact_reader_init_buf(&r, buf, len, NULL);
	if (rv == 0)
		rv = nact_read_array(&r, &n);
	if (rv == 0)
		rv = nact_read_uint(&r, &op);
	if (rv != 0) {
		op = 0;
	} else if (op == F_SPAWN && n == 4) {
		const char *bn;
		size_t bl, al;
		const void *args;
		char err[256] = "";
		nact_aid aid = {0};
		if ((rv = nact_read_uint(&r, &tok)) == 0 &&
		    (rv = nact_read_str(&r, &bn, &bl)) == 0 &&
		    (rv = nact_read_bin(&r, &args, &al)) == 0) {
			int code = spawn_local(g, bn, bl, args, al, &aid, err, sizeof(err));
			nact_msg *f;
			if (nact_msg_alloc(&f, sys, 0) == 0) {
				nact_pack pk;
				nact_pack_init(&pk, f);
				nact_pack_array(&pk, 5);
				nact_pack_uint(&pk, F_SPAWN_R);
				nact_pack_uint(&pk, tok);
				nact_pack_int(&pk, code);
				nact_pack_uint(&pk, aid.v & ID_LOW);
				nact_pack_str(&pk, err);
				if (nact_pack_error(&pk) == 0 && frame_send(g, node, f) != 0 &&
				    code == 0)
					nact_stop(sys, aid); /* nobody will hear of it */
				nact_msg_free(f);
			}
		}
	} else if (op == F_SPAWN_R && n == 5) {
		int64_t code;
		const char *tx;
		size_t tl;
		if ((rv = nact_read_uint(&r, &tok)) == 0 && (rv = nact_read_int(&r, &code)) == 0 &&
		    (rv = nact_read_uint(&r, &id)) == 0 &&
		    (rv = nact_read_str(&r, &tx, &tl)) == 0) {
			char text[256];
			snprintf(text, sizeof(text), "%.*s", (int)(tl < 255 ? tl : 255), tx);
			for (uint32_t i = 0; i < g->np; i++) {
				if (g->p[i].tok == tok && g->p[i].node == node) {
					struct pend p = g->p[i];
					g->p[i] = g->p[--g->np];
					nact_aid a = {id & ID_LOW};
					if (code == 0)
						reply_ok_to(sys, p.who, p.corr,
						    nact_aid_on(node, a));
					else
						reply_err_to(sys, p.who, p.corr,
						    code < 0 || code > INT32_MAX ? NACT_EBADMSG :
						                                   (int)code,
						    text);
					break;
				}
			}
		}
	} else if ((op == F_REG && n == 5) || (op == F_UNREG && n == 4)) {
		char name[NACT_GLOBAL_NAME_MAX + 1], owner[NACT_NODE_NAME_MAX + 1];
		id = 0;
		if ((rv = rd_cstr(&r, name, sizeof(name))) == 0 &&
		    (rv = rd_cstr(&r, owner, sizeof(owner))) == 0 &&
		    (op == F_UNREG || (rv = nact_read_uint(&r, &id)) == 0) &&
		    (rv = nact_read_uint(&r, &t)) == 0) {
			if (op == F_REG) {
				on_reg(g, node, name, owner, id & ID_LOW, t);
				if (!nact_node_up(sys, node))
					check_later(g, node, owner);
			} else
				on_unreg(g, name, owner, t);
		}
	} else {
		rv = NACT_EBADMSG;
	}
	nact_reader_fini(&r);
	if (rv != 0)
		nact_log(sys, NACT_LOG_WARN, "names: bad frame (op %llu) from node %u: %s",
		    (unsigned long long)op, node, nact_strerror(rv));
}

static void on_peer(struct gnames *g, uint16_t node, const char *name, int up)
{
	if (up) {
		char self[NACT_NODE_NAME_MAX + 1];
		if (nacti_node_self(g->sys, self, sizeof(self)) != 0)
			return;
		nng_mtx_lock(g->mtx);
		for (uint32_t i = 0; i < g->ng; i++) {
			if (!g->g[i].mine)
				continue;
			nact_msg *f = frame_reg(g, &g->g[i], self, 0);
			if (f != NULL) {
				frame_send(g, node, f);
				nact_msg_free(f);
			}
		}
		nng_mtx_unlock(g->mtx);
		return;
	}
	pend_fail_node(g, node, 0);
	nng_mtx_lock(g->mtx);
	uint32_t gone = 0;
	for (uint32_t i = 0; i < g->ng;) {
		if (!g->g[i].mine && (name == NULL || strcmp(g->g[i].owner, name) == 0)) {
			gdel(g, &g->g[i]);
			gone++;
		} else {
			i++;
		}
	}
	nng_mtx_unlock(g->mtx);
	if (gone > 0)
		nact_log(g->sys, NACT_LOG_INFO, "names: node %s down: %u global names dropped",
		    name ? name : "(all)", gone);
}

/* A registered actor ended: drop its names everywhere. */
static void on_down(struct gnames *g, nact_msg *m)
{
	nact_exit_info xi;
	if (nact_exit_info_read(m, &xi) != 0 || NACTI_ID_NODE(xi.id.v) != 0)
		return;
	nng_mtx_lock(g->mtx);
	for (uint32_t i = 0; i < g->ng;) {
		struct gent *e = &g->g[i];
		if (e->mine && e->id48 == xi.id.v) {
			bcast_locked(g, e, 1);
			gdel(g, e);
		} else {
			i++;
		}
	}
	nng_mtx_unlock(g->mtx);
}

static int svc_main(nact_ctx *ctx, nact_msg *m)
{
	struct gnames *g = nact_state(ctx);
	uint32_t type = nact_msg_type(m);
	nact_reader r;
	uint32_t n;
	uint64_t node = 0, up = 0, id = 0;
	const char *s = NULL;
	const void *b = NULL;
	size_t sl = 0;
	switch (type) {
	case NACT_T_SPAWN_REQ:
		on_spawn_req(g, m);
		return 0;
	case NACT_T_DOWN:
		/* only this process's monitors (a remote actor could forge one) */
		if (NACTI_ID_NODE(nact_msg_sender(m).v) == 0)
			on_down(g, m);
		return 0;
	case T_PEER:
	case T_FRAME:
	case T_WATCH:
	case T_NSTOP:
	case T_CHECK:
		if (NACTI_ID_NODE(nact_msg_sender(m).v) != 0)
			break; /* internal messages come from this process only */
		if (type == T_NSTOP) {
			on_peer(g, 0, NULL, 0);
			pend_fail_node(g, 0, 1);
			return 0;
		}
		if (nact_reader_init(&r, m, NULL) != 0)
			break;
		int rv = nact_read_array(&r, &n);
		if (rv == 0)
			rv = nact_read_uint(&r, type == T_WATCH ? &id : &node);
		if (rv == 0 && type == T_PEER && n == 3 && (rv = nact_read_str(&r, &s, &sl)) == 0 &&
		    (rv = nact_read_uint(&r, &up)) == 0) {
			char name[NACT_NODE_NAME_MAX + 1];
			snprintf(name, sizeof(name), "%.*s", (int)sl, s);
			on_peer(g, (uint16_t)node, name, (int)up);
		} else if (rv == 0 && type == T_FRAME && n == 2 &&
		    (rv = nact_read_bin(&r, &b, &sl)) == 0) {
			on_frame(g, (uint16_t)node, b, sl);
		} else if (rv == 0 && type == T_CHECK && n == 2 &&
		    (rv = nact_read_str(&r, &s, &sl)) == 0) {
			char owner[NACT_NODE_NAME_MAX + 1];
			snprintf(owner, sizeof(owner), "%.*s", (int)sl, s);
			if (!nact_node_up(g->sys, (uint16_t)node))
				on_peer(g, (uint16_t)node, owner, 0);
		} else if (rv == 0 && type == T_WATCH) {
			nact_aid a = {id};
			nact_monitor(ctx, a, NULL);
		}
		nact_reader_fini(&r);
		return 0;
	default:
		break;
	}
	if (nact_msg_flags(m) & NACT_MF_REQUEST)
		nact_reply_error(nact_sys(ctx), m, NACT_EBADMSG, SVC_NAME ": unknown request");
	else
		nact_log(nact_sys(ctx), NACT_LOG_DEBUG, "names: ignored a message of type 0x%x",
		    type);
	return 0;
}

/* ---- hooks from node.c ---- */

static void svc_post(struct gnames *g, nact_msg *m)
{
	if (nact_send(g->sys, svc_aid(g), m) != 0)
		nact_msg_free(m);
}

void nacti_names_peer(nact_system *sys, uint16_t node, const char *name, int up)
{
	struct gnames *g = gn_get(sys);
	nact_msg *m;
	if (g == NULL || nact_msg_alloc(&m, sys, T_PEER) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 3);
	nact_pack_uint(&pk, node);
	nact_pack_str(&pk, name);
	nact_pack_uint(&pk, up ? 1 : 0);
	svc_post(g, m);
}

void nacti_names_frame(nact_system *sys, uint16_t node, const void *body, size_t len)
{
	struct gnames *g = gn_get(sys);
	nact_msg *m;
	if (g == NULL || nact_msg_alloc(&m, sys, T_FRAME) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 2);
	nact_pack_uint(&pk, node);
	nact_pack_bin(&pk, body, len);
	svc_post(g, m);
}

void nacti_names_node_stop(nact_system *sys)
{
	struct gnames *g = atomic_load(&sys->gnames);
	nact_msg *m;
	if (g == NULL || nact_msg_alloc(&m, sys, T_NSTOP) != 0)
		return;
	svc_post(g, m);
}

/* ---- spawn API ---- */

static nact_msg *spawn_msg(nact_system *sys, uint16_t node, const char *name, const void *args,
    size_t len)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, NACT_T_SPAWN_REQ) != 0)
		return NULL;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 3);
	nact_pack_uint(&pk, node);
	nact_pack_str(&pk, name);
	nact_pack_bin(&pk, args, len);
	if (nact_pack_error(&pk) != 0) {
		nact_msg_free(m);
		return NULL;
	}
	return m;
}

int nact_node_spawn_result(const nact_msg *reply, nact_aid *aidp, char *err, size_t errlen)
{
	if (reply == NULL || aidp == NULL)
		return NACT_EINVAL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (nact_msg_type(reply) == NACT_T_ERROR) {
		int code = NACT_EBADMSG;
		char tmp[1];
		int rv = nact_error_read(reply, &code, err != NULL && errlen > 0 ? err : tmp,
		    err != NULL && errlen > 0 ? errlen : sizeof(tmp));
		return rv != 0 ? rv : code;
	}
	if (nact_msg_type(reply) != NACT_T_SPAWN_OK)
		return NACT_EBADMSG;
	nact_reader r;
	uint32_t n;
	uint64_t v = 0;
	int rv = nact_reader_init(&r, reply, NULL);
	if (rv == 0)
		rv = nact_read_array(&r, &n);
	if (rv == 0)
		rv = n == 1 ? nact_read_uint(&r, &v) : NACT_EBADMSG;
	nact_reader_fini(&r);
	if (rv == 0)
		aidp->v = v;
	return rv;
}

static int spawn_check(nact_system *sys, const char *name, const void *args, size_t len)
{
	if (sys == NULL || name == NULL || name[0] == '\0' ||
	    strlen(name) > NACT_BEHAVIOUR_NAME_MAX || (args == NULL && len > 0) ||
	    len > NACT_SPAWN_ARGS_MAX)
		return NACT_EINVAL;
	return 0;
}

int nact_node_spawn(nact_system *sys, uint16_t node, const char *name, const void *args, size_t len,
    nact_aid *aidp, int timeout_ms, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	int rv = spawn_check(sys, name, args, len);
	if (rv != 0 || aidp == NULL)
		return NACT_EINVAL;
	if (nacti_cur != NULL)
		return NACT_EDEADLK;
	struct gnames *g = gn_get(sys);
	if (g == NULL)
		return NACT_ECLOSED;
	nact_msg *m = spawn_msg(sys, node, name, args, len), *r = NULL;
	if (m == NULL)
		return NACT_ENOMEM;
	rv = nact_call(sys, svc_aid(g), m, timeout_ms, &r);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		return rv;
	}
	rv = nact_node_spawn_result(r, aidp, err, errlen);
	nact_msg_free(r);
	return rv;
}

int nact_node_spawn_request(nact_ctx *ctx, uint16_t node, const char *name, const void *args,
    size_t len, int timeout_ms, nact_reply_fn cb, void *arg)
{
	if (ctx == NULL || cb == NULL)
		return NACT_EINVAL;
	nact_system *sys = nact_sys(ctx);
	int rv = spawn_check(sys, name, args, len);
	if (rv != 0)
		return rv;
	struct gnames *g = gn_get(sys);
	if (g == NULL)
		return NACT_ECLOSED;
	nact_msg *m = spawn_msg(sys, node, name, args, len);
	if (m == NULL)
		return NACT_ENOMEM;
	rv = nact_request(ctx, svc_aid(g), m, timeout_ms, cb, arg);
	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

/* ---- global names API ---- */

static int gname_ok(const char *name)
{
	return name != NULL && name[0] != '\0' && strlen(name) <= NACT_GLOBAL_NAME_MAX;
}

int nact_global_register(nact_system *sys, const char *name, nact_aid aid)
{
	if (sys == NULL || !gname_ok(name) || aid.v == 0 || NACTI_ID_NODE(aid.v) != 0)
		return NACT_EINVAL;
	struct gnames *g = gn_get(sys);
	if (g == NULL)
		return NACT_ECLOSED;
	if (!nact_alive(sys, aid))
		return NACT_EDEAD;
	nact_msg *w;
	if (nact_msg_alloc(&w, sys, T_WATCH) != 0)
		return NACT_ENOMEM;
	nact_pack pk;
	nact_pack_init(&pk, w);
	nact_pack_array(&pk, 1);
	nact_pack_uint(&pk, aid.v);
	int rv = 0;
	nng_mtx_lock(g->mtx);
	struct gent *e = gfind(g, name);
	if (e != NULL) {
		rv = NACT_EEXIST;
	} else if ((e = gadd(g)) == NULL) {
		rv = NACT_ENOMEM;
	} else {
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->mine = 1;
		e->id48 = aid.v;
		e->t = wall_ms();
		bcast_locked(g, e, 0);
		nng_cv_wake(g->cv);
	}
	nng_mtx_unlock(g->mtx);
	if (rv == 0)
		svc_post(g, w); /* monitor it: its end removes the name */
	else
		nact_msg_free(w);
	return rv;
}

int nact_global_unregister(nact_system *sys, const char *name)
{
	if (sys == NULL || !gname_ok(name))
		return NACT_EINVAL;
	struct gnames *g = gn_get(sys);
	if (g == NULL)
		return NACT_ENOENT;
	int rv = 0;
	nng_mtx_lock(g->mtx);
	struct gent *e = gfind(g, name);
	if (e == NULL) {
		rv = NACT_ENOENT;
	} else if (!e->mine) {
		rv = NACT_ESTATE;
	} else {
		bcast_locked(g, e, 1);
		gdel(g, e);
	}
	nng_mtx_unlock(g->mtx);
	return rv;
}

int nact_global_whereis(nact_system *sys, const char *name, nact_aid *aidp, int timeout_ms)
{
	if (sys == NULL || !gname_ok(name) || aidp == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	if (timeout_ms > 0 && nacti_cur != NULL)
		return NACT_EDEADLK;
	struct gnames *g = gn_get(sys);
	if (g == NULL)
		return NACT_ENOENT;
	nng_time until = nng_clock() + (nng_time)timeout_ms;
	int rv = NACT_ENOENT;
	nng_mtx_lock(g->mtx);
	for (;;) {
		struct gent *e = gfind(g, name);
		if (e != NULL) {
			nact_aid a = {e->id48};
			*aidp = e->mine ? a : nact_aid_on(e->node, a);
			rv = 0;
			break;
		}
		if (timeout_ms == 0)
			break;
		if (nng_cv_until(g->cv, until) == NNG_ETIMEDOUT) {
			rv = NACT_ETIMEDOUT;
			break;
		}
	}
	nng_mtx_unlock(g->mtx);
	return rv;
}

uint32_t nact_global_count(nact_system *sys)
{
	struct gnames *g = sys ? gn_get(sys) : NULL;
	if (g == NULL)
		return 0;
	nng_mtx_lock(g->mtx);
	uint32_t n = g->ng;
	nng_mtx_unlock(g->mtx);
	return n;
}
