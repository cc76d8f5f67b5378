/*
 * apid/history — GET /telemetry/history: series of the history file
 * (shm/histread.h), raw or in steps, values or rates.
 *
 * An answer is a function of the question and the generation it was read
 * at: the default `to` is that generation's publication time and no sample
 * after it is served, so the answer cache and ETags work as for the other
 * telemetry answers, and so does the front door's long poll. The history
 * file is found through the segment header (ft_shm_history_path) and mapped
 * once per worker; a new file (another epoch) is mapped again.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "histread.h"
#include "json.h"
#include "log.h"
#include "query.h"
#include "reply.h"
#include "routes.h"
#include "util.h"

#define MAX_NAMES 64
#define MAX_INCARNATIONS 16
#define MAX_SERIES 1024
#define DEFAULT_WINDOW_MS (15 * 60 * 1000)

static const char *const P_SWITCH[] = {"switch_id", "switch_name", NULL};
static const char *const P_METRIC[] = {"metric", "metric_name", NULL};
static const char *const P_FROM[] = {"from", "start", NULL};
static const char *const P_TO[] = {"to", "end", NULL};
static const char *const P_STEP[] = {"step", NULL};
static const char *const P_AGG[] = {"agg", NULL};
static const char *const P_RATE[] = {"rate", NULL};

typedef struct hist_query {
    int64_t from, to, step_ms; /* step_ms 0: raw, unless the window needs steps */
    const char *agg;
    int rate, step_given;
    const char *names[MAX_NAMES], *metrics[MAX_NAMES];
    size_t name_len[MAX_NAMES], metric_len[MAX_NAMES];
    int nnames, nmetrics;
} hist_query_t;

typedef struct hist_series {
    uint32_t entry, ctr, type, scale;
} hist_series_t;

/* The worker's mapping of the history file the segment names; 0, or -ENOENT when there is none. */
int api_history_attach(api_ctx_t *ctx)
{
    char path[FT_SHM_HIST_PATH_WORDS * 8 + 1];
    uint64_t epoch = ft_shm_history_path(&ctx->shm, path, sizeof(path));
    if (epoch == 0)
        return -ENOENT;
    if (ctx->hist != NULL && ctx->hist_epoch == epoch)
        return 0;
    uint64_t now = ft_mono_ns();
    if (epoch == ctx->hist_bad_epoch && now - ctx->hist_bad_ns < 1000000000ULL)
        return -EAGAIN; /* refused a moment ago: try again at most once a second, not on every request */
    if (ctx->hist == NULL && (ctx->hist = calloc(1, sizeof(*ctx->hist))) == NULL)
        return -ENOMEM;
    if (ctx->hist_epoch != 0)
        ft_hist_reader_close(ctx->hist);
    ctx->hist_epoch = 0;
    char why[300];
    int r = ft_hist_reader_open(ctx->hist, path, why, sizeof(why));
    if (r == 0 && ctx->hist->map.hdr->epoch != epoch) {
        ft_hist_reader_close(ctx->hist);
        snprintf(why, sizeof(why), "file epoch differs from the one announced (being replaced)");
        r = -EAGAIN;
    }
    if (r != 0) {
        if (epoch != ctx->hist_bad_epoch) /* once per file, not once per request */
            ft_warn("event=history_unavailable history=%s reason=\"%s\"", path, why);
        ctx->hist_bad_epoch = epoch, ctx->hist_bad_ns = now;
        return r;
    }
    ctx->hist_epoch = epoch, ctx->hist_bad_epoch = 0;
    return 0;
}

void api_history_detach(api_ctx_t *ctx)
{
    if (ctx->hist != NULL && ctx->hist_epoch != 0)
        ft_hist_reader_close(ctx->hist);
    free(ctx->hist);
    ctx->hist = NULL;
    ctx->hist_epoch = 0;
}

int api_history_windows(api_ctx_t *ctx, uint64_t now_ns, ft_hist_windows_t *w)
{
    if (!ctx->attached || api_history_attach(ctx) != 0)
        return -ENOENT;
    ft_hist_windows(ctx->hist, (int64_t)(now_ns / 1000000), w);
    return 0;
}

/* "a,b,c" into up to MAX_NAMES names; -E2BIG past it, -EINVAL for an empty name. */
static int split_names(const ft_param_t *p, const char **out, size_t *lens, int *n)
{
    *n = 0;
    const char *s = p->value, *end = p->value + p->value_len;
    while (s <= end) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        const char *e = c ? c : end;
        if (e == s)
            return -EINVAL;
        if (*n == MAX_NAMES)
            return -E2BIG;
        out[*n] = s, lens[(*n)++] = (size_t)(e - s);
        s = e + 1;
    }
    return 0;
}

