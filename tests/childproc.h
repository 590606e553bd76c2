/*
 * tests/childproc.h — child processes for the multi-process tests: this
 * test binary re-executed with other arguments (fork + exec, so the child
 * is a fresh process whatever threads the test already runs), talking
 * over its stdin and stdout. Needs testutil.h first (nt_now_ms).
 */
#ifndef NACT_TESTS_CHILDPROC_H
#define NACT_TESTS_CHILDPROC_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Start /proc/self/exe with argv (NULL-terminated, argv[0] the child's
 * name); *in gets the write end of its stdin, *out the read end of its
 * stdout (NULL: closed here). Returns the pid, -1 on failure. */
static inline pid_t nt_spawn_self(char *const argv[], int *in, int *out)
{
	int pi[2], po[2];
	if (pipe(pi) != 0)
		return -1;
	if (pipe(po) != 0) {
		close(pi[0]);
		close(pi[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pi[0], 0);
		dup2(po[1], 1);
		close(pi[0]);
		close(pi[1]);
		close(po[0]);
		close(po[1]);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	if (pid < 0) {
		close(pi[1]);
		close(po[0]);
		return -1;
	}
	*in = pi[1];
	if (out != NULL)
		*out = po[0];
	else
		close(po[0]);
	return pid;
}

/* One line read from fd into line (without '\n'), through the buffer
 * buf[cap] holding *got bytes already read; 0, or -1 at the deadline,
 * EOF or a full buffer without a line. */
static inline int nt_read_line(int fd, char *buf, size_t cap, size_t *got, char *line,
    size_t linecap, uint64_t wait_ms)
{
	uint64_t dl = nt_now_ms() + wait_ms;
	for (;;) {
		char *nl = memchr(buf, '\n', *got);
		if (nl != NULL) {
			size_t l = (size_t)(nl - buf);
			snprintf(line, linecap, "%.*s", (int)l, buf);
			memmove(buf, nl + 1, *got - l - 1);
			*got -= l + 1;
			return 0;
		}
		uint64_t now = nt_now_ms();
		struct pollfd pf = {fd, POLLIN, 0};
		if (now >= dl || *got == cap || poll(&pf, 1, (int)(dl - now)) <= 0)
			return -1;
		ssize_t r = read(fd, buf + *got, cap - *got);
		if (r <= 0)
			return -1;
		*got += (size_t)r;
	}
}

#endif
