/*
 * actors/sched.c — the scheduler: workers, run queues, stealing, parking.
 *
 * DESIGN
 * Each worker has a "next" slot and a bounded ring (Go's runnext + local
 * run queue). An actor made ready by a handler on worker W goes to W's next
 * slot, so a request/response pair stays on one core and the message it
 * just sent is still in that core's cache; the previous occupant of the
 * slot moves to the ring. An actor that used up its batch goes to the ring
 * tail (fairness). Threads that are not workers (main, timers) push to the
 * global queue, which workers check first every 61 rounds and whenever
 * their own queues are empty.
 *
 * An idle worker steals half of another worker's ring. It takes a single
 * item (a ring of 1, or the next slot) only when the victim's progress
 * stamp has not moved since the thief last looked, i.e. the victim is busy
 * in a long turn; otherwise a pair that ping-pongs on one core would be
 * pulled apart on every message.
 *
 * Idle workers spin for cfg.spin_us (yielding the CPU between polls), then park on their condition
 * variable. Waking costs ~30 us on this VM, so wakes happen per batch of
 * work, never per message: only when work is pushed to a ring that
 * already holds some (or to the global queue), a worker is parked, and no
 * worker is spinning. A parked worker uses no CPU.
 *
 * Seeded mode (workers == 1, seed != 0): no next slot; the worker picks a
 * pseudo-random entry of its ring each round, so a seed names one
 * interleaving of actor turns and replays it exactly.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/internal.h"

#define GLOBAL_EVERY 61
#define NEXT_MAX 64
#ifndef LINGER_PAUSE
#define LINGER_PAUSE 32
#endif

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int seeded(nact_system *sys)
{
	return sys->cfg.seed != 0 && sys->nworkers == 1;
}

/* ---- ring ---- */

static uint32_t ring_len(struct nacti_ring *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	return t - h;
}

/* Owner only. 0 if full. */
static int ring_push(struct nacti_ring *r, struct nacti_actor *a)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	if (t - h >= NACTI_RING)
		return 0;
	atomic_store_explicit(&r->buf[t % NACTI_RING], a, memory_order_relaxed);
	/* release: a consumer that sees the new tail sees the slot. */
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return 1;
}

/* Owner or thief. */
static struct nacti_actor *ring_pop(struct nacti_ring *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	for (;;) {
		uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (t == h)
			return NULL;
		struct nacti_actor *a =
		    atomic_load_explicit(&r->buf[h % NACTI_RING], memory_order_relaxed);
		/* acq_rel: claims the slot; the owner may reuse it after. */
		if (atomic_compare_exchange_weak_explicit(&r->head, &h, h + 1, memory_order_acq_rel,
		        memory_order_acquire))
			return a;
	}
}

/* Seeded mode, owner only, no thieves: take a random entry. */
static struct nacti_actor *ring_pop_random(struct nacti_worker *w)
{
	struct nacti_ring *r = &w->rq;
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (t == h)
		return NULL;
	uint32_t k = h + (uint32_t)(xorshift(&w->seed_rng) % (t - h));
	struct nacti_actor *a = atomic_load_explicit(&r->buf[k % NACTI_RING], memory_order_relaxed);
	struct nacti_actor *b = atomic_load_explicit(&r->buf[h % NACTI_RING], memory_order_relaxed);
	atomic_store_explicit(&r->buf[k % NACTI_RING], b, memory_order_relaxed);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return a;
}

/* ---- global queue ---- */

static void global_push(nact_system *sys, struct nacti_actor *a)
{
	nng_mtx_lock(sys->gmtx);
	a->rq_next = NULL;
	if (sys->gtail)
		sys->gtail->rq_next = a;
	else
		sys->ghead = a;
	sys->gtail = a;
	atomic_fetch_add_explicit(&sys->glen, 1, memory_order_seq_cst);
	nng_mtx_unlock(sys->gmtx);
}

static struct nacti_actor *global_pop(nact_system *sys)
{
	if (atomic_load_explicit(&sys->glen, memory_order_seq_cst) == 0)
		return NULL;
	nng_mtx_lock(sys->gmtx);
	struct nacti_actor *a = sys->ghead;
	if (a != NULL) {
		sys->ghead = a->rq_next;
		if (sys->ghead == NULL)
			sys->gtail = NULL;
		a->rq_next = NULL;
		atomic_fetch_sub_explicit(&sys->glen, 1, memory_order_relaxed);
	}
	nng_mtx_unlock(sys->gmtx);
	return a;
}

/* ---- parking ---- */

