/*
 * tests/supervisor/test_supervisor.c — strategies, restart types, dynamic
 * children, what nact_sup_children reports, orderly shutdown.
 *
 * Contract checked (include/nactor/supervisor.h):
 * - one-for-one restarts only the failed child; one-for-all stops the
 *   others in reverse start order and starts all again in start order;
 *   rest-for-one does that for the failed child and those started after
 *   it. Restarted children have fresh state; untouched ones keep theirs.
 * - permanent children are always restarted, transient ones only after an
 *   abnormal exit, temporary ones never.
 * - a failing child start makes nact_sup_start fail with that error after
 *   the children already started are stopped again, and frees the name.
 * - simple-one-for-one: children from the template with their own extra;
 *   stop_child stops one for good; start_child on another strategy is
 *   NACT_EINVAL; stop_child of an unknown id is NACT_ENOENT.
 * - nact_sup_children reports ids, running, restarts and the last reason.
 * - stopping a supervisor stops its children in reverse start order; a
 *   child that traps exits and ignores the stop is killed after its
 *   shutdown timeout; nested supervisors shut down depth first. A killed
 *   supervisor takes its (linked) children with it.
 * Events (starts and ends) are recorded in an atomic log (suputil.h); all
 * waits are on conditions.
 */
#include "suputil.h"

/* Four children A..D under strategy; INC each three times; crash B; check
 * the events after the crash, then each child's count (fresh = 0). */
static void strategy_case(int strategy, const char *want, const int64_t counts[4])
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.name = "sup", .strategy = strategy};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 4, NACT_PERMANENT, &sp));
	char buf[256];
	CHECK_STR(st_events(&l, 0, buf, sizeof(buf)), "+A +B +C +D");
	CHECK_EQ_U64(nact_whereis(sys, "sup").v, sup.v);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 3; k++)
			nt_send_int(sys, st_aid(&l, i), W_INC, 1);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(st_get(sys, &l, i), 3);
	uint32_t mark = atomic_load(&l.n);
	int nev = (int)(strlen(want) + 1) / 3;
	CHECK(st_crash(sys, &l, 1, NACT_EINVAL, 2));
	CHECK(NT_WAIT(atomic_load(&l.n) >= mark + (uint32_t)nev, NT_LONG_MS));
	CHECK(NT_STAYS_FALSE(atomic_load(&l.n) > mark + (uint32_t)nev, NT_QUIET_MS));
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), want);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(st_get(sys, &l, i), counts[i]);

	nact_child_info ci[8];
	uint32_t n = st_info(sys, sup, ci, 8);
	CHECK_EQ_INT(n, 4);
	for (uint32_t i = 0; i < n; i++) {
		char id[2] = {(char)('A' + i), 0};
		CHECK_STR(ci[i].id, id);
		CHECK(ci[i].running);
		CHECK_EQ_U64(ci[i].aid.v, st_aid(&l, (int)i).v);
		CHECK_EQ_INT(ci[i].restarts, counts[i] == 0 ? 1 : 0);
		CHECK_EQ_INT(ci[i].backoff_ms, 0);
	}
	CHECK_EQ_INT(ci[1].last_reason, NACT_EINVAL);
	CHECK_EQ_INT(atomic_load(&l.live), 4);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
}

static void test_one_for_one(void)
{
	static const int64_t counts[4] = {3, 0, 3, 3};
	strategy_case(NACT_ONE_FOR_ONE, "-B +B", counts);
}

static void test_one_for_all(void)
{
	static const int64_t counts[4] = {0, 0, 0, 0};
	strategy_case(NACT_ONE_FOR_ALL, "-B -D -C -A +A +B +C +D", counts);
}

static void test_rest_for_one(void)
{
	static const int64_t counts[4] = {3, 0, 0, 0};
	strategy_case(NACT_REST_FOR_ONE, "-B -D -C +B +C +D", counts);
}

/* A behaviour that returns an error is a failure as well as nact_exit_msg;
 * the first (A) and last (D) child under rest-for-one. */
