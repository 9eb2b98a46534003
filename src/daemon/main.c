/* main.c — peertrackd: options and where the configuration comes from;
 * the process itself is daemon.c. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peertrack/config.h"
#include "daemon.h"

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

/* Environment overrides, for containers: PEERTRACK_MAX_CONNECTIONS=...
 * Collected as overrides so each reload applies them again, between the
 * file and the command line. */
static int collect_env(pt_override *ov, int *nov)
{
	for (size_t i = 0; i < pt_config_nkeys && *nov < MAX_OVERRIDES; i++) {
		char name[96] = "PEERTRACK_";
		size_t n = strlen(name);
		const char *v;

		for (const char *k = pt_config_keys[i].name; *k && n < sizeof(name) - 1; k++)
			name[n++] = (char)toupper((unsigned char)*k);
		name[n] = 0;
		if (!(v = getenv(name)))
			continue;
		if (asprintf(&ov[*nov].kv, "%s=%s", pt_config_keys[i].name, v) < 0)
			return -1;
		ov[(*nov)++].origin = "environment";
	}
	return 0;
}

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
	pt_override ov[2 * MAX_OVERRIDES] = {0};
	char *cli[MAX_OVERRIDES] = {0};
	int nov = 0, ncli = 0, check = 0, dump = 0, opt, rc = 2;
	char err[600];
	pt_config cfg;

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
				if (asprintf(&cli[ncli++], "listen=%s", optarg) < 0)
					return 1;
			} else if (!strchr(optarg, '=')) {
				fprintf(stderr, "peertrackd: --set wants KEY=VALUE, got '%s'\n", optarg);
				goto out;
			} else if (!(cli[ncli++] = strdup(optarg))) {
				return 1;
			}
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
		goto out;
	}
	/* The environment, then the command line: each reload applies them
	 * again in this order over the re-read file. */
	if (collect_env(ov, &nov)) {
		rc = 1;
		goto out;
	}
	for (int i = 0; i < ncli; i++)
		ov[nov++] = (pt_override){ cli[i], NULL };
	if (pt_daemon_config_build(path, ov, (size_t)nov, &cfg, err, sizeof(err))) {
		fprintf(stderr, "peertrackd: %s\n", err);
		goto out;
	}
	if (dump) {
		pt_config_write_effective(stdout, &cfg, path);
		rc = fflush(stdout) ? 1 : 0;
	} else if (check) {
		printf("%s: configuration ok\n", path ? path : "(defaults)");
		rc = 0;
	} else {
		rc = pt_daemon_run(&cfg, path, ov, (size_t)nov);
	}
	pt_config_free(&cfg);
out:
	for (int i = 0; i < nov; i++)
		if (ov[i].origin)
			free(ov[i].kv);
	for (int i = 0; i < ncli; i++)
		free(cli[i]);
	return rc;
}
