/* commands.c — the admin command table and its validator (admin.h). The
 * daemon and peertrackctl both link this file, so a command's arguments,
 * their checks and its help are written once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/admin.h"
#include "peertrack/banlist.h"

#define A(n, t, req, pos, mx, h) { n, t, req, pos, mx, NULL, h }
/* An optional argument with a default, as it would be typed. */
#define D(n, t, pos, mx, def, h) { n, t, false, pos, mx, def, h }
#define END { NULL, 0, false, false, 0, NULL, NULL }

const pt_admin_cmd pt_admin_cmds[PT_ADM__COUNT] = {
	[PT_ADM_HELP] = { PT_ADM_HELP, "help",
		{ A("command", PT_ARG_STRING, false, true, 0, "a command to describe"), END },
		false, false, "list the commands, or describe one", "" },
	[PT_ADM_STATUS] = { PT_ADM_STATUS, "status", { END }, false, false,
		"daemon version, uptime, peers, index size, store health", "" },
	[PT_ADM_PEERS] = { PT_ADM_PEERS, "peers",
		{ A("ip", PT_ARG_CIDR, false, false, 0, "only peers whose address is in this range"),
		  A("has", PT_ARG_HASH, false, false, 0, "only peers holding this hash"),
		  D("limit", PT_ARG_UINT, false, 100000, "100", "at most this many"), END },
		false, false, "list live peers, oldest first",
		"Columns: id, address, connected for, hashes held, send queue bytes." },
	[PT_ADM_PEER] = { PT_ADM_PEER, "peer",
		{ A("id", PT_ARG_ID, true, true, 0, "the peer's client id"), END },
		false, false, "show one live peer", "" },
	[PT_ADM_WHO_HAS] = { PT_ADM_WHO_HAS, "who-has",
		{ A("hash", PT_ARG_HASH, true, true, 0,
		    "the resource hash (64 lowercase hex), or a WebTorrent info_hash (40)"),
		  D("limit", PT_ARG_UINT, false, 100000, "100", "at most this many"), END },
		false, false, "list the live peers holding a hash", "" },
	[PT_ADM_RESOURCES] = { PT_ADM_RESOURCES, "resources",
		{ D("top", PT_ARG_UINT, false, 10000, "10", "how many"), END },
		false, true, "the most looked-up resources, with their counters",
		"Counters (announces, lookups, hits, misses) come from the database;\n"
		"holders is the live count (omitted with --db)." },
	[PT_ADM_STATS] = { PT_ADM_STATS, "stats",
		{ D("since", PT_ARG_DURATION, false, 0, "24h", "window, e.g. 1h, 7d"),
		  D("points", PT_ARG_UINT, false, 1000, "24", "peers-over-time points"), END },
		false, true, "offload ratio, bytes from peers vs origin, peers over time",
		"Read from the database: the last flush interval is not in it yet." },
	[PT_ADM_HISTORY] = { PT_ADM_HISTORY, "history",
		{ D("since", PT_ARG_DURATION, false, 0, "24h", "window"),
		  D("limit", PT_ARG_UINT, false, 100000, "50", "at most this many"), END },
		false, true, "past and present sessions, newest first", "" },
	[PT_ADM_AUDIT] = { PT_ADM_AUDIT, "audit",
		{ D("limit", PT_ARG_UINT, false, 100000, "50", "at most this many"), END },
		false, true, "the admin actions log, newest first", "" },
	[PT_ADM_KICK] = { PT_ADM_KICK, "kick",
		{ A("id", PT_ARG_ID, true, true, 0, "the peer's client id"),
		  A("reason", PT_ARG_STRING, false, false, 0, "for the audit log"), END },
		true, false, "disconnect a peer (close code 4003)", "" },
	[PT_ADM_BAN] = { PT_ADM_BAN, "ban",
		{ A("cidr", PT_ARG_CIDR, true, true, 0, "an address or CIDR range"),
		  A("for", PT_ARG_DURATION, false, false, 0, "expire after this long (default never)"),
		  A("reason", PT_ARG_STRING, false, false, 0, "shown by `bans`"), END },
		true, false, "refuse an address or range (1008), and drop its live peers",
		"Banning a range that is already banned replaces its reason and expiry." },
	[PT_ADM_UNBAN] = { PT_ADM_UNBAN, "unban",
		{ A("cidr", PT_ARG_CIDR, true, true, 0, "exactly as banned"), END },
		true, false, "lift a ban", "" },
	[PT_ADM_BANS] = { PT_ADM_BANS, "bans", { END }, false, false, "list the bans in force", "" },
	[PT_ADM_RELOAD] = { PT_ADM_RELOAD, "reload", { END }, true, false,
		"re-read the configuration file (like SIGHUP)", "" },
	[PT_ADM_ALLOW] = { PT_ADM_ALLOW, "allow",
		{ A("info_hash", PT_ARG_INFO_HASH, true, true, 0, "the info_hash (40 lowercase hex)"),
		  END },
		true, false, "put an info_hash on the /announce allow-list",
		"The list is kept in the database; it is enforced while wt_allowlist is on,\n"
		"where announces of other info_hashes are refused." },
	[PT_ADM_DISALLOW] = { PT_ADM_DISALLOW, "disallow",
		{ A("info_hash", PT_ARG_INFO_HASH, true, true, 0, "the info_hash (40 lowercase hex)"),
		  END },
		true, false, "take an info_hash off the /announce allow-list",
		"Its later announces are refused; peers already in its swarm stay until they\n"
		"leave." },
	[PT_ADM_ALLOWED] = { PT_ADM_ALLOWED, "allowed",
		{ D("limit", PT_ARG_UINT, false, 100000000, "1000", "at most this many"), END },
		false, false, "list the /announce allow-list and whether it is enforced", "" },
};

