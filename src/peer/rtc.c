/* rtc.c — webrtcbin glue (see rtc.h).
 *
 * Lifetime: the owner holds one reference; every signal closure, promise
 * and pending main-loop drain holds another, so a webrtcbin thread never
 * touches freed memory. GStreamer objects are released by pt_rtc_free on
 * the main thread after the pipeline reached NULL, which has joined
 * webrtcbin's threads; handlers that use them check `dead` first. */
#define GST_USE_UNSTABLE_API /* webrtcbin's library has no stable API yet */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>
#include "rtc.h"

/* 1 MiB through the default ~200 KiB socket buffer drops datagrams in
 * bursts and SCTP then waits a full second to retransmit. */
#define SOCK_BUF_BYTES (4 << 20)

enum ev_kind { EV_LOCAL_SDP, EV_LOCAL_ICE, EV_OPEN, EV_MESSAGE, EV_WRITABLE, EV_FAILED };

typedef struct ev {
	enum ev_kind kind;
	char *s1, *s2;
	unsigned n;
	GBytes *bytes;
} ev;

struct pt_rtc {
	gint refs;
	gint dead;
	bool offerer;
	pt_rtc_cbs cbs;
	void *arg;
	GstElement *pipe, *webrtc;
	GstWebRTCDataChannel *chan; /* set on the main loop only */
	NiceAgent *agent;
	guint bus_watch;
	uint64_t low;
	gboolean opened, failed;
	GMutex lock; /* guards events and drain_pending */
	GQueue events;
	gboolean drain_pending;
};

static pt_rtc *rtc_ref(pt_rtc *r)
{
	g_atomic_int_inc(&r->refs);
	return r;
}

static void ev_free(ev *e)
{
	g_free(e->s1);
	g_free(e->s2);
	if (e->bytes)
		g_bytes_unref(e->bytes);
	g_free(e);
}

static void rtc_unref(pt_rtc *r)
{
	ev *e;

	if (!g_atomic_int_dec_and_test(&r->refs))
		return;
	while ((e = g_queue_pop_head(&r->events)))
		ev_free(e);
	g_mutex_clear(&r->lock);
	g_free(r);
}

static void closure_unref(gpointer data, GClosure *closure)
{
	rtc_unref(data);
}

static void connect_ref(gpointer obj, const char *sig, GCallback cb, pt_rtc *r)
{
	g_signal_connect_data(obj, sig, cb, rtc_ref(r), closure_unref, 0);
}

static void dispatch(pt_rtc *r, ev *e)
{
	switch (e->kind) {
	case EV_LOCAL_SDP: r->cbs.local_sdp(r->arg, e->s1, e->s2); break;
	case EV_LOCAL_ICE: r->cbs.local_ice(r->arg, e->n, e->s1); break;
	case EV_OPEN:
		if (!r->opened && !r->failed) {
			r->opened = TRUE;
			r->cbs.open(r->arg);
		}
		break;
	case EV_MESSAGE: if (!r->failed) r->cbs.message(r->arg, e->bytes); break;
	case EV_WRITABLE: if (!r->failed) r->cbs.writable(r->arg); break;
	case EV_FAILED:
		if (!r->failed) {
			r->failed = TRUE;
			r->cbs.failed(r->arg, e->s1);
		}
		break;
	}
}

/* Runs on the main loop: hands queued events over in arrival order. The
 * drain's own reference keeps r alive even if a callback frees it. */
static gboolean drain(gpointer data)
{
	pt_rtc *r = data;
	ev *e;

	for (;;) {
		g_mutex_lock(&r->lock);
		e = g_queue_pop_head(&r->events);
		if (!e)
			r->drain_pending = FALSE;
		g_mutex_unlock(&r->lock);
		if (!e)
			break;
		if (!g_atomic_int_get(&r->dead))
			dispatch(r, e);
		ev_free(e);
	}
	rtc_unref(r);
	return G_SOURCE_REMOVE;
}

static void post(pt_rtc *r, enum ev_kind kind, const char *s1, const char *s2, unsigned n, GBytes *bytes)
{
	ev *e;

	if (g_atomic_int_get(&r->dead))
		return;
	e = g_new0(ev, 1);
	e->kind = kind;
	e->s1 = g_strdup(s1);
	e->s2 = g_strdup(s2);
	e->n = n;
	e->bytes = bytes ? g_bytes_ref(bytes) : NULL;
	g_mutex_lock(&r->lock);
	g_queue_push_tail(&r->events, e);
	if (!r->drain_pending) {
		r->drain_pending = TRUE;
		g_idle_add_full(G_PRIORITY_DEFAULT, drain, rtc_ref(r), NULL);
	}
	g_mutex_unlock(&r->lock);
}

