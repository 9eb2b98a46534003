/* config.c — peertrackd's settings, driven by one key table.
 *
 * Every key is a row of pt_config_keys: the loader, the defaults, the
 * reload rules, the sample file (conf/peertrack.conf) and the reference
 * (docs/CONFIG.md) all read that row, so they cannot disagree. Tests
 * compare the two generated files with the table byte for byte.
 *
 * The INI syntax is inih's. We feed it lines through our own reader so we
 * know the line number of every key (Debian's inih calls handlers without
 * one), can refuse over-long lines instead of having them split, and can
 * tell a continuation line (indented) from a repeated key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <ini.h>

#include "peertrack/config.h"
#include "peertrack/iceconf.h"

/* Enum fields are stored through an int. */
_Static_assert(sizeof(enum pt_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pt_log_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pt_store_ip) == sizeof(int), "enum size");

static int check_listen(const char *v, char *err, size_t errlen);
static int check_listen_or_empty(const char *v, char *err, size_t errlen);
static int check_nonempty(const char *v, char *err, size_t errlen);
static int check_origins(const char *v, char *err, size_t errlen);
static int check_stun_urls(const char *v, char *err, size_t errlen);
static int check_turn_urls(const char *v, char *err, size_t errlen);
static int check_secret(const char *v, char *err, size_t errlen);
static int check_redis(const char *v, char *err, size_t errlen);
static int check_node(const char *v, char *err, size_t errlen);
static int check_prefix(const char *v, char *err, size_t errlen);

/* In the order of enum pt_match_strategy (match.h, a layer up; test_config
 * checks each name loads as its value). */
static const char *const strategies[] = { "proximity", "random", NULL };
static const char *const store_ips[] = { "full", "prefix", "none", NULL };

