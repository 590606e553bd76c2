/*
 * tests/supervisor/test_sup_failure.c — restart intensity, escalation, the
 * root's failure, and backoff between restarts.
 *
 * Contract checked (include/nactor/supervisor.h):
 * - more than `intensity` restarts within period_ms make a supervisor stop
 *   its other children (reverse start order) and end with
 *   NACT_EXIT_INTENSITY and a text naming the child; restarts older than
 *   the window do not count;
 * - its parent sees that as a child failure, so a storm escalates: two
 *   levels up the root fails, on_root_fail is called exactly once with
 *   NACT_EXIT_INTENSITY, and the root ends with a text naming its child;
 *   a child supervisor whose own child cannot start fails the same way;
 * - without on_root_fail the root's failure logs an error line and ends
 *   the process with status NACT_SUP_EXIT_STATUS (70). That case runs in a
 *   forked child, forked before this binary opens any system, so it is
 *   the first case here;
 * - backoff: delays double from backoff_min_ms up to backoff_max_ms, go
 *   back to the minimum after a child ran period_ms, stay within +-jitter%,
 *   are reported by nact_sup_children while pending, and the restart
 *   happens exactly when the delay has passed (manual clock), or no
 *   earlier than the delay on the real clock; a group restart waits too.
 */
#include <sys/wait.h>

#include "suputil.h"

/* Runs in the forked child: a root without on_root_fail whose only child
 * crashes at every start. Never returns. */
static void root_fail_child(void)
{
	static st_log l;
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.log_level = NACT_LOG_WARN;
	if (nact_system_open(&sys, &cfg) != 0)
		_exit(2);
	nact_sup_spec sp = {.name = "root",
	    .strategy = NACT_ONE_FOR_ONE,
	    .intensity = 1,
	    .period_ms = 60000};
	atomic_store(&l.poison[0], 1000);
	nact_aid sup;
	if (st_sup_start(&sup, sys, &l, 1, NACT_PERMANENT, &sp) != 0)
		_exit(3);
	nng_msleep((nng_duration)nt_slow(NT_LONG_MS));
	_exit(4); /* the supervisor should have ended the process */
}

static void test_root_fail_default(void)
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		root_fail_child();
	}
	close(p[1]);
	char buf[4096];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(buf) - 1 && (k = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	close(p[0]);
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), NACT_SUP_EXIT_STATUS);
	CHECK(strstr(buf,
	          "nactor error: root supervisor \"root\" failed: intensity: supervisor "
	          "\"root\": child \"A\" exceeded 1 restart in 60000 ms") != NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != NACT_SUP_EXIT_STATUS)
		fprintf(stderr, "child's stderr:\n%s\n", buf);
}

/* intensity 2: the third failure in the window ends the supervisor; its
 * other children are stopped in reverse order first. */
static void test_intensity(void)
{
	static st_log l;
	static st_probe pr;
	memset(&pr, 0, sizeof(pr));
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.name = "s",
	    .strategy = NACT_ONE_FOR_ONE,
	    .intensity = 2,
	    .period_ms = 60000,
	    .on_root_fail = st_root_fail,
	    .on_root_fail_arg = &l};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 3, NACT_PERMANENT, &sp));
	st_watch(sys, &pr, sup);
	CHECK(st_crash(sys, &l, 1, NACT_EINVAL, 2));
	CHECK(st_crash(sys, &l, 1, NACT_EINVAL, 3));
	uint32_t mark = atomic_load(&l.n);
	st_crash(sys, &l, 1, NACT_ERANGE, 0);
	CHECK(NT_WAIT(atomic_load(&pr.ndown) == 1, NT_LONG_MS));
	char buf[128];
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-B -C -A");
	CHECK_EQ_INT(atomic_load(&l.root_fail), 1);
	CHECK_EQ_INT(atomic_load(&l.root_reason), NACT_EXIT_INTENSITY);
	CHECK_EQ_INT(pr.down[0].reason, NACT_EXIT_INTENSITY);
	CHECK(strstr(pr.down[0].text, "child \"B\" exceeded 2 restarts in 60000 ms") != NULL);
	CHECK(strstr(pr.down[0].text, "(last: value out of range: crash requested)") != NULL);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	CHECK_EQ_U64(nact_whereis(sys, "s").v, 0);
	nact_system_close(sys, 5000);
}

