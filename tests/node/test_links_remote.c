/*
 * tests/node/test_links_remote.c — nact_link / nact_unlink between actors
 * of two nodes: two systems of this process (nodes "a" and "b", both on
 * loopback tcp), and a child process (node "c", nodeutil.h) for kill -9.
 */
#include "testutil.h"

#include <nng/protocol/pair1/pair.h>

#include <nactor/supervisor.h>

#include "nodeutil.h"

#define SECRET "correct horse battery staple"

/* linker actor: messages */
#define L_LINK 200u   /* trap if lk->trap, then link to lk->target */
#define L_UNLINK 201u /* unlink from lk->target */
#define L_DIE 202u    /* body int: exit with that reason */

struct lk {
	nact_aid target;
	int trap;
	_Atomic int linked, unlinked, rv;
	_Atomic int exits, exit_reason;
	_Atomic uint64_t exit_id;
};

static int lk_fn(nact_ctx *ctx, nact_msg *m)
{
	struct lk *l = nact_state(ctx);
	switch (nact_msg_type(m)) {
	case L_LINK:
		nact_trap_exit(ctx, l->trap);
		if (l->target.v != 0)
			atomic_store(&l->rv, nact_link(ctx, l->target));
		atomic_store(&l->linked, 1);
		break;
	case L_UNLINK:
		atomic_store(&l->rv, nact_unlink(ctx, l->target));
		atomic_store(&l->unlinked, 1);
		break;
	case L_DIE:
		nact_exit(ctx, (int)nt_body_int(m, 0));
		break;
	case NACT_T_EXIT: {
		nact_exit_info ei;
		if (nact_exit_info_read(m, &ei) == 0 && ei.id.v == 0 &&
		    ei.reason == NACT_EXIT_SHUTDOWN) {
			nact_exit(ctx, NACT_EXIT_SHUTDOWN); /* the system closes */
			break;
		}
		if (nact_exit_info_read(m, &ei) == 0) {
			atomic_store(&l->exit_reason, ei.reason);
			atomic_store(&l->exit_id, ei.id.v);
		}
		atomic_fetch_add(&l->exits, 1);
		break;
	}
	default:
		break;
	}
	return 0;
}

/* watcher actor: monitors w->target on W_GO, records the DOWN */
#define W_GO 210u

struct watch {
	nact_aid target;
	_Atomic int downs, reason;
};

static int watch_fn(nact_ctx *ctx, nact_msg *m)
{
	struct watch *w = nact_state(ctx);
	if (nact_msg_type(m) == W_GO) {
		CHECK_RV(nact_monitor(ctx, w->target, NULL));
	} else if (nact_msg_type(m) == NACT_T_DOWN) {
		nact_exit_info ei;
		if (nact_exit_info_read(m, &ei) == 0)
			atomic_store(&w->reason, ei.reason);
		atomic_fetch_add(&w->downs, 1);
	}
	return 0;
}

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

static int tell(nact_system *sys, nact_aid to, uint32_t type)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv == 0 && (rv = nact_send(sys, to, m)) != 0)
		nact_msg_free(m);
	return rv;
}

/* Two nodes of this process: a, and b seeded with a's URL. */
struct two {
	nact_system *a, *b;
	uint16_t bno; /* b as a numbers it */
	uint16_t ano; /* a as b numbers it */
};

static int two_up(struct two *t)
{
	char url[256];
	memset(t, 0, sizeof(*t));
	if ((t->a = open_sys()) == NULL || (t->b = open_sys()) == NULL)
		return -1;
	if (nt_node_start(t->a, "a", SECRET, 0, NULL) != 0 ||
	    nact_node_url(t->a, url, sizeof(url)) != 0)
		return -1;
	if (nt_node_start(t->b, "b", SECRET, 0, url) != 0)
		return -1;
	if (nact_node_peer(t->a, "b", &t->bno, (int)nt_slow(NT_LONG_MS)) != 0)
		return -1;
	return nact_node_peer(t->b, "a", &t->ano, (int)nt_slow(NT_LONG_MS));
}

static void two_down(struct two *t)
{
	if (t->b != NULL) {
		nact_node_stop(t->b);
		nact_system_close(t->b, 2000);
	}
	if (t->a != NULL) {
		nact_node_stop(t->a);
		nact_system_close(t->a, 2000);
	}
}

/* A round trip of control frames from -> its peer no: every link frame
 * from sent before it has been handled there (frames stay in order). */
