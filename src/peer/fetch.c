/* fetch.c — the fetch command: look the hash up, then try the holders best
 * first. An attempt is: offer (trickling ICE through `signal`), channel
 * open, REQUEST from the first missing chunk, chunks in order. Any failure
 * (peer gone, its node unreachable, ICE/channel failure, not-found, error,
 * no progress for timeout_ms) moves on to the next holder and keeps the chunks received so
 * far; a SHA-256 mismatch at the end discards them all. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "peer.h"
#include "rtc.h"
#include "wire.h"

struct pt_fetch {
	pt_peer *app;
	pt_hash hash;
	char hex[PT_HASH_HEX + 1];
	char *out;
	bool stay;
	unsigned max_peers;
	int64_t lookup_rid;
	/* holders, best first, and the one being tried */
	char **peers;
	size_t n_peers, cur;
	size_t n_unavailable; /* attempts whose signal was answered unavailable */
	unsigned n_sid;
	char sid[PT_ID_CHARS + 16];
	pt_rtc *rtc;
	int64_t first_rid; /* rids of this attempt's signals are >= this */
	bool opened, requested;
	/* what has arrived, in order */
	GByteArray *data;
	uint32_t next, count;
	uint64_t attempt_bytes;
	guint timer;
	/* timings, pt_peer_now_ms() */
	double t0, t_lookup, t_peers, t_offer, t_open, t_request, t_done, last_progress;
	json_t *attempts;
	bool finished;
	uint64_t size;   /* of the verified result */
	GBytes *result;
};

static void try_next(pt_fetch *f);

static void end_attempt(pt_fetch *f, const char *result, const char *detail)
{
	json_t *a = json_pack("{s:s,s:s,s:f}", "peer", f->peers[f->cur], "result", result,
	                      "ms", round((pt_peer_now_ms() - f->t_offer) * 10) / 10);

	if (a && detail)
		json_object_set_new(a, "detail", json_string(detail));
	if (a)
		json_array_append_new(f->attempts, a);
	if (f->timer) {
		g_source_remove(f->timer);
		f->timer = 0;
	}
	if (f->rtc) {
		/* Tell the holder at once rather than leave it to ICE timeouts. */
		if (strcmp(result, "peer-gone") != 0)
			pt_peer_signal(f->app, f->peers[f->cur], f->sid, "bye", json_true());
		pt_rtc_free(f->rtc);
		f->rtc = NULL;
	}
}

static void fail_attempt(pt_fetch *f, const char *result, const char *detail)
{
	pt_peer_note(f->app, "%s: %s%s%s; trying the next holder", f->peers[f->cur], result,
	             detail ? ": " : "", detail ? detail : "");
	if (strcmp(result, "unavailable") == 0)
		f->n_unavailable++;
	end_attempt(f, result, detail);
	f->cur++;
	try_next(f);
}

/* Timings to 0.1 ms: finer is noise, and it keeps the lines readable. */
static json_t *ms(double v)
{
	return json_real(round(v * 10) / 10);
}

static json_t *result_json(pt_fetch *f, bool ok)
{
	double xfer = f->t_done - f->t_request;
	json_t *o = json_pack("{s:s,s:b,s:s,s:I,s:f}",
	                      "event", "fetched", "ok", ok, "hash", f->hex,
	                      "bytes", (json_int_t)(f->finished ? f->size : f->data->len),
	                      "lookup_ms", round((f->t_peers - f->t_lookup) * 10) / 10);

	if (o && ok) {
		json_object_set_new(o, "peer", json_string(f->peers[f->cur]));
		json_object_set_new(o, "offer_open_ms", ms(f->t_open - f->t_offer));
		json_object_set_new(o, "transfer_ms", ms(xfer));
		json_object_set_new(o, "mib_per_s",
		                    ms(xfer > 0 ? f->attempt_bytes / 1048576.0 / (xfer / 1000.0) : 0));
		json_object_set_new(o, "startup_ms", ms(f->t_lookup - f->t0));
		json_object_set_new(o, "total_ms", ms(f->t_done - f->t0));
		json_object_set_new(o, "path", json_string(f->out));
	}
	/* Last, so a line-oriented reader finds the top-level "peer" first. */
	if (o)
		json_object_set(o, "attempts", f->attempts);
	return o;
}

