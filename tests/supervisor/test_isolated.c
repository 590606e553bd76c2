/*
 * tests/supervisor/test_isolated.c — crash-isolated actors
 * (include/nactor/supervisor.h: nact_spawn_isolated, nact_isolated_restart,
 * nact_isolated_pid).
 *
 * Contract checked:
 * - a segfault while handling message 3 of 10 ends only the actor's
 *   process: a monitor gets DOWN with NACT_EXIT_SIGNAL(SIGSEGV), message 3
 *   is one dead letter "crashed", messages 4-10 stay queued, and after
 *   nact_isolated_restart they are handled in order by a fresh process
 *   (what the process handled it reports to a collector in this process,
 *   as messages whose sender is the isolated actor's id);
 * - restart while the process runs, or twice, is NACT_ESTATE; restart of
 *   an id that is not isolated is NACT_ENOENT;
 * - kill -9 of the process (nact_isolated_pid) gives DOWN signal 9, abort()
 *   signal 6; a handler past its handler deadline is killed: DOWN
 *   NACT_EXIT_DEADLINE; init failing gives DOWN with init's error;
 * - nact_exit (and a nonzero return) in the behaviour ends the actor for
 *   good, with that reason, after its fini ran in the process;
 * - nact_stop while the process is down ends it; queued messages become
 *   dead letters "stopped";
 * - sixteen isolated actors crashing at once are all reported and
 *   restarted;
 * - under a one-for-one supervisor (child spec .isolated = 1) the same
 *   crash is repaired by the supervisor: same id, messages 4-10 handled in
 *   order, one restart with reason signal 11 in nact_sup_children;
 * - nact_call to an isolated actor gets the reply it sends with
 *   nact_reply; calls that need the whole runtime return NACT_ENOTSUP
 *   inside the process;
 * - without cfg.isolation nact_spawn_isolated is NACT_ESTATE;
 * - the private directory is mode 0700, holds the ipc socket while the
 *   actor runs, and is gone after close.
 *
 * The first case opens the first system of this program (with isolation),
 * which starts the launcher while the program is still single-threaded.
 * All waits are on conditions; the only sleep is the handler that must
 * outlive its deadline.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

enum {
	T_WORK = 1, /* body: n. The isolated actor handles n (or crashes) */
	T_DONE,     /* body: n. The isolated actor handled n */
	T_FINI,     /* body: 0. The isolated actor's fini ran */
	T_PROBE,    /* body: the NACT_ENOTSUP probe's results */
	T_MONITOR,  /* body: id. The watcher monitors it */
	T_ASK       /* request to the isolated actor: reply with n + 1 */
};

enum { M_NONE, M_SEGV, M_ABORT, M_SLEEP, M_EXIT, M_RETURN, M_INITFAIL, M_PROBE };

/* What the isolated actor gets as its init argument (copied). */
typedef struct iso_arg {
	nact_aid collector;
	int mode;     /* M_*: what to do on message crash_at */
	int crash_at; /* 0: never */
} iso_arg;

typedef struct iso_state {
	iso_arg a;
	nact_system *sys; /* the process's stub system, once a message came */
} iso_state;

/* ---- the isolated behaviour (runs in the child process) ---- */

static volatile uintptr_t null_addr; /* 0, and the compiler cannot know */

__attribute__((no_sanitize("undefined"))) static void write_through_null(void)
{
	*(volatile int *)null_addr = 1;
}

static int iso_init(void **statep, const void *arg, size_t arglen)
{
	if (arglen != sizeof(iso_arg))
		return NACT_EINVAL;
	const iso_arg *a = arg;
	if (a->mode == M_INITFAIL)
		return NACT_ERANGE;
	iso_state *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NACT_ENOMEM;
	s->a = *a;
	*statep = s;
	return 0;
}

static int iso_fn(nact_ctx *ctx, nact_msg *m);

static void report(nact_system *sys, nact_aid to, uint32_t type, int64_t v)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, sys, type) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, m);
	nact_pack_int(&pk, v);
	if (nact_send(sys, to, m) != 0)
		nact_msg_free(m);
}

static void iso_fini(void *arg)
{
	iso_state *s = arg;
	if (s != NULL && s->sys != NULL)
		report(s->sys, s->a.collector, T_FINI, 0);
	free(s);
}

