/* resume.c — resume tokens and the table of parked peers (see resume.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "peertrack/resume.h"

int pt_resume_secret_new(pt_resume_secret *s)
{
	return RAND_bytes(s->b, sizeof(s->b)) == 1 ? 0 : -EIO;
}

bool pt_resume_secret_equal(const pt_resume_secret *a, const pt_resume_secret *b)
{
	return CRYPTO_memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

void pt_resume_token_encode(const pt_id *id, const pt_resume_secret *s,
                            char out[PT_RESUME_TOKEN_CHARS + 1])
{
	pt_id sec;

	memcpy(sec.b, s->b, sizeof(sec.b));
	pt_id_encode(id, out);
	pt_id_encode(&sec, out + PT_ID_CHARS);
	OPENSSL_cleanse(&sec, sizeof(sec));
}

int pt_resume_token_decode(const char *text, size_t len, pt_id *id, pt_resume_secret *s)
{
	pt_id sec;

	if (len != PT_RESUME_TOKEN_CHARS || pt_id_decode(text, PT_ID_CHARS, id) ||
	    pt_id_decode(text + PT_ID_CHARS, PT_ID_CHARS, &sec))
		return -EINVAL;
	memcpy(s->b, sec.b, sizeof(s->b));
	return 0;
}

void pt_resume_table_init(pt_resume_table *t)
{
	memset(t, 0, sizeof(*t));
}

void pt_resume_table_add(pt_resume_table *t, pt_parked *p, uint64_t deadline_ms)
{
	pt_parked *after = t->tail;

	/* Deadlines almost always grow (one window for all); a reloaded,
	 * shorter window walks back a little. */
	while (after && after->deadline_ms > deadline_ms)
		after = after->prev;
	p->deadline_ms = deadline_ms;
	p->prev = after;
	p->next = after ? after->next : t->head;
	if (p->next)
		p->next->prev = p;
	else
		t->tail = p;
	if (after)
		after->next = p;
	else
		t->head = p;
	t->count++;
}

void pt_resume_table_remove(pt_resume_table *t, pt_parked *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		t->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		t->tail = p->prev;
	p->prev = p->next = NULL;
	t->count--;
}

pt_parked *pt_resume_table_expired(const pt_resume_table *t, uint64_t now_ms)
{
	return t->head && t->head->deadline_ms <= now_ms ? t->head : NULL;
}

int pt_parked_hold(pt_parked *p, const char *text, size_t len, uint32_t max_count,
                   uint32_t max_bytes)
{
	pt_held *h;

	if (p->held_count >= max_count || len > max_bytes || p->held_bytes > max_bytes - len)
		return -ENOSPC;
	if (!(h = malloc(sizeof(*h) + len)))
		return -ENOMEM;
	h->next = NULL;
	h->len = (uint32_t)len;
	memcpy(h->text, text, len);
	if (p->held_tail)
		p->held_tail->next = h;
	else
		p->held_head = h;
	p->held_tail = h;
	p->held_count++;
	p->held_bytes += (uint32_t)len;
	return 0;
}

pt_held *pt_parked_take_held(pt_parked *p)
{
	pt_held *h = p->held_head;

	p->held_head = p->held_tail = NULL;
	p->held_count = p->held_bytes = 0;
	return h;
}

void pt_parked_clear(pt_parked *p)
{
	pt_held *h = pt_parked_take_held(p), *next;

	for (; h; h = next) {
		next = h->next;
		free(h);
	}
	free(p->hashes);
	p->hashes = NULL;
	p->n_hashes = 0;
}
