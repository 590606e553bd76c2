/*
 * tests/monitor/test_actors_verb.c — the registry server's "actors" verb
 * (docs/registry-protocol.md) over a real REQ socket.
 *
 * Contract checked:
 * - {"v":1,"verb":"actors","sort":"in","limit":2} answers ok with
 *   "metrics": true, "total" = live actors, at most 2 actors, sorted by
 *   "in" (descending), each with its fields; node figures are present; the
 *   workers list has one entry per worker.
 * - every sort key is accepted; "id" sorts ascending.
 * - bad requests (a table): sort not a string, unknown sort, limit 0,
 *   limit over 10000, limit not an integer: an error reply with ok false
 *   and an error text, and the server keeps answering.
 * - a node with metrics off answers ok with "metrics": false, no actors.
 */
#include <msgpack.h>
#include <nactor/monitor.h>
#include <nactor/registry.h>
#include <nng/protocol/reqrep0/req.h>
#include <unistd.h>

#include "mputil.h"
#include "testutil.h"

static char tmpdir[64];

/* One request: k/v pairs after "v" and "verb" given as (key, kind, str,
 * uint) where kind 's' packs str, 'u' packs uint, 'n' packs nil. The
 * reply unpacked into *up (caller destroys). 0 or -1. */
struct kv {
	const char *k;
	char kind;
	const char *s;
	uint64_t u;
};

static int ask(nng_socket s, const struct kv *kv, int n, msgpack_unpacked *up)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + (uint32_t)n);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_str_with_body(&pk, "verb", 4);
	msgpack_pack_str_with_body(&pk, "actors", 6);
	for (int i = 0; i < n; i++) {
		msgpack_pack_str_with_body(&pk, kv[i].k, strlen(kv[i].k));
		if (kv[i].kind == 's')
			msgpack_pack_str_with_body(&pk, kv[i].s, strlen(kv[i].s));
		else if (kv[i].kind == 'u')
			msgpack_pack_uint64(&pk, kv[i].u);
		else
			msgpack_pack_nil(&pk);
	}
	nng_msg *m;
	int rv = nng_msg_alloc(&m, 0);
	if (rv == 0 && (rv = nng_msg_append(m, sb.data, sb.size)) == 0 &&
	    (rv = nng_sendmsg(s, m, 0)) != 0)
		nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
	if (rv != 0 || (rv = nng_recvmsg(s, &m, 0)) != 0)
		return -1;
	size_t off = 0;
	msgpack_unpacked_init(up);
	/* the objects point into the buffer: keep a copy in the zone */
	size_t len = nng_msg_len(m);
	char *copy = malloc(len ? len : 1);
	if (copy == NULL) {
		nng_msg_free(m);
		return -1;
	}
	memcpy(copy, nng_msg_body(m), len);
	nng_msg_free(m);
	rv = msgpack_unpack_next(up, copy, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	        up->data.type == MSGPACK_OBJECT_MAP ?
	    0 :
	    -1;
	if (up->zone == NULL || !msgpack_zone_push_finalizer(up->zone, free, copy))
		free(copy);
	if (rv != 0)
		msgpack_unpacked_destroy(up);
	return rv;
}

static uint64_t uget(const msgpack_object *map, const char *key)
{
	return mp_u(mp_get(map, key));
}

static int bget(const msgpack_object *map, const char *key)
{
	const msgpack_object *o = mp_get(map, key);
	return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN ? o->via.boolean : -1;
}

static int sink_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)m;
	atomic_fetch_add((atomic_int *)nact_state(ctx), 1);
	return 0;
}

static int open_node(nact_system **sysp, int metrics, const char *node, nng_socket *s)
{
	nact_config cfg;
	char url[256];
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.metrics = metrics;
	int rv = nact_system_open(sysp, &cfg);
	if (rv == 0)
		rv = nact_registry_serve(*sysp, node, url, sizeof(url));
	if (rv != 0)
		return rv;
	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, (nng_duration)nt_slow(5000));
	nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, (nng_duration)nt_slow(5000));
	return nng_dial(*s, url, NULL, 0);
}

