/* banlist.c — the operator's ban list (banlist.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/banlist.h"

void pt_banlist_init(pt_banlist *l)
{
	memset(l, 0, sizeof(*l));
}

void pt_banlist_free(pt_banlist *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool same_range(const pt_cidr *a, const pt_cidr *b)
{
	return a->prefix == b->prefix && pt_addr_equal(&a->net, &b->net);
}

static void set_reason(pt_ban *b, const char *reason)
{
	size_t n = reason ? strlen(reason) : 0;

	if (n >= sizeof(b->reason)) {
		n = sizeof(b->reason) - 1;
		/* Do not cut a UTF-8 sequence in half. */
		while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(b->reason, reason, n);
	b->reason[n] = '\0';
}

int pt_banlist_add(pt_banlist *l, const pt_cidr *c, uint64_t created_ms, uint64_t expires_ms,
                   const char *reason)
{
	pt_ban *b;

	for (size_t i = 0; i < l->n; i++) {
		if (same_range(&l->v[i].cidr, c)) {
			l->v[i].created_ms = created_ms;
			l->v[i].expires_ms = expires_ms;
			set_reason(&l->v[i], reason);
			return 1;
		}
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		pt_ban *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	b = &l->v[l->n++];
	memset(b, 0, sizeof(*b));
	b->cidr = *c;
	b->created_ms = created_ms;
	b->expires_ms = expires_ms;
	set_reason(b, reason);
	return 0;
}

static void drop(pt_banlist *l, size_t i)
{
	/* Keep the order: `bans` lists them as they were added. */
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
	l->n--;
}

int pt_banlist_remove(pt_banlist *l, const pt_cidr *c)
{
	for (size_t i = 0; i < l->n; i++) {
		if (same_range(&l->v[i].cidr, c)) {
			drop(l, i);
			return 1;
		}
	}
	return 0;
}

static bool in_force(const pt_ban *b, uint64_t now_ms)
{
	return b->expires_ms == 0 || now_ms < b->expires_ms;
}

const pt_ban *pt_banlist_match(const pt_banlist *l, const pt_addr *a, uint64_t now_ms)
{
	for (size_t i = 0; i < l->n; i++)
		if (in_force(&l->v[i], now_ms) && pt_cidr_contains(&l->v[i].cidr, a))
			return &l->v[i];
	return NULL;
}

size_t pt_banlist_expire(pt_banlist *l, uint64_t now_ms)
{
	size_t gone = 0;

	for (size_t i = 0; i < l->n;) {
		if (in_force(&l->v[i], now_ms)) {
			i++;
		} else {
			drop(l, i);
			gone++;
		}
	}
	return gone;
}

int pt_duration_parse(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "w", 604800000 }, { "", 1000 },
	};
	uint64_t v = 0;
	const char *p = s;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v == 0 || v > UINT64_MAX / units[i].ms / 4)
				return -EINVAL;
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}
