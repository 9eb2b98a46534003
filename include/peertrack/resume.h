/* resume.h — resumable sessions: tokens, and the bounded, deadline-ordered
 * table of parked peers with the signals held for them.
 *
 * A token is the peer's id and a fresh random secret, as 48 base64url
 * characters (two 24-character halves): bound to one id, and worth nothing
 * without the secret, which the daemon compares in constant time. The
 * daemon issues a new secret on every resume, so each token works once.
 *
 * The table is intrusive (like nginx's queues): the owner embeds a
 * pt_parked in its own record and gets it back from the table. Entries
 * are ordered by deadline, so the head is both the next to expire and the
 * oldest (what a full table evicts first). Nothing here knows sessions or
 * sockets: the daemon (src/net/park.c) decides what parking means.
 *
 * Ownership: the table borrows its entries; an entry owns its held frames
 * and its hash list, freed by pt_parked_clear.
 */
#ifndef PEERTRACK_RESUME_H
#define PEERTRACK_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "peertrack/hash.h"
#include "peertrack/id.h"

#define PT_RESUME_TOKEN_CHARS (2 * PT_ID_CHARS)

typedef struct pt_resume_secret {
	uint8_t b[PT_ID_BYTES];
} pt_resume_secret;

/* A fresh secret from OpenSSL's CSPRNG. 0, or -EIO. */
int pt_resume_secret_new(pt_resume_secret *s);
/* Constant time. */
bool pt_resume_secret_equal(const pt_resume_secret *a, const pt_resume_secret *b);
/* Writes the PT_RESUME_TOKEN_CHARS characters of (id, secret) and a NUL. */
void pt_resume_token_encode(const pt_id *id, const pt_resume_secret *s,
                            char out[PT_RESUME_TOKEN_CHARS + 1]);
/* 0, or -EINVAL when text is not exactly such a token. */
int pt_resume_token_decode(const char *text, size_t len, pt_id *id, pt_resume_secret *s);

/* One frame held for a parked peer. */
typedef struct pt_held {
	struct pt_held *next;
	uint32_t len;
	char text[];
} pt_held;

typedef struct pt_parked {
	struct pt_parked *prev, *next; /* by deadline, earliest first */
	uint64_t deadline_ms;
	pt_held *held_head, *held_tail;
	uint32_t held_count, held_bytes;
	pt_hash *hashes;               /* what the peer held, out of the index */
	uint32_t n_hashes;
} pt_parked;

typedef struct pt_resume_table {
	pt_parked *head, *tail;
	uint32_t count;
} pt_resume_table;

void pt_resume_table_init(pt_resume_table *t);
/* Inserts p (zeroed by the caller, or cleared) with its deadline. */
void pt_resume_table_add(pt_resume_table *t, pt_parked *p, uint64_t deadline_ms);
void pt_resume_table_remove(pt_resume_table *t, pt_parked *p);
/* The entry with the earliest deadline (the oldest), or NULL. */
static inline pt_parked *pt_resume_table_oldest(const pt_resume_table *t) { return t->head; }
/* The oldest entry if its deadline is at or before now, else NULL. */
pt_parked *pt_resume_table_expired(const pt_resume_table *t, uint64_t now_ms);

/* Copies one frame to the end of p's held frames, unless that would pass
 * max_count frames or max_bytes bytes. 0, -ENOSPC (over a bound; nothing
 * held), -ENOMEM. */
int pt_parked_hold(pt_parked *p, const char *text, size_t len, uint32_t max_count,
                   uint32_t max_bytes);
/* Detaches the held frames, oldest first; the caller frees each (free()). */
pt_held *pt_parked_take_held(pt_parked *p);
/* Frees held frames and hashes; p stays in no table (remove it first). */
void pt_parked_clear(pt_parked *p);

#endif
