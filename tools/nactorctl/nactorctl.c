/*
 * tools/nactorctl/nactorctl.c — inspect and act on running nactor nodes
 * from a terminal (docs/nactorctl.1; the protocol is
 * docs/registry-protocol.md).
 *
 * DESIGN
 * - One request per run: dial the node's ipc socket (REQ), send one
 *   msgpack map, wait for one reply. Every wait is bounded by --timeout
 *   (NNG_OPT_SENDTIMEO/RECVTIMEO, default 2000 ms): the tool never hangs
 *   on a node that stopped answering.
 * - Replies come from another process and are treated as hostile: they are
 *   decoded with nact_reader_init_buf under explicit limits, every field is
 *   looked up by key and type-checked, and a reply of the wrong shape is a
 *   "bad reply" error (exit 1), never a crash. Text from the node is
 *   printed with control characters replaced, so a name cannot drive the
 *   terminal.
 * - The runtime directory follows registry/server.c: $XDG_RUNTIME_DIR/nactor
 *   when XDG_RUNTIME_DIR is absolute, else /tmp/nactor-UID. The tool never
 *   creates or removes anything there.
 * - Exit status: 0 ok, 1 the request failed or the node answered an error,
 *   2 usage, 3 no node / cannot connect, 4 no such operation.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/nactor.h>

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,     /* request failed, or the node answered an error */
	EXIT_USAGE = 2,    /* bad command line */
	EXIT_NOCONN = 3,   /* no node, or cannot connect */
	EXIT_NOTFOUND = 4, /* no such operation */
};

#define CTL_NODE_MAX 64
#define CTL_PATH_MAX 108 /* sun_path */
#define CTL_MAX_NODES 256

static int g_timeout = 2000; /* ms, every send and receive */
static int g_timeout_set;    /* --timeout given (watch: an idle timeout) */
static int g_quiet;          /* say() prints nothing (nodes: errors go in a column) */

static void say(const char *fmt, ...)
{
	va_list ap;
	if (g_quiet)
		return;
	fputs("nactorctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- help ---- */

static const char *const usage_main =
    "usage: nactorctl [--timeout MS] COMMAND [ARGS]\n"
    "\n"
    "Inspect and act on running nactor nodes (see nactorctl(1)).\n"
    "\n"
    "commands:\n"
    "  nodes                 list the nodes in the runtime directory\n"
    "  ls                    list a node's operations\n"
    "  show ID               show one operation\n"
    "  cancel ID             cancel an operation and its children\n"
    "  stats                 show a node's counters\n"
    "  tree                  show the live operations as a tree\n"
    "  watch                 print status changes and progress as they happen\n"
    "  top                   the busiest actors, refreshed\n"
    "  doctor                run the concurrency checklist against a node\n"
    "  members               the cluster membership as a node sees it\n"
    "\n"
    "options:\n"
    "  --timeout MS          wait at most MS ms for each send/receive (2000)\n"
    "  -h, --help            this help; COMMAND --help for a command's\n"
    "\n"
    "exit status: 0 ok, 1 request failed, 2 usage, 3 no node or cannot\n"
    "connect, 4 no such operation, 5 doctor found something\n";

struct cmd_help {
	const char *name;
	const char *text;
};

static const struct cmd_help helps[] = {
    {"nodes",
        "usage: nactorctl nodes [--json] [--timeout MS]\n"
        "\n"
        "List the *.ipc sockets in the runtime directory, ask each node for its\n"
        "stats and print NODE, PID, LIVE ACTORS, OPS (live/finished), MEMBERS\n"
        "(cluster members alive or suspect / known, \"-\" when the node is not a\n"
        "cluster node) and STATE.\n"
        "A socket nobody listens on is shown as \"dead (stale socket)\".\n"
        "Exit 0 if at least one node answered, else 3.\n"},
    {"members",
        "usage: nactorctl members [--node N] [--json] [--timeout MS]\n"
        "\n"
        "Show the cluster membership as node N sees it (docs/members.md): a\n"
        "summary line (SWIM period, suspicion timeout, members, messages sent per\n"
        "period), then NAME, URL, STATE (alive, suspect, down, left),\n"
        "INCARNATION, PEER (local peer number) and CONNECTED, self first.\n"
        "Exit 1 if the node is not a cluster node.\n"
        "  --json         print the node's \"members\" reply as JSON\n"},
    {"ls",
        "usage: nactorctl ls [--node N] [--status S] [--name GLOB] [--limit N]\n"
        "                    [--json] [--timeout MS]\n"
        "\n"
        "List operations: live ones first, then finished ones from the history.\n"
        "  --status S     pending, running, completed, failed, cancelled or timedout\n"
        "  --name GLOB    only names matching the fnmatch(3) pattern\n"
        "  --limit N      at most N operations (the node's default is 1000)\n"
        "  --json         print the array of operations as JSON\n"},
    {"show",
        "usage: nactorctl show ID [--node N] [--json] [--timeout MS]\n"
        "\n"
        "Show every field of operation ID. Exit 4 if the node does not know it.\n"},
    {"cancel",
        "usage: nactorctl cancel ID [--node N] [--message M] [--timeout MS]\n"
        "\n"
        "Cancel operation ID (reason manual) and its live children. Exit 4 if\n"
        "the node does not know it, 1 if it has already finished.\n"},
    {"stats",
        "usage: nactorctl stats [--node N] [--json] [--timeout MS]\n"
        "\n"
        "Show the node's counters: pid, live actors, spawned, dead letters,\n"
        "live operations, operations kept in the history, and status events the\n"
        "node dropped (pub_dropped).\n"},
    {"tree",
        "usage: nactorctl tree [--node N] [--json] [--timeout MS]\n"
        "\n"
        "Show the live (pending and running) operations as a tree: each line is\n"
        "NAME (ID) STATUS, children under their parent, oldest first. An\n"
        "operation whose parent has finished is a root. The node shows at most\n"
        "12 levels and 1000 operations; a note on stderr says when it left some\n"
        "out (use ls to see them all). Then, under \"supervisors:\", the node's\n"
        "supervision trees: ID [KIND] (aid AID) STATUS, restarts and last exit.\n"
        "  --json         print {\"roots\": [...], \"truncated\": bool,\n"
        "                 \"supervisors\": [...], \"supervisors_truncated\": bool}\n"},
    {"watch",
        "usage: nactorctl watch [--node N] [--json] [--count N] [--timeout MS]\n"
        "\n"
        "Subscribe to the node's status stream (NODE.pub.ipc) and print one line\n"
        "per change: ID NAME STATUS, then (REASON) when cancelled and \": MESSAGE\"\n"
        "when there is one; and progress reports (at most one per operation per\n"
        "100 ms): ID NAME progress P%[: MESSAGE]. \"watching node N\" goes to\n"
        "stderr once subscribed.\n"
        "  --count N      exit 0 after N events (progress events count too)\n"
        "  --timeout MS   exit when no event came for MS ms: 0 without --count,\n"
        "                 1 when fewer than N events came (default: wait forever)\n"
        "  --json         print each event's op map as JSON, one line each, with\n"
        "                 \"event\": \"op\" or \"progress\" as its first key\n"},
    {"top",
        "usage: nactorctl top [--node N] [--sort KEY] [--limit N] [--interval MS]\n"
        "                     [--once | --count N] [--json] [--timeout MS]\n"
        "\n"
        "Show the node's figures (CPU, RSS, threads, fds, actors, dead letters)\n"
        "and its busiest actors: ID, NAME, DEPTH (mailbox), MSG/S (taken per\n"
        "second since the last screen), IN, OUT, RESTARTS and STATUS (idle,\n"
        "queued, or running on a worker and for how long). Refreshes every\n"
        "interval until interrupted; on a terminal the screen is cleared first.\n"
        "The node needs nact_config.metrics = 1 for the actor table.\n"
        "  --sort KEY     depth (default), in, out, restarts, p99, busy, handled, id\n"
        "  --limit N      at most N actors (20)\n"
        "  --interval MS  between screens (1000)\n"
        "  --once         one screen (same as --count 1)\n"
        "  --count N      N screens, then exit 0\n"
        "  --json         each screen as the node's \"actors\" reply, one JSON value\n"},
    {"doctor",
        "usage: nactorctl doctor [--node N] [--samples N] [--interval MS] [--slow MS]\n"
        "                        [--json] [--timeout MS]\n"
        "\n"
        "Sample the node N times (4) every interval (500 ms) and run the\n"
        "concurrency checklist; each finding names the actor ids:\n"
        "  mailbox-growing  an actor's mailbox depth rose at every sample\n"
        "  slow-handler     a handler running now, or a timed call, over --slow (100 ms)\n"
        "  worker-blocked   a worker inside one call for longer than --slow\n"
        "  restart-storm    a child restarted 3+ times, and again during the window\n"
        "  deadletter-rate  dead letters at 1/s or more during the window\n"
        "  memory-growing   RSS rose at every sample, by 1 MiB or more\n"
        "  request-cycle    requests refused because they would close a wait-for\n"
        "                   cycle of operations (the registry's count since start;\n"
        "                   ACTOR is the last cycle's operation ids)\n"
        "Exit 0 when nothing was found, 5 when something was.\n"
        "  --json         {\"node\", \"samples\", \"seconds\", \"metrics\",\n"
        "                  \"findings\": [{\"check\", \"actors\", \"detail\"}],\n"
        "                  \"not_tracked\": []}\n"},
};

/* ---- printing text from the node ---- */

/* Write n bytes of s to f with control characters (and DEL) replaced by
 * '?': a node's strings never reach the terminal raw. */
static void put_safe(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

/* Copy a msgpack string into a fresh NUL-terminated, sanitised string. */
static char *dup_safe(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		d[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	d[n] = '\0';
	return d;
}

/* Display width of a UTF-8 string: code points, not bytes (good enough
 * for the aligned tables; wide characters count as one). */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* ---- JSON ---- */

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string: quotes, backslashes and control characters escaped,
 * invalid UTF-8 replaced by U+FFFD, so the output always parses. */
static void json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t l;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c == '\n') {
			fputs("\\n", f);
			i++;
		} else if (c == '\t') {
			fputs("\\t", f);
			i++;
		} else if (c == '\r') {
			fputs("\\r", f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if ((l = utf8_len(p + i, n - i)) == 0) {
			fputs("\\ufffd", f);
			i++;
		} else {
			fwrite(p + i, 1, l, f);
			i += l;
		}
	}
	fputc('"', f);
}

static void json_value(FILE *f, const msgpack_object *o, int indent);

/* indent < 0: compact, everything on one line. */
static void json_indent(FILE *f, int indent)
{
	for (int i = 0; i < indent; i++)
		fputs("  ", f);
}

static void json_double(FILE *f, double d)
{
	if (isnan(d) || isinf(d))
		fputs("null", f); /* JSON has no NaN or infinities */
	else
		fprintf(f, "%.17g", d);
}

/* Map keys must be strings in JSON: integers are written as decimal
 * strings, anything else as its JSON text in a string. */
static void json_key(FILE *f, const msgpack_object *k)
{
	char buf[64];
	switch (k->type) {
	case MSGPACK_OBJECT_STR:
		json_str(f, k->via.str.ptr, k->via.str.size);
		return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(buf, sizeof(buf), "%" PRIu64, k->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf, sizeof(buf), "%" PRId64, k->via.i64);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		snprintf(buf, sizeof(buf), "%s", k->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_NIL:
		snprintf(buf, sizeof(buf), "null");
		break;
	default:
		snprintf(buf, sizeof(buf), "?");
		break;
	}
	json_str(f, buf, strlen(buf));
}

static void json_value(FILE *f, const msgpack_object *o, int indent)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", f);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", f);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(f, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(f, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		json_double(f, o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		json_str(f, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN: /* as a hex string */
		fputc('"', f);
		for (uint32_t i = 0; i < o->via.bin.size; i++)
			fprintf(f, "%02x", (unsigned char)o->via.bin.ptr[i]);
		fputc('"', f);
		break;
	case MSGPACK_OBJECT_ARRAY:
		if (o->via.array.size == 0) {
			fputs("[]", f);
			break;
		}
		if (indent < 0) {
			fputc('[', f);
			for (uint32_t i = 0; i < o->via.array.size; i++) {
				json_value(f, &o->via.array.ptr[i], -1);
				if (i + 1 < o->via.array.size)
					fputc(',', f);
			}
			fputc(']', f);
			break;
		}
		fputs("[\n", f);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			json_indent(f, indent + 1);
			json_value(f, &o->via.array.ptr[i], indent + 1);
			fputs(i + 1 < o->via.array.size ? ",\n" : "\n", f);
		}
		json_indent(f, indent);
		fputc(']', f);
		break;
	case MSGPACK_OBJECT_MAP:
		if (o->via.map.size == 0) {
			fputs("{}", f);
			break;
		}
		if (indent < 0) {
			fputc('{', f);
			for (uint32_t i = 0; i < o->via.map.size; i++) {
				json_key(f, &o->via.map.ptr[i].key);
				fputc(':', f);
				json_value(f, &o->via.map.ptr[i].val, -1);
				if (i + 1 < o->via.map.size)
					fputc(',', f);
			}
			fputc('}', f);
			break;
		}
		fputs("{\n", f);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			json_indent(f, indent + 1);
			json_key(f, &o->via.map.ptr[i].key);
			fputs(": ", f);
			json_value(f, &o->via.map.ptr[i].val, indent + 1);
			fputs(i + 1 < o->via.map.size ? ",\n" : "\n", f);
		}
		json_indent(f, indent);
		fputc('}', f);
		break;
	default: /* ext */
		fputs("null", f);
		break;
	}
}

/* ---- reading replies ---- */

static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
	size_t kl = strlen(key);
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
		    memcmp(k->via.str.ptr, key, kl) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

/* The unsigned integer at key; 0 and *ok cleared when missing or not one. */
static uint64_t mp_uint(const msgpack_object *map, const char *key, int *ok)
{
	const msgpack_object *o = mp_get(map, key);
	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*ok = 0;
		return 0;
	}
	return o->via.u64;
}

static double mp_double(const msgpack_object *map, const char *key, int *ok)
{
	const msgpack_object *o = mp_get(map, key);
	if (o != NULL && (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32))
		return o->via.f64;
	if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)o->via.u64;
	*ok = 0;
	return 0;
}

/* A sanitised copy of the string at key (caller frees); "" and *ok
 * cleared when missing or not a string; NULL only when out of memory. */
static char *mp_str(const msgpack_object *map, const char *key, int *ok)
{
	const msgpack_object *o = mp_get(map, key);
	if (o == NULL || o->type != MSGPACK_OBJECT_STR) {
		*ok = 0;
		return dup_safe("", 0);
	}
	return dup_safe(o->via.str.ptr, o->via.str.size);
}

/* One reply: the nng message owns the bytes, the reader's zone the
 * decoded objects; both live until reply_fini. */
struct reply {
	nng_msg *msg;
	nact_reader rd;
	int has_rd;
	msgpack_object top; /* the reply map */
};

static void reply_fini(struct reply *rp)
{
	if (rp->has_rd)
		nact_reader_fini(&rp->rd);
	nng_msg_free(rp->msg);
	memset(rp, 0, sizeof(*rp));
}

/* ---- the runtime directory and nodes ---- */

static int runtime_dir(char *dir, size_t cap)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(dir, cap, "%s/nactor", xdg);
	else
		n = snprintf(dir, cap, "/tmp/nactor-%lu", (unsigned long)getuid());
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Same rule as registry/server.c. */
static int node_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CTL_NODE_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

static int node_url(char *url, size_t cap, const char *node)
{
	char dir[CTL_PATH_MAX];
	if (runtime_dir(dir, sizeof(dir)) != 0)
		return -1;
	int n = snprintf(url, cap, "ipc://%s/%s.ipc", dir, node);
	return n < 0 || (size_t)n >= cap || (size_t)n - 6 >= CTL_PATH_MAX ? -1 : 0;
}

/* Dial node: 0 and an open socket with the timeouts set, else an nng
 * error (the message is left to the caller). */
static int node_dial(nng_socket *s, const char *node)
{
	char url[CTL_PATH_MAX + 16];
	int rv;
	if (node_url(url, sizeof(url), node) != 0)
		return NNG_EINVAL;
	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, g_timeout);
	nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, g_timeout);
	/* A synchronous dial: on a unix socket connect() answers at once,
	 * ECONNREFUSED when nobody listens (a stale socket file). */
	if ((rv = nng_dial(*s, url, NULL, 0)) != 0)
		nng_close(*s);
	return rv;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The node names (sorted) of the *.ipc files in the runtime directory.
 * Returns how many, at most max; -1 if the directory cannot be read for
 * another reason than not existing. */
