/*
 * supervisor/isolate.c — crash-isolated actors: a behaviour that runs in a
 * child process, so that a segfault, abort or kill -9 ends only that
 * process while the actor's id, mailbox and queued messages stay here.
 *
 * DESIGN
 * Three kinds of process take part.
 *
 *  - The launcher. A child process forked by the first nact_system_open
 *    with cfg.isolation = 1, before that open (or anything else) starts a
 *    thread, and kept for the life of the program: it serves every system
 *    of the process (a session each). nng starts its own threads the first
 *    time it is used, so a later fork could not give a child a working
 *    nng; the launcher never touches nng, stays single-threaded, and is
 *    therefore always safe to fork. It only: reads requests from a
 *    socketpair(AF_UNIX, SOCK_SEQPACKET) (spawn, kill, close a session),
 *    forks one process per spawn request, reports the new pid, reaps
 *    children (signalfd for SIGCHLD) and reports how each ended (its
 *    wait status). It is double-forked, so it is no child of the program
 *    (no zombie, no SIGCHLD, invisible to the program's waitpid(-1)); when
 *    the program's end of the socketpair closes (the program ended) it
 *    kills its children and exits. Its children die with it
 *    (PR_SET_PDEATHSIG).
 *
 *  - The isolated process. Forked by the launcher for one incarnation of
 *    one actor. It resets crash signals to their defaults (a sanitizer's
 *    handler would otherwise turn a SEGV into an exit status), connects to
 *    the incarnation's ipc socket, builds a stub system (an envelope pool,
 *    so nact_msg_alloc works; always "closing", so every call that needs
 *    the whole runtime refuses with NACT_ENOTSUP), runs init, then loops:
 *    read a message, run the behaviour, acknowledge. What the behaviour
 *    sends (nact_send, nact_reply, nact_forward) is written back to the
 *    parent. An exit (nact_exit or a nonzero return) runs fini and is
 *    reported in the acknowledgement; when the parent closes the stream
 *    (the actor was stopped) fini runs and the process exits.
 *
 *  - This process. The actor is an ordinary actor (the proxy) whose
 *    behaviour is proxy_fn and whose state is a struct iso_actor. Its
 *    mailbox receives the actor's messages. The proxy keeps at most one
 *    message in flight to the process and queues the others in its state
 *    (taken over with ctx->consumed), so messages queued when the process
 *    dies survive; the one in flight becomes a dead letter "crashed".
 *    Everything that happens elsewhere reaches the proxy as an internal
 *    message (types NACTI_T_ISO_*), so its state is only touched by its
 *    own handler: the nng callbacks of its ipc stream (hello, ack, end of
 *    stream), the launcher reader thread (process ended), timers (handler
 *    deadline).
 *
 * Transport. One nng ipc stream per incarnation, in a private directory
 * (mkdtemp under $XDG_RUNTIME_DIR/nactor/ or /tmp, mode 0700) named
 * <actor id hex>-<incarnation>.ipc: the proxy listens, the process
 * connects. Frames are a u32 LE length (of what follows), a tag byte and a
 * payload:
 *   parent -> process  'M' message wire bytes (header + body)
 *   process -> parent  'H' i32 init result, i32 pid
 *                      'O' wire bytes of a message the behaviour sent
 *                      'A' u8 exiting, i32 reason, exit text
 * A byte stream rather than an SP socket (pair1) so that end of stream is
 * ordered after the last frame: when the process dies the proxy first gets
 * every acknowledgement and message it wrote, then the end, and so it
 * knows exactly which message was being handled. A process crash is
 * handled once both the end of its stream and its wait status (from the
 * launcher) have arrived.
 *
 * States of an isolated actor (st): STARTING (process requested, no hello
 * yet) -> UP -> DOWN (process ended: monitors and links were told with
 * nacti_links_notify, id and mailbox kept) -> STARTING (nact_isolated_
 * restart) ... The actor really ends, like any actor, when the behaviour
 * exits, when it is stopped or killed, or through a link.
 *
 * Threads and locks. g.life serialises session open/close and the reader
 * thread's start and stop; g.mtx guards the launcher fields and the
 * session list; iso->mtx an isolated system's table of actors (and each
 * actor's inc pointer); in->mtx one incarnation's closing flag and send
 * queue. Order: g.life -> g.mtx -> iso->mtx -> in->mtx. Deliveries from
 * callbacks into the system happen under in->mtx (or g.mtx for the
 * reader) after checking that nobody closed it, which is how system close
 * (nacti_iso_stop) makes sure nothing arrives once the workers stop.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actors/internal.h"

/* Internal message types to a proxy (main lane; never seen by behaviours).
 * corr carries the incarnation they are about. Bodies: msgpack arrays. */
#define NACTI_T_ISO_HELLO 0xFFFF0060u    /* [init rv, pid] */
#define NACTI_T_ISO_ACK 0xFFFF0061u      /* [exiting, reason, text] */
#define NACTI_T_ISO_EOF 0xFFFF0062u      /* [] end of the process's stream */
#define NACTI_T_ISO_EXIT 0xFFFF0063u     /* [kind, value]: see XK_* */
#define NACTI_T_ISO_RESTART 0xFFFF0064u  /* [] start a process */
#define NACTI_T_ISO_DEADLINE 0xFFFF0065u /* [] corr: gen << 32 | seq */
#define NACTI_T_ISO_DRAIN 0xFFFF0066u    /* [] exit seen, stream end overdue */

#define ARG_MAX_LEN (64 * 1024)       /* nact_spawn_isolated's arglen */
#define FRAME_MAX (64u * 1024 * 1024) /* largest frame a process may send */
#define RX_BUF (16 * 1024)            /* initial receive buffer */
#define GRACE_MS 1000                 /* stopped: time to run fini before SIGKILL */
#define DRAIN_MS 3000                 /* exit seen: wait this long for stream end */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

enum { ST_STARTING = 0, ST_UP = 1, ST_DOWN = 2 };
enum { XK_STATUS = 0, XK_FORKERR = 1, XK_LAUNCHER = 2 }; /* NACTI_T_ISO_EXIT kinds */

/* ------------------------------------------------------------------ */
/* The launcher protocol (one SEQPACKET datagram per request/report).   */
/* Both ends are the same program image, so structs travel as they are. */

enum { LQ_SPAWN = 'S', LQ_KILL = 'K', LQ_CLOSE = 'C' };
struct lreq {
	uint8_t op;
	uint32_t session;  /* the system */
	uint32_t gen;      /* incarnation */
	uint32_t delay_ms; /* KILL: 0 = now, else unless it ended by then */
	uint64_t aid;      /* the actor */
	nact_behaviour fn; /* SPAWN: */
	nact_isolated_init init;
	nact_state_fini fini;
	int log_level;
	uint32_t arglen; /* arglen bytes of arg follow the struct */
	char path[SUN_PATH_MAX];
};

enum { LR_PID = 'P', LR_EXIT = 'X', LR_FORKERR = 'F', LR_CLOSED = 'C' };
struct lrep {
	uint8_t op;
	uint32_t session, gen;
	uint64_t aid;
	int32_t pid;
	int32_t value; /* EXIT: wait status; FORKERR: errno */
};

/* ------------------------------------------------------------------ */
/* Process-wide state (documented global: one launcher per program).    */

struct nacti_iso {
	nact_system *sys;
	struct nacti_iso *next; /* g.sessions */
	uint32_t session;
	char dir[SUN_PATH_MAX]; /* private directory */
	nng_mtx *mtx;           /* guards what follows */
	int closed;             /* nacti_iso_stop ran: no new incarnations */
	struct iso_actor **tab; /* isolated actors alive */
	uint32_t ntab, captab;
};

/* pthread mutexes with static initialisers: nng has none, and these are
 * taken before nng may be used at all (nng_mtx_alloc starts nng's threads,
 * which must not exist when the launcher is forked). */
