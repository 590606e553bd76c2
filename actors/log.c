/*
 * actors/log.c — the one leveled logger.
 *
 * The level comes from the config, else from $NACTOR_LOG (error, warn,
 * info, debug; default warn). Lines go to stderr or to the hook set with
 * nact_log_set. Checking the level is one relaxed load, so disabled debug
 * tracing on the send path costs a predictable branch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/internal.h"

static const char *const names[] = {"off", "error", "warn", "info", "debug"};

static int level_from_env(void)
{
	const char *e = getenv("NACTOR_LOG");
	if (e == NULL || *e == '\0')
		return NACT_LOG_WARN;
	for (int i = 0; i <= NACT_LOG_DEBUG; i++)
		if (strcasecmp(e, names[i]) == 0)
			return i;
	if (strcasecmp(e, "trace") == 0 || strcasecmp(e, "all") == 0)
		return NACT_LOG_DEBUG;
	return NACT_LOG_WARN;
}

int nacti_log_init(nact_system *sys)
{
	int lv = sys->cfg.log_level;
	if (lv < 0 || lv > NACT_LOG_DEBUG)
		lv = level_from_env();
	atomic_store(&sys->log_level, lv);
	sys->log_fn = sys->cfg.log_fn;
	sys->log_arg = sys->cfg.log_arg;
	return nng_mtx_alloc(&sys->logmtx) == 0 ? 0 : NACT_ENOMEM;
}

void nacti_log_fini(nact_system *sys)
{
	if (sys->logmtx)
		nng_mtx_free(sys->logmtx);
	sys->logmtx = NULL;
}

int nact_log_level(nact_system *sys)
{
	return sys ? atomic_load_explicit(&sys->log_level, memory_order_relaxed) : NACT_LOG_OFF;
}

void nact_log_set(nact_system *sys, int level, nact_log_fn fn, void *arg)
{
	if (sys == NULL)
		return;
	nng_mtx_lock(sys->logmtx);
	sys->log_fn = fn;
	sys->log_arg = arg;
	nng_mtx_unlock(sys->logmtx);
	if (level >= NACT_LOG_OFF && level <= NACT_LOG_DEBUG)
		atomic_store(&sys->log_level, level);
}

void nact_log(nact_system *sys, int level, const char *fmt, ...)
{
	if (sys == NULL || level <= NACT_LOG_OFF || level > nact_log_level(sys))
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	nng_mtx_lock(sys->logmtx);
	if (sys->log_fn != NULL)
		sys->log_fn(sys->log_arg, level, line);
	else
		fprintf(stderr, "nactor %s: %s\n", names[level], line);
	nng_mtx_unlock(sys->logmtx);
}
