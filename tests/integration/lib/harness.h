/* harness.h — drives a real peertrackd over real sockets.
 *
 * Three parts, all bounded in time (every wait takes a timeout in ms):
 *   ptd_*  the daemon as a child process: config in a fresh temp dir, stderr
 *          read by a background thread and kept line by line, so tests can
 *          wait for a log line and the whole log is printed on failure.
 *   ptc_*  a WebSocket client on libwebsockets' client API. One lws context
 *          per test process, on lws' own poll loop, serviced only from inside
 *          these calls, so test code reads straight down.
 *   ptr_*  a raw TCP client that performs the HTTP upgrade by hand and then
 *          writes whatever frames it is told to (unmasked, broken, silent,
 *          never reading): what a well-behaved library cannot be made to do.
 *
 * The ptd/ptc/ptr helpers that say "asserts" fail the current cmocka test
 * (after printing the daemon logs); everything else reports through its
 * return value. Call pt_harness_cleanup() from each test's teardown: it closes
 * the clients and kills the daemons a failed test left behind.
 *
 * Environment: PT_BIN (default "bin") is where peertrackd is; sanitizer
 * options (ASAN_OPTIONS, ...) pass through to the daemon unchanged.
 */
#ifndef PT_ITEST_HARNESS_H
#define PT_ITEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

/* Generous enough for the sanitizer build on a busy machine. */
#define PT_T_START_MS 15000
#define PT_T_REPLY_MS 3000

/* -- the daemon ------------------------------------------------------------- */

typedef struct pt_daemon pt_daemon;

/* Writes the printf-formatted config text to DIR/peertrack.conf (DIR a fresh
 * mkdtemp dir, state_dir = DIR/state) and runs
 *   $PT_BIN/peertrackd -c DIR/peertrack.conf --listen 127.0.0.1:0 --set state_dir=...
 * then waits for "listening on 127.0.0.1:PORT" (so the config must keep
 * log_level at info or debug). Asserts that the daemon came up. */
