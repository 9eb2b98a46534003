/* serve.c — answering other peers: one session per incoming offer, keyed by
 * (sender, sid). A session serves one REQUEST at a time, chunk by chunk,
 * keeping at most HIGH_WATER bytes queued in the data channel. */
#include <errno.h>
#include <string.h>
#include "peer.h"
#include "rtc.h"
#include "wire.h"

#define HIGH_WATER (1u << 20)
#define LOW_WATER  (256u << 10)
/* If the channel never says it drained (it should), look again this often. */
#define RECHECK_MS 50

typedef struct serve {
	pt_peer *app;
	char *key;
	char from[PT_ID_CHARS + 1];
	char *sid;
	pt_rtc *rtc;
	pt_resource *res; /* the request being served, or NULL */
	uint32_t next;
	guint timer;
	bool throttled; /* timer is the throttle tick, not the recheck */
} serve;

void pt_serve_destroy(gpointer data)
{
	serve *s = data;

	if (s->timer)
		g_source_remove(s->timer);
	pt_rtc_free(s->rtc);
	g_free(s->key);
	g_free(s->sid);
	g_free(s);
}

static void drop(serve *s)
{
	/* The table owns s: removing it frees it. */
	g_hash_table_remove(s->app->serves, s->key);
}

static int send_msg(serve *s, uint8_t type, const pt_hash *h, uint32_t index, uint32_t count,
                    const void *payload, size_t plen)
{
	uint8_t buf[PT_WIRE_MAX];
	pt_wire_hdr hdr = { .type = type, .index = index, .count = count };
	size_t n;

	memcpy(hdr.from, s->app->id, PT_ID_CHARS);
	if (h)
		hdr.hash = *h;
	n = pt_wire_encode(&hdr, payload, plen, buf);
	return n ? pt_rtc_send(s->rtc, buf, n) : -EINVAL;
}

static int send_chunk(serve *s)
{
	gsize size;
	const uint8_t *all = g_bytes_get_data(s->res->bytes, &size);
	uint64_t off = (uint64_t)s->next * PT_WIRE_PAYLOAD;
	size_t len = size - off < PT_WIRE_PAYLOAD ? size - off : PT_WIRE_PAYLOAD;
	uint8_t bad[PT_WIRE_PAYLOAD];
	const uint8_t *payload = all ? all + off : bad;

	if (s->app->corrupt && len) {
		/* Test-only: a liar serving wrong bytes of the right length. */
		memcpy(bad, all + off, len);
		bad[0] ^= 0xff;
		bad[len - 1] ^= 0x5a;
		payload = bad;
	}
	return send_msg(s, PT_WIRE_CHUNK, &s->res->hash, s->next, s->res->chunks, payload, len);
}

static gboolean on_timer(gpointer data);

static void arm(serve *s, unsigned ms, bool throttled)
{
	if (s->timer)
		return;
	s->throttled = throttled;
	s->timer = g_timeout_add(ms, on_timer, s);
}

static void pump(serve *s)
{
	while (s->res && s->next < s->res->chunks) {
		if (pt_rtc_buffered(s->rtc) > HIGH_WATER) {
			arm(s, RECHECK_MS, false);
			return;
		}
		if (send_chunk(s) != 0) {
			pt_peer_note(s->app, "%s: send failed, dropping the session", s->from);
			drop(s);
			return;
		}
		s->next++;
		if (s->app->throttle_kib && s->next < s->res->chunks) {
			unsigned ms = (unsigned)((uint64_t)PT_WIRE_PAYLOAD * 1000 / (s->app->throttle_kib * 1024ull));

			arm(s, ms ? ms : 1, true);
			return;
		}
	}
	if (s->res && s->app->verbose)
		pt_peer_note(s->app, "%s: served %s (%u chunks)", s->from, s->res->hex, s->res->chunks);
	s->res = NULL;
}

static gboolean on_timer(gpointer data)
{
	serve *s = data;

	s->timer = 0;
	pump(s);
	return G_SOURCE_REMOVE;
}

static void on_local_sdp(void *arg, const char *type, const char *sdp)
{
	serve *s = arg;

	pt_peer_signal(s->app, s->from, s->sid, "sdp", json_pack("{s:s,s:s}", "type", type, "sdp", sdp));
}

static void on_local_ice(void *arg, unsigned mline, const char *cand)
{
	serve *s = arg;

	pt_peer_signal(s->app, s->from, s->sid, "ice",
	               json_pack("{s:s,s:i}", "candidate", cand, "sdpMLineIndex", (int)mline));
}

static void on_open(void *arg)
{
	serve *s = arg;

	if (s->app->verbose)
		pt_peer_note(s->app, "%s: channel open", s->from);
}

