/*
 * tests/actors/test_spawn_send.c — spawning, sending and ending actors.
 *
 * Contract checked (include/nactor/actor.h):
 * - nact_spawn runs a behaviour over a state; every message sent is handled
 *   once; inside the handler nact_self, nact_sys and nact_state return this
 *   actor's id, system and state; the message header carries the target and
 *   the sender (0 from a non-actor thread, the running actor from a
 *   handler).
 * - nact_become replaces the behaviour for later messages.
 * - nact_exit and a nonzero handler return end the actor: its destructor
 *   runs once, nact_alive turns 0, later messages become dead letters and
 *   are never handled.
 * - nact_stop ends a live actor (destructor runs) and gives NACT_ENOENT for
 *   one that is not alive.
 * - nact_forward hands the message being handled on without copying it.
 * - A handler that takes the nng_msg (nact_msg_take) keeps it beyond its
 *   return; the runtime frees only the emptied envelope.
 * - Messages from one sender to one receiver arrive in send order, with
 *   many senders (external threads and actors) at once.
 * - 100k actors spawned and stopped: exactly 100k destructor calls and
 *   nact_system_stats().live back to 0 (ASan checks nothing leaks).
 * - Bad arguments: NULL behaviour (caller keeps the state), NULL message.
 */
#include <pthread.h>

#include "testutil.h"

enum { T_INT = 1, T_EXIT, T_FAIL, T_FWD, T_PING, T_GO, T_CONT, T_SEQ, T_SPAWN, T_STOPSELF };

typedef struct probe {
	atomic_int handled;
	atomic_llong sum;
	atomic_int fini;
	atomic_int a_calls, b_calls;
	atomic_uint_least64_t self_v;
	atomic_uint_least64_t sender_v;
	atomic_uint_least64_t target_v;
	atomic_uintptr_t sys_seen;
	atomic_uintptr_t state_seen;
	atomic_int bad;
} probe;

typedef struct st {
	probe *p;
	nact_aid peer; /* for forwarding / sending on */
} st;

static void st_fini(void *arg)
{
	st *s = arg;
	atomic_fetch_add(&s->p->fini, 1);
	free(s);
}

static st *st_new(probe *p)
{
	st *s = calloc(1, sizeof(*s));
	if (s == NULL)
		nt_fail(__FILE__, __LINE__, "calloc");
	else
		s->p = p;
	return s;
}

/* Spawn fn over a fresh st on probe p, destroyed by st_fini. *sp (if sp is
 * not NULL) gets the state, for identity checks only: the actor owns it. */
static int spawn_probed(nact_aid *id, nact_system *sys, nact_behaviour fn, probe *p, st **sp)
{
	st *s = st_new(p);
	if (s == NULL)
		return NACT_ENOMEM;
	int rv = nact_spawn(id, sys, fn, s, st_fini, NULL);
	if (rv != 0) {
		free(s); /* refused: still ours */
		return rv;
	}
	if (sp != NULL)
		*sp = s;
	return 0;
}

