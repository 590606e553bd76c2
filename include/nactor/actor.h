/*
 * nactor/actor.h — the actor system: scheduler, actors, timers, requests,
 * dead letters, clock and logging.
 *
 * Threads: N worker threads (default one per core) run ready actors; a
 * timer thread fires timers on the real clock. Any thread may call the
 * functions below unless the comment says "handler only" (only from inside
 * a behaviour, with the ctx it was given) or "outside actors only".
 *
 * Lifecycle: nact_system_open -> spawn/send... -> nact_system_close (stops
 * every actor, waits for workers, runs every state destructor, frees every
 * queued message). close may block and must not be called from a handler.
 */
#ifndef NACTOR_ACTOR_H
#define NACTOR_ACTOR_H

#include <stdarg.h>
#include <stdint.h>

#include <nactor/error.h>
#include <nactor/export.h>
#include <nactor/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nact_ctx nact_ctx;

/* A behaviour handles one message. Return 0 to keep running, or a nonzero
 * error code: the actor then exits with that code as its reason (its state
 * destructor runs and later messages become dead letters). The message is
 * borrowed: the runtime frees it after the return unless the handler
 * forwarded it or took its nng_msg. */
typedef int (*nact_behaviour)(nact_ctx *ctx, nact_msg *msg);

/* Frees an actor's state; called once, on the thread where the actor ends
 * (or in nact_system_close). */
typedef void (*nact_state_fini)(void *state);

enum nact_clock_kind {
	NACT_CLOCK_MONOTONIC = 0, /* CLOCK_MONOTONIC, ns */
	NACT_CLOCK_MANUAL = 1     /* starts at 0, moved by nact_clock_advance */
};

enum nact_log_level {
	NACT_LOG_OFF = 0,
	NACT_LOG_ERROR = 1,
	NACT_LOG_WARN = 2,
	NACT_LOG_INFO = 3,
	NACT_LOG_DEBUG = 4 /* traces spawns, sends, exits, stops */
};

/* A log sink: receives each formatted line (no trailing newline). Called
 * from whichever thread logs; must be thread-safe and must not call back
 * into the system. */
typedef void (*nact_log_fn)(void *arg, int level, const char *line);

typedef struct nact_config {
	uint32_t workers;   /* worker threads; 0 = one per online core */
	uint32_t batch;     /* messages per actor turn; 0 = 64 */
	int clock;          /* enum nact_clock_kind */
	uint64_t seed;      /* nonzero with workers == 1: seeded, replayable
	                         scheduling order (see README) */
	int log_level;      /* -1 = from $NACTOR_LOG (error|warn|info|debug) */
	nact_log_fn log_fn; /* NULL = stderr */
	void *log_arg;
	uint32_t spin_us; /* how long an idle worker spins before parking; 0 = 50 */
	int isolation;    /* 1: allow nact_spawn_isolated (supervisor.h); open then
	                     starts a launcher process before any of its threads,
	                     so call it before starting threads of your own (the
	                     first such open refuses with NACT_ESTATE once the
	                     program runs threads, nng's included; later systems
	                     share the launcher) */
	/* finished operations kept (registry.h); 0 = 1000 */
	uint32_t op_history;
	/* 1: per-actor metrics (mailbox depth, messages in/out, handler time
	 * histogram), the slow-handler watchdog slots and the profiler
	 * (monitor.h); 0 (default): off, nothing is counted. Fixed at open. */
	int metrics;
} nact_config;

/* Defaults for every field; then change what you need. */
NACT_DECL void nact_config_init(nact_config *cfg);

/* Start a system. cfg NULL = defaults. Errors: NACT_ENOMEM, NACT_EINVAL. */
NACT_DECL int nact_system_open(nact_system **sysp, const nact_config *cfg);

/* Ask every actor to stop (control lane), wait up to timeout_ms for them to
 * finish their current handler, then stop the workers and free everything:
 * state destructors run for every actor, queued messages are freed, timers
 * are cancelled, and every message the caller still holds is invalid.
 * Workers finish the turn they are in before they stop, so a handler that
 * never returns keeps close waiting. NULL-safe. Outside actors only (from a
 * handler it returns without doing anything and logs an error); no other
 * thread may be inside a call on this system when close starts. */
NACT_DECL void nact_system_close(nact_system *sys, int timeout_ms);

/* ---- spawning ---- */

enum nact_overflow {
	NACT_OVERFLOW_FAIL = 0,       /* send returns NACT_EFULL */
	NACT_OVERFLOW_BLOCK = 1,      /* sender waits up to its timeout (outside actors
	                             only; from an actor it fails with NACT_EFULL) */
	NACT_OVERFLOW_DROP_OLDEST = 2 /* oldest queued message becomes a dead
	                                 letter with reason "dropped" */
};

