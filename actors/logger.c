/*
 * actors/logger.c — the log actor (include/nactor/logger.h).
 *
 * DESIGN
 * Callers pack a line's parts into a NACT_T_LOG_LINE message and nact_send
 * it to the writer, whose mailbox is bounded with the fail policy: a full
 * queue costs the caller one failed send, one free and two relaxed atomic
 * increments (dropped, dropped_pending), never a wait. The writer formats
 * JSON into its batch buffer; the first line into an empty buffer sends the
 * writer a NACT_T_LOG_SYNC note, which lands behind the lines already
 * queued, so the lines of a burst go out in one write() when the note is
 * handled (a full buffer or a failed note writes at once). The writer takes
 * dropped_pending (atomic exchange) and, if it is not 0, writes the drop
 * report: a drop happens only while the mailbox is full, so at least one
 * queued message is handled after it and the report is never lost. To
 * keep reports to about one per batch, the writer reports when it writes a
 * batch (the SYNC note, a flush) or after any message when no SYNC note is
 * on its way, never in the middle of a batch: the SYNC note (or the
 * destructor) always comes after a line that sent it.
 *
 * The handle (struct nact_logger) is shared by the caller and the writer
 * and reference counted: the writer's state destructor may run after
 * nact_logger_close gave up waiting (or in nact_system_close).
 *
 * Rotation: before a line would take the file (written + batched bytes)
 * past max_bytes, the batch is written, the file closed, path.i renamed to
 * path.i+1 from the oldest down (path.N is replaced, so it goes), path to
 * path.1, and a new path opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nactor/logger.h>

#include <nng/supplemental/util/platform.h>

#define BATCH_MAX (64 * 1024) /* write the batch once it is this big */

struct nact_logger {
	nact_system *sys;
	nact_aid aid;
	int level;        /* lines above it are not sent */
	atomic_uint refs; /* the caller's handle + the writer */
	atomic_int installed;
	/* Counters: relaxed, they are statistics read as a snapshot. */
	atomic_uint_least64_t dropped, dropped_pending, written, rotations, write_errors, bad,
	    bytes;
	nng_mtx *mtx; /* guards writer_done */
	nng_cv *cv;
	int writer_done;
};

struct lwriter {
	struct nact_logger *l;
	char *path;
	int fd;             /* -1 after a failed reopen: retried at the next line */
	uint64_t size;      /* bytes in the file */
	uint64_t max_bytes; /* 0 = no rotation */
	uint32_t max_files;
	char *buf; /* the batch */
	size_t blen, bcap;
	char *line; /* the line being formatted */
	size_t llen, lcap;
	int sync_sent; /* a NACT_T_LOG_SYNC is on its way */
	int oom;       /* an append failed: the line is lost */
};

static void l_release(struct nact_logger *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	nng_cv_free(l->cv);
	nng_mtx_free(l->mtx);
	free(l);
}

static void cnt(atomic_uint_least64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* JSON formatting                                                      */

static void put(struct lwriter *w, const void *s, size_t n)
{
	if (w->llen + n > w->lcap) {
		size_t nc = w->lcap ? w->lcap : 256;
		while (nc < w->llen + n)
			nc *= 2;
		char *p = realloc(w->line, nc);
		if (p == NULL) {
			w->oom = 1;
			return;
		}
		w->line = p;
		w->lcap = nc;
	}
	memcpy(w->line + w->llen, s, n);
	w->llen += n;
}

static void puts_(struct lwriter *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong or surrogate or too big */
	return len;
}

static void put_jstr(struct lwriter *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	put(w, "\"", 1);
	size_t i = 0, run = 0; /* run: bytes copied as they are, pending */
	while (i < n) {
		unsigned char c = p[i];
		const char *esc = NULL;
		char tmp[8];
		size_t ul = 1;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			esc = tmp;
		} else if (c >= 0x80 && (ul = utf8_len(p + i, n - i)) == 0) {
			esc = "\\ufffd";
			ul = 1;
		}
		if (esc != NULL) {
			put(w, p + i - run, run);
			run = 0;
			puts_(w, esc);
			i += ul;
		} else {
			run += ul;
			i += ul;
		}
	}
	put(w, p + n - run, run);
	put(w, "\"", 1);
}

