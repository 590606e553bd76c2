/*
 * tests/node/nodeutil.h — child node processes for the node tests.
 *
 * A test starts a peer node by re-executing its own binary with
 *   --child NAME SECRET|- PROTO LISTEN-URL SEED-URL|-
 * (fork + exec, so the child is a fresh process whatever threads the test
 * already runs). The child opens a system, registers the actors below,
 * starts its node, prints "URL <advertised url>" on stdout and serves
 * until its stdin reaches EOF (the test closes it, or dies: the child also
 * gets SIGKILL when the test process ends, PR_SET_PDEATHSIG).
 *
 * Actors of a child node:
 *   "echo"    request: reply with the same body; type ECHO_PING: send
 *             ECHO_PONG with the same body back to the sender
 *   "counter" type CNT_ADD: count; request CNT_GET: reply [count]
 *   "stats"   request: reply [bad_frames, refused, auth_failed, lanes_out,
 *             lanes_in]
 *   "sink"    swallows everything (requests time out)
 *   "quitter" type QUIT: exits with reason 42
 */
#ifndef NACT_TESTS_NODEUTIL_H
#define NACT_TESTS_NODEUTIL_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include <nactor/node.h>

#include "childproc.h"
#include "rawpeer.h"

#define ECHO_PING 1u
#define ECHO_PONG 2u
#define CNT_ADD 3u
#define CNT_GET 4u
#define QUIT 66u

/* Children still running, killed at exit if a failed REQUIRE skipped
 * their test's cleanup (PR_SET_PDEATHSIG covers a crash of the test). */
static pid_t nt_live_children[64];

static void nt_children_reap(void)
{
	for (int i = 0; i < 64; i++) {
		if (nt_live_children[i] > 0) {
			kill(nt_live_children[i], SIGKILL);
			waitpid(nt_live_children[i], NULL, 0);
			nt_live_children[i] = 0;
		}
	}
}

static void nt_child_track(pid_t pid, int add)
{
	static int registered;
	if (!registered) {
		registered = 1;
		atexit(nt_children_reap);
	}
	for (int i = 0; i < 64; i++) {
		if (add ? nt_live_children[i] == 0 : nt_live_children[i] == pid) {
			nt_live_children[i] = add ? pid : 0;
			return;
		}
	}
}

typedef struct nt_child {
	pid_t pid;
	int in;        /* write end of the child's stdin */
	char url[256]; /* its advertised URL */
} nt_child;

static int child_echo(nact_ctx *ctx, nact_msg *m)
{
	nact_system *sys = nact_sys(ctx);
	size_t bl;
	const void *b = nact_msg_body(m, &bl);
	nact_msg *r;
	if (nact_msg_alloc(&r, sys, nact_msg_type(m)) != 0)
		return 0;
	nng_msg_append(nact_msg_nng(r), b, bl);
	if (nact_msg_flags(m) & NACT_MF_REQUEST) {
		if (nact_reply(sys, m, r) != 0)
			nact_msg_free(r);
	} else if (nact_msg_type(m) == ECHO_PING) {
		nact_msg_set_type(r, ECHO_PONG);
		if (nact_send(sys, nact_msg_sender(m), r) != 0)
			nact_msg_free(r);
	} else {
		nact_msg_free(r);
	}
	return 0;
}

static int child_counter(nact_ctx *ctx, nact_msg *m)
{
	uint64_t *n = nact_state(ctx);
	if (nact_msg_type(m) == CNT_ADD) {
		(*n)++;
	} else if (nact_msg_type(m) == CNT_GET && (nact_msg_flags(m) & NACT_MF_REQUEST)) {
		nact_msg *r;
		if (nact_msg_alloc(&r, nact_sys(ctx), CNT_GET) == 0) {
			nact_pack pk;
			nact_pack_init(&pk, r);
			nact_pack_uint(&pk, *n);
			if (nact_reply(nact_sys(ctx), m, r) != 0)
				nact_msg_free(r);
		}
	}
	return 0;
}

