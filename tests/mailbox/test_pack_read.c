/*
 * tests/mailbox/test_pack_read.c — msgpack bodies: packing and the reader.
 *
 * Contract checked (include/nactor/mailbox.h):
 * - Every nact_pack_* helper appends one value that the matching
 *   nact_read_* returns unchanged; nact_pack_error stays 0. Raw msgpack-c
 *   calls on &pk.pk mix with the helpers.
 * - Arrays and maps are entered with nact_read_array/map, their elements
 *   (key, value, ... for maps) read in order until NACT_EEOF, and left with
 *   nact_read_leave, which skips what was not read.
 * - A read of the wrong type gives NACT_ETYPE, a value that does not fit
 *   the C type NACT_ERANGE, the end of a level NACT_EEOF; a failed read
 *   leaves the cursor where it was.
 * - nact_reader_init/_init_buf validate the whole body first: truncated
 *   input gives NACT_ETRUNC, bytes msgpack never uses (0xc1) NACT_EMALFORMED,
 *   and the size, depth, per-container and total element limits NACT_ELIMIT.
 *   A header claiming 4 billion elements in a 5-byte buffer is rejected
 *   without allocating. nact_msgpack_validate gives the same answers
 *   without decoding. nact_limits_default returns the documented defaults.
 * - Strings and bins point into the body bytes (no copy).
 */
#include <float.h>
#include <math.h>

#include "testutil.h"

static nact_system *g_sys;

static void close_system(void)
{
	nact_system_close(g_sys, 1000);
	g_sys = NULL;
}

/* A fresh message with an empty body; the system is opened on first use and
 * closed at exit, so any subset of the tests can run. */
static nact_msg *new_msg(void)
{
	nact_msg *m = NULL;
	int rv;

	if (g_sys == NULL) {
		if ((rv = nt_open(&g_sys, 1, NACT_CLOCK_MANUAL)) != 0) {
			nt_fail(__FILE__, __LINE__, "nact_system_open: %s", nact_strerror(rv));
			return NULL;
		}
		atexit(close_system);
	}
	rv = nact_msg_alloc(&m, g_sys, 1);
	if (rv != 0)
		nt_fail(__FILE__, __LINE__, "nact_msg_alloc: %s", nact_strerror(rv));
	return m;
}

