/*
 * apid/routes — the route table: one row per route. Adding an endpoint is
 * adding a row here and a handler in the room of its concern.
 *
 * A row gives the path (and an alias), the methods it accepts, whether its
 * answer may be kept for the rest of its generation (apid/cache.h), the
 * handler, and the label its answers are counted under in /metrics. A row's
 * index is its number in the API statistics, so rows are only ever added at
 * the end (the stats segment has room for FT_ROUTES; the last index counts
 * requests that matched no route).
 *
 * Who may call: apid/api (dispatch) and apid/prom (labels). The table is
 * constant; reentrant.
 */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include <stddef.h>

#include "api.h"

typedef void (*api_handler_fn)(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);

typedef struct api_route {
    const char *path, *alias; /* alias NULL: none */
    int methods;              /* API_* bits */
    const char *allow;        /* the same, as an Allow header */
    int cacheable;            /* a 200 is the same for every request of the URI within one generation */
    int needs_query;          /* the handler reads ctx->query (parsed before it runs) */
    api_handler_fn handler;   /* NULL for a forwarding route */
    const char *label;        /* /metrics route label */
    int prefix;               /* the row also owns every path below path + "/" */
    int upstream;             /* API_UPSTREAM_* for a forwarding route, -1 for a local one */
} api_route_t;

/* The row for a path, or NULL; *index gets its number (api_route_other() when none). */
const api_route_t *api_route_find(const char *path, size_t len, int *index);
/* The statistics index of requests that matched no route. */
int api_route_other(void);
/* The label of a statistics index: a row's label, "other", or NULL past the table. */
const char *api_route_label(int index);

/* Handlers, by room. */
void api_get_metric(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);   /* telemetry.c */
void api_list_metrics(api_ctx_t *ctx, const api_request_t *req, api_response_t *res); /* telemetry.c */
void api_counters(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);     /* telemetry.c */
void api_performance(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);  /* status.c */
void api_health(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);       /* status.c */
void api_root(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);         /* status.c: to the dashboard */
void api_metrics(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);      /* status.c */
void api_history(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);      /* history.c */
void api_bottlenecks(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);  /* bottlenecks.c */
/* Map the history file the segment names (again when it is another): 0, or -ENOENT when there is none. */
int api_history_attach(api_ctx_t *ctx);
/*
 * The start of every history answer: data and a history file (else 503), the generation answered (its ETag,
 * or the 304) and its publication time, where the answer's window ends. 1 when the answer is made.
 */
int api_history_begin(api_ctx_t *ctx, const api_request_t *req, api_response_t *res, uint64_t *gen, int64_t *gen_t_ms);
/* Unmap the worker's history file (api_ctx_destroy). */
void api_history_detach(api_ctx_t *ctx);
/* What the history budget keeps (shm/histread.h); -ENOENT when there is no history. For /telemetry/performance. */
struct ft_hist_windows;
int api_history_windows(api_ctx_t *ctx, uint64_t now_ns, struct ft_hist_windows *w);

#endif
