/*
 * examples/two_nodes — `make demo`: two nodes on this machine.
 *
 * Node "alpha" (this process) and node "beta" (a second process this
 * program starts by re-executing itself with --beta) form a cluster with a
 * distributed cache (nactor/dcache.h, two copies of every key) and a
 * pipeline. beta runs its share of the cache and an "enrich" front actor
 * feeding a real pipeline (map -> sink). On alpha, a "client" actor serves
 * jobs: each word goes through the pipeline stage on beta, then the result
 * is stored in the cache actor on beta; the client monitors both remote
 * actors. Then beta is killed with SIGKILL: the client gets DOWN with
 * reason nodedown, jobs are refused quickly, and every dcache key is still
 * read from alpha's copy; beta restarts on the same address, rejoins, the
 * client picks up the new actors, jobs work again and the cache repairs
 * beta's empty share on reads.
 *
 * Exit status 0 only if every step of the story went as expected.
 *
 *   ./build/examples/nactor_two_nodes
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

#include <nactor/cache.h>
#include <nactor/dcache.h>
#include <nactor/nactor.h>
#include <nactor/node.h>
#include <nactor/pipeline.h>

#define SECRET "two-nodes-demo-secret-change-me!"
#define T_ENRICH 1u /* request [word] -> [WORD, letters] */
#define T_RESULT 2u /* beta's sink -> enrich front: [seq, WORD, letters] */
#define T_JOB 3u    /* request to alpha's client [word] -> [WORD, letters] */
#define T_AIDS 4u   /* to alpha's client: [enrich id, cache id] */
#define NKEYS 20
#define PENDING 256

static const char *const members[] = {"alpha", "beta"};

static nact_system *open_sys(void)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	nact_system *sys;
	return nact_system_open(&sys, &cfg) == 0 ? sys : NULL;
}

static int node_start(nact_system *sys, const char *name, const char *listen, const char *seed)
{
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
	o.heartbeat_ms = 100;
	o.down_after_ms = 1000;
	return nact_node_start(sys, &o);
}

static nact_dcache *dcache_open(nact_system *sys, const char *self)
{
	nact_dcache_opts o;
	nact_dcache_opts_init(&o);
	o.self = self;
	o.members = members;
	o.nmembers = 2;
	o.replicas = 2;
	o.timeout_ms = 1000;
	nact_dcache *dc;
	return nact_dcache_open(&dc, sys, &o) == 0 ? dc : NULL;
}

/* ---- node beta: the pipeline behind an "enrich" actor ---- */

/* map: [seq, word] -> [seq, WORD, letters] */
static int enrich_map(void *arg, const void *item, size_t len, nact_pl_out *out)
{
	nact_reader r;
	uint32_t n;
	uint64_t seq;
	const char *w;
	size_t wl;
	int rv = nact_reader_init_buf(&r, item, len, NULL);
	if (rv == 0 &&
	    (nact_read_array(&r, &n) != 0 || n != 2 || nact_read_uint(&r, &seq) != 0 ||
	        nact_read_str(&r, &w, &wl) != 0 || wl > 64))
		rv = NACT_EBADMSG;
	if (rv == 0) {
		char up[65];
		for (size_t i = 0; i < wl; i++)
			up[i] = (w[i] >= 'a' && w[i] <= 'z') ? (char)(w[i] - 32) : w[i];
		nact_pack *pk;
		if ((rv = nact_pl_emit(out, &pk)) == 0) {
			nact_pack_array(pk, 3);
			nact_pack_uint(pk, seq);
			nact_pack_strn(pk, up, wl);
			nact_pack_uint(pk, wl);
		}
	}
	nact_reader_fini(&r);
	return rv;
}

struct sink_arg {
	nact_system *sys;
	nact_aid front;
};

/* sink: hand the result back to the front actor, which replies. */
static int enrich_sink(void *arg, const void *item, size_t len)
{
	struct sink_arg *sa = arg;
	nact_msg *m;
	if (nact_msg_alloc(&m, sa->sys, T_RESULT) != 0)
		return NACT_ENOMEM;
	if (nng_msg_append(nact_msg_nng(m), item, len) != 0 ||
	    nact_send(sa->sys, sa->front, m) != 0)
		nact_msg_free(m);
	return 0;
}

