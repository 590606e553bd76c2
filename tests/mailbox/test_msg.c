/*
 * tests/mailbox/test_msg.c — messages and their wire header.
 *
 * Contract checked (include/nactor/mailbox.h, transport.h):
 * - nact_msg_alloc gives a message with the given type, every other header
 *   field zero and an empty body; its nng_msg body is exactly the 48-byte
 *   header, laid out little-endian at the documented offsets.
 * - The setters (type, opid, deadline) change the header bytes in place and
 *   the accessors read them back.
 * - nact_msg_wrap accepts an nng_msg carrying a valid header (+ body) and
 *   rejects a short one, a bad magic or a bad version with NACT_EMALFORMED,
 *   leaving the nng_msg with the caller.
 * - nact_msg_take detaches the nng_msg; the caller owns it and the emptied
 *   envelope is still freed by its owner. nact_msg_free(NULL) is a no-op.
 * - nact_hdr_encode/decode round-trip every field and are little-endian;
 *   decode and nact_hdr_check reject short input, bad magic, bad version.
 */
#include "testutil.h"

static nact_system *open_sys(void)
{
	nact_system *sys = NULL;
	int rv = nt_open(&sys, 1, NACT_CLOCK_MANUAL);
	if (rv != 0) {
		nt_fail(__FILE__, __LINE__, "nact_system_open: %s", nact_strerror(rv));
		return NULL;
	}
	return sys;
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void test_alloc_defaults(void)
{
	nact_system *sys = open_sys();
	REQUIRE(sys != NULL);
	nact_msg *m = NULL;
	size_t len = 99;

	REQUIRE_RV(nact_msg_alloc(&m, sys, 42));
	REQUIRE(m != NULL);
	CHECK_EQ_INT(nact_msg_type(m), 42);
	CHECK_EQ_INT(nact_msg_flags(m), 0);
	CHECK_EQ_U64(nact_msg_target(m).v, 0);
	CHECK_EQ_U64(nact_msg_sender(m).v, 0);
	CHECK_EQ_U64(nact_msg_corr(m), 0);
	CHECK_EQ_U64(nact_msg_opid(m), 0);
	CHECK_EQ_U64(nact_msg_deadline(m), 0);
	(void)nact_msg_body(m, &len);
	CHECK_EQ_INT(len, 0);

	nng_msg *nm = nact_msg_nng(m);
	REQUIRE(nm != NULL);
	CHECK_EQ_INT(nng_msg_len(nm), NACT_HDR_SIZE);
	const uint8_t *b = nng_msg_body(nm);
	CHECK_EQ_INT(b[0], NACT_HDR_MAGIC);
	CHECK_EQ_INT(b[1], NACT_HDR_VERSION);
	CHECK_EQ_U64(get_le(b + 4, 4), 42);
	CHECK_EQ_INT(nact_hdr_check(b, nng_msg_len(nm)), 0);

	nact_msg_free(m);
	nact_msg_free(NULL); /* NULL-safe */

	/* Many alloc/free cycles recycle through the pool without leaking (ASan
	 * checks the leak part). */
	for (int i = 0; i < 10000; i++) {
		REQUIRE_RV(nact_msg_alloc(&m, sys, (uint32_t)i));
		if (nact_msg_type(m) != (uint32_t)i) {
			CHECK_EQ_INT(nact_msg_type(m), i);
			nact_msg_free(m);
			break;
		}
		nact_msg_free(m);
	}
	nact_system_close(sys, 1000);
}

static void test_setters(void)
{
	nact_system *sys = open_sys();
	REQUIRE(sys != NULL);
	nact_msg *m = NULL;

	REQUIRE_RV(nact_msg_alloc(&m, sys, 1));
	nact_msg_set_type(m, 0xDEADBEEFu);
	nact_msg_set_opid(m, 0x0102030405060708ull);
	nact_msg_set_deadline(m, 0xA1B2C3D4E5F60718ull);
	CHECK_EQ_U64(nact_msg_type(m), 0xDEADBEEFu);
	CHECK_EQ_U64(nact_msg_opid(m), 0x0102030405060708ull);
	CHECK_EQ_U64(nact_msg_deadline(m), 0xA1B2C3D4E5F60718ull);

	/* The setters write the header bytes in place, little-endian. */
	const uint8_t *b = nng_msg_body(nact_msg_nng(m));
	CHECK_EQ_U64(get_le(b + 4, 4), 0xDEADBEEFu);
	CHECK_EQ_U64(get_le(b + 32, 8), 0x0102030405060708ull);
	CHECK_EQ_U64(get_le(b + 40, 8), 0xA1B2C3D4E5F60718ull);
	CHECK_EQ_INT(b[32], 0x08); /* least significant byte first */

	nact_msg_set_deadline(m, 0);
	CHECK_EQ_U64(nact_msg_deadline(m), 0);

	/* Packing appends after the header; the body accessor sees it. */
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_int(&pk, 7);
	CHECK_RV(nact_pack_error(&pk));
	size_t len = 0;
	const uint8_t *body = nact_msg_body(m, &len);
	CHECK_EQ_INT(len, 1);
	if (len == 1)
		CHECK_EQ_INT(body[0], 7); /* positive fixint */
	CHECK_EQ_INT(nng_msg_len(nact_msg_nng(m)), NACT_HDR_SIZE + 1);
	CHECK_EQ_INT(nt_body_int(m, -1), 7);
	/* The header is untouched by packing. */
	CHECK_EQ_U64(nact_msg_type(m), 0xDEADBEEFu);

	nact_msg_free(m);
	nact_system_close(sys, 1000);
}

static void fill_hdr(nact_hdr *h)
{
	h->flags = NACT_MF_REQUEST | NACT_MF_CONTROL;
	h->type = 0x89ABCDEFu;
	h->target = 0x1122334455667788ull;
	h->sender = 0x8877665544332211ull;
	h->corr = 0xFFFFFFFFFFFFFFFFull;
	h->opid = 0x0000000100000002ull;
	h->deadline = 0x8000000000000001ull;
}

static void test_wrap(void)
{
	nact_system *sys = open_sys();
	REQUIRE(sys != NULL);
	uint8_t hb[NACT_HDR_SIZE];
	nact_hdr h;
	nng_msg *nm = NULL;
	nact_msg *m = NULL;

	fill_hdr(&h);
	nact_hdr_encode(&h, hb);
	REQUIRE(nng_msg_alloc(&nm, 0) == 0);
	REQUIRE(nng_msg_append(nm, hb, sizeof(hb)) == 0);
	const uint8_t body[] = {0x92, 0x01, 0xa1, 'x'}; /* [1, "x"] */
	REQUIRE(nng_msg_append(nm, body, sizeof(body)) == 0);

	REQUIRE_RV(nact_msg_wrap(&m, sys, nm));
	CHECK(nact_msg_nng(m) == nm);
	CHECK_EQ_INT(nact_msg_flags(m), NACT_MF_REQUEST | NACT_MF_CONTROL);
	CHECK_EQ_U64(nact_msg_type(m), h.type);
	CHECK_EQ_U64(nact_msg_target(m).v, h.target);
	CHECK_EQ_U64(nact_msg_sender(m).v, h.sender);
	CHECK_EQ_U64(nact_msg_corr(m), h.corr);
	CHECK_EQ_U64(nact_msg_opid(m), h.opid);
	CHECK_EQ_U64(nact_msg_deadline(m), h.deadline);
	size_t len = 0;
	const void *bp = nact_msg_body(m, &len);
	CHECK_EQ_INT(len, sizeof(body));
	CHECK(len == sizeof(body) && memcmp(bp, body, len) == 0);

	/* take: the caller gets the nng_msg, the envelope is left empty. */
	nng_msg *got = nact_msg_take(m);
	CHECK(got == nm);
	nact_msg_free(m); /* empty envelope: must not free nm */
	if (got != NULL) {
		CHECK_EQ_INT(nng_msg_len(got), NACT_HDR_SIZE + sizeof(body));
		CHECK_EQ_INT(((uint8_t *)nng_msg_body(got))[0], NACT_HDR_MAGIC);
		nng_msg_free(got);
	}

	/* Short: fewer than 48 bytes. The caller keeps nm on failure. */
	REQUIRE(nng_msg_alloc(&nm, 0) == 0);
	REQUIRE(nng_msg_append(nm, hb, 10) == 0);
	m = NULL;
	CHECK_ERR(nact_msg_wrap(&m, sys, nm), NACT_EMALFORMED);
	nng_msg_free(nm);

	/* Empty. */
	REQUIRE(nng_msg_alloc(&nm, 0) == 0);
	CHECK_ERR(nact_msg_wrap(&m, sys, nm), NACT_EMALFORMED);
	nng_msg_free(nm);

	/* Bad magic. */
	REQUIRE(nng_msg_alloc(&nm, 0) == 0);
	hb[0] = 0x00;
	REQUIRE(nng_msg_append(nm, hb, sizeof(hb)) == 0);
	CHECK_ERR(nact_msg_wrap(&m, sys, nm), NACT_EMALFORMED);
	nng_msg_free(nm);

	/* Bad version. */
	REQUIRE(nng_msg_alloc(&nm, 0) == 0);
	hb[0] = NACT_HDR_MAGIC;
	hb[1] = NACT_HDR_VERSION + 1;
	REQUIRE(nng_msg_append(nm, hb, sizeof(hb)) == 0);
	CHECK_ERR(nact_msg_wrap(&m, sys, nm), NACT_EMALFORMED);
	nng_msg_free(nm);

	/* A header alone (empty body) is valid. */
	REQUIRE(nng_msg_alloc(&nm, 0) == 0);
	hb[1] = NACT_HDR_VERSION;
	REQUIRE(nng_msg_append(nm, hb, sizeof(hb)) == 0);
	m = NULL;
	CHECK_RV(nact_msg_wrap(&m, sys, nm));
	if (m != NULL) {
		(void)nact_msg_body(m, &len);
		CHECK_EQ_INT(len, 0);
		nact_msg_free(m); /* frees nm too */
	} else {
		nng_msg_free(nm);
	}
	nact_system_close(sys, 1000);
}

static void test_take_delivered_shape(void)
{
	/* A message allocated by nact_msg_alloc and taken yields wire bytes that
	 * wrap back into an identical message: the local and wire forms are the
	 * same bytes. */
	nact_system *sys = open_sys();
	REQUIRE(sys != NULL);
	nact_msg *m = NULL, *m2 = NULL;

	REQUIRE_RV(nact_msg_alloc(&m, sys, 9));
	nact_msg_set_opid(m, 77);
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_str(&pk, "hello");
	CHECK_RV(nact_pack_error(&pk));
	nng_msg *nm = nact_msg_take(m);
	nact_msg_free(m);
	REQUIRE(nm != NULL);
	CHECK_RV(nact_hdr_check(nng_msg_body(nm), nng_msg_len(nm)));
	int rv = nact_msg_wrap(&m2, sys, nm);
	CHECK_RV(rv);
	if (rv != 0) {
		nng_msg_free(nm);
		nact_system_close(sys, 1000);
		return;
	}
	CHECK_EQ_INT(nact_msg_type(m2), 9);
	CHECK_EQ_U64(nact_msg_opid(m2), 77);
	nact_reader r;
	const char *s = NULL;
	size_t sl = 0;
	REQUIRE_RV(nact_reader_init(&r, m2, NULL));
	CHECK_RV(nact_read_str(&r, &s, &sl));
	CHECK(sl == 5 && s != NULL && memcmp(s, "hello", 5) == 0);
	nact_reader_fini(&r);
	nact_msg_free(m2);
	nact_system_close(sys, 1000);
}

static void test_hdr_roundtrip(void)
{
	nact_hdr h, d;
	uint8_t buf[NACT_HDR_SIZE + 8];

	fill_hdr(&h);
	memset(buf, 0x55, sizeof(buf));
	nact_hdr_encode(&h, buf);
	/* Exactly 48 bytes written. */
	for (size_t i = NACT_HDR_SIZE; i < sizeof(buf); i++)
		CHECK_EQ_INT(buf[i], 0x55);

	/* Byte layout, little-endian at fixed offsets. */
	CHECK_EQ_INT(buf[0], NACT_HDR_MAGIC);
	CHECK_EQ_INT(buf[1], NACT_HDR_VERSION);
	CHECK_EQ_U64(get_le(buf + 2, 2), h.flags);
	CHECK_EQ_U64(get_le(buf + 4, 4), h.type);
	CHECK_EQ_U64(get_le(buf + 8, 8), h.target);
	CHECK_EQ_U64(get_le(buf + 16, 8), h.sender);
	CHECK_EQ_U64(get_le(buf + 24, 8), h.corr);
	CHECK_EQ_U64(get_le(buf + 32, 8), h.opid);
	CHECK_EQ_U64(get_le(buf + 40, 8), h.deadline);
	CHECK_EQ_INT(buf[8], 0x88);

	memset(&d, 0, sizeof(d));
	CHECK_RV(nact_hdr_decode(&d, buf, NACT_HDR_SIZE));
	CHECK_EQ_U64(d.flags, h.flags);
	CHECK_EQ_U64(d.type, h.type);
	CHECK_EQ_U64(d.target, h.target);
	CHECK_EQ_U64(d.sender, h.sender);
	CHECK_EQ_U64(d.corr, h.corr);
	CHECK_EQ_U64(d.opid, h.opid);
	CHECK_EQ_U64(d.deadline, h.deadline);

	/* Decoding only looks at the first 48 bytes. */
	CHECK_RV(nact_hdr_decode(&d, buf, sizeof(buf)));
	CHECK_RV(nact_hdr_check(buf, NACT_HDR_SIZE));
	CHECK_RV(nact_hdr_check(buf, sizeof(buf)));

	/* Hand-built bytes decode to the documented fields. */
	uint8_t raw[NACT_HDR_SIZE] = {0};
	raw[0] = NACT_HDR_MAGIC;
	raw[1] = NACT_HDR_VERSION;
	put_le(raw + 2, NACT_MF_REPLY, 2);
	put_le(raw + 4, 5, 4);
	put_le(raw + 8, 100, 8);
	put_le(raw + 16, 200, 8);
	put_le(raw + 24, 300, 8);
	put_le(raw + 32, 400, 8);
	put_le(raw + 40, 500, 8);
	CHECK_RV(nact_hdr_decode(&d, raw, sizeof(raw)));
	CHECK_EQ_U64(d.flags, NACT_MF_REPLY);
	CHECK_EQ_U64(d.type, 5);
	CHECK_EQ_U64(d.target, 100);
	CHECK_EQ_U64(d.sender, 200);
	CHECK_EQ_U64(d.corr, 300);
	CHECK_EQ_U64(d.opid, 400);
	CHECK_EQ_U64(d.deadline, 500);

	/* Zero header round trip. */
	memset(&h, 0, sizeof(h));
	nact_hdr_encode(&h, buf);
	CHECK_RV(nact_hdr_decode(&d, buf, NACT_HDR_SIZE));
	CHECK_EQ_U64(d.target, 0);
	CHECK_EQ_U64(d.type, 0);
}

static void test_hdr_bad(void)
{
	nact_hdr h, d;
	uint8_t buf[NACT_HDR_SIZE];

	fill_hdr(&h);
	nact_hdr_encode(&h, buf);

	/* Short. */
	CHECK_ERR(nact_hdr_decode(&d, buf, NACT_HDR_SIZE - 1), NACT_EMALFORMED);
	CHECK_ERR(nact_hdr_decode(&d, buf, 0), NACT_EMALFORMED);
	CHECK_ERR(nact_hdr_check(buf, NACT_HDR_SIZE - 1), NACT_EMALFORMED);
	CHECK_ERR(nact_hdr_check(buf, 0), NACT_EMALFORMED);

	/* Bad magic. */
	buf[0] = 0xA6;
	CHECK_ERR(nact_hdr_decode(&d, buf, NACT_HDR_SIZE), NACT_EMALFORMED);
	CHECK_ERR(nact_hdr_check(buf, NACT_HDR_SIZE), NACT_EMALFORMED);
	buf[0] = NACT_HDR_MAGIC;

	/* Bad version. */
	buf[1] = 0;
	CHECK_ERR(nact_hdr_decode(&d, buf, NACT_HDR_SIZE), NACT_EMALFORMED);
	CHECK_ERR(nact_hdr_check(buf, NACT_HDR_SIZE), NACT_EMALFORMED);
	buf[1] = 2;
	CHECK_ERR(nact_hdr_decode(&d, buf, NACT_HDR_SIZE), NACT_EMALFORMED);
	buf[1] = NACT_HDR_VERSION;
	CHECK_RV(nact_hdr_decode(&d, buf, NACT_HDR_SIZE));
}

NT_MAIN(NT_CASE(test_alloc_defaults), NT_CASE(test_setters), NT_CASE(test_wrap),
    NT_CASE(test_take_delivered_shape), NT_CASE(test_hdr_roundtrip), NT_CASE(test_hdr_bad))