static struct {
	pthread_mutex_t life; /* session open/close, reader start/stop */
	pthread_mutex_t mtx;  /* the rest */
	int fd;               /* our end of the socketpair, -1: no launcher */
	int dead;             /* the launcher is gone */
	nng_thread *reader;   /* reads reports while a session is open */
	uint32_t next_session;
	uint32_t stop_session; /* the reader ends on this session's CLOSED */
	struct nacti_iso *sessions;
} g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, -1, 0, NULL, 0, 0, NULL};

static void child_main(int lfd, const struct lreq *rq, const void *arg);

/* ------------------------------------------------------------------ */
/* The launcher process                                                 */

struct lchild {
	pid_t pid;
	uint32_t session, gen;
	uint64_t aid;
	int report;       /* report its end (0 once its session closed) */
	uint64_t kill_at; /* ms on CLOCK_MONOTONIC, 0 = none */
};

/* End a launcher or isolated process at once. The raw syscall skips what
 * a sanitizer runtime does at _exit (TSan sleeps a second, LSan would
 * report the stub system these processes never free). */
static void proc_exit(int code)
{
	syscall(SYS_exit_group, code);
	_exit(code); /* not reached */
}

static struct lchild *lkids; /* launcher only */
static size_t nlkids, caplkids;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void l_report(int fd, int op, const struct lchild *k, int32_t pid, int32_t value)
{
	struct lrep r = {.op = (uint8_t)op,
	    .session = k->session,
	    .gen = k->gen,
	    .aid = k->aid,
	    .pid = pid,
	    .value = value};
	/* The program's reader drains reports as they come; if it is gone the
	 * send fails and the launcher is about to see end of file. */
	while (send(fd, &r, sizeof(r), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void l_reap(int fd)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t i = 0; i < nlkids; i++) {
			if (lkids[i].pid != pid)
				continue;
			if (lkids[i].report)
				l_report(fd, LR_EXIT, &lkids[i], pid, st);
			lkids[i] = lkids[--nlkids];
			break;
		}
	}
}

static void l_spawn(int fd, int sfd, const struct lreq *rq, const void *arg)
{
	struct lchild k = {.session = rq->session, .gen = rq->gen, .aid = rq->aid, .report = 1};
	if (nlkids == caplkids) {
		size_t nc = caplkids ? caplkids * 2 : 16;
		struct lchild *nk = realloc(lkids, nc * sizeof(*nk));
		if (nk == NULL) {
			l_report(fd, LR_FORKERR, &k, -1, ENOMEM);
			return;
		}
		lkids = nk;
		caplkids = nc;
	}
	pid_t me = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(sfd);
		/* die with the launcher; it may already be gone */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != me)
			proc_exit(1);
		child_main(fd, rq, arg); /* never returns */
	}
	if (pid < 0) {
		l_report(fd, LR_FORKERR, &k, -1, errno);
		return;
	}
	k.pid = pid;
	lkids[nlkids++] = k;
	l_report(fd, LR_PID, &k, pid, 0);
}

static void l_request(int fd, int sfd, const void *buf, size_t n)
{
	struct lreq rq;
	if (n < sizeof(rq))
		return;
	memcpy(&rq, buf, sizeof(rq));
	switch (rq.op) {
	case LQ_SPAWN:
		if (n == sizeof(rq) + rq.arglen)
			l_spawn(fd, sfd, &rq, (const char *)buf + sizeof(rq));
		break;
	case LQ_KILL:
		for (size_t i = 0; i < nlkids; i++) {
			struct lchild *k = &lkids[i];
			if (k->session != rq.session || k->aid != rq.aid || k->gen != rq.gen)
				continue;
			if (rq.delay_ms == 0)
				kill(k->pid, SIGKILL);
			else if (k->kill_at == 0)
				k->kill_at = mono_ms() + rq.delay_ms;
		}
		break;
	case LQ_CLOSE: {
		/* the system closed: its processes got end of stream and end on
		 * their own; kill what is left after the grace time, silently */
		uint64_t at = mono_ms() + GRACE_MS;
		for (size_t i = 0; i < nlkids; i++) {
			if (lkids[i].session == rq.session) {
				lkids[i].report = 0;
				if (lkids[i].kill_at == 0 || lkids[i].kill_at > at)
					lkids[i].kill_at = at;
			}
		}
		struct lchild k = {.session = rq.session};
		l_report(fd, LR_CLOSED, &k, 0, 0);
		break;
	}
	default:
		break;
	}
}

/* Kill children whose time is up; the poll timeout until the next one. */
static int l_kill_due(void)
{
	uint64_t now = mono_ms(), next = 0;
	for (size_t i = 0; i < nlkids; i++) {
		struct lchild *k = &lkids[i];
		if (k->kill_at == 0)
			continue;
		if (k->kill_at <= now) {
			kill(k->pid, SIGKILL);
			k->kill_at = 0;
		} else if (next == 0 || k->kill_at < next) {
			next = k->kill_at;
		}
	}
	if (next == 0)
		return -1;
	return (int)(next - now);
}

static void launcher_main(int fd)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	signal(SIGCHLD, SIG_DFL); /* SIG_IGN (inherited) would reap for us */
	sigprocmask(SIG_BLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	size_t cap = sizeof(struct lreq) + ARG_MAX_LEN;
	char *buf = malloc(cap);
	if (sfd < 0 || buf == NULL)
		proc_exit(1);
	for (;;) {
		l_reap(fd);
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		int n = poll(p, 2, l_kill_due());
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
		}
		if (n > 0 && p[0].revents != 0) {
			ssize_t r = recv(fd, buf, cap, MSG_DONTWAIT);
			if (r == 0)
				break; /* the program is gone */
			if (r < 0 && errno != EINTR && errno != EAGAIN)
				break;
			if (r > 0)
				l_request(fd, sfd, buf, (size_t)r);
		}
	}
	for (size_t i = 0; i < nlkids; i++)
		kill(lkids[i].pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	proc_exit(0);
}

/* 1 if this process runs a single thread (counted in /proc/self/task). */
static int single_threaded(void)
{
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return 1; /* cannot tell: trust the documented contract */
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n <= 1;
}

int nacti_iso_launcher(void)
{
	int rv = 0;
	pthread_mutex_lock(&g.mtx);
	if (g.fd >= 0) {
		rv = g.dead ? NACT_ESTATE : 0;
		goto out;
	}
	if (!single_threaded()) {
		fprintf(stderr,
		    "nactor: cfg.isolation needs the first nact_system_open with "
		    "isolation to run before the program (or nng) starts any thread\n");
		rv = NACT_ESTATE;
		goto out;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		rv = NACT_ESYSERR + errno;
		goto out;
	}
	fflush(NULL); /* nothing buffered may be written twice */
	pid_t mid = fork();
	if (mid == 0) {
		/* double fork: the launcher is no child of the program */
		close(sv[0]);
		if (fork() == 0)
			launcher_main(sv[1]);
		proc_exit(0);
	}
	close(sv[1]);
	if (mid < 0) {
		rv = NACT_ESYSERR + errno;
		close(sv[0]);
		goto out;
	}
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	g.fd = sv[0];
out:
	pthread_mutex_unlock(&g.mtx);
	return rv;
}

static int l_send(const struct lreq *rq, const void *arg, size_t arglen)
{
	struct iovec iov[2] = {{(void *)rq, sizeof(*rq)}, {(void *)arg, arglen}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = arglen > 0 ? 2 : 1};
	for (;;) {
		if (sendmsg(g.fd, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return NACT_ESYSERR + errno;
	}
}

/* ------------------------------------------------------------------ */
/* The isolated process                                                 */

struct nacti_child {
	int fd;       /* stream to the parent */
	nact_aid aid; /* the actor */
};

static int rd_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r > 0) {
			b += r;
			n -= (size_t)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			return -1;
		}
	}
	return 0;
}