static void test_scalars(void)
{
	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	nact_pack pk;
	static const char bin[] = {0, 1, 2, (char)0xff, 0};
	static const char strn[] = {'a', 0, 'b'};

	nact_pack_init(&pk, m);
	nact_pack_int(&pk, 0);
	nact_pack_int(&pk, -1);
	nact_pack_int(&pk, 127);
	nact_pack_int(&pk, -33);
	nact_pack_int(&pk, 300);
	nact_pack_int(&pk, INT64_MIN);
	nact_pack_int(&pk, INT64_MAX);
	nact_pack_uint(&pk, 0);
	nact_pack_uint(&pk, UINT64_MAX);
	nact_pack_double(&pk, 3.25);
	nact_pack_double(&pk, -DBL_MAX);
	nact_pack_bool(&pk, 1);
	nact_pack_bool(&pk, 0);
	nact_pack_nil(&pk);
	nact_pack_str(&pk, "hello");
	nact_pack_str(&pk, "");
	nact_pack_strn(&pk, strn, sizeof(strn));
	nact_pack_bin(&pk, bin, sizeof(bin));
	nact_pack_bin(&pk, NULL, 0);
	msgpack_pack_float(&pk.pk, 1.5f); /* raw msgpack-c call */
	msgpack_pack_int8(&pk.pk, -5);
	CHECK_RV(nact_pack_error(&pk));

	nact_reader r;
	int64_t i = 0;
	uint64_t u = 0;
	double d = 0;
	int b = -1;
	const char *s = NULL;
	const void *bp = NULL;
	size_t n = 0;

	REQUIRE_RV(nact_reader_init(&r, m, NULL));
	CHECK(!nact_read_done(&r));
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 0);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, -1);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 127);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, -33);
	/* 300 fits both: read as uint here. */
	CHECK_RV(nact_read_uint(&r, &u));
	CHECK_EQ_U64(u, 300);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK(i == INT64_MIN);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK(i == INT64_MAX);
	CHECK_RV(nact_read_uint(&r, &u));
	CHECK_EQ_U64(u, 0);
	CHECK_RV(nact_read_uint(&r, &u));
	CHECK_EQ_U64(u, UINT64_MAX);
	CHECK_RV(nact_read_double(&r, &d));
	CHECK(d == 3.25);
	CHECK_RV(nact_read_double(&r, &d));
	CHECK(d == -DBL_MAX);
	CHECK_RV(nact_read_bool(&r, &b));
	CHECK_EQ_INT(b, 1);
	CHECK_RV(nact_read_bool(&r, &b));
	CHECK_EQ_INT(b, 0);
	CHECK_RV(nact_read_nil(&r));
	CHECK_RV(nact_read_str(&r, &s, &n));
	CHECK(n == 5 && s != NULL && memcmp(s, "hello", 5) == 0);
	/* Strings point into the message body. */
	size_t blen = 0;
	const char *body = nact_msg_body(m, &blen);
	CHECK(s >= body && s + n <= body + blen);
	CHECK_RV(nact_read_str(&r, &s, &n));
	CHECK_EQ_INT(n, 0);
	CHECK_RV(nact_read_str(&r, &s, &n));
	CHECK(n == 3 && memcmp(s, strn, 3) == 0); /* embedded NUL kept */
	CHECK_RV(nact_read_bin(&r, &bp, &n));
	CHECK(n == sizeof(bin) && memcmp(bp, bin, n) == 0);
	CHECK_RV(nact_read_bin(&r, &bp, &n));
	CHECK_EQ_INT(n, 0);
	CHECK_RV(nact_read_double(&r, &d)); /* float32 converts */
	CHECK(d == 1.5);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, -5);
	CHECK(nact_read_done(&r));
	CHECK_ERR(nact_read_int(&r, &i), NACT_EEOF);
	CHECK_ERR(nact_read_nil(&r), NACT_EEOF);
	{
		uint32_t c;
		CHECK_ERR(nact_read_array(&r, &c), NACT_EEOF);
	}
	nact_reader_fini(&r);
	nact_msg_free(m);
}

static void test_int_conversions(void)
{
	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	nact_pack pk;

	nact_pack_init(&pk, m);
	nact_pack_uint(&pk, UINT64_MAX);          /* too big for int64 */
	nact_pack_int(&pk, -7);                   /* negative: not a uint */
	nact_pack_int(&pk, 42);                   /* int -> double converts */
	nact_pack_uint(&pk, (uint64_t)INT64_MAX); /* fits int64 exactly */
	CHECK_RV(nact_pack_error(&pk));

	nact_reader r;
	int64_t i = 123;
	uint64_t u = 456;
	double d = 0;
	REQUIRE_RV(nact_reader_init(&r, m, NULL));

	CHECK_ERR(nact_read_int(&r, &i), NACT_ERANGE);
	CHECK_EQ_INT(i, 123);             /* untouched on failure */
	CHECK_RV(nact_read_uint(&r, &u)); /* cursor did not move */
	CHECK_EQ_U64(u, UINT64_MAX);

	u = 456;
	CHECK_ERR(nact_read_uint(&r, &u), NACT_ERANGE);
	CHECK_EQ_U64(u, 456);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, -7);

	CHECK_RV(nact_read_double(&r, &d));
	CHECK(d == 42.0);

	CHECK_RV(nact_read_int(&r, &i));
	CHECK(i == INT64_MAX);
	nact_reader_fini(&r);
	nact_msg_free(m);
}

