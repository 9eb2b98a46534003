/* net.h — private to src/net: the server context and the session, shared by
 * the listener (server.c), the session life cycle (session.c), the /v1
 * front-end (v1.c) and the HTTP endpoints (http.c).
 *
 * Threading: everything here runs on the loop thread.
 */
#ifndef PEERTRACK_NET_H
#define PEERTRACK_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <libwebsockets.h>
#include <uv.h>

#include "peertrack/addr.h"
#include "peertrack/banlist.h"
#include "peertrack/cluster.h"
#include "peertrack/config.h"
#include "peertrack/errors.h"
#include "peertrack/id.h"
#include "peertrack/index.h"
#include "peertrack/iplimit.h"
#include "peertrack/lograte.h"
#include "peertrack/match.h"
#include "peertrack/msg.h"
#include "peertrack/ratelimit.h"
#include "peertrack/registry.h"
#include "peertrack/reply.h"
#include "peertrack/resume.h"
#include "peertrack/server.h"
#include "peertrack/store.h"
#include "peertrack/wtmsg.h"
#include "peertrack/wtoffers.h"
#include "peertrack/wtswarm.h"
#include "peertrack/turn.h"

/* Why a peer left, for logs, the store and metrics: X(enumerator, name). */
#define PT_LEAVES(X) \
	X(PT_LEAVE_CLOSED, "closed") /* the client closed or the socket dropped */ \
	X(PT_LEAVE_TIMEOUT, "timeout") \
	X(PT_LEAVE_ABUSE, "abuse") \
	X(PT_LEAVE_SLOW_READER, "slow-reader") \
	X(PT_LEAVE_TOO_BIG, "too-big") \
	X(PT_LEAVE_KICKED, "kicked") \
	X(PT_LEAVE_SHUTDOWN, "shutdown") \
	X(PT_LEAVE_INTERNAL, "internal") \
	X(PT_LEAVE_BANNED, "banned") \
	X(PT_LEAVE_BAD_DATA, "bad-utf8") \
	X(PT_LEAVE_RESUMED, "resumed") /* a fresh id given back: its connection resumed an older one */

/* Refusals at connect time, for metrics. */
#define PT_REFUSALS(X) \
	X(PT_REFUSE_ORIGIN, "origin") \
	X(PT_REFUSE_FULL, "full") \
	X(PT_REFUSE_PER_IP, "per-ip") \
	X(PT_REFUSE_SHUTDOWN, "shutdown") \
	X(PT_REFUSE_BANNED, "banned") \
	X(PT_REFUSE_INTERNAL, "internal")

#define X(e, name) e,
enum pt_leave { PT_LEAVES(X) PT_LEAVE__COUNT };
enum pt_refuse { PT_REFUSALS(X) PT_REFUSE__COUNT };
#undef X
const char *pt__leave_name(enum pt_leave r);
const char *pt__refuse_name(enum pt_refuse r);

/* /announce counters (wt.c). */
typedef struct pt_wt_stats {
	uint64_t connections;                 /* admitted on /announce */
	uint64_t messages[PT_WT__COUNT];      /* valid messages, by kind */
	uint64_t failures;                    /* failure replies */
	uint64_t offers_relayed, answers_relayed;
	uint64_t answers_refused;             /* no matching relayed offer */
	uint64_t not_allowed;                 /* announces off the allow-list */
} pt_wt_stats;

/* Budgets across peers (budget.c, config section [budgets]): which one a
 * refusal hit, for metrics and the rate-limited log line. */
#define PT_BUDGETS(X) \
	X(PT_BUDGET_INDEX, "index_entries")           /* max_index_entries */ \
	X(PT_BUDGET_HASHES_PER_IP, "hashes_per_ip")   /* max_hashes_per_ip */ \
	X(PT_BUDGET_HALFOPEN, "halfopen")             /* max_halfopen, or the descriptors left */ \
	X(PT_BUDGET_HALFOPEN_PER_IP, "halfopen_per_ip") /* max_halfopen_per_ip */ \
	X(PT_BUDGET_STORE_PEER, "store_rows_per_peer") /* store_rows_per_peer_per_min */ \
	X(PT_BUDGET_STORE_QUEUE, "store_queue")       /* store_queue_max: a report not queued */ \
	X(PT_BUDGET_FDS, "fds")                       /* accept() ran out of descriptors */

