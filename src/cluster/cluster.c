/* cluster.c — the cluster engine (cluster.h): node tag and registry,
 * inbox routing, the index in Redis, purging dead nodes' entries.
 *
 * Links: one command link per Redis instance (index shard i), plus one
 * subscriber link on instance 0 for this node's inbox and the cluster-wide
 * channel. Scripts run by EVALSHA; a NOSCRIPT answer (Redis restarted or
 * flushed its scripts) re-sends the same request as EVAL once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "peertrack/ccache.h"
#include "peertrack/clock.h"
#include "peertrack/cluster.h"
#include "peertrack/ibatch.h"
#include "peertrack/lcache.h"
#include "peertrack/log.h"
#include "peertrack/outbox.h"
#include "peertrack/ratelimit.h"
#include "peertrack/rlink.h"

/* Redis' clock, in ms, inside a script. */
#define NOW_LUA "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

enum { S_ANNOUNCE, S_WITHDRAW, S_LOOKUP, S_HEARTBEAT, S_PURGE, S_COUNT_PUT, S_COUNT_GET,
       S__COUNT };

static const char *const script_src[S__COUNT] = {
	/* KEYS[1] node's key set, KEYS[2..] index keys; ARGV member, ttl */
	[S_ANNOUNCE] = NOW_LUA
	"local ttl = tonumber(ARGV[2]) "
	"for i = 2, #KEYS do "
	"  redis.call('ZADD', KEYS[i], now + ttl, ARGV[1]) "
	"  redis.call('PEXPIRE', KEYS[i], ttl) "
	"  redis.call('SADD', KEYS[1], KEYS[i]) "
	"end "
	"redis.call('PEXPIRE', KEYS[1], ttl) "
	"return #KEYS - 1",
	/* KEYS index keys; ARGV member */
	[S_WITHDRAW] = "for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end return #KEYS",
	/* KEYS[1] index key; ARGV sample. Expired entries go first. */
	[S_LOOKUP] = NOW_LUA
	"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
	"local s = tonumber(ARGV[1]) "
	"if redis.call('ZCARD', KEYS[1]) <= s then return redis.call('ZRANGE', KEYS[1], 0, -1) end "
	"return redis.call('ZRANDMEMBER', KEYS[1], s)",
	/* KEYS nodes (zset tag -> last seen), info (hash), owner (hash);
	 * ARGV tag, nonce, info, dead_ms, forget_ms.
	 * -> { now, {tag, seen, ...}, {tag, info, ...} } or { -1 } when a live
	 * node of another process holds the tag. */
	[S_HEARTBEAT] = NOW_LUA
	"local dead = tonumber(ARGV[4]) "
	"local own = redis.call('HGET', KEYS[3], ARGV[1]) "
	"if own and own ~= ARGV[2] then "
	"  local seen = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
	"  if seen and tonumber(seen) > now - dead then return { -1 } end "
	"end "
	"redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) "
	"redis.call('ZADD', KEYS[1], now, ARGV[1]) "
	"redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) "
	"for _, g in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[5]))) do "
	"  redis.call('ZREM', KEYS[1], g) redis.call('HDEL', KEYS[2], g) redis.call('HDEL', KEYS[3], g) "
	"end "
	"return { now, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'), redis.call('HGETALL', KEYS[2]) }",
	/* KEYS[1] the dead node's key set, KEYS[2] (instance 0 only) nodes;
	 * ARGV tag, batch, dead_ms, PREFIX h:1:, PREFIX c:1:. Pops up to batch
	 * keys and removes the node's members from each, and its field from a
	 * swarm's counts; 0 when none is left (or the node is back). */
	[S_PURGE] = NOW_LUA
	"if KEYS[2] then "
	"  local seen = redis.call('ZSCORE', KEYS[2], ARGV[1]) "
	"  if seen and tonumber(seen) > now - tonumber(ARGV[3]) then return 0 end "
	"end "
	"local ks = redis.call('SPOP', KEYS[1], tonumber(ARGV[2])) "
	"for _, k in ipairs(ks) do "
	"  local ms = redis.pcall('ZRANGE', k, 0, -1) "
	"  if type(ms) == 'table' then "
	"    for _, m in ipairs(ms) do "
	"      if string.sub(m, 1, 2) == ARGV[1] then redis.call('ZREM', k, m) end "
	"    end "
	"  end "
	"  if string.sub(k, 1, #ARGV[4]) == ARGV[4] then "
	"    redis.call('HDEL', ARGV[5] .. string.sub(k, #ARGV[4] + 1), ARGV[1]) "
	"  end "
	"end "
	"return #ks",
	/* KEYS swarm count keys; ARGV tag, ttl, then per key "COMPLETE
	 * INCOMPLETE", or "" to remove the field. */
	[S_COUNT_PUT] = NOW_LUA
	"local ttl = tonumber(ARGV[2]) "
	"for i = 1, #KEYS do "
	"  local v = ARGV[i + 2] "
	"  if v == '' then redis.call('HDEL', KEYS[i], ARGV[1]) "
	"  else "
	"    redis.call('HSET', KEYS[i], ARGV[1], v .. ' ' .. string.format('%d', now + ttl)) "
	"    redis.call('PEXPIRE', KEYS[i], ttl) "
	"  end "
	"end "
	"return #KEYS",
	/* KEYS[1] a swarm count key -> {tag, value, ...} of the fields not
	 * expired; expired ones go. */
	[S_COUNT_GET] = NOW_LUA
	"local kv = redis.call('HGETALL', KEYS[1]) "
	"local out = {} "
	"for i = 1, #kv, 2 do "
	"  local e = tonumber(string.match(kv[i + 1], '(%d+)$')) "
	"  if e and e > now then out[#out + 1] = kv[i] out[#out + 1] = kv[i + 1] "
	"  else redis.call('HDEL', KEYS[1], kv[i]) end "
	"end "
	"return out",
};

#define MAX_LINKS PT_CONFIG_REDIS_MAX
#define TAGS (PT_ID_TAG_MAX + 1)
#define MEMBER_MAX (PT_ID_CHARS + 1 + PT_ADDR_STRLEN)
#define KEY_MAX 128

typedef struct node_rec {
	bool known, alive;
	uint64_t seen_ms;          /* Redis clock */
	char *info;
	bool purging;
} node_rec;

