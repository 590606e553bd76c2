/*
 * tests/node/test_lanes.c — lanes: the direct TCP connections that carry
 * frames between plain-tcp nodes (docs/wire.md "Lanes").
 *
 * - two nodes use lanes both ways (counted in nact_node_stats), and a
 *   burst of one-way messages arrives complete and in order through them;
 * - a node with lanes = -1 neither offers nor uses one, and traffic still
 *   flows (on nng) both ways;
 * - a raw peer (handshake by hand, then its own TCP lane) gets a valid
 *   frame delivered, and each bad lane input (a bad hello, an unknown
 *   connection, malformed frames, an oversized length) closes the lane and
 *   its connection, is counted, and leaves the node serving the others.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "testutil.h"

#include <nng/protocol/pair1/pair.h>

#include <nactor/transport.h>

#include "nodeutil.h"

#define SECRET "correct horse battery staple"
#define T_SEQ 70u
#define T_SEQ_GET 71u

static nact_system *open_sys(void)
{
	nact_system *sys = NULL;
	return nt_open(&sys, 2, 0) == 0 ? sys : NULL;
}

static size_t g_queue_max; /* 0 = default */

static int node_start(nact_system *sys, const char *name, const char *seed, int lanes)
{
	nact_node_opts o;
	nact_node_opts_init(&o);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	const char *seeds[1] = {seed};
	o.name = name;
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = seed != NULL ? 1 : 0;
	o.secret = SECRET;
	o.secret_len = strlen(SECRET);
	o.lanes = lanes;
	o.queue_max = g_queue_max;
	return nact_node_start(sys, &o);
}

/* Checks a sequence: each T_SEQ carries the next number; T_SEQ_GET
 * replies [received, out_of_order]. */
struct seq {
	uint64_t next, bad;
};

static int seq_fn(nact_ctx *ctx, nact_msg *m)
{
	struct seq *s = nact_state(ctx);
	if (nact_msg_type(m) == T_SEQ) {
		nact_reader r;
		uint64_t v = UINT64_MAX;
		if (nact_reader_init(&r, m, NULL) == 0) {
			nact_read_uint(&r, &v);
			nact_reader_fini(&r);
		}
		if (v != s->next)
			s->bad++;
		s->next++;
	} else if (nact_msg_type(m) == T_SEQ_GET) {
		nact_msg *r;
		if (nact_msg_alloc(&r, nact_sys(ctx), T_SEQ_GET) == 0) {
			nact_pack pk;
			nact_pack_init(&pk, r);
			nact_pack_array(&pk, 2);
			nact_pack_uint(&pk, s->next);
			nact_pack_uint(&pk, s->bad);
			if (nact_reply(nact_sys(ctx), m, r) != 0)
				nact_msg_free(r);
		}
	}
	return 0;
}

/* A request to `to` answered with [a, b]; 0 on success. */
static int call2(nact_system *sys, nact_aid to, uint32_t type, uint64_t *a, uint64_t *b)
{
	nact_msg *q, *r = NULL;
	if (nact_msg_alloc(&q, sys, type) != 0)
		return -1;
	int rv = nact_call(sys, to, q, (int)nt_slow(5000), &r);
	if (rv != 0)
		return rv;
	nact_reader rd;
	uint32_t n = 0;
	rv = nact_reader_init(&rd, r, NULL);
	if (rv == 0 && (rv = nact_read_array(&rd, &n)) == 0 && n >= 2) {
		rv = nact_read_uint(&rd, a);
		if (rv == 0)
			rv = nact_read_uint(&rd, b);
	}
	if (rv == 0 || n >= 2)
		nact_reader_fini(&rd);
	nact_msg_free(r);
	return rv;
}

/* Two in-process nodes, b seeded with a; lanes as given. */
static void two_nodes(nact_system **a, nact_system **b, int la, int lb, uint16_t *b_at_a)
{
	char url[256];
	*a = open_sys();
	*b = open_sys();
	REQUIRE(*a != NULL && *b != NULL);
	REQUIRE_RV(node_start(*a, "a", NULL, la));
	REQUIRE_RV(nact_node_url(*a, url, sizeof(url)));
	REQUIRE_RV(node_start(*b, "b", url, lb));
	REQUIRE_RV(nact_node_peer(*a, "b", b_at_a, (int)nt_slow(NT_LONG_MS)));
	uint16_t a_at_b;
	REQUIRE_RV(nact_node_peer(*b, "a", &a_at_b, (int)nt_slow(NT_LONG_MS)));
}

