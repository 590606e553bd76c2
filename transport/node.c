/*
 * transport/node.c — distributed nodes over nng pair1 (docs/wire.md,
 * docs/node.md).
 *
 * Connections are directional: each node listens on one pair1 socket in
 * polyamorous mode (many peers dial it) and, for every peer, keeps one
 * monogamous pair1 socket that dials the peer's advertised listen URL.
 * Data from A to B always travels on A's dialed connection and arrives on
 * B's listener; the listener only ever sends small handshake replies, so
 * pair1-poly's drop-on-full send queue never touches data. nng's dialer
 * does reconnect with exponential backoff.
 *
 * Threads: senders (any thread) append envelopes to the peer's outgoing
 * queue under the peer's lock; while a frame is in flight, later
 * envelopes are batched into the queue's tail frame, and the send aio's
 * callback starts the next frame. The listener's receive aio callback
 * decodes frames and delivers envelopes straight into mailboxes (one
 * thread hop per direction beyond nng's own). A tick thread sends
 * heartbeats, detects silent peers and closes refused pipes.
 *
 * Lanes (plain tcp, transport/lane.c, docs/wire.md "Lanes"): once a
 * connection is authenticated its frames go to a TCP connection of ours
 * instead: written under the peer's lock by the sending thread (a worker
 * at the end of its actor's turn, see send_data_locked), read by idle
 * workers (sys->node_poll) or the lane thread, and handed to in_frame
 * like frames from nng.
 *
 * Lock order: the lanes' poll lock, then node->mtx, then peer->mtx.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/node.h>
#include <nactor/supervisor.h>
#include <nactor/transport.h>

#include "actors/internal.h"
#include "mailbox/envelope.h"
#include "transport/lane.h"
#include "transport/names_int.h"
#include "transport/members.h"
#include "transport/netsec.h"

/* ---- frames (docs/wire.md) ---- */
#define FR_MAGIC 0xA8
#define FR_VER 1
#define FR_HDR 4
enum {
	K_HELLO = 1,
	K_CHALLENGE = 2,
	K_AUTH = 3,
	K_OK = 4,
	K_REFUSE = 5,
	K_PING = 6,
	K_DATA = 16,
	K_WHEREIS = 17,
	K_WHEREIS_R = 18,
	K_MONITOR = 19,
	K_DEMONITOR = 20,
	K_NAMES = 48,  /* names area: remote spawn, global names (transport/names.c) */
	K_SWIM = 21,   /* membership (transport/members.c, docs/wire.md) */
	K_CREDIT = 22, /* netsec: credit flow control (transport/credit.c) */
	/* links: remote links (docs/wire.md "Links") */
	K_LINK = 40,
	K_UNLINK = 41,
	K_EXIT = 42,
};
#define NONCE 32
#define MAC 32
#define CAP_HMAC 0x1u    /* authenticates with the shared secret */
#define CAP_BATCH 0x2u   /* DATA frames carry many envelopes */
#define CAP_MONITOR 0x4u /* K_MONITOR */
#define CAP_CREDIT 0x8u  /* netsec: DATA is credit flow-controlled */
#define CAP_LANE 0x10u   /* frames may move to a direct TCP lane (docs/wire.md) */
#define CAPS_REQUIRED (CAP_BATCH)
#define FRAME_TARGET (64 * 1024) /* start a new frame past this size */
#define RING 1024                /* frames queued per peer */
#define URL_MAX 255
#define HS_LIMIT 4096 /* handshake frame bodies */
#define ID_LOW ((UINT64_C(1) << 48) - 1)
/* Node bits of a sender on the wire: 0 = the sending node, WIRE_YOURS =
 * the receiving node (a message forwarded back to where it came from). */
#define WIRE_YOURS 0xFFFFu

/* Outbound connection states (dialer side). */
enum { OUT_NONE = 0, OUT_HELLO, OUT_AUTH_SENT, OUT_LANE, OUT_AUTHED };
/* Lane states (dialer side): OUT_LANE while L_CONNECTING. */
enum { L_NONE = 0, L_CONNECTING, L_UP };
#define LANE_FRAME 4096      /* room reserved in a new DATA frame for a lane */
#define LANE_CONNECT_MS 3000 /* a lane not up by then: frames stay on nng */
#define LANE_DIRECT_NS 20000 /* a thread outside actors writes itself at most this often */
/* Inbound pipe states (listener side). */
enum { IN_NEW = 0, IN_CHALLENGED, IN_AUTHED, IN_REFUSED };

struct peer {
	struct nacti_node *node;
	uint16_t no;
	int merged;                        /* duplicate of another entry; unused */
	char name[NACT_NODE_NAME_MAX + 1]; /* "" until known (node->mtx) */
	char url[URL_MAX + 1];             /* the peer's advertised listen URL */
	int out_open;                      /* out socket exists (node->mtx) */
	nng_socket out;
	nng_dialer dialer;
	nng_aio *saio, *raio;
	nng_mtx *mtx; /* queue, out state */
	nng_cv *cv;   /* room in the queue */
	nng_msg *ring[RING];
	uint32_t rh, rn;   /* head index, frames queued */
	size_t qbytes;     /* bytes queued */
	int busy;          /* a frame is in flight on saio */
	nng_msg *inflight; /* that frame, until send_cb ran */
	int out_state;     /* OUT_* */
	nng_pipe out_pipe;
	uint8_t nonce_c[NONCE];
	uint64_t redial_at;  /* refused: dial again at (ms), 0 = dialing */
	uint32_t backoff;    /* next refusal pause (ms) */
	uint64_t dclose_at;  /* refused by us: close the dialer at (ms) */
	uint64_t none_since; /* no connection since (ms), 0 = connected */
	/* inbound side (node->mtx) */
	uint32_t in_pipe; /* authenticated inbound pipe id, 0 = none */
	_Atomic int up;
	_Atomic uint64_t last_rx; /* ms, any frame from this peer */
	_Atomic int ondemand;     /* learned from membership, not dialed yet */
	/* netsec: credit flow control (docs/wire.md). Sending side (p->mtx):
	 * the peer grants window bytes on our connection cr_cid; DATA goes
	 * out while cr_sent - cr_consumed stays within it. */
	int cr_on; /* the peer speaks credits (CHALLENGE caps) */
	uint64_t cr_cid, cr_window, cr_consumed, cr_sent;
	int want_credit, want_ping; /* control frames sent ahead of DATA */
	/* receiving side: inbox of the peer's DATA (transport/credit.c) */
	struct nacti_inq *inq;
	_Atomic int in_credit; /* its current inbound connection speaks credits */
	/* lane (transport/lane.h; p->mtx): once up, every frame of this
	 * connection is written to it instead of nng's socket */
	uint16_t lport;                   /* the peer's lane port (its CHALLENGE), 0 = none */
	int lfd;                          /* -1 = none */
	uint32_t lgen;                    /* changes at each lane close: stale events ignored */
	int lstate;                       /* L_* */
	uint64_t lconn_at;                /* ms, when the lane's connect started */
	size_t loff;                      /* bytes of inflight written, length prefix included */
	uint8_t lhdr[4];                  /* inflight's length prefix */
	int lkick;                        /* the lane thread is asked to flush */
	int lflushq;                      /* a worker flushes at the end of its actor's turn */
	nng_pipe lbroken;                 /* the lane failed: close this pipe (lane thread) */
	uint64_t llast_ns;                /* last write by a thread outside actors */
	uint8_t lhello[NACTI_LANE_HELLO]; /* written first on the lane */
};

struct inconn {
	uint32_t pipe;
	int state;
	uint64_t close_at;  /* refused or handshake too slow: close after (ms) */
	uint64_t forget_at; /* closed by us: drop the entry after (ms) */
	uint8_t nonce_c[NONCE], nonce_s[NONCE];
	char name[NACT_NODE_NAME_MAX + 1];
	char url[URL_MAX + 1];
	struct peer *p;
	uint64_t caps; /* the dialer's HELLO capabilities */
	int laned;     /* a lane carries this connection's frames now */
};

struct wreq {
	struct wreq *next;
	uint64_t id;
	uint16_t node;
	int done; /* 1 answered, error code if < 0 ... */
	int err;
	nact_aid aid;
};

struct rmon {
	uint64_t ref;
	nact_aid watcher; /* local */
	nact_aid target;  /* remote (node bits set) */
};

struct rlink {
	nact_aid local;
	nact_aid remote; /* node bits set */
};

struct nacti_node {
	nact_system *sys;
	char name[NACT_NODE_NAME_MAX + 1];
	uint8_t *secret;
	size_t secret_len;
	int insecure;
	struct nacti_tls *tls;   /* netsec: certificates, NULL = no TLS */
	int tls_only;            /* netsec: TLS certificates alone authenticate */
	struct nacti_credit *cr; /* netsec: inboxes and their delivery thread */
	size_t cwin;             /* netsec: credit window granted to each peer */
	uint32_t proto;
	uint32_t hb_ms, down_ms;
	uint32_t rmin, rmax;
	size_t qmax;
	char adv[URL_MAX + 1]; /* advertised listen URL */
	nng_socket lsock;
	nng_aio *lraio;
	nng_mtx *mtx;
	nng_cv *cv;
	_Atomic int stopping;
	nng_thread *tick;
	struct peer *_Atomic peers[NACT_NODE_MAX_PEERS + 1];
	uint32_t npeers;
	struct inconn *in;
	uint32_t nin, capin;
	struct wreq *wreqs;
	uint64_t wnext;
	/* pipes and dialers to close once n->mtx is released (nng may run
	 * pipe callbacks, which take n->mtx, while closing) */
	uint32_t *cl_pipes, ncl_pipes, capcl_pipes;
	uint32_t *cl_dialers, ncl_dialers, capcl_dialers;
	_Atomic uint32_t ncl; /* entries in both */
	struct rmon *rmons;
	uint32_t nrmons, caprmons;
	struct rlink *rlinks; /* links between local and remote actors (mtx) */
	uint32_t nrlinks, caprlinks;
	nng_mtx *rmtx;  /* drbg */
	nng_mtx *rxmtx; /* rx_off and every re-arm of lraio and the peers' raio */
	int rx_off;     /* nact_node_stop closes the sockets: no more re-arms */
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	nacti_members *members;    /* set before receiving starts */
	struct nacti_lanes *lanes; /* lane thread, NULL = no lanes (TLS, ipc, opts) */
	uint16_t lport;            /* the port lanes to this node connect to */
	_Atomic int leaving;       /* nact_node_stop started: no more dials */
	/* counters */
	_Atomic uint64_t frames_out, frames_in, env_out, env_in, bad, refused, authfail, downs,
	    dropped, lanes_out, lanes_in;
};

static struct nacti_node *node_get(nact_system *sys);
static void node_put(nact_system *sys);

static uint64_t now_ms(void)
{
	return (uint64_t)nng_clock();
}

/* ---- helpers ---- */

static int rnd(struct nacti_node *n, uint8_t *buf, size_t len)
{
	nng_mtx_lock(n->rmtx);
	int rv = mbedtls_ctr_drbg_random(&n->drbg, buf, len);
	nng_mtx_unlock(n->rmtx);
	return rv == 0 ? 0 : NACT_ESYSERR;
}

/* HMAC-SHA256(secret, label | nonce_c | nonce_s | name_c | 0 | name_s | 0 | proto). */
static int mac_compute(struct nacti_node *n, const char *label, const uint8_t *nc,
    const uint8_t *ns, const char *cname, const char *sname, uint32_t proto, uint8_t *out)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_context_t c;
	mbedtls_md_init(&c);
	uint8_t pv[4] = {(uint8_t)proto, (uint8_t)(proto >> 8), (uint8_t)(proto >> 16),
	    (uint8_t)(proto >> 24)};
	int rv = mbedtls_md_setup(&c, md, 1);
	if (rv == 0)
		rv = mbedtls_md_hmac_starts(&c, n->secret, n->secret_len);
	if (rv == 0)
		rv = mbedtls_md_hmac_update(&c, (const uint8_t *)label, strlen(label) + 1);
	if (rv == 0)
		rv = mbedtls_md_hmac_update(&c, nc, NONCE);
	if (rv == 0)
		rv = mbedtls_md_hmac_update(&c, ns, NONCE);
	if (rv == 0)
		rv = mbedtls_md_hmac_update(&c, (const uint8_t *)cname, strlen(cname) + 1);
	if (rv == 0)
		rv = mbedtls_md_hmac_update(&c, (const uint8_t *)sname, strlen(sname) + 1);
	if (rv == 0)
		rv = mbedtls_md_hmac_update(&c, pv, 4);
	if (rv == 0)
		rv = mbedtls_md_hmac_finish(&c, out);
	mbedtls_md_free(&c);
	return rv == 0 ? 0 : NACT_ESYSERR;
}

/* Constant-time comparison (a comparison, not a crypto primitive). */
static int ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

/* A control frame: header then msgpack body built by the caller. */
static int frame_new(nng_msg **mp, int kind)
{
	int rv = nng_msg_alloc(mp, 0);
	if (rv != 0)
		return NACT_ENOMEM;
	uint8_t h[FR_HDR] = {FR_MAGIC, FR_VER, (uint8_t)kind, 0};
	if (nng_msg_append(*mp, h, FR_HDR) != 0) {
		nng_msg_free(*mp);
		return NACT_ENOMEM;
	}
	return 0;
}

/* A msgpack writer into an nng_msg. */
static int wr_nng(void *data, const char *buf, size_t len)
{
	return nng_msg_append((nng_msg *)data, buf, len) == 0 ? 0 : -1;
}

/* Send a handshake frame. Blocking (bounded by the socket's
 * NNG_OPT_SENDTIMEO): a non-blocking send fails while the previous frame's
 * completion is still being processed, which would lose the frame. */
static void send_now(nng_socket s, nng_msg *m, nng_pipe p)
{
	if (p.id != 0)
		nng_msg_set_pipe(m, p);
	if (nng_sendmsg(s, m, 0) != 0)
		nng_msg_free(m);
}

static struct peer *peer_at(struct nacti_node *n, uint16_t no)
{
	if (no == 0 || no > NACT_NODE_MAX_PEERS)
		return NULL;
	return atomic_load_explicit(&n->peers[no], memory_order_acquire);
}

/* ---- deferred closes ---- */

/* Close pipe/dialer id after n->mtx is released (n->mtx held). */
static void defer_close(struct nacti_node *n, uint32_t **a, uint32_t *na, uint32_t *cap,
    uint32_t id, int pipe)
{
	if (id == 0)
		return;
	if (*na == *cap) {
		uint32_t c = *cap ? *cap * 2 : 8;
		uint32_t *nb = realloc(*a, c * sizeof(*nb));
		if (nb == NULL) { /* out of memory: close now */
			if (pipe) {
				nng_pipe p = {id};
				nng_pipe_close(p);
			} else {
				nng_dialer d = {id};
				nng_dialer_close(d);
			}
			return;
		}
		*a = nb;
		*cap = c;
	}
	(*a)[(*na)++] = id;
	atomic_fetch_add(&n->ncl, 1);
}

static void defer_pipe(struct nacti_node *n, uint32_t id)
{
	defer_close(n, &n->cl_pipes, &n->ncl_pipes, &n->capcl_pipes, id, 1);
}

static void defer_dialer(struct nacti_node *n, uint32_t id)
{
	defer_close(n, &n->cl_dialers, &n->ncl_dialers, &n->capcl_dialers, id, 0);
}

