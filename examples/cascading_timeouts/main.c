/*
 * examples/cascading_timeouts — a request chain main -> A -> B -> C where
 * every hop gives the next one a shorter timeout, so the innermost timeout
 * fires first and the failure travels back up as a clean error reply long
 * before the outermost caller's own timeout.
 *
 *   main  nact_call(A, timeout 400 ms)
 *   A     reads the deadline of the request it serves (nact_msg_deadline),
 *         gives B half of what is left (nact_request timeout)
 *   B     the same: half of what it has left for C
 *   C     does the work in 10 ms steps (a timer to itself, never a sleep)
 *         and checks the deadline of its request at each step: past it,
 *         nobody is waiting any more, so it abandons the work
 *
 * Run 1: C needs 30 ms: the answer comes back through B and A.
 * Run 2: C needs 2 s: B's request to C times out (about 100 ms in), B
 *        answers A with NACT_T_ERROR (ETIMEDOUT, "B: C gave no answer ..."),
 *        A passes it on, and main gets that error as a reply, not its own
 *        timeout; C stops at its deadline instead of working for 2 s.
 *
 * Exits 0 only if both runs end that way.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h>

enum { T_ASK = 1, T_ANS, T_STEP };

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static nact_msg *msg_int(nact_system *sys, uint32_t type, int64_t v)
{
	nact_msg *m;
	nact_pack pk;
	if (nact_msg_alloc(&m, sys, type) != 0)
		return NULL;
	nact_pack_init(&pk, m);
	nact_pack_int(&pk, v);
	if (nact_pack_error(&pk) != 0) {
		nact_msg_free(m);
		return NULL;
	}
	return m;
}

static int64_t body_int(const nact_msg *m)
{
	nact_reader r;
	int64_t v = -1;
	if (nact_reader_init(&r, m, NULL) == 0) {
		nact_read_int(&r, &v);
		nact_reader_fini(&r);
	}
	return v;
}

/* Reply to (to, corr) with an error [code, text]. */
static void reply_error_to(nact_system *sys, nact_aid to, uint64_t corr, int code, const char *text)
{
	nact_msg *m;
	nact_pack pk;
	if (nact_msg_alloc(&m, sys, NACT_T_ERROR) != 0)
		return;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 2);
	nact_pack_int(&pk, code);
	nact_pack_str(&pk, text);
	if (nact_pack_error(&pk) != 0 || nact_reply_to(sys, to, corr, m) != 0)
		nact_msg_free(m);
}

/* ---- A and B: a hop that passes the request on with half its time ---- */

struct hop {
	const char *name, *next_name;
	nact_aid next;
};

struct pending {
	struct hop *h;
	nact_aid from;
	uint64_t corr;
	int budget_ms;
};

static void hop_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct pending *p = arg;
	nact_system *sys = nact_sys(ctx);
	if (err != 0) {
		char text[128];
		snprintf(text, sizeof(text), "%s: %s gave no answer within %d ms", p->h->name,
		    p->h->next_name, p->budget_ms);
		printf("  %s: %s timed out after %d ms, answering with an error\n", p->h->name,
		    p->h->next_name, p->budget_ms);
		reply_error_to(sys, p->from, p->corr, NACT_ETIMEDOUT, text);
	} else {
		/* Pass the answer (or the error) up unchanged. */
		nact_msg *m;
		size_t bl;
		const void *b = nact_msg_body(reply, &bl);
		if (nact_msg_alloc(&m, sys, nact_msg_type(reply)) == 0) {
			if (nng_msg_append(nact_msg_nng(m), b, bl) != 0 ||
			    nact_reply_to(sys, p->from, p->corr, m) != 0)
				nact_msg_free(m);
		}
	}
	free(p);
}

static int hop_fn(nact_ctx *ctx, nact_msg *m)
{
	struct hop *h = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (nact_msg_type(m) != T_ASK || !(nact_msg_flags(m) & NACT_MF_REQUEST)) {
		if (nact_msg_flags(m) & NACT_MF_REQUEST)
			nact_reply_error(sys, m, NACT_EBADMSG, "hop: T_ASK only");
		return 0;
	}
	uint64_t dl = nact_msg_deadline(m), now = nact_now(sys);
	uint64_t left_ms = dl > now ? (dl - now) / 1000000u : 0;
	struct pending *p = malloc(sizeof(*p));
	nact_msg *fwd = msg_int(sys, T_ASK, body_int(m));
	if (p == NULL || fwd == NULL || left_ms < 2) {
		free(p);
		nact_msg_free(fwd);
		nact_reply_error(sys, m, NACT_ETIMEDOUT, "no time left");
		return 0;
	}
	*p = (struct pending){h, nact_msg_sender(m), nact_msg_corr(m), (int)(left_ms / 2)};
	printf("  %s: %llu ms left, giving %s %d ms\n", h->name, (unsigned long long)left_ms,
	    h->next_name, p->budget_ms);
	if (nact_request(ctx, h->next, fwd, p->budget_ms, hop_reply, p) != 0) {
		nact_msg_free(fwd);
		free(p);
		nact_reply_error(sys, m, NACT_ENOMEM, "request failed");
	}
	return 0;
}