#define FIELD(name) offsetof(pt_config, name), sizeof(((pt_config *)0)->name)
#define U32(sec, name, def, lo, hi, rel, doc) \
	{ sec, #name, PT_CFG_U32, FIELD(name), def, lo, hi, NULL, rel, doc, NULL, false }
#define BOOL(sec, name, def, rel, doc) \
	{ sec, #name, PT_CFG_BOOL, FIELD(name), def, 0, 0, NULL, rel, doc, NULL, false }
#define STR(sec, name, def, rel, check, doc) \
	{ sec, #name, PT_CFG_STR, FIELD(name), def, 0, 0, NULL, rel, doc, check, false }
#define ENUM(sec, name, def, names, rel, doc) \
	{ sec, #name, PT_CFG_ENUM, FIELD(name), def, 0, 0, names, rel, doc, NULL, false }
#define CIDRS(sec, name, def, rel, doc) \
	{ sec, #name, PT_CFG_CIDRS, FIELD(name), def, 0, 0, NULL, rel, doc, NULL, false }
#define SECRET(sec, name, rel, doc) \
	{ sec, #name, PT_CFG_STR, FIELD(name), "", 0, 0, NULL, rel, doc, check_secret, true }

/* Sections in file order, with the text that introduces each. */
static const struct section {
	const char *name;
	const char *doc;
} sections[] = {
	{ "server", "Where peertrackd listens and keeps its files." },
	{ "log", "Logging goes to stderr, one line per event (journald adds the time).\n"
	         "Under systemd each line starts with its syslog priority (<3> error,\n"
	         "<4> warn, <6> info, <7> debug), so journalctl -p warning finds problems." },
	{ "limits", "Limits per connection and per message. Clients receive most of them\n"
	            "in welcome.limits (docs/PROTOCOL.md)." },
	{ "budgets", "Budgets across peers: what bounds the daemon's memory and descriptors\n"
	             "however many clients connect and whatever they send. Reaching one is\n"
	             "answered with a stable code, counted in peertrack_budget_refusals_total\n"
	             "and logged at most once a second per budget (docs/OPERATIONS.md)." },
	{ "liveness", "Heartbeats and timeouts." },
	{ "security", "Which browsers may connect, and which proxies may name the client address." },
	{ "matching", "How lookup ranks the holders of a hash, and who hears of a peer leaving." },
	{ "store", "The sqlite database state_dir/peertrack.db: sessions, per-resource counters,\n"
	           "offload reports, bans and the admin audit log (docs/OPERATIONS.md)." },
	{ "admin", "The operator's interfaces: the admin socket (peertrackctl) and the\n"
	           "/metrics and /stats.json HTTP endpoints." },
	{ "tls", "Native TLS (wss://) for deployments without a reverse proxy. SIGHUP\n"
	         "re-reads the certificate files (renewals) without dropping connections;\n"
	         "changing the paths needs a restart." },
	{ "webtorrent", "The WebTorrent tracker protocol on /announce (docs/PROTOCOL.md): limits\n"
	                "of its own. Connections, origins, per-IP limits, bans and timeouts are\n"
	                "the ones above, shared with /v1." },
	{ "ice", "STUN and TURN servers for the browsers, sent in welcome.ice_servers in the\n"
	         "shape of RTCConfiguration.iceServers, with TURN credentials that coturn checks\n"
	         "with use-auth-secret (docs/DEPLOY.md, \"NAT traversal\")." },
	{ "resume", "Resumable sessions: a peer whose connection drops keeps its id, its hashes\n"
	            "and the signals sent to it for a while (docs/PROTOCOL.md, \"Resuming\")." },
	{ "cluster", "Several nodes that behave as one tracker, sharing the index and routing\n"
	             "signals through Redis (docs/OPERATIONS.md, \"Cluster\"). Off unless\n"
	             "cluster_redis is set; then every node of the cluster names the same\n"
	             "Redis instances in the same order. The Redis link has no TLS: keep it on\n"
	             "loopback or a private network." },
};

const pt_config_key pt_config_keys[] = {
	STR("server", listen, "127.0.0.1:8000", false, check_listen,
	    "Address and port for WebSocket clients: HOST:PORT or [IPV6]:PORT.\n"
	    "Port 0 picks any free port."),
	STR("server", state_dir, "./var", false, check_nonempty,
	    "Directory for the daemon's persistent state."),
	BOOL("server", listen_share, "no", false,
	     "Share listen with the other peertrackd processes that set it too\n"
	     "(SO_REUSEPORT; same user, numeric address): the kernel spreads new\n"
	     "connections over them, one node per core (docs/DEPLOY.md, \"Several nodes\").\n"
	     "Each node needs its own state_dir, admin socket and metrics_listen. Without\n"
	     "it, a port in use is an error, even if the process holding it set this."),

	ENUM("log", log_level, "info", pt_log_level_names, true,
	     "Least severe level written."),
	ENUM("log", log_format, "text", pt_log_format_names, true,
	     "text: \"LEVEL message\" lines; json: one {\"ts\",\"level\",\"msg\"} object per line."),
	BOOL("log", log_time, "no", true,
	     "Start text lines with an ISO 8601 UTC time, for logs that journald does\n"
	     "not stamp (a plain terminal, a file)."),

	U32("limits", max_connections, "10000", 1, 1000000, true,
	    "Most WebSocket connections at once; one more is closed with 1013 (try later)."),
	U32("limits", max_connections_per_ip, "64", 1, 1000000, true,
	    "Most connections from one client address; one more is closed with 4029."),
	U32("limits", max_message_bytes, "65536", 512, 16777216, true,
	    "Largest client message, after reassembling fragments; larger closes with 1009."),
	U32("limits", max_hashes_per_message, "256", 1, 65536, true,
	    "Most hashes in one announce or withdraw (too-many-hashes)."),
	U32("limits", max_hashes_per_peer, "4096", 1, 1000000, true,
	    "Most hashes one peer may hold at once (too-many-hashes)."),
	U32("limits", max_lookup_peers, "20", 1, 1000, true,
	    "Most peers in one lookup answer; also the default of lookup.max."),
	U32("limits", max_signal_bytes, "16384", 64, 16777216, true,
	    "Largest signal.data, serialised compactly (too-large).\n"
	    "Must be less than max_message_bytes."),
	U32("limits", max_report_bytes, "1073741824", 1, 4294967295u, true,
	    "Largest from_peers, from_origin or to_peers in one report (bytes moved\n"
	    "since the client's previous report); larger is refused with bad-message.\n"
	    "Reports are self-reported by clients: offload figures are what they say."),
	U32("limits", rate_messages_per_sec, "50", 1, 1000000, true,
	    "Messages per second a peer may send, sustained; beyond that they are\n"
	    "dropped and answered with rate-limited."),
	U32("limits", rate_burst, "100", 1, 1000000, true,
	    "Messages a peer may send in a burst above the sustained rate."),
	U32("limits", rate_abuse_strikes, "50", 1, 1000000, true,
	    "Rate-limited messages within about 10 s after which the peer is closed\n"
	    "with 4001."),
	U32("limits", send_queue_max_bytes, "1048576", 4096, 1073741824, true,
	    "Most bytes queued for a slow client before it is closed with 4002."),
	U32("limits", handshake_timeout_ms, "10000", 1000, 600000, false,
	    "Time a client has to complete the WebSocket handshake (whole seconds,\n"
	    "rounded up). libwebsockets reads it once, when the server starts."),
	U32("limits", ws_rx_buffer_bytes, "1024", 256, 65536, false,
	    "libwebsockets' receive buffer, held by every connection for its whole\n"
	    "life; also the most one read() takes from a socket. 1024 keeps an idle\n"
	    "peer near 3.5 KB; 4096 costs 3 KB more per peer and relays 12-21% more\n"
	    "when clients pipeline signals: more frames for one peer per read, so\n"
	    "more per coalesced write (docs/BENCHMARKS.md). Larger messages arrive\n"
	    "in pieces and are reassembled, so this is not a message limit."),

	U32("budgets", max_index_entries, "2000000", 1, 1000000000, true,
	    "Most (peer, hash) entries in the live index, all peers together. An\n"
	    "announce that would pass it is refused with busy (nothing taken).\n"
	    "An entry costs 30-40 B, plus about 60 B per hash nobody else holds:\n"
	    "the default bounds the index near 180 MB (twice that right after a\n"
	    "table growth)."),
	U32("budgets", max_hashes_per_ip, "65536", 1, 1000000000, true,
	    "Most index entries the peers of one client address hold together\n"
	    "(too-many-hashes): one address, whatever its connections, holds at most\n"
	    "about 6 MB of index."),
	U32("budgets", max_halfopen, "1024", 1, 1000000, true,
	    "Most accepted sockets still in their handshake (TCP accepted, WebSocket\n"
	    "upgrade not complete), all addresses together; never more than the\n"
	    "descriptors left under RLIMIT_NOFILE. One more is answered 503 with\n"
	    "Retry-After and closed (clients retry: pacing), unless a handshake of\n"
	    "another address can be dropped for it (halfopen_idle_ms), the oldest\n"
	    "first. lws holds up to about 4.5 KB of header buffer per handshake."),
	U32("budgets", turn_budget_us, "5000", 0, 10000000, false,
	    "Time one turn of the event loop spends on large messages (4 KB or\n"
	    "more: announces of many hashes) before it leaves the rest for the\n"
	    "next turns, their connections' reads paused meanwhile; smaller\n"
	    "messages (signals, pings, lookups) are handled at once. The same\n"
	    "budget bounds the index entries of leaving peers a turn takes out:\n"
	    "the rest leave over the next turns, found by nobody meanwhile\n"
	    "(peertrack_leaving_peers). Bounds what a flood of large announces,\n"
	    "or its attackers leaving at once, adds to everyone's latency.\n"
	    "0: no bound."),
	U32("budgets", halfopen_idle_ms, "50", 0, 600000, true,
	    "When max_halfopen is full, a newcomer takes the place of the oldest\n"
	    "handshake of another address that is idle: nothing of it waits\n"
	    "unread and it has sent nothing for this long (a socket that never\n"
	    "sends its headers, or stops halfway). So a flood of such sockets from\n"
	    "many addresses cannot keep clients out. A client whose request waits\n"
	    "unread (a reconnect storm) is not idle and is dropped only after half\n"
	    "of handshake_timeout_ms. Longer protects clients that are idle for a\n"
	    "round trip in their TLS handshake; 0 drops any idle one."),
	U32("budgets", max_halfopen_per_ip, "32", 1, 1000000, true,
	    "Most sockets of one client address in their handshake at once; one\n"
	    "more is answered 503 with Retry-After and closed before any header is\n"
	    "read."),

	U32("liveness", heartbeat_ms, "15000", 50, 3600000, true,
	    "Clients are asked to send something at least this often when idle;\n"
	    "the server sends WebSocket pings at this interval."),
	U32("liveness", timeout_ms, "45000", 100, 86400000, true,
	    "A client silent this long is closed with 4000 and leaves the index.\n"
	    "Must be greater than heartbeat_ms."),

	STR("security", allowed_origins, "*", true, check_origins,
	    "Browser origins allowed to connect: * for any, or scheme://host[:port]\n"
	    "entries separated by blanks or commas. Others are closed with 1008.\n"
	    "An indented line continues the list."),
	BOOL("security", allow_missing_origin, "no", true,
	     "Accept clients that send no Origin header (non-browser clients such as\n"
	     "peertrack-peer)."),
	CIDRS("security", trusted_proxies, "", true,
	      "Addresses or CIDRs of reverse proxies whose X-Forwarded-For and X-Real-IP\n"
	      "headers are believed, separated by blanks or commas. Empty: none.\n"
	      "An indented line continues the list."),

	ENUM("matching", match_strategy, "proximity", strategies, true,
	     "proximity: closest network first, then least recently handed out, then\n"
	     "random; random: random order only."),
	U32("matching", match_sample, "64", 1, 65536, true,
	    "Most holders ranked per lookup; above that, a uniform random sample of\n"
	    "this size is ranked."),
	U32("matching", match_half_life_ms, "30000", 1, 86400000, true,
	    "Half-life of the per-peer hand-out counter that spreads load over seeders."),
	U32("matching", peer_left_window_ms, "60000", 0, 86400000, true,
	    "peer-left goes to peers that exchanged a signal with the leaver within\n"
	    "this time. 0 turns peer-left off."),
	U32("matching", recent_contacts, "16", 0, 256, true,
	    "Signal contacts remembered per peer for peer-left. 0 turns peer-left off."),
	U32("matching", bad_peer_reports, "3", 1, 64, true,
	    "A hash is withdrawn from a peer once this many different networks (an\n"
	    "IPv4 address, an IPv6 /64) reported, with bad-peer, that it served bytes\n"
	    "not matching that hash. A report counts only from a peer that signalled\n"
	    "with it within peer_left_window_ms (so recent_contacts 0 ignores them)."),
	U32("matching", bad_peer_max_reports, "32", 1, 1024, true,
	    "Most (hash, network) reports kept against one peer, for as long as its\n"
	    "connection lives; past that, each new report replaces the oldest."),

	U32("store", store_flush_ms, "1000", 10, 60000, false,
	    "Events are batched in memory and committed by a writer thread at least\n"
	    "this often (and on shutdown). A crash loses at most this much."),
	ENUM("store", store_ip, "prefix", store_ips, true,
	     "Client address kept with each session: prefix (the /24 of IPv4, the /48\n"
	     "of IPv6: enough to see networks and abuse, not to name a visitor); full;\n"
	     "none. Kept for store_retention_days."),
	U32("store", store_retention_days, "30", 1, 36500, false,
	    "Sessions, reports, counters and audit entries older than this are pruned."),
	U32("store", store_cache_kib, "256", 64, 1048576, false,
	    "Page cache of the store's sqlite connection (PRAGMA cache_size). The\n"
	    "writer touches recent rows only; a larger cache is daemon memory that\n"
	    "buys little."),
	U32("store", store_queue_max, "100000", 1000, 10000000, false,
	    "Events waiting for the writer (about 120 B each: the default holds\n"
	    "about 12 MB). Resource counters may use three quarters of it and\n"
	    "offload reports seven eighths, so sessions, bans and audit entries keep\n"
	    "room when a flood fills it; a report that finds no room is answered\n"
	    "busy instead of an ack."),
	U32("store", store_max_resources, "100000", 100, 100000000, false,
	    "Most rows in the resources table (per-hash counters); the least\n"
	    "recently updated go first. A row takes about 200 B on disk with its\n"
	    "indexes: the default bounds the table near 20 MB. Only hashes that\n"
	    "someone holds get a row."),
	U32("store", store_rows_per_peer_per_min, "600", 0, 1000000, true,
	    "Resource counter updates one peer may cause per minute (a burst of as\n"
	    "many, refilled evenly); beyond that its announces and lookups are\n"
	    "still answered but not counted in the store. 0: none are counted."),

	STR("admin", admin_socket, "", false, NULL,
	    "Unix socket of the admin interface (mode 0660), JSON lines. Empty: in\n"
	    "the runtime directory systemd gives the service (RuntimeDirectory=,\n"
	    "/run/peertrack/admin.sock under the shipped unit), else\n"
	    "state_dir/admin.sock. Never exposed on TCP."),
	CIDRS("admin", metrics_allow, "127.0.0.0/8 ::1", true,
	      "Addresses or CIDRs that may read /metrics and /stats.json (judged on the\n"
	      "TCP peer address, never on proxy headers); others get 403."),
	STR("admin", metrics_listen, "", false, check_listen_or_empty,
	    "A second, plain-HTTP listener of this node alone: /metrics, /stats.json,\n"
	    "/healthz and /readyz, never WebSocket (HOST:PORT or [IPV6]:PORT; port 0\n"
	    "picks a free one). Empty: none, they are served on listen. Give each node\n"
	    "its own when nodes share listen (listen_share): there a scrape reaches any one."),

	STR("tls", tls_cert, "", false, NULL,
	    "PEM certificate chain (leaf first, e.g. certbot's fullchain.pem). Set\n"
	    "together with tls_key to serve wss:// and https:// on listen. Empty: plain."),
	STR("tls", tls_key, "", false, NULL,
	    "PEM private key of tls_cert (e.g. certbot's privkey.pem)."),
	STR("tls", tls_ca, "", false, NULL,
	    "PEM CA certificates for mutual TLS: when set, every client must present\n"
	    "a certificate issued by one of them. Empty: no client certificates."),

	U32("webtorrent", wt_max_message_bytes, "65536", 65536, 16777216, true,
	    "Largest /announce message, after reassembling fragments; larger closes\n"
	    "with 1009. At least 64 KiB: clients send several full SDP offers at once."),
	U32("webtorrent", wt_max_offers, "10", 0, 100, true,
	    "Most offers in one announce (bittorrent-tracker and p2p-media-loader send\n"
	    "5); more is refused with a failure reason."),
	U32("webtorrent", wt_max_offer_bytes, "16384", 256, 1048576, true,
	    "Largest offer or answer value, serialised compactly; larger is refused."),
	U32("webtorrent", wt_max_peers, "10", 1, 100, true,
	    "Most peers of a swarm one announce reaches: its offers go to at most this\n"
	    "many peers, chosen like /v1 lookups (match_strategy)."),
	U32("webtorrent", wt_max_swarms_per_connection, "64", 1, 65536, true,
	    "Most (info_hash, peer_id) pairs one connection may announce at once;\n"
	    "more is refused with a failure reason."),
	U32("webtorrent", wt_max_scrape_hashes, "64", 1, 4096, true,
	    "Most info_hashes in one scrape."),
	U32("webtorrent", wt_rate_messages_per_sec, "10", 1, 1000000, true,
	    "Messages (announces, answers, scrapes) per second one connection may send,\n"
	    "sustained; beyond that they are refused with a failure reason, and a\n"
	    "connection that keeps on (rate_abuse_strikes) is closed with 4001."),
	U32("webtorrent", wt_rate_burst, "60", 1, 1000000, true,
	    "Messages one connection may send in a burst above the sustained rate."),
	U32("webtorrent", wt_offer_ttl_ms, "50000", 1000, 600000, true,
	    "An answer is routed only to an offer relayed to its sender within this\n"
	    "time (the reference client gives up on an offer after 50 s)."),
	U32("webtorrent", wt_max_pending_offers, "262144", 16, 16777216, true,
	    "Most relayed offers remembered for answers, server-wide (about 150 bytes\n"
	    "each); past it the oldest are forgotten."),
	U32("webtorrent", wt_interval_s, "120", 10, 86400, true,
	    "Re-announce interval sent in every announce response (the reference\n"
	    "server's 120 s); clients without one re-announce every 30 s."),
	BOOL("webtorrent", wt_allowlist, "no", true,
	    "A private tracker: announces of an info_hash that is not on the\n"
	    "allow-list (peertrackctl allow / disallow / allowed, kept in the store)\n"
	    "are refused with the failure reason \"info_hash not allowed on this\n"
	    "tracker\". Off: every info_hash is served."),
	U32("webtorrent", wt_max_allowed, "1000000", 1, 100000000, true,
	    "Most info_hashes on the allow-list (20 bytes each in memory); peertrackctl\n"
	    "allow refuses more. Lowering it removes nothing already listed."),

	STR("ice", stun_urls, "", true, check_stun_urls,
	    "STUN servers: stun:HOST[:PORT] or stuns:HOST[:PORT], separated by blanks\n"
	    "or commas. Empty: none. An indented line continues the list."),
	STR("ice", turn_urls, "", true, check_turn_urls,
	    "TURN servers: turn:HOST[:PORT][?transport=udp|tcp] or turns:..., separated\n"
	    "by blanks or commas; they share one credential. Empty: none. Needs\n"
	    "turn_secret or turn_secret_file. An indented line continues the list."),
	SECRET("ice", turn_secret, true,
	       "coturn's static-auth-secret, inline. One or two, blank-separated: the\n"
	       "first signs new credentials; a second (the one being rotated out, which\n"
	       "coturn still accepts) is only counted. Never logged or printed. Prefer\n"
	       "turn_secret_file: this file is often readable by others."),
	STR("ice", turn_secret_file, "", true, NULL,
	    "File holding the secret(s) as turn_secret does (blank- or line-separated).\n"
	    "Must be a regular file that neither group nor others may read (chmod 600);\n"
	    "re-read on SIGHUP, so a rotation needs no restart."),
	U32("ice", turn_credential_ttl_s, "86400", 60, 2592000, true,
	    "Lifetime of a TURN credential; the username is \"<now + this>:<client id>\".\n"
	    "Clients renew before it ends with refresh-ice."),

	U32("resume", resume_window_ms, "30000", 0, 3600000, true,
	    "How long a peer whose connection dropped (no close frame, or timed out)\n"
	    "stays resumable: not offered in lookups, signals to it held, peer-left\n"
	    "only when this ends without a resume. 0 turns resuming off."),
	U32("resume", resume_max_sessions, "10000", 0, 1000000, true,
	    "Most peers resumable at once; the oldest is given up (peer-left) to make\n"
	    "room, so a reconnect storm cannot exhaust memory. They count towards\n"
	    "max_connections while they wait."),
	U32("resume", resume_max_held_signals, "32", 0, 65536, true,
	    "Most frames (signals, peer-left) held for one resumable peer; a signal\n"
	    "past it is answered with peer-gone."),
	U32("resume", resume_max_held_bytes, "16384", 0, 16777216, true,
	    "Most bytes held for one resumable peer, likewise. A handshake's offer or\n"
	    "answer and its candidates take 2-5 KB."),

	STR("cluster", cluster_redis, "", false, check_redis,
	    "Redis instances of the cluster: HOST:PORT[,HOST:PORT...] (IP addresses).\n"
	    "Empty: one process, no Redis. The first also carries the node registry and\n"
	    "the signal routing; the index is spread over all of them by a jump\n"
	    "consistent hash of the resource hash, so every node must list the same\n"
	    "instances in the same order."),
	STR("cluster", cluster_node, "", false, check_node,
	    "This node's tag: 2 characters of A-Z a-z 0-9 - _, the first two of every\n"
	    "id the node assigns (the other 132 bits stay random). Empty: a random tag;\n"
	    "a tag another live node holds is refused at registration (logged)."),
	STR("cluster", cluster_redis_user, "", false, NULL,
	    "Redis ACL user for AUTH; empty: AUTH with the password alone (requirepass)."),
	STR("cluster", cluster_redis_password_file, "", false, NULL,
	    "File holding the Redis password (first line). Must be a regular file that\n"
	    "neither group nor others may read (chmod 600). Empty: no AUTH."),
	STR("cluster", cluster_prefix, "pt:", false, check_prefix,
	    "Prefix of every Redis key and channel, so clusters can share an instance."),
	U32("cluster", cluster_timeout_ms, "1000", 10, 60000, false,
	    "Longest wait for a Redis reply (and for connect + AUTH); past it the link\n"
	    "is dropped, every request on it fails and it reconnects."),
	U32("cluster", cluster_max_pending, "10000", 16, 1000000, false,
	    "Most requests in flight on one Redis link; past it cross-node operations\n"
	    "are refused (signals answer unavailable) instead of queueing."),
	U32("cluster", cluster_publish_linger_us, "500", 0, 100000, false,
	    "Longest a message to another node's peer (signal, peer-left, kick) waits\n"
	    "for more to the same node, so several leave in one Redis PUBLISH: Redis and\n"
	    "both nodes then wake once per batch, not once per message, which is most of\n"
	    "a cross-node signal's CPU at moderate rates. It adds at most this much to a\n"
	    "cross-node signal's latency. 0: every message is its own PUBLISH at once\n"
	    "(set 0 on every node while a rolling upgrade still runs nodes without\n"
	    "batches: they cannot read them)."),
	U32("cluster", cluster_publish_batch_bytes, "16384", 64, 1048576, false,
	    "A batch to one node leaves as soon as it holds this many bytes, whatever\n"
	    "the linger; a larger message leaves alone."),
	U32("cluster", cluster_heartbeat_ms, "2000", 100, 60000, false,
	    "How often the node tells the registry it is alive and reads the others."),
	U32("cluster", cluster_dead_ms, "6000", 300, 600000, false,
	    "A node not heard of for this long is dead: lookups drop its peers, signals\n"
	    "to them answer peer-gone, a survivor purges its index entries. More than\n"
	    "twice cluster_heartbeat_ms."),
	U32("cluster", cluster_entry_ttl_ms, "60000", 1000, 86400000, false,
	    "Lifetime of a (peer, hash) entry in Redis; the node refreshes its peers'\n"
	    "entries every third of it, so entries of a vanished node age out."),
	U32("cluster", cluster_lookup_sample, "64", 1, 1024, false,
	    "Remote holders a lookup reads from Redis (a random sample when more hold\n"
	    "the hash); they are ranked with the local ones by proximity."),
	U32("cluster", cluster_lookup_cache_ms, "250", 0, 60000, false,
	    "How long a node reuses the remote sample of a hash that has at least\n"
	    "cluster_lookup_sample holders elsewhere, instead of asking Redis on every\n"
	    "lookup (a hot hash's answer is a random sample anyway). Holders of nodes\n"
	    "that die meanwhile are dropped at once; new remote holders of such a hash\n"
	    "show up within this time. 0: every lookup asks Redis."),
	U32("cluster", cluster_lookup_cache_slots, "1024", 1, 65536, false,
	    "Hashes whose remote sample a node keeps at once (a direct-mapped table,\n"
	    "about cluster_lookup_sample x 36 bytes per slot used)."),
	U32("cluster", cluster_count_refresh_ms, "250", 0, 60000, false,
	    "/announce complete/incomplete counts across nodes: how often a node writes\n"
	    "the counts of its swarms that changed to Redis, and how old the other\n"
	    "nodes' counts it answers with may grow before it reads them again (a\n"
	    "swarm not read yet, or Redis down, answers this node's peers only). 0:\n"
	    "every node counts its own peers only, nothing written or read."),
	U32("cluster", cluster_count_cache_slots, "4096", 1, 1048576, false,
	    "Swarms whose other nodes' counts a node keeps at once (a direct-mapped\n"
	    "table of 72 bytes per slot)."),
	U32("cluster", cluster_count_reads_per_sec, "2000", 1, 1000000, false,
	    "Most reads of other nodes' swarm counts a node sends Redis per second\n"
	    "(a token bucket of as many): a swarm asked about past it answers with\n"
	    "its last sum while young enough, else with this node's peers only, so a\n"
	    "flood of scrapes of random info_hashes costs Redis a bounded rate."),
	U32("cluster", cluster_batch, "256", 1, 65536, false,
	    "Index entries per Redis request when the node re-announces (after a\n"
	    "reconnect, and for the periodic refresh) and keys per purge step."),
	U32("cluster", cluster_reconnect_min_ms, "100", 10, 60000, false,
	    "First wait before reconnecting to Redis; it doubles per failure (with\n"
	    "jitter) up to cluster_reconnect_max_ms."),
	U32("cluster", cluster_reconnect_max_ms, "5000", 10, 600000, false,
	    "Longest wait between reconnection attempts."),
	U32("cluster", cluster_probe_ms, "3000", 100, 600000, false,
	    "After this long without a message on the node's inbox, the node publishes\n"
	    "a probe to itself; if it does not come back within cluster_timeout_ms the\n"
	    "subscription is stale and is made again."),
};

const size_t pt_config_nkeys = sizeof(pt_config_keys) / sizeof(pt_config_keys[0]);

/* Keys a release has removed, newest first: { "name", "VERSION", "what to do
 * instead" }. A file that still sets one loads with a warning instead of
 * failing on an unknown key, so a config written for an older version keeps
 * starting after an upgrade. A key stays here for good. */
static const pt_config_removed_key removed_keys[] = {
	{ NULL, NULL, NULL }
};
const pt_config_removed_key *pt_config_removed = removed_keys;

static const pt_config_removed_key *find_removed(const char *name)
{
	for (const pt_config_removed_key *r = pt_config_removed; r && r->name; r++)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

static const char *const bool_true[] = { "yes", "true", "on", "1", NULL };
static const char *const bool_false[] = { "no", "false", "off", "0", NULL };

static const pt_config_key *find_key(const char *name)
{
	for (size_t i = 0; i < pt_config_nkeys; i++)
		if (strcmp(pt_config_keys[i].name, name) == 0)
			return &pt_config_keys[i];
	return NULL;
}

static bool known_section(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strlen(sections[i].name) == len && memcmp(sections[i].name, name, len) == 0)
			return true;
	return false;
}

static int name_index(const char *const *names, const char *v)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	return -1;
}

/* Writes names as "a|b|c". */
static void join_names(const char *const *names, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; names[i] && used < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s", i ? "|" : "", names[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Decimal digits only: no sign, no blanks, no junk. -1 not a number,
 * -2 above UINT32_MAX. */
static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	bool big = false;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (!big) {
			v = v * 10 + (uint64_t)(*s - '0');
			big = v > UINT32_MAX;
		}
	}
	if (big)
		return -2;
	*out = (uint32_t)v;
	return 0;
}

static void *field(pt_config *c, const pt_config_key *k)
{
	return (char *)c + k->offset;
}

static const void *cfield(const pt_config *c, const pt_config_key *k)
{
	return (const char *)c + k->offset;
}

/* Sets one key from its text; err says what is wrong, without the key. */
static int set_value(pt_config *c, const pt_config_key *k, const char *v, char *err,
                     size_t errlen)
{
	char names[128];

	switch (k->type) {
	case PT_CFG_U32: {
		uint32_t n = 0;
		int r = parse_u32(v, &n);
		if (r == -1) {
			snprintf(err, errlen, "'%s' is not a number", v);
			return -1;
		}
		if (r == -2 || n < k->min || n > k->max) {
			snprintf(err, errlen, "%s is out of range %u..%u", v, k->min, k->max);
			return -1;
		}
		memcpy(field(c, k), &n, sizeof(n));
		return 0;
	}
	case PT_CFG_BOOL: {
		bool b;
		if (name_index(bool_true, v) >= 0) {
			b = true;
		} else if (name_index(bool_false, v) >= 0) {
			b = false;
		} else {
			snprintf(err, errlen, "'%s' is not one of yes|no|true|false|on|off|1|0", v);
			return -1;
		}
		memcpy(field(c, k), &b, sizeof(b));
		return 0;
	}
	case PT_CFG_ENUM: {
		int i = name_index(k->enums, v);
		if (i < 0) {
			join_names(k->enums, names, sizeof(names));
			snprintf(err, errlen, "'%s' is not one of %s", v, names);
			return -1;
		}
		memcpy(field(c, k), &i, sizeof(i));
		return 0;
	}
	case PT_CFG_STR: {
		size_t len = strlen(v);
		if (len >= k->size) {
			snprintf(err, errlen, "value is longer than %zu bytes", k->size - 1);
			return -1;
		}
		if (k->check && k->check(v, err, errlen) < 0)
			return -1;
		memcpy(field(c, k), v, len + 1);
		return 0;
	}
	case PT_CFG_CIDRS: {
		pt_cidr_list l = { NULL, 0 };
		const char *at = NULL;
		size_t at_len = 0;
		if (v[strspn(v, " \t,")] != '\0') {
			int r = pt_cidr_list_parse(v, &l, &at, &at_len);
			if (r == -ENOMEM) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			if (r < 0) {
				if (at)
					snprintf(err, errlen, "'%.*s' is not an address or CIDR",
					         (int)at_len, at);
				else
					snprintf(err, errlen, "'%s' is not a list of addresses or CIDRs", v);
				return -1;
			}
		}
		pt_cidr_list *dst = field(c, k);
		pt_cidr_list_free(dst);
		*dst = l;
		return 0;
	}
	}
	snprintf(err, errlen, "unsupported key type");
	return -1;
}

void pt_config_defaults(pt_config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < pt_config_nkeys; i++)
		if (set_value(c, &pt_config_keys[i], pt_config_keys[i].def, err, sizeof(err)) < 0)
			abort(); /* a bad default is a bug, caught by test_config */
}

int pt_config_set(pt_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const pt_config_key *k = find_key(key);
	char why[256];

	if (!k) {
		snprintf(err, errlen, "%s: unknown key", key);
		return -1;
	}
	if (set_value(c, k, value, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", key, why);
		return -1;
	}
	return 0;
}

/* ---- the INI loader ------------------------------------------------------ */

struct load {
	pt_config *c;
	const char *path;
	FILE *f;
	char *line;     /* getline buffer */
	size_t cap;
	int lineno;     /* of the line inih is working on */
	bool indented;  /* that line starts with a blank: a continuation */
	int err_line;   /* first error found by us (0: none) */
	char err[256];
	int set_on[sizeof(pt_config_keys) / sizeof(pt_config_keys[0])]; /* line, 0 = not yet */
	const pt_config_key *last;  /* key of the previous key line */
	char *acc;                  /* its value so far, for continuations */
};

static void fail(struct load *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct load *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->err_line)
		return;
	ld->err_line = ld->lineno;
	va_start(ap, fmt);
	vsnprintf(ld->err, sizeof(ld->err), fmt, ap);
	va_end(ap);
}

/* inih's fgets-style reader: one whole line, or stop. */
static char *read_line(char *str, int num, void *stream)
{
	struct load *ld = stream;

	if (ld->err_line)
		return NULL; /* first error wins; stop reading */
	ssize_t n = getline(&ld->line, &ld->cap, ld->f);
	if (n < 0)
		return NULL;
	ld->lineno++;
	if (memchr(ld->line, '\0', (size_t)n)) {
		fail(ld, "NUL byte in line");
		return NULL;
	}
	/* inih needs room for "\r\n\0" after the text. */
	if (n > num - 3) {
		fail(ld, "line is longer than %d bytes", num - 3);
		return NULL;
	}
	memcpy(str, ld->line, (size_t)n + 1);
	ld->indented = n > 0 && (str[0] == ' ' || str[0] == '\t');

	/* Check section names here: inih only reports sections with keys. */
	const char *s = str + strspn(str, " \t");
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (end && !known_section(s + 1, (size_t)(end - s - 1)))
			fail(ld, "unknown section [%.*s]", (int)(end - s - 1), s + 1);
	}
	return str;
}

/* Keys whose value is a blank- or comma-separated list. */
static bool is_list(const pt_config_key *k)
{
	return k->type == PT_CFG_CIDRS || k->check == check_origins || k->check == check_stun_urls ||
	       k->check == check_turn_urls;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	char why[200];

	if (ld->err_line)
		return 0;
	if (*section && !known_section(section, strlen(section))) {
		fail(ld, "unknown section [%s]", section);
		return 0;
	}
	if (ld->indented) {
		/* inih joins an indented line to the previous key. Only lists may
		 * go on, so a stray indent cannot silently change a number. */
		const pt_config_key *k = ld->last;
		if (!k || !is_list(k)) {
			fail(ld, "indented line: only lists may continue on the next line");
			return 0;
		}
		size_t a = strlen(ld->acc), b = strlen(value);
		char *acc = realloc(ld->acc, a + b + 2);
		if (!acc) {
			fail(ld, "out of memory");
			return 0;
		}
		acc[a] = ' ';
		memcpy(acc + a + 1, value, b + 1);
		ld->acc = acc;
		if (set_value(ld->c, k, acc, why, sizeof(why)) < 0) {
			fail(ld, "%s: %s", k->name, why);
			return 0;
		}
		return 1;
	}

	const pt_config_key *k = find_key(name);
	if (!k) {
		const pt_config_removed_key *r = find_removed(name);
		if (!r) {
			fail(ld, "unknown key '%s'", name);
			return 0;
		}
		pt_log_warn("%s:%d: %s was removed in peertrack %s and is ignored: %s", ld->path,
		            ld->lineno, name, r->since, r->note);
		ld->last = NULL;
		return 1;
	}
	size_t i = (size_t)(k - pt_config_keys);
	if (ld->set_on[i]) {
		fail(ld, "%s: already set on line %d", name, ld->set_on[i]);
		return 0;
	}
	ld->set_on[i] = ld->lineno;
	if (set_value(ld->c, k, value, why, sizeof(why)) < 0) {
		fail(ld, "%s: %s", name, why);
		return 0;
	}
	free(ld->acc);
	ld->acc = strdup(value);
	if (!ld->acc) {
		fail(ld, "out of memory");
		return 0;
	}
	ld->last = k;
	return 1;
}

int pt_config_load(pt_config *c, const char *path, char *err, size_t errlen)
{
	struct load ld = { .c = c, .path = path };

	ld.f = fopen(path, "r");
	if (!ld.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int r = ini_parse_stream(read_line, &ld, on_key, &ld);
	bool io_error = ferror(ld.f);
	fclose(ld.f);
	free(ld.line);
	free(ld.acc);

	if (r > 0 && (!ld.err_line || r < ld.err_line)) {
		snprintf(err, errlen, "%s:%d: syntax error: expected 'key = value' or '[section]'",
		         path, r);
		return -1;
	}
	if (ld.err_line) {
		snprintf(err, errlen, "%s:%d: %s", path, ld.err_line, ld.err);
		return -1;
	}
	if (r < 0 || io_error) {
		snprintf(err, errlen, "%s: read error", path);
		return -1;
	}
	return 0;
}

/* ---- value checks -------------------------------------------------------- */

int pt_config_listen_split(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *h, *colon;
	size_t hlen;

	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		h = listen;
		hlen = (size_t)(colon - listen);
		if (memchr(h, ':', hlen)) /* a bare IPv6 address needs brackets */
			return -EINVAL;
	}
	if (hlen == 0 || hlen >= hostlen)
		return -EINVAL;
	for (size_t i = 0; i < hlen; i++)
		if (h[i] == ' ' || h[i] == '\t' || h[i] == '[' || h[i] == ']' || h[i] == '/')
			return -EINVAL;

	const char *p = colon + 1;
	long v = 0;
	if (!*p || strlen(p) > 5)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)v;
	return 0;
}

static int check_listen(const char *v, char *err, size_t errlen)
{
	char host[PT_CONFIG_STR];
	int port;

	if (pt_config_listen_split(v, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "'%s' is not HOST:PORT or [IPV6]:PORT (port 0..65535)", v);
		return -1;
	}
	return 0;
}

static int check_listen_or_empty(const char *v, char *err, size_t errlen)
{
	return *v ? check_listen(v, err, errlen) : 0;
}

static int check_nonempty(const char *v, char *err, size_t errlen)
{
	if (!*v) {
		snprintf(err, errlen, "must not be empty");
		return -1;
	}
	return 0;
}

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* "*" or scheme://host[:port], lowercase as browsers send it, so a
 * byte comparison with the Origin header is right. */
static bool origin_ok(const char *s, size_t len)
{
	const char *end = s + len, *p = s;

	if (len == 1 && *s == '*')
		return true;
	if (p == end || *p < 'a' || *p > 'z')
		return false;
	while (p < end && (is_lower_alnum(*p) || *p == '+' || *p == '-' || *p == '.'))
		p++;
	if (end - p < 3 || memcmp(p, "://", 3) != 0)
		return false;
	p += 3;
	const char *host = p;
	if (p < end && *p == '[') {
		while (p < end && *p != ']') {
			if (!(is_lower_alnum(*p) || *p == ':' || *p == '.' || *p == '['))
				return false;
			p++;
		}
		if (p == end || p - host < 3)
			return false;
		p++;
	} else {
		while (p < end && (is_lower_alnum(*p) || *p == '-' || *p == '.'))
			p++;
		if (p == host)
			return false;
	}
	if (p == end)
		return true;
	if (*p++ != ':' || p == end || end - p > 5)
		return false;
	long port = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (*p - '0');
	}
	return port >= 1 && port <= 65535;
}