/* Do the deferred closes (n->mtx NOT held). */
static void flush_closes(struct nacti_node *n)
{
	if (atomic_load_explicit(&n->ncl, memory_order_acquire) == 0)
		return;
	for (;;) {
		nng_mtx_lock(n->mtx);
		uint32_t id = 0;
		int pipe = 1;
		if (n->ncl_pipes > 0) {
			id = n->cl_pipes[--n->ncl_pipes];
		} else if (n->ncl_dialers > 0) {
			id = n->cl_dialers[--n->ncl_dialers];
			pipe = 0;
		}
		if (id != 0)
			atomic_fetch_sub(&n->ncl, 1);
		nng_mtx_unlock(n->mtx);
		if (id == 0)
			return;
		if (pipe) {
			nng_pipe p = {id};
			nng_pipe_close(p);
		} else {
			nng_dialer d = {id};
			nng_dialer_close(d);
		}
	}
}

/* ---- outgoing queue ---- */

/* netsec: the connection id of a credit window: the dialer's nonce. */
static uint64_t cid_of(const uint8_t *nonce)
{
	uint64_t v = nacti_le64(nonce);
	return v != 0 ? v : 1;
}

/* netsec: may frame m go out now (credit)? p->mtx held. */
static int credit_ok_locked(struct peer *p, nng_msg *m)
{
	const uint8_t *b = nng_msg_body(m);
	if (!p->cr_on || b[2] != K_DATA)
		return 1;
	uint64_t pl = nng_msg_len(m) - FR_HDR;
	uint64_t out = p->cr_sent - p->cr_consumed;
	return p->cr_window > 0 && (out == 0 || out + pl <= p->cr_window);
}

/* netsec: a CREDIT frame [cid, window, consumed] for p's inbox (kind
 * K_CREDIT, or the payload of K_OK). NULL: none yet, or no memory. */
static nng_msg *credit_frame(struct peer *p, int kind)
{
	uint64_t cid, win, used;
	nacti_inq_state(p->inq, &cid, &win, &used);
	nng_msg *m;
	if (cid == 0 || frame_new(&m, kind) != 0)
		return NULL;
	msgpack_packer pk;
	msgpack_packer_init(&pk, m, wr_nng);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, cid);
	msgpack_pack_uint64(&pk, win);
	msgpack_pack_uint64(&pk, used);
	return m;
}

/* The next frame to send (p->mtx held), or NULL: control frames first,
 * then queued frames as credit allows, then a PING. */
static nng_msg *next_frame_locked(struct peer *p)
{
	nng_msg *m = NULL;
	/* netsec: CREDIT and PING are not subject to credit and go first, so
	 * two nodes waiting for each other's credit still exchange grants */
	if (p->want_credit) {
		p->want_credit = 0;
		m = credit_frame(p, K_CREDIT);
	}
	if (m == NULL && p->rn > 0 && credit_ok_locked(p, p->ring[p->rh])) {
		m = p->ring[p->rh];
		p->ring[p->rh] = NULL;
		p->rh = (p->rh + 1) % RING;
		p->rn--;
		p->qbytes -= nng_msg_len(m);
		if (p->cr_on && ((uint8_t *)nng_msg_body(m))[2] == K_DATA)
			p->cr_sent += nng_msg_len(m) - FR_HDR;
	}
	if (m == NULL && p->want_ping) {
		p->want_ping = 0;
		if (frame_new(&m, K_PING) != 0)
			m = NULL;
	}
	return m;
}

/* The lane of p failed (p->mtx held): close it, drop what was in flight,
 * and have the lane thread close the connection (nng then redials, and a
 * new handshake makes a new lane). */
static void lane_fail_locked(struct peer *p)
{
	struct nacti_node *n = p->node;
	if (p->lfd >= 0)
		nacti_lane_close(n->lanes, p->lfd);
	p->lfd = -1;
	p->lgen++;
	p->lstate = L_NONE;
	if (p->inflight != NULL) {
		nng_msg_free(p->inflight);
		p->inflight = NULL;
		atomic_fetch_add(&n->dropped, 1);
	}
	p->busy = 0;
	if (p->out_pipe.id != 0) {
		p->lbroken = p->out_pipe;
		nacti_lanes_kick(n->lanes);
	}
	nng_cv_wake(p->cv);
}

/* Write p->inflight's rest to the lane (p->mtx held). 1: all of it went. */
static int lane_write_locked(struct peer *p)
{
	size_t len = nng_msg_len(p->inflight);
	struct iovec iov[2];
	int k = 0;
	if (p->loff < 4)
		iov[k++] = (struct iovec){p->lhdr + p->loff, 4 - p->loff};
	size_t bo = p->loff < 4 ? 0 : p->loff - 4;
	iov[k++] = (struct iovec){(uint8_t *)nng_msg_body(p->inflight) + bo, len - bo};
	long w = nacti_lane_writev(p->lfd, iov, k);
	if (w < 0) {
		nact_log(p->node->sys, NACT_LOG_WARN, "node %s: lane to %s broke: reconnecting",
		    p->node->name, p->name);
		lane_fail_locked(p);
		return 0;
	}
	p->loff += (size_t)w;
	if (p->loff < len + 4)
		return 0;
	nng_msg_free(p->inflight);
	p->inflight = NULL;
	atomic_fetch_add_explicit(&p->node->frames_out, 1, memory_order_relaxed);
	return 1;
}

/* Send what can go now on p's lane (p->mtx held): frame after frame until
 * none is left or the socket is full (then the lane thread reports room,
 * see lane_out_event). */
static void lane_send_locked(struct peer *p)
{
	while (!p->busy && p->lstate == L_UP) {
		nng_msg *m = next_frame_locked(p);
		if (m == NULL)
			return;
		nacti_put32(p->lhdr, (uint32_t)nng_msg_len(m));
		p->inflight = m;
		p->loff = 0;
		if (lane_write_locked(p)) {
			nng_cv_wake(p->cv);
			continue;
		}
		if (p->lstate == L_UP) { /* the socket is full: wait for room */
			p->busy = 1;
			nacti_lane_watch(p->node->lanes, p->lfd, p->no, p->lgen, 1);
			/* busy workers poll nothing: the lane thread watches */
			nacti_lanes_handoff(p->node->lanes);
		}
		return;
	}
}

static void send_next_locked(struct peer *p)
{
	if (p->busy || p->out_state != OUT_AUTHED ||
	    atomic_load_explicit(&p->node->stopping, memory_order_relaxed))
		return;
	if (p->lstate == L_UP) {
		lane_send_locked(p);
		return;
	}
	nng_msg *m = next_frame_locked(p);
	if (m == NULL)
		return;
	p->busy = 1;
	p->inflight = m;
	nng_cv_wake(p->cv);
	nng_aio_set_msg(p->saio, m);
	nng_send_aio(p->out, p->saio);
}

/* ---- lanes (transport/lane.h, docs/wire.md "Lanes") ---- */

static struct inconn *in_find(struct nacti_node *n, uint32_t pipe);
static void in_bad(struct nacti_node *n, uint32_t pipe, const char *why);
static const char *in_frame(struct nacti_node *n, struct peer *p, uint32_t pid, uint64_t cid,
    int credit, nng_msg *m, int *took);

/* The peer offered a lane and said OK (p->mtx held): connect to its lane
 * port at the address our nng connection reached. Frames wait (OUT_LANE)
 * until the lane is up, or stay on nng if it cannot be. */
static void lane_start_locked(struct peer *p)
{
	struct nacti_node *n = p->node;
	nng_sockaddr sa;
	int fd = -1;
	if (nng_pipe_get_addr(p->out_pipe, NNG_OPT_REMADDR, &sa) == 0)
		fd = nacti_lane_connect(n->lanes, &sa, p->lport, p->no, p->lgen);
	if (fd < 0) {
		nact_log(n->sys, NACT_LOG_WARN,
		    "node %s: no lane to %s (cannot connect): frames stay on nng", n->name,
		    p->name);
		return;
	}
	p->lfd = fd;
	p->lstate = L_CONNECTING;
	p->lconn_at = now_ms();
	p->out_state = OUT_LANE;
}

/* The lane could not be made (p->mtx held): frames go on nng after all. */
static void lane_giveup_locked(struct peer *p, const char *why)
{
	struct nacti_node *n = p->node;
	nact_log(n->sys, NACT_LOG_WARN, "node %s: no lane to %s (%s): frames stay on nng", n->name,
	    p->name, why);
	if (p->lfd >= 0)
		nacti_lane_close(n->lanes, p->lfd);
	p->lfd = -1;
	p->lgen++;
	p->lstate = L_NONE;
	if (p->out_state == OUT_LANE) {
		p->out_state = OUT_AUTHED;
		send_next_locked(p);
	}
}

/* Lane thread: an event on the outbound lane of peer no. */
static void lane_out_event(void *node, uint32_t no, uint32_t gen, unsigned ev)
{
	struct nacti_node *n = node;
	struct peer *p = peer_at(n, (uint16_t)no);
	if (p == NULL)
		return;
	nng_mtx_lock(p->mtx);
	if (p->lgen != gen || p->lfd < 0) {
		nng_mtx_unlock(p->mtx); /* a lane closed since */
		return;
	}
	if (p->lstate == L_CONNECTING) {
		int err = nacti_lane_connected(p->lfd);
		if (err != 0 || (ev & NACTI_LANE_EV_ERR)) {
			lane_giveup_locked(p, err != 0 ? strerror(err) : "connection error");
		} else if (ev & NACTI_LANE_EV_OUT) {
			struct iovec iov = {p->lhello, NACTI_LANE_HELLO};
			if (nacti_lane_writev(p->lfd, &iov, 1) != NACTI_LANE_HELLO) {
				lane_giveup_locked(p, "hello not written");
			} else {
				NACTI_DEBUG(n->sys, "node %s: lane to %s up", n->name, p->name);
				atomic_fetch_add(&n->lanes_out, 1);
				p->lstate = L_UP;
				nacti_lane_watch(n->lanes, p->lfd, p->no, p->lgen, 0);
				if (p->out_state == OUT_LANE)
					p->out_state = OUT_AUTHED;
				send_next_locked(p);
			}
		}
	} else if (p->lstate == L_UP) {
		if (ev & (NACTI_LANE_EV_IN | NACTI_LANE_EV_ERR)) {
			/* the receiver never writes: closed or reset */
			nact_log(n->sys, NACT_LOG_WARN, "node %s: lane to %s closed: reconnecting",
			    n->name, p->name);
			lane_fail_locked(p);
		} else if ((ev & NACTI_LANE_EV_OUT) && p->busy) {
			if (lane_write_locked(p)) {
				p->busy = 0;
				nacti_lane_watch(n->lanes, p->lfd, p->no, p->lgen, 0);
				nng_cv_wake(p->cv);
				send_next_locked(p);
			}
		}
	}
	nng_mtx_unlock(p->mtx);
}

/* Lane thread: flush what threads outside actors left (send_data_locked),
 * and close connections whose lane failed. */
static void lane_kick(void *node)
{
	struct nacti_node *n = node;
	struct peer *p;
	for (uint32_t i = 1; i <= NACT_NODE_MAX_PEERS && (p = peer_at(n, (uint16_t)i)) != NULL;
	     i++) {
		nng_mtx_lock(p->mtx);
		if (p->lkick) {
			p->lkick = 0;
			send_next_locked(p);
		}
		nng_pipe bp = p->lbroken;
		p->lbroken.id = 0;
		nng_mtx_unlock(p->mtx);
		if (bp.id != 0)
			nng_pipe_close(bp);
	}
}

/* Lane thread: a new inbound lane's hello. It names an authenticated
 * connection (its id, from the dialer's nonce) and proves the secret. */
static uint32_t lane_accept(void *node, const uint8_t *h)
{
	struct nacti_node *n = node;
	if (h[0] != FR_MAGIC || h[1] != 'L' || h[2] != 1) {
		atomic_fetch_add(&n->bad, 1);
		nact_log(n->sys, NACT_LOG_WARN, "node %s: lane with a bad hello: closed", n->name);
		return 0;
	}
	uint64_t cid = nacti_le64(h + 4);
	uint32_t pid = 0;
	int auth = 0;
	nng_mtx_lock(n->mtx);
	for (uint32_t i = 0; i < n->nin; i++) {
		struct inconn *c = &n->in[i];
		if (c->state != IN_AUTHED || c->laned || cid_of(c->nonce_c) != cid)
			continue;
		uint8_t want[MAC];
		if (n->insecure ||
		    (mac_compute(n, "nactor-node lane", c->nonce_c, c->nonce_s, c->name, n->name,
		         n->proto, want) == 0 &&
		        ct_equal(want, h + 12, MAC))) {
			c->laned = 1;
			pid = c->pipe;
			atomic_fetch_add(&n->lanes_in, 1);
		} else {
			auth = 1;
		}
		break;
	}
	nng_mtx_unlock(n->mtx);
	if (pid == 0) {
		atomic_fetch_add(auth ? &n->authfail : &n->bad, 1);
		nact_log(n->sys, NACT_LOG_WARN, "node %s: lane refused (%s)", n->name,
		    auth ? "authentication failed" : "no such connection");
	}
	return pid;
}

/* Lane thread: a frame on the lane of inbound pipe pid. */
static int lane_frame(void *node, uint32_t pid, nng_msg *m, const char **why)
{
	struct nacti_node *n = node;
	const uint8_t *b = nng_msg_body(m);
	if (b[0] != FR_MAGIC || b[1] != FR_VER) {
		*why = b[0] != FR_MAGIC ? "garbage" : "unknown frame version";
		nng_msg_free(m);
		return -1;
	}
	nng_mtx_lock(n->mtx);
	struct inconn *c = in_find(n, pid);
	if (c == NULL || c->state != IN_AUTHED) {
		nng_mtx_unlock(n->mtx);
		nng_msg_free(m);
		*why = NULL; /* the connection is gone: the lane goes too */
		return -1;
	}
	struct peer *p = c->p;
	uint64_t cid = cid_of(c->nonce_c);
	int credit = (c->caps & CAP_CREDIT) != 0;
	nng_mtx_unlock(n->mtx);
	int took = 0;
	const char *bad = in_frame(n, p, pid, cid, credit, m, &took);
	if (!took)
		nng_msg_free(m);
	flush_closes(n);
	*why = bad;
	return bad != NULL ? -1 : 0;
}

/* Lane thread: the lane of inbound pipe pid ended. A bad frame counts and
 * is logged; either way the connection closes with it (the dialer then
 * reconnects, and a new lane comes with the new handshake). */
static void lane_closed(void *node, uint32_t pid, const char *why, int bad)
{
	struct nacti_node *n = node;
	if (bad) {
		in_bad(n, pid, why);
		return;
	}
	NACTI_DEBUG(n->sys, "node %s: lane of connection %u ended (%s)", n->name, pid, why);
	nng_pipe pp = {pid};
	nng_pipe_close(pp);
}

/* sys->node_poll: an idle worker handles ready lane events itself. */
static int node_poll_hook(nact_system *sys)
{
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return 0;
	int k = n->lanes != NULL ? nacti_lanes_poll(n->lanes) : 0;
	node_put(sys);
	return k;
}

/* sys->node_park: a worker stops polling; the lane thread takes over. */
static void node_park_hook(nact_system *sys)
{
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return;
	if (n->lanes != NULL && atomic_load_explicit(&sys->n_spinning, memory_order_seq_cst) == 0)
		nacti_lanes_handoff(n->lanes);
	node_put(sys);
}

/* Lane thread: idle workers poll the lanes (they spin now). */
static int lane_covered(void *node)
{
	struct nacti_node *n = node;
	return atomic_load_explicit(&n->sys->n_spinning, memory_order_seq_cst) > 0;
}

