/* main.c — peertrackctl: the operator's command line for peertrackd.
 *
 * Every command and argument comes from the admin command table
 * (admin.h): argv is turned into the request's JSON with
 * pt_admin_arg_from_text and checked with pt_admin_validate — the same
 * check the daemon runs — before anything is sent. With --db, the commands
 * that read the database (stats, history, resources, audit) run here on a
 * read-only connection, with the daemon stopped or not.
 *
 * Exit status: 0 ok, 1 the command failed (unknown peer, ...), 2 usage,
 * 3 cannot reach the daemon or the database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peertrack/admin.h"
#include "peertrack/config.h"
#include "peertrack/clock.h"
#include "ctl.h"

/* Where an installed daemon's socket is: the runtime directory the shipped
 * unit has systemd create (RuntimeDirectory=peertrack). */
#define RUNTIME_SOCKET "/run/peertrack/admin.sock"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static void usage(FILE *f)
{
	char u[256];

	fprintf(f,
	        "usage: peertrackctl [-c FILE] [--socket PATH | --db PATH] [--json] COMMAND [ARGS]\n"
	        "       peertrackctl COMMAND --help\n"
	        "\n"
	        "Talks to a running peertrackd over its admin socket, or reads its database.\n"
	        "\n"
	        "  -c, --config FILE  take admin_socket and state_dir from peertrackd's config\n"
	        "  -s, --socket PATH  the admin socket; default: admin_socket if set (config,\n"
	        "                     PEERTRACK_ADMIN_SOCKET), else the first that exists of\n"
	        "                     state_dir/admin.sock (./var) and " RUNTIME_SOCKET "\n"
	        "  -d, --db PATH      read this database directly (stats, history, resources,\n"
	        "                     audit), e.g. with the daemon stopped\n"
	        "  -j, --json         print the result as JSON, for scripts\n"
	        "  -h, --help         this text\n"
	        "\n"
	        "Commands:\n");
	for (int i = 0; i < PT_ADM__COUNT; i++) {
		pt_admin_usage(&pt_admin_cmds[i], u, sizeof(u));
		fprintf(f, "  %-46s %s\n", u, pt_admin_cmds[i].summary);
	}
	fprintf(f, "  %-46s %s\n", "manifest DIR [--prefix URL] [-o FILE]",
	        "the service worker's manifest of a static site (local)");
	fprintf(f, "\nExit status: 0 ok, 1 command failed, 2 usage, 3 daemon or database unreachable.\n");
}

static void command_help(FILE *f, const pt_admin_cmd *c)
{
	char u[256], h[256];

	pt_admin_usage(c, u, sizeof(u));
	fprintf(f, "usage: peertrackctl %s\n\n%s.\n", u, c->summary);
	if (c->help[0])
		fprintf(f, "%s\n", c->help);
	if (c->args[0].name)
		fputc('\n', f);
	for (int i = 0; i < PT_ADMIN_MAX_ARGS && c->args[i].name; i++)
		fprintf(f, "  %s%-10s %s%s\n", c->args[i].positional ? "  " : "--", c->args[i].name,
		        pt_admin_arg_help(&c->args[i], h, sizeof(h)), c->args[i].required ? " (required)" : "");
	if (c->offline)
		fprintf(f, "\nAlso works with the daemon stopped: --db PATH.\n");
}