const pt_admin_cmd *pt_admin_cmd_find(const char *name)
{
	for (int i = 0; i < PT_ADM__COUNT; i++)
		if (name && strcmp(pt_admin_cmds[i].name, name) == 0)
			return &pt_admin_cmds[i];
	return NULL;
}

static int arg_index(const pt_admin_cmd *c, const char *name)
{
	for (int i = 0; i < PT_ADMIN_MAX_ARGS && c->args[i].name; i++)
		if (strcmp(c->args[i].name, name) == 0)
			return i;
	return -1;
}

const pt_admin_val *pt_admin_get(const pt_admin_cmd *c, const pt_admin_val vals[PT_ADMIN_MAX_ARGS],
                                 const char *name)
{
	int i = arg_index(c, name);

	return i < 0 ? NULL : &vals[i];
}

static int check_one(const pt_admin_arg *a, const json_t *j, pt_admin_val *v, char *err,
                     size_t errlen)
{
	const char *s = json_is_string(j) ? json_string_value(j) : NULL;
	size_t len = s ? json_string_length(j) : 0;

	if (a->type == PT_ARG_UINT) {
		json_int_t n;

		if (!json_is_integer(j)) {
			snprintf(err, errlen, "%s: not an integer", a->name);
			return -EINVAL;
		}
		n = json_integer_value(j);
		if (n < 1 || (uint64_t)n > a->max) {
			snprintf(err, errlen, "%s: %lld is out of range 1..%u", a->name, (long long)n, a->max);
			return -EINVAL;
		}
		v->u = (uint64_t)n;
		v->set = true;
		return 0;
	}
	if (!s) {
		snprintf(err, errlen, "%s: not a string", a->name);
		return -EINVAL;
	}
	if (strlen(s) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", a->name);
		return -EINVAL;
	}
	v->s = s;
	switch (a->type) {
	case PT_ARG_STRING:
		if (len > 200) {
			snprintf(err, errlen, "%s: longer than 200 bytes", a->name);
			return -EINVAL;
		}
		break;
	case PT_ARG_ID:
		if (pt_id_decode(s, len, &v->id)) {
			snprintf(err, errlen, "%s: '%.40s' is not a client id (24 base64url characters)",
			         a->name, s);
			return -EINVAL;
		}
		break;
	case PT_ARG_HASH:
		if (pt_key_parse(s, len, &v->hash)) {
			snprintf(err, errlen, "%s: '%.70s' is not 64 lowercase hex characters (a hash) or 40 "
			         "(an info_hash)", a->name, s);
			return -EINVAL;
		}
		break;
	case PT_ARG_INFO_HASH:
		if (pt_key_parse(s, len, &v->hash) || v->hash.space != PT_SPACE_WT) {
			snprintf(err, errlen, "%s: '%.70s' is not 40 lowercase hex characters (an info_hash)",
			         a->name, s);
			return -EINVAL;
		}
		break;
	case PT_ARG_CIDR:
		if (pt_cidr_parse(s, len, &v->cidr)) {
			snprintf(err, errlen, "%s: '%.60s' is not an address or CIDR (host bits must be 0)",
			         a->name, s);
			return -EINVAL;
		}
		break;
	case PT_ARG_DURATION:
		if (pt_duration_parse(s, &v->u)) {
			snprintf(err, errlen, "%s: '%.40s' is not a duration such as 90s, 30m, 1h, 7d",
			         a->name, s);
			return -EINVAL;
		}
		break;
	default:
		break;
	}
	v->set = true;
	return 0;
}

/* The table's default, parsed as typed input would be (test_admin_table
 * checks every row's default parses). set stays false. */