/* Lane thread: is inbound pipe pid still an open connection? */
static int lane_alive(void *node, uint32_t pid)
{
	struct nacti_node *n = node;
	nng_mtx_lock(n->mtx);
	struct inconn *c = in_find(n, pid);
	int alive = c != NULL && c->state == IN_AUTHED;
	nng_mtx_unlock(n->mtx);
	return alive;
}

static const nacti_lane_ops lane_ops = {
    .covered = lane_covered,
    .alive = lane_alive,
    .accept = lane_accept,
    .frame = lane_frame,
    .closed = lane_closed,
    .out_event = lane_out_event,
    .kick = lane_kick,
};

/* netsec: send p a CREDIT for its connection to us. It travels on OUR
 * connection to p, ahead of queued DATA (the listener side only sends the
 * handshake, OK included, which carries the first grant). A CREDIT is
 * cumulative and repeated every heartbeat, so one lost costs nothing. */
static void credit_send(struct peer *p)
{
	if (!atomic_load(&p->in_credit))
		return;
	nng_mtx_lock(p->mtx);
	p->want_credit = 1;
	send_next_locked(p);
	nng_mtx_unlock(p->mtx);
}

static void queue_drop_locked(struct peer *p)
{
	while (p->rn > 0) {
		nng_msg *m = p->ring[p->rh];
		p->ring[p->rh] = NULL;
		p->rh = (p->rh + 1) % RING;
		p->rn--;
		nng_msg_free(m);
	}
	p->qbytes = 0;
	nng_cv_wake(p->cv);
}

/* Queue a whole control frame (takes m). early: also while connecting (a
 * few frames, sent after the handshake). */
static int queue_frame_early(struct peer *p, nng_msg *m, int early)
{
	nng_mtx_lock(p->mtx);
	if ((p->out_state == OUT_NONE && !(early && p->rn < 32)) || p->rn == RING) {
		nng_mtx_unlock(p->mtx);
		nng_msg_free(m);
		return NACT_ENODEDOWN;
	}
	uint32_t i = (p->rh + p->rn) % RING;
	p->ring[i] = m;
	p->rn++;
	p->qbytes += nng_msg_len(m);
	send_next_locked(p);
	nng_mtx_unlock(p->mtx);
	return 0;
}

static int queue_frame(struct peer *p, nng_msg *m)
{
	return queue_frame_early(p, m, 0);
}

static void send_cb(void *arg)
{
	struct peer *p = arg;
	if (nng_aio_result(p->saio) != 0) {
		nng_msg *m = nng_aio_get_msg(p->saio);
		if (m != NULL)
			nng_msg_free(m);
		atomic_fetch_add(&p->node->dropped, 1);
	} else {
		atomic_fetch_add_explicit(&p->node->frames_out, 1, memory_order_relaxed);
	}
	nng_mtx_lock(p->mtx);
	p->busy = 0;
	p->inflight = NULL;
	send_next_locked(p);
	nng_mtx_unlock(p->mtx);
}

static int peer_dial(struct nacti_node *n, struct peer *p);

/* Peers a worker flushes at the end of its actor's turn (documented
 * thread-local, see nacti_run_end): their lanes got DATA from this
 * thread's handlers. */
#define TL_FLUSH_MAX 16
static __thread struct {
	nact_system *sys;
	uint32_t n;
	uint16_t no[TL_FLUSH_MAX];
} tl_flush;

static void tl_flush_run(void)
{
	nact_system *sys = tl_flush.sys;
	uint32_t k = tl_flush.n;
	tl_flush.n = 0;
	struct nacti_node *n = sys != NULL ? node_get(sys) : NULL;
	if (n == NULL)
		return;
	for (uint32_t i = 0; i < k; i++) {
		struct peer *p = peer_at(n, tl_flush.no[i]);
		if (p == NULL)
			continue;
		nng_mtx_lock(p->mtx);
		p->lflushq = 0;
		send_next_locked(p);
		nng_mtx_unlock(p->mtx);
	}
	node_put(sys);
}

/* DATA was queued for p (p->mtx held). Without a lane: on to nng now (it
 * batches while a frame is in flight). With one, the write is a syscall on
 * this thread, so batch first: a worker writes when its actor's turn ends
 * (every send of the turn in one write); another thread writes itself
 * unless it wrote a moment ago, then it leaves the write to the lane
 * thread (a tight loop of sends then costs no syscall per message). */