/* Builds {"cmd":..., "args":{...}} from the words after the command. */
static int parse_args(const pt_admin_cmd *c, int argc, char **argv, json_t *args, bool *help,
                      bool *as_json)
{
	int next_pos = 0;
	char err[256];

	for (int i = 0; i < argc; i++) {
		const pt_admin_arg *a = NULL;
		const char *text;
		json_t *v;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			*help = true;
			return 0;
		}
		if (!strcmp(argv[i], "--json")) {
			*as_json = true;
			continue;
		}
		if (!strncmp(argv[i], "--", 2)) {
			const char *name = argv[i] + 2, *eq = strchr(name, '=');
			size_t nl = eq ? (size_t)(eq - name) : strlen(name);

			for (int k = 0; k < PT_ADMIN_MAX_ARGS && c->args[k].name; k++)
				if (!c->args[k].positional && strlen(c->args[k].name) == nl &&
				    !strncmp(c->args[k].name, name, nl))
					a = &c->args[k];
			if (!a) {
				fprintf(stderr, "peertrackctl %s: unknown option %s\n", c->name, argv[i]);
				return -1;
			}
			if (eq) {
				text = eq + 1;
			} else if (i + 1 < argc) {
				text = argv[++i];
			} else {
				fprintf(stderr, "peertrackctl %s: --%s needs a value\n", c->name, a->name);
				return -1;
			}
		} else {
			int seen = 0;

			for (int k = 0; k < PT_ADMIN_MAX_ARGS && c->args[k].name; k++)
				if (c->args[k].positional && seen++ == next_pos)
					a = &c->args[k];
			if (!a) {
				fprintf(stderr, "peertrackctl %s: unexpected argument '%s'\n", c->name, argv[i]);
				return -1;
			}
			next_pos++;
			text = argv[i];
		}
		if (!(v = pt_admin_arg_from_text(a, text, err, sizeof(err)))) {
			fprintf(stderr, "peertrackctl %s: %s\n", c->name, err);
			return -1;
		}
		json_object_set_new(args, a->name, v);
	}
	return 0;
}

/* The daemon's admin socket, worked out as the daemon works it out: its
 * config (-c FILE, else the embedded defaults) with PEERTRACK_ADMIN_SOCKET and
 * PEERTRACK_STATE_DIR over it (pt_config_admin_socket). An admin_socket that
 * is set is taken as it is. Otherwise the daemon is either a service (socket
 * in /run/peertrack) or run by hand (state_dir/admin.sock: ./var under `make
 * run`): the first of the two that exists. 0, or -ENOENT (neither exists)
 * or -EINVAL (bad config) with err set. */
static int find_socket(const char *conf, char *out, size_t outlen, char *err, size_t errlen)
{
	static const char *const env[][2] = {
		{ "PEERTRACK_STATE_DIR", "state_dir" }, { "PEERTRACK_ADMIN_SOCKET", "admin_socket" },
	};
	pt_config cfg;
	int rc = -EINVAL;

	pt_config_defaults(&cfg);
	if (conf && pt_config_load(&cfg, conf, err, errlen))
		goto out;
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		const char *v = getenv(env[i][0]);
		if (v && pt_config_set(&cfg, env[i][1], v, err, errlen))
			goto out;
	}
	if (pt_config_admin_socket(&cfg, out, outlen)) {
		snprintf(err, errlen, "admin socket path too long");
		goto out;
	}
	if (!cfg.admin_socket[0] && access(out, F_OK) != 0) {
		if (access(RUNTIME_SOCKET, F_OK) != 0) {
			snprintf(err, errlen, "no admin socket at %s nor at " RUNTIME_SOCKET
			         " (is peertrackd running? -c FILE, --socket PATH or "
			         "PEERTRACK_ADMIN_SOCKET name another)", out);
			rc = -ENOENT;
			goto out;
		}
		snprintf(out, outlen, "%s", RUNTIME_SOCKET);
	}
	rc = 0;
out:
	pt_config_free(&cfg);
	return rc;
}

