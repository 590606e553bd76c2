/*
 * examples/nodes — two nodes on this machine.
 *
 * Node "alpha" (this process) uses two actors that live on node "beta" (a
 * second process this program starts by re-executing itself): "kv", a
 * small key-value store, and "upper", a pipeline stage that upper-cases
 * text. alpha monitors kv; then beta is killed with SIGKILL: alpha's
 * monitor reports nodedown, requests time out; beta is started again on
 * the same address, rejoins under the same node number, and alpha carries
 * on. Exit status 0 only if every step gave the expected result.
 *
 *   ./build/examples/nactor_nodes
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/nactor.h>
#include <nactor/node.h>

#define SECRET "example-cluster-secret-please-change"
#define T_PUT 1u
#define T_GET 2u
#define T_UPPER 3u
#define T_WATCH 4u

/* ---- node beta: the actors ---- */

struct kv {
	char keys[16][32];
	char vals[16][64];
	int n;
};

static int kv_fn(nact_ctx *ctx, nact_msg *m)
{
	struct kv *kv = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_reader r;
	const char *k, *v = NULL;
	size_t kl, vl = 0;
	uint32_t cnt;
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	if (nact_reader_init(&r, m, NULL) != 0 || nact_read_array(&r, &cnt) != 0 ||
	    nact_read_str(&r, &k, &kl) != 0 || kl >= 32 ||
	    (nact_msg_type(m) == T_PUT && (nact_read_str(&r, &v, &vl) != 0 || vl >= 64))) {
		nact_reader_fini(&r);
		return nact_reply_error(sys, m, NACT_EBADMSG, "want [key] or [key, value]"), 0;
	}
	int i;
	for (i = 0; i < kv->n && !(strlen(kv->keys[i]) == kl && !memcmp(kv->keys[i], k, kl)); i++)
		;
	nact_msg *rep;
	if (nact_msg_alloc(&rep, sys, nact_msg_type(m)) != 0) {
		nact_reader_fini(&r);
		return 0;
	}
	nact_pack pk;
	nact_pack_init(&pk, rep);
	if (nact_msg_type(m) == T_PUT && (i < kv->n || kv->n < 16)) {
		if (i == kv->n)
			kv->n++;
		snprintf(kv->keys[i], 32, "%.*s", (int)kl, k);
		snprintf(kv->vals[i], 64, "%.*s", (int)vl, v);
		nact_pack_bool(&pk, 1);
	} else if (nact_msg_type(m) == T_GET && i < kv->n) {
		nact_pack_str(&pk, kv->vals[i]);
	} else {
		nact_pack_nil(&pk);
	}
	nact_reader_fini(&r);
	if (nact_reply(sys, m, rep) != 0)
		nact_msg_free(rep);
	return 0;
}

static int upper_fn(nact_ctx *ctx, nact_msg *m)
{
	nact_reader r;
	const char *s;
	size_t sl;
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	if (nact_reader_init(&r, m, NULL) != 0 || nact_read_str(&r, &s, &sl) != 0 || sl > 255) {
		nact_reader_fini(&r);
		return nact_reply_error(nact_sys(ctx), m, NACT_EBADMSG, "want a string"), 0;
	}
	char buf[256];
	for (size_t i = 0; i < sl; i++)
		buf[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
	nact_reader_fini(&r);
	nact_msg *rep;
	if (nact_msg_alloc(&rep, nact_sys(ctx), T_UPPER) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, rep);
		nact_pack_strn(&pk, buf, sl);
		if (nact_reply(nact_sys(ctx), m, rep) != 0)
			nact_msg_free(rep);
	}
	return 0;
}

static nact_system *open_node(const char *name, const char *listen, const char *seed)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 1;
	nact_system *sys;
	if (nact_system_open(&sys, &cfg) != 0)
		return NULL;
	nact_node_opts o;
	nact_node_opts_init(&o);
	const char *l[1] = {listen};
	const char *s[1] = {seed};
	o.name = name;
	o.listen = l;
	o.nlisten = 1;
	o.seeds = s;
	o.nseeds = seed ? 1 : 0;
	o.secret = SECRET;
	o.secret_len = strlen(SECRET);
	if (nact_node_start(sys, &o) != 0) {
		nact_system_close(sys, 1000);
		return NULL;
	}
	return sys;
}

