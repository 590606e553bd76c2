/*
 * actors/internal.h — internal structures of the system, actors, workers.
 *
 * Not installed. Names: nacti_ for internal non-static symbols.
 */
#ifndef NACTOR_ACTORS_INTERNAL_H
#define NACTOR_ACTORS_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/actor.h>
#include <nactor/registry.h>
#include <nactor/supervisor.h>

#include "mailbox/envelope.h"

/* ---- actor ids ----
 * v = node(16) | gen(20) | index(28). gen starts at 1, so v != 0. */
#define NACTI_IDX_BITS 28
#define NACTI_GEN_BITS 20
#define NACTI_IDX_MASK ((UINT64_C(1) << NACTI_IDX_BITS) - 1)
#define NACTI_GEN_MASK ((UINT64_C(1) << NACTI_GEN_BITS) - 1)
#define NACTI_ID(gen, idx) ((((uint64_t)(gen)&NACTI_GEN_MASK) << NACTI_IDX_BITS) | (idx))
#define NACTI_ID_IDX(v) ((uint32_t)((v)&NACTI_IDX_MASK))
#define NACTI_ID_NODE(v) ((uint16_t)((v) >> 48))

#define NACTI_ASLAB_SHIFT 12 /* 4096 actors per slab */
#define NACTI_ASLAB_SIZE (1u << NACTI_ASLAB_SHIFT)
#define NACTI_ASLAB_MAX (1u << (NACTI_IDX_BITS - NACTI_ASLAB_SHIFT))

/* Actor flags (consumer-owned). */
#define NACTI_AF_EXITING 0x1u
#define NACTI_AF_WAITER 0x2u /* nact_call's reply address: replies go to fn */

/* Internal header flag: this message was counted against a bounded
 * mailbox and the consumer must uncount it. */
#define NACTI_MF_COUNTED 0x8000u

struct nacti_pending; /* request awaiting a reply (actors/request.c) */

/* Per-actor metrics (cfg.metrics = 1; actors/monitor_rt.c). One block per
 * actor struct, allocated when the struct is carved and kept for the
 * system's lifetime (type-stable like the struct). Every field has a single
 * writer, noted per field; readers use relaxed loads and accept a value a
 * message old. hist[i] counts handler runs of [2^i, 2^(i+1)) ns. */
#define NACTI_HBUCKETS 40
#define NACTI_ENQ_SLOTS 7 /* workers 0..6 count pushes without an atomic add */
#define NACTI_MNAME 48
struct nacti_metrics {
	/* consumer (the worker running the actor) */
	_Atomic uint64_t deq;                  /* main-lane messages popped, all incarnations */
	_Atomic uint64_t out;                  /* messages sent from its handlers */
	_Atomic uint64_t handled;              /* behaviour calls */
	_Atomic uint64_t timed;                /* calls timed (1 in NACTI_TIME_EVERY) */
	_Atomic uint64_t busy_ns;              /* time inside the timed calls */
	_Atomic uint64_t max_ns;               /* longest timed call */
	_Atomic uint32_t hist[NACTI_HBUCKETS]; /* timed calls only: 2^32 x 64 calls */
	/* producers of a drop-oldest mailbox (atomic add, slow path) */
	_Atomic uint64_t dropped;
	/* the spawner, before the id is published */
	_Atomic uint64_t deq_base; /* deq at spawn */
	_Atomic uint64_t drop_base;
	_Atomic uint64_t spawn_ns;
	_Atomic uint64_t name[NACTI_MNAME / 8]; /* registered name, NUL-padded */
	/* the supervisor that restarted it (nacti_metrics_restarted) */
	_Atomic uint32_t restarts;
	/* main-lane pushes, all incarnations, on a line of their own that
	 * only producers write: enq_w[i] by worker i of this system alone (a
	 * plain increment), enq_x by any other thread (atomic add) */
	_Alignas(64) _Atomic uint64_t enq_w[NACTI_ENQ_SLOTS];
	_Atomic uint64_t enq_x;
};

