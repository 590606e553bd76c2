/*
 * tests/monitor/test_metrics.c — per-actor and node metrics, the profiler,
 * the monitor actor's alerts and bad input, the slow-handler watchdog, the
 * Prometheus page (include/nactor/monitor.h).
 *
 * Contract checked:
 * - metrics off: every reader, the profiler and nact_monitor_start return
 *   NACT_ENOTSUP.
 * - a known workload gives exact counts: depth while a handler is held,
 *   in, out, handled, histogram total; depth back to 0 after.
 * - pushes from several workers and from main add up exactly (depth 0
 *   and in = sent once drained; out per sender exact).
 * - percentiles: nact_hist_quantile on a synthetic histogram; a handler
 *   that sleeps 2 ms has p99 >= 2 ms and p50 <= p99 (one call in 64 is
 *   timed: the count of timed calls is exact too).
 * - restarts: a child restarted by its supervisor shows restarts = 1.
 * - profiler: calls per (behaviour, type) exact.
 * - node metrics plausible (RSS, threads, fds, CPU grows with work).
 * - the monitor sends a mailbox alert (topic, id, depth) once per
 *   crossing; a slow-handler alert and a warn log line arrive WHILE the
 *   handler still runs (it waits on a gate this test opens only after
 *   seeing the alert).
 * - p99, RSS and dead-letter-rate alerts arrive, once each per crossing.
 * - bad messages to the monitor get NACT_T_ERROR replies; it keeps working.
 * - the Prometheus page is served over HTTP with node and actor lines
 *   (fetched over a plain socket like a scraper); another path gets 404.
 */
#include <nactor/monitor.h>
#include <nactor/supervisor.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

enum { T_WORK = 1, T_SLEEP, T_FANOUT, T_HOLD, T_CRASH };

static int open_metrics(nact_system **sysp, uint32_t workers)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = workers;
	cfg.metrics = 1;
	return nact_system_open(sysp, &cfg);
}

/* ---- actors ---- */

struct worker_st {
	nt_gate gate;
	nact_aid sink;
	atomic_int got;
};

static int worker_fn(nact_ctx *ctx, nact_msg *m)
{
	struct worker_st *s = nact_state(ctx);
	switch (nact_msg_type(m)) {
	case T_HOLD:
		nt_gate_block(&s->gate);
		break;
	case T_SLEEP:
		nng_msleep(2);
		break;
	case T_FANOUT:
		for (int i = 0; i < 2; i++)
			nt_send_int(nact_sys(ctx), s->sink, T_WORK, i);
		break;
	default:
		break;
	}
	atomic_fetch_add(&s->got, 1);
	return 0;
}

static int sink_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)m;
	atomic_int *n = nact_state(ctx);
	atomic_fetch_add(n, 1);
	return 0;
}

/* Collects alert events. */
struct events {
	nng_mtx *mtx;
	int n;
	char topic[32][64];
	uint64_t id[32], depth[32], type[32];
	atomic_int count;
};

static int events_fn(nact_ctx *ctx, nact_msg *m)
{
	struct events *e = nact_state(ctx);
	nact_reader r;
	uint32_t n, np;
	const char *s;
	size_t sl;
	if (nact_msg_type(m) != NACT_T_EVENT)
		return 0;
	if (nact_reader_init(&r, m, NULL) != 0)
		return 0;
	if (nact_read_array(&r, &n) == 0 && n == 2 && nact_read_str(&r, &s, &sl) == 0 &&
	    nact_read_map(&r, &np) == 0) {
		nng_mtx_lock(e->mtx);
		if (e->n < 32) {
			int k = e->n;
			snprintf(e->topic[k], sizeof(e->topic[k]), "%.*s", (int)sl, s);
			for (uint32_t i = 0; i < np; i++) {
				const char *key;
				size_t kl;
				uint64_t v = 0;
				msgpack_object o;
				if (nact_read_str(&r, &key, &kl) != 0)
					break;
				if (nact_read_uint(&r, &v) != 0) {
					nact_read_object(&r, &o);
					continue;
				}
				if (kl == 2 && memcmp(key, "id", 2) == 0)
					e->id[k] = v;
				else if (kl == 5 && memcmp(key, "depth", 5) == 0)
					e->depth[k] = v;
				else if (kl == 4 && memcmp(key, "type", 4) == 0)
					e->type[k] = v;
			}
			e->n++;
		}
		nng_mtx_unlock(e->mtx);
		atomic_fetch_add(&e->count, 1);
	}
	nact_reader_fini(&r);
	return 0;
}

