/*
 * tests/actors/test_links.c — monitors, links, trapping exits, kill, exit
 * reasons and handler deadlines (include/nactor/supervisor.h).
 *
 * Contract checked:
 * - a monitor gets exactly one NACT_T_DOWN with the target's id, reason and
 *   text, and corr = the monitor reference; monitoring a gone actor gives
 *   DOWN noproc at once; after demonitor no DOWN comes;
 * - a link propagates an abnormal exit (same reason) to a non-trapping
 *   actor; a normal exit does not; a trapping actor gets NACT_T_EXIT
 *   instead and stays alive; unlink removes the link both ways; linking to
 *   a gone actor acts as an exit with noproc;
 * - nact_stop on a trapping actor arrives as NACT_T_EXIT "shutdown";
 *   nact_kill ends it anyway with "killed";
 * - a handler past its handler deadline ends the actor with "deadline".
 * All waits are on conditions (DOWN messages recorded by a watcher).
 */
#include "testutil.h"

enum {
	T_MONITOR = 1, /* body: target id -> monitor it, remember the ref */
	T_DEMONITOR,   /* demonitor the remembered ref */
	T_LINK,        /* body: id -> link */
	T_UNLINK,      /* body: id -> unlink */
	T_TRAP,        /* trap exits */
	T_EXIT,        /* body: reason -> nact_exit_msg(reason, "bye") */
	T_SLEEP,       /* body: ms -> sleep in the handler */
	T_PING,        /* count it */
	T_GATE         /* block on the probe's gate */
};

#define MAXEV 64

typedef struct probe {
	atomic_int ndown;            /* DOWN messages seen */
	atomic_int nexit;            /* EXIT messages seen */
	nact_exit_info down[MAXEV];  /* written before ndown is bumped */
	nact_exit_info exits[MAXEV]; /* written before nexit is bumped */
	atomic_int fini;             /* state destructor ran */
	atomic_int pings;
	_Atomic uint64_t ref; /* last monitor ref */
	nt_gate gate;
	char order[MAXEV + 1]; /* 'D' per DOWN, 'E' per EXIT, in handling order */
	atomic_int norder;
} probe;

static void note(probe *p, char c)
{
	int k = atomic_load(&p->norder);
	if (k < MAXEV) {
		p->order[k] = c;
		atomic_store(&p->norder, k + 1);
	}
}

static void probe_fini(void *arg)
{
	probe *p = arg;
	atomic_fetch_add(&p->fini, 1);
}

static int probe_fn(nact_ctx *ctx, nact_msg *m)
{
	probe *p = nact_state(ctx);
	int64_t v = nact_msg_type(m) < NACT_T_SYSTEM ? nt_body_int(m, 0) : 0;
	uint64_t ref;
	switch (nact_msg_type(m)) {
	case NACT_T_DOWN: {
		int k = atomic_load(&p->ndown);
		note(p, 'D');
		if (k < MAXEV && nact_exit_info_read(m, &p->down[k]) == 0)
			atomic_store(&p->ndown, k + 1);
		return 0;
	}
	case NACT_T_EXIT: {
		int k = atomic_load(&p->nexit);
		note(p, 'E');
		if (k < MAXEV && nact_exit_info_read(m, &p->exits[k]) == 0)
			atomic_store(&p->nexit, k + 1);
		return 0;
	}
	case T_MONITOR:
		if (nact_monitor(ctx, (nact_aid){(uint64_t)v}, &ref) == 0)
			atomic_store(&p->ref, ref);
		return 0;
	case T_DEMONITOR:
		return nact_demonitor(ctx, atomic_load(&p->ref));
	case T_LINK:
		return nact_link(ctx, (nact_aid){(uint64_t)v});
	case T_UNLINK:
		return nact_unlink(ctx, (nact_aid){(uint64_t)v});
	case T_TRAP:
		nact_trap_exit(ctx, 1);
		return 0;
	case T_EXIT:
		nact_exit_msg(ctx, (int)v, "bye");
		return 0;
	case T_SLEEP:
		nng_msleep((nng_duration)v);
		return 0;
	case T_PING:
		atomic_fetch_add(&p->pings, 1);
		return 0;
	case T_GATE:
		nt_gate_block(&p->gate);
		return 0;
	default:
		return 0;
	}
}