static int parse_seconds_ms(const ft_param_t *p, int64_t *ms)
{
    double v;
    if (ft_parse_f64(p->value, p->value_len, &v) != 0 || !(v > 0) || v > 1e9)
        return -EINVAL;
    *ms = (int64_t)llround(v * 1000.0);
    return *ms >= 1 ? 0 : -EINVAL;
}

static int valid_agg(const char *s, size_t len)
{
    static const char *const aggs[] = {"avg", "min", "max", "last", "sum", "count"};
    for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++)
        if (strlen(aggs[i]) == len && memcmp(aggs[i], s, len) == 0)
            return 1;
    return 0;
}

/* The question, checked. 1 when an error answer is made. gen_t: the generation's publication time (ms). */
static int parse_query(api_ctx_t *ctx, api_response_t *res, int64_t gen_t, hist_query_t *q)
{
    const ft_param_t *sw = ft_query_get(ctx->query, P_SWITCH), *mt = ft_query_get(ctx->query, P_METRIC);
    const ft_param_t *from = ft_query_get(ctx->query, P_FROM), *to = ft_query_get(ctx->query, P_TO);
    const ft_param_t *step = ft_query_get(ctx->query, P_STEP), *agg = ft_query_get(ctx->query, P_AGG);
    const ft_param_t *rate = ft_query_get(ctx->query, P_RATE);
    memset(q, 0, sizeof(*q));
    if (sw == NULL || sw->value_len == 0)
        return api_reply_error_at(ctx, res, 400, "switch_id", -1, "missing parameter 'switch_id' (one or more, comma-separated)"), 1;
    if (mt == NULL || mt->value_len == 0)
        return api_reply_error_at(ctx, res, 400, "metric", -1, "missing parameter 'metric' (one or more, comma-separated)"), 1;
    if (split_names(sw, q->names, q->name_len, &q->nnames) != 0)
        return api_reply_error_at(ctx, res, 400, "switch_id", -1, "'switch_id' takes 1 to %d non-empty names", MAX_NAMES), 1;
    if (split_names(mt, q->metrics, q->metric_len, &q->nmetrics) != 0)
        return api_reply_error_at(ctx, res, 400, "metric", -1, "'metric' takes 1 to %d non-empty names", MAX_NAMES), 1;
    q->to = gen_t;
    if (to != NULL && ft_parse_time_ms(to->value, to->value_len, &q->to) != 0)
        return api_reply_error_at(ctx, res, 400, "to", -1, "'to' is not a time: RFC 3339 (2026-12-06T01:00:00Z) or Unix seconds"), 1;
    q->from = q->to - DEFAULT_WINDOW_MS;
    if (from != NULL && ft_parse_time_ms(from->value, from->value_len, &q->from) != 0)
        return api_reply_error_at(ctx, res, 400, "from", -1, "'from' is not a time: RFC 3339 (2026-12-06T01:00:00Z) or Unix seconds"), 1;
    if (q->from > q->to)
        return api_reply_error_at(ctx, res, 400, "from", -1, "'from' is after 'to'"), 1;
    if (q->to > gen_t)
        q->to = gen_t; /* nothing after the generation answered from */
    if (step != NULL && parse_seconds_ms(step, &q->step_ms) != 0)
        return api_reply_error_at(ctx, res, 400, "step", -1, "'step' is a number of seconds, at least 0.001"), 1;
    q->step_given = step != NULL;
    q->agg = "avg";
    if (agg != NULL && !valid_agg(agg->value, agg->value_len))
        return api_reply_error_at(ctx, res, 400, "agg", -1, "'agg' is one of avg, min, max, last, sum, count"), 1;
    if (agg != NULL)
        q->agg = agg->value_len == 3 && memcmp(agg->value, "min", 3) == 0   ? "min"
                 : agg->value_len == 3 && memcmp(agg->value, "max", 3) == 0 ? "max"
                 : agg->value_len == 4 && memcmp(agg->value, "last", 4) == 0 ? "last"
                 : agg->value_len == 3 && memcmp(agg->value, "sum", 3) == 0 ? "sum"
                 : agg->value_len == 5 ? "count"
                                       : "avg";
    if (rate != NULL && !(rate->value_len == 1 && (rate->value[0] == '0' || rate->value[0] == '1')))
        return api_reply_error_at(ctx, res, 400, "rate", -1, "'rate' is 0 or 1"), 1;
    q->rate = rate != NULL && rate->value[0] == '1';
    return 0;
}

