/*
 * tests/actors/test_timers.c — timers, the manual clock, receive timeouts.
 *
 * Contract checked (include/nactor/actor.h, "timers", "clock",
 * nact_receive_timeout):
 * - On NACT_CLOCK_MANUAL, nact_send_after fires only once
 *   nact_clock_advance moves time past its delay; advance fires every due
 *   timer, in deadline order, before it returns; nact_now reports the
 *   manual time.
 * - nact_timer_cancel before firing returns 0 and the message never
 *   arrives; after firing (or for a handle that never existed) it returns
 *   NACT_ENOENT.
 * - nact_receive_timeout(ctx, ms) delivers NACT_T_TIMEOUT once no message
 *   has arrived for ms, is pushed back by every message, and 0 disarms it.
 * - On the real clock, send_after delivers after (not before) its delay,
 *   and a receive timeout fires on its own.
 *
 * "Has it arrived yet?" is answered with a barrier, not a sleep: a
 * nact_call to the recording actor returns after it has handled everything
 * queued before the call, and the timers fired by nact_clock_advance are
 * queued before advance returns.
 */
#include "testutil.h"

enum { T_VAL = 1, T_PING, T_ARM, T_DISARM };

typedef struct rec_st {
	int64_t order[64];
	atomic_int n;        /* T_VAL received */
	atomic_int timeouts; /* NACT_T_TIMEOUT received */
	atomic_int arm_rv;
} rec_st;

static int recorder(nact_ctx *ctx, nact_msg *m)
{
	rec_st *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);

	switch (nact_msg_type(m)) {
	case T_VAL: {
		int k = atomic_load(&s->n);
		if (k < 64)
			s->order[k] = nt_body_int(m, -1);
		atomic_store_explicit(&s->n, k + 1, memory_order_release);
		break;
	}
	case NACT_T_TIMEOUT:
		atomic_fetch_add(&s->timeouts, 1);
		break;
	case T_ARM:
		atomic_store(&s->arm_rv, nact_receive_timeout(ctx, (int)nt_body_int(m, 0)));
		break;
	case T_DISARM:
		atomic_store(&s->arm_rv, nact_receive_timeout(ctx, 0));
		break;
	default:
		break;
	}
	if (nact_msg_flags(m) & NACT_MF_REQUEST) {
		nact_msg *rep = nt_msg_int(sys, T_PING, atomic_load(&s->n));
		if (rep != NULL && nact_reply(sys, m, rep) != 0)
			nact_msg_free(rep);
	}
	return 0;
}

/* Open a system (2 workers) on `clock` with a recorder over s in it. On
 * failure nothing is left open. */
static int open_recorder(nact_system **sysp, nact_aid *id, rec_st *s, int clock)
{
	int rv = nt_open(sysp, 2, clock);
	if (rv == 0 && (rv = nact_spawn(id, *sysp, recorder, s, NULL, NULL)) != 0) {
		nact_system_close(*sysp, 5000);
		*sysp = NULL;
	}
	return rv;
}

/* Round trip to the recorder: everything queued before has been handled
 * when this returns. Returns 0 or the call error. */
static int barrier(nact_system *sys, nact_aid to, uint32_t type, int64_t v)
{
	nact_msg *req = nt_msg_int(sys, type, v), *rep = NULL;
	if (req == NULL)
		return NACT_ENOMEM;
	int rv = nact_call(sys, to, req, (int)nt_slow(NT_LONG_MS), &rep);
	if (rv == 0)
		nact_msg_free(rep);
	else if (rv != NACT_ETIMEDOUT)
		nact_msg_free(req);
	if (rv != 0)
		nt_fail(__FILE__, __LINE__, "barrier call: %s", nact_strerror(rv));
	return rv;
}

#define MS (1000000ull)

static int send_after_int(nact_system *sys, nact_aid to, int64_t v, int delay_ms, nact_timer *tp)
{
	nact_msg *m = nt_msg_int(sys, T_VAL, v);
	if (m == NULL)
		return NACT_ENOMEM;
	int rv = nact_send_after(sys, to, m, delay_ms, tp);
	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

static void test_manual_order(void)
{
	nact_system *sys = NULL;
	rec_st s = {0};
	nact_aid id;

	REQUIRE_RV(open_recorder(&sys, &id, &s, NACT_CLOCK_MANUAL));
	CHECK_EQ_U64(nact_now(sys), 0);

	CHECK_RV(send_after_int(sys, id, 1, 30, NULL));
	CHECK_RV(send_after_int(sys, id, 2, 10, NULL));
	CHECK_RV(send_after_int(sys, id, 3, 20, NULL));

	CHECK_RV(nact_clock_advance(sys, 5 * MS));
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.n), 0);

	CHECK_RV(nact_clock_advance(sys, 5 * MS - 1)); /* 9.999999 ms */
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.n), 0);

	CHECK_RV(nact_clock_advance(sys, 5 * MS + 1)); /* 15 ms: "2" due */
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.n), 1);

	CHECK_RV(nact_clock_advance(sys, 100 * MS)); /* 115 ms: "3" then "1" */
	CHECK_EQ_U64(nact_now(sys), 115 * MS);
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.n), 3);
	CHECK_EQ_INT(s.order[0], 2);
	CHECK_EQ_INT(s.order[1], 3);
	CHECK_EQ_INT(s.order[2], 1);

	/* Many timers with shuffled delays fire sorted by deadline. */
	atomic_store(&s.n, 0);
	int delays[40];
	for (int i = 0; i < 40; i++)
		delays[i] = 1 + (i * 17) % 40; /* a permutation of 1..40 */
	for (int i = 0; i < 40; i++)
		CHECK_RV(send_after_int(sys, id, delays[i], delays[i], NULL));
	CHECK_RV(nact_clock_advance(sys, 50 * MS));
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.n), 40);
	int sorted = 1;
	for (int i = 1; i < 40; i++)
		if (s.order[i] < s.order[i - 1])
			sorted = 0;
	CHECK(sorted);
	nact_system_close(sys, 5000);
}