struct front {
	nact_pipeline *pl;
	uint64_t next;
	struct {
		nact_aid to;
		uint64_t corr;
		int used;
	} pending[PENDING];
};

static int front_fn(nact_ctx *ctx, nact_msg *m)
{
	struct front *f = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_reader r;
	uint32_t n;
	const char *w;
	size_t wl;
	uint64_t seq, letters;
	if (nact_msg_type(m) == T_ENRICH && (nact_msg_flags(m) & NACT_MF_REQUEST)) {
		int ok = nact_reader_init(&r, m, NULL) == 0 && nact_read_str(&r, &w, &wl) == 0 &&
		    wl <= 64;
		nact_reader_fini(&r);
		if (!ok)
			return nact_reply_error(sys, m, NACT_EBADMSG, "want a word (str)"), 0;
		seq = f->next;
		if (f->pending[seq % PENDING].used)
			return nact_reply_error(sys, m, NACT_EFULL, "too many words in flight"), 0;
		nact_msg *it;
		if (nact_msg_alloc(&it, sys, NACT_T_PL_ITEM) != 0)
			return nact_reply_error(sys, m, NACT_ENOMEM, NULL), 0;
		nact_pack pk;
		nact_pack_init(&pk, it);
		nact_pack_array(&pk, 2);
		nact_pack_uint(&pk, seq);
		nact_pack_strn(&pk, w, wl);
		int rv = nact_pipeline_push(ctx, f->pl, it);
		if (rv != 0) {
			nact_msg_free(it);
			return nact_reply_error(sys, m, rv, "pipeline refused the word"), 0;
		}
		f->next++;
		f->pending[seq % PENDING].to = nact_msg_sender(m);
		f->pending[seq % PENDING].corr = nact_msg_corr(m);
		f->pending[seq % PENDING].used = 1;
	} else if (nact_msg_type(m) == T_RESULT) {
		int ok = nact_reader_init(&r, m, NULL) == 0 && nact_read_array(&r, &n) == 0 &&
		    n == 3 && nact_read_uint(&r, &seq) == 0 && nact_read_str(&r, &w, &wl) == 0 &&
		    nact_read_uint(&r, &letters) == 0 && f->pending[seq % PENDING].used;
		nact_msg *rep;
		if (ok && nact_msg_alloc(&rep, sys, T_ENRICH) == 0) {
			nact_pack pk;
			nact_pack_init(&pk, rep);
			nact_pack_array(&pk, 2);
			nact_pack_strn(&pk, w, wl);
			nact_pack_uint(&pk, letters);
			if (nact_reply_to(sys, f->pending[seq % PENDING].to,
			        f->pending[seq % PENDING].corr, rep) != 0)
				nact_msg_free(rep);
			f->pending[seq % PENDING].used = 0;
		}
		nact_reader_fini(&r);
	} else if (nact_msg_flags(m) & NACT_MF_REQUEST) {
		nact_reply_error(sys, m, NACT_EBADMSG, "unknown request");
	}
	return 0;
}

static int beta_main(const char *listen)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	nact_system *sys = open_sys();
	if (sys == NULL)
		return 2;
	nact_dcache *dc = dcache_open(sys, "beta");
	static struct front f;
	static struct sink_arg sa;
	nact_aid front = NACT_AID_NONE;
	nact_pipeline *pl = NULL;
	int rv = dc != NULL ? 0 : 3;
	if (rv == 0)
		rv = nact_spawn(&front, sys, front_fn, &f, NULL, NULL);
	if (rv == 0) {
		sa.sys = sys;
		sa.front = front;
		nact_pl_stage st[2] = {nact_pl_map("enrich", enrich_map, NULL),
		    nact_pl_sink("reply", enrich_sink, &sa)};
		st[0].policy = NACT_PL_SKIP; /* a bad item is dropped, not fatal */
		nact_pipeline_opts po = {0};
		po.name = "enrich";
		rv = nact_pipeline_start(&pl, sys, st, 2, &po);
	}
	if (rv == 0) {
		f.pl = pl;
		rv = nact_register(sys, "enrich", front);
	}
	if (rv == 0)
		rv = node_start(sys, "beta", listen, NULL);
	if (rv != 0) {
		fprintf(stderr, "[beta] cannot start: %s\n", nact_strerror(rv));
		return 4;
	}
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	fprintf(stderr, "[beta]  up on %s: cache share \"%s\" and pipeline stage \"enrich\"\n", url,
	    NACT_DCACHE_NAME);
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	nact_node_stop(sys);
	nact_pipeline_free(pl);
	nact_dcache_close(dc);
	nact_system_close(sys, 2000);
	return 0;
}

