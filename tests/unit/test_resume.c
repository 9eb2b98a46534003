/* test_resume.c — resume tokens (round trip, binding to the id, constant-
 * time comparison's answers) and the parked table: deadline order, the
 * oldest first, held frames bounded in count and bytes. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "peertrack/resume.h"

static void test_token(void **state)
{
	pt_id id, id2;
	pt_resume_secret a, b, back;
	char tok[PT_RESUME_TOKEN_CHARS + 1], idtext[PT_ID_CHARS + 1];
	(void)state;

	assert_int_equal(pt_id_generate(&id), 0);
	assert_int_equal(pt_resume_secret_new(&a), 0);
	assert_int_equal(pt_resume_secret_new(&b), 0);
	assert_false(pt_resume_secret_equal(&a, &b));
	pt_resume_token_encode(&id, &a, tok);
	assert_int_equal(strlen(tok), PT_RESUME_TOKEN_CHARS);
	/* The first half is the id, in the form peers see it. */
	pt_id_encode(&id, idtext);
	assert_memory_equal(tok, idtext, PT_ID_CHARS);
	assert_int_equal(pt_resume_token_decode(tok, strlen(tok), &id2, &back), 0);
	assert_true(pt_id_equal(&id, &id2));
	assert_true(pt_resume_secret_equal(&a, &back));
	/* One changed character changes the secret. */
	tok[PT_RESUME_TOKEN_CHARS - 3] = tok[PT_RESUME_TOKEN_CHARS - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(pt_resume_token_decode(tok, strlen(tok), &id2, &back), 0);
	assert_false(pt_resume_secret_equal(&a, &back));
	/* Wrong lengths and alphabets. */
	assert_int_equal(pt_resume_token_decode(tok, PT_RESUME_TOKEN_CHARS - 1, &id2, &back), -EINVAL);
	tok[5] = '+';
	assert_int_equal(pt_resume_token_decode(tok, PT_RESUME_TOKEN_CHARS, &id2, &back), -EINVAL);
	assert_int_equal(pt_resume_token_decode("", 0, &id2, &back), -EINVAL);
}

static void test_table_order(void **state)
{
	pt_resume_table t;
	pt_parked p[4];
	(void)state;

	memset(p, 0, sizeof(p));
	pt_resume_table_init(&t);
	assert_null(pt_resume_table_oldest(&t));
	pt_resume_table_add(&t, &p[0], 100);
	pt_resume_table_add(&t, &p[1], 200);
	/* A shorter window after a reload: ordered by deadline, not arrival. */
	pt_resume_table_add(&t, &p[2], 150);
	pt_resume_table_add(&t, &p[3], 50);
	assert_int_equal(t.count, 4);
	assert_ptr_equal(pt_resume_table_oldest(&t), &p[3]);
	assert_null(pt_resume_table_expired(&t, 49));
	assert_ptr_equal(pt_resume_table_expired(&t, 50), &p[3]);
	pt_resume_table_remove(&t, &p[3]);
	assert_ptr_equal(pt_resume_table_expired(&t, 1000), &p[0]);
	pt_resume_table_remove(&t, &p[0]);
	assert_ptr_equal(pt_resume_table_oldest(&t), &p[2]);
	/* Removing from the middle keeps the links. */
	pt_resume_table_remove(&t, &p[1]);
	assert_ptr_equal(t.head, &p[2]);
	assert_ptr_equal(t.tail, &p[2]);
	pt_resume_table_remove(&t, &p[2]);
	assert_int_equal(t.count, 0);
	assert_null(t.head);
	assert_null(t.tail);
}

static void test_hold_bounds(void **state)
{
	pt_parked p;
	pt_held *h, *next;
	char frame[100];
	int n = 0;
	(void)state;

	memset(&p, 0, sizeof(p));
	memset(frame, 'x', sizeof(frame));
	/* Count bound: 3 frames. */
	for (int i = 0; i < 3; i++) {
		frame[0] = (char)('a' + i);
		assert_int_equal(pt_parked_hold(&p, frame, 10, 3, 1000), 0);
	}
	assert_int_equal(pt_parked_hold(&p, frame, 10, 3, 1000), -ENOSPC);
	assert_int_equal(p.held_count, 3);
	assert_int_equal(p.held_bytes, 30);
	/* In order, and the parked entry is empty after the take. */
	for (h = pt_parked_take_held(&p); h; h = next) {
		next = h->next;
		assert_int_equal(h->text[0], 'a' + n++);
		assert_int_equal(h->len, 10);
		free(h);
	}
	assert_int_equal(n, 3);
	assert_int_equal(p.held_count, 0);
	/* Byte bound: 100 + 100 fit in 250, a third does not; a smaller one does. */
	assert_int_equal(pt_parked_hold(&p, frame, 100, 10, 250), 0);
	assert_int_equal(pt_parked_hold(&p, frame, 100, 10, 250), 0);
	assert_int_equal(pt_parked_hold(&p, frame, 100, 10, 250), -ENOSPC);
	assert_int_equal(pt_parked_hold(&p, frame, 50, 10, 250), 0);
	assert_int_equal(p.held_bytes, 250);
	/* A frame larger than the whole bound, and zero bounds. */
	assert_int_equal(pt_parked_hold(&p, frame, 100, 10, 99), -ENOSPC);
	assert_int_equal(pt_parked_hold(&p, frame, 1, 0, 1000), -ENOSPC);
	p.hashes = malloc(2 * sizeof(pt_hash));
	p.n_hashes = 2;
	pt_parked_clear(&p); /* frees frames and hashes (the sanitizer run checks) */
	assert_null(p.held_head);
	assert_null(p.hashes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_table_order),
		cmocka_unit_test(test_hold_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
