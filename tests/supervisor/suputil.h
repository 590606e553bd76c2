/*
 * tests/supervisor/suputil.h — workers, an event log and a DOWN probe for
 * the supervisor tests.
 *
 * A test opens its system with st_open (which also zeroes its st_log) and
 * describes each child with an st_def (its index and behaviour), giving
 * st_start as the child's start function; st_sup_start does that for a
 * supervisor over plain workers A, B, ... (st_specs) and starts it. Every start and every end
 * of a worker is appended to an st_log as "+X" / "-X" (X = 'A' + index),
 * from whichever thread it happens on; st_events() renders the log as a
 * string such as "-B -D -C +B +C +D", so a test states the order it expects
 * in one CHECK_STR. A worker's state is fresh per start (count = 0), so
 * W_GET after a restart answers 0.
 *
 * Knobs per child, set by the test before the event that uses them:
 *   poison[i]     > 0: the start function sends the new worker a crash
 *                 right away (and decrements), for automatic crash storms
 *   fail_start[i] > 0: the start function fails with NACT_EEXIST (and
 *                 decrements)
 *   def.trap      1: the worker traps exits and ignores a stop (it must be
 *                 killed after its shutdown timeout); 2: it traps exits and
 *                 ends when it gets the EXIT (a child that cleans up)
 */
#ifndef NACT_SUPUTIL_H
#define NACT_SUPUTIL_H

#include <unistd.h>

#include "testutil.h"

#define ST_MAXKIDS 16
#define ST_MAXEV 8192

enum {
	W_CRASH = 1, /* body: reason -> nact_exit_msg(reason, "crash requested") */
	W_ERR,       /* body: error -> the behaviour returns it */
	W_NORMAL,    /* exit normally */
	W_INC,       /* count++ */
	W_GET,       /* request: reply [count] */
	W_TRAP,      /* trap exits from now on (and ignore stops) */
	W_PING,      /* request: reply [index] (the restarted child handles it) */
	W_STOP,      /* body: id -> nact_stop(id) (e.g. its own supervisor) */
	W_SLEEP      /* body: ms -> sleep in the handler (handler deadlines) */
};

typedef struct st_log st_log;

typedef struct st_def {
	st_log *log;
	int idx;              /* index in the log (dynamic children: from *extra) */
	int trap;             /* 1: trap exits and ignore a stop; 2: trap, then end on EXIT */
	uint32_t deadline_ms; /* spawn with this handler deadline */
} st_def;

struct st_log {
	atomic_uint n;                    /* events appended */
	_Atomic uint32_t ev[ST_MAXEV];    /* kind << 16 | index, 0 until written */
	atomic_int starts[ST_MAXKIDS];    /* starts per child */
	atomic_int stops[ST_MAXKIDS];     /* ends per child (state destructor) */
	_Atomic uint64_t aid[ST_MAXKIDS]; /* current actor per child */
	_Atomic uint64_t start_ns[ST_MAXKIDS];
	_Atomic uint64_t stop_ns[ST_MAXKIDS];
	atomic_int trapped[ST_MAXKIDS]; /* worker traps exits now */
	atomic_int exits[ST_MAXKIDS];   /* NACT_T_EXIT messages seen */
	atomic_int poison[ST_MAXKIDS];
	atomic_int fail_start[ST_MAXKIDS];
	atomic_int live;         /* workers alive */
	atomic_int root_fail;    /* on_root_fail calls */
	atomic_int root_reason;  /* ... and the reason of the last one */
	_Atomic uint64_t extras; /* sum of dynamic children's extras at start */
	nact_child_spec cs[8];   /* st_sup_start's children and their defs: */
	st_def defs[8];          /* these must outlive the supervisor */
};

typedef struct st_worker {
	st_def *def;
	int idx;
	int count;
} st_worker;

#define EV_START 1u
#define EV_STOP 2u

static inline void st_event(st_log *l, uint32_t kind, int idx)
{
	uint32_t i = atomic_fetch_add(&l->n, 1);
	if (i < ST_MAXEV)
		atomic_store(&l->ev[i], kind << 16 | (uint32_t)idx);
}

/* Events from index `from` on, as "+A -B ...". Waits (bounded) for each
 * appended slot to be written. */
static inline const char *st_events(st_log *l, uint32_t from, char *buf, size_t len)
{
	size_t o = 0;
	uint32_t n = atomic_load(&l->n);
	buf[0] = '\0';
	for (uint32_t i = from; i < n && i < ST_MAXEV && o + 4 < len; i++) {
		uint32_t e;
		NT_WAIT((e = atomic_load(&l->ev[i])) != 0, NT_LONG_MS);
		o += (size_t)snprintf(buf + o, len - o, "%s%c%c", o ? " " : "",
		    (e >> 16) == EV_START ? '+' : '-', 'A' + (int)(e & 0xffff));
	}
	return buf;
}

