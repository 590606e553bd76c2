/*
 * nactor/dcache.h — a cache spread over the nodes of a cluster.
 *
 * Each member node runs one ordinary cache actor (cache.h) registered under
 * a well-known local name (NACT_DCACHE_NAME unless configured). A key
 * lives on the `replicas` members of highest rendezvous weight (highest
 * random weight hashing): weight(key, node) = a 64-bit hash of the node's
 * NAME and the key, so every node computes the same order without talking
 * to the others, and losing a node only moves the keys that node held.
 *
 * This is a library front end, not an actor: the calls below are blocking
 * wrappers over nact_call (outside actors only), usable from any number of
 * threads at once. A handle knows the member list, the replication factor
 * and the peers' cache actor ids (found with nact_node_whereis, kept until
 * the peer goes down, a request to it times out, or the lookup fails).
 *
 * Membership: the members are a configured list of node names (this node
 * included if it holds a share). A member is live when it is this node, or
 * when nact_node_peer knows it and nact_node_up says it is connected. That
 * question is answered by one function (nact_dcache_live), the one to
 * switch to another membership source (SWIM) later.
 *
 * Placement: the key's owners are the `replicas` LIVE members of highest
 * weight. While every member is up these are the r highest-weight members;
 * when one is down its place goes to the next live member in the key's
 * order, so writes keep r copies.
 *   set / del: sent to every owner (one after the other); the call returns
 *     0 when at least one owner applied it (*copiesp says how many).
 *   get: asks the owners in weight order and returns the first hit. An
 *     owner that is down is skipped; one that does not answer within
 *     timeout_ms, or answers a miss or an error, is followed by the next.
 *     A hit found after a miss is written back (a cast, default TTL) to
 *     the owners that missed ("read repair").
 * No rebalancing: when a node joins (or comes back, empty after a
 * restart), keys whose owners now include it are not copied to it; a get
 * still finds them on the other owners while at least one of the key's
 * older owners is among the new owners (always the case after one node
 * joins with replicas >= 2), and read repair fills the newcomer. With
 * replicas = 1 the keys that move to a joining node are misses until
 * written again; the keys of a node that went down are misses (NACT_ENOENT)
 * on the node that took its place. A node that comes back after a
 * partition (not a restart) may answer values older than the ones written
 * meanwhile: there are no versions.
 *
 * Errors of the data calls: NACT_EINVAL (bad arguments), NACT_EDEADLK
 * (from inside an actor), NACT_ENOENT (get: a miss on every owner that
 * answered), NACT_ENODEDOWN (no live owner, or every owner was down or
 * went down), NACT_ETIMEDOUT (every owner asked timed out), an owner's
 * error code (NACT_ERESOURCE: entry larger than its max_bytes,
 * NACT_EBADMSG, ...), NACT_ENOMEM.
 *
 * Threads: every call from any thread outside actors (open and close
 * included); the handle is thread-safe.
 * Ownership: open copies the options and names; names returned by
 * nact_dcache_live / nact_dcache_owners are the handle's (valid until
 * close); values returned by get are malloc'd for the caller (free()).
 */
#ifndef NACTOR_DCACHE_H
#define NACTOR_DCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/cache.h>
#include <nactor/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The cache actor's default registered name on every member node. */
#define NACT_DCACHE_NAME "nact.dcache"
/* Most members one handle knows. */
#define NACT_DCACHE_MAX_MEMBERS 256

typedef struct nact_dcache_opts {
	const char *self;           /* this node's name (as in nact_node_opts.name);
	                                 required when it is a member */
	const char *const *members; /* member node names (copied), 1..256, unique */
	uint32_t nmembers;
	uint32_t replicas;              /* copies per key, 1..nmembers; 0 = 1 */
	const char *cache_name;         /* registered name of the cache actors;
	                                 NULL = NACT_DCACHE_NAME */
	const nact_cache_config *cache; /* config of the local cache actor (copied;
	                                   its name is replaced by cache_name);
	                                   NULL = defaults */
	int no_local_cache;             /* 1: do not spawn the local cache actor (it
	                                 runs already, e.g. under a supervisor,
	                                 registered under cache_name) */
	int timeout_ms;                 /* per request to one owner; 0 = 1000 */
	int whereis_timeout_ms;         /* per nact_node_whereis; 0 = timeout_ms */
} nact_dcache_opts;