bool pt_rtc_candidate_is_loopback(const char *c)
{
	char **f;
	bool ok = false;
	unsigned a, b, cc, d;
	char tail;

	if (strncmp(c, "a=", 2) == 0)
		c += 2;
	/* candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ ... */
	f = g_strsplit(c, " ", 7);
	if (g_strv_length(f) >= 6 &&
	    sscanf(f[4], "%u.%u.%u.%u%c", &a, &b, &cc, &d, &tail) == 4 &&
	    a == 127 && b < 256 && cc < 256 && d < 256)
		ok = true;
	g_strfreev(f);
	return ok;
}

/* Drops every a=candidate line that is not on 127.0.0.0/8. */
static char *filter_sdp(const char *sdp)
{
	GString *out = g_string_sized_new(strlen(sdp));
	const char *p = sdp;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
		char *line = g_strndup(p, len);

		g_strchomp(line);
		if (!g_str_has_prefix(line, "a=candidate:") || pt_rtc_candidate_is_loopback(line))
			g_string_append_len(out, p, len);
		g_free(line);
		p += len;
	}
	return g_string_free(out, FALSE);
}

static void on_selected_pair(NiceAgent *agent, guint stream, guint component,
                             NiceCandidate *lc, NiceCandidate *rc, gpointer data)
{
	GSocket *sock = nice_agent_get_selected_socket(agent, stream, component);
	int fd, sz = SOCK_BUF_BYTES;

	if (!sock)
		return;
	fd = g_socket_get_fd(sock);
	/* FORCE passes net.core.rmem_max when we may; otherwise take what we get. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	g_object_unref(sock);
}

static void on_ice_candidate(GstElement *w, guint mline, gchar *cand, gpointer data)
{
	pt_rtc *r = data;

	/* The agent only knows 127.0.0.1; this is a belt to those braces. */
	if (pt_rtc_candidate_is_loopback(cand))
		post(r, EV_LOCAL_ICE, cand, NULL, mline, NULL);
}

static void on_ice_state(GObject *w, GParamSpec *ps, gpointer data)
{
	pt_rtc *r = data;
	GstWebRTCICEConnectionState st;

	g_object_get(w, "ice-connection-state", &st, NULL);
	if (st == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
		post(r, EV_FAILED, "ICE failed", NULL, 0, NULL);
}

static void on_chan_open(GstWebRTCDataChannel *c, gpointer data) { post(data, EV_OPEN, NULL, NULL, 0, NULL); }
static void on_chan_close(GstWebRTCDataChannel *c, gpointer data) { post(data, EV_FAILED, "data channel closed", NULL, 0, NULL); }
static void on_chan_low(GstWebRTCDataChannel *c, gpointer data) { post(data, EV_WRITABLE, NULL, NULL, 0, NULL); }

static void on_chan_error(GstWebRTCDataChannel *c, GError *err, gpointer data)
{
	post(data, EV_FAILED, err ? err->message : "data channel error", NULL, 0, NULL);
}

static void on_chan_data(GstWebRTCDataChannel *c, GBytes *bytes, gpointer data)
{
	if (bytes)
		post(data, EV_MESSAGE, NULL, NULL, 0, bytes);
}

static void on_chan_string(GstWebRTCDataChannel *c, gchar *s, gpointer data)
{
	post(data, EV_FAILED, "text message on the data channel", NULL, 0, NULL);
}

/* Any thread. Connects the channel's signals; the main loop adopts it. */
static void wire_channel(pt_rtc *r, GstWebRTCDataChannel *c)
{
	GstWebRTCDataChannelState st;

	connect_ref(c, "on-open", G_CALLBACK(on_chan_open), r);
	connect_ref(c, "on-close", G_CALLBACK(on_chan_close), r);
	connect_ref(c, "on-error", G_CALLBACK(on_chan_error), r);
	connect_ref(c, "on-message-data", G_CALLBACK(on_chan_data), r);
	connect_ref(c, "on-message-string", G_CALLBACK(on_chan_string), r);
	connect_ref(c, "on-buffered-amount-low", G_CALLBACK(on_chan_low), r);
	/* A channel the other side opened may be open already: no on-open then. */
	g_object_get(c, "ready-state", &st, NULL);
	if (st == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN)
		post(r, EV_OPEN, NULL, NULL, 0, NULL);
}

static void on_data_channel(GstElement *w, GstWebRTCDataChannel *c, gpointer data)
{
	pt_rtc *r = data;

	if (g_atomic_int_get(&r->dead))
		return;
	g_mutex_lock(&r->lock);
	if (r->chan) { /* one channel per connection: ignore extras */
		g_mutex_unlock(&r->lock);
		return;
	}
	r->chan = g_object_ref(c);
	g_object_set(c, "buffered-amount-low-threshold", (guint64)r->low, NULL);
	g_mutex_unlock(&r->lock);
	wire_channel(r, c);
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer data)
{
	pt_rtc *r = data;
	GError *err = NULL;

	if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
		gst_message_parse_error(m, &err, NULL);
		post(r, EV_FAILED, err ? err->message : "pipeline error", NULL, 0, NULL);
		g_clear_error(&err);
	}
	return G_SOURCE_CONTINUE;
}

