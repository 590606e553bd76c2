/*
 * nactor/registry.h — who is who: local names for actors, and the
 * operation registry with cancel tokens.
 *
 * A name maps to one live actor; it is removed when the actor ends. Names
 * are copied (the caller keeps its string). Any thread.
 *
 * Operations (below the names API) are units of work with an id, a parent,
 * a status, progress and, once cancelled, a reason; see "Operations and
 * cancellation" further down.
 */
#ifndef NACTOR_REGISTRY_H
#define NACTOR_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACT_NAME_MAX 255

/* Errors: NACT_EEXIST (taken), NACT_ENOENT (id not alive), NACT_EINVAL
 * (empty or longer than NACT_NAME_MAX). */
NACT_DECL int nact_register(nact_system *sys, const char *name, nact_aid id);
/* Errors: NACT_ENOENT. */
NACT_DECL int nact_unregister(nact_system *sys, const char *name);
/* The id registered under name, or NACT_AID_NONE (v == 0). */
NACT_DECL nact_aid nact_whereis(nact_system *sys, const char *name);

/* ---- operations and cancellation ----
 *
 * An operation is a unit of work the registry tracks: an id, a name, tags,
 * a parent operation, a status, times, progress, and when it ends early a
 * reason and a message. The id is also its cancel token: long work polls
 * nact_op_is_cancelled or registers an nact_op_on_cancel callback.
 *
 * Status machine (every other change fails with NACT_ESTATE):
 *
 *   PENDING --start--> RUNNING --complete--> COMPLETED
 *      |                  |------fail------> FAILED
 *      +------------------+-----cancel-----> CANCELLED (TIMEDOUT if the
 *                                            reason is NACT_CANCEL_TIMEOUT)
 *
 * Every change is atomic: of two final transitions racing on one
 * operation exactly one wins; the other returns NACT_ESTATE.
 *
 * Cancelling an operation cancels its live children first, down the whole
 * tree (deepest first, each with reason NACT_CANCEL_PARENT), then the
 * operation itself. A parent that completes or fails leaves its children
 * running (they keep their parent id).
 *
 * Memory: a finished operation is copied into a bounded FIFO history
 * (nact_config.op_history, default 1000) and its live entry is freed; the
 * oldest finished one is forgotten when the history is full.
 *
 * Threads: every call may be made from any thread, handlers included; none
 * blocks beyond one short internal lock. Callbacks run outside that lock.
 */

/* An operation id; 0 (NACT_OPID_NONE) means none. Ids are never reused
 * within a system. */
typedef struct nact_opid {
	uint64_t v;
} nact_opid;

#define NACT_OPID_NONE ((nact_opid){0})

enum nact_op_status {
	NACT_OP_PENDING = 0,   /* created, not started */
	NACT_OP_RUNNING = 1,   /* started */
	NACT_OP_COMPLETED = 2, /* final: finished successfully */
	NACT_OP_FAILED = 3,    /* final: finished with an error message */
	NACT_OP_CANCELLED = 4, /* final: cancelled (reason says why) */
	NACT_OP_TIMEDOUT = 5,  /* final: cancelled with reason TIMEOUT */
	NACT_OP_NSTATUS
};

enum nact_cancel_reason {
	NACT_CANCEL_NONE = 0,      /* not cancelled */
	NACT_CANCEL_MANUAL = 1,    /* by hand (API or a tool) */
	NACT_CANCEL_TIMEOUT = 2,   /* a deadline passed */
	NACT_CANCEL_SIGNAL = 3,    /* SIGINT/SIGTERM */
	NACT_CANCEL_CONDITION = 4, /* a condition callback said so */
	NACT_CANCEL_PARENT = 5,    /* its parent was cancelled */
	NACT_CANCEL_NREASONS
};

/* A snapshot of one operation (a copy: the caller owns it). */
typedef struct nact_op_info {
	nact_opid id;
	nact_opid parent;       /* NACT_OPID_NONE for a top-level operation */
	char name[64];          /* NUL-terminated */
	char tags[128];         /* free text given at create, "" if none */
	int status;             /* enum nact_op_status */
	int reason;             /* enum nact_cancel_reason; NONE unless cancelled */
	char message[256];      /* failure or cancel message, "" if none */
	uint64_t created_ns;    /* system clock (nact_now) */
	uint64_t started_ns;    /* 0 until started */
	uint64_t ended_ns;      /* 0 until final */
	double progress;        /* 0..1, as last reported (1 on complete) */
	char progress_msg[128]; /* as last reported, "" if none */
	nact_aid actor;         /* the actor that created it, or NACT_AID_NONE
	                           (created outside a handler) */
} nact_op_info;

