#include "fabric.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "snapshot.h"
#include "util.h"

/* The seed's three fields, in the order of ft_bn_default_metrics(): the fabric's columns and their scale to the seed's unit. */
#define NFIELDS 3
static const char *const FIELD_NAMES[NFIELDS] = {"latency_ms", "throughput_gbps", "error_rate"};
static const char *const FIELD_COLUMNS[NFIELDS] = {"latency", "bandwidth_usage", "error_rate"};
static const double FIELD_SCALE[NFIELDS] = {0.001, 1.0, 1.0};

void orch_fabric_init(orch_fabric_t *f, const char *shm_name)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->shm_name, sizeof(f->shm_name), "%s", shm_name);
}

static void detach_history(orch_fabric_t *f)
{
    if (f->hist_epoch != 0)
        ft_hist_reader_close(&f->hist);
    f->hist_epoch = 0;
}

void orch_fabric_destroy(orch_fabric_t *f)
{
    detach_history(f);
    if (f->attached)
        ft_shm_close(&f->shm);
    f->attached = 0;
}

/* The segment, mapped (again when ingestd re-created it). A failed attempt is retried at most once a second. */
static int attach_segment(orch_fabric_t *f)
{
    if (f->attached && !ft_shm_changed(&f->shm))
        return 0;
    int64_t now = (int64_t)(ft_mono_ns() / 1000000);
    if (!f->attached && now < f->retry_ms)
        return -ENOENT;
    if (f->attached) {
        detach_history(f);
        ft_shm_close(&f->shm);
        f->attached = 0;
    }
    char why[300];
    if (ft_shm_open_reader(&f->shm, f->shm_name, why, sizeof(why)) != 0) {
        f->retry_ms = now + 1000;
        ft_debug("event=segment_unavailable shm=%s reason=\"%s\"", f->shm_name, why);
        return -ENOENT;
    }
    f->attached = 1;
    return 0;
}

int orch_fabric_open_history(orch_fabric_t *f, const char *path)
{
    char why[300];
    detach_history(f);
    int r = ft_hist_reader_open(&f->hist, path, why, sizeof(why));
    if (r != 0) {
        ft_warn("event=history_unavailable history=%s reason=\"%s\"", path, why);
        return r;
    }
    f->hist_epoch = f->hist.map.hdr->epoch;
    f->pinned = 1;
    return 0;
}

static int attach_history(orch_fabric_t *f)
{
    if (f->pinned)
        return f->hist_epoch != 0 ? 0 : -ENOENT;
    if (attach_segment(f) != 0)
        return -ENOENT;
    char path[FT_SHM_HIST_PATH_WORDS * 8 + 1];
    uint64_t epoch = ft_shm_history_path(&f->shm, path, sizeof(path));
    if (epoch == 0)
        return -ENOENT;
    if (f->hist_epoch == epoch)
        return 0;
    detach_history(f);
    if (epoch == f->bad_epoch)
        return -ENOENT; /* refused once: a new file comes with a new epoch */
    char why[300];
    int r = ft_hist_reader_open(&f->hist, path, why, sizeof(why));
    if (r == 0 && f->hist.map.hdr->epoch != epoch) {
        ft_hist_reader_close(&f->hist);
        return -ENOENT; /* being replaced: the next request sees the new one */
    }
    if (r != 0) {
        ft_warn("event=history_unavailable history=%s reason=\"%s\"", path, why);
        f->bad_epoch = epoch;
        return -ENOENT;
    }
    f->hist_epoch = epoch;
    return 0;
}

int orch_fabric_capacity(orch_fabric_t *f, uint32_t *max_switches, uint32_t *live)
{
    if (attach_segment(f) != 0)
        return -ENOENT;
    *max_switches = f->shm.hdr->max_switches;
    ft_snap_t v;
    uint32_t n;
    do {
        n = 0;
        if (ft_snap_begin(&v, &f->shm) != 0)
            break;
        for (uint32_t r = 0; r < v.nrows; r++)
            n += ft_snap_row_live(&v, r) != 0;
    } while (ft_snap_retry(&v));
    *live = n;
    return 0;
}

/* The history counters of the three fields; -ENOENT when one is missing. */
static int field_counters(orch_fabric_t *f, uint32_t *ctrs)
{
    for (int k = 0; k < NFIELDS; k++) {
        uint32_t type, scale;
        int counter;
        int64_t id = ft_hist_find_counter(&f->hist, FIELD_COLUMNS[k], strlen(FIELD_COLUMNS[k]), &type, &counter, &scale);
        if (id < 0)
            return -ENOENT;
        ctrs[k] = (uint32_t)id;
    }
    return 0;
}

