/*
 * transport/members.c — the node drives the SWIM state machine
 * (transport/members.h, docs/members.md).
 *
 * One lock (m->mtx) serialises every call on the nacti_swim: the tick (an
 * nng sleep aio re-armed at the module's next deadline), frames received
 * from peers (nng's receive callback) and queries from any thread. The
 * module's callbacks run under that lock and call into the node (which
 * takes its own locks after ours).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "actors/internal.h"
#include "transport/members.h"
#include "transport/swim.h"

struct nacti_members {
	struct nacti_node *node;
	nact_system *sys;
	nng_mtx *mtx;
	nng_aio *aio;
	nacti_swim *swim; /* m->mtx */
	int closing;      /* m->mtx */
	int left;         /* m->mtx */
	uint64_t start_ns;
	uint64_t period_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_send(void *arg, const char *name, const char *addr, const void *buf, size_t len)
{
	struct nacti_members *m = arg;
	nacti_node_swim_send(m->node, name, addr, buf, len);
}

static void on_event(void *arg, nacti_swim_event ev, const nacti_swim_member *mb)
{
	struct nacti_members *m = arg;
	if (mb->self)
		return;
	nact_log(m->sys, ev == NACTI_SWIM_EV_DOWN ? NACT_LOG_WARN : NACT_LOG_INFO,
	    "members: %s (%s) %s, incarnation %llu", mb->name, mb->addr, nacti_swim_event_name(ev),
	    (unsigned long long)mb->incarnation);
	switch (ev) {
	case NACTI_SWIM_EV_JOINED:
	case NACTI_SWIM_EV_ALIVE:
		nacti_node_member_event(m->node, 0, mb->name, mb->addr);
		break;
	case NACTI_SWIM_EV_DOWN:
		nacti_node_member_event(m->node, 1, mb->name, mb->addr);
		break;
	case NACTI_SWIM_EV_LEFT:
		nacti_node_member_event(m->node, 2, mb->name, mb->addr);
		break;
	default:
		break;
	}
}

/* Re-arm the tick at the module's next deadline (m->mtx held). */
static void arm(struct nacti_members *m)
{
	if (m->closing || m->left)
		return;
	uint64_t now = mono_ns(), dl = nacti_swim_next_deadline(m->swim);
	uint64_t ms = dl > now ? (dl - now + 999999) / 1000000 : 0;
	if (ms > 1000)
		ms = 1000;
	nng_sleep_aio((nng_duration)ms, m->aio);
}

static void tick_cb(void *arg)
{
	struct nacti_members *m = arg;
	/* a cancel (a received message may move the deadline) ticks too */
	nng_mtx_lock(m->mtx);
	if (!m->closing && !m->left) {
		nacti_swim_tick(m->swim, mono_ns());
		arm(m);
	}
	nng_mtx_unlock(m->mtx);
}

int nacti_members_open(nacti_members **out, struct nacti_node *n, nact_system *sys,
    const char *name, const char *adv, const nact_node_opts *o)
{
	struct nacti_members *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NACT_ENOMEM;
	m->node = n;
	m->sys = sys;
	if (nng_mtx_alloc(&m->mtx) != 0 || nng_aio_alloc(&m->aio, tick_cb, m) != 0) {
		nacti_members_close(m);
		return NACT_ENOMEM;
	}
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	nacti_swim_config c;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.addr = adv;
	/* a restarted node comes back with a higher incarnation than the one
	 * the others remember, so it rejoins without a refutation round */
	c.incarnation = (uint64_t)rt.tv_sec * 1000u + (uint64_t)rt.tv_nsec / 1000000u;
	c.seed = (uint64_t)rt.tv_nsec ^ ((uint64_t)rt.tv_sec << 20) ^ (uint64_t)(uintptr_t)m;
	c.period_ns = (uint64_t)(o->swim_period_ms ? o->swim_period_ms : 1000) * 1000000u;
	c.suspicion_mult = o->swim_suspicion_mult;
	c.max_members = NACT_NODE_MAX_PEERS + 1; /* the node's peer table, and self */
	c.send = on_send;
	c.send_arg = m;
	c.event = on_event;
	c.event_arg = m;
	m->period_ns = c.period_ns;
	m->start_ns = mono_ns();
	int rv = nacti_swim_open(&m->swim, &c, m->start_ns);
	if (rv != 0) {
		nacti_members_close(m);
		return rv;
	}
	nng_mtx_lock(m->mtx);
	if (o->nseeds > 0)
		rv = nacti_swim_join(m->swim, o->seeds, o->nseeds, m->start_ns);
	if (rv == 0)
		arm(m);
	nng_mtx_unlock(m->mtx);
	if (rv != 0) {
		nacti_members_close(m);
		return rv;
	}
	*out = m;
	return 0;
}

