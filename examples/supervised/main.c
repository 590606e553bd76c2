/*
 * examples/supervised — a supervision tree: an ingest pipeline whose parser
 * stage crashes on bad input and is restarted while the rest keeps going.
 *
 *   "ingest"  root supervisor, one-for-one, at most 5 restarts in 10 s,
 *   │         restart delay 10 ms doubling up to 200 ms
 *   ├── sink    "sink"    adds up the records it is sent
 *   ├── parser  "parser"  "name=value" -> a record for the sink; a malformed
 *   │                     line makes it exit with an error (nact_exit_msg)
 *   └── source  "source"  feeds the lines to the parser one at a time
 *                         (nact_request), watches it (nact_monitor), and
 *                         drops a line that brought the parser down
 *
 * main sends ten lines (three malformed) to the source, waits until it has
 * dealt with all of them, asks the sink for its totals and the supervisor
 * for its children (nact_sup_children), and exits 0 only if the sink got
 * exactly the good lines, the three bad ones were dropped, and the parser
 * alone was restarted, three times. Every body is msgpack, written with
 * nact_pack_* and read in place with nact_reader.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/nactor.h>
#include <nng/supplemental/util/platform.h> /* nng_msleep */

enum { T_LINE = 1, T_REC, T_GET, T_STATUS, T_RETRY, T_OK };

static const char *const lines[] = {"temp=21", "temp=22", "oops", "hum=40", "=5", "pres=1013",
    "temp=23", "hum=forty", "temp=24", "hum=41"};
#define NLINES (int)(sizeof(lines) / sizeof(lines[0]))
#define NBAD 3

static void check(const char *what, int rv)
{
	if (rv != 0) {
		fprintf(stderr, "supervised: %s: %s\n", what, nact_strerror(rv));
		exit(1);
	}
}

/* ---- sink: adds up records [name, value]; answers GET with [count, sum] */

struct sink {
	int64_t count, sum;
};

static int sink_fn(nact_ctx *ctx, nact_msg *m)
{
	struct sink *s = nact_state(ctx);
	nact_reader r;
	uint32_t n;
	const char *name;
	size_t nl;
	int64_t v;

	if (nact_msg_type(m) == T_REC) {
		check("sink: reader", nact_reader_init(&r, m, NULL));
		if (nact_read_array(&r, &n) == 0 && nact_read_str(&r, &name, &nl) == 0 &&
		    nact_read_int(&r, &v) == 0) {
			s->count++;
			s->sum += v;
		}
		nact_reader_fini(&r);
	} else if (nact_msg_type(m) == T_GET && (nact_msg_flags(m) & NACT_MF_REQUEST)) {
		nact_msg *rep;
		nact_pack pk;
		check("sink: alloc", nact_msg_alloc(&rep, nact_sys(ctx), T_OK));
		nact_pack_init(&pk, rep);
		nact_pack_array(&pk, 2);
		nact_pack_int(&pk, s->count);
		nact_pack_int(&pk, s->sum);
		if (nact_reply(nact_sys(ctx), m, rep) != 0)
			nact_msg_free(rep);
	}
	return 0;
}

/* ---- parser: a LINE request "name=value" -> REC to the sink, then OK --- */

static int parse(const char *s, size_t n, char *name, size_t namelen, int64_t *v)
{
	const char *eq = memchr(s, '=', n);
	if (eq == NULL || eq == s || (size_t)(eq - s) >= namelen || eq + 1 == s + n)
		return -1;
	memcpy(name, s, (size_t)(eq - s));
	name[eq - s] = '\0';
	int64_t x = 0;
	for (const char *p = eq + 1; p < s + n; p++) {
		if (*p < '0' || *p > '9' || x > 100000000)
			return -1;
		x = x * 10 + (*p - '0');
	}
	*v = x;
	return 0;
}

