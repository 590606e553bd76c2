/*
 * tests/actors/test_errors.c — the static strings and defaults.
 *
 * Contract checked (error.h, supervisor.h, actor.h):
 * - nact_strerror gives a non-empty static string for every NACT_E* code,
 *   a different one per code, and never NULL (unknown codes, wrapped errno
 *   and wrapped nng errors included); the same pointer each time.
 * - nact_exit_str: "normal" for 0, "stopped" for NACT_EXIT_STOPPED, the
 *   error string of a NACT_E* code otherwise.
 * - nact_dl_reason_str names each dead-letter reason as documented and
 *   never returns NULL.
 * - nact_config_init fills the documented defaults; nact_system_open with
 *   NULL config works; nact_system_close(NULL) is a no-op.
 */
#include <errno.h>

#include "testutil.h"

static const int codes[] = {NACT_OK, NACT_ENOMEM, NACT_EINVAL, NACT_ENOENT, NACT_EDEAD, NACT_EFULL,
    NACT_ETIMEDOUT, NACT_EDEADLK, NACT_ECLOSED, NACT_EEXIST, NACT_ETYPE, NACT_ETRUNC,
    NACT_EMALFORMED, NACT_ELIMIT, NACT_ERANGE, NACT_EEOF, NACT_EEXPIRED, NACT_ESTATE, NACT_ENOTSUP,
    NACT_ERESOURCE, NACT_ECACHE, NACT_EHANDLER, NACT_ESTAGE, NACT_EBADMSG, NACT_ECANCELED,
    NACT_ECYCLE, NACT_ELIMITED, NACT_EAUTH, NACT_EPROTO, NACT_ENODEDOWN};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_strerror(void)
{
	const char *s[NCODES];

	for (size_t i = 0; i < NCODES; i++) {
		s[i] = nact_strerror(codes[i]);
		CHECK(s[i] != NULL);
		if (s[i] == NULL)
			return;
		CHECK(s[i][0] != '\0');
		CHECK(nact_strerror(codes[i]) == s[i]); /* static */
	}
	for (size_t i = 0; i < NCODES; i++)
		for (size_t j = i + 1; j < NCODES; j++)
			if (strcmp(s[i], s[j]) == 0)
				nt_fail(__FILE__, __LINE__, "codes %d and %d share \"%s\"",
				    codes[i], codes[j], s[i]);

	/* Unknown and wrapped codes: still a string. */
	const int other[] = {30, 999, -1, -12345, NACT_ESYSERR, NACT_ESYSERR + ENOENT,
	    NACT_ESYSERR + EAGAIN, NACT_ETRANERR, NACT_ETRANERR + NNG_ETIMEDOUT,
	    NACT_ETRANERR + NNG_ECONNREFUSED, 0x7fffffff};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		const char *t = nact_strerror(other[i]);
		CHECK(t != NULL);
		if (t != NULL)
			CHECK(t[0] != '\0');
	}
	/* A wrapped errno is not reported as success. */
	CHECK(strcmp(nact_strerror(NACT_ESYSERR + ENOENT), s[0]) != 0);
	CHECK(strcmp(nact_strerror(NACT_ETRANERR + NNG_ETIMEDOUT), s[0]) != 0);
}

