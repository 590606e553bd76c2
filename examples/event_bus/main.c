/*
 * examples/event_bus — an order flow on the event bus.
 *
 *   main ── publish orders.<region>.created [id, amount] ──► "shop" bus
 *   shop bus listeners:
 *     inventory  actor      "orders.*.created"  counts orders per event
 *     big        actor      "orders.>", filter amount >= 100, map to the
 *                           amount alone (a filter and a map stage)
 *     fraud      callback   "orders.eu.*"  fails (nonzero) on amounts over
 *                           500: reported on "$bus.error", delivery goes on
 *     alerts     actor      "$bus.error"   receives those reports
 *     pipe       to the "analytics" bus, "orders.us.>" only
 *   analytics bus listener:
 *     us_total   callback   ">"  adds up the US amounts
 *
 * Then inventory stops, and the bus drops its subscription by itself (it
 * monitors its actor listeners): the count for orders.eu.created goes
 * from 3 to 2.
 *
 * Exits 0 only if every listener saw exactly what its pattern, filter and
 * map call for.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <nactor/bus.h>
#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h>

struct counter {
	atomic_long n, sum;
};

/* [id, amount] -> amount, or the payload itself if it is one int. */
static int64_t amount_of(const void *p, size_t pl)
{
	nact_reader r;
	uint32_t n;
	int64_t id = 0, amount = -1;
	if (nact_reader_init_buf(&r, p, pl, NULL) != 0)
		return -1;
	if (nact_read_array(&r, &n) == 0) {
		if (n != 2 || nact_read_int(&r, &id) != 0 || nact_read_int(&r, &amount) != 0)
			amount = -1;
	} else if (nact_read_int(&r, &amount) != 0) {
		amount = -1;
	}
	nact_reader_fini(&r);
	return amount;
}

static int counting_actor(nact_ctx *ctx, nact_msg *m)
{
	struct counter *c = nact_state(ctx);
	const void *p;
	size_t pl;
	if (nact_event_read(m, NULL, NULL, &p, &pl) != 0)
		return 0;
	atomic_fetch_add(&c->sum, amount_of(p, pl));
	atomic_fetch_add(&c->n, 1);
	return 0;
}

static int big_only(const char *t, size_t tl, const void *p, size_t pl, void *arg)
{
	return amount_of(p, pl) >= 100;
}

static int amount_only(const char *t, size_t tl, const void *p, size_t pl, nact_pack *out,
    void *arg)
{
	nact_pack_int(out, amount_of(p, pl));
	return 0;
}

static int fraud_check(nact_ctx *ctx, const char *t, size_t tl, const void *p, size_t pl, void *arg)
{
	struct counter *c = arg;
	atomic_fetch_add(&c->n, 1);
	return amount_of(p, pl) > 500 ? NACT_ELIMITED : 0; /* a handler failure */
}

static int add_up(nact_ctx *ctx, const char *t, size_t tl, const void *p, size_t pl, void *arg)
{
	struct counter *c = arg;
	atomic_fetch_add(&c->sum, amount_of(p, pl));
	atomic_fetch_add(&c->n, 1);
	return 0;
}

static int wait_for(atomic_long *v, long want)
{
	for (int i = 0; i < 10000 && atomic_load(v) != want; i++)
		nng_msleep(1);
	return atomic_load(v) == want;
}

