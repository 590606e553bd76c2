/*
 * bench/members_cluster.c — cluster membership with N node processes on
 * loopback (docs/members.md, docs/scaling.md).
 *
 *   members_cluster [N [PERIOD_MS]]      (defaults 12 and 150)
 *
 * Starts N node processes (this binary re-executed with --child), all
 * seeded with the first one's URL, and measures:
 *   members_converge  from the last start until every node sees N alive
 *   members_load      SWIM messages sent per member per period over 20 T
 *                     (rate = that figure; bytes= per member per period)
 *   members_detect    kill -9 of one node until all the others see it down
 * Each line in the peers' format. Exit 1 if the cluster does not converge
 * within 60 s or the kill is not seen within 3 x (13 T + S(N)).
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include <nactor/nactor.h>
#include <nactor/node.h>

#define SECRET "members-bench-secret-0123456789ab"
#define NMAX 64

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- child: a node answering one-line commands on stdin ----
 *   A        -> "A <members alive or suspect, self included>"
 *   X name   -> "X <state of name, or ?>"
 *   S        -> "S <sent> <sent_bytes> <periods>" */
static int child_main(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	nact_system *sys;
	nact_config cfg;
	nact_config_init(&cfg);
	cfg.workers = 1;
	if (nact_system_open(&sys, &cfg) != 0)
		return 3;
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = argv[2];
	o.secret = SECRET;
	o.secret_len = strlen(SECRET);
	const char *lst[1] = {"tcp://127.0.0.1:0"};
	const char *seeds[1] = {argv[3]};
	o.listen = lst;
	o.nlisten = 1;
	o.seeds = seeds;
	o.nseeds = strcmp(argv[3], "-") != 0;
	o.swim_period_ms = (uint32_t)atoi(argv[4]);
	if (nact_node_start(sys, &o) != 0)
		return 4;
	char url[256];
	nact_node_url(sys, url, sizeof(url));
	printf("URL %s\n", url);
	fflush(stdout);
	char line[128];
	static nact_node_member mb[NMAX + 4];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		size_t n = 0;
		if (line[0] == 'A' || line[0] == 'X')
			nact_node_members(sys, mb, NMAX + 4, &n);
		if (line[0] == 'A') {
			int live = 0;
			for (size_t i = 0; i < n && i < NMAX + 4; i++)
				live += mb[i].state == NACT_MEMBER_ALIVE;
			printf("A %d\n", live);
		} else if (line[0] == 'X') {
			const char *st = "?";
			for (size_t i = 0; i < n && i < NMAX + 4; i++)
				if (strcmp(mb[i].name, line + 2) == 0)
					st = nact_member_state_name(mb[i].state);
			printf("X %s\n", st);
		} else if (line[0] == 'S') {
			nact_members_stats st;
			nact_node_members_stats(sys, &st);
			printf("S %llu %llu %llu\n", (unsigned long long)st.sent,
			    (unsigned long long)st.sent_bytes, (unsigned long long)st.periods);
		}
		fflush(stdout);
	}
	nact_node_stop(sys);
	nact_system_close(sys, 2000);
	return 0;
}

/* ---- parent ---- */

struct kid {
	pid_t pid;
	FILE *in, *out;
	char url[256];
};

static int kid_start(struct kid *k, const char *name, const char *seed, int period)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	char pb[16];
	snprintf(pb, sizeof(pb), "%d", period);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/proc/self/exe", "members-bench-child", "--child", name, seed, pb, "x",
		    (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0)
		return -1;
	k->pid = pid;
	k->in = fdopen(in[1], "w");
	k->out = fdopen(out[0], "r");
	char line[300];
	if (k->in == NULL || k->out == NULL || fgets(line, sizeof(line), k->out) == NULL ||
	    strncmp(line, "URL ", 4) != 0)
		return -1;
	line[strcspn(line, "\n")] = '\0';
	snprintf(k->url, sizeof(k->url), "%.255s", line + 4);
	return 0;
}

/* Send cmd, read the answer line into line. Blocking: the child answers
 * at once (or is dead: EOF). */
static int kid_cmd(struct kid *k, const char *cmd, char *line, size_t cap)
{
	if (k->pid <= 0 || fprintf(k->in, "%s\n", cmd) < 0 || fflush(k->in) != 0)
		return -1;
	return fgets(line, (int)cap, k->out) != NULL ? 0 : -1;
}