static void test_exit_str(void)
{
	CHECK_STR(nact_exit_str(NACT_EXIT_NORMAL), "normal");
	/* issue 4 names the stop reason "shutdown" (OTP's word) */
	CHECK_STR(nact_exit_str(NACT_EXIT_STOPPED), "shutdown");
	CHECK_STR(nact_exit_str(NACT_EXIT_SHUTDOWN), "shutdown");
	CHECK_STR(nact_exit_str(NACT_EXIT_KILLED), "killed");
	CHECK_STR(nact_exit_str(NACT_EXIT_NOPROC), "noproc");
	char buf[32];
	CHECK_STR(nact_exit_format(NACT_EXIT_SIGNAL(11), buf, sizeof(buf)), "signal 11");
	CHECK(
	    NACT_EXIT_IS_SIGNAL(NACT_EXIT_SIGNAL(9)) && NACT_EXIT_SIGNO(NACT_EXIT_SIGNAL(9)) == 9);
	CHECK(!nact_exit_abnormal(NACT_EXIT_NORMAL) && !nact_exit_abnormal(NACT_EXIT_SHUTDOWN));
	CHECK(nact_exit_abnormal(NACT_EXIT_KILLED) && nact_exit_abnormal(NACT_EINVAL));
	for (size_t i = 1; i < NCODES; i++)
		CHECK_STR(nact_exit_str(codes[i]), nact_strerror(codes[i]));
	CHECK(nact_exit_str(-999) != NULL);
	CHECK(nact_exit_str(123456) != NULL);
}

static void test_dl_reason_str(void)
{
	static const char *names[NACT_DL_NREASONS] = {"unknown", "dead", "stopped", "dropped",
	    "expired", "late", "crashed"};
	CHECK_EQ_INT(NACT_DL_NREASONS, 7);
	for (int i = 0; i < NACT_DL_NREASONS; i++)
		CHECK_STR(nact_dl_reason_str(i), names[i]);
	CHECK(nact_dl_reason_str(NACT_DL_NREASONS) != NULL);
	CHECK(nact_dl_reason_str(-1) != NULL);
	CHECK(nact_dl_reason_str(1000) != NULL);
}

static void test_config(void)
{
	nact_config cfg;
	memset(&cfg, 0xA5, sizeof(cfg));
	nact_config_init(&cfg);
	CHECK_EQ_INT(cfg.workers, 0);
	CHECK(cfg.batch == 0 || cfg.batch == 64);
	CHECK_EQ_INT(cfg.clock, NACT_CLOCK_MONOTONIC);
	CHECK_EQ_U64(cfg.seed, 0);
	CHECK(cfg.log_level >= -1 && cfg.log_level <= NACT_LOG_DEBUG);
	CHECK(cfg.log_fn == NULL);
	CHECK(cfg.log_arg == NULL);
	CHECK(cfg.spin_us == 0 || cfg.spin_us == 50);

	/* NULL config = defaults; close(NULL) is a no-op. */
	nact_system *sys = NULL;
	CHECK_RV(nact_system_open(&sys, NULL));
	CHECK(sys != NULL);
	if (sys != NULL) {
		nact_stats st;
		memset(&st, 0xA5, sizeof(st));
		nact_system_stats(sys, &st);
		CHECK_EQ_U64(st.spawned, 0);
		CHECK_EQ_U64(st.live, 0);
		/* The default clock is real: it is running. */
		uint64_t t0 = nact_now(sys);
		CHECK(NT_WAIT(nact_now(sys) > t0, 1000));
		CHECK_ERR(nact_clock_advance(sys, 1000), NACT_ESTATE);
	}
	nact_system_close(sys, 1000);
	nact_system_close(NULL, 0);

	/* A manual clock starts at 0 and moves only when told to. */
	sys = NULL;
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MANUAL));
	CHECK_EQ_U64(nact_now(sys), 0);
	CHECK_RV(nact_clock_advance(sys, 1500));
	CHECK_EQ_U64(nact_now(sys), 1500);
	CHECK_RV(nact_clock_advance(sys, 0));
	CHECK_EQ_U64(nact_now(sys), 1500);
	nact_system_close(sys, 1000);

	/* A bad clock kind is refused. */
	nact_config_init(&cfg);
	cfg.clock = 7;
	sys = NULL;
	int rv = nact_system_open(&sys, &cfg);
	CHECK_ERR(rv, NACT_EINVAL);
	if (rv == 0)
		nact_system_close(sys, 1000);
}

NT_MAIN(NT_CASE(test_strerror), NT_CASE(test_exit_str), NT_CASE(test_dl_reason_str),
    NT_CASE(test_config))
