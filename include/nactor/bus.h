/*
 * nactor/bus.h — the event bus: topics, listeners, wildcards, filter and
 * map stages, pipes between buses, and reported handler failures.
 *
 * A bus is an ordinary actor (so a supervisor can own it). Publishers send
 * it messages; it delivers each event to every subscription whose pattern
 * matches the topic, in subscription order.
 *
 * Topics are dot-separated segments: "orders.eu.created". A topic is 1 to
 * NACT_BUS_TOPIC_MAX bytes, has no empty segment, no NUL, and no wildcard
 * segment. Topics that start with '$' are reserved for the bus itself
 * (NACT_BUS_ERROR_TOPIC); publishers may not use them.
 *
 * Patterns (subscriptions) are topics whose segments may also be:
 *   "*"  exactly one segment            "a.*"  matches "a.b", not "a" or "a.b.c"
 *   ">"  one or more trailing segments  "a.>"  matches "a.b", "a.b.c", not "a"
 *        (last segment only)            ">"    matches every ordinary topic
 * A pattern whose first segment is a wildcard never matches a '$' topic:
 * subscribe to "$bus.error" by name.
 *
 * Listeners:
 *  - an actor: gets each event as a NACT_T_EVENT message (mailbox.h) whose
 *    body is the msgpack array [topic (str), payload (any msgpack value)].
 *    The bus monitors it and drops its subscriptions when it ends.
 *  - a pipe: another bus; gets each event as a publish (NACT_T_BUS_PUB), so
 *    its own listeners see it. A pipe carries a hop count: an event that
 *    went through NACT_BUS_MAX_HOPS pipes is dropped (counted in `loops`),
 *    so a cycle of pipes cannot spin forever.
 *  - a callback: runs inside the bus actor, on its turn. It must be short
 *    and must not block: every other event waits for it. A nonzero return is
 *    a handler failure.
 * Each subscription may have a filter (skip events) and a map (replace the
 * payload), run in the bus before delivery: filter, then map, then deliver.
 *
 * Ordering: events published by one sender (an actor, or one non-actor
 * thread) reach each listener in the order they were published (the
 * mailbox is FIFO per sender, the bus never reorders, and delivery to one
 * actor is FIFO). Events from different publishers interleave.
 *
 * Failures: a callback returning nonzero, a filter or map failing, or a
 * delivery the runtime refuses (the listener's bounded mailbox is full)
 * is an event error. It is counted (stats.errors) and published on
 * NACT_BUS_ERROR_TOPIC with the payload map
 *   {"topic": str, "sub": uint, "listener": uint, "code": int, "text": str}
 * (listener: the actor id, 0 for a callback; code: the callback's return or
 * the send error; NACT_EHANDLER if a callback returned a non-NACT value).
 * Delivery to the other listeners goes on. Errors while delivering an
 * error event are only counted (no error storms).
 *
 * ---- wire protocol (what a client in any language sends) ----
 * Message types (header field "type", mailbox.h); bodies are msgpack:
 *   NACT_T_BUS_PUB    [topic str, payload any]            publish
 *                     ([topic, payload, hops uint] between piped buses)
 *                     as a request: reply NACT_T_BUS_PUB [deliveries uint]
 *   NACT_T_BUS_SUB    [pattern str, listener uint, flags uint]
 *                     subscribe an actor (listener 0 = the sender);
 *                     flags: NACT_BUS_ONCE, NACT_BUS_PIPE.
 *                     as a request: reply NACT_T_BUS_SUB [sub id uint]
 *   NACT_T_BUS_UNSUB  [sub id uint]  reply (request) [removed 0|1]
 *   NACT_T_BUS_COUNT  [topic str]    reply [listeners uint]: how many
 *                     subscriptions a publish on topic reaches now
 *                     ("" = every subscription)
 *   NACT_T_BUS_STATS  []             reply map {"published", "delivered",
 *                     "errors", "dropped", "bad", "loops", "subs"}
 *   NACT_T_BUS_ATTACH [sub id uint]  internal (nact_bus_on): installs a
 *                     subscription prepared through the handle; unknown
 *                     ids are bad messages
 * Any other type, or a body that does not decode as above, is a bad
 * message: a request gets a NACT_T_ERROR reply with NACT_EBADMSG; anything
 * else is counted (stats.bad) and dropped. The bus never crashes on input.
 */
#ifndef NACTOR_BUS_H
#define NACTOR_BUS_H

#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/export.h>
#include <nactor/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACT_T_BUS_PUB 0xFFFF0101u
#define NACT_T_BUS_SUB 0xFFFF0102u
#define NACT_T_BUS_UNSUB 0xFFFF0103u
#define NACT_T_BUS_COUNT 0xFFFF0104u
#define NACT_T_BUS_STATS 0xFFFF0105u
#define NACT_T_BUS_ATTACH 0xFFFF0106u