/* The profiler: per worker, an open-addressed table of (behaviour, type)
 * -> calls, ns. Written by its worker only; keys are published with
 * release, counters read relaxed (actors/monitor_rt.c). */
#define NACTI_PROF_SLOTS 512
struct nacti_prof_slot {
	_Atomic uintptr_t fn; /* 0 = empty; set once */
	_Atomic uint32_t type;
	_Atomic uint64_t calls;
	_Atomic uint64_t ns;
};

/* One monitor: its reference and the other end (watcher or target). */
struct nacti_mon {
	uint64_t ref;
	nact_aid who;
};

/* Internal control-lane types (never seen by behaviours). */
#define NACTI_T_KILL 0xFFFF0020u    /* end with NACT_EXIT_KILLED */
#define NACTI_T_EXITSIG 0xFFFF0021u /* exit signal {id, reason, text} */

/* Rarely used per-actor parts, allocated on demand so an idle actor stays
 * small. Owned by the actor's consumer except where noted. */
struct nacti_actor_ext {
	/* bounded mailbox (fixed at spawn, read by producers) */
	_Atomic uint32_t cap;     /* 0 = unbounded */
	_Atomic int overflow;     /* enum nact_overflow */
	_Atomic uint32_t count;   /* queued messages (bounded only) */
	_Atomic uint32_t waiters; /* blocked senders */
	nng_mtx *mtx;             /* drop-oldest push/pop; block waits; links */
	nng_cv *cv;               /* signalled when room appears */
	/* under mtx, any thread (actors/link.c) */
	struct nacti_mon *mons_in; /* monitors on this actor: {ref, watcher} */
	uint32_t nmons_in, capmons_in;
	nact_aid *links; /* linked actors */
	uint32_t nlinks, caplinks;
	/* consumer-owned */
	struct nacti_mon *mons_out; /* monitors this actor holds: {ref, target} */
	uint32_t nmons_out, capmons_out;
	int trap;             /* trap exits */
	uint32_t deadline_ms; /* handler deadline, 0 = none */
	char *name;           /* registered local name, or NULL */
	/* outstanding requests (actors/request.c): a list sorted by
	 * deadline, earliest first, with one timer for the whole list */
	struct nacti_pending *pending, *ptail;
	struct nacti_pending *pfree; /* spare entries (at most 32) */
	uint32_t npfree;
	nact_timer rq_timer;  /* armed for rq_due, or 0 */
	uint64_t rq_due;      /* deadline the timer is armed for, 0 = none */
	uint64_t rq_seq;      /* arming count: the timer message's corr */
	int rcv_timeout_ms;   /* receive timeout, 0 = none */
	uint64_t rcv_stamp;   /* messages handled (timeout check) */
	nact_timer rcv_timer; /* armed receive-timeout timer */
	/* the operation this actor runs (nact_spawn_op), 0 = none; set at
	 * spawn before the id is published, read by other threads
	 * (nacti_actor_opid) */
	_Atomic uint64_t opid;
};

/*
 * An actor. Type-stable: structs live in slabs for the system's lifetime
 * and are reused after an actor ends. The queue fields are initialised once
 * and never reset, so a late sender that still holds the struct can always
 * push safely; the consumer drops (as dead letters) messages whose target
 * id is not the struct's current id.
 */