static int node_names(char (*names)[CTL_NODE_MAX + 1], int max)
{
	char dir[CTL_PATH_MAX];
	struct dirent *de;
	int n = 0;
	if (runtime_dir(dir, sizeof(dir)) != 0)
		return -1;
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL && n < max) {
		size_t l = strlen(de->d_name);
		if (l <= 4 || strcmp(de->d_name + l - 4, ".ipc") != 0 || l - 4 > CTL_NODE_MAX)
			continue;
		if (l > 8 && strcmp(de->d_name + l - 8, ".pub.ipc") == 0)
			continue; /* a node's status stream, not a node */
		memcpy(names[n], de->d_name, l - 4);
		names[n][l - 4] = '\0';
		if (node_name_ok(names[n]))
			n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), name_cmp);
	return n;
}

/* The node names in the runtime directory (written to dir, cap bytes):
 * their count, or -1 after saying why. */
static int scan_nodes(char (*names)[CTL_NODE_MAX + 1], char *dir, size_t cap)
{
	if (runtime_dir(dir, cap) != 0) {
		say("runtime directory path too long");
		return -1;
	}
	int n = node_names(names, CTL_MAX_NODES);
	if (n < 0)
		say("cannot read %s: %s", dir, strerror(errno));
	return n < 0 ? -1 : n;
}

/* The node to talk to: the one given, else the only one that accepts a
 * connection. 0, or an exit status after saying why. */
static int pick_node(const char *given, char *out)
{
	static char names[CTL_MAX_NODES][CTL_NODE_MAX + 1];
	char dir[CTL_PATH_MAX];
	int live[CTL_MAX_NODES], nlive = 0;
	if (given != NULL) {
		snprintf(out, CTL_NODE_MAX + 1, "%s", given);
		return 0;
	}
	int n = scan_nodes(names, dir, sizeof(dir));
	if (n < 0)
		return EXIT_NOCONN;
	for (int i = 0; i < n; i++) {
		nng_socket s;
		if (node_dial(&s, names[i]) == 0) {
			nng_close(s);
			live[nlive++] = i;
		}
	}
	if (nlive == 0) {
		say("no running node in %s", dir);
		return EXIT_NOCONN;
	}
	if (nlive > 1) {
		fprintf(stderr, "nactorctl: %d nodes are running, choose one with --node:\n",
		    nlive);
		for (int i = 0; i < nlive; i++)
			fprintf(stderr, "  %s\n", names[live[i]]);
		return EXIT_USAGE;
	}
	snprintf(out, CTL_NODE_MAX + 1, "%s", names[live[0]]);
	return 0;
}

/* ---- one request ---- */

struct req {
	const char *verb;
	const char *status;  /* list */
	const char *name;    /* list */
	uint64_t limit;      /* list, 0 = the node's default */
	uint64_t id;         /* get, cancel; 0 = absent */
	const char *message; /* cancel */
	const char *sort;    /* actors */
};

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* Send q to node and decode the reply into *rp. 0 when the node answered
 * ok: true; else an exit status after saying why (rp is then empty). */
