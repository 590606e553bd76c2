/*
 * tests/cancel/test_signal.c — SIGTERM/SIGINT against a live node
 * (tests/cancel/signal_node.c, path given at build time): an orderly stop
 * with every operation cancelled with reason "signal", the supervisor
 * stopping its children in reverse order, and the forced exits (grace
 * period over, second signal) with status 128 + signo.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nactor/signal.h>

#include "testutil.h"

#ifndef SIGNAL_NODE
#error "SIGNAL_NODE must name the signal_node executable"
#endif

/* The nodes' runtime directory: a fresh one, so that sockets left by
 * the forced exits never reach the user's. */
static char rundir[64];

struct node {
	char name[64];
	pid_t pid;
	int fd; /* its stdout */
	char out[16384];
	size_t len;
	int eof;
};

static int node_start(struct node *n, const char *mode, const char *grace)
{
	int p[2];
	char *name = n->name;
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "sigtest-%s", mode);
	if (rundir[0] == '\0') {
		snprintf(rundir, sizeof(rundir), "/tmp/nact-sig-XXXXXX");
		if (mkdtemp(rundir) == NULL)
			return -1;
	}
	setenv("XDG_RUNTIME_DIR", rundir, 1);
	if (pipe(p) != 0)
		return -1;
	n->pid = fork();
	if (n->pid < 0)
		return -1;
	if (n->pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(SIGNAL_NODE, SIGNAL_NODE, name, mode, grace, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n->fd = p[0];
	return 0;
}

/* Read what is there, waiting up to ms for more; 0 at EOF. */
static void node_read(struct node *n, int ms)
{
	struct pollfd pf = {.fd = n->fd, .events = POLLIN};
	if (n->eof || poll(&pf, 1, ms) <= 0)
		return;
	ssize_t k = read(n->fd, n->out + n->len, sizeof(n->out) - 1 - n->len);
	if (k <= 0)
		n->eof = 1;
	else
		n->len += (size_t)k;
	n->out[n->len] = '\0';
}

static int has(struct node *n, const char *s)
{
	node_read(n, 1);
	return strstr(n->out, s) != NULL;
}

/* Wait for the node to exit; its wait status, or -1 after ms. */
static int node_wait(struct node *n, int ms)
{
	int st = -1;
	pid_t r = 0;
	NT_WAIT((node_read(n, 1), (r = waitpid(n->pid, &st, WNOHANG)) != 0), ms);
	if (r == 0) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, &st, 0);
		st = -1;
	}
	while (!n->eof)
		node_read(n, 100);
	close(n->fd);
	/* a forced exit leaves its socket files (a later serve would replace
	 * them, as stale): remove them, then the directory if empty */
	char p[192];
	snprintf(p, sizeof(p), "%s/nactor/%s.ipc", rundir, n->name);
	unlink(p);
	snprintf(p, sizeof(p), "%s/nactor/%s.pub.ipc", rundir, n->name);
	unlink(p);
	snprintf(p, sizeof(p), "%s/nactor", rundir);
	rmdir(p);
	if (rmdir(rundir) == 0)
		rundir[0] = '\0';
	return st;
}

/* Every "op ..." line of the final table: count them, and those whose
 * status is cancelled with reason signal and the message want. */
