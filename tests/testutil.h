/*
 * tests/testutil.h — the nactor test framework: checks, a runner, and
 * helpers for waiting on conditions.
 *
 * DESIGN
 * One executable per module. A test is a `static void name(void)`; the file
 * ends with
 *
 *   NT_MAIN(NT_CASE(test_a), NT_CASE(test_b))
 *
 * which runs every case in order (or only those whose name contains argv[1])
 * and prints "N passed, M failed"; the exit status is nonzero when any check
 * failed. Checks never abort:
 *
 *   CHECK(cond)            record a failure and go on
 *   CHECK_EQ_INT(a, b)     compare as long long, print both values
 *   CHECK_EQ_U64(a, b)     compare as uint64_t
 *   CHECK_STR(a, b)        strcmp, both printed
 *   CHECK_RV(call)         call must return 0; prints nact_strerror otherwise
 *   CHECK_ERR(call, code)  call must return exactly code
 *   REQUIRE / REQUIRE_RV   like CHECK / CHECK_RV but return from the test
 *                          (void) on failure, for setup steps the rest
 *                          depends on
 *
 * Checks may be used from any thread (handlers included): the failure
 * counter is atomic and each failure is one fprintf.
 *
 * Synchronisation: never sleep a fixed time to "let something happen".
 * Wait for a condition instead:
 *
 *   CHECK(NT_WAIT(atomic_load(&n) == 100, NT_LONG_MS));
 *
 * NT_WAIT polls cond every millisecond until it holds or the deadline
 * passes, and yields the final truth value. Deadlines are generous (a
 * passing test never waits for them); NACT_TEST_SLOW (an integer factor,
 * default 1) stretches them further for slow builds.
 *
 * Work sizes: nt_scaled(n) multiplies n by NACT_TEST_SCALE (a float factor,
 * default 1; CMake sets it lower for sanitizer builds), never below 1.
 */
#ifndef NACT_TESTUTIL_H
#define NACT_TESTUTIL_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/nactor.h>

/* ---- failure accounting ---- */

static atomic_int nt_fail_count; /* failures in the current test */

static inline void nt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void nt_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, buf);
	atomic_fetch_add_explicit(&nt_fail_count, 1, memory_order_relaxed);
}

