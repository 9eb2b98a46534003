/* addr.c — IP addresses and CIDR ranges.
 *
 * Parsing goes through inet_pton, whose IPv4 syntax is the strict dotted
 * quad (no octal, no short forms like "10.1"), so what we accept is what
 * every other tool prints. IPv4-mapped IPv6 is folded to IPv4 so one client
 * has one key in the per-IP limit and one proximity class. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "peertrack/mix.h"
#include "peertrack/addr.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static size_t addr_len(const pt_addr *a)
{
	return a->family == 4 ? 4 : a->family == 6 ? 16 : 0;
}

/* Parses without folding; *mapped tells the caller a fold is possible, so
 * the CIDR parser can shift the prefix along with the address. */
static int parse_raw(const char *s, size_t len, pt_addr *out, bool *mapped)
{
	char buf[PT_ADDR_STRLEN];
	if (!s || len == 0 || len >= sizeof buf || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	pt_addr a;
	memset(&a, 0, sizeof a);
	*mapped = false;
	if (inet_pton(AF_INET, buf, a.b) == 1) {
		a.family = 4;
	} else if (inet_pton(AF_INET6, buf, a.b) == 1) {
		a.family = 6;
		*mapped = memcmp(a.b, v4mapped_prefix, sizeof v4mapped_prefix) == 0;
	} else {
		return -EINVAL;
	}
	*out = a;
	return 0;
}

static void fold_mapped(pt_addr *a)
{
	memmove(a->b, a->b + 12, 4);
	memset(a->b + 4, 0, 12);
	a->family = 4;
}

int pt_addr_parse(const char *s, size_t len, pt_addr *out)
{
	bool mapped;
	pt_addr a;
	int rc = parse_raw(s, len, &a, &mapped);
	if (rc < 0)
		return rc;
	if (mapped)
		fold_mapped(&a);
	*out = a;
	return 0;
}

void pt_addr_format(const pt_addr *a, char out[PT_ADDR_STRLEN])
{
	int af = a->family == 4 ? AF_INET : a->family == 6 ? AF_INET6 : 0;
	if (!af || !inet_ntop(af, a->b, out, PT_ADDR_STRLEN))
		snprintf(out, PT_ADDR_STRLEN, "-"); /* unset: a log placeholder */
}

bool pt_addr_equal(const pt_addr *a, const pt_addr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, addr_len(a)) == 0;
}

/* Only the bytes that belong to the family count, so two equal addresses
 * hash equally even if one carries junk past its length. */
uint32_t pt_addr_hash(const pt_addr *a, uint64_t seed)
{
	uint8_t b[16] = { 0 };
	memcpy(b, a->b, addr_len(a));
	uint64_t w0, w1;
	memcpy(&w0, b, 8);
	memcpy(&w1, b + 8, 8);
	uint64_t x = pt_mix64(seed ^ a->family);
	x = pt_mix64(x ^ w0) + 0x9e3779b97f4a7c15ULL;
	x = pt_mix64(x ^ w1);
	return (uint32_t)(x ^ x >> 32);
}

/* true if every bit of a at or after bit `prefix` is zero. */
static bool host_bits_clear(const pt_addr *a, unsigned prefix)
{
	size_t n = addr_len(a);
	for (size_t i = 0; i < n; i++) {
		unsigned first = (unsigned)i * 8;
		uint8_t mask;
		if (prefix >= first + 8)
			continue;
		mask = prefix <= first ? 0xff : (uint8_t)(0xff >> (prefix - first));
		if (a->b[i] & mask)
			return false;
	}
	return true;
}

