/*
 * tests/names/test_nactor_node.c — the stock executable: nactor-node runs
 * as a process from a config file with the example plugin; this process is
 * a node that spawns the plugin's behaviour there and talks to it; SIGTERM
 * stops it cleanly. Bad config files exit 2 naming the line.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nactor/node.h>

#define SECRET "a secret of more than sixteen bytes"

static pid_t live_pid = -1;

static void kill_live(void)
{
	if (live_pid > 0) {
		kill(live_pid, SIGKILL);
		waitpid(live_pid, NULL, 0);
		live_pid = -1;
	}
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Read a whole (small) file into buf. */
static void read_file(const char *path, char *buf, size_t cap)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Run nactor-node with argv (NULL-terminated), stdout+stderr to outpath,
 * XDG_RUNTIME_DIR=dir. */
static pid_t run_node(const char *dir, const char *outpath, const char *const *args)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setenv("XDG_RUNTIME_DIR", dir, 1);
		execv(NACTOR_NODE_BIN, (char *const *)args);
		_exit(127);
	}
	return pid;
}

/* Wait for pid to exit within ms; its exit status, or -1 (then killed). */
static int wait_exit(pid_t pid, int ms)
{
	uint64_t dl = nt_now_ms() + (uint64_t)ms;
	int st = 0;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (nt_now_ms() >= dl) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(5000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_run_plugin_sigterm(void)
{
	char dir[] = "/tmp/nactor-node-test-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char secret[300], conf[300], logf[300], out[300], sock[300], regsock[400], text[4096];
	snprintf(secret, sizeof(secret), "%s/secret", dir);
	snprintf(conf, sizeof(conf), "%s/node.conf", dir);
	snprintf(logf, sizeof(logf), "%s/node.log", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(sock, sizeof(sock), "%s/pn.ipc", dir);
	snprintf(regsock, sizeof(regsock), "%s/nactor/pn-reg.ipc", dir);
	REQUIRE(write_file(secret, SECRET "\n") == 0);
	snprintf(text, sizeof(text),
	    "# a node for the test\n"
	    "name = pn\n"
	    "listen = ipc://%s\n"
	    "secret_file = %s\n"
	    "\n"
	    "load = %s\n"
	    "registry = pn-reg\n"
	    "log_file = %s\n"
	    "log_level = info\n",
	    sock, secret, PLUGIN_ECHO, logf);
	REQUIRE(write_file(conf, text) == 0);
	const char *args[] = {"nactor-node", "--config", conf, NULL};
	pid_t pid = run_node(dir, out, args);
	REQUIRE(pid > 0);
	live_pid = pid;
	atexit(kill_live);

	nact_system *sys = NULL;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	REQUIRE_RV(nact_system_open(&sys, &cfg));
	char seed[320];
	snprintf(seed, sizeof(seed), "ipc://%s", sock);
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = "tester";
	o.secret = SECRET;
	o.secret_len = strlen(SECRET);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	const char *seeds[1] = {seed};
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = 1;
	CHECK_RV(nact_node_start(sys, &o));
	uint16_t pn = 0;
	CHECK_RV(nact_node_peer(sys, "pn", &pn, (int)nt_slow(NT_LONG_MS)));
	if (pn != 0) {
		uint8_t a[16] = {0xa4, 'p', 'l', 'u', 'g'};
		nact_aid aid = {0};
		char err[160];
		CHECK_ERR(nact_node_spawn(sys, pn, "echo", a, 5, &aid, (int)nt_slow(5000), err,
		              sizeof(err)),
		    NACT_ENOENT);
		CHECK_ERR(nact_node_spawn(sys, pn, "plugin.echo", "\x01", 1, &aid,
		              (int)nt_slow(5000), err, sizeof(err)),
		    NACT_EBADMSG);
		CHECK_RV(nact_node_spawn(sys, pn, "plugin.echo", a, 5, &aid, (int)nt_slow(5000),
		    err, sizeof(err)));
		CHECK_EQ_INT(nact_aid_node(aid), pn);
		nact_msg *q, *r = NULL;
		REQUIRE_RV(nact_msg_alloc(&q, sys, 5));
		nact_pack pk;
		nact_pack_init(&pk, q);
		nact_pack_str(&pk, "hello");
		int rv = nact_call(sys, aid, q, (int)nt_slow(5000), &r);
		CHECK_RV(rv);
		if (rv == 0) {
			nact_reader rd;
			const char *t = "";
			size_t tl = 0;
			CHECK_RV(nact_reader_init(&rd, r, NULL));
			CHECK_RV(nact_read_str(&rd, &t, &tl));
			CHECK(tl == 10 && memcmp(t, "plug:hello", 10) == 0);
			nact_reader_fini(&rd);
			nact_msg_free(r);
		} else if (rv != NACT_ETIMEDOUT) {
			nact_msg_free(q);
		}
	}
	struct stat stb;
	CHECK(stat(sock, &stb) == 0);
	CHECK(stat(regsock, &stb) == 0);
	/* graceful stop */
	CHECK(kill(pid, SIGTERM) == 0);
	int st = wait_exit(pid, (int)nt_slow(15000));
	live_pid = -1;
	CHECK_EQ_INT(st, 0);
	CHECK(stat(sock, &stb) != 0);
	CHECK(stat(regsock, &stb) != 0);
	read_file(logf, text, sizeof(text));
	CHECK(strstr(text, "loaded") != NULL);
	CHECK(strstr(text, "SIGTERM: stopping") != NULL);
	CHECK(strstr(text, "pn stopped") != NULL);
	if (st != 0 || strstr(text, "pn stopped") == NULL) {
		printf("node log:\n%s\n", text);
		read_file(out, text, sizeof(text));
		printf("node output:\n%s\n", text);
	}
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	unlink(secret);
	unlink(conf);
	unlink(logf);
	unlink(out);
	char sub[320];
	snprintf(sub, sizeof(sub), "%s/nactor", dir);
	rmdir(sub);
	CHECK(rmdir(dir) == 0);
}

/* A table of bad config files: exit 2, and the message names the line. */
static void test_bad_config(void)
{
	static const struct {
		const char *text;
		const char *want; /* in the output, after the path */
	} bad[] = {
	    {"name = x\nbogus = 1\n", ":2: bogus: unknown key"},
	    {"name = x\nlisten\n", ":2: expected `key = value`"},
	    {"# c\n\nlog_level = loud\n", ":3: log_level"},
	    {"allow_insecure = maybe\n", ":1: allow_insecure"}, {"name = x\n = 3\n", ":2:"},
	    {"lanes = sometimes\n", ":1: lanes: lanes takes 0/1"},
	    {"name =\n", ":1: name: empty value"},
	    {"name = 0123456789012345678901234567890123456789012345678901234567890123456789\n",
	        ":1: name"},
	    {"name = x\nlisten = tcp://127.0.0.1:0\n", "give secret_file"}, /* no secret */
	};
	char dir[] = "/tmp/nactor-node-bad-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char conf[300], out[300], text[2048];
	snprintf(conf, sizeof(conf), "%s/bad.conf", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		REQUIRE(write_file(conf, bad[i].text) == 0);
		const char *args[] = {"nactor-node", "--config", conf, NULL};
		pid_t pid = run_node(dir, out, args);
		REQUIRE(pid > 0);
		int st = wait_exit(pid, (int)nt_slow(10000));
		read_file(out, text, sizeof(text));
		if (st != 2 || strstr(text, bad[i].want) == NULL)
			printf("case %zu: exit %d, output: %s\n", i, st, text);
		CHECK_EQ_INT(st, 2);
		CHECK(strstr(text, bad[i].want) != NULL);
	}
	/* flags: a missing file, a missing value, an unknown flag, --help */
	const char *a1[] = {"nactor-node", "--config", "/nonexistent/x.conf", NULL};
	const char *a2[] = {"nactor-node", "--name", NULL};
	const char *a3[] = {"nactor-node", "--frobnicate", "1", NULL};
	const char *a4[] = {"nactor-node", "--help", NULL};
	const char *a5[] = {"nactor-node", "--name", "x", "--listen", "tcp://127.0.0.1:0",
	    "--secret-file", "/nonexistent/secret", NULL};
	const char *const *cases[] = {a1, a2, a3, a4, a5};
	const int want[] = {2, 2, 2, 0, 2};
	for (int i = 0; i < 5; i++) {
		pid_t pid = run_node(dir, out, cases[i]);
		REQUIRE(pid > 0);
		int st = wait_exit(pid, (int)nt_slow(10000));
		if (st != want[i]) {
			read_file(out, text, sizeof(text));
			printf("flags case %d: exit %d, output: %s\n", i, st, text);
		}
		CHECK_EQ_INT(st, want[i]);
	}
	read_file(out, text, sizeof(text));
	CHECK(strstr(text, "secret") != NULL);
	unlink(conf);
	unlink(out);
	CHECK(rmdir(dir) == 0);
}

NT_MAIN(NT_CASE(test_bad_config), NT_CASE(test_run_plugin_sigterm))
