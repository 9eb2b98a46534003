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
	default:
		return "/v1";
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
	default:
		peertrack_message(w, c, m, len);
		break;
	}
}