static void default_value(const pt_admin_arg *a, pt_admin_val *v)
{
	v->s = a->def;
	if (a->type == PT_ARG_UINT)
		v->u = strtoull(a->def, NULL, 10);
	else if (a->type == PT_ARG_DURATION && pt_duration_parse(a->def, &v->u))
		v->u = 0;
}

int pt_admin_validate(const pt_admin_cmd *c, const json_t *args, pt_admin_val vals[PT_ADMIN_MAX_ARGS],
                      char *err, size_t errlen)
{
	const char *key;
	json_t *val;

	memset(vals, 0, sizeof(pt_admin_val) * PT_ADMIN_MAX_ARGS);
	if (args && !json_is_object(args)) {
		snprintf(err, errlen, "args: not an object");
		return -EINVAL;
	}
	if (args) {
		json_object_foreach((json_t *)args, key, val) {
			int i = arg_index(c, key);

			if (i < 0) {
				snprintf(err, errlen, "%.60s: %s takes no such argument", key, c->name);
				return -EINVAL;
			}
			if (check_one(&c->args[i], val, &vals[i], err, errlen))
				return -EINVAL;
		}
	}
	for (int i = 0; i < PT_ADMIN_MAX_ARGS && c->args[i].name; i++) {
		const pt_admin_arg *a = &c->args[i];

		if (a->required && !vals[i].set) {
			snprintf(err, errlen, "%s: required", a->name);
			return -EINVAL;
		}
		if (!vals[i].set && a->def)
			default_value(a, &vals[i]);
	}
	return 0;
}

json_t *pt_admin_arg_from_text(const pt_admin_arg *a, const char *text, char *err, size_t errlen)
{
	json_t *j;

	if (a->type == PT_ARG_UINT) {
		unsigned long long n = 0;
		const char *p = text;

		if (!*p) {
			snprintf(err, errlen, "%s: not a number", a->name);
			return NULL;
		}
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || n > (unsigned long long)INT64_MAX / 10) {
				snprintf(err, errlen, "%s: '%.40s' is not a number", a->name, text);
				return NULL;
			}
			n = n * 10 + (unsigned)(*p - '0');
		}
		j = json_integer((json_int_t)n);
	} else {
		j = json_string(text);
	}
	if (!j)
		snprintf(err, errlen, "%s: not valid UTF-8, or out of memory", a->name);
	return j;
}

static const char *type_word(enum pt_admin_arg_type t)
{
	switch (t) {
	case PT_ARG_UINT: return "N";
	case PT_ARG_ID: return "ID";
	case PT_ARG_HASH: return "HASH";
	case PT_ARG_INFO_HASH: return "INFO_HASH";
	case PT_ARG_CIDR: return "IP|CIDR";
	case PT_ARG_DURATION: return "DURATION";
	default: return "TEXT";
	}
}

void pt_admin_usage(const pt_admin_cmd *c, char *out, size_t outlen)
{
	size_t used = 0;
	int w = snprintf(out, outlen, "%s", c->name);

	if (w > 0)
		used = (size_t)w;
	for (int i = 0; i < PT_ADMIN_MAX_ARGS && c->args[i].name && used < outlen; i++) {
		const pt_admin_arg *a = &c->args[i];

		if (a->positional)
			w = snprintf(out + used, outlen - used, a->required ? " %s" : " [%s]",
			             a->type == PT_ARG_STRING ? a->name : type_word(a->type));
		else
			w = snprintf(out + used, outlen - used, a->required ? " --%s %s" : " [--%s %s]",
			             a->name, type_word(a->type));
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

const char *pt_admin_arg_help(const pt_admin_arg *a, char *out, size_t outlen)
{
	if (!a->def)
		return a->help;
	snprintf(out, outlen, "%s (default %s)", a->help, a->def);
	return out;
}

json_t *pt_admin_help_json(void)
{
	json_t *arr = json_array();
	char usage[256], help[256];

	if (!arr)
		return NULL;
	for (int i = 0; i < PT_ADM__COUNT; i++) {
		const pt_admin_cmd *c = &pt_admin_cmds[i];
		json_t *args = json_array();

		pt_admin_usage(c, usage, sizeof(usage));
		for (int k = 0; args && k < PT_ADMIN_MAX_ARGS && c->args[k].name; k++)
			json_array_append_new(args, json_pack("{ss ss sb ss}", "name", c->args[k].name,
			                                      "type", type_word(c->args[k].type),
			                                      "required", c->args[k].required,
			                                      "help", pt_admin_arg_help(&c->args[k], help,
			                                                                sizeof(help))));
		json_array_append_new(arr, json_pack("{ss ss ss so sb}", "name", c->name, "usage", usage,
		                                     "summary", c->summary, "args",
		                                     args ? args : json_array(), "mutating",
		                                     c->mutating));
	}
	return arr;
}