static int check_origins(const char *v, char *err, size_t errlen)
{
	const char *p = v;

	for (;;) {
		p += strspn(p, " \t,");
		if (!*p)
			return 0;
		size_t n = strcspn(p, " \t,");
		if (!origin_ok(p, n)) {
			snprintf(err, errlen, "'%.*s' is not * or a lowercase scheme://host[:port]",
			         (int)n, p);
			return -1;
		}
		p += n;
	}
}

/* One checker for both URL lists: scheme, host[:port], TURN's transport
 * (RFC 7064, 7065). The URL is echoed in the error: it is no secret. */
static int check_urls(const char *v, int turn, char *err, size_t errlen)
{
	const char *p = v;

	for (;;) {
		p += strspn(p, " \t,");
		if (!*p)
			return 0;
		size_t n = strcspn(p, " \t,");
		if (pt_ice_url_check(p, n, turn, err, errlen))
			return -1;
		p += n;
	}
}

static int check_stun_urls(const char *v, char *err, size_t errlen)
{
	return check_urls(v, 0, err, errlen);
}

static int check_turn_urls(const char *v, char *err, size_t errlen)
{
	return check_urls(v, 1, err, errlen);
}

/* Says what is wrong without quoting a byte of the value. */
static int check_secret(const char *v, char *err, size_t errlen)
{
	char s[PT_SECRETS_MAX][PT_SECRET_MAX + 1];
	size_t len[PT_SECRETS_MAX];
	unsigned n;
	int r = *v ? pt_secrets_split(v, strlen(v), s, len, &n, err, errlen) : 0;

	memset(s, 0, sizeof(s)); /* not OPENSSL_cleanse: the base layer has no OpenSSL */
	__asm__ __volatile__("" : : "r"(s) : "memory");
	return r;
}

