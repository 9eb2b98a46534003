/* rtc.h — one WebRTC peer connection carrying one reliable, ordered data
 * channel, on GStreamer's webrtcbin. Nothing of WebRTC is written here by
 * hand: this only wires webrtcbin to the signalling and to the main loop.
 *
 * ICE is confined to 127.0.0.1: it is the only local address the agent
 * gathers, and remote candidates on any other address are dropped, both
 * trickled and inside the remote SDP. STUN and TURN servers (from the
 * daemon's welcome, see ice.c) add server-reflexive and relay candidates;
 * relay_only keeps only the relayed ones (ICE transport policy "relay").
 *
 * webrtcbin calls back on its own threads; every callback below is
 * re-posted, in order, to the default GMainContext, so the owner never sees
 * another thread. After pt_rtc_free no callback is made. */
#ifndef PEERTRACK_PEER_RTC_H
#define PEERTRACK_PEER_RTC_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

typedef struct pt_rtc pt_rtc;

typedef struct pt_rtc_cbs {
	/* Our offer or answer is ready: send it to the other peer. */
	void (*local_sdp)(void *arg, const char *type, const char *sdp);
	/* One of our ICE candidates ("candidate:..."), for trickling. */
	void (*local_ice)(void *arg, unsigned mline, const char *candidate);
	void (*open)(void *arg);
	void (*message)(void *arg, GBytes *data);
	/* The send buffer drained below the low-water mark. */
	void (*writable)(void *arg);
	/* The connection is unusable (ICE failed, channel closed, error). */
	void (*failed)(void *arg, const char *why);
} pt_rtc_cbs;

/* ICE servers in webrtcbin's URI form (stun://host:port,
 * turn(s)://user:pass@host:port?transport=...), borrowed. */
typedef struct pt_rtc_ice {
	const char *stun;          /* NULL: none */
	const char *const *turn;   /* NULL-terminated; NULL: none */
	bool relay_only;
} pt_rtc_ice;

/* offerer: creates the channel and the offer at once. ice may be NULL. NULL
 * with *err set (g_free it) when GStreamer lacks webrtcbin or the pipeline
 * won't start. */
pt_rtc *pt_rtc_new(bool offerer, const pt_rtc_ice *ice, const pt_rtc_cbs *cbs, void *arg,
                   char **err);

/* The other side's "offer" or "answer". 0, or -EINVAL (unparsable SDP,
 * wrong type for our role). */
int pt_rtc_remote_sdp(pt_rtc *r, const char *type, const char *sdp);
/* A trickled remote candidate; one off 127.0.0.1 is ignored (returns 1). */
int pt_rtc_remote_ice(pt_rtc *r, unsigned mline, const char *candidate);

/* Queues one binary message. 0, -ENOTCONN if the channel is not open, -EIO. */
int pt_rtc_send(pt_rtc *r, const void *data, size_t len);
/* Bytes queued in the channel and not yet handed to SCTP. */
uint64_t pt_rtc_buffered(pt_rtc *r);
/* Calls writable() once buffered drops to low bytes or under. */
void pt_rtc_set_low(pt_rtc *r, uint64_t low);

void pt_rtc_free(pt_rtc *r);

/* GStreamer generates one DTLS certificate (RSA) per process, on first use,
 * which costs 250-600 ms here; this starts it on a thread so it overlaps
 * with connecting to the daemon, then calls done(arg) on the main loop.
 * Join the returned thread (g_thread_join) before exiting. */
GThread *pt_rtc_warm_up(void (*done)(void *arg), void *arg);

/* True if an "a=candidate" value or a trickled candidate names 127.0.0.1
 * (shared with the SDP filter; exposed for tests). */
bool pt_rtc_candidate_is_loopback(const char *candidate);

#endif
