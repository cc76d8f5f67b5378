/*
 * apid/master — the apid master process: opens one SO_REUSEPORT listening
 * socket per worker (so the kernel balances connections evenly, and a
 * respawned worker inherits its socket with whatever connections queued on
 * it), creates the API stats segment, forks the workers, restarts any that
 * dies, and stops them all on request.
 *
 * Who may call: apid's main(), once. Returns the process exit code.
 */
#ifndef API_MASTER_H
#define API_MASTER_H

#include <signal.h>

#include "api.h"

typedef struct api_master_config {
    const char *listen;
    unsigned workers;
    api_config_t api;
    double shutdown_grace_s;
    double request_timeout_s;
} api_master_config_t;

int api_master_run(const api_master_config_t *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reopen);

#endif
