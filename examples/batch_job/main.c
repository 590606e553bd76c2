/*
 * examples/batch_job — a cancelable batch job with progress.
 *
 * A "batch" actor works through ITEMS items, CHUNK per message, so that it
 * stays responsive between chunks (a handler never runs long). The job is
 * an operation: the actor reports progress after each chunk
 * (nact_op_progress) and polls the job's cancel token before each one
 * (nact_op_is_cancelled), the way long work learns it should stop. An
 * on_cancel callback records that cleanup ran.
 *
 * main runs the job twice: once to the end (status completed, progress
 * 100 %, every item done), and once cancelled by hand half-way (status
 * cancelled, reason manual, the actor stopped within one chunk, the
 * callback ran once). It exits 0 only if both runs behaved so.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep */

#define ITEMS 10000
#define CHUNK 100

enum { T_CHUNK = 1 };

struct batch {
	nact_opid job;
	int done;        /* items processed */
	atomic_int *out; /* main's copy of done, set when the actor stops */
	uint64_t sum;    /* the "work": a checksum of the items */
};

static void check(const char *what, int rv)
{
	if (rv != 0) {
		fprintf(stderr, "batch_job: %s: %s\n", what, nact_strerror(rv));
		exit(1);
	}
}

static int next_chunk(nact_ctx *ctx)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, nact_sys(ctx), T_CHUNK);
	if (rv == 0 && (rv = nact_send(nact_sys(ctx), nact_self(ctx), m)) != 0)
		nact_msg_free(m);
	return rv;
}

static int batch_fn(nact_ctx *ctx, nact_msg *msg)
{
	struct batch *b = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	char text[64];
	(void)msg;
	if (nact_op_is_cancelled(sys, b->job)) { /* the token: stop here */
		printf("batch:   cancelled after %d items; stopping\n", b->done);
		atomic_store(b->out, b->done);
		nact_exit(ctx, NACT_EXIT_NORMAL);
		return 0;
	}
	for (int i = 0; i < CHUNK; i++) /* one chunk of work */
		b->sum += (uint64_t)(b->done + i) * 2654435761u;
	b->done += CHUNK;
	snprintf(text, sizeof(text), "%d/%d items", b->done, ITEMS);
	nact_op_progress(sys, b->job, (double)b->done / ITEMS, text);
	if (b->done == ITEMS) {
		check("complete", nact_op_complete(sys, b->job));
		printf("batch:   all %d items done\n", b->done);
		atomic_store(b->out, b->done);
		nact_exit(ctx, NACT_EXIT_NORMAL);
		return 0;
	}
	nng_msleep(5); /* pretend a chunk takes a while */
	return next_chunk(ctx);
}

static void on_cancel(void *arg, nact_opid id, int reason)
{
	atomic_int *calls = arg;
	printf("cleanup: job %llu cancelled (%s)\n", (unsigned long long)id.v,
	    nact_op_reason_str(reason));
	atomic_fetch_add(calls, 1);
}

/* Run one job; cancel it by hand once it reached cancel_at (0: never).
 * Fills *in with the job's final state; returns the items processed. */
static int run(nact_system *sys, double cancel_at, atomic_int *calls, nact_op_info *in)
{
	atomic_int out = -1;
	struct batch *b = calloc(1, sizeof(*b));
	nact_aid a;
	nact_msg *m;
	check("calloc", b != NULL ? 0 : NACT_ENOMEM);
	b->out = &out;
	check("create", nact_op_create(&b->job, sys, "batch", NACT_OPID_NONE, "example"));
	check("on_cancel", nact_op_on_cancel(sys, b->job, on_cancel, calls));
	check("start", nact_op_start(sys, b->job));
	nact_opid job = b->job;
	check("spawn", nact_spawn(&a, sys, batch_fn, b, free, NULL));
	check("alloc", nact_msg_alloc(&m, sys, T_CHUNK));
	check("send", nact_send(sys, a, m));
	int said = 0;
	for (int i = 0; i < 3000 && atomic_load(&out) < 0; i++) {
		nact_op_info now;
		if (nact_op_get(sys, job, &now) == 0 && now.status == NACT_OP_RUNNING) {
			if (now.progress >= 0.25 && !said) {
				printf("main:    progress %.0f%% (%s)\n", now.progress * 100,
				    now.progress_msg);
				said = 1;
			}
			if (cancel_at > 0 && now.progress >= cancel_at) {
				printf("main:    cancelling at %.0f%%\n", now.progress * 100);
				check("cancel",
				    nact_op_cancel(sys, job, NACT_CANCEL_MANUAL,
				        "stopped by main"));
				cancel_at = 0;
			}
		}
		nng_msleep(2);
	}
	check("get", nact_op_get(sys, job, in));
	return atomic_load(&out);
}

int main(void)
{
	nact_system *sys;
	nact_op_info in;
	atomic_int calls = 0;
	int ok = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	check("open", nact_system_open(&sys, NULL));

	printf("-- run 1: to the end\n");
	int done = run(sys, 0, &calls, &in);
	printf("main:    job %llu %s, progress %.0f%%, %d items\n", (unsigned long long)in.id.v,
	    nact_op_status_str(in.status), in.progress * 100, done);
	ok &= in.status == NACT_OP_COMPLETED && in.progress == 1.0 && done == ITEMS &&
	    atomic_load(&calls) == 0;

	printf("-- run 2: cancelled half-way\n");
	done = run(sys, 0.5, &calls, &in);
	printf("main:    job %llu %s (%s: %s), progress %.0f%%, %d items\n",
	    (unsigned long long)in.id.v, nact_op_status_str(in.status),
	    nact_op_reason_str(in.reason), in.message, in.progress * 100, done);
	/* stopped within one chunk of the cancel, cleanup ran once */
	ok &= in.status == NACT_OP_CANCELLED && in.reason == NACT_CANCEL_MANUAL &&
	    done >= ITEMS / 2 && done < ITEMS && atomic_load(&calls) == 1;

	nact_system_close(sys, 2000);
	printf("main:    %s\n", ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}
