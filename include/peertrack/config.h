/* config.h — peertrackd's settings.
 *
 * One table (src/base/config.c, pt_config_keys) drives everything about a
 * key: its name, type, default, range, whether SIGHUP may change it, and its
 * documentation. The INI loader, the defaults, `peertrackd --dump-config`
 * (which prints conf/peertrack.conf) and docs/CONFIG.md all come from it.
 *
 * Errors name the place: "FILE:LINE: unknown key 'foo'",
 * "FILE:LINE: max_connections: 0 is out of range 1..1000000".
 */
#ifndef PEERTRACK_CONFIG_H
#define PEERTRACK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include "peertrack/addr.h"
#include "peertrack/log.h"

/* How much of a client address the store keeps. */
enum pt_store_ip { PT_STORE_IP_FULL = 0, PT_STORE_IP_PREFIX, PT_STORE_IP_NONE };

#define PT_CONFIG_STR 256
#define PT_CONFIG_REDIS_MAX 16 /* cluster_redis instances */

typedef struct pt_config {
	/* [server] */
	char listen[PT_CONFIG_STR];    /* "ADDR:PORT", "[v6]:PORT"; port 0 = any free port */
	char state_dir[PT_CONFIG_STR];
	bool listen_share;             /* SO_REUSEPORT: nodes sharing listen */
	/* [log] */
	enum pt_log_level log_level;
	enum pt_log_format log_format;
	bool log_time;
	/* [limits] */
	uint32_t max_connections;
	uint32_t max_connections_per_ip;
	uint32_t max_message_bytes;
	uint32_t max_hashes_per_message;
	uint32_t max_hashes_per_peer;
	uint32_t max_lookup_peers;
	uint32_t max_signal_bytes;
	uint32_t max_report_bytes;
	uint32_t rate_messages_per_sec;
	uint32_t rate_burst;
	uint32_t rate_abuse_strikes;
	uint32_t send_queue_max_bytes;
	uint32_t handshake_timeout_ms;
	uint32_t ws_rx_buffer_bytes;
	/* [budgets] */
	uint32_t max_index_entries;
	uint32_t max_hashes_per_ip;
	uint32_t max_halfopen;
	uint32_t max_halfopen_per_ip;
	uint32_t halfopen_idle_ms;
	uint32_t turn_budget_us;
	/* [liveness] */
	uint32_t heartbeat_ms;
	uint32_t timeout_ms;
	/* [security] */
	char allowed_origins[PT_CONFIG_STR * 4]; /* "*" or a blank/comma list */
	bool allow_missing_origin;
	pt_cidr_list trusted_proxies;            /* owned */
	/* [matching] */
	int match_strategy;            /* enum pt_match_strategy (match.h) */
	uint32_t match_sample;
	uint32_t match_half_life_ms;
	uint32_t peer_left_window_ms;
	uint32_t recent_contacts;
	uint32_t bad_peer_reports;
	uint32_t bad_peer_max_reports;
	/* [store] */
	uint32_t store_flush_ms;
	enum pt_store_ip store_ip;
	uint32_t store_retention_days;
	uint32_t store_cache_kib;
	uint32_t store_queue_max;
	uint32_t store_max_resources;
	uint32_t store_rows_per_peer_per_min;
	/* [admin] */
	char admin_socket[PT_CONFIG_STR];        /* "": see pt_config_admin_socket */
	pt_cidr_list metrics_allow;              /* owned */
	char metrics_listen[PT_CONFIG_STR];      /* "": /metrics on listen only */
	/* [tls] */
	char tls_cert[PT_CONFIG_STR];            /* "" = plain ws:// */
	char tls_key[PT_CONFIG_STR];
	char tls_ca[PT_CONFIG_STR];              /* "" = no client certificates */
	/* [webtorrent] */
	uint32_t wt_max_message_bytes;
	uint32_t wt_max_offers;
	uint32_t wt_max_offer_bytes;
	uint32_t wt_max_peers;
	uint32_t wt_max_swarms_per_connection;
	uint32_t wt_max_scrape_hashes;
	uint32_t wt_rate_messages_per_sec;
	uint32_t wt_rate_burst;
	uint32_t wt_offer_ttl_ms;
	uint32_t wt_max_pending_offers;
	uint32_t wt_interval_s;
	bool wt_allowlist;                        /* only allow-listed info_hashes */
	uint32_t wt_max_allowed;
	/* [ice] */
	char stun_urls[PT_CONFIG_STR * 4];       /* blank/comma list */
	char turn_urls[PT_CONFIG_STR * 4];
	char turn_secret[PT_CONFIG_STR * 2 + 8]; /* secret: 1 or 2, blank-separated */
	char turn_secret_file[PT_CONFIG_STR];
	uint32_t turn_credential_ttl_s;
	/* [resume] */
	uint32_t resume_window_ms;
	uint32_t resume_max_sessions;
	uint32_t resume_max_held_signals;
	uint32_t resume_max_held_bytes;
	/* [cluster] */
	char cluster_redis[PT_CONFIG_STR * 2];   /* "" = one process, no Redis */
	char cluster_node[8];                    /* 2-char tag, "" = random */
	char cluster_redis_user[64];
	char cluster_redis_password_file[PT_CONFIG_STR];
	char cluster_prefix[32];
	uint32_t cluster_timeout_ms;
	uint32_t cluster_max_pending;
	uint32_t cluster_publish_linger_us, cluster_publish_batch_bytes;
	uint32_t cluster_heartbeat_ms;
	uint32_t cluster_dead_ms;
	uint32_t cluster_entry_ttl_ms;
	uint32_t cluster_lookup_sample;
	uint32_t cluster_lookup_cache_ms, cluster_lookup_cache_slots;
	uint32_t cluster_count_refresh_ms, cluster_count_cache_slots, cluster_count_reads_per_sec;
	uint32_t cluster_batch;
	uint32_t cluster_reconnect_min_ms;
	uint32_t cluster_reconnect_max_ms;
	uint32_t cluster_probe_ms;
} pt_config;

