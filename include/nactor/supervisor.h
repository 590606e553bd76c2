/*
 * nactor/supervisor.h — exit reasons, links and monitors, supervision
 * trees, and crash-isolated actors.
 *
 * Exit reasons. An actor ends with an int reason: 0 is a normal exit, a
 * positive value an error (a NACT_E* code or the nonzero value a behaviour
 * returned), and the negative values below the runtime's own reasons. A
 * reason may carry a text (nact_exit_msg). Reasons travel in NACT_T_DOWN and
 * NACT_T_EXIT messages as msgpack (see nact_exit_info_read), so they can
 * cross nodes.
 *
 * Links and monitors (Erlang semantics):
 *  - monitor: one-way. When the target ends, the watcher gets one
 *    NACT_T_DOWN message (control lane: never bounded or dropped) whose corr
 *    is the monitor reference. Monitoring an actor that is already gone gives
 *    an immediate DOWN with reason NACT_EXIT_NOPROC.
 *  - link: two-way. When one side ends with a reason other than
 *    NACT_EXIT_NORMAL, the other ends too with the same reason, unless it
 *    traps exits: then it gets a NACT_T_EXIT message instead. A normal exit
 *    only reaches trapping actors (as NACT_T_EXIT). Linking to an actor that
 *    is already gone acts as if it had ended with NACT_EXIT_NOPROC.
 *  - nact_stop asks an actor to end with NACT_EXIT_SHUTDOWN; an actor that
 *    traps exits gets it as a NACT_T_EXIT message instead and may clean up
 *    and exit (or not: its supervisor then kills it after the shutdown
 *    timeout). nact_kill cannot be trapped.
 * An in-process handler cannot be interrupted: stop and kill take effect
 * when the running handler returns. A crash-isolated actor is killed with
 * SIGKILL.
 */
#ifndef NACTOR_SUPERVISOR_H
#define NACTOR_SUPERVISOR_H

#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACT_EXIT_NORMAL 0
#define NACT_EXIT_SHUTDOWN (-1) /* nact_stop, supervisor shutdown, system close */
#define NACT_EXIT_STOPPED NACT_EXIT_SHUTDOWN
#define NACT_EXIT_KILLED (-2)    /* nact_kill: not trappable */
#define NACT_EXIT_NOPROC (-3)    /* monitored/linked actor was already gone */
#define NACT_EXIT_DEADLINE (-4)  /* a handler ran past the actor's handler deadline */
#define NACT_EXIT_INTENSITY (-5) /* a supervisor's restart intensity was exceeded */
/* An isolated actor's process died from signal n (e.g. 11 for SIGSEGV). */
#define NACT_EXIT_SIGNAL(n) (-256 - (n))
#define NACT_EXIT_IS_SIGNAL(r) ((r) <= -256 && (r) > -256 - 128)
#define NACT_EXIT_SIGNO(r) (-256 - (r))

/* Control-lane messages delivered to behaviours. */
#define NACT_T_DOWN 0xFFFF0010u /* a monitored actor ended */
#define NACT_T_EXIT 0xFFFF0011u /* a linked actor ended (trapping), or a trapped stop */

/* A static string for an exit reason: "normal", "shutdown", "killed",
 * "noproc", "deadline", "intensity", "signal N" is not static: see
 * nact_exit_format. For errors, the error's string. */
NACT_DECL const char *nact_exit_str(int reason);
/* Write a reason as text into buf ("signal 11", "normal", ...). Returns buf. */
NACT_DECL char *nact_exit_format(int reason, char *buf, size_t len);

/* 1 if reason counts as abnormal for transient restarts (anything but
 * NACT_EXIT_NORMAL and NACT_EXIT_SHUTDOWN). */
NACT_DECL int nact_exit_abnormal(int reason);

/* Handler only: end this actor after the handler returns, with a reason and
 * a text (copied, at most 255 bytes kept) carried to monitors and links. */
NACT_DECL void nact_exit_msg(nact_ctx *ctx, int reason, const char *text);

/* The body of a NACT_T_DOWN / NACT_T_EXIT message: a msgpack map
 *   {"id": uint, "reason": int, "text": str}
 * where id is the actor that ended. */
typedef struct nact_exit_info {
	nact_aid id;    /* the actor that ended (a trapped stop: the stopper, 0 if none) */
	int reason;     /* its exit reason */
	uint64_t ref;   /* the monitor reference (DOWN), 0 for EXIT */
	char text[256]; /* reason text: the exit message, or nact_exit_format */
} nact_exit_info;

/* Decode a DOWN or EXIT message. NACT_EINVAL if it is neither, or a reader
 * error if the body is malformed. */
NACT_DECL int nact_exit_info_read(const nact_msg *m, nact_exit_info *out);

