/*
 * tests/actors/test_shutdown.c — closing a busy system, and logging.
 *
 * Contract checked (include/nactor/actor.h, lifecycle and logging):
 * - nact_system_close with many actors whose mailboxes hold thousands of
 *   unhandled messages (the only worker is kept busy so they cannot
 *   drain), bounded mailboxes, names and pending timers: it returns, runs
 *   every state destructor exactly once and frees every queued message and
 *   timer (the ASan build's leak check proves the freeing).
 * - nact_system_close from inside a handler does nothing but log an error;
 *   the system keeps working.
 * - A log hook from the config or nact_log_set receives each line, without
 *   a trailing newline, at or below the set level; at debug level the
 *   runtime traces spawns, sends and stops; lowering the level or OFF
 *   silences it; nact_log_level reports the level.
 * - With log_level -1 the level comes from $NACTOR_LOG (error, warn, info,
 *   debug); an explicit config level wins over the variable.
 */
#include <pthread.h>

#include "testutil.h"

enum { T_BLOCK = 1, T_VAL, T_CLOSE };

/* ---- log sink ---- */

typedef struct sink {
	atomic_int lines;
	atomic_int by_level[NACT_LOG_DEBUG + 1];
	atomic_int bad;     /* NULL line, trailing newline, level out of range */
	atomic_int matched; /* lines containing `want` */
	_Atomic(const char *) want;
} sink;

static void sink_fn(void *arg, int level, const char *line)
{
	sink *s = arg;
	if (line == NULL || level < NACT_LOG_ERROR || level > NACT_LOG_DEBUG) {
		atomic_fetch_add(&s->bad, 1);
		return;
	}
	size_t n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		atomic_fetch_add(&s->bad, 1);
	atomic_fetch_add(&s->by_level[level], 1);
	const char *want = atomic_load(&s->want);
	if (want != NULL && strstr(line, want) != NULL)
		atomic_fetch_add(&s->matched, 1);
	atomic_fetch_add(&s->lines, 1);
}

static void sink_reset(sink *s, const char *want)
{
	atomic_store(&s->lines, 0);
	for (int i = 0; i <= NACT_LOG_DEBUG; i++)
		atomic_store(&s->by_level[i], 0);
	atomic_store(&s->matched, 0);
	atomic_store(&s->want, want);
}

/* Open a system with `workers` threads whose log goes to s at `level` (-1:
 * the level comes from $NACTOR_LOG). */
static int open_logged(nact_system **sysp, uint32_t workers, int level, sink *s)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = workers;
	cfg.log_level = level;
	cfg.log_fn = sink_fn;
	cfg.log_arg = s;
	return nact_system_open(sysp, &cfg);
}

/* ---- close with full mailboxes ---- */

static atomic_int release_plug;
static atomic_int plug_entered;
static atomic_long handled_total;
static atomic_long fini_total;

static int busy_fn(nact_ctx *ctx, nact_msg *m)
{
	if (nact_msg_type(m) == T_BLOCK) {
		atomic_store(&plug_entered, 1);
		uint64_t dl = nt_now_ms() + nt_slow(NT_LONG_MS);
		while (!atomic_load(&release_plug) && nt_now_ms() < dl)
			nng_msleep(1);
	}
	if (nact_msg_type(m) == T_CLOSE) {
		/* Refused from a handler: must return at once. */
		nact_system_close(nact_sys(ctx), 0);
	}
	atomic_fetch_add(&handled_total, 1);
	return 0;
}

static void busy_fini(void *arg)
{
	free(arg);
	atomic_fetch_add(&fini_total, 1);
}

static void *release_later(void *arg)
{
	(void)arg;
	nng_msleep(100); /* let close start while the plug still blocks */
	atomic_store(&release_plug, 1);
	return NULL;
}

