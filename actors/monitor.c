/*
 * actors/monitor.c — the monitor actor (monitor.h): periodic sampling,
 * thresholds, alert events, the slow-handler watchdog thread.
 *
 * DESIGN
 * The monitor samples on a timer of the system clock (a TICK carrying a
 * sequence number, so a stray TICK from outside cannot double the timer).
 * Threshold state is edge-triggered: the set of actor ids over a threshold
 * at the last sample is kept sorted; an id alerts when it enters the set.
 * The watchdog is a plain thread that sleeps on a condition variable with a
 * timeout (slow_ms / 4) and reads the workers' slots (monitor_rt.c); it
 * reports each call (worker, start time) once. The subscriber list is
 * shared with the watchdog under mtx. Alerts leave through one function,
 * nact_monitor_deliver, so another transport (the event bus) can replace it.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <nactor/bus.h>
#include <nactor/monitor.h>

#include "actors/internal.h"

struct idset {
	uint64_t *v;
	size_t n, cap;
};

struct mon {
	nact_system *sys;
	nact_monitor_config cfg;
	char *prom_url;
	nact_prom *prom;
	nact_aid self;
	uint64_t tick_seq;
	/* shared with the watchdog, under mtx */
	nng_mtx *mtx;
	nng_cv *cv;
	nact_aid subs[NACT_MON_MAX_SUBS];
	uint32_t nsubs;
	int wd_stop;
	uint64_t alerts;
	nng_thread *wd;
	uint64_t *wd_seen; /* per worker: start time of the call reported */
	nact_worker_slot *slots;
	/* actor-owned */
	uint64_t samples;
	nact_node_metrics node, prev;
	int have_node;
	double cpu_pct, dl_rate;
	int rss_over, dl_over;
	struct idset over_depth, over_p99;
	nact_actor_metrics *am;
	size_t amcap, nam;
};

void nact_monitor_config_init(nact_monitor_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- alert delivery ---- */

/* One [topic, payload] message of the given type: NACT_T_EVENT to a
 * listener, NACT_T_BUS_PUB to a bus (same body). */
static int deliver(nact_system *sys, nact_aid to, uint32_t type, const char *topic,
    const void *payload, size_t payload_len)
{
	nact_msg *m;
	if (sys == NULL || topic == NULL || (payload == NULL && payload_len > 0))
		return NACT_EINVAL;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0)
		return rv;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_array(&pk, 2);
	nact_pack_str(&pk, topic);
	if (payload_len > 0 && nng_msg_append(nact_msg_nng(m), payload, payload_len) != 0)
		pk.err = NACT_ENOMEM;
	if (payload_len == 0)
		nact_pack_nil(&pk);
	if ((rv = nact_pack_error(&pk)) == 0)
		rv = nact_send(sys, to, m);
	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

int nact_monitor_deliver(nact_system *sys, nact_aid to, const char *topic, const void *payload,
    size_t payload_len)
{
	return deliver(sys, to, NACT_T_EVENT, topic, payload, payload_len);
}

/* Send one alert (payload in sb) to every subscriber. Any thread. */
static void alert(struct mon *s, const char *topic, const msgpack_sbuffer *sb)
{
	nact_aid subs[NACT_MON_MAX_SUBS];
	uint32_t n;
	nng_mtx_lock(s->mtx);
	n = s->nsubs;
	memcpy(subs, s->subs, n * sizeof(subs[0]));
	s->alerts++;
	nng_mtx_unlock(s->mtx);
	for (uint32_t i = 0; i < n; i++)
		nact_monitor_deliver(s->sys, subs[i], topic, sb->data, sb->size);
	if (s->cfg.bus.v != 0) /* published: the bus's listeners get it */
		deliver(s->sys, s->cfg.bus, NACT_T_BUS_PUB, topic, sb->data, sb->size);
}

static void pk_s(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* ---- id sets (sorted) ---- */

static int idset_has(const struct idset *s, uint64_t id)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid] == id)
			return 1;
		if (s->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int idset_push(struct idset *s, uint64_t id)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		uint64_t *v = realloc(s->v, nc * sizeof(*v));
		if (v == NULL)
			return NACT_ENOMEM;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = id;
	return 0;
}

