/*
 * mailbox/pack.c — msgpack bodies built with msgpack-c's packer.
 *
 * The packer's write callback appends to the message's nng_msg, so packed
 * bytes land directly after the header with no intermediate buffer. The
 * first append failure is remembered (sticky) and later writes are skipped.
 */
#include <string.h>

#include <nactor/mailbox.h>

#include "mailbox/envelope.h"

static int pack_write(void *data, const char *buf, size_t len)
{
	nact_pack *p = data;
	if (p->err != 0)
		return -1;
	if (nng_msg_append(p->nm, buf, len) != 0) {
		p->err = NACT_ENOMEM;
		return -1;
	}
	return 0;
}

void nact_pack_init(nact_pack *p, nact_msg *m)
{
	p->nm = m->nm;
	p->err = m->nm == NULL ? NACT_EINVAL : 0;
	msgpack_packer_init(&p->pk, p, pack_write);
}

int nact_pack_error(const nact_pack *p)
{
	return p->err;
}

void nact_pack_int(nact_pack *p, int64_t v)
{
	msgpack_pack_int64(&p->pk, v);
}
void nact_pack_uint(nact_pack *p, uint64_t v)
{
	msgpack_pack_uint64(&p->pk, v);
}
void nact_pack_double(nact_pack *p, double v)
{
	msgpack_pack_double(&p->pk, v);
}
void nact_pack_bool(nact_pack *p, int v)
{
	if (v)
		msgpack_pack_true(&p->pk);
	else
		msgpack_pack_false(&p->pk);
}
void nact_pack_nil(nact_pack *p)
{
	msgpack_pack_nil(&p->pk);
}
void nact_pack_str(nact_pack *p, const char *s)
{
	nact_pack_strn(p, s, s ? strlen(s) : 0);
}
void nact_pack_strn(nact_pack *p, const char *s, size_t n)
{
	if (n > UINT32_MAX) {
		p->err = NACT_EINVAL;
		return;
	}
	msgpack_pack_str(&p->pk, n);
	if (n > 0)
		msgpack_pack_str_body(&p->pk, s, n);
}
void nact_pack_bin(nact_pack *p, const void *b, size_t n)
{
	if (n > UINT32_MAX) {
		p->err = NACT_EINVAL;
		return;
	}
	msgpack_pack_bin(&p->pk, n);
	if (n > 0)
		msgpack_pack_bin_body(&p->pk, b, n);
}
void nact_pack_array(nact_pack *p, uint32_t n)
{
	msgpack_pack_array(&p->pk, n);
}
void nact_pack_map(nact_pack *p, uint32_t n)
{
	msgpack_pack_map(&p->pk, n);
}
