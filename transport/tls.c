/*
 * transport/tls.c — TLS for node connections (tls+tcp:// URLs) through
 * nng's TLS transport (mbedTLS underneath in Debian's libnng). Every
 * listener and dialer gets its own nng_tls_config: the dialer's carries
 * the server name of its URL, so the peer's certificate must name the
 * host the URL names. Peer verification is required by default.
 */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <nactor/node.h>

#include "transport/netsec.h"

int nacti_tls_url(const char *url)
{
	return url != NULL && strncmp(url, "tls+", 4) == 0;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void nacti_tls_free(struct nacti_tls *t)
{
	if (t == NULL)
		return;
	free(t->ca_file);
	free(t->cert_file);
	if (t->key_pass != NULL) {
		memset(t->key_pass, 0, strlen(t->key_pass));
		free(t->key_pass);
	}
	free(t);
}

/* host of "tls+tcp://host:port" into buf ("[v6]" brackets removed). */
static void url_host(const char *url, char *buf, size_t cap)
{
	const char *h = strstr(url, "://");
	buf[0] = '\0';
	if (h == NULL)
		return;
	h += 3;
	const char *e;
	if (*h == '[') {
		h++;
		e = strchr(h, ']');
	} else {
		e = strrchr(h, ':');
	}
	if (e == NULL)
		e = h + strlen(h);
	size_t n = (size_t)(e - h);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, h, n);
	buf[n] = '\0';
}

static int cfg_new(struct nacti_tls *t, nng_tls_mode mode, const char *server, nng_tls_config **cp)
{
	nng_tls_config *c;
	int rv = nng_tls_config_alloc(&c, mode);
	if (rv != 0)
		return rv;
	if ((rv = nng_tls_config_ca_file(c, t->ca_file)) == 0 &&
	    (rv = nng_tls_config_cert_key_file(c, t->cert_file, t->key_pass)) == 0 &&
	    (rv = nng_tls_config_auth_mode(c,
	         t->verify_optional ? NNG_TLS_AUTH_MODE_OPTIONAL : NNG_TLS_AUTH_MODE_REQUIRED)) ==
	        0 &&
	    (server == NULL || server[0] == '\0' ||
	        (rv = nng_tls_config_server_name(c, server)) == 0)) {
		*cp = c;
		return 0;
	}
	nng_tls_config_free(c);
	return rv;
}

int nacti_tls_init(nact_system *sys, const nact_node_opts *o, struct nacti_tls **tp)
{
	*tp = NULL;
	int any_tls = 0, any_plain = 0;
	for (uint32_t i = 0; i < o->nlisten; i++)
		nacti_tls_url(o->listen[i]) ? any_tls++ : any_plain++;
	for (uint32_t i = 0; i < o->nseeds; i++)
		nacti_tls_url(o->seeds[i]) ? any_tls++ : any_plain++;
	int have = o->tls_ca_file != NULL || o->tls_cert_file != NULL;
	if (o->tls_only && (o->secret != NULL || any_plain || !have)) {
		nact_log(sys, NACT_LOG_ERROR,
		    "node %s: tls_only needs certificates, no secret and only tls+ URLs", o->name);
		return NACT_EINVAL;
	}
	if (!have) {
		if (any_tls) {
			nact_log(sys, NACT_LOG_ERROR,
			    "node %s: tls+ URL given without tls_ca_file / tls_cert_file", o->name);
			return NACT_EINVAL;
		}
		return 0;
	}
	if (o->tls_ca_file == NULL || o->tls_cert_file == NULL) {
		nact_log(sys, NACT_LOG_ERROR,
		    "node %s: TLS needs both tls_ca_file and tls_cert_file", o->name);
		return NACT_EINVAL;
	}
	struct nacti_tls *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NACT_ENOMEM;
	t->ca_file = dup_or_null(o->tls_ca_file);
	t->cert_file = dup_or_null(o->tls_cert_file);
	t->key_pass = dup_or_null(o->tls_key_pass);
	t->verify_optional = o->tls_verify_optional != 0;
	if (t->ca_file == NULL || t->cert_file == NULL ||
	    (o->tls_key_pass != NULL && t->key_pass == NULL)) {
		nacti_tls_free(t);
		return NACT_ENOMEM;
	}
	/* load once now, so a bad file fails nact_node_start, not a dial */
	nng_tls_config *c;
	int rv = cfg_new(t, NNG_TLS_MODE_SERVER, NULL, &c);
	if (rv != 0) {
		nact_log(sys, NACT_LOG_ERROR, "node %s: TLS certificates (%s, %s): %s", o->name,
		    t->ca_file, t->cert_file, nng_strerror(rv));
		nacti_tls_free(t);
		return NACT_EINVAL;
	}
	nng_tls_config_free(c);
	if (t->verify_optional)
		nact_log(sys, NACT_LOG_WARN,
		    "node %s: TLS peer verification optional: peers without a certificate are "
		    "accepted",
		    o->name);
	*tp = t;
	return 0;
}

int nacti_tls_listen(struct nacti_tls *t, nng_socket s, const char *url, nng_listener *lp)
{
	if (!nacti_tls_url(url))
		return nng_listen(s, url, lp, 0);
	if (t == NULL)
		return NNG_EINVAL;
	nng_listener l;
	nng_tls_config *c;
	int rv = nng_listener_create(&l, s, url);
	if (rv != 0)
		return rv;
	if ((rv = cfg_new(t, NNG_TLS_MODE_SERVER, NULL, &c)) != 0) {
		nng_listener_close(l);
		return rv;
	}
	rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, c);
	nng_tls_config_free(c); /* the listener holds its own reference */
	if (rv == 0)
		rv = nng_listener_start(l, 0);
	if (rv != 0) {
		nng_listener_close(l);
		return rv;
	}
	*lp = l;
	return 0;
}

int nacti_tls_dial(struct nacti_tls *t, nng_socket s, const char *url, nng_dialer *dp, int flags)
{
	if (!nacti_tls_url(url))
		return nng_dial(s, url, dp, flags);
	if (t == NULL)
		return NNG_EINVAL;
	char host[256];
	url_host(url, host, sizeof(host));
	nng_dialer d;
	nng_tls_config *c;
	int rv = nng_dialer_create(&d, s, url);
	if (rv != 0)
		return rv;
	if ((rv = cfg_new(t, NNG_TLS_MODE_CLIENT, host, &c)) != 0) {
		nng_dialer_close(d);
		return rv;
	}
	rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c);
	nng_tls_config_free(c);
	if (rv == 0)
		rv = nng_dialer_start(d, flags);
	if (rv != 0) {
		nng_dialer_close(d);
		return rv;
	}
	*dp = d;
	return 0;
}