int pt_config_validate(const pt_config *c, char *err, size_t errlen)
{
	char why[256];

	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		if (k->type == PT_CFG_U32) {
			uint32_t v;
			memcpy(&v, cfield(c, k), sizeof(v));
			if (v < k->min || v > k->max) {
				snprintf(err, errlen, "%s: %u is out of range %u..%u", k->name, v, k->min,
				         k->max);
				return -1;
			}
		} else if (k->type == PT_CFG_ENUM) {
			int v, n = 0;
			memcpy(&v, cfield(c, k), sizeof(v));
			while (k->enums[n])
				n++;
			if (v < 0 || v >= n) {
				snprintf(err, errlen, "%s: %d is not a valid value", k->name, v);
				return -1;
			}
		} else if (k->type == PT_CFG_STR) {
			const char *s = cfield(c, k);
			if (!memchr(s, '\0', k->size)) {
				snprintf(err, errlen, "%s: not NUL-terminated", k->name);
				return -1;
			}
			if (k->check && k->check(s, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "%s: %s", k->name, why);
				return -1;
			}
		}
	}
	if (c->timeout_ms <= c->heartbeat_ms) {
		snprintf(err, errlen, "timeout_ms (%u) must be greater than heartbeat_ms (%u)",
		         c->timeout_ms, c->heartbeat_ms);
		return -1;
	}
	if (c->max_signal_bytes >= c->max_message_bytes) {
		snprintf(err, errlen, "max_signal_bytes (%u) must be less than max_message_bytes (%u)",
		         c->max_signal_bytes, c->max_message_bytes);
		return -1;
	}
	if (!c->tls_cert[0] != !c->tls_key[0]) {
		snprintf(err, errlen, "tls_cert and tls_key must be set together");
		return -1;
	}
	if (c->tls_ca[0] && !c->tls_cert[0]) {
		snprintf(err, errlen, "tls_ca needs tls_cert and tls_key");
		return -1;
	}
	if (c->turn_secret[0] && c->turn_secret_file[0]) {
		snprintf(err, errlen, "turn_secret and turn_secret_file: set one, not both");
		return -1;
	}
	if (c->turn_urls[strspn(c->turn_urls, " \t,")] && !c->turn_secret[0] && !c->turn_secret_file[0]) {
		snprintf(err, errlen, "turn_urls needs turn_secret or turn_secret_file");
		return -1;
	}
	if (c->cluster_dead_ms <= 2 * c->cluster_heartbeat_ms) {
		snprintf(err, errlen, "cluster_dead_ms (%u) must be more than twice cluster_heartbeat_ms (%u)",
		         c->cluster_dead_ms, c->cluster_heartbeat_ms);
		return -1;
	}
	if (c->cluster_reconnect_max_ms < c->cluster_reconnect_min_ms) {
		snprintf(err, errlen, "cluster_reconnect_max_ms must be at least cluster_reconnect_min_ms");
		return -1;
	}
	return 0;
}