static inline void st_fini(void *arg)
{
	st_worker *w = arg;
	st_log *l = w->def->log;
	atomic_store(&l->stop_ns[w->idx], nt_now_ns());
	st_event(l, EV_STOP, w->idx);
	atomic_fetch_add(&l->stops[w->idx], 1);
	atomic_fetch_sub(&l->live, 1);
	free(w);
}

static inline void st_reply_int(nact_ctx *ctx, nact_msg *m, int64_t v)
{
	nact_msg *r = nt_msg_int(nact_sys(ctx), W_GET, v);
	if (r != NULL && nact_reply(nact_sys(ctx), m, r) != 0)
		nact_msg_free(r);
}

static inline int st_fn(nact_ctx *ctx, nact_msg *m)
{
	st_worker *w = nact_state(ctx);
	st_log *l = w->def->log;
	switch (nact_msg_type(m)) {
	case W_CRASH:
		nact_exit_msg(ctx, (int)nt_body_int(m, NACT_EINVAL), "crash requested");
		return 0;
	case W_ERR:
		return (int)nt_body_int(m, NACT_EINVAL);
	case W_NORMAL:
		nact_exit(ctx, NACT_EXIT_NORMAL);
		return 0;
	case W_INC:
		w->count++;
		return 0;
	case W_GET:
		st_reply_int(ctx, m, w->count);
		return 0;
	case W_PING:
		st_reply_int(ctx, m, w->idx);
		return 0;
	case W_STOP:
		nact_stop(nact_sys(ctx), (nact_aid){(uint64_t)nt_body_int(m, 0)});
		return 0;
	case W_SLEEP:
		nng_msleep((nng_duration)nt_body_int(m, 0));
		return 0;
	case W_TRAP:
		nact_trap_exit(ctx, 1);
		atomic_store(&l->trapped[w->idx], 1);
		return 0;
	case NACT_T_EXIT:
		atomic_fetch_add(&l->exits[w->idx], 1);
		if (w->def->trap == 2)
			nact_exit(ctx, NACT_EXIT_SHUTDOWN); /* cleaned up, now ends */
		return 0;                                   /* trap 1: ignored on purpose */
	default:
		return 0;
	}
}

/* The start function of every test child: arg is its st_def; for dynamic
 * children extra points at an int index. */
static inline int st_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	st_def *d = arg;
	st_log *l = d->log;
	int idx = extra != NULL ? *(int *)extra : d->idx;
	if (atomic_load(&l->fail_start[idx]) > 0) {
		atomic_fetch_sub(&l->fail_start[idx], 1);
		return NACT_EEXIST;
	}
	st_worker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NACT_ENOMEM;
	w->def = d;
	w->idx = idx;
	nact_spawn_opts o = {.handler_deadline_ms = d->deadline_ms};
	int rv = nact_spawn(idp, sys, st_fn, w, st_fini, &o);
	if (rv != 0) {
		free(w);
		return rv;
	}
	atomic_fetch_add(&l->live, 1);
	atomic_store(&l->aid[idx], idp->v);
	atomic_store(&l->start_ns[idx], nt_now_ns());
	if (extra != NULL)
		atomic_fetch_add(&l->extras, (uint64_t)idx);
	st_event(l, EV_START, idx);
	atomic_fetch_add(&l->starts[idx], 1);
	if (d->trap)
		nt_send_int(sys, *idp, W_TRAP, 0);
	if (atomic_load(&l->poison[idx]) > 0) {
		atomic_fetch_sub(&l->poison[idx], 1);
		nt_send_int(sys, *idp, W_CRASH, NACT_EINVAL);
	}
	return 0;
}

/* A fresh (zeroed) log and a system with two workers on `clock`; NULL (and
 * a check failure) if the system does not open. */
static inline nact_system *st_open(st_log *l, int clock)
{
	nact_system *sys = NULL;
	memset(l, 0, sizeof(*l));
	int rv = nt_open(&sys, 2, clock);
	if (rv != 0)
		nt_fail(__FILE__, __LINE__, "nt_open: %s", nact_strerror(rv));
	return sys;
}

/* The start function of a child that is itself a supervisor: arg is its
 * nact_sup_spec. */
static inline int st_sup_child_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	(void)extra;
	return nact_sup_start(idp, sys, arg);
}