void nacti_members_leave(nacti_members *m)
{
	if (m == NULL)
		return;
	nng_mtx_lock(m->mtx);
	if (!m->left && !m->closing) {
		m->left = 1;
		nacti_swim_leave(m->swim, mono_ns());
	}
	nng_mtx_unlock(m->mtx);
}

void nacti_members_close(nacti_members *m)
{
	if (m == NULL)
		return;
	if (m->mtx != NULL) {
		nng_mtx_lock(m->mtx);
		m->closing = 1;
		nng_mtx_unlock(m->mtx);
	}
	if (m->aio != NULL) {
		nng_aio_stop(m->aio);
		nng_aio_free(m->aio);
	}
	nacti_swim_close(m->swim);
	if (m->mtx != NULL)
		nng_mtx_free(m->mtx);
	free(m);
}

void nacti_members_receive(nacti_members *m, const char *from_name, const void *buf, size_t len)
{
	nng_mtx_lock(m->mtx);
	if (!m->closing && !m->left) {
		int rv = nacti_swim_receive(m->swim, buf, len, from_name, mono_ns());
		if (rv != 0)
			NACTI_DEBUG(m->sys, "members: message from %s rejected: %s", from_name,
			    nact_strerror(rv));
		/* the message may have moved the next deadline earlier */
		nng_aio_cancel(m->aio);
	}
	nng_mtx_unlock(m->mtx);
}

static nact_member_state map_state(nacti_swim_state s)
{
	switch (s) {
	case NACTI_SWIM_SUSPECT:
		return NACT_MEMBER_SUSPECT;
	case NACTI_SWIM_DOWN:
		return NACT_MEMBER_DOWN;
	case NACTI_SWIM_LEFT:
		return NACT_MEMBER_LEFT;
	default:
		return NACT_MEMBER_ALIVE;
	}
}

int nacti_members_list(nacti_members *m, nact_node_member *out, size_t max, size_t *np)
{
	nng_mtx_lock(m->mtx);
	size_t cnt = nacti_swim_count(m->swim);
	for (size_t i = 0; i < cnt && i < max; i++) {
		nacti_swim_member mb;
		nact_node_member *o = &out[i];
		memset(o, 0, sizeof(*o));
		if (nacti_swim_member_at(m->swim, i, &mb) != 0)
			continue;
		snprintf(o->name, sizeof(o->name), "%s", mb.name);
		snprintf(o->url, sizeof(o->url), "%s", mb.addr);
		o->state = map_state(mb.state);
		o->incarnation = mb.incarnation;
		o->self = mb.self;
	}
	nng_mtx_unlock(m->mtx);
	/* peer numbers outside our lock's critical section would be fine too;
	 * the node's lock comes after ours in any case */
	for (size_t i = 0; i < cnt && i < max; i++)
		if (!out[i].self)
			nacti_node_peer_info(m->node, out[i].name, &out[i].node, &out[i].connected);
	*np = cnt;
	return 0;
}

int nacti_members_stats(nacti_members *m, nact_members_stats *st)
{
	memset(st, 0, sizeof(*st));
	nng_mtx_lock(m->mtx);
	nacti_swim_stats s;
	nacti_swim_stats_get(m->swim, &s);
	size_t live = nacti_swim_live(m->swim);
	st->suspicion_ms = nacti_swim_suspicion_ns(m->swim, live) / 1000000u;
	nng_mtx_unlock(m->mtx);
	st->period_ms = m->period_ns / 1000000u;
	st->periods = (mono_ns() - m->start_ns) / m->period_ns;
	st->live = live;
	st->sent = s.sent;
	st->sent_bytes = s.sent_bytes;
	st->received = s.received;
	st->bad = s.bad;
	st->probes = s.probes;
	st->ping_reqs = s.ping_reqs;
	st->suspected = s.suspected;
	st->refuted = s.refuted;
	st->syncs = s.syncs;
	return 0;
}

const char *nact_member_state_name(nact_member_state st)
{
	switch (st) {
	case NACT_MEMBER_ALIVE:
		return "alive";
	case NACT_MEMBER_SUSPECT:
		return "suspect";
	case NACT_MEMBER_DOWN:
		return "down";
	case NACT_MEMBER_LEFT:
		return "left";
	}
	return "?";
}
