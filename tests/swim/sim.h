/*
 * tests/swim/sim.h — a simulated network for SWIM state machines, in one
 * process and one thread: N nacti_swim objects, a virtual clock the test
 * advances, and a message queue with configurable latency, loss and
 * partitions. Deterministic for a given seed.
 *
 *   sim *S = sim_new(12, 42);          // 12 nodes, named n0..n11, not open yet
 *   sim_start(S, 0, 0);               // open node 0 at the current time
 *   sim_join(S, 3, 0);                // open node 3 and join through node 0
 *   sim_run(S, 5 * S->period);        // advance virtual time
 *   sim_kill(S, 3);                   // stop ticking it and delivering to/from it
 *
 * Addresses are "sim://<index>"; deliveries pass the sending node's name as
 * the authenticated peer name, as the transport will. Every node's events are recorded: the time
 * it last saw each other node change state (down_at) and per-kind counters.
 */
#ifndef NACT_TESTS_SWIM_SIM_H
#define NACT_TESTS_SWIM_SIM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/swim.h"

typedef struct simmsg {
	uint64_t at, order;
	uint32_t from, to;
	size_t len;
	char *buf;
} simmsg;

typedef struct simnode {
	struct sim *S;
	uint32_t idx;
	nacti_swim *sw; /* NULL: not started */
	int dead;       /* killed: no ticks, no delivery */
	int group;      /* partition group */
	uint64_t sent;  /* messages sent */
	uint64_t sent_bytes;
	uint64_t ev[5];    /* events seen, by kind */
	uint64_t *down_at; /* [n]: time this node last declared node j down, 0 = never */
	uint64_t *left_at; /* [n]: time this node saw node j leave */
	char name[16], addr[24];
} simnode;

typedef struct sim {
	uint32_t n;
	simnode *nodes;
	uint64_t now;
	uint64_t dt;      /* clock step */
	uint64_t period;  /* protocol period of every node */
	uint64_t lat_min; /* latency: lat_min + uniform [0, lat_jit) */
	uint64_t lat_jit;
	double loss; /* probability a message is dropped */
	uint64_t rng;
	uint64_t order;
	simmsg *q; /* binary heap on (at, order) */
	size_t nq, capq;
	uint64_t delivered, dropped;
	nacti_swim_config base; /* protocol parameters for every node */
	int log;                /* print events */
} sim;

static uint64_t sim_rnd(sim *S)
{
	uint64_t z = (S->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int sim_before(const simmsg *a, const simmsg *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void sim_push(sim *S, simmsg m)
{
	if (S->nq == S->capq) {
		S->capq = S->capq ? S->capq * 2 : 1024;
		S->q = realloc(S->q, S->capq * sizeof(*S->q));
		if (S->q == NULL)
			abort();
	}
	size_t i = S->nq++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!sim_before(&m, &S->q[p]))
			break;
		S->q[i] = S->q[p];
		i = p;
	}
	S->q[i] = m;
}

static simmsg sim_pop(sim *S)
{
	simmsg top = S->q[0];
	simmsg last = S->q[--S->nq];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= S->nq)
			break;
		if (c + 1 < S->nq && sim_before(&S->q[c + 1], &S->q[c]))
			c++;
		if (!sim_before(&S->q[c], &last))
			break;
		S->q[i] = S->q[c];
		i = c;
	}
	if (S->nq > 0)
		S->q[i] = last;
	return top;
}

static void sim_send_cb(void *arg, const char *name, const char *addr, const void *buf, size_t len)
{
	simnode *nd = arg;
	sim *S = nd->S;
	(void)name;
	nd->sent++;
	nd->sent_bytes += len;
	if (strncmp(addr, "sim://", 6) != 0)
		return;
	uint32_t to = (uint32_t)strtoul(addr + 6, NULL, 10);
	if (to >= S->n)
		return;
	if (S->loss > 0 && (double)(sim_rnd(S) % 1000000) < S->loss * 1e6) {
		S->dropped++;
		return;
	}
	simmsg m;
	m.at = S->now + S->lat_min + (S->lat_jit ? sim_rnd(S) % S->lat_jit : 0);
	m.order = S->order++;
	m.from = nd->idx;
	m.to = to;
	m.len = len;
	m.buf = malloc(len ? len : 1);
	if (m.buf == NULL)
		abort();
	memcpy(m.buf, buf, len);
	sim_push(S, m);
}

static void sim_event_cb(void *arg, nacti_swim_event ev, const nacti_swim_member *m)
{
	simnode *nd = arg;
	sim *S = nd->S;
	nd->ev[ev]++;
	uint32_t j = (uint32_t)strtoul(m->name + 1, NULL, 10);
	if (j < S->n) {
		if (ev == NACTI_SWIM_EV_DOWN)
			nd->down_at[j] = S->now;
		if (ev == NACTI_SWIM_EV_LEFT)
			nd->left_at[j] = S->now;
	}
	if (S->log)
		printf("  t=%.2fT %s: %s %s inc=%llu\n", (double)S->now / (double)S->period,
		    nd->name, nacti_swim_event_name(ev), m->name,
		    (unsigned long long)m->incarnation);
}

static sim *sim_new(uint32_t n, uint64_t seed)
{
	sim *S = calloc(1, sizeof(*S));
	if (S == NULL)
		abort();
	S->n = n;
	S->rng = seed;
	S->period = 1000000000ull;
	S->dt = 5000000ull;       /* 5 ms */
	S->lat_min = 1000000ull;  /* 1 ms */
	S->lat_jit = 10000000ull; /* + up to 10 ms */
	S->now = 1000000000ull;
	S->nodes = calloc(n, sizeof(*S->nodes));
	if (S->nodes == NULL)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		simnode *nd = &S->nodes[i];
		nd->S = S;
		nd->idx = i;
		nd->down_at = calloc(n, sizeof(uint64_t));
		nd->left_at = calloc(n, sizeof(uint64_t));
		if (nd->down_at == NULL || nd->left_at == NULL)
			abort();
		snprintf(nd->name, sizeof(nd->name), "n%u", i);
		snprintf(nd->addr, sizeof(nd->addr), "sim://%u", i);
	}
	return S;
}