static int counter(nact_ctx *ctx, nact_msg *m)
{
	st *s = nact_state(ctx);
	probe *p = s->p;

	atomic_store(&p->self_v, nact_self(ctx).v);
	atomic_store(&p->sender_v, nact_msg_sender(m).v);
	atomic_store(&p->target_v, nact_msg_target(m).v);
	atomic_store(&p->sys_seen, (uintptr_t)nact_sys(ctx));
	atomic_store(&p->state_seen, (uintptr_t)s);
	switch (nact_msg_type(m)) {
	case T_INT:
		atomic_fetch_add(&p->sum, nt_body_int(m, 0));
		break;
	case T_EXIT:
		nact_exit(ctx, 0);
		break;
	case T_FAIL:
		atomic_fetch_add(&p->handled, 1);
		return NACT_EINVAL;
	case T_PING: {
		/* Send on to the peer: the sender field must be us. */
		nact_msg *out = nt_msg_int(nact_sys(ctx), T_INT, 1);
		if (out == NULL) {
			atomic_fetch_add(&p->bad, 1);
			break;
		}
		if (nact_send(nact_sys(ctx), s->peer, out) != 0) {
			nact_msg_free(out);
			atomic_fetch_add(&p->bad, 1);
		}
		break;
	}
	case T_FWD:
		if (s->peer.v == 0) /* end of the chain: keep the value */
			atomic_fetch_add(&p->sum, nt_body_int(m, 0));
		else if (nact_forward(ctx, s->peer, m) != 0)
			atomic_fetch_add(&p->bad, 1);
		break;
	case T_SPAWN: {
		/* Spawn a child sharing our probe and send it a value. */
		nact_aid cid;
		if (spawn_probed(&cid, nact_sys(ctx), counter, p, NULL) != 0) {
			atomic_fetch_add(&p->bad, 1);
			break;
		}
		s->peer = cid;
		if (nt_send_int(nact_sys(ctx), cid, T_INT, 100) != 0)
			atomic_fetch_add(&p->bad, 1);
		break;
	}
	case T_STOPSELF:
		/* Our own stop: this handler still finishes. */
		if (nact_stop(nact_sys(ctx), nact_self(ctx)) != 0)
			atomic_fetch_add(&p->bad, 1);
		atomic_fetch_add(&p->sum, 1000);
		break;
	default:
		break;
	}
	atomic_fetch_add(&p->handled, 1);
	return 0;
}

static void test_spawn_send_state(void)
{
	nact_system *sys = NULL;
	probe p = {0};
	nact_aid id = NACT_AID_NONE;
	nact_stats stats;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	st *s = NULL;
	REQUIRE_RV(spawn_probed(&id, sys, counter, &p, &s));
	CHECK(id.v != 0);
	CHECK_EQ_INT(nact_alive(sys, id), 1);
	nact_system_stats(sys, &stats);
	CHECK_EQ_U64(stats.spawned, 1);
	CHECK_EQ_U64(stats.live, 1);

	for (int i = 1; i <= 100; i++)
		nt_send_int(sys, id, T_INT, i);
	CHECK(NT_WAIT(atomic_load(&p.handled) == 100, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&p.sum), 5050);
	CHECK_EQ_U64(atomic_load(&p.self_v), id.v);
	CHECK_EQ_U64(atomic_load(&p.target_v), id.v);
	CHECK_EQ_U64(atomic_load(&p.sender_v), 0); /* from a non-actor thread */
	CHECK(atomic_load(&p.sys_seen) == (uintptr_t)sys);
	CHECK(atomic_load(&p.state_seen) == (uintptr_t)s);
	CHECK_EQ_INT(atomic_load(&p.fini), 0);

	CHECK_RV(nact_stop(sys, id));
	CHECK(NT_WAIT(atomic_load(&p.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(sys, id), NT_LONG_MS));
	CHECK_ERR(nact_stop(sys, id), NACT_ENOENT);
	CHECK(NT_WAIT((nact_system_stats(sys, &stats), stats.live == 0), NT_LONG_MS));
	CHECK_EQ_U64(stats.spawned, 1);

	/* A second actor gets another id. */
	nact_aid id2;
	REQUIRE_RV(spawn_probed(&id2, sys, counter, &p, NULL));
	CHECK(id2.v != 0 && id2.v != id.v);
	nact_system_close(sys, 5000);
	/* close runs the destructor of the live one. */
	CHECK_EQ_INT(atomic_load(&p.fini), 2);
}

static int behaviour_b(nact_ctx *ctx, nact_msg *m);

static int behaviour_a(nact_ctx *ctx, nact_msg *m)
{
	st *s = nact_state(ctx);
	atomic_fetch_add(&s->p->a_calls, 1);
	nact_become(ctx, behaviour_b);
	atomic_fetch_add(&s->p->handled, 1);
	return 0;
}

static int behaviour_b(nact_ctx *ctx, nact_msg *m)
{
	st *s = nact_state(ctx);
	atomic_fetch_add(&s->p->b_calls, 1);
	if (nact_msg_type(m) == T_GO) /* switch back once */
		nact_become(ctx, behaviour_a);
	atomic_fetch_add(&s->p->handled, 1);
	return 0;
}

static void test_become(void)
{
	nact_system *sys = NULL;
	probe p = {0};
	nact_aid id;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(spawn_probed(&id, sys, behaviour_a, &p, NULL));
	/* a, b, b, b(GO -> a), a, b */
	nt_send_int(sys, id, T_INT, 0);
	nt_send_int(sys, id, T_INT, 0);
	nt_send_int(sys, id, T_INT, 0);
	nt_send_int(sys, id, T_GO, 0);
	nt_send_int(sys, id, T_INT, 0);
	nt_send_int(sys, id, T_INT, 0);
	CHECK(NT_WAIT(atomic_load(&p.handled) == 6, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&p.a_calls), 2);
	CHECK_EQ_INT(atomic_load(&p.b_calls), 4);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&p.fini), 1);
}

