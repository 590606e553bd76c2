/*
 * dcache.c — the distributed cache (nactor/dcache.h) over two nodes on
 * loopback tcp.
 *
 *   dcache [N]      (default N = 20000)
 *
 * This process is node "bench"; it starts node "peer" by re-executing
 * itself (bench/remote_node.h). Both are members with replicas = 2 (and a
 * second handle with replicas = 1 uses the same caches under other keys).
 * From one thread outside actors, the blocking calls, one at a time:
 *
 *   peer=nactor bench=dcache_set_r2 n=N ...     N sets, each to both nodes
 *   peer=nactor bench=dcache_get_r2 n=N ...     N gets of those keys (the
 *                                               first owner is local for
 *                                               about half of them)
 *   peer=nactor bench=dcache_get_remote n=M ... the gets of keys whose
 *                                               first owner is the peer
 *   peer=nactor bench=dcache_set_r1 n=N ...     N sets, one copy each
 *
 * us_per_op and the process's context switches per op follow each figure.
 * Checks: every set made the expected copies, every get hit with the
 * right value; exit 1 otherwise.
 */
#include "remote_node.h"

#include <nactor/dcache.h>

static const char *const members[] = {"bench", "peer"};

static nact_dcache *open_dc(nact_system *sys, const char *self, uint32_t r, int no_local)
{
	nact_dcache_opts o;
	nact_dcache_opts_init(&o);
	o.self = self;
	o.members = members;
	o.nmembers = 2;
	o.replicas = r;
	o.no_local_cache = no_local;
	o.timeout_ms = 30000;
	nact_dcache *dc = NULL;
	return nact_dcache_open(&dc, sys, &o) == 0 ? dc : NULL;
}

static int dc_peer_main(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	nact_system *sys = b_open();
	if (sys == NULL)
		return 2;
	nact_dcache *dc = open_dc(sys, "peer", 2, 0);
	if (dc == NULL || b_node(sys, "peer", NULL) != 0)
		return 3;
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	nact_node_stop(sys);
	nact_dcache_close(dc);
	nact_system_close(sys, 2000);
	return 0;
}

static size_t key_of(char *k, size_t cap, const char *prefix, long i)
{
	return (size_t)snprintf(k, cap, "%s:%ld", prefix, i);
}

/* msgpack uint32 of v */
static size_t val_of(uint8_t *b, long i)
{
	uint32_t v = (uint32_t)i * 2654435761u;
	b[0] = 0xce;
	b[1] = (uint8_t)(v >> 24);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 8);
	b[4] = (uint8_t)v;
	return 5;
}

static void report(const char *name, long n, double s, uint64_t cs)
{
	printf(
	    "peer=nactor bench=%s n=%ld seconds=%.3f rate=%.0f us_per_op=%.1f ctxsw_per_op=%.1f\n",
	    name, n, s, n / s, s * 1e6 / n, (double)cs / n);
}

static long sets(nact_dcache *dc, const char *prefix, long n, uint32_t want)
{
	long bad = 0;
	for (long i = 0; i < n; i++) {
		char k[32];
		uint8_t v[8];
		size_t kl = key_of(k, sizeof(k), prefix, i), vl = val_of(v, i);
		uint32_t copies = 0;
		if (nact_dcache_set(dc, k, kl, v, vl, 0, &copies) != 0 || copies != want)
			bad++;
	}
	return bad;
}

/* Gets of prefix:0..n-1; remote_only: only keys whose first owner is the
 * peer (*countp: how many were read). */
static long gets(nact_dcache *dc, const char *prefix, long n, int remote_only, long *countp)
{
	long bad = 0, count = 0;
	for (long i = 0; i < n; i++) {
		char k[32];
		uint8_t want[8];
		size_t kl = key_of(k, sizeof(k), prefix, i), wl = val_of(want, i);
		if (remote_only) {
			const char *nm[2];
			uint32_t no = 0;
			if (nact_dcache_owners(dc, k, kl, 1, nm, 2, &no) != 0 || no == 0 ||
			    strcmp(nm[0], "peer") != 0)
				continue;
		}
		void *v = NULL;
		size_t vl = 0;
		if (nact_dcache_get(dc, k, kl, &v, &vl) != 0 || vl != wl ||
		    memcmp(v, want, wl) != 0)
			bad++;
		free(v);
		count++;
	}
	*countp = count;
	return bad;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--peer") == 0)
		return dc_peer_main();
	(void)b_peer_main; /* remote_node.h's own peer is not used here */
	(void)b_call_u64;
	(void)b_connect;
	signal(SIGPIPE, SIG_IGN);
	long n = argc > 1 ? atol(argv[1]) : 20000;
	if (n <= 0)
		n = 20000;
	b_peer p = {0};
	if (b_peer_start(&p) != 0) {
		fprintf(stderr, "cannot start the peer node\n");
		return 1;
	}
	nact_system *sys = b_open();
	nact_dcache *dc2 = sys ? open_dc(sys, "bench", 2, 0) : NULL;
	nact_dcache *dc1 = sys ? open_dc(sys, "bench", 1, 1) : NULL;
	uint16_t peer_no;
	int failed = 1;
	if (dc2 == NULL || dc1 == NULL || b_node(sys, "bench", p.url) != 0 ||
	    nact_node_peer(sys, "peer", &peer_no, 10000) != 0) {
		fprintf(stderr, "setup failed\n");
		goto out;
	}
	/* warm up: the peer's cache actor is looked up once */
	if (sets(dc2, "warm", 10, 2) != 0) {
		fprintf(stderr, "warm-up sets failed\n");
		goto out;
	}
	long bad = 0, m = 0;
	uint64_t c0 = b_ctxsw();
	double t0 = b_now();
	bad += sets(dc2, "r2", n, 2);
	double t1 = b_now();
	uint64_t c1 = b_ctxsw();
	report("dcache_set_r2", n, t1 - t0, c1 - c0);
	bad += gets(dc2, "r2", n, 0, &m);
	double t2 = b_now();
	uint64_t c2 = b_ctxsw();
	report("dcache_get_r2", n, t2 - t1, c2 - c1);
	bad += gets(dc2, "r2", n, 1, &m);
	double t3 = b_now();
	uint64_t c3 = b_ctxsw();
	if (m > 0)
		report("dcache_get_remote", m, t3 - t2, c3 - c2);
	bad += sets(dc1, "r1", n, 1);
	double t4 = b_now();
	report("dcache_set_r1", n, t4 - t3, b_ctxsw() - c3);
	if (bad != 0 || m == 0)
		fprintf(stderr, "FAILED: %ld wrong results, %ld remote keys\n", bad, m);
	else
		failed = 0;
out:
	if (sys != NULL)
		nact_node_stop(sys);
	nact_dcache_close(dc1);
	nact_dcache_close(dc2);
	if (sys != NULL)
		nact_system_close(sys, 2000);
	b_peer_stop(&p);
	return failed;
}
