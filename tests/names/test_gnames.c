/*
 * tests/names/test_gnames.c — behaviours by name, remote spawn and
 * cluster-wide names: this process is one node, children (namesutil.h)
 * are the others.
 */
#include "testutil.h"

#include <nactor/registry.h>
#include <nactor/supervisor.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "namesutil.h"
#include "rawpeer.h"

static nact_system *open_sys(void)
{
	nact_system *sys = NULL;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	if (nact_system_open(&sys, &cfg) != 0)
		return NULL;
	return sys;
}

/* msgpack bytes of one string */
static size_t mp_str(uint8_t *buf, const char *s)
{
	size_t n = strlen(s);
	buf[0] = (uint8_t)(0xa0 | n); /* fixstr, n < 32 */
	memcpy(buf + 1, s, n);
	return n + 1;
}

/* Call echo actor `a` with string s; CHECK the answer is want. */
static void call_echo(nact_system *sys, nact_aid a, const char *s, const char *want)
{
	nact_msg *q, *r = NULL;
	REQUIRE_RV(nact_msg_alloc(&q, sys, 9));
	nact_pack pk;
	nact_pack_init(&pk, q);
	nact_pack_str(&pk, s);
	int rv = nact_call(sys, a, q, (int)nt_slow(5000), &r);
	CHECK_RV(rv);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(q);
		return;
	}
	nact_reader rd;
	const char *t = "";
	size_t tl = 0;
	CHECK_RV(nact_reader_init(&rd, r, NULL));
	CHECK_RV(nact_read_str(&rd, &t, &tl));
	CHECK(tl == strlen(want) && memcmp(t, want, tl) == 0);
	nact_reader_fini(&rd);
	nact_msg_free(r);
}

/* ---- a spawn request from inside an actor ---- */

struct req_env {
	uint16_t node;
	_Atomic int done; /* 0 waiting, 1 answered */
	int rv;
	nact_aid aid;
	char err[128];
};

static void req_cb(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct req_env *e = arg;
	(void)ctx;
	e->rv = err != 0 ? err : nact_node_spawn_result(reply, &e->aid, e->err, sizeof(e->err));
	atomic_store(&e->done, 1);
}

static int requester(nact_ctx *ctx, nact_msg *m)
{
	struct req_env *e = nact_state(ctx);
	uint8_t args[32];
	size_t al = mp_str(args, "act");
	const char *bname = nact_msg_type(m) == 1 ? "echo" : "missing";
	int rv =
	    nact_node_spawn_request(ctx, e->node, bname, args, al, (int)nt_slow(5000), req_cb, e);
	if (rv != 0) {
		e->rv = rv;
		atomic_store(&e->done, 1);
	}
	return 0;
}

