/*
 * nactor/limit.h — limiters and executors: a token-bucket rate limiter, a
 * concurrency limiter, an adaptive (AIMD) rate limiter, gather (run
 * requests on actors with a concurrency limit and a timeout) and retry
 * with exponential backoff.
 *
 * Limiters are plain data structures owned by one actor (or one thread):
 * no lock, no allocation, no message. They read the system clock
 * (nact_now), so under NACT_CLOCK_MANUAL they follow nact_clock_advance.
 * They never sleep: "try" either takes the permit or says how long to wait.
 * An actor that must wait arms a timer to itself and tries again when it
 * fires:
 *
 *   uint64_t wait_ns;
 *   if (nact_rate_try(&st->rl, 1, &wait_ns) == NACT_ELIMITED) {
 *           // keep the work (in the state), come back when a token is there
 *           nact_send_after(sys, nact_self(ctx), retry_msg,
 *               nact_ns_to_ms(wait_ns), NULL);
 *           return 0;
 *   }
 *
 * gather and retry run on short-lived actors and talk through requests
 * (actor.h), so their waits are timers and request timeouts too.
 */
#ifndef NACTOR_LIMIT_H
#define NACTOR_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/export.h>
#include <nactor/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message types (range 0xFFFF0400-0xFFFF04FF). */
#define NACT_T_GATHER_DONE 0xFFFF0401u /* gather result to a notify actor */
#define NACT_T_LIMIT_TICK 0xFFFF0402u  /* internal: gather/retry timers */
#define NACT_T_RETRY_GO 0xFFFF0403u    /* a request to a retry actor (any type works) */

