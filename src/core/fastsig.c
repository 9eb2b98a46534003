/* fastsig.c — a single-pass, allocation-free JSON scanner specialised for
 * the `signal` envelope. See fastsig.h for the contract: any doubt is a
 * "no", and the full parser decides. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "peertrack/fastsig.h"
#include "peertrack/utf8.h"

#define MAX_DEPTH 32 /* deeper nesting goes to the full parser */
#define KEY_SLOTS 64 /* power of two; at most KEY_SLOTS/2 keys per message */

typedef struct key_slot {
	const char *k; /* NULL = empty */
	uint32_t len;
	uint32_t obj;  /* which object the key belongs to */
} key_slot;

typedef struct scan {
	const char *p, *end;
	uint32_t objects, keys;
	key_slot slots[KEY_SLOTS];
} scan;

static void skip_ws(scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hexval(int c)
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
		int h = hexval((unsigned char)p[i]);
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

/* A string at s->p (on the opening quote). Sets its raw content span and
 * whether it holds escapes. Rejects what jansson rejects: raw control
 * characters, bad escapes, \u0000, unpaired surrogates, bad UTF-8. */
static int scan_string(scan *s, const char **start, size_t *len, int *escaped)
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

				if (s->end - p < 6 || !hex4(p + 2, &u) || u == 0)
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

/* Integers only, at most 18 digits (always inside int64); reals and
 * exponents go to the full parser, whose re-serialisation may differ. */
static int scan_number(scan *s)
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

static int scan_literal(scan *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n))
		return 0;
	s->p += n;
	return 1;
}

/* Duplicate keys are an error for the full parser (JSON_REJECT_DUPLICATES),
 * so they must be caught here too: a small open-addressing set of
 * (object, key) for the whole message. Escaped keys never get here. */
static int key_add(scan *s, uint32_t obj, const char *k, size_t len)
{
	uint32_t h = 2166136261u ^ obj;

	if (++s->keys > KEY_SLOTS / 2)
		return 0;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	for (uint32_t i = h & (KEY_SLOTS - 1);; i = (i + 1) & (KEY_SLOTS - 1)) {
		key_slot *e = &s->slots[i];

		if (!e->k) {
			e->k = k;
			e->len = (uint32_t)len;
			e->obj = obj;
			return 1;
		}
		if (e->obj == obj && e->len == len && !memcmp(e->k, k, len))
			return 0;
	}
}

static int scan_value(scan *s, int depth);

static int scan_container(scan *s, int depth, int object)
{
	uint32_t obj = ++s->objects;
	char close = object ? '}' : ']';

	if (depth > MAX_DEPTH)
		return 0;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 1;
	}
	for (;;) {
		if (object) {
			const char *k;
			size_t kl;
			int esc;

			if (s->p >= s->end || *s->p != '"' || !scan_string(s, &k, &kl, &esc) || esc ||
			    !key_add(s, obj, k, kl))
				return 0;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return 0;
			s->p++;
			skip_ws(s);
		}
		if (!scan_value(s, depth + 1))
			return 0;
		skip_ws(s);
		if (s->p >= s->end)
			return 0;
		if (*s->p == close) {
			s->p++;
			return 1;
		}
		if (*s->p != ',')
			return 0;
		s->p++;
		skip_ws(s);
	}
}

static int scan_value(scan *s, int depth)
{
	const char *str;
	size_t len;
	int esc;

	if (s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '{': return scan_container(s, depth, 1);
	case '[': return scan_container(s, depth, 0);
	case '"': return scan_string(s, &str, &len, &esc);
	case 't': return scan_literal(s, "true", 4);
	case 'f': return scan_literal(s, "false", 5);
	case 'n': return scan_literal(s, "null", 4);
	default:  return scan_number(s);
	}
}

static int parse_rid_int(const char *p, size_t n, int64_t *out)
{
	int neg = n && *p == '-';
	int64_t v = 0;

	for (size_t i = (size_t)neg; i < n; i++)
		v = v * 10 + (p[i] - '0'); /* <= 18 digits: no overflow */
	*out = neg ? -v : v;
	return 1;
}

int pt_fastsig_parse(const char *frame, size_t len, uint32_t max_signal_bytes, pt_fastsig *out)
{
	scan s;
	int have_type = 0, have_to = 0, have_data = 0;
	uint32_t obj;

	s.p = frame;
	s.end = frame + len;
	s.objects = s.keys = 0;
	memset(s.slots, 0, sizeof(s.slots));
	memset(&out->rid, 0, sizeof(out->rid));

	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return 0;
	obj = ++s.objects;
	s.p++;
	skip_ws(&s);
	while (s.p < s.end && *s.p == '"') {
		const char *k, *v, *vstart;
		size_t kl, vl;
		int esc;

		if (!scan_string(&s, &k, &kl, &esc) || esc || !key_add(&s, obj, k, kl))
			return 0;
		skip_ws(&s);
		if (s.p >= s.end || *s.p != ':')
			return 0;
		s.p++;
		skip_ws(&s);
		vstart = s.p;
		if (kl == 4 && !memcmp(k, "type", 4)) {
			if (s.p >= s.end || *s.p != '"' || !scan_string(&s, &v, &vl, &esc) || esc ||
			    vl != 6 || memcmp(v, "signal", 6))
				return 0;
			have_type = 1;
		} else if (kl == 2 && !memcmp(k, "to", 2)) {
			if (s.p >= s.end || *s.p != '"' || !scan_string(&s, &v, &vl, &esc) || esc ||
			    pt_id_decode(v, vl, &out->to))
				return 0;
			have_to = 1;
		} else if (kl == 4 && !memcmp(k, "data", 4)) {
			if (s.p >= s.end || *s.p != '{' || !scan_container(&s, 1, 1))
				return 0;
			out->data = vstart;
			out->data_len = (size_t)(s.p - vstart);
			if (out->data_len > max_signal_bytes)
				return 0; /* the full parser measures it exactly */
			have_data = 1;
		} else if (kl == 3 && !memcmp(k, "rid", 3)) {
			if (s.p < s.end && *s.p == '"') {
				if (!scan_string(&s, &v, &vl, &esc) || esc || vl > PT_RID_MAX)
					return 0;
				out->rid.kind = PT_RID_STR;
				out->rid.len = (uint8_t)vl;
				memcpy(out->rid.s, v, vl);
				out->rid.s[vl] = 0;
			} else {
				if (!scan_number(&s))
					return 0;
				out->rid.kind = PT_RID_INT;
				parse_rid_int(vstart, (size_t)(s.p - vstart), &out->rid.i);
			}
		} else if (!scan_value(&s, 1)) {
			return 0;
		}
		skip_ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			skip_ws(&s);
			if (s.p >= s.end || *s.p != '"')
				return 0;
			continue;
		}
		break;
	}
	if (s.p >= s.end || *s.p != '}')
		return 0;
	s.p++;
	skip_ws(&s);
	return s.p == s.end && have_type && have_to && have_data;
}
