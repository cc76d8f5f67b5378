/*
 * apid/bottlenecks — GET /telemetry/bottlenecks: the fabric's outliers over a
 * window of history, by the statistics module (bottleneck/bottleneck.h).
 *
 * Every switch incarnation with samples in the window is an entity; its
 * window moments come from the history file (shm/histread.h: rollups for
 * whole minutes, samples at the edges). As for every telemetry answer, the
 * window ends at the answered generation's publication time, so the answer
 * is fixed by the generation: the route is cacheable, a worker computes it
 * once per generation and question.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bottleneck.h"
#include "histread.h"
#include "json.h"
#include "query.h"
#include "reply.h"
#include "routes.h"
#include "util.h"

static const char *const P_WINDOW[] = {"window", NULL};
static const char *const P_METRICS[] = {"metrics", NULL};
static const char *const P_METHOD[] = {"method", NULL};
static const char *const P_THRESHOLD[] = {"threshold", NULL};

typedef struct bn_query {
    int64_t window_s;
    ft_bn_method_t method;
    double threshold;
    ft_bn_metric_t metrics[FT_BN_MAX_METRICS];
    uint32_t nmetrics;
} bn_query_t;

/* The question, checked; 1 when an error answer is made. */
static int parse_bn_query(api_ctx_t *ctx, api_response_t *res, bn_query_t *q)
{
    const ft_param_t *w = ft_query_get(ctx->query, P_WINDOW), *m = ft_query_get(ctx->query, P_METRICS);
    const ft_param_t *me = ft_query_get(ctx->query, P_METHOD), *t = ft_query_get(ctx->query, P_THRESHOLD);
    q->window_s = 600;
    double v;
    if (w != NULL && (ft_parse_f64(w->value, w->value_len, &v) != 0 || v != floor(v) || v < 1 || v > 86400))
        return api_reply_error_at(ctx, res, 400, "window", -1, "'window' is a whole number of seconds from 1 to 86400"), 1;
    if (w != NULL)
        q->window_s = (int64_t)v;
    q->method = FT_BN_ROBUST;
    if (me != NULL && ft_bn_method_parse(me->value, me->value_len, &q->method) != 0)
        return api_reply_error_at(ctx, res, 400, "method", -1, "'method' is robust (the default) or zscore"), 1;
    q->threshold = ft_bn_default_threshold(q->method);
    if (t != NULL && (ft_parse_f64(t->value, t->value_len, &q->threshold) != 0 || !(q->threshold > 0) || q->threshold > 1e6))
        return api_reply_error_at(ctx, res, 400, "threshold", -1, "'threshold' is a number above 0"), 1;
    char why[200];
    if (m == NULL) {
        q->nmetrics = ft_bn_default_metrics(q->metrics);
    } else if (ft_bn_parse_metrics(m->value, m->value_len, q->metrics, &q->nmetrics, why, sizeof(why)) != 0) {
        return api_reply_error_at(ctx, res, 400, "metrics", -1, "%s", why), 1;
    }
    return 0;
}

/* Each metric's counter in history; 1 when an error answer is made. */
static int resolve_metrics(api_ctx_t *ctx, api_response_t *res, const bn_query_t *q, uint32_t *ctrs)
{
    for (uint32_t k = 0; k < q->nmetrics; k++) {
        uint32_t type, scale;
        int counter;
        const char *name = q->metrics[k].name;
        int64_t id = ft_hist_find_counter(ctx->hist, name, strlen(name), &type, &counter, &scale);
        if (id < 0)
            return api_reply_error_at(ctx, res, 404, "metrics", k, "unknown metric '%s' (no history)", name), 1;
        ctrs[k] = (uint32_t)id;
    }
    return 0;
}

static void put_num(ft_buf_t *b, double v)
{
    char num[40];
    ft_buf_append(b, num, ft_fmt_double15(num, isfinite(v) ? v : 0));
}

static void put_metric_map(ft_buf_t *b, const bn_query_t *q, const double *v)
{
    ft_buf_append(b, "{", 1);
    for (uint32_t k = 0; k < q->nmetrics; k++) {
        if (k)
            ft_buf_append(b, ",", 1);
        ft_json_put_string(b, q->metrics[k].name, strlen(q->metrics[k].name));
        ft_buf_append(b, ":", 1);
        put_num(b, v[k]);
    }
    ft_buf_append(b, "}", 1);
}

