#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "prom.h"
#include "query.h"
#include "render.h"
#include "snapshot.h"
#include "stats.h"
#include "util.h"

#define MAX_FILTER_ROWS 4096

/*
 * The answer cache. Within one generation of one segment, the same URI gets
 * the same answer, so a worker keeps the last answers it rendered, keyed by
 * (epoch, generation, URI), in a direct-mapped table; a repeated query costs
 * one atomic load, one hash and one compare, and its body is sent from the
 * refcounted copy without rendering or copying. An entry is only ever stored
 * from a read the seqlock validated, and a new generation misses by key.
 */
#define CACHE_SLOTS 1024
#define CACHE_URI_MAX 240

typedef struct api_cache_entry {
    uint64_t epoch, gen, hash;
    int gzip;          /* the request accepted gzip (part of the key) */
    int body_gzip;     /* the stored body is gzip-encoded */
    int vary_encoding;
    size_t uri_len;
    char uri[CACHE_URI_MAX];
    char etag[64];
    api_body_t *body;
} api_cache_entry_t;

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

void api_body_release(api_body_t *b)
{
    if (b != NULL && --b->refcnt == 0)
        free(b);
}

int api_ctx_init(api_ctx_t *ctx, const api_config_t *cfg)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->cfg = *cfg;
    ctx->last_attach_err = 1; /* "not attached" is the starting state; the first failure is logged */
    ft_buf_init(&ctx->scratch);
    ctx->query = malloc(sizeof(*ctx->query));
    ctx->filter = malloc(sizeof(*ctx->filter));
    ctx->cache = calloc(CACHE_SLOTS, sizeof(*ctx->cache));
    if (ctx->query == NULL || ctx->filter == NULL || ctx->cache == NULL)
        return -ENOMEM;
    return ft_buf_reserve(&ctx->scratch, 64 * 1024);
}

void api_ctx_destroy(api_ctx_t *ctx)
{
    for (int k = 0; k < 2; k++) {
        api_body_release(ctx->list_cache[k]);
        ctx->list_cache[k] = NULL;
    }
    ft_buf_destroy(&ctx->scratch);
    for (size_t i = 0; ctx->cache != NULL && i < CACHE_SLOTS; i++)
        api_body_release(ctx->cache[i].body);
    free(ctx->cache);
    free(ctx->query);
    free(ctx->filter);
    ctx->cache = NULL;
    ctx->query = NULL;
    ctx->filter = NULL;
    if (ctx->attached)
        ft_shm_close(&ctx->shm);
    ctx->attached = 0;
}

void api_ctx_poll_segment(api_ctx_t *ctx)
{
    if (ctx->attached) {
        if (!ft_shm_changed(&ctx->shm))
            return;
        ft_info("event=segment_changed shm=%s epoch=%016" PRIx64 " reason=\"removed or re-created\"", ctx->cfg.shm_name,
                ctx->shm.hdr->epoch);
        ft_shm_close(&ctx->shm);
        ctx->attached = 0;
        for (int k = 0; k < 2; k++) {
            api_body_release(ctx->list_cache[k]);
            ctx->list_cache[k] = NULL;
        }
    }
    char why[300];
    int r = ft_shm_open_reader(&ctx->shm, ctx->cfg.shm_name, why, sizeof(why));
    if (r == 0) {
        ctx->attached = 1;
        ctx->last_attach_err = 0;
        ft_info("event=segment_attached shm=%s epoch=%016" PRIx64 " generation=%" PRIu64, ctx->cfg.shm_name, ctx->shm.hdr->epoch,
                atomic_load_explicit(&ctx->shm.hdr->gen, memory_order_acquire));
        return;
    }
    if (r != ctx->last_attach_err) /* once per change of state */
        ft_log(r == -EPROTO ? FT_LOG_ERROR : FT_LOG_INFO, "event=segment_unavailable shm=%s reason=\"%s\"", ctx->cfg.shm_name, why);
    ctx->last_attach_err = r;
}