/* Spawn via an actor's request; returns the result, fills e. */
static int spawn_from_actor(nact_system *sys, struct req_env *e, uint16_t node, uint32_t type)
{
	memset(e, 0, sizeof(*e));
	e->node = node;
	nact_aid ra;
	int rv = nact_spawn(&ra, sys, requester, e, NULL, NULL);
	if (rv != 0)
		return rv;
	nact_msg *m;
	if ((rv = nact_msg_alloc(&m, sys, type)) != 0)
		return rv;
	if ((rv = nact_send(sys, ra, m)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	if (!NT_WAIT(atomic_load(&e->done), nt_slow(NT_LONG_MS)))
		rv = NACT_ETIMEDOUT;
	else
		rv = e->rv;
	nact_stop(sys, ra);
	return rv;
}

/* Bad argument blobs, each refused by echo's init with NACT_EBADMSG. */
static const struct {
	const char *what;
	const uint8_t *b;
	size_t n;
} bad_args[] = {
    {"empty", (const uint8_t *)"", 0},
    {"an int", (const uint8_t *)"\x05", 1},
    {"two strings", (const uint8_t *)"\xa1x\xa1y", 4},
    {"truncated string", (const uint8_t *)"\xa5xy", 3},
    {"never-used byte 0xc1", (const uint8_t *)"\xc1", 1},
    {"an array", (const uint8_t *)"\x91\xa1x", 3},
};

/* ---- local: registry of behaviours, spawn on node 0, names without a node ---- */

static int quitter(nact_ctx *ctx, nact_msg *m)
{
	if (nact_msg_type(m) == 66)
		nact_exit(ctx, 0);
	return 0;
}

static void test_local(void)
{
	nact_system *sys = open_sys();
	REQUIRE(sys != NULL);
	nact_behaviour_def d = {0};
	CHECK_ERR(nact_behaviour_register(sys, "x", &d), NACT_EINVAL); /* no fn */
	d.fn = echo_fn;
	CHECK_ERR(nact_behaviour_register(sys, "", &d), NACT_EINVAL);
	CHECK_ERR(nact_behaviour_register(sys, NULL, &d), NACT_EINVAL);
	char longn[80];
	memset(longn, 'n', sizeof(longn) - 1);
	longn[79] = '\0';
	CHECK_ERR(nact_behaviour_register(sys, longn, &d), NACT_EINVAL);
	CHECK_RV(nm_register_echo(sys));
	CHECK_ERR(nm_register_echo(sys), NACT_EEXIST);
	d.init = NULL;
	CHECK_RV(nact_behaviour_register(sys, "noargs", &d));

	/* spawn here (node 0) */
	uint8_t args[32];
	size_t al = mp_str(args, "loc");
	nact_aid a = {0};
	char err[128];
	CHECK_RV(
	    nact_node_spawn(sys, 0, "echo", args, al, &a, (int)nt_slow(5000), err, sizeof(err)));
	CHECK_EQ_INT(nact_aid_node(a), 0);
	call_echo(sys, a, "x", "loc:x");
	CHECK_ERR(nact_node_spawn(sys, 0, "nope", NULL, 0, &a, (int)nt_slow(5000), err,
	              sizeof(err)),
	    NACT_ENOENT);
	CHECK(strstr(err, "nope") != NULL);
	CHECK_ERR(nact_node_spawn(sys, 0, "noargs", args, al, &a, (int)nt_slow(5000), err,
	              sizeof(err)),
	    NACT_EBADMSG);
	CHECK_RV(nact_node_spawn(sys, 0, "noargs", NULL, 0, &a, (int)nt_slow(5000), NULL, 0));
	for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
		err[0] = '\0';
		int rv = nact_node_spawn(sys, 0, "echo", bad_args[i].b, bad_args[i].n, &a,
		    (int)nt_slow(5000), err, sizeof(err));
		if (rv != NACT_EBADMSG)
			printf("bad args \"%s\": %s\n", bad_args[i].what, nact_strerror(rv));
		CHECK_EQ_INT(rv, NACT_EBADMSG);
		CHECK(strstr(err, "msgpack string") != NULL);
	}
	CHECK_ERR(nact_node_spawn(sys, 0, "echo", NULL, 5, &a, 100, NULL, 0), NACT_EINVAL);
	CHECK_ERR(nact_node_spawn(sys, 7, "echo", args, al, &a, (int)nt_slow(5000), NULL, 0),
	    NACT_ENODEDOWN); /* not a node */
	CHECK_RV(nact_behaviour_unregister(sys, "noargs"));
	CHECK_ERR(nact_behaviour_unregister(sys, "noargs"), NACT_ENOENT);

	/* from an actor */
	struct req_env e;
	CHECK_RV(spawn_from_actor(sys, &e, 0, 1));
	call_echo(sys, e.aid, "y", "act:y");
	CHECK_ERR(spawn_from_actor(sys, &e, 0, 2), NACT_ENOENT);

	/* a wrong message to the service */
	nact_aid svc = nact_whereis(sys, "nact.names");
	CHECK(svc.v != 0);
	nact_msg *q, *r = NULL;
	REQUIRE_RV(nact_msg_alloc(&q, sys, 12345));
	CHECK_RV(nact_call(sys, svc, q, (int)nt_slow(5000), &r));
	int code = 0;
	CHECK(r != NULL && nact_error_read(r, &code, NULL, 0) == 0 && code == NACT_EBADMSG);
	nact_msg_free(r);
	REQUIRE_RV(nact_msg_alloc(&q, sys, NACT_T_SPAWN_REQ));
	nact_pack pk;
	nact_pack_init(&pk, q);
	nact_pack_str(&pk, "not an array");
	r = NULL;
	CHECK_RV(nact_call(sys, svc, q, (int)nt_slow(5000), &r));
	CHECK(r != NULL && nact_error_read(r, &code, NULL, 0) == 0 && code == NACT_EBADMSG);
	nact_msg_free(r);

	/* names without a node */
	nact_aid h, w;
	REQUIRE_RV(nact_spawn(&h, sys, quitter, NULL, NULL, NULL));
	CHECK_ERR(nact_global_whereis(sys, "g1", &w, 0), NACT_ENOENT);
	CHECK_ERR(nact_global_whereis(sys, "g1", &w, 20), NACT_ETIMEDOUT);
	CHECK_RV(nact_global_register(sys, "g1", h));
	CHECK_ERR(nact_global_register(sys, "g1", h), NACT_EEXIST);
	CHECK_ERR(nact_global_register(sys, "", h), NACT_EINVAL);
	CHECK_ERR(nact_global_register(sys, "g2", nact_aid_on(3, h)), NACT_EINVAL);
	CHECK_RV(nact_global_whereis(sys, "g1", &w, 0));
	CHECK_EQ_U64(w.v, h.v);
	CHECK_RV(nact_global_register(sys, "g2", h));
	CHECK_EQ_INT(nact_global_count(sys), 2);
	CHECK_RV(nact_global_unregister(sys, "g2"));
	CHECK_ERR(nact_global_unregister(sys, "g2"), NACT_ENOENT);
	nact_msg *qm;
	REQUIRE_RV(nact_msg_alloc(&qm, sys, 66));
	CHECK_RV(nact_send(sys, h, qm));
	CHECK(NT_WAIT(nact_global_whereis(sys, "g1", &w, 0) == NACT_ENOENT, nt_slow(NT_LONG_MS)));
	CHECK_ERR(nact_global_register(sys, "g3", h), NACT_EDEAD);
	CHECK_EQ_INT(nact_global_count(sys), 0);
	nact_system_close(sys, 2000);
}

/* ---- remote spawn on a child node ---- */

static void test_remote_spawn(void)
{
	nm_child b;
	nact_system *sys = NULL;
	uint16_t bn = 0;
	REQUIRE(nm_child_start(&b, "b", NULL, NULL) == 0);
	sys = open_sys();
	if (sys == NULL)
		goto out;
	CHECK_RV(nm_node_start(sys, "a", b.url, NULL));
	CHECK_RV(nact_node_peer(sys, "b", &bn, (int)nt_slow(NT_LONG_MS)));
	if (bn == 0)
		goto out;
	uint8_t args[32];
	size_t al = mp_str(args, "rem");
	char err[160];
	nact_aid a = {0};
	CHECK_ERR(nact_node_spawn(sys, bn, "nope", args, al, &a, (int)nt_slow(5000), err,
	              sizeof(err)),
	    NACT_ENOENT);
	CHECK(strstr(err, "nope") != NULL);
	for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
		err[0] = '\0';
		int rv = nact_node_spawn(sys, bn, "echo", bad_args[i].b, bad_args[i].n, &a,
		    (int)nt_slow(5000), err, sizeof(err));
		if (rv != NACT_EBADMSG)
			printf("remote bad args \"%s\": %s\n", bad_args[i].what, nact_strerror(rv));
		CHECK_EQ_INT(rv, NACT_EBADMSG);
		CHECK(strstr(err, "msgpack string") != NULL);
	}
	CHECK_RV(
	    nact_node_spawn(sys, bn, "echo", args, al, &a, (int)nt_slow(5000), err, sizeof(err)));
	CHECK_EQ_INT(nact_aid_node(a), bn);
	for (int i = 0; i < 5; i++) {
		char s[16], want[32];
		snprintf(s, sizeof(s), "m%d", i);
		snprintf(want, sizeof(want), "rem:%s", s);
		call_echo(sys, a, s, want);
	}
	/* from an actor */
	struct req_env e;
	CHECK_RV(spawn_from_actor(sys, &e, bn, 1));
	CHECK_EQ_INT(nact_aid_node(e.aid), bn);
	call_echo(sys, e.aid, "z", "act:z");
	CHECK_ERR(spawn_from_actor(sys, &e, bn, 2), NACT_ENOENT);
	/* the node goes away */
	nm_child_kill9(&b);
	CHECK(NT_WAIT(!nact_node_up(sys, bn), nt_slow(NT_LONG_MS)));
	CHECK_ERR(nact_node_spawn(sys, bn, "echo", args, al, &a, (int)nt_slow(5000), err,
	              sizeof(err)),
	    NACT_ENODEDOWN);
	CHECK_ERR(spawn_from_actor(sys, &e, bn, 1), NACT_ENODEDOWN);
out:
	if (sys != NULL) {
		nact_node_stop(sys);
		nact_system_close(sys, 2000);
	}
	nm_child_stop(&b);
}

