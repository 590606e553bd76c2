/*
 * nactor/node.h — distributed nodes: a system that talks to other systems
 * over nng (tcp://, ipc://), so that nact_send, nact_request and nact_call
 * reach an actor on another node with the same calls as a local one.
 *
 * Actor ids and nodes: the top 16 bits of an id name the node, as seen by
 * THIS node. 0 is the local node; 1..NACT_NODE_MAX_PEERS are peers, in the
 * order this node first heard of them (a seed, or a node that connected).
 * The number is local: node "b" may be 1 here and 3 on another node. The
 * transport translates on every hop (docs/wire.md), so an id received in a
 * message header (sender) is always usable here as is. A node keeps a
 * peer's number for its whole life, across disconnects and reconnects, so
 * an id stays valid when the peer comes back (if its actor is still
 * alive). Ids inside message BODIES are not translated: send names, or use
 * nact_node_whereis, or translate them yourself with nact_aid_node /
 * nact_aid_on.
 *
 * Delivery between nodes is at-most-once and FIFO per (sending actor or
 * thread, receiving actor) pair; a message to a node that is not connected
 * becomes a local dead letter (reason "unknown" if no such node number,
 * "dead" if it is known but down). Message deadlines are not carried
 * (clocks differ): the wire carries 0 and the receiver delivers.
 *
 * Security: a node with a secret proves it on every connection with an
 * HMAC-SHA256 challenge-response over nonces chosen by both sides; the
 * secret never crosses the wire. A node without a secret must say so with
 * allow_insecure = 1 (logged as a warning at start and on every
 * connection); secure and insecure nodes refuse each other.
 *
 * Threads: nact_node_start / nact_node_stop from outside actors; the other
 * calls from any thread unless noted. nng's callback threads deliver
 * incoming messages; a tick thread sends heartbeats.
 */
#ifndef NACTOR_NODE_H
#define NACTOR_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/error.h>
#include <nactor/export.h>
#include <nactor/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol version spoken by this library (handshake, docs/wire.md). */
#define NACT_NODE_PROTO 1
/* Largest nng message a node accepts (NNG_OPT_RECVMAXSZ): one envelope of
 * the largest body (16 MiB) plus its header and frame overhead. */
#define NACT_NODE_MAX_FRAME ((size_t)16 * 1024 * 1024 + 4096)
/* Peers one node can know. */
#define NACT_NODE_MAX_PEERS 1024
/* Longest node name (bytes, without the NUL). */
#define NACT_NODE_NAME_MAX 63

/* Exit reason of a DOWN for an actor whose node went down (see
 * supervisor.h for the others; this one is defined here). */
#define NACT_EXIT_NODEDOWN (-6)

typedef struct nact_node_opts {
	const char *name;          /* this node's name, 1..63 bytes, unique in
	                              the cluster (required) */
	const char *const *listen; /* URLs to listen on (tcp://host:port,
	                              ipc:///path); the first is advertised to
	                              peers so they can connect back */
	uint32_t nlisten;          /* >= 1 */
	const char *const *seeds;  /* listen URLs of peers to connect to */
	uint32_t nseeds;
	const void *secret;        /* shared secret (copied); NULL = none */
	size_t secret_len;         /* >= 16 bytes when secret is set */
	int allow_insecure;        /* 1: run without a secret (logged loudly) */
	uint32_t heartbeat_ms;     /* heartbeat period; 0 = 200 */
	uint32_t down_after_ms;    /* silence after which a peer is down; 0 = 1500 */
	uint32_t reconnect_min_ms; /* dial backoff start; 0 = 50 */
	uint32_t reconnect_max_ms; /* dial backoff cap; 0 = 2000 */
	size_t queue_max;          /* bytes queued per peer before sends fail with
	                      NACT_EFULL (or wait, nact_send_wait); 0 = 16 MiB */
	uint32_t proto;            /* test hook: protocol version to announce; 0 =
	                      NACT_NODE_PROTO */
	/* --- netsec (docs/netsec.md) --- TLS for tls+tcp:// listen and seed
	 * URLs (nng's TLS transport, mbedTLS). Paths are copied. */
	const char *tls_ca_file;   /* PEM CA chain a peer's certificate must
	                              chain to (required with TLS) */
	const char *tls_cert_file; /* PEM file: this node's certificate, then
	                              its private key (required with TLS) */
	const char *tls_key_pass;  /* password of an encrypted key, or NULL */
	int tls_verify_optional;   /* 1: accept peers without a certificate
	                              (default 0: a verified certificate is
	                              required both ways) */
	int tls_only;              /* 1: TLS alone authenticates: no secret, no
	                              allow_insecure, every URL tls+ (default
	                              0: a secret is still required on top) */
	size_t credit_window;      /* bytes of DATA a peer may have in flight
	                              to this node before it must wait for
	                              credit (docs/wire.md); 0 = 1 MiB */
} nact_node_opts;