static void test_exit(void)
{
	nact_system *sys = NULL;
	probe p1 = {0}, p2 = {0};
	nact_aid a, b;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(spawn_probed(&a, sys, counter, &p1, NULL));
	REQUIRE_RV(spawn_probed(&b, sys, counter, &p2, NULL));

	/* nact_exit(ctx, 0) */
	nt_send_int(sys, a, T_EXIT, 0);
	CHECK(NT_WAIT(atomic_load(&p1.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(sys, a), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&p1.handled), 1);

	/* A nonzero return ends the actor too. */
	nt_send_int(sys, b, T_FAIL, 0);
	CHECK(NT_WAIT(atomic_load(&p2.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(sys, b), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&p2.handled), 1);

	/* Later messages are accepted and become dead letters, never handled. */
	uint64_t dl0 = nact_deadletters(sys, -1);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(nt_send_int(sys, a, T_INT, i), 0);
		CHECK_EQ_INT(nt_send_int(sys, b, T_INT, i), 0);
	}
	CHECK(NT_WAIT(nact_deadletters(sys, -1) == dl0 + 6, NT_LONG_MS));
	CHECK_EQ_U64(nact_deadletters(sys, NACT_DL_DEAD), 6);
	CHECK_EQ_INT(atomic_load(&p1.handled), 1);
	CHECK_EQ_INT(atomic_load(&p2.handled), 1);
	CHECK_ERR(nact_stop(sys, a), NACT_ENOENT);
	CHECK_ERR(nact_stop(sys, b), NACT_ENOENT);
	nact_stats stats;
	CHECK(NT_WAIT((nact_system_stats(sys, &stats), stats.live == 0), NT_LONG_MS));
	nact_system_close(sys, 5000);
	/* Destructors ran exactly once each. */
	CHECK_EQ_INT(atomic_load(&p1.fini), 1);
	CHECK_EQ_INT(atomic_load(&p2.fini), 1);
}

static void test_sender_and_forward(void)
{
	nact_system *sys = NULL;
	probe pa = {0}, pb = {0}, pc = {0};
	nact_aid a, b, c;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	st *sa = st_new(&pa), *sb = st_new(&pb), *sc = st_new(&pc);
	REQUIRE(sa && sb && sc);
	REQUIRE_RV(nact_spawn(&c, sys, counter, sc, st_fini, NULL));
	sb->peer = c;
	REQUIRE_RV(nact_spawn(&b, sys, counter, sb, st_fini, NULL));
	sa->peer = b;
	REQUIRE_RV(nact_spawn(&a, sys, counter, sa, st_fini, NULL));

	/* a sends to b from its handler: b sees a as the sender. */
	nt_send_int(sys, a, T_PING, 0);
	CHECK(NT_WAIT(atomic_load(&pb.handled) == 1, NT_LONG_MS));
	CHECK_EQ_U64(atomic_load(&pb.sender_v), a.v);
	CHECK_EQ_U64(atomic_load(&pb.target_v), b.v);

	/* b forwards a T_FWD message to c without copying: c gets the body. */
	nt_send_int(sys, b, T_FWD, 0);
	CHECK(NT_WAIT(atomic_load(&pc.handled) == 1, NT_LONG_MS));
	CHECK_EQ_U64(atomic_load(&pc.target_v), c.v);
	/* Forward then a value: c sums what it got through b. */
	nact_msg *m = nt_msg_int(sys, T_INT, 41);
	REQUIRE(m != NULL);
	nact_msg_set_type(m, T_FWD);
	CHECK_EQ_INT(nact_msg_type(m), T_FWD);
	CHECK_RV(nact_send(sys, b, m));
	CHECK(NT_WAIT(atomic_load(&pc.handled) == 2, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&pc.sum), 41);
	CHECK_EQ_INT(atomic_load(&pb.sum), 1); /* the T_INT 1 from a */
	CHECK_EQ_INT(atomic_load(&pa.bad) + atomic_load(&pb.bad), 0);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&pa.fini) + atomic_load(&pb.fini) + atomic_load(&pc.fini), 3);
}