struct nacti_actor {
	/* line 0: what senders touch. Producers exchange on the head; every
	 * send reads id and ext. The consumer never reads this line per
	 * message (it has its own copies on line 1), so a send costs no
	 * cross-core traffic beyond the head itself. */
	_Atomic uintptr_t mq_head; /* main lane head (see envelope.h) */
	_Atomic uint64_t id;       /* current id; 0 = free. release on spawn */
	/* optional parts, NULL until an actor in this struct needed them;
	 * then kept (and reset) across reuses until the system closes, so a
	 * late sender never reads freed memory. */
	_Atomic(struct nacti_actor_ext *) ext;
	struct nacti_actor *rq_next; /* link in the global run queue / free list */
	nact_state_fini fini;        /* state destructor (read at the end only) */
	uint32_t gen;                /* generation of the current/next id */
	uint32_t idx;                /* index in the actor table */
	/* cfg.metrics: the metrics block as producers see it (the same
	 * pointer as met, on the line they already touch); set at carve */
	struct nacti_metrics *pmet;
	/* line 1: the consumer's; written on every message (mq tail). */
	_Alignas(64) nact_msg *mq_tail; /* main lane tail (current stub) */
	/* control lane: Treiber stack. Pushed rarely, but polled by the
	 * consumer after every message, so it lives on the consumer's line. */
	_Atomic(nact_msg *) ctl;
	_Atomic uint64_t cid;                   /* copy of id for the consumer */
	_Atomic(struct nacti_actor_ext *) cext; /* copy of ext for the consumer */
	nact_behaviour fn;                      /* set at spawn, before id */
	void *state;                            /* owned state */
	uint32_t flags;                         /* NACTI_AF_* (consumer) */
	struct nacti_metrics *met;              /* NULL unless cfg.metrics; set at carve */
};

/* A worker's local run queue: bounded ring. The owner pushes at tail;
 * owner and thieves pop at head with CAS (as in Go's runtime). */
#define NACTI_RING 256
struct nacti_ring {
	_Atomic uint32_t head;
	_Atomic uint32_t tail;
	_Atomic(struct nacti_actor *) buf[NACTI_RING];
};

struct nacti_worker {
	/* owner fields */
	nact_system *sys;
	uint32_t idx;
	uint32_t next_runs; /* consecutive runs from the next slot */
	uint32_t tick;      /* scheduling rounds, for global-queue fairness */
	uint64_t rng;       /* victim choice */
	uint64_t seed_rng;  /* seeded mode's choices, advanced only by them */
	nng_thread *thr;
	uint64_t seen_stamp[8]; /* thieves' view of victims' progress */
	/* shared */
	_Alignas(64) _Atomic(struct nacti_actor *) next; /* runnext slot */
	_Atomic uint64_t stamp; /* actor turns run (progress, read by thieves) */
	_Alignas(64) struct nacti_ring rq;
	_Alignas(64) _Atomic int parked; /* 1 while sleeping or about to */
	int wake;                        /* under mtx */
	nng_mtx *mtx;
	nng_cv *cv;
	/* watchdog slot (cfg.metrics): written by the worker around each
	 * behaviour call, read by the watchdog. wd_seq is odd while a call
	 * runs (incremented with release before and after it); readers check
	 * it before and after reading aid/type/fn. No clock is read: a reader
	 * knows how long a call has run from when a reader first saw its seq
	 * (wd_seen_seq/wd_seen_ns, written by readers, relaxed). */
	_Alignas(64) _Atomic uint64_t wd_seq;
	_Atomic uint64_t wd_aid;
	_Atomic uintptr_t wd_fn;
	_Atomic uint32_t wd_type;
	_Atomic uint64_t wd_seen_seq;
	_Atomic uint64_t wd_seen_ns;
	struct nacti_prof_slot *prof; /* NACTI_PROF_SLOTS, NULL unless metrics */
};

struct nacti_timers; /* actors/timer.c */
struct nacti_names;  /* registry/names.c */
struct nacti_ops;    /* registry/ops.c: operation registry */
struct nacti_iso;    /* supervisor/isolate.c: isolated actors, parent side */
struct nacti_child;  /* supervisor/isolate.c: inside an isolated actor's process */

