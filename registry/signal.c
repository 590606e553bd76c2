/*
 * registry/signal.c — SIGINT/SIGTERM as a cancel source
 * (include/nactor/signal.h).
 *
 * DESIGN
 * - The handler (on_sig) is the only code that runs in signal context. It
 *   touches two lock-free atomics and calls write(2) or _exit(2), both
 *   async-signal-safe: the first signal writes its number to the pipe, a
 *   later one _exits with 128 + signo. errno is saved and restored.
 * - The pipe's write end is the one process-global: a handler has no
 *   argument. It is -1 when nothing is installed, and nact_signals_install
 *   refuses a second installation (NACT_ESTATE) with a compare-and-swap.
 * - The signal thread (sig_main) blocks in read(2) on the pipe: idle, it
 *   costs nothing. A signal byte starts the grace period, wakes the
 *   watchdog, runs nact_op_cancel_all and on_signal, then marks the cancel
 *   done and wakes nact_signals_wait. Byte 0, written by remove, ends it.
 * - The watchdog (dog_main) sleeps on a condition variable until a signal
 *   came, then until the grace deadline (CLOCK_MONOTONIC) or remove; at
 *   the deadline it _exits with 128 + signo. It is a separate thread so
 *   that a slow on_cancel callback on the signal thread cannot hold the
 *   deadline back.
 * - nact_op_cancel_all goes through the public registry calls only: one
 *   snapshot of the live operations, depths from the parent ids (a parent
 *   has a smaller id than its children, so one pass in id order computes
 *   them), then nact_op_cancel on each, deepest first: by the time a
 *   parent is cancelled its children are final with the caller's reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nactor/error.h>
#include <nactor/signal.h>

#define SIG_GRACE_DEFAULT 5000
#define SIG_PASSES 4

/* Process-global by nature (see the header): the pipe the handler writes
 * to, and how many signals it has seen since install. */
static atomic_int sig_wfd = -1;
static atomic_int sig_seen;

struct nact_signals {
	nact_system *sys;
	int grace_ms;
	char message[256]; /* "" = by signal */
	void (*on_signal)(void *arg, int signo);
	void *arg;
	int rfd, wfd;
	struct sigaction old_int, old_term;
	pthread_t sig_thr, dog_thr;
	pthread_mutex_t mtx;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	/* under mtx */
	int signo;                /* the first signal, 0 until one came */
	struct timespec deadline; /* grace end, once signo != 0 */
	int done;                 /* the cancel pass finished */
	int quit;                 /* remove started */
};

static void on_sig(int signo)
{
	int saved = errno;
	if (atomic_fetch_add(&sig_seen, 1) > 0)
		_exit(128 + signo);
	int fd = atomic_load(&sig_wfd);
	if (fd >= 0) {
		unsigned char b = (unsigned char)signo;
		ssize_t rv = write(fd, &b, 1);
		(void)rv; /* a full pipe already holds a wake-up */
	}
	errno = saved;
}

/* ---- cancel everything ---- */

static int cmp_info_id(const void *a, const void *b)
{
	const nact_op_info *x = a, *y = b;
	return x->id.v < y->id.v ? -1 : x->id.v > y->id.v;
}

struct deep {
	uint64_t id;
	uint32_t depth;
};

static int cmp_deep(const void *a, const void *b)
{
	const struct deep *x = a, *y = b;
	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id; /* newest first */
}

/* The live operations (pending and running) into *vp, sorted by id. */
static int live_snapshot(nact_system *sys, nact_op_info **vp, size_t *np)
{
	size_t np_ = 0, nr = 0, got_p = 0, got_r = 0;
	nact_op_list(sys, NACT_OP_PENDING, NULL, 0, &np_);
	nact_op_list(sys, NACT_OP_RUNNING, NULL, 0, &nr);
	size_t max = np_ + nr;
	nact_op_info *v = NULL;
	*vp = NULL;
	*np = 0;
	if (max == 0)
		return 0;
	if ((v = malloc(max * sizeof(*v))) == NULL)
		return NACT_ENOMEM;
	nact_op_list(sys, NACT_OP_PENDING, v, np_, &got_p);
	if (got_p > np_)
		got_p = np_;
	nact_op_list(sys, NACT_OP_RUNNING, v + got_p, max - got_p, &got_r);
	if (got_r > max - got_p)
		got_r = max - got_p;
	*np = got_p + got_r;
	qsort(v, *np, sizeof(*v), cmp_info_id);
	*vp = v;
	return 0;
}