/* Static names: "pending", "running", "completed", "failed", "cancelled",
 * "timedout"; "none", "manual", "timeout", "signal", "condition",
 * "parent". "?" for an unknown value; never NULL. */
NACT_DECL const char *nact_op_status_str(int status);
NACT_DECL const char *nact_op_reason_str(int reason);

/* Create an operation in PENDING under parent (NACT_OPID_NONE for a
 * top-level one) and store its id in *idp. name (1..63 bytes) and tags
 * (NULL or up to 127 bytes) are copied. Created inside a handler, the
 * operation records that actor. Errors: NACT_EINVAL (NULL idp or sys, bad
 * name or tags), NACT_ENOENT (no such parent), NACT_ESTATE (the parent has
 * already finished), NACT_ENOMEM. */
NACT_DECL int nact_op_create(nact_opid *idp, nact_system *sys, const char *name, nact_opid parent,
    const char *tags);

/* PENDING -> RUNNING, recording the start time. Errors: NACT_EINVAL,
 * NACT_ENOENT (unknown id), NACT_ESTATE (not pending). */
NACT_DECL int nact_op_start(nact_system *sys, nact_opid id);

/* Report progress of a pending or running operation: fraction in [0, 1]
 * and msg (copied, truncated to 127 bytes; NULL keeps the previous one).
 * Errors: NACT_EINVAL (bad fraction), NACT_ENOENT, NACT_ESTATE (final). */
NACT_DECL int nact_op_progress(nact_system *sys, nact_opid id, double fraction, const char *msg);

/* RUNNING -> COMPLETED (progress becomes 1), or RUNNING -> FAILED with msg
 * (copied, truncated to 255 bytes; may be NULL). The operation moves to the
 * history; its on_cancel callbacks are dropped without being called.
 * Errors: NACT_EINVAL, NACT_ENOENT, NACT_ESTATE (not running: pending,
 * or already final, e.g. cancelled first). */
NACT_DECL int nact_op_complete(nact_system *sys, nact_opid id);
NACT_DECL int nact_op_fail(nact_system *sys, nact_opid id, const char *msg);

/* Cancel a pending or running operation with reason (MANUAL..PARENT) and
 * msg (copied, truncated to 255 bytes; may be NULL). Its live children are
 * cancelled first, deepest first, with reason NACT_CANCEL_PARENT and the
 * same message; then the operation becomes CANCELLED (TIMEDOUT when reason
 * is NACT_CANCEL_TIMEOUT). The whole tree changes under one lock; then,
 * outside it and on the calling thread, every on_cancel callback of the
 * tree runs in the same order (children before their parent). Errors:
 * NACT_EINVAL (bad reason), NACT_ENOENT, NACT_ESTATE (already final). */
NACT_DECL int nact_op_cancel(nact_system *sys, nact_opid id, int reason, const char *msg);

/* Arm a deadline: ms from now on the system clock, cancel the operation
 * with reason NACT_CANCEL_TIMEOUT (it ends TIMEDOUT, its children
 * CANCELLED with reason PARENT). Calling again re-arms: only the latest
 * deadline counts. An operation that ends first disarms it (its timer is
 * freed at once). The cancel runs on a worker thread, in an internal actor
 * that the first call spawns (counted in nact_stats.live, stopped by
 * nact_system_close); on_cancel callbacks run there. Errors: NACT_EINVAL
 * (ms < 0), NACT_ENOENT, NACT_ESTATE (already final), NACT_ENOMEM,
 * NACT_ECLOSED (the system is closing); after NACT_ENOMEM or NACT_ECLOSED
 * the operation has no deadline (an earlier one is disarmed). */
NACT_DECL int nact_op_cancel_after(nact_system *sys, nact_opid id, int ms);

/* The cancel token: 1 once the operation was cancelled (or timed out), 0
 * otherwise, including for an id that is unknown or no longer in the
 * history. Cheap (one short lock and a hash lookup): poll it inside long
 * handlers. */
NACT_DECL int nact_op_is_cancelled(nact_system *sys, nact_opid id);