/* Alerts about actor `who` with topic. */
static int count_for(struct events *e, nact_aid who, const char *topic)
{
	int n = 0;
	nng_mtx_lock(e->mtx);
	for (int i = 0; i < e->n; i++)
		if (e->id[i] == who.v && strcmp(e->topic[i], topic) == 0)
			n++;
	nng_mtx_unlock(e->mtx);
	return n;
}

/* ---- tests ---- */

static void test_off(void)
{
	nact_system *sys;
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	nact_actor_metrics am;
	size_t n;
	nact_aid id;
	atomic_int cnt = 0;
	REQUIRE_RV(nact_spawn(&id, sys, sink_fn, &cnt, NULL, NULL));
	CHECK_ERR(nact_metrics_actor(sys, id, &am), NACT_ENOTSUP);
	CHECK_ERR(nact_metrics_actors(sys, NULL, 0, &n), NACT_ENOTSUP);
	CHECK_ERR(nact_profile_set(sys, 1), NACT_ENOTSUP);
	nact_aid mon;
	CHECK_ERR(nact_monitor_start(&mon, sys, NULL), NACT_ENOTSUP);
	nact_node_metrics nm;
	CHECK_RV(nact_node_metrics_read(sys, &nm)); /* node metrics work anyway */
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.metrics = 2;
	nact_system *bad;
	CHECK_ERR(nact_system_open(&bad, &cfg), NACT_EINVAL);
	nact_system_close(sys, 1000);
}

static void test_counts(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	atomic_int sunk = 0;
	struct worker_st st = {0};
	nact_aid sink, w;
	nact_spawn_opts o = {.name = "counted"};
	REQUIRE_RV(nact_spawn(&sink, sys, sink_fn, &sunk, NULL, NULL));
	st.sink = sink;
	REQUIRE_RV(nact_spawn(&w, sys, worker_fn, &st, NULL, &o));
	const int N = 100;
	REQUIRE_RV(nt_send_int(sys, w, T_HOLD, 0));
	CHECK(NT_WAIT(atomic_load(&st.gate.entered), NT_LONG_MS));
	for (int i = 0; i < N; i++)
		nt_send_int(sys, w, T_FANOUT, i);
	nact_actor_metrics am;
	CHECK(NT_WAIT(nact_metrics_actor(sys, w, &am) == 0 && am.depth == (uint64_t)N, NT_LONG_MS));
	CHECK_EQ_U64(am.depth, N);
	CHECK_EQ_U64(am.in, 1);
	CHECK_STR(am.name, "counted");
	nt_gate_open(&st.gate);
	CHECK(NT_WAIT(atomic_load(&sunk) == 2 * N, NT_LONG_MS));
	CHECK(NT_WAIT(nact_metrics_actor(sys, w, &am) == 0 && am.handled == (uint64_t)N + 1,
	    NT_LONG_MS));
	CHECK_EQ_U64(am.depth, 0);
	CHECK_EQ_U64(am.in, N + 1);
	CHECK_EQ_U64(am.out, 2 * N);
	CHECK_EQ_U64(am.handled, N + 1);
	uint64_t tot = 0;
	for (int i = 0; i < NACT_HIST_BUCKETS; i++)
		tot += am.hist[i];
	/* one call in 64 is timed: calls 0 and 64 */
	CHECK_EQ_U64(am.timed, (N + 1 + 63) / 64);
	CHECK_EQ_U64(tot, am.timed);
	CHECK(am.max_ns >= am.p50_ns / 2);
	nact_actor_metrics sm;
	CHECK(NT_WAIT(nact_metrics_actor(sys, sink, &sm) == 0 && sm.in == 2u * N, NT_LONG_MS));
	CHECK_EQ_U64(sm.out, 0);
	/* all actors: both listed */
	nact_actor_metrics v[8];
	size_t n = 0;
	CHECK_RV(nact_metrics_actors(sys, v, 8, &n));
	CHECK_EQ_U64(n, 2);
	/* a dead id */
	nact_stop(sys, sink);
	CHECK(NT_WAIT(!nact_alive(sys, sink), NT_LONG_MS));
	CHECK_ERR(nact_metrics_actor(sys, sink, &am), NACT_ENOENT);
	CHECK_ERR(nact_metrics_actor(sys, sink, NULL), NACT_EINVAL);
	/* the struct reused: a fresh incarnation starts from zero */
	nact_aid again;
	REQUIRE_RV(nact_spawn(&again, sys, sink_fn, &sunk, NULL, NULL));
	CHECK_RV(nact_metrics_actor(sys, again, &am));
	CHECK_EQ_U64(am.in, 0);
	CHECK_EQ_U64(am.depth, 0);
	CHECK_EQ_U64(am.handled, 0);
	nact_system_close(sys, 2000);
}

