/*
 * examples/cache_invalidation — caches kept fresh by events on a bus.
 *
 * Two services each keep a local cache of product prices in front of a
 * "database" (here: an array). When a price changes, the writer updates the
 * database and publishes the product's key on the bus topic
 * "products.changed"; both caches are subscribed to that topic and drop the
 * key, so their next read misses and fetches the new price. A change to
 * every product publishes nil on the same topic, which clears the caches.
 *
 * The program checks what it prints: stale reads after an event, or hits
 * where misses are expected, make it exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h>

#define TIMEOUT_MS 5000
#define NPRODUCTS 3

static int64_t db[NPRODUCTS] = {100, 250, 999}; /* the source of truth */

static int fail(const char *what, int rv)
{
	fprintf(stderr, "cache_invalidation: %s: %s\n", what, nact_strerror(rv));
	return 1;
}

/* The price of product i as one msgpack int (what the caches store). */
static size_t encode(int64_t v, unsigned char *buf)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_int64(&pk, v);
	memcpy(buf, sb.data, sb.size);
	size_t n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return n;
}

/* Read through a service's cache: hit, or load from the database and
 * fill the cache. *hitp says which. */
static int price(nact_system *sys, nact_aid cache, int i, int64_t *out, int *hitp)
{
	char key[16];
	int klen = snprintf(key, sizeof(key), "p%d", i);
	void *val;
	size_t vlen;
	int rv = nact_cache_get(sys, cache, key, (size_t)klen, &val, &vlen, TIMEOUT_MS);
	if (rv == 0) {
		nact_reader r;
		*hitp = 1;
		rv = nact_reader_init_buf(&r, val, vlen, NULL);
		if (rv == 0) {
			rv = nact_read_int(&r, out);
			nact_reader_fini(&r);
		}
		free(val);
		return rv;
	}
	if (rv != NACT_ENOENT)
		return rv;
	*hitp = 0;
	*out = db[i];
	unsigned char buf[16];
	size_t n = encode(db[i], buf);
	return nact_cache_set(sys, cache, key, (size_t)klen, buf, n, -1, TIMEOUT_MS);
}

/* Read every product through both caches and check the prices and
 * whether each read was a hit. */
static int read_all(nact_system *sys, const nact_aid *caches, const int *want_hit, const char *when)
{
	printf("%s\n", when);
	for (int c = 0; c < 2; c++) {
		printf("  service %c:", 'A' + c);
		for (int i = 0; i < NPRODUCTS; i++) {
			int64_t v;
			int hit;
			int rv = price(sys, caches[c], i, &v, &hit);
			if (rv != 0)
				return fail("read", rv);
			printf("  p%d=%lld (%s)", i, (long long)v, hit ? "hit" : "miss");
			if (v != db[i] || hit != want_hit[i]) {
				printf("\n");
				fprintf(stderr,
				    "cache_invalidation: p%d: got %lld (%s), want %lld (%s)\n", i,
				    (long long)v, hit ? "hit" : "miss", (long long)db[i],
				    want_hit[i] ? "hit" : "miss");
				return 1;
			}
		}
		printf("\n");
	}
	return 0;
}

/* Wait until both caches have handled the event. Order is FIFO per
 * sender: the event comes from the bus actor, our reads from this thread,
 * so a read could overtake it; poll each cache's delete counter (a
 * clear counts one delete per entry). */
static int settle(nact_system *sys, const nact_aid *caches, uint64_t want_deletes)
{
	for (int tries = 0; tries < 5000; tries++) {
		int done = 1;
		for (int c = 0; c < 2; c++) {
			nact_cache_stats st;
			int rv = nact_cache_stats_get(sys, caches[c], &st, TIMEOUT_MS);
			if (rv != 0)
				return fail("stats", rv);
			done &= st.deletes >= want_deletes;
		}
		if (done)
			return 0;
		nng_msleep(1);
	}
	fprintf(stderr, "cache_invalidation: the caches never saw the event\n");
	return 1;
}

int main(void)
{
	nact_system *sys;
	nact_bus *bus;
	nact_aid caches[2];
	int rv;

	if ((rv = nact_system_open(&sys, NULL)) != 0)
		return fail("open", rv);
	if ((rv = nact_bus_open(&bus, sys, NULL)) != 0)
		return fail("bus", rv);
	for (int c = 0; c < 2; c++) {
		nact_cache_config cfg;
		nact_cache_config_init(&cfg);
		cfg.max_entries = 1000;
		cfg.topic = "products.changed";
		if ((rv = nact_cache_spawn(&caches[c], sys, &cfg)) != 0)
			return fail("cache", rv);
		/* the cache handles NACT_T_EVENT: a key deletes it, nil clears */
		if ((rv = nact_bus_subscribe_call(sys, nact_bus_aid(bus), "products.changed",
		         caches[c], 0, NULL, TIMEOUT_MS)) != 0)
			return fail("subscribe", rv);
	}

	const int first[NPRODUCTS] = {0, 0, 0}, warm[NPRODUCTS] = {1, 1, 1};
	if (read_all(sys, caches, first, "first reads (caches empty):") ||
	    read_all(sys, caches, warm, "second reads (from the caches):"))
		return 1;

	/* p1's price changes: database first, then the event */
	db[1] = 199;
	if ((rv = nact_bus_publish_str(sys, nact_bus_aid(bus), "products.changed", "p1")) != 0)
		return fail("publish", rv);
	printf("price of p1 -> 199, event products.changed \"p1\"\n");
	if (settle(sys, caches, 1))
		return 1;
	const int after_one[NPRODUCTS] = {1, 0, 1};
	if (read_all(sys, caches, after_one, "after the event:"))
		return 1;

	/* every price changes: nil clears the caches */
	for (int i = 0; i < NPRODUCTS; i++)
		db[i] += 1;
	if ((rv = nact_bus_publish(sys, nact_bus_aid(bus), "products.changed", NULL, 0)) != 0)
		return fail("publish", rv);
	printf("every price +1, event products.changed nil\n");
	if (settle(sys, caches, 1 + NPRODUCTS))
		return 1;
	if (read_all(sys, caches, first, "after the clear:"))
		return 1;

	nact_bus_free(bus);
	nact_system_close(sys, TIMEOUT_MS);
	printf("ok: every read after an event saw the new price\n");
	return 0;
}
