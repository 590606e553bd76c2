/*
 * supervisor/supervisor.c — supervision trees (include/nactor/supervisor.h).
 *
 * DESIGN
 * A supervisor is an ordinary actor. Its state holds a copy of the spec and
 * a table of children in start order; everything it does happens in its
 * own handler, one message at a time, so nothing in it needs a lock. It
 * traps exits, monitors each child (the DOWN message says which child ended
 * and why) and links to it, so that a supervisor that is itself killed
 * takes its children with it, as in OTP.
 *
 * Nothing blocks a worker. Waiting for a child to end after nact_stop is a
 * child state (C_STOPPING) plus a timer message to self: when it fires
 * first, the child is killed. Restart delays (backoff) are timer messages
 * too. Children are started inside the supervisor's handler, so a child
 * that is a supervisor is started without a blocking call: nact_sup_start
 * notices it runs in a handler (nact_call refuses with NACT_EDEADLK),
 * spawns the supervisor and sends it an INIT message; it starts its
 * children on that message and, if one fails, exits with the error, which
 * its parent sees as a DOWN. From outside actors (a root), nact_sup_start
 * sends INIT as a request and returns the result of the start.
 *
 * Phases: P_INIT (before INIT), P_RUN, P_GROUP (a one-for-all or
 * rest-for-one restart: stopping the group, then starting it again),
 * P_SHUTDOWN (stopping everything, then exiting), P_DONE (exit requested).
 *
 * Invariants:
 *  - at most one stop sequence (group restart or shutdown) at a time. It
 *    walks the table from the end (reverse start order) down to g_from and
 *    stops one running child at a time, waiting for its DOWN (or its kill
 *    after the shutdown timeout) before the next. progress() moves it on
 *    after every message.
 *  - each restart decision is counted once in the intensity window (a
 *    group restart counts once, as in OTP), whether or not the start then
 *    succeeds; a failed start counts as another failure. So a child that
 *    can never start escalates after `intensity` attempts.
 *  - timer messages name a child by serial and generation; one whose
 *    generation is stale is ignored, so a cancelled timer that fired anyway
 *    does no harm.
 *  - every death of a linked child brings one DOWN (monitor) and then one
 *    EXIT (link), in that order. The supervisor notes the dead child's id
 *    at the DOWN (s->exits) and drops the EXIT that follows; any other EXIT
 *    is a stop request (a trapped nact_stop), the parent's end, or a linked
 *    actor's failure, and shuts the supervisor down.
 *  - a child that ends while the system closes is not a failure: the
 *    supervisor shuts down instead. nact_system_close stops every actor in
 *    slot order, so children may end (and their DOWNs arrive) before the
 *    supervisor handles its own stop.
 *
 * Requests from outside (nact_sup_start_child, _stop_child, _children) are
 * nact_call requests with msgpack bodies (supervisor_internal.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/actor.h>
#include <nactor/mailbox.h>
#include <nactor/registry.h>
#include <nactor/supervisor.h>

#include "actors/internal.h" /* nacti_metrics_restarted */
#include "registry/server_internal.h"
#include "supervisor/supervisor_internal.h"

#define SHUTDOWN_DEFAULT_MS 5000
#define INTENSITY_DEFAULT 3
#define PERIOD_DEFAULT_MS 5000
#define BACKOFF_CAP_DEFAULT_MS 30000
#define INIT_WAIT_MS 30000 /* base wait for a root's start (plus the children's shutdowns) */
#define TEXT_MAX 256

enum { C_DOWN, C_UP, C_STOPPING, C_WAIT };
enum { P_INIT, P_RUN, P_GROUP, P_SHUTDOWN, P_DONE };

/* One child. */
struct child {
	const nact_child_spec *spec; /* in the supervisor's copy (dynamic: the template) */
	void *extra;                 /* dynamic children: nact_sup_start_child's extra */
	uint64_t serial;             /* names the child in timer messages */
	int state;                   /* C_* */
	nact_aid aid;                /* current actor (C_UP, C_STOPPING), else 0 */
	nact_aid last;               /* the last actor it was (stop_child, isolated restart) */
	uint64_t mref;               /* monitor reference on aid */
	int linked;                  /* aid is linked: its EXIT follows its DOWN */
	int started;                 /* started once: later starts are restarts */
	int in_group;                /* start again when the group restart ends */
	int killed;                  /* C_STOPPING: the kill was sent */
	int iso_held;                /* isolated and down: its id and mailbox may be kept */
	int no_restart;              /* stopped through nact_sup_stop_child */
	uint32_t restarts;           /* restarts so far */
	int last_reason;             /* last exit reason (or failed start's error) */
	char last_text[96];          /* its text, for escalation messages */
	uint32_t backoff_ms;         /* delay of the pending restart, 0 if none */
	uint32_t consec;             /* restarts in a row, for the doubling delay */
	uint64_t attempt_ns;         /* when it was last started */
	nact_timer timer;            /* pending kill or restart timer */
	uint64_t tgen;               /* generation carried by that timer */
	int req;                     /* a stop_child request waits for its end */
	nact_aid req_to;             /* ... its reply address */
	uint64_t req_corr;           /* ... and correlation id */
};

struct sup {
	nact_system *sys;
	char *name;             /* spec name or "supervisor" (for logs) */
	nact_sup_spec spec;     /* copy; children and template point below */
	nact_child_spec *specs; /* static children, ids copied */
	nact_child_spec tmpl;   /* dynamic children's template, id copied */
	struct child **kids;    /* children in start order */
	uint32_t nkids, capkids;
	uint64_t serials; /* last serial given */
	int phase;        /* P_* */
	int root;         /* started from outside actors: no parent */
	int named;        /* registered under name */
	nact_aid parent;  /* who started it from a handler (linked) */
	/* restart intensity: times of the last restarts, a ring */
	uint64_t *rtimes;
	uint32_t rcap, rhead, rn;
	/* the stop sequence (P_GROUP, P_SHUTDOWN) */
	uint32_t g_from;    /* lowest index in it */
	int64_t g_cursor;   /* next index to stop, walking down */
	uint32_t g_delay;   /* P_GROUP: backoff before starting again */
	int g_force;        /* P_GROUP: start through a timer even at 0 ms */
	int g_armed;        /* P_GROUP: the timer is pending */
	nact_timer g_timer; /* ... its handle */
	uint64_t g_gen;     /* ... and generation */
	int exit_reason;    /* P_SHUTDOWN: the reason to end with */
	char exit_text[TEXT_MAX];
	int init_failed;    /* the shutdown undoes a failed start ... */
	int init_err;       /* ... that failed with this error */
	int init_req;       /* a root's start waits for the reply */
	nact_aid init_to;   /* ... its reply address */
	uint64_t init_corr; /* ... and correlation id */
	/* dead linked children whose EXIT is still to come */
	nact_aid *exits;
	uint32_t nexits, capexits;
	uint64_t rng;  /* backoff jitter (xorshift64) */
	nact_aid self; /* set at INIT */
	int listed;    /* in the registry's supervisor table (server_internal.h) */
};

