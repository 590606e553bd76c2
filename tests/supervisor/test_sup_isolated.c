/*
 * tests/supervisor/test_sup_isolated.c — supervisors over crash-isolated
 * children (nact_child_spec.isolated = 1).
 *
 * Contract checked:
 * - an isolated child whose process segfaults on message 3 of 10 is
 *   restarted by its supervisor on the same id: message 3 is one dead
 *   letter "crashed", messages 4-10 are handled in order by the new
 *   process; nact_sup_children shows one restart, reason signal 11, the
 *   same id; an ordinary sibling under one-for-one is not touched;
 * - kill -9 of its process: restarted (a new pid), reason signal 9; a
 *   storm of such deaths escalates like any other;
 * - a temporary isolated child that crashes is not restarted and its id
 *   is released (its queued messages become dead letters);
 * - one-for-all: when the isolated child crashes, its ordinary sibling is
 *   stopped and started again while the isolated one keeps its id; when the
 *   sibling crashes, the isolated child is stopped (its id freed) and
 *   started afresh under a new id;
 * - stopping the supervisor stops the isolated child and frees its id.
 * The first case opens the first system of this program (with isolation)
 * while it is still single-threaded, as the launcher requires.
 */
#include <signal.h>

#include "suputil.h"

enum { T_WORK = 50, T_DONE };

/* The isolated child's init argument (copied by nact_spawn_isolated). */
typedef struct iso_arg {
	nact_aid collector;
	int crash_at; /* segfault on this message; 0 never */
} iso_arg;

static volatile uintptr_t null_addr; /* 0, and the compiler cannot know */

__attribute__((no_sanitize("undefined"))) static void write_through_null(void)
{
	*(volatile int *)null_addr = 1;
}

/* ---- in the isolated process ---- */

typedef struct iso_state {
	iso_arg a;
	nact_system *sys;
} iso_state;

static void report(nact_system *sys, nact_aid to, uint32_t type, int64_t v)
{
	nact_msg *m = nt_msg_int(sys, type, v);
	if (m != NULL && nact_send(sys, to, m) != 0)
		nact_msg_free(m);
}

static int iso_init(void **statep, const void *arg, size_t arglen)
{
	if (arglen != sizeof(iso_arg))
		return NACT_EINVAL;
	iso_state *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NACT_ENOMEM;
	memcpy(&s->a, arg, sizeof(s->a));
	*statep = s;
	return 0;
}

static void iso_fini(void *arg)
{
	free(arg);
}

static int iso_fn(nact_ctx *ctx, nact_msg *m)
{
	iso_state *s = nact_state(ctx);
	s->sys = nact_sys(ctx);
	if (nact_msg_type(m) != T_WORK)
		return 0;
	int64_t n = nt_body_int(m, -1);
	if (n == s->a.crash_at)
		write_through_null();
	report(s->sys, s->a.collector, T_DONE, n);
	return 0;
}

/* ---- in this process ---- */

#define MAXN 64

typedef struct collector {
	atomic_int n;            /* T_DONE messages */
	int64_t done[MAXN];      /* their values in arrival order */
	_Atomic uint64_t sender; /* sender of the last one */
} collector;

static int collector_fn(nact_ctx *ctx, nact_msg *m)
{
	collector *c = nact_state(ctx);
	if (nact_msg_type(m) == T_DONE) {
		int k = atomic_load(&c->n);
		if (k < MAXN)
			c->done[k] = nt_body_int(m, -1);
		atomic_store(&c->sender, nact_msg_sender(m).v);
		atomic_store(&c->n, k + 1);
	}
	return 0;
}

/* What the isolated child's start function needs. */
typedef struct iso_def {
	iso_arg a;
	atomic_int starts;           /* fresh spawns (not isolated restarts) */
	_Atomic uint64_t last_spawn; /* id of the last fresh spawn */
} iso_def;

static int start_iso(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	iso_def *d = arg;
	int rv =
	    nact_spawn_isolated(idp, sys, iso_fn, iso_init, &d->a, sizeof(d->a), iso_fini, NULL);
	if (rv == 0) {
		atomic_store(&d->last_spawn, idp->v);
		atomic_fetch_add(&d->starts, 1);
	}
	return rv;
}

typedef struct fixture {
	nact_system *sys;
	collector c;
	nact_aid col;
	st_log l;
	st_def wdef; /* an ordinary sibling: index 0 in l */
	iso_def idef;
	nact_child_spec cs[2]; /* [0] ordinary "W", [1] isolated "iso" */
} fixture;

static fixture fx; /* static: large, and shared with handlers */