/* Calls that need the whole runtime, from inside the process. */
static void probe(nact_ctx *ctx, iso_state *s)
{
	nact_system *sys = nact_sys(ctx);
	nact_aid id;
	nact_msg *m = NULL;
	int rv[6];
	rv[0] = nact_spawn(&id, sys, iso_fn, NULL, NULL, NULL);
	nact_msg_alloc(&m, sys, 1);
	rv[1] = nact_send_after(sys, s->a.collector, m, 10, NULL);
	rv[2] = nact_monitor(ctx, s->a.collector, NULL);
	rv[3] = nact_link(ctx, s->a.collector);
	rv[4] = nact_receive_timeout(ctx, 10);
	rv[5] = nact_stop(sys, s->a.collector);
	nact_msg_free(m);
	nact_msg *r;
	if (nact_msg_alloc(&r, sys, T_PROBE) != 0)
		return;
	nact_pack pk;
	nact_pack_init(&pk, r);
	nact_pack_array(&pk, 6);
	for (int i = 0; i < 6; i++)
		nact_pack_int(&pk, rv[i]);
	if (nact_send(sys, s->a.collector, r) != 0)
		nact_msg_free(r);
}

static int iso_fn(nact_ctx *ctx, nact_msg *m)
{
	iso_state *s = nact_state(ctx);
	s->sys = nact_sys(ctx);
	if (nact_msg_type(m) == T_ASK) {
		int64_t v = 0;
		nact_reader r;
		if (nact_reader_init(&r, m, NULL) == 0) {
			nact_read_int(&r, &v);
			nact_reader_fini(&r);
		}
		nact_msg *rep;
		if (nact_msg_alloc(&rep, nact_sys(ctx), T_ASK) == 0) {
			nact_pack pk;
			nact_pack_init(&pk, rep);
			nact_pack_int(&pk, v + 1);
			if (nact_reply(nact_sys(ctx), m, rep) != 0)
				nact_msg_free(rep);
		}
		return 0;
	}
	if (nact_msg_type(m) != T_WORK)
		return 0;
	int64_t n = 0;
	nact_reader r;
	if (nact_reader_init(&r, m, NULL) == 0) {
		nact_read_int(&r, &n);
		nact_reader_fini(&r);
	}
	if (n == s->a.crash_at) {
		switch (s->a.mode) {
		case M_SEGV:
			write_through_null();
			break;
		case M_ABORT:
			abort();
		case M_SLEEP:
			for (;;)
				sleep(60); /* killed at the handler deadline */
		case M_EXIT:
			report(s->sys, s->a.collector, T_DONE, n);
			nact_exit_msg(ctx, NACT_EXIT_NORMAL, "done");
			return 0;
		case M_RETURN:
			return NACT_ERANGE;
		case M_PROBE:
			probe(ctx, s);
			return 0;
		default:
			break;
		}
	}
	report(s->sys, s->a.collector, T_DONE, n);
	return 0;
}

/* ---- the collector and the watcher (in this process) ---- */

#define MAXN 64

typedef struct collector {
	atomic_int n;              /* T_DONE messages */
	int64_t done[MAXN];        /* their values, in arrival order */
	_Atomic uint64_t sender;   /* sender of the last T_DONE */
	atomic_int fini;           /* T_FINI messages */
	atomic_int nprobe;         /* T_PROBE received */
	int64_t probe[6];          /* its results */
	atomic_int ndown;          /* watcher: DOWN messages */
	nact_exit_info down[MAXN]; /* written before ndown is bumped */
	atomic_int monitors;       /* watcher: monitors set */
} collector;