int main(void)
{
	nact_system *sys;
	nact_bus *shop, *analytics;
	int ok = 1;
	if (nact_system_open(&sys, NULL) != 0 || nact_bus_open(&shop, sys, NULL) != 0 ||
	    nact_bus_open(&analytics, sys, NULL) != 0)
		return 1;
	static struct counter inventory, big, fraud, alerts, us_total;
	nact_aid inv_a, big_a, alerts_a;
	if (nact_spawn(&inv_a, sys, counting_actor, &inventory, NULL, NULL) != 0 ||
	    nact_spawn(&big_a, sys, counting_actor, &big, NULL, NULL) != 0 ||
	    nact_spawn(&alerts_a, sys, counting_actor, &alerts, NULL, NULL) != 0)
		return 1;

	nact_bus_sub bigsub = {.pattern = "orders.>",
	    .actor = big_a,
	    .filter = big_only,
	    .map = amount_only};
	if (nact_bus_on_actor(shop, "orders.*.created", inv_a, NULL) != 0 ||
	    nact_bus_on(shop, &bigsub, NULL) != 0 ||
	    nact_bus_on_fn(shop, "orders.eu.*", fraud_check, &fraud, NULL) != 0 ||
	    nact_bus_on_actor(shop, NACT_BUS_ERROR_TOPIC, alerts_a, NULL) != 0 ||
	    nact_bus_pipe(shop, nact_bus_aid(analytics), "orders.us.>", NULL) != 0 ||
	    nact_bus_on_fn(analytics, ">", add_up, &us_total, NULL) != 0)
		return 1;

	static const struct {
		const char *topic;
		int64_t amount;
	} orders[] = {
	    {"orders.eu.created", 40},
	    {"orders.us.created", 120},
	    {"orders.eu.created", 900},
	    {"orders.us.created", 75},
	    {"orders.asia.created", 300},
	    {"orders.eu.cancelled", 40},
	    {"orders.us.refund.partial", 10},
	};
	nact_aid bus = nact_bus_aid(shop);
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		nact_msg *m;
		nact_pack pk;
		if (nact_bus_msg(&m, sys, orders[i].topic, &pk) != 0)
			return 1;
		nact_pack_array(&pk, 2);
		nact_pack_int(&pk, (int64_t)i);
		nact_pack_int(&pk, orders[i].amount);
		if (nact_pack_error(&pk) != 0 || nact_send(sys, bus, m) != 0)
			return 1;
	}
	/* inventory: the 5 *.created; big: 120, 900, 300; fraud: the 3 eu
	 * events, one failing (900); us_total: 120 + 75 + 10 */
	ok &= wait_for(&inventory.n, 5) && wait_for(&big.n, 3) && wait_for(&fraud.n, 3) &&
	    wait_for(&alerts.n, 1) && wait_for(&us_total.n, 3);
	ok &= atomic_load(&big.sum) == 1320 && atomic_load(&us_total.sum) == 205 &&
	    atomic_load(&inventory.sum) == 40 + 120 + 900 + 75 + 300;
	printf("inventory %ld events, big orders %ld (sum %ld), fraud checks %ld, alerts %ld, "
	       "US total %ld over %ld events\n",
	    atomic_load(&inventory.n), atomic_load(&big.n), atomic_load(&big.sum),
	    atomic_load(&fraud.n), atomic_load(&alerts.n), atomic_load(&us_total.sum),
	    atomic_load(&us_total.n));

	uint64_t before = 0, after = 0;
	nact_bus_count(sys, bus, "orders.eu.created", &before, 5000);
	nact_stop(sys, inv_a);
	for (int i = 0; i < 5000; i++) {
		if (nact_bus_count(sys, bus, "orders.eu.created", &after, 5000) == 0 && after == 2)
			break;
		nng_msleep(1);
	}
	printf("listeners for orders.eu.created: %llu, after inventory stopped: %llu\n",
	    (unsigned long long)before, (unsigned long long)after);
	ok &= before == 3 && after == 2;

	nact_bus_stats st = {0};
	if (nact_bus_stats_get(sys, bus, &st, 5000) == 0)
		printf("shop bus: %llu published, %llu delivered, %llu event errors\n",
		    (unsigned long long)st.published, (unsigned long long)st.delivered,
		    (unsigned long long)st.errors);
	ok &= st.errors == 1;
	nact_system_close(sys, 5000);
	nact_bus_free(shop);
	nact_bus_free(analytics);
	printf("%s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