static void test_manual_cancel(void)
{
	nact_system *sys = NULL;
	rec_st s = {0};
	nact_aid id;
	nact_timer t1, t2, t3;

	REQUIRE_RV(open_recorder(&sys, &id, &s, NACT_CLOCK_MANUAL));

	CHECK_RV(send_after_int(sys, id, 1, 10, &t1));
	CHECK_RV(send_after_int(sys, id, 2, 20, &t2));
	CHECK_RV(send_after_int(sys, id, 3, 5, &t3));
	CHECK(t1.v != t2.v && t2.v != t3.v && t1.v != t3.v);

	CHECK_RV(nact_timer_cancel(sys, t1));               /* before it fires */
	CHECK_ERR(nact_timer_cancel(sys, t1), NACT_ENOENT); /* only once */
	CHECK_RV(nact_clock_advance(sys, 7 * MS));          /* "3" fires */
	CHECK_ERR(nact_timer_cancel(sys, t3), NACT_ENOENT); /* already fired */
	CHECK_RV(nact_clock_advance(sys, 30 * MS));         /* "2" fires, "1" never */
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.n), 2);
	CHECK_EQ_INT(s.order[0], 3);
	CHECK_EQ_INT(s.order[1], 2);
	CHECK_ERR(nact_timer_cancel(sys, t2), NACT_ENOENT);

	/* Handles that never existed. */
	CHECK_ERR(nact_timer_cancel(sys, (nact_timer){0}), NACT_ENOENT);
	CHECK_ERR(nact_timer_cancel(sys, (nact_timer){0x7fffffffffffull}), NACT_ENOENT);

	/* A pending timer at close is freed with its message (ASan). */
	CHECK_RV(send_after_int(sys, id, 9, 1000, NULL));
	nact_system_close(sys, 5000);
}

static void test_manual_receive_timeout(void)
{
	nact_system *sys = NULL;
	rec_st s = {0};
	nact_aid id;

	REQUIRE_RV(open_recorder(&sys, &id, &s, NACT_CLOCK_MANUAL));

	barrier(sys, id, T_ARM, 100); /* 100 ms without a message */
	CHECK_RV(atomic_load(&s.arm_rv));

	/* Messages keep arriving every 50 ms: no timeout. */
	for (int i = 0; i < 10; i++) {
		CHECK_RV(nact_clock_advance(sys, 50 * MS));
		barrier(sys, id, T_PING, 0);
	}
	CHECK_EQ_INT(atomic_load(&s.timeouts), 0);

	/* Silence for 150 ms: one timeout. */
	CHECK_RV(nact_clock_advance(sys, 150 * MS));
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.timeouts), 1);

	/* Disarmed: silence changes nothing. */
	barrier(sys, id, T_DISARM, 0);
	CHECK_RV(atomic_load(&s.arm_rv));
	CHECK_RV(nact_clock_advance(sys, 1000 * MS));
	barrier(sys, id, T_PING, 0);
	CHECK_EQ_INT(atomic_load(&s.timeouts), 1);
	nact_system_close(sys, 5000);
}

static void test_real_clock(void)
{
	nact_system *sys = NULL;
	rec_st s = {0};
	nact_aid id;

	REQUIRE_RV(open_recorder(&sys, &id, &s, NACT_CLOCK_MONOTONIC));
	CHECK_ERR(nact_clock_advance(sys, MS), NACT_ESTATE);

	uint64_t t0 = nt_now_ns();
	uint64_t n0 = nact_now(sys);
	CHECK_RV(send_after_int(sys, id, 42, 20, NULL));
	CHECK(NT_WAIT(atomic_load(&s.n) == 1, NT_LONG_MS));
	uint64_t el = nt_now_ns() - t0;
	printf("send_after(20 ms) arrived after %.2f ms\n", (double)el / 1e6);
	CHECK(el >= 20 * MS - MS / 2); /* never early (allow rounding) */
	CHECK(nact_now(sys) - n0 >= 20 * MS - MS / 2);
	CHECK_EQ_INT(s.order[0], 42);

	/* A cancelled real timer never arrives. */
	nact_timer t;
	CHECK_RV(send_after_int(sys, id, 43, 30, &t));
	CHECK_RV(nact_timer_cancel(sys, t));
	CHECK(NT_STAYS_FALSE(atomic_load(&s.n) > 1, 100));

	/* A real receive timeout fires by itself. */
	barrier(sys, id, T_ARM, 30);
	CHECK(NT_WAIT(atomic_load(&s.timeouts) >= 1, NT_LONG_MS));
	barrier(sys, id, T_DISARM, 0);
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_manual_order), NT_CASE(test_manual_cancel),
    NT_CASE(test_manual_receive_timeout), NT_CASE(test_real_clock))
