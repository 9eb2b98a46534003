/* sig.c — protocol v1 client over libsoup's WebSocket (see sig.h). */
#include <errno.h>
#include <string.h>
#include <libsoup/soup.h>
#include "sig.h"

#define OUTBOX_MAX 256      /* messages kept while resuming */
#define RETRY_FIRST_MS 100  /* resume attempts: 100 ms doubling, capped, jittered */
#define RETRY_MAX_MS 2000
#define RENEW_FIRST_MS 1000 /* a fresh session: 1-2 s, doubling up to 30 s (PROTOCOL.md) */
#define RENEW_MAX_MS 30000
#define RENEW_CROWDED_MS 10000 /* after 4029: other connections of ours are in the way */

struct pt_sig {
	SoupSession *session;
	SoupWebsocketConnection *ws;
	GPtrArray *dead;      /* dropped connections, released with s */
	GCancellable *cancel;
	pt_sig_cbs cbs;
	void *arg;
	char *url, *origin;
	char id[PT_ID_CHARS + 1];
	json_t *welcome;
	guint ping_timer;
	int64_t next_rid;
	gboolean done; /* closed callback made (or freeing): report nothing more */
	/* resuming */
	char token[64];
	gint64 window_ms;
	gboolean resuming;   /* between a drop and `resumed` */
	gboolean sent_resume;
	gint64 dropped_us;
	unsigned attempts;
	unsigned away_ms;    /* tests: how long a test drop stays away */
	guint retry_timer;
	GQueue outbox;       /* char * (g_free) */
	json_t *fresh;       /* the welcome of the connection presenting the token */
	/* renewing: the session is over, a fresh one is on its way */
	gboolean renewing;
	unsigned renewals;   /* attempts since the last welcome */
};

static void connect_ws(pt_sig *s);
static gboolean on_retry(gpointer data);

static void finish(pt_sig *s, int code, const char *why)
{
	if (s->done)
		return;
	s->done = TRUE;
	if (s->ping_timer) {
		g_source_remove(s->ping_timer);
		s->ping_timer = 0;
	}
	if (s->retry_timer) {
		g_source_remove(s->retry_timer);
		s->retry_timer = 0;
	}
	s->cbs.closed(s->arg, code, why);
}

static void send_now(pt_sig *s, const char *text)
{
	soup_websocket_connection_send_text(s->ws, text);
}

