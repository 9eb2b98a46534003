/* bench.h — peertrack-bench, the load generator: private to src/bench.
 *
 * One generator process (a "worker") drives thousands of WebSocket
 * connections from one epoll loop with a deliberately small client: it
 * frames and parses by hand, masks with a zero key and scans replies for the
 * few fields it needs instead of parsing JSON, so that per message it costs
 * a fraction of what the server under test spends. `--workers N` forks N of
 * them; the parent only coordinates, samples the target's /proc and merges
 * the workers' results.
 *
 *   hist.c    log-linear latency histogram (microseconds, mergeable)
 *   ws.c      the epoll loop and the minimal WebSocket client
 *   proto.c   message adapters: peertrack v1, PeerJS server, echo/forward,
 *             the WebTorrent tracker protocol (peertrack /announce,
 *             bittorrent-tracker's server)
 *   worker.c  the workloads (idle, relay, tracker, lookup) in one worker
 *   scale.c   in-process lookup cost against the holder count (no network)
 *   main.c    options, workers, /proc sampling, the table and --json
 */
#ifndef PEERTRACK_BENCH_H
#define PEERTRACK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#include "peertrack/wsframe.h"

/* -- histogram ---------------------------------------------------------- */

/* Values below 2^HIST_SUB are exact; above, each power of two is split into
 * 2^(HIST_SUB-1) buckets, so any value is within 1/64 (1.6 %) of its
 * bucket. Covers up to 2^40 us. */
#define HIST_SUB 7
#define HIST_MAXEXP 40
#define HIST_BUCKETS ((HIST_MAXEXP - HIST_SUB + 1) * (1 << (HIST_SUB - 1)) + (1 << HIST_SUB))

typedef struct bench_hist {
	uint64_t count, sum, min, max;
	uint64_t b[HIST_BUCKETS];
} bench_hist;

void bench_hist_init(bench_hist *h);
void bench_hist_add(bench_hist *h, uint64_t us);
void bench_hist_merge(bench_hist *into, const bench_hist *from);
/* q in [0,1]: the upper bound of the bucket holding that quantile, in us. */
uint64_t bench_hist_quantile(const bench_hist *h, double q);

/* -- options ------------------------------------------------------------ */

enum bench_mode { MODE_IDLE = 0, MODE_RELAY, MODE_TRACKER, MODE_LOOKUP, MODE_SCALE };
enum bench_proto { PROTO_PEERTRACK = 0, PROTO_PEERJS, PROTO_ECHO, PROTO_WT };

/* Several targets: the nodes of one tracker, each connection on one of
 * them (bench_target_of). */
#define BENCH_MAX_TARGETS 16

typedef struct bench_target {
	char host[64];          /* a loopback address */
	int port;
} bench_target;

typedef struct bench_opts {
	enum bench_mode mode;
	enum bench_proto proto;
	bench_target target[BENCH_MAX_TARGETS];
	int ntargets;           /* at least 1 */
	bool split;             /* relay over several targets: each pair's halves on two */
	const char *path;       /* NULL: the adapter's own */
	const char *origin;
	int peers;              /* connections in total (over all workers) */
	int workers;
	double rate;            /* connections started per second */
	int max_pending;        /* handshakes in flight per worker */
	double warmup_s, duration_s;
	int hashes;             /* idle: announced per peer; tracker: per peer at setup */
	int population;         /* tracker: distinct hashes */
	double zipf;            /* tracker: popularity exponent */
	int pct_lookup, pct_announce; /* tracker mix; the rest withdraws */
	int inflight;           /* relay: messages in flight per pair */
	double msg_rate;        /* relay: open loop at this total rate (0: closed loop) */
	int size;               /* relay: bytes of payload per message */
	int holders;            /* lookup: peers holding the hot hash */
	int lookup_max;         /* tracker/lookup: the "max" of each lookup */
	int retry;              /* reconnects per connection after 503/1013 (0: none) */
	int retry_ms;           /* first reconnect delay: 1-2x this, doubling up to 30 s */
	int per_addr;           /* connections per source address */
	uint32_t src_base;      /* first source address (host order) */
	int heartbeat_ms;       /* app-level heartbeat (0: the server's hint) */
	int target_pid[BENCH_MAX_TARGETS]; /* whose CPU time adds up: nodes, redis-server */
	int ntarget_pids;
	bool json;
	const char *label;
	const char *scale_list; /* scale: holder counts "10,100,..." */
} bench_opts;