static int collector_fn(nact_ctx *ctx, nact_msg *m)
{
	collector *c = nact_state(ctx);
	switch (nact_msg_type(m)) {
	case T_DONE: {
		int k = atomic_load(&c->n);
		if (k < MAXN)
			c->done[k] = nt_body_int(m, -1);
		atomic_store(&c->sender, nact_msg_sender(m).v);
		atomic_store(&c->n, k + 1);
		break;
	}
	case T_FINI:
		atomic_fetch_add(&c->fini, 1);
		break;
	case T_PROBE: {
		nact_reader r;
		uint32_t n;
		if (nact_reader_init(&r, m, NULL) == 0) {
			if (nact_read_array(&r, &n) == 0 && n == 6)
				for (int i = 0; i < 6; i++)
					nact_read_int(&r, &c->probe[i]);
			nact_reader_fini(&r);
		}
		atomic_store(&c->nprobe, 1);
		break;
	}
	case T_MONITOR:
		CHECK_RV(nact_monitor(ctx, (nact_aid){(uint64_t)nt_body_int(m, 0)}, NULL));
		atomic_fetch_add(&c->monitors, 1);
		break;
	case NACT_T_DOWN: {
		int k = atomic_load(&c->ndown);
		if (k < MAXN && nact_exit_info_read(m, &c->down[k]) == 0)
			atomic_store(&c->ndown, k + 1);
		break;
	}
	default:
		break;
	}
	return 0;
}

/* ---- helpers ---- */

typedef struct fixture {
	nact_system *sys;
	collector *c;
	nact_aid col; /* collector; also the watcher */
	nact_aid iso;
} fixture;

static int fx_open(fixture *f, int isolation)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 2;
	cfg.isolation = isolation;
	memset(f, 0, sizeof(*f));
	int rv = nact_system_open(&f->sys, &cfg);
	if (rv != 0)
		return rv;
	f->c = calloc(1, sizeof(*f->c));
	return nact_spawn(&f->col, f->sys, collector_fn, f->c, NULL, NULL);
}

static void fx_close(fixture *f)
{
	nact_system_close(f->sys, 5000);
	free(f->c);
}

static int fx_spawn(fixture *f, int mode, int crash_at, const nact_spawn_opts *opts)
{
	iso_arg a = {.collector = f->col, .mode = mode, .crash_at = crash_at};
	return nact_spawn_isolated(&f->iso, f->sys, iso_fn, iso_init, &a, sizeof(a), iso_fini,
	    opts);
}

/* The collector monitors the isolated actor (again). */
static void fx_watch(fixture *f)
{
	int k = atomic_load(&f->c->monitors);
	nt_send_int(f->sys, f->col, T_MONITOR, (int64_t)f->iso.v);
	CHECK(NT_WAIT(atomic_load(&f->c->monitors) == k + 1, NT_LONG_MS));
}

static void fx_work(fixture *f, int from, int to)
{
	for (int i = from; i <= to; i++)
		nt_send_int(f->sys, f->iso, T_WORK, i);
}

/* Wait for the k-th DOWN and check its reason. */
static void fx_down(fixture *f, int k, int reason)
{
	CHECK(NT_WAIT(atomic_load(&f->c->ndown) >= k, NT_LONG_MS));
	if (atomic_load(&f->c->ndown) < k)
		return;
	CHECK_EQ_U64(f->c->down[k - 1].id.v, f->iso.v);
	CHECK_EQ_INT(f->c->down[k - 1].reason, reason);
}

/* ---- cases ---- */

static void test_segv_restart(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_SEGV, 3, NULL));
	fx_watch(&f);
	fx_work(&f, 1, 10);

	fx_down(&f, 1, NACT_EXIT_SIGNAL(SIGSEGV));
	CHECK(NT_WAIT(nact_deadletters(f.sys, NACT_DL_CRASHED) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 2, NT_LONG_MS));
	CHECK(nact_alive(f.sys, f.iso));
	CHECK_EQ_INT(nact_isolated_pid(f.sys, f.iso), -1);
	CHECK(NT_STAYS_FALSE(atomic_load(&f.c->n) > 2, NT_QUIET_MS));

	/* down: queued messages wait for a restart */
	fx_watch(&f);
	CHECK_RV(nact_isolated_restart(f.sys, f.iso));
	CHECK_ERR(nact_isolated_restart(f.sys, f.iso), NACT_ESTATE);
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 9, NT_LONG_MS));
	static const int64_t want[] = {1, 2, 4, 5, 6, 7, 8, 9, 10};
	for (int i = 0; i < 9 && i < atomic_load(&f.c->n); i++)
		CHECK_EQ_INT(f.c->done[i], want[i]);
	CHECK_EQ_U64(atomic_load(&f.c->sender), f.iso.v);
	CHECK(nact_isolated_pid(f.sys, f.iso) > 0);
	CHECK_ERR(nact_isolated_restart(f.sys, f.iso), NACT_ESTATE);
	CHECK_ERR(nact_isolated_restart(f.sys, f.col), NACT_ENOENT);
	CHECK_EQ_INT(nact_isolated_pid(f.sys, f.col), -1);
	CHECK_EQ_INT(nact_deadletters(f.sys, NACT_DL_CRASHED), 1);

	/* stop: one DOWN "shutdown" (the process runs fini on its own, but
	 * what it sends then is not delivered: the stream is closed) */
	CHECK_RV(nact_stop(f.sys, f.iso));
	fx_down(&f, 2, NACT_EXIT_SHUTDOWN);
	CHECK(!nact_alive(f.sys, f.iso));
	CHECK_ERR(nact_isolated_restart(f.sys, f.iso), NACT_ENOENT);
	CHECK_EQ_INT(nact_isolated_pid(f.sys, f.iso), -1);
	fx_close(&f);
}