static void wake_one(nact_system *sys)
{
	for (uint32_t i = 0; i < sys->nworkers; i++) {
		struct nacti_worker *v = &sys->workers[i];
		int one = 1;
		if (atomic_load_explicit(&v->parked, memory_order_relaxed) &&
		    atomic_compare_exchange_strong_explicit(&v->parked, &one, 0,
		        memory_order_seq_cst, memory_order_relaxed)) {
			nng_mtx_lock(v->mtx);
			v->wake = 1;
			nng_cv_wake1(v->cv);
			nng_mtx_unlock(v->mtx);
			return;
		}
	}
}

static void maybe_wake(nact_system *sys)
{
	/* seq_cst: pairs with a parking worker's "parked, then recheck". */
	if (atomic_load_explicit(&sys->n_parked, memory_order_seq_cst) > 0 &&
	    atomic_load_explicit(&sys->n_spinning, memory_order_seq_cst) == 0)
		wake_one(sys);
}

/* ---- scheduling ---- */

static void ring_or_global(struct nacti_worker *w, struct nacti_actor *a)
{
	if (!ring_push(&w->rq, a)) {
		global_push(w->sys, a);
		maybe_wake(w->sys);
		return;
	}
	if (ring_len(&w->rq) >= 2)
		maybe_wake(w->sys);
}

void nacti_schedule(nact_system *sys, struct nacti_actor *a)
{
	nact_ctx *ctx = nacti_cur;
	if (ctx != NULL && ctx->w != NULL && ctx->sys == sys) {
		struct nacti_worker *w = ctx->w;
		if (seeded(sys)) {
			ring_or_global(w, a);
			return;
		}
		struct nacti_actor *old =
		    atomic_exchange_explicit(&w->next, a, memory_order_acq_rel);
		if (old != NULL)
			ring_or_global(w, old);
		return;
	}
	global_push(sys, a);
	maybe_wake(sys);
}

void nacti_reschedule(struct nacti_worker *w, struct nacti_actor *a)
{
	ring_or_global(w, a);
}

static uint64_t mono_ns(void);

/* Let an idle worker read what other nodes sent (sys->node_poll): 1 when
 * something was handled. */
static inline int node_poll(nact_system *sys)
{
	int (*f)(nact_system *) = atomic_load_explicit(&sys->node_poll, memory_order_relaxed);
	return f != NULL && f(sys) > 0;
}

static inline void node_park(nact_system *sys)
{
	void (*f)(nact_system *) = atomic_load_explicit(&sys->node_park, memory_order_relaxed);
	if (f != NULL)
		f(sys);
}

int nacti_linger(struct nacti_worker *w, struct nacti_mq q)
{
	nact_system *sys = w->sys;
	if (seeded(sys))
		return 0;
	uint64_t until = 0;
	for (uint32_t i = 0;; i++) {
		if (atomic_load_explicit(&(*q.tail)->next, memory_order_acquire) != NULL)
			return 1;
		if (atomic_load_explicit(&w->next, memory_order_relaxed) != NULL ||
		    ring_len(&w->rq) != 0 ||
		    atomic_load_explicit(&sys->glen, memory_order_relaxed) != 0 ||
		    atomic_load_explicit(&sys->stopping, memory_order_relaxed))
			return 0;
		if (node_poll(sys)) /* lane traffic: maybe for this actor */
			continue;
		if ((i & 15) == 0) {
			uint64_t now = mono_ns();
			if (until == 0)
				until = now + (uint64_t)sys->cfg.spin_us * 1000u;
			else if (now >= until)
				return 0;
		}
		/* back off between polls: let a batch accumulate instead of
		 * pulling the producer's cache line over for every message;
		 * then yield, so a producer preempted on this CPU runs
		 * instead of waiting for our time slice to end (see idle) */
		for (int k = 0; k < LINGER_PAUSE; k++)
			cpu_relax();
		sched_yield();
	}
}

/* ---- stealing ---- */

