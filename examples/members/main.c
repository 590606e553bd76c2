/*
 * examples/members — cluster membership (docs/members.md) with four nodes
 * in one process (four actor systems, each its own node on loopback tcp).
 *
 * "a" starts alone; "b", "c" and "d" know only a's URL. The gossip tells
 * every node about every other; then c calls an actor on d, a node it
 * never had an address for, by name (nact_node_peer connects on demand).
 * b monitors d's actor; d stops gracefully: every node sees d as "left",
 * and b's monitor gets DOWN with reason nodedown. Exit status 0 only if
 * every step gave the expected result.
 *
 *   ./build/examples/nactor_members
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/nactor.h>
#include <nactor/node.h>

#define SECRET "example-members-secret-please-change"
#define N 4
#define PERIOD_MS 200

static const char *const names[N] = {"a", "b", "c", "d"};

/* "greeter": answers a request with "hello from NODE". */
static int greeter(nact_ctx *ctx, nact_msg *m)
{
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	nact_msg *r;
	if (nact_msg_alloc(&r, nact_sys(ctx), 1) != 0)
		return 0;
	nact_pack pk;
	nact_pack_init(&pk, r);
	nact_pack_str(&pk, (const char *)nact_state(ctx));
	if (nact_reply(nact_sys(ctx), m, r) != 0)
		nact_msg_free(r);
	return 0;
}

/* "watcher": counts DOWN messages whose reason is nodedown. */
static atomic_int nodedowns;
static int watcher(nact_ctx *ctx, nact_msg *m)
{
	nact_exit_info ei;
	if (nact_msg_type(m) == NACT_T_DOWN && nact_exit_info_read(m, &ei) == 0 &&
	    ei.reason == NACT_EXIT_NODEDOWN)
		atomic_fetch_add(&nodedowns, 1);
	return 0;
}

/* State of `who` in sys's view ("" if unknown). */
static const char *state_of(nact_system *sys, const char *who)
{
	nact_node_member mb[N + 4];
	size_t n = 0;
	if (nact_node_members(sys, mb, N + 4, &n) != 0)
		return "";
	for (size_t i = 0; i < n && i < N + 4; i++)
		if (strcmp(mb[i].name, who) == 0)
			return nact_member_state_name(mb[i].state);
	return "";
}

/* Wait until every running node sees `who` in `state`. */
static int wait_all(nact_system **sys, int skip, const char *who, const char *state, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		int ok = 1;
		for (int i = 0; i < N && ok; i++)
			if (i != skip && strcmp(state_of(sys[i], who), state) != 0)
				ok = 0;
		if (ok)
			return 1;
		nng_msleep(20);
	}
	return 0;
}

static void print_view(nact_system *sys)
{
	nact_node_member mb[N + 4];
	size_t n = 0;
	nact_node_members(sys, mb, N + 4, &n);
	for (size_t i = 0; i < n && i < N + 4; i++)
		printf("  %-2s %-24s %-7s%s\n", mb[i].name, mb[i].url,
		    nact_member_state_name(mb[i].state), mb[i].self ? " (self)" : "");
}

int main(void)
{
	nact_system *sys[N] = {0};
	char url0[256] = "";
	int fail = 0;
	nact_aid wat = NACT_AID_NONE;
	for (int i = 0; i < N; i++) {
		nact_config cfg;
		nact_config_init(&cfg);
		cfg.workers = 1;
		cfg.log_level = NACT_LOG_ERROR;
		if (nact_system_open(&sys[i], &cfg) != 0)
			return 1;
		nact_aid id;
		nact_spawn_opts so = {0};
		so.name = "greeter";
		nact_spawn(&id, sys[i], greeter, (void *)names[i], NULL, &so);
		if (i == 1) {
			so.name = "watcher";
			nact_spawn(&wat, sys[i], watcher, NULL, NULL, &so);
		}
		nact_node_opts o;
		nact_node_opts_init(&o);
		o.name = names[i];
		o.secret = SECRET;
		o.secret_len = strlen(SECRET);
		const char *lst[1] = {"tcp://127.0.0.1:0"};
		const char *seeds[1] = {url0};
		o.listen = lst;
		o.nlisten = 1;
		o.seeds = seeds;
		o.nseeds = i == 0 ? 0 : 1; /* everyone knows only a */
		o.swim_period_ms = PERIOD_MS;
		if (nact_node_start(sys[i], &o) != 0) {
			fprintf(stderr, "node %s: cannot start\n", names[i]);
			return 1;
		}
		if (i == 0)
			nact_node_url(sys[0], url0, sizeof(url0));
	}
	/* 1. the gossip converges: everyone sees everyone alive */
	for (int i = 0; i < N; i++)
		if (!wait_all(sys, -1, names[i], "alive", 10000))
			fail = 1;
	printf("%s: every node sees all %d alive; c's view:\n", fail ? "FAILED" : "ok", N);
	print_view(sys[2]);
	/* 2. c calls d's greeter, knowing only d's name from the gossip */
	uint16_t no;
	nact_aid g;
	nact_msg *q, *r = NULL;
	char text[64] = "";
	if (nact_node_peer(sys[2], "d", &no, 5000) == 0 &&
	    nact_node_whereis(sys[2], no, "greeter", &g, 2000) == 0 &&
	    nact_msg_alloc(&q, sys[2], 1) == 0 && nact_call(sys[2], g, q, 2000, &r) == 0) {
		nact_reader rd;
		const char *s;
		size_t sl;
		if (nact_reader_init(&rd, r, NULL) == 0 && nact_read_str(&rd, &s, &sl) == 0)
			snprintf(text, sizeof(text), "hello from %.*s", (int)sl, s);
		nact_reader_fini(&rd);
		nact_msg_free(r);
	}
	printf("%s: c -> d's greeter: \"%s\"\n", strcmp(text, "hello from d") ? "FAILED" : "ok",
	    text);
	fail |= strcmp(text, "hello from d") != 0;
	/* 3. b watches d's greeter; d leaves gracefully */
	uint64_t ref;
	int mon = nact_node_peer(sys[1], "d", &no, 5000) == 0 &&
	    nact_node_whereis(sys[1], no, "greeter", &g, 2000) == 0 &&
	    nact_node_monitor(sys[1], wat, g, &ref) == 0;
	nact_node_stop(sys[3]);
	nact_system_close(sys[3], 2000);
	sys[3] = NULL;
	int left = wait_all(sys, 3, "d", "left", 10000);
	for (int t = 0; t < 5000 && atomic_load(&nodedowns) == 0; t += 20)
		nng_msleep(20);
	printf("%s: d stopped: a, b and c see it left; b's monitor got %d nodedown\n",
	    left && mon && atomic_load(&nodedowns) == 1 ? "ok" : "FAILED", atomic_load(&nodedowns));
	fail |= !(left && mon && atomic_load(&nodedowns) == 1);
	printf("a's view:\n");
	print_view(sys[0]);
	for (int i = 0; i < N - 1; i++) {
		nact_node_stop(sys[i]);
		nact_system_close(sys[i], 2000);
	}
	printf(fail ? "FAILED\n" : "all steps ok\n");
	return fail;
}
