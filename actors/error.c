/* actors/error.c — error strings and exit reasons. */
#include <string.h>

#include <nactor/error.h>
#include <nactor/supervisor.h>
#include <nng/nng.h>

const char *nact_strerror(int err)
{
	switch (err) {
	case NACT_OK:
		return "success";
	case NACT_ENOMEM:
		return "out of memory";
	case NACT_EINVAL:
		return "invalid argument";
	case NACT_ENOENT:
		return "no such actor, name or timer";
	case NACT_EDEAD:
		return "actor is not alive";
	case NACT_EFULL:
		return "mailbox full";
	case NACT_ETIMEDOUT:
		return "timed out";
	case NACT_EDEADLK:
		return "blocking call from inside an actor";
	case NACT_ECLOSED:
		return "system is closing";
	case NACT_EEXIST:
		return "name already registered";
	case NACT_ETYPE:
		return "msgpack value has another type";
	case NACT_ETRUNC:
		return "msgpack body truncated";
	case NACT_EMALFORMED:
		return "malformed message";
	case NACT_ELIMIT:
		return "decode limit exceeded";
	case NACT_ERANGE:
		return "value out of range";
	case NACT_EEOF:
		return "no more values";
	case NACT_EEXPIRED:
		return "deadline expired";
	case NACT_ESTATE:
		return "invalid in the current state";
	case NACT_ENOTSUP:
		return "not supported here";
	case NACT_ERESOURCE:
		return "resource limit exceeded";
	case NACT_ECACHE:
		return "cache error";
	case NACT_EHANDLER:
		return "event handler failed";
	case NACT_ESTAGE:
		return "pipeline stage failed";
	case NACT_EBADMSG:
		return "bad message";
	case NACT_ECANCELED:
		return "operation cancelled";
	case NACT_ECYCLE:
		return "request would close a wait-for cycle";
	case NACT_ELIMITED:
		return "refused by a limiter";
	case NACT_EAUTH:
		return "authentication failed";
	case NACT_EPROTO:
		return "incompatible protocol version";
	case NACT_ENODEDOWN:
		return "node is down";
	default:
		break;
	}
	if (err >= NACT_ETRANERR && err < NACT_ETRANERR + 0x1000000)
		return nng_strerror(err - NACT_ETRANERR);
	if (err > NACT_ESYSERR && err < NACT_ETRANERR)
		return strerror(err - NACT_ESYSERR);
	return "unknown error";
}
