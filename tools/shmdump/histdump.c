#include "histdump.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histread.h"
#include "util.h"

static int open_history(const ft_shm_t *shm, ft_hist_reader_t *r, int quiet)
{
    char path[FT_SHM_HIST_PATH_WORDS * 8 + 1], why[300];
    if (ft_shm_history_path(shm, path, sizeof(path)) == 0) {
        if (!quiet)
            fprintf(stderr, "shmdump: segment %s names no history file (ingestd runs with --history-bytes 0, or is older)\n", shm->name);
        return 1;
    }
    if (ft_hist_reader_open(r, path, why, sizeof(why)) != 0) {
        fprintf(stderr, "shmdump: %s\n", why);
        return 1;
    }
    return 0;
}

void shmdump_history_header(const ft_shm_t *shm)
{
    ft_hist_reader_t r;
    if (open_history(shm, &r, 1) != 0) {
        printf("history       none\n");
        return;
    }
    ft_hist_windows_t w;
    ft_hist_windows(&r, (int64_t)(ft_now_ns() / 1000000), &w);
    const ft_hist_header_t *h = r.map.hdr;
    printf("history       %s (%" PRIu64 " bytes, version %u, epoch %016" PRIx64 "), generation %" PRIu64 "\n", r.map.path, h->total_size,
           h->version, h->epoch, w.gen);
    printf("history keeps %.0f s at full resolution, %.0f s of minute rollups (at the current rate); %.2f bytes per sample\n", w.raw_s,
           w.rollup_s, w.bytes_per_sample);
    printf("history holds %" PRIu64 " series (switch incarnations), %" PRIu64 " counters, %" PRIu64 " samples recorded; raw ring %" PRIu64
           " blocks, rollup ring %" PRIu64 " blocks of %u B\n",
           w.entries, w.counters, w.samples, h->raw_blocks, h->roll_blocks, h->block_size);
    ft_hist_reader_close(&r);
}

static int parse_time(const char *flag, const char *s, int64_t *ms)
{
    if (s == NULL)
        return 0;
    if (ft_parse_time_ms(s, strlen(s), ms) != 0) {
        fprintf(stderr, "shmdump: %s '%s' is not a time (RFC 3339 or Unix seconds)\n", flag, s);
        return 1;
    }
    return 0;
}

static void print_point(const shmdump_hist_args_t *a, const ft_hist_entry_info_t *e, uint32_t type, const ft_hist_point_t *p, int *first)
{
    char num[40], ts[32];
    if (type == FT_COL_FLOAT)
        ft_fmt_double(num, ft_hist_value(FT_COL_FLOAT, p->v));
    else if (type == FT_COL_UINT)
        ft_fmt_u64(num, p->v);
    else
        ft_fmt_i64(num, (int64_t)p->v);
    if (a->json) {
        printf("%s[%" PRId64 ",%s]", *first ? "" : ",", p->t, num);
    } else if (a->csv) {
        printf("%s,%u,%s,%" PRId64 ",%s\n", e->name, e->incarnation, a->metric, p->t, num);
    } else {
        ft_fmt_iso8601(ts, (uint64_t)p->t * 1000000);
        printf("%-28s %-6u %s\n", ts, e->incarnation, num);
    }
    *first = 0;
}

