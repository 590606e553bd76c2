/*
 * examples/adaptive_limiter — a client that finds a backend's capacity by
 * itself with an AIMD limiter (nact_alimit), against a fixed limiter set
 * too high.
 *
 * The backend actor ("api") serves 200 requests per second: at most 20 in
 * each 100 ms window of the system clock; beyond that it answers
 * NACT_T_ERROR NACT_ELIMITED ("overloaded"). The client (main) sends
 * requests as fast as its limiter allows, with nact_call, and tells the
 * limiter how each one went:
 *
 *   fixed    nact_rate at 1000/s for 5 s: most requests are refused
 *   adaptive nact_alimit, max 1000/s, +100/s per second of success, x0.5 on
 *            overload (at most once per 200 ms), for 30 s
 *
 * The system runs on the manual clock (NACT_CLOCK_MANUAL): main moves time
 * forward 1 ms at a time with nact_clock_advance, so 35 simulated seconds
 * take well under a second and the run is the same every time.
 *
 * Exits 0 only if, over the last 10 s, the adaptive client got at least 60%
 * of the capacity through with under 10% of its requests refused, while the
 * fixed one had most of its requests refused.
 */
#include <stdio.h>
#include <stdlib.h>

#include <nactor/nactor.h>
#include <nactor/limit.h>

enum { T_REQ = 1, T_OK };
#define MS 1000000ull
#define CAPACITY 200  /* requests per second */
#define WINDOW_MS 100 /* the backend counts per window */

struct api {
	uint64_t window;
	int count;
};

static int api_fn(nact_ctx *ctx, nact_msg *m)
{
	struct api *a = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	if (nact_msg_type(m) != T_REQ) {
		nact_reply_error(sys, m, NACT_EBADMSG, "api: T_REQ only");
		return 0;
	}
	uint64_t w = nact_now(sys) / (WINDOW_MS * MS);
	if (w != a->window) {
		a->window = w;
		a->count = 0;
	}
	if (++a->count > CAPACITY * WINDOW_MS / 1000) {
		nact_reply_error(sys, m, NACT_ELIMITED, "overloaded");
		return 0;
	}
	nact_msg *rep;
	if (nact_msg_alloc(&rep, sys, T_OK) == 0 && nact_reply(sys, m, rep) != 0)
		nact_msg_free(rep);
	return 0;
}

/* One request; 1 if served, 0 if refused, -1 on a failure. */
static int ask(nact_system *sys, nact_aid api)
{
	nact_msg *req, *rep = NULL;
	if (nact_msg_alloc(&req, sys, T_REQ) != 0)
		return -1;
	int rv = nact_call(sys, api, req, 5000, &rep);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(req);
		return -1;
	}
	int code = 0, served = nact_msg_type(rep) == T_OK;
	if (!served && (nact_error_read(rep, &code, NULL, 0) != 0 || code != NACT_ELIMITED))
		served = -1;
	nact_msg_free(rep);
	return served;
}

int main(void)
{
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.clock = NACT_CLOCK_MANUAL;
	cfg.workers = 1;
	int rv, ok = 1;
	if ((rv = nact_system_open(&sys, &cfg)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	static struct api st;
	nact_aid api;
	if (nact_spawn(&api, sys, api_fn, &st, NULL, NULL) != 0)
		return 1;

	/* fixed: 1000/s for 5 s */
	nact_rate fixed;
	long f_ok = 0, f_refused = 0;
	nact_rate_init(&fixed, sys, 1000, 1);
	for (int t = 0; t < 5000; t++) {
		nact_clock_advance(sys, MS);
		while (nact_rate_try(&fixed, 1, NULL) == 0) {
			int r = ask(sys, api);
			if (r < 0)
				return 1;
			r ? f_ok++ : f_refused++;
		}
	}
	double f_share = (double)f_refused / (f_ok + f_refused);
	printf("fixed 1000/s:  %4ld served/s, %4ld refused/s (%.0f%% refused)\n", f_ok / 5,
	    f_refused / 5, 100 * f_share);

	/* adaptive */
	nact_alimit al;
	nact_alimit_opts ao = {.max = 1000, .min = 10, .add = 100, .mult = 0.5, .cooldown_ms = 200};
	if (nact_alimit_init(&al, sys, &ao) != 0)
		return 1;
	long a_ok = 0, a_refused = 0, tail_ok = 0, tail_refused = 0;
	for (int t = 1; t <= 30000; t++) {
		nact_clock_advance(sys, MS);
		while (nact_alimit_try(&al, NULL) == 0) {
			int r = ask(sys, api);
			if (r < 0)
				return 1;
			nact_alimit_report(&al, !r);
			r ? a_ok++ : a_refused++;
			if (t > 20000)
				r ? tail_ok++ : tail_refused++;
		}
		if (t % 5000 == 0) {
			printf(
			    "adaptive t=%2ds: rate %6.1f/s; last 5 s %4ld served/s, %3ld refused/s\n",
			    t / 1000, nact_alimit_rate(&al), a_ok / 5, a_refused / 5);
			a_ok = a_refused = 0;
		}
	}
	double t_rate = tail_ok / 10.0;
	double t_share = (double)tail_refused / (tail_ok + tail_refused);
	printf("adaptive, last 10 s: %.0f served/s (capacity %d), %.1f%% refused; %llu decreases\n",
	    t_rate, CAPACITY, 100 * t_share, (unsigned long long)al.decreases);
	ok = t_rate >= 0.6 * CAPACITY && t_rate <= CAPACITY && t_share < 0.10 && f_share > 0.5;
	nact_system_close(sys, 5000);
	printf("%s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
