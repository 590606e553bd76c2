/*
 * actors/limit.c — limiters (token bucket, concurrency, AIMD), gather and
 * retry (include/nactor/limit.h).
 *
 * DESIGN
 * The limiters are plain structs updated by their one owner; time comes
 * from nact_now so tests drive them with the manual clock.
 *
 * gather: one short-lived actor per call. It owns the tasks' requests,
 * keeps at most `limit` of them in flight with nact_request (whose timeout
 * is the task timeout or what is left of the whole gather, whichever is
 * shorter), and arms one timer for the whole gather. The first of "every
 * task settled", "first error" (in that mode) and "the timer fired" ends
 * it: it hands the results over and exits; requests still pending die with
 * it (their callbacks are never called, late replies are dead letters).
 * A blocking caller (nact_gather) waits on a condition variable in a
 * reference-counted rendezvous; it writes into the caller's array only
 * under the rendezvous lock and only while the caller still waits, so a
 * caller that gave up never sees a late write.
 *
 * retry: one short-lived actor per call, answering exactly one request.
 * Each attempt is a copy of the template request; between attempts it
 * waits with a timer to itself (never sleeps). Timer messages carry a
 * nonce so a stray NACT_T_LIMIT_TICK from elsewhere is ignored.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/limit.h>
#include <nng/supplemental/util/platform.h>

#include "actors/internal.h"

/* ---- token bucket ---- */

static int rate_args_ok(double rate, double burst)
{
	return isfinite(rate) && isfinite(burst) && rate > 0 && burst >= 1;
}

int nact_rate_init(nact_rate *r, nact_system *sys, double rate, double burst)
{
	if (r == NULL || sys == NULL || !rate_args_ok(rate, burst))
		return NACT_EINVAL;
	r->sys = sys;
	r->rate = rate;
	r->burst = burst;
	r->tokens = burst;
	r->last = nact_now(sys);
	return 0;
}

static void refill(nact_rate *r)
{
	uint64_t now = nact_now(r->sys);
	if (now > r->last) {
		r->tokens += (double)(now - r->last) * r->rate / 1e9;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
		r->last = now;
	}
}

static uint64_t wait_for(const nact_rate *r, double n)
{
	if (r->tokens >= n)
		return 0;
	double ns = (n - r->tokens) * 1e9 / r->rate;
	if (ns > 1e18)
		return (uint64_t)1e18;
	uint64_t u = (uint64_t)ns;
	if ((double)u < ns)
		u++; /* round up: after u ns there are n tokens */
	return u < 1 ? 1 : u;
}

int nact_rate_try(nact_rate *r, double n, uint64_t *wait_ns)
{
	if (r == NULL || !(n > 0) || n > r->burst)
		return NACT_EINVAL;
	refill(r);
	/* A hair of slack so that waiting exactly *wait_ns always succeeds
	 * despite rounding in the refill. */
	if (r->tokens + 1e-9 >= n) {
		r->tokens -= n;
		if (wait_ns != NULL)
			*wait_ns = 0;
		return 0;
	}
	if (wait_ns != NULL)
		*wait_ns = wait_for(r, n);
	return NACT_ELIMITED;
}

uint64_t nact_rate_wait(nact_rate *r, double n)
{
	if (r == NULL || !(n > 0))
		return 0;
	refill(r);
	return wait_for(r, n);
}

int nact_rate_set(nact_rate *r, double rate, double burst)
{
	if (r == NULL)
		return NACT_EINVAL;
	if (burst <= 0)
		burst = r->burst;
	if (!rate_args_ok(rate, burst))
		return NACT_EINVAL;
	refill(r); /* earned at the old rate */
	r->rate = rate;
	r->burst = burst;
	if (r->tokens > burst)
		r->tokens = burst;
	return 0;
}

/* ---- concurrency ---- */

int nact_climit_init(nact_climit *c, uint32_t max)
{
	if (c == NULL || max == 0)
		return NACT_EINVAL;
	c->max = max;
	c->inflight = 0;
	c->refused = 0;
	return 0;
}

int nact_climit_try(nact_climit *c)
{
	if (c == NULL)
		return NACT_EINVAL;
	if (c->inflight >= c->max) {
		c->refused++;
		return NACT_ELIMITED;
	}
	c->inflight++;
	return 0;
}

