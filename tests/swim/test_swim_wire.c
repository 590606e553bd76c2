/*
 * tests/swim/test_swim_wire.c — the SWIM wire format: exact bytes of the
 * documented example, a table of malformed messages, a random-bytes and a
 * mutation fuzz loop, and API argument errors.
 */
#include <msgpack.h>

#include "testutil.h"
#include "transport/swim.h"

#define CAPN 16

struct cap {
	int n;
	char to[CAPN][NACTI_SWIM_ADDR_MAX + 1];
	unsigned char buf[CAPN][4096];
	size_t len[CAPN];
	int events;
};

static void cap_send(void *arg, const char *name, const char *addr, const void *buf, size_t len)
{
	struct cap *c = arg;
	(void)name;
	if (c->n >= CAPN || len > sizeof(c->buf[0]))
		return;
	snprintf(c->to[c->n], sizeof(c->to[0]), "%s", addr);
	memcpy(c->buf[c->n], buf, len);
	c->len[c->n] = len;
	c->n++;
}

static void cap_event(void *arg, nacti_swim_event ev, const nacti_swim_member *m)
{
	struct cap *c = arg;
	(void)ev;
	(void)m;
	c->events++;
}

static nacti_swim *open_node(const char *name, const char *addr, struct cap *c)
{
	nacti_swim_config cfg = {0};
	nacti_swim *s = NULL;
	cfg.name = name;
	cfg.addr = addr;
	cfg.seed = 7;
	cfg.send = cap_send;
	cfg.send_arg = c;
	cfg.event = cap_event;
	cfg.event_arg = c;
	if (nacti_swim_open(&s, &cfg, 0) != 0)
		return NULL;
	return s;
}

/* The example of docs/swim.md: a PING from "a" (tcp://a:1, incarnation 0),
 * seq 7, no target, no updates. */
static const unsigned char ping_a[] = {0x96, 0x01, 0x01, 0x07, 0x93, 0xa1, 'a', 0xa9, 't', 'c', 'p',
    ':', '/', '/', 'a', ':', '1', 0x00, 0xc0, 0x90};

/* b's answer: an ACK with seq 7, piggybacking "a is alive at 0" (b just
 * learned of a from the ping's header). */
static const unsigned char ack_b[] = {0x96, 0x01, 0x02, 0x07, 0x93, 0xa1, 'b', 0xa9, 't', 'c', 'p',
    ':', '/', '/', 'b', ':', '1', 0x00, 0xc0, 0x91, 0x94, 0x00, 0xa1, 'a', 0xa9, 't', 'c', 'p', ':',
    '/', '/', 'a', ':', '1', 0x00};

static void test_example_bytes(void)
{
	struct cap c = {0};
	nacti_swim *b = open_node("b", "tcp://b:1", &c);
	REQUIRE(b != NULL);
	CHECK_RV(nacti_swim_receive(b, ping_a, sizeof(ping_a), NULL, 1000));
	REQUIRE(c.n == 1);
	CHECK_STR(c.to[0], "tcp://a:1");
	CHECK_EQ_INT(c.len[0], sizeof(ack_b));
	CHECK(c.len[0] == sizeof(ack_b) && memcmp(c.buf[0], ack_b, sizeof(ack_b)) == 0);
	nacti_swim_member m;
	CHECK_RV(nacti_swim_find(b, "a", &m));
	CHECK_EQ_INT(m.state, NACTI_SWIM_ALIVE);
	CHECK_STR(m.addr, "tcp://a:1");
	CHECK_EQ_INT(c.events, 1); /* joined */
	CHECK_EQ_INT(nacti_swim_live(b), 2);
	nacti_swim_close(b);
}

/* ---- malformed messages ---- */

