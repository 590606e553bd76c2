/*
 * actors/monitor_rt.c — the runtime side of metrics (cfg.metrics = 1): the
 * per-actor block, handler timing, the watchdog slots, the profiler tables,
 * and the readers of all of them (monitor.h).
 *
 * DESIGN
 * The hot path adds, with metrics off, one predictable branch per popped
 * message and per behaviour call (a->met == NULL, on the consumer's own
 * cache line) and one per send (sys->cfg.metrics, read-mostly). With
 * metrics on: the producer adds one relaxed atomic add on the line it
 * already writes (menq, line 0); the consumer does plain (relaxed atomic)
 * stores to a block only it writes, and two clock reads per behaviour call.
 * Depth = menq - deq - dropped: both counters span every incarnation of the
 * struct, so a late sender of an ended incarnation cannot skew it; per
 * incarnation counts subtract the values saved at spawn.
 */
#define _GNU_SOURCE /* dladdr */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nactor/monitor.h>

#include "actors/internal.h"

_Static_assert(NACTI_HBUCKETS == NACT_HIST_BUCKETS, "histogram sizes");

#define RLX memory_order_relaxed

uint64_t nacti_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Single-writer increment. */
static inline void bump(_Atomic uint64_t *p, uint64_t by)
{
	atomic_store_explicit(p, atomic_load_explicit(p, RLX) + by, RLX);
}

int nacti_metrics_carve(struct nacti_actor *a)
{
	struct nacti_metrics *m = aligned_alloc(64, (sizeof(*m) + 63) & ~(size_t)63);
	if (m == NULL)
		return NACT_ENOMEM;
	memset(m, 0, sizeof(*m));
	a->met = m;
	a->pmet = m;
	return 0;
}

void nacti_metrics_free(struct nacti_actor *a)
{
	free(a->met);
	a->met = NULL;
	a->pmet = NULL;
}

void nacti_metrics_spawn(struct nacti_actor *a, const char *name)
{
	struct nacti_metrics *m = a->met;
	char nb[NACTI_MNAME];
	memset(nb, 0, sizeof(nb));
	if (name != NULL)
		strncpy(nb, name, sizeof(nb) - 1);
	for (size_t i = 0; i < NACTI_MNAME / 8; i++) {
		uint64_t w;
		memcpy(&w, nb + 8 * i, 8);
		atomic_store_explicit(&m->name[i], w, RLX);
	}
	atomic_store_explicit(&m->out, 0, RLX);
	atomic_store_explicit(&m->handled, 0, RLX);
	atomic_store_explicit(&m->timed, 0, RLX);
	atomic_store_explicit(&m->busy_ns, 0, RLX);
	atomic_store_explicit(&m->max_ns, 0, RLX);
	for (int i = 0; i < NACTI_HBUCKETS; i++)
		atomic_store_explicit(&m->hist[i], 0, RLX);
	atomic_store_explicit(&m->restarts, 0, RLX);
	atomic_store_explicit(&m->deq_base, atomic_load_explicit(&m->deq, RLX), RLX);
	atomic_store_explicit(&m->drop_base, atomic_load_explicit(&m->dropped, RLX), RLX);
	atomic_store_explicit(&m->spawn_ns, nacti_mono_ns(), RLX);
}

static int bucket_of(uint64_t ns)
{
	if (ns == 0)
		return 0;
	int b = 63 - __builtin_clzll(ns);
	return b < NACTI_HBUCKETS ? b : NACTI_HBUCKETS - 1;
}

static void prof_add(struct nacti_worker *w, nact_behaviour fn, uint32_t type, uint64_t ns)
{
	uintptr_t f = (uintptr_t)fn;
	uint64_t h =
	    ((uint64_t)f * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)type * 0xC2B2AE3D27D4EB4Full);
	for (uint32_t k = 0; k < 16; k++) {
		struct nacti_prof_slot *s = &w->prof[(h + k) & (NACTI_PROF_SLOTS - 1)];
		uintptr_t sf = atomic_load_explicit(&s->fn, RLX);
		if (sf == 0) {
			atomic_store_explicit(&s->type, type, RLX);
			/* release: readers that see fn see its type */
			atomic_store_explicit(&s->fn, f, memory_order_release);
			sf = f;
		}
		if (sf == f && atomic_load_explicit(&s->type, RLX) == type) {
			bump(&s->calls, 1);
			bump(&s->ns, ns);
			return;
		}
	}
	/* table crowded here: not profiled */
}