static void put_num(ft_buf_t *b, double v)
{
    char num[40];
    ft_buf_append(b, num, ft_fmt_double15(num, isfinite(v) ? v : 0));
}

static void put_time(ft_buf_t *b, int64_t ms)
{
    char t[32];
    ft_buf_append(b, "\"", 1);
    ft_buf_append(b, t, ft_fmt_iso8601(t, (uint64_t)ms * 1000000ULL));
    ft_buf_append(b, "\"", 1);
}

/* ---- samples ---- */

typedef struct sample {
    int64_t t, node, gen;
    double v[NFIELDS];
    uint8_t have; /* bit k: field k present */
} sample_t;

typedef struct samples {
    sample_t *s;
    size_t n, cap;
} samples_t;

static sample_t *sample_add(samples_t *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        sample_t *p = realloc(a->s, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        a->s = p, a->cap = cap;
    }
    sample_t *x = &a->s[a->n++];
    memset(x, 0, sizeof(*x));
    return x;
}

/* One node's samples: the three series merged by time (a record holds every column, so times line up). */
static int node_samples(orch_fabric_t *f, const orch_node_ref_t *node, const uint32_t *ctrs, int64_t from, int64_t to, samples_t *out)
{
    uint32_t ids[1];
    if (ft_hist_find_switch(&f->hist, node->hostname, strlen(node->hostname), ids, 1) < 1)
        return 0; /* no history yet */
    ft_hist_points_t pts[NFIELDS];
    memset(pts, 0, sizeof(pts));
    int r = 0;
    for (int k = 0; k < NFIELDS && r == 0; k++)
        r = ft_hist_read_raw(&f->hist, ids[0], ctrs[k], from, to, &pts[k]);
    size_t at[NFIELDS] = {0};
    while (r == 0) {
        int64_t t = INT64_MAX;
        for (int k = 0; k < NFIELDS; k++)
            if (at[k] < pts[k].n && pts[k].p[at[k]].t < t)
                t = pts[k].p[at[k]].t;
        if (t == INT64_MAX)
            break;
        sample_t *x = sample_add(out);
        if (x == NULL) {
            r = -ENOMEM;
            break;
        }
        x->t = t, x->node = node->id, x->gen = 0;
        for (int k = 0; k < NFIELDS; k++)
            if (at[k] < pts[k].n && pts[k].p[at[k]].t == t) {
                x->v[k] = ft_hist_value(pts[k].type, pts[k].p[at[k]].v) * FIELD_SCALE[k];
                x->gen = pts[k].p[at[k]].gen;
                x->have |= (uint8_t)(1u << k);
                at[k]++;
            }
    }
    for (int k = 0; k < NFIELDS; k++)
        free(pts[k].p);
    return r;
}

static int newest_first(const void *a, const void *b)
{
    const sample_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? 1 : -1;
    return (x->node > y->node) - (x->node < y->node);
}

static void put_sample(ft_buf_t *b, const sample_t *x, int64_t dep)
{
    ft_buf_appendf(b, "{\"id\":%" PRId64 ",\"node_id\":%" PRId64 ",\"deployment_id\":%" PRId64 ",\"timestamp\":", x->gen, x->node, dep);
    put_time(b, x->t);
    for (int k = 0; k < NFIELDS; k++) {
        ft_buf_appendf(b, ",\"%s\":", FIELD_NAMES[k]);
        if (x->have & (1u << k))
            put_num(b, x->v[k]);
        else
            ft_buf_puts(b, "null");
    }
    ft_buf_puts(b, "}");
}

int orch_fabric_samples(orch_fabric_t *f, const orch_node_ref_t *nodes, size_t n, const orch_sample_query_t *q, ft_buf_t *out)
{
    samples_t all = {0};
    uint32_t ctrs[NFIELDS];
    int r = 0;
    if (attach_history(f) == 0 && field_counters(f, ctrs) == 0)
        for (size_t i = 0; i < n && r == 0; i++)
            if (q->node == 0 || nodes[i].id == q->node)
                r = node_samples(f, &nodes[i], ctrs, q->from, q->to, &all);
    if (r == 0) {
        if (all.n > 1)
            qsort(all.s, all.n, sizeof(*all.s), newest_first);
        out->len = 0;
        ft_buf_puts(out, "{\"samples\":[");
        for (size_t i = 0; i < all.n && (int64_t)i < q->limit; i++) {
            if (i)
                ft_buf_puts(out, ",");
            put_sample(out, &all.s[i], q->dep);
        }
        ft_buf_appendf(out, "],\"total\":%zu}", all.n);
    }
    free(all.s);
    return r;
}