#define X(e, name) e,
enum pt_budget { PT_BUDGETS(X) PT_BUDGET__COUNT };
#undef X
const char *pt__budget_name(enum pt_budget b);

/* Counters since start; /metrics (and logs) read them. */
typedef struct pt_stats {
	uint64_t connections;                 /* accepted and admitted */
	uint64_t refused[PT_REFUSE__COUNT];
	uint64_t left[PT_LEAVE__COUNT];
	uint64_t messages[PT_MSG__COUNT];     /* valid messages handled, by type */
	uint64_t errors[PT_E__COUNT];         /* error replies, by code */
	uint64_t relayed;                     /* signals delivered to a target queue */
	uint64_t lookups_hit, lookups_miss;
	uint64_t peer_left_sent;
	uint64_t bytes_in, bytes_out;
	uint64_t frames_out, writes_out;      /* text frames sent; socket writes that took them */
	uint64_t reports;                     /* offload reports received */
	uint64_t offload_from_peers, offload_from_origin, offload_to_peers; /* bytes */
	pt_wt_stats wt;
	uint64_t budget[PT_BUDGET__COUNT];    /* refusals (or drops) by budget */
	uint64_t halfopen_evicted;            /* handshakes dropped for another address */
	uint64_t heap_trims;                  /* malloc_trim runs after handshake storms */
	uint64_t parked;                      /* peers made resumable */
	uint64_t resumed;                     /* ... that came back */
	uint64_t resume_expired;              /* ... whose window ended */
	uint64_t resume_evicted;              /* ... given up for room */
	uint64_t held, held_dropped;          /* frames held for them; refused (bounds) */
	uint64_t bad_counted, bad_ignored;    /* bad-peer reports counted; ignored */
	uint64_t bad_withdrawn;               /* hashes withdrawn from peers for bad bytes */
	/* cluster (remote.c) */
	uint64_t cluster_undeliverable;       /* inbox signals for a peer not here */
	uint64_t cluster_refreshed;           /* entries re-announced to Redis */
	uint64_t cluster_lookups_local_only;  /* lookups answered without Redis */
} pt_stats;

typedef struct pt_origins {
	bool any;       /* "*" present */
	char **v;       /* lower-cased scheme://host[:port] */
	size_t n;
} pt_origins;

/* One queued outgoing frame: the text follows LWS_PRE bytes of headroom. */
typedef struct pt_out {
	struct pt_out *next;
	uint32_t len;
	unsigned char buf[]; /* LWS_PRE + len */
} pt_out;

typedef struct pt_contact {
	uint32_t handle, gen; /* handle PT_HANDLE_NONE: a peer of another node, remote */
	uint32_t at; /* pt__server_now32 of the last signal either way */
	pt_id remote;
} pt_contact;

enum pt_session_state {
	PT_SESSION_NEW = 0, /* not admitted (yet) */
	PT_SESSION_LIVE,    /* in the registry, index and matcher */
	PT_SESSION_CLOSING, /* retired; close frame pending */
	PT_SESSION_PARKED,  /* no connection: a resumable copy (park.c), never an lws session */
};

struct pt_session;

/* A front-end: one wire protocol, one row (frontend.c). The listener
 * routes each upgrade by its path to a row's callback, which parses,
 * dispatches and encodes its protocol; the session layer knows no
 * protocol's encoders and calls a session's row for what it sends on the
 * protocol's behalf. docs/DESIGN.md, "Front-ends". */
typedef struct pt_frontend {
	const char *path;     /* "/v1" */
	const char *name;     /* "v1", for logs and metrics */
	lws_callback_function *callback;
	/* A peer leaves: the front-end drops its own state. May be NULL. */
	void (*retire)(struct pt_session *s);
	/* The notice to a leaving peer's recent signal partners, appended to
	 * b whole or not at all: 0 or -ENOMEM. NULL: the protocol has none. */
	int (*encode_peer_left)(pt_buf *b, const pt_id *gone);
	/* The loop's state for this protocol, made with the server and freed
	 * with it (free takes what a failed init left). May be NULL. */
	int (*init)(struct pt_server *srv, uint64_t seed);
	void (*free)(struct pt_server *srv);
	/* The message kinds it accepts, by its own type number, for the
	 * metrics and logs that name them: n_msgs names, msg_name(0..n-1). */
	const char *(*msg_name)(int type);
	int n_msgs;
} pt_frontend;

