/*
 * actors/monitor_prom.c — the Prometheus text exposition (version 0.0.4) of
 * the node's and the actors' metrics, and a GET endpoint for it on nng's own
 * HTTP server (monitor.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include <nactor/monitor.h>

#include "actors/internal.h"

struct sbuf {
	char *p;
	size_t n, cap;
	int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	if (b->err)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->err = 1;
			return;
		}
		if ((size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		size_t nc = (b->cap + (size_t)k + 1) * 2;
		char *np = realloc(b->p, nc);
		if (np == NULL) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

/* A label value with \, " and newline escaped. */
static void label_esc(char *dst, size_t cap, const char *s)
{
	size_t k = 0;
	for (; *s != '\0' && k + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			dst[k++] = '\\';
			dst[k++] = *s;
		} else if (*s == '\n') {
			dst[k++] = '\\';
			dst[k++] = 'n';
		} else {
			dst[k++] = *s;
		}
	}
	dst[k] = '\0';
}

static void head(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int nact_prom_render(nact_system *sys, char **textp, size_t *lenp)
{
	if (sys == NULL || textp == NULL)
		return NACT_EINVAL;
	struct sbuf b = {0};
	b.cap = 4096;
	b.p = malloc(b.cap);
	if (b.p == NULL)
		return NACT_ENOMEM;
	b.p[0] = '\0';
	nact_node_metrics nm;
	if (nact_node_metrics_read(sys, &nm) == 0) {
		head(&b, "nactor_process_cpu_seconds_total", "counter",
		    "User and system CPU time.");
		sb_printf(&b, "nactor_process_cpu_seconds_total %.6f\n", (double)nm.cpu_ns / 1e9);
		head(&b, "nactor_process_resident_memory_bytes", "gauge", "Resident set size.");
		sb_printf(&b, "nactor_process_resident_memory_bytes %llu\n",
		    (unsigned long long)nm.rss_bytes);
		head(&b, "nactor_process_threads", "gauge", "Threads of the process.");
		sb_printf(&b, "nactor_process_threads %u\n", nm.threads);
		head(&b, "nactor_process_open_fds", "gauge", "Open file descriptors.");
		sb_printf(&b, "nactor_process_open_fds %u\n", nm.fds);
		head(&b, "nactor_uptime_seconds", "gauge", "Time since the system opened.");
		sb_printf(&b, "nactor_uptime_seconds %.3f\n", (double)nm.uptime_ns / 1e9);
		head(&b, "nactor_workers", "gauge", "Worker threads.");
		sb_printf(&b, "nactor_workers %u\n", nm.workers);
		head(&b, "nactor_actors_live", "gauge", "Actors alive.");
		sb_printf(&b, "nactor_actors_live %llu\n", (unsigned long long)nm.live);
		head(&b, "nactor_actors_spawned_total", "counter", "Actors ever spawned.");
		sb_printf(&b, "nactor_actors_spawned_total %llu\n", (unsigned long long)nm.spawned);
		head(&b, "nactor_deadletters_total", "counter", "Dead letters, all reasons.");
		sb_printf(&b, "nactor_deadletters_total %llu\n",
		    (unsigned long long)nm.deadletters);
	}
	size_t n = 0, cap = 0;
	nact_actor_metrics *am = NULL;
	if (sys->cfg.metrics) {
		for (;;) {
			if (nact_metrics_actors(sys, am, cap, &n) != 0) {
				n = 0;
				break;
			}
			if (n <= cap)
				break;
			cap = n + n / 4 + 16;
			nact_actor_metrics *v = realloc(am, cap * sizeof(*v));
			if (v == NULL) {
				b.err = 1;
				n = 0;
				break;
			}
			am = v;
		}
	}
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"nactor_actor_mailbox_depth", "gauge", "Messages queued in the main lane."},
	    {"nactor_actor_messages_in_total", "counter", "Main-lane messages taken."},
	    {"nactor_actor_messages_out_total", "counter", "Messages sent by its handlers."},
	    {"nactor_actor_dropped_total", "counter", "Messages dropped by a drop-oldest mailbox."},
	    {"nactor_actor_restarts", "gauge", "Restarts by its supervisor."},
	};
	for (size_t f = 0; n > 0 && f < sizeof(fam) / sizeof(fam[0]); f++) {
		head(&b, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < n; i++) {
			char nb[sizeof(am[i].name) * 2 + 1];
			label_esc(nb, sizeof(nb), am[i].name);
			uint64_t v = f == 0 ? am[i].depth :
			    f == 1          ? am[i].in :
			    f == 2          ? am[i].out :
			    f == 3          ? am[i].dropped :
			                      am[i].restarts;
			sb_printf(&b, "%s{id=\"%#llx\",name=\"%s\"} %llu\n", fam[f].name,
			    (unsigned long long)am[i].id.v, nb, (unsigned long long)v);
		}
	}
	if (n > 0)
		head(&b, "nactor_actor_handler_seconds", "histogram",
		    "Time in the behaviour per call (log2 buckets).");
	for (size_t i = 0; i < n; i++) {
		char nb[sizeof(am[i].name) * 2 + 1];
		label_esc(nb, sizeof(nb), am[i].name);
		int top = -1;
		for (int k = 0; k < NACT_HIST_BUCKETS; k++)
			if (am[i].hist[k] != 0)
				top = k;
		uint64_t acc = 0;
		for (int k = 0; k <= top; k++) {
			acc += am[i].hist[k];
			if (am[i].hist[k] == 0 && k != top && k < 10)
				continue; /* skip empty sub-microsecond buckets */
			sb_printf(&b,
			    "nactor_actor_handler_seconds_bucket{id=\"%#llx\",name=\"%s\",le=\"%.9g\"} "
			    "%llu\n",
			    (unsigned long long)am[i].id.v, nb,
			    (double)(UINT64_C(1) << (k + 1)) / 1e9, (unsigned long long)acc);
		}
		sb_printf(&b,
		    "nactor_actor_handler_seconds_bucket{id=\"%#llx\",name=\"%s\",le=\"+Inf\"} %llu\n",
		    (unsigned long long)am[i].id.v, nb, (unsigned long long)acc);
		sb_printf(&b, "nactor_actor_handler_seconds_sum{id=\"%#llx\",name=\"%s\"} %.9f\n",
		    (unsigned long long)am[i].id.v, nb, (double)am[i].busy_ns / 1e9);
		sb_printf(&b, "nactor_actor_handler_seconds_count{id=\"%#llx\",name=\"%s\"} %llu\n",
		    (unsigned long long)am[i].id.v, nb, (unsigned long long)acc);
	}
	free(am);
	if (b.err) {
		free(b.p);
		return NACT_ENOMEM;
	}
	*textp = b.p;
	if (lenp != NULL)
		*lenp = b.n;
	return 0;
}