#define CHECK(c)                                               \
	do {                                                   \
		if (!(c))                                      \
			nt_fail(__FILE__, __LINE__, "%s", #c); \
	} while (0)

#define REQUIRE(c)                                                        \
	do {                                                              \
		if (!(c)) {                                               \
			nt_fail(__FILE__, __LINE__, "%s (required)", #c); \
			return;                                           \
		}                                                         \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                    \
	do {                                                                                  \
		long long nt_a_ = (long long)(a), nt_b_ = (long long)(b);                     \
		if (nt_a_ != nt_b_)                                                           \
			nt_fail(__FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, nt_a_, \
			    nt_b_);                                                           \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                                       \
	do {                                                                                     \
		uint64_t nt_a_ = (uint64_t)(a), nt_b_ = (uint64_t)(b);                           \
		if (nt_a_ != nt_b_)                                                              \
			nt_fail(__FILE__, __LINE__, "%s == %s (0x%" PRIx64 " vs 0x%" PRIx64 ")", \
			    #a, #b, nt_a_, nt_b_);                                               \
	} while (0)

#define CHECK_STR(a, b)                                                                    \
	do {                                                                               \
		const char *nt_a_ = (a), *nt_b_ = (b);                                     \
		if (nt_a_ == NULL || nt_b_ == NULL || strcmp(nt_a_, nt_b_))                \
			nt_fail(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a, #b, \
			    nt_a_ ? nt_a_ : "(null)", nt_b_ ? nt_b_ : "(null)");           \
	} while (0)

#define CHECK_RV(call)                                                                           \
	do {                                                                                     \
		int nt_rv_ = (call);                                                             \
		if (nt_rv_ != 0)                                                                 \
			nt_fail(__FILE__, __LINE__, "%s: %s (%d)", #call, nact_strerror(nt_rv_), \
			    nt_rv_);                                                             \
	} while (0)

#define REQUIRE_RV(call)                                                             \
	do {                                                                         \
		int nt_rv_ = (call);                                                 \
		if (nt_rv_ != 0) {                                                   \
			nt_fail(__FILE__, __LINE__, "%s: %s (%d) (required)", #call, \
			    nact_strerror(nt_rv_), nt_rv_);                          \
			return;                                                      \
		}                                                                    \
	} while (0)

#define CHECK_ERR(call, want)                                                               \
	do {                                                                                \
		int nt_rv_ = (call), nt_w_ = (want);                                        \
		if (nt_rv_ != nt_w_)                                                        \
			nt_fail(__FILE__, __LINE__, "%s: got %s (%d), want %s (%d)", #call, \
			    nact_strerror(nt_rv_), nt_rv_, nact_strerror(nt_w_), nt_w_);    \
	} while (0)

/* ---- runner ---- */

typedef struct nt_case {
	const char *name;
	void (*fn)(void);
} nt_case;

#define NT_CASE(fn)     \
	{               \
#fn, fn \
	}

static inline uint64_t nt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t nt_now_ms(void)
{
	return nt_now_ns() / 1000000u;
}

static inline int nt_run(int argc, char **argv, const nt_case *cases)
{
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const nt_case *c = cases; c->name != NULL; c++) {
		if (argc > 1 && strstr(c->name, argv[1]) == NULL)
			continue;
		uint64_t t0 = nt_now_ms();
		atomic_store(&nt_fail_count, 0);
		printf("---- %s\n", c->name);
		c->fn();
		int nf = atomic_load(&nt_fail_count);
		printf("%s %s (%" PRIu64 " ms)\n", nf ? "FAIL" : "ok  ", c->name, nt_now_ms() - t0);
		if (nf)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define NT_MAIN(...)                                                            \
	int main(int argc, char **argv)                                         \
	{                                                                       \
		static const nt_case nt_cases_[] = {__VA_ARGS__, {NULL, NULL}}; \
		return nt_run(argc, argv, nt_cases_);                           \
	}

/* ---- scaling and waiting ---- */

static inline double nt_env_double(const char *name, double dflt)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return dflt;
	double v = strtod(s, NULL);
	return v > 0 ? v : dflt;
}

/* n scaled by NACT_TEST_SCALE, at least 1. */
static inline long nt_scaled(long n)
{
	long v = (long)((double)n * nt_env_double("NACT_TEST_SCALE", 1.0));
	return v < 1 ? 1 : v;
}

/* A deadline in ms stretched by NACT_TEST_SLOW. */
static inline uint64_t nt_slow(uint64_t ms)
{
	return (uint64_t)((double)ms * nt_env_double("NACT_TEST_SLOW", 1.0));
}

/* Generous deadline for conditions that should hold "soon". */
#define NT_LONG_MS 10000
/* Short window for "this should NOT happen" checks. */
#define NT_QUIET_MS 100

#define NT_WAIT(cond, ms)                                            \
	({                                                           \
		uint64_t nt_dl_ = nt_now_ms() + nt_slow(ms);         \
		int nt_ok_;                                          \
		while (!(nt_ok_ = !!(cond)) && nt_now_ms() < nt_dl_) \
			nng_msleep(1);                               \
		nt_ok_;                                              \
	})

/* True if cond stays false for the whole window (a negative check: the only
 * place a fixed wait is acceptable, because there is no event to wait for). */
#define NT_STAYS_FALSE(cond, ms) (!NT_WAIT(cond, ms))

/* ---- nactor helpers ---- */

/* Open a system with `workers` threads and the given clock; quiet logging
 * unless NACTOR_LOG says otherwise. */
static inline int nt_open(nact_system **sysp, uint32_t workers, int clock)
{
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = workers;
	cfg.clock = clock;
	return nact_system_open(sysp, &cfg);
}

/* Start a message of `type`: allocate it and point *pk at its body. NULL on
 * failure (and a check failure recorded). */
static inline nact_msg *nt_msg_begin(nact_system *sys, uint32_t type, nact_pack *pk)
{
	nact_msg *m = NULL;
	int rv = nact_msg_alloc(&m, sys, type);
	if (rv != 0) {
		nt_fail(__FILE__, __LINE__, "nact_msg_alloc: %s", nact_strerror(rv));
		return NULL;
	}
	nact_pack_init(pk, m);
	return m;
}

/* Finish a message from nt_msg_begin: m, or NULL (m freed, a check failure
 * recorded) if packing its body failed. */
static inline nact_msg *nt_msg_end(nact_msg *m, const nact_pack *pk, const char *what)
{
	int rv = nact_pack_error(pk);
	if (rv != 0) {
		nt_fail(__FILE__, __LINE__, "%s: %s", what, nact_strerror(rv));
		nact_msg_free(m);
		return NULL;
	}
	return m;
}

/* A message of `type` whose body is one msgpack int. NULL on failure (and a
 * check failure recorded). */
static inline nact_msg *nt_msg_int(nact_system *sys, uint32_t type, int64_t v)
{
	nact_pack pk;
	nact_msg *m = nt_msg_begin(sys, type, &pk);
	if (m == NULL)
		return NULL;
	nact_pack_int(&pk, v);
	return nt_msg_end(m, &pk, "nact_pack_int");
}

/* A message of `type` whose body is the array [a, b]. */
static inline nact_msg *nt_msg_pair(nact_system *sys, uint32_t type, int64_t a, int64_t b)
{
	nact_pack pk;
	nact_msg *m = nt_msg_begin(sys, type, &pk);
	if (m == NULL)
		return NULL;
	nact_pack_array(&pk, 2);
	nact_pack_int(&pk, a);
	nact_pack_int(&pk, b);
	return nt_msg_end(m, &pk, "nact_pack");
}

/* The one int in m's body, or `dflt` (and a check failure) if there is none. */
static inline int64_t nt_body_int(const nact_msg *m, int64_t dflt)
{
	nact_reader r;
	int64_t v = dflt;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv != 0) {
		nt_fail(__FILE__, __LINE__, "nact_reader_init: %s", nact_strerror(rv));
		return dflt;
	}
	rv = nact_read_int(&r, &v);
	if (rv != 0)
		nt_fail(__FILE__, __LINE__, "reading int body: %s", nact_strerror(rv));
	nact_reader_fini(&r);
	return rv == 0 ? v : dflt;
}

/* Read the [a, b] body of m; 0 or the reader error. */
static inline int nt_body_pair(const nact_msg *m, int64_t *a, int64_t *b)
{
	nact_reader r;
	uint32_t n = 0;
	int rv = nact_reader_init(&r, m, NULL);
	if (rv != 0)
		return rv;
	rv = nact_read_array(&r, &n);
	if (rv == 0 && n != 2)
		rv = NACT_EMALFORMED;
	if (rv == 0)
		rv = nact_read_int(&r, a);
	if (rv == 0)
		rv = nact_read_int(&r, b);
	nact_reader_fini(&r);
	return rv;
}

/* Send an int message; records a failure if the send fails. */
static inline int nt_send_int(nact_system *sys, nact_aid to, uint32_t type, int64_t v)
{
	nact_msg *m = nt_msg_int(sys, type, v);
	if (m == NULL)
		return NACT_ENOMEM;
	int rv = nact_send(sys, to, m);
	if (rv != 0) {
		nt_fail(__FILE__, __LINE__, "nact_send: %s", nact_strerror(rv));
		nact_msg_free(m);
	}
	return rv;
}

/* A gate a handler can block on (to keep a mailbox from draining) and the
 * flag it raises once it is inside. */
typedef struct nt_gate {
	atomic_int open;    /* main sets to 1 to release the handler */
	atomic_int entered; /* handler sets to 1 once blocked */
} nt_gate;

/* Handler side: announce we are in, then wait (bounded, so a broken test
 * cannot hang the suite forever) until the gate opens. */
static inline void nt_gate_block(nt_gate *g)
{
	atomic_store_explicit(&g->entered, 1, memory_order_release);
	uint64_t dl = nt_now_ms() + nt_slow(NT_LONG_MS);
	while (!atomic_load_explicit(&g->open, memory_order_acquire)) {
		if (nt_now_ms() > dl) {
			nt_fail(__FILE__, __LINE__, "gate never opened");
			return;
		}
		nng_msleep(1);
	}
}

static inline void nt_gate_open(nt_gate *g)
{
	atomic_store_explicit(&g->open, 1, memory_order_release);
}

#endif
