/* daemon.c — the peertrackd process context (daemon.h): the configuration
 * and its reload, the state directory, the store and the ban list, the
 * admin socket's interface, signals, the once-a-second tick and systemd
 * notification, around one loop's serving state (pt_server). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>

#include "peertrack/adminsock.h"
#include "peertrack/banlist.h"
#include "peertrack/clock.h"
#include "peertrack/log.h"
#include "peertrack/notify.h"
#include "peertrack/server.h"
#include "peertrack/store.h"
#include "peertrack/turn.h"
#include "daemon.h"

typedef struct pt_daemon {
	uv_loop_t loop;
	const char *config_path;   /* borrowed from main, as are the overrides */
	const pt_override *ov;
	size_t nov;
	pt_config cfg;             /* the running configuration */

	char *db_path;
	pt_store *store;
	pt_banlist bans;
	pt_wt_allow allowed;       /* the /announce info_hash allow-list */
	pt_admin *admin;
	pt_server *srv;            /* the loop's serving state */

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t tick;
	bool stopping;
} pt_daemon;

/* -- configuration ---------------------------------------------------------- */

int pt_daemon_config_build(const char *path, const pt_override *ov, size_t nov, pt_config *out,
                           char *err, size_t errlen)
{
	char why[512];

	pt_config_defaults(out);
	if (path && pt_config_load(out, path, err, errlen))
		goto fail;
	for (size_t i = 0; i < nov; i++) {
		char key[64];
		const char *eq = strchr(ov[i].kv, '=');
		size_t kl = eq ? (size_t)(eq - ov[i].kv) : 0;

		if (!eq || kl >= sizeof(key)) {
			snprintf(err, errlen, "wants KEY=VALUE, got '%s'", ov[i].kv);
			goto fail;
		}
		memcpy(key, ov[i].kv, kl);
		key[kl] = 0;
		if (pt_config_set(out, key, eq + 1, why, sizeof(why))) {
			snprintf(err, errlen, "%s%s%s", ov[i].origin ? ov[i].origin : "",
			         ov[i].origin ? ": " : "", why);
			goto fail;
		}
	}
	if (pt_config_validate(out, why, sizeof(why))) {
		snprintf(err, errlen, "%s%s%s", path ? path : "", path ? ": " : "", why);
		goto fail;
	}
	/* The TURN secret file must be readable, and the daemon's alone, for
	 * the config to count as valid (at start and on every reload). */
	{
		pt_ice ice = {0};
		int r = pt_ice_configure(&ice, out, why, sizeof(why));

		pt_ice_clear(&ice);
		if (r) {
			snprintf(err, errlen, "TURN secret: %s", why);
			goto fail;
		}
	}
	return 0;
fail:
	pt_config_free(out);
	return -1;
}

static void apply_log(const pt_config *c)
{
	pt_log_configure(c->log_level, c->log_format);
	pt_log_timestamps(c->log_time);
}

/* SIGHUP and `peertrackctl reload`. Certificates first, whatever the
 * config file says: a renewal hook must not depend on the file being
 * valid. The outcome goes to the log, the caller, /metrics and systemd. */
static int daemon_reload(pt_daemon *d)
{
	pt_config fresh;
	char err[600], changed[512] = "";
	int n;

	pt_notify_reloading();
	pt_server_reload_tls(d->srv);
	if (pt_daemon_config_build(d->config_path, d->ov, d->nov, &fresh, err, sizeof(err)))
		goto refuse;
	n = pt_config_reload(&d->cfg, &fresh, changed, sizeof(changed));
	if (n < 0 || pt_server_reconfigure(d->srv, &d->cfg)) {
		pt_config_free(&fresh);
		snprintf(err, sizeof(err), "out of memory");
		goto refuse;
	}
	pt_config_free(&fresh);
	if (n > 0)
		pt_log_warn("reload: %s changed but needs a restart", changed);
	apply_log(&d->cfg);
	pt_log_info("reloaded configuration%s%s", d->config_path ? " from " : "",
	            d->config_path ? d->config_path : "");
	pt_server_note_reload(d->srv, true, pt_clock_wall_ms());
	pt_notify_reloaded();
	return 0;
refuse:
	pt_log_error("reload refused, keeping the running configuration: %s", err);
	pt_server_note_reload(d->srv, false, pt_clock_wall_ms());
	pt_notify_reload_failed(err);
	return -1;
}

