/* admin.c — the admin socket (adminsock.h): a Unix stream socket (mode
 * 0660) on the daemon's loop speaking JSON lines (admin.h,
 * docs/OPERATIONS.md).
 *
 * Each request is validated once by pt_admin_validate against the shared
 * command table, then dispatched by command id to a handler here. Live
 * state (peers, bans) is asked of the process through pt_admin_ops and
 * answered at once; database reads (the table's `offline` commands) go to
 * libuv's thread pool with their own read-only connection, so the loop
 * never waits on sqlite; in cluster mode who-has also asks Redis for the
 * other nodes' holders through the ops, without blocking. A client's
 * requests are answered in order: reading pauses while one is in the pool
 * or waits on Redis. A command the table marks
 * `mutating` is written to the audit log once it acted.
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
#include "peertrack/adminsock.h"
#include "peertrack/clock.h"
#include "peertrack/log.h"

#define MAX_CLIENTS 16

struct client;

struct pt_admin {
	bool open;              /* false once closed: work finishing late must not use ops */
	uv_loop_t *loop;
	pt_admin_ops ops;
	uv_pipe_t listener;
	char *path;
	char *db_path;
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
	pt_admin_val v[PT_ADMIN_MAX_ARGS]; /* strings point into the table or nowhere */
	char *db_path;
	uint64_t now_ms;
	json_t *result;
	int err;
	char msg[256];
};

static void admin_unref(struct pt_admin *a)
{
	if (--a->refs)
		return;
	free(a->path);
	free(a->db_path);
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
	const pt_admin_ops *ops;
	const pt_admin_cmd *cmd;
	pt_admin_val v[PT_ADMIN_MAX_ARGS];
	bool acted;             /* a mutating command did something: audit it */
	char detail[400];
} areq;

static const pt_admin_val *arg(const areq *r, const char *name)
{
	const pt_admin_val *v = pt_admin_get(r->cmd, r->v, name);

	return v && v->set ? v : NULL;
}

/* With the table's default when not given. */
static uint64_t arg_u(const areq *r, const char *name)
{
	return pt_admin_get(r->cmd, r->v, name)->u;
}

static void audit(const areq *r)
{
	pt_log_info("admin (%s): %s %s", r->c->actor, r->cmd->name, r->detail);
	r->ops->audit(r->ops->arg, r->c->actor, r->cmd->name, r->detail);
}

static json_t *peer_json(const pt_peer_info *p, uint64_t wall)
{
	char ip[PT_ADDR_STRLEN];

	pt_addr_format(&p->addr, ip);
	return json_pack("{ss ss sI sI sI sI}", "id", p->id, "ip", ip, "connected_at",
	                 (json_int_t)(wall - p->connected_ms), "connected_ms",
	                 (json_int_t)p->connected_ms, "hashes", (json_int_t)p->hashes, "queue_bytes",
	                 (json_int_t)p->queue_bytes);
}

/* Oldest first; ties by id, so the order is stable. */
static int by_age(const void *a, const void *b)
{
	const pt_peer_info *x = a, *y = b;

	if (x->connected_ms != y->connected_ms)
		return x->connected_ms > y->connected_ms ? -1 : 1;
	return memcmp(x->id_bin.b, y->id_bin.b, sizeof(x->id_bin.b));
}

static void process_lines(struct client *c);

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
	send_ok(r->c, r->ops->status(r->ops->arg));
}

struct peer_vec {
	pt_peer_info *v;
	uint32_t n, cap;
	bool nomem;
};

static bool collect(const pt_peer_info *p, void *arg)
{
	struct peer_vec *pv = arg;

	if (pv->n == pv->cap) {
		uint32_t cap = pv->cap ? pv->cap * 2 : 64;
		pt_peer_info *v = realloc(pv->v, cap * sizeof(*v));

		if (!v) {
			pv->nomem = true;
			return false;
		}
		pv->v = v;
		pv->cap = cap;
	}
	pv->v[pv->n++] = *p;
	return true;
}

static void do_peers(areq *r)
{
	const pt_admin_val *ip = arg(r, "ip"), *has = arg(r, "has");
	uint64_t limit = arg_u(r, "limit"), wall = pt_clock_wall_ms();
	struct peer_vec pv = {0};
	uint32_t total = r->ops->peers(r->ops->arg, ip ? &ip->cidr : NULL, has ? &has->hash : NULL,
	                               collect, &pv);
	json_t *arr = json_array();

	if (pv.nomem || !arr) {
		free(pv.v);
		json_decref(arr);
		send_json(r->c, NULL);
		return;
	}
	if (pv.n) /* qsort's base must not be NULL, even for no elements */
		qsort(pv.v, pv.n, sizeof(*pv.v), by_age);
	for (uint32_t i = 0; i < pv.n && i < limit; i++)
		json_array_append_new(arr, peer_json(&pv.v[i], wall));
	free(pv.v);
	send_ok(r->c, json_pack("{sI so}", "total", (json_int_t)total, "peers", arr));
}