/* "HOST:PORT[,HOST:PORT...]", at most PT_CONFIG_REDIS_MAX of them. */
static int check_redis(const char *v, char *err, size_t errlen)
{
	int n = 0;

	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ", \t");
		char one[PT_CONFIG_STR], host[PT_CONFIG_STR];
		int port;

		if (len) {
			if (len >= sizeof(one) || ++n > PT_CONFIG_REDIS_MAX) {
				snprintf(err, errlen, "at most %d instances of HOST:PORT", PT_CONFIG_REDIS_MAX);
				return -1;
			}
			memcpy(one, p, len);
			one[len] = '\0';
			if (pt_config_listen_split(one, host, sizeof(host), &port) < 0 || port == 0) {
				snprintf(err, errlen, "'%s' is not HOST:PORT", one);
				return -1;
			}
		}
		p += len;
		p += strspn(p, ", \t");
	}
	return 0;
}

static int check_node(const char *v, char *err, size_t errlen)
{
	if (!*v)
		return 0;
	if (strlen(v) != 2 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                "0123456789-_") != 2) {
		snprintf(err, errlen, "'%s' is not 2 characters of A-Z a-z 0-9 - _", v);
		return -1;
	}
	return 0;
}

static int check_prefix(const char *v, char *err, size_t errlen)
{
	if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:.{}") !=
	    strlen(v)) {
		snprintf(err, errlen, "'%s': use letters, digits and - _ : . { } only", v);
		return -1;
	}
	return 0;
}