static void test_rest_for_one_edges(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_REST_FOR_ONE};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 4, NACT_PERMANENT, &sp));
	char buf[256];
	uint32_t mark = atomic_load(&l.n);
	nt_send_int(sys, st_aid(&l, 3), W_ERR, NACT_ERANGE); /* last: only itself */
	CHECK(NT_WAIT(atomic_load(&l.starts[3]) == 2, NT_LONG_MS));
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-D +D");
	mark = atomic_load(&l.n);
	nt_send_int(sys, st_aid(&l, 0), W_ERR, NACT_ERANGE); /* first: everyone */
	CHECK(NT_WAIT(atomic_load(&l.starts[3]) == 3, NT_LONG_MS));
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-A -D -C -B +A +B +C +D");
	nact_child_info ci[4];
	CHECK_EQ_INT(st_info(sys, sup, ci, 4), 4);
	CHECK_EQ_INT(ci[0].last_reason, NACT_ERANGE);
	CHECK_EQ_INT(ci[3].restarts, 2);
	CHECK_EQ_INT(ci[1].restarts, 1);
	nact_system_close(sys, 5000);
}

/* P permanent, T transient, X temporary: a normal exit restarts only P; an
 * abnormal one P and T; X never comes back. */
static void test_restart_types(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec cs[6];
	st_def defs[6];
	st_specs(cs, defs, &l, 6, NACT_PERMANENT);
	cs[1].restart = cs[4].restart = NACT_TRANSIENT;
	cs[2].restart = cs[5].restart = NACT_TEMPORARY;
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE, .children = cs, .nchildren = 6};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	/* A, B, C: normal exit */
	for (int i = 0; i < 3; i++)
		nt_send_int(sys, st_aid(&l, i), W_NORMAL, 0);
	/* D, E, F: abnormal exit */
	for (int i = 3; i < 6; i++)
		st_crash(sys, &l, i, NACT_EINVAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.starts[0]) == 2 && atomic_load(&l.starts[3]) == 2 &&
	        atomic_load(&l.starts[4]) == 2,
	    NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&l.stops[1]) == 1 && atomic_load(&l.stops[2]) == 1 &&
	        atomic_load(&l.stops[5]) == 1,
	    NT_LONG_MS));
	CHECK(NT_STAYS_FALSE(atomic_load(&l.starts[1]) > 1 || atomic_load(&l.starts[2]) > 1 ||
	        atomic_load(&l.starts[5]) > 1,
	    NT_QUIET_MS));
	nact_child_info ci[6];
	REQUIRE(st_info(sys, sup, ci, 6) == 6);
	static const int running[6] = {1, 0, 0, 1, 1, 0};
	static const int reason[6] = {NACT_EXIT_NORMAL, NACT_EXIT_NORMAL, NACT_EXIT_NORMAL,
	    NACT_EINVAL, NACT_EINVAL, NACT_EINVAL};
	for (int i = 0; i < 6; i++) {
		CHECK_EQ_INT(ci[i].running, running[i]);
		CHECK_EQ_INT(ci[i].restarts, running[i]);
		CHECK_EQ_INT(ci[i].last_reason, reason[i]);
		if (!running[i])
			CHECK_EQ_U64(ci[i].aid.v, 0);
	}
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
}

/* A handler past its deadline is a failure too (reason deadline). */
static void test_deadline_failure(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec cs[2];
	st_def defs[2];
	st_specs(cs, defs, &l, 2, NACT_TRANSIENT);
	defs[0].deadline_ms = 20;
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE, .children = cs, .nchildren = 2};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	nt_send_int(sys, st_aid(&l, 0), W_SLEEP, 5); /* within the deadline */
	nt_send_int(sys, st_aid(&l, 0), W_SLEEP, 60);
	CHECK(NT_WAIT(atomic_load(&l.starts[0]) == 2, NT_LONG_MS));
	nact_child_info ci[2];
	REQUIRE(st_info(sys, sup, ci, 2) == 2);
	CHECK_EQ_INT(ci[0].restarts, 1);
	CHECK_EQ_INT(ci[0].last_reason, NACT_EXIT_DEADLINE);
	CHECK_EQ_INT(ci[1].restarts, 0);
	nact_system_close(sys, 5000);
}

