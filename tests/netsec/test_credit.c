/*
 * tests/netsec/test_credit.c — credit flow control between nodes: this
 * process (node "a") floods a slow actor on a child process (node "b")
 * whose mailbox holds 64 messages. Checks: the sender sees back-pressure
 * (NACT_EFULL from nact_send, and nact_send_wait blocking then timing
 * out); every message nact_send accepted arrives, in order; the child's
 * RSS stays bounded while the flood lasts. Before credits, a full remote
 * mailbox dropped messages (at-most-once) and an unbounded one grew.
 */
#include "testutil.h"

#include <nactor/node.h>

#include "../node/nodeutil.h"

#define SECRET "correct horse battery staple"
#define T_SEQ 40u
#define T_GET 41u
#define PAD 200
#define WINDOW (64 * 1024)

struct slow {
	uint64_t count, next, fifo_err;
};

static int slow_fn(nact_ctx *ctx, nact_msg *m)
{
	struct slow *s = nact_state(ctx);
	if (nact_msg_type(m) == T_SEQ) {
		nact_reader r;
		uint64_t seq = UINT64_MAX;
		uint32_t n;
		if (nact_reader_init(&r, m, NULL) == 0) {
			if (nact_read_array(&r, &n) == 0)
				nact_read_uint(&r, &seq);
			nact_reader_fini(&r);
		}
		if (seq != s->next)
			s->fifo_err++;
		s->next = seq + 1;
		s->count++;
		usleep(200); /* slow: ~5000 messages/s at most */
	} else if (nact_msg_type(m) == T_GET && (nact_msg_flags(m) & NACT_MF_REQUEST)) {
		nact_msg *r;
		if (nact_msg_alloc(&r, nact_sys(ctx), T_GET) == 0) {
			nact_pack pk;
			nact_pack_init(&pk, r);
			nact_pack_array(&pk, 2);
			nact_pack_uint(&pk, s->count);
			nact_pack_uint(&pk, s->fifo_err);
			if (nact_reply(nact_sys(ctx), m, r) != 0)
				nact_msg_free(r);
		}
	}
	return 0;
}

/* argv: --child NAME SECRET PROTO LISTEN SEED (nodeutil.h's layout) */
static int credit_child(int argc, char **argv)
{
	if (argc < 7)
		return 2;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	if (nact_system_open(&sys, &cfg) != 0)
		return 4;
	nact_spawn_opts so = {0};
	so.name = "slow";
	so.capacity = 64;
	so.overflow = NACT_OVERFLOW_FAIL;
	nact_aid id;
	nact_spawn(&id, sys, slow_fn, calloc(1, sizeof(struct slow)), free, &so);
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = argv[2];
	o.secret = argv[3];
	o.secret_len = strlen(argv[3]);
	const char *lst[1] = {argv[5]};
	o.listen = lst;
	o.nlisten = 1;
	o.credit_window = WINDOW;
	if (nact_node_start(sys, &o) != 0) {
		nact_system_close(sys, 1000);
		return 5;
	}
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

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static nact_msg *seq_msg(nact_system *sys, uint64_t seq)
{
	static const uint8_t pad[PAD];
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, T_SEQ) != 0)
		return NULL;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 2);
	nact_pack_uint(&pk, seq);
	nact_pack_bin(&pk, pad, PAD);
	return m;
}

static int get_counts(nact_system *sys, nact_aid slow, uint64_t *count, uint64_t *ferr)
{
	nact_msg *q, *r = NULL;
	if (nact_msg_alloc(&q, sys, T_GET) != 0)
		return NACT_ENOMEM;
	int rv = nact_call(sys, slow, q, (int)nt_slow(5000), &r);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(q);
		return rv;
	}
	nact_reader rd;
	uint32_t n;
	rv = nact_reader_init(&rd, r, NULL);
	if (rv == 0) {
		rv = nact_read_array(&rd, &n);
		if (rv == 0)
			rv = nact_read_uint(&rd, count);
		if (rv == 0)
			rv = nact_read_uint(&rd, ferr);
		nact_reader_fini(&rd);
	}
	nact_msg_free(r);
	return rv;
}