static void sync_to(nact_system *from, uint16_t no)
{
	nact_aid x;
	CHECK_ERR(nact_node_whereis(from, no, "no-such-name", &x, (int)nt_slow(5000)), NACT_ENOENT);
}

/* Spawn a linker named `name` on sys; its id as `other` sees it (node
 * number `no` of sys in other) into *remote. */
static nact_aid spawn_lk(nact_system *sys, struct lk *l, const char *name, nact_system *other,
    uint16_t no, nact_aid *remote)
{
	nact_aid id = NACT_AID_NONE;
	nact_spawn_opts so = {0};
	so.name = name;
	CHECK_RV(nact_spawn(&id, sys, lk_fn, l, NULL, &so));
	if (remote != NULL)
		CHECK_RV(nact_node_whereis(other, no, name, remote, (int)nt_slow(5000)));
	return id;
}

static nact_aid spawn_watch(nact_system *sys, struct watch *w, nact_aid target)
{
	nact_aid id = NACT_AID_NONE;
	w->target = target;
	CHECK_RV(nact_spawn(&id, sys, watch_fn, w, NULL, NULL));
	CHECK_RV(tell(sys, id, W_GO));
	return id;
}

static void link_now(nact_system *sys, nact_aid id, struct lk *l)
{
	CHECK_RV(tell(sys, id, L_LINK));
	CHECK(NT_WAIT(atomic_load(&l->linked), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&l->rv), 0);
}

/* A remote actor's abnormal end kills the local linked actor with the
 * same reason; a local actor's abnormal end kills the remote one (seen
 * from a through a remote monitor). */
static void test_abnormal_both_ways(void)
{
	struct two t;
	int rv = two_up(&t);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0) {
		two_down(&t);
		return;
	}
	static struct lk la, rb, la2, rb2;
	static struct watch wla, wrb2;
	memset(&la, 0, sizeof(la));
	memset(&rb, 0, sizeof(rb));
	memset(&la2, 0, sizeof(la2));
	memset(&rb2, 0, sizeof(rb2));
	memset(&wla, 0, sizeof(wla));
	memset(&wrb2, 0, sizeof(wrb2));
	/* b's actor ends: a's ends with 42 */
	nact_aid rb_at_a, rb_id = spawn_lk(t.b, &rb, "rb", t.a, t.bno, &rb_at_a);
	la.target = rb_at_a;
	nact_aid la_id = spawn_lk(t.a, &la, "la", NULL, 0, NULL);
	spawn_watch(t.a, &wla, la_id);
	link_now(t.a, la_id, &la);
	sync_to(t.a, t.bno);
	CHECK_RV(nt_send_int(t.b, rb_id, L_DIE, 42));
	CHECK(NT_WAIT(atomic_load(&wla.downs) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&wla.reason), 42);
	CHECK_EQ_INT(atomic_load(&la.exits), 0);

	/* a's actor ends: b's ends with 43 (a watches b's through the node) */
	nact_aid rb2_at_a, rb2_id = spawn_lk(t.b, &rb2, "rb2", t.a, t.bno, &rb2_at_a);
	la2.target = rb2_at_a;
	nact_aid la2_id = spawn_lk(t.a, &la2, "la2", NULL, 0, NULL);
	spawn_watch(t.a, &wrb2, rb2_at_a);
	link_now(t.a, la2_id, &la2);
	sync_to(t.a, t.bno);
	CHECK(nact_alive(t.b, rb2_id));
	CHECK_RV(nt_send_int(t.a, la2_id, L_DIE, 43));
	CHECK(NT_WAIT(atomic_load(&wrb2.downs) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&wrb2.reason), 43);
	CHECK(!nact_alive(t.b, rb2_id));
	two_down(&t);
}

/* A trapping actor gets NACT_T_EXIT (reason, the other's id as its node
 * sees it) and lives on, on both sides. */
