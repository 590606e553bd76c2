/*
 * hello.c — the smallest nactor program, built by the install test against
 * an installed copy of the library (CMake package, pkg-config, static).
 *
 * Contract: opens a system, spawns an actor that answers a request with
 * the number it was sent plus one, asks it once with nact_call, closes the
 * system, and prints "nactor hello: 41 -> 42" (exit 0) only if all of that
 * worked.
 */
#include <stdio.h>

#include <nactor/nactor.h>

#define T_INC 1

/* Reply to each request with its number plus one. */
static int inc(nact_ctx *ctx, nact_msg *msg)
{
	nact_reader r;
	nact_msg *reply;
	nact_pack pk;
	int64_t n;
	int rv;

	if ((rv = nact_reader_init(&r, msg, NULL)) != 0)
		return rv;
	rv = nact_read_int(&r, &n);
	nact_reader_fini(&r);
	if (rv != 0)
		return rv;
	if ((rv = nact_msg_alloc(&reply, nact_sys(ctx), T_INC)) != 0)
		return rv;
	nact_pack_init(&pk, reply);
	nact_pack_int(&pk, n + 1);
	if ((rv = nact_pack_error(&pk)) == 0)
		rv = nact_reply(nact_sys(ctx), msg, reply);
	if (rv != 0)
		nact_msg_free(reply);
	return rv;
}

static int fail(const char *what, int rv)
{
	fprintf(stderr, "hello: %s: %s\n", what, nact_strerror(rv));
	return 1;
}

int main(void)
{
	nact_system *sys;
	nact_msg *req, *reply;
	nact_reader r;
	nact_pack pk;
	nact_aid a;
	int64_t n = 0;
	int rv;

	if ((rv = nact_system_open(&sys, NULL)) != 0)
		return fail("nact_system_open", rv);
	if ((rv = nact_spawn(&a, sys, inc, NULL, NULL, NULL)) != 0)
		return fail("nact_spawn", rv);
	if ((rv = nact_msg_alloc(&req, sys, T_INC)) != 0)
		return fail("nact_msg_alloc", rv);
	nact_pack_init(&pk, req);
	nact_pack_int(&pk, 41);
	if ((rv = nact_pack_error(&pk)) != 0)
		return fail("nact_pack_int", rv);
	if ((rv = nact_call(sys, a, req, 10000, &reply)) != 0)
		return fail("nact_call", rv);
	if ((rv = nact_reader_init(&r, reply, NULL)) == 0) {
		rv = nact_read_int(&r, &n);
		nact_reader_fini(&r);
	}
	nact_msg_free(reply);
	nact_system_close(sys, 5000);
	if (rv != 0)
		return fail("reading the reply", rv);
	printf("nactor hello: 41 -> %lld\n", (long long)n);
	return n == 42 ? 0 : 1;
}
