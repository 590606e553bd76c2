/*
 * transport/swim.c — SWIM membership as a pure state machine (swim.h).
 *
 * DESIGN
 * The member table is an array (index 0 is self) with an open-addressing
 * hash index on the name; members are never removed (a down or left member
 * stays as a tombstone, so an old rumour cannot resurrect it and a healed
 * partition can be reconnected). Probe targets come round-robin from a
 * shuffled list of the live members; a member that joins is inserted at a
 * random place in the rest of the round (SWIM section 4.3).
 *
 * Dissemination: a member whose state changed in our view is queued with a
 * transmission count; every message we send piggybacks up to max_updates
 * queued members, and a member leaves the queue after
 * lambda * ceil(log10(n + 1)) transmissions. Order: urgent news first
 * (suspect, down, left, refutations, rejoins), then least transmitted,
 * then newest. The queue holds at most BQ_CAP entries: a join flood (every
 * newcomer is news to everyone) drops its stalest join news, which the
 * periodic syncs carry instead; urgent news is never dropped.
 *
 * Precedence of updates about a member with incarnation j in our view
 * (SWIM section 4.2): alive(i) wins if i > j; suspect(i) wins over alive if
 * i >= j and over suspect if i > j; down(i) wins over alive and suspect if
 * i >= j; left(i) wins over everything but left if i >= j. A member that
 * hears suspect, down or left about itself with i >= its own incarnation
 * refutes with alive(i + 1).
 *
 * Beyond the paper, against false "down" verdicts: the member that starts
 * a suspicion also tells the suspect directly (Lifeguard's "buddy
 * system"), so refutation starts at once; a member that holds someone
 * suspect pings one suspect per period besides its probe (the ping names
 * the suspicion, the ack carries the refutation); an ack relayed for a
 * ping-req carries the target's record. Push-pull syncs (full tables both ways, down entries merged as
 * suspect so the member concerned refutes) carry joins, run every
 * sync_periods with a random member, and every reconnect_periods with a
 * random down member, which is how the two sides of a healed partition
 * find each other again.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <nactor/error.h>
#include <nactor/mailbox.h>

#include "transport/swim.h"

enum msg_type {
	T_PING = 1,     /* probe: answer with T_ACK and the same seq */
	T_ACK = 2,      /* probe answered (directly or on behalf of the target) */
	T_PING_REQ = 3, /* probe target for me, ack me with my seq */
	T_SYNC = 4,     /* push-pull: my full table; answer with T_SYNC_ACK */
	T_SYNC_ACK = 5, /* push-pull answer: my full table */
	T_GOSSIP = 6,   /* updates only, no answer (leave, suspicion notice) */
};
#define T_MAX T_GOSSIP

#define NONE UINT32_MAX
#define NFWD 64           /* indirect probes in flight on our behalf of others */
#define SYNC_OVERHEAD 512 /* bytes kept for the header of a sync */
#define BQ_CAP 128        /* queued updates; beyond, the stalest news is dropped */

struct mem {
	char name[NACTI_SWIM_NAME_MAX + 1];
	char *addr;         /* owned */
	uint64_t inc;       /* incarnation */
	uint64_t susp_end;  /* suspicion deadline (SUSPECT) */
	uint64_t bq_seq;    /* queue order, newer = larger */
	uint64_t notice_at; /* last "you are down" notice sent to it */
	int32_t bq_tx;      /* transmissions so far; -1 = not queued */
	uint8_t bq_urgent;  /* a failure, leave or refutation: goes first */
	uint32_t bq_pos;    /* index in s->bq */
	uint64_t since;     /* when the state last changed */
	uint8_t state;      /* nacti_swim_state */
	uint8_t nl;         /* strlen(name) */
	uint16_t al;        /* strlen(addr) */
};

struct fwd {
	uint64_t my_seq;   /* seq of our ping to the target */
	uint64_t orig_seq; /* the requester's seq */
	uint64_t expires;
	uint32_t req; /* requester's index */
	int used;
};

/* An update decoded from a message (strings point into the message). */
struct upd {
	const char *name, *addr;
	size_t nl, al;
	uint64_t inc;
	uint8_t st;
};

struct nacti_swim {
	nacti_swim_config cfg;
	char *cname, *caddr; /* owned copies for cfg.name/addr */
	uint64_t rng;
	uint64_t seq;

	struct mem *mem; /* the table; mem[0] is self */
	uint32_t nmem, capmem;
	uint32_t *ht; /* name hash: member index + 1, 0 = empty */
	uint32_t htcap;
	uint32_t nlive, nsuspect; /* alive + suspect (self included), suspect */
	uint64_t susp_min;        /* no suspicion ends before this */

	uint32_t *probe; /* probe round: member indices */
	uint32_t nprobe, capprobe, probe_pos;

	uint32_t *bq; /* dissemination queue: member indices */
	uint32_t nbq, capbq;
	uint64_t bq_counter;

	/* the probe of the current period */
	uint32_t p_target;
	uint64_t p_seq, p_start;
	int p_active, p_acked, p_indirect;

	uint64_t now; /* the time of the call in progress */
	uint64_t next_period;
	uint64_t nperiod;
	struct fwd fwd[NFWD];

	char **seeds;
	size_t nseeds;
	int left;

	uint32_t *scratch; /* candidate lists */
	uint32_t capscratch;
	struct upd *ups; /* decoded updates */
	uint32_t capups;

	char *ob; /* the message being encoded */
	size_t olen, ocap;
	int oerr;
	msgpack_packer pk;

	nacti_swim_stats st;
};

/* ---- small helpers ---- */

