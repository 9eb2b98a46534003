/* ice.c — each client's ice_servers, from the server's pt_ice (loaded
 * from the config at start and on every reload: turn.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net.h"

int pt__ice_render(pt_session *s)
{
	struct pt_server *srv = s->srv;
	uint64_t now_s = (uint64_t)time(NULL);

	pt_buf_reset(&srv->ice_buf);
	return pt_ice_servers_json(&srv->ice_buf, &srv->ice, s->id_str, now_s);
}
