/*
 * tests/netsec/test_tls.c — nodes over tls+tcp:// with certificates from a
 * throwaway CA made at test time (mkcerts.sh, openssl): two nodes talk;
 * a node whose certificate comes from another CA is refused; a node
 * without a certificate is refused; bad TLS options fail nact_node_start.
 * Nodes run in this process (one nact_system each). Exit 77 without
 * openssl.
 */
#include "testutil.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nactor/node.h>

#define SECRET "correct horse battery staple"

static char dir[256];
static int teardown_fd = -1; /* forked case: write 'T' when teardown starts */

/* Known issue (docs/netsec.md): nng 1.5.2 sometimes never returns from
 * nng_close of a socket with TLS pipes (its reaper waits inside libnng).
 * Each case runs in a forked child; a child that hangs after its checks,
 * in teardown, is killed and reported, not failed. */
static void teardown_mark(void)
{
	if (teardown_fd >= 0 && write(teardown_fd, "T", 1) != 1)
		teardown_fd = -1;
}

static char *path(const char *f)
{
	static char buf[4][320];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, f);
	return buf[i];
}

static int echo_fn(nact_ctx *ctx, nact_msg *m)
{
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	nact_msg *r;
	size_t bl;
	const void *b = nact_msg_body(m, &bl);
	if (nact_msg_alloc(&r, nact_sys(ctx), nact_msg_type(m)) == 0) {
		nng_msg_append(nact_msg_nng(r), b, bl);
		if (nact_reply(nact_sys(ctx), m, r) != 0)
			nact_msg_free(r);
	}
	return 0;
}

/* A system with an "echo" actor, made a node with the given certificate
 * ("a.pem"...; NULL = no TLS options). */
static int node_up(nact_system **sysp, const char *name, const char *ca, const char *cert,
    const char *secret, int tls_only, const char *listen, const char *seed)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	if (nact_system_open(sysp, &cfg) != 0)
		return NACT_ENOMEM;
	nact_spawn_opts so = {0};
	so.name = "echo";
	nact_aid id;
	nact_spawn(&id, *sysp, echo_fn, NULL, NULL, &so);
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = name;
	o.listen = &listen;
	o.nlisten = 1;
	if (seed != NULL) {
		o.seeds = &seed;
		o.nseeds = 1;
	}
	if (secret != NULL) {
		o.secret = secret;
		o.secret_len = strlen(secret);
	}
	o.tls_only = tls_only;
	o.tls_ca_file = ca ? path(ca) : NULL;
	o.tls_cert_file = cert ? path(cert) : NULL;
	o.reconnect_max_ms = 300;
	return nact_node_start(*sysp, &o);
}

static void node_down(nact_system *sys)
{
	teardown_mark();
	if (sys == NULL)
		return;
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
}

static int call_echo(nact_system *sys, uint16_t peer)
{
	nact_aid echo;
	int rv = nact_node_whereis(sys, peer, "echo", &echo, (int)nt_slow(5000));
	if (rv != 0)
		return rv;
	nact_msg *q = nt_msg_int(sys, 5, 4242), *r = NULL;
	if (q == NULL)
		return NACT_ENOMEM;
	rv = nact_call(sys, echo, q, (int)nt_slow(5000), &r);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(q);
		return rv;
	}
	int ok = nt_body_int(r, -1) == 4242;
	nact_msg_free(r);
	return ok ? 0 : NACT_EBADMSG;
}

static void pair_case(const char *cert_b, const char *ca_b, const char *secret, int tls_only,
    int expect_up)
{
	nact_system *a = NULL, *b = NULL;
	REQUIRE_RV(
	    node_up(&a, "a", "ca.pem", "a.pem", secret, tls_only, "tls+tcp://127.0.0.1:0", NULL));
	char url[256];
	REQUIRE_RV(nact_node_url(a, url, sizeof(url)));
	CHECK(strncmp(url, "tls+tcp://127.0.0.1:", 20) == 0 && strcmp(url + strlen(url) - 2, ":0"));
	int rv = node_up(&b, "b", ca_b, cert_b, secret, tls_only, "tls+tcp://127.0.0.1:0", url);
	CHECK_RV(rv);
	if (rv == 0) {
		uint16_t pa = 0, pb = 0;
		if (expect_up) {
			CHECK_RV(nact_node_peer(b, "a", &pa, (int)nt_slow(NT_LONG_MS)));
			CHECK_RV(nact_node_peer(a, "b", &pb, (int)nt_slow(NT_LONG_MS)));
			if (pa != 0)
				CHECK_RV(call_echo(b, pa));
			if (pb != 0)
				CHECK_RV(call_echo(a, pb));
			/* TLS nodes keep every frame inside TLS: no lanes */
			nact_node_stats sa, sb;
			CHECK_RV(nact_node_stats_get(a, &sa));
			CHECK_RV(nact_node_stats_get(b, &sb));
			CHECK_EQ_U64(sa.lanes_out + sa.lanes_in + sb.lanes_out + sb.lanes_in, 0);
		} else {
			/* the TLS handshake fails: the peers never learn names */
			CHECK_ERR(nact_node_peer(b, "a", &pa, (int)nt_slow(1500)), NACT_ENOENT);
			CHECK_ERR(nact_node_peer(a, "b", &pb, 0), NACT_ENOENT);
		}
	}
	node_down(b);
	node_down(a);
}

static void test_tls_talk(void)
{
	pair_case("b.pem", "ca.pem", SECRET, 0, 1);
}

static void test_tls_only(void)
{
	pair_case("b.pem", "ca.pem", NULL, 1, 1);
}