struct nact_system {
	/* read-mostly: set at open, read on every send */
	nact_config cfg;
	nacti_pool *pool;
	_Atomic(struct nacti_actor *) *aslabs; /* NACTI_ASLAB_MAX slab pointers */
	struct nacti_worker *workers;
	uint32_t nworkers;
	_Atomic int stopping; /* workers exit */
	_Atomic int closing;  /* no new spawns/sends */
	_Atomic int log_level;
	struct nacti_timers *timers;
	struct nacti_names *names;
	/* operation registry (registry/ops.c) */
	struct nacti_ops *ops;
	/* registry server (registry/server.c), NULL unless serving */
	struct nacti_regsrv *regsrv;
	nng_mtx *amtx;  /* guards free list and carving */
	nng_cv *livecv; /* on amtx: live reached 0 while closing */
	nng_mtx *gmtx;  /* global run queue */
	nng_mtx *dlmtx;
	nng_mtx *logmtx;
	nact_log_fn log_fn;
	void *log_arg;
	_Atomic uint64_t manual_now; /* written only by nact_clock_advance */
	/* Isolation hooks (supervisor/isolate.c). iso: set at open when
	 * cfg.isolation = 1. child: set only in the stub system inside an
	 * isolated actor's process; that stub is always "closing", so sends
	 * reach their hook from the closing branch, off the hot path. */
	struct nacti_iso *iso;
	struct nacti_child *child;
	/* Node hooks (transport/node.c): set by nact_node_start, NULL when no
	 * node ever ran. node_send takes a message to a remote id (node bits
	 * set); node_monitor watches a remote target for a local watcher;
	 * node_demonitor removes such a monitor (NACT_ENOENT if unknown).
	 * Reached only from branches that already test the node bits, so the
	 * local path pays nothing. node: the running node, NULL after stop. */
	_Atomic(int (*)(nact_system *, nact_aid, nact_msg *, int, int)) node_send;
	_Atomic(int (*)(nact_system *, nact_aid, nact_aid, uint64_t)) node_monitor;
	_Atomic(int (*)(nact_system *, nact_aid, uint64_t)) node_demonitor;
	/* node_link: the remote half of a link between local actor self and
	 * remote actor other (node bits set). op NACTI_NL_LINK: record it and
	 * ask the other node to link back (NACT_ENODEDOWN if its node is
	 * down); NACTI_NL_UNLINK: forget it on both nodes; NACTI_NL_EXIT:
	 * self ended with reason/text, signal other (the link is gone). */
	_Atomic(int (*)(nact_system *, int, nact_aid, nact_aid, int, const char *)) node_link;
	/* node_poll: handle the node's ready lane events on this thread
	 * (transport/lane.h); returns how many. Idle and lingering workers
	 * call it, so traffic from other nodes is read and run without a
	 * thread hop. Set only by a node that has lanes. */
	_Atomic(int (*)(nact_system *)) node_poll;
	/* node_park: a worker that polled stops spinning and parks (the
	 * node's lane thread takes the sockets over). Set with node_poll. */
	_Atomic(void (*)(nact_system *)) node_park;
	_Atomic(void *) node;
	_Atomic uint32_t node_users; /* hook calls in progress (stop waits) */
	/* behaviours by name and cluster-wide names (transport/names.c):
	 * created on first use, owned by the "nact.names" service actor,
	 * whose fini frees it and sets this back to NULL */
	_Atomic(void *) gnames;
	/* actors: written by spawn and exit */
	_Alignas(64) struct nacti_actor *afree; /* free actor structs (via rq_next) */
	_Atomic uint32_t acarved;               /* actor structs carved (release) */
	_Atomic uint64_t spawned;
	_Atomic uint64_t live;
	/* scheduler: written as workers go idle and as work is injected */
	_Alignas(64) _Atomic int n_parked;
	_Atomic int n_spinning;
	_Atomic uint32_t glen;
	struct nacti_actor *ghead, *gtail;
	_Atomic uint64_t parks;
	_Atomic uint64_t steals;
	/* requests */
	_Alignas(64) _Atomic uint64_t corr_next;
	/* dead letters */
	_Alignas(64) _Atomic uint64_t dl[NACT_DL_NREASONS];
	nact_aid *dlsubs;
	uint32_t ndlsubs;
	_Atomic uint32_t ndlsubs_pub; /* lock-free "any subscriber?" */
	/* metrics (actors/monitor_rt.c): profiler on/off, written by anyone */
	_Atomic int profiling;
	uint64_t open_ns; /* monotonic time at open */
};

