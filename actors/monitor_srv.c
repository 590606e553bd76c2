/*
 * actors/monitor_srv.c — the registry server's "actors" verb (per-actor
 * metrics, what each worker runs, node metrics), packed here so that
 * registry/server.c only decodes and dispatches. Protocol:
 * docs/registry-protocol.md.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <nactor/monitor.h>

#include "actors/internal.h"

#define ACT_LIMIT_DEFAULT 20
#define ACT_LIMIT_MAX 10000

static void pk_s(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pk_kv(msgpack_packer *pk, const char *k, uint64_t v)
{
	pk_s(pk, k);
	msgpack_pack_uint64(pk, v);
}

enum { K_DEPTH, K_IN, K_OUT, K_RESTARTS, K_P99, K_BUSY, K_HANDLED, K_ID, K_N };
static const char *const sort_keys[K_N] = {"depth", "in", "out", "restarts", "p99", "busy",
    "handled", "id"};

static uint64_t key_of(const nact_actor_metrics *a, int k)
{
	switch (k) {
	case K_DEPTH:
		return a->depth;
	case K_IN:
		return a->in;
	case K_OUT:
		return a->out;
	case K_RESTARTS:
		return a->restarts;
	case K_P99:
		return a->p99_ns;
	case K_BUSY:
		return a->busy_ns;
	case K_HANDLED:
		return a->handled;
	default:
		return a->id.v;
	}
}

struct sortv {
	const nact_actor_metrics *a;
	uint64_t key;
};

static int cmp_desc(const void *x, const void *y)
{
	const struct sortv *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? 1 : -1;
	return (a->a->id.v > b->a->id.v) - (a->a->id.v < b->a->id.v);
}

static int cmp_asc(const void *x, const void *y)
{
	const struct sortv *a = x, *b = y;
	return (a->key > b->key) - (a->key < b->key);
}

const char *nacti_mon_pack_actors(nact_system *sys, const char *sort, size_t sortn, int has_limit,
    uint64_t limit, uint64_t proto_v, struct msgpack_packer *pk)
{
	int k = K_DEPTH;
	if (sort != NULL) {
		for (k = 0; k < K_N; k++)
			if (strlen(sort_keys[k]) == sortn && memcmp(sort_keys[k], sort, sortn) == 0)
				break;
		if (k == K_N)
			return "unknown \"sort\" (depth, in, out, restarts, p99, busy, handled, id)";
	}
	if (has_limit && (limit == 0 || limit > ACT_LIMIT_MAX))
		return "\"limit\" must be 1..10000";
	if (!has_limit)
		limit = ACT_LIMIT_DEFAULT;
	nact_node_metrics nm;
	memset(&nm, 0, sizeof(nm));
	nact_node_metrics_read(sys, &nm);
	int on = sys->cfg.metrics != 0;
	nact_actor_metrics *am = NULL;
	struct sortv *sv = NULL;
	size_t n = 0, cap = 0;
	nact_worker_slot *ws = NULL;
	size_t nw = 0;
	if (on) {
		for (;;) {
			if (nact_metrics_actors(sys, am, cap, &n) != 0)
				return "cannot read metrics";
			if (n <= cap)
				break;
			cap = n + n / 4 + 16;
			nact_actor_metrics *v = realloc(am, cap * sizeof(*v));
			if (v == NULL) {
				free(am);
				return "out of memory";
			}
			am = v;
		}
		sv = calloc(n ? n : 1, sizeof(*sv));
		ws = calloc(sys->nworkers ? sys->nworkers : 1, sizeof(*ws));
		if (sv == NULL || ws == NULL) {
			free(am);
			free(sv);
			free(ws);
			return "out of memory";
		}
		for (size_t i = 0; i < n; i++) {
			sv[i].a = &am[i];
			sv[i].key = key_of(&am[i], k);
		}
		qsort(sv, n, sizeof(*sv), k == K_ID ? cmp_asc : cmp_desc);
		nact_metrics_workers(sys, ws, sys->nworkers, &nw);
		if (nw > sys->nworkers)
			nw = sys->nworkers;
	}
	size_t shown = n < limit ? n : (size_t)limit;
	msgpack_pack_map(pk, 7);
	pk_kv(pk, "v", proto_v);
	pk_s(pk, "ok");
	msgpack_pack_true(pk);
	pk_s(pk, "metrics");
	if (on)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pk_kv(pk, "total", n);
	pk_s(pk, "node");
	msgpack_pack_map(pk, 10);
	pk_kv(pk, "now_ns", nm.now_ns);
	pk_kv(pk, "uptime_ns", nm.uptime_ns);
	pk_kv(pk, "cpu_ns", nm.cpu_ns);
	pk_kv(pk, "rss", nm.rss_bytes);
	pk_kv(pk, "threads", nm.threads);
	pk_kv(pk, "fds", nm.fds);
	pk_kv(pk, "workers", nm.workers);
	pk_kv(pk, "live", nm.live);
	pk_kv(pk, "spawned", nm.spawned);
	pk_kv(pk, "deadletters", nm.deadletters);
	pk_s(pk, "workers");
	msgpack_pack_array(pk, nw);
	for (size_t i = 0; i < nw; i++) {
		char fnb[128] = "";
		if (ws[i].fn != 0)
			nact_behaviour_name(ws[i].fn, fnb, sizeof(fnb));
		nact_actor_metrics one;
		const char *name = "";
		if (ws[i].actor.v != 0 && nact_metrics_actor(sys, ws[i].actor, &one) == 0)
			name = one.name;
		msgpack_pack_map(pk, 6);
		pk_kv(pk, "worker", ws[i].worker);
		pk_kv(pk, "actor", ws[i].actor.v);
		pk_s(pk, "name");
		pk_s(pk, name);
		pk_kv(pk, "type", ws[i].type);
		pk_s(pk, "fn");
		pk_s(pk, fnb);
		pk_kv(pk, "running_ns", ws[i].running_ns);
	}
	pk_s(pk, "actors");
	msgpack_pack_array(pk, shown);
	for (size_t i = 0; i < shown; i++) {
		const nact_actor_metrics *a = sv[i].a;
		msgpack_pack_map(pk, 13);
		pk_kv(pk, "id", a->id.v);
		pk_s(pk, "name");
		pk_s(pk, a->name);
		pk_kv(pk, "depth", a->depth);
		pk_kv(pk, "in", a->in);
		pk_kv(pk, "out", a->out);
		pk_kv(pk, "dropped", a->dropped);
		pk_kv(pk, "handled", a->handled);
		pk_kv(pk, "busy_ns", a->busy_ns);
		pk_kv(pk, "max_ns", a->max_ns);
		pk_kv(pk, "p50_ns", a->p50_ns);
		pk_kv(pk, "p99_ns", a->p99_ns);
		pk_kv(pk, "restarts", a->restarts);
		pk_kv(pk, "age_ns", a->age_ns);
	}
	free(am);
	free(sv);
	free(ws);
	return NULL;
}