int shmdump_history_print(const ft_shm_t *shm, const shmdump_hist_args_t *a)
{
    ft_hist_reader_t r;
    if (open_history(shm, &r, 0) != 0)
        return 1;
    int64_t to = (int64_t)(ft_now_ns() / 1000000), from;
    if (parse_time("--to", a->to, &to) != 0)
        return ft_hist_reader_close(&r), 1;
    from = to - 15 * 60 * 1000;
    if (parse_time("--from", a->from, &from) != 0)
        return ft_hist_reader_close(&r), 1;
    uint32_t ids[64], type, scale;
    int counter, rc = 0;
    int n = ft_hist_find_switch(&r, a->switch_id, strlen(a->switch_id), ids, 64);
    int64_t ctr = ft_hist_find_counter(&r, a->metric, strlen(a->metric), &type, &counter, &scale);
    if (n == 0 || ctr < 0) {
        fprintf(stderr, "shmdump: no history for %s '%s'\n", n == 0 ? "switch" : "metric", n == 0 ? a->switch_id : a->metric);
        ft_hist_reader_close(&r);
        return 1;
    }
    if (a->csv)
        printf("switch_id,incarnation,metric,t_ms,value\n");
    else if (a->json)
        printf("{\"switch_id\":\"%s\",\"metric\":\"%s\",\"series\":[", a->switch_id, a->metric);
    else
        printf("%s %s (%s%s)\n%-28s %-6s %s\n", a->switch_id, a->metric, type == FT_COL_FLOAT ? "float" : "integer",
               counter ? ", counter" : "", "time", "incarn", "value");
    for (int i = n; i-- > 0;) {
        ft_hist_entry_info_t e;
        ft_hist_entry_info(&r, ids[i], &e);
        ft_hist_points_t pts = {0};
        if (ft_hist_read_raw(&r, ids[i], (uint32_t)ctr, from, to, &pts) != 0)
            rc = 1;
        if (a->json)
            printf("%s{\"incarnation\":%u,\"points\":[", i == n - 1 ? "" : ",", e.incarnation);
        int first = 1;
        for (size_t k = 0; k < pts.n; k++)
            print_point(a, &e, pts.type, &pts.p[k], &first);
        if (a->json)
            printf("]}");
        free(pts.p);
    }
    if (a->json)
        printf("]}\n");
    ft_hist_reader_close(&r);
    return rc;
}

static void export_series(ft_hist_reader_t *r, uint32_t id, uint32_t ctr, const char *metric)
{
    ft_hist_entry_info_t e;
    ft_hist_entry_info(r, id, &e);
    char num[40];
    ft_hist_minutes_t ms = {0};
    ft_hist_read_minutes(r, id, ctr, 0, INT64_MAX / 60000, &ms);
    for (size_t k = 0; k < ms.n; k++) {
        const ft_hist_agg_t *g = &ms.m[k].a;
        uint32_t t = ms.m[k].type;
        double first = ft_hist_value(t, g->first);
        double dsum = t == FT_COL_FLOAT ? ft_hist_value(t, g->dsum) : (double)(int64_t)g->dsum;
        printf("%s,%u,%s,minute,%" PRId64 ",,%" PRIu64, e.name, e.incarnation, metric, ms.m[k].minute * 60000, g->count);
        const double v[4] = {ft_hist_value(t, g->min), ft_hist_value(t, g->max), first * (double)g->count + dsum, ft_hist_value(t, g->last)};
        for (int j = 0; j < 4; j++)
            ft_fmt_double(num, v[j]), printf(",%s", num);
        printf("\n");
    }
    free(ms.m);
    ft_hist_points_t pts = {0};
    ft_hist_read_raw(r, id, ctr, 0, INT64_MAX, &pts);
    for (size_t k = 0; k < pts.n; k++) {
        if (pts.type == FT_COL_FLOAT)
            ft_fmt_double(num, ft_hist_value(FT_COL_FLOAT, pts.p[k].v));
        else
            ft_fmt_i64(num, (int64_t)pts.p[k].v);
        printf("%s,%u,%s,raw,%" PRId64 ",%s,,,,,\n", e.name, e.incarnation, metric, pts.p[k].t, num);
    }
    free(pts.p);
}

int shmdump_history_export(const ft_shm_t *shm)
{
    ft_hist_reader_t r;
    if (open_history(shm, &r, 0) != 0)
        return 1;
    printf("switch_id,incarnation,metric,kind,t_ms,value,count,min,max,sum,last\n");
    uint32_t ne = ft_hist_nentries(&r), nc = ft_hist_ncounters(&r);
    for (uint32_t id = 0; id < ne; id++)
        for (uint32_t c = 0; c < nc; c++) {
            char metric[FT_NAME_WORDS * 8];
            ft_hist_counter_name(&r, c, metric);
            export_series(&r, id, c, metric);
        }
    ft_hist_reader_close(&r);
    return 0;
}
