/*
 * mailbox/envelope.c — the public message calls: alloc, free, wrap, take,
 * header accessors.
 *
 * Accessors read and write the header bytes in place inside the nng_msg
 * body; nothing is cached beside them, so the bytes are always what the
 * wire would carry.
 */
#include <nactor/mailbox.h>

#include "actors/internal.h"
#include "mailbox/envelope.h"

int nact_msg_alloc(nact_msg **mp, nact_system *sys, uint32_t type)
{
	if (mp == NULL || sys == NULL)
		return NACT_EINVAL;
	nact_msg *m = nacti_env_get(sys->pool);
	if (m == NULL)
		return NACT_ENOMEM;
	int rv = nacti_env_prepare(m, type);
	if (rv != 0) {
		nacti_env_put(m);
		return rv;
	}
	*mp = m;
	return 0;
}

void nact_msg_free(nact_msg *m)
{
	if (m != NULL)
		nacti_env_put(m);
}

int nact_msg_wrap(nact_msg **mp, nact_system *sys, nng_msg *nm)
{
	if (mp == NULL || sys == NULL || nm == NULL)
		return NACT_EINVAL;
	int rv = nact_hdr_check(nng_msg_body(nm), nng_msg_len(nm));
	if (rv != 0)
		return rv;
	nact_msg *m = nacti_env_get(sys->pool);
	if (m == NULL)
		return NACT_ENOMEM;
	if (m->nm != NULL)
		nng_msg_free(m->nm);
	m->nm = nm;
	*mp = m;
	return 0;
}

nng_msg *nact_msg_take(nact_msg *m)
{
	nng_msg *nm = m->nm;
	m->nm = NULL;
	return nm;
}

nng_msg *nact_msg_nng(nact_msg *m)
{
	return m->nm;
}

uint32_t nact_msg_type(const nact_msg *m)
{
	return nacti_le32(nacti_hdr(m) + NACTI_OFF_TYPE);
}
uint16_t nact_msg_flags(const nact_msg *m)
{
	return nacti_le16(nacti_hdr(m) + NACTI_OFF_FLAGS);
}
nact_aid nact_msg_target(const nact_msg *m)
{
	return (nact_aid){nacti_le64(nacti_hdr(m) + NACTI_OFF_TARGET)};
}
nact_aid nact_msg_sender(const nact_msg *m)
{
	return (nact_aid){nacti_le64(nacti_hdr(m) + NACTI_OFF_SENDER)};
}
uint64_t nact_msg_corr(const nact_msg *m)
{
	return nacti_le64(nacti_hdr(m) + NACTI_OFF_CORR);
}
uint64_t nact_msg_opid(const nact_msg *m)
{
	return nacti_le64(nacti_hdr(m) + NACTI_OFF_OPID);
}
uint64_t nact_msg_deadline(const nact_msg *m)
{
	return nacti_le64(nacti_hdr(m) + NACTI_OFF_DEADLINE);
}
void nact_msg_set_type(nact_msg *m, uint32_t type)
{
	nacti_put32(nacti_hdr(m) + NACTI_OFF_TYPE, type);
}
void nact_msg_set_opid(nact_msg *m, uint64_t opid)
{
	nacti_put64(nacti_hdr(m) + NACTI_OFF_OPID, opid);
}
void nact_msg_set_deadline(nact_msg *m, uint64_t deadline_ns)
{
	nacti_put64(nacti_hdr(m) + NACTI_OFF_DEADLINE, deadline_ns);
}

const void *nact_msg_body(const nact_msg *m, size_t *len)
{
	size_t n = nng_msg_len(m->nm);
	if (len != NULL)
		*len = n > NACT_HDR_SIZE ? n - NACT_HDR_SIZE : 0;
	return (const uint8_t *)nng_msg_body(m->nm) + NACT_HDR_SIZE;
}