static uint64_t rnd(nacti_swim *s)
{
	/* splitmix64: a good 64-bit generator from a counter. */
	uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(nacti_swim *s, uint32_t n)
{
	return n ? (uint32_t)(rnd(s) % n) : 0;
}

/* log10(x) for x >= 1, without libm (the library does not link it). */
static double log10_of(double x)
{
	int e = 0;
	double f = 0, b = 0.5;
	if (x <= 1)
		return 0;
	while (x >= 2) {
		x /= 2;
		e++;
	}
	for (int i = 0; i < 40; i++) {
		x *= x;
		if (x >= 2) {
			x /= 2;
			f += b;
		}
		b /= 2;
	}
	return (e + f) * 0.30102999566398120;
}

static uint32_t retransmit_limit(const nacti_swim *s)
{
	uint32_t d = 0;
	uint64_t p = 1;
	while (p < (uint64_t)s->nlive + 1) {
		p *= 10;
		d++;
	}
	if (d == 0)
		d = 1;
	return s->cfg.lambda * d;
}

uint64_t nacti_swim_suspicion_ns(const nacti_swim *s, size_t n)
{
	double sc = log10_of((double)(n ? n : 1));
	if (sc < 1)
		sc = 1;
	return (uint64_t)((double)s->cfg.suspicion_mult * sc * (double)s->cfg.period_ns + 0.5);
}

static uint32_t hash_name(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 16777619u;
	}
	return h;
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	uint32_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, (size_t)nc * elem);
	if (np == NULL)
		return NACT_ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static uint32_t find_idx(const nacti_swim *s, const char *name, size_t nl)
{
	uint32_t mask = s->htcap - 1;
	for (uint32_t i = hash_name(name, nl) & mask;; i = (i + 1) & mask) {
		uint32_t v = s->ht[i];
		if (v == 0)
			return NONE;
		const struct mem *m = &s->mem[v - 1];
		if (m->nl == nl && memcmp(m->name, name, nl) == 0)
			return v - 1;
	}
}

static void ht_put(nacti_swim *s, uint32_t idx)
{
	uint32_t mask = s->htcap - 1;
	uint32_t i = hash_name(s->mem[idx].name, s->mem[idx].nl) & mask;
	while (s->ht[i] != 0)
		i = (i + 1) & mask;
	s->ht[i] = idx + 1;
}

static int ht_grow(nacti_swim *s, uint32_t need)
{
	if (need * 2 <= s->htcap)
		return 0;
	uint32_t nc = s->htcap ? s->htcap : 64;
	while (need * 2 > nc)
		nc *= 2;
	uint32_t *nh = calloc(nc, sizeof(*nh));
	if (nh == NULL)
		return NACT_ENOMEM;
	free(s->ht);
	s->ht = nh;
	s->htcap = nc;
	for (uint32_t i = 0; i < s->nmem; i++)
		ht_put(s, i);
	return 0;
}

static void fill_member(const nacti_swim *s, uint32_t idx, nacti_swim_member *m)
{
	const struct mem *e = &s->mem[idx];
	m->name = e->name;
	m->addr = e->addr;
	m->incarnation = e->inc;
	m->state = (nacti_swim_state)e->state;
	m->self = idx == 0;
}

static void emit(nacti_swim *s, nacti_swim_event ev, uint32_t idx)
{
	if (s->cfg.event != NULL) {
		nacti_swim_member m;
		fill_member(s, idx, &m);
		s->cfg.event(s->cfg.event_arg, ev, &m);
	}
}

static int is_live(uint8_t st)
{
	return st == NACTI_SWIM_ALIVE || st == NACTI_SWIM_SUSPECT;
}

/* Change a member's state, keeping the counters right. */
static void set_state(nacti_swim *s, struct mem *m, uint8_t st)
{
	if (is_live(m->state) && !is_live(st))
		s->nlive--;
	else if (!is_live(m->state) && is_live(st))
		s->nlive++;
	if (m->state == NACTI_SWIM_SUSPECT)
		s->nsuspect--;
	if (st == NACTI_SWIM_SUSPECT)
		s->nsuspect++;
	m->state = st;
	m->since = s->now;
}

/* ---- dissemination queue ---- */

static void bq_remove(nacti_swim *s, uint32_t idx);
static int bq_before(const struct mem *a, const struct mem *b);

/*
 * The queue outgrew BQ_CAP (a join flood: every new member is news): keep
 * the best half and drop the rest of the non-urgent news. A queued update
 * drains at about 2 * max_updates / retransmit_limit per period, so a
 * longer backlog would take longer to gossip than the periodic syncs take
 * to spread the same members.
 */
static void bq_trim(nacti_swim *s)
{
	/* shell sort, best first (a few hundred entries at most) */
	static const uint32_t gaps[] = {57, 23, 10, 4, 1};
	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		uint32_t h = gaps[g];
		for (uint32_t i = h; i < s->nbq; i++) {
			uint32_t v = s->bq[i], j = i;
			while (j >= h && bq_before(&s->mem[v], &s->mem[s->bq[j - h]])) {
				s->bq[j] = s->bq[j - h];
				j -= h;
			}
			s->bq[j] = v;
		}
	}
	uint32_t keep = 0;
	for (uint32_t i = 0; i < s->nbq; i++) {
		struct mem *m = &s->mem[s->bq[i]];
		if (i < BQ_CAP / 2 || m->bq_urgent) {
			m->bq_pos = keep;
			s->bq[keep++] = s->bq[i];
		} else {
			m->bq_tx = -1;
		}
	}
	s->nbq = keep;
}

static void bq_push(nacti_swim *s, uint32_t idx, int urgent)
{
	struct mem *m = &s->mem[idx];
	m->bq_seq = ++s->bq_counter;
	m->bq_urgent = (uint8_t)urgent;
	if (m->bq_tx >= 0) {
		m->bq_tx = 0;
		return;
	}
	if (grow((void **)&s->bq, &s->capbq, s->nbq + 1, sizeof(*s->bq)) != 0)
		return; /* out of memory: the update is not gossiped; syncs repair it */
	m->bq_tx = 0;
	m->bq_pos = s->nbq;
	s->bq[s->nbq++] = idx;
	if (s->nbq > BQ_CAP)
		bq_trim(s);
}

static void bq_remove(nacti_swim *s, uint32_t idx)
{
	struct mem *m = &s->mem[idx];
	if (m->bq_tx < 0)
		return;
	uint32_t last = s->bq[--s->nbq];
	s->bq[m->bq_pos] = last;
	s->mem[last].bq_pos = m->bq_pos;
	m->bq_tx = -1;
}

/* Is queued member a to be sent before b? Urgent news first (failures,
 * leaves, refutations, rejoins: rare, and a join flood must not delay
 * them), then the least sent, then the newest. */