static int beta_main(const char *listen)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	nact_system *sys = open_node("beta", listen, NULL);
	if (sys == NULL)
		return 2;
	nact_aid id;
	nact_spawn_opts so = {0};
	so.name = "kv";
	nact_spawn(&id, sys, kv_fn, calloc(1, sizeof(struct kv)), free, &so);
	so.name = "upper";
	nact_spawn(&id, sys, upper_fn, NULL, NULL, &so);
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	return 0;
}

/* ---- node alpha ---- */

struct beta_proc {
	pid_t pid;
	int in;
	char url[256];
};

static int beta_start(struct beta_proc *b, const char *listen)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/proc/self/exe", "nactor_nodes", "--beta", listen, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	b->pid = pid;
	b->in = in[1];
	char buf[300];
	size_t got = 0;
	while (got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL) {
		struct pollfd pf = {out[0], POLLIN, 0};
		if (poll(&pf, 1, 10000) <= 0)
			break;
		ssize_t r = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(out[0]);
	buf[got] = '\0';
	char *nl = strchr(buf, '\n');
	if (pid < 0 || nl == NULL || strncmp(buf, "URL ", 4) != 0)
		return -1;
	*nl = '\0';
	snprintf(b->url, sizeof(b->url), "%.255s", buf + 4);
	return 0;
}

static void beta_kill(struct beta_proc *b, int sig)
{
	if (b->pid <= 0)
		return;
	if (sig != 0) {
		kill(b->pid, sig);
	} else {
		close(b->in);
		b->in = -1;
	}
	waitpid(b->pid, NULL, 0);
	if (b->in >= 0)
		close(b->in);
	b->pid = 0;
}

/* A request [strs...] to `to`; the reply's first str copied to out ("" for
 * nil). 0, or an error. */
static int ask(nact_system *sys, nact_aid to, uint32_t type, const char *a, const char *b,
    char *out, size_t outl)
{
	nact_msg *q, *r = NULL;
	int rv = nact_msg_alloc(&q, sys, type);
	if (rv != 0)
		return rv;
	nact_pack pk;
	nact_pack_init(&pk, q);
	if (type != T_UPPER)
		nact_pack_array(&pk, b ? 2 : 1);
	nact_pack_str(&pk, a);
	if (b)
		nact_pack_str(&pk, b);
	if ((rv = nact_call(sys, to, q, 1000, &r)) != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(q);
		return rv;
	}
	nact_reader rd;
	const char *s;
	size_t sl;
	out[0] = '\0';
	if (nact_reader_init(&rd, r, NULL) == 0 && nact_read_str(&rd, &s, &sl) == 0)
		snprintf(out, outl, "%.*s", (int)sl, s);
	nact_reader_fini(&rd);
	nact_msg_free(r);
	return 0;
}

struct watcher {
	nact_aid target;
	nng_mtx *mtx;
	nng_cv *cv;
	int downs, reason;
};

static int watcher_fn(nact_ctx *ctx, nact_msg *m)
{
	struct watcher *w = nact_state(ctx);
	if (nact_msg_type(m) == T_WATCH) {
		nact_monitor(ctx, w->target, NULL);
	} else if (nact_msg_type(m) == NACT_T_DOWN) {
		nact_exit_info ei;
		nact_exit_info_read(m, &ei);
		printf("alpha: DOWN for kv on beta, reason %s\n",
		    ei.reason == NACT_EXIT_NODEDOWN ? "nodedown" : ei.text);
		nng_mtx_lock(w->mtx);
		w->downs++;
		w->reason = ei.reason;
		nng_cv_wake(w->cv);
		nng_mtx_unlock(w->mtx);
	}
	return 0;
}

