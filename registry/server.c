/*
 * registry/server.c — the node's registry server: msgpack requests over an
 * nng REQ/REP ipc socket (docs/registry-protocol.md).
 *
 * DESIGN
 * - One REP socket, one context, one aio, driven entirely by the aio
 *   callback: recv -> handle -> send -> recv... No thread ever blocks
 *   waiting for a peer; a slow peer only delays the next request (REP
 *   answers one at a time, which is plenty for an inspection tool).
 * - A request is decoded with nact_reader_init_buf under tight limits
 *   (64 KiB, depth 8), so any bytes from a peer give an error reply, never
 *   a crash. The socket's own RECVMAXSZ (1 MiB) drops anything larger
 *   than that before it reaches us.
 * - Replies are packed with msgpack-c straight into the reply nng_msg
 *   (a msgpack_packer whose writer appends to the message).
 * - Security: the socket lives in a per-user directory checked to be ours
 *   and 0700; the socket file is 0600; and each request's pipe is asked
 *   for the peer's uid (NNG_OPT_IPC_PEER_UID): another uid, unless root,
 *   gets "permission denied".
 * - Stop: unserve sets s_closing under s_mtx (so the callback cannot
 *   resubmit after it), then nng_aio_stop waits for a callback in flight,
 *   then the socket is closed and the file unlinked.
 *
 * - Status stream: a PUB socket at NODE.pub.ipc (same directory, mode
 *   0600) gets {"v":1,"event":"op","op":{...}} for every status change,
 *   through the registry's status hook (nacti_ops_set_hook), which runs
 *   under the registry lock: it packs and hands the message to nng with
 *   NNG_FLAG_NONBLOCK, and a message nng does not take is dropped and
 *   counted (stats "pub_dropped"). pub0 itself drops the oldest queued
 *   message of a subscriber that does not keep up. Unserve clears the
 *   hook first (after which no call is in progress), then closes.
 *
 * Threads: the callback runs on an nng thread. It calls only the public,
 * thread-safe registry and stats calls; a cancel runs the operations'
 * on_cancel callbacks there. serve/unserve must not be called from that
 * callback (unserve waits for it) nor from a handler.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <nactor/node.h>

#include "actors/internal.h"
#include "registry/server_internal.h"

#define SRV_PROTO_V 1
#define SRV_REQ_MAX (64 * 1024)    /* decoded requests, bytes */
#define SRV_RECV_MAX (1024 * 1024) /* socket RECVMAXSZ: larger is dropped */
#define SRV_LIST_DEFAULT 1000      /* "list" without "limit" */
#define SRV_NODE_MAX 64
#define SRV_TREE_DEPTH 12                  /* "tree": levels shown (roots are level 1) */
#define SRV_TREE_NODES 1000                /* "tree": operations shown */
#define SRV_PROGRESS_NS (100 * 1000000ull) /* progress events: one per op per 100 ms */
#define SRV_SUP_MAX 256                    /* "tree": supervisors asked */
#define SRV_SUP_KIDS 256                   /* "tree": children shown per supervisor */
#define SRV_SUP_ASK_MS 500                 /* "tree": wait for one supervisor's answer */
#define SRV_SUP_BUDGET_MS 1500             /* "tree": all of them (under nactorctl's 2 s) */
#define SRV_SEND_MAX_MS 5000               /* "send": longest wait for a reply */

struct nacti_regsrv {
	nact_system *s_sys;
	nng_socket s_sock;
	nng_ctx s_ctx;
	nng_aio *s_aio;
	nng_mtx *s_mtx; /* guards s_closing against resubmission */
	int s_closing;  /* unserve started: the callback submits nothing */
	int s_sending;  /* the aio in flight is a send (else a recv) */
	char s_node[SRV_NODE_MAX + 1];
	char s_path[128]; /* the socket file */
	nng_socket s_pub;
	int s_pub_open;
	char s_pub_path[128];               /* NODE.pub.ipc */
	atomic_uint_fast64_t s_pub_dropped; /* events nng did not take */
};

/* ---- reply packing ---- */

