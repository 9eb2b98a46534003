/* store.c — the sqlite store's write side (store.h): applying the migrations
 * (schema.c), the in-memory batch the loop appends to, and the writer thread that commits
 * it. Reads live in query.c.
 *
 * The loop thread's cost per event is a copy into an array under a mutex
 * that the writer holds only to swap the batch out, never across sqlite.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sqlite3.h>

#include "peertrack/clock.h"
#include "peertrack/lograte.h"
#include "peertrack/log.h"
#include "peertrack/sat.h"
#include "peertrack/store.h"
#include "store_int.h"

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* Each step in its own transaction with its version bump: a crash
 * mid-way leaves a consistent older version that the next start resumes. */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	char sql[64], why[256];
	int v;

	if (pt_store_user_version(db, &v)) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	if (v > pt_store_schema_version()) {
		snprintf(err, errlen, "schema version %d is newer than this program's (%d)", v,
		         pt_store_schema_version());
		return -EPROTO;
	}
	for (; v < pt_store_schema_version(); v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(db, "BEGIN IMMEDIATE", why, sizeof(why)) ||
		    exec(db, pt_store_migration(v + 1), why, sizeof(why)) || exec(db, sql, why, sizeof(why)) ||
		    exec(db, "COMMIT", why, sizeof(why))) {
			exec(db, "ROLLBACK", sql, sizeof(sql));
			snprintf(err, errlen, "migration to version %d: %.180s", v + 1, why);
			return -EIO;
		}
		pt_log_info("store: schema migrated to version %d", v + 1);
	}
	return 0;
}

/* -- the batch ------------------------------------------------------------ */

enum ev_kind { EV_SESSION_OPEN, EV_SESSION_CLOSE, EV_REPORT, EV_AUDIT, EV_BAN_ADD, EV_BAN_DEL,
               EV_ALLOW_ADD, EV_ALLOW_DEL };

struct ev {
	enum ev_kind kind;
	uint64_t at;
	char key[PT_HASH_HEX + 1];    /* session id, ban CIDR or info_hash (40 hex) */
	char ip[PT_ADDR_STRLEN + 4];
	uint64_t n[3];
	uint32_t reports, id_hash;    /* report: how many were summed; pt_id_hash */
	char *s[3];                   /* reason/actor/action/detail, owned */
};

struct cnt {
	pt_hash h;
	uint8_t space;         /* enum pt_space: the key is (space, h) */
	uint32_t v[PT_CNT__COUNT];
	uint64_t at;
	bool used;
};

#define BATCH_KEEP 256 /* events / counter slots a batch keeps between flushes */

struct batch {
	struct ev *ev;
	size_t n, cap;
	struct cnt *cnt;       /* open addressing, power-of-two size */
	size_t ncnt, cnt_cap;
	uint32_t *rep;         /* peer -> its report event: ev index + 1, 0 free */
	size_t nrep, rep_cap;  /* open addressing, power-of-two size */
	bool sampled;
	uint32_t peers_max, peers_last;
	uint64_t hashes, sample_at;
};

enum { ST_SESSION_OPEN, ST_SESSION_CLOSE, ST_REPORT, ST_AUDIT, ST_BAN_ADD, ST_BAN_DEL,
       ST_ALLOW_ADD, ST_ALLOW_DEL, ST_COUNT, ST_SAMPLE, ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST__COUNT };