/* ---- node alpha: the client actor ---- */

struct shared {
	nng_mtx *mtx;
	nng_cv *cv;
	int downs;
	int quiet; /* the story is over: the DOWNs of the shutdown are not news */
};

struct client {
	nact_aid enrich, cache;
	struct shared *sh;
};

struct job {
	nact_aid to; /* who asked (main) */
	uint64_t corr;
	char word[65];
	char up[65];
	uint64_t letters;
};

static void job_fail(nact_system *sys, struct job *j, int code, const char *text)
{
	nact_msg *e;
	if (nact_msg_alloc(&e, sys, NACT_T_ERROR) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, e);
		nact_pack_array(&pk, 2);
		nact_pack_int(&pk, code);
		nact_pack_str(&pk, text);
		if (nact_reply_to(sys, j->to, j->corr, e) != 0)
			nact_msg_free(e);
	}
	free(j);
}

static void on_stored(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct job *j = arg;
	nact_system *sys = nact_sys(ctx);
	uint64_t n;
	if (err != 0 || nact_cache_reply_done(reply, &n) != 0) {
		job_fail(sys, j, err ? err : NACT_ECACHE, "cache on beta did not store it");
		return;
	}
	printf("[alpha] client: \"%s\" -> enrich@beta -> \"%s\" (%llu letters) -> stored in "
	       "cache@beta\n",
	    j->word, j->up, (unsigned long long)j->letters);
	nact_msg *r;
	if (nact_msg_alloc(&r, sys, T_JOB) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, r);
		nact_pack_array(&pk, 2);
		nact_pack_str(&pk, j->up);
		nact_pack_uint(&pk, j->letters);
		if (nact_reply_to(sys, j->to, j->corr, r) != 0)
			nact_msg_free(r);
	}
	free(j);
}

static void on_enriched(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct job *j = arg;
	struct client *c = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_reader r;
	uint32_t n;
	const char *w;
	size_t wl;
	int ok = 0;
	if (err == 0 && nact_msg_type(reply) == T_ENRICH &&
	    nact_reader_init(&r, reply, NULL) == 0) {
		ok = nact_read_array(&r, &n) == 0 && n == 2 && nact_read_str(&r, &w, &wl) == 0 &&
		    wl < sizeof(j->up) && nact_read_uint(&r, &j->letters) == 0;
		if (ok)
			snprintf(j->up, sizeof(j->up), "%.*s", (int)wl, w);
		nact_reader_fini(&r);
	}
	if (!ok) {
		job_fail(sys, j, err ? err : NACT_EBADMSG, "enrich stage on beta failed");
		return;
	}
	/* store WORD under word in beta's cache actor: the cache wire protocol */
	nact_msg *q;
	if (nact_msg_alloc(&q, sys, NACT_T_CACHE_SET) != 0) {
		job_fail(sys, j, NACT_ENOMEM, "no memory");
		return;
	}
	nact_pack pk;
	nact_pack_init(&pk, q);
	nact_pack_array(&pk, 2);
	nact_pack_str(&pk, j->word);
	nact_pack_str(&pk, j->up);
	int rv = nact_request(ctx, c->cache, q, 2000, on_stored, j);
	if (rv != 0) {
		nact_msg_free(q);
		job_fail(sys, j, rv, "cannot ask the cache");
	}
}

static const char *whose(const struct client *c, nact_aid id)
{
	return id.v == c->cache.v ? "cache" : id.v == c->enrich.v ? "enrich" : "?";
}

