/* lwslog.h — routes libwebsockets' own log lines (errors and warnings)
 * into the project's log (log.h), with repeats of one line counted, not
 * written. Part of net: the base log knows nothing of libwebsockets. */
#ifndef PEERTRACK_LWSLOG_H
#define PEERTRACK_LWSLOG_H

void pt_log_hook_lws(void);
/* Shows each of those lines to fn first (NULL: nobody), on the thread lws
 * logs from (the loop's): some conditions lws reports only in a line. */
void pt_log_watch_lws(void (*fn)(void *arg, const char *line), void *arg);

#endif
