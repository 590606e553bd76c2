/*
 * examples/hello — the program shown in the README: an actor that adds the
 * integers it is sent, and a blocking call that reads the sum after them.
 * Error checks are left out for length, as in the README.
 */
#include <nactor/nactor.h>
#include <stdio.h>

enum { T_ADD = 1 };

static int adder(nact_ctx *ctx, nact_msg *m) /* a behaviour */
{
	int64_t *sum = nact_state(ctx), v;
	nact_reader r;
	if (nact_reader_init(&r, m, NULL) == 0 && nact_read_int(&r, &v) == 0)
		*sum += v; /* read in place, no copy */
	nact_reader_fini(&r);
	if (nact_msg_flags(m) & NACT_MF_REQUEST) { /* answer nact_call */
		nact_msg *rep;
		nact_msg_alloc(&rep, nact_sys(ctx), T_ADD);
		nact_reply(nact_sys(ctx), m, rep);
	}
	return 0;
}

int main(void)
{
	nact_system *sys;
	nact_aid a;
	int64_t sum = 0;
	nact_system_open(&sys, NULL); /* one worker per core */
	nact_spawn(&a, sys, adder, &sum, NULL, NULL);
	for (int i = 1; i <= 100; i++) {
		nact_msg *m;
		nact_pack pk;
		nact_msg_alloc(&m, sys, T_ADD);
		nact_pack_init(&pk, m);
		nact_pack_int(&pk, i); /* msgpack-c underneath */
		nact_send(sys, a, m);  /* the runtime owns m now */
	}
	nact_msg *req, *rep;
	nact_msg_alloc(&req, sys, T_ADD);               /* empty body: adds nothing */
	if (nact_call(sys, a, req, 1000, &rep) == 0) {  /* FIFO: after the 100 */
		printf("sum = %lld\n", (long long)sum); /* 5050 */
		nact_msg_free(rep);
	}
	nact_system_close(sys, 1000); /* stops actors, frees all */
	return 0;
}
