/*
 * tests/actors/test_deadletters.c — messages that cannot be delivered.
 *
 * Contract checked (include/nactor/actor.h, "dead letters"; mailbox.h
 * nact_msg_set_deadline):
 * - A send to an id no actor ever had is accepted (0) and counted as
 *   NACT_DL_UNKNOWN; to an actor that has ended, NACT_DL_DEAD.
 * - Messages still queued when an actor is stopped become NACT_DL_STOPPED.
 * - A drop-oldest mailbox reports what it drops as NACT_DL_DROPPED.
 * - A message whose deadline has passed (already at send, or while it
 *   waited in the mailbox) is never handed to the handler: it becomes
 *   NACT_DL_EXPIRED. A future deadline does not stop delivery.
 * - nact_deadletters(sys, -1) is the sum over all reasons.
 * - A subscriber gets one NACT_T_DEADLETTER message per dead letter whose
 *   msgpack body is the map {"reason": str, "target": uint, "sender": uint,
 *   "type": uint, "corr": uint, "body": bin} describing it; after
 *   nact_deadletter_unsubscribe it gets no more.
 */
#include "testutil.h"

enum { T_BLOCK = 1, T_VAL = 77, T_GO, T_LATER };

/* ---- the subscriber ---- */

#define MAXREC 32

typedef struct dl_rec {
	char reason[16];
	uint64_t target, sender, type, corr;
	uint8_t body[32];
	size_t body_len;
	unsigned keys; /* bit per documented key seen */
	int parse_err;
} dl_rec;

typedef struct collector {
	dl_rec rec[MAXREC]; /* written by the collector, read after count */
	atomic_int count;
	atomic_int other; /* messages that were not dead-letter reports */
} collector;

static int read_uint_any(nact_reader *r, uint64_t *v)
{
	return nact_read_uint(r, v);
}

static int collect(nact_ctx *ctx, nact_msg *m)
{
	collector *c = nact_state(ctx);
	if (nact_msg_type(m) != NACT_T_DEADLETTER) {
		atomic_fetch_add(&c->other, 1);
		return 0;
	}
	int k = atomic_load(&c->count);
	dl_rec tmp, *d = k < MAXREC ? &c->rec[k] : &tmp;
	nact_reader r;
	uint32_t n = 0;
	memset(d, 0, sizeof(*d));
	int rv = nact_reader_init(&r, m, NULL);
	if (rv == 0) {
		rv = nact_read_map(&r, &n);
		for (uint32_t i = 0; rv == 0 && i < n; i++) {
			const char *key;
			size_t kl;
			if ((rv = nact_read_str(&r, &key, &kl)) != 0)
				break;
#define KEY(s) (kl == strlen(s) && memcmp(key, s, kl) == 0)
			if (KEY("reason")) {
				const char *v;
				size_t vl;
				rv = nact_read_str(&r, &v, &vl);
				if (rv == 0 && vl < sizeof(d->reason))
					memcpy(d->reason, v, vl);
				d->keys |= 1;
			} else if (KEY("target")) {
				rv = read_uint_any(&r, &d->target);
				d->keys |= 2;
			} else if (KEY("sender")) {
				rv = read_uint_any(&r, &d->sender);
				d->keys |= 4;
			} else if (KEY("type")) {
				rv = read_uint_any(&r, &d->type);
				d->keys |= 8;
			} else if (KEY("corr")) {
				rv = read_uint_any(&r, &d->corr);
				d->keys |= 16;
			} else if (KEY("body")) {
				const void *b;
				size_t bl;
				rv = nact_read_bin(&r, &b, &bl);
				if (rv == 0) {
					d->body_len = bl;
					memcpy(d->body, b,
					    bl < sizeof(d->body) ? bl : sizeof(d->body));
				}
				d->keys |= 32;
			} else {
				msgpack_object o;
				rv = nact_read_object(&r, &o);
			}
#undef KEY
		}
		nact_reader_fini(&r);
	}
	d->parse_err = rv;
	atomic_store_explicit(&c->count, k + 1, memory_order_release);
	return 0;
}

