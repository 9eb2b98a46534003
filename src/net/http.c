/* http.c — plain HTTP on the daemon's port: GET /healthz for load balancers
 * and container health checks. Anything else is 404. */
#include <string.h>

#include "peertrack/log.h"
#include "net.h"

static int respond(struct lws *wsi, unsigned status, const char *type, const char *body, size_t len)
{
	unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;

	if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (len > sizeof(buf) - LWS_PRE)
		return -1;
	memcpy(buf + LWS_PRE, body, len);
	if (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int)len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int pt_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pt_server *srv = lws_context_user(lws_get_context(wsi));
	char body[512];
	int n;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		char uri[128];

		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
			return respond(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
		if (!strcmp(uri, "/healthz")) {
			bool ok = srv->stop_phase == 0;

			n = snprintf(body, sizeof(body),
			             "{\"status\":\"%s\",\"peers\":%u,\"uptime_ms\":%llu}\n",
			             ok ? "ok" : "stopping", pt_registry_count(srv->registry),
			             (unsigned long long)(pt_server_now(srv) - srv->t0_ms));
			return respond(wsi, ok ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE,
			               "application/json", body, (size_t)n);
		}
		return respond(wsi, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n", 10);
	}
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
