/*
 * tests/logger/test_logger.c — the log actor (include/nactor/logger.h).
 *
 * Contract checked:
 * - every line written is one valid JSON object (checked by a small
 *   strict JSON parser below) with time, level, actor, name, msg and the
 *   extra fields; quotes, backslashes, control characters, UTF-8 and
 *   invalid UTF-8 in strings come out as valid JSON; lines above the
 *   configured level are not written.
 * - rotation: no file passes max_bytes; path.1 .. path.N exist and nothing
 *   beyond; the newest lines are in path.
 * - a flood against a small queue while the writer cannot run (one worker,
 *   flooding from a handler) drops lines without blocking, counts them
 *   exactly, and the log says how many were dropped.
 * - bad paths give NACT_ESYSERR + errno (missing directory, a directory)
 *   and NACT_EINVAL; bad messages to the writer get NACT_EBADMSG (requests)
 *   or are counted (casts), and the writer keeps writing.
 * - as the system log sink, nact_log lines reach the file.
 */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nactor/logger.h>

#include "testutil.h"

#define TMO 5000

/* ---- a strict little JSON checker ---- */

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *js_value(const char *p, int depth);

static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c == '\0' || c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || p[i] == '\0')
						return NULL;
				p += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", *p) || *p == '\0')
				return NULL;
		}
		p++;
	}
	return p + 1;
}

static const char *js_number(const char *p)
{
	const char *s = p;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p > s ? p : NULL;
}

static const char *js_value(const char *p, int depth)
{
	p = js_ws(p);
	if (depth > 20)
		return NULL;
	if (*p == '"')
		return js_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		int obj = *p == '{';
		p = js_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				if ((p = js_string(js_ws(p))) == NULL)
					return NULL;
				p = js_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if ((p = js_value(p, depth + 1)) == NULL)
				return NULL;
			p = js_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (!strncmp(p, "null", 4))
		return p + 4;
	return js_number(p);
}

/* 1 if line (no newline) is exactly one JSON object. */
static int json_object_ok(const char *line)
{
	if (*js_ws(line) != '{')
		return 0;
	const char *e = js_value(line, 0);
	return e != NULL && *js_ws(e) == '\0';
}

/* ---- helpers ---- */

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/nact-logger-XXXXXX");
	if (mkdtemp(dir) == NULL)
		nt_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
}

static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  (could not remove %s)\n", dir);
}