static GstPromise *promise_for(pt_rtc *r, GstPromiseChangeFunc fn)
{
	return gst_promise_new_with_change_func(fn, rtc_ref(r), (GDestroyNotify)rtc_unref);
}

typedef struct local_desc {
	pt_rtc *r; /* holds a reference */
	char *text;
} local_desc;

static void local_desc_free(gpointer data)
{
	local_desc *l = data;

	rtc_unref(l->r);
	g_free(l->text);
	g_free(l);
}

/* webrtcbin thread: our description is applied, so an answer coming back
 * can no longer overtake it: publish it now. */
static void on_local_set(GstPromise *p, gpointer data)
{
	local_desc *l = data;
	pt_rtc *r = l->r;
	const GstStructure *reply;

	if (g_atomic_int_get(&r->dead) || gst_promise_wait(p) != GST_PROMISE_RESULT_REPLIED) {
		gst_promise_unref(p);
		return;
	}
	reply = gst_promise_get_reply(p);
	if (reply && gst_structure_has_field(reply, "error"))
		post(r, EV_FAILED, "local description refused", NULL, 0, NULL);
	else
		post(r, EV_LOCAL_SDP, r->offerer ? "offer" : "answer", l->text, 0, NULL);
	gst_promise_unref(p);
}

/* webrtcbin thread: our offer/answer exists; apply it, then publish it. */
static void on_local_created(GstPromise *p, gpointer data)
{
	pt_rtc *r = data;
	const char *type = r->offerer ? "offer" : "answer";
	const GstStructure *reply;
	GstWebRTCSessionDescription *desc = NULL;
	local_desc *l;

	if (g_atomic_int_get(&r->dead) || gst_promise_wait(p) != GST_PROMISE_RESULT_REPLIED)
		goto fail;
	reply = gst_promise_get_reply(p);
	if (!reply || !gst_structure_get(reply, type, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL))
		goto fail;
	l = g_new0(local_desc, 1);
	l->r = rtc_ref(r);
	l->text = gst_sdp_message_as_text(desc->sdp);
	g_signal_emit_by_name(r->webrtc, "set-local-description", desc,
	                      gst_promise_new_with_change_func(on_local_set, l, local_desc_free));
	gst_webrtc_session_description_free(desc);
	gst_promise_unref(p);
	return;
fail:
	post(r, EV_FAILED, r->offerer ? "could not create an offer" : "could not create an answer",
	     NULL, 0, NULL);
	gst_promise_unref(p);
}

static void on_remote_set(GstPromise *p, gpointer data)
{
	pt_rtc *r = data;
	const GstStructure *reply;

	if (g_atomic_int_get(&r->dead) || gst_promise_wait(p) != GST_PROMISE_RESULT_REPLIED) {
		gst_promise_unref(p);
		return;
	}
	reply = gst_promise_get_reply(p);
	if (reply && gst_structure_has_field(reply, "error")) {
		post(r, EV_FAILED, "remote description refused", NULL, 0, NULL);
	} else if (!r->offerer) {
		g_signal_emit_by_name(r->webrtc, "create-answer", NULL, promise_for(r, on_local_created));
	}
	gst_promise_unref(p);
}