typedef struct nact_dcache nact_dcache;

/* Defaults: no members, replicas 1, NACT_DCACHE_NAME, 1 s timeouts. */
NACT_DECL void nact_dcache_opts_init(nact_dcache_opts *o);

/* Open a handle. When self names one of the members (and no_local_cache
 * is 0), spawns this node's cache actor registered under cache_name. A
 * handle whose self is NULL or not a member is a client: it holds no share
 * and only talks to the members. The system need not be a node when the
 * only member is self; peers are looked up lazily, at the first request
 * that needs them. Errors: NACT_EINVAL (no members, too many, an empty,
 * too long or duplicate name, replicas > nmembers), NACT_EEXIST
 * (cache_name already taken here), NACT_ENOMEM, spawn errors.
 * *dcp is the caller's (nact_dcache_close). */
NACT_DECL int nact_dcache_open(nact_dcache **dcp, nact_system *sys, const nact_dcache_opts *o);

/* Stop the local cache actor if open spawned it, free the handle. No call
 * on the handle may be running. NULL-safe. */
NACT_DECL void nact_dcache_close(nact_dcache *dc);

/* The local cache actor (NACT_AID_NONE if this node holds no share). */
NACT_DECL nact_aid nact_dcache_local(nact_dcache *dc);

/* Store key -> val (val: the msgpack bytes of one value) on every owner.
 * ttl_ms as cache.h (< 0 the caches' default, 0 never expires).
 * *copiesp (may be NULL): owners that stored it. */
NACT_DECL int nact_dcache_set(nact_dcache *dc, const void *key, size_t klen, const void *val,
    size_t vlen, int ttl_ms, uint32_t *copiesp);

/* The value of key: 0 and *valp (malloc'd, the caller frees it), *vlenp;
 * NACT_ENOENT on a miss. */
NACT_DECL int nact_dcache_get(nact_dcache *dc, const void *key, size_t klen, void **valp,
    size_t *vlenp);

/* Delete key on every owner. *deletedp (may be NULL): 1 if an owner had it. */
NACT_DECL int nact_dcache_del(nact_dcache *dc, const void *key, size_t klen, int *deletedp);

/* THE membership question: the members live now, in configuration order,
 * into names[0..max) (the handle's strings); *np gets how many are live
 * (may exceed max). Errors: NACT_EINVAL. */
NACT_DECL int nact_dcache_live(nact_dcache *dc, const char **names, uint32_t max, uint32_t *np);

/* The key's order: members by decreasing weight (live_only = 1: only the
 * live ones, so the first `replicas` are the current owners). names as
 * above; *np how many there are. Errors: NACT_EINVAL. */
NACT_DECL int nact_dcache_owners(nact_dcache *dc, const void *key, size_t klen, int live_only,
    const char **names, uint32_t max, uint32_t *np);

typedef struct nact_dcache_stats {
	uint64_t fallbacks;  /* get: owners after the first asked */
	uint64_t timeouts;   /* requests to an owner that timed out */
	uint64_t down_skips; /* owners skipped or failed because down */
	uint64_t repairs;    /* read-repair writes sent */
	uint64_t lookups;    /* nact_node_whereis calls made */
} nact_dcache_stats;

/* Counters of this handle since open (never fails on a valid handle). */
NACT_DECL void nact_dcache_stats_get(nact_dcache *dc, nact_dcache_stats *st);

#ifdef __cplusplus
}
#endif
#endif