pt_daemon *ptd_start(const char *conf_fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like ptd_start without waiting for anything: argv is extra arguments
 * (NULL-terminated, may be NULL) appended after "-c FILE --set state_dir=..."
 * ("--listen" included only if listen is non-NULL). NULL if it cannot spawn. */
pt_daemon *ptd_spawn(const char *conf_text, const char *listen, const char *const *argv);

int ptd_port(const pt_daemon *d);
pid_t ptd_pid(const pt_daemon *d);
/* The config file path, and a way to rewrite it (for SIGHUP tests). */
const char *ptd_conf_path(const pt_daemon *d);
void ptd_write_conf(pt_daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Waits for a stderr line containing needle, counting only lines after the
 * first `from` lines (0 = the whole log). Returns the line index (>= 0), or
 * -1 on timeout or when the daemon's stderr closed without it. */
int ptd_wait_log_from(pt_daemon *d, size_t from, const char *needle, int timeout_ms);
int ptd_wait_log(pt_daemon *d, const char *needle, int timeout_ms);
/* How many lines the log holds now (a mark for ptd_wait_log_from). */
size_t ptd_log_count(pt_daemon *d);
/* Non-zero if some line holds needle. */
bool ptd_log_has(pt_daemon *d, const char *needle);
/* How many lines hold needle. */
size_t ptd_log_lines_with(pt_daemon *d, const char *needle);
void ptd_print_log(pt_daemon *d);

void ptd_signal(pt_daemon *d, int sig);
/* Waits for the process to exit (servicing the WebSocket clients meanwhile
 * so they can answer close frames). Exit status: the exit code, 128+signal
 * if killed, or -1 on timeout (the process is then left running). */
int ptd_wait_exit(pt_daemon *d, int timeout_ms);
/* SIGTERM, wait up to 10 s (SIGKILL after), free. Returns the exit status
 * as ptd_wait_exit; prints the log when it is not 0. */
int ptd_stop(pt_daemon *d);
/* SIGKILL, reap, free. */
void ptd_kill(pt_daemon *d);
/* Frees a daemon that already exited (after ptd_wait_exit). */
void ptd_free(pt_daemon *d);
/* VmRSS of the daemon in KiB, or -1. */
long ptd_rss_kb(pt_daemon *d);

/* -- WebSocket client (libwebsockets) ------------------------------------- */

typedef struct ptc ptc;

typedef struct ptc_opts {
	const char *origin;   /* Origin header; NULL: none */
	const char *path;     /* NULL: "/v1" */
	const char *source;   /* local address to bind, e.g. "127.1.2.3"; NULL: any */
	const char *const *headers; /* extra "Name: value" strings, NULL-terminated */
} ptc_opts;

/* Connects and waits for the handshake. NULL if it failed (refused, reset,
 * timeout); ptc_last_error() says why. opts may be NULL. */
ptc *ptc_connect(int port, const ptc_opts *opts);
const char *ptc_last_error(void);
/* ptc_connect + receive the welcome + remember the id; asserts all went
 * well. */
ptc *ptc_join(int port, const ptc_opts *opts);
/* The id from the welcome ptc_join (or ptc_take_welcome) saw; "" before. */
const char *ptc_id(const ptc *c);
/* Receives the welcome (asserts), remembers the id, returns it (decref it). */
json_t *ptc_take_welcome(ptc *c);
/* The local address and port the client's socket is bound to. */
int ptc_local_addr(const ptc *c, char *buf, size_t len, int *port);

/* Queues one text frame (printf-formatted); written on the next service. */
void ptc_send(ptc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One frame of len bytes, text or binary. */
void ptc_send_raw(ptc *c, const void *bytes, size_t len, bool binary);
/* One message split into nfrags frames (first + continuations). */
void ptc_send_fragmented(ptc *c, const void *bytes, size_t len, size_t nfrags, bool binary);
/* Services until every queued frame was handed to the socket (bounded). */
bool ptc_flush(ptc *c, int timeout_ms);

/* The next message (removed from the queue), parsed. NULL on timeout, close
 * or unparseable text (said on stderr). The caller decrefs. */
json_t *ptc_recv(ptc *c, int timeout_ms);
/* The first message of that type; messages of other types stay queued. */
json_t *ptc_recv_type(ptc *c, const char *type, int timeout_ms);
/* Sends and returns the direct reply: the first message of type ack, peers,
 * pong or error (signal, peer-left and welcome stay queued). */
json_t *ptc_call(ptc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* How many received messages are queued; dropped all of them. */
size_t ptc_pending(ptc *c);
void ptc_drain(ptc *c);

/* Waits for the connection to end: the close code the server sent, 0 for a
 * close frame without code, -1 for a drop without close frame or timeout. */
int ptc_wait_close(ptc *c, int timeout_ms);
bool ptc_is_open(const ptc *c);
/* Closes (1000, bounded wait) and frees. NULL is fine. */
void ptc_close(ptc *c);

/* Services the client context for up to ms (returns earlier on activity). */
void ptc_service(int ms);

/* -- raw TCP client ------------------------------------------------------- */

typedef struct ptr ptr;

typedef struct ptr_opts {
	const char *origin;   /* NULL: none */
	const char *path;     /* NULL: "/v1" */
	const char *source;   /* local address; NULL: 127.0.0.1 */
	int rcvbuf;           /* SO_RCVBUF before connecting; 0: default */
	const char *protocol; /* Sec-WebSocket-Protocol; NULL: none */
} ptr_opts;

/* Connects and upgrades; NULL unless the server answered 101. */
ptr *ptr_connect(int port, const ptr_opts *opts);
/* Like ptr_connect but returns the HTTP status of the answer (101 on
 * success, -1 on no answer), for refusals. Frees the connection unless
 * out is non-NULL. */
int ptr_upgrade_status(int port, const ptr_opts *opts, ptr **out);
void ptr_free(ptr *r);
int ptr_fd(const ptr *r);

enum { PTR_CONT = 0, PTR_TEXT = 1, PTR_BIN = 2, PTR_CLOSE = 8, PTR_PING = 9, PTR_PONG = 10 };

/* Writes one frame: opcode, FIN bit, masked (clients must mask). Returns 0
 * or -1 (the peer is gone). Blocks until written, bounded by 5 s. */
int ptr_send_frame(ptr *r, int opcode, bool fin, bool masked, const void *data, size_t len);
int ptr_send_text(ptr *r, const char *text);
int ptr_send_bytes(ptr *r, const void *data, size_t len);

/* Reads one frame. Returns payload length (payload malloc'd in *data, NUL
 * terminated; free it) and its opcode, or -1 on EOF/timeout. Pings are
 * returned like any frame: answering them is the caller's business. */
long ptr_recv_frame(ptr *r, int *opcode, char **data, int timeout_ms);
/* The next text message, parsed; skips pings (unanswered) and pongs. NULL on
 * timeout or close. */
json_t *ptr_recv_json(ptr *r, int timeout_ms);
/* Reads (discarding data, never answering pings) until a close frame:
 * its code, 0 without code, -1 for EOF without close frame or timeout. */
int ptr_wait_close(ptr *r, int timeout_ms);

/* One plain HTTP/1.1 request (method GET or HEAD) of path from source (a
 * loopback address, bound before connecting): the status, the body in
 * *body and, if headers is non-NULL, the header block in *headers (both
 * malloc'd, NUL-terminated; the caller frees them). -1 on failure or
 * timeout. A HEAD answer is read until the server closes. */
int pt_http_req(int port, const char *source, const char *method, const char *path,
                char **headers, char **body);
int pt_http_get(int port, const char *source, const char *path, char **body);

/* -- redis-server ---------------------------------------------------------- */
/* A real redis-server on a free 127.0.0.1 port with a password (in a 0600
 * file, for cluster_redis_password_file), no persistence; asserts it came
 * up. Killed by pt_harness_cleanup. */
typedef struct pt_redis pt_redis;
struct redisReply;
pt_redis *pt_redis_start(void);
/* Another instance with like's password: the index shards of one cluster
 * (cluster_redis lists several, one password file for all). */
pt_redis *pt_redis_start_like(const pt_redis *like);
int pt_redis_port(const pt_redis *r);
const char *pt_redis_password_file(const pt_redis *r);
/* SIGKILL (the data is gone: no persistence); restart: on the same port. */
void pt_redis_stop(pt_redis *r);
void pt_redis_restart(pt_redis *r);
/* One command on a fresh authenticated connection (hiredis format); the
 * reply (freeReplyObject it) or NULL. */
struct redisReply *pt_redis_cmd(pt_redis *r, const char *fmt, ...);

/* -- misc --------------------------------------------------------------- */

/* A valid hash (64 lowercase hex) made from n and a salt. */
void pt_hash_of(unsigned n, unsigned salt, char out[65]);
/* Monotonic milliseconds. */
uint64_t pt_now_ms(void);
/* json helpers that return NULL/"" / -1 instead of crashing on wrong types. */
const char *pt_jstr(const json_t *o, const char *key);
long long pt_jint(const json_t *o, const char *key);
bool pt_jtype_is(const json_t *o, const char *type);
/* Prints every daemon log and asserts false: for use in helpers. */
void pt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Protocol shortcuts; each asserts the reply's type and decrefs it. */
/* announce/withdraw of n hashes: returns the ack (caller decrefs). */
json_t *ptc_hashes(ptc *c, const char *type, const char *rid, char (*hashes)[65], size_t n);
/* lookup: writes up to cap ids (24 chars + NUL each) in order, returns how
 * many the reply held; max <= 0 omits "max". */
int ptc_lookup(ptc *c, const char *hash, int max, char (*ids)[32], int cap);
/* Asserts reply is {"type":"error","code":code}; decrefs it. */
void pt_expect_error(json_t *reply, const char *code);
/* Asserts the next message is a pong (a round trip through the server). */
void ptc_roundtrip(ptc *c);
/* User + system CPU seconds pid has used (/proc/PID/stat), or -1. */
double pt_cpu_seconds(pid_t pid);

/* The value of the sample whose line starts with `series` + ' ' in a
 * Prometheus text body, or -1. */
double pt_metric(const char *text, const char *series);
/* pt_metric of the daemon's /metrics now (asserts the GET worked). */
double ptd_metric(pt_daemon *d, const char *series);

/* Teardown: closes clients, raw sockets and kills daemons still alive. */
void pt_harness_cleanup(void);
/* cmocka teardown-compatible wrapper of pt_harness_cleanup. */
int pt_teardown(void **state);

/* Assertions with context: print the message and the daemon logs. */
#define PT_CHECK(cond, ...) do { if (!(cond)) pt_fail(__VA_ARGS__); } while (0)

#endif