static const char *const stmt_sql[ST__COUNT] = {
	[ST_SESSION_OPEN] = "INSERT OR REPLACE INTO sessions(id, connected_at, ip) VALUES(?1, ?2, ?3)",
	[ST_SESSION_CLOSE] = "UPDATE sessions SET disconnected_at = ?2, reason = ?3 WHERE id = ?1",
	[ST_REPORT] = "INSERT INTO reports(at, peer, from_peers, from_origin, to_peers, n)"
	              " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_AUDIT] = "INSERT INTO audit(at, actor, action, detail) VALUES(?1, ?2, ?3, ?4)",
	[ST_BAN_ADD] = "INSERT OR REPLACE INTO bans(cidr, reason, created_at, expires_at)"
	               " VALUES(?1, ?2, ?3, ?4)",
	[ST_BAN_DEL] = "DELETE FROM bans WHERE cidr = ?1",
	[ST_ALLOW_ADD] = "INSERT OR IGNORE INTO wt_allowed(info_hash, created_at) VALUES(?1, ?2)",
	[ST_ALLOW_DEL] = "DELETE FROM wt_allowed WHERE info_hash = ?1",
	[ST_COUNT] = "INSERT INTO resources(hash, announces, lookups, hits, misses, updated_at)"
	             " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(hash) DO UPDATE SET"
	             " announces = announces + excluded.announces,"
	             " lookups = lookups + excluded.lookups, hits = hits + excluded.hits,"
	             " misses = misses + excluded.misses, updated_at = excluded.updated_at",
	[ST_SAMPLE] = "INSERT INTO samples(minute, peers_max, peers_last, hashes)"
	              " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(minute) DO UPDATE SET"
	              " peers_max = max(peers_max, excluded.peers_max),"
	              " peers_last = excluded.peers_last, hashes = excluded.hashes",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

struct pt_store {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	uint32_t flush_ms;
	uint64_t retention_ms;
	uint64_t max_queue;
	uint64_t max_resources, resources; /* bound, and rows (at most; writer only) */
	uint64_t seed;
	uint64_t last_prune_ms;

	pthread_t writer;
	bool writer_started;
	pthread_mutex_t mu;
	pthread_cond_t wake;   /* writer: stop or sync requested */
	pthread_cond_t done;   /* sync waiters: a commit finished */
	struct batch pending;  /* guarded by mu */
	bool stop, sync_req;
	uint64_t appended;     /* events appended, ever (guarded by mu) */
	uint64_t committed;    /* of those, handled by a finished commit */

	/* health, guarded by mu */
	uint64_t flushes, errors, dropped, last_flush_us, last_flush_ms;
	uint64_t flush_hist[PT_STORE_FLUSH_BUCKETS], flush_over, flush_sum_us;
	bool ok;

	pt_lograte err_log; /* the writer's failure lines (writer only) */
};

const uint64_t pt_store_flush_bounds_us[PT_STORE_FLUSH_BUCKETS] = {
	1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000,
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		for (int j = 0; j < 3; j++)
			free(b->ev[i].s[j]);
	b->n = 0;
	if (b->ncnt)
		memset(b->cnt, 0, b->cnt_cap * sizeof(*b->cnt));
	b->ncnt = 0;
	if (b->nrep)
		memset(b->rep, 0, b->rep_cap * sizeof(*b->rep));
	b->nrep = 0;
	b->sampled = false;
}

static void batch_free(struct batch *b)
{
	batch_clear(b);
	free(b->ev);
	free(b->cnt);
	free(b->rep);
	memset(b, 0, sizeof(*b));
}

static uint64_t depth(const pt_store *s)
{
	return s->pending.n + s->pending.ncnt;
}

/* What each kind of entry may fill of the queue: a flood of counters or
 * reports (what clients cause) finds it full while sessions, bans and the
 * audit log still have room. */
static uint64_t room_for(const pt_store *s, enum ev_kind kind)
{
	return kind == EV_REPORT ? s->max_queue - s->max_queue / 8 : s->max_queue;
}

static uint64_t room_for_counters(const pt_store *s)
{
	return s->max_queue - s->max_queue / 4;
}

/* Called with mu held. NULL when full or out of memory (counted). */
static struct ev *ev_new(pt_store *s, enum ev_kind kind, uint64_t at)
{
	struct batch *b = &s->pending;
	struct ev *e;

	if (depth(s) >= room_for(s, kind))
		goto drop;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct ev *v = realloc(b->ev, cap * sizeof(*v));

		if (!v)
			goto drop;
		b->ev = v;
		b->cap = cap;
	}
	e = &b->ev[b->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->at = at;
	s->appended++;
	return e;
drop:
	s->dropped++;
	return NULL;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* -- appends ------------------------------------------------------------- */

void pt_store_ip_text(const pt_addr *a, enum pt_store_ip mode, char out[PT_ADDR_STRLEN + 4])
{
	pt_cidr c;

	out[0] = '\0';
	if (!a->family || mode == PT_STORE_IP_NONE)
		return;
	if (mode == PT_STORE_IP_FULL) {
		pt_addr_format(a, out);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.net.family = a->family;
	c.prefix = a->family == 4 ? 24 : 48;
	memcpy(c.net.b, a->b, c.prefix / 8);
	pt_cidr_format(&c, out);
}

void pt_store_session_open(pt_store *s, const pt_id *id, const pt_addr *a,
                           enum pt_store_ip mode, uint64_t now_ms)
{
	struct ev *e;

	pthread_mutex_lock(&s->mu);
	if ((e = ev_new(s, EV_SESSION_OPEN, now_ms))) {
		pt_id_encode(id, e->key);
		pt_store_ip_text(a, mode, e->ip);
	}
	pthread_mutex_unlock(&s->mu);
}

void pt_store_session_close(pt_store *s, const pt_id *id, const char *reason, uint64_t now_ms)
{
	struct ev *e;

	pthread_mutex_lock(&s->mu);
	if ((e = ev_new(s, EV_SESSION_CLOSE, now_ms))) {
		pt_id_encode(id, e->key);
		e->s[0] = dup_or_empty(reason);
	}
	pthread_mutex_unlock(&s->mu);
}

static int rep_grow(struct batch *b)
{
	size_t cap = b->rep_cap ? b->rep_cap * 2 : 64;
	uint32_t *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->rep_cap; i++) {
		size_t j;

		if (!b->rep[i])
			continue;
		for (j = b->ev[b->rep[i] - 1].id_hash & (cap - 1); v[j]; j = (j + 1) & (cap - 1))
			;
		v[j] = b->rep[i];
	}
	free(b->rep);
	b->rep = v;
	b->rep_cap = cap;
	return 0;
}

/* One row per peer per batch: a client sending many reports costs one
 * row each flush, not one each message. Sums saturate; the row's time is
 * its latest report's. */
int pt_store_report(pt_store *s, const pt_id *id, uint64_t from_peers, uint64_t from_origin,
                    uint64_t to_peers, uint64_t now_ms)
{
	struct batch *b = &s->pending;
	const uint64_t add[3] = { from_peers, from_origin, to_peers };
	char key[PT_ID_CHARS + 1];
	uint32_t h = pt_id_hash(id);
	struct ev *e = NULL;
	size_t j;

	pt_id_encode(id, key);
	pthread_mutex_lock(&s->mu);
	for (j = h & (b->rep_cap - 1); b->rep_cap && b->rep[j]; j = (j + 1) & (b->rep_cap - 1)) {
		e = &b->ev[b->rep[j] - 1];
		if (e->id_hash == h && !memcmp(e->key, key, sizeof(key))) {
			for (int i = 0; i < 3; i++)
				e->n[i] = pt_sat_add(e->n[i], add[i]);
			if (e->reports < UINT32_MAX)
				e->reports++;
			if (now_ms > e->at)
				e->at = now_ms;
			goto out;
		}
	}
	/* A new peer this batch: keep the index at most half full. */
	if (depth(s) >= room_for(s, EV_REPORT) ||
	    ((b->nrep + 1) * 2 > b->rep_cap && rep_grow(b))) {
		s->dropped++;
		goto out;
	}
	if (!(e = ev_new(s, EV_REPORT, now_ms)))
		goto out;
	memcpy(e->key, key, sizeof(key));
	for (int i = 0; i < 3; i++)
		e->n[i] = add[i];
	e->reports = 1;
	e->id_hash = h;
	for (j = h & (b->rep_cap - 1); b->rep[j]; j = (j + 1) & (b->rep_cap - 1))
		;
	b->rep[j] = (uint32_t)b->n;
	b->nrep++;
out:
	pthread_mutex_unlock(&s->mu);
	return e ? 0 : -EAGAIN;
}

void pt_store_audit(pt_store *s, const char *actor, const char *action, const char *detail,
                    uint64_t now_ms)
{
	struct ev *e;

	pthread_mutex_lock(&s->mu);
	if ((e = ev_new(s, EV_AUDIT, now_ms))) {
		e->s[0] = dup_or_empty(actor);
		e->s[1] = dup_or_empty(action);
		e->s[2] = dup_or_empty(detail);
	}
	pthread_mutex_unlock(&s->mu);
}

void pt_store_ban_add(pt_store *s, const pt_ban *b)
{
	struct ev *e;

	pthread_mutex_lock(&s->mu);
	if ((e = ev_new(s, EV_BAN_ADD, b->created_ms))) {
		pt_cidr_format(&b->cidr, e->key);
		e->n[0] = b->expires_ms;
		e->s[0] = dup_or_empty(b->reason);
	}
	pthread_mutex_unlock(&s->mu);
}

void pt_store_ban_remove(pt_store *s, const pt_cidr *c)
{
	struct ev *e;

	pthread_mutex_lock(&s->mu);
	if ((e = ev_new(s, EV_BAN_DEL, 0)))
		pt_cidr_format(c, e->key);
	pthread_mutex_unlock(&s->mu);
}

static void allow_event(pt_store *s, enum ev_kind kind, const pt_wt_id *ih, uint64_t now_ms)
{
	pt_key k = { .space = PT_SPACE_WT };
	struct ev *e;

	memcpy(k.h.b, ih->b, PT_WT_ID_BYTES);
	pthread_mutex_lock(&s->mu);
	if ((e = ev_new(s, kind, now_ms)))
		pt_key_format(&k, e->key);
	pthread_mutex_unlock(&s->mu);
}

void pt_store_wt_allow_add(pt_store *s, const pt_wt_id *ih, uint64_t now_ms)
{
	allow_event(s, EV_ALLOW_ADD, ih, now_ms);
}

void pt_store_wt_allow_remove(pt_store *s, const pt_wt_id *ih)
{
	allow_event(s, EV_ALLOW_DEL, ih, 0);
}

void pt_store_sample(pt_store *s, uint32_t peers, uint64_t hashes, uint64_t now_ms)
{
	struct batch *b = &s->pending;

	/* One row per minute; a batch spanning a minute boundary credits the
	 * new minute (batches last a flush interval, far less than a minute). */
	pthread_mutex_lock(&s->mu);
	if (!b->sampled || b->sample_at / 60000 != now_ms / 60000 || peers > b->peers_max)
		b->peers_max = peers;
	b->sampled = true;
	b->peers_last = peers;
	b->hashes = hashes;
	b->sample_at = now_ms;
	pthread_mutex_unlock(&s->mu);
}

static size_t slot_of(const pt_store *s, unsigned space, const pt_hash *h, size_t cap)
{
	return pt_hash_hash(h, s->seed + space) & (cap - 1);
}

static int cnt_rehash(pt_store *s, struct batch *b)
{
	size_t cap = b->cnt_cap ? b->cnt_cap * 2 : 256;
	struct cnt *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->cnt_cap; i++) {
		size_t j;

		if (!b->cnt[i].used)
			continue;
		for (j = slot_of(s, b->cnt[i].space, &b->cnt[i].h, cap); v[j].used; j = (j + 1) & (cap - 1))
			;
		v[j] = b->cnt[i];
	}
	free(b->cnt);
	b->cnt = v;
	b->cnt_cap = cap;
	return 0;
}

void pt_store_count(pt_store *s, const pt_hash *h, enum pt_store_counter c, uint32_t n,
                    uint64_t now_ms)
{
	pt_store_count_in(s, PT_SPACE_V1, h, c, n, now_ms);
}

void pt_store_count_in(pt_store *s, enum pt_space space, const pt_hash *h,
                       enum pt_store_counter c, uint32_t n, uint64_t now_ms)
{
	struct batch *b = &s->pending;
	size_t j;

	if ((unsigned)c >= PT_CNT__COUNT || (unsigned)space >= PT_SPACE__COUNT || !n)
		return;
	pthread_mutex_lock(&s->mu);
	if (b->cnt_cap) {
		for (j = slot_of(s, space, h, b->cnt_cap); b->cnt[j].used;
		     j = (j + 1) & (b->cnt_cap - 1)) {
			if (b->cnt[j].space == space && pt_hash_equal(&b->cnt[j].h, h)) {
				b->cnt[j].v[c] += n;
				b->cnt[j].at = now_ms;
				goto out;
			}
		}
	}
	/* A new hash: keep the table at most half full. */
	if (depth(s) >= room_for_counters(s) ||
	    ((b->ncnt + 1) * 2 > b->cnt_cap && cnt_rehash(s, b))) {
		s->dropped++;
		goto out;
	}
	for (j = slot_of(s, space, h, b->cnt_cap); b->cnt[j].used; j = (j + 1) & (b->cnt_cap - 1))
		;
	b->cnt[j].used = true;
	b->cnt[j].space = (uint8_t)space;
	b->cnt[j].h = *h;
	b->cnt[j].v[c] = n;
	b->cnt[j].at = now_ms;
	b->ncnt++;
	s->appended++;
out:
	pthread_mutex_unlock(&s->mu);
}

/* -- the writer ------------------------------------------------------------ */

/* A store that fails fails at every commit (a full disk: every flush_ms),
 * and the same line each time says nothing new while it floods the log
 * (the disk that is full, often). The first failure is logged at once,
 * later ones are counted and their number goes with the next line, at most
 * one a minute; peertrack_store_errors_total counts every failed commit. */
#define STORE_ERROR_LOG_MS 60000u

static void log_failure(pt_store *s, const char *what)
{
	uint64_t more;

	if (!pt_lograte_take(&s->err_log, STORE_ERROR_LOG_MS, pt_clock_mono_ms(), &more))
		return;
	if (more)
		pt_log_error("store: %s: %s (%llu more failures since the last such line)", what,
		             sqlite3_errmsg(s->db), (unsigned long long)more);
	else
		pt_log_error("store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The count of failures held back, once their minute is over. */
static void log_failures_held(pt_store *s)
{
	uint64_t more;

	if (pt_lograte_flush(&s->err_log, STORE_ERROR_LOG_MS, pt_clock_mono_ms(), &more))
		pt_log_error("store: %llu more failures in the last minute (see "
		             "peertrack_store_errors_total)", (unsigned long long)more);
}

static int step(pt_store *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_failure(s, stmt_sql[which]);
		return -EIO;
	}
	return 0;
}

static int write_ev(pt_store *s, const struct ev *e)
{
	sqlite3_stmt *st;
	int w;

	switch (e->kind) {
	case EV_SESSION_OPEN:
		st = s->st[w = ST_SESSION_OPEN];
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)e->at);
		sqlite3_bind_text(st, 3, e->ip, -1, SQLITE_STATIC);
		break;
	case EV_SESSION_CLOSE:
		st = s->st[w = ST_SESSION_CLOSE];
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)e->at);
		sqlite3_bind_text(st, 3, e->s[0] ? e->s[0] : "", -1, SQLITE_STATIC);
		break;
	case EV_REPORT:
		st = s->st[w = ST_REPORT];
		sqlite3_bind_int64(st, 1, (sqlite3_int64)e->at);
		sqlite3_bind_text(st, 2, e->key, -1, SQLITE_STATIC);
		for (int i = 0; i < 3; i++)
			sqlite3_bind_int64(st, 3 + i, (sqlite3_int64)(e->n[i] > INT64_MAX ? INT64_MAX : e->n[i]));
		sqlite3_bind_int64(st, 6, e->reports);
		break;
	case EV_AUDIT:
		st = s->st[w = ST_AUDIT];
		sqlite3_bind_int64(st, 1, (sqlite3_int64)e->at);
		for (int i = 0; i < 3; i++)
			sqlite3_bind_text(st, 2 + i, e->s[i] ? e->s[i] : "", -1, SQLITE_STATIC);
		break;
	case EV_BAN_ADD:
		st = s->st[w = ST_BAN_ADD];
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, e->s[0] ? e->s[0] : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)e->at);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)e->n[0]);
		break;
	case EV_BAN_DEL:
		st = s->st[w = ST_BAN_DEL];
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		break;
	case EV_ALLOW_ADD:
		st = s->st[w = ST_ALLOW_ADD];
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)e->at);
		break;
	case EV_ALLOW_DEL:
		st = s->st[w = ST_ALLOW_DEL];
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		break;
	default:
		return 0;
	}
	return step(s, w);
}