/* The context a behaviour runs with (on the worker's stack). */
struct nact_ctx {
	nact_system *sys;
	struct nacti_worker *w;
	struct nacti_actor *a;
	nact_aid self;
	nact_msg *cur;  /* message being handled */
	int consumed;   /* cur was forwarded/kept: do not free */
	int exiting;    /* nact_exit called */
	int reason;     /* exit reason */
	char text[256]; /* exit text (nact_exit_msg), "" if none */
};

/* The running ctx of this thread, NULL outside handlers (documented
 * thread-local). */
extern __thread nact_ctx *nacti_cur;
/* Work a handler left for the end of its actor's turn (documented
 * thread-local): transport/node.c sets it when a send queued frames for a
 * node's lane, so they leave in one write when the actor has drained its
 * mailbox (before it lingers or gives up the worker), not one per send.
 * Called once, then cleared. */
extern __thread void (*nacti_run_end)(void);

/* ---- actors/actor.c ---- */
struct nacti_actor *nacti_actor_at(nact_system *sys, uint32_t idx);
/* Run one turn of an actor on worker w (which holds its schedule token). */
void nacti_actor_run(struct nacti_worker *w, struct nacti_actor *a);
/* Deliver m to `to` (header already has sender etc.). Ownership as
 * nact_send. ctl: use the control lane. */
int nacti_deliver(nact_system *sys, nact_aid to, nact_msg *m, int ctl, int timeout_ms);
/* Close-time cleanup of all actors (single-threaded). */
void nacti_actors_fini(nact_system *sys);
struct nacti_actor_ext *nacti_actor_ext(struct nacti_actor *a);
/* The ext as senders see it (any thread), or NULL. */
struct nacti_actor_ext *nacti_actor_ext_any(struct nacti_actor *a);
/* The actor's ext, allocated if it has none yet. Consumer only. */
int nacti_ext_get(struct nacti_actor *a, struct nacti_actor_ext **xp);

/* ---- actors/link.c ---- */
/* The actor in ctx is ending with ctx->reason: notify monitors and links,
 * drop its own monitors. Called by die() after the id is retired. */
void nacti_links_exit(nact_ctx *ctx, struct nacti_actor_ext *x, uint64_t id);
/* Notify self's monitors (DOWN) and links (exit signal) of reason, and
 * empty both lists, without retiring the id (isolated actors use this when
 * their process dies but their mailbox stays). Any thread. */
void nacti_links_notify(nact_system *sys, struct nacti_actor_ext *x, nact_aid self, int reason,
    const char *text);
/* Deliver an exit-info control message (DOWN, EXIT or EXITSIG) to `to`. */
/* Build (not send) a DOWN / EXIT message: the caller owns *mp. */
int nacti_exitinfo_msg(nact_msg **mp, nact_system *sys, uint32_t type, uint64_t ref, nact_aid from,
    nact_aid id, int reason, const char *text);
int nacti_send_exitinfo(nact_system *sys, nact_aid to, uint32_t type, uint64_t ref, nact_aid from,
    nact_aid id, int reason, const char *text);
/* Add a monitor {ref, watcher} on local actor target (the watcher may be
 * remote: the DOWN is then routed by the node). 0, or NACT_ENOENT if target
 * is not alive (nothing added), NACT_ENOMEM. Any thread. */
int nacti_monitor_add(nact_system *sys, nact_aid target, uint64_t ref, nact_aid watcher);
/* Remove monitor ref from local actor target, if both still exist. */
void nacti_monitor_del(nact_system *sys, nact_aid target, uint64_t ref);
/* node_link ops (see nact_system.node_link). */
enum { NACTI_NL_LINK = 1, NACTI_NL_UNLINK = 2, NACTI_NL_EXIT = 3 };
/* Add remote actor `remote` to the links of local actor `local`: 0, or
 * NACT_ENOENT if local is not alive (nothing added), NACT_ENOMEM. Any
 * thread; takes local's ext mutex (callers may hold node locks). */
int nacti_link_add_remote(nact_system *sys, nact_aid local, nact_aid remote);
/* Remove remote from local's links: 1 if local is alive and was linked to
 * it (the caller then delivers the exit signal), else 0. Any thread. */