static int fx_open(int crash_at)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.isolation = 1;
	memset(&fx, 0, sizeof(fx));
	int rv = nact_system_open(&fx.sys, &cfg);
	if (rv != 0)
		return rv;
	if ((rv = nact_spawn(&fx.col, fx.sys, collector_fn, &fx.c, NULL, NULL)) != 0)
		return rv;
	fx.wdef = (st_def){.log = &fx.l, .idx = 0};
	fx.idef.a = (iso_arg){.collector = fx.col, .crash_at = crash_at};
	fx.cs[0] = (nact_child_spec){.id = "W", .start = st_start, .arg = &fx.wdef};
	fx.cs[1] =
	    (nact_child_spec){.id = "iso", .start = start_iso, .arg = &fx.idef, .isolated = 1};
	return 0;
}

static nact_aid iso_id(nact_system *sys, nact_aid sup)
{
	nact_child_info ci[2];
	uint32_t n = st_info(sys, sup, ci, 2);
	return n == 2 ? ci[1].aid : NACT_AID_NONE;
}

static void work(nact_aid to, int from, int upto)
{
	for (int i = from; i <= upto; i++)
		nt_send_int(fx.sys, to, T_WORK, i);
}

/* Wait for n T_DONEs; check they are 1..n without skip (n in skip). */
static void check_done(int n, int skip)
{
	CHECK(NT_WAIT(atomic_load(&fx.c.n) == n, NT_LONG_MS));
	int want = 1;
	for (int i = 0; i < n && i < MAXN; i++, want++) {
		if (want == skip)
			want++;
		CHECK_EQ_INT(fx.c.done[i], want);
	}
}

static void test_segv_restart_same_id(void)
{
	REQUIRE_RV(fx_open(3));
	nact_sup_spec sp = {.name = "isup",
	    .strategy = NACT_ONE_FOR_ONE,
	    .children = fx.cs,
	    .nchildren = 2};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, fx.sys, &sp));
	nact_aid iso = iso_id(fx.sys, sup);
	REQUIRE(iso.v != 0);
	CHECK_EQ_U64(iso.v, atomic_load(&fx.idef.last_spawn));
	work(iso, 1, 10);
	/* 1, 2 by the first process; 3 crashes it; 4..10 by the restarted one */
	check_done(9, 3);
	CHECK_EQ_U64(atomic_load(&fx.c.sender), iso.v);
	CHECK_EQ_U64(nact_deadletters(fx.sys, NACT_DL_CRASHED), 1);
	nact_child_info ci[2];
	REQUIRE(st_info(fx.sys, sup, ci, 2) == 2);
	CHECK_STR(ci[1].id, "iso");
	CHECK_EQ_U64(ci[1].aid.v, iso.v);
	CHECK(ci[1].running);
	CHECK_EQ_INT(ci[1].restarts, 1);
	CHECK_EQ_INT(ci[1].last_reason, NACT_EXIT_SIGNAL(SIGSEGV));
	CHECK_EQ_INT(atomic_load(&fx.idef.starts), 1); /* restarted, not spawned again */
	CHECK_EQ_INT(ci[0].restarts, 0);
	CHECK_EQ_INT(atomic_load(&fx.l.starts[0]), 1);
	/* stopping the supervisor stops the isolated child and frees its id */
	CHECK_RV(nact_stop(fx.sys, sup));
	CHECK(NT_WAIT(!nact_alive(fx.sys, sup), NT_LONG_MS));
	CHECK(!nact_alive(fx.sys, iso));
	CHECK_EQ_INT(nact_isolated_pid(fx.sys, iso), -1);
	CHECK_EQ_INT(atomic_load(&fx.l.live), 0);
	nact_system_close(fx.sys, 5000);
}