/* Forwards each T_WORK it gets to the sink 10 times (a producer on a
 * worker). */
static int spray_fn(nact_ctx *ctx, nact_msg *m)
{
	struct worker_st *s = nact_state(ctx);
	if (nact_msg_type(m) == T_WORK)
		for (int i = 0; i < 10; i++)
			nt_send_int(nact_sys(ctx), s->sink, T_WORK, i);
	return 0;
}

/* Pushes from several workers (their own slots) and from main (the
 * shared, atomic one) add up exactly. */
static void test_many_producers(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	atomic_int sunk = 0;
	nact_aid sink, spray[4];
	REQUIRE_RV(nact_spawn(&sink, sys, sink_fn, &sunk, NULL, NULL));
	struct worker_st st = {.sink = sink};
	for (int i = 0; i < 4; i++)
		REQUIRE_RV(nact_spawn(&spray[i], sys, spray_fn, &st, NULL, NULL));
	const int R = (int)nt_scaled(200);
	for (int r = 0; r < R; r++) {
		for (int i = 0; i < 4; i++)
			nt_send_int(sys, spray[i], T_WORK, r);
		nt_send_int(sys, sink, T_WORK, r); /* main as a producer too */
	}
	int want = R * 4 * 10 + R;
	CHECK(NT_WAIT(atomic_load(&sunk) == want, NT_LONG_MS));
	nact_actor_metrics am;
	CHECK(NT_WAIT(nact_metrics_actor(sys, sink, &am) == 0 && am.in == (uint64_t)want,
	    NT_LONG_MS));
	CHECK_EQ_U64(am.in, want);
	CHECK_EQ_U64(am.depth, 0);
	for (int i = 0; i < 4; i++) {
		CHECK_RV(nact_metrics_actor(sys, spray[i], &am));
		CHECK_EQ_U64(am.out, R * 10);
	}
	nact_system_close(sys, 2000);
}

static void test_percentiles(void)
{
	uint64_t h[NACT_HIST_BUCKETS] = {0};
	CHECK_EQ_U64(nact_hist_quantile(h, 0.5), 0);
	h[10] = 98; /* [1024, 2048) ns */
	h[20] = 2;  /* [1 Mi, 2 Mi) ns */
	CHECK_EQ_U64(nact_hist_quantile(h, 0.5), 2048);
	CHECK_EQ_U64(nact_hist_quantile(h, 0.98), 2048);
	CHECK_EQ_U64(nact_hist_quantile(h, 0.99), UINT64_C(1) << 21);
	CHECK_EQ_U64(nact_hist_quantile(h, 1.0), UINT64_C(1) << 21);

	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	struct worker_st st = {0};
	nact_aid w;
	REQUIRE_RV(nact_spawn(&w, sys, worker_fn, &st, NULL, NULL));
	for (int i = 0; i < 10; i++)
		nt_send_int(sys, w, T_SLEEP, i);
	CHECK(NT_WAIT(atomic_load(&st.got) == 10, NT_LONG_MS));
	nact_actor_metrics am;
	CHECK(NT_WAIT(nact_metrics_actor(sys, w, &am) == 0 && am.handled == 10, NT_LONG_MS));
	CHECK(am.p99_ns >= 2000000u);
	CHECK(am.p50_ns >= 2000000u);
	CHECK(am.p50_ns <= am.p99_ns);
	CHECK(am.max_ns >= 2000000u && am.max_ns <= am.p99_ns);
	CHECK_EQ_U64(am.timed, 1); /* the first of 64 */
	CHECK(am.busy_ns >= 2000000u);
	nact_system_close(sys, 2000);
}

