/*
 * ingestd/daemon — ingestd's runtime: fetch the source with libh2o's HTTP
 * client, stream the body into a batch, judge and publish it, keep the
 * statistics, and decide when to fetch next.
 *
 * Fetching: the first request is a plain GET. When the source answers with an
 * ETag, every later request is a conditional long poll (`If-None-Match` and
 * `?wait=S`): the source holds it until its next snapshot, so new data is
 * published within milliseconds. A source without ETags is polled every
 * `interval`, and so is one that sends ETags but does not hold requests (a
 * static file server or a CDN answers `If-None-Match` with an immediate 304):
 * two 304s in a row that come back in less than half the wait asked for say
 * so (one alone may be a long-polling source answering as it stops), and a
 * later request that is held (an answer after at least half the wait) turns
 * long polling back on. Either switch is logged once. Every attempt has a deadline (timeout, plus the long-poll wait),
 * enforced whatever the socket does. Failures retry with exponential backoff
 * capped at `backoff_max`, and the log says so once per change of state.
 *
 * Who may call: ingestd's main() only: ingestd_init, then ingestd_run_once in
 * a loop until a stop is requested, then ingestd_destroy. One thread.
 * Errors: 0 or a negative errno (details are logged).
 */
#ifndef INGESTD_DAEMON_H
#define INGESTD_DAEMON_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <h2o/http1client.h>

#include "batch.h"
#include "model.h"
#include "histwrite.h"
#include "segment.h"
#include "ufm.h"

typedef struct ingestd_config {
    const char *source, *shm_name;
    double interval_s, timeout_s, wait_s, backoff_max_s, forget_after_s;
    int64_t max_body_bytes;
    ft_shm_capacity_t cap;
    const char *counter_columns, *column_scales; /* column kinds (ingest_model_set_kinds) */
    const char *state_dir;  /* --state-dir (NULL: $STATE_DIRECTORY or /var/lib/fabtel), where history.ft lives */
    int64_t history_bytes;  /* 0: no history */
    double history_sync_s;  /* start write-back of the history file this often */
    int format;             /* INGEST_FORMAT_*: auto recognizes UFM's CSV by its header */
    int kinds_given;        /* --counter-columns or --column-scales was given: UFM's defaults do not replace them */
    uint32_t prerender_max_switches; /* past this many rows, ListMetrics is not pre-rendered (0: always) */
    uint32_t shard, shards;  /* --shard I/N (shards 0 or 1: the whole fabric) */
    int source_shards;       /* --source-shards: the source filters (the URL asks for the shard); keep every row */
} ingestd_config_t;

typedef struct ingestd {
    ingestd_config_t cfg;
    ft_shm_t shm;
    int lock_fd;
    ingest_model_t model;
    ingest_batch_t batch;
    ingest_batch_t ufm;    /* a UFM body rewritten into the matrix form (ingestd/ufm.h) */
    int ufm_rules;         /* the model has UFM's rules (set at the first UFM body) */
    ft_hist_writer_t hist; /* the history file, when --history-bytes > 0 */
    int hist_open;

    h2o_loop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t getaddr_receiver;
    h2o_timeout_t io_timeout, zero_timeout;
    h2o_timeout_entry_t kick;
    h2o_http1client_ctx_t client_ctx;
    h2o_socketpool_t sockpool;
    h2o_url_t url;
    h2o_mem_pool_t pool;
    h2o_iovec_t reqbuf;

    h2o_http1client_t *client; /* non-NULL while an attempt is in flight */
    int busy;
    int long_poll;             /* this attempt is a conditional long poll */
    int source_has_etag;
    int source_holds;          /* the source held our last long poll (or has not yet shown it does not) */
    int early_304s;            /* 304s in a row that came long before the wait asked for */
    char etag[160], new_etag[160];
    uint64_t attempt_start_mono, head_mono, deadline_mono, next_due_mono;
    uint32_t consecutive_failures;
    int failing;       /* the state the log last reported */
    uint64_t published, unchanged, failed; /* lifetime, for the exit line */
} ingestd_t;

int ingestd_init(ingestd_t *d, const ingestd_config_t *cfg);
/* One turn of the event loop (waits at most until the next due time, the deadline, or max_wait_ms). */
void ingestd_run_once(ingestd_t *d, int32_t max_wait_ms);
void ingestd_destroy(ingestd_t *d);

#endif
