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
	/* membership (docs/members.md) */
	uint32_t swim_period_ms;      /* SWIM protocol period T; 0 = 1000 */
	uint32_t swim_suspicion_mult; /* suspicion timeout = mult * max(1, log10 n)
	                                 * T; 0 = 4 */
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
	/* Lanes (docs/wire.md "Lanes"): between nodes on plain tcp://, once
	 * a connection is authenticated its frames move to a direct TCP
	 * connection written by the sending thread and read by one lane
	 * thread per node, skipping nng's socket threads (several thread
	 * hops per message). TLS nodes and ipc:// never use lanes. */
	int lanes;             /* 0 = on where possible (default), -1 = off:
	                          every frame stays on nng */
	uint32_t lane_spin_us; /* how long the lane thread keeps polling after
	                          traffic before it sleeps; 0 = 50 */
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
 * the reference. Links (nact_link) cross nodes too: see "Links across
 * nodes" at the end of this header.
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
	uint64_t lanes_out, lanes_in;         /* lanes made to peers, accepted from them */
	uint64_t lanes_open;                  /* lanes open now, both directions */
} nact_node_stats;

/* Counters since start. NACT_ESTATE if sys is not a node. */
NACT_DECL int nact_node_stats_get(nact_system *sys, nact_node_stats *st);

/* ---- behaviours by name, remote spawn, cluster-wide names
 * (transport/names.c, docs/names.md) ----
 *
 * A behaviour is registered on a system under a name; any node can then
 * spawn it here by name. A C pointer cannot cross the wire, so the new
 * actor's state is built on the spawning node by the behaviour's init
 * from an argument blob (msgpack bytes chosen by the behaviour).
 *
 * Cluster-wide names: each node keeps a replica of the table. A node is
 * the authority for the names it registers: it sends each registration and
 * unregistration to every connected peer, and all of its names to a peer
 * that comes up (late joiners get them on connect). A name goes away when
 * its actor ends, when it is unregistered, or (on the other nodes) when its
 * node goes down. The same name registered on two nodes at once (e.g. while
 * they are not connected) is resolved the same way everywhere: the
 * registration with the lower (registration time in ms, owner node name)
 * wins; both sides log a warning, and the losing actor gets a
 * NACT_T_NAME_LOST message whose body is [name, winner node name]. Names
 * travel only between directly connected nodes (see docs/names.md).
 *
 * All of it runs in a service actor named "nact.names", started on first
 * use; the node transport feeds it peer events and K_NAMES frames. */

#define NACT_T_NAME_LOST 0xFFFF0781u   /* body [name, winner node]: see above */
#define NACT_T_SPAWN_REQ 0xFFFF0782u   /* request to "nact.names": spawn */
#define NACT_T_SPAWN_OK 0xFFFF0783u    /* its reply: [actor id] (usable here) */
#define NACT_BEHAVIOUR_NAME_MAX 63     /* longest behaviour name */
#define NACT_GLOBAL_NAME_MAX 255       /* longest cluster-wide name */
#define NACT_SPAWN_ARGS_MAX (1u << 20) /* largest argument blob */

/* Build the state of a new actor from the argument blob (args, len bytes;
 * len may be 0). On success return 0 and set *statep (owned by the new
 * actor, freed by the behaviour's fini). On failure return an error code
 * (NACT_EBADMSG for arguments it does not accept) and write a reason into
 * err (errlen bytes, NUL-terminated): it is sent back to the spawner.
 * Runs in the "nact.names" service actor (keep it short). */
typedef int (*nact_behaviour_init)(nact_system *sys, const void *args, size_t len, void **statep,
    char *err, size_t errlen);

typedef struct nact_behaviour_def {
	nact_behaviour fn;        /* the handler (required) */
	nact_behaviour_init init; /* NULL: state NULL, and args must be empty */
	nact_state_fini fini;     /* frees the state (may be NULL) */
	uint32_t capacity;        /* mailbox bound of spawned actors, 0 = none */
	int overflow;             /* enum nact_overflow with capacity */
} nact_behaviour_def;

