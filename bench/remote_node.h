/*
 * bench/remote_node.h — the second node of the remote benchmarks.
 *
 * The benchmark re-executes itself with "--peer" (fork + exec, so the
 * peer is a fresh process): the peer opens a system, registers "pong"
 * (sends every message back to its sender), "counter" (counts type
 * B_ADD; a B_GET request gets [count]) and "rusage" (a request gets
 * [voluntary + involuntary context switches of the peer process]), starts
 * a node on tcp://127.0.0.1:0, prints "URL <url>" and serves until its
 * stdin closes.
 *
 * NACT_BENCH_WORKERS (default 1) sets the worker threads of both systems,
 * NACT_BENCH_SPIN (default: the system's) their idle spin in us,
 * NACT_BENCH_LANE_SPIN (default: the node's) the lane threads' spin in us,
 * NACT_BENCH_LANES=0 keeps every frame on nng (no lanes), to compare.
 */
#ifndef NACT_BENCH_REMOTE_NODE_H
#define NACT_BENCH_REMOTE_NODE_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nactor/nactor.h>
#include <nactor/node.h>

#define B_PING 1u
#define B_ADD 2u
#define B_GET 3u
#define B_SECRET "remote-bench-secret-0123456789"

static uint64_t b_ctxsw(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

static double b_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t b_workers(void)
{
	const char *s = getenv("NACT_BENCH_WORKERS");
	return s != NULL && atoi(s) > 0 ? (uint32_t)atoi(s) : 1;
}

static int b_reply_u64(nact_ctx *ctx, nact_msg *req, uint64_t v)
{
	nact_msg *r;
	if (nact_msg_alloc(&r, nact_sys(ctx), B_GET) != 0)
		return 0;
	nact_pack pk;
	nact_pack_init(&pk, r);
	nact_pack_uint(&pk, v);
	if (nact_reply(nact_sys(ctx), req, r) != 0)
		nact_msg_free(r);
	return 0;
}

static int b_pong(nact_ctx *ctx, nact_msg *m)
{
	nact_forward(ctx, nact_msg_sender(m), m);
	return 0;
}

static int b_counter(nact_ctx *ctx, nact_msg *m)
{
	uint64_t *n = nact_state(ctx);
	if (nact_msg_type(m) == B_ADD)
		(*n)++;
	else if (nact_msg_flags(m) & NACT_MF_REQUEST)
		b_reply_u64(ctx, m, *n);
	return 0;
}

static int b_rusage(nact_ctx *ctx, nact_msg *m)
{
	if (nact_msg_flags(m) & NACT_MF_REQUEST)
		b_reply_u64(ctx, m, b_ctxsw());
	return 0;
}

static nact_system *b_open(void)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = b_workers();
	const char *sp = getenv("NACT_BENCH_SPIN");
	if (sp != NULL && atoi(sp) > 0)
		cfg.spin_us = (uint32_t)atoi(sp);
	nact_system *sys = NULL;
	if (nact_system_open(&sys, &cfg) != 0)
		return NULL;
	return sys;
}

static int b_node(nact_system *sys, const char *name, const char *seed)
{
	nact_node_opts o;
	nact_node_opts_init(&o);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	const char *seeds[1] = {seed};
	o.name = name;
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = seed ? 1 : 0;
	o.secret = B_SECRET;
	o.secret_len = strlen(B_SECRET);
	const char *ls = getenv("NACT_BENCH_LANE_SPIN");
	if (ls != NULL)
		o.lane_spin_us = atoi(ls) > 0 ? (uint32_t)atoi(ls) : UINT32_MAX;
	const char *ln = getenv("NACT_BENCH_LANES");
	if (ln != NULL && strcmp(ln, "0") == 0)
		o.lanes = -1;
	return nact_node_start(sys, &o);
}

static int b_peer_main(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	nact_system *sys = b_open();
	if (sys == NULL)
		return 2;
	nact_aid id;
	nact_spawn_opts so = {0};
	so.name = "pong";
	nact_spawn(&id, sys, b_pong, NULL, NULL, &so);
	so.name = "counter";
	nact_spawn(&id, sys, b_counter, calloc(1, sizeof(uint64_t)), free, &so);
	so.name = "rusage";
	nact_spawn(&id, sys, b_rusage, NULL, NULL, &so);
	if (b_node(sys, "peer", NULL) != 0)
		return 3;
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	return 0;
}

typedef struct b_peer {
	pid_t pid;
	int in;
	char url[256];
} b_peer;

/* Start the peer process; 0 or -1. */
static int b_peer_start(b_peer *p)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/proc/self/exe", "remote-peer", "--peer", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0)
		return -1;
	p->pid = pid;
	p->in = in[1];
	char buf[300];
	size_t got = 0;
	while (got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL) {
		struct pollfd pf = {out[0], POLLIN, 0};
		if (poll(&pf, 1, 10000) <= 0)
			break;
		ssize_t r = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(out[0]);
	buf[got] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl == NULL || strncmp(buf, "URL ", 4) != 0)
		return -1;
	*nl = '\0';
	snprintf(p->url, sizeof(p->url), "%.255s", buf + 4);
	return 0;
}

static void b_peer_stop(b_peer *p)
{
	if (p->pid <= 0)
		return;
	close(p->in);
	for (int i = 0; i < 500; i++) {
		if (waitpid(p->pid, NULL, WNOHANG) != 0) {
			p->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
}

/* A request to the peer's actor `to`; the [uint] reply, or UINT64_MAX. */
static uint64_t b_call_u64(nact_system *sys, nact_aid to)
{
	nact_msg *q, *r = NULL;
	if (nact_msg_alloc(&q, sys, B_GET) != 0)
		return UINT64_MAX;
	int rv = nact_call(sys, to, q, 30000, &r);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(q);
		return UINT64_MAX;
	}
	uint64_t v = UINT64_MAX;
	nact_reader rd;
	if (nact_reader_init(&rd, r, NULL) == 0) {
		nact_read_uint(&rd, &v);
		nact_reader_fini(&rd);
	}
	nact_msg_free(r);
	return v;
}

/* This side: system + node "bench" connected to the peer; *peer_no. */
static nact_system *b_connect(b_peer *p, uint16_t *peer_no)
{
	nact_system *sys = b_open();
	if (sys == NULL)
		return NULL;
	if (b_node(sys, "bench", p->url) != 0 || nact_node_peer(sys, "peer", peer_no, 10000) != 0) {
		fprintf(stderr, "cannot connect to the peer node at %s\n", p->url);
		nact_node_stop(sys);
		nact_system_close(sys, 1000);
		return NULL;
	}
	return sys;
}

#endif
