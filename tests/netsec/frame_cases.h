/*
 * tests/netsec/frame_cases.h — DATA frames for the decoder tests: a valid
 * frame builder and the checker both tests use.
 */
#ifndef NACT_TESTS_FRAME_CASES_H
#define NACT_TESTS_FRAME_CASES_H

#include <stdint.h>
#include <string.h>

#include <nactor/mailbox.h>
#include <nactor/transport.h>

#include "transport/netsec.h"

/* Append one record (target, body) to buf at *len; returns 0, -1 if no room. */
static int fc_rec(uint8_t *buf, size_t cap, size_t *len, uint64_t target, uint64_t sender,
    uint16_t flags, const uint8_t *body, size_t bl)
{
	size_t need = 4 + NACT_HDR_SIZE + bl;
	if (*len + need > cap)
		return -1;
	uint8_t *p = buf + *len;
	uint32_t rl = (uint32_t)(NACT_HDR_SIZE + bl);
	p[0] = (uint8_t)rl;
	p[1] = (uint8_t)(rl >> 8);
	p[2] = (uint8_t)(rl >> 16);
	p[3] = (uint8_t)(rl >> 24);
	nact_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = 7;
	h.flags = flags;
	h.target = target;
	h.sender = sender;
	nact_hdr_encode(&h, p + 4);
	if (bl > 0)
		memcpy(p + 4 + NACT_HDR_SIZE, body, bl);
	*len += need;
	return 0;
}

static size_t fc_hdr(uint8_t *buf)
{
	buf[0] = 0xA8;
	buf[1] = 1;
	buf[2] = 16;
	buf[3] = 0;
	return 4;
}

/* Run the decoder over b: check, then walk the records; the walk must
 * agree with the count. Returns 1 accepted, 0 rejected, -1 inconsistent. */
static int fc_decode(const uint8_t *b, size_t len)
{
	uint32_t n;
	const char *bad = nacti_frame_check(b, len, &n);
	if (bad != NULL)
		return n == 0 ? 0 : -1;
	size_t off = 4;
	nacti_rec r;
	uint32_t k = 0;
	while (nacti_frame_next(b, len, &off, &r) == 0) {
		if (r.env < b || r.env + r.len > b + len || r.len < NACT_HDR_SIZE ||
		    (r.target >> 48) != 0 || r.target == 0)
			return -1;
		k++;
	}
	return (k == n && off == len && n > 0) ? 1 : -1;
}

#endif