/* Restarts older than period_ms drop out of the count (manual clock). */
static void test_intensity_window(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MANUAL);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE,
	    .intensity = 2,
	    .period_ms = 1000,
	    .on_root_fail = st_root_fail,
	    .on_root_fail_arg = &l};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 1, NACT_PERMANENT, &sp));
	CHECK(st_crash(sys, &l, 0, NACT_EINVAL, 2)); /* t = 0 */
	CHECK_RV(nact_clock_advance(sys, 600 * 1000000ull));
	CHECK(st_crash(sys, &l, 0, NACT_EINVAL, 3)); /* t = 600 */
	CHECK_RV(nact_clock_advance(sys, 500 * 1000000ull));
	/* t = 1100: the one at 0 dropped out, so this is the second */
	CHECK(st_crash(sys, &l, 0, NACT_EINVAL, 4));
	CHECK(NT_STAYS_FALSE(atomic_load(&l.root_fail) != 0, NT_QUIET_MS));
	CHECK(nact_alive(sys, sup));
	/* 600, 1100 and now: three within 1000 ms, one too many */
	st_crash(sys, &l, 0, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.root_fail) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(sys, sup), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&l.starts[0]), 4);
	nact_system_close(sys, 5000);
}

/* root -> mid -> leaf -> worker A that crashes at every start, intensity 1
 * at each level: leaf fails after 2 starts of A, mid after 2 leaves, root
 * after 2 mids: 8 starts of A, then on_root_fail once. */
static void test_escalation_two_levels(void)
{
	static st_log l;
	static st_probe pr;
	memset(&pr, 0, sizeof(pr));
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec w[2];
	st_def defs[2];
	st_specs(w, defs, &l, 2, NACT_PERMANENT);
	nact_sup_spec leaf = {.name = "leaf",
	    .strategy = NACT_ONE_FOR_ONE,
	    .intensity = 1,
	    .period_ms = 60000,
	    .children = &w[0],
	    .nchildren = 1};
	nact_child_spec midc = {.id = "leaf", .start = st_sup_child_start, .arg = &leaf};
	nact_sup_spec mid = {.name = "mid",
	    .strategy = NACT_ONE_FOR_ONE,
	    .intensity = 1,
	    .period_ms = 60000,
	    .children = &midc,
	    .nchildren = 1};
	nact_child_spec rootc[2] = {w[1], {.id = "mid", .start = st_sup_child_start, .arg = &mid}};
	nact_sup_spec root = {.name = "root",
	    .strategy = NACT_ONE_FOR_ONE,
	    .intensity = 1,
	    .period_ms = 60000,
	    .children = rootc,
	    .nchildren = 2,
	    .on_root_fail = st_root_fail,
	    .on_root_fail_arg = &l};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &root));
	CHECK(NT_WAIT(atomic_load(&l.live) == 2, NT_LONG_MS));
	st_watch(sys, &pr, sup);
	atomic_store(&l.poison[0], 1000);
	st_crash(sys, &l, 0, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&pr.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&l.root_fail), 1);
	CHECK_EQ_INT(atomic_load(&l.root_reason), NACT_EXIT_INTENSITY);
	CHECK_EQ_INT(pr.down[0].reason, NACT_EXIT_INTENSITY);
	CHECK(strstr(pr.down[0].text, "supervisor \"root\": child \"mid\" exceeded 1 restart") !=
	    NULL);
	CHECK(strstr(pr.down[0].text, "(last: intensity: supervisor \"mid\": child \"leaf\"") !=
	    NULL);
	CHECK_EQ_INT(atomic_load(&l.starts[0]), 8);
	CHECK_EQ_INT(atomic_load(&l.starts[1]), 1); /* the root's other child: stopped once */
	CHECK_EQ_INT(atomic_load(&l.stops[1]), 1);
	CHECK(NT_STAYS_FALSE(atomic_load(&l.root_fail) > 1, NT_QUIET_MS));
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	CHECK_EQ_U64(nact_whereis(sys, "mid").v, 0);
	CHECK_EQ_U64(nact_whereis(sys, "leaf").v, 0);
	nact_system_close(sys, 5000);
}

/* A child supervisor whose child cannot start ends with the start's error;
 * its parent restarts it, then fails on intensity. */