static void check_rec(const dl_rec *d, const char *reason, uint64_t target, uint64_t sender,
    uint64_t type, int line)
{
	if (d->parse_err != 0)
		nt_fail(__FILE__, line, "report body: %s", nact_strerror(d->parse_err));
	if (d->keys != 63)
		nt_fail(__FILE__, line, "report keys seen 0x%x, want 0x3f", d->keys);
	if (strcmp(d->reason, reason) != 0)
		nt_fail(__FILE__, line, "reason \"%s\", want \"%s\"", d->reason, reason);
	if (d->target != target)
		nt_fail(__FILE__, line, "target %" PRIx64 ", want %" PRIx64, d->target, target);
	if (d->sender != sender)
		nt_fail(__FILE__, line, "sender %" PRIx64 ", want %" PRIx64, d->sender, sender);
	if (d->type != type)
		nt_fail(__FILE__, line, "type %" PRIu64 ", want %" PRIu64, d->type, type);
}
#define CHECK_REC(d, reason, target, sender, type) \
	check_rec(d, reason, target, sender, type, __LINE__)

/* ---- a plain receiver that can be blocked ---- */

typedef struct recv_st {
	nt_gate gate;
	atomic_int handled;
	atomic_int by_type[128];
	atomic_int fini;
	nact_aid peer; /* T_GO: send a T_VAL here */
} recv_st;

static int receiver(nact_ctx *ctx, nact_msg *m)
{
	recv_st *s = nact_state(ctx);
	uint32_t t = nact_msg_type(m);
	if (t == T_BLOCK)
		nt_gate_block(&s->gate);
	if (t == T_GO) {
		nact_msg *out = nt_msg_int(nact_sys(ctx), T_VAL, 5);
		if (out != NULL && nact_send(nact_sys(ctx), s->peer, out) != 0)
			nact_msg_free(out);
	}
	if (t < 128)
		atomic_fetch_add(&s->by_type[t], 1);
	atomic_fetch_add(&s->handled, 1);
	return 0;
}

static void recv_fini(void *arg)
{
	recv_st *s = arg;
	atomic_fetch_add(&s->fini, 1);
}

static nact_system *open_with_collector(collector *c, nact_aid *cid, int clock)
{
	nact_system *sys = NULL;
	int rv = nt_open(&sys, 2, clock);
	if (rv != 0) {
		nt_fail(__FILE__, __LINE__, "open: %s", nact_strerror(rv));
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	if ((rv = nact_spawn(cid, sys, collect, c, NULL, NULL)) != 0 ||
	    (rv = nact_deadletter_subscribe(sys, *cid)) != 0) {
		nt_fail(__FILE__, __LINE__, "collector: %s", nact_strerror(rv));
		nact_system_close(sys, 1000);
		return NULL;
	}
	return sys;
}

static uint64_t sum_reasons(nact_system *sys)
{
	uint64_t t = 0;
	for (int i = 0; i < NACT_DL_NREASONS; i++)
		t += nact_deadletters(sys, i);
	return t;
}

static const nact_aid never = {0x0000FFFFFFFF0001ull};

static void test_unknown(void)
{
	collector c;
	nact_aid cid;
	nact_system *sys = open_with_collector(&c, &cid, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);

	CHECK_EQ_U64(nact_deadletters(sys, -1), 0);
	nact_msg *m = nt_msg_int(sys, T_VAL, 123);
	REQUIRE(m != NULL);
	CHECK_RV(nact_send(sys, never, m)); /* accepted: not the sender's error */
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_UNKNOWN) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&c.count) == 1, NT_LONG_MS));
	if (atomic_load_explicit(&c.count, memory_order_acquire) >= 1) {
		CHECK_REC(&c.rec[0], "unknown", never.v, 0, T_VAL);
		CHECK_EQ_U64(c.rec[0].corr, 0);
		CHECK_EQ_INT(c.rec[0].body_len, 1);
		CHECK_EQ_INT(c.rec[0].body[0], 0x7b); /* msgpack 123 */
	}

	/* From an actor: the report names it as the sender. */
	recv_st *s = calloc(1, sizeof(*s));
	REQUIRE(s != NULL);
	s->peer = never;
	nact_aid a;
	REQUIRE_RV(nact_spawn(&a, sys, receiver, s, free, NULL));
	nt_send_int(sys, a, T_GO, 0);
	CHECK(NT_WAIT(atomic_load(&c.count) == 2, NT_LONG_MS));
	if (atomic_load_explicit(&c.count, memory_order_acquire) >= 2)
		CHECK_REC(&c.rec[1], "unknown", never.v, a.v, T_VAL);
	CHECK_EQ_U64(nact_deadletters(sys, NACT_DL_UNKNOWN), 2);
	CHECK_EQ_U64(nact_deadletters(sys, -1), sum_reasons(sys));
	CHECK_EQ_INT(atomic_load(&c.other), 0);
	nact_system_close(sys, 5000);
}