static int bq_before(const struct mem *a, const struct mem *b)
{
	if (a->bq_urgent != b->bq_urgent)
		return a->bq_urgent > b->bq_urgent;
	if (a->bq_tx != b->bq_tx)
		return a->bq_tx < b->bq_tx;
	return a->bq_seq > b->bq_seq;
}

/* Pick up to max queued members, best first, into out. */
static uint32_t bq_select(nacti_swim *s, uint32_t *out, uint32_t max, uint32_t skip)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->nbq; i++) {
		uint32_t idx = s->bq[i];
		if (idx == skip)
			continue;
		const struct mem *c = &s->mem[idx];
		uint32_t j = n;
		/* find the insertion point: before the first worse element */
		while (j > 0) {
			if (bq_before(&s->mem[out[j - 1]], c))
				break;
			j--;
		}
		if (j >= max)
			continue;
		uint32_t e = n < max ? n : max - 1;
		memmove(&out[j + 1], &out[j], (e - j) * sizeof(*out));
		out[j] = idx;
		if (n < max)
			n++;
	}
	return n;
}

/* ---- probe round ---- */

static void probe_insert(nacti_swim *s, uint32_t idx)
{
	if (grow((void **)&s->probe, &s->capprobe, s->nprobe + 1, sizeof(*s->probe)) != 0)
		return; /* it joins the next round instead */
	s->probe[s->nprobe++] = idx;
	uint32_t lo = s->probe_pos;
	uint32_t j = lo + rnd_below(s, s->nprobe - lo);
	uint32_t t = s->probe[j];
	s->probe[j] = s->probe[s->nprobe - 1];
	s->probe[s->nprobe - 1] = t;
}

static void probe_rebuild(nacti_swim *s)
{
	s->nprobe = 0;
	s->probe_pos = 0;
	if (grow((void **)&s->probe, &s->capprobe, s->nmem, sizeof(*s->probe)) != 0)
		return;
	for (uint32_t i = 1; i < s->nmem; i++)
		if (is_live(s->mem[i].state))
			s->probe[s->nprobe++] = i;
	for (uint32_t i = s->nprobe; i > 1; i--) {
		uint32_t j = rnd_below(s, i);
		uint32_t t = s->probe[i - 1];
		s->probe[i - 1] = s->probe[j];
		s->probe[j] = t;
	}
}

static uint32_t probe_next(nacti_swim *s)
{
	for (int pass = 0; pass < 2; pass++) {
		while (s->probe_pos < s->nprobe) {
			uint32_t idx = s->probe[s->probe_pos++];
			if (is_live(s->mem[idx].state))
				return idx;
		}
		probe_rebuild(s);
	}
	return NONE;
}

/* ---- encoding ---- */

static int out_write(void *data, const char *buf, size_t len)
{
	nacti_swim *s = data;
	if (s->olen + len > s->ocap) {
		size_t nc = s->ocap ? s->ocap : 1024;
		while (nc < s->olen + len)
			nc *= 2;
		char *nb = realloc(s->ob, nc);
		if (nb == NULL) {
			s->oerr = 1;
			return -1;
		}
		s->ob = nb;
		s->ocap = nc;
	}
	memcpy(s->ob + s->olen, buf, len);
	s->olen += len;
	return 0;
}

static void pack_str(nacti_swim *s, const char *p, size_t n)
{
	msgpack_pack_str(&s->pk, n);
	msgpack_pack_str_body(&s->pk, p, n);
}

static void pack_member(nacti_swim *s, uint32_t idx)
{
	const struct mem *m = &s->mem[idx];
	msgpack_pack_array(&s->pk, 4);
	msgpack_pack_uint8(&s->pk, m->state);
	pack_str(s, m->name, m->nl);
	pack_str(s, m->addr, m->al);
	msgpack_pack_uint64(&s->pk, m->inc);
}

/* [version, type, seq, [name, addr, inc], target] — the first five of six. */
static void pack_head(nacti_swim *s, int type, uint64_t seq, uint32_t target)
{
	s->olen = 0;
	s->oerr = 0;
	msgpack_pack_array(&s->pk, 6);
	msgpack_pack_uint8(&s->pk, NACTI_SWIM_VERSION);
	msgpack_pack_uint8(&s->pk, (uint8_t)type);
	msgpack_pack_uint64(&s->pk, seq);
	msgpack_pack_array(&s->pk, 3);
	pack_str(s, s->mem[0].name, s->mem[0].nl);
	pack_str(s, s->mem[0].addr, s->mem[0].al);
	msgpack_pack_uint64(&s->pk, s->mem[0].inc);
	if (target == NONE) {
		msgpack_pack_nil(&s->pk);
	} else {
		msgpack_pack_array(&s->pk, 2);
		pack_str(s, s->mem[target].name, s->mem[target].nl);
		pack_str(s, s->mem[target].addr, s->mem[target].al);
	}
}

static void deliver(nacti_swim *s, const char *name, const char *addr)
{
	if (s->oerr)
		return; /* out of memory: the message is lost, as on a lossy network */
	s->st.sent++;
	s->st.sent_bytes += s->olen;
	s->cfg.send(s->cfg.send_arg, name, addr, s->ob, s->olen);
}

/* Send a message with piggybacked updates: forced first (NONE for none),
 * then the queue. */
static void send_msg(nacti_swim *s, const char *name, const char *addr, int type, uint64_t seq,
    uint32_t target, uint32_t forced)
{
	uint32_t sel[64];
	uint32_t max = s->cfg.max_updates;
	uint32_t nf = forced != NONE ? 1 : 0;
	uint32_t n = bq_select(s, sel, max > nf ? max - nf : 0, forced);
	pack_head(s, type, seq, target);
	msgpack_pack_array(&s->pk, n + nf);
	if (nf)
		pack_member(s, forced);
	for (uint32_t i = 0; i < n; i++)
		pack_member(s, sel[i]);
	deliver(s, name, addr);
	uint32_t lim = retransmit_limit(s);
	for (uint32_t i = 0; i < n; i++) {
		struct mem *m = &s->mem[sel[i]];
		if (++m->bq_tx >= (int32_t)lim)
			bq_remove(s, sel[i]);
	}
}