static void test_wrong_type(void)
{
	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	nact_pack pk;

	nact_pack_init(&pk, m);
	nact_pack_int(&pk, 5);
	nact_pack_str(&pk, "s");
	nact_pack_nil(&pk);
	nact_pack_double(&pk, 0.5);
	nact_pack_map(&pk, 0);
	CHECK_RV(nact_pack_error(&pk));

	nact_reader r;
	const char *s;
	const void *bp;
	size_t n;
	int b;
	int64_t i;
	uint64_t u;
	double d;
	uint32_t cnt;
	REQUIRE_RV(nact_reader_init(&r, m, NULL));

	/* int: every other reader refuses and leaves the cursor. */
	CHECK_ERR(nact_read_str(&r, &s, &n), NACT_ETYPE);
	CHECK_ERR(nact_read_bin(&r, &bp, &n), NACT_ETYPE);
	CHECK_ERR(nact_read_bool(&r, &b), NACT_ETYPE);
	CHECK_ERR(nact_read_nil(&r), NACT_ETYPE);
	CHECK_ERR(nact_read_array(&r, &cnt), NACT_ETYPE);
	CHECK_ERR(nact_read_map(&r, &cnt), NACT_ETYPE);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 5);

	/* str */
	CHECK_ERR(nact_read_int(&r, &i), NACT_ETYPE);
	CHECK_ERR(nact_read_uint(&r, &u), NACT_ETYPE);
	CHECK_ERR(nact_read_double(&r, &d), NACT_ETYPE);
	CHECK_ERR(nact_read_bin(&r, &bp, &n), NACT_ETYPE);
	CHECK_RV(nact_read_str(&r, &s, &n));
	CHECK(n == 1 && s[0] == 's');

	/* nil */
	CHECK_ERR(nact_read_bool(&r, &b), NACT_ETYPE);
	CHECK_ERR(nact_read_int(&r, &i), NACT_ETYPE);
	CHECK_RV(nact_read_nil(&r));

	/* double: not an int */
	CHECK_ERR(nact_read_int(&r, &i), NACT_ETYPE);
	CHECK_ERR(nact_read_uint(&r, &u), NACT_ETYPE);
	CHECK_RV(nact_read_double(&r, &d));
	CHECK(d == 0.5);

	/* map: not an array */
	CHECK_ERR(nact_read_array(&r, &cnt), NACT_ETYPE);
	CHECK_RV(nact_read_map(&r, &cnt));
	CHECK_EQ_INT(cnt, 0);
	CHECK(nact_read_done(&r));
	CHECK_ERR(nact_read_int(&r, &i), NACT_EEOF);
	CHECK_RV(nact_read_leave(&r));
	CHECK(nact_read_done(&r));
	nact_reader_fini(&r);
	nact_msg_free(m);
}

