/*
 * tests/netsec/part_node.c — a node for tests/netsec/partition.sh:
 *   part_node NAME LISTEN-URL SEED-URL|- PEER-NAME
 * Prints "UP PEER" / "DOWN PEER" whenever nact_node_up for PEER changes
 * (checked every 20 ms), until stdin reaches EOF. Shared test secret;
 * heartbeat 100 ms, down after 1000 ms.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nactor/node.h>

int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 1;
	if (nact_system_open(&sys, &cfg) != 0)
		return 1;
	static const char secret[] = "partition test secret, 32 bytes!";
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = argv[1];
	o.secret = secret;
	o.secret_len = sizeof(secret) - 1;
	const char *lst[1] = {argv[2]};
	const char *seeds[1] = {argv[3]};
	o.listen = lst;
	o.nlisten = 1;
	if (strcmp(argv[3], "-") != 0) {
		o.seeds = seeds;
		o.nseeds = 1;
	}
	o.heartbeat_ms = 100;
	o.down_after_ms = 1000;
	o.reconnect_max_ms = 500;
	int rv = nact_node_start(sys, &o);
	if (rv != 0) {
		fprintf(stderr, "node start: %s\n", nact_strerror(rv));
		return 1;
	}
	printf("STARTED\n");
	fflush(stdout);
	int was = 0;
	for (;;) {
		struct pollfd p = {0, POLLIN, 0};
		if (poll(&p, 1, 20) > 0) {
			char c;
			if (read(0, &c, 1) <= 0)
				break;
		}
		uint16_t no;
		int up = nact_node_peer(sys, argv[4], &no, 0) == 0 && nact_node_up(sys, no);
		if (up != was) {
			printf("%s %s\n", up ? "UP" : "DOWN", argv[4]);
			fflush(stdout);
			was = up;
		}
	}
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	return 0;
}