/* Defaults (no name, no URLs, no secret). */
NACT_DECL void nact_node_opts_init(nact_node_opts *o);

/* Make sys a node: listen on every URL, dial every seed (in the
 * background, with reconnect and exponential backoff), and route sends to
 * remote ids. Returns once listening. Errors: NACT_EINVAL (bad options, no
 * secret without allow_insecure, short secret), NACT_EEXIST (already a
 * node), NACT_ETRANERR + nng error (cannot listen: logged), NACT_ENOMEM.
 * A URL tcp://host:0 listens on a port the system picks (nact_node_url). Outside actors only. */
NACT_DECL int nact_node_start(nact_system *sys, const nact_node_opts *opts);

/* Close every connection, stop routing (later remote sends become dead
 * letters), free the node. Pending nact_node_whereis calls fail with
 * NACT_ECLOSED. Call before nact_system_close; nact_system_close does not
 * do it. NULL-safe, idempotent. Outside actors only. */
NACT_DECL void nact_node_stop(nact_system *sys);

/* The URL this node advertises to peers (its first listen URL; with
 * tcp://host:0 the port the system chose), copied into buf as a C string.
 * Errors: NACT_EINVAL, NACT_ERANGE (buf too small), NACT_ESTATE (not a
 * node). */
NACT_DECL int nact_node_url(nact_system *sys, char *buf, size_t len);

/* The node part of an id (0 = local) and the id with its node part set. */
static inline uint16_t nact_aid_node(nact_aid a)
{
	return (uint16_t)(a.v >> 48);
}
static inline nact_aid nact_aid_on(uint16_t node, nact_aid a)
{
	nact_aid r = {(a.v & ((UINT64_C(1) << 48) - 1)) | ((uint64_t)node << 48)};
	return r;
}

/* The local number of the peer called name. With timeout_ms > 0, wait
 * that long for it to be connected and authenticated (0: answer now).
 * Errors: NACT_ENOENT (not known / not up in time), NACT_EINVAL,
 * NACT_ESTATE (not a node). */
NACT_DECL int nact_node_peer(nact_system *sys, const char *name, uint16_t *nodep, int timeout_ms);

/* 1 if peer `node` is connected and authenticated both ways, else 0. */
NACT_DECL int nact_node_up(nact_system *sys, uint16_t node);

/* Ask peer `node` which actor is registered there under name. On success
 * *aidp is usable here (node bits set). Blocks up to timeout_ms; outside
 * actors only (NACT_EDEADLK from a handler). Errors: NACT_ENOENT (no such
 * name there), NACT_ETIMEDOUT, NACT_ENODEDOWN (peer not up, or it went
 * down while asked), NACT_EINVAL (unknown node number), NACT_ECLOSED
 * (nact_node_stop ran), NACT_ESTATE (not a node). */
NACT_DECL int nact_node_whereis(nact_system *sys, uint16_t node, const char *name, nact_aid *aidp,
    int timeout_ms);

/* Watch remote actor `target` from local actor `watcher`: when target ends
 * the watcher gets a NACT_T_DOWN (supervisor.h) with the reference in corr
 * and target's reason; if target's node goes down first (or is down now),
 * the reason is NACT_EXIT_NODEDOWN. This is what nact_monitor does for a
 * remote id (from a handler), and nact_demonitor removes it. *refp gets
 * the reference. Links (nact_link) do not cross nodes yet.
 * Errors: NACT_EINVAL, NACT_ENOMEM, delivery errors of the immediate DOWN. */
NACT_DECL int nact_node_monitor(nact_system *sys, nact_aid watcher, nact_aid target,
    uint64_t *refp);

typedef struct nact_node_stats {
	uint64_t frames_out, frames_in;       /* data frames */
	uint64_t envelopes_out, envelopes_in; /* envelopes in those frames */
	uint64_t bad_frames;                  /* malformed/oversized/unknown version/garbage */
	uint64_t refused;                     /* handshakes refused (either side) */
	uint64_t auth_failed;                 /* of which authentication failures */
	uint64_t nodedowns;                   /* peers declared down */
	uint64_t dropped;                     /* envelopes dropped (peer down, queue full) */
} nact_node_stats;

/* Counters since start. NACT_ESTATE if sys is not a node. */
NACT_DECL int nact_node_stats_get(nact_system *sys, nact_node_stats *st);

#ifdef __cplusplus
}
#endif
#endif