enum { PT_FE_V1 = 0, PT_FE_WT, PT_FE__COUNT };
extern const pt_frontend pt_frontends[PT_FE__COUNT];

/* The listener's callback for every WebSocket upgrade and connection. */
int pt__frontend_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len);

/* Per connection; lives in lws' per-session user space (zeroed by lws). */
typedef struct pt_session {
	struct pt_server *srv;
	const pt_frontend *fe; /* set when the upgrade is routed */
	struct lws *wsi;
	enum pt_session_state state;
	uint32_t handle;
	pt_id id;
	char id_str[PT_ID_CHARS + 1];
	pt_addr addr;
	bool ip_counted;      /* holds a slot in srv->iplimit */
	bool ping_due;        /* send a WebSocket ping at the next writable */
	bool rx_overflow;     /* discarding the rest of an oversized message */
	uint16_t close_code;
	const char *close_reason;
	uint64_t connected_ms, last_rx_ms, last_ping_ms;
	pt_bucket bucket;     /* message rate */
	pt_bucket strikes;    /* rate-limited messages; empty = abuse */
	pt_bucket store_rows; /* store counter updates (store_rows_per_peer_per_min) */
	uint64_t close_by_ms; /* closing: queued replies flushed until then */
	pt_out *q_head, *q_tail;
	uint32_t q_bytes, q_count;
	char *rx;             /* reassembly of fragmented messages */
	uint32_t rx_len, rx_cap;
	pt_contact *contacts; /* ring of recent signal partners */
	uint16_t n_contacts, contacts_cap, contacts_next;
	bool co_usable;       /* frames may be coalesced (coalesce.c) */
	uint32_t co_slot;     /* 1 + place in the turn's list; 0: none */
	uint32_t co_head, co_tail, co_bytes; /* this turn's frames */
	char *dq;             /* messages waiting for a turn's budget (defer.c) */
	uint32_t dq_len, dq_cap;
	uint32_t dq_slot;     /* 1 + place in the waiting queue; 0: none */
	uint32_t drain_slot;  /* parked, entries leaving: 1 + place in the drain queue (drain.c) */
	void (*dq_run)(struct pt_session *s, const char *msg, size_t len, bool binary);
	bool said_goodbye;    /* the client sent a close frame: not resumable */
	bool spoke;           /* sent a message: too late to resume another id */
	bool has_prev;        /* prev_secret is the token this connection resumed with */
	struct pt_badpeer *bad; /* reports against this peer (badpeer.c); NULL: none */
	pt_resume_secret secret, prev_secret; /* resume token = (id, secret) */
} pt_session;

/* Frames waiting for the end of the loop turn (coalesce.c). */
typedef struct pt_coalesce {
	uv_check_t check;
	uv_prepare_t prepare;
	bool ready, active;
	pt_buf arena;         /* chained frames, reset every turn */
	pt_buf gather;        /* one session's frames made contiguous */
	pt_session **dirty;   /* sessions with frames this turn */
	uint32_t n, dirty_cap;
} pt_coalesce;

/* Heavy messages taken in at a bounded pace per loop turn (defer.c). */
#define PT_DEFER_MIN_BYTES 4096u /* a message this large counts against the budget */
typedef void (*pt_defer_fn)(pt_session *s, const char *msg, size_t len, bool binary);
typedef struct pt_defer {
	uv_prepare_t prepare; /* each turn: a new budget, the waiting first */
	uv_idle_t idle;       /* the poll must not block while some wait */
	bool ready, active;
	uint64_t turn_us;     /* heavy work done this turn */
	pt_session **q;       /* waiting sessions, oldest first; NULL: closed */
	uint32_t head, n, cap;
	uint64_t deferred;    /* messages that waited, ever */
} pt_defer;