struct pt_cluster {
	uv_loop_t *loop;
	pt_cluster_hooks hooks;
	char prefix[32];
	unsigned tag;
	char tag_s[3];
	char nonce[17];
	char inbox[64], all[64];
	pt_rlink *cmd[MAX_LINKS];
	int n_links;
	pt_rlink *sub;
	pt_outbox *out;             /* PUBLISHes to other nodes' inboxes, on cmd[0] */
	char sha[S__COUNT][41];
	uint32_t ttl_ms, dead_ms, heartbeat_ms, sample, batch, probe_ms, timeout_ms;
	uint32_t max_pending, linger_us, batch_bytes;
	uv_timer_t hb_timer;
	int handles_open;
	bool registered, closing, index_was_up;
	uint64_t redis_now_ms;      /* Redis' clock at the last heartbeat */
	uint64_t last_inbox_ms, probe_sent_ms;
	node_rec nodes[TAGS];
	pt_lcache *lcache;          /* NULL: cluster_lookup_cache_ms = 0 */
	pt_ccache *ccache;          /* NULL: cluster_count_refresh_ms = 0 */
	pt_bucket count_reads;      /* cluster_count_reads_per_sec */
	uint32_t count_reads_per_s;
	pt_cluster_stats stats;
	uint64_t bad_log_ms, bad_logged;
};

/* -- small helpers ---------------------------------------------------------- */

static void bad_reply(pt_cluster *c, const char *what, const redisReply *r)
{
	uint64_t now = uv_now(c->loop);

	c->stats.bad_replies++;
	/* At most one line a second: a planted key of the wrong type would
	 * otherwise log once per lookup. */
	if (now - c->bad_log_ms >= 1000 || !c->bad_log_ms) {
		pt_log_error("cluster: %s: unexpected Redis reply: %s (%llu like it since the last line)",
		             what, r && r->type == REDIS_REPLY_ERROR ? r->str : "wrong type",
		             (unsigned long long)c->bad_logged);
		c->bad_log_ms = now;
		c->bad_logged = 0;
	} else {
		c->bad_logged++;
	}
}

/* Seen in the registry and silent since: its peers are gone. */
static bool node_dead(const pt_cluster *c, unsigned tag)
{
	return c->nodes[tag].known && !c->nodes[tag].alive;
}

/* Jump consistent hash (Lamping and Veach): which instance holds key. */
static int shard_of(const pt_cluster *c, const pt_key *k)
{
	uint64_t key;
	int64_t b = -1, j = 0;

	if (c->n_links == 1)
		return 0;
	memcpy(&key, k->h.b, sizeof(key));
	key ^= (uint64_t)k->space * 0x9e3779b97f4a7c15ull;
	while (j < c->n_links) {
		b = j;
		key = key * 2862933555777941757ull + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1ll << 31) / (double)((key >> 33) + 1)));
	}
	return (int)b;
}

/* The Redis key of k: PREFIX KIND:SPACE:HEX, KIND 'h' (its holders, a
 * sorted set) or 'c' (the nodes' swarm counts, a hash). */
static size_t key_name(const pt_cluster *c, char kind, const pt_key *k, char out[KEY_MAX])
{
	char hex[PT_HASH_HEX + 1];

	pt_key_format(k, hex);
	return (size_t)snprintf(out, KEY_MAX, "%s%c:%d:%s", c->prefix, kind, (int)k->space, hex);
}

/* A script call per instance: of n keys (a pt_key each, stride bytes
 * apart from first: a pt_key array, or the key member of an array of
 * records), how many live on shard, and their names (key_name's kind)
 * into argv and lens in order, the text in kb (KEY_MAX each). */
static const pt_key *key_at(const pt_key *first, size_t stride, size_t i)
{
	return (const pt_key *)(const void *)((const char *)first + i * stride);
}

static size_t shard_count(const pt_cluster *c, int shard, const pt_key *first, size_t stride,
                          size_t n)
{
	size_t cnt = 0;

	for (size_t i = 0; i < n; i++)
		cnt += shard_of(c, key_at(first, stride, i)) == shard;
	return cnt;
}

static size_t shard_names(const pt_cluster *c, int shard, char kind, const pt_key *first,
                          size_t stride, size_t n, const char **argv, size_t *lens, char *kb)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		const pt_key *k = key_at(first, stride, i);

		if (shard_of(c, k) != shard)
			continue;
		argv[j] = kb + KEY_MAX * j;
		lens[j] = key_name(c, kind, k, kb + KEY_MAX * j);
		j++;
	}
	return j;
}

static size_t member_of(const pt_id *id, const pt_addr *a, char out[MEMBER_MAX])
{
	char ids[PT_ID_CHARS + 1], as[PT_ADDR_STRLEN];

	pt_id_encode(id, ids);
	pt_addr_format(a, as);
	return (size_t)snprintf(out, MEMBER_MAX, "%s %s", ids, as);
}

/* -- scripts: EVALSHA, and EVAL once on NOSCRIPT ------------------------------ */

typedef void script_fn(pt_cluster *c, redisReply *r, void *arg);

typedef struct sreq {
	pt_cluster *c;
	int script, argc;
	bool retried;
	script_fn *fn;
	void *arg;
	const char **argv;  /* argv[0], argv[1] are EVALSHA, sha; the rest point into buf */
	size_t *lens;
	char buf[];
} sreq;

static void script_reply(pt_rlink *l, redisReply *r, void *arg)
{
	sreq *q = arg;

	if (r && r->type == REDIS_REPLY_ERROR && !q->retried && !strncmp(r->str, "NOSCRIPT", 8)) {
		q->retried = true;
		q->argv[0] = "EVAL";
		q->lens[0] = 4;
		q->argv[1] = script_src[q->script];
		q->lens[1] = strlen(script_src[q->script]);
		if (!pt_rlink_command(l, script_reply, q, q->argc, q->argv, q->lens))
			return;
		r = NULL;
	}
	if (q->fn)
		q->fn(q->c, r, q->arg);
	free(q);
}

/* argv: keys then args, nkeys of them keys. 0 or -errno (fn not called). */
static int script_call(pt_cluster *c, pt_rlink *l, int script, int nkeys, int nargs,
                       const char *const *argv, const size_t *lens, script_fn *fn, void *arg)
{
	int argc = 3 + nargs;
	size_t bytes = 0;
	char nk[16];
	sreq *q;
	char *p;
	int r;

	if (!pt_rlink_up(l))
		return -EAGAIN;
	for (int i = 0; i < nargs; i++)
		bytes += lens[i];
	q = malloc(sizeof(*q) + (size_t)argc * (sizeof(char *) + sizeof(size_t)) + bytes + 16 +
	           _Alignof(size_t));
	if (!q)
		return -ENOMEM;
	q->c = c;
	q->script = script;
	q->argc = argc;
	q->retried = false;
	q->fn = fn;
	q->arg = arg;
	q->lens = (size_t *)(void *)q->buf;
	q->argv = (const char **)(void *)(q->lens + argc);
	p = (char *)(q->argv + argc);
	snprintf(nk, sizeof(nk), "%d", nkeys);
	memcpy(p, nk, strlen(nk) + 1);
	q->argv[0] = "EVALSHA";
	q->lens[0] = 7;
	q->argv[1] = c->sha[script];
	q->lens[1] = 40;
	q->argv[2] = p;
	q->lens[2] = strlen(nk);
	p += 16;
	for (int i = 0; i < nargs; i++) {
		memcpy(p, argv[i], lens[i]);
		q->argv[3 + i] = p;
		q->lens[3 + i] = lens[i];
		p += lens[i];
	}
	r = pt_rlink_command(l, script_reply, q, argc, q->argv, q->lens);
	if (r)
		free(q);
	return r;
}