static int write_counts(pt_store *s, const struct batch *b)
{
	sqlite3_stmt *st = s->st[ST_COUNT];
	char hex[PT_HASH_HEX + 1];

	for (size_t i = 0; i < b->cnt_cap && b->ncnt; i++) {
		const struct cnt *c = &b->cnt[i];

		if (!c->used)
			continue;
		/* A row's hash is the admin commands' spelling of the key: 64
		 * hex for a /v1 hash, 40 for an info_hash (pt_key_parse). */
		pt_key_format(&(pt_key){ (enum pt_space)c->space, c->h }, hex);
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
		for (int k = 0; k < PT_CNT__COUNT; k++)
			sqlite3_bind_int64(st, 2 + k, c->v[k]);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)c->at);
		if (step(s, ST_COUNT))
			return -EIO;
	}
	return 0;
}

static int write_sample(pt_store *s, const struct batch *b)
{
	sqlite3_stmt *st = s->st[ST_SAMPLE];

	if (!b->sampled)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(b->sample_at / 60000));
	sqlite3_bind_int64(st, 2, b->peers_max);
	sqlite3_bind_int64(st, 3, b->peers_last);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)b->hashes);
	return step(s, ST_SAMPLE);
}

/* Retention: at most once an hour, inside the batch's transaction. The
 * statements are static text with bound cut-offs. */