/* ---- bottlenecks ---- */

static void put_bottleneck(ft_buf_t *b, const orch_node_ref_t *node, const ft_bn_result_t *res, int64_t now_ms)
{
    ft_buf_appendf(b, "{\"node_id\":%" PRId64 ",\"node_identifier\":", node->id);
    ft_json_put_string(b, node->node_id, strlen(node->node_id));
    ft_buf_appendf(b, ",\"deployment_id\":%" PRId64, node->deployment_id);
    for (int k = 0; k < NFIELDS; k++) {
        ft_buf_appendf(b, ",\"%s\":", FIELD_NAMES[k]);
        put_num(b, res->mean[k] * FIELD_SCALE[k]);
    }
    ft_buf_puts(b, ",\"deviation_score\":");
    put_num(b, res->score);
    ft_buf_puts(b, ",\"z\":{");
    for (int k = 0; k < NFIELDS; k++) {
        ft_buf_appendf(b, "%s\"%s\":", k ? "," : "", FIELD_NAMES[k]);
        put_num(b, res->z[k]);
    }
    ft_buf_puts(b, "},\"timestamp\":");
    put_time(b, now_ms);
    ft_buf_puts(b, "}");
}

/* Each node's moments of the three fields over [from, to] (zero for a node with no history: judged as unknown). */
static int gather(orch_fabric_t *f, const orch_node_ref_t *nodes, size_t n, int64_t from, int64_t to, ft_bn_moments_t *m)
{
    uint32_t ctrs[NFIELDS];
    memset(m, 0, n * NFIELDS * sizeof(*m));
    if (attach_history(f) != 0 || field_counters(f, ctrs) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ids[1];
        ft_hist_moments_t hm[NFIELDS];
        if (ft_hist_find_switch(&f->hist, nodes[i].hostname, strlen(nodes[i].hostname), ids, 1) < 1 ||
            ft_hist_window_moments(&f->hist, ids[0], ctrs, NFIELDS, from, to, hm) != 0)
            continue;
        for (int k = 0; k < NFIELDS; k++)
            m[i * NFIELDS + k] = (ft_bn_moments_t){hm[k].count, hm[k].sum, hm[k].sumsq};
    }
    return 0;
}

int orch_fabric_bottlenecks(orch_fabric_t *f, const orch_node_ref_t *nodes, size_t n, const orch_bn_query_t *q, int64_t now_ms,
                            ft_buf_t *out)
{
    ft_bn_metric_t metrics[FT_BN_MAX_METRICS];
    ft_bn_default_metrics(metrics);
    ft_bn_moments_t *m = malloc((n ? n : 1) * NFIELDS * sizeof(*m));
    ft_bn_result_t *res = malloc((n ? n : 1) * sizeof(*res));
    int r = m && res ? 0 : -ENOMEM;
    if (r == 0 && (r = gather(f, nodes, n, now_ms - q->window_min * 60000, now_ms, m)) == 0)
        r = ft_bn_analyze(q->method, q->threshold, metrics, NFIELDS, m, (uint32_t)n, res);
    if (r == 0) {
        uint32_t flagged = 0;
        for (size_t i = 0; i < n; i++)
            flagged += res[i].flagged != 0;
        out->len = 0;
        ft_buf_appendf(out, "{\"deployment_id\":%" PRId64 ",\"detected_at\":", q->dep);
        put_time(out, now_ms);
        ft_buf_appendf(out, ",\"analysis_window_minutes\":%" PRId64 ",\"method\":\"%s\",\"threshold\":", q->window_min,
                       ft_bn_method_name(q->method));
        put_num(out, q->threshold);
        ft_buf_appendf(out, ",\"total_bottlenecks\":%u,\"bottlenecks\":[", flagged);
        for (size_t i = 0, k = 0; i < n; i++)
            if (res[i].flagged) {
                if (k++)
                    ft_buf_puts(out, ",");
                put_bottleneck(out, &nodes[res[i].entity], &res[i], now_ms);
            }
        ft_buf_puts(out, "]}");
    }
    free(m), free(res);
    return r;
}