static int client_fn(nact_ctx *ctx, nact_msg *m)
{
	struct client *c = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_reader r;
	uint32_t n;
	uint64_t a, b;
	const char *w;
	size_t wl;
	if (nact_msg_type(m) == T_AIDS) {
		if (nact_reader_init(&r, m, NULL) == 0 && nact_read_array(&r, &n) == 0 && n == 2 &&
		    nact_read_uint(&r, &a) == 0 && nact_read_uint(&r, &b) == 0) {
			c->enrich.v = a;
			c->cache.v = b;
			nact_monitor(ctx, c->enrich, NULL);
			nact_monitor(ctx, c->cache, NULL);
		}
		nact_reader_fini(&r);
	} else if (nact_msg_type(m) == NACT_T_DOWN) {
		nact_exit_info ei;
		nng_mtx_lock(c->sh->mtx);
		int quiet = c->sh->quiet;
		nng_mtx_unlock(c->sh->mtx);
		if (!quiet && nact_exit_info_read(m, &ei) == 0) {
			printf("[alpha] client: DOWN from %s@beta, reason %s\n", whose(c, ei.id),
			    ei.reason == NACT_EXIT_NODEDOWN ? "nodedown" : ei.text);
			nng_mtx_lock(c->sh->mtx);
			c->sh->downs++;
			nng_cv_wake(c->sh->cv);
			nng_mtx_unlock(c->sh->mtx);
		}
	} else if (nact_msg_type(m) == T_JOB && (nact_msg_flags(m) & NACT_MF_REQUEST)) {
		int ok = nact_reader_init(&r, m, NULL) == 0 && nact_read_str(&r, &w, &wl) == 0 &&
		    wl <= 64;
		struct job *j = ok ? calloc(1, sizeof(*j)) : NULL;
		if (j != NULL)
			snprintf(j->word, sizeof(j->word), "%.*s", (int)wl, w);
		nact_reader_fini(&r);
		if (!ok)
			return nact_reply_error(sys, m, NACT_EBADMSG, "want a word (str)"), 0;
		if (j == NULL)
			return nact_reply_error(sys, m, NACT_ENOMEM, NULL), 0;
		j->to = nact_msg_sender(m);
		j->corr = nact_msg_corr(m);
		if (!nact_node_up(sys, nact_aid_node(c->enrich))) /* fail fast, no timeout */
			return job_fail(sys, j, NACT_ENODEDOWN, "beta is down"), 0;
		nact_msg *q;
		if (nact_msg_alloc(&q, sys, T_ENRICH) != 0)
			return job_fail(sys, j, NACT_ENOMEM, "no memory"), 0;
		nact_pack pk;
		nact_pack_init(&pk, q);
		nact_pack_str(&pk, j->word);
		int rv = nact_request(ctx, c->enrich, q, 2000, on_enriched, j);
		if (rv != 0) {
			nact_msg_free(q);
			job_fail(sys, j, rv, "cannot ask the enrich stage");
		}
	}
	return 0;
}

/* ---- alpha: driving the story ---- */

struct beta_proc {
	pid_t pid;
	int in;
	char url[256];
};

static int beta_start(struct beta_proc *b, const char *listen)
{
	int in[2], out[2];
	if (pipe(in) != 0)
		return -1;
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/proc/self/exe", "nactor_two_nodes", "--beta", listen, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
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
	if (nl == NULL || strncmp(buf, "URL ", 4) != 0)
		return -1;
	*nl = '\0';
	snprintf(b->url, sizeof(b->url), "%.255s", buf + 4);
	return 0;
}

/* sig 0: close beta's stdin (a clean stop), else send sig; then reap. */
static void beta_stop(struct beta_proc *b, int sig)
{
	if (b->pid <= 0)
		return;
	if (sig != 0)
		kill(b->pid, sig);
	close(b->in);
	b->in = -1;
	waitpid(b->pid, NULL, 0);
	b->pid = 0;
}

/* Ask the client for one job; 0 and out = WORD, or the error. */
static int job(nact_system *sys, nact_aid client, const char *word, char *out, size_t outl)
{
	nact_msg *q, *r = NULL;
	int rv = nact_msg_alloc(&q, sys, T_JOB);
	if (rv != 0)
		return rv;
	nact_pack pk;
	nact_pack_init(&pk, q);
	nact_pack_str(&pk, word);
	if ((rv = nact_call(sys, client, q, 5000, &r)) != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(q);
		return rv;
	}
	int code = 0;
	if (nact_msg_type(r) == NACT_T_ERROR) {
		char text[128];
		nact_error_read(r, &code, text, sizeof(text));
		printf("[alpha] client refused \"%s\": %s (%s)\n", word, text, nact_strerror(code));
	} else {
		nact_reader rd;
		uint32_t n;
		const char *s;
		size_t sl;
		code = NACT_EBADMSG;
		if (nact_reader_init(&rd, r, NULL) == 0 && nact_read_array(&rd, &n) == 0 &&
		    nact_read_str(&rd, &s, &sl) == 0 && sl < outl) {
			snprintf(out, outl, "%.*s", (int)sl, s);
			code = 0;
		}
		nact_reader_fini(&rd);
	}
	nact_msg_free(r);
	return code;
}