static struct nacti_actor *steal(struct nacti_worker *w)
{
	nact_system *sys = w->sys;
	uint32_t n = sys->nworkers;
	if (n == 1)
		return NULL;
	uint32_t start = (uint32_t)(xorshift(&w->rng) % n);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t vi = (start + k) % n;
		struct nacti_worker *v = &sys->workers[vi];
		if (v == w)
			continue;
		uint64_t st = atomic_load_explicit(&v->stamp, memory_order_relaxed);
		int stalled = vi < 8 && w->seen_stamp[vi] == st;
		if (vi < 8)
			w->seen_stamp[vi] = st;
		uint32_t len = ring_len(&v->rq);
		if (len >= 2 || (len == 1 && stalled)) {
			/* take half: move len/2 - 1 into our ring, return one */
			struct nacti_actor *first = ring_pop(&v->rq);
			if (first == NULL)
				continue;
			for (uint32_t i = 1; i < len / 2; i++) {
				struct nacti_actor *a = ring_pop(&v->rq);
				if (a == NULL)
					break;
				if (!ring_push(&w->rq, a)) {
					global_push(sys, a);
					break;
				}
			}
			atomic_fetch_add_explicit(&sys->steals, 1, memory_order_relaxed);
			return first;
		}
		if (stalled && atomic_load_explicit(&v->next, memory_order_relaxed) != NULL) {
			struct nacti_actor *a =
			    atomic_exchange_explicit(&v->next, NULL, memory_order_acq_rel);
			if (a != NULL) {
				atomic_fetch_add_explicit(&sys->steals, 1, memory_order_relaxed);
				return a;
			}
		}
	}
	return NULL;
}

/* ---- worker loop ---- */

static struct nacti_actor *find_work(struct nacti_worker *w)
{
	nact_system *sys = w->sys;
	struct nacti_actor *a = NULL;
	/* tick counts actor turns (worker_main), not calls here: idle
	 * polling must not change the order a seed replays. */
	if (w->tick % GLOBAL_EVERY == 0 && (a = global_pop(sys)) != NULL)
		return a;
	if (seeded(sys)) {
		if ((a = ring_pop_random(w)) != NULL)
			return a;
		return global_pop(sys);
	}
	if (w->next_runs < NEXT_MAX || ring_len(&w->rq) == 0) {
		a = atomic_exchange_explicit(&w->next, NULL, memory_order_acq_rel);
		if (a != NULL) {
			w->next_runs++;
			return a;
		}
	}
	w->next_runs = 0;
	if ((a = ring_pop(&w->rq)) != NULL)
		return a;
	if ((a = atomic_exchange_explicit(&w->next, NULL, memory_order_acq_rel)) != NULL)
		return a;
	return global_pop(sys);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Nothing to do: spin a while, then park. Returns an actor or NULL when
 * the system stops. */
static struct nacti_actor *idle(struct nacti_worker *w)
{
	nact_system *sys = w->sys;
	struct nacti_actor *a;
	atomic_fetch_add_explicit(&sys->n_spinning, 1, memory_order_seq_cst);
	uint64_t until = mono_ns() + (uint64_t)sys->cfg.spin_us * 1000u;
	do {
		for (int i = 0; i < 64; i++)
			cpu_relax();
		/* Spinning is cooperative: with more busy threads than CPUs
		 * (a producer thread of the program, a lingering consumer and
		 * us on 2 vCPUs) a pure spin holds a CPU for its whole time
		 * slice while the thread we wait for is preempted. A yield
		 * costs ~0.1 us when nothing else wants the CPU. Measured on
		 * the 2-vCPU dev VM, savina at 1M sizes, 3 interleaved pairs:
		 * counting +28%, fork-join +20%, big +10%, threadring +10%,
		 * pingpong equal; context switches in a counting run 340-510
		 * -> 85. */
		sched_yield();
		if ((a = find_work(w)) != NULL || (a = steal(w)) != NULL ||
		    (node_poll(sys) && (a = find_work(w)) != NULL)) {
			atomic_fetch_sub_explicit(&sys->n_spinning, 1, memory_order_seq_cst);
			return a;
		}
		if (atomic_load_explicit(&sys->stopping, memory_order_relaxed))
			break;
	} while (mono_ns() < until);
	atomic_fetch_sub_explicit(&sys->n_spinning, 1, memory_order_seq_cst);
	node_park(sys);

