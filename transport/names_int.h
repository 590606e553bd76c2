/*
 * transport/names_int.h — hooks between the node transport (node.c) and
 * the names area (names.c): remote spawn and cluster-wide names.
 */
#ifndef NACT_TRANSPORT_NAMES_INT_H
#define NACT_TRANSPORT_NAMES_INT_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>

/* node.c -> names.c. peer `node` (called name) came up (up = 1) or went
 * down (0). Called with the node's lock held: only queues a message. */
void nacti_names_peer(nact_system *sys, uint16_t node, const char *name, int up);
/* A K_NAMES frame body from peer `node` (callback thread, no lock held).
 * The bytes are borrowed. */
void nacti_names_frame(nact_system *sys, uint16_t node, const void *body, size_t len);
/* nact_node_stop is running: every peer counts as down. */
void nacti_names_node_stop(nact_system *sys);

/* names.c -> node.c. Queue a K_NAMES frame with body (copied) to peer
 * `node` (held until the connection to it is authenticated). Errors:
 * NACT_ESTATE (not a node), NACT_ENODEDOWN (no connection, unknown node,
 * or its queue is full), NACT_ENOMEM. Any thread, no lock of node.c held. */
int nacti_node_send_names(nact_system *sys, uint16_t node, const void *body, size_t len);
/* Peer numbers in use (1..this), 0 if not a node. */
uint32_t nacti_node_npeers(nact_system *sys);
/* This node's name into buf. NACT_ESTATE if not a node. */
int nacti_node_self(nact_system *sys, char *buf, size_t len);

#endif