/* Leaving peers' index entries taken out at a bounded pace (drain.c). */
typedef struct pt_drain_item {
	uint32_t handle;      /* PT_HANDLE_NONE: cancelled or done */
	pt_session *owner;    /* a parked peer keeping the handle; NULL: release it when done */
} pt_drain_item;
typedef struct pt_drain {
	uv_idle_t idle;       /* the poll must not block while peers drain */
	bool ready, active;
	pt_drain_item *q;     /* oldest first */
	uint32_t head, n, cap;
	uint32_t peers;       /* waiting now */
	uint64_t entries;     /* their entries still in the index */
	uint64_t deferred;    /* peers that waited, ever */
} pt_drain;

#define PT_PROTOCOLS 3 /* v1, http, terminator */

/* One event loop's serving state: the lws context and listener, the live
 * tables (registry, index, matcher), the sessions and their counters. The
 * process around it (config sources, store, bans, admin socket, signals:
 * src/daemon/) lends it the store and the ban list through pt_server_env. */
struct pt_server {
	uv_loop_t *loop;
	pt_config cfg;        /* this loop's copy; pt_server_reconfigure updates it */
	pt_origins origins;

	struct lws_context *lws;
	struct lws_vhost *vhost;
	struct lws_protocols protocols[PT_PROTOCOLS]; /* the vhost's; lws points here */
	int port;
	uint64_t t0_ms;
	uint64_t t0_wall_ms;  /* process_start_time_seconds */

	pt_registry *registry;
	pt_index *index;
	pt_match *match;
	pt_iplimit *iplimit;

	uv_timer_t sweep_timer;
	uv_timer_t stop_timer;
	uint32_t sockets;     /* WebSocket connections open, admitted or not */
	uint32_t fd_cap;      /* peers the descriptor limit allows (see fd_budget) */
	uint32_t max_peers;   /* min(max_connections, fd_cap) */
	int stop_phase;       /* 0 running, 1 closing peers, 2 destroying lws, 3 done */
	uint64_t stop_deadline_ms;

	pt_stats stats;
	pt_lograte refusal_log[PT_REFUSE__COUNT]; /* client-triggered refusal lines */
	pt_lograte untrusted_proxy_log;           /* forwarding headers from untrusted peers */
	pt_coalesce co;
	pt_defer defer;
	pt_drain drain;
	pt_buf scratch;       /* reply encoding, reused */
	pt_wt_swarms *wt_swarms; /* /announce: peer_id bindings (wt.c) */
	pt_wt_offers *wt_offers; /* /announce: relayed offers awaiting answers */
	pt_buf ice_buf;       /* one client's ice_servers, reused */
	pt_ice ice;           /* URLs (borrowed from cfg) and the loaded TURN secrets */
	pt_resume_table parked; /* resumable peers (park.c) */
	uint32_t *picks;      /* lookup results, max_lookup_peers long */
	uint32_t picks_cap;

	/* Budgets (budget.c): handshakes in progress, the listener. */
	struct pt_halfopen *ho_head, *ho_tail; /* oldest first */
	struct pt_halfopen *ho_dying;          /* dropped, until lws destroys them */
	struct pt_halfopen *ho_pending;        /* accepted, not yet bound to a wsi */
	uint32_t halfopen, ho_evicting;
	uint32_t fd_table;    /* descriptors for sockets: RLIMIT_NOFILE - reserve */
	uint64_t fd_rlimit;   /* the RLIMIT_NOFILE those figures come from */
	struct lws *listen_wsi;
	uv_timer_t listen_timer;
	bool listen_paused, listen_timer_ready;
	/* listen_share (share.c): our own listening socket, -1 without. */
	int share_fd;
	uv_poll_t share_poll;
	uv_timer_t share_timer;
	uint32_t accepted_since_trim;
	uint64_t last_trim_ms;
	uint64_t budget_log_ms[PT_BUDGET__COUNT];
	uint64_t budget_logged[PT_BUDGET__COUNT];
	uint64_t last_budget_tick_ms;