/* Is `name` a text column of the current snapshot (a 400, not a 404)? */
static int is_text_column(api_ctx_t *ctx, const char *name, size_t len)
{
    ft_snap_t v;
    int text;
    do {
        if (ft_snap_begin(&v, &ctx->shm) != 0)
            return 0;
        int64_t c = ft_snap_find_col(&v, name, len);
        text = c >= 0 && ft_col_meta_type(ft_snap_col_meta(&v, (uint32_t)c)) == FT_COL_TEXT;
    } while (ft_snap_retry(&v));
    return text;
}

/* Every (incarnation, metric) the question names. 1 when an error answer is made. */
static int resolve(api_ctx_t *ctx, api_response_t *res, const hist_query_t *q, hist_series_t *s, int *ns)
{
    ft_hist_reader_t *r = ctx->hist;
    uint32_t ctr[MAX_NAMES], type[MAX_NAMES], scale[MAX_NAMES];
    for (int m = 0; m < q->nmetrics; m++) {
        int counter;
        int64_t id = ft_hist_find_counter(r, q->metrics[m], q->metric_len[m], &type[m], &counter, &scale[m]);
        if (id < 0 && is_text_column(ctx, q->metrics[m], q->metric_len[m]))
            return api_reply_error_at(ctx, res, 400, "metric", m, "metric '%.*s' is text: text has no history",
                                      api_quote_len(q->metric_len[m]), q->metrics[m]), 1;
        if (id < 0)
            return api_reply_error_at(ctx, res, 404, "metric", m, "unknown metric '%.*s' (no history)", api_quote_len(q->metric_len[m]),
                                      q->metrics[m]), 1;
        if (q->rate && !counter)
            return api_reply_error_at(ctx, res, 400, "rate", -1, "metric '%.*s' is a gauge: rate=1 needs a cumulative counter",
                                      api_quote_len(q->metric_len[m]), q->metrics[m]), 1;
        ctr[m] = (uint32_t)id;
    }
    *ns = 0;
    for (int n = 0; n < q->nnames; n++) {
        uint32_t ids[MAX_INCARNATIONS];
        int k = ft_hist_find_switch(r, q->names[n], q->name_len[n], ids, MAX_INCARNATIONS);
        if (k == 0)
            return api_reply_error_at(ctx, res, 404, "switch_id", n, "unknown switch '%.*s' (no history)", api_quote_len(q->name_len[n]),
                                      q->names[n]), 1;
        for (int i = k; i-- > 0;) { /* oldest incarnation first */
            ft_hist_entry_info_t e;
            ft_hist_entry_info(r, ids[i], &e);
            int overlaps = e.created_t <= q->to && (e.last_t >= q->from || e.last_t == 0);
            if (!overlaps && !(i == 0 && k == 1))
                continue; /* an incarnation with nothing in the window; the only one is still listed, empty */
            for (int m = 0; m < q->nmetrics && *ns < MAX_SERIES; m++)
                s[(*ns)++] = (hist_series_t){ids[i], ctr[m], type[m], scale[m]};
        }
    }
    return 0;
}

/* A sample as it was recorded: integers exactly, doubles so that they read back the same. Returns bytes. */
static size_t put_value(char *out, uint32_t type, uint64_t bits)
{
    if (type == FT_COL_UINT)
        return ft_fmt_u64(out, bits);
    if (type != FT_COL_FLOAT)
        return ft_fmt_i64(out, (int64_t)bits);
    double d = ft_hist_value(FT_COL_FLOAT, bits);
    if (isfinite(d))
        return ft_fmt_double(out, d);
    memcpy(out, "null", 5);
    return 4;
}

static void put_point_d(ft_buf_t *b, int *first, int64_t t, double v)
{
    char num[80];
    size_t n = 0;
    if (!*first)
        num[n++] = ',';
    *first = 0;
    num[n++] = '[';
    n += ft_fmt_i64(num + n, t);
    num[n++] = ',';
    n += ft_fmt_double15(num + n, v); /* a computed figure: 15 significant digits */
    num[n++] = ']';
    ft_buf_append(b, num, n);
}