typedef struct nact_spawn_opts {
	uint32_t capacity;            /* mailbox bound in messages; 0 = unbounded */
	int overflow;                 /* enum nact_overflow, with capacity > 0 */
	const char *name;             /* register under this local name; NULL = none */
	uint32_t handler_deadline_ms; /* > 0: a handler that runs longer ends the
	                                 actor with NACT_EXIT_DEADLINE (reported
	                                 when it returns; an isolated actor's
	                                 process is killed at the deadline) */
} nact_spawn_opts;

/* Spawn an actor running fn over state. On success the actor owns state
 * and fini (may be NULL) frees it when the actor ends; on failure the caller
 * still owns state. opts may be NULL. Errors: NACT_ENOMEM, NACT_EINVAL,
 * NACT_EEXIST (name taken), NACT_ECLOSED. Any thread. */
NACT_DECL int nact_spawn(nact_aid *idp, nact_system *sys, nact_behaviour fn, void *state,
    nact_state_fini fini, const nact_spawn_opts *opts);

/* ---- sending ---- */

/* Send m to `to`. On success the runtime owns m; on failure the caller
 * still does. From inside a handler the sender field is the running actor.
 * A message to a dead or unknown actor is not an error for the sender: it
 * is accepted (0) and becomes a dead letter (reason "dead" / "unknown")
 * unless the system is closing (NACT_ECLOSED). Errors: NACT_EFULL (bounded
 * mailbox, fail policy or block from an actor), NACT_EINVAL. Never blocks. */
NACT_DECL int nact_send(nact_system *sys, nact_aid to, nact_msg *m);

/* Like nact_send, but for a bounded mailbox with the block policy waits up
 * to timeout_ms for room (NACT_ETIMEDOUT after). From a handler it never
 * waits. */
NACT_DECL int nact_send_wait(nact_system *sys, nact_aid to, nact_msg *m, int timeout_ms);

/* Ask an actor to stop: a control message that is never bounded or
 * dropped; the actor finishes its current handler, its destructor runs, and
 * messages left in its mailbox become dead letters ("stopped").
 * Errors: NACT_ENOENT if the id is not alive. */
NACT_DECL int nact_stop(nact_system *sys, nact_aid id);

/* 1 if the id names a live local actor. */
NACT_DECL int nact_alive(nact_system *sys, nact_aid id);

/* ---- inside a handler (handler only) ---- */

NACT_DECL nact_aid nact_self(nact_ctx *ctx);
NACT_DECL nact_system *nact_sys(nact_ctx *ctx);
NACT_DECL void *nact_state(nact_ctx *ctx);
/* Replace the behaviour for later messages. */
NACT_DECL void nact_become(nact_ctx *ctx, nact_behaviour fn);
/* End this actor after the current handler returns, with reason (0 =
 * normal). */
NACT_DECL void nact_exit(nact_ctx *ctx, int reason);
/* Send the message being handled on to `to` without copying it. On success
 * the runtime owns it (it is not freed after the handler). */
NACT_DECL int nact_forward(nact_ctx *ctx, nact_aid to, nact_msg *msg);
/* Arm a receive timeout: if no message arrives for timeout_ms, the actor
 * gets a NACT_T_TIMEOUT message. Re-armed after each message; 0 disarms. */
NACT_DECL int nact_receive_timeout(nact_ctx *ctx, int timeout_ms);

/* ---- request / reply ---- */

/* Called exactly once per successful nact_request: with the reply (borrowed,
 * freed after the return unless taken) and err 0, or with reply NULL and
 * err NACT_ETIMEDOUT. Runs in the requesting actor, like a handler. */
typedef void (*nact_reply_fn)(nact_ctx *ctx, nact_msg *reply, int err, void *arg);

/* Handler only. Send req to `to` as a request with a deadline timeout_ms
 * from now; the reply or the timeout arrives through cb. A reply after the
 * timeout is a dead letter ("late"), never a second call. If the call fails,
 * cb is never called and the caller still owns req. */
NACT_DECL int nact_request(nact_ctx *ctx, nact_aid to, nact_msg *req, int timeout_ms,
    nact_reply_fn cb, void *arg);

/* Outside actors only: send req and wait up to timeout_ms for the reply.
 * On success *replyp is the caller's to free. Errors: NACT_ETIMEDOUT,
 * NACT_EDEADLK (called from inside an actor: refused, never deadlocks),
 * NACT_ENOENT (target not alive), send errors. req is consumed on success
 * and on NACT_ETIMEDOUT; on other errors the caller still owns it. */
