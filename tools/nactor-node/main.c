/*
 * tools/nactor-node/main.c — the stock node executable (docs/nactor-node.1).
 *
 * Reads a config file and/or flags, opens a system, loads behaviour
 * libraries (dlopen; each exports nactor_plugin_init), starts the node and
 * optionally the registry server, then waits for SIGTERM or SIGINT with
 * sigwait in main (the signals are blocked in every thread, so no handler
 * runs): it then stops the node and closes the system within a deadline.
 *
 * Exit status: 0 after a graceful stop, 1 when the node cannot start, 2 for
 * a bad command line or config file.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nactor/node.h>
#include <nactor/registry.h>

#define MAX_LIST 32
#define LINE_MAX_LEN 4096
#define SECRET_MAX 4096
#define CLOSE_MS 5000

typedef int (*plugin_init_fn)(nact_system *sys);

struct list {
	char *v[MAX_LIST];
	int n;
};

struct cfg {
	char *name;
	struct list listen, seed, load;
	char *secret_file;
	int allow_insecure;
	int no_lanes;
	char *registry;
	char *log_file;
	int log_level;
};

struct logsink {
	FILE *f;
	pthread_mutex_t mtx;
};

static const char *level_names[] = {"off", "error", "warn", "info", "debug"};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: nactor-node [--config FILE] [--name NAME] [--listen URL]... [--seed URL]...\n"
	    "                   [--secret-file FILE | --allow-insecure] [--load LIB.so]...\n"
	    "                   [--registry NODE] [--log-file FILE] [--log-level LEVEL]\n"
	    "                   [--lanes on|off]\n"
	    "Starts a nactor node and serves until SIGTERM or SIGINT (see nactor-node(1)).\n"
	    "Config file: one `key = value` per line, keys as the long options without\n"
	    "the dashes (secret-file is secret_file, and so on); # starts a comment.\n");
}

static int parse_level(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static int parse_bool(const char *s)
{
	if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		return 1;
	if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		return 0;
	return -1;
}

static int list_add(struct list *l, const char *v)
{
	if (l->n == MAX_LIST)
		return -1;
	if ((l->v[l->n] = strdup(v)) == NULL)
		return -1;
	l->n++;
	return 0;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
}

/* Apply key = value; NULL on success, else the reason. */
static const char *apply(struct cfg *c, const char *key, const char *val)
{
	if (val[0] == '\0')
		return "empty value";
	if (strcmp(key, "name") == 0) {
		if (strlen(val) > NACT_NODE_NAME_MAX)
			return "name longer than 63 bytes";
		set_str(&c->name, val);
	} else if (strcmp(key, "listen") == 0) {
		if (list_add(&c->listen, val) != 0)
			return "too many listen URLs (32 at most)";
	} else if (strcmp(key, "seed") == 0) {
		if (list_add(&c->seed, val) != 0)
			return "too many seeds (32 at most)";
	} else if (strcmp(key, "load") == 0) {
		if (list_add(&c->load, val) != 0)
			return "too many libraries (32 at most)";
	} else if (strcmp(key, "secret_file") == 0 || strcmp(key, "secret-file") == 0) {
		set_str(&c->secret_file, val);
	} else if (strcmp(key, "allow_insecure") == 0 || strcmp(key, "allow-insecure") == 0) {
		int b = parse_bool(val);
		if (b < 0)
			return "allow_insecure takes 0/1, true/false, yes/no or on/off";
		c->allow_insecure = b;
	} else if (strcmp(key, "lanes") == 0) {
		int b = parse_bool(val);
		if (b < 0)
			return "lanes takes 0/1, true/false, yes/no or on/off";
		c->no_lanes = !b;
	} else if (strcmp(key, "registry") == 0) {
		set_str(&c->registry, val);
	} else if (strcmp(key, "log_file") == 0 || strcmp(key, "log-file") == 0) {
		set_str(&c->log_file, val);
	} else if (strcmp(key, "log_level") == 0 || strcmp(key, "log-level") == 0) {
		int l = parse_level(val);
		if (l < 0)
			return "log_level takes off, error, warn, info or debug";
		c->log_level = l;
	} else {
		return "unknown key";
	}
	return NULL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (
	    n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Read a config file; 0, or 2 after printing "path:line: reason". */
static int read_config(struct cfg *c, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "nactor-node: %s: %s\n", path, strerror(errno));
		return 2;
	}
	char line[LINE_MAX_LEN];
	int no = 0, rv = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		no++;
		size_t l = strlen(line);
		if (l == sizeof(line) - 1 && line[l - 1] != '\n') {
			fprintf(stderr, "nactor-node: %s:%d: line longer than %d bytes\n", path, no,
			    LINE_MAX_LEN - 2);
			rv = 2;
			break;
		}
		if (memchr(line, '\0', l) != NULL && strlen(line) != l) {
			fprintf(stderr, "nactor-node: %s:%d: NUL byte in line\n", path, no);
			rv = 2;
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			fprintf(stderr, "nactor-node: %s:%d: expected `key = value`\n", path, no);
			rv = 2;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		const char *why = *key == '\0' ? "missing key" : apply(c, key, val);
		if (why != NULL) {
			fprintf(stderr, "nactor-node: %s:%d: %s: %s\n", path, no, key, why);
			rv = 2;
			break;
		}
	}
	if (rv == 0 && ferror(f)) {
		fprintf(stderr, "nactor-node: %s: read error\n", path);
		rv = 2;
	}
	fclose(f);
	return rv;
}