int nact_climit_release(nact_climit *c)
{
	if (c == NULL)
		return NACT_EINVAL;
	if (c->inflight == 0)
		return NACT_ESTATE;
	c->inflight--;
	return 0;
}

int nact_climit_set(nact_climit *c, uint32_t max)
{
	if (c == NULL || max == 0)
		return NACT_EINVAL;
	c->max = max;
	return 0;
}

/* ---- AIMD ---- */

int nact_alimit_init(nact_alimit *a, nact_system *sys, const nact_alimit_opts *o)
{
	if (a == NULL || sys == NULL || o == NULL)
		return NACT_EINVAL;
	nact_alimit_opts x = *o;
	if (!isfinite(x.max) || x.max <= 0)
		return NACT_EINVAL;
	if (x.min == 0)
		x.min = x.max < 1 ? x.max : 1;
	if (x.initial == 0)
		x.initial = x.max;
	if (x.add == 0)
		x.add = x.max / 100;
	if (x.mult == 0)
		x.mult = 0.5;
	if (x.burst == 0)
		x.burst = 1;
	if (x.cooldown_ms == 0)
		x.cooldown_ms = 100;
	if (!isfinite(x.min) || !isfinite(x.initial) || !isfinite(x.add) || !isfinite(x.mult) ||
	    x.min <= 0 || x.min > x.max || x.initial < x.min || x.initial > x.max || x.add < 0 ||
	    x.mult <= 0 || x.mult >= 1)
		return NACT_EINVAL;
	int rv = nact_rate_init(&a->bucket, sys, x.initial, x.burst);
	if (rv != 0)
		return rv;
	a->o = x;
	a->last_decrease = 0;
	a->decreased = 0;
	a->increases = 0;
	a->decreases = 0;
	return 0;
}

int nact_alimit_try(nact_alimit *a, uint64_t *wait_ns)
{
	if (a == NULL)
		return NACT_EINVAL;
	return nact_rate_try(&a->bucket, 1, wait_ns);
}

void nact_alimit_report(nact_alimit *a, int overload)
{
	if (a == NULL)
		return;
	double rate = a->bucket.rate;
	if (!overload) {
		rate += a->o.add / rate;
		if (rate > a->o.max)
			rate = a->o.max;
		a->increases++;
		/* A step of add / rate: no refill (no clock read) needed; the
		 * tokens since the last refill are counted at the new rate. */
		a->bucket.rate = rate;
		return;
	} else {
		uint64_t now = nact_now(a->bucket.sys);
		uint64_t cd = (uint64_t)a->o.cooldown_ms * 1000000u;
		if (a->decreased && now - a->last_decrease < cd)
			return; /* same congestion episode */
		rate *= a->o.mult;
		if (rate < a->o.min)
			rate = a->o.min;
		a->last_decrease = now;
		a->decreased = 1;
		a->decreases++;
	}
	nact_rate_set(&a->bucket, rate, 0);
}

void nact_alimit_latency(nact_alimit *a, uint64_t latency_ns)
{
	if (a == NULL || a->o.target_lat_ns == 0)
		return;
	nact_alimit_report(a, latency_ns > a->o.target_lat_ns);
}

double nact_alimit_rate(const nact_alimit *a)
{
	return a != NULL ? a->bucket.rate : 0;
}

/* ---- shared helpers ---- */

static int tick_msg(nact_msg **mp, nact_system *sys, uint64_t nonce)
{
	nact_pack pk;
	int rv = nact_msg_alloc(mp, sys, NACT_T_LIMIT_TICK);
	if (rv != 0)
		return rv;
	nact_pack_init(&pk, *mp);
	nact_pack_uint(&pk, nonce);
	if ((rv = nact_pack_error(&pk)) != 0) {
		nact_msg_free(*mp);
		*mp = NULL;
	}
	return rv;
}

static int is_tick(const nact_msg *m, uint64_t nonce)
{
	nact_reader r;
	uint64_t v = 0;
	if (nact_msg_type(m) != NACT_T_LIMIT_TICK || nact_reader_init(&r, m, NULL) != 0)
		return 0;
	int rv = nact_read_uint(&r, &v);
	nact_reader_fini(&r);
	return rv == 0 && v == nonce;
}

