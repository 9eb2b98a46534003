/* metrics.c — GET /metrics (Prometheus text exposition format 0.0.4) and
 * GET /stats.json, from the counters in pt_stats, the live tables and the
 * store's health. Rendered on the loop thread from memory only. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "peertrack/procstat.h"
#include "net.h"

static int head(pt_buf *b, const char *name, const char *type, const char *help)
{
	return pt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int one(pt_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	if (head(b, name, type, help))
		return -ENOMEM;
	return pt_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* A counter with two label values: name{label="a"} va, name{label="b"} vb. */
static int two(pt_buf *b, const char *name, const char *help, const char *label, const char *a,
               uint64_t va, const char *bv, uint64_t vb)
{
	if (head(b, name, "counter", help))
		return -ENOMEM;
	return pt_buf_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n%s{%s=\"%s\"} %" PRIu64 "\n",
	                     name, label, a, va, name, label, bv, vb);
}

/* name{label="..."} v, one line per label value. */
static int labelled(pt_buf *b, const char *name, const char *type, const char *help,
                    const char *label, const char *(*lname)(int), const uint64_t *v, int n)
{
	if (head(b, name, type, help))
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (pt_buf_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, lname(i), v[i]))
			return -ENOMEM;
	return 0;
}

static const char *const space_names[PT_SPACE__COUNT] = { "v1", "webtorrent" };

/* By front-end: connections, and the index's keys of each one's space. */
static int by_frontend(pt_buf *b, struct pt_server *s)
{
	const pt_stats *st = &s->stats;
	int r = 0;

	r |= head(b, "peertrack_frontend_connections_total", "counter",
	          "WebSocket clients admitted, by front-end");
	r |= pt_buf_printf(b, "peertrack_frontend_connections_total{frontend=\"v1\"} %" PRIu64 "\n"
	                      "peertrack_frontend_connections_total{frontend=\"webtorrent\"} %" PRIu64 "\n",
	                   st->connections - st->wt.connections, st->wt.connections);
	r |= head(b, "peertrack_frontend_index_hashes", "gauge",
	          "Distinct keys in the index, by front-end (v1 hashes, webtorrent info_hashes)");
	for (int i = 0; i < PT_SPACE__COUNT; i++)
		r |= pt_buf_printf(b, "peertrack_frontend_index_hashes{frontend=\"%s\"} %zu\n",
		                   space_names[i], pt_index_hashes_in(s->index, (enum pt_space)i));
	r |= head(b, "peertrack_frontend_index_entries", "gauge",
	          "(peer, key) pairs in the index, by front-end");
	for (int i = 0; i < PT_SPACE__COUNT; i++)
		r |= pt_buf_printf(b, "peertrack_frontend_index_entries{frontend=\"%s\"} %zu\n",
		                   space_names[i], pt_index_entries_in(s->index, (enum pt_space)i));
	r |= labelled(b, "peertrack_wt_messages_total", "counter",
	              "Valid /announce messages, by kind", "kind", pt_frontends[PT_FE_WT].msg_name,
	              st->wt.messages, pt_frontends[PT_FE_WT].n_msgs);
	r |= one(b, "peertrack_wt_failures_total", "counter", "/announce failure replies sent",
	         st->wt.failures);
	r |= one(b, "peertrack_wt_offers_relayed_total", "counter", "Offers delivered to a peer",
	         st->wt.offers_relayed);
	r |= one(b, "peertrack_wt_answers_relayed_total", "counter", "Answers routed to the offerer",
	         st->wt.answers_relayed);
	r |= one(b, "peertrack_wt_answers_refused_total", "counter",
	         "Answers refused: no matching relayed offer, or not the sender's peer_id",
	         st->wt.answers_refused);
	r |= one(b, "peertrack_wt_not_allowed_total", "counter",
	         "Announces refused: info_hash not on the allow-list (wt_allowlist)",
	         st->wt.not_allowed);
	r |= one(b, "peertrack_wt_swarms", "gauge", "Swarms with at least one peer",
	         pt_wt_swarms_count(s->wt_swarms));
	r |= one(b, "peertrack_wt_peers", "gauge", "(swarm, peer_id) pairs announced",
	         pt_wt_swarms_bindings(s->wt_swarms));
	r |= one(b, "peertrack_wt_pending_offers", "gauge", "Relayed offers awaiting an answer",
	         pt_wt_offers_count(s->wt_offers));
	return r ? -ENOMEM : 0;
}
static const char *leave_name(int i) { return pt__leave_name((enum pt_leave)i); }
static const char *refuse_name(int i) { return pt__refuse_name((enum pt_refuse)i); }
static const char *budget_name(int i) { return pt__budget_name((enum pt_budget)i); }

