/*
 * examples/resilient_executor — run 24 jobs against a flaky worker with
 * at most 4 in flight, each job retried with exponential backoff.
 *
 *   main ── nact_gather(24 tasks, limit 4, 10 s, all settled) ──► retry actors
 *   retry actor i ── T_JOB [i] (attempt timeout 200 ms, backoff 5 ms
 *                    doubling to 40 ms, 50% jitter, 5 attempts) ──► worker
 *
 * The worker is flaky on purpose, deterministically per job:
 *   - job i fails its first (i % 3) attempts with NACT_ERESOURCE ("busy"),
 *   - every 7th job's first attempt is swallowed (no reply: the attempt
 *     times out and is retried),
 *   - job 13 is malformed: NACT_EBADMSG, which is not worth retrying.
 * Each task of the gather is the one request a retry actor answers
 * (nact_retry_spawn), so gather's concurrency limit bounds the jobs in
 * flight and retry hides the transient failures.
 *
 * Exits 0 only if the 23 good jobs came back with 2 * i, job 13 with
 * NACT_EBADMSG after one attempt, every job used exactly the attempts its
 * failures call for, and the worker never saw more than 4 jobs at once.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <nactor/nactor.h>
#include <nactor/limit.h>

enum { T_JOB = 1 };
#define NJOBS 24
#define LIMIT 4
#define BAD_JOB 13

struct worker {
	int attempts[NJOBS]; /* worker only */
	atomic_int total;
	/* jobs in flight from the worker's point of view: a job is "in" from
	 * its first attempt until it is answered for good */
	int open[NJOBS];
	int inflight, max_inflight;
};

static int failures(int i)
{
	return (i % 3) + (i % 7 == 0); /* errors, plus one swallowed attempt */
}

static int worker_fn(nact_ctx *ctx, nact_msg *m)
{
	struct worker *w = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_reader r;
	int64_t i = -1;
	if (nact_msg_type(m) != T_JOB || !(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	if (nact_reader_init(&r, m, NULL) == 0) {
		nact_read_int(&r, &i);
		nact_reader_fini(&r);
	}
	if (i < 0 || i >= NJOBS) {
		nact_reply_error(sys, m, NACT_EBADMSG, "no such job");
		return 0;
	}
	atomic_fetch_add(&w->total, 1);
	int a = ++w->attempts[i];
	if (!w->open[i]) {
		w->open[i] = 1;
		if (++w->inflight > w->max_inflight)
			w->max_inflight = w->inflight;
	}
	if (i == BAD_JOB) {
		w->open[i] = 0;
		w->inflight--;
		nact_reply_error(sys, m, NACT_EBADMSG, "job 13 is malformed");
		return 0;
	}
	if (i % 7 == 0 && a == 1)
		return 0; /* swallowed: the attempt times out */
	if (a <= failures((int)i)) {
		nact_reply_error(sys, m, NACT_ERESOURCE, "busy");
		return 0;
	}
	nact_msg *rep;
	nact_pack pk;
	if (nact_msg_alloc(&rep, sys, T_JOB) != 0)
		return 0;
	nact_pack_init(&pk, rep);
	nact_pack_int(&pk, 2 * i);
	if (nact_pack_error(&pk) != 0 || nact_reply(sys, m, rep) != 0)
		nact_msg_free(rep);
	w->open[i] = 0;
	w->inflight--;
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
	nact_aid wa;
	if (nact_spawn(&wa, sys, worker_fn, &w, NULL, NULL) != 0)
		return 1;

	nact_retry_opts ro = {.max_attempts = 5,
	    .attempt_timeout_ms = 200,
	    .base_delay_ms = 5,
	    .max_delay_ms = 40,
	    .jitter_pct = 50,
	    .seed = 42};
	nact_task tasks[NJOBS];
	nact_task_result res[NJOBS];
	for (int i = 0; i < NJOBS; i++) {
		nact_msg *job, *go;
		nact_pack pk;
		if (nact_msg_alloc(&job, sys, T_JOB) != 0 ||
		    nact_msg_alloc(&go, sys, NACT_T_RETRY_GO))
			return 1;
		nact_pack_init(&pk, job);
		nact_pack_int(&pk, i);
		if (nact_pack_error(&pk) != 0 ||
		    nact_retry_spawn(&tasks[i].to, sys, wa, job, &ro) != 0)
			return 1;
		tasks[i].req = go;
	}
	nact_gather_opts go = {.limit = LIMIT, .timeout_ms = 10000, .mode = NACT_GATHER_ALL};
	if ((rv = nact_gather(sys, tasks, NJOBS, &go, res)) != 0) {
		fprintf(stderr, "gather: %s\n", nact_strerror(rv));
		return 1;
	}
	int good = 0, expected_total = 0;
	for (int i = 0; i < NJOBS; i++) {
		int want_attempts = i == BAD_JOB ? 1 : failures(i) + 1;
		expected_total += want_attempts;
		int64_t v = -1;
		nact_reader r;
		if (res[i].status == 0 && nact_reader_init(&r, res[i].reply, NULL) == 0) {
			nact_read_int(&r, &v);
			nact_reader_fini(&r);
		}
		printf("job %2d: %-28s attempts %d\n", i,
		    res[i].status == 0 ? "ok" : nact_strerror(res[i].status), w.attempts[i]);
		if (i == BAD_JOB)
			ok &= res[i].status == NACT_EBADMSG;
		else if (res[i].status == 0 && v == 2 * i)
			good++;
		else
			ok = 0;
		ok &= w.attempts[i] == want_attempts;
		nact_msg_free(res[i].reply);
	}
	printf("%d/%d jobs ok, 1 rejected; %d attempts in all (expected %d); at most %d jobs "
	       "in flight at the worker (limit %d)\n",
	    good, NJOBS - 1, atomic_load(&w.total), expected_total, w.max_inflight, LIMIT);
	ok &= good == NJOBS - 1 && atomic_load(&w.total) == expected_total &&
	    w.max_inflight <= LIMIT && w.max_inflight >= 1;
	nact_system_close(sys, 5000);
	printf("%s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
