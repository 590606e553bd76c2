/*
 * bench/remote_counting.c — N one-way messages from this node to a counting
 * actor on a second node process, over loopback tcp; then one request asks
 * for the count, which must be N (FIFO per sender-receiver pair puts the
 * request behind every message).
 *
 *   remote_counting [N]      (default 1000000)
 *
 * Prints: peer=nactor bench=remote_counting n=N seconds=S rate=R
 *         ctxsw_per_msg=X (both processes)
 * Exit status 1 if the count is wrong.
 */
#include "remote_node.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--peer") == 0)
		return b_peer_main();
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
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
	nact_aid counter, ru;
	int ok = nact_node_whereis(sys, pn, "counter", &counter, 10000) == 0 &&
	    nact_node_whereis(sys, pn, "rusage", &ru, 10000) == 0;
	uint64_t cs_peer0 = ok ? b_call_u64(sys, ru) : 0;
	uint64_t cs0 = b_ctxsw();
	double t0 = b_now();
	uint64_t sent = 0;
	while (ok && sent < n) {
		nact_msg *m;
		if (nact_msg_alloc(&m, sys, B_ADD) != 0)
			break;
		/* a full link queue makes the sender wait (flow control) */
		if (nact_send_wait(sys, counter, m, 30000) != 0) {
			nact_msg_free(m);
			break;
		}
		sent++;
	}
	uint64_t got = ok ? b_call_u64(sys, counter) : 0;
	double secs = b_now() - t0;
	uint64_t cs1 = b_ctxsw();
	uint64_t cs_peer1 = ok ? b_call_u64(sys, ru) : 0;
	int good = ok && got == n;
	if (good) {
		double cs = (double)(cs1 - cs0) + (double)(cs_peer1 - cs_peer0);
		printf("peer=nactor bench=remote_counting n=%llu seconds=%.3f rate=%.0f "
		       "ctxsw_per_msg=%.3f\n",
		    (unsigned long long)n, secs, (double)n / secs, cs / (double)n);
	} else {
		fprintf(stderr, "remote_counting: sent %llu, counted %llu of %llu\n",
		    (unsigned long long)sent, (unsigned long long)got, (unsigned long long)n);
	}
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	b_peer_stop(&peer);
	return good ? 0 : 1;
}