/* Hand the client beta's current actors (found by name on beta). */
static int point_client(nact_system *sys, uint16_t b, nact_aid client)
{
	nact_aid enrich, cache;
	int rv = nact_node_whereis(sys, b, "enrich", &enrich, 2000);
	if (rv == 0)
		rv = nact_node_whereis(sys, b, NACT_DCACHE_NAME, &cache, 2000);
	nact_msg *m;
	if (rv == 0 && (rv = nact_msg_alloc(&m, sys, T_AIDS)) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, m);
		nact_pack_array(&pk, 2);
		nact_pack_uint(&pk, enrich.v);
		nact_pack_uint(&pk, cache.v);
		if ((rv = nact_send(sys, client, m)) != 0)
			nact_msg_free(m);
	}
	return rv;
}

/* msgpack fixstr of s (< 32 bytes) into buf; its size. */
static size_t fixstr(uint8_t *buf, const char *s)
{
	size_t n = strlen(s);
	buf[0] = (uint8_t)(0xa0 | n);
	memcpy(buf + 1, s, n);
	return n + 1;
}

/* Read every demo key back; how many came back right. */
static int read_all(nact_dcache *dc)
{
	int good = 0;
	for (int i = 0; i < NKEYS; i++) {
		char k[32], want[32];
		uint8_t wb[40];
		snprintf(k, sizeof(k), "user:%d", i);
		snprintf(want, sizeof(want), "profile #%d", i);
		size_t wl = fixstr(wb, want);
		void *v = NULL;
		size_t vl = 0;
		if (nact_dcache_get(dc, k, strlen(k), &v, &vl) == 0 && vl == wl &&
		    !memcmp(v, wb, wl))
			good++;
		free(v);
	}
	return good;
}

static int wait_downs(struct shared *sh, int want, int ms)
{
	nng_mtx_lock(sh->mtx);
	nng_time until = nng_clock() + (nng_duration)ms;
	while (sh->downs < want && nng_cv_until(sh->cv, until) != NNG_ETIMEDOUT)
		;
	int d = sh->downs;
	nng_mtx_unlock(sh->mtx);
	return d;
}

