/*
 * pipeline.c — throughput of a 4-stage pipeline and its peak memory.
 *
 *   pipeline [N [WINDOW]]      (defaults N = 10000000, WINDOW = 256)
 *
 * source -> map -> filter -> sink: the source emits the ints 0..N-1 as
 * credit arrives, the map adds 1, the filter keeps every item (it reads
 * each one and tests it, so the work is real), the sink counts and sums.
 * Every stage grants WINDOW credits upstream. Prints
 *
 *   peer=nactor bench=pipeline_4stage n=N seconds=S rate=R peak_rss_kb=K
 *
 * (peak_rss_kb is VmHWM from /proc/self/status at the end: with credits
 * it does not grow with N) and checks its own result: the sink saw N
 * items whose sum is N(N+1)/2, the pipeline completed, nothing is live.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/nactor.h>
#include <nactor/pipeline.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static int read_int(const void *b, size_t len, int64_t *v)
{
	nact_reader r;
	int rv = nact_reader_init_buf(&r, b, len, NULL);
	if (rv == 0)
		rv = nact_read_int(&r, v);
	nact_reader_fini(&r);
	return rv;
}

struct src {
	int64_t next, limit;
};

static int src_fn(void *arg, nact_pl_out *out, int *done)
{
	struct src *s = arg;
	nact_pack *pk;
	int rv = nact_pl_emit(out, &pk);
	if (rv != 0)
		return rv;
	nact_pack_int(pk, s->next++);
	if (s->next >= s->limit)
		*done = 1;
	return 0;
}

static int inc_fn(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	int64_t v;
	nact_pack *pk;
	(void)arg;
	int rv = read_int(b, len, &v);
	if (rv == 0)
		rv = nact_pl_emit(out, &pk);
	if (rv == 0)
		nact_pack_int(pk, v + 1);
	return rv;
}

static int keep_fn(void *arg, const void *b, size_t len, int *keep)
{
	int64_t v;
	(void)arg;
	int rv = read_int(b, len, &v);
	*keep = v > 0;
	return rv;
}

struct sum {
	uint64_t n, sum;
};

static int sum_fn(void *arg, const void *b, size_t len)
{
	struct sum *s = arg;
	int64_t v;
	int rv = read_int(b, len, &v);
	if (rv == 0) {
		s->n++;
		s->sum += (uint64_t)v;
	}
	return rv;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000;
	long win = argc > 2 ? atol(argv[2]) : 256;
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	int rv;

	if (n < 1 || win < 1 || win > 1 << 20) {
		fprintf(stderr, "usage: pipeline [N [WINDOW]]\n");
		return 2;
	}
	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	struct src src = {0, n};
	struct sum sum = {0, 0};
	nact_pl_stage st[] = {nact_pl_source("source", src_fn, &src),
	    nact_pl_map("inc", inc_fn, NULL), nact_pl_filter("positive", keep_fn, NULL),
	    nact_pl_sink("sum", sum_fn, &sum)};
	for (int i = 0; i < 4; i++)
		st[i].window = (uint32_t)win;
	nact_pipeline_opts o = {0};
	o.name = "bench";
	o.expected_items = (uint64_t)n;
	o.progress_every = 1 << 16;
	double t0 = now_s();
	if ((rv = nact_pipeline_start(&pl, sys, st, 4, &o)) != 0) {
		fprintf(stderr, "start: %s\n", nact_strerror(rv));
		return 1;
	}
	rv = nact_pipeline_wait(pl, 600000, &res);
	double s = now_s() - t0;
	long kb = vm_hwm_kb();
	int ok = rv == 0 && res.code == 0 && sum.n == (uint64_t)n && res.items == (uint64_t)n &&
	    sum.sum == (uint64_t)n * (uint64_t)(n + 1) / 2;
	printf("peer=nactor bench=pipeline_4stage n=%ld seconds=%.3f rate=%.0f peak_rss_kb=%ld "
	       "window=%ld\n",
	    n, s, n / s, kb, win);
	if (!ok)
		fprintf(stderr, "check failed: wait %s, result %d (%s), sink %llu items sum %llu\n",
		    nact_strerror(rv), res.code, res.message, (unsigned long long)sum.n,
		    (unsigned long long)sum.sum);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
	return ok ? 0 : 1;
}