/* Call cb(arg, id, reason) once when the operation is cancelled: outside
 * any registry lock, on the thread that cancels it; at once, on this
 * thread before returning 0, if it is already cancelled. cb may call back
 * into the registry. If the operation completes or fails instead, cb is
 * never called. Errors (cb is then never called): NACT_EINVAL (NULL cb),
 * NACT_ENOENT, NACT_ESTATE (completed or failed), NACT_ENOMEM. */
NACT_DECL int nact_op_on_cancel(nact_system *sys, nact_opid id,
    void (*cb)(void *arg, nact_opid id, int reason), void *arg);

/* Copy the operation, live or in the history, into *out. Errors:
 * NACT_EINVAL, NACT_ENOENT (unknown, or evicted from the history). A
 * finished operation is found by a scan of the bounded history. */
NACT_DECL int nact_op_get(nact_system *sys, nact_opid id, nact_op_info *out);

/* Copy up to max operations whose status is `status` (-1 = any) into
 * out: live ones first, oldest created first, then the history, oldest
 * finished first. *np gets the number that matched in all, which may be
 * more than max (out may be NULL when max is 0, to count). Errors:
 * NACT_EINVAL (NULL np, bad status, NULL out with max > 0). */
NACT_DECL int nact_op_list(nact_system *sys, int status, nact_op_info *out, size_t max, size_t *np);

/* Forget every finished operation (live ones stay). NULL-safe. */
NACT_DECL void nact_op_history_clear(nact_system *sys);

/* ---- more cancel sources ----
 *
 * Sources combine: a deadline (nact_op_cancel_after), a condition, other
 * operations (nact_op_cancel_on), signals and a manual cancel may all be
 * armed on one operation; the first to fire cancels it, with its own
 * reason, and the others are disarmed when it ends. */

/* Check cond(arg, id) every interval_ms on the system clock, on a worker
 * thread (in the registry's internal actor, like deadlines); when it
 * returns nonzero the operation is cancelled with reason
 * NACT_CANCEL_CONDITION and message "condition met". Calling again
 * replaces the condition. The checks stop when the operation ends; arg
 * must stay valid until then. Errors: NACT_EINVAL (NULL cb, interval_ms
 * <= 0), NACT_ENOENT, NACT_ESTATE (final), NACT_ENOMEM, NACT_ECLOSED. */
NACT_DECL int nact_op_cancel_when(nact_system *sys, nact_opid id,
    int (*cond)(void *arg, nact_opid id), void *arg, int interval_ms);

/* Cancel id when source is cancelled, with the reason source was
 * cancelled with (a combined token: several nact_op_cancel_on calls make
 * id cancel when any of its sources does). At once if source is already
 * cancelled; never if source completes or fails. Errors: NACT_EINVAL
 * (id == source), NACT_ENOENT / NACT_ESTATE (id or source not live; source
 * finished without a cancel), NACT_ENOMEM. */
NACT_DECL int nact_op_cancel_on(nact_system *sys, nact_opid id, nact_opid source);

/* ---- cancelable actors ----
 *
 * nact_spawn_op spawns an actor that runs an operation: the operation is
 * created (under parent) and started, and records the actor. It ends with
 * the actor: completed when the actor exits normally, cancelled (reason
 * manual, "actor stopped") when it is stopped, failed ("actor exited:
 * REASON") otherwise, unless the behaviour ended it first itself
 * (nact_op_complete / nact_op_fail with nact_self_op).
 *
 * When the operation is cancelled (by hand, a deadline, a condition, a
 * signal, its parent or nactorctl), it is final at once (CANCELLED or
 * TIMEDOUT, exactly one final state) and the actor gets a NACT_T_CANCEL
 * message on its control lane (never bounded or dropped) whose body is the
 * msgpack array [op id (uint), reason (str, nact_op_reason_str), message
 * (str)]; it may clean up and end within grace_ms; then it is killed
 * (NACT_EXIT_KILLED, logged at warn). Long handlers can also poll
 * nact_op_is_cancelled(sys, nact_self_op(ctx)).
 *
 * Requests carry operations: a request sent by nact_request from a
 * handler that is handling a message with an operation id (header opid),
 * or from an actor spawned with nact_spawn_op, creates a child operation
 * "request" (tags "to=0xID") under that operation and sends it in the
 * request's header (nact_msg_opid(req) in the callee). It completes when
 * the reply arrives (a completed request operation is not kept in the
 * history, so requests do not crowd it out); it is cancelled (TIMEDOUT) when the request times
 * out, and with its parent when the caller's operation is cancelled. So
 * the callee polls nact_op_is_cancelled(sys, (nact_opid){nact_msg_opid(req)})
 * or registers nact_op_on_cancel on it, and its own requests made while
 * handling that request are children of it: the whole chain is cancelled.
 * A request made on behalf of an operation that is already cancelled is
 * refused with NACT_ECANCELED. The deadline travels too: a request made
 * while handling a message with a deadline gets the earlier of its own
 * and that one.
 *
 * Wait-for graph: while a request from a cancelable actor to another is
 * pending, the registry records "the requester's operation waits on the
 * target's operation". A request that would close a cycle (A waits on B
 * waits on C waits on A) is refused at once: nact_request returns
 * NACT_ECYCLE, the cycle's ids are logged at warn and kept for
 * nact_op_cycles. (A request to oneself is not an edge.) */