#define EXPECT(cond, what)                                        \
	do {                                                      \
		if (!(cond)) {                                    \
			printf("[alpha] UNEXPECTED: %s\n", what); \
			failed = 1;                               \
			goto out;                                 \
		}                                                 \
	} while (0)

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--beta") == 0)
		return beta_main(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	int failed = 0;
	struct beta_proc beta = {0};
	struct shared sh = {0};
	struct client cl = {0};
	nact_system *sys = NULL;
	nact_dcache *dc = NULL;
	nact_aid client;
	char s[80], url[256];
	uint16_t b = 0, b2 = 0;
	const char *words[] = {"actor", "mailbox", "supervisor"};
	const char *again[] = {"node", "recovery"};

	printf("== two nodes: alpha (this process) and beta (a child process) ==\n");
	EXPECT(nng_mtx_alloc(&sh.mtx) == 0 && nng_cv_alloc(&sh.cv, sh.mtx) == 0, "mutex");
	EXPECT(beta_start(&beta, "tcp://127.0.0.1:0") == 0, "start beta");
	sys = open_sys();
	EXPECT(sys != NULL, "open alpha's system");
	dc = dcache_open(sys, "alpha");
	EXPECT(dc != NULL, "open alpha's dcache handle");
	EXPECT(node_start(sys, "alpha", "tcp://127.0.0.1:0", beta.url) == 0, "start node alpha");
	EXPECT(nact_node_peer(sys, "beta", &b, 10000) == 0, "beta is up");
	printf("[alpha] connected to beta (%s), node %u here\n", beta.url, b);

	printf("\n-- 1. actors on alpha use a pipeline stage and a cache on beta --\n");
	cl.sh = &sh;
	EXPECT(nact_spawn(&client, sys, client_fn, &cl, NULL, NULL) == 0, "spawn client");
	EXPECT(point_client(sys, b, client) == 0, "find beta's actors");
	for (size_t i = 0; i < 3; i++)
		EXPECT(job(sys, client, words[i], s, sizeof(s)) == 0, "a job through beta");
	void *v = NULL;
	size_t vl = 0;
	nact_aid bcache;
	EXPECT(nact_node_whereis(sys, b, NACT_DCACHE_NAME, &bcache, 2000) == 0, "whereis");
	EXPECT(nact_cache_get(sys, bcache, "mailbox", 7, &v, &vl, 2000) == 0 && vl == 8 &&
	        memcmp(v, "\xa7MAILBOX", 8) == 0,
	    "the cache on beta holds MAILBOX");
	free(v);
	printf("[alpha] cache@beta[\"mailbox\"] = \"MAILBOX\"\n");

	printf("\n-- 2. the distributed cache: %d keys, 2 copies each --\n", NKEYS);
	for (int i = 0; i < NKEYS; i++) {
		char k[32], val[32];
		uint8_t vb[40];
		uint32_t copies = 0;
		snprintf(k, sizeof(k), "user:%d", i);
		snprintf(val, sizeof(val), "profile #%d", i);
		EXPECT(nact_dcache_set(dc, k, strlen(k), vb, fixstr(vb, val), 0, &copies) == 0 &&
		        copies == 2,
		    "a dcache set stores 2 copies");
	}
	printf("[alpha] dcache: %d keys written, each on alpha and beta\n", NKEYS);

	printf("\n-- 3. beta is killed --\n");
	snprintf(url, sizeof(url), "%s", beta.url);
	printf("[alpha] kill -9 beta (pid %d)\n", (int)beta.pid);
	beta_stop(&beta, SIGKILL);
	EXPECT(wait_downs(&sh, 2, 10000) == 2, "two DOWN messages with reason nodedown");
	EXPECT(!nact_node_up(sys, b), "beta is down");
	EXPECT(job(sys, client, "lost", s, sizeof(s)) == NACT_ENODEDOWN, "a job is refused");
	int good = read_all(dc);
	printf("[alpha] dcache: %d/%d keys still readable with beta down (alpha's copies)\n", good,
	    NKEYS);
	EXPECT(good == NKEYS, "no key lost");

	printf("\n-- 4. beta restarts and rejoins --\n");
	EXPECT(beta_start(&beta, url) == 0, "restart beta");
	EXPECT(nact_node_peer(sys, "beta", &b2, 10000) == 0 && b2 == b, "beta rejoined");
	printf("[alpha] beta rejoined (%s), still node %u here\n", beta.url, b2);
	EXPECT(point_client(sys, b, client) == 0, "find beta's new actors");
	for (size_t i = 0; i < 2; i++)
		EXPECT(job(sys, client, again[i], s, sizeof(s)) == 0, "a job through beta again");
	nact_dcache_stats st0, st1;
	nact_dcache_stats_get(dc, &st0);
	good = read_all(dc);
	nact_dcache_stats_get(dc, &st1);
	printf("[alpha] dcache: %d/%d keys readable; beta restarted empty, %llu of its copies "
	       "repaired on read\n",
	    good, NKEYS, (unsigned long long)(st1.repairs - st0.repairs));
	EXPECT(good == NKEYS, "every key after the rejoin");
	printf("\n== recovered: the story went as expected ==\n");
out:
	if (sh.mtx != NULL) {
		nng_mtx_lock(sh.mtx);
		sh.quiet = 1;
		nng_mtx_unlock(sh.mtx);
	}
	if (sys != NULL)
		nact_node_stop(sys);
	nact_dcache_close(dc);
	if (sys != NULL)
		nact_system_close(sys, 2000);
	beta_stop(&beta, 0);
	if (sh.cv)
		nng_cv_free(sh.cv);
	if (sh.mtx)
		nng_mtx_free(sh.mtx);
	if (failed)
		printf("two_nodes example FAILED\n");
	return failed;
}
