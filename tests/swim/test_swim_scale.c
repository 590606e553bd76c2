/*
 * tests/swim/test_swim_scale.c — SWIM cost as the cluster grows, in the
 * simulated network (sim.h): messages sent per member per protocol period
 * in a converged cluster at N = 12, 50, 100 (asserted not to grow with N
 * beyond a small factor), and a 1000-member cluster joining through one
 * seed (convergence time in periods, load, detection of a kill).
 *
 * The figures printed here are the ones docs/scaling.md quotes; they come
 * from this simulation (1-11 ms latency, no loss), not from a real network.
 * NACT_SWIM_SYNC_PERIODS=n in the environment overrides sync_periods for
 * the 1000-member case (docs/scaling.md compares 10, 30 and 60).
 */
#include "testutil.h"

#include "sim.h"

struct load {
	uint32_t n;
	long converge_p; /* periods from the first join to convergence */
	double msgs;     /* messages sent per member per period, steady state */
	double bytes;    /* bytes sent per member per period, steady state */
	double maxmsgs;  /* the busiest member's messages per period */
};

/* Join n members through one seed (spread over `spread` periods), wait
 * for convergence, then measure `measure` periods of steady state. */
static void measure_load(uint32_t n, uint64_t seed, long spread, long measure, struct load *L)
{
	sim *S = sim_new(n, seed);
	uint64_t t0 = S->now;
	long p;
	sim_start(S, 0, 0);
	for (uint32_t i = 1; i < n; i++) {
		sim_run(S, (uint64_t)spread * S->period / n);
		sim_join(S, i, 0);
	}
	SIM_UNTIL(S, sim_converged(S), 400, p);
	CHECK(p >= 0);
	L->n = n;
	L->converge_p = p < 0 ? -1 : (long)((S->now - t0 + S->period - 1) / S->period);
	uint64_t *m0 = calloc(n, sizeof(uint64_t));
	REQUIRE(m0 != NULL);
	uint64_t b0 = 0, b1 = 0, s0 = 0, s1 = 0;
	for (uint32_t i = 0; i < n; i++) {
		m0[i] = S->nodes[i].sent;
		s0 += S->nodes[i].sent;
		b0 += S->nodes[i].sent_bytes;
	}
	sim_run(S, (uint64_t)measure * S->period);
	double mx = 0;
	for (uint32_t i = 0; i < n; i++) {
		s1 += S->nodes[i].sent;
		b1 += S->nodes[i].sent_bytes;
		double d = (double)(S->nodes[i].sent - m0[i]) / (double)measure;
		if (d > mx)
			mx = d;
	}
	free(m0);
	L->msgs = (double)(s1 - s0) / ((double)n * (double)measure);
	L->bytes = (double)(b1 - b0) / ((double)n * (double)measure);
	L->maxmsgs = mx;
	CHECK(sim_converged(S));
	for (uint32_t i = 0; i < n; i++)
		CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_DOWN], 0);
	printf("  N=%u: converged after %ld periods; steady state %.2f msgs/member/period "
	       "(busiest %.2f), %.0f bytes/member/period\n",
	    n, L->converge_p, L->msgs, L->maxmsgs, L->bytes);
	/* detection of a kill at this size */
	uint32_t victim = n / 2;
	uint64_t tk = S->now, took, first = UINT64_MAX;
	uint64_t susp = nacti_swim_suspicion_ns(S->nodes[0].sw, n);
	uint64_t bound = 13 * S->period + susp;
	sim_kill(S, victim);
	SIM_UNTIL_NS(S, sim_all_see(S, victim, NACTI_SWIM_DOWN), bound, took);
	CHECK(took != UINT64_MAX);
	for (uint32_t i = 0; i < n; i++)
		if (S->nodes[i].down_at[victim] != 0 && S->nodes[i].down_at[victim] - tk < first)
			first = S->nodes[i].down_at[victim] - tk;
	printf("  N=%u kill: first down after %.2f T, all %u others after %.2f T "
	       "(suspicion timeout %.2f T, bound %.2f T)\n",
	    n, (double)first / (double)S->period, n - 1, (double)took / (double)S->period,
	    (double)susp / (double)S->period, (double)bound / (double)S->period);
	sim_free(S);
}