/*
 * A worker that has not attached yet tries again now rather than at its next
 * poll, so that once one worker answers with data every worker does (the
 * kernel spreads a client's connections over all of them). At most once a
 * millisecond, so a flood of requests before ingestd starts stays cheap.
 */
static void attach_now(api_ctx_t *ctx)
{
    uint64_t now = ft_mono_ns();
    if (ctx->attached || now - ctx->last_attach_try_ns < 1000000)
        return;
    ctx->last_attach_try_ns = now;
    api_ctx_poll_segment(ctx);
}

void api_record(api_ctx_t *ctx, uint64_t now_ns, int route, int status, uint64_t lat_us)
{
    if (ctx->my_stats == NULL)
        return;
    ft_api_stats_record(ctx->my_stats, now_ns, route, status, lat_us);
    atomic_store_explicit(&ctx->my_stats->seqlock_retries, ctx->retries, memory_order_relaxed);
}

/* ---- responses ---- */

static void set_body(api_ctx_t *ctx, api_response_t *res, int status)
{
    res->status = status;
    res->body = ctx->scratch.data;
    res->body_len = ctx->scratch.len;
}

static void error_reply(api_ctx_t *ctx, api_response_t *res, int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void error_reply(api_ctx_t *ctx, api_response_t *res, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n;
    char head[64];
    ft_buf_t *b = &ctx->scratch;
    b->len = 0;
    b->failed = 0;
    ft_buf_append(b, head, (size_t)snprintf(head, sizeof(head), "{\"error\":{\"status\":%d,\"message\":", status));
    ft_render_string(b, msg, len); /* the message may quote request bytes: escaped here, whatever they are */
    ft_buf_append(b, "}}", 2);
    res->etag[0] = '\0';
    set_body(ctx, res, status);
}

/* Request-supplied names are quoted in messages, cut to a readable length. */
static int qlen(size_t len)
{
    return len > 80 ? 80 : (int)len;
}

static void no_data(api_ctx_t *ctx, api_response_t *res)
{
    error_reply(ctx, res, 503, "no data yet: ingestd has not published a snapshot to %s", ctx->cfg.shm_name);
    res->retry_after = 1;
}

static int has_data(const api_ctx_t *ctx)
{
    return ctx->attached && atomic_load_explicit(&ctx->shm.hdr->gen, memory_order_acquire) != 0;
}

/* ---- caching ---- */

static uint64_t uri_hash(const api_request_t *req);

static void make_etag(const api_ctx_t *ctx, const api_request_t *req, uint64_t gen, char *out)
{
    uint64_t h = uri_hash(req);
    snprintf(out, 64, "\"%016" PRIx64 "-%" PRIu64 "-%016" PRIx64 "\"", ctx->shm.hdr->epoch, gen, h);
}

/* If-None-Match: a list of entity tags, or "*". */
static int etag_matches(const api_request_t *req, const char *etag)
{
    const char *p = req->if_none_match, *end = p + req->if_none_match_len;
    size_t el = strlen(etag);
    if (p == NULL)
        return 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (p >= end)
            break;
        const char *q = memchr(p, ',', (size_t)(end - p));
        const char *stop = q ? q : end;
        const char *t = stop;
        while (t > p && t[-1] == ' ')
            t--;
        if (((size_t)(t - p) == el && memcmp(p, etag, el) == 0) || (t - p == 1 && *p == '*'))
            return 1;
        p = stop;
    }
    return 0;
}

static void not_modified(api_response_t *res)
{
    res->status = 304;
    res->body = NULL;
    res->body_len = 0;
}

/*
 * The start of every telemetry read: pick the generation, name the variant's
 * ETag, and answer 304 when the client has it. 1 when the answer is made.
 */
static int begin_read(api_ctx_t *ctx, const api_request_t *req, ft_snap_t *v, api_response_t *res)
{
    ft_snap_begin(v, &ctx->shm);
    make_etag(ctx, req, v->gen, res->etag);
    res->gen = v->gen;
    if (!etag_matches(req, res->etag))
        return 0;
    not_modified(res);
    return 1;
}

/* ---- GetMetric ---- */

