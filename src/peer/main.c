/* main.c — peertrack-peer: a minimal WebRTC peer for peertrackd.
 *
 *   peertrack-peer [OPTIONS] seed FILE...
 *   peertrack-peer [OPTIONS] fetch HASH -o OUT
 *   peertrack-peer [OPTIONS] lookup HASH
 *
 * One GMainLoop carries everything: the daemon connection (libsoup), the
 * WebRTC connections (webrtcbin, whose threads post back to this loop) and
 * the timers. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include "peer.h"
#include "rtc.h"

#define DEFAULT_SERVER "ws://127.0.0.1:8000/v1"
#define DEFAULT_ORIGIN "http://127.0.0.1"
#define DEFAULT_TIMEOUT_MS 10000

enum cmd { CMD_SEED, CMD_FETCH, CMD_LOOKUP };

static void usage(FILE *f)
{
	fprintf(f,
"usage: peertrack-peer [OPTIONS] seed FILE...\n"
"       peertrack-peer [OPTIONS] fetch HASH -o OUT [--stay] [--max N]\n"
"       peertrack-peer [OPTIONS] lookup HASH\n"
"\n"
"seed    announce the SHA-256 of each FILE's content and serve the files to any\n"
"        peer that asks, until SIGINT/SIGTERM.\n"
"fetch   look HASH up, offer to the best holder (falling back to the next on\n"
"        failure), download over a WebRTC data channel, verify the SHA-256,\n"
"        write OUT, then announce HASH so this peer becomes a source too.\n"
"        --stay keeps serving OUT afterwards, until SIGINT/SIGTERM.\n"
"lookup  print the ids of the holders of HASH, best first, one per line.\n"
"\n"
"options:\n"
"  -s, --server URL     peertrackd's protocol v1 endpoint (default $PEERTRACK_SERVER,\n"
"                       else " DEFAULT_SERVER ")\n"
"      --origin ORIGIN  Origin header sent to the daemon (default " DEFAULT_ORIGIN ")\n"
"      --bind ADDR      connect to the daemon from this local address\n"
"  -o, --output OUT     fetch: where to write the resource\n"
"      --max N          fetch: ask the daemon for at most N holders\n"
"      --stay           fetch: keep serving after the download\n"
"  -t, --timeout MS     a fetch attempt with no progress for MS fails over to the\n"
"                       next holder; also the limit for the daemon's welcome\n"
"                       (default %d)\n"
"  -j, --json           results as JSON lines on stdout, with timings (lookup,\n"
"                       offer->open, transfer, MiB/s)\n"
"  -v, --verbose        progress on stderr\n"
"      --corrupt        seed (tests only): serve wrong bytes\n"
"      --throttle KIB   seed (tests only): serve at most KIB KiB/s per request\n"
"      --relay-only     use TURN relay candidates only (ICE transport policy\n"
"                       \"relay\"), with the TURN servers of the daemon's welcome\n"
"      --test-drop-after N  (tests only) cut the daemon connection, without a close\n"
"                       frame, as the Nth signal arrives; the peer resumes it\n"
"                       500 ms later\n"
"  -h, --help           this text\n"
"\n"
"stdout: 'id ID' once connected; 'resumed ID HELD' after a dropped daemon\n"
"connection was resumed; 'renewed ID' when the daemon session ended (a\n"
"daemon restart, a refused resume) and a fresh one began, after which\n"
"everything held is announced again; seed: 'seeding HASH FILE' per file, then\n"
"'ready ID'; fetch: 'fetched HASH ...' (or 'failed HASH: ...'); with --json each\n"
"line is an object with an \"event\" field. Diagnostics go to stderr.\n"
"\n"
"A seeder (and fetch --stay once done) outlives daemon restarts: it reconnects\n"
"with a growing, jittered delay (1-2 s doubling to 30 s) until it is back.\n"
"\n"
"exit status: 0 ok; 1 usage; 2 daemon unreachable at start, closed the\n"
"session during a fetch or lookup, or refused a request; 3 nobody holds HASH; 4 every holder failed (including integrity\n"
"failures); 5 a local file could not be read or written; 6 the WebRTC stack\n"
"(GStreamer webrtcbin, libnice) is missing or broken.\n",
	        DEFAULT_TIMEOUT_MS);
}

double pt_peer_now_ms(void)
{
	return g_get_monotonic_time() / 1000.0;
}

void pt_peer_quit(pt_peer *p, int code)
{
	if (p->exit_code < 0)
		p->exit_code = code;
	g_main_loop_quit(p->loop);
}

void pt_peer_emit(pt_peer *p, json_t *obj, const char *fmt, ...)
{
	va_list ap;

	if (p->json && obj) {
		char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));

		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	fflush(stdout);
	json_decref(obj);
}

void pt_peer_note(pt_peer *p, const char *fmt, ...)
{
	va_list ap;

	fputs("peertrack-peer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* -- holding and announcing ------------------------------------------------ */

