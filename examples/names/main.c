/*
 * examples/names/main.c — remote spawn and cluster-wide names between two
 * nodes ("alpha" and "beta", two systems of this process on loopback tcp).
 *
 * beta registers the behaviour "greeter" (its state: a greeting built from
 * an argument blob); alpha spawns one on beta by name and calls it. beta
 * registers the greeter under the cluster-wide name "greeter"; alpha finds
 * it by that name; when the greeter stops, the name disappears on alpha.
 * Exits nonzero if any step gives the wrong result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nactor/node.h>

#define SECRET "example secret, 16 bytes or more"

/* args: one msgpack string, the greeting */
static int greeter_init(nact_system *sys, const void *args, size_t len, void **statep, char *err,
    size_t errlen)
{
	(void)sys;
	nact_reader r;
	const char *s;
	size_t sl;
	int rv = nact_reader_init_buf(&r, args, len, NULL);
	if (rv == 0)
		rv = nact_read_str(&r, &s, &sl);
	if (rv == 0 && (*statep = calloc(1, sl + 1)) != NULL)
		memcpy(*statep, s, sl);
	nact_reader_fini(&r);
	if (rv != 0) {
		snprintf(err, errlen, "greeter: args must be a msgpack string");
		return NACT_EBADMSG;
	}
	return *statep != NULL ? 0 : NACT_ENOMEM;
}

/* request with a string body "who": reply "<greeting>, <who>!" */
static int greeter(nact_ctx *ctx, nact_msg *m)
{
	nact_reader r;
	const char *who;
	size_t wl;
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	if (nact_reader_init(&r, m, NULL) != 0 || nact_read_str(&r, &who, &wl) != 0) {
		nact_reader_fini(&r);
		nact_reply_error(nact_sys(ctx), m, NACT_EBADMSG, "greeter: a name please");
		return 0;
	}
	char out[256];
	snprintf(out, sizeof(out), "%s, %.*s!", (const char *)nact_state(ctx), (int)wl, who);
	nact_reader_fini(&r);
	nact_msg *rep;
	if (nact_msg_alloc(&rep, nact_sys(ctx), 1) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, rep);
		nact_pack_str(&pk, out);
		if (nact_reply(nact_sys(ctx), m, rep) != 0)
			nact_msg_free(rep);
	}
	return 0;
}

static nact_system *node(const char *name, const char *seed)
{
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 1;
	cfg.log_level = NACT_LOG_ERROR;
	if (nact_system_open(&sys, &cfg) != 0)
		return NULL;
	nact_node_opts o;
	nact_node_opts_init(&o);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	o.name = name;
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = &seed;
	o.nseeds = seed != NULL ? 1 : 0;
	o.secret = SECRET;
	o.secret_len = strlen(SECRET);
	if (nact_node_start(sys, &o) != 0) {
		nact_system_close(sys, 1000);
		return NULL;
	}
	return sys;
}

/* Call a greeter; 0 if the answer is want. */
static int greet(nact_system *sys, nact_aid g, const char *who, const char *want)
{
	nact_msg *q, *r = NULL;
	if (nact_msg_alloc(&q, sys, 1) != 0)
		return -1;
	nact_pack pk;
	nact_pack_init(&pk, q);
	nact_pack_str(&pk, who);
	int rv = nact_call(sys, g, q, 5000, &r);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(q);
		printf("call: %s\n", nact_strerror(rv));
		return -1;
	}
	nact_reader rd;
	const char *s = "";
	size_t sl = 0;
	nact_reader_init(&rd, r, NULL);
	nact_read_str(&rd, &s, &sl);
	printf("alpha got: \"%.*s\"\n", (int)sl, s);
	rv = sl == strlen(want) && memcmp(s, want, sl) == 0 ? 0 : -1;
	nact_reader_fini(&rd);
	nact_msg_free(r);
	return rv;
}

int main(void)
{
	int bad = 0;
	nact_system *beta = node("beta", NULL), *alpha = NULL;
	if (beta == NULL)
		return 1;
	nact_behaviour_def d = {.fn = greeter, .init = greeter_init, .fini = free};
	if (nact_behaviour_register(beta, "greeter", &d) != 0)
		bad++;
	char url[256];
	nact_node_url(beta, url, sizeof(url));
	alpha = node("alpha", url);
	uint16_t b = 0;
	if (alpha == NULL || nact_node_peer(alpha, "beta", &b, 10000) != 0) {
		printf("alpha could not reach beta\n");
		bad++;
		goto out;
	}
	/* remote spawn by name, state from the argument blob */
	const char args[] = "\xa5Hello"; /* msgpack "Hello" */
	nact_aid g;
	char why[128];
	int rv = nact_node_spawn(alpha, b, "greeter", args, 6, &g, 5000, why, sizeof(why));
	printf("spawn greeter on beta: %s\n", rv == 0 ? "ok" : why);
	if (rv != 0 || greet(alpha, g, "world", "Hello, world!") != 0)
		bad++;
	rv = nact_node_spawn(alpha, b, "greeter", "\x07", 1, &g, 5000, why, sizeof(why));
	printf("spawn with bad args: %s (%s)\n", nact_strerror(rv), why);
	if (rv != NACT_EBADMSG)
		bad++;
	rv = nact_node_spawn(alpha, b, "nobody", NULL, 0, &g, 5000, why, sizeof(why));
	printf("spawn unknown behaviour: %s (%s)\n", nact_strerror(rv), why);
	if (rv != NACT_ENOENT)
		bad++;

	/* a cluster-wide name registered on beta, found from alpha */
	nact_aid local;
	const char hi[] = "\xa3Hi!";
	if (nact_node_spawn(beta, 0, "greeter", hi, 4, &local, 5000, NULL, 0) != 0 ||
	    nact_global_register(beta, "greeter", local) != 0)
		bad++;
	nact_aid found;
	rv = nact_global_whereis(alpha, "greeter", &found, 5000);
	printf("alpha: whereis \"greeter\": %s (node %u)\n", nact_strerror(rv),
	    rv == 0 ? nact_aid_node(found) : 0);
	if (rv != 0 || greet(alpha, found, "alpha", "Hi!, alpha!") != 0)
		bad++;
	/* the actor ends: the name goes everywhere */
	nact_stop(beta, local);
	rv = NACT_ETIMEDOUT;
	for (int i = 0; i < 500 && rv != NACT_ENOENT; i++) {
		rv = nact_global_whereis(alpha, "greeter", &found, 0);
		if (rv == 0)
			nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	printf("after the greeter stopped, alpha: whereis \"greeter\": %s\n", nact_strerror(rv));
	if (rv != NACT_ENOENT)
		bad++;
out:
	if (alpha != NULL) {
		nact_node_stop(alpha);
		nact_system_close(alpha, 2000);
	}
	nact_node_stop(beta);
	nact_system_close(beta, 2000);
	printf("%s\n", bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