static void get_metric(api_ctx_t *ctx, const api_request_t *req, const api_query_t *q, api_response_t *res)
{
    const api_param_t *sw = api_query_get(q, P_SWITCH), *mt = api_query_get(q, P_METRIC);
    if (sw == NULL || sw->value_len == 0)
        return error_reply(ctx, res, 400, "missing parameter 'switch_id' (or 'switch_name')");
    if (mt == NULL || mt->value_len == 0)
        return error_reply(ctx, res, 400, "missing parameter 'metric' (or 'metric_name')");
    if (!has_data(ctx))
        return no_data(ctx, res);
    for (;;) {
        ft_snap_t v;
        if (begin_read(ctx, req, &v, res))
            return;
        int64_t row = ft_snap_find_row(&v, sw->value, sw->value_len);
        int64_t col = ft_snap_find_col(&v, mt->value, mt->value_len);
        int missing = 0;
        if (row < 0 || (ft_snap_row_meta(&v, (uint32_t)row) & FT_ROW_PRESENT) == 0)
            missing = 1;
        else if (col < 0 || !ft_col_meta_present(ft_snap_col_meta(&v, (uint32_t)col)))
            missing = 2;
        else {
            ctx->scratch.len = 0;
            ctx->scratch.failed = 0;
            ft_render_metric(&ctx->scratch, &v, (uint32_t)row, (uint32_t)col);
        }
        if (ft_snap_retry(&v)) { /* the writer lapped this read: nothing above may be trusted */
            ctx->retries++;
            continue;
        }
        if (missing == 1)
            return error_reply(ctx, res, 404, "unknown switch '%.*s'", qlen(sw->value_len), sw->value);
        if (missing == 2)
            return error_reply(ctx, res, 404, "unknown metric '%.*s'", qlen(mt->value_len), mt->value);
        if (ctx->scratch.failed)
            return error_reply(ctx, res, 500, "out of memory");
        return set_body(ctx, res, 200);
    }
}

/* ---- ListMetrics ---- */

static int parse_count(const api_param_t *p, uint64_t *out)
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