static int parse_args(struct cfg *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--allow-insecure") == 0) {
			c->allow_insecure = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
			fprintf(stderr, "nactor-node: %s: %s\n", a,
			    strncmp(a, "--", 2) != 0 ? "unexpected argument" : "missing value");
			usage(stderr);
			return 2;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--config") == 0) {
			int rv = read_config(c, v);
			if (rv != 0)
				return rv;
			continue;
		}
		char key[32];
		snprintf(key, sizeof(key), "%s", a + 2);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		const char *why = apply(c, key, v);
		if (why != NULL) {
			fprintf(stderr, "nactor-node: %s: %s\n", a, why);
			if (strcmp(why, "unknown key") == 0)
				usage(stderr);
			return 2;
		}
	}
	if (c->name == NULL) {
		fprintf(stderr, "nactor-node: no node name (name = ... or --name)\n");
		return 2;
	}
	if (c->listen.n == 0) {
		fprintf(stderr, "nactor-node: no listen URL (listen = ... or --listen)\n");
		return 2;
	}
	if (c->secret_file == NULL && !c->allow_insecure) {
		fprintf(stderr,
		    "nactor-node: give secret_file, or allow_insecure = 1 to run "
		    "without authentication\n");
		return 2;
	}
	if (c->secret_file != NULL && c->allow_insecure) {
		fprintf(stderr, "nactor-node: secret_file and allow_insecure exclude each other\n");
		return 2;
	}
	return 0;
}

/* The secret: the file's bytes without a trailing newline. */
static int read_secret(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "nactor-node: secret file %s: %s\n", path, strerror(errno));
		return 2;
	}
	char *buf = malloc(SECRET_MAX + 1);
	size_t n = buf ? fread(buf, 1, SECRET_MAX + 1, f) : 0;
	fclose(f);
	if (buf == NULL)
		return 1;
	if (n > SECRET_MAX) {
		fprintf(stderr, "nactor-node: secret file %s: longer than %d bytes\n", path,
		    SECRET_MAX);
		free(buf);
		return 2;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n < 16) {
		fprintf(stderr, "nactor-node: secret file %s: the secret needs 16 bytes or more\n",
		    path);
		free(buf);
		return 2;
	}
	*out = buf;
	*len = n;
	return 0;
}

static void log_line(void *arg, int level, const char *line)
{
	struct logsink *ls = arg;
	struct timespec ts;
	struct tm tm;
	char t[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&ls->mtx);
	fprintf(ls->f, "%s.%03ldZ %s %s\n", t, ts.tv_nsec / 1000000L,
	    level >= 0 && level < 5 ? level_names[level] : "?", line);
	fflush(ls->f);
	pthread_mutex_unlock(&ls->mtx);
}

/* The stop deadline: if the node and the system are not closed STOP_MS
 * after the signal, log and leave with status 3 rather than hang. */
#define STOP_MS (CLOSE_MS + 5000)

struct watchdog {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int done;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += STOP_MS / 1000;
	pthread_mutex_lock(&w->mtx);
	int rv = 0;
	while (!w->done && rv != ETIMEDOUT)
		rv = pthread_cond_timedwait(&w->cv, &w->mtx, &dl);
	int done = w->done;
	pthread_mutex_unlock(&w->mtx);
	if (!done) {
		static const char msg[] = "nactor-node: graceful stop took too long, exiting\n";
		if (write(2, msg, sizeof(msg) - 1) < 0)
			_exit(3);
		_exit(3);
	}
	return NULL;
}

static void cfg_free(struct cfg *c)
{
	struct list *ls[] = {&c->listen, &c->seed, &c->load};
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < ls[k]->n; i++)
			free(ls[k]->v[i]);
	free(c->name);
	free(c->secret_file);
	free(c->registry);
	free(c->log_file);
}

