/*
 * tests/fuzz/test_reader_fuzz.c — the msgpack reader against hostile bytes.
 *
 * Contract checked (include/nactor/mailbox.h, "Reading"):
 * - No byte string can crash nact_msgpack_validate, nact_reader_init_buf or
 *   any nact_read_* call, or make them read outside the buffer or allocate
 *   an attacker-chosen amount (this test runs under ASan in CI).
 * - validate and reader_init_buf give the same answer for the same bytes
 *   and limits, and the answer is 0 or one of NACT_ETRUNC, NACT_EMALFORMED,
 *   NACT_ELIMIT.
 * - Bytes that validate are real msgpack: msgpack-c unpacks them as a
 *   sequence of objects that ends exactly at the end of the buffer.
 * - After a successful init, walking every value with every read function
 *   terminates, each read returns 0 or a documented error, strings and bins
 *   point inside the buffer, and a failed read does not move the cursor.
 *
 * Inputs: pure random strings, random strings biased towards msgpack type
 * bytes, and mutations (bit flips, byte overwrites with interesting values,
 * truncations, splices) of valid bodies packed with nact_pack. The PRNG is a
 * fixed-seed xorshift so every run sees the same cases; set
 * NACT_FUZZ_SEED to explore others. 200k cases at scale 1.
 */
#include "testutil.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* Bytes that mean something to a msgpack decoder. */
static const uint8_t interesting[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
    0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1,
    0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};

static int ok_init_err(int rv)
{
	return rv == 0 || rv == NACT_ETRUNC || rv == NACT_EMALFORMED || rv == NACT_ELIMIT;
}

static int ok_read_err(int rv)
{
	return rv == 0 || rv == NACT_ETYPE || rv == NACT_ERANGE || rv == NACT_EEOF;
}