static int msg_write(void *data, const char *buf, size_t len)
{
	return nng_msg_append(data, buf, len) == 0 ? 0 : -1;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pk_head(msgpack_packer *pk, uint32_t extra, int ok)
{
	msgpack_pack_map(pk, 2 + extra);
	pk_str(pk, "v");
	msgpack_pack_uint64(pk, SRV_PROTO_V);
	pk_str(pk, "ok");
	if (ok)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pk_error(msgpack_packer *pk, const char *err)
{
	pk_head(pk, 1, 0);
	pk_str(pk, "error");
	pk_str(pk, err);
}

static void pk_op(msgpack_packer *pk, const nact_op_info *in)
{
	msgpack_pack_map(pk, 13);
	pk_str(pk, "id");
	msgpack_pack_uint64(pk, in->id.v);
	pk_str(pk, "parent");
	msgpack_pack_uint64(pk, in->parent.v);
	pk_str(pk, "name");
	pk_str(pk, in->name);
	pk_str(pk, "tags");
	pk_str(pk, in->tags);
	pk_str(pk, "status");
	pk_str(pk, nact_op_status_str(in->status));
	pk_str(pk, "reason");
	pk_str(pk, nact_op_reason_str(in->reason));
	pk_str(pk, "message");
	pk_str(pk, in->message);
	pk_str(pk, "created_ns");
	msgpack_pack_uint64(pk, in->created_ns);
	pk_str(pk, "started_ns");
	msgpack_pack_uint64(pk, in->started_ns);
	pk_str(pk, "ended_ns");
	msgpack_pack_uint64(pk, in->ended_ns);
	pk_str(pk, "progress");
	msgpack_pack_double(pk, in->progress);
	pk_str(pk, "progress_msg");
	pk_str(pk, in->progress_msg);
	pk_str(pk, "actor");
	msgpack_pack_uint64(pk, in->actor.v);
}

/* ---- request decoding ---- */

/* The arguments of one request; strings point into the request message. */
struct req {
	int has_v, has_id, has_limit;
	uint64_t v, id, limit;
	const char *verb, *status, *name, *message;
	size_t verbn, statusn, namen, messagen;
	const char *sort; /* "actors" */
	size_t sortn;
	/* "send" */
	int has_type, has_timeout;
	uint64_t type, timeout_ms;
	const void *body;
	size_t bodyn;
	int has_body;
};

static int keyis(const char *k, size_t kn, const char *want)
{
	return kn == strlen(want) && memcmp(k, want, kn) == 0;
}

/* A string argument into s and n; NULL, or the error text. */
static const char *arg_str(nact_reader *r, const char **s, size_t *n, const char *err)
{
	return nact_read_str(r, s, n) == 0 ? NULL : err;
}

static const char *arg_uint(nact_reader *r, uint64_t *v, int *has, const char *err)
{
	if (nact_read_uint(r, v) != 0)
		return err;
	*has = 1;
	return NULL;
}

/* Decode buf into q; NULL, or a static error text for the reply. */
static const char *req_decode(nact_reader *r, const void *buf, size_t len, struct req *q)
{
	nact_limits lim = nact_limits_default();
	lim.max_body = SRV_REQ_MAX;
	lim.max_depth = 8;
	lim.max_elems = 1024;
	lim.max_total = 4096;
	uint32_t n;
	memset(q, 0, sizeof(*q));
	if (len == 0)
		return "empty request";
	if (len > SRV_REQ_MAX)
		return "request too large";
	int rv = nact_reader_init_buf(r, buf, len, &lim);
	if (rv == NACT_ELIMIT)
		return "request exceeds limits";
	if (rv == NACT_ETRUNC)
		return "truncated msgpack";
	if (rv != 0)
		return "not msgpack";
	if (nact_read_map(r, &n) != 0)
		return "request must be a map";
	for (uint32_t i = 0; i < n; i++) {
		const char *k, *err = NULL;
		size_t kn;
		msgpack_object o;
		if (nact_read_str(r, &k, &kn) != 0)
			return "map keys must be strings";
		if (keyis(k, kn, "v"))
			err = arg_uint(r, &q->v, &q->has_v, "\"v\" must be an unsigned integer");
		else if (keyis(k, kn, "verb"))
			err = arg_str(r, &q->verb, &q->verbn, "\"verb\" must be a string");
		else if (keyis(k, kn, "status"))
			err = arg_str(r, &q->status, &q->statusn, "\"status\" must be a string");
		else if (keyis(k, kn, "name"))
			err = arg_str(r, &q->name, &q->namen, "\"name\" must be a string");
		else if (keyis(k, kn, "message"))
			err = arg_str(r, &q->message, &q->messagen, "\"message\" must be a string");
		else if (keyis(k, kn, "sort"))
			err = arg_str(r, &q->sort, &q->sortn, "\"sort\" must be a string");
		else if (keyis(k, kn, "id"))
			err = arg_uint(r, &q->id, &q->has_id, "\"id\" must be an unsigned integer");
		else if (keyis(k, kn, "limit"))
			err = arg_uint(r, &q->limit, &q->has_limit,
			    "\"limit\" must be an unsigned integer");
		else if (keyis(k, kn, "type"))
			err = arg_uint(r, &q->type, &q->has_type,
			    "\"type\" must be an unsigned integer");
		else if (keyis(k, kn, "timeout_ms"))
			err = arg_uint(r, &q->timeout_ms, &q->has_timeout,
			    "\"timeout_ms\" must be an unsigned integer");
		else if (keyis(k, kn, "body")) {
			err = nact_read_bin(r, &q->body, &q->bodyn) == 0 ? NULL :
			                                                   "\"body\" must be bin";
			q->has_body = err == NULL;
		} else if (nact_read_object(r, &o) != 0) /* unknown keys are ignored */
			err = "malformed map";
		if (err != NULL)
			return err;
	}
	nact_read_leave(r);
	if (!nact_read_done(r))
		return "trailing data after the request map";
	if (!q->has_v)
		return "missing \"v\"";
	if (q->v != SRV_PROTO_V)
		return "unsupported protocol version";
	if (q->verb == NULL)
		return "missing \"verb\"";
	return NULL;
}

/* ---- verbs ---- */

/* Copy a counted string into a NUL-terminated buffer; 0 if it does not
 * fit or holds a NUL. */
static int cstr(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap || memchr(s, '\0', n) != NULL)
		return 0;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 1;
}

static void do_list(struct nacti_regsrv *sv, const struct req *q, msgpack_packer *pk)
{
	int status = -1;
	char glob[256];
	size_t n = 0, max, sent = 0;
	if (q->status != NULL) {
		for (int s = 0; s < NACT_OP_NSTATUS; s++)
			if (keyis(q->status, q->statusn, nact_op_status_str(s)))
				status = s;
		if (status < 0) {
			pk_error(pk, "unknown status");
			return;
		}
	}
	if (q->name != NULL && !cstr(glob, sizeof(glob), q->name, q->namen)) {
		pk_error(pk, "bad \"name\" glob");
		return;
	}
	uint64_t limit = q->has_limit ? q->limit : SRV_LIST_DEFAULT;
	/* Count, then copy; ops created in between are simply not listed. */
	nact_op_list(sv->s_sys, status, NULL, 0, &n);
	max = n;
	nact_op_info *v = max > 0 ? malloc(max * sizeof(*v)) : NULL;
	if (max > 0 && v == NULL) {
		pk_error(pk, "out of memory");
		return;
	}
	nact_op_list(sv->s_sys, status, v, max, &n);
	if (n > max)
		n = max;
	size_t match = 0;
	for (size_t i = 0; i < n; i++) {
		if (q->name != NULL && fnmatch(glob, v[i].name, 0) != 0)
			continue;
		v[match++] = v[i];
	}
	sent = match < limit ? match : (size_t)limit;
	pk_head(pk, 2, 1);
	pk_str(pk, "ops");
	msgpack_pack_array(pk, sent);
	for (size_t i = 0; i < sent; i++)
		pk_op(pk, &v[i]);
	pk_str(pk, "more"); /* true: limit cut the list */
	if (sent < match)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	free(v);
}

static const char *op_err(int rv)
{
	switch (rv) {
	case NACT_ENOENT:
		return "no such operation";
	case NACT_ESTATE:
		return "operation already finished";
	default:
		return nact_strerror(rv);
	}
}

static void do_get(struct nacti_regsrv *sv, const struct req *q, msgpack_packer *pk)
{
	nact_op_info in;
	int rv;
	if (!q->has_id) {
		pk_error(pk, "missing \"id\"");
		return;
	}
	if ((rv = nact_op_get(sv->s_sys, (nact_opid){q->id}, &in)) != 0) {
		pk_error(pk, op_err(rv));
		return;
	}
	pk_head(pk, 1, 1);
	pk_str(pk, "op");
	pk_op(pk, &in);
}

static void do_cancel(struct nacti_regsrv *sv, const struct req *q, msgpack_packer *pk)
{
	char msg[256];
	int rv;
	if (!q->has_id) {
		pk_error(pk, "missing \"id\"");
		return;
	}
	if (q->message != NULL && !cstr(msg, sizeof(msg), q->message, q->messagen)) {
		pk_error(pk, "bad \"message\"");
		return;
	}
	rv = nact_op_cancel(sv->s_sys, (nact_opid){q->id}, NACT_CANCEL_MANUAL,
	    q->message != NULL ? msg : NULL);
	if (rv != 0) {
		pk_error(pk, op_err(rv));
		return;
	}
	pk_head(pk, 0, 1);
}

/* "send": a message to a named actor of this node, from a script or any
 * nng+msgpack client (docs/registry-protocol.md, "The send verb"). With
 * timeout_ms > 0 it is a request and the reply's type and body come back;
 * the wait is bounded (SRV_SEND_MAX_MS), the server answers nobody else
 * meanwhile. */
static void do_send(struct nacti_regsrv *sv, const struct req *q, msgpack_packer *pk)
{
	char name[128];
	if (q->name == NULL || !cstr(name, sizeof(name), q->name, q->namen)) {
		pk_error(pk, q->name == NULL ? "missing \"name\"" : "bad \"name\"");
		return;
	}
	if (!q->has_type) {
		pk_error(pk, "missing \"type\"");
		return;
	}
	if (q->type >= NACT_T_SYSTEM) {
		pk_error(pk, "\"type\" is reserved for the runtime");
		return;
	}
	nact_limits lim = nact_limits_default();
	if (q->has_body && q->bodyn > 0 && nact_msgpack_validate(q->body, q->bodyn, &lim) != 0) {
		pk_error(pk, "\"body\" is not one msgpack value within limits");
		return;
	}
	nact_aid to = nact_whereis(sv->s_sys, name);
	if (to.v == 0) {
		pk_error(pk, "no actor by that name");
		return;
	}
	nact_msg *m;
	if (nact_msg_alloc(&m, sv->s_sys, (uint32_t)q->type) != 0) {
		pk_error(pk, "out of memory");
		return;
	}
	if (q->has_body && q->bodyn > 0 && nng_msg_append(m->nm, q->body, q->bodyn) != 0) {
		nact_msg_free(m);
		pk_error(pk, "out of memory");
		return;
	}
	if (!q->has_timeout || q->timeout_ms == 0) {
		int rv = nact_send(sv->s_sys, to, m);
		if (rv != 0) {
			nact_msg_free(m);
			pk_error(pk, nact_strerror(rv));
			return;
		}
		pk_head(pk, 1, 1);
		pk_str(pk, "actor");
		msgpack_pack_uint64(pk, to.v);
		return;
	}
	uint64_t tmo = q->timeout_ms < SRV_SEND_MAX_MS ? q->timeout_ms : SRV_SEND_MAX_MS;
	nact_msg *r = NULL;
	int rv = nact_call(sv->s_sys, to, m, (int)tmo, &r);
	if (rv != 0) {
		pk_error(pk, nact_strerror(rv));
		return;
	}
	size_t bl = 0;
	const void *b = nact_msg_body(r, &bl);
	pk_head(pk, 3, 1);
	pk_str(pk, "actor");
	msgpack_pack_uint64(pk, to.v);
	pk_str(pk, "type");
	msgpack_pack_uint64(pk, nact_msg_type(r));
	pk_str(pk, "body");
	msgpack_pack_bin(pk, bl);
	msgpack_pack_bin_body(pk, b, bl);
	nact_msg_free(r);
}

static void do_stats(struct nacti_regsrv *sv, msgpack_packer *pk)
{
	nact_stats st;
	size_t all = 0, pend = 0, run = 0;
	nact_system_stats(sv->s_sys, &st);
	nact_op_list(sv->s_sys, -1, NULL, 0, &all);
	nact_op_list(sv->s_sys, NACT_OP_PENDING, NULL, 0, &pend);
	nact_op_list(sv->s_sys, NACT_OP_RUNNING, NULL, 0, &run);
	size_t live = pend + run;
	char cyc[256];
	uint64_t ncyc = nact_op_cycles(sv->s_sys, cyc, sizeof(cyc));
	pk_head(pk, 10, 1);
	pk_str(pk, "node");
	pk_str(pk, sv->s_node);
	pk_str(pk, "pid");
	msgpack_pack_uint64(pk, (uint64_t)getpid());
	pk_str(pk, "live_actors");
	msgpack_pack_uint64(pk, st.live);
	pk_str(pk, "spawned");
	msgpack_pack_uint64(pk, st.spawned);
	pk_str(pk, "dead_letters");
	msgpack_pack_uint64(pk, nact_deadletters(sv->s_sys, -1));
	pk_str(pk, "ops_live");
	msgpack_pack_uint64(pk, live);
	pk_str(pk, "ops_history");
	msgpack_pack_uint64(pk, all > live ? all - live : 0);
	pk_str(pk, "pub_dropped");
	msgpack_pack_uint64(pk, atomic_load(&sv->s_pub_dropped));
	pk_str(pk, "cycles");
	msgpack_pack_uint64(pk, ncyc);
	pk_str(pk, "last_cycle");
	pk_str(pk, cyc);
}

/* "members": the cluster membership as this node sees it (node.h,
 * docs/members.md), at most SRV_MEMBERS_MAX members. */
#define SRV_MEMBERS_MAX 4096
static void do_members(struct nacti_regsrv *sv, msgpack_packer *pk)
{
	size_t n = 0;
	nact_members_stats st;
	int rv = nact_node_members(sv->s_sys, NULL, 0, &n);
	if (rv == 0)
		rv = nact_node_members_stats(sv->s_sys, &st);
	if (rv != 0) {
		pk_error(pk, rv == NACT_ESTATE ? "not a cluster node" : nact_strerror(rv));
		return;
	}
	size_t cap = n + 8 < SRV_MEMBERS_MAX ? n + 8 : SRV_MEMBERS_MAX;
	nact_node_member *mb = calloc(cap, sizeof(*mb));
	if (mb == NULL || nact_node_members(sv->s_sys, mb, cap, &n) != 0) {
		free(mb);
		pk_error(pk, "out of memory");
		return;
	}
	size_t shown = n < cap ? n : cap;
	pk_head(pk, 8, 1);
	pk_str(pk, "node");
	pk_str(pk, shown > 0 ? mb[0].name : "");
	pk_str(pk, "total");
	msgpack_pack_uint64(pk, n);
	pk_str(pk, "live");
	msgpack_pack_uint64(pk, st.live);
	pk_str(pk, "period_ms");
	msgpack_pack_uint64(pk, st.period_ms);
	pk_str(pk, "suspicion_ms");
	msgpack_pack_uint64(pk, st.suspicion_ms);
	pk_str(pk, "sent");
	msgpack_pack_uint64(pk, st.sent);
	pk_str(pk, "periods");
	msgpack_pack_uint64(pk, st.periods);
	pk_str(pk, "members");
	msgpack_pack_array(pk, (uint32_t)shown);
	for (size_t i = 0; i < shown; i++) {
		msgpack_pack_map(pk, 7);
		pk_str(pk, "name");
		pk_str(pk, mb[i].name);
		pk_str(pk, "url");
		pk_str(pk, mb[i].url);
		pk_str(pk, "state");
		pk_str(pk, nact_member_state_name(mb[i].state));
		pk_str(pk, "incarnation");
		msgpack_pack_uint64(pk, mb[i].incarnation);
		pk_str(pk, "peer");
		msgpack_pack_uint64(pk, mb[i].node);
		pk_str(pk, "self");
		if (mb[i].self)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		pk_str(pk, "connected");
		if (mb[i].connected)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
	free(mb);
}

/* Publish one event without blocking (under the registry lock; see
 * DESIGN). */
static void pub_event(struct nacti_regsrv *sv, const char *event, const nact_op_info *in)
{
	msgpack_packer pk;
	nng_msg *m;
	if (nng_msg_alloc(&m, 0) != 0) {
		atomic_fetch_add(&sv->s_pub_dropped, 1);
		return;
	}
	msgpack_packer_init(&pk, m, msg_write);
	msgpack_pack_map(&pk, 3);
	pk_str(&pk, "v");
	msgpack_pack_uint64(&pk, SRV_PROTO_V);
	pk_str(&pk, "event");
	pk_str(&pk, event);
	pk_str(&pk, "op");
	pk_op(&pk, in);
	if (nng_sendmsg(sv->s_pub, m, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(m);
		atomic_fetch_add(&sv->s_pub_dropped, 1);
	}
}

/* The status hook: every status change. */
static void pub_hook(void *arg, const nact_op_info *in)
{
	pub_event(arg, "op", in);
}

/* The progress hook: progress reports, rate-limited by the registry. */
static void pub_progress(void *arg, const nact_op_info *in)
{
	pub_event(arg, "progress", in);
}

/* ---- tree ---- */

/* The live operations as a forest: sorted by id, each with its first
 * child and next sibling (indexes, -1 for none), in id order. */
struct tree {
	nact_op_info *v;
	size_t n;
	long *child, *next;
	char *shown; /* kept within the depth and node caps */
	size_t nshown;
	int truncated;
};

static int cmp_id(const void *a, const void *b)
{
	const nact_op_info *x = a, *y = b;
	return x->id.v < y->id.v ? -1 : x->id.v > y->id.v;
}

static long tree_find(const struct tree *t, uint64_t id)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].id.v == id)
			return (long)mid;
		if (t->v[mid].id.v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Pre-order walk marking what fits: depth first, oldest first. */
static void tree_mark(struct tree *t, long i, int depth)
{
	for (; i >= 0; i = t->next[i]) {
		if (depth > SRV_TREE_DEPTH || t->nshown >= SRV_TREE_NODES) {
			t->truncated = 1;
			return;
		}
		t->shown[i] = 1;
		t->nshown++;
		tree_mark(t, t->child[i], depth + 1);
	}
}

static void pk_tree_list(msgpack_packer *pk, const struct tree *t, long first)
{
	uint32_t k = 0;
	for (long i = first; i >= 0; i = t->next[i])
		k += t->shown[i] ? 1 : 0;
	msgpack_pack_array(pk, k);
	for (long i = first; i >= 0; i = t->next[i]) {
		if (!t->shown[i])
			continue;
		msgpack_pack_map(pk, 4);
		pk_str(pk, "id");
		msgpack_pack_uint64(pk, t->v[i].id.v);
		pk_str(pk, "name");
		pk_str(pk, t->v[i].name);
		pk_str(pk, "status");
		pk_str(pk, nact_op_status_str(t->v[i].status));
		pk_str(pk, "children");
		pk_tree_list(pk, t, t->child[i]);
	}
}

/* ---- the supervision tree (in "tree") ----
 *
 * Supervisors are actors: their tables are theirs alone. The server reads
 * the list of live supervisors (nacti_sups_list, a copy under the registry
 * lock) and asks each one for its children with nact_sup_children, a
 * request the supervisor answers from its own handler: nothing is read
 * across threads. Each answer is awaited at most SRV_SUP_ASK_MS, all of
 * them at most SRV_SUP_BUDGET_MS; a supervisor that does not answer in
 * time (busy, or ending) is shown "unresponsive" with no children. A
 * supervisor whose id is a child of another one is drawn under it. */

struct supnode {
	struct nacti_supent e;
	nact_child_info *kids; /* malloc'd, nkids */
	uint32_t nkids;
	int answered; /* 0: no answer in time */
	int child;    /* a child of another supervisor */
	int shown;    /* already drawn (each once) */
};

struct suptree {
	struct supnode *v;
	size_t n;
	int truncated;
};

static long sup_find(const struct suptree *st, uint64_t aid)
{
	for (size_t i = 0; i < st->n; i++)
		if (aid != 0 && st->v[i].e.aid.v == aid)
			return (long)i;
	return -1;
}

static const char *kid_status(const nact_child_info *ci)
{
	return ci->running ? "running" : ci->backoff_ms > 0 ? "restarting" : "down";
}

/* One node: kind, id, name, aid, status, restarts, last_exit, children.
 * sup >= 0: a supervisor (as: how its parent sees it, NULL for a root);
 * else the worker as. */
static void pk_supnode(msgpack_packer *pk, struct suptree *st, long sup, const nact_child_info *as,
    int depth)
{
	struct supnode *sn = sup >= 0 ? &st->v[sup] : NULL;
	if (sn != NULL)
		sn->shown = 1;
	msgpack_pack_map(pk, 8);
	pk_str(pk, "kind");
	pk_str(pk, sn != NULL ? "supervisor" : "worker");
	pk_str(pk, "id");
	pk_str(pk, as != NULL ? as->id : sn->e.name);
	pk_str(pk, "name");
	pk_str(pk, sn != NULL ? sn->e.name : "");
	pk_str(pk, "aid");
	msgpack_pack_uint64(pk, as != NULL ? as->aid.v : sn->e.aid.v);
	pk_str(pk, "status");
	if (sn != NULL && !sn->answered)
		pk_str(pk, "unresponsive");
	else
		pk_str(pk, as != NULL ? kid_status(as) : "running");
	pk_str(pk, "restarts");
	msgpack_pack_uint64(pk, as != NULL ? as->restarts : 0);
	pk_str(pk, "last_exit");
	pk_str(pk, as != NULL && as->last_reason != 0 ? nact_exit_str(as->last_reason) : "");
	pk_str(pk, "children");
	if (sn == NULL || !sn->answered || depth >= SRV_TREE_DEPTH) {
		if (sn != NULL && sn->answered && sn->nkids > 0)
			st->truncated = 1;
		msgpack_pack_array(pk, 0);
		return;
	}
	msgpack_pack_array(pk, sn->nkids);
	for (uint32_t i = 0; i < sn->nkids; i++) {
		const nact_child_info *ci = &sn->kids[i];
		long j = sup_find(st, ci->aid.v);
		if (j >= 0 && st->v[j].shown)
			j = -1; /* drawn already: never loop */
		pk_supnode(pk, st, j, ci, depth + 1);
	}
}

/* Ask every live supervisor for its children (see above). */
static int suptree_load(struct nacti_regsrv *sv, struct suptree *st)
{
	static const size_t max = SRV_SUP_MAX;
	nact_child_info *buf;
	memset(st, 0, sizeof(*st));
	if ((st->v = calloc(max, sizeof(*st->v))) == NULL ||
	    (buf = malloc(SRV_SUP_KIDS * sizeof(*buf))) == NULL) {
		free(st->v);
		st->v = NULL;
		return NACT_ENOMEM;
	}
	struct nacti_supent *ents = malloc(max * sizeof(*ents));
	if (ents == NULL) {
		free(buf);
		return NACT_ENOMEM;
	}
	size_t total = nacti_sups_list(sv->s_sys, ents, max);
	st->n = total < max ? total : max;
	st->truncated = total > max;
	nng_time until = nng_clock() + SRV_SUP_BUDGET_MS;
	for (size_t i = 0; i < st->n; i++) {
		struct supnode *sn = &st->v[i];
		uint32_t k = 0;
		sn->e = ents[i];
		nng_time now = nng_clock();
		int wait = now >= until ? 0 : (int)(until - now);
		if (wait > SRV_SUP_ASK_MS)
			wait = SRV_SUP_ASK_MS;
		if (wait == 0 ||
		    nact_sup_children(sv->s_sys, sn->e.aid, buf, SRV_SUP_KIDS, &k, wait) != 0)
			continue;
		if (k > 0 && (sn->kids = malloc(k * sizeof(*buf))) == NULL)
			continue;
		if (k > 0)
			memcpy(sn->kids, buf, k * sizeof(*buf));
		sn->nkids = k;
		sn->answered = 1;
		if (k == SRV_SUP_KIDS)
			st->truncated = 1; /* maybe more than that */
	}
	for (size_t i = 0; i < st->n; i++)
		for (uint32_t c = 0; c < st->v[i].nkids; c++) {
			long j = sup_find(st, st->v[i].kids[c].aid.v);
			if (j >= 0 && (size_t)j != i)
				st->v[j].child = 1;
		}
	free(ents);
	free(buf);
	return 0;
}

static void suptree_free(struct suptree *st)
{
	for (size_t i = 0; st->v != NULL && i < st->n; i++)
		free(st->v[i].kids);
	free(st->v);
}

/* "supervisors": the roots (supervisors nobody supervises, oldest first),
 * then any not drawn yet (a cycle cannot happen, but nothing is lost). */
static void pk_suptree(msgpack_packer *pk, struct suptree *st)
{
	uint32_t roots = 0;
	for (size_t i = 0; i < st->n; i++)
		roots += st->v[i].child ? 0 : 1;
	msgpack_pack_array(pk, roots);
	for (size_t i = 0; i < st->n; i++)
		if (!st->v[i].child)
			pk_supnode(pk, st, (long)i, NULL, 1);
}

static void do_tree(struct nacti_regsrv *sv, msgpack_packer *pk)
{
	struct suptree st;
	struct tree t;
	size_t n = 0, max, live = 0;
	long roots = -1;
	memset(&t, 0, sizeof(t));
	/* One snapshot of everything; the live ones come first. */
	nact_op_list(sv->s_sys, -1, NULL, 0, &n);
	max = n;
	t.v = max > 0 ? malloc(max * sizeof(*t.v)) : NULL;
	if (max > 0 && t.v == NULL)
		goto oom;
	nact_op_list(sv->s_sys, -1, t.v, max, &n);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		if (t.v[i].status == NACT_OP_PENDING || t.v[i].status == NACT_OP_RUNNING)
			t.v[live++] = t.v[i];
	t.n = live;
	if (t.n > 1) /* t.v is NULL when there is nothing */
		qsort(t.v, t.n, sizeof(*t.v), cmp_id);
	if (t.n > 0) {
		t.child = malloc(t.n * sizeof(*t.child));
		t.next = malloc(t.n * sizeof(*t.next));
		t.shown = calloc(t.n, 1);
		if (t.child == NULL || t.next == NULL || t.shown == NULL)
			goto oom;
	}
	for (size_t i = 0; i < t.n; i++)
		t.child[i] = -1;
	/* Newest first, pushing at the head: every list ends up in id order. */
	for (size_t j = t.n; j-- > 0;) {
		long p = t.v[j].parent.v != 0 ? tree_find(&t, t.v[j].parent.v) : -1;
		long *head = p >= 0 ? &t.child[p] : &roots;
		t.next[j] = *head;
		*head = (long)j;
	}
	tree_mark(&t, roots, 1);
	if (suptree_load(sv, &st) != 0)
		goto oom;
	pk_head(pk, 4, 1);
	pk_str(pk, "roots");
	pk_tree_list(pk, &t, roots);
	pk_str(pk, "truncated");
	if (t.truncated)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pk_str(pk, "supervisors");
	pk_suptree(pk, &st);
	pk_str(pk, "supervisors_truncated");
	if (st.truncated)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	suptree_free(&st);
	goto out;
oom:
	pk_error(pk, "out of memory");
out:
	free(t.v);
	free(t.child);
	free(t.next);
	free(t.shown);
}

/* Peer check: 0 if the peer may talk to us. A pipe that cannot tell its
 * peer's uid is refused. */
static int peer_ok(nng_msg *m)
{
	uint64_t uid;
	if (nng_pipe_get_uint64(nng_msg_get_pipe(m), NNG_OPT_IPC_PEER_UID, &uid) != 0)
		return 0;
	return uid == 0 || uid == (uint64_t)getuid();
}

/* Decode and answer the request in buf into the reply rep (empty). */
static void answer(struct nacti_regsrv *sv, const void *buf, size_t len, nng_msg *rep)
{
	msgpack_packer pk;
	nact_reader r;
	struct req q;
	msgpack_packer_init(&pk, rep, msg_write);
	r.zone = NULL; /* fini-safe even when decoding stops before init */
	const char *err = req_decode(&r, buf, len, &q);
	if (err != NULL)
		pk_error(&pk, err);
	else if (keyis(q.verb, q.verbn, "list"))
		do_list(sv, &q, &pk);
	else if (keyis(q.verb, q.verbn, "get"))
		do_get(sv, &q, &pk);
	else if (keyis(q.verb, q.verbn, "cancel"))
		do_cancel(sv, &q, &pk);
	else if (keyis(q.verb, q.verbn, "stats"))
		do_stats(sv, &pk);
	else if (keyis(q.verb, q.verbn, "tree"))
		do_tree(sv, &pk);
	else if (keyis(q.verb, q.verbn, "members"))
		do_members(sv, &pk);
	else if (keyis(q.verb, q.verbn, "send"))
		do_send(sv, &q, &pk);
	else if (keyis(q.verb, q.verbn, "actors")) { /* actors/monitor_srv.c */
		const char *aerr = nacti_mon_pack_actors(sv->s_sys, q.sort, q.sortn, q.has_limit,
		    q.limit, SRV_PROTO_V, &pk);
		if (aerr != NULL)
			pk_error(&pk, aerr);
	} else
		pk_error(&pk, "unknown verb");
	nact_reader_fini(&r);
}

/* Handle one request into the reply rep (empty). */
static void handle(struct nacti_regsrv *sv, nng_msg *req, nng_msg *rep)
{
	if (!peer_ok(req)) {
		msgpack_packer pk;
		msgpack_packer_init(&pk, rep, msg_write);
		pk_error(&pk, "permission denied");
		return;
	}
	answer(sv, nng_msg_body(req), nng_msg_len(req), rep);
}

void nacti_regsrv_answer(nact_system *sys, const char *node, const void *buf, size_t len,
    nng_msg *rep)
{
	struct nacti_regsrv sv;
	memset(&sv, 0, sizeof(sv));
	atomic_init(&sv.s_pub_dropped, 0);
	sv.s_sys = sys;
	snprintf(sv.s_node, sizeof(sv.s_node), "%s", node != NULL ? node : "");
	answer(&sv, buf, len, rep);
}

/* Submit the next receive unless unserve started. Called with s_mtx held. */
static void submit_recv(struct nacti_regsrv *sv)
{
	if (sv->s_closing)
		return;
	sv->s_sending = 0;
	nng_ctx_recv(sv->s_ctx, sv->s_aio);
}

static void srv_cb(void *arg)
{
	struct nacti_regsrv *sv = arg;
	int rv = nng_aio_result(sv->s_aio);
	nng_mtx_lock(sv->s_mtx);
	if (sv->s_sending) {
		if (rv != 0) { /* not sent: the message is still ours */
			nng_msg_free(nng_aio_get_msg(sv->s_aio));
			nng_aio_set_msg(sv->s_aio, NULL);
		}
		submit_recv(sv);
		nng_mtx_unlock(sv->s_mtx);
		return;
	}
	if (rv != 0) {
		/* ECLOSED/ECANCELED while stopping; otherwise (e.g. ENOMEM)
		 * wait for the next request. */
		if (rv != NNG_ECLOSED)
			submit_recv(sv);
		nng_mtx_unlock(sv->s_mtx);
		return;
	}
	nng_msg *req = nng_aio_get_msg(sv->s_aio), *rep = NULL;
	nng_mtx_unlock(sv->s_mtx);
	/* Handle outside the lock: a cancel may run user callbacks. */
	if (nng_msg_alloc(&rep, 0) == 0)
		handle(sv, req, rep);
	nng_msg_free(req);
	nng_mtx_lock(sv->s_mtx);
	if (rep == NULL || sv->s_closing) {
		nng_msg_free(rep);
		submit_recv(sv); /* no reply (out of memory): REP drops it */
		nng_mtx_unlock(sv->s_mtx);
		return;
	}
	sv->s_sending = 1;
	nng_aio_set_msg(sv->s_aio, rep);
	nng_ctx_send(sv->s_ctx, sv->s_aio);
	nng_mtx_unlock(sv->s_mtx);
}

/* ---- the runtime directory and the socket file ---- */

static int node_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SRV_NODE_MAX || s[0] == '.')
		return 0;
	/* NODE.pub.ipc is the status stream of NODE */
	if (n >= 4 && strcmp(s + n - 4, ".pub") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Make dir (0700) if missing, then insist that it is a real directory of
 * ours that nobody else can enter. */
static int private_dir(const char *dir)
{
	struct stat st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return NACT_ESYSERR + errno;
	if (lstat(dir, &st) != 0)
		return NACT_ESYSERR + errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 0777) != 0700)
		return NACT_ESYSERR + EPERM;
	return 0;
}

