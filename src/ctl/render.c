/* render.c — admin results as text for people: aligned tables (numbers to
 * the right), UTC times, human durations and byte counts. The JSON shape
 * is the daemon's (admin.c) or the store's (query.c) — the same either way. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* -- a small table ---------------------------------------------------------- */

#define MAX_COLS 8

typedef struct table {
	size_t ncols, nrows, cap;
	const char *head[MAX_COLS];
	bool right[MAX_COLS];
	char **cells; /* nrows * ncols, owned */
} table;

static void t_init(table *t, const char *spec)
{
	/* spec: "ID ADDRESS >HASHES": '>' right-aligns a column. */
	char *copy = strdup(spec), *save = NULL;

	memset(t, 0, sizeof(*t));
	for (char *w = strtok_r(copy, " ", &save); w && t->ncols < MAX_COLS; w = strtok_r(NULL, " ", &save)) {
		t->right[t->ncols] = *w == '>';
		t->head[t->ncols++] = strdup(*w == '>' ? w + 1 : w);
	}
	free(copy);
}

static void t_row(table *t, ...)
{
	va_list ap;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + i] = strdup(s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

static void t_print(FILE *f, table *t)
{
	size_t w[MAX_COLS];

	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
			bool last = c + 1 == t->ncols;

			if (t->right[c])
				fprintf(f, "%*s%s", (int)w[c], s, last ? "" : "  ");
			else if (last)
				fputs(s, f);
			else
				fprintf(f, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', f);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	for (size_t c = 0; c < t->ncols; c++)
		free((char *)t->head[c]);
	free(t->cells);
}

/* -- value formatting ------------------------------------------------------------ */

typedef char cell[64];

static long long jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static const char *num(cell c, long long v)
{
	snprintf(c, sizeof(cell), "%lld", v);
	return c;
}

/* UTC, to the second; "-" for 0 or null. */
static const char *when(cell c, const json_t *v)
{
	long long ms = json_integer_value(v);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!json_is_integer(v) || ms <= 0)
		return strcpy(c, "-");
	gmtime_r(&t, &tm);
	strftime(c, sizeof(cell), "%Y-%m-%d %H:%M:%SZ", &tm);
	return c;
}

static const char *dur(cell c, long long ms)
{
	long long s = ms / 1000;

	if (s < 60)
		snprintf(c, sizeof(cell), "%llds", s);
	else if (s < 3600)
		snprintf(c, sizeof(cell), "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(c, sizeof(cell), "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(c, sizeof(cell), "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return c;
}

static const char *bytes(cell c, long long b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 5)
		v /= 1024, u++;
	if (u == 0)
		snprintf(c, sizeof(cell), "%lld B", b);
	else
		snprintf(c, sizeof(cell), "%.1f %s", v, units[u]);
	return c;
}

/* -- per command --------------------------------------------------------------- */

static void peers_table(FILE *f, const json_t *res)
{
	const json_t *arr = json_object_get(res, "peers"), *p;
	table t;
	size_t i;

	t_init(&t, "ID ADDRESS CONNECTED >FOR >HASHES >QUEUE");
	json_array_foreach(arr, i, p) {
		cell a, b, c, d;
		t_row(&t, jstr(p, "id"), jstr(p, "ip"), when(a, json_object_get(p, "connected_at")),
		      dur(b, jint(p, "connected_ms")), num(c, jint(p, "hashes")), num(d, jint(p, "queue_bytes")));
	}
	t_print(f, &t);
	fprintf(f, "(%zu of %lld)\n", json_array_size(arr), jint(res, "total"));
}

/* who-has in cluster mode: the holders with their node (those of other
 * nodes carry only id and address), and whether the other nodes could be
 * asked. */
static void who_has_table(FILE *f, const json_t *res)
{
	const json_t *arr = json_object_get(res, "peers"), *p;
	table t;
	size_t i;

	if (!json_object_get(res, "cluster")) {
		peers_table(f, res);
		return;
	}
	t_init(&t, "ID NODE ADDRESS CONNECTED >FOR >HASHES >QUEUE");
	json_array_foreach(arr, i, p) {
		cell a, b, c, d;
		bool here = json_object_get(p, "connected_at") != NULL;

		t_row(&t, jstr(p, "id"), jstr(p, "node"), jstr(p, "ip"),
		      when(a, json_object_get(p, "connected_at")),
		      here ? dur(b, jint(p, "connected_ms")) : "-", here ? num(c, jint(p, "hashes")) : "-",
		      here ? num(d, jint(p, "queue_bytes")) : "-");
	}
	t_print(f, &t);
	fprintf(f, "(%zu of %lld)\n", json_array_size(arr), jint(res, "total"));
	if (strcmp(jstr(res, "cluster"), "ok"))
		fprintf(f, "cluster unavailable (Redis unreachable): this node's holders only\n");
}

/* Cluster mode: this node, the nodes the registry knew at the last
 * heartbeat (their peers and entries as they reported them) and the
 * Redis links. */
static void render_cluster(FILE *f, const json_t *c)
{
	const json_t *v;
	size_t i;

	if (!json_is_object(c))
		return;
	fprintf(f, "cluster        node %s, %s%s\n", jstr(c, "node"), jstr(c, "state"),
	        json_is_true(json_object_get(c, "registered")) ? "" : " (not registered)");
	json_array_foreach(json_object_get(c, "nodes"), i, v)
		fprintf(f, "  node %-4s    %s%s, heard %lld ms ago, %s\n", jstr(v, "tag"),
		        json_is_true(json_object_get(v, "alive")) ? "alive" : "DEAD",
		        json_is_true(json_object_get(v, "self")) ? " (this node)" : "", jint(v, "age_ms"),
		        jstr(v, "info"));
	json_array_foreach(json_object_get(c, "redis"), i, v)
		fprintf(f, "  redis %s %s: %s, %lld pending, %lld disconnects, %lld timeouts%s%s\n",
		        jstr(v, "redis"), jstr(v, "role"),
		        json_is_true(json_object_get(v, "up")) ? "up" : "DOWN", jint(v, "pending"),
		        jint(v, "disconnects"), jint(v, "timeouts"),
		        *jstr(v, "last_error") ? ", last error: " : "", jstr(v, "last_error"));
}

static void render_status(FILE *f, const json_t *r)
{
	const json_t *st = json_object_get(r, "store");
	cell a;

	fprintf(f, "version        %s\n", jstr(r, "version"));
	fprintf(f, "uptime         %s\n", dur(a, jint(r, "uptime_ms")));
	fprintf(f, "port           %lld\n", jint(r, "port"));
	fprintf(f, "peers          %lld of %lld (sockets %lld)\n", jint(r, "peers"),
	        jint(r, "max_connections"), jint(r, "sockets"));
	fprintf(f, "index          %lld entries, %lld hashes\n", jint(r, "index_entries"),
	        jint(r, "index_hashes"));
	fprintf(f, "bans           %lld\n", jint(r, "bans"));
	fprintf(f, "bad peers      %lld reports counted, %lld ignored, %lld hashes withdrawn\n",
	        jint(json_object_get(r, "bad_peer"), "counted"), jint(json_object_get(r, "bad_peer"), "ignored"),
	        jint(json_object_get(r, "bad_peer"), "withdrawn"));
	fprintf(f, "store          %s, queue %lld, %lld flushes, %lld errors, %lld dropped, last flush %lld us\n",
	        json_is_true(json_object_get(st, "ok")) ? "ok" : "FAILING", jint(st, "queue_depth"),
	        jint(st, "flushes"), jint(st, "errors"), jint(st, "dropped"), jint(st, "last_flush_us"));
	fprintf(f, "database       %s\n", jstr(st, "path"));
	render_cluster(f, json_object_get(r, "cluster"));
}

static void render_peer(FILE *f, const json_t *r)
{
	const json_t *hashes = json_object_get(r, "hash_list"), *h;
	cell a, b;
	size_t i;

	fprintf(f, "id             %s\n", jstr(r, "id"));
	fprintf(f, "address        %s\n", jstr(r, "ip"));
	fprintf(f, "connected      %s (%s ago)\n", when(a, json_object_get(r, "connected_at")),
	        dur(b, jint(r, "connected_ms")));
	fprintf(f, "last heard     %s ago\n", dur(a, jint(r, "last_rx_ms")));
	fprintf(f, "send queue     %lld bytes\n", jint(r, "queue_bytes"));
	fprintf(f, "contacts       %lld\n", jint(r, "contacts"));
	fprintf(f, "bad reports    %lld\n", jint(r, "bad_reports"));
	fprintf(f, "hashes         %lld\n", jint(r, "hashes"));
	json_array_foreach(hashes, i, h)
		fprintf(f, "  %s\n", json_string_value(h));
}

static void render_resources(FILE *f, const json_t *r)
{
	const json_t *row;
	bool live = false;
	table t;
	size_t i;

	json_array_foreach(r, i, row)
		live |= json_object_get(row, "holders") != NULL;
	t_init(&t, live ? "HASH >LOOKUPS >HITS >MISSES >ANNOUNCES >HOLDERS"
	                : "HASH >LOOKUPS >HITS >MISSES >ANNOUNCES");
	json_array_foreach(r, i, row) {
		cell a, b, c, d, e;
		t_row(&t, jstr(row, "hash"), num(a, jint(row, "lookups")), num(b, jint(row, "hits")),
		      num(c, jint(row, "misses")), num(d, jint(row, "announces")), num(e, jint(row, "holders")));
	}
	t_print(f, &t);
}

static void render_stats(FILE *f, const json_t *r)
{
	const json_t *ratio = json_object_get(r, "offload_ratio"), *series, *p;
	cell a, b;
	table t;
	size_t i;

	fprintf(f, "window          %s .. %s\n", when(a, json_object_get(r, "since")),
	        when(b, json_object_get(r, "until")));
	if (json_is_number(ratio))
		fprintf(f, "offload ratio   %.1f%% of the bytes came from peers\n",
		        json_number_value(ratio) * 100);
	else
		fprintf(f, "offload ratio   - (no reports)\n");
	fprintf(f, "from peers      %s (%lld bytes)\n", bytes(a, jint(r, "from_peers")), jint(r, "from_peers"));
	fprintf(f, "from origin     %s (%lld bytes)\n", bytes(a, jint(r, "from_origin")), jint(r, "from_origin"));
	fprintf(f, "to peers        %s (%lld bytes)\n", bytes(a, jint(r, "to_peers")), jint(r, "to_peers"));
	fprintf(f, "reports         %lld from %lld peers\n", jint(r, "reports"), jint(r, "reporting_peers"));
	fprintf(f, "sessions        %lld from %lld addresses\n", jint(r, "sessions"), jint(r, "addresses"));
	series = json_object_get(r, "peers_over_time");
	if (!json_array_size(series))
		return;
	fprintf(f, "\npeers over time (per %s):\n", dur(a, jint(r, "bucket_ms")));
	t_init(&t, "TIME >PEERS >HASHES");
	json_array_foreach(series, i, p) {
		cell c, d, e;
		t_row(&t, when(c, json_object_get(p, "t")), num(d, jint(p, "peers")), num(e, jint(p, "hashes")));
	}
	t_print(f, &t);
}

static void render_history(FILE *f, const json_t *r)
{
	const json_t *row;
	table t;
	size_t i;

	t_init(&t, "ID ADDRESS CONNECTED DISCONNECTED REASON");
	json_array_foreach(r, i, row) {
		cell a, b;
		t_row(&t, jstr(row, "id"), jstr(row, "ip"), when(a, json_object_get(row, "connected_at")),
		      when(b, json_object_get(row, "disconnected_at")),
		      json_is_null(json_object_get(row, "disconnected_at")) ? "(live)" : jstr(row, "reason"));
	}
	t_print(f, &t);
}

static void render_audit(FILE *f, const json_t *r)
{
	const json_t *row;
	table t;
	size_t i;

	t_init(&t, "TIME ACTOR ACTION DETAIL");
	json_array_foreach(r, i, row) {
		cell a;
		t_row(&t, when(a, json_object_get(row, "at")), jstr(row, "actor"), jstr(row, "action"),
		      jstr(row, "detail"));
	}
	t_print(f, &t);
}

static void render_bans(FILE *f, const json_t *r)
{
	const json_t *row;
	table t;
	size_t i;

	t_init(&t, "CIDR CREATED EXPIRES REASON");
	json_array_foreach(r, i, row) {
		cell a, b;
		t_row(&t, jstr(row, "cidr"), when(a, json_object_get(row, "created_at")),
		      jint(row, "expires_at") ? when(b, json_object_get(row, "expires_at")) : "never",
		      jstr(row, "reason"));
	}
	t_print(f, &t);
}

static void render_allowed(FILE *f, const json_t *r)
{
	const json_t *h;
	size_t i, n = json_array_size(json_object_get(r, "info_hashes"));

	fprintf(f, "allow-list %s: %lld info_hash%s%s\n",
	        json_is_true(json_object_get(r, "enforced")) ? "enforced (wt_allowlist = yes)"
	                                                     : "not enforced (wt_allowlist = no)",
	        jint(r, "total"), jint(r, "total") == 1 ? "" : "es",
	        (long long)n < jint(r, "total") ? " (first ones below; --limit)" : "");
	json_array_foreach(json_object_get(r, "info_hashes"), i, h)
		fprintf(f, "%s\n", json_string_value(h));
}

static void render_help(FILE *f, const json_t *r)
{
	const json_t *row, *arg;
	size_t i;

	if (json_is_object(r)) {
		fprintf(f, "usage: peertrackctl %s\n\n%s\n", jstr(r, "usage"), jstr(r, "summary"));
		json_array_foreach(json_object_get(r, "args"), i, arg)
			fprintf(f, "  %-10s %s\n", jstr(arg, "name"), jstr(arg, "help"));
		return;
	}
	json_array_foreach(r, i, row)
		fprintf(f, "  %-48s %s\n", jstr(row, "usage"), jstr(row, "summary"));
}

void pt_ctl_render(FILE *f, const pt_admin_cmd *c, const json_t *result)
{
	cell a;

	switch (c->id) {
	case PT_ADM_HELP: render_help(f, result); break;
	case PT_ADM_STATUS: render_status(f, result); break;
	case PT_ADM_PEERS: peers_table(f, result); break;
	case PT_ADM_WHO_HAS: who_has_table(f, result); break;
	case PT_ADM_PEER: render_peer(f, result); break;
	case PT_ADM_RESOURCES: render_resources(f, result); break;
	case PT_ADM_STATS: render_stats(f, result); break;
	case PT_ADM_HISTORY: render_history(f, result); break;
	case PT_ADM_AUDIT: render_audit(f, result); break;
	case PT_ADM_BANS: render_bans(f, result); break;
	case PT_ADM_KICK: fprintf(f, "kicked %s\n", jstr(result, "kicked")); break;
	case PT_ADM_BAN:
		fprintf(f, "banned %s until %s (%lld live peer%s dropped)\n", jstr(result, "cidr"),
		        jint(result, "expires_at") ? when(a, json_object_get(result, "expires_at")) : "unbanned",
		        jint(result, "dropped"), jint(result, "dropped") == 1 ? "" : "s");
		break;
	case PT_ADM_UNBAN: fprintf(f, "unbanned %s\n", jstr(result, "unbanned")); break;
	case PT_ADM_RELOAD: fprintf(f, "configuration reloaded\n"); break;
	case PT_ADM_ALLOW:
		fprintf(f, "%s %s\n", json_is_true(json_object_get(result, "added")) ? "allowed"
		                                                                   : "already allowed",
		        jstr(result, "allowed"));
		break;
	case PT_ADM_DISALLOW: fprintf(f, "disallowed %s\n", jstr(result, "disallowed")); break;
	case PT_ADM_ALLOWED: render_allowed(f, result); break;
	default: {
		char *s = json_dumps(result, JSON_INDENT(2));
		fprintf(f, "%s\n", s ? s : "");
		free(s);
	}
	}
}