int nacti_link_take(nact_system *sys, nact_aid local, nact_aid remote);
/* Reset the link/monitor state of a reused ext (spawn). */
void nacti_links_reset(struct nacti_actor_ext *x);
void nacti_links_free(struct nacti_actor_ext *x);
/* Shared (any thread) ext creation: CAS-published, never replaced. */
int nacti_ext_shared(struct nacti_actor *a, struct nacti_actor_ext **xp);

/* ---- actors/sched.c ---- */
int nacti_sched_start(nact_system *sys);
void nacti_sched_stop(nact_system *sys);
void nacti_sched_fini(nact_system *sys);
/* Make a ready: onto the current worker (if the caller is an actor of this
 * system) or the global queue. */
void nacti_schedule(nact_system *sys, struct nacti_actor *a);
/* Worker-only: poll q for up to cfg.spin_us while this worker has no
 * other work; 1 if a message arrived (0 if none came or other work did). */
int nacti_linger(struct nacti_worker *w, struct nacti_mq q);
/* Worker-only: a used its batch and still has messages. */
void nacti_reschedule(struct nacti_worker *w, struct nacti_actor *a);

/* ---- actors/timer.c ---- */
int nacti_timers_init(nact_system *sys);
void nacti_timers_stop(nact_system *sys);
void nacti_timers_fini(nact_system *sys);
/* Arm a timer that delivers m to `to` (ctl lane if ctl) at due_ns. */
int nacti_timer_add(nact_system *sys, nact_aid to, nact_msg *m, int ctl, uint64_t due_ns,
    nact_timer *tp);

/* ---- actors/request.c ---- */
/* Consumer side: a REPLY message or a request timeout arrived. Returns 1
 * if the message was consumed (handed to a callback or dropped). */
void nacti_request_reply(nact_ctx *ctx, nact_msg *m);
void nacti_request_timeout(nact_ctx *ctx, uint64_t corr);
void nacti_requests_drop(nact_system *sys, struct nacti_actor_ext *x);

/* ---- actors/deadletter.c ---- */
/* Count m as a dead letter for reason, report it to subscribers, free it. */
void nacti_deadletter(nact_system *sys, nact_msg *m, int reason);
void nacti_deadletters_fini(nact_system *sys);

/* ---- actors/monitor_rt.c (cfg.metrics) ---- */
/* Monotonic ns, the clock of handler timing and the watchdog. */
uint64_t nacti_mono_ns(void);
/* Carve time: a->met allocated (0 or NACT_ENOMEM). Close: freed. */
int nacti_metrics_carve(struct nacti_actor *a);
void nacti_metrics_free(struct nacti_actor *a);
/* Spawn: reset the block for a new incarnation named name (may be NULL). */
void nacti_metrics_spawn(struct nacti_actor *a, const char *name);
/* cfg.metrics: one behaviour call in NACTI_TIME_EVERY is timed (every
 * call while profiling): run fn on m between two clock reads and add the
 * time to met (sample) and to the worker's profile (prof). Returns fn's.
 * The untimed path is metrics_call in actors/actor.c. */
#define NACTI_TIME_EVERY 64
int nacti_metrics_timed(nact_ctx *ctx, struct nacti_metrics *met, nact_behaviour fn, nact_msg *m,
    uint32_t type, int sample, int prof);
/* A supervisor restarted a child as id, for the restarts-th time. */
void nacti_metrics_restarted(nact_system *sys, nact_aid id, uint32_t restarts);
/* Worker start/stop: the profiler table (0 or NACT_ENOMEM). */
int nacti_metrics_worker(struct nacti_worker *w);
void nacti_metrics_worker_fini(struct nacti_worker *w);

/* ---- actors/monitor_srv.c: the registry server's "actors" verb ---- */
struct msgpack_packer;
/* Pack the whole reply map of "actors" (sort: counted string or NULL) into
 * pk, or pack nothing and return the error text for the caller's error
 * reply. */
const char *nacti_mon_pack_actors(nact_system *sys, const char *sort, size_t sortn, int has_limit,
    uint64_t limit, uint64_t proto_v, struct msgpack_packer *pk);