static int runtime_path(char *path, size_t cap, const char *node)
{
	char dir[128];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n, rv;
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/nactor", xdg);
	else
		n = snprintf(dir, sizeof(dir), "/tmp/nactor-%lu", (unsigned long)getuid());
	if (n < 0 || (size_t)n >= sizeof(dir))
		return NACT_EINVAL;
	if ((rv = private_dir(dir)) != 0)
		return rv;
	/* 108 is sun_path: ipc:// paths must fit in it. */
	n = snprintf(path, cap, "%s/%s.ipc", dir, node);
	if (n < 0 || (size_t)n >= cap || n >= 108)
		return NACT_EINVAL;
	return 0;
}

/* A socket file already at path: 0 if nothing answers (removed), else
 * NACT_EEXIST. A file that is not a socket is never removed. */
static int clear_stale(const char *path, const char *url)
{
	struct stat st;
	nng_socket s;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : NACT_ESYSERR + errno;
	if (!S_ISSOCK(st.st_mode))
		return NACT_EEXIST;
	if (nng_req0_open(&s) != 0)
		return NACT_ENOMEM;
	/* A synchronous dial: connect() on a unix socket answers at once,
	 * ECONNREFUSED when no process listens any more. */
	int rv = nng_dial(s, url, NULL, 0);
	nng_close(s);
	if (rv == 0)
		return NACT_EEXIST;
	if (unlink(path) != 0 && errno != ENOENT)
		return NACT_ESYSERR + errno;
	return 0;
}

