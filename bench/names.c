/*
 * bench/names.c — remote spawn and cluster-wide name propagation between
 * two nodes of this process on loopback tcp.
 *
 *   names [N]   (default 2000)
 *
 * remote_spawn: N blocking nact_node_spawn calls from node a to node b
 *   (request frame, init, spawn, answer frame), each spawned actor checked
 *   alive at the end (the count must be N).
 * global_name: N names registered on b, each awaited on a with
 *   nact_global_whereis (register -> REG frame -> replica on a).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/node.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int idle_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	(void)m;
	return 0;
}

static nact_system *node(const char *name, const char *seed)
{
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 1;
	cfg.log_level = NACT_LOG_ERROR;
	if (nact_system_open(&sys, &cfg) != 0)
		return NULL;
	nact_node_opts o;
	nact_node_opts_init(&o);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	o.name = name;
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = &seed;
	o.nseeds = seed ? 1 : 0;
	o.allow_insecure = 1;
	if (nact_node_start(sys, &o) != 0) {
		nact_system_close(sys, 1000);
		return NULL;
	}
	return sys;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	if (n <= 0)
		return 2;
	nact_system *b = node("b", NULL), *a = NULL;
	if (b == NULL)
		return 1;
	nact_behaviour_def d = {.fn = idle_fn};
	char url[256];
	nact_node_url(b, url, sizeof(url));
	uint16_t bn = 0;
	int bad = 0;
	if (nact_behaviour_register(b, "idle", &d) != 0 || (a = node("a", url)) == NULL ||
	    nact_node_peer(a, "b", &bn, 10000) != 0) {
		fprintf(stderr, "names bench: setup failed\n");
		bad = 1;
		goto out;
	}
	nact_aid *ids = calloc((size_t)n, sizeof(*ids));
	if (ids == NULL) {
		bad = 1;
		goto out;
	}
	double t0 = now_s();
	long ok = 0;
	for (long i = 0; i < n; i++)
		if (nact_node_spawn(a, bn, "idle", NULL, 0, &ids[i], 5000, NULL, 0) == 0)
			ok++;
	double t1 = now_s();
	long alive = 0;
	for (long i = 0; i < n; i++) {
		nact_aid local = nact_aid_on(0, ids[i]);
		if (ids[i].v != 0 && nact_alive(b, local))
			alive++;
	}
	printf("peer=nactor bench=remote_spawn n=%ld seconds=%.3f rate=%.0f alive=%ld\n", n,
	    t1 - t0, (double)n / (t1 - t0), alive);
	if (ok != n || alive != n)
		bad = 1;
	t0 = now_s();
	ok = 0;
	for (long i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "g%ld", i);
		nact_aid w;
		if (nact_global_register(b, name, nact_aid_on(0, ids[i])) == 0 &&
		    nact_global_whereis(a, name, &w, 5000) == 0 && w.v == ids[i].v)
			ok++;
	}
	t1 = now_s();
	printf("peer=nactor bench=global_name n=%ld seconds=%.3f rate=%.0f replica=%u\n", n,
	    t1 - t0, (double)n / (t1 - t0), nact_global_count(a));
	if (ok != n || nact_global_count(a) != (uint32_t)n)
		bad = 1;
	free(ids);
out:
	if (a != NULL) {
		nact_node_stop(a);
		nact_system_close(a, 2000);
	}
	nact_node_stop(b);
	nact_system_close(b, 2000);
	if (bad)
		fprintf(stderr, "names bench: wrong result\n");
	return bad;
}
