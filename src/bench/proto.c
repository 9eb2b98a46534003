/* proto.c — message adapters: the same workloads spoken to three servers.
 *
 *   peertrack  /v1: welcome{id}, signal{to,data} -> signal{from,data},
 *              announce/withdraw/lookup -> ack/peers, ping -> pong.
 *   peerjs     the PeerJS server (npm `peer`, lib dist/index.cjs): connect to
 *              /peerjs?key=peerjs&id=ID&token=T with an id of our choosing,
 *              OPEN on registration, {"type":"OFFER","dst":ID,"payload":{..}}
 *              relayed as {"type":"OFFER","src":..,"dst":..,"payload":..},
 *              {"type":"HEARTBEAT"} to stay alive. No tracker.
 *   echo       tests/bench/echo_server.c: binary frames; the server greets
 *              with the connection's 4-byte index and forwards each frame
 *              to the index in its first 4 bytes, rewritten to the sender's.
 *   wt         the WebTorrent tracker protocol (peertrack /announce, the
 *              bittorrent-tracker server): no greeting, the client speaks
 *              first. A pair shares a swarm; the even half announces with
 *              one offer, the tracker answers it and relays the offer to
 *              the odd half, which answers; the answer is routed back,
 *              and the cycle starts again. Every message the tracker sends
 *              counts as a response; a cycle's latency is announce->answer.
 *
 * Replies are scanned for the few fields used, not parsed: the generator
 * must cost much less per message than the servers it measures. The relay
 * payload carries its send time as 16 fixed digits, so every adapter finds
 * it the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *find(const char *m, size_t len, const char *needle)
{
	size_t nl = strlen(needle);
	const char *p = memmem(m, len, needle, nl);

	return p ? p + nl : NULL;
}

static uint64_t number_at(const char *p, const char *end)
{
	uint64_t v = 0;

	while (p && p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

static uint64_t time_at(const char *p, const char *end)
{
	return number_at(p, end) % 1000000000000000ull;
}

static void time_digits(char *p, uint64_t t);

static bool starts(const char *m, size_t len, const char *s)
{
	size_t n = strlen(s);

	return len >= n && !memcmp(m, s, n);
}

const char *bench_proto_path(const bench_opts *o, const bench_conn *c, char *buf, size_t len)
{
	if (o->path)
		return o->path;
	switch (o->proto) {
	case PROTO_PEERJS:
		snprintf(buf, len, "/peerjs?key=peerjs&id=%.*s&token=t", (int)c->id_len, c->id);
		return buf;
	case PROTO_ECHO:
		return "/";
	case PROTO_WT:
		return "/announce";
	default:
		return "/v1";
	}
}

void bench_proto_opened(bench_worker *w, bench_conn *c)
{
	if (w->o->proto == PROTO_WT)
		bench_on_ready(w, c);
}

/* -- wt: 20-character ids, all ASCII, so no escaping anywhere ------------- */

#define WT_ID 20

static void wt_peer_id(const bench_worker *w, const bench_conn *c, char out[WT_ID + 1])
{
	snprintf(out, WT_ID + 1, "-BN0001-%012u", w->first + c->n);
}

/* The pair's swarm: both halves compute the same. */
static void wt_pair_hash(const bench_worker *w, const bench_conn *c, char out[WT_ID + 1])
{
	snprintf(out, WT_ID + 1, "bench-pair-%09u", (w->first + c->n) / 2 % 1000000000u);
}

int bench_proto_wt_join(bench_worker *w, bench_conn *c, char (*hex)[65], const uint32_t *pick,
                        int n)
{
	char pid[WT_ID + 1], ih[WT_ID + 1];

	wt_peer_id(w, c, pid);
	for (int i = 0; i < n; i++) {
		char *p = bench_scratch(w, 256);
		size_t len;

		if (!p)
			return -1;
		if (hex)
			snprintf(ih, sizeof(ih), "%.20s", hex[pick[i]]);
		else
			wt_pair_hash(w, c, ih);
		len = (size_t)sprintf(p, "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\","
		                      "\"numwant\":0,\"uploaded\":0,\"downloaded\":0,\"left\":0,"
		                      "\"event\":\"started\",\"offers\":[]}", ih, pid);
		c->pending++;
		if (bench_ws_send(w, c, p, len, false))
			return -1;
	}
	return 0;
}

