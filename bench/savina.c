/*
 * savina.c — Savina-style actor micro-benchmarks for nactor.
 *
 *   savina PP CN RR RN FJ BW BM
 *
 * Runs the five workloads of shared/peers/savina.erl (and savina_caf.cpp) on
 * one shared system with the default configuration (one worker per core) and
 * prints one line per workload:
 *
 *   peer=nactor bench=NAME n=N seconds=S rate=R
 *
 *   pingpong         PP round trips between a ping and a pong actor
 *   counting         CN one-way "inc" messages from main to a counter, then
 *                    a request for the total
 *   threadring       a token passed RN hops around a ring of RR actors
 *   forkjoin_create  FJ actors spawned, each sent "go", each replies to a
 *                    collector and exits (timed from the first spawn)
 *   big              BW workers, each sends BM pings to random peers; each
 *                    ping is answered by a pong, each pong triggers the
 *                    next ping; n = BW * BM
 *
 * A count of 0 skips the workload (handy for profiling one of them).
 *
 * Honesty rules, kept by every workload: each message is a real nact_msg
 * allocated with nact_msg_alloc, sent with nact_send (or nact_call /
 * nact_reply_to) through a real mailbox and handled by a real behaviour call.
 * The type tag carries the kind; values (token count, big's sender index,
 * counts in replies) travel packed in the msgpack body with nact_pack_int
 * and are read in place with nact_reader. Each workload checks its result
 * and the program exits 1 with a message if a check fails; a handler that
 * sees something impossible (unknown type, failed send) exits the process
 * at once, since no reply would ever come.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nactor/nactor.h>

/* Message kinds (type tags). */
enum {
	T_GO = 1, /* start (pingpong: a request answered when done) */
	T_PING,   /* pingpong: empty; big: body = sender's worker index */
	T_PONG,   /* empty */
	T_INC,    /* empty */
	T_GET,    /* request; reply T_COUNT */
	T_COUNT,  /* body = count */
	T_TOKEN,  /* body = hops left */
	T_DONE,   /* to a collector or as a final reply; body = count or empty */
	T_WAIT    /* request to a collector; reply T_DONE with the count */
};

#define CALL_TIMEOUT_MS 600000

static void die(const char *what, int rv)
{
	fprintf(stderr, "savina: %s: %s\n", what, rv ? nact_strerror(rv) : "check failed");
	fflush(stderr);
	_exit(1);
}

#define CHECK(expr, what)                 \
	do {                              \
		int rv_ = (expr);         \
		if (rv_ != 0)             \
			die((what), rv_); \
	} while (0)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *name, long n, double t)
{
	printf("peer=nactor bench=%s n=%ld seconds=%.4f rate=%.0f\n", name, n, t, n / t);
	fflush(stdout);
}

/* A message of kind type with an empty body. */
static nact_msg *msg_empty(nact_system *sys, uint32_t type)
{
	nact_msg *m;
	CHECK(nact_msg_alloc(&m, sys, type), "nact_msg_alloc");
	return m;
}

/* A message of kind type whose body is one msgpack int. */
static nact_msg *msg_int(nact_system *sys, uint32_t type, int64_t v)
{
	nact_msg *m = msg_empty(sys, type);
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_int(&pk, v);
	CHECK(nact_pack_error(&pk), "nact_pack_int");
	return m;
}

/* The one int in m's body, read in place. */
static int64_t body_int(const nact_msg *m)
{
	nact_reader r;
	int64_t v = 0;
	int rv;
	if ((rv = nact_reader_init(&r, m, NULL)) != 0)
		die("nact_reader_init", rv);
	rv = nact_read_int(&r, &v);
	nact_reader_fini(&r);
	if (rv != 0)
		die("nact_read_int", rv);
	return v;
}

static void send_msg(nact_system *sys, nact_aid to, nact_msg *m)
{
	CHECK(nact_send(sys, to, m), "nact_send");
}

static nact_aid spawn_actor(nact_system *sys, nact_behaviour fn, void *state)
{
	nact_aid id;
	CHECK(nact_spawn(&id, sys, fn, state, NULL, NULL), "nact_spawn");
	return id;
}

static void stop_actor(nact_system *sys, nact_aid id)
{
	CHECK(nact_stop(sys, id), "nact_stop");
}

static int unexpected(nact_msg *msg)
{
	fprintf(stderr, "savina: unexpected message type %" PRIu32 "\n", nact_msg_type(msg));
	fflush(stderr);
	_exit(1);
}

/* A request from main, remembered so it can be answered later. */
struct waiter {
	nact_aid from;
	uint64_t corr;
	int set;
};

