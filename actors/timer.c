/*
 * actors/timer.c — the system clock and timers.
 *
 * DESIGN
 * Timers sit in a binary min-heap ordered by (due, arming sequence), so
 * timers with the same deadline fire in the order they were armed. A
 * timer's handle is its slot index plus a generation, so cancel is O(log n)
 * and a stale handle is rejected. Firing delivers the timer's message
 * (armed in advance: firing never allocates) outside the timer lock.
 *
 * On the monotonic clock one timer thread sleeps until the earliest
 * deadline (or indefinitely when there is none: an idle system does not
 * wake up). On the manual clock there is no thread: nact_clock_advance
 * moves time and fires what is due in the caller's thread, in order, which
 * makes timer tests deterministic.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/internal.h"

struct tmr {
	uint64_t due;  /* ns on the system clock */
	uint64_t seq;  /* arming order, tie-break */
	nact_aid to;   /* target */
	nact_msg *m;   /* owned message, NULL when the slot is free */
	uint32_t hidx; /* position in the heap */
	uint32_t gen;  /* handle generation */
	int ctl;       /* deliver on the control lane */
};

struct nacti_timers {
	nng_mtx *mtx;
	nng_cv *cv;
	struct tmr *slots;
	uint32_t nslots, capslots;
	uint32_t *freelist;
	uint32_t nfree;
	uint32_t *heap; /* slot indices */
	uint32_t nheap;
	uint64_t seq;
	nng_thread *thr;
	int stop;
};

