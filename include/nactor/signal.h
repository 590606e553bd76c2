/*
 * nactor/signal.h — SIGINT/SIGTERM as a cancel source: a graceful shutdown
 * of the node within a deadline, and a second signal that exits at once.
 *
 *   nact_signals *sg;
 *   nact_signal_opts o = {.grace_ms = 5000};
 *   nact_signals_install(&sg, sys, &o);
 *   ... serve, spawn, create operations ...
 *   while (nact_signals_wait(sg, 1000) == 0)
 *           ;                      // or do other work between waits
 *   // every live operation is now cancelled with reason "signal"
 *   nact_stop(sys, root_sup);      // supervisors stop their children in order
 *   nact_system_close(sys, nact_signals_left_ms(sg));
 *   nact_signals_remove(sg);
 *   return 0;                      // an orderly stop exits 0
 *
 * What happens on the first signal:
 *  1. The handler writes one byte (the signal number) to a self-pipe and
 *     returns. It does nothing else: write(2) is async-signal-safe, a
 *     non-blocking pipe never makes it wait, and errno is restored.
 *  2. A thread of ours reading that pipe starts the grace period
 *     (grace_ms from now) and cancels every live operation of the system
 *     with reason NACT_CANCEL_SIGNAL (nact_op_cancel_all): leaves first, so
 *     children, grandchildren and roots all end CANCELLED with reason
 *     "signal" (not "parent") and the message opts.message (default
 *     "SIGTERM received" / "SIGINT received"). The operations' on_cancel
 *     callbacks run on that thread, children before parents. An operation
 *     created under a parent while this runs may still end with reason
 *     "parent" when its parent is cancelled; the thread repeats the pass
 *     until nothing is live (at most 4 passes).
 *  3. Then opts.on_signal, if set, runs on that thread, and
 *     nact_signals_wait returns the signal number to main, which closes the
 *     system (supervisors first, so they stop their children in reverse
 *     start order), within nact_signals_left_ms.
 *
 * Deadlines and exit statuses (documented contract):
 *  - an orderly stop: main returns what it wants; our examples and tests
 *    return 0 once everything is closed within the grace period;
 *  - the grace period passes before nact_signals_remove is called (a slow
 *    callback, a handler that does not stop): the process exits at once
 *    with _exit(128 + signo) (143 for SIGTERM, 130 for SIGINT), no atexit
 *    handlers, no stdio flush;
 *  - a second SIGINT or SIGTERM before nact_signals_remove: the handler
 *    itself calls _exit(128 + that signal's number), at once.
 *
 * Why a self-pipe and not signalfd: signalfd only sees signals that are
 * blocked in every thread, else the kernel delivers them to any thread
 * that has them unblocked with the default action (terminate). nng starts
 * its own threads (and so may other libraries, at any time), whose masks
 * we do not control; a handler installed with sigaction works whatever
 * the masks are, and the pipe moves the work to a thread of ours.
 *
 * One installation per process: signal dispositions are process-wide, so
 * the pipe the handler writes to is the one piece of process-global state
 * in nactor (an atomic fd). Install from the main thread before waiting.
 */
#ifndef NACTOR_SIGNAL_H
#define NACTOR_SIGNAL_H

#include <stddef.h>

#include <nactor/actor.h>
#include <nactor/registry.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nact_signals nact_signals;

typedef struct nact_signal_opts {
	int grace_ms;        /* time from the first signal to a forced exit;
	                        0 = 5000 */
	const char *message; /* cancel message (copied); NULL = "SIGTERM
	                        received" or "SIGINT received" */
	/* Called once after the cancel, on our signal thread (not in a
	 * signal handler: any call is fine). May be NULL. */
	void (*on_signal)(void *arg, int signo);
	void *arg;
} nact_signal_opts;

/* Install handlers for SIGINT and SIGTERM (the previous dispositions are
 * saved) and start the signal thread and the grace watchdog. opts NULL =
 * defaults (copied). Errors: NACT_EINVAL (NULL sp or sys, grace_ms < 0),
 * NACT_ESTATE (already installed in this process), NACT_ESYSERR + errno
 * (pipe, sigaction, thread), NACT_ENOMEM. On error nothing is installed. */
NACT_DECL int nact_signals_install(nact_signals **sp, nact_system *sys,
    const nact_signal_opts *opts);

/* Wait up to timeout_ms (>= 0) for a signal and its cancel pass to be done.
 * Returns the signal number (SIGINT or SIGTERM) once it is, 0 on timeout,
 * NACT_EINVAL for a NULL s or a negative timeout. Any thread except the
 * signal thread (never from on_signal or an on_cancel callback). */
NACT_DECL int nact_signals_wait(nact_signals *s, int timeout_ms);

/* The signal received (0 if none yet). Any thread; never blocks. */
NACT_DECL int nact_signals_signo(nact_signals *s);

/* Milliseconds left in the grace period (0 when it has passed; grace_ms
 * when no signal came yet). Any thread; never blocks. */
NACT_DECL int nact_signals_left_ms(nact_signals *s);

/* Restore the previous dispositions, stop the threads (waiting for a
 * cancel pass in progress) and free s. Call it once the system is closed
 * (or to stop handling signals): afterwards the grace watchdog is off.
 * NULL-safe. Not from the signal thread. */
NACT_DECL void nact_signals_remove(nact_signals *s);

/* Cancel every live (pending or running) operation of the system with
 * reason, leaves first, so that each ends with that reason rather than
 * NACT_CANCEL_PARENT (see point 2 above for operations created meanwhile).
 * on_cancel callbacks run on the calling thread. *np (may be NULL) gets
 * the number this call cancelled. Errors: NACT_EINVAL (NULL sys, reason
 * not MANUAL..PARENT), NACT_ENOMEM. */
NACT_DECL int nact_op_cancel_all(nact_system *sys, int reason, const char *msg, size_t *np);

#ifdef __cplusplus
}
#endif
#endif
