/*
 * mailbox/reader.c — reading msgpack bodies safely.
 *
 * DESIGN
 * msgpack-c decodes (msgpack_unpack), but it allocates count * 24 bytes for
 * an array header before it knows whether the bytes exist, so a 5-byte body
 * claiming 4 billion elements would ask for ~100 GB. nact_msgpack_validate
 * therefore walks the body's structure first (no decoding, no allocation):
 * every value complete, no reserved byte 0xc1, container element counts and
 * nesting depth and the total number of values within the limits, and no
 * count larger than the bytes left could hold. Only a body that passes is
 * handed to msgpack-c. The reader is then a cursor over msgpack_objects:
 * top-level values are unpacked one at a time; entering a container pushes
 * a frame over its elements. Strings and bins point into the body.
 */
#include <stdlib.h>
#include <string.h>

#include <nactor/mailbox.h>

#include "mailbox/envelope.h"

nact_limits nact_limits_default(void)
{
	nact_limits l = {16u << 20, 32, 1u << 20, 4u << 20};
	return l;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Validate; *has_cont set if any value needs a msgpack zone to unpack
 * (msgpack-c 4.0 creates one for arrays, maps, str, bin and ext). */
static int validate(const uint8_t *p, size_t len, const nact_limits *lim, int *has_cont)
{
	uint32_t stack[NACT_READER_DEPTH + 1]; /* values left per open container */
	uint32_t depth = 0;
	uint64_t total = 0;
	size_t off = 0;
	uint32_t maxd = lim->max_depth < NACT_READER_DEPTH ? lim->max_depth : NACT_READER_DEPTH;

	*has_cont = 0;
	if (len > lim->max_body)
		return NACT_ELIMIT;
	while (off < len || depth > 0) {
		if (off >= len)
			return NACT_ETRUNC;
		if (++total > lim->max_total)
			return NACT_ELIMIT;
		uint8_t b = p[off++];
		uint64_t skip = 0;  /* payload bytes after the type byte */
		uint64_t count = 0; /* values inside, for containers */
		int cont = 0;
		int lenbytes = 0; /* size of a length field to read */
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			/* fixint, nil, bool */
		} else if (b <= 0x8f) {
			cont = 1;
			count = 2u * (b & 0x0f);
		} else if (b <= 0x9f) {
			cont = 1;
			count = b & 0x0f;
		} else if (b <= 0xbf) {
			skip = b & 0x1f;
			*has_cont = 1;
		} else {
			if ((b >= 0xc4 && b <= 0xc9) || (b >= 0xd4 && b <= 0xdb))
				*has_cont = 1; /* bin, ext, fixext, str */
			switch (b) {
			case 0xc1:
				return NACT_EMALFORMED;
			case 0xc4:
			case 0xd9:
				lenbytes = 1;
				break;
			case 0xc5:
			case 0xda:
				lenbytes = 2;
				break;
			case 0xc6:
			case 0xdb:
				lenbytes = 4;
				break;
			case 0xc7:
				lenbytes = 1;
				skip = 1;
				break; /* ext: + type byte */
			case 0xc8:
				lenbytes = 2;
				skip = 1;
				break;
			case 0xc9:
				lenbytes = 4;
				skip = 1;
				break;
			case 0xca:
				skip = 4;
				break;
			case 0xcb:
				skip = 8;
				break;
			case 0xcc:
			case 0xd0:
				skip = 1;
				break;
			case 0xcd:
			case 0xd1:
				skip = 2;
				break;
			case 0xce:
			case 0xd2:
				skip = 4;
				break;
			case 0xcf:
			case 0xd3:
				skip = 8;
				break;
			case 0xd4:
				skip = 2;
				break;
			case 0xd5:
				skip = 3;
				break;
			case 0xd6:
				skip = 5;
				break;
			case 0xd7:
				skip = 9;
				break;
			case 0xd8:
				skip = 17;
				break;
			case 0xdc:
				cont = 1;
				lenbytes = 2;
				break;
			case 0xdd:
				cont = 1;
				lenbytes = 4;
				break;
			case 0xde:
				cont = 2;
				lenbytes = 2;
				break;
			case 0xdf:
				cont = 2;
				lenbytes = 4;
				break;
			default:
				return NACT_EMALFORMED;
			}
		}
		if (lenbytes) {
			if (len - off < (size_t)lenbytes)
				return NACT_ETRUNC;
			uint64_t n = be(p + off, lenbytes);
			off += lenbytes;
			if (cont)
				count = cont == 2 ? 2 * n : n;
			else
				skip += n;
		}
		if (skip > len - off)
			return NACT_ETRUNC;
		off += skip;
		/* this value fills one slot of the enclosing container */
		while (depth > 0 && stack[depth - 1] == 0)
			depth--; /* (never happens: closed below) */
		if (depth > 0)
			stack[depth - 1]--;
		if (cont) {
			*has_cont = 1;
			if (count > lim->max_elems)
				return NACT_ELIMIT;
			if (count > len - off)
				return NACT_ETRUNC; /* each value takes at least a byte */
			if (count > 0) {
				if (depth >= maxd)
					return NACT_ELIMIT;
				stack[depth++] = (uint32_t)count;
			} else if (depth >= maxd) {
				return NACT_ELIMIT;
			}
		}
		while (depth > 0 && stack[depth - 1] == 0)
			depth--;
	}
	return 0;
}

