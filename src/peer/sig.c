/* sig.c — protocol v1 client over libsoup's WebSocket (see sig.h). */
#include <errno.h>
#include <string.h>
#include <libsoup/soup.h>
#include "sig.h"

struct pt_sig {
	SoupSession *session;
	SoupWebsocketConnection *ws;
	GCancellable *cancel;
	pt_sig_cbs cbs;
	void *arg;
	char id[PT_ID_CHARS + 1];
	json_t *welcome;
	guint ping_timer;
	int64_t next_rid;
	gboolean done; /* closed callback made (or freeing): report nothing more */
};

static void finish(pt_sig *s, int code, const char *why)
{
	if (s->done)
		return;
	s->done = TRUE;
	if (s->ping_timer) {
		g_source_remove(s->ping_timer);
		s->ping_timer = 0;
	}
	s->cbs.closed(s->arg, code, why);
}

static gboolean on_ping_timer(gpointer data)
{
	pt_sig *s = data;
	json_t *m = json_pack("{s:s}", "type", "ping");

	if (m) {
		pt_sig_send(s, m);
		json_decref(m);
	}
	return G_SOURCE_CONTINUE;
}

static void on_welcome(pt_sig *s, json_t *msg)
{
	const char *id = json_string_value(json_object_get(msg, "id"));
	json_int_t hb = json_integer_value(json_object_get(msg, "heartbeat_ms"));
	pt_id parsed;

	if (!id || strlen(id) != PT_ID_CHARS || pt_id_decode(id, PT_ID_CHARS, &parsed) != 0) {
		finish(s, 0, "welcome without a valid id");
		return;
	}
	memcpy(s->id, id, PT_ID_CHARS + 1);
	s->welcome = json_incref(msg);
	/* Half the heartbeat leaves room for a busy loop and the daemon's clock. */
	if (hb <= 0)
		hb = 15000;
	s->ping_timer = g_timeout_add(hb / 2 > 0 ? (guint)(hb / 2) : 1, on_ping_timer, s);
	s->cbs.welcome(s->arg, s->id, msg);
}

static void on_message(SoupWebsocketConnection *ws, gint kind, GBytes *bytes, gpointer data)
{
	pt_sig *s = data;
	gsize len;
	const char *text = g_bytes_get_data(bytes, &len);
	json_error_t jerr;
	json_t *msg;
	const char *type;

	if (s->done)
		return;
	if (kind != SOUP_WEBSOCKET_DATA_TEXT) {
		finish(s, 0, "binary frame from the server");
		return;
	}
	msg = json_loadb(text, len, 0, &jerr);
	type = json_string_value(json_object_get(msg, "type"));
	if (!msg || !json_is_object(msg) || !type) {
		json_decref(msg);
		finish(s, 0, "malformed message from the server");
		return;
	}
	if (!s->welcome) {
		if (strcmp(type, "welcome") == 0)
			on_welcome(s, msg);
		else
			finish(s, 0, "first message is not a welcome");
	} else {
		s->cbs.message(s->arg, type, msg);
	}
	json_decref(msg);
}

static void on_closed(SoupWebsocketConnection *ws, gpointer data)
{
	pt_sig *s = data;
	const char *why = soup_websocket_connection_get_close_data(ws);

	finish(s, soup_websocket_connection_get_close_code(ws), why && *why ? why : "closed by the server");
}

static void on_connected(GObject *src, GAsyncResult *res, gpointer data)
{
	pt_sig *s = data;
	GError *err = NULL;
	SoupWebsocketConnection *ws = soup_session_websocket_connect_finish(SOUP_SESSION(src), res, &err);

	if (!ws) {
		/* Cancelled means pt_sig_free is running: s is gone for the caller. */
		if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			finish(s, 0, err->message);
		g_error_free(err);
		return;
	}
	s->ws = ws;
	/* A lookup answer or a relayed SDP stays far below this; the daemon's
	 * own ceiling is max_message_bytes. */
	soup_websocket_connection_set_max_incoming_payload_size(ws, 1 << 20);
	g_signal_connect(ws, "message", G_CALLBACK(on_message), s);
	g_signal_connect(ws, "closed", G_CALLBACK(on_closed), s);
}

pt_sig *pt_sig_new(const char *url, const char *origin, const char *bind,
                   const pt_sig_cbs *cbs, void *arg)
{
	pt_sig *s;
	SoupMessage *msg = soup_message_new(SOUP_METHOD_GET, url);
	GSocketAddress *local = NULL;

	if (!msg)
		return NULL;
	if (bind) {
		GInetAddress *a = g_inet_address_new_from_string(bind);

		if (!a) {
			g_object_unref(msg);
			return NULL;
		}
		local = g_inet_socket_address_new(a, 0);
		g_object_unref(a);
	}
	s = g_new0(pt_sig, 1);
	s->cbs = *cbs;
	s->arg = arg;
	s->next_rid = 1;
	s->cancel = g_cancellable_new();
	s->session = local ? soup_session_new_with_options("local-address", local, NULL) : soup_session_new();
	if (local)
		g_object_unref(local);
	soup_session_websocket_connect_async(s->session, msg, origin, NULL, G_PRIORITY_DEFAULT,
	                                     s->cancel, on_connected, s);
	g_object_unref(msg);
	return s;
}

int pt_sig_send(pt_sig *s, json_t *msg)
{
	char *text;

	if (s->done || !s->ws ||
	    soup_websocket_connection_get_state(s->ws) != SOUP_WEBSOCKET_STATE_OPEN)
		return -ENOTCONN;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	soup_websocket_connection_send_text(s->ws, text);
	free(text);
	return 0;
}

int64_t pt_sig_request(pt_sig *s, json_t *msg)
{
	int64_t rid = s->next_rid++;
	int rc;

	if (json_object_set_new(msg, "rid", json_integer(rid)) != 0)
		return -ENOMEM;
	rc = pt_sig_send(s, msg);
	return rc < 0 ? rc : rid;
}

int64_t pt_sig_next_rid(const pt_sig *s)
{
	return s->next_rid;
}

const char *pt_sig_id(const pt_sig *s)
{
	return s->id;
}

uint32_t pt_sig_limit(const pt_sig *s, const char *key, uint32_t def)
{
	json_t *v = json_object_get(json_object_get(s->welcome, "limits"), key);

	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > UINT32_MAX)
		return def;
	return (uint32_t)json_integer_value(v);
}

void pt_sig_free(pt_sig *s)
{
	if (!s)
		return;
	s->done = TRUE;
	if (s->ping_timer)
		g_source_remove(s->ping_timer);
	g_cancellable_cancel(s->cancel);
	if (s->ws) {
		g_signal_handlers_disconnect_by_data(s->ws, s);
		if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
		g_object_unref(s->ws);
	}
	g_object_unref(s->cancel);
	g_object_unref(s->session);
	json_decref(s->welcome);
	g_free(s);
}