/* One frame: length, tag, payload (which may be split over p and q). */
static int wr_frame(int fd, uint8_t tag, const void *p, size_t n, const void *q, size_t qn)
{
	uint8_t h[5];
	nacti_put32(h, (uint32_t)(1 + n + qn));
	h[4] = tag;
	struct iovec iov[3] = {{h, 5}, {(void *)p, n}, {(void *)q, qn}};
	int k = 0;
	while (k < 3) {
		struct msghdr mh = {.msg_iov = iov + k, .msg_iovlen = (size_t)(3 - k)};
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		size_t left = (size_t)w;
		while (k < 3 && left >= iov[k].iov_len) {
			left -= iov[k].iov_len;
			k++;
		}
		if (k < 3) {
			iov[k].iov_base = (uint8_t *)iov[k].iov_base + left;
			iov[k].iov_len -= left;
		}
	}
	return 0;
}

int nacti_child_send(nact_system *sys, nact_aid to, nact_msg *m)
{
	struct nacti_child *ch = sys->child;
	nact_ctx *ctx = nacti_cur;
	if (m == NULL || m->nm == NULL)
		return NACT_EINVAL;
	int fwd = ctx != NULL && ctx->cur == m;
	if (fwd && ctx->consumed)
		return NACT_EINVAL;
	uint8_t *h = nacti_hdr(m);
	nacti_put64(h + NACTI_OFF_TARGET, to.v);
	nacti_put64(h + NACTI_OFF_SENDER, ch->aid.v);
	if (wr_frame(ch->fd, 'O', nng_msg_body(m->nm), nng_msg_len(m->nm), NULL, 0) != 0)
		return NACT_ECLOSED;
	if (fwd)
		ctx->consumed = 1;
	nact_msg_free(m); /* its bytes are on their way */
	return 0;
}

int nacti_child_forward(nact_ctx *ctx, nact_aid to, nact_msg *m)
{
	return nacti_child_send(ctx->sys, to, m);
}

static void child_hello(int fd, int32_t rv)
{
	uint8_t b[8];
	nacti_put32(b, (uint32_t)rv);
	nacti_put32(b + 4, (uint32_t)getpid());
	wr_frame(fd, 'H', b, sizeof(b), NULL, 0);
}

static void child_ack(int fd, const nact_ctx *ctx)
{
	uint8_t b[5];
	b[0] = (uint8_t)ctx->exiting;
	nacti_put32(b + 1, (uint32_t)(ctx->exiting ? ctx->reason : 0));
	size_t tl = ctx->exiting ? strnlen(ctx->text, sizeof(ctx->text) - 1) : 0;
	wr_frame(fd, 'A', b, sizeof(b), ctx->text, tl);
}

static void child_exit(int code)
{
	fflush(NULL);
	proc_exit(code);
}

/* A stub system: an envelope pool and a logger. It is "closing" from the
 * start, so the runtime's calls refuse or (sends) reach the child hook;
 * the empty actor table makes any lookup find nothing. */
static nact_system *child_system(struct nacti_child *ch, int log_level)
{
	nact_system *cs = calloc(1, sizeof(*cs));
	if (cs == NULL)
		return NULL;
	nact_config_init(&cs->cfg);
	cs->cfg.workers = 1;
	cs->cfg.batch = 1;
	cs->cfg.log_level = log_level;
	cs->nworkers = 1;
	cs->aslabs = calloc(NACTI_ASLAB_MAX, sizeof(*cs->aslabs));
	if (cs->aslabs == NULL || nacti_log_init(cs) != 0 || nacti_pool_init(&cs->pool) != 0 ||
	    nacti_names_init(cs) != 0)
		return NULL; /* the process exits at once: nothing to free */
	nacti_pool_set_owner(cs->pool, cs);
	atomic_store(&cs->closing, 1);
	cs->child = ch;
	return cs;
}

static void child_main(int lfd, const struct lreq *rq, const void *arg)
{
	/* Crashes must end the process with their signal, whatever handlers
	 * the program (or a sanitizer) installed. */
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close(lfd);

	static struct nacti_child ch;
	ch.aid.v = rq->aid;
	ch.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, rq->path, sizeof(sa.sun_path));
	sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
	int rv;
	while ((rv = connect(ch.fd, (struct sockaddr *)&sa, sizeof(sa))) != 0 && errno == EINTR)
		;
	if (ch.fd < 0 || rv != 0)
		child_exit(2);
	nact_system *cs = child_system(&ch, rq->log_level);
	if (cs == NULL) {
		child_hello(ch.fd, NACT_ENOMEM);
		child_exit(0);
	}
	/* The actor: behaviour and state for nact_become / nact_state. */
	static struct nacti_actor a;
	a.fn = rq->fn;
	a.state = NULL;
	rv = rq->init != NULL ? rq->init(&a.state, arg, rq->arglen) : 0;
	child_hello(ch.fd, rv);
	if (rv != 0)
		child_exit(0);
	nact_ctx ctx = {.sys = cs, .a = &a, .self = ch.aid};
	for (;;) {
		uint8_t h[5];
		if (rd_full(ch.fd, h, sizeof(h)) != 0)
			break; /* the parent closed: the actor was stopped */
		uint32_t len = nacti_le32(h);
		nng_msg *nm;
		nact_msg *m;
		if (h[4] != 'M' || len < 1 + NACT_HDR_SIZE || nng_msg_alloc(&nm, len - 1) != 0)
			child_exit(3);
		if (rd_full(ch.fd, nng_msg_body(nm), len - 1) != 0)
			child_exit(0);
		if (nact_msg_wrap(&m, cs, nm) != 0)
			child_exit(3);
		ctx.cur = m;
		ctx.consumed = 0;
		nacti_cur = &ctx;
		rv = a.fn(&ctx, m);
		nacti_cur = NULL;
		ctx.cur = NULL;
		if (!ctx.consumed)
			nact_msg_free(m);
		if (rv != 0 && !ctx.exiting) {
			ctx.exiting = 1;
			ctx.reason = rv;
		}
		if (ctx.exiting) {
			/* fini first: the parent ends the actor on this ack */
			if (rq->fini != NULL)
				rq->fini(a.state);
			child_ack(ch.fd, &ctx);
			while (rd_full(ch.fd, h, 1) == 0)
				; /* until the parent closes (or the launcher kills us) */
			child_exit(0);
		}
		child_ack(ch.fd, &ctx);
	}
	if (rq->fini != NULL)
		rq->fini(a.state);
	child_exit(0);
}

/* ------------------------------------------------------------------ */
/* This process: isolated actors and their incarnations                 */

/* One process's connection: listener, stream, receive buffer, send queue. */
struct iso_inc {
	nact_system *sys;
	nact_aid aid;
	uint32_t gen;
	char path[SUN_PATH_MAX];
	nng_stream_listener *lst;
	nng_stream *st; /* set by the accept callback */
	nng_aio *acc, *rx, *tx;
	/* the rx callback's own (one receive at a time) */
	uint8_t *rb; /* received bytes not yet parsed: rb[0..rlen) */
	size_t rcap, rlen;
	/* under mtx */
	nng_mtx *mtx;
	int closing;   /* nothing more is delivered into the system */
	nng_msg **txq; /* frames to send, oldest at txh */
	uint32_t txh, txn, txcap;
	int txbusy;   /* a send is in progress (its owner restarts it) */
	size_t txoff; /* bytes of the head frame already sent */
};