static void send_to(nacti_swim *s, uint32_t idx, int type, uint64_t seq, uint32_t target,
    uint32_t forced)
{
	send_msg(s, s->mem[idx].name, s->mem[idx].addr, type, seq, target, forced);
}

/* A sync: our whole table (as much as fits), self first. */
static void send_sync(nacti_swim *s, const char *name, const char *addr, int type)
{
	size_t budget =
	    s->cfg.max_msg_bytes > SYNC_OVERHEAD ? s->cfg.max_msg_bytes - SYNC_OVERHEAD : 0;
	uint32_t n = 0, off = s->nmem > 1 ? 1 + rnd_below(s, s->nmem - 1) : 1;
	size_t used = 0;
	/* count what fits, starting at a random member so a truncated sync
	 * still covers the table over time */
	for (uint32_t k = 0; k < s->nmem; k++) {
		uint32_t i = k == 0 ? 0 : 1 + (off - 1 + k - 1) % (s->nmem - 1);
		size_t sz = 16 + (size_t)s->mem[i].nl + s->mem[i].al;
		if (used + sz > budget)
			break;
		used += sz;
		n++;
	}
	pack_head(s, type, ++s->seq, NONE);
	msgpack_pack_array(&s->pk, n);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = k == 0 ? 0 : 1 + (off - 1 + k - 1) % (s->nmem - 1);
		pack_member(s, i);
	}
	deliver(s, name, addr);
}

/* ---- applying updates ---- */

static uint32_t add_member(nacti_swim *s, const char *name, size_t nl, const char *addr, size_t al,
    uint64_t inc, uint8_t st)
{
	if (s->nmem >= s->cfg.max_members) {
		s->st.ignored++;
		return NONE;
	}
	if (grow((void **)&s->mem, &s->capmem, s->nmem + 1, sizeof(*s->mem)) != 0 ||
	    ht_grow(s, s->nmem + 1) != 0)
		return NONE;
	char *a = malloc(al + 1);
	if (a == NULL)
		return NONE;
	memcpy(a, addr, al);
	a[al] = 0;
	uint32_t idx = s->nmem++;
	struct mem *m = &s->mem[idx];
	memset(m, 0, sizeof(*m));
	memcpy(m->name, name, nl);
	m->name[nl] = 0;
	m->addr = a;
	m->nl = (uint8_t)nl;
	m->al = (uint16_t)al;
	m->inc = inc;
	m->bq_tx = -1;
	m->state = NACTI_SWIM_DOWN; /* not live: set_state counts the change */
	set_state(s, m, st);
	ht_put(s, idx);
	return idx;
}

static void set_addr(struct mem *m, const char *addr, size_t al)
{
	if (m->al == al && memcmp(m->addr, addr, al) == 0)
		return;
	char *a = malloc(al + 1);
	if (a == NULL)
		return; /* keep the old address */
	memcpy(a, addr, al);
	a[al] = 0;
	free(m->addr);
	m->addr = a;
	m->al = (uint16_t)al;
}

static void refute(nacti_swim *s, uint64_t inc)
{
	s->mem[0].inc = inc < NACTI_SWIM_INC_MAX ? inc + 1 : NACTI_SWIM_INC_MAX;
	s->st.refuted++;
	bq_push(s, 0, 1);
}

/* Mark idx suspect at inc, from our own observation or a rumour. notify:
 * we start this suspicion, so tell the suspect directly. */
static void suspect(nacti_swim *s, uint32_t idx, uint64_t inc, uint64_t now, int notify)
{
	struct mem *m = &s->mem[idx];
	int was_alive = m->state == NACTI_SWIM_ALIVE;
	m->inc = inc;
	if (was_alive) {
		set_state(s, m, NACTI_SWIM_SUSPECT);
		m->susp_end = now + nacti_swim_suspicion_ns(s, s->nlive);
		if (s->nsuspect == 1 || m->susp_end < s->susp_min)
			s->susp_min = m->susp_end;
		s->st.suspected++;
	}
	bq_push(s, idx, 1);
	if (was_alive)
		emit(s, NACTI_SWIM_EV_SUSPECT, idx);
	if (notify)
		send_to(s, idx, T_GOSSIP, 0, NONE, idx);
}

/*
 * Apply one update. sync: it comes from a push-pull sync, where down is
 * merged as suspect (the member concerned then refutes or is confirmed
 * down by our own timer). Returns the member's index or NONE.
 */
static uint32_t apply(nacti_swim *s, const struct upd *u, uint64_t now, int sync)
{
	char nm[NACTI_SWIM_NAME_MAX + 1];
	uint8_t st = u->st;
	memcpy(nm, u->name, u->nl);
	nm[u->nl] = 0;
	if (strcmp(nm, s->mem[0].name) == 0) {
		if (s->left)
			return 0;
		if ((st == NACTI_SWIM_ALIVE && u->inc > s->mem[0].inc) ||
		    (st != NACTI_SWIM_ALIVE && u->inc >= s->mem[0].inc))
			refute(s, u->inc);
		return 0;
	}
	uint32_t idx = find_idx(s, nm, u->nl);
	if (idx == NONE) {
		if (st == NACTI_SWIM_SUSPECT)
			return NONE; /* the alive update or a sync will introduce it */
		idx = add_member(s, nm, u->nl, u->addr, u->al, u->inc, st);
		if (idx != NONE && st == NACTI_SWIM_ALIVE) {
			probe_insert(s, idx);
			bq_push(s, idx, 0);
			emit(s, NACTI_SWIM_EV_JOINED, idx);
		}
		return idx;
	}
	struct mem *m = &s->mem[idx];
	uint8_t prev = m->state;
	if (sync && st == NACTI_SWIM_DOWN)
		st = NACTI_SWIM_SUSPECT;
	switch (st) {
	case NACTI_SWIM_ALIVE:
		if (u->inc <= m->inc)
			break;
		m->inc = u->inc;
		set_addr(m, u->addr, u->al);
		set_state(s, m, NACTI_SWIM_ALIVE);
		bq_push(s, idx, prev != NACTI_SWIM_ALIVE);
		if (prev == NACTI_SWIM_SUSPECT) {
			emit(s, NACTI_SWIM_EV_ALIVE, idx);
		} else if (!is_live(prev)) {
			probe_insert(s, idx);
			emit(s, NACTI_SWIM_EV_JOINED, idx);
		}
		break;
	case NACTI_SWIM_SUSPECT:
		if ((prev == NACTI_SWIM_ALIVE && u->inc >= m->inc) ||
		    (prev == NACTI_SWIM_SUSPECT && u->inc > m->inc))
			suspect(s, idx, u->inc, now, sync && prev == NACTI_SWIM_ALIVE);
		break;
	case NACTI_SWIM_DOWN:
		if (is_live(prev) && u->inc >= m->inc) {
			m->inc = u->inc;
			set_state(s, m, NACTI_SWIM_DOWN);
			bq_push(s, idx, 1);
			emit(s, NACTI_SWIM_EV_DOWN, idx);
		} else if (prev == NACTI_SWIM_DOWN && u->inc > m->inc) {
			m->inc = u->inc;
		}
		break;
	case NACTI_SWIM_LEFT:
		if (prev != NACTI_SWIM_LEFT && u->inc >= m->inc) {
			m->inc = u->inc;
			set_state(s, m, NACTI_SWIM_LEFT);
			bq_push(s, idx, 1);
			emit(s, NACTI_SWIM_EV_LEFT, idx);
		}
		break;
	}
	return idx;
}

