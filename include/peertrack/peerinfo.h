/* peerinfo.h — a live peer as seen from outside the loop that serves it:
 * a copy, valid after the call that filled it. The serving side (net)
 * produces these; the process and the admin socket consume them without
 * seeing a session. Header only. */
#ifndef PEERTRACK_PEERINFO_H
#define PEERTRACK_PEERINFO_H

#include <stdbool.h>
#include <stdint.h>
#include "peertrack/addr.h"
#include "peertrack/id.h"

typedef struct pt_peer_info {
	char id[PT_ID_CHARS + 1];
	pt_id id_bin;
	pt_addr addr;
	uint64_t connected_ms;  /* how long ago it connected */
	uint64_t idle_ms;       /* since it last sent anything */
	uint32_t hashes;        /* announced and held */
	uint32_t queue_bytes;   /* waiting to be sent to it */
	uint32_t contacts;      /* recent signal partners */
	uint32_t bad_reports;   /* bad-peer reports held against it */
} pt_peer_info;

/* Called per peer; returns false to stop the walk. */
typedef bool (*pt_peer_fn)(const pt_peer_info *p, void *arg);

#endif
