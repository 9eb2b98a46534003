/* iceconf.h — the syntax of the [ice] settings, shared by the config
 * loader (which refuses bad values with file and line) and the TURN module
 * (which uses them): ICE server URLs and TURN shared secrets.
 *
 * Secrets are never quoted in an error. Nothing here allocates.
 */
#ifndef PEERTRACK_ICECONF_H
#define PEERTRACK_ICECONF_H

#include <stddef.h>

#define PT_SECRETS_MAX 2   /* the signing secret and the one being rotated out */
#define PT_SECRET_MAX 256  /* bytes, coturn's own limit */

/* Checks one ICE server URL (RFC 7064/7065): stun:/stuns: when turn is 0,
 * turn:/turns: when 1; host[:port], an optional ?transport=udp|tcp on TURN.
 * 0, or -1 with err set (the URL is repeated: it is not a secret). */
int pt_ice_url_check(const char *url, size_t len, int turn, char *err, size_t errlen);

/* Splits text into 1..PT_SECRETS_MAX secrets separated by blanks or line
 * breaks, each 1..PT_SECRET_MAX printable ASCII bytes, into out (NUL-
 * terminated) and out_len; *count gets how many. 0, or -1 with err set and
 * out wiped. */
int pt_secrets_split(const char *text, size_t len, char out[PT_SECRETS_MAX][PT_SECRET_MAX + 1],
                     size_t out_len[PT_SECRETS_MAX], unsigned *count, char *err, size_t errlen);

#endif