static void table(const struct node *n, int *ops, int *sig, const char *want)
{
	char buf[16384];
	snprintf(buf, sizeof(buf), "%s", n->out);
	*ops = *sig = 0;
	for (char *save, *l = strtok_r(buf, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		char name[64], st[32], rs[32];
		unsigned long long id;
		int used = 0;
		if (sscanf(l, "op %llu %63s %31s %31s %n", &id, name, st, rs, &used) < 4)
			continue;
		(*ops)++;
		if (strcmp(st, "cancelled") == 0 && strcmp(rs, "signal") == 0 &&
		    strcmp(l + used, want) == 0)
			(*sig)++;
		else
			fprintf(stderr, "  not cancelled by signal: %s\n", l);
	}
}

static void orderly(int signo, const char *msg)
{
	struct node n;
	int ops, sig;
	REQUIRE(node_start(&n, "normal", "20000") == 0);
	CHECK(NT_WAIT(has(&n, "ready\n"), NT_LONG_MS));
	REQUIRE(kill(n.pid, signo) == 0);
	int st = node_wait(&n, 30000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the actors cleaned up, seeing reason signal */
	CHECK(strstr(n.out, "cleanup worker-1 reason signal\n") != NULL);
	CHECK(strstr(n.out, "cleanup worker-2 reason signal\n") != NULL);
	/* the supervisor stopped its children in reverse start order */
	const char *w2 = strstr(n.out, "stopped worker-2\n");
	const char *w1 = strstr(n.out, "stopped worker-1\n");
	const char *ss = strstr(n.out, "supervisor stopped\n");
	CHECK(w1 != NULL && w2 != NULL && ss != NULL && w2 < w1 && w1 < ss);
	/* job, step-1, step-1a, step-2, index, worker-1, worker-2 */
	table(&n, &ops, &sig, msg);
	CHECK_EQ_INT(ops, 7);
	CHECK_EQ_INT(sig, 7);
	CHECK(strstr(n.out, "\nend\n") != NULL);
	if (nt_fail_count)
		fprintf(stderr, "node output:\n%s", n.out);
}

static void test_sigterm_orderly(void)
{
	orderly(SIGTERM, "SIGTERM received");
}

static void test_sigint_orderly(void)
{
	orderly(SIGINT, "SIGINT received");
}

/* A callback that does not return within the grace period: the watchdog
 * exits with 128 + SIGTERM, without the final table. */
static void test_grace_expires(void)
{
	struct node n;
	REQUIRE(node_start(&n, "slow", "300") == 0);
	CHECK(NT_WAIT(has(&n, "ready\n"), NT_LONG_MS));
	REQUIRE(kill(n.pid, SIGTERM) == 0);
	int st = node_wait(&n, 20000); /* the callback sleeps 30 s */
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM);
	CHECK(strstr(n.out, "slow callback\n") != NULL);
	CHECK(strstr(n.out, "\nend\n") == NULL);
}

/* A second signal while the first one's callback is slow: exit at once
 * with 128 + that signal (grace 60 s, callback 30 s: neither ends it). */
static void test_second_signal(void)
{
	struct node n;
	REQUIRE(node_start(&n, "slow", "60000") == 0);
	CHECK(NT_WAIT(has(&n, "ready\n"), NT_LONG_MS));
	REQUIRE(kill(n.pid, SIGTERM) == 0);
	CHECK(NT_WAIT(has(&n, "slow callback\n"), NT_LONG_MS));
	REQUIRE(kill(n.pid, SIGINT) == 0);
	int st = node_wait(&n, 20000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGINT);
	CHECK(strstr(n.out, "\nend\n") == NULL);
}

/* In-process API checks: errors, one installation per process, wait
 * timing out, cancel_all on a 3-level tree. */
static void test_api(void)
{
	nact_system *sys;
	nact_signals *sg = NULL, *sg2 = NULL;
	nact_opid a, b, c, d;
	nact_op_info in;
	size_t n = 0;
	REQUIRE_RV(nt_open(&sys, 1, 0));
	CHECK_ERR(nact_signals_install(NULL, sys, NULL), NACT_EINVAL);
	CHECK_ERR(nact_signals_install(&sg, NULL, NULL), NACT_EINVAL);
	nact_signal_opts bad = {.grace_ms = -1};
	CHECK_ERR(nact_signals_install(&sg, sys, &bad), NACT_EINVAL);
	REQUIRE_RV(nact_signals_install(&sg, sys, NULL));
	CHECK_ERR(nact_signals_install(&sg2, sys, NULL), NACT_ESTATE);
	CHECK_EQ_INT(nact_signals_wait(sg, 10), 0);
	CHECK_ERR(nact_signals_wait(sg, -1), NACT_EINVAL);
	CHECK_EQ_INT(nact_signals_signo(sg), 0);
	CHECK_EQ_INT(nact_signals_left_ms(sg), 5000);
	nact_signals_remove(sg);
	/* installable again after remove */
	REQUIRE_RV(nact_signals_install(&sg, sys, NULL));
	nact_signals_remove(sg);
	nact_signals_remove(NULL);

	CHECK_ERR(nact_op_cancel_all(NULL, NACT_CANCEL_SIGNAL, NULL, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel_all(sys, NACT_CANCEL_NONE, NULL, NULL), NACT_EINVAL);
	CHECK_ERR(nact_op_cancel_all(sys, NACT_CANCEL_NREASONS, NULL, NULL), NACT_EINVAL);
	REQUIRE_RV(nact_op_create(&a, sys, "a", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&b, sys, "b", a, NULL));
	REQUIRE_RV(nact_op_create(&c, sys, "c", b, NULL));
	REQUIRE_RV(nact_op_create(&d, sys, "d", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, b));
	REQUIRE_RV(nact_op_start(sys, d));
	REQUIRE_RV(nact_op_complete(sys, d));
	CHECK_RV(nact_op_cancel_all(sys, NACT_CANCEL_SIGNAL, "bye", &n));
	CHECK_EQ_INT(n, 3);
	nact_opid ids[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		REQUIRE_RV(nact_op_get(sys, ids[i], &in));
		CHECK_EQ_INT(in.status, NACT_OP_CANCELLED);
		CHECK_EQ_INT(in.reason, NACT_CANCEL_SIGNAL);
		CHECK_STR(in.message, "bye");
	}
	REQUIRE_RV(nact_op_get(sys, d, &in));
	CHECK_EQ_INT(in.status, NACT_OP_COMPLETED);
	CHECK_RV(nact_op_cancel_all(sys, NACT_CANCEL_SIGNAL, "again", &n));
	CHECK_EQ_INT(n, 0);
	nact_system_close(sys, 1000);
}

NT_MAIN(NT_CASE(test_api), NT_CASE(test_sigterm_orderly), NT_CASE(test_sigint_orderly),
    NT_CASE(test_grace_expires), NT_CASE(test_second_signal))
