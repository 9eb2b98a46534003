/* tls.c — native TLS for deployments without a proxy: the certificate
 * files are checked before lws sees them, and renewed files are picked up
 * on SIGHUP without dropping connections. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "peertrack/log.h"
#include "net.h"

/* Loads the files into a scratch SSL_CTX: a missing file, bad PEM or a key
 * that does not match its certificate (a renewal caught half-way) is found
 * here, before the live context is touched. */
int pt__tls_check(const pt_config *c, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *what = NULL, *file = NULL;

	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
		what = "cannot load the certificate", file = c->tls_cert;
	else if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1)
		what = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
		       ? "the private key does not match the certificate"
		       : "cannot load the private key",
		file = c->tls_key;
	else if (SSL_CTX_check_private_key(ctx) != 1)
		what = "the private key does not match the certificate", file = c->tls_key;
	else if (c->tls_ca[0] && SSL_CTX_load_verify_file(ctx, c->tls_ca) != 1)
		what = "cannot load the CA certificates", file = c->tls_ca;
	if (what) {
		char ossl[256] = "";
		unsigned long e = ERR_peek_last_error();

		if (e)
			ERR_error_string_n(e, ossl, sizeof(ossl));
		snprintf(err, errlen, "%s '%s'%s%s", what, file, *ossl ? ": " : "", ossl);
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return what ? -1 : 0;
}

void pt__tls_log_cert(pt_server *s, const char *verb)
{
	union lws_tls_cert_info_results r;
	char cn[80] = "?", until[64] = "?";
	struct tm tm;

	if (!lws_tls_vhost_cert_info(s->vhost, LWS_TLS_CERT_INFO_COMMON_NAME, &r,
	                             sizeof(r.ns.name) - 1))
		snprintf(cn, sizeof(cn), "%.*s", (int)sizeof(r.ns.name), r.ns.name);
	if (!lws_tls_vhost_cert_info(s->vhost, LWS_TLS_CERT_INFO_VALIDITY_TO, &r, 0) &&
	    gmtime_r(&r.time, &tm))
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pt_log_info("TLS certificate %s: %s (CN %s, valid until %s)", verb, s->cfg.tls_cert, cn,
	            until);
}

/* SIGHUP: picks up renewed files at the paths the server started with.
 * Live connections keep the certificate they were set up with; new ones get
 * the new one. A bad renewal leaves the running certificate in place. */
void pt__tls_reload(pt_server *s)
{
	char err[512];

	if (!s->cfg.tls_cert[0] || !s->vhost)
		return;
	if (pt__tls_check(&s->cfg, err, sizeof(err))) {
		pt_log_error("TLS reload refused, keeping the running certificate: %s", err);
		return;
	}
	lws_tls_cert_updated(s->lws, s->cfg.tls_cert, s->cfg.tls_key, NULL, 0, NULL, 0);
	pt__tls_log_cert(s, "reloaded");
}
