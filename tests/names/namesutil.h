/*
 * tests/names/namesutil.h — child node processes driven by commands, for
 * the names tests.
 *
 * A test starts a child by re-executing its own binary with
 *   --nchild NAME SEEDS|- PREREG|-
 * (SEEDS: comma-separated URLs; PREREG: a global name registered before
 * the node starts). The child opens a system, registers the behaviour
 * "echo" (below), starts an insecure node on tcp://127.0.0.1:0, prints
 * "URL <url>" and then answers one line per command read on stdin:
 *   reg NAME          spawn a holder actor, register it as NAME  -> "<rv>"
 *   unreg NAME        nact_global_unregister                     -> "<rv>"
 *   where NAME MS     nact_global_whereis                        -> "<rv> <node bits>"
 *   kill NAME         stop the actor registered here as NAME     -> "<rv>"
 *   lost              NACT_T_NAME_LOST messages the holders got  -> "<n>"
 *   peer NAME         wait for peer NAME to be up (10 s)          -> "<rv> <no>"
 * EOF on stdin stops it (PR_SET_PDEATHSIG kills it if the test dies).
 *
 * Behaviour "echo": args must be a msgpack string (a prefix); a request
 * with a string body s is answered with the string "prefix:s".
 * A holder answers any request with its node's name.
 */
#ifndef NACT_TESTS_NAMESUTIL_H
#define NACT_TESTS_NAMESUTIL_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nactor/node.h>

#include "childproc.h"

typedef struct nm_child {
	pid_t pid;
	int in, out;   /* its stdin (write end), its stdout (read end) */
	char url[256]; /* its advertised URL */
	char buf[512]; /* unread output */
	size_t got;
} nm_child;

static pid_t nm_live[16];

static void nm_reap(void)
{
	for (int i = 0; i < 16; i++) {
		if (nm_live[i] > 0) {
			kill(nm_live[i], SIGKILL);
			waitpid(nm_live[i], NULL, 0);
			nm_live[i] = 0;
		}
	}
}

static void nm_track(pid_t pid, int add)
{
	static int registered;
	if (!registered) {
		registered = 1;
		atexit(nm_reap);
	}
	for (int i = 0; i < 16; i++) {
		if (add ? nm_live[i] == 0 : nm_live[i] == pid) {
			nm_live[i] = add ? pid : 0;
			return;
		}
	}
}

/* ---- the behaviour "echo" ---- */

static int echo_init(nact_system *sys, const void *args, size_t len, void **statep, char *err,
    size_t errlen)
{
	(void)sys;
	nact_reader r;
	const char *s;
	size_t sl;
	int rv = nact_reader_init_buf(&r, args, len, NULL);
	if (rv == 0)
		rv = nact_read_str(&r, &s, &sl);
	if (rv == 0 && !nact_read_done(&r))
		rv = NACT_EBADMSG;
	if (rv == 0 && (*statep = calloc(1, sl + 1)) == NULL)
		rv = NACT_ENOMEM;
	if (rv == 0)
		memcpy(*statep, s, sl);
	nact_reader_fini(&r);
	if (rv != 0 && rv != NACT_ENOMEM) {
		snprintf(err, errlen, "echo: args must be one msgpack string (%s)",
		    nact_strerror(rv));
		return NACT_EBADMSG;
	}
	return rv;
}

static int echo_fn(nact_ctx *ctx, nact_msg *m)
{
	const char *prefix = nact_state(ctx);
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	nact_reader r;
	const char *s = "";
	size_t sl = 0;
	if (nact_reader_init(&r, m, NULL) != 0 || nact_read_str(&r, &s, &sl) != 0) {
		nact_reply_error(nact_sys(ctx), m, NACT_EBADMSG, "echo: a string please");
		nact_reader_fini(&r);
		return 0;
	}
	char out[512];
	snprintf(out, sizeof(out), "%s:%.*s", prefix, (int)sl, s);
	nact_reader_fini(&r);
	nact_msg *rep;
	if (nact_msg_alloc(&rep, nact_sys(ctx), nact_msg_type(m)) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, rep);
		nact_pack_str(&pk, out);
		if (nact_reply(nact_sys(ctx), m, rep) != 0)
			nact_msg_free(rep);
	}
	return 0;
}

