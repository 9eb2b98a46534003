/* dbread.c — the admin commands answered from the database file (admin.h,
 * pt_admin_query): one mapping from a command and its arguments (defaults
 * from the command table) to a store read, shared by the daemon's thread
 * pool and peertrackctl --db. */
#include <errno.h>
#include <stdio.h>

#include "peertrack/admin.h"
#include "peertrack/store.h"

int pt_admin_query(const char *db, const pt_admin_cmd *c, const pt_admin_val v[PT_ADMIN_MAX_ARGS],
                   uint64_t now, json_t **res, char *err, size_t errlen)
{
	const pt_admin_val *since = pt_admin_get(c, v, "since");
	uint64_t window = since ? since->u : 0;
	uint64_t from = window < now ? now - window : 0;

	switch (c->id) {
	case PT_ADM_STATS:
		return pt_store_query_stats(db, from, now, (unsigned)pt_admin_get(c, v, "points")->u, res,
		                            err, errlen);
	case PT_ADM_HISTORY:
		return pt_store_query_history(db, from, (unsigned)pt_admin_get(c, v, "limit")->u, res,
		                              err, errlen);
	case PT_ADM_RESOURCES:
		return pt_store_query_top(db, (unsigned)pt_admin_get(c, v, "top")->u, res, err, errlen);
	case PT_ADM_AUDIT:
		return pt_store_query_audit(db, (unsigned)pt_admin_get(c, v, "limit")->u, res, err,
		                            errlen);
	default:
		snprintf(err, errlen, "%s needs the running daemon (no --db)", c->name);
		return -EINVAL;
	}
}
