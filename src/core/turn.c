/* turn.c — ICE servers and TURN REST credentials (see turn.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "peertrack/config.h"
#include "peertrack/turn.h"

int pt_turn_username(char *out, size_t outlen, uint64_t expiry, const char *client_id)
{
	int n = snprintf(out, outlen, "%" PRIu64 ":%s", expiry, client_id);

	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}

int pt_turn_credential(const void *secret, size_t secret_len, const char *username,
                       char out[PT_TURN_CRED_CHARS + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (!HMAC(EVP_sha1(), secret, (int)secret_len, (const unsigned char *)username,
	          strlen(username), mac, &mac_len) || mac_len != 20)
		return -EIO;
	/* 20 bytes -> 28 characters, padding included: coturn compares the
	 * base64 text, padding and all. */
	if (EVP_EncodeBlock((unsigned char *)out, mac, 20) != PT_TURN_CRED_CHARS)
		return -EIO;
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int pt_turn_secrets_parse(pt_ice *ice, const char *text, size_t len, char *err, size_t errlen)
{
	pt_ice_clear(ice);
	if (pt_secrets_split(text, len, ice->secret, ice->secret_len, &ice->n_secrets, err, errlen)) {
		pt_ice_clear(ice);
		return -1;
	}
	return 0;
}

int pt_turn_secrets_read(pt_ice *ice, const char *path, char *err, size_t errlen)
{
	char buf[PT_TURN_SECRETS * (PT_TURN_SECRET_MAX + 2) + 64];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: group or others may access it (mode %03o); chmod 600 it",
		         path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || (size_t)n == sizeof(buf)) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "too large for secrets");
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	r = pt_turn_secrets_parse(ice, buf, (size_t)n, err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (r) {
		/* Prefix the path; the parser's text never quotes the file. */
		char why[160];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: %s", path, why);
	}
	return r;
}

/* Appends a list of URLs as JSON strings, comma-separated. */
static int url_list(pt_buf *b, const char *list)
{
	const char *p = list;
	int r = 0, first = 1;

	for (;;) {
		size_t n;

		p += strspn(p, " \t,");
		if (!*p)
			return r;
		n = strcspn(p, " \t,");
		if (!first)
			r |= pt_buf_append(b, ",", 1);
		r |= pt_buf_json_string(b, p, n);
		first = 0;
		p += n;
	}
}

static int has_urls(const char *list)
{
	return list && list[strspn(list, " \t,")];
}

int pt_ice_servers_json(pt_buf *b, const pt_ice *ice, const char *client_id, uint64_t now_s)
{
	size_t start = b->len;
	int r = pt_buf_append(b, "[", 1);

	if (has_urls(ice->stun_urls)) {
		r |= pt_buf_append(b, "{\"urls\":[", 9);
		r |= url_list(b, ice->stun_urls);
		r |= pt_buf_append(b, "]}", 2);
	}
	if (has_urls(ice->turn_urls) && ice->n_secrets) {
		char user[PT_TURN_USER_MAX], cred[PT_TURN_CRED_CHARS + 1];

		if (pt_turn_username(user, sizeof(user), now_s + ice->ttl_s, client_id) ||
		    pt_turn_credential(ice->secret[0], ice->secret_len[0], user, cred)) {
			r = -EIO;
			goto out;
		}
		if (has_urls(ice->stun_urls))
			r |= pt_buf_append(b, ",", 1);
		r |= pt_buf_append(b, "{\"urls\":[", 9);
		r |= url_list(b, ice->turn_urls);
		r |= pt_buf_printf(b, "],\"username\":\"%s\",\"credential\":\"%s\"}", user, cred);
		OPENSSL_cleanse(cred, sizeof(cred));
	}
	r |= pt_buf_append(b, "]", 1);
out:
	if (r) {
		b->len = start;
		if (b->p)
			b->p[b->head + b->len] = '\0';
		return r == -EIO ? -EIO : -ENOMEM;
	}
	return 0;
}

void pt_ice_clear(pt_ice *ice)
{
	OPENSSL_cleanse(ice->secret, sizeof(ice->secret));
	memset(ice->secret_len, 0, sizeof(ice->secret_len));
	ice->n_secrets = 0;
}

int pt_ice_configure(pt_ice *ice, const pt_config *cfg, char *err, size_t errlen)
{
	pt_ice fresh = { .stun_urls = cfg->stun_urls, .turn_urls = cfg->turn_urls,
	                 .ttl_s = cfg->turn_credential_ttl_s };
	int r = 0;

	/* Secrets are loaded only when TURN is offered: n_secrets > 0 then
	 * means "welcome carries TURN credentials". */
	if (cfg->turn_urls[strspn(cfg->turn_urls, " \t,")]) {
		if (cfg->turn_secret_file[0]) {
			r = pt_turn_secrets_read(&fresh, cfg->turn_secret_file, err, errlen);
		} else {
			char why[160];

			r = pt_turn_secrets_parse(&fresh, cfg->turn_secret, strlen(cfg->turn_secret),
			                          why, sizeof(why));
			if (r)
				snprintf(err, errlen, "turn_secret: %s", why);
		}
	}
	if (r) {
		pt_ice_clear(&fresh);
		return -1;
	}
	pt_ice_clear(ice);
	*ice = fresh;
	pt_ice_clear(&fresh);
	return 0;
}