/* The offering half's announce: {..."offers":[{"offer":{"type":"offer",
 * "sdp":"<16 time digits><pad>"},"offer_id":"<20>"}]} built once; the time
 * and the offer_id are patched per send. */
static int wt_build_offer(bench_worker *w, bench_conn *c)
{
	int size = w->o->size > 16 ? w->o->size : 16;
	char *p = malloc((size_t)size + 256), pid[WT_ID + 1], ih[WT_ID + 1];
	size_t n;

	if (!p)
		return -1;
	wt_peer_id(w, c, pid);
	wt_pair_hash(w, c, ih);
	n = (size_t)sprintf(p, "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\","
	                    "\"numwant\":1,\"uploaded\":0,\"downloaded\":0,\"left\":0,"
	                    "\"offers\":[{\"offer\":{\"type\":\"offer\",\"sdp\":\"", ih, pid);
	c->sig_t = (uint32_t)n;
	memset(p + n, 'x', (size_t)size);
	n += (size_t)size;
	n += (size_t)sprintf(p + n, "\"},\"offer_id\":\"");
	c->sig_o = (uint32_t)n;
	memset(p + n, '0', WT_ID);
	n += WT_ID;
	n += (size_t)sprintf(p + n, "\"}]}");
	c->sig = p;
	c->sig_len = (uint32_t)n;
	return 0;
}

static int wt_offer(bench_worker *w, bench_conn *c, uint64_t t)
{
	char *p, oid[WT_ID + 1];

	if (!c->sig && wt_build_offer(w, c))
		return -1;
	if (!(p = bench_scratch(w, c->sig_len)))
		return -1;
	memcpy(p, c->sig, c->sig_len);
	time_digits(p + c->sig_t, t);
	/* Unique among this connection's offers in flight. */
	snprintf(oid, sizeof(oid), "o%07u%012u", (w->first + c->n) % 10000000u, ++c->seq);
	memcpy(p + c->sig_o, oid, WT_ID);
	return bench_ws_send(w, c, p, c->sig_len, false);
}

/* The answering half: the offer's offer_id, offerer and time go back. */
static int wt_answer(bench_worker *w, bench_conn *c, const char *m, size_t len)
{
	const char *end = m + len, *oid = find(m, len, "\"offer_id\":\""),
	           *from = find(m, len, "\"peer_id\":\""), *t = find(m, len, "\"sdp\":\"");
	char pid[WT_ID + 1], ih[WT_ID + 1], *p;
	size_t n;

	if (!oid || !from || !t || end - oid < WT_ID || end - from < WT_ID || end - t < 16)
		return -1;
	if (!(p = bench_scratch(w, 256)))
		return -1;
	wt_peer_id(w, c, pid);
	wt_pair_hash(w, c, ih);
	n = (size_t)sprintf(p, "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\","
	                    "\"to_peer_id\":\"%.20s\",\"offer_id\":\"%.20s\","
	                    "\"answer\":{\"type\":\"answer\",\"sdp\":\"%.16s\"}}", ih, pid, from, oid, t);
	return bench_ws_send(w, c, p, n, false);
}

static void wt_message(bench_worker *w, bench_conn *c, const char *m, size_t len)
{
	const char *p;

	if (memmem(m, len, "\"failure reason\"", 16)) {
		if (c->pending) {
			c->pending--;
			bench_on_reply(w, c, true);
		} else {
			w->r.errors++;
		}
	} else if ((p = find(m, len, "\"answer\":{\"type\":\"answer\",\"sdp\":\""))) {
		bench_on_signal(w, c, time_at(p, m + len));
	} else if (memmem(m, len, "\"offer\":", 8)) {
		bench_on_response(w);
		if (wt_answer(w, c, m, len))
			w->r.errors++;
		else
			bench_on_sent(w);
	} else if (c->pending) {
		c->pending--;
		bench_on_reply(w, c, false);
	} else {
		bench_on_response(w); /* the announce reply to an offer */
	}
}