static int crashy_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	return nact_msg_type(m) == T_CRASH ? NACT_EINVAL : 0;
}

static int crashy_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	(void)extra;
	(void)arg;
	return nact_spawn(idp, sys, crashy_fn, NULL, NULL, NULL);
}

static void test_restarts(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	nact_child_spec ch = {.id = "c", .start = crashy_start, .restart = NACT_PERMANENT};
	nact_sup_spec sp = {.name = "sup", .children = &ch, .nchildren = 1, .intensity = 10};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, sys, &sp));
	nact_child_info ci;
	uint32_t n = 0;
	REQUIRE_RV(nact_sup_children(sys, sup, &ci, 1, &n, 5000));
	nact_aid first = ci.aid;
	nact_actor_metrics am;
	CHECK_RV(nact_metrics_actor(sys, first, &am));
	CHECK_EQ_U64(am.restarts, 0);
	nt_send_int(sys, first, T_CRASH, 0);
	CHECK(NT_WAIT(nact_sup_children(sys, sup, &ci, 1, &n, 5000) == 0 && ci.aid.v != 0 &&
	        ci.aid.v != first.v && ci.restarts == 1,
	    NT_LONG_MS));
	CHECK_RV(nact_metrics_actor(sys, ci.aid, &am));
	CHECK_EQ_U64(am.restarts, 1);
	nact_system_close(sys, 2000);
}

static void test_profiler(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	CHECK_ERR(nact_profile_set(sys, 2), NACT_EINVAL);
	REQUIRE_RV(nact_profile_set(sys, 1));
	atomic_int cnt = 0;
	nact_aid a;
	REQUIRE_RV(nact_spawn(&a, sys, sink_fn, &cnt, NULL, NULL));
	for (int i = 0; i < 30; i++)
		nt_send_int(sys, a, 7, i);
	for (int i = 0; i < 12; i++)
		nt_send_int(sys, a, 9, i);
	CHECK(NT_WAIT(atomic_load(&cnt) == 42, NT_LONG_MS));
	nact_profile_entry e[16];
	size_t n = 0;
	uint64_t c7 = 0, c9 = 0;
	/* the call's figures land right after the handler returns */
	for (int tries = 0; tries < 2; tries++) {
		NT_WAIT(nact_profile_read(sys, e, 16, &n) == 0 && n >= 2, NT_LONG_MS);
		c7 = c9 = 0;
		for (size_t i = 0; i < n && i < 16; i++) {
			if (e[i].fn == (uintptr_t)sink_fn && e[i].type == 7)
				c7 = e[i].calls;
			if (e[i].fn == (uintptr_t)sink_fn && e[i].type == 9)
				c9 = e[i].calls;
		}
		if (c7 == 30 && c9 == 12)
			break;
		NT_WAIT(0, 20);
	}
	CHECK_EQ_U64(c7, 30);
	CHECK_EQ_U64(c9, 12);
	char buf[64];
	CHECK(nact_behaviour_name((uintptr_t)sink_fn, buf, sizeof(buf))[0] != '\0');
	CHECK_RV(nact_profile_log(sys, 4));
	nact_system_close(sys, 2000);
}

static void test_node(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	nact_node_metrics a, b;
	REQUIRE_RV(nact_node_metrics_read(sys, &a));
	CHECK(a.rss_bytes > 1024 * 1024);
	CHECK(a.threads >= 3); /* main + 2 workers (+ timer, nng) */
	CHECK(a.fds >= 3);
	CHECK_EQ_U64(a.workers, 2);
	volatile uint64_t x = 0;
	uint64_t until = nt_now_ns() + 30000000u;
	while (nt_now_ns() < until) /* work to measure, not a wait */
		x += 1;
	REQUIRE_RV(nact_node_metrics_read(sys, &b));
	CHECK(b.cpu_ns > a.cpu_ns);
	double pct = nact_node_cpu_pct(&a, &b);
	CHECK(pct > 0 && pct < 100.0 * 64);
	CHECK(nact_node_cpu_pct(&b, &a) == 0);
	nact_system_close(sys, 2000);
}

