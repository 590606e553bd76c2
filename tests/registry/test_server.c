/*
 * tests/registry/test_server.c — the registry server (registry/server.c,
 * docs/registry-protocol.md).
 *
 * Contract checked:
 * - serve listens on ipc://$XDG_RUNTIME_DIR/nactor/NODE.ipc; the directory
 *   is 0700, the socket 0600; a directory that is not private is refused.
 * - A REQ client gets list (with status, name glob and limit filters),
 *   get, cancel (the op ends cancelled, reason manual, with the message)
 *   and stats replies; errors for unknown ids and finished ops.
 * - The byte-level example in the protocol doc is what the code sends.
 * - Every bad request (empty, not msgpack, array, wrong types, unknown
 *   verb, missing fields, bad version, oversize, truncated, trailing data)
 *   gets {"ok": false, "error": ...} and the server keeps serving.
 * - A stale socket file (nobody listening) is replaced; a live node with
 *   the same name gives NACT_EEXIST; unserve (and system close) removes
 *   the file.
 * Every client socket has a receive timeout: a broken server fails the
 * test instead of hanging it.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>
#include "mputil.h"
#include "testutil.h"

#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

static char tmpdir[64];

static nact_system *open_sys(void)
{
	nact_config cfg;
	nact_system *sys = NULL;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.clock = NACT_CLOCK_MANUAL;
	if (nact_system_open(&sys, &cfg) != 0)
		return NULL;
	return sys;
}

static int client(nng_socket *s, const char *url)
{
	int rv;
	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, (nng_duration)nt_slow(5000));
	nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, (nng_duration)nt_slow(5000));
	if ((rv = nng_dial(*s, url, NULL, 0)) != 0)
		nng_close(*s);
	return rv;
}

/* Send raw bytes, receive the reply and unpack it into *up (the caller
 * destroys it). 0, or an nng error / -1 if the reply is not one msgpack
 * map. */
static int roundtrip(nng_socket s, const void *buf, size_t len, msgpack_unpacked *up,
    nng_msg **rawp)
{
	nng_msg *m;
	int rv;
	size_t off = 0;
	if ((rv = nng_msg_alloc(&m, 0)) != 0)
		return rv;
	if (len > 0 && (rv = nng_msg_append(m, buf, len)) != 0)
		return rv;
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &m, 0)) != 0)
		return rv;
	/* msgpack-c's objects point into the bytes they were unpacked from:
	 * unpack a copy whose lifetime is the zone's. */
	size_t len2 = nng_msg_len(m);
	char *copy = malloc(len2 > 0 ? len2 : 1);
	if (copy == NULL) {
		nng_msg_free(m);
		return NNG_ENOMEM;
	}
	memcpy(copy, nng_msg_body(m), len2);
	if (rawp != NULL)
		*rawp = m;
	else
		nng_msg_free(m);
	msgpack_unpacked_init(up);
	rv = msgpack_unpack_next(up, copy, len2, &off) == MSGPACK_UNPACK_SUCCESS && off == len2 &&
	        up->data.type == MSGPACK_OBJECT_MAP ?
	    0 :
	    -1;
	if (up->zone == NULL || !msgpack_zone_push_finalizer(up->zone, free, copy))
		free(copy);
	if (rv != 0) { /* the caller destroys only what succeeded */
		msgpack_unpacked_destroy(up);
		if (rawp != NULL) {
			nng_msg_free(*rawp);
			*rawp = NULL;
		}
	}
	return rv;
}

static int mp_ok(const msgpack_object *reply)
{
	const msgpack_object *o = mp_get(reply, "ok");
	return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

/* A request built with msgpack-c: {"v":1,"verb":verb} plus up to two
 * extra pairs given as (key, kind, value): kind 'u' uint, 's' string. */
static void mkreq(msgpack_sbuffer *sb, const char *verb, const char *k1, char t1, uint64_t u1,
    const char *s1, const char *k2, char t2, uint64_t u2, const char *s2)
{
	msgpack_packer pk;
	const char *ks[2] = {k1, k2};
	char ts[2] = {t1, t2};
	uint64_t us[2] = {u1, u2};
	const char *ss[2] = {s1, s2};
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + (k1 != NULL) + (k2 != NULL));
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_str_with_body(&pk, "verb", 4);
	msgpack_pack_str_with_body(&pk, verb, strlen(verb));
	for (int i = 0; i < 2; i++) {
		if (ks[i] == NULL)
			continue;
		msgpack_pack_str_with_body(&pk, ks[i], strlen(ks[i]));
		if (ts[i] == 'u')
			msgpack_pack_uint64(&pk, us[i]);
		else
			msgpack_pack_str_with_body(&pk, ss[i], strlen(ss[i]));
	}
}

