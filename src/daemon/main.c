/* main.c — peertrackd: options, configuration, the loop. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "peertrack/config.h"
#include "peertrack/log.h"
#include "peertrack/notify.h"
#include "peertrack/server.h"

#define MAX_OVERRIDES 64

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: peertrackd [-c FILE] [--listen ADDR:PORT] [--set KEY=VALUE]...\n"
	        "       peertrackd [-c FILE] --check-config | --dump-config | --version | --help\n"
	        "\n"
	        "The signaling and tracker daemon of a browser peer-to-peer CDN (protocol v1 on /v1).\n"
	        "\n"
	        "  -c, --config FILE   read settings from FILE (INI); without it, embedded defaults\n"
	        "  -l, --listen A:P    listen address, overrides the file ('127.0.0.1:0' = any free port)\n"
	        "  -s, --set K=V       set any key, overrides the file (repeatable)\n"
	        "      --check-config  validate the configuration and exit (0 = valid)\n"
	        "      --dump-config   validate, then print the effective configuration (file,\n"
	        "                      environment and options applied) and exit\n"
	        "  -V, --version       print the version\n"
	        "  -h, --help          this text\n"
	        "\n"
	        "Environment: PEERTRACK_<KEY>=VALUE sets KEY (upper case), between the file and\n"
	        "the command line. Signals: SIGHUP reloads, SIGTERM/SIGINT stop gracefully.\n"
	        "Exit status: 0 ok, 1 runtime failure (e.g. port in use), 2 usage or config error.\n");
}

/* Environment overrides, for containers: PEERTRACK_MAX_CONNECTIONS=... */
static int apply_env(pt_config *c, char **ov, int *nov, char *err, size_t errlen)
{
	for (size_t i = 0; i < pt_config_nkeys; i++) {
		char name[96] = "PEERTRACK_";
		size_t n = strlen(name);
		const char *v;

		for (const char *k = pt_config_keys[i].name; *k && n < sizeof(name) - 1; k++)
			name[n++] = (char)toupper((unsigned char)*k);
		name[n] = 0;
		if (!(v = getenv(name)))
			continue;
		if (pt_config_set(c, pt_config_keys[i].name, v, err, errlen))
			return -1;
		if (*nov < MAX_OVERRIDES) {
			size_t l = strlen(pt_config_keys[i].name) + strlen(v) + 2;
			if ((ov[*nov] = malloc(l)))
				snprintf(ov[(*nov)++], l, "%s=%s", pt_config_keys[i].name, v);
		}
	}
	return 0;
}

/* A tracker holds one descriptor per peer: take all the kernel allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			pt_log_warn("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
	}
}

static void hook_ready(void *arg, int port) { (void)arg; pt_notify_ready(port); }
static void hook_reloading(void *arg) { (void)arg; pt_notify_reloading(); }
static void hook_reloaded(void *arg) { (void)arg; pt_notify_reloaded(); }
static void hook_stopping(void *arg) { (void)arg; pt_notify_stopping(); }
static void hook_tick(void *arg) { pt_notify_watchdog(uv_now(arg)); }

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "set", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "dump-config", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = NULL;
	char *ov[MAX_OVERRIDES + 1] = {0}, *cli[MAX_OVERRIDES] = {0};
	int nov = 0, ncli = 0, check = 0, dump = 0, opt, rc = 2;
	char err[512];
	pt_config cfg;
	uv_loop_t loop;
	pt_server *srv = NULL;

	while ((opt = getopt_long(argc, argv, "c:l:s:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'l':
		case 's':
			if (ncli == MAX_OVERRIDES) {
				fprintf(stderr, "peertrackd: too many overrides\n");
				return 2;
			}
			if (opt == 'l') {
				size_t l = strlen(optarg) + 8;
				if (!(cli[ncli] = malloc(l)))
					return 1;
				snprintf(cli[ncli++], l, "listen=%s", optarg);
			} else if (!(cli[ncli++] = strdup(optarg)))
				return 1;
			break;
		case 'C': check = 1; break;
		case 'D': dump = 1; break;
		case 'V': printf("peertrackd %s\n", PT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "peertrackd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	pt_config_defaults(&cfg);
	if (path && pt_config_load(&cfg, path, err, sizeof(err))) {
		fprintf(stderr, "peertrackd: %s\n", err);
		goto out;
	}
	if (apply_env(&cfg, ov, &nov, err, sizeof(err))) {
		fprintf(stderr, "peertrackd: environment: %s\n", err);
		goto out;
	}
	for (int i = 0; i < ncli; i++) {
		char *eq = strchr(cli[i], '=');

		if (!eq) {
			fprintf(stderr, "peertrackd: --set wants KEY=VALUE, got '%s'\n", cli[i]);
			goto out;
		}
		*eq = 0;
		if (pt_config_set(&cfg, cli[i], eq + 1, err, sizeof(err))) {
			fprintf(stderr, "peertrackd: %s\n", err);
			goto out;
		}
		*eq = '=';
		if (nov < MAX_OVERRIDES)
			ov[nov++] = cli[i], cli[i] = NULL;
	}
	if (pt_config_validate(&cfg, err, sizeof(err))) {
		fprintf(stderr, "peertrackd: %s%s%s\n", path ? path : "", path ? ": " : "", err);
		goto out;
	}
	if (dump) {
		pt_config_write_effective(stdout, &cfg, path);
		rc = fflush(stdout) ? 1 : 0;
		goto out;
	}
	if (check) {
		printf("%s: configuration ok\n", path ? path : "(defaults)");
		rc = 0;
		goto out;
	}

	rc = 1;
	pt_log_configure(cfg.log_level, cfg.log_format);
	pt_log_timestamps(cfg.log_time);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&loop)) {
		pt_log_error("cannot create the event loop");
		goto out;
	}
	{
		pt_server_hooks hooks = { hook_ready, hook_reloading, hook_reloaded, hook_stopping,
		                          hook_tick, &loop };

		srv = pt_server_new(&loop, &cfg, path, (const char *const *)ov, &hooks);
	}
	if (!srv) {
		pt_log_error("out of memory");
	} else if (pt_server_start(srv) == 0) {
		pt_log_info("peertrackd %s ready", PT_VERSION);
		uv_run(&loop, UV_RUN_DEFAULT);
		rc = 0;
	}
	pt_server_free(srv);
	/* Handles the server closed need one more turn to finish closing. */
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop))
		pt_log_warn("event loop closed with handles still open");
	if (rc == 0)
		pt_log_info("stopped");
out:
	for (int i = 0; i < nov; i++)
		free(ov[i]);
	for (int i = 0; i < ncli; i++)
		free(cli[i]);
	pt_config_free(&cfg);
	return rc;
}