static void series_head(api_ctx_t *ctx, const hist_series_t *s, int first)
{
    ft_buf_t *b = &ctx->scratch;
    ft_hist_entry_info_t e;
    char metric[FT_NAME_WORDS * 8];
    ft_hist_entry_info(ctx->hist, s->entry, &e);
    int mlen = ft_hist_counter_name(ctx->hist, s->ctr, metric);
    ft_buf_appendf(b, "%s{\"switch_id\":", first ? "" : ",");
    ft_json_put_string(b, e.name, e.len);
    ft_buf_appendf(b, ",\"incarnation\":%u,\"metric\":", e.incarnation);
    ft_json_put_string(b, metric, mlen > 0 ? (size_t)mlen : 0);
    ft_buf_appendf(b, ",\"points\":[");
}

/* Raw points (or per-sample rates) of one series. */
static int render_raw(api_ctx_t *ctx, const hist_query_t *q, const hist_series_t *s, const ft_hist_points_t *p)
{
    ft_buf_t *b = &ctx->scratch;
    int first = 1;
    for (size_t i = 0; i < p->n; i++) {
        if (!q->rate) {
            char num[80];
            size_t n = 0;
            if (!first)
                num[n++] = ',';
            num[n++] = '[';
            n += ft_fmt_i64(num + n, p->p[i].t);
            num[n++] = ',';
            n += put_value(num + n, p->type, p->p[i].v);
            num[n++] = ']';
            ft_buf_append(b, num, n);
            first = 0;
            continue;
        }
        const ft_hist_point_t *prev = i > 0 ? &p->p[i - 1] : p->have_before ? &p->before : NULL;
        if (prev == NULL || p->p[i].t <= prev->t)
            continue;
        double d;
        if (p->type == FT_COL_FLOAT)
            d = ft_hist_value(FT_COL_FLOAT, p->p[i].v) - ft_hist_value(FT_COL_FLOAT, prev->v);
        else
            d = p->p[i].v >= prev->v ? (double)(p->p[i].v - prev->v) : -1; /* a decrease: a reset, no rate here */
        if (d < 0)
            continue;
        put_point_d(b, &first, p->p[i].t, d * (double)s->scale * 1000.0 / (double)(p->p[i].t - prev->t));
    }
    return 0;
}

static int render_steps(api_ctx_t *ctx, const hist_query_t *q, const hist_series_t *s, int64_t origin, size_t nb,
                        ft_hist_bucket_t *bk)
{
    memset(bk, 0, nb * sizeof(*bk));
    int r = ft_hist_fold(ctx->hist, s->entry, s->ctr, origin, q->step_ms, nb, q->rate, (double)s->scale, bk);
    if (r != 0)
        return r;
    int first = 1;
    for (size_t k = 0; k < nb; k++)
        if (bk[k].count > 0)
            put_point_d(&ctx->scratch, &first, origin + (int64_t)k * q->step_ms, ft_hist_bucket_value(&bk[k], q->agg));
    return 0;
}

/*
 * Raw, or steps: raw when no step was asked, every series' window holds at
 * most max_points samples and full resolution reaches back to `from`;
 * otherwise the smallest step that fits (a whole number of minutes once it
 * is a minute or more, or when rollups must serve what full resolution no
 * longer holds).
 */
static int choose_step(api_ctx_t *ctx, hist_query_t *q, const hist_series_t *s, int ns, ft_hist_points_t *pts, size_t *max_raw)
{
    int needs_rollups = 0;
    uint64_t most = 0;
    *max_raw = 0;
    if (q->step_given)
        return 0;
    for (int i = 0; i < ns; i++) { /* block headers only: a day of samples is not decoded to learn it is too many */
        uint64_t n;
        int64_t oldest;
        ft_hist_raw_extent(ctx->hist, s[i].entry, q->from, q->to, &n, &oldest);
        ft_hist_entry_info_t e;
        ft_hist_entry_info(ctx->hist, s[i].entry, &e);
        most = n > most ? n : most;
        needs_rollups |= oldest > q->from && e.created_t < oldest;
    }
    if (most <= ctx->cfg.hist_max_points && !needs_rollups) {
        for (int i = 0; i < ns; i++) {
            pts[i].n = 0;
            int r = ft_hist_read_raw(ctx->hist, s[i].entry, s[i].ctr, q->from, q->to, &pts[i]);
            if (r != 0)
                return r;
            *max_raw = pts[i].n > *max_raw ? pts[i].n : *max_raw;
        }
        return 0;
    }
    int64_t span = q->to - q->from + 1;
    q->step_ms = (span + (int64_t)ctx->cfg.hist_max_points - 1) / (int64_t)ctx->cfg.hist_max_points;
    if (needs_rollups || q->step_ms >= 60000)
        q->step_ms = (q->step_ms + 59999) / 60000 * 60000;
    if (q->step_ms < 1)
        q->step_ms = 1;
    return 0;
}