static long find_id(const nact_op_info *v, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].id.v == id)
			return (long)mid;
		if (v[mid].id.v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int nact_op_cancel_all(nact_system *sys, int reason, const char *msg, size_t *np)
{
	size_t total = 0;
	if (np != NULL)
		*np = 0;
	if (sys == NULL || reason < NACT_CANCEL_MANUAL || reason >= NACT_CANCEL_NREASONS)
		return NACT_EINVAL;
	for (int pass = 0; pass < SIG_PASSES; pass++) {
		nact_op_info *v;
		size_t n;
		int rv = live_snapshot(sys, &v, &n);
		if (rv != 0)
			return rv;
		if (n == 0)
			break;
		struct deep *d = malloc(n * sizeof(*d));
		if (d == NULL) {
			free(v);
			return NACT_ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			long p = v[i].parent.v != 0 ? find_id(v, i, v[i].parent.v) : -1;
			d[i].id = v[i].id.v;
			d[i].depth = p >= 0 ? d[p].depth + 1 : 0;
		}
		qsort(d, n, sizeof(*d), cmp_deep);
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (nact_op_cancel(sys, (nact_opid){d[i].id}, reason, msg) == 0)
				k++;
		free(d);
		free(v);
		total += k;
		if (k == 0)
			break; /* what is left is not ours to cancel (finishing) */
	}
	if (np != NULL)
		*np = total;
	return 0;
}

/* ---- the threads ---- */

static void *sig_main(void *arg)
{
	nact_signals *s = arg;
	for (;;) {
		unsigned char b;
		ssize_t rv = read(s->rfd, &b, 1);
		if (rv < 0 && errno == EINTR)
			continue;
		if (rv <= 0 || b == 0)
			return NULL; /* remove */
		int signo = b;
		pthread_mutex_lock(&s->mtx);
		if (s->signo != 0) { /* cannot happen: the handler _exits */
			pthread_mutex_unlock(&s->mtx);
			continue;
		}
		s->signo = signo;
		clock_gettime(CLOCK_MONOTONIC, &s->deadline);
		s->deadline.tv_sec += s->grace_ms / 1000;
		s->deadline.tv_nsec += (long)(s->grace_ms % 1000) * 1000000L;
		if (s->deadline.tv_nsec >= 1000000000L) {
			s->deadline.tv_sec++;
			s->deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mtx);

		char msg[256];
		if (s->message[0] != '\0')
			snprintf(msg, sizeof(msg), "%s", s->message);
		else
			snprintf(msg, sizeof(msg), "%s received",
			    signo == SIGINT      ? "SIGINT" :
			        signo == SIGTERM ? "SIGTERM" :
			                           "signal");
		nact_op_cancel_all(s->sys, NACT_CANCEL_SIGNAL, msg, NULL);
		if (s->on_signal != NULL)
			s->on_signal(s->arg, signo);

		pthread_mutex_lock(&s->mtx);
		s->done = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mtx);
	}
}

static void *dog_main(void *arg)
{
	nact_signals *s = arg;
	pthread_mutex_lock(&s->mtx);
	while (s->signo == 0 && !s->quit)
		pthread_cond_wait(&s->cv, &s->mtx);
	while (!s->quit) {
		int rv = pthread_cond_timedwait(&s->cv, &s->mtx, &s->deadline);
		if (rv == ETIMEDOUT && !s->quit)
			_exit(128 + s->signo); /* the grace period is over */
	}
	pthread_mutex_unlock(&s->mtx);
	return NULL;
}

/* ---- the API ---- */

static int set_flags(int fd, int fl)
{
	int cur = fcntl(fd, F_GETFL);
	return cur < 0 ? -1 : fcntl(fd, F_SETFL, cur | fl);
}