/* The proxy's state. */
struct iso_actor {
	/* any thread: atomics, or under iso->mtx */
	_Atomic int st;       /* ST_* */
	_Atomic long pid;     /* current process, -1 if none */
	_Atomic uint32_t gen; /* current incarnation: older reports are stale */
	struct iso_inc *inc;  /* written under iso->mtx (nacti_iso_stop reads it) */
	/* fixed at spawn */
	nact_system *sys;
	struct nacti_iso *iso;
	nact_aid aid;
	nact_behaviour fn;
	nact_isolated_init init;
	nact_state_fini fini;
	void *arg;
	size_t arglen;
	uint32_t deadline_ms;
	/* the proxy's (its handler and destructor) */
	nact_msg *qhead, *qtail; /* waiting for the process, oldest first */
	nact_msg *cur;           /* sent, not yet acknowledged */
	uint32_t seq;            /* messages sent to this incarnation */
	nact_timer dl_timer;     /* handler deadline of cur */
	nact_timer drain_timer;  /* exit seen, waiting for the stream's end */
	int kill_reason;         /* we killed the process: this reason */
	int init_rv;             /* the process's init failed with this */
	int eof;                 /* its stream ended */
	int exited;              /* the launcher reported its end */
	int xkind, xval;         /* how: XK_*, wait status or errno */
};

/* An internal message [a, b, text] to a proxy. */
static int iso_post(nact_system *sys, nact_aid to, uint32_t type, uint64_t corr, int64_t a,
    int64_t b, const char *text, size_t tlen)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		return rv;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 3);
	nact_pack_int(&pk, a);
	nact_pack_int(&pk, b);
	nact_pack_strn(&pk, text != NULL ? text : "", text != NULL ? tlen : 0);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	nacti_put64(nacti_hdr(m) + NACTI_OFF_CORR, corr);
	return nacti_deliver(sys, to, m, 0, 0);
}

/* Read an internal message's [a, b, text]. */
static void iso_read(const nact_msg *m, int64_t *a, int64_t *b, char *text, size_t tcap)
{
	nact_reader r;
	uint32_t n;
	const char *s;
	size_t sl;
	*a = *b = 0;
	if (text != NULL)
		text[0] = '\0';
	if (nact_reader_init(&r, m, NULL) != 0)
		return;
	if (nact_read_array(&r, &n) == 0 && n == 3 && nact_read_int(&r, a) == 0 &&
	    nact_read_int(&r, b) == 0 && text != NULL && nact_read_str(&r, &s, &sl) == 0)
		snprintf(text, tcap, "%.*s", (int)sl, s);
	nact_reader_fini(&r);
}

/* ---- the table of isolated actors (under iso->mtx) ---- */

static struct iso_actor *tab_find(struct nacti_iso *iso, uint64_t aid)
{
	for (uint32_t i = 0; i < iso->ntab; i++)
		if (iso->tab[i]->aid.v == aid)
			return iso->tab[i];
	return NULL;
}

static int tab_add(struct nacti_iso *iso, struct iso_actor *ia)
{
	if (iso->ntab == iso->captab) {
		uint32_t nc = iso->captab ? iso->captab * 2 : 8;
		struct iso_actor **nt = realloc(iso->tab, nc * sizeof(*nt));
		if (nt == NULL)
			return NACT_ENOMEM;
		iso->tab = nt;
		iso->captab = nc;
	}
	iso->tab[iso->ntab++] = ia;
	return 0;
}

static void tab_del(struct nacti_iso *iso, struct iso_actor *ia)
{
	for (uint32_t i = 0; i < iso->ntab; i++) {
		if (iso->tab[i] == ia) {
			iso->tab[i] = iso->tab[--iso->ntab];
			return;
		}
	}
}

/* ---- an incarnation's stream ---- */

/* Under in->mtx: the next frame to send (the caller owns the tx aio). */
static void tx_start(struct iso_inc *in)
{
	nng_msg *f = in->txq[in->txh];
	nng_iov iov = {(uint8_t *)nng_msg_body(f) + in->txoff, nng_msg_len(f) - in->txoff};
	nng_aio_set_iov(in->tx, 1, &iov);
}

static void inc_tx_cb(void *arg)
{
	struct iso_inc *in = arg;
	int rv = nng_aio_result(in->tx);
	nng_mtx_lock(in->mtx);
	if (rv != 0) {
		/* the stream broke: the receive side reports its end */
		while (in->txn > 0) {
			nng_msg_free(in->txq[in->txh]);
			in->txh = (in->txh + 1) % in->txcap;
			in->txn--;
		}
		in->txoff = 0;
		in->txbusy = 0;
		nng_mtx_unlock(in->mtx);
		return;
	}
	in->txoff += nng_aio_count(in->tx);
	if (in->txoff >= nng_msg_len(in->txq[in->txh])) {
		nng_msg_free(in->txq[in->txh]);
		in->txh = (in->txh + 1) % in->txcap;
		in->txn--;
		in->txoff = 0;
	}
	if (in->txn == 0) {
		in->txbusy = 0;
		nng_mtx_unlock(in->mtx);
		return;
	}
	tx_start(in);
	nng_mtx_unlock(in->mtx);
	nng_stream_send(in->st, in->tx); /* we still own tx */
}

/* Queue a frame (taken over on success). */
static int inc_send(struct iso_inc *in, nng_msg *f)
{
	nng_mtx_lock(in->mtx);
	if (in->closing || in->st == NULL) {
		nng_mtx_unlock(in->mtx);
		return NACT_ECLOSED;
	}
	if (in->txn == in->txcap) {
		uint32_t nc = in->txcap ? in->txcap * 2 : 4;
		nng_msg **nq = malloc(nc * sizeof(*nq));
		if (nq == NULL) {
			nng_mtx_unlock(in->mtx);
			return NACT_ENOMEM;
		}
		for (uint32_t i = 0; i < in->txn; i++)
			nq[i] = in->txq[(in->txh + i) % in->txcap];
		free(in->txq);
		in->txq = nq;
		in->txh = 0;
		in->txcap = nc;
	}
	in->txq[(in->txh + in->txn) % in->txcap] = f;
	in->txn++;
	int start = !in->txbusy;
	if (start) {
		in->txbusy = 1;
		tx_start(in);
	}
	nng_mtx_unlock(in->mtx);
	if (start)
		nng_stream_send(in->st, in->tx);
	return 0;
}

/* Under in->mtx, not closing: a message the behaviour sent. */
static void rx_out(struct iso_inc *in, const uint8_t *p, size_t n)
{
	nng_msg *nm;
	nact_msg *m;
	if (nng_msg_alloc(&nm, n) != 0)
		return; /* out of memory: lost like any send that failed */
	memcpy(nng_msg_body(nm), p, n);
	if (nact_msg_wrap(&m, in->sys, nm) != 0) {
		nng_msg_free(nm);
		return;
	}
	uint8_t *h = nacti_hdr(m);
	/* internal flags are not the process's to set */
	nacti_put16(h + NACTI_OFF_FLAGS,
	    nacti_le16(h + NACTI_OFF_FLAGS) & ~(NACTI_MF_COUNTED | NACT_MF_CONTROL));
	nacti_put64(h + NACTI_OFF_SENDER, in->aid.v);
	nact_aid to = {nacti_le64(h + NACTI_OFF_TARGET)};
	if (nacti_deliver(in->sys, to, m, 0, 0) != 0)
		nacti_deadletter(in->sys, m, NACT_DL_DROPPED); /* the process was told 0 */
}

/* One frame from the process. 0, or -1 for a protocol error. */
static int rx_frame(struct iso_inc *in, uint8_t tag, const uint8_t *p, size_t n)
{
	int rv = 0;
	nng_mtx_lock(in->mtx);
	if (in->closing)
		goto out;
	switch (tag) {
	case 'O':
		if (n < NACT_HDR_SIZE || nact_hdr_check(p, n) != 0) {
			rv = -1;
			break;
		}
		rx_out(in, p, n);
		break;
	case 'A':
		if (n < 5) {
			rv = -1;
			break;
		}
		iso_post(in->sys, in->aid, NACTI_T_ISO_ACK, in->gen, p[0],
		    (int32_t)nacti_le32(p + 1), (const char *)p + 5, n - 5 > 255 ? 255 : n - 5);
		break;
	case 'H':
		if (n < 8) {
			rv = -1;
			break;
		}
		iso_post(in->sys, in->aid, NACTI_T_ISO_HELLO, in->gen, (int32_t)nacti_le32(p),
		    (int32_t)nacti_le32(p + 4), NULL, 0);
		break;
	default:
		rv = -1;
		break;
	}
out:
	nng_mtx_unlock(in->mtx);
	return rv;
}

