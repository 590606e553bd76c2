/*
 * tests/cancel/test_fuzz_request.c — a deterministic fuzz run of the
 * registry server over its real socket, for any compiler (the libFuzzer
 * target is fuzz_request.c): a seeded generator sends random byte strings
 * (each must get an error reply) and mutations of the seed corpus
 * (tests/cancel/fuzz_corpus: each must get a well-formed reply, error or
 * not); after all of them the node still answers "stats".
 */
#include <dirent.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "fuzz_common.h"
#include "testutil.h"

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS must name tests/cancel/fuzz_corpus"
#endif

#define NSEEDS_MAX 64
#define SEED_MAX 4096

static char tmpdir[64];

struct seed {
	unsigned char b[SEED_MAX];
	size_t n;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t load_seeds(struct seed *s, size_t max)
{
	DIR *d = opendir(FUZZ_CORPUS);
	struct dirent *e;
	size_t n = 0;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		char p[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", FUZZ_CORPUS, e->d_name);
		FILE *f = fopen(p, "rb");
		if (f == NULL)
			continue;
		s[n].n = fread(s[n].b, 1, SEED_MAX, f);
		fclose(f);
		if (s[n].n > 0)
			n++;
	}
	closedir(d);
	return n;
}

/* One mutation of src into dst (1..SEED_MAX bytes): bit flips, byte
 * changes to interesting values, insertions, deletions, truncation, or a
 * splice with another seed. */
static size_t mutate(unsigned char *dst, const struct seed *seeds, size_t nseeds)
{
	static const unsigned char interesting[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
	    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xcc, 0xcf, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff};
	const struct seed *s = &seeds[rnd() % nseeds];
	size_t n = s->n;
	memcpy(dst, s->b, n);
	int rounds = 1 + (int)(rnd() % 4);
	for (int r = 0; r < rounds && n > 0; r++) {
		size_t at = rnd() % n;
		switch (rnd() % 6) {
		case 0:
			dst[at] ^= (unsigned char)(1u << (rnd() % 8));
			break;
		case 1:
			dst[at] = interesting[rnd() % sizeof(interesting)];
			break;
		case 2: /* insert */
			if (n < SEED_MAX) {
				memmove(dst + at + 1, dst + at, n - at);
				dst[at] = (unsigned char)rnd();
				n++;
			}
			break;
		case 3: /* delete */
			memmove(dst + at, dst + at + 1, n - at - 1);
			n--;
			break;
		case 4: /* truncate */
			n = at;
			break;
		default: { /* splice: the tail of another seed */
			const struct seed *o = &seeds[rnd() % nseeds];
			size_t from = rnd() % o->n, k = o->n - from;
			if (at + k > SEED_MAX)
				k = SEED_MAX - at;
			memcpy(dst + at, o->b + from, k);
			n = at + k;
			break;
		}
		}
	}
	return n;
}

/* Send buf, receive the reply: its fz_reply_kind, or -2 without one. */
static int ask(nng_socket c, const void *buf, size_t n)
{
	nng_msg *m;
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, buf, n) != 0)
		return -2;
	if (nng_sendmsg(c, m, 0) != 0) {
		nng_msg_free(m);
		return -2;
	}
	if (nng_recvmsg(c, &m, 0) != 0)
		return -2;
	int k = fz_reply_kind(nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
	return k;
}

static void test_fuzz_server(void)
{
	static struct seed seeds[NSEEDS_MAX];
	static unsigned char buf[SEED_MAX];
	nact_system *sys;
	nact_opid a, b;
	nng_socket c;
	char url[256];
	size_t nseeds = load_seeds(seeds, NSEEDS_MAX);
	REQUIRE(nseeds >= 5);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nact-fz-XXXXXX");
	REQUIRE(mkdtemp(tmpdir) != NULL);
	setenv("XDG_RUNTIME_DIR", tmpdir, 1);
	REQUIRE_RV(nt_open(&sys, 2, 0));
	REQUIRE_RV(nact_op_create(&a, sys, "job", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_create(&b, sys, "step", a, NULL));
	REQUIRE_RV(nact_registry_serve(sys, "fuzz", url, sizeof(url)));
	REQUIRE_RV(nng_req0_open(&c));
	nng_socket_set_ms(c, NNG_OPT_RECVTIMEO, (nng_duration)nt_slow(10000));
	nng_socket_set_ms(c, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	REQUIRE_RV(nng_dial(c, url, NULL, 0));

	/* the seeds as they are */
	for (size_t i = 0; i < nseeds; i++)
		CHECK(ask(c, seeds[i].b, seeds[i].n) >= 0);
	long n = nt_scaled(20000), errors = 0, oks = 0, bad = 0;
	uint64_t t0 = nt_now_ms();
	for (long i = 0; i < n; i++) {
		size_t len;
		int random = i % 3 == 0;
		if (random) {
			len = rnd() % 300;
			for (size_t k = 0; k < len; k++)
				buf[k] = (unsigned char)rnd();
		} else {
			len = mutate(buf, seeds, nseeds);
		}
		int k = ask(c, buf, len);
		if (k == -2) {
			bad++;
			nt_fail(__FILE__, __LINE__, "no reply to input %ld (%zu bytes)", i, len);
			break;
		}
		if (k == -1 || (random && k != 0)) {
			bad++;
			nt_fail(__FILE__, __LINE__, "input %ld: %s reply", i,
			    k == -1 ? "malformed" : "non-error");
		}
		errors += k == 0;
		oks += k == 1;
		/* something left to cancel */
		size_t live = 0;
		nact_op_list(sys, NACT_OP_PENDING, NULL, 0, &live);
		if (live == 0)
			CHECK_RV(nact_op_create(&b, sys, "again", NACT_OPID_NONE, NULL));
	}
	printf("fuzz: %ld inputs, %ld error replies, %ld ok replies, %ld bad, %llu ms\n", n, errors,
	    oks, bad, (unsigned long long)(nt_now_ms() - t0));
	CHECK_EQ_INT(bad, 0);
	CHECK(errors > n / 3); /* the random third at least */
	/* still serving */
	static const unsigned char stats[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa5, 0x73, 0x74, 0x61, 0x74, 0x73};
	CHECK_EQ_INT(ask(c, stats, sizeof(stats)), 1);
	nng_close(c);
	nact_system_close(sys, 5000);
	char p[128];
	snprintf(p, sizeof(p), "%s/nactor", tmpdir);
	rmdir(p);
	rmdir(tmpdir);
}

NT_MAIN(NT_CASE(test_fuzz_server))
