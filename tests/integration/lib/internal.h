/* internal.h — glue between the harness parts (not for tests). */
#ifndef PT_ITEST_INTERNAL_H
#define PT_ITEST_INTERNAL_H

#include "integration/lib/harness.h"

/* client.c: wakes the client poll from the log reader thread. */
void pt_client_wake(void);
/* client.c: services the clients for up to ms, or, without any client,
 * waits on d's log for up to ms. Returns early on activity. */
void pt_client_service_or_wait(pt_daemon *d, int ms);
void pt_clients_cleanup(void);
/* client.c: true while some WebSocket client exists. */
bool pt_client_active(void);
/* daemon.c */
void pt_daemon_cond_wait(pt_daemon *d, int ms);
void pt_print_all_logs(void);
void pt_daemons_cleanup(void);
/* redis.c */
void pt_redises_cleanup(void);
/* raw.c */
void pt_raws_cleanup(void);

#endif
