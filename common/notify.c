#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "util.h"

void ft_notify_init(ft_notify_t *n)
{
    uint64_t usec = 0;
    n->ready = 0;
    n->last_ping_ns = 0;
    n->watchdog_ns = sd_watchdog_enabled(0, &usec) > 0 ? usec * 1000 : 0;
}

void ft_notify_ready(ft_notify_t *n, const char *status)
{
    if (n->ready)
        return;
    n->ready = 1;
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void ft_notify_status(ft_notify_t *n, const char *fmt, ...)
{
    (void)n;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    sd_notifyf(0, "STATUS=%s", line);
}

void ft_notify_tick(ft_notify_t *n)
{
    if (n->watchdog_ns == 0)
        return;
    uint64_t now = ft_mono_ns();
    if (now - n->last_ping_ns >= n->watchdog_ns / 2) {
        sd_notify(0, "WATCHDOG=1");
        n->last_ping_ns = now;
    }
}

void ft_notify_stopping(ft_notify_t *n)
{
    (void)n;
    sd_notify(0, "STOPPING=1");
}

int ft_notify_max_wait_ms(const ft_notify_t *n)
{
    if (n->watchdog_ns == 0 || n->watchdog_ns / 4000000 >= 1000)
        return 1000;
    return n->watchdog_ns / 4000000 > 0 ? (int)(n->watchdog_ns / 4000000) : 1;
}