static void test_tls_other_ca(void)
{
	/* b's certificate is signed by another CA (b trusts both a's CA and
	 * its own, so only a's check can refuse it) */
	pair_case("x.pem", "both.pem", SECRET, 0, 0);
}

static void test_tls_wrong_trust(void)
{
	/* b has a valid certificate but trusts only CA 2: b refuses a */
	pair_case("b.pem", "ca2.pem", SECRET, 0, 0);
}

static void test_plain_client_refused(void)
{
	/* a tcp:// client to a TLS listener: no TLS, no talk */
	nact_system *a = NULL, *b = NULL;
	REQUIRE_RV(node_up(&a, "a", "ca.pem", "a.pem", SECRET, 0, "tls+tcp://127.0.0.1:0", NULL));
	char url[256], plain[256];
	REQUIRE_RV(nact_node_url(a, url, sizeof(url)));
	snprintf(plain, sizeof(plain), "tcp://%s", url + 10);
	CHECK_RV(node_up(&b, "b", NULL, NULL, SECRET, 0, "tcp://127.0.0.1:0", plain));
	uint16_t pa;
	CHECK_ERR(nact_node_peer(b, "a", &pa, (int)nt_slow(1500)), NACT_ENOENT);
	node_down(b);
	node_down(a);
}

static void test_bad_options(void)
{
	struct {
		const char *ca, *cert, *secret;
		int tls_only;
		const char *listen;
	} bad[] = {
	    {NULL, NULL, SECRET, 0, "tls+tcp://127.0.0.1:0"},          /* TLS URL, no certs */
	    {"ca.pem", NULL, SECRET, 0, "tls+tcp://127.0.0.1:0"},      /* no cert */
	    {"nope.pem", "a.pem", SECRET, 0, "tls+tcp://127.0.0.1:0"}, /* missing CA file */
	    {"ca.pem", "a.crt", SECRET, 0, "tls+tcp://127.0.0.1:0"},   /* cert without key */
	    {"ca.pem", "a.pem", SECRET, 1, "tls+tcp://127.0.0.1:0"},   /* tls_only + secret */
	    {"ca.pem", "a.pem", NULL, 1, "tcp://127.0.0.1:0"},         /* tls_only, plain URL */
	    {NULL, NULL, NULL, 1, "tls+tcp://127.0.0.1:0"},            /* tls_only, no certs */
	    {"ca.pem", "a.pem", NULL, 0, "tls+tcp://127.0.0.1:0"},     /* no secret, not tls_only */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nact_system *s = NULL;
		int rv = node_up(&s, "a", bad[i].ca, bad[i].cert, bad[i].secret, bad[i].tls_only,
		    bad[i].listen, NULL);
		if (rv != NACT_EINVAL)
			nt_fail(__FILE__, __LINE__, "case %zu: %s", i, nact_strerror(rv));
		node_down(s);
	}
}

/* Run fn in a child process; see teardown_mark. */
static void forked(void (*fn)(void), const char *name)
{
	int pf[2];
	REQUIRE(pipe(pf) == 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(pf[0]);
		teardown_fd = pf[1];
		fn();
		fflush(stdout);
		_exit(atomic_load(&nt_fail_count) == 0 ? 0 : 1);
	}
	close(pf[1]);
	int st = 0, done = 0, marked = 0;
	uint64_t dl = nt_now_ms() + nt_slow(60000);
	while (!done && nt_now_ms() < dl) {
		char c;
		struct pollfd p = {pf[0], POLLIN, 0};
		if (poll(&p, 1, 50) > 0 && read(pf[0], &c, 1) == 1)
			marked = 1;
		if (waitpid(pid, &st, WNOHANG) == pid)
			done = 1;
	}
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		if (marked)
			printf(
			    "WARNING: %s: nact_node_stop hung in nng_close (nng 1.5.2 TLS, known "
			    "issue): killed after its checks passed\n",
			    name);
		else
			nt_fail(__FILE__, __LINE__, "%s: hung before teardown", name);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		nt_fail(__FILE__, __LINE__, "%s: child failed (status %d)", name, st);
	}
	close(pf[0]);
}

static void f_tls_talk(void)
{
	forked(test_tls_talk, "tls_talk");
}
static void f_tls_only(void)
{
	forked(test_tls_only, "tls_only");
}
static void f_tls_other_ca(void)
{
	forked(test_tls_other_ca, "tls_other_ca");
}
static void f_tls_wrong_trust(void)
{
	forked(test_tls_wrong_trust, "tls_wrong_trust");
}
static void f_plain_client_refused(void)
{
	forked(test_plain_client_refused, "plain_client_refused");
}

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/nact-tls-%d", (int)getpid());
	char cmd[1600];
	snprintf(cmd, sizeof(cmd),
	    "sh '%s/mkcerts.sh' '%s' && cat '%s/ca.pem' '%s/ca2.pem' > '%s/both.pem'", NETSEC_SRC,
	    dir, dir, dir, dir);
	int st = system(cmd);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		printf("SKIP: openssl not installed (apt-get install openssl)\n");
		return 77;
	}
	if (st != 0) {
		fprintf(stderr, "mkcerts.sh failed (%d)\n", st);
		return 1;
	}
	static const nt_case cases[] = {NT_CASE(f_tls_talk), NT_CASE(f_tls_only),
	    NT_CASE(f_tls_other_ca), NT_CASE(f_tls_wrong_trust), NT_CASE(f_plain_client_refused),
	    NT_CASE(test_bad_options), {NULL, NULL}};
	int rv = nt_run(argc, argv, cases);
	nng_fini(); /* see test_node.c */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rv;
}