/* A copy of a reply, kept beyond its callback. A copy rather than
 * nact_msg_take: the callback goes on to send requests, and nact_request
 * reads the header of the message being handled (deadline and operation
 * propagation), which must still have its nng_msg. */
static nact_msg *keep_reply(nact_system *sys, const nact_msg *reply)
{
	nact_msg *k = NULL;
	nng_msg *nm = NULL;
	if (nng_msg_dup(&nm, nact_msg_nng((nact_msg *)reply)) != 0)
		return NULL;
	if (nact_msg_wrap(&k, sys, nm) != 0) {
		nng_msg_free(nm);
		return NULL;
	}
	return k;
}

static int reply_status(const nact_msg *reply, int err)
{
	if (err != 0)
		return err;
	if (nact_msg_type(reply) == NACT_T_ERROR) {
		int code = NACT_EBADMSG;
		if (nact_error_read(reply, &code, NULL, 0) != 0 || code == 0)
			code = NACT_EBADMSG;
		return code;
	}
	return 0;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s != 0 ? *s : 0x9E3779B97F4A7C15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* ---- gather ---- */

struct gwait {
	nng_mtx *mtx;
	nng_cv *cv;
	atomic_int refs;
	int done;      /* results written */
	int abandoned; /* caller gave up: never touch res */
	nact_task_result *res;
};

static void gwait_unref(struct gwait *w)
{
	if (w == NULL || atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
		return;
	nng_cv_free(w->cv);
	nng_mtx_free(w->mtx);
	free(w);
}

enum { G_PENDING = 0, G_INFLIGHT = 1, G_DONE = 2 };

struct gather {
	nact_msg **req; /* owned until sent */
	nact_aid *to;
	nact_task_result *res;
	uint8_t *st;
	size_t n, next, inflight, ndone;
	nact_gather_opts o;
	uint64_t deadline;
	uint64_t nonce;
	nact_timer timer;
	int started, finished;
	struct gwait *w;
	nact_aid notify;
	uint64_t tag;
};

static void gather_fini(void *p)
{
	struct gather *g = p;
	for (size_t i = 0; i < g->n; i++) {
		nact_msg_free(g->req[i]);
		nact_msg_free(g->res[i].reply);
	}
	gwait_unref(g->w);
	free(g->req);
	free(g->to);
	free(g->res);
	free(g->st);
	free(g);
}

static void gather_settle(struct gather *g, size_t i, int status, nact_msg *reply)
{
	if (g->st[i] == G_INFLIGHT)
		g->inflight--;
	g->st[i] = G_DONE;
	g->res[i].status = status;
	g->res[i].reply = reply;
	g->ndone++;
}

static void gather_close_all(struct gather *g, int status)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->st[i] != G_DONE)
			gather_settle(g, i, status, NULL);
}

static void gather_finish(nact_ctx *ctx, struct gather *g)
{
	nact_system *sys = nact_sys(ctx);
	g->finished = 1;
	nact_timer_cancel(sys, g->timer);
	if (g->w != NULL) {
		nng_mtx_lock(g->w->mtx);
		if (!g->w->abandoned) {
			for (size_t i = 0; i < g->n; i++) {
				g->w->res[i] = g->res[i];
				g->res[i].reply = NULL; /* now the caller's */
			}
		}
		g->w->done = 1;
		nng_cv_wake(g->w->cv);
		nng_mtx_unlock(g->w->mtx);
	} else if (g->notify.v != 0) {
		nact_msg *m;
		nact_pack pk;
		if (nact_msg_alloc(&m, sys, NACT_T_GATHER_DONE) == 0) {
			nact_pack_init(&pk, m);
			nact_pack_array(&pk, 2);
			nact_pack_uint(&pk, g->tag);
			nact_pack_array(&pk, (uint32_t)g->n);
			for (size_t i = 0; i < g->n; i++) {
				size_t bl = 0;
				const void *b = "";
				nact_msg *r = g->res[i].reply;
				if (r != NULL)
					b = nact_msg_body(r, &bl);
				nact_pack_array(&pk, 3);
				nact_pack_int(&pk, g->res[i].status);
				nact_pack_uint(&pk, r != NULL ? nact_msg_type(r) : 0);
				nact_pack_bin(&pk, b, bl);
			}
			if (nact_pack_error(&pk) != 0 || nact_send(sys, g->notify, m) != 0) {
				nact_log(sys, NACT_LOG_ERROR, "gather: result for %llu lost",
				    (unsigned long long)g->notify.v);
				nact_msg_free(m);
			}
		}
	}
	nact_exit(ctx, 0);
}

