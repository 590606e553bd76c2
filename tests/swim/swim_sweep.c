/*
 * tests/swim/swim_sweep.c — run the SWIM scenarios over many seeds in the
 * simulated network (sim.h) and count failures: the tests use one seed per
 * scenario; this shows the results do not depend on a lucky seed.
 *
 *   swim_sweep SEEDS N PERIODS LOSS
 *
 * For each seed: N members join through one seed member and converge; run
 * PERIODS periods at LOSS (a fraction) counting members declared down
 * (false positives); kill one member and time its detection against the
 * bound of docs/swim.md; restart it and converge; partition into halves,
 * check each side sees only itself, heal and converge. Prints one line;
 * exits 1 if any false positive or any missed bound, convergence, detection
 * or heal.
 */
#include <stdlib.h>

#include "sim.h"

static void boot(sim *S)
{
	sim_start(S, 0, 0);
	for (uint32_t i = 1; i < S->n; i++) {
		sim_run(S, S->period / S->n);
		sim_join(S, i, 0);
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s SEEDS N PERIODS LOSS\n", argv[0]);
		return 2;
	}
	int seeds = atoi(argv[1]);
	uint32_t n = (uint32_t)atoi(argv[2]);
	long periods = atol(argv[3]);
	double loss = atof(argv[4]);
	if (seeds < 1 || n < 4 || periods < 0 || loss < 0 || loss >= 1) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	int fp = 0, conv_fail = 0, kill_fail = 0, part_fail = 0, heal_fail = 0;
	long worst_conv = 0, worst_heal = 0;
	double worst_detect = 0;
	for (int sd = 1; sd <= seeds; sd++) {
		sim *S = sim_new(n, (uint64_t)sd * 7919);
		long p;
		uint64_t took;
		boot(S);
		SIM_UNTIL(S, sim_converged(S), 60, p);
		if (p < 0)
			conv_fail++;
		if (p > worst_conv)
			worst_conv = p;
		S->loss = loss;
		sim_run(S, (uint64_t)periods * S->period);
		for (uint32_t i = 0; i < n; i++)
			fp += (int)S->nodes[i].ev[NACTI_SWIM_EV_DOWN];
		uint32_t v = (uint32_t)sd % n;
		uint64_t bound = 13 * S->period + nacti_swim_suspicion_ns(S->nodes[0].sw, n);
		sim_kill(S, v);
		SIM_UNTIL_NS(S, sim_all_see(S, v, NACTI_SWIM_DOWN), bound, took);
		if (took == UINT64_MAX)
			kill_fail++;
		else if ((double)took / (double)S->period > worst_detect)
			worst_detect = (double)took / (double)S->period;
		S->loss = 0;
		sim_join(S, v, (v + 1) % n);
		SIM_UNTIL(S, sim_converged(S), 60, p);
		if (p < 0)
			conv_fail++;
		for (uint32_t i = n / 2; i < n; i++)
			S->nodes[i].group = 1;
		sim_run(S, bound + 2 * (uint64_t)n * S->period);
		for (uint32_t i = 0; i < n; i++) {
			if (nacti_swim_live(S->nodes[i].sw) != (i < n / 2 ? n / 2 : n - n / 2)) {
				part_fail++;
				break;
			}
		}
		for (uint32_t i = 0; i < n; i++)
			S->nodes[i].group = 0;
		SIM_UNTIL(S, sim_converged(S), 200, p);
		if (p < 0)
			heal_fail++;
		else if (p > worst_heal)
			worst_heal = p;
		sim_free(S);
	}
	printf("swim_sweep n=%u seeds=%d loss=%.2f periods=%ld: false_down=%d conv_fail=%d "
	       "worst_conv=%ldT kill_fail=%d worst_detect=%.2fT part_fail=%d heal_fail=%d "
	       "worst_heal=%ldT\n",
	    n, seeds, loss, periods, fp, conv_fail, worst_conv, kill_fail, worst_detect, part_fail,
	    heal_fail, worst_heal);
	return fp || conv_fail || kill_fail || part_fail || heal_fail;
}