/* -- the registry of nodes ---------------------------------------------------- */

static void purge_step(pt_cluster *c, unsigned tag, int shard);

static void purge_reply(pt_cluster *c, redisReply *r, void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	unsigned tag = (unsigned)(v & 0xffff);
	int shard = (int)(v >> 16);

	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (r)
			bad_reply(c, "purge", r);
		c->nodes[tag].purging = false;
		return;
	}
	c->stats.purged_keys += (uint64_t)r->integer;
	if (r->integer > 0 && !c->closing)
		purge_step(c, tag, shard);
	else if (shard + 1 < c->n_links)
		purge_step(c, tag, shard + 1);
	else
		c->nodes[tag].purging = false;
}

static void purge_step(pt_cluster *c, unsigned tag, int shard)
{
	char ks[64], nodes[64], t[3], b[16], d[16], hp[64], cp[64];
	const char *argv[7];
	size_t lens[7];
	int nkeys = shard == 0 ? 2 : 1;

	pt_id_tag_format(tag, t);
	snprintf(ks, sizeof(ks), "%sk:%s", c->prefix, t);
	snprintf(nodes, sizeof(nodes), "%snodes", c->prefix);
	snprintf(b, sizeof(b), "%u", c->batch);
	snprintf(d, sizeof(d), "%u", c->dead_ms);
	snprintf(hp, sizeof(hp), "%sh:%d:", c->prefix, (int)PT_SPACE_WT);
	snprintf(cp, sizeof(cp), "%sc:%d:", c->prefix, (int)PT_SPACE_WT);
	argv[0] = ks;
	argv[1] = nodes;
	argv[nkeys] = t;
	argv[nkeys + 1] = b;
	argv[nkeys + 2] = d;
	argv[nkeys + 3] = hp;
	argv[nkeys + 4] = cp;
	for (int i = 0; i < nkeys + 5; i++)
		lens[i] = strlen(argv[i]);
	if (script_call(c, c->cmd[shard], S_PURGE, nkeys, nkeys + 5, argv, lens, purge_reply,
	                (void *)(uintptr_t)((unsigned)shard << 16 | tag)))
		c->nodes[tag].purging = false;
}

static void heartbeat_reply(pt_cluster *c, redisReply *r, void *arg)
{
	redisReply *seen, *info;
	bool was[TAGS];

	(void)arg;
	if (!r) {
		c->stats.heartbeat_failures++;
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == -1) {
		c->stats.tag_conflicts++;
		if (c->registered || c->stats.tag_conflicts == 1)
			pt_log_error("cluster: node tag '%s' is held by another live node: this node "
			             "stays out of the cluster (set a unique cluster_node)", c->tag_s);
		c->registered = false;
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_ARRAY || r->element[2]->type != REDIS_REPLY_ARRAY) {
		c->stats.heartbeat_failures++;
		bad_reply(c, "heartbeat", r);
		return;
	}
	c->stats.heartbeats++;
	if (!c->registered)
		pt_log_info("cluster: node '%s' registered", c->tag_s);
	c->registered = true;
	c->redis_now_ms = (uint64_t)r->element[0]->integer;
	seen = r->element[1];
	info = r->element[2];
	for (int t = 0; t < TAGS; t++) {
		was[t] = c->nodes[t].alive;
		c->nodes[t].known = c->nodes[t].alive = false;
	}
	for (size_t i = 0; i + 1 < seen->elements; i += 2) {
		redisReply *tr = seen->element[i], *sr = seen->element[i + 1];
		int t;

		if (tr->type != REDIS_REPLY_STRING || sr->type != REDIS_REPLY_STRING ||
		    (t = pt_id_tag_parse(tr->str, tr->len)) < 0)
			continue;
		c->nodes[t].known = true;
		c->nodes[t].seen_ms = strtoull(sr->str, NULL, 10);
		c->nodes[t].alive = c->redis_now_ms - c->nodes[t].seen_ms < c->dead_ms;
	}
	for (size_t i = 0; i + 1 < info->elements; i += 2) {
		redisReply *tr = info->element[i], *ir = info->element[i + 1];
		int t;

		if (tr->type != REDIS_REPLY_STRING || ir->type != REDIS_REPLY_STRING ||
		    (t = pt_id_tag_parse(tr->str, tr->len)) < 0)
			continue;
		free(c->nodes[t].info);
		c->nodes[t].info = strndup(ir->str, ir->len > 200 ? 200 : ir->len);
	}
	for (int t = 0; t < TAGS; t++) {
		if (!was[t] && c->nodes[t].alive && (unsigned)t != c->tag) {
			char ts[3];

			pt_id_tag_format((unsigned)t, ts);
			pt_log_info("cluster: node '%s' is alive", ts);
		}
		if (was[t] && !c->nodes[t].alive && (unsigned)t != c->tag) {
			char ts[3];

			pt_id_tag_format((unsigned)t, ts);
			pt_log_warn("cluster: node '%s' is dead (silent for %u ms): purging its entries",
			            ts, c->dead_ms);
			/* Swarm sums counting its peers go at once, as its
			 * candidates do from lookups. */
			pt_ccache_clear(c->ccache);
			/* Every survivor that saw it die purges; SPOP makes the
			 * work split rather than repeat. */
			if (!c->nodes[t].purging) {
				c->nodes[t].purging = true;
				purge_step(c, (unsigned)t, 0);
			}
		}
	}
}

