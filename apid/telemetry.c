/*
 * apid/telemetry — the answers read from a snapshot: GetMetric, ListMetrics
 * and counters. Every one follows the same pattern (shm/snapshot.h): begin a
 * read, render into the scratch buffer, and throw the result away and start
 * again when the seqlock says the writer lapped the read. Nothing read from
 * the slot is acted on (an error chosen, a body kept) before that check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "render.h"
#include "reply.h"
#include "routes.h"

#define MAX_FILTER_ROWS 4096

static const char *const P_SWITCH[] = {"switch_id", "switch_name", NULL};
static const char *const P_METRIC[] = {"metric", "metric_name", NULL};
static const char *const P_LIMIT[] = {"limit", NULL};
static const char *const P_OFFSET[] = {"offset", NULL};

typedef struct api_list_filter {
    ft_render_filter_t f;
    uint32_t cols[FT_MAX_COUNTERS_LIMIT];
    uint32_t rows[MAX_FILTER_ROWS];
    const char *bad; /* the first unknown name, for the 404 */
    size_t bad_len;
    int bad_is_metric;
} list_filter_t;

struct api_list_filter *api_list_filter_create(void)
{
    return malloc(sizeof(list_filter_t));
}

/* A read the writer lapped: count it, and say to start again. */
static int lapped(api_ctx_t *ctx, const ft_snap_t *v)
{
    if (!ft_snap_retry(v))
        return 0;
    ctx->retries++;
    return 1;
}

static void scratch_reset(api_ctx_t *ctx)
{
    ctx->scratch.len = 0;
    ctx->scratch.failed = 0;
}

/* ---- GetMetric ---- */

enum { FOUND = 0, NO_SWITCH, NO_METRIC };

void api_get_metric(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    const ft_param_t *sw = ft_query_get(ctx->query, P_SWITCH), *mt = ft_query_get(ctx->query, P_METRIC);
    if (sw == NULL || sw->value_len == 0)
        return api_reply_error_at(ctx, res, 400, "switch_id", -1, "missing parameter 'switch_id' (or 'switch_name')");
    if (mt == NULL || mt->value_len == 0)
        return api_reply_error_at(ctx, res, 400, "metric", -1, "missing parameter 'metric' (or 'metric_name')");
    if (!api_has_data(ctx))
        return api_reply_no_data(ctx, res);
    int found;
    for (;;) {
        ft_snap_t v;
        if (api_begin_read(ctx, req, &v, res))
            return;
        int64_t row = ft_snap_find_row(&v, sw->value, sw->value_len);
        int64_t col = ft_snap_find_col(&v, mt->value, mt->value_len);
        found = FOUND;
        if (row < 0 || !ft_snap_row_shown(&v, (uint32_t)row))
            found = NO_SWITCH;
        else if (col < 0 || !ft_col_meta_present(ft_snap_col_meta(&v, (uint32_t)col)))
            found = NO_METRIC;
        else {
            scratch_reset(ctx);
            ft_render_metric(&ctx->scratch, &v, (uint32_t)row, (uint32_t)col);
        }
        if (!lapped(ctx, &v))
            break;
    }
    if (found == NO_SWITCH)
        return api_reply_error(ctx, res, 404, "unknown switch '%.*s'", api_quote_len(sw->value_len), sw->value);
    if (found == NO_METRIC)
        return api_reply_error(ctx, res, 404, "unknown metric '%.*s'", api_quote_len(mt->value_len), mt->value);
    if (ctx->scratch.failed)
        return api_reply_error(ctx, res, 500, "out of memory");
    api_reply_scratch(ctx, res, 200);
}

/* ---- ListMetrics ---- */

