/* fuzz_admin.c — the admin socket's request decoding on arbitrary bytes:
 * each line, as the daemon's handle_line takes it (src/admin/admin.c),
 * goes through JSON, pt_admin_cmd_find and pt_admin_validate; an accepted
 * request has every required argument set and each within its type's
 * bounds. Each line is also given, as command-line text, to every argument
 * of the command (pt_admin_arg_from_text, what peertrackctl does with argv)
 * and validated the same way. Errors must say something.
 *
 * Replay:   build/tests/fuzz/fuzz_admin tests/fuzz/corpus/admin
 * libFuzzer: make fuzz && build/libfuzzer/fuzz_admin CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "check.h"
#include "peertrack/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void check_valid(const pt_admin_cmd *c, const json_t *args)
{
	pt_admin_val v[PT_ADMIN_MAX_ARGS];
	char err[256];

	err[0] = '\0';
	if (pt_admin_validate(c, args, v, err, sizeof(err)) != 0) {
		CHECK(err[0] && strlen(err) < sizeof(err));
		return;
	}
	for (size_t i = 0; i < PT_ADMIN_MAX_ARGS && c->args[i].name; i++) {
		const pt_admin_arg *a = &c->args[i];
		CHECK(!a->required || v[i].set);
		if (!v[i].set)
			continue;
		CHECK(a->type == PT_ARG_UINT || v[i].s); /* UINT from a JSON integer has no text */
		if (a->type == PT_ARG_UINT)
			CHECK(v[i].u >= 1 && v[i].u <= a->max);
		if (a->type == PT_ARG_STRING)
			CHECK(strlen(v[i].s) <= 200);
		CHECK(pt_admin_get(c, v, a->name) == &v[i]);
	}
}

static void one_line(const char *line, size_t len)
{
	json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *name = json_string_value(json_object_get(j, "cmd"));
	const pt_admin_cmd *c;
	char usage[512];

	if (json_is_object(j) && name && (c = pt_admin_cmd_find(name))) {
		CHECK(strcmp(c->name, name) == 0);
		check_valid(c, json_object_get(j, "args"));
	}
	json_decref(j);

	/* peertrackctl's side: the line as the text of each argument. */
	char *text = strndup(line, len);
	CHECK(text);
	for (size_t k = 0; k < PT_ADM__COUNT; k++) {
		c = &pt_admin_cmds[k];
		pt_admin_usage(c, usage, sizeof(usage));
		CHECK(strlen(usage) < sizeof(usage));
		for (size_t i = 0; i < PT_ADMIN_MAX_ARGS && c->args[i].name; i++) {
			char err[256] = "";
			json_t *v = pt_admin_arg_from_text(&c->args[i], text, err, sizeof(err));
			if (!v) {
				CHECK(err[0]);
				continue;
			}
			json_t *args = json_object();
			CHECK(args && json_object_set_new(args, c->args[i].name, v) == 0);
			check_valid(c, args);
			json_decref(args);
		}
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	/* Lines as the socket splits them: at '\n', at most PT_ADMIN_MAX_LINE. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (nl ? nl : end) - p;
		if (len <= PT_ADMIN_MAX_LINE)
			one_line(p, len);
		p += len + (nl != NULL);
	}
	return 0;
}
