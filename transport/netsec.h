/*
 * transport/netsec.h — internal helpers of the node transport for TLS
 * (transport/tls.c), the frame decoder (transport/frame.c) and credit flow
 * control (docs/wire.md, "Credit flow control"). Not installed.
 */
#ifndef NACTI_NETSEC_H
#define NACTI_NETSEC_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include <nactor/node.h>

/* ---- TLS (transport/tls.c) ---- */

/* Certificate paths of a node, copied from nact_node_opts. */
struct nacti_tls {
	char *ca_file;   /* PEM CA chain peers must chain to */
	char *cert_file; /* PEM certificate + private key */
	char *key_pass;  /* NULL: key not encrypted */
	int verify_optional;
};

/* 1 if url is a TLS URL (tls+tcp://, tls+tcp4://, tls+tcp6://). */
int nacti_tls_url(const char *url);

/* Check the TLS options of o and copy them into *tp (NULL when o names no
 * certificate). Errors: NACT_EINVAL (a tls+ URL without certificates,
 * certificates that nng cannot load, tls_only with a non-TLS URL or with a
 * secret), NACT_ENOMEM. Logs the reason. Owner: the caller frees with
 * nacti_tls_free. */
int nacti_tls_init(nact_system *sys, const nact_node_opts *o, struct nacti_tls **tp);
void nacti_tls_free(struct nacti_tls *t);

/* nng_listen / nng_dial that attach a fresh TLS configuration (server mode;
 * client mode with the server name taken from url's host) when url is a
 * TLS URL; plain nng_listen / nng_dial otherwise. t may be NULL (then a
 * TLS URL fails with NNG_EINVAL). Return nng error codes. */
int nacti_tls_listen(struct nacti_tls *t, nng_socket s, const char *url, nng_listener *lp);
int nacti_tls_dial(struct nacti_tls *t, nng_socket s, const char *url, nng_dialer *dp, int flags);

/* ---- DATA frame decoding (transport/frame.c) ---- */

/* One envelope record of a DATA frame, pointing into the frame. */
typedef struct nacti_rec {
	const uint8_t *env; /* 48-byte header + msgpack body */
	uint32_t len;
	uint64_t target; /* as on the wire (node bits 0) */
	uint64_t sender; /* as on the wire */
	uint32_t type;
	uint16_t flags;
} nacti_rec;

/* Validate a whole DATA frame (4-byte frame header included) without side
 * effects: every record must pass the checks of docs/wire.md ("DATA").
 * Returns NULL and sets *nrec to the number of records when the frame is
 * good, else a static string naming the first fault. Threads: any (pure). */
const char *nacti_frame_check(const uint8_t *b, size_t len, uint32_t *nrec);

/* Record i-th at *off (start: off = 4) of a frame nacti_frame_check
 * accepted; advances *off. Returns 0, or -1 past the last record. */
int nacti_frame_next(const uint8_t *b, size_t len, size_t *off, nacti_rec *r);

#endif

/* ---- credit flow control, receiving side (transport/credit.c) ---- */

/* A node's inboxes and their delivery thread ("pump"). A DATA frame from
 * a peer that speaks credits is checked (nacti_frame_check), pushed on
 * that peer's inbox, and delivered in order: in place by the pushing
 * thread when nothing is queued, else by the pump; a record whose
 * target mailbox is full (NACT_EFULL) stays at the head of its inbox and
 * is retried every NACTI_PUMP_RETRY_MS, so nothing accepted is dropped and
 * the peer's FIFO order holds. A frame's bytes are granted back to the
 * sender once all its records left the inbox. */
#define NACTI_PUMP_RETRY_MS 2

struct nacti_credit;
struct nacti_inq;

/* Deliver one record from `peer` (a node.c struct peer). retry = 1: the
 * pump will retry on NACT_EFULL; returns 0 (consumed: delivered or
 * dropped) or NACT_EFULL (keep it, retry later). */
typedef int (*nacti_deliver_fn)(void *node, void *peer, const nacti_rec *r, int retry);
/* The inbox of `peer` consumed more bytes: time to send a CREDIT. */
typedef void (*nacti_grant_fn)(void *node, void *peer);

/* Start the pump thread. Errors: NACT_ENOMEM, NACT_ESYSERR. */
int nacti_credit_start(struct nacti_credit **cp, void *node, nacti_deliver_fn deliver,
    nacti_grant_fn grant);
/* Stop the pump thread (waits for it), no more deliveries. Idempotent. */
void nacti_credit_stop(struct nacti_credit *c);
/* Stop, then free every inbox and queued frame. NULL-safe. */
void nacti_credit_free(struct nacti_credit *c);

/* A new inbox for peer (owned by c, freed by nacti_credit_free). NULL on
 * ENOMEM. */
struct nacti_inq *nacti_inq_new(struct nacti_credit *c, void *peer);
/* A new authenticated connection from the peer: from now on frames count
 * against connection id cid and a window of `window` bytes; frames of an
 * older connection still queued are delivered but no longer counted. */
void nacti_inq_reset(struct nacti_inq *q, uint64_t cid, uint64_t window);
/* Queue a checked DATA frame that arrived on connection cid (takes m on
 * success). NACT_ELIMIT: the peer exceeded its window (a protocol
 * violation: close the connection), NACT_ENOMEM; the caller still owns m
 * on error. */
int nacti_inq_push(struct nacti_inq *q, nng_msg *m, uint64_t cid);
/* The state a CREDIT frame carries: connection id (0 = none yet), window,
 * bytes consumed on that connection. */
void nacti_inq_state(struct nacti_inq *q, uint64_t *cid, uint64_t *window, uint64_t *consumed);
/* Bytes queued in q (all connections). */
size_t nacti_inq_bytes(struct nacti_inq *q);