/* A child's start fails: nact_sup_start returns its error, the children
 * started before it are stopped again, the name is free at once. */
static void test_start_failure(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec cs[3];
	st_def defs[3];
	st_specs(cs, defs, &l, 3, NACT_PERMANENT);
	nact_sup_spec sp = {.name = "sf",
	    .strategy = NACT_ONE_FOR_ONE,
	    .children = cs,
	    .nchildren = 3};
	atomic_store(&l.fail_start[2], 1);
	nact_aid sup = NACT_AID_NONE;
	CHECK_ERR(nact_sup_start(&sup, sys, &sp), NACT_EEXIST);
	CHECK_EQ_U64(sup.v, 0);
	char buf[64];
	CHECK_STR(st_events(&l, 0, buf, sizeof(buf)), "+A +B -B -A");
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	/* the name is free again and a second start works */
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	CHECK_EQ_U64(nact_whereis(sys, "sf").v, sup.v);
	CHECK_EQ_INT(atomic_load(&l.live), 3);
	/* bad specs */
	nact_aid x;
	nact_sup_spec bad = sp;
	bad.name = NULL;
	bad.strategy = 9;
	CHECK_ERR(nact_sup_start(&x, sys, &bad), NACT_EINVAL);
	bad = sp;
	bad.name = "sf2";
	nact_child_spec dup[2] = {cs[0], cs[0]};
	bad.children = dup;
	bad.nchildren = 2;
	CHECK_ERR(nact_sup_start(&x, sys, &bad), NACT_EINVAL); /* duplicate ids */
	bad = sp;
	bad.name = NULL;
	bad.strategy = NACT_SIMPLE_ONE_FOR_ONE; /* needs a template, no static children */
	CHECK_ERR(nact_sup_start(&x, sys, &bad), NACT_EINVAL);
	bad = sp;
	bad.name = "sf";
	CHECK_ERR(nact_sup_start(&x, sys, &bad), NACT_EEXIST); /* name taken */
	CHECK_ERR(nact_sup_start(NULL, sys, &sp), NACT_EINVAL);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
}