static void test_actors(void)
{
	nact_system *sys;
	nng_socket s;
	rundir_fresh(tmpdir, "mon");
	REQUIRE_RV(open_node(&sys, 1, "mon1", &s));
	atomic_int cnt = 0;
	nact_aid a[3];
	const char *names[3] = {"a0", "a1", "a2"};
	for (int i = 0; i < 3; i++) {
		nact_spawn_opts o = {.name = names[i]};
		REQUIRE_RV(nact_spawn(&a[i], sys, sink_fn, &cnt, NULL, &o));
		for (int k = 0; k < 10 * (i + 1); k++) /* a2 gets the most */
			nt_send_int(sys, a[i], 1, k);
	}
	CHECK(NT_WAIT(atomic_load(&cnt) == 60, NT_LONG_MS));
	nact_actor_metrics am;
	CHECK(NT_WAIT(nact_metrics_actor(sys, a[2], &am) == 0 && am.handled == 30, NT_LONG_MS));
	msgpack_unpacked up;
	struct kv q[] = {{"sort", 's', "in", 0}, {"limit", 'u', NULL, 2}};
	REQUIRE(ask(s, q, 2, &up) == 0);
	const msgpack_object *r = &up.data;
	CHECK_EQ_INT(bget(r, "ok"), 1);
	CHECK_EQ_INT(bget(r, "metrics"), 1);
	CHECK_EQ_U64(uget(r, "total"), 3);
	const msgpack_object *node = mp_get(r, "node");
	CHECK(uget(node, "rss") > 0 && uget(node, "rss") != UINT64_MAX);
	CHECK_EQ_U64(uget(node, "workers"), 2);
	CHECK_EQ_U64(uget(node, "live"), 3);
	const msgpack_object *w = mp_get(r, "workers");
	REQUIRE(w != NULL && w->type == MSGPACK_OBJECT_ARRAY);
	CHECK_EQ_U64(w->via.array.size, 2);
	const msgpack_object *arr = mp_get(r, "actors");
	REQUIRE(arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY);
	CHECK_EQ_U64(arr->via.array.size, 2);
	if (arr->via.array.size == 2) {
		CHECK_EQ_U64(uget(&arr->via.array.ptr[0], "id"), a[2].v);
		CHECK_EQ_U64(uget(&arr->via.array.ptr[0], "in"), 30);
		CHECK_EQ_U64(uget(&arr->via.array.ptr[1], "in"), 20);
		CHECK_EQ_U64(uget(&arr->via.array.ptr[0], "depth"), 0);
		CHECK_EQ_U64(uget(&arr->via.array.ptr[0], "handled"), 30);
		const msgpack_object *nm = mp_get(&arr->via.array.ptr[0], "name");
		CHECK(nm != NULL && nm->type == MSGPACK_OBJECT_STR && nm->via.str.size == 2 &&
		    memcmp(nm->via.str.ptr, "a2", 2) == 0);
	}
	msgpack_unpacked_destroy(&up);
	/* every key; id ascending */
	static const char *keys[] = {"depth", "in", "out", "restarts", "p99", "busy", "handled",
	    "id"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct kv k1[] = {{"sort", 's', keys[i], 0}};
		REQUIRE(ask(s, k1, 1, &up) == 0);
		CHECK_EQ_INT(bget(&up.data, "ok"), 1);
		arr = mp_get(&up.data, "actors");
		if (i == 7 && arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
		    arr->via.array.size == 3) {
			CHECK_EQ_U64(uget(&arr->via.array.ptr[0], "id"), a[0].v);
			CHECK_EQ_U64(uget(&arr->via.array.ptr[2], "id"), a[2].v);
		}
		msgpack_unpacked_destroy(&up);
	}
	/* bad requests */
	static const struct {
		struct kv kv;
		const char *err;
	} bad[] = {
	    {{"sort", 'u', NULL, 5}, "\"sort\" must be a string"},
	    {{"sort", 's', "bogus", 0}, "unknown \"sort\""},
	    {{"sort", 's', "", 0}, "unknown \"sort\""},
	    {{"limit", 'u', NULL, 0}, "\"limit\" must be 1..10000"},
	    {{"limit", 'u', NULL, 10001}, "\"limit\" must be 1..10000"},
	    {{"limit", 's', "ten", 0}, "\"limit\" must be an unsigned integer"},
	    {{"limit", 'n', NULL, 0}, "\"limit\" must be an unsigned integer"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		REQUIRE(ask(s, &bad[i].kv, 1, &up) == 0);
		const msgpack_object *e = mp_get(&up.data, "error");
		int match = e != NULL && e->type == MSGPACK_OBJECT_STR &&
		    e->via.str.size >= strlen(bad[i].err) &&
		    memcmp(e->via.str.ptr, bad[i].err, strlen(bad[i].err)) == 0;
		if (bget(&up.data, "ok") != 0 || !match)
			nt_fail(__FILE__, __LINE__, "bad case %zu: wrong reply", i);
		msgpack_unpacked_destroy(&up);
	}
	/* still serving */
	REQUIRE(ask(s, NULL, 0, &up) == 0);
	CHECK_EQ_INT(bget(&up.data, "ok"), 1);
	msgpack_unpacked_destroy(&up);
	nng_close(s);
	nact_system_close(sys, 2000);
	rundir_cleanup(tmpdir);
}

static void test_metrics_off(void)
{
	nact_system *sys;
	nng_socket s;
	rundir_fresh(tmpdir, "mon");
	REQUIRE_RV(open_node(&sys, 0, "mon0", &s));
	msgpack_unpacked up;
	REQUIRE(ask(s, NULL, 0, &up) == 0);
	CHECK_EQ_INT(bget(&up.data, "ok"), 1);
	CHECK_EQ_INT(bget(&up.data, "metrics"), 0);
	const msgpack_object *arr = mp_get(&up.data, "actors");
	CHECK(arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY && arr->via.array.size == 0);
	CHECK(uget(mp_get(&up.data, "node"), "threads") >= 3);
	msgpack_unpacked_destroy(&up);
	nng_close(s);
	nact_system_close(sys, 2000);
	rundir_cleanup(tmpdir);
}

NT_MAIN(NT_CASE(test_actors), NT_CASE(test_metrics_off))
