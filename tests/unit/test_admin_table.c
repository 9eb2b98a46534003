/* test_admin_table.c — the admin command table as the one source of the
 * commands' defaults: every default parses as typed input would, an unset
 * argument reads as its default (and stays unset), a given one wins, and
 * the help line shows the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/admin.h"

static void test_defaults_parse(void **state)
{
	(void)state;
	for (int i = 0; i < PT_ADM__COUNT; i++) {
		const pt_admin_cmd *c = &pt_admin_cmds[i];

		for (int k = 0; k < PT_ADMIN_MAX_ARGS && c->args[k].name; k++) {
			const pt_admin_arg *a = &c->args[k];
			char err[256];
			json_t *j;

			if (!a->def)
				continue;
			assert_false(a->required);
			j = pt_admin_arg_from_text(a, a->def, err, sizeof(err));
			assert_non_null(j);
			json_t *args = json_pack("{sO}", a->name, j);
			pt_admin_val v[PT_ADMIN_MAX_ARGS];
			/* Required arguments (who-has's hash) are not the point here. */
			for (int r = 0; r < PT_ADMIN_MAX_ARGS && c->args[r].name; r++)
				if (c->args[r].required)
					json_object_set_new(args, c->args[r].name, json_string(
						c->args[r].type == PT_ARG_HASH ?
						"0000000000000000000000000000000000000000000000000000000000000000" :
						c->args[r].type == PT_ARG_ID ? "AAAAAAAAAAAAAAAAAAAAAAAA" : "10.0.0.0/8"));
			if (pt_admin_validate(c, args, v, err, sizeof(err)))
				fail_msg("%s %s=%s: %s", c->name, a->name, a->def, err);
			json_decref(args);
			json_decref(j);
		}
	}
}

static void test_unset_reads_default(void **state)
{
	const pt_admin_cmd *stats = pt_admin_cmd_find("stats"), *peers = pt_admin_cmd_find("peers");
	pt_admin_val v[PT_ADMIN_MAX_ARGS];
	char err[256];
	json_t *args;
	(void)state;

	assert_int_equal(pt_admin_validate(stats, NULL, v, err, sizeof(err)), 0);
	assert_false(pt_admin_get(stats, v, "since")->set);
	assert_int_equal(pt_admin_get(stats, v, "since")->u, 24ull * 3600 * 1000);
	assert_int_equal(pt_admin_get(stats, v, "points")->u, 24);

	args = json_pack("{si}", "limit", 7);
	assert_int_equal(pt_admin_validate(peers, args, v, err, sizeof(err)), 0);
	assert_true(pt_admin_get(peers, v, "limit")->set);
	assert_int_equal(pt_admin_get(peers, v, "limit")->u, 7);
	json_decref(args);

	/* No default: unset reads as zero. */
	const pt_admin_cmd *ban = pt_admin_cmd_find("ban");
	args = json_pack("{ss}", "cidr", "10.0.0.0/8");
	assert_int_equal(pt_admin_validate(ban, args, v, err, sizeof(err)), 0);
	assert_int_equal(pt_admin_get(ban, v, "for")->u, 0);
	json_decref(args);
}

static void test_help_shows_default(void **state)
{
	const pt_admin_cmd *h = pt_admin_cmd_find("history");
	char buf[256];
	(void)state;

	assert_string_equal(pt_admin_arg_help(&h->args[1], buf, sizeof(buf)),
	                    "at most this many (default 50)");
	assert_string_equal(pt_admin_arg_help(&h->args[0], buf, sizeof(buf)), "window (default 24h)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_parse),
		cmocka_unit_test(test_unset_reads_default),
		cmocka_unit_test(test_help_shows_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