static int write_out(pt_fetch *f, char **err)
{
	char *tmp = g_strdup_printf("%s.part%d", f->out, (int)getpid());
	GError *gerr = NULL;
	int rc = 0;

	if (!g_file_set_contents(tmp, (const char *)f->data->data, f->data->len, &gerr)) {
		*err = g_strdup(gerr->message);
		g_error_free(gerr);
		rc = -EIO;
	} else if (rename(tmp, f->out) != 0) {
		*err = g_strdup_printf("%s: %s", f->out, g_strerror(errno));
		unlink(tmp);
		rc = -errno;
	}
	g_free(tmp);
	return rc;
}

static void complete(pt_fetch *f)
{
	pt_hash got;
	char hex[PT_HASH_HEX + 1], *err = NULL;

	f->t_done = pt_peer_now_ms();
	pt_hash_sha256(f->data->data, f->data->len, &got);
	if (!pt_hash_equal(&got, &f->hash)) {
		pt_hash_format(&got, hex);
		pt_peer_note(f->app, "%s: integrity failure: content hashes to %s, wanted %s",
		             f->peers[f->cur], hex, f->hex);
		/* Bytes from a liar are worthless, even the ones before the lie. */
		g_byte_array_set_size(f->data, 0);
		f->next = 0;
		f->count = 0;
		fail_attempt(f, "hash-mismatch", hex);
		return;
	}
	end_attempt(f, "ok", NULL);
	f->finished = true;
	if (write_out(f, &err) != 0) {
		pt_peer_note(f->app, "cannot write: %s", err);
		g_free(err);
		pt_peer_quit(f->app, PT_EXIT_IO);
		return;
	}
	/* Become a source: announce, and report once the daemon acked. */
	f->size = f->data->len;
	f->result = g_byte_array_free_to_bytes(f->data);
	f->data = g_byte_array_new();
	pt_peer_hold(f->app, pt_resource_from_bytes(f->result, &f->hash, f->out));
}

bool pt_fetch_finished(const pt_fetch *f)
{
	return f->finished;
}

bool pt_fetch_announced(pt_fetch *f)
{
	json_t *o;

	if (!f->finished)
		return true;
	o = result_json(f, true);
	pt_peer_emit(f->app, o, "fetched %s %" PRIu64 " bytes from %s in %.1f ms (open %.1f ms, %.1f MiB/s)",
	             f->hex, f->size, f->peers[f->cur], f->t_done - f->t_request,
	             f->t_open - f->t_offer,
	             json_real_value(json_object_get(o, "mib_per_s")));
	if (!f->stay)
		pt_peer_quit(f->app, PT_EXIT_OK);
	return f->stay;
}

static gboolean on_tick(gpointer data)
{
	pt_fetch *f = data;

	if (pt_peer_now_ms() - f->last_progress < f->app->timeout_ms)
		return G_SOURCE_CONTINUE;
	f->timer = 0;
	fail_attempt(f, "timeout", f->opened ? "no data" : "channel did not open");
	return G_SOURCE_REMOVE;
}

static void on_local_sdp(void *arg, const char *type, const char *sdp)
{
	pt_fetch *f = arg;
	int64_t rid = pt_peer_signal(f->app, f->peers[f->cur], f->sid, "sdp",
	                             json_pack("{s:s,s:s}", "type", type, "sdp", sdp));

	if (rid < 0)
		fail_attempt(f, "error", "cannot send the offer");
}

static void on_local_ice(void *arg, unsigned mline, const char *cand)
{
	pt_fetch *f = arg;

	pt_peer_signal(f->app, f->peers[f->cur], f->sid, "ice",
	               json_pack("{s:s,s:i}", "candidate", cand, "sdpMLineIndex", (int)mline));
}

static void on_open(void *arg)
{
	pt_fetch *f = arg;
	uint8_t buf[PT_WIRE_MAX];
	pt_wire_hdr h = { .type = PT_WIRE_REQUEST, .hash = f->hash, .index = f->next };
	size_t n;

	f->opened = true;
	f->t_open = f->last_progress = pt_peer_now_ms();
	memcpy(h.from, f->app->id, PT_ID_CHARS);
	n = pt_wire_encode(&h, NULL, 0, buf);
	if (pt_rtc_send(f->rtc, buf, n) != 0) {
		fail_attempt(f, "error", "cannot send the request");
		return;
	}
	f->requested = true;
	f->t_request = pt_peer_now_ms();
	f->attempt_bytes = 0;
	if (f->app->verbose)
		pt_peer_note(f->app, "%s: channel open after %.1f ms, requesting from chunk %u",
		             f->peers[f->cur], f->t_open - f->t_offer, f->next);
}