static void test_spawn_and_stop_from_handler(void)
{
	nact_system *sys = NULL;
	probe p = {0};
	nact_aid a;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(spawn_probed(&a, sys, counter, &p, NULL));
	/* a spawns a child and sends it 100: both handled on the probe. */
	nt_send_int(sys, a, T_SPAWN, 0);
	CHECK(NT_WAIT(atomic_load(&p.handled) == 2, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&p.sum), 100);
	nact_stats stats;
	nact_system_stats(sys, &stats);
	CHECK_EQ_U64(stats.live, 2);
	CHECK_EQ_U64(stats.spawned, 2);

	/* a stops itself: the handler completes, then a ends; its child
	 * lives on. */
	nt_send_int(sys, a, T_STOPSELF, 0);
	CHECK(NT_WAIT(atomic_load(&p.fini) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&p.sum), 1100);
	CHECK(NT_WAIT(!nact_alive(sys, a), NT_LONG_MS));
	CHECK(NT_WAIT((nact_system_stats(sys, &stats), stats.live == 1), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&p.bad), 0);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&p.fini), 2);
}

typedef struct keeper {
	nng_msg *kept; /* the handler's, then main's after `got` */
	atomic_int got;
} keeper;

static int keeper_fn(nact_ctx *ctx, nact_msg *m)
{
	keeper *k = nact_state(ctx);
	if (k->kept == NULL)
		k->kept = nact_msg_take(m);
	atomic_store_explicit(&k->got, 1, memory_order_release);
	return 0;
}

static void test_take_in_handler(void)
{
	nact_system *sys = NULL;
	keeper k = {0};
	nact_aid id;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&id, sys, keeper_fn, &k, NULL, NULL));
	nt_send_int(sys, id, T_INT, 4242);
	CHECK(NT_WAIT(atomic_load_explicit(&k.got, memory_order_acquire), NT_LONG_MS));
	REQUIRE(k.kept != NULL);
	/* Still valid after the handler returned: header + body bytes. */
	CHECK_RV(nact_hdr_check(nng_msg_body(k.kept), nng_msg_len(k.kept)));
	nact_hdr h;
	CHECK_RV(nact_hdr_decode(&h, nng_msg_body(k.kept), nng_msg_len(k.kept)));
	CHECK_EQ_U64(h.target, id.v);
	CHECK_EQ_INT(h.type, T_INT);
	nact_msg *m = NULL;
	int rv = nact_msg_wrap(&m, sys, k.kept);
	CHECK_RV(rv);
	if (rv == 0) {
		CHECK_EQ_INT(nt_body_int(m, -1), 4242);
		nact_msg_free(m);
	} else {
		nng_msg_free(k.kept);
	}
	nact_system_close(sys, 5000);
}

/* ---- FIFO per sender/receiver pair ---- */

enum { NTHREADS = 4, NACTORS = 4, MAXKEYS = NTHREADS + NACTORS };

typedef struct fifo_recv {
	int64_t expect[MAXKEYS]; /* receiver thread only */
	atomic_long total;
	atomic_long errors;
} fifo_recv;