static int parser_fn(nact_ctx *ctx, nact_msg *m)
{
	nact_system *sys = nact_sys(ctx);
	nact_reader r;
	const char *s = NULL;
	size_t n = 0;
	char name[32], why[96];
	int64_t v;

	if (nact_msg_type(m) != T_LINE)
		return 0;
	if (nact_reader_init(&r, m, NULL) == 0) {
		if (nact_read_str(&r, &s, &n) != 0)
			s = NULL;
		nact_reader_fini(&r);
	}
	if (s == NULL || parse(s, n, name, sizeof(name), &v) != 0) {
		/* the "crash": end with an error and a text; the supervisor
		 * restarts us, the source hears of it through its monitor */
		snprintf(why, sizeof(why), "bad line \"%.*s\"", (int)n, s ? s : "");
		nact_exit_msg(ctx, NACT_EMALFORMED, why);
		return 0;
	}
	nact_msg *rec, *ok;
	nact_pack pk;
	check("parser: alloc", nact_msg_alloc(&rec, sys, T_REC));
	nact_pack_init(&pk, rec);
	nact_pack_array(&pk, 2);
	nact_pack_str(&pk, name);
	nact_pack_int(&pk, v);
	if (nact_send(sys, nact_whereis(sys, "sink"), rec) != 0)
		nact_msg_free(rec);
	check("parser: alloc", nact_msg_alloc(&ok, sys, T_OK));
	if (nact_reply(sys, m, ok) != 0)
		nact_msg_free(ok);
	return 0;
}

/* ---- source: feeds the parser one line at a time ----------------------- */

struct source {
	char *line[NLINES]; /* received, not yet dealt with */
	int nlines;         /* received */
	int next;           /* next line to send */
	int inflight;       /* line at the parser, -1 if none */
	uint64_t seq;       /* of the request in flight */
	nact_aid parser;    /* the parser we watch */
	int accepted, dropped;
	int retry_armed; /* a T_RETRY is pending */
};

static void source_fini(void *arg)
{
	struct source *s = arg;
	for (int i = 0; i < NLINES; i++)
		free(s->line[i]);
	free(s);
}

static void pump(nact_ctx *ctx, struct source *s);

static void on_reply(nact_ctx *ctx, nact_msg *reply, int err, void *arg)
{
	struct source *s = nact_state(ctx);
	if ((uint64_t)(uintptr_t)arg != s->seq || s->inflight < 0)
		return; /* a line already dealt with (its parser went down) */
	if (err == 0) {
		printf("source:  \"%s\" -> parsed\n", s->line[s->inflight]);
		s->accepted++;
	} else {
		printf("source:  \"%s\" -> no answer (%s): dropped\n", s->line[s->inflight],
		    nact_strerror(err));
		s->dropped++;
	}
	s->inflight = -1;
	s->next++;
	pump(ctx, s);
}

/* Send the next line, if there is one and nothing is in flight. */
static void pump(nact_ctx *ctx, struct source *s)
{
	nact_system *sys = nact_sys(ctx);
	if (s->inflight >= 0 || s->next >= s->nlines)
		return;
	nact_aid p = nact_whereis(sys, "parser");
	if (p.v == 0) {
		/* the parser is down, its restart is pending: look again soon */
		nact_msg *t;
		if (!s->retry_armed && nact_msg_alloc(&t, sys, T_RETRY) == 0) {
			if (nact_send_after(sys, nact_self(ctx), t, 5, NULL) == 0)
				s->retry_armed = 1;
			else
				nact_msg_free(t);
		}
		return;
	}
	if (p.v != s->parser.v) {
		s->parser = p;
		check("source: monitor", nact_monitor(ctx, p, NULL));
	}
	nact_msg *m;
	nact_pack pk;
	check("source: alloc", nact_msg_alloc(&m, sys, T_LINE));
	nact_pack_init(&pk, m);
	nact_pack_str(&pk, s->line[s->next]);
	s->seq++;
	s->inflight = s->next;
	if (nact_request(ctx, p, m, 5000, on_reply, (void *)(uintptr_t)s->seq) != 0) {
		nact_msg_free(m);
		s->inflight = -1;
	}
}

