/* jscan.h — a single-pass, allocation-free JSON scanner for the relay's
 * fast paths (fastsig.h for /v1's `signal`, wtfast.h for /announce).
 *
 * It checks JSON text as strictly as the daemon's full parse does
 * (jansson's json_loadb with JSON_REJECT_DUPLICATES, and JSON_ALLOW_NUL
 * when PT_JSCAN_ALLOW_NUL is set) without building anything: spans point
 * into the caller's buffer, which must outlive them.
 *
 * Every scanning function returns 1 when the text at the cursor is
 * certainly valid (the cursor then stands just past it) and 0 when it is
 * invalid OR merely unusual: reals and integers of more than 18 digits
 * (whose re-serialisation may differ), escaped object keys, nesting deeper
 * than PT_JSCAN_MAX_DEPTH, objects of more than PT_JSCAN_MAX_KEYS keys.
 * A 0 never means "invalid": the caller hands the frame to the full
 * parser, which has the final word and the error messages. After a 0 the
 * cursor is unspecified.
 */
#ifndef PEERTRACK_JSCAN_H
#define PEERTRACK_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#define PT_JSCAN_ALLOW_NUL 1u /* \u0000 allowed in strings (never in keys) */
#define PT_JSCAN_MAX_DEPTH 32
#define PT_JSCAN_MAX_KEYS  16 /* per object */

typedef struct pt_jscan {
	const char *p, *end; /* the cursor and the end of the text */
	unsigned flags;
} pt_jscan;

/* The keys of one object seen so far, to refuse a repeated one as the full
 * parser does. Zero it (or PT_JSCAN_KEYS_INIT) before the object's first key. */
typedef struct pt_jscan_keys {
	unsigned n;
	uint32_t len[PT_JSCAN_MAX_KEYS];
	const char *k[PT_JSCAN_MAX_KEYS];
} pt_jscan_keys;

static inline void pt_jscan_init(pt_jscan *s, const char *text, size_t len, unsigned flags)
{
	s->p = text;
	s->end = text + len;
	s->flags = flags;
}

/* Skips JSON whitespace (space, tab, CR, LF). */
void pt_jscan_ws(pt_jscan *s);

/* Whether the cursor, after whitespace, is at byte c; if so steps over it
 * and the whitespace after. */
int pt_jscan_eat(pt_jscan *s, char c);

/* A string at the cursor (on its opening quote): *start and *len give its
 * raw content between the quotes, *escaped whether it holds a backslash. */
int pt_jscan_string(pt_jscan *s, const char **start, size_t *len, int *escaped);

/* An integer of at most 18 digits at the cursor (so always inside int64). */
int pt_jscan_number(pt_jscan *s);

/* Any value at the cursor, containers included; depth is the nesting of
 * the container the value sits in (0 for the top-level value). */
int pt_jscan_value(pt_jscan *s, int depth);

/* A member's key, unescaped and not already in ks (then added), and the
 * colon after it, with the whitespace around. */
int pt_jscan_key(pt_jscan *s, pt_jscan_keys *ks, const char **k, size_t *len);

/* After a member or element (whitespace first): 1 on ',' (another
 * follows; stepped over with the whitespace after), 2 on the closing byte
 * `close` ('}' or ']'; stepped over, nothing more); 0 otherwise. */
int pt_jscan_next(pt_jscan *s, char close);

/* The value of hex digit c (either case), or -1. */
int pt_jscan_hexval(int c);

/* The value of an integer span that pt_jscan_number accepted. */
int64_t pt_jscan_int(const char *p, size_t n);

/* Whether a key k[0..len) is the literal lit. */
#define PT_JSCAN_KEY_IS(k, len, lit) \
	((len) == sizeof(lit) - 1 && !memcmp((k), (lit), sizeof(lit) - 1))

#endif
