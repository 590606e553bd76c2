/*
 * nactor/error.h — error codes shared by every nactor call.
 *
 * Every fallible call returns an int: 0 on success, one of the NACT_E* codes
 * below otherwise. nact_strerror() turns a code into a static string. Codes
 * from NACT_ESYSERR upward wrap an errno value (NACT_ESYSERR + errno); codes
 * from NACT_ETRANERR upward wrap an nng error (NACT_ETRANERR + nng error).
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
	NACT_ESYSERR = 0x10000000, /* + errno */
	NACT_ETRANERR = 0x20000000 /* + nng error */
};

/* A static, human-readable string for any code; never NULL. Thread-safe. */
NACT_DECL const char *nact_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