static void gather_on_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg);

static void gather_launch(nact_ctx *ctx, struct gather *g)
{
	while (!g->finished && g->inflight < g->o.limit && g->next < g->n) {
		size_t i = g->next++;
		uint64_t now = nact_now(nact_sys(ctx));
		uint64_t left = g->deadline > now ? g->deadline - now : 0;
		if (left == 0) {
			/* Past the deadline: the timer is about to say so; start
			 * nothing new. */
			g->next--;
			gather_close_all(g, NACT_ETIMEDOUT);
			gather_finish(ctx, g);
			return;
		}
		int tmo = nact_ns_to_ms(left);
		if (g->o.task_timeout_ms > 0 && g->o.task_timeout_ms < tmo)
			tmo = g->o.task_timeout_ms;
		int rv = nact_request(ctx, g->to[i], g->req[i], tmo, gather_on_reply,
		    (void *)(uintptr_t)i);
		if (rv != 0) {
			nact_msg_free(g->req[i]);
			g->req[i] = NULL;
			gather_settle(g, i, rv, NULL);
			if (g->o.mode == NACT_GATHER_FIRST_ERROR) {
				gather_close_all(g, NACT_ECANCELED);
				gather_finish(ctx, g);
				return;
			}
			continue;
		}
		g->req[i] = NULL;
		g->st[i] = G_INFLIGHT;
		g->inflight++;
	}
	if (!g->finished && g->ndone == g->n)
		gather_finish(ctx, g);
}

static void gather_on_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct gather *g = nact_state(ctx);
	size_t i = (size_t)(uintptr_t)arg;
	if (g->finished || i >= g->n || g->st[i] != G_INFLIGHT)
		return;
	int status = reply_status(reply, err);
	nact_msg *kept = reply != NULL ? keep_reply(nact_sys(ctx), reply) : NULL;
	if (reply != NULL && kept == NULL && status == 0)
		status = NACT_ENOMEM;
	gather_settle(g, i, status, kept);
	if (status != 0 && g->o.mode == NACT_GATHER_FIRST_ERROR) {
		gather_close_all(g, NACT_ECANCELED);
		gather_finish(ctx, g);
		return;
	}
	gather_launch(ctx, g);
}

static int gather_behaviour(nact_ctx *ctx, nact_msg *m)
{
	struct gather *g = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (g->finished)
		return 0;
	if (is_tick(m, g->nonce) && !g->started) {
		g->started = 1;
		g->deadline = nact_now(sys) + (uint64_t)g->o.timeout_ms * 1000000u;
		nact_msg *t;
		if (tick_msg(&t, sys, g->nonce + 1) == 0 &&
		    nact_send_after(sys, nact_self(ctx), t, g->o.timeout_ms, &g->timer) != 0)
			nact_msg_free(t);
		gather_launch(ctx, g);
		return 0;
	}
	if (is_tick(m, g->nonce + 1) && g->started) {
		gather_close_all(g, NACT_ETIMEDOUT);
		gather_finish(ctx, g);
		return 0;
	}
	if (nact_msg_flags(m) & NACT_MF_REQUEST)
		nact_reply_error(sys, m, NACT_EBADMSG, "gather: takes no requests");
	return 0;
}

