/* lwslog.c — libwebsockets' own log lines (errors and warnings) routed
 * into the project's log (base/log.c), which knows nothing of lws. */
#include <stdio.h>
#include <string.h>
#include <libwebsockets.h>

#include "peertrack/log.h"
#include "peertrack/lwslog.h"

/* lws can repeat one line in a tight loop (accept() failing with EMFILE
 * when descriptors run out): identical consecutive lines are counted, not
 * written, and a count line follows when they stop or every 100000 — one
 * stuck condition must not fill the disk. lws logs from the loop thread
 * only, so this state needs no lock. */
static struct {
	char last[256];
	unsigned long repeats;
} lws_dedupe;

static void lws_flush_repeats(enum pt_log_level l)
{
	char line[96];
	int n;

	if (!lws_dedupe.repeats)
		return;
	n = snprintf(line, sizeof(line), "(libwebsockets: last message repeated %lu times)",
	             lws_dedupe.repeats);
	pt_log_line(l, line, (size_t)n);
	lws_dedupe.repeats = 0;
}

static struct {
	void (*fn)(void *arg, const char *line);
	void *arg;
} lws_watch;

void pt_log_watch_lws(void (*fn)(void *arg, const char *line), void *arg)
{
	lws_watch.fn = fn;
	lws_watch.arg = arg;
}

static void lws_emit(int level, const char *line)
{
	enum pt_log_level l = (level & LLL_ERR) ? PT_LOG_ERROR : PT_LOG_WARN;

	if (lws_watch.fn)
		lws_watch.fn(lws_watch.arg, line);
	if (!pt_log_enabled(l))
		return;
	if (!strncmp(line, lws_dedupe.last, sizeof(lws_dedupe.last) - 1)) {
		if (++lws_dedupe.repeats >= 100000)
			lws_flush_repeats(l);
		return;
	}
	lws_flush_repeats(l);
	snprintf(lws_dedupe.last, sizeof(lws_dedupe.last), "%s", line);
	pt_log_line(l, line, strlen(line));
}

void pt_log_hook_lws(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
}
