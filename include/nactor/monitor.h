/*
 * nactor/monitor.h — metrics, the monitor actor, alerts, the profiler, the
 * slow-handler watchdog and the Prometheus exporter.
 *
 * Metrics are counted by the runtime when the system is opened with
 * cfg.metrics = 1 (actor.h); with 0 (the default) nothing is counted and
 * every call below that reads metrics returns NACT_ENOTSUP. What is counted
 * per actor: main-lane messages in (popped), messages out (sent from its
 * handlers), mailbox depth (pushed - popped - dropped), behaviour calls and
 * their time in a log2 histogram, restarts (set by its supervisor). Each
 * counter has one writer; readers see values at most a message old.
 *
 * Handler time is sampled: one behaviour call in 64 per actor is timed (two
 * clock reads), the others only counted, so the histogram, busy_ns and
 * max_ns describe that sample (while the profiler is on, every call is
 * timed for it). Calls that run long are caught by the watchdog instead,
 * which needs no clock read per call.
 *
 * Threads: every function may be called from any thread, handlers included,
 * unless noted. Ownership: every struct is the caller's; nothing returned
 * points into the system.
 */
#ifndef NACTOR_MONITOR_H
#define NACTOR_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- per-actor and node metrics ---- */

#define NACT_HIST_BUCKETS 40 /* bucket i counts calls of [2^i, 2^(i+1)) ns */

typedef struct nact_actor_metrics {
	nact_aid id;
	char name[48];                    /* registered name, "" if none (truncated to 47) */
	uint64_t depth;                   /* messages queued in the main lane now */
	uint64_t in;                      /* main-lane messages taken since spawn */
	uint64_t out;                     /* messages its handlers sent since spawn */
	uint64_t dropped;                 /* dropped by its drop-oldest mailbox */
	uint64_t handled;                 /* behaviour calls (main and control lanes) */
	uint64_t timed;                   /* calls timed: the 1st, 65th, 129th... (one in 64) */
	uint64_t busy_ns;                 /* total time of the timed calls */
	uint64_t max_ns;                  /* longest timed call */
	uint64_t p50_ns;                  /* percentiles of the timed calls' times: the */
	uint64_t p99_ns;                  /* upper bound of the log2 bucket holding them */
	uint64_t age_ns;                  /* since spawn (monotonic clock) */
	uint32_t restarts;                /* times its supervisor restarted this child */
	uint64_t hist[NACT_HIST_BUCKETS]; /* the timed calls */
} nact_actor_metrics;

/* One live actor's metrics. Errors: NACT_EINVAL, NACT_ENOTSUP (metrics
 * off), NACT_ENOENT (not a live local actor). */
NACT_DECL int nact_metrics_actor(nact_system *sys, nact_aid id, nact_actor_metrics *out);

/* Metrics of up to max live actors in index order into out (may be NULL
 * with max 0); *np gets the number of live actors seen, which may exceed
 * max. Errors: NACT_EINVAL, NACT_ENOTSUP. */
NACT_DECL int nact_metrics_actors(nact_system *sys, nact_actor_metrics *out, size_t max,
    size_t *np);

/* The time below which a fraction q (0..1) of the calls in hist fell: the
 * upper bound of that log2 bucket, in ns; 0 for an empty histogram. */
NACT_DECL uint64_t nact_hist_quantile(const uint64_t hist[NACT_HIST_BUCKETS], double q);

typedef struct nact_node_metrics {
	uint64_t now_ns;      /* monotonic clock when sampled */
	uint64_t uptime_ns;   /* since nact_system_open */
	uint64_t cpu_ns;      /* user + system CPU time of the process */
	uint64_t rss_bytes;   /* resident set size */
	uint32_t threads;     /* threads of the process */
	uint32_t fds;         /* open file descriptors */
	uint32_t workers;     /* worker threads of the system */
	uint64_t live;        /* actors alive */
	uint64_t spawned;     /* actors ever spawned */
	uint64_t deadletters; /* dead letters, all reasons */
} nact_node_metrics;

/* Sample the process (from /proc/self and getrusage) and the system. Works
 * with metrics off too. Errors: NACT_EINVAL, NACT_ESYSERR (no /proc). */