/* ---- copy, reload, free -------------------------------------------------- */

static int cidrs_dup(pt_cidr_list *dst, const pt_cidr_list *src)
{
	dst->v = NULL;
	dst->n = 0;
	if (!src->n)
		return 0;
	dst->v = malloc(src->n * sizeof(*src->v));
	if (!dst->v)
		return -ENOMEM;
	memcpy(dst->v, src->v, src->n * sizeof(*src->v));
	dst->n = src->n;
	return 0;
}

static bool cidrs_equal(const pt_cidr_list *a, const pt_cidr_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].prefix != b->v[i].prefix || !pt_addr_equal(&a->v[i].net, &b->v[i].net))
			return false;
	return true;
}

static bool value_equal(const pt_config *a, const pt_config *b, const pt_config_key *k)
{
	switch (k->type) {
	case PT_CFG_STR:
		return strcmp(cfield(a, k), cfield(b, k)) == 0;
	case PT_CFG_CIDRS:
		return cidrs_equal(cfield(a, k), cfield(b, k));
	default:
		return memcmp(cfield(a, k), cfield(b, k), k->size) == 0;
	}
}

void pt_config_free(pt_config *c)
{
	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		if (k->type == PT_CFG_CIDRS) {
			pt_cidr_list *l = field(c, k);
			pt_cidr_list_free(l);
			l->v = NULL;
			l->n = 0;
		}
	}
}