/* ns -> ms for a timer, rounded up (a wait of 1 ns is 1 ms, never 0). */
static inline int nact_ns_to_ms(uint64_t ns)
{
	uint64_t ms = (ns + 999999u) / 1000000u;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* ---- token bucket ---- */

/* rate tokens per second, at most burst tokens saved up; starts full. */
typedef struct nact_rate {
	nact_system *sys; /* clock (borrowed) */
	double rate;      /* tokens per second */
	double burst;     /* bucket size */
	double tokens;    /* tokens now (as of last) */
	uint64_t last;    /* nact_now of the last refill */
} nact_rate;

/* Errors: NACT_EINVAL (sys NULL, rate <= 0, burst < 1, not finite). */
NACT_DECL int nact_rate_init(nact_rate *r, nact_system *sys, double rate, double burst);

/* Take n tokens if there are n now: 0. Otherwise nothing is taken and the
 * result is NACT_ELIMITED with *wait_ns (may be NULL) the time until n
 * tokens will be there (if nobody else takes any). Errors: NACT_EINVAL (n
 * <= 0, n > burst: could never succeed). */
NACT_DECL int nact_rate_try(nact_rate *r, double n, uint64_t *wait_ns);

/* Time until n tokens are there (0 = now), without taking any. */
NACT_DECL uint64_t nact_rate_wait(nact_rate *r, double n);

/* Change the rate (and burst; <= 0 keeps it), keeping the tokens earned so
 * far (capped at the new burst). NACT_EINVAL as init. */
NACT_DECL int nact_rate_set(nact_rate *r, double rate, double burst);

/* ---- concurrency limiter ---- */

typedef struct nact_climit {
	uint32_t max;      /* permits */
	uint32_t inflight; /* taken now */
	uint64_t refused;  /* tries refused so far */
} nact_climit;

/* Errors: NACT_EINVAL (max 0). */
NACT_DECL int nact_climit_init(nact_climit *c, uint32_t max);
/* Take a permit: 0, or NACT_ELIMITED when max are taken (wait for a
 * release: there is no time to wait for). */
NACT_DECL int nact_climit_try(nact_climit *c);
/* Give a permit back. NACT_ESTATE if none is taken. */
NACT_DECL int nact_climit_release(nact_climit *c);
/* Change max; permits already taken stay taken. NACT_EINVAL for 0. */
NACT_DECL int nact_climit_set(nact_climit *c, uint32_t max);

/* ---- adaptive limiter (AIMD) ---- */
/*
 * A token bucket whose rate follows a load signal, like TCP's congestion
 * window. The rule:
 *  - success (nact_alimit_report(a, 0), or a latency at or under target):
 *    rate += add / rate, so while the caller runs at the limit the rate
 *    grows by about `add` per second (one `add` per rate's worth of
 *    successes), up to max;
 *  - overload (report(a, 1), or a latency over target): rate *= mult, down
 *    to min, at most once per cooldown (the reports of one congestion
 *    episode count once; the ones inside the cooldown are ignored).
 * The bucket holds at most `burst` tokens whatever the rate.
 */
typedef struct nact_alimit_opts {
	double initial;         /* starting rate, per second (0 = max) */
	double min;             /* lowest rate (0 = 1) */
	double max;             /* highest rate (required) */
	double add;             /* additive increase per second (0 = max / 100) */
	double mult;            /* decrease factor in (0, 1) (0 = 0.5) */
	double burst;           /* bucket size in tokens (0 = 1) */
	uint32_t cooldown_ms;   /* minimum time between decreases (0 = 100) */
	uint64_t target_lat_ns; /* for nact_alimit_latency (0 = latency unused) */
} nact_alimit_opts;

typedef struct nact_alimit {
	nact_rate bucket;
	nact_alimit_opts o;
	uint64_t last_decrease; /* nact_now of the last decrease */
	int decreased;          /* there was a decrease */
	uint64_t increases;     /* successes counted */
	uint64_t decreases;     /* decreases applied */
} nact_alimit;

/* Errors: NACT_EINVAL (max <= 0, min > max, mult outside (0,1), initial
 * outside [min, max], ...). */
NACT_DECL int nact_alimit_init(nact_alimit *a, nact_system *sys, const nact_alimit_opts *o);
/* As nact_rate_try for one token. */
NACT_DECL int nact_alimit_try(nact_alimit *a, uint64_t *wait_ns);
/* The load signal: overload 0 = success, nonzero = overloaded. */
NACT_DECL void nact_alimit_report(nact_alimit *a, int overload);
/* The load signal as a latency: overload iff latency_ns > target_lat_ns. */
NACT_DECL void nact_alimit_latency(nact_alimit *a, uint64_t latency_ns);
/* The current rate, per second. */
NACT_DECL double nact_alimit_rate(const nact_alimit *a);

/* ---- gather ---- */

enum nact_gather_mode {
	NACT_GATHER_ALL = 0,        /* all settled: wait for every task */
	NACT_GATHER_FIRST_ERROR = 1 /* stop at the first failed task: the others
	                               are reported NACT_ECANCELED */
};

/* One task: a request to an actor. */
typedef struct nact_task {
	nact_aid to;   /* the actor that does the work */
	nact_msg *req; /* the request (ownership: see nact_gather) */
} nact_task;

/* One result. status: 0 (a reply of any type but NACT_T_ERROR), the code
 * of a NACT_T_ERROR reply, NACT_ETIMEDOUT (no reply before its timeout or
 * the gather's), NACT_ECANCELED (first-error mode: not started or
 * abandoned), or the error of the send. reply: the reply if one came (an
 * error reply too), else NULL; the caller owns it. */
typedef struct nact_task_result {
	int status;
	nact_msg *reply;
} nact_task_result;

typedef struct nact_gather_opts {
	uint32_t limit;      /* at most this many requests in flight (0 = 8) */
	int timeout_ms;      /* whole gather (required, > 0) */
	int task_timeout_ms; /* each request (0 = what is left of timeout_ms) */
	int mode;            /* enum nact_gather_mode */
} nact_gather_opts;

/* Outside actors only. Run the n tasks (n >= 1, at most 1M) on a gather
 * actor, at most limit at a time in array order, and wait for them: up to
 * opts->timeout_ms, plus up to 1000 ms of real time for the gather actor
 * to answer (a manual clock must be advanced by another thread). res (n
 * entries) gets one result per task. Returns 0 when every task settled
 * (look at each status), else NACT_EINVAL, NACT_ENOMEM, NACT_EDEADLK (from
 * a handler), NACT_ETIMEDOUT (the gather actor did not answer: every result
 * is NACT_ETIMEDOUT), spawn errors. Ownership: the requests are consumed
 * whatever the result, except on NACT_EINVAL/NACT_EDEADLK where nothing
 * was taken. */
NACT_DECL int nact_gather(nact_system *sys, nact_task *tasks, size_t n,
    const nact_gather_opts *opts, nact_task_result *res);

/* Any thread, handlers included; never blocks. Start a gather whose result
 * goes to `notify` as a NACT_T_GATHER_DONE message with the body
 *   [tag uint, [[status int, reply_type uint, reply_body bin], ...]]
 * (reply_type 0 and an empty bin when no reply came; reply_body is the
 * reply's msgpack body bytes). Read it with nact_gather_done_read. Same
 * ownership as nact_gather. *gidp (may be NULL) gets the gather actor. */
NACT_DECL int nact_gather_start(nact_system *sys, nact_task *tasks, size_t n,
    const nact_gather_opts *opts, nact_aid notify, uint64_t tag, nact_aid *gidp);

/* Read task i of a NACT_T_GATHER_DONE message: its status and the reply's
 * type and body bytes (borrowed from m). *np (may be NULL) gets the
 * number of tasks, *tagp (may be NULL) the tag. Errors: NACT_EINVAL,
 * NACT_EBADMSG, NACT_ERANGE (i >= n). */
NACT_DECL int nact_gather_done_read(const nact_msg *m, size_t i, uint64_t *tagp, size_t *np,
    int *status, uint32_t *reply_type, const void **body, size_t *blen);

/* ---- retry with exponential backoff ---- */

typedef struct nact_retry_opts {
	uint32_t max_attempts;       /* 0 = 5 */
	uint32_t attempt_timeout_ms; /* each attempt (0 = 1000) */
	uint32_t base_delay_ms;      /* delay after the first failure (0 = 10) */
	uint32_t max_delay_ms;       /* cap of the doubling delay (0 = 1000) */
	uint32_t jitter_pct;         /* 0-100: each delay is uniform in
	                                [d * (100 - jitter_pct) / 100, d] */
	uint64_t seed;               /* jitter seed (0 = from the clock and id) */
	/* Is this outcome worth another attempt? reply is the reply (NULL on a
	 * timeout, err NACT_ETIMEDOUT). NULL = retry on a timeout and on an
	 * error reply other than NACT_EBADMSG, NACT_EINVAL, NACT_ENOTSUP. */
	int (*retryable)(const nact_msg *reply, int err, void *arg);
	void *retryable_arg;
} nact_retry_opts;

/* The delay before attempt `attempt + 1` after `attempt` (>= 1) failures:
 * min(max_delay, base_delay * 2^(attempt-1)), minus jitter drawn from
 * *rng (a xorshift state, never 0; updated). Pure. */
NACT_DECL uint32_t nact_backoff_ms(const nact_retry_opts *o, uint32_t attempt, uint64_t *rng);

/* The longest a retry can take with these options (every attempt times
 * out, every delay at its cap): use it (or more) as the outer timeout. */
NACT_DECL uint64_t nact_retry_budget_ms(const nact_retry_opts *o);

/* Spawn a retry actor for `req` to `to`. It waits for one request (any
 * type, e.g. NACT_T_RETRY_GO, any body); then sends req (a copy per
 * attempt) with the attempt timeout, and on a retryable failure waits the
 * backoff delay (a timer) and tries again, up to max_attempts, never past
 * the deadline of the request it is answering. It answers that request
 * with the final reply (same type and body), or the last error reply, or
 * NACT_T_ERROR NACT_ETIMEDOUT when the last attempt timed out, and ends.
 * A second request gets NACT_EBADMSG. On success the actor owns req; on
 * failure the caller still does. A retry actor that is never asked lives
 * (holding req) until nact_stop or system close. opts NULL = defaults. Any thread.
 * Errors: NACT_EINVAL, NACT_ENOMEM, spawn errors. */
NACT_DECL int nact_retry_spawn(nact_aid *idp, nact_system *sys, nact_aid to, nact_msg *req,
    const nact_retry_opts *opts);

/* Outside actors only: spawn + nact_call with timeout_ms (0 =
 * nact_retry_budget_ms). *replyp: as nact_call (an error reply is returned
 * as a reply: check its type). req is consumed except on NACT_EINVAL and
 * NACT_EDEADLK (from a handler). */
NACT_DECL int nact_retry_call(nact_system *sys, nact_aid to, nact_msg *req,
    const nact_retry_opts *opts, nact_msg **replyp, int timeout_ms);

/* Handler only: spawn + nact_request(ctx, retry actor, ..., timeout_ms (0
 * = budget), cb, arg). If it fails cb is never called and the caller
 * still owns req. */
NACT_DECL int nact_retry_request(nact_ctx *ctx, nact_aid to, nact_msg *req,
    const nact_retry_opts *opts, int timeout_ms, nact_reply_fn cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