NACT_DECL int nact_node_metrics_read(nact_system *sys, nact_node_metrics *out);

/* CPU use between two samples, in percent of one core (200 = two cores
 * busy); 0 if the samples are not in order. */
NACT_DECL double nact_node_cpu_pct(const nact_node_metrics *prev, const nact_node_metrics *cur);

/* ---- watchdog view: what each worker runs now ---- */

typedef struct nact_worker_slot {
	uint32_t worker;     /* worker index */
	nact_aid actor;      /* actor in a behaviour call, 0 if idle */
	uint32_t type;       /* type of the message being handled */
	uintptr_t fn;        /* the behaviour (address) */
	uint64_t call;       /* identifies the call (per worker), 0 if idle */
	uint64_t running_ns; /* a lower bound of how long it has run: the time
	                        since any reader first saw this call (so poll at
	                        the precision you need); 0 if idle */
} nact_worker_slot;

/* The slot of each worker (up to max); *np gets the worker count.
 * Errors: NACT_EINVAL, NACT_ENOTSUP (metrics off). */
NACT_DECL int nact_metrics_workers(nact_system *sys, nact_worker_slot *out, size_t max, size_t *np);

/* ---- profiler: calls and time per behaviour and message type ---- */

typedef struct nact_profile_entry {
	uintptr_t fn;  /* behaviour address */
	uint32_t type; /* message type */
	uint64_t calls;
	uint64_t ns;
} nact_profile_entry;

/* Turn the profiler on (1) or off (0); counting only happens while on.
 * Each worker keeps 512 (behaviour, type) slots; pairs beyond that are
 * not profiled. Errors: NACT_EINVAL, NACT_ENOTSUP (metrics off). */
NACT_DECL int nact_profile_set(nact_system *sys, int on);

/* Profile entries merged over the workers, most total time first; *np gets
 * the number of distinct pairs. Errors: as nact_profile_set. */
NACT_DECL int nact_profile_read(nact_system *sys, nact_profile_entry *out, size_t max, size_t *np);

/* A printable name for a behaviour: its symbol (when the dynamic symbol
 * table has it) or its address, into buf. Returns buf. */
NACT_DECL const char *nact_behaviour_name(uintptr_t fn, char *buf, size_t len);

/* Print the profile, one line per entry (most time first), with the log
 * at level info. Errors: as nact_profile_read, NACT_ENOMEM. */
NACT_DECL int nact_profile_log(nact_system *sys, size_t max);

/* ---- the monitor actor ---- */

/* Messages the monitor understands (0xFFFF0500-0xFFFF05EF of the monitors' range;
 * 0xFFFF05F0-0xFFFF05FF belong to the log actor, logger.h). */
#define NACT_MON_T_SUBSCRIBE 0xFFFF0500u   /* body [aid (uint)]: alerts go to it; reply empty */
#define NACT_MON_T_UNSUBSCRIBE 0xFFFF0501u /* body [aid]; reply empty or NACT_ENOENT */
#define NACT_MON_T_SNAPSHOT 0xFFFF0502u    /* request, empty body; reply: map below */
#define NACT_MON_T_TICK 0xFFFF0503u        /* internal: its sampling timer */

/* Alert topics (the event's first element). */
#define NACT_MON_TOPIC_MAILBOX "monitor.alert.mailbox"         /* depth over max_depth */
#define NACT_MON_TOPIC_P99 "monitor.alert.p99"                 /* handler p99 over max_p99_ns */
#define NACT_MON_TOPIC_RSS "monitor.alert.rss"                 /* RSS over max_rss */
#define NACT_MON_TOPIC_DEADLETTERS "monitor.alert.deadletters" /* rate over max */
#define NACT_MON_TOPIC_SLOW "monitor.alert.slow"               /* watchdog */

#define NACT_MON_MAX_SUBS 16

