/*
 * tests/dcache/test_dcache.c — the distributed cache (nactor/dcache.h).
 *
 * Single-node cases run in this process. The cluster cases run three
 * nodes: this process is "n1", two children (this binary re-executed with
 * --child, see tests/node/nodeutil.h) are "n2" and "n3"; each child opens
 * a dcache handle over the same members, which spawns its cache actor.
 */
#include "testutil.h"

#include <nactor/dcache.h>

#include "../node/nodeutil.h"

#define SECRET "dcache test secret, long enough"

static const char *const members3[] = {"n1", "n2", "n3"};

/* Child node: a cache member serving until stdin closes. Arguments as
 * nodeutil.h's nt_child_start passes them. */
static int dc_child_main(int argc, char **argv)
{
	if (argc < 7)
		return 2;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 3;
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	if (nact_system_open(&sys, &cfg) != 0)
		return 4;
	nact_dcache_opts dopts;
	nact_dcache_opts_init(&dopts);
	dopts.self = argv[2];
	dopts.members = members3;
	dopts.nmembers = 3;
	nact_dcache *dc;
	if (nact_dcache_open(&dc, sys, &dopts) != 0)
		return 5;
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = argv[2];
	o.secret = argv[3];
	o.secret_len = strlen(argv[3]);
	const char *lst[1] = {argv[5]};
	o.listen = lst;
	o.nlisten = 1;
	o.heartbeat_ms = 100;
	o.down_after_ms = 800;
	if (nact_node_start(sys, &o) != 0)
		return 6;
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	nact_node_stop(sys);
	nact_dcache_close(dc);
	nact_system_close(sys, 2000);
	return 0;
}

/* msgpack of a positive fixint or uint32 (5 bytes): the value i. */
static size_t pack_u32(uint8_t *b, uint32_t i)
{
	b[0] = 0xce;
	b[1] = (uint8_t)(i >> 24);
	b[2] = (uint8_t)(i >> 16);
	b[3] = (uint8_t)(i >> 8);
	b[4] = (uint8_t)i;
	return 5;
}

static int read_u32(const void *v, size_t n, uint32_t *out)
{
	const uint8_t *b = v;
	if (n != 5 || b[0] != 0xce)
		return -1;
	*out = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
	return 0;
}

static size_t key_of(char *k, size_t cap, const char *prefix, uint32_t i)
{
	return (size_t)snprintf(k, cap, "%s-%u", prefix, i);
}

/* ---- one node: API, errors, placement ---- */

static void test_single_node(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, 0));
	nact_dcache_opts o;
	nact_dcache_opts_init(&o);
	const char *one[] = {"solo"};
	o.self = "solo";
	o.members = one;
	o.nmembers = 1;
	nact_dcache *dc;
	REQUIRE_RV(nact_dcache_open(&dc, sys, &o));
	CHECK(nact_dcache_local(dc).v != 0);
	CHECK_EQ_U64(nact_whereis(sys, NACT_DCACHE_NAME).v, nact_dcache_local(dc).v);
	/* a second handle may not spawn another cache under the same name */
	nact_dcache *dc2 = NULL;
	CHECK_ERR(nact_dcache_open(&dc2, sys, &o), NACT_EEXIST);
	o.no_local_cache = 1;
	REQUIRE_RV(nact_dcache_open(&dc2, sys, &o));
	uint8_t v[8];
	size_t vl = pack_u32(v, 7);
	uint32_t copies = 9;
	CHECK_RV(nact_dcache_set(dc, "k", 1, v, vl, 0, &copies));
	CHECK_EQ_INT(copies, 1);
	void *got = NULL;
	size_t gl = 0;
	uint32_t x = 0;
	CHECK_RV(nact_dcache_get(dc2, "k", 1, &got, &gl)); /* same cache, other handle */
	CHECK(got != NULL && read_u32(got, gl, &x) == 0 && x == 7);
	free(got);
	CHECK_ERR(nact_dcache_get(dc, "nope", 4, &got, &gl), NACT_ENOENT);
	CHECK(got == NULL);
	int deleted = 0;
	CHECK_RV(nact_dcache_del(dc, "k", 1, &deleted));
	CHECK_EQ_INT(deleted, 1);
	CHECK_RV(nact_dcache_del(dc, "k", 1, &deleted));
	CHECK_EQ_INT(deleted, 0);
	CHECK_ERR(nact_dcache_get(dc, "k", 1, &got, &gl), NACT_ENOENT);
	/* bad data-call arguments */
	static const uint8_t bad_val[] = {0x92, 0x01}; /* array of 2 with 1 element */
	CHECK_ERR(nact_dcache_set(NULL, "k", 1, v, vl, 0, NULL), NACT_EINVAL);
	CHECK_ERR(nact_dcache_set(dc, NULL, 3, v, vl, 0, NULL), NACT_EINVAL);
	CHECK_ERR(nact_dcache_set(dc, "k", 1, NULL, 5, 0, NULL), NACT_EINVAL);
	CHECK_ERR(nact_dcache_set(dc, "k", 1, v, 0, 0, NULL), NACT_EINVAL);
	CHECK_ERR(nact_dcache_set(dc, "k", 1, bad_val, sizeof(bad_val), 0, NULL), NACT_EINVAL);
	CHECK_ERR(nact_dcache_get(dc, "k", 1, NULL, &gl), NACT_EINVAL);
	CHECK_ERR(nact_dcache_get(dc, NULL, 1, &got, &gl), NACT_EINVAL);
	CHECK_ERR(nact_dcache_del(dc, NULL, 2, NULL), NACT_EINVAL);
	uint32_t n;
	const char *names[4];
	CHECK_ERR(nact_dcache_live(dc, NULL, 4, &n), NACT_EINVAL);
	CHECK_ERR(nact_dcache_owners(dc, "k", 1, 0, names, 4, NULL), NACT_EINVAL);
	/* the handle still works after bad calls */
	CHECK_RV(nact_dcache_set(dc, "k2", 2, v, vl, 0, NULL));
	CHECK_RV(nact_dcache_get(dc, "k2", 2, &got, &gl));
	free(got);
	CHECK_RV(nact_dcache_live(dc, names, 4, &n));
	CHECK_EQ_INT(n, 1);
	CHECK_STR(names[0], "solo");
	nact_dcache_close(dc2);
	nact_dcache_close(dc);
	nact_system_close(sys, 2000);
}