int nacti_metrics_timed(nact_ctx *ctx, struct nacti_metrics *met, nact_behaviour fn, nact_msg *m,
    uint32_t type, int sample, int prof)
{
	uint64_t t0 = nacti_mono_ns();
	int rv = fn(ctx, m);
	uint64_t d = nacti_mono_ns() - t0;
	if (sample) {
		bump(&met->timed, 1);
		bump(&met->busy_ns, d);
		_Atomic uint32_t *hb = &met->hist[bucket_of(d)];
		atomic_store_explicit(hb, atomic_load_explicit(hb, RLX) + 1, RLX);
		if (d > atomic_load_explicit(&met->max_ns, RLX))
			atomic_store_explicit(&met->max_ns, d, RLX);
	}
	if (prof)
		prof_add(ctx->w, fn, type, d);
	return rv;
}

int nacti_metrics_worker(struct nacti_worker *w)
{
	w->prof = calloc(NACTI_PROF_SLOTS, sizeof(*w->prof));
	return w->prof != NULL ? 0 : NACT_ENOMEM;
}

void nacti_metrics_worker_fini(struct nacti_worker *w)
{
	free(w->prof);
	w->prof = NULL;
}

/* ---- readers ---- */

uint64_t nact_hist_quantile(const uint64_t hist[NACT_HIST_BUCKETS], double q)
{
	uint64_t total = 0;
	for (int i = 0; i < NACT_HIST_BUCKETS; i++)
		total += hist[i];
	if (total == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t want = (uint64_t)((double)total * q + 0.999999);
	if (want == 0)
		want = 1;
	uint64_t acc = 0;
	for (int i = 0; i < NACT_HIST_BUCKETS; i++) {
		acc += hist[i];
		if (acc >= want)
			return i >= 63 ? UINT64_MAX : (UINT64_C(1) << (i + 1));
	}
	return UINT64_C(1) << NACT_HIST_BUCKETS;
}

/* Read a's metrics if it is live (its id read before and after). 0, or
 * NACT_ENOENT. */
static int read_actor(nact_system *sys, struct nacti_actor *a, nact_actor_metrics *o)
{
	struct nacti_metrics *m = a->met;
	uint64_t id = atomic_load_explicit(&a->id, memory_order_acquire);
	if (id == 0 || m == NULL)
		return NACT_ENOENT;
	memset(o, 0, sizeof(*o));
	o->id.v = id;
	char nb[NACTI_MNAME];
	for (size_t i = 0; i < NACTI_MNAME / 8; i++) {
		uint64_t w = atomic_load_explicit(&m->name[i], RLX);
		memcpy(nb + 8 * i, &w, 8);
	}
	nb[NACTI_MNAME - 1] = '\0';
	memcpy(o->name, nb, sizeof(o->name));
	o->name[sizeof(o->name) - 1] = '\0';
	/* deq before enq: a message counted popped was counted pushed first,
	 * so depth cannot go negative except through the drop count */
	uint64_t deq = atomic_load_explicit(&m->deq, memory_order_acquire);
	uint64_t drop = atomic_load_explicit(&m->dropped, RLX);
	uint64_t enq = atomic_load_explicit(&m->enq_x, memory_order_acquire);
	for (int i = 0; i < NACTI_ENQ_SLOTS; i++)
		enq += atomic_load_explicit(&m->enq_w[i], memory_order_acquire);
	o->depth = enq >= deq + drop ? enq - deq - drop : 0;
	uint64_t db = atomic_load_explicit(&m->deq_base, RLX);
	o->in = deq >= db ? deq - db : 0;
	uint64_t drb = atomic_load_explicit(&m->drop_base, RLX);
	o->dropped = drop >= drb ? drop - drb : 0;
	o->out = atomic_load_explicit(&m->out, RLX);
	o->handled = atomic_load_explicit(&m->handled, RLX);
	o->timed = atomic_load_explicit(&m->timed, RLX);
	o->busy_ns = atomic_load_explicit(&m->busy_ns, RLX);
	o->max_ns = atomic_load_explicit(&m->max_ns, RLX);
	for (int i = 0; i < NACT_HIST_BUCKETS; i++)
		o->hist[i] = atomic_load_explicit(&m->hist[i], RLX);
	o->p50_ns = nact_hist_quantile(o->hist, 0.50);
	o->p99_ns = nact_hist_quantile(o->hist, 0.99);
	o->restarts = atomic_load_explicit(&m->restarts, RLX);
	uint64_t sp = atomic_load_explicit(&m->spawn_ns, RLX);
	uint64_t now = nacti_mono_ns();
	o->age_ns = now > sp ? now - sp : 0;
	(void)sys;
	/* the struct was reused meanwhile: these figures mix incarnations */
	if (atomic_load_explicit(&a->id, memory_order_acquire) != id)
		return NACT_ENOENT;
	return 0;
}

int nact_metrics_actor(nact_system *sys, nact_aid id, nact_actor_metrics *out)
{
	if (sys == NULL || out == NULL)
		return NACT_EINVAL;
	if (!sys->cfg.metrics)
		return NACT_ENOTSUP;
	if (id.v == 0 || NACTI_ID_NODE(id.v) != 0)
		return NACT_ENOENT;
	uint32_t idx = NACTI_ID_IDX(id.v);
	if (idx >= atomic_load_explicit(&sys->acarved, memory_order_acquire))
		return NACT_ENOENT;
	struct nacti_actor *a = nacti_actor_at(sys, idx);
	if (a == NULL || atomic_load_explicit(&a->id, memory_order_acquire) != id.v)
		return NACT_ENOENT;
	int rv = read_actor(sys, a, out);
	if (rv == 0 && out->id.v != id.v)
		return NACT_ENOENT;
	return rv;
}

int nact_metrics_actors(nact_system *sys, nact_actor_metrics *out, size_t max, size_t *np)
{
	if (sys == NULL || np == NULL || (out == NULL && max > 0))
		return NACT_EINVAL;
	if (!sys->cfg.metrics)
		return NACT_ENOTSUP;
	/* acquire: pairs with the release of a carved struct (and its met) */
	uint32_t n = atomic_load_explicit(&sys->acarved, memory_order_acquire);
	size_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct nacti_actor *a = nacti_actor_at(sys, i);
		nact_actor_metrics tmp;
		if (a == NULL)
			continue;
		if (read_actor(sys, a, k < max ? &out[k] : &tmp) == 0)
			k++;
	}
	*np = k;
	return 0;
}

