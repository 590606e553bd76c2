/*
 * registry/server_internal.h — internal seams of the registry server
 * (registry/server.c) and of what it reads: the progress hook and the
 * table of live supervisors (registry/ops.c), and the request handler
 * without a socket (for the decoder's fuzz tests). Not installed.
 */
#ifndef NACTI_SERVER_INTERNAL_H
#define NACTI_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/registry.h>
#include <nng/nng.h>

/* ---- registry/ops.c ---- */

/* Set (fn != NULL) or clear the progress hook: called under the registry
 * lock from nact_op_progress at most once per window_ns (system clock)
 * per operation; a report inside the window is held and published by the
 * next report after it or, at the latest, just before the operation's
 * next status change (before the status hook sees that change). Same
 * rules as nacti_ops_set_hook: fn must not block nor call into the
 * registry; after a clear returns no call is in progress. */
void nacti_ops_set_progress_hook(nact_system *sys, void (*fn)(void *arg, const nact_op_info *in),
    void *arg, uint64_t window_ns);

/* The live supervisors, for the "tree" verb. supervisor/supervisor.c adds
 * a supervisor in its INIT handler and removes it in its state destructor
 * (both on the supervisor's own turn, so in that order). The table copies
 * name (truncated to 63 bytes; NULL = ""). Any thread; one short lock.
 * add: 0, NACT_ENOMEM (then it is simply not shown), or NACT_EINVAL. */
struct nacti_supent {
	nact_aid aid;
	char name[64];
};
int nacti_sups_add(nact_system *sys, nact_aid sup, const char *name);
void nacti_sups_del(nact_system *sys, nact_aid sup);
/* Copy up to max entries (oldest first) into out; returns how many are
 * live in all (may exceed max). */
size_t nacti_sups_list(nact_system *sys, struct nacti_supent *out, size_t max);

/* ---- registry/server.c ---- */

/* Decode and answer one request of len bytes as the server would (minus
 * the peer-uid check), appending the msgpack reply to rep (the caller
 * owns both). node is the node name reported by "stats". Runs the verb:
 * a "cancel" cancels for real. Any thread outside handlers. For tests. */
void nacti_regsrv_answer(nact_system *sys, const char *node, const void *buf, size_t len,
    nng_msg *rep);

#endif
