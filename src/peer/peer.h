/* peer.h — peertrack-peer's shared state: one process, one GMainLoop, one
 * signalling connection; it serves what it holds (serve.c) and, for the
 * fetch command, downloads one resource (fetch.c). */
#ifndef PEERTRACK_PEER_PEER_H
#define PEERTRACK_PEER_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <jansson.h>
#include "peertrack/hash.h"
#include "peertrack/id.h"
#include "rtc.h"
#include "sig.h"

/* Exit codes (also in --help and the README). */
enum pt_peer_exit {
	PT_EXIT_OK = 0,
	PT_EXIT_USAGE = 1,
	PT_EXIT_SERVER = 2,   /* cannot reach the daemon, or it broke the protocol / refused us */
	PT_EXIT_NO_HOLDER = 3, /* lookup found nobody */
	PT_EXIT_FAILED = 4,   /* every holder failed (incl. integrity failures) */
	PT_EXIT_IO = 5,       /* a local file could not be read or written */
	PT_EXIT_INTERNAL = 6  /* WebRTC stack missing or broken */
};

/* A resource we can serve: its bytes stay mapped (or owned) for our life. */
typedef struct pt_resource {
	pt_hash hash;
	char hex[PT_HASH_HEX + 1];
	char *path;
	GBytes *bytes;
	uint32_t chunks;
} pt_resource;

typedef struct pt_fetch pt_fetch;

typedef struct pt_peer {
	GMainLoop *loop;
	pt_sig *sig;
	char id[PT_ID_CHARS + 1];
	int exit_code;
	guint connect_timer;  /* until the welcome */
	bool warm;            /* the DTLS certificate exists (pt_rtc_warm_up) */
	/* ICE servers from the welcome (ice.c), for every new connection */
	pt_rtc_ice ice;
	char *ice_stun;
	char **ice_turn;
	/* options */
	bool json, verbose, corrupt;
	bool relay_only;         /* --relay-only: TURN relay candidates only */
	unsigned test_drop_after; /* tests: cut the daemon connection at this incoming signal */
	unsigned signals_seen;
	unsigned timeout_ms;   /* a fetch attempt without progress this long fails */
	unsigned throttle_kib; /* test-only: serve at most this many KiB/s */
	/* serving */
	GHashTable *resources; /* hex -> pt_resource */
	GHashTable *serves;    /* "from/sid" -> serve session (serve.c) */
	GPtrArray *pending_announce; /* resources not yet announced */
	GPtrArray *announces;  /* announces awaiting their ack (main.c) */
	/* the fetch command, or NULL */
	pt_fetch *fetch;
	/* the lookup command */
	bool lookup_only;
	pt_hash lookup_hash;
	int64_t lookup_rid;
} pt_peer;

/* Ends the process's loop with this exit code (the first one wins). */
void pt_peer_quit(pt_peer *p, int code);
/* One result line on stdout: obj as compact JSON with --json, else text.
 * Takes obj. */
void pt_peer_emit(pt_peer *p, json_t *obj, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A diagnostic on stderr, prefixed with the program name. */
void pt_peer_note(pt_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Monotonic milliseconds. */
double pt_peer_now_ms(void);

/* ice.c: the welcome's ice_servers (RTCConfiguration.iceServers) in
 * webrtcbin's URI form, in p->ice; the username and credential are
 * URL-encoded (a TURN REST username holds ':'). Replaces the previous. */
void pt_peer_set_ice(pt_peer *p, json_t *ice_servers);
void pt_peer_clear_ice(pt_peer *p);

/* resource.c */
/* Maps path and hashes it. 0, or -errno with *err set (g_free). */
int pt_resource_open(const char *path, pt_resource **out, char **err);
/* Wraps bytes we fetched (takes a reference) under a known hash. */
pt_resource *pt_resource_from_bytes(GBytes *bytes, const pt_hash *h, const char *path);
void pt_resource_free(pt_resource *r);
/* Adds r to what we serve and announces it; ready() is called after ack. */
void pt_peer_hold(pt_peer *p, pt_resource *r);
void pt_peer_announce(pt_peer *p);

/* serve.c */
void pt_serve_signal(pt_peer *p, const char *from, const char *sid, json_t *data);
void pt_serve_peer_left(pt_peer *p, const char *id);
void pt_serve_free_all(pt_peer *p);
void pt_serve_destroy(gpointer session); /* p->serves' value destructor */
/* Sends signal data {"sid":..., key: val} to a peer (takes val). Returns
 * the message's rid (> 0), or a negative errno. */
int64_t pt_peer_signal(pt_peer *p, const char *to, const char *sid, const char *key, json_t *val);

/* fetch.c */
pt_fetch *pt_fetch_new(pt_peer *p, const pt_hash *h, const char *out, bool stay, unsigned max_peers);
void pt_fetch_start(pt_fetch *f);             /* after the welcome */
bool pt_fetch_owns_sid(const pt_fetch *f, const char *sid);
void pt_fetch_signal(pt_fetch *f, const char *from, json_t *data);
void pt_fetch_peer_left(pt_fetch *f, const char *id);
bool pt_fetch_on_reply(pt_fetch *f, const char *type, json_t *msg); /* true if consumed */
/* Our announce of the fetched resource was acked: reports the result.
 * Returns true if the process goes on serving (--stay). */
bool pt_fetch_announced(pt_fetch *f);
bool pt_fetch_finished(const pt_fetch *f);
void pt_fetch_free(pt_fetch *f);

#endif
