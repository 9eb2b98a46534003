/* binstr.c — binary strings of the WebTorrent tracker protocol (binstr.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "peertrack/binstr.h"
#include "peertrack/jscan.h"

/* One decoder for both spellings: json says s is a JSON string's raw
 * content (escapes to undo, raw control bytes and quotes impossible). */
static int decode(const char *s, size_t len, uint8_t *out, size_t n, bool json)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint8_t tmp[256];
	size_t k = 0;

	/* Even all two-byte characters (or all \u00XX) cannot fit. */
	if (n > sizeof(tmp) || len > (json ? 6 : 2) * n)
		return -EINVAL;
	while (p < end) {
		if (k == n)
			return -EINVAL;
		if (json && *p == '\\') {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *e;
			int h, l;

			if (end - p < 2)
				return -EINVAL;
			if (p[1] == 'u') {
				/* Only \u00XX is a byte; anything above is refused. */
				if (end - p < 6 || p[2] != '0' || p[3] != '0' ||
				    (h = pt_jscan_hexval(p[4])) < 0 || (l = pt_jscan_hexval(p[5])) < 0)
					return -EINVAL;
				tmp[k++] = (uint8_t)(h << 4 | l);
				p += 6;
				continue;
			}
			if (!p[1] || !(e = memchr(from, p[1], sizeof(from) - 1)))
				return -EINVAL;
			tmp[k++] = (uint8_t)to[e - from];
			p += 2;
			continue;
		}
		if (json && (*p < 0x20 || *p == '"'))
			return -EINVAL; /* never raw inside a JSON string */
		if (*p < 0x80) {
			tmp[k++] = *p++;
			continue;
		}
		/* U+0080..U+00FF are C2 80..C3 BF; any other lead byte is a
		 * longer character (above U+00FF) or not UTF-8 at all. */
		if ((*p != 0xc2 && *p != 0xc3) || end - p < 2 || (p[1] & 0xc0) != 0x80)
			return -EINVAL;
		tmp[k++] = (uint8_t)((p[0] & 0x03) << 6 | (p[1] & 0x3f));
		p += 2;
	}
	if (k != n)
		return -EINVAL;
	memcpy(out, tmp, n);
	return 0;
}

int pt_binstr_decode(const char *s, size_t len, uint8_t *out, size_t n)
{
	return decode(s, len, out, n, false);
}

int pt_binstr_decode_json(const char *s, size_t len, uint8_t *out, size_t n)
{
	return decode(s, len, out, n, true);
}

int pt_buf_binstr(pt_buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[2 + 6 * 256], *o = tmp;

	if (n > 256)
		return -EINVAL;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		switch (c) {
		case '"':  *o++ = '\\'; *o++ = '"'; continue;
		case '\\': *o++ = '\\'; *o++ = '\\'; continue;
		case '\b': *o++ = '\\'; *o++ = 'b'; continue;
		case '\t': *o++ = '\\'; *o++ = 't'; continue;
		case '\n': *o++ = '\\'; *o++ = 'n'; continue;
		case '\f': *o++ = '\\'; *o++ = 'f'; continue;
		case '\r': *o++ = '\\'; *o++ = 'r'; continue;
		default: break;
		}
		if (c < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
		} else if (c < 0x80) {
			*o++ = (char)c;
		} else {
			*o++ = (char)(0xc0 | c >> 6);
			*o++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*o++ = '"';
	return pt_buf_append(b, tmp, (size_t)(o - tmp));
}
