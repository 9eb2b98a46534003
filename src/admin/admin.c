/* admin.c — the admin socket: a Unix stream socket (mode 0660) on the
 * daemon's loop speaking JSON lines (admin.h, docs/OPERATIONS.md).
 *
 * Each request is validated once by pt_admin_validate against the shared
 * command table, then dispatched by command id to a handler here. Live
 * state (peers, bans) is answered on the loop at once; database reads
 * (stats, resources, history, audit) go to libuv's thread pool with their
 * own read-only connection, so the loop never waits on sqlite. A client's
 * requests are answered in order: reading pauses while one is in the pool.
 * Every state-changing command is written to the audit log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "peertrack/admin.h"
#include "peertrack/log.h"
#include "../net/net.h"

#define MAX_CLIENTS 16
#define DEFAULT_SINCE_MS (24ull * 3600 * 1000)

struct client;

struct pt_admin {
	struct pt_server *srv;  /* NULL once closed: work finishing late must not use it */
	uv_pipe_t listener;
	char *path;
	struct client *clients;
	unsigned n_clients;
	unsigned refs;          /* the listener + each client not yet freed */
};

struct client {
	struct client *next;
	struct pt_admin *adm;
	uv_pipe_t pipe;
	char *in;
	size_t in_len, in_cap;
	unsigned pending;       /* writes and pool work in flight */
	bool busy;              /* a request is in the pool */
	bool closing;
	char actor[64];         /* "uid=N pid=N", for the audit log */
};

struct work {
	uv_work_t req;
	struct client *c;
	const pt_admin_cmd *cmd;
	char *db_path;
	uint64_t since_ms, now_ms;
	unsigned n;
	json_t *result;
	int err;
	char msg[256];
};

static void admin_unref(struct pt_admin *a)
{
	if (--a->refs)
		return;
	free(a->path);
	free(a);
}

/* -- writing and closing ---------------------------------------------------- */

struct wreq {
	uv_write_t req;
	struct client *c;
	char *text;
};

static void client_maybe_free(struct client *c);

static void on_client_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	c->closing = true; /* and the handle is gone */
	c->pipe.data = NULL;
	client_maybe_free(c);
}

static void client_maybe_free(struct client *c)
{
	struct pt_admin *a = c->adm;

	if (c->pending || c->pipe.data)
		return;
	for (struct client **p = &a->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	a->n_clients--;
	free(c->in);
	free(c);
	admin_unref(a);
}

static void client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct client *c = w->c;

	free(w->text);
	free(w);
	c->pending--;
	if (status < 0 && !c->closing)
		client_close(c);
	client_maybe_free(c);
}

/* Sends one response line; takes the reference to j. */
static void send_json(struct client *c, json_t *j)
{
	struct wreq *w;
	char *text;
	uv_buf_t buf;

	if (!j)
		j = json_pack("{sb s{ss ss}}", "ok", 0, "error", "code", "internal", "message",
		              "out of memory");
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (c->closing || !text || !(w = calloc(1, sizeof(*w)))) {
		free(text);
		if (!c->closing)
			client_close(c);
		return;
	}
	/* json_dumps leaves room only for the NUL: swap it for the newline. */
	size_t len = strlen(text);
	text[len] = '\n';
	w->c = c;
	w->text = text;
	buf = uv_buf_init(text, (unsigned)len + 1);
	c->pending++;
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written)) {
		c->pending--;
		free(text);
		free(w);
		client_close(c);
	}
}

static void send_ok(struct client *c, json_t *result)
{
	if (!result) {
		send_json(c, NULL);
		return;
	}
	send_json(c, json_pack("{sb so}", "ok", 1, "result", result));
}

static void send_error(struct client *c, const char *code, const char *message)
{
	send_json(c, json_pack("{sb s{ss ss}}", "ok", 0, "error", "code", code, "message", message));
}

/* -- helpers for the handlers ------------------------------------------------ */

typedef struct areq {
	struct client *c;
	struct pt_server *srv;
	const pt_admin_cmd *cmd;
	pt_admin_val v[PT_ADMIN_MAX_ARGS];
} areq;

static const pt_admin_val *arg(const areq *r, const char *name)
{
	const pt_admin_val *v = pt_admin_get(r->cmd, r->v, name);

	return v && v->set ? v : NULL;
}

static uint64_t arg_u(const areq *r, const char *name, uint64_t def)
{
	const pt_admin_val *v = arg(r, name);

	return v ? v->u : def;
}

static void audit(const areq *r, const char *detail)
{
	struct pt_server *s = r->srv;

	pt_log_info("admin (%s): %s %s", r->c->actor, r->cmd->name, detail);
	if (s->store)
		pt_store_audit(s->store, r->c->actor, r->cmd->name, detail, pt_clock_wall_ms());
}

