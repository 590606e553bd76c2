/*
 * transport/frame.c — the DATA frame decoder of the node transport
 * (docs/wire.md, "DATA"), free of side effects so that a fuzzer can call
 * it (tests/netsec/fuzz_frame.c). node.c checks a whole frame with
 * nacti_frame_check before it delivers any record of it.
 */
#include <nactor/mailbox.h>
#include <nactor/transport.h>

#include "actors/internal.h"
#include "mailbox/envelope.h"
#include "transport/netsec.h"

#define FR_HDR 4
#define FR_MAGIC 0xA8
#define FR_VER 1
#define K_DATA 16
#define WIRE_YOURS 0xFFFFu

/* One record at *off; NULL and *off advanced, or the fault. full: also
 * validate the msgpack body (nacti_frame_next skips it: already checked). */
static const char *rec_at(const uint8_t *b, size_t len, size_t *off, nacti_rec *r, int full)
{
	size_t o = *off;
	if (len - o < 4)
		return "truncated record length";
	uint32_t rl = nacti_le32(b + o);
	o += 4;
	if (rl < NACT_HDR_SIZE || rl > len - o)
		return "record length out of range";
	const uint8_t *e = b + o;
	if (nact_hdr_check(e, rl) != 0)
		return "bad envelope header";
	r->env = e;
	r->len = rl;
	r->target = nacti_le64(e + NACTI_OFF_TARGET);
	r->sender = nacti_le64(e + NACTI_OFF_SENDER);
	r->type = nacti_le32(e + NACTI_OFF_TYPE);
	r->flags = nacti_le16(e + NACTI_OFF_FLAGS);
	uint16_t sn = NACTI_ID_NODE(r->sender);
	if (r->target == 0 || NACTI_ID_NODE(r->target) != 0 || (r->flags & NACTI_MF_COUNTED) ||
	    (sn != 0 && sn != WIRE_YOURS))
		return "bad envelope target or flags";
	if (full && nact_msgpack_validate(e + NACT_HDR_SIZE, rl - NACT_HDR_SIZE, NULL) != 0)
		return "bad msgpack body";
	*off = o + rl;
	return NULL;
}

const char *nacti_frame_check(const uint8_t *b, size_t len, uint32_t *nrec)
{
	*nrec = 0;
	if (b == NULL || len < FR_HDR || b[0] != FR_MAGIC)
		return "garbage";
	if (b[1] != FR_VER)
		return "unknown frame version";
	if (b[2] != K_DATA)
		return "not a data frame";
	if (len == FR_HDR)
		return "empty data frame";
	size_t off = FR_HDR;
	uint32_t n = 0;
	nacti_rec r;
	while (off < len) {
		const char *bad = rec_at(b, len, &off, &r, 1);
		if (bad != NULL)
			return bad;
		n++;
	}
	*nrec = n;
	return NULL;
}

int nacti_frame_next(const uint8_t *b, size_t len, size_t *off, nacti_rec *r)
{
	if (*off >= len)
		return -1;
	return rec_at(b, len, off, r, 0) == NULL ? 0 : -1;
}