/* One verb round trip: the reply in *up (caller destroys). */
static int call(nng_socket s, msgpack_unpacked *up, const char *verb, const char *k1, char t1,
    uint64_t u1, const char *s1, const char *k2, char t2, uint64_t u2, const char *s2)
{
	msgpack_sbuffer sb;
	mkreq(&sb, verb, k1, t1, u1, s1, k2, t2, u2, s2);
	int rv = roundtrip(s, sb.data, sb.size, up, NULL);
	msgpack_sbuffer_destroy(&sb);
	return rv;
}

static int stats_ok(nng_socket s)
{
	msgpack_unpacked up;
	if (call(s, &up, "stats", NULL, 0, 0, NULL, NULL, 0, 0, NULL) != 0)
		return 0;
	int ok = mp_ok(&up.data);
	msgpack_unpacked_destroy(&up);
	return ok;
}

static void test_verbs(void)
{
	nact_system *sys;
	nng_socket c;
	char url[256];
	nact_opid a, b, k, done;
	msgpack_unpacked up;
	rundir_fresh(tmpdir, "srv");
	REQUIRE((sys = open_sys()) != NULL);
	REQUIRE_RV(nact_op_create(&a, sys, "build", NACT_OPID_NONE, "ci"));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_create(&b, sys, "build-docs", a, NULL));
	REQUIRE_RV(nact_op_create(&k, sys, "test", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&done, sys, "old", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, done));
	REQUIRE_RV(nact_op_complete(sys, done));
	REQUIRE_RV(nact_registry_serve(sys, "verbs", url, sizeof(url)));
	CHECK(strstr(url, "ipc://") == url && strstr(url, "/nactor/verbs.ipc") != NULL);
	CHECK_ERR(nact_registry_serve(sys, "other", NULL, 0), NACT_ESTATE);
	REQUIRE_RV(client(&c, url));

	/* list: everything, live ones first */
	REQUIRE_RV(call(c, &up, "list", NULL, 0, 0, NULL, NULL, 0, 0, NULL));
	CHECK(mp_ok(&up.data));
	const msgpack_object *ops = mp_get(&up.data, "ops");
	REQUIRE(ops != NULL && ops->type == MSGPACK_OBJECT_ARRAY);
	CHECK_EQ_INT(ops->via.array.size, 4);
	if (ops->via.array.size == 4) {
		const msgpack_object *o0 = &ops->via.array.ptr[0];
		CHECK_EQ_U64(mp_u(mp_get(o0, "id")), a.v);
		CHECK(mp_is(mp_get(o0, "name"), "build"));
		CHECK(mp_is(mp_get(o0, "tags"), "ci"));
		CHECK(mp_is(mp_get(o0, "status"), "running"));
		CHECK(mp_is(mp_get(o0, "reason"), "none"));
		CHECK_EQ_U64(mp_u(mp_get(&ops->via.array.ptr[1], "parent")), a.v);
		CHECK(mp_is(mp_get(&ops->via.array.ptr[3], "status"), "completed"));
		CHECK_EQ_INT(mp_get(o0, "progress") != NULL, 1);
		CHECK_EQ_INT(mp_get(o0, "actor") != NULL, 1);
	}
	msgpack_unpacked_destroy(&up);

	/* list filters */
	REQUIRE_RV(call(c, &up, "list", "status", 's', 0, "pending", NULL, 0, 0, NULL));
	ops = mp_get(&up.data, "ops");
	CHECK(ops != NULL && ops->type == MSGPACK_OBJECT_ARRAY && ops->via.array.size == 2);
	msgpack_unpacked_destroy(&up);
	REQUIRE_RV(call(c, &up, "list", "name", 's', 0, "build*", NULL, 0, 0, NULL));
	ops = mp_get(&up.data, "ops");
	CHECK(ops != NULL && ops->type == MSGPACK_OBJECT_ARRAY && ops->via.array.size == 2);
	msgpack_unpacked_destroy(&up);
	REQUIRE_RV(call(c, &up, "list", "name", 's', 0, "build*", "limit", 'u', 1, NULL));
	ops = mp_get(&up.data, "ops");
	CHECK(ops != NULL && ops->type == MSGPACK_OBJECT_ARRAY && ops->via.array.size == 1);
	const msgpack_object *more = mp_get(&up.data, "more");
	CHECK(more != NULL && more->type == MSGPACK_OBJECT_BOOLEAN && more->via.boolean);
	msgpack_unpacked_destroy(&up);
	REQUIRE_RV(call(c, &up, "list", "status", 's', 0, "sleeping", NULL, 0, 0, NULL));
	CHECK(!mp_ok(&up.data));
	CHECK(mp_is(mp_get(&up.data, "error"), "unknown status"));
	msgpack_unpacked_destroy(&up);

	/* get */
	REQUIRE_RV(call(c, &up, "get", "id", 'u', k.v, NULL, NULL, 0, 0, NULL));
	CHECK(mp_ok(&up.data));
	CHECK(mp_is(mp_get(mp_get(&up.data, "op"), "name"), "test"));
	msgpack_unpacked_destroy(&up);
	REQUIRE_RV(call(c, &up, "get", "id", 'u', 999, NULL, NULL, 0, 0, NULL));
	CHECK(!mp_ok(&up.data));
	CHECK(mp_is(mp_get(&up.data, "error"), "no such operation"));
	msgpack_unpacked_destroy(&up);

	/* cancel: a's child b goes first, with reason parent */
	REQUIRE_RV(call(c, &up, "cancel", "id", 'u', a.v, NULL, "message", 's', 0, "from a tool"));
	CHECK(mp_ok(&up.data));
	msgpack_unpacked_destroy(&up);
	nact_op_info in;
	REQUIRE_RV(nact_op_get(sys, a, &in));
	CHECK_EQ_INT(in.status, NACT_OP_CANCELLED);
	CHECK_EQ_INT(in.reason, NACT_CANCEL_MANUAL);
	CHECK_STR(in.message, "from a tool");
	REQUIRE_RV(nact_op_get(sys, b, &in));
	CHECK_EQ_INT(in.reason, NACT_CANCEL_PARENT);
	REQUIRE_RV(call(c, &up, "cancel", "id", 'u', a.v, NULL, NULL, 0, 0, NULL));
	CHECK(!mp_ok(&up.data));
	CHECK(mp_is(mp_get(&up.data, "error"), "operation already finished"));
	msgpack_unpacked_destroy(&up);

	/* stats */
	REQUIRE_RV(call(c, &up, "stats", NULL, 0, 0, NULL, NULL, 0, 0, NULL));
	CHECK(mp_ok(&up.data));
	CHECK(mp_is(mp_get(&up.data, "node"), "verbs"));
	CHECK_EQ_U64(mp_u(mp_get(&up.data, "pid")), (uint64_t)getpid());
	CHECK_EQ_U64(mp_u(mp_get(&up.data, "ops_live")), 1);
	CHECK_EQ_U64(mp_u(mp_get(&up.data, "ops_history")), 3);
	CHECK(mp_u(mp_get(&up.data, "live_actors")) != UINT64_MAX);
	CHECK(mp_u(mp_get(&up.data, "spawned")) != UINT64_MAX);
	CHECK(mp_u(mp_get(&up.data, "dead_letters")) != UINT64_MAX);
	msgpack_unpacked_destroy(&up);

	nng_close(c);
	nact_system_close(sys, 5000); /* unserves */
	rundir_cleanup(tmpdir);
}

