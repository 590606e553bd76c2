/*
 * tests/cancel/fuzz_request.c — libFuzzer target for the registry server's
 * request decoder and verbs (nacti_regsrv_answer: everything the server
 * does with a request's bytes, minus the socket and the peer-uid check).
 * Built only with clang (tests/cancel/CMakeLists.txt); run briefly by
 * tests/cancel/run-fuzz.sh with the seed corpus in fuzz_corpus/.
 *
 * Every input must get a well-formed reply (fz_reply_kind != -1); anything
 * else, or a crash or sanitizer report, is a finding.
 */
#include <stdint.h>
#include <stdlib.h>

#include <nactor/nactor.h>

#include "fuzz_common.h"
#include "registry/server_internal.h"

/* The fuzzer's one system: libFuzzer calls in with no context pointer. */
static nact_system *fz_sys;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	nact_config cfg;
	nact_opid a, b;
	(void)argc;
	(void)argv;
	nact_config_init(&cfg);
	cfg.workers = 1;
	if (nact_system_open(&fz_sys, &cfg) != 0 ||
	    nact_op_create(&a, fz_sys, "job", NACT_OPID_NONE, "fuzz") != 0 ||
	    nact_op_start(fz_sys, a) != 0 || nact_op_create(&b, fz_sys, "step", a, NULL) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nng_msg *rep;
	nact_opid id;
	if (nng_msg_alloc(&rep, 0) != 0)
		return 0;
	nacti_regsrv_answer(fz_sys, "fuzz", data, size, rep);
	if (fz_reply_kind(nng_msg_body(rep), nng_msg_len(rep)) < 0)
		abort(); /* a malformed reply */
	nng_msg_free(rep);
	/* keep something to cancel */
	size_t live = 0;
	nact_op_list(fz_sys, NACT_OP_PENDING, NULL, 0, &live);
	if (live == 0 && nact_op_create(&id, fz_sys, "again", NACT_OPID_NONE, NULL) != 0)
		abort();
	return 0;
}