/* Which target connection g (global index) goes to. Relay pairs are
 * (2p, 2p+1): both halves on target p mod T, or with split the second on
 * the next target, so every message crosses from one to another. Other
 * modes deal connections round-robin (lookup holders, the lowest indexes,
 * spread over every target too). */
static inline const bench_target *bench_target_of(const bench_opts *o, uint32_t g)
{
	uint32_t t = (uint32_t)o->ntargets, i = g % t;

	if (o->mode == MODE_RELAY)
		i = (g / 2 + (o->split ? (g & 1) : 0)) % t;
	return &o->target[i];
}

/* -- results ------------------------------------------------------------ */

/* What one worker reports; the parent adds them up (plain old data: it
 * crosses a pipe as bytes). */
typedef struct bench_result {
	uint64_t attempted, connected, failed, refused;  /* refused: closed by the server */
	uint64_t http503;          /* handshakes answered 503 (paced) */
	uint64_t hs_dropped;       /* handshakes closed by the server without an answer */
	uint64_t retries;          /* reconnects after a 503 or a 1013 (--retry) */
	uint64_t close_codes[8];   /* counts for codes 1000,1001,1008,1011,1013,4000,4029,other */
	uint64_t src_mismatch;     /* getsockname said another source address */
	uint64_t open_end;         /* ready and still open when the window closed */
	uint64_t setup_us;         /* first connect -> last peer settled */
	uint64_t sent, received, errors;   /* measured window only */
	uint64_t window_us;
	double cpu_user_s, cpu_sys_s;      /* this worker, measured window */
	double cpu_setup_s;                /* this worker, setup phase */
	bench_hist lat;
	bench_hist connect_lat;    /* TCP connect -> ready (welcome) */
} bench_result;

void bench_result_merge(bench_result *into, const bench_result *from);
int bench_close_slot(int code);

/* -- the loop and the client -------------------------------------------- */

typedef struct bench_worker bench_worker;
typedef struct bench_conn bench_conn;