static int prune(pt_store *s, uint64_t now)
{
	static const char *const sql[] = {
		"DELETE FROM sessions WHERE disconnected_at IS NOT NULL AND disconnected_at < ?1",
		"DELETE FROM reports WHERE at < ?1",
		"DELETE FROM audit WHERE at < ?1",
		"DELETE FROM resources WHERE updated_at < ?1",
		"DELETE FROM samples WHERE minute < ?1 / 60000",
		"DELETE FROM bans WHERE expires_at != 0 AND expires_at < ?2",
	};
	uint64_t cut = now > s->retention_ms ? now - s->retention_ms : 0;

	if (s->last_prune_ms && now - s->last_prune_ms < 3600000)
		return 0;
	s->last_prune_ms = now;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st;
		int rc = sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL);

		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)cut);
			if (sqlite3_bind_parameter_count(st) >= 2)
				sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
			rc = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			log_failure(s, "pruning");
			return -EIO;
		}
	}
	return 0;
}

/* The resources table is bounded: past max_resources, the least recently
 * updated rows go, down to 90% of it so that this runs once per tenth of
 * the bound in new rows, not at every commit. s->resources is an upper
 * bound (every counter of a batch counted as a new row) made exact here. */
static int cap_resources(pt_store *s)
{
	sqlite3_stmt *st = NULL;
	uint64_t keep = s->max_resources - s->max_resources / 10;
	int rc;

	if (!s->max_resources || s->resources <= s->max_resources)
		return 0;
	rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM resources", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->resources = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_DONE && s->resources > s->max_resources) {
		rc = sqlite3_prepare_v2(s->db,
		                        "DELETE FROM resources WHERE hash IN (SELECT hash FROM resources"
		                        " ORDER BY updated_at LIMIT ?1)", -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)(s->resources - keep));
			rc = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE) {
			pt_log_info("store: resources pruned to the %llu most recent (store_max_resources)",
			            (unsigned long long)keep);
			s->resources = keep;
		}
	}
	if (rc != SQLITE_DONE) {
		log_failure(s, "bounding resources");
		return -EIO;
	}
	return 0;
}

