/*
 * examples/graph — a small actor graph, the program behind `make demo`.
 *
 *   timer ─TICK─► source ─NUM n─► squarer ─SQ n*n─► "summer" ◄─GET─ main
 *
 * source   counts 1..N, one number per tick (nact_send_after to itself),
 *          then sends END and exits
 * squarer  squares each number and sends it to the actor registered under
 *          the name "summer" (nact_whereis); on END it forwards END and asks
 *          summer for the total itself (nact_request from inside an actor)
 * summer   adds the squares; on END it switches behaviour (nact_become)
 *
 * main asks summer for the total with nact_call, sends a message to the
 * exited source to show a dead letter (nact_deadletters), and exits 0 only
 * if the total is 1² + ... + N² and the dead letter was counted. Every body
 * is one msgpack integer, written with nact_pack_* and read with nact_reader.
 *
 * With --serve [SECONDS] [--node NAME] it then keeps running (SECONDS,
 * default 120; 0 = until a signal) as node NAME (default "demo"), serving
 * its registry: a supervisor "jobs" runs three workers whose cancelable
 * operations report progress, so that `nactorctl ls/tree/watch/cancel` in
 * another terminal have something to show. SIGINT/SIGTERM (nactor/signal.h)
 * cancel every operation with reason "signal" and stop it cleanly; a second
 * one exits at once. See docs/cancel.md for a session.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/nactor.h>
#include <nactor/signal.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep */

#define N 10 /* numbers the source produces */

enum { T_TICK = 1, T_NUM, T_SQ, T_END, T_GET, T_TOTAL };

struct source {
	int next;    /* next number to send */
	nact_aid to; /* the squarer */
};

struct summer {
	int64_t sum; /* squares added so far */
	int count;   /* how many */
};

static void check(const char *what, int rv)
{
	if (rv != 0) {
		fprintf(stderr, "demo: %s: %s\n", what, nact_strerror(rv));
		exit(1);
	}
}

/* A new message of `type` whose body is the msgpack integer v. (Out of
 * memory ends this demo; a real program would return the error.) */
static nact_msg *int_msg(nact_system *sys, uint32_t type, int64_t v)
{
	nact_msg *m;
	nact_pack pk;

	check("nact_msg_alloc", nact_msg_alloc(&m, sys, type));
	nact_pack_init(&pk, m);
	nact_pack_int(&pk, v);
	check("nact_pack_int", nact_pack_error(&pk));
	return m;
}

