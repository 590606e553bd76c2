/*
 * tests/cancel/fuzz_common.h — shared by the libFuzzer target
 * (fuzz_request.c) and the deterministic fuzz test (test_fuzz_request.c):
 * what a reply of the registry server must look like, whatever the
 * request was.
 */
#ifndef NACT_FUZZ_COMMON_H
#define NACT_FUZZ_COMMON_H

#include <stddef.h>
#include <string.h>

#include <msgpack.h>

/* The reply in buf/len: exactly one msgpack map, starting with "v": 1 and
 * "ok": bool; when ok is false, an "error" string and nothing else.
 * Returns 1 (ok true), 0 (an error reply) or -1 (malformed reply). */
static inline int fz_reply_kind(const void *buf, size_t len)
{
	msgpack_unpacked up;
	size_t off = 0;
	int kind = -1;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
		goto out;
	const msgpack_object *m = &up.data;
	if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size < 2)
		goto out;
	const msgpack_object_kv *kv = m->via.map.ptr;
	if (kv[0].key.type != MSGPACK_OBJECT_STR || kv[0].key.via.str.size != 1 ||
	    kv[0].key.via.str.ptr[0] != 'v' || kv[0].val.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    kv[0].val.via.u64 != 1)
		goto out;
	if (kv[1].key.type != MSGPACK_OBJECT_STR || kv[1].key.via.str.size != 2 ||
	    memcmp(kv[1].key.via.str.ptr, "ok", 2) != 0 || kv[1].val.type != MSGPACK_OBJECT_BOOLEAN)
		goto out;
	if (kv[1].val.via.boolean) {
		kind = 1;
		goto out;
	}
	if (m->via.map.size == 3 && kv[2].key.type == MSGPACK_OBJECT_STR &&
	    kv[2].key.via.str.size == 5 && memcmp(kv[2].key.via.str.ptr, "error", 5) == 0 &&
	    kv[2].val.type == MSGPACK_OBJECT_STR && kv[2].val.via.str.size > 0)
		kind = 0;
out:
	msgpack_unpacked_destroy(&up);
	return kind;
}

#endif