int nact_metrics_workers(nact_system *sys, nact_worker_slot *out, size_t max, size_t *np)
{
	if (sys == NULL || np == NULL || (out == NULL && max > 0))
		return NACT_EINVAL;
	if (!sys->cfg.metrics)
		return NACT_ENOTSUP;
	uint64_t now = nacti_mono_ns();
	for (uint32_t i = 0; i < sys->nworkers && i < max; i++) {
		struct nacti_worker *w = &sys->workers[i];
		nact_worker_slot *s = &out[i];
		memset(s, 0, sizeof(*s));
		s->worker = i;
		uint64_t q = atomic_load_explicit(&w->wd_seq, memory_order_acquire);
		if ((q & 1) == 0)
			continue; /* idle */
		uint64_t aid = atomic_load_explicit(&w->wd_aid, RLX);
		uintptr_t fn = atomic_load_explicit(&w->wd_fn, RLX);
		uint32_t type = atomic_load_explicit(&w->wd_type, RLX);
		/* acquire fence, then seq again: the fields belong to this call */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&w->wd_seq, RLX) != q)
			continue; /* moved on */
		uint64_t seen = atomic_load_explicit(&w->wd_seen_ns, RLX);
		if (atomic_load_explicit(&w->wd_seen_seq, RLX) != q || seen == 0) {
			/* first look at this call: it runs since at least now */
			atomic_store_explicit(&w->wd_seen_ns, now, RLX);
			atomic_store_explicit(&w->wd_seen_seq, q, RLX);
			seen = now;
		}
		s->actor.v = aid;
		s->fn = fn;
		s->type = type;
		s->call = q;
		s->running_ns = now > seen ? now - seen : 0;
	}
	*np = sys->nworkers;
	return 0;
}

/* ---- profiler ---- */

int nact_profile_set(nact_system *sys, int on)
{
	if (sys == NULL || (on != 0 && on != 1))
		return NACT_EINVAL;
	if (!sys->cfg.metrics)
		return NACT_ENOTSUP;
	atomic_store_explicit(&sys->profiling, on, RLX);
	return 0;
}

static int cmp_prof(const void *x, const void *y)
{
	const nact_profile_entry *a = x, *b = y;
	if (a->ns != b->ns)
		return a->ns < b->ns ? 1 : -1;
	if (a->calls != b->calls)
		return a->calls < b->calls ? 1 : -1;
	return a->fn < b->fn ? -1 : a->fn > b->fn ? 1 : (a->type > b->type) - (a->type < b->type);
}

