/*
 * tests/actors/test_mailbox_policies.c — bounded mailboxes and overflow.
 *
 * Contract checked (include/nactor/actor.h, nact_spawn_opts / nact_send):
 * - A bounded mailbox holds `capacity` queued messages (the one being
 *   handled is no longer queued).
 * - NACT_OVERFLOW_FAIL: a send to a full mailbox returns NACT_EFULL and the
 *   caller keeps the message; sends succeed again once it drains.
 * - NACT_OVERFLOW_BLOCK: from an external thread nact_send_wait waits for
 *   room, returns NACT_ETIMEDOUT after its timeout, and succeeds as soon as
 *   the receiver drains; nact_send never blocks (NACT_EFULL). From inside
 *   an actor nact_send_wait fails with NACT_EFULL at once instead of
 *   blocking.
 * - NACT_OVERFLOW_DROP_OLDEST: sends always succeed; the oldest queued
 *   messages are dropped and counted as dead letters NACT_DL_DROPPED; the
 *   newest are handled, in order.
 * - Control messages (nact_stop) get through a full bounded mailbox and are
 *   never dropped; the queued messages become NACT_DL_STOPPED dead letters.
 * - A bad overflow policy is refused with NACT_EINVAL.
 * - Under concurrent producers nothing is lost or duplicated: with BLOCK
 *   every message arrives, in per-sender order; with DROP_OLDEST handled +
 *   dropped == sent; with FAIL handled == accepted.
 *
 * To keep a mailbox full, the receiver's first handler blocks on a gate the
 * test opens later (tests/testutil.h nt_gate).
 */
#include <pthread.h>
#include <sched.h>

#include "testutil.h"

enum { T_BLOCK = 1, T_VAL, T_GO };

typedef struct recv_st {
	nt_gate *gate;
	atomic_int handled;
	atomic_int nseen;
	int64_t seen[64];
	atomic_int fini;
} recv_st;

static int receiver(nact_ctx *ctx, nact_msg *m)
{
	recv_st *s = nact_state(ctx);
	if (nact_msg_type(m) == T_BLOCK) {
		nt_gate_block(s->gate);
	} else {
		int k = atomic_load(&s->nseen);
		if (k < 64)
			s->seen[k] = nt_body_int(m, -1);
		atomic_store_explicit(&s->nseen, k + 1, memory_order_release);
	}
	atomic_fetch_add_explicit(&s->handled, 1, memory_order_release);
	return 0;
}

static void recv_fini(void *arg)
{
	recv_st *s = arg;
	atomic_fetch_add(&s->fini, 1);
}