static void send_data_locked(nact_system *sys, struct peer *p)
{
	if (p->lstate != L_UP) {
		send_next_locked(p);
		return;
	}
	if (p->busy)
		return; /* the socket is full: the write resumes when it has room */
	if (p->rn > 1 || p->qbytes >= FRAME_TARGET) {
		send_next_locked(p); /* a full frame waits: no reason to hold it */
		return;
	}
	if (p->lflushq || p->lkick)
		return; /* a write is pending already: it takes this too */
	if (nacti_cur != NULL) {
		if (tl_flush.n == TL_FLUSH_MAX || (tl_flush.sys != sys && tl_flush.n > 0)) {
			send_next_locked(p);
			return;
		}
		tl_flush.sys = sys;
		tl_flush.no[tl_flush.n++] = p->no;
		p->lflushq = 1;
		nacti_run_end = tl_flush_run;
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (now - p->llast_ns >= LANE_DIRECT_NS) {
		p->llast_ns = now;
		send_next_locked(p);
		return;
	}
	p->lkick = 1;
	nacti_lanes_kick(p->node->lanes);
}

/* The node hook: m to remote id `to`. Ownership as nact_send. */
static int node_send(nact_system *sys, nact_aid to, nact_msg *m, int ctl, int timeout_ms)
{
	atomic_fetch_add_explicit(&sys->node_users, 1, memory_order_seq_cst);
	struct nacti_node *n = atomic_load_explicit(&sys->node, memory_order_seq_cst);
	struct peer *p = n ? peer_at(n, NACTI_ID_NODE(to.v)) : NULL;
	int rv = 0;
	if (p == NULL) {
		atomic_fetch_sub_explicit(&sys->node_users, 1, memory_order_release);
		if (n != NULL)
			atomic_fetch_add_explicit(&n->dropped, 1, memory_order_relaxed);
		nacti_deadletter(sys, m, p == NULL ? NACT_DL_UNKNOWN : NACT_DL_DEAD);
		return 0;
	}
	if (atomic_load(&p->ondemand) && atomic_exchange(&p->ondemand, 0)) {
		/* a member known from membership only: connect now (this
		 * message is a dead letter; nact_node_peer waits for it) */
		nng_mtx_lock(n->mtx);
		peer_dial(n, p);
		nng_mtx_unlock(n->mtx);
	}
	nng_msg *nm = m->nm;
	size_t len = nng_msg_len(nm);
	uint8_t *h = nng_msg_body(nm);
	/* on the wire: target local to the receiver, sender local to us (a
	 * third node's sender cannot be named: 0), no deadline, no internal
	 * flags (docs/wire.md) */
	uint64_t tgt = to.v & ID_LOW;
	uint64_t snd = nacti_le64(h + NACTI_OFF_SENDER);
	if (NACTI_ID_NODE(snd) == NACTI_ID_NODE(to.v)) /* an actor of the receiver */
		snd = (snd & ID_LOW) | ((uint64_t)WIRE_YOURS << 48);
	else if (NACTI_ID_NODE(snd) != 0) /* a third node's: cannot be named */
		snd = 0;
	uint16_t fl = nacti_le16(h + NACTI_OFF_FLAGS) & (uint16_t)~NACTI_MF_COUNTED;
	if (ctl)
		fl |= NACT_MF_CONTROL;
	uint8_t nh[NACT_HDR_SIZE];
	memcpy(nh, h, NACT_HDR_SIZE);
	nacti_put16(nh + NACTI_OFF_FLAGS, fl);
	nacti_put64(nh + NACTI_OFF_TARGET, tgt);
	nacti_put64(nh + NACTI_OFF_SENDER, snd);
	nacti_put64(nh + NACTI_OFF_DEADLINE, 0);
	uint8_t lb[4];
	nacti_put32(lb, (uint32_t)len);
	nng_time until = 0;
	nng_mtx_lock(p->mtx);
	for (;;) {
		if (p->out_state == OUT_NONE) { /* down (handshakes may queue) */
			rv = -1;
			break;
		}
		if (len + 4 + FR_HDR > NACT_NODE_MAX_FRAME) { /* the peer would refuse it */
			rv = NACT_ELIMIT;
			break;
		}
		if ((p->qbytes == 0 || p->qbytes + len + 4 <= n->qmax) && p->rn < RING)
			break;
		if (timeout_ms <= 0 || nacti_cur != NULL) {
			rv = NACT_EFULL;
			break;
		}
		if (until == 0)
			until = nng_clock() + (nng_time)timeout_ms;
		if (nng_cv_until(p->cv, until) == NNG_ETIMEDOUT) {
			rv = NACT_ETIMEDOUT;
			break;
		}
	}
	if (rv == 0) {
		nng_msg *f = NULL;
		if (p->rn > 0) {
			nng_msg *t = p->ring[(p->rh + p->rn - 1) % RING];
			uint8_t *tb = nng_msg_body(t);
			/* only within the room reserved: nng grows a message to
			 * the exact size, copying it each time */
			if (tb[2] == K_DATA && nng_msg_len(t) + len + 4 <= nng_msg_capacity(t))
				f = t;
		}
		int e = 0;
		if (f == NULL) {
			/* the first frame of a burst on a lane is written soon,
			 * often with one envelope: small (nng zeroes what it
			 * reserves); the frames after it fill while it waits,
			 * as on nng while a frame is in flight */
			size_t want =
			    p->lstate == L_UP && p->rn == 0 && !p->busy ? LANE_FRAME : FRAME_TARGET;
			if ((e = frame_new(&f, K_DATA)) == 0) {
				nng_msg_reserve(f, want < len + 8 ? len + 8 : want);
				p->ring[(p->rh + p->rn) % RING] = f;
				p->rn++;
				p->qbytes += FR_HDR;
			}
		}
		if (e == 0) {
			e |= nng_msg_append(f, lb, 4);
			e |= nng_msg_append(f, nh, NACT_HDR_SIZE);
			e |= nng_msg_append(f, h + NACT_HDR_SIZE, len - NACT_HDR_SIZE);
			p->qbytes += len + 4;
		}
		if (e != 0)
			rv = NACT_ENOMEM; /* a partly appended record: the frame is lost */
		send_data_locked(sys, p);
	}
	nng_mtx_unlock(p->mtx);
	atomic_fetch_sub_explicit(&sys->node_users, 1, memory_order_release);
	if (rv == -1) {
		atomic_fetch_add_explicit(&n->dropped, 1, memory_order_relaxed);
		nacti_deadletter(sys, m, NACT_DL_DEAD);
		return 0;
	}
	if (rv != 0)
		return rv;
	atomic_fetch_add_explicit(&n->env_out, 1, memory_order_relaxed);
	nact_msg_free(m);
	return 0;
}

/* ---- peers ---- */

/* New peer entry (node->mtx held). NULL when the table is full. */
static struct peer *peer_new(struct nacti_node *n, const char *name, const char *url)
{
	if (n->npeers >= NACT_NODE_MAX_PEERS)
		return NULL;
	struct peer *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (nng_mtx_alloc(&p->mtx) != 0 || nng_cv_alloc(&p->cv, p->mtx) != 0) {
		if (p->mtx)
			nng_mtx_free(p->mtx);
		free(p);
		return NULL;
	}
	p->node = n;
	if ((p->inq = nacti_inq_new(n->cr, p)) == NULL) { /* netsec */
		nng_cv_free(p->cv);
		nng_mtx_free(p->mtx);
		free(p);
		return NULL;
	}
	p->lfd = -1;
	p->no = (uint16_t)(n->npeers + 1);
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	snprintf(p->url, sizeof(p->url), "%s", url ? url : "");
	n->npeers++;
	atomic_store_explicit(&n->peers[p->no], p, memory_order_release);
	return p;
}

static struct peer *peer_by_name(struct nacti_node *n, const char *name)
{
	for (uint32_t i = 1; i <= n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (!p->merged && p->name[0] != '\0' && strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

static void peer_set_up(struct nacti_node *n, struct peer *p, int up);
static void peer_silent(struct nacti_node *n, struct peer *p);

static void out_recv_cb(void *arg);

static void out_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct peer *p = arg;
	struct nacti_node *n = p->node;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		nng_msg *m;
		uint8_t nc[NONCE];
		if (rnd(n, nc, NONCE) != 0 || frame_new(&m, K_HELLO) != 0) {
			nng_pipe_close(pipe);
			return;
		}
		msgpack_packer pk;
		msgpack_packer_init(&pk, m, wr_nng);
		msgpack_pack_array(&pk, 6);
		msgpack_pack_uint32(&pk, n->proto);
		msgpack_pack_uint32(&pk, n->proto);
		msgpack_pack_str_with_body(&pk, n->name, strlen(n->name));
		msgpack_pack_uint32(&pk,
		    (n->insecure ? 0 : CAP_HMAC) | CAP_BATCH | CAP_MONITOR | CAP_CREDIT |
		        (n->lanes != NULL && strncmp(p->url, "tcp://", 6) == 0 ? CAP_LANE : 0));
		msgpack_pack_bin_with_body(&pk, nc, NONCE);
		msgpack_pack_str_with_body(&pk, n->adv, strlen(n->adv));
		nng_mtx_lock(p->mtx);
		memcpy(p->nonce_c, nc, NONCE);
		p->cr_cid = cid_of(nc); /* netsec: a fresh window per connection */
		p->cr_window = p->cr_consumed = p->cr_sent = 0;
		p->cr_on = 0;
		p->out_state = OUT_HELLO;
		p->out_pipe = pipe;
		p->none_since = 0;
		p->lport = 0;
		nng_mtx_unlock(p->mtx);
		NACTI_DEBUG(n->sys, "node %s: connected to %s (pipe %u), hello sent", n->name,
		    p->url, nng_pipe_id(pipe));
		send_now(p->out, m, pipe);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		nng_mtx_lock(p->mtx);
		int was = (int)p->out_pipe.id == nng_pipe_id(pipe);
		int busy = p->busy && p->lstate != L_UP; /* on nng's aio */
		if (was) {
			p->out_state = OUT_NONE;
			p->out_pipe.id = 0;
			p->none_since = now_ms();
			queue_drop_locked(p);
			if (p->lstate != L_NONE) {
				lane_fail_locked(p);
				p->lbroken.id = 0; /* closed already */
			}
		}
		nng_mtx_unlock(p->mtx);
		/* a frame still waiting in the socket must not go out first on
		 * the next connection, before its handshake */
		if (was && busy)
			nng_aio_cancel(p->saio);
		if (was) {
			nng_mtx_lock(n->mtx);
			peer_set_up(n, p, 0);
			nng_mtx_unlock(n->mtx);
			flush_closes(n);
		}
	}
}

/* Open the dialer socket of p (node->mtx held). */
static int peer_dial(struct nacti_node *n, struct peer *p)
{
	if (p->out_open || p->url[0] == '\0' || n->stopping)
		return 0;
	int rv;
	if ((rv = nng_pair1_open(&p->out)) != 0)
		goto fail;
	nng_socket_set_size(p->out, NNG_OPT_RECVMAXSZ, HS_LIMIT);
	nng_socket_set_ms(p->out, NNG_OPT_SENDTIMEO, 2000);
	nng_socket_set_ms(p->out, NNG_OPT_RECONNMINT, (nng_duration)n->rmin);
	nng_socket_set_ms(p->out, NNG_OPT_RECONNMAXT, (nng_duration)n->rmax);
	nng_pipe_notify(p->out, NNG_PIPE_EV_ADD_POST, out_pipe_cb, p);
	nng_pipe_notify(p->out, NNG_PIPE_EV_REM_POST, out_pipe_cb, p);
	if ((rv = nng_aio_alloc(&p->saio, send_cb, p)) != 0 ||
	    (rv = nng_aio_alloc(&p->raio, out_recv_cb, p)) != 0) {
		nng_close(p->out);
		goto fail;
	}
	p->out_open = 1;
	p->none_since = now_ms();
	nng_recv_aio(p->out, p->raio);
	if ((rv = nacti_tls_dial(n->tls, p->out, p->url, &p->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		nact_log(n->sys, NACT_LOG_ERROR, "node %s: cannot dial %s: %s", n->name, p->url,
		    nng_strerror(rv));
		return NACT_ETRANERR + rv;
	}
	return 0;
fail:
	nact_log(n->sys, NACT_LOG_ERROR, "node %s: peer socket for %s: %s", n->name, p->url,
	    nng_strerror(rv));
	return NACT_ETRANERR + rv;
}

/* ---- remote monitors ---- */

static void rmons_nodedown(struct nacti_node *n, uint16_t no)
{
	/* under n->mtx */
	for (uint32_t i = 0; i < n->nrmons;) {
		struct rmon *r = &n->rmons[i];
		if (NACTI_ID_NODE(r->target.v) == no) {
			nacti_send_exitinfo(n->sys, r->watcher, NACT_T_DOWN, r->ref, r->target,
			    r->target, NACT_EXIT_NODEDOWN, "nodedown");
			n->rmons[i] = n->rmons[--n->nrmons];
		} else {
			i++;
		}
	}
}

/* ---- remote links (docs/node.md "Links") ---- */

/* n->mtx held. 0 or NACT_ENOMEM; a pair already there is kept once. */
static int rlink_add(struct nacti_node *n, nact_aid local, nact_aid remote)
{
	for (uint32_t i = 0; i < n->nrlinks; i++)
		if (n->rlinks[i].local.v == local.v && n->rlinks[i].remote.v == remote.v)
			return 0;
	if (n->nrlinks == n->caprlinks) {
		uint32_t c = n->caprlinks ? n->caprlinks * 2 : 16;
		struct rlink *nr = realloc(n->rlinks, c * sizeof(*nr));
		if (nr == NULL)
			return NACT_ENOMEM;
		n->rlinks = nr;
		n->caprlinks = c;
	}
	n->rlinks[n->nrlinks++] = (struct rlink){local, remote};
	return 0;
}

/* n->mtx held. */
static void rlink_del(struct nacti_node *n, nact_aid local, nact_aid remote)
{
	for (uint32_t i = 0; i < n->nrlinks; i++) {
		if (n->rlinks[i].local.v == local.v && n->rlinks[i].remote.v == remote.v) {
			n->rlinks[i] = n->rlinks[--n->nrlinks];
			return;
		}
	}
}

/* Node no is down (n->mtx held): every local actor still linked to one of
 * its actors gets the exit signal nodedown. */
static void rlinks_nodedown(struct nacti_node *n, uint16_t no)
{
	for (uint32_t i = 0; i < n->nrlinks;) {
		struct rlink l = n->rlinks[i];
		if (NACTI_ID_NODE(l.remote.v) != no) {
			i++;
			continue;
		}
		n->rlinks[i] = n->rlinks[--n->nrlinks];
		if (nacti_link_take(n->sys, l.local, l.remote))
			nacti_send_exitinfo(n->sys, l.local, NACTI_T_EXITSIG, 0, l.remote, l.remote,
			    NACT_EXIT_NODEDOWN, "nodedown");
	}
}

/* node->mtx held. */
static void peer_set_up(struct nacti_node *n, struct peer *p, int up)
{
	if (up) {
		nng_mtx_lock(p->mtx);
		/* OUT_LANE: authenticated, frames wait a moment for the lane */
		int ok =
		    (p->out_state == OUT_AUTHED || p->out_state == OUT_LANE) && p->in_pipe != 0;
		nng_mtx_unlock(p->mtx);
		if (ok && !atomic_load(&p->up)) {
			atomic_store_explicit(&p->last_rx, now_ms(), memory_order_relaxed);
			atomic_store(&p->up, 1);
			nact_log(n->sys, NACT_LOG_INFO, "node %s: peer %s (node %u) up", n->name,
			    p->name, p->no);
			nacti_names_peer(n->sys, p->no, p->name, 1);
			nng_cv_wake(n->cv);
		}
		return;
	}
	if (!atomic_load(&p->up))
		return;
	atomic_store(&p->up, 0);
	atomic_fetch_add(&n->downs, 1);
	nact_log(n->sys, atomic_load(&n->stopping) ? NACT_LOG_INFO : NACT_LOG_WARN,
	    "node %s: peer %s (node %u) down", n->name, p->name, p->no);
	/* the broken direction reconnects (nng's dialer, or the peer's); the
	 * other one stays usable (peer_silent closes both) */
	for (struct wreq *w = n->wreqs; w != NULL; w = w->next) {
		if (w->node == p->no && !w->done) {
			w->done = 1;
			w->err = NACT_ENODEDOWN;
		}
	}
	rmons_nodedown(n, p->no);
	rlinks_nodedown(n, p->no);
	nacti_names_peer(n->sys, p->no, p->name, 0);
	nng_cv_wake(n->cv);
}

/* p sent nothing for down_after_ms (node->mtx held): it may be hung, so
 * close both directions, then declare it down. */
static void peer_silent(struct nacti_node *n, struct peer *p)
{
	if (p->in_pipe != 0) {
		defer_pipe(n, p->in_pipe);
		p->in_pipe = 0;
	}
	nng_mtx_lock(p->mtx);
	nng_pipe op = p->out_pipe;
	nng_mtx_unlock(p->mtx);
	defer_pipe(n, op.id);
	peer_set_up(n, p, 0);
}

/* ---- dialer side: handshake replies ---- */

static int hs_reader(nact_reader *r, nng_msg *m)
{
	nact_limits lim = nact_limits_default();
	lim.max_body = HS_LIMIT;
	lim.max_depth = 2;
	lim.max_elems = 16;
	lim.max_total = 32;
	return nact_reader_init_buf(r, (const uint8_t *)nng_msg_body(m) + FR_HDR,
	    nng_msg_len(m) - FR_HDR, &lim);
}

static int rd_str(nact_reader *r, char *out, size_t cap)
{
	const char *s;
	size_t l;
	int rv = nact_read_str(r, &s, &l);
	if (rv != 0)
		return rv;
	if (l >= cap || memchr(s, 0, l) != NULL)
		return NACT_ELIMIT;
	memcpy(out, s, l);
	out[l] = '\0';
	return 0;
}

/* The connection to p was refused (by either side): stop dialing for a
 * while (doubling pauses up to 8 x reconnect_max), so a misconfigured peer
 * costs a log line per pause, not per nng reconnect. close: close the pipe
 * now (else the peer closes it after reading our last frame). */
static void out_refused(struct peer *p, const char *why, int close)
{
	struct nacti_node *n = p->node;
	atomic_fetch_add(&n->refused, 1);
	nng_mtx_lock(p->mtx);
	nng_pipe op = p->out_pipe;
	p->out_state = OUT_NONE;
	if (p->backoff == 0)
		p->backoff = n->rmin;
	uint32_t pause = p->backoff;
	p->backoff = p->backoff * 2 > n->rmax * 8 ? n->rmax * 8 : p->backoff * 2;
	p->redial_at = now_ms() + pause + (close ? 0 : 300);
	if (!close)
		p->dclose_at = now_ms() + 300;
	nng_dialer d = p->dialer;
	nng_mtx_unlock(p->mtx);
	nact_log(n->sys, NACT_LOG_ERROR,
	    "node %s: connection to %s refused: %s (next attempt in %u ms)", n->name, p->url, why,
	    pause);
	if (close) {
		nng_dialer_close(d);
		if (op.id != 0)
			nng_pipe_close(op);
	}
}

static const char *in_credit(struct nacti_node *n, struct peer *p, nng_msg *m);

static void out_handle(struct peer *p, nng_msg *m)
{
	struct nacti_node *n = p->node;
	size_t len = nng_msg_len(m);
	const uint8_t *b = nng_msg_body(m);
	if (len < FR_HDR || b[0] != FR_MAGIC || b[1] != FR_VER) {
		atomic_fetch_add(&n->bad, 1);
		out_refused(p, "garbage from peer", 1);
		return;
	}
	nact_reader r;
	int kind = b[2];
	NACTI_DEBUG(n->sys, "node %s: handshake frame %d from %s", n->name, kind, p->url);
	if (kind == K_REFUSE) {
		char why[256] = "?";
		if (hs_reader(&r, m) == 0) {
			rd_str(&r, why, sizeof(why));
			nact_reader_fini(&r);
		}
		out_refused(p, why, 1);
		return;
	}
	if (kind == K_CREDIT) { /* netsec */
		if (in_credit(n, p, m) != NULL) {
			atomic_fetch_add(&n->bad, 1);
			out_refused(p, "malformed credit", 1);
		}
		return;
	}
	if (kind == K_OK) {
		if (len > FR_HDR && p->cr_on && in_credit(n, p, m) != NULL) {
			atomic_fetch_add(&n->bad, 1);
			out_refused(p, "malformed credit", 1);
			return;
		}
		nng_mtx_lock(p->mtx);
		int ok = p->out_state == OUT_AUTH_SENT;
		if (ok) {
			p->out_state = OUT_AUTHED;
			p->backoff = 0;
			if (p->lport != 0)
				lane_start_locked(p); /* frames wait for it (OUT_LANE) */
			send_next_locked(p);
		}
		nng_mtx_unlock(p->mtx);
		if (ok) {
			nng_mtx_lock(n->mtx);
			peer_set_up(n, p, 1);
			nng_mtx_unlock(n->mtx);
		}
		return;
	}
	if (kind != K_CHALLENGE) {
		atomic_fetch_add(&n->bad, 1);
		out_refused(p, "unexpected frame during handshake", 1);
		return;
	}
	uint64_t proto, caps;
	char sname[NACT_NODE_NAME_MAX + 1];
	const void *ns, *smac;
	size_t nsl, smacl;
	uint32_t cnt;
	int rv = hs_reader(&r, m);
	if (rv == 0)
		rv = nact_read_array(&r, &cnt);
	if (rv == 0 && cnt != 5 && cnt != 6)
		rv = NACT_EMALFORMED;
	if (rv == 0)
		rv = nact_read_uint(&r, &proto);
	if (rv == 0)
		rv = rd_str(&r, sname, sizeof(sname));
	if (rv == 0)
		rv = nact_read_uint(&r, &caps);
	if (rv == 0)
		rv = nact_read_bin(&r, &ns, &nsl);
	if (rv == 0)
		rv = nact_read_bin(&r, &smac, &smacl);
	if (rv == 0 && nsl != NONCE)
		rv = NACT_EMALFORMED;
	uint64_t lport = 0; /* the lane port, when the peer offers one */
	if (rv == 0 && cnt == 6 && (rv = nact_read_uint(&r, &lport)) == 0 && lport > 65535)
		rv = NACT_EMALFORMED;
	if (rv != 0) {
		nact_reader_fini(&r);
		atomic_fetch_add(&n->bad, 1);
		out_refused(p, "malformed challenge", 1);
		return;
	}
	uint8_t nsb[NONCE], nc[NONCE], mymac[MAC];
	memcpy(nsb, ns, NONCE);
	nng_mtx_lock(p->mtx); /* netsec: the peer grants credits */
	p->cr_on = (caps & CAP_CREDIT) != 0;
	p->lport = (caps & CAP_LANE) != 0 && n->lanes != NULL ? (uint16_t)lport : 0;
	nng_mtx_unlock(p->mtx);
	int secure = (caps & CAP_HMAC) != 0;
	int macok = 1;
	nng_mtx_lock(p->mtx);
	memcpy(nc, p->nonce_c, NONCE);
	nng_mtx_unlock(p->mtx);
	if (secure && !n->insecure) {
		uint8_t want[MAC];
		macok = smacl == MAC &&
		    mac_compute(n, "nactor-node server", nc, nsb, n->name, sname, (uint32_t)proto,
		        want) == 0 &&
		    ct_equal(want, smac, MAC);
	}
	nact_reader_fini(&r);
	if (secure != !n->insecure) {
		atomic_fetch_add(&n->authfail, 1);
		out_refused(p,
		    secure ? "peer requires authentication, this node runs insecure" :
		             "peer runs without authentication, this node requires it",
		    1);
		return;
	}
	if (!macok) {
		/* answer anyway: the peer then finds our proof wrong, logs it
		 * and closes */
		atomic_fetch_add(&n->authfail, 1);
		nng_msg *a;
		if (frame_new(&a, K_AUTH) == 0) {
			uint8_t mm[MAC];
			mac_compute(n, "nactor-node client", nc, nsb, n->name, sname,
			    (uint32_t)proto, mm);
			msgpack_packer pk;
			msgpack_packer_init(&pk, a, wr_nng);
			msgpack_pack_array(&pk, 1);
			msgpack_pack_bin_with_body(&pk, mm, MAC);
			nng_mtx_lock(p->mtx);
			nng_pipe op = p->out_pipe;
			nng_mtx_unlock(p->mtx);
			send_now(p->out, a, op);
		}
		out_refused(p, "peer failed authentication (wrong secret?)", 0);
		return;
	}
	if (strcmp(sname, n->name) == 0) {
		out_refused(p, "peer has this node's own name", 1);
		return;
	}
	/* name the entry; a duplicate (seed URL differs from the advertised
	 * one) closes itself */
	nng_mtx_lock(n->mtx);
	if (p->name[0] == '\0') {
		struct peer *o = peer_by_name(n, sname);
		if (o != NULL && o != p) {
			p->merged = 1;
			nng_mtx_unlock(n->mtx);
			nact_log(n->sys, NACT_LOG_INFO, "node %s: %s is %s, already connected",
			    n->name, p->url, sname);
			nng_dialer_close(p->dialer);
			return;
		}
		snprintf(p->name, sizeof(p->name), "%s", sname);
	}
	nng_mtx_unlock(n->mtx);
	nng_msg *a;
	if (frame_new(&a, K_AUTH) != 0)
		return;
	if (!n->insecure)
		mac_compute(n, "nactor-node client", nc, nsb, n->name, sname, (uint32_t)proto,
		    mymac);
	uint8_t lh[NACTI_LANE_HELLO] = {FR_MAGIC, 'L', 1, 0};
	nacti_put64(lh + 4, cid_of(nc));
	if (!n->insecure)
		mac_compute(n, "nactor-node lane", nc, nsb, n->name, sname, (uint32_t)proto,
		    lh + 12);
	msgpack_packer pk;
	msgpack_packer_init(&pk, a, wr_nng);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin_with_body(&pk, mymac, n->insecure ? 0 : MAC);
	nng_mtx_lock(p->mtx);
	p->out_state = OUT_AUTH_SENT; /* data may flow once the peer says OK */
	memcpy(p->lhello, lh, sizeof(lh));
	nng_pipe op = p->out_pipe;
	nng_mtx_unlock(p->mtx);
	send_now(p->out, a, op);
}

/* Re-arm a receive callback's aio unless nact_node_stop is closing the
 * sockets. Under rxmtx, so that no nng_recv_aio overlaps the nng_close of
 * its socket: nng 1.5.2 can append a receive that found the socket before
 * the close to the socket's receive queue after the close has failed the
 * waiting ones; nng_close then frees the queue with the aio still on it,
 * and the nng_aio_stop after it runs the aio's cancel on the freed queue
 * (the panic "pthread_mutex_lock: Invalid argument" in nact_node_stop). */
static void rx_rearm(struct nacti_node *n, nng_socket s, nng_aio *aio)
{
	nng_mtx_lock(n->rxmtx);
	if (!n->rx_off)
		nng_recv_aio(s, aio);
	nng_mtx_unlock(n->rxmtx);
}

static void out_recv_cb(void *arg)
{
	struct peer *p = arg;
	if (nng_aio_result(p->raio) != 0)
		return; /* socket closed */
	nng_msg *m = nng_aio_get_msg(p->raio);
	out_handle(p, m);
	nng_msg_free(m);
	rx_rearm(p->node, p->out, p->raio);
}

/* ---- listener side ---- */

static struct inconn *in_find(struct nacti_node *n, uint32_t pipe)
{
	for (uint32_t i = 0; i < n->nin; i++)
		if (n->in[i].pipe == pipe)
			return &n->in[i];
	return NULL;
}

/* The entry of pipe id, added if missing (node->mtx held): a frame may
 * arrive before the pipe's ADD_POST callback ran. NULL: out of memory. */
static struct inconn *in_get(struct nacti_node *n, uint32_t id)
{
	struct inconn *c = in_find(n, id);
	if (c != NULL)
		return c;
	if (n->nin == n->capin) {
		uint32_t cap = n->capin ? n->capin * 2 : 16;
		struct inconn *ni = realloc(n->in, cap * sizeof(*ni));
		if (ni == NULL)
			return NULL;
		n->in = ni;
		n->capin = cap;
	}
	c = &n->in[n->nin++];
	memset(c, 0, sizeof(*c));
	c->pipe = id;
	c->close_at = now_ms() + 10000; /* the handshake must finish in time */
	return c;
}

static void in_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct nacti_node *n = arg;
	uint32_t id = nng_pipe_id(pipe);
	if (ev == NNG_PIPE_EV_REM_POST) {
		/* frames its lane brought in before the close come first (the
		 * lane is another TCP connection: its last bytes can still be
		 * unread when nng reports this one closed) */
		nng_mtx_lock(n->mtx);
		struct inconn *c = in_find(n, id);
		int laned = c != NULL && c->laned;
		nng_mtx_unlock(n->mtx);
		if (laned)
			nacti_lanes_drain(n->lanes, id);
	}
	nng_mtx_lock(n->mtx);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (in_get(n, id) == NULL) {
			nng_mtx_unlock(n->mtx);
			nng_pipe_close(pipe);
			return;
		}
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		struct inconn *c = in_find(n, id);
		if (c != NULL) {
			struct peer *p = c->p;
			*c = n->in[--n->nin];
			if (p != NULL && p->in_pipe == id) {
				p->in_pipe = 0;
				peer_set_up(n, p, 0);
			}
		}
	}
	nng_mtx_unlock(n->mtx);
	flush_closes(n);
}

/* Refuse pipe c with a reason (node->mtx held): a REFUSE frame, a log
 * line, and a close a little later (so the frame can leave). */
static void in_refuse(struct nacti_node *n, struct inconn *c, const char *why, int auth)
{
	atomic_fetch_add(&n->refused, 1);
	if (auth)
		atomic_fetch_add(&n->authfail, 1);
	nact_log(n->sys, NACT_LOG_ERROR, "node %s: refused connection from %s: %s", n->name,
	    c->name[0] ? c->name : "(unnamed)", why);
	c->state = IN_REFUSED;
	c->close_at = now_ms() + 300;
	nng_msg *m;
	if (frame_new(&m, K_REFUSE) != 0)
		return;
	msgpack_packer pk;
	msgpack_packer_init(&pk, m, wr_nng);
	msgpack_pack_str_with_body(&pk, why, strlen(why));
	nng_pipe p = {c->pipe};
	send_now(n->lsock, m, p);
}

/* A bad frame on pipe id (node->mtx not held): count and close. */
static void in_bad(struct nacti_node *n, uint32_t pipe, const char *why)
{
	atomic_fetch_add(&n->bad, 1);
	nact_log(n->sys, NACT_LOG_WARN, "node %s: bad frame on connection %u (%s): closed", n->name,
	    pipe, why);
	nng_pipe p = {pipe};
	nng_pipe_close(p);
}

static void in_hello(struct nacti_node *n, struct inconn *c, nng_msg *m)
{
	nact_reader r;
	uint32_t cnt;
	uint64_t vmin, vmax, caps;
	const void *nc;
	size_t ncl;
	int rv = hs_reader(&r, m);
	if (rv != 0) {
		in_refuse(n, c, "malformed hello", 0);
		return;
	}
	rv = nact_read_array(&r, &cnt);
	if (rv == 0 && cnt < 6)
		rv = NACT_EMALFORMED;
	if (rv == 0)
		rv = nact_read_uint(&r, &vmin);
	if (rv == 0)
		rv = nact_read_uint(&r, &vmax);
	if (rv == 0)
		rv = rd_str(&r, c->name, sizeof(c->name));
	if (rv == 0)
		rv = nact_read_uint(&r, &caps);
	if (rv == 0)
		rv = nact_read_bin(&r, &nc, &ncl);
	if (rv == 0 && ncl != NONCE)
		rv = NACT_EMALFORMED;
	if (rv == 0) {
		memcpy(c->nonce_c, nc, NONCE);
		rv = rd_str(&r, c->url, sizeof(c->url));
	}
	nact_reader_fini(&r);
	char why[160];
	if (rv != 0) {
		in_refuse(n, c, "malformed hello", 0);
		return;
	}
	if (vmin > n->proto || vmax < n->proto) {
		snprintf(why, sizeof(why),
		    "incompatible protocol version: peer speaks %llu..%llu, this node %u",
		    (unsigned long long)vmin, (unsigned long long)vmax, n->proto);
		in_refuse(n, c, why, 0);
		return;
	}
	if ((caps & CAPS_REQUIRED) != CAPS_REQUIRED) {
		snprintf(why, sizeof(why), "missing capabilities %#llx",
		    (unsigned long long)(CAPS_REQUIRED & ~caps));
		in_refuse(n, c, why, 0);
		return;
	}
	c->caps = caps; /* netsec */
	int secure = (caps & CAP_HMAC) != 0;
	if (secure != !n->insecure) {
		in_refuse(n, c,
		    n->insecure ? "peer requires authentication, this node runs insecure" :
		                  "peer runs without authentication, this node requires it",
		    1);
		return;
	}
	if (c->name[0] == '\0' || strcmp(c->name, n->name) == 0) {
		in_refuse(n, c, "bad or duplicate node name", 0);
		return;
	}
	uint8_t mac[MAC];
	if (rnd(n, c->nonce_s, NONCE) != 0)
		return;
	if (!n->insecure)
		mac_compute(n, "nactor-node server", c->nonce_c, c->nonce_s, c->name, n->name,
		    n->proto, mac);
	nng_msg *o;
	if (frame_new(&o, K_CHALLENGE) != 0)
		return;
	msgpack_packer pk;
	msgpack_packer_init(&pk, o, wr_nng);
	/* a lane is offered to a dialer that can use one (docs/wire.md) */
	int lane = n->lanes != NULL && (caps & CAP_LANE) != 0;
	msgpack_pack_array(&pk, lane ? 6 : 5);
	msgpack_pack_uint32(&pk, n->proto);
	msgpack_pack_str_with_body(&pk, n->name, strlen(n->name));
	msgpack_pack_uint32(&pk,
	    (n->insecure ? 0 : CAP_HMAC) | CAP_BATCH | CAP_MONITOR | CAP_CREDIT |
	        (lane ? CAP_LANE : 0));
	msgpack_pack_bin_with_body(&pk, c->nonce_s, NONCE);
	msgpack_pack_bin_with_body(&pk, mac, n->insecure ? 0 : MAC);
	if (lane)
		msgpack_pack_uint16(&pk, n->lport);
	c->state = IN_CHALLENGED;
	nng_pipe p = {c->pipe};
	send_now(n->lsock, o, p);
}

static void in_auth(struct nacti_node *n, struct inconn *c, nng_msg *m)
{
	nact_reader r;
	uint32_t cnt;
	const void *mac;
	size_t macl = 0;
	int rv = hs_reader(&r, m);
	if (rv != 0) {
		in_refuse(n, c, "malformed auth", 0);
		return;
	}
	rv = nact_read_array(&r, &cnt);
	if (rv == 0)
		rv = nact_read_bin(&r, &mac, &macl);
	int ok = rv == 0;
	if (ok && !n->insecure) {
		uint8_t want[MAC];
		ok = macl == MAC &&
		    mac_compute(n, "nactor-node client", c->nonce_c, c->nonce_s, c->name, n->name,
		        n->proto, want) == 0 &&
		    ct_equal(want, mac, MAC);
	}
	nact_reader_fini(&r);
	if (!ok) {
		in_refuse(n, c, "authentication failed (wrong secret?)", 1);
		return;
	}
	if (n->insecure && !n->tls_only)
		nact_log(n->sys, NACT_LOG_WARN,
		    "node %s: INSECURE connection from %s accepted without authentication", n->name,
		    c->name);
	struct peer *p = peer_by_name(n, c->name);
	if (p == NULL) {
		for (uint32_t i = 1; i <= n->npeers && p == NULL; i++) {
			struct peer *q = n->peers[i];
			if (!q->merged && q->name[0] == '\0' && strcmp(q->url, c->url) == 0) {
				p = q;
				snprintf(p->name, sizeof(p->name), "%s", c->name);
			}
		}
	}
	if (p == NULL)
		p = peer_new(n, c->name, c->url);
	if (p == NULL) {
		in_refuse(n, c, "peer table full", 0);
		return;
	}
	if (p->in_pipe != 0 && p->in_pipe != c->pipe) {
		/* the peer reconnected: the old pipe is stale */
		defer_pipe(n, p->in_pipe);
	}
	if (p->url[0] == '\0' || (!p->out_open && c->url[0] != '\0'))
		snprintf(p->url, sizeof(p->url), "%s", c->url);
	p->in_pipe = c->pipe;
	c->p = p;
	c->state = IN_AUTHED;
	c->close_at = 0;
	atomic_store_explicit(&p->last_rx, now_ms(), memory_order_relaxed);
	/* netsec: a fresh credit window for this connection, granted on our
	 * own connection to the peer (now, or once it is authenticated) */
	int cred = (c->caps & CAP_CREDIT) != 0;
	atomic_store(&p->in_credit, cred);
	if (cred)
		nacti_inq_reset(p->inq, cid_of(c->nonce_c), n->cwin);
	peer_dial(n, p);
	nng_msg *o = cred ? credit_frame(p, K_OK) : NULL; /* OK carries the first grant */
	if (o != NULL || frame_new(&o, K_OK) == 0) {
		nng_pipe pp = {c->pipe};
		send_now(n->lsock, o, pp);
	}
	peer_set_up(n, p, 1);
}

/* Deliver one checked record from peer p (nacti_deliver_fn). retry: a full
 * bounded mailbox answers NACT_EFULL and the caller keeps the record;
 * else it is dropped (at-most-once). */
static int deliver_rec(void *node, void *peer, const nacti_rec *r, int retry)
{
	struct nacti_node *n = node;
	struct peer *p = peer;
	nact_system *sys = n->sys;
	const uint8_t *e = r->env;
	uint32_t rl = r->len;
	uint64_t tgt = r->target;
	/* a pooled envelope (its nng_msg is recycled): header over the fresh
	 * one, then the body */
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, 0) != 0) {
		atomic_fetch_add(&n->dropped, 1);
		return 0;
	}
	memcpy(nacti_hdr(m), e, NACT_HDR_SIZE);
	if (rl > NACT_HDR_SIZE &&
	    nng_msg_append(m->nm, e + NACT_HDR_SIZE, rl - NACT_HDR_SIZE) != 0) {
		nact_msg_free(m);
		atomic_fetch_add(&n->dropped, 1);
		return 0;
	}
	uint8_t *h = nacti_hdr(m);
	uint64_t snd = r->sender;
	if (NACTI_ID_NODE(snd) == WIRE_YOURS)
		nacti_put64(h + NACTI_OFF_SENDER, snd & ID_LOW);
	else if (snd != 0)
		nacti_put64(h + NACTI_OFF_SENDER, (snd & ID_LOW) | ((uint64_t)p->no << 48));
	if (r->type == NACT_T_DOWN) {
		/* a remote monitor fired: only if we still hold it */
		uint64_t ref = nacti_le64(h + NACTI_OFF_CORR);
		int held = 0;
		nact_aid rt = NACT_AID_NONE;
		nng_mtx_lock(n->mtx);
		for (uint32_t i = 0; i < n->nrmons; i++) {
			if (n->rmons[i].ref == ref && n->rmons[i].watcher.v == tgt) {
				rt = n->rmons[i].target;
				n->rmons[i] = n->rmons[--n->nrmons];
				held = 1;
				break;
			}
		}
		nng_mtx_unlock(n->mtx);
		/* the body's id is the peer's: send our own DOWN naming the
		 * target as this node knows it */
		nact_exit_info ei;
		if (held && nact_exit_info_read(m, &ei) == 0) {
			nact_aid to = {tgt};
			nacti_send_exitinfo(sys, to, NACT_T_DOWN, ref, rt, rt, ei.reason, ei.text);
			atomic_fetch_add_explicit(&n->env_in, 1, memory_order_relaxed);
		}
		nact_msg_free(m);
		return 0;
	}
	nact_aid to = {tgt};
	int rv = nacti_deliver(sys, to, m, (r->flags & NACT_MF_CONTROL) != 0, 0);
	if (rv == NACT_EFULL && retry) {
		nact_msg_free(m);
		return NACT_EFULL;
	}
	atomic_fetch_add_explicit(&n->env_in, 1, memory_order_relaxed);
	if (rv != 0) {
		nact_msg_free(m); /* full bounded mailbox: at-most-once */
		atomic_fetch_add(&n->dropped, 1);
	}
	return 0;
}