static void test_kill9(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_NONE, 0, NULL));
	fx_watch(&f);
	fx_work(&f, 1, 1);
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 1, NT_LONG_MS));
	long pid = nact_isolated_pid(f.sys, f.iso);
	REQUIRE(pid > 0);
	CHECK_EQ_INT(kill((pid_t)pid, SIGKILL), 0);
	fx_down(&f, 1, NACT_EXIT_SIGNAL(SIGKILL));
	/* Idle as far as the work goes: message 1's report came back. But the
	 * child sends that report from inside its handler, and the proxy
	 * clears its in-flight message only when the handler's "done"
	 * arrives; a kill in that window counts message 1 as crashed (in
	 * flight by the protocol's definition). More than that is a bug. */
	CHECK(nact_deadletters(f.sys, NACT_DL_CRASHED) <= 1);

	fx_work(&f, 2, 3); /* while down: kept */
	fx_watch(&f);
	CHECK_RV(nact_isolated_restart(f.sys, f.iso));
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 3, NT_LONG_MS));
	CHECK_EQ_INT(f.c->done[1], 2);
	CHECK_EQ_INT(f.c->done[2], 3);
	long pid2 = nact_isolated_pid(f.sys, f.iso);
	CHECK(pid2 > 0 && pid2 != pid);
	CHECK_EQ_INT(atomic_load(&f.c->ndown), 1);
	fx_close(&f);
}

static void test_abort(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_ABORT, 1, NULL));
	fx_watch(&f);
	fx_work(&f, 1, 2);
	fx_down(&f, 1, NACT_EXIT_SIGNAL(SIGABRT));
	CHECK(NT_WAIT(nact_deadletters(f.sys, NACT_DL_CRASHED) == 1, NT_LONG_MS));
	CHECK_STR(f.c->down[0].text, "signal 6");
	fx_close(&f);
}

static void test_deadline(void)
{
	fixture f;
	nact_spawn_opts o = {.handler_deadline_ms = (uint32_t)nt_slow(200)};
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_SLEEP, 2, &o));
	fx_watch(&f);
	fx_work(&f, 1, 3);
	fx_down(&f, 1, NACT_EXIT_DEADLINE);
	CHECK_EQ_INT(atomic_load(&f.c->n), 1);
	CHECK(NT_WAIT(nact_deadletters(f.sys, NACT_DL_CRASHED) == 1, NT_LONG_MS));
	/* message 3 waits; a restarted process handles it in time */
	fx_watch(&f);
	CHECK_RV(nact_isolated_restart(f.sys, f.iso));
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 2, NT_LONG_MS));
	CHECK_EQ_INT(f.c->done[1], 3);
	fx_close(&f);
}