int pt_cidr_parse(const char *s, size_t len, pt_cidr *out)
{
	if (!s)
		return -EINVAL;
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	pt_addr a;
	bool mapped;
	int rc = parse_raw(s, alen, &a, &mapped);
	if (rc < 0)
		return rc;
	unsigned max = a.family == 4 ? 32 : 128;
	unsigned prefix = max;
	if (slash) {
		const char *p = slash + 1, *end = s + len;
		/* 1-3 plain digits; no sign, blanks or leading zeros. */
		if (p == end || end - p > 3 || (*p == '0' && end - p > 1))
			return -EINVAL;
		prefix = 0;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			return -EINVAL;
	}
	if (!host_bits_clear(&a, prefix))
		return -EINVAL;
	if (mapped) {
		/* ::ffff:0:0/96 and longer name IPv4 ranges. Shorter mapped
		 * prefixes cannot get here: the ffff bits would be host bits. */
		fold_mapped(&a);
		prefix -= 96;
	}
	out->net = a;
	out->prefix = (uint8_t)prefix;
	return 0;
}

bool pt_cidr_contains(const pt_cidr *c, const pt_addr *a)
{
	if (a->family == 0 || a->family != c->net.family)
		return false;
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(a->b, c->net.b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00 >> rest);
	return (a->b[full] & mask) == c->net.b[full];
}

void pt_cidr_format(const pt_cidr *c, char out[PT_ADDR_STRLEN + 4])
{
	char a[PT_ADDR_STRLEN];
	pt_addr_format(&c->net, a);
	snprintf(out, PT_ADDR_STRLEN + 4, "%s/%u", a, (unsigned)c->prefix);
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int pt_cidr_list_parse(const char *s, pt_cidr_list *out, const char **err_at, size_t *err_len)
{
	out->v = NULL;
	out->n = 0;
	if (err_at)
		*err_at = NULL;
	if (err_len)
		*err_len = 0;
	if (!s)
		return 0;

	/* Count first so the array is allocated once and exactly. */
	size_t n = 0;
	for (const char *p = s; *p;) {
		while (*p && is_sep(*p))
			p++;
		if (!*p)
			break;
		n++;
		while (*p && !is_sep(*p))
			p++;
	}
	if (n == 0)
		return 0;
	pt_cidr *v = calloc(n, sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t i = 0;
	for (const char *p = s; *p;) {
		while (*p && is_sep(*p))
			p++;
		if (!*p)
			break;
		const char *tok = p;
		while (*p && !is_sep(*p))
			p++;
		if (pt_cidr_parse(tok, (size_t)(p - tok), &v[i]) < 0) {
			free(v);
			if (err_at)
				*err_at = tok;
			if (err_len)
				*err_len = (size_t)(p - tok);
			return -EINVAL;
		}
		i++;
	}
	out->v = v;
	out->n = n;
	return 0;
}

bool pt_cidr_list_contains(const pt_cidr_list *l, const pt_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (pt_cidr_contains(&l->v[i], a))
			return true;
	return false;
}

void pt_cidr_list_free(pt_cidr_list *l)
{
	if (!l)
		return;
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* n (4 or 8) bytes in network order; compilers make this one load + bswap. */
static uint64_t load_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

unsigned pt_addr_proximity(const pt_addr *a, const pt_addr *b)
{
	if (!a || !b || a->family == 0 || a->family != b->family)
		return 3;
	/* Ranked for every candidate of a lookup: whole-word compares, no
	 * memcmp calls. /24 and /16 for v4; /48 (a site) and /32 (an ISP
	 * allocation) for v6. */
	if (a->family == 4) {
		uint32_t d = (uint32_t)load_be(a->b, 4) ^ (uint32_t)load_be(b->b, 4);

		return d == 0 ? 0 : d < (1u << 8) ? 1 : d < (1u << 16) ? 2 : 3;
	}
	uint64_t hi = load_be(a->b, 8) ^ load_be(b->b, 8);

	if (hi == 0 && load_be(a->b + 8, 8) == load_be(b->b + 8, 8))
		return 0;
	return hi < (1ull << 16) ? 1 : hi < (1ull << 32) ? 2 : 3;
}