static const char *const lvnames[] = {"off", "error", "warn", "info", "debug"};

static void put_head(struct lwriter *w, uint64_t tns, int level)
{
	char tb[64];
	struct tm tm;
	time_t sec = (time_t)(tns / 1000000000u);
	gmtime_r(&sec, &tm);
	size_t n = strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tb + n, sizeof(tb) - n, ".%06uZ", (unsigned)(tns % 1000000000u / 1000u));
	puts_(w, "{\"time\":\"");
	puts_(w, tb);
	puts_(w, "\",\"level\":\"");
	puts_(w, lvnames[level]);
	puts_(w, "\"");
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* the file                                                             */

static void write_all(struct lwriter *w, const char *p, size_t n)
{
	while (n > 0) {
		if (w->fd < 0) {
			cnt(&w->l->write_errors, 1);
			return;
		}
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			cnt(&w->l->write_errors, 1);
			return;
		}
		p += k;
		n -= (size_t)k;
		w->size += (uint64_t)k;
	}
}

static void batch_write(struct lwriter *w)
{
	if (w->blen > 0)
		write_all(w, w->buf, w->blen);
	w->blen = 0;
	atomic_store_explicit(&w->l->bytes, w->size, memory_order_relaxed);
}

static int open_file(const char *path, int *fdp, uint64_t *sizep)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return NACT_ESYSERR + errno;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL; /* a fifo, a device...: not a log file we can rotate */
	if (e != 0) {
		close(fd);
		return NACT_ESYSERR + e;
	}
	*fdp = fd;
	*sizep = (uint64_t)st.st_size;
	return 0;
}

static void rotate(struct lwriter *w)
{
	size_t pl = strlen(w->path);
	char *a = malloc(pl + 16), *b = malloc(pl + 16);
	batch_write(w);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (a == NULL || b == NULL) {
		cnt(&w->l->write_errors, 1);
	} else {
		for (uint32_t i = w->max_files; i > 1; i--) {
			snprintf(a, pl + 16, "%s.%u", w->path, i - 1);
			snprintf(b, pl + 16, "%s.%u", w->path, i);
			if (rename(a, b) != 0 && errno != ENOENT)
				cnt(&w->l->write_errors, 1);
		}
		snprintf(b, pl + 16, "%s.1", w->path);
		if (rename(w->path, b) != 0 && errno != ENOENT)
			cnt(&w->l->write_errors, 1);
	}
	free(a);
	free(b);
	w->size = 0;
	if (open_file(w->path, &w->fd, &w->size) != 0) {
		w->fd = -1;
		cnt(&w->l->write_errors, 1);
	}
	cnt(&w->l->rotations, 1);
}

static void batch_add(struct lwriter *w, nact_ctx *ctx)
{
	if (w->oom) {
		cnt(&w->l->write_errors, 1);
		w->oom = 0;
		w->llen = 0;
		return;
	}
	put(w, "}\n", 2);
	if (w->fd < 0) /* a failed reopen after a rotation: try again */
		if (open_file(w->path, &w->fd, &w->size) != 0)
			w->fd = -1;
	if (w->max_bytes && w->size + w->blen > 0 && w->size + w->blen + w->llen > w->max_bytes)
		rotate(w);
	if (w->blen + w->llen > w->bcap) {
		size_t nc = w->bcap ? w->bcap : 4096;
		while (nc < w->blen + w->llen)
			nc *= 2;
		char *p = realloc(w->buf, nc);
		if (p == NULL) {
			batch_write(w);
			write_all(w, w->line, w->llen); /* unbuffered, but written */
			w->llen = 0;
			cnt(&w->l->written, 1);
			return;
		}
		w->buf = p;
		w->bcap = nc;
	}
	memcpy(w->buf + w->blen, w->line, w->llen);
	w->blen += w->llen;
	w->llen = 0;
	cnt(&w->l->written, 1);
	if (w->blen >= BATCH_MAX) {
		batch_write(w);
		return;
	}
	if (!w->sync_sent && ctx != NULL) {
		nact_msg *m;
		if (nact_msg_alloc(&m, w->l->sys, NACT_T_LOG_SYNC) == 0) {
			if (nact_send(w->l->sys, nact_self(ctx), m) == 0) {
				w->sync_sent = 1;
				return;
			}
			nact_msg_free(m);
		}
		batch_write(w); /* no room for the note: write now */
	}
}