static void test_exit_for_good(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_EXIT, 2, NULL));
	fx_watch(&f);
	fx_work(&f, 1, 2);
	fx_down(&f, 1, NACT_EXIT_NORMAL);
	CHECK_STR(f.c->down[0].text, "done");
	CHECK(NT_WAIT(!nact_alive(f.sys, f.iso), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&f.c->fini), 1); /* before the DOWN: same stream */
	CHECK_EQ_INT(atomic_load(&f.c->n), 2);
	CHECK_ERR(nact_isolated_restart(f.sys, f.iso), NACT_ENOENT);
	CHECK_EQ_INT(nact_deadletters(f.sys, NACT_DL_CRASHED), 0);

	/* a nonzero return: the same, with that reason */
	REQUIRE_RV(fx_spawn(&f, M_RETURN, 1, NULL));
	fx_watch(&f);
	fx_work(&f, 1, 3);
	fx_down(&f, 2, NACT_ERANGE);
	CHECK(NT_WAIT(!nact_alive(f.sys, f.iso), NT_LONG_MS));
	CHECK(NT_WAIT(nact_deadletters(f.sys, NACT_DL_STOPPED) == 2, NT_LONG_MS));
	fx_close(&f);
}

static void test_stop_while_down(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_SEGV, 1, NULL));
	fx_watch(&f);
	fx_work(&f, 1, 1);
	fx_down(&f, 1, NACT_EXIT_SIGNAL(SIGSEGV));
	fx_work(&f, 2, 4);
	fx_watch(&f);
	CHECK_RV(nact_stop(f.sys, f.iso));
	fx_down(&f, 2, NACT_EXIT_SHUTDOWN);
	CHECK(!nact_alive(f.sys, f.iso));
	CHECK(NT_WAIT(nact_deadletters(f.sys, NACT_DL_STOPPED) == 3, NT_LONG_MS));
	CHECK_EQ_INT(nact_deadletters(f.sys, NACT_DL_CRASHED), 1);
	CHECK_EQ_INT(atomic_load(&f.c->n), 0);
	fx_close(&f);
}

/* Many at once: every process crashes once, every actor is restarted. */
static void test_many(void)
{
	enum { N = 16 };
	fixture f;
	nact_aid ids[N];
	REQUIRE_RV(fx_open(&f, 1));
	for (int i = 0; i < N; i++) {
		REQUIRE_RV(fx_spawn(&f, M_SEGV, 2, NULL));
		ids[i] = f.iso;
		fx_watch(&f);
		fx_work(&f, 1, 4);
	}
	CHECK(NT_WAIT(atomic_load(&f.c->ndown) == N, NT_LONG_MS));
	CHECK(NT_WAIT(nact_deadletters(f.sys, NACT_DL_CRASHED) == N, NT_LONG_MS));
	for (int i = 0; i < N && i < atomic_load(&f.c->ndown); i++)
		CHECK_EQ_INT(f.c->down[i].reason, NACT_EXIT_SIGNAL(SIGSEGV));
	for (int i = 0; i < N; i++)
		CHECK_RV(nact_isolated_restart(f.sys, ids[i]));
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 3 * N, NT_LONG_MS));
	for (int i = 0; i < N; i++)
		CHECK(nact_isolated_pid(f.sys, ids[i]) > 0);
	fx_close(&f);
}

static int iso_start(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	(void)extra;
	return nact_spawn_isolated(idp, sys, iso_fn, iso_init, arg, sizeof(iso_arg), iso_fini,
	    NULL);
}

static void test_supervised(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	iso_arg a = {.collector = f.col, .mode = M_SEGV, .crash_at = 3};
	nact_child_spec c = {.id = "worker",
	    .start = iso_start,
	    .arg = &a,
	    .restart = NACT_PERMANENT,
	    .isolated = 1};
	nact_sup_spec spec = {.name = "iso_sup",
	    .strategy = NACT_ONE_FOR_ONE,
	    .intensity = 3,
	    .period_ms = 5000,
	    .children = &c,
	    .nchildren = 1};
	nact_aid sup;
	REQUIRE_RV(nact_sup_start(&sup, f.sys, &spec));
	nact_child_info ci;
	uint32_t n = 0;
	REQUIRE_RV(nact_sup_children(f.sys, sup, &ci, 1, &n, (int)nt_slow(NT_LONG_MS)));
	REQUIRE(n == 1 && ci.aid.v != 0);
	f.iso = ci.aid;
	fx_work(&f, 1, 10);
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 9, NT_LONG_MS));
	static const int64_t want[] = {1, 2, 4, 5, 6, 7, 8, 9, 10};
	for (int i = 0; i < 9 && i < atomic_load(&f.c->n); i++)
		CHECK_EQ_INT(f.c->done[i], want[i]);
	CHECK_EQ_INT(nact_deadletters(f.sys, NACT_DL_CRASHED), 1);
	CHECK_RV(nact_sup_children(f.sys, sup, &ci, 1, &n, (int)nt_slow(NT_LONG_MS)));
	CHECK_EQ_U64(ci.aid.v, f.iso.v); /* same id, same mailbox */
	CHECK_EQ_INT(ci.restarts, 1);
	CHECK_EQ_INT(ci.last_reason, NACT_EXIT_SIGNAL(SIGSEGV));
	CHECK(ci.running);
	fx_close(&f);
}