/* simple-one-for-one: dynamic children from a template. */
static void test_dynamic(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	st_def tdef = {.log = &l};
	nact_child_spec tmpl = {.id = "worker",
	    .start = st_start,
	    .arg = &tdef,
	    .restart = NACT_TRANSIENT};
	nact_sup_spec sp = {.strategy = NACT_SIMPLE_ONE_FOR_ONE, .child_template = &tmpl};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	static int idx[5] = {0, 1, 2, 3, 4};
	nact_aid kid[5];
	for (int i = 0; i < 5; i++) {
		REQUIRE_RV(nact_sup_start_child(sys, sup, &idx[i], &kid[i], 5000));
		CHECK_EQ_U64(kid[i].v, st_aid(&l, i).v);
		CHECK(nact_alive(sys, kid[i]));
	}
	CHECK_EQ_U64(atomic_load(&l.extras), 0 + 1 + 2 + 3 + 4);
	nact_child_info ci[8];
	REQUIRE(st_info(sys, sup, ci, 8) == 5);
	for (int i = 0; i < 5; i++) {
		CHECK_STR(ci[i].id, "worker");
		CHECK_EQ_U64(ci[i].aid.v, kid[i].v);
	}
	/* stop C for good */
	CHECK_RV(nact_sup_stop_child(sys, sup, kid[2], 5000));
	CHECK(!nact_alive(sys, kid[2]));
	CHECK_EQ_INT(atomic_load(&l.stops[2]), 1);
	CHECK_ERR(nact_sup_stop_child(sys, sup, kid[2], 5000), NACT_ENOENT);
	/* B crashes: restarted with its own extra; D ends normally: gone */
	CHECK(st_crash(sys, &l, 1, NACT_EINVAL, 2));
	nt_send_int(sys, kid[3], W_NORMAL, 0);
	CHECK(NT_WAIT(atomic_load(&l.stops[3]) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(st_info(sys, sup, ci, 8) == 3, NT_LONG_MS));
	REQUIRE(st_info(sys, sup, ci, 8) == 3);
	CHECK_EQ_U64(ci[0].aid.v, kid[0].v);
	CHECK_EQ_U64(ci[1].aid.v, st_aid(&l, 1).v);
	CHECK_EQ_INT(ci[1].restarts, 1);
	CHECK_EQ_INT(ci[1].last_reason, NACT_EINVAL);
	CHECK_EQ_U64(ci[2].aid.v, kid[4].v);
	/* max smaller than the table */
	CHECK_EQ_INT(st_info(sys, sup, ci, 2), 2);
	uint32_t n = 9;
	CHECK_RV(nact_sup_children(sys, sup, NULL, 0, &n, 5000));
	CHECK_EQ_INT(n, 0);
	/* a failing start is reported and leaves nothing behind */
	atomic_store(&l.fail_start[4], 1);
	nact_aid x;
	CHECK_ERR(nact_sup_start_child(sys, sup, &idx[4], &x, 5000), NACT_EEXIST);
	CHECK_EQ_INT(st_info(sys, sup, ci, 8), 3);
	/* errors */
	CHECK_ERR(nact_sup_stop_child(sys, sup, (nact_aid){12345}, 5000), NACT_ENOENT);
	CHECK_ERR(nact_sup_stop_child(sys, sup, NACT_AID_NONE, 5000), NACT_EINVAL);
	CHECK_ERR(nact_sup_children(sys, kid[0], ci, 8, &n, 50), NACT_ETIMEDOUT);
	/* the supervisor stops the rest in reverse start order */
	uint32_t mark = atomic_load(&l.n);
	CHECK_RV(nact_stop(sys, sup));
	CHECK(NT_WAIT(!nact_alive(sys, sup), NT_LONG_MS));
	char buf[64];
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-E -B -A");
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	CHECK_ERR(nact_sup_start_child(sys, sup, &idx[0], &x, 100), NACT_ENOENT);
	nact_system_close(sys, 5000);
}

static void test_start_child_wrong_strategy(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE};
	nact_aid sup, x;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 2, NACT_PERMANENT, &sp));
	static int i0 = 0;
	CHECK_ERR(nact_sup_start_child(sys, sup, &i0, &x, 5000), NACT_EINVAL);
	/* stop_child works for static children too: stopped, not restarted */
	CHECK_RV(nact_sup_stop_child(sys, sup, st_aid(&l, 1), 5000));
	nact_child_info ci[2];
	REQUIRE(st_info(sys, sup, ci, 2) == 2);
	CHECK(ci[0].running);
	CHECK(!ci[1].running);
	CHECK_EQ_INT(ci[1].last_reason, NACT_EXIT_SHUTDOWN);
	CHECK(NT_STAYS_FALSE(atomic_load(&l.starts[1]) > 1, NT_QUIET_MS));
	nact_system_close(sys, 5000);
}

/* Stop order, the shutdown timeout of a child that ignores the stop, and
 * the supervisor's own DOWN reason. */