#define NACT_T_CANCEL 0xFFFF0600u /* your operation was cancelled (see above) */

typedef struct nact_op_opts {
	const char *name;  /* operation name, 1..63 bytes (required) */
	const char *tags;  /* NULL or up to 127 bytes */
	nact_opid parent;  /* NACT_OPID_NONE for a top-level operation */
	uint32_t grace_ms; /* time to end after a cancel; 0 = 1000 */
	int timeout_ms;    /* > 0: nact_op_cancel_after(timeout_ms) */
} nact_op_opts;

/* Spawn as nact_spawn, running a new operation (see above). *opp (may be
 * NULL) gets the operation id. On failure nothing is left: the caller
 * still owns state, and an operation created on the way is failed.
 * Errors: as nact_spawn and nact_op_create. Any thread. */
NACT_DECL int nact_spawn_op(nact_aid *idp, nact_opid *opp, nact_system *sys, nact_behaviour fn,
    void *state, nact_state_fini fini, const nact_spawn_opts *opts, const nact_op_opts *op);

/* Handler only: the operation this actor runs, or NACT_OPID_NONE. */
NACT_DECL nact_opid nact_self_op(nact_ctx *ctx);

/* Cycles refused so far; last (may be NULL) gets the last one as
 * "A -> B -> ... -> A" (operation ids), "" if none. */
NACT_DECL uint64_t nact_op_cycles(nact_system *sys, char *last, size_t len);

/* ---- the registry server (docs/registry-protocol.md) ----
 *
 * Serve this system's registry to local tools: a REP socket at
 * ipc://$XDG_RUNTIME_DIR/nactor/NODE.ipc, or ipc:///tmp/nactor-UID/NODE.ipc
 * when XDG_RUNTIME_DIR is unset or not absolute. The directory is created
 * with mode 0700 and must be a directory owned by the caller's uid with
 * mode exactly 0700; the socket file gets mode 0600. Requests from a peer
 * with another uid (root excepted) get a "permission denied" reply.
 *
 * node_name: 1..64 bytes of [A-Za-z0-9._-], not starting with '.'. If a
 * socket file is already there, it is dialled: when nothing answers (a
 * crashed node) it is removed and replaced; when something answers the
 * call fails with NACT_EEXIST. The url is copied into url_out (url_out may
 * be NULL; url_len must then fit it, else NACT_EINVAL).
 *
 * Requests are answered on an nng thread (no thread of ours blocks); a
 * "cancel" request runs the operation's on_cancel callbacks there.
 *
 * Errors: NACT_EINVAL (NULL sys, bad node_name, path or url too long),
 * NACT_ESTATE (already serving, or closing), NACT_EEXIST (a live node has
 * that name), NACT_ESYSERR + EPERM (the directory is not private and ours),
 * NACT_ESYSERR + errno, NACT_ETRANERR + nng error, NACT_ENOMEM,
 * NACT_ENOTSUP (inside an isolated actor). Blocks briefly (one dial).
 * Call from one thread at a time, never from a handler or from an
 * on_cancel callback. */
NACT_DECL int nact_registry_serve(nact_system *sys, const char *node_name, char *url_out,
    size_t url_len);

/* Stop serving: close the socket (waiting for a request in progress) and
 * remove the socket file. No-op when not serving; NULL-safe.
 * nact_system_close calls it. Same threads as nact_registry_serve. */
NACT_DECL void nact_registry_unserve(nact_system *sys);

#ifdef __cplusplus
}
#endif
#endif