static int request(const char *node, const struct req *q, struct reply *rp)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	nng_socket s;
	nng_msg *m = NULL;
	int rv, ret;
	uint32_t n = 2 + (q->status != NULL) + (q->name != NULL) + (q->limit != 0) + (q->id != 0) +
	    (q->message != NULL) + (q->sort != NULL);

	memset(rp, 0, sizeof(*rp));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	pack_cstr(&pk, "v");
	msgpack_pack_uint64(&pk, 1);
	pack_cstr(&pk, "verb");
	pack_cstr(&pk, q->verb);
	if (q->status != NULL) {
		pack_cstr(&pk, "status");
		pack_cstr(&pk, q->status);
	}
	if (q->name != NULL) {
		pack_cstr(&pk, "name");
		pack_cstr(&pk, q->name);
	}
	if (q->limit != 0) {
		pack_cstr(&pk, "limit");
		msgpack_pack_uint64(&pk, q->limit);
	}
	if (q->id != 0) {
		pack_cstr(&pk, "id");
		msgpack_pack_uint64(&pk, q->id);
	}
	if (q->message != NULL) {
		pack_cstr(&pk, "message");
		pack_cstr(&pk, q->message);
	}
	if (q->sort != NULL) {
		pack_cstr(&pk, "sort");
		pack_cstr(&pk, q->sort);
	}
	if (sb.data == NULL) {
		say("out of memory");
		return EXIT_FAIL;
	}

	if ((rv = node_dial(&s, node)) != 0) {
		say("cannot connect to node %s: %s", node, nng_strerror(rv));
		msgpack_sbuffer_destroy(&sb);
		return EXIT_NOCONN;
	}
	rv = nng_msg_alloc(&m, 0);
	if (rv == 0 && (rv = nng_msg_append(m, sb.data, sb.size)) == 0 &&
	    (rv = nng_sendmsg(s, m, 0)) == 0)
		m = NULL; /* sent: nng owns it */
	msgpack_sbuffer_destroy(&sb);
	nng_msg_free(m);
	if (rv == 0)
		rv = nng_recvmsg(s, &rp->msg, 0);
	nng_close(s);
	if (rv == NNG_ETIMEDOUT) {
		say("node %s did not answer within %d ms", node, g_timeout);
		return EXIT_FAIL;
	}
	if (rv != 0) {
		say("request to node %s failed: %s", node, nng_strerror(rv));
		return EXIT_FAIL;
	}

	/* A list of 1000 ops is ~27k values; these limits leave room and
	 * still bound what a hostile reply can make us allocate. A tree
	 * reply nests 2 levels per generation (the node caps it at 12). */
	nact_limits lim = nact_limits_default();
	lim.max_body = 16u << 20;
	lim.max_depth = NACT_READER_DEPTH;
	lim.max_elems = 1u << 20;
	lim.max_total = 1u << 22;
	if (nact_reader_init_buf(&rp->rd, nng_msg_body(rp->msg), nng_msg_len(rp->msg), &lim) != 0) {
		say("bad reply from node %s: not valid msgpack", node);
		ret = EXIT_FAIL;
		goto out_fini;
	}
	rp->has_rd = 1;
	if (nact_read_object(&rp->rd, &rp->top) != 0 || rp->top.type != MSGPACK_OBJECT_MAP) {
		say("bad reply from node %s: not a map", node);
		ret = EXIT_FAIL;
		goto out_fini;
	}
	const msgpack_object *ok = mp_get(&rp->top, "ok");
	if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN) {
		say("bad reply from node %s: no \"ok\"", node);
		ret = EXIT_FAIL;
		goto out_fini;
	}
	if (!ok->via.boolean) {
		const msgpack_object *e = mp_get(&rp->top, "error");
		const char *es = "no error text";
		size_t en = strlen(es);
		if (e != NULL && e->type == MSGPACK_OBJECT_STR) {
			es = e->via.str.ptr;
			en = e->via.str.size;
		}
		if (!g_quiet) {
			fprintf(stderr, "nactorctl: node %s: ", node);
			put_safe(stderr, es, en);
			fputc('\n', stderr);
		}
		ret = en == 17 && memcmp(es, "no such operation", 17) == 0 ? EXIT_NOTFOUND :
		                                                             EXIT_FAIL;
		goto out_fini;
	}
	return 0;

out_fini:
	reply_fini(rp);
	return ret;
}

/* ---- tables ---- */

#define TBL_COLS 8

struct table {
	int ncols;
	const char *head[TBL_COLS];
	int right[TBL_COLS]; /* right-aligned (numbers) */
	char **cells;        /* nrows * ncols, owned */
	size_t nrows, cap;
	int oom;
};

/* Add a row of ncols cells (copied; NULL prints as ""). */
static void table_row(struct table *t, const char **cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*c));
		if (c == NULL) {
			t->oom = 1;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		const char *s = cells[i] ? cells[i] : "";
		char *d = strdup(s);
		if (d == NULL)
			t->oom = 1;
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = d;
	}
	t->nrows++;
}

static void table_pad(size_t n)
{
	while (n-- > 0)
		putchar(' ');
}

/* Print header and rows, each column as wide as its widest cell, two
 * spaces between columns, no trailing blanks. Frees the cells. */
static void table_print(struct table *t)
{
	size_t w[TBL_COLS];
	for (int c = 0; c < t->ncols; c++) {
		w[c] = text_width(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			if (s != NULL && text_width(s) > w[c])
				w[c] = text_width(s);
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		const char *row[TBL_COLS];
		int last = 0; /* the last non-empty cell: nothing is printed after it */
		for (int c = 0; c < t->ncols; c++) {
			row[c] =
			    r == 0 ? t->head[c] : t->cells[(r - 1) * (size_t)t->ncols + (size_t)c];
			if (row[c] == NULL)
				row[c] = "";
			if (row[c][0] != '\0')
				last = c;
		}
		for (int c = 0; c <= last; c++) {
			size_t sw = text_width(row[c]);
			if (c > 0)
				fputs("  ", stdout);
			if (t->right[c])
				table_pad(w[c] - sw);
			fputs(row[c], stdout);
			if (!t->right[c] && c < last)
				table_pad(w[c] - sw);
		}
		putchar('\n');
	}
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* ---- options ---- */

enum {
	OPT_NODE = 1 << 0,
	OPT_JSON = 1 << 1,
	OPT_STATUS = 1 << 2,
	OPT_NAME = 1 << 3,
	OPT_LIMIT = 1 << 4,
	OPT_MESSAGE = 1 << 5,
	OPT_ID = 1 << 6, /* one positional ID, required */
	OPT_COUNT = 1 << 7,
	OPT_ONCE = 1 << 8,     /* top */
	OPT_INTERVAL = 1 << 9, /* top, doctor */
	OPT_SORT = 1 << 10,    /* top */
	OPT_SAMPLES = 1 << 11, /* doctor */
	OPT_SLOW = 1 << 12,    /* doctor */
};

struct opts {
	const char *node;
	int json;
	const char *status;
	const char *name;
	uint64_t limit;
	const char *message;
	uint64_t id;
	uint64_t count;
	int once;
	uint64_t interval; /* ms */
	const char *sort;
	uint64_t samples;
	uint64_t slow; /* ms */
};

/* A decimal number in 1..max with nothing else around it. */
static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A positive-count option (--limit, --count): 0, or -1 after saying why. */
static int count_opt(const char *cmd, const char *opt, const char *val, uint64_t *dst)
{
	uint64_t num;
	if (parse_num(val, UINT32_MAX, &num) != 0) {
		say("%s: bad %s '%s': expected a positive integer", cmd, opt, val);
		return -1;
	}
	*dst = num;
	return 0;
}

static const char *const status_names[] = {"pending", "running", "completed", "failed", "cancelled",
    "timedout"};

static void print_help(const char *cmd)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].name, cmd) == 0)
			fputs(helps[i].text, stdout);
}

/* Parse argv (after the command name) into *o, accepting the options in
 * mask plus --timeout and --help. 0, or an exit status (after printing
 * help, -1 is returned: exit 0). */
