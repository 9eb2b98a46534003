/* log.h — logging to stderr, one line per event, journald-friendly.
 *
 * Text lines are "LEVEL message" (journald adds the time; log_time adds an
 * ISO time for plain terminals). JSON lines are
 * {"ts":"...","level":"info","msg":"..."}. When stderr is the journal
 * (JOURNAL_STREAM), every line starts with its syslog priority "<N>". The logger is the one piece of
 * process-wide state: every module logs, and threading a context through
 * each call would buy nothing. It is set up by pt_log_configure only.
 */
#ifndef PEERTRACK_LOG_H
#define PEERTRACK_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* X(enumerator, name in config and JSON, name in text lines) */
#define PT_LOG_LEVELS(X) \
	X(PT_LOG_ERROR, "error", "ERROR") \
	X(PT_LOG_WARN, "warn", "WARN") \
	X(PT_LOG_INFO, "info", "INFO") \
	X(PT_LOG_DEBUG, "debug", "DEBUG")
#define PT_LOG_FORMATS(X) \
	X(PT_LOG_TEXT, "text") \
	X(PT_LOG_JSON, "json")

#define X(e, ...) e,
enum pt_log_level { PT_LOG_LEVELS(X) };
enum pt_log_format { PT_LOG_FORMATS(X) };
#undef X
/* The names, by value, NULL-terminated (the config's enum rows use them). */
extern const char *const pt_log_level_names[];
extern const char *const pt_log_format_names[];

/* Sets the level and format, and looks again whether stderr is the journal. */
void pt_log_configure(enum pt_log_level level, enum pt_log_format format);
/* Text lines start with an ISO time (the log_time key). */
void pt_log_timestamps(bool on);
bool pt_log_enabled(enum pt_log_level level);
void pt_log(enum pt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pt_log_error(...) pt_log(PT_LOG_ERROR, __VA_ARGS__)
#define pt_log_warn(...)  pt_log(PT_LOG_WARN, __VA_ARGS__)
#define pt_log_info(...)  pt_log(PT_LOG_INFO, __VA_ARGS__)
#define pt_log_debug(...) do { if (pt_log_enabled(PT_LOG_DEBUG)) pt_log(PT_LOG_DEBUG, __VA_ARGS__); } while (0)
/* Writes one line as it is (no formatting), for sources that bring their
 * own text (libwebsockets' log, net/lwslog.c). Ignores the level filter. */
void pt_log_line(enum pt_log_level level, const char *msg, size_t len);

#endif
