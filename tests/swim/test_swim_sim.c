/*
 * tests/swim/test_swim_sim.c — SWIM protocol scenarios in a simulated
 * network (sim.h): joins converge, a killed member is declared down within
 * the documented bound, no false positive under 5% loss, a partition is
 * detected on both sides and heals, graceful leave, restart and rejoin.
 *
 * All times are virtual (protocol period T = 1 s of simulated time); a run
 * is deterministic for its seed, and takes milliseconds of real time.
 */
#include "testutil.h"

#include "sim.h"

/* Start node 0 and join nodes 1..n-1 through it, spread over one period. */
static void boot(sim *S)
{
	sim_start(S, 0, 0);
	for (uint32_t i = 1; i < S->n; i++) {
		sim_run(S, S->period / S->n);
		sim_join(S, i, 0);
	}
}

/*
 * The detection bound of docs/swim.md, for n live members: the first
 * probe of the dead member (P_first periods: the chance that none of the
 * n - 1 others picks it in m periods is about e^-m, 10 periods = 5e-5),
 * one period for the probe to fail, one for the suspicion to spread to
 * everyone alive at that point... then every member's own suspicion timer,
 * plus 2 periods of slack for dissemination and tick granularity.
 */
static uint64_t detect_bound(const sim *S, uint32_t n)
{
	return 13 * S->period + nacti_swim_suspicion_ns(S->nodes[0].sw, n);
}

static void test_three_join(void)
{
	sim *S = sim_new(3, 1);
	boot(S);
	long p;
	SIM_UNTIL(S, sim_converged(S), 10, p);
	CHECK(p >= 0);
	printf("  3 nodes converged %ld periods after the last join\n", p);
	for (uint32_t i = 0; i < 3; i++) {
		CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_JOINED], 2);
		CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_DOWN], 0);
		CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_SUSPECT], 0);
	}
	sim_free(S);
}

static void test_twelve_converge(void)
{
	sim *S = sim_new(12, 2);
	uint64_t t0 = S->now;
	boot(S);
	long p;
	SIM_UNTIL(S, sim_converged(S), 20, p);
	CHECK(p >= 0);
	printf("  12 nodes from one seed: converged %.1f periods after the first join "
	       "(%ld after the last)\n",
	    (double)(S->now - t0) / (double)S->period, p);
	for (uint32_t i = 0; i < 12; i++) {
		CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_JOINED], 11);
		CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_DOWN], 0);
	}
	sim_free(S);
}

/* Kill one member of a converged cluster; every other declares it down. */
static void kill_trial(uint64_t seed, uint32_t victim, double *worst)
{
	sim *S = sim_new(12, seed);
	long p;
	boot(S);
	SIM_UNTIL(S, sim_converged(S), 20, p);
	REQUIRE(p >= 0);
	sim_run(S, S->period * (seed % 3) + S->period / 3); /* vary the phase */
	uint64_t bound = detect_bound(S, 12);
	uint64_t tk = S->now;
	sim_kill(S, victim);
	uint64_t took;
	SIM_UNTIL_NS(S, sim_all_see(S, victim, NACTI_SWIM_DOWN), bound, took);
	CHECK(took != UINT64_MAX);
	uint64_t first = UINT64_MAX, last = 0;
	for (uint32_t i = 0; i < 12; i++) {
		if (i == victim)
			continue;
		uint64_t d = S->nodes[i].down_at[victim];
		CHECK(d != 0);
		if (d != 0 && d - tk < first)
			first = d - tk;
		if (d != 0 && d - tk > last)
			last = d - tk;
		/* no other member was declared down */
		CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_DOWN], 1);
	}
	double lp = (double)last / (double)S->period;
	printf("  kill n%u (seed %llu): first down after %.2f T, all after %.2f T (bound %.2f T)\n",
	    victim, (unsigned long long)seed, (double)first / (double)S->period, lp,
	    (double)bound / (double)S->period);
	if (lp > *worst)
		*worst = lp;
	sim_free(S);
}

static void test_kill_detected(void)
{
	double worst = 0;
	for (uint64_t seed = 10; seed < 16; seed++)
		kill_trial(seed, (uint32_t)(seed % 12), &worst);
	printf("  worst detection over 6 trials: %.2f periods\n", worst);
}

