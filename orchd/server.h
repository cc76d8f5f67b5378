/*
 * orchd/server — fabtel-orchd's HTTP side and its clock, on one event loop
 * (httpd/): the deployments API of seed 003 (routes below, one row each),
 * /health and /metrics; the lifecycle tick every 2 s (times the time scale),
 * which commits the due transitions (orchd/store) and then reconciles the
 * fabric (orchd/provision). Reads of telemetry and bottlenecks come from the
 * history file through orchd/fabric.
 *
 * Everything, writes included, runs on the loop's thread, so the store has
 * one writer and needs no locks; a write is answered after its commit.
 *
 * Who may call: orchd's main(): orch_server_init, h2o_evloop_run on
 * s->http.ctx.loop until a stop, orch_server_destroy. Errors: 0 or a negative
 * errno (logged).
 */
#ifndef ORCH_SERVER_H
#define ORCH_SERVER_H

#include "fabric.h"
#include "httpd.h"
#include "parse.h"
#include "provision.h"
#include "query.h"
#include "statedir.h"
#include "store.h"

typedef struct orch_config {
    const char *listen, *state_dir, *auth_token, *shm_name, *provisioner, *producer;
    size_t max_body;
    double request_timeout_s, shutdown_grace_s, time_scale, events_retain_days;
} orch_config_t;

typedef struct orch_tick_stats {
    uint64_t ticks, failed, transitions, us_total, us_max, us_last;
    int64_t last_ms; /* monotonic ms of the last tick that committed */
} orch_tick_stats_t;

typedef struct orch_server {
    orch_config_t cfg;
    ft_state_dir_t dir;
    int lock_fd;
    char path[4200];
    char bound[64];
    ft_httpd_t http;
    orch_store_t store;
    orch_fabric_t fabric;
    orch_prov_t prov;
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick;
    int64_t tick_ms, last_expiry_ms;
    orch_tick_stats_t ticks;
    uint64_t rejected[5]; /* 400, 401, 409, 413, 415 */
    ft_buf_t out;         /* answers are built here (one request at a time) */
    ft_query_t query;     /* the request's parsed query */
    orch_deployment_body_t body; /* the POST being handled (20 KiB) */
} orch_server_t;

int orch_server_init(orch_server_t *s, const orch_config_t *cfg);
/* One lifecycle tick now (the timer's work; tests and the benchmark call it directly). */
void orch_server_tick(orch_server_t *s);
void orch_server_destroy(orch_server_t *s);

#endif