/* 0 committed, 1 nothing to write, -EIO failed (rolled back). */
static int commit(pt_store *s, const struct batch *b)
{
	int r = 0;

	if (!b->n && !b->ncnt && !b->sampled &&
	    !(s->last_prune_ms == 0 || pt_clock_wall_ms() - s->last_prune_ms >= 3600000))
		return 1;
	if (step(s, ST_BEGIN))
		return -EIO;
	for (size_t i = 0; i < b->n && !r; i++)
		r = write_ev(s, &b->ev[i]);
	if (!r)
		r = write_counts(s, b);
	s->resources += b->ncnt;
	if (!r)
		r = cap_resources(s);
	if (!r)
		r = write_sample(s, b);
	if (!r)
		r = prune(s, pt_clock_wall_ms());
	if (!r)
		r = step(s, ST_COMMIT);
	/* A failed COMMIT (disk full) may have rolled back already. */
	if (r && !sqlite3_get_autocommit(s->db))
		step(s, ST_ROLLBACK);
	return r;
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *writer(void *arg)
{
	pt_store *s = arg;
	struct batch work = {0};
	struct timespec next;
	bool last = false;

	deadline_after(&next, s->flush_ms);
	pthread_mutex_lock(&s->mu);
	while (!last) {
		while (!s->stop && !s->sync_req &&
		       pthread_cond_timedwait(&s->wake, &s->mu, &next) != ETIMEDOUT)
			;
		last = s->stop;
		s->sync_req = false;
		/* The next deadline counts from this flush's start: every event
		 * waits at most flush_ms for its commit to begin. */
		deadline_after(&next, s->flush_ms);
		struct batch t = work;
		work = s->pending;
		s->pending = t;
		uint64_t upto = s->appended;
		pthread_mutex_unlock(&s->mu);

		uint64_t t0 = pt_clock_mono_us();
		int r = commit(s, &work);
		uint64_t took = pt_clock_mono_us() - t0;
		size_t lost = work.n + work.ncnt;
		log_failures_held(s);

		/* A burst (a wave of connects, a large announce) grows a batch;
		 * give that back instead of keeping its high-water mark, twice
		 * over (two batches alternate), for the daemon's whole life. */
		if (work.cap > BATCH_KEEP || work.cnt_cap > BATCH_KEEP)
			batch_free(&work);
		else
			batch_clear(&work);
		pthread_mutex_lock(&s->mu);
		s->committed = upto;
		s->last_flush_us = took;
		s->flush_sum_us += took;
		int k = 0;
		while (k < PT_STORE_FLUSH_BUCKETS && took > pt_store_flush_bounds_us[k])
			k++;
		if (k < PT_STORE_FLUSH_BUCKETS)
			s->flush_hist[k]++;
		else
			s->flush_over++;
		if (r < 0) {
			s->errors++;
			s->dropped += lost;
			s->ok = false;
		} else {
			s->flushes++;
			/* Only a commit that wrote tells whether writing works: an
			 * empty turn between two failed ones (a full disk under
			 * light traffic) must not report the store healthy. */
			if (r == 0)
				s->ok = true;
			s->last_flush_ms = pt_clock_wall_ms();
		}
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	batch_free(&work);
	return NULL;
}

int pt_store_sync(pt_store *s)
{
	int r;

	pthread_mutex_lock(&s->mu);
	uint64_t target = s->appended;
	/* A sample is not an event: make sure one more commit happens. */
	uint64_t flushes = s->flushes + s->errors;

	s->sync_req = true;
	pthread_cond_signal(&s->wake);
	while ((s->committed < target || s->flushes + s->errors == flushes) && s->writer_started &&
	       !s->stop)
		pthread_cond_wait(&s->done, &s->mu);
	r = s->ok ? 0 : -EIO;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void pt_store_health_get(pt_store *s, pt_store_health *h)
{
	pthread_mutex_lock(&s->mu);
	h->queue_depth = depth(s);
	h->flushes = s->flushes;
	h->errors = s->errors;
	h->dropped = s->dropped;
	h->last_flush_us = s->last_flush_us;
	h->last_flush_ms = s->last_flush_ms;
	memcpy(h->flush_hist, s->flush_hist, sizeof(h->flush_hist));
	h->flush_over = s->flush_over;
	h->flush_sum_us = s->flush_sum_us;
	h->ok = s->ok;
	pthread_mutex_unlock(&s->mu);
}

/* -- open / close ---------------------------------------------------------- */

/* One row of a load_rows query: 0, or -ENOMEM to stop. A malformed row is
 * the callback's to log and skip. */
typedef int (*load_row_fn)(sqlite3_stmt *st, void *arg);

/* Runs sql, with ?1 bound to *now if it is given, and feeds every row to
 * row. `what` names the load in err. 0, -ENOMEM or -EIO. */
static int load_rows(pt_store *s, const char *sql, const uint64_t *now, load_row_fn row, void *arg,
                     const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (now)
		sqlite3_bind_int64(st, 1, (sqlite3_int64)*now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row(st, arg) < 0) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
fail:
	snprintf(err, errlen, "loading %s: %s", what, sqlite3_errmsg(s->db));
	return -EIO;
}

static int ban_row(sqlite3_stmt *st, void *arg)
{
	const char *text = (const char *)sqlite3_column_text(st, 0);
	const char *reason = (const char *)sqlite3_column_text(st, 1);
	pt_cidr c;

	if (!text || pt_cidr_parse(text, strlen(text), &c)) {
		pt_log_warn("store: ignoring a malformed ban '%s'", text ? text : "");
		return 0;
	}
	return pt_banlist_add(arg, &c, (uint64_t)sqlite3_column_int64(st, 2),
	                      (uint64_t)sqlite3_column_int64(st, 3), reason) < 0 ? -ENOMEM : 0;
}

static int load_bans(pt_store *s, pt_banlist *bans, uint64_t now, char *err, size_t errlen)
{
	return load_rows(s, "SELECT cidr, reason, created_at, expires_at FROM bans"
	                    " WHERE expires_at = 0 OR expires_at > ?1 ORDER BY created_at",
	                 &now, ban_row, bans, "bans", err, errlen);
}

static int allowed_row(sqlite3_stmt *st, void *arg)
{
	const char *text = (const char *)sqlite3_column_text(st, 0);
	pt_wt_id ih;
	pt_key k;

	if (!text || pt_key_parse(text, strlen(text), &k) || k.space != PT_SPACE_WT) {
		pt_log_warn("store: ignoring a malformed allowed info_hash '%s'", text ? text : "");
		return 0;
	}
	memcpy(ih.b, k.h.b, PT_WT_ID_BYTES);
	return pt_wt_allow_add(arg, &ih, SIZE_MAX) < 0 ? -ENOMEM : 0;
}

/* Every listed info_hash, whatever wt_max_allowed is now (lowering it
 * removes nothing). In key order, so each add appends. */
static int load_allowed(pt_store *s, pt_wt_allow *allow, char *err, size_t errlen)
{
	return load_rows(s, "SELECT info_hash FROM wt_allowed ORDER BY info_hash", NULL, allowed_row,
	                 allow, "the info_hash allow-list", err, errlen);
}

static void store_free(pt_store *s)
{
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		pt_log_error("store: close: %s", sqlite3_errmsg(s->db));
	batch_free(&s->pending);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	free(s);
}

int pt_store_open(const pt_store_opts *o, pt_banlist *bans, uint64_t now_ms, pt_store **out,
                  char *err, size_t errlen)
{
	pthread_condattr_t ca;
	pt_store *s = calloc(1, sizeof(*s));
	char why[256];
	int r = -EIO;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->done, NULL);
	s->flush_ms = o->flush_ms ? o->flush_ms : 1000;
	s->retention_ms = (uint64_t)(o->retention_days ? o->retention_days : 30) * 86400000ull;
	s->max_queue = o->max_queue ? o->max_queue : 100000;
	s->max_resources = o->max_resources;
	s->ok = true;
	if (getrandom(&s->seed, sizeof(s->seed), 0) != sizeof(s->seed))
		s->seed = now_ms ^ (uintptr_t)s;

	if (sqlite3_open_v2(o->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", o->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL + synchronous=NORMAL: a commit survives a crash of the process
	 * (not necessarily of the machine), and readers never block the writer. */
	if (exec(s->db, "PRAGMA journal_mode = WAL", why, sizeof(why)) ||
	    exec(s->db, "PRAGMA synchronous = NORMAL", why, sizeof(why))) {
		snprintf(err, errlen, "%s: %.200s", o->path, why);
		goto fail;
	}
	if (o->cache_kib) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%u", o->cache_kib);
		if (exec(s->db, sql, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %.200s", o->path, why);
			goto fail;
		}
	}
	if ((r = migrate(s->db, why, sizeof(why)))) {
		snprintf(err, errlen, "%s: %.200s", o->path, why);
		goto fail;
	}
	r = -EIO;
	for (int i = 0; i < ST__COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
		                       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: preparing: %s", o->path, sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	/* Sessions a crash left open ended at the latest at this start. */
	{
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(s->db,
		                       "UPDATE sessions SET disconnected_at = ?1, reason = 'lost'"
		                       " WHERE disconnected_at IS NULL",
		                       -1, &st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", o->path, sqlite3_errmsg(s->db));
			goto fail;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "%s: %s", o->path, sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	if (bans && (r = load_bans(s, bans, now_ms, err, errlen)))
		goto fail;
	if (o->allowed && (r = load_allowed(s, o->allowed, err, errlen)))
		goto fail;
	/* The bound is checked on the first commit when the file holds more
	 * rows than it allows (a lowered store_max_resources). */
	s->resources = s->max_resources + 1;
	r = -EIO;
	if (pthread_create(&s->writer, NULL, writer, s)) {
		snprintf(err, errlen, "cannot start the writer thread");
		goto fail;
	}
	s->writer_started = true;
	*out = s;
	return 0;
fail:
	store_free(s);
	return r;
}

void pt_store_close(pt_store *s)
{
	if (!s)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
		s->writer_started = false;
	}
	store_free(s);
}