static void loss_run(uint32_t n, uint64_t seed, long periods, double loss)
{
	sim *S = sim_new(n, seed);
	long p;
	boot(S);
	SIM_UNTIL(S, sim_converged(S), 40, p);
	REQUIRE(p >= 0);
	S->loss = loss;
	sim_run(S, (uint64_t)periods * S->period);
	uint64_t down = 0, susp = 0, refuted = 0, probes = 0, preqs = 0;
	for (uint32_t i = 0; i < n; i++) {
		nacti_swim_stats st;
		nacti_swim_stats_get(S->nodes[i].sw, &st);
		down += S->nodes[i].ev[NACTI_SWIM_EV_DOWN];
		susp += S->nodes[i].ev[NACTI_SWIM_EV_SUSPECT];
		refuted += st.refuted;
		probes += st.probes;
		preqs += st.ping_reqs;
	}
	printf("  %.0f%% loss, %u nodes, %ld periods: %llu probes, %llu ping-reqs sent, "
	       "%llu refutations (suspect views: %llu), %llu down (false positives)\n",
	    loss * 100, n, periods, (unsigned long long)probes, (unsigned long long)preqs,
	    (unsigned long long)refuted, (unsigned long long)susp, (unsigned long long)down);
	CHECK_EQ_U64(down, 0);
	/* the mechanisms were exercised: indirect probes ran, and suspicions
	 * that got through were refuted rather than confirmed */
	CHECK(preqs > 0);
	CHECK(refuted > 0);
	/* a kill under the same loss is still detected within the bound, and
	 * only the dead member is declared down */
	uint32_t victim = n - 1;
	uint64_t took;
	sim_kill(S, victim);
	SIM_UNTIL_NS(S, sim_all_see(S, victim, NACTI_SWIM_DOWN), detect_bound(S, n), took);
	CHECK(took != UINT64_MAX);
	down = 0;
	for (uint32_t i = 0; i < n; i++)
		down += S->nodes[i].ev[NACTI_SWIM_EV_DOWN];
	CHECK_EQ_U64(down, n - 1);
	printf("  %.0f%% loss, %u nodes: a kill was declared down by all after %.2f T\n",
	    loss * 100, n, (double)took / (double)S->period);
	S->loss = 0;
	SIM_UNTIL(S, sim_converged(S), 10, p);
	CHECK(p >= 0);
	sim_free(S);
}

static void test_loss_no_false_positive(void)
{
	loss_run(12, 3, nt_scaled(2000), 0.05);
	loss_run(50, 8, nt_scaled(400), 0.05);
	loss_run(12, 11, nt_scaled(500), 0.10); /* twice the loss asked for */
}

static int side_sees_other_down(const sim *S, uint32_t lo, uint32_t hi)
{
	for (uint32_t i = lo; i < hi; i++) {
		for (uint32_t j = 0; j < S->n; j++) {
			if (j >= lo && j < hi)
				continue;
			nacti_swim_member m;
			if (nacti_swim_find(S->nodes[i].sw, S->nodes[j].name, &m) != 0 ||
			    m.state != NACTI_SWIM_DOWN)
				return 0;
		}
	}
	return 1;
}

static void test_partition_heal(void)
{
	sim *S = sim_new(12, 4);
	long p;
	boot(S);
	SIM_UNTIL(S, sim_converged(S), 20, p);
	REQUIRE(p >= 0);
	for (uint32_t i = 6; i < 12; i++)
		S->nodes[i].group = 1;
	/* each side needs the first probe of every member of the other side,
	 * not just one: a member is probed by the 5 others of its side, so
	 * allow a full probe round (2 * 11 periods) on top of the bound */
	uint64_t bound = detect_bound(S, 12) + 22 * S->period;
	uint64_t took;
	SIM_UNTIL_NS(S, side_sees_other_down(S, 0, 6) && side_sees_other_down(S, 6, 12), bound,
	    took);
	CHECK(took != UINT64_MAX);
	printf("  partition 6/6: each side declared the other down after %.2f T\n",
	    (double)took / (double)S->period);
	for (uint32_t i = 0; i < 12; i++)
		CHECK_EQ_INT(nacti_swim_live(S->nodes[i].sw), 6);
	sim_run(S, 5 * S->period);
	for (uint32_t i = 0; i < 12; i++)
		S->nodes[i].group = 0;
	SIM_UNTIL(S, sim_converged(S), 60, p);
	CHECK(p >= 0);
	printf("  healed: converged again after %ld periods\n", p);
	sim_free(S);
}

static void test_graceful_leave(void)
{
	sim *S = sim_new(12, 5);
	long p;
	boot(S);
	SIM_UNTIL(S, sim_converged(S), 20, p);
	REQUIRE(p >= 0);
	CHECK_RV(nacti_swim_leave(S->nodes[3].sw, S->now));
	SIM_UNTIL(S, sim_all_see(S, 3, NACTI_SWIM_LEFT), 10, p);
	CHECK(p >= 0);
	printf("  n3 left: everyone saw it within %ld periods\n", p);
	for (uint32_t i = 0; i < 12; i++) {
		if (i == 3)
			continue;
		CHECK(S->nodes[i].left_at[3] != 0);
		CHECK_EQ_U64(S->nodes[i].down_at[3], 0); /* left, not failed */
	}
	/* the rest stays converged */
	sim_run(S, 20 * S->period);
	CHECK(sim_converged(S));
	CHECK(sim_all_see(S, 3, NACTI_SWIM_LEFT));
	sim_free(S);
}

