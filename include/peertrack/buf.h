/* buf.h — pt_buf, the project's growable text buffer.
 *
 * A pt_buf keeps `head` spare bytes in front of the text (a WebSocket
 * front-end sets it to LWS_PRE), so a frame built in it goes to the socket
 * without another copy. The text is always NUL-terminated after len. The
 * buffer owns its memory; pt_buf_free releases it. Appends return 0 or
 * -ENOMEM (the buffer is then unchanged in length). Not thread-safe: one
 * owner at a time.
 */
#ifndef PEERTRACK_BUF_H
#define PEERTRACK_BUF_H

#include <stddef.h>

typedef struct pt_buf {
	char *p;     /* allocation; text starts at p + head */
	size_t head; /* spare bytes reserved in front */
	size_t len;  /* text length, excluding head */
	size_t cap;  /* allocated bytes, including head */
} pt_buf;

void pt_buf_init(pt_buf *b, size_t head);
void pt_buf_reset(pt_buf *b); /* len = 0, keeps memory */
void pt_buf_free(pt_buf *b);
static inline char *pt_buf_text(const pt_buf *b) { return b->p + b->head; }
int pt_buf_append(pt_buf *b, const void *data, size_t len);
int pt_buf_printf(pt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, escaping as needed;
 * bytes that are not UTF-8 become U+FFFD, so the output is valid JSON. */
int pt_buf_json_string(pt_buf *b, const char *s, size_t len);

#endif
