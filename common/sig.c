#include "sig.h"

#include <string.h>

static ft_sigflags_t *installed; /* signals are process-wide: the handlers' one pointer */

static void on_stop(int sig)
{
    (void)sig;
    installed->stop = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    installed->reopen = 1;
}

void ft_signals_install(ft_sigflags_t *flags)
{
    installed = flags;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
