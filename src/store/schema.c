/* schema.c — the store's schema, shared by the writer (store.c) and the
 * read side (query.c): the migrations and the version both check. Kept
 * apart from the writer so a reader (peertrackctl) links no writer. */
#include <errno.h>
#include <sqlite3.h>

#include "peertrack/store.h"
#include "store_int.h"

/* Forward migrations: entry i brings the schema from version i to i + 1.
 * Never edit a shipped entry; append a new one. */
static const char *const migrations[] = {
	/* 1: the tables */
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY,"
	"  connected_at INTEGER NOT NULL,"
	"  disconnected_at INTEGER,"
	"  reason TEXT,"
	"  ip TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE resources ("
	"  hash TEXT PRIMARY KEY,"
	"  announces INTEGER NOT NULL DEFAULT 0,"
	"  lookups INTEGER NOT NULL DEFAULT 0,"
	"  hits INTEGER NOT NULL DEFAULT 0,"
	"  misses INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE reports ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  peer TEXT NOT NULL,"
	"  from_peers INTEGER NOT NULL,"
	"  from_origin INTEGER NOT NULL,"
	"  to_peers INTEGER NOT NULL);"
	"CREATE TABLE bans ("
	"  cidr TEXT PRIMARY KEY,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '');",
	/* 2: peers over time, and indexes for the time-range reads and pruning */
	"CREATE TABLE samples ("
	"  minute INTEGER PRIMARY KEY,"
	"  peers_max INTEGER NOT NULL,"
	"  peers_last INTEGER NOT NULL,"
	"  hashes INTEGER NOT NULL);"
	"CREATE INDEX sessions_connected_at ON sessions(connected_at);"
	"CREATE INDEX reports_at ON reports(at);"
	"CREATE INDEX audit_at ON audit(at);"
	"CREATE INDEX resources_updated_at ON resources(updated_at);",
	/* 3: a reports row sums one peer's reports of one flush; n counts them */
	"ALTER TABLE reports ADD COLUMN n INTEGER NOT NULL DEFAULT 1;",
	/* 4: the /announce info_hash allow-list (40 lowercase hex) */
	"CREATE TABLE wt_allowed ("
	"  info_hash TEXT PRIMARY KEY,"
	"  created_at INTEGER NOT NULL);",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int pt_store_schema_version(void)
{
	return N_MIGRATIONS;
}

const char *pt_store_migration(int version)
{
	return version >= 1 && version <= N_MIGRATIONS ? migrations[version - 1] : NULL;
}

int pt_store_user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}