static void test_close_full_mailboxes(void)
{
	nact_system *sys = NULL;
	long na = nt_scaled(100), per = nt_scaled(2000);
	nact_aid plug;
	long send_err = 0;

	atomic_store(&release_plug, 0);
	atomic_store(&plug_entered, 0);
	atomic_store(&handled_total, 0);
	atomic_store(&fini_total, 0);
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&plug, sys, busy_fn, malloc(8), busy_fini, NULL));
	nt_send_int(sys, plug, T_BLOCK, 0);
	CHECK(NT_WAIT(atomic_load(&plug_entered), NT_LONG_MS));

	for (long i = 0; i < na; i++) {
		nact_aid id;
		char name[32];
		nact_spawn_opts o = {0};
		if (i % 10 == 1) { /* some bounded, dropping the oldest */
			o.capacity = 100;
			o.overflow = NACT_OVERFLOW_DROP_OLDEST;
		}
		if (i % 10 == 2) { /* some named */
			snprintf(name, sizeof(name), "busy%ld", i);
			o.name = name;
		}
		void *state = malloc(32);
		int rv = nact_spawn(&id, sys, busy_fn, state, busy_fini, &o);
		if (rv != 0) {
			free(state);
			CHECK_RV(rv);
			continue;
		}
		for (long k = 0; k < per; k++) {
			nact_msg *m = nt_msg_int(sys, T_VAL, k);
			if (m == NULL || nact_send(sys, id, m) != 0) {
				nact_msg_free(m);
				send_err++;
			}
		}
		/* A pending timer per ten actors, due long after the test. */
		if (i % 10 == 3) {
			nact_msg *m = nt_msg_int(sys, T_VAL, -1);
			if (m != NULL && nact_send_after(sys, id, m, 600000, NULL) != 0)
				nact_msg_free(m);
		}
	}
	CHECK_EQ_INT(send_err, 0);
	/* Nothing drained: the only worker is in the plug's handler. */
	CHECK_EQ_INT(atomic_load(&handled_total), 0);

	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, release_later, NULL) == 0);
	uint64_t t0 = nt_now_ms();
	nact_system_close(sys, (int)nt_slow(10000));
	uint64_t el = nt_now_ms() - t0;
	pthread_join(th, NULL);
	printf("closed %ld actors holding %ld messages in %" PRIu64 " ms; "
	       "%ld handled\n",
	    na + 1, na * per, el, atomic_load(&handled_total));
	CHECK_EQ_INT(atomic_load(&fini_total), na + 1);
	/* The stop comes first: the queues were freed, not worked through. */
	CHECK(atomic_load(&handled_total) < na * per / 2);
	CHECK(el < nt_slow(NT_LONG_MS));
}

static void test_close_from_handler(void)
{
	nact_system *sys = NULL;
	sink s = {0};
	nact_aid a;

	atomic_store(&handled_total, 0);
	atomic_store(&fini_total, 0);
	REQUIRE_RV(open_logged(&sys, 2, NACT_LOG_ERROR, &s));
	REQUIRE_RV(nact_spawn(&a, sys, busy_fn, malloc(8), busy_fini, NULL));
	nt_send_int(sys, a, T_CLOSE, 0);
	CHECK(NT_WAIT(atomic_load(&handled_total) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&s.by_level[NACT_LOG_ERROR]) >= 1, NT_LONG_MS));
	/* Still running. */
	CHECK_EQ_INT(nact_alive(sys, a), 1);
	nt_send_int(sys, a, T_VAL, 0);
	CHECK(NT_WAIT(atomic_load(&handled_total) == 2, NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s.bad), 0);
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&fini_total), 1);
}

/* ---- logging ---- */