/* Handler only. Monitor target; *refp (may be NULL) gets a reference for
 * nact_demonitor and the DOWN message's corr. */
NACT_DECL int nact_monitor(nact_ctx *ctx, nact_aid target, uint64_t *refp);
/* Handler only. Remove a monitor; a DOWN already queued is still delivered.
 * NACT_ENOENT if no such monitor. */
NACT_DECL int nact_demonitor(nact_ctx *ctx, uint64_t ref);
/* Handler only. Link self and other (idempotent). other may be an actor
 * of another node (node.h "Links across nodes"): same rules, and its
 * node going down is the exit signal NACT_EXIT_NODEDOWN. */
NACT_DECL int nact_link(nact_ctx *ctx, nact_aid other);
/* Handler only. Remove the link both ways (idempotent; also remote). */
NACT_DECL int nact_unlink(nact_ctx *ctx, nact_aid other);
/* Handler only. Trap exits: linked exits and nact_stop arrive as NACT_T_EXIT
 * messages instead of ending this actor. */
NACT_DECL void nact_trap_exit(nact_ctx *ctx, int on);

/* End an actor with NACT_EXIT_KILLED after its running handler; not
 * trappable. Any thread. NACT_ENOENT if not alive. */
NACT_DECL int nact_kill(nact_system *sys, nact_aid id);
/* Ask an actor to end with the given reason (as a linked exit would: a
 * trapping actor gets NACT_T_EXIT). Any thread. NACT_ENOENT if not alive. */
NACT_DECL int nact_exit_actor(nact_system *sys, nact_aid id, int reason);

/* ------------------------------------------------------------------ */
/* Supervisors                                                          */

enum nact_sup_strategy {
	NACT_ONE_FOR_ONE = 0,       /* restart only the child that failed */
	NACT_ONE_FOR_ALL = 1,       /* stop all (reverse order), restart all (start order) */
	NACT_REST_FOR_ONE = 2,      /* stop the failed one's later siblings, restart them */
	NACT_SIMPLE_ONE_FOR_ONE = 3 /* dynamic children from one template */
};

enum nact_restart {
	NACT_PERMANENT = 0, /* always restarted */
	NACT_TRANSIENT = 1, /* restarted only after an abnormal exit */
	NACT_TEMPORARY = 2  /* never restarted */
};

/* Starts one child: spawn it (nact_spawn, nact_spawn_isolated or
 * nact_sup_start for a child supervisor) and store its id in *idp. arg is
 * the spec's arg; extra is the argument given to nact_sup_start_child for
 * dynamic children (NULL otherwise). Return 0 or an error (counted as a
 * failed start). Runs in the supervisor's handler. */
/* Returning 0 without setting *idp (left 0) means "do not start this
 * child now" (OTP's ignore): it is kept in the table, not running. */
typedef int (*nact_child_start)(nact_aid *idp, nact_system *sys, void *arg, void *extra);

typedef struct nact_child_spec {
	const char *id;         /* child name within the supervisor (copied) */
	nact_child_start start; /* start function */
	void *arg;              /* passed to start (borrowed: must outlive the tree) */
	int restart;            /* enum nact_restart */
	int shutdown_ms;        /* time to end after stop before kill; 0 = 5000,
	                           < 0 = kill at once */
	int isolated;           /* child is a crash-isolated actor: restarts
	                            reuse its mailbox (nact_isolated_restart) */
} nact_child_spec;

typedef struct nact_sup_spec {
	const char *name;                /* supervisor name (copied); also registered
	                                 as a local name if not NULL */
	int strategy;                    /* enum nact_sup_strategy */
	uint32_t intensity;              /* max restarts ... (0 = 3) */
	uint32_t period_ms;              /* ... within this window (0 = 5000) */
	uint32_t backoff_min_ms;         /* 0 = restart at once; else first delay */
	uint32_t backoff_max_ms;         /* cap for the doubling delay; 0 = 30000 */
	uint32_t backoff_jitter_pct;     /* +- this % random jitter on each delay */
	const nact_child_spec *children; /* static children, started in order */
	uint32_t nchildren;
	/* For NACT_SIMPLE_ONE_FOR_ONE: the template for every dynamic child. */
	const nact_child_spec *child_template;
	/* Root only (no parent supervisor): called once if the supervisor
	 * fails; NULL = log an error line and exit(NACT_SUP_EXIT_STATUS). */
	void (*on_root_fail)(void *arg, int reason);
	void *on_root_fail_arg;
} nact_sup_spec;

#define NACT_SUP_EXIT_STATUS 70