/* Parse the complete frames in rb. -1 on a protocol error. */
static int rx_parse(struct iso_inc *in)
{
	size_t off = 0, need = 0;
	while (in->rlen - off >= 5) {
		uint32_t len = nacti_le32(in->rb + off);
		if (len == 0 || len > FRAME_MAX)
			return -1;
		if (in->rlen - off < 4 + (size_t)len) {
			need = 4 + (size_t)len;
			break;
		}
		if (rx_frame(in, in->rb[off + 4], in->rb + off + 5, len - 1) != 0)
			return -1;
		off += 4 + (size_t)len;
	}
	memmove(in->rb, in->rb + off, in->rlen - off);
	in->rlen -= off;
	if (need > in->rcap) {
		size_t nc = in->rcap * 2 > need ? in->rcap * 2 : need;
		uint8_t *nb = realloc(in->rb, nc);
		if (nb == NULL)
			return -1;
		in->rb = nb;
		in->rcap = nc;
	}
	return 0;
}

static void rx_next(struct iso_inc *in)
{
	nng_iov iov = {in->rb + in->rlen, in->rcap - in->rlen};
	nng_aio_set_iov(in->rx, 1, &iov);
	nng_stream_recv(in->st, in->rx);
}

/* The stream ended (or broke): tell the proxy, after every frame. */
static void rx_end(struct iso_inc *in)
{
	nng_mtx_lock(in->mtx);
	if (!in->closing)
		iso_post(in->sys, in->aid, NACTI_T_ISO_EOF, in->gen, 0, 0, NULL, 0);
	nng_mtx_unlock(in->mtx);
}

static void inc_rx_cb(void *arg)
{
	struct iso_inc *in = arg;
	if (nng_aio_result(in->rx) != 0) {
		rx_end(in);
		return;
	}
	in->rlen += nng_aio_count(in->rx);
	if (rx_parse(in) != 0) {
		nng_stream_close(in->st); /* a broken process: treat as its end */
		rx_end(in);
		return;
	}
	rx_next(in);
}

static void inc_acc_cb(void *arg)
{
	struct iso_inc *in = arg;
	if (nng_aio_result(in->acc) != 0)
		return; /* closed; otherwise the process finds nobody and exits */
	nng_stream *s = nng_aio_get_output(in->acc, 0);
	nng_mtx_lock(in->mtx);
	if (in->closing) {
		nng_mtx_unlock(in->mtx);
		nng_stream_close(s);
		nng_stream_free(s);
		return;
	}
	in->st = s;
	nng_mtx_unlock(in->mtx);
	rx_next(in);
}

/* Stop and free an incarnation (the proxy already unhooked it). Waits for
 * its callbacks; never from one of them. */
static void inc_close(struct iso_inc *in)
{
	nng_mtx_lock(in->mtx);
	in->closing = 1;
	nng_mtx_unlock(in->mtx);
	if (in->lst != NULL)
		nng_stream_listener_close(in->lst);
	nng_aio_stop(in->acc); /* after this, st no longer changes */
	if (in->st != NULL)
		nng_stream_close(in->st);
	nng_aio_stop(in->rx);
	nng_aio_stop(in->tx);
	while (in->txn > 0) {
		nng_msg_free(in->txq[in->txh]);
		in->txh = (in->txh + 1) % in->txcap;
		in->txn--;
	}
	free(in->txq);
	if (in->st != NULL)
		nng_stream_free(in->st);
	if (in->lst != NULL)
		nng_stream_listener_free(in->lst);
	nng_aio_free(in->acc);
	nng_aio_free(in->rx);
	nng_aio_free(in->tx);
	nng_mtx_free(in->mtx);
	unlink(in->path);
	free(in->rb);
	free(in);
}

static void inc_free_partial(struct iso_inc *in)
{
	if (in->lst != NULL) {
		nng_stream_listener_close(in->lst);
		nng_stream_listener_free(in->lst);
		unlink(in->path);
	}
	if (in->acc)
		nng_aio_free(in->acc);
	if (in->rx)
		nng_aio_free(in->rx);
	if (in->tx)
		nng_aio_free(in->tx);
	if (in->mtx)
		nng_mtx_free(in->mtx);
	free(in->rb);
	free(in);
}

static int nng_err(int rv)
{
	return rv == NNG_ENOMEM ? NACT_ENOMEM : NACT_ETRANERR + rv;
}

/* Start a process for ia: a new incarnation listening on its own socket,
 * then the launcher request. The request goes last: once it is out the
 * proxy may run (reports and callbacks reach it), so every field it reads
 * is written before. */
static int inc_start(struct iso_actor *ia)
{
	struct nacti_iso *iso = ia->iso;
	uint32_t gen = atomic_load_explicit(&ia->gen, memory_order_relaxed) + 1;
	struct iso_inc *in = calloc(1, sizeof(*in));
	char url[SUN_PATH_MAX + 8];
	int rv = NACT_ENOMEM;
	if (in == NULL)
		return NACT_ENOMEM;
	in->sys = ia->sys;
	in->aid = ia->aid;
	in->gen = gen;
	int n = snprintf(in->path, sizeof(in->path), "%s/%llx-%u.ipc", iso->dir,
	    (unsigned long long)ia->aid.v, gen);
	if (n < 0 || (size_t)n >= sizeof(in->path)) {
		free(in);
		return NACT_EINVAL;
	}
	snprintf(url, sizeof(url), "ipc://%s", in->path);
	in->rcap = RX_BUF;
	in->rb = malloc(in->rcap);
	if (in->rb == NULL || nng_mtx_alloc(&in->mtx) != 0 ||
	    nng_aio_alloc(&in->acc, inc_acc_cb, in) != 0 ||
	    nng_aio_alloc(&in->rx, inc_rx_cb, in) != 0 ||
	    nng_aio_alloc(&in->tx, inc_tx_cb, in) != 0)
		goto out_free;
	unlink(in->path);
	if ((rv = nng_stream_listener_alloc(&in->lst, url)) != 0 ||
	    (rv = nng_stream_listener_listen(in->lst)) != 0) {
		rv = nng_err(rv);
		goto out_free;
	}
	nng_stream_listener_accept(in->lst, in->acc);

	ia->eof = ia->exited = 0;
	ia->kill_reason = ia->init_rv = 0;
	ia->xkind = ia->xval = 0;
	ia->seq = 0;
	atomic_store_explicit(&ia->gen, gen, memory_order_relaxed);
	nng_mtx_lock(iso->mtx);
	if (iso->closed) {
		nng_mtx_unlock(iso->mtx);
		rv = NACT_ECLOSED;
		goto out_stop;
	}
	ia->inc = in;
	nng_mtx_unlock(iso->mtx);

	struct lreq rq = {.op = LQ_SPAWN,
	    .session = iso->session,
	    .gen = gen,
	    .aid = ia->aid.v,
	    .fn = ia->fn,
	    .init = ia->init,
	    .fini = ia->fini,
	    .log_level = nact_log_level(ia->sys),
	    .arglen = (uint32_t)ia->arglen};
	memcpy(rq.path, in->path, sizeof(rq.path));
	if ((rv = l_send(&rq, ia->arg, ia->arglen)) != 0) {
		nng_mtx_lock(iso->mtx);
		ia->inc = NULL;
		nng_mtx_unlock(iso->mtx);
		goto out_stop;
	}
	return 0;

out_stop:
	inc_close(in);
	return rv;
out_free:
	inc_free_partial(in);
	return rv;
}

