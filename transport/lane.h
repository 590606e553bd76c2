/*
 * transport/lane.h — direct data lanes between nodes (internal).
 *
 * A lane is a plain TCP connection that carries the frames of one
 * authenticated nng connection from the dialing node to the listening
 * node, without nng's socket layer in between: the sender writes from the
 * thread that queued the frames (often the worker that ran the actor), the
 * receiver reads on the node's lane thread and delivers straight into
 * mailboxes. docs/wire.md ("Lanes") has the bytes; transport/node.c does
 * the handshake, the authentication and the frames.
 *
 * The lane thread owns the epoll set, the listening socket and every
 * inbound lane (their fds and buffers). Outbound lanes' fds are owned by
 * the node (under its peer's lock); the lane thread only reports their
 * events, tagged with the peer number and a generation that changes at
 * each close, so a stale event is recognised and ignored.
 */
#ifndef NACT_TRANSPORT_LANE_H
#define NACT_TRANSPORT_LANE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <nng/nng.h>

/* Bytes of the hello a dialer writes first on a lane. */
#define NACTI_LANE_HELLO 48

/* Outbound lane events (nacti_lane_ops.out_event). */
#define NACTI_LANE_EV_OUT 0x1u /* writable (connected, or room again) */
#define NACTI_LANE_EV_IN 0x2u  /* readable: the receiver never writes, so EOF or reset */
#define NACTI_LANE_EV_ERR 0x4u /* error or hang-up */

struct nacti_lanes;

typedef struct nacti_lane_ops {
	/* A new inbound lane sent this hello: return the inbound nng pipe id
	 * it belongs to (> 0), or 0 to refuse and close it. */
	uint32_t (*accept)(void *node, const uint8_t *hello);
	/* A frame (len >= 4 bytes, the frame header first) arrived on the
	 * lane of pipe; takes m. Nonzero: close the lane; *why says why the
	 * frame was bad (a static string), or NULL when the connection is
	 * gone (then "connection closed" reaches closed). */
	int (*frame)(void *node, uint32_t pipe, nng_msg *m, const char **why);
	/* The inbound lane of pipe ended, for reason why; bad = 1 when the
	 * peer broke the protocol (a bad frame: count it), 0 for EOF, an
	 * error, the connection gone or no memory. */
	void (*closed)(void *node, uint32_t pipe, const char *why, int bad);
	/* Events on an outbound lane registered with nacti_lane_watch. */
	void (*out_event)(void *node, uint32_t token, uint32_t gen, unsigned ev);
	/* Is the connection of inbound pipe still open? (checked every
	 * second: a lane whose connection is gone is closed) */
	int (*alive)(void *node, uint32_t pipe);
	/* nacti_lanes_kick was called: flush what the node queued. */
	void (*kick)(void *node);
	/* 1 while some other thread polls (nacti_lanes_poll) often: the lane
	 * thread then sleeps until nacti_lanes_handoff instead of watching
	 * the sockets itself. */
	int (*covered)(void *node);
} nacti_lane_ops;

/* Start the lane thread and listen for lanes on addr (its port ignored:
 * the system picks one, returned in *port). spin_us: how long the thread
 * keeps polling after activity before it blocks. max_frame: the largest
 * frame accepted. Errors: NACT_ENOMEM, NACT_ESYSERR (logged by caller). */
int nacti_lanes_start(struct nacti_lanes **lp, const nacti_lane_ops *ops, void *node,
    const nng_sockaddr *addr, uint16_t *port, uint32_t spin_us, size_t max_frame);
/* Stop the thread and close every inbound lane; from then on the calls
 * below do nothing (nacti_lane_close still closes its fd) and
 * nacti_lanes_poll finds nothing. L stays valid until nacti_lanes_free.
 * Outbound fds stay the node's to close. NULL-safe, idempotent. */
void nacti_lanes_stop(struct nacti_lanes *L);
/* Stop if need be, close the listener, free L. NULL-safe. */
void nacti_lanes_free(struct nacti_lanes *L);

/* Handle whatever lane events are ready, on the calling thread, unless
 * another thread is at it. Returns how many there were (0: none, or busy
 * elsewhere). Called by idle workers (actors/sched.c), so a message that
 * arrives while a worker spins is read, delivered and run by that worker
 * with no thread hop at all. Never blocks. */
int nacti_lanes_poll(struct nacti_lanes *L);

/* Read and hand over what has arrived on the inbound lane of pipe, now,
 * on the calling thread (n->mtx must not be held): the pipe is closing,
 * and what its peer wrote before closing (a graceful leave) must be seen
 * before the close is. Waits at most 200 ms for a poller to finish. */
void nacti_lanes_drain(struct nacti_lanes *L, uint32_t pipe);

/* The caller stops polling (an idle worker about to park): the lane
 * thread watches the sockets again. */
void nacti_lanes_handoff(struct nacti_lanes *L);

/* Inbound lanes open now (their hello accepted). */
uint32_t nacti_lanes_inbound(struct nacti_lanes *L);

/* Ask the lane thread to call ops->kick soon (no syscall while it is
 * polling). Any thread. */
void nacti_lanes_kick(struct nacti_lanes *L);

/* Start a non-blocking connection to sa's address at port; the fd is
 * watched for writability (connected) and errors, tagged (token, gen).
 * Returns the fd (owned by the caller: close with nacti_lane_close) or a
 * negative NACT_ error. */
int nacti_lane_connect(struct nacti_lanes *L, const nng_sockaddr *sa, uint16_t port, uint32_t token,
    uint32_t gen);
/* Watch fd for errors, and for writability when want_out. */
int nacti_lane_watch(struct nacti_lanes *L, int fd, uint32_t token, uint32_t gen, int want_out);
/* Stop watching fd and close it. This and the functions below, and
 * nacti_lanes_kick, accept L == NULL (no lanes). */
void nacti_lane_close(struct nacti_lanes *L, int fd);
/* 0 when fd's non-blocking connect succeeded, else the errno. */
int nacti_lane_connected(int fd);
/* Write iov without blocking or SIGPIPE: bytes written (maybe 0 when the
 * socket is full), or -1 on a broken connection. */
long nacti_lane_writev(int fd, const struct iovec *iov, int n);

#endif
