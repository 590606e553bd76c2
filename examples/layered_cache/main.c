/*
 * examples/layered_cache — a local cache in front of a shared cache.
 *
 * Two "web servers" (A and B) each own a small local cache whose backing
 * cache is one shared cache; the shared cache computes missing users from a
 * slow "database" (a compute actor). The program walks through the hits
 * at each layer, a write-through, and an invalidation event, prints each
 * layer's stats, and exits nonzero if any figure is not what it should be.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <nactor/cache.h>
#include <nactor/nactor.h>

#include <nng/supplemental/util/platform.h>

#define TMO 5000

static atomic_int db_queries;

/* The "database": a user's record, a msgpack map {"id": str, "name": str}. */
static int db_lookup(void *arg, const void *key, size_t klen, nact_pack *out)
{
	(void)arg;
	atomic_fetch_add(&db_queries, 1);
	nng_msleep(20); /* a slow query: the caches are never blocked by it */
	nact_pack_map(out, 2);
	nact_pack_str(out, "id");
	nact_pack_strn(out, key, klen);
	nact_pack_str(out, "name");
	nact_pack_str(out, "Ada");
	return 0;
}

static int failures;

static void expect(int ok, const char *what)
{
	printf("%-58s %s\n", what, ok ? "ok" : "WRONG");
	if (!ok)
		failures++;
}

static nact_cache_stats stats(nact_system *sys, nact_aid c)
{
	nact_cache_stats st;
	memset(&st, 0, sizeof(st));
	if (nact_cache_stats_get(sys, c, &st, TMO) != 0)
		failures++;
	return st;
}

static void show(const char *name, nact_cache_stats st)
{
	printf("  %-7s hits=%llu misses=%llu entries=%llu lookups-started=%llu hit_rate=%.2f\n",
	    name, (unsigned long long)st.hits, (unsigned long long)st.misses,
	    (unsigned long long)st.entries, (unsigned long long)st.computes, st.hit_rate);
}

/* Name inside a cached user record, or "" (the value is a msgpack map). */
static void user_name(const void *v, size_t vl, char *name, size_t len)
{
	nact_reader r;
	uint32_t np;
	name[0] = '\0';
	if (nact_reader_init_buf(&r, v, vl, NULL) != 0)
		return;
	if (nact_read_map(&r, &np) == 0) {
		for (uint32_t i = 0; i < np; i++) {
			const char *k, *s;
			size_t kl, sl;
			if (nact_read_str(&r, &k, &kl) != 0 || nact_read_str(&r, &s, &sl) != 0)
				break;
			if (kl == 4 && memcmp(k, "name", 4) == 0)
				snprintf(name, len, "%.*s", (int)sl, s);
		}
	}
	nact_reader_fini(&r);
}

static int get_user(nact_system *sys, nact_aid local, nact_aid db, const char *id, char *name,
    size_t len)
{
	void *v = NULL;
	size_t vl = 0;
	int rv = nact_cache_get_or_compute(sys, local, id, strlen(id), db, 60000, 0, &v, &vl, TMO);
	if (rv == 0)
		user_name(v, vl, name, len);
	free(v);
	return rv;
}

int main(void)
{
	nact_system *sys;
	nact_aid shared, a, b, db;
	nact_cache_config cfg;
	char name[64];
	int rv;

	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	nact_cache_config_init(&cfg);
	cfg.max_bytes = 64 << 20; /* the shared layer: big */
	cfg.default_ttl_ms = 600000;
	if ((rv = nact_cache_spawn(&shared, sys, &cfg)) != 0)
		goto fail;
	nact_cache_config_init(&cfg);
	cfg.max_entries = 1000; /* each local layer: small, short-lived */
	cfg.default_ttl_ms = 5000;
	cfg.backing = shared;
	cfg.topic = "users.changed";
	if ((rv = nact_cache_spawn(&a, sys, &cfg)) != 0 ||
	    (rv = nact_cache_spawn(&b, sys, &cfg)) != 0 ||
	    (rv = nact_cache_computer_spawn(&db, sys, db_lookup, NULL)) != 0)
		goto fail;

	printf("1. server A reads user:1 (cold: A misses, shared misses, db queried)\n");
	expect(get_user(sys, a, db, "user:1", name, sizeof(name)) == 0 && strcmp(name, "Ada") == 0,
	    "   A got Ada");
	expect(atomic_load(&db_queries) == 1, "   one db query");

	printf("2. server A reads user:1 again (A's local layer hits)\n");
	expect(get_user(sys, a, db, "user:1", name, sizeof(name)) == 0, "   A got it");
	expect(stats(sys, a).hits == 1, "   hit in A's local cache");

	printf("3. server B reads user:1 (B misses, the shared layer hits)\n");
	expect(get_user(sys, b, db, "user:1", name, sizeof(name)) == 0 && strcmp(name, "Ada") == 0,
	    "   B got Ada");
	expect(stats(sys, shared).hits == 1, "   hit in the shared cache");
	expect(atomic_load(&db_queries) == 1, "   still one db query");

	printf("4. server B renames the user (write-through to the shared layer)\n");
	const uint8_t rec[] = {0x82, 0xa2, 'i', 'd', 0xa6, 'u', 's', 'e', 'r', ':', '1', 0xa4, 'n',
	    'a', 'm', 'e', 0xa8, 'L', 'o', 'v', 'e', 'l', 'a', 'c', 'e'};
	expect(nact_cache_set(sys, b, "user:1", 6, rec, sizeof(rec), -1, TMO) == 0, "   B set it");
	expect(get_user(sys, a, db, "user:1", name, sizeof(name)) == 0 && strcmp(name, "Ada") == 0,
	    "   A still serves its local copy (Ada) until told");

	printf("5. an event on \"users.changed\" invalidates user:1 in A\n");
	nact_msg *ev;
	if ((rv = nact_msg_alloc(&ev, sys, NACT_T_EVENT)) != 0)
		goto fail;
	nact_pack pk;
	nact_pack_init(&pk, ev);
	nact_pack_array(&pk, 2);
	nact_pack_str(&pk, "users.changed");
	nact_pack_str(&pk, "user:1");
	if ((rv = nact_pack_error(&pk)) != 0 || (rv = nact_send(sys, a, ev)) != 0) {
		nact_msg_free(ev);
		goto fail;
	}
	/* The event and the next request come from this thread in order, so
	 * A applies the event first. */
	expect(get_user(sys, a, db, "user:1", name, sizeof(name)) == 0 &&
	        strcmp(name, "Lovelace") == 0,
	    "   A reads Lovelace from the shared layer");
	expect(atomic_load(&db_queries) == 1, "   and the db was never asked again");

	printf("stats:\n");
	nact_cache_stats sa = stats(sys, a), sb = stats(sys, b), ss = stats(sys, shared);
	show("A", sa);
	show("B", sb);
	show("shared", ss);
	expect(sa.hits == 2 && sa.misses == 2 && sa.events == 1, "A: 2 hits, 2 misses, 1 event");
	expect(sb.hits == 0 && sb.misses == 1, "B: 0 hits, 1 miss");
	expect(ss.hits == 2 && ss.misses == 1 && ss.computes == 1,
	    "shared: 2 hits, 1 miss, 1 compute");
	nact_system_close(sys, TMO);
	printf("%s\n", failures ? "FAILED" : "all layers behaved");
	return failures ? 1 : 0;
fail:
	fprintf(stderr, "setup: %s\n", nact_strerror(rv));
	nact_system_close(sys, TMO);
	return 1;
}