/* -- the admin socket's view of the process ------------------------------------ */

static json_t *op_status(void *arg)
{
	pt_daemon *d = arg;
	pt_server_status st;
	pt_store_health h = {0};

	pt_server_status_get(d->srv, &st);
	if (d->store)
		pt_store_health_get(d->store, &h);
	json_t *o = json_pack("{ss sI si sI si si sI sI sI s{sI sI sI} s{sb sI sI sI sI sI ss*}}", "version",
	                 PT_VERSION, "uptime_ms", (json_int_t)st.uptime_ms, "port", st.port, "peers",
	                 (json_int_t)st.peers, "sockets", (int)st.sockets, "max_connections",
	                 (int)st.max_connections, "index_entries", (json_int_t)st.index_entries,
	                 "index_hashes", (json_int_t)st.index_hashes, "bans", (json_int_t)d->bans.n,
	                 "bad_peer", "counted", (json_int_t)st.bad_counted, "ignored",
	                 (json_int_t)st.bad_ignored, "withdrawn", (json_int_t)st.bad_withdrawn,
	                 "store", "ok", h.ok && d->store, "queue_depth", (json_int_t)h.queue_depth,
	                 "flushes", (json_int_t)h.flushes, "errors", (json_int_t)h.errors, "dropped",
	                 (json_int_t)h.dropped, "last_flush_us", (json_int_t)h.last_flush_us, "path",
	                 d->db_path);
	json_t *cl = o ? pt_server_cluster_json(d->srv) : NULL;

	if (cl)
		json_object_set_new(o, "cluster", cl);
	return o;
}

static uint32_t op_peers(void *arg, const pt_cidr *in, const pt_key *has, pt_peer_fn fn, void *a)
{
	return pt_server_foreach_peer(((pt_daemon *)arg)->srv, in, has, fn, a);
}

static uint32_t op_holders(void *arg, const pt_key *h, pt_peer_fn fn, void *a)
{
	return pt_server_holders(((pt_daemon *)arg)->srv, h, fn, a);
}

struct remote_q {
	pt_admin_remote_fn *fn;
	void *fnarg;
};

