/*
 * actors/deadletter.c — messages that could not be delivered.
 *
 * Every undeliverable message is counted per reason and, when someone
 * subscribed, reported as a NACT_T_DEADLETTER message carrying a msgpack
 * map with the original header fields and body bytes. A report that cannot
 * be delivered itself is only counted (no report of a report), so a dead
 * subscriber cannot start a loop.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/internal.h"

static const char *const reasons[NACT_DL_NREASONS] = {"unknown", "dead", "stopped", "dropped",
    "expired", "late", "crashed"};

const char *nact_dl_reason_str(int reason)
{
	if (reason < 0 || reason >= NACT_DL_NREASONS)
		return "invalid";
	return reasons[reason];
}

uint64_t nact_deadletters(nact_system *sys, int reason)
{
	if (sys == NULL)
		return 0;
	if (reason >= 0 && reason < NACT_DL_NREASONS)
		return atomic_load_explicit(&sys->dl[reason], memory_order_relaxed);
	uint64_t n = 0;
	for (int i = 0; i < NACT_DL_NREASONS; i++)
		n += atomic_load_explicit(&sys->dl[i], memory_order_relaxed);
	return n;
}

static nact_msg *report(nact_system *sys, nact_msg *m, int reason)
{
	nact_msg *r;
	if (nact_msg_alloc(&r, sys, NACT_T_DEADLETTER) != 0)
		return NULL;
	size_t blen;
	const void *body = nact_msg_body(m, &blen);
	nact_pack pk;
	nact_pack_init(&pk, r);
	nact_pack_map(&pk, 6);
	nact_pack_str(&pk, "reason");
	nact_pack_str(&pk, nact_dl_reason_str(reason));
	nact_pack_str(&pk, "target");
	nact_pack_uint(&pk, nact_msg_target(m).v);
	nact_pack_str(&pk, "sender");
	nact_pack_uint(&pk, nact_msg_sender(m).v);
	nact_pack_str(&pk, "type");
	nact_pack_uint(&pk, nact_msg_type(m));
	nact_pack_str(&pk, "corr");
	nact_pack_uint(&pk, nact_msg_corr(m));
	nact_pack_str(&pk, "body");
	nact_pack_bin(&pk, body, blen);
	if (nact_pack_error(&pk) != 0) {
		nact_msg_free(r);
		return NULL;
	}
	return r;
}

void nacti_deadletter(nact_system *sys, nact_msg *m, int reason)
{
	atomic_fetch_add_explicit(&sys->dl[reason], 1, memory_order_relaxed);
	uint32_t type = nact_msg_type(m);
	NACTI_DEBUG(sys, "dead letter (%s): type %#x to %#llx from %#llx",
	    nact_dl_reason_str(reason), type, (unsigned long long)nact_msg_target(m).v,
	    (unsigned long long)nact_msg_sender(m).v);
	if (type != NACT_T_DEADLETTER &&
	    atomic_load_explicit(&sys->ndlsubs_pub, memory_order_acquire) > 0) {
		nact_aid subs[16];
		uint32_t n;
		nng_mtx_lock(sys->dlmtx);
		n = sys->ndlsubs < 16 ? sys->ndlsubs : 16;
		memcpy(subs, sys->dlsubs, n * sizeof(subs[0]));
		nng_mtx_unlock(sys->dlmtx);
		for (uint32_t i = 0; i < n; i++) {
			nact_msg *r = report(sys, m, reason);
			if (r == NULL)
				break;
			nacti_put64(nacti_hdr(r) + NACTI_OFF_SENDER, 0);
			/* A report to a dead subscriber becomes a dead letter of
			 * type NACT_T_DEADLETTER, which is counted, not reported. */
			nacti_deliver(sys, subs[i], r, 0, 0);
		}
	}
	nacti_env_put(m);
}

int nact_deadletter_subscribe(nact_system *sys, nact_aid who)
{
	if (sys == NULL || who.v == 0)
		return NACT_EINVAL;
	nng_mtx_lock(sys->dlmtx);
	for (uint32_t i = 0; i < sys->ndlsubs; i++) {
		if (sys->dlsubs[i].v == who.v) {
			nng_mtx_unlock(sys->dlmtx);
			return NACT_EEXIST;
		}
	}
	if (sys->ndlsubs >= 16) {
		nng_mtx_unlock(sys->dlmtx);
		return NACT_EFULL;
	}
	nact_aid *n = realloc(sys->dlsubs, (sys->ndlsubs + 1) * sizeof(*n));
	if (n == NULL) {
		nng_mtx_unlock(sys->dlmtx);
		return NACT_ENOMEM;
	}
	sys->dlsubs = n;
	sys->dlsubs[sys->ndlsubs++] = who;
	atomic_store_explicit(&sys->ndlsubs_pub, sys->ndlsubs, memory_order_release);
	nng_mtx_unlock(sys->dlmtx);
	return 0;
}

int nact_deadletter_unsubscribe(nact_system *sys, nact_aid who)
{
	if (sys == NULL)
		return NACT_EINVAL;
	int rv = NACT_ENOENT;
	nng_mtx_lock(sys->dlmtx);
	for (uint32_t i = 0; i < sys->ndlsubs; i++) {
		if (sys->dlsubs[i].v == who.v) {
			sys->dlsubs[i] = sys->dlsubs[--sys->ndlsubs];
			rv = 0;
			break;
		}
	}
	atomic_store_explicit(&sys->ndlsubs_pub, sys->ndlsubs, memory_order_release);
	nng_mtx_unlock(sys->dlmtx);
	return rv;
}

void nacti_deadletters_fini(nact_system *sys)
{
	free(sys->dlsubs);
	sys->dlsubs = NULL;
	sys->ndlsubs = 0;
}