static json_t *peer_json(struct pt_server *s, const pt_session *p, uint64_t now, uint64_t wall)
{
	char ip[PT_ADDR_STRLEN];

	pt_addr_format(&p->addr, ip);
	return json_pack("{ss ss sI sI sI sI}", "id", p->id_str, "ip", ip, "connected_at",
	                 (json_int_t)(wall - (now - p->connected_ms)), "connected_ms",
	                 (json_int_t)(now - p->connected_ms), "hashes",
	                 (json_int_t)pt_index_peer_count(s->index, p->handle), "queue_bytes",
	                 (json_int_t)p->q_bytes);
}

static int by_age(const void *a, const void *b)
{
	const pt_session *x = *(pt_session *const *)a, *y = *(pt_session *const *)b;

	if (x->connected_ms != y->connected_ms)
		return x->connected_ms < y->connected_ms ? -1 : 1;
	return memcmp(x->id.b, y->id.b, sizeof(x->id.b));
}

static pt_session *live_peer(struct pt_server *s, const pt_id *id)
{
	uint32_t h = pt_registry_find(s->registry, id);
	pt_session *p = h == PT_HANDLE_NONE ? NULL : pt_registry_session(s->registry, h);

	return p && p->state == PT_SESSION_LIVE ? p : NULL;
}

/* -- handlers on the loop ------------------------------------------------------ */

static void do_help(areq *r)
{
	const pt_admin_val *name = arg(r, "command");
	json_t *all = pt_admin_help_json();

	if (name && all) {
		const pt_admin_cmd *c = pt_admin_cmd_find(name->s);

		if (!c) {
			json_decref(all);
			send_error(r->c, "not-found", "no such command");
			return;
		}
		json_t *one = json_incref(json_array_get(all, (size_t)(c - pt_admin_cmds)));
		json_object_set_new(one, "help", json_string(c->help));
		json_decref(all);
		send_ok(r->c, one);
		return;
	}
	send_ok(r->c, all);
}

static void do_status(areq *r)
{
	struct pt_server *s = r->srv;
	pt_store_health h = {0};

	if (s->store)
		pt_store_health_get(s->store, &h);
	send_ok(r->c, json_pack("{ss sI si sI si si sI sI sI s{sb sI sI sI sI sI ss*}}", "version",
	                        PT_VERSION, "uptime_ms", (json_int_t)(pt_server_now(s) - s->t0_ms),
	                        "port", s->port, "peers", (json_int_t)pt_registry_count(s->registry),
	                        "sockets", (int)s->sockets, "max_connections",
	                        (int)s->cfg.max_connections, "index_entries",
	                        (json_int_t)pt_index_entries(s->index), "index_hashes",
	                        (json_int_t)pt_index_hashes(s->index), "bans", (json_int_t)s->bans.n,
	                        "store", "ok", h.ok && s->store, "queue_depth",
	                        (json_int_t)h.queue_depth, "flushes", (json_int_t)h.flushes,
	                        "errors", (json_int_t)h.errors, "dropped", (json_int_t)h.dropped,
	                        "last_flush_us", (json_int_t)h.last_flush_us, "path", s->db_path));
}

static void do_peers(areq *r)
{
	struct pt_server *s = r->srv;
	const pt_admin_val *ip = arg(r, "ip"), *has = arg(r, "has");
	uint64_t limit = arg_u(r, "limit", 100), now = pt_server_now(s), wall = pt_clock_wall_ms();
	uint32_t lim = pt_registry_limit(s->registry), n = 0;
	pt_session **v = calloc(lim ? lim : 1, sizeof(*v));
	json_t *arr = json_array(), *res;

	if (!v || !arr) {
		free(v);
		json_decref(arr);
		send_json(r->c, NULL);
		return;
	}
	for (uint32_t h = 0; h < lim; h++) {
		pt_session *p = pt_registry_session(s->registry, h);

		if (!p || p->state != PT_SESSION_LIVE)
			continue;
		if (ip && !pt_cidr_contains(&ip->cidr, &p->addr))
			continue;
		if (has && !pt_index_has(s->index, p->handle, &has->hash))
			continue;
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), by_age);
	for (uint32_t i = 0; i < n && i < limit; i++)
		json_array_append_new(arr, peer_json(s, v[i], now, wall));
	res = json_pack("{sI so}", "total", (json_int_t)n, "peers", arr);
	free(v);
	send_ok(r->c, res);
}

