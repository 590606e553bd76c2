/*
 * transport/swim.h — SWIM membership and failure detection as a pure state
 * machine (internal: the node transport drives it; not installed).
 *
 * DESIGN
 * One nacti_swim is one member's view of the cluster (Das, Gupta, Motivala:
 * "SWIM", DSN 2002), with cheap refinements in the spirit of Lifeguard
 * (Dadgar et al. 2018): a suspect is told directly and pinged by those who
 * suspect it, so its refutation reaches them even on a lossy network; and
 * a periodic push-pull state sync (as in HashiCorp's memberlist) that
 * makes mass joins and partition heals converge.
 *
 * The module reads no clock, starts no thread, never sleeps and does no I/O.
 * The caller feeds it three kinds of input, each with the current time in
 * nanoseconds on any monotonic clock of its choice:
 *   nacti_swim_tick(s, now)             time passed (call it at or after
 *                                       nacti_swim_next_deadline(s))
 *   nacti_swim_receive(s, buf, len, from, now)  bytes a peer sent us
 *   nacti_swim_join / nacti_swim_leave  local requests
 * and gets two kinds of output, through callbacks given at open, called
 * synchronously from inside those calls:
 *   send(arg, name, addr, buf, len)     deliver these bytes to that member
 *   event(arg, ev, member)              membership changed
 * All randomness comes from a PRNG seeded by the config, so a run is
 * reproducible given the same inputs.
 *
 * Members are identified by name (1..64 bytes, no NUL); each has an address
 * (1..255 bytes, an opaque string such as a URL: this module never parses
 * it) and an incarnation number that only the member itself increases, to
 * refute a suspicion of itself or to come back after being declared down.
 *
 * The wire format, the protocol parameters and the detection bound are in
 * docs/swim.md.
 *
 * OWNERSHIP
 * The caller owns the nacti_swim (nacti_swim_close frees it). Strings and
 * arrays passed in are copied; buffers and members passed to callbacks or
 * returned by queries are borrowed (valid until the next call on the
 * object, or the end of the callback).
 *
 * THREADS
 * None. A nacti_swim is single-threaded: the caller serialises every call on
 * one object (one actor or one thread owns it). Distinct objects are
 * independent. The callbacks may call the query functions (count,
 * member_at, find, live, stats_get) but nothing else on the same object.
 */
#ifndef NACT_TRANSPORT_SWIM_H
#define NACT_TRANSPORT_SWIM_H

#include <stddef.h>
#include <stdint.h>

#define NACTI_SWIM_VERSION 1    /* wire format version (docs/swim.md) */
#define NACTI_SWIM_NAME_MAX 64  /* bytes in a member name, without NUL */
#define NACTI_SWIM_ADDR_MAX 255 /* bytes in a member address, without NUL */
/* Largest incarnation on the wire (2^63 - 1): a refutation adds one, so a
 * peer cannot wrap a member's incarnation around. */
#define NACTI_SWIM_INC_MAX 0x7fffffffffffffffull

typedef struct nacti_swim nacti_swim;

/* A member's state in one member's view. */
typedef enum nacti_swim_state {
	NACTI_SWIM_ALIVE = 0,   /* answering probes */
	NACTI_SWIM_SUSPECT = 1, /* missed a probe; down unless it refutes in time */
	NACTI_SWIM_DOWN = 2,    /* confirmed dead (suspicion timed out) */
	NACTI_SWIM_LEFT = 3     /* left gracefully */
} nacti_swim_state;

/* Membership events. */
typedef enum nacti_swim_event {
	NACTI_SWIM_EV_JOINED = 0,  /* new member, or back after down/left (rejoin) */
	NACTI_SWIM_EV_SUSPECT = 1, /* alive -> suspect */
	NACTI_SWIM_EV_ALIVE = 2,   /* suspect -> alive (it refuted) */
	NACTI_SWIM_EV_DOWN = 3,    /* declared down (failure confirmed) */
	NACTI_SWIM_EV_LEFT = 4     /* left gracefully */
} nacti_swim_event;

/* A view of one member. Strings are borrowed: valid until the next call on
 * the object. */
typedef struct nacti_swim_member {
	const char *name;
	const char *addr;
	uint64_t incarnation;
	nacti_swim_state state;
	int self; /* 1 for the local member */
} nacti_swim_member;

/* Send buf (len bytes, borrowed for the call) to the member name at addr.
 * name is "" when only the address is known (a join to a seed). Delivery is
 * best effort: the protocol tolerates loss, duplication and reordering. */
typedef void (*nacti_swim_send_fn)(void *arg, const char *name, const char *addr, const void *buf,
    size_t len);
/* Membership changed: m is the member after the change (borrowed). */
typedef void (*nacti_swim_event_fn)(void *arg, nacti_swim_event ev, const nacti_swim_member *m);

/*
 * Configuration. Zero fields take the default written beside them; times
 * are nanoseconds. name, addr and send are required.
 */
