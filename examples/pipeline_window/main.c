/*
 * examples/pipeline_window — a moving average over a stream with a
 * sliding window.
 *
 *   prices (source) --> window(5, 1) --> average (map) --> print (sink)
 *
 * The window stage emits, for every new price once five have arrived, the
 * array of the last five; the map turns each array into its mean. A second
 * pipeline uses window(4, 3) (a hop of three) to show the flush at the
 * end: the stream of 50 stops one item after the last hop, and that item
 * is covered by a final window of the last four.
 *
 * The program computes the same averages directly and exits 0 only if the
 * pipeline's agree with them.
 */
#include <math.h>
#include <stdio.h>

#include <nactor/nactor.h>
#include <nactor/pipeline.h>

#define NPRICE 50

static double price(int i)
{
	return 100.0 + 10.0 * sin(i / 5.0) + (i % 3);
}

static int prices(void *arg, nact_pl_out *out, int *done)
{
	int *next = arg;
	nact_pack *pk;
	int rv = nact_pl_emit(out, &pk);
	if (rv != 0)
		return rv;
	nact_pack_double(pk, price(*next));
	if (++*next >= NPRICE)
		*done = 1;
	return 0;
}

static int average(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	nact_reader r;
	uint32_t n;
	double v, sum = 0;
	nact_pack *pk;
	(void)arg;
	int rv = nact_reader_init_buf(&r, b, len, NULL);
	if (rv == 0)
		rv = nact_read_array(&r, &n);
	for (uint32_t i = 0; rv == 0 && i < n; i++)
		if ((rv = nact_read_double(&r, &v)) == 0)
			sum += v;
	nact_reader_fini(&r);
	if (rv == 0 && n == 0)
		rv = NACT_EBADMSG;
	if (rv == 0)
		rv = nact_pl_emit(out, &pk);
	if (rv == 0)
		nact_pack_double(pk, sum / n);
	return rv;
}

struct avgs {
	double v[NPRICE];
	int n;
};

static int collect(void *arg, const void *b, size_t len)
{
	struct avgs *a = arg;
	nact_reader r;
	double v;
	int rv = nact_reader_init_buf(&r, b, len, NULL);
	if (rv == 0)
		rv = nact_read_double(&r, &v);
	nact_reader_fini(&r);
	if (rv == 0 && a->n < NPRICE)
		a->v[a->n++] = v;
	return rv;
}

static int run(nact_system *sys, uint32_t size, uint32_t slide, struct avgs *a)
{
	nact_pipeline *pl;
	nact_pl_result res;
	int next = 0;
	nact_pl_stage st[] = {nact_pl_source("prices", prices, &next),
	    nact_pl_window("window", size, slide), nact_pl_map("average", average, NULL),
	    nact_pl_sink("collect", collect, a)};
	int rv = nact_pipeline_start(&pl, sys, st, 4, NULL);
	if (rv != 0)
		return rv;
	rv = nact_pipeline_wait(pl, 30000, &res);
	nact_pipeline_free(pl);
	return rv != 0 ? rv : res.code;
}

/* Mean of prices [from, from + k). */
static double mean(int from, int k)
{
	double s = 0;
	for (int i = from; i < from + k; i++)
		s += price(i);
	return s / k;
}

int main(void)
{
	nact_system *sys;
	static struct avgs a5, a4;
	int rv, bad = 0;

	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	if ((rv = run(sys, 5, 1, &a5)) == 0)
		rv = run(sys, 4, 3, &a4);
	nact_system_close(sys, 5000);
	if (rv != 0) {
		fprintf(stderr, "pipeline: %s\n", nact_strerror(rv));
		return 1;
	}
	/* window(5, 1): one average per price from the fifth on */
	bad |= a5.n != NPRICE - 4;
	for (int i = 0; i < a5.n && !bad; i++)
		bad |= fabs(a5.v[i] - mean(i, 5)) > 1e-9;
	for (int i = 0; i < a5.n; i += 9)
		printf("moving average (5) at price %d: %.3f\n", i + 4, a5.v[i]);
	/* window(4, 3) over 50: windows after 4, 7, ..., 49 items (16), then
	 * the flush: the last four, [46, 50) */
	bad |= a4.n != 17;
	for (int i = 0; i < a4.n - 1 && !bad; i++)
		bad |= fabs(a4.v[i] - mean(3 * i, 4)) > 1e-9;
	bad |= a4.n == 17 && fabs(a4.v[16] - mean(NPRICE - 4, 4)) > 1e-9;
	printf("%d averages over 5, %d over 4 hopping by 3 (the last one flushed)\n", a5.n, a4.n);
	if (bad)
		fprintf(stderr, "wrong result: %d and %d averages\n", a5.n, a4.n);
	return bad ? 1 : 0;
}
