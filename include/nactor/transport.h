/*
 * nactor/transport.h — the wire format of an envelope header.
 *
 * The 48-byte header described in mailbox.h is the same on the local path
 * and on the wire; these calls encode and decode it explicitly (fixed
 * little-endian layout, independent of the host). docs/wire-format.md has
 * the byte-level description. Node-to-node transport builds on this.
 */
#ifndef NACTOR_TRANSPORT_H
#define NACTOR_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nact_hdr {
	uint16_t flags;    /* NACT_MF_* */
	uint32_t type;     /* message type tag */
	uint64_t target;   /* receiving actor id */
	uint64_t sender;   /* sending actor id, 0 = none */
	uint64_t corr;     /* correlation id, 0 = none */
	uint64_t opid;     /* operation id, 0 = none */
	uint64_t deadline; /* absolute ns on the sender's system clock, 0 = none */
} nact_hdr;

/* Write h as NACT_HDR_SIZE bytes (magic and version included) into buf. */
NACT_DECL void nact_hdr_encode(const nact_hdr *h, void *buf);
/* Decode the first NACT_HDR_SIZE bytes of buf. 0, or NACT_EMALFORMED when
 * len is short or the magic/version is wrong. */
NACT_DECL int nact_hdr_decode(nact_hdr *h, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