/* Resolve a comma-separated list of names against the view; 0, or -ENOENT with lf->bad set, or -E2BIG. */
static int resolve_names(const ft_snap_t *v, const api_param_t *p, int metric, list_filter_t *lf)
{
    const char *s = p->value, *end = p->value + p->value_len;
    uint32_t *out = metric ? lf->cols : lf->rows, n = 0, cap = metric ? FT_MAX_COUNTERS_LIMIT : MAX_FILTER_ROWS;
    while (s <= end) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        const char *stop = c ? c : end;
        if (stop > s) {
            if (n == cap)
                return -E2BIG;
            int64_t i = metric ? ft_snap_find_col(v, s, (size_t)(stop - s)) : ft_snap_find_row(v, s, (size_t)(stop - s));
            int present = i >= 0 && (metric ? ft_col_meta_present(ft_snap_col_meta(v, (uint32_t)i))
                                            : (ft_snap_row_meta(v, (uint32_t)i) & FT_ROW_PRESENT) != 0);
            if (!present) {
                lf->bad = s;
                lf->bad_len = (size_t)(stop - s);
                lf->bad_is_metric = metric;
                return -ENOENT;
            }
            out[n++] = (uint32_t)i;
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
 * this worker's cache, or copied once out of the slot. NULL when the slot has
 * no such body (it did not fit: render it here instead).
 */
static api_body_t *cached_list(api_ctx_t *ctx, const ft_snap_t *v, int k)
{
    if (ctx->list_cache[k] != NULL && ctx->cache_gen[k] == v->gen && ctx->cache_epoch[k] == ctx->shm.hdr->epoch)
        return ctx->list_cache[k];
    uint64_t plain = ft_snap_hdr(v, FT_SLOT_BODY_LEN), off = k ? (plain + 7) / 8 * 8 : 0;
    uint64_t len = k ? ft_snap_hdr(v, FT_SLOT_BODY_GZ_LEN) : plain;
    if (len == 0 || plain == 0 || off > v->body_bytes || len > v->body_bytes - off)
        return NULL;
    api_body_t *b = malloc(sizeof(*b) + len);
    if (b == NULL)
        return NULL;
    b->refcnt = 1;
    b->len = (size_t)len;
    ft_seq_load_bytes(b->data, v->body, off, (size_t)len);
    return b;
}

static void list_metrics(api_ctx_t *ctx, const api_request_t *req, const api_query_t *q, api_response_t *res)
{
    const api_param_t *sw = api_query_get(q, P_SWITCH), *mt = api_query_get(q, P_METRIC), *lim = api_query_get(q, P_LIMIT),
                      *off = api_query_get(q, P_OFFSET);
    list_filter_t *lf = ctx->filter;
    memset(&lf->f, 0, sizeof(lf->f));
    lf->f.limit = UINT64_MAX;
    if (lim && parse_count(lim, &lf->f.limit) != 0)
        return error_reply(ctx, res, 400, "'limit' must be a whole number from 0 to 9999999999");
    if (off && parse_count(off, &lf->f.offset) != 0)
        return error_reply(ctx, res, 400, "'offset' must be a whole number from 0 to 9999999999");
    if (!has_data(ctx))
        return no_data(ctx, res);
    int plain = sw == NULL && mt == NULL && lim == NULL && off == NULL;
    for (;;) {
        ft_snap_t v;
        if (begin_read(ctx, req, &v, res))
            return;
        if (plain) {
            res->vary_encoding = 1;
            int k = req->accept_gzip && ft_snap_hdr(&v, FT_SLOT_BODY_GZ_LEN) != 0;
            api_body_t *b = cached_list(ctx, &v, k);
            if (b != NULL) {
                if (b != ctx->list_cache[k] && ft_snap_retry(&v)) {
                    ctx->retries++;
                    api_body_release(b);
                    continue;
                }
                if (b != ctx->list_cache[k]) {
                    api_body_release(ctx->list_cache[k]);
                    ctx->list_cache[k] = b;
                    ctx->cache_gen[k] = v.gen;
                    ctx->cache_epoch[k] = ctx->shm.hdr->epoch;
                }
                b->refcnt++;
                res->shared = b;
                res->status = 200;
                res->body = b->data;
                res->body_len = b->len;
                res->gzip = k;
                return;
            }
        }
        lf->f.rows = lf->f.cols = NULL;
        int r = 0;
        if (mt != NULL)
            r = resolve_names(&v, mt, 1, lf);
        if (r == 0 && sw != NULL)
            r = resolve_names(&v, sw, 0, lf);
        if (r == 0) {
            ctx->scratch.len = 0;
            ctx->scratch.failed = 0;
            ft_render_list(&ctx->scratch, &v, &lf->f);
        }
        if (ft_snap_retry(&v)) {
            ctx->retries++;
            continue;
        }
        if (r == -E2BIG)
            return error_reply(ctx, res, 400, "too many names in one filter");
        if (r == -ENOENT)
            return error_reply(ctx, res, 404, "unknown %s '%.*s'", lf->bad_is_metric ? "metric" : "switch", qlen(lf->bad_len), lf->bad);
        if (ctx->scratch.failed)
            return error_reply(ctx, res, 500, "out of memory");
        return set_body(ctx, res, 200);
    }
}

/* ---- counters ---- */

static void counters(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    static const char *const types[] = {"unknown", "int", "float", "text"};
    if (!has_data(ctx))
        return no_data(ctx, res);
    for (;;) {
        ft_snap_t v;
        if (begin_read(ctx, req, &v, res))
            return;
        ft_buf_t *b = &ctx->scratch;
        char tmp[64], name[FT_NAME_MAX + 1];
        b->len = 0;
        b->failed = 0;
        ft_buf_append(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "{\"generation\":%" PRIu64 ",\"counters\":[", v.gen));
        int first = 1;
        for (uint32_t c = 0; c < v.ncols; c++) {
            uint64_t meta = ft_snap_col_meta(&v, c);
            uint32_t t = ft_col_meta_type(meta);
            if (!ft_col_meta_present(meta))
                continue;
            uint32_t len = ft_snap_col_name(&v, c, name);
            ft_buf_append(b, first ? "{\"name\":" : ",{\"name\":", first ? 8 : 9);
            ft_render_string(b, name, len);
            ft_buf_append(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), ",\"type\":\"%s\"}", types[t <= 3 ? t : 0]));
            first = 0;
        }
        ft_buf_append(b, "]}", 2);
        if (ft_snap_retry(&v)) {
            ctx->retries++;
            continue;
        }
        return set_body(ctx, res, b->failed ? 500 : 200);
    }
}