/* Open node i (again: a restart) with incarnation inc. */
static int sim_start(sim *S, uint32_t i, uint64_t inc)
{
	simnode *nd = &S->nodes[i];
	nacti_swim_config c = S->base;
	nacti_swim_close(nd->sw);
	nd->sw = NULL;
	nd->dead = 0;
	c.name = nd->name;
	c.addr = nd->addr;
	c.incarnation = inc;
	c.seed = sim_rnd(S) | 1;
	c.period_ns = S->period;
	c.send = sim_send_cb;
	c.send_arg = nd;
	c.event = sim_event_cb;
	c.event_arg = nd;
	return nacti_swim_open(&nd->sw, &c, S->now);
}

static int sim_join(sim *S, uint32_t i, uint32_t seed)
{
	const char *a = S->nodes[seed].addr;
	int rv = sim_start(S, i, 0);
	return rv ? rv : nacti_swim_join(S->nodes[i].sw, &a, 1, S->now);
}

static void sim_kill(sim *S, uint32_t i)
{
	S->nodes[i].dead = 1;
}

static int sim_up(const sim *S, uint32_t i)
{
	const simnode *nd = &S->nodes[i];
	if (nd->sw == NULL || nd->dead)
		return 0;
	nacti_swim_member m;
	nacti_swim_member_at(nd->sw, 0, &m);
	return m.state != NACTI_SWIM_LEFT;
}

static void sim_deliver_due(sim *S)
{
	while (S->nq > 0 && S->q[0].at <= S->now) {
		simmsg m = sim_pop(S);
		simnode *to = &S->nodes[m.to];
		simnode *from = &S->nodes[m.from];
		if (to->sw != NULL && !to->dead && !from->dead && to->group == from->group) {
			S->delivered++;
			nacti_swim_receive(to->sw, m.buf, m.len, from->name, S->now);
		} else {
			S->dropped++;
		}
		free(m.buf);
	}
}

/* Advance virtual time by d, delivering and ticking as it goes. */
static void sim_run(sim *S, uint64_t d)
{
	uint64_t end = S->now + d;
	while (S->now < end) {
		S->now += S->dt;
		sim_deliver_due(S);
		for (uint32_t i = 0; i < S->n; i++) {
			simnode *nd = &S->nodes[i];
			if (nd->sw != NULL && !nd->dead &&
			    nacti_swim_next_deadline(nd->sw) <= S->now)
				nacti_swim_tick(nd->sw, S->now);
		}
	}
}

/* Does every up node other than j see node j in state st? */
static int sim_all_see(const sim *S, uint32_t j, nacti_swim_state st)
{
	for (uint32_t i = 0; i < S->n; i++) {
		if (i == j || !sim_up(S, i))
			continue;
		nacti_swim_member m;
		if (nacti_swim_find(S->nodes[i].sw, S->nodes[j].name, &m) != 0 || m.state != st)
			return 0;
	}
	return 1;
}

/* Converged: every up node sees exactly the up nodes alive. */
static int sim_converged(const sim *S)
{
	size_t up = 0;
	for (uint32_t i = 0; i < S->n; i++)
		up += sim_up(S, i);
	for (uint32_t i = 0; i < S->n; i++) {
		if (!sim_up(S, i))
			continue;
		if (nacti_swim_live(S->nodes[i].sw) != up)
			return 0;
		for (uint32_t j = 0; j < S->n; j++) {
			if (j == i || !sim_up(S, j))
				continue;
			nacti_swim_member m;
			if (nacti_swim_find(S->nodes[i].sw, S->nodes[j].name, &m) != 0 ||
			    m.state != NACTI_SWIM_ALIVE)
				return 0;
		}
	}
	return 1;
}

/* Run in steps of one period until cond holds or maxp periods pass; out
 * gets the number of periods taken, or -1. */
#define SIM_UNTIL(S, cond, maxp, out)                                     \
	do {                                                              \
		(out) = -1;                                               \
		for (long sim_i_ = 0; sim_i_ <= (long)(maxp); sim_i_++) { \
			if (cond) {                                       \
				(out) = sim_i_;                           \
				break;                                    \
			}                                                 \
			sim_run((S), (S)->period);                        \
		}                                                         \
	} while (0)

/* Run in clock steps until cond holds or maxns passes; out gets the time
 * taken in ns, or UINT64_MAX. */
#define SIM_UNTIL_NS(S, cond, maxns, out)                   \
	do {                                                \
		uint64_t sim_t0_ = (S)->now;                \
		(out) = UINT64_MAX;                         \
		for (;;) {                                  \
			if (cond) {                         \
				(out) = (S)->now - sim_t0_; \
				break;                      \
			}                                   \
			if ((S)->now - sim_t0_ >= (maxns))  \
				break;                      \
			sim_run((S), (S)->dt);              \
		}                                           \
	} while (0)

static void sim_free(sim *S)
{
	for (uint32_t i = 0; i < S->n; i++) {
		nacti_swim_close(S->nodes[i].sw);
		free(S->nodes[i].down_at);
		free(S->nodes[i].left_at);
	}
	while (S->nq > 0) {
		simmsg m = sim_pop(S);
		free(m.buf);
	}
	free(S->q);
	free(S->nodes);
	free(S);
}

#endif /* NACT_TESTS_SWIM_SIM_H */