static void render(api_ctx_t *ctx, const bn_query_t *q, const uint32_t *ids, uint32_t n, const ft_bn_result_t *out, int64_t to,
                   uint64_t gen)
{
    ft_buf_t *b = &ctx->scratch;
    uint32_t flagged = 0, judged = 0;
    for (uint32_t i = 0; i < n; i++)
        flagged += out[i].flagged, judged += out[i].judged;
    char ts[40];
    ft_fmt_iso8601(ts, (uint64_t)to * 1000000);
    b->len = 0, b->failed = 0;
    ft_buf_appendf(b, "{\"detected_at\":\"%s\",\"window\":%" PRId64 ",\"method\":\"%s\",\"threshold\":", ts, q->window_s,
                   ft_bn_method_name(q->method));
    put_num(b, q->threshold);
    ft_buf_appendf(b, ",\"generation\":%" PRIu64 ",\"switches\":%u,\"judged\":%u,\"total_bottlenecks\":%u,\"bottlenecks\":[", gen, n,
                   judged, flagged);
    for (uint32_t i = 0, k = 0; i < n; i++) {
        if (!out[i].flagged)
            continue;
        ft_hist_entry_info_t e;
        ft_hist_entry_info(ctx->hist, ids[out[i].entity], &e);
        ft_buf_appendf(b, "%s{\"switch_id\":", k++ ? "," : "");
        ft_json_put_string(b, e.name, e.len);
        ft_buf_appendf(b, ",\"incarnation\":%u,\"deviation_score\":", e.incarnation);
        put_num(b, out[i].score);
        ft_buf_append(b, ",\"means\":", 9);
        put_metric_map(b, q, out[i].mean);
        ft_buf_append(b, ",\"z\":", 5);
        put_metric_map(b, q, out[i].z);
        ft_buf_append(b, "}", 1);
    }
    ft_buf_append(b, "]}", 2);
}

/* Every incarnation with samples in [from, to], and its moments of each metric. Returns how many, or -ENOMEM. */
static int64_t gather(api_ctx_t *ctx, const bn_query_t *q, const uint32_t *ctrs, int64_t from, int64_t to, uint32_t **ids_out,
                      ft_bn_moments_t **m_out)
{
    uint32_t ne = ft_hist_nentries(ctx->hist), n = 0;
    uint32_t *ids = malloc((ne ? ne : 1) * sizeof(uint32_t));
    ft_bn_moments_t *m = malloc((size_t)(ne ? ne : 1) * q->nmetrics * sizeof(ft_bn_moments_t));
    if (ids == NULL || m == NULL) {
        free(ids), free(m);
        return -ENOMEM;
    }
    for (uint32_t id = 0; id < ne; id++) {
        ft_hist_entry_info_t e;
        ft_hist_entry_info(ctx->hist, id, &e);
        if (e.last_t < from || e.created_t > to)
            continue;
        ft_hist_moments_t hm[FT_HIST_MOMENTS_MAX];
        if (ft_hist_window_moments(ctx->hist, id, ctrs, q->nmetrics, from, to, hm) != 0)
            continue;
        for (uint32_t k = 0; k < q->nmetrics; k++)
            m[(size_t)n * q->nmetrics + k] = (ft_bn_moments_t){hm[k].count, hm[k].sum, hm[k].sumsq};
        ids[n++] = id;
    }
    *ids_out = ids, *m_out = m;
    return n;
}

void api_bottlenecks(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    uint64_t gen;
    int64_t to;
    if (api_history_begin(ctx, req, res, &gen, &to))
        return;
    bn_query_t q;
    uint32_t ctrs[FT_BN_MAX_METRICS];
    if (parse_bn_query(ctx, res, &q) || resolve_metrics(ctx, res, &q, ctrs))
        return;
    int64_t from = to - q.window_s * 1000;
    uint32_t *ids = NULL;
    ft_bn_moments_t *m = NULL;
    int64_t n = gather(ctx, &q, ctrs, from, to, &ids, &m);
    ft_bn_result_t *out = n >= 0 ? malloc((size_t)(n ? n : 1) * sizeof(*out)) : NULL;
    if (out == NULL || ft_bn_analyze(q.method, q.threshold, q.metrics, q.nmetrics, m, (uint32_t)n, out) != 0) {
        api_reply_error(ctx, res, 500, "out of memory judging %" PRId64 " switches", n);
    } else {
        render(ctx, &q, ids, (uint32_t)n, out, to, gen);
        if (ctx->scratch.failed)
            api_reply_error(ctx, res, 500, "out of memory");
        else
            api_reply_scratch(ctx, res, 200);
    }
    free(ids), free(m), free(out);
}