static void heartbeat(uv_timer_t *t)
{
	pt_cluster *c = t->data;
	char nodes[64], info_k[64], own[64], info[256] = "", dead[16], forget[16];
	const char *argv[8];
	size_t lens[8];

	/* The subscription is probed when the inbox has been quiet: a
	 * probe that did not come back means it went stale. */
	if (c->sub && pt_rlink_up(c->sub)) {
		uint64_t now = uv_now(c->loop);

		if (c->probe_sent_ms && now - c->probe_sent_ms > c->timeout_ms) {
			c->stats.stale_subscriptions++;
			c->probe_sent_ms = 0;
			pt_rlink_reset(c->sub, "the subscription probe did not come back");
		} else if (!c->probe_sent_ms && now - c->last_inbox_ms >= c->probe_ms &&
		           pt_rlink_up(c->cmd[0])) {
			const char *pv[3] = { "PUBLISH", c->inbox, "p" };

			if (!pt_rlink_command(c->cmd[0], NULL, NULL, 3, pv, NULL)) {
				c->probe_sent_ms = now;
				c->stats.probes++;
			}
		}
	}
	if (c->hooks.info)
		c->hooks.info(c->hooks.arg, info, sizeof(info));
	snprintf(nodes, sizeof(nodes), "%snodes", c->prefix);
	snprintf(info_k, sizeof(info_k), "%snodeinfo", c->prefix);
	snprintf(own, sizeof(own), "%snodeowner", c->prefix);
	snprintf(dead, sizeof(dead), "%u", c->dead_ms);
	snprintf(forget, sizeof(forget), "%u", c->ttl_ms + c->dead_ms);
	argv[0] = nodes;
	argv[1] = info_k;
	argv[2] = own;
	argv[3] = c->tag_s;
	argv[4] = c->nonce;
	argv[5] = info;
	argv[6] = dead;
	argv[7] = forget;
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	if (script_call(c, c->cmd[0], S_HEARTBEAT, 3, 8, argv, lens, heartbeat_reply, NULL))
		c->stats.heartbeat_failures++;
}

/* -- links ------------------------------------------------------------------- */

static void check_up(pt_cluster *c)
{
	bool up = pt_cluster_up(c);

	for (int i = 0; up && i < c->n_links; i++)
		up = pt_rlink_up(c->cmd[i]);
	if (up && !c->index_was_up) {
		c->index_was_up = true;
		heartbeat(&c->hb_timer);
		if (c->hooks.up)
			c->hooks.up(c->hooks.arg);
	} else if (!up && c->index_was_up) {
		c->index_was_up = false;
		pt_log_warn("cluster: Redis unreachable: serving same-node traffic only; cross-node "
		            "signals answer unavailable until it is back");
	}
}

static void link_state(pt_rlink *l, bool up, void *arg)
{
	pt_cluster *c = arg;

	(void)l;
	(void)up;
	if (l == c->sub) {
		c->probe_sent_ms = 0;
		c->last_inbox_ms = uv_now(c->loop);
	}
	check_up(c);
}

/* One inbox message (alone, or one record of a batch). */
static void dispatch(pt_cluster *c, const char *m, size_t len)
{
	pt_id a, b;

	switch (m[0]) {
	case 'p':
		c->probe_sent_ms = 0;
		return;
	case 's': /* s TO FROM FRAME */
		if (len > 1 + 2 * PT_ID_CHARS && !pt_id_decode(m + 1, PT_ID_CHARS, &a) &&
		    !pt_id_decode(m + 1 + PT_ID_CHARS, PT_ID_CHARS, &b)) {
			c->stats.signals_in++;
			if (c->hooks.signal)
				c->hooks.signal(c->hooks.arg, &a, &b, m + 1 + 2 * PT_ID_CHARS,
				                len - 1 - 2 * PT_ID_CHARS);
			return;
		}
		break;
	case 'l': /* l TO GONE */
		if (len == 1 + 2 * PT_ID_CHARS && !pt_id_decode(m + 1, PT_ID_CHARS, &a) &&
		    !pt_id_decode(m + 1 + PT_ID_CHARS, PT_ID_CHARS, &b)) {
			c->stats.peer_left_in++;
			if (c->hooks.peer_left)
				c->hooks.peer_left(c->hooks.arg, &a, &b);
			return;
		}
		break;
	case 'k': /* k ID */
		if (len == 1 + PT_ID_CHARS && !pt_id_decode(m + 1, PT_ID_CHARS, &a)) {
			if (c->hooks.kick)
				c->hooks.kick(c->hooks.arg, &a);
			return;
		}
		break;
	case 'w': /* w +|- INFO_HASH (20 bytes) */
		if (len == 2 + 20 && (m[1] == '+' || m[1] == '-')) {
			if (c->hooks.allow)
				c->hooks.allow(c->hooks.arg, (const uint8_t *)m + 2, m[1] == '+');
			return;
		}
		break;
	case 'b':   /* b UNTIL_MS CIDR REASON... */
	case 'u': { /* u 0 CIDR */
		char buf[512], *cidr, *reason;
		unsigned long long until;

		if (len >= sizeof(buf))
			break;
		memcpy(buf, m + 1, len - 1);
		buf[len - 1] = '\0';
		until = strtoull(buf, &cidr, 10);
		if (*cidr != ' ')
			break;
		cidr++;
		reason = strchr(cidr, ' ');
		if (reason)
			*reason++ = '\0';
		if (c->hooks.ban)
			c->hooks.ban(c->hooks.arg, cidr, until, reason ? reason : "", m[0] == 'u');
		return;
	}
	default:
		break;
	}
	bad_reply(c, "inbox message", NULL);
}

static void on_message(pt_rlink *l, redisReply *r, void *arg)
{
	pt_cluster *c = arg;
	const char *m = r->element[2]->str, *rec;
	size_t len = r->element[2]->len, off = 0, rlen;

	(void)l;
	c->last_inbox_ms = uv_now(c->loop);
	if (!len)
		return;
	if (m[0] != PT_IBATCH_TAG) {
		dispatch(c, m, len);
		return;
	}
	/* Several messages from one node (cluster_publish_linger_us): all or
	 * nothing, so a damaged batch is not half delivered. */
	if (pt_ibatch_count(m, len) < 0) {
		bad_reply(c, "inbox batch", NULL);
		return;
	}
	while (pt_ibatch_next(m, len, &off, &rec, &rlen))
		dispatch(c, rec, rlen);
}

/* -- new / free --------------------------------------------------------------- */

static int read_password(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "cluster_redis_password_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(err, errlen, "cluster_redis_password_file %s: must be a regular file that "
		         "neither group nor others may read (chmod 600)", path);
		close(fd);
		return -1;
	}
	n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cluster_redis_password_file %s: %s", path, strerror(errno));
		return -1;
	}
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (!out[0]) {
		snprintf(err, errlen, "cluster_redis_password_file %s: empty", path);
		return -1;
	}
	return 0;
}

