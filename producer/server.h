/*
 * producer/server — serves the simulated fabric as one CSV matrix over HTTP.
 *
 * GET /counters (or /counters/) answers the current snapshot as text/csv
 * with a strong ETag naming its generation. If-None-Match with the current
 * ETag answers 304, or, with ?wait=S, holds the request until the next
 * snapshot (304 after S seconds). Snapshots are rendered off to the side and
 * swapped in; a response in flight holds a reference to the snapshot it
 * started with, so it always carries one whole snapshot.
 *
 * The control API (orchd's provisioner): PUT /switches/NAME with
 * {"node_id": N} adds a node to the fabric (201; 200 when it was there, with
 * its node_id updated), DELETE /switches/NAME removes it (204, 404), GET
 * /switches lists the nodes with an ETag that changes with them. A change
 * shows in the next snapshot.
 *
 * Shards: ?num_shards=N&shard=I (UFM Telemetry's parameters) serves the
 * header and the rows whose switch hashes to shard I (ft_shard_of: the
 * switch name; UFM's rows by node GUID), with an ETag naming the shard.
 *
 * UFM mode (--format ufm): the fabric as NVIDIA UFM Telemetry serves it
 * (producer/sim.h), GET /csv/metrics (a row per port) and /csv/xcset/NAME or
 * /csv/cset/NAME (the low-frequency set, spelled Node_GUID/Port_Number), with
 * the same ETags, long poll and faults; /counters is not served then.
 *
 * Faults (--fault MODE for every request, ?mode=MODE for one): error500,
 * corrupt (some rows garbled or short of fields), truncate (closes before the
 * announced Content-Length), slow (answers after the request's ?wait plus slow_s), empty (header only).
 *
 * Who may call: the producer's main(); everything runs on one event loop.
 * Errors: 0 or a negative errno (logged).
 */
#ifndef PROD_SERVER_H
#define PROD_SERVER_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "httpd.h"
#include "sim.h"

typedef enum { PROD_FAULT_NONE = 0, PROD_FAULT_ERROR500, PROD_FAULT_CORRUPT, PROD_FAULT_TRUNCATE, PROD_FAULT_SLOW, PROD_FAULT_EMPTY } prod_fault_t;

/* "error500", "ERROR_500", "corrupt", ... (case-insensitive); -1 when unknown. */
int prod_fault_parse(const char *s, size_t len);

typedef struct prod_snapshot {
    uint64_t gen;
    size_t len;
    char etag[48];
    size_t etag_len;
    char data[];
} prod_snapshot_t;

typedef enum { PROD_FORMAT_MATRIX = 0, PROD_FORMAT_UFM } prod_format_t;

/* Which body a request reads (the main one or UFM's xcset) and, with ?num_shards=N&shard=I, which shard of it. */
typedef struct prod_view {
    int xset;
    uint32_t shard, shards; /* shards 0: the whole body */
} prod_view_t;

typedef struct prod_config {
    const char *listen;
    uint32_t switches;
    double interval_s, slow_s;
    uint64_t seed;
    int seeded;
    int fault;
    uint32_t max_nodes; /* most switches PUT /switches/NAME may add */
    int format;         /* PROD_FORMAT_*: the matrix at /counters, or UFM's CSV at /csv/metrics and /csv/xcset/NAME */
    uint32_t ports_per_switch; /* UFM: rows per switch */
} prod_config_t;

typedef struct prod_server {
    prod_config_t cfg;
    prod_sim_t sim;
    ft_buf_t render;
    ft_httpd_t http;
    char bound[64];
    prod_snapshot_t *cur;  /* the body: the matrix, or UFM's /csv/metrics */
    prod_snapshot_t *xcur; /* UFM: the /csv/xcset/NAME body (the low-frequency set, its own spelling), else NULL */
    uint32_t run_id;
    h2o_timeout_t interval_timeout, sweep_timeout;
    h2o_timeout_entry_t tick, sweep;
    h2o_linklist_t waiters;
} prod_server_t;

int prod_server_init(prod_server_t *s, const prod_config_t *cfg);
void prod_server_run_once(prod_server_t *s, int32_t max_wait_ms);
/* A clean stop: held requests are answered now, answers in flight finish within grace_s (httpd/httpd.h). */
void prod_server_destroy(prod_server_t *s, double grace_s);

#endif
