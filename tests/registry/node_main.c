/*
 * tests/registry/node_main.c — a tiny node for the interoperability test
 * (tests/registry/interop.sh): it creates a few operations, serves its
 * registry, prints the url on one line of stdout, and waits for SIGTERM or
 * SIGINT (or a timeout, so a lost test never leaves it running), then
 * unserves and closes.
 *
 *   node_main NODE [TIMEOUT_SECONDS [--busy]]     (default 60)
 *
 * With --busy (tests/tools/nactorctl_test.sh: top and doctor) the node
 * opens with metrics on and two workers and runs a troubled actor graph:
 * "grower" takes 1 s per message while "feeder" sends it 3 messages every
 * 50 ms (a mailbox that keeps growing, a slow handler, a blocked worker);
 * feeder also sends one message per tick to an actor that has ended (dead
 * letters); supervisor "storm" restarts its child "crashy", which fails
 * 100 ms after each start (a restart storm); a monitor (monitor.h) runs
 * its watchdog, as on a production node, so calls in progress have a
 * known running time.
 *
 * Operations: "backup" (running, tags "nightly", progress 0.25 "copying"),
 * its child "backup-index" (pending), and "cleanup" (completed).
 * Exit status: 0 after a signal, 2 on timeout, 1 on a setup error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/monitor.h>
#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h>

enum { T_TICK = 1, T_WORK, T_CRASH };

struct feeder {
	nact_aid grower, dead;
};

static int grower_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	(void)m;
	nng_msleep(1000); /* the slow handler doctor must find */
	return 0;
}

static int feeder_fn(nact_ctx *ctx, nact_msg *m)
{
	struct feeder *f = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_msg *t;
	if (nact_msg_type(m) != T_TICK)
		return 0;
	for (int i = 0; i < 3; i++)
		if (nact_msg_alloc(&t, sys, T_WORK) == 0 && nact_send(sys, f->grower, t) != 0)
			nact_msg_free(t);
	if (nact_msg_alloc(&t, sys, T_WORK) == 0 && nact_send(sys, f->dead, t) != 0)
		nact_msg_free(t);
	if (nact_msg_alloc(&t, sys, T_TICK) == 0 &&
	    nact_send_after(sys, nact_self(ctx), t, 50, NULL) != 0)
		nact_msg_free(t);
	return 0;
}

static int crashy_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	return nact_msg_type(m) == T_CRASH ? NACT_EINVAL : 0;
}

static int crashy_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	(void)arg;
	(void)extra;
	nact_spawn_opts o = {.name = "crashy"};
	nact_msg *t;
	int rv = nact_spawn(idp, sys, crashy_fn, NULL, NULL, &o);
	if (rv == 0 && nact_msg_alloc(&t, sys, T_CRASH) == 0 &&
	    nact_send_after(sys, *idp, t, 100, NULL) != 0)
		nact_msg_free(t);
	return rv;
}

static int sink_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	(void)m;
	return 0;
}

/* A request cycle for doctor: three op-running actors, each asked once,
 * asks the next and never answers; the third request closes the cycle
 * and is refused (NACT_ECYCLE), which the registry counts. */
#define T_LOOP 77u

static void loop_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	(void)ctx;
	(void)reply;
	(void)err;
	(void)arg;
}

static int loop_fn(nact_ctx *ctx, nact_msg *m)
{
	nact_aid *next = nact_state(ctx);
	nact_msg *q;
	if (nact_msg_type(m) != T_LOOP || nact_msg_alloc(&q, nact_sys(ctx), T_LOOP) != 0)
		return 0;
	if (nact_request(ctx, *next, q, 600000, loop_reply, NULL) != 0)
		nact_msg_free(q);
	return 0;
}

static int loop_start(nact_system *sys)
{
	static nact_aid next[3];
	nact_aid a[3];
	nact_op_opts oo = {.name = "loop"};
	nact_msg *m;
	int rv;
	for (int i = 0; i < 3; i++)
		if ((rv = nact_spawn_op(&a[i], NULL, sys, loop_fn, &next[i], NULL, NULL, &oo)) != 0)
			return rv;
	for (int i = 0; i < 3; i++)
		next[i] = a[(i + 1) % 3];
	if ((rv = nact_msg_alloc(&m, sys, T_LOOP)) != 0)
		return rv;
	if ((rv = nact_send(sys, a[0], m)) != 0)
		nact_msg_free(m);
	return rv;
}