typedef struct announce_batch {
	int64_t rid;
	GPtrArray *res; /* borrowed from p->resources */
} announce_batch;

void pt_peer_hold(pt_peer *p, pt_resource *r)
{
	if (g_hash_table_contains(p->resources, r->hex)) {
		pt_resource_free(r);
		return;
	}
	g_hash_table_insert(p->resources, r->hex, r);
	g_ptr_array_add(p->pending_announce, r);
	if (p->id[0])
		pt_peer_announce(p);
}

void pt_peer_announce(pt_peer *p)
{
	uint32_t per = pt_sig_limit(p->sig, "max_hashes_per_message", 256);
	size_t i = 0;

	while (i < p->pending_announce->len) {
		announce_batch *b = g_new0(announce_batch, 1);
		json_t *m = json_pack("{s:s,s:[]}", "type", "announce", "hashes");
		json_t *arr = json_object_get(m, "hashes");

		b->res = g_ptr_array_new();
		for (; i < p->pending_announce->len && json_array_size(arr) < per; i++) {
			pt_resource *r = g_ptr_array_index(p->pending_announce, i);

			json_array_append_new(arr, json_string(r->hex));
			g_ptr_array_add(b->res, r);
		}
		b->rid = pt_sig_request(p->sig, m);
		json_decref(m);
		g_ptr_array_add(p->announces, b);
		if (b->rid < 0) {
			pt_peer_note(p, "cannot announce: not connected");
			pt_peer_quit(p, PT_EXIT_SERVER);
			break;
		}
	}
	g_ptr_array_set_size(p->pending_announce, 0);
}

static void batch_free(gpointer data)
{
	announce_batch *b = data;

	g_ptr_array_unref(b->res);
	g_free(b);
}

/* An ack or an error for one of our announces. true if it was one. */
static bool on_announce_reply(pt_peer *p, const char *type, json_t *msg)
{
	json_int_t rid = json_integer_value(json_object_get(msg, "rid"));
	announce_batch *b = NULL;
	guint i;

	for (i = 0; i < p->announces->len; i++) {
		b = g_ptr_array_index(p->announces, i);
		if (b->rid == rid)
			break;
	}
	if (i == p->announces->len)
		return false;
	if (strcmp(type, "error") == 0) {
		pt_peer_note(p, "announce refused: %s: %s",
		             json_string_value(json_object_get(msg, "code")),
		             json_string_value(json_object_get(msg, "message")));
		pt_peer_quit(p, PT_EXIT_SERVER);
		return true;
	}
	/* A plain fetch reports and ends here; seeders and --stay go on. */
	if (p->fetch && !pt_fetch_announced(p->fetch)) {
		g_ptr_array_remove_index(p->announces, i);
		return true;
	}
	for (guint j = 0; j < b->res->len; j++) {
		pt_resource *r = g_ptr_array_index(b->res, j);

		pt_peer_emit(p, json_pack("{s:s,s:s,s:s}", "event", "seeding", "hash", r->hex, "path", r->path),
		             "seeding %s %s", r->hex, r->path);
	}
	g_ptr_array_remove_index(p->announces, i);
	if (p->announces->len == 0) {
		pt_peer_emit(p, json_pack("{s:s,s:s}", "event", "ready", "id", p->id), "ready %s", p->id);
	}
	return true;
}

/* -- the daemon connection ---------------------------------------------- */

