/*
 * examples/pipeline_batch — a batch stage in front of a bulk writer.
 *
 *   source (1000 readings) --> batch(64) --> store (sink)
 *
 * A sink that pays per call (a database insert, a network write) wants
 * items in groups. The batch stage turns every 64 items into one msgpack
 * array; when the stream ends, the partial last batch (1000 = 15 * 64 +
 * 40) is flushed before the sink sees end of stream. The store counts
 * the batches and the readings and checks their sum. The source is a
 * function the pipeline calls whenever it has credit, so it never
 * produces more than the batch stage can take.
 *
 * The program exits 0 only if the store got 16 batches (15 of 64, then
 * one of 40), every reading once, and the pipeline reported completion.
 */
#include <stdio.h>

#include <nactor/nactor.h>
#include <nactor/pipeline.h>

#define NREAD 1000
#define BATCH 64

static int readings(void *arg, nact_pl_out *out, int *done)
{
	int64_t *next = arg;
	nact_pack *pk;
	int rv = nact_pl_emit(out, &pk);
	if (rv != 0)
		return rv;
	nact_pack_array(pk, 2); /* [sensor, value] */
	nact_pack_int(pk, *next % 4);
	nact_pack_int(pk, *next);
	if (++*next >= NREAD)
		*done = 1;
	return 0;
}

struct store {
	int batches, full, last_size;
	int64_t readings, sum;
};

static int store(void *arg, const void *b, size_t len)
{
	struct store *s = arg;
	nact_reader r;
	uint32_t n, pair;
	int64_t sensor, value;
	int rv = nact_reader_init_buf(&r, b, len, NULL);
	if (rv == 0)
		rv = nact_read_array(&r, &n);
	for (uint32_t i = 0; rv == 0 && i < n; i++) {
		rv = nact_read_array(&r, &pair);
		if (rv == 0)
			rv = nact_read_int(&r, &sensor);
		if (rv == 0)
			rv = nact_read_int(&r, &value);
		if (rv == 0)
			rv = nact_read_leave(&r);
		if (rv == 0) {
			s->readings++;
			s->sum += value;
		}
	}
	nact_reader_fini(&r);
	if (rv != 0)
		return rv;
	s->batches++;
	s->full += n == BATCH;
	s->last_size = (int)n;
	printf("batch %d: %u readings\n", s->batches, n);
	return 0;
}

int main(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	int64_t next = 0;
	struct store s = {0};
	int rv;

	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	nact_pl_stage st[] = {nact_pl_source("readings", readings, &next),
	    nact_pl_batch("batch", BATCH), nact_pl_sink("store", store, &s)};
	if ((rv = nact_pipeline_start(&pl, sys, st, 3, NULL)) == 0) {
		rv = nact_pipeline_wait(pl, 30000, &res);
		nact_pipeline_free(pl);
	}
	nact_system_close(sys, 5000);
	if (rv != 0) {
		fprintf(stderr, "pipeline: %s\n", nact_strerror(rv));
		return 1;
	}
	int want_batches = (NREAD + BATCH - 1) / BATCH;
	int ok = res.code == 0 && s.batches == want_batches && s.full == NREAD / BATCH &&
	    s.last_size == NREAD % BATCH && s.readings == NREAD &&
	    s.sum == (int64_t)NREAD * (NREAD - 1) / 2;
	printf("%d batches, %lld readings\n", s.batches, (long long)s.readings);
	if (!ok)
		fprintf(stderr,
		    "wrong result: code %d, %d batches (%d full, last %d), %lld readings\n",
		    res.code, s.batches, s.full, s.last_size, (long long)s.readings);
	return ok ? 0 : 1;
}
