/* id.h — client ids: 18 random bytes, shown as 24 base64url characters.
 *
 * The length is fixed on purpose: peers put the id in a fixed binary header
 * on data-channel chunks (docs/PROTOCOL.md, "peer wire"). Ids are decoded
 * once at the edge; everything inside works on struct pt_id.
 */
#ifndef PEERTRACK_ID_H
#define PEERTRACK_ID_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PT_ID_BYTES 18
#define PT_ID_CHARS 24 /* base64url, no padding: 18 * 4 / 3 */

typedef struct pt_id {
	uint8_t b[PT_ID_BYTES];
} pt_id;

/* Fills *id from OpenSSL's CSPRNG. 0, or -EIO if the CSPRNG failed. */
int pt_id_generate(pt_id *id);

/* Writes exactly PT_ID_CHARS characters plus a NUL into out. */
void pt_id_encode(const pt_id *id, char out[PT_ID_CHARS + 1]);

/* Decodes exactly PT_ID_CHARS base64url characters (no padding, len must be
 * PT_ID_CHARS). 0, or -EINVAL for any other length or character. */
int pt_id_decode(const char *s, size_t len, pt_id *id);

bool pt_id_equal(const pt_id *a, const pt_id *b);

/* A well-mixed 32-bit hash of the id, for hash tables. The id is random, so
 * its first bytes would do; this stays correct if that ever changes. */
uint32_t pt_id_hash(const pt_id *id);

/* Node tags (cluster mode, docs/DESIGN.md "Cluster"): the first 12 bits of
 * an id, i.e. its first 2 characters, name the node that assigned it; the
 * other 132 bits stay random. A tag is 0..PT_ID_TAG_MAX. */
#define PT_ID_TAG_MAX 4095
unsigned pt_id_tag(const pt_id *id);
void pt_id_set_tag(pt_id *id, unsigned tag);
/* The tag's 2 characters (plus NUL); parse: 0..4095, or -EINVAL. */
void pt_id_tag_format(unsigned tag, char out[3]);
int pt_id_tag_parse(const char *s, size_t len);

#endif
