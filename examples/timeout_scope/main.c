/*
 * examples/timeout_scope — a timeout scope: work that must finish within a
 * deadline, or be cancelled, children included.
 *
 * A scope is an operation with a deadline (nact_op_cancel_after); the work
 * inside it (here two "fetch" operations, each done by an actor that
 * answers after a delay) are its children. When the deadline passes first
 * the scope ends TIMEDOUT and its children CANCELLED with reason parent;
 * the actors poll their operation's token and give up. When the work ends
 * first, the scope completes and its deadline is disarmed.
 *
 * main opens two scopes with a 300 ms deadline: "fast" (work of 20 ms) and
 * "slow" (work of 5 s). It exits 0 only if "fast" completed with both
 * fetches, and "slow" timed out with both fetches cancelled (reason
 * parent) well before the 5 s of work.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep, nng_clock */

#define DEADLINE_MS 300

enum { T_STEP = 1 };

struct fetch {
	nact_opid op;
	int left_ms;         /* work still to do, 10 ms a step */
	atomic_int *pending; /* fetches not yet ended, in the scope */
};

static void check(const char *what, int rv)
{
	if (rv != 0) {
		fprintf(stderr, "timeout_scope: %s: %s\n", what, nact_strerror(rv));
		exit(1);
	}
}

static int fetch_fn(nact_ctx *ctx, nact_msg *msg)
{
	struct fetch *f = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_msg *m;
	(void)msg;
	if (nact_op_is_cancelled(sys, f->op)) { /* the scope timed out */
		atomic_fetch_sub(f->pending, 1);
		nact_exit(ctx, NACT_EXIT_NORMAL);
		return 0;
	}
	if (f->left_ms <= 0) {
		nact_op_complete(sys, f->op);
		atomic_fetch_sub(f->pending, 1);
		nact_exit(ctx, NACT_EXIT_NORMAL);
		return 0;
	}
	f->left_ms -= 10;
	check("alloc", nact_msg_alloc(&m, sys, T_STEP));
	int rv = nact_send_after(sys, nact_self(ctx), m, 10, NULL);
	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

/* Open a scope named name with the deadline, run two fetches of work_ms
 * inside it, and wait until both ended; the scope completes if they did.
 * The scope's and the fetches' final states go to out[0..2]. */
static void scope(nact_system *sys, const char *name, int work_ms, nact_op_info out[3])
{
	atomic_int pending = 2;
	nact_opid sc, kids[2];
	check("create scope", nact_op_create(&sc, sys, name, NACT_OPID_NONE, "example"));
	check("start scope", nact_op_start(sys, sc));
	check("deadline", nact_op_cancel_after(sys, sc, DEADLINE_MS));
	for (int i = 0; i < 2; i++) {
		struct fetch *f = calloc(1, sizeof(*f));
		nact_aid a;
		nact_msg *m;
		check("calloc", f != NULL ? 0 : NACT_ENOMEM);
		check("create fetch", nact_op_create(&kids[i], sys, "fetch", sc, NULL));
		check("start fetch", nact_op_start(sys, kids[i]));
		f->op = kids[i];
		f->left_ms = work_ms;
		f->pending = &pending;
		check("spawn", nact_spawn(&a, sys, fetch_fn, f, free, NULL));
		check("alloc", nact_msg_alloc(&m, sys, T_STEP));
		check("send", nact_send(sys, a, m));
	}
	for (int i = 0; i < 2000 && atomic_load(&pending) > 0; i++)
		nng_msleep(5);
	if (nact_op_complete(sys, sc) == 0) /* NACT_ESTATE if it timed out */
		printf("%-5s scope: work done within %d ms\n", name, DEADLINE_MS);
	check("get", nact_op_get(sys, sc, &out[0]));
	check("get", nact_op_get(sys, kids[0], &out[1]));
	check("get", nact_op_get(sys, kids[1], &out[2]));
	for (int i = 0; i < 3; i++)
		printf("%-5s   %-6s %-9s reason %s, %.0f ms\n", name, out[i].name,
		    nact_op_status_str(out[i].status), nact_op_reason_str(out[i].reason),
		    (double)(out[i].ended_ns - out[i].started_ns) / 1e6);
}

int main(void)
{
	nact_system *sys;
	nact_op_info f[3], s[3];
	setvbuf(stdout, NULL, _IOLBF, 0);
	check("open", nact_system_open(&sys, NULL));
	scope(sys, "fast", 20, f);
	scope(sys, "slow", 5000, s);
	int ok = f[0].status == NACT_OP_COMPLETED && f[1].status == NACT_OP_COMPLETED &&
	    f[2].status == NACT_OP_COMPLETED;
	ok &= s[0].status == NACT_OP_TIMEDOUT && s[0].reason == NACT_CANCEL_TIMEOUT;
	for (int i = 1; i < 3; i++)
		ok &= s[i].status == NACT_OP_CANCELLED && s[i].reason == NACT_CANCEL_PARENT;
	/* cancelled by the deadline, long before the 5 s of work */
	ok &= s[0].ended_ns - s[0].started_ns < 4000000000ull;
	nact_system_close(sys, 2000);
	printf("main:  %s\n", ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}
