/*
 * logger.c — lines per second through the log actor.
 *
 *   logger [N [THREADS [QUEUE]]]   (defaults 500000 2 65536)
 *
 * THREADS threads (not actors) each log N/THREADS structured lines (a
 * message and three fields) as fast as they can with nact_logger_log,
 * which never blocks: when the writer's queue (QUEUE lines) is full the
 * line is dropped and counted. The clock stops when nact_logger_flush
 * returns, i.e. when every accepted line is in the file. Prints
 *
 *   peer=nactor bench=logger_lines n=N seconds=S rate=R written=W dropped=D call_ns=C threads=T
 *
 * where rate = lines written per second (the writer's throughput under a
 * flood) and call_ns = the mean cost of one nact_logger_log call to the
 * caller. Checks its own results: every line accounted for (accepted +
 * dropped = N; written = accepted + drop reports), no write error, and the
 * file holds exactly `written` JSON lines.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nactor/logger.h>
#include <nactor/nactor.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct prod {
	nact_logger *l;
	long n, ok, full, other;
	double secs;
};

static void *produce(void *arg)
{
	struct prod *p = arg;
	double t0 = now_s();
	for (long i = 0; i < p->n; i++) {
		nact_log_field f[3] = {NACT_LF_I("seq", i), NACT_LF_S("path", "/api/v1/items"),
		    NACT_LF_D("ms", 1.5)};
		int rv = nact_logger_log(p->l, NACT_LOG_INFO, NACT_AID_NONE, "bench",
		    "request done", f, 3);
		if (rv == 0)
			p->ok++;
		else if (rv == NACT_EFULL)
			p->full++;
		else
			p->other++;
	}
	p->secs = now_s() - t0;
	return NULL;
}

static long arg_or(int argc, char **argv, int i, long dflt)
{
	if (argc <= i)
		return dflt;
	char *end;
	long v = strtol(argv[i], &end, 10);
	return (*end != '\0' || v < 1) ? -1 : v;
}

int main(int argc, char **argv)
{
	long n = arg_or(argc, argv, 1, 500000), nt = arg_or(argc, argv, 2, 2);
	long q = arg_or(argc, argv, 3, 65536);
	if (n < 1 || nt < 1 || nt > 64 || q < 1 || q > 10000000) {
		fprintf(stderr, "usage: logger [N [THREADS [QUEUE]]]\n");
		return 2;
	}
	char dir[] = "/tmp/nact-logger-bench-XXXXXX", path[64];
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/bench.log", dir);
	nact_system *sys;
	nact_logger *l;
	nact_logger_config cfg;
	int rv;
	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	nact_logger_config_init(&cfg);
	cfg.path = path;
	cfg.queue = (uint32_t)q;
	if ((rv = nact_logger_open(&l, sys, &cfg)) != 0) {
		fprintf(stderr, "logger open: %s\n", nact_strerror(rv));
		return 1;
	}
	pthread_t th[64];
	struct prod p[64];
	double t0 = now_s();
	for (long i = 0; i < nt; i++) {
		p[i] = (struct prod){l, n / nt + (i < n % nt), 0, 0, 0, 0};
		pthread_create(&th[i], NULL, produce, &p[i]);
	}
	long ok = 0, full = 0, other = 0;
	double call_s = 0;
	for (long i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		ok += p[i].ok;
		full += p[i].full;
		other += p[i].other;
		call_s += p[i].secs;
	}
	rv = nact_logger_flush(l, 60000);
	double secs = now_s() - t0;
	nact_logger_stats st;
	nact_logger_stats_get(l, &st);
	int fails = 0;
	if (rv != 0 || other != 0 || ok + full != n || (uint64_t)full != st.dropped ||
	    st.written < (uint64_t)ok || st.written > (uint64_t)ok + (uint64_t)full ||
	    st.write_errors != 0) {
		fprintf(stderr,
		    "logger: flush=%s ok=%ld full=%ld other=%ld written=%llu dropped=%llu errors=%llu\n",
		    nact_strerror(rv), ok, full, other, (unsigned long long)st.written,
		    (unsigned long long)st.dropped, (unsigned long long)st.write_errors);
		fails++;
	}
	/* The file holds exactly the written lines. */
	FILE *f = fopen(path, "r");
	uint64_t lines = 0;
	if (f != NULL) {
		int c;
		while ((c = getc_unlocked(f)) != EOF)
			lines += c == '\n';
		fclose(f);
	}
	if (lines != st.written) {
		fprintf(stderr, "logger: %llu lines in the file, %llu written\n",
		    (unsigned long long)lines, (unsigned long long)st.written);
		fails++;
	}
	printf(
	    "peer=nactor bench=logger_lines n=%ld seconds=%.3f rate=%.0f written=%llu dropped=%ld "
	    "call_ns=%.0f threads=%ld queue=%ld\n",
	    n, secs, st.written / secs, (unsigned long long)st.written, full, call_s / n * 1e9, nt,
	    q);
	nact_logger_close(l, 10000);
	nact_system_close(sys, 10000);
	unlink(path);
	rmdir(dir);
	return fails ? 1 : 0;
}