static void l_kill(struct iso_actor *ia, uint32_t delay_ms)
{
	struct lreq rq = {.op = LQ_KILL,
	    .session = ia->iso->session,
	    .gen = atomic_load_explicit(&ia->gen, memory_order_relaxed),
	    .delay_ms = delay_ms,
	    .aid = ia->aid.v};
	l_send(&rq, NULL, 0);
}

/* Unhook and close the current incarnation, if any. Proxy only. */
static void iso_unhook(struct iso_actor *ia)
{
	nng_mtx_lock(ia->iso->mtx);
	struct iso_inc *in = ia->inc;
	ia->inc = NULL;
	nng_mtx_unlock(ia->iso->mtx);
	if (in != NULL)
		inc_close(in);
}

/* ---- the proxy ---- */

static void q_push(struct iso_actor *ia, nact_msg *m)
{
	atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
	if (ia->qtail != NULL)
		atomic_store_explicit(&ia->qtail->next, m, memory_order_relaxed);
	else
		ia->qhead = m;
	ia->qtail = m;
}

static nact_msg *q_pop(struct iso_actor *ia)
{
	nact_msg *m = ia->qhead;
	if (m != NULL) {
		ia->qhead = atomic_load_explicit(&m->next, memory_order_relaxed);
		if (ia->qhead == NULL)
			ia->qtail = NULL;
	}
	return m;
}

static void q_unpop(struct iso_actor *ia, nact_msg *m)
{
	atomic_store_explicit(&m->next, ia->qhead, memory_order_relaxed);
	ia->qhead = m;
	if (ia->qtail == NULL)
		ia->qtail = m;
}

static void timer_cancel(struct iso_actor *ia, nact_timer *t)
{
	if (t->v != 0)
		nact_timer_cancel(ia->sys, *t);
	t->v = 0;
}

/* The current incarnation. Proxy only; it alone replaces it, but it may
 * have been installed by nact_spawn_isolated's thread: the lock orders
 * that thread's writes (here and in inc_start) before our reads. */
static struct iso_inc *cur_inc(struct iso_actor *ia)
{
	nng_mtx_lock(ia->iso->mtx);
	struct iso_inc *in = ia->inc;
	nng_mtx_unlock(ia->iso->mtx);
	return in;
}

/* The process is up, idle and not on its way out (a message sent now
 * would be counted as the one it died handling). */
static int can_send(struct iso_actor *ia)
{
	return ia->cur == NULL && ia->kill_reason == 0 && !ia->eof && !ia->exited &&
	    atomic_load_explicit(&ia->st, memory_order_relaxed) == ST_UP;
}

/* Send the next queued message if the process can take it. */
static void pump(struct iso_actor *ia)
{
	struct iso_inc *in = cur_inc(ia);
	while (in != NULL && ia->qhead != NULL && can_send(ia)) {
		nact_msg *m = q_pop(ia);
		uint64_t dl = nact_msg_deadline(m);
		if (dl != 0 && nact_now(ia->sys) > dl) {
			nacti_deadletter(ia->sys, m, NACT_DL_EXPIRED);
			continue;
		}
		size_t len = nng_msg_len(m->nm);
		nng_msg *f;
		if (nng_msg_alloc(&f, 5 + len) != 0) {
			q_unpop(ia, m); /* retried on the next event */
			return;
		}
		uint8_t *b = nng_msg_body(f);
		nacti_put32(b, (uint32_t)(1 + len));
		b[4] = 'M';
		memcpy(b + 5, nng_msg_body(m->nm), len);
		if (inc_send(in, f) != 0) {
			nng_msg_free(f);
			q_unpop(ia, m); /* the process is going: it stays queued */
			return;
		}
		ia->cur = m;
		ia->seq++;
		if (ia->deadline_ms > 0) {
			nact_msg *t;
			if (nact_msg_alloc(&t, ia->sys, NACTI_T_ISO_DEADLINE) == 0) {
				uint64_t corr =
				    (uint64_t)atomic_load_explicit(&ia->gen, memory_order_relaxed)
				        << 32 |
				    ia->seq;
				nacti_put64(nacti_hdr(t) + NACTI_OFF_CORR, corr);
				if (nact_send_after(ia->sys, ia->aid, t, (int)ia->deadline_ms,
				        &ia->dl_timer) != 0)
					nact_msg_free(t);
			}
		}
	}
}

/* The process ended and its stream is drained: decide what it means. */
static void iso_down(nact_ctx *ctx, struct iso_actor *ia)
{
	if (!ia->eof || !ia->exited || atomic_load(&ia->st) == ST_DOWN)
		return;
	int reason, normal = 0;
	char text[256] = "";
	if (ia->kill_reason != 0) {
		reason = ia->kill_reason;
		snprintf(text, sizeof(text), "handler deadline exceeded (%u ms)", ia->deadline_ms);
	} else if (ia->init_rv != 0) {
		reason = ia->init_rv;
		snprintf(text, sizeof(text), "init failed: %s", nact_strerror(reason));
	} else if (ia->xkind == XK_FORKERR) {
		reason = NACT_ESYSERR + ia->xval;
		snprintf(text, sizeof(text), "fork: %s", strerror(ia->xval));
	} else if (ia->xkind == XK_LAUNCHER) {
		reason = NACT_EXIT_SIGNAL(SIGKILL);
		snprintf(text, sizeof(text), "signal %d (launcher gone)", SIGKILL);
	} else if (WIFSIGNALED(ia->xval)) {
		reason = NACT_EXIT_SIGNAL(WTERMSIG(ia->xval));
	} else if (WIFEXITED(ia->xval) && WEXITSTATUS(ia->xval) == 0) {
		reason = NACT_EXIT_NORMAL; /* it called exit(0) itself: a real end */
		normal = 1;
		snprintf(text, sizeof(text), "process exited");
	} else {
		reason = NACT_ESYSERR + ECHILD;
		snprintf(text, sizeof(text), "process exited with status %d",
		    WIFEXITED(ia->xval) ? WEXITSTATUS(ia->xval) : ia->xval);
	}
	iso_unhook(ia);
	timer_cancel(ia, &ia->dl_timer);
	timer_cancel(ia, &ia->drain_timer);
	nact_msg *m = ia->cur;
	ia->cur = NULL;
	char rb[64];
	nact_log(ia->sys, NACT_LOG_WARN, "isolated actor %#llx: process ended (%s)%s",
	    (unsigned long long)ia->aid.v,
	    text[0] ? text : nact_exit_format(reason, rb, sizeof(rb)),
	    m != NULL ? "; the message it was handling is a dead letter" : "");
	if (m != NULL)
		nacti_deadletter(ia->sys, m, NACT_DL_CRASHED);
	atomic_store_explicit(&ia->pid, -1, memory_order_relaxed);
	if (normal) {
		nact_exit_msg(ctx, reason, text); /* ends for good: no restart */
		return;
	}
	/* seq_cst: whoever gets the DOWN below and calls restart sees it */
	atomic_store(&ia->st, ST_DOWN);
	struct nacti_actor_ext *x = nacti_actor_ext(ctx->a);
	if (x != NULL)
		nacti_links_notify(ia->sys, x, ia->aid, reason, text[0] ? text : NULL);
}

