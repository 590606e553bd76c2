/*
 * tests/supervisor/test_sup_storm.c — restart storms: many restarts leave
 * nothing behind.
 *
 * Contract checked:
 * - 10,000 restarts (NACT_TEST_SCALE scales it) of an ordinary actor that
 *   crashes as soon as it starts: every one is restarted, the supervisor's
 *   count says so, no message becomes a dead letter, the number of live
 *   actors stays put, and resident memory after a warm-up grows by less
 *   than a few MiB (ASan, where the suite also runs, checks for leaks at
 *   exit and holds freed memory in quarantine, hence the margin);
 * - storms through a rest-for-one group restart and through many dynamic
 *   children crashing at once end in the same order as a quiet run: every
 *   child up, the counts exact.
 */
#include "suputil.h"

/* RSS growth allowed after the warm-up. ASan keeps freed blocks in its
 * quarantine (up to 256 MiB), ~2 KiB per restart here: not a leak (LSan
 * checks those at exit), so the bound is wider there. */
#ifdef __SANITIZE_ADDRESS__
#define RSS_GROWTH_KB (96 * 1024)
#else
#define RSS_GROWTH_KB (8 * 1024)
#endif

static void test_crash_storm(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	int n = (int)nt_scaled(10000);
	int warm = n / 5;
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE, .intensity = 1000000, .period_ms = 1000};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 2, NACT_PERMANENT, &sp));
	nact_stats st0;
	nact_system_stats(sys, &st0);
	/* the supervisor and its two children (nact_call's waiter may still
	 * be winding down) */
	CHECK(NT_WAIT((nact_system_stats(sys, &st0), st0.live == 3), NT_LONG_MS));
	uint64_t t0 = nt_now_ns();
	/* A crashes at every start, n times in all */
	atomic_store(&l.poison[0], n - 1);
	st_crash(sys, &l, 0, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.starts[0]) > warm, NT_LONG_MS * 3));
	long rss0 = st_rss_kb();
	CHECK(NT_WAIT(atomic_load(&l.starts[0]) == n + 1, NT_LONG_MS * 6));
	uint64_t dt = nt_now_ns() - t0;
	long rss1 = st_rss_kb();
	printf("  %d restarts in %.1f ms (%.1f us each); VmRSS %ld -> %ld KiB\n", n, dt / 1e6,
	    dt / 1e3 / n, rss0, rss1);
	CHECK(rss1 > 0 && rss1 - rss0 < RSS_GROWTH_KB);
	nact_child_info ci[2];
	REQUIRE(st_info(sys, sup, ci, 2) == 2);
	CHECK_EQ_INT(ci[0].restarts, n);
	CHECK(ci[0].running);
	CHECK_EQ_INT(ci[1].restarts, 0);
	CHECK_EQ_INT(atomic_load(&l.starts[1]), 1);
	CHECK(NT_WAIT(atomic_load(&l.live) == 2, NT_LONG_MS));
	nact_stats st1;
	CHECK(NT_WAIT((nact_system_stats(sys, &st1), st1.live == 3), NT_LONG_MS));
	CHECK_EQ_U64(st1.spawned - st0.spawned, (uint64_t)n + 1); /* + the call's waiter */
	CHECK_EQ_U64(nact_deadletters(sys, -1), 0);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
}

/* rest-for-one: B crashes at every start; each crash restarts B and C. */
static void test_group_storm(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	int n = (int)nt_scaled(1000);
	nact_sup_spec sp = {.strategy = NACT_REST_FOR_ONE, .intensity = 1000000, .period_ms = 1000};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 3, NACT_PERMANENT, &sp));
	atomic_store(&l.poison[1], n - 1);
	st_crash(sys, &l, 1, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.starts[1]) == n + 1 && atomic_load(&l.starts[2]) == n + 1,
	    NT_LONG_MS * 3));
	CHECK(NT_WAIT(atomic_load(&l.live) == 3, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&l.starts[0]), 1);
	nact_child_info ci[3];
	REQUIRE(st_info(sys, sup, ci, 3) == 3);
	CHECK_EQ_INT(ci[1].restarts, n);
	CHECK_EQ_INT(ci[2].restarts, n);
	CHECK(ci[0].running && ci[1].running && ci[2].running);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
}

/* Many dynamic children crashing at once, each several times. */
static void test_dynamic_storm(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	int kids = ST_MAXKIDS, rounds = (int)nt_scaled(200);
	st_def tdef = {.log = &l};
	nact_child_spec tmpl = {.id = "w", .start = st_start, .arg = &tdef};
	nact_sup_spec sp = {.strategy = NACT_SIMPLE_ONE_FOR_ONE,
	    .intensity = 1000000,
	    .period_ms = 1000,
	    .child_template = &tmpl};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	static int idx[ST_MAXKIDS];
	for (int i = 0; i < kids; i++) {
		idx[i] = i;
		atomic_store(&l.poison[i], rounds);
		nact_aid id;
		REQUIRE_RV(nact_sup_start_child(sys, sup, &idx[i], &id, 5000));
	}
	int done = NT_WAIT(({
		int ok = 1;
		for (int i = 0; i < kids; i++)
			ok &= atomic_load(&l.starts[i]) == rounds + 1;
		ok;
	}),
	    NT_LONG_MS * 3);
	CHECK(done);
	CHECK(NT_WAIT(atomic_load(&l.live) == kids, NT_LONG_MS));
	nact_child_info ci[ST_MAXKIDS];
	REQUIRE(st_info(sys, sup, ci, ST_MAXKIDS) == (uint32_t)kids);
	for (int i = 0; i < kids; i++) {
		CHECK_EQ_INT(ci[i].restarts, rounds);
		CHECK(ci[i].running);
	}
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
}

NT_MAIN(NT_CASE(test_crash_storm), NT_CASE(test_group_storm), NT_CASE(test_dynamic_storm))