struct in_actor {
	nact_dcache *dc;
	_Atomic int rv;
};

static int in_actor_fn(nact_ctx *ctx, nact_msg *m)
{
	struct in_actor *ia = nact_state(ctx);
	void *v = NULL;
	size_t vl;
	atomic_store(&ia->rv, nact_dcache_get(ia->dc, "k", 1, &v, &vl));
	free(v);
	return 0;
}

/* The blocking calls refuse to run inside a handler. */
static void test_in_handler(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 2, 0));
	nact_dcache_opts o;
	nact_dcache_opts_init(&o);
	const char *one[] = {"solo"};
	o.self = "solo";
	o.members = one;
	o.nmembers = 1;
	struct in_actor ia = {NULL, 1};
	REQUIRE_RV(nact_dcache_open(&ia.dc, sys, &o));
	nact_aid a;
	REQUIRE_RV(nact_spawn(&a, sys, in_actor_fn, &ia, NULL, NULL));
	CHECK_RV(nt_send_int(sys, a, 1, 0));
	CHECK(NT_WAIT(atomic_load(&ia.rv) != 1, nt_slow(NT_LONG_MS)));
	CHECK_EQ_INT(atomic_load(&ia.rv), NACT_EDEADLK);
	nact_stop(sys, a);
	nact_dcache_close(ia.dc);
	nact_system_close(sys, 2000);
}

static void test_open_errors(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 1, 0));
	char longname[NACT_NODE_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	const char *dup[] = {"a", "b", "a"};
	const char *empty[] = {"a", ""};
	const char *nul[] = {"a", NULL};
	const char *lng[] = {"a", longname};
	const char *ok[] = {"a", "b"};
	const struct {
		const char *const *members;
		uint32_t n, replicas;
		const char *self, *cname;
		int timeout;
	} bad[] = {
	    {NULL, 2, 1, "a", NULL, 0},
	    {ok, 0, 1, "a", NULL, 0},
	    {ok, 2, 3, "a", NULL, 0},
	    {dup, 3, 1, "a", NULL, 0},
	    {empty, 2, 1, "a", NULL, 0},
	    {nul, 2, 1, "a", NULL, 0},
	    {lng, 2, 1, "a", NULL, 0},
	    {ok, 2, 1, "", NULL, 0},
	    {ok, 2, 1, "a", "", 0},
	    {ok, 2, 1, "a", NULL, -5},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nact_dcache_opts o;
		nact_dcache_opts_init(&o);
		o.members = bad[i].members;
		o.nmembers = bad[i].n;
		o.replicas = bad[i].replicas;
		o.self = bad[i].self;
		o.cache_name = bad[i].cname;
		o.timeout_ms = bad[i].timeout;
		nact_dcache *dc = (nact_dcache *)1;
		int rv = nact_dcache_open(&dc, sys, &o);
		if (rv != NACT_EINVAL)
			fprintf(stderr, "bad open case %zu: %s\n", i, nact_strerror(rv));
		CHECK_ERR(rv, NACT_EINVAL);
		if (rv == 0)
			nact_dcache_close(dc);
	}
	CHECK_ERR(nact_dcache_open(NULL, sys, NULL), NACT_EINVAL);
	nact_dcache_close(NULL);
	nact_system_close(sys, 2000);
}