/* Log capture for the watchdog's warn line. */
struct logcap {
	nng_mtx *mtx;
	char line[512];
	atomic_int slow;
};

static void log_cap(void *arg, int level, const char *line)
{
	struct logcap *c = arg;
	if (level == NACT_LOG_WARN && strstr(line, "slow handler") != NULL) {
		nng_mtx_lock(c->mtx);
		snprintf(c->line, sizeof(c->line), "%s", line);
		nng_mtx_unlock(c->mtx);
		atomic_store(&c->slow, 1);
	}
}

static void test_alerts_and_watchdog(void)
{
	nact_system *sys;
	struct logcap lc = {0};
	REQUIRE(nng_mtx_alloc(&lc.mtx) == 0);
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.metrics = 1;
	cfg.log_level = NACT_LOG_WARN;
	cfg.log_fn = log_cap;
	cfg.log_arg = &lc;
	REQUIRE_RV(nact_system_open(&sys, &cfg));
	struct events ev = {0};
	REQUIRE(nng_mtx_alloc(&ev.mtx) == 0);
	nact_aid sub, w, mon;
	REQUIRE_RV(nact_spawn(&sub, sys, events_fn, &ev, NULL, NULL));
	struct worker_st st = {0};
	nact_spawn_opts o = {.name = "slowpoke"};
	REQUIRE_RV(nact_spawn(&w, sys, worker_fn, &st, NULL, &o));
	nact_monitor_config mc;
	nact_monitor_config_init(&mc);
	mc.interval_ms = 20;
	mc.max_depth = 10;
	mc.slow_ms = 50;
	mc.subscribers[0] = sub;
	mc.nsubscribers = 1;
	/* alerts are also published on a bus: a listener of monitor.alert.>
	 * gets them there */
	struct events bev = {0};
	REQUIRE(nng_mtx_alloc(&bev.mtx) == 0);
	nact_bus *bus;
	nact_aid bsub;
	REQUIRE_RV(nact_bus_open(&bus, sys, NULL));
	REQUIRE_RV(nact_spawn(&bsub, sys, events_fn, &bev, NULL, NULL));
	REQUIRE_RV(nact_bus_subscribe_call(sys, nact_bus_aid(bus), "monitor.alert.>", bsub, 0, NULL,
	    (int)nt_slow(NT_LONG_MS)));
	mc.bus = nact_bus_aid(bus);
	REQUIRE_RV(nact_monitor_start(&mon, sys, &mc));
	/* hold the handler; queue 30 behind it */
	REQUIRE_RV(nt_send_int(sys, w, T_HOLD, 0));
	CHECK(NT_WAIT(atomic_load(&st.gate.entered), NT_LONG_MS));
	for (int i = 0; i < 30; i++)
		nt_send_int(sys, w, T_WORK, i);
	/* both alerts come while the handler is still held */
	CHECK(NT_WAIT(count_for(&ev, w, NACT_MON_TOPIC_MAILBOX) >= 1 &&
	        count_for(&ev, w, NACT_MON_TOPIC_SLOW) >= 1,
	    NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&lc.slow), NT_LONG_MS));
	CHECK(NT_WAIT(count_for(&bev, w, NACT_MON_TOPIC_MAILBOX) >= 1 &&
	        count_for(&bev, w, NACT_MON_TOPIC_SLOW) >= 1,
	    NT_LONG_MS));
	CHECK(!atomic_load(&st.gate.open));
	nng_mtx_lock(ev.mtx);
	for (int i = 0; i < ev.n; i++) {
		if (ev.id[i] != w.v)
			continue;
		if (strcmp(ev.topic[i], NACT_MON_TOPIC_MAILBOX) == 0)
			CHECK(ev.depth[i] > 10 && ev.depth[i] <= 30);
		else if (strcmp(ev.topic[i], NACT_MON_TOPIC_SLOW) == 0)
			CHECK_EQ_U64(ev.type[i], T_HOLD);
	}
	nng_mtx_unlock(ev.mtx);
	nng_mtx_lock(lc.mtx);
	CHECK(strstr(lc.line, "slowpoke") != NULL);
	nng_mtx_unlock(lc.mtx);
	nt_gate_open(&st.gate);
	CHECK(NT_WAIT(atomic_load(&st.got) == 31, NT_LONG_MS));
	/* snapshot */
	nact_msg *req, *rep = NULL;
	REQUIRE_RV(nact_msg_alloc(&req, sys, NACT_MON_T_SNAPSHOT));
	REQUIRE_RV(nact_call(sys, mon, req, (int)nt_slow(NT_LONG_MS), &rep));
	CHECK_EQ_INT(nact_msg_type(rep), NACT_MON_T_SNAPSHOT);
	nact_msg_free(rep);
	/* no second mailbox or slow alert about it for the same episode */
	CHECK(NT_STAYS_FALSE(count_for(&ev, w, NACT_MON_TOPIC_MAILBOX) > 1 ||
	        count_for(&ev, w, NACT_MON_TOPIC_SLOW) > 1,
	    NT_QUIET_MS));
	nact_bus_free(bus);
	nact_system_close(sys, 2000);
	nng_mtx_free(ev.mtx);
	nng_mtx_free(bev.mtx);
	nng_mtx_free(lc.mtx);
}