/* Spawn a receiver with the given bound and block it inside a handler. */
static int spawn_blocked(nact_aid *id, nact_system *sys, recv_st *s, nt_gate *g, uint32_t cap,
    int overflow)
{
	nact_spawn_opts o = {.capacity = cap, .overflow = overflow};
	int rv;

	memset(s, 0, sizeof(*s));
	memset(g, 0, sizeof(*g));
	s->gate = g;
	if ((rv = nact_spawn(id, sys, receiver, s, recv_fini, &o)) != 0)
		return rv;
	nact_msg *m = nt_msg_int(sys, T_BLOCK, 0);
	if (m == NULL)
		return NACT_ENOMEM;
	if ((rv = nact_send(sys, *id, m)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	if (!NT_WAIT(atomic_load_explicit(&g->entered, memory_order_acquire), NT_LONG_MS))
		return NACT_ETIMEDOUT;
	return 0;
}

/* Open a system (2 workers) and spawn_blocked a receiver in it. On failure
 * nothing is left open: the gate is opened and the system closed. */
static int open_blocked(nact_system **sysp, nact_aid *id, recv_st *s, nt_gate *g, uint32_t cap,
    int overflow)
{
	int rv = nt_open(sysp, 2, NACT_CLOCK_MONOTONIC);
	if (rv == 0 && (rv = spawn_blocked(id, *sysp, s, g, cap, overflow)) != 0) {
		nt_gate_open(g);
		nact_system_close(*sysp, 5000);
		*sysp = NULL;
	}
	return rv;
}

static void test_fail_policy(void)
{
	nact_system *sys = NULL;
	recv_st s;
	nt_gate g;
	nact_aid id;
	int accepted = 0;

	REQUIRE_RV(open_blocked(&sys, &id, &s, &g, 4, NACT_OVERFLOW_FAIL));
	for (int i = 0; i < 100; i++) {
		nact_msg *m = nt_msg_int(sys, T_VAL, i);
		REQUIRE(m != NULL);
		int rv = nact_send(sys, id, m);
		if (rv != 0) {
			CHECK_ERR(rv, NACT_EFULL);
			/* The caller still owns the message: read then free it. */
			CHECK_EQ_INT(nt_body_int(m, -1), i);
			nact_msg_free(m);
			break;
		}
		accepted++;
	}
	CHECK_EQ_INT(accepted, 4);
	/* Still full; send_wait on a FAIL mailbox does not wait either. */
	nact_msg *m = nt_msg_int(sys, T_VAL, 99);
	REQUIRE(m != NULL);
	CHECK_ERR(nact_send(sys, id, m), NACT_EFULL);
	uint64_t t0 = nt_now_ms();
	CHECK_ERR(nact_send_wait(sys, id, m, 2000), NACT_EFULL);
	CHECK(nt_now_ms() - t0 < 1000);
	nact_msg_free(m);

	nt_gate_open(&g);
	CHECK(NT_WAIT(atomic_load(&s.handled) == 1 + accepted, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s.nseen), accepted);
	for (int i = 0; i < accepted && i < 64; i++)
		CHECK_EQ_INT(s.seen[i], i);
	/* Drained: sends work again. */
	CHECK_EQ_INT(nt_send_int(sys, id, T_VAL, 100), 0);
	CHECK(NT_WAIT(atomic_load(&s.handled) == 2 + accepted, NT_LONG_MS));
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&s.fini), 1);
}

typedef struct wait_arg {
	nact_system *sys;
	nact_aid to;
	atomic_int started;
	atomic_int done;
	atomic_int rv;
	atomic_long elapsed_ms;
} wait_arg;

static void *send_wait_thread(void *arg)
{
	wait_arg *w = arg;
	nact_msg *m = nt_msg_int(w->sys, T_VAL, 3);
	atomic_store(&w->started, 1);
	uint64_t t0 = nt_now_ms();
	int rv = m ? nact_send_wait(w->sys, w->to, m, 30000) : NACT_ENOMEM;
	atomic_store(&w->elapsed_ms, (long)(nt_now_ms() - t0));
	if (rv != 0)
		nact_msg_free(m);
	atomic_store(&w->rv, rv);
	atomic_store_explicit(&w->done, 1, memory_order_release);
	return NULL;
}

static void test_block_policy_external(void)
{
	nact_system *sys = NULL;
	recv_st s;
	nt_gate g;
	nact_aid id;

	REQUIRE_RV(open_blocked(&sys, &id, &s, &g, 2, NACT_OVERFLOW_BLOCK));
	CHECK_EQ_INT(nt_send_int(sys, id, T_VAL, 1), 0);
	CHECK_EQ_INT(nt_send_int(sys, id, T_VAL, 2), 0);

	/* Full: nact_send does not block. */
	nact_msg *m = nt_msg_int(sys, T_VAL, -1);
	REQUIRE(m != NULL);
	uint64_t t0 = nt_now_ms();
	CHECK_ERR(nact_send(sys, id, m), NACT_EFULL);
	CHECK(nt_now_ms() - t0 < 1000);
	/* send_wait waits its timeout, then gives up; the caller keeps m. */
	t0 = nt_now_ms();
	CHECK_ERR(nact_send_wait(sys, id, m, 60), NACT_ETIMEDOUT);
	uint64_t el = nt_now_ms() - t0;
	CHECK(el >= 55);
	CHECK(el < 10000);
	printf("send_wait timed out after %" PRIu64 " ms (asked 60)\n", el);
	nact_msg_free(m);

	/* A waiting sender is released when the receiver drains. */
	wait_arg w = {.sys = sys, .to = id};
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, send_wait_thread, &w) == 0);
	CHECK(NT_WAIT(atomic_load(&w.started), NT_LONG_MS));
	/* While the mailbox stays full it stays blocked. */
	CHECK(NT_STAYS_FALSE(atomic_load(&w.done), NT_QUIET_MS));
	nt_gate_open(&g);
	CHECK(NT_WAIT(atomic_load_explicit(&w.done, memory_order_acquire), NT_LONG_MS));
	pthread_join(th, NULL);
	CHECK_ERR(atomic_load(&w.rv), 0);
	CHECK(atomic_load(&w.elapsed_ms) < 25000);
	CHECK(NT_WAIT(atomic_load(&s.handled) == 4, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s.nseen), 3);
	CHECK_EQ_INT(s.seen[0], 1);
	CHECK_EQ_INT(s.seen[1], 2);
	CHECK_EQ_INT(s.seen[2], 3);
	nact_system_close(sys, 5000);
}