/* Placement: deterministic, spread over the members, top r distinct, and
 * removing a member moves only its keys. No node needed (live_only 0). */
static void test_placement(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 1, 0));
	const char *m4[] = {"n1", "n2", "n3", "n4"};
	const char *m3[] = {"n1", "n2", "n4"};
	nact_dcache_opts o;
	nact_dcache_opts_init(&o);
	o.members = m4;
	o.nmembers = 4;
	o.replicas = 2;
	nact_dcache *a, *b, *c;
	REQUIRE_RV(nact_dcache_open(&a, sys, &o)); /* client handles: no local cache */
	REQUIRE_RV(nact_dcache_open(&b, sys, &o));
	o.members = m3;
	o.nmembers = 3;
	REQUIRE_RV(nact_dcache_open(&c, sys, &o));
	int first[4] = {0}, same = 1, moved_wrongly = 0;
	for (uint32_t i = 0; i < 4000; i++) {
		char k[32];
		size_t kl = key_of(k, sizeof(k), "key", i);
		const char *na[4], *nb[4], *nc[3];
		uint32_t n1, n2, n3;
		CHECK_RV(nact_dcache_owners(a, k, kl, 0, na, 4, &n1));
		CHECK_RV(nact_dcache_owners(b, k, kl, 0, nb, 4, &n2));
		CHECK_RV(nact_dcache_owners(c, k, kl, 0, nc, 3, &n3));
		if (n1 != 4 || n2 != 4 || n3 != 3) {
			CHECK(0);
			break;
		}
		for (int j = 0; j < 4; j++)
			same &= strcmp(na[j], nb[j]) == 0;
		first[na[0][1] - '1']++;
		/* without n3 the order is the same with n3 left out */
		int jc = 0;
		for (int j = 0; j < 4; j++) {
			if (strcmp(na[j], "n3") == 0)
				continue;
			moved_wrongly += strcmp(na[j], nc[jc++]) != 0;
		}
	}
	CHECK(same);
	CHECK_EQ_INT(moved_wrongly, 0);
	for (int j = 0; j < 4; j++) /* 1000 expected each; a wide margin */
		CHECK(first[j] > 800 && first[j] < 1200);
	nact_dcache_close(a);
	nact_dcache_close(b);
	nact_dcache_close(c);
	nact_system_close(sys, 2000);
}

/* ---- three nodes ---- */

struct cluster {
	nact_system *sys;
	nt_child ch[2]; /* n2, n3 */
	nact_dcache *dc;
};

static int node_start(nact_system *sys, const char *const *seeds, uint32_t nseeds)
{
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = "n1";
	o.secret = SECRET;
	o.secret_len = strlen(SECRET);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = nseeds;
	o.heartbeat_ms = 100;
	o.down_after_ms = 800;
	return nact_node_start(sys, &o);
}

static int live_count(nact_dcache *dc)
{
	uint32_t n = 0;
	nact_dcache_live(dc, NULL, 0, &n);
	return (int)n;
}

static int cluster_up(struct cluster *c, uint32_t replicas)
{
	memset(c, 0, sizeof(*c));
	if (nt_child_start(&c->ch[0], "n2", SECRET, 0, NULL, NULL) != 0 ||
	    nt_child_start(&c->ch[1], "n3", SECRET, 0, NULL, NULL) != 0)
		return -1;
	if (nt_open(&c->sys, 2, 0) != 0)
		return -1;
	nact_dcache_opts o;
	nact_dcache_opts_init(&o);
	o.self = "n1";
	o.members = members3;
	o.nmembers = 3;
	o.replicas = replicas;
	o.timeout_ms = (int)nt_slow(500);
	if (nact_dcache_open(&c->dc, c->sys, &o) != 0)
		return -1;
	const char *seeds[2] = {c->ch[0].url, c->ch[1].url};
	if (node_start(c->sys, seeds, 2) != 0)
		return -1;
	uint16_t no;
	if (nact_node_peer(c->sys, "n2", &no, (int)nt_slow(NT_LONG_MS)) != 0 ||
	    nact_node_peer(c->sys, "n3", &no, (int)nt_slow(NT_LONG_MS)) != 0)
		return -1;
	return NT_WAIT(live_count(c->dc) == 3, nt_slow(NT_LONG_MS)) ? 0 : -1;
}