static void pk_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* A message built with one deviation from a valid PING_REQ (case k). */
static void build(msgpack_sbuffer *sb, int k)
{
	msgpack_packer pk;
	char big[300];
	memset(big, 'x', sizeof(big));
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (k == 1) { /* not an array */
		msgpack_pack_int(&pk, 1);
		return;
	}
	msgpack_pack_array(&pk, k == 2 ? 5 : 6);
	if (k == 3)
		pk_str(&pk, "1", 1); /* version as a string */
	else
		msgpack_pack_uint8(&pk, k == 4 ? 2 : 1);
	msgpack_pack_int(&pk, k == 5 ? 0 : k == 6 ? 7 : k == 7 ? -3 : 3); /* type */
	if (k == 8)
		msgpack_pack_int(&pk, -1); /* seq */
	else
		msgpack_pack_uint64(&pk, 9);
	if (k == 2) { /* five elements: stop here */
		msgpack_pack_nil(&pk);
		msgpack_pack_nil(&pk);
		return;
	}
	/* sender */
	msgpack_pack_array(&pk, k == 9 ? 2 : 3);
	if (k == 10)
		pk_str(&pk, "", 0);
	else if (k == 11)
		pk_str(&pk, big, 65);
	else if (k == 12)
		pk_str(&pk, "a\0b", 3);
	else if (k == 13)
		msgpack_pack_int(&pk, 5);
	else if (k == 14)
		pk_str(&pk, "me", 2); /* our own name */
	else
		pk_str(&pk, "a", 1);
	if (k == 15)
		pk_str(&pk, big, 256);
	else
		pk_str(&pk, "tcp://a:1", 9);
	if (k != 9) {
		if (k == 16)
			pk_str(&pk, "0", 1);
		else
			msgpack_pack_uint64(&pk, 0);
	}
	/* target */
	if (k == 17) {
		msgpack_pack_nil(&pk); /* a ping-req needs one */
	} else if (k == 18) {
		msgpack_pack_array(&pk, 1);
		pk_str(&pk, "c", 1);
	} else if (k == 19) {
		msgpack_pack_map(&pk, 0);
	} else {
		msgpack_pack_array(&pk, 2);
		pk_str(&pk, "c", 1);
		pk_str(&pk, "tcp://c:1", 9);
	}
	/* updates */
	if (k == 20) {
		msgpack_pack_nil(&pk);
		return;
	}
	msgpack_pack_array(&pk, 2);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	pk_str(&pk, "d", 1);
	pk_str(&pk, "tcp://d:1", 9);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_array(&pk, k == 21 ? 3 : 4);
	msgpack_pack_uint8(&pk, k == 22 ? 4 : 2);
	if (k == 23)
		msgpack_pack_int(&pk, 1);
	else
		pk_str(&pk, "e", 1);
	pk_str(&pk, "tcp://e:1", 9);
	if (k == 24)
		msgpack_pack_double(&pk, 1.5);
	else if (k == 25)
		msgpack_pack_uint64(&pk, UINT64_MAX);
	else if (k != 21)
		msgpack_pack_uint8(&pk, 1);
}

struct badcase {
	const char *what;
	int k;           /* build(k), or 0 for raw bytes */
	const char *raw; /* hex */
	int want;        /* exact error, or 0 for "any error" */
};