static void test_shutdown_order_timeout(void)
{
	static st_log l;
	static st_probe pr;
	memset(&pr, 0, sizeof(pr));
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec cs[4];
	st_def defs[4];
	st_specs(cs, defs, &l, 4, NACT_PERMANENT);
	defs[1].trap = 1; /* B traps exits and ignores the stop */
	cs[1].shutdown_ms = 150;
	defs[2].trap = 1; /* C too, but is killed at once */
	cs[2].shutdown_ms = -1;
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE, .children = cs, .nchildren = 4};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	CHECK(NT_WAIT(atomic_load(&l.trapped[1]) && atomic_load(&l.trapped[2]), NT_LONG_MS));
	st_watch(sys, &pr, sup);
	uint32_t mark = atomic_load(&l.n);
	uint64_t t0 = nt_now_ns();
	CHECK_RV(nact_stop(sys, sup));
	CHECK(NT_WAIT(atomic_load(&pr.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_INT(pr.down[0].reason, NACT_EXIT_SHUTDOWN);
	CHECK_EQ_U64(pr.down[0].id.v, sup.v);
	char buf[64];
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-D -C -B -A");
	CHECK_EQ_INT(atomic_load(&l.exits[1]), 1); /* B saw the stop as EXIT */
	CHECK_EQ_INT(atomic_load(&l.exits[2]), 0); /* C was killed outright */
	uint64_t b_ms = (atomic_load(&l.stop_ns[1]) - t0) / 1000000u;
	CHECK(b_ms >= 150);
	CHECK(b_ms < 150 + nt_slow(2000));
	/* A ended after B: the stop of A waited for B's kill */
	CHECK(atomic_load(&l.stop_ns[0]) >= atomic_load(&l.stop_ns[1]));
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	nact_system_close(sys, 5000);
}

/* A child may stop its own supervisor: an orderly shutdown like any other
 * (the stop arrives as an EXIT from a live child, not a link's). */
static void test_child_stops_supervisor(void)
{
	static st_log l;
	static st_probe pr;
	memset(&pr, 0, sizeof(pr));
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE};
	nact_aid sup;
	REQUIRE_RV(st_sup_start(&sup, sys, &l, 3, NACT_PERMANENT, &sp));
	st_watch(sys, &pr, sup);
	uint32_t mark = atomic_load(&l.n);
	nt_send_int(sys, st_aid(&l, 1), W_STOP, (int64_t)sup.v);
	CHECK(NT_WAIT(atomic_load(&pr.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_INT(pr.down[0].reason, NACT_EXIT_SHUTDOWN);
	char buf[64];
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-C -B -A");
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	nact_system_close(sys, 5000);
}

/* root (A, mid(B, C), D): stopping the root stops D, then mid (which stops
 * C, B), then A. A killed supervisor takes its children with it. */
static void test_nested_shutdown_and_kill(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec w[4];
	st_def defs[4];
	st_specs(w, defs, &l, 4, NACT_PERMANENT);
	nact_child_spec midc[2] = {w[1], w[2]};
	nact_sup_spec mid = {.name = "mid",
	    .strategy = NACT_ONE_FOR_ONE,
	    .children = midc,
	    .nchildren = 2};
	nact_child_spec rootc[3] = {w[0],
	    {.id = "mid", .start = st_sup_child_start, .arg = &mid, .restart = NACT_PERMANENT},
	    w[3]};
	nact_sup_spec root = {.name = "root",
	    .strategy = NACT_ONE_FOR_ONE,
	    .children = rootc,
	    .nchildren = 3};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &root));
	/* mid starts its children on its own turn */
	CHECK(NT_WAIT(atomic_load(&l.live) == 4, NT_LONG_MS));
	nact_aid midid = nact_whereis(sys, "mid");
	CHECK(midid.v != 0);
	nact_child_info ci[4];
	REQUIRE(st_info(sys, sup, ci, 4) == 3);
	CHECK_STR(ci[1].id, "mid");
	CHECK_EQ_U64(ci[1].aid.v, midid.v);
	REQUIRE(st_info(sys, midid, ci, 4) == 2);
	CHECK_STR(ci[0].id, "B");
	CHECK_STR(ci[1].id, "C");
	/* the mid supervisor crashes (killed): the root restarts it, and the
	 * old mid's children ended through their links */
	uint32_t mark = atomic_load(&l.n);
	CHECK_RV(nact_kill(sys, midid));
	CHECK(
	    NT_WAIT(atomic_load(&l.starts[1]) == 2 && atomic_load(&l.starts[2]) == 2, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&l.stops[1]) == 1 && atomic_load(&l.stops[2]) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&l.n), mark + 4);
	char buf[128];
	CHECK(NT_WAIT(nact_whereis(sys, "mid").v != 0, NT_LONG_MS));
	REQUIRE(st_info(sys, sup, ci, 4) == 3);
	CHECK_EQ_INT(ci[1].restarts, 1);
	CHECK_EQ_INT(ci[1].last_reason, NACT_EXIT_KILLED);
	/* orderly shutdown, depth first in reverse start order */
	mark = atomic_load(&l.n);
	CHECK_RV(nact_stop(sys, sup));
	CHECK(NT_WAIT(!nact_alive(sys, sup), NT_LONG_MS));
	CHECK_STR(st_events(&l, mark, buf, sizeof(buf)), "-D -C -B -A");
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	CHECK_EQ_U64(nact_whereis(sys, "mid").v, 0);
	nact_system_close(sys, 5000);
}

/* Closing the system with a running tree: everything ends, nothing leaks,
 * and the root does not count it as a failure. */
static void test_close_with_tree(void)
{
	static st_log l;
	nact_system *sys = st_open(&l, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);
	nact_child_spec w[4];
	st_def defs[4];
	st_specs(w, defs, &l, 4, NACT_PERMANENT);
	defs[3].trap = 2; /* cleans up on the stop, then ends */
	nact_sup_spec mid = {.strategy = NACT_ONE_FOR_ALL, .children = &w[2], .nchildren = 2};
	nact_child_spec rootc[3] = {w[0], w[1],
	    {.id = "mid", .start = st_sup_child_start, .arg = &mid, .restart = NACT_PERMANENT}};
	nact_sup_spec root = {.strategy = NACT_REST_FOR_ONE,
	    .children = rootc,
	    .nchildren = 3,
	    .on_root_fail = st_root_fail,
	    .on_root_fail_arg = &l};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &root));
	CHECK(NT_WAIT(atomic_load(&l.live) == 4 && atomic_load(&l.trapped[3]), NT_LONG_MS));
	uint64_t t0 = nt_now_ms();
	nact_system_close(sys, 5000);
	CHECK(nt_now_ms() - t0 < 4000); /* nobody waited for close's timeout */
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	CHECK_EQ_INT(atomic_load(&l.exits[3]), 1); /* D's cleanup ran */
	CHECK_EQ_INT(atomic_load(&l.root_fail), 0);
}

