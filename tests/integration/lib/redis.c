/* redis.c — a real redis-server as a child process of a test: on a free
 * 127.0.0.1 port, with a password, no persistence, in a fresh temp dir;
 * killed with the test (PR_SET_PDEATHSIG) and by pt_harness_cleanup. */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <hiredis/hiredis.h>

#include "integration/lib/harness.h"
#include "integration/lib/internal.h"

struct pt_redis {
	pt_redis *next;
	pid_t pid;
	int port;
	char password[64];
	char dir[256];
	char pwfile[300];
};

static pt_redis *redises;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) && !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t spawn(pt_redis *r)
{
	char port[16], log[320];
	pid_t pid;

	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(log, sizeof(log), "%s/redis.log", r->dir);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port,
		       "--requirepass", r->password, "--save", "", "--appendonly", "no", "--dir", r->dir,
		       "--logfile", log, "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Bounded: the server answers PING (with AUTH) within 10 s. */
static bool wait_ready(pt_redis *r)
{
	uint64_t t0 = pt_now_ms();

	while (pt_now_ms() - t0 < 10000) {
		redisReply *rep = pt_redis_cmd(r, "PING");
		bool ok = rep && rep->type == REDIS_REPLY_STATUS;

		freeReplyObject(rep);
		if (ok)
			return true;
		usleep(20000);
	}
	return false;
}

static pt_redis *start(const char *password)
{
	pt_redis *r = calloc(1, sizeof(*r));
	FILE *f;

	PT_CHECK(r, "out of memory");
	snprintf(r->dir, sizeof(r->dir), "/tmp/pt-redis-XXXXXX");
	PT_CHECK(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
	snprintf(r->password, sizeof(r->password), "%s", password);
	snprintf(r->pwfile, sizeof(r->pwfile), "%s/password", r->dir);
	f = fopen(r->pwfile, "w");
	PT_CHECK(f, "cannot write %s", r->pwfile);
	fprintf(f, "%s\n", r->password);
	fclose(f);
	chmod(r->pwfile, 0600);
	r->port = free_port();
	PT_CHECK(r->port > 0, "no free port");
	r->pid = spawn(r);
	PT_CHECK(r->pid > 0, "cannot fork");
	r->next = redises;
	redises = r;
	PT_CHECK(wait_ready(r), "redis-server did not come up on 127.0.0.1:%d", r->port);
	return r;
}

pt_redis *pt_redis_start(void)
{
	char pw[64];

	snprintf(pw, sizeof(pw), "pw-%d-%ld", getpid(), (long)pt_now_ms());
	return start(pw);
}

pt_redis *pt_redis_start_like(const pt_redis *like)
{
	return start(like->password);
}

int pt_redis_port(const pt_redis *r)
{
	return r->port;
}

const char *pt_redis_password_file(const pt_redis *r)
{
	return r->pwfile;
}

void pt_redis_stop(pt_redis *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
}

void pt_redis_restart(pt_redis *r)
{
	pt_redis_stop(r);
	r->pid = spawn(r);
	PT_CHECK(r->pid > 0 && wait_ready(r), "redis-server did not come back on port %d", r->port);
}

redisReply *pt_redis_cmd(pt_redis *r, const char *fmt, ...)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
	redisReply *rep = NULL, *a;
	va_list ap;

	if (!c || c->err) {
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	a = redisCommand(c, "AUTH %s", r->password);
	if (a && a->type != REDIS_REPLY_ERROR) {
		va_start(ap, fmt);
		rep = redisvCommand(c, fmt, ap);
		va_end(ap);
	}
	freeReplyObject(a);
	redisFree(c);
	return rep;
}

void pt_redises_cleanup(void)
{
	while (redises) {
		pt_redis *r = redises;
		char cmd[300];

		redises = r->next;
		pt_redis_stop(r);
		unlink(r->pwfile);
		snprintf(cmd, sizeof(cmd), "%s/redis.log", r->dir);
		unlink(cmd);
		rmdir(r->dir);
		free(r);
	}
}