static const struct badcase bad[] = {
    {"empty", 0, "", NACT_ETRUNC},
    {"reserved byte c1", 0, "c1", NACT_EMALFORMED},
    {"truncated array", 0, "9601", NACT_ETRUNC},
    {"array32 claiming 4G elements", 0, "ddffffffff", NACT_ELIMIT},
    {"nesting 40 deep", 0,
        "91919191919191919191919191919191919191919191919191919191919191919191919191919191c0",
        NACT_ELIMIT},
    {"str32 length past the end", 0,
        "960101019"
        "3db7fffffff",
        NACT_ETRUNC},
    {"ping with trailing garbage", 0,
        "960101079"
        "3a161a974"
        "63703a2f2f613a3100c090c0",
        NACT_EMALFORMED},
    {"not an array", 1, NULL, NACT_ETYPE},
    {"five elements", 2, NULL, NACT_EMALFORMED},
    {"version as string", 3, NULL, NACT_ETYPE},
    {"version 2", 4, NULL, NACT_EPROTO},
    {"type 0", 5, NULL, NACT_EMALFORMED},
    {"type 7", 6, NULL, NACT_EMALFORMED},
    {"type negative", 7, NULL, NACT_ERANGE},
    {"seq negative", 8, NULL, NACT_ERANGE},
    {"sender of two fields", 9, NULL, NACT_EMALFORMED},
    {"sender name empty", 10, NULL, NACT_EMALFORMED},
    {"sender name 65 bytes", 11, NULL, NACT_EMALFORMED},
    {"sender name with NUL", 12, NULL, NACT_EMALFORMED},
    {"sender name an int", 13, NULL, NACT_ETYPE},
    {"sender is our own name", 14, NULL, NACT_EEXIST},
    {"sender addr 256 bytes", 15, NULL, NACT_EMALFORMED},
    {"incarnation a string", 16, NULL, NACT_ETYPE},
    {"ping-req without target", 17, NULL, NACT_EMALFORMED},
    {"target of one field", 18, NULL, NACT_EMALFORMED},
    {"target a map", 19, NULL, NACT_ETYPE},
    {"updates nil", 20, NULL, NACT_ETYPE},
    {"update of three fields", 21, NULL, NACT_EMALFORMED},
    {"update state 4", 22, NULL, NACT_EMALFORMED},
    {"update name an int", 23, NULL, NACT_ETYPE},
    {"update incarnation a double", 24, NULL, NACT_ETYPE},
    {"update incarnation 2^64-1", 25, NULL, NACT_ERANGE},
};

static size_t unhex(const char *h, unsigned char *out)
{
	size_t n = 0;
	while (h[0] && h[1]) {
		unsigned v;
		sscanf(h, "%2x", &v);
		out[n++] = (unsigned char)v;
		h += 2;
	}
	return n;
}

/* The node still works: a valid ping is answered. */
static int answers_ping(nacti_swim *s, struct cap *c)
{
	int before = c->n;
	if (nacti_swim_receive(s, ping_a, sizeof(ping_a), NULL, 2000) != 0)
		return 0;
	return c->n == before + 1;
}

static void test_malformed_table(void)
{
	struct cap c = {0};
	nacti_swim *s = open_node("me", "tcp://me:1", &c);
	REQUIRE(s != NULL);
	/* the valid base message is accepted (case 0 = no deviation) */
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	build(&sb, 99);
	CHECK_RV(nacti_swim_receive(s, sb.data, sb.size, NULL, 10));
	msgpack_sbuffer_destroy(&sb);
	CHECK_EQ_INT(c.n, 1); /* the ping to c on a's behalf */
	size_t members = nacti_swim_count(s);
	nacti_swim_stats st0, st1;
	nacti_swim_stats_get(s, &st0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char raw[512];
		const void *p;
		size_t n;
		msgpack_sbuffer_init(&sb);
		if (bad[i].k) {
			build(&sb, bad[i].k);
			p = sb.data;
			n = sb.size;
		} else {
			n = unhex(bad[i].raw, raw);
			p = raw;
		}
		int sent = c.n;
		int rv = nacti_swim_receive(s, p, n, NULL, 20);
		if (rv != bad[i].want) {
			CHECK(0);
			printf("  case '%s': got %d (%s), want %d\n", bad[i].what, rv,
			    nact_strerror(rv), bad[i].want);
		}
		CHECK_EQ_INT(c.n, sent); /* nothing sent */
		msgpack_sbuffer_destroy(&sb);
	}
	nacti_swim_stats_get(s, &st1);
	CHECK_EQ_U64(st1.bad - st0.bad, sizeof(bad) / sizeof(bad[0]));
	CHECK_EQ_INT(nacti_swim_count(s), members); /* nothing applied */
	CHECK(answers_ping(s, &c));
	nacti_swim_close(s);
}

/* A version-1 reader ignores elements after the sixth (room for
 * extensions). */