static void add_hash(const pt_hash *h, void *arg)
{
	char hex[PT_HASH_HEX + 1];

	if (json_array_size(arg) >= 1000)
		return;
	pt_hash_format(h, hex);
	json_array_append_new(arg, json_string(hex));
}

static void do_peer(areq *r)
{
	struct pt_server *s = r->srv;
	pt_session *p = live_peer(s, &arg(r, "id")->id);
	json_t *o, *hashes;

	if (!p) {
		send_error(r->c, "not-found", "no live peer has that id");
		return;
	}
	o = peer_json(s, p, pt_server_now(s), pt_clock_wall_ms());
	hashes = json_array();
	if (o && hashes) {
		pt_index_peer_foreach(s->index, p->handle, add_hash, hashes);
		json_object_set_new(o, "last_rx_ms", json_integer((json_int_t)(pt_server_now(s) - p->last_rx_ms)));
		json_object_set_new(o, "contacts", json_integer(p->n_contacts));
		json_object_set(o, "hash_list", hashes);
	}
	json_decref(hashes);
	send_ok(r->c, o);
}

static void do_who_has(areq *r)
{
	struct pt_server *s = r->srv;
	const uint32_t *holders;
	size_t n = pt_index_holders(s->index, &arg(r, "hash")->hash, &holders);
	uint64_t limit = arg_u(r, "limit", 100), now = pt_server_now(s), wall = pt_clock_wall_ms();
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n && i < limit; i++) {
		pt_session *p = pt_registry_session(s->registry, holders[i]);

		if (p)
			json_array_append_new(arr, peer_json(s, p, now, wall));
	}
	send_ok(r->c, arr ? json_pack("{sI so}", "total", (json_int_t)n, "peers", arr) : NULL);
}

static void do_kick(areq *r)
{
	struct pt_server *s = r->srv;
	const pt_admin_val *reason = arg(r, "reason");
	pt_session *p = live_peer(s, &arg(r, "id")->id);
	char detail[300];

	if (!p) {
		send_error(r->c, "not-found", "no live peer has that id");
		return;
	}
	snprintf(detail, sizeof(detail), "%s%s%s", p->id_str, reason ? " reason=" : "",
	         reason ? reason->s : "");
	audit(r, detail);
	send_ok(r->c, json_pack("{ss}", "kicked", p->id_str));
	pt_session_close(p, PT_CLOSE_KICKED, "kicked by an operator", PT_LEAVE_KICKED);
}

static json_t *ban_json(const pt_ban *b)
{
	char c[PT_ADDR_STRLEN + 4];

	pt_cidr_format(&b->cidr, c);
	return json_pack("{ss ss sI sI}", "cidr", c, "reason", b->reason, "created_at",
	                 (json_int_t)b->created_ms, "expires_at", (json_int_t)b->expires_ms);
}

static void do_ban(areq *r)
{
	struct pt_server *s = r->srv;
	const pt_admin_val *c = arg(r, "cidr"), *why = arg(r, "reason");
	uint64_t for_ms = arg_u(r, "for", 0);
	pt_ban b;
	char detail[400], text[PT_ADDR_STRLEN + 4];
	int dropped = pt_ops_ban(s, &c->cidr, for_ms, why ? why->s : "", &b);
	json_t *o;

	if (dropped < 0) {
		send_error(r->c, "internal", "out of memory");
		return;
	}
	pt_cidr_format(&c->cidr, text);
	snprintf(detail, sizeof(detail), "%s for=%llus dropped=%d reason=%s", text,
	         (unsigned long long)(for_ms / 1000), dropped, why ? why->s : "");
	audit(r, detail);
	o = ban_json(&b);
	if (o)
		json_object_set_new(o, "dropped", json_integer(dropped));
	send_ok(r->c, o);
}

static void do_unban(areq *r)
{
	const pt_admin_val *c = arg(r, "cidr");
	char text[PT_ADDR_STRLEN + 4];

	pt_cidr_format(&c->cidr, text);
	if (pt_ops_unban(r->srv, &c->cidr) <= 0) {
		send_error(r->c, "not-found", "no ban on exactly that range (see `bans`)");
		return;
	}
	audit(r, text);
	send_ok(r->c, json_pack("{ss}", "unbanned", text));
}

static void do_bans(areq *r)
{
	struct pt_server *s = r->srv;
	json_t *arr = json_array();

	pt_banlist_expire(&s->bans, pt_clock_wall_ms());
	for (size_t i = 0; arr && i < s->bans.n; i++)
		json_array_append_new(arr, ban_json(&s->bans.v[i]));
	send_ok(r->c, arr);
}