int pt_config_copy(pt_config *dst, const pt_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		if (k->type == PT_CFG_CIDRS) {
			pt_cidr_list *l = field(dst, k);
			l->v = NULL;
			l->n = 0;
		}
	}
	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		if (k->type == PT_CFG_CIDRS && cidrs_dup(field(dst, k), cfield(src, k)) < 0) {
			pt_config_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int pt_config_reload(pt_config *live, const pt_config *fresh, char *changed, size_t changedlen)
{
	int n_changed = 0;
	size_t used = 0;

	if (changed && changedlen)
		changed[0] = '\0';
	/* Allocate first, so a failure leaves live untouched. */
	pt_cidr_list lists[4];
	size_t nl = 0;
	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		if (k->type != PT_CFG_CIDRS || !k->reloadable)
			continue;
		if (nl == sizeof(lists) / sizeof(lists[0]) || cidrs_dup(&lists[nl], cfield(fresh, k)) < 0) {
			while (nl--)
				pt_cidr_list_free(&lists[nl]);
			return -ENOMEM;
		}
		nl++;
	}
	nl = 0;

	for (size_t i = 0; i < pt_config_nkeys; i++) {
		const pt_config_key *k = &pt_config_keys[i];
		if (k->reloadable) {
			if (k->type == PT_CFG_CIDRS) {
				pt_cidr_list *l = field(live, k);
				pt_cidr_list_free(l);
				*l = lists[nl++];
			} else {
				memcpy(field(live, k), cfield(fresh, k), k->size);
			}
			continue;
		}
		if (value_equal(live, fresh, k))
			continue;
		n_changed++;
		if (changed && used < changedlen) {
			int w = snprintf(changed + used, changedlen - used, "%s%s",
			                 n_changed > 1 ? ", " : "", k->name);
			if (w > 0)
				used += (size_t)w;
		}
	}
	return n_changed;
}

/* ---- derived values ------------------------------------------------------ */

int pt_config_admin_socket(const pt_config *c, char *out, size_t outlen)
{
	/* systemd exports RuntimeDirectory= as a colon-separated list of
	 * absolute paths; the first is the service's own. */
	const char *rt = getenv("RUNTIME_DIRECTORY");
	int n;

	if (c->admin_socket[0])
		n = snprintf(out, outlen, "%s", c->admin_socket);
	else if (rt && rt[0] == '/')
		n = snprintf(out, outlen, "%.*s/admin.sock", (int)strcspn(rt, ":"), rt);
	else
		n = snprintf(out, outlen, "%s/admin.sock", c->state_dir);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* ---- generated documentation --------------------------------------------- */

/* Writes each line of doc with prefix in front. */
static void write_lines(FILE *f, const char *prefix, const char *doc)
{
	while (*doc) {
		size_t n = strcspn(doc, "\n");
		fprintf(f, "%s%.*s\n", prefix, (int)n, doc);
		doc += n;
		if (*doc == '\n')
			doc++;
	}
}

static void values_text(const pt_config_key *k, char *out, size_t outlen, bool markdown)
{
	char names[128];

	switch (k->type) {
	case PT_CFG_U32:
		snprintf(out, outlen, markdown ? "%u … %u" : "range: %u..%u", k->min, k->max);
		break;
	case PT_CFG_BOOL:
		snprintf(out, outlen, markdown ? "`yes`, `no`" : "one of: yes|no");
		break;
	case PT_CFG_ENUM:
		if (markdown) {
			size_t used = 0;
			out[0] = '\0';
			for (int i = 0; k->enums[i] && used < outlen; i++) {
				int w = snprintf(out + used, outlen - used, "%s`%s`", i ? ", " : "",
				                 k->enums[i]);
				if (w < 0)
					break;
				used += (size_t)w;
			}
		} else {
			join_names(k->enums, names, sizeof(names));
			snprintf(out, outlen, "one of: %s", names);
		}
		break;
	case PT_CFG_STR:
		snprintf(out, outlen, "%s",
		         markdown ? (is_list(k) ? "list" : k->secret ? "secret text" : "text") : "");
		break;
	case PT_CFG_CIDRS:
		snprintf(out, outlen, "%s", markdown ? "list of addresses or CIDRs" : "");
		break;
	}
}

void pt_config_write_sample(FILE *f)
{
	char vals[160];

	fputs("# peertrack.conf: settings of peertrackd.\n"
	      "#\n"
	      "# Every key is listed, commented out, with its default value: this file\n"
	      "# as shipped changes nothing, and an upgrade that changes a default\n"
	      "# applies it. To change a key, remove the '#' and edit the value.\n"
	      "# Sections only group the keys: each key name is unique. Keys marked\n"
	      "# \"reloadable with SIGHUP\" take effect on `kill -HUP`; the others need a\n"
	      "# restart. A key that a later version removes is ignored with a warning.\n"
	      "# Lines starting with '#' or ';' are comments.\n"
	      "#\n"
	      "# Generated from the key table in src/base/config.c; docs/CONFIG.md\n"
	      "# and peertrack.conf(5) have the same reference.\n", f);
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		fprintf(f, "\n[%s]\n", sections[s].name);
		write_lines(f, "# ", sections[s].doc);
		for (size_t i = 0; i < pt_config_nkeys; i++) {
			const pt_config_key *k = &pt_config_keys[i];
			if (strcmp(k->section, sections[s].name) != 0)
				continue;
			fputc('\n', f);
			write_lines(f, "# ", k->doc);
			values_text(k, vals, sizeof(vals), false);
			if (vals[0])
				fprintf(f, "# %s\n", vals);
			if (k->reloadable)
				fputs("# reloadable with SIGHUP\n", f);
			if (k->def[0])
				fprintf(f, "#%s = %s\n", k->name, k->def);
			else
				fprintf(f, "#%s =\n", k->name);
		}
	}
}

/* A doc as one table cell: lines joined, pipes escaped. */
static void write_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputc(' ', f);
		else if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s, f);
	}
}

void pt_config_write_markdown(FILE *f)
{
	char vals[160];

	fputs("# peertrackd configuration\n"
	      "\n"
	      "<!-- Generated by pt_config_write_markdown() from the key table in\n"
	      "     src/base/config.c. Do not edit: tests/unit/test_config.c fails\n"
	      "     when this file and the table differ. -->\n"
	      "\n"
	      "peertrackd reads an INI file; `conf/peertrack.conf` (installed as\n"
	      "`/etc/peertrack/peertrack.conf`) lists every key commented out with its\n"
	      "default (`#max_connections = 10000`): as shipped it changes nothing, and an\n"
	      "upgrade that changes a default applies it. Sections only group the keys (each\n"
	      "key name is unique), but an unknown section, an unknown key or a key set\n"
	      "twice is an error that names the file and line. A key that a later version\n"
	      "removes is not an error: peertrackd starts and logs\n"
	      "`FILE:LINE: KEY was removed in peertrack VERSION and is ignored: ...`, so a\n"
	      "config written for an older version keeps starting. Numbers are decimal, with\n"
	      "no sign or unit. Keys with *yes* in the SIGHUP column are applied on\n"
	      "reload (`kill -HUP`); the others need a restart. A line holds at most\n"
	      "about 200 bytes (the INI parser's limit): lists (`allowed_origins`,\n"
	      "`trusted_proxies`) continue on indented lines.\n"
	      "\n"
	      "Checked across keys: `timeout_ms` > `heartbeat_ms`,\n"
	      "`max_signal_bytes` < `max_message_bytes`, and `turn_urls` needs exactly\n"
	      "one of `turn_secret` and `turn_secret_file`.\n", f);
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		fprintf(f, "\n## [%s]\n\n", sections[s].name);
		write_cell(f, sections[s].doc);
		fputs("\n\n| Key | Default | Values | SIGHUP | Description |\n"
		      "|---|---|---|---|---|\n", f);
		for (size_t i = 0; i < pt_config_nkeys; i++) {
			const pt_config_key *k = &pt_config_keys[i];
			if (strcmp(k->section, sections[s].name) != 0)
				continue;
			values_text(k, vals, sizeof(vals), true);
			fprintf(f, "| `%s` | ", k->name);
			if (k->def[0])
				fprintf(f, "`%s`", k->def);
			else
				fputs("(empty)", f);
			fprintf(f, " | %s | %s | ", vals, k->reloadable ? "yes" : "no");
			write_cell(f, k->doc);
			fputs(" |\n", f);
		}
	}
}

