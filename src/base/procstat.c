/* procstat.c — see procstat.h. Read on demand (a scrape), never cached:
 * one opendir and one small read. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "peertrack/procstat.h"

int pt_procstat_read(pt_procstat *p)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long vsize, rss;
	long page = sysconf(_SC_PAGESIZE);
	DIR *d;
	FILE *f;
	int r = 0;

	memset(p, 0, sizeof(*p));
	if ((d = opendir("/proc/self/fd"))) {
		struct dirent *e;

		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				p->open_fds++;
		closedir(d);
		p->open_fds--; /* the directory's own descriptor */
	} else {
		r = -errno;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	if ((f = fopen("/proc/self/statm", "r"))) {
		if (fscanf(f, "%llu %llu", &vsize, &rss) == 2 && page > 0) {
			p->vsize_bytes = vsize * (uint64_t)page;
			p->rss_bytes = rss * (uint64_t)page;
		}
		fclose(f);
	} else if (!r) {
		r = -errno;
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
		            (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
	return r;
}