static int child_stats(nact_ctx *ctx, nact_msg *m)
{
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	nact_node_stats st;
	memset(&st, 0, sizeof(st));
	nact_node_stats_get(nact_sys(ctx), &st);
	nact_msg *r;
	if (nact_msg_alloc(&r, nact_sys(ctx), 1) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, r);
		nact_pack_array(&pk, 5);
		nact_pack_uint(&pk, st.bad_frames);
		nact_pack_uint(&pk, st.refused);
		nact_pack_uint(&pk, st.auth_failed);
		nact_pack_uint(&pk, st.lanes_out);
		nact_pack_uint(&pk, st.lanes_in);
		if (nact_reply(nact_sys(ctx), m, r) != 0)
			nact_msg_free(r);
	}
	return 0;
}

static int child_sink(nact_ctx *ctx, nact_msg *m)
{
	return 0;
}

static int child_quitter(nact_ctx *ctx, nact_msg *m)
{
	if (nact_msg_type(m) == QUIT)
		nact_exit(ctx, 42);
	return 0;
}

/* The child's main: argv[1] == "--child". */
static int nt_child_main(int argc, char **argv)
{
	if (argc < 7)
		return 2;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 3;
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	if (nact_system_open(&sys, &cfg) != 0)
		return 4;
	nact_aid id;
	nact_spawn_opts so = {0};
	so.name = "echo";
	nact_spawn(&id, sys, child_echo, NULL, NULL, &so);
	so.name = "counter";
	nact_spawn(&id, sys, child_counter, calloc(1, sizeof(uint64_t)), free, &so);
	so.name = "stats";
	nact_spawn(&id, sys, child_stats, NULL, NULL, &so);
	so.name = "sink";
	nact_spawn(&id, sys, child_sink, NULL, NULL, &so);
	so.name = "quitter";
	nact_spawn(&id, sys, child_quitter, NULL, NULL, &so);
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = argv[2];
	if (strcmp(argv[3], "-") != 0) {
		o.secret = argv[3];
		o.secret_len = strlen(argv[3]);
	} else {
		o.allow_insecure = 1;
	}
	o.proto = (uint32_t)atoi(argv[4]);
	const char *lst[1] = {argv[5]};
	const char *seeds[1] = {argv[6]};
	o.listen = lst;
	o.nlisten = 1;
	if (strcmp(argv[6], "-") != 0) {
		o.seeds = seeds;
		o.nseeds = 1;
	}
	int rv = nact_node_start(sys, &o);
	if (rv != 0) {
		fprintf(stderr, "child %s: node start: %s\n", argv[2], nact_strerror(rv));
		nact_system_close(sys, 1000);
		return 5;
	}
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	nng_fini(); /* nng frees some closed objects later, on its own
		     * threads: let it finish before LeakSanitizer runs */
	return 0;
}

/* Start a child node; 0 on success (url filled), -1 on failure. */
static int nt_child_start(nt_child *ch, const char *name, const char *secret, int proto,
    const char *listen, const char *seed)
{
	memset(ch, 0, sizeof(*ch));
	ch->pid = -1;
	char pbuf[16];
	snprintf(pbuf, sizeof(pbuf), "%d", proto);
	char *argv[] = {"node-child", "--child", (char *)name, (char *)(secret ? secret : "-"),
	    pbuf, (char *)(listen ? listen : "tcp://127.0.0.1:0"), (char *)(seed ? seed : "-"),
	    NULL};
	int out;
	pid_t pid = nt_spawn_self(argv, &ch->in, &out);
	if (pid < 0)
		return -1;
	ch->pid = pid;
	nt_child_track(pid, 1);
	/* "URL ...\n" within the deadline */
	char buf[300], line[300];
	size_t got = 0;
	int rv = nt_read_line(out, buf, sizeof(buf), &got, line, sizeof(line), nt_slow(NT_LONG_MS));
	close(out);
	if (rv != 0 || strncmp(line, "URL ", 4) != 0)
		return -1;
	snprintf(ch->url, sizeof(ch->url), "%.255s", line + 4);
	return 0;
}

/* Ask the child to stop (close its stdin) and reap it; SIGKILL after the
 * deadline. NULL-safe on a child that never started. */