static void test_nested(void)
{
	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	nact_pack pk;

	/* [1, [2, 3, 4], {"k": 5, "l": [6]}, "tail"], 99 */
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 4);
	nact_pack_int(&pk, 1);
	nact_pack_array(&pk, 3);
	nact_pack_int(&pk, 2);
	nact_pack_int(&pk, 3);
	nact_pack_int(&pk, 4);
	nact_pack_map(&pk, 2);
	nact_pack_str(&pk, "k");
	nact_pack_int(&pk, 5);
	nact_pack_str(&pk, "l");
	nact_pack_array(&pk, 1);
	nact_pack_int(&pk, 6);
	nact_pack_str(&pk, "tail");
	nact_pack_int(&pk, 99);
	CHECK_RV(nact_pack_error(&pk));

	nact_reader r;
	uint32_t cnt = 0;
	int64_t i = 0;
	const char *s;
	size_t n;
	REQUIRE_RV(nact_reader_init(&r, m, NULL));

	CHECK_RV(nact_read_array(&r, &cnt));
	CHECK_EQ_INT(cnt, 4);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 1);

	/* Inner array: read one element, leave skips the rest. */
	CHECK_RV(nact_read_array(&r, &cnt));
	CHECK_EQ_INT(cnt, 3);
	CHECK(!nact_read_done(&r));
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 2);
	CHECK_RV(nact_read_leave(&r));

	/* Map: key, value, key, value. */
	CHECK_RV(nact_read_map(&r, &cnt));
	CHECK_EQ_INT(cnt, 2);
	CHECK_RV(nact_read_str(&r, &s, &n));
	CHECK(n == 1 && s[0] == 'k');
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 5);
	CHECK_RV(nact_read_str(&r, &s, &n));
	CHECK(n == 1 && s[0] == 'l');
	CHECK_RV(nact_read_array(&r, &cnt));
	CHECK_EQ_INT(cnt, 1);
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 6);
	CHECK(nact_read_done(&r));
	CHECK_ERR(nact_read_int(&r, &i), NACT_EEOF);
	CHECK_RV(nact_read_leave(&r));
	CHECK(nact_read_done(&r));
	CHECK_ERR(nact_read_str(&r, &s, &n), NACT_EEOF);
	CHECK_RV(nact_read_leave(&r));

	/* Back in the outer array: the last element. */
	CHECK_RV(nact_read_str(&r, &s, &n));
	CHECK(n == 4 && memcmp(s, "tail", 4) == 0);
	CHECK_ERR(nact_read_int(&r, &i), NACT_EEOF);
	CHECK_RV(nact_read_leave(&r));

	/* Top level again. */
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 99);
	CHECK(nact_read_done(&r));
	/* Leaving at top level is refused. */
	CHECK(nact_read_leave(&r) != 0);
	nact_reader_fini(&r);

	/* Leaving right after entering skips the whole container. */
	REQUIRE_RV(nact_reader_init(&r, m, NULL));
	CHECK_RV(nact_read_array(&r, &cnt));
	CHECK_RV(nact_read_leave(&r));
	CHECK_RV(nact_read_int(&r, &i));
	CHECK_EQ_INT(i, 99);
	nact_reader_fini(&r);

	/* nact_read_object consumes a whole container as one value. */
	msgpack_object o;
	REQUIRE_RV(nact_reader_init(&r, m, NULL));
	CHECK_RV(nact_read_object(&r, &o));
	CHECK_EQ_INT(o.type, MSGPACK_OBJECT_ARRAY);
	CHECK_EQ_INT(o.via.array.size, 4);
	if (o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 4) {
		CHECK_EQ_INT(o.via.array.ptr[1].type, MSGPACK_OBJECT_ARRAY);
		CHECK_EQ_INT(o.via.array.ptr[2].type, MSGPACK_OBJECT_MAP);
	}
	CHECK_RV(nact_read_object(&r, &o));
	CHECK_EQ_INT(o.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	CHECK_EQ_U64(o.via.u64, 99);
	CHECK_ERR(nact_read_object(&r, &o), NACT_EEOF);
	nact_reader_fini(&r);
	nact_msg_free(m);
}

static void test_big_values(void)
{
	/* A 100 KB string and a 10k-element array survive the round trip. */
	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	size_t big = 100 * 1024;
	char *s = malloc(big);
	REQUIRE(s != NULL);
	for (size_t k = 0; k < big; k++)
		s[k] = (char)('a' + k % 26);
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_strn(&pk, s, big);
	nact_pack_array(&pk, 10000);
	for (int k = 0; k < 10000; k++)
		nact_pack_int(&pk, k);
	CHECK_RV(nact_pack_error(&pk));

	nact_reader r;
	const char *rs;
	size_t n;
	uint32_t cnt;
	int64_t v;
	REQUIRE_RV(nact_reader_init(&r, m, NULL));
	CHECK_RV(nact_read_str(&r, &rs, &n));
	CHECK(n == big && memcmp(rs, s, big) == 0);
	CHECK_RV(nact_read_array(&r, &cnt));
	CHECK_EQ_INT(cnt, 10000);
	int bad = 0;
	for (int k = 0; k < 10000; k++)
		if (nact_read_int(&r, &v) != 0 || v != k)
			bad++;
	CHECK_EQ_INT(bad, 0);
	CHECK_ERR(nact_read_int(&r, &v), NACT_EEOF);
	CHECK_RV(nact_read_leave(&r));
	CHECK(nact_read_done(&r));
	nact_reader_fini(&r);
	free(s);
	nact_msg_free(m);
}