static nact_aid spawn_probe(nact_system *sys, probe *p, uint32_t deadline_ms)
{
	nact_aid id = NACT_AID_NONE;
	nact_spawn_opts o = {0};
	o.handler_deadline_ms = deadline_ms;
	CHECK_RV(nact_spawn(&id, sys, probe_fn, p, probe_fini, deadline_ms ? &o : NULL));
	return id;
}

/* Ping id and wait until it has handled `want` pings in all: by then it
 * has handled everything sent to it before the ping too. */
static void ping(nact_system *sys, nact_aid id, probe *p, int want)
{
	CHECK_RV(nt_send_int(sys, id, T_PING, 0));
	CHECK(NT_WAIT(atomic_load(&p->pings) == want, NT_LONG_MS));
}

/* Watcher w monitors target; wait until the monitor is in place (a ping
 * sent after it is handled after it). */
static void monitor(nact_system *sys, nact_aid w, probe *pw, nact_aid target)
{
	int before = atomic_load(&pw->pings);
	CHECK_RV(nt_send_int(sys, w, T_MONITOR, (int64_t)target.v));
	ping(sys, w, pw, before + 1);
}

static void test_monitor_down(void)
{
	nact_system *sys;
	probe pw = {0}, pt = {0};
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid w = spawn_probe(sys, &pw, 0), t = spawn_probe(sys, &pt, 0);
	monitor(sys, w, &pw, t);
	CHECK_RV(nt_send_int(sys, t, T_EXIT, 42));
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_U64(pw.down[0].id.v, t.v);
	CHECK_EQ_INT(pw.down[0].reason, 42);
	CHECK_STR(pw.down[0].text, "bye");
	CHECK_EQ_U64(pw.down[0].ref, atomic_load(&pw.ref));
	CHECK_EQ_INT(atomic_load(&pt.fini), 1);
	/* exactly one */
	CHECK(NT_STAYS_FALSE(atomic_load(&pw.ndown) > 1, NT_QUIET_MS));
	/* monitoring a gone actor: DOWN noproc at once */
	monitor(sys, w, &pw, t);
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 2, NT_LONG_MS));
	CHECK_EQ_INT(pw.down[1].reason, NACT_EXIT_NOPROC);
	CHECK_STR(pw.down[1].text, "noproc");
	nact_system_close(sys, 5000);
}

