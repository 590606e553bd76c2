/*
 * bench/remote_pingpong.c — N round trips between an actor on this node and
 * an actor on a second node process, over loopback tcp.
 *
 *   remote_pingpong [N]      (default 20000)
 *
 * Prints: peer=nactor bench=remote_pingpong n=N seconds=S rate=R
 *         ctxsw_per_rt=X (context switches of both processes per round trip)
 * Exit status 1 if not every round trip came back.
 */
#include "remote_node.h"

#include <nng/supplemental/util/platform.h>

struct ping {
	nact_aid pong;
	uint64_t n, i;
	nng_mtx *mtx;
	nng_cv *cv;
	int done;
};

static int send_ping(nact_ctx *ctx, struct ping *p)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, nact_sys(ctx), B_PING);
	if (rv == 0 && (rv = nact_send(nact_sys(ctx), p->pong, m)) != 0)
		nact_msg_free(m);
	return rv;
}

static int ping_fn(nact_ctx *ctx, nact_msg *m)
{
	struct ping *p = nact_state(ctx);
	if (nact_msg_type(m) == B_PING && ++p->i < p->n)
		return send_ping(ctx, p);
	if (nact_msg_type(m) == 100 && p->n > 0)
		return send_ping(ctx, p);
	nng_mtx_lock(p->mtx);
	p->done = 1;
	nng_cv_wake(p->cv);
	nng_mtx_unlock(p->mtx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--peer") == 0)
		return b_peer_main();
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000;
	b_peer peer = {0};
	if (b_peer_start(&peer) != 0) {
		fprintf(stderr, "cannot start the peer node\n");
		b_peer_stop(&peer);
		return 1;
	}
	uint16_t pn;
	nact_system *sys = b_connect(&peer, &pn);
	if (sys == NULL) {
		b_peer_stop(&peer);
		return 1;
	}
	struct ping p = {.n = n};
	nact_aid ru, pa;
	int ok = nact_node_whereis(sys, pn, "pong", &p.pong, 10000) == 0 &&
	    nact_node_whereis(sys, pn, "rusage", &ru, 10000) == 0;
	ok = ok && nng_mtx_alloc(&p.mtx) == 0 && nng_cv_alloc(&p.cv, p.mtx) == 0;
	ok = ok && nact_spawn(&pa, sys, ping_fn, &p, NULL, NULL) == 0;
	/* warm up the path once */
	uint64_t cs_peer0 = ok ? b_call_u64(sys, ru) : 0;
	uint64_t cs0 = b_ctxsw();
	double t0 = b_now();
	nact_msg *go;
	if (ok && nact_msg_alloc(&go, sys, 100) == 0 && nact_send(sys, pa, go) == 0) {
		nng_mtx_lock(p.mtx);
		nng_time until = nng_clock() + 120000;
		while (!p.done && nng_cv_until(p.cv, until) != NNG_ETIMEDOUT)
			;
		nng_mtx_unlock(p.mtx);
	}
	double secs = b_now() - t0;
	uint64_t cs1 = b_ctxsw();
	uint64_t cs_peer1 = ok ? b_call_u64(sys, ru) : 0;
	int good = ok && p.done && p.i == n;
	if (good) {
		double cs = (double)(cs1 - cs0) + (double)(cs_peer1 - cs_peer0);
		printf("peer=nactor bench=remote_pingpong n=%llu seconds=%.3f rate=%.0f "
		       "ctxsw_per_rt=%.1f\n",
		    (unsigned long long)n, secs, (double)n / secs, cs / (double)n);
	} else {
		fprintf(stderr, "remote_pingpong: %llu of %llu round trips\n",
		    (unsigned long long)p.i, (unsigned long long)n);
	}
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	b_peer_stop(&peer);
	if (p.cv)
		nng_cv_free(p.cv);
	if (p.mtx)
		nng_mtx_free(p.mtx);
	return good ? 0 : 1;
}
