/* banlist.h — operator bans: addresses or CIDR ranges, each with a reason
 * and an optional expiry. Pure and in memory: the caller passes the clock
 * (wall-clock milliseconds, since bans outlive restarts in the store), the
 * daemon consults it at admission and when a ban is added. A linear list:
 * operators ban tens or hundreds of ranges, not millions. */
#ifndef PEERTRACK_BANLIST_H
#define PEERTRACK_BANLIST_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/addr.h"

#define PT_BAN_REASON_MAX 128 /* bytes kept of a reason, NUL included */

typedef struct pt_ban {
	pt_cidr cidr;
	uint64_t created_ms;
	uint64_t expires_ms;  /* 0: never */
	char reason[PT_BAN_REASON_MAX];
} pt_ban;

typedef struct pt_banlist {
	pt_ban *v;
	size_t n, cap;
} pt_banlist;

void pt_banlist_init(pt_banlist *l);
void pt_banlist_free(pt_banlist *l);

/* Adds a ban, or replaces the one on the same range (new reason and
 * expiry). reason may be NULL; it is truncated to fit. 0 added, 1
 * replaced, -ENOMEM. */
int pt_banlist_add(pt_banlist *l, const pt_cidr *c, uint64_t created_ms, uint64_t expires_ms,
                   const char *reason);
/* Removes the ban on exactly that range: 1 removed, 0 none. */
int pt_banlist_remove(pt_banlist *l, const pt_cidr *c);
/* The first ban in force at now_ms that covers a, or NULL. */
const pt_ban *pt_banlist_match(const pt_banlist *l, const pt_addr *a, uint64_t now_ms);
/* Drops the bans expired at now_ms; returns how many. */
size_t pt_banlist_expire(pt_banlist *l, uint64_t now_ms);

/* "1h", "30m", "45s", "2d", "1w", "500ms" or a bare number of seconds, into
 * milliseconds. 0 or -EINVAL (zero, overflow, junk). Shared by the admin
 * command table and peertrackctl. */
int pt_duration_parse(const char *s, uint64_t *ms);

#endif