/* The other thresholds: handler p99, RSS, dead-letter rate. */
static void test_other_alerts(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	struct events ev = {0};
	REQUIRE(nng_mtx_alloc(&ev.mtx) == 0);
	nact_aid sub, w, dead, mon;
	REQUIRE_RV(nact_spawn(&sub, sys, events_fn, &ev, NULL, NULL));
	struct worker_st st = {0};
	REQUIRE_RV(nact_spawn(&w, sys, worker_fn, &st, NULL, NULL));
	atomic_int cnt = 0;
	REQUIRE_RV(nact_spawn(&dead, sys, sink_fn, &cnt, NULL, NULL));
	REQUIRE_RV(nact_stop(sys, dead));
	CHECK(NT_WAIT(!nact_alive(sys, dead), NT_LONG_MS));
	nact_monitor_config mc;
	nact_monitor_config_init(&mc);
	mc.interval_ms = 20;
	mc.max_p99_ns = 1000000;       /* 1 ms */
	mc.max_rss = 1024;             /* any process is over */
	mc.max_deadletter_rate = 50.0; /* per second */
	mc.no_watchdog = 1;
	mc.subscribers[0] = sub;
	mc.nsubscribers = 1;
	REQUIRE_RV(nact_monitor_start(&mon, sys, &mc));
	nt_send_int(sys, w, T_SLEEP, 0); /* 2 ms, timed (the first call) */
	CHECK(NT_WAIT(count_for(&ev, w, NACT_MON_TOPIC_P99) == 1, NT_LONG_MS));
	nact_aid none = {0};
	CHECK(NT_WAIT(count_for(&ev, none, NACT_MON_TOPIC_RSS) == 1, NT_LONG_MS));
	/* dead letters: far over 50/s until the alert comes */
	uint64_t until = nt_now_ms() + nt_slow(NT_LONG_MS);
	while (count_for(&ev, none, NACT_MON_TOPIC_DEADLETTERS) == 0 && nt_now_ms() < until) {
		for (int i = 0; i < 20; i++)
			nt_send_int(sys, dead, T_WORK, i);
		nng_msleep(2);
	}
	CHECK_EQ_INT(count_for(&ev, none, NACT_MON_TOPIC_DEADLETTERS), 1);
	/* edge-triggered: RSS stays over, no second alert */
	CHECK(NT_STAYS_FALSE(count_for(&ev, none, NACT_MON_TOPIC_RSS) > 1, NT_QUIET_MS));
	nact_system_close(sys, 2000);
	nng_mtx_free(ev.mtx);
}