/* {"t":1000000000001234,"p":"xxx..."}: `size` bytes in all (at least 29).
 * The time is offset by T_BASE so it always has 16 digits and no leading
 * zero (JSON numbers have none). */
#define T_BASE 1000000000000000ull

static size_t relay_data(char *p, uint64_t t, int size)
{
	int pad = size > 29 ? size - 29 : 0;
	size_t n = (size_t)sprintf(p, "{\"t\":%llu,\"p\":\"", (unsigned long long)(T_BASE + t % T_BASE));

	memset(p + n, 'x', (size_t)pad);
	n += (size_t)pad;
	memcpy(p + n, "\"}", 2);
	return n + 2;
}

/* Writes the 16 digits of T_BASE + t % T_BASE at p. */
static void time_digits(char *p, uint64_t t)
{
	uint64_t v = T_BASE + t % T_BASE;

	for (int i = 15; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

/* A pair's messages differ only in their send time, so each connection
 * builds its message once and then patches 16 digits: the generator's cost
 * per message must not depend on the protocol's verbosity. */
static int build_signal(bench_worker *w, bench_conn *c)
{
	const bench_conn *to = &w->c[c->partner];
	int size = w->o->size;
	char *p = malloc((size_t)size + 128);
	size_t n;

	if (!p)
		return -1;
	switch (w->o->proto) {
	case PROTO_ECHO:
		memcpy(p, to->id, 4);
		n = size > 12 ? (size_t)size : 12;
		memset(p + 4, 'x', n - 4);
		c->sig_t = 4;
		break;
	case PROTO_PEERJS:
		n = (size_t)sprintf(p, "{\"type\":\"OFFER\",\"dst\":\"%.*s\",\"payload\":",
		                    (int)to->id_len, to->id);
		goto json;
	default:
		n = (size_t)sprintf(p, "{\"type\":\"signal\",\"to\":\"%.*s\",\"data\":",
		                    (int)to->id_len, to->id);
	json:
		c->sig_t = (uint32_t)n + 5; /* after {"t": */
		n += relay_data(p + n, 0, size);
		p[n++] = '}';
		break;
	}
	c->sig = p;
	c->sig_len = (uint32_t)n;
	return 0;
}

int bench_proto_signal(bench_worker *w, bench_conn *c, uint64_t t)
{
	char *p;

	if (w->o->proto == PROTO_WT)
		return wt_offer(w, c, t);

	if (!c->sig && build_signal(w, c))
		return -1;
	if (!(p = bench_scratch(w, c->sig_len)))
		return -1;
	memcpy(p, c->sig, c->sig_len);
	if (w->o->proto == PROTO_ECHO)
		memcpy(p + c->sig_t, &t, 8);
	else
		time_digits(p + c->sig_t, t);
	return bench_ws_send(w, c, p, c->sig_len, w->o->proto == PROTO_ECHO);
}

int bench_proto_heartbeat(bench_worker *w, bench_conn *c)
{
	switch (w->o->proto) {
	case PROTO_PEERJS:
		return bench_ws_send(w, c, "{\"type\":\"HEARTBEAT\"}", 20, false);
	case PROTO_ECHO:
		return 0; /* the baseline has no liveness */
	case PROTO_WT:
		return 0; /* liveness is the server's pings (answered in ws.c) */
	default:
		return bench_ws_send(w, c, "{\"type\":\"ping\"}", 15, false);
	}
}

int bench_proto_hashes(bench_worker *w, bench_conn *c, const char *type, char (*hex)[65],
                       const uint32_t *pick, int n)
{
	char *p = bench_scratch(w, 96 + (size_t)n * 67);
	size_t len;

	if (!p || w->o->proto != PROTO_PEERTRACK)
		return -1;
	len = (size_t)sprintf(p, "{\"type\":\"%s\",\"rid\":%u,\"hashes\":[", type, ++c->rid);
	for (int i = 0; i < n; i++) {
		if (i)
			p[len++] = ',';
		p[len++] = '"';
		memcpy(p + len, hex[pick[i]], 64);
		len += 64;
		p[len++] = '"';
	}
	p[len++] = ']';
	p[len++] = '}';
	c->pending++;
	return bench_ws_send(w, c, p, len, false);
}

int bench_proto_lookup(bench_worker *w, bench_conn *c, const char *hex)
{
	char *p = bench_scratch(w, 160);
	size_t len;

	if (!p || w->o->proto != PROTO_PEERTRACK)
		return -1;
	len = (size_t)sprintf(p, "{\"type\":\"lookup\",\"rid\":%u,\"hash\":\"%.64s\",\"max\":%d}",
	                      ++c->rid, hex, w->o->lookup_max);
	c->pending++;
	return bench_ws_send(w, c, p, len, false);
}

static void peertrack_message(bench_worker *w, bench_conn *c, const char *m, size_t len)
{
	const char *end = m + len, *p;

	if (starts(m, len, "{\"type\":\"signal\"")) {
		p = find(m, len, "\"t\":");
		bench_on_signal(w, c, time_at(p, end));
	} else if (starts(m, len, "{\"type\":\"ack\"") || starts(m, len, "{\"type\":\"peers\"") ||
	           starts(m, len, "{\"type\":\"pong\"")) {
		if (c->pending) {
			c->pending--;
			bench_on_reply(w, c, false);
		}
	} else if (starts(m, len, "{\"type\":\"error\"")) {
		if (c->pending) {
			c->pending--;
			bench_on_reply(w, c, true);
		} else {
			w->r.errors++;
		}
	} else if (starts(m, len, "{\"type\":\"welcome\"")) {
		p = find(m, len, "\"id\":\"");
		if (!p || end - p < 24) {
			w->r.errors++;
			return;
		}
		memcpy(c->id, p, 24);
		c->id_len = 24;
		if ((p = find(m, len, "\"heartbeat_ms\":")) && !w->hb_ms)
			w->hb_ms = (int)number_at(p, end);
		bench_on_ready(w, c);
	}
	/* peer-left and anything else: not part of any workload. */
}

static void peerjs_message(bench_worker *w, bench_conn *c, const char *m, size_t len)
{
	const char *p;

	if (starts(m, len, "{\"type\":\"OFFER\"")) {
		p = find(m, len, "\"t\":");
		bench_on_signal(w, c, time_at(p, m + len));
	} else if (starts(m, len, "{\"type\":\"OPEN\"")) {
		bench_on_ready(w, c);
	} else {
		w->r.errors++; /* ERROR, ID-TAKEN, EXPIRE, LEAVE */
	}
}

static void echo_message(bench_worker *w, bench_conn *c, const char *m, size_t len)
{
	uint64_t t;

	if (len == 4 && !c->ready) {
		memcpy(c->id, m, 4);
		c->id_len = 4;
		bench_on_ready(w, c);
	} else if (len >= 12) {
		memcpy(&t, m + 4, 8);
		bench_on_signal(w, c, t);
	} else {
		w->r.errors++;
	}
}

void bench_proto_message(bench_worker *w, bench_conn *c, const char *m, size_t len)
{
	switch (w->o->proto) {
	case PROTO_PEERJS:
		peerjs_message(w, c, m, len);
		break;
	case PROTO_ECHO:
		echo_message(w, c, m, len);
		break;
	case PROTO_WT:
		wt_message(w, c, m, len);
		break;
	default:
		peertrack_message(w, c, m, len);
		break;
	}
}
