/* procstat.h — the process's own resource use, for the Prometheus
 * process_* metrics: descriptors against their limit, memory, CPU time.
 * Linux: /proc/self and getrusage/getrlimit. */
#ifndef PEERTRACK_PROCSTAT_H
#define PEERTRACK_PROCSTAT_H

#include <stdint.h>

typedef struct pt_procstat {
	uint64_t open_fds;       /* entries of /proc/self/fd */
	uint64_t max_fds;        /* RLIMIT_NOFILE, soft */
	uint64_t rss_bytes;      /* resident set */
	uint64_t vsize_bytes;    /* virtual size */
	uint64_t cpu_us;         /* user + system CPU time, microseconds */
} pt_procstat;

/* Fills *p. 0, or a negative errno when a source could not be read (the
 * fields it feeds are then 0). */
int pt_procstat_read(pt_procstat *p);

#endif
