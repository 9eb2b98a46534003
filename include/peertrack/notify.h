/* notify.h — systemd's service notification protocol (sd_notify): READY,
 * RELOADING, STOPPING and watchdog pings. Every call is a no-op when the
 * daemon was not started by systemd (no NOTIFY_SOCKET). */
#ifndef PEERTRACK_NOTIFY_H
#define PEERTRACK_NOTIFY_H

#include <stdint.h>

void pt_notify_ready(int port);
void pt_notify_reloading(void);
void pt_notify_reloaded(void);
/* The reload ended without applying anything: why, for the unit's status. */
void pt_notify_reload_failed(const char *why);
void pt_notify_stopping(void);
/* Pings the watchdog when one is configured and half its interval passed. */
void pt_notify_watchdog(uint64_t now_ms);

#endif
