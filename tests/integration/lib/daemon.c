/* daemon.c — peertrackd as a child process for the integration tests.
 *
 * stderr goes through a pipe to a reader thread that keeps every line, so a
 * test can wait for a log event (condition variable + timeout) and a failed
 * test can print the whole log. Waiting also services the WebSocket clients
 * (client.c): the daemon may be waiting for them, e.g. to take a close frame
 * at shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "integration/lib/harness.h"
#include "integration/lib/internal.h"

struct pt_daemon {
	pt_daemon *next;       /* the live list, for cleanup */
	pid_t pid;
	int port;
	int status;            /* once reaped */
	bool reaped;
	char dir[256];
	char conf[300];
	char state[300];

	int errfd;
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **lines;
	size_t n, cap;
	bool eof;
};

static pt_daemon *daemons;

/* Appends one line; called with d->mu held. Out of memory, the line is
 * kept as a NULL entry (printed as "(oom)") or, at worst, dropped. */
static void push_line(pt_daemon *d, const char *text)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		char **v = realloc(d->lines, cap * sizeof(*v));

		if (!v)
			return;
		d->lines = v;
		d->cap = cap;
	}
	d->lines[d->n++] = strdup(text);
}

static void *read_stderr(void *arg)
{
	pt_daemon *d = arg;
	char buf[4096], *acc = NULL;
	size_t acc_len = 0;
	ssize_t got;

	for (;;) {
		got = read(d->errfd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		char *p = realloc(acc, acc_len + (size_t)got + 1);
		if (!p)
			break;
		acc = p;
		memcpy(acc + acc_len, buf, (size_t)got);
		acc_len += (size_t)got;
		acc[acc_len] = 0;

		char *start = acc, *nl;
		pthread_mutex_lock(&d->mu);
		while ((nl = memchr(start, '\n', acc_len - (size_t)(start - acc)))) {
			*nl = 0;
			push_line(d, start);
			start = nl + 1;
		}
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		acc_len -= (size_t)(start - acc);
		memmove(acc, start, acc_len);
		pt_client_wake();
	}
	pthread_mutex_lock(&d->mu);
	if (acc_len) {
		acc[acc_len] = 0;
		push_line(d, acc);
	}
	d->eof = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	free(acc);
	pt_client_wake();
	return NULL;
}

static const char *bin_dir(void)
{
	const char *b = getenv("PT_BIN");

	return b && *b ? b : "bin";
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -1;
	r = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f))
		r = -1;
	return r;
}

static void remove_tree(const char *dir)
{
	char cmd[600];

	/* The paths are our own mkdtemp results: no quoting surprises. */
	if (strstr(dir, "/pt-itest-")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "harness: could not remove %s\n", dir);
	}
}