static void test_demonitor(void)
{
	nact_system *sys;
	probe pw = {0}, pt = {0}, p2 = {0};
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid w = spawn_probe(sys, &pw, 0), t = spawn_probe(sys, &pt, 0);
	nact_aid w2 = spawn_probe(sys, &p2, 0);
	monitor(sys, w, &pw, t);
	monitor(sys, w2, &p2, t); /* a second watcher proves the exit happened */
	CHECK_RV(nt_send_int(sys, w, T_DEMONITOR, 0));
	ping(sys, w, &pw, 2);
	CHECK_RV(nt_send_int(sys, t, T_EXIT, NACT_EXIT_NORMAL));
	CHECK(NT_WAIT(atomic_load(&p2.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_INT(p2.down[0].reason, NACT_EXIT_NORMAL);
	CHECK(NT_STAYS_FALSE(atomic_load(&pw.ndown) > 0, NT_QUIET_MS));
	nact_system_close(sys, 5000);
}

static void test_link_propagates(void)
{
	nact_system *sys;
	probe pa = {0}, pb = {0}, pw = {0};
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid a = spawn_probe(sys, &pa, 0), b = spawn_probe(sys, &pb, 0);
	nact_aid w = spawn_probe(sys, &pw, 0);
	monitor(sys, w, &pw, a);
	CHECK_RV(nt_send_int(sys, a, T_LINK, (int64_t)b.v));
	ping(sys, a, &pa, 1);
	CHECK_RV(nt_send_int(sys, b, T_EXIT, NACT_EINVAL));
	/* a dies with b's reason */
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_U64(pw.down[0].id.v, a.v);
	CHECK_EQ_INT(pw.down[0].reason, NACT_EINVAL);
	CHECK_EQ_INT(atomic_load(&pa.fini), 1);
	CHECK(!nact_alive(sys, a) && !nact_alive(sys, b));
	nact_system_close(sys, 5000);
}

static void test_link_normal_and_unlink(void)
{
	nact_system *sys;
	probe pa = {0}, pb = {0}, pc = {0}, pw = {0};
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid a = spawn_probe(sys, &pa, 0), b = spawn_probe(sys, &pb, 0);
	nact_aid c = spawn_probe(sys, &pc, 0), w = spawn_probe(sys, &pw, 0);
	/* normal exit of a linked actor: a survives */
	CHECK_RV(nt_send_int(sys, a, T_LINK, (int64_t)b.v));
	monitor(sys, w, &pw, b);
	CHECK_RV(nt_send_int(sys, b, T_EXIT, NACT_EXIT_NORMAL));
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 1, NT_LONG_MS));
	ping(sys, a, &pa, 1);
	CHECK(nact_alive(sys, a));
	/* unlink: c's abnormal exit does not reach a */
	CHECK_RV(nt_send_int(sys, a, T_LINK, (int64_t)c.v));
	CHECK_RV(nt_send_int(sys, a, T_UNLINK, (int64_t)c.v));
	monitor(sys, w, &pw, c);
	CHECK_RV(nt_send_int(sys, c, T_EXIT, NACT_ETIMEDOUT));
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 2, NT_LONG_MS));
	ping(sys, a, &pa, 2);
	CHECK(nact_alive(sys, a));
	CHECK_EQ_INT(atomic_load(&pa.fini), 0);
	nact_system_close(sys, 5000);
}

static void test_trap_exit(void)
{
	nact_system *sys;
	probe pa = {0}, pb = {0}, pw = {0};
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid a = spawn_probe(sys, &pa, 0), b = spawn_probe(sys, &pb, 0);
	nact_aid w = spawn_probe(sys, &pw, 0);
	CHECK_RV(nt_send_int(sys, a, T_TRAP, 0));
	CHECK_RV(nt_send_int(sys, a, T_LINK, (int64_t)b.v));
	ping(sys, a, &pa, 1);
	CHECK_RV(nt_send_int(sys, b, T_EXIT, 7));
	CHECK(NT_WAIT(atomic_load(&pa.nexit) == 1, NT_LONG_MS));
	CHECK_EQ_U64(pa.exits[0].id.v, b.v);
	CHECK_EQ_INT(pa.exits[0].reason, 7);
	CHECK_STR(pa.exits[0].text, "bye");
	CHECK(nact_alive(sys, a));
	/* a stop is trapped too: it arrives as EXIT shutdown */
	CHECK_RV(nact_stop(sys, a));
	CHECK(NT_WAIT(atomic_load(&pa.nexit) == 2, NT_LONG_MS));
	CHECK_EQ_INT(pa.exits[1].reason, NACT_EXIT_SHUTDOWN);
	CHECK(nact_alive(sys, a));
	/* kill is not trappable */
	monitor(sys, w, &pw, a);
	CHECK_RV(nact_kill(sys, a));
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_INT(pw.down[0].reason, NACT_EXIT_KILLED);
	CHECK_EQ_INT(atomic_load(&pa.fini), 1);
	CHECK_ERR(nact_kill(sys, a), NACT_ENOENT);
	nact_system_close(sys, 5000);
}

static void test_link_to_gone(void)
{
	nact_system *sys;
	probe pa = {0}, pb = {0}, pw = {0};
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid a = spawn_probe(sys, &pa, 0), b = spawn_probe(sys, &pb, 0);
	nact_aid w = spawn_probe(sys, &pw, 0);
	monitor(sys, w, &pw, b);
	CHECK_RV(nact_stop(sys, b));
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_INT(pw.down[0].reason, NACT_EXIT_SHUTDOWN);
	monitor(sys, w, &pw, a);
	CHECK_RV(nt_send_int(sys, a, T_LINK, (int64_t)b.v));
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 2, NT_LONG_MS));
	CHECK_EQ_INT(pw.down[1].reason, NACT_EXIT_NOPROC);
	/* nact_exit_actor with a reason, on a live actor */
	probe pc = {0};
	nact_aid c = spawn_probe(sys, &pc, 0);
	monitor(sys, w, &pw, c);
	CHECK_RV(nact_exit_actor(sys, c, 99));
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 3, NT_LONG_MS));
	CHECK_EQ_INT(pw.down[2].reason, 99);
	nact_system_close(sys, 5000);
}

