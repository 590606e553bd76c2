/*
 * tests/mputil.h — helpers for tests that talk to a node's IPC server:
 * a private runtime directory, and reading msgpack-c maps (the server's
 * replies and events).
 *
 * Single-threaded use from the test's main thread. Returned objects point
 * into the msgpack_unpacked they came from (the caller owns and destroys it).
 */
#ifndef NACT_TESTS_MPUTIL_H
#define NACT_TESTS_MPUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

/* A fresh private XDG_RUNTIME_DIR "/tmp/nact-TAG-XXXXXX", its path written
 * to dir (64 bytes); exits the test on failure. */
static inline void rundir_fresh(char dir[64], const char *tag)
{
	snprintf(dir, 64, "/tmp/nact-%s-XXXXXX", tag);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	setenv("XDG_RUNTIME_DIR", dir, 1);
}

/* Remove dir and its nactor/ (both must be empty by then). */
static inline void rundir_cleanup(const char *dir)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/nactor", dir);
	rmdir(p);
	rmdir(dir);
}

/* The value of string key k in map m, or NULL (m NULL or not a map). */
static inline const msgpack_object *mp_get(const msgpack_object *m, const char *k)
{
	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *key = &m->via.map.ptr[i].key;
		if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen(k) &&
		    memcmp(key->via.str.ptr, k, key->via.str.size) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

/* 1 when o is the string s. */
static inline int mp_is(const msgpack_object *o, const char *s)
{
	return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	    memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* o as an unsigned integer, or UINT64_MAX when it is not one. */
static inline uint64_t mp_u(const msgpack_object *o)
{
	return o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : UINT64_MAX;
}

#endif