/* ---- decoding ---- */

static int read_name(nact_reader *r, const char **p, size_t *n, size_t max)
{
	int rv = nact_read_str(r, p, n);
	if (rv != 0)
		return rv;
	if (*n == 0 || *n > max || memchr(*p, 0, *n) != NULL)
		return NACT_EMALFORMED;
	return 0;
}

struct parsed {
	uint64_t type, seq;
	struct upd from;
	int has_target;
	struct upd target;
	uint32_t nups;
};

static int parse(nacti_swim *s, const void *buf, size_t len, struct parsed *p)
{
	nact_limits lim = {
	    .max_body = s->cfg.max_msg_bytes,
	    .max_depth = 3,
	    .max_elems = s->cfg.max_members + 16,
	    .max_total = (s->cfg.max_members + 16) * 6,
	};
	nact_reader r;
	uint32_t n;
	uint64_t ver;
	int rv = nact_reader_init_buf(&r, buf, len, &lim);
	if (rv != 0)
		return rv;
	if ((rv = nact_read_array(&r, &n)) != 0) {
		if (rv == NACT_EEOF)
			rv = NACT_ETRUNC; /* empty */
		goto out;
	}
	rv = NACT_EMALFORMED;
	if (n < 1)
		goto out;
	if ((rv = nact_read_uint(&r, &ver)) != 0)
		goto out;
	if (ver != NACTI_SWIM_VERSION) {
		rv = NACT_EPROTO;
		goto out;
	}
	rv = NACT_EMALFORMED;
	if (n < 6) /* a v1 reader ignores elements after the sixth */
		goto out;
	if ((rv = nact_read_uint(&r, &p->type)) != 0 || (rv = nact_read_uint(&r, &p->seq)) != 0)
		goto out;
	rv = NACT_EMALFORMED;
	if (p->type < T_PING || p->type > T_MAX)
		goto out;
	/* sender */
	if ((rv = nact_read_array(&r, &n)) != 0)
		goto out;
	rv = NACT_EMALFORMED;
	if (n != 3)
		goto out;
	if ((rv = read_name(&r, &p->from.name, &p->from.nl, NACTI_SWIM_NAME_MAX)) != 0 ||
	    (rv = read_name(&r, &p->from.addr, &p->from.al, NACTI_SWIM_ADDR_MAX)) != 0 ||
	    (rv = nact_read_uint(&r, &p->from.inc)) != 0 || (rv = nact_read_leave(&r)) != 0)
		goto out;
	rv = NACT_ERANGE;
	if (p->from.inc > NACTI_SWIM_INC_MAX)
		goto out;
	p->from.st = NACTI_SWIM_ALIVE;
	/* target */
	p->has_target = 0;
	if (nact_read_nil(&r) != 0) {
		if ((rv = nact_read_array(&r, &n)) != 0)
			goto out;
		rv = NACT_EMALFORMED;
		if (n != 2)
			goto out;
		if ((rv = read_name(&r, &p->target.name, &p->target.nl, NACTI_SWIM_NAME_MAX)) !=
		        0 ||
		    (rv = read_name(&r, &p->target.addr, &p->target.al, NACTI_SWIM_ADDR_MAX)) !=
		        0 ||
		    (rv = nact_read_leave(&r)) != 0)
			goto out;
		p->has_target = 1;
	}
	rv = NACT_EMALFORMED;
	if (p->type == T_PING_REQ && !p->has_target)
		goto out;
	/* updates */
	if ((rv = nact_read_array(&r, &n)) != 0)
		goto out;
	if ((rv = grow((void **)&s->ups, &s->capups, n, sizeof(*s->ups))) != 0)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		struct upd *u = &s->ups[i];
		uint32_t f;
		uint64_t stv;
		if ((rv = nact_read_array(&r, &f)) != 0)
			goto out;
		rv = NACT_EMALFORMED;
		if (f != 4)
			goto out;
		if ((rv = nact_read_uint(&r, &stv)) != 0 ||
		    (rv = read_name(&r, &u->name, &u->nl, NACTI_SWIM_NAME_MAX)) != 0 ||
		    (rv = read_name(&r, &u->addr, &u->al, NACTI_SWIM_ADDR_MAX)) != 0 ||
		    (rv = nact_read_uint(&r, &u->inc)) != 0 || (rv = nact_read_leave(&r)) != 0)
			goto out;
		rv = NACT_EMALFORMED;
		if (stv > NACTI_SWIM_LEFT)
			goto out;
		rv = NACT_ERANGE;
		if (u->inc > NACTI_SWIM_INC_MAX)
			goto out;
		u->st = (uint8_t)stv;
	}
	p->nups = n;
	/* out of the updates and the message: nothing may follow it */
	if ((rv = nact_read_leave(&r)) != 0 || (rv = nact_read_leave(&r)) != 0)
		goto out;
	rv = nact_read_done(&r) ? 0 : NACT_EMALFORMED;