/* ---- sampling ---- */

static void alert_actor(struct mon *s, const char *topic, const nact_actor_metrics *a,
    const char *key, uint64_t val, uint64_t max)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pk_s(&pk, "id");
	msgpack_pack_uint64(&pk, a->id.v);
	pk_s(&pk, "name");
	pk_s(&pk, a->name);
	pk_s(&pk, key);
	msgpack_pack_uint64(&pk, val);
	pk_s(&pk, "max");
	msgpack_pack_uint64(&pk, max);
	nact_log(s->sys, NACT_LOG_WARN, "monitor: %s: actor %#llx%s%s %s %llu > %llu", topic,
	    (unsigned long long)a->id.v, a->name[0] ? " " : "", a->name, key,
	    (unsigned long long)val, (unsigned long long)max);
	alert(s, topic, &sb);
	msgpack_sbuffer_destroy(&sb);
}

static void alert_node(struct mon *s, const char *topic, const char *key, double val, double max)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pk_s(&pk, key);
	msgpack_pack_double(&pk, val);
	pk_s(&pk, "max");
	msgpack_pack_double(&pk, max);
	nact_log(s->sys, NACT_LOG_WARN, "monitor: %s: %s %.1f > %.1f", topic, key, val, max);
	alert(s, topic, &sb);
	msgpack_sbuffer_destroy(&sb);
}

/* Check one actor threshold over the sample: alert the ids that newly
 * crossed, then keep the new set. */
static void check_set(struct mon *s, struct idset *old, const char *topic, const char *key,
    uint64_t max, int p99)
{
	struct idset now = {0};
	if (max > 0) {
		for (size_t i = 0; i < s->nam; i++) {
			const nact_actor_metrics *a = &s->am[i];
			uint64_t v = p99 ? a->p99_ns : a->depth;
			if (v <= max || a->id.v == s->self.v)
				continue;
			if (idset_push(&now, a->id.v) != 0)
				break;
			if (!idset_has(old, a->id.v))
				alert_actor(s, topic, a, key, v, max);
		}
		if (now.n > 1)
			qsort(now.v, now.n, sizeof(uint64_t), cmp_u64);
	}
	free(old->v);
	*old = now;
}

static void sample(struct mon *s)
{
	size_t n = 0;
	nact_node_metrics node;
	if (nact_node_metrics_read(s->sys, &node) == 0) {
		s->prev = s->node;
		s->node = node;
		if (s->have_node) {
			double dt = (double)(node.now_ns - s->prev.now_ns) / 1e9;
			s->cpu_pct = nact_node_cpu_pct(&s->prev, &node);
			s->dl_rate =
			    dt > 0 ? (double)(node.deadletters - s->prev.deadletters) / dt : 0;
		}
		s->have_node = 1;
	}
	/* grow the buffer until one read fits every live actor */
	for (;;) {
		if (nact_metrics_actors(s->sys, s->am, s->amcap, &n) != 0)
			return;
		if (n <= s->amcap)
			break;
		size_t nc = n + n / 4 + 16;
		nact_actor_metrics *v = realloc(s->am, nc * sizeof(*v));
		if (v == NULL)
			return;
		s->am = v;
		s->amcap = nc;
	}
	s->nam = n;
	s->samples++;
	check_set(s, &s->over_depth, NACT_MON_TOPIC_MAILBOX, "depth", s->cfg.max_depth, 0);
	check_set(s, &s->over_p99, NACT_MON_TOPIC_P99, "p99_ns", s->cfg.max_p99_ns, 1);
	if (s->cfg.max_rss > 0) {
		int over = s->node.rss_bytes > s->cfg.max_rss;
		if (over && !s->rss_over)
			alert_node(s, NACT_MON_TOPIC_RSS, "rss", (double)s->node.rss_bytes,
			    (double)s->cfg.max_rss);
		s->rss_over = over;
	}
	if (s->cfg.max_deadletter_rate > 0 && s->samples > 1) {
		int over = s->dl_rate > s->cfg.max_deadletter_rate;
		if (over && !s->dl_over)
			alert_node(s, NACT_MON_TOPIC_DEADLETTERS, "rate", s->dl_rate,
			    s->cfg.max_deadletter_rate);
		s->dl_over = over;
	}
}