static int gather_spawn(nact_system *sys, nact_task *tasks, size_t n, const nact_gather_opts *opts,
    struct gwait *w, nact_aid notify, uint64_t tag, nact_aid *gidp)
{
	struct gather *g = calloc(1, sizeof(*g));
	int rv = NACT_ENOMEM;
	if (g == NULL)
		goto out_free_reqs;
	g->n = n;
	g->req = calloc(n, sizeof(*g->req));
	g->to = calloc(n, sizeof(*g->to));
	g->res = calloc(n, sizeof(*g->res));
	g->st = calloc(n, 1);
	if (g->req == NULL || g->to == NULL || g->res == NULL || g->st == NULL)
		goto out_free_g;
	for (size_t i = 0; i < n; i++) {
		g->req[i] = tasks[i].req;
		g->to[i] = tasks[i].to;
		tasks[i].req = NULL; /* ours now */
	}
	g->o = *opts;
	if (g->o.limit == 0)
		g->o.limit = 8;
	g->notify = notify;
	g->tag = tag;
	g->nonce = (nact_now(sys) ^ (uint64_t)(uintptr_t)g) | 1u;
	g->nonce &= ~(uint64_t)1 << 63; /* room for nonce + 1 */

	nact_msg *go;
	if ((rv = tick_msg(&go, sys, g->nonce)) != 0)
		goto out_free_g;
	if (w != NULL)
		atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
	g->w = w;
	nact_aid id;
	if ((rv = nact_spawn(&id, sys, gather_behaviour, g, gather_fini, NULL)) != 0) {
		nact_msg_free(go);
		goto out_free_g;
	}
	/* From here the actor owns g. The go message starts it; if it cannot
	 * be sent, stopping the actor frees everything. */
	if ((rv = nact_send(sys, id, go)) != 0) {
		nact_msg_free(go);
		nact_stop(sys, id);
		return rv;
	}
	if (gidp != NULL)
		*gidp = id;
	return 0;

out_free_g:
	if (g->req != NULL) {
		for (size_t i = 0; i < n; i++) {
			nact_msg_free(g->req[i]);
			g->req[i] = NULL;
		}
	}
	gather_fini(g);
	return rv;
out_free_reqs:
	for (size_t i = 0; i < n; i++) {
		nact_msg_free(tasks[i].req);
		tasks[i].req = NULL;
	}
	return rv;
}

static int gather_args_ok(nact_system *sys, const nact_task *tasks, size_t n,
    const nact_gather_opts *o)
{
	if (sys == NULL || tasks == NULL || n == 0 || n > (1u << 20) || o == NULL ||
	    o->timeout_ms <= 0 || o->task_timeout_ms < 0 ||
	    (o->mode != NACT_GATHER_ALL && o->mode != NACT_GATHER_FIRST_ERROR))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (tasks[i].req == NULL)
			return 0;
	return 1;
}

int nact_gather_start(nact_system *sys, nact_task *tasks, size_t n, const nact_gather_opts *opts,
    nact_aid notify, uint64_t tag, nact_aid *gidp)
{
	if (!gather_args_ok(sys, tasks, n, opts) || notify.v == 0)
		return NACT_EINVAL;
	return gather_spawn(sys, tasks, n, opts, NULL, notify, tag, gidp);
}

/* Whether the calling thread runs a handler (nact_call refuses there). */
static int in_actor(nact_system *sys)
{
	(void)sys;
	return nacti_cur != NULL;
}

int nact_gather(nact_system *sys, nact_task *tasks, size_t n, const nact_gather_opts *opts,
    nact_task_result *res)
{
	if (!gather_args_ok(sys, tasks, n, opts) || res == NULL)
		return NACT_EINVAL;
	if (in_actor(sys))
		return NACT_EDEADLK;
	for (size_t i = 0; i < n; i++)
		res[i] = (nact_task_result){NACT_ETIMEDOUT, NULL};
	struct gwait *w = calloc(1, sizeof(*w));
	if (w == NULL || nng_mtx_alloc(&w->mtx) != 0) {
		free(w);
		w = NULL;
	} else if (nng_cv_alloc(&w->cv, w->mtx) != 0) {
		nng_mtx_free(w->mtx);
		free(w);
		w = NULL;
	}
	if (w == NULL) {
		for (size_t i = 0; i < n; i++) {
			nact_msg_free(tasks[i].req);
			tasks[i].req = NULL;
		}
		return NACT_ENOMEM;
	}
	atomic_init(&w->refs, 1);
	w->res = res;
	int rv = gather_spawn(sys, tasks, n, opts, w, NACT_AID_NONE, 0, NULL);
	if (rv != 0) {
		gwait_unref(w);
		return rv;
	}
	nng_time until = nng_clock() + (nng_duration)opts->timeout_ms + 1000;
	nng_mtx_lock(w->mtx);
	while (!w->done) {
		if (nng_cv_until(w->cv, until) == NNG_ETIMEDOUT)
			break;
	}
	rv = w->done ? 0 : NACT_ETIMEDOUT;
	if (!w->done)
		w->abandoned = 1;
	nng_mtx_unlock(w->mtx);
	gwait_unref(w);
	return rv;
}