static void test_dead(void)
{
	collector c;
	nact_aid cid, v;
	recv_st s = {0};
	nact_system *sys = open_with_collector(&c, &cid, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);

	REQUIRE_RV(nact_spawn(&v, sys, receiver, &s, recv_fini, NULL));
	CHECK_RV(nact_stop(sys, v));
	CHECK(NT_WAIT(atomic_load(&s.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(sys, v), NT_LONG_MS));
	CHECK_EQ_INT(nt_send_int(sys, v, T_VAL, 1), 0);
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_DEAD) == 1, NT_LONG_MS));
	CHECK_EQ_U64(nact_deadletters(sys, NACT_DL_UNKNOWN), 0);
	CHECK(NT_WAIT(atomic_load(&c.count) == 1, NT_LONG_MS));
	if (atomic_load_explicit(&c.count, memory_order_acquire) >= 1)
		CHECK_REC(&c.rec[0], "dead", v.v, 0, T_VAL);
	CHECK_EQ_INT(atomic_load(&s.handled), 0);
	nact_system_close(sys, 5000);
}

static void test_stopped(void)
{
	collector c;
	nact_aid cid, v;
	recv_st s = {0};
	nact_system *sys = open_with_collector(&c, &cid, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);

	REQUIRE_RV(nact_spawn(&v, sys, receiver, &s, recv_fini, NULL));
	nt_send_int(sys, v, T_BLOCK, 0);
	CHECK(NT_WAIT(atomic_load(&s.gate.entered), NT_LONG_MS));
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(nt_send_int(sys, v, T_VAL, i), 0);
	CHECK_RV(nact_stop(sys, v));
	nt_gate_open(&s.gate);
	CHECK(NT_WAIT(atomic_load(&s.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_STOPPED) == 5, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s.handled), 1);
	CHECK_EQ_INT(atomic_load(&s.by_type[T_VAL]), 0);
	CHECK(NT_WAIT(atomic_load(&c.count) == 5, NT_LONG_MS));
	int n = atomic_load_explicit(&c.count, memory_order_acquire);
	for (int i = 0; i < n && i < MAXREC; i++)
		CHECK_REC(&c.rec[i], "stopped", v.v, 0, T_VAL);
	CHECK_EQ_U64(nact_deadletters(sys, -1), 5);
	nact_system_close(sys, 5000);
}

static void test_dropped(void)
{
	collector c;
	nact_aid cid, v;
	recv_st s = {0};
	nact_spawn_opts o = {.capacity = 2, .overflow = NACT_OVERFLOW_DROP_OLDEST};
	nact_system *sys = open_with_collector(&c, &cid, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);

	REQUIRE_RV(nact_spawn(&v, sys, receiver, &s, recv_fini, &o));
	nt_send_int(sys, v, T_BLOCK, 0);
	CHECK(NT_WAIT(atomic_load(&s.gate.entered), NT_LONG_MS));
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(nt_send_int(sys, v, T_VAL, i), 0);
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_DROPPED) == 3, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&c.count) == 3, NT_LONG_MS));
	int n = atomic_load_explicit(&c.count, memory_order_acquire);
	for (int i = 0; i < n && i < MAXREC; i++) {
		CHECK_REC(&c.rec[i], "dropped", v.v, 0, T_VAL);
		/* The oldest go first: bodies 0, 1, 2. */
		CHECK_EQ_INT(c.rec[i].body_len, 1);
		CHECK_EQ_INT(c.rec[i].body[0], i);
	}
	nt_gate_open(&s.gate);
	CHECK(NT_WAIT(atomic_load(&s.by_type[T_VAL]) == 2, NT_LONG_MS));
	nact_system_close(sys, 5000);
}

/* The end of both expired-deadline tests: v was sent an expired T_VAL and a
 * T_LATER with a deadline still ahead. The T_LATER is handled; the T_VAL
 * never is, and is counted and reported (once) as expired instead. */
static void check_expired_val(nact_system *sys, recv_st *s, collector *c, nact_aid v)
{
	CHECK(NT_WAIT(atomic_load(&s->by_type[T_LATER]) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_EXPIRED) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s->by_type[T_VAL]), 0);
	CHECK(NT_WAIT(atomic_load(&c->count) == 1, NT_LONG_MS));
	if (atomic_load_explicit(&c->count, memory_order_acquire) >= 1)
		CHECK_REC(&c->rec[0], "expired", v.v, 0, T_VAL);
}