/* ---- actors/log.c ---- */
int nacti_log_init(nact_system *sys);
void nacti_log_fini(nact_system *sys);
#define NACTI_DEBUG(sys, ...)                                                        \
	do {                                                                         \
		if (atomic_load_explicit(&(sys)->log_level, memory_order_relaxed) >= \
		    NACT_LOG_DEBUG)                                                  \
			nact_log((sys), NACT_LOG_DEBUG, __VA_ARGS__);                \
	} while (0)

/* ---- supervisor/isolate.c (crash-isolated actors) ---- */
/* Top of nact_system_open with cfg.isolation = 1, before any nng call: make
 * sure the launcher process exists (it is forked only while the process is
 * still single-threaded). 0 or NACT_ESTATE, NACT_ESYSERR + errno. */
int nacti_iso_launcher(void);
/* Open: the system's private directory and its launcher session. */
int nacti_iso_open(nact_system *sys);
/* Close, before timers and workers stop: no more deliveries from the
 * launcher or from isolated processes into this system. NULL-safe. */
void nacti_iso_stop(nact_system *sys);
/* Close, after every actor ended: remove the directory, free. */
void nacti_iso_fini(nact_system *sys);
/* Inside an isolated actor's process: send m (or forward ctx's message) to
 * the parent. Ownership as nact_send. */
int nacti_child_send(nact_system *sys, nact_aid to, nact_msg *m);
int nacti_child_forward(nact_ctx *ctx, nact_aid to, nact_msg *m);
/* Isolation hook for calls that need the whole runtime: inside an
 * isolated actor's process they return NACT_ENOTSUP. */
#define NACTI_CHILD_REFUSE(sys)                            \
	do {                                               \
		if ((sys) != NULL && (sys)->child != NULL) \
			return NACT_ENOTSUP;               \
	} while (0)

/* ---- registry/names.c ---- */
int nacti_names_init(nact_system *sys);
void nacti_names_fini(nact_system *sys);
/* Remove name if it still maps to id. */
void nacti_names_drop(nact_system *sys, const char *name, nact_aid id);
/* Add name -> id without checking that id is alive. NACT_EEXIST. */
int nacti_names_add(nact_system *sys, const char *name, nact_aid id);

/* ---- registry/ops.c ---- */
/* Operation registry: init at open (NACT_ENOMEM), fini at close after
 * every actor ended (frees live operations and the history; NULL-safe). */
int nacti_ops_init(nact_system *sys);
void nacti_ops_fini(nact_system *sys);
/* Set (fn != NULL) or clear the status hook: fn(arg, in) runs under the
 * registry's lock on every status change (create, start, complete, fail,
 * cancel, each op of a cancelled tree); it must not block nor call the
 * registry. Once this returns after clearing, no call is in progress. */
void nacti_ops_set_hook(nact_system *sys, void (*fn)(void *arg, const nact_op_info *in), void *arg);
/* Cancelable actors: the op is run by actor (after a cancel it gets
 * NACT_T_CANCEL and grace_ms to end before it is killed). Any thread. */
int nacti_ops_attach(nact_system *sys, nact_opid id, nact_aid actor, uint32_t grace_ms);
/* The actor running op opid ended with reason: completes (normal),
 * cancels (shutdown) or fails the op unless it is already final. */
void nacti_ops_actor_ended(nact_system *sys, uint64_t opid, int reason, const char *text);
/* Requests: a child op "request" of parent (see ops.c), and wait-for
 * edges between the requester's op and the target actor's op
 * (NACT_ECYCLE when the edge would close a cycle; logged). */
int nacti_ops_request_begin(nact_system *sys, uint64_t parent, nact_aid to, uint64_t *ropp);
int nacti_ops_wait_add(nact_system *sys, uint64_t waiter, uint64_t on, uint64_t corr);
void nacti_ops_wait_del(nact_system *sys, uint64_t waiter, uint64_t corr);
/* The op of a live local actor (nact_spawn_op), or 0. Any thread. */
uint64_t nacti_actor_opid(nact_system *sys, nact_aid id);

#endif