/* netsec: the pump consumed more of p's inbox: send a CREDIT. */
static void grant_credit(void *node, void *peer)
{
	(void)node;
	credit_send(peer);
}

/* A DATA frame from peer p on connection c (n->mtx not held): checked as a
 * whole first (transport/frame.c), then queued for the pump (a peer that
 * speaks credits) or delivered now. Returns NULL, or why it is bad; *took
 * = 1 when the frame m went to the inbox. */
static const char *in_data(struct nacti_node *n, struct peer *p, uint64_t cid, int credit,
    nng_msg *m, int *took)
{
	const uint8_t *b = nng_msg_body(m);
	size_t len = nng_msg_len(m);
	uint32_t nrec;
	const char *bad = nacti_frame_check(b, len, &nrec);
	*took = 0;
	if (bad != NULL)
		return bad;
	atomic_fetch_add_explicit(&n->frames_in, 1, memory_order_relaxed);
	if (credit) {
		int rv = nacti_inq_push(p->inq, m, cid);
		if (rv == NACT_ELIMIT)
			return "credit window exceeded";
		if (rv == 0) {
			*took = 1;
			return NULL;
		}
		/* out of memory: deliver now, dropping what does not fit */
	}
	size_t off = FR_HDR;
	nacti_rec r;
	while (nacti_frame_next(b, len, &off, &r) == 0)
		deliver_rec(n, p, &r, 0);
	return NULL;
}

/* netsec: CREDIT [cid, window, consumed] from p for our connection to p
 * (arrives on p's connection to us), or the OK that carries the first. */
