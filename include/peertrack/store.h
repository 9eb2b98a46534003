/* store.h — durable state in one sqlite file (state_dir/peertrack.db).
 *
 * Contract:
 *   - WAL mode; the schema is versioned with PRAGMA user_version and brought
 *     forward by the migrations table in store.c (user_version = how many
 *     ran). A file newer than this program is refused.
 *   - The event loop never waits on sqlite. The pt_store_* "append"
 *     functions only copy an event into an in-memory batch under a mutex;
 *     a writer thread owning the one write connection commits the batch in
 *     one transaction at least every flush_ms, and at pt_store_close.
 *   - Per-resource counters are aggregated in memory (one row per hash per
 *     batch), sessions/reports/audit/bans are events in order.
 *   - Reads (stats, top resources, history, audit) open their own
 *     read-only connection: they are called off the loop thread (the
 *     daemon's uv_queue_work, or peertrackctl --db with the daemon stopped)
 *     and return jansson values that the admin protocol sends as they are.
 *   - Times are wall-clock milliseconds since the Unix epoch.
 * Every statement is prepared with bound parameters.
 */
#ifndef PEERTRACK_STORE_H
#define PEERTRACK_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>
#include "peertrack/addr.h"
#include "peertrack/banlist.h"
#include "peertrack/clock.h" /* times are pt_clock_wall_ms() */
#include "peertrack/config.h"
#include "peertrack/hash.h"
#include "peertrack/id.h"
#include "peertrack/index.h" /* pt_space, pt_key */
#include "peertrack/wtallow.h"

#define PT_STORE_FILE "peertrack.db"

typedef struct pt_store pt_store;

typedef struct pt_store_opts {
	const char *path;          /* the database file, created if missing */
	uint32_t flush_ms;         /* >= 1 */
	uint32_t retention_days;   /* >= 1 */
	uint32_t max_queue;        /* events kept before dropping; 0 = 100000.
	                              Counters may fill 3/4 of it, reports 7/8:
	                              the rest is kept for sessions, bans, audit */
	uint32_t cache_kib;        /* sqlite page cache; 0 = sqlite's default */
	uint32_t max_resources;    /* rows kept in resources, least recently
	                              updated pruned first; 0 = no bound */
	pt_wt_allow *allowed;      /* if non-NULL (an initialised list), the
	                              info_hash allow-list is loaded into it */
} pt_store_opts;

/* Opens (creating and migrating as needed), marks sessions a crash left
 * open as ended, loads the bans still in force into bans (if non-NULL,
 * an initialised list) and starts the writer. 0, or a negative errno with
 * err set. Runs before the loop: it may block. */
int pt_store_open(const pt_store_opts *o, pt_banlist *bans, uint64_t now_ms, pt_store **out,
                  char *err, size_t errlen);
/* Commits what is queued, stops and joins the writer, finalizes every
 * statement, closes the file. NULL is fine. */
void pt_store_close(pt_store *s);

/* -- appends: any thread, never block on sqlite ------------------------ */

enum pt_store_counter { PT_CNT_ANNOUNCES = 0, PT_CNT_LOOKUPS, PT_CNT_HITS, PT_CNT_MISSES,
                        PT_CNT__COUNT };

void pt_store_session_open(pt_store *s, const pt_id *id, const pt_addr *a,
                           enum pt_store_ip mode, uint64_t now_ms);
void pt_store_session_close(pt_store *s, const pt_id *id, const char *reason, uint64_t now_ms);
void pt_store_count(pt_store *s, const pt_hash *h, enum pt_store_counter c, uint32_t n,
                    uint64_t now_ms);
/* The same for a key of any space (index.h): the row is named as the
 * admin commands name the key, 64 hex for a /v1 hash and 40 for an
 * info_hash, so `resources` lists both. pt_store_count is PT_SPACE_V1's. */
void pt_store_count_in(pt_store *s, enum pt_space space, const pt_hash *h,
                       enum pt_store_counter c, uint32_t n, uint64_t now_ms);
