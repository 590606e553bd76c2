/*
 * examples/cli_cancel — a job cancelled from the terminal with nactorctl.
 *
 *   cli_cancel [NODE] [TIMEOUT_SECONDS]      (defaults: cli-cancel, 60)
 *
 * The program serves its registry as node NODE and runs one long job, an
 * operation "long-job" worked on by an actor that reports progress and
 * polls the job's cancel token on every step. It prints
 *
 *   job ID running on node NODE: nactorctl cancel ID --node NODE
 *
 * and waits. `nactorctl cancel ID` (another terminal, or
 * examples/cli_cancel/test.sh) cancels the job with reason manual; the
 * actor notices at its next step and stops, and the program prints how the
 * job ended and exits 0. It exits 1 if the job ended any other way (or
 * the timeout passed first).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep */

enum { T_STEP = 1 };

struct job {
	nact_opid op;
	int step;
	atomic_int *stopped;
};

static void check(const char *what, int rv)
{
	if (rv != 0) {
		fprintf(stderr, "cli_cancel: %s: %s\n", what, nact_strerror(rv));
		exit(1);
	}
}

static int job_fn(nact_ctx *ctx, nact_msg *msg)
{
	struct job *j = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	char text[64];
	nact_msg *m;
	(void)msg;
	if (nact_op_is_cancelled(sys, j->op)) {
		printf("job:  cancel seen at step %d; cleaning up\n", j->step);
		atomic_store(j->stopped, 1);
		nact_exit(ctx, NACT_EXIT_NORMAL);
		return 0;
	}
	j->step++;
	snprintf(text, sizeof(text), "step %d", j->step);
	/* it never finishes by itself: progress creeps towards 100 % */
	nact_op_progress(sys, j->op, 1.0 - 1.0 / (1 + j->step / 10.0), text);
	check("alloc", nact_msg_alloc(&m, sys, T_STEP));
	int rv = nact_send_after(sys, nact_self(ctx), m, 50, NULL);
	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

int main(int argc, char **argv)
{
	const char *node = argc > 1 ? argv[1] : "cli-cancel";
	int secs = argc > 2 ? atoi(argv[2]) : 60;
	atomic_int stopped = 0;
	nact_system *sys;
	nact_op_info in;
	nact_aid a;
	nact_msg *m;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct job *j = calloc(1, sizeof(*j));
	check("calloc", j != NULL ? 0 : NACT_ENOMEM);
	check("open", nact_system_open(&sys, NULL));
	check("serve", nact_registry_serve(sys, node, NULL, 0));
	check("create", nact_op_create(&j->op, sys, "long-job", NACT_OPID_NONE, "example"));
	check("start", nact_op_start(sys, j->op));
	nact_opid op = j->op;
	j->stopped = &stopped;
	check("spawn", nact_spawn(&a, sys, job_fn, j, free, NULL));
	check("alloc", nact_msg_alloc(&m, sys, T_STEP));
	check("send", nact_send(sys, a, m));
	printf("job %llu running on node %s: nactorctl cancel %llu --node %s\n",
	    (unsigned long long)op.v, node, (unsigned long long)op.v, node);
	for (int i = 0; i < secs * 100 && !atomic_load(&stopped); i++)
		nng_msleep(10);
	check("get", nact_op_get(sys, op, &in));
	printf("main: job %llu %s, reason %s, message \"%s\", progress %.0f%% (%s)\n",
	    (unsigned long long)op.v, nact_op_status_str(in.status), nact_op_reason_str(in.reason),
	    in.message, in.progress * 100, in.progress_msg);
	int ok = atomic_load(&stopped) && in.status == NACT_OP_CANCELLED &&
	    in.reason == NACT_CANCEL_MANUAL;
	nact_system_close(sys, 2000); /* unserves: the socket file goes */
	printf("main: %s\n", ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}