static void dump(const char *what, const uint8_t *b, size_t n)
{
	char line[3 * 64 + 1];
	size_t k, o = 0;
	for (k = 0; k < n && k < 64; k++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%02x ", b[k]);
	line[o] = '\0';
	fprintf(stderr, "  %s (%zu bytes): %s%s\n", what, n, line, n > 64 ? "..." : "");
}

static int reported; /* cap on printed failures */

#define FUZZ_FAIL(b, n, ...)                                      \
	do {                                                      \
		if (reported++ < 10) {                            \
			nt_fail(__FILE__, __LINE__, __VA_ARGS__); \
			dump("input", b, n);                      \
		} else {                                          \
			atomic_fetch_add(&nt_fail_count, 1);      \
		}                                                 \
	} while (0)

/* Is [p, p+n) inside [b, b+len)? */
static int inside(const void *p, size_t n, const uint8_t *b, size_t len)
{
	const uint8_t *q = p;
	if (n == 0)
		return 1; /* an empty string may point anywhere */
	return q >= b && q + n <= b + len && q + n >= q;
}

/* Read everything the reader offers, trying every read function at each
 * position. Returns the number of values read. */
static long walk(nact_reader *r, const uint8_t *b, size_t len)
{
	long values = 0, steps = 0;
	int depth = 0;

	while (steps++ < 100000) {
		int64_t i;
		uint64_t u;
		double d;
		int bo;
		const char *s;
		const void *bp;
		size_t n;
		uint32_t cnt;
		msgpack_object o;
		int rv;

		/* Occasionally leave a container early (skips the rest). */
		if (depth > 0 && rnd_below(16) == 0) {
			if ((rv = nact_read_leave(r)) != 0)
				FUZZ_FAIL(b, len, "leave at depth %d: %s", depth,
				    nact_strerror(rv));
			depth--;
			continue;
		}
		if ((rv = nact_read_array(r, &cnt)) == 0) {
			depth++;
			values++;
			continue;
		}
		if (!ok_read_err(rv))
			FUZZ_FAIL(b, len, "read_array: %s", nact_strerror(rv));
		if (rv == NACT_EEOF) {
			int done = nact_read_done(r);
			if (!done)
				FUZZ_FAIL(b, len, "EEOF but not done");
			if (depth == 0)
				break;
			if ((rv = nact_read_leave(r)) != 0)
				FUZZ_FAIL(b, len, "leave: %s", nact_strerror(rv));
			depth--;
			continue;
		}
		if (nact_read_done(r))
			FUZZ_FAIL(b, len, "done but read_array did not say EEOF");
		if ((rv = nact_read_map(r, &cnt)) == 0) {
			depth++;
			values++;
			continue;
		}
		if (rv != NACT_ETYPE)
			FUZZ_FAIL(b, len, "read_map: %s", nact_strerror(rv));

		/* A scalar: every typed reader either takes it or refuses it
		 * without moving the cursor; the last resort takes anything. */
		rv = nact_read_str(r, &s, &n);
		if (rv == 0) {
			if (!inside(s, n, b, len))
				FUZZ_FAIL(b, len, "str outside the buffer");
			values++;
			continue;
		}
		if (!ok_read_err(rv))
			FUZZ_FAIL(b, len, "read_str: %s", nact_strerror(rv));
		rv = nact_read_bin(r, &bp, &n);
		if (rv == 0) {
			if (!inside(bp, n, b, len))
				FUZZ_FAIL(b, len, "bin outside the buffer");
			values++;
			continue;
		}
		if (!ok_read_err(rv))
			FUZZ_FAIL(b, len, "read_bin: %s", nact_strerror(rv));
		switch (rnd_below(6)) {
		case 0:
			rv = nact_read_int(r, &i);
			break;
		case 1:
			rv = nact_read_uint(r, &u);
			break;
		case 2:
			rv = nact_read_double(r, &d);
			break;
		case 3:
			rv = nact_read_bool(r, &bo);
			break;
		case 4:
			rv = nact_read_nil(r);
			break;
		default:
			rv = NACT_ETYPE;
			break;
		}
		if (rv == 0) {
			values++;
			continue;
		}
		if (!ok_read_err(rv) || rv == NACT_EEOF)
			FUZZ_FAIL(b, len, "typed read: %s", nact_strerror(rv));
		rv = nact_read_object(r, &o);
		if (rv != 0) {
			FUZZ_FAIL(b, len, "read_object: %s", nact_strerror(rv));
			break; /* cannot make progress */
		}
		if (o.type == MSGPACK_OBJECT_STR && !inside(o.via.str.ptr, o.via.str.size, b, len))
			FUZZ_FAIL(b, len, "object str outside the buffer");
		values++;
	}
	if (steps >= 100000)
		FUZZ_FAIL(b, len, "walk did not terminate");
	return values;
}

/* msgpack-c as the oracle: validated bytes are a sequence of objects ending
 * exactly at len. Only called once validate accepted the bytes, so the
 * element counts msgpack-c allocates for are bounded by the buffer. */
static int msgpack_c_accepts(const uint8_t *b, size_t len)
{
	size_t off = 0;
	msgpack_unpacked u;
	int ok = 1;

	msgpack_unpacked_init(&u);
	while (off < len) {
		msgpack_unpack_return ret = msgpack_unpack_next(&u, (const char *)b, len, &off);
		if (ret != MSGPACK_UNPACK_SUCCESS) {
			ok = 0;
			break;
		}
	}
	msgpack_unpacked_destroy(&u);
	return ok && off == len;
}

static long n_valid, n_values;

static void one_case(const uint8_t *b, size_t len)
{
	nact_limits lim = nact_limits_default();
	const nact_limits *lp = NULL;
	nact_reader r;

	/* Sometimes tight limits, so the limit paths are fuzzed too. */
	if (rnd_below(4) == 0) {
		lim.max_depth = 1 + rnd_below(6);
		lim.max_elems = 1 + rnd_below(16);
		lim.max_total = 1 + rnd_below(64);
		lim.max_body = 1 + rnd_below(256);
		lp = &lim;
	}
	int v = nact_msgpack_validate(b, len, lp);
	if (!ok_init_err(v))
		FUZZ_FAIL(b, len, "validate returned %d", v);
	int rv = nact_reader_init_buf(&r, b, len, lp);
	if (rv != v)
		FUZZ_FAIL(b, len, "validate %s but reader_init_buf %s", nact_strerror(v),
		    nact_strerror(rv));
	if (rv != 0)
		return;
	n_valid++;
	if (!msgpack_c_accepts(b, len))
		FUZZ_FAIL(b, len, "validated, but msgpack-c cannot unpack it");
	n_values += walk(&r, b, len);
	nact_reader_fini(&r);
}

/* A valid body with a bit of everything, packed with nact_pack. */
static size_t make_seed_body(nact_system *sys, uint8_t *out, size_t cap, int variant)
{
	nact_msg *m = NULL;
	nact_pack pk;
	size_t len = 0;

	if (nact_msg_alloc(&m, sys, 1) != 0)
		return 0;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 3 + (uint32_t)(variant % 3));
	nact_pack_int(&pk, -(int64_t)variant * 1000003);
	nact_pack_uint(&pk, (uint64_t)variant << 40);
	nact_pack_map(&pk, 2);
	nact_pack_str(&pk, "key");
	nact_pack_double(&pk, variant * 0.5);
	nact_pack_str(&pk, "nested");
	nact_pack_array(&pk, 2);
	nact_pack_bin(&pk, "\x00\x01\x02", 3);
	nact_pack_array(&pk, 1);
	nact_pack_bool(&pk, variant & 1);
	if (variant % 3 >= 1)
		nact_pack_nil(&pk);
	if (variant % 3 >= 2)
		nact_pack_strn(&pk,
		    "a longer string value for str8 headers, "
		    "over thirty-one bytes",
		    61);
	nact_pack_int(&pk, variant);
	if (nact_pack_error(&pk) == 0) {
		const void *body = nact_msg_body(m, &len);
		if (len > cap)
			len = cap;
		memcpy(out, body, len);
	}
	nact_msg_free(m);
	return len;
}

