/* addr.h — IP addresses and CIDR ranges, family-tagged, for client
 * addresses, trusted proxies, bans and proximity. IPv4-mapped IPv6
 * (::ffff:a.b.c.d) is folded to IPv4 on parse, so a client has one spelling. */
#ifndef PEERTRACK_ADDR_H
#define PEERTRACK_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PT_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

typedef struct pt_addr {
	uint8_t family; /* 4 or 6; 0 = unknown/unset */
	uint8_t b[16];  /* v4 in b[0..3] */
} pt_addr;

typedef struct pt_cidr {
	pt_addr net;    /* host bits cleared */
	uint8_t prefix; /* 0..32 or 0..128 */
} pt_cidr;

/* Parses a textual v4 or v6 address (no brackets, no port). Leading and
 * trailing blanks are not accepted. 0 or -EINVAL. */
int pt_addr_parse(const char *s, size_t len, pt_addr *out);
void pt_addr_format(const pt_addr *a, char out[PT_ADDR_STRLEN]);
bool pt_addr_equal(const pt_addr *a, const pt_addr *b);
uint32_t pt_addr_hash(const pt_addr *a, uint64_t seed);

/* "a.b.c.d/n", "v6/n" or a bare address (= /32 or /128). Host bits set
 * below the prefix are an error (-EINVAL): "10.0.0.1/8" is a typo. */
int pt_cidr_parse(const char *s, size_t len, pt_cidr *out);
bool pt_cidr_contains(const pt_cidr *c, const pt_addr *a);
void pt_cidr_format(const pt_cidr *c, char out[PT_ADDR_STRLEN + 4]);

/* A list of CIDRs parsed from "a, b c" (comma and/or blank separated).
 * pt_cidr_list_parse returns 0, -EINVAL (err_at points at the bad token,
 * err_len its length) or -ENOMEM. The list owns its array. */
typedef struct pt_cidr_list {
	pt_cidr *v;
	size_t n;
} pt_cidr_list;

int pt_cidr_list_parse(const char *s, pt_cidr_list *out, const char **err_at, size_t *err_len);
bool pt_cidr_list_contains(const pt_cidr_list *l, const pt_addr *a);
void pt_cidr_list_free(pt_cidr_list *l);

/* Network proximity of two addresses, smaller is closer:
 *   0 same address (same NAT or host), 1 same /24 (v4) or /48 (v6),
 *   2 same /16 (v4) or /32 (v6), 3 anything else, or different families. */
unsigned pt_addr_proximity(const pt_addr *a, const pt_addr *b);

#endif