static void test_extra_elements(void)
{
	struct cap c = {0};
	nacti_swim *s = open_node("b", "tcp://b:1", &c);
	REQUIRE(s != NULL);
	unsigned char m[sizeof(ping_a) + 8];
	memcpy(m, ping_a, sizeof(ping_a));
	m[0] = 0x98;                  /* array of 8 */
	m[sizeof(ping_a)] = 0xc3;     /* true */
	m[sizeof(ping_a) + 1] = 0x92; /* [1, "x"] */
	m[sizeof(ping_a) + 2] = 0x01;
	m[sizeof(ping_a) + 3] = 0xa1;
	m[sizeof(ping_a) + 4] = 'x';
	CHECK_RV(nacti_swim_receive(s, m, sizeof(ping_a) + 5, "a", 1));
	CHECK_EQ_INT(c.n, 1); /* answered */
	nacti_swim_close(s);
}

/* The transport's authenticated peer name must match the sender's. */
static void test_from_name(void)
{
	struct cap c = {0};
	nacti_swim *s = open_node("b", "tcp://b:1", &c);
	REQUIRE(s != NULL);
	CHECK_ERR(nacti_swim_receive(s, ping_a, sizeof(ping_a), "x", 1), NACT_EAUTH);
	CHECK_ERR(nacti_swim_receive(s, ping_a, sizeof(ping_a), "", 1), NACT_EAUTH);
	CHECK_ERR(nacti_swim_receive(s, ping_a, sizeof(ping_a), "aa", 1), NACT_EAUTH);
	CHECK_EQ_INT(c.n, 0);
	CHECK_EQ_INT(nacti_swim_count(s), 1);
	CHECK_RV(nacti_swim_receive(s, ping_a, sizeof(ping_a), "a", 1));
	CHECK_EQ_INT(c.n, 1);
	nacti_swim_close(s);
}

static void test_oversized(void)
{
	struct cap c = {0};
	nacti_swim_config cfg = {0};
	nacti_swim *s = NULL;
	cfg.name = "me";
	cfg.addr = "tcp://me:1";
	cfg.send = cap_send;
	cfg.send_arg = &c;
	cfg.max_msg_bytes = 4096;
	REQUIRE_RV(nacti_swim_open(&s, &cfg, 0));
	size_t n = 5000;
	unsigned char *big = calloc(1, n);
	REQUIRE(big != NULL);
	memcpy(big, ping_a, sizeof(ping_a));
	CHECK_ERR(nacti_swim_receive(s, big, n, NULL, 1), NACT_ELIMIT);
	free(big);
	CHECK(answers_ping(s, &c));
	nacti_swim_close(s);
}

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_fuzz(void)
{
	struct cap c = {0};
	nacti_swim *s = open_node("me", "tcp://me:1", &c);
	REQUIRE(s != NULL);
	uint64_t x = 0x1234567;
	unsigned char buf[256];
	int iters = nt_scaled(20000);
	int accepted = 0;
	/* random bytes */
	for (int i = 0; i < iters; i++) {
		size_t n = xs(&x) % sizeof(buf);
		for (size_t j = 0; j < n; j++)
			buf[j] = (unsigned char)xs(&x);
		if (i % 3 == 0 && n > 0)
			buf[0] = 0x96; /* often start like a message */
		c.n = 0;
		accepted += nacti_swim_receive(s, buf, n, NULL, 100 + (uint64_t)i) == 0;
	}
	/* mutations of valid messages */
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	build(&sb, 99);
	const unsigned char *seeds[2] = {ping_a, (const unsigned char *)sb.data};
	size_t seedlen[2] = {sizeof(ping_a), sb.size};
	for (int i = 0; i < iters; i++) {
		int w = (int)(xs(&x) % 2);
		size_t n = seedlen[w];
		memcpy(buf, seeds[w], n);
		int flips = 1 + (int)(xs(&x) % 4);
		for (int f = 0; f < flips; f++)
			buf[xs(&x) % n] = (unsigned char)xs(&x);
		if (xs(&x) % 4 == 0)
			n = xs(&x) % (n + 1); /* truncate */
		c.n = 0;
		accepted += nacti_swim_receive(s, buf, n, NULL, 100000 + (uint64_t)i) == 0;
		if (i % 64 == 0)
			nacti_swim_tick(s, 100000 + (uint64_t)i * 1000000);
	}
	msgpack_sbuffer_destroy(&sb);
	printf("  fuzz: %d inputs, %d accepted as valid, %zu members learned\n", 2 * iters,
	    accepted, nacti_swim_count(s));
	c.n = 0;
	CHECK(answers_ping(s, &c));
	nacti_swim_close(s);
}

