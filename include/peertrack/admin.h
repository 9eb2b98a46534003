/* admin.h — the admin protocol's command table: what each command is
 * called, which arguments it takes (name, type, required, positional),
 * its help text, and the one validator every request goes through.
 *
 * Shared by the daemon (src/admin/admin.c, which dispatches by
 * pt_admin_cmd.id to its handlers) and peertrackctl (which builds the
 * request from argv with pt_admin_arg_from_text, validates it with the
 * same pt_admin_validate before sending, and prints per-command help from
 * the same rows). No libuv, no sockets here.
 *
 * Wire (docs/OPERATIONS.md): one JSON object per line each way.
 *   request   {"cmd":"peers","args":{"limit":10}}
 *   response  {"ok":true,"result":...}
 *             {"ok":false,"error":{"code":"not-found","message":"..."}}
 */
#ifndef PEERTRACK_ADMIN_H
#define PEERTRACK_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "peertrack/addr.h"
#include "peertrack/hash.h"
#include "peertrack/id.h"
#include "peertrack/index.h"

#define PT_ADMIN_MAX_LINE 65536 /* longest request line, bytes */
#define PT_ADMIN_MAX_ARGS 6

enum pt_admin_cmd_id {
	PT_ADM_HELP = 0, PT_ADM_STATUS, PT_ADM_PEERS, PT_ADM_PEER, PT_ADM_WHO_HAS,
	PT_ADM_RESOURCES, PT_ADM_STATS, PT_ADM_HISTORY, PT_ADM_AUDIT, PT_ADM_KICK,
	PT_ADM_BAN, PT_ADM_UNBAN, PT_ADM_BANS, PT_ADM_RELOAD, PT_ADM_ALLOW, PT_ADM_DISALLOW,
	PT_ADM_ALLOWED, PT_ADM__COUNT
};

enum pt_admin_arg_type {
	PT_ARG_STRING,   /* JSON string, at most 200 bytes */
	PT_ARG_UINT,     /* JSON integer 1..max */
	PT_ARG_ID,       /* client id (24 base64url) */
	PT_ARG_HASH,     /* 64 lowercase hex (/v1) or 40 (an info_hash, /announce) */
	PT_ARG_CIDR,     /* address or CIDR */
	PT_ARG_DURATION, /* "1h", "30m", ... (pt_duration_parse) */
	PT_ARG_INFO_HASH, /* 40 lowercase hex: a WebTorrent info_hash (in hash) */
};

typedef struct pt_admin_arg {
	const char *name;
	enum pt_admin_arg_type type;
	bool required;
	bool positional;       /* ctl: given without --name, in order */
	uint32_t max;          /* PT_ARG_UINT: largest value */
	const char *def;       /* the default as typed ("24h", "100"), or NULL */
	const char *help;      /* without the default: see pt_admin_arg_help */
} pt_admin_arg;

typedef struct pt_admin_cmd {
	enum pt_admin_cmd_id id;
	const char *name;
	pt_admin_arg args[PT_ADMIN_MAX_ARGS]; /* ends at the first NULL name */
	bool mutating;         /* written to the audit log */
	bool offline;          /* peertrackctl can answer it from the database */
	const char *summary;   /* one line */
	const char *help;      /* more lines, or "" */
} pt_admin_cmd;

extern const pt_admin_cmd pt_admin_cmds[PT_ADM__COUNT];

/* A validated argument: which member is set depends on its type. */
typedef struct pt_admin_val {
	bool set;              /* given; an unset argument with a default has u and s from it */
	uint64_t u;            /* UINT; DURATION in ms */
	const char *s;         /* STRING, and the text of every type (borrowed) */
	pt_id id;
	pt_key hash;           /* HASH: a /v1 hash or an info_hash; INFO_HASH: an info_hash */
	pt_cidr cidr;
} pt_admin_val;

const pt_admin_cmd *pt_admin_cmd_find(const char *name);

/* Checks args (a JSON object, or NULL for none) against the command: no
 * unknown names, required ones present, each of its type and range.
 * Fills vals[i] for c->args[i]. 0, or -EINVAL with err set ("limit: ..."). */
int pt_admin_validate(const pt_admin_cmd *c, const json_t *args, pt_admin_val vals[PT_ADMIN_MAX_ARGS],
                      char *err, size_t errlen);

/* The value for argument `name` (NULL if the command has no such argument). */
const pt_admin_val *pt_admin_get(const pt_admin_cmd *c, const pt_admin_val vals[PT_ADMIN_MAX_ARGS],
                                 const char *name);

/* Command-line text to the JSON the request carries (an integer for UINT,
 * the string otherwise). The value is checked later by pt_admin_validate;
 * only "not a number" is reported here. NULL with err set on error. */
json_t *pt_admin_arg_from_text(const pt_admin_arg *a, const char *text, char *err, size_t errlen);

/* The argument's help line with its default: "at most this many (default
 * 100)". Returns out, or a->help itself when there is no default. */
const char *pt_admin_arg_help(const pt_admin_arg *a, char *out, size_t outlen);

/* The commands that read the database (stats, resources, history, audit:
 * the `offline` rows), run on the file at db_path exactly as the daemon
 * runs them and peertrackctl --db does: 0, or a negative errno with err
 * set (-ENOENT/-EIO/-EPROTO: the file is missing or unreadable). Blocks
 * on sqlite: the daemon calls it from its thread pool. */
int pt_admin_query(const char *db_path, const pt_admin_cmd *c,
                   const pt_admin_val vals[PT_ADMIN_MAX_ARGS], uint64_t now_ms, json_t **out,
                   char *err, size_t errlen);

/* "ban IP|CIDR [--for DURATION] [--reason TEXT]" */
void pt_admin_usage(const pt_admin_cmd *c, char *out, size_t outlen);

/* The table as JSON, for the `help` command. */
json_t *pt_admin_help_json(void);

#endif