static void on_welcome(void *arg, const char *id, json_t *w)
{
	pt_peer *p = arg;

	if (p->connect_timer) {
		g_source_remove(p->connect_timer);
		p->connect_timer = 0;
	}
	memcpy(p->id, id, PT_ID_CHARS + 1);
	pt_peer_set_ice(p, json_object_get(w, "ice_servers"));
	if (p->relay_only && !(p->ice_turn && p->ice_turn[0])) {
		pt_peer_note(p, "--relay-only, but the daemon's welcome names no TURN server");
		pt_peer_quit(p, PT_EXIT_SERVER);
		return;
	}
	pt_peer_emit(p, json_pack("{s:s,s:s}", "event", "id", "id", id), "id %s", id);
	if (p->lookup_only) {
		char hex[PT_HASH_HEX + 1];
		json_t *m;

		pt_hash_format(&p->lookup_hash, hex);
		m = json_pack("{s:s,s:s}", "type", "lookup", "hash", hex);
		p->lookup_rid = pt_sig_request(p->sig, m);
		json_decref(m);
		return;
	}
	if (p->pending_announce->len)
		pt_peer_announce(p);
	/* A fetch waits for the certificate, so that offer->open measures the
	 * connection, not the process's one-time key generation. */
	if (p->fetch && p->warm)
		pt_fetch_start(p->fetch);
}

static void on_warm(void *arg)
{
	pt_peer *p = arg;

	p->warm = true;
	if (p->fetch && p->id[0])
		pt_fetch_start(p->fetch);
}

static void on_lookup_reply(pt_peer *p, const char *type, json_t *msg)
{
	json_t *peers = json_object_get(msg, "peers");
	size_t i;

	if (strcmp(type, "error") == 0) {
		pt_peer_note(p, "lookup refused: %s", json_string_value(json_object_get(msg, "code")));
		pt_peer_quit(p, PT_EXIT_SERVER);
		return;
	}
	if (p->json) {
		pt_peer_emit(p, json_pack("{s:s,s:O}", "event", "peers", "peers", peers), "%s", "");
	} else {
		for (i = 0; i < json_array_size(peers); i++)
			printf("%s\n", json_string_value(json_array_get(peers, i)));
		fflush(stdout);
	}
	pt_peer_quit(p, json_array_size(peers) ? PT_EXIT_OK : PT_EXIT_NO_HOLDER);
}

static void on_signal(pt_peer *p, json_t *msg)
{
	const char *from = json_string_value(json_object_get(msg, "from"));
	json_t *data = json_object_get(msg, "data");
	const char *sid = json_string_value(json_object_get(data, "sid"));

	if (!from || strlen(from) != PT_ID_CHARS || !json_is_object(data) || !sid || !*sid) {
		if (p->verbose)
			pt_peer_note(p, "ignoring a signal this peer cannot use");
		return;
	}
	if (p->fetch && pt_fetch_owns_sid(p->fetch, sid))
		pt_fetch_signal(p->fetch, from, data);
	else
		pt_serve_signal(p, from, sid, data);
}

static void on_message(void *arg, const char *type, json_t *msg)
{
	pt_peer *p = arg;
	json_int_t rid = json_integer_value(json_object_get(msg, "rid"));

	if (strcmp(type, "signal") == 0) {
		if (p->test_drop_after && ++p->signals_seen == p->test_drop_after)
			/* Handled after the cut: what we answer waits; the other
			 * side's trickled candidates are held by the daemon. */
			pt_sig_test_drop(p->sig, 500);
		on_signal(p, msg);
	} else if (strcmp(type, "peer-left") == 0) {
		const char *id = json_string_value(json_object_get(msg, "id"));

		if (id) {
			if (p->fetch)
				pt_fetch_peer_left(p->fetch, id);
			pt_serve_peer_left(p, id);
		}
	} else if (strcmp(type, "ack") == 0 || strcmp(type, "error") == 0 || strcmp(type, "peers") == 0) {
		if (p->lookup_only && rid == p->lookup_rid && json_object_get(msg, "rid")) {
			on_lookup_reply(p, type, msg);
			return;
		}
		if (p->fetch && pt_fetch_on_reply(p->fetch, type, msg))
			return;
		if (on_announce_reply(p, type, msg))
			return;
		if (strcmp(type, "error") == 0)
			pt_peer_note(p, "daemon: %s: %s", json_string_value(json_object_get(msg, "code")),
			             json_string_value(json_object_get(msg, "message")));
	}
}

static void on_closed(void *arg, int code, const char *why)
{
	pt_peer *p = arg;

	pt_peer_note(p, "daemon connection %s (%d: %s)", code ? "closed" : "failed", code, why);
	pt_peer_quit(p, PT_EXIT_SERVER);
}