static gboolean on_ping_timer(gpointer data)
{
	pt_sig *s = data;

	if (!s->resuming && s->ws &&
	    soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		send_now(s, "{\"type\":\"ping\"}");
	return G_SOURCE_CONTINUE;
}

static void keep_token(pt_sig *s, json_t *msg)
{
	const char *t = json_string_value(json_object_get(msg, "resume_token"));

	if (t && strlen(t) < sizeof(s->token))
		memcpy(s->token, t, strlen(t) + 1);
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
	json_decref(s->welcome);
	s->welcome = json_incref(msg);
	s->token[0] = '\0';
	keep_token(s, msg);
	s->window_ms = json_integer_value(json_object_get(msg, "resume_window_ms"));
	/* Half the heartbeat leaves room for a busy loop and the daemon's clock. */
	if (hb <= 0)
		hb = 15000;
	if (s->ping_timer)
		g_source_remove(s->ping_timer);
	s->ping_timer = g_timeout_add(hb / 2 > 0 ? (guint)(hb / 2) : 1, on_ping_timer, s);
	if (s->renewing) {
		s->renewing = FALSE;
		s->renewals = 0;
		s->cbs.renewed(s->arg, s->id, msg);
	} else {
		s->cbs.welcome(s->arg, s->id, msg);
	}
}

static void drop_outbox(pt_sig *s)
{
	char *text;

	while ((text = g_queue_pop_head(&s->outbox)))
		g_free(text);
}

/* Sets the current connection aside (we may be inside its own signal),
 * closing it if it is still open. */
static void retire_ws(pt_sig *s)
{
	if (!s->ws)
		return;
	g_signal_handlers_disconnect_by_data(s->ws, s);
	if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	g_ptr_array_add(s->dead, s->ws);
	s->ws = NULL;
}

static gboolean on_renew(gpointer data)
{
	pt_sig *s = data;

	s->retry_timer = 0;
	connect_ws(s);
	return G_SOURCE_REMOVE;
}

/* The session is over (the daemon restarted, refused the token, or the
 * window ended): with a renewed callback, connect afresh after a jittered,
 * growing delay, so that thousands of peers of a restarted daemon do not
 * arrive in the same second; without one, close. Whatever was queued
 * belonged to the old id and goes. */
static void renew_later(pt_sig *s, int code, const char *why)
{
	unsigned base, wait;

	if (!s->cbs.renewed || (!s->welcome && !s->renewing)) {
		finish(s, code, why);
		return;
	}
	retire_ws(s);
	json_decref(s->welcome);
	s->welcome = NULL;
	if (s->ping_timer) {
		g_source_remove(s->ping_timer);
		s->ping_timer = 0;
	}
	drop_outbox(s);
	json_decref(s->fresh);
	s->fresh = NULL;
	s->token[0] = '\0';
	s->resuming = FALSE;
	s->sent_resume = FALSE;
	s->renewing = TRUE;
	base = RENEW_FIRST_MS << (s->renewals < 5 ? s->renewals : 5);
	if (base > RENEW_MAX_MS)
		base = RENEW_MAX_MS;
	wait = base + (unsigned)g_random_int_range(0, (gint32)base + 1);
	if (wait > RENEW_MAX_MS)
		wait = RENEW_MAX_MS;
	if (code == 4029 && wait < RENEW_CROWDED_MS)
		wait = RENEW_CROWDED_MS;
	s->renewals++;
	if (s->cbs.renewing)
		s->cbs.renewing(s->arg, code, why, wait);
	s->retry_timer = g_timeout_add(wait, on_renew, s);
}

/* The old connection is gone: keep it aside (we may be inside its own
 * signal) and try to come back within the window. */
static void lost(pt_sig *s, int code, const char *why)
{
	if (s->ws) {
		g_signal_handlers_disconnect_by_data(s->ws, s);
		g_ptr_array_add(s->dead, s->ws);
		s->ws = NULL;
	}
	if (!s->welcome || !s->token[0] || s->window_ms <= 0 ||
	    (s->resuming && (g_get_monotonic_time() - s->dropped_us) / 1000 >= s->window_ms)) {
		renew_later(s, code, why);
		return;
	}
	if (!s->resuming) {
		s->resuming = TRUE;
		s->dropped_us = g_get_monotonic_time();
		s->attempts = 0;
	}
	s->sent_resume = FALSE;
	if (s->away_ms) {
		s->retry_timer = g_timeout_add(s->away_ms, on_retry, s);
		s->away_ms = 0;
	} else {
		connect_ws(s);
	}
}

static gboolean on_retry(gpointer data)
{
	pt_sig *s = data;

	s->retry_timer = 0;
	connect_ws(s);
	return G_SOURCE_REMOVE;
}

/* Another try after a backoff with full jitter, or the end when the
 * window would be over by then. */
static void retry_later(pt_sig *s, const char *why)
{
	gint64 cap = RETRY_FIRST_MS << (s->attempts < 5 ? s->attempts : 5);
	gint64 wait = g_random_int_range(0, (gint32)(cap < RETRY_MAX_MS ? cap : RETRY_MAX_MS) + 1);
	gint64 spent = (g_get_monotonic_time() - s->dropped_us) / 1000;

	retire_ws(s);
	s->attempts++;
	if (spent + wait >= s->window_ms) {
		renew_later(s, 0, why);
		return;
	}
	s->retry_timer = g_timeout_add((guint)wait, on_retry, s);
}

/* Messages of a connection that is resuming: its welcome (answered with
 * the token), then resumed or a refusal. */
static void on_resume_message(pt_sig *s, const char *type, json_t *msg)
{
	if (!s->sent_resume) {
		char *text;

		if (strcmp(type, "welcome") != 0) {
			retry_later(s, "first message is not a welcome");
			return;
		}
		text = g_strdup_printf("{\"type\":\"resume\",\"token\":\"%s\"}", s->token);
		send_now(s, text);
		g_free(text);
		s->sent_resume = TRUE;
		json_decref(s->fresh);
		s->fresh = json_incref(msg);
		return;
	}
	if (strcmp(type, "resumed") == 0) {
		const char *id = json_string_value(json_object_get(msg, "id"));
		unsigned held = (unsigned)json_integer_value(json_object_get(msg, "held"));
		char *text;

		if (!id || strcmp(id, s->id) != 0) {
			finish(s, 0, "resumed under another id");
			return;
		}
		keep_token(s, msg);
		s->resuming = FALSE;
		json_decref(s->fresh);
		s->fresh = NULL;
		while ((text = g_queue_pop_head(&s->outbox))) {
			send_now(s, text);
			g_free(text);
		}
		if (s->cbs.resumed)
			s->cbs.resumed(s->arg, held);
		return;
	}
	if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(msg, "code"));
		static char why[96];

		/* The daemon has not seen the old connection drop yet: ours
		 * goes (a clean close: it is not kept) and we ask again. */
		if (code && strcmp(code, "resume-live") == 0) {
			retry_later(s, "the daemon kept the old connection for the whole window");
			return;
		}
		snprintf(why, sizeof(why), "resume refused: %s", code ? code : "?");
		if (!s->cbs.renewed || !s->fresh) {
			finish(s, 0, why);
			return;
		}
		/* The connection goes on under the fresh id of its welcome
		 * (PROTOCOL.md, "Resuming"): adopt it. */
		{
			json_t *fresh = s->fresh;

			s->fresh = NULL;
			s->resuming = FALSE;
			s->sent_resume = FALSE;
			s->renewing = TRUE;
			drop_outbox(s);
			if (s->cbs.renewing)
				s->cbs.renewing(s->arg, 0, why, 0);
			on_welcome(s, fresh);
			json_decref(fresh);
		}
		return;
	}
	/* Nothing else comes before `resumed`. */
	finish(s, 0, "unexpected message while resuming");
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
	if (s->resuming) {
		on_resume_message(s, type, msg);
	} else if (!s->welcome) {
		if (strcmp(type, "welcome") == 0)
			on_welcome(s, msg);
		else
			finish(s, 0, "first message is not a welcome");
	} else {
		s->cbs.message(s->arg, type, msg);
	}
	json_decref(msg);
}