/* One list entry; a long list continues on indented lines, so every line
 * stays within what the loader reads. */
static void write_item(FILE *f, size_t *col, const char *item, size_t len)
{
	if (*col && *col + 1 + len > 100) {
		fputs("\n   ", f);
		*col = 3;
	}
	if (*col)
		fputc(' ', f);
	fwrite(item, 1, len, f);
	*col += len + 1;
}

/* One key's value as it would be written in the file. */
static void write_value(FILE *f, const pt_config *c, const pt_config_key *k)
{
	const void *v = cfield(c, k);
	char cidr[PT_ADDR_STRLEN + 4];
	size_t col = 0;

	if (k->type == PT_CFG_STR && is_list(k)) {
		for (const char *p = v; *p;) {
			size_t n = strcspn(p, " \t,");
			if (n)
				write_item(f, &col, p, n);
			p += n + (p[n] != '\0');
		}
		return;
	}

	switch (k->type) {
	case PT_CFG_U32:
		fprintf(f, "%u", *(const uint32_t *)v);
		break;
	case PT_CFG_BOOL:
		fputs(*(const bool *)v ? "yes" : "no", f);
		break;
	case PT_CFG_ENUM:
		fputs(k->enums[*(const int *)v], f);
		break;
	case PT_CFG_STR:
		fputs((const char *)v, f);
		break;
	case PT_CFG_CIDRS: {
		const pt_cidr_list *l = v;
		for (size_t i = 0; i < l->n; i++) {
			pt_cidr_format(&l->v[i], cidr);
			write_item(f, &col, cidr, strlen(cidr));
		}
		break;
	}
	}
}

void pt_config_write_effective(FILE *f, const pt_config *c, const char *path)
{
	pt_config d;

	pt_config_defaults(&d);
	fprintf(f,
	        "# peertrackd effective configuration: the defaults, then %s, then\n"
	        "# PEERTRACK_* environment variables, then --set/--listen. Keys that differ\n"
	        "# from their default are marked. Secrets (turn_secret) are masked;\n"
	        "# paths (tls_key, turn_secret_file) are shown, never the files' contents.\n",
	        path ? path : "(no file)");
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		fprintf(f, "\n[%s]\n", sections[s].name);
		for (size_t i = 0; i < pt_config_nkeys; i++) {
			const pt_config_key *k = &pt_config_keys[i];

			if (strcmp(k->section, sections[s].name) != 0)
				continue;
			if (!value_equal(c, &d, k))
				fputs("# changed from the default\n", f);
			/* inih reads " ;" as an inline comment but a ';' right after
			 * '=' as the value, which a file may set ("key:;"). */
			fprintf(f, k->type == PT_CFG_STR && *(const char *)cfield(c, k) == ';'
			                   ? "%s =" : "%s = ", k->name);
			if (k->secret && *(const char *)cfield(c, k))
				fputs("(set, not shown)", f);
			else
				write_value(f, c, k);
			fputc('\n', f);
		}
	}
	pt_config_free(&d);
}

/* roff text: backslashes escaped, a line never starts with a control
 * character, and (a man page convention) '-' is a literal minus only where
 * asked. */
static void write_roff(FILE *f, const char *s, bool minus)
{
	bool bol = true;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-' && minus)
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
}

void pt_config_write_man(FILE *f)
{
	char vals[160];

	fputs(".\\\" Generated by pt_config_write_man() from the key table in\n"
	      ".\\\" src/base/config.c. Do not edit: tests/unit/test_config.c fails\n"
	      ".\\\" when this file and the table differ.\n"
	      ".TH PEERTRACK.CONF 5 \"\" \"peertrack\" \"File Formats\"\n"
	      ".SH NAME\n"
	      "peertrack.conf \\- settings of peertrackd\n"
	      ".SH SYNOPSIS\n"
	      ".I /etc/peertrack/peertrack.conf\n"
	      ".SH DESCRIPTION\n"
	      ".BR peertrackd (8)\n"
	      "reads an INI file named with\n"
	      ".BR \\-c .\n"
	      "Settings come from the embedded defaults, then the file, then\n"
	      ".BI PEERTRACK_ KEY\n"
	      "environment variables (the key in upper case), then\n"
	      ".B \\-\\-set\n"
	      ".IR KEY = VALUE\n"
	      "on the command line.\n"
	      ".PP\n"
	      "Lines are\n"
	      ".IB key \" = \" value\n"
	      "or\n"
	      ".BI [ section ]\\fR;\n"
	      "lines starting with\n"
	      ".B #\n"
	      "or\n"
	      ".B ;\n"
	      "are comments. The shipped file lists every key commented out with its\n"
	      "default, so it changes nothing and an upgrade that changes a default\n"
	      "applies it. Sections only group the keys (each key name is unique), but an\n"
	      "unknown section, an unknown key or a key set twice is an error that names\n"
	      "the file and line, and peertrackd does not start (exit status 2). A key that\n"
	      "a later version removed is ignored with a warning naming the version. Numbers\n"
	      "are decimal, with no sign or unit. A line holds at most about 200 bytes; lists\n"
	      "continue on indented lines.\n"
	      ".PP\n"
	      "Keys marked \"reloadable\" are applied on\n"
	      ".BR SIGHUP ;\n"
	      "the others need a restart. Checked across keys:\n"
	      ".B timeout_ms\n"
	      "must be above\n"
	      ".BR heartbeat_ms ,\n"
	      "and\n"
	      ".B max_signal_bytes\n"
	      "below\n"
	      ".BR max_message_bytes .\n", f);
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		fprintf(f, ".SH [%s]\n", sections[s].name);
		write_roff(f, sections[s].doc, false);
		fputc('\n', f);
		for (size_t i = 0; i < pt_config_nkeys; i++) {
			const pt_config_key *k = &pt_config_keys[i];
			if (strcmp(k->section, sections[s].name) != 0)
				continue;
			fputs(".TP\n.B ", f);
			write_roff(f, k->name, true);
			fputc('\n', f);
			write_roff(f, k->doc, false);
			fputs("\n.br\nDefault: ", f);
			if (k->def[0]) {
				fputs("\\fB", f);
				write_roff(f, k->def, true);
				fputs("\\fR", f);
			} else {
				fputs("empty", f);
			}
			values_text(k, vals, sizeof(vals), false);
			if (vals[0]) {
				fputs("; ", f);
				write_roff(f, vals, true);
			}
			fputs(k->reloadable ? "; reloadable.\n" : ".\n", f);
		}
	}
	fputs(".SH FILES\n"
	      ".TP\n"
	      ".I /etc/peertrack/peertrack.conf\n"
	      "The file the packaged unit passes to peertrackd (a conffile).\n"
	      ".TP\n"
	      ".I /usr/share/doc/peertrack/CONFIG.md.gz\n"
	      "The same reference as a table.\n"
	      ".SH SEE ALSO\n"
	      ".BR peertrackd (8),\n"
	      ".BR peertrackctl (8)\n", f);
}