#define NACT_BUS_ONCE 0x1u /* remove after the first delivery */
#define NACT_BUS_PIPE 0x2u /* deliver as a publish to another bus */

#define NACT_BUS_TOPIC_MAX 255
#define NACT_BUS_MAX_HOPS 8
#define NACT_BUS_ERROR_TOPIC "$bus.error"

typedef struct nact_bus nact_bus;

/* A callback listener. topic is not NUL-terminated (tlen bytes); payload is
 * the msgpack bytes of one value (read it with nact_reader_init_buf). Both
 * are borrowed for the call. Runs in the bus actor (ctx is the bus's):
 * keep it short. Return 0, or nonzero for a handler failure. */
typedef int (*nact_bus_fn)(nact_ctx *ctx, const char *topic, size_t tlen, const void *payload,
    size_t plen, void *arg);
/* A filter: 1 to deliver, 0 to skip, negative for a failure (reported). */
typedef int (*nact_bus_filter_fn)(const char *topic, size_t tlen, const void *payload, size_t plen,
    void *arg);
/* A map: pack exactly one msgpack value into out, the new payload. Return 0,
 * or nonzero for a failure (reported; the event is not delivered to this
 * subscription). */
typedef int (*nact_bus_map_fn)(const char *topic, size_t tlen, const void *payload, size_t plen,
    nact_pack *out, void *arg);

/* One subscription. Exactly one of actor (with or without NACT_BUS_PIPE)
 * and fn is set. Every arg is borrowed: it must stay valid until the
 * subscription is removed (off, once, the listener's death) or the bus
 * handle is freed and the actor ended. */
typedef struct nact_bus_sub {
	const char *pattern;       /* copied */
	nact_aid actor;            /* actor listener, or the target bus of a pipe */
	nact_bus_fn fn;            /* callback listener */
	void *arg;                 /* for fn */
	nact_bus_filter_fn filter; /* NULL = every event */
	void *filter_arg;
	nact_bus_map_fn map; /* NULL = payload unchanged */
	void *map_arg;
	uint32_t flags; /* NACT_BUS_ONCE | NACT_BUS_PIPE */
} nact_bus_sub;

typedef struct nact_bus_opts {
	uint32_t capacity; /* bus mailbox bound (fail policy); 0 = unbounded */
	const char *name;  /* register the bus actor under this name; NULL = none */
} nact_bus_opts;

typedef struct nact_bus_stats {
	uint64_t published; /* publishes accepted */
	uint64_t delivered; /* events handed to listeners (sends and callbacks) */
	uint64_t errors;    /* event errors (handler failures, refused sends) */
	uint64_t dropped;   /* error events that could not be delivered */
	uint64_t bad;       /* bad messages received */
	uint64_t loops;     /* piped events dropped at NACT_BUS_MAX_HOPS */
	uint64_t subs;      /* subscriptions now */
} nact_bus_stats;

/* ---- the handle (C API with callbacks) ---- */

/* Create a bus handle: it holds the subscription table, so subscriptions
 * survive a restart of the bus actor (actor listeners are monitored again
 * by the new actor). opts may be NULL. The caller owns the handle (free it
 * with nact_bus_free). Errors: NACT_ENOMEM, NACT_EINVAL. Any thread. */
NACT_DECL int nact_bus_alloc(nact_bus **bp, nact_system *sys, const nact_bus_opts *opts);

/* Spawn the bus actor for b (it holds a reference to b). Errors:
 * NACT_ESTATE (its actor is alive), spawn errors. Any thread. */
NACT_DECL int nact_bus_start(nact_bus *b);

/* alloc + start. */
NACT_DECL int nact_bus_open(nact_bus **bp, nact_system *sys, const nact_bus_opts *opts);

/* A supervisor child start function (supervisor.h): arg is a nact_bus *
 * from nact_bus_alloc, which must outlive the tree. Each (re)start spawns a
 * new bus actor over the same subscriptions. */
NACT_DECL int nact_bus_child_start(nact_aid *idp, nact_system *sys, void *arg, void *extra);

/* The current bus actor (0 before start). Publish to it from anywhere. */
NACT_DECL nact_aid nact_bus_aid(const nact_bus *b);

/* Drop the caller's reference. Does not stop the actor (stop it with
 * nact_stop, or let the system close): the table is freed when both the
 * caller and the last bus actor let go. Never touches the system, so it
 * may be called before or after nact_system_close. NULL-safe. */
NACT_DECL void nact_bus_free(nact_bus *b);

