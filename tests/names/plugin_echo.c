/*
 * tests/names/plugin_echo.c — an example behaviour library for nactor-node
 * (built as a MODULE: plugin_echo.so). It registers one behaviour:
 *
 *   "plugin.echo"  args: one msgpack string, the prefix. A request whose
 *                  body is a string s is answered with "prefix:s".
 *
 * Load it with `nactor-node --load ./plugin_echo.so ...`; any node can then
 * spawn it there with nact_node_spawn(sys, node, "plugin.echo", ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/node.h>

static int pecho_init(nact_system *sys, const void *args, size_t len, void **statep, char *err,
    size_t errlen)
{
	(void)sys;
	nact_reader r;
	const char *s;
	size_t sl;
	int rv = nact_reader_init_buf(&r, args, len, NULL);
	if (rv == 0)
		rv = nact_read_str(&r, &s, &sl);
	if (rv == 0 && !nact_read_done(&r))
		rv = NACT_EBADMSG;
	if (rv == 0 && (*statep = calloc(1, sl + 1)) == NULL)
		rv = NACT_ENOMEM;
	if (rv == 0)
		memcpy(*statep, s, sl);
	nact_reader_fini(&r);
	if (rv != 0 && rv != NACT_ENOMEM) {
		snprintf(err, errlen, "plugin.echo: args must be one msgpack string");
		return NACT_EBADMSG;
	}
	return rv;
}

static int pecho_fn(nact_ctx *ctx, nact_msg *m)
{
	if (!(nact_msg_flags(m) & NACT_MF_REQUEST))
		return 0;
	nact_system *sys = nact_sys(ctx);
	nact_reader r;
	const char *s;
	size_t sl;
	if (nact_reader_init(&r, m, NULL) != 0 || nact_read_str(&r, &s, &sl) != 0) {
		nact_reader_fini(&r);
		nact_reply_error(sys, m, NACT_EBADMSG, "plugin.echo: a string please");
		return 0;
	}
	char out[512];
	snprintf(out, sizeof(out), "%s:%.*s", (const char *)nact_state(ctx), (int)sl, s);
	nact_reader_fini(&r);
	nact_msg *rep;
	if (nact_msg_alloc(&rep, sys, nact_msg_type(m)) == 0) {
		nact_pack pk;
		nact_pack_init(&pk, rep);
		nact_pack_str(&pk, out);
		if (nact_reply(sys, m, rep) != 0)
			nact_msg_free(rep);
	}
	return 0;
}

/* The entry point nactor-node looks up after dlopen. */
__attribute__((visibility("default"))) int nactor_plugin_init(nact_system *sys)
{
	nact_behaviour_def d = {0};
	d.fn = pecho_fn;
	d.init = pecho_init;
	d.fini = free;
	return nact_behaviour_register(sys, "plugin.echo", &d);
}