static void test_expired_at_send(void)
{
	collector c;
	nact_aid cid, v;
	recv_st s = {0};
	nact_system *sys = open_with_collector(&c, &cid, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);

	REQUIRE_RV(nact_spawn(&v, sys, receiver, &s, recv_fini, NULL));
	uint64_t now = nact_now(sys);
	REQUIRE(now > 1);
	nact_msg *m = nt_msg_int(sys, T_VAL, 1);
	REQUIRE(m != NULL);
	nact_msg_set_deadline(m, now - 1);
	CHECK_RV(nact_send(sys, v, m));
	/* A deadline an hour away is no obstacle. */
	m = nt_msg_int(sys, T_LATER, 2);
	REQUIRE(m != NULL);
	nact_msg_set_deadline(m, now + 3600ull * 1000000000ull);
	CHECK_RV(nact_send(sys, v, m));
	check_expired_val(sys, &s, &c, v);
	nact_system_close(sys, 5000);
}

static void test_expired_in_mailbox(void)
{
	/* Manual clock: the deadline passes while the message waits behind a
	 * blocked handler. */
	collector c;
	nact_aid cid, v;
	recv_st s = {0};
	nact_system *sys = open_with_collector(&c, &cid, NACT_CLOCK_MANUAL);
	REQUIRE(sys != NULL);

	CHECK_RV(nact_clock_advance(sys, 1000));
	REQUIRE_RV(nact_spawn(&v, sys, receiver, &s, recv_fini, NULL));
	nt_send_int(sys, v, T_BLOCK, 0);
	CHECK(NT_WAIT(atomic_load(&s.gate.entered), NT_LONG_MS));
	nact_msg *m = nt_msg_int(sys, T_VAL, 1);
	REQUIRE(m != NULL);
	nact_msg_set_deadline(m, nact_now(sys) + 500);
	CHECK_RV(nact_send(sys, v, m));
	m = nt_msg_int(sys, T_LATER, 2);
	REQUIRE(m != NULL);
	nact_msg_set_deadline(m, nact_now(sys) + 1000000);
	CHECK_RV(nact_send(sys, v, m));
	CHECK_RV(nact_clock_advance(sys, 10000)); /* first passes, second not */
	nt_gate_open(&s.gate);
	check_expired_val(sys, &s, &c, v);
	nact_system_close(sys, 5000);
}

static void test_unsubscribe(void)
{
	collector c;
	nact_aid cid;
	nact_system *sys = open_with_collector(&c, &cid, NACT_CLOCK_MONOTONIC);
	REQUIRE(sys != NULL);

	nt_send_int(sys, never, T_VAL, 1);
	CHECK(NT_WAIT(atomic_load(&c.count) == 1, NT_LONG_MS));
	CHECK_RV(nact_deadletter_unsubscribe(sys, cid));
	nt_send_int(sys, never, T_VAL, 2);
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_UNKNOWN) == 2, NT_LONG_MS));
	/* Counted, but no longer reported. */
	CHECK(NT_STAYS_FALSE(atomic_load(&c.count) != 1, NT_QUIET_MS));

	/* Two subscribers both get reports. */
	collector c2;
	memset(&c2, 0, sizeof(c2));
	nact_aid cid2;
	REQUIRE_RV(nact_spawn(&cid2, sys, collect, &c2, NULL, NULL));
	CHECK_RV(nact_deadletter_subscribe(sys, cid));
	CHECK_RV(nact_deadletter_subscribe(sys, cid2));
	nt_send_int(sys, never, T_VAL, 3);
	CHECK(NT_WAIT(atomic_load(&c.count) == 2, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&c2.count) == 1, NT_LONG_MS));
	CHECK_EQ_U64(nact_deadletters(sys, NACT_DL_UNKNOWN), 3);

	/* A subscriber that ends is not an error: letters are still counted. */
	CHECK_RV(nact_stop(sys, cid2));
	CHECK(NT_WAIT(!nact_alive(sys, cid2), NT_LONG_MS));
	nt_send_int(sys, never, T_VAL, 4);
	CHECK(NT_WAIT(nact_deadletters(sys, NACT_DL_UNKNOWN) == 4, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&c.count) >= 3, NT_LONG_MS));
	/* The lost report is not itself reported. */
	CHECK(NT_STAYS_FALSE(atomic_load(&c.count) > 3, NT_QUIET_MS));
	CHECK_EQ_U64(nact_deadletters(sys, -1), sum_reasons(sys));
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_unknown), NT_CASE(test_dead), NT_CASE(test_stopped), NT_CASE(test_dropped),
    NT_CASE(test_expired_at_send), NT_CASE(test_expired_in_mailbox), NT_CASE(test_unsubscribe))