/* Read a whole file into a malloc'd NUL-terminated string (NULL if none). */
static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	size_t k;
	while (b != NULL && (k = fread(b + len, 1, cap - len - 1, f)) > 0) {
		len += k;
		if (cap - len < 2) {
			char *nb = realloc(b, cap * 2);
			if (nb == NULL) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (b != NULL)
		b[len] = '\0';
	if (lenp)
		*lenp = len;
	return b;
}

/* Count lines of a file, checking each is a JSON object; -1 if not. */
static int check_lines(const char *path, int *bad)
{
	char *b = slurp(path, NULL);
	if (b == NULL)
		return -1;
	int n = 0;
	char *save = NULL;
	for (char *l = strtok_r(b, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		n++;
		if (!json_object_ok(l)) {
			fprintf(stderr, "  not JSON: %s\n", l);
			(*bad)++;
		}
	}
	free(b);
	return n;
}

static int open_logger(nact_logger **lp, nact_system *sys, const char *name, uint64_t max_bytes,
    uint32_t max_files, uint32_t queue, int level)
{
	char path[128];
	nact_logger_config cfg;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	nact_logger_config_init(&cfg);
	cfg.path = path;
	cfg.max_bytes = max_bytes;
	cfg.max_files = max_files;
	cfg.queue = queue;
	cfg.level = level;
	return nact_logger_open(lp, sys, &cfg);
}

/* ---- tests ---- */

static void test_json_lines(void)
{
	nact_system *sys;
	nact_logger *l;
	mkdir_tmp();
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(open_logger(&l, sys, "app.log", 0, 0, 0, NACT_LOG_INFO));
	nact_log_field f[] = {NACT_LF_S("path", "/a\"b\\c"), NACT_LF_I("ms", -1500),
	    NACT_LF_D("ratio", 0.25), NACT_LF_B("ok", 1), NACT_LF_D("nan", NAN),
	    NACT_LF_S("nil", NULL), NACT_LF_S("bytes", "caf\xc3\xa9 \xff\xfe bad \xe2\x82")};
	nact_aid who = {0x1000002};
	CHECK_RV(nact_logger_log(l, NACT_LOG_WARN, who, "web", "slow request", f, 7));
	CHECK_RV(nact_logger_log(l, NACT_LOG_ERROR, NACT_AID_NONE, NULL,
	    "tabs\tnewline\ncr\rbell\x07 quote\" back\\ del\x7f", NULL, 0));
	CHECK_RV(nact_logger_logf(l, NACT_LOG_INFO, NULL, "n=%d", 42));
	CHECK_RV(nact_logger_log(l, NACT_LOG_DEBUG, who, NULL, "filtered out", NULL, 0));
	CHECK_ERR(nact_logger_log(l, 9, who, NULL, "bad level", NULL, 0), NACT_EINVAL);
	CHECK_ERR(nact_logger_log(l, NACT_LOG_INFO, who, NULL, NULL, NULL, 0), NACT_EINVAL);
	CHECK_RV(nact_logger_flush(l, TMO));

	char path[128];
	snprintf(path, sizeof(path), "%s/app.log", dir);
	int bad = 0;
	CHECK_EQ_INT(check_lines(path, &bad), 3);
	CHECK_EQ_INT(bad, 0);
	char *b = slurp(path, NULL);
	REQUIRE(b != NULL);
	CHECK(strstr(b,
	          "\"level\":\"warn\",\"actor\":\"0x1000002\",\"name\":\"web\","
	          "\"msg\":\"slow request\",\"path\":\"/a\\\"b\\\\c\",\"ms\":-1500,"
	          "\"ratio\":0.25,\"ok\":true,\"nan\":null,\"nil\":null,"
	          "\"bytes\":\"caf\xc3\xa9 \\ufffd\\ufffd bad \\ufffd\\ufffd\"}\n") != NULL);
	CHECK(strstr(b,
	          "\"level\":\"error\",\"msg\":\"tabs\\tnewline\\ncr\\rbell\\u0007 quote\\\" "
	          "back\\\\ del\\u007f\"}\n") != NULL);
	CHECK(strstr(b, "\"level\":\"info\",\"msg\":\"n=42\"}") != NULL);
	CHECK(strstr(b, "filtered out") == NULL);
	CHECK(strncmp(b, "{\"time\":\"20", 11) == 0 && b[35] == 'Z'); /* ...T..:..:...uuuuuuZ */
	free(b);
	nact_logger_stats st;
	nact_logger_stats_get(l, &st);
	CHECK_EQ_U64(st.written, 3);
	CHECK_EQ_U64(st.dropped, 0);
	nact_logger_close(l, TMO);
	nact_system_close(sys, TMO);
	rm_tmp();
}

static void test_rotation(void)
{
	nact_system *sys;
	nact_logger *l;
	mkdir_tmp();
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(open_logger(&l, sys, "r.log", 1000, 3, 0, NACT_LOG_INFO));
	for (int i = 0; i < 200; i++) {
		nact_log_field f = NACT_LF_I("seq", i);
		CHECK_RV(nact_logger_log(l, NACT_LOG_INFO, NACT_AID_NONE, NULL,
		    "a line of some length to fill the files", &f, 1));
		if (i % 50 == 49) /* some batches, some single lines */
			CHECK_RV(nact_logger_flush(l, TMO));
	}
	CHECK_RV(nact_logger_flush(l, TMO));
	const char *names[] = {"r.log", "r.log.1", "r.log.2", "r.log.3", "r.log.4"};
	int total = 0, bad = 0;
	for (int i = 0; i < 5; i++) {
		char path[128];
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (i == 4) {
			CHECK(stat(path, &sb) != 0); /* only 3 rotated files kept */
			continue;
		}
		REQUIRE(stat(path, &sb) == 0);
		CHECK(sb.st_size <= 1000);
		if (i > 0) /* rotated files are full: ~100-byte lines */
			CHECK(sb.st_size > 800);
		int n = check_lines(path, &bad);
		CHECK(n > 0);
		total += n;
	}
	CHECK_EQ_INT(bad, 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/r.log", dir);
	char *b = slurp(path, NULL);
	REQUIRE(b != NULL);
	CHECK(strstr(b, "\"seq\":199}\n") != NULL);
	free(b);
	nact_logger_stats st;
	nact_logger_stats_get(l, &st);
	CHECK_EQ_U64(st.written, 200);
	CHECK(st.rotations >= 10); /* 200 lines of ~100 bytes in 1000-byte files */
	CHECK_EQ_U64(st.write_errors, 0);
	nact_logger_close(l, TMO);
	nact_system_close(sys, TMO);
	rm_tmp();
}

/* The flood runs inside a handler on the only worker, so the writer cannot
 * drain its queue meanwhile: drops are certain and counted exactly. */
typedef struct flood_st {
	nact_logger *l;
	long n;
	atomic_long ok, full, other;
	atomic_int done;
} flood_st;

static int flood_fn(nact_ctx *ctx, nact_msg *m)
{
	flood_st *s = nact_state(ctx);
	(void)m;
	for (long i = 0; i < s->n; i++) {
		int rv = nact_logger_logf(s->l, NACT_LOG_INFO, ctx, "flood %ld", i);
		if (rv == 0)
			atomic_fetch_add(&s->ok, 1);
		else if (rv == NACT_EFULL)
			atomic_fetch_add(&s->full, 1);
		else
			atomic_fetch_add(&s->other, 1);
	}
	atomic_store(&s->done, 1);
	return 0;
}

static void test_drops(void)
{
	nact_system *sys;
	nact_logger *l;
	static flood_st fs;
	mkdir_tmp();
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(open_logger(&l, sys, "d.log", 0, 0, 64, NACT_LOG_INFO));
	memset(&fs, 0, sizeof(fs));
	fs.l = l;
	fs.n = 10000;
	nact_aid fl;
	REQUIRE_RV(nact_spawn(&fl, sys, flood_fn, &fs, NULL, NULL));
	nact_msg *go;
	REQUIRE_RV(nact_msg_alloc(&go, sys, 1));
	REQUIRE_RV(nact_send(sys, fl, go));
	CHECK(NT_WAIT(atomic_load(&fs.done), NT_LONG_MS));
	CHECK_RV(nact_logger_flush(l, TMO));
	CHECK_EQ_INT(atomic_load(&fs.other), 0);
	CHECK(atomic_load(&fs.ok) <= 64);
	CHECK(atomic_load(&fs.full) >= 10000 - 64);
	nact_logger_stats st;
	nact_logger_stats_get(l, &st);
	CHECK_EQ_U64(st.dropped, (uint64_t)atomic_load(&fs.full));
	/* The queued lines and one drop report. */
	CHECK_EQ_U64(st.written, (uint64_t)atomic_load(&fs.ok) + 1);

	char path[128];
	snprintf(path, sizeof(path), "%s/d.log", dir);
	int bad = 0;
	CHECK_EQ_INT(check_lines(path, &bad), (int)atomic_load(&fs.ok) + 1);
	CHECK_EQ_INT(bad, 0);
	char *b = slurp(path, NULL);
	REQUIRE(b != NULL);
	char want[96];
	snprintf(want, sizeof(want), "\"msg\":\"log queue full: lines dropped\",\"dropped\":%ld}",
	    atomic_load(&fs.full));
	CHECK(strstr(b, want) != NULL);
	free(b);
	nact_logger_close(l, TMO);
	nact_system_close(sys, TMO);
	rm_tmp();
}

static void test_bad_paths(void)
{
	nact_system *sys;
	nact_logger *l = NULL;
	nact_logger_config cfg;
	mkdir_tmp();
	REQUIRE_RV(nt_open(&sys, 1, NACT_CLOCK_MONOTONIC));
	nact_logger_config_init(&cfg);
	CHECK_ERR(nact_logger_open(&l, sys, &cfg), NACT_EINVAL); /* no path */
	cfg.path = "";
	CHECK_ERR(nact_logger_open(&l, sys, &cfg), NACT_EINVAL);
	cfg.path = "/nonexistent-nactor-dir/x/app.log";
	CHECK_ERR(nact_logger_open(&l, sys, &cfg), NACT_ESYSERR + ENOENT);
	cfg.path = dir; /* a directory */
	CHECK_ERR(nact_logger_open(&l, sys, &cfg), NACT_ESYSERR + EISDIR);
	cfg.path = "/dev/null"; /* not a regular file: cannot rotate it */
	CHECK_ERR(nact_logger_open(&l, sys, &cfg), NACT_ESYSERR + EINVAL);
	cfg.path = "/tmp/x.log";
	cfg.level = 7;
	CHECK_ERR(nact_logger_open(&l, sys, &cfg), NACT_EINVAL);
	CHECK(l == NULL);
	CHECK(strstr(nact_strerror(NACT_ESYSERR + ENOENT), "No such file") != NULL);
	nact_system_close(sys, TMO);
	rm_tmp();
}

static void test_bad_messages(void)
{
	static const struct {
		uint32_t type;
		const char *body;
		size_t len;
		const char *what;
	} tab[] = {
	    {NACT_T_LOG_LINE, "", 0, "empty"},
	    {NACT_T_LOG_LINE, "\x90", 1, "[]"},
	    {NACT_T_LOG_LINE, "\x96\x01\x09\x00\xc0\xa1m\xc0", 8, "level 9"},
	    {NACT_T_LOG_LINE, "\x96\x01\x03\x00\xc0\x01\xc0", 7, "int msg"},
	    {NACT_T_LOG_LINE, "\x96\x01\x03\x00\x01\xa1m\xc0", 8, "int name"},
	    {NACT_T_LOG_LINE, "\x96\x01\x03\x00\xc0\xa1m\x81\x01\x01", 10, "int field key"},
	    {NACT_T_LOG_LINE, "\x96\x01\x03\x00\xc0\xa1m\x81\xa1k\x90", 11, "array field"},
	    {NACT_T_LOG_LINE, "\x96\x01\x03\x00\xc0\xa1m\xc0\x01", 9, "trailing value"},
	    {NACT_T_LOG_LINE, "\x96\x01\x03\x00\xc0\xa5m", 7, "truncated msg"},
	    {NACT_T_LOG_LINE, "\x96\xa1t\x03\x00\xc0\xa1m\xc0", 8, "str time"},
	    {0xFFFF05FFu, "\x90", 1, "unknown logger type"},
	    {77, "\x90", 1, "user type"},
	};
	const size_t n = sizeof(tab) / sizeof(tab[0]);
	nact_system *sys;
	nact_logger *l;
	mkdir_tmp();
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(open_logger(&l, sys, "b.log", 0, 0, 0, NACT_LOG_INFO));
	for (size_t i = 0; i < n; i++) {
		nact_msg *m, *rep = NULL;
		REQUIRE_RV(nact_msg_alloc(&m, sys, tab[i].type));
		if (tab[i].len)
			REQUIRE(nng_msg_append(nact_msg_nng(m), tab[i].body, tab[i].len) == 0);
		int rv = nact_call(sys, nact_logger_aid(l), m, TMO, &rep);
		if (rv != 0) {
			fprintf(stderr, "  %s: call %s\n", tab[i].what, nact_strerror(rv));
			CHECK(0);
			if (rv != NACT_ETIMEDOUT)
				nact_msg_free(m);
			continue;
		}
		int code = 0;
		if (nact_error_read(rep, &code, NULL, 0) != 0 || code != NACT_EBADMSG) {
			fprintf(stderr, "  %s: reply type %#x code %d\n", tab[i].what,
			    nact_msg_type(rep), code);
			CHECK(0);
		}
		nact_msg_free(rep);
		/* and as a cast */
		REQUIRE_RV(nact_msg_alloc(&m, sys, tab[i].type));
		if (tab[i].len)
			REQUIRE(nng_msg_append(nact_msg_nng(m), tab[i].body, tab[i].len) == 0);
		if (nact_send(sys, nact_logger_aid(l), m) != 0)
			nact_msg_free(m);
	}
	CHECK_RV(nact_logger_log(l, NACT_LOG_INFO, NACT_AID_NONE, NULL, "still here", NULL, 0));
	CHECK_RV(nact_logger_flush(l, TMO));
	nact_logger_stats st;
	nact_logger_stats_get(l, &st);
	CHECK_EQ_U64(st.bad, 2 * n);
	CHECK_EQ_U64(st.written, 1);
	CHECK(nact_alive(sys, nact_logger_aid(l)));
	nact_logger_close(l, TMO);
	nact_system_close(sys, TMO);
	rm_tmp();
}

static void test_sink(void)
{
	nact_system *sys;
	nact_logger *l;
	mkdir_tmp();
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(open_logger(&l, sys, "s.log", 0, 0, 0, NACT_LOG_DEBUG));
	nact_logger_install(l, NACT_LOG_WARN);
	nact_log(sys, NACT_LOG_WARN, "runtime says %d", 7);
	nact_log(sys, NACT_LOG_INFO, "not at this level");
	CHECK_RV(nact_logger_flush(l, TMO));
	char path[128];
	snprintf(path, sizeof(path), "%s/s.log", dir);
	char *b = slurp(path, NULL);
	REQUIRE(b != NULL);
	CHECK(strstr(b, "\"level\":\"warn\",\"msg\":\"runtime says 7\",\"source\":\"nactor\"}") !=
	    NULL);
	CHECK(strstr(b, "not at this level") == NULL);
	free(b);
	nact_logger_close(l, TMO); /* uninstalls the sink */
	nact_log(sys, NACT_LOG_ERROR, "(expected on stderr after the logger closed)");
	nact_system_close(sys, TMO);
	rm_tmp();
}

/* An existing file is appended to; closing writes what was queued. */
static void test_append_close(void)
{
	nact_system *sys;
	nact_logger *l;
	mkdir_tmp();
	char path[128];
	snprintf(path, sizeof(path), "%s/a.log", dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL);
	fputs("{\"old\":true}\n", f);
	fclose(f);
	REQUIRE_RV(nt_open(&sys, 2, NACT_CLOCK_MONOTONIC));
	REQUIRE_RV(open_logger(&l, sys, "a.log", 0, 0, 0, 0));
	for (int i = 0; i < 100; i++)
		CHECK_RV(nact_logger_logf(l, NACT_LOG_INFO, NULL, "line %d", i));
	nact_logger_close(l, TMO); /* no flush before: close writes them */
	int bad = 0;
	CHECK_EQ_INT(check_lines(path, &bad), 101);
	CHECK_EQ_INT(bad, 0);
	nact_system_close(sys, TMO);
	rm_tmp();
}

NT_MAIN(NT_CASE(test_json_lines), NT_CASE(test_rotation), NT_CASE(test_drops),
    NT_CASE(test_bad_paths), NT_CASE(test_bad_messages), NT_CASE(test_sink),
    NT_CASE(test_append_close))