static void test_init_fails(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_INITFAIL, 0, NULL));
	fx_watch(&f);
	fx_down(&f, 1, NACT_ERANGE);
	CHECK(nact_alive(f.sys, f.iso)); /* down, restartable */
	fx_close(&f);
}

static void test_call_and_enotsup(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 1));
	REQUIRE_RV(fx_spawn(&f, M_PROBE, 1, NULL));
	nact_msg *req = nt_msg_int(f.sys, T_ASK, 41), *rep = NULL;
	REQUIRE(req != NULL);
	CHECK_RV(nact_call(f.sys, f.iso, req, (int)nt_slow(NT_LONG_MS), &rep));
	if (rep != NULL) {
		CHECK_EQ_INT(nt_body_int(rep, -1), 42);
		CHECK_EQ_U64(nact_msg_sender(rep).v, f.iso.v);
		nact_msg_free(rep);
	}
	fx_work(&f, 1, 1);
	CHECK(NT_WAIT(atomic_load(&f.c->nprobe) == 1, NT_LONG_MS));
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(f.c->probe[i], NACT_ENOTSUP);
	fx_close(&f);
}

static void test_not_enabled(void)
{
	fixture f;
	REQUIRE_RV(fx_open(&f, 0));
	CHECK_ERR(fx_spawn(&f, M_NONE, 0, NULL), NACT_ESTATE);
	CHECK_ERR(nact_isolated_restart(f.sys, f.col), NACT_ENOENT);
	CHECK_EQ_INT(nact_isolated_pid(f.sys, f.col), -1);
	fx_close(&f);
}

static int count_entries(const char *dir, char *one, size_t len)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n++ == 0 && one != NULL)
			snprintf(one, len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	return n;
}

static void test_private_dir(void)
{
	char tmp[] = "/tmp/nt-isolated-XXXXXX", base[64], dir[128], sock[512];
	REQUIRE(mkdtemp(tmp) != NULL);
	char *old = getenv("XDG_RUNTIME_DIR");
	old = old != NULL ? strdup(old) : NULL;
	setenv("XDG_RUNTIME_DIR", tmp, 1);
	snprintf(base, sizeof(base), "%s/nactor", tmp);

	fixture f;
	int rv = fx_open(&f, 1);
	if (old != NULL)
		setenv("XDG_RUNTIME_DIR", old, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	free(old);
	REQUIRE_RV(rv);
	CHECK_EQ_INT(count_entries(base, dir, sizeof(dir)), 1);
	struct stat st;
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
	REQUIRE_RV(fx_spawn(&f, M_NONE, 0, NULL));
	fx_work(&f, 1, 1);
	CHECK(NT_WAIT(atomic_load(&f.c->n) == 1, NT_LONG_MS));
	CHECK_EQ_INT(count_entries(dir, sock, sizeof(sock)), 1);
	CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK(strstr(sock, ".ipc") != NULL);
	fx_close(&f);
	CHECK(stat(dir, &st) != 0);
	CHECK_EQ_INT(count_entries(base, NULL, 0), 0);
	rmdir(base);
	rmdir(tmp);
}

NT_MAIN(NT_CASE(test_segv_restart), NT_CASE(test_kill9), NT_CASE(test_abort),
    NT_CASE(test_deadline), NT_CASE(test_exit_for_good), NT_CASE(test_stop_while_down),
    NT_CASE(test_supervised), NT_CASE(test_many), NT_CASE(test_init_fails),
    NT_CASE(test_call_and_enotsup), NT_CASE(test_not_enabled), NT_CASE(test_private_dir))