static void on_remote_holders(void *arg, int status, const pt_cluster_cand *v, size_t n)
{
	struct remote_q *q = arg;
	pt_admin_remote *out = n ? malloc(n * sizeof(*out)) : NULL;

	if (n && !out) {
		status = -ENOMEM;
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (pt_admin_remote){ v[i].id, v[i].addr };
	q->fn(q->fnarg, status, out, n);
	free(out);
	free(q);
}

static int op_remote_holders(void *arg, const pt_key *k, pt_admin_remote_fn *fn, void *fnarg)
{
	struct remote_q *q = malloc(sizeof(*q));
	int r;

	if (!q)
		return -ENOMEM;
	*q = (struct remote_q){ fn, fnarg };
	if ((r = pt_server_remote_holders(((pt_daemon *)arg)->srv, k, on_remote_holders, q)))
		free(q);
	return r;
}

static int op_peer(void *arg, const pt_id *id, pt_peer_info *out)
{
	return pt_server_peer(((pt_daemon *)arg)->srv, id, out);
}

static int op_peer_hashes(void *arg, const pt_id *id, void (*fn)(const pt_key *k, void *a), void *a)
{
	return pt_server_peer_hashes(((pt_daemon *)arg)->srv, id, fn, a);
}

static int op_kick(void *arg, const pt_id *id)
{
	return pt_server_kick(((pt_daemon *)arg)->srv, id);
}

/* A ban here or from another node's operator (cluster mode): the list,
 * the store, and the live peers in its range. */
static int apply_ban(pt_daemon *d, const pt_cidr *c, uint64_t until_ms, const char *reason,
                     pt_ban *out)
{
	uint64_t now = pt_clock_wall_ms();

	if (pt_banlist_add(&d->bans, c, now, until_ms, reason) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < d->bans.n; i++)
		if (d->bans.v[i].cidr.prefix == c->prefix && pt_addr_equal(&d->bans.v[i].cidr.net, &c->net))
			*out = d->bans.v[i];
	if (d->store)
		pt_store_ban_add(d->store, out);
	return pt_server_drop(d->srv, c);
}

/* The ban applies to live peers at once, not only to new ones, and on
 * every node of a cluster. */
static int op_ban(void *arg, const pt_cidr *c, uint64_t for_ms, const char *reason, pt_ban *out)
{
	pt_daemon *d = arg;
	uint64_t until = for_ms ? pt_clock_wall_ms() + for_ms : 0;
	int r = apply_ban(d, c, until, reason, out);

	if (r >= 0 && pt_server_cluster_ban(d->srv, c, until, reason, false) == -EAGAIN)
		pt_log_warn("ban: Redis unreachable, the other nodes of the cluster do not have it");
	return r;
}

static int unban_here(pt_daemon *d, const pt_cidr *c)
{
	int r = pt_banlist_remove(&d->bans, c);

	if (r > 0 && d->store)
		pt_store_ban_remove(d->store, c);
	return r;
}

static int op_unban(void *arg, const pt_cidr *c)
{
	pt_daemon *d = arg;
	int r = unban_here(d, c);

	if (pt_server_cluster_ban(d->srv, c, 0, "", true) == -EAGAIN)
		pt_log_warn("unban: Redis unreachable, the other nodes of the cluster keep the ban");
	return r;
}

/* Cluster mode: a ban or unban another node's operator made (this node's
 * own come back too: adding the same ban again changes nothing). */
static void on_cluster_ban(void *arg, const pt_cidr *c, uint64_t until_ms, const char *reason,
                           bool unban)
{
	pt_daemon *d = arg;
	char text[PT_ADDR_STRLEN + 4];
	pt_ban b;
	int r;

	pt_cidr_format(c, text);
	for (size_t i = 0; i < d->bans.n; i++)
		if (!unban && d->bans.v[i].cidr.prefix == c->prefix &&
		    pt_addr_equal(&d->bans.v[i].cidr.net, &c->net) && d->bans.v[i].expires_ms == until_ms)
			return; /* ours, or heard already */
	if (unban) {
		if (unban_here(d, c) > 0)
			pt_log_info("unban %s from another node of the cluster", text);
		return;
	}
	r = apply_ban(d, c, until_ms, reason, &b);
	pt_log_info("ban %s from another node of the cluster: %d peers dropped", text, r);
}

static const pt_banlist *op_bans(void *arg)
{
	pt_daemon *d = arg;

	pt_banlist_expire(&d->bans, pt_clock_wall_ms());
	return &d->bans;
}

/* Takes effect at the next announce; swarms already joined are left as
 * they are (wt_allowlist in docs/PROTOCOL.md). */
static int allow_here(pt_daemon *d, const pt_wt_id *ih, bool add)
{
	int r = add ? pt_wt_allow_add(&d->allowed, ih, d->cfg.wt_max_allowed)
	            : pt_wt_allow_remove(&d->allowed, ih);

	if (r > 0 && d->store) {
		if (add)
			pt_store_wt_allow_add(d->store, ih, pt_clock_wall_ms());
		else
			pt_store_wt_allow_remove(d->store, ih);
	}
	return r;
}

/* The allow-list holds on every node of a cluster, as bans do. */
static int op_allow(void *arg, const pt_wt_id *ih)
{
	pt_daemon *d = arg;
	int r = allow_here(d, ih, true);

	if (r >= 0 && pt_server_cluster_allow(d->srv, ih, true) == -EAGAIN)
		pt_log_warn("allow: Redis unreachable, the other nodes of the cluster do not have it");
	return r;
}

static int op_disallow(void *arg, const pt_wt_id *ih)
{
	pt_daemon *d = arg;
	int r = allow_here(d, ih, false);

	if (pt_server_cluster_allow(d->srv, ih, false) == -EAGAIN)
		pt_log_warn("disallow: Redis unreachable, the other nodes of the cluster keep it");
	return r;
}

/* Cluster mode: an allow-list change from some node (this node's own come
 * back too and change nothing). */
static void on_cluster_allow(void *arg, const pt_wt_id *ih, bool add)
{
	pt_daemon *d = arg;
	char hex[41];

	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", ih->b[i]);
	if (allow_here(d, ih, add) > 0)
		pt_log_info("%s %s from another node of the cluster", add ? "allow" : "disallow", hex);
}

static const pt_wt_allow *op_allowed(void *arg, bool *enabled)
{
	pt_daemon *d = arg;

	*enabled = d->cfg.wt_allowlist;
	return &d->allowed;
}

static int op_reload(void *arg)
{
	return daemon_reload(arg);
}

static void op_audit(void *arg, const char *actor, const char *action, const char *detail)
{
	pt_daemon *d = arg;

	if (d->store)
		pt_store_audit(d->store, actor, action, detail, pt_clock_wall_ms());
}

/* -- signals, the tick, the stop ---------------------------------------------- */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void daemon_stop(pt_daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	pt_notify_stopping();
	pt_admin_close(d->admin);
	d->admin = NULL;
	close_handle((uv_handle_t *)&d->tick);
	close_handle((uv_handle_t *)&d->sig_hup);
	close_handle((uv_handle_t *)&d->sig_term);
	close_handle((uv_handle_t *)&d->sig_int);
	pt_server_stop(d->srv);
}

static void on_signal(uv_signal_t *h, int signum)
{
	pt_daemon *d = h->data;

	if (signum == SIGHUP)
		daemon_reload(d);
	else
		daemon_stop(d);
}

/* About once a second: the watchdog (the loop turns), a peers-over-time
 * sample for the store, expired bans out. */
static void on_tick(uv_timer_t *t)
{
	pt_daemon *d = t->data;
	pt_server_status st;

	pt_notify_watchdog(uv_now(&d->loop));
	pt_server_status_get(d->srv, &st);
	pt_store_sample(d->store, st.peers, st.index_hashes, pt_clock_wall_ms());
	pt_banlist_expire(&d->bans, pt_clock_wall_ms());
}

/* -- start ---------------------------------------------------------------------- */

/* mkdir -p, for state_dir. */
static int make_dirs(const char *path)
{
	char buf[PT_CONFIG_STR];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0750) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The store and the admin socket come up before the listener, so the
 * first client finds its bans loaded. */
static int open_state(pt_daemon *d)
{
	static const pt_admin_ops ops_template = {
		NULL, op_status, op_peers, op_holders, op_peer, op_peer_hashes, op_kick,
		op_ban, op_unban, op_bans, op_reload, op_audit, op_allow, op_disallow, op_allowed,
		op_remote_holders,
	};
	const pt_config *c = &d->cfg;
	pt_admin_ops ops = ops_template;
	char err[512], sock[PT_CONFIG_STR + 32];
	pt_store_opts o = {0};
	int r;

	if ((r = make_dirs(c->state_dir))) {
		pt_log_error("state_dir %s: %s", c->state_dir, strerror(-r));
		return -1;
	}
	if (asprintf(&d->db_path, "%s/%s", c->state_dir, PT_STORE_FILE) < 0) {
		d->db_path = NULL;
		pt_log_error("out of memory");
		return -1;
	}
	o.path = d->db_path;
	o.flush_ms = c->store_flush_ms;
	o.retention_days = c->store_retention_days;
	o.cache_kib = c->store_cache_kib;
	o.max_queue = c->store_queue_max;
	o.max_resources = c->store_max_resources;
	o.allowed = &d->allowed;
	if (pt_store_open(&o, &d->bans, pt_clock_wall_ms(), &d->store, err, sizeof(err))) {
		pt_log_error("store: %s", err);
		return -1;
	}
	if (d->bans.n)
		pt_log_info("store: %zu ban(s) in force", d->bans.n);
	if (d->allowed.n || c->wt_allowlist)
		pt_log_info("store: %zu info_hash(es) allowed on /announce (wt_allowlist %s)",
		            d->allowed.n, c->wt_allowlist ? "on" : "off");
	if (pt_config_admin_socket(c, sock, sizeof(sock))) {
		pt_log_error("admin socket path too long (admin_socket, RUNTIME_DIRECTORY or state_dir)");
		return -1;
	}
	ops.arg = d;
	return pt_admin_start(&d->loop, sock, d->db_path, &ops, &d->admin) ? -1 : 0;
}

/* A tracker holds one descriptor per peer: take all the kernel allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			pt_log_warn("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
	}
}

static int start(pt_daemon *d)
{
	pt_server_env env = { NULL, &d->bans, &d->allowed };

	if (open_state(d))
		return -1;
	env.store = d->store;
	if (!(d->srv = pt_server_new(&d->loop, &d->cfg, &env))) {
		pt_log_error("out of memory");
		return -1;
	}
	pt_server_on_cluster_ban(d->srv, on_cluster_ban, d);
	pt_server_on_cluster_allow(d->srv, on_cluster_allow, d);
	/* Handlers before the listener: a SIGTERM sent as soon as "listening
	 * on" is logged must find them (they run once the loop does). */
	uv_signal_init(&d->loop, &d->sig_term);
	uv_signal_init(&d->loop, &d->sig_int);
	uv_signal_init(&d->loop, &d->sig_hup);
	uv_timer_init(&d->loop, &d->tick);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d->tick.data = d;
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
	uv_timer_start(&d->tick, on_tick, 1000, 1000);
	if (pt_server_start(d->srv))
		return -1;
	pt_notify_ready(pt_server_port(d->srv));
	return 0;
}