static int parse_count(const ft_param_t *p, uint64_t *out)
{
    uint64_t v = 0;
    if (p->value_len == 0 || p->value_len > 10)
        return -EINVAL;
    for (size_t i = 0; i < p->value_len; i++) {
        if (p->value[i] < '0' || p->value[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(p->value[i] - '0');
    }
    *out = v;
    return 0;
}

static int name_present(const ft_snap_t *v, const char *s, size_t len, int metric, uint32_t *idx)
{
    int64_t i = metric ? ft_snap_find_col(v, s, len) : ft_snap_find_row(v, s, len);
    if (i < 0)
        return 0;
    *idx = (uint32_t)i;
    return metric ? ft_col_meta_present(ft_snap_col_meta(v, (uint32_t)i)) : ft_snap_row_shown(v, (uint32_t)i);
}

/* Resolve a comma-separated list of names against the view; 0, or -ENOENT with lf->bad set, or -E2BIG. */
static int resolve_names(const ft_snap_t *v, const ft_param_t *p, int metric, list_filter_t *lf)
{
    const char *s = p->value, *end = p->value + p->value_len;
    uint32_t *out = metric ? lf->cols : lf->rows, n = 0, cap = metric ? FT_MAX_COUNTERS_LIMIT : MAX_FILTER_ROWS;
    while (s <= end) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        const char *stop = c ? c : end;
        if (stop > s) {
            if (n == cap)
                return -E2BIG;
            if (!name_present(v, s, (size_t)(stop - s), metric, &out[n])) {
                lf->bad = s;
                lf->bad_len = (size_t)(stop - s);
                lf->bad_is_metric = metric;
                return -ENOENT;
            }
            n++;
        }
        s = stop + 1;
    }
    if (metric) {
        lf->f.cols = lf->cols;
        lf->f.ncols = n;
    } else {
        lf->f.rows = lf->rows;
        lf->f.nrows = n;
    }
    return 0;
}

/*
 * The unfiltered body of generation g (k = 0) or its gzip form (k = 1): from
 * this worker's copy, or copied once out of the slot. NULL when the slot has
 * no such body (it did not fit: render it here instead).
 */
static api_body_t *slot_body(api_ctx_t *ctx, const ft_snap_t *v, int k)
{
    if (ctx->list_cache[k] != NULL && ctx->cache_gen[k] == v->gen && ctx->cache_epoch[k] == ctx->shm.hdr->epoch)
        return ctx->list_cache[k];
    uint64_t off, len;
    if (ft_snap_body(v, k, &off, &len) != 0)
        return NULL;
    api_body_t *b = malloc(sizeof(*b) + len);
    if (b == NULL)
        return NULL;
    b->refcnt = 1;
    b->len = (size_t)len;
    ft_seq_load_bytes(b->data, v->body, off, (size_t)len);
    return b;
}

/* The whole list, pre-rendered by ingestd. 1 when answered, 0 to render it here, -1 to read again (lapped). */
static int send_prerendered(api_ctx_t *ctx, const api_request_t *req, const ft_snap_t *v, api_response_t *res)
{
    res->vary_encoding = 1;
    int k = req->accept_gzip && ft_snap_hdr(v, FT_SLOT_BODY_GZ_LEN) != 0;
    api_body_t *b = slot_body(ctx, v, k);
    if (b == NULL)
        return 0;
    if (b != ctx->list_cache[k]) {
        if (lapped(ctx, v)) {
            api_body_release(b);
            return -1;
        }
        api_body_release(ctx->list_cache[k]);
        ctx->list_cache[k] = b;
        ctx->cache_gen[k] = v->gen;
        ctx->cache_epoch[k] = ctx->shm.hdr->epoch;
    }
    b->refcnt++;
    res->shared = b;
    res->status = 200;
    res->body = b->data;
    res->body_len = b->len;
    res->gzip = k;
    return 1;
}

/* The filtered or paged list, rendered here. 0, -ENOENT / -E2BIG (a bad filter), or -EAGAIN (lapped). */
static int render_filtered(api_ctx_t *ctx, const ft_snap_t *v, const ft_param_t *sw, const ft_param_t *mt)
{
    list_filter_t *lf = ctx->filter;
    lf->f.rows = lf->f.cols = NULL;
    int r = 0;
    if (mt != NULL)
        r = resolve_names(v, mt, 1, lf);
    if (r == 0 && sw != NULL)
        r = resolve_names(v, sw, 0, lf);
    if (r == 0) {
        scratch_reset(ctx);
        ft_render_list(&ctx->scratch, v, &lf->f);
    }
    return lapped(ctx, v) ? -EAGAIN : r;
}

void api_list_metrics(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    const ft_query_t *q = ctx->query;
    const ft_param_t *sw = ft_query_get(q, P_SWITCH), *mt = ft_query_get(q, P_METRIC), *lim = ft_query_get(q, P_LIMIT),
                      *off = ft_query_get(q, P_OFFSET);
    list_filter_t *lf = ctx->filter;
    memset(&lf->f, 0, sizeof(lf->f));
    lf->f.limit = UINT64_MAX;
    if (lim && parse_count(lim, &lf->f.limit) != 0)
        return api_reply_error_at(ctx, res, 400, "limit", -1, "'limit' must be a whole number from 0 to 9999999999");
    if (off && parse_count(off, &lf->f.offset) != 0)
        return api_reply_error_at(ctx, res, 400, "offset", -1, "'offset' must be a whole number from 0 to 9999999999");
    if (!api_has_data(ctx))
        return api_reply_no_data(ctx, res);
    int whole = sw == NULL && mt == NULL && lim == NULL && off == NULL, r;
    for (;;) {
        ft_snap_t v;
        if (api_begin_read(ctx, req, &v, res))
            return;
        int sent = whole ? send_prerendered(ctx, req, &v, res) : 0;
        if (sent > 0)
            return;
        if (sent < 0)
            continue;
        if ((r = render_filtered(ctx, &v, sw, mt)) != -EAGAIN)
            break;
    }
    if (r == -E2BIG)
        return api_reply_error(ctx, res, 400, "too many names in one filter");
    if (r == -ENOENT)
        return api_reply_error(ctx, res, 404, "unknown %s '%.*s'", lf->bad_is_metric ? "metric" : "switch",
                               api_quote_len(lf->bad_len), lf->bad);
    if (ctx->scratch.failed)
        return api_reply_error(ctx, res, 500, "out of memory");
    api_reply_scratch(ctx, res, 200);
}

/* ---- counters ---- */

void api_counters(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    if (!api_has_data(ctx))
        return api_reply_no_data(ctx, res);
    ft_snap_t v;
    do {
        if (api_begin_read(ctx, req, &v, res))
            return;
        scratch_reset(ctx);
        ft_render_counters(&ctx->scratch, &v);
    } while (lapped(ctx, &v));
    api_reply_scratch(ctx, res, ctx->scratch.failed ? 500 : 200);
}