	/* Borrowed from the process (pt_server_env): events go to the store
	 * (ops.c), admission consults the bans, /announce the info_hash
	 * allow-list (when wt_allowlist is on). Any may be NULL. */
	pt_store *store;
	const pt_banlist *bans;
	const pt_wt_allow *wt_allowed;
	/* Cluster mode (remote.c): the engine, NULL without cluster_redis;
	 * the refresh pass over the live peers; what the process does with
	 * a ban another node's operator made. */
	pt_cluster *cluster;
	uv_timer_t refresh_timer;
	bool refresh_ready;
	uint32_t refresh_cursor;
	/* /announce swarms whose counts changed, not written yet (wtcount.c;
	 * NULL: not in cluster mode, or cluster_count_refresh_ms = 0). */
	struct pt__wtdirty *wt_dirty;
	uv_timer_t wtcount_timer;
	pt_server_ban_fn *on_cluster_ban;
	pt_server_allow_fn *on_cluster_allow;
	void *on_cluster_allow_arg;
	void *on_cluster_ban_arg;
	/* The last reload as the process reported it, for /metrics. */
	bool reload_ok;
	uint64_t reload_wall_ms;
};

static inline uint64_t pt__server_now(const struct pt_server *s) { return uv_now(s->loop); }
/* Milliseconds since start, wrapping after 49 days; compare by subtraction. */
static inline uint32_t pt__server_now32(const struct pt_server *s)
{
	return (uint32_t)(uv_now(s->loop) - s->t0_ms);
}

/* The live sessions in handle order, each once:
 *     for (uint32_t h = 0; (p = pt__live_next(s, &h));)
 * Safe against closing the one returned (retiring takes it out of the
 * registry, which the walk does not revisit). */
static inline pt_session *pt__live_next(struct pt_server *s, uint32_t *h)
{
	uint32_t limit = pt_registry_limit(s->registry);

	while (*h < limit) {
		pt_session *p = pt_registry_session(s->registry, (*h)++);

		if (p && p->state == PT_SESSION_LIVE)
			return p;
	}
	return NULL;
}

/* Peers with a connection: the registry also holds the resumable ones. */
static inline uint32_t pt__server_live_peers(const struct pt_server *s)
{
	return pt_registry_count(s->registry) - s->parked.count;
}

/* origins.c-like helpers live in session.c */
int pt__origins_parse(pt_origins *o, const char *list);
void pt__origins_free(pt_origins *o);
bool pt__origins_allow(const pt_origins *o, const char *origin);

/* Client address: the TCP peer, or what a trusted proxy says (session.c). */
int pt__session_client_addr(struct pt_server *srv, struct lws *wsi, pt_addr *out);

/* Session life cycle (session.c). */
int pt__session_admit(pt_session *s, struct pt_server *srv, struct lws *wsi);
void pt__session_retire(pt_session *s, enum pt_leave why);
/* Marks s for closing with code and retires it at once; the close frame
 * goes out from the connection's next timer callback (lws 4.1 sends it
 * politely only from a receive or timer callback, not from WRITEABLE). */
void pt__session_close(pt_session *s, uint16_t code, const char *reason, enum pt_leave why);
int pt__session_close_now(pt_session *s);
/* The lws reasons every front-end handles alike (upgrade check, timers,
 * pongs, writable, the peer's close, closed): a row's callback passes
 * them here. */
int pt__session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);
/* Logs the refusals counted but not yet logged (the liveness sweep, at
 * most once a second). */
void pt__session_flush_refusal_log(struct pt_server *srv);
/* The same for untrusted peers' forwarding headers (pt__session_client_addr). */
void pt__session_flush_untrusted_proxy_log(struct pt_server *srv);
void pt__session_closed(pt_session *s);
/* Queues a copy of text for the client. Closes the session as a slow
 * reader (and returns -1) if its queue would pass send_queue_max_bytes. */
int pt__session_send(pt_session *s, const char *text, size_t len);
int pt__session_send_buf(pt_session *s, const pt_buf *b);
/* Writes what is due (ping, then one queued frame). lws callback result. */
int pt__session_writable(pt_session *s);
/* Records that s and the peer `other` exchanged a signal. */
void pt__session_contact(pt_session *s, pt_session *other);
/* Whether s exchanged a signal with other within peer_left_window_ms (and
 * other is still among s's recent_contacts). */