static void report_drops(struct lwriter *w, nact_ctx *ctx)
{
	uint64_t n = atomic_exchange_explicit(&w->l->dropped_pending, 0, memory_order_relaxed);
	if (n == 0)
		return;
	char tmp[128];
	w->llen = 0;
	put_head(w, wall_ns(), NACT_LOG_WARN);
	snprintf(tmp, sizeof(tmp), ",\"msg\":\"log queue full: lines dropped\",\"dropped\":%llu",
	    (unsigned long long)n);
	puts_(w, tmp);
	batch_add(w, ctx);
}

/* ------------------------------------------------------------------ */
/* the writer                                                           */

/* Format a NACT_T_LOG_LINE body into w->line. 0 or a reader error /
 * NACT_EBADMSG. */
static int format_line(struct lwriter *w, const nact_msg *m)
{
	nact_reader r;
	uint32_t n, nf = 0;
	uint64_t tns, actor;
	int64_t lv;
	const char *s;
	size_t sl;
	char tmp[64];
	int rv = nact_reader_init(&r, m, NULL);
	if (rv != 0)
		return rv;
	w->llen = 0;
	if ((rv = nact_read_array(&r, &n)) != 0 || n != 6 || (rv = nact_read_uint(&r, &tns)) != 0 ||
	    (rv = nact_read_int(&r, &lv)) != 0 || lv < NACT_LOG_ERROR || lv > NACT_LOG_DEBUG ||
	    (rv = nact_read_uint(&r, &actor)) != 0)
		goto bad;
	put_head(w, tns, (int)lv);
	if (actor != 0) {
		snprintf(tmp, sizeof(tmp), ",\"actor\":\"%#llx\"", (unsigned long long)actor);
		puts_(w, tmp);
	}
	if (nact_read_nil(&r) != 0) {
		if ((rv = nact_read_str(&r, &s, &sl)) != 0)
			goto bad;
		puts_(w, ",\"name\":");
		put_jstr(w, s, sl);
	}
	if ((rv = nact_read_str(&r, &s, &sl)) != 0)
		goto bad;
	puts_(w, ",\"msg\":");
	put_jstr(w, s, sl);
	if (nact_read_nil(&r) != 0 && (rv = nact_read_map(&r, &nf)) != 0)
		goto bad;
	for (uint32_t i = 0; i < nf; i++) {
		msgpack_object o;
		if ((rv = nact_read_str(&r, &s, &sl)) != 0 || (rv = nact_read_object(&r, &o)) != 0)
			goto bad;
		put(w, ",", 1);
		put_jstr(w, s, sl);
		put(w, ":", 1);
		switch (o.type) {
		case MSGPACK_OBJECT_NIL:
			puts_(w, "null");
			break;
		case MSGPACK_OBJECT_BOOLEAN:
			puts_(w, o.via.boolean ? "true" : "false");
			break;
		case MSGPACK_OBJECT_POSITIVE_INTEGER:
			snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)o.via.u64);
			puts_(w, tmp);
			break;
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
			snprintf(tmp, sizeof(tmp), "%lld", (long long)o.via.i64);
			puts_(w, tmp);
			break;
		case MSGPACK_OBJECT_FLOAT32:
		case MSGPACK_OBJECT_FLOAT64:
			if (isfinite(o.via.f64)) {
				snprintf(tmp, sizeof(tmp), "%.17g", o.via.f64);
				puts_(w, tmp);
			} else {
				puts_(w, "null");
			}
			break;
		case MSGPACK_OBJECT_STR:
			put_jstr(w, o.via.str.ptr, o.via.str.size);
			break;
		default:
			rv = NACT_EBADMSG;
			goto bad;
		}
	}
	if (nf > 0 && (rv = nact_read_leave(&r)) != 0) /* the map */
		goto bad;
	if ((rv = nact_read_leave(&r)) != 0) /* the array */
		goto bad;
	if (!nact_read_done(&r)) { /* nothing after the array */
		rv = NACT_EBADMSG;
		goto bad;
	}
	nact_reader_fini(&r);
	return 0;
