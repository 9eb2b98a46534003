/* badpeer.c — distinct-network counting of bad-bytes reports (badpeer.h).
 *
 * A flat array searched linearly: `cap` is small (tens), reports are rare
 * (one per detected lie), and a linear scan of a few cache lines beats any
 * structure at that size. */
#include <stdlib.h>
#include <string.h>

#include "peertrack/badpeer.h"

typedef struct entry {
	pt_hash hash;
	pt_addr net; /* the reporter's network: host bits of a v6 /64 cleared */
} entry;

struct pt_badpeer {
	uint32_t n, cap;
	entry e[];
};

pt_badpeer *pt_badpeer_new(uint32_t cap)
{
	pt_badpeer *b;

	if (!cap)
		cap = 1;
	b = calloc(1, sizeof(*b) + (size_t)cap * sizeof(entry));
	if (b)
		b->cap = cap;
	return b;
}

void pt_badpeer_free(pt_badpeer *b)
{
	free(b);
}

static pt_addr network_of(const pt_addr *a)
{
	pt_addr n = *a;

	if (n.family == 6)
		memset(n.b + 8, 0, 8);
	return n;
}

int pt_badpeer_note(pt_badpeer *b, const pt_hash *hash, const pt_addr *reporter)
{
	pt_addr net = network_of(reporter);
	int same = 0;

	for (uint32_t i = 0; i < b->n; i++) {
		if (!pt_hash_equal(&b->e[i].hash, hash))
			continue;
		if (pt_addr_equal(&b->e[i].net, &net))
			return 0;
		same++;
	}
	/* Full: the oldest report goes, so a flood of reports about other
	 * hashes delays a verdict but cannot freeze the table for good. */
	if (b->n == b->cap) {
		same -= pt_hash_equal(&b->e[0].hash, hash);
		memmove(b->e, b->e + 1, (size_t)(b->n - 1) * sizeof(entry));
		b->n--;
	}
	b->e[b->n].hash = *hash;
	b->e[b->n].net = net;
	b->n++;
	return same + 1;
}

uint32_t pt_badpeer_forget(pt_badpeer *b, const pt_hash *hash)
{
	uint32_t kept = 0, n = b->n;

	for (uint32_t i = 0; i < n; i++)
		if (!pt_hash_equal(&b->e[i].hash, hash))
			b->e[kept++] = b->e[i];
	b->n = kept;
	return n - kept;
}

uint32_t pt_badpeer_count(const pt_badpeer *b)
{
	return b ? b->n : 0;
}