int nact_signals_install(nact_signals **sp, nact_system *sys, const nact_signal_opts *opts)
{
	nact_signals *s;
	int fds[2], rv, expect = -1;
	pthread_condattr_t ca;
	if (sp == NULL || sys == NULL || (opts != NULL && opts->grace_ms < 0))
		return NACT_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NACT_ENOMEM;
	s->sys = sys;
	s->grace_ms = opts != NULL && opts->grace_ms > 0 ? opts->grace_ms : SIG_GRACE_DEFAULT;
	if (opts != NULL && opts->message != NULL)
		snprintf(s->message, sizeof(s->message), "%s", opts->message);
	if (opts != NULL) {
		s->on_signal = opts->on_signal;
		s->arg = opts->arg;
	}
	if (pipe(fds) != 0) {
		rv = NACT_ESYSERR + errno;
		free(s);
		return rv;
	}
	s->rfd = fds[0];
	s->wfd = fds[1];
	if (fcntl(s->rfd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(s->wfd, F_SETFD, FD_CLOEXEC) != 0 ||
	    set_flags(s->wfd, O_NONBLOCK) != 0) {
		rv = NACT_ESYSERR + errno;
		goto out_pipe;
	}
	if (!atomic_compare_exchange_strong(&sig_wfd, &expect, s->wfd)) {
		rv = NACT_ESTATE;
		goto out_pipe;
	}
	atomic_store(&sig_seen, 0);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = pthread_create(&s->sig_thr, NULL, sig_main, s)) != 0) {
		rv = NACT_ESYSERR + rv;
		goto out_sync;
	}
	if ((rv = pthread_create(&s->dog_thr, NULL, dog_main, s)) != 0) {
		rv = NACT_ESYSERR + rv;
		unsigned char z = 0;
		if (write(s->wfd, &z, 1) != 1) /* a fresh pipe has room */
			abort();
		pthread_join(s->sig_thr, NULL);
		goto out_sync;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, &s->old_int) != 0) {
		rv = NACT_ESYSERR + errno;
		goto out_threads;
	}
	if (sigaction(SIGTERM, &sa, &s->old_term) != 0) {
		rv = NACT_ESYSERR + errno;
		sigaction(SIGINT, &s->old_int, NULL);
		goto out_threads;
	}
	/* The handler runs in whatever thread the kernel picks: make sure
	 * this one, at least, does not block them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	*sp = s;
	return 0;
out_threads:
	pthread_mutex_lock(&s->mtx);
	s->quit = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	{
		unsigned char z = 0;
		if (write(s->wfd, &z, 1) != 1)
			abort();
	}
	pthread_join(s->sig_thr, NULL);
	pthread_join(s->dog_thr, NULL);
out_sync:
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mtx);
	atomic_store(&sig_wfd, -1);
out_pipe:
	close(s->rfd);
	close(s->wfd);
	free(s);
	return rv;
}

int nact_signals_wait(nact_signals *s, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;
	if (s == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mtx);
	while (!s->done && !s->quit && rv != ETIMEDOUT)
		rv = pthread_cond_timedwait(&s->cv, &s->mtx, &ts);
	rv = s->done ? s->signo : 0;
	pthread_mutex_unlock(&s->mtx);
	return rv;
}

int nact_signals_signo(nact_signals *s)
{
	int v;
	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mtx);
	v = s->signo;
	pthread_mutex_unlock(&s->mtx);
	return v;
}

int nact_signals_left_ms(nact_signals *s)
{
	struct timespec now;
	long long ms;
	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mtx);
	if (s->signo == 0) {
		pthread_mutex_unlock(&s->mtx);
		return s->grace_ms;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(s->deadline.tv_sec - now.tv_sec) * 1000 +
	    (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
	pthread_mutex_unlock(&s->mtx);
	return ms > 0 ? (int)ms : 0;
}

void nact_signals_remove(nact_signals *s)
{
	unsigned char z = 0;
	if (s == NULL)
		return;
	sigaction(SIGINT, &s->old_int, NULL);
	sigaction(SIGTERM, &s->old_term, NULL);
	atomic_store(&sig_wfd, -1);
	pthread_mutex_lock(&s->mtx);
	s->quit = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	/* The handler may still be running on another thread with the old fd:
	 * the pipe stays open until the threads are joined, and a byte it
	 * wrote before the 0 is simply read first. The handler writes at
	 * most one byte per install, so the pipe has room. */
	if (write(s->wfd, &z, 1) != 1)
		abort(); /* cannot happen: see above */
	pthread_join(s->sig_thr, NULL);
	pthread_join(s->dog_thr, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mtx);
	close(s->rfd);
	close(s->wfd);
	free(s);
}