/* A bad message to the monitor: its error reply code. */
static int bad_call(nact_system *sys, nact_aid mon, uint32_t type, int body)
{
	nact_msg *m, *rep = NULL;
	nact_pack pk;
	if (nact_msg_alloc(&m, sys, type) != 0)
		return -1;
	nact_pack_init(&pk, m);
	switch (body) {
	case 0: /* empty */
		break;
	case 1: /* a string */
		nact_pack_str(&pk, "x");
		break;
	case 2: /* array of two */
		nact_pack_array(&pk, 2);
		nact_pack_uint(&pk, 1);
		nact_pack_uint(&pk, 2);
		break;
	case 3: /* [0] */
		nact_pack_array(&pk, 1);
		nact_pack_uint(&pk, 0);
		break;
	case 4: /* [-1] */
		nact_pack_array(&pk, 1);
		nact_pack_int(&pk, -1);
		break;
	case 5: /* [unsubscribed id] */
		nact_pack_array(&pk, 1);
		nact_pack_uint(&pk, 12345);
		break;
	case 6: /* tick with a wrong seq */
		nact_pack_uint(&pk, 999999);
		break;
	}
	int rv = nact_call(sys, mon, m, (int)nt_slow(NT_LONG_MS), &rep);
	if (rv != 0)
		return -2;
	int code = 0;
	if (nact_error_read(rep, &code, NULL, 0) != 0)
		code = 0;
	nact_msg_free(rep);
	return code;
}

static void test_bad_input(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	nact_aid mon;
	nact_monitor_config mc;
	nact_monitor_config_init(&mc);
	mc.nsubscribers = NACT_MON_MAX_SUBS + 1;
	CHECK_ERR(nact_monitor_start(&mon, sys, &mc), NACT_EINVAL);
	CHECK_ERR(nact_monitor_start(NULL, sys, NULL), NACT_EINVAL);
	mc.nsubscribers = 0;
	mc.prom_url = "tcp://127.0.0.1:1/x";
	CHECK_ERR(nact_monitor_start(&mon, sys, &mc), NACT_EINVAL);
	mc.prom_url = NULL;
	mc.interval_ms = 50;
	REQUIRE_RV(nact_monitor_start(&mon, sys, &mc));
	static const struct {
		uint32_t type;
		int body, want;
	} cases[] = {
	    {0x1234, 0, NACT_EBADMSG},
	    {NACT_MON_T_SUBSCRIBE, 0, NACT_EBADMSG},
	    {NACT_MON_T_SUBSCRIBE, 1, NACT_EBADMSG},
	    {NACT_MON_T_SUBSCRIBE, 2, NACT_EBADMSG},
	    {NACT_MON_T_SUBSCRIBE, 3, NACT_EBADMSG},
	    {NACT_MON_T_SUBSCRIBE, 4, NACT_EBADMSG},
	    {NACT_MON_T_UNSUBSCRIBE, 5, NACT_ENOENT},
	    {NACT_MON_T_UNSUBSCRIBE, 1, NACT_EBADMSG},
	    {NACT_MON_T_TICK, 6, NACT_EBADMSG},
	    {NACT_MON_T_TICK, 0, NACT_EBADMSG},
	    {NACT_MON_T_SUBSCRIBE, 5, 0},
	    {NACT_MON_T_SUBSCRIBE, 5, NACT_EEXIST},
	    {NACT_MON_T_UNSUBSCRIBE, 5, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = bad_call(sys, mon, cases[i].type, cases[i].body);
		if (got != cases[i].want)
			nt_fail(__FILE__, __LINE__, "case %zu: type %#x body %d: got %d want %d", i,
			    cases[i].type, cases[i].body, got, cases[i].want);
	}
	/* still sampling: snapshot's sample count moves */
	CHECK(nact_alive(sys, mon));
	nact_system_close(sys, 2000);
}

/* GET url (http://127.0.0.1:PORT/PATH) over a plain TCP socket, as a
 * scraper would (nng's HTTP client is not used: its connection teardown
 * trips TSan inside libnng). The body (malloc'd) or NULL; *status gets the
 * HTTP status. Reads are bounded by SO_RCVTIMEO. */
static char *http_get(const char *url, int *status)
{
	int port = 0;
	char path[128];
	*status = 0;
	if (sscanf(url, "http://127.0.0.1:%d%127s", &port, path) != 2)
		return NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return NULL;
	struct timeval tv = {.tv_sec = (time_t)(nt_slow(NT_LONG_MS) / 1000)};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char req[256];
	int rl = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, req, (size_t)rl) != rl) {
		close(fd);
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (buf == NULL)
			break;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t k = read(fd, buf + n, cap - n);
		if (k <= 0)
			break; /* closed (or the timeout) */
		n += (size_t)k;
		buf[n] = '\0';
		/* done once the headers and Content-Length bytes are in */
		char *eoh = strstr(buf, "\r\n\r\n");
		const char *cl = eoh ? strstr(buf, "Content-Length:") : NULL;
		if (cl == NULL && eoh)
			cl = strstr(buf, "content-length:");
		if (eoh != NULL && cl != NULL && cl < eoh &&
		    n >= (size_t)(eoh + 4 - buf) + strtoul(cl + 15, NULL, 10))
			break;
	}
	close(fd);
	if (buf == NULL)
		return NULL;
	buf[n] = '\0';
	char *eoh = strstr(buf, "\r\n\r\n");
	if (eoh == NULL || sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
		free(buf);
		return NULL;
	}
	memmove(buf, eoh + 4, strlen(eoh + 4) + 1);
	return buf;
}