static const char *in_credit(struct nacti_node *n, struct peer *p, nng_msg *m)
{
	nact_reader r;
	uint32_t cnt;
	uint64_t cid, win, used;
	int rv = hs_reader(&r, m);
	if (rv != 0)
		return "malformed credit";
	rv = nact_read_array(&r, &cnt);
	if (rv == 0 && cnt < 3)
		rv = NACT_EMALFORMED;
	if (rv == 0)
		rv = nact_read_uint(&r, &cid);
	if (rv == 0)
		rv = nact_read_uint(&r, &win);
	if (rv == 0)
		rv = nact_read_uint(&r, &used);
	nact_reader_fini(&r);
	if (rv != 0)
		return "malformed credit";
	nng_mtx_lock(p->mtx);
	if (cid == p->cr_cid && used <= p->cr_sent) {
		p->cr_window = win;
		if (used > p->cr_consumed)
			p->cr_consumed = used;
		send_next_locked(p);
	}
	nng_mtx_unlock(p->mtx);
	(void)n;
	return NULL;
}

static void in_whereis(struct nacti_node *n, struct peer *p, uint32_t pid, nng_msg *m, int reply)
{
	nact_reader r;
	uint32_t cnt;
	uint64_t id, aid = 0;
	char name[256];
	int rv = hs_reader(&r, m);
	if (rv != 0)
		goto bad;
	rv = nact_read_array(&r, &cnt);
	if (rv == 0)
		rv = nact_read_uint(&r, &id);
	if (rv == 0)
		rv = reply ? nact_read_uint(&r, &aid) : rd_str(&r, name, sizeof(name));
	nact_reader_fini(&r);
	if (rv != 0)
		goto bad;
	if (reply) {
		nng_mtx_lock(n->mtx);
		for (struct wreq *w = n->wreqs; w != NULL; w = w->next) {
			if (w->id == id && w->node == p->no && !w->done) {
				w->done = 1;
				w->err = aid == 0 ? NACT_ENOENT : 0;
				w->aid.v =
				    (aid & ((UINT64_C(1) << 48) - 1)) | ((uint64_t)p->no << 48);
				nng_cv_wake(n->cv);
			}
		}
		nng_mtx_unlock(n->mtx);
		return;
	}
	nact_aid a = nact_whereis(n->sys, name);
	if (NACTI_ID_NODE(a.v) != 0)
		a.v = 0;
	nng_msg *o;
	if (frame_new(&o, K_WHEREIS_R) != 0)
		return;
	msgpack_packer pk;
	msgpack_packer_init(&pk, o, wr_nng);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, id);
	msgpack_pack_uint64(&pk, a.v);
	queue_frame(p, o);
	return;
bad:
	in_bad(n, pid, "malformed whereis");
}

static void in_monitor(struct nacti_node *n, struct peer *p, uint32_t pid, nng_msg *m)
{
	nact_reader r;
	uint32_t cnt;
	uint64_t ref, target, watcher;
	int rv = hs_reader(&r, m);
	if (rv != 0) {
		in_bad(n, pid, "malformed monitor");
		return;
	}
	rv = nact_read_array(&r, &cnt);
	if (rv == 0)
		rv = nact_read_uint(&r, &ref);
	if (rv == 0)
		rv = nact_read_uint(&r, &target);
	if (rv == 0)
		rv = nact_read_uint(&r, &watcher);
	nact_reader_fini(&r);
	if (rv != 0 || NACTI_ID_NODE(target) != 0 || NACTI_ID_NODE(watcher) != 0 || watcher == 0) {
		in_bad(n, pid, "malformed monitor");
		return;
	}
	nact_aid w = {watcher | ((uint64_t)p->no << 48)};
	nact_aid t = {target};
	if (nacti_monitor_add(n->sys, t, ref, w) != 0)
		nacti_send_exitinfo(n->sys, w, NACT_T_DOWN, ref, t, t, NACT_EXIT_NOPROC, NULL);
}

static void in_demonitor(struct nacti_node *n, struct peer *p, uint32_t pid, nng_msg *m)
{
	nact_reader r;
	uint32_t cnt;
	uint64_t ref, target;
	int rv = hs_reader(&r, m);
	if (rv == 0)
		rv = nact_read_array(&r, &cnt);
	if (rv == 0)
		rv = nact_read_uint(&r, &ref);
	if (rv == 0)
		rv = nact_read_uint(&r, &target);
	nact_reader_fini(&r);
	if (rv != 0 || NACTI_ID_NODE(target) != 0) {
		in_bad(n, pid, "malformed demonitor");
		return;
	}
	nact_aid t = {target};
	nacti_monitor_del(n->sys, t, ref);
}

static int link_frame(struct peer *p, int kind, nact_aid to, nact_aid from, int reason,
    const char *text)
{
	nng_msg *m;
	int rv = frame_new(&m, kind);
	if (rv != 0)
		return rv;
	msgpack_packer pk;
	msgpack_packer_init(&pk, m, wr_nng);
	msgpack_pack_array(&pk, kind == K_EXIT ? 4 : 2);
	msgpack_pack_uint64(&pk, to.v & ID_LOW);
	msgpack_pack_uint64(&pk, from.v & ID_LOW);
	if (kind == K_EXIT) {
		size_t tl = text != NULL ? strnlen(text, 255) : 0;
		msgpack_pack_int64(&pk, reason);
		msgpack_pack_str(&pk, tl);
		msgpack_pack_str_body(&pk, text != NULL ? text : "", tl);
	}
	return queue_frame(p, m);
}

/* K_LINK / K_UNLINK [target, linker], K_EXIT [target, from, reason, text]:
 * target is ours, the other id the peer's. */
static void in_link(struct nacti_node *n, struct peer *p, uint32_t pid, nng_msg *m, int kind)
{
	nact_reader r;
	uint32_t cnt = 0;
	uint64_t target = 0, from = 0;
	int64_t reason = 0;
	char text[256] = "";
	int rv = hs_reader(&r, m);
	if (rv != 0) {
		in_bad(n, pid, "malformed link");
		return;
	}
	rv = nact_read_array(&r, &cnt);
	if (rv == 0 && cnt != (kind == K_EXIT ? 4u : 2u))
		rv = NACT_EBADMSG;
	if (rv == 0)
		rv = nact_read_uint(&r, &target);
	if (rv == 0)
		rv = nact_read_uint(&r, &from);
	if (rv == 0 && kind == K_EXIT)
		rv = nact_read_int(&r, &reason);
	if (rv == 0 && kind == K_EXIT)
		rv = rd_str(&r, text, sizeof(text));
	nact_reader_fini(&r);
	if (rv != 0 || NACTI_ID_NODE(target) != 0 || NACTI_ID_NODE(from) != 0 || target == 0 ||
	    from == 0 || reason < INT32_MIN || reason > INT32_MAX) {
		in_bad(n, pid, "malformed link");
		return;
	}
	nact_aid t = {target};
	nact_aid f = {from | ((uint64_t)p->no << 48)};
	nng_mtx_lock(n->mtx);
	if (kind == K_LINK) {
		/* both records under n->mtx: a nodedown sees both or neither
		 * (not gated on p->up: the frame itself shows the peer alive,
		 * and its own view of us decided the link) */
		if ((rv = rlink_add(n, t, f)) == 0 &&
		    (rv = nacti_link_add_remote(n->sys, t, f)) != 0)
			rlink_del(n, t, f);
		nng_mtx_unlock(n->mtx);
		/* a gone target: the linker gets noproc, as for a local link
		 * (any other failure: that error as the reason) */
		if (rv == NACT_ENOENT)
			link_frame(p, K_EXIT, f, t, NACT_EXIT_NOPROC, "noproc");
		else if (rv != 0)
			link_frame(p, K_EXIT, f, t, rv, NULL);
		return;
	}
	rlink_del(n, t, f);
	int had = nacti_link_take(n->sys, t, f);
	nng_mtx_unlock(n->mtx);
	if (kind == K_EXIT && had)
		nacti_send_exitinfo(n->sys, t, NACTI_T_EXITSIG, 0, f, f, (int)reason,
		    text[0] ? text : NULL);
}

/* A frame kind on an authenticated connection of peer p (inbound pipe
 * pid, credit connection id cid; n->mtx not held). Returns NULL or why the
 * frame is bad; *took = 1 when m was kept (queued in p's inbox). */
static const char *in_frame(struct nacti_node *n, struct peer *p, uint32_t pid, uint64_t cid,
    int credit, nng_msg *m, int *took)
{
	const uint8_t *b = nng_msg_body(m);
	size_t len = nng_msg_len(m);
	int kind = b[2];
	const char *bad = NULL;
	*took = 0;
	atomic_store_explicit(&p->last_rx, now_ms(), memory_order_relaxed);
	if (kind == K_DATA)
		bad = in_data(n, p, cid, credit, m, took);
	else if (kind == K_CREDIT)
		bad = in_credit(n, p, m);
	else if (kind == K_PING)
		;
	else if (kind == K_WHEREIS || kind == K_WHEREIS_R)
		in_whereis(n, p, pid, m, kind == K_WHEREIS_R);
	else if (kind == K_MONITOR)
		in_monitor(n, p, pid, m);
	else if (kind == K_DEMONITOR)
		in_demonitor(n, p, pid, m);
	else if (kind == K_LINK || kind == K_UNLINK || kind == K_EXIT)
		in_link(n, p, pid, m, kind);
	else if (kind == K_NAMES)
		nacti_names_frame(n->sys, p->no, b + FR_HDR, len - FR_HDR);
	else if (kind == K_SWIM)
		nacti_members_receive(n->members, p->name, b + FR_HDR, len - FR_HDR);
	else
		bad = "unknown frame kind";
	return bad;
}

static void in_recv_cb(void *arg)
{
	struct nacti_node *n = arg;
	if (nng_aio_result(n->lraio) != 0)
		return; /* closed */
	nng_msg *m = nng_aio_get_msg(n->lraio);
	uint32_t pid = nng_pipe_id(nng_msg_get_pipe(m));
	size_t len = nng_msg_len(m);
	const uint8_t *b = nng_msg_body(m);
	const char *bad = NULL;
	nng_mtx_lock(n->mtx);
	struct inconn *c = in_get(n, pid);
	if (c == NULL) {
		nng_mtx_unlock(n->mtx);
		goto out; /* out of memory */
	}
	if (len < FR_HDR || b[0] != FR_MAGIC) {
		bad = "garbage";
	} else if (b[1] != FR_VER) {
		bad = "unknown frame version";
	} else if (c->state == IN_REFUSED) {
		NACTI_DEBUG(n->sys, "node %s: frame on refused connection %u", n->name, pid);
		/* ignore until closed */
	} else if (c->state == IN_NEW) {
		NACTI_DEBUG(n->sys, "node %s: frame %d on new connection %u", n->name, b[2], pid);
		if (b[2] == K_HELLO)
			in_hello(n, c, m);
		else
			bad = "data before handshake";
	} else if (c->state == IN_CHALLENGED) {
		NACTI_DEBUG(n->sys, "node %s: frame %d on challenged connection %u", n->name, b[2],
		    pid);
		if (b[2] == K_AUTH)
			in_auth(n, c, m);
		else
			bad = "data before authentication";
	} else {
		struct peer *p = c->p;
		uint64_t cid = cid_of(c->nonce_c);
		int credit = (c->caps & CAP_CREDIT) != 0;
		nng_mtx_unlock(n->mtx);
		int took = 0;
		bad = in_frame(n, p, pid, cid, credit, m, &took);
		if (bad != NULL)
			in_bad(n, pid, bad);
		if (took)
			m = NULL; /* queued in p's inbox */
		goto out;
	}
	nng_mtx_unlock(n->mtx);
	if (bad != NULL)
		in_bad(n, pid, bad);
out:
	if (m != NULL)
		nng_msg_free(m);
	flush_closes(n);
	rx_rearm(n, n->lsock, n->lraio);
}

/* ---- tick: heartbeats, silence, refused pipes ---- */

static void tick_main(void *arg)
{
	struct nacti_node *n = arg;
	uint64_t last_tick = now_ms();
	nng_mtx_lock(n->mtx);
	while (!n->stopping) {
		nng_cv_until(n->cv, nng_clock() + n->hb_ms);
		if (n->stopping)
			break;
		uint64_t t = now_ms();
		if (t - last_tick > n->down_ms / 2) {
			/* this process did not run for a while (stopped, or
			 * starved): what the peers sent meanwhile is still
			 * waiting to be read, so restart their silence timers
			 * rather than close connections on which frames are
			 * arriving (see stop_wait_inbound) */
			nact_log(n->sys, NACT_LOG_WARN,
			    "node %s: stalled for %llu ms: silence timers restarted", n->name,
			    (unsigned long long)(t - last_tick));
			for (uint32_t i = 1; i <= n->npeers; i++)
				atomic_store_explicit(&n->peers[i]->last_rx, t,
				    memory_order_relaxed);
		}
		last_tick = t;
		for (uint32_t i = 0; i < n->nin;) {
			struct inconn *c = &n->in[i];
			if (c->close_at != 0 && t >= c->close_at) {
				c->close_at = 0;
				c->state = IN_REFUSED;
				c->forget_at = t + 5000;
				defer_pipe(n, c->pipe);
			}
			if (c->forget_at != 0 && t >= c->forget_at && c->p == NULL) {
				/* its REM_POST came before its first frame */
				*c = n->in[--n->nin];
				continue;
			}
			i++;
		}
		for (uint32_t i = 1; i <= n->npeers; i++) {
			struct peer *p = n->peers[i];
			if (p->merged)
				continue;
			if (atomic_load(&p->up) &&
			    t - atomic_load_explicit(&p->last_rx, memory_order_relaxed) >
			        n->down_ms) {
				nact_log(n->sys, NACT_LOG_WARN, "node %s: peer %s silent for %u ms",
				    n->name, p->name, n->down_ms);
				peer_silent(n, p);
				continue;
			}
			nng_mtx_lock(p->mtx);
			/* idle: nothing can go out now (empty, or waiting for
			 * credit: then the PING jumps the queue) */
			int idle = p->out_state == OUT_AUTHED && !p->busy &&
			    (p->rn == 0 || !credit_ok_locked(p, p->ring[p->rh]));

			int redial = p->redial_at != 0 && t >= p->redial_at;
			if (redial)
				p->redial_at = 0;
			/* insurance: a dialer that has not connected for a long
			 * time is replaced (its backoff is capped anyway) */
			if (!redial && p->redial_at == 0 && p->out_state == OUT_NONE &&
			    p->none_since != 0 && t - p->none_since > 3 * (uint64_t)n->rmax) {
				p->none_since = t;
				p->dclose_at = t;
				p->redial_at = t;
			}
			int dclose = p->dclose_at != 0 && t >= p->dclose_at;
			if (dclose)
				p->dclose_at = 0;
			/* lanes: one that does not connect in time is given up;
			 * frames a writer left behind (a handler whose turn
			 * never ended normally) go now */
			if (p->lstate == L_CONNECTING && t - p->lconn_at > LANE_CONNECT_MS)
				lane_giveup_locked(p, "connect timed out");
			if (p->lstate == L_UP && !p->busy && p->rn > 0) {
				p->lflushq = 0;
				p->lkick = 0;
				send_next_locked(p);
			}
			nng_dialer dd = p->dialer;
			nng_mtx_unlock(p->mtx);
			if (dclose)
				defer_dialer(n, dd.id);
			if (redial && p->out_open) {
				nng_dialer d;
				if (nacti_tls_dial(n->tls, p->out, p->url, &d, NNG_FLAG_NONBLOCK) ==
				    0) {
					nng_mtx_lock(p->mtx);
					p->dialer = d;
					nng_mtx_unlock(p->mtx);
				}
			}
			/* netsec: repeat the grant (a lost CREDIT must not stall
			 * the peer) */
			credit_send(p);
			if (idle) {
				nng_mtx_lock(p->mtx);
				p->want_ping = 1;
				send_next_locked(p);
				nng_mtx_unlock(p->mtx);
			}
		}
		nng_mtx_unlock(n->mtx);
		flush_closes(n);
		nng_mtx_lock(n->mtx);
	}
	nng_mtx_unlock(n->mtx);
}