typedef struct sender_st {
	nact_aid to;
	atomic_int done;
	atomic_int rv_wait;
	atomic_int rv_send;
	atomic_long elapsed_ms;
} sender_st;

static int sender(nact_ctx *ctx, nact_msg *msg)
{
	sender_st *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_msg *m = nt_msg_int(sys, T_VAL, 7);
	if (m == NULL)
		return 0;
	uint64_t t0 = nt_now_ms();
	int rv = nact_send_wait(sys, s->to, m, 5000);
	atomic_store(&s->elapsed_ms, (long)(nt_now_ms() - t0));
	atomic_store(&s->rv_wait, rv);
	if (rv == 0) {
		m = nt_msg_int(sys, T_VAL, 8);
		if (m == NULL)
			return 0;
	}
	rv = nact_send(sys, s->to, m);
	atomic_store(&s->rv_send, rv);
	if (rv != 0)
		nact_msg_free(m);
	atomic_store_explicit(&s->done, 1, memory_order_release);
	return 0;
}

static void test_block_policy_from_actor(void)
{
	nact_system *sys = NULL;
	recv_st s;
	nt_gate g;
	nact_aid id, snd;
	sender_st ss = {0};

	REQUIRE_RV(open_blocked(&sys, &id, &s, &g, 1, NACT_OVERFLOW_BLOCK));
	CHECK_EQ_INT(nt_send_int(sys, id, T_VAL, 1), 0);
	ss.to = id;
	REQUIRE_RV(nact_spawn(&snd, sys, sender, &ss, NULL, NULL));
	nt_send_int(sys, snd, T_GO, 0);
	CHECK(NT_WAIT(atomic_load_explicit(&ss.done, memory_order_acquire), NT_LONG_MS));
	/* Refused at once, never blocks a worker. */
	CHECK_ERR(atomic_load(&ss.rv_wait), NACT_EFULL);
	CHECK_ERR(atomic_load(&ss.rv_send), NACT_EFULL);
	CHECK(atomic_load(&ss.elapsed_ms) < 1000);
	nt_gate_open(&g);
	CHECK(NT_WAIT(atomic_load(&s.handled) == 2, NT_LONG_MS));
	nact_system_close(sys, 5000);
}

static void test_drop_oldest(void)
{
	nact_system *sys = NULL;
	recv_st s;
	nt_gate g;
	nact_aid id;

	REQUIRE_RV(open_blocked(&sys, &id, &s, &g, 3, NACT_OVERFLOW_DROP_OLDEST));
	for (int i = 1; i <= 10; i++)
		CHECK_EQ_INT(nt_send_int(sys, id, T_VAL, i), 0);
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_DROPPED) == 7, NT_LONG_MS));
	CHECK_EQ_U64(nact_deadletters(sys, NACT_DL_DROPPED), 7);
	CHECK_EQ_U64(nact_deadletters(sys, -1), 7);
	nt_gate_open(&g);
	CHECK(NT_WAIT(atomic_load(&s.handled) == 4, NT_LONG_MS));
	CHECK(NT_STAYS_FALSE(atomic_load(&s.handled) > 4, NT_QUIET_MS));
	CHECK_EQ_INT(atomic_load(&s.nseen), 3);
	CHECK_EQ_INT(s.seen[0], 8);
	CHECK_EQ_INT(s.seen[1], 9);
	CHECK_EQ_INT(s.seen[2], 10);
	nact_system_close(sys, 5000);
}