/* Subscribe. *idp (may be NULL) gets the subscription id, usable with
 * nact_bus_off at once. The subscription is installed by a message to the
 * bus: a later publish from the same thread or actor sees it. Never
 * blocks. Errors: NACT_EINVAL (bad pattern, not exactly one listener, a
 * pipe with a callback), NACT_ENOMEM, NACT_ESTATE (not started), send
 * errors (NACT_EFULL). Any thread, handlers included. */
NACT_DECL int nact_bus_on(nact_bus *b, const nact_bus_sub *s, uint64_t *idp);

/* Shorthands: an actor listener; a callback; a once-callback; a pipe to
 * another bus (pattern NULL = ">"). */
NACT_DECL int nact_bus_on_actor(nact_bus *b, const char *pattern, nact_aid who, uint64_t *idp);
NACT_DECL int nact_bus_on_fn(nact_bus *b, const char *pattern, nact_bus_fn fn, void *arg,
    uint64_t *idp);
NACT_DECL int nact_bus_once_fn(nact_bus *b, const char *pattern, nact_bus_fn fn, void *arg,
    uint64_t *idp);
NACT_DECL int nact_bus_pipe(nact_bus *b, nact_aid to_bus, const char *pattern, uint64_t *idp);

/* Remove a subscription (a message to the bus, or at once if the bus has
 * not installed it yet). Errors: NACT_EINVAL, send errors. Any thread. */
NACT_DECL int nact_bus_off(nact_bus *b, uint64_t id);

/* ---- by actor id (what any actor or thread can do) ---- */

/* Publish: payload is the msgpack bytes of one value (NULL/0 = nil),
 * copied. Never blocks. Errors: NACT_EINVAL (bad topic, reserved topic),
 * NACT_ENOMEM, send errors (NACT_EFULL: the bus's bounded mailbox is full).
 * Any thread, handlers included. */
NACT_DECL int nact_bus_publish(nact_system *sys, nact_aid bus, const char *topic,
    const void *payload, size_t plen);

/* Start a publish message for topic; pack exactly one value with pk, then
 * nact_send it to the bus (the caller owns *mp until sent). Errors:
 * NACT_EINVAL, NACT_ENOMEM. */
NACT_DECL int nact_bus_msg(nact_msg **mp, nact_system *sys, const char *topic, nact_pack *pk);

/* Publish a topic whose payload is one int / one string (shorthands). */
NACT_DECL int nact_bus_publish_int(nact_system *sys, nact_aid bus, const char *topic, int64_t v);
NACT_DECL int nact_bus_publish_str(nact_system *sys, nact_aid bus, const char *topic,
    const char *s);

/* Subscribe an actor by message (no handle needed; no filter/map). Never
 * blocks; the id is not returned (use nact_bus_subscribe_call, or
 * NACT_T_BUS_SUB as a request, to learn it). flags: NACT_BUS_ONCE |
 * NACT_BUS_PIPE. Any thread. */
NACT_DECL int nact_bus_subscribe(nact_system *sys, nact_aid bus, const char *pattern, nact_aid who,
    uint32_t flags);

/* Outside actors only (nact_call): subscribe and get the id; unsubscribe;
 * count listeners for a topic ("" = all); read the stats. Each waits up to
 * timeout_ms. Errors: NACT_ETIMEDOUT, NACT_EDEADLK (from a handler),
 * NACT_ENOENT (bus not alive), the bus's error code. */
NACT_DECL int nact_bus_subscribe_call(nact_system *sys, nact_aid bus, const char *pattern,
    nact_aid who, uint32_t flags, uint64_t *idp, int timeout_ms);
NACT_DECL int nact_bus_unsubscribe_call(nact_system *sys, nact_aid bus, uint64_t id, int *removedp,
    int timeout_ms);
NACT_DECL int nact_bus_count(nact_system *sys, nact_aid bus, const char *topic, uint64_t *np,
    int timeout_ms);
NACT_DECL int nact_bus_stats_get(nact_system *sys, nact_aid bus, nact_bus_stats *st,
    int timeout_ms);

/* ---- helpers ---- */

/* Read a NACT_T_EVENT message: topic (not NUL-terminated, tlen bytes) and
 * the payload's msgpack bytes, both borrowed from m. Errors: NACT_EINVAL
 * (not an event), NACT_EBADMSG (body is not [str, value]). */
NACT_DECL int nact_event_read(const nact_msg *m, const char **topic, size_t *tlen,
    const void **payload, size_t *plen);

/* 1 if pattern matches topic (the rules above), 0 if not, -1 if either is
 * invalid. Pure; for tests and clients. */
NACT_DECL int nact_bus_match(const char *pattern, const char *topic);

#ifdef __cplusplus
}
#endif
#endif
