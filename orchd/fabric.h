/*
 * orchd/fabric — what orchd reads of the telemetry side, read-only: the data
 * segment (its capacity and how many switches it carries, for the 409 on a
 * deployment that would not fit) and the history file the segment names
 * (a deployment's samples and bottlenecks). Attaches lazily and re-attaches
 * when ingestd re-creates either; when they are absent (no ingestd yet), the
 * capacity check is skipped and telemetry answers carry no samples.
 *
 * Telemetry mapping (the seed's fields from the fabric's columns, one place):
 *   latency_ms = latency / 1000 (the column is µs), throughput_gbps = bandwidth_usage, error_rate = error_rate (%).
 *
 * Who may call: orchd's loop thread. Errors: 0 or a negative errno
 * (-ENOENT: no segment or no history; -ENOMEM).
 */
#ifndef ORCH_FABRIC_H
#define ORCH_FABRIC_H

#include <stdint.h>

#include "bottleneck.h"
#include "buf.h"
#include "histread.h"
#include "segment.h"
#include "store.h"

typedef struct orch_fabric {
    char shm_name[256];
    ft_shm_t shm;
    int attached;
    ft_hist_reader_t hist;
    uint64_t hist_epoch, bad_epoch;
    int64_t retry_ms; /* monotonic ms before which a failed attach is not tried again */
    int pinned;       /* a history file opened by path (orch_fabric_open_history): the segment is not asked */
} orch_fabric_t;

void orch_fabric_init(orch_fabric_t *f, const char *shm_name);
/* Read this history file instead of the one the segment names (the benchmark; tests). -ENOENT or -EPROTO with a log line. */
int orch_fabric_open_history(orch_fabric_t *f, const char *path);
void orch_fabric_destroy(orch_fabric_t *f);

/* The segment's capacity and the switches its newest generation carries. -ENOENT without a segment. */
int orch_fabric_capacity(orch_fabric_t *f, uint32_t *max_switches, uint32_t *live);

typedef struct orch_sample_query {
    int64_t dep, node; /* node 0: every running node */
    int64_t from, to;  /* ms, inclusive */
    int64_t limit;
} orch_sample_query_t;

/* GET /deployments/{id}/telemetry over the deployment's running nodes, newest first, into out. */
int orch_fabric_samples(orch_fabric_t *f, const orch_node_ref_t *nodes, size_t n, const orch_sample_query_t *q, ft_buf_t *out);

typedef struct orch_bn_query {
    int64_t dep, window_min;
    ft_bn_method_t method;
    double threshold;
} orch_bn_query_t;

/* GET /deployments/{id}/bottlenecks over the running nodes' history, worst first, into out. now_ms: the window's end. */
int orch_fabric_bottlenecks(orch_fabric_t *f, const orch_node_ref_t *nodes, size_t n, const orch_bn_query_t *q, int64_t now_ms,
                            ft_buf_t *out);

#endif