static void test_kill9_and_storm(void)
{
	REQUIRE_RV(fx_open(0));
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE,
	    .intensity = 2,
	    .period_ms = 60000,
	    .children = fx.cs,
	    .nchildren = 2,
	    .on_root_fail = st_root_fail,
	    .on_root_fail_arg = &fx.l};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, fx.sys, &sp));
	nact_aid iso = iso_id(fx.sys, sup);
	work(iso, 1, 1); /* the process is up once it answered */
	CHECK(NT_WAIT(atomic_load(&fx.c.n) == 1, NT_LONG_MS));
	for (int k = 1; k <= 2; k++) {
		long pid = nact_isolated_pid(fx.sys, iso);
		REQUIRE(pid > 0);
		CHECK(kill((pid_t)pid, SIGKILL) == 0);
		/* wait for the restart (a message sent while the process dies
		 * would be the one "being handled": a dead letter) */
		nact_child_info ci[2];
		CHECK(NT_WAIT(st_info(fx.sys, sup, ci, 2) == 2 && ci[1].restarts == (uint32_t)k,
		    NT_LONG_MS));
		work(iso, k + 1, k + 1);
		CHECK(NT_WAIT(atomic_load(&fx.c.n) == k + 1, NT_LONG_MS));
		long pid2 = nact_isolated_pid(fx.sys, iso);
		CHECK(pid2 > 0 && pid2 != pid);
		REQUIRE(st_info(fx.sys, sup, ci, 2) == 2);
		CHECK_EQ_INT(ci[1].restarts, k);
		CHECK_EQ_INT(ci[1].last_reason, NACT_EXIT_SIGNAL(SIGKILL));
		CHECK_EQ_U64(ci[1].aid.v, iso.v);
	}
	/* a third death within the window: the supervisor gives up, stops W,
	 * and releases the isolated id */
	long pid = nact_isolated_pid(fx.sys, iso);
	REQUIRE(pid > 0);
	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	CHECK(NT_WAIT(atomic_load(&fx.l.root_fail) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&fx.l.root_reason), NACT_EXIT_INTENSITY);
	CHECK(NT_WAIT(!nact_alive(fx.sys, sup), NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(fx.sys, iso), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&fx.l.live), 0);
	nact_system_close(fx.sys, 5000);
}

static void test_temporary_released(void)
{
	REQUIRE_RV(fx_open(2));
	fx.cs[1].restart = NACT_TEMPORARY;
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ONE, .children = fx.cs, .nchildren = 2};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, fx.sys, &sp));
	nact_aid iso = iso_id(fx.sys, sup);
	uint64_t stopped0 = nact_deadletters(fx.sys, NACT_DL_STOPPED);
	work(iso, 1, 5);
	/* 1 handled, 2 crashes it; it is not restarted and its id is freed:
	 * 3..5 become dead letters */
	CHECK(NT_WAIT(!nact_alive(fx.sys, iso), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&fx.c.n), 1);
	CHECK(NT_WAIT(nact_deadletters(fx.sys, NACT_DL_STOPPED) - stopped0 +
	            nact_deadletters(fx.sys, NACT_DL_DEAD) ==
	        3,
	    NT_LONG_MS));
	nact_child_info ci[2];
	REQUIRE(st_info(fx.sys, sup, ci, 2) == 2);
	CHECK(!ci[1].running);
	CHECK_EQ_INT(ci[1].restarts, 0);
	CHECK_EQ_INT(ci[1].last_reason, NACT_EXIT_SIGNAL(SIGSEGV));
	CHECK(ci[0].running);
	nact_system_close(fx.sys, 5000);
}

static void test_one_for_all_mixed(void)
{
	REQUIRE_RV(fx_open(2));
	nact_sup_spec sp = {.strategy = NACT_ONE_FOR_ALL, .children = fx.cs, .nchildren = 2};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, fx.sys, &sp));
	nact_aid iso = iso_id(fx.sys, sup);
	/* the isolated child crashes on 2: W is stopped and started again,
	 * the isolated child comes back on the same id and handles 3 */
	work(iso, 1, 3);
	CHECK(NT_WAIT(atomic_load(&fx.l.starts[0]) == 2, NT_LONG_MS));
	check_done(2, 2);
	CHECK_EQ_U64(iso_id(fx.sys, sup).v, iso.v);
	CHECK_EQ_INT(atomic_load(&fx.idef.starts), 1);
	/* W crashes: the isolated child is stopped (its id freed) and spawned
	 * afresh under a new id */
	CHECK(st_crash(fx.sys, &fx.l, 0, NACT_EINVAL, 3));
	CHECK(NT_WAIT(atomic_load(&fx.idef.starts) == 2, NT_LONG_MS));
	nact_aid iso2 = iso_id(fx.sys, sup);
	CHECK(iso2.v != iso.v && iso2.v != 0);
	CHECK(!nact_alive(fx.sys, iso));
	work(iso2, 3, 3);
	CHECK(NT_WAIT(atomic_load(&fx.c.n) == 3, NT_LONG_MS));
	CHECK_EQ_U64(atomic_load(&fx.c.sender), iso2.v);
	nact_child_info ci[2];
	REQUIRE(st_info(fx.sys, sup, ci, 2) == 2);
	CHECK_EQ_INT(ci[0].restarts, 2);
	CHECK_EQ_INT(ci[1].restarts, 2);
	nact_system_close(fx.sys, 5000);
}

NT_MAIN(NT_CASE(test_segv_restart_same_id), NT_CASE(test_kill9_and_storm),
    NT_CASE(test_temporary_released), NT_CASE(test_one_for_all_mixed))