static void test_trap(void)
{
	struct two t;
	int rv = two_up(&t);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0) {
		two_down(&t);
		return;
	}
	static struct lk la, rb, la2, rb2;
	memset(&la, 0, sizeof(la));
	memset(&rb, 0, sizeof(rb));
	memset(&la2, 0, sizeof(la2));
	memset(&rb2, 0, sizeof(rb2));
	/* b's actor ends: a's trapping actor gets EXIT 44 */
	nact_aid rb_at_a, rb_id = spawn_lk(t.b, &rb, "rb", t.a, t.bno, &rb_at_a);
	la.target = rb_at_a;
	la.trap = 1;
	nact_aid la_id = spawn_lk(t.a, &la, "la", NULL, 0, NULL);
	link_now(t.a, la_id, &la);
	sync_to(t.a, t.bno);
	CHECK_RV(nt_send_int(t.b, rb_id, L_DIE, 44));
	CHECK(NT_WAIT(atomic_load(&la.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&la.exit_reason), 44);
	CHECK_EQ_U64(atomic_load(&la.exit_id), rb_at_a.v);
	CHECK(nact_alive(t.a, la_id));

	/* a's actor ends: b's trapping actor (which linked itself, from b)
	 * gets EXIT 45 naming a's actor as b sees it */
	nact_aid la2_at_b, la2_id = spawn_lk(t.a, &la2, "la2", t.b, t.ano, &la2_at_b);
	rb2.target = la2_at_b;
	rb2.trap = 1;
	nact_aid rb2_id = spawn_lk(t.b, &rb2, "rb2", NULL, 0, NULL);
	link_now(t.b, rb2_id, &rb2);
	sync_to(t.b, t.ano);
	CHECK_RV(nt_send_int(t.a, la2_id, L_DIE, 45));
	CHECK(NT_WAIT(atomic_load(&rb2.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&rb2.exit_reason), 45);
	CHECK_EQ_U64(atomic_load(&rb2.exit_id), la2_at_b.v);
	CHECK(nact_alive(t.b, rb2_id));
	two_down(&t);
}

/* A normal end reaches only trapping actors; after nact_unlink nothing
 * reaches the former partner, whichever side ends. */
static void test_normal_and_unlink(void)
{
	struct two t;
	int rv = two_up(&t);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0) {
		two_down(&t);
		return;
	}
	static struct lk la, lt, rb, lu, ru, lu2, ru2, rt2;
	memset(&la, 0, sizeof(la));
	memset(&lt, 0, sizeof(lt));
	memset(&rb, 0, sizeof(rb));
	memset(&lu, 0, sizeof(lu));
	memset(&ru, 0, sizeof(ru));
	memset(&lu2, 0, sizeof(lu2));
	memset(&ru2, 0, sizeof(ru2));
	memset(&rt2, 0, sizeof(rt2));
	/* rb ends normally: la (not trapping) lives, lt (trapping) is told */
	nact_aid rb_at_a, rb_id = spawn_lk(t.b, &rb, "rb", t.a, t.bno, &rb_at_a);
	la.target = lt.target = rb_at_a;
	lt.trap = 1;
	nact_aid la_id = spawn_lk(t.a, &la, "la", NULL, 0, NULL);
	nact_aid lt_id = spawn_lk(t.a, &lt, "lt", NULL, 0, NULL);
	link_now(t.a, la_id, &la);
	link_now(t.a, lt_id, &lt);
	sync_to(t.a, t.bno);
	CHECK_RV(nt_send_int(t.b, rb_id, L_DIE, NACT_EXIT_NORMAL));
	CHECK(NT_WAIT(atomic_load(&lt.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&lt.exit_reason), NACT_EXIT_NORMAL);
	sync_to(t.b, t.ano); /* la's signal, if any, would be here now */
	CHECK(nact_alive(t.a, la_id));
	CHECK_EQ_INT(atomic_load(&la.exits), 0);

	/* lu links ru, unlinks; ru ends abnormally: lu lives (rt2, trapping,
	 * still linked to ru, shows the signals went out) */
	nact_aid ru_at_a, ru_id = spawn_lk(t.b, &ru, "ru", t.a, t.bno, &ru_at_a);
	lu.target = rt2.target = ru_at_a;
	rt2.trap = 1;
	nact_aid lu_id = spawn_lk(t.a, &lu, "lu", NULL, 0, NULL);
	nact_aid rt2_id = spawn_lk(t.a, &rt2, "rt2", NULL, 0, NULL);
	link_now(t.a, lu_id, &lu);
	link_now(t.a, rt2_id, &rt2);
	CHECK_RV(tell(t.a, lu_id, L_UNLINK));
	CHECK(NT_WAIT(atomic_load(&lu.unlinked), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&lu.rv), 0);
	sync_to(t.a, t.bno);
	CHECK_RV(nt_send_int(t.b, ru_id, L_DIE, 46));
	CHECK(NT_WAIT(atomic_load(&rt2.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&rt2.exit_reason), 46);
	sync_to(t.b, t.ano);
	CHECK(nact_alive(t.a, lu_id));
	CHECK_EQ_INT(atomic_load(&lu.exits), 0);

	/* lu2 links ru2, unlinks, then ends abnormally: ru2 lives */
	nact_aid ru2_at_a, ru2_id = spawn_lk(t.b, &ru2, "ru2", t.a, t.bno, &ru2_at_a);
	lu2.target = ru2_at_a;
	nact_aid lu2_id = spawn_lk(t.a, &lu2, "lu2", NULL, 0, NULL);
	link_now(t.a, lu2_id, &lu2);
	CHECK_RV(tell(t.a, lu2_id, L_UNLINK));
	CHECK(NT_WAIT(atomic_load(&lu2.unlinked), NT_LONG_MS));
	CHECK_RV(nt_send_int(t.a, lu2_id, L_DIE, 47));
	CHECK(NT_WAIT(!nact_alive(t.a, lu2_id), NT_LONG_MS));
	sync_to(t.a, t.bno);
	CHECK(nact_alive(t.b, ru2_id));
	two_down(&t);
}

/* Linking to a remote actor that already ended: the exit signal noproc
 * (a trapping actor gets EXIT noproc; one that does not trap ends). */
static void test_link_gone(void)
{
	struct two t;
	int rv = two_up(&t);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0) {
		two_down(&t);
		return;
	}
	static struct lk rb, lt, la;
	static struct watch wrb, wla;
	memset(&rb, 0, sizeof(rb));
	memset(&lt, 0, sizeof(lt));
	memset(&la, 0, sizeof(la));
	memset(&wrb, 0, sizeof(wrb));
	memset(&wla, 0, sizeof(wla));
	nact_aid rb_at_a, rb_id = spawn_lk(t.b, &rb, "rb", t.a, t.bno, &rb_at_a);
	spawn_watch(t.a, &wrb, rb_at_a);
	sync_to(t.a, t.bno);
	CHECK_RV(nt_send_int(t.b, rb_id, L_DIE, 48));
	CHECK(NT_WAIT(atomic_load(&wrb.downs) == 1, NT_LONG_MS));
	lt.target = la.target = rb_at_a;
	lt.trap = 1;
	nact_aid lt_id = spawn_lk(t.a, &lt, "lt", NULL, 0, NULL);
	nact_aid la_id = spawn_lk(t.a, &la, "la", NULL, 0, NULL);
	spawn_watch(t.a, &wla, la_id);
	link_now(t.a, lt_id, &lt);
	CHECK(NT_WAIT(atomic_load(&lt.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&lt.exit_reason), NACT_EXIT_NOPROC);
	CHECK_EQ_U64(atomic_load(&lt.exit_id), rb_at_a.v);
	link_now(t.a, la_id, &la);
	CHECK(NT_WAIT(atomic_load(&wla.downs) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&wla.reason), NACT_EXIT_NOPROC);
	two_down(&t);
}

/* nact_node_stop breaks links on both sides with nodedown: the stopping
 * node's own actors, and the peer's (which sees the node leave). */
static void test_stop(void)
{
	struct two t;
	int rv = two_up(&t);
	CHECK_EQ_INT(rv, 0);
	if (rv != 0) {
		two_down(&t);
		return;
	}
	static struct lk la, rb;
	memset(&la, 0, sizeof(la));
	memset(&rb, 0, sizeof(rb));
	nact_aid la_at_b, la_id = spawn_lk(t.a, &la, "la", t.b, t.ano, &la_at_b);
	nact_aid rb_at_a, rb_id = spawn_lk(t.b, &rb, "rb", t.a, t.bno, &rb_at_a);
	la.target = rb_at_a;
	la.trap = rb.trap = 1;
	CHECK_RV(tell(t.b, rb_id, L_LINK)); /* rb only traps */
	CHECK(NT_WAIT(atomic_load(&rb.linked), NT_LONG_MS));
	link_now(t.a, la_id, &la);
	sync_to(t.a, t.bno);
	nact_node_stop(t.a);
	CHECK(NT_WAIT(atomic_load(&la.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&la.exit_reason), NACT_EXIT_NODEDOWN);
	CHECK(NT_WAIT(atomic_load(&rb.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&rb.exit_reason), NACT_EXIT_NODEDOWN);
	CHECK_EQ_U64(atomic_load(&rb.exit_id), la_at_b.v);
	two_down(&t);
}

/* kill -9 of the remote node: linked actors end with nodedown (trapping:
 * EXIT nodedown); linking to an actor of the down node: nodedown too. */
static void test_nodedown(void)
{
	nt_child ch;
	nact_system *a = NULL;
	uint16_t c = 0;
	int rv = nt_child_start(&ch, "c", SECRET, 0, NULL, NULL);
	CHECK_EQ_INT(rv, 0);
	if (rv == 0 && (a = open_sys()) == NULL)
		rv = -1;
	if (rv == 0)
		rv = nt_node_start(a, "a", SECRET, 0, ch.url);
	if (rv == 0)
		rv = nact_node_peer(a, "c", &c, (int)nt_slow(NT_LONG_MS));
	CHECK_EQ_INT(rv, 0);
	static struct lk la, lt, lt2;
	static struct watch wla;
	memset(&la, 0, sizeof(la));
	memset(&lt, 0, sizeof(lt));
	memset(&lt2, 0, sizeof(lt2));
	memset(&wla, 0, sizeof(wla));
	if (rv != 0)
		goto out;
	nact_aid sink, echo;
	REQUIRE_RV(nact_node_whereis(a, c, "sink", &sink, (int)nt_slow(5000)));
	REQUIRE_RV(nact_node_whereis(a, c, "echo", &echo, (int)nt_slow(5000)));
	la.target = sink;
	lt.target = echo;
	lt.trap = 1;
	nact_aid la_id = spawn_lk(a, &la, "la", NULL, 0, NULL);
	nact_aid lt_id = spawn_lk(a, &lt, "lt", NULL, 0, NULL);
	spawn_watch(a, &wla, la_id);
	link_now(a, la_id, &la);
	link_now(a, lt_id, &lt);
	sync_to(a, c);
	CHECK(nact_alive(a, la_id));
	nt_child_kill9(&ch);
	CHECK(NT_WAIT(atomic_load(&wla.downs) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&wla.reason), NACT_EXIT_NODEDOWN);
	CHECK(NT_WAIT(atomic_load(&lt.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&lt.exit_reason), NACT_EXIT_NODEDOWN);
	CHECK_EQ_U64(atomic_load(&lt.exit_id), echo.v);
	CHECK(nact_alive(a, lt_id));
	/* the node is down: linking answers at once */
	lt2.target = sink;
	lt2.trap = 1;
	nact_aid lt2_id = spawn_lk(a, &lt2, "lt2", NULL, 0, NULL);
	link_now(a, lt2_id, &lt2);
	CHECK(NT_WAIT(atomic_load(&lt2.exits) == 1, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&lt2.exit_reason), NACT_EXIT_NODEDOWN);
out:
	if (a != NULL) {
		nact_node_stop(a);
		nact_system_close(a, 2000);
	}
	nt_child_stop(&ch);
}

/* ---- bad link frames from a raw nng socket (insecure node) ---- */

/* A frame: header of kind, then the msgpack bytes. */
static size_t raw_frame(uint8_t *f, int kind, const uint8_t *body, size_t bl)
{
	f[0] = 0xA8, f[1] = 1, f[2] = (uint8_t)kind, f[3] = 0;
	memcpy(f + 4, body, bl);
	return 4 + bl;
}

/* Malformed LINK / UNLINK / EXIT frames close the connection and are
 * counted; the node and its actors go on. A well-formed EXIT that names
 * no existing link (forged, or late) is dropped: the actor lives. */
static void test_bad_link_frames(void)
{
	nact_system *b = open_sys();
	REQUIRE(b != NULL);
	REQUIRE_RV(nt_node_start(b, "b", NULL, 0, NULL));
	char url[256];
	REQUIRE_RV(nact_node_url(b, url, sizeof(url)));
	static struct lk v;
	memset(&v, 0, sizeof(v));
	nact_aid vid = spawn_lk(b, &v, "victim", NULL, 0, NULL);
	static uint8_t big[4 + 8 + 300];
	size_t bn = 0;
	big[bn++] = 0x94, big[bn++] = 1, big[bn++] = 1, big[bn++] = 42;
	big[bn++] = 0xda, big[bn++] = 0x01, big[bn++] = 0x00; /* str 16: 256 bytes */
	memset(big + bn, 'x', 256);
	bn += 256;
	const uint8_t bits[] = {0x92, 0xcf, 0, 1, 0, 0, 0, 0, 0, 1, 1};  /* target node bits */
	const uint8_t fbits[] = {0x92, 1, 0xcf, 0, 1, 0, 0, 0, 0, 0, 1}; /* from node bits */
	const uint8_t i64[] = {0x94, 1, 1, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xa0};
	struct row {
		const char *what;
		int kind;
		const uint8_t *body;
		size_t len;
	} rows[] = {
	    {"LINK: no body", 40, (const uint8_t *)"", 0},
	    {"LINK: not an array", 40, (const uint8_t *)"\xc0", 1},
	    {"LINK: one element", 40, (const uint8_t *)"\x91\x01", 2},
	    {"LINK: three elements", 40, (const uint8_t *)"\x93\x01\x01\x01", 4},
	    {"LINK: truncated", 40, (const uint8_t *)"\x92\x01", 2},
	    {"LINK: target 0", 40, (const uint8_t *)"\x92\x00\x01", 3},
	    {"LINK: linker 0", 40, (const uint8_t *)"\x92\x01\x00", 3},
	    {"LINK: target with node bits", 40, bits, sizeof(bits)},
	    {"LINK: string ids", 40, (const uint8_t *)"\x92\xa1x\xa1y", 5},
	    {"UNLINK: linker with node bits", 41, fbits, sizeof(fbits)},
	    {"UNLINK: negative id", 41, (const uint8_t *)"\x92\xff\x01", 3},
	    {"EXIT: two elements", 42, (const uint8_t *)"\x92\x01\x01", 3},
	    {"EXIT: reason a string", 42, (const uint8_t *)"\x94\x01\x01\xa1x\xa0", 6},
	    {"EXIT: text an int", 42, (const uint8_t *)"\x94\x01\x01\x01\x01", 5},
	    {"EXIT: reason below int32", 42, i64, sizeof(i64)},
	    {"EXIT: text of 256 bytes", 42, big, bn},
	};
	nact_node_stats st;
	CHECK_RV(nact_node_stats_get(b, &st));
	uint64_t bad0 = st.bad_frames;
	static uint8_t f[1024];
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct raw r;
		printf("  row: %s\n", rows[i].what);
		REQUIRE(raw_open(&r, url, 1) == 0);
		CHECK(raw_send(&r, f, raw_frame(f, rows[i].kind, rows[i].body, rows[i].len)) == 0);
		CHECK(NT_WAIT(atomic_load(&r.closed) == 1, NT_LONG_MS));
		nng_close(r.s);
		CHECK_RV(nact_node_stats_get(b, &st));
		CHECK_EQ_U64(st.bad_frames - bad0, i + 1);
	}
	/* well-formed: EXIT 42 for the victim from the raw node's actor 1,
	 * which it is not linked to; UNLINK of a link that is not there. Both
	 * ignored. Then a bad frame: its close shows they were handled (the
	 * frames of a connection are handled in order). */
	struct raw r;
	REQUIRE(raw_open(&r, url, 1) == 0);
	uint8_t ex[16] = {0x94, 0xcf}, ul[16] = {0x92, 0xcf}; /* target: uint 64 */
	for (int i = 0; i < 8; i++)
		ex[2 + i] = ul[2 + i] = (uint8_t)(vid.v >> (56 - 8 * i));
	ex[10] = 1, ex[11] = 42, ex[12] = 0xa1, ex[13] = 'x';
	ul[10] = 1;
	CHECK(raw_send(&r, f, raw_frame(f, 42, ex, 14)) == 0);
	CHECK(raw_send(&r, f, raw_frame(f, 41, ul, 11)) == 0);
	nng_msleep(50);
	CHECK_EQ_INT(atomic_load(&r.closed), 0);
	CHECK(raw_send(&r, f, raw_frame(f, 40, (const uint8_t *)"\xc0", 1)) == 0);
	CHECK(NT_WAIT(atomic_load(&r.closed) == 1, NT_LONG_MS));
	nng_close(r.s);
	CHECK(NT_STAYS_FALSE(!nact_alive(b, vid), NT_QUIET_MS));
	CHECK_EQ_INT(atomic_load(&v.exits), 0);
	CHECK_RV(nact_node_stats_get(b, &st));
	CHECK_EQ_U64(st.bad_frames - bad0, sizeof(rows) / sizeof(rows[0]) + 1);
	nact_node_stop(b);
	nact_system_close(b, 2000);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return nt_child_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	static const nt_case cases[] = {NT_CASE(test_abnormal_both_ways), NT_CASE(test_trap),
	    NT_CASE(test_normal_and_unlink), NT_CASE(test_link_gone), NT_CASE(test_stop),
	    NT_CASE(test_nodedown), NT_CASE(test_bad_link_frames), {NULL, NULL}};
	int rv = nt_run(argc, argv, cases);
	nng_fini(); /* nng frees closed listeners and dialers later, on its
		     * own threads: let it finish before LeakSanitizer runs */
	return rv;
}
