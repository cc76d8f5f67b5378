#include "prom.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apistats.h"
#include "render.h"
#include "routes.h"
#include "snapshot.h"
#include "stats.h"
#include "util.h"


static void put(ft_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(ft_buf_t *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        ft_buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void head(ft_buf_t *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram from our log-linear microsecond buckets, cut at powers of two (in seconds). */
static void histogram(ft_buf_t *b, const char *name, const char *help, const uint64_t *hist, uint64_t sum_us)
{
    head(b, name, "histogram", help);
    uint64_t cum = 0, total = 0;
    for (uint32_t i = 0; i < FT_HIST_BUCKETS; i++)
        total += hist[i];
    uint32_t i = 0;
    for (uint32_t e = 0; e <= 26; e++) { /* le = 2^e microseconds, 1 µs .. 67 s */
        uint64_t le_us = 1ULL << e;
        while (i < FT_HIST_BUCKETS && ft_lathist_upper_us(i) <= le_us)
            cum += hist[i++];
        put(b, "%s_bucket{le=\"%.6g\"} %" PRIu64 "\n", name, (double)le_us / 1e6, cum);
    }
    put(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name, total, name, (double)sum_us / 1e6, name,
        total);
}

/* A Prometheus metric name from a column name: [a-zA-Z0-9_], anything else becomes '_'. */
static void metric_name(char *out, const char *col, size_t len)
{
    size_t o = (size_t)sprintf(out, "fabtel_switch_");
    for (size_t i = 0; i < len; i++) {
        char c = col[i];
        out[o++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
    }
    out[o] = '\0';
}

/* A label value: backslash, double quote and newline escaped; other bytes as they are (names are UTF-8). */
static void label_value(ft_buf_t *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' || s[i] == '"')
            ft_buf_append(b, "\\", 1), ft_buf_append(b, &s[i], 1);
        else if (s[i] == '\n')
            ft_buf_append(b, "\\n", 2);
        else
            ft_buf_append(b, &s[i], 1);
    }
}

static int is_counter(const char *list, const char *name, size_t len)
{
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == len && memcmp(p, name, len) == 0)
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

/* The labels of the source ingestd reads (`source`, and `shard`/`shards` when it keeps one shard), into b. */
static void source_labels(api_ctx_t *ctx, ft_buf_t *b)
{
    char url[FT_SHM_SOURCE_WORDS * 8 + 1];
    uint32_t shard = 0, shards = 0;
    if (ft_shm_source(&ctx->shm, url, sizeof(url), &shard, &shards) != 0)
        snprintf(url, sizeof(url), "unknown");
    ft_buf_append(b, "{source=\"", 9);
    label_value(b, url, strlen(url));
    ft_buf_append(b, "\"", 1);
    if (shards > 1)
        put(b, ",shard=\"%u\",shards=\"%u\"", shard, shards);
    ft_buf_append(b, "} ", 2);
}

/*
 * Per source (one ingestd per segment): whether its last fetch succeeded — 0 as well while no ingestd runs —
 * when it last did, and the data's age, so an alert needs neither absent() nor arithmetic on timestamps.
 */
static void source(api_ctx_t *ctx, ft_buf_t *b, const ft_ingest_summary_t *in, uint64_t now)
{
    int ok = ft_shm_writer_pid(&ctx->shm) != 0 && in->last_ok_ns != 0 && in->consecutive_failures == 0;
    head(b, "fabtel_source_scrape_ok", "gauge", "1 when ingestd runs and its last fetch of the source succeeded, else 0.");
    put(b, "fabtel_source_scrape_ok");
    source_labels(ctx, b);
    put(b, "%d\n", ok);
    if (in->last_ok_ns != 0) {
        head(b, "fabtel_source_last_success_timestamp_seconds", "gauge", "When ingestd last fetched the source successfully.");
        put(b, "fabtel_source_last_success_timestamp_seconds");
        source_labels(ctx, b);
        put(b, "%.3f\n", (double)in->last_ok_ns / 1e9);
    }
    if (ft_shm_confirmed_ns(&ctx->shm) != 0) {
        head(b, "fabtel_data_age_seconds", "gauge", "Time since the source last confirmed the data.");
        put(b, "fabtel_data_age_seconds");
        source_labels(ctx, b);
        put(b, "%.3f\n", (double)ft_shm_data_age_ms(&ctx->shm, now) / 1e3);
    }
}

static void service(api_ctx_t *ctx, ft_buf_t *b, uint64_t now)
{
    ft_api_summary_t a;
    const ft_api_stats_header_t *h = ctx->stats_hdr;
    if (h != NULL) {
        ft_api_seg_summary(h, now, &a);
    } else {
        ft_api_summary_init(&a);
        if (ctx->my_stats != NULL)
            ft_api_stats_merge(ctx->my_stats, now, &a);
    }
    head(b, "fabtel_api_requests_total", "counter", "Answers given by apid, by route and status.");
    for (uint32_t r = 0; r < FT_ROUTES; r++)
        for (int c = 0; c < FT_STATUS_CLASSES; c++)
            if (a.by_route_status[r][c] && api_route_label((int)r) != NULL)
                put(b, "fabtel_api_requests_total{route=\"%s\",status=\"%s\"} %" PRIu64 "\n", api_route_label((int)r),
                    ft_status_class_label(c), a.by_route_status[r][c]);
    histogram(b, "fabtel_api_request_duration_seconds", "Time apid spent answering a request.", a.hist_total, a.lat_sum_us_total);
    head(b, "fabtel_api_seqlock_retries_total", "counter", "Snapshot reads redone because the writer lapped them.");
    put(b, "fabtel_api_seqlock_retries_total %" PRIu64 "\n", a.seqlock_retries);
    head(b, "fabtel_apid_workers_alive", "gauge", "apid worker processes alive.");
    put(b, "fabtel_apid_workers_alive %" PRIu64 "\n", h ? (uint64_t)atomic_load(&h->workers_alive) : 1);
    head(b, "fabtel_apid_worker_restarts_total", "counter", "apid workers restarted by the master.");
    put(b, "fabtel_apid_worker_restarts_total %" PRIu64 "\n", h ? (uint64_t)atomic_load(&h->restarts) : 0);
    if (!ctx->attached)
        return;
    ft_ingest_summary_t in;
    if (ft_ingest_stats_read(ft_shm_ingest_stats(&ctx->shm), now, &in) != 0)
        return;
    head(b, "fabtel_ingest_total", "counter", "Ingest attempts by outcome.");
    put(b, "fabtel_ingest_total{outcome=\"published\"} %" PRIu64 "\nfabtel_ingest_total{outcome=\"unchanged\"} %" PRIu64
           "\nfabtel_ingest_total{outcome=\"failed\"} %" PRIu64 "\n",
        in.total_count - in.total_unchanged, in.total_unchanged, in.total_failures);
    head(b, "fabtel_ingest_failures_total", "counter", "Failed ingest attempts by cause.");
    for (int c = 0; c < FT_FAIL_KNOWN; c++)
        put(b, "fabtel_ingest_failures_total{cause=\"%s\"} %" PRIu64 "\n", ft_fail_cause_label(c), in.failures_by_cause[c]);
    head(b, "fabtel_ingest_rows_rejected_total", "counter", "CSV rows rejected in published bodies.");
    put(b, "fabtel_ingest_rows_rejected_total %" PRIu64 "\n", in.total_rows_rejected);
    histogram(b, "fabtel_ingest_duration_seconds", "Ingest attempt duration, first response byte to publish.", in.hist_total,
              in.total_dur_sum_us);
    head(b, "fabtel_generation", "gauge", "Generation of the published snapshot.");
    put(b, "fabtel_generation %" PRIu64 "\n", ft_shm_generation(&ctx->shm));
    source(ctx, b, &in, now);
}

/* The fabric: one series per switch and numeric counter, from one validated snapshot. */
/* One sample: the cell in the column's base unit (an integer counter of 4-byte units times 4, say). */
static void sample(ft_buf_t *b, const ft_snap_t *v, uint32_t type, uint64_t cell, uint32_t scale)
{
    int64_t i = (int64_t)cell;
    if (type == FT_COL_UINT) { /* exact while the product fits 64 bits, else a float (Prometheus keeps floats anyway) */
        if (cell <= UINT64_MAX / scale)
            ft_render_cell(b, v, type, cell * scale);
        else
            put(b, "%.17g", (double)cell * scale);
        return;
    }
    if (scale == 1 || (type == FT_COL_INT && i >= 0 && (uint64_t)i <= UINT64_MAX / scale && (uint64_t)i * scale <= INT64_MAX)) {
        if (scale != 1)
            cell = (uint64_t)(i * (int64_t)scale);
        ft_render_cell(b, v, type, cell);
        return;
    }
    double d;
    if (type == FT_COL_INT)
        d = (double)i;
    else
        memcpy(&d, &cell, sizeof(d));
    put(b, "%.17g", d * scale); /* past int64 or a float: a float sample, as Prometheus keeps them anyway */
}

/* One column's family: HELP, TYPE and a sample per live switch. */
static void family(api_ctx_t *ctx, ft_buf_t *b, const ft_snap_t *v, uint32_t c, uint64_t meta, const char *extra)
{
    char col[FT_NAME_MAX + 1], row[FT_NAME_MAX + 1], mname[2 * FT_NAME_MAX + 32];
    uint32_t type = ft_col_meta_type(meta), scale = ft_col_meta_scale(meta);
    uint32_t cl = ft_snap_col_name(v, c, col);
    int counter = ft_col_meta_counter(meta) || is_counter(ctx->cfg.prom_counters, col, cl);
    metric_name(mname, col, cl);
    if (counter)
        strcat(mname, "_total");
    put(b, "# HELP %s Column '%s' of the fabric's CSV, per switch%s.\n# TYPE %s %s\n", mname, mname + 14,
        scale != 1 ? " (in base units: the CSV's value times its scale)" : "", mname, counter ? "counter" : "gauge");
    for (uint32_t r = 0; r < v->nrows; r++) {
        uint64_t cell = ft_snap_cell(v, r, c);
        if (!ft_snap_row_live(v, r) || cell == (ft_col_is_integer(type) ? FT_CELL_NULL_INT : FT_CELL_NULL_FLOAT))
            continue;
        ft_buf_append(b, mname, strlen(mname));
        ft_buf_append(b, "{switch_id=\"", 12);
        label_value(b, row, ft_snap_row_name(v, r, row));
        ft_buf_append(b, extra, strlen(extra));
        ft_buf_append(b, "\"} ", 3);
        sample(b, v, type, cell, scale);
        ft_buf_append(b, "\n", 1);
    }
}

/*
 * fabtel_switch_present: 1 for a switch in the current generation, 0 for one the fabric still remembers
 * (gone, not yet forgotten: --forget-after), so a switch that disappears is a 0 rather than a missing series.
 */
static void presence(ft_buf_t *b, const ft_snap_t *v, const char *extra)
{
    char row[FT_NAME_MAX + 1];
    head(b, "fabtel_switch_present", "gauge", "1 when the switch is in the current data, 0 when it left and is still remembered.");
    for (uint32_t r = 0; r < v->nrows; r++) {
        uint64_t m = ft_snap_row_meta(v, r);
        if (!(m & FT_ROW_USED))
            continue;
        ft_buf_append(b, "fabtel_switch_present{switch_id=\"", 33);
        label_value(b, row, ft_snap_row_name(v, r, row));
        ft_buf_append(b, extra, strlen(extra));
        put(b, "\"} %d\n", ft_row_meta_live(m));
    }
}

/* The fabric: one series per switch and numeric counter, from one validated snapshot. */
static void fabric(api_ctx_t *ctx, ft_buf_t *b)
{
    if (!ctx->attached || ft_shm_generation(&ctx->shm) == 0)
        return;
    /* A shard's series carry its index, so the union of shards in one engine can be told apart and checked. */
    char url[FT_SHM_SOURCE_WORDS * 8 + 1], extra[32] = "";
    uint32_t shard = 0, shards = 0;
    if (ft_shm_source(&ctx->shm, url, sizeof(url), &shard, &shards) == 0 && shards > 1)
        snprintf(extra, sizeof(extra), "\",shard=\"%u", shard);
    size_t start = b->len;
    for (;;) {
        ft_snap_t v;
        ft_snap_begin(&v, &ctx->shm);
        b->len = start;
        for (uint32_t c = 0; c < v.ncols; c++) {
            uint64_t meta = ft_snap_col_meta(&v, c);
            uint32_t type = ft_col_meta_type(meta);
            if (ft_col_meta_present(meta) && ft_col_is_numeric(type))
                family(ctx, b, &v, c, meta, extra);
        }
        presence(b, &v, extra);
        if (!ft_snap_retry(&v))
            return;
        ctx->retries++;
    }
}

int api_prom_render(api_ctx_t *ctx, ft_buf_t *b, uint64_t now_ns)
{
    b->len = 0;
    b->failed = 0;
    service(ctx, b, now_ns);
    fabric(ctx, b);
    return b->failed ? -ENOMEM : 0;
}