static int source_fn(nact_ctx *ctx, nact_msg *m)
{
	struct source *s = nact_state(ctx);
	nact_reader r;
	const char *str;
	size_t n;
	nact_exit_info ei;

	switch (nact_msg_type(m)) {
	case T_LINE:
		if (s->nlines < NLINES && nact_reader_init(&r, m, NULL) == 0) {
			if (nact_read_str(&r, &str, &n) == 0)
				s->line[s->nlines++] = strndup(str, n);
			nact_reader_fini(&r);
		}
		break;
	case T_RETRY:
		s->retry_armed = 0;
		break;
	case NACT_T_DOWN:
		/* the parser we watch ended: the line in flight brought it down */
		if (nact_exit_info_read(m, &ei) == 0 && ei.id.v == s->parser.v) {
			s->parser = NACT_AID_NONE;
			if (s->inflight >= 0) {
				printf("source:  \"%s\" brought the parser down (%s): dropped\n",
				    s->line[s->inflight], ei.text);
				s->dropped++;
				s->inflight = -1;
				s->next++;
			}
		}
		break;
	case T_STATUS:
		if (nact_msg_flags(m) & NACT_MF_REQUEST) {
			nact_msg *rep;
			nact_pack pk;
			check("source: alloc", nact_msg_alloc(&rep, nact_sys(ctx), T_OK));
			nact_pack_init(&pk, rep);
			nact_pack_array(&pk, 3);
			nact_pack_int(&pk, s->next);
			nact_pack_int(&pk, s->accepted);
			nact_pack_int(&pk, s->dropped);
			if (nact_reply(nact_sys(ctx), m, rep) != 0)
				nact_msg_free(rep);
		}
		break;
	default:
		break;
	}
	pump(ctx, s);
	return 0;
}

/* ---- start functions: each spawns one stage; they run in the
 * supervisor's handler, at the first start and at every restart --------- */

static int start_sink(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	struct sink *s = calloc(1, sizeof(*s));
	nact_spawn_opts o = {.name = "sink"};
	if (s == NULL)
		return NACT_ENOMEM;
	int rv = nact_spawn(idp, sys, sink_fn, s, free, &o);
	if (rv != 0)
		free(s);
	return rv;
}

static int start_parser(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	atomic_int *starts = arg; /* read by main too */
	nact_spawn_opts o = {.name = "parser"};
	int rv = nact_spawn(idp, sys, parser_fn, NULL, NULL, &o);
	int k = rv == 0 ? atomic_fetch_add(starts, 1) : 0;
	if (k > 0)
		printf("ingest:  parser restarted (%d)\n", k);
	return rv;
}

static int start_source(nact_aid *idp, nact_system *sys, void *arg, void *extra)
{
	struct source *s = calloc(1, sizeof(*s));
	nact_spawn_opts o = {.name = "source"};
	if (s == NULL)
		return NACT_ENOMEM;
	s->inflight = -1;
	int rv = nact_spawn(idp, sys, source_fn, s, source_fini, &o);
	if (rv != 0)
		free(s);
	return rv;
}

/* ---- main ---------------------------------------------------------------- */

/* nact_call `name` with an empty message of `type`; read up to 3 ints. */
static int ask(nact_system *sys, const char *name, uint32_t type, int64_t *out, uint32_t nout)
{
	nact_msg *m, *rep;
	nact_reader r;
	uint32_t n;
	check("alloc", nact_msg_alloc(&m, sys, type));
	int rv = nact_call(sys, nact_whereis(sys, name), m, 2000, &rep);
	if (rv != 0) {
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		return rv;
	}
	rv = nact_reader_init(&r, rep, NULL);
	if (rv == 0)
		rv = nact_read_array(&r, &n);
	for (uint32_t i = 0; rv == 0 && i < nout; i++)
		rv = nact_read_int(&r, &out[i]);
	nact_reader_fini(&r);
	nact_msg_free(rep);
	return rv;
}

