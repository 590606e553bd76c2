/*
 * nactor/mailbox.h — messages: the envelope, its wire header, and msgpack
 * bodies.
 *
 * A message (nact_msg) is an envelope that owns one nng_msg. The nng_msg
 * body holds, in order, a fixed 48-byte header (NACT_HDR_SIZE) and a msgpack
 * body. Those bytes are exactly what a node-to-node transport writes on the
 * wire; local delivery hands the same envelope to the receiver's mailbox with
 * no copy and no re-encoding. Header layout (all fields little-endian):
 *
 *   off size field
 *     0    1 magic      0xA7
 *     1    1 version    1
 *     2    2 flags      NACT_MF_*
 *     4    4 type       message type tag (user tags < NACT_T_SYSTEM)
 *     8    8 target     receiving actor id
 *    16    8 sender     sending actor id (0 from a non-actor thread)
 *    24    8 corr       correlation id (request/reply), 0 if none
 *    32    8 opid       operation id (registry), 0 if none
 *    40    8 deadline   absolute time on the system clock in ns, 0 = none
 *
 * Envelopes come from per-thread pools owned by the system and return to
 * them: allocating and freeing a message on the hot path does not call
 * malloc. The same applies to the nng_msg inside, which is recycled with
 * its envelope.
 *
 * Ownership: nact_msg_alloc gives the caller a message; a successful send
 * hands it to the runtime; a failed send leaves it with the caller. The
 * runtime frees a delivered message after the handler returns unless the
 * handler forwards it or takes its nng_msg (nact_msg_take).
 */
#ifndef NACTOR_MAILBOX_H
#define NACTOR_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

#include <nactor/error.h>
#include <nactor/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nact_system nact_system;
typedef struct nact_msg nact_msg;

/* An actor id. Wrapped in a struct so it cannot be mixed up with an
 * integer; v == 0 is "no actor". The top 16 bits name the node (0 = local). */
typedef struct nact_aid {
	uint64_t v;
} nact_aid;

#define NACT_AID_NONE ((nact_aid){0})

#define NACT_HDR_SIZE 48
#define NACT_HDR_MAGIC 0xA7
#define NACT_HDR_VERSION 1

/* Header flags. */
#define NACT_MF_REQUEST 0x0001u /* sender expects a reply (corr set) */
#define NACT_MF_REPLY 0x0002u   /* answer to the request with corr */
#define NACT_MF_CONTROL 0x0004u /* control lane: never bounded or dropped */

/* Type tags at or above NACT_T_SYSTEM are reserved for the runtime, in
 * ranges by owner (each defined in its header):
 *   0xFFFF0000-0xFFFF00FF  core runtime, supervision, isolation (actor.h,
 *                          supervisor.h)
 *   0xFFFF0100-0xFFFF01FF  event bus (bus.h); NACT_T_EVENT below
 *   0xFFFF0200-0xFFFF02FF  caches (cache.h)
 *   0xFFFF0300-0xFFFF03FF  pipelines (pipeline.h)
 *   0xFFFF0400-0xFFFF04FF  limiters and executors (limit.h)
 *   0xFFFF0500-0xFFFF05FF  monitors, metrics, the log actor (monitor.h, logger.h)
 *   0xFFFF0600-0xFFFF06FF  operations and cancellation (registry.h)
 *   0xFFFF0700-0xFFFF07FF  node transport (node.h)
 *   0xFFFF0800-0xFFFF08FF  the error reply (NACT_T_ERROR below)
 */
#define NACT_T_SYSTEM 0xFFFF0000u
#define NACT_T_STOP 0xFFFF0001u        /* control: stop the actor */
#define NACT_T_TIMEOUT 0xFFFF0002u     /* receive timeout fired */
#define NACT_T_DEADLETTER 0xFFFF0003u  /* dead-letter report (see actor.h) */
#define NACT_T_REQ_TIMEOUT 0xFFFF0004u /* internal: request timer */
/* An event from the bus delivered to an actor listener; body: the msgpack
 * array [topic (str), payload (any msgpack value)]. */
#define NACT_T_EVENT 0xFFFF0100u
/* The error reply any capability actor sends to a request it cannot serve
 * (NACT_EBADMSG for a message it does not understand); body: the msgpack
 * array [code (int, a NACT_E* value), message (str)]. */