static int idle_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	(void)m;
	return 0;
}

/* Lines the supervisor logs when it takes a child's end for a failure. */
static void close_log(void *arg, int level, const char *line)
{
	(void)level;
	if (strstr(line, "exited:") != NULL || strstr(line, "exceeded") != NULL)
		atomic_fetch_add((atomic_int *)arg, 1);
}

/* A system with two workers whose log counts close_log's lines. */
static nact_system *close_open(atomic_int *lines)
{
	nact_config cfg;
	nact_system *sys = NULL;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.log_level = NACT_LOG_INFO;
	cfg.log_fn = close_log;
	cfg.log_arg = lines;
	int rv = nact_system_open(&sys, &cfg);
	if (rv != 0)
		nt_fail(__FILE__, __LINE__, "open: %s", nact_strerror(rv));
	return sys;
}

/* Regression: nact_system_close stops every actor in slot order, so when a
 * root supervisor sits in a slot above its children (slots are reused), the
 * children get their stop first and the supervisor may see their DOWNs
 * (reason shutdown) before its own stop. Those ends are not failures: no
 * "exited" line, no restart, no escalation (intensity 1: two counted ends
 * would fail the root). Before the fix nearly every run failed. */
static void test_close_is_not_failure(void)
{
	static st_log l;
	static const int strategies[3] = {NACT_ONE_FOR_ALL, NACT_REST_FOR_ONE, NACT_ONE_FOR_ONE};
	int bad = 0;
	for (int run = 0; run < 15 && bad == 0; run++) {
		atomic_int lines = 0;
		memset(&l, 0, sizeof(l));
		nact_system *sys = close_open(&lines);
		REQUIRE(sys != NULL);
		/* free six slots: the supervisor (spawned next) takes the last
		 * one freed, the highest, and its children the ones below */
		nact_aid d[6];
		for (int i = 0; i < 6; i++)
			REQUIRE_RV(nact_spawn(&d[i], sys, idle_fn, NULL, NULL, NULL));
		for (int i = 0; i < 6; i++) {
			CHECK_RV(nact_stop(sys, d[i]));
			CHECK(NT_WAIT(!nact_alive(sys, d[i]), NT_LONG_MS));
		}
		nact_sup_spec sp = {.name = "sup",
		    .strategy = strategies[run % 3],
		    .intensity = 1,
		    .on_root_fail = st_root_fail,
		    .on_root_fail_arg = &l};
		nact_aid sup;
		REQUIRE_RV(st_sup_start(&sup, sys, &l, 5, NACT_PERMANENT, &sp));
		CHECK(NT_WAIT(atomic_load(&l.live) == 5, NT_LONG_MS));
		nact_system_close(sys, 5000);
		CHECK_EQ_INT(atomic_load(&l.live), 0);
		int restarted = 0;
		for (int i = 0; i < 5; i++)
			restarted |= atomic_load(&l.starts[i]) != 1;
		if (restarted || atomic_load(&l.root_fail) != 0 || atomic_load(&lines) != 0) {
			bad++;
			nt_fail(__FILE__, __LINE__,
			    "run %d (strategy %d): restarted %d, root_fail %d, failure lines %d",
			    run, strategies[run % 3], restarted, atomic_load(&l.root_fail),
			    atomic_load(&lines));
		}
	}
	CHECK_EQ_INT(bad, 0);
}