static void test_control_through_full(void)
{
	nact_system *sys = NULL;
	recv_st s;
	nt_gate g;
	nact_aid id;

	/* FAIL policy, full: stop still gets in. */
	REQUIRE_RV(open_blocked(&sys, &id, &s, &g, 1, NACT_OVERFLOW_FAIL));
	CHECK_EQ_INT(nt_send_int(sys, id, T_VAL, 1), 0);
	nact_msg *m = nt_msg_int(sys, T_VAL, 2);
	REQUIRE(m != NULL);
	CHECK_ERR(nact_send(sys, id, m), NACT_EFULL);
	nact_msg_free(m);
	CHECK_RV(nact_stop(sys, id));
	nt_gate_open(&g);
	CHECK(NT_WAIT(atomic_load(&s.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(sys, id), NT_LONG_MS));
	/* Only the blocking handler ran; the queued message was not handled. */
	CHECK_EQ_INT(atomic_load(&s.handled), 1);
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_STOPPED) == 1, NT_LONG_MS));

	/* DROP_OLDEST, full: the stop is not what gets dropped. */
	recv_st s2;
	nt_gate g2;
	nact_aid id2;
	REQUIRE_RV(spawn_blocked(&id2, sys, &s2, &g2, 1, NACT_OVERFLOW_DROP_OLDEST));
	CHECK_EQ_INT(nt_send_int(sys, id2, T_VAL, 1), 0);
	CHECK_RV(nact_stop(sys, id2));
	CHECK_EQ_INT(nt_send_int(sys, id2, T_VAL, 2), 0);
	CHECK_EQ_INT(nt_send_int(sys, id2, T_VAL, 3), 0);
	nt_gate_open(&g2);
	CHECK(NT_WAIT(atomic_load(&s2.fini) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s2.handled), 1);
	/* Had the stop been dropped, the actor would have handled 3 and still
	 * be alive. Messages 1..3 all end as dead letters (dropped, stopped or
	 * dead, depending on when they met the stop): 3 beyond the first
	 * actor's one. */
	CHECK(NT_WAIT(nact_deadletters(sys, -1) == 4, NT_LONG_MS));
	CHECK_EQ_U64(nact_deadletters(sys, -1), 4);
	nact_system_close(sys, 5000);
}

static void test_bad_policy(void)
{
	nact_system *sys = NULL;
	nact_aid id;
	recv_st s = {0};

	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	nact_spawn_opts o = {.capacity = 4, .overflow = 99};
	CHECK_ERR(nact_spawn(&id, sys, receiver, &s, recv_fini, &o), NACT_EINVAL);
	CHECK_EQ_INT(atomic_load(&s.fini), 0);
	/* capacity 0 = unbounded: far more than any bound fits. */
	nact_spawn_opts u = {.capacity = 0, .overflow = NACT_OVERFLOW_FAIL};
	nt_gate g = {0};
	s.gate = &g;
	REQUIRE_RV(nact_spawn(&id, sys, receiver, &s, recv_fini, &u));
	int fails = 0;
	for (int i = 0; i < 5000; i++)
		if (nt_send_int(sys, id, T_VAL, i) != 0)
			fails++;
	CHECK_EQ_INT(fails, 0);
	CHECK(NT_WAIT(atomic_load(&s.handled) == 5000, NT_LONG_MS));
	nact_system_close(sys, 5000);
}

/* ---- concurrent producers ---- */

enum { NPROD = 3 };

typedef struct stress_recv {
	int64_t expect[NPROD]; /* receiver only */
	atomic_long handled;
	atomic_long order_errors;
} stress_recv;

static int stress_receiver(nact_ctx *ctx, nact_msg *m)
{
	stress_recv *r = nact_state(ctx);
	int64_t key = -1, seq = -1;
	if (nt_body_pair(m, &key, &seq) != 0 || key < 0 || key >= NPROD || seq < r->expect[key])
		atomic_fetch_add(&r->order_errors, 1);
	else
		r->expect[key] = seq + 1; /* gaps allowed (drops), never back */
	atomic_fetch_add_explicit(&r->handled, 1, memory_order_release);
	return 0;
}

typedef struct producer {
	nact_system *sys;
	nact_aid to;
	int key;
	long n;
	int use_wait;
	atomic_long accepted;
	atomic_long full;
	atomic_long other;
} producer;

