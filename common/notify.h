/*
 * common/notify — the systemd notify protocol (Type=notify), through
 * libsystemd's sd_notify. Without systemd (no NOTIFY_SOCKET) every call is
 * a cheap no-op, so the daemons run unchanged anywhere.
 *
 * READY=1 is sent once, when the daemon really serves; STATUS= lines say
 * what it is doing; WATCHDOG=1 pings are sent from the event loop at half
 * the interval systemd asks for (WatchdogSec=), so a stuck loop is noticed.
 *
 * Who may call: a daemon's main thread. Errors are ignored (as sd_notify's
 * contract suggests): a lost notification never stops a daemon.
 */
#ifndef FT_NOTIFY_H
#define FT_NOTIFY_H

#include <stdint.h>

typedef struct ft_notify {
    uint64_t watchdog_ns; /* 0 when systemd asked for no watchdog */
    uint64_t last_ping_ns;
    int ready;
} ft_notify_t;

void ft_notify_init(ft_notify_t *n);
void ft_notify_ready(ft_notify_t *n, const char *status);
void ft_notify_status(ft_notify_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Call from the event loop as often as convenient; pings when half the watchdog interval has passed. */
void ft_notify_tick(ft_notify_t *n);
void ft_notify_stopping(ft_notify_t *n);
/* How long an event loop may sleep and still ping in time (and see a stop request within a second). */
int ft_notify_max_wait_ms(const ft_notify_t *n);

#endif