int main(void)
{
	nact_system *sys;
	nact_aid root;
	atomic_int parser_starts = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	check("nact_system_open", nact_system_open(&sys, NULL));
	nact_child_spec children[] = {
	    {.id = "sink", .start = start_sink, .restart = NACT_PERMANENT},
	    {.id = "parser",
	        .start = start_parser,
	        .arg = &parser_starts,
	        .restart = NACT_PERMANENT},
	    {.id = "source", .start = start_source, .restart = NACT_PERMANENT},
	};
	nact_sup_spec spec = {
	    .name = "ingest",
	    .strategy = NACT_ONE_FOR_ONE,
	    .intensity = 5,
	    .period_ms = 10000,
	    .backoff_min_ms = 10,
	    .backoff_max_ms = 200,
	    .children = children,
	    .nchildren = 3,
	};
	check("nact_sup_start", nact_sup_start(&root, sys, &spec));
	printf("main:    started \"ingest\": sink, parser, source\n");

	int64_t want_count = 0, want_sum = 0;
	for (int i = 0; i < NLINES; i++) {
		nact_msg *m;
		nact_pack pk;
		char name[32];
		int64_t v;
		if (parse(lines[i], strlen(lines[i]), name, sizeof(name), &v) == 0) {
			want_count++;
			want_sum += v;
		}
		check("alloc", nact_msg_alloc(&m, sys, T_LINE));
		nact_pack_init(&pk, m);
		nact_pack_str(&pk, lines[i]);
		check("send", nact_send(sys, nact_whereis(sys, "source"), m));
	}
	printf("main:    sent %d lines to the source\n", NLINES);

	/* wait (bounded) until the source has dealt with every line */
	int64_t st[3] = {0, 0, 0};
	for (int i = 0; i < 1000 && st[0] < NLINES; i++) {
		if (ask(sys, "source", T_STATUS, st, 3) != 0 || st[0] < NLINES)
			nng_msleep(10);
	}
	int64_t tot[2] = {-1, -1};
	check("ask sink", ask(sys, "sink", T_GET, tot, 2));
	printf("main:    source: %lld lines, %lld parsed, %lld dropped\n", (long long)st[0],
	    (long long)st[1], (long long)st[2]);
	printf("main:    sink: %lld records, sum %lld (want %lld, %lld)\n", (long long)tot[0],
	    (long long)tot[1], (long long)want_count, (long long)want_sum);

	nact_child_info ci[3];
	uint32_t n = 0;
	check("nact_sup_children", nact_sup_children(sys, root, ci, 3, &n, 2000));
	int restarts_ok = n == 3;
	for (uint32_t i = 0; i < n; i++) {
		char why[64];
		printf("ingest:  %-6s %s, %u restart(s), last exit: %s\n", ci[i].id,
		    ci[i].running ? "running" : "down", ci[i].restarts,
		    ci[i].restarts ? nact_exit_format(ci[i].last_reason, why, sizeof(why)) : "-");
		unsigned want = strcmp(ci[i].id, "parser") == 0 ? NBAD : 0;
		restarts_ok = restarts_ok && ci[i].running && ci[i].restarts == want;
	}
	int ok = st[0] == NLINES && st[1] == NLINES - NBAD && st[2] == NBAD &&
	    tot[0] == want_count && tot[1] == want_sum && restarts_ok &&
	    atomic_load(&parser_starts) == NBAD + 1;
	nact_system_close(sys, 2000); /* stops the tree (in reverse order) and frees all */
	printf("main:    %s\n", ok ? "OK" : "WRONG RESULT");
	return ok ? 0 : 1;
}
