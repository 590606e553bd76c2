/*
 * tests/rawpeer.h — a raw peer for the node tests: an nng pair1 socket that
 * speaks the node handshake (docs/wire.md) by hand, as node "raw" on an
 * insecure node, then sends whatever frames a test wants, good or bad.
 * Needs testutil.h first (nt_slow).
 */
#ifndef NACT_TESTS_RAWPEER_H
#define NACT_TESTS_RAWPEER_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

/* ---- a raw peer: a pair1 socket that speaks the handshake itself ---- */

struct raw {
	nng_socket s;
	_Atomic int closed;
};

static inline void raw_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct raw *r = arg;
	(void)p;
	if (ev == NNG_PIPE_EV_REM_POST)
		atomic_store(&r->closed, 1);
}

static inline int raw_send(struct raw *r, const void *b, size_t len)
{
	nng_msg *m;
	if (nng_msg_alloc(&m, 0) != 0)
		return -1;
	nng_msg_append(m, b, len);
	if (nng_sendmsg(r->s, m, 0) != 0) {
		nng_msg_free(m);
		return -1;
	}
	return 0;
}

/* Receive a frame: its kind in *kind; with lport, the lane port a
 * CHALLENGE offers (its 6th element, a msgpack uint16: 0xcd hi lo), or 0. */
static inline int raw_recv_port(struct raw *r, uint8_t *kind, uint16_t *lport)
{
	nng_msg *m;
	if (nng_recvmsg(r->s, &m, 0) != 0)
		return -1;
	const uint8_t *b = nng_msg_body(m);
	size_t len = nng_msg_len(m);
	int ok = len >= 4;
	if (ok)
		*kind = b[2];
	if (ok && lport != NULL)
		*lport = len > 8 && b[4] == 0x96 && b[len - 3] == 0xcd ?
		    (uint16_t)(b[len - 2] << 8 | b[len - 1]) :
		    0;
	nng_msg_free(m);
	return ok ? 0 : -1;
}

static inline int raw_recv(struct raw *r, uint8_t *kind)
{
	return raw_recv_port(r, kind, NULL);
}

/* Connect to url; with hs, do the insecure handshake as node "raw" with
 * capabilities caps (2 = batch; | 0x10 = can use a lane) and the nonce
 * 32 x 7 (connection id 0x0707070707070707). *lport (if not NULL): the
 * lane port the node offered, 0 = none. */
static inline int raw_open_caps(struct raw *r, const char *url, int hs, uint8_t caps,
    uint16_t *lport)
{
	atomic_store(&r->closed, 0);
	if (nng_pair1_open(&r->s) != 0)
		return -1;
	nng_socket_set_ms(r->s, NNG_OPT_RECVTIMEO, (nng_duration)nt_slow(5000));
	nng_socket_set_ms(r->s, NNG_OPT_SENDTIMEO, (nng_duration)nt_slow(5000));
	nng_pipe_notify(r->s, NNG_PIPE_EV_REM_POST, raw_pipe_cb, r);
	/* no redial between the node closing us and nng_close (a dial in
	 * progress at close can leave nng's dialer objects unreclaimed) */
	nng_socket_set_ms(r->s, NNG_OPT_RECONNMINT, 600000);
	nng_socket_set_ms(r->s, NNG_OPT_RECONNMAXT, 600000);
	if (nng_dial(r->s, url, NULL, 0) != 0)
		return -1;
	if (!hs)
		return 0;
	/* HELLO [1, 1, "raw", caps, nonce, ""] */
	uint8_t h[128] = {0xA8, 1, 1, 0};
	size_t n = 4;
	h[n++] = 0x96;
	h[n++] = 1;
	h[n++] = 1;
	h[n++] = 0xa3;
	memcpy(h + n, "raw", 3);
	n += 3;
	h[n++] = caps;
	h[n++] = 0xc4;
	h[n++] = 32;
	memset(h + n, 7, 32);
	n += 32;
	h[n++] = 0xa0;
	uint8_t k = 0;
	if (raw_send(r, h, n) != 0 || raw_recv_port(r, &k, lport) != 0 || k != 2)
		return -1;
	uint8_t a[] = {0xA8, 1, 3, 0, 0x91, 0xc4, 0};
	if (raw_send(r, a, sizeof(a)) != 0 || raw_recv(r, &k) != 0 || k != 4)
		return -1;
	return 0;
}

static inline int raw_open(struct raw *r, const char *url, int hs)
{
	return raw_open_caps(r, url, hs, 2, NULL);
}

#endif