/* Child D's start: like st_start, then, once when `slow` is set, it keeps
 * the supervisor busy in its handler (a restart) for a while. */
static atomic_int slow, in_slow;

static int slow_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	int rv = st_start(idp, sys, arg, extra);
	if (rv == 0 && atomic_exchange(&slow, 0)) {
		atomic_store(&in_slow, 1);
		nng_msleep((nng_duration)nt_scaled(300));
	}
	return rv;
}

/* Regression (test_one_for_all failed ~1 in 70 under load): the system
 * closes while the supervisor is busy in a handler, so its stop and then
 * its children's DOWNs (they end on the other worker) wait in its control
 * lane together. The DOWNs are not failures (intensity 1 and a crash just
 * before: one more counted end fails the root). Before the fix the trapped
 * stop was handled after them and the root failed every time. */
static void test_close_while_busy(void)
{
	static st_log l;
	atomic_int lines = 0;
	memset(&l, 0, sizeof(l));
	nact_system *sys = close_open(&lines);
	REQUIRE(sys != NULL);
	st_specs(l.cs, l.defs, &l, 4, NACT_PERMANENT);
	l.cs[3].start = slow_start;
	nact_sup_spec sp = {.name = "sup",
	    .strategy = NACT_ONE_FOR_ALL,
	    .children = l.cs,
	    .nchildren = 4,
	    .intensity = 1,
	    .on_root_fail = st_root_fail,
	    .on_root_fail_arg = &l};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	CHECK(NT_WAIT(atomic_load(&l.live) == 4, NT_LONG_MS));
	atomic_store(&in_slow, 0);
	atomic_store(&slow, 1);
	nt_send_int(sys, st_aid(&l, 1), W_CRASH, NACT_EINVAL); /* one real failure */
	CHECK(NT_WAIT(atomic_load(&in_slow), NT_LONG_MS));
	int lines0 = atomic_load(&lines); /* B's crash */
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(lines0, 1);
	CHECK_EQ_INT(atomic_load(&lines), lines0);
	CHECK_EQ_INT(atomic_load(&l.root_fail), 0);
	CHECK_EQ_INT(atomic_load(&l.live), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(atomic_load(&l.starts[i]), 2);
}

NT_MAIN(NT_CASE(test_one_for_one), NT_CASE(test_one_for_all), NT_CASE(test_rest_for_one),
    NT_CASE(test_rest_for_one_edges), NT_CASE(test_restart_types), NT_CASE(test_deadline_failure),
    NT_CASE(test_start_failure), NT_CASE(test_dynamic), NT_CASE(test_start_child_wrong_strategy),
    NT_CASE(test_shutdown_order_timeout), NT_CASE(test_child_stops_supervisor),
    NT_CASE(test_nested_shutdown_and_kill), NT_CASE(test_close_with_tree),
    NT_CASE(test_close_is_not_failure), NT_CASE(test_close_while_busy))