static void waiter_save(struct waiter *w, const nact_msg *req)
{
	w->from = nact_msg_sender(req);
	w->corr = nact_msg_corr(req);
	w->set = 1;
}

static void waiter_reply(nact_system *sys, struct waiter *w, nact_msg *reply)
{
	if (!w->set)
		die("reply without a saved request", 0);
	CHECK(nact_reply_to(sys, w->from, w->corr, reply), "nact_reply_to");
	w->set = 0;
}

/* ---- collector: counts T_DONE, answers a T_WAIT once it has `expected` ---- */

struct collector {
	int64_t expected;
	int64_t got;
	struct waiter w;
};

static void collector_check(nact_ctx *ctx, struct collector *c)
{
	if (c->w.set && c->got >= c->expected)
		waiter_reply(nact_sys(ctx), &c->w, msg_int(nact_sys(ctx), T_DONE, c->got));
}

static int collector_fn(nact_ctx *ctx, nact_msg *msg)
{
	struct collector *c = nact_state(ctx);
	switch (nact_msg_type(msg)) {
	case T_DONE:
		c->got++;
		break;
	case T_WAIT:
		waiter_save(&c->w, msg);
		break;
	default:
		return unexpected(msg);
	}
	collector_check(ctx, c);
	return 0;
}

/* Ask collector for its count once it reached c->expected; returns it. */
static int64_t collector_wait(nact_system *sys, nact_aid col)
{
	nact_msg *reply;
	int64_t v;
	CHECK(nact_call(sys, col, msg_empty(sys, T_WAIT), CALL_TIMEOUT_MS, &reply),
	    "nact_call wait");
	if (nact_msg_type(reply) != T_DONE)
		die("collector reply type", 0);
	v = body_int(reply);
	nact_msg_free(reply);
	return v;
}

/* ---- pingpong ---- */

struct ping {
	nact_aid pong;
	int64_t left;    /* round trips still to make */
	struct waiter w; /* main's "go" request */
};

static int pong_fn(nact_ctx *ctx, nact_msg *msg)
{
	if (nact_msg_type(msg) != T_PING)
		return unexpected(msg);
	send_msg(nact_sys(ctx), nact_msg_sender(msg), msg_empty(nact_sys(ctx), T_PONG));
	return 0;
}

static int ping_fn(nact_ctx *ctx, nact_msg *msg)
{
	struct ping *p = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	switch (nact_msg_type(msg)) {
	case T_GO:
		waiter_save(&p->w, msg);
		break;
	case T_PONG:
		if (--p->left == 0) {
			waiter_reply(sys, &p->w, msg_empty(sys, T_DONE));
			return 0;
		}
		break;
	default:
		return unexpected(msg);
	}
	send_msg(sys, p->pong, msg_empty(sys, T_PING));
	return 0;
}

static void bench_pingpong(nact_system *sys, long n)
{
	struct ping p = {.left = n};
	nact_msg *reply;
	nact_aid pong = spawn_actor(sys, pong_fn, NULL);
	p.pong = pong;
	nact_aid ping = spawn_actor(sys, ping_fn, &p);
	double t0 = now_s();
	CHECK(nact_call(sys, ping, msg_empty(sys, T_GO), CALL_TIMEOUT_MS, &reply),
	    "pingpong: nact_call go");
	double t = now_s() - t0;
	if (nact_msg_type(reply) != T_DONE || p.left != 0)
		die("pingpong: not all round trips made", 0);
	nact_msg_free(reply);
	report("pingpong", n, t);
	stop_actor(sys, ping);
	stop_actor(sys, pong);
}

/* ---- counting ---- */

static int counter_fn(nact_ctx *ctx, nact_msg *msg)
{
	int64_t *count = nact_state(ctx);
	switch (nact_msg_type(msg)) {
	case T_INC:
		++*count;
		return 0;
	case T_GET:
		CHECK(nact_reply(nact_sys(ctx), msg, msg_int(nact_sys(ctx), T_COUNT, *count)),
		    "nact_reply");
		return 0;
	default:
		return unexpected(msg);
	}
}

static void bench_counting(nact_system *sys, long n)
{
	int64_t count = 0;
	nact_msg *reply;
	nact_aid c = spawn_actor(sys, counter_fn, &count);
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		send_msg(sys, c, msg_empty(sys, T_INC));
	CHECK(nact_call(sys, c, msg_empty(sys, T_GET), CALL_TIMEOUT_MS, &reply),
	    "counting: nact_call get");
	double t = now_s() - t0;
	if (nact_msg_type(reply) != T_COUNT || body_int(reply) != n) {
		fprintf(stderr, "savina: counting: expected %ld\n", n);
		die("counting: count not reached", 0);
	}
	nact_msg_free(reply);
	report("counting", n, t);
	stop_actor(sys, c);
}