/* ---- global names across 3 processes ---- */

static uint16_t where_node(nact_system *sys, const char *name)
{
	nact_aid w;
	if (nact_global_whereis(sys, name, &w, 0) != 0)
		return 0xFFFF;
	return nact_aid_node(w);
}

static void test_global(void)
{
	nm_child na, nb;
	nact_system *sys = NULL;
	int x = -1, y = -1;
	memset(&nb, 0, sizeof(nb));
	nb.pid = -1;
	REQUIRE(nm_child_start(&na, "na", NULL, NULL) == 0);
	if (nm_child_start(&nb, "nb", na.url, NULL) != 0) {
		CHECK(!"child nb");
		goto out;
	}
	sys = open_sys();
	if (sys == NULL)
		goto out;
	CHECK_RV(nm_node_start(sys, "nc", na.url, nb.url));
	uint16_t an = 0, bn = 0;
	CHECK_RV(nact_node_peer(sys, "na", &an, (int)nt_slow(NT_LONG_MS)));
	CHECK_RV(nact_node_peer(sys, "nb", &bn, (int)nt_slow(NT_LONG_MS)));
	CHECK(nm_cmd(&na, "peer nb", &x, NULL) >= 1 && x == 0);
	CHECK(nm_cmd(&nb, "peer nc", &x, NULL) >= 1 && x == 0);

	/* register on na, whereis from nc (here) and nb */
	CHECK(nm_cmd(&na, "reg svc1", &x, NULL) == 1 && x == 0);
	nact_aid w = {0};
	CHECK_RV(nact_global_whereis(sys, "svc1", &w, (int)nt_slow(NT_LONG_MS)));
	CHECK_EQ_INT(nact_aid_node(w), an);
	{
		nact_msg *q, *r = NULL;
		REQUIRE_RV(nact_msg_alloc(&q, sys, 1));
		CHECK_RV(nact_call(sys, w, q, (int)nt_slow(5000), &r));
		nact_reader rd;
		const char *t = "";
		size_t tl = 0;
		if (r != NULL && nact_reader_init(&rd, r, NULL) == 0) {
			CHECK_RV(nact_read_str(&rd, &t, &tl));
			CHECK(tl == 2 && memcmp(t, "na", 2) == 0);
			nact_reader_fini(&rd);
		}
		nact_msg_free(r);
	}
	CHECK(nm_cmd(&nb, "where svc1 10000", &x, &y) == 2 && x == 0 && y != 0);
	/* taken everywhere */
	CHECK(nm_cmd(&nb, "reg svc1", &x, NULL) == 1 && x == NACT_EEXIST);
	{
		nact_aid h;
		REQUIRE_RV(nact_spawn(&h, sys, quitter, NULL, NULL, NULL));
		CHECK_ERR(nact_global_register(sys, "svc1", h), NACT_EEXIST);
		CHECK_ERR(nact_global_unregister(sys, "svc1"), NACT_ESTATE);
		/* a name registered here reaches both */
		CHECK_RV(nact_global_register(sys, "here", h));
		CHECK(nm_cmd(&na, "where here 10000", &x, &y) == 2 && x == 0 && y != 0);
		CHECK(nm_cmd(&nb, "where here 10000", &x, &y) == 2 && x == 0 && y != 0);
		CHECK_RV(nact_global_unregister(sys, "here"));
		int gone = 0;
		for (int i = 0; i < 200 && !gone; i++) {
			gone = nm_cmd(&na, "where here 0", &x, NULL) >= 1 && x == NACT_ENOENT &&
			    nm_cmd(&nb, "where here 0", &x, NULL) >= 1 && x == NACT_ENOENT;
			if (!gone)
				nng_msleep(20);
		}
		CHECK(gone);
		nact_stop(sys, h);
	}

	/* the actor ends: the name goes everywhere */
	CHECK(nm_cmd(&na, "kill svc1", &x, NULL) == 1 && x == 0);
	CHECK(NT_WAIT(where_node(sys, "svc1") == 0xFFFF, nt_slow(NT_LONG_MS)));
	{
		int gone = 0;
		for (int i = 0; i < 200 && !gone; i++) {
			gone = nm_cmd(&nb, "where svc1 0", &x, NULL) >= 1 && x == NACT_ENOENT;
			if (!gone)
				nng_msleep(20);
		}
		CHECK(gone);
	}

	/* the node goes down: its names go */
	CHECK(nm_cmd(&na, "reg svc2", &x, NULL) == 1 && x == 0);
	CHECK(NT_WAIT(where_node(sys, "svc2") == an, nt_slow(NT_LONG_MS)));
	CHECK(nm_cmd(&nb, "where svc2 10000", &x, NULL) >= 1 && x == 0);
	nm_child_kill9(&na);
	CHECK(NT_WAIT(where_node(sys, "svc2") == 0xFFFF, nt_slow(NT_LONG_MS)));
	{
		int gone = 0;
		for (int i = 0; i < 300 && !gone; i++) {
			gone = nm_cmd(&nb, "where svc2 0", &x, NULL) >= 1 && x == NACT_ENOENT;
			if (!gone)
				nng_msleep(20);
		}
		CHECK(gone);
	}
	/* and can be taken again */
	CHECK(nm_cmd(&nb, "reg svc2", &x, NULL) == 1 && x == 0);
	CHECK(NT_WAIT(where_node(sys, "svc2") == bn, nt_slow(NT_LONG_MS)));
out:
	if (sys != NULL) {
		nact_node_stop(sys);
		nact_system_close(sys, 2000);
	}
	CHECK_EQ_INT(nm_child_stop(&nb), 0);
	nm_child_stop(&na); /* killed above */
}

