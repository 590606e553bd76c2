/*
 * nactor/cache.h — TTL + LRU caches owned by an actor.
 *
 * A cache is an ordinary actor: it owns a hash table of entries (key: a
 * byte string, value: the raw bytes of one msgpack value) kept in LRU
 * order, with a bound on entries and on bytes (key + value), a default TTL
 * and a per-entry TTL on the system clock (nact_now: the manual clock works
 * too). It answers the requests below; any client that can send a nactor
 * message (another actor, another node, another language) can use it.
 *
 * get-or-compute: on a miss the cache asks a *compute actor* named in the
 * request (nact_request, with a timeout) and queues every later request for
 * the same key behind that one computation, so concurrent misses compute
 * once and every waiter gets the value (or the same error: NACT_ECACHE if
 * the compute actor answered with an error, NACT_ETIMEDOUT if it did not
 * answer in time). The cache itself never blocks.
 *
 * Layered cache: with cfg.backing set, the cache is a local layer in front
 * of another cache actor: a local miss asks the backing cache (concurrent
 * misses on one key ask once), a hit there is kept locally; set and delete
 * write through (the reply comes after the backing cache acknowledged);
 * get-or-compute misses go to the backing cache's get-or-compute, so the
 * computation is shared by every layer in front of it. clear is local.
 * A backing cache that does not answer within backing_timeout_ms gives
 * NACT_ECACHE for get, set and del (a set is then removed locally); a
 * get-or-compute through it gives NACT_ETIMEDOUT.
 *
 * Invalidation: a NACT_T_EVENT message (mailbox.h: body [topic, payload])
 * whose topic matches cfg.topic (any topic if NULL) invalidates: payload
 * bin or str = delete that key, nil = clear all, array of bin/str = delete
 * each. Subscribe the cache to a bus topic to invalidate on events.
 *
 * WIRE PROTOCOL (types in the 0xFFFF0200 range, msgpack bodies). Requests
 * are nactor requests (NACT_MF_REQUEST: nact_request / nact_call); keys are
 * bin or str (the bytes are the key either way); ttl_ms is an int: < 0 =
 * the cache's default TTL, 0 = never expires, > 0 = milliseconds.
 *
 *   NACT_T_CACHE_GET     [key]                         -> VALUE
 *   NACT_T_CACHE_SET     [key, value]                  -> DONE [1]
 *                        [key, value, ttl_ms]
 *   NACT_T_CACHE_DEL     [key]                         -> DONE [n] (n = 0 or 1)
 *   NACT_T_CACHE_CLEAR   []                            -> DONE [n removed]
 *   NACT_T_CACHE_COMPUTE_GET [key, compute (uint actor id)]  -> VALUE
 *                        [key, compute, ttl_ms]
 *                        [key, compute, ttl_ms, timeout_ms]  (<= 0: default)
 *   NACT_T_CACHE_STATS   []                            -> STATS
 * Replies:
 *   NACT_T_CACHE_VALUE   [hit (bool), value (any, nil on a miss)]
 *   NACT_T_CACHE_DONE    [n (uint)]
 *   NACT_T_CACHE_STATS_R {"hits": uint, "misses": uint, "evictions": uint,
 *                         "expirations": uint, "sets": uint, "deletes": uint,
 *                         "computes": uint, "compute_errors": uint,
 *                         "bad": uint, "events": uint, "entries": uint,
 *                         "bytes": uint, "hit_rate": float64}
 *   NACT_T_ERROR         [code, text] (nact_reply_error): NACT_EBADMSG for
 *                        an unknown type or a malformed body, NACT_ERESOURCE
 *                        for an entry larger than max_bytes, NACT_ECACHE /
 *                        NACT_ETIMEDOUT for a failed compute or backing
 *                        cache.
 * The compute request the cache sends to a compute actor:
 *   NACT_T_CACHE_COMPUTE [key (bin)] -> any reply type whose whole body is
 *                        the value (one msgpack value), or NACT_T_ERROR.
 * Messages without NACT_MF_REQUEST: SET, DEL and CLEAR are applied with no
 * answer (casts); any other type, or a malformed body, is counted in "bad"
 * and dropped. NACT_T_EVENT is described above.
 *
 * Threads: the helpers below may be called from any thread; the nact_call
 * wrappers outside actors only (NACT_EDEADLK from a handler).
 * Ownership: the cache copies keys and values; requests built here are the
 * caller's until sent; pointers read from a reply live as long as it does;
 * values returned by the blocking wrappers are malloc'd for the caller.
 * Waiters queued when a cache stops get no reply (their requests time out).
 */