int nact_msgpack_validate(const void *buf, size_t len, const nact_limits *lim)
{
	nact_limits d = nact_limits_default();
	int hc;
	if (buf == NULL && len > 0)
		return NACT_EINVAL;
	return validate(buf, len, lim ? lim : &d, &hc);
}

int nact_reader_init_buf(nact_reader *r, const void *buf, size_t len, const nact_limits *lim)
{
	nact_limits d = nact_limits_default();
	int hc = 0;
	memset(r, 0, sizeof(*r) - sizeof(r->st));
	if (buf == NULL && len > 0)
		return NACT_EINVAL;
	int rv = validate(buf, len, lim ? lim : &d, &hc);
	if (rv != 0)
		return rv;
	r->buf = buf;
	r->len = len;
	if (hc) {
		r->zone = msgpack_zone_new(512);
		if (r->zone == NULL)
			return NACT_ENOMEM;
	}
	return 0;
}

int nact_reader_init(nact_reader *r, const nact_msg *m, const nact_limits *lim)
{
	size_t len;
	const void *b;
	if (m == NULL || m->nm == NULL) {
		memset(r, 0, sizeof(*r) - sizeof(r->st));
		return NACT_EINVAL;
	}
	b = nact_msg_body(m, &len);
	return nact_reader_init_buf(r, b, len, lim);
}

void nact_reader_fini(nact_reader *r)
{
	if (r->zone != NULL)
		msgpack_zone_free(r->zone);
	r->zone = NULL;
}

/* The next value without consuming it. */
static int peek(nact_reader *r, const msgpack_object **op, size_t *noff)
{
	if (r->depth > 0) {
		typeof(r->st[0]) *f = &r->st[r->depth - 1];
		if (f->i >= f->n)
			return NACT_EEOF;
		if (f->is_map) {
			const msgpack_object_kv *kv = (const msgpack_object_kv *)f->elems;
			*op = (f->i & 1) ? &kv[f->i / 2].val : &kv[f->i / 2].key;
		} else {
			*op = &f->elems[f->i];
		}
		return 0;
	}
	if (r->off >= r->len)
		return NACT_EEOF;
	size_t off = r->off;
	if (r->zone != NULL)
		msgpack_zone_clear(r->zone);
	if (msgpack_unpack(r->buf, r->len, &off, r->zone, &r->top) < 0)
		return NACT_EMALFORMED; /* validated: should not happen */
	*noff = off;
	*op = &r->top;
	return 0;
}

static void advance(nact_reader *r, size_t noff)
{
	if (r->depth > 0)
		r->st[r->depth - 1].i++;
	else
		r->off = noff;
}

/* Each typed read is: look at the next value, convert it (0 or an error),
 * and move past it only on success. The converters below differ only in
 * what they accept. */
typedef int (*conv_fn)(const msgpack_object *p, void *out, void *out2);

static int read_as(nact_reader *r, conv_fn conv, void *out, void *out2)
{
	const msgpack_object *p;
	size_t noff = 0;
	int rv = peek(r, &p, &noff);
	if (rv == 0 && (rv = conv(p, out, out2)) == 0)
		advance(r, noff);
	return rv;
}

static int conv_object(const msgpack_object *p, void *out, void *unused)
{
	*(msgpack_object *)out = *p;
	return 0;
}