static void on_resumed(void *arg, unsigned held)
{
	pt_peer *p = arg;

	pt_peer_emit(p, json_pack("{s:s,s:s,s:i}", "event", "resumed", "id", p->id, "held", held),
	             "resumed %s %u", p->id, held);
}

/* The daemon session is over (a restart, a refused resume, a drop past the
 * window): what we serve survives it, a fetch in flight does not — its
 * sessions, lookup and holders all belonged to the old id. */
static void on_renewing(void *arg, int code, const char *why, unsigned delay_ms)
{
	pt_peer *p = arg;

	pt_peer_note(p, "daemon session ended (%d: %s); a fresh one %s", code, why,
	             delay_ms ? "after a delay" : "goes on on the same connection");
	if (p->lookup_only || (p->fetch && !pt_fetch_finished(p->fetch))) {
		pt_peer_quit(p, PT_EXIT_SERVER);
		return;
	}
	pt_serve_free_all(p);
	g_ptr_array_set_size(p->announces, 0);
	g_ptr_array_set_size(p->pending_announce, 0);
}

static void on_renewed(void *arg, const char *id, json_t *w)
{
	pt_peer *p = arg;
	GHashTableIter it;
	gpointer r;

	if (p->exit_code >= 0)
		return;
	memcpy(p->id, id, PT_ID_CHARS + 1);
	pt_peer_set_ice(p, json_object_get(w, "ice_servers"));
	if (p->relay_only && !(p->ice_turn && p->ice_turn[0])) {
		pt_peer_note(p, "--relay-only, but the daemon's welcome names no TURN server");
		pt_peer_quit(p, PT_EXIT_SERVER);
		return;
	}
	pt_peer_emit(p, json_pack("{s:s,s:s}", "event", "renewed", "id", id), "renewed %s", id);
	g_hash_table_iter_init(&it, p->resources);
	while (g_hash_table_iter_next(&it, NULL, &r))
		g_ptr_array_add(p->pending_announce, r);
	if (p->pending_announce->len)
		pt_peer_announce(p);
}

static const pt_sig_cbs sig_cbs = { on_welcome, on_message, on_closed, on_resumed, on_renewing, on_renewed };

static gboolean on_connect_timeout(gpointer data)
{
	pt_peer *p = data;

	p->connect_timer = 0;
	pt_peer_note(p, "no welcome from the daemon within %u ms", p->timeout_ms);
	pt_peer_quit(p, PT_EXIT_SERVER);
	return G_SOURCE_REMOVE;
}

static gboolean on_unix_signal(gpointer data)
{
	pt_peer *p = data;

	pt_peer_quit(p, p->fetch && !pt_fetch_finished(p->fetch) ? PT_EXIT_FAILED : PT_EXIT_OK);
	return G_SOURCE_CONTINUE;
}

