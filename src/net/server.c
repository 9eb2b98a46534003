/* server.c — the listener: libwebsockets on the caller's libuv loop, the
 * liveness sweep, reconfiguration and the orderly shutdown. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "peertrack/log.h"
#include "peertrack/lwslog.h"
#include "net.h"

/* How long SIGTERM waits for peers to take their 1001 before the context is
 * torn down regardless (the contract is an exit within 5 s). */
#define STOP_GRACE_MS 2000

/* lws asks protocols[0] to judge each client certificate (mutual TLS) and
 * takes 0 as "accept" whatever OpenSSL found: pass OpenSSL's verdict
 * (len = preverify_ok) through instead. */
static int v1_tls_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION)
		return len ? 0 : 1;
	return pt__frontend_callback(wsi, reason, user, in, len);
}

/* The vhost's protocols; [0].rx_buffer_size comes from ws_rx_buffer_bytes
 * (see set_protocols). */
static const struct lws_protocols protocols_template[PT_PROTOCOLS] = {
	/* First = the default for upgrades that name no subprotocol. */
	{ "peertrack-v1", v1_tls_callback, sizeof(pt_session), 1024, 0, NULL, 1u << 20 },
	{ "http", pt__http_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* lws keeps an rx buffer of rx_buffer_size per connection for its whole
 * life, and reads a socket at most that much at a time: the one knob
 * trades an idle peer's memory against reads per relayed message. Larger
 * messages arrive in fragments that v1.c reassembles; sends are not
 * bounded by it (tx_packet_size). lws keeps the pointer: the array lives
 * in the server. */
static void set_protocols(pt_server *s)
{
	memcpy(s->protocols, protocols_template, sizeof(s->protocols));
	s->protocols[0].rx_buffer_size = s->cfg.ws_rx_buffer_bytes;
}

/* Every plain HTTP request goes to the "http" protocol (http.c). */
static const struct lws_http_mount mount_http = {
	.mountpoint = "/",
	.mountpoint_len = 1,
	.origin = "http",
	.origin_protocol = LWSMPRO_CALLBACK,
};

/* metrics_listen: a vhost of the http protocol alone, so this node's
 * /metrics is reachable when its WebSocket port is shared with other
 * nodes (listen_share). The same handlers and metrics_allow as on listen;
 * WebSocket upgrades are refused (http.c refuses any upgrade bound to the
 * http protocol). */

static const struct lws_protocols protocols_metrics[] = {
	{ "http", pt__http_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static int metrics_vhost(pt_server *s)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	char host[PT_CONFIG_STR];
	int port;

	if (pt_config_listen_split(s->cfg.metrics_listen, host, sizeof(host), &port)) {
		pt_log_error("metrics_listen: '%s' is not ADDR:PORT", s->cfg.metrics_listen);
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	if (!strchr(host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.vhost_name = "peertrack-metrics";
	info.port = port;
	info.iface = host;
	info.protocols = protocols_metrics;
	info.mounts = &mount_http;
	info.timeout_secs = (s->cfg.handshake_timeout_ms + 999) / 1000;
	if (!(vh = lws_create_vhost(s->lws, &info))) {
		pt_log_error("metrics_listen: cannot listen on %s (address in use, or not a local "
		             "address?)", s->cfg.metrics_listen);
		return -1;
	}
	pt_log_info("metrics on %s%s%s:%d", strchr(host, ':') ? "[" : "", host,
	            strchr(host, ':') ? "]" : "", lws_get_vhost_listen_port(vh));
	return 0;
}

pt_server *pt_server_new(uv_loop_t *loop, const pt_config *cfg, const pt_server_env *env)
{
	pt_server *s = calloc(1, sizeof(*s));
	uint64_t seed;

	if (!s)
		return NULL;
	s->loop = loop;
	s->share_fd = -1;
	if (pt_config_copy(&s->cfg, cfg))
		goto fail;
	if (env) {
		s->store = env->store;
		s->bans = env->bans;
		s->wt_allowed = env->wt_allowed;
	}
	s->reload_ok = true;
	s->reload_wall_ms = pt_clock_wall_ms();
	if (pt__origins_parse(&s->origins, s->cfg.allowed_origins))
		goto fail;
	/* Table hashes are keyed: clients choose the hashes they announce. */
	{
		pt_id r;

		if (pt_id_generate(&r))
			goto fail;
		memcpy(&seed, r.b, sizeof(seed));
	}
	s->registry = pt_registry_new(s->cfg.max_connections, seed);
	s->index = pt_index_new(seed ^ 0x9e3779b97f4a7c15ull);
	s->match = pt_match_new(seed ^ 0xc2b2ae3d27d4eb4full);
	s->iplimit = pt_iplimit_new(seed ^ 0x165667b19e3779f9ull);
	if (!s->registry || !s->index || !s->match || !s->iplimit)
		goto fail;
	for (int i = 0; i < PT_FE__COUNT; i++)
		if (pt_frontends[i].init && pt_frontends[i].init(s, seed ^ 0x27d4eb2f165667c5ull))
			goto fail;
	/* Replies are encoded with lws' header room in front, so a frame can
	 * go to the socket straight from here (pt__session_send_buf). */
	pt_buf_init(&s->scratch, LWS_PRE);
	pt_buf_init(&s->ice_buf, 0);
	pt_resume_table_init(&s->parked);
	return s;
fail:
	pt_server_free(s);
	return NULL;
}

uint32_t *pt__server_picks(pt_server *s, size_t k)
{
	if (s->picks_cap < k) {
		uint32_t *p = realloc(s->picks, k * sizeof(*p));

		if (!p)
			return NULL;
		s->picks = p;
		s->picks_cap = (uint32_t)k;
	}
	return s->picks;
}

int pt_server_port(const pt_server *s)
{
	return s->port;
}

static void fd_budget(pt_server *s);
static void apply_max_peers(pt_server *s);

/* An operator may lower the running daemon's descriptor limit (prlimit):
 * the peer limit and the handshake budget follow it within a second. */
static void fd_recheck(pt_server *s)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == s->fd_rlimit ||
	    (rl.rlim_cur > 1u << 24 && s->fd_rlimit == 1u << 24))
		return;
	fd_budget(s);
	apply_max_peers(s);
	pt_log_info("RLIMIT_NOFILE is now %llu: at most %u peers",
	            (unsigned long long)s->fd_rlimit, s->max_peers);
}

/* -- liveness ------------------------------------------------------------ */

/* One pass over the live peers: ping the quiet ones, drop the silent.
 * O(peers) per pass, a few passes per heartbeat — cheap next to the
 * traffic those peers generate, and it needs no per-peer timer. */
static void sweep(uv_timer_t *t)
{
	pt_server *s = t->data;
	uint64_t now = pt__server_now(s);
	pt_session *p;

	for (uint32_t h = 0; (p = pt__live_next(s, &h));) {
		if (now - p->last_rx_ms >= s->cfg.timeout_ms) {
			pt_log_info("peer %s timed out", p->id_str);
			pt__session_close(p, PT_CLOSE_TIMEOUT, "heartbeat timeout", PT_LEAVE_TIMEOUT);
		} else if (now - p->last_rx_ms >= s->cfg.heartbeat_ms &&
		           now - p->last_ping_ms >= s->cfg.heartbeat_ms) {
			p->last_ping_ms = now;
			p->ping_due = true;
			lws_callback_on_writable(p->wsi);
		}
	}
	pt__session_flush_refusal_log(s);
	pt__session_flush_untrusted_proxy_log(s);
	if (now - s->last_budget_tick_ms >= 1000) {
		s->last_budget_tick_ms = now;
		fd_recheck(s);
		pt__budget_tick(s);
	}
	pt__park_sweep(s);
}

static uint64_t sweep_interval(const pt_config *c)
{
	uint64_t ms = (c->heartbeat_ms < c->timeout_ms ? c->heartbeat_ms : c->timeout_ms) / 4;

	if (ms < 10)
		ms = 10;
	if (ms > 1000)
		ms = 1000;
	return ms;
}

/* -- shutdown ------------------------------------------------------------ */

static void close_all(pt_server *s)
{
	pt_session *p;

	for (uint32_t h = 0; (p = pt__live_next(s, &h));)
		pt__session_close(p, PT_CLOSE_GOING_AWAY, "server shutting down", PT_LEAVE_SHUTDOWN);
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The stop sequence runs on a timer so each step happens on a later loop
 * iteration — lws 4.1 on a foreign loop needs lws_context_destroy() twice,
 * the second time after the loop has run dry (pt_server_free). */
static void stop_step(uv_timer_t *t)
{
	pt_server *s = t->data;
	uint64_t now = pt__server_now(s);

	switch (s->stop_phase) {
	case 1:
		/* Wait for the peers to take their close frames, bounded. */
		if (s->sockets == 0 || now >= s->stop_deadline_ms)
			s->stop_phase = 2;
		uv_timer_start(&s->stop_timer, stop_step, 50, 0);
		break;
	case 2:
		/* Starts lws' teardown: its handles close through the loop, which
		 * then runs dry; pt_server_free completes it once uv_run returned.
		 * A second destroy here, while close callbacks are still pending,
		 * would free wsi those callbacks then use. */
		pt__coalesce_close(s);
		pt__defer_close(s);
		pt__drain_close(s);
		lws_context_destroy(s->lws);
		s->stop_phase = 3;
		close_handle((uv_handle_t *)&s->stop_timer);
		break;
	}
}

void pt_server_stop(pt_server *s)
{
	if (s->stop_phase)
		return;
	pt_log_info("stopping: closing the listener and %u peers", pt__server_live_peers(s));
	s->stop_phase = 1;
	s->stop_deadline_ms = pt__server_now(s) + STOP_GRACE_MS;
	lws_context_deprecate(s->lws, NULL);
	pt__share_close(s);
	pt__budget_close(s);
	/* Tokens do not survive a restart: resumable peers leave now. */
	pt__park_drop_all(s, PT_LEAVE_SHUTDOWN);
	close_all(s);
	/* After the peers left (their withdraws and peer-left notices are
	 * queued on the links): the links' pending requests fail now. */
	pt__remote_stop(s);
	uv_timer_stop(&s->sweep_timer);
	close_handle((uv_handle_t *)&s->sweep_timer);
	uv_timer_start(&s->stop_timer, stop_step, 100, 0);
}

/* -- descriptor budget ---------------------------------------------------- */

/* Every peer holds a descriptor. The peer limit stops short of
 * RLIMIT_NOFILE by a reserve (store, admin socket, logs) and a headroom of
 * descriptors for connections that are accepted only to be refused cleanly
 * with 1013 — so accept() does not fail with EMFILE, which lws 4.1 would
 * retry in a busy loop.
 *
 * lws' own table is left at its default (the rlimit): given a smaller
 * fd_limit_per_thread, lws 4.1 finds the connection of every socket event
 * by scanning its whole table instead of indexing it — at 5000 peers that
 * scan was half the daemon's CPU (docs/BENCHMARKS.md). */
#define FD_RESERVE 32

static void fd_budget(pt_server *s)
{
	struct rlimit rl;
	unsigned table, headroom;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 24)
		rl.rlim_cur = 1u << 24;
	s->fd_rlimit = rl.rlim_cur;
	table = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)rl.rlim_cur - FD_RESERVE : FD_RESERVE;
	headroom = table / 16 < 16 ? 16 : table / 16 > 1024 ? 1024 : table / 16;
	s->fd_cap = table > 2 * headroom ? table - headroom : table / 2;
	/* Handshakes (budget.c) may use the headroom, never the reserve. */
	s->fd_table = table;
}

static void apply_max_peers(pt_server *s)
{
	s->max_peers = s->cfg.max_connections < s->fd_cap ? s->cfg.max_connections : s->fd_cap;
	if (s->max_peers < s->cfg.max_connections)
		pt_log_warn("max_connections %u exceeds what RLIMIT_NOFILE allows: at most %u peers",
		            s->cfg.max_connections, s->max_peers);
	/* Resumable peers hold a registry slot but no descriptor: room for
	 * them comes on top, so peers coming back after a network blip are
	 * not refused by their own ghosts. */
	pt_registry_set_max(s->registry, s->max_peers + s->cfg.resume_max_sessions);
}

/* -- reload -------------------------------------------------------------- */

void pt_server_reload_tls(pt_server *s)
{
	pt__tls_reload(s);
}

int pt_server_reconfigure(pt_server *s, const pt_config *fresh)
{
	pt_origins origins = {0};

	if (pt__origins_parse(&origins, fresh->allowed_origins))
		return -ENOMEM;
	/* What needs a restart was reported by the process, from its own copy. */
	if (pt_config_reload(&s->cfg, fresh, NULL, 0) < 0) {
		pt__origins_free(&origins);
		return -ENOMEM;
	}
	pt__origins_free(&s->origins);
	s->origins = origins;
	apply_max_peers(s);
	uv_timer_set_repeat(&s->sweep_timer, sweep_interval(&s->cfg));
	/* The secret file is re-read on every reload: a rotation is a reload.
	 * The process checked it moments ago (pt_daemon_config_build); if it
	 * went bad since, the running secrets stay. */
	{
		char err[300];

		if (pt_ice_configure(&s->ice, &s->cfg, err, sizeof(err)))
			pt_log_error("TURN secret: %s; keeping the running one", err);
	}
	return 0;
}

void pt_server_note_reload(pt_server *s, bool ok, uint64_t wall_ms)
{
	s->reload_ok = ok;
	s->reload_wall_ms = wall_ms;
}

/* -- start --------------------------------------------------------------- */

/* allowed_origins = * (the default) lets any web page use this tracker.
 * Behind a proxy on loopback that is the proxy's business; listening on
 * other addresses, browsers reach the daemon directly, so say so once. */
static void warn_open_origins(const pt_server *s, const char *host)
{
	pt_cidr lo4, lo6;
	pt_addr a;

	if (!s->origins.any)
		return;
	if (!pt_addr_parse(host, strlen(host), &a) && !pt_cidr_parse("127.0.0.0/8", 11, &lo4) &&
	    !pt_cidr_parse("::1/128", 7, &lo6) &&
	    (pt_cidr_contains(&lo4, &a) || pt_cidr_contains(&lo6, &a)))
		return;
	pt_log_warn("allowed_origins = * while listening on %s: any web site may use this "
	            "tracker; list your sites' origins", s->cfg.listen);
}

int pt_server_start(pt_server *s)
{
	struct lws_context_creation_info info;
	void *loops[1] = { s->loop };
	char host[PT_CONFIG_STR];
	int port;

	pt_log_hook_lws();
	if (pt_config_listen_split(s->cfg.listen, host, sizeof(host), &port)) {
		pt_log_error("listen: '%s' is not ADDR:PORT", s->cfg.listen);
		return -1;
	}

	{
		char err[512];

		if (pt_ice_configure(&s->ice, &s->cfg, err, sizeof(err))) {
			pt_log_error("TURN secret: %s", err);
			return -1;
		}
		if (s->ice.n_secrets)
			pt_log_info("TURN credentials for %s, %u s lifetime, %u secret%s loaded",
			            s->cfg.turn_urls, s->cfg.turn_credential_ttl_s, s->ice.n_secrets,
			            s->ice.n_secrets > 1 ? "s (rotating)" : "");
	}
	if (s->cfg.tls_cert[0]) {
		char err[512];

		if (pt__tls_check(&s->cfg, err, sizeof(err))) {
			pt_log_error("TLS: %s", err);
			return -1;
		}
	}
	memset(&info, 0, sizeof(info));
	/* No LWS_SERVER_OPTION_VALIDATE_UTF8: v1.c validates each message
	 * once, as part of parsing it (see pt__v1_dispatch). */
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (s->cfg.tls_cert[0])
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.foreign_loops = loops;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = s;
	/* Seconds; lws drops connections whose handshake stalls this long. */
	info.timeout_secs = (s->cfg.handshake_timeout_ms + 999) / 1000;
	fd_budget(s);
	apply_max_peers(s);
	/* lws clears s->lws when its teardown is complete. */
	info.pcontext = &s->lws;
	/* lws 4.1 loads its libuv glue as a plugin and may dlclose it from
	 * inside that plugin's own close callback at teardown: pin it, so the
	 * loop never returns into unmapped code. */
	(void)dlopen("libwebsockets-evlib_uv.so", RTLD_NOW | RTLD_NODELETE);
	s->lws = lws_create_context(&info);
	if (!s->lws) {
		pt_log_error("cannot create the libwebsockets context");
		return -1;
	}

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	info.vhost_name = "peertrack";
	/* listen_share: the socket is share.c's; lws only serves what it adopts. */
	info.port = s->cfg.listen_share ? CONTEXT_PORT_NO_LISTEN_SERVER : port;
	info.iface = host;
	set_protocols(s);
	info.protocols = s->protocols;
	info.mounts = &mount_http;
	info.timeout_secs = (s->cfg.handshake_timeout_ms + 999) / 1000;
	if (!strchr(host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (s->cfg.tls_cert[0]) {
		/* lws keeps copies of the paths; tls_reload names them again. */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = s->cfg.tls_cert;
		info.ssl_private_key_filepath = s->cfg.tls_key;
		if (s->cfg.tls_ca[0]) {
			info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
			info.ssl_ca_filepath = s->cfg.tls_ca;
		}
	}
	s->vhost = lws_create_vhost(s->lws, &info);
	if (!s->vhost) {
		pt_log_error("cannot listen on %s (address in use: every node needs a port of its "
		             "own, or listen_share = yes on every one; not a local address; or bad "
		             "TLS files?)", s->cfg.listen);
		return -1;
	}
	if (s->cfg.tls_cert[0])
		pt__tls_log_cert(s, "loaded");
	if (s->cfg.listen_share) {
		int r = pt__share_listen(s, host, port);

		if (r) {
			pt_log_error("listen_share: cannot listen on %s (%s)", s->cfg.listen,
			             r == -EINVAL ? "not a numeric address"
			             : r == -EADDRINUSE ? "address in use by a process without listen_share, "
			                                  "or of another user"
			                                : strerror(-r));
			return -1;
		}
	} else {
		s->port = lws_get_vhost_listen_port(s->vhost);
	}
	if (s->cfg.metrics_listen[0] && metrics_vhost(s))
		return -1;
	s->t0_ms = pt__server_now(s);
	s->t0_wall_ms = pt_clock_wall_ms();

	if (pt__remote_start(s))
		return -1;
	pt__coalesce_init(s);
	pt__defer_init(s);
	pt__drain_init(s);
	pt__budget_init(s);
	uv_timer_init(s->loop, &s->sweep_timer);
	uv_timer_init(s->loop, &s->stop_timer);
	s->sweep_timer.data = s->stop_timer.data = s;
	uv_timer_start(&s->sweep_timer, sweep, sweep_interval(&s->cfg), sweep_interval(&s->cfg));

	pt_log_info("listening on %s%s%s:%d%s%s", strchr(host, ':') ? "[" : "", host,
	            strchr(host, ':') ? "]" : "", s->port, s->cfg.tls_cert[0] ? " (TLS)" : "",
	            s->cfg.listen_share ? " (shared: listen_share)" : "");
	warn_open_origins(s, host);
	return 0;
}

void pt_server_free(pt_server *s)
{
	if (!s)
		return;
	if (s->share_fd >= 0) {
		/* Start failed after the shared socket opened: its handles must
		 * finish closing before s goes. */
		pt__share_close(s);
		uv_run(s->loop, UV_RUN_NOWAIT);
	}
	if (s->lws) {
		/* Start failed before the loop ran: tear lws down the same way,
		 * letting its handles finish closing before the second destroy
		 * unloads the event-lib plugin their callbacks live in. */
		lws_context_destroy(s->lws);
		/* After a stop, that call completed the teardown and
		 * info.pcontext cleared s->lws. */
		if (s->lws) {
			/* lws' handles close over a few loop turns. Other handles
			 * (the process's admin socket) may keep the loop alive, so turn it a
			 * bounded number of times instead of until it is empty. */
			for (int i = 0; i < 16; i++)
				uv_run(s->loop, UV_RUN_NOWAIT);
			if (s->lws)
				lws_context_destroy(s->lws);
		}
	}
	pt__budget_free(s);
	pt__park_drop_all(s, PT_LEAVE_SHUTDOWN);
	pt__remote_stop(s);
	pt_registry_free(s->registry);
	pt_index_free(s->index);
	for (int i = 0; i < PT_FE__COUNT; i++)
		if (pt_frontends[i].free)
			pt_frontends[i].free(s);
	pt_match_free(s->match);
	pt_iplimit_free(s->iplimit);
	pt__origins_free(&s->origins);
	pt_buf_free(&s->scratch);
	pt_buf_free(&s->ice_buf);
	pt_ice_clear(&s->ice);
	pt__coalesce_free(s);
	pt__defer_free(s);
	pt__drain_free(s);
	free(s->picks);
	pt_config_free(&s->cfg);
	free(s);
}
