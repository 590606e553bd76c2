/*
 * tests/netsec/interop_node.c — a live node for tests/netsec/interop.sh:
 * runs insecure (allow_insecure) on tcp://127.0.0.1:0, prints
 * "URL <url>", and hosts the actor "adder": a message of type 3 with body
 * [n (int)] adds n to a sum and prints "SUM <sum>"; a body of another
 * shape prints "BAD <error>". It also serves its registry (prints
 * "REG <ipc url>"), whose send verb reaches "adder" too. Stops when stdin
 * reaches EOF.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nactor/node.h>
#include <nactor/registry.h>

static int adder(nact_ctx *ctx, nact_msg *m)
{
	int64_t *sum = nact_state(ctx);
	if (nact_msg_type(m) != 3)
		return 0;
	nact_reader r;
	uint32_t n;
	int64_t v;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv == 0) {
		rv = nact_read_array(&r, &n);
		if (rv == 0 && n != 1)
			rv = NACT_EBADMSG;
		if (rv == 0)
			rv = nact_read_int(&r, &v);
		nact_reader_fini(&r);
	}
	if (rv != 0) {
		printf("BAD %s\n", nact_strerror(rv));
	} else {
		*sum += v;
		printf("SUM %lld\n", (long long)*sum);
	}
	fflush(stdout);
	return 0;
}

int main(void)
{
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 1;
	if (nact_system_open(&sys, &cfg) != 0)
		return 1;
	nact_spawn_opts so = {0};
	so.name = "adder";
	nact_aid id;
	if (nact_spawn(&id, sys, adder, calloc(1, sizeof(int64_t)), free, &so) != 0)
		return 1;
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = "interop";
	o.allow_insecure = 1;
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	o.listen = lst;
	o.nlisten = 1;
	if (nact_node_start(sys, &o) != 0)
		return 1;
	char url[256], reg[256];
	nact_node_url(sys, url, sizeof(url));
	if (nact_registry_serve(sys, "interop", reg, sizeof(reg)) != 0)
		return 1;
	printf("URL %s\nAID %llu\nREG %s\n", url, (unsigned long long)id.v, reg);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	nact_registry_unserve(sys);
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	return 0;
}