out:
	nact_reader_fini(&r);
	return rv;
}

/* ---- the protocol ---- */

/* An ACK from member `from`: ours, or one to relay to a ping-req's
 * requester. The relay carries the target's record (alive at its current
 * incarnation), so that a requester that suspects it learns of its
 * refutation as surely as from a direct ack. */
static void on_ack(nacti_swim *s, uint64_t seq, uint32_t from)
{
	if (s->p_active && seq == s->p_seq) {
		s->p_acked = 1;
		return;
	}
	for (int i = 0; i < NFWD; i++) {
		struct fwd *f = &s->fwd[i];
		if (f->used && f->my_seq == seq) {
			f->used = 0;
			send_to(s, f->req, T_ACK, f->orig_seq, NONE, from);
			return;
		}
	}
}

static void on_ping_req(nacti_swim *s, const struct parsed *p, uint32_t from, uint64_t now)
{
	char nm[NACTI_SWIM_NAME_MAX + 1], ad[NACTI_SWIM_ADDR_MAX + 1];
	memcpy(nm, p->target.name, p->target.nl);
	nm[p->target.nl] = 0;
	memcpy(ad, p->target.addr, p->target.al);
	ad[p->target.al] = 0;
	if (strcmp(nm, s->mem[0].name) == 0) {
		send_to(s, from, T_ACK, p->seq, NONE, NONE);
		return;
	}
	/* reuse the oldest slot when full */
	struct fwd *f = &s->fwd[0];
	for (int i = 0; i < NFWD; i++) {
		if (!s->fwd[i].used) {
			f = &s->fwd[i];
			break;
		}
		if (s->fwd[i].expires < f->expires)
			f = &s->fwd[i];
	}
	f->used = 1;
	f->my_seq = ++s->seq;
	f->orig_seq = p->seq;
	f->req = from;
	f->expires = now + s->cfg.period_ns;
	/* the target is probed at the address the requester gave, known to us
	 * or not: nothing is added to the table on a requester's word */
	uint32_t t = find_idx(s, nm, p->target.nl);
	send_msg(s, nm, ad, T_PING, f->my_seq, NONE,
	    t != NONE && s->mem[t].state == NACTI_SWIM_SUSPECT ? t : NONE);
}

int nacti_swim_receive(nacti_swim *s, const void *buf, size_t len, const char *from_name,
    uint64_t now)
{
	struct parsed p;
	if (s->left)
		return NACT_ESTATE;
	s->now = now;
	int rv = parse(s, buf, len, &p);
	if (rv != 0) {
		s->st.bad++;
		return rv;
	}
	if (p.from.nl == s->mem[0].nl && memcmp(p.from.name, s->mem[0].name, p.from.nl) == 0) {
		s->st.bad++; /* our own name from elsewhere: a misconfigured peer */
		return NACT_EEXIST;
	}
	if (from_name != NULL &&
	    (strlen(from_name) != p.from.nl || memcmp(from_name, p.from.name, p.from.nl) != 0)) {
		s->st.bad++; /* speaks for another member than the connection's */
		return NACT_EAUTH;
	}
	s->st.received++;
	int sync = p.type == T_SYNC || p.type == T_SYNC_ACK;
	uint32_t from = apply(s, &p.from, now, 0);
	for (uint32_t i = 0; i < p.nups; i++)
		apply(s, &s->ups[i], now, sync);
	if (from == NONE) {
		/* table full: answer probes at the address given, keep no state */
		char nm[NACTI_SWIM_NAME_MAX + 1], ad[NACTI_SWIM_ADDR_MAX + 1];
		memcpy(nm, p.from.name, p.from.nl);
		nm[p.from.nl] = 0;
		memcpy(ad, p.from.addr, p.from.al);
		ad[p.from.al] = 0;
		if (p.type == T_PING)
			send_msg(s, nm, ad, T_ACK, p.seq, NONE, NONE);
		else if (p.type == T_SYNC)
			send_sync(s, nm, ad, T_SYNC_ACK);
		return 0;
	}
	struct mem *fm = &s->mem[from];
	switch (p.type) {
	case T_PING: {
		/* a member we hold down is still talking: tell it (rate-limited
		 * to once a period) so that it refutes and rejoins */
		uint32_t forced = NONE;
		if (!is_live(fm->state) && fm->inc >= p.from.inc &&
		    (fm->notice_at == 0 || now >= fm->notice_at + s->cfg.period_ns)) {
			fm->notice_at = now;
			forced = from;
		}
		send_to(s, from, T_ACK, p.seq, NONE, forced);
		break;
	}
	case T_ACK:
		on_ack(s, p.seq, from);
		break;
	case T_PING_REQ:
		on_ping_req(s, &p, from, now);
		break;
	case T_SYNC:
		send_sync(s, fm->name, fm->addr, T_SYNC_ACK);
		break;
	default:
		break;
	}
	return 0;
}

static void send_ping_reqs(nacti_swim *s)
{
	uint32_t n = 0;
	if (grow((void **)&s->scratch, &s->capscratch, s->nmem, sizeof(*s->scratch)) != 0)
		return;
	for (uint32_t i = 1; i < s->nmem; i++)
		if (i != s->p_target && s->mem[i].state == NACTI_SWIM_ALIVE)
			s->scratch[n++] = i;
	for (uint32_t k = 0; k < s->cfg.k && k < n; k++) {
		uint32_t j = k + rnd_below(s, n - k);
		uint32_t t = s->scratch[j];
		s->scratch[j] = s->scratch[k];
		s->scratch[k] = t;
		send_to(s, t, T_PING_REQ, s->p_seq, s->p_target, NONE);
		s->st.ping_reqs++;
	}
}

/* May member i be picked by random_in_state(st)? Down members only for
 * reconnect_timeout_ns after they went down. */
static int pickable(const nacti_swim *s, uint32_t i, uint8_t st)
{
	const struct mem *m = &s->mem[i];
	if (m->state != st)
		return 0;
	return st != NACTI_SWIM_DOWN || s->now - m->since < s->cfg.reconnect_timeout_ns;
}

