/*
 * transport/lane.c — the lane thread: the listening socket, inbound lanes
 * (read, split into frames, hand to the node), and the events of outbound
 * lanes (transport/lane.h).
 *
 * One epoll set, level-triggered. After any activity the thread keeps
 * polling (epoll_wait with no timeout, yielding the CPU in between) for
 * spin_us before it blocks: a reply that comes back within that time is
 * picked up without the ~30 us it costs to wake a thread on the other
 * vCPU of this machine (../shared/limits). Idle, it blocks for up to a
 * second at a time (hello timeouts are checked then).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/error.h>

#include "transport/lane.h"

#define TAG_LISTEN 0u
#define TAG_KICK 1u
#define TAG_IN 2u
#define TAG_OUT 3u
#define TAG(u) ((unsigned)((u) >> 62))
#define IN_BUF (64 * 1024)
#define HELLO_MS 5000 /* an inbound lane must say hello within this */
#define READS_PER_EVENT 16

struct lin {
	struct lin *next;
	int fd;
	uint32_t pipe; /* 0 until the hello was accepted */
	uint64_t born_ms;
	uint8_t *buf;
	size_t cap, have;
};

struct nacti_lanes {
	const nacti_lane_ops *ops;
	void *node;
	int ep, lfd, kfd;
	int outer;            /* epoll over ep: the lane thread's doorbell */
	pthread_mutex_t poll; /* held while taking and handling ep's events */
	/* while workers spin (and poll), the lane thread waits here rather
	 * than on the epoll set, so traffic does not wake it each time */
	pthread_mutex_t hmtx;
	pthread_cond_t hcv;
	int handoff; /* a worker stopped polling: watch the epoll set */
	uint32_t spin_us;
	size_t max_frame;
	struct lin *ins; /* lane thread only */
	_Atomic int stopping;
	_Atomic int kicked;
	_Atomic uint32_t nin; /* inbound lanes whose hello was accepted */
	_Atomic int polling;  /* the thread is spinning, not blocked */
	nng_thread *thr;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* nng's address (network byte order, as nng keeps it) with port into ss.
 * Returns its length, 0 if it is not an IP address. */
static socklen_t to_sockaddr(const nng_sockaddr *sa, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (sa->s_family == NNG_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = sa->s_in.sa_addr;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (sa->s_family == NNG_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, sa->s_in6.sa_addr, 16);
		s6->sin6_scope_id = sa->s_in6.sa_scope;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	return 0;
}

/* Close what L holds (fds < 0 are skipped) and free it. */
static void lanes_release(struct nacti_lanes *L)
{
	int fds[] = {L->lfd, L->kfd, L->ep, L->outer};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&L->poll);
	pthread_mutex_destroy(&L->hmtx);
	pthread_cond_destroy(&L->hcv);
	free(L);
}

/* bad: the peer broke the protocol (else EOF, an error, the connection
 * gone, no memory). */
static void in_close(struct nacti_lanes *L, struct lin *l, const char *why, int bad)
{
	for (struct lin **pp = &L->ins; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	epoll_ctl(L->ep, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	if (l->pipe != 0) {
		atomic_fetch_sub(&L->nin, 1);
		L->ops->closed(L->node, l->pipe, why, bad);
	}
	free(l->buf);
	free(l);
}

/* Split l's buffer into hello and frames. Returns NULL, or why l must
 * close; *proto = 1 when that is the peer's fault. */
static const char *in_parse(struct nacti_lanes *L, struct lin *l, int *proto)
{
	size_t off = 0;
	const char *bad = NULL;
	*proto = 1;
	for (;;) {
		size_t left = l->have - off;
		if (l->pipe == 0) {
			if (left < NACTI_LANE_HELLO)
				break;
			l->pipe = L->ops->accept(L->node, l->buf + off);
			if (l->pipe == 0) {
				bad = "refused hello";
				break;
			}
			atomic_fetch_add(&L->nin, 1);
			off += NACTI_LANE_HELLO;
			continue;
		}
		if (left < 4)
			break;
		uint32_t len = le32(l->buf + off);
		if (len < 4 || len > L->max_frame) {
			bad = len < 4 ? "short frame" : "oversized frame";
			break;
		}
		if (left < 4 + (size_t)len) {
			if (4 + (size_t)len > l->cap) { /* make room for the whole frame */
				size_t cap = 4 + (size_t)len;
				uint8_t *nb = malloc(cap);
				if (nb == NULL) {
					bad = "out of memory";
					*proto = 0;
					break;
				}
				memcpy(nb, l->buf + off, left);
				free(l->buf);
				l->buf = nb;
				l->cap = cap;
				l->have = left;
				return NULL;
			}
			break;
		}
		nng_msg *m;
		if (nng_msg_alloc(&m, len) != 0) {
			bad = "out of memory";
			*proto = 0;
			break;
		}
		memcpy(nng_msg_body(m), l->buf + off + 4, len);
		off += 4 + (size_t)len;
		if (L->ops->frame(L->node, l->pipe, m, &bad) != 0) {
			if (bad == NULL) {
				bad = "connection closed";
				*proto = 0;
			}
			break;
		}
	}
	if (off > 0) {
		memmove(l->buf, l->buf + off, l->have - off);
		l->have -= off;
	}
	if (bad == NULL && l->cap > IN_BUF && l->have <= IN_BUF) {
		/* a big frame went: back to the usual buffer */
		uint8_t *nb = malloc(IN_BUF);
		if (nb != NULL) {
			memcpy(nb, l->buf, l->have);
			free(l->buf);
			l->buf = nb;
			l->cap = IN_BUF;
		}
	}
	return bad;
}

static void in_readable(struct nacti_lanes *L, struct lin *l)
{
	for (int i = 0; i < READS_PER_EVENT; i++) {
		size_t want = l->cap - l->have;
		ssize_t r = recv(l->fd, l->buf + l->have, want, MSG_DONTWAIT);
		if (r == 0) {
			in_close(L, l, "closed by peer", 0);
			return;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				in_close(L, l, "connection error", 0);
			return;
		}
		l->have += (size_t)r;
		int proto;
		const char *bad = in_parse(L, l, &proto);
		if (bad != NULL) {
			in_close(L, l, bad, proto);
			return;
		}
		if ((size_t)r < want)
			return; /* a short read: drained for now */
	}
}

static void do_accept(struct nacti_lanes *L)
{
	for (;;) {
		int fd = accept4(L->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct lin *l = calloc(1, sizeof(*l));
		if (l == NULL || (l->buf = malloc(IN_BUF)) == NULL) {
			free(l);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		l->fd = fd;
		l->cap = IN_BUF;
		l->born_ms = mono_ns() / 1000000u;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
		ev.data.u64 = (uint64_t)TAG_IN << 62 | (uint64_t)(uintptr_t)l;
		if (epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			free(l->buf);
			free(l);
			close(fd);
			continue;
		}
		l->next = L->ins;
		L->ins = l;
	}
}

/* Inbound lanes that never said hello are closed after HELLO_MS, and
 * those whose connection is gone (closed without a word from the peer:
 * a partition, a silent peer) once the node says so. */
static void reap_silent(struct nacti_lanes *L)
{
	uint64_t now = mono_ns() / 1000000u;
	struct lin *l = L->ins;
	while (l != NULL) {
		struct lin *next = l->next;
		if (l->pipe == 0 && now - l->born_ms > HELLO_MS)
			in_close(L, l, "no hello", 1);
		else if (l->pipe != 0 && !L->ops->alive(L->node, l->pipe))
			in_close(L, l, "connection closed", 0);
		l = next;
	}
}

/* Take and handle ep's ready events (L->poll held). Returns how many. */
static int poll_locked(struct nacti_lanes *L)
{
	struct epoll_event evs[32];
	int n = epoll_wait(L->ep, evs, 32, 0);
	int busy = n > 0 ? n : 0;
	if (atomic_exchange(&L->kicked, 0)) {
		L->ops->kick(L->node);
		busy++;
	}
	for (int i = 0; i < n; i++) {
		uint64_t u = evs[i].data.u64;
		unsigned e = evs[i].events;
		switch (TAG(u)) {
		case TAG_LISTEN:
			do_accept(L);
			break;
		case TAG_KICK: {
			uint64_t v;
			if (read(L->kfd, &v, sizeof(v)) < 0)
				(void)0; /* drained already */
			break;
		}
		case TAG_IN: {
			struct lin *l = (struct lin *)(uintptr_t)(u & ~((uint64_t)3 << 62));
			if (e & EPOLLIN)
				in_readable(L, l);
			else if (e & (EPOLLERR | EPOLLHUP))
				in_close(L, l, "connection error", 0);
			break;
		}
		default: {
			unsigned ev = 0;
			if (e & EPOLLOUT)
				ev |= NACTI_LANE_EV_OUT;
			if (e & (EPOLLIN | EPOLLRDHUP))
				ev |= NACTI_LANE_EV_IN;
			if (e & (EPOLLERR | EPOLLHUP))
				ev |= NACTI_LANE_EV_ERR;
			L->ops->out_event(L->node, (uint32_t)(u >> 32) & 0xFFFFu, (uint32_t)u, ev);
			break;
		}
		}
	}
	return busy;
}

int nacti_lanes_poll(struct nacti_lanes *L)
{
	if (atomic_load_explicit(&L->stopping, memory_order_relaxed) ||
	    pthread_mutex_trylock(&L->poll) != 0)
		return 0; /* someone else is polling */
	int n = poll_locked(L);
	pthread_mutex_unlock(&L->poll);
	return n;
}

void nacti_lanes_drain(struct nacti_lanes *L, uint32_t pipe)
{
	if (L == NULL || atomic_load(&L->stopping))
		return;
	/* bounded: the caller may be where a poller waits for it */
	uint64_t until = mono_ns() + 200000000u;
	while (pthread_mutex_trylock(&L->poll) != 0) {
		if (mono_ns() > until)
			return;
		sched_yield();
	}
	for (struct lin *l = L->ins; l != NULL; l = l->next)
		if (l->pipe == pipe) {
			in_readable(L, l); /* may close and free l */
			break;
		}
	pthread_mutex_unlock(&L->poll);
}

static void lane_main(void *arg)
{
	struct nacti_lanes *L = arg;
	uint64_t spin_until = 0, last_reap = 0;
	nng_thread_set_name(NULL, "nact:lanes");
	while (!atomic_load(&L->stopping)) {
		uint64_t now = mono_ns();
		if (now >= spin_until) {
			/* about to block: a kick from now on must write the
			 * eventfd (pairs with nacti_lanes_kick) */
			atomic_store(&L->polling, 0);
			/* idle workers poll the lanes themselves: wait until the
			 * last of them stops (nacti_lanes_handoff) */
			pthread_mutex_lock(&L->hmtx);
			while (
			    !L->handoff && !atomic_load(&L->stopping) && L->ops->covered(L->node)) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				/* 10 ms: workers that went busy rather than
				 * idle hand nothing over; then the thread
				 * watches the sockets again */
				ts.tv_nsec += 10000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				if (pthread_cond_timedwait(&L->hcv, &L->hmtx, &ts) != 0)
					break;
			}
			L->handoff = 0;
			pthread_mutex_unlock(&L->hmtx);
			struct epoll_event ev;
			if (!atomic_load(&L->kicked) && !atomic_load(&L->stopping))
				epoll_wait(L->outer, &ev, 1, 1000);
		}
		pthread_mutex_lock(&L->poll);
		int busy = poll_locked(L);
		now = mono_ns();
		if (now - last_reap > 1000000000u) {
			last_reap = now;
			reap_silent(L);
		}
		pthread_mutex_unlock(&L->poll);
		if (busy) {
			spin_until = now + (uint64_t)L->spin_us * 1000u;
			atomic_store(&L->polling, 1);
		} else if (now < spin_until) {
			sched_yield();
		}
	}
}

int nacti_lanes_start(struct nacti_lanes **lp, const nacti_lane_ops *ops, void *node,
    const nng_sockaddr *addr, uint16_t *port, uint32_t spin_us, size_t max_frame)
{
	struct nacti_lanes *L = calloc(1, sizeof(*L));
	if (L == NULL)
		return NACT_ENOMEM;
	L->ops = ops;
	L->node = node;
	L->spin_us = spin_us;
	L->max_frame = max_frame;
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	L->outer = epoll_create1(EPOLL_CLOEXEC);
	L->kfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&L->poll, NULL);
	pthread_mutex_init(&L->hmtx, NULL);
	pthread_cond_init(&L->hcv, NULL);
	L->lfd = -1;
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(addr, 0, &ss);
	if (sl == 0) {
		lanes_release(L);
		return NACT_EINVAL;
	}
	L->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (L->ep < 0 || L->outer < 0 || L->kfd < 0 || L->lfd < 0 ||
	    setsockopt(L->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(L->lfd, (struct sockaddr *)&ss, sl) != 0 || listen(L->lfd, 64) != 0 ||
	    getsockname(L->lfd, (struct sockaddr *)&ss, &sl) != 0)
		goto fail;
	*port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) :
	                                  ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.u64 = (uint64_t)TAG_LISTEN << 62;
	if (epoll_ctl(L->ep, EPOLL_CTL_ADD, L->lfd, &ev) != 0)
		goto fail;
	ev.data.u64 = (uint64_t)TAG_KICK << 62;
	if (epoll_ctl(L->ep, EPOLL_CTL_ADD, L->kfd, &ev) != 0)
		goto fail;
	ev.data.u64 = 0;
	if (epoll_ctl(L->outer, EPOLL_CTL_ADD, L->ep, &ev) != 0)
		goto fail;
	if (nng_thread_create(&L->thr, lane_main, L) != 0)
		goto fail;
	*lp = L;
	return 0;
fail:
	lanes_release(L);
	return NACT_ESYSERR;
}

void nacti_lanes_handoff(struct nacti_lanes *L)
{
	if (L == NULL)
		return;
	pthread_mutex_lock(&L->hmtx);
	L->handoff = 1;
	pthread_cond_signal(&L->hcv);
	pthread_mutex_unlock(&L->hmtx);
}

void nacti_lanes_stop(struct nacti_lanes *L)
{
	if (L == NULL || L->thr == NULL)
		return;
	atomic_store(&L->stopping, 1);
	nacti_lanes_handoff(L);
	uint64_t one = 1;
	if (write(L->kfd, &one, sizeof(one)) < 0)
		(void)0; /* the counter is full: the thread wakes anyway */
	nng_thread_destroy(L->thr);
	L->thr = NULL;
	/* under the poll lock: a worker or a drain may be at it still */
	pthread_mutex_lock(&L->poll);
	while (L->ins != NULL) {
		struct lin *l = L->ins;
		L->ins = l->next;
		epoll_ctl(L->ep, EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
		free(l->buf);
		free(l);
	}
	atomic_store(&L->nin, 0);
	pthread_mutex_unlock(&L->poll);
}

void nacti_lanes_free(struct nacti_lanes *L)
{
	if (L == NULL)
		return;
	nacti_lanes_stop(L);
	lanes_release(L);
}

uint32_t nacti_lanes_inbound(struct nacti_lanes *L)
{
	return L != NULL && !atomic_load(&L->stopping) ? atomic_load(&L->nin) : 0;
}

void nacti_lanes_kick(struct nacti_lanes *L)
{
	if (L == NULL || atomic_load(&L->stopping))
		return;
	if (atomic_exchange(&L->kicked, 1))
		return; /* a kick is pending already */
	if (!atomic_load(&L->polling)) {
		uint64_t one = 1;
		if (write(L->kfd, &one, sizeof(one)) < 0)
			(void)0;        /* the counter is full: the thread wakes anyway */
		nacti_lanes_handoff(L); /* it may wait for workers that are busy */
	}
}

int nacti_lane_connect(struct nacti_lanes *L, const nng_sockaddr *sa, uint16_t port, uint32_t token,
    uint32_t gen)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(sa, port, &ss);
	if (sl == 0)
		return NACT_EINVAL;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NACT_ESYSERR;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		close(fd);
		return NACT_ESYSERR;
	}
	if (nacti_lane_watch(L, fd, token, gen, 1) != 0) {
		close(fd);
		return NACT_ESYSERR;
	}
	return fd;
}

int nacti_lane_watch(struct nacti_lanes *L, int fd, uint32_t token, uint32_t gen, int want_out)
{
	if (L == NULL || atomic_load(&L->stopping))
		return NACT_ECLOSED;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0)};
	ev.data.u64 = (uint64_t)TAG_OUT << 62 | (uint64_t)(token & 0xFFFFu) << 32 | gen;
	if (epoll_ctl(L->ep, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	return epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : NACT_ESYSERR;
}

void nacti_lane_close(struct nacti_lanes *L, int fd)
{
	if (L != NULL && !atomic_load(&L->stopping))
		epoll_ctl(L->ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

int nacti_lane_connected(int fd)
{
	int err = 0;
	socklen_t el = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
		return errno;
	return err;
}

long nacti_lane_writev(int fd, const struct iovec *iov, int n)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
	for (;;) {
		ssize_t w = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w >= 0)
			return (long)w;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
}