static inline nact_aid st_aid(st_log *l, int idx)
{
	return (nact_aid){atomic_load(&l->aid[idx])};
}

/* Crash child idx with reason and wait until it has started `want` times
 * in all (want 0: do not wait). */
static inline int st_crash(nact_system *sys, st_log *l, int idx, int reason, int want)
{
	nt_send_int(sys, st_aid(l, idx), W_CRASH, reason);
	return want == 0 || NT_WAIT(atomic_load(&l->starts[idx]) >= want, NT_LONG_MS);
}

/* A child's count through W_GET; -1 on error. */
static inline int64_t st_get(nact_system *sys, st_log *l, int idx)
{
	nact_msg *m = nt_msg_int(sys, W_GET, 0), *r;
	if (m == NULL)
		return -1;
	int rv = nact_call(sys, st_aid(l, idx), m, (int)nt_slow(NT_LONG_MS), &r);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		return -1;
	}
	int64_t v = nt_body_int(r, -1);
	nact_msg_free(r);
	return v;
}

static inline void st_root_fail(void *arg, int reason)
{
	st_log *l = arg;
	atomic_store(&l->root_reason, reason);
	atomic_fetch_add(&l->root_fail, 1);
}

/* Child specs for n workers A, B, ... with restart type r. */
static inline void st_specs(nact_child_spec *cs, st_def *defs, st_log *l, int n, int r)
{
	static const char *const ids[] = {"A", "B", "C", "D", "E", "F", "G", "H"};
	for (int i = 0; i < n; i++) {
		defs[i] = (st_def){.log = l, .idx = i};
		cs[i] = (nact_child_spec){.id = ids[i],
		    .start = st_start,
		    .arg = &defs[i],
		    .restart = r};
	}
}

/* Start sp over n workers A, B, ... (n <= 8) with restart type r, as
 * st_specs describes them; their specs and defs are kept in the log, and
 * sp->children / sp->nchildren are set here. */
static inline int st_sup_start(nact_aid *sup, nact_system *sys, st_log *l, int n, int r,
    nact_sup_spec *sp)
{
	st_specs(l->cs, l->defs, l, n, r);
	sp->children = l->cs;
	sp->nchildren = (uint32_t)n;
	return nact_sup_start(sup, sys, sp);
}

/* The supervisor's view of its children; returns how many. */
static inline uint32_t st_info(nact_system *sys, nact_aid sup, nact_child_info *ci, uint32_t max)
{
	uint32_t n = 0;
	int rv = nact_sup_children(sys, sup, ci, max, &n, (int)nt_slow(NT_LONG_MS));
	if (rv != 0)
		nt_fail(__FILE__, __LINE__, "nact_sup_children: %s", nact_strerror(rv));
	return n;
}

/* ---- a probe: monitors actors on request and records their DOWNs ---- */

enum { P_WATCH = 100 }; /* body: id -> monitor it */

typedef struct st_probe {
	atomic_int watching; /* monitors placed */
	atomic_int ndown;
	nact_exit_info down[16]; /* written before ndown is bumped */
} st_probe;

static inline int st_probe_fn(nact_ctx *ctx, nact_msg *m)
{
	st_probe *p = nact_state(ctx);
	if (nact_msg_type(m) == P_WATCH) {
		nact_monitor(ctx, (nact_aid){(uint64_t)nt_body_int(m, 0)}, NULL);
		atomic_fetch_add(&p->watching, 1);
	} else if (nact_msg_type(m) == NACT_T_DOWN) {
		int k = atomic_load(&p->ndown);
		if (k < 16 && nact_exit_info_read(m, &p->down[k]) == 0)
			atomic_store(&p->ndown, k + 1);
	}
	return 0;
}

/* Spawn a probe and have it watch id (returns once the monitor is set). */
static inline nact_aid st_watch(nact_system *sys, st_probe *p, nact_aid id)
{
	nact_aid pa = NACT_AID_NONE;
	int rv = nact_spawn(&pa, sys, st_probe_fn, p, NULL, NULL);
	if (rv != 0) {
		nt_fail(__FILE__, __LINE__, "spawn probe: %s", nact_strerror(rv));
		return pa;
	}
	int w = atomic_load(&p->watching);
	nt_send_int(sys, pa, P_WATCH, (int64_t)id.v);
	if (!NT_WAIT(atomic_load(&p->watching) > w, NT_LONG_MS))
		nt_fail(__FILE__, __LINE__, "probe never watched");
	return pa;
}

/* VmRSS in KiB, or -1. */
static inline long st_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

#endif