int nact_gather_done_read(const nact_msg *m, size_t i, uint64_t *tagp, size_t *np, int *status,
    uint32_t *reply_type, const void **body, size_t *blen)
{
	if (m == NULL || nact_msg_type(m) != NACT_T_GATHER_DONE)
		return NACT_EINVAL;
	nact_reader r;
	uint32_t n = 0, k = 0;
	uint64_t tag = 0, type = 0;
	int64_t st = 0;
	const void *b = NULL;
	size_t bl = 0;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv != 0)
		return NACT_EBADMSG;
	if (nact_read_array(&r, &n) != 0 || n != 2 || nact_read_uint(&r, &tag) != 0 ||
	    nact_read_array(&r, &n) != 0) {
		rv = NACT_EBADMSG;
		goto out;
	}
	if (tagp != NULL)
		*tagp = tag;
	if (np != NULL)
		*np = n;
	if (i >= n) {
		rv = NACT_ERANGE;
		goto out;
	}
	for (size_t j = 0; j < i; j++) {
		msgpack_object o;
		if (nact_read_object(&r, &o) != 0) {
			rv = NACT_EBADMSG;
			goto out;
		}
	}
	if (nact_read_array(&r, &k) != 0 || k != 3 || nact_read_int(&r, &st) != 0 ||
	    nact_read_uint(&r, &type) != 0 || nact_read_bin(&r, &b, &bl) != 0 || st < INT32_MIN ||
	    st > INT32_MAX || type > UINT32_MAX) {
		rv = NACT_EBADMSG;
		goto out;
	}
	if (status != NULL)
		*status = (int)st;
	if (reply_type != NULL)
		*reply_type = (uint32_t)type;
	if (body != NULL)
		*body = b;
	if (blen != NULL)
		*blen = bl;
out:
	nact_reader_fini(&r);
	return rv;
}

/* ---- retry ---- */

static void retry_defaults(nact_retry_opts *o, const nact_retry_opts *in)
{
	if (in != NULL)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (o->max_attempts == 0)
		o->max_attempts = 5;
	if (o->attempt_timeout_ms == 0)
		o->attempt_timeout_ms = 1000;
	if (o->base_delay_ms == 0)
		o->base_delay_ms = 10;
	if (o->max_delay_ms == 0)
		o->max_delay_ms = 1000;
	if (o->jitter_pct > 100)
		o->jitter_pct = 100;
}

uint32_t nact_backoff_ms(const nact_retry_opts *in, uint32_t attempt, uint64_t *rng)
{
	nact_retry_opts o;
	retry_defaults(&o, in);
	if (attempt == 0)
		attempt = 1;
	uint64_t d = o.base_delay_ms;
	for (uint32_t k = 1; k < attempt && d < o.max_delay_ms; k++)
		d *= 2;
	if (d > o.max_delay_ms)
		d = o.max_delay_ms;
	if (o.jitter_pct > 0 && rng != NULL) {
		uint64_t j = d * o.jitter_pct / 100;
		d -= xorshift(rng) % (j + 1);
	}
	return (uint32_t)d;
}

uint64_t nact_retry_budget_ms(const nact_retry_opts *in)
{
	nact_retry_opts o;
	retry_defaults(&o, in);
	uint64_t t = (uint64_t)o.max_attempts * o.attempt_timeout_ms;
	for (uint32_t a = 1; a < o.max_attempts; a++)
		t += nact_backoff_ms(&o, a, NULL);
	return t + 100; /* scheduling slack */
}

struct retry {
	nact_aid to;
	nact_msg *tmpl; /* the request template (owned) */
	nact_retry_opts o;
	uint64_t rng;
	uint32_t attempt;
	int have_caller, waiting, done;
	nact_aid caller;
	uint64_t corr;
	uint64_t deadline; /* of the request being answered, 0 = none */
	uint64_t nonce;
};

