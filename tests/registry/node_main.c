/*
 * tests/registry/node_main.c — a tiny node for the interoperability test
 * (tests/registry/interop.sh): it creates a few operations, serves its
 * registry, prints the url on one line of stdout, and waits for SIGTERM or
 * SIGINT (or a timeout, so a lost test never leaves it running), then
 * unserves and closes.
 *
 *   node_main NODE [TIMEOUT_SECONDS]     (default 60)
 *
 * Operations: "backup" (running, tags "nightly", progress 0.25 "copying"),
 * its child "backup-index" (pending), and "cleanup" (completed).
 * Exit status: 0 after a signal, 2 on timeout, 1 on a setup error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nactor/nactor.h>

int main(int argc, char **argv)
{
	nact_system *sys = NULL;
	nact_config cfg;
	nact_opid a, b, c;
	char url[256];
	sigset_t set;
	int rv;
	if (argc < 2) {
		fprintf(stderr, "usage: %s NODE [TIMEOUT_SECONDS]\n", argv[0]);
		return 1;
	}
	int secs = argc > 2 ? atoi(argv[2]) : 60;
	/* Block the signals before any thread exists, so every thread
	 * inherits the mask and sigtimedwait below is the one that sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	nact_config_init(&cfg);
	cfg.workers = 1;
	if ((rv = nact_system_open(&sys, &cfg)) != 0 ||
	    (rv = nact_op_create(&a, sys, "backup", NACT_OPID_NONE, "nightly")) != 0 ||
	    (rv = nact_op_start(sys, a)) != 0 ||
	    (rv = nact_op_progress(sys, a, 0.25, "copying")) != 0 ||
	    (rv = nact_op_create(&b, sys, "backup-index", a, NULL)) != 0 ||
	    (rv = nact_op_create(&c, sys, "cleanup", NACT_OPID_NONE, NULL)) != 0 ||
	    (rv = nact_op_start(sys, c)) != 0 || (rv = nact_op_complete(sys, c)) != 0 ||
	    (rv = nact_registry_serve(sys, argv[1], url, sizeof(url))) != 0) {
		fprintf(stderr, "node_main: %s\n", nact_strerror(rv));
		nact_system_close(sys, 1000);
		return 1;
	}
	printf("%s\n", url);
	fflush(stdout);
	struct timespec ts = {.tv_sec = secs};
	int sig = sigtimedwait(&set, NULL, &ts);
	nact_registry_unserve(sys);
	nact_system_close(sys, 1000);
	return sig < 0 ? 2 : 0;
}