/* ---- spec copy ---- */

static int child_spec_check(const nact_child_spec *c)
{
	if (c == NULL || c->id == NULL || c->id[0] == '\0' || c->start == NULL)
		return NACT_EINVAL;
	if (c->restart < NACT_PERMANENT || c->restart > NACT_TEMPORARY)
		return NACT_EINVAL;
	return 0;
}

static int spec_check(const nact_sup_spec *sp)
{
	if (sp == NULL || sp->strategy < NACT_ONE_FOR_ONE || sp->strategy > NACT_SIMPLE_ONE_FOR_ONE)
		return NACT_EINVAL;
	if (sp->backoff_jitter_pct > 100)
		return NACT_EINVAL;
	if (sp->strategy == NACT_SIMPLE_ONE_FOR_ONE)
		return sp->nchildren == 0 ? child_spec_check(sp->child_template) : NACT_EINVAL;
	if (sp->nchildren > 0 && sp->children == NULL)
		return NACT_EINVAL;
	for (uint32_t i = 0; i < sp->nchildren; i++) {
		if (child_spec_check(&sp->children[i]) != 0)
			return NACT_EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(sp->children[i].id, sp->children[j].id) == 0)
				return NACT_EINVAL; /* ids name children: unique */
	}
	return 0;
}

static void child_free(struct child *c)
{
	free(c);
}

static void sup_free(struct sup *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->nkids; i++)
		child_free(s->kids[i]);
	free(s->kids);
	if (s->specs != NULL)
		for (uint32_t i = 0; i < s->spec.nchildren; i++)
			free((char *)s->specs[i].id);
	free(s->specs);
	free((char *)s->tmpl.id);
	free(s->name);
	free(s->rtimes);
	free(s->exits);
	free(s);
}

static struct child *child_new(struct sup *s, const nact_child_spec *spec, void *extra)
{
	struct child *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->spec = spec;
	c->extra = extra;
	c->serial = ++s->serials;
	c->state = C_DOWN;
	return c;
}

/* Append c to the table (start order). */
static int kids_add(struct sup *s, struct child *c)
{
	if (s->nkids == s->capkids) {
		uint32_t nc = s->capkids ? s->capkids * 2 : 8;
		struct child **nk = realloc(s->kids, nc * sizeof(*nk));
		if (nk == NULL)
			return NACT_ENOMEM;
		s->kids = nk;
		s->capkids = nc;
	}
	s->kids[s->nkids++] = c;
	return 0;
}

static int sup_new(struct sup **sp, nact_system *sys, const nact_sup_spec *spec)
{
	struct sup *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NACT_ENOMEM;
	s->sys = sys;
	s->spec = *spec;
	s->spec.children = NULL;
	s->spec.child_template = NULL;
	if (s->spec.intensity == 0)
		s->spec.intensity = INTENSITY_DEFAULT;
	if (s->spec.period_ms == 0)
		s->spec.period_ms = PERIOD_DEFAULT_MS;
	s->name = strdup(spec->name != NULL ? spec->name : "supervisor");
	s->named = spec->name != NULL;
	s->spec.name = NULL; /* the registered name is only needed at spawn */
	s->rcap = s->spec.intensity < 8 ? s->spec.intensity + 1 : 8;
	s->rtimes = calloc(s->rcap, sizeof(*s->rtimes));
	if (s->name == NULL || s->rtimes == NULL)
		goto out_free;
	if (spec->nchildren > 0) {
		s->specs = calloc(spec->nchildren, sizeof(*s->specs));
		if (s->specs == NULL)
			goto out_free;
		for (uint32_t i = 0; i < spec->nchildren; i++) {
			s->specs[i] = spec->children[i];
			s->specs[i].id = strdup(spec->children[i].id);
			if (s->specs[i].id == NULL)
				goto out_free;
		}
		s->spec.children = s->specs;
		for (uint32_t i = 0; i < spec->nchildren; i++) {
			struct child *c = child_new(s, &s->specs[i], NULL);
			if (c == NULL || kids_add(s, c) != 0) {
				free(c);
				goto out_free;
			}
		}
	}
	if (spec->child_template != NULL && spec->strategy == NACT_SIMPLE_ONE_FOR_ONE) {
		s->tmpl = *spec->child_template;
		s->tmpl.id = strdup(spec->child_template->id);
		if (s->tmpl.id == NULL)
			goto out_free;
		s->spec.child_template = &s->tmpl;
	}
	s->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)s ^ nact_now(sys);
	*sp = s;
	return 0;

out_free:
	sup_free(s);
	return NACT_ENOMEM;
}

/* ---- small helpers ---- */

static int kid_index(const struct sup *s, const struct child *c)
{
	for (uint32_t i = 0; i < s->nkids; i++)
		if (s->kids[i] == c)
			return (int)i;
	return -1;
}

static struct child *kid_by_ref(const struct sup *s, uint64_t ref)
{
	for (uint32_t i = 0; i < s->nkids; i++)
		if (s->kids[i]->mref == ref && ref != 0)
			return s->kids[i];
	return NULL;
}

static struct child *kid_by_serial(const struct sup *s, uint64_t serial)
{
	for (uint32_t i = 0; i < s->nkids; i++)
		if (s->kids[i]->serial == serial)
			return s->kids[i];
	return NULL;
}

/* The child that is running as actor id. */
static struct child *kid_by_cur(const struct sup *s, nact_aid id)
{
	for (uint32_t i = 0; i < s->nkids; i++)
		if (s->kids[i]->aid.v == id.v && id.v != 0)
			return s->kids[i];
	return NULL;
}

/* The child that is (or, if it is down, last was) actor id. */
static struct child *kid_by_aid(const struct sup *s, nact_aid id)
{
	for (uint32_t i = 0; i < s->nkids; i++) {
		struct child *c = s->kids[i];
		if (c->aid.v == id.v || (c->aid.v == 0 && c->last.v == id.v))
			return c;
	}
	return NULL;
}

/* Drop c from the table (dynamic children that will not run again).
 * Only outside stop sequences, which walk the table by index. */