static void burst(nact_system *a, nact_system *b, uint16_t bno, uint64_t n)
{
	nact_aid s, sr;
	nact_spawn_opts so = {.name = "seq"};
	REQUIRE_RV(nact_spawn(&s, b, seq_fn, calloc(1, sizeof(struct seq)), free, &so));
	REQUIRE_RV(nact_node_whereis(a, bno, "seq", &sr, (int)nt_slow(5000)));
	for (uint64_t i = 0; i < n; i++) {
		nact_msg *m;
		REQUIRE_RV(nact_msg_alloc(&m, a, T_SEQ));
		nact_pack pk;
		nact_pack_init(&pk, m);
		nact_pack_uint(&pk, i);
		int rv = nact_send_wait(a, sr, m, (int)nt_slow(10000));
		if (rv != 0) {
			nact_msg_free(m);
			CHECK_RV(rv);
			break;
		}
	}
	uint64_t got = 0, bad = 0;
	CHECK(NT_WAIT(call2(a, sr, T_SEQ_GET, &got, &bad) == 0 && got == n, NT_LONG_MS));
	CHECK_EQ_U64(got, n);
	CHECK_EQ_U64(bad, 0);
}

static void test_lanes_used(void)
{
	nact_system *a, *b;
	uint16_t bno;
	two_nodes(&a, &b, 0, 0, &bno);
	/* each side dialed the other: a lane each way */
	nact_node_stats sa, sb;
	CHECK(NT_WAIT(nact_node_stats_get(a, &sa) == 0 && sa.lanes_out == 1 && sa.lanes_in == 1,
	    NT_LONG_MS));
	CHECK(NT_WAIT(nact_node_stats_get(b, &sb) == 0 && sb.lanes_out == 1 && sb.lanes_in == 1,
	    NT_LONG_MS));
	uint64_t f0 = sa.frames_out;
	burst(a, b, bno, 200000);
	CHECK_RV(nact_node_stats_get(a, &sa));
	CHECK(sa.frames_out > f0);
	CHECK(sa.envelopes_out >= 200000);
	/* batched: far fewer frames than envelopes */
	CHECK(sa.frames_out - f0 < 200000 / 4);
	CHECK_EQ_U64(sa.lanes_out, 1);
	CHECK_EQ_U64(sa.dropped, 0);
	nact_node_stop(b);
	nact_node_stop(a);
	nact_system_close(b, 2000);
	nact_system_close(a, 2000);
}

static void test_lanes_off(void)
{
	nact_system *a, *b;
	uint16_t bno;
	two_nodes(&a, &b, -1, 0, &bno);
	burst(a, b, bno, 20000);
	nact_node_stats sa, sb;
	CHECK_RV(nact_node_stats_get(a, &sa));
	CHECK_RV(nact_node_stats_get(b, &sb));
	/* a offers none and uses none; b dials a, which offers none */
	CHECK_EQ_U64(sa.lanes_out, 0);
	CHECK_EQ_U64(sa.lanes_in, 0);
	CHECK_EQ_U64(sb.lanes_out, 0);
	CHECK_EQ_U64(sb.lanes_in, 0);
	CHECK(sa.envelopes_out >= 20000);
	nact_node_stop(b);
	nact_node_stop(a);
	nact_system_close(b, 2000);
	nact_system_close(a, 2000);
}

/* One handler turn that sends far more than queue_max: a worker holds a
 * turn's sends to write them at its end, but not past a full frame, so
 * the queue never fills and no send fails. */
struct burster {
	nact_aid to;
	uint64_t n;
	_Atomic uint64_t failed;
	_Atomic int done;
};

static int burster_fn(nact_ctx *ctx, nact_msg *m)
{
	struct burster *b = nact_state(ctx);
	(void)m;
	for (uint64_t i = 0; i < b->n; i++) {
		nact_msg *q;
		if (nact_msg_alloc(&q, nact_sys(ctx), T_SEQ) != 0) {
			atomic_fetch_add(&b->failed, 1);
			continue;
		}
		nact_pack pk;
		nact_pack_init(&pk, q);
		nact_pack_uint(&pk, i);
		if (nact_send(nact_sys(ctx), b->to, q) != 0) {
			nact_msg_free(q);
			atomic_fetch_add(&b->failed, 1);
		}
	}
	atomic_store(&b->done, 1);
	return 0;
}