static void add_hash(const pt_key *k, void *arg)
{
	char hex[PT_HASH_HEX + 1];

	if (json_array_size(arg) >= 1000)
		return;
	pt_key_format(k, hex);
	json_array_append_new(arg, json_string(hex));
}

static void do_peer(areq *r)
{
	const pt_id *id = &arg(r, "id")->id;
	pt_peer_info p;
	json_t *o, *hashes;

	if (r->ops->peer(r->ops->arg, id, &p)) {
		send_error(r->c, "not-found", "no live peer has that id");
		return;
	}
	o = peer_json(&p, pt_clock_wall_ms());
	hashes = json_array();
	if (o && hashes) {
		r->ops->peer_hashes(r->ops->arg, id, add_hash, hashes);
		json_object_set_new(o, "last_rx_ms", json_integer((json_int_t)p.idle_ms));
		json_object_set_new(o, "contacts", json_integer(p.contacts));
		json_object_set_new(o, "bad_reports", json_integer(p.bad_reports));
		json_object_set(o, "hash_list", hashes);
	}
	json_decref(hashes);
	send_ok(r->c, o);
}

struct holders_out {
	json_t *arr;
	uint64_t limit, wall;
};

static bool add_holder(const pt_peer_info *p, void *arg)
{
	struct holders_out *h = arg;

	if (json_array_size(h->arr) >= h->limit)
		return false;
	json_array_append_new(h->arr, peer_json(p, h->wall));
	return true;
}

/* A who-has waiting for the other nodes' holders (cluster mode): the
 * client reads no further request meanwhile, as for a database read. */
struct who_has {
	struct client *c;
	json_t *arr;            /* this node's holders, at most limit */
	uint64_t limit;
	uint32_t total;
};

static void set_node(json_t *o, const char *id)
{
	pt_id bin;
	char tag[3];

	if (!id || pt_id_decode(id, strlen(id), &bin))
		return;
	pt_id_tag_format(pt_id_tag(&bin), tag);
	json_object_set_new(o, "node", json_string(tag));
}

/* Cluster mode: every holder is marked with its node, the other nodes'
 * after this one's; "cluster" says whether they could be asked. */
static void who_has_send(struct client *c, json_t *arr, uint32_t total, int status,
                         const pt_admin_remote *v, size_t n, uint64_t limit)
{
	size_t i;
	json_t *p;

	json_array_foreach(arr, i, p)
		set_node(p, json_string_value(json_object_get(p, "id")));
	for (i = 0; i < n; i++) {
		char id[PT_ID_CHARS + 1], ip[PT_ADDR_STRLEN];

		if (json_array_size(arr) >= limit)
			break;
		pt_id_encode(&v[i].id, id);
		pt_addr_format(&v[i].addr, ip);
		p = json_pack("{ss ss}", "id", id, "ip", ip);
		set_node(p, id);
		json_array_append_new(arr, p);
	}
	send_ok(c, json_pack("{sI so ss}", "total", (json_int_t)(total + n), "peers", arr, "cluster",
	                     status ? "unavailable" : "ok"));
}

static void who_has_remote(void *arg, int status, const pt_admin_remote *v, size_t n)
{
	struct who_has *w = arg;
	struct client *c = w->c;

	c->pending--;
	c->busy = false;
	if (!c->closing)
		who_has_send(c, w->arr, w->total, status, v, status ? 0 : n, w->limit);
	else
		json_decref(w->arr);
	free(w);
	if (!c->closing && c->adm->open)
		process_lines(c);
	client_maybe_free(c);
}

static void do_who_has(areq *r)
{
	const pt_key *k = &arg(r, "hash")->hash;
	struct holders_out h = { json_array(), arg_u(r, "limit"), pt_clock_wall_ms() };
	struct who_has *w;
	uint32_t n;
	int e;

	if (!h.arr) {
		send_json(r->c, NULL);
		return;
	}
	n = r->ops->holders(r->ops->arg, k, add_holder, &h);
	if (!r->ops->remote_holders || !(w = malloc(sizeof(*w)))) {
		send_ok(r->c, json_pack("{sI so}", "total", (json_int_t)n, "peers", h.arr));
		return;
	}
	*w = (struct who_has){ r->c, h.arr, h.limit, n };
	e = r->ops->remote_holders(r->ops->arg, k, who_has_remote, w);
	if (e == 0) {
		r->c->pending++;
		r->c->busy = true;
		return;
	}
	free(w);
	if (e == -ENOTCONN)
		send_ok(r->c, json_pack("{sI so}", "total", (json_int_t)n, "peers", h.arr));
	else
		who_has_send(r->c, h.arr, n, e, NULL, 0, h.limit);
}