/* Send it. A failed send leaves the message with us, so free it then. */
static int send_int(nact_system *sys, nact_aid to, uint32_t type, int64_t v)
{
	nact_msg *m = int_msg(sys, type, v);
	int rv = nact_send(sys, to, m);

	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

/* The integer in m's body. Strings and bins would point into m (no copy). */
static int read_int(const nact_msg *m, int64_t *v)
{
	nact_reader r;
	int rv;

	if ((rv = nact_reader_init(&r, m, NULL)) != 0)
		return rv;
	rv = nact_read_int(&r, v);
	nact_reader_fini(&r);
	return rv;
}

/* source: on each tick send the next number and re-arm the timer. A
 * nonzero return would end the actor with that error as its reason. */
static int source(nact_ctx *ctx, nact_msg *msg)
{
	struct source *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_msg *tick;
	int rv;

	if (s->next > N) {
		printf("source:  sent %d numbers; END, then exit\n", N);
		nact_exit(ctx, 0); /* takes effect when this handler returns */
		return send_int(sys, s->to, T_END, 0);
	}
	printf("source:  tick -> NUM %d\n", s->next);
	if ((rv = send_int(sys, s->to, T_NUM, s->next++)) != 0)
		return rv;
	tick = int_msg(sys, T_TICK, 0);
	if ((rv = nact_send_after(sys, nact_self(ctx), tick, 2, NULL)) != 0)
		nact_msg_free(tick);
	return rv;
}

/* Reply (or timeout) for squarer's request; runs inside squarer. */
static void on_total(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	int64_t total = 0;

	if (err == 0)
		err = read_int(reply, &total);
	if (err != 0)
		printf("squarer: request failed: %s\n", nact_strerror(err));
	else
		printf("squarer: summer replied to my request: total %lld\n", (long long)total);
}

static int squarer(nact_ctx *ctx, nact_msg *msg)
{
	nact_system *sys = nact_sys(ctx);
	nact_aid summer = nact_whereis(sys, "summer"); /* by name, not id */
	nact_msg *get;
	int64_t n;
	int rv;

	if (nact_msg_type(msg) == T_END) {
		printf("squarer: END: forwarding it, then asking summer\n");
		if ((rv = nact_forward(ctx, summer, msg)) != 0) /* no copy */
			return rv;
		get = int_msg(sys, T_GET, 0);
		rv = nact_request(ctx, summer, get, 1000, on_total, NULL);
		if (rv != 0)
			nact_msg_free(get); /* failed: still ours */
		return rv;
	}
	if ((rv = read_int(msg, &n)) != 0)
		return rv;
	printf("squarer: %lld -> SQ %lld\n", (long long)n, (long long)(n * n));
	return send_int(sys, summer, T_SQ, n * n);
}

/* summer, both behaviours: answer GET with the sum so far. */
static int summer_get(nact_ctx *ctx, nact_msg *msg)
{
	struct summer *s = nact_state(ctx);
	nact_msg *reply;
	int rv;

	if (nact_msg_type(msg) != T_GET)
		return 0; /* after END nothing else is expected */
	reply = int_msg(nact_sys(ctx), T_TOTAL, s->sum);
	if ((rv = nact_reply(nact_sys(ctx), msg, reply)) != 0)
		nact_msg_free(reply);
	return rv;
}

/* summer, first behaviour: add squares until END, then become summer_get. */
static int summer_add(nact_ctx *ctx, nact_msg *msg)
{
	struct summer *s = nact_state(ctx);
	int64_t sq;
	int rv;

	if (nact_msg_type(msg) == T_SQ) {
		if ((rv = read_int(msg, &sq)) == 0) {
			s->sum += sq;
			s->count++;
		}
		return rv;
	}
	if (nact_msg_type(msg) == T_END) {
		printf("summer:  END after %d squares, sum %lld\n", s->count, (long long)s->sum);
		nact_become(ctx, summer_get);
		return 0;
	}
	return summer_get(ctx, msg);
}

/* ---- --serve: a node with cancelable operations reporting progress ----
 *
 *   "jobs" supervisor (one-for-one)
 *   ├── import-1  worker: a job "import-1 #k" (progress 0..100 %, 5 % a
 *   ├── import-2  tick of 250 ms) with child operations "fetch" then
 *   └── report    "store"; when a job ends, completed or cancelled, the
 *                 next one starts after a pause
 *
 * A worker polls its job's cancel token on every tick (the pattern for
 * long work); a cancelled job (nactorctl cancel ID) is reported and
 * replaced. */

enum { T_WTICK = 100 };

#define WORKERS 3
#define TICK_MS 250

struct worker {
	const char *name; /* borrowed: a string literal */
	int k;            /* jobs started */
	nact_opid job, step;
	int pct;   /* progress of the job, % */
	int pause; /* ticks to wait before the next job */
};

static int worker_tick(nact_ctx *ctx, nact_msg *msg)
{
	struct worker *w = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_op_info in;
	char label[64];
	(void)msg;
	if (w->job.v != 0 && nact_op_is_cancelled(sys, w->job)) {
		if (nact_op_get(sys, w->job, &in) == 0)
			printf("%s: job %llu cancelled (%s%s%s)\n", w->name,
			    (unsigned long long)w->job.v, nact_op_reason_str(in.reason),
			    in.message[0] ? ": " : "", in.message);
		w->job = w->step = NACT_OPID_NONE;
		w->pause = 4;
	} else if (w->job.v == 0 && w->pause > 0) {
		w->pause--;
	} else if (w->job.v == 0) {
		snprintf(label, sizeof(label), "%s #%d", w->name, ++w->k);
		if (nact_op_create(&w->job, sys, label, NACT_OPID_NONE, "demo") == 0 &&
		    nact_op_start(sys, w->job) == 0 &&
		    nact_op_create(&w->step, sys, "fetch", w->job, NULL) == 0 &&
		    nact_op_start(sys, w->step) == 0) {
			w->pct = 0;
		}
	} else {
		w->pct += 5;
		if (w->pct == 50) { /* fetch done, store next */
			nact_op_complete(sys, w->step);
			if (nact_op_create(&w->step, sys, "store", w->job, NULL) == 0)
				nact_op_start(sys, w->step);
		}
		snprintf(label, sizeof(label), "%s %d%%", w->pct < 50 ? "fetching" : "storing",
		    w->pct);
		nact_op_progress(sys, w->job, w->pct / 100.0, label);
		if (w->pct >= 100) {
			nact_op_complete(sys, w->step);
			nact_op_complete(sys, w->job);
			w->job = w->step = NACT_OPID_NONE;
			w->pause = 2;
		}
	}
	nact_msg *t = int_msg(sys, T_WTICK, 0);
	int rv = nact_send_after(sys, nact_self(ctx), t, TICK_MS, NULL);
	if (rv != 0)
		nact_msg_free(t);
	return rv;
}

static int worker_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	struct worker *w = calloc(1, sizeof(*w));
	int rv;
	(void)extra;
	if (w == NULL)
		return NACT_ENOMEM;
	w->name = arg;
	if ((rv = nact_spawn(idp, sys, worker_tick, w, free, NULL)) != 0) {
		free(w);
		return rv;
	}
	return send_int(sys, *idp, T_WTICK, 0);
}