/* Start a supervisor and its children (in order). From outside actors
 * (a root) or from a parent supervisor's start function. The spec is
 * copied. Errors: NACT_EINVAL, NACT_ENOMEM, or the first child start error
 * (children already started are stopped again). */
NACT_DECL int nact_sup_start(nact_aid *idp, nact_system *sys, const nact_sup_spec *spec);

/* Dynamic children (NACT_SIMPLE_ONE_FOR_ONE): start one with extra passed
 * to the template's start; stop one (stop_child also stops a static child
 * for good: it is not restarted). Outside actors only (they wait up to
 * timeout_ms for the supervisor's answer). */
NACT_DECL int nact_sup_start_child(nact_system *sys, nact_aid sup, void *extra, nact_aid *childp,
    int timeout_ms);
NACT_DECL int nact_sup_stop_child(nact_system *sys, nact_aid sup, nact_aid child, int timeout_ms);

/* What a supervisor knows about one child. */
typedef struct nact_child_info {
	char id[64];         /* spec id (dynamic children: template id) */
	nact_aid aid;        /* current actor, 0 while down */
	uint32_t restarts;   /* restarts so far */
	int last_reason;     /* last exit reason (0 if none yet) */
	uint32_t backoff_ms; /* delay before the pending restart, 0 if none */
	int running;         /* 1 if up */
} nact_child_info;

/* Copy up to max children's info (start order) into out; *np gets the
 * number copied. Outside actors only; waits up to timeout_ms. */
NACT_DECL int nact_sup_children(nact_system *sys, nact_aid sup, nact_child_info *out, uint32_t max,
    uint32_t *np, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Crash-isolated actors                                                */

/* Builds the actor's state inside its own process from a copy of arg
 * (arglen bytes). Returns the state (may be NULL) through *statep; nonzero
 * fails the start: the actor goes down with that reason, as if its
 * process had died. */
typedef int (*nact_isolated_init)(void **statep, const void *arg, size_t arglen);

/* Spawn an actor whose behaviour runs in a separate OS process: a
 * segfault, abort or kill -9 there ends only that process. The mailbox
 * stays in this process under id: messages queued when the process dies
 * survive; the one being handled becomes a dead letter with the reason;
 * monitors and links see the actor end with NACT_EXIT_SIGNAL(n) (or the
 * reason it exited with), but the id and mailbox stay reserved until the
 * actor is restarted with nact_isolated_restart (a supervisor does this
 * for children with .isolated = 1) or stopped with nact_stop.
 * Requires cfg.isolation = 1 at nact_system_open (which starts the
 * launcher process before any worker thread). fn, init and fini must be
 * functions of the program (not of a library loaded after system open).
 * handler_deadline_ms > 0: a handler running longer is killed (SIGKILL)
 * and the actor ends with NACT_EXIT_DEADLINE. Errors: NACT_ESTATE
 * (isolation not enabled), NACT_ENOMEM, NACT_ESYSERR + errno.
 *
 * Details (supervisor/README.md): the process starts asynchronously (its
 * pid appears in nact_isolated_pid once forked); it handles one message at
 * a time, and the next is sent when the previous was handled. In the
 * process, fn sees nact_self = id and a stub nact_sys(ctx) (use that one,
 * never a system pointer kept elsewhere): nact_msg_alloc, nact_send,
 * nact_reply, nact_reply_to, nact_forward and nact_exit work (messages go
 * out with id as sender); spawn, timers, requests, nact_call, monitors,
 * links and stop return NACT_ENOTSUP. nact_exit or a nonzero return runs
 * fini in the process and ends the actor for good. When the actor is
 * stopped, the process runs fini and exits (what fini sends then is not
 * delivered; SIGKILL after a second). Linux only. arglen at most 64 KiB
 * and opts->capacity must be 0 (NACT_EINVAL otherwise); opts->name is
 * registered for id. Any thread; does not wait for the process. */
NACT_DECL int nact_spawn_isolated(nact_aid *idp, nact_system *sys, nact_behaviour fn,
    nact_isolated_init init, const void *arg, size_t arglen, nact_state_fini fini,
    const nact_spawn_opts *opts);

/* Start a fresh process (fresh state from init) for an isolated actor whose
 * process ended; queued messages are then delivered to it. NACT_ESTATE if
 * its process is still running (or a restart is already under way),
 * NACT_ENOENT if id is not an isolated actor alive. Any thread, never
 * blocks: the start happens in the actor's own turn. Monitors and links
 * that saw the DOWN are gone: set them again. */
NACT_DECL int nact_isolated_restart(nact_system *sys, nact_aid id);

/* The pid of an isolated actor's current process, or -1. */
NACT_DECL long nact_isolated_pid(nact_system *sys, nact_aid id);

#ifdef __cplusplus
}
#endif
#endif