static void on_message(void *arg, GBytes *bytes)
{
	pt_fetch *f = arg;
	gsize len;
	const uint8_t *msg = g_bytes_get_data(bytes, &len);
	pt_wire_hdr h;
	const uint8_t *payload;
	size_t plen;
	const char *who = f->peers[f->cur];

	if (pt_wire_decode(msg, len, &h, &payload, &plen) != 0) {
		fail_attempt(f, "error", "malformed peer-wire message");
		return;
	}
	if (memcmp(h.from, who, PT_ID_CHARS) != 0) {
		fail_attempt(f, "error", "header id is not the peer we offered to");
		return;
	}
	if (!pt_hash_equal(&h.hash, &f->hash)) {
		fail_attempt(f, "error", "message for another resource");
		return;
	}
	switch (h.type) {
	case PT_WIRE_NOT_FOUND:
		fail_attempt(f, "not-found", NULL);
		return;
	case PT_WIRE_ERROR: {
		char *why = g_strndup((const char *)payload, plen);

		fail_attempt(f, "error", why);
		g_free(why);
		return;
	}
	case PT_WIRE_CHUNK:
		break;
	default:
		fail_attempt(f, "error", "unexpected message type");
		return;
	}
	if (h.index != f->next || (f->count && h.count != f->count) ||
	    (h.index + 1 < h.count ? plen != PT_WIRE_PAYLOAD : plen > PT_WIRE_PAYLOAD)) {
		fail_attempt(f, "error", "chunk out of sequence or of the wrong size");
		return;
	}
	if (f->attempt_bytes == 0)
		pt_peer_note(f->app, "%s: first chunk (%u of %u)", who, h.index, h.count);
	f->count = h.count;
	g_byte_array_append(f->data, payload, (guint)plen);
	f->attempt_bytes += plen;
	f->next++;
	f->last_progress = pt_peer_now_ms();
	if (f->next == f->count)
		complete(f);
}

static void on_writable(void *arg)
{
}

static void on_failed(void *arg, const char *why)
{
	fail_attempt(arg, "failed", why);
}

static const pt_rtc_cbs fetch_cbs = {
	.local_sdp = on_local_sdp, .local_ice = on_local_ice, .open = on_open,
	.message = on_message, .writable = on_writable, .failed = on_failed,
};

static void try_next(pt_fetch *f)
{
	char *err = NULL;

	if (f->cur >= f->n_peers) {
		json_t *o = result_json(f, false);

		/* None could even be reached (their nodes are cut off from the
		 * daemon's): the tracker's trouble, worth retrying later. */
		bool cut_off = f->n_unavailable == f->n_peers;

		json_object_set_new(o, "error", json_string(cut_off ? "every holder unavailable"
		                                                    : "all holders failed"));
		pt_peer_emit(f->app, o, "failed %s: all %zu holders %s", f->hex, f->n_peers,
		             cut_off ? "unavailable (the daemon cannot reach their nodes now)" : "failed");
		pt_peer_quit(f->app, PT_EXIT_FAILED);
		return;
	}
	f->opened = f->requested = false;
	snprintf(f->sid, sizeof f->sid, "%s.%u", f->app->id, ++f->n_sid);
	f->t_offer = f->last_progress = pt_peer_now_ms();
	pt_peer_note(f->app, "offering to %s (holder %zu of %zu)", f->peers[f->cur], f->cur + 1, f->n_peers);
	f->rtc = pt_rtc_new(true, &f->app->ice, &fetch_cbs, f, &err);
	if (!f->rtc) {
		pt_peer_note(f->app, "%s", err);
		g_free(err);
		pt_peer_quit(f->app, PT_EXIT_INTERNAL);
		return;
	}
	/* Rids grow: every signal of this attempt gets one from here on. */
	f->first_rid = pt_sig_next_rid(f->app->sig);
	f->timer = g_timeout_add(f->app->timeout_ms / 4 ? f->app->timeout_ms / 4 : 1, on_tick, f);
}

pt_fetch *pt_fetch_new(pt_peer *p, const pt_hash *h, const char *out, bool stay, unsigned max_peers)
{
	pt_fetch *f = g_new0(pt_fetch, 1);

	f->app = p;
	f->hash = *h;
	pt_hash_format(h, f->hex);
	f->out = g_strdup(out);
	f->stay = stay;
	f->max_peers = max_peers;
	f->data = g_byte_array_new();
	f->attempts = json_array();
	f->t0 = pt_peer_now_ms();
	return f;
}