static int nm_register_echo(nact_system *sys)
{
	nact_behaviour_def d = {0};
	d.fn = echo_fn;
	d.init = echo_init;
	d.fini = free;
	return nact_behaviour_register(sys, "echo", &d);
}

/* ---- the child ---- */

struct nm_holder_env {
	_Atomic int lost;
	char node[64];
};

static int holder_fn(nact_ctx *ctx, nact_msg *m)
{
	struct nm_holder_env *env = nact_state(ctx);
	if (nact_msg_type(m) == NACT_T_NAME_LOST) {
		atomic_fetch_add(&env->lost, 1);
	} else if (nact_msg_flags(m) & NACT_MF_REQUEST) {
		nact_msg *rep;
		if (nact_msg_alloc(&rep, nact_sys(ctx), 1) == 0) {
			nact_pack pk;
			nact_pack_init(&pk, rep);
			nact_pack_str(&pk, env->node);
			if (nact_reply(nact_sys(ctx), m, rep) != 0)
				nact_msg_free(rep);
		}
	}
	return 0;
}

static int nm_reg(nact_system *sys, struct nm_holder_env *env, const char *name)
{
	nact_aid h;
	int rv = nact_spawn(&h, sys, holder_fn, env, NULL, NULL);
	if (rv == 0 && (rv = nact_global_register(sys, name, h)) != 0)
		nact_stop(sys, h);
	return rv;
}

static int nm_child_main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 3;
	signal(SIGPIPE, SIG_IGN);
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	if (nact_system_open(&sys, &cfg) != 0)
		return 4;
	static struct nm_holder_env env;
	snprintf(env.node, sizeof(env.node), "%s", argv[2]);
	nm_register_echo(sys);
	if (strcmp(argv[4], "-") != 0 && nm_reg(sys, &env, argv[4]) != 0)
		return 6;
	char seedbuf[1024];
	const char *seeds[8];
	uint32_t ns = 0;
	snprintf(seedbuf, sizeof(seedbuf), "%s", argv[3]);
	if (strcmp(seedbuf, "-") != 0) {
		for (char *save, *t = strtok_r(seedbuf, ",", &save); t != NULL && ns < 8;
		     t = strtok_r(NULL, ",", &save))
			seeds[ns++] = t;
	}
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = argv[2];
	o.allow_insecure = 1;
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = ns;
	int rv = nact_node_start(sys, &o);
	if (rv != 0) {
		fprintf(stderr, "child %s: node start: %s\n", argv[2], nact_strerror(rv));
		nact_system_close(sys, 1000);
		return 5;
	}
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	char line[512];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char cmd[32] = "", arg[300] = "";
		int ms = 0;
		if (sscanf(line, "%31s %299s %d", cmd, arg, &ms) < 1)
			continue;
		nact_aid a = {0};
		if (strcmp(cmd, "reg") == 0) {
			printf("%d\n", nm_reg(sys, &env, arg));
		} else if (strcmp(cmd, "unreg") == 0) {
			printf("%d\n", nact_global_unregister(sys, arg));
		} else if (strcmp(cmd, "where") == 0) {
			rv = nact_global_whereis(sys, arg, &a, ms);
			printf("%d %u\n", rv, rv == 0 ? nact_aid_node(a) : 0);
		} else if (strcmp(cmd, "kill") == 0) {
			rv = nact_global_whereis(sys, arg, &a, 0);
			if (rv == 0)
				rv = nact_aid_node(a) == 0 ? nact_stop(sys, a) : NACT_ESTATE;
			printf("%d\n", rv);
		} else if (strcmp(cmd, "lost") == 0) {
			printf("%d\n", atomic_load(&env.lost));
		} else if (strcmp(cmd, "peer") == 0) {
			uint16_t no = 0;
			rv = nact_node_peer(sys, arg, &no, 10000);
			printf("%d %u\n", rv, no);
		} else {
			printf("%d\n", NACT_EINVAL);
		}
		fflush(stdout);
	}
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	return 0;
}

