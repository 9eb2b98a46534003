/* ice.c — the daemon's ice_servers, as webrtcbin takes them.
 *
 * welcome.ice_servers is RTCConfiguration.iceServers: [{urls, username?,
 * credential?}]. webrtcbin wants one stun://host:port and any number of
 * turn(s)://user:pass@host:port[?transport=...]; the user and password
 * travel inside a URI, so they are percent-encoded (a TURN REST username is
 * "<expiry>:<id>", and base64 has '+', '/' and '='). */
#include <string.h>
#include "peer.h"

void pt_peer_clear_ice(pt_peer *p)
{
	g_free(p->ice_stun);
	g_strfreev(p->ice_turn);
	p->ice_stun = NULL;
	p->ice_turn = NULL;
	p->ice.stun = NULL;
	p->ice.turn = NULL;
}

static char *turn_uri(const char *url, const char *user, const char *cred)
{
	bool tls = g_str_has_prefix(url, "turns:");
	const char *rest = url + (tls ? 6 : 5);
	char *u = g_uri_escape_string(user, NULL, FALSE);
	char *c = g_uri_escape_string(cred, NULL, FALSE);
	char *out = g_strdup_printf("%s://%s:%s@%s", tls ? "turns" : "turn", u, c, rest);

	g_free(u);
	g_free(c);
	return out;
}

void pt_peer_set_ice(pt_peer *p, json_t *servers)
{
	GPtrArray *turn = g_ptr_array_new();
	size_t i, j;
	json_t *srv, *url;

	pt_peer_clear_ice(p);
	json_array_foreach(servers, i, srv) {
		const char *user = json_string_value(json_object_get(srv, "username"));
		const char *cred = json_string_value(json_object_get(srv, "credential"));
		json_t *urls = json_object_get(srv, "urls");

		json_array_foreach(urls, j, url) {
			const char *u = json_string_value(url);

			if (!u)
				continue;
			if (g_str_has_prefix(u, "stun:") && !p->ice_stun)
				p->ice_stun = g_strdup_printf("stun://%s", u + 5);
			else if ((g_str_has_prefix(u, "turn:") || g_str_has_prefix(u, "turns:")) && user && cred)
				g_ptr_array_add(turn, turn_uri(u, user, cred));
			/* stuns: has no webrtcbin form; skipped */
		}
	}
	g_ptr_array_add(turn, NULL);
	p->ice_turn = (char **)g_ptr_array_free(turn, FALSE);
	p->ice.stun = p->ice_stun;
	p->ice.turn = (const char *const *)p->ice_turn;
	p->ice.relay_only = p->relay_only;
	if (p->verbose)
		pt_peer_note(p, "ICE: %s, %u TURN server(s)%s", p->ice_stun ? p->ice_stun : "no STUN",
		             g_strv_length(p->ice_turn), p->relay_only ? ", relay only" : "");
}