typedef struct nacti_swim_config {
	const char *name;     /* this member's name (copied) */
	const char *addr;     /* this member's address (copied) */
	uint64_t incarnation; /* starting incarnation: 0; a restarting member may
	                         pass e.g. its start time to rejoin without a
	                         refutation round */
	uint64_t seed;        /* PRNG seed: 0 = derived from the name */

	uint64_t period_ns;            /* protocol period T: 1 s */
	uint64_t ping_timeout_ns;      /* direct ping timeout: T * 3 / 10 (must be < T) */
	uint32_t k;                    /* members asked to probe indirectly: 3 */
	uint32_t suspicion_mult;       /* suspicion timeout = mult * max(1, log10 n) * T: 4 */
	uint32_t lambda;               /* retransmissions = lambda * ceil(log10(n + 1)): 4 */
	uint32_t max_updates;          /* piggybacked updates per message: 8 */
	uint32_t sync_periods;         /* push-pull state sync with a random member
	                             every this many periods: 10 (UINT32_MAX = off) */
	uint32_t reconnect_periods;    /* sync with a random down member every this
	                               many periods (partition heal): 5 */
	uint64_t reconnect_timeout_ns; /* ... for this long after it went down: 1 h */
	uint32_t max_members;          /* table size; members beyond are ignored: 16384 */
	size_t max_msg_bytes;          /* receive limit (bytes): 4 MiB; a sync sends at
	                               most the members that fit */

	nacti_swim_send_fn send; /* required */
	void *send_arg;
	nacti_swim_event_fn event; /* optional */
	void *event_arg;
} nacti_swim_config;

/* Counters (monotonic since open). */
typedef struct nacti_swim_stats {
	uint64_t sent;       /* messages handed to send() */
	uint64_t sent_bytes; /* their bytes */
	uint64_t received;   /* messages accepted */
	uint64_t bad;        /* messages rejected (malformed, version, limits) */
	uint64_t probes;     /* direct probes started */
	uint64_t ping_reqs;  /* indirect probe requests sent */
	uint64_t suspected;  /* times this view marked a member suspect */
	uint64_t refuted;    /* times this member refuted a suspicion of itself */
	uint64_t syncs;      /* push-pull syncs started (joins included) */
	uint64_t ignored;    /* members ignored because the table is full */
} nacti_swim_stats;

/*
 * Create a member at time now (the first protocol period starts then).
 * Errors: NACT_EINVAL (missing name/addr/send, bad lengths, ping timeout >=
 * period, incarnation above NACTI_SWIM_INC_MAX), NACT_ENOMEM. On success *out is owned by the caller: free it with
 * nacti_swim_close. Calls no callback.
 */
int nacti_swim_open(nacti_swim **out, const nacti_swim_config *cfg, uint64_t now);

/* Free everything (NULL-safe). Sends nothing: call nacti_swim_leave first
 * for a graceful leave. */
void nacti_swim_close(nacti_swim *s);

/*
 * Join through seed members known by address only (n addresses, copied):
 * sends each a sync (the seed answers with its member list and
 * disseminates us), and retries every period while no other member is
 * known. Errors: NACT_EINVAL, NACT_ENOMEM, NACT_ESTATE after leave.
 */
int nacti_swim_join(nacti_swim *s, const char *const *addrs, size_t n, uint64_t now);

/*
 * Leave gracefully: mark ourselves left and tell up to k + 1 random alive
 * members, who disseminate it. Afterwards tick and receive do nothing.
 * Errors: NACT_ESTATE if already left.
 */
int nacti_swim_leave(nacti_swim *s, uint64_t now);

/* Time passed: run the protocol (probe, indirect probe, suspicion timeouts,
 * syncs). Harmless to call early or often. */
void nacti_swim_tick(nacti_swim *s, uint64_t now);

/* The earliest time at which nacti_swim_tick has work to do. */
uint64_t nacti_swim_next_deadline(const nacti_swim *s);

/*
 * Bytes received from a peer (borrowed for the call). The sender's identity
 * is read from the message; from_name, if not NULL, is the peer's name as
 * the transport authenticated it, and a message whose sender differs is
 * rejected (NACT_EAUTH). Pass NULL when the connection carries no
 * authenticated name. Decoded with size, depth and count limits; hostile
 * bytes are rejected and counted, never trusted.
 * Returns 0, or NACT_EPROTO (another wire version), NACT_EMALFORMED,
 * NACT_ETRUNC, NACT_ELIMIT, NACT_ETYPE, NACT_ERANGE (bad message, e.g. an
 * incarnation above NACTI_SWIM_INC_MAX), NACT_EEXIST (the sender claims our
 * own name), NACT_EAUTH (not from from_name), NACT_ESTATE (after leave).
 * On any error nothing was applied and nothing sent.
 */
int nacti_swim_receive(nacti_swim *s, const void *buf, size_t len, const char *from_name,
    uint64_t now);

/* Members in the table, the local member included (index 0 is self). */
size_t nacti_swim_count(const nacti_swim *s);
/* Member i (0 <= i < count) into *m. NACT_ENOENT if out of range. */
int nacti_swim_member_at(const nacti_swim *s, size_t i, nacti_swim_member *m);
/* Member by name. NACT_ENOENT if unknown. */
int nacti_swim_find(const nacti_swim *s, const char *name, nacti_swim_member *m);
/* Members currently alive or suspect, self included. */
size_t nacti_swim_live(const nacti_swim *s);
/* The counters. */
void nacti_swim_stats_get(const nacti_swim *s, nacti_swim_stats *st);
/* The parameters in effect (defaults filled in); strings borrowed. */
void nacti_swim_config_get(const nacti_swim *s, nacti_swim_config *cfg);
/* The suspicion timeout in ns for n live members under the current config. */
uint64_t nacti_swim_suspicion_ns(const nacti_swim *s, size_t n);

const char *nacti_swim_state_name(nacti_swim_state st);
const char *nacti_swim_event_name(nacti_swim_event ev);

#endif /* NACT_TRANSPORT_SWIM_H */
