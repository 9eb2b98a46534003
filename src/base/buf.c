/* buf.c — see include/peertrack/buf.h. The buffer is kept NUL-terminated
 * after the text, which costs one byte and lets logs and tests treat it
 * as a C string. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/buf.h"
#include "peertrack/utf8.h"

void pt_buf_init(pt_buf *b, size_t head)
{
	b->p = NULL;
	b->head = head;
	b->len = 0;
	b->cap = 0;
}

void pt_buf_reset(pt_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[b->head] = '\0';
}

void pt_buf_free(pt_buf *b)
{
	free(b->p);
	pt_buf_init(b, b->head);
}

/* Makes room for `extra` more bytes of text plus the NUL. */
static int reserve(pt_buf *b, size_t extra)
{
	size_t need = b->head + b->len + 1;

	if (extra > SIZE_MAX / 2 - need)
		return -ENOMEM;
	need += extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int pt_buf_append(pt_buf *b, const void *data, size_t len)
{
	if (reserve(b, len) < 0)
		return -ENOMEM;
	if (len)
		memcpy(b->p + b->head + b->len, data, len);
	b->len += len;
	b->p[b->head + b->len] = '\0';
	return 0;
}

int pt_buf_printf(pt_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[1];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->head + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

int pt_buf_json_string(pt_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len;
	size_t i = 0;

	if (pt_buf_append(b, "\"", 1) < 0)
		return -ENOMEM;
	while (i < len) {
		size_t run = i;
		while (run < len && plain_byte(p[run]))
			run++;
		if (run > i && pt_buf_append(b, p + i, run - i) < 0)
			goto nomem;
		i = run;
		if (i == len)
			break;

		unsigned char c = p[i];
		int r;
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			r = pt_buf_append(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			r = pt_buf_append(b, esc, 6);
			i++;
		} else {
			size_t n = pt_utf8_seq(p + i, p + len);
			if (n) {
				r = pt_buf_append(b, p + i, n);
				i += n;
			} else {
				/* Invalid UTF-8 (only possible from log text, never from
				 * jansson): one replacement character per bad byte keeps
				 * the output valid JSON. */
				r = pt_buf_append(b, "\\ufffd", 6);
				i++;
			}
		}
		if (r < 0)
			goto nomem;
	}
	if (pt_buf_append(b, "\"", 1) < 0)
		goto nomem;
	return 0;
nomem:
	b->len = start;
	b->p[b->head + b->len] = '\0';
	return -ENOMEM;
}