/* A random member in state st (NONE if there is none). */
static uint32_t random_in_state(nacti_swim *s, uint8_t st)
{
	for (int tries = 0; tries < 8 && s->nmem > 1; tries++) {
		uint32_t i = 1 + rnd_below(s, s->nmem - 1);
		if (pickable(s, i, st))
			return i;
	}
	uint32_t n = 0;
	if (grow((void **)&s->scratch, &s->capscratch, s->nmem, sizeof(*s->scratch)) != 0)
		return NONE;
	for (uint32_t i = 1; i < s->nmem; i++)
		if (pickable(s, i, st))
			s->scratch[n++] = i;
	return n ? s->scratch[rnd_below(s, n)] : NONE;
}

static void new_period(nacti_swim *s, uint64_t now)
{
	/* the probe of the ending period */
	if (s->p_active && !s->p_acked) {
		struct mem *m = &s->mem[s->p_target];
		if (m->state == NACTI_SWIM_ALIVE)
			suspect(s, s->p_target, m->inc, now, 1);
	}
	s->p_active = 0;
	s->nperiod++;

	if (s->nlive <= 1 && s->nseeds > 0) {
		for (size_t i = 0; i < s->nseeds; i++) {
			s->st.syncs++;
			send_sync(s, "", s->seeds[i], T_SYNC);
		}
	} else if (s->nperiod % s->cfg.sync_periods == 0) {
		uint32_t t = random_in_state(s, NACTI_SWIM_ALIVE);
		if (t != NONE) {
			s->st.syncs++;
			send_sync(s, s->mem[t].name, s->mem[t].addr, T_SYNC);
		}
	}
	if (s->nperiod % s->cfg.reconnect_periods == 0) {
		uint32_t t = random_in_state(s, NACTI_SWIM_DOWN);
		if (t != NONE) {
			s->st.syncs++;
			send_sync(s, s->mem[t].name, s->mem[t].addr, T_SYNC);
		}
	}

	uint32_t t = probe_next(s);
	if (t != NONE) {
		s->p_target = t;
		s->p_seq = ++s->seq;
		s->p_start = now;
		s->p_active = 1;
		s->p_acked = 0;
		s->p_indirect = 0;
		s->st.probes++;
		/* to a suspect, name the suspicion so that it can refute */
		send_to(s, t, T_PING, s->p_seq, NONE,
		    s->mem[t].state == NACTI_SWIM_SUSPECT ? t : NONE);
	}
	/* besides the probe, ping one random suspect: the ping names the
	 * suspicion and the suspect's ack carries its refutation, so a
	 * refutation that gossip is slow to bring us (a lossy network, a
	 * large cluster) does not turn into a false "down". An unanswered
	 * one proves nothing more: the suspicion timer decides. */
	if (s->nsuspect > 0) {
		uint32_t x = random_in_state(s, NACTI_SWIM_SUSPECT);
		if (x != NONE && x != t)
			send_to(s, x, T_PING, ++s->seq, NONE, x);
	}
}

void nacti_swim_tick(nacti_swim *s, uint64_t now)
{
	if (s->left)
		return;
	s->now = now;
	if (s->p_active && !s->p_acked && !s->p_indirect &&
	    now >= s->p_start + s->cfg.ping_timeout_ns) {
		s->p_indirect = 1;
		send_ping_reqs(s);
	}
	if (now >= s->next_period) {
		s->next_period += s->cfg.period_ns;
		if (s->next_period <= now)
			s->next_period = now + s->cfg.period_ns; /* ticked late: skip */
		new_period(s, now);
	}
	if (s->nsuspect > 0 && now >= s->susp_min) {
		uint64_t next = UINT64_MAX;
		for (uint32_t i = 1; i < s->nmem; i++) {
			struct mem *m = &s->mem[i];
			if (m->state != NACTI_SWIM_SUSPECT)
				continue;
			if (now >= m->susp_end) {
				set_state(s, m, NACTI_SWIM_DOWN);
				bq_push(s, i, 1);
				emit(s, NACTI_SWIM_EV_DOWN, i);
			} else if (m->susp_end < next) {
				next = m->susp_end;
			}
		}
		s->susp_min = next;
	}
	for (int i = 0; i < NFWD; i++)
		if (s->fwd[i].used && now >= s->fwd[i].expires)
			s->fwd[i].used = 0;
}

uint64_t nacti_swim_next_deadline(const nacti_swim *s)
{
	uint64_t d = s->next_period;
	if (s->left)
		return UINT64_MAX;
	if (s->p_active && !s->p_acked && !s->p_indirect && s->p_start + s->cfg.ping_timeout_ns < d)
		d = s->p_start + s->cfg.ping_timeout_ns;
	if (s->nsuspect > 0 && s->susp_min < d)
		d = s->susp_min; /* may be early (that suspect refuted): harmless */
	return d;
}

/* ---- lifecycle and requests ---- */

static char *dup_str(const char *p)
{
	size_t n = strlen(p);
	char *c = malloc(n + 1);
	if (c != NULL)
		memcpy(c, p, n + 1);
	return c;
}