/* Register behaviour `name` (1..63 bytes) on sys (the definition is
 * copied). Works before or after nact_node_start. Errors: NACT_EINVAL,
 * NACT_EEXIST (name taken), NACT_ENOMEM, NACT_ECLOSED. Any thread. */
NACT_DECL int nact_behaviour_register(nact_system *sys, const char *name,
    const nact_behaviour_def *def);
/* Remove it (actors already spawned keep running). NACT_ENOENT if none. */
NACT_DECL int nact_behaviour_unregister(nact_system *sys, const char *name);

/* Spawn behaviour `name` on node `node` (0 = here) with the argument blob
 * (copied; NULL/0 = none) and wait up to timeout_ms; *aidp gets the new
 * actor's id, usable here. Outside actors only. Errors: NACT_ENOENT (no
 * such behaviour there), NACT_EBADMSG (its init refused the arguments;
 * another code its init returns is passed through), NACT_ENODEDOWN (node not up, or it went
 * down while asked), NACT_ETIMEDOUT, NACT_EINVAL (bad arguments, args
 * longer than NACT_SPAWN_ARGS_MAX), NACT_EDEADLK (from a handler),
 * NACT_ECLOSED. err (may be NULL) gets the reason text. */
NACT_DECL int nact_node_spawn(nact_system *sys, uint16_t node, const char *name, const void *args,
    size_t len, nact_aid *aidp, int timeout_ms, char *err, size_t errlen);

/* The same from a handler: a request (nact_request) to the "nact.names"
 * service; cb gets the reply, to decode with nact_node_spawn_result. If
 * this fails, cb is never called. Errors: as nact_request, NACT_EINVAL. */
NACT_DECL int nact_node_spawn_request(nact_ctx *ctx, uint16_t node, const char *name,
    const void *args, size_t len, int timeout_ms, nact_reply_fn cb, void *arg);

/* Decode the reply of a spawn request: 0 and *aidp, or the error code of
 * the spawn (err gets the text). */
NACT_DECL int nact_node_spawn_result(const nact_msg *reply, nact_aid *aidp, char *err,
    size_t errlen);

/* Register local actor aid under the cluster-wide `name` (1..255 bytes)
 * and send it to every connected peer. Any thread, also from a handler
 * (does not block). Errors: NACT_EINVAL (remote or zero id, bad name),
 * NACT_EEXIST (the name is known here already, from any node),
 * NACT_EDEAD (aid not alive), NACT_ENOMEM, NACT_ECLOSED. A conflict found
 * later is reported with NACT_T_NAME_LOST to the losing actor. */
NACT_DECL int nact_global_register(nact_system *sys, const char *name, nact_aid aid);

/* Remove this node's registration of name everywhere. Errors: NACT_ENOENT
 * (not known), NACT_ESTATE (registered by another node), NACT_EINVAL. Any
 * thread. */
NACT_DECL int nact_global_unregister(nact_system *sys, const char *name);

/* Look name up in this node's replica, waiting up to timeout_ms for it to
 * appear (0 = answer now; > 0 only outside actors, else NACT_EDEADLK). On
 * success *aidp is usable here. Errors: NACT_ENOENT / NACT_ETIMEDOUT (not
 * known), NACT_EINVAL. Any thread. */
NACT_DECL int nact_global_whereis(nact_system *sys, const char *name, nact_aid *aidp,
    int timeout_ms);

/* Number of names in this node's replica (all owners). */
NACT_DECL uint32_t nact_global_count(nact_system *sys);
/* ---- membership (docs/members.md) ----
 *
 * Every node runs SWIM-style membership (transport/swim.h, docs/swim.md):
 * each protocol period it probes one member, asks k = 3 others to probe
 * indirectly before suspecting it, and piggybacks membership news on those
 * messages, over the same authenticated connections as actor traffic
 * (opened on demand: no full mesh is needed). A node joins through its
 * seeds and then knows every member by name and URL: nact_node_peer(sys,
 * name, &no, timeout_ms > 0) connects to a member it has not talked to yet.
 * A member declared down by the gossip gets the same treatment as a broken
 * connection (every monitor of its actors gets DOWN with NACT_EXIT_NODEDOWN,
 * pending nact_node_whereis fail with NACT_ENODEDOWN); one that left
 * (nact_node_stop) likewise, logged as a graceful leave. A restarted node
 * rejoins with a higher incarnation.
 */