	for (;;) {
		if (atomic_load_explicit(&sys->stopping, memory_order_acquire))
			return NULL;
		atomic_store_explicit(&w->parked, 1, memory_order_seq_cst);
		atomic_fetch_add_explicit(&sys->n_parked, 1, memory_order_seq_cst);
		/* recheck after announcing: a pusher either sees us parked or
		 * we see its work (both sides seq_cst). */
		if ((a = find_work(w)) != NULL || (a = steal(w)) != NULL) {
			atomic_fetch_sub_explicit(&sys->n_parked, 1, memory_order_seq_cst);
			int one = 1;
			if (!atomic_compare_exchange_strong_explicit(&w->parked, &one, 0,
			        memory_order_seq_cst, memory_order_relaxed)) {
				/* someone woke us meanwhile: consume the wake and pass it on */
				nng_mtx_lock(w->mtx);
				w->wake = 0;
				nng_mtx_unlock(w->mtx);
				maybe_wake(sys);
			}
			return a;
		}
		atomic_fetch_add_explicit(&sys->parks, 1, memory_order_relaxed);
		nng_mtx_lock(w->mtx);
		while (!w->wake && !atomic_load_explicit(&sys->stopping, memory_order_relaxed))
			nng_cv_wait(w->cv);
		w->wake = 0;
		nng_mtx_unlock(w->mtx);
		atomic_store_explicit(&w->parked, 0, memory_order_relaxed);
		atomic_fetch_sub_explicit(&sys->n_parked, 1, memory_order_seq_cst);
		/* woken: spin briefly again */
		atomic_fetch_add_explicit(&sys->n_spinning, 1, memory_order_seq_cst);
		until = mono_ns() + (uint64_t)sys->cfg.spin_us * 1000u;
		do {
			if ((a = find_work(w)) != NULL || (a = steal(w)) != NULL ||
			    (node_poll(sys) && (a = find_work(w)) != NULL))
				break;
			for (int i = 0; i < 64; i++)
				cpu_relax();
		} while (mono_ns() < until &&
		    !atomic_load_explicit(&sys->stopping, memory_order_relaxed));
		atomic_fetch_sub_explicit(&sys->n_spinning, 1, memory_order_seq_cst);
		if (a == NULL)
			node_park(sys);
		if (a != NULL)
			return a;
	}
}

static void worker_main(void *arg)
{
	struct nacti_worker *w = arg;
	nact_system *sys = w->sys;
	for (;;) {
		struct nacti_actor *a = find_work(w);
		if (a == NULL)
			a = steal(w);
		if (a == NULL && (a = idle(w)) == NULL)
			break;
		atomic_store_explicit(&w->stamp,
		    atomic_load_explicit(&w->stamp, memory_order_relaxed) + 1,
		    memory_order_relaxed);
		w->tick++;
		nacti_actor_run(w, a);
		if (atomic_load_explicit(&sys->stopping, memory_order_relaxed) > 1)
			break;
	}
}

int nacti_sched_start(nact_system *sys)
{
	uint32_t n = sys->nworkers;
	sys->workers = aligned_alloc(64, ((n * sizeof(struct nacti_worker)) + 63) & ~(size_t)63);
	if (sys->workers == NULL)
		return NACT_ENOMEM;
	memset(sys->workers, 0, n * sizeof(struct nacti_worker));
	if (nng_mtx_alloc(&sys->gmtx) != 0)
		return NACT_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct nacti_worker *w = &sys->workers[i];
		w->sys = sys;
		w->idx = i;
		w->rng = 0x9E3779B97F4A7C15ull * (i + 1);
		w->seed_rng = sys->cfg.seed ? sys->cfg.seed : 1;
		for (int k = 0; k < 8; k++)
			w->seen_stamp[k] = UINT64_MAX;
		if (nng_mtx_alloc(&w->mtx) != 0 || nng_cv_alloc(&w->cv, w->mtx) != 0)
			return NACT_ENOMEM;
		if (sys->cfg.metrics && nacti_metrics_worker(w) != 0)
			return NACT_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct nacti_worker *w = &sys->workers[i];
		if (nng_thread_create(&w->thr, worker_main, w) != 0)
			return NACT_ENOMEM;
		nng_thread_set_name(w->thr, "nactor-worker");
	}
	return 0;
}

/* Stop the workers after their current turn and join them. */
void nacti_sched_stop(nact_system *sys)
{
	if (sys->workers == NULL)
		return;
	atomic_store_explicit(&sys->stopping, 2, memory_order_seq_cst);
	for (uint32_t i = 0; i < sys->nworkers; i++) {
		struct nacti_worker *w = &sys->workers[i];
		if (w->mtx == NULL)
			continue;
		nng_mtx_lock(w->mtx);
		w->wake = 1;
		nng_cv_wake(w->cv);
		nng_mtx_unlock(w->mtx);
	}
	for (uint32_t i = 0; i < sys->nworkers; i++) {
		if (sys->workers[i].thr != NULL)
			nng_thread_destroy(sys->workers[i].thr); /* joins */
		sys->workers[i].thr = NULL;
	}
}

void nacti_sched_fini(nact_system *sys)
{
	if (sys->workers == NULL)
		return;
	for (uint32_t i = 0; i < sys->nworkers; i++) {
		struct nacti_worker *w = &sys->workers[i];
		if (w->cv)
			nng_cv_free(w->cv);
		if (w->mtx)
			nng_mtx_free(w->mtx);
		nacti_metrics_worker_fini(w);
	}
	free(sys->workers);
	sys->workers = NULL;
	if (sys->gmtx)
		nng_mtx_free(sys->gmtx);
}