static void cluster_down(struct cluster *c)
{
	if (c->sys != NULL)
		nact_node_stop(c->sys);
	nact_dcache_close(c->dc);
	if (c->sys != NULL)
		nact_system_close(c->sys, 2000);
	nt_child_stop(&c->ch[0]);
	nt_child_stop(&c->ch[1]);
}

static int first_owner_is(nact_dcache *dc, const char *k, size_t kl, const char *name)
{
	const char *nm[3];
	uint32_t n = 0;
	return nact_dcache_owners(dc, k, kl, 0, nm, 3, &n) == 0 && n == 3 &&
	    strcmp(nm[0], name) == 0;
}

/* Write n keys; returns how many were stored with `want` copies. */
static uint32_t write_keys(nact_dcache *dc, const char *prefix, uint32_t n, uint32_t want)
{
	uint32_t good = 0;
	for (uint32_t i = 0; i < n; i++) {
		char k[32];
		uint8_t v[8];
		size_t kl = key_of(k, sizeof(k), prefix, i), vl = pack_u32(v, i * 7 + 1);
		uint32_t copies = 0;
		int rv = nact_dcache_set(dc, k, kl, v, vl, 0, &copies);
		if (rv == 0 && copies == want)
			good++;
		else if (good + 5 > i) /* print the first few failures only */
			fprintf(stderr, "set %s: %s copies %u\n", k, nact_strerror(rv), copies);
	}
	return good;
}

/* Read n keys back: counts hits with the right value and misses. */
static void read_keys(nact_dcache *dc, const char *prefix, uint32_t n, uint32_t *hits,
    uint32_t *misses, uint32_t *other)
{
	*hits = *misses = *other = 0;
	for (uint32_t i = 0; i < n; i++) {
		char k[32];
		size_t kl = key_of(k, sizeof(k), prefix, i);
		void *v = NULL;
		size_t vl = 0;
		uint32_t x = 0;
		int rv = nact_dcache_get(dc, k, kl, &v, &vl);
		if (rv == 0 && read_u32(v, vl, &x) == 0 && x == i * 7 + 1)
			(*hits)++;
		else if (rv == NACT_ENOENT)
			(*misses)++;
		else
			(*other)++;
		free(v);
	}
}

/* r = 2: kill -9 one node, every key is still read back; the node comes
 * back empty and reads still find every key (read repair fills it). */