#define NACT_T_ERROR 0xFFFF0800u

/* Allocate a message of the given type from the calling thread's pool.
 * The header is initialised (target, sender, corr, opid, deadline zero);
 * the body is empty. Errors: NACT_ENOMEM, NACT_EINVAL. Any thread. */
NACT_DECL int nact_msg_alloc(nact_msg **mp, nact_system *sys, uint32_t type);

/* Return a message to the pool. NULL-safe. Any thread. */
NACT_DECL void nact_msg_free(nact_msg *m);

/* Wrap an nng_msg that already carries a valid NACT header (for instance one
 * received from a socket). On success the envelope owns nm; on failure the
 * caller still does. Errors: NACT_EMALFORMED (short or bad header), NACT_ENOMEM. */
NACT_DECL int nact_msg_wrap(nact_msg **mp, nact_system *sys, nng_msg *nm);

/* Detach the nng_msg from m, leaving m empty (still freed by its owner).
 * The caller owns the returned nng_msg. Used by a handler that keeps a
 * delivered message beyond its return. */
NACT_DECL nng_msg *nact_msg_take(nact_msg *m);

/* The nng_msg inside m, borrowed: valid while m is. Its body is the wire
 * bytes (header + msgpack). */
NACT_DECL nng_msg *nact_msg_nng(nact_msg *m);

/* Header accessors. Cheap: they read the header bytes in place. */
NACT_DECL uint32_t nact_msg_type(const nact_msg *m);
NACT_DECL uint16_t nact_msg_flags(const nact_msg *m);
NACT_DECL nact_aid nact_msg_target(const nact_msg *m);
NACT_DECL nact_aid nact_msg_sender(const nact_msg *m);
NACT_DECL uint64_t nact_msg_corr(const nact_msg *m);
NACT_DECL uint64_t nact_msg_opid(const nact_msg *m);
NACT_DECL uint64_t nact_msg_deadline(const nact_msg *m);
NACT_DECL void nact_msg_set_type(nact_msg *m, uint32_t type);
NACT_DECL void nact_msg_set_opid(nact_msg *m, uint64_t opid);
/* Absolute deadline in ns on the system clock (nact_now); 0 clears it. A
 * message whose deadline has passed is not handed to a handler: it becomes
 * a dead letter with reason "expired". */
NACT_DECL void nact_msg_set_deadline(nact_msg *m, uint64_t deadline_ns);

/* The msgpack body (after the header), borrowed; *len gets its size. */
NACT_DECL const void *nact_msg_body(const nact_msg *m, size_t *len);

/* Check that bytes are a well-formed envelope: magic, version, length.
 * Returns 0 or NACT_EMALFORMED. */
