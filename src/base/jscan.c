/* jscan.c — the fast paths' allocation-free JSON scanner (jscan.h): any
 * doubt is a 0, and the full parser decides. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "peertrack/jscan.h"
#include "peertrack/utf8.h"

void pt_jscan_ws(pt_jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

int pt_jscan_eat(pt_jscan *s, char c)
{
	pt_jscan_ws(s);
	if (s->p >= s->end || *s->p != c)
		return 0;
	s->p++;
	pt_jscan_ws(s);
	return 1;
}

int pt_jscan_hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int h = pt_jscan_hexval((unsigned char)p[i]);
		if (h < 0)
			return 0;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 1;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Non-zero when one of the 8 bytes is < 0x20, '"', '\\' or >= 0x80 (the
 * classic "has a zero byte" bit trick, per condition). */
static inline uint64_t special8(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');

	return ((x - ONES * 0x20) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | x) & HIGHS;
}

/* Rejects what jansson rejects: raw control characters, bad escapes,
 * \u0000 (unless allowed), unpaired surrogates, bad UTF-8. */
int pt_jscan_string(pt_jscan *s, const char **start, size_t *len, int *escaped)
{
	const char *p = s->p + 1;

	*escaped = 0;
	*start = p;
	while (p < s->end) {
		unsigned char c;

		/* Sixteen (SSE2) or eight bytes at a time over plain ASCII —
		 * nearly all of an SDP — stopping at a quote, backslash,
		 * control byte or non-ASCII byte, which the byte loop below
		 * then judges. */
#if defined(__SSE2__)
		while (s->end - p >= 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
			/* Signed: bytes >= 0x80 are negative, so "< 0x20"
			 * catches them along with the control bytes. */
			__m128i hit = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
			              _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
			                           _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
			int m = _mm_movemask_epi8(hit);

			if (m) {
				p += __builtin_ctz((unsigned)m);
				break;
			}
			p += 16;
		}
#endif
		while (s->end - p >= 8) {
			uint64_t x;

			memcpy(&x, p, 8);
			if (special8(x))
				break;
			p += 8;
		}
		if (p >= s->end)
			break;
		c = (unsigned char)*p;

		if (c == '"') {
			*len = (size_t)(p - *start);
			s->p = p + 1;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			*escaped = 1;
			if (p + 1 >= s->end)
				return 0;
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u': {
				unsigned u, lo;

				if (s->end - p < 6 || !hex4(p + 2, &u) ||
				    (u == 0 && !(s->flags & PT_JSCAN_ALLOW_NUL)))
					return 0;
				p += 6;
				if (u >= 0xdc00 && u <= 0xdfff)
					return 0;
				if (u >= 0xd800 && u <= 0xdbff) {
					if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
					    !hex4(p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
						return 0;
					p += 6;
				}
				continue;
			}
			default:
				return 0;
			}
		}
		if (c >= 0x80) {
			size_t n = pt_utf8_seq((const unsigned char *)p, (const unsigned char *)s->end);
			if (!n)
				return 0;
			p += n;
			continue;
		}
		p++;
	}
	return 0;
}

/* Reals and exponents go to the full parser, whose re-serialisation may
 * differ from the client's spelling (and be longer). */
int pt_jscan_number(pt_jscan *s)
{
	const char *p = s->p;
	int digits = 0;

	if (p < s->end && *p == '-')
		p++;
	if (p < s->end && *p == '0') {
		p++;
		digits = 1;
	} else {
		while (p < s->end && *p >= '0' && *p <= '9') {
			p++;
			digits++;
		}
	}
	if (!digits || digits > 18)
		return 0;
	if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
		return 0;
	s->p = p;
	return 1;
}

int64_t pt_jscan_int(const char *p, size_t n)
{
	int neg = n && *p == '-';
	int64_t v = 0;

	for (size_t i = (size_t)neg; i < n; i++)
		v = v * 10 + (p[i] - '0'); /* <= 18 digits: no overflow */
	return neg ? -v : v;
}

static int scan_literal(pt_jscan *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n))
		return 0;
	s->p += n;
	return 1;
}

/* Keys are compared raw: escaped keys never get here, so equal text is
 * equal key. A linear scan, as objects are small (else a 0). */
int pt_jscan_key(pt_jscan *s, pt_jscan_keys *ks, const char **k, size_t *len)
{
	int esc;

	if (s->p >= s->end || *s->p != '"' || !pt_jscan_string(s, k, len, &esc) || esc ||
	    ks->n == PT_JSCAN_MAX_KEYS)
		return 0;
	for (unsigned i = 0; i < ks->n; i++)
		if (ks->len[i] == *len && !memcmp(ks->k[i], *k, *len))
			return 0;
	ks->k[ks->n] = *k;
	ks->len[ks->n++] = (uint32_t)*len;
	return pt_jscan_eat(s, ':');
}

int pt_jscan_next(pt_jscan *s, char close)
{
	pt_jscan_ws(s);
	if (s->p >= s->end)
		return 0;
	if (*s->p == ',') {
		s->p++;
		pt_jscan_ws(s);
		return 1;
	}
	if (*s->p != close)
		return 0;
	s->p++; /* not the whitespace after: a container's span ends here */
	return 2;
}

static int scan_container(pt_jscan *s, int depth, int object)
{
	char close = object ? '}' : ']';
	pt_jscan_keys ks;
	int r;

	if (depth >= PT_JSCAN_MAX_DEPTH)
		return 0;
	ks.n = 0;
	s->p++;
	pt_jscan_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 1;
	}
	do {
		const char *k;
		size_t kl;

		if (object && !pt_jscan_key(s, &ks, &k, &kl))
			return 0;
		if (!pt_jscan_value(s, depth + 1))
			return 0;
	} while ((r = pt_jscan_next(s, close)) == 1);
	return r == 2;
}

int pt_jscan_value(pt_jscan *s, int depth)
{
	const char *str;
	size_t len;
	int esc;

	if (s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '{': return scan_container(s, depth, 1);
	case '[': return scan_container(s, depth, 0);
	case '"': return pt_jscan_string(s, &str, &len, &esc);
	case 't': return scan_literal(s, "true", 4);
	case 'f': return scan_literal(s, "false", 5);
	case 'n': return scan_literal(s, "null", 4);
	default:  return pt_jscan_number(s);
	}
}
