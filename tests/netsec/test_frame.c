/*
 * tests/netsec/test_frame.c — the DATA frame decoder (transport/frame.c)
 * against a table of bad frames, then random and mutated frames for a few
 * seconds: it never crashes or reads outside the frame (run it under
 * ASan), rejects garbage, and when it accepts a frame its record walk
 * agrees with its count. Deterministic (fixed seed); any compiler.
 */
#include "testutil.h"

#include "frame_cases.h"

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_good(void)
{
	uint8_t b[1024];
	size_t len = fc_hdr(b);
	const uint8_t body1[] = {0x92, 0x01, 0xa2, 'h', 'i'};
	const uint8_t body2[] = {0xc0};
	REQUIRE(fc_rec(b, sizeof(b), &len, 3, 2, 0, body1, sizeof(body1)) == 0);
	REQUIRE(fc_rec(b, sizeof(b), &len, 4, (uint64_t)0xFFFF << 48 | 9, NACT_MF_CONTROL, body2,
	            sizeof(body2)) == 0);
	uint32_t n = 0;
	CHECK(nacti_frame_check(b, len, &n) == NULL);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(fc_decode(b, len), 1);
	/* a record with an empty body (header only) is fine */
	len = fc_hdr(b);
	REQUIRE(fc_rec(b, sizeof(b), &len, 3, 0, 0, NULL, 0) == 0);
	CHECK_EQ_INT(fc_decode(b, len), 1);
}

static void test_bad_table(void)
{
	const uint8_t body[] = {0x92, 0x01, 0xa2, 'h', 'i'};
	struct {
		const char *what;
		int mutate; /* see switch */
	} cases[] = {
	    {"short", 0},
	    {"bad magic", 1},
	    {"bad version", 2},
	    {"not data", 3},
	    {"empty", 4},
	    {"truncated length", 5},
	    {"length < 48", 6},
	    {"length past end", 7},
	    {"bad envelope magic", 8},
	    {"target 0", 9},
	    {"target node bits", 10},
	    {"sender node bits", 11},
	    {"internal flag", 12},
	    {"bad msgpack", 13},
	    {"trailing byte", 14},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[512];
		size_t len = fc_hdr(b);
		uint64_t tgt = 3, snd = 2;
		uint16_t fl = 0;
		const uint8_t *bd = body;
		size_t bl = sizeof(body);
		const uint8_t badbody[] = {0xc1};
		if (cases[i].mutate == 9)
			tgt = 0;
		if (cases[i].mutate == 10)
			tgt |= (uint64_t)5 << 48;
		if (cases[i].mutate == 11)
			snd |= (uint64_t)7 << 48;
		if (cases[i].mutate == 12)
			fl = 0x8000;
		if (cases[i].mutate == 13) {
			bd = badbody;
			bl = 1;
		}
		REQUIRE(fc_rec(b, sizeof(b), &len, tgt, snd, fl, bd, bl) == 0);
		switch (cases[i].mutate) {
		case 0:
			len = 3;
			break;
		case 1:
			b[0] = 0xA7;
			break;
		case 2:
			b[1] = 2;
			break;
		case 3:
			b[2] = 17;
			break;
		case 4:
			len = 4;
			break;
		case 5:
			len = 6;
			break;
		case 6:
			b[4] = 47;
			break;
		case 7:
			b[4] = (uint8_t)(b[4] + 1);
			break;
		case 8:
			b[8] = 0;
			break;
		case 14:
			b[len++] = 0;
			break;
		default:
			break;
		}
		int d = fc_decode(b, len);
		if (d != 0)
			nt_fail(__FILE__, __LINE__, "case %s: decode %d, want rejected",
			    cases[i].what, d);
	}
}

static void test_random_and_mutated(void)
{
	static uint8_t good[8192], b[8192];
	uint64_t runs = 0, accepted = 0, t0 = nt_now_ms();
	uint64_t budget = (uint64_t)nt_scaled(3000);
	while (nt_now_ms() - t0 < budget) {
		for (int j = 0; j < 256; j++, runs++) {
			size_t len;
			if (runs % 3 == 0) { /* pure noise */
				len = next() % 300;
				for (size_t k = 0; k < len; k++)
					b[k] = (uint8_t)next();
				if (len > 4 && next() % 2) {
					b[0] = 0xA8;
					b[1] = 1;
					b[2] = 16;
				}
			} else { /* a valid frame with a few mutations */
				size_t gl = fc_hdr(good);
				int nr = 1 + (int)(next() % 5);
				for (int k = 0; k < nr; k++) {
					uint8_t body[64];
					size_t bl = next() % 8;
					/* a msgpack array of small ints */
					body[0] = (uint8_t)(0x90 | bl);
					for (size_t q = 0; q < bl; q++)
						body[1 + q] = (uint8_t)(next() % 128);
					fc_rec(good, sizeof(good), &gl, 1 + next() % 1000,
					    next() % 1000, 0, body, bl + 1);
				}
				memcpy(b, good, gl);
				len = gl;
				int muts = (int)(next() % 4);
				for (int k = 0; k < muts; k++) {
					switch (next() % 4) {
					case 0:
						b[next() % len] = (uint8_t)next();
						break;
					case 1:
						b[next() % len] ^= (uint8_t)(1u << (next() % 8));
						break;
					case 2:
						len -= next() % (len - 3);
						break; /* truncate */
					case 3:
						if (len < sizeof(b) - 8)
							b[len++] = (uint8_t)next();
						break;
					}
				}
				if (muts == 0 && fc_decode(b, len) != 1)
					nt_fail(__FILE__, __LINE__, "a valid frame was rejected");
			}
			/* decode a heap copy of exactly len bytes, so ASan sees any
			 * read past the end */
			uint8_t *h = malloc(len ? len : 1);
			REQUIRE(h != NULL);
			memcpy(h, b, len);
			int d = fc_decode(h, len);
			free(h);
			if (d < 0)
				nt_fail(__FILE__, __LINE__, "inconsistent decode (len %zu)", len);
			accepted += d == 1;
		}
	}
	printf("frames %llu, accepted %llu\n", (unsigned long long)runs,
	    (unsigned long long)accepted);
	CHECK(runs > 1000);
	CHECK(accepted > 0 && accepted < runs);
}

NT_MAIN(NT_CASE(test_good), NT_CASE(test_bad_table), NT_CASE(test_random_and_mutated))
