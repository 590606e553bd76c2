/*
 * tests/actors/test_names.c — local names.
 *
 * Contract checked (include/nactor/registry.h, nact_spawn_opts.name):
 * - nact_register maps a name to a live actor; nact_whereis finds it;
 *   nact_unregister removes it (NACT_ENOENT the second time); whereis of an
 *   unknown name is NACT_AID_NONE.
 * - A taken name gives NACT_EEXIST; a dead id NACT_ENOENT; an empty name or
 *   one longer than NACT_NAME_MAX NACT_EINVAL (NACT_NAME_MAX itself is ok).
 * - The name is copied: the caller's buffer may change afterwards.
 * - The name goes away when its actor ends, and can then be taken again.
 * - nact_spawn with opts.name registers the new actor; a taken name fails
 *   the spawn with NACT_EEXIST and the caller keeps its state.
 * - A name can be used to reach the actor (whereis + send), from any
 *   thread, while other threads register and unregister.
 */
#include <pthread.h>

#include "testutil.h"

typedef struct st {
	atomic_int handled;
	atomic_int fini;
} st;

static int count(nact_ctx *ctx, nact_msg *m)
{
	st *s = nact_state(ctx);
	atomic_fetch_add(&s->handled, 1);
	return 0;
}

static void st_fini(void *arg)
{
	st *s = arg;
	atomic_fetch_add(&s->fini, 1);
}

static void test_register_whereis(void)
{
	nact_system *sys = NULL;
	st sa = {0}, sb = {0};
	nact_aid a, b;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&a, sys, count, &sa, st_fini, NULL));
	REQUIRE_RV(nact_spawn(&b, sys, count, &sb, st_fini, NULL));

	CHECK_EQ_U64(nact_whereis(sys, "alpha").v, 0);
	CHECK_RV(nact_register(sys, "alpha", a));
	CHECK_EQ_U64(nact_whereis(sys, "alpha").v, a.v);
	CHECK_ERR(nact_register(sys, "alpha", b), NACT_EEXIST);
	CHECK_ERR(nact_register(sys, "alpha", a), NACT_EEXIST);
	CHECK_EQ_U64(nact_whereis(sys, "alpha").v, a.v);
	CHECK_RV(nact_register(sys, "beta", b));
	CHECK_EQ_U64(nact_whereis(sys, "beta").v, b.v);
	CHECK_EQ_U64(nact_whereis(sys, "alph").v, 0);
	CHECK_EQ_U64(nact_whereis(sys, "alphaa").v, 0);

	/* Reach an actor by name. */
	CHECK_EQ_INT(nt_send_int(sys, nact_whereis(sys, "beta"), 1, 0), 0);
	CHECK(NT_WAIT(atomic_load(&sb.handled) == 1, NT_LONG_MS));

	CHECK_RV(nact_unregister(sys, "alpha"));
	CHECK_EQ_U64(nact_whereis(sys, "alpha").v, 0);
	CHECK_ERR(nact_unregister(sys, "alpha"), NACT_ENOENT);
	CHECK_ERR(nact_unregister(sys, "never-registered"), NACT_ENOENT);
	/* Free again: b can take it. */
	CHECK_RV(nact_register(sys, "alpha", b));
	CHECK_EQ_U64(nact_whereis(sys, "alpha").v, b.v);
	CHECK_EQ_INT(atomic_load(&sa.fini) + atomic_load(&sb.fini), 0);
	nact_system_close(sys, 5000);
}

static void test_bad_names(void)
{
	nact_system *sys = NULL;
	st sa = {0};
	nact_aid a;
	char name[NACT_NAME_MAX + 2];

	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&a, sys, count, &sa, st_fini, NULL));
	CHECK_ERR(nact_register(sys, "", a), NACT_EINVAL);
	memset(name, 'n', sizeof(name));
	name[NACT_NAME_MAX + 1] = '\0'; /* 256 chars */
	CHECK_ERR(nact_register(sys, name, a), NACT_EINVAL);
	name[NACT_NAME_MAX] = '\0'; /* 255 chars: fine */
	CHECK_RV(nact_register(sys, name, a));
	CHECK_EQ_U64(nact_whereis(sys, name).v, a.v);

	/* A dead or unknown id cannot be registered. */
	CHECK_ERR(nact_register(sys, "ghost", (nact_aid){0x0000FFFFFFFF0003ull}), NACT_ENOENT);
	CHECK_ERR(nact_register(sys, "none", NACT_AID_NONE), NACT_ENOENT);
	CHECK_EQ_U64(nact_whereis(sys, "ghost").v, 0);
	nact_system_close(sys, 5000);
}

static void test_name_copied(void)
{
	nact_system *sys = NULL;
	st sa = {0};
	nact_aid a;
	char buf[32];

	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&a, sys, count, &sa, st_fini, NULL));
	strcpy(buf, "copied");
	CHECK_RV(nact_register(sys, buf, a));
	strcpy(buf, "changed");
	CHECK_EQ_U64(nact_whereis(sys, "copied").v, a.v);
	CHECK_EQ_U64(nact_whereis(sys, "changed").v, 0);
	nact_system_close(sys, 5000);
}