static void test_replicated_kill9(void)
{
	struct cluster c;
	int rv = cluster_up(&c, 2);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0)
		goto out;
	const uint32_t n = 1000;
	CHECK_EQ_INT(write_keys(c.dc, "r2", n, 2), n);
	/* n3 stops answering (SIGSTOP: its connections stay open, so it is
	 * still up until the silence is noticed): keys whose first owner is
	 * n3 time out there and are read from the second owner. Wait for the
	 * stop itself: threads of n3 still running after kill() would answer */
	rv = nt_child_sigstop(&c.ch[1]);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0)
		goto out;
	uint32_t early = 0, early_ok = 0, asked_live = 0;
	for (uint32_t i = 0; i < n && early < 3; i++) {
		char k[32];
		size_t kl = key_of(k, sizeof(k), "r2", i);
		if (!first_owner_is(c.dc, k, kl, "n3"))
			continue;
		early++;
		asked_live += live_count(c.dc) == 3;
		void *v = NULL;
		size_t vl;
		uint32_t x;
		if (nact_dcache_get(c.dc, k, kl, &v, &vl) == 0 && read_u32(v, vl, &x) == 0 &&
		    x == i * 7 + 1)
			early_ok++;
		free(v);
	}
	CHECK_EQ_INT(early_ok, early);
	nact_dcache_stats st;
	nact_dcache_stats_get(c.dc, &st);
	if (asked_live > 0) /* n3 was asked while stopped: that must time out */
		CHECK(st.timeouts >= 1);
	nt_child_kill9(&c.ch[1]);
	CHECK(NT_WAIT(live_count(c.dc) == 2, nt_slow(NT_LONG_MS)));
	uint32_t hits, misses, other;
	read_keys(c.dc, "r2", n, &hits, &misses, &other);
	CHECK_EQ_INT(hits, n);
	CHECK_EQ_INT(misses, 0);
	CHECK_EQ_INT(other, 0);
	/* a second handle on n1 (using n1's cache, no_local_cache) whose member
	 * list has a node that never came up: rendezvous order among the live
	 * members is unchanged, so it finds every key too */
	{
		const char *m4[] = {"n1", "n2", "n3", "n9"};
		nact_dcache_opts o;
		nact_dcache_opts_init(&o);
		o.self = "n1";
		o.members = m4;
		o.nmembers = 4;
		o.replicas = 2;
		o.no_local_cache = 1;
		o.timeout_ms = (int)nt_slow(500);
		nact_dcache *dc4;
		REQUIRE_RV(nact_dcache_open(&dc4, c.sys, &o));
		read_keys(dc4, "r2", n, &hits, &misses, &other);
		CHECK_EQ_INT(hits, n);
		nact_dcache_close(dc4);
	}
	/* writes while n3 is down still make 2 copies (on n1 and n2) */
	CHECK_EQ_INT(write_keys(c.dc, "w2", 100, 2), 100);
	/* n3 comes back, empty, on the same address */
	char url[256];
	snprintf(url, sizeof(url), "%s", c.ch[1].url);
	REQUIRE(nt_child_start(&c.ch[1], "n3", SECRET, 0, url, NULL) == 0);
	CHECK(NT_WAIT(live_count(c.dc) == 3, nt_slow(NT_LONG_MS)));
	nact_dcache_stats st0, st1;
	nact_dcache_stats_get(c.dc, &st0);
	read_keys(c.dc, "r2", n, &hits, &misses, &other);
	CHECK_EQ_INT(hits, n);
	read_keys(c.dc, "w2", 100, &hits, &misses, &other);
	CHECK_EQ_INT(hits, 100);
	nact_dcache_stats_get(c.dc, &st1);
	CHECK(st1.repairs > st0.repairs);
	fprintf(stderr,
	    "r2: fallbacks %" PRIu64 " timeouts %" PRIu64 " repairs %" PRIu64 " lookups %" PRIu64
	    "\n",
	    st1.fallbacks, st1.timeouts, st1.repairs, st1.lookups);
out:
	cluster_down(&c);
}

/* r = 1: the dead node's keys are misses (or a timeout while it is not yet
 * declared down), never a hang; the others are hits. */
static void test_single_copy_kill9(void)
{
	struct cluster c;
	int rv = cluster_up(&c, 1);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0)
		goto out;
	const uint32_t n = 300;
	CHECK_EQ_INT(write_keys(c.dc, "r1", n, 1), n);
	uint32_t on_n3 = 0;
	for (uint32_t i = 0; i < n; i++) {
		char k[32];
		size_t kl = key_of(k, sizeof(k), "r1", i);
		on_n3 += first_owner_is(c.dc, k, kl, "n3");
	}
	CHECK(on_n3 > 0 && on_n3 < n);
	nt_child_kill9(&c.ch[1]);
	/* right away: a key of n3 gives a timeout or a miss */
	for (uint32_t i = 0; i < n; i++) {
		char k[32];
		size_t kl = key_of(k, sizeof(k), "r1", i);
		if (!first_owner_is(c.dc, k, kl, "n3"))
			continue;
		void *v = NULL;
		size_t vl;
		rv = nact_dcache_get(c.dc, k, kl, &v, &vl);
		CHECK(rv == NACT_ETIMEDOUT || rv == NACT_ENOENT || rv == NACT_ENODEDOWN);
		free(v);
		break;
	}
	CHECK(NT_WAIT(live_count(c.dc) == 2, nt_slow(NT_LONG_MS)));
	uint32_t hits, misses, other;
	read_keys(c.dc, "r1", n, &hits, &misses, &other);
	CHECK_EQ_INT(hits, n - on_n3);
	CHECK_EQ_INT(misses, on_n3);
	CHECK_EQ_INT(other, 0);
out:
	cluster_down(&c);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return dc_child_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	(void)nt_child_main; /* nodeutil.h's own child and node start are not used */
	(void)nt_node_start;
	static const nt_case cases[] = {NT_CASE(test_single_node), NT_CASE(test_in_handler),
	    NT_CASE(test_open_errors), NT_CASE(test_placement), NT_CASE(test_replicated_kill9),
	    NT_CASE(test_single_copy_kill9), {NULL, NULL}};
	int rv = nt_run(argc, argv, cases);
	nng_fini(); /* nng frees closed listeners and dialers later, on its
		     * own threads: let it finish before LeakSanitizer runs */
	return rv;
}