static void test_turn_over_queue_max(void)
{
	nact_system *a, *b;
	uint16_t bno;
	g_queue_max = 256 * 1024;
	two_nodes(&a, &b, 0, 0, &bno);
	g_queue_max = 0;
	nact_aid s, sr, ba;
	nact_spawn_opts so = {.name = "seq"};
	REQUIRE_RV(nact_spawn(&s, b, seq_fn, calloc(1, sizeof(struct seq)), free, &so));
	REQUIRE_RV(nact_node_whereis(a, bno, "seq", &sr, (int)nt_slow(5000)));
	static struct burster bu;
	bu.to = sr;
	bu.n = 20000; /* ~1.3 MB of envelopes, 5x queue_max */
	REQUIRE_RV(nact_spawn(&ba, a, burster_fn, &bu, NULL, NULL));
	nact_msg *go;
	REQUIRE_RV(nact_msg_alloc(&go, a, 1));
	REQUIRE_RV(nact_send(a, ba, go));
	CHECK(NT_WAIT(atomic_load(&bu.done), NT_LONG_MS));
	CHECK_EQ_U64(atomic_load(&bu.failed), 0);
	uint64_t got = 0, bad = 0;
	CHECK(NT_WAIT(call2(a, sr, T_SEQ_GET, &got, &bad) == 0 && got == bu.n, NT_LONG_MS));
	CHECK_EQ_U64(got, bu.n);
	CHECK_EQ_U64(bad, 0);
	nact_node_stop(b);
	nact_node_stop(a);
	nact_system_close(b, 2000);
	nact_system_close(a, 2000);
}