static void kid_kill(struct kid *k)
{
	if (k->pid <= 0)
		return;
	kill(k->pid, SIGKILL);
	waitpid(k->pid, NULL, 0);
	fclose(k->in);
	fclose(k->out);
	k->pid = -1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	int n = argc > 1 ? atoi(argv[1]) : 12;
	int t = argc > 2 ? atoi(argv[2]) : 150;
	if (n < 3 || n > NMAX || t < 20) {
		fprintf(stderr, "usage: members_cluster [N (3..%d) [PERIOD_MS (>= 20)]]\n", NMAX);
		return 2;
	}
	static struct kid k[NMAX];
	char name[16], line[256];
	int rc = 0;
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%02d", i);
		if (kid_start(&k[i], name, i == 0 ? "-" : k[0].url, t) != 0) {
			fprintf(stderr, "cannot start node %s\n", name);
			rc = 1;
			goto out;
		}
	}
	/* converge */
	uint64_t t0 = now_ms(), conv = 0;
	for (;;) {
		int ok = 1;
		for (int i = 0; i < n && ok; i++)
			ok = kid_cmd(&k[i], "A", line, sizeof(line)) == 0 && atoi(line + 2) == n;
		if (ok) {
			conv = now_ms() - t0;
			break;
		}
		if (now_ms() - t0 > 60000) {
			fprintf(stderr, "not converged in 60 s\n");
			rc = 1;
			goto out;
		}
		nng_msleep(10);
	}
	printf("peer=nactor bench=members_converge n=%d seconds=%.3f rate=%.1f period_ms=%d "
	       "periods=%.1f\n",
	    n, conv / 1e3, n / (conv > 0 ? conv / 1e3 : 1e-3), t, (double)conv / t);
	/* load over 20 periods */
	unsigned long long s0[NMAX], b0[NMAX], p0[NMAX], s, b, p;
	for (int i = 0; i < n; i++)
		if (kid_cmd(&k[i], "S", line, sizeof(line)) != 0 ||
		    sscanf(line, "S %llu %llu %llu", &s0[i], &b0[i], &p0[i]) != 3)
			rc = 1;
	nng_msleep(20 * t);
	double msgs = 0, bytes = 0;
	for (int i = 0; i < n; i++) {
		if (kid_cmd(&k[i], "S", line, sizeof(line)) != 0 ||
		    sscanf(line, "S %llu %llu %llu", &s, &b, &p) != 3 || p <= p0[i]) {
			rc = 1;
			continue;
		}
		msgs += (double)(s - s0[i]) / (double)(p - p0[i]);
		bytes += (double)(b - b0[i]) / (double)(p - p0[i]);
	}
	printf("peer=nactor bench=members_load n=%d seconds=%.3f rate=%.2f bytes=%.0f "
	       "unit=msgs_per_member_per_period\n",
	    n, 20 * t / 1e3, msgs / n, bytes / n);
	/* kill -9 one, wait for all others to see it down */
	int v = n / 2;
	double sn = 4 * (log10(n) > 1 ? log10(n) : 1);
	uint64_t bound = (uint64_t)((13 + sn) * t), tk = now_ms(), det = 0;
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "X m%02d", v);
	kid_kill(&k[v]);
	for (;;) {
		int all = 1;
		for (int i = 0; i < n && all; i++)
			if (i != v)
				all = kid_cmd(&k[i], cmd, line, sizeof(line)) == 0 &&
				    strncmp(line, "X down", 6) == 0;
		if (all) {
			det = now_ms() - tk;
			break;
		}
		if (now_ms() - tk > 3 * bound) {
			fprintf(stderr, "kill not seen by all within 3 x %llu ms\n",
			    (unsigned long long)bound);
			rc = 1;
			goto out;
		}
		nng_msleep(10);
	}
	printf("peer=nactor bench=members_detect n=%d seconds=%.3f rate=%.2f periods=%.1f "
	       "bound_periods=%.1f\n",
	    n, det / 1e3, 1e3 / (det > 0 ? det : 1), (double)det / t, 13 + sn);
out:
	for (int i = 0; i < n; i++)
		kid_kill(&k[i]);
	return rc;
}