/* ---- watchdog ---- */

static void wd_check(struct mon *s)
{
	size_t n = 0;
	uint64_t slow_ns = (uint64_t)s->cfg.slow_ms * 1000000u;
	if (nact_metrics_workers(s->sys, s->slots, s->sys->nworkers, &n) != 0)
		return;
	for (size_t i = 0; i < n && i < s->sys->nworkers; i++) {
		nact_worker_slot *w = &s->slots[i];
		if (w->running_ns <= slow_ns)
			continue;
		/* one report per call: a call is known by its start time */
		if (s->wd_seen[i] == w->call)
			continue;
		s->wd_seen[i] = w->call;
		nact_actor_metrics am;
		const char *name = "";
		if (nact_metrics_actor(s->sys, w->actor, &am) == 0)
			name = am.name;
		char fnb[128];
		nact_behaviour_name(w->fn, fnb, sizeof(fnb));
		uint64_t ms = w->running_ns / 1000000u;
		nact_log(s->sys, NACT_LOG_WARN,
		    "watchdog: slow handler: actor %#llx%s%s type %#x (%s) running for at least "
		    "%llu ms on worker %u (threshold %u ms)",
		    (unsigned long long)w->actor.v, name[0] ? " " : "", name, w->type, fnb,
		    (unsigned long long)ms, w->worker, s->cfg.slow_ms);
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 7);
		pk_s(&pk, "id");
		msgpack_pack_uint64(&pk, w->actor.v);
		pk_s(&pk, "name");
		pk_s(&pk, name);
		pk_s(&pk, "type");
		msgpack_pack_uint32(&pk, w->type);
		pk_s(&pk, "fn");
		pk_s(&pk, fnb);
		pk_s(&pk, "worker");
		msgpack_pack_uint32(&pk, w->worker);
		pk_s(&pk, "running_ms");
		msgpack_pack_uint64(&pk, ms);
		pk_s(&pk, "max_ms");
		msgpack_pack_uint32(&pk, s->cfg.slow_ms);
		alert(s, NACT_MON_TOPIC_SLOW, &sb);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void wd_main(void *arg)
{
	struct mon *s = arg;
	nng_duration period = (nng_duration)(s->cfg.slow_ms / 4 > 5 ? s->cfg.slow_ms / 4 : 5);
	nng_mtx_lock(s->mtx);
	while (!s->wd_stop) {
		nng_cv_until(s->cv, nng_clock() + (nng_time)period);
		if (s->wd_stop)
			break;
		nng_mtx_unlock(s->mtx);
		wd_check(s);
		nng_mtx_lock(s->mtx);
	}
	nng_mtx_unlock(s->mtx);
}

/* ---- the actor ---- */

static void mon_free(void *arg)
{
	struct mon *s = arg;
	if (s == NULL)
		return;
	if (s->wd != NULL) {
		nng_mtx_lock(s->mtx);
		s->wd_stop = 1;
		nng_cv_wake(s->cv);
		nng_mtx_unlock(s->mtx);
		nng_thread_destroy(s->wd); /* joins */
	}
	nact_prom_stop(s->prom);
	if (s->cv != NULL)
		nng_cv_free(s->cv);
	if (s->mtx != NULL)
		nng_mtx_free(s->mtx);
	free(s->prom_url);
	free(s->wd_seen);
	free(s->slots);
	free(s->over_depth.v);
	free(s->over_p99.v);
	free(s->am);
	free(s);
}

static int arm_tick(struct mon *s)
{
	nact_msg *m;
	int rv = nact_msg_alloc(&m, s->sys, NACT_MON_T_TICK);
	if (rv != 0)
		return rv;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_uint(&pk, ++s->tick_seq);
	if ((rv = nact_pack_error(&pk)) == 0)
		rv = nact_send_after(s->sys, s->self, m, (int)s->cfg.interval_ms, NULL);
	if (rv != 0)
		nact_msg_free(m);
	return rv;
}

static int read_aid(nact_msg *m, nact_aid *out)
{
	nact_reader r;
	uint32_t n;
	uint64_t v;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv == 0)
		rv = nact_read_array(&r, &n);
	if (rv == 0 && n != 1)
		rv = NACT_EINVAL;
	if (rv == 0)
		rv = nact_read_uint(&r, &v);
	nact_reader_fini(&r);
	if (rv == 0 && v == 0)
		rv = NACT_EINVAL;
	out->v = v;
	return rv;
}