bool pt__session_contacted(const pt_session *s, const pt_session *other);
/* The same with a peer of another node (cluster mode). */
void pt__session_contact_remote(pt_session *s, const pt_id *other);
/* A session named for ever by (handle, gen) (registry.h): for a request
 * whose answer comes back when the session may have gone. */
typedef struct pt__sref {
	struct pt_server *srv;
	uint32_t handle, gen;
} pt__sref;
pt__sref pt__sref_of(pt_session *s);
/* The session while it is that one and live; NULL once it left. */
pt_session *pt__sref_live(const pt__sref *r);
/* One received piece of a message: reassembles fragments up to max bytes
 * (more closes with 1009) and hands each complete message to deliver. */
int pt__session_receive(pt_session *s, const char *in, size_t len, bool first, bool final,
                       bool binary, uint32_t max,
                       void (*deliver)(pt_session *s, const char *msg, size_t len, bool binary));
/* For a frame a parser refused: if it is not UTF-8, closes s with 1007
 * and returns true (RFC 6455 8.1). */
bool pt__session_close_if_not_utf8(pt_session *s, const char *frame, size_t len);
/* Takes one message from s's rate bucket: true when within the rate; false
 * when over it (the caller refuses the message), after closing s with 4001
 * once it has kept on past rate_abuse_strikes. */
bool pt__session_rate_ok(pt_session *s, uint32_t rate, uint32_t burst);
/* Room for k picks in srv->picks (matching results); NULL on ENOMEM. */
uint32_t *pt__server_picks(struct pt_server *srv, size_t k);

/* Coalescing (coalesce.c): a session's frames of one loop turn go out in
 * one write at its end. init after the loop exists; close (a last flush)
 * before lws is destroyed; free with the server. usable: whether wsi's
 * frames are ours to write raw (not an HTTP/2 stream). add: 0, or
 * -ENOMEM/-EAGAIN (not ready) and the caller sends another way. write:
 * s's frames now, before anything lws writes for s. drop: forget s's. */
void pt__coalesce_init(struct pt_server *srv);
bool pt__coalesce_usable(struct lws *wsi);
int pt__coalesce_add(pt_session *s, const char *text, size_t len);
void pt__coalesce_write(pt_session *s);
void pt__coalesce_drop(pt_session *s);
void pt__coalesce_flush(struct pt_server *srv);
void pt__coalesce_close(struct pt_server *srv);
void pt__coalesce_free(struct pt_server *srv);

/* Deferring (defer.c): a message of PT_DEFER_MIN_BYTES or more is run now
 * while the turn's budget (turn_budget_us) lasts, else held and run by a
 * later turn (the session's reads paused meanwhile); smaller ones are run
 * now unless one of the session's messages waits. */
void pt__defer_init(struct pt_server *srv);
void pt__defer_or_run(pt_session *s, const char *msg, size_t len, bool binary, pt_defer_fn run);
void pt__defer_drop(pt_session *s); /* closing: what waits is dropped */
void pt__defer_close(struct pt_server *srv);
void pt__defer_free(struct pt_server *srv);

/* Draining (drain.c): pt__drain takes s's index entries out while the
 * turn's budget (turn_budget_us) lasts and sets its matcher record; true:
 * all out now. false: the rest leave in later turns (pt__drain_turn, run
 * by defer.c's prepare), the handle unpickable meanwhile; release: the
 * handle is given back to the registry when done (the caller holds it:
 * pt_registry_hold), else s (a parked peer) keeps it, and
 * pt__drain_cancel(s) stops the drain, the entries left staying. */
void pt__drain_init(struct pt_server *srv);
bool pt__drain(pt_session *s, bool release);
void pt__drain_cancel(pt_session *s);
void pt__drain_turn(struct pt_server *srv);
void pt__drain_close(struct pt_server *srv);
void pt__drain_free(struct pt_server *srv);