static void retry_fini(void *p)
{
	struct retry *r = p;
	nact_msg_free(r->tmpl);
	free(r);
}

static int default_retryable(const nact_msg *reply, int err)
{
	if (err != 0)
		return err == NACT_ETIMEDOUT;
	int st = reply_status(reply, 0);
	return st != 0 && st != NACT_EBADMSG && st != NACT_EINVAL && st != NACT_ENOTSUP;
}

static void retry_answer(nact_ctx *ctx, struct retry *r, const nact_msg *reply, int err)
{
	nact_system *sys = nact_sys(ctx);
	nact_msg *m = NULL;
	int rv;
	if (reply != NULL) {
		size_t bl;
		const void *b = nact_msg_body(reply, &bl);
		rv = nact_msg_alloc(&m, sys, nact_msg_type(reply));
		if (rv == 0 && bl > 0 && nng_msg_append(nact_msg_nng(m), b, bl) != 0)
			rv = NACT_ENOMEM;
	} else {
		char text[96];
		nact_pack pk;
		snprintf(text, sizeof(text), "retry: %s after %u attempt(s)", nact_strerror(err),
		    r->attempt);
		rv = nact_msg_alloc(&m, sys, NACT_T_ERROR);
		if (rv == 0) {
			nact_pack_init(&pk, m);
			nact_pack_array(&pk, 2);
			nact_pack_int(&pk, err);
			nact_pack_str(&pk, text);
			rv = nact_pack_error(&pk);
		}
	}
	if (rv != 0 || nact_reply_to(sys, r->caller, r->corr, m) != 0)
		nact_msg_free(m);
	r->done = 1;
	nact_exit(ctx, 0);
}

static void retry_attempt(nact_ctx *ctx, struct retry *r);

static void retry_on_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct retry *r = nact_state(ctx);
	nact_system *sys = nact_sys(ctx);
	if (r->done)
		return;
	int again = r->o.retryable != NULL ? r->o.retryable(reply, err, r->o.retryable_arg) :
	                                     default_retryable(reply, err);
	if (!again || r->attempt >= r->o.max_attempts) {
		retry_answer(ctx, r, reply, err);
		return;
	}
	uint32_t delay = nact_backoff_ms(&r->o, r->attempt, &r->rng);
	uint64_t now = nact_now(sys);
	if (r->deadline != 0 && now + (uint64_t)delay * 1000000u >= r->deadline) {
		retry_answer(ctx, r, reply, err); /* no time left for another try */
		return;
	}
	nact_msg *t;
	r->nonce++;
	if (tick_msg(&t, sys, r->nonce) != 0) {
		retry_answer(ctx, r, reply, err);
		return;
	}
	if (nact_send_after(sys, nact_self(ctx), t, (int)delay, NULL) != 0) {
		nact_msg_free(t);
		retry_answer(ctx, r, reply, err);
		return;
	}
	r->waiting = 1;
}

static void retry_attempt(nact_ctx *ctx, struct retry *r)
{
	nact_system *sys = nact_sys(ctx);
	uint64_t tmo = r->o.attempt_timeout_ms;
	if (r->deadline != 0) {
		uint64_t now = nact_now(sys);
		if (now >= r->deadline) {
			retry_answer(ctx, r, NULL, NACT_ETIMEDOUT);
			return;
		}
		uint64_t left = (uint64_t)nact_ns_to_ms(r->deadline - now);
		if (left < tmo)
			tmo = left;
	}
	r->attempt++;
	nact_msg *copy = NULL;
	nng_msg *dup = NULL;
	int rv = nng_msg_dup(&dup, nact_msg_nng(r->tmpl)) != 0 ? NACT_ENOMEM : 0;
	if (rv == 0 && (rv = nact_msg_wrap(&copy, sys, dup)) != 0)
		nng_msg_free(dup);
	if (rv == 0 && (rv = nact_request(ctx, r->to, copy, (int)tmo, retry_on_reply, NULL)) != 0)
		nact_msg_free(copy);
	if (rv != 0)
		retry_answer(ctx, r, NULL, rv);
}