static void reply_empty(nact_system *sys, nact_msg *req, uint32_t type)
{
	nact_msg *r;
	if ((nact_msg_flags(req) & NACT_MF_REQUEST) == 0)
		return;
	if (nact_msg_alloc(&r, sys, type) == 0 && nact_reply(sys, req, r) != 0)
		nact_msg_free(r);
}

static void bad(nact_system *sys, nact_msg *req, int code, const char *text)
{
	if (nact_msg_flags(req) & NACT_MF_REQUEST)
		nact_reply_error(sys, req, code, text);
	else
		nact_log(sys, NACT_LOG_WARN, "monitor: %s (type %#x from %#llx)", text,
		    nact_msg_type(req), (unsigned long long)nact_msg_sender(req).v);
}

static void snapshot_reply(struct mon *s, nact_msg *req)
{
	nact_msg *r;
	if ((nact_msg_flags(req) & NACT_MF_REQUEST) == 0) {
		bad(s->sys, req, NACT_EBADMSG, "snapshot must be a request");
		return;
	}
	if (nact_msg_alloc(&r, s->sys, NACT_MON_T_SNAPSHOT) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, r);
	nact_pack_map(&pk, 4);
	nact_pack_str(&pk, "samples");
	nact_pack_uint(&pk, s->samples);
	nact_pack_str(&pk, "node");
	nact_pack_map(&pk, 7);
	nact_pack_str(&pk, "cpu_pct");
	nact_pack_double(&pk, s->cpu_pct);
	nact_pack_str(&pk, "rss");
	nact_pack_uint(&pk, s->node.rss_bytes);
	nact_pack_str(&pk, "threads");
	nact_pack_uint(&pk, s->node.threads);
	nact_pack_str(&pk, "fds");
	nact_pack_uint(&pk, s->node.fds);
	nact_pack_str(&pk, "live");
	nact_pack_uint(&pk, s->node.live);
	nact_pack_str(&pk, "deadletters");
	nact_pack_uint(&pk, s->node.deadletters);
	nact_pack_str(&pk, "deadletter_rate");
	nact_pack_double(&pk, s->dl_rate);
	nact_pack_str(&pk, "actors");
	nact_pack_uint(&pk, s->nam);
	nact_pack_str(&pk, "alerts");
	nng_mtx_lock(s->mtx);
	nact_pack_uint(&pk, s->alerts);
	nng_mtx_unlock(s->mtx);
	if (nact_pack_error(&pk) != 0 || nact_reply(s->sys, req, r) != 0)
		nact_msg_free(r);
}

static int mon_fn(nact_ctx *ctx, nact_msg *m)
{
	struct mon *s = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	nact_aid who;
	uint32_t type = nact_msg_type(m);
	switch (type) {
	case NACT_MON_T_TICK: {
		nact_reader r;
		uint64_t seq = 0;
		int rv = nact_reader_init(&r, m, NULL);
		if (rv == 0)
			rv = nact_read_uint(&r, &seq);
		nact_reader_fini(&r);
		if (rv != 0 || seq != s->tick_seq || nact_msg_sender(m).v != s->self.v) {
			bad(sys, m, NACT_EBADMSG, "stray tick");
			break;
		}
		sample(s);
		if (arm_tick(s) != 0)
			nact_log(sys, NACT_LOG_ERROR, "monitor: cannot arm its timer");
		break;
	}
	case NACT_MON_T_SUBSCRIBE:
	case NACT_MON_T_UNSUBSCRIBE: {
		if (read_aid(m, &who) != 0) {
			bad(sys, m, NACT_EBADMSG, "body must be [actor id]");
			break;
		}
		int rv = 0;
		nng_mtx_lock(s->mtx);
		uint32_t i;
		for (i = 0; i < s->nsubs && s->subs[i].v != who.v; i++)
			;
		if (type == NACT_MON_T_SUBSCRIBE) {
			if (i < s->nsubs)
				rv = NACT_EEXIST;
			else if (s->nsubs == NACT_MON_MAX_SUBS)
				rv = NACT_EFULL;
			else
				s->subs[s->nsubs++] = who;
		} else if (i == s->nsubs) {
			rv = NACT_ENOENT;
		} else {
			s->subs[i] = s->subs[--s->nsubs];
		}
		nng_mtx_unlock(s->mtx);
		if (rv != 0)
			bad(sys, m, rv, NULL);
		else
			reply_empty(sys, m, type);
		break;
	}
	case NACT_MON_T_SNAPSHOT:
		snapshot_reply(s, m);
		break;
	default:
		bad(sys, m, NACT_EBADMSG, "monitor: unknown message type");
		break;
	}
	return 0;
}