/* Budgets (budget.c). hit: counts a refusal of budget b (a may be NULL)
 * and logs it, at most one line a second per budget. The handshake
 * budget follows each accepted socket: filter (from
 * LWS_CALLBACK_FILTER_NETWORK_CONNECTION on the listener: 0 accept, 1
 * refuse — answered 503 already), created (SERVER_NEW_CLIENT_INSTANTIATED
 * binds it to the wsi), upgraded (the handshake is over: ESTABLISHED or a plain HTTP
 * request), destroyed (WSI_DESTROY). init/close/free go with the
 * server's loop handles. fds: re-reads RLIMIT_NOFILE (sweep). */
void pt__budget_hit(struct pt_server *s, enum pt_budget b, const pt_addr *a);
int pt__budget_filter(struct pt_server *s, struct lws *listener, const void *filt_args, int fd);
void pt__budget_created(struct pt_server *s, struct lws *wsi);
void pt__budget_upgraded(struct pt_server *s, struct lws *wsi);
void pt__budget_destroyed(struct pt_server *s, struct lws *wsi);
void pt__budget_init(struct pt_server *s);
void pt__budget_close(struct pt_server *s);
void pt__budget_free(struct pt_server *s);
void pt__budget_tick(struct pt_server *s);
/* The lws log line watcher: accept() failing for lack of descriptors
 * pauses the listener and retries on a timer. */
void pt__budget_lws_line(void *arg, const char *line);

/* share.c — listen_share: a listening socket with SO_REUSEPORT on
 * HOST (numeric) : PORT whose connections go to s->vhost, which listens on
 * nothing. Sets s->port. 0, -EINVAL (not a numeric address) or -errno. */
int pt__share_listen(struct pt_server *s, const char *host, int port);
/* Stops accepting and closes the socket; the handles finish closing on
 * the next loop turn. Safe to call again, or without a listen. */
void pt__share_close(struct pt_server *s);

/* Leaving for good: index, matcher, registry, store, peer-left. Used by
 * retire and, for a parked peer, when its window ends (session.c). */
void pt__session_leave(pt_session *s, enum pt_leave why);
/* Sends to a live peer or holds for a parked one (then -1 when its bound
 * is reached). 0 or -1 (not delivered). */
int pt__session_deliver(pt_session *s, const pt_buf *b);

/* Resumable sessions (park.c). park: called as a live peer is retired; true
 * if it was parked (s keeps nothing of it), false if it must leave. */
bool pt__park(pt_session *s, enum pt_leave why);
int pt__park_hold(pt_session *ghost, const pt_buf *b);
/* A new connection's secret and the token to send it (NULL when off). */
const char *pt__park_new_token(pt_session *s, char out[PT_RESUME_TOKEN_CHARS + 1]);
/* The resume message: s takes the parked peer's id back, or gets an error. */
void pt__park_resume(pt_session *s, const pt_msg *m);
/* Gives up the parked peers whose address is in c (a ban): they leave
 * with why. Returns how many. */
int pt__park_forget_in(struct pt_server *srv, const pt_cidr *c, enum pt_leave why);
/* Ends windows that are over and trims to resume_max_sessions (sweep). */
void pt__park_sweep(struct pt_server *srv);
/* Gives every parked peer up (shutdown, free). */
void pt__park_drop_all(struct pt_server *srv, enum pt_leave why);

/* ICE servers (ice.c): s's ice_servers into srv->ice_buf. */
int pt__ice_render(pt_session *s);

/* Front-ends (v1.c, wt.c). */
int pt__v1_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);
/* v1's error reply (counted), for the v1 handlers outside v1.c (park.c). */
void pt__v1_error(pt_session *s, const pt_rid *rid, enum pt_err e, const char *why);
/* v1's ack: count, and the hashes s holds as total. */
void pt__v1_ack(pt_session *s, const pt_rid *rid, size_t count);

/* -- bad-peer reports (badpeer.c) ----------------------------------------- */

/* The v1 `bad-peer` handler: counts a report against the peer it names,
 * withdrawing the hash from it once bad_peer_reports networks agree. */