static void test_restart_rejoin(void)
{
	sim *S = sim_new(12, 6);
	long p;
	boot(S);
	SIM_UNTIL(S, sim_converged(S), 20, p);
	REQUIRE(p >= 0);
	sim_kill(S, 4);
	uint64_t took;
	SIM_UNTIL_NS(S, sim_all_see(S, 4, NACTI_SWIM_DOWN), detect_bound(S, 12), took);
	CHECK(took != UINT64_MAX);
	sim_run(S, 3 * S->period);
	/* the same name and address come back with incarnation 0, which
	 * everyone holds as down: the join's sync tells it, it refutes */
	CHECK_RV(sim_join(S, 4, 0));
	SIM_UNTIL(S, sim_converged(S), 20, p);
	CHECK(p >= 0);
	nacti_swim_member m;
	CHECK_RV(nacti_swim_member_at(S->nodes[4].sw, 0, &m));
	CHECK(m.incarnation > 0);
	printf("  n4 restarted: rejoined everywhere after %ld periods at incarnation %llu\n", p,
	    (unsigned long long)m.incarnation);
	for (uint32_t i = 0; i < 12; i++)
		if (i != 4)
			CHECK_EQ_U64(S->nodes[i].ev[NACTI_SWIM_EV_JOINED],
			    12); /* 11 + the rejoin */
	sim_free(S);
}

/* A restarted member that starts at a fresh incarnation (e.g. its start
 * time) rejoins with no refutation round. */
static void test_restart_new_incarnation(void)
{
	sim *S = sim_new(12, 9);
	long p;
	uint64_t took;
	boot(S);
	SIM_UNTIL(S, sim_converged(S), 20, p);
	REQUIRE(p >= 0);
	sim_kill(S, 7);
	SIM_UNTIL_NS(S, sim_all_see(S, 7, NACTI_SWIM_DOWN), detect_bound(S, 12), took);
	CHECK(took != UINT64_MAX);
	const char *seed = S->nodes[0].addr;
	CHECK_RV(sim_start(S, 7, S->now));
	CHECK_RV(nacti_swim_join(S->nodes[7].sw, &seed, 1, S->now));
	SIM_UNTIL(S, sim_converged(S), 20, p);
	CHECK(p >= 0);
	nacti_swim_stats st;
	nacti_swim_stats_get(S->nodes[7].sw, &st);
	CHECK_EQ_U64(st.refuted, 0);
	printf("  n7 restarted at a new incarnation: rejoined everywhere after %ld periods\n", p);
	sim_free(S);
}

/* Every member lists the same three seeds (itself included for the seeds)
 * and starts before the seeds are up: joins are retried every period until
 * a seed answers. */
static void test_seeds_start_late(void)
{
	sim *S = sim_new(12, 12);
	const char *seeds[3] = {S->nodes[0].addr, S->nodes[1].addr, S->nodes[2].addr};
	long p;
	for (uint32_t i = 3; i < 12; i++) {
		CHECK_RV(sim_start(S, i, 0));
		CHECK_RV(nacti_swim_join(S->nodes[i].sw, seeds, 3, S->now));
	}
	sim_run(S, 3 * S->period); /* the seeds are not up: every join is lost */
	for (uint32_t i = 3; i < 12; i++)
		CHECK_EQ_INT(nacti_swim_live(S->nodes[i].sw), 1);
	for (uint32_t i = 0; i < 3; i++) {
		CHECK_RV(sim_start(S, i, 0));
		CHECK_RV(nacti_swim_join(S->nodes[i].sw, seeds, 3, S->now));
	}
	SIM_UNTIL(S, sim_converged(S), 20, p);
	CHECK(p >= 0);
	printf("  seeds up 3 periods late: converged %ld periods after\n", p);
	sim_free(S);
}

/* A member everyone declared down while it was alive (a long pause) learns
 * it and rejoins on its own. */
static void test_false_down_rejoins(void)
{
	sim *S = sim_new(6, 7);
	long p;
	boot(S);
	SIM_UNTIL(S, sim_converged(S), 20, p);
	REQUIRE(p >= 0);
	S->nodes[2].group = 1; /* isolated, but keeps ticking */
	uint64_t took;
	SIM_UNTIL_NS(S, sim_all_see(S, 2, NACTI_SWIM_DOWN), detect_bound(S, 6), took);
	CHECK(took != UINT64_MAX);
	S->nodes[2].group = 0;
	SIM_UNTIL(S, sim_converged(S), 30, p);
	CHECK(p >= 0);
	printf("  n2 isolated then back: converged after %ld periods\n", p);
	sim_free(S);
}

NT_MAIN(NT_CASE(test_three_join), NT_CASE(test_twelve_converge), NT_CASE(test_kill_detected),
    NT_CASE(test_loss_no_false_positive), NT_CASE(test_partition_heal),
    NT_CASE(test_graceful_leave), NT_CASE(test_restart_rejoin),
    NT_CASE(test_restart_new_incarnation), NT_CASE(test_false_down_rejoins),
    NT_CASE(test_seeds_start_late))
