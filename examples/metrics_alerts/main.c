/*
 * examples/metrics_alerts — a metrics collector with alerts.
 *
 *   "slow-consumer"  takes 5 ms per message
 *   "collector"      subscribed to the monitor's alerts: prints each one
 *   monitor          samples every 50 ms; alert when a mailbox holds more
 *                    than 100 messages
 *
 * main sends 400 messages to the consumer at once, so its mailbox grows far
 * past the threshold; the monitor notices at its next sample and sends the
 * collector a NACT_T_EVENT [topic, payload]. main waits for that alert,
 * prints the monitor's snapshot, the consumer's metrics and its Prometheus
 * lines, and exits 0 only if the alert named the consumer with a depth over
 * the threshold.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/monitor.h>
#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep */

enum { T_WORK = 1 };

static int consumer_fn(nact_ctx *ctx, nact_msg *m)
{
	(void)ctx;
	(void)m;
	nng_msleep(5); /* a slow handler */
	return 0;
}

struct collector {
	_Atomic uint64_t alert_id;    /* actor named by the first mailbox alert */
	_Atomic uint64_t alert_depth; /* its depth then */
	atomic_int alerts;
};

/* Print an alert ("topic {key: value, ...}") and keep the mailbox one. */
static int collector_fn(nact_ctx *ctx, nact_msg *m)
{
	struct collector *c = nact_state(ctx);
	nact_reader r;
	uint32_t n, np;
	const char *topic;
	size_t tl;
	if (nact_msg_type(m) != NACT_T_EVENT)
		return 0;
	if (nact_reader_init(&r, m, NULL) != 0)
		return 0;
	if (nact_read_array(&r, &n) == 0 && n == 2 && nact_read_str(&r, &topic, &tl) == 0 &&
	    nact_read_map(&r, &np) == 0) {
		uint64_t id = 0, depth = 0;
		printf("alert %.*s {", (int)tl, topic);
		for (uint32_t i = 0; i < np; i++) {
			const char *k, *s;
			size_t kl, sl;
			uint64_t v;
			msgpack_object o;
			if (nact_read_str(&r, &k, &kl) != 0)
				break;
			if (nact_read_uint(&r, &v) == 0) {
				printf("%s%.*s: %" PRIu64, i ? ", " : "", (int)kl, k, v);
				if (kl == 2 && memcmp(k, "id", 2) == 0)
					id = v;
				if (kl == 5 && memcmp(k, "depth", 5) == 0)
					depth = v;
			} else if (nact_read_str(&r, &s, &sl) == 0) {
				printf("%s%.*s: \"%.*s\"", i ? ", " : "", (int)kl, k, (int)sl, s);
			} else {
				nact_read_object(&r, &o);
			}
		}
		printf("}\n");
		fflush(stdout);
		if (tl == strlen(NACT_MON_TOPIC_MAILBOX) &&
		    memcmp(topic, NACT_MON_TOPIC_MAILBOX, tl) == 0 &&
		    atomic_load(&c->alert_id) == 0) {
			atomic_store(&c->alert_depth, depth);
			atomic_store(&c->alert_id, id); /* last: main waits on it */
		}
		atomic_fetch_add(&c->alerts, 1);
	}
	nact_reader_fini(&r);
	return 0;
}

static int fail(const char *what, int rv)
{
	fprintf(stderr, "metrics_alerts: %s: %s\n", what, rv ? nact_strerror(rv) : "wrong result");
	return 1;
}

int main(void)
{
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.metrics = 1; /* count per-actor metrics */
	int rv = nact_system_open(&sys, &cfg);
	if (rv != 0)
		return fail("nact_system_open", rv);

	struct collector col = {0};
	nact_aid consumer, collector, mon;
	nact_spawn_opts co = {.name = "slow-consumer"}, lo = {.name = "collector"};
	if ((rv = nact_spawn(&consumer, sys, consumer_fn, NULL, NULL, &co)) != 0 ||
	    (rv = nact_spawn(&collector, sys, collector_fn, &col, NULL, &lo)) != 0) {
		nact_system_close(sys, 1000);
		return fail("nact_spawn", rv);
	}
	nact_monitor_config mc;
	nact_monitor_config_init(&mc);
	mc.interval_ms = 50;
	mc.max_depth = 100;
	mc.subscribers[0] = collector;
	mc.nsubscribers = 1;
	if ((rv = nact_monitor_start(&mon, sys, &mc)) != 0) {
		nact_system_close(sys, 1000);
		return fail("nact_monitor_start", rv);
	}

	for (int i = 0; i < 400; i++) {
		nact_msg *m;
		if ((rv = nact_msg_alloc(&m, sys, T_WORK)) != 0 ||
		    (rv = nact_send(sys, consumer, m)) != 0) {
			nact_system_close(sys, 1000);
			return fail("send", rv);
		}
	}
	/* wait (bounded) for the collector to get the alert */
	for (int i = 0; i < 2000 && atomic_load(&col.alert_id) == 0; i++)
		nng_msleep(5);
	int ok = atomic_load(&col.alert_id) == consumer.v && atomic_load(&col.alert_depth) > 100;

	/* what a collector would scrape: the snapshot, one actor, Prometheus */
	nact_msg *req, *rep = NULL;
	if (nact_msg_alloc(&req, sys, NACT_MON_T_SNAPSHOT) == 0) {
		if (nact_call(sys, mon, req, 5000, &rep) == 0) {
			nact_reader r;
			uint32_t np;
			if (nact_reader_init(&r, rep, NULL) == 0 && nact_read_map(&r, &np) == 0) {
				const char *k;
				size_t kl;
				uint64_t v;
				msgpack_object o;
				printf("snapshot:");
				for (uint32_t i = 0; i < np && nact_read_str(&r, &k, &kl) == 0;
				     i++) {
					if (nact_read_uint(&r, &v) == 0)
						printf(" %.*s=%" PRIu64, (int)kl, k, v);
					else
						nact_read_object(&r, &o);
				}
				printf("\n");
			}
			nact_reader_fini(&r);
			nact_msg_free(rep);
		} else {
			nact_msg_free(req);
		}
	}
	nact_actor_metrics am;
	if (nact_metrics_actor(sys, consumer, &am) == 0)
		printf("slow-consumer: depth %" PRIu64 " in %" PRIu64 " p50 <= %" PRIu64
		       " us p99 <= %" PRIu64 " us\n",
		    am.depth, am.in, am.p50_ns / 1000, am.p99_ns / 1000);
	char *text;
	if (nact_prom_render(sys, &text, NULL) == 0) {
		for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
			if (strstr(line, "slow-consumer") != NULL &&
			    strstr(line, "_bucket") == NULL)
				printf("prometheus: %s\n", line);
		free(text);
	}
	nact_system_close(sys, 2000);
	if (!ok)
		return fail("no mailbox alert for slow-consumer", 0);
	printf("ok: the alert named slow-consumer with depth %" PRIu64 " > 100\n",
	    atomic_load(&col.alert_depth));
	return 0;
}