static int seconds(pt_buf *b, uint64_t us)
{
	return pt_buf_printf(b, "%" PRIu64 ".%06" PRIu64 "\n", us / 1000000, us % 1000000);
}

/* Commit durations as a Prometheus histogram (cumulative buckets). */
static int flush_histogram(pt_buf *b, const pt_store_health *h)
{
	uint64_t n = 0;
	int r = head(b, "peertrack_store_flush_seconds", "histogram", "Duration of store commits");

	for (int k = 0; k < PT_STORE_FLUSH_BUCKETS; k++) {
		n += h->flush_hist[k];
		r |= pt_buf_printf(b, "peertrack_store_flush_seconds_bucket{le=\"");
		r |= pt_buf_printf(b, "%g\"} %" PRIu64 "\n", (double)pt_store_flush_bounds_us[k] / 1e6, n);
	}
	n += h->flush_over;
	r |= pt_buf_printf(b, "peertrack_store_flush_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", n);
	r |= pt_buf_printf(b, "peertrack_store_flush_seconds_sum ");
	r |= seconds(b, h->flush_sum_us);
	r |= pt_buf_printf(b, "peertrack_store_flush_seconds_count %" PRIu64 "\n", n);
	r |= head(b, "peertrack_store_last_flush_seconds", "gauge", "Duration of the last store commit");
	r |= pt_buf_printf(b, "peertrack_store_last_flush_seconds ");
	r |= seconds(b, h->last_flush_us);
	return r;
}

/* The standard process_* metrics, the build, and how many peers this
 * process can actually hold (max_connections capped by RLIMIT_NOFILE). */