static void test_empty_body(void)
{
	nact_reader r;
	int64_t i;
	REQUIRE_RV(nact_reader_init_buf(&r, "", 0, NULL));
	CHECK(nact_read_done(&r));
	CHECK_ERR(nact_read_int(&r, &i), NACT_EEOF);
	nact_reader_fini(&r);
	CHECK_RV(nact_msgpack_validate("", 0, NULL));

	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	REQUIRE_RV(nact_reader_init(&r, m, NULL));
	CHECK(nact_read_done(&r));
	CHECK_ERR(nact_read_nil(&r), NACT_EEOF);
	nact_reader_fini(&r);
	nact_msg_free(m);
}

/* validate and reader_init_buf must agree on every input. */
static void check_bad(const void *buf, size_t len, const nact_limits *lim, int want, int want2,
    int line)
{
	nact_reader r;
	int rv = nact_msgpack_validate(buf, len, lim);
	if (rv != want && rv != want2)
		nt_fail(__FILE__, line, "validate: got %s (%d), want %s", nact_strerror(rv), rv,
		    nact_strerror(want));
	rv = nact_reader_init_buf(&r, buf, len, lim);
	if (rv == 0)
		nact_reader_fini(&r);
	if (rv != want && rv != want2)
		nt_fail(__FILE__, line, "reader_init_buf: got %s (%d), want %s", nact_strerror(rv),
		    rv, nact_strerror(want));
}
#define BAD(buf, len, lim, want) check_bad(buf, len, lim, want, want, __LINE__)
#define BAD2(buf, len, lim, w1, w2) check_bad(buf, len, lim, w1, w2, __LINE__)
#define GOOD(buf, len, lim) check_bad(buf, len, lim, 0, 0, __LINE__)

static void test_truncated(void)
{
	static const uint8_t str8[] = {0xd9, 10, 'a', 'b', 'c'};
	static const uint8_t arr[] = {0x93, 0x01, 0x02}; /* 3 claimed, 2 */
	static const uint8_t f64[] = {0xcb, 0, 0, 0, 0}; /* 8 bytes needed */
	static const uint8_t u16[] = {0xcd, 0x01};
	static const uint8_t map[] = {0x81, 0xa1, 'k'}; /* value missing */
	static const uint8_t bin8[] = {0xc4};           /* no length */
	static const uint8_t ok[] = {0x93, 0x01, 0x02, 0x03};

	BAD(str8, sizeof(str8), NULL, NACT_ETRUNC);
	BAD(arr, sizeof(arr), NULL, NACT_ETRUNC);
	BAD(f64, sizeof(f64), NULL, NACT_ETRUNC);
	BAD(u16, sizeof(u16), NULL, NACT_ETRUNC);
	BAD(map, sizeof(map), NULL, NACT_ETRUNC);
	BAD(bin8, sizeof(bin8), NULL, NACT_ETRUNC);
	GOOD(ok, sizeof(ok), NULL);
	/* Every strict prefix of a valid nested body is truncated. */
	for (size_t k = 1; k < sizeof(ok); k++)
		BAD(ok, k, NULL, NACT_ETRUNC);

	/* A truncated message body is refused by nact_reader_init too. */
	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	REQUIRE(nng_msg_append(nact_msg_nng(m), str8, sizeof(str8)) == 0);
	nact_reader r;
	CHECK_ERR(nact_reader_init(&r, m, NULL), NACT_ETRUNC);
	nact_msg_free(m);
}