/* ---- remote monitor hook ---- */

static int node_monitor(nact_system *sys, nact_aid watcher, nact_aid target, uint64_t ref)
{
	atomic_fetch_add_explicit(&sys->node_users, 1, memory_order_seq_cst);
	struct nacti_node *n = atomic_load_explicit(&sys->node, memory_order_seq_cst);
	struct peer *p = n ? peer_at(n, NACTI_ID_NODE(target.v)) : NULL;
	int rv = 0;
	if (p == NULL || !atomic_load(&p->up)) {
		rv = NACT_ENODEDOWN;
		goto out;
	}
	nng_mtx_lock(n->mtx);
	if (n->nrmons == n->caprmons) {
		uint32_t c = n->caprmons ? n->caprmons * 2 : 16;
		struct rmon *nr = realloc(n->rmons, c * sizeof(*nr));
		if (nr == NULL) {
			nng_mtx_unlock(n->mtx);
			rv = NACT_ENOMEM;
			goto out;
		}
		n->rmons = nr;
		n->caprmons = c;
	}
	n->rmons[n->nrmons++] = (struct rmon){ref, watcher, target};
	nng_mtx_unlock(n->mtx);
	nng_msg *m;
	if ((rv = frame_new(&m, K_MONITOR)) == 0) {
		msgpack_packer pk;
		msgpack_packer_init(&pk, m, wr_nng);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint64(&pk, ref);
		msgpack_pack_uint64(&pk, target.v & ((UINT64_C(1) << 48) - 1));
		msgpack_pack_uint64(&pk, watcher.v);
		rv = queue_frame(p, m);
	}
	if (rv != 0) {
		nng_mtx_lock(n->mtx);
		for (uint32_t i = 0; i < n->nrmons; i++)
			if (n->rmons[i].ref == ref) {
				n->rmons[i] = n->rmons[--n->nrmons];
				break;
			}
		nng_mtx_unlock(n->mtx);
	}
out:
	atomic_fetch_sub_explicit(&sys->node_users, 1, memory_order_release);
	if (rv == NACT_ENODEDOWN) /* as for a gone actor: a DOWN right away */
		return nacti_send_exitinfo(sys, watcher, NACT_T_DOWN, ref, target, target,
		    NACT_EXIT_NODEDOWN, "nodedown");
	return rv;
}

static int node_demonitor(nact_system *sys, nact_aid watcher, uint64_t ref)
{
	atomic_fetch_add_explicit(&sys->node_users, 1, memory_order_seq_cst);
	struct nacti_node *n = atomic_load_explicit(&sys->node, memory_order_seq_cst);
	int rv = NACT_ENOENT;
	nact_aid target = NACT_AID_NONE;
	if (n != NULL) {
		nng_mtx_lock(n->mtx);
		for (uint32_t i = 0; i < n->nrmons; i++) {
			if (n->rmons[i].ref == ref && n->rmons[i].watcher.v == watcher.v) {
				target = n->rmons[i].target;
				n->rmons[i] = n->rmons[--n->nrmons];
				rv = 0;
				break;
			}
		}
		nng_mtx_unlock(n->mtx);
	}
	struct peer *p = rv == 0 ? peer_at(n, NACTI_ID_NODE(target.v)) : NULL;
	nng_msg *m;
	/* tell the peer (if it is down, its monitor went with it); a DOWN
	 * already on its way is dropped on arrival: we hold no monitor */
	if (p != NULL && frame_new(&m, K_DEMONITOR) == 0) {
		msgpack_packer pk;
		msgpack_packer_init(&pk, m, wr_nng);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, ref);
		msgpack_pack_uint64(&pk, target.v & ID_LOW);
		queue_frame(p, m);
	}
	atomic_fetch_sub_explicit(&sys->node_users, 1, memory_order_release);
	return rv;
}

/* The node_link hook (actors/link.c): the remote half of a link. */
static int node_link(nact_system *sys, int op, nact_aid self, nact_aid other, int reason,
    const char *text)
{
	atomic_fetch_add_explicit(&sys->node_users, 1, memory_order_seq_cst);
	struct nacti_node *n = atomic_load_explicit(&sys->node, memory_order_seq_cst);
	struct peer *p = n ? peer_at(n, NACTI_ID_NODE(other.v)) : NULL;
	int rv = 0;
	if (p == NULL) {
		rv = op == NACTI_NL_LINK ? NACT_ENODEDOWN : 0;
		goto out;
	}
	nng_mtx_lock(n->mtx);
	if (op == NACTI_NL_LINK) {
		/* up checked under n->mtx: a nodedown after this finds the record */
		rv = atomic_load(&p->up) ? rlink_add(n, self, other) : NACT_ENODEDOWN;
	} else {
		rlink_del(n, self, other);
	}
	nng_mtx_unlock(n->mtx);
	if (rv != 0)
		goto out;
	int kind = op == NACTI_NL_LINK ? K_LINK : op == NACTI_NL_UNLINK ? K_UNLINK : K_EXIT;
	rv = link_frame(p, kind, other, self, reason, text);
	if (rv != 0 && op == NACTI_NL_LINK) {
		nng_mtx_lock(n->mtx);
		rlink_del(n, self, other);
		nng_mtx_unlock(n->mtx);
	} else if (op != NACTI_NL_LINK) {
		rv = 0; /* the peer is down: its side broke the link already */
	}
out:
	atomic_fetch_sub_explicit(&sys->node_users, 1, memory_order_release);
	return rv;
}

/* ---- public API ---- */

void nact_node_opts_init(nact_node_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static void node_free(struct nacti_node *n)
{
	nacti_lanes_free(n->lanes); /* stops it first if need be */
	nacti_credit_free(n->cr);   /* netsec: stops the pump, frees inboxes */
	for (uint32_t i = 1; i <= n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (p->out_open)
			nng_close(p->out);
		if (p->saio) {
			nng_aio_stop(p->saio);
			nng_aio_free(p->saio);
		}
		if (p->inflight != NULL) /* submitted after stop: never sent */
			nng_msg_free(p->inflight);
		if (p->lfd >= 0)
			close(p->lfd); /* the lane thread is gone: no epoll to tell */
		if (p->raio) {
			nng_aio_stop(p->raio);
			nng_aio_free(p->raio);
		}
		queue_drop_locked(p);
		nng_cv_free(p->cv);
		nng_mtx_free(p->mtx);
		free(p);
	}
	if (n->lraio)
		nng_aio_free(n->lraio);
	mbedtls_ctr_drbg_free(&n->drbg);
	mbedtls_entropy_free(&n->ent);
	nacti_tls_free(n->tls);
	if (n->secret) {
		memset(n->secret, 0, n->secret_len);
		free(n->secret);
	}
	free(n->in);
	free(n->rmons);
	/* this node stopped: local actors' links to remote ones break */
	for (uint32_t i = 0; i < n->nrlinks; i++) {
		struct rlink l = n->rlinks[i];
		if (nacti_link_take(n->sys, l.local, l.remote))
			nacti_send_exitinfo(n->sys, l.local, NACTI_T_EXITSIG, 0, l.remote, l.remote,
			    NACT_EXIT_NODEDOWN, "nodedown");
	}
	free(n->rlinks);
	free(n->cl_pipes);
	free(n->cl_dialers);
	if (n->cv)
		nng_cv_free(n->cv);
	if (n->mtx)
		nng_mtx_free(n->mtx);
	if (n->rmtx)
		nng_mtx_free(n->rmtx);
	if (n->rxmtx)
		nng_mtx_free(n->rxmtx);
	free(n);
}

int nact_node_start(nact_system *sys, const nact_node_opts *o)
{
	if (sys == NULL || o == NULL || o->name == NULL || o->name[0] == '\0' ||
	    strlen(o->name) > NACT_NODE_NAME_MAX || o->nlisten == 0 || o->listen == NULL ||
	    (o->nseeds > 0 && o->seeds == NULL))
		return NACT_EINVAL;
	if (o->secret == NULL && !o->allow_insecure && !o->tls_only) {
		nact_log(sys, NACT_LOG_ERROR,
		    "node %s: no secret given and allow_insecure not set: refusing to start",
		    o->name);
		return NACT_EINVAL;
	}
	if (o->secret != NULL && o->secret_len < 16)
		return NACT_EINVAL;
	if (nacti_cur != NULL)
		return NACT_EDEADLK;
	if (atomic_load(&sys->node) != NULL)
		return NACT_EEXIST;
	struct nacti_node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NACT_ENOMEM;
	n->sys = sys;
	snprintf(n->name, sizeof(n->name), "%s", o->name);
	snprintf(n->adv, sizeof(n->adv), "%s", o->listen[0]);
	n->insecure = o->secret == NULL;
	n->tls_only = o->tls_only != 0;
	int rv = nacti_tls_init(sys, o, &n->tls);
	if (rv != 0) {
		free(n);
		return rv;
	}
	n->proto = o->proto ? o->proto : NACT_NODE_PROTO;
	n->hb_ms = o->heartbeat_ms ? o->heartbeat_ms : 200;
	n->down_ms = o->down_after_ms ? o->down_after_ms : 1500;
	n->rmin = o->reconnect_min_ms ? o->reconnect_min_ms : 50;
	n->rmax = o->reconnect_max_ms ? o->reconnect_max_ms : 2000;
	n->qmax = o->queue_max ? o->queue_max : (size_t)16 * 1024 * 1024;
	n->cwin = o->credit_window ? o->credit_window : (size_t)1024 * 1024;
	mbedtls_entropy_init(&n->ent);
	mbedtls_ctr_drbg_init(&n->drbg);
	rv = NACT_ENOMEM;
	if (nng_mtx_alloc(&n->mtx) != 0 || nng_cv_alloc(&n->cv, n->mtx) != 0 ||
	    nng_mtx_alloc(&n->rmtx) != 0 || nng_mtx_alloc(&n->rxmtx) != 0)
		goto fail;
	if (!n->insecure) {
		if ((n->secret = malloc(o->secret_len)) == NULL)
			goto fail;
		memcpy(n->secret, o->secret, o->secret_len);
		n->secret_len = o->secret_len;
	} else if (o->tls_only) {
		nact_log(sys, NACT_LOG_INFO,
		    "node %s: tls_only: peers are authenticated by their TLS certificates alone",
		    n->name);
	} else {
		nact_log(sys, NACT_LOG_WARN,
		    "node %s: RUNNING WITHOUT AUTHENTICATION (allow_insecure): any process "
		    "that can reach the listen URLs can send to every actor",
		    n->name);
	}
	if (mbedtls_ctr_drbg_seed(&n->drbg, mbedtls_entropy_func, &n->ent,
	        (const unsigned char *)n->name, strlen(n->name)) != 0) {
		rv = NACT_ESYSERR;
		goto fail;
	}
	int e;
	if ((rv = nacti_credit_start(&n->cr, n, deliver_rec, grant_credit)) != 0)
		goto fail;
	if ((e = nng_pair1_open_poly(&n->lsock)) != 0)
		goto fail_e;
	nng_socket_set_size(n->lsock, NNG_OPT_RECVMAXSZ, NACT_NODE_MAX_FRAME);
	nng_socket_set_ms(n->lsock, NNG_OPT_SENDTIMEO, 1000);
	nng_pipe_notify(n->lsock, NNG_PIPE_EV_ADD_POST, in_pipe_cb, n);
	nng_pipe_notify(n->lsock, NNG_PIPE_EV_REM_POST, in_pipe_cb, n);
	if ((e = nng_aio_alloc(&n->lraio, in_recv_cb, n)) != 0)
		goto fail_close;
	nng_listener first_l = NNG_LISTENER_INITIALIZER;
	for (uint32_t i = 0; i < o->nlisten; i++) {
		nng_listener l;
		if ((e = nacti_tls_listen(n->tls, n->lsock, o->listen[i], &l)) != 0) {
			nact_log(sys, NACT_LOG_ERROR, "node %s: cannot listen on %s: %s", n->name,
			    o->listen[i], nng_strerror(e));
			goto fail_close;
		}
		/* tcp://host:0: advertise the port the system chose */
		size_t ul = strlen(o->listen[i]);
		int port;
		if (i == 0)
			first_l = l;
		if (i == 0 &&
		    (strncmp(o->listen[i], "tcp://", 6) == 0 ||
		        strncmp(o->listen[i], "tls+tcp://", 10) == 0) &&
		    ul > 2 && strcmp(o->listen[i] + ul - 2, ":0") == 0 &&
		    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) == 0)
			snprintf(n->adv, sizeof(n->adv), "%.*s:%d", (int)(ul - 2), o->listen[i],
			    port);
	}
	/* lanes: plain tcp:// only (TLS keeps every byte inside TLS) */
	const char *env_lanes = getenv("NACTOR_LANES"); /* "0": off, for comparisons */
	if (o->lanes >= 0 && n->tls == NULL && strncmp(o->listen[0], "tcp://", 6) == 0 &&
	    (env_lanes == NULL || strcmp(env_lanes, "0") != 0)) {
		nng_sockaddr la; /* the address the first listener is bound to */
		uint16_t lp = 0;
		if (nng_listener_get_addr(first_l, NNG_OPT_LOCADDR, &la) != 0)
			la.s_family = NNG_AF_UNSPEC;
		int lrv = la.s_family == NNG_AF_INET || la.s_family == NNG_AF_INET6 ?
		    nacti_lanes_start(&n->lanes, &lane_ops, n, &la, &lp,
		        o->lane_spin_us == 0              ? 50 :
		            o->lane_spin_us == UINT32_MAX ? 0 :
		                                            o->lane_spin_us,
		        NACT_NODE_MAX_FRAME) :
		    NACT_EINVAL;
		if (lrv != 0) {
			n->lanes = NULL;
			nact_log(sys, NACT_LOG_WARN, "node %s: no lanes (%s): frames stay on nng",
			    n->name, nact_strerror(lrv));
		}
		n->lport = lp;
	}
	if ((e = nng_thread_create(&n->tick, tick_main, n)) != 0)
		goto fail_close;
	atomic_store(&sys->node, n);
	atomic_store(&sys->node_send, node_send);
	atomic_store(&sys->node_monitor, node_monitor);
	atomic_store(&sys->node_demonitor, node_demonitor);
	atomic_store(&sys->node_link, node_link);
	if (n->lanes != NULL) {
		atomic_store(&sys->node_poll, node_poll_hook);
		atomic_store(&sys->node_park, node_park_hook);
	}
	nng_mtx_lock(n->mtx);
	for (uint32_t i = 0; i < o->nseeds; i++) {
		struct peer *p = peer_new(n, NULL, o->seeds[i]);
		if (p != NULL)
			peer_dial(n, p);
	}
	nng_mtx_unlock(n->mtx);
	if ((rv = nacti_members_open(&n->members, n, sys, n->name, n->adv, o)) != 0) {
		/* membership is part of the node: without it, no node */
		nact_log(sys, NACT_LOG_ERROR, "node %s: membership: %s", n->name,
		    nact_strerror(rv));
		n->members = NULL;
		nng_recv_aio(n->lsock, n->lraio);
		nact_node_stop(sys);
		return rv;
	}
	nng_recv_aio(n->lsock, n->lraio);
	nact_log(sys, NACT_LOG_INFO, "node %s: listening on %s (%u URLs), %u seeds", n->name,
	    n->adv, o->nlisten, o->nseeds);
	return 0;
fail_close:
	nng_close(n->lsock);
fail_e:
	rv = NACT_ETRANERR + e;
fail:
	node_free(n);
	return rv;
}