static void kid_remove(struct sup *s, struct child *c)
{
	int i = kid_index(s, c);
	if (i < 0)
		return;
	memmove(&s->kids[i], &s->kids[i + 1], (s->nkids - (uint32_t)i - 1) * sizeof(*s->kids));
	s->nkids--;
	child_free(c);
}

static void maybe_remove(struct sup *s, struct child *c)
{
	if (s->spec.strategy == NACT_SIMPLE_ONE_FOR_ONE && s->phase == P_RUN)
		kid_remove(s, c);
}

static void exits_add(struct sup *s, nact_aid id)
{
	if (s->nexits == s->capexits) {
		uint32_t nc = s->capexits ? s->capexits * 2 : 4;
		nact_aid *ne = realloc(s->exits, nc * sizeof(*ne));
		if (ne == NULL)
			return; /* the EXIT then reads as a linked failure: see on_exit */
		s->exits = ne;
		s->capexits = nc;
	}
	s->exits[s->nexits++] = id;
}

/* 1 if id's EXIT was expected (and is now no longer). */
static int exits_take(struct sup *s, nact_aid id)
{
	for (uint32_t i = 0; i < s->nexits; i++) {
		if (s->exits[i].v == id.v) {
			s->exits[i] = s->exits[--s->nexits];
			return 1;
		}
	}
	return 0;
}

static uint32_t shutdown_ms(const struct child *c)
{
	return c->spec->shutdown_ms > 0 ? (uint32_t)c->spec->shutdown_ms : SHUTDOWN_DEFAULT_MS;
}

/* A message of type with body [a, b] (b < 0: [a] only). */
static int msg_uu(nact_msg **mp, nact_system *sys, uint32_t type, uint64_t a, int64_t b)
{
	nact_msg *m;
	nact_pack pk;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		return rv;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, b < 0 ? 1 : 2);
	nact_pack_uint(&pk, a);
	if (b >= 0)
		nact_pack_uint(&pk, (uint64_t)b);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	*mp = m;
	return 0;
}

/* Read the body [a, b?]; missing values stay 0. */
static int read_uu(const nact_msg *m, uint64_t *a, uint64_t *b)
{
	nact_reader r;
	uint32_t n = 0;
	*a = 0;
	if (b != NULL)
		*b = 0;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv == 0)
		rv = nact_read_array(&r, &n);
	if (rv == 0 && n >= 1)
		rv = nact_read_uint(&r, a);
	if (rv == 0 && n >= 2 && b != NULL)
		rv = nact_read_uint(&r, b);
	if (rv == 0 && n < 1)
		rv = NACT_EMALFORMED;
	nact_reader_fini(&r);
	return rv;
}

/* Reply [err] or [err, v] to to/corr. */
static void reply_err(nact_system *sys, nact_aid to, uint64_t corr, int err, int with_v, uint64_t v)
{
	nact_msg *m;
	nact_pack pk;
	if (nact_msg_alloc(&m, sys, NACTI_T_SUP_REPLY) != 0)
		return; /* the caller times out */
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, with_v ? 2 : 1);
	nact_pack_int(&pk, err);
	if (with_v)
		nact_pack_uint(&pk, v);
	if (nact_pack_error(&pk) != 0 || nact_reply_to(sys, to, corr, m) != 0)
		nact_msg_free(m);
}

/* Arm a timer message [serial, gen] of type to self after ms. */
static int arm(nact_ctx *ctx, struct sup *s, uint32_t type, uint64_t serial, uint64_t gen,
    uint32_t ms, nact_timer *tp)
{
	nact_msg *m;
	int rv = msg_uu(&m, s->sys, type, serial, (int64_t)gen);
	if (rv != 0)
		return rv;
	rv = nact_send_after(s->sys, nact_self(ctx), m, ms > INT_MAX ? INT_MAX : (int)ms, tp);
	if (rv != 0) {
		nact_msg_free(m);
		tp->v = 0;
	}
	return rv;
}

static void disarm(struct sup *s, nact_timer *tp)
{
	if (tp->v != 0)
		nact_timer_cancel(s->sys, *tp);
	tp->v = 0;
}

/* An isolated child whose process died keeps its id and mailbox until it
 * is restarted or stopped: release them when it will not run again. */
static void iso_release(struct sup *s, struct child *c)
{
	if (c->iso_held) {
		nact_stop(s->sys, c->last);
		c->iso_held = 0;
	}
}

/* A reason as text: the exit text led by the reason's name ("value out of
 * range: bad input"), or the formatted reason when there is no text of its
 * own (the runtime puts nact_exit_format's text in DOWNs without one). */
static void set_text(char *dst, size_t n, int reason, const char *text)
{
	char buf[64];
	const char *name = nact_exit_str(reason);
	nact_exit_format(reason, buf, sizeof(buf));
	if (text == NULL || text[0] == '\0' || strcmp(text, buf) == 0)
		snprintf(dst, n, "%s", buf);
	else if (strncmp(text, name, strlen(name)) == 0)
		snprintf(dst, n, "%s", text);
	else
		snprintf(dst, n, "%s: %s", name, text);
}

/* ---- starting, stopping ---- */

/* Start (or restart) c; 0 also when its start function chose not to start
 * it (returned 0 with no id: the child just stays down). */
static int child_start(nact_ctx *ctx, struct sup *s, struct child *c)
{
	nact_aid id = NACT_AID_NONE;
	int rv;
	c->attempt_ns = nact_now(s->sys);
	c->killed = 0;
	if (c->iso_held) {
		/* the process died; id and queued messages are still there */
		rv = nact_isolated_restart(s->sys, c->last);
		if (rv == 0) {
			id = c->last;
		} else if (rv != NACT_ENOENT) {
			return rv;
		}
		c->iso_held = 0;
	}
	if (id.v == 0) {
		rv = c->spec->start(&id, s->sys, c->spec->arg, c->extra);
		if (rv != 0)
			return rv > 0 ? rv : NACT_EINVAL;
		if (id.v == 0) {
			c->state = C_DOWN;
			return 0;
		}
	}
	rv = nact_monitor(ctx, id, &c->mref);
	if (rv != 0) {
		nact_kill(s->sys, id);
		return rv;
	}
	/* If id ended already, monitor gave a DOWN noproc and link an EXIT. */
	c->linked = nact_link(ctx, id) == 0;
	c->aid = id;
	c->last = id;
	c->state = C_UP;
	c->backoff_ms = 0;
	if (c->started) {
		c->restarts++;
		nacti_metrics_restarted(s->sys, id, c->restarts); /* monitor.h */
	}
	c->started = 1;
	return 0;
}

static void on_kill_due(nact_ctx *ctx, struct sup *s, struct child *c);