/* Read one line of the child's output within ms into line. 0 or -1. */
static int nm_line(nm_child *ch, char *line, size_t cap, int ms)
{
	return nt_read_line(ch->out, ch->buf, sizeof(ch->buf), &ch->got, line, cap, (uint64_t)ms);
}

/* Send a command, read the answer's numbers: returns how many were read
 * (a, b), -1 if no answer. */
static int nm_cmd(nm_child *ch, const char *cmd, int *a, int *b)
{
	char line[512];
	size_t l = strlen(cmd);
	if (write(ch->in, cmd, l) != (ssize_t)l || write(ch->in, "\n", 1) != 1)
		return -1;
	if (nm_line(ch, line, sizeof(line), (int)nt_slow(20000)) != 0)
		return -1;
	int x = 0, y = 0;
	int n = sscanf(line, "%d %d", &x, &y);
	if (a)
		*a = x;
	if (b)
		*b = y;
	return n;
}

static int nm_child_start(nm_child *ch, const char *name, const char *seeds, const char *prereg)
{
	memset(ch, 0, sizeof(*ch));
	ch->pid = -1;
	char *argv[] = {"names-child", "--nchild", (char *)name, (char *)(seeds ? seeds : "-"),
	    (char *)(prereg ? prereg : "-"), NULL};
	pid_t pid = nt_spawn_self(argv, &ch->in, &ch->out);
	if (pid < 0)
		return -1;
	ch->pid = pid;
	nm_track(pid, 1);
	char line[300];
	if (nm_line(ch, line, sizeof(line), (int)nt_slow(NT_LONG_MS)) != 0 ||
	    strncmp(line, "URL ", 4) != 0)
		return -1;
	snprintf(ch->url, sizeof(ch->url), "%.255s", line + 4);
	return 0;
}

static void nm_child_close_fds(nm_child *ch)
{
	if (ch->in > 0)
		close(ch->in);
	if (ch->out > 0)
		close(ch->out);
	ch->in = ch->out = -1;
}

/* Stop (EOF on stdin), reap, SIGKILL after the deadline. Safe twice.
 * Returns its exit status (0 for a clean stop; sanitizer reports make it
 * nonzero), -1 if it was killed or not running. */
static int nm_child_stop(nm_child *ch)
{
	if (ch->pid <= 0)
		return -1;
	if (ch->in > 0)
		close(ch->in);
	ch->in = -1;
	uint64_t dl = nt_now_ms() + nt_slow(5000);
	int st = 0, killed = 0;
	while (waitpid(ch->pid, &st, WNOHANG) == 0) {
		if (nt_now_ms() >= dl) {
			kill(ch->pid, SIGKILL);
			waitpid(ch->pid, &st, 0);
			killed = 1;
			break;
		}
		nng_msleep(5);
	}
	nm_track(ch->pid, 0);
	nm_child_close_fds(ch);
	ch->pid = -1;
	return killed || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void nm_child_kill9(nm_child *ch)
{
	if (ch->pid <= 0)
		return;
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, NULL, 0);
	nm_track(ch->pid, 0);
	nm_child_close_fds(ch);
	ch->pid = -1;
}

/* Start this process's node (insecure) with up to 4 seeds. */
static int nm_node_start(nact_system *sys, const char *name, const char *s1, const char *s2)
{
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = name;
	o.allow_insecure = 1;
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	const char *seeds[2];
	uint32_t ns = 0;
	if (s1)
		seeds[ns++] = s1;
	if (s2)
		seeds[ns++] = s2;
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = ns;
	return nact_node_start(sys, &o);
}

#endif