static int parse_opts(const char *cmd, int argc, char **argv, unsigned mask, struct opts *o)
{
	int have_id = 0;
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		char name[32];
		const char *eq = strchr(a, '=');
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_help(cmd);
			return -1;
		}
		if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == '\0') {
			if (strcmp(a, "--") == 0 && ++i >= argc)
				break;
			a = argv[i];
			if (!(mask & OPT_ID) || have_id) {
				say("%s: unexpected argument '%s' (see nactorctl %s --help)", cmd,
				    a, cmd);
				return EXIT_USAGE;
			}
			uint64_t id;
			if (parse_num(a, UINT64_MAX, &id) != 0) {
				say("%s: bad operation id '%s': expected a positive integer", cmd,
				    a);
				return EXIT_USAGE;
			}
			o->id = id;
			have_id = 1;
			continue;
		}
		/* --opt=value or --opt value */
		if (a[1] == '-' && eq != NULL && (size_t)(eq - a) < sizeof(name)) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = '\0';
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
		}
		unsigned bit = strcmp(name, "--node") == 0 ? OPT_NODE :
		    strcmp(name, "--json") == 0            ? OPT_JSON :
		    strcmp(name, "--status") == 0          ? OPT_STATUS :
		    strcmp(name, "--name") == 0            ? OPT_NAME :
		    strcmp(name, "--limit") == 0           ? OPT_LIMIT :
		    strcmp(name, "--message") == 0         ? OPT_MESSAGE :
		    strcmp(name, "--count") == 0           ? OPT_COUNT :
		    strcmp(name, "--once") == 0            ? OPT_ONCE :
		    strcmp(name, "--interval") == 0        ? OPT_INTERVAL :
		    strcmp(name, "--sort") == 0            ? OPT_SORT :
		    strcmp(name, "--samples") == 0         ? OPT_SAMPLES :
		    strcmp(name, "--slow") == 0            ? OPT_SLOW :
		    strcmp(name, "--timeout") == 0         ? 1u << 30 :
		                                             0;
		if (bit == 0 || (bit != 1u << 30 && !(mask & bit))) {
			say("%s: unknown option '%s' (see nactorctl %s --help)", cmd, a, cmd);
			return EXIT_USAGE;
		}
		if (bit == OPT_JSON || bit == OPT_ONCE) {
			if (val != NULL) {
				say("%s: %s takes no value", cmd, name);
				return EXIT_USAGE;
			}
			if (bit == OPT_JSON)
				o->json = 1;
			else
				o->once = 1;
			continue;
		}
		if (val == NULL) {
			if (i + 1 >= argc) {
				say("%s: %s needs a value", cmd, name);
				return EXIT_USAGE;
			}
			val = argv[++i];
		}
		uint64_t num;
		switch (bit) {
		case OPT_NODE:
			if (!node_name_ok(val)) {
				say("%s: bad node name '%s': 1..64 of [A-Za-z0-9._-], not starting with '.'",
				    cmd, val);
				return EXIT_USAGE;
			}
			o->node = val;
			break;
		case OPT_STATUS: {
			size_t k;
			for (k = 0; k < sizeof(status_names) / sizeof(status_names[0]); k++)
				if (strcmp(val, status_names[k]) == 0)
					break;
			if (k == sizeof(status_names) / sizeof(status_names[0])) {
				say("%s: bad status '%s': pending, running, completed, failed, "
				    "cancelled or timedout",
				    cmd, val);
				return EXIT_USAGE;
			}
			o->status = val;
			break;
		}
		case OPT_NAME:
			if (strlen(val) == 0 || strlen(val) > 255) {
				say("%s: --name needs a glob of 1..255 bytes", cmd);
				return EXIT_USAGE;
			}
			o->name = val;
			break;
		case OPT_LIMIT:
			if (count_opt(cmd, "--limit", val, &o->limit) != 0)
				return EXIT_USAGE;
			break;
		case OPT_COUNT:
			if (count_opt(cmd, "--count", val, &o->count) != 0)
				return EXIT_USAGE;
			break;
		case OPT_INTERVAL:
			if (parse_num(val, 3600000, &o->interval) != 0) {
				say("%s: bad --interval '%s': expected milliseconds, 1..3600000",
				    cmd, val);
				return EXIT_USAGE;
			}
			break;
		case OPT_SORT:
			o->sort = val;
			break;
		case OPT_SAMPLES:
			if (parse_num(val, 100, &o->samples) != 0 || o->samples < 2) {
				say("%s: bad --samples '%s': expected 2..100", cmd, val);
				return EXIT_USAGE;
			}
			break;
		case OPT_SLOW:
			if (parse_num(val, 3600000, &o->slow) != 0) {
				say("%s: bad --slow '%s': expected milliseconds, 1..3600000", cmd,
				    val);
				return EXIT_USAGE;
			}
			break;
		case OPT_MESSAGE:
			if (strlen(val) > 255) {
				say("%s: --message is longer than 255 bytes", cmd);
				return EXIT_USAGE;
			}
			o->message = val;
			break;
		default: /* --timeout */
			if (parse_num(val, 3600000, &num) != 0) {
				say("%s: bad --timeout '%s': expected milliseconds, 1..3600000",
				    cmd, val);
				return EXIT_USAGE;
			}
			g_timeout = (int)num;
			g_timeout_set = 1;
			break;
		}
	}
	if ((mask & OPT_ID) && !have_id) {
		say("%s: missing operation ID (see nactorctl %s --help)", cmd, cmd);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- commands ---- */

static int cmd_nodes(int argc, char **argv)
{
	static char names[CTL_MAX_NODES][CTL_NODE_MAX + 1];
	struct opts o;
	struct table t = {.ncols = 6,
	    .head = {"NODE", "PID", "LIVE ACTORS", "OPS", "MEMBERS", "STATE"},
	    .right = {0, 1, 1, 1, 1, 0}};
	char dir[CTL_PATH_MAX];
	int rv, nlive = 0, first = 1;
	if ((rv = parse_opts("nodes", argc, argv, OPT_JSON, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	int n = scan_nodes(names, dir, sizeof(dir));
	if (n < 0)
		return EXIT_NOCONN;
	if (o.json)
		fputs("[", stdout);
	for (int i = 0; i < n; i++) {
		struct req q = {.verb = "stats"};
		struct reply rp;
		char pid[24] = "-", live[24] = "-", ops[48] = "-", mem[48] = "-";
		struct reply mr;
		int mrv = -1;
		const char *state;
		nng_socket s;
		if ((rv = node_dial(&s, names[i])) != 0) {
			state = rv == NNG_ECONNREFUSED || rv == NNG_ENOENT ? "dead (stale socket)" :
			                                                     "cannot connect";
			rv = EXIT_NOCONN;
		} else {
			nng_close(s);
			/* Errors are shown in the STATE column, not on stderr. */
			g_quiet = 1;
			rv = request(names[i], &q, &rp);
			g_quiet = 0;
			state = rv == 0 ? "running" : "not answering";
			if (rv == 0) { /* membership, when the node is a cluster node */
				struct req mq = {.verb = "members"};
				g_quiet = 1;
				mrv = request(names[i], &mq, &mr);
				g_quiet = 0;
				int mok = 1;
				uint64_t ml = mrv == 0 ? mp_uint(&mr.top, "live", &mok) : 0;
				uint64_t mt = mrv == 0 ? mp_uint(&mr.top, "total", &mok) : 0;
				if (mrv == 0 && mok)
					snprintf(mem, sizeof(mem), "%" PRIu64 "/%" PRIu64, ml, mt);
			}
		}
		if (rv == 0) {
			int ok = 1;
			uint64_t p = mp_uint(&rp.top, "pid", &ok);
			uint64_t la = mp_uint(&rp.top, "live_actors", &ok);
			uint64_t ol = mp_uint(&rp.top, "ops_live", &ok);
			uint64_t oh = mp_uint(&rp.top, "ops_history", &ok);
			if (ok) {
				snprintf(pid, sizeof(pid), "%" PRIu64, p);
				snprintf(live, sizeof(live), "%" PRIu64, la);
				snprintf(ops, sizeof(ops), "%" PRIu64 "/%" PRIu64, ol, oh);
				nlive++;
			} else {
				state = "bad reply";
			}
		}
		if (o.json) {
			fputs(first ? "\n  {\"node\": " : ",\n  {\"node\": ", stdout);
			first = 0;
			json_str(stdout, names[i], strlen(names[i]));
			fputs(", \"state\": ", stdout);
			json_str(stdout, state, strlen(state));
			if (rv == 0) {
				fputs(", \"stats\": ", stdout);
				json_value(stdout, &rp.top, 1);
			}
			if (mrv == 0) {
				fputs(", \"members\": ", stdout);
				json_value(stdout, &mr.top, 1);
			}
			fputs("}", stdout);
		} else {
			const char *row[6] = {names[i], pid, live, ops, mem, state};
			table_row(&t, row);
		}
		if (rv == 0)
			reply_fini(&rp);
		if (mrv == 0)
			reply_fini(&mr);
	}
	if (o.json) {
		fputs(first ? "]\n" : "\n]\n", stdout);
	} else if (n == 0) {
		say("no nodes in %s", dir);
	} else {
		if (t.oom) {
			say("out of memory");
			table_print(&t);
			return EXIT_FAIL;
		}
		table_print(&t);
	}
	return nlive > 0 ? EXIT_OK : EXIT_NOCONN;
}

static int cmd_members(int argc, char **argv)
{
	struct opts o;
	struct reply rp;
	char node[CTL_NODE_MAX + 1];
	int rv, ok = 1;
	if ((rv = parse_opts("members", argc, argv, OPT_NODE | OPT_JSON, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	struct req q = {.verb = "members"};
	if ((rv = request(node, &q, &rp)) != 0)
		return rv;
	if (o.json) {
		json_value(stdout, &rp.top, 0);
		putchar('\n');
		reply_fini(&rp);
		return EXIT_OK;
	}
	char *name = mp_str(&rp.top, "node", &ok);
	uint64_t total = mp_uint(&rp.top, "total", &ok), live = mp_uint(&rp.top, "live", &ok);
	uint64_t per = mp_uint(&rp.top, "period_ms", &ok),
	         sus = mp_uint(&rp.top, "suspicion_ms", &ok);
	uint64_t sent = mp_uint(&rp.top, "sent", &ok), periods = mp_uint(&rp.top, "periods", &ok);
	const msgpack_object *arr = mp_get(&rp.top, "members");
	if (!ok || name == NULL || arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY) {
		free(name);
		reply_fini(&rp);
		say("bad reply from node %s: members lack fields", node);
		return EXIT_FAIL;
	}
	printf("cluster node %s: %" PRIu64 " members, %" PRIu64 " alive or suspect; period %" PRIu64
	       " ms, suspicion timeout %" PRIu64 " ms, %.2f messages sent per period\n",
	    name, total, live, per, sus, periods ? (double)sent / (double)periods : 0.0);
	free(name);
	struct table t = {.ncols = 6,
	    .head = {"NAME", "URL", "STATE", "INCARNATION", "PEER", "CONNECTED"},
	    .right = {0, 0, 0, 1, 1, 0}};
	for (uint32_t i = 0; i < arr->via.array.size; i++) {
		const msgpack_object *m = &arr->via.array.ptr[i];
		int mok = 1;
		char *mn = mp_str(m, "name", &mok), *mu = mp_str(m, "url", &mok);
		char *st = mp_str(m, "state", &mok);
		uint64_t inc = mp_uint(m, "incarnation", &mok), pr = mp_uint(m, "peer", &mok);
		const msgpack_object *self = mp_get(m, "self"), *con = mp_get(m, "connected");
		int is_self =
		    self != NULL && self->type == MSGPACK_OBJECT_BOOLEAN && self->via.boolean;
		int is_con = con != NULL && con->type == MSGPACK_OBJECT_BOOLEAN && con->via.boolean;
		char incs[24], prs[24];
		snprintf(incs, sizeof(incs), "%" PRIu64, inc);
		snprintf(prs, sizeof(prs), "%" PRIu64, pr);
		const char *row[6] = {mn, mu, st, incs, is_self ? "self" : prs,
		    is_self ? "-" : (is_con ? "yes" : "no")};
		if (mok)
			table_row(&t, row);
		else
			ok = 0;
		free(mn);
		free(mu);
		free(st);
	}
	reply_fini(&rp);
	table_print(&t);
	if (!ok || t.oom) {
		say("bad reply from node %s: a member lacks fields", node);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* "25%" for a fraction; "-" for a bad value. */
static void fmt_progress(char *buf, size_t cap, double p)
{
	if (isnan(p) || p < 0 || p > 1)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.0f%%", p * 100);
}

/* Print the "data" of a reply as JSON (the value at key). */
static int print_json(const struct reply *rp, const char *key)
{
	const msgpack_object *d = mp_get(&rp->top, key);
	if (d == NULL) {
		say("bad reply: no \"%s\"", key);
		return EXIT_FAIL;
	}
	json_value(stdout, d, 0);
	putchar('\n');
	return EXIT_OK;
}

/* Print the reply's data as JSON: the map without its "v" and "ok"
 * envelope (at most 16 keys). */
static void print_data_json(const struct reply *rp)
{
	msgpack_object d = rp->top;
	uint32_t k = 0;
	msgpack_object_kv kv[16];
	for (uint32_t i = 0; i < rp->top.via.map.size && k < 16; i++) {
		const msgpack_object *key = &rp->top.via.map.ptr[i].key;
		if (key->type == MSGPACK_OBJECT_STR &&
		    ((key->via.str.size == 1 && key->via.str.ptr[0] == 'v') ||
		        (key->via.str.size == 2 && memcmp(key->via.str.ptr, "ok", 2) == 0)))
			continue;
		kv[k++] = rp->top.via.map.ptr[i];
	}
	d.via.map.ptr = kv;
	d.via.map.size = k;
	json_value(stdout, &d, 0);
	putchar('\n');
}

static int cmd_ls(int argc, char **argv)
{
	struct opts o;
	struct reply rp;
	char node[CTL_NODE_MAX + 1];
	int rv;
	if ((rv = parse_opts("ls", argc, argv,
	         OPT_NODE | OPT_JSON | OPT_STATUS | OPT_NAME | OPT_LIMIT, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	struct req q = {.verb = "list", .status = o.status, .name = o.name, .limit = o.limit};
	if ((rv = request(node, &q, &rp)) != 0)
		return rv;
	const msgpack_object *ops = mp_get(&rp.top, "ops");
	if (ops == NULL || ops->type != MSGPACK_OBJECT_ARRAY) {
		say("bad reply from node %s: no \"ops\" array", node);
		reply_fini(&rp);
		return EXIT_FAIL;
	}
	if (o.json) {
		rv = print_json(&rp, "ops");
		reply_fini(&rp);
		return rv;
	}
	struct table t = {.ncols = 6,
	    .head = {"ID", "PARENT", "NAME", "STATUS", "PROGRESS", "MESSAGE"},
	    .right = {1, 1, 0, 0, 1, 0}};
	int ok = 1;
	for (uint32_t i = 0; i < ops->via.array.size; i++) {
		const msgpack_object *op = &ops->via.array.ptr[i];
		char id[24], parent[24], prog[16];
		uint64_t pa = mp_uint(op, "parent", &ok);
		snprintf(id, sizeof(id), "%" PRIu64, mp_uint(op, "id", &ok));
		snprintf(parent, sizeof(parent), pa ? "%" PRIu64 : "-", pa);
		fmt_progress(prog, sizeof(prog), mp_double(op, "progress", &ok));
		char *name = mp_str(op, "name", &ok);
		char *status = mp_str(op, "status", &ok);
		char *msg = mp_str(op, "message", &ok);
		char *pmsg = mp_str(op, "progress_msg", &ok);
		/* The failure/cancel message when there is one, else progress. */
		const char *row[6] = {id, parent, name, status, prog, msg && *msg ? msg : pmsg};
		table_row(&t, row);
		free(name);
		free(status);
		free(msg);
		free(pmsg);
	}
	table_print(&t);
	const msgpack_object *more = mp_get(&rp.top, "more");
	if (more != NULL && more->type == MSGPACK_OBJECT_BOOLEAN && more->via.boolean)
		say("more operations than shown (raise --limit)");
	reply_fini(&rp);
	if (!ok || t.oom) {
		say(t.oom ? "out of memory" : "bad reply from node %s: an operation lacks fields",
		    node);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int cmd_show(int argc, char **argv)
{
	static const char *const strs[] = {"name", "tags", "status", "reason", "message",
	    "progress_msg"};
	struct opts o;
	struct reply rp;
	char node[CTL_NODE_MAX + 1];
	int rv, ok = 1;
	if ((rv = parse_opts("show", argc, argv, OPT_NODE | OPT_JSON | OPT_ID, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	struct req q = {.verb = "get", .id = o.id};
	if ((rv = request(node, &q, &rp)) != 0)
		return rv;
	const msgpack_object *op = mp_get(&rp.top, "op");
	if (op == NULL || op->type != MSGPACK_OBJECT_MAP) {
		say("bad reply from node %s: no \"op\" map", node);
		reply_fini(&rp);
		return EXIT_FAIL;
	}
	if (o.json) {
		rv = print_json(&rp, "op");
		reply_fini(&rp);
		return rv;
	}
	char *s[6];
	for (int i = 0; i < 6; i++)
		s[i] = mp_str(op, strs[i], &ok);
	uint64_t id = mp_uint(op, "id", &ok), parent = mp_uint(op, "parent", &ok);
	uint64_t cr = mp_uint(op, "created_ns", &ok), st = mp_uint(op, "started_ns", &ok);
	uint64_t en = mp_uint(op, "ended_ns", &ok), actor = mp_uint(op, "actor", &ok);
	char prog[16];
	fmt_progress(prog, sizeof(prog), mp_double(op, "progress", &ok));
	printf("id:        %" PRIu64 "\n", id);
	if (parent)
		printf("parent:    %" PRIu64 "\n", parent);
	else
		printf("parent:    -\n");
	printf("name:      %s\n", s[0] && *s[0] ? s[0] : "-");
	printf("tags:      %s\n", s[1] && *s[1] ? s[1] : "-");
	printf("status:    %s\n", s[2] && *s[2] ? s[2] : "-");
	printf("reason:    %s\n", s[3] && *s[3] ? s[3] : "-");
	printf("message:   %s\n", s[4] && *s[4] ? s[4] : "-");
	printf("progress:  %s%s%s\n", prog, s[5] && *s[5] ? " " : "", s[5] ? s[5] : "");
	printf("created:   %" PRIu64 " ns (node clock)\n", cr);
	if (st)
		printf("started:   +%.3f ms\n", (double)(st - cr) / 1e6);
	else
		printf("started:   -\n");
	if (en)
		printf("ended:     +%.3f ms\n", (double)(en - cr) / 1e6);
	else
		printf("ended:     -\n");
	if (st && en >= st)
		printf("duration:  %.3f ms\n", (double)(en - st) / 1e6);
	if (actor)
		printf("actor:     %" PRIu64 "\n", actor);
	else
		printf("actor:     -\n");
	for (int i = 0; i < 6; i++)
		free(s[i]);
	reply_fini(&rp);
	if (!ok) {
		say("bad reply from node %s: the operation lacks fields", node);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int cmd_cancel(int argc, char **argv)
{
	struct opts o;
	struct reply rp;
	char node[CTL_NODE_MAX + 1];
	int rv;
	if ((rv = parse_opts("cancel", argc, argv, OPT_NODE | OPT_MESSAGE | OPT_ID, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	struct req q = {.verb = "cancel", .id = o.id, .message = o.message};
	if ((rv = request(node, &q, &rp)) != 0)
		return rv;
	reply_fini(&rp);
	printf("cancelled operation %" PRIu64 " on node %s\n", o.id, node);
	return EXIT_OK;
}

static int cmd_stats(int argc, char **argv)
{
	static const char *const keys[] = {"pid", "live_actors", "spawned", "dead_letters",
	    "ops_live", "ops_history", "pub_dropped", "cycles"};
	struct opts o;
	struct reply rp;
	char node[CTL_NODE_MAX + 1];
	int rv, ok = 1;
	if ((rv = parse_opts("stats", argc, argv, OPT_NODE | OPT_JSON, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	struct req q = {.verb = "stats"};
	if ((rv = request(node, &q, &rp)) != 0)
		return rv;
	if (o.json) {
		print_data_json(&rp);
		reply_fini(&rp);
		return EXIT_OK;
	}
	char *name = mp_str(&rp.top, "node", &ok);
	printf("%-13s %s\n", "node:", name ? name : "");
	free(name);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char label[32];
		snprintf(label, sizeof(label), "%s:", keys[i]);
		printf("%-13s %" PRIu64 "\n", label, mp_uint(&rp.top, keys[i], &ok));
	}
	reply_fini(&rp);
	if (!ok) {
		say("bad reply from node %s: stats lack fields", node);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Print one node n of a tree after lead and branch (the line's start);
 * 0, or -1 when the node has the wrong shape. */
typedef int (*node_line_fn)(const msgpack_object *n, const char *lead, const char *branch);

/* Draw the nodes of arr, each line prefix + branch + line(n); roots
 * (prefix NULL) get no branch, and children line up under their
 * parent's name. 0, or -1 when a node has the wrong shape. */
static int tree_walk(const msgpack_object *arr, const char *prefix, node_line_fn line)
{
	if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (uint32_t i = 0; i < arr->via.array.size; i++) {
		const msgpack_object *n = &arr->via.array.ptr[i];
		int last = i + 1 == arr->via.array.size;
		char sub[512];
		if (line(n, prefix ? prefix : "",
		        prefix ? (last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ") : "") != 0)
			return -1;
		int w = snprintf(sub, sizeof(sub), "%s%s", prefix ? prefix : "",
		    prefix ? (last ? "    " : "\u2502   ") : "");
		if (w < 0 || (size_t)w >= sizeof(sub))
			return -1;
		if (tree_walk(mp_get(n, "children"), sub, line) != 0)
			return -1;
	}
	return 0;
}

/* An actor tree node: "NAME (ID) STATUS". */
static int actor_line(const msgpack_object *n, const char *lead, const char *branch)
{
	int ok = 1;
	uint64_t id = mp_uint(n, "id", &ok);
	char *name = mp_str(n, "name", &ok);
	char *status = mp_str(n, "status", &ok);
	if (ok && name != NULL && status != NULL)
		printf("%s%s%s (%" PRIu64 ") %s\n", lead, branch, name, id, status);
	free(name);
	free(status);
	return ok ? 0 : -1;
}

/* A supervision node (the "supervisors" key): "ID [KIND] (aid AID)
 * STATUS[, N restarts][, last exit E]". */
static int sup_line(const msgpack_object *n, const char *lead, const char *branch)
{
	int ok = 1;
	char *kind = mp_str(n, "kind", &ok);
	char *id = mp_str(n, "id", &ok);
	uint64_t aid = mp_uint(n, "aid", &ok);
	char *status = mp_str(n, "status", &ok);
	uint64_t restarts = mp_uint(n, "restarts", &ok);
	char *lx = mp_str(n, "last_exit", &ok);
	if (ok && kind && id && status && lx) {
		printf("%s%s%s [%s] (aid %" PRIu64 ") %s", lead, branch, id, kind, aid, status);
		if (restarts > 0)
			printf(", %" PRIu64 " restart%s", restarts, restarts == 1 ? "" : "s");
		if (*lx)
			printf(", last exit %s", lx);
		putchar('\n');
	}
	free(kind);
	free(id);
	free(status);
	free(lx);
	return ok ? 0 : -1;
}

static int cmd_tree(int argc, char **argv)
{
	struct opts o;
	struct reply rp;
	char node[CTL_NODE_MAX + 1];
	int rv;
	if ((rv = parse_opts("tree", argc, argv, OPT_NODE | OPT_JSON, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	struct req q = {.verb = "tree"};
	if ((rv = request(node, &q, &rp)) != 0)
		return rv;
	const msgpack_object *roots = mp_get(&rp.top, "roots");
	const msgpack_object *tr = mp_get(&rp.top, "truncated");
	if (roots == NULL || roots->type != MSGPACK_OBJECT_ARRAY || tr == NULL ||
	    tr->type != MSGPACK_OBJECT_BOOLEAN) {
		say("bad reply from node %s: no \"roots\" array or \"truncated\"", node);
		reply_fini(&rp);
		return EXIT_FAIL;
	}
	if (o.json) {
		print_data_json(&rp);
		reply_fini(&rp);
		return EXIT_OK;
	}
	rv = tree_walk(roots, NULL, actor_line);
	if (rv == 0 && roots->via.array.size == 0)
		say("no live operations on node %s", node);
	if (rv == 0 && tr->via.boolean)
		say("the node left operations out (at most 12 levels and 1000 operations; "
		    "see nactorctl ls)");
	/* The supervision trees (a node older than this key has none). */
	const msgpack_object *sups = mp_get(&rp.top, "supervisors");
	const msgpack_object *st = mp_get(&rp.top, "supervisors_truncated");
	if (rv == 0 && sups != NULL && sups->type == MSGPACK_OBJECT_ARRAY &&
	    sups->via.array.size > 0) {
		printf("%ssupervisors:\n", roots->via.array.size > 0 ? "\n" : "");
		if (tree_walk(sups, NULL, sup_line) != 0) {
			reply_fini(&rp);
			say("bad reply from node %s: a supervision node lacks fields", node);
			return EXIT_FAIL;
		}
		if (st != NULL && st->type == MSGPACK_OBJECT_BOOLEAN && st->via.boolean)
			say("the node left supervisors or children out (at most 256 each, "
			    "12 levels)");
	}
	reply_fini(&rp);
	if (rv != 0) {
		say("bad reply from node %s: a tree node lacks fields", node);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* One progress event line: ID NAME progress P%[: PROGRESS_MSG]. */
static int watch_progress_line(const msgpack_object *op)
{
	int ok = 1;
	uint64_t id = mp_uint(op, "id", &ok);
	char *name = mp_str(op, "name", &ok);
	char *pmsg = mp_str(op, "progress_msg", &ok);
	const msgpack_object *p = mp_get(op, "progress");
	if (p == NULL || (p->type != MSGPACK_OBJECT_FLOAT64 && p->type != MSGPACK_OBJECT_FLOAT32))
		ok = 0;
	if (ok && name && pmsg) {
		printf("%" PRIu64 " %s progress %.0f%%", id, name, p->via.f64 * 100.0);
		if (*pmsg)
			printf(": %s", pmsg);
		putchar('\n');
	}
	free(name);
	free(pmsg);
	return ok ? 0 : -1;
}

/* One event line: ID NAME STATUS [(REASON)][: MESSAGE]. 0, or -1 when
 * the op map lacks fields. */
static int watch_line(const msgpack_object *op)
{
	int ok = 1;
	uint64_t id = mp_uint(op, "id", &ok);
	char *name = mp_str(op, "name", &ok);
	char *status = mp_str(op, "status", &ok);
	char *reason = mp_str(op, "reason", &ok);
	char *msg = mp_str(op, "message", &ok);
	if (ok && name && status && reason && msg) {
		printf("%" PRIu64 " %s %s", id, name, status);
		if (strcmp(reason, "none") != 0)
			printf(" (%s)", reason);
		if (*msg)
			printf(": %s", msg);
		putchar('\n');
	}
	free(name);
	free(status);
	free(reason);
	free(msg);
	return ok ? 0 : -1;
}

static int cmd_watch(int argc, char **argv)
{
	struct opts o;
	char node[CTL_NODE_MAX + 1], url[CTL_PATH_MAX + 16];
	nng_socket s;
	uint64_t seen = 0;
	int rv;
	if ((rv = parse_opts("watch", argc, argv, OPT_NODE | OPT_JSON | OPT_COUNT, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	char pubnode[CTL_NODE_MAX + 8];
	snprintf(pubnode, sizeof(pubnode), "%s.pub", node);
	if (node_url(url, sizeof(url), pubnode) != 0) {
		say("runtime directory path too long");
		return EXIT_NOCONN;
	}
	if ((rv = nng_sub0_open(&s)) != 0 ||
	    (rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0) {
		say("cannot open a subscriber: %s", nng_strerror(rv));
		return EXIT_FAIL;
	}
	/* The idle timeout only when asked for: a watch waits by default. */
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, g_timeout_set ? g_timeout : NNG_DURATION_INFINITE);
	if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
		say("cannot connect to the status stream of node %s: %s", node, nng_strerror(rv));
		nng_close(s);
		return EXIT_NOCONN;
	}
	fprintf(stderr, "nactorctl: watching node %s\n", node);
	fflush(stdout);
	while (o.count == 0 || seen < o.count) {
		nng_msg *m;
		nact_reader rd;
		msgpack_object top;
		if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
			/* no nng_close: see the end of this function */
			if (rv == NNG_ETIMEDOUT) {
				if (o.count == 0)
					return EXIT_OK;
				say("no event within %d ms (%" PRIu64 " of %" PRIu64 " seen)",
				    g_timeout, seen, o.count);
				return EXIT_FAIL;
			}
			say("status stream of node %s: %s", node, nng_strerror(rv));
			return EXIT_FAIL;
		}
		nact_limits lim = nact_limits_default();
		lim.max_body = 1u << 20;
		lim.max_depth = 8;
		lim.max_elems = 1024;
		lim.max_total = 4096;
		int bad = 1;
		if (nact_reader_init_buf(&rd, nng_msg_body(m), nng_msg_len(m), &lim) == 0) {
			const msgpack_object *op, *ev;
			if (nact_read_object(&rd, &top) == 0 && top.type == MSGPACK_OBJECT_MAP &&
			    (op = mp_get(&top, "op")) != NULL && op->type == MSGPACK_OBJECT_MAP) {
				/* "op" (a status change) or "progress"; an event
				 * without the key is a status change (v1 nodes
				 * always send it) */
				ev = mp_get(&top, "event");
				int prog = ev != NULL && ev->type == MSGPACK_OBJECT_STR &&
				    ev->via.str.size == 8 &&
				    memcmp(ev->via.str.ptr, "progress", 8) == 0;
				if (o.json) {
					/* the op map, with "event" first */
					fputs(prog ? "{\"event\":\"progress\"" :
					             "{\"event\":\"op\"",
					    stdout);
					for (uint32_t k = 0; k < op->via.map.size; k++) {
						putchar(',');
						json_key(stdout, &op->via.map.ptr[k].key);
						putchar(':');
						json_value(stdout, &op->via.map.ptr[k].val, -1);
					}
					fputs("}\n", stdout);
					bad = 0;
				} else if (prog) {
					bad = watch_progress_line(op);
				} else {
					bad = watch_line(op);
				}
			}
			nact_reader_fini(&rd);
		}
		nng_msg_free(m);
		if (bad) {
			say("bad event from node %s (skipped)", node);
			continue;
		}
		fflush(stdout);
		seen++;
	}
	/* The SUB socket is left open: nactorctl exits right after, which
	 * closes it. nng 1.5.2's nng_close of a SUB socket can deadlock while
	 * events are still arriving (seen here about once in 20 watches of a
	 * busy node; nng issues #1543, #1813), and a watch always stops with
	 * events in flight. */
	fflush(stdout);
	return EXIT_OK;
}

/* ---- top and doctor: the "actors" verb ---- */

#define EXIT_FINDINGS 5 /* doctor found something */

/* One actor of a sample. */
struct act {
	uint64_t id, depth, in, out, restarts, handled, max_ns, p99_ns;
	char *name; /* sanitised, owned */
	int ok;     /* all fields were there */
};

/* What a worker runs in a sample. */
struct wrk {
	uint64_t worker, actor, type, running_ns;
	char *name, *fn;
};

/* One "actors" reply, decoded. */
struct snap {
	int metrics;
	uint64_t total, now_ns, uptime_ns, cpu_ns, rss, threads, fds, workers, live, deadletters;
	struct act *a;
	size_t n;
	struct wrk *w;
	size_t nw;
	struct reply rp; /* kept for --json */
};

static void snap_fini(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->a[i].name);
	for (size_t i = 0; i < s->nw; i++) {
		free(s->w[i].name);
		free(s->w[i].fn);
	}
	free(s->a);
	free(s->w);
	reply_fini(&s->rp);
	memset(s, 0, sizeof(*s));
}

/* Ask node for its actors (sorted by sort, at most limit) into *s. 0 or an
 * exit status after saying why. */
static int snap_get(const char *node, const char *sort, uint64_t limit, struct snap *s)
{
	int rv, ok = 1;
	memset(s, 0, sizeof(*s));
	struct req q = {.verb = "actors", .sort = sort, .limit = limit};
	if ((rv = request(node, &q, &s->rp)) != 0)
		return rv;
	const msgpack_object *top = &s->rp.top;
	const msgpack_object *m = mp_get(top, "metrics");
	s->metrics = m != NULL && m->type == MSGPACK_OBJECT_BOOLEAN && m->via.boolean;
	s->total = mp_uint(top, "total", &ok);
	const msgpack_object *nd = mp_get(top, "node");
	s->now_ns = mp_uint(nd, "now_ns", &ok);
	s->uptime_ns = mp_uint(nd, "uptime_ns", &ok);
	s->cpu_ns = mp_uint(nd, "cpu_ns", &ok);
	s->rss = mp_uint(nd, "rss", &ok);
	s->threads = mp_uint(nd, "threads", &ok);
	s->fds = mp_uint(nd, "fds", &ok);
	s->workers = mp_uint(nd, "workers", &ok);
	s->live = mp_uint(nd, "live", &ok);
	s->deadletters = mp_uint(nd, "deadletters", &ok);
	const msgpack_object *arr = mp_get(top, "actors");
	const msgpack_object *warr = mp_get(top, "workers");
	if (!ok || arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY || warr == NULL ||
	    warr->type != MSGPACK_OBJECT_ARRAY) {
		say("bad reply from node %s: \"actors\" lacks fields", node);
		snap_fini(s);
		return EXIT_FAIL;
	}
	s->a = calloc(arr->via.array.size + 1, sizeof(*s->a));
	s->w = calloc(warr->via.array.size + 1, sizeof(*s->w));
	if (s->a == NULL || s->w == NULL) {
		say("out of memory");
		snap_fini(s);
		return EXIT_FAIL;
	}
	for (uint32_t i = 0; i < arr->via.array.size; i++) {
		const msgpack_object *o = &arr->via.array.ptr[i];
		struct act *a = &s->a[s->n++];
		a->ok = 1;
		a->id = mp_uint(o, "id", &a->ok);
		a->name = mp_str(o, "name", &a->ok);
		a->depth = mp_uint(o, "depth", &a->ok);
		a->in = mp_uint(o, "in", &a->ok);
		a->out = mp_uint(o, "out", &a->ok);
		a->restarts = mp_uint(o, "restarts", &a->ok);
		a->handled = mp_uint(o, "handled", &a->ok);
		a->max_ns = mp_uint(o, "max_ns", &a->ok);
		a->p99_ns = mp_uint(o, "p99_ns", &a->ok);
		if (!a->ok || a->name == NULL) {
			say("bad reply from node %s: an actor lacks fields", node);
			snap_fini(s);
			return EXIT_FAIL;
		}
	}
	for (uint32_t i = 0; i < warr->via.array.size; i++) {
		const msgpack_object *o = &warr->via.array.ptr[i];
		struct wrk *w = &s->w[s->nw++];
		int wok = 1;
		w->worker = mp_uint(o, "worker", &wok);
		w->actor = mp_uint(o, "actor", &wok);
		w->type = mp_uint(o, "type", &wok);
		w->running_ns = mp_uint(o, "running_ns", &wok);
		w->name = mp_str(o, "name", &wok);
		w->fn = mp_str(o, "fn", &wok);
		if (!wok || w->name == NULL || w->fn == NULL) {
			say("bad reply from node %s: a worker lacks fields", node);
			snap_fini(s);
			return EXIT_FAIL;
		}
	}
	return 0;
}

static const struct act *snap_find(const struct snap *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->a[i].id == id)
			return &s->a[i];
	return NULL;
}

static void fmt_bytes(char *buf, size_t cap, uint64_t b)
{
	if (b >= (1u << 30))
		snprintf(buf, cap, "%.1f GiB", (double)b / (double)(1u << 30));
	else if (b >= (1u << 20))
		snprintf(buf, cap, "%.1f MiB", (double)b / (double)(1u << 20));
	else
		snprintf(buf, cap, "%.1f KiB", (double)b / 1024.0);
}

static void fmt_ns(char *buf, size_t cap, uint64_t ns)
{
	if (ns == 0)
		snprintf(buf, cap, "-");
	else if (ns >= 1000000000u)
		snprintf(buf, cap, "%.1fs", (double)ns / 1e9);
	else if (ns >= 1000000u)
		snprintf(buf, cap, "%.1fms", (double)ns / 1e6);
	else if (ns >= 1000u)
		snprintf(buf, cap, "%.1fus", (double)ns / 1e3);
	else
		snprintf(buf, cap, "%lluns", (unsigned long long)ns);
}

static const char *const top_sorts[] = {"depth", "in", "out", "restarts", "p99", "busy", "handled",
    "id"};

/* One top screen from s (prev: the sample before, or NULL). */
static void top_print(const char *node, const struct snap *s, const struct snap *prev)
{
	char rss[32], line[64];
	double dt =
	    prev != NULL && s->now_ns > prev->now_ns ? (double)(s->now_ns - prev->now_ns) / 1e9 : 0;
	fmt_bytes(rss, sizeof(rss), s->rss);
	printf("node %s  up %.0fs  cpu ", node, (double)s->uptime_ns / 1e9);
	if (dt > 0 && s->cpu_ns >= prev->cpu_ns)
		printf("%.0f%%", 100.0 * (double)(s->cpu_ns - prev->cpu_ns) / 1e9 / dt);
	else
		printf("-");
	printf("  rss %s  threads %" PRIu64 "  fds %" PRIu64 "  actors %" PRIu64
	       "  dead letters %" PRIu64,
	    rss, s->threads, s->fds, s->live, s->deadletters);
	if (dt > 0 && s->deadletters >= prev->deadletters)
		printf(" (%.1f/s)", (double)(s->deadletters - prev->deadletters) / dt);
	printf("\n\n");
	if (!s->metrics) {
		printf("(metrics are off on this node: open it with nact_config.metrics = 1)\n");
		return;
	}
	struct table t = {.ncols = 8,
	    .head = {"ID", "NAME", "DEPTH", "MSG/S", "IN", "OUT", "RESTARTS", "STATUS"},
	    .right = {0, 0, 1, 1, 1, 1, 1, 0}};
	for (size_t i = 0; i < s->n; i++) {
		const struct act *a = &s->a[i];
		char id[24], depth[24], rate[24], in[24], out[24], rs[24], st[128];
		snprintf(id, sizeof(id), "%#" PRIx64, a->id);
		snprintf(depth, sizeof(depth), "%" PRIu64, a->depth);
		const struct act *p = prev != NULL ? snap_find(prev, a->id) : NULL;
		if (p != NULL && dt > 0 && a->in >= p->in)
			snprintf(rate, sizeof(rate), "%.0f", (double)(a->in - p->in) / dt);
		else
			snprintf(rate, sizeof(rate), "-");
		snprintf(in, sizeof(in), "%" PRIu64, a->in);
		snprintf(out, sizeof(out), "%" PRIu64, a->out);
		snprintf(rs, sizeof(rs), "%" PRIu64, a->restarts);
		snprintf(st, sizeof(st), "%s", a->depth > 0 ? "queued" : "idle");
		for (size_t k = 0; k < s->nw; k++)
			if (s->w[k].actor == a->id && s->w[k].running_ns > 0) {
				fmt_ns(line, sizeof(line), s->w[k].running_ns);
				snprintf(st, sizeof(st), "running %s (worker %" PRIu64 ")", line,
				    s->w[k].worker);
			} else if (s->w[k].actor == a->id) {
				snprintf(st, sizeof(st), "running (worker %" PRIu64 ")",
				    s->w[k].worker);
			}
		const char *cells[8] = {id, a->name[0] ? a->name : "-", depth, rate, in, out, rs,
		    st};
		table_row(&t, cells);
	}
	if (t.oom)
		say("out of memory");
	table_print(&t);
	if (s->total > s->n)
		printf("(%" PRIu64 " more actors)\n", s->total - s->n);
}

static int cmd_top(int argc, char **argv)
{
	struct opts o;
	char node[CTL_NODE_MAX + 1];
	int rv;
	if ((rv = parse_opts("top", argc, argv,
	         OPT_NODE | OPT_JSON | OPT_COUNT | OPT_LIMIT | OPT_ONCE | OPT_INTERVAL | OPT_SORT,
	         &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if (o.sort != NULL) {
		size_t k;
		for (k = 0; k < sizeof(top_sorts) / sizeof(top_sorts[0]); k++)
			if (strcmp(o.sort, top_sorts[k]) == 0)
				break;
		if (k == sizeof(top_sorts) / sizeof(top_sorts[0])) {
			say("top: bad --sort '%s': depth, in, out, restarts, p99, busy, handled or id",
			    o.sort);
			return EXIT_USAGE;
		}
	}
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	uint64_t frames = o.once ? 1 : o.count; /* 0 = until interrupted */
	uint64_t interval = o.interval ? o.interval : 1000;
	int clear = frames == 0 && !o.json && isatty(STDOUT_FILENO);
	struct snap prev, cur;
	int have_prev = 0;
	for (uint64_t f = 0; frames == 0 || f < frames; f++) {
		if (f > 0)
			nng_msleep((nng_duration)interval);
		if ((rv = snap_get(node, o.sort ? o.sort : "depth", o.limit ? o.limit : 20,
		         &cur)) != 0)
			break;
		if (o.json) {
			print_data_json(&cur.rp);
		} else {
			if (clear)
				fputs("\033[H\033[2J", stdout);
			top_print(node, &cur, have_prev ? &prev : NULL);
			if (frames == 0 || f + 1 < frames)
				putchar('\n');
		}
		fflush(stdout);
		if (!cur.metrics && f == 0)
			say("top: node %s has metrics off; only node figures are shown", node);
		if (have_prev)
			snap_fini(&prev);
		prev = cur;
		have_prev = 1;
	}
	if (have_prev)
		snap_fini(&prev);
	return rv;
}

/* ---- doctor ---- */

struct finding {
	char check[24];
	char actors[256]; /* ids, space separated */
	char detail[256];
};

struct findings {
	struct finding *v;
	size_t n, cap;
};

static void add_finding(struct findings *fs, const char *check, const char *actors, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void add_finding(struct findings *fs, const char *check, const char *actors, const char *fmt,
    ...)
{
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 8;
		struct finding *v = realloc(fs->v, cap * sizeof(*v));
		if (v == NULL)
			return;
		fs->v = v;
		fs->cap = cap;
	}
	struct finding *f = &fs->v[fs->n++];
	va_list ap;
	snprintf(f->check, sizeof(f->check), "%s", check);
	snprintf(f->actors, sizeof(f->actors), "%s", actors);
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
}

static void actor_label(char *buf, size_t cap, uint64_t id, const char *name)
{
	if (name != NULL && name[0] != '\0')
		snprintf(buf, cap, "%#" PRIx64 " (%s)", id, name);
	else
		snprintf(buf, cap, "%#" PRIx64, id);
}

static int cmd_doctor(int argc, char **argv)
{
	struct opts o;
	char node[CTL_NODE_MAX + 1];
	int rv;
	if ((rv = parse_opts("doctor", argc, argv,
	         OPT_NODE | OPT_JSON | OPT_SAMPLES | OPT_INTERVAL | OPT_SLOW, &o)) != 0)
		return rv < 0 ? EXIT_OK : rv;
	if ((rv = pick_node(o.node, node)) != 0)
		return rv;
	uint64_t ns = o.samples ? o.samples : 4;
	uint64_t interval = o.interval ? o.interval : 500;
	uint64_t slow_ns = (o.slow ? o.slow : 100) * 1000000u;
	if (ns < 2 || ns > 100) {
		say("doctor: --samples must be 2..100");
		return EXIT_USAGE;
	}
	struct snap *s = calloc(ns, sizeof(*s));
	if (s == NULL) {
		say("out of memory");
		return EXIT_FAIL;
	}
	uint64_t got = 0;
	for (; got < ns; got++) {
		if (got > 0)
			nng_msleep((nng_duration)interval);
		if ((rv = snap_get(node, "id", 10000, &s[got])) != 0)
			break;
	}
	struct findings fs = {0};
	char lbl[128];
	if (rv != 0)
		goto out;
	if (!s[0].metrics) {
		say("doctor: node %s has metrics off (nact_config.metrics = 0): only node checks run",
		    node);
	}
	const struct snap *first = &s[0], *last = &s[ns - 1];
	double secs = (double)(last->now_ns - first->now_ns) / 1e9;
	/* 1. mailboxes that keep growing: depth up at every sample */
	for (size_t i = 0; i < last->n; i++) {
		const struct act *a = &last->a[i];
		uint64_t d = a->depth;
		int grow = a->depth > 0;
		char hist[160] = "";
		size_t hl = 0;
		for (uint64_t k = 0; k < ns && grow; k++) {
			const struct act *b = snap_find(&s[k], a->id);
			if (b == NULL || (k > 0 && b->depth <= d)) {
				grow = 0;
				break;
			}
			d = b->depth;
			if (hl < sizeof(hist) - 24)
				hl += (size_t)snprintf(hist + hl, sizeof(hist) - hl, "%s%" PRIu64,
				    k ? " -> " : "", b->depth);
		}
		if (grow) {
			actor_label(lbl, sizeof(lbl), a->id, a->name);
			add_finding(&fs, "mailbox-growing", lbl, "depth %s over %.1fs", hist, secs);
		}
	}
	/* 2. handlers over the slow threshold: now running, or timed */
	for (size_t i = 0; i < last->n; i++) {
		const struct act *a = &last->a[i];
		uint64_t run = 0;
		for (size_t k = 0; k < last->nw; k++)
			if (last->w[k].actor == a->id && last->w[k].running_ns > run)
				run = last->w[k].running_ns;
		if (run >= slow_ns || a->max_ns >= slow_ns) {
			char r[32], m[32], d[96];
			fmt_ns(r, sizeof(r), run);
			fmt_ns(m, sizeof(m), a->max_ns);
			actor_label(lbl, sizeof(lbl), a->id, a->name);
			if (run > 0)
				snprintf(d, sizeof(d), "; one running now for at least %s", r);
			else
				d[0] = '\0';
			add_finding(&fs, "slow-handler", lbl,
			    "longest timed call %s%s (threshold %" PRIu64 " ms)", m, d,
			    slow_ns / 1000000u);
		}
	}
	/* 3. workers blocked: one call across samples, over the threshold */
	for (size_t k = 0; k < last->nw; k++) {
		const struct wrk *w = &last->w[k];
		if (w->actor == 0 || w->running_ns < slow_ns)
			continue;
		actor_label(lbl, sizeof(lbl), w->actor, w->name);
		add_finding(&fs, "worker-blocked", lbl,
		    "worker %" PRIu64 " in one call (type %#" PRIx64 ", %s) for at least %.0f ms",
		    w->worker, w->type, w->fn, (double)w->running_ns / 1e6);
	}
	/* 4. restart storms: a child still being restarted during the window,
	 * restarted at least 3 times in all (grouped by name, else by id) */
	for (size_t i = 0; i < last->n; i++) {
		const struct act *a = &last->a[i];
		if (a->restarts < 3)
			continue;
		uint64_t before = 0;
		for (size_t j = 0; j < first->n; j++) {
			const struct act *b = &first->a[j];
			if ((a->name[0] && strcmp(a->name, b->name) == 0) || b->id == a->id)
				before = b->restarts > before ? b->restarts : before;
		}
		if (a->restarts > before) {
			actor_label(lbl, sizeof(lbl), a->id, a->name);
			add_finding(&fs, "restart-storm", lbl,
			    "restarted %" PRIu64 " times, %" PRIu64 " during the last %.1fs",
			    a->restarts, a->restarts - before, secs);
		}
	}
	/* 5. dead-letter rate */
	if (secs > 0 && last->deadletters > first->deadletters) {
		double rate = (double)(last->deadletters - first->deadletters) / secs;
		if (rate >= 1.0)
			add_finding(&fs, "deadletter-rate", "-",
			    "%.1f dead letters/s (%" PRIu64 " in %.1fs; threshold 1/s)", rate,
			    last->deadletters - first->deadletters, secs);
	}
	/* 6. memory that only grows: RSS up at every sample, by >= 1 MiB */
	int up = 1;
	for (uint64_t k = 1; k < ns; k++)
		if (s[k].rss <= s[k - 1].rss)
			up = 0;
	if (up && last->rss >= first->rss + (1u << 20)) {
		char a[32], b[32];
		fmt_bytes(a, sizeof(a), first->rss);
		fmt_bytes(b, sizeof(b), last->rss);
		add_finding(&fs, "memory-growing", "-",
		    "rss %s -> %s, up at every sample over %.1fs", a, b, secs);
	}
	/* 7. request cycles: the registry refuses the request that would
	 * close a wait-for cycle and counts it (stats: cycles, last_cycle) */
	{
		struct req q = {.verb = "stats"};
		struct reply rp;
		int ok = 1;
		if ((rv = request(node, &q, &rp)) != 0)
			goto out;
		uint64_t nc = mp_uint(&rp.top, "cycles", &ok);
		char *lc = mp_str(&rp.top, "last_cycle", &ok);
		if (ok && nc > 0) {
			char ops[160];
			snprintf(ops, sizeof(ops), "ops %s", lc != NULL ? lc : "?");
			add_finding(&fs, "request-cycle", ops,
			    "%" PRIu64
			    " request%s refused as wait-for cycles since start (last shown)",
			    nc, nc == 1 ? "" : "s");
		}
		free(lc);
		reply_fini(&rp);
	}
out:
	if (rv == 0) {
		if (o.json) {
			printf("{\n  \"node\": ");
			json_str(stdout, node, strlen(node));
			printf(",\n  \"samples\": %" PRIu64
			       ",\n  \"seconds\": %.3f,\n  \"metrics\": %s,\n"
			       "  \"findings\": [",
			    ns, (double)(last->now_ns - first->now_ns) / 1e9,
			    first->metrics ? "true" : "false");
			for (size_t i = 0; i < fs.n; i++) {
				printf("%s\n    {\"check\": ", i ? "," : "");
				json_str(stdout, fs.v[i].check, strlen(fs.v[i].check));
				printf(", \"actors\": ");
				json_str(stdout, fs.v[i].actors, strlen(fs.v[i].actors));
				printf(", \"detail\": ");
				json_str(stdout, fs.v[i].detail, strlen(fs.v[i].detail));
				printf("}");
			}
			printf("%s],\n  \"not_tracked\": []\n}\n", fs.n ? "\n  " : "");
		} else {
			printf("doctor: node %s, %" PRIu64 " samples over %.1fs\n", node, ns,
			    (double)(last->now_ns - first->now_ns) / 1e9);
			if (fs.n > 0) {
				struct table t = {.ncols = 3,
				    .head = {"CHECK", "ACTOR", "FINDING"},
				    .right = {0, 0, 0}};
				for (size_t i = 0; i < fs.n; i++) {
					const char *cells[3] = {fs.v[i].check, fs.v[i].actors,
					    fs.v[i].detail};
					table_row(&t, cells);
				}
				table_print(&t);
			} else {
				printf("no findings\n");
			}
		}
		rv = fs.n > 0 ? EXIT_FINDINGS : EXIT_OK;
	}
	for (uint64_t k = 0; k < got && k < ns; k++)
		snap_fini(&s[k]);
	free(s);
	free(fs.v);
	return rv;
}

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		uint64_t ms;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_main, stdout);
			return EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("nactorctl %d.%d.%d\n", NACT_VERSION_MAJOR, NACT_VERSION_MINOR,
			    NACT_VERSION_PATCH);
			return EXIT_OK;
		}
		if (strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) {
			const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
			if (parse_num(v, 3600000, &ms) != 0) {
				say("bad --timeout: expected milliseconds, 1..3600000");
				return EXIT_USAGE;
			}
			g_timeout = (int)ms;
			g_timeout_set = 1;
			continue;
		}
		say("unknown option '%s' (see nactorctl --help)", a);
		return EXIT_USAGE;
	}
	if (i >= argc) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[i];
	int sub_argc = argc - i - 1;
	char **sub_argv = argv + i + 1;
	if (strcmp(cmd, "nodes") == 0)
		return cmd_nodes(sub_argc, sub_argv);
	if (strcmp(cmd, "ls") == 0)
		return cmd_ls(sub_argc, sub_argv);
	if (strcmp(cmd, "show") == 0)
		return cmd_show(sub_argc, sub_argv);
	if (strcmp(cmd, "cancel") == 0)
		return cmd_cancel(sub_argc, sub_argv);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(sub_argc, sub_argv);
	if (strcmp(cmd, "tree") == 0)
		return cmd_tree(sub_argc, sub_argv);
	if (strcmp(cmd, "watch") == 0)
		return cmd_watch(sub_argc, sub_argv);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(sub_argc, sub_argv);
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor(sub_argc, sub_argv);
	if (strcmp(cmd, "members") == 0)
		return cmd_members(sub_argc, sub_argv);
	say("unknown command '%s' (see nactorctl --help)", cmd);
	return EXIT_USAGE;
}