static void hex(char *out, size_t cap, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t o = 0;
	for (size_t i = 0; i < len && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
	out[o] = '\0';
}

/* The example in docs/registry-protocol.md, byte for byte. */
static const unsigned char doc_req[] = {0x83, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62, 0xa3,
    0x67, 0x65, 0x74, 0xa2, 0x69, 0x64, 0x01};
static const char doc_rep[] = "83a17601a26f6bc3a26f708da2696401a6706172656e7400a46e616d65a66261"
                              "636b7570a474616773a76e696768746c79a6737461747573a772756e6e696e67"
                              "a6726561736f6ea46e6f6e65a76d657373616765a0aa637265617465645f6e73"
                              "00aa737461727465645f6e73cd03e8a8656e6465645f6e7300a870726f677265"
                              "7373cb3fe0000000000000ac70726f67726573735f6d7367a468616c66a56163"
                              "746f7200";

static void test_doc_example(void)
{
	nact_system *sys;
	nng_socket c;
	char url[256], got[2048];
	nact_opid a;
	msgpack_unpacked up;
	nng_msg *raw = NULL;
	rundir_fresh(tmpdir, "srv");
	REQUIRE((sys = open_sys()) != NULL);
	REQUIRE_RV(nact_op_create(&a, sys, "backup", NACT_OPID_NONE, "nightly"));
	REQUIRE_RV(nact_clock_advance(sys, 1000));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_progress(sys, a, 0.5, "half"));
	REQUIRE_RV(nact_registry_serve(sys, "doc", url, sizeof(url)));
	REQUIRE_RV(client(&c, url));
	REQUIRE_RV(roundtrip(c, doc_req, sizeof(doc_req), &up, &raw));
	CHECK(mp_ok(&up.data));
	msgpack_unpacked_destroy(&up);
	hex(got, sizeof(got), nng_msg_body(raw), nng_msg_len(raw));
	if (strcmp(got, doc_rep) != 0)
		fprintf(stderr, "reply bytes: %s\n", got);
	CHECK_STR(got, doc_rep);
	nng_msg_free(raw);
	/* the error example: {"v":1,"verb":"nope"} */
	static const unsigned char nope[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa4, 0x6e, 0x6f, 0x70, 0x65};
	REQUIRE_RV(roundtrip(c, nope, sizeof(nope), &up, &raw));
	msgpack_unpacked_destroy(&up);
	hex(got, sizeof(got), nng_msg_body(raw), nng_msg_len(raw));
	CHECK_STR(got, "83a17601a26f6bc2a56572726f72ac756e6b6e6f776e2076657262");
	nng_msg_free(raw);
	nng_close(c);
	nact_registry_unserve(sys);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

static void test_bad_requests(void)
{
	static const unsigned char not_mp[] = {0xc1};
	static const unsigned char array[] = {0x92, 0x01, 0x02};
	/* {"v":"1","verb":"list"} */
	static const unsigned char v_str[] = {0x82, 0xa1, 0x76, 0xa1, 0x31, 0xa4, 0x76, 0x65, 0x72,
	    0x62, 0xa4, 0x6c, 0x69, 0x73, 0x74};
	/* {"v":1,"verb":5} */
	static const unsigned char verb_int[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72,
	    0x62, 0x05};
	/* {"v":1,"verb":"nope"} */
	static const unsigned char verb_unknown[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72,
	    0x62, 0xa4, 0x6e, 0x6f, 0x70, 0x65};
	/* {"v":1,"verb":"get","id":"x"} */
	static const unsigned char id_str[] = {0x83, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa3, 0x67, 0x65, 0x74, 0xa2, 0x69, 0x64, 0xa1, 0x78};
	/* {"v":1,"verb":"get","id":-1} */
	static const unsigned char id_neg[] = {0x83, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa3, 0x67, 0x65, 0x74, 0xa2, 0x69, 0x64, 0xff};
	/* {"v":1,"verb":"get"} */
	static const unsigned char no_id[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa3, 0x67, 0x65, 0x74};
	/* {"v":2,"verb":"list"} */
	static const unsigned char v2[] = {0x82, 0xa1, 0x76, 0x02, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa4, 0x6c, 0x69, 0x73, 0x74};
	/* {"verb":"list"} */
	static const unsigned char no_v[] = {0x81, 0xa4, 0x76, 0x65, 0x72, 0x62, 0xa4, 0x6c, 0x69,
	    0x73, 0x74};
	/* {"v":1} */
	static const unsigned char no_verb[] = {0x81, 0xa1, 0x76, 0x01};
	/* {1:1,"verb":"list"}: a non-string key */
	static const unsigned char int_key[] = {0x82, 0x01, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa4, 0x6c, 0x69, 0x73, 0x74};
	/* the doc request cut short, and with a byte after it */
	static const unsigned char truncated[] = {0x83, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72,
	    0x62, 0xa3, 0x67, 0x65};
	static const unsigned char trailing[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72,
	    0x62, 0xa5, 0x73, 0x74, 0x61, 0x74, 0x73, 0xc0};
	/* 40 nested arrays */
	unsigned char deep[41];
	memset(deep, 0x91, 40);
	deep[40] = 0x01;
	/* {"v":1,"verb":"list","pad": bin of 70000 bytes} */
	size_t bign = 70000 + 32;
	unsigned char *big = calloc(1, bign);
	REQUIRE(big != NULL);
	static const unsigned char bighead[] = {0x83, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72,
	    0x62, 0xa4, 0x6c, 0x69, 0x73, 0x74, 0xa3, 0x70, 0x61, 0x64, 0xc6, 0x00, 0x01, 0x11,
	    0x70};
	memcpy(big, bighead, sizeof(bighead));
	bign = sizeof(bighead) + 70000;
	struct {
		const char *what;
		const void *buf;
		size_t len;
		const char *err; /* the error text expected */
	} cases[] = {
	    {"empty", "", 0, "empty request"},
	    {"not msgpack", not_mp, sizeof(not_mp), "not msgpack"},
	    {"array", array, sizeof(array), "request must be a map"},
	    {"v as string", v_str, sizeof(v_str), "\"v\" must be an unsigned integer"},
	    {"verb as int", verb_int, sizeof(verb_int), "\"verb\" must be a string"},
	    {"unknown verb", verb_unknown, sizeof(verb_unknown), "unknown verb"},
	    {"id as string", id_str, sizeof(id_str), "\"id\" must be an unsigned integer"},
	    {"negative id", id_neg, sizeof(id_neg), "\"id\" must be an unsigned integer"},
	    {"missing id", no_id, sizeof(no_id), "missing \"id\""},
	    {"version 2", v2, sizeof(v2), "unsupported protocol version"},
	    {"missing v", no_v, sizeof(no_v), "missing \"v\""},
	    {"missing verb", no_verb, sizeof(no_verb), "missing \"verb\""},
	    {"int key", int_key, sizeof(int_key), "map keys must be strings"},
	    {"truncated", truncated, sizeof(truncated), "truncated msgpack"},
	    {"trailing", trailing, sizeof(trailing), "trailing data after the request map"},
	    {"deep", deep, sizeof(deep), "request exceeds limits"},
	    {"oversize", big, bign, "request too large"},
	};
	nact_system *sys;
	nng_socket c;
	char url[256];
	rundir_fresh(tmpdir, "srv");
	REQUIRE((sys = open_sys()) != NULL);
	REQUIRE_RV(nact_registry_serve(sys, "bad", url, sizeof(url)));
	REQUIRE_RV(client(&c, url));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msgpack_unpacked up;
		int rv = roundtrip(c, cases[i].buf, cases[i].len, &up, NULL);
		if (rv != 0) {
			CHECK(rv == 0 && cases[i].what != NULL);
			fprintf(stderr, "case %s: no reply (%d)\n", cases[i].what, rv);
			continue;
		}
		const msgpack_object *e = mp_get(&up.data, "error");
		if (mp_ok(&up.data) || e == NULL || e->type != MSGPACK_OBJECT_STR ||
		    e->via.str.size == 0) {
			CHECK(!"error reply expected");
			fprintf(stderr, "case %s: not an error reply\n", cases[i].what);
		} else if (!mp_is(e, cases[i].err)) {
			CHECK(!"other error text");
			fprintf(stderr, "case %s: error \"%.*s\", want \"%s\"\n", cases[i].what,
			    (int)e->via.str.size, e->via.str.ptr, cases[i].err);
		}
		CHECK_EQ_U64(mp_u(mp_get(&up.data, "v")), 1);
		msgpack_unpacked_destroy(&up);
		CHECK(stats_ok(c)); /* still serving */
	}
	free(big);
	nng_close(c);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

static void test_files(void)
{
	nact_system *sys, *sys2;
	char url[256], path[256], dir[256];
	struct stat st;
	rundir_fresh(tmpdir, "srv");
	snprintf(dir, sizeof(dir), "%s/nactor", tmpdir);
	snprintf(path, sizeof(path), "%s/nactor/files.ipc", tmpdir);
	REQUIRE((sys = open_sys()) != NULL);
	REQUIRE((sys2 = open_sys()) != NULL);
	CHECK_ERR(nact_registry_serve(sys, "", NULL, 0), NACT_EINVAL);
	CHECK_ERR(nact_registry_serve(sys, "../x", NULL, 0), NACT_EINVAL);
	CHECK_ERR(nact_registry_serve(sys, ".hidden", NULL, 0), NACT_EINVAL);
	CHECK_ERR(nact_registry_serve(sys, "files", url, 8), NACT_EINVAL); /* url_out too small */

	REQUIRE_RV(nact_registry_serve(sys, "files", url, sizeof(url)));
	REQUIRE(lstat(dir, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
	REQUIRE(lstat(path, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	/* the same name while the first node runs */
	CHECK_ERR(nact_registry_serve(sys2, "files", NULL, 0), NACT_EEXIST);
	nact_registry_unserve(sys);
	CHECK(lstat(path, &st) != 0);
	nact_registry_unserve(sys); /* again: no-op */

	/* a stale socket: bound, never listened on, left behind */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	REQUIRE(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	REQUIRE(fd >= 0);
	REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	REQUIRE(lstat(path, &st) == 0);
	REQUIRE_RV(nact_registry_serve(sys2, "files", url, sizeof(url)));
	nng_socket c;
	REQUIRE_RV(client(&c, url));
	CHECK(stats_ok(c));
	nng_close(c);

	/* a regular file in the way is never removed */
	char fpath[256];
	snprintf(fpath, sizeof(fpath), "%s/nactor/plain.ipc", tmpdir);
	FILE *f = fopen(fpath, "w");
	REQUIRE(f != NULL);
	fclose(f);
	CHECK_ERR(nact_registry_serve(sys, "plain", NULL, 0), NACT_EEXIST);
	unlink(fpath);

	nact_system_close(sys2, 5000); /* close unserves: the file goes */
	CHECK(lstat(path, &st) != 0);

	/* a directory others can enter is refused */
	REQUIRE(chmod(dir, 0755) == 0);
	CHECK_ERR(nact_registry_serve(sys, "files", NULL, 0), NACT_ESYSERR + EPERM);
	REQUIRE(chmod(dir, 0700) == 0);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

/* Raw SP-over-ipc REQ exchange in a forked child (no nng after fork):
 * the 8-byte handshake, then one framed message (0x01, 64-bit length,
 * 4-byte request id, body); 0 if the reply says "permission denied". */
static int raw_req_denied(const char *path)
{
	static const unsigned char hello[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00, 0x00};
	/* {"v":1,"verb":"stats"} with request id 0x80000001 */
	static const unsigned char req[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 4 + 15, 0x80, 0x00, 0x00,
	    0x01, 0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62, 0xa5, 0x73, 0x74, 0x61,
	    0x74, 0x73};
	unsigned char buf[256];
	size_t got = 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return 2;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* never hang */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return 3;
	if (write(fd, hello, sizeof(hello)) != sizeof(hello) ||
	    write(fd, req, sizeof(req)) != sizeof(req))
		return 4;
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		for (size_t i = 0; i + 17 <= got; i++)
			if (memcmp(buf + i, "permission denied", 17) == 0)
				return 0;
	}
	return 5;
}

/* Another uid is refused (needs root to become one; skipped otherwise).
 * The directory and socket are opened up for the test so the connection
 * itself succeeds and the peer-uid check is what refuses. */
static void test_peer_uid(void)
{
	nact_system *sys;
	char url[256], path[256], dir[256];
	if (getuid() != 0) {
		printf("skip test_peer_uid: needs root to act as another uid\n");
		return;
	}
	rundir_fresh(tmpdir, "srv");
	snprintf(dir, sizeof(dir), "%s/nactor", tmpdir);
	snprintf(path, sizeof(path), "%s/nactor/peer.ipc", tmpdir);
	REQUIRE((sys = open_sys()) != NULL);
	REQUIRE_RV(nact_registry_serve(sys, "peer", url, sizeof(url)));
	REQUIRE(chmod(tmpdir, 0711) == 0 && chmod(dir, 0711) == 0 && chmod(path, 0666) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(1);
		_exit(raw_req_denied(path));
	}
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
	/* root (us) is still served */
	nng_socket c;
	REQUIRE_RV(client(&c, url));
	CHECK(stats_ok(c));
	nng_close(c);
	chmod(dir, 0700);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

/* "tree": live operations nested under their live parents, oldest first;
 * a finished parent makes its live child a root. */
static const msgpack_object *tree_node(const msgpack_object *arr, uint32_t i)
{
	if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY || i >= arr->via.array.size)
		return NULL;
	return &arr->via.array.ptr[i];
}

static uint32_t tree_len(const msgpack_object *arr)
{
	return arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY ? arr->via.array.size : UINT32_MAX;
}

static int tree_truncated(const msgpack_object *reply)
{
	const msgpack_object *t = mp_get(reply, "truncated");
	return t != NULL && t->type == MSGPACK_OBJECT_BOOLEAN ? t->via.boolean : -1;
}

static void test_tree(void)
{
	nact_system *sys;
	nng_socket c;
	char url[256];
	nact_opid a, b, k, d, e, f, prev;
	msgpack_unpacked up;
	rundir_fresh(tmpdir, "srv");
	REQUIRE((sys = open_sys()) != NULL);
	REQUIRE_RV(nact_op_create(&a, sys, "a", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_create(&b, sys, "b", a, NULL));
	REQUIRE_RV(nact_op_create(&k, sys, "k", b, NULL));
	REQUIRE_RV(nact_op_create(&d, sys, "d", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_create(&e, sys, "e", d, NULL));
	REQUIRE_RV(nact_op_create(&f, sys, "f", e, NULL));
	REQUIRE_RV(nact_op_start(sys, e));
	REQUIRE_RV(nact_op_complete(sys, e)); /* f's parent is no longer live */
	REQUIRE_RV(nact_registry_serve(sys, "tree", url, sizeof(url)));
	REQUIRE_RV(client(&c, url));

	REQUIRE_RV(call(c, &up, "tree", NULL, 0, 0, NULL, NULL, 0, 0, NULL));
	CHECK(mp_ok(&up.data));
	CHECK_EQ_INT(tree_truncated(&up.data), 0);
	const msgpack_object *roots = mp_get(&up.data, "roots");
	CHECK_EQ_INT(tree_len(roots), 3);
	const msgpack_object *na = tree_node(roots, 0), *nd = tree_node(roots, 1),
	                     *nf = tree_node(roots, 2);
	CHECK_EQ_U64(mp_u(mp_get(na, "id")), a.v);
	CHECK(mp_is(mp_get(na, "name"), "a"));
	CHECK(mp_is(mp_get(na, "status"), "running"));
	const msgpack_object *nb = tree_node(mp_get(na, "children"), 0);
	CHECK_EQ_INT(tree_len(mp_get(na, "children")), 1);
	CHECK_EQ_U64(mp_u(mp_get(nb, "id")), b.v);
	CHECK(mp_is(mp_get(nb, "status"), "pending"));
	CHECK_EQ_U64(mp_u(mp_get(tree_node(mp_get(nb, "children"), 0), "id")), k.v);
	CHECK_EQ_INT(tree_len(mp_get(tree_node(mp_get(nb, "children"), 0), "children")), 0);
	CHECK_EQ_U64(mp_u(mp_get(nd, "id")), d.v);
	CHECK_EQ_INT(tree_len(mp_get(nd, "children")), 0); /* e finished */
	CHECK_EQ_U64(mp_u(mp_get(nf, "id")), f.v);
	msgpack_unpacked_destroy(&up);

	/* Depth cap: a chain of 20 under k shows 12 levels in all. */
	prev = k;
	for (int i = 0; i < 20; i++) {
		nact_opid x;
		REQUIRE_RV(nact_op_create(&x, sys, "chain", prev, NULL));
		prev = x;
	}
	REQUIRE_RV(call(c, &up, "tree", NULL, 0, 0, NULL, NULL, 0, 0, NULL));
	CHECK(mp_ok(&up.data));
	CHECK_EQ_INT(tree_truncated(&up.data), 1);
	const msgpack_object *n = tree_node(mp_get(&up.data, "roots"), 0);
	int levels = 0;
	while (n != NULL) {
		levels++;
		n = tree_node(mp_get(n, "children"), 0);
	}
	CHECK_EQ_INT(levels, 12);
	msgpack_unpacked_destroy(&up);
	nact_op_cancel(sys, a, NACT_CANCEL_MANUAL, NULL);

	/* Node cap: 1000 operations at most, oldest first. */
	for (int i = 0; i < 1100; i++) {
		nact_opid x;
		REQUIRE_RV(nact_op_create(&x, sys, "many", NACT_OPID_NONE, NULL));
	}
	REQUIRE_RV(call(c, &up, "tree", NULL, 0, 0, NULL, NULL, 0, 0, NULL));
	CHECK(mp_ok(&up.data));
	CHECK_EQ_INT(tree_truncated(&up.data), 1);
	roots = mp_get(&up.data, "roots");
	CHECK_EQ_INT(tree_len(roots), 1000);
	CHECK_EQ_U64(mp_u(mp_get(tree_node(roots, 0), "id")), d.v);
	msgpack_unpacked_destroy(&up);

	nng_close(c);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

/* The "tree" example in docs/registry-protocol.md, byte for byte. */
static const char doc_tree_rep[] =
    "86a17601a26f6bc3a5726f6f74739184a2696401a46e616d65a66261636b7570"
    "a6737461747573a772756e6e696e67a86368696c6472656e9184a2696402a46e"
    "616d65a5696e646578a6737461747573a770656e64696e67a86368696c647265"
    "6e90a97472756e6361746564c2ab73757065727669736f727390b57375706572"
    "7669736f72735f7472756e6361746564c2";

static void test_doc_tree_example(void)
{
	nact_system *sys;
	nng_socket c;
	char url[256], got[2048];
	nact_opid a, b;
	msgpack_unpacked up;
	nng_msg *raw = NULL;
	/* {"v":1,"verb":"tree"} */
	static const unsigned char req[] = {0x82, 0xa1, 0x76, 0x01, 0xa4, 0x76, 0x65, 0x72, 0x62,
	    0xa4, 0x74, 0x72, 0x65, 0x65};
	rundir_fresh(tmpdir, "srv");
	REQUIRE((sys = open_sys()) != NULL);
	REQUIRE_RV(nact_op_create(&a, sys, "backup", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_create(&b, sys, "index", a, NULL));
	REQUIRE_RV(nact_registry_serve(sys, "doctree", url, sizeof(url)));
	REQUIRE_RV(client(&c, url));
	REQUIRE_RV(roundtrip(c, req, sizeof(req), &up, &raw));
	CHECK(mp_ok(&up.data));
	msgpack_unpacked_destroy(&up);
	hex(got, sizeof(got), nng_msg_body(raw), nng_msg_len(raw));
	if (strcmp(got, doc_tree_rep) != 0)
		fprintf(stderr, "tree reply bytes: %s\n", got);
	CHECK_STR(got, doc_tree_rep);
	nng_msg_free(raw);
	nng_close(c);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

/* The status stream: NODE.pub.ipc (0600) publishes every status change,
 * in order; unserve removes it; a stale one is replaced. */
static void test_pub(void)
{
	nact_system *sys;
	nng_socket sub;
	char url[256], puburl[300], path[100];
	struct stat st;
	nact_opid a;
	msgpack_unpacked up;
	static const char *want[] = {"pending", "running", "cancelled"};
	rundir_fresh(tmpdir, "srv");
	REQUIRE((sys = open_sys()) != NULL);
	CHECK_ERR(nact_registry_serve(sys, "x.pub", NULL, 0), NACT_EINVAL);
	/* a stale status socket (a crashed node left it) is replaced */
	snprintf(path, sizeof(path), "%s/nactor", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/nactor/pub.pub.ipc", tmpdir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	REQUIRE_RV(nact_registry_serve(sys, "pub", url, sizeof(url)));
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	snprintf(puburl, sizeof(puburl), "ipc://%s", path);
	REQUIRE_RV(nng_sub0_open(&sub));
	REQUIRE_RV(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0));
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, (nng_duration)nt_slow(5000));
	REQUIRE_RV(nng_dial(sub, puburl, NULL, 0));
	usleep(100000); /* the node's side of the pipe */
	REQUIRE_RV(nact_op_create(&a, sys, "job", NACT_OPID_NONE, NULL));
	REQUIRE_RV(nact_op_start(sys, a));
	REQUIRE_RV(nact_op_cancel(sys, a, NACT_CANCEL_MANUAL, "stop"));
	for (int i = 0; i < 3; i++) {
		nng_msg *m;
		size_t off = 0;
		REQUIRE_RV(nng_recvmsg(sub, &m, 0));
		msgpack_unpacked_init(&up);
		REQUIRE(msgpack_unpack_next(&up, nng_msg_body(m), nng_msg_len(m), &off) ==
		    MSGPACK_UNPACK_SUCCESS);
		CHECK_EQ_U64(off, nng_msg_len(m));
		CHECK_EQ_U64(mp_u(mp_get(&up.data, "v")), 1);
		CHECK(mp_is(mp_get(&up.data, "event"), "op"));
		const msgpack_object *op = mp_get(&up.data, "op");
		CHECK_EQ_U64(mp_u(mp_get(op, "id")), a.v);
		CHECK(mp_is(mp_get(op, "status"), want[i]));
		if (i == 2) {
			CHECK(mp_is(mp_get(op, "reason"), "manual"));
			CHECK(mp_is(mp_get(op, "message"), "stop"));
		}
		msgpack_unpacked_destroy(&up);
		nng_msg_free(m);
	}
	nng_socket c;
	REQUIRE_RV(client(&c, url));
	REQUIRE_RV(call(c, &up, "stats", NULL, 0, 0, NULL, NULL, 0, 0, NULL));
	CHECK_EQ_U64(mp_u(mp_get(&up.data, "pub_dropped")), 0);
	msgpack_unpacked_destroy(&up);
	nng_close(c);
	nact_registry_unserve(sys);
	CHECK(stat(path, &st) != 0 && errno == ENOENT);
	/* nothing is published (nor crashes) once unserved */
	REQUIRE_RV(nact_op_create(&a, sys, "later", NACT_OPID_NONE, NULL));
	nng_close(sub);
	nact_system_close(sys, 5000);
	rundir_cleanup(tmpdir);
}

NT_MAIN(NT_CASE(test_verbs), NT_CASE(test_doc_example), NT_CASE(test_bad_requests),
    NT_CASE(test_files), NT_CASE(test_peer_uid), NT_CASE(test_tree), NT_CASE(test_doc_tree_example),
    NT_CASE(test_pub))