#ifndef NACTOR_CACHE_H
#define NACTOR_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/export.h>
#include <nactor/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACT_T_CACHE_GET 0xFFFF0200u
#define NACT_T_CACHE_SET 0xFFFF0201u
#define NACT_T_CACHE_DEL 0xFFFF0202u
#define NACT_T_CACHE_CLEAR 0xFFFF0203u
#define NACT_T_CACHE_COMPUTE_GET 0xFFFF0204u
#define NACT_T_CACHE_STATS 0xFFFF0205u
#define NACT_T_CACHE_COMPUTE 0xFFFF0210u /* cache -> compute actor */
#define NACT_T_CACHE_SWEEP 0xFFFF0220u   /* the cache's own expiry timer */
#define NACT_T_CACHE_VALUE 0xFFFF0280u
#define NACT_T_CACHE_DONE 0xFFFF0281u
#define NACT_T_CACHE_STATS_R 0xFFFF0282u

typedef struct nact_cache_config {
	uint32_t max_entries;        /* 0 = no bound */
	uint64_t max_bytes;          /* key + value bytes; 0 = no bound */
	uint32_t default_ttl_ms;     /* TTL of a set with ttl_ms < 0; 0 = never expires */
	uint32_t sweep_ms;           /* active expiry: every sweep_ms, look at up to
	                            256 entries and drop the expired ones (expired
	                            entries are also dropped when touched);
	                            0 = 1000 */
	uint32_t compute_timeout_ms; /* default for get-or-compute; 0 = 5000 */
	nact_aid backing;            /* layered: the cache behind this one, or none */
	uint32_t backing_timeout_ms; /* per request to backing; 0 = 5000 */
	const char *topic;           /* invalidate only on events of this topic
	                                (copied); NULL = any NACT_T_EVENT */
	const char *name;            /* register the actor under this name; NULL = none */
	uint32_t capacity;           /* mailbox bound (fail policy); 0 = unbounded.
	                                Bounded, a full cache refuses requests
	                                (NACT_EFULL to the sender) and replies
	                                from compute actors or the backing cache
	                                (its waiters then time out) */
} nact_cache_config;

/* Defaults: no bounds, no TTL, sweep every second, no backing. */
NACT_DECL void nact_cache_config_init(nact_cache_config *cfg);

/* Spawn a cache actor. cfg NULL = defaults; cfg is copied. Errors: as
 * nact_spawn, NACT_EINVAL. Any thread. */
NACT_DECL int nact_cache_spawn(nact_aid *idp, nact_system *sys, const nact_cache_config *cfg);

/* A supervisor child start function (supervisor.h nact_child_spec.start):
 * arg is a const nact_cache_config * (borrowed: must outlive the tree; NULL
 * = defaults). A restarted cache starts empty. */
NACT_DECL int nact_cache_child_start(nact_aid *idp, nact_system *sys, void *arg, void *extra);

typedef struct nact_cache_stats {
	uint64_t hits, misses;   /* get and get-or-compute lookups */
	uint64_t evictions;      /* entries dropped for entries/bytes bounds */
	uint64_t expirations;    /* entries dropped because their TTL passed */
	uint64_t sets, deletes;  /* entries stored; entries deleted (del, events) */
	uint64_t computes;       /* computations (or backing lookups) started */
	uint64_t compute_errors; /* computations that failed or timed out */
	uint64_t bad;            /* bad messages (answered or dropped) */
	uint64_t events;         /* invalidation events applied */
	uint64_t entries, bytes; /* now */
	double hit_rate;         /* hits / (hits + misses), 0 when none */
} nact_cache_stats;

/* ---- building requests (any thread; for nact_request from an actor) ----
 * Each allocates *mp (the caller's until sent). key: klen bytes; val: the
 * msgpack bytes of exactly one value (vlen bytes). Errors: NACT_ENOMEM,
 * NACT_EINVAL (NULL pointers, val not one well-formed msgpack value). */
NACT_DECL int nact_cache_msg_get(nact_msg **mp, nact_system *sys, const void *key, size_t klen);
NACT_DECL int nact_cache_msg_set(nact_msg **mp, nact_system *sys, const void *key, size_t klen,
    const void *val, size_t vlen, int ttl_ms);