static void hb_closed(uv_handle_t *h)
{
	pt_cluster *c = h->data;

	for (int t = 0; t < TAGS; t++)
		free(c->nodes[t].info);
	pt_lcache_free(c->lcache);
	pt_ccache_free(c->ccache);
	free(c);
}

pt_cluster *pt_cluster_new(uv_loop_t *loop, const pt_config *cfg, const pt_cluster_hooks *hooks,
                           char *err, size_t errlen)
{
	pt_cluster *c = calloc(1, sizeof(*c));
	char password[512] = "";
	uint8_t rnd[8];
	const char *channels[3];
	pt_rlink_opts o = {0};
	int t;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = loop;
	if (hooks)
		c->hooks = *hooks;
	snprintf(c->prefix, sizeof(c->prefix), "%s", cfg->cluster_prefix);
	c->ttl_ms = cfg->cluster_entry_ttl_ms;
	c->dead_ms = cfg->cluster_dead_ms;
	c->heartbeat_ms = cfg->cluster_heartbeat_ms;
	c->sample = cfg->cluster_lookup_sample;
	c->batch = cfg->cluster_batch;
	c->probe_ms = cfg->cluster_probe_ms;
	c->timeout_ms = cfg->cluster_timeout_ms;
	c->max_pending = cfg->cluster_max_pending;
	c->linger_us = cfg->cluster_publish_linger_us;
	c->batch_bytes = cfg->cluster_publish_batch_bytes;
	if (cfg->cluster_lookup_cache_ms &&
	    !(c->lcache = pt_lcache_new(cfg->cluster_lookup_cache_slots, c->sample,
	                                cfg->cluster_lookup_cache_ms))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->cluster_count_refresh_ms &&
	    !(c->ccache = pt_ccache_new(cfg->cluster_count_cache_slots,
	                                cfg->cluster_count_refresh_ms))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->count_reads_per_s = cfg->cluster_count_reads_per_sec;
	pt_bucket_init(&c->count_reads, c->count_reads_per_s, uv_now(loop));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		snprintf(err, errlen, "no randomness for the node");
		goto fail;
	}
	for (int i = 0; i < 8; i++)
		snprintf(c->nonce + 2 * i, 3, "%02x", rnd[i]);
	t = cfg->cluster_node[0] ? pt_id_tag_parse(cfg->cluster_node, strlen(cfg->cluster_node))
	                         : (int)((rnd[0] << 8 | rnd[1]) & PT_ID_TAG_MAX);
	if (t < 0) {
		snprintf(err, errlen, "cluster_node '%s' is not a tag", cfg->cluster_node);
		goto fail;
	}
	c->tag = (unsigned)t;
	pt_id_tag_format(c->tag, c->tag_s);
	snprintf(c->inbox, sizeof(c->inbox), "%sn:%s", c->prefix, c->tag_s);
	snprintf(c->all, sizeof(c->all), "%sall", c->prefix);
	for (int i = 0; i < S__COUNT; i++) {
		unsigned char md[SHA_DIGEST_LENGTH];

		SHA1((const unsigned char *)script_src[i], strlen(script_src[i]), md);
		for (int j = 0; j < SHA_DIGEST_LENGTH; j++)
			snprintf(c->sha[i] + 2 * j, 3, "%02x", md[j]);
	}
	if (cfg->cluster_redis_password_file[0] &&
	    read_password(cfg->cluster_redis_password_file, password, sizeof(password), err, errlen))
		goto fail;
	o.user = cfg->cluster_redis_user;
	o.password = password;
	o.timeout_ms = cfg->cluster_timeout_ms;
	o.max_pending = cfg->cluster_max_pending;
	o.backoff_min_ms = cfg->cluster_reconnect_min_ms;
	o.backoff_max_ms = cfg->cluster_reconnect_max_ms;
	uv_timer_init(loop, &c->hb_timer);
	c->hb_timer.data = c;
	c->handles_open = 1;
	for (const char *p = cfg->cluster_redis; *p;) {
		size_t len = strcspn(p, ", \t");
		char one[PT_CONFIG_STR], host[PT_CONFIG_STR];

		if (len && len < sizeof(one) && c->n_links < MAX_LINKS) {
			memcpy(one, p, len);
			one[len] = '\0';
			if (pt_config_listen_split(one, host, sizeof(host), &o.port) < 0) {
				snprintf(err, errlen, "cluster_redis: '%s' is not HOST:PORT", one);
				goto fail_links;
			}
			o.host = host;
			o.channels = NULL;
			c->cmd[c->n_links] = pt_rlink_new(loop, &o, one, link_state, NULL, c);
			if (!c->cmd[c->n_links]) {
				snprintf(err, errlen, "out of memory");
				goto fail_links;
			}
			if (c->n_links++ == 0) {
				pt_outbox_opts ob = { c->prefix, c->linger_us, c->batch_bytes,
				                      c->max_pending };

				if (!(c->out = pt_outbox_new(loop, c->cmd[0], &ob))) {
					snprintf(err, errlen, "out of memory (or no timer) for the outbox");
					goto fail_links;
				}
				channels[0] = c->inbox;
				channels[1] = c->all;
				channels[2] = NULL;
				o.channels = channels;
				if (!(c->sub = pt_rlink_new(loop, &o, one, link_state, on_message, c))) {
					snprintf(err, errlen, "out of memory");
					goto fail_links;
				}
			}
		}
		p += len;
		p += strspn(p, ", \t");
	}
	if (!c->n_links) {
		snprintf(err, errlen, "cluster_redis names no instance");
		goto fail_links;
	}
	explicit_bzero(password, sizeof(password));
	uv_timer_start(&c->hb_timer, heartbeat, c->heartbeat_ms, c->heartbeat_ms);
	pt_log_info("cluster: node '%s', %d Redis instance(s), inbox %s", c->tag_s, c->n_links,
	            c->inbox);
	return c;
fail_links:
	explicit_bzero(password, sizeof(password));
	pt_cluster_free(c);
	return NULL;
fail:
	explicit_bzero(password, sizeof(password));
	pt_lcache_free(c->lcache);
	pt_ccache_free(c->ccache);
	free(c);
	return NULL;
}

void pt_cluster_free(pt_cluster *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	c->hooks.up = NULL;
	/* Held messages leave (or fail) before their link closes. */
	pt_outbox_close(c->out);
	for (int i = 0; i < c->n_links; i++)
		pt_rlink_close(c->cmd[i]);
	pt_rlink_close(c->sub);
	uv_timer_stop(&c->hb_timer);
	uv_close((uv_handle_t *)&c->hb_timer, hb_closed);
}