static int conv_int(const msgpack_object *p, void *out, void *unused)
{
	if (p->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (p->via.u64 > INT64_MAX)
			return NACT_ERANGE;
		*(int64_t *)out = (int64_t)p->via.u64;
		return 0;
	}
	if (p->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return NACT_ETYPE;
	*(int64_t *)out = p->via.i64;
	return 0;
}

static int conv_uint(const msgpack_object *p, void *out, void *unused)
{
	if (p->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return NACT_ERANGE;
	if (p->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return NACT_ETYPE;
	*(uint64_t *)out = p->via.u64;
	return 0;
}

static int conv_double(const msgpack_object *p, void *out, void *unused)
{
	double *v = out;
	switch (p->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*v = p->via.f64;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*v = (double)p->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = (double)p->via.i64;
		return 0;
	default:
		return NACT_ETYPE;
	}
}

static int conv_bool(const msgpack_object *p, void *out, void *unused)
{
	if (p->type != MSGPACK_OBJECT_BOOLEAN)
		return NACT_ETYPE;
	*(int *)out = p->via.boolean ? 1 : 0;
	return 0;
}

static int conv_nil(const msgpack_object *p, void *unused, void *unused2)
{
	return p->type == MSGPACK_OBJECT_NIL ? 0 : NACT_ETYPE;
}

static int conv_str(const msgpack_object *p, void *out, void *len)
{
	if (p->type != MSGPACK_OBJECT_STR)
		return NACT_ETYPE;
	*(const char **)out = p->via.str.ptr;
	*(size_t *)len = p->via.str.size;
	return 0;
}

static int conv_bin(const msgpack_object *p, void *out, void *len)
{
	if (p->type != MSGPACK_OBJECT_BIN)
		return NACT_ETYPE;
	*(const void **)out = p->via.bin.ptr;
	*(size_t *)len = p->via.bin.size;
	return 0;
}

int nact_read_object(nact_reader *r, msgpack_object *o)
{
	return read_as(r, conv_object, o, NULL);
}
int nact_read_int(nact_reader *r, int64_t *v)
{
	return read_as(r, conv_int, v, NULL);
}
int nact_read_uint(nact_reader *r, uint64_t *v)
{
	return read_as(r, conv_uint, v, NULL);
}
int nact_read_double(nact_reader *r, double *v)
{
	return read_as(r, conv_double, v, NULL);
}
int nact_read_bool(nact_reader *r, int *v)
{
	return read_as(r, conv_bool, v, NULL);
}
int nact_read_nil(nact_reader *r)
{
	return read_as(r, conv_nil, NULL, NULL);
}
int nact_read_str(nact_reader *r, const char **s, size_t *n)
{
	size_t len = 0;
	int rv = read_as(r, conv_str, (void *)s, &len);
	if (rv == 0)
		*n = len;
	return rv;
}
int nact_read_bin(nact_reader *r, const void **b, size_t *n)
{
	size_t len = 0;
	int rv = read_as(r, conv_bin, (void *)b, &len);
	if (rv == 0)
		*n = len;
	return rv;
}

static int enter(nact_reader *r, int map, uint32_t *n)
{
	const msgpack_object *p;
	size_t noff = 0;
	int rv = peek(r, &p, &noff);
	if (rv != 0)
		return rv;
	if (p->type != (map ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY))
		return NACT_ETYPE;
	if (r->depth >= NACT_READER_DEPTH)
		return NACT_ELIMIT;
	advance(r, noff);
	typeof(r->st[0]) *f = &r->st[r->depth++];
	f->i = 0;
	f->is_map = map;
	if (map) {
		f->elems = (const msgpack_object *)(const void *)p->via.map.ptr;
		f->n = 2 * p->via.map.size;
		*n = p->via.map.size;
	} else {
		f->elems = p->via.array.ptr;
		f->n = p->via.array.size;
		*n = p->via.array.size;
	}
	return 0;
}

int nact_read_array(nact_reader *r, uint32_t *n)
{
	return enter(r, 0, n);
}

int nact_read_map(nact_reader *r, uint32_t *npairs)
{
	return enter(r, 1, npairs);
}

int nact_read_leave(nact_reader *r)
{
	if (r->depth == 0)
		return NACT_ESTATE;
	r->depth--;
	return 0;
}

int nact_read_done(const nact_reader *r)
{
	if (r->depth > 0)
		return r->st[r->depth - 1].i >= r->st[r->depth - 1].n;
	return r->off >= r->len;
}