static void render_answer(api_ctx_t *ctx, api_response_t *res, hist_query_t *q, const hist_series_t *s, int ns, ft_hist_points_t *pts,
                          uint64_t gen)
{
    ft_buf_t *b = &ctx->scratch;
    int64_t origin = q->step_ms ? q->from / q->step_ms * q->step_ms : q->from; /* steps on multiples of step: stable answers */
    size_t nb = q->step_ms ? (size_t)((q->to - origin) / q->step_ms + 1) : 0;
    ft_hist_bucket_t *bk = nb ? malloc(nb * sizeof(*bk)) : NULL;
    if (nb && bk == NULL)
        return api_reply_error(ctx, res, 500, "out of memory");
    b->len = 0, b->failed = 0;
    ft_buf_appendf(b, "{\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"step\":", q->from, q->to);
    if (q->step_ms) {
        char num[40];
        ft_buf_append(b, num, ft_fmt_double(num, (double)q->step_ms / 1000.0));
        ft_buf_appendf(b, ",\"agg\":\"%s\"", q->agg);
    } else {
        ft_buf_appendf(b, "null,\"agg\":null");
    }
    ft_buf_appendf(b, ",\"rate\":%s,\"generation\":%" PRIu64 ",\"series\":[", q->rate ? "true" : "false", gen);
    int rc = 0;
    for (int i = 0; i < ns && rc == 0; i++) {
        series_head(ctx, &s[i], i == 0);
        rc = q->step_ms ? render_steps(ctx, q, &s[i], origin, nb, bk) : render_raw(ctx, q, &s[i], &pts[i]);
        ft_buf_append(b, "]}", 2);
    }
    ft_buf_append(b, "]}", 2);
    free(bk);
    if (rc != 0 || b->failed)
        return api_reply_error(ctx, res, 500, "out of memory reading history");
    api_reply_scratch(ctx, res, 200);
}

int api_history_begin(api_ctx_t *ctx, const api_request_t *req, api_response_t *res, uint64_t *gen, int64_t *gen_t_ms)
{
    if (!api_has_data(ctx))
        return api_reply_no_data(ctx, res), 1;
    if (api_history_attach(ctx) != 0)
        return api_reply_error(ctx, res, 503, "no history: ingestd runs with --history-bytes 0, or its history file is unavailable"), 1;
    ft_snap_t v;
    uint64_t published_ns;
    do { /* the generation and its publication time, through the seqlock */
        if (api_begin_read(ctx, req, &v, res))
            return 1;
        published_ns = ft_snap_hdr(&v, FT_SLOT_COLLECTED_NS);
    } while (ft_snap_retry(&v) && ++ctx->retries);
    *gen = v.gen;
    *gen_t_ms = (int64_t)(published_ns / 1000000);
    return 0;
}

void api_history(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    uint64_t gen;
    int64_t gen_t;
    if (api_history_begin(ctx, req, res, &gen, &gen_t))
        return;
    hist_query_t q;
    if (parse_query(ctx, res, gen_t, &q))
        return;
    static _Thread_local hist_series_t series[MAX_SERIES];
    int ns;
    if (resolve(ctx, res, &q, series, &ns))
        return;
    ft_hist_points_t *pts = calloc((size_t)ns + 1, sizeof(*pts));
    size_t max_raw;
    if (pts == NULL || choose_step(ctx, &q, series, ns, pts, &max_raw) != 0) {
        api_reply_error(ctx, res, 500, "out of memory reading history");
    } else {
        int64_t per_series = q.step_ms ? (q.to - q.from) / q.step_ms + 1 : (int64_t)max_raw;
        if (q.step_given && per_series > (int64_t)ctx->cfg.hist_max_points)
            api_reply_error_at(ctx, res, 400, "step", -1, "step %g s gives %" PRId64 " points per series, past the cap of %zu (--history-max-points)",
                               (double)q.step_ms / 1000.0, per_series, ctx->cfg.hist_max_points);
        else if (per_series * ns > (int64_t)ctx->cfg.hist_max_answer_points)
            api_reply_error(ctx, res, 400, "%d series x %" PRId64 " points is past the cap of %zu points per answer; ask fewer series or a shorter window",
                            ns, per_series, ctx->cfg.hist_max_answer_points);
        else
            render_answer(ctx, res, &q, series, ns, pts, gen);
    }
    for (int i = 0; pts != NULL && i < ns; i++)
        free(pts[i].p);
    free(pts);
}