/* Serve as node `node` for secs seconds (0: until a signal). 0, or 1 on a
 * setup error. */
static int serve(nact_system *sys, const char *node, int secs)
{
	static const char *const names[WORKERS] = {"import-1", "import-2", "report"};
	nact_child_spec kids[WORKERS];
	nact_signal_opts so = {.grace_ms = 3000};
	nact_signals *sg;
	nact_aid sup;
	char url[256];
	int rv, sig = 0;
	memset(kids, 0, sizeof(kids));
	for (int i = 0; i < WORKERS; i++) {
		kids[i].id = names[i];
		kids[i].start = worker_start;
		kids[i].arg = (void *)names[i];
	}
	nact_sup_spec sp = {.name = "jobs", .children = kids, .nchildren = WORKERS};
	if ((rv = nact_registry_serve(sys, node, url, sizeof(url))) != 0) {
		fprintf(stderr, "demo: serve %s: %s\n", node, nact_strerror(rv));
		return 1;
	}
	if ((rv = nact_signals_install(&sg, sys, &so)) != 0) {
		fprintf(stderr, "demo: signals: %s\n", nact_strerror(rv));
		return 1;
	}
	if ((rv = nact_sup_start(&sup, sys, &sp)) != 0) {
		fprintf(stderr, "demo: supervisor: %s\n", nact_strerror(rv));
		nact_signals_remove(sg);
		return 1;
	}
	printf("main:    serving node \"%s\" at %s\n", node, url);
	if (secs > 0)
		printf("main:    for %d s; try: nactorctl ls / tree / watch (Ctrl-C stops)\n",
		    secs);
	else
		printf(
		    "main:    until a signal; try: nactorctl ls / tree / watch (Ctrl-C stops)\n");
	uint64_t end = nng_clock() + (uint64_t)secs * 1000;
	while (sig == 0 && (secs == 0 || nng_clock() < end))
		sig = nact_signals_wait(sg, 200);
	if (sig != 0)
		printf("main:    %s: every operation cancelled (reason signal); stopping\n",
		    sig == SIGINT ? "SIGINT" : "SIGTERM");
	else
		nact_op_cancel_all(sys, NACT_CANCEL_MANUAL, "demo over", NULL);
	nact_stop(sys, sup); /* the supervisor stops its workers, last first */
	for (int i = 0; i < 400 && nact_alive(sys, sup); i++)
		nng_msleep(5);
	nact_registry_unserve(sys);
	nact_system_close(sys, nact_signals_left_ms(sg));
	nact_signals_remove(sg);
	printf("main:    stopped\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *node = "demo";
	int serve_secs = -1; /* -1: no --serve */
	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--serve") == 0) {
			serve_secs = 120;
			if (a + 1 < argc && argv[a + 1][0] >= '0' && argv[a + 1][0] <= '9')
				serve_secs = atoi(argv[++a]);
		} else if (strcmp(argv[a], "--node") == 0 && a + 1 < argc) {
			node = argv[++a];
		} else {
			fprintf(stderr, "usage: %s [--serve [SECONDS]] [--node NAME]\n", argv[0]);
			return 2;
		}
	}

	nact_spawn_opts named = {.name = "summer"};
	struct summer *sum = calloc(1, sizeof(*sum));
	struct source *src = calloc(1, sizeof(*src));
	int64_t total = -1, want = (int64_t)N * (N + 1) * (2 * N + 1) / 6;
	nact_aid a_sum, a_sq, a_src;
	nact_msg *m, *reply;
	nact_system *sys;
	uint64_t dead0;
	int ok, i;

	setvbuf(stdout, NULL, _IOLBF, 0); /* whole lines from every thread */
	check("calloc", sum != NULL && src != NULL ? 0 : NACT_ENOMEM);
	/* Serving: per-actor metrics on, so nactorctl top and doctor show
	 * the actors (nact_config.metrics; off by default: it costs ~10% on
	 * the tightest message loops). */
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.metrics = serve_secs >= 0;
	check("nact_system_open", nact_system_open(&sys, &cfg));
	/* Each actor owns its state from here on: free() runs when it ends. */
	check("spawn summer", nact_spawn(&a_sum, sys, summer_add, sum, free, &named));
	check("spawn squarer", nact_spawn(&a_sq, sys, squarer, NULL, NULL, NULL));
	src->next = 1;
	src->to = a_sq;
	check("spawn source", nact_spawn(&a_src, sys, source, src, free, NULL));
	printf("main:    spawned summer, squarer, source; starting a timer\n");
	m = int_msg(sys, T_TICK, 0);
	check("nact_send_after", nact_send_after(sys, a_src, m, 1, NULL));

	/* Blocking request from outside the actors; poll until all is summed
	 * (give up after about 5 s and report the failure). */
	for (i = 0; i < 500 && total != want; i++) {
		m = int_msg(sys, T_GET, 0);
		check("nact_call", nact_call(sys, a_sum, m, 2000, &reply));
		check("read the total", read_int(reply, &total));
		nact_msg_free(reply); /* a reply from nact_call is ours */
		if (total != want)
			nng_msleep(10);
	}
	printf("main:    nact_call(summer, GET) -> %lld (want %lld)\n", (long long)total,
	    (long long)want);

	/* The source has exited: a message to it becomes a dead letter. */
	for (i = 0; i < 200 && nact_alive(sys, a_src); i++)
		nng_msleep(5);
	dead0 = nact_deadletters(sys, -1);
	check("send to the exited source", send_int(sys, a_src, T_NUM, 99));
	for (i = 0; i < 200 && nact_deadletters(sys, -1) == dead0; i++)
		nng_msleep(5);
	printf("main:    NUM 99 to exited source: dead letters %llu -> %llu",
	    (unsigned long long)dead0, (unsigned long long)nact_deadletters(sys, -1));
	printf(" (reason \"%s\": %llu)\n", nact_dl_reason_str(NACT_DL_DEAD),
	    (unsigned long long)nact_deadletters(sys, NACT_DL_DEAD));
	ok = total == want && nact_deadletters(sys, -1) > dead0;

	printf("main:    %s\n", ok ? "OK" : "FAILED");
	if (ok && serve_secs >= 0)
		ok = serve(sys, node, serve_secs) == 0; /* closes the system */
	else
		nact_system_close(sys, 2000); /* stops summer and squarer, runs
		                                 their state destructors */
	return ok ? 0 : 1;
}