int main(int argc, char **argv)
{
	struct cfg c;
	memset(&c, 0, sizeof(c));
	c.log_level = NACT_LOG_INFO;
	int rv = parse_args(&c, argc, argv);
	if (rv != 0) {
		cfg_free(&c);
		return rv;
	}
	char *secret = NULL;
	size_t secret_len = 0;
	if (c.secret_file != NULL && (rv = read_secret(c.secret_file, &secret, &secret_len)) != 0) {
		cfg_free(&c);
		return rv;
	}
	struct logsink sink = {stderr, PTHREAD_MUTEX_INITIALIZER};
	if (c.log_file != NULL && (sink.f = fopen(c.log_file, "a")) == NULL) {
		fprintf(stderr, "nactor-node: log file %s: %s\n", c.log_file, strerror(errno));
		free(secret);
		cfg_free(&c);
		return 2;
	}
	/* block the stop signals before any thread starts: every thread
	 * inherits the mask, and main takes them with sigwait */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	nact_config sc;
	nact_config_init(&sc);
	sc.log_level = c.log_level;
	sc.log_fn = log_line;
	sc.log_arg = &sink;
	nact_system *sys = NULL;
	void *libs[MAX_LIST] = {0};
	struct watchdog wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	pthread_t wdt;
	int wdt_started = 0;
	int nlibs = 0, exitc = 1;
	if ((rv = nact_system_open(&sys, &sc)) != 0) {
		fprintf(stderr, "nactor-node: cannot open the system: %s\n", nact_strerror(rv));
		goto out;
	}
	for (int i = 0; i < c.load.n; i++) {
		void *h = dlopen(c.load.v[i], RTLD_NOW | RTLD_LOCAL);
		if (h == NULL) {
			nact_log(sys, NACT_LOG_ERROR, "nactor-node: load %s: %s", c.load.v[i],
			    dlerror());
			goto out;
		}
		libs[nlibs++] = h;
		plugin_init_fn init;
		*(void **)&init = dlsym(h, "nactor_plugin_init");
		if (init == NULL) {
			nact_log(sys, NACT_LOG_ERROR,
			    "nactor-node: %s does not export nactor_plugin_init", c.load.v[i]);
			goto out;
		}
		if ((rv = init(sys)) != 0) {
			nact_log(sys, NACT_LOG_ERROR, "nactor-node: %s: nactor_plugin_init: %s",
			    c.load.v[i], nact_strerror(rv));
			goto out;
		}
		nact_log(sys, NACT_LOG_INFO, "nactor-node: loaded %s", c.load.v[i]);
	}
	nact_node_opts o;
	nact_node_opts_init(&o);
	o.name = c.name;
	o.listen = (const char *const *)c.listen.v;
	o.nlisten = (uint32_t)c.listen.n;
	o.seeds = (const char *const *)c.seed.v;
	o.nseeds = (uint32_t)c.seed.n;
	o.secret = secret;
	o.secret_len = secret_len;
	o.allow_insecure = c.allow_insecure;
	o.lanes = c.no_lanes ? -1 : 0;
	if ((rv = nact_node_start(sys, &o)) != 0) {
		nact_log(sys, NACT_LOG_ERROR, "nactor-node: cannot start node %s: %s", c.name,
		    nact_strerror(rv));
		goto out;
	}
	if (c.registry != NULL) {
		char url[512];
		if ((rv = nact_registry_serve(sys, c.registry, url, sizeof(url))) != 0) {
			nact_log(sys, NACT_LOG_ERROR,
			    "nactor-node: cannot serve the registry as %s: %s", c.registry,
			    nact_strerror(rv));
			nact_node_stop(sys);
			goto out;
		}
		nact_log(sys, NACT_LOG_INFO, "nactor-node: registry served at %s", url);
	}
	char adv[512] = "";
	nact_node_url(sys, adv, sizeof(adv));
	nact_log(sys, NACT_LOG_INFO, "nactor-node: node %s running at %s (pid %ld)", c.name, adv,
	    (long)getpid());
	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	nact_log(sys, NACT_LOG_INFO, "nactor-node: %s: stopping",
	    sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (pthread_create(&wdt, NULL, watchdog_main, &wd) == 0)
		wdt_started = 1;
	nact_registry_unserve(sys);
	nact_node_stop(sys);
	exitc = 0;
out:
	if (sys != NULL) {
		nact_system_close(sys, CLOSE_MS);
		if (exitc == 0)
			fprintf(sink.f, "nactor-node: %s stopped\n", c.name);
	}
	if (wdt_started) {
		pthread_mutex_lock(&wd.mtx);
		wd.done = 1;
		pthread_cond_signal(&wd.cv);
		pthread_mutex_unlock(&wd.mtx);
		pthread_join(wdt, NULL);
	}
	for (int i = nlibs - 1; i >= 0; i--)
		dlclose(libs[i]);
	if (sink.f != stderr)
		fclose(sink.f);
	free(secret);
	cfg_free(&c);
	return exitc;
}