int nacti_swim_open(nacti_swim **out, const nacti_swim_config *cfg, uint64_t now)
{
	if (out == NULL || cfg == NULL || cfg->name == NULL || cfg->addr == NULL ||
	    cfg->send == NULL)
		return NACT_EINVAL;
	size_t nl = strlen(cfg->name), al = strlen(cfg->addr);
	if (nl == 0 || nl > NACTI_SWIM_NAME_MAX || al == 0 || al > NACTI_SWIM_ADDR_MAX ||
	    memchr(cfg->name, 0, nl) || cfg->incarnation > NACTI_SWIM_INC_MAX)
		return NACT_EINVAL;
	nacti_swim *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NACT_ENOMEM;
	s->cfg = *cfg;
	nacti_swim_config *c = &s->cfg;
	if (c->period_ns == 0)
		c->period_ns = 1000000000ull;
	if (c->ping_timeout_ns == 0)
		c->ping_timeout_ns = c->period_ns * 3 / 10;
	if (c->k == 0)
		c->k = 3;
	if (c->suspicion_mult == 0)
		c->suspicion_mult = 4;
	if (c->lambda == 0)
		c->lambda = 4;
	if (c->max_updates == 0)
		c->max_updates = 8;
	if (c->max_updates > 64)
		c->max_updates = 64;
	if (c->sync_periods == 0)
		c->sync_periods = 10;
	if (c->reconnect_periods == 0)
		c->reconnect_periods = 5;
	if (c->reconnect_timeout_ns == 0)
		c->reconnect_timeout_ns = 3600ull * 1000000000ull;
	if (c->max_members == 0)
		c->max_members = 16384;
	if (c->max_members < 2)
		c->max_members = 2;
	if (c->max_members > (1u << 20))
		c->max_members = 1u << 20;
	if (c->max_msg_bytes == 0)
		c->max_msg_bytes = 4u << 20;
	if (c->max_msg_bytes < 4096)
		c->max_msg_bytes = 4096;
	if (c->seed == 0)
		c->seed = hash_name(cfg->name, nl) | 1;
	if (c->ping_timeout_ns >= c->period_ns) {
		free(s);
		return NACT_EINVAL;
	}
	s->rng = c->seed;
	s->cname = dup_str(cfg->name);
	s->caddr = dup_str(cfg->addr);
	c->name = s->cname;
	c->addr = s->caddr;
	msgpack_packer_init(&s->pk, s, out_write);
	s->now = now;
	s->next_period = now + c->period_ns;
	if (s->cname == NULL || s->caddr == NULL ||
	    add_member(s, cfg->name, nl, cfg->addr, al, cfg->incarnation, NACTI_SWIM_ALIVE) != 0) {
		nacti_swim_close(s);
		return NACT_ENOMEM;
	}
	*out = s;
	return 0;
}

void nacti_swim_close(nacti_swim *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->nmem; i++)
		free(s->mem[i].addr);
	for (size_t i = 0; i < s->nseeds; i++)
		free(s->seeds[i]);
	free(s->seeds);
	free(s->mem);
	free(s->ht);
	free(s->probe);
	free(s->bq);
	free(s->scratch);
	free(s->ups);
	free(s->ob);
	free(s->cname);
	free(s->caddr);
	free(s);
}

int nacti_swim_join(nacti_swim *s, const char *const *addrs, size_t n, uint64_t now)
{
	if (s->left)
		return NACT_ESTATE;
	s->now = now;
	if (addrs == NULL && n > 0)
		return NACT_EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t al = addrs[i] ? strlen(addrs[i]) : 0;
		if (al == 0 || al > NACTI_SWIM_ADDR_MAX)
			return NACT_EINVAL;
	}
	char **ns = realloc(s->seeds, (s->nseeds + n + 1) * sizeof(*ns));
	if (ns == NULL)
		return NACT_ENOMEM;
	s->seeds = ns;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(addrs[i], s->mem[0].addr) == 0)
			continue; /* ourselves */
		char *c = dup_str(addrs[i]);
		if (c == NULL)
			return NACT_ENOMEM;
		s->seeds[s->nseeds++] = c;
		s->st.syncs++;
		send_sync(s, "", c, T_SYNC);
	}
	return 0;
}

int nacti_swim_leave(nacti_swim *s, uint64_t now)
{
	if (s->left)
		return NACT_ESTATE;
	s->now = now;
	set_state(s, &s->mem[0], NACTI_SWIM_LEFT);
	bq_push(s, 0, 1);
	uint32_t n = 0;
	if (grow((void **)&s->scratch, &s->capscratch, s->nmem, sizeof(*s->scratch)) == 0) {
		for (uint32_t i = 1; i < s->nmem; i++)
			if (s->mem[i].state == NACTI_SWIM_ALIVE)
				s->scratch[n++] = i;
		for (uint32_t k = 0; k < s->cfg.k + 1 && k < n; k++) {
			uint32_t j = k + rnd_below(s, n - k);
			uint32_t t = s->scratch[j];
			s->scratch[j] = s->scratch[k];
			s->scratch[k] = t;
			send_to(s, t, T_GOSSIP, 0, NONE, 0);
		}
	}
	s->left = 1;
	s->p_active = 0;
	return 0;
}

/* ---- queries ---- */

size_t nacti_swim_count(const nacti_swim *s)
{
	return s->nmem;
}

int nacti_swim_member_at(const nacti_swim *s, size_t i, nacti_swim_member *m)
{
	if (i >= s->nmem)
		return NACT_ENOENT;
	fill_member(s, (uint32_t)i, m);
	return 0;
}

int nacti_swim_find(const nacti_swim *s, const char *name, nacti_swim_member *m)
{
	size_t nl = name ? strlen(name) : 0;
	if (nl == 0 || nl > NACTI_SWIM_NAME_MAX)
		return NACT_ENOENT;
	uint32_t idx = find_idx(s, name, nl);
	if (idx == NONE)
		return NACT_ENOENT;
	fill_member(s, idx, m);
	return 0;
}

size_t nacti_swim_live(const nacti_swim *s)
{
	return s->nlive;
}

void nacti_swim_stats_get(const nacti_swim *s, nacti_swim_stats *st)
{
	*st = s->st;
}

void nacti_swim_config_get(const nacti_swim *s, nacti_swim_config *cfg)
{
	*cfg = s->cfg;
}

const char *nacti_swim_state_name(nacti_swim_state st)
{
	switch (st) {
	case NACTI_SWIM_ALIVE:
		return "alive";
	case NACTI_SWIM_SUSPECT:
		return "suspect";
	case NACTI_SWIM_DOWN:
		return "down";
	case NACTI_SWIM_LEFT:
		return "left";
	}
	return "?";
}

const char *nacti_swim_event_name(nacti_swim_event ev)
{
	switch (ev) {
	case NACTI_SWIM_EV_JOINED:
		return "joined";
	case NACTI_SWIM_EV_SUSPECT:
		return "suspect";
	case NACTI_SWIM_EV_ALIVE:
		return "alive";
	case NACTI_SWIM_EV_DOWN:
		return "down";
	case NACTI_SWIM_EV_LEFT:
		return "left";
	}
	return "?";
}