static void test_child_sup_start_failure(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec w[1];
	st_def defs[1];
	st_specs(w, defs, &l, 1, NACT_PERMANENT);
	nact_sup_spec mid = {.name = "mid",
	    .strategy = NACT_ONE_FOR_ONE,
	    .children = w,
	    .nchildren = 1};
	nact_child_spec rootc = {.id = "mid", .start = st_sup_child_start, .arg = &mid};
	nact_sup_spec root = {.strategy = NACT_ONE_FOR_ONE,
	    .intensity = 2,
	    .period_ms = 60000,
	    .children = &rootc,
	    .nchildren = 1,
	    .on_root_fail = st_root_fail,
	    .on_root_fail_arg = &l};
	atomic_store(&l.fail_start[0], 1000);
	nact_aid sup;
	/* the root's own start succeeds: mid starts on its own turn */
	REQUIRE_RV(nact_sup_start(&sup, sys, &root));
	CHECK(NT_WAIT(atomic_load(&l.root_fail) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&l.root_reason), NACT_EXIT_INTENSITY);
	CHECK_EQ_INT(atomic_load(&l.fail_start[0]), 1000 - 3); /* 1 start + 2 restarts */
	CHECK(NT_WAIT(!nact_alive(sys, sup), NT_LONG_MS));
	nact_system_close(sys, 5000);
}

/* Wait until child 0 is down with a pending restart; its backoff_ms. */
static uint32_t pending_backoff(nact_system *sys, nact_aid sup)
{
	nact_child_info ci[1];
	uint32_t b = 0;
	NT_WAIT(st_info(sys, sup, ci, 1) == 1 && !ci[0].running && (b = ci[0].backoff_ms) > 0,
	    NT_LONG_MS);
	return b;
}

/* Advance the manual clock by ms - 1: no restart; by 1 more: restart. */
static void step_restart(nact_system *sys, st_log *l, uint32_t ms)
{
	int s0 = atomic_load(&l->starts[0]);
	CHECK_RV(nact_clock_advance(sys, (uint64_t)(ms - 1) * 1000000u));
	CHECK(NT_STAYS_FALSE(atomic_load(&l->starts[0]) != s0, 20));
	CHECK_RV(nact_clock_advance(sys, 1000000u));
	CHECK(NT_WAIT(atomic_load(&l->starts[0]) == s0 + 1, NT_LONG_MS));
}

static void test_backoff_manual(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MANUAL);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE,
	    .intensity = 100,
	    .period_ms = 1000,
	    .backoff_min_ms = 100,
	    .backoff_max_ms = 400};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 1, NACT_PERMANENT, &sp));
	static const uint32_t want[4] = {100, 200, 400, 400};
	for (int i = 0; i < 4; i++) {
		st_crash(sys, &l, 0, NACT_EINVAL, 0);
		uint32_t b = pending_backoff(sys, sup);
		CHECK_EQ_INT(b, want[i]);
		step_restart(sys, &l, want[i]);
	}
	nact_child_info ci[1];
	REQUIRE(st_info(sys, sup, ci, 1) == 1);
	CHECK(ci[0].running);
	CHECK_EQ_INT(ci[0].restarts, 4);
	CHECK_EQ_INT(ci[0].backoff_ms, 0);
	CHECK_EQ_INT(ci[0].last_reason, NACT_EINVAL);
	/* it runs for period_ms: the next delay is the minimum again */
	CHECK_RV(nact_clock_advance(sys, 1000 * 1000000ull));
	st_crash(sys, &l, 0, NACT_EINVAL, 0);
	CHECK_EQ_INT(pending_backoff(sys, sup), 100);
	step_restart(sys, &l, 100);
	nact_system_close(sys, 5000);
}

static void test_backoff_jitter(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MANUAL);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE,
	    .intensity = 100,
	    .period_ms = 100000,
	    .backoff_min_ms = 200,
	    .backoff_max_ms = 200,
	    .backoff_jitter_pct = 50};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 1, NACT_PERMANENT, &sp));
	uint32_t lo = UINT32_MAX, hi = 0;
	for (int i = 0; i < 12; i++) {
		st_crash(sys, &l, 0, NACT_EINVAL, 0);
		uint32_t b = pending_backoff(sys, sup);
		CHECK(b >= 100 && b <= 300);
		lo = b < lo ? b : lo;
		hi = b > hi ? b : hi;
		step_restart(sys, &l, b);
	}
	CHECK(hi > lo); /* jittered, not constant */
	nact_system_close(sys, 5000);
}