/* ---- a conflict: "dup" registered on nd, then on ne before they meet ---- */

static void test_conflict(void)
{
	nm_child nd, ne;
	nact_system *sys = NULL;
	int x = -1, y = -1;
	memset(&ne, 0, sizeof(ne));
	ne.pid = -1;
	REQUIRE(nm_child_start(&nd, "nd", NULL, NULL) == 0);
	CHECK(nm_cmd(&nd, "reg dup", &x, NULL) == 1 && x == 0);
	nng_msleep(20); /* ne's registration time is later: nd must win */
	/* ne registers "dup" before its node starts, then joins nd */
	if (nm_child_start(&ne, "ne", nd.url, "dup") != 0) {
		CHECK(!"child ne");
		goto out;
	}
	CHECK(nm_cmd(&ne, "peer nd", &x, NULL) >= 1 && x == 0);
	/* the loser is told, and follows the winner */
	int lost = 0;
	for (int i = 0; i < 300 && lost != 1; i++) {
		if (nm_cmd(&ne, "lost", &lost, NULL) != 1)
			break;
		if (lost != 1)
			nng_msleep(20);
	}
	CHECK_EQ_INT(lost, 1);
	CHECK(nm_cmd(&ne, "where dup 0", &x, &y) == 2 && x == 0 && y != 0);
	CHECK(nm_cmd(&nd, "where dup 0", &x, &y) == 2 && x == 0 && y == 0);
	CHECK(nm_cmd(&nd, "lost", &x, NULL) == 1 && x == 0);
	CHECK(nm_cmd(&ne, "unreg dup", &x, NULL) == 1 && x == NACT_ESTATE);
	/* a third node sees the same winner, whichever registration it hears first */
	sys = open_sys();
	if (sys == NULL)
		goto out;
	CHECK_RV(nm_node_start(sys, "nf", ne.url, nd.url));
	uint16_t dn = 0;
	CHECK_RV(nact_node_peer(sys, "nd", &dn, (int)nt_slow(NT_LONG_MS)));
	nact_aid w;
	CHECK_RV(nact_global_whereis(sys, "dup", &w, (int)nt_slow(NT_LONG_MS)));
	CHECK(NT_WAIT(where_node(sys, "dup") == dn, nt_slow(NT_LONG_MS)));
	CHECK_EQ_INT(nact_global_count(sys), 1);
	/* let both connections to nf settle before it stops (a stop in the
	 * middle of a peer's connect-back handshake can hang in nng_close:
	 * see the report) */
	CHECK(nm_cmd(&nd, "peer nf", &x, NULL) >= 1 && x == 0);
	CHECK(nm_cmd(&ne, "peer nf", &x, NULL) >= 1 && x == 0);
out:
	if (sys != NULL) {
		nact_node_stop(sys);
		nact_system_close(sys, 2000);
	}
	CHECK_EQ_INT(nm_child_stop(&ne), 0);
	CHECK_EQ_INT(nm_child_stop(&nd), 0);
}

