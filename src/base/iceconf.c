/* iceconf.c — the syntax of the [ice] settings (see iceconf.h). */
#include <stdio.h>
#include <string.h>

#include "peertrack/iceconf.h"

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

int pt_ice_url_check(const char *url, size_t len, int turn, char *err, size_t errlen)
{
	const char *p = url, *end = url + len, *q;
	static const char *const schemes[2][2] = { { "stun:", "stuns:" }, { "turn:", "turns:" } };
	size_t sl = 0;

	for (int i = 0; i < 2; i++)
		if (len > strlen(schemes[turn][i]) && !memcmp(url, schemes[turn][i], strlen(schemes[turn][i])))
			sl = strlen(schemes[turn][i]);
	if (!sl) {
		snprintf(err, errlen, "'%.*s' does not start with %s or %s", (int)len, url,
		         schemes[turn][0], schemes[turn][1]);
		return -1;
	}
	p += sl;
	q = p;
	if (p < end && *p == '[') { /* IPv6 literal */
		while (p < end && *p != ']')
			p++;
		if (p == end || p - q < 3)
			goto bad;
		p++;
	} else {
		while (p < end && host_char(*p))
			p++;
		if (p == q)
			goto bad;
	}
	if (p < end && *p == ':') {
		unsigned long port = 0;
		const char *d = ++p;

		while (p < end && *p >= '0' && *p <= '9' && p - d < 6)
			port = port * 10 + (unsigned long)(*p++ - '0');
		if (p == d || port < 1 || port > 65535)
			goto bad;
	}
	if (p == end)
		return 0;
	if (turn && (size_t)(end - p) == strlen("?transport=udp") &&
	    (!memcmp(p, "?transport=udp", 14) || !memcmp(p, "?transport=tcp", 14)))
		return 0;
bad:
	snprintf(err, errlen, "'%.*s' is not %shost[:port]%s", (int)len, url, schemes[turn][0],
	         turn ? "[?transport=udp|tcp]" : "");
	return -1;
}

int pt_secrets_split(const char *text, size_t len, char out[PT_SECRETS_MAX][PT_SECRET_MAX + 1],
                     size_t out_len[PT_SECRETS_MAX], unsigned *count, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	unsigned n = 0;

	for (;;) {
		const char *s;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p == end)
			break;
		s = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
				snprintf(err, errlen, "secret %u holds a byte that is not printable ASCII", n + 1);
				goto fail;
			}
			p++;
		}
		if (n == PT_SECRETS_MAX) {
			snprintf(err, errlen, "more than %d secrets", PT_SECRETS_MAX);
			goto fail;
		}
		if ((size_t)(p - s) > PT_SECRET_MAX) {
			snprintf(err, errlen, "secret %u is longer than %d bytes", n + 1, PT_SECRET_MAX);
			goto fail;
		}
		memcpy(out[n], s, (size_t)(p - s));
		out[n][p - s] = '\0';
		out_len[n++] = (size_t)(p - s);
	}
	if (!n) {
		snprintf(err, errlen, "no secret");
		goto fail;
	}
	*count = n;
	return 0;
fail:
	/* Nothing half-parsed stays behind. */
	memset(out, 0, PT_SECRETS_MAX * (PT_SECRET_MAX + 1));
	memset(out_len, 0, PT_SECRETS_MAX * sizeof(*out_len));
	*count = 0;
	return -1;
}