static int proxy_fn(nact_ctx *ctx, nact_msg *m)
{
	struct iso_actor *ia = nact_state(ctx);
	uint32_t type = nact_msg_type(m);
	if (type < NACTI_T_ISO_HELLO || type > NACTI_T_ISO_DRAIN) {
		ctx->consumed = 1; /* ours until the process handled it */
		q_push(ia, m);
		pump(ia);
		return 0;
	}
	uint64_t corr = nact_msg_corr(m);
	struct iso_inc *in = cur_inc(ia); /* also orders the spawner's writes */
	uint32_t gen = atomic_load_explicit(&ia->gen, memory_order_relaxed);
	int64_t a, b;
	char text[256];
	switch (type) {
	case NACTI_T_ISO_HELLO:
		if (corr != gen)
			break;
		iso_read(m, &a, &b, NULL, 0);
		if (a != 0) {
			ia->init_rv = (int)a; /* the process exits: handled as its end */
			break;
		}
		if (b > 0)
			atomic_store_explicit(&ia->pid, (long)b, memory_order_relaxed);
		atomic_store(&ia->st, ST_UP);
		pump(ia);
		break;
	case NACTI_T_ISO_ACK:
		if (corr != gen || ia->cur == NULL)
			break;
		nact_msg_free(ia->cur);
		ia->cur = NULL;
		timer_cancel(ia, &ia->dl_timer);
		iso_read(m, &a, &b, text, sizeof(text));
		if (a != 0) {
			nact_exit_msg(ctx, (int)b, text); /* the behaviour ended it */
			break;
		}
		pump(ia);
		break;
	case NACTI_T_ISO_EOF:
		if (corr != gen || ia->eof)
			break;
		ia->eof = 1;
		if (!ia->exited)
			l_kill(ia, GRACE_MS); /* it closed but lives on: not for long */
		iso_down(ctx, ia);
		break;
	case NACTI_T_ISO_EXIT:
		if (corr != gen || ia->exited)
			break;
		iso_read(m, &a, &b, NULL, 0);
		ia->exited = 1;
		ia->xkind = (int)a;
		ia->xval = (int)b;
		if (ia->xkind == XK_FORKERR) {
			ia->eof = 1; /* there never was a process */
		} else if (!ia->eof) {
			/* the stream ends right after (the kernel closed it); if
			 * something else still holds it open, stop waiting */
			nact_msg *t;
			if (nact_msg_alloc(&t, ia->sys, NACTI_T_ISO_DRAIN) == 0) {
				nacti_put64(nacti_hdr(t) + NACTI_OFF_CORR, gen);
				if (nact_send_after(ia->sys, ia->aid, t, DRAIN_MS,
				        &ia->drain_timer) != 0)
					nact_msg_free(t);
			}
		}
		iso_down(ctx, ia);
		break;
	case NACTI_T_ISO_DRAIN:
		if (corr != gen || !ia->exited || ia->eof)
			break;
		ia->drain_timer.v = 0;
		ia->eof = 1;
		iso_down(ctx, ia);
		break;
	case NACTI_T_ISO_RESTART: {
		if (atomic_load(&ia->st) != ST_STARTING || in != NULL)
			break;
		int rv = inc_start(ia);
		if (rv != 0) {
			char rb[64];
			nact_log(ia->sys, NACT_LOG_WARN, "isolated actor %#llx: restart failed: %s",
			    (unsigned long long)ia->aid.v, nact_strerror(rv));
			atomic_store(&ia->st, ST_DOWN);
			struct nacti_actor_ext *x = nacti_actor_ext(ctx->a);
			if (x != NULL)
				nacti_links_notify(ia->sys, x, ia->aid, rv,
				    nact_exit_format(rv, rb, sizeof(rb)));
		}
		break;
	}
	case NACTI_T_ISO_DEADLINE:
		if ((uint32_t)(corr >> 32) != gen || (uint32_t)corr != ia->seq || ia->cur == NULL ||
		    ia->kill_reason != 0 || ia->exited)
			break;
		ia->dl_timer.v = 0;
		ia->kill_reason = NACT_EXIT_DEADLINE;
		nact_log(ia->sys, NACT_LOG_WARN,
		    "isolated actor %#llx: handler for type %#x ran past %u ms: killing process %ld",
		    (unsigned long long)ia->aid.v, nact_msg_type(ia->cur), ia->deadline_ms,
		    atomic_load_explicit(&ia->pid, memory_order_relaxed));
		l_kill(ia, 0);
		break;
	default:
		break;
	}
	return 0;
}

/* The proxy ended (any reason, or system close): close the stream (the
 * process runs fini and exits; killed after GRACE_MS if it does not), and
 * what it still held becomes dead letters "stopped". */
static void proxy_fini(void *arg)
{
	struct iso_actor *ia = arg;
	nact_system *sys = ia->sys;
	nng_mtx_lock(ia->iso->mtx);
	tab_del(ia->iso, ia);
	int had = ia->inc != NULL;
	nng_mtx_unlock(ia->iso->mtx);
	if (had)
		l_kill(ia, GRACE_MS);
	iso_unhook(ia);
	timer_cancel(ia, &ia->dl_timer);
	timer_cancel(ia, &ia->drain_timer);
	/* after the workers stopped (close), only free */
	int quiet = atomic_load(&sys->stopping) != 0;
	nact_msg *m = ia->cur;
	ia->cur = NULL;
	do {
		if (m == NULL)
			continue;
		if (quiet)
			nact_msg_free(m);
		else
			nacti_deadletter(sys, m, NACT_DL_STOPPED);
	} while ((m = q_pop(ia)) != NULL);
	free(ia->arg);
	free(ia);
}

/* ------------------------------------------------------------------ */
/* Sessions: one per system opened with isolation                       */

/* Under g.mtx: a report from the launcher. */
static void reader_dispatch(struct nacti_iso *iso, const struct lrep *r)
{
	nng_mtx_lock(iso->mtx);
	struct iso_actor *ia = iso->closed ? NULL : tab_find(iso, r->aid);
	if (ia == NULL || atomic_load_explicit(&ia->gen, memory_order_relaxed) != r->gen)
		goto out;
	switch (r->op) {
	case LR_PID:
		atomic_store_explicit(&ia->pid, r->pid, memory_order_relaxed);
		break;
	case LR_EXIT:
	case LR_FORKERR:
		atomic_store_explicit(&ia->pid, -1, memory_order_relaxed);
		iso_post(iso->sys, ia->aid, NACTI_T_ISO_EXIT, r->gen,
		    r->op == LR_EXIT ? XK_STATUS : XK_FORKERR, r->value, NULL, 0);
		break;
	default:
		break;
	}
out:
	nng_mtx_unlock(iso->mtx);
}

/* The launcher died: every process of ours died with it. */
static void reader_orphaned(void)
{
	pthread_mutex_lock(&g.mtx);
	g.dead = 1;
	for (struct nacti_iso *iso = g.sessions; iso != NULL; iso = iso->next) {
		nact_log(iso->sys, NACT_LOG_ERROR, "the isolation launcher process is gone");
		nng_mtx_lock(iso->mtx);
		for (uint32_t i = 0; !iso->closed && i < iso->ntab; i++) {
			struct iso_actor *ia = iso->tab[i];
			atomic_store_explicit(&ia->pid, -1, memory_order_relaxed);
			iso_post(iso->sys, ia->aid, NACTI_T_ISO_EXIT,
			    atomic_load_explicit(&ia->gen, memory_order_relaxed), XK_LAUNCHER, 0,
			    NULL, 0);
		}
		nng_mtx_unlock(iso->mtx);
	}
	pthread_mutex_unlock(&g.mtx);
}

static void reader_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct lrep r;
		ssize_t n = recv(g.fd, &r, sizeof(r), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			reader_orphaned();
			return;
		}
		if ((size_t)n != sizeof(r))
			continue;
		pthread_mutex_lock(&g.mtx);
		if (r.op == LR_CLOSED && r.session == g.stop_session) {
			pthread_mutex_unlock(&g.mtx);
			return;
		}
		for (struct nacti_iso *iso = g.sessions; iso != NULL; iso = iso->next) {
			if (iso->session == r.session) {
				reader_dispatch(iso, &r);
				break;
			}
		}
		pthread_mutex_unlock(&g.mtx);
	}
}