enum pt_config_type {
	PT_CFG_U32, PT_CFG_BOOL, PT_CFG_STR, PT_CFG_ENUM, PT_CFG_CIDRS
};

typedef struct pt_config_key {
	const char *section;       /* INI section it is documented under */
	const char *name;
	enum pt_config_type type;
	size_t offset;             /* into pt_config */
	size_t size;               /* PT_CFG_STR: buffer size */
	const char *def;           /* default, as it would be written in the file */
	uint32_t min, max;         /* PT_CFG_U32 range, inclusive */
	const char *const *enums;  /* PT_CFG_ENUM: NULL-terminated names, value = position */
	bool reloadable;           /* SIGHUP applies it */
	const char *doc;           /* one or more lines, no leading '#' */
	/* PT_CFG_STR: extra syntax check of a value, or NULL. 0, or -1 with
	 * err set to a message that does not repeat the key. */
	int (*check)(const char *value, char *err, size_t errlen);
	/* The value is a secret: never echoed in an error, never printed. */
	bool secret;
} pt_config_key;

extern const pt_config_key pt_config_keys[];
extern const size_t pt_config_nkeys;

/* Fills every field with its default. Never fails (defaults are tested).
 * c is treated as uninitialised: pt_config_free a loaded config first. */
void pt_config_defaults(pt_config *c);

/* Loads an INI file over c (sections are optional and only documentary:
 * keys are unique across sections). 0, or -1 with err set to
 * "FILE:LINE: ...". On error c may be partly changed: load into a copy. */
int pt_config_load(pt_config *c, const char *path, char *err, size_t errlen);

/* Sets one key from text (command line and environment overrides).
 * 0, or -1 with err set to "KEY: ...". */
int pt_config_set(pt_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Cross-field checks (timeout_ms > heartbeat_ms, ...). 0 or -1 + err. */
int pt_config_validate(const pt_config *c, char *err, size_t errlen);

/* Copies the reloadable keys of fresh into live. Writes into changed (if
 * non-NULL) the names of non-reloadable keys whose values differ, so the
 * caller can warn that they need a restart. Returns how many such keys. */
int pt_config_reload(pt_config *live, const pt_config *fresh, char *changed, size_t changedlen);

/* Writes the sample config (conf/peertrack.conf): every key commented out
 * with its default. */
void pt_config_write_sample(FILE *f);

/* Writes the key reference (docs/CONFIG.md). */
void pt_config_write_markdown(FILE *f);

/* Writes c as a loadable file, every key with its value (`peertrackd
 * --dump-config`, like `nginx -T`); path names the file it came from. */
void pt_config_write_effective(FILE *f, const pt_config *c, const char *path);

/* Writes the key reference as a man page (man/peertrack.conf.5). */
void pt_config_write_man(FILE *f);

/* A key that a release removed: a file that still sets it loads, and the
 * loader logs "FILE:LINE: NAME was removed in peertrack SINCE and is
 * ignored: NOTE" (pt_log_warn) instead of refusing an unknown key. */
typedef struct pt_config_removed_key {
	const char *name;
	const char *since;   /* the version that removed it */
	const char *note;    /* what to do instead */
} pt_config_removed_key;

/* The table the loader consults, terminated by a NULL name. Points at the
 * built-in table (src/base/config.c); tests point it at their own. */
extern const pt_config_removed_key *pt_config_removed;

/* The admin socket's path for c into out: admin_socket if set; else
 * $RUNTIME_DIRECTORY/admin.sock when systemd gave the process a runtime
 * directory (/run/peertrack under the shipped unit); else
 * state_dir/admin.sock. 0, or -ENAMETOOLONG (out then truncated). */
int pt_config_admin_socket(const pt_config *c, char *out, size_t outlen);

/* Splits "listen" into host and port. 0 or -EINVAL. */
int pt_config_listen_split(const char *listen, char *host, size_t hostlen, int *port);

/* Deep copy and release (the CIDR lists own memory). */
int pt_config_copy(pt_config *dst, const pt_config *src);
void pt_config_free(pt_config *c);

#endif