static void on_message(void *arg, GBytes *bytes)
{
	serve *s = arg;
	gsize len;
	const uint8_t *msg = g_bytes_get_data(bytes, &len);
	pt_wire_hdr h;
	const uint8_t *payload;
	size_t plen;
	char hex[PT_HASH_HEX + 1];
	static const char why_id[] = "header id is not the signalling id";

	if (pt_wire_decode(msg, len, &h, &payload, &plen) != 0) {
		pt_peer_note(s->app, "%s: malformed peer-wire message (%zu bytes)", s->from, (size_t)len);
		return;
	}
	if (h.type != PT_WIRE_REQUEST) {
		if (h.type == PT_WIRE_ERROR)
			pt_peer_note(s->app, "%s: error: %.*s", s->from, (int)plen, (const char *)payload);
		return;
	}
	if (memcmp(h.from, s->from, PT_ID_CHARS) != 0) {
		send_msg(s, PT_WIRE_ERROR, &h.hash, 0, 0, why_id, sizeof why_id - 1);
		return;
	}
	pt_hash_format(&h.hash, hex);
	s->res = g_hash_table_lookup(s->app->resources, hex);
	if (!s->res) {
		send_msg(s, PT_WIRE_NOT_FOUND, &h.hash, h.index, 0, NULL, 0);
		return;
	}
	if (h.index >= s->res->chunks) {
		static const char why_range[] = "first chunk past the end";

		send_msg(s, PT_WIRE_ERROR, &h.hash, h.index, s->res->chunks, why_range, sizeof why_range - 1);
		s->res = NULL;
		return;
	}
	if (s->app->verbose)
		pt_peer_note(s->app, "%s: request %s from chunk %u", s->from, hex, h.index);
	s->next = h.index;
	/* A new request replaces the one in flight; a pending recheck stays. */
	if (!s->timer || !s->throttled)
		pump(s);
}

static void on_writable(void *arg)
{
	serve *s = arg;

	if (s->timer && !s->throttled) {
		g_source_remove(s->timer);
		s->timer = 0;
	}
	if (!s->timer)
		pump(s);
}

static void on_failed(void *arg, const char *why)
{
	serve *s = arg;

	if (s->app->verbose)
		pt_peer_note(s->app, "%s: session ends: %s", s->from, why);
	drop(s);
}

static const pt_rtc_cbs serve_cbs = {
	.local_sdp = on_local_sdp, .local_ice = on_local_ice, .open = on_open,
	.message = on_message, .writable = on_writable, .failed = on_failed,
};

void pt_serve_signal(pt_peer *p, const char *from, const char *sid, json_t *data)
{
	char *key = g_strdup_printf("%s/%s", from, sid);
	serve *s = g_hash_table_lookup(p->serves, key);
	json_t *sdp = json_object_get(data, "sdp"), *ice = json_object_get(data, "ice");
	const char *type = json_string_value(json_object_get(sdp, "type"));
	const char *text = json_string_value(json_object_get(sdp, "sdp"));
	char *err = NULL;

	if (json_is_true(json_object_get(data, "bye"))) {
		if (s)
			drop(s);
	} else if (type && text && strcmp(type, "offer") == 0) {
		if (s) /* a re-offer on a known sid starts over */
			drop(s);
		s = g_new0(serve, 1);
		s->app = p;
		s->key = g_strdup(key);
		s->sid = g_strdup(sid);
		memcpy(s->from, from, PT_ID_CHARS + 1);
		s->rtc = pt_rtc_new(false, &p->ice, &serve_cbs, s, &err);
		if (!s->rtc) {
			pt_peer_note(p, "cannot answer %s: %s", from, err);
			g_free(err);
			pt_serve_destroy(s);
		} else {
			pt_rtc_set_low(s->rtc, LOW_WATER);
			g_hash_table_insert(p->serves, s->key, s);
			if (pt_rtc_remote_sdp(s->rtc, type, text) != 0) {
				pt_peer_note(p, "%s: unusable offer", from);
				drop(s);
			}
		}
	} else if (s && json_is_object(ice)) {
		const char *cand = json_string_value(json_object_get(ice, "candidate"));
		json_int_t ml = json_integer_value(json_object_get(ice, "sdpMLineIndex"));

		/* An empty candidate is the end-of-candidates mark: nothing to add. */
		if (cand && *cand && ml >= 0)
			pt_rtc_remote_ice(s->rtc, (unsigned)ml, cand);
	}
	g_free(key);
}

void pt_serve_peer_left(pt_peer *p, const char *id)
{
	GHashTableIter it;
	gpointer k, v;
	size_t n = strlen(id);

	g_hash_table_iter_init(&it, p->serves);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (strncmp(k, id, n) == 0 && ((const char *)k)[n] == '/')
			g_hash_table_iter_remove(&it);
}

void pt_serve_free_all(pt_peer *p)
{
	g_hash_table_remove_all(p->serves);
}

int64_t pt_peer_signal(pt_peer *p, const char *to, const char *sid, const char *key, json_t *val)
{
	json_t *m;
	int64_t rid;

	if (!val)
		return -ENOMEM;
	m = json_pack("{s:s,s:s,s:{s:s,s:o}}", "type", "signal", "to", to, "data", "sid", sid, key, val);
	if (!m)
		return -ENOMEM;
	rid = pt_sig_request(p->sig, m);
	json_decref(m);
	return rid;
}
