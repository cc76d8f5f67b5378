/*
 * flowd/server — fabtel-flowd's HTTP side: POST /flows (parsed, guarded,
 * handed to the writer; answered when its transaction has committed), GET
 * /flows?hour=N, GET /flows/hours, /health and /metrics, on one event loop
 * (httpd/). Reads use a connection of their own and see every committed
 * batch (read your writes).
 *
 * Who may call: flowd's main(): flow_server_init, then h2o_evloop_run on
 * s->http.ctx.loop until a stop, then flow_server_destroy. One thread (plus
 * the writer's). Errors: 0 or a negative errno (logged).
 */
#ifndef FLOW_SERVER_H
#define FLOW_SERVER_H

#include "httpd.h"
#include "statedir.h"
#include "store.h"
#include "writer.h"

typedef struct flow_config {
    const char *listen, *state_dir, *auth_token;
    const char *store; /* "" or "sqlite": flows.sqlite in state_dir; a postgresql:// URL: that database */
    size_t max_body, max_batch;
    uint64_t max_store_bytes;
    double retain_hours, request_timeout_s, shutdown_grace_s;
} flow_config_t;

typedef struct flow_server {
    flow_config_t cfg;
    ft_state_dir_t dir;
    int lock_fd;
    char path[4200];
    char bound[64];
    ft_httpd_t http;
    flow_store_t reader;
    flow_writer_t writer;
    h2o_multithread_receiver_t done_receiver; /* the writer's answers, back on the loop */
    struct flow_hour_cache {
        int64_t hour;
        uint64_t version; /* the writer's version the answer was read at; 0: empty */
        ft_buf_t body;
    } cache[16]; /* unfiltered GET /flows?hour=N answers, valid until the next commit */
    unsigned cache_next;
    uint64_t rejected[6]; /* by cause: 400, 401, 409, 413, 415, 422 */
} flow_server_t;

int flow_server_init(flow_server_t *s, const flow_config_t *cfg);
void flow_server_destroy(flow_server_t *s);

#endif