typedef enum nact_member_state {
	NACT_MEMBER_ALIVE = 0,   /* answering probes */
	NACT_MEMBER_SUSPECT = 1, /* missed a probe; down unless it refutes */
	NACT_MEMBER_DOWN = 2,    /* confirmed down */
	NACT_MEMBER_LEFT = 3     /* left gracefully */
} nact_member_state;

typedef struct nact_node_member {
	char name[NACT_NODE_NAME_MAX + 1];
	char url[256]; /* advertised listen URL */
	nact_member_state state;
	uint64_t incarnation; /* raised by the member itself (refutation, restart) */
	uint16_t node;        /* local peer number; 0 for self or not numbered yet */
	int self;             /* 1 for this node */
	int connected;        /* 1 if connected both ways now (nact_node_up) */
} nact_node_member;

/* This node's view of the membership, self first: up to max entries into
 * out (caller's array), the total in *np (may exceed max). Errors:
 * NACT_EINVAL, NACT_ESTATE (not a node). Any thread. */
NACT_DECL int nact_node_members(nact_system *sys, nact_node_member *out, size_t max, size_t *np);

/* "alive", "suspect", "down", "left". */
NACT_DECL const char *nact_member_state_name(nact_member_state st);

typedef struct nact_members_stats {
	uint64_t period_ms;                       /* protocol period T in effect */
	uint64_t suspicion_ms;                    /* suspicion timeout for the current live count */
	uint64_t periods;                         /* periods since the node started */
	uint64_t live;                            /* members alive or suspect, self included */
	uint64_t sent, sent_bytes, received, bad; /* SWIM messages */
	uint64_t probes, ping_reqs, suspected, refuted, syncs;
} nact_members_stats;

/* Membership counters since start. NACT_EINVAL, NACT_ESTATE. */
NACT_DECL int nact_node_members_stats(nact_system *sys, nact_members_stats *st);

/* ---- Links across nodes ----
 *
 * nact_link(ctx, other) and nact_unlink(ctx, other) (supervisor.h) take a
 * remote id with the same meaning as a local one; nothing else to call
 * (handler only, as for local ids).
 * A link is two records, one on each node (docs/wire.md "Links"), and
 * follows the local rules (actors/link.c):
 *   - when either actor ends, the other gets the exit signal with the same
 *     reason and text: it ends with that reason, or, if it traps exits,
 *     gets a NACT_T_EXIT message (nact_exit_info_read: id = the ended
 *     actor as the receiving node names it). A normal end (reason 0)
 *     only reaches trapping actors. Never a NACT_T_DOWN.
 *   - when the other actor's node goes down (connection lost, silence,
 *     nact_node_stop on either side), every local actor linked to one of
 *     its actors gets the exit signal NACT_EXIT_NODEDOWN (abnormal: it
 *     ends unless it traps exits). The link is then gone on both sides.
 *   - linking to a remote actor that has ended (or never existed) gives
 *     the exit signal NACT_EXIT_NOPROC, as for a gone local actor; if its
 *     node is down (or unknown) the signal is NACT_EXIT_NODEDOWN, at once.
 *     (NACT_EXIT_NOPROC if no node ever ran in this system.)
 *   - nact_unlink removes both records; a signal already on its way is
 *     dropped on arrival (the receiving node checks the link still exists
 *     before it delivers).
 * Link frames travel in order with the other control frames of a
 * connection, but not ordered with DATA: a message sent just before the
 * sender ends may arrive after its exit signal.
 * Errors of nact_link: NACT_EINVAL, NACT_ENOMEM, delivery errors of the
 * immediate signal. A peer built before links counts link frames as
 * unknown (a bad frame: it closes the connection): link only between
 * nodes that have them (no capability bit is negotiated). */

#ifdef __cplusplus
}
#endif
#endif