/* ---- a raw lane ---- */

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* 1 once the node closed fd (EOF or reset), 0 at the deadline. */
static int closed_by_node(int fd)
{
	uint64_t dl = nt_now_ms() + nt_slow(NT_LONG_MS);
	char c;
	while (nt_now_ms() < dl) {
		ssize_t r = recv(fd, &c, 1, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return 1;
	}
	return 0;
}

/* The hello for the raw peer's connection (nonce 32 x 7; insecure: no
 * MAC checked). */
static void lane_hello(uint8_t *h, uint64_t cid)
{
	memset(h, 0, 48);
	h[0] = 0xA8;
	h[1] = 'L';
	h[2] = 1;
	for (int i = 0; i < 8; i++)
		h[4 + i] = (uint8_t)(cid >> (8 * i));
}

static void put32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A lane frame: [u32 len][frame]; frame = DATA header + one record for
 * target (body bl bytes). Returns the bytes. */
static size_t lane_data(uint8_t *o, uint64_t target, const uint8_t *body, size_t bl)
{
	uint8_t *f = o + 4;
	f[0] = 0xA8, f[1] = 1, f[2] = 16, f[3] = 0;
	nact_hdr h = {.type = CNT_ADD, .target = target};
	put32le(f + 4, (uint32_t)(NACT_HDR_SIZE + bl));
	nact_hdr_encode(&h, f + 8);
	memcpy(f + 8 + NACT_HDR_SIZE, body, bl);
	size_t fl = 8 + NACT_HDR_SIZE + bl;
	put32le(o, (uint32_t)fl);
	return 4 + fl;
}

static void test_raw_lane(void)
{
	const uint64_t cid = UINT64_C(0x0707070707070707);
	nt_child ch;
	nact_system *sys;
	uint16_t b;
	nact_aid counter, stats;
	uint64_t cl; /* the counter as b knows it */
	REQUIRE(nt_raw_setup(&ch, &sys, &b, &counter, &stats, &cl) == 0);
	uint64_t bad0 = nt_call_u64(sys, stats, 1, 0);
	uint64_t in0 = nt_call_u64(sys, stats, 1, 4);
	CHECK(bad0 != UINT64_MAX && in0 != UINT64_MAX);

	/* without the lane capability, no lane is offered */
	struct raw r;
	uint16_t lport = 1;
	REQUIRE(raw_open_caps(&r, ch.url, 1, 2, &lport) == 0);
	CHECK_EQ_INT(lport, 0);
	nng_close(r.s);

	/* a valid lane: its frames are delivered like the connection's */
	static uint8_t buf[4096];
	uint8_t h[48];
	REQUIRE(raw_open_caps(&r, ch.url, 1, 0x12, &lport) == 0);
	REQUIRE(lport != 0);
	int fd = tcp_connect(lport);
	REQUIRE(fd >= 0);
	lane_hello(h, cid);
	CHECK(send(fd, h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h));
	size_t n = lane_data(buf, cl, (const uint8_t *)"\x01", 1);
	n += lane_data(buf + n, cl, (const uint8_t *)"\x02", 1);
	CHECK(send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n);
	CHECK(NT_WAIT(nt_call_u64(sys, counter, CNT_GET, -1) == 2, NT_LONG_MS));
	CHECK_EQ_U64(nt_call_u64(sys, stats, 1, 4) - in0, 1);
	/* a second lane for the same connection is refused */
	int fd2 = tcp_connect(lport);
	REQUIRE(fd2 >= 0);
	CHECK(send(fd2, h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h));
	CHECK(closed_by_node(fd2));
	close(fd2);
	uint64_t want_bad = 1;
	/* closing the lane closes the connection */
	close(fd);
	CHECK(NT_WAIT(atomic_load(&r.closed) == 1, NT_LONG_MS));
	nng_close(r.s);

	struct row {
		const char *what;
		int kind;
		int counted; /* bad_frames + 1 */
	} rows[] = {
	    {"hello with a bad magic", 0, 1},
	    {"hello naming no connection", 1, 1},
	    {"frame length under 4", 2, 1},
	    {"frame length over the maximum", 3, 1},
	    {"garbage frame", 4, 1},
	    {"unknown frame version", 5, 1},
	    {"unknown frame kind", 6, 1},
	    {"record longer than the frame", 7, 1},
	    {"target 0", 8, 1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct row *w = &rows[i];
		printf("row: %s\n", w->what);
		if (raw_open_caps(&r, ch.url, 1, 0x12, &lport) != 0 || lport == 0 ||
		    (fd = tcp_connect(lport)) < 0) {
			CHECK(!"raw lane failed");
			nng_close(r.s);
			continue;
		}
		lane_hello(h, cid);
		if (w->kind == 0)
			h[1] = 'X';
		if (w->kind == 1)
			h[4] ^= 0xFF;
		size_t len = 0;
		memcpy(buf, h, sizeof(h));
		len = sizeof(h);
		uint8_t *p = buf + len;
		switch (w->kind) {
		case 2:
			put32le(p, 3);
			memset(p + 4, 0, 3);
			len += 7;
			break;
		case 3:
			put32le(p, 0x7FFFFFFF);
			len += 4;
			break;
		case 4:
			put32le(p, 16);
			memcpy(p + 4, "GET / HTTP/1.0\r\n", 16);
			len += 20;
			break;
		case 5:
			len += lane_data(p, cl, (const uint8_t *)"", 0);
			p[5] = 9;
			break;
		case 6:
			len += lane_data(p, cl, (const uint8_t *)"", 0);
			p[6] = 99;
			break;
		case 7:
			len += lane_data(p, cl, (const uint8_t *)"\x01", 1);
			put32le(p + 8, 5000);
			break;
		case 8:
			len += lane_data(p, 0, (const uint8_t *)"", 0);
			break;
		}
		CHECK(send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len);
		want_bad += (uint64_t)w->counted;
		CHECK(closed_by_node(fd));
		if (w->kind >= 2) /* the connection goes with its lane */
			CHECK(NT_WAIT(atomic_load(&r.closed) == 1, NT_LONG_MS));
		close(fd);
		nng_close(r.s);
		/* the node keeps serving the others */
		CHECK(nact_node_up(sys, b));
	}
	CHECK(NT_WAIT(nt_call_u64(sys, stats, 1, 0) - bad0 == want_bad, NT_LONG_MS));
	CHECK_EQ_U64(nt_call_u64(sys, stats, 1, 0) - bad0, want_bad);
	CHECK_EQ_U64(nt_call_u64(sys, counter, CNT_GET, -1), 2);
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	nt_child_stop(&ch);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return nt_child_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	(void)nt_child_kill9;
	static const nt_case cases[] = {NT_CASE(test_lanes_used), NT_CASE(test_lanes_off),
	    NT_CASE(test_turn_over_queue_max), NT_CASE(test_raw_lane), {NULL, NULL}};
	int rv = nt_run(argc, argv, cases);
	nng_fini(); /* see nt_child_main */
	return rv;
}