static void do_reload(areq *r)
{
	audit(r, "");
	if (pt_server_reload(r->srv)) {
		send_error(r->c, "failed", "the configuration was refused (see the daemon's log)");
		return;
	}
	send_ok(r->c, json_pack("{sb}", "reloaded", 1));
}

/* -- handlers in the thread pool (database reads) ------------------------------ */

static void process_lines(struct client *c);

static void work_run(uv_work_t *req)
{
	struct work *w = req->data;

	switch (w->cmd->id) {
	case PT_ADM_STATS:
		w->err = pt_store_query_stats(w->db_path, w->since_ms, w->now_ms, w->n, &w->result,
		                              w->msg, sizeof(w->msg));
		break;
	case PT_ADM_RESOURCES:
		w->err = pt_store_query_top(w->db_path, w->n, &w->result, w->msg, sizeof(w->msg));
		break;
	case PT_ADM_HISTORY:
		w->err = pt_store_query_history(w->db_path, w->since_ms, w->n, &w->result, w->msg,
		                                sizeof(w->msg));
		break;
	case PT_ADM_AUDIT:
		w->err = pt_store_query_audit(w->db_path, w->n, &w->result, w->msg, sizeof(w->msg));
		break;
	default:
		w->err = -ENOSYS;
		break;
	}
}

/* Back on the loop: live holder counts are added to `resources` here. */
static void work_done(uv_work_t *req, int status)
{
	struct work *w = req->data;
	struct client *c = w->c;
	struct pt_server *s = c->adm->srv;

	c->pending--;
	c->busy = false;
	if (status < 0 || w->err) {
		if (!c->closing)
			send_error(c, "unavailable", status < 0 ? "cancelled" : w->msg);
	} else {
		if (w->cmd->id == PT_ADM_RESOURCES && s) {
			size_t i;
			json_t *row;

			json_array_foreach(w->result, i, row) {
				const char *hex = json_string_value(json_object_get(row, "hash"));
				const uint32_t *holders;
				pt_hash h;

				if (hex && !pt_hash_parse(hex, strlen(hex), &h))
					json_object_set_new(row, "holders",
					                    json_integer((json_int_t)pt_index_holders(s->index, &h, &holders)));
			}
		}
		if (!c->closing)
			send_ok(c, w->result);
		else
			json_decref(w->result);
		w->result = NULL;
	}
	json_decref(w->result);
	free(w->db_path);
	free(w);
	if (!c->closing && s)
		process_lines(c);
	client_maybe_free(c);
}

static void do_db(areq *r)
{
	struct pt_server *s = r->srv;
	struct work *w = calloc(1, sizeof(*w));
	uint64_t now = pt_clock_wall_ms();

	if (!w || !(w->db_path = strdup(s->db_path))) {
		free(w);
		send_json(r->c, NULL);
		return;
	}
	w->req.data = w;
	w->c = r->c;
	w->cmd = r->cmd;
	w->now_ms = now;
	w->since_ms = now - (arg_u(r, "since", DEFAULT_SINCE_MS) < now ? arg_u(r, "since", DEFAULT_SINCE_MS) : now);
	switch (r->cmd->id) {
	case PT_ADM_STATS: w->n = (unsigned)arg_u(r, "points", 24); break;
	case PT_ADM_RESOURCES: w->n = (unsigned)arg_u(r, "top", 10); break;
	default: w->n = (unsigned)arg_u(r, "limit", 50); break;
	}
	if (uv_queue_work(s->loop, &w->req, work_run, work_done)) {
		free(w->db_path);
		free(w);
		send_error(r->c, "internal", "cannot queue the read");
		return;
	}
	r->c->pending++;
	r->c->busy = true;
}

typedef void (*handler)(areq *r);

static const handler handlers[PT_ADM__COUNT] = {
	[PT_ADM_HELP] = do_help,
	[PT_ADM_STATUS] = do_status,
	[PT_ADM_PEERS] = do_peers,
	[PT_ADM_PEER] = do_peer,
	[PT_ADM_WHO_HAS] = do_who_has,
	[PT_ADM_RESOURCES] = do_db,
	[PT_ADM_STATS] = do_db,
	[PT_ADM_HISTORY] = do_db,
	[PT_ADM_AUDIT] = do_db,
	[PT_ADM_KICK] = do_kick,
	[PT_ADM_BAN] = do_ban,
	[PT_ADM_UNBAN] = do_unban,
	[PT_ADM_BANS] = do_bans,
	[PT_ADM_RELOAD] = do_reload,
};

/* -- requests -------------------------------------------------------------------- */

