/*
 * examples/graph — a small actor graph, the program behind `make demo`.
 *
 *   timer ─TICK─► source ─NUM n─► squarer ─SQ n*n─► "summer" ◄─GET─ main
 *
 * source   counts 1..N, one number per tick (nact_send_after to itself),
 *          then sends END and exits
 * squarer  squares each number and sends it to the actor registered under
 *          the name "summer" (nact_whereis); on END it forwards END and asks
 *          summer for the total itself (nact_request from inside an actor)
 * summer   adds the squares; on END it switches behaviour (nact_become)
 *
 * main asks summer for the total with nact_call, sends a message to the
 * exited source to show a dead letter (nact_deadletters), and exits 0 only
 * if the total is 1² + ... + N² and the dead letter was counted. Every body
 * is one msgpack integer, written with nact_pack_* and read with nact_reader.
 */
#include <stdio.h>
#include <stdlib.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep */

#define N 10 /* numbers the source produces */

enum { T_TICK = 1, T_NUM, T_SQ, T_END, T_GET, T_TOTAL };

struct source {
	int next;    /* next number to send */
	nact_aid to; /* the squarer */
};

struct summer {
	int64_t sum; /* squares added so far */
	int count;   /* how many */
};

static void check(const char *what, int rv)
{
	if (rv != 0) {
		fprintf(stderr, "demo: %s: %s\n", what, nact_strerror(rv));
		exit(1);
	}
}

/* A new message of `type` whose body is the msgpack integer v. (Out of
 * memory ends this demo; a real program would return the error.) */
static nact_msg *int_msg(nact_system *sys, uint32_t type, int64_t v)
{
	nact_msg *m;
	nact_pack pk;

	check("nact_msg_alloc", nact_msg_alloc(&m, sys, type));
	nact_pack_init(&pk, m);
	nact_pack_int(&pk, v);
	check("nact_pack_int", nact_pack_error(&pk));
	return m;
}