enum conn_state { C_IDLE = 0, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

struct bench_conn {
	int fd;
	uint32_t n;              /* index within the worker */
	uint8_t state;
	bool ready;              /* the server's greeting arrived */
	bool settled;            /* setup done (announce acked, ...) */
	bool out_armed;          /* EPOLLOUT registered */
	bool paced;              /* 503, or closed in the handshake: retry if --retry allows */
	uint8_t tries;           /* reconnects so far */
	uint16_t close_code;
	uint32_t partner;        /* relay: the other half of the pair */
	char id[40];             /* the server's id for this connection */
	uint8_t id_len;
	uint64_t t_start;        /* connect() issued */
	uint64_t t_first;        /* the first connect(), for the ready latency */
	uint64_t retry_at;       /* due to reconnect (0: not waiting) */
	uint64_t t_req;          /* tracker/lookup: request in flight since */
	uint64_t last_tx;        /* for heartbeats */
	uint32_t rid;
	uint32_t pending;        /* replies awaited */
	char *rx; uint32_t rx_len, rx_cap;
	char *tx; uint32_t tx_len, tx_off, tx_cap;
	char *sig; uint32_t sig_len, sig_t; /* relay: the message to the partner, its time digits at sig_t */
	uint32_t sig_o;          /* wt: where the offer_id goes in sig */
	uint32_t seq;            /* wt: offers sent (each gets its own offer_id) */
};

struct bench_worker {
	const bench_opts *o;
	int index, nworkers;
	int ep;                  /* epoll */
	int ctl_in, res_out;     /* pipes to the parent */
	bench_conn *c;
	uint32_t n;              /* connections of this worker */
	uint32_t first;          /* global index of c[0] */
	uint32_t started, ready, settled, closed;
	uint32_t connecting;     /* handshakes in flight */
	uint32_t retrying;       /* connections waiting for their retry_at */
	uint64_t t0;             /* first connect */
	uint64_t rng;
	int phase;               /* 0 setup, 1 waiting for go, 2 warmup, 3 measuring, 4 done */
	uint64_t t_measure, t_end;
	int hb_ms;
	/* open-loop relay */
	double sched_next_us, sched_gap_us;
	uint32_t sched_rr;
	/* tracker */
	char (*hex)[65];         /* the hash population, 64 hex each */
	double *cdf;
	bench_result r;
	char *scratch;           /* frame building */
	size_t scratch_cap;
	char *rbuf;              /* shared read buffer */
};

uint64_t bench_now_us(void);
uint64_t bench_rand(uint64_t *s);

/* ws.c */
int bench_ws_start(bench_worker *w, bench_conn *c);
/* Serves the loop for up to timeout_us; returns after one epoll wait. */
int bench_ws_poll(bench_worker *w, int64_t timeout_us);
/* Frames payload (text unless binary) and writes or queues it. The payload
 * may live in w->scratch at offset BENCH_HDR. */
int bench_ws_send(bench_worker *w, bench_conn *c, const char *payload, size_t len, bool binary);
void bench_ws_close(bench_worker *w, bench_conn *c, uint16_t code);
/* Room for a frame header in front of a payload built in w->scratch. */
#define BENCH_HDR PT_WS_HDR_MAX
char *bench_scratch(bench_worker *w, size_t len);

/* proto.c: adapters. on_message is called for every text/binary message. */
const char *bench_proto_path(const bench_opts *o, const bench_conn *c, char *buf, size_t len);
/* The WebSocket is open (after the 101); protocols whose client speaks
 * first are ready here. */
void bench_proto_opened(bench_worker *w, bench_conn *c);
/* wt setup: announce n swarms (one message each: hex[pick[i]]'s first 20
 * characters are the info_hash), or the pair's swarm when hex is NULL. */
int bench_proto_wt_join(bench_worker *w, bench_conn *c, char (*hex)[65], const uint32_t *pick,
                        int n);
void bench_proto_message(bench_worker *w, bench_conn *c, const char *m, size_t len);
/* relay: a message to the partner carrying the send time t (us). */
int bench_proto_signal(bench_worker *w, bench_conn *c, uint64_t t);
int bench_proto_heartbeat(bench_worker *w, bench_conn *c);
/* tracker: "announce"/"withdraw" with n hashes, or a lookup. */
int bench_proto_hashes(bench_worker *w, bench_conn *c, const char *type, char (*hex)[65],
                       const uint32_t *pick, int n);
int bench_proto_lookup(bench_worker *w, bench_conn *c, const char *hex);

/* worker.c: events from the adapters. */
void bench_on_ready(bench_worker *w, bench_conn *c);
void bench_on_signal(bench_worker *w, bench_conn *c, uint64_t t_sent);
void bench_on_reply(bench_worker *w, bench_conn *c, bool error);
void bench_on_closed(bench_worker *w, bench_conn *c);
/* A response that is neither a reply awaited nor the end of a relay
 * (wt: the announce reply to an offer, the offer itself): counted. */
void bench_on_response(bench_worker *w);
/* wt: a message this connection sent on its own (the answer): counted. */
void bench_on_sent(bench_worker *w);
int bench_worker_run(bench_worker *w);

/* scale.c */
int bench_scale_run(const bench_opts *o, FILE *out);

#endif