/* On the real clock: each restart comes no earlier than its delay after
 * the failure, and not much later. */
static void test_backoff_real_clock(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE,
	    .intensity = 100,
	    .period_ms = 10000,
	    .backoff_min_ms = 20,
	    .backoff_max_ms = 80};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 1, NACT_PERMANENT, &sp));
	static const uint64_t want[4] = {20, 40, 80, 80};
	for (int i = 0; i < 4; i++) {
		CHECK(st_crash(sys, &l, 0, NACT_EINVAL, i + 2));
		uint64_t gap = atomic_load(&l.start_ns[0]) - atomic_load(&l.stop_ns[0]);
		CHECK(gap >= want[i] * 1000000u);
		CHECK(gap < (want[i] + nt_slow(250)) * 1000000u);
		if (gap < want[i] * 1000000u || gap >= (want[i] + nt_slow(250)) * 1000000u)
			fprintf(stderr, "  restart %d: %.1f ms, want %llu\n", i, gap / 1e6,
			    (unsigned long long)want[i]);
	}
	nact_system_close(sys, 5000);
}

/* one-for-all with backoff: the group is stopped at once and started again
 * when the failed child's delay has passed. */
static void test_backoff_group(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MANUAL);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ALL,
	    .intensity = 10,
	    .period_ms = 10000,
	    .backoff_min_ms = 50,
	    .backoff_max_ms = 1000};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 3, NACT_PERMANENT, &sp));
	uint32_t mark = atomic_load(&l.n);
	st_crash(sys, &l, 1, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.n) == mark + 3, NT_LONG_MS));
	char buf[128];
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-B -C -A");
	nact_child_info ci[3];
	REQUIRE(st_info(sys, sup, ci, 3) == 3);
	CHECK(!ci[0].running && !ci[1].running && !ci[2].running);
	CHECK_EQ_INT(ci[1].backoff_ms, 50);
	CHECK_RV(nact_clock_advance(sys, 49 * 1000000u));
	CHECK(NT_STAYS_FALSE(atomic_load(&l.n) != mark + 3, 20));
	CHECK_RV(nact_clock_advance(sys, 1000000u));
	CHECK(NT_WAIT(atomic_load(&l.n) == mark + 6, NT_LONG_MS));
	CHECK_STR(st_events(&l, mark + 3, buf, sizeof(buf)), "+A +B +C");
	/* again: the delay doubled */
	mark = atomic_load(&l.n);
	st_crash(sys, &l, 0, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.n) == mark + 3, NT_LONG_MS));
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-A -C -B");
	REQUIRE(st_info(sys, sup, ci, 3) == 3);
	CHECK_EQ_INT(ci[0].backoff_ms, 50); /* A's own first delay */
	CHECK_RV(nact_clock_advance(sys, 50 * 1000000u));
	CHECK(NT_WAIT(atomic_load(&l.n) == mark + 6, NT_LONG_MS));
	/* a stop while the group waits: nothing is started again */
	mark = atomic_load(&l.n);
	st_crash(sys, &l, 1, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.n) == mark + 3, NT_LONG_MS));
	REQUIRE(st_info(sys, sup, ci, 3) == 3);
	CHECK_EQ_INT(ci[1].backoff_ms, 100);
	CHECK_RV(nact_stop(sys, sup));
	CHECK(NT_WAIT(!nact_alive(sys, sup), NT_LONG_MS));
	CHECK_RV(nact_clock_advance(sys, 1000 * 1000000ull));
	CHECK(NT_STAYS_FALSE(atomic_load(&l.n) != mark + 3, NT_QUIET_MS));
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_root_fail_default), NT_CASE(test_intensity), NT_CASE(test_intensity_window),
    NT_CASE(test_escalation_two_levels), NT_CASE(test_child_sup_start_failure),
    NT_CASE(test_backoff_manual), NT_CASE(test_backoff_jitter), NT_CASE(test_backoff_real_clock),
    NT_CASE(test_backoff_group))