static void *producer_fn(void *arg)
{
	producer *p = arg;
	for (long i = 0; i < p->n; i++) {
		/* Pace a little so the receiver gets CPU while we produce (two
		 * cores, three producers), and the policies really interleave. */
		if ((i & 15) == 0)
			sched_yield();
		nact_msg *m = nt_msg_pair(p->sys, T_VAL, p->key, i);
		if (m == NULL)
			break;
		int rv = p->use_wait ? nact_send_wait(p->sys, p->to, m, (int)nt_slow(NT_LONG_MS)) :
		                       nact_send(p->sys, p->to, m);
		if (rv == 0) {
			atomic_fetch_add(&p->accepted, 1);
			continue;
		}
		nact_msg_free(m);
		if (rv == NACT_EFULL)
			atomic_fetch_add(&p->full, 1);
		else
			atomic_fetch_add(&p->other, 1);
	}
	return NULL;
}

static void run_stress(int overflow, int use_wait)
{
	nact_system *sys = NULL;
	stress_recv *r = calloc(1, sizeof(*r));
	producer pr[NPROD];
	pthread_t th[NPROD];
	nact_aid id;
	nact_spawn_opts o = {.capacity = 8, .overflow = overflow};
	long n = nt_scaled(5000);

	REQUIRE(r != NULL);
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&id, sys, stress_receiver, r, free, &o));
	for (int k = 0; k < NPROD; k++) {
		memset(&pr[k], 0, sizeof(pr[k]));
		pr[k].sys = sys;
		pr[k].to = id;
		pr[k].key = k;
		pr[k].n = n;
		pr[k].use_wait = use_wait;
		REQUIRE(pthread_create(&th[k], NULL, producer_fn, &pr[k]) == 0);
	}
	long accepted = 0, full = 0, other = 0;
	for (int k = 0; k < NPROD; k++) {
		pthread_join(th[k], NULL);
		accepted += atomic_load(&pr[k].accepted);
		full += atomic_load(&pr[k].full);
		other += atomic_load(&pr[k].other);
	}
	CHECK_EQ_INT(other, 0);
	CHECK_EQ_INT(accepted + full, n * NPROD);
	long dropped = 0;
	if (overflow == NACT_OVERFLOW_DROP_OLDEST) {
		/* Every accepted message is handled or dropped, exactly once. */
		CHECK_EQ_INT(full, 0);
		CHECK(NT_WAIT(atomic_load(&r->handled) +
		            (long)nact_deadletters(sys, NACT_DL_DROPPED) ==
		        accepted,
		    NT_LONG_MS));
		dropped = (long)nact_deadletters(sys, NACT_DL_DROPPED);
	} else {
		CHECK(NT_WAIT(atomic_load(&r->handled) == accepted, NT_LONG_MS));
	}
	if (overflow == NACT_OVERFLOW_BLOCK)
		CHECK_EQ_INT(accepted, n * NPROD); /* waited, never lost */
	CHECK(NT_STAYS_FALSE(atomic_load(&r->handled) + dropped > accepted, 20));
	CHECK_EQ_INT(atomic_load(&r->order_errors), 0);
	printf("policy %d: sent %ld, accepted %ld, refused %ld, dropped %ld, "
	       "handled %ld\n",
	    overflow, n * NPROD, accepted, full, dropped, atomic_load(&r->handled));
	nact_system_close(sys, 5000);
}

static void test_stress_block(void)
{
	run_stress(NACT_OVERFLOW_BLOCK, 1);
}

static void test_stress_drop_oldest(void)
{
	run_stress(NACT_OVERFLOW_DROP_OLDEST, 0);
}

static void test_stress_fail(void)
{
	run_stress(NACT_OVERFLOW_FAIL, 0);
}

NT_MAIN(NT_CASE(test_fail_policy), NT_CASE(test_block_policy_external),
    NT_CASE(test_block_policy_from_actor), NT_CASE(test_drop_oldest),
    NT_CASE(test_control_through_full), NT_CASE(test_bad_policy), NT_CASE(test_stress_block),
    NT_CASE(test_stress_drop_oldest), NT_CASE(test_stress_fail))
