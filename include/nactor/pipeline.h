/*
 * nactor/pipeline.h — pipelines: chains of stage actors with credit-based
 * backpressure.
 *
 * A pipeline is a list of stages, each an ordinary actor: an optional
 * source, any number of map / filter / batch / window / time-batch /
 * parallel-map stages, and a sink. Items are msgpack values: each item
 * travels as one message (type NACT_T_PL_ITEM) whose body is the item.
 *
 * Backpressure. Every stage grants its upstream a window of credits (the
 * stage's `window`, default 64): the number of items it is ready to take.
 * A stage sends an item downstream only while it holds a credit, and gives
 * credits back as it consumes items. A stage whose downstream has no
 * credit stops taking input, so a producer faster than the slowest stage
 * is slowed down, and the items queued anywhere in a pipeline never exceed
 * the sum of the windows plus the outputs of one item per stage (plus, for
 * a parallel map, the outputs of its `n` workers).
 *
 * Feeding. Either the first stage is a source (a function called each time
 * credit is available), or the pipeline is fed from outside: from an actor
 * with nact_pipeline_push (never blocks: NACT_EFULL means "no credit, a
 * NACT_T_PL_READY message will come when there is room") or from a thread
 * with nact_pipeline_push_wait (blocks up to a timeout); nact_pipeline_end
 * then ends the stream.
 *
 * Completion. When the stream ends, each stage finishes its work in order:
 * partial batches and windows are emitted, a stage's flush function runs,
 * the sink sees end-of-stream (its flush function), then every stage and
 * worker actor is stopped and, once all have ended, the result is
 * reported: to opts.done (a callback), to opts.notify (a NACT_T_PL_DONE
 * message) and to nact_pipeline_wait.
 *
 * Errors per stage (the policy fields): NACT_PL_FAIL ends the pipeline
 * with NACT_ESTAGE, naming the stage and the index of the item (counted
 * from 0 at that stage's input); NACT_PL_SKIP drops the item and counts it;
 * NACT_PL_RETRY calls the function again up to `retries` times, waiting
 * backoff_ms, then twice that, and so on (timers on the system clock, so a
 * manual clock drives them), then applies `then` (FAIL or SKIP).
 *
 * Operations. A pipeline is one operation in the registry (registry.h):
 * created and started by nact_pipeline_start, progress reported as items
 * reach the sink, completed or failed at the end. Cancelling it
 * (nact_op_cancel, nact_pipeline_cancel, `nactorctl cancel ID`) stops every
 * actor of the pipeline promptly; the result is then NACT_ECANCELED. Items
 * left in mailboxes become dead letters ("stopped").
 *
 * Crashes. Stage actors are not restarted: a stage's in-flight items and
 * buffers cannot be rebuilt. The controller actor monitors every stage and
 * worker; one that ends early (an exit, nact_stop, nact_kill, a handler
 * deadline) fails the pipeline with NACT_ESTAGE naming the stage, and the
 * other actors are stopped: nothing hangs. To restart work, run the
 * pipeline again (for instance from a supervised actor that watches the
 * NACT_T_PL_DONE message).
 *
 * Bad messages. A stage or the controller that gets a message it does not
 * expect (unknown type, a body that is not valid msgpack, an item or
 * credit from an actor that is not its neighbour) counts it in
 * nact_pl_stats.bad (the controller's count in stage 0's) and drops it;
 * a request gets an error reply
 * NACT_EBADMSG. Nothing else changes.
 *
 * Threads: stage functions run inside the stage's actor, one item at a
 * time, except a parallel map's function, which runs in n worker actors at
 * once (it must be thread-safe). They must not block.
 */
#ifndef NACTOR_PIPELINE_H
#define NACTOR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <nactor/actor.h>
#include <nactor/registry.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Public message types (range 0xFFFF0300-0xFFFF03FF). */
/* An item; body: one msgpack value. */
#define NACT_T_PL_ITEM 0xFFFF0300u
/* To an actor whose nact_pipeline_push returned NACT_EFULL: there is room
 * again. Empty body. Sent once per refusal streak. */
#define NACT_T_PL_READY 0xFFFF0301u
/* To opts.notify when the pipeline has ended; body: the msgpack array
 * [code (int), message (str), stage (int, -1 if none), item (int, -1 if
 * none), items (uint: items the sink consumed)]. */
#define NACT_T_PL_DONE 0xFFFF0302u

enum nact_pl_kind {
	NACT_PL_SOURCE = 1,     /* generates items as credit arrives (first only) */
	NACT_PL_MAP = 2,        /* item -> zero or more items */
	NACT_PL_FILTER = 3,     /* keep or drop (the item passes unchanged) */
	NACT_PL_BATCH = 4,      /* n items -> one array of n (last may be shorter) */
	NACT_PL_WINDOW = 5,     /* sliding window: array of the last n, every slide */
	NACT_PL_TIME_BATCH = 6, /* items of interval_ms (at most n) -> one array */
	NACT_PL_PMAP = 7,       /* map on n worker actors, ordered or not */
	NACT_PL_SINK = 8        /* consumes items (last only) */
};