void pt_fetch_start(pt_fetch *f)
{
	json_t *m = json_pack("{s:s,s:s}", "type", "lookup", "hash", f->hex);

	if (f->max_peers)
		json_object_set_new(m, "max", json_integer(f->max_peers));
	f->t_lookup = pt_peer_now_ms();
	if (f->app->verbose)
		pt_peer_note(f->app, "ready to fetch after %.1f ms (connect, DTLS certificate)", f->t_lookup - f->t0);
	f->lookup_rid = pt_sig_request(f->app->sig, m);
	json_decref(m);
	if (f->lookup_rid < 0)
		pt_peer_quit(f->app, PT_EXIT_SERVER);
}

bool pt_fetch_owns_sid(const pt_fetch *f, const char *sid)
{
	return f->rtc && strcmp(sid, f->sid) == 0;
}

void pt_fetch_signal(pt_fetch *f, const char *from, json_t *data)
{
	json_t *sdp = json_object_get(data, "sdp"), *ice = json_object_get(data, "ice");
	const char *type = json_string_value(json_object_get(sdp, "type"));
	const char *text = json_string_value(json_object_get(sdp, "sdp"));

	if (strcmp(from, f->peers[f->cur]) != 0)
		return;
	if (json_is_true(json_object_get(data, "bye"))) {
		fail_attempt(f, "failed", "the holder hung up");
	} else if (type && text) {
		if (pt_rtc_remote_sdp(f->rtc, type, text) != 0)
			fail_attempt(f, "error", "unusable answer");
	} else if (json_is_object(ice)) {
		const char *cand = json_string_value(json_object_get(ice, "candidate"));
		json_int_t ml = json_integer_value(json_object_get(ice, "sdpMLineIndex"));

		if (cand && *cand && ml >= 0)
			pt_rtc_remote_ice(f->rtc, (unsigned)ml, cand);
	}
}

void pt_fetch_peer_left(pt_fetch *f, const char *id)
{
	if (f->rtc && strcmp(id, f->peers[f->cur]) == 0)
		fail_attempt(f, "peer-gone", "peer-left from the daemon");
}

bool pt_fetch_on_reply(pt_fetch *f, const char *type, json_t *msg)
{
	json_int_t rid = json_integer_value(json_object_get(msg, "rid"));
	const char *code = json_string_value(json_object_get(msg, "code"));
	json_t *peers;
	size_t i;

	if (strcmp(type, "peers") == 0 && rid == f->lookup_rid && !f->peers) {
		f->t_peers = pt_peer_now_ms();
		peers = json_object_get(msg, "peers");
		f->n_peers = json_array_size(peers);
		f->peers = g_new0(char *, f->n_peers + 1);
		for (i = 0; i < f->n_peers; i++) {
			const char *id = json_string_value(json_array_get(peers, i));

			f->peers[i] = g_strdup(id && strlen(id) == PT_ID_CHARS ? id : "?");
		}
		if (f->n_peers == 0) {
			json_t *o = result_json(f, false);

			json_object_set_new(o, "error", json_string("no holder"));
			pt_peer_emit(f->app, o, "failed %s: no holder", f->hex);
			pt_peer_quit(f->app, PT_EXIT_NO_HOLDER);
			return true;
		}
		try_next(f);
		return true;
	}
	if (strcmp(type, "error") == 0 && code) {
		if (rid == f->lookup_rid) {
			pt_peer_note(f->app, "lookup refused: %s", code);
			pt_peer_quit(f->app, PT_EXIT_SERVER);
			return true;
		}
		if (f->rtc && rid >= f->first_rid && strcmp(code, "peer-gone") == 0) {
			fail_attempt(f, "peer-gone", "the daemon says it is not connected");
			return true;
		}
		/* Cluster mode: the holder's node cannot be reached now (Redis
		 * down or too slow), so nothing more will reach it: move on
		 * rather than wait out timeout_ms, as for peer-gone. */
		if (f->rtc && rid >= f->first_rid && strcmp(code, "unavailable") == 0) {
			fail_attempt(f, "unavailable", "the daemon cannot reach its node now");
			return true;
		}
	}
	return false;
}

void pt_fetch_free(pt_fetch *f)
{
	if (!f)
		return;
	if (f->timer)
		g_source_remove(f->timer);
	pt_rtc_free(f->rtc);
	g_strfreev(f->peers);
	g_free(f->out);
	g_byte_array_unref(f->data);
	if (f->result)
		g_bytes_unref(f->result);
	json_decref(f->attempts);
	g_free(f);
}