static void test_slow_remote_actor(void)
{
	nt_child ch;
	REQUIRE(nt_child_start(&ch, "b", SECRET, 0, NULL, NULL) == 0);
	nact_system *sys = NULL;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	REQUIRE_RV(nact_system_open(&sys, &cfg));
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = "a";
	o.secret = SECRET;
	o.secret_len = strlen(SECRET);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	const char *seeds[1] = {ch.url};
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = 1;
	o.queue_max = 256 * 1024;
	REQUIRE_RV(nact_node_start(sys, &o));
	uint16_t b;
	REQUIRE_RV(nact_node_peer(sys, "b", &b, (int)nt_slow(NT_LONG_MS)));
	nact_aid slow;
	REQUIRE_RV(nact_node_whereis(sys, b, "slow", &slow, (int)nt_slow(5000)));

	long rss0 = rss_kb(ch.pid), rss_max = rss0;
	uint64_t seq = 0, efull = 0, other = 0;
	uint64_t t0 = nt_now_ms(), dur = (uint64_t)nt_scaled(3000);
	while (nt_now_ms() - t0 < dur) {
		nact_msg *m = seq_msg(sys, seq);
		REQUIRE(m != NULL);
		int rv = nact_send(sys, slow, m);
		if (rv == 0) {
			seq++;
			continue;
		}
		nact_msg_free(m);
		if (rv == NACT_EFULL)
			efull++;
		else
			other++;
		if (efull % 64 == 1) {
			long r = rss_kb(ch.pid);
			if (r > rss_max)
				rss_max = r;
		}
		nng_msleep(1);
	}
	/* nact_send_wait blocks while the queue is full, then times out. b is
	 * stopped meanwhile: the slow actor still frees room every few
	 * messages, often within the 1 ms wait, so with b running a wait that
	 * times out needs a pause of b's credit grants. Stopped, b frees none:
	 * the queue fills (at most queue_max / PAD more messages) and stays
	 * full. The pause is far below down_after_ms. */
	int stopped = nt_child_sigstop(&ch) == 0;
	CHECK(stopped);
	int waits = 0, timeouts = 0, maxw = (int)(o.queue_max / PAD) + 50;
	for (int i = 0; i < maxw && timeouts == 0; i++) {
		nact_msg *m = seq_msg(sys, seq);
		REQUIRE(m != NULL);
		int rv = nact_send_wait(sys, slow, m, 1);
		if (rv == 0) {
			seq++;
			waits++;
		} else {
			nact_msg_free(m);
			if (rv == NACT_ETIMEDOUT || rv == NACT_EFULL)
				timeouts++;
		}
	}
	if (stopped)
		kill(ch.pid, SIGCONT);
	printf("accepted %llu, EFULL %llu, other errors %llu, send_wait ok %d timed out %d; "
	       "child RSS %ld kB at start, %ld kB max\n",
	    (unsigned long long)seq, (unsigned long long)efull, (unsigned long long)other, waits,
	    timeouts, rss0, rss_max);
	CHECK(efull > 0);
	CHECK_EQ_U64(other, 0);
	CHECK(timeouts > 0);
	CHECK(seq > 0);
	/* bounded: window + mailbox + pools; generous for allocator noise */
	CHECK(rss_max - rss0 < 48 * 1024);
	/* every accepted message arrives, in order */
	uint64_t count = 0, ferr = 0;
	uint64_t dl = nt_now_ms() + nt_slow(NT_LONG_MS * 2);
	while (nt_now_ms() < dl) {
		if (get_counts(sys, slow, &count, &ferr) == 0 && count == seq)
			break;
		nng_msleep(50);
	}
	CHECK_EQ_U64(count, seq);
	CHECK_EQ_U64(ferr, 0);
	nact_node_stats st;
	REQUIRE_RV(nact_node_stats_get(sys, &st));
	CHECK_EQ_U64(st.dropped, 0);
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	nt_child_stop(&ch);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return credit_child(argc, argv);
	(void)nt_child_main;
	(void)nt_node_start;
	(void)nt_child_kill9;
	signal(SIGPIPE, SIG_IGN);
	static const nt_case cases[] = {NT_CASE(test_slow_remote_actor), {NULL, NULL}};
	int rv = nt_run(argc, argv, cases);
	nng_fini(); /* nng frees closed listeners and dialers later, on its
		     * own threads: let it finish before LeakSanitizer runs */
	return rv;
}
