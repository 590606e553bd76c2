/*
 * nactor/error.h — error codes shared by every nactor call.
 *
 * Every fallible call returns an int: 0 on success, one of the NACT_E* codes
 * below otherwise. nact_strerror() turns a code into a static string. Codes
 * from NACT_ESYSERR upward wrap an errno value (NACT_ESYSERR + errno); codes
 * from NACT_ETRANERR upward wrap an nng error (NACT_ETRANERR + nng error).
 *
 * The taxonomy is one list for the whole library: the runtime, the
 * registry, the capabilities (caches, bus, pipelines, limiters, monitors,
 * logging) and the node transport all return these codes. An actor that
 * answers requests replies to a bad request with an error reply carrying
 * one of them (NACT_EBADMSG for a message it does not understand).
 */
#ifndef NACTOR_ERROR_H
#define NACTOR_ERROR_H

#include <nactor/export.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nact_err {
	NACT_OK = 0,
	NACT_ENOMEM = 1,           /* out of memory */
	NACT_EINVAL = 2,           /* bad argument */
	NACT_ENOENT = 3,           /* no such actor, name or timer */
	NACT_EDEAD = 4,            /* the actor is not alive */
	NACT_EFULL = 5,            /* bounded mailbox full (fail policy) */
	NACT_ETIMEDOUT = 6,        /* a timeout expired */
	NACT_EDEADLK = 7,          /* a blocking call was made from inside an actor */
	NACT_ECLOSED = 8,          /* the system is shutting down */
	NACT_EEXIST = 9,           /* the name is already registered */
	NACT_ETYPE = 10,           /* msgpack value of another type than asked for */
	NACT_ETRUNC = 11,          /* msgpack body truncated */
	NACT_EMALFORMED = 12,      /* msgpack body malformed, or bad envelope header */
	NACT_ELIMIT = 13,          /* a decode limit (size, depth, count) exceeded */
	NACT_ERANGE = 14,          /* value does not fit the C type asked for */
	NACT_EEOF = 15,            /* no more values in the body or container */
	NACT_EEXPIRED = 16,        /* the message deadline passed before delivery */
	NACT_ESTATE = 17,          /* call not valid in the current state */
	NACT_ENOTSUP = 18,         /* not supported here (e.g. inside an isolated actor) */
	NACT_ERESOURCE = 19,       /* a resource limit was exceeded (entries, bytes,
	                              queue, concurrency) */
	NACT_ECACHE = 20,          /* a cache failed (compute failed, backing cache
	                              unreachable) */
	NACT_EHANDLER = 21,        /* an event handler failed (reported, delivery goes on) */
	NACT_ESTAGE = 22,          /* a pipeline stage failed */
	NACT_EBADMSG = 23,         /* a message an actor does not understand (wrong
	                              type or body): error reply, never a crash */
	NACT_ECANCELED = 24,       /* the operation was cancelled */
	NACT_ECYCLE = 25,          /* a request would close a wait-for cycle */
	NACT_ELIMITED = 26,        /* refused by a rate or concurrency limiter */
	NACT_EAUTH = 27,           /* a peer failed authentication */
	NACT_EPROTO = 28,          /* a peer spoke an incompatible protocol version */
	NACT_ENODEDOWN = 29,       /* the node hosting the actor is down or unreachable */
	NACT_ESYSERR = 0x10000000, /* + errno */
	NACT_ETRANERR = 0x20000000 /* + nng error */
};

/* A static, human-readable string for any code; never NULL. Thread-safe. */
NACT_DECL const char *nact_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
