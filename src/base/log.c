/* log.c — one line per event on stderr.
 *
 * Each line is built in memory and written with a single write(2), so lines
 * from different threads (libwebsockets' service thread, workers) never
 * interleave. The settings are atomics: SIGHUP may change them while other
 * threads log.
 *
 * Under systemd, stderr is a stream to journald, which would file every
 * line at one priority: when JOURNAL_STREAM names the stream stderr is,
 * each line starts with "<N>" (the syslog priority), which journald strips
 * and keeps, so `journalctl -p warning` finds warnings and errors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "peertrack/log.h"
#include "peertrack/buf.h"

static atomic_int log_level = PT_LOG_INFO;
static atomic_int log_format = PT_LOG_TEXT;
static atomic_bool log_time = false;
static atomic_bool log_journal = false;

#define X(e, lower, upper) [e] = lower,
const char *const pt_log_level_names[] = { PT_LOG_LEVELS(X) NULL };
#undef X
#define X(e, lower) [e] = lower,
const char *const pt_log_format_names[] = { PT_LOG_FORMATS(X) NULL };
#undef X

#define X(e, lower, upper) [e] = upper,
static const char *const level_upper[] = { PT_LOG_LEVELS(X) };
#undef X
/* <syslog.h>'s LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const int syslog_prio[] = { [PT_LOG_ERROR] = 3, [PT_LOG_WARN] = 4, [PT_LOG_INFO] = 6,
                                   [PT_LOG_DEBUG] = 7 };

/* sd-daemon(3): JOURNAL_STREAM is "DEV:INO" of the stream systemd gave us;
 * stderr may since have been redirected elsewhere. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void pt_log_configure(enum pt_log_level level, enum pt_log_format format)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
	atomic_store_explicit(&log_format, (int)format, memory_order_relaxed);
	atomic_store_explicit(&log_journal, stderr_is_journal(), memory_order_relaxed);
}

void pt_log_timestamps(bool on)
{
	atomic_store_explicit(&log_time, on, memory_order_relaxed);
}

bool pt_log_enabled(enum pt_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* "2024-05-01T12:34:56.789Z" */
static int format_time(pt_buf *b)
{
	struct timespec ts;
	struct tm tm;
	char s[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	return pt_buf_printf(b, "%.*s.%03ldZ", (int)n, s, ts.tv_nsec / 1000000);
}

/* Text lines must stay one line each: control characters in the message
 * (say, from a client-chosen string) are written as escapes. */
static int append_text(pt_buf *b, const char *s, size_t len)
{
	int r = 0;

	for (size_t i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			r = pt_buf_append(b, "\\n", 2);
		else if (c < 0x20 && c != '\t')
			r = pt_buf_printf(b, "\\x%02x", c);
		else
			r = pt_buf_append(b, &s[i], 1);
	}
	return r;
}

static void write_all(const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report it */
		p += n;
		len -= (size_t)n;
	}
}

void pt_log_line(enum pt_log_level level, const char *msg, size_t len)
{
	pt_buf b;
	int r = 0;

	if ((unsigned)level > PT_LOG_DEBUG)
		level = PT_LOG_ERROR;
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;

	pt_buf_init(&b, 0);
	if (atomic_load_explicit(&log_journal, memory_order_relaxed))
		r |= pt_buf_printf(&b, "<%d>", syslog_prio[level]);
	if (atomic_load_explicit(&log_format, memory_order_relaxed) == PT_LOG_JSON) {
		r |= pt_buf_append(&b, "{\"ts\":\"", 7);
		r |= format_time(&b);
		r |= pt_buf_printf(&b, "\",\"level\":\"%s\",\"msg\":", pt_log_level_names[level]);
		r |= pt_buf_json_string(&b, msg, len);
		r |= pt_buf_append(&b, "}\n", 2);
	} else {
		if (atomic_load_explicit(&log_time, memory_order_relaxed)) {
			r |= format_time(&b);
			r |= pt_buf_append(&b, " ", 1);
		}
		r |= pt_buf_printf(&b, "%s ", level_upper[level]);
		r |= append_text(&b, msg, len);
		r |= pt_buf_append(&b, "\n", 1);
	}
	if (r == 0)
		write_all(pt_buf_text(&b), b.len);
	else
		write_all("ERROR log: out of memory\n", 25);
	pt_buf_free(&b);
}

void pt_log(enum pt_log_level level, const char *fmt, ...)
{
	char small[512];
	va_list ap;

	if (!pt_log_enabled(level))
		return;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		pt_log_line(level, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		pt_log_line(level, small, sizeof(small) - 1); /* truncated beats lost */
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	pt_log_line(level, big, (size_t)n);
	free(big);
}