static void test_fuzz(void)
{
	nact_system *sys = NULL;
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MANUAL));

	const char *seed_env = getenv("NACT_FUZZ_SEED");
	rng_state = seed_env ? strtoull(seed_env, NULL, 0) : 0x9E3779B97F4A7C15ull;
	if (rng_state == 0)
		rng_state = 1;
	printf("seed 0x%" PRIx64 "\n", rng_state);

	enum { NSEEDS = 6, MAXLEN = 256 };
	uint8_t seeds[NSEEDS][MAXLEN];
	size_t seed_len[NSEEDS];
	for (int k = 0; k < NSEEDS; k++) {
		seed_len[k] = make_seed_body(sys, seeds[k], MAXLEN, k);
		REQUIRE(seed_len[k] > 0);
		/* The seeds themselves are valid. */
		CHECK_RV(nact_msgpack_validate(seeds[k], seed_len[k], NULL));
	}

	long cases = nt_scaled(200000);
	uint8_t buf[MAXLEN * 2];
	for (long c = 0; c < cases; c++) {
		size_t len = 0;
		switch (c % 4) {
		case 0: /* pure random */
			len = rnd_below(48);
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rnd();
			break;
		case 1: /* random, biased to type bytes and small values */
			len = rnd_below(64);
			for (size_t k = 0; k < len; k++) {
				uint32_t p = rnd_below(4);
				buf[k] = p == 0 ? (uint8_t)rnd() :
				    p == 1      ? (uint8_t)rnd_below(4) :
				                  interesting[rnd_below(sizeof(interesting))];
			}
			break;
		default: { /* mutate a valid body */
			int s = (int)rnd_below(NSEEDS);
			len = seed_len[s];
			memcpy(buf, seeds[s], len);
			int muts = 1 + (int)rnd_below(4);
			for (int mu = 0; mu < muts && len > 0; mu++) {
				size_t at = rnd_below((uint32_t)len);
				switch (rnd_below(5)) {
				case 0:
					buf[at] ^= (uint8_t)(1u << rnd_below(8));
					break;
				case 1:
					buf[at] = interesting[rnd_below(sizeof(interesting))];
					break;
				case 2: /* truncate */
					len = at;
					break;
				case 3: /* splice in a chunk of another seed */
				{
					int o = (int)rnd_below(NSEEDS);
					size_t from = rnd_below((uint32_t)seed_len[o]);
					size_t n = rnd_below(16);
					if (from + n > seed_len[o])
						n = seed_len[o] - from;
					if (at + n > sizeof(buf))
						n = sizeof(buf) - at;
					memcpy(buf + at, seeds[o] + from, n);
					if (at + n > len)
						len = at + n;
					break;
				}
				default: /* big-endian length fields to max */
					buf[at] = 0xff;
					if (at + 1 < len)
						buf[at + 1] = 0xff;
					break;
				}
			}
			break;
		}
		}
		/* Exact-size heap copy so ASan sees any read past the end. */
		uint8_t *heap = malloc(len ? len : 1);
		REQUIRE(heap != NULL);
		memcpy(heap, buf, len);
		one_case(heap, len);
		free(heap);
	}
	printf("%ld cases, %ld valid, %ld values walked\n", cases, n_valid, n_values);
	/* The generator must reach the interesting part: a fair share of the
	 * mutated inputs are still valid and get walked. */
	CHECK(n_valid > cases / 20);
	nact_system_close(sys, 1000);
}

static void test_fuzz_deep(void)
{
	/* Deep and wide shapes near the limits, built deliberately. */
	uint8_t buf[4096];
	for (int depth = 1; depth < 200; depth += 7) {
		for (int kind = 0; kind < 3; kind++) {
			size_t len = 0;
			for (int k = 0; k < depth; k++) {
				if (kind == 0)
					buf[len++] = 0x91;
				else if (kind == 1) {
					buf[len++] = 0x81;
					buf[len++] = 0x01;
				} else {
					buf[len++] = 0xdc; /* array16, 1 elem */
					buf[len++] = 0x00;
					buf[len++] = 0x01;
				}
			}
			buf[len++] = 0xc0;
			uint8_t *heap = malloc(len);
			REQUIRE(heap != NULL);
			memcpy(heap, buf, len);
			int v = nact_msgpack_validate(heap, len, NULL);
			if (depth <= 32)
				CHECK_EQ_INT(v, 0);
			else
				CHECK_EQ_INT(v, NACT_ELIMIT);
			one_case(heap, len);
			/* Every truncation of it too. */
			for (size_t t = 0; t < len; t += 3)
				one_case(heap, t);
			free(heap);
		}
	}
}

NT_MAIN(NT_CASE(test_fuzz), NT_CASE(test_fuzz_deep))
