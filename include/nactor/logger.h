/*
 * nactor/logger.h — the log actor: leveled, structured lines (JSON lines)
 * written to a file by an actor, so logging never blocks the caller.
 *
 * A caller formats nothing and touches no file: nact_logger_log packs the
 * line's parts (time, level, actor, message, fields) into a message and
 * sends it to the writer actor's bounded mailbox with the fail policy. When
 * the mailbox is full the line is dropped and counted (an atomic counter);
 * the writer then writes a line saying how many were dropped as soon as it
 * handles its next message, so a flood shows in the log instead of
 * silently vanishing. The writer batches the lines it has queued into one
 * write() and rotates the file by size: path -> path.1 -> ... -> path.N
 * (the oldest goes), keeping every file at most max_bytes (a single line
 * longer than max_bytes gets a file of its own).
 *
 * One line per record, UTF-8 JSON (invalid UTF-8 is replaced by U+FFFD,
 * control characters escaped):
 *   {"time":"2026-11-24T04:05:06.123456Z","level":"warn","actor":"0x1000002",
 *    "name":"web","msg":"slow request","path":"/a","ms":1500}
 * "actor" and "name" are left out when not given; extra fields follow in
 * the order given (a field named like one of the fixed keys is written as
 * it is: avoid them). The drop report is
 *   {"time":...,"level":"warn","msg":"log queue full: lines dropped","dropped":N}
 *
 * WIRE PROTOCOL (types 0xFFFF05F0-0xFFFF05FF, in the monitors' range; any
 * client may send them):
 *   NACT_T_LOG_LINE   [time_ns (uint, unix epoch), level (int 1-4),
 *                      actor (uint, 0 = none), name (str or nil),
 *                      msg (str), fields (map str -> str|int|float|bool|nil)]
 *                     no reply (a request gets DONE [0])
 *   NACT_T_LOG_FLUSH  [] request -> NACT_T_LOG_DONE [lines written so far],
 *                     sent once everything queued before it is written
 *   a bad body or type: NACT_EBADMSG error reply to a request, else counted
 *   (stats.bad) and dropped.
 *
 * Threads: every function may be called from any thread unless it says
 * "outside actors only". Ownership: the logger handle is the caller's from
 * nact_logger_open to nact_logger_close; strings passed in are copied.
 */
#ifndef NACTOR_LOGGER_H
#define NACTOR_LOGGER_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/export.h>
#include <nactor/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACT_T_LOG_LINE 0xFFFF05F0u
#define NACT_T_LOG_FLUSH 0xFFFF05F1u
#define NACT_T_LOG_SYNC 0xFFFF05F2u /* the writer's own "write the batch" note */
#define NACT_T_LOG_DONE 0xFFFF05F8u

typedef struct nact_logger nact_logger;

typedef struct nact_logger_config {
	const char *path;   /* the log file (opened for append, created 0644) */
	uint64_t max_bytes; /* rotate before a file would pass this; 0 = never */
	uint32_t max_files; /* rotated files kept (path.1 .. path.N); 0 = 5 */
	uint32_t queue;     /* writer mailbox bound, in lines; 0 = 8192 */
	int level;          /* lines above this level are not sent; 0 = NACT_LOG_INFO */
	const char *name;   /* register the writer actor under this name; NULL = none */
} nact_logger_config;

NACT_DECL void nact_logger_config_init(nact_logger_config *cfg);

/* Open the file and spawn the writer actor. Errors: NACT_EINVAL (no path),
 * NACT_ESYSERR + errno when the file cannot be opened (e.g. + ENOENT for a
 * missing directory, + EISDIR, + EACCES), NACT_ENOMEM, spawn errors. */
NACT_DECL int nact_logger_open(nact_logger **lp, nact_system *sys, const nact_logger_config *cfg);

/* Write what is queued, stop the writer (its file is closed) and free the
 * handle. Uninstalls the system sink if nact_logger_install set it. Waits
 * up to timeout_ms. Call it before nact_system_close. Outside actors only.
 * NULL-safe. */
NACT_DECL void nact_logger_close(nact_logger *l, int timeout_ms);

/* The writer actor. */
NACT_DECL nact_aid nact_logger_aid(const nact_logger *l);

enum nact_log_field_kind {
	NACT_LF_STR = 0,
	NACT_LF_INT = 1,
	NACT_LF_DOUBLE = 2, /* NaN and infinities are written as null */
	NACT_LF_BOOL = 3
};

/* One extra field of a line. */
typedef struct nact_log_field {
	const char *key;
	int kind; /* enum nact_log_field_kind */
	const char *s;
	int64_t i; /* INT and BOOL */
	double d;
} nact_log_field;

#define NACT_LF_S(k, v) ((nact_log_field){.key = (k), .kind = NACT_LF_STR, .s = (v)})
#define NACT_LF_I(k, v) ((nact_log_field){.key = (k), .kind = NACT_LF_INT, .i = (v)})
#define NACT_LF_D(k, v) ((nact_log_field){.key = (k), .kind = NACT_LF_DOUBLE, .d = (v)})
#define NACT_LF_B(k, v) ((nact_log_field){.key = (k), .kind = NACT_LF_BOOL, .i = !!(v)})

/* Log one line. Never blocks and never waits for the write: returns 0 when
 * the line was queued or filtered out by level, NACT_EFULL when the queue
 * was full (the line is dropped and counted, and reported in the log),
 * NACT_EINVAL (NULL l or msg, level outside 1..4), NACT_ENOMEM, NACT_ECLOSED.
 * actor: the actor the line is about (NACT_AID_NONE = none); name: its name
 * or NULL. */
NACT_DECL int nact_logger_log(nact_logger *l, int level, nact_aid actor, const char *name,
    const char *msg, const nact_log_field *fields, size_t nfields);

/* printf-style shortcut; the actor is nact_self(ctx) when ctx is not NULL. */
NACT_DECL int nact_logger_logf(nact_logger *l, int level, nact_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Wait until every line queued before this call is written (and a pending
 * drop report too). Outside actors only (NACT_EDEADLK from a handler).
 * Errors: NACT_ETIMEDOUT, NACT_ENOENT (writer gone). */
NACT_DECL int nact_logger_flush(nact_logger *l, int timeout_ms);

/* Install l as the system's log sink (nact_log_set): the runtime's own
 * lines at or below `level` go to the log actor as {"source":"nactor"}
 * lines, without blocking (dropped and counted when the queue is full). */
NACT_DECL void nact_logger_install(nact_logger *l, int level);

/* The nact_log_fn behind nact_logger_install; arg is the nact_logger. */
NACT_DECL void nact_logger_sink(void *arg, int level, const char *line);

typedef struct nact_logger_stats {
	uint64_t written;      /* lines written (drop reports included) */
	uint64_t dropped;      /* lines dropped because the queue was full */
	uint64_t rotations;    /* files rotated */
	uint64_t write_errors; /* failed write/rename/open calls (lines lost) */
	uint64_t bad;          /* bad messages to the writer */
	uint64_t bytes;        /* bytes in the current file */
} nact_logger_stats;

/* A snapshot of the counters (atomics; the writer updates them as it goes).
 * Any thread. */
NACT_DECL void nact_logger_stats_get(nact_logger *l, nact_logger_stats *st);

#ifdef __cplusplus
}
#endif
#endif