static int retry_behaviour(nact_ctx *ctx, nact_msg *m)
{
	struct retry *r = nact_state(ctx);
	if (r->done)
		return 0;
	if (r->waiting && is_tick(m, r->nonce)) {
		r->waiting = 0;
		retry_attempt(ctx, r);
		return 0;
	}
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0; /* stray message: ignored */
	if (r->have_caller) {
		nact_reply_error(nact_sys(ctx), m, NACT_EBADMSG,
		    "retry: already answering a request");
		return 0;
	}
	r->have_caller = 1;
	r->caller = nact_msg_sender(m);
	r->corr = nact_msg_corr(m);
	r->deadline = nact_msg_deadline(m);
	retry_attempt(ctx, r);
	return 0;
}

int nact_retry_spawn(nact_aid *idp, nact_system *sys, nact_aid to, nact_msg *req,
    const nact_retry_opts *opts)
{
	if (idp == NULL || sys == NULL || to.v == 0 || req == NULL)
		return NACT_EINVAL;
	if (opts != NULL && opts->jitter_pct > 100)
		return NACT_EINVAL;
	struct retry *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NACT_ENOMEM;
	retry_defaults(&r->o, opts);
	r->to = to;
	r->tmpl = req;
	r->rng = r->o.seed != 0 ? r->o.seed : (nact_now(sys) ^ (uint64_t)(uintptr_t)r) | 1u;
	int rv = nact_spawn(idp, sys, retry_behaviour, r, retry_fini, NULL);
	if (rv != 0) {
		r->tmpl = NULL; /* still the caller's */
		retry_fini(r);
	}
	return rv;
}

int nact_retry_call(nact_system *sys, nact_aid to, nact_msg *req, const nact_retry_opts *opts,
    nact_msg **replyp, int timeout_ms)
{
	nact_aid rid;
	if (replyp == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	if (in_actor(sys))
		return NACT_EDEADLK;
	int rv = nact_retry_spawn(&rid, sys, to, req, opts);
	if (rv != 0) {
		if (rv != NACT_EINVAL)
			nact_msg_free(req);
		return rv;
	}
	if (timeout_ms == 0) {
		uint64_t b = nact_retry_budget_ms(opts);
		timeout_ms = b > 0x7fffffff ? 0x7fffffff : (int)b;
	}
	nact_msg *go;
	if ((rv = nact_msg_alloc(&go, sys, NACT_T_RETRY_GO)) != 0) {
		nact_stop(sys, rid);
		return rv;
	}
	rv = nact_call(sys, rid, go, timeout_ms, replyp);
	if (rv != 0 && rv != NACT_ETIMEDOUT)
		nact_msg_free(go);
	if (rv != 0)
		nact_stop(sys, rid);
	return rv;
}

int nact_retry_request(nact_ctx *ctx, nact_aid to, nact_msg *req, const nact_retry_opts *opts,
    int timeout_ms, nact_reply_fn cb, void *arg)
{
	if (ctx == NULL || req == NULL || cb == NULL || timeout_ms < 0)
		return NACT_EINVAL;
	nact_system *sys = nact_sys(ctx);
	nng_msg *dup;
	nact_msg *copy = NULL, *go = NULL;
	nact_aid rid;
	if (nng_msg_dup(&dup, nact_msg_nng(req)) != 0)
		return NACT_ENOMEM;
	int rv = nact_msg_wrap(&copy, sys, dup);
	if (rv != 0) {
		nng_msg_free(dup);
		return rv;
	}
	if ((rv = nact_retry_spawn(&rid, sys, to, copy, opts)) != 0) {
		nact_msg_free(copy);
		return rv;
	}
	if (timeout_ms == 0) {
		uint64_t b = nact_retry_budget_ms(opts);
		timeout_ms = b > 0x7fffffff ? 0x7fffffff : (int)b;
	}
	if ((rv = nact_msg_alloc(&go, sys, NACT_T_RETRY_GO)) == 0 &&
	    (rv = nact_request(ctx, rid, go, timeout_ms, cb, arg)) != 0)
		nact_msg_free(go);
	if (rv != 0) {
		nact_stop(sys, rid); /* frees its copy; req is still the caller's */
		return rv;
	}
	nact_msg_free(req);
	return 0;
}