bad:
	nact_reader_fini(&r);
	w->llen = 0;
	w->oom = 0;
	return rv ? rv : NACT_EBADMSG;
}

static void reply_done(struct lwriter *w, const nact_msg *req)
{
	nact_msg *m;
	if (nact_msg_alloc(&m, w->l->sys, NACT_T_LOG_DONE) != 0)
		return;
	nact_pack p;
	nact_pack_init(&p, m);
	nact_pack_array(&p, 1);
	nact_pack_uint(&p, atomic_load_explicit(&w->l->written, memory_order_relaxed));
	if (nact_pack_error(&p) != 0 || nact_reply(w->l->sys, req, m) != 0)
		nact_msg_free(m);
}

static int is_req(const nact_msg *m)
{
	return (nact_msg_flags(m) & NACT_MF_REQUEST) != 0;
}

static int writer_fn(nact_ctx *ctx, nact_msg *m)
{
	struct lwriter *w = nact_state(ctx);
	switch (nact_msg_type(m)) {
	case NACT_T_LOG_LINE:
		if (format_line(w, m) != 0) {
			cnt(&w->l->bad, 1);
			if (is_req(m))
				nact_reply_error(w->l->sys, m, NACT_EBADMSG,
				    "log line: body must be [time_ns, level 1-4, actor, name|nil, msg, "
				    "fields|nil]");
			break;
		}
		batch_add(w, ctx);
		if (is_req(m))
			reply_done(w, m);
		break;
	case NACT_T_LOG_SYNC:
		w->sync_sent = 0;
		report_drops(w, NULL); /* into this batch */
		batch_write(w);
		break;
	case NACT_T_LOG_FLUSH:
		report_drops(w, NULL);
		batch_write(w);
		if (is_req(m))
			reply_done(w, m);
		break;
	default:
		cnt(&w->l->bad, 1);
		if (is_req(m))
			nact_reply_error(w->l->sys, m, NACT_EBADMSG, "not a log actor message");
		break;
	}
	/* After a line whose batch waits for a SYNC note, the note reports;
	 * otherwise report now. */
	if (nact_msg_type(m) != NACT_T_LOG_LINE || !w->sync_sent)
		report_drops(w, ctx);
	return 0;
}

static void writer_fini(void *arg)
{
	struct lwriter *w = arg;
	if (w == NULL)
		return;
	struct nact_logger *l = w->l;
	if (l != NULL) {
		report_drops(w, NULL);
		batch_write(w);
	}
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	free(w->line);
	free(w->path);
	free(w);
	if (l != NULL) {
		nng_mtx_lock(l->mtx);
		l->writer_done = 1;
		nng_cv_wake(l->cv);
		nng_mtx_unlock(l->mtx);
		l_release(l);
	}
}

/* ------------------------------------------------------------------ */
/* the API                                                              */

void nact_logger_config_init(nact_logger_config *cfg)
{
	if (cfg != NULL)
		memset(cfg, 0, sizeof(*cfg));
}

