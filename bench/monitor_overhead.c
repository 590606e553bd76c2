/*
 * bench/monitor_overhead.c — the cost of cfg.metrics on Savina pingpong.
 *
 *   monitor_overhead [ROUNDS [N [WORKERS [off|on]]]]
 *
 * Each round runs pingpong (N round trips between two actors, the same
 * workload as bench/savina.c) on a fresh system with metrics off and on,
 * alternating which goes first, so both see the same machine state. Prints
 * one line per run, then the best rate of each mode and their ratio:
 *
 *   peer=nactor bench=pingpong_metrics_off n=N seconds=S rate=R
 *   peer=nactor bench=pingpong_metrics_on n=N seconds=S rate=R ratio=R_on/R_off
 *
 * With WORKERS given the systems use that many workers (0 = one per core,
 * as savina; the default). With off or on, only that mode runs (for
 * callgrind). Build with -DNACT_NO_METRICS_FIELD to link a library
 * from before cfg.metrics existed (the "off" runs only): that is how the
 * per-message instruction count of "off" was compared with the old code
 * under callgrind (docs/monitor.md). Exits nonzero if a run loses a round
 * trip or a message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nactor/actor.h>

enum { T_GO = 1, T_PING, T_PONG, T_DONE };

static void die(const char *what, int rv)
{
	fprintf(stderr, "monitor_overhead: %s: %s\n", what, rv ? nact_strerror(rv) : "failed");
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static nact_msg *msg(nact_system *sys, uint32_t type)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		die("nact_msg_alloc", rv);
	return m;
}

struct ping {
	nact_aid pong;
	long left;
	nact_aid go_from;
	uint64_t go_corr;
};

static int pong_fn(nact_ctx *ctx, nact_msg *m)
{
	nact_system *sys = nact_sys(ctx);
	if (nact_msg_type(m) != T_PING)
		die("pong: unexpected message", 0);
	if (nact_send(sys, nact_msg_sender(m), msg(sys, T_PONG)) != 0)
		die("pong: send", 0);
	return 0;
}

static int ping_fn(nact_ctx *ctx, nact_msg *m)
{
	struct ping *p = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	switch (nact_msg_type(m)) {
	case T_GO:
		p->go_from = nact_msg_sender(m);
		p->go_corr = nact_msg_corr(m);
		break;
	case T_PONG:
		if (--p->left == 0) {
			if (nact_reply_to(sys, p->go_from, p->go_corr, msg(sys, T_DONE)) != 0)
				die("ping: reply", 0);
			return 0;
		}
		break;
	default:
		die("ping: unexpected message", 0);
	}
	if (nact_send(sys, p->pong, msg(sys, T_PING)) != 0)
		die("ping: send", 0);
	return 0;
}

/* One pingpong run; its rate in round trips per second. */
static double run(int metrics, long n, uint32_t workers)
{
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = workers;
#ifndef NACT_NO_METRICS_FIELD
	cfg.metrics = metrics;
#else
	if (metrics)
		die("built without cfg.metrics", 0);
#endif
	int rv = nact_system_open(&sys, &cfg);
	if (rv != 0)
		die("nact_system_open", rv);
	struct ping p = {.left = n};
	nact_aid pong, ping;
	if ((rv = nact_spawn(&pong, sys, pong_fn, NULL, NULL, NULL)) != 0)
		die("spawn", rv);
	p.pong = pong;
	if ((rv = nact_spawn(&ping, sys, ping_fn, &p, NULL, NULL)) != 0)
		die("spawn", rv);
	nact_msg *reply = NULL;
	double t0 = now_s();
	if ((rv = nact_call(sys, ping, msg(sys, T_GO), 600000, &reply)) != 0)
		die("nact_call", rv);
	double t = now_s() - t0;
	if (nact_msg_type(reply) != T_DONE || p.left != 0)
		die("not all round trips made", 0);
	nact_msg_free(reply);
	if (nact_deadletters(sys, -1) != 0)
		die("dead letters: a message was lost", 0);
	printf("peer=nactor bench=pingpong_metrics_%s n=%ld seconds=%.4f rate=%.0f run=1\n",
	    metrics ? "on" : "off", n, t, (double)n / t);
	fflush(stdout);
	nact_system_close(sys, 5000);
	return (double)n / t;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 5;
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	long w = argc > 3 ? atol(argv[3]) : 0;
	int only = argc > 4 ? (strcmp(argv[4], "on") == 0         ? 1 :
	                              strcmp(argv[4], "off") == 0 ? 0 :
	                                                            -2) :
	                      -1;
	if (rounds < 1 || n < 1 || w < 0 || w > 256 || only == -2) {
		fprintf(stderr, "usage: monitor_overhead [ROUNDS [N [WORKERS [off|on]]]]\n");
		return 2;
	}
	if (only >= 0) {
		for (long r = 0; r < rounds; r++)
			run(only, n, (uint32_t)w);
		return 0;
	}
#ifdef NACT_NO_METRICS_FIELD
	for (long r = 0; r < rounds; r++)
		run(0, n, (uint32_t)w);
	return 0;
#else
	double best_off = 0, best_on = 0, sum_ratio = 0;
	for (long r = 0; r < rounds; r++) {
		double off, on;
		if (r % 2 == 0) {
			off = run(0, n, (uint32_t)w);
			on = run(1, n, (uint32_t)w);
		} else {
			on = run(1, n, (uint32_t)w);
			off = run(0, n, (uint32_t)w);
		}
		sum_ratio += on / off;
		if (off > best_off)
			best_off = off;
		if (on > best_on)
			best_on = on;
	}
	printf("peer=nactor bench=pingpong_metrics_off n=%ld seconds=%.4f rate=%.0f best_of=%ld\n",
	    n, (double)n / best_off, best_off, rounds);
	printf("peer=nactor bench=pingpong_metrics_on n=%ld seconds=%.4f rate=%.0f best_of=%ld "
	       "ratio=%.3f mean_round_ratio=%.3f overhead_pct=%.1f\n",
	    n, (double)n / best_on, best_on, rounds, best_on / best_off, sum_ratio / (double)rounds,
	    100.0 * (1.0 - best_on / best_off));
	return 0;
#endif
}