NACT_DECL int nact_cache_msg_del(nact_msg **mp, nact_system *sys, const void *key, size_t klen);
NACT_DECL int nact_cache_msg_clear(nact_msg **mp, nact_system *sys);
/* timeout_ms <= 0: the cache's compute_timeout_ms. */
NACT_DECL int nact_cache_msg_compute_get(nact_msg **mp, nact_system *sys, const void *key,
    size_t klen, nact_aid compute, int ttl_ms, int timeout_ms);
NACT_DECL int nact_cache_msg_stats(nact_msg **mp, nact_system *sys);

/* ---- reading replies (any thread) ----
 * Each returns 0, the code of an error reply (NACT_T_ERROR), or
 * NACT_EBADMSG if the reply is not what it should be. Pointers point into
 * the reply (valid while it is). */
/* VALUE: *hitp 1 or 0; on a hit *valp and *vlenp are the value's msgpack bytes. */
NACT_DECL int nact_cache_reply_value(const nact_msg *reply, int *hitp, const void **valp,
    size_t *vlenp);
/* DONE: *np the count. */
NACT_DECL int nact_cache_reply_done(const nact_msg *reply, uint64_t *np);
NACT_DECL int nact_cache_reply_stats(const nact_msg *reply, nact_cache_stats *st);

/* ---- the compute side ---- */

/* In a compute actor's handler: the key of a NACT_T_CACHE_COMPUTE request
 * (points into req). NACT_EBADMSG if req is not one. */
NACT_DECL int nact_cache_compute_key(const nact_msg *req, const void **keyp, size_t *klenp);

/* A compute function: pack exactly one msgpack value (the value for key)
 * into out and return 0, or return a NACT_E* code (the waiters then get
 * NACT_ECACHE). Runs in the computer actor spawned below, one call at a
 * time: it may take its time (the cache is not blocked), but it holds up
 * that actor's later computations. */
typedef int (*nact_cache_compute_fn)(void *arg, const void *key, size_t klen, nact_pack *out);

/* Spawn an actor that answers NACT_T_CACHE_COMPUTE requests with fn. arg is
 * borrowed (must outlive the actor). Other messages: NACT_EBADMSG error
 * reply if a request, else dropped. Errors: as nact_spawn. */
NACT_DECL int nact_cache_computer_spawn(nact_aid *idp, nact_system *sys, nact_cache_compute_fn fn,
    void *arg);

/* ---- blocking wrappers over nact_call (outside actors only) ----
 * Each waits up to timeout_ms. Errors: NACT_ETIMEDOUT, NACT_EDEADLK (from a
 * handler), NACT_ENOENT (cache not alive; for get: also a miss), an error
 * reply's code, NACT_EBADMSG (unexpected reply), NACT_ENOMEM. */

/* Hit: 0, *valp a malloc'd copy of the value's msgpack bytes (the caller
 * frees it with free()), *vlenp its size. Miss: NACT_ENOENT. */
NACT_DECL int nact_cache_get(nact_system *sys, nact_aid cache, const void *key, size_t klen,
    void **valp, size_t *vlenp, int timeout_ms);
NACT_DECL int nact_cache_set(nact_system *sys, nact_aid cache, const void *key, size_t klen,
    const void *val, size_t vlen, int ttl_ms, int timeout_ms);
/* *deletedp (may be NULL): 1 if the key was there. */
NACT_DECL int nact_cache_del(nact_system *sys, nact_aid cache, const void *key, size_t klen,
    int *deletedp, int timeout_ms);
/* *np (may be NULL): entries removed. */
NACT_DECL int nact_cache_clear(nact_system *sys, nact_aid cache, uint64_t *np, int timeout_ms);
/* As nact_cache_get, computing on a miss (compute_timeout_ms <= 0: the
 * cache's default). A failed compute: NACT_ECACHE or NACT_ETIMEDOUT. */
NACT_DECL int nact_cache_get_or_compute(nact_system *sys, nact_aid cache, const void *key,
    size_t klen, nact_aid compute, int ttl_ms, int compute_timeout_ms, void **valp, size_t *vlenp,
    int timeout_ms);
NACT_DECL int nact_cache_stats_get(nact_system *sys, nact_aid cache, nact_cache_stats *st,
    int timeout_ms);

/* Size of the msgpack value at the start of buf (len bytes): 0 and *sizep,
 * or NACT_EMALFORMED / NACT_ETRUNC. Used to check values; any thread. */
NACT_DECL int nact_msgpack_value_size(const void *buf, size_t len, size_t *sizep);

#ifdef __cplusplus
}
#endif
#endif