static void test_malformed(void)
{
	static const uint8_t c1[] = {0xc1};
	static const uint8_t c1_in_arr[] = {0x92, 0x01, 0xc1};
	static const uint8_t c1_after[] = {0x01, 0x02, 0xc1};
	static const uint8_t c1_as_key[] = {0x81, 0xc1, 0x01};

	BAD(c1, sizeof(c1), NULL, NACT_EMALFORMED);
	BAD(c1_in_arr, sizeof(c1_in_arr), NULL, NACT_EMALFORMED);
	BAD(c1_after, sizeof(c1_after), NULL, NACT_EMALFORMED);
	BAD(c1_as_key, sizeof(c1_as_key), NULL, NACT_EMALFORMED);

	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	REQUIRE(nng_msg_append(nact_msg_nng(m), c1_in_arr, sizeof(c1_in_arr)) == 0);
	nact_reader r;
	CHECK_ERR(nact_reader_init(&r, m, NULL), NACT_EMALFORMED);
	nact_msg_free(m);
}

static void test_limits_default(void)
{
	nact_limits d = nact_limits_default();
	CHECK_EQ_U64(d.max_body, 16u * 1024 * 1024);
	CHECK_EQ_INT(d.max_depth, 32);
	CHECK(d.max_elems >= 1000000 && d.max_elems <= 1024 * 1024);
	CHECK(d.max_total >= 4000000 && d.max_total <= 4 * 1024 * 1024);
	/* A copy: changing it changes nothing else. */
	d.max_depth = 1;
	CHECK_EQ_INT(nact_limits_default().max_depth, 32);
}

static void test_limit_body(void)
{
	uint8_t buf[20];
	nact_limits lim = nact_limits_default();

	memset(buf, 0x01, sizeof(buf)); /* 20 fixints */
	lim.max_body = 19;
	BAD(buf, sizeof(buf), &lim, NACT_ELIMIT);
	lim.max_body = 20;
	GOOD(buf, sizeof(buf), &lim);
}

static void test_limit_depth(void)
{
	uint8_t buf[128];
	nact_limits lim = nact_limits_default();

	/* 40 nested one-element arrays around a nil: default max 32. */
	memset(buf, 0x91, 40);
	buf[40] = 0xc0;
	BAD(buf, 41, NULL, NACT_ELIMIT);
	/* Same with maps: {nil: {nil: ...}} */
	for (int k = 0; k < 40; k++) {
		buf[2 * k] = 0x81;
		buf[2 * k + 1] = 0xc0;
	}
	buf[80] = 0xc0; /* innermost value */
	BAD(buf, 81, NULL, NACT_ELIMIT);

	/* Exactly max_depth levels are fine, one more is not. */
	lim.max_depth = 4;
	memset(buf, 0x91, 4);
	buf[4] = 0xc0;
	GOOD(buf, 5, &lim);
	memset(buf, 0x91, 5);
	buf[5] = 0xc0;
	BAD(buf, 6, &lim, NACT_ELIMIT);

	/* 32 levels with the defaults can be entered all the way down. */
	memset(buf, 0x91, 32);
	buf[32] = 0x07;
	nact_reader r;
	uint32_t cnt;
	int64_t v = 0;
	REQUIRE_RV(nact_reader_init_buf(&r, buf, 33, NULL));
	int entered = 0;
	while (entered < 32 && nact_read_array(&r, &cnt) == 0)
		entered++;
	CHECK_EQ_INT(entered, 32);
	CHECK_RV(nact_read_int(&r, &v));
	CHECK_EQ_INT(v, 7);
	for (int k = 0; k < entered; k++)
		CHECK_RV(nact_read_leave(&r));
	CHECK(nact_read_done(&r));
	nact_reader_fini(&r);
}