static int exit_for(const char *code)
{
	if (!strcmp(code, "bad-args") || !strcmp(code, "bad-request") || !strcmp(code, "unknown-command"))
		return EXIT_USAGE;
	if (!strcmp(code, "unavailable"))
		return EXIT_UNREACHABLE;
	return EXIT_FAILED;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *db = NULL, *conf = NULL;
	char sockbuf[PT_CONFIG_STR + 32], err[600];
	bool as_json = false, help = false;
	const pt_admin_cmd *c;
	pt_admin_val vals[PT_ADMIN_MAX_ARGS];
	json_t *args = NULL, *req = NULL, *resp = NULL, *result = NULL;
	int i, rc = EXIT_USAGE, r;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];

		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(o, "-j") || !strcmp(o, "--json")) {
			as_json = true;
		} else if ((!strcmp(o, "-s") || !strcmp(o, "--socket")) && i + 1 < argc) {
			sock = argv[++i];
		} else if ((!strcmp(o, "-d") || !strcmp(o, "--db")) && i + 1 < argc) {
			db = argv[++i];
		} else if ((!strcmp(o, "-c") || !strcmp(o, "--config")) && i + 1 < argc) {
			conf = argv[++i];
		} else {
			fprintf(stderr, "peertrackctl: unknown option or missing value: %s\n", o);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* Not an admin command: works on local files, no daemon involved. */
	if (!strcmp(argv[i], "manifest"))
		return pt_ctl_manifest(argc - i - 1, argv + i + 1);
	if (!(c = pt_admin_cmd_find(argv[i]))) {
		fprintf(stderr, "peertrackctl: unknown command '%s' (see peertrackctl --help)\n", argv[i]);
		return EXIT_USAGE;
	}
	if (!(args = json_object()))
		return EXIT_FAILED;
	if (parse_args(c, argc - i - 1, argv + i + 1, args, &help, &as_json)) {
		command_help(stderr, c);
		goto out;
	}
	if (help) {
		command_help(stdout, c);
		rc = EXIT_OK;
		goto out;
	}
	/* The daemon's own check, before anything leaves this process. */
	if (pt_admin_validate(c, args, vals, err, sizeof(err))) {
		fprintf(stderr, "peertrackctl %s: %s\n\n", c->name, err);
		command_help(stderr, c);
		goto out;
	}

	if (db) {
		if (!c->offline) {
			fprintf(stderr, "peertrackctl: %s needs the running daemon; --db serves only "
			                "stats, history, resources and audit\n", c->name);
			goto out;
		}
		r = pt_admin_query(db, c, vals, pt_clock_wall_ms(), &result, err, sizeof(err));
		if (r) {
			fprintf(stderr, "peertrackctl: %s\n", err);
			rc = r == -ENOENT || r == -EIO || r == -EPROTO ? EXIT_UNREACHABLE : EXIT_FAILED;
			goto out;
		}
	} else {
		if (!sock) {
			if ((r = find_socket(conf, sockbuf, sizeof(sockbuf), err, sizeof(err)))) {
				fprintf(stderr, "peertrackctl: %s\n", err);
				rc = r == -ENOENT ? EXIT_UNREACHABLE : EXIT_USAGE;
				goto out;
			}
			sock = sockbuf;
		}
		req = json_pack("{ss sO}", "cmd", c->name, "args", args);
		if (!req || pt_ctl_call(sock, req, &resp, err, sizeof(err))) {
			fprintf(stderr, "peertrackctl: %s%s\n", req ? err : "out of memory",
			        c->offline ? " (stats, history, resources and audit also work with --db PATH)" : "");
			rc = EXIT_UNREACHABLE;
			goto out;
		}
		if (!json_is_true(json_object_get(resp, "ok"))) {
			json_t *e = json_object_get(resp, "error");
			const char *code = json_string_value(json_object_get(e, "code"));
			const char *msg = json_string_value(json_object_get(e, "message"));

			if (as_json) {
				char *s = json_dumps(resp, JSON_COMPACT);
				fprintf(stdout, "%s\n", s ? s : "");
				free(s);
			}
			fprintf(stderr, "peertrackctl %s: %s (%s)\n", c->name, msg ? msg : "failed",
			        code ? code : "?");
			rc = exit_for(code ? code : "");
			goto out;
		}
		result = json_incref(json_object_get(resp, "result"));
	}
	if (as_json) {
		char *s = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY);
		fprintf(stdout, "%s\n", s ? s : "null");
		free(s);
	} else {
		pt_ctl_render(stdout, c, result);
	}
	rc = EXIT_OK;
out:
	json_decref(result);
	json_decref(resp);
	json_decref(req);
	json_decref(args);
	return rc;
}