/* ---- threadring ---- */

struct ring {
	struct waiter w; /* main's request, saved by the node that got it */
	int64_t hops;    /* token messages handled (the token orders all writes) */
	long size;
	long last; /* index of the node that saw 0 */
};

struct ring_node {
	nact_aid next;
	long idx;
	struct ring *ring;
};

static int ring_fn(nact_ctx *ctx, nact_msg *msg)
{
	struct ring_node *nd = nact_state(ctx);
	struct ring *r = nd->ring;
	nact_system *sys = nact_sys(ctx);
	if (nact_msg_type(msg) != T_TOKEN)
		return unexpected(msg);
	if (nact_msg_flags(msg) & NACT_MF_REQUEST)
		waiter_save(&r->w, msg);
	int64_t k = body_int(msg);
	if (k == 0) {
		r->last = nd->idx;
		waiter_reply(sys, &r->w, msg_int(sys, T_DONE, r->hops));
		return 0;
	}
	r->hops++;
	send_msg(sys, nd->next, msg_int(sys, T_TOKEN, k - 1));
	return 0;
}

static void bench_threadring(nact_system *sys, long size, long hops)
{
	struct ring r = {.size = size, .last = -1};
	struct ring_node *nodes = calloc(size, sizeof(*nodes));
	nact_aid *ids = calloc(size, sizeof(*ids));
	nact_msg *reply;
	if (nodes == NULL || ids == NULL)
		die("threadring: out of memory", NACT_ENOMEM);
	/* Spawn back to front so each node knows its successor's id. */
	for (long i = size - 1; i >= 0; i--) {
		nodes[i].idx = i;
		nodes[i].ring = &r;
		nodes[i].next = i == size - 1 ? NACT_AID_NONE : ids[i + 1];
		ids[i] = spawn_actor(sys, ring_fn, &nodes[i]);
	}
	/* Close the ring: the last node's next is node 0. No message has been
	 * sent yet, and the token send below publishes this store. */
	nodes[size - 1].next = ids[0];
	double t0 = now_s();
	CHECK(nact_call(sys, ids[0], msg_int(sys, T_TOKEN, hops), CALL_TIMEOUT_MS, &reply),
	    "threadring: nact_call token");
	double t = now_s() - t0;
	if (nact_msg_type(reply) != T_DONE || body_int(reply) != hops || r.last != hops % size)
		die("threadring: ring not closed after the expected hops", 0);
	nact_msg_free(reply);
	report("threadring", hops, t);
	for (long i = 0; i < size; i++)
		stop_actor(sys, ids[i]);
	free(ids);
	free(nodes);
}

/* ---- forkjoin_create ---- */

static int fj_fn(nact_ctx *ctx, nact_msg *msg)
{
	nact_aid *col = nact_state(ctx);
	if (nact_msg_type(msg) != T_GO)
		return unexpected(msg);
	send_msg(nact_sys(ctx), *col, msg_empty(nact_sys(ctx), T_DONE));
	nact_exit(ctx, 0);
	return 0;
}

static void bench_forkjoin(nact_system *sys, long n)
{
	struct collector c = {.expected = n};
	nact_aid *ids = malloc(n * sizeof(*ids));
	if (ids == NULL)
		die("forkjoin: out of memory", NACT_ENOMEM);
	nact_aid col = spawn_actor(sys, collector_fn, &c);
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		ids[i] = spawn_actor(sys, fj_fn, &col);
	for (long i = 0; i < n; i++)
		send_msg(sys, ids[i], msg_empty(sys, T_GO));
	int64_t got = collector_wait(sys, col);
	double t = now_s() - t0;
	if (got != n)
		die("forkjoin: not every actor replied", 0);
	report("forkjoin_create", n, t);
	stop_actor(sys, col);
	free(ids);
}

/* ---- big ---- */

struct big;

struct big_worker {
	struct big *big;
	long idx;
	int64_t left;     /* pings still to send */
	int64_t pongs;    /* pongs received */
	int64_t pings_in; /* pings answered */
	uint64_t rng;     /* xorshift64 state */
};