static void test_api_errors(void)
{
	struct cap c = {0};
	nacti_swim_config cfg = {0};
	nacti_swim *s = NULL;
	char longname[80];
	memset(longname, 'n', sizeof(longname));
	longname[65] = 0;
	CHECK_ERR(nacti_swim_open(&s, &cfg, 0), NACT_EINVAL);
	cfg.name = "me";
	cfg.addr = "tcp://me:1";
	CHECK_ERR(nacti_swim_open(&s, &cfg, 0), NACT_EINVAL); /* no send */
	cfg.send = cap_send;
	cfg.send_arg = &c;
	cfg.name = longname;
	CHECK_ERR(nacti_swim_open(&s, &cfg, 0), NACT_EINVAL);
	cfg.name = "";
	CHECK_ERR(nacti_swim_open(&s, &cfg, 0), NACT_EINVAL);
	cfg.name = "me";
	cfg.period_ns = 1000;
	cfg.ping_timeout_ns = 1000;
	CHECK_ERR(nacti_swim_open(&s, &cfg, 0), NACT_EINVAL);
	cfg.period_ns = 0;
	cfg.ping_timeout_ns = 0;
	REQUIRE_RV(nacti_swim_open(&s, &cfg, 0));
	nacti_swim_config eff;
	nacti_swim_config_get(s, &eff);
	CHECK_EQ_U64(eff.period_ns, 1000000000ull);
	CHECK_EQ_U64(eff.ping_timeout_ns, 300000000ull);
	CHECK_EQ_INT(eff.k, 3);
	CHECK_EQ_INT(eff.suspicion_mult, 4);
	CHECK_EQ_INT(eff.lambda, 4);
	CHECK_EQ_INT(eff.max_updates, 8);
	const char *badseeds[] = {""};
	CHECK_ERR(nacti_swim_join(s, badseeds, 1, 0), NACT_EINVAL);
	const char *self[] = {"tcp://me:1"};
	CHECK_RV(nacti_swim_join(s, self, 1, 0)); /* our own address is skipped */
	CHECK_EQ_INT(c.n, 0);
	nacti_swim_member m;
	CHECK_ERR(nacti_swim_member_at(s, 1, &m), NACT_ENOENT);
	CHECK_ERR(nacti_swim_find(s, "nobody", &m), NACT_ENOENT);
	CHECK_RV(nacti_swim_member_at(s, 0, &m));
	CHECK(m.self);
	CHECK_RV(nacti_swim_leave(s, 0));
	CHECK_ERR(nacti_swim_leave(s, 0), NACT_ESTATE);
	CHECK_ERR(nacti_swim_receive(s, ping_a, sizeof(ping_a), NULL, 0), NACT_ESTATE);
	CHECK_ERR(nacti_swim_join(s, self, 1, 0), NACT_ESTATE);
	CHECK_EQ_U64(nacti_swim_next_deadline(s), UINT64_MAX);
	nacti_swim_close(s);
	nacti_swim_close(NULL);
	/* suspicion timeout: mult * max(1, log10 n) * T */
	REQUIRE_RV(nacti_swim_open(&s,
	    &(nacti_swim_config){.name = "x", .addr = "y", .send = cap_send, .send_arg = &c}, 0));
	CHECK_EQ_U64(nacti_swim_suspicion_ns(s, 3), 4000000000ull);
	CHECK_EQ_U64(nacti_swim_suspicion_ns(s, 100) / 1000000, 8000);
	CHECK_EQ_U64(nacti_swim_suspicion_ns(s, 1000) / 1000000, 12000);
	nacti_swim_close(s);
}

NT_MAIN(NT_CASE(test_example_bytes), NT_CASE(test_malformed_table), NT_CASE(test_extra_elements),
    NT_CASE(test_from_name), NT_CASE(test_oversized), NT_CASE(test_fuzz), NT_CASE(test_api_errors))