void nact_node_stop(nact_system *sys)
{
	if (sys == NULL)
		return;
	struct nacti_node *n = atomic_exchange(&sys->node, NULL);
	if (n == NULL)
		return;
	/* no new hook call sees n; wait for those in progress */
	while (atomic_load(&sys->node_users) != 0)
		nng_msleep(1);
	nacti_names_node_stop(sys);
	/* a graceful leave: tell a few members (over the connections that
	 * exist: no dial now), give the frames a moment */
	atomic_store(&n->leaving, 1);
	nacti_members_leave(n->members);
	nng_time ldl = nng_clock() + 300;
	nng_mtx_lock(n->mtx);
	uint32_t npl = n->npeers;
	nng_mtx_unlock(n->mtx);
	for (uint32_t i = 1; n->members != NULL && i <= npl; i++) {
		struct peer *p = peer_at(n, (uint16_t)i);
		nng_mtx_lock(p->mtx);
		while ((p->rn > 0 || p->busy) && p->out_state == OUT_AUTHED && nng_clock() < ldl)
			nng_cv_until(p->cv, nng_clock() + 5);
		nng_mtx_unlock(p->mtx);
	}
	nng_mtx_lock(n->mtx);
	n->stopping = 1;
	for (struct wreq *w = n->wreqs; w != NULL; w = w->next) {
		if (!w->done) {
			w->done = 1;
			w->err = NACT_ECLOSED;
		}
	}
	nng_cv_wake(n->cv);
	nng_mtx_unlock(n->mtx);
	nng_thread_destroy(n->tick);
	nacti_lanes_stop(n->lanes); /* no more lane frames or events */
	nacti_credit_stop(n->cr);   /* netsec: no more deliveries or grants */
	/* wait for whereis callers to leave */
	nng_mtx_lock(n->mtx);
	while (n->wreqs != NULL)
		nng_cv_until(n->cv, nng_clock() + 10);
	nng_mtx_unlock(n->mtx);
	/* close first, then wait for the callbacks: with the receive aio
	 * stopped first, frames still arriving fill pair1's receive queue and
	 * nng 1.5.2's nng_close can wait for them forever (netsec: seen with
	 * CREDIT traffic); a callback running now does not re-arm its aio
	 * (rx_rearm) */
	nng_mtx_lock(n->rxmtx);
	n->rx_off = 1;
	nng_mtx_unlock(n->rxmtx);
	nng_close(n->lsock);
	nng_aio_stop(n->lraio);
	nacti_members_close(n->members); /* no more receives: stop ticking */
	n->members = NULL;
	for (uint32_t i = 1; i <= n->npeers; i++) {
		struct peer *p = n->peers[i];
		if (p->out_open) {
			nng_close(p->out);
			p->out_open = 0;
		}
		if (p->raio)
			nng_aio_stop(p->raio);
		if (p->saio)
			nng_aio_stop(p->saio);
	}
	node_free(n);
}

/* Caller holds sys->node_users. */
static struct nacti_node *node_get(nact_system *sys)
{
	atomic_fetch_add_explicit(&sys->node_users, 1, memory_order_seq_cst);
	struct nacti_node *n = atomic_load_explicit(&sys->node, memory_order_seq_cst);
	if (n == NULL)
		atomic_fetch_sub_explicit(&sys->node_users, 1, memory_order_release);
	return n;
}

static void node_put(nact_system *sys)
{
	atomic_fetch_sub_explicit(&sys->node_users, 1, memory_order_release);
}

int nact_node_peer(nact_system *sys, const char *name, uint16_t *nodep, int timeout_ms)
{
	if (sys == NULL || name == NULL || nodep == NULL)
		return NACT_EINVAL;
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	nng_time until = nng_clock() + (nng_time)(timeout_ms > 0 ? timeout_ms : 0);
	int rv = NACT_ENOENT;
	nng_mtx_lock(n->mtx);
	for (;;) {
		struct peer *p = peer_by_name(n, name);
		if (p != NULL && timeout_ms > 0 && atomic_load(&p->ondemand) &&
		    atomic_exchange(&p->ondemand, 0))
			peer_dial(n, p); /* known from membership: connect now */
		if (p != NULL && (timeout_ms <= 0 || atomic_load(&p->up))) {
			*nodep = p->no;
			rv = 0;
			break;
		}
		if (timeout_ms <= 0 || n->stopping || nng_cv_until(n->cv, until) == NNG_ETIMEDOUT)
			break;
	}
	nng_mtx_unlock(n->mtx);
	node_put(sys);
	return rv;
}

int nact_node_url(nact_system *sys, char *buf, size_t len)
{
	if (sys == NULL || buf == NULL || len == 0)
		return NACT_EINVAL;
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	int rv = strlen(n->adv) < len ? 0 : NACT_ERANGE;
	if (rv == 0)
		memcpy(buf, n->adv, strlen(n->adv) + 1);
	node_put(sys);
	return rv;
}

int nact_node_up(nact_system *sys, uint16_t node)
{
	struct nacti_node *n = sys ? node_get(sys) : NULL;
	if (n == NULL)
		return 0;
	struct peer *p = peer_at(n, node);
	int up = p != NULL && atomic_load(&p->up);
	node_put(sys);
	return up;
}

int nact_node_whereis(nact_system *sys, uint16_t node, const char *name, nact_aid *aidp,
    int timeout_ms)
{
	if (sys == NULL || name == NULL || aidp == NULL || strlen(name) > 255 || timeout_ms < 0)
		return NACT_EINVAL;
	if (nacti_cur != NULL)
		return NACT_EDEADLK;
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	struct peer *p = peer_at(n, node);
	if (p == NULL || !atomic_load(&p->up)) {
		node_put(sys);
		return p == NULL ? NACT_EINVAL : NACT_ENODEDOWN;
	}
	struct wreq w = {.node = node};
	nng_mtx_lock(n->mtx);
	w.id = ++n->wnext;
	w.next = n->wreqs;
	n->wreqs = &w;
	nng_mtx_unlock(n->mtx);
	/* the caller's hold on node_users would block stop; drop it while
	 * waiting (stop waits for wreqs instead) */
	node_put(sys);
	nng_msg *m;
	int rv = frame_new(&m, K_WHEREIS);
	if (rv == 0) {
		msgpack_packer pk;
		msgpack_packer_init(&pk, m, wr_nng);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, w.id);
		msgpack_pack_str_with_body(&pk, name, strlen(name));
		rv = queue_frame(p, m);
	}
	nng_time until = nng_clock() + (nng_time)timeout_ms;
	nng_mtx_lock(n->mtx);
	while (rv == 0 && !w.done) {
		if (nng_cv_until(n->cv, until) == NNG_ETIMEDOUT) {
			rv = NACT_ETIMEDOUT;
			break;
		}
	}
	if (rv == 0)
		rv = w.err;
	for (struct wreq **pp = &n->wreqs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == &w) {
			*pp = w.next;
			break;
		}
	}
	nng_cv_wake(n->cv);
	nng_mtx_unlock(n->mtx);
	if (rv == 0)
		*aidp = w.aid;
	return rv;
}

int nact_node_monitor(nact_system *sys, nact_aid watcher, nact_aid target, uint64_t *refp)
{
	if (sys == NULL || watcher.v == 0 || NACTI_ID_NODE(watcher.v) != 0 ||
	    NACTI_ID_NODE(target.v) == 0)
		return NACT_EINVAL;
	uint64_t ref = atomic_fetch_add_explicit(&sys->corr_next, 1, memory_order_relaxed);
	int rv = node_monitor(sys, watcher, target, ref);
	if (refp != NULL)
		*refp = ref;
	return rv;
}

int nact_node_stats_get(nact_system *sys, nact_node_stats *st)
{
	if (sys == NULL || st == NULL)
		return NACT_EINVAL;
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	st->frames_out = atomic_load(&n->frames_out);
	st->frames_in = atomic_load(&n->frames_in);
	st->envelopes_out = atomic_load(&n->env_out);
	st->envelopes_in = atomic_load(&n->env_in);
	st->bad_frames = atomic_load(&n->bad);
	st->refused = atomic_load(&n->refused);
	st->auth_failed = atomic_load(&n->authfail);
	st->nodedowns = atomic_load(&n->downs);
	st->dropped = atomic_load(&n->dropped);
	st->lanes_out = atomic_load(&n->lanes_out);
	st->lanes_in = atomic_load(&n->lanes_in);
	st->lanes_open = nacti_lanes_inbound(n->lanes);
	struct peer *p;
	for (uint32_t i = 1; i <= NACT_NODE_MAX_PEERS && (p = peer_at(n, (uint16_t)i)) != NULL;
	     i++) {
		nng_mtx_lock(p->mtx);
		st->lanes_open += p->lstate == L_UP;
		nng_mtx_unlock(p->mtx);
	}
	node_put(sys);
	return 0;
}

/* ---- names area hooks (transport/names_int.h) ---- */

int nacti_node_send_names(nact_system *sys, uint16_t node, const void *body, size_t len)
{
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	struct peer *p = peer_at(n, node);
	int rv = NACT_ENODEDOWN;
	nng_msg *m;
	/* not only when up: a peer may send to us before our own connection
	 * to it is authenticated; queue_frame holds the frame until then and
	 * refuses when there is no connection at all */
	if (p != NULL && (rv = frame_new(&m, K_NAMES)) == 0) {
		if (nng_msg_append(m, body, len) != 0) {
			nng_msg_free(m);
			rv = NACT_ENOMEM;
		} else {
			rv = queue_frame(p, m);
		}
	}
	node_put(sys);
	return rv;
}

int nacti_node_self(nact_system *sys, char *buf, size_t len)
{
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	snprintf(buf, len, "%s", n->name);
	node_put(sys);
	return 0;
}

uint32_t nacti_node_npeers(nact_system *sys)
{
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return 0;
	/* no lock: called under names.c's lock, which node.c's lock precedes */
	uint32_t np = 0;
	while (np < NACT_NODE_MAX_PEERS && peer_at(n, (uint16_t)(np + 1)) != NULL)
		np++;
	node_put(sys);
	return np;
}

/* ---- membership glue (transport/members.h) ---- */

void nacti_node_swim_send(struct nacti_node *n, const char *name, const char *url, const void *buf,
    size_t len)
{
	nng_msg *m;
	if (atomic_load(&n->stopping) || frame_new(&m, K_SWIM) != 0)
		return;
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		return;
	}
	nng_mtx_lock(n->mtx);
	struct peer *p = name[0] != '\0' ? peer_by_name(n, name) : NULL;
	for (uint32_t i = 1; p == NULL && url[0] != '\0' && i <= n->npeers; i++) {
		struct peer *q = n->peers[i];
		if (!q->merged && (name[0] == '\0' || q->name[0] == '\0') &&
		    strcmp(q->url, url) == 0)
			p = q;
	}
	if (p == NULL && name[0] != '\0' && url[0] != '\0')
		p = peer_new(n, name, url);
	if (p != NULL && !p->out_open && !atomic_load(&n->leaving)) { /* dial on demand */
		atomic_store(&p->ondemand, 0);
		peer_dial(n, p);
	}
	int ok = p != NULL && p->out_open;
	nng_mtx_unlock(n->mtx);
	if (ok)
		queue_frame_early(p, m, 1);
	else
		nng_msg_free(m);
}

/* Member p (re)joined with another advertised URL (restarted elsewhere,
 * n->mtx held): while nothing is connected to the old one, dial the new
 * one instead. */
static void peer_moved(struct nacti_node *n, struct peer *p, const char *url)
{
	nng_mtx_lock(p->mtx);
	int connected = p->out_state != OUT_NONE;
	nng_dialer old = p->dialer;
	nng_mtx_unlock(p->mtx);
	if (connected || atomic_load(&p->up))
		return;
	nact_log(n->sys, NACT_LOG_INFO, "node %s: peer %s moved from %s to %s", n->name, p->name,
	    p->url, url);
	snprintf(p->url, sizeof(p->url), "%s", url);
	if (!p->out_open)
		return; /* dialed on demand, at the new URL */
	defer_dialer(n, old.id);
	nng_dialer d;
	if (nng_dial(p->out, p->url, &d, NNG_FLAG_NONBLOCK) == 0) {
		nng_mtx_lock(p->mtx);
		p->dialer = d;
		p->redial_at = 0;
		p->dclose_at = 0; /* was for the old dialer, closed above */
		nng_mtx_unlock(p->mtx);
	}
}

void nacti_node_member_event(struct nacti_node *n, int ev, const char *name, const char *url)
{
	nng_mtx_lock(n->mtx);
	struct peer *p = peer_by_name(n, name);
	if (ev == 0) {
		/* known by name and URL from now on; connected on demand */
		if (p == NULL && (p = peer_new(n, name, url)) != NULL)
			atomic_store(&p->ondemand, 1);
		else if (p != NULL && url[0] != '\0' && strcmp(p->url, url) != 0)
			peer_moved(n, p, url);
		nng_cv_wake(n->cv);
	} else if (p != NULL) {
		nact_log(n->sys, ev == 1 ? NACT_LOG_WARN : NACT_LOG_INFO,
		    "node %s: peer %s (node %u) %s by membership", n->name, name, p->no,
		    ev == 1 ? "declared down" : "left");
		if (atomic_load(&p->up)) {
			/* down: today's nodedown path; left: the leaving node
			 * closes its connections itself, which takes the same
			 * path (closing from both ends at once only races) */
			if (ev == 1)
				peer_silent(n, p);
		} else {
			/* not connected: nothing can wait on it but a stray
			 * request or monitor; fail them the same way */
			for (struct wreq *w = n->wreqs; w != NULL; w = w->next) {
				if (w->node == p->no && !w->done) {
					w->done = 1;
					w->err = NACT_ENODEDOWN;
				}
			}
			rmons_nodedown(n, p->no);
			rlinks_nodedown(n, p->no);
			nng_cv_wake(n->cv);
		}
	}
	nng_mtx_unlock(n->mtx);
	flush_closes(n);
}

void nacti_node_peer_info(struct nacti_node *n, const char *name, uint16_t *no, int *up)
{
	nng_mtx_lock(n->mtx);
	struct peer *p = peer_by_name(n, name);
	*no = p != NULL ? p->no : 0;
	*up = p != NULL && atomic_load(&p->up);
	nng_mtx_unlock(n->mtx);
}

int nact_node_members(nact_system *sys, nact_node_member *out, size_t max, size_t *np)
{
	if (sys == NULL || np == NULL || (max > 0 && out == NULL))
		return NACT_EINVAL;
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	int rv = n->members != NULL ? nacti_members_list(n->members, out, max, np) : NACT_ESTATE;
	node_put(sys);
	return rv;
}

int nact_node_members_stats(nact_system *sys, nact_members_stats *st)
{
	if (sys == NULL || st == NULL)
		return NACT_EINVAL;
	struct nacti_node *n = node_get(sys);
	if (n == NULL)
		return NACT_ESTATE;
	int rv = n->members != NULL ? nacti_members_stats(n->members, st) : NACT_ESTATE;
	node_put(sys);
	return rv;
}
