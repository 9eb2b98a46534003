/* query.c — the store's read side (store.h): each call opens its own
 * read-only connection, so it can run on any thread while the writer
 * commits (WAL readers never block it), or with the daemon stopped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "peertrack/store.h"
#include "store_int.h"

static int ro_open(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	int v;

	*db = NULL;
	if (access(path, F_OK)) {
		snprintf(err, errlen, "%s: no such database", path);
		return -ENOENT;
	}
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(*db, 2000);
	if (pt_store_user_version(*db, &v)) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(*db));
		goto fail;
	}
	if (v > pt_store_schema_version()) {
		snprintf(err, errlen, "%s: schema version %d is newer than this program's (%d)", path,
		         v, pt_store_schema_version());
		sqlite3_close(*db);
		*db = NULL;
		return -EPROTO;
	}
	if (v < pt_store_schema_version()) {
		/* Read-only: we cannot migrate it, and older schemas lack tables. */
		snprintf(err, errlen, "%s: schema version %d: not a peertrack database, or one "
		         "the daemon has not opened since an upgrade", path, v);
		goto fail;
	}
	return 0;
fail:
	sqlite3_close(*db);
	*db = NULL;
	return -EIO;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_string(t ? (const char *)t : "");
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, i));
}

/* A result row as an object keyed by the SELECT's column names: the SQL
 * below is the one description of each listing. Integers stay integers,
 * text stays text, NULL is null (the schema stores nothing else). */