/* Ask c to end; its DOWN (or the kill timer) moves things on. */
static void stop_begin(nact_ctx *ctx, struct sup *s, struct child *c)
{
	c->state = C_STOPPING;
	c->killed = 0;
	c->tgen++;
	if (c->spec->shutdown_ms < 0) {
		/* brutal kill: no time to clean up */
		nact_kill(s->sys, c->aid);
		c->killed = 1;
	} else {
		/* a trapping child gets NACT_T_EXIT "shutdown" */
		nact_stop(s->sys, c->aid);
	}
	/* ENOENT from stop/kill: it ended already and its DOWN is on its way.
	 * If no timer can be armed (the system is closing: every actor got
	 * its stop, and close's own timeout bounds the wait), wait for the
	 * DOWN alone: killing at once would cut short the cleanup of a child
	 * that traps exits, and a child supervisor's orderly shutdown. */
	arm(ctx, s, NACTI_T_SUP_KILL, c->serial, c->tgen, shutdown_ms(c), &c->timer);
}

/* ---- intensity, backoff ---- */

/* Count one restart now; 1 if that makes more than intensity within
 * period_ms. The ring holds the times of the restarts still in the window;
 * it grows on demand up to intensity + 1 entries, so a large intensity
 * costs memory only for restarts that actually happen. */
static int intensity_hit(struct sup *s)
{
	uint64_t now = nact_now(s->sys);
	uint64_t win = (uint64_t)s->spec.period_ms * 1000000u;
	uint32_t max = s->spec.intensity < UINT32_MAX ? s->spec.intensity + 1 : UINT32_MAX;
	while (s->rn > 0) {
		uint32_t oldest = (s->rhead + s->rcap - s->rn) % s->rcap;
		if (now - s->rtimes[oldest] <= win)
			break;
		s->rn--;
	}
	if (s->rn == s->rcap && s->rcap < max) {
		uint32_t nc = s->rcap > max / 2 ? max : s->rcap * 2;
		uint64_t *nt = malloc(nc * sizeof(*nt));
		if (nt != NULL) {
			/* oldest first, so the ring restarts at 0 */
			for (uint32_t i = 0; i < s->rn; i++)
				nt[i] = s->rtimes[(s->rhead + s->rcap - s->rn + i) % s->rcap];
			free(s->rtimes);
			s->rtimes = nt;
			s->rcap = nc;
			s->rhead = s->rn;
		}
		/* else: the oldest entry is overwritten below (undercounts) */
	}
	s->rtimes[s->rhead] = now;
	s->rhead = (s->rhead + 1) % s->rcap;
	if (s->rn < s->rcap)
		s->rn++;
	return s->rn > s->spec.intensity;
}

static uint64_t rnd(struct sup *s)
{
	uint64_t x = s->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return s->rng = x;
}

/* The delay before c's next restart: backoff_min_ms doubled per restart
 * in a row, capped, +- jitter. A child that ran for period_ms or more
 * before it failed starts again from backoff_min_ms. */
