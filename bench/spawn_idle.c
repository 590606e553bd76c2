/*
 * spawn_idle.c — how fast actors are spawned and what an idle one costs.
 *
 *   spawn_idle N
 *
 * Spawns N actors whose behaviour does nothing from the main thread, timing
 * the spawn loop and reading VmRSS from /proc/self/status before and after,
 * like shared/peers/mem.erl and mem_caf.cpp. Prints
 *
 *   peer=nactor bench=spawn_idle n=N seconds=S rate=R bytes_per_actor=B
 *
 * with B = (RSS after - RSS before) / N. The array that keeps the N ids is
 * allocated and touched before the first reading, so B is the runtime's cost
 * alone (actor struct, mailbox, id-map slot, state). The program checks
 * that the system counts all N as live, stops every one (each stop must be
 * accepted) and closes the system.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/nactor.h>

static int idle_fn(nact_ctx *ctx, nact_msg *msg)
{
	return 0;
}

/* VmRSS in bytes, or -1. */
static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	nact_system *sys;
	nact_aid *ids;
	char *end;
	long n;
	int rv;

	if (argc != 2 || (n = strtol(argv[1], &end, 10)) <= 0 || *end != '\0') {
		fprintf(stderr, "usage: spawn_idle N   (N > 0 actors)\n");
		return 2;
	}
	if ((ids = malloc(n * sizeof(*ids))) == NULL) {
		fprintf(stderr, "spawn_idle: out of memory\n");
		return 1;
	}
	memset(ids, 0, n * sizeof(*ids)); /* fault the pages in now */
	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "spawn_idle: nact_system_open: %s\n", nact_strerror(rv));
		return 1;
	}

	long m0 = rss_bytes();
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		if ((rv = nact_spawn(&ids[i], sys, idle_fn, NULL, NULL, NULL)) != 0) {
			fprintf(stderr, "spawn_idle: nact_spawn #%ld: %s\n", i, nact_strerror(rv));
			return 1;
		}
	}
	double t = now_s() - t0;
	long m1 = rss_bytes();
	if (m0 < 0 || m1 < 0) {
		fprintf(stderr, "spawn_idle: cannot read VmRSS\n");
		return 1;
	}
	printf("peer=nactor bench=spawn_idle n=%ld seconds=%.4f rate=%.0f bytes_per_actor=%ld\n", n,
	    t, n / t, (m1 - m0) / n);
	fflush(stdout);

	nact_stats st;
	nact_system_stats(sys, &st);
	if (st.live < (uint64_t)n) {
		fprintf(stderr, "spawn_idle: %llu live actors, expected %ld\n",
		    (unsigned long long)st.live, n);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		if ((rv = nact_stop(sys, ids[i])) != 0) {
			fprintf(stderr, "spawn_idle: nact_stop #%ld: %s\n", i, nact_strerror(rv));
			return 1;
		}
	}
	nact_system_close(sys, 5000);
	free(ids);
	return 0;
}