static void test_load_constant(void)
{
	struct load a, b, c;
	measure_load(12, 21, 1, 100, &a);
	measure_load(50, 22, 2, 100, &b);
	measure_load(100, 23, 4, 100, &c);
	/* SWIM: one ping out, on average one ping in (so one ack out), one
	 * sync every sync_periods: about 2.2 per member per period, whatever N */
	CHECK(a.msgs > 1.5 && a.msgs < 3.0);
	CHECK(c.msgs < a.msgs * 1.25);
	CHECK(b.msgs < a.msgs * 1.25);
	printf("  ratio N=100 / N=12: %.3f messages\n", c.msgs / a.msgs);
}

static void test_thousand(void)
{
	uint32_t n = (uint32_t)nt_scaled(1000);
	if (n < 100)
		n = 100;
	sim *S = sim_new(n, 31);
	if (getenv("NACT_SWIM_SYNC_PERIODS"))
		S->base.sync_periods = (uint32_t)atoi(getenv("NACT_SWIM_SYNC_PERIODS"));
	uint64_t t0 = S->now;
	long p;
	sim_start(S, 0, 0);
	/* 1000 members arrive over 10 periods, all through the same seed */
	for (uint32_t i = 1; i < n; i++) {
		sim_run(S, 10 * S->period / n);
		sim_join(S, i, 0);
	}
	SIM_UNTIL(S, sim_converged(S), 600, p);
	CHECK(p >= 0);
	double conv = (double)(S->now - t0) / (double)S->period;
	uint64_t s0 = 0, s1 = 0, b0 = 0, b1 = 0;
	for (uint32_t i = 0; i < n; i++) {
		s0 += S->nodes[i].sent;
		b0 += S->nodes[i].sent_bytes;
	}
	long measure = 60;
	sim_run(S, (uint64_t)measure * S->period);
	for (uint32_t i = 0; i < n; i++) {
		s1 += S->nodes[i].sent;
		b1 += S->nodes[i].sent_bytes;
	}
	double msgs = (double)(s1 - s0) / ((double)n * (double)measure);
	double bytes = (double)(b1 - b0) / ((double)n * (double)measure);
	printf("  N=%u through one seed over 10 periods: converged after %.0f periods "
	       "(%ld after the last join); steady state %.2f msgs/member/period, "
	       "%.0f bytes/member/period\n",
	    n, conv, p, msgs, bytes);
	CHECK(sim_converged(S));
	CHECK(msgs < 3.0);
	/* detection at this size */
	uint32_t victim = n / 2;
	uint64_t tk = S->now, took;
	uint64_t bound = 13 * S->period + nacti_swim_suspicion_ns(S->nodes[0].sw, n);
	sim_kill(S, victim);
	SIM_UNTIL_NS(S, sim_all_see(S, victim, NACTI_SWIM_DOWN), bound, took);
	CHECK(took != UINT64_MAX);
	if (took == UINT64_MAX) {
		int cnt[4] = {0};
		for (uint32_t i = 0; i < n; i++) {
			nacti_swim_member m;
			if (i != victim &&
			    nacti_swim_find(S->nodes[i].sw, S->nodes[victim].name, &m) == 0)
				cnt[m.state]++;
		}
		printf("  views of the victim: alive %d suspect %d down %d left %d\n", cnt[0],
		    cnt[1], cnt[2], cnt[3]);
	}
	uint64_t first = UINT64_MAX;
	for (uint32_t i = 0; i < n; i++)
		if (S->nodes[i].down_at[victim] != 0 && S->nodes[i].down_at[victim] - tk < first)
			first = S->nodes[i].down_at[victim] - tk;
	printf("  N=%u kill: first down after %.2f T, all %u others after %.2f T (bound %.2f T, "
	       "suspicion timeout %.2f T)\n",
	    n, (double)first / (double)S->period, n - 1, (double)took / (double)S->period,
	    (double)bound / (double)S->period,
	    (double)nacti_swim_suspicion_ns(S->nodes[0].sw, n) / (double)S->period);
	sim_free(S);
}

NT_MAIN(NT_CASE(test_load_constant), NT_CASE(test_thousand))