typedef struct nact_monitor_config {
	uint32_t interval_ms;       /* sampling interval; 0 = 1000 */
	uint64_t max_depth;         /* alert when an actor's depth > this; 0 = off */
	uint64_t max_p99_ns;        /* alert when an actor's handler p99 > this; 0 = off */
	uint64_t max_rss;           /* alert when RSS > this (bytes); 0 = off */
	double max_deadletter_rate; /* alert when dead letters/s > this; 0 = off */
	uint32_t slow_ms;           /* watchdog threshold; 0 = 100 */
	int no_watchdog;            /* 1: no watchdog thread */
	const char *prom_url;       /* NULL, or serve Prometheus text here (e.g.
	                               "http://127.0.0.1:9464/metrics"); copied */
	const char *name;           /* register the monitor under it; NULL = none */
	nact_aid subscribers[NACT_MON_MAX_SUBS]; /* alerts go to these */
	uint32_t nsubscribers;
	nact_aid bus; /* an event bus (bus.h): every alert is also published
	                 there on its topic ("monitor.alert.*"), so any bus
	                 listener or pattern gets it; 0 = none */
} nact_monitor_config;

NACT_DECL void nact_monitor_config_init(nact_monitor_config *cfg);

/*
 * Start a monitor actor. Every interval it samples the node and every actor,
 * keeps the latest snapshot and checks the thresholds; each threshold
 * crossed sends an alert to every subscriber as a NACT_T_EVENT message whose
 * body is [topic (str), payload (map)] (mailbox.h's event contract). An
 * actor alert fires when the actor goes over its threshold and again only
 * after it went back under; node alerts likewise.
 *
 * Payload keys: mailbox {"id", "name", "depth", "max"}; p99 {"id", "name",
 * "p99_ns", "max"}; rss {"rss", "max"}; deadletters {"rate", "max"}; slow
 * {"id", "name", "type", "fn", "worker", "running_ms", "max_ms"}.
 *
 * The watchdog is a thread of the monitor that wakes every slow_ms / 4
 * (at least 5 ms; a timed wait, no busy loop, but a periodic wake-up even
 * when the node is idle: no_watchdog = 1 turns it off) and reports each
 * behaviour call running longer than slow_ms once, while it still runs: a
 * warn log line and a slow alert. A call is known to have run that long
 * from when the watchdog first saw it, so a report comes between slow_ms
 * and slow_ms + slow_ms / 2 after the call began.
 *
 * The snapshot reply is the map {"samples": uint, "node": {"cpu_pct",
 * "rss", "threads", "fds", "live", "deadletters", "deadletter_rate"},
 * "actors": uint, "alerts": uint}.
 *
 * Errors: NACT_EINVAL, NACT_ENOTSUP (metrics off), NACT_ENOMEM, spawn's
 * errors, NACT_ETRANERR + nng error (prom_url could not be served). The monitor (and
 * its watchdog thread and HTTP server) stops like any actor.
 */
NACT_DECL int nact_monitor_start(nact_aid *idp, nact_system *sys, const nact_monitor_config *cfg);

/* The alert delivery: send [topic, payload] as a NACT_T_EVENT to `to`.
 * payload is a msgpack map (payload_len bytes, copied). Ownership: nothing
 * kept. Errors: nact_send's, NACT_ENOMEM. */
NACT_DECL int nact_monitor_deliver(nact_system *sys, nact_aid to, const char *topic,
    const void *payload, size_t payload_len);

/* ---- Prometheus text exposition ---- */

/* Render the node's and every actor's metrics in the Prometheus text format
 * (version 0.0.4) into a malloc'd NUL-terminated buffer, the caller's to
 * free. Node metrics are always present; actor metrics only with metrics
 * on. Errors: NACT_EINVAL, NACT_ENOMEM. */
NACT_DECL int nact_prom_render(nact_system *sys, char **textp, size_t *lenp);

typedef struct nact_prom nact_prom;

/* Serve nact_prom_render on GET url (http://host:port/path) with nng's HTTP
 * server. *pp is the caller's, freed by nact_prom_stop (before the system
 * closes). Errors: NACT_EINVAL (bad url), NACT_ENOMEM, NACT_ETRANERR
 * + nng error (cannot listen; the log says why). */
NACT_DECL int nact_prom_serve(nact_system *sys, const char *url, nact_prom **pp);
NACT_DECL void nact_prom_stop(nact_prom *p); /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif
