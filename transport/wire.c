/*
 * transport/wire.c — encode and decode the 48-byte envelope header.
 *
 * The layout is fixed little-endian (docs/wire-format.md), so the bytes a
 * local mailbox holds are the bytes a node puts on the wire.
 */
#include <nactor/mailbox.h>
#include <nactor/transport.h>

#include "mailbox/envelope.h"

void nact_hdr_encode(const nact_hdr *h, void *buf)
{
	uint8_t *p = buf;
	p[0] = NACT_HDR_MAGIC;
	p[1] = NACT_HDR_VERSION;
	nacti_put16(p + NACTI_OFF_FLAGS, h->flags);
	nacti_put32(p + NACTI_OFF_TYPE, h->type);
	nacti_put64(p + NACTI_OFF_TARGET, h->target);
	nacti_put64(p + NACTI_OFF_SENDER, h->sender);
	nacti_put64(p + NACTI_OFF_CORR, h->corr);
	nacti_put64(p + NACTI_OFF_OPID, h->opid);
	nacti_put64(p + NACTI_OFF_DEADLINE, h->deadline);
}

int nact_hdr_check(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (buf == NULL || len < NACT_HDR_SIZE || p[0] != NACT_HDR_MAGIC ||
	    p[1] != NACT_HDR_VERSION)
		return NACT_EMALFORMED;
	return 0;
}

int nact_hdr_decode(nact_hdr *h, const void *buf, size_t len)
{
	int rv = nact_hdr_check(buf, len);
	if (rv != 0)
		return rv;
	const uint8_t *p = buf;
	h->flags = nacti_le16(p + NACTI_OFF_FLAGS);
	h->type = nacti_le32(p + NACTI_OFF_TYPE);
	h->target = nacti_le64(p + NACTI_OFF_TARGET);
	h->sender = nacti_le64(p + NACTI_OFF_SENDER);
	h->corr = nacti_le64(p + NACTI_OFF_CORR);
	h->opid = nacti_le64(p + NACTI_OFF_OPID);
	h->deadline = nacti_le64(p + NACTI_OFF_DEADLINE);
	return 0;
}
