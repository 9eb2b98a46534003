/* frontend.c — the front-end table: one row per wire protocol, and the
 * listener callback that routes each WebSocket upgrade to its row by path.
 *
 * Browsers name no subprotocol, so lws binds every upgrade to the vhost's
 * default protocol, whose callback is this router; the row chosen at the
 * upgrade handles the connection for its whole life. Everything below the
 * rows (admission, limits, bans, queues, index, matcher) is shared. */
#include <string.h>

#include "peertrack/msg.h"
#include "peertrack/wtmsg.h"
#include "net.h"

static const char *v1_msg_name(int t) { return pt_msg_type_name((enum pt_msg_type)t); }
static const char *wt_msg_name(int t) { return pt_wt_type_name((enum pt_wt_type)t); }

const pt_frontend pt_frontends[PT_FE__COUNT] = {
	[PT_FE_V1] = { "/v1", "v1", pt__v1_callback, NULL, pt_reply_peer_left, NULL, NULL,
	               v1_msg_name, PT_MSG__COUNT },
	[PT_FE_WT] = { "/announce", "webtorrent", pt__wt_callback, pt__wt_retire, NULL, pt__wt_init,
	               pt__wt_free, wt_msg_name, PT_WT__COUNT },
};

static const pt_frontend *route(struct lws *wsi)
{
	char uri[64];
	int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);

	for (size_t i = 0; n > 0 && i < PT_FE__COUNT; i++)
		if (!strcmp(uri, pt_frontends[i].path))
			return &pt_frontends[i];
	return NULL;
}

int pt__frontend_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
	pt_session *s = user;
	struct pt_server *srv = lws_context_user(lws_get_context(wsi));

	/* The handshake budget (budget.c) follows every accepted socket,
	 * whatever its front-end: accept, its wsi, the upgrade, the end. */
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return pt__budget_filter(srv, wsi, user, (int)(intptr_t)in);
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		pt__budget_created(srv, wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		pt__budget_destroyed(srv, wsi);
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		pt__budget_upgraded(srv, wsi);
		break;
	default:
		break;
	}
	if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION) {
		const pt_frontend *fe = route(wsi);

		if (!fe)
			return 1; /* no such path: lws answers the upgrade with an error */
		if (s)
			s->fe = fe;
		return 0;
	}
	if (reason == LWS_CALLBACK_ESTABLISHED && s && !s->fe)
		s->fe = route(wsi);
	if (s && s->fe)
		return s->fe->callback(wsi, reason, user, in, len);
	/* Before routing (TLS, HTTP upgrade phases) and after the session is
	 * released: what every row does alike. */
	return pt__session_callback(wsi, reason, user, in, len);
}