int nact_profile_read(nact_system *sys, nact_profile_entry *out, size_t max, size_t *np)
{
	if (sys == NULL || np == NULL || (out == NULL && max > 0))
		return NACT_EINVAL;
	if (!sys->cfg.metrics)
		return NACT_ENOTSUP;
	size_t cap = (size_t)sys->nworkers * NACTI_PROF_SLOTS, n = 0;
	nact_profile_entry *all = calloc(cap ? cap : 1, sizeof(*all));
	if (all == NULL)
		return NACT_ENOMEM;
	for (uint32_t i = 0; i < sys->nworkers; i++) {
		struct nacti_prof_slot *t = sys->workers[i].prof;
		for (uint32_t j = 0; t != NULL && j < NACTI_PROF_SLOTS; j++) {
			uintptr_t f = atomic_load_explicit(&t[j].fn, memory_order_acquire);
			if (f == 0)
				continue;
			uint32_t ty = atomic_load_explicit(&t[j].type, RLX);
			size_t k;
			for (k = 0; k < n; k++)
				if (all[k].fn == f && all[k].type == ty)
					break;
			if (k == n) {
				all[n].fn = f;
				all[n].type = ty;
				n++;
			}
			all[k].calls += atomic_load_explicit(&t[j].calls, RLX);
			all[k].ns += atomic_load_explicit(&t[j].ns, RLX);
		}
	}
	qsort(all, n, sizeof(*all), cmp_prof);
	for (size_t k = 0; k < n && k < max; k++)
		out[k] = all[k];
	*np = n;
	free(all);
	return 0;
}

const char *nact_behaviour_name(uintptr_t fn, char *buf, size_t len)
{
	Dl_info di;
	if (buf == NULL || len == 0)
		return buf;
	if (dladdr((void *)fn, &di) != 0 && di.dli_sname != NULL && (uintptr_t)di.dli_saddr == fn)
		snprintf(buf, len, "%s", di.dli_sname);
	else
		snprintf(buf, len, "%#llx", (unsigned long long)fn);
	return buf;
}

int nact_profile_log(nact_system *sys, size_t max)
{
	size_t n = 0;
	int rv = nact_profile_read(sys, NULL, 0, &n);
	if (rv != 0)
		return rv;
	if (n > max)
		n = max;
	nact_profile_entry *v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL)
		return NACT_ENOMEM;
	size_t got = 0;
	rv = nact_profile_read(sys, v, n, &got);
	for (size_t i = 0; rv == 0 && i < n && i < got; i++) {
		char nb[128];
		nact_log(sys, NACT_LOG_INFO,
		    "profile: %s type %#x calls %llu total %.3f ms mean %.0f ns",
		    nact_behaviour_name(v[i].fn, nb, sizeof(nb)), v[i].type,
		    (unsigned long long)v[i].calls, (double)v[i].ns / 1e6,
		    v[i].calls ? (double)v[i].ns / (double)v[i].calls : 0.0);
	}
	free(v);
	return rv;
}

/* ---- node ---- */

static uint32_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	uint32_t n = 0;
	if (d == NULL)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own fd */
}

int nact_node_metrics_read(nact_system *sys, nact_node_metrics *out)
{
	if (sys == NULL || out == NULL)
		return NACT_EINVAL;
	memset(out, 0, sizeof(*out));
	out->now_ns = nacti_mono_ns();
	out->uptime_ns = out->now_ns - sys->open_ns;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		out->cpu_ns =
		    ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
		    ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return NACT_ESYSERR + 2;
	char line[256];
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long v;
		if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			out->rss_bytes = (uint64_t)v * 1024u;
		else if (sscanf(line, "Threads: %llu", &v) == 1)
			out->threads = (uint32_t)v;
	}
	fclose(f);
	out->fds = count_fds();
	out->workers = sys->nworkers;
	out->live = atomic_load_explicit(&sys->live, RLX);
	out->spawned = atomic_load_explicit(&sys->spawned, RLX);
	out->deadletters = nact_deadletters(sys, -1);
	return 0;
}

double nact_node_cpu_pct(const nact_node_metrics *prev, const nact_node_metrics *cur)
{
	if (prev == NULL || cur == NULL || cur->now_ns <= prev->now_ns ||
	    cur->cpu_ns < prev->cpu_ns)
		return 0;
	return 100.0 * (double)(cur->cpu_ns - prev->cpu_ns) / (double)(cur->now_ns - prev->now_ns);
}

void nacti_metrics_restarted(nact_system *sys, nact_aid id, uint32_t restarts)
{
	if (sys == NULL || !sys->cfg.metrics || id.v == 0 || NACTI_ID_NODE(id.v) != 0)
		return;
	struct nacti_actor *a = nacti_actor_at(sys, NACTI_ID_IDX(id.v));
	if (a != NULL && a->met != NULL &&
	    atomic_load_explicit(&a->id, memory_order_acquire) == id.v)
		atomic_store_explicit(&a->met->restarts, restarts, RLX);
}