static void do_kick(areq *r)
{
	const pt_admin_val *reason = arg(r, "reason");
	pt_peer_info p;

	if (r->ops->peer(r->ops->arg, &arg(r, "id")->id, &p)) {
		/* Cluster mode: a peer of another node is that node's to kick. */
		char id[PT_ID_CHARS + 1];

		if (r->ops->kick(r->ops->arg, &arg(r, "id")->id)) {
			send_error(r->c, "not-found", "no live peer has that id");
			return;
		}
		pt_id_encode(&arg(r, "id")->id, id);
		snprintf(r->detail, sizeof(r->detail), "%s (another node)%s%s", id,
		         reason ? " reason=" : "", reason ? reason->s : "");
		r->acted = true;
		send_ok(r->c, json_pack("{ss ss}", "kicked", id, "node", "another"));
		return;
	}
	snprintf(r->detail, sizeof(r->detail), "%s%s%s", p.id, reason ? " reason=" : "",
	         reason ? reason->s : "");
	r->acted = true;
	send_ok(r->c, json_pack("{ss}", "kicked", p.id));
	r->ops->kick(r->ops->arg, &p.id_bin);
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
	const pt_admin_val *c = arg(r, "cidr"), *why = arg(r, "reason");
	uint64_t for_ms = arg_u(r, "for");
	pt_ban b;
	char text[PT_ADDR_STRLEN + 4];
	int dropped = r->ops->ban(r->ops->arg, &c->cidr, for_ms, why ? why->s : "", &b);
	json_t *o;

	if (dropped < 0) {
		send_error(r->c, "internal", "out of memory");
		return;
	}
	pt_cidr_format(&c->cidr, text);
	snprintf(r->detail, sizeof(r->detail), "%s for=%llus dropped=%d reason=%s", text,
	         (unsigned long long)(for_ms / 1000), dropped, why ? why->s : "");
	r->acted = true;
	o = ban_json(&b);
	if (o)
		json_object_set_new(o, "dropped", json_integer(dropped));
	send_ok(r->c, o);
}

static void do_unban(areq *r)
{
	const pt_admin_val *c = arg(r, "cidr");

	pt_cidr_format(&c->cidr, r->detail);
	if (r->ops->unban(r->ops->arg, &c->cidr) <= 0) {
		send_error(r->c, "not-found", "no ban on exactly that range (see `bans`)");
		return;
	}
	r->acted = true;
	send_ok(r->c, json_pack("{ss}", "unbanned", r->detail));
}

static void do_bans(areq *r)
{
	const pt_banlist *l = r->ops->bans(r->ops->arg);
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < l->n; i++)
		json_array_append_new(arr, ban_json(&l->v[i]));
	send_ok(r->c, arr);
}

static void info_hash_of(const pt_admin_val *v, pt_wt_id *ih, char hex[PT_HASH_HEX + 1])
{
	memcpy(ih->b, v->hash.h.b, PT_WT_ID_BYTES);
	pt_key_format(&v->hash, hex);
}

static void do_allow(areq *r)
{
	char hex[PT_HASH_HEX + 1];
	pt_wt_id ih;
	int added;

	info_hash_of(arg(r, "info_hash"), &ih, hex);
	added = r->ops->allow(r->ops->arg, &ih);
	if (added == -ENOSPC) {
		send_error(r->c, "full", "the allow-list holds wt_max_allowed info_hashes");
		return;
	}
	if (added < 0) {
		send_error(r->c, "internal", "out of memory");
		return;
	}
	snprintf(r->detail, sizeof(r->detail), "%s", hex);
	r->acted = added > 0;
	send_ok(r->c, json_pack("{sssb}", "allowed", hex, "added", added > 0));
}

static void do_disallow(areq *r)
{
	char hex[PT_HASH_HEX + 1];
	pt_wt_id ih;

	info_hash_of(arg(r, "info_hash"), &ih, hex);
	if (r->ops->disallow(r->ops->arg, &ih) <= 0) {
		send_error(r->c, "not-found", "that info_hash is not on the allow-list (see `allowed`)");
		return;
	}
	snprintf(r->detail, sizeof(r->detail), "%s", hex);
	r->acted = true;
	send_ok(r->c, json_pack("{ss}", "disallowed", hex));
}