int nact_logger_open(nact_logger **lp, nact_system *sys, const nact_logger_config *cfg)
{
	if (lp == NULL || sys == NULL || cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0' ||
	    cfg->level < 0 || cfg->level > NACT_LOG_DEBUG || cfg->max_files > 1000)
		return NACT_EINVAL;
	struct nact_logger *l = calloc(1, sizeof(*l));
	struct lwriter *w = calloc(1, sizeof(*w));
	int rv = NACT_ENOMEM;
	if (l == NULL || w == NULL)
		goto out_free;
	w->fd = -1;
	if ((w->path = strdup(cfg->path)) == NULL)
		goto out_free;
	if (nng_mtx_alloc(&l->mtx) != 0)
		goto out_free;
	if (nng_cv_alloc(&l->cv, l->mtx) != 0)
		goto out_free;
	if ((rv = open_file(w->path, &w->fd, &w->size)) != 0)
		goto out_free;
	l->sys = sys;
	l->level = cfg->level ? cfg->level : NACT_LOG_INFO;
	atomic_init(&l->refs, 2);
	atomic_init(&l->bytes, w->size);
	w->l = l;
	w->max_bytes = cfg->max_bytes;
	w->max_files = cfg->max_files ? cfg->max_files : 5;
	nact_spawn_opts o = {0};
	o.capacity = cfg->queue ? cfg->queue : 8192;
	o.overflow = NACT_OVERFLOW_FAIL;
	o.name = cfg->name;
	if ((rv = nact_spawn(&l->aid, sys, writer_fn, w, writer_fini, &o)) != 0)
		goto out_free;
	*lp = l;
	return 0;
out_free:
	if (w != NULL) {
		if (w->fd >= 0)
			close(w->fd);
		free(w->path);
		free(w);
	}
	if (l != NULL) {
		if (l->cv)
			nng_cv_free(l->cv);
		if (l->mtx)
			nng_mtx_free(l->mtx);
		free(l);
	}
	return rv;
}

nact_aid nact_logger_aid(const nact_logger *l)
{
	return l ? l->aid : NACT_AID_NONE;
}

int nact_logger_log(nact_logger *l, int level, nact_aid actor, const char *name, const char *msg,
    const nact_log_field *fields, size_t nfields)
{
	if (l == NULL || msg == NULL || level < NACT_LOG_ERROR || level > NACT_LOG_DEBUG ||
	    (fields == NULL && nfields > 0) || nfields > UINT32_MAX)
		return NACT_EINVAL;
	if (level > l->level)
		return 0;
	nact_msg *m;
	int rv = nact_msg_alloc(&m, l->sys, NACT_T_LOG_LINE);
	if (rv != 0)
		return rv;
	nact_pack p;
	nact_pack_init(&p, m);
	nact_pack_array(&p, 6);
	nact_pack_uint(&p, wall_ns());
	nact_pack_int(&p, level);
	nact_pack_uint(&p, actor.v);
	if (name != NULL)
		nact_pack_str(&p, name);
	else
		nact_pack_nil(&p);
	nact_pack_str(&p, msg);
	if (nfields == 0) {
		nact_pack_nil(&p);
	} else {
		nact_pack_map(&p, (uint32_t)nfields);
		for (size_t i = 0; i < nfields; i++) {
			const nact_log_field *f = &fields[i];
			nact_pack_str(&p, f->key ? f->key : "");
			switch (f->kind) {
			case NACT_LF_INT:
				nact_pack_int(&p, f->i);
				break;
			case NACT_LF_DOUBLE:
				nact_pack_double(&p, f->d);
				break;
			case NACT_LF_BOOL:
				nact_pack_bool(&p, (int)f->i);
				break;
			default:
				if (f->s != NULL)
					nact_pack_str(&p, f->s);
				else
					nact_pack_nil(&p);
				break;
			}
		}
	}
	if ((rv = nact_pack_error(&p)) != 0) {
		nact_msg_free(m);
		return rv;
	}
	rv = nact_send(l->sys, l->aid, m);
	if (rv != 0) {
		nact_msg_free(m);
		if (rv == NACT_EFULL) {
			cnt(&l->dropped, 1);
			cnt(&l->dropped_pending, 1);
		}
	}
	return rv;
}