static void test_log_hook(void)
{
	nact_system *sys = NULL;
	sink s = {0}, s2 = {0};
	nact_aid a;

	atomic_store(&handled_total, 0);
	REQUIRE_RV(open_logged(&sys, 2, NACT_LOG_DEBUG, &s));
	CHECK_EQ_INT(nact_log_level(sys), NACT_LOG_DEBUG);

	/* Debug traces spawns, sends and stops. */
	sink_reset(&s, NULL);
	REQUIRE_RV(nact_spawn(&a, sys, busy_fn, malloc(8), busy_fini, NULL));
	nt_send_int(sys, a, T_VAL, 0);
	CHECK(NT_WAIT(atomic_load(&handled_total) == 1, NT_LONG_MS));
	CHECK_RV(nact_stop(sys, a));
	CHECK(NT_WAIT(!nact_alive(sys, a), NT_LONG_MS));
	CHECK(NT_WAIT(atomic_load(&s.by_level[NACT_LOG_DEBUG]) >= 3, NT_LONG_MS));

	/* Our own lines, formatted. */
	sink_reset(&s, "hello 42 world");
	nact_log(sys, NACT_LOG_INFO, "hello %d %s", 42, "world");
	CHECK_EQ_INT(atomic_load(&s.matched), 1);
	CHECK_EQ_INT(atomic_load(&s.by_level[NACT_LOG_INFO]), 1);

	/* Lower the level: info and debug go quiet, errors still come. */
	nact_log_set(sys, NACT_LOG_WARN, sink_fn, &s);
	CHECK_EQ_INT(nact_log_level(sys), NACT_LOG_WARN);
	sink_reset(&s, "quiet");
	nact_log(sys, NACT_LOG_INFO, "quiet");
	nact_log(sys, NACT_LOG_DEBUG, "quiet");
	REQUIRE_RV(nact_spawn(&a, sys, busy_fn, malloc(8), busy_fini, NULL));
	CHECK_RV(nact_stop(sys, a));
	CHECK(NT_WAIT(!nact_alive(sys, a), NT_LONG_MS));
	CHECK_EQ_INT(atomic_load(&s.lines), 0);
	nact_log(sys, NACT_LOG_WARN, "loud %d", 1);
	nact_log(sys, NACT_LOG_ERROR, "loud %d", 2);
	CHECK_EQ_INT(atomic_load(&s.by_level[NACT_LOG_WARN]), 1);
	CHECK_EQ_INT(atomic_load(&s.by_level[NACT_LOG_ERROR]), 1);

	/* A new hook gets the lines, the old one no more. */
	nact_log_set(sys, NACT_LOG_INFO, sink_fn, &s2);
	sink_reset(&s, NULL);
	sink_reset(&s2, "to s2");
	nact_log(sys, NACT_LOG_INFO, "to s2");
	CHECK_EQ_INT(atomic_load(&s2.matched), 1);
	CHECK_EQ_INT(atomic_load(&s.lines), 0);

	/* Long lines are cut, not overflowed; still delivered. */
	char big[4096];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sink_reset(&s2, "xxxx");
	nact_log(sys, NACT_LOG_ERROR, "%s", big);
	CHECK_EQ_INT(atomic_load(&s2.matched), 1);

	/* OFF: nothing at all. */
	nact_log_set(sys, NACT_LOG_OFF, sink_fn, &s2);
	CHECK_EQ_INT(nact_log_level(sys), NACT_LOG_OFF);
	sink_reset(&s2, NULL);
	nact_log(sys, NACT_LOG_ERROR, "silenced");
	CHECK_EQ_INT(atomic_load(&s2.lines), 0);
	CHECK_EQ_INT(atomic_load(&s.bad) + atomic_load(&s2.bad), 0);
	nact_system_close(sys, 5000);
}

static void test_log_env(void)
{
	static const struct {
		const char *env;
		int level;
	} cases[] = {{"error", NACT_LOG_ERROR}, {"warn", NACT_LOG_WARN}, {"info", NACT_LOG_INFO},
	    {"debug", NACT_LOG_DEBUG}};
	sink s = {0};
	nact_system *sys;
	char *saved = getenv("NACTOR_LOG") ? strdup(getenv("NACTOR_LOG")) : NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("NACTOR_LOG", cases[i].env, 1);
		sys = NULL;
		REQUIRE_RV(open_logged(&sys, 1, -1, &s));
		if (nact_log_level(sys) != cases[i].level)
			nt_fail(__FILE__, __LINE__, "NACTOR_LOG=%s gave level %d, want %d",
			    cases[i].env, nact_log_level(sys), cases[i].level);
		nact_system_close(sys, 1000);
	}

	/* An explicit config level wins over the variable. */
	setenv("NACTOR_LOG", "debug", 1);
	REQUIRE_RV(open_logged(&sys, 1, NACT_LOG_ERROR, &s));
	CHECK_EQ_INT(nact_log_level(sys), NACT_LOG_ERROR);
	nact_system_close(sys, 1000);

	/* Unset: some valid level, not debug noise by default. */
	unsetenv("NACTOR_LOG");
	REQUIRE_RV(open_logged(&sys, 1, -1, &s));
	CHECK(nact_log_level(sys) >= NACT_LOG_OFF && nact_log_level(sys) < NACT_LOG_DEBUG);
	nact_system_close(sys, 1000);

	if (saved != NULL) {
		setenv("NACTOR_LOG", saved, 1);
		free(saved);
	}
	CHECK_EQ_INT(atomic_load(&s.bad), 0);
}

NT_MAIN(NT_CASE(test_close_full_mailboxes), NT_CASE(test_close_from_handler),
    NT_CASE(test_log_hook), NT_CASE(test_log_env))