/* ---- performance and health ---- */

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void api_summary(const api_ctx_t *ctx, uint64_t now, ft_api_summary_t *a)
{
    ft_api_summary_init(a);
    if (ctx->stats_hdr == NULL) {
        if (ctx->my_stats)
            ft_api_stats_merge(ctx->my_stats, now, a);
    } else {
        const ft_api_stats_header_t *h = ctx->stats_hdr;
        uint64_t n = atomic_load_explicit(&h->workers_configured, memory_order_relaxed);
        for (uint64_t i = 0; i < n && i < h->nworkers_max; i++)
            ft_api_stats_merge((const ft_api_worker_stats_t *)((const char *)h + h->worker_off + i * h->worker_size), now, a);
    }
    if (a->requests == 0)
        a->lat_min_us = 0;
}

static void send_json(api_ctx_t *ctx, api_response_t *res, int status, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(obj);
    if (s == NULL)
        return error_reply(ctx, res, 500, "out of memory");
    ctx->scratch.len = 0;
    ctx->scratch.failed = 0;
    ft_buf_puts(&ctx->scratch, s);
    free(s);
    res->etag[0] = '\0';
    set_body(ctx, res, status);
}

static uint64_t data_age_ms(const api_ctx_t *ctx, uint64_t now)
{
    uint64_t c = atomic_load_explicit(&ctx->shm.hdr->confirmed_ns, memory_order_relaxed);
    return c && now > c ? (now - c) / 1000000 : 0;
}

static void performance(api_ctx_t *ctx, api_response_t *res)
{
    uint64_t now = ft_now_ns();
    char ts[32];
    ft_fmt_iso8601(ts, now);
    ft_ingest_summary_t in;
    memset(&in, 0, sizeof(in));
    int data = has_data(ctx);
    if (ctx->attached)
        ft_ingest_stats_read(ft_shm_ingest_stats(&ctx->shm), now, &in);
    ft_api_summary_t a;
    api_summary(ctx, now, &a);
    json_t *o = json_object();
    json_object_set_new(o, "measure-timestamp", json_string(ts));
    json_object_set_new(o, "total_ingest_count_24", json_integer((json_int_t)in.count));
    json_object_set_new(o, "total_ingest_failures_24", json_integer((json_int_t)in.failures));
    json_object_set_new(o, "max_ingest_duration_ms", json_real(ms(in.dur_max_us)));
    json_object_set_new(o, "avg_ingest_duration_ms", json_real(in.attempts ? ms(in.dur_sum_us) / (double)in.attempts : 0.0));
    json_object_set_new(o, "min_ingest_duration_ms", json_real(ms(in.dur_min_us)));
    json_object_set_new(o, "total_api_requests_24", json_integer((json_int_t)a.requests));
    json_object_set_new(o, "total_api_requests_failures_24", json_integer((json_int_t)a.failures));
    json_object_set_new(o, "min_api_latency_ms", json_real(ms(a.lat_min_us)));
    json_object_set_new(o, "avg_api_latency_ms", json_real(a.requests ? ms(a.lat_sum_us) / (double)a.requests : 0.0));
    json_object_set_new(o, "max_api_latency_ms", json_real(ms(a.lat_max_us)));
    json_object_set_new(o, "p50_api_latency_ms", json_real(ms(ft_hist_quantile_us(a.hist, 0.50))));
    json_object_set_new(o, "p99_api_latency_ms", json_real(ms(ft_hist_quantile_us(a.hist, 0.99))));
    json_object_set_new(o, "total_api_client_errors_24", json_integer((json_int_t)a.client_errors));
    json_object_set_new(o, "total_rows_rejected_24", json_integer((json_int_t)in.rows_rejected));
    json_object_set_new(o, "data_age_ms", data ? json_integer((json_int_t)data_age_ms(ctx, now)) : json_null());
    json_object_set_new(o, "generation", json_integer(data ? (json_int_t)atomic_load(&ctx->shm.hdr->gen) : 0));
    json_object_set_new(o, "seqlock_retries", json_integer((json_int_t)a.seqlock_retries));
    send_json(ctx, res, 200, o);
}

