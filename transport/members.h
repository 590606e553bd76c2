/*
 * transport/members.h — the node's membership (internal, not installed):
 * the glue between the node transport (transport/node.c) and the SWIM
 * state machine (transport/swim.h). Design: docs/members.md.
 *
 * A nacti_members owns one nacti_swim, its lock and the nng sleep aio
 * that ticks it at its next deadline (no thread of its own, no polling
 * faster than the protocol needs). SWIM messages travel as K_SWIM frames
 * over the node's authenticated connections (docs/wire.md); the node
 * gives the functions declared at the bottom to this file.
 *
 * Lock order: members->mtx, then node->mtx, then peer->mtx. The node never
 * calls into this file while holding node->mtx or a peer's lock.
 *
 * Ownership: nacti_members_open hands *out to the node, which frees it
 * with nacti_members_close (after nacti_members_leave for a graceful stop).
 */
#ifndef NACT_TRANSPORT_MEMBERS_H
#define NACT_TRANSPORT_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/node.h>

struct nacti_node;
typedef struct nacti_members nacti_members;

/* Start membership for node n (name, advertised URL adv), joining through
 * the seeds (may be 0). Errors: NACT_EINVAL, NACT_ENOMEM, NACT_ETRANERR. */
int nacti_members_open(nacti_members **out, struct nacti_node *n, nact_system *sys,
    const char *name, const char *adv, const nact_node_opts *o);
/* Leave gracefully (tell a few members); harmless twice. */
void nacti_members_leave(nacti_members *m);
/* Stop ticking and free (NULL-safe). The node calls it without its lock. */
void nacti_members_close(nacti_members *m);
/* A K_SWIM frame body from the authenticated peer from_name. */
void nacti_members_receive(nacti_members *m, const char *from_name, const void *buf, size_t len);

/* Copy the membership into out (see nact_node_members). */
int nacti_members_list(nacti_members *m, nact_node_member *out, size_t max, size_t *np);
int nacti_members_stats(nacti_members *m, nact_members_stats *st);

/* ---- given by transport/node.c ---- */

/* Send a K_SWIM frame holding buf to the member name (or, with name "",
 * to the node at url), connecting to it first when needed. Best effort. */
void nacti_node_swim_send(struct nacti_node *n, const char *name, const char *url, const void *buf,
    size_t len);
/* A member joined or came back (ev 0) / went down (1) / left (2). */
void nacti_node_member_event(struct nacti_node *n, int ev, const char *name, const char *url);
/* The local number of the peer name (0 if none) and whether it is up. */
void nacti_node_peer_info(struct nacti_node *n, const char *name, uint16_t *no, int *up);

#endif