static void nt_child_stop(nt_child *ch)
{
	if (ch->pid <= 0)
		return;
	if (ch->in > 0)
		close(ch->in);
	ch->in = -1;
	uint64_t dl = nt_now_ms() + nt_slow(5000);
	int st;
	while (waitpid(ch->pid, &st, WNOHANG) == 0) {
		if (nt_now_ms() >= dl) {
			kill(ch->pid, SIGKILL);
			waitpid(ch->pid, &st, 0);
			break;
		}
		nng_msleep(5);
	}
	nt_child_track(ch->pid, 0);
	ch->pid = -1;
}

static void nt_child_kill9(nt_child *ch)
{
	if (ch->pid <= 0)
		return;
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, NULL, 0);
	nt_child_track(ch->pid, 0);
	if (ch->in > 0)
		close(ch->in);
	ch->in = -1;
	ch->pid = -1;
}

/* Stop the child with SIGSTOP and wait until it has stopped. kill() only
 * queues the signal: until every thread of the child has entered the stop,
 * the ones still running go on serving (and answer requests sent after
 * kill() returned). waitpid(WUNTRACED) reports the completed group stop.
 * 0 on success, -1 otherwise. */
static inline int nt_child_sigstop(nt_child *ch)
{
	if (ch->pid <= 0 || kill(ch->pid, SIGSTOP) != 0)
		return -1;
	int st = 0;
	pid_t r;
	while ((r = waitpid(ch->pid, &st, WUNTRACED)) < 0 && errno == EINTR)
		;
	return r == ch->pid && WIFSTOPPED(st) ? 0 : -1;
}

/* Start this process's node "a" with one seed. */
static int nt_node_start(nact_system *sys, const char *name, const char *secret, int proto,
    const char *seed)
{
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = name;
	if (secret != NULL) {
		o.secret = secret;
		o.secret_len = strlen(secret);
	} else {
		o.allow_insecure = 1;
	}
	o.proto = (uint32_t)proto;
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	const char *seeds[1] = {seed};
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = seed != NULL ? 1 : 0;
	return nact_node_start(sys, &o);
}

/* A request of `type` to `to`: the reply's uint (idx < 0), or element idx
 * of its array; UINT64_MAX on any failure. */
static inline uint64_t nt_call_u64(nact_system *sys, nact_aid to, uint32_t type, int idx)
{
	nact_msg *q, *r = NULL;
	if (nact_msg_alloc(&q, sys, type) != 0)
		return UINT64_MAX;
	if (nact_call(sys, to, q, (int)nt_slow(5000), &r) != 0)
		return UINT64_MAX;
	nact_reader rd;
	uint64_t v = UINT64_MAX;
	uint32_t n;
	if (nact_reader_init(&rd, r, NULL) == 0) {
		if (idx < 0) {
			nact_read_uint(&rd, &v);
		} else if (nact_read_array(&rd, &n) == 0) {
			for (int i = 0; i <= idx; i++)
				nact_read_uint(&rd, &v);
		}
		nact_reader_fini(&rd);
	}
	nact_msg_free(r);
	return v;
}

/* For the raw-peer tests: start an insecure child "b", this process's
 * insecure node "a" dialing it, and find b's "counter" and "stats"; *cl
 * gets the counter's id as b knows it (for frames written by hand).
 * Returns 0, or -1 (a check failed; *sysp may need closing). */
static inline int nt_raw_setup(nt_child *ch, nact_system **sysp, uint16_t *b, nact_aid *counter,
    nact_aid *stats, uint64_t *cl)
{
	*sysp = NULL;
	if (nt_child_start(ch, "b", NULL, 0, NULL, NULL) != 0 || nt_open(sysp, 2, 0) != 0)
		return -1;
	int rv = nt_node_start(*sysp, "a", NULL, 0, ch->url);
	if (rv == 0)
		rv = nact_node_peer(*sysp, "b", b, (int)nt_slow(NT_LONG_MS));
	if (rv == 0)
		rv = nact_node_whereis(*sysp, *b, "counter", counter, (int)nt_slow(5000));
	if (rv == 0)
		rv = nact_node_whereis(*sysp, *b, "stats", stats, (int)nt_slow(5000));
	*cl = counter->v & ((UINT64_C(1) << 48) - 1);
	return rv == 0 ? 0 : -1;
}

#endif
