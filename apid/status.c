/*
 * apid/status — the service's own documents: health, performance (the last
 * 24 h of ingest and API figures, merged across workers) and /metrics. Built
 * with jansson (not on the telemetry hot path); figures come from shm/stats.h
 * and shm/apistats.h, the live header words from shm/segment.h.
 */
#include <jansson.h>

#include "apistats.h"
#include "histread.h"
#include "prom.h"
#include "reply.h"
#include "routes.h"
#include "stats.h"
#include "util.h"

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

/* Every worker's figures when run by the master; this one's alone in tests. */
static void api_summary(const api_ctx_t *ctx, uint64_t now, ft_api_summary_t *a)
{
    if (ctx->stats_hdr != NULL)
        return ft_api_seg_summary(ctx->stats_hdr, now, a);
    ft_api_summary_init(a);
    if (ctx->my_stats)
        ft_api_stats_merge(ctx->my_stats, now, a);
    if (a->requests == 0)
        a->lat_min_us = 0;
}

static void put_ms(json_t *o, const char *key, uint64_t us)
{
    json_object_set_new(o, key, json_real(ms(us)));
}

static void put_int(json_t *o, const char *key, uint64_t v)
{
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void ingest_figures(json_t *o, const ft_ingest_summary_t *in)
{
    put_int(o, "total_ingest_count_24", in->count);
    put_int(o, "total_ingest_failures_24", in->failures);
    put_ms(o, "max_ingest_duration_ms", in->dur_max_us);
    json_object_set_new(o, "avg_ingest_duration_ms", json_real(in->attempts ? ms(in->dur_sum_us) / (double)in->attempts : 0.0));
    put_ms(o, "min_ingest_duration_ms", in->dur_min_us);
}

static void api_figures(json_t *o, const ft_api_summary_t *a)
{
    put_int(o, "total_api_requests_24", a->requests);
    put_int(o, "total_api_requests_failures_24", a->failures);
    put_ms(o, "min_api_latency_ms", a->lat_min_us);
    json_object_set_new(o, "avg_api_latency_ms", json_real(a->requests ? ms(a->lat_sum_us) / (double)a->requests : 0.0));
    put_ms(o, "max_api_latency_ms", a->lat_max_us);
    put_ms(o, "p50_api_latency_ms", ft_lathist_quantile_us(a->hist, 0.50));
    put_ms(o, "p99_api_latency_ms", ft_lathist_quantile_us(a->hist, 0.99));
    put_int(o, "total_api_client_errors_24", a->client_errors);
}

/* What the history budget keeps at the current rate; null without history. */
static void history_figures(api_ctx_t *ctx, json_t *o, uint64_t now)
{
    ft_hist_windows_t w;
    int have = api_history_windows(ctx, now, &w) == 0;
    json_object_set_new(o, "history_window_s", have ? json_real(w.raw_s) : json_null());
    json_object_set_new(o, "history_rollup_window_s", have ? json_real(w.rollup_s) : json_null());
    json_object_set_new(o, "history_bytes_per_sample", have ? json_real(w.bytes_per_sample) : json_null());
    json_object_set_new(o, "history_bytes", have ? json_integer((json_int_t)w.total_bytes) : json_null());
    json_object_set_new(o, "history_series", have ? json_integer((json_int_t)w.entries) : json_null());
}

void api_performance(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    (void)req;
    uint64_t now = ft_now_ns();
    char ts[32];
    ft_fmt_iso8601(ts, now);
    ft_ingest_summary_t in = {0};
    int data = api_has_data(ctx);
    if (ctx->attached)
        ft_ingest_stats_read(ft_shm_ingest_stats(&ctx->shm), now, &in);
    ft_api_summary_t a;
    api_summary(ctx, now, &a);
    json_t *o = json_object();
    json_object_set_new(o, "measure-timestamp", json_string(ts));
    ingest_figures(o, &in);
    api_figures(o, &a);
    put_int(o, "total_rows_rejected_24", in.rows_rejected);
    json_object_set_new(o, "data_age_ms", data ? json_integer((json_int_t)ft_shm_data_age_ms(&ctx->shm, now)) : json_null());
    put_int(o, "generation", data ? ft_shm_generation(&ctx->shm) : 0);
    put_int(o, "seqlock_retries", a.seqlock_retries);
    history_figures(ctx, o, now);
    api_reply_json(ctx, res, 200, o);
}

/*
 * The seed-003 fields from orchd's last /health (apid/probe.h): database "unhealthy" when orchd does not answer,
 * its counts null then; and each daemon behind the front door: "ok", "down", or "unknown" before the first answer.
 */
static void put_components(api_ctx_t *ctx, json_t *o)
{
    char ts[32];
    ft_fmt_iso8601(ts, ft_now_ns());
    json_object_set_new(o, "timestamp", json_string(ts));
    const api_component_t *orchd = &ctx->components[API_UPSTREAM_ORCHD];
    json_object_set_new(o, "database", json_string(orchd->state == 1 && orchd->db_healthy ? "healthy" : "unhealthy"));
    json_object_set_new(o, "active_deployments",
                        orchd->state == 1 && orchd->active_deployments >= 0 ? json_integer(orchd->active_deployments) : json_null());
    json_object_set_new(o, "active_workers", orchd->state == 1 && orchd->active_workers >= 0 ? json_integer(orchd->active_workers) : json_null());
    json_t *c = json_object();
    for (int i = 0; i < API_UPSTREAMS; i++) {
        int st = ctx->components[i].state;
        json_object_set_new(c, ctx->cfg.upstreams[i].name ? ctx->cfg.upstreams[i].name : "?",
                            json_string(st == 1 ? "ok" : st == -1 ? "down" : "unknown"));
    }
    json_object_set_new(o, "components", c);
}

void api_health(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    (void)req;
    int data = api_has_data(ctx);
    uint64_t age = data ? ft_shm_data_age_ms(&ctx->shm, ft_now_ns()) : 0;
    const char *status = !data ? "down" : (double)age > ctx->cfg.stale_after_s * 1000 ? "degraded" : "ok";
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(status));
    put_int(o, "generation", data ? ft_shm_generation(&ctx->shm) : 0);
    json_object_set_new(o, "data_age_ms", data ? json_integer((json_int_t)age) : json_null());
    put_int(o, "workers", ctx->stats_hdr ? atomic_load_explicit(&ctx->stats_hdr->workers_alive, memory_order_relaxed) : 1);
    if (ctx->attached)
        json_object_set_new(o, "ingest", json_string(ft_shm_ingest_failing(&ctx->shm) ? "failing" : "ok"));
    put_components(ctx, o);
    api_reply_json(ctx, res, data ? 200 : 503, o); /* the status is telemetry's: a daemon down behind apid does not drop it */
}

void api_root(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    (void)req;
    if (ctx->cfg.web_root == NULL)
        return api_reply_error(ctx, res, 404, "no dashboard here (apid runs without --web-root); the API is under /telemetry/");
    res->location = "/ui/";
    json_t *o = json_object();
    json_object_set_new(o, "location", json_string("/ui/"));
    api_reply_json(ctx, res, 302, o);
}

void api_metrics(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    (void)req;
    if (api_prom_render(ctx, &ctx->scratch, ft_now_ns()) != 0)
        return api_reply_error(ctx, res, 500, "out of memory");
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    api_reply_scratch(ctx, res, 200);
}