static void test_handler_deadline(void)
{
	nact_system *sys;
	probe pa = {0}, pw = {0};
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	nact_aid a = spawn_probe(sys, &pa, 20), w = spawn_probe(sys, &pw, 0);
	monitor(sys, w, &pw, a);
	CHECK_RV(nt_send_int(sys, a, T_SLEEP, 1)); /* within the deadline */
	ping(sys, a, &pa, 1);
	CHECK(nact_alive(sys, a));
	CHECK_RV(nt_send_int(sys, a, T_SLEEP, 60)); /* past it */
	CHECK(NT_WAIT(atomic_load(&pw.ndown) == 1, NT_LONG_MS));
	CHECK_EQ_INT(pw.down[0].reason, NACT_EXIT_DEADLINE);
	nact_system_close(sys, 5000);
}

static void test_bad_args(void)
{
	nact_exit_info ei;
	nact_system *sys;
	nact_msg *m;
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_msg_alloc(&m, sys, 5));
	CHECK_ERR(nact_exit_info_read(m, &ei), NACT_EINVAL);
	nact_msg_set_type(m, NACT_T_DOWN); /* empty body: not a map */
	CHECK(nact_exit_info_read(m, &ei) != 0);
	nact_msg_free(m);
	CHECK_ERR(nact_kill(sys, (nact_aid){12345}), NACT_ENOENT);
	CHECK_ERR(nact_exit_actor(sys, (nact_aid){12345}, 1), NACT_ENOENT);
	nact_system_close(sys, 5000);
}

/* A trapping actor handles a stop (as EXIT "shutdown") in its place among
 * its control messages: a DOWN queued after the stop comes after it. */
static void test_trapped_stop_in_order(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	static probe pa, pb, pc;
	memset(&pa, 0, sizeof(pa));
	memset(&pb, 0, sizeof(pb));
	memset(&pc, 0, sizeof(pc));
	nact_aid a = spawn_probe(sys, &pa, 0), b = spawn_probe(sys, &pb, 0),
	         c = spawn_probe(sys, &pc, 0);
	CHECK_RV(nt_send_int(sys, a, T_TRAP, 0));
	monitor(sys, a, &pa, b); /* a first: its DOWN is sent before c's */
	monitor(sys, c, &pc, b);
	CHECK_RV(nt_send_int(sys, a, T_GATE, 0));
	CHECK(NT_WAIT(atomic_load(&pa.gate.entered), NT_LONG_MS));
	CHECK_RV(nact_stop(sys, a)); /* queued first on a's control lane */
	CHECK_RV(nact_stop(sys, b)); /* then b's DOWN */
	CHECK(NT_WAIT(atomic_load(&pc.ndown) == 1, NT_LONG_MS));
	nt_gate_open(&pa.gate);
	CHECK(NT_WAIT(atomic_load(&pa.norder) == 2, NT_LONG_MS));
	pa.order[2] = '\0';
	CHECK_STR(pa.order, "ED");
	CHECK_EQ_INT(pa.exits[0].reason, NACT_EXIT_SHUTDOWN);
	CHECK(nact_alive(sys, a)); /* trapping: it decides */
	CHECK_RV(nact_kill(sys, a));
	CHECK_RV(nact_stop(sys, c));
	nact_system_close(sys, 2000);
}

NT_MAIN(NT_CASE(test_trapped_stop_in_order), NT_CASE(test_monitor_down), NT_CASE(test_demonitor),
    NT_CASE(test_link_propagates), NT_CASE(test_link_normal_and_unlink), NT_CASE(test_trap_exit),
    NT_CASE(test_link_to_gone), NT_CASE(test_handler_deadline), NT_CASE(test_bad_args))