static int fifo_receiver(nact_ctx *ctx, nact_msg *m)
{
	fifo_recv *r = nact_state(ctx);
	int64_t key = -1, seq = -1;

	if (nt_body_pair(m, &key, &seq) != 0 || key < 0 || key >= MAXKEYS) {
		atomic_fetch_add(&r->errors, 1);
	} else if (seq != r->expect[key]) {
		if (atomic_fetch_add(&r->errors, 1) < 5)
			fprintf(stderr,
			    "  key %" PRId64 ": got %" PRId64 ", expected %" PRId64 "\n", key, seq,
			    r->expect[key]);
		r->expect[key] = seq + 1;
	} else {
		r->expect[key]++;
	}
	atomic_fetch_add_explicit(&r->total, 1, memory_order_release);
	return 0;
}

typedef struct fifo_sender {
	nact_aid to;
	int64_t key, next, n;
	atomic_long *send_errors;
} fifo_sender;

static int fifo_sender_fn(nact_ctx *ctx, nact_msg *m)
{
	fifo_sender *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);

	/* 64 per turn, then continue through our own mailbox so the senders
	 * interleave with each other and with the external threads. */
	for (int k = 0; k < 64 && s->next < s->n; k++, s->next++) {
		nact_msg *out = nt_msg_pair(sys, T_SEQ, s->key, s->next);
		if (out == NULL || nact_send(sys, s->to, out) != 0) {
			nact_msg_free(out);
			atomic_fetch_add(s->send_errors, 1);
		}
	}
	if (s->next < s->n) {
		nact_msg *cont = NULL;
		if (nact_msg_alloc(&cont, sys, T_CONT) != 0 ||
		    nact_send(sys, nact_self(ctx), cont) != 0) {
			nact_msg_free(cont);
			atomic_fetch_add(s->send_errors, 1);
		}
	}
	return 0;
}

typedef struct fifo_thread {
	nact_system *sys;
	nact_aid to;
	int64_t key, n;
	atomic_long *send_errors;
} fifo_thread;

static void *fifo_thread_fn(void *arg)
{
	fifo_thread *t = arg;
	for (int64_t i = 0; i < t->n; i++) {
		nact_msg *out = nt_msg_pair(t->sys, T_SEQ, t->key, i);
		if (out == NULL || nact_send(t->sys, t->to, out) != 0) {
			nact_msg_free(out);
			atomic_fetch_add(t->send_errors, 1);
		}
	}
	return NULL;
}

static void test_fifo_many_senders(void)
{
	nact_system *sys = NULL;
	nact_aid recv, snd[NACTORS];
	fifo_recv *r = calloc(1, sizeof(*r));
	atomic_long send_errors = 0;
	int64_t n = nt_scaled(20000);
	pthread_t th[NTHREADS];
	fifo_thread targ[NTHREADS];

	REQUIRE(r != NULL);
	REQUIRE_RV(nt_open(&sys, 3, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&recv, sys, fifo_receiver, r, free, NULL));
	for (int j = 0; j < NACTORS; j++) {
		fifo_sender *s = calloc(1, sizeof(*s));
		REQUIRE(s != NULL);
		s->to = recv;
		s->key = NTHREADS + j;
		s->n = n;
		s->send_errors = &send_errors;
		REQUIRE_RV(nact_spawn(&snd[j], sys, fifo_sender_fn, s, free, NULL));
	}
	for (int j = 0; j < NACTORS; j++)
		nt_send_int(sys, snd[j], T_GO, 0);
	for (int t = 0; t < NTHREADS; t++) {
		targ[t] = (fifo_thread){sys, recv, t, n, &send_errors};
		REQUIRE(pthread_create(&th[t], NULL, fifo_thread_fn, &targ[t]) == 0);
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);

	long want = (long)n * MAXKEYS;
	CHECK(NT_WAIT(atomic_load(&r->total) == want, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&r->total), want);
	CHECK_EQ_INT(atomic_load(&r->errors), 0);
	CHECK_EQ_INT(atomic_load(&send_errors), 0);
	nact_system_close(sys, 5000);
}

/* ---- many actors ---- */

static atomic_long many_fini, many_handled;

static void many_fini_fn(void *arg)
{
	free(arg);
	atomic_fetch_add(&many_fini, 1);
}