static void test_name_removed_at_end(void)
{
	nact_system *sys = NULL;
	st sa = {0}, sb = {0};
	nact_aid a, b;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&a, sys, count, &sa, st_fini, NULL));
	CHECK_RV(nact_register(sys, "svc", a));
	CHECK_RV(nact_register(sys, "svc-alias", a));
	CHECK_RV(nact_stop(sys, a));
	CHECK(NT_WAIT(atomic_load(&sa.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(nact_whereis(sys, "svc").v == 0, NT_LONG_MS));
	CHECK(NT_WAIT(nact_whereis(sys, "svc-alias").v == 0, NT_LONG_MS));
	/* The name is free for a new actor. */
	REQUIRE_RV(nact_spawn(&b, sys, count, &sb, st_fini, NULL));
	CHECK_RV(nact_register(sys, "svc", b));
	CHECK_EQ_U64(nact_whereis(sys, "svc").v, b.v);

	/* Also when nobody looked the name up in between: register straight
	 * after the end must not find the old entry. */
	st sc = {0};
	nact_aid c;
	REQUIRE_RV(nact_spawn(&c, sys, count, &sc, st_fini, NULL));
	CHECK_RV(nact_register(sys, "svc2", c));
	CHECK_RV(nact_stop(sys, c));
	CHECK(NT_WAIT(atomic_load(&sc.fini) == 1, NT_LONG_MS));
	CHECK(NT_WAIT(!nact_alive(sys, c), NT_LONG_MS));
	CHECK_RV(nact_register(sys, "svc2", b));
	CHECK_EQ_U64(nact_whereis(sys, "svc2").v, b.v);
	nact_system_close(sys, 5000);
}

static void test_spawn_opts_name(void)
{
	nact_system *sys = NULL;
	st sa = {0}, sb = {0};
	nact_aid a, b = NACT_AID_NONE;
	nact_spawn_opts o = {.name = "worker"};

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(nact_spawn(&a, sys, count, &sa, st_fini, &o));
	CHECK_EQ_U64(nact_whereis(sys, "worker").v, a.v);
	nact_stats st0, st1;
	nact_system_stats(sys, &st0);
	CHECK_ERR(nact_spawn(&b, sys, count, &sb, st_fini, &o), NACT_EEXIST);
	CHECK_EQ_INT(atomic_load(&sb.fini), 0); /* state still ours */
	nact_system_stats(sys, &st1);
	CHECK_EQ_U64(st1.live, st0.live);
	CHECK_EQ_U64(nact_whereis(sys, "worker").v, a.v);

	/* Name plus a bound: both apply. */
	nact_spawn_opts o2 = {.capacity = 8, .overflow = NACT_OVERFLOW_FAIL, .name = "bounded"};
	REQUIRE_RV(nact_spawn(&b, sys, count, &sb, st_fini, &o2));
	CHECK_EQ_U64(nact_whereis(sys, "bounded").v, b.v);
	CHECK_RV(nact_stop(sys, b));
	CHECK(NT_WAIT(nact_whereis(sys, "bounded").v == 0, NT_LONG_MS));
	nact_system_close(sys, 5000);
	CHECK_EQ_INT(atomic_load(&sa.fini), 1);
	CHECK_EQ_INT(atomic_load(&sb.fini), 1);
}

/* Threads race on the same few names; every success must be consistent. */
typedef struct race_arg {
	nact_system *sys;
	nact_aid id;
	atomic_int *errors;
	int n;
} race_arg;

static void *race_thread(void *p)
{
	race_arg *r = p;
	char name[16];
	for (int i = 0; i < r->n; i++) {
		snprintf(name, sizeof(name), "race%d", i % 4);
		int rv = nact_register(r->sys, name, r->id);
		if (rv == 0) {
			/* Ours until we unregister: nobody else may hold it. */
			if (nact_whereis(r->sys, name).v != r->id.v)
				atomic_fetch_add(r->errors, 1);
			if (nact_unregister(r->sys, name) != 0)
				atomic_fetch_add(r->errors, 1);
		} else if (rv != NACT_EEXIST) {
			atomic_fetch_add(r->errors, 1);
		}
	}
	return NULL;
}

static void test_concurrent(void)
{
	nact_system *sys = NULL;
	enum { NT = 4 };
	st s[NT];
	race_arg ra[NT];
	pthread_t th[NT];
	atomic_int errors = 0;

	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	memset(s, 0, sizeof(s));
	for (int i = 0; i < NT; i++) {
		ra[i] = (race_arg){sys, NACT_AID_NONE, &errors, (int)nt_scaled(5000)};
		REQUIRE_RV(nact_spawn(&ra[i].id, sys, count, &s[i], st_fini, NULL));
	}
	for (int i = 0; i < NT; i++)
		REQUIRE(pthread_create(&th[i], NULL, race_thread, &ra[i]) == 0);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(atomic_load(&errors), 0);
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "race%d", i);
		CHECK_EQ_U64(nact_whereis(sys, name).v, 0);
	}
	nact_system_close(sys, 5000);
}

NT_MAIN(NT_CASE(test_register_whereis), NT_CASE(test_bad_names), NT_CASE(test_name_copied),
    NT_CASE(test_name_removed_at_end), NT_CASE(test_spawn_opts_name), NT_CASE(test_concurrent))