enum nact_pl_policy {
	NACT_PL_FAIL = 0,  /* end the pipeline with NACT_ESTAGE */
	NACT_PL_SKIP = 1,  /* drop the item, count it (nact_pl_stats.skipped) */
	NACT_PL_RETRY = 2, /* call again with backoff, then apply `then` */
};

/* Where a stage function puts its output items (borrowed, valid during the
 * call). Outputs are kept only if the function returns 0; otherwise they
 * are discarded (so a retry starts clean). */
typedef struct nact_pl_out nact_pl_out;

/* Begin a new output item and point *pkp at its packer (borrowed, valid
 * until the next emit or the return): pack exactly one msgpack value.
 * Errors: NACT_ENOMEM, NACT_EINVAL. */
NACT_DECL int nact_pl_emit(nact_pl_out *out, nact_pack **pkp);
/* Emit an item from its msgpack bytes (copied). Errors: NACT_ENOMEM,
 * NACT_EINVAL (len 0). */
NACT_DECL int nact_pl_emit_raw(nact_pl_out *out, const void *item, size_t len);

/* Stage functions. item/len are the item's msgpack bytes (borrowed: valid
 * during the call; read them with nact_reader_init_buf). Return 0, or an
 * error code that the stage's policy handles. */
typedef int (*nact_pl_map_fn)(void *arg, const void *item, size_t len, nact_pl_out *out);
typedef int (*nact_pl_filter_fn)(void *arg, const void *item, size_t len, int *keep);
typedef int (*nact_pl_sink_fn)(void *arg, const void *item, size_t len);
/* Called while the source has credit: emit zero or more items, set *done
 * to 1 when there will be no more (the items emitted in that call count). */
typedef int (*nact_pl_source_fn)(void *arg, nact_pl_out *out, int *done);
/* At end of stream (map, filter, pmap, sink; out is NULL for the sink):
 * emit trailing items. Errors are handled by the policy, without retry. */
typedef int (*nact_pl_flush_fn)(void *arg, nact_pl_out *out);

/* One stage. Build it with the helpers below, then change fields. */
typedef struct nact_pl_stage {
	int kind;         /* enum nact_pl_kind */
	const char *name; /* copied (at most 31 bytes kept); NULL = "<kind><index>" */
	void *arg;        /* passed to every function of the stage */
	nact_pl_map_fn map;
	nact_pl_filter_fn filter;
	nact_pl_sink_fn sink;
	nact_pl_source_fn source;
	nact_pl_flush_fn flush;
	uint32_t n;                   /* batch size, window size, time-batch cap (0 =
	                         1024), pmap concurrency */
	uint32_t slide;               /* window: emit every `slide` items (1..n) */
	uint32_t interval_ms;         /* time batch: period of a batch */
	int ordered;                  /* pmap: 1 = outputs in input order */
	uint32_t window;              /* credits granted upstream; 0 = 64 */
	int policy;                   /* enum nact_pl_policy, for the functions above */
	uint32_t retries;             /* NACT_PL_RETRY: attempts after the first */
	uint32_t backoff_ms;          /* NACT_PL_RETRY: first wait; doubles (0 = 1) */
	int then;                     /* NACT_PL_RETRY exhausted: NACT_PL_FAIL or _SKIP */
	uint32_t handler_deadline_ms; /* > 0: a stage handler running longer
	                                 ends the stage (the pipeline fails) */
} nact_pl_stage;

NACT_DECL nact_pl_stage nact_pl_source(const char *name, nact_pl_source_fn fn, void *arg);
NACT_DECL nact_pl_stage nact_pl_map(const char *name, nact_pl_map_fn fn, void *arg);
NACT_DECL nact_pl_stage nact_pl_filter(const char *name, nact_pl_filter_fn fn, void *arg);
NACT_DECL nact_pl_stage nact_pl_batch(const char *name, uint32_t n);
NACT_DECL nact_pl_stage nact_pl_window(const char *name, uint32_t size, uint32_t slide);
/* max_items 0 = 1024: a batch is emitted early when it has that many. */
NACT_DECL nact_pl_stage nact_pl_time_batch(const char *name, uint32_t interval_ms,
    uint32_t max_items);
NACT_DECL nact_pl_stage nact_pl_pmap(const char *name, nact_pl_map_fn fn, void *arg,
    uint32_t concurrency, int ordered);
NACT_DECL nact_pl_stage nact_pl_sink(const char *name, nact_pl_sink_fn fn, void *arg);

/* The outcome, as reported at the end. */
typedef struct nact_pl_result {
	int code;          /* 0, NACT_ESTAGE, NACT_ECANCELED, NACT_ECLOSED */
	int stage;         /* failing stage index, -1 if none */
	int64_t item;      /* failing item index at that stage, -1 if none */
	char message[256]; /* "" on success */
	uint64_t items;    /* items the sink consumed */
} nact_pl_result;

