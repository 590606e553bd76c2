/*
 * tests/cancel/signal_node.c — a node for test_signal: it serves its
 * registry, builds a tree of operations (some owned by supervised actors
 * that clean up when their operation is cancelled), installs the signal
 * handling of nactor/signal.h, prints "ready" and waits for SIGINT/SIGTERM.
 *
 *   signal_node NODE MODE GRACE_MS      MODE: normal | slow
 *
 * Operations: "job" (running) with children "step-1" (running) -> "step-1a"
 * (pending), "step-2" (pending), "worker-1", "worker-2" (running, created
 * by the supervised actors of the same names in their handler); a second
 * root "index" (running). In slow mode an on_cancel callback on "job"
 * prints "slow callback" and sleeps 30 s (so the grace watchdog or a second
 * signal has to end the process).
 *
 * On the signal: wait for both workers to report their cleanup, stop the
 * supervisor (which stops worker-2, then worker-1), unserve, print every
 * operation as "op ID NAME STATUS REASON MESSAGE" and "end", close, exit 0.
 * Lines on stdout, flushed one by one: "ready", "cleanup worker-N reason
 * R", "stopped worker-N", "supervisor stopped", the op table, "end".
 * Exit status: 0 orderly, 1 setup error, 2 no signal within 60 s,
 * 128+signo when the watchdog or a second signal ends it.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/nactor.h>
#include <nactor/signal.h>
#include <nng/supplemental/util/platform.h>

#define NWORKERS 2

enum { T_START = 1, T_CANCEL };

struct node;

struct slot {
	struct node *nd;
	int idx;
	_Atomic uint64_t aid;
};

struct node {
	nact_system *sys;
	nact_opid job;
	atomic_int cleaned;
	atomic_int created;
	struct slot slots[NWORKERS];
};

struct worker {
	struct slot *sl;
	nact_opid op;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	flockfile(stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	funlockfile(stdout);
	va_end(ap);
}

static void worker_cancelled(void *arg, nact_opid id, int reason)
{
	struct slot *sl = arg;
	nact_msg *m;
	(void)id;
	(void)reason;
	if (nact_msg_alloc(&m, sl->nd->sys, T_CANCEL) != 0)
		return;
	if (nact_send(sl->nd->sys, (nact_aid){atomic_load(&sl->aid)}, m) != 0)
		nact_msg_free(m);
}

static int worker_fn(nact_ctx *ctx, nact_msg *m)
{
	struct worker *w = nact_state(ctx);
	struct node *nd = w->sl->nd;
	char name[32];
	snprintf(name, sizeof(name), "worker-%d", w->sl->idx + 1);
	if (nact_msg_type(m) == T_START) {
		if (nact_op_create(&w->op, nd->sys, name, nd->job, "test") != 0 ||
		    nact_op_start(nd->sys, w->op) != 0 ||
		    nact_op_progress(nd->sys, w->op, 0.1, "working") != 0 ||
		    nact_op_on_cancel(nd->sys, w->op, worker_cancelled, w->sl) != 0) {
			say("worker setup failed");
			exit(1);
		}
		atomic_fetch_add(&nd->created, 1);
	} else if (nact_msg_type(m) == T_CANCEL) {
		nact_op_info in;
		if (nact_op_get(nd->sys, w->op, &in) == 0)
			say("cleanup %s reason %s", name, nact_op_reason_str(in.reason));
		atomic_fetch_add(&nd->cleaned, 1);
	}
	return 0;
}

static void worker_fini(void *state)
{
	struct worker *w = state;
	say("stopped worker-%d", w->sl->idx + 1);
	free(w);
}

static int worker_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	struct slot *sl = arg;
	struct worker *w = calloc(1, sizeof(*w));
	nact_msg *m;
	int rv;
	(void)extra;
	if (w == NULL)
		return NACT_ENOMEM;
	w->sl = sl;
	if ((rv = nact_spawn(idp, sys, worker_fn, w, worker_fini, NULL)) != 0) {
		free(w);
		return rv;
	}
	atomic_store(&sl->aid, idp->v);
	if ((rv = nact_msg_alloc(&m, sys, T_START)) != 0)
		return rv;
	if ((rv = nact_send(sys, *idp, m)) != 0)
		nact_msg_free(m);
	return rv;
}

static void slow_cb(void *arg, nact_opid id, int reason)
{
	(void)arg;
	(void)id;
	(void)reason;
	say("slow callback");
	nng_msleep(30000);
}

static int wait_for(atomic_int *v, int want, nact_signals *sg)
{
	while (atomic_load(v) < want) {
		if (sg != NULL && nact_signals_left_ms(sg) == 0)
			return 0;
		nng_msleep(5);
	}
	return 1;
}

int main(int argc, char **argv)
{
	static struct node nd; /* main's; static only for its size */
	nact_signals *sg = NULL;
	nact_config cfg;
	nact_opid s1, s1a, s2, idx;
	nact_aid sup;
	int rv, sig = 0;
	if (argc < 4) {
		fprintf(stderr, "usage: %s NODE normal|slow GRACE_MS\n", argv[0]);
		return 1;
	}
	int slow = strcmp(argv[2], "slow") == 0;
	nact_signal_opts so = {.grace_ms = atoi(argv[3])};
	nact_config_init(&cfg);
	cfg.workers = 2;
	if ((rv = nact_system_open(&nd.sys, &cfg)) != 0) {
		fprintf(stderr, "signal_node: open: %s\n", nact_strerror(rv));
		return 1;
	}
	nact_system *sys = nd.sys;
	nact_child_spec kids[NWORKERS];
	memset(kids, 0, sizeof(kids));
	for (int i = 0; i < NWORKERS; i++) {
		nd.slots[i].nd = &nd;
		nd.slots[i].idx = i;
		kids[i].id = i == 0 ? "worker-1" : "worker-2";
		kids[i].start = worker_start;
		kids[i].arg = &nd.slots[i];
		kids[i].restart = NACT_TRANSIENT;
		kids[i].shutdown_ms = 2000;
	}
	nact_sup_spec ss = {.name = "workers",
	    .strategy = NACT_ONE_FOR_ONE,
	    .children = kids,
	    .nchildren = NWORKERS};
	if ((rv = nact_op_create(&nd.job, sys, "job", NACT_OPID_NONE, "test")) != 0 ||
	    (rv = nact_op_start(sys, nd.job)) != 0 ||
	    (rv = nact_op_create(&s1, sys, "step-1", nd.job, NULL)) != 0 ||
	    (rv = nact_op_start(sys, s1)) != 0 ||
	    (rv = nact_op_progress(sys, s1, 0.5, "half")) != 0 ||
	    (rv = nact_op_create(&s1a, sys, "step-1a", s1, NULL)) != 0 ||
	    (rv = nact_op_create(&s2, sys, "step-2", nd.job, NULL)) != 0 ||
	    (rv = nact_op_create(&idx, sys, "index", NACT_OPID_NONE, NULL)) != 0 ||
	    (rv = nact_op_start(sys, idx)) != 0 ||
	    (slow && (rv = nact_op_on_cancel(sys, nd.job, slow_cb, NULL)) != 0) ||
	    (rv = nact_sup_start(&sup, sys, &ss)) != 0 ||
	    (rv = nact_registry_serve(sys, argv[1], NULL, 0)) != 0 ||
	    (rv = nact_signals_install(&sg, sys, &so)) != 0) {
		fprintf(stderr, "signal_node: setup: %s\n", nact_strerror(rv));
		nact_system_close(sys, 1000);
		return 1;
	}
	if (!wait_for(&nd.created, NWORKERS, NULL)) /* bounded: workers start at once */
		return 1;
	say("ready");
	for (int i = 0; i < 600 && sig == 0; i++)
		sig = nact_signals_wait(sg, 100);
	if (sig == 0) {
		fprintf(stderr, "signal_node: no signal\n");
		return 2;
	}
	/* Every live operation is cancelled now; the workers clean up. */
	if (!wait_for(&nd.cleaned, NWORKERS, sg))
		say("cleanup incomplete");
	nact_stop(sys, sup);
	while (nact_alive(sys, sup) && nact_signals_left_ms(sg) > 0)
		nng_msleep(5);
	say("supervisor stopped");
	nact_registry_unserve(sys);
	size_t n = 0;
	nact_op_list(sys, -1, NULL, 0, &n);
	nact_op_info *v = calloc(n + 1, sizeof(*v));
	if (v != NULL) {
		nact_op_list(sys, -1, v, n, &n);
		for (size_t i = 0; i < n; i++)
			say("op %llu %s %s %s %s", (unsigned long long)v[i].id.v, v[i].name,
			    nact_op_status_str(v[i].status), nact_op_reason_str(v[i].reason),
			    v[i].message);
		free(v);
	}
	say("end");
	nact_system_close(sys, nact_signals_left_ms(sg));
	nact_signals_remove(sg);
	return 0;
}