unsigned pt_cluster_tag(const pt_cluster *c)
{
	return c->tag;
}

bool pt_cluster_local(const pt_cluster *c, const pt_id *id)
{
	return pt_id_tag(id) == c->tag;
}

bool pt_cluster_up(const pt_cluster *c)
{
	return !c->closing && pt_rlink_up(c->cmd[0]) && pt_rlink_up(c->sub);
}

bool pt_cluster_index_up(const pt_cluster *c, const pt_key *k)
{
	return !c->closing && pt_rlink_up(c->cmd[shard_of(c, k)]);
}

/* Up and at most half full: background work (refresh, counts) leaves the
 * other half to what peers wait for (signals, lookups). */
static bool link_has_room(const pt_cluster *c, int shard)
{
	return pt_rlink_up(c->cmd[shard]) && pt_rlink_pending(c->cmd[shard]) <= c->max_pending / 2;
}

bool pt_cluster_has_room(const pt_cluster *c)
{
	for (int i = 0; i < c->n_links; i++)
		if (!link_has_room(c, i))
			return false;
	return !c->closing;
}

bool pt_cluster_registered(const pt_cluster *c)
{
	return c->registered;
}

/* -- signals ------------------------------------------------------------------ */

typedef struct pub {
	pt_cluster *c;
	pt_cluster_done_fn *done;
	void *arg;
	bool count_signal;
} pub;

static void publish_reply(void *arg, redisReply *r)
{
	pub *p = arg;
	int status;

	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (r)
			bad_reply(p->c, "publish", r);
		status = -EAGAIN;
		if (p->count_signal)
			p->c->stats.signals_unavailable++;
	} else {
		status = r->integer > 0;
		if (!status && p->count_signal)
			p->c->stats.signals_gone++;
	}
	if (p->done)
		p->done(p->arg, status);
	free(p);
}

/* PUBLISH to the inbox of `to`'s node: head (1 byte + ids) then body. */
static int publish_to(pt_cluster *c, const pt_id *to, const char *head, size_t head_len,
                      const char *body, size_t body_len, pt_cluster_done_fn *done, void *arg,
                      bool count_signal)
{
	unsigned tag = pt_id_tag(to);
	char *msg;
	pub *p;
	int r;

	if (!c->registered || !pt_cluster_up(c))
		return -EAGAIN;
	/* Known dead: gone now. A tag the registry has not shown yet (a node
	 * that joined since the last heartbeat) is tried: PUBLISH says. */
	if (tag != c->tag && node_dead(c, tag))
		return -EHOSTDOWN;
	if (!(p = malloc(sizeof(*p))) || !(msg = malloc(head_len + body_len + 1))) {
		free(p);
		return -ENOMEM;
	}
	memcpy(msg, head, head_len);
	if (body_len)
		memcpy(msg + head_len, body, body_len);
	p->c = c;
	p->done = done;
	p->arg = arg;
	p->count_signal = count_signal;
	/* Batched with others to that node for up to cluster_publish_linger_us. */
	r = pt_outbox_publish(c->out, tag, msg, head_len + body_len, publish_reply, p);
	free(msg);
	if (r)
		free(p);
	return r;
}

int pt_cluster_signal(pt_cluster *c, const pt_id *to, const pt_id *from, const char *frame,
                      size_t len, pt_cluster_done_fn *done, void *arg)
{
	char head[1 + 2 * PT_ID_CHARS + 1];
	int r;

	head[0] = 's';
	pt_id_encode(to, head + 1);
	pt_id_encode(from, head + 1 + PT_ID_CHARS);
	r = publish_to(c, to, head, 1 + 2 * PT_ID_CHARS, frame, len, done, arg, true);
	if (r == 0)
		c->stats.signals_out++;
	else if (r == -EHOSTDOWN)
		c->stats.signals_gone++;
	else
		c->stats.signals_unavailable++;
	return r;
}

int pt_cluster_peer_left(pt_cluster *c, const pt_id *to, const pt_id *gone)
{
	char head[1 + 2 * PT_ID_CHARS + 1];
	int r;

	head[0] = 'l';
	pt_id_encode(to, head + 1);
	pt_id_encode(gone, head + 1 + PT_ID_CHARS);
	r = publish_to(c, to, head, 1 + 2 * PT_ID_CHARS, NULL, 0, NULL, NULL, false);
	if (!r)
		c->stats.peer_left_out++;
	return r;
}

int pt_cluster_kick(pt_cluster *c, const pt_id *id, pt_cluster_done_fn *done, void *arg)
{
	char head[1 + PT_ID_CHARS + 1];

	head[0] = 'k';
	pt_id_encode(id, head + 1);
	return publish_to(c, id, head, 1 + PT_ID_CHARS, NULL, 0, done, arg, false);
}

int pt_cluster_ban(pt_cluster *c, const char *cidr, uint64_t until_ms, const char *reason,
                   bool unban)
{
	char msg[512];
	const char *argv[3] = { "PUBLISH", c->all, msg };
	size_t lens[3] = { 7, strlen(c->all), 0 };
	int n;

	if (!pt_cluster_up(c))
		return -EAGAIN;
	n = snprintf(msg, sizeof(msg), "%c%llu %s %s", unban ? 'u' : 'b',
	             (unsigned long long)until_ms, cidr, reason ? reason : "");
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	lens[2] = (size_t)n;
	return pt_rlink_command(c->cmd[0], NULL, NULL, 3, argv, lens);
}

int pt_cluster_allow(pt_cluster *c, const uint8_t ih[20], bool add)
{
	char msg[2 + 20] = { 'w', add ? '+' : '-' };
	const char *argv[3] = { "PUBLISH", c->all, msg };
	size_t lens[3] = { 7, strlen(c->all), sizeof(msg) };

	if (!pt_cluster_up(c))
		return -EAGAIN;
	memcpy(msg + 2, ih, 20);
	return pt_rlink_command(c->cmd[0], NULL, NULL, 3, argv, lens);
}

/* -- the index ---------------------------------------------------------------- */

static void index_reply(pt_cluster *c, redisReply *r, void *arg)
{
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (r)
			bad_reply(c, arg ? "announce" : "withdraw", r);
		c->stats.announce_failures += arg != NULL;
	}
}