/* Send it. A failed send leaves the message with us, so free it then. */
static int send_int(nact_system *sys, nact_aid to, uint32_t type, int64_t v)
{
	nact_msg *m = int_msg(sys, type, v);
	int rv = nact_send(sys, to, m);

	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

/* The integer in m's body. Strings and bins would point into m (no copy). */
static int read_int(const nact_msg *m, int64_t *v)
{
	nact_reader r;
	int rv;

	if ((rv = nact_reader_init(&r, m, NULL)) != 0)
		return rv;
	rv = nact_read_int(&r, v);
	nact_reader_fini(&r);
	return rv;
}

/* source: on each tick send the next number and re-arm the timer. A
 * nonzero return would end the actor with that error as its reason. */
static int source(nact_ctx *ctx, nact_msg *msg)
{
	struct source *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_msg *tick;
	int rv;

	if (s->next > N) {
		printf("source:  sent %d numbers; END, then exit\n", N);
		nact_exit(ctx, 0); /* takes effect when this handler returns */
		return send_int(sys, s->to, T_END, 0);
	}
	printf("source:  tick -> NUM %d\n", s->next);
	if ((rv = send_int(sys, s->to, T_NUM, s->next++)) != 0)
		return rv;
	tick = int_msg(sys, T_TICK, 0);
	if ((rv = nact_send_after(sys, nact_self(ctx), tick, 2, NULL)) != 0)
		nact_msg_free(tick);
	return rv;
}

/* Reply (or timeout) for squarer's request; runs inside squarer. */
static void on_total(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	int64_t total = 0;

	if (err == 0)
		err = read_int(reply, &total);
	if (err != 0)
		printf("squarer: request failed: %s\n", nact_strerror(err));
	else
		printf("squarer: summer replied to my request: total %lld\n", (long long)total);
}

static int squarer(nact_ctx *ctx, nact_msg *msg)
{
	nact_system *sys = nact_sys(ctx);
	nact_aid summer = nact_whereis(sys, "summer"); /* by name, not id */
	nact_msg *get;
	int64_t n;
	int rv;

	if (nact_msg_type(msg) == T_END) {
		printf("squarer: END: forwarding it, then asking summer\n");
		if ((rv = nact_forward(ctx, summer, msg)) != 0) /* no copy */
			return rv;
		get = int_msg(sys, T_GET, 0);
		rv = nact_request(ctx, summer, get, 1000, on_total, NULL);
		if (rv != 0)
			nact_msg_free(get); /* failed: still ours */
		return rv;
	}
	if ((rv = read_int(msg, &n)) != 0)
		return rv;
	printf("squarer: %lld -> SQ %lld\n", (long long)n, (long long)(n * n));
	return send_int(sys, summer, T_SQ, n * n);
}

/* summer, both behaviours: answer GET with the sum so far. */
static int summer_get(nact_ctx *ctx, nact_msg *msg)
{
	struct summer *s = nact_state(ctx);
	nact_msg *reply;
	int rv;

	if (nact_msg_type(msg) != T_GET)
		return 0; /* after END nothing else is expected */
	reply = int_msg(nact_sys(ctx), T_TOTAL, s->sum);
	if ((rv = nact_reply(nact_sys(ctx), msg, reply)) != 0)
		nact_msg_free(reply);
	return rv;
}

/* summer, first behaviour: add squares until END, then become summer_get. */
static int summer_add(nact_ctx *ctx, nact_msg *msg)
{
	struct summer *s = nact_state(ctx);
	int64_t sq;
	int rv;

	if (nact_msg_type(msg) == T_SQ) {
		if ((rv = read_int(msg, &sq)) == 0) {
			s->sum += sq;
			s->count++;
		}
		return rv;
	}
	if (nact_msg_type(msg) == T_END) {
		printf("summer:  END after %d squares, sum %lld\n", s->count, (long long)s->sum);
		nact_become(ctx, summer_get);
		return 0;
	}
	return summer_get(ctx, msg);
}

int main(void)
{
	nact_spawn_opts named = {.name = "summer"};
	struct summer *sum = calloc(1, sizeof(*sum));
	struct source *src = calloc(1, sizeof(*src));
	int64_t total = -1, want = (int64_t)N * (N + 1) * (2 * N + 1) / 6;
	nact_aid a_sum, a_sq, a_src;
	nact_msg *m, *reply;
	nact_system *sys;
	uint64_t dead0;
	int ok, i;

	setvbuf(stdout, NULL, _IOLBF, 0); /* whole lines from every thread */
	check("calloc", sum != NULL && src != NULL ? 0 : NACT_ENOMEM);
	check("nact_system_open", nact_system_open(&sys, NULL));
	/* Each actor owns its state from here on: free() runs when it ends. */
	check("spawn summer", nact_spawn(&a_sum, sys, summer_add, sum, free, &named));
	check("spawn squarer", nact_spawn(&a_sq, sys, squarer, NULL, NULL, NULL));
	src->next = 1;
	src->to = a_sq;
	check("spawn source", nact_spawn(&a_src, sys, source, src, free, NULL));
	printf("main:    spawned summer, squarer, source; starting a timer\n");
	m = int_msg(sys, T_TICK, 0);
	check("nact_send_after", nact_send_after(sys, a_src, m, 1, NULL));

	/* Blocking request from outside the actors; poll until all is summed
	 * (give up after about 5 s and report the failure). */
	for (i = 0; i < 500 && total != want; i++) {
		m = int_msg(sys, T_GET, 0);
		check("nact_call", nact_call(sys, a_sum, m, 2000, &reply));
		check("read the total", read_int(reply, &total));
		nact_msg_free(reply); /* a reply from nact_call is ours */
		if (total != want)
			nng_msleep(10);
	}
	printf("main:    nact_call(summer, GET) -> %lld (want %lld)\n", (long long)total,
	    (long long)want);

	/* The source has exited: a message to it becomes a dead letter. */
	for (i = 0; i < 200 && nact_alive(sys, a_src); i++)
		nng_msleep(5);
	dead0 = nact_deadletters(sys, -1);
	check("send to the exited source", send_int(sys, a_src, T_NUM, 99));
	for (i = 0; i < 200 && nact_deadletters(sys, -1) == dead0; i++)
		nng_msleep(5);
	printf("main:    NUM 99 to exited source: dead letters %llu -> %llu",
	    (unsigned long long)dead0, (unsigned long long)nact_deadletters(sys, -1));
	printf(" (reason \"%s\": %llu)\n", nact_dl_reason_str(NACT_DL_DEAD),
	    (unsigned long long)nact_deadletters(sys, NACT_DL_DEAD));
	ok = total == want && nact_deadletters(sys, -1) > dead0;

	/* Stops summer and squarer and runs their state destructors. */
	nact_system_close(sys, 2000);
	printf("main:    %s\n", ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}
