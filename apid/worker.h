/*
 * apid/worker — one HTTP worker process: libh2o on its own listening socket,
 * answering through apid/api. It maps the data segment read-only, writes
 * only its own slot of the API stats segment, and exits when asked (SIGTERM)
 * or when its master is gone.
 *
 * Who may call: the apid master, in a freshly forked child. Returns the
 * process exit code.
 */
#ifndef API_WORKER_H
#define API_WORKER_H

#include <signal.h>
#include <sys/types.h>

#include "api.h"

typedef struct api_worker_config {
    int listen_fd;
    unsigned index;
    pid_t master;
    api_config_t api;
    const ft_api_stats_header_t *stats_hdr;
    ft_api_worker_stats_t *stats;
    double shutdown_grace_s;  /* how long a stop lets answers in flight finish */
    double request_timeout_s; /* a request not read whole by then (or a keep-alive idle that long): closed */
} api_worker_config_t;

int api_worker_run(const api_worker_config_t *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reopen);

#endif