static void health(api_ctx_t *ctx, api_response_t *res)
{
    uint64_t now = ft_now_ns();
    int data = has_data(ctx);
    uint64_t age = data ? data_age_ms(ctx, now) : 0;
    const char *status = !data ? "down" : (double)age > ctx->cfg.stale_after_s * 1000 ? "degraded" : "ok";
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "generation", json_integer(data ? (json_int_t)atomic_load(&ctx->shm.hdr->gen) : 0));
    json_object_set_new(o, "data_age_ms", data ? json_integer((json_int_t)age) : json_null());
    json_object_set_new(o, "workers",
                        json_integer(ctx->stats_hdr ? (json_int_t)atomic_load(&ctx->stats_hdr->workers_alive) : 1));
    if (ctx->attached)
        json_object_set_new(o, "ingest", json_string(atomic_load(&ctx->shm.hdr->ingest_state) ? "failing" : "ok"));
    send_json(ctx, res, data ? 200 : 503, o);
}

/* ---- the answer cache ---- */

/* The variant: path, query and, for the one answer that has a gzip form, the encoding. */
static uint64_t uri_hash(const api_request_t *req)
{
    uint64_t h = ft_snap_name_hash(req->path, req->path_len) ^ (ft_snap_name_hash(req->query, req->query_len) * 31);
    return req->accept_gzip ? h ^ 0x9e3779b97f4a7c15ULL : h;
}

static int uri_eq(const api_cache_entry_t *e, const api_request_t *req)
{
    return e->uri_len == req->path_len + 1 + req->query_len && memcmp(e->uri, req->path, req->path_len) == 0 &&
           e->uri[req->path_len] == '?' && memcmp(e->uri + req->path_len + 1, req->query, req->query_len) == 0;
}

static int cache_lookup(api_ctx_t *ctx, const api_request_t *req, uint64_t h, api_response_t *res)
{
    api_cache_entry_t *e = &ctx->cache[h % CACHE_SLOTS];
    uint64_t g = atomic_load_explicit(&ctx->shm.hdr->gen, memory_order_acquire);
    if (e->body == NULL || e->gen != g || e->hash != h || e->epoch != ctx->shm.hdr->epoch || e->gzip != req->accept_gzip ||
        !uri_eq(e, req))
        return 0;
    ctx->cache_hits++;
    memcpy(res->etag, e->etag, sizeof(res->etag));
    res->gen = g;
    if (etag_matches(req, res->etag)) {
        not_modified(res);
        return 1;
    }
    e->body->refcnt++;
    res->shared = e->body;
    res->status = 200;
    res->body = e->body->data;
    res->body_len = e->body->len;
    res->gzip = e->body_gzip;
    res->vary_encoding = e->vary_encoding;
    return 1;
}

