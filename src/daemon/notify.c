/* notify.c — systemd notification through libsystemd's sd_notify. */
#include <stdbool.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "peertrack/notify.h"

void pt_notify_ready(int port)
{
	sd_notifyf(0, "READY=1\nSTATUS=listening on port %d", port);
}

void pt_notify_reloading(void)
{
	struct timespec ts;

	/* MONOTONIC_USEC lets systemd >= 253 pair this with Type=notify-reload;
	 * older ones ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	           (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}

void pt_notify_reloaded(void)
{
	sd_notify(0, "READY=1");
}

void pt_notify_reload_failed(const char *why)
{
	/* The reload is over either way (READY=1 ends it); the status line
	 * says it was refused, for `systemctl status`. */
	sd_notifyf(0, "READY=1\nSTATUS=reload refused, running the previous configuration: %s", why);
}

void pt_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void pt_notify_watchdog(uint64_t now_ms)
{
	/* The interval cannot change while we run; ask systemd once. These two
	 * statics are a cache of the environment, not state. */
	static int checked;
	static uint64_t every_ms, last_ms;
	uint64_t usec;

	if (!checked) {
		checked = 1;
		if (sd_watchdog_enabled(0, &usec) > 0)
			every_ms = usec / 2000; /* ping at half the interval */
	}
	if (!every_ms || (last_ms && now_ms - last_ms < every_ms))
		return;
	last_ms = now_ms;
	sd_notify(0, "WATCHDOG=1");
}