int pt_daemon_run(const pt_config *cfg, const char *path, const pt_override *ov, size_t nov)
{
	pt_daemon d = { .config_path = path, .ov = ov, .nov = nov };
	int rc = 1;

	pt_banlist_init(&d.bans);
	pt_wt_allow_init(&d.allowed);
	if (pt_config_copy(&d.cfg, cfg)) {
		fprintf(stderr, "peertrackd: out of memory\n");
		return 1;
	}
	apply_log(&d.cfg);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&d.loop)) {
		pt_log_error("cannot create the event loop");
		pt_config_free(&d.cfg);
		return 1;
	}
	if (start(&d) == 0) {
		pt_log_info("peertrackd %s ready", PT_VERSION);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		rc = 0;
	} else {
		/* Nothing ran: close what start opened, as a stop would. */
		d.stopping = true;
		pt_admin_close(d.admin);
		if (d.srv) {
			close_handle((uv_handle_t *)&d.tick);
			close_handle((uv_handle_t *)&d.sig_hup);
			close_handle((uv_handle_t *)&d.sig_term);
			close_handle((uv_handle_t *)&d.sig_int);
		}
	}
	pt_server_free(d.srv);
	/* Handles closed above need one more turn to finish closing. */
	uv_run(&d.loop, UV_RUN_DEFAULT);
	/* Blocks until the last batch (the shutdown's session ends) is in:
	 * the loop is over, so nobody waits on it. */
	pt_store_close(d.store);
	pt_banlist_free(&d.bans);
	pt_wt_allow_free(&d.allowed);
	free(d.db_path);
	if (uv_loop_close(&d.loop))
		pt_log_warn("event loop closed with handles still open");
	if (rc == 0)
		pt_log_info("stopped");
	pt_config_free(&d.cfg);
	return rc;
}
