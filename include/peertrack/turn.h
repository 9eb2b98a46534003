/* turn.h — what a client needs to get through NATs: the STUN and TURN
 * servers it should use, with TURN credentials in the "TURN REST API" form
 * coturn checks with use-auth-secret:
 *
 *   username   = "<expiry unix time>:<client id>"
 *   credential = base64(HMAC-SHA1(secret, username))
 *
 * coturn recomputes the credential from its static-auth-secret(s) and
 * refuses the allocation once the expiry has passed, so the daemon and
 * coturn share nothing but the secret. A secret is text (coturn's form);
 * up to PT_TURN_SECRETS may be loaded: the first signs, the others are the
 * ones being rotated out (coturn still accepts them; the daemon only counts
 * them). Secrets are never logged or printed.
 *
 * Ownership: pt_ice is a plain value owned by the caller; pt_ice_clear
 * wipes the secrets. Nothing here allocates except pt_ice_servers_json's
 * appends to the caller's pt_buf.
 */
#ifndef PEERTRACK_TURN_H
#define PEERTRACK_TURN_H

#include <stddef.h>
#include <stdint.h>
#include "peertrack/buf.h"
#include "peertrack/iceconf.h"

#define PT_TURN_SECRETS PT_SECRETS_MAX
#define PT_TURN_SECRET_MAX PT_SECRET_MAX
#define PT_TURN_CRED_CHARS 28   /* base64 of 20 bytes */
#define PT_TURN_USER_MAX 64     /* "<20 digits>:<client id>" fits */

typedef struct pt_ice {
	const char *stun_urls;  /* borrowed blank/comma lists (the config's) */
	const char *turn_urls;
	uint32_t ttl_s;         /* credential lifetime */
	unsigned n_secrets;
	size_t secret_len[PT_TURN_SECRETS];
	char secret[PT_TURN_SECRETS][PT_TURN_SECRET_MAX + 1];
} pt_ice;

/* Writes "<expiry>:<client_id>" into out. 0, or -ENOSPC. */
int pt_turn_username(char *out, size_t outlen, uint64_t expiry, const char *client_id);

/* base64(HMAC-SHA1(secret, username)) into out (PT_TURN_CRED_CHARS + NUL).
 * 0, or -EIO if OpenSSL failed. */
int pt_turn_credential(const void *secret, size_t secret_len, const char *username,
                       char out[PT_TURN_CRED_CHARS + 1]);

/* Parses secrets from text into ice (pt_secrets_split's rules). 0, or -1
 * with err set (never quoting the text) and no secret kept. */
int pt_turn_secrets_parse(pt_ice *ice, const char *text, size_t len, char *err, size_t errlen);

/* Reads secrets from path, which must be a regular file that neither its
 * group nor others may read (the daemon's alone). 0, or -1 with err. */
int pt_turn_secrets_read(pt_ice *ice, const char *path, char *err, size_t errlen);

/* Appends the RTCConfiguration.iceServers array for client_id:
 *   [{"urls":[STUN...]},{"urls":[TURN...],"username":...,"credential":...}]
 * (each entry only when it has URLs; TURN only with a secret), credentials
 * expiring at now_s + ttl_s. 0 or -ENOMEM/-EIO (b unchanged in length). */
int pt_ice_servers_json(pt_buf *b, const pt_ice *ice, const char *client_id, uint64_t now_s);

struct pt_config;
/* Fills ice from cfg's [ice] keys: the URL lists (borrowed from cfg, which
 * must outlive ice), the lifetime, and — only when TURN URLs are set, so
 * n_secrets > 0 means "TURN is offered" — the secrets, inline or read from
 * turn_secret_file. 0, or -1 with err set and ice unchanged. */
int pt_ice_configure(pt_ice *ice, const struct pt_config *cfg, char *err, size_t errlen);

/* Wipes the secrets (OPENSSL_cleanse). */
void pt_ice_clear(pt_ice *ice);

#endif