struct big {
	long n;        /* workers */
	nact_aid *ids; /* every worker's id, read-only once running */
	nact_aid col;
	struct big_worker *w;
};

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Send the next ping, or report done once all BM are sent and answered. */
static void big_step(nact_system *sys, struct big_worker *w)
{
	struct big *b = w->big;
	if (w->left == 0) {
		send_msg(sys, b->col, msg_empty(sys, T_DONE));
		return;
	}
	w->left--;
	send_msg(sys, b->ids[xorshift64(&w->rng) % (uint64_t)b->n], msg_int(sys, T_PING, w->idx));
}

static int big_fn(nact_ctx *ctx, nact_msg *msg)
{
	struct big_worker *w = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	switch (nact_msg_type(msg)) {
	case T_GO:
		big_step(sys, w);
		return 0;
	case T_PING: {
		int64_t from = body_int(msg);
		if (from < 0 || from >= w->big->n)
			die("big: bad sender index", 0);
		w->pings_in++;
		send_msg(sys, w->big->ids[from], msg_empty(sys, T_PONG));
		return 0;
	}
	case T_PONG:
		w->pongs++;
		big_step(sys, w);
		return 0;
	default:
		return unexpected(msg);
	}
}

static void bench_big(nact_system *sys, long nw, long nm)
{
	struct collector c = {.expected = nw};
	struct big b = {.n = nw};
	b.ids = calloc(nw, sizeof(*b.ids));
	b.w = calloc(nw, sizeof(*b.w));
	if (b.ids == NULL || b.w == NULL)
		die("big: out of memory", NACT_ENOMEM);
	b.col = spawn_actor(sys, collector_fn, &c);
	for (long i = 0; i < nw; i++) {
		b.w[i] = (struct big_worker){.big = &b,
		    .idx = i,
		    .left = nm,
		    .rng = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull};
		b.ids[i] = spawn_actor(sys, big_fn, &b.w[i]);
	}
	/* b.ids is complete before any "go" is sent; the sends publish it. */
	double t0 = now_s();
	for (long i = 0; i < nw; i++)
		send_msg(sys, b.ids[i], msg_empty(sys, T_GO));
	int64_t got = collector_wait(sys, b.col);
	double t = now_s() - t0;
	int64_t pongs = 0, pings = 0;
	for (long i = 0; i < nw; i++) {
		pongs += b.w[i].pongs;
		pings += b.w[i].pings_in;
		if (b.w[i].left != 0 || b.w[i].pongs != nm)
			die("big: a worker did not finish", 0);
	}
	if (got != nw || pongs != (int64_t)nw * nm || pings != (int64_t)nw * nm)
		die("big: message counts do not add up", 0);
	report("big", nw * nm, t);
	for (long i = 0; i < nw; i++)
		stop_actor(sys, b.ids[i]);
	stop_actor(sys, b.col);
	free(b.ids);
	free(b.w);
}

static long arg(const char *s, const char *name)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "savina: %s must be a count >= 0, not '%s'\n", name, s);
		exit(2);
	}
	return v;
}

static void check_deadletters(nact_system *sys, const char *after)
{
	uint64_t n = nact_deadletters(sys, -1);
	if (n != 0) {
		fprintf(stderr, "savina: %" PRIu64 " dead letters after %s\n", n, after);
		die("no message may be lost", 0);
	}
}

int main(int argc, char **argv)
{
	static const char *names[] = {"PP", "CN", "RR", "RN", "FJ", "BW", "BM"};
	long a[7];
	nact_system *sys;
	if (argc != 8) {
		fprintf(stderr,
		    "usage: savina PP CN RR RN FJ BW BM\n"
		    "  (pingpong round trips, counting messages, ring size, ring hops,\n"
		    "   fork-join actors, big workers, big messages per worker; 0 skips)\n");
		return 2;
	}
	for (int i = 0; i < 7; i++)
		a[i] = arg(argv[i + 1], names[i]);
	CHECK(nact_system_open(&sys, NULL), "nact_system_open");
	if (a[0] > 0) {
		bench_pingpong(sys, a[0]);
		check_deadletters(sys, "pingpong");
	}
	if (a[1] > 0) {
		bench_counting(sys, a[1]);
		check_deadletters(sys, "counting");
	}
	if (a[2] > 0) {
		bench_threadring(sys, a[2], a[3]);
		check_deadletters(sys, "threadring");
	}
	if (a[4] > 0) {
		bench_forkjoin(sys, a[4]);
		check_deadletters(sys, "forkjoin_create");
	}
	if (a[5] > 0 && a[6] > 0) {
		bench_big(sys, a[5], a[6]);
		check_deadletters(sys, "big");
	}
	nact_system_close(sys, 5000);
	return 0;
}
