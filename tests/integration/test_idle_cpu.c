/*
 * tests/integration/test_idle_cpu.c — an idle system costs (almost) no CPU.
 *
 * Contract checked (include/nactor/actor.h, nact_config.spin_us and the
 * worker model): idle workers spin only briefly, then park. With 10k live
 * actors that have all run and gone quiet, the whole process uses under 5%
 * of one core over about a second of wall time (the target is under 1%;
 * the margin is for CI noise), and the workers have parked
 * (nact_stats.parks > 0). Live actors hold no timers and need no polling.
 * The measured figure is printed.
 */
#include <time.h>

#include "testutil.h"

static atomic_long handled;

static int quiet(nact_ctx *ctx, nact_msg *m)
{
	atomic_fetch_add(&handled, 1);
	return 0;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_idle_cpu(void)
{
	nact_system *sys = NULL;
	long n = 10000; /* not scaled: idleness must hold at this size */
	long err = 0;
	nact_stats st;

	REQUIRE_RV(nt_open(&sys, 0, NACT_CLOCK_MONOTONIC));
	for (long i = 0; i < n; i++) {
		nact_aid id;
		if (nact_spawn(&id, sys, quiet, NULL, NULL, NULL) != 0 ||
		    nt_send_int(sys, id, 1, i) != 0)
			err++;
	}
	CHECK_EQ_INT(err, 0);
	CHECK(NT_WAIT(atomic_load(&handled) == n, NT_LONG_MS));
	nact_system_stats(sys, &st);
	CHECK_EQ_U64(st.live, (uint64_t)n);

	/* Go idle: wait until the workers have parked (spin is 50 us by
	 * default), then give stragglers a moment. */
	CHECK(NT_WAIT((nact_system_stats(sys, &st), st.parks > 0), NT_LONG_MS));
	nng_msleep(100);

	/* The measurement window: a sleep is the point here. */
	uint64_t c0 = cpu_ns(), w0 = nt_now_ns();
	nng_msleep(1000);
	uint64_t c1 = cpu_ns(), w1 = nt_now_ns();
	double pct = 100.0 * (double)(c1 - c0) / (double)(w1 - w0);
	printf("idle CPU with %ld actors: %.3f%% of one core over %.0f ms\n", n, pct,
	    (double)(w1 - w0) / 1e6);
	CHECK(pct < 5.0);

	/* Still responsive after the idle period. */
	atomic_store(&handled, 0);
	nact_aid id;
	CHECK_RV(nact_spawn(&id, sys, quiet, NULL, NULL, NULL));
	nt_send_int(sys, id, 1, 0);
	CHECK(NT_WAIT(atomic_load(&handled) == 1, NT_LONG_MS));
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_idle_cpu))