/* One script call per instance touched: the keys of that instance. */
static int index_write(pt_cluster *c, int script, const pt_id *peer, const pt_addr *addr,
                       const pt_key *keys, size_t n)
{
	char member[MEMBER_MAX], ttl[16], ks[64];
	int rc = 0;

	if (!n)
		return 0;
	snprintf(ttl, sizeof(ttl), "%u", c->ttl_ms);
	snprintf(ks, sizeof(ks), "%sk:%s", c->prefix, c->tag_s);
	for (int shard = 0; shard < c->n_links; shard++) {
		size_t cnt, at = 0;
		const char **argv;
		size_t *lens;
		char *kb;
		int nk;

		if (!(cnt = shard_count(c, shard, keys, sizeof(*keys), n)))
			continue;
		argv = malloc((cnt + 3) * (sizeof(char *) + sizeof(size_t)));
		kb = malloc(cnt * KEY_MAX);
		if (!argv || !kb) {
			free(argv);
			free(kb);
			return -ENOMEM;
		}
		lens = (size_t *)(void *)(argv + cnt + 3);
		if (script == S_ANNOUNCE) {
			argv[at] = ks;
			lens[at++] = strlen(ks);
		}
		at += shard_names(c, shard, 'h', keys, sizeof(*keys), n, argv + at, lens + at, kb);
		nk = (int)at;
		argv[at] = member;
		lens[at++] = member_of(peer, addr, member);
		if (script == S_ANNOUNCE) {
			argv[at] = ttl;
			lens[at++] = strlen(ttl);
		}
		{
			int r = script_call(c, c->cmd[shard], script, nk, (int)at, argv, lens, index_reply,
			                    script == S_ANNOUNCE ? (void *)1 : NULL);
			if (r && !rc)
				rc = r;
		}
		free(argv);
		free(kb);
	}
	return rc;
}

int pt_cluster_announce(pt_cluster *c, const pt_id *peer, const pt_addr *addr,
                        const pt_key *keys, size_t n)
{
	int r = index_write(c, S_ANNOUNCE, peer, addr, keys, n);

	if (r)
		c->stats.announce_failures++;
	else
		c->stats.announces += n;
	return r;
}

int pt_cluster_withdraw(pt_cluster *c, const pt_id *peer, const pt_addr *addr,
                        const pt_key *keys, size_t n)
{
	int r = index_write(c, S_WITHDRAW, peer, addr, keys, n);

	if (!r)
		c->stats.withdraws += n;
	return r;
}

typedef struct lookup_req {
	pt_cluster_lookup_fn *fn;
	void *arg;
	pt_key key;
} lookup_req;

static void lookup_reply(pt_cluster *c, redisReply *r, void *arg)
{
	lookup_req *q = arg;
	pt_cluster_cand *v = NULL;
	size_t n = 0;

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			bad_reply(c, "lookup", r);
		c->stats.lookup_failures++;
		q->fn(q->arg, r ? -EPROTO : -EAGAIN, NULL, 0);
		free(q);
		return;
	}
	if (r->elements && !(v = malloc(r->elements * sizeof(*v)))) {
		c->stats.lookup_failures++;
		q->fn(q->arg, -ENOMEM, NULL, 0);
		free(q);
		return;
	}
	for (size_t i = 0; i < r->elements && n < c->sample; i++) {
		redisReply *m = r->element[i];
		unsigned tag;

		/* "ID ADDR"; peers of this node answer from the local index,
		 * peers of dead nodes not at all. */
		if (m->type != REDIS_REPLY_STRING || m->len <= PT_ID_CHARS + 1 ||
		    m->str[PT_ID_CHARS] != ' ' || pt_id_decode(m->str, PT_ID_CHARS, &v[n].id) ||
		    pt_addr_parse(m->str + PT_ID_CHARS + 1, m->len - PT_ID_CHARS - 1, &v[n].addr))
			continue;
		tag = pt_id_tag(&v[n].id);
		if (tag == c->tag || node_dead(c, tag))
			continue;
		n++;
	}
	/* A full sample: the hash has at least that many holders, so the
	 * next lookups in cluster_lookup_cache_ms may reuse this one. */
	if (c->lcache && r->elements >= c->sample)
		pt_lcache_put(c->lcache, &q->key, v, n, uv_now(c->loop));
	q->fn(q->arg, 0, v, n);
	free(v);
	free(q);
}

int pt_cluster_lookup(pt_cluster *c, const pt_key *k, pt_cluster_lookup_fn *fn, void *arg)
{
	char key[KEY_MAX], sample[16];
	const char *argv[2] = { key, sample };
	size_t lens[2];
	lookup_req *q;
	int r;

	if (!c->registered)
		return -EAGAIN;
	lens[0] = key_name(c, 'h', k, key);
	lens[1] = (size_t)snprintf(sample, sizeof(sample), "%u", c->sample);
	if (!(q = malloc(sizeof(*q))))
		return -ENOMEM;
	q->fn = fn;
	q->arg = arg;
	q->key = *k;
	r = script_call(c, c->cmd[shard_of(c, k)], S_LOOKUP, 1, 2, argv, lens, lookup_reply, q);
	if (r) {
		free(q);
		c->stats.lookup_failures++;
	} else {
		c->stats.lookups++;
	}
	return r;
}

static bool cand_alive(void *arg, const pt_cluster_cand *v)
{
	return !node_dead(arg, pt_id_tag(&v->id));
}

const pt_cluster_cand *pt_cluster_lookup_cached(pt_cluster *c, const pt_key *k, size_t *n)
{
	const pt_cluster_cand *v;

	if (!c->lcache || !c->registered ||
	    !(v = pt_lcache_get(c->lcache, k, uv_now(c->loop), cand_alive, c, n)))
		return NULL;
	c->stats.lookups_cached++;
	return v;
}

/* -- swarm counts ------------------------------------------------------------- */

static void counts_put_reply(pt_cluster *c, redisReply *r, void *arg)
{
	(void)arg;
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (r)
			bad_reply(c, "swarm counts", r);
		c->stats.counts_failures++;
	}
}

#define COUNT_VAL_MAX 24 /* "4294967295 4294967295" */