NACT_DECL int nact_call(nact_system *sys, nact_aid to, nact_msg *req, int timeout_ms,
    nact_msg **replyp);

/* Reply to the request `req` (being handled) with `reply`: sets target,
 * corr and the reply flag. Ownership as nact_send. Any thread, so an actor
 * may reply later from another handler if it kept the request's header
 * (see nact_reply_to). */
NACT_DECL int nact_reply(nact_system *sys, const nact_msg *req, nact_msg *reply);
NACT_DECL int nact_reply_to(nact_system *sys, nact_aid to, uint64_t corr, nact_msg *reply);

/* Reply to the request `req` with an error: a NACT_T_ERROR message whose
 * body is [code, text] (text NULL = nact_strerror(code)). This is how every
 * actor of the library answers a request it cannot serve. Errors: as
 * nact_reply, NACT_ENOMEM. Any thread. */
NACT_DECL int nact_reply_error(nact_system *sys, const nact_msg *req, int code, const char *text);

/* Read a NACT_T_ERROR reply: *codep gets the code and text (if len > 0)
 * the message, truncated to len - 1 bytes and NUL-terminated. Errors:
 * NACT_EINVAL, NACT_ETYPE (not an error reply), decode errors. */
NACT_DECL int nact_error_read(const nact_msg *m, int *codep, char *text, size_t len);

/* ---- timers ---- */

typedef struct nact_timer {
	uint64_t v;
} nact_timer;

/* Deliver m to `to` after delay_ms on the system clock. On success the
 * runtime owns m (freed if the timer is cancelled). *tp (may be NULL) gets
 * a handle for nact_timer_cancel. */
NACT_DECL int nact_send_after(nact_system *sys, nact_aid to, nact_msg *m, int delay_ms,
    nact_timer *tp);
/* Cancel a pending timer: 0 if cancelled (its message is freed), NACT_ENOENT
 * if it already fired or never existed. */
NACT_DECL int nact_timer_cancel(nact_system *sys, nact_timer t);

/* ---- clock ---- */

/* Now on the system clock, in ns. */
NACT_DECL uint64_t nact_now(nact_system *sys);
/* Manual clock only: move time forward by ns and fire every timer that is
 * due, in deadline order, before returning. NACT_ESTATE on a real clock. */
NACT_DECL int nact_clock_advance(nact_system *sys, uint64_t ns);

/* ---- dead letters ---- */

enum nact_dl_reason {
	NACT_DL_UNKNOWN = 0, /* no actor ever had this id */
	NACT_DL_DEAD,        /* the actor had ended */
	NACT_DL_STOPPED,     /* left in a mailbox when its actor ended */
	NACT_DL_DROPPED,     /* dropped by a drop-oldest mailbox */
	NACT_DL_EXPIRED,     /* deadline passed before delivery */
	NACT_DL_LATE,        /* reply after its request timed out */
	NACT_DL_CRASHED,     /* being handled when an isolated actor's process died */
	NACT_DL_NREASONS
};

/* Name of a reason ("unknown", "dead", "stopped", "dropped", "expired",
 * "late", "crashed"). */
NACT_DECL const char *nact_dl_reason_str(int reason);

/* Dead letters counted for one reason, or all of them with reason -1. */
NACT_DECL uint64_t nact_deadletters(nact_system *sys, int reason);

/* Subscribe an actor to dead letters: each one is reported to it as a
 * NACT_T_DEADLETTER message whose body is the msgpack map
 *   {"reason": str, "target": uint, "sender": uint, "type": uint,
 *    "corr": uint, "body": bin}
 * A dead letter whose report cannot be delivered is only counted.
 * Errors: NACT_EINVAL, NACT_EEXIST (already subscribed), NACT_EFULL (16
 * subscribers already). unsubscribe: NACT_ENOENT if not subscribed. */
NACT_DECL int nact_deadletter_subscribe(nact_system *sys, nact_aid who);
NACT_DECL int nact_deadletter_unsubscribe(nact_system *sys, nact_aid who);

/* ---- logging ---- */

NACT_DECL void nact_log(nact_system *sys, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
NACT_DECL int nact_log_level(nact_system *sys);
NACT_DECL void nact_log_set(nact_system *sys, int level, nact_log_fn fn, void *arg);

/* ---- statistics ---- */

typedef struct nact_stats {
	uint64_t spawned;   /* actors ever spawned */
	uint64_t live;      /* actors alive now */
	uint64_t envelopes; /* envelopes ever carved (pool size) */
	uint64_t parks;     /* times a worker went to sleep */
	uint64_t steals;    /* actors taken from another worker */
} nact_stats;

NACT_DECL void nact_system_stats(nact_system *sys, nact_stats *st);

#ifdef __cplusplus
}
#endif
#endif