/* ---- HTTP ---- */

struct nact_prom {
	nact_system *sys;
	nng_http_server *srv;
};

static void prom_cb(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct nact_prom *p = nng_http_handler_get_data(h);
	nng_http_res *res;
	char *text = NULL;
	size_t len = 0;
	int rv = nact_prom_render(p->sys, &text, &len);
	if (rv != 0) {
		if (nng_http_res_alloc_error(&res, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR) != 0) {
			nng_aio_finish(aio, NNG_ENOMEM);
			return;
		}
	} else {
		if (nng_http_res_alloc(&res) != 0) {
			free(text);
			nng_aio_finish(aio, NNG_ENOMEM);
			return;
		}
		int e = nng_http_res_set_header(res, "Content-Type", "text/plain; version=0.0.4");
		if (e == 0)
			e = nng_http_res_copy_data(res, text, len);
		free(text);
		if (e != 0) {
			nng_http_res_free(res);
			nng_aio_finish(aio, e);
			return;
		}
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

int nact_prom_serve(nact_system *sys, const char *url, nact_prom **pp)
{
	nng_url *u = NULL;
	nng_http_handler *h = NULL;
	if (sys == NULL || url == NULL || pp == NULL)
		return NACT_EINVAL;
	if (nng_url_parse(&u, url) != 0)
		return NACT_EINVAL;
	if (strcmp(u->u_scheme, "http") != 0) {
		nng_url_free(u);
		return NACT_EINVAL;
	}
	struct nact_prom *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		nng_url_free(u);
		return NACT_ENOMEM;
	}
	p->sys = sys;
	const char *path = u->u_path[0] != '\0' ? u->u_path : "/";
	int rv = nng_http_server_hold(&p->srv, u);
	if (rv == 0)
		rv = nng_http_handler_alloc(&h, path, prom_cb);
	if (rv == 0)
		rv = nng_http_handler_set_method(h, "GET");
	if (rv == 0)
		rv = nng_http_handler_set_data(h, p, NULL);
	if (rv == 0) {
		rv = nng_http_server_add_handler(p->srv, h);
		if (rv == 0)
			h = NULL; /* the server's now */
	}
	if (rv == 0)
		rv = nng_http_server_start(p->srv);
	nng_url_free(u);
	if (rv != 0) {
		nact_log(sys, NACT_LOG_ERROR, "prometheus: cannot serve %s: %s", url,
		    nng_strerror(rv));
		if (h != NULL)
			nng_http_handler_free(h);
		if (p->srv != NULL)
			nng_http_server_release(p->srv);
		free(p);
		return NACT_ETRANERR + rv;
	}
	*pp = p;
	return 0;
}

void nact_prom_stop(nact_prom *p)
{
	if (p == NULL)
		return;
	nng_http_server_stop(p->srv);
	nng_http_server_release(p->srv);
	free(p);
}