int nact_monitor_start(nact_aid *idp, nact_system *sys, const nact_monitor_config *cfg)
{
	nact_monitor_config c;
	if (idp == NULL || sys == NULL)
		return NACT_EINVAL;
	if (cfg != NULL)
		c = *cfg;
	else
		nact_monitor_config_init(&c);
	if (c.nsubscribers > NACT_MON_MAX_SUBS || c.max_deadletter_rate < 0)
		return NACT_EINVAL;
	if (!sys->cfg.metrics)
		return NACT_ENOTSUP;
	if (c.interval_ms == 0)
		c.interval_ms = 1000;
	if (c.slow_ms == 0)
		c.slow_ms = 100;
	if (c.interval_ms > INT32_MAX || c.slow_ms > INT32_MAX / 4)
		return NACT_EINVAL;
	struct mon *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NACT_ENOMEM;
	s->sys = sys;
	s->cfg = c;
	s->cfg.prom_url = NULL;
	s->cfg.name = NULL;
	memcpy(s->subs, c.subscribers, c.nsubscribers * sizeof(nact_aid));
	s->nsubs = c.nsubscribers;
	int rv = NACT_ENOMEM;
	if (nng_mtx_alloc(&s->mtx) != 0 || nng_cv_alloc(&s->cv, s->mtx) != 0)
		goto fail;
	s->wd_seen = calloc(sys->nworkers, sizeof(*s->wd_seen));
	s->slots = calloc(sys->nworkers, sizeof(*s->slots));
	if (s->wd_seen == NULL || s->slots == NULL)
		goto fail;
	if (c.prom_url != NULL) {
		if ((s->prom_url = strdup(c.prom_url)) == NULL)
			goto fail;
		if ((rv = nact_prom_serve(sys, s->prom_url, &s->prom)) != 0)
			goto fail;
	}
	nact_spawn_opts o = {.name = c.name};
	if ((rv = nact_spawn(&s->self, sys, mon_fn, s, mon_free, &o)) != 0)
		goto fail;
	/* from here the actor owns s */
	if (!c.no_watchdog && nng_thread_create(&s->wd, wd_main, s) != 0) {
		s->wd = NULL;
		nact_log(sys, NACT_LOG_ERROR, "monitor: no watchdog thread");
	} else if (s->wd != NULL) {
		nng_thread_set_name(s->wd, "nactor-watchdog");
	}
	nact_msg *t;
	if ((rv = nact_msg_alloc(&t, sys, NACT_MON_T_TICK)) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, t);
		s->tick_seq = 1;
		nact_pack_uint(&pk, 1);
		nacti_put64(nacti_hdr(t) + NACTI_OFF_SENDER, s->self.v);
		if ((rv = nact_pack_error(&pk)) == 0)
			rv = nacti_timer_add(sys, s->self, t, 0,
			    nact_now(sys) + (uint64_t)c.interval_ms * 1000000u, NULL);
		if (rv != 0)
			nact_msg_free(t);
	}
	if (rv != 0) {
		nact_stop(sys, s->self);
		return rv;
	}
	*idp = s->self;
	return 0;
fail:
	mon_free(s);
	return rv;
}