/* Close codes after which the same peer may come back (PROTOCOL.md's
 * policy): a drop, a heartbeat timeout, a server error. */
static gboolean resumable_code(int code)
{
	return code == SOUP_WEBSOCKET_CLOSE_ABNORMAL || code == 0 || code == 4000 || code == 1011;
}

/* Close codes after which a fresh session may follow: the server going
 * away or restarting, full, or asking us to come back later. Not a client
 * bug (1002, 1007, 1009), a refusal (1008) or an operator's decision
 * (4001, 4003). */
static gboolean renewable_code(int code)
{
	return code == 1001 || code == 1012 || code == 1013 || code == 4002 || code == 4029;
}

static void on_closed(SoupWebsocketConnection *ws, gpointer data)
{
	pt_sig *s = data;
	const char *why = soup_websocket_connection_get_close_data(ws);
	int code = soup_websocket_connection_get_close_code(ws);

	why = why && *why ? why : "closed by the server";
	if (s->resuming)
		retry_later(s, why);
	else if (s->renewing || (s->welcome && renewable_code(code)))
		renew_later(s, code, why);
	else if (resumable_code(code))
		lost(s, code, why);
	else
		finish(s, code, why);
}

static void on_connected(GObject *src, GAsyncResult *res, gpointer data)
{
	pt_sig *s = data;
	GError *err = NULL;
	SoupWebsocketConnection *ws = soup_session_websocket_connect_finish(SOUP_SESSION(src), res, &err);

	if (!ws) {
		/* Cancelled means pt_sig_free is running: s is gone for the caller. */
		if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			if (s->resuming)
				retry_later(s, err->message);
			else if (s->renewing)
				renew_later(s, 0, err->message);
			else
				finish(s, 0, err->message);
		}
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

static void connect_ws(pt_sig *s)
{
	SoupMessage *msg = soup_message_new(SOUP_METHOD_GET, s->url);

	soup_session_websocket_connect_async(s->session, msg, s->origin, NULL, G_PRIORITY_DEFAULT,
	                                     s->cancel, on_connected, s);
	g_object_unref(msg);
}

pt_sig *pt_sig_new(const char *url, const char *origin, const char *bind,
                   const pt_sig_cbs *cbs, void *arg)
{
	pt_sig *s;
	SoupMessage *msg = soup_message_new(SOUP_METHOD_GET, url);
	GSocketAddress *local = NULL;

	if (!msg)
		return NULL;
	g_object_unref(msg);
	if (bind) {
		GInetAddress *a = g_inet_address_new_from_string(bind);

		if (!a)
			return NULL;
		local = g_inet_socket_address_new(a, 0);
		g_object_unref(a);
	}
	s = g_new0(pt_sig, 1);
	s->cbs = *cbs;
	s->arg = arg;
	s->next_rid = 1;
	s->url = g_strdup(url);
	s->origin = g_strdup(origin);
	s->dead = g_ptr_array_new_with_free_func(g_object_unref);
	g_queue_init(&s->outbox);
	s->cancel = g_cancellable_new();
	s->session = local ? soup_session_new_with_options("local-address", local, NULL) : soup_session_new();
	if (local)
		g_object_unref(local);
	connect_ws(s);
	return s;
}

int pt_sig_send(pt_sig *s, json_t *msg)
{
	char *text;

	if (s->done)
		return -ENOTCONN;
	if (s->resuming) {
		if (g_queue_get_length(&s->outbox) >= OUTBOX_MAX)
			return -ENOBUFS;
		text = json_dumps(msg, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
		g_queue_push_tail(&s->outbox, g_strdup(text));
		free(text);
		return 0;
	}
	if (!s->ws || soup_websocket_connection_get_state(s->ws) != SOUP_WEBSOCKET_STATE_OPEN)
		return -ENOTCONN;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	send_now(s, text);
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

void pt_sig_test_drop(pt_sig *s, unsigned away_ms)
{
	GIOStream *io;
	GSocket *sock = NULL;

	if (s->done || s->resuming || !s->ws)
		return;
	io = soup_websocket_connection_get_io_stream(s->ws);
	/* libsoup keeps the connection's socket on the stolen stream. */
	if (G_IS_SOCKET_CONNECTION(io))
		sock = g_socket_connection_get_socket(G_SOCKET_CONNECTION(io));
	else
		sock = g_object_get_data(G_OBJECT(io), "GSocket");
	if (!sock || !G_IS_SOCKET(sock)) {
		finish(s, 0, "test drop: cannot find the socket");
		return;
	}
	g_socket_shutdown(sock, TRUE, TRUE, NULL);
	s->away_ms = away_ms;
	lost(s, SOUP_WEBSOCKET_CLOSE_ABNORMAL, "dropped (test)");
}

void pt_sig_free(pt_sig *s)
{
	char *text;

	if (!s)
		return;
	s->done = TRUE;
	if (s->ping_timer)
		g_source_remove(s->ping_timer);
	if (s->retry_timer)
		g_source_remove(s->retry_timer);
	g_cancellable_cancel(s->cancel);
	if (s->ws) {
		g_signal_handlers_disconnect_by_data(s->ws, s);
		if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
		g_object_unref(s->ws);
	}
	g_ptr_array_unref(s->dead);
	while ((text = g_queue_pop_head(&s->outbox)))
		g_free(text);
	json_decref(s->fresh);
	g_object_unref(s->cancel);
	g_object_unref(s->session);
	json_decref(s->welcome);
	g_free(s->url);
	g_free(s->origin);
	g_free(s);
}
