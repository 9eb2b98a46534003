/* ibatch.c — the wire form of a batch of inbox messages (ibatch.h). */
#include <errno.h>
#include <stdint.h>

#include "peertrack/ibatch.h"

int pt_ibatch_add(pt_buf *b, const char *m, size_t len)
{
	size_t was = b->len;
	uint8_t h[1 + PT_IBATCH_REC_HEAD];
	size_t hn = 0;

	if (!len || m[0] == PT_IBATCH_TAG || len > UINT32_MAX)
		return -EINVAL;
	if (!b->len)
		h[hn++] = PT_IBATCH_TAG;
	h[hn++] = (uint8_t)(len >> 24);
	h[hn++] = (uint8_t)(len >> 16);
	h[hn++] = (uint8_t)(len >> 8);
	h[hn++] = (uint8_t)len;
	if (pt_buf_append(b, h, hn) || pt_buf_append(b, m, len)) {
		b->len = was;
		return -ENOMEM;
	}
	return 0;
}

bool pt_ibatch_next(const char *m, size_t len, size_t *off, const char **rec, size_t *rlen)
{
	const uint8_t *p = (const uint8_t *)m;
	size_t at = *off ? *off : 1, n;

	if (!len || m[0] != PT_IBATCH_TAG || at >= len || len - at < PT_IBATCH_REC_HEAD)
		return false;
	n = (size_t)p[at] << 24 | (size_t)p[at + 1] << 16 | (size_t)p[at + 2] << 8 | p[at + 3];
	at += PT_IBATCH_REC_HEAD;
	/* at <= len here, so len - at cannot wrap. */
	if (!n || n > len - at || m[at] == PT_IBATCH_TAG)
		return false;
	*rec = m + at;
	*rlen = n;
	*off = at + n;
	return true;
}

long pt_ibatch_count(const char *m, size_t len)
{
	size_t off = 0, rlen;
	const char *rec;
	long n = 0;

	while (pt_ibatch_next(m, len, &off, &rec, &rlen))
		n++;
	/* Every byte belongs to a record: a trailing fragment is malformed. */
	return n && off == len ? n : -1;
}