static void handle_line(struct client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *name;
	areq r = { .c = c, .srv = c->adm->srv };
	char err[256];

	if (!j || !json_is_object(j)) {
		send_error(c, "bad-request", "not a JSON object");
		goto out;
	}
	name = json_string_value(json_object_get(j, "cmd"));
	if (!name) {
		send_error(c, "bad-request", "cmd: missing or not a string");
		goto out;
	}
	if (!(r.cmd = pt_admin_cmd_find(name))) {
		send_error(c, "unknown-command", "no such command (try help)");
		goto out;
	}
	if (pt_admin_validate(r.cmd, json_object_get(j, "args"), r.v, err, sizeof(err))) {
		send_error(c, "bad-args", err);
		goto out;
	}
	handlers[r.cmd->id](&r);
out:
	json_decref(j);
}

/* Handles the complete lines buffered, stopping while one is in the pool. */
static void process_lines(struct client *c)
{
	size_t off = 0;

	while (!c->busy && !c->closing && off < c->in_len) {
		char *nl = memchr(c->in + off, '\n', c->in_len - off);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - (c->in + off));
		if (len && c->in[off + len - 1] == '\r')
			len--;
		if (len)
			handle_line(c, c->in + off, len);
		off = (size_t)(nl - c->in) + 1;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	if (!c->closing && !c->busy && c->in_len > PT_ADMIN_MAX_LINE) {
		send_error(c, "bad-request", "line too long");
		client_close(c);
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = h->data;
	size_t want = c->in_len + 4096;

	(void)hint;
	if (want > c->in_cap) {
		char *p = realloc(c->in, want);

		if (!p) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->in = p;
		c->in_cap = want;
	}
	*buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = st->data;

	(void)buf;
	if (n < 0) {
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	/* Lines queue up behind a read in the pool: bound them too. */
	if (c->in_len > 4 * PT_ADMIN_MAX_LINE) {
		send_error(c, "bad-request", "too much input");
		client_close(c);
		return;
	}
	process_lines(c);
}

static void free_unaccepted(uv_handle_t *h)
{
	free(h->data);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct pt_admin *a = server->data;
	struct client *c;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	uv_os_fd_t fd;

	if (status < 0 || !a->srv || !(c = calloc(1, sizeof(*c))))
		return;
	c->adm = a;
	uv_pipe_init(a->srv->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe)) {
		uv_close((uv_handle_t *)&c->pipe, free_unaccepted);
		return;
	}
	a->refs++;
	a->n_clients++;
	c->next = a->clients;
	a->clients = c;
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
		snprintf(c->actor, sizeof(c->actor), "uid=%u pid=%d", (unsigned)cred.uid, (int)cred.pid);
	else
		snprintf(c->actor, sizeof(c->actor), "unknown");
	if (a->n_clients > MAX_CLIENTS) {
		send_error(c, "busy", "too many admin clients");
		client_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* -- listener --------------------------------------------------------------------- */

int pt_admin_start(struct pt_server *s, const char *path, struct pt_admin **out)
{
	struct pt_admin *a;
	struct stat st;
	int r;

	*out = NULL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		pt_log_error("admin_socket: '%s' is too long for a Unix socket path", path);
		return -1;
	}
	if (!(a = calloc(1, sizeof(*a))) || !(a->path = strdup(path))) {
		free(a);
		pt_log_error("out of memory");
		return -1;
	}
	a->srv = s;
	a->refs = 1;
	/* A stale socket from a crash would make bind fail; anything that is
	 * not a socket is left alone. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	uv_pipe_init(s->loop, &a->listener, 0);
	a->listener.data = a;
	/* bind() creates the socket with 0777 & ~umask: set the umask for
	 * 0660 around it, so the socket never exists with a wider mode (a
	 * chmod afterwards leaves a window in which anyone may connect). The
	 * umask is process-wide: the store's writer thread, the only other
	 * one by now, creates its files 0644, which 0117 makes 0640. */
	mode_t old = umask(0117);
	r = uv_pipe_bind(&a->listener, path);
	umask(old);
	if (r || (r = uv_listen((uv_stream_t *)&a->listener, 8, on_connection))) {
		pt_log_error("admin socket %s: %s", path, uv_strerror(r));
		a->srv = NULL;
		pt_admin_close(a);
		return -1;
	}
	pt_log_info("admin socket on %s", path);
	*out = a;
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	admin_unref(h->data);
}

void pt_admin_close(struct pt_admin *a)
{
	if (!a)
		return;
	if (a->srv && a->path)
		unlink(a->path);
	a->srv = NULL;
	for (struct client *c = a->clients; c; c = c->next)
		client_close(c);
	uv_close((uv_handle_t *)&a->listener, on_listener_closed);
}