static void do_allowed(areq *r)
{
	bool on = false;
	const pt_wt_allow *l = r->ops->allowed(r->ops->arg, &on);
	uint64_t limit = arg_u(r, "limit");
	json_t *arr = json_array(), *o;

	for (size_t i = 0; arr && i < l->n && i < limit; i++) {
		pt_key k = { .space = PT_SPACE_WT };
		char hex[PT_HASH_HEX + 1];

		memcpy(k.h.b, l->v[i].b, PT_WT_ID_BYTES);
		pt_key_format(&k, hex);
		json_array_append_new(arr, json_string(hex));
	}
	o = arr ? json_pack("{sbsIso}", "enforced", on, "total", (json_int_t)l->n, "info_hashes", arr)
	        : NULL;
	send_ok(r->c, o);
}

static void do_reload(areq *r)
{
	/* Tried is worth auditing, applied or refused. */
	r->acted = true;
	if (r->ops->reload(r->ops->arg)) {
		send_error(r->c, "failed", "the configuration was refused (see the daemon's log)");
		return;
	}
	send_ok(r->c, json_pack("{sb}", "reloaded", 1));
}

/* -- handlers in the thread pool (database reads) ------------------------------ */

static void work_run(uv_work_t *req)
{
	struct work *w = req->data;

	w->err = pt_admin_query(w->db_path, w->cmd, w->v, w->now_ms, &w->result, w->msg,
	                        sizeof(w->msg));
}

static bool count_holders(const pt_peer_info *p, void *arg)
{
	(void)p;
	(void)arg;
	return false;
}

/* Back on the loop: live holder counts are added to `resources` here. */
static void work_done(uv_work_t *req, int status)
{
	struct work *w = req->data;
	struct client *c = w->c;
	struct pt_admin *a = c->adm;

	c->pending--;
	c->busy = false;
	if (status < 0 || w->err) {
		if (!c->closing)
			send_error(c, "unavailable", status < 0 ? "cancelled" : w->msg);
	} else {
		if (w->cmd->id == PT_ADM_RESOURCES && a->open) {
			size_t i;
			json_t *row;

			json_array_foreach(w->result, i, row) {
				const char *hex = json_string_value(json_object_get(row, "hash"));
				pt_key h;

				if (hex && !pt_key_parse(hex, strlen(hex), &h))
					json_object_set_new(row, "holders",
					                    json_integer(a->ops.holders(a->ops.arg, &h,
					                                                count_holders, NULL)));
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
	if (!c->closing && a->open)
		process_lines(c);
	client_maybe_free(c);
}

static void do_db(areq *r)
{
	struct pt_admin *a = r->c->adm;
	struct work *w = calloc(1, sizeof(*w));

	if (!w || !(w->db_path = strdup(a->db_path))) {
		free(w);
		send_json(r->c, NULL);
		return;
	}
	w->req.data = w;
	w->c = r->c;
	w->cmd = r->cmd;
	w->now_ms = pt_clock_wall_ms();
	/* The line the values came from is gone by the time the pool runs:
	 * the database commands take numbers only (strings are borrowed). */
	memcpy(w->v, r->v, sizeof(w->v));
	for (int i = 0; i < PT_ADMIN_MAX_ARGS; i++)
		w->v[i].s = NULL;
	if (uv_queue_work(a->loop, &w->req, work_run, work_done)) {
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
	[PT_ADM_ALLOW] = do_allow,
	[PT_ADM_DISALLOW] = do_disallow,
	[PT_ADM_ALLOWED] = do_allowed,
};

/* -- requests -------------------------------------------------------------------- */

static void handle_line(struct client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *name;
	areq r = { .c = c, .ops = &c->adm->ops };
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
	if (r.cmd->mutating && r.acted)
		audit(&r);
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

	if (status < 0 || !a->open || !(c = calloc(1, sizeof(*c))))
		return;
	c->adm = a;
	uv_pipe_init(a->loop, &c->pipe, 0);
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

int pt_admin_start(uv_loop_t *loop, const char *path, const char *db_path,
                   const pt_admin_ops *ops, pt_admin **out)
{
	struct pt_admin *a;
	struct stat st;
	int r;

	*out = NULL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		pt_log_error("admin_socket: '%s' is too long for a Unix socket path", path);
		return -1;
	}
	if (!(a = calloc(1, sizeof(*a))) || !(a->path = strdup(path)) ||
	    !(a->db_path = strdup(db_path))) {
		if (a)
			free(a->path);
		free(a);
		pt_log_error("out of memory");
		return -1;
	}
	a->open = true;
	a->loop = loop;
	a->ops = *ops;
	a->refs = 1;
	/* A stale socket from a crash would make bind fail; anything that is
	 * not a socket is left alone. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	uv_pipe_init(loop, &a->listener, 0);
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
		a->open = false;
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
	if (a->open && a->path)
		unlink(a->path);
	a->open = false;
	for (struct client *c = a->clients; c; c = c->next)
		client_close(c);
	uv_close((uv_handle_t *)&a->listener, on_listener_closed);
}