static void test_prometheus(void)
{
	nact_system *sys;
	REQUIRE_RV(open_metrics(&sys, 2));
	atomic_int cnt = 0;
	nact_aid a;
	nact_spawn_opts o = {.name = "prom\"actor"};
	REQUIRE_RV(nact_spawn(&a, sys, sink_fn, &cnt, NULL, &o));
	for (int i = 0; i < 5; i++)
		nt_send_int(sys, a, T_WORK, i);
	CHECK(NT_WAIT(atomic_load(&cnt) == 5, NT_LONG_MS));
	nact_prom *p = NULL;
	char url[128];
	int rv = -1;
	/* a free port: try a few from one derived from the pid */
	for (int k = 0; k < 20 && rv != 0; k++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics",
		    20000 + (int)((getpid() * 7 + k * 131) % 30000));
		rv = nact_prom_serve(sys, url, &p);
	}
	REQUIRE_RV(rv);
	CHECK_ERR(nact_prom_serve(sys, "not a url", &p), NACT_EINVAL);
	int status;
	char *page = http_get(url, &status);
	REQUIRE(page != NULL);
	CHECK_EQ_INT(status, 200);
	CHECK(strstr(page, "# TYPE nactor_process_resident_memory_bytes gauge\n") != NULL);
	CHECK(strstr(page, "\nnactor_process_threads ") != NULL);
	CHECK(strstr(page, "\nnactor_actors_live 1\n") != NULL);
	char want[160];
	snprintf(want, sizeof(want),
	    "nactor_actor_messages_in_total{id=\"%#llx\",name=\"prom\\\"actor\"} 5\n",
	    (unsigned long long)a.v);
	CHECK(strstr(page, want) != NULL);
	snprintf(want, sizeof(want),
	    "nactor_actor_handler_seconds_count{id=\"%#llx\",name=\"prom\\\"actor\"} 1\n",
	    (unsigned long long)a.v);
	CHECK(strstr(page, want) != NULL);
	CHECK(strstr(page, "le=\"+Inf\"} 1\n") != NULL); /* 1 of 5 calls timed */
	free(page);
	/* another path: 404, server keeps serving */
	char other[160];
	snprintf(other, sizeof(other), "%.*sother", (int)(strrchr(url, '/') - url + 1), url);
	page = http_get(other, &status);
	CHECK_EQ_INT(status, 404);
	free(page);
	page = http_get(url, &status);
	CHECK_EQ_INT(status, 200);
	free(page);
	nact_prom_stop(p);
	nact_system_close(sys, 2000);
}

NT_MAIN(NT_CASE(test_off), NT_CASE(test_counts), NT_CASE(test_many_producers),
    NT_CASE(test_percentiles), NT_CASE(test_restarts), NT_CASE(test_profiler), NT_CASE(test_node),
    NT_CASE(test_alerts_and_watchdog), NT_CASE(test_other_alerts), NT_CASE(test_bad_input),
    NT_CASE(test_prometheus))