/* -- main -------------------------------------------------------------------- */

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "origin", required_argument, NULL, 'O' },
		{ "bind", required_argument, NULL, 'B' },
		{ "output", required_argument, NULL, 'o' },
		{ "max", required_argument, NULL, 'm' },
		{ "stay", no_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "corrupt", no_argument, NULL, 'C' },
		{ "throttle", required_argument, NULL, 'T' },
		{ "relay-only", no_argument, NULL, 'R' },
		{ "test-drop-after", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	pt_peer p = { .exit_code = -1, .timeout_ms = DEFAULT_TIMEOUT_MS };
	const char *server = getenv("PEERTRACK_SERVER"), *origin = DEFAULT_ORIGIN, *out = NULL;
	const char *bind = NULL;
	unsigned max_peers = 0;
	bool stay = false;
	enum cmd cmd;
	int c, rc;
	GstElementFactory *wf;
	GThread *warm;

	if (!server || !*server)
		server = DEFAULT_SERVER;
	while ((c = getopt_long(argc, argv, "s:o:t:jvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'O': origin = optarg; break;
		case 'B': bind = optarg; break;
		case 'o': out = optarg; break;
		case 'S': stay = true; break;
		case 'j': p.json = true; break;
		case 'v': p.verbose = true; break;
		case 'C': p.corrupt = true; break;
		case 'R': p.relay_only = true; break;
		case 'D':
			if (parse_uint(optarg, 1, 1000000, &p.test_drop_after) != 0)
				goto bad;
			break;
		case 'h': usage(stdout); return PT_EXIT_OK;
		case 'm':
			if (parse_uint(optarg, 1, 1000000, &max_peers) != 0)
				goto bad;
			break;
		case 't':
			if (parse_uint(optarg, 1, 3600000, &p.timeout_ms) != 0)
				goto bad;
			break;
		case 'T':
			if (parse_uint(optarg, 1, 10000000, &p.throttle_kib) != 0)
				goto bad;
			break;
		default:
			usage(stderr);
			return PT_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		goto bad;
	if (strcmp(argv[optind], "seed") == 0 && optind + 1 < argc)
		cmd = CMD_SEED;
	else if (strcmp(argv[optind], "fetch") == 0 && optind + 2 == argc && out)
		cmd = CMD_FETCH;
	else if (strcmp(argv[optind], "lookup") == 0 && optind + 2 == argc)
		cmd = CMD_LOOKUP;
	else
		goto bad;
	if (cmd != CMD_SEED && (p.corrupt || p.throttle_kib))
		goto bad;
	if (cmd != CMD_FETCH && (out || stay || max_peers))
		goto bad;
	if (cmd != CMD_SEED && pt_hash_parse(argv[optind + 1], strlen(argv[optind + 1]), &p.lookup_hash) != 0) {
		fprintf(stderr, "peertrack-peer: %s: not 64 lowercase hex characters\n", argv[optind + 1]);
		return PT_EXIT_USAGE;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	gst_init(NULL, NULL);
	wf = gst_element_factory_find("webrtcbin");
	if (!wf) {
		fprintf(stderr, "peertrack-peer: GStreamer has no webrtcbin "
		                "(install gstreamer1.0-plugins-bad and gstreamer1.0-nice)\n");
		return PT_EXIT_INTERNAL;
	}
	gst_object_unref(wf);

	warm = pt_rtc_warm_up(on_warm, &p);
	p.loop = g_main_loop_new(NULL, FALSE);
	p.resources = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pt_resource_free);
	p.serves = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, pt_serve_destroy);
	p.pending_announce = g_ptr_array_new();
	p.announces = g_ptr_array_new_with_free_func(batch_free);

	if (cmd == CMD_SEED) {
		for (int i = optind + 1; i < argc && p.exit_code < 0; i++) {
			pt_resource *r;
			char *err = NULL;

			if (pt_resource_open(argv[i], &r, &err) != 0) {
				fprintf(stderr, "peertrack-peer: %s\n", err);
				g_free(err);
				p.exit_code = PT_EXIT_IO;
			} else {
				pt_peer_hold(&p, r);
			}
		}
	} else if (cmd == CMD_FETCH) {
		p.fetch = pt_fetch_new(&p, &p.lookup_hash, out, stay, max_peers);
	} else {
		p.lookup_only = true;
	}

	if (p.exit_code < 0) {
		p.sig = pt_sig_new(server, origin, bind, &sig_cbs, &p);
		if (!p.sig) {
			fprintf(stderr, "peertrack-peer: %s: not a ws:// or wss:// URL, or %s: not an address\n",
			        server, bind ? bind : "--bind");
			p.exit_code = PT_EXIT_USAGE;
		}
	}
	if (p.exit_code < 0) {
		p.connect_timer = g_timeout_add(p.timeout_ms, on_connect_timeout, &p);
		g_unix_signal_add(SIGINT, on_unix_signal, &p);
		g_unix_signal_add(SIGTERM, on_unix_signal, &p);
		g_main_loop_run(p.loop);
	}
	rc = p.exit_code < 0 ? PT_EXIT_OK : p.exit_code;
	g_thread_join(warm);

	if (p.connect_timer)
		g_source_remove(p.connect_timer);
	pt_fetch_free(p.fetch);
	pt_serve_free_all(&p);
	pt_sig_free(p.sig);
	pt_peer_clear_ice(&p);
	g_ptr_array_unref(p.announces);
	g_ptr_array_unref(p.pending_announce);
	g_hash_table_unref(p.serves);
	g_hash_table_unref(p.resources);
	/* The SIGINT/SIGTERM sources stay: removing one restores the default,
	 * fatal disposition, and a second SIGTERM (timeout(1) sends one to the
	 * child and one to its group) must not kill us during the exit. */
	g_main_loop_unref(p.loop);
	gst_deinit();
	return rc;
bad:
	usage(stderr);
	return PT_EXIT_USAGE;
}