/* ---- C: works in 10 ms steps, honours its request's deadline ---- */

struct worker {
	atomic_int finished, abandoned, steps;
	/* the job being worked on (one at a time in this example) */
	nact_aid from;
	uint64_t corr, deadline;
	int left;
	int64_t value;
};

static int worker_fn(nact_ctx *ctx, nact_msg *m)
{
	struct worker *w = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (nact_msg_type(m) == T_ASK && (nact_msg_flags(m) & NACT_MF_REQUEST)) {
		w->from = nact_msg_sender(m);
		w->corr = nact_msg_corr(m);
		w->deadline = nact_msg_deadline(m);
		w->left = (int)(body_int(m) / 10);
		w->value = 42;
	} else if (nact_msg_type(m) != T_STEP) {
		return 0;
	} else if (w->deadline != 0 && nact_now(sys) >= w->deadline) {
		printf("  C: deadline passed after %d steps, abandoning the work\n",
		    atomic_load(&w->steps));
		atomic_fetch_add(&w->abandoned, 1);
		return 0;
	} else {
		atomic_fetch_add(&w->steps, 1);
		w->left--;
	}
	if (w->left > 0) {
		nact_msg *s = msg_int(sys, T_STEP, 0);
		if (s != NULL && nact_send_after(sys, nact_self(ctx), s, 10, NULL) != 0)
			nact_msg_free(s);
		return 0;
	}
	nact_msg *rep = msg_int(sys, T_ANS, w->value);
	if (rep != NULL && nact_reply_to(sys, w->from, w->corr, rep) != 0)
		nact_msg_free(rep);
	atomic_fetch_add(&w->finished, 1);
	return 0;
}

int main(void)
{
	nact_system *sys;
	int rv, ok = 1;
	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	static struct worker w;
	static struct hop a = {.name = "A", .next_name = "B"}, b = {.name = "B", .next_name = "C"};
	nact_aid ca, aa, ba;
	if (nact_spawn(&ca, sys, worker_fn, &w, NULL, NULL) != 0 ||
	    nact_spawn(&ba, sys, hop_fn, &b, NULL, NULL) != 0 ||
	    nact_spawn(&aa, sys, hop_fn, &a, NULL, NULL) != 0) {
		fprintf(stderr, "spawn failed\n");
		return 1;
	}
	b.next = ca;
	a.next = ba; /* set before the first request: the send publishes them */

	static const int work[2] = {30, 2000};
	for (int run = 0; run < 2; run++) {
		printf("run %d: C needs %d ms, main waits at most 400 ms\n", run + 1, work[run]);
		nact_msg *rep = NULL, *ask = msg_int(sys, T_ASK, work[run]);
		double t0 = now_ms();
		rv = ask != NULL ? nact_call(sys, aa, ask, 400, &rep) : NACT_ENOMEM;
		double dt = now_ms() - t0;
		if (rv != 0) {
			printf("  main: no reply (%s) after %.0f ms\n", nact_strerror(rv), dt);
			if (rv != NACT_ETIMEDOUT)
				nact_msg_free(ask);
			ok = 0;
			continue;
		}
		int code = 0;
		char text[128] = "";
		if (nact_msg_type(rep) == T_ANS) {
			printf("  main: answer %lld after %.0f ms\n", (long long)body_int(rep), dt);
			ok &= run == 0 && body_int(rep) == 42;
		} else if (nact_error_read(rep, &code, text, sizeof(text)) == 0) {
			printf("  main: error reply after %.0f ms: %s (%s)\n", dt,
			    nact_strerror(code), text);
			ok &= run == 1 && code == NACT_ETIMEDOUT && strncmp(text, "B: C", 4) == 0;
		} else {
			ok = 0;
		}
		nact_msg_free(rep);
	}
	/* C stops at its deadline instead of working the whole 2 s. */
	for (int i = 0; i < 2000 && atomic_load(&w.abandoned) == 0; i++)
		nng_msleep(1);
	int steps = atomic_load(&w.steps);
	printf("C: finished %d, abandoned %d, steps %d (a full run 2 would be 203)\n",
	    atomic_load(&w.finished), atomic_load(&w.abandoned), steps);
	ok &= atomic_load(&w.finished) == 1 && atomic_load(&w.abandoned) == 1 && steps < 150;
	nact_system_close(sys, 5000);
	printf("%s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
