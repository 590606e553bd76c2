/*
 * actors/system.c — opening and closing a system; configuration; stats.
 *
 * Close follows close / stop / fini: refuse new work, ask every actor to
 * stop through its control lane and wait (bounded) for them, stop and join
 * the workers and the timer thread, then free: remaining actors' state
 * destructors, timers, names, operations, and finally every envelope and
 * nng_msg the pool ever carved (wherever it was: mailboxes, timers, caches).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/internal.h"

void nact_config_init(nact_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = -1;
}

int nact_system_open(nact_system **sysp, const nact_config *cfg)
{
	nact_config c;
	int rv = NACT_ENOMEM;
	if (sysp == NULL)
		return NACT_EINVAL;
	if (cfg != NULL)
		c = *cfg;
	else
		nact_config_init(&c);
	if (c.clock != NACT_CLOCK_MONOTONIC && c.clock != NACT_CLOCK_MANUAL)
		return NACT_EINVAL;
	if (c.workers > 256 || (c.metrics != 0 && c.metrics != 1))
		return NACT_EINVAL;
	if (c.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c.workers = n > 0 ? (uint32_t)n : 1;
	}
	if (c.batch == 0)
		c.batch = 64;
	if (c.spin_us == 0)
		c.spin_us = 50;
	/* Isolation hook: the launcher process is forked before this open
	 * (or anything else) starts a thread; see supervisor/isolate.c. */
	if (c.isolation && (rv = nacti_iso_launcher()) != 0)
		return rv;

	nact_system *sys = calloc(1, sizeof(*sys));
	if (sys == NULL)
		return NACT_ENOMEM;
	sys->cfg = c;
	sys->nworkers = c.workers;
	sys->open_ns = nacti_mono_ns();
	atomic_store(&sys->corr_next, 1);
	if ((rv = nacti_log_init(sys)) != 0)
		goto out_free;
	rv = NACT_ENOMEM;
	if (nacti_pool_init(&sys->pool) != 0)
		goto out_free;
	nacti_pool_set_owner(sys->pool, sys);
	sys->aslabs = calloc(NACTI_ASLAB_MAX, sizeof(*sys->aslabs));
	if (sys->aslabs == NULL || nng_mtx_alloc(&sys->amtx) != 0 ||
	    nng_cv_alloc(&sys->livecv, sys->amtx) != 0 || nng_mtx_alloc(&sys->dlmtx) != 0)
		goto out_free;
	if ((rv = nacti_names_init(sys)) != 0)
		goto out_free;
	if ((rv = nacti_ops_init(sys)) != 0) /* operation registry hook */
		goto out_free;
	if (c.isolation && (rv = nacti_iso_open(sys)) != 0) /* isolation hook */
		goto out_free;
	if ((rv = nacti_timers_init(sys)) != 0)
		goto out_free;
	if ((rv = nacti_sched_start(sys)) != 0)
		goto out_free;
	NACTI_DEBUG(sys, "system open: %u workers, %s clock%s", sys->nworkers,
	    c.clock == NACT_CLOCK_MANUAL ? "manual" : "monotonic",
	    (c.seed && c.workers == 1) ? ", seeded" : "");
	*sysp = sys;
	return 0;

out_free:
	atomic_store(&sys->closing, 1);
	nacti_iso_stop(sys); /* isolation hooks */
	nacti_sched_stop(sys);
	nacti_timers_stop(sys);
	nacti_sched_fini(sys);
	nacti_timers_fini(sys);
	nacti_iso_fini(sys);
	nacti_names_fini(sys);
	nacti_ops_fini(sys); /* operation registry hook */
	if (sys->livecv)
		nng_cv_free(sys->livecv);
	if (sys->amtx)
		nng_mtx_free(sys->amtx);
	if (sys->dlmtx)
		nng_mtx_free(sys->dlmtx);
	free(sys->aslabs);
	nacti_pool_fini(sys->pool);
	nacti_log_fini(sys);
	free(sys);
	return rv;
}

void nact_system_close(nact_system *sys, int timeout_ms)
{
	if (sys == NULL)
		return;
	if (nacti_cur != NULL) {
		nact_log(sys, NACT_LOG_ERROR, "nact_system_close called from a handler: ignored");
		return;
	}
	NACTI_DEBUG(sys, "system close");
	/* Registry server hook: stop answering before the actors and the
	 * operations it reads go away (no-op when not serving). */
	nact_registry_unserve(sys);
	/* Ask every live actor to stop. Spawns and sends from outside are
	 * refused from here on; actors may still message each other while
	 * they wind down. */
	atomic_store(&sys->closing, 1);
	uint32_t n = atomic_load(&sys->acarved);
	for (uint32_t i = 0; i < n; i++) {
		struct nacti_actor *a = nacti_actor_at(sys, i);
		uint64_t id = atomic_load_explicit(&a->id, memory_order_acquire);
		if (id != 0) {
			nact_msg *m;
			if (nact_msg_alloc(&m, sys, NACT_T_STOP) == 0)
				nacti_deliver(sys, (nact_aid){id}, m, 1, 0);
		}
	}
	nng_time until = nng_clock() + (nng_time)(timeout_ms > 0 ? timeout_ms : 0);
	nng_mtx_lock(sys->amtx);
	while (atomic_load(&sys->live) > 0) {
		if (nng_cv_until(sys->livecv, until) == NNG_ETIMEDOUT)
			break;
	}
	nng_mtx_unlock(sys->amtx);
	nacti_iso_stop(sys); /* isolation hook: launcher and processes quiet */
	nacti_timers_stop(sys);
	nacti_sched_stop(sys);
	/* single-threaded from here */
	nacti_actors_fini(sys);
	nacti_iso_fini(sys); /* isolation hook: after the proxies' destructors */
	nacti_timers_fini(sys);
	nacti_deadletters_fini(sys);
	nacti_names_fini(sys);
	nacti_ops_fini(sys); /* operation registry hook */
	nacti_sched_fini(sys);
	nacti_pool_fini(sys->pool);
	nng_cv_free(sys->livecv);
	nng_mtx_free(sys->amtx);
	nng_mtx_free(sys->dlmtx);
	free(sys->aslabs);
	nacti_log_fini(sys);
	free(sys);
}

void nact_system_stats(nact_system *sys, nact_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (sys == NULL)
		return;
	st->spawned = atomic_load_explicit(&sys->spawned, memory_order_relaxed);
	st->live = atomic_load_explicit(&sys->live, memory_order_relaxed);
	st->envelopes = nacti_pool_carved(sys->pool);
	st->parks = atomic_load_explicit(&sys->parks, memory_order_relaxed);
	st->steals = atomic_load_explicit(&sys->steals, memory_order_relaxed);
}