/* ---- public API ---- */

static void srv_free(struct nacti_regsrv *sv)
{
	if (sv->s_aio != NULL)
		nng_aio_free(sv->s_aio);
	if (sv->s_mtx != NULL)
		nng_mtx_free(sv->s_mtx);
	free(sv);
}

/* The PUB socket next to the REP one: NODE.pub.ipc, 0600. A socket file
 * left there is the dead node's (the REP check proved nobody serves
 * NODE): removed; anything else there is NACT_EEXIST. */
static int pub_open(struct nacti_regsrv *sv)
{
	char url[160];
	struct stat st;
	nng_listener l;
	int rv;
	size_t n = strlen(sv->s_path);
	int w = snprintf(sv->s_pub_path, sizeof(sv->s_pub_path), "%.*s.pub.ipc", (int)(n - 4),
	    sv->s_path);
	if (w < 0 || (size_t)w >= sizeof(sv->s_pub_path) || w >= 108)
		return NACT_EINVAL;
	if (lstat(sv->s_pub_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return NACT_EEXIST;
		if (unlink(sv->s_pub_path) != 0 && errno != ENOENT)
			return NACT_ESYSERR + errno;
	} else if (errno != ENOENT) {
		return NACT_ESYSERR + errno;
	}
	snprintf(url, sizeof(url), "ipc://%s", sv->s_pub_path);
	if ((rv = nng_pub0_open(&sv->s_pub)) != 0)
		return NACT_ETRANERR + rv;
	if ((rv = nng_listener_create(&l, sv->s_pub, url)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		nng_close(sv->s_pub);
		return rv == NNG_EADDRINUSE ? NACT_EEXIST : NACT_ETRANERR + rv;
	}
	if (chmod(sv->s_pub_path, 0600) != 0) {
		rv = NACT_ESYSERR + errno;
		nng_close(sv->s_pub);
		unlink(sv->s_pub_path);
		return rv;
	}
	sv->s_pub_open = 1;
	return 0;
}

int nact_registry_serve(nact_system *sys, const char *node_name, char *url_out, size_t url_len)
{
	struct nacti_regsrv *sv;
	char url[160];
	nng_listener l;
	int rv;
	if (sys == NULL || node_name == NULL || !node_name_ok(node_name))
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys);
	if (sys->regsrv != NULL || atomic_load(&sys->closing))
		return NACT_ESTATE;
	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		return NACT_ENOMEM;
	sv->s_sys = sys;
	snprintf(sv->s_node, sizeof(sv->s_node), "%s", node_name);
	if ((rv = runtime_path(sv->s_path, sizeof(sv->s_path), node_name)) != 0)
		goto out_free;
	snprintf(url, sizeof(url), "ipc://%s", sv->s_path);
	if (url_out != NULL && url_len > 0 && strlen(url) >= url_len) {
		rv = NACT_EINVAL;
		goto out_free;
	}
	if ((rv = clear_stale(sv->s_path, url)) != 0)
		goto out_free;
	if (nng_mtx_alloc(&sv->s_mtx) != 0 || nng_aio_alloc(&sv->s_aio, srv_cb, sv) != 0) {
		rv = NACT_ENOMEM;
		goto out_free;
	}
	if ((rv = nng_rep0_open(&sv->s_sock)) != 0) {
		rv = NACT_ETRANERR + rv;
		goto out_free;
	}
	nng_socket_set_size(sv->s_sock, NNG_OPT_RECVMAXSZ, SRV_RECV_MAX);
	if ((rv = nng_ctx_open(&sv->s_ctx, sv->s_sock)) != 0 ||
	    (rv = nng_listener_create(&l, sv->s_sock, url)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		rv = rv == NNG_EADDRINUSE ? NACT_EEXIST : NACT_ETRANERR + rv;
		goto out_close;
	}
	/* nng sets the mode after bind; the 0700 directory covers the gap. */
	if (chmod(sv->s_path, 0600) != 0) {
		rv = NACT_ESYSERR + errno;
		goto out_unlink;
	}
	if ((rv = pub_open(sv)) != 0)
		goto out_unlink;
	if (url_out != NULL && url_len > 0)
		snprintf(url_out, url_len, "%s", url);
	sys->regsrv = sv;
	nacti_ops_set_hook(sys, pub_hook, sv);
	nacti_ops_set_progress_hook(sys, pub_progress, sv, SRV_PROGRESS_NS);
	nng_mtx_lock(sv->s_mtx);
	submit_recv(sv);
	nng_mtx_unlock(sv->s_mtx);
	return 0;
out_unlink:
	nng_close(sv->s_sock);
	unlink(sv->s_path);
	goto out_free;
out_close:
	nng_close(sv->s_sock);
out_free:
	srv_free(sv);
	return rv;
}

void nact_registry_unserve(nact_system *sys)
{
	struct nacti_regsrv *sv;
	if (sys == NULL || (sv = sys->regsrv) == NULL)
		return;
	nacti_ops_set_hook(sys, NULL, NULL); /* no publish in progress after */
	nacti_ops_set_progress_hook(sys, NULL, NULL, 0);
	nng_mtx_lock(sv->s_mtx);
	sv->s_closing = 1;
	nng_mtx_unlock(sv->s_mtx);
	/* Aborts the recv or send in flight and waits for its callback,
	 * which frees an unsent reply and submits nothing more. */
	nng_aio_stop(sv->s_aio);
	nng_ctx_close(sv->s_ctx);
	nng_close(sv->s_sock);
	unlink(sv->s_path);
	if (sv->s_pub_open) {
		nng_close(sv->s_pub);
		unlink(sv->s_pub_path);
	}
	sys->regsrv = NULL;
	srv_free(sv);
}