typedef struct nact_pipeline_opts {
	const char *name; /* operation name (1..63 bytes); NULL = "pipeline" */
	nact_opid parent; /* parent operation, or NACT_OPID_NONE */
	/* Called once at the end, inside the controller actor (like a handler:
	 * must not block); r is borrowed. */
	void (*done)(void *arg, const nact_pl_result *r);
	void *done_arg;
	nact_aid notify;         /* gets a NACT_T_PL_DONE message; NONE = nobody */
	int count_inflight;      /* 1: maintain nact_pipeline_inflight (costs an
	                           atomic per item per stage) */
	uint64_t progress_every; /* report progress every this many sink items;
	                            0 = 4096 */
	uint64_t expected_items; /* > 0: progress fraction = items / this */
} nact_pipeline_opts;

typedef struct nact_pipeline nact_pipeline;

/* Start a pipeline of n stages (2..64): the last must be a sink, a source
 * may only be first, every other kind sits between. stages and their
 * names are copied; the functions' args are borrowed until the end.
 * Spawns the stage actors, the pmap workers and a controller, creates and
 * starts the operation. *plp is the caller's handle: free it with
 * nact_pipeline_free. Errors: NACT_EINVAL (bad list or field), NACT_ENOMEM,
 * NACT_ECLOSED, registry errors (bad name, parent). Any thread. */
NACT_DECL int nact_pipeline_start(nact_pipeline **plp, nact_system *sys,
    const nact_pl_stage *stages, size_t n, const nact_pipeline_opts *opts);

/* Feed one item (a message of any type whose body is one msgpack value)
 * from an actor (handler only). On success the pipeline owns m. Returns
 * NACT_EFULL when there is no credit: the caller keeps m and gets one
 * NACT_T_PL_READY message when there is room. Errors: NACT_EINVAL (the
 * first stage is a source, NULL args), NACT_ESTATE (ended), the result
 * code once finished (NACT_ECANCELED, NACT_ESTAGE). Never blocks. */
NACT_DECL int nact_pipeline_push(nact_ctx *ctx, nact_pipeline *pl, nact_msg *m);

/* Feed one item from a thread outside actors: waits up to timeout_ms for
 * a credit. Ownership as nact_pipeline_push. Errors: as push, and
 * NACT_ETIMEDOUT, NACT_EDEADLK (called from a handler is refused:
 * use nact_pipeline_push). */
NACT_DECL int nact_pipeline_push_wait(nact_pipeline *pl, nact_msg *m, int timeout_ms);

/* End the stream of a pipeline fed from outside (after the last push
 * returned). Errors: NACT_EINVAL (the pipeline has a source), NACT_ESTATE
 * (already ended). Any thread. */
NACT_DECL int nact_pipeline_end(nact_pipeline *pl);

/* Cancel the pipeline's operation (reason NACT_CANCEL_MANUAL). Errors: as
 * nact_op_cancel (NACT_ESTATE when already finished). Any thread. */
NACT_DECL int nact_pipeline_cancel(nact_pipeline *pl);

/* Wait up to timeout_ms for the end; *r (may be NULL) gets the result.
 * Returns 0 once ended (the result's code is in r->code), NACT_ETIMEDOUT,
 * or NACT_EDEADLK from a handler. When it returns 0, every stage and
 * worker actor has ended (its destructor ran; it takes no more messages);
 * the controller, which reports, ends right after. */
NACT_DECL int nact_pipeline_wait(nact_pipeline *pl, int timeout_ms, nact_pl_result *r);

/* 1 once the result is known (every actor has ended), else 0. */
NACT_DECL int nact_pipeline_done(nact_pipeline *pl);

/* Per-stage counters (a snapshot; any thread). */
typedef struct nact_pl_stats {
	uint64_t in;      /* items taken from upstream */
	uint64_t out;     /* items sent downstream */
	uint64_t skipped; /* items dropped by the skip policy (or after retries) */
	uint64_t retries; /* function calls repeated */
	uint64_t bad;     /* unexpected or malformed messages dropped */
} nact_pl_stats;

/* Errors: NACT_EINVAL (index out of range). */
NACT_DECL int nact_pipeline_stats(nact_pipeline *pl, size_t stage, nact_pl_stats *st);
/* Items created and not yet consumed, now and at the peak (only with
 * opts.count_inflight; else both 0). */
NACT_DECL void nact_pipeline_inflight(nact_pipeline *pl, int64_t *now, int64_t *peak);
/* The stage's actor id (NONE when out of range) and the operation id. */
NACT_DECL nact_aid nact_pipeline_stage_aid(nact_pipeline *pl, size_t stage);
NACT_DECL nact_aid nact_pipeline_controller(nact_pipeline *pl);
NACT_DECL nact_opid nact_pipeline_opid(nact_pipeline *pl);

/* Release the caller's handle. A pipeline still running is cancelled
 * first (its actors stop); memory goes when its last actor has ended.
 * Call before nact_system_close. NULL-safe. Any thread. */
NACT_DECL void nact_pipeline_free(nact_pipeline *pl);

#ifdef __cplusplus
}
#endif
#endif