/* Keep a fresh 200 answer for the rest of its generation; the response then sends the kept copy. */
static void cache_store(api_ctx_t *ctx, const api_request_t *req, uint64_t h, api_response_t *res)
{
    if (res->status != 200 || res->gen == 0 || req->path_len + 1 + req->query_len > CACHE_URI_MAX)
        return;
    api_body_t *b = res->shared;
    if (b == NULL) {
        if ((b = malloc(sizeof(*b) + res->body_len)) == NULL)
            return;
        b->refcnt = 1; /* the response's reference */
        b->len = res->body_len;
        memcpy(b->data, res->body, res->body_len);
        res->shared = b;
        res->body = b->data;
    }
    api_cache_entry_t *e = &ctx->cache[h % CACHE_SLOTS];
    api_body_release(e->body);
    b->refcnt++; /* the cache's reference */
    e->body = b;
    e->epoch = ctx->shm.hdr->epoch;
    e->gen = res->gen;
    e->hash = h;
    e->gzip = req->accept_gzip;
    e->body_gzip = res->gzip;
    e->vary_encoding = res->vary_encoding;
    e->uri_len = req->path_len + 1 + req->query_len;
    memcpy(e->uri, req->path, req->path_len);
    e->uri[req->path_len] = '?';
    memcpy(e->uri + req->path_len + 1, req->query, req->query_len);
    memcpy(e->etag, res->etag, sizeof(e->etag));
    ctx->cache_misses++;
}

/* ---- routing ---- */

static int path_is(const api_request_t *req, const char *p)
{
    return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

void api_handle(api_ctx_t *ctx, const api_request_t *in, api_response_t *res)
{
    /* No query and no If-None-Match are empty strings from here on (memcmp/memcpy never see NULL). */
    api_request_t local = *in;
    const api_request_t *req = &local;
    if (local.query == NULL)
        local.query = "", local.query_len = 0;
    if (local.path == NULL)
        local.path = "", local.path_len = 0;
    memset(res, 0, sizeof(*res));
    res->route = FT_ROUTE_OTHER;
    if (req->path_len + req->query_len > ctx->cfg.max_uri)
        return error_reply(ctx, res, 414, "URI longer than %zu bytes", ctx->cfg.max_uri);
    if (path_is(req, "/telemetry/GetMetric") || path_is(req, "/telemetry/get_metric"))
        res->route = FT_ROUTE_GET_METRIC;
    else if (path_is(req, "/telemetry/ListMetrics") || path_is(req, "/telemetry/list_metrics"))
        res->route = FT_ROUTE_LIST_METRICS;
    else if (path_is(req, "/telemetry/counters"))
        res->route = FT_ROUTE_COUNTERS;
    else if (path_is(req, "/telemetry/performance"))
        res->route = FT_ROUTE_PERFORMANCE;
    else if (path_is(req, "/health"))
        res->route = FT_ROUTE_HEALTH;
    else if (path_is(req, "/metrics"))
        res->route = FT_ROUTE_METRICS;
    else
        return error_reply(ctx, res, 404, "no such path '%.*s'", qlen(req->path_len), req->path);
    int route = res->route;
    if (!(req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) && !(req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0))
        return error_reply(ctx, res, 405, "method '%.*s' not allowed: use GET or HEAD", qlen(req->method_len), req->method);
    attach_now(ctx);
    int cacheable = route == FT_ROUTE_GET_METRIC || route == FT_ROUTE_LIST_METRICS || route == FT_ROUTE_COUNTERS;
    uint64_t h = cacheable ? uri_hash(req) : 0;
    if (cacheable && has_data(ctx) && cache_lookup(ctx, req, h, res))
        return;
    char why[160];
    if (api_query_parse(ctx->query, req->query, req->query_len, why, sizeof(why)) != 0)
        return error_reply(ctx, res, 400, "%s", why);
    switch (route) {
    case FT_ROUTE_GET_METRIC:
        get_metric(ctx, req, ctx->query, res);
        return cache_store(ctx, req, h, res);
    case FT_ROUTE_LIST_METRICS:
        list_metrics(ctx, req, ctx->query, res);
        return cache_store(ctx, req, h, res);
    case FT_ROUTE_COUNTERS:
        counters(ctx, req, res);
        return cache_store(ctx, req, h, res);
    case FT_ROUTE_PERFORMANCE:
        return performance(ctx, res);
    case FT_ROUTE_METRICS:
        if (api_prom_render(ctx, &ctx->scratch, ft_now_ns()) != 0)
            return error_reply(ctx, res, 500, "out of memory");
        res->content_type = "text/plain; version=0.0.4; charset=utf-8";
        return set_body(ctx, res, 200);
    default:
        return health(ctx, res);
    }
}