/* 0, or -EAGAIN when the queue had no room for it (counted as dropped). */
int pt_store_report(pt_store *s, const pt_id *id, uint64_t from_peers, uint64_t from_origin,
                    uint64_t to_peers, uint64_t now_ms);
/* Live gauges, kept per minute for "peers over time". */
void pt_store_sample(pt_store *s, uint32_t peers, uint64_t hashes, uint64_t now_ms);
void pt_store_audit(pt_store *s, const char *actor, const char *action, const char *detail,
                    uint64_t now_ms);
void pt_store_ban_add(pt_store *s, const pt_ban *b);
void pt_store_ban_remove(pt_store *s, const pt_cidr *c);
/* The info_hash allow-list of /announce (table wt_allowed, 40 hex):
 * adding a listed one or removing an unlisted one changes nothing. */
void pt_store_wt_allow_add(pt_store *s, const pt_wt_id *ih, uint64_t now_ms);
void pt_store_wt_allow_remove(pt_store *s, const pt_wt_id *ih);

/* Blocks until everything appended before the call is committed (or the
 * commit failed): tests and shutdown only, never from the loop. 0 or -EIO. */
int pt_store_sync(pt_store *s);

/* Commit durations, for a histogram: upper bounds in microseconds. */
#define PT_STORE_FLUSH_BUCKETS 8
extern const uint64_t pt_store_flush_bounds_us[PT_STORE_FLUSH_BUCKETS];

typedef struct pt_store_health {
	uint64_t queue_depth;       /* events waiting for the next commit */
	uint64_t flushes;           /* commits done */
	uint64_t errors;            /* commits that failed */
	uint64_t dropped;           /* events lost to a full queue */
	uint64_t last_flush_us;     /* how long the last commit took */
	uint64_t last_flush_ms;     /* wall clock of the last successful commit
	                             * (or turn with nothing to write) */
	/* commits by duration: flush_hist[k] took at most bound k and more than
	 * bound k - 1; flush_over took longer than the last bound */
	uint64_t flush_hist[PT_STORE_FLUSH_BUCKETS], flush_over, flush_sum_us;
	bool ok;                    /* the last commit that wrote succeeded */
} pt_store_health;

void pt_store_health_get(pt_store *s, pt_store_health *h);

/* Keeps at most this much of an address ("1.2.3.0/24" for prefix, ""
 * for none), as stored with sessions. */
void pt_store_ip_text(const pt_addr *a, enum pt_store_ip mode, char out[PT_ADDR_STRLEN + 4]);

/* -- reads: a read-only connection each, off the loop thread ------------ */

/* Each returns 0 and a new reference in *out, or -ENOENT (no database
 * file), -EPROTO (schema newer than this program) or -EIO, with err set.
 *
 * stats: totals of reports since since_ms (from_peers, from_origin,
 * to_peers, offload_ratio), sessions started and peers over time
 * (per-minute samples, at most `points` evenly spaced).
 * top: the n resources with the most lookups (then announces).
 * history: the latest sessions (newest first), at most limit, since
 * since_ms. audit: the latest admin actions, at most limit. */
int pt_store_query_stats(const char *path, uint64_t since_ms, uint64_t now_ms, unsigned points,
                         json_t **out, char *err, size_t errlen);
int pt_store_query_top(const char *path, unsigned n, json_t **out, char *err, size_t errlen);
int pt_store_query_history(const char *path, uint64_t since_ms, unsigned limit, json_t **out,
                           char *err, size_t errlen);
int pt_store_query_audit(const char *path, unsigned limit, json_t **out, char *err,
                         size_t errlen);

/* The schema version this program writes (how many migrations it has),
 * and the SQL of the migration that brings version - 1 to version (NULL
 * outside 1..pt_store_schema_version()), for tests and tools. */
int pt_store_schema_version(void);
const char *pt_store_migration(int version);

#endif
