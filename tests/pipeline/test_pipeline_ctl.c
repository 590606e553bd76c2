/*
 * tests/pipeline/test_pipeline_ctl.c — a running pipeline cancelled from
 * outside the process with `nactorctl cancel ID` (the registry server).
 *
 * Contract: the pipeline is one operation in the registry; a cancel that
 * arrives over IPC (on an nng thread) stops every actor of the pipeline,
 * the result is NACT_ECANCELED and the operation carries the message.
 * The nactorctl binary comes from $NACTORCTL (set by CMake); without it
 * the test is skipped (exit 77).
 */
#include "testutil.h"

#include <unistd.h>

#include <nactor/pipeline.h>

static int src(void *arg, nact_pl_out *out, int *done)
{
	int64_t *next = arg;
	nact_pack *pk;
	(void)done;
	int rv = nact_pl_emit(out, &pk);
	if (rv == 0)
		nact_pack_int(pk, (*next)++);
	return rv;
}

static int slow(void *arg, const void *b, size_t len)
{
	_Atomic int *n = arg;
	(void)b;
	(void)len;
	if (atomic_fetch_add(n, 1) % 16 == 0)
		nng_msleep(1);
	return 0;
}

static void test_nactorctl_cancel(void)
{
	const char *ctl = getenv("NACTORCTL");
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	static _Atomic int n;
	char node[64], cmd[1024];
	int64_t next = 0;

	REQUIRE(ctl != NULL && *ctl != '\0');
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	snprintf(node, sizeof(node), "pipeline-test-%ld", (long)getpid());
	REQUIRE_RV(nact_registry_serve(sys, node, NULL, 0));
	nact_stats st0;
	nact_system_stats(sys, &st0);
	nact_pl_stage st[] = {nact_pl_source("gen", src, &next), nact_pl_batch("b", 10),
	    nact_pl_sink("slow", slow, (void *)&n)};
	REQUIRE_RV(nact_pipeline_start(&pl, sys, st, 3, NULL));
	CHECK(NT_WAIT(atomic_load(&n) > 20, NT_LONG_MS));
	snprintf(cmd, sizeof(cmd), "'%s' cancel %llu --node %s --message via-nactorctl", ctl,
	    (unsigned long long)nact_pipeline_opid(pl).v, node);
	int rc = system(cmd);
	CHECK_EQ_INT(rc, 0);
	REQUIRE_RV(nact_pipeline_wait(pl, 20000, &res));
	CHECK_EQ_INT(res.code, NACT_ECANCELED);
	nact_op_info oi;
	CHECK_RV(nact_op_get(sys, nact_pipeline_opid(pl), &oi));
	CHECK_EQ_INT(oi.status, NACT_OP_CANCELLED);
	CHECK_STR(oi.message, "via-nactorctl");
	nact_stats st1;
	CHECK(NT_WAIT((nact_system_stats(sys, &st1), st1.live == st0.live), NT_LONG_MS));
	nact_pipeline_free(pl);
	nact_registry_unserve(sys);
	nact_system_close(sys, 5000);
}

int main(int argc, char **argv)
{
	static const nt_case cases[] = {NT_CASE(test_nactorctl_cancel), {NULL, NULL}};
	const char *ctl = getenv("NACTORCTL");
	if (ctl == NULL || access(ctl, X_OK) != 0) {
		printf("NACTORCTL not set or not executable: skipped\n");
		return 77;
	}
	return nt_run(argc, argv, cases);
}