NACT_DECL int nact_hdr_check(const void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Packing: a msgpack_packer that appends to the message body.          */
/*
 *   nact_pack pk;
 *   nact_pack_init(&pk, m);
 *   msgpack_pack_array(&pk.pk, 2);     // any msgpack-c pack call works
 *   nact_pack_str(&pk, "hello");       // or the short helpers
 *   nact_pack_int(&pk, 42);
 *   if (nact_pack_error(&pk)) ...      // NACT_ENOMEM if an append failed
 */
typedef struct nact_pack {
	msgpack_packer pk; /* pass &pk.pk to any msgpack_pack_* call */
	nng_msg *nm;       /* the body being appended to (borrowed) */
	int err;           /* first append error, sticky */
} nact_pack;

NACT_DECL void nact_pack_init(nact_pack *p, nact_msg *m);
NACT_DECL int nact_pack_error(const nact_pack *p);
NACT_DECL void nact_pack_int(nact_pack *p, int64_t v);
NACT_DECL void nact_pack_uint(nact_pack *p, uint64_t v);
NACT_DECL void nact_pack_double(nact_pack *p, double v);
NACT_DECL void nact_pack_bool(nact_pack *p, int v);
NACT_DECL void nact_pack_nil(nact_pack *p);
NACT_DECL void nact_pack_str(nact_pack *p, const char *s); /* NUL-terminated */
NACT_DECL void nact_pack_strn(nact_pack *p, const char *s, size_t n);
NACT_DECL void nact_pack_bin(nact_pack *p, const void *b, size_t n);
NACT_DECL void nact_pack_array(nact_pack *p, uint32_t n);
NACT_DECL void nact_pack_map(nact_pack *p, uint32_t n);

/* ------------------------------------------------------------------ */
/* Reading: a cursor over the values of a body, decoded with msgpack-c.  */
/*
 * nact_reader_init validates the whole body against the limits first
 * (size, nesting depth, element counts, truncation), so no later read can
 * run past the buffer or allocate an attacker-chosen amount. Each read
 * returns 0, or an error and leaves the cursor where it was:
 *   NACT_ETYPE   the next value has another type
 *   NACT_ERANGE  it does not fit the C type
 *   NACT_EEOF    no more values at this level
 * Strings and bins point into the message body (no copy): valid while the
 * message is. A reader lives on the caller's stack; call nact_reader_fini.
 *
 *   nact_reader r;
 *   int64_t n; const char *s; size_t sl; uint32_t cnt;
 *   if ((rv = nact_reader_init(&r, m, NULL)) != 0) return rv;
 *   rv = nact_read_array(&r, &cnt);          // enter an array
 *   if (rv == 0) rv = nact_read_str(&r, &s, &sl);
 *   if (rv == 0) rv = nact_read_int(&r, &n);
 *   nact_reader_fini(&r);
 */
typedef struct nact_limits {
	size_t max_body;    /* bytes; default 16 MiB */
	uint32_t max_depth; /* nesting of arrays/maps; default 32 */
	uint32_t max_elems; /* per array/map (a map counts 2 per pair); default 1M */
	uint32_t max_total; /* values in the whole body; default 4M */
} nact_limits;

#define NACT_READER_DEPTH 32

typedef struct nact_reader {
	const char *buf;    /* body bytes (borrowed) */
	size_t len;         /* body length */
	size_t off;         /* next top-level value */
	msgpack_zone *zone; /* created on demand for containers */
	msgpack_object top; /* current top-level container, if entered */
	uint32_t depth;     /* number of open containers */
	struct {
		const msgpack_object *elems; /* array elems, or map kv pairs */
		uint32_t n;                  /* values in this container */
		uint32_t i;                  /* next value */
		int is_map;                  /* map: values alternate key, value */
	} st[NACT_READER_DEPTH];
} nact_reader;

/* The default limits (a copy). */
NACT_DECL nact_limits nact_limits_default(void);
/* Check bytes against limits without decoding. 0, NACT_ETRUNC,
 * NACT_EMALFORMED or NACT_ELIMIT. lim NULL = defaults. */
NACT_DECL int nact_msgpack_validate(const void *buf, size_t len, const nact_limits *lim);

NACT_DECL int nact_reader_init(nact_reader *r, const nact_msg *m, const nact_limits *lim);
NACT_DECL int nact_reader_init_buf(nact_reader *r, const void *buf, size_t len,
    const nact_limits *lim);
NACT_DECL void nact_reader_fini(nact_reader *r);
/* Read the next value as a raw msgpack_object (borrowed from the reader). */
NACT_DECL int nact_read_object(nact_reader *r, msgpack_object *o);
NACT_DECL int nact_read_int(nact_reader *r, int64_t *v);
NACT_DECL int nact_read_uint(nact_reader *r, uint64_t *v);
NACT_DECL int nact_read_double(nact_reader *r, double *v); /* ints convert */
NACT_DECL int nact_read_bool(nact_reader *r, int *v);
NACT_DECL int nact_read_nil(nact_reader *r);
NACT_DECL int nact_read_str(nact_reader *r, const char **s, size_t *n);
NACT_DECL int nact_read_bin(nact_reader *r, const void **b, size_t *n);
/* Enter an array or map: later reads return its elements (for a map: key,
 * value, key, value...) until NACT_EEOF; nact_read_leave goes back out
 * (skipping what is unread). */
NACT_DECL int nact_read_array(nact_reader *r, uint32_t *n);
NACT_DECL int nact_read_map(nact_reader *r, uint32_t *npairs);
NACT_DECL int nact_read_leave(nact_reader *r);
/* 1 if no values remain at the current level, else 0. */
NACT_DECL int nact_read_done(const nact_reader *r);

#ifdef __cplusplus
}
#endif
#endif
