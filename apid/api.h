/*
 * apid/api — the API, independent of the HTTP server.
 *
 * Owns: one worker's view of the data segment (mapped read-only, attached
 * and re-attached by api_ctx_poll_segment), its slot of the API statistics
 * segment, a scratch buffer, the answer cache (apid/cache.h) and the
 * per-generation copy of the unfiltered ListMetrics body. api_handle() turns
 * one request (method, path, query, headers that matter, body) into one
 * response (status, body, ETag) through the route table (apid/routes.h);
 * apid/worker glues it to libh2o, and the tests call it directly.
 *
 * The rooms: routes.c (the table: one row per route), telemetry.c (answers
 * read from a snapshot), status.c (health, performance, /metrics), reply.c
 * (what every answer shares: errors, ETags, 304), cache.c, prom.c.
 *
 * Reading is lock-free (shm/snapshot.h): a request never waits for ingestd
 * or another worker; a read that the writer lapped is redone, and counted.
 *
 * Who may call: one worker process, one thread. Errors: api_ctx_init returns
 * 0 or a negative errno; api_handle always produces a response (JSON errors
 * are {"error":{"status":N,"message":"…"}}).
 */
#ifndef API_API_H
#define API_API_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "layout.h"
#include "segment.h"

/* A refcounted body shared by every response of one generation (the ListMetrics cache, the answer cache). */
typedef struct api_body {
    uint32_t refcnt;
    size_t len;
    char data[];
} api_body_t;

void api_body_release(api_body_t *b);

/* The daemons apid forwards writes (and every request under their paths) to. */
enum { API_UPSTREAM_ORCHD = 0, API_UPSTREAM_FLOWD, API_UPSTREAMS };

typedef struct api_upstream {
    const char *name; /* "orchd", "flowd": how errors and logs name it */
    const char *url;  /* http://host:port (no path) */
} api_upstream_t;

typedef struct api_config {
    const char *shm_name;
    double stale_after_s;
    size_t max_uri;
    const char *prom_counters; /* comma-separated columns exposed as Prometheus counters (cumulative values) */
    size_t max_body;           /* the largest request body any route takes (413 past it) */
    const char *auth_token;    /* writes (and reads with auth_reads) need "Authorization: Bearer <it>"; NULL: none */
    int auth_reads;
    api_upstream_t upstreams[API_UPSTREAMS];
    const char *web_root; /* the dashboard's files, served under /ui/ (NULL: no dashboard) */
    double forward_timeout_s; /* an upstream silent this long: 504 */
    size_t hist_max_points;        /* /telemetry/history: points per series (steps past it) */
    size_t hist_max_answer_points; /* /telemetry/history: series x points per answer (400 past it) */
} api_config_t;

/* What the worker last heard from an upstream's /health (apid/probe.h); read by /health. */
typedef struct api_component {
    int state;                                   /* 0 not asked yet, 1 answered, -1 did not answer */
    int db_healthy;                              /* orchd: its "database" said healthy */
    int64_t active_deployments, active_workers;  /* orchd's, -1 when it did not say */
} api_component_t;

typedef struct api_ctx {
    api_config_t cfg;
    api_component_t components[API_UPSTREAMS];
    ft_shm_t shm;
    int attached;
    int last_attach_err;         /* to log once per change of state */
    uint64_t last_attach_try_ns; /* monotonic: when a request last tried to attach */
    const ft_api_stats_header_t *stats_hdr; /* NULL when not run by the apid master (tests) */
    ft_api_worker_stats_t *my_stats;
    ft_buf_t scratch;
    api_body_t *list_cache[2]; /* the unfiltered ListMetrics of one generation: [0] identity, [1] gzip */
    uint64_t cache_epoch[2], cache_gen[2];
    uint64_t retries; /* seqlock read retries */
    struct ft_query *query;        /* the request's parsed query (8 KiB, allocated once) */
    struct api_list_filter *filter; /* ListMetrics filter indices (allocated once) */
    struct api_cache *cache;        /* answers by (epoch, generation, URI): apid/cache.h */
    char query_buf[8192];           /* the request's query without its ?wait= (apid/api.c: strip_wait) */
    struct ft_hist_reader *hist;    /* the history file the segment names (apid/history.c), mapped on first use */
    uint64_t hist_epoch;            /* its epoch; 0: not mapped */
    uint64_t hist_bad_epoch, hist_bad_ns; /* the file last refused, and when (monotonic): retried once a second */
} api_ctx_t;

/* The longest a conditional read may be held for the next generation (?wait=S). */
#define API_MAX_WAIT_S 60.0

/* HTTP methods, as bits (a route says which it accepts). */
enum { API_GET = 1, API_HEAD = 2, API_POST = 4, API_PUT = 8, API_DELETE = 16, API_PATCH = 32, API_OTHER_METHOD = 64 };

typedef struct api_request {
    const char *method, *path, *query;
    size_t method_len, path_len, query_len;
    /* Headers that answers depend on (NULL when absent). */
    const char *if_none_match, *content_type, *origin, *host, *authorization;
    size_t if_none_match_len, content_type_len, origin_len, host_len, authorization_len;
    int accept_gzip; /* Accept-Encoding names gzip */
    /* ?wait=S of a long poll, taken out of the query by api_handle (raw bytes; NULL: none). */
    const char *wait;
    size_t wait_len;
    /* The request body (POST, PUT, PATCH); NULL and 0 when none. */
    const char *body;
    size_t body_len;
} api_request_t;

typedef struct api_response {
    int status;
    const char *body; /* valid until the next api_handle; or owned by `shared` */
    size_t body_len;
    api_body_t *shared; /* when set, the response holds one reference (the caller releases it) */
    char etag[64];      /* "" when the answer has none */
    uint64_t gen;       /* the generation a telemetry answer was read from (0: none) */
    int retry_after;    /* seconds for a 503, 0 when none */
    int route;          /* index into the route table (apid/routes.h), for the statistics */
    const char *allow;        /* for a 405: the methods the route accepts, e.g. "GET, HEAD" */
    const char *www_authenticate; /* for a 401 */
    const char *location;         /* for a redirect */
    double hold_s;            /* a 304 that may be held this long for the next generation (?wait=S); 0: answer now */
    int forward;              /* API_UPSTREAM_* when the request passed the route's checks and goes to that daemon
                                 (the worker forwards it and answers with what comes back); -1 otherwise */
    const char *content_type; /* NULL: application/json */
    int gzip;                 /* the body is gzip-encoded (Content-Encoding: gzip) */
    int vary_encoding;        /* the answer depends on Accept-Encoding (Vary) */
} api_response_t;

int api_ctx_init(api_ctx_t *ctx, const api_config_t *cfg);
void api_ctx_destroy(api_ctx_t *ctx);
/* Attach to the data segment if it exists, re-attach if it was re-created. Cheap; call a few times a second. */
void api_ctx_poll_segment(api_ctx_t *ctx);

/* The method's API_* bit (API_OTHER_METHOD for one this API does not know). */
int api_method_bit(const char *method, size_t len);

void api_handle(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);

/* Account one answer in this worker's statistics (a no-op without a stats slot). */
void api_record(api_ctx_t *ctx, uint64_t now_ns, int route, int status, uint64_t lat_us);

#endif
