/* http.c — plain HTTP on the daemon's port: GET or HEAD /healthz
 * (liveness) and /readyz (readiness) for load balancers and container
 * health checks, GET /metrics (Prometheus) and GET
 * /stats.json for monitoring (metrics.c), the latter two only to
 * metrics_allow. Anything else is 404. */
#include <stdlib.h>
#include <string.h>

#include "peertrack/log.h"
#include "net.h"

/* body sits at pt_buf_text(b), with LWS_PRE bytes of headroom in front
 * (pt_buf head), so it goes out in one lws_write whatever its size: lws
 * keeps what the socket does not take at once and completes the
 * transaction once it has drained. A HEAD request gets the same status
 * and headers, Content-Length included, and no body (RFC 9110 9.3.2). */
static int respond_buf(struct lws *wsi, bool head, unsigned status, const char *type,
                       const pt_buf *b)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;

	if (lws_add_http_common_headers(wsi, status, type, b->len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (!head &&
	    lws_write(wsi, (unsigned char *)pt_buf_text(b), b->len, LWS_WRITE_HTTP_FINAL) != (int)b->len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int respond(struct lws *wsi, bool head, unsigned status, const char *type, const char *body,
                   size_t len)
{
	pt_buf b;
	int r;

	pt_buf_init(&b, LWS_PRE);
	if (pt_buf_append(&b, body, len)) {
		pt_buf_free(&b);
		return -1;
	}
	r = respond_buf(wsi, head, status, type, &b);
	pt_buf_free(&b);
	return r;
}

/* Metrics are judged on the TCP peer address: a proxy's forwarding
 * headers must not open them, and the proxy should not forward them. */
static bool metrics_allowed(struct pt_server *srv, struct lws *wsi)
{
	char buf[128];
	pt_addr a;

	if (!lws_get_peer_simple(wsi, buf, sizeof(buf)) || pt_addr_parse(buf, strlen(buf), &a))
		return false;
	return pt_cidr_list_contains(&srv->cfg.metrics_allow, &a);
}

static int serve_rendered(struct lws *wsi, bool head, struct pt_server *srv, const char *type,
                          int (*render)(struct pt_server *s, pt_buf *b))
{
	pt_buf b;
	int r;

	if (!metrics_allowed(srv, wsi))
		return respond(wsi, head, HTTP_STATUS_FORBIDDEN, "text/plain", "forbidden\n", 10);
	pt_buf_init(&b, LWS_PRE);
	if (render(srv, &b)) {
		pt_buf_free(&b);
		return respond(wsi, head, HTTP_STATUS_INTERNAL_SERVER_ERROR, "text/plain",
		               "out of memory\n", 14);
	}
	r = respond_buf(wsi, head, HTTP_STATUS_OK, type, &b);
	pt_buf_free(&b);
	return r;
}

/* Health is open to everyone (load balancers, container checks) and so
 * says nothing about the traffic: counts are /metrics' business.
 *   /healthz, liveness: the loop turns, or nobody would answer. A failing
 *     store does not make a restart useful, so it does not show here.
 *   /readyz, readiness: new peers are accepted (503 while stopping or at
 *     the connection limit); the store's and the cluster's states are
 *     reported, not judged: same-node signaling works without either, and
 *     a Redis outage must not take every node out of the balancer at once. */
static int serve_health(struct lws *wsi, bool head, struct pt_server *srv, bool readiness)
{
	const char *status = "ok";
	unsigned code = HTTP_STATUS_OK;
	char body[128];
	int n;

	if (!readiness)
		return respond(wsi, head, code, "application/json", "{\"status\":\"ok\"}\n", 16);
	if (srv->stop_phase)
		status = "stopping";
	else if (pt__server_live_peers(srv) >= srv->max_peers)
		status = "full";
	else
		status = "ready";
	if (strcmp(status, "ready"))
		code = HTTP_STATUS_SERVICE_UNAVAILABLE;
	/* "cluster" only in cluster mode: a single node answers as before. */
	n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"store\":\"%s\"%s%s%s}\n", status,
	             pt_ops_store_ok(srv) ? "ok" : "failing", srv->cluster ? ",\"cluster\":\"" : "",
	             srv->cluster ? pt__remote_state(srv) : "", srv->cluster ? "\"" : "");
	return respond(wsi, head, code, "application/json", body, (size_t)n);
}

int pt__http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
	struct pt_server *srv = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* An upgrade naming the subprotocol "http" would bind here: a
		 * WebSocket this protocol cannot serve, holding a descriptor
		 * and, until now, its handshake place. Refused (lws answers
		 * the upgrade with an error). */
		return 1;
	case LWS_CALLBACK_WSI_DESTROY:
		/* A connection bound here before its request was read still
		 * holds its handshake place (budget.c): give it back. */
		pt__budget_destroyed(srv, wsi);
		break;
	case LWS_CALLBACK_HTTP: {
		char uri[128];
		bool head = false;

		pt__budget_upgraded(srv, wsi); /* the request is in: no longer a handshake */
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0) {
			if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_HEAD_URI) <= 0)
				return respond(wsi, false, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain",
				               "GET or HEAD only\n", 17);
			head = true;
		}
		if (!strcmp(uri, "/healthz") || !strcmp(uri, "/readyz"))
			return serve_health(wsi, head, srv, uri[1] == 'r');
		if (!strcmp(uri, "/metrics"))
			return serve_rendered(wsi, head, srv, "text/plain; version=0.0.4; charset=utf-8",
			                      pt_metrics_render);
		if (!strcmp(uri, "/stats.json"))
			return serve_rendered(wsi, head, srv, "application/json", pt_stats_render);
		return respond(wsi, head, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n", 10);
	}
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