pt_rtc *pt_rtc_new(bool offerer, const pt_rtc_ice *ice_cfg, const pt_rtc_cbs *cbs, void *arg,
                   char **err)
{
	pt_rtc *r = g_new0(pt_rtc, 1);
	GObject *ice = NULL;
	NiceAddress lo;
	GstBus *bus;

	r->refs = 1;
	r->offerer = offerer;
	r->cbs = *cbs;
	r->arg = arg;
	r->low = 256 * 1024;
	g_mutex_init(&r->lock);
	g_queue_init(&r->events);
	r->pipe = gst_pipeline_new(NULL);
	r->webrtc = gst_element_factory_make("webrtcbin", NULL);
	if (!r->webrtc) {
		*err = g_strdup("GStreamer has no webrtcbin (install gstreamer1.0-plugins-bad and gstreamer1.0-nice)");
		goto fail;
	}
	gst_bin_add(GST_BIN(r->pipe), r->webrtc);
	g_object_set(r->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
	if (ice_cfg && ice_cfg->stun)
		g_object_set(r->webrtc, "stun-server", ice_cfg->stun, NULL);
	for (const char *const *t = ice_cfg ? ice_cfg->turn : NULL; t && *t; t++) {
		gboolean ok = FALSE;

		g_signal_emit_by_name(r->webrtc, "add-turn-server", *t, &ok);
		if (!ok) {
			*err = g_strdup("webrtcbin refused a TURN server URI");
			goto fail;
		}
	}
	if (ice_cfg && ice_cfg->relay_only)
		g_object_set(r->webrtc, "ice-transport-policy", GST_WEBRTC_ICE_TRANSPORT_POLICY_RELAY, NULL);

	g_object_get(r->webrtc, "ice-agent", &ice, NULL);
	if (ice && g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
		g_object_get(ice, "agent", &r->agent, NULL);
	if (!r->agent) {
		*err = g_strdup("webrtcbin's ICE agent is not libnice");
		g_clear_object(&ice);
		goto fail;
	}
	g_object_set(ice, "ice-tcp", FALSE, NULL);
	g_object_unref(ice);
	/* UPnP costs ~200 ms per candidate; and with one local address added,
	 * libnice gathers that address only — loopback, never the host's others. */
	g_object_set(r->agent, "upnp", FALSE, NULL);
	nice_address_init(&lo);
	nice_address_set_from_string(&lo, "127.0.0.1");
	nice_agent_add_local_address(r->agent, &lo);
	connect_ref(r->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), r);

	connect_ref(r->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), r);
	connect_ref(r->webrtc, "on-data-channel", G_CALLBACK(on_data_channel), r);
	connect_ref(r->webrtc, "notify::ice-connection-state", G_CALLBACK(on_ice_state), r);
	bus = gst_pipeline_get_bus(GST_PIPELINE(r->pipe));
	r->bus_watch = gst_bus_add_watch(bus, on_bus, r);
	gst_object_unref(bus);

	if (gst_element_set_state(r->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		*err = g_strdup("webrtcbin pipeline would not start");
		goto fail;
	}
	if (offerer) {
		GstStructure *opts = gst_structure_new("opts", "ordered", G_TYPE_BOOLEAN, TRUE, NULL);
		GstWebRTCDataChannel *c = NULL;

		/* Not from on-negotiation-needed: that fires before the channel exists. */
		g_signal_emit_by_name(r->webrtc, "create-data-channel", "peertrack", opts, &c);
		gst_structure_free(opts);
		if (!c) {
			*err = g_strdup("webrtcbin refused to create a data channel");
			goto fail;
		}
		r->chan = c;
		g_object_set(c, "buffered-amount-low-threshold", (guint64)r->low, NULL);
		wire_channel(r, c);
		g_signal_emit_by_name(r->webrtc, "create-offer", NULL, promise_for(r, on_local_created));
	}
	return r;
fail:
	pt_rtc_free(r);
	return NULL;
}

int pt_rtc_remote_sdp(pt_rtc *r, const char *type, const char *sdp)
{
	GstWebRTCSDPType t;
	GstSDPMessage *msg = NULL;
	GstWebRTCSessionDescription *desc;
	char *clean;

	if (strcmp(type, "offer") == 0 && !r->offerer)
		t = GST_WEBRTC_SDP_TYPE_OFFER;
	else if (strcmp(type, "answer") == 0 && r->offerer)
		t = GST_WEBRTC_SDP_TYPE_ANSWER;
	else
		return -EINVAL;
	clean = filter_sdp(sdp);
	if (gst_sdp_message_new_from_text(clean, &msg) != GST_SDP_OK) {
		g_free(clean);
		if (msg)
			gst_sdp_message_free(msg);
		return -EINVAL;
	}
	g_free(clean);
	desc = gst_webrtc_session_description_new(t, msg);
	g_signal_emit_by_name(r->webrtc, "set-remote-description", desc, promise_for(r, on_remote_set));
	gst_webrtc_session_description_free(desc);
	return 0;
}

int pt_rtc_remote_ice(pt_rtc *r, unsigned mline, const char *candidate)
{
	if (!pt_rtc_candidate_is_loopback(candidate))
		return 1;
	g_signal_emit_by_name(r->webrtc, "add-ice-candidate", mline, candidate);
	return 0;
}

static GstWebRTCDataChannel *channel(pt_rtc *r)
{
	GstWebRTCDataChannel *c;

	g_mutex_lock(&r->lock);
	c = r->chan;
	g_mutex_unlock(&r->lock);
	return c;
}

int pt_rtc_send(pt_rtc *r, const void *data, size_t len)
{
	GstWebRTCDataChannel *c = channel(r);
	GBytes *b;
	GError *err = NULL;
	gboolean ok;

	if (!c || !r->opened || r->failed)
		return -ENOTCONN;
	b = g_bytes_new(data, len);
	ok = gst_webrtc_data_channel_send_data_full(c, b, &err);
	g_bytes_unref(b);
	if (!ok) {
		g_clear_error(&err);
		return -EIO;
	}
	return 0;
}

uint64_t pt_rtc_buffered(pt_rtc *r)
{
	GstWebRTCDataChannel *c = channel(r);
	guint64 v = 0;

	if (c)
		g_object_get(c, "buffered-amount", &v, NULL);
	return v;
}

void pt_rtc_set_low(pt_rtc *r, uint64_t low)
{
	GstWebRTCDataChannel *c;

	g_mutex_lock(&r->lock);
	r->low = low;
	c = r->chan;
	if (c)
		g_object_set(c, "buffered-amount-low-threshold", (guint64)low, NULL);
	g_mutex_unlock(&r->lock);
}

void pt_rtc_free(pt_rtc *r)
{
	GstWebRTCDataChannel *c;

	if (!r)
		return;
	g_atomic_int_set(&r->dead, 1);
	if (r->bus_watch)
		g_source_remove(r->bus_watch);
	/* NULL joins webrtcbin's threads: nothing runs in it after this. */
	if (r->pipe)
		gst_element_set_state(r->pipe, GST_STATE_NULL);
	g_mutex_lock(&r->lock);
	c = r->chan;
	r->chan = NULL;
	g_mutex_unlock(&r->lock);
	if (c) {
		g_signal_handlers_disconnect_by_func(c, on_chan_open, r);
		g_signal_handlers_disconnect_by_func(c, on_chan_close, r);
		g_signal_handlers_disconnect_by_func(c, on_chan_error, r);
		g_signal_handlers_disconnect_by_func(c, on_chan_data, r);
		g_signal_handlers_disconnect_by_func(c, on_chan_string, r);
		g_signal_handlers_disconnect_by_func(c, on_chan_low, r);
		g_object_unref(c);
	}
	if (r->agent) {
		g_signal_handlers_disconnect_by_func(r->agent, on_selected_pair, r);
		g_object_unref(r->agent);
	}
	if (r->webrtc) {
		g_signal_handlers_disconnect_by_func(r->webrtc, on_ice_candidate, r);
		g_signal_handlers_disconnect_by_func(r->webrtc, on_data_channel, r);
		g_signal_handlers_disconnect_by_func(r->webrtc, on_ice_state, r);
	}
	if (r->pipe)
		gst_object_unref(r->pipe);
	rtc_unref(r);
}

typedef struct warm {
	void (*done)(void *arg);
	void *arg;
} warm;

static gboolean warm_done(gpointer data)
{
	warm *w = data;

	w->done(w->arg);
	return G_SOURCE_REMOVE;
}

static gpointer warm_up(gpointer data)
{
	/* dtlsdec fetches the process-wide certificate agent on creation. */
	GstElement *e = gst_element_factory_make("dtlsdec", NULL);

	if (e)
		gst_object_unref(e);
	g_idle_add_full(G_PRIORITY_DEFAULT, warm_done, data, g_free);
	return NULL;
}

GThread *pt_rtc_warm_up(void (*done)(void *arg), void *arg)
{
	warm *w = g_new(warm, 1);

	w->done = done;
	w->arg = arg;
	return g_thread_new("dtls-warm-up", warm_up, w);
}