/* A private directory for the ipc sockets: mode 0700. */
static int make_dir(char *out, size_t cap)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	/* room for the socket names ("/<id>-<gen>.ipc") within sun_path */
	if (x != NULL && x[0] == '/' && strlen(x) + 40 + 14 < cap) {
		snprintf(out, cap, "%s/nactor", x);
		if (mkdir(out, 0700) == 0 || errno == EEXIST) {
			snprintf(out, cap, "%s/nactor/XXXXXX", x);
			if (mkdtemp(out) != NULL)
				return 0;
		}
	}
	snprintf(out, cap, "/tmp/nactor-XXXXXX");
	if (mkdtemp(out) != NULL)
		return 0;
	return NACT_ESYSERR + errno;
}

int nacti_iso_open(nact_system *sys)
{
	struct nacti_iso *iso = calloc(1, sizeof(*iso));
	int rv;
	if (iso == NULL)
		return NACT_ENOMEM;
	iso->sys = sys;
	if (nng_mtx_alloc(&iso->mtx) != 0) {
		free(iso);
		return NACT_ENOMEM;
	}
	if ((rv = make_dir(iso->dir, sizeof(iso->dir))) != 0) {
		nng_mtx_free(iso->mtx);
		free(iso);
		return rv;
	}
	pthread_mutex_lock(&g.life);
	pthread_mutex_lock(&g.mtx);
	if (g.fd < 0 || g.dead) {
		pthread_mutex_unlock(&g.mtx);
		pthread_mutex_unlock(&g.life);
		rmdir(iso->dir);
		nng_mtx_free(iso->mtx);
		free(iso);
		return NACT_ESTATE;
	}
	iso->session = ++g.next_session;
	iso->next = g.sessions;
	g.sessions = iso;
	int first = g.reader == NULL;
	pthread_mutex_unlock(&g.mtx);
	if (first && (rv = nng_thread_create(&g.reader, reader_main, NULL)) != 0) {
		g.reader = NULL;
		pthread_mutex_lock(&g.mtx);
		g.sessions = iso->next;
		pthread_mutex_unlock(&g.mtx);
		pthread_mutex_unlock(&g.life);
		rmdir(iso->dir);
		nng_mtx_free(iso->mtx);
		free(iso);
		return nng_err(rv);
	}
	pthread_mutex_unlock(&g.life);
	sys->iso = iso;
	NACTI_DEBUG(sys, "isolation: session %u, directory %s", iso->session, iso->dir);
	return 0;
}

void nacti_iso_stop(nact_system *sys)
{
	struct nacti_iso *iso = sys != NULL ? sys->iso : NULL;
	if (iso == NULL)
		return;
	/* The launcher forgets this session's processes (they got or get end
	 * of stream and exit; it kills what is left after the grace time) and
	 * the reader stops delivering into this system. */
	pthread_mutex_lock(&g.life);
	pthread_mutex_lock(&g.mtx);
	for (struct nacti_iso **pp = &g.sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == iso) {
			*pp = iso->next;
			break;
		}
	}
	int last = g.sessions == NULL;
	if (last)
		g.stop_session = iso->session;
	pthread_mutex_unlock(&g.mtx);
	struct lreq rq = {.op = LQ_CLOSE, .session = iso->session};
	int sent = l_send(&rq, NULL, 0) == 0;
	if (last && g.reader != NULL) {
		/* it ends on this session's CLOSED echo, or at end of file */
		if (!sent)
			shutdown(g.fd, SHUT_RD);
		nng_thread_destroy(g.reader);
		g.reader = NULL;
	}
	pthread_mutex_unlock(&g.life);
	/* Isolated actors still alive: their streams deliver nothing more. */
	nng_mtx_lock(iso->mtx);
	iso->closed = 1;
	for (uint32_t i = 0; i < iso->ntab; i++) {
		struct iso_inc *in = iso->tab[i]->inc;
		if (in != NULL) {
			nng_mtx_lock(in->mtx);
			in->closing = 1;
			nng_mtx_unlock(in->mtx);
		}
	}
	nng_mtx_unlock(iso->mtx);
}

void nacti_iso_fini(nact_system *sys)
{
	struct nacti_iso *iso = sys != NULL ? sys->iso : NULL;
	if (iso == NULL)
		return;
	/* The proxies' destructors removed their sockets; anything left
	 * (a crash of ours) goes too. */
	DIR *d = opendir(iso->dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char p[SUN_PATH_MAX + 256];
			snprintf(p, sizeof(p), "%s/%s", iso->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(iso->dir);
	free(iso->tab);
	nng_mtx_free(iso->mtx);
	free(iso);
	sys->iso = NULL;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */

int nact_spawn_isolated(nact_aid *idp, nact_system *sys, nact_behaviour fn, nact_isolated_init init,
    const void *arg, size_t arglen, nact_state_fini fini, const nact_spawn_opts *opts)
{
	if (idp == NULL || sys == NULL || fn == NULL || (arglen > 0 && arg == NULL))
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys);
	if (sys->iso == NULL)
		return NACT_ESTATE;
	if (arglen > ARG_MAX_LEN || (opts != NULL && opts->capacity > 0))
		return NACT_EINVAL;
	struct iso_actor *ia = calloc(1, sizeof(*ia));
	if (ia == NULL)
		return NACT_ENOMEM;
	if (arglen > 0) {
		ia->arg = malloc(arglen);
		if (ia->arg == NULL) {
			free(ia);
			return NACT_ENOMEM;
		}
		memcpy(ia->arg, arg, arglen);
	}
	ia->arglen = arglen;
	ia->sys = sys;
	ia->iso = sys->iso;
	ia->fn = fn;
	ia->init = init;
	ia->fini = fini;
	ia->deadline_ms = opts != NULL ? opts->handler_deadline_ms : 0;
	atomic_init(&ia->st, ST_STARTING);
	atomic_init(&ia->pid, -1);
	atomic_init(&ia->gen, 0);
	/* The proxy: same name; the deadline is enforced here, by killing. */
	nact_spawn_opts po = {.name = opts != NULL ? opts->name : NULL};
	nact_aid id;
	int rv = nact_spawn(&id, sys, proxy_fn, ia, proxy_fini, &po);
	if (rv != 0) {
		free(ia->arg);
		free(ia);
		return rv;
	}
	/* From here the proxy owns ia; it runs only once a message arrives,
	 * and none can before the launcher request (or a send by name, which
	 * only queues). */
	ia->aid = id;
	nng_mtx_lock(sys->iso->mtx);
	rv = sys->iso->closed ? NACT_ECLOSED : tab_add(sys->iso, ia);
	nng_mtx_unlock(sys->iso->mtx);
	if (rv == 0)
		rv = inc_start(ia);
	if (rv != 0) {
		nact_kill(sys, id);
		return rv;
	}
	NACTI_DEBUG(sys, "spawn isolated %#llx", (unsigned long long)id.v);
	*idp = id;
	return 0;
}

int nact_isolated_restart(nact_system *sys, nact_aid id)
{
	if (sys == NULL)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys);
	struct nacti_iso *iso = sys->iso;
	if (iso == NULL)
		return NACT_ENOENT;
	nng_mtx_lock(iso->mtx);
	struct iso_actor *ia = tab_find(iso, id.v);
	int rv = NACT_ENOENT;
	if (ia != NULL) {
		int down = ST_DOWN;
		rv = atomic_compare_exchange_strong(&ia->st, &down, ST_STARTING) ? 0 : NACT_ESTATE;
	}
	nng_mtx_unlock(iso->mtx);
	if (rv == 0)
		rv = iso_post(sys, id, NACTI_T_ISO_RESTART, 0, 0, 0, NULL, 0);
	return rv;
}

long nact_isolated_pid(nact_system *sys, nact_aid id)
{
	if (sys == NULL || sys->iso == NULL)
		return -1;
	long pid = -1;
	nng_mtx_lock(sys->iso->mtx);
	struct iso_actor *ia = tab_find(sys->iso, id.v);
	if (ia != NULL)
		pid = atomic_load_explicit(&ia->pid, memory_order_relaxed);
	nng_mtx_unlock(sys->iso->mtx);
	return pid;
}