/* The --busy graph (see the top comment). */
static int busy_start(nact_system *sys, struct feeder *f)
{
	static const nact_child_spec ch = {.id = "crashy",
	    .start = crashy_start,
	    .restart = NACT_PERMANENT};
	nact_sup_spec sp = {.name = "storm",
	    .intensity = 100000,
	    .period_ms = 1000,
	    .children = &ch,
	    .nchildren = 1};
	nact_spawn_opts go = {.name = "grower"}, fo = {.name = "feeder"};
	nact_aid sup, feeder, mon;
	nact_monitor_config mc;
	nact_monitor_config_init(&mc);
	mc.name = "monitor";
	nact_msg *t;
	int rv;
	if ((rv = nact_spawn(&f->dead, sys, sink_fn, NULL, NULL, NULL)) != 0 ||
	    (rv = nact_stop(sys, f->dead)) != 0 ||
	    (rv = nact_spawn(&f->grower, sys, grower_fn, NULL, NULL, &go)) != 0 ||
	    (rv = nact_spawn(&feeder, sys, feeder_fn, f, NULL, &fo)) != 0 ||
	    (rv = nact_sup_start(&sup, sys, &sp)) != 0 ||
	    (rv = nact_monitor_start(&mon, sys, &mc)) != 0 || (rv = loop_start(sys)) != 0 ||
	    (rv = nact_msg_alloc(&t, sys, T_TICK)) != 0)
		return rv;
	if ((rv = nact_send(sys, feeder, t)) != 0)
		nact_msg_free(t);
	return rv;
}

static int echo_fn(nact_ctx *ctx, nact_msg *m);

static int echo_start(nact_system *sys)
{
	nact_aid id;
	nact_spawn_opts o = {.name = "echo"};
	return nact_spawn(&id, sys, echo_fn, calloc(1, sizeof(uint64_t)), free, &o);
}

/* "echo", for the registry's send verb: a request gets its own type and
 * body back; type 7 one-way is counted; a request of type 8 gets [count]. */
static int echo_fn(nact_ctx *ctx, nact_msg *m)
{
	uint64_t *count = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST)) {
		if (nact_msg_type(m) == 7)
			(*count)++;
		return 0;
	}
	nact_msg *r;
	if (nact_msg_type(m) == 8) {
		if (nact_msg_alloc(&r, sys, 8) != 0)
			return 0;
		nact_pack pk;
		nact_pack_init(&pk, r);
		nact_pack_array(&pk, 1);
		nact_pack_uint(&pk, *count);
	} else {
		size_t n = 0;
		const void *b = nact_msg_body(m, &n);
		if (nact_msg_alloc(&r, sys, nact_msg_type(m)) != 0)
			return 0;
		nact_reader rd;
		msgpack_object o;
		nact_pack pk;
		nact_pack_init(&pk, r);
		/* re-pack the one value of the body */
		if (n > 0 && nact_reader_init_buf(&rd, b, n, NULL) == 0) {
			if (nact_read_object(&rd, &o) != 0)
				nact_pack_nil(&pk);
			else if (o.type == MSGPACK_OBJECT_STR)
				nact_pack_strn(&pk, o.via.str.ptr, o.via.str.size);
			else if (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				nact_pack_uint(&pk, o.via.u64);
			else
				nact_pack_nil(&pk);
			nact_reader_fini(&rd);
		}
	}
	if (nact_reply(sys, m, r) != 0)
		nact_msg_free(r);
	return 0;
}

int main(int argc, char **argv)
{
	nact_system *sys = NULL;
	nact_config cfg;
	nact_opid a, b, c;
	char url[256];
	sigset_t set;
	int rv;
	if (argc < 2) {
		fprintf(stderr, "usage: %s NODE [TIMEOUT_SECONDS]\n", argv[0]);
		return 1;
	}
	int secs = argc > 2 ? atoi(argv[2]) : 60;
	int busy = argc > 3 && strcmp(argv[3], "--busy") == 0;
	struct feeder fd = {{0}, {0}};
	/* Block the signals before any thread exists, so every thread
	 * inherits the mask and sigtimedwait below is the one that sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	nact_config_init(&cfg);
	cfg.workers = busy ? 2 : 1;
	cfg.metrics = busy;
	if ((rv = nact_system_open(&sys, &cfg)) != 0 ||
	    (rv = nact_op_create(&a, sys, "backup", NACT_OPID_NONE, "nightly")) != 0 ||
	    (rv = nact_op_start(sys, a)) != 0 ||
	    (rv = nact_op_progress(sys, a, 0.25, "copying")) != 0 ||
	    (rv = nact_op_create(&b, sys, "backup-index", a, NULL)) != 0 ||
	    (rv = nact_op_create(&c, sys, "cleanup", NACT_OPID_NONE, NULL)) != 0 ||
	    (rv = nact_op_start(sys, c)) != 0 || (rv = nact_op_complete(sys, c)) != 0 ||
	    (busy && (rv = busy_start(sys, &fd)) != 0) || (rv = echo_start(sys)) != 0 ||
	    (rv = nact_registry_serve(sys, argv[1], url, sizeof(url))) != 0) {
		fprintf(stderr, "node_main: %s\n", nact_strerror(rv));
		nact_system_close(sys, 1000);
		return 1;
	}
	printf("%s\n", url);
	fflush(stdout);
	struct timespec ts = {.tv_sec = secs};
	int sig = sigtimedwait(&set, NULL, &ts);
	nact_registry_unserve(sys);
	nact_system_close(sys, 1000);
	return sig < 0 ? 2 : 0;
}