int pt_cluster_counts_put(pt_cluster *c, const pt_cluster_count *v, size_t n)
{
	char ttl[16];
	int rc = 0;

	if (!n)
		return 0;
	/* A node refused its tag must not write another node's fields. */
	if (!c->registered || c->closing)
		return -EAGAIN;
	snprintf(ttl, sizeof(ttl), "%u", c->ttl_ms);
	for (int shard = 0; shard < c->n_links; shard++) {
		size_t cnt, at = 0;
		const char **argv;
		size_t *lens;
		char *kb, *vb;
		int nk, r;

		if (!(cnt = shard_count(c, shard, &v->key, sizeof(*v), n)))
			continue;
		argv = malloc((2 * cnt + 2) * (sizeof(char *) + sizeof(size_t)));
		kb = malloc(cnt * (KEY_MAX + COUNT_VAL_MAX));
		if (!argv || !kb) {
			free(argv);
			free(kb);
			return -ENOMEM;
		}
		lens = (size_t *)(void *)(argv + 2 * cnt + 2);
		vb = kb + cnt * KEY_MAX;
		at = shard_names(c, shard, 'c', &v->key, sizeof(*v), n, argv, lens, kb);
		nk = (int)at;
		argv[at] = c->tag_s;
		lens[at++] = 2;
		argv[at] = ttl;
		lens[at++] = strlen(ttl);
		for (size_t i = 0, j = 0; i < n; i++) {
			char *val;

			if (shard_of(c, &v[i].key) != shard)
				continue;
			val = vb + COUNT_VAL_MAX * j++;
			argv[at] = val;
			lens[at++] = v[i].complete || v[i].incomplete
			                     ? (size_t)snprintf(val, COUNT_VAL_MAX, "%u %u", v[i].complete,
			                                        v[i].incomplete)
			                     : 0;
		}
		r = script_call(c, c->cmd[shard], S_COUNT_PUT, nk, (int)at, argv, lens,
		                counts_put_reply, NULL);
		if (r) {
			c->stats.counts_failures++;
			if (!rc)
				rc = r;
		} else {
			c->stats.counts_written += cnt;
		}
		free(argv);
		free(kb);
	}
	return rc;
}

typedef struct count_req {
	pt_key key;
} count_req;

/* Saturating: fields are written by other processes. */
static uint32_t add_sat(uint32_t a, unsigned long b)
{
	return b >= UINT32_MAX - a ? UINT32_MAX : a + (uint32_t)b;
}

static void counts_get_reply(pt_cluster *c, redisReply *r, void *arg)
{
	count_req *q = arg;
	uint32_t complete = 0, incomplete = 0;

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			bad_reply(c, "swarm counts read", r);
		c->stats.counts_failures++;
		pt_ccache_fail(c->ccache, &q->key, true, uv_now(c->loop));
		free(q);
		return;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		redisReply *tr = r->element[i], *vr = r->element[i + 1];
		unsigned long a, b;
		char val[COUNT_VAL_MAX + 24], *end;
		int t;

		if (tr->type != REDIS_REPLY_STRING || vr->type != REDIS_REPLY_STRING ||
		    vr->len >= sizeof(val) || (t = pt_id_tag_parse(tr->str, tr->len)) < 0)
			continue;
		/* This node's own peers are counted locally; a node not alive
		 * (dead, or not in the registry yet) counts nothing. */
		if ((unsigned)t == c->tag || !c->nodes[t].alive)
			continue;
		memcpy(val, vr->str, vr->len);
		val[vr->len] = '\0';
		a = strtoul(val, &end, 10);
		if (*end != ' ')
			continue;
		b = strtoul(end + 1, &end, 10);
		if (*end != ' ')
			continue;
		complete = add_sat(complete, a);
		incomplete = add_sat(incomplete, b);
	}
	pt_ccache_put(c->ccache, &q->key, complete, incomplete, uv_now(c->loop));
	free(q);
}

static int counts_read(pt_cluster *c, const pt_key *k)
{
	char key[KEY_MAX];
	const char *argv[1] = { key };
	size_t lens[1];
	int shard = shard_of(c, k), r;
	count_req *q;

	/* Scrapes of many swarms must not fill the link signals use. */
	if (!link_has_room(c, shard))
		return -ENOBUFS;
	if (!(q = malloc(sizeof(*q))))
		return -ENOMEM;
	q->key = *k;
	lens[0] = key_name(c, 'c', k, key);
	r = script_call(c, c->cmd[shard], S_COUNT_GET, 1, 1, argv, lens, counts_get_reply, q);
	if (r)
		free(q);
	else
		c->stats.counts_read++;
	return r;
}

bool pt_cluster_counts_remote(pt_cluster *c, const pt_key *k, uint32_t *complete,
                              uint32_t *incomplete)
{
	bool have, read;

	if (!c->ccache || !c->registered || !pt_cluster_index_up(c, k))
		return false;
	have = pt_ccache_get(c->ccache, k, uv_now(c->loop), complete, incomplete, &read);
	if (!read)
		return have;
	/* Scrapes of many random swarms would otherwise turn into as many
	 * Redis reads: past the node's budget, the swarm waits for a later
	 * request (the sum kept stays usable a while, as when not sent). */
	if (!pt_bucket_take(&c->count_reads, c->count_reads_per_s, c->count_reads_per_s,
	                    uv_now(c->loop))) {
		c->stats.counts_throttled++;
		pt_ccache_fail(c->ccache, k, false, uv_now(c->loop));
	} else if (counts_read(c, k)) {
		pt_ccache_fail(c->ccache, k, false, uv_now(c->loop));
	}
	return have;
}

/* -- state -------------------------------------------------------------------- */

const pt_cluster_stats *pt_cluster_stats_get(pt_cluster *c)
{
	const pt_outbox_stats *o = pt_outbox_stats_get(c->out);

	c->stats.inbox_publishes = o->publishes;
	c->stats.inbox_messages = o->messages;
	c->stats.inbox_batches = o->batches;
	return &c->stats;
}

void pt_cluster_foreach_node(const pt_cluster *c, void (*fn)(const pt_cluster_node *n, void *arg),
                             void *arg)
{
	for (unsigned t = 0; t < TAGS; t++) {
		const node_rec *r = &c->nodes[t];
		pt_cluster_node n;

		if (!r->known)
			continue;
		pt_id_tag_format(t, n.tag);
		n.alive = r->alive;
		n.self = t == c->tag;
		n.age_ms = c->redis_now_ms > r->seen_ms ? c->redis_now_ms - r->seen_ms : 0;
		n.info = r->info ? r->info : "";
		fn(&n, arg);
	}
}

static void link_info(const pt_rlink *l, const char *role,
                      void (*fn)(const pt_cluster_link_info *l, void *arg), void *arg)
{
	const pt_rlink_stats *s = pt_rlink_stats_get(l);
	pt_cluster_link_info i = {
		pt_rlink_name(l), role, pt_rlink_last_error(l), pt_rlink_up(l), pt_rlink_pending(l),
		s->connects, s->disconnects, s->timeouts,
	};

	fn(&i, arg);
}

void pt_cluster_foreach_link(const pt_cluster *c,
                             void (*fn)(const pt_cluster_link_info *l, void *arg), void *arg)
{
	for (int i = 0; i < c->n_links; i++)
		link_info(c->cmd[i], i ? "index" : "index+registry", fn, arg);
	if (c->sub)
		link_info(c->sub, "inbox", fn, arg);
}