static json_t *named_row(sqlite3_stmt *st)
{
	json_t *o = json_object();
	int n = sqlite3_column_count(st);

	if (!o)
		return NULL;
	for (int i = 0; i < n; i++) {
		json_t *v = sqlite3_column_type(st, i) == SQLITE_INTEGER ? col_int(st, i)
		                                                          : col_text(st, i);

		if (json_object_set_new(o, sqlite3_column_name(st, i), v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Appends a finished statement's rows to arr; -EIO on a step error. */
static int rows(sqlite3 *db, sqlite3_stmt *st, json_t *arr, char *err, size_t errlen)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = named_row(st);

		if (!o || json_array_append_new(arr, o)) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

/* -- stats ----------------------------------------------------------------- */

/* A total() as a JSON integer, saturating at INT64_MAX (a double that
 * large does not convert to an integer defined-ly). */
static json_int_t clamp_total(double v)
{
	if (!(v > 0))
		return 0;
	return v >= 9223372036854775807.0 ? INT64_MAX : (json_int_t)v;
}

int pt_store_query_stats(const char *path, uint64_t since_ms, uint64_t now_ms, unsigned points,
                         json_t **out, char *err, size_t errlen)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	json_t *res = NULL, *series = NULL;
	int r, rc;

	*out = NULL;
	if ((r = ro_open(path, &db, err, errlen)))
		return r;
	r = -EIO;
	/* One read transaction: the numbers agree with each other. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	/* total(), not sum(): sum() fails the whole query on integer overflow,
	 * and a database written before reports were bounded may hold rows
	 * near 2^63. total() is a double: exact up to 2^53 bytes (8 PiB). */
	if (prepare(db, "SELECT total(n), total(from_peers), total(from_origin), total(to_peers),"
	                " count(DISTINCT peer) FROM reports WHERE at >= ?1",
	            &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since_ms);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	double from_peers = sqlite3_column_double(st, 1), from_origin = sqlite3_column_double(st, 2);
	res = json_pack("{sI sI sI sI sI sI sI}", "since", (json_int_t)since_ms, "until",
	                (json_int_t)now_ms, "reports", clamp_total(sqlite3_column_double(st, 0)),
	                "reporting_peers", (json_int_t)sqlite3_column_int64(st, 4),
	                "from_peers", clamp_total(from_peers), "from_origin", clamp_total(from_origin),
	                "to_peers", clamp_total(sqlite3_column_double(st, 3)));
	if (!res)
		goto oom;
	json_object_set_new(res, "offload_ratio",
	                    from_peers + from_origin > 0
	                        ? json_real(from_peers / (from_peers + from_origin))
	                        : json_null());
	sqlite3_finalize(st);
	st = NULL;

	if (prepare(db, "SELECT count(*), count(DISTINCT ip) FROM sessions WHERE connected_at >= ?1",
	            &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since_ms);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	json_object_set_new(res, "sessions", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(res, "addresses", json_integer(sqlite3_column_int64(st, 1)));
	sqlite3_finalize(st);
	st = NULL;

	/* Peers over time: per-minute rows, merged into at most `points`
	 * buckets (max peers, last hashes) so a month stays a short answer. */
	if (prepare(db, "SELECT minute, peers_max, hashes FROM samples WHERE minute >= ?1"
	                " ORDER BY minute", &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(since_ms / 60000));
	{
		uint64_t first = since_ms / 60000, last = now_ms / 60000;
		uint64_t span = last >= first ? last - first + 1 : 1;
		uint64_t width = points && span > points ? (span + points - 1) / points : 1;
		json_t *cur = NULL;
		uint64_t cur_bucket = UINT64_MAX;

		if (!(series = json_array()))
			goto oom;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			uint64_t m = (uint64_t)sqlite3_column_int64(st, 0);
			json_int_t peers = sqlite3_column_int64(st, 1), hashes = sqlite3_column_int64(st, 2);
			uint64_t bucket = (m - first) / width;

			if (!cur || bucket != cur_bucket) {
				cur = json_pack("{sI sI sI}", "t", (json_int_t)((first + bucket * width) * 60000),
				                "peers", peers, "hashes", hashes);
				if (!cur || json_array_append_new(series, cur))
					goto oom;
				cur_bucket = bucket;
			} else {
				if (peers > json_integer_value(json_object_get(cur, "peers")))
					json_object_set_new(cur, "peers", json_integer(peers));
				json_object_set_new(cur, "hashes", json_integer(hashes));
			}
		}
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
			goto out;
		}
		json_object_set_new(res, "bucket_ms", json_integer((json_int_t)(width * 60000)));
	}
	json_object_set_new(res, "peers_over_time", series);
	series = NULL;
	*out = res;
	res = NULL;
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
	r = -ENOMEM;
out:
	sqlite3_finalize(st);
	json_decref(series);
	json_decref(res);
	sqlite3_close(db);
	return r;
}

/* -- top resources, history, audit ---------------------------------------- */

/* One SELECT with up to two integer parameters into an array of rows. */
static int select_rows(const char *path, const char *sql, int64_t p1, int64_t p2,
                       json_t **out, char *err, size_t errlen)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	json_t *arr = NULL;
	int r;

	*out = NULL;
	if ((r = ro_open(path, &db, err, errlen)))
		return r;
	if (!(arr = json_array())) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	if ((r = prepare(db, sql, &st, err, errlen)))
		goto out;
	sqlite3_bind_int64(st, 1, p1);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, p2);
	if ((r = rows(db, st, arr, err, errlen)))
		goto out;
	*out = arr;
	arr = NULL;
out:
	sqlite3_finalize(st);
	json_decref(arr);
	sqlite3_close(db);
	return r;
}

int pt_store_query_top(const char *path, unsigned n, json_t **out, char *err, size_t errlen)
{
	return select_rows(path,
	                   "SELECT hash, announces, lookups, hits, misses, updated_at FROM resources"
	                   " ORDER BY lookups DESC, announces DESC, hash LIMIT ?1",
	                   n, 0, out, err, errlen);
}

int pt_store_query_history(const char *path, uint64_t since_ms, unsigned limit, json_t **out,
                           char *err, size_t errlen)
{
	return select_rows(path,
	                   "SELECT id, connected_at, disconnected_at, reason, ip FROM sessions"
	                   " WHERE connected_at >= ?1 ORDER BY connected_at DESC, id LIMIT ?2",
	                   (int64_t)since_ms, limit, out, err, errlen);
}

int pt_store_query_audit(const char *path, unsigned limit, json_t **out, char *err,
                         size_t errlen)
{
	return select_rows(path, "SELECT at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?1",
	                   limit, 0, out, err, errlen);
}