#define EXPECT(cond, what)                                     \
	do {                                                   \
		if (!(cond)) {                                 \
			fprintf(stderr, "FAILED: %s\n", what); \
			failed = 1;                            \
			goto out;                              \
		}                                              \
	} while (0)

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--beta") == 0)
		return beta_main(argv[2]);
	int failed = 0;
	struct beta_proc beta = {0};
	struct watcher w = {0};
	nact_system *sys = NULL;
	char s[256];
	uint16_t b;
	nact_aid kv, up, wa;
	EXPECT(beta_start(&beta, "tcp://127.0.0.1:0") == 0, "start beta");
	printf("beta listens on %s\n", beta.url);
	sys = open_node("alpha", "tcp://127.0.0.1:0", beta.url);
	EXPECT(sys != NULL, "start alpha");
	EXPECT(nact_node_peer(sys, "beta", &b, 10000) == 0, "beta up");
	printf("alpha: beta is node %u here\n", b);
	EXPECT(nact_node_whereis(sys, b, "kv", &kv, 2000) == 0, "whereis kv");
	EXPECT(nact_node_whereis(sys, b, "upper", &up, 2000) == 0, "whereis upper");
	EXPECT(ask(sys, kv, T_PUT, "greeting", "hello from alpha", s, sizeof(s)) == 0, "put");
	EXPECT(ask(sys, kv, T_GET, "greeting", NULL, s, sizeof(s)) == 0, "get");
	printf("alpha: kv[greeting] = \"%s\"\n", s);
	EXPECT(strcmp(s, "hello from alpha") == 0, "get value");
	EXPECT(ask(sys, up, T_UPPER, s, NULL, s, sizeof(s)) == 0, "upper");
	printf("alpha: upper -> \"%s\"\n", s);
	EXPECT(strcmp(s, "HELLO FROM ALPHA") == 0, "upper value");

	EXPECT(nng_mtx_alloc(&w.mtx) == 0 && nng_cv_alloc(&w.cv, w.mtx) == 0, "cv");
	w.target = kv;
	EXPECT(nact_spawn(&wa, sys, watcher_fn, &w, NULL, NULL) == 0, "spawn watcher");
	nact_msg *go;
	EXPECT(nact_msg_alloc(&go, sys, T_WATCH) == 0 && nact_send(sys, wa, go) == 0, "watch");
	EXPECT(ask(sys, kv, T_GET, "greeting", NULL, s, sizeof(s)) == 0, "sync");

	printf("killing beta (SIGKILL)\n");
	char url[256];
	snprintf(url, sizeof(url), "%s", beta.url);
	beta_kill(&beta, SIGKILL);
	nng_mtx_lock(w.mtx);
	nng_time until = nng_clock() + 5000;
	while (w.downs == 0 && nng_cv_until(w.cv, until) != NNG_ETIMEDOUT)
		;
	int downs = w.downs, reason = w.reason;
	nng_mtx_unlock(w.mtx);
	EXPECT(downs == 1 && reason == NACT_EXIT_NODEDOWN, "nodedown");
	EXPECT(ask(sys, kv, T_GET, "greeting", NULL, s, sizeof(s)) == NACT_ETIMEDOUT,
	    "request to a down node times out");
	printf("alpha: a request to kv now times out\n");

	printf("restarting beta on %s\n", url);
	EXPECT(beta_start(&beta, url) == 0, "restart beta");
	uint16_t b2;
	EXPECT(nact_node_peer(sys, "beta", &b2, 10000) == 0 && b2 == b, "beta rejoined");
	printf("alpha: beta rejoined as node %u\n", b2);
	EXPECT(nact_node_whereis(sys, b, "kv", &kv, 2000) == 0, "whereis kv again");
	EXPECT(ask(sys, kv, T_GET, "greeting", NULL, s, sizeof(s)) == 0 && s[0] == '\0',
	    "a new kv starts empty");
	EXPECT(ask(sys, kv, T_PUT, "greeting", "hello again", s, sizeof(s)) == 0, "put again");
	EXPECT(ask(sys, kv, T_GET, "greeting", NULL, s, sizeof(s)) == 0 &&
	        strcmp(s, "hello again") == 0,
	    "get again");
	printf("alpha: kv[greeting] = \"%s\" after recovery\n", s);
out:
	if (sys != NULL) {
		nact_node_stop(sys);
		nact_system_close(sys, 2000);
	}
	beta_kill(&beta, 0);
	if (w.cv)
		nng_cv_free(w.cv);
	if (w.mtx)
		nng_mtx_free(w.mtx);
	printf(failed ? "nodes example FAILED\n" : "nodes example ok\n");
	return failed;
}