pt_daemon *ptd_spawn(const char *conf_text, const char *listen, const char *const *argv)
{
	const char *tmp = getenv("TMPDIR");
	char exe[512], setstate[320], listenarg[128];
	const char *args[64];
	size_t na = 0;
	int pfd[2];
	pt_daemon *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->errfd = -1;
	d->pid = -1;
	snprintf(d->dir, sizeof(d->dir), "%s/pt-itest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->dir))
		goto fail;
	snprintf(d->conf, sizeof(d->conf), "%s/peertrack.conf", d->dir);
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	if (mkdir(d->state, 0700) || write_file(d->conf, conf_text))
		goto fail;

	snprintf(exe, sizeof(exe), "%s/peertrackd", bin_dir());
	snprintf(setstate, sizeof(setstate), "state_dir=%s", d->state);
	args[na++] = exe;
	args[na++] = "-c";
	args[na++] = d->conf;
	args[na++] = "--set";
	args[na++] = setstate;
	if (listen) {
		snprintf(listenarg, sizeof(listenarg), "%s", listen);
		args[na++] = "--listen";
		args[na++] = listenarg;
	}
	for (size_t i = 0; argv && argv[i] && na < sizeof(args) / sizeof(args[0]) - 1; i++)
		args[na++] = argv[i];
	args[na] = NULL;

	if (pipe2(pfd, O_CLOEXEC))
		goto fail;
	fflush(NULL);
	d->pid = fork();
	if (d->pid == 0) {
		/* Never outlive a test that crashed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 2);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		execv(exe, (char *const *)args);
		dprintf(2, "harness: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	if (d->pid < 0) {
		close(pfd[0]);
		goto fail;
	}
	d->errfd = pfd[0];
	if (pthread_create(&d->reader, NULL, read_stderr, d)) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->reaped = true;
		goto fail;
	}
	d->reader_started = true;
	d->next = daemons;
	daemons = d;
	return d;
fail:
	fprintf(stderr, "harness: cannot start %s/peertrackd: %s\n", bin_dir(), strerror(errno));
	if (d->errfd >= 0)
		close(d->errfd);
	if (d->dir[0])
		remove_tree(d->dir);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
	return NULL;
}

pt_daemon *ptd_start(const char *conf_fmt, ...)
{
	va_list ap;
	char *text = NULL;
	pt_daemon *d;
	int line;

	va_start(ap, conf_fmt);
	if (vasprintf(&text, conf_fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	PT_CHECK(text, "out of memory");
	d = ptd_spawn(text, "127.0.0.1:0", NULL);
	free(text);
	PT_CHECK(d, "cannot spawn peertrackd");
	line = ptd_wait_log(d, "listening on 127.0.0.1:", PT_T_START_MS);
	if (line >= 0) {
		pthread_mutex_lock(&d->mu);
		const char *p = strstr(d->lines[line], "listening on 127.0.0.1:");
		d->port = atoi(p + strlen("listening on 127.0.0.1:"));
		pthread_mutex_unlock(&d->mu);
	}
	PT_CHECK(line >= 0 && d->port > 0, "peertrackd did not start (no 'listening on' line)");
	return d;
}

int ptd_port(const pt_daemon *d) { return d->port; }
pid_t ptd_pid(const pt_daemon *d) { return d->pid; }
const char *ptd_conf_path(const pt_daemon *d) { return d->conf; }

void ptd_write_conf(pt_daemon *d, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL, tmp[320];

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	PT_CHECK(text, "out of memory");
	/* Replace atomically: the daemon may read it at any moment. */
	snprintf(tmp, sizeof(tmp), "%s.new", d->conf);
	int r = write_file(tmp, text);
	free(text);
	PT_CHECK(r == 0 && rename(tmp, d->conf) == 0, "cannot write %s", d->conf);
}

size_t ptd_log_count(pt_daemon *d)
{
	size_t n;

	pthread_mutex_lock(&d->mu);
	n = d->n;
	pthread_mutex_unlock(&d->mu);
	return n;
}

static int find_line(pt_daemon *d, size_t from, const char *needle, size_t *scanned)
{
	for (size_t i = *scanned > from ? *scanned : from; i < d->n; i++)
		if (d->lines[i] && strstr(d->lines[i], needle))
			return (int)i;
	*scanned = d->n;
	return -1;
}

int ptd_wait_log_from(pt_daemon *d, size_t from, const char *needle, int timeout_ms)
{
	uint64_t deadline = pt_now_ms() + (uint64_t)timeout_ms;
	size_t scanned = 0;
	int found;
	bool eof;

	for (;;) {
		pthread_mutex_lock(&d->mu);
		found = find_line(d, from, needle, &scanned);
		eof = d->eof;
		pthread_mutex_unlock(&d->mu);
		if (found >= 0 || eof)
			return found;
		uint64_t now = pt_now_ms();
		if (now >= deadline)
			return -1;
		/* The reader thread wakes the client poll on every line. */
		pt_client_service_or_wait(d, (int)(deadline - now));
	}
}

int ptd_wait_log(pt_daemon *d, const char *needle, int timeout_ms)
{
	return ptd_wait_log_from(d, 0, needle, timeout_ms);
}

bool ptd_log_has(pt_daemon *d, const char *needle)
{
	size_t scanned = 0;
	int r;

	pthread_mutex_lock(&d->mu);
	r = find_line(d, 0, needle, &scanned);
	pthread_mutex_unlock(&d->mu);
	return r >= 0;
}

size_t ptd_log_lines_with(pt_daemon *d, const char *needle)
{
	size_t n = 0;

	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->n; i++)
		n += d->lines[i] && strstr(d->lines[i], needle);
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* Used by client.c when it has no lws context to service: a plain timed
 * wait on the log's condition variable. */
void pt_daemon_cond_wait(pt_daemon *d, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	if (!d->eof)
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
	pthread_mutex_unlock(&d->mu);
}

void ptd_print_log(pt_daemon *d)
{
	pthread_mutex_lock(&d->mu);
	fprintf(stderr, "---- peertrackd (pid %d, port %d) log, %zu lines ----\n", (int)d->pid,
	        d->port, d->n);
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "    %s\n", d->lines[i] ? d->lines[i] : "(oom)");
	fprintf(stderr, "---- end of log ----\n");
	pthread_mutex_unlock(&d->mu);
}

void pt_print_all_logs(void)
{
	for (pt_daemon *d = daemons; d; d = d->next)
		ptd_print_log(d);
}

void ptd_signal(pt_daemon *d, int sig)
{
	if (!d->reaped)
		kill(d->pid, sig);
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int ptd_wait_exit(pt_daemon *d, int timeout_ms)
{
	uint64_t deadline = pt_now_ms() + (uint64_t)timeout_ms;
	int st;

	if (d->reaped)
		return d->status;
	/* stderr closes when the process ends: that is the event to wait on. */
	for (;;) {
		bool eof;

		pthread_mutex_lock(&d->mu);
		eof = d->eof;
		pthread_mutex_unlock(&d->mu);
		if (eof)
			break;
		uint64_t now = pt_now_ms();
		if (now >= deadline)
			return -1;
		pt_client_service_or_wait(d, (int)(deadline - now));
	}
	if (waitpid(d->pid, &st, 0) != d->pid)
		return -1;
	d->reaped = true;
	d->status = decode_status(st);
	return d->status;
}

void ptd_free(pt_daemon *d)
{
	if (!d)
		return;
	if (!d->reaped) {
		kill(d->pid, SIGKILL);
		int st;
		if (waitpid(d->pid, &st, 0) == d->pid)
			d->status = decode_status(st);
		d->reaped = true;
	}
	if (d->reader_started)
		pthread_join(d->reader, NULL);
	if (d->errfd >= 0)
		close(d->errfd);
	for (pt_daemon **p = &daemons; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	remove_tree(d->dir);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}

int ptd_stop(pt_daemon *d)
{
	int st;

	ptd_signal(d, SIGTERM);
	st = ptd_wait_exit(d, 10000);
	if (st != 0) {
		fprintf(stderr, "harness: peertrackd exit status %d after SIGTERM%s\n", st,
		        st < 0 ? " (still running after 10 s: killed)" : "");
		ptd_print_log(d);
	}
	ptd_free(d);
	return st;
}

void ptd_kill(pt_daemon *d)
{
	ptd_free(d);
}

long ptd_rss_kb(pt_daemon *d)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

void pt_daemons_cleanup(void)
{
	while (daemons) {
		pt_daemon *d = daemons;

		fprintf(stderr, "harness: killing peertrackd pid %d left running\n", (int)d->pid);
		ptd_print_log(d);
		ptd_free(d);
	}
}