static uint32_t backoff_next(struct sup *s, struct child *c)
{
	uint32_t lo = s->spec.backoff_min_ms;
	if (lo == 0)
		return 0;
	uint32_t cap = s->spec.backoff_max_ms ? s->spec.backoff_max_ms : BACKOFF_CAP_DEFAULT_MS;
	if (cap < lo)
		cap = lo;
	uint64_t now = nact_now(s->sys);
	if (c->attempt_ns != 0 && now - c->attempt_ns >= (uint64_t)s->spec.period_ms * 1000000u)
		c->consec = 0;
	uint64_t d = lo;
	for (uint32_t i = 0; i < c->consec && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	if (c->consec < 64)
		c->consec++;
	if (s->spec.backoff_jitter_pct > 0) {
		uint64_t span = d * s->spec.backoff_jitter_pct / 100;
		d = d - span + rnd(s) % (2 * span + 1);
	}
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* ---- strategies ---- */

static void shutdown_begin(struct sup *s, int reason, const char *text);
static void child_failed(nact_ctx *ctx, struct sup *s, struct child *c, int direct);

/* Start c now (direct) or after delay ms through a timer message. */
static void restart_after(nact_ctx *ctx, struct sup *s, struct child *c, uint32_t delay, int direct)
{
	c->state = C_WAIT;
	c->backoff_ms = delay;
	if (delay == 0 && direct) {
		int rv = child_start(ctx, s, c);
		if (rv == 0)
			return;
		if (rv == NACT_ECLOSED) {
			shutdown_begin(s, NACT_EXIT_SHUTDOWN, "system closing");
			return;
		}
		c->state = C_WAIT;
		c->last_reason = rv;
		set_text(c->last_text, sizeof(c->last_text), rv, "start failed");
		nact_log(s->sys, NACT_LOG_INFO,
		    "supervisor \"%s\": child \"%s\" failed to restart: %s", s->name, c->spec->id,
		    nact_strerror(rv));
		child_failed(ctx, s, c, 0);
		return;
	}
	c->tgen++;
	int rv = arm(ctx, s, NACTI_T_SUP_RESTART, c->serial, c->tgen, delay, &c->timer);
	if (rv != 0)
		shutdown_begin(s, rv == NACT_ECLOSED ? NACT_EXIT_SHUTDOWN : rv,
		    "cannot arm a restart timer");
}

/* A one-for-all or rest-for-one restart for the failed child c: stop the
 * group (reverse order, in progress()), then start it (start order). A new
 * failure while one is under way widens it. */
static void group_begin(struct sup *s, struct child *c, uint32_t delay, int force)
{
	int idx = kid_index(s, c);
	uint32_t from = s->spec.strategy == NACT_ONE_FOR_ALL ? 0 : (uint32_t)(idx < 0 ? 0 : idx);
	c->state = C_WAIT;
	c->in_group = 1;
	c->backoff_ms = delay;
	if (s->phase == P_GROUP) {
		if (from < s->g_from)
			s->g_from = from;
		if (delay > s->g_delay)
			s->g_delay = delay;
		s->g_force |= force;
		disarm(s, &s->g_timer);
		s->g_armed = 0;
		s->g_gen++;
	} else {
		s->phase = P_GROUP;
		s->g_from = from;
		s->g_delay = delay;
		s->g_force = force;
	}
	for (uint32_t i = s->g_from; i < s->nkids; i++) {
		struct child *k = s->kids[i];
		if (k->state == C_UP || k->state == C_STOPPING)
			k->in_group = 1;
	}
	s->g_cursor = (int64_t)s->nkids - 1;
}

/* Start the stopped group in start order. */
static void group_start(nact_ctx *ctx, struct sup *s)
{
	s->phase = P_RUN;
	s->g_armed = 0;
	s->g_force = 0;
	s->g_delay = 0;
	for (uint32_t i = s->g_from; i < s->nkids; i++) {
		struct child *k = s->kids[i];
		if (!k->in_group)
			continue;
		k->in_group = 0;
		k->backoff_ms = 0;
		if (k->spec->restart == NACT_TEMPORARY || k->no_restart) {
			k->state = C_DOWN;
			iso_release(s, k);
			continue;
		}
		int rv = child_start(ctx, s, k);
		if (rv == 0)
			continue;
		if (rv == NACT_ECLOSED) {
			shutdown_begin(s, NACT_EXIT_SHUTDOWN, "system closing");
			return;
		}
		k->state = C_WAIT;
		k->last_reason = rv;
		set_text(k->last_text, sizeof(k->last_text), rv, "start failed");
		nact_log(s->sys, NACT_LOG_INFO,
		    "supervisor \"%s\": child \"%s\" failed to restart: %s", s->name, k->spec->id,
		    nact_strerror(rv));
		/* later children keep in_group: the new group includes them */
		child_failed(ctx, s, k, 0);
		return;
	}
}

/* c is down and its policy says restart: count it, then restart per the
 * strategy, or escalate. direct = 0 after a failed start (retry through a
 * message, so repeated failures never recurse). */
static void child_failed(nact_ctx *ctx, struct sup *s, struct child *c, int direct)
{
	if (intensity_hit(s)) {
		char text[TEXT_MAX];
		snprintf(text, sizeof(text),
		    "supervisor \"%s\": child \"%s\" exceeded %u restart%s in %u ms (last: %s)",
		    s->name, c->spec->id, s->spec.intensity, s->spec.intensity == 1 ? "" : "s",
		    s->spec.period_ms, c->last_text);
		nact_log(s->sys, NACT_LOG_WARN, "%s; shutting down", text);
		shutdown_begin(s, NACT_EXIT_INTENSITY, text);
		return;
	}
	uint32_t delay = backoff_next(s, c);
	if (s->spec.strategy == NACT_ONE_FOR_ALL || s->spec.strategy == NACT_REST_FOR_ONE)
		group_begin(s, c, delay, !direct);
	else
		restart_after(ctx, s, c, delay, direct);
}

/* Stop everything (reverse start order) and exit with reason. */
static void shutdown_begin(struct sup *s, int reason, const char *text)
{
	if (s->phase == P_SHUTDOWN || s->phase == P_DONE)
		return;
	s->phase = P_SHUTDOWN;
	s->exit_reason = reason;
	snprintf(s->exit_text, sizeof(s->exit_text), "%s", text ? text : "");
	disarm(s, &s->g_timer);
	s->g_armed = 0;
	for (uint32_t i = 0; i < s->nkids; i++) {
		struct child *c = s->kids[i];
		c->in_group = 0;
		if (c->state == C_WAIT) {
			disarm(s, &c->timer);
			c->tgen++;
			c->state = C_DOWN;
			c->backoff_ms = 0;
		}
		if (c->state == C_DOWN)
			iso_release(s, c); /* e.g. the child whose failure ends us */
	}
	s->g_from = 0;
	s->g_cursor = (int64_t)s->nkids - 1;
}

/* The supervisor's own end. */
static void finish(nact_ctx *ctx, struct sup *s)
{
	int reason = s->exit_reason;
	s->phase = P_DONE;
	if (s->init_failed && s->named && s->init_req) {
		/* free the name before the caller hears of the failure, so it
		 * can start again under the same name at once */
		nact_aid me = nact_self(ctx);
		nact_aid cur = nact_whereis(s->sys, s->name);
		if (cur.v == me.v)
			nact_unregister(s->sys, s->name);
	}
	if (s->init_req) {
		reply_err(s->sys, s->init_to, s->init_corr, s->init_failed ? s->init_err : 0, 0, 0);
		s->init_req = 0;
	}
	if (s->root && !s->init_failed && nact_exit_abnormal(reason)) {
		char buf[64];
		const char *why =
		    s->exit_text[0] ? s->exit_text : nact_exit_format(reason, buf, sizeof(buf));
		if (s->spec.on_root_fail != NULL) {
			s->spec.on_root_fail(s->spec.on_root_fail_arg, reason);
		} else {
			nact_log(s->sys, NACT_LOG_ERROR,
			    "root supervisor \"%s\" failed: %s: %s; exiting with status %d",
			    s->name, nact_exit_str(reason), why, NACT_SUP_EXIT_STATUS);
			exit(NACT_SUP_EXIT_STATUS);
		}
	}
	if (s->exit_text[0] != '\0')
		nact_exit_msg(ctx, reason, s->exit_text);
	else
		nact_exit(ctx, reason);
}

/* Move the stop sequence on: stop the next running child (reverse start
 * order) or, when the group is all down, start it again or finish. */
static void progress(nact_ctx *ctx, struct sup *s)
{
	for (;;) {
		if (s->phase != P_GROUP && s->phase != P_SHUTDOWN)
			return;
		while (s->g_cursor >= (int64_t)s->g_from) {
			struct child *c = s->kids[s->g_cursor];
			if (c->state == C_UP)
				stop_begin(ctx, s, c);
			if (c->state == C_STOPPING)
				return; /* its DOWN or kill timer brings us back */
			s->g_cursor--;
		}
		if (s->phase == P_SHUTDOWN) {
			finish(ctx, s);
			return;
		}
		if (s->g_armed)
			return;
		if (s->g_delay > 0 || s->g_force) {
			s->g_gen++;
			int rv =
			    arm(ctx, s, NACTI_T_SUP_GROUP, 0, s->g_gen, s->g_delay, &s->g_timer);
			if (rv == 0) {
				s->g_armed = 1;
				return;
			}
			shutdown_begin(s, rv == NACT_ECLOSED ? NACT_EXIT_SHUTDOWN : rv,
			    "cannot arm a restart timer");
			continue;
		}
		group_start(ctx, s);
	}
}

/* ---- events ---- */

/* c's actor ended (DOWN), or we gave up waiting for it. */
static void child_ended(nact_ctx *ctx, struct sup *s, struct child *c, int reason, const char *text)
{
	int was = c->state;
	nact_aid dead = c->aid;
	if (c->linked)
		exits_add(s, dead); /* its link's EXIT follows: not a failure of ours */
	c->linked = 0;
	if (was == C_STOPPING) {
		disarm(s, &c->timer);
		c->tgen++;
	}
	c->aid = NACT_AID_NONE;
	c->mref = 0;
	c->last = dead;
	c->last_reason = reason;
	set_text(c->last_text, sizeof(c->last_text), reason, text);
	c->state = C_DOWN;
	/* An isolated child's id and mailbox may outlive its process: the next
	 * start tries nact_isolated_restart (NACT_ENOENT if our stop released
	 * them: then a fresh start), and iso_release frees them if it will not
	 * run again. */
	c->iso_held = c->spec->isolated != 0;
	if (c->req) {
		reply_err(s->sys, c->req_to, c->req_corr, 0, 0, 0);
		c->req = 0;
	}
	if (was == C_STOPPING) {
		/* we stopped it: a group restart brings it back, nothing else */
		if (c->in_group) {
			c->state = C_WAIT;
			return;
		}
		iso_release(s, c);
		if (c->no_restart)
			maybe_remove(s, c);
		return;
	}
	if (s->phase == P_SHUTDOWN || s->phase == P_DONE) {
		iso_release(s, c);
		return;
	}
	if (atomic_load_explicit(&s->sys->closing, memory_order_relaxed)) {
		/* nact_system_close stopped it: not a failure, and nothing can
		 * start again. Its stop reaches every actor in slot order, so
		 * our children's DOWNs may come before our own stop. (Relaxed
		 * is enough: the flag is set before any of those stops is sent,
		 * and the DOWN reaches us through the control lanes' release
		 * and acquire.) */
		shutdown_begin(s, NACT_EXIT_SHUTDOWN, "system closing");
		return;
	}
	nact_log(s->sys, NACT_LOG_INFO, "supervisor \"%s\": child \"%s\" %#llx exited: %s", s->name,
	    c->spec->id, (unsigned long long)dead.v, c->last_text);
	int again = !c->no_restart &&
	    (c->spec->restart == NACT_PERMANENT ||
	        (c->spec->restart == NACT_TRANSIENT && nact_exit_abnormal(reason)));
	if (!again) {
		c->in_group = 0;
		iso_release(s, c);
		maybe_remove(s, c);
		return;
	}
	child_failed(ctx, s, c, 1);
}

static void on_down(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	nact_exit_info ei;
	if (nact_exit_info_read(m, &ei) != 0)
		return;
	struct child *c = kid_by_ref(s, ei.ref);
	if (c != NULL)
		child_ended(ctx, s, c, ei.reason, ei.text);
}

static void on_exit_sig(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	nact_exit_info ei;
	if (nact_exit_info_read(m, &ei) != 0)
		return;
	if (ei.id.v != 0 && exits_take(s, ei.id))
		return; /* a child's link: its DOWN did the work */
	struct child *c = kid_by_cur(s, ei.id);
	if (c != NULL && ei.reason == NACT_EXIT_NOPROC) {
		/* the link's EXIT ahead of the DOWN: the child died between our
		 * monitor and our link, so the link answered NOPROC at once. The
		 * DOWN does the work and need not expect this EXIT. (A child's
		 * death notifies its monitors before its links, so any other
		 * EXIT of a dead child comes after its DOWN, handled above.) */
		c->linked = 0;
		return;
	}
	if (ei.id.v != 0 && ei.id.v == s->parent.v) {
		/* the parent ended: so do we */
		shutdown_begin(s, nact_exit_abnormal(ei.reason) ? ei.reason : NACT_EXIT_SHUTDOWN,
		    ei.text);
		return;
	}
	if (ei.reason == NACT_EXIT_NORMAL)
		return; /* a normal exit of something linked: not our end */
	/* a trapped nact_stop (reason shutdown), nact_exit_actor, or a linked
	 * actor's failure */
	shutdown_begin(s, ei.reason, ei.reason == NACT_EXIT_SHUTDOWN ? NULL : ei.text);
}

static void on_init(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	int req = (nact_msg_flags(m) & NACT_MF_REQUEST) != 0;
	if (s->phase != P_INIT) {
		if (req)
			reply_err(s->sys, nact_msg_sender(m), nact_msg_corr(m), NACT_ESTATE, 0, 0);
		return;
	}
	nact_trap_exit(ctx, 1);
	s->phase = P_RUN;
	/* shown by the registry's "tree" verb until sup_fini */
	s->self = nact_self(ctx);
	s->listed = nacti_sups_add(s->sys, s->self, s->name) == 0;
	if (req) {
		/* from nact_sup_start outside actors: a root */
		s->root = 1;
		s->init_req = 1;
		s->init_to = nact_msg_sender(m);
		s->init_corr = nact_msg_corr(m);
	} else {
		/* from a handler (a parent supervisor's start function): link to
		 * it, so each learns of the other's end */
		s->parent = nact_msg_sender(m);
		if (s->parent.v != 0)
			nact_link(ctx, s->parent);
	}
	for (uint32_t i = 0; i < s->nkids; i++) {
		struct child *c = s->kids[i];
		int rv = child_start(ctx, s, c);
		if (rv == 0)
			continue;
		char text[TEXT_MAX];
		int reason = rv == NACT_ECLOSED ? NACT_EXIT_SHUTDOWN : rv;
		c->last_reason = rv;
		set_text(c->last_text, sizeof(c->last_text), rv, "start failed");
		snprintf(text, sizeof(text), "supervisor \"%s\": child \"%s\" failed to start: %s",
		    s->name, c->spec->id, nact_strerror(rv));
		nact_log(s->sys, NACT_LOG_WARN, "%s", text);
		s->init_failed = 1;
		s->init_err = rv;
		shutdown_begin(s, reason, text);
		return; /* progress() stops the started ones, then finish() replies */
	}
	if (s->init_req) {
		reply_err(s->sys, s->init_to, s->init_corr, 0, 0, 0);
		s->init_req = 0;
	}
}

static void on_restart_due(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	uint64_t serial, gen;
	if (read_uu(m, &serial, &gen) != 0)
		return;
	struct child *c = kid_by_serial(s, serial);
	if (c == NULL || c->state != C_WAIT || c->tgen != gen || s->phase != P_RUN)
		return;
	c->timer.v = 0;
	c->backoff_ms = 0;
	restart_after(ctx, s, c, 0, 1);
}

static void on_kill_due(nact_ctx *ctx, struct sup *s, struct child *c)
{
	c->timer.v = 0;
	if (!c->killed) {
		nact_log(s->sys, NACT_LOG_WARN,
		    "supervisor \"%s\": child \"%s\" %#llx did not end within %u ms: killing it",
		    s->name, c->spec->id, (unsigned long long)c->aid.v, shutdown_ms(c));
		nact_kill(s->sys, c->aid);
		c->killed = 1;
		c->tgen++;
		/* without a timer (system closing) wait for the DOWN alone */
		arm(ctx, s, NACTI_T_SUP_KILL, c->serial, c->tgen, shutdown_ms(c), &c->timer);
		return;
	}
	/* killed and still not gone: its handler does not return. Give up on
	 * it (its DOWN, if it ever comes, no longer matches). */
	nact_log(s->sys, NACT_LOG_ERROR,
	    "supervisor \"%s\": child \"%s\" %#llx did not end after a kill: abandoned", s->name,
	    c->spec->id, (unsigned long long)c->aid.v);
	nact_demonitor(ctx, c->mref);
	child_ended(ctx, s, c, NACT_EXIT_KILLED, "abandoned: did not end after a kill");
}

static void on_timer(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	uint64_t serial, gen;
	if (read_uu(m, &serial, &gen) != 0)
		return;
	if (nact_msg_type(m) == NACTI_T_SUP_GROUP) {
		if (s->phase == P_GROUP && s->g_armed && gen == s->g_gen) {
			s->g_timer.v = 0;
			group_start(ctx, s);
		}
		return;
	}
	struct child *c = kid_by_serial(s, serial);
	if (c != NULL && c->state == C_STOPPING && c->tgen == gen)
		on_kill_due(ctx, s, c);
}

static void on_start_child(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	uint64_t extra;
	int rv = read_uu(m, &extra, NULL);
	if (rv == 0 && s->spec.strategy != NACT_SIMPLE_ONE_FOR_ONE)
		rv = NACT_EINVAL;
	if (rv == 0 && s->phase != P_RUN)
		rv = NACT_ESTATE;
	struct child *c = NULL;
	if (rv == 0) {
		c = child_new(s, &s->tmpl, (void *)(uintptr_t)extra);
		if (c == NULL || kids_add(s, c) != 0) {
			free(c);
			c = NULL;
			rv = NACT_ENOMEM;
		}
	}
	if (rv == 0) {
		rv = child_start(ctx, s, c);
		if (rv == NACT_ECLOSED)
			shutdown_begin(s, NACT_EXIT_SHUTDOWN, "system closing");
	}
	nact_aid id = c != NULL ? c->aid : NACT_AID_NONE;
	if (c != NULL && (rv != 0 || c->state != C_UP))
		kid_remove(s, c);
	reply_err(s->sys, nact_msg_sender(m), nact_msg_corr(m), rv, rv == 0, id.v);
}

static void on_stop_child(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	uint64_t v;
	nact_aid to = nact_msg_sender(m);
	uint64_t corr = nact_msg_corr(m);
	int rv = read_uu(m, &v, NULL);
	struct child *c = rv == 0 && v != 0 ? kid_by_aid(s, (nact_aid){v}) : NULL;
	if (rv == 0 && c == NULL)
		rv = NACT_ENOENT;
	if (rv == 0 && c->state == C_STOPPING && c->req)
		rv = NACT_ESTATE; /* someone else is already waiting for it */
	if (rv != 0) {
		reply_err(s->sys, to, corr, rv, 0, 0);
		return;
	}
	c->no_restart = 1;
	switch (c->state) {
	case C_UP:
		stop_begin(ctx, s, c);
		/* fall through */
	case C_STOPPING:
		c->req = 1;
		c->req_to = to;
		c->req_corr = corr;
		return; /* answered at its DOWN */
	case C_WAIT:
		disarm(s, &c->timer);
		c->tgen++;
		c->in_group = 0;
		c->backoff_ms = 0;
		c->state = C_DOWN;
		iso_release(s, c);
		break;
	default:
		break;
	}
	maybe_remove(s, c);
	reply_err(s->sys, to, corr, 0, 0, 0);
}

static void on_which(nact_ctx *ctx, struct sup *s, nact_msg *m)
{
	uint64_t max;
	nact_msg *r;
	nact_pack pk;
	if (read_uu(m, &max, NULL) != 0)
		max = 0;
	if (max > s->nkids)
		max = s->nkids;
	if (nact_msg_alloc(&r, s->sys, NACTI_T_SUP_REPLY) != 0)
		return;
	nact_pack_init(&pk, r);
	nact_pack_array(&pk, 2);
	nact_pack_int(&pk, 0);
	nact_pack_array(&pk, (uint32_t)max);
	for (uint32_t i = 0; i < max; i++) {
		const struct child *c = s->kids[i];
		int up = c->state == C_UP || c->state == C_STOPPING;
		nact_pack_array(&pk, 6);
		nact_pack_str(&pk, c->spec->id);
		nact_pack_uint(&pk, up ? c->aid.v : 0);
		nact_pack_uint(&pk, c->restarts);
		nact_pack_int(&pk, c->last_reason);
		nact_pack_uint(&pk, c->state == C_WAIT ? c->backoff_ms : 0);
		nact_pack_bool(&pk, up);
	}
	if (nact_pack_error(&pk) != 0 || nact_reply(s->sys, m, r) != 0)
		nact_msg_free(r);
}

static int sup_fn(nact_ctx *ctx, nact_msg *m)
{
	struct sup *s = nact_state(ctx);
	if (s->phase == P_DONE)
		return 0;
	switch (nact_msg_type(m)) {
	case NACTI_T_SUP_INIT:
		on_init(ctx, s, m);
		break;
	case NACT_T_DOWN:
		on_down(ctx, s, m);
		break;
	case NACT_T_EXIT:
		on_exit_sig(ctx, s, m);
		break;
	case NACTI_T_SUP_RESTART:
		on_restart_due(ctx, s, m);
		break;
	case NACTI_T_SUP_KILL:
	case NACTI_T_SUP_GROUP:
		on_timer(ctx, s, m);
		break;
	case NACTI_T_SUP_START:
		on_start_child(ctx, s, m);
		break;
	case NACTI_T_SUP_STOP:
		on_stop_child(ctx, s, m);
		break;
	case NACTI_T_SUP_WHICH:
		on_which(ctx, s, m);
		break;
	default:
		break; /* not for us */
	}
	progress(ctx, s);
	return 0;
}

/* State destructor: also for a supervisor that was killed or closed with
 * the system. Its timers go; its linked children end through the links. */
static void sup_fini(void *arg)
{
	struct sup *s = arg;
	if (s->listed)
		nacti_sups_del(s->sys, s->self);
	disarm(s, &s->g_timer);
	for (uint32_t i = 0; i < s->nkids; i++)
		disarm(s, &s->kids[i]->timer);
	sup_free(s);
}

/* ---- public API ---- */

/* How long a root's start may take: its children's start functions, and
 * on failure stopping those already started. */
static int init_wait_ms(const nact_sup_spec *sp)
{
	uint64_t ms = INIT_WAIT_MS;
	for (uint32_t i = 0; i < sp->nchildren; i++) {
		int t = sp->children[i].shutdown_ms;
		ms += 2u * (t > 0 ? (uint64_t)t : SHUTDOWN_DEFAULT_MS);
	}
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The [err, ...] reply: err, and into r (left inside the array) the rest. */
static int reply_open(nact_reader *r, const nact_msg *rep)
{
	uint32_t n;
	int64_t err;
	int rv = nact_reader_init(r, rep, NULL);
	if (rv != 0)
		return rv;
	if ((rv = nact_read_array(r, &n)) == 0 && n < 1)
		rv = NACT_EMALFORMED;
	if (rv == 0)
		rv = nact_read_int(r, &err);
	if (rv == 0 && err != 0)
		rv = err > INT_MAX || err < INT_MIN ? NACT_EMALFORMED : (int)err;
	if (rv != 0)
		nact_reader_fini(r);
	return rv;
}

/* nact_call sup with a [a] body of type; the reply's reader (open) in r. */
static int sup_call(nact_system *sys, nact_aid sup, uint32_t type, uint64_t a, int timeout_ms,
    nact_msg **repp, nact_reader *r)
{
	nact_msg *m, *rep;
	int rv = msg_uu(&m, sys, type, a, -1);
	if (rv != 0)
		return rv;
	rv = nact_call(sys, sup, m, timeout_ms, &rep);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		return rv;
	}
	if ((rv = reply_open(r, rep)) != 0) {
		nact_msg_free(rep);
		return rv;
	}
	*repp = rep;
	return 0;
}

int nact_sup_start(nact_aid *idp, nact_system *sys, const nact_sup_spec *spec)
{
	struct sup *s;
	nact_aid id;
	nact_msg *m, *rep;
	nact_reader r;
	int rv;

	if (idp == NULL || sys == NULL || spec_check(spec) != 0)
		return NACT_EINVAL;
	if ((rv = sup_new(&s, sys, spec)) != 0)
		return rv;
	nact_spawn_opts o = {.name = spec->name};
	if ((rv = nact_spawn(&id, sys, sup_fn, s, sup_fini, &o)) != 0) {
		sup_free(s);
		return rv;
	}
	if ((rv = nact_msg_alloc(&m, sys, NACTI_T_SUP_INIT)) != 0) {
		nact_stop(sys, id);
		return rv;
	}
	rv = nact_call(sys, id, m, init_wait_ms(spec), &rep);
	if (rv == NACT_EDEADLK) {
		/* in a handler (a parent's start function): never block. The
		 * supervisor starts its children on INIT and, if one fails,
		 * exits with the error (its parent sees a DOWN). */
		if ((rv = nact_send(sys, id, m)) != 0) {
			nact_msg_free(m);
			nact_stop(sys, id);
			return rv;
		}
		*idp = id;
		return 0;
	}
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		nact_stop(sys, id);
		return rv;
	}
	rv = reply_open(&r, rep);
	if (rv == 0)
		nact_reader_fini(&r);
	nact_msg_free(rep);
	if (rv == 0)
		*idp = id;
	return rv;
}

int nact_sup_start_child(nact_system *sys, nact_aid sup, void *extra, nact_aid *childp,
    int timeout_ms)
{
	nact_msg *rep;
	nact_reader r;
	uint64_t v = 0;
	if (sys == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	int rv =
	    sup_call(sys, sup, NACTI_T_SUP_START, (uint64_t)(uintptr_t)extra, timeout_ms, &rep, &r);
	if (rv != 0)
		return rv;
	rv = nact_read_uint(&r, &v);
	nact_reader_fini(&r);
	nact_msg_free(rep);
	if (rv == 0 && childp != NULL)
		childp->v = v;
	return rv;
}

int nact_sup_stop_child(nact_system *sys, nact_aid sup, nact_aid child, int timeout_ms)
{
	nact_msg *rep;
	nact_reader r;
	if (sys == NULL || child.v == 0 || timeout_ms < 0)
		return NACT_EINVAL;
	int rv = sup_call(sys, sup, NACTI_T_SUP_STOP, child.v, timeout_ms, &rep, &r);
	if (rv != 0)
		return rv;
	nact_reader_fini(&r);
	nact_msg_free(rep);
	return 0;
}

/* One [id, aid, restarts, last_reason, backoff_ms, running] entry. */
static int read_info(nact_reader *r, nact_child_info *ci)
{
	uint32_t n;
	const char *id;
	size_t idl;
	uint64_t aid, restarts, backoff;
	int64_t reason;
	int running;
	int rv = nact_read_array(r, &n);
	if (rv == 0 && n != 6)
		rv = NACT_EMALFORMED;
	if (rv == 0)
		rv = nact_read_str(r, &id, &idl);
	if (rv == 0)
		rv = nact_read_uint(r, &aid);
	if (rv == 0)
		rv = nact_read_uint(r, &restarts);
	if (rv == 0)
		rv = nact_read_int(r, &reason);
	if (rv == 0)
		rv = nact_read_uint(r, &backoff);
	if (rv == 0)
		rv = nact_read_bool(r, &running);
	if (rv == 0)
		rv = nact_read_leave(r);
	if (rv != 0)
		return rv;
	memset(ci, 0, sizeof(*ci));
	snprintf(ci->id, sizeof(ci->id), "%.*s", (int)idl, id);
	ci->aid.v = aid;
	ci->restarts = restarts > UINT32_MAX ? UINT32_MAX : (uint32_t)restarts;
	ci->last_reason = (int)reason;
	ci->backoff_ms = backoff > UINT32_MAX ? UINT32_MAX : (uint32_t)backoff;
	ci->running = running;
	return 0;
}

int nact_sup_children(nact_system *sys, nact_aid sup, nact_child_info *out, uint32_t max,
    uint32_t *np, int timeout_ms)
{
	nact_msg *rep;
	nact_reader r;
	uint32_t n = 0, i;
	if (sys == NULL || np == NULL || (out == NULL && max > 0) || timeout_ms < 0)
		return NACT_EINVAL;
	*np = 0;
	int rv = sup_call(sys, sup, NACTI_T_SUP_WHICH, max, timeout_ms, &rep, &r);
	if (rv != 0)
		return rv;
	rv = nact_read_array(&r, &n);
	for (i = 0; rv == 0 && i < n && i < max; i++)
		rv = read_info(&r, &out[i]);
	nact_reader_fini(&r);
	nact_msg_free(rep);
	if (rv == 0)
		*np = i;
	return rv;
}