void pt__bad_peer(pt_session *s, const pt_msg *m);
void pt__v1_dispatch(pt_session *s, const char *frame, size_t len);
int pt__wt_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);
void pt__wt_retire(pt_session *s);
/* s as wtoffers names a connection: (handle, gen). */
pt_wt_conn pt__wt_conn(const pt_session *s);
/* The /announce tables: 0 or -ENOMEM; free is safe on a failed init. */
int pt__wt_init(struct pt_server *srv, uint64_t seed);
void pt__wt_free(struct pt_server *srv);

/* Cluster mode (remote.c); each is a no-op without srv->cluster. start:
 * 0, or -1 after logging why. relay: a signal to a peer of another node.
 * lookup: true if the answer will come later (remote holders merged with
 * the local picks), false to answer from the local picks now. announce,
 * withdraw: into Redis' index. forget: s's keys out of it (before the
 * local index drops them). peer_left: tells a remote contact. */
int pt__remote_start(struct pt_server *srv);
void pt__remote_stop(struct pt_server *srv);
void pt__remote_relay(pt_session *s, const pt_rid *rid, const pt_id *to, const char *data,
                      size_t len);
bool pt__remote_lookup(pt_session *s, const pt_rid *rid, const pt_hash *h, const pt_id *const *local,
                       size_t n_local, size_t k);
void pt__remote_announce(pt_session *s, enum pt_space space, const pt_hash *h, size_t n);
void pt__remote_withdraw(pt_session *s, enum pt_space space, const pt_hash *h, size_t n);
void pt__remote_forget(pt_session *s);
void pt__remote_peer_left(struct pt_server *srv, const pt_id *to, const pt_id *gone);
/* /announce across nodes (wtremote.c). offers: sends offers first..k-1 of
 * m to peers of other nodes (after a lookup); returns how many it tried.
 * answer: routes m to `offerer`'s node. receive: a WT frame from another
 * node for local t (false: not a WT frame). */
/* An info_hash as an index key (PT_SPACE_WT, zero-padded to a pt_hash;
 * wt.c), and back (its first PT_WT_ID_BYTES). */
pt_key pt__wt_key(const pt_wt_id *ih);
pt_wt_id pt__wt_ih(const pt_key *k);
size_t pt__wtremote_offers(pt_session *s, const pt_wt_msg *m, size_t first, size_t k);
void pt__wtremote_answer(pt_session *s, const pt_wt_msg *m, const pt_id *offerer);
bool pt__wtremote_receive(pt_session *t, const pt_id *from, const char *frame, size_t len);
/* /announce counts across nodes (wtcount.c), each a no-op without
 * srv->wt_dirty. start/stop: the dirty set and its timer. changed: ih's
 * counts may have changed (before: what they were, to compare; NULL: they
 * did), so they are written at the next flush. get: ih's counts, this
 * node's plus the other nodes' as last read. refresh: puts the swarms
 * among keys in the set (the refresh pass). dropped: changes lost to a
 * full set (the next refresh pass writes them). */
int pt__wtcount_start(struct pt_server *srv);
void pt__wtcount_stop(struct pt_server *srv);
void pt__wtcount_changed(struct pt_server *srv, const pt_wt_id *ih, const pt_wt_counts *before);
void pt__wtcount_get(struct pt_server *srv, const pt_wt_id *ih, pt_wt_counts *c);
void pt__wtcount_refresh(struct pt_server *srv, const pt_key *keys, size_t n);
uint64_t pt__wtcount_dropped(const struct pt_server *srv);
/* The cluster's lines of /metrics (nothing without a cluster). */
int pt__remote_metrics(struct pt_server *srv, pt_buf *b);
/* "off", "ok" (registered, every link up) or "degraded", for /readyz. */
const char *pt__remote_state(const struct pt_server *srv);
/* Operations hooks (ops.c): store, bans, admin socket. */
#include "ops.h"

/* Native TLS (tls.c). pt__tls_check loads the configured files into a
 * scratch context: 0, or -1 with err saying which file and why. */
int pt__tls_check(const pt_config *c, char *err, size_t errlen);
void pt__tls_log_cert(struct pt_server *s, const char *verb);
/* SIGHUP: renewed files at the same paths, for new connections. */
void pt__tls_reload(struct pt_server *s);

/* HTTP endpoints (http.c). */
int pt__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

#endif