static int many_fn(nact_ctx *ctx, nact_msg *m)
{
	atomic_fetch_add(&many_handled, 1);
	return 0;
}

static void test_many_actors(void)
{
	nact_system *sys = NULL;
	long n = nt_scaled(100000);
	nact_aid *ids = calloc((size_t)n, sizeof(*ids));
	nact_stats stats;
	long spawn_err = 0, send_err = 0, stop_err = 0;

	REQUIRE(ids != NULL);
	atomic_store(&many_fini, 0);
	atomic_store(&many_handled, 0);
	REQUIRE_RV(nt_open(&sys, 0, NACT_CLOCK_MONOTONIC));
	uint64_t t0 = nt_now_ms();
	for (long i = 0; i < n; i++) {
		void *state = malloc(16);
		if (state == NULL ||
		    nact_spawn(&ids[i], sys, many_fn, state, many_fini_fn, NULL) != 0) {
			free(state);
			ids[i] = NACT_AID_NONE;
			spawn_err++;
		}
	}
	CHECK_EQ_INT(spawn_err, 0);
	nact_system_stats(sys, &stats);
	CHECK_EQ_U64(stats.spawned, (uint64_t)n);
	CHECK_EQ_U64(stats.live, (uint64_t)n);
	for (long i = 0; i < n; i++) {
		nact_msg *m = NULL;
		if (nact_msg_alloc(&m, sys, T_INT) != 0 || nact_send(sys, ids[i], m) != 0) {
			nact_msg_free(m);
			send_err++;
		}
	}
	CHECK_EQ_INT(send_err, 0);
	CHECK(NT_WAIT(atomic_load(&many_handled) == n, NT_LONG_MS));
	for (long i = 0; i < n; i++)
		if (nact_stop(sys, ids[i]) != 0)
			stop_err++;
	CHECK_EQ_INT(stop_err, 0);
	CHECK(NT_WAIT(atomic_load(&many_fini) == n, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&many_fini), n);
	CHECK(NT_WAIT((nact_system_stats(sys, &stats), stats.live == 0), NT_LONG_MS));
	CHECK_EQ_U64(stats.live, 0);
	CHECK_EQ_U64(stats.spawned, (uint64_t)n);
	printf("%ld actors spawned, messaged and stopped in %" PRIu64 " ms\n", n, nt_now_ms() - t0);
	nact_system_close(sys, 5000);
	/* No destructor ran twice. */
	CHECK_EQ_INT(atomic_load(&many_fini), n);
	free(ids);
}

static void test_bad_args(void)
{
	nact_system *sys = NULL;
	probe p = {0};
	nact_aid id = NACT_AID_NONE;

	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	st *s = st_new(&p);
	REQUIRE(s != NULL);
	/* No behaviour: refused, the caller still owns the state. */
	CHECK_ERR(nact_spawn(&id, sys, NULL, s, st_fini, NULL), NACT_EINVAL);
	CHECK_EQ_INT(atomic_load(&p.fini), 0);
	/* A NULL state is fine. */
	nact_aid id2;
	CHECK_RV(nact_spawn(&id2, sys, many_fn, NULL, NULL, NULL));
	CHECK_ERR(nact_send(sys, id2, NULL), NACT_EINVAL);
	CHECK_EQ_INT(nact_alive(sys, NACT_AID_NONE), 0);
	CHECK_ERR(nact_stop(sys, (nact_aid){0x0000FFFFFFFF0000ull}), NACT_ENOENT);
	CHECK_EQ_INT(nact_alive(sys, (nact_aid){0x0000FFFFFFFF0000ull}), 0);
	nact_system_close(sys, 5000);
	st_fini(s);
}

NT_MAIN(NT_CASE(test_spawn_send_state), NT_CASE(test_become), NT_CASE(test_exit),
    NT_CASE(test_sender_and_forward), NT_CASE(test_take_in_handler),
    NT_CASE(test_spawn_and_stop_from_handler), NT_CASE(test_fifo_many_senders),
    NT_CASE(test_many_actors), NT_CASE(test_bad_args))
