/*
 * common/sig — the signals every fabtel daemon handles, the same way.
 *
 * SIGTERM and SIGINT set `stop`, SIGHUP sets `reopen` (logrotate), SIGPIPE is
 * ignored. Handlers only set a volatile sig_atomic_t flag; the main loop
 * reads the flags. Installed without SA_RESTART, so a blocking wait in the
 * event loop returns at once.
 *
 * Who may call: main(), once. The flags struct must outlive the process's
 * loop (signals are process-wide, so the handlers keep a pointer to it).
 */
#ifndef FT_SIG_H
#define FT_SIG_H

#include <signal.h>

typedef struct ft_sigflags {
    volatile sig_atomic_t stop, reopen;
} ft_sigflags_t;

void ft_signals_install(ft_sigflags_t *flags);

#endif