/* ---- malformed NAMES frames from a raw peer ---- */

static void test_bad_names_frames(void)
{
	static uint8_t longname[400], deep[64], f[1024];
	/* [3, <300-byte name>, "raw", 1, 1] */
	size_t ln = 0;
	longname[ln++] = 0x95;
	longname[ln++] = 3;
	longname[ln++] = 0xd9;
	longname[ln++] = 44; /* str8 of 44 bytes, cut short when sent */
	memset(longname + ln, 'n', 44);
	ln += 44;
	(void)ln;
	size_t dn = 0;
	for (int i = 0; i < 40; i++)
		deep[dn++] = 0x91;
	deep[dn++] = 0x01;
	static const struct {
		const char *what;
		const char *b;
		size_t n;
	} rows[] = {
	    {"empty", "", 0},
	    {"never-used byte", "\xc1", 1},
	    {"not an array",
	        "\xa3"
	        "abc",
	        4},
	    {"op not a number", "\x91\xa1x", 3},
	    {"unknown op", "\x91\x63", 2},
	    {"spawn: wrong arity", "\x92\x01\x05", 3},
	    {"spawn: name not a string", "\x94\x01\x05\x07\xc4\x00", 6},
	    {"spawn: args not bin", "\x94\x01\x05\xa1x\x07", 6},
	    {"reg: empty name", "\x95\x03\xa0\xa3raw\x01\x01", 9},
	    {"reg: owner not a string", "\x95\x03\xa1x\x07\x01\x01", 7},
	    {"reg: id not a number", "\x95\x03\xa1x\xa3raw\xa1y\x01", 11},
	    {"reg: NUL in name", "\x95\x03\xa2x\x00\xa3raw\x01\x01", 11},
	    {"unreg: wrong arity", "\x92\x04\xa1x", 4},
	    {"truncated array", "\x95\x03", 2},
	    {"spawn answer nobody asked for", "\x95\x02\xcd\x03\xe7\x00\x05\xa0", 8},
	};
	nm_child b;
	nact_system *sys = NULL;
	int x = -1, y = -1;
	REQUIRE(nm_child_start(&b, "b", NULL, NULL) == 0);
	struct raw r;
	if (raw_open(&r, b.url, 1) != 0) {
		CHECK(!"raw handshake");
		nng_close(r.s);
		goto out;
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		f[0] = 0xA8, f[1] = 1, f[2] = 48, f[3] = 0;
		memcpy(f + 4, rows[i].b, rows[i].n);
		CHECK(raw_send(&r, f, 4 + rows[i].n) == 0);
	}
	f[0] = 0xA8, f[1] = 1, f[2] = 48, f[3] = 0;
	memcpy(f + 4, deep, dn);
	CHECK(raw_send(&r, f, 4 + dn) == 0);
	memcpy(f + 4, longname, 4 + 44);
	CHECK(raw_send(&r, f, 4 + 4 + 44) == 0); /* truncated str8 */
	/* then a good registration from "raw": it arrives after all of the
	 * above (one connection, FIFO), so they have been decoded and dropped */
	static const char good[] = "\x95\x03\xa7rawname\xa3raw\x05\x01";
	memcpy(f + 4, good, sizeof(good) - 1);
	CHECK(raw_send(&r, f, 4 + sizeof(good) - 1) == 0);
	int seen = 0;
	for (int i = 0; i < 300 && !seen; i++) {
		seen = nm_cmd(&b, "where rawname 0", &x, &y) == 2 && x == 0 && y != 0;
		if (!seen)
			nng_msleep(10);
	}
	CHECK(seen);
	CHECK(nm_cmd(&b, "where x 0", &x, NULL) >= 1 && x == NACT_ENOENT);
	CHECK_EQ_INT(atomic_load(&r.closed), 0); /* bad payloads are dropped, not fatal */
	nng_close(r.s);
	/* "raw" never came up (b cannot connect back): its name is dropped
	 * after UNSEEN_MS (5 s, names.c); b still serves and a remote spawn
	 * works */
	seen = 0;
	uint64_t dl = nt_now_ms() + nt_slow(15000);
	while (!seen && nt_now_ms() < dl) {
		seen = nm_cmd(&b, "where rawname 0", &x, NULL) >= 1 && x == NACT_ENOENT;
		if (!seen)
			nng_msleep(50);
	}
	CHECK(seen);
	sys = open_sys();
	if (sys == NULL)
		goto out;
	CHECK_RV(nm_node_start(sys, "a", b.url, NULL));
	uint16_t bn = 0;
	CHECK_RV(nact_node_peer(sys, "b", &bn, (int)nt_slow(NT_LONG_MS)));
	uint8_t args[16];
	size_t al = mp_str(args, "ok");
	nact_aid e;
	CHECK_RV(nact_node_spawn(sys, bn, "echo", args, al, &e, (int)nt_slow(5000), NULL, 0));
	call_echo(sys, e, "1", "ok:1");
	CHECK(nm_cmd(&b, "peer a", &x, NULL) >= 1 && x == 0);
out:
	if (sys != NULL) {
		nact_node_stop(sys);
		nact_system_close(sys, 2000);
	}
	CHECK_EQ_INT(nm_child_stop(&b), 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--nchild") == 0)
		return nm_child_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	static const nt_case cases[] = {NT_CASE(test_local), NT_CASE(test_remote_spawn),
	    NT_CASE(test_global), NT_CASE(test_conflict), NT_CASE(test_bad_names_frames),
	    {NULL, NULL}};
	int rv = nt_run(argc, argv, cases);
	nng_fini(); /* nng frees closed listeners and dialers later, on its
		     * own threads: let it finish before LeakSanitizer runs */
	return rv;
}