uint64_t nact_now(nact_system *sys)
{
	if (sys->cfg.clock == NACT_CLOCK_MANUAL)
		return atomic_load_explicit(&sys->manual_now, memory_order_acquire);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int before(struct nacti_timers *t, uint32_t a, uint32_t b)
{
	const struct tmr *x = &t->slots[a], *y = &t->slots[b];
	return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void hset(struct nacti_timers *t, uint32_t pos, uint32_t s)
{
	t->heap[pos] = s;
	t->slots[s].hidx = pos;
}

static void sift_up(struct nacti_timers *t, uint32_t pos)
{
	uint32_t s = t->heap[pos];
	while (pos > 0) {
		uint32_t p = (pos - 1) / 2;
		if (!before(t, s, t->heap[p]))
			break;
		hset(t, pos, t->heap[p]);
		pos = p;
	}
	hset(t, pos, s);
}

static void sift_down(struct nacti_timers *t, uint32_t pos)
{
	uint32_t s = t->heap[pos];
	for (;;) {
		uint32_t c = 2 * pos + 1;
		if (c >= t->nheap)
			break;
		if (c + 1 < t->nheap && before(t, t->heap[c + 1], t->heap[c]))
			c++;
		if (!before(t, t->heap[c], s))
			break;
		hset(t, pos, t->heap[c]);
		pos = c;
	}
	hset(t, pos, s);
}

static void heap_remove(struct nacti_timers *t, uint32_t pos)
{
	uint32_t last = t->heap[--t->nheap];
	if (pos == t->nheap)
		return;
	hset(t, pos, last);
	if (pos > 0 && before(t, last, t->heap[(pos - 1) / 2]))
		sift_up(t, pos);
	else
		sift_down(t, pos);
}

static void slot_free(struct nacti_timers *t, uint32_t s)
{
	t->slots[s].m = NULL;
	t->slots[s].gen++;
	t->freelist[t->nfree++] = s;
}

/* Pop up to max due timers (under mtx). */
static uint32_t collect(struct nacti_timers *t, uint64_t now, nact_aid *to, nact_msg **ms, int *ctl,
    uint32_t max)
{
	uint32_t n = 0;
	while (n < max && t->nheap > 0 && t->slots[t->heap[0]].due <= now) {
		uint32_t s = t->heap[0];
		heap_remove(t, 0);
		to[n] = t->slots[s].to;
		ms[n] = t->slots[s].m;
		ctl[n] = t->slots[s].ctl;
		slot_free(t, s);
		n++;
	}
	return n;
}

static void fire(nact_system *sys, nact_aid *to, nact_msg **ms, int *ctl, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		nacti_deliver(sys, to[i], ms[i], ctl[i], 0);
}

#define FIRE_BATCH 64

static void timer_main(void *arg)
{
	nact_system *sys = arg;
	struct nacti_timers *t = sys->timers;
	nact_aid to[FIRE_BATCH];
	nact_msg *ms[FIRE_BATCH];
	int ctl[FIRE_BATCH];
	nng_mtx_lock(t->mtx);
	while (!t->stop) {
		uint64_t now = nact_now(sys);
		uint32_t n = collect(t, now, to, ms, ctl, FIRE_BATCH);
		if (n > 0) {
			nng_mtx_unlock(t->mtx);
			fire(sys, to, ms, ctl, n);
			nng_mtx_lock(t->mtx);
			continue;
		}
		if (t->nheap == 0) {
			nng_cv_wait(t->cv);
		} else {
			uint64_t ns = t->slots[t->heap[0]].due - now;
			nng_cv_until(t->cv, nng_clock() + (nng_time)((ns + 999999) / 1000000));
		}
	}
	nng_mtx_unlock(t->mtx);
}

int nacti_timers_init(nact_system *sys)
{
	struct nacti_timers *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NACT_ENOMEM;
	sys->timers = t;
	if (nng_mtx_alloc(&t->mtx) != 0 || nng_cv_alloc(&t->cv, t->mtx) != 0)
		return NACT_ENOMEM;
	if (sys->cfg.clock == NACT_CLOCK_MONOTONIC) {
		if (nng_thread_create(&t->thr, timer_main, sys) != 0)
			return NACT_ENOMEM;
		nng_thread_set_name(t->thr, "nactor-timer");
	}
	return 0;
}

void nacti_timers_stop(nact_system *sys)
{
	struct nacti_timers *t = sys->timers;
	if (t == NULL || t->mtx == NULL)
		return;
	nng_mtx_lock(t->mtx);
	t->stop = 1;
	if (t->cv)
		nng_cv_wake(t->cv);
	nng_mtx_unlock(t->mtx);
	if (t->thr != NULL)
		nng_thread_destroy(t->thr);
	t->thr = NULL;
}

void nacti_timers_fini(nact_system *sys)
{
	struct nacti_timers *t = sys->timers;
	if (t == NULL)
		return;
	/* Pending timers' messages are freed with the envelope pool. */
	if (t->cv)
		nng_cv_free(t->cv);
	if (t->mtx)
		nng_mtx_free(t->mtx);
	free(t->slots);
	free(t->freelist);
	free(t->heap);
	free(t);
	sys->timers = NULL;
}

int nacti_timer_add(nact_system *sys, nact_aid to, nact_msg *m, int ctl, uint64_t due,
    nact_timer *tp)
{
	struct nacti_timers *t = sys->timers;
	nng_mtx_lock(t->mtx);
	if (t->stop) {
		nng_mtx_unlock(t->mtx);
		return NACT_ECLOSED;
	}
	if (t->nfree == 0) {
		uint32_t ncap = t->capslots ? t->capslots * 2 : 64;
		struct tmr *ns = realloc(t->slots, ncap * sizeof(*ns));
		if (ns != NULL)
			t->slots = ns;
		uint32_t *nf = realloc(t->freelist, ncap * sizeof(*nf));
		if (nf != NULL)
			t->freelist = nf;
		uint32_t *nh = realloc(t->heap, ncap * sizeof(*nh));
		if (nh != NULL)
			t->heap = nh;
		if (ns == NULL || nf == NULL || nh == NULL) {
			nng_mtx_unlock(t->mtx);
			return NACT_ENOMEM;
		}
		for (uint32_t i = t->capslots; i < ncap; i++) {
			memset(&t->slots[i], 0, sizeof(t->slots[i]));
			t->slots[i].gen = 1;
		}
		for (uint32_t i = ncap; i > t->capslots; i--)
			t->freelist[t->nfree++] = i - 1;
		t->capslots = ncap;
	}
	uint32_t s = t->freelist[--t->nfree];
	struct tmr *r = &t->slots[s];
	r->due = due;
	r->seq = t->seq++;
	r->to = to;
	r->m = m;
	r->ctl = ctl;
	t->heap[t->nheap] = s;
	r->hidx = t->nheap++;
	sift_up(t, r->hidx);
	if (tp != NULL)
		tp->v = ((uint64_t)r->gen << 32) | (s + 1);
	if (t->heap[0] == s && t->thr != NULL)
		nng_cv_wake(t->cv);
	nng_mtx_unlock(t->mtx);
	return 0;
}

int nact_send_after(nact_system *sys, nact_aid to, nact_msg *m, int delay_ms, nact_timer *tp)
{
	if (sys == NULL || m == NULL || m->nm == NULL || delay_ms < 0)
		return NACT_EINVAL;
	NACTI_CHILD_REFUSE(sys); /* isolation hook */
	if (atomic_load_explicit(&sys->closing, memory_order_relaxed))
		return NACT_ECLOSED;
	nact_ctx *ctx = nacti_cur;
	if (ctx != NULL && ctx->cur == m)
		return NACT_EINVAL; /* the message being handled is not ours to arm */
	nacti_put64(nacti_hdr(m) + NACTI_OFF_SENDER,
	    ctx != NULL && ctx->sys == sys ? ctx->self.v : 0);
	return nacti_timer_add(sys, to, m, 0, nact_now(sys) + (uint64_t)delay_ms * 1000000u, tp);
}

int nact_timer_cancel(nact_system *sys, nact_timer tm)
{
	if (sys == NULL || tm.v == 0)
		return NACT_ENOENT;
	NACTI_CHILD_REFUSE(sys); /* isolation hook */
	struct nacti_timers *t = sys->timers;
	uint32_t s = (uint32_t)(tm.v & 0xffffffffu) - 1;
	uint32_t gen = (uint32_t)(tm.v >> 32);
	nact_msg *m = NULL;
	nng_mtx_lock(t->mtx);
	if (s < t->capslots && t->slots[s].gen == gen && t->slots[s].m != NULL) {
		m = t->slots[s].m;
		heap_remove(t, t->slots[s].hidx);
		slot_free(t, s);
	}
	nng_mtx_unlock(t->mtx);
	if (m == NULL)
		return NACT_ENOENT;
	nact_msg_free(m);
	return 0;
}

int nact_clock_advance(nact_system *sys, uint64_t ns)
{
	if (sys == NULL)
		return NACT_EINVAL;
	if (sys->cfg.clock != NACT_CLOCK_MANUAL)
		return NACT_ESTATE;
	struct nacti_timers *t = sys->timers;
	uint64_t now = atomic_fetch_add_explicit(&sys->manual_now, ns, memory_order_acq_rel) + ns;
	nact_aid to[FIRE_BATCH];
	nact_msg *ms[FIRE_BATCH];
	int ctl[FIRE_BATCH];
	for (;;) {
		nng_mtx_lock(t->mtx);
		uint32_t n = collect(t, now, to, ms, ctl, FIRE_BATCH);
		nng_mtx_unlock(t->mtx);
		if (n == 0)
			break;
		fire(sys, to, ms, ctl, n);
	}
	return 0;
}