static void test_limit_elems(void)
{
	nact_limits lim = nact_limits_default();

	/* array32 claiming 4 billion elements in a 5-byte buffer: rejected, and
	 * without allocating for the claim (ASan would flag a huge malloc). */
	static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	BAD2(arr32, sizeof(arr32), NULL, NACT_ELIMIT, NACT_ETRUNC);
	static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
	BAD2(map32, sizeof(map32), NULL, NACT_ELIMIT, NACT_ETRUNC);
	static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
	BAD2(str32, sizeof(str32), NULL, NACT_ELIMIT, NACT_ETRUNC);
	static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff};
	BAD2(bin32, sizeof(bin32), NULL, NACT_ELIMIT, NACT_ETRUNC);
	/* Nested: each level claims 65535 elements. */
	static const uint8_t nest[] = {0xdc, 0xff, 0xff, 0xdc, 0xff, 0xff, 0xdc, 0xff, 0xff};
	BAD2(nest, sizeof(nest), NULL, NACT_ELIMIT, NACT_ETRUNC);

	/* Per-container element limit, arrays. */
	static const uint8_t a4[] = {0x94, 1, 2, 3, 4};
	lim.max_elems = 3;
	BAD(a4, sizeof(a4), &lim, NACT_ELIMIT);
	lim.max_elems = 4;
	GOOD(a4, sizeof(a4), &lim);

	/* Maps count two per pair. */
	static const uint8_t m2[] = {0x82, 1, 2, 3, 4};
	static const uint8_t m3[] = {0x83, 1, 2, 3, 4, 5, 6};
	lim.max_elems = 4;
	GOOD(m2, sizeof(m2), &lim);
	BAD(m3, sizeof(m3), &lim, NACT_ELIMIT);

	/* Total values in the body. */
	uint8_t ints[10];
	memset(ints, 0x05, sizeof(ints));
	lim = nact_limits_default();
	lim.max_total = 5;
	BAD(ints, sizeof(ints), &lim, NACT_ELIMIT);
	GOOD(ints, 3, &lim);
}

static void test_validate_direct(void)
{
	static const uint8_t good[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xc3, 0xc2};
	CHECK_RV(nact_msgpack_validate(good, sizeof(good), NULL));
	nact_limits lim = nact_limits_default();
	CHECK_RV(nact_msgpack_validate(good, sizeof(good), &lim));
	CHECK_ERR(nact_msgpack_validate(good, sizeof(good) - 1, NULL), NACT_ETRUNC);
	static const uint8_t bad[] = {0x91, 0xc1};
	CHECK_ERR(nact_msgpack_validate(bad, sizeof(bad), NULL), NACT_EMALFORMED);
	lim.max_depth = 1;
	CHECK_ERR(nact_msgpack_validate(good, sizeof(good), &lim), NACT_ELIMIT);

	/* ext and fixext are valid msgpack. */
	static const uint8_t ext[] = {0xd4, 0x01, 0xaa, 0xc7, 0x02, 0x05, 0x01, 0x02};
	CHECK_RV(nact_msgpack_validate(ext, sizeof(ext), NULL));
	CHECK_ERR(nact_msgpack_validate(ext, 2, NULL), NACT_ETRUNC);

	/* The msgpack bytes this file packs itself validate. */
	nact_msg *m = new_msg();
	REQUIRE(m != NULL);
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_map(&pk, 1);
	nact_pack_str(&pk, "x");
	nact_pack_bin(&pk, "abc", 3);
	CHECK_RV(nact_pack_error(&pk));
	size_t len;
	const void *body = nact_msg_body(m, &len);
	CHECK_RV(nact_msgpack_validate(body, len, NULL));
	nact_msg_free(m);
}

NT_MAIN(NT_CASE(test_scalars), NT_CASE(test_int_conversions), NT_CASE(test_wrong_type),
    NT_CASE(test_nested), NT_CASE(test_big_values), NT_CASE(test_empty_body),
    NT_CASE(test_truncated), NT_CASE(test_malformed), NT_CASE(test_limits_default),
    NT_CASE(test_limit_body), NT_CASE(test_limit_depth), NT_CASE(test_limit_elems),
    NT_CASE(test_validate_direct))