static int process_metrics(struct pt_server *s, pt_buf *b)
{
	pt_procstat p;
	int r = 0;

	pt_procstat_read(&p);
	r |= one(b, "process_open_fds", "gauge", "Open file descriptors", p.open_fds);
	r |= one(b, "process_max_fds", "gauge", "Maximum number of open file descriptors (soft limit)",
	         p.max_fds);
	r |= one(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes",
	         p.rss_bytes);
	r |= one(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes",
	         p.vsize_bytes);
	r |= head(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent");
	r |= pt_buf_printf(b, "process_cpu_seconds_total ");
	r |= seconds(b, p.cpu_us);
	r |= head(b, "process_start_time_seconds", "gauge", "Start time since the Unix epoch");
	r |= pt_buf_printf(b, "process_start_time_seconds %" PRIu64 ".%03" PRIu64 "\n",
	                   s->t0_wall_ms / 1000, s->t0_wall_ms % 1000);
	r |= head(b, "peertrack_build_info", "gauge", "Always 1; the labels name the build");
	r |= pt_buf_printf(b, "peertrack_build_info{version=\"%s\",libwebsockets=\"%.*s\"} 1\n",
	                   PT_VERSION, (int)strcspn(lws_get_library_version(), " \""),
	                   lws_get_library_version());
	r |= one(b, "peertrack_capacity_peers", "gauge",
	         "Peers this process can hold: max_connections, lowered to fit RLIMIT_NOFILE",
	         s->max_peers);
	return r;
}

int pt_metrics_render(struct pt_server *s, pt_buf *b)
{
	const pt_stats *st = &s->stats;
	pt_store_health h = {0};
	int r = 0;

	if (s->store)
		pt_store_health_get(s->store, &h);

	r |= one(b, "peertrack_up", "gauge", "1 while the loop and the store are healthy",
	         !s->stop_phase && pt_ops_store_ok(s));
	r |= one(b, "peertrack_uptime_seconds", "gauge", "Seconds since the daemon started",
	         (pt__server_now(s) - s->t0_ms) / 1000);
	r |= one(b, "peertrack_connections_total", "counter", "WebSocket clients admitted",
	         st->connections);
	r |= labelled(b, "peertrack_refused_total", "counter", "Clients refused at connect, by reason",
	              "reason", refuse_name, st->refused, PT_REFUSE__COUNT);
	r |= one(b, "peertrack_sockets", "gauge", "WebSocket connections open, admitted or not",
	         s->sockets);
	r |= labelled(b, "peertrack_budget_refusals_total", "counter",
	              "Requests refused or not recorded because a budget was reached, by budget",
	              "budget", budget_name, st->budget, PT_BUDGET__COUNT);
	r |= one(b, "peertrack_handshakes", "gauge",
	         "Accepted sockets in their WebSocket handshake, counted against max_halfopen",
	         s->halfopen - s->ho_evicting);
	r |= one(b, "peertrack_messages_deferred_total", "counter",
	         "Large messages left for a later loop turn (turn_budget_us)", s->defer.deferred);
	r |= one(b, "peertrack_leaves_deferred_total", "counter",
	         "Leaving peers whose index entries went over later loop turns (turn_budget_us)",
	         s->drain.deferred);
	r |= one(b, "peertrack_leaving_peers", "gauge",
	         "Peers gone whose index entries are still being taken out", s->drain.peers);
	r |= one(b, "peertrack_leaving_entries", "gauge",
	         "Index entries of leaving peers still to take out (counted in the index's)",
	         s->drain.entries);
	r |= one(b, "peertrack_handshakes_evicted_total", "counter",
	         "Handshakes dropped to make room for another address (max_halfopen)",
	         st->halfopen_evicted);
	r |= one(b, "peertrack_heap_trims_total", "counter",
	         "Free heap returned to the system after a burst of handshakes (malloc_trim)",
	         st->heap_trims);
	r |= one(b, "peertrack_peers", "gauge", "Live peers", pt__server_live_peers(s));
	r |= one(b, "peertrack_index_entries", "gauge", "(peer, hash) pairs in the index",
	         pt_index_entries(s->index));
	r |= one(b, "peertrack_index_hashes", "gauge", "Distinct hashes in the index",
	         pt_index_hashes(s->index));
	r |= one(b, "peertrack_index_memory_bytes", "gauge", "Bytes held by the index tables",
	         pt_index_memory(s->index));
	r |= labelled(b, "peertrack_messages_total", "counter", "Valid client messages, by type",
	              "type", pt_frontends[PT_FE_V1].msg_name, st->messages,
	              pt_frontends[PT_FE_V1].n_msgs);
	r |= by_frontend(b, s);
	if (head(b, "peertrack_errors_total", "counter", "Error replies sent, by code"))
		return -ENOMEM;
	/* Codes start after PT_OK. */
	for (int i = 1; i < PT_E__COUNT; i++)
		r |= pt_buf_printf(b, "peertrack_errors_total{code=\"%s\"} %" PRIu64 "\n",
		                   pt_err_code((enum pt_err)i), st->errors[i]);
	r |= labelled(b, "peertrack_disconnects_total", "counter", "Peers that left, by reason",
	              "reason", leave_name, st->left, PT_LEAVE__COUNT);
	r |= one(b, "peertrack_rate_limited_total", "counter", "Messages dropped by the rate limit",
	         st->errors[PT_E_RATE_LIMITED]);
	r |= one(b, "peertrack_relayed_total", "counter", "Signals relayed to their target",
	         st->relayed);
	r |= two(b, "peertrack_lookups_total", "Lookups, by whether any peer was found",
	         "result", "hit", st->lookups_hit, "miss", st->lookups_miss);
	r |= one(b, "peertrack_peer_left_sent_total", "counter", "peer-left notices sent",
	         st->peer_left_sent);
	r |= two(b, "peertrack_ws_bytes_total", "WebSocket payload bytes, by direction",
	         "direction", "in", st->bytes_in, "out", st->bytes_out);
	r |= one(b, "peertrack_ws_frames_sent_total", "counter", "WebSocket text frames sent",
	         st->frames_out);
	r |= one(b, "peertrack_ws_writes_total", "counter",
	         "Socket writes that carried them (fewer: frames for one peer coalesced)",
	         st->writes_out);
	r |= one(b, "peertrack_reports_total", "counter", "Offload reports received", st->reports);
	r |= two(b, "peertrack_offload_bytes_total",
	         "Bytes clients reported fetching, by source (peers = origin traffic saved)",
	         "source", "peers", st->offload_from_peers, "origin", st->offload_from_origin);
	r |= one(b, "peertrack_uploaded_to_peers_bytes_total", "counter",
	         "Bytes clients reported serving to other peers", st->offload_to_peers);
	r |= one(b, "peertrack_resumable_sessions", "gauge",
	         "Peers whose connection dropped, waiting for a resume", s->parked.count);
	r |= one(b, "peertrack_resume_parked_total", "counter",
	         "Dropped peers made resumable", st->parked);
	r |= one(b, "peertrack_resumes_total", "counter", "Resumes that took an id back",
	         st->resumed);
	r |= one(b, "peertrack_resume_expired_total", "counter",
	         "Resumable peers whose window ended (peer-left sent)", st->resume_expired);
	r |= one(b, "peertrack_resume_evicted_total", "counter",
	         "Resumable peers given up for room (resume_max_sessions)", st->resume_evicted);
	r |= two(b, "peertrack_resume_held_total",
	         "Frames for resumable peers, by whether they were held or refused (bounds)",
	         "result", "held", st->held, "refused", st->held_dropped);
	r |= two(b, "peertrack_bad_peer_reports_total",
	         "bad-peer reports, by whether they counted (live holder, recent contact, new network)",
	         "result", "counted", st->bad_counted, "ignored", st->bad_ignored);
	r |= one(b, "peertrack_bad_peer_withdrawals_total", "counter",
	         "Hashes withdrawn from a peer after bad_peer_reports networks reported bad bytes",
	         st->bad_withdrawn);
	r |= one(b, "peertrack_bans", "gauge", "Bans in the list (some may have expired)",
	         s->bans ? s->bans->n : 0);
	r |= one(b, "peertrack_config_last_reload_successful", "gauge",
	         "1 if the last reload (SIGHUP or peertrackctl reload) applied its configuration, "
	         "0 if it was refused", s->reload_ok);
	r |= one(b, "peertrack_config_last_reload_timestamp_seconds", "gauge",
	         "When the configuration was last loaded or a reload last tried (Unix time)",
	         s->reload_wall_ms / 1000);
	r |= one(b, "peertrack_store_queue_depth", "gauge", "Store events waiting for a commit",
	         h.queue_depth);
	r |= one(b, "peertrack_store_flushes_total", "counter", "Store commits", h.flushes);
	r |= one(b, "peertrack_store_errors_total", "counter", "Store commits that failed",
	         h.errors);
	r |= one(b, "peertrack_store_dropped_total", "counter",
	         "Store events lost (queue full or failed commit)", h.dropped);
	r |= flush_histogram(b, &h);
	r |= pt__remote_metrics(s, b);
	r |= process_metrics(s, b);
	return r ? -ENOMEM : 0;
}

int pt_stats_render(struct pt_server *s, pt_buf *b)
{
	const pt_stats *st = &s->stats;
	pt_store_health h = {0};
	uint64_t fp = st->offload_from_peers, fo = st->offload_from_origin;
	int r = 0;

	if (s->store)
		pt_store_health_get(s->store, &h);
	r |= pt_buf_printf(b, "{\"uptime_ms\":%" PRIu64 ",\"peers\":%u,\"sockets\":%u,"
	                      "\"connections\":%" PRIu64 ",\"index\":{\"entries\":%zu,\"hashes\":%zu},"
	                      "\"lookups\":{\"hit\":%" PRIu64 ",\"miss\":%" PRIu64 "},"
	                      "\"relayed\":%" PRIu64 ",\"sent\":{\"frames\":%" PRIu64
	                      ",\"writes\":%" PRIu64 "},\"messages\":{",
	                   pt__server_now(s) - s->t0_ms, pt__server_live_peers(s), s->sockets,
	                   st->connections, pt_index_entries(s->index), pt_index_hashes(s->index),
	                   st->lookups_hit, st->lookups_miss, st->relayed, st->frames_out,
	                   st->writes_out);
	for (int i = 0; i < pt_frontends[PT_FE_V1].n_msgs; i++)
		r |= pt_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "",
		                   pt_frontends[PT_FE_V1].msg_name(i), st->messages[i]);
	r |= pt_buf_printf(b, "},\"errors\":{");
	for (int i = 1; i < PT_E__COUNT; i++)
		r |= pt_buf_printf(b, "%s\"%s\":%" PRIu64, i > 1 ? "," : "", pt_err_code((enum pt_err)i),
		                   st->errors[i]);
	r |= pt_buf_printf(b, "},\"disconnects\":{");
	for (int i = 0; i < PT_LEAVE__COUNT; i++)
		r |= pt_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "",
		                   pt__leave_name((enum pt_leave)i), st->left[i]);
	r |= pt_buf_printf(b, "},\"offload\":{\"reports\":%" PRIu64 ",\"from_peers\":%" PRIu64
	                      ",\"from_origin\":%" PRIu64 ",\"to_peers\":%" PRIu64 ",\"ratio\":",
	                   st->reports, fp, fo, st->offload_to_peers);
	if (fp + fo)
		r |= pt_buf_printf(b, "%.6f", (double)fp / (double)(fp + fo));
	else
		r |= pt_buf_printf(b, "null");
	r |= pt_buf_printf(b, "},\"bad_peer\":{\"counted\":%" PRIu64 ",\"ignored\":%" PRIu64
	                      ",\"withdrawn\":%" PRIu64, st->bad_counted, st->bad_ignored, st->bad_withdrawn);
	r |= pt_buf_printf(b, "},\"store\":{\"ok\":%s,\"queue_depth\":%" PRIu64 ",\"flushes\":%" PRIu64
	                      ",\"errors\":%" PRIu64 ",\"dropped\":%" PRIu64
	                      ",\"last_flush_us\":%" PRIu64 "},\"bans\":%zu}\n",
	                   h.ok ? "true" : "false", h.queue_depth, h.flushes, h.errors, h.dropped,
	                   h.last_flush_us, s->bans ? s->bans->n : 0);
	return r ? -ENOMEM : 0;
}