int nact_logger_logf(nact_logger *l, int level, nact_ctx *ctx, const char *fmt, ...)
{
	if (l == NULL || fmt == NULL)
		return NACT_EINVAL;
	if (level > l->level && level <= NACT_LOG_DEBUG)
		return 0;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return nact_logger_log(l, level, ctx ? nact_self(ctx) : NACT_AID_NONE, NULL, buf, NULL, 0);
}

int nact_logger_flush(nact_logger *l, int timeout_ms)
{
	if (l == NULL)
		return NACT_EINVAL;
	nng_time dl = nng_clock() + (nng_time)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		nact_msg *m, *rep = NULL;
		int rv = nact_msg_alloc(&m, l->sys, NACT_T_LOG_FLUSH);
		if (rv != 0)
			return rv;
		nact_pack p;
		nact_pack_init(&p, m);
		nact_pack_array(&p, 0);
		nng_time now = nng_clock();
		int left = now < dl ? (int)(dl - now) : 1;
		rv = nact_call(l->sys, l->aid, m, left, &rep);
		if (rv == 0) {
			int code = 0;
			if (nact_msg_type(rep) == NACT_T_ERROR &&
			    nact_error_read(rep, &code, NULL, 0) == 0)
				rv = code;
			nact_msg_free(rep);
			return rv;
		}
		if (rv != NACT_ETIMEDOUT)
			nact_msg_free(m);
		/* A full queue: the writer is draining it; try again shortly. */
		if (rv != NACT_EFULL || nng_clock() >= dl)
			return rv;
		nng_msleep(1);
	}
}

void nact_logger_sink(void *arg, int level, const char *line)
{
	static _Thread_local int inside; /* a send that logs must not loop back */
	nact_logger *l = arg;
	if (l == NULL || line == NULL || inside)
		return;
	inside = 1;
	nact_log_field f = NACT_LF_S("source", "nactor");
	nact_logger_log(l, level, NACT_AID_NONE, NULL, line, &f, 1);
	inside = 0;
}

void nact_logger_install(nact_logger *l, int level)
{
	if (l == NULL)
		return;
	atomic_store(&l->installed, 1);
	nact_log_set(l->sys, level, nact_logger_sink, l);
}

void nact_logger_close(nact_logger *l, int timeout_ms)
{
	if (l == NULL)
		return;
	if (atomic_exchange(&l->installed, 0))
		nact_log_set(l->sys, -1, NULL, NULL); /* back to stderr, level kept */
	nng_time dl = nng_clock() + (nng_time)(timeout_ms > 0 ? timeout_ms : 0);
	nact_logger_flush(l, timeout_ms);
	if (nact_stop(l->sys, l->aid) == 0) {
		nng_mtx_lock(l->mtx);
		while (!l->writer_done)
			if (nng_cv_until(l->cv, dl) == NNG_ETIMEDOUT)
				break;
		nng_mtx_unlock(l->mtx);
	}
	l_release(l);
}

void nact_logger_stats_get(nact_logger *l, nact_logger_stats *st)
{
	if (st == NULL)
		return;
	memset(st, 0, sizeof(*st));
	if (l == NULL)
		return;
	st->written = atomic_load_explicit(&l->written, memory_order_relaxed);
	st->dropped = atomic_load_explicit(&l->dropped, memory_order_relaxed);
	st->rotations = atomic_load_explicit(&l->rotations, memory_order_relaxed);
	st->write_errors = atomic_load_explicit(&l->write_errors, memory_order_relaxed);
	st->bad = atomic_load_explicit(&l->bad, memory_order_relaxed);
	st->bytes = atomic_load_explicit(&l->bytes, memory_order_relaxed);
}
