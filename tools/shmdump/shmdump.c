/*
 * shmdump — print a fabtel data segment: its header, then the current
 * snapshot as an aligned table, JSON or CSV. It reads through the same
 * seqlock as apid (shm/snapshot.h), maps the segment read-only, and refuses a
 * missing, foreign or incompatible segment with a message and exit status 1.
 * --stats adds the ingest figures and apid's per-worker figures (from the
 * API stats segment, also mapped read-only); --watch refreshes like top.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apistats.h"
#include "buf.h"
#include "histdump.h"
#include "log.h"
#include "opt.h"
#include "render.h"
#include "snapshot.h"
#include "stats.h"
#include "util.h"

typedef struct dump {
    ft_buf_t cells;    /* every cell's text, NUL-separated */
    size_t *cell_off;  /* (rows + 1) * (cols + 1) offsets into cells; row 0 is the header */
    uint32_t nrows, ncols;
    uint8_t *stale;
    uint64_t gen, collected_ns;
} dump_t;

static const char *cell_at(const dump_t *d, uint32_t r, uint32_t c)
{
    return d->cells.data + d->cell_off[(size_t)r * (d->ncols + 1) + c];
}

static void put_cell(dump_t *d, size_t idx, const char *s, size_t len)
{
    d->cell_off[idx] = d->cells.len;
    ft_buf_append(&d->cells, s, len);
    ft_buf_append(&d->cells, "", 1);
}

/* One row's cells (the columns in cols) as text, appended as dump row d->nrows + 1. */
static void copy_row(dump_t *d, const ft_snap_t *v, uint32_t r, const uint32_t *cols, uint32_t nc)
{
    char name[FT_NAME_MAX + 1];
    size_t base = (size_t)(d->nrows + 1) * (nc + 1);
    put_cell(d, base, name, ft_snap_row_name(v, r, name));
    for (uint32_t i = 0; i < nc; i++) {
        ft_buf_t one;
        ft_buf_init(&one);
        uint32_t type = ft_col_meta_type(ft_snap_col_meta(v, cols[i]));
        uint64_t cell = ft_snap_cell(v, r, cols[i]);
        char text[FT_TEXT_MAX + 1];
        int tl;
        if (type == FT_COL_TEXT && (tl = ft_snap_text(v, cell, text, sizeof(text))) >= 0)
            ft_buf_append(&one, text, (size_t)tl); /* raw text: the CSV and table writers quote it */
        else
            ft_render_cell(&one, v, type, cell);
        put_cell(d, base + i + 1, one.data ? one.data : "", one.len);
        ft_buf_destroy(&one);
    }
    d->stale[d->nrows + 1] = (ft_snap_row_meta(v, r) & FT_ROW_STALE) != 0;
    d->nrows++;
}

/* Copy the current snapshot (optionally one switch) out of the segment; retries while the writer laps us. */
static int copy_snapshot(const ft_shm_t *shm, const char *only, dump_t *d, uint64_t *retries)
{
    for (;;) {
        ft_snap_t v;
        if (ft_snap_begin(&v, shm) != 0)
            return -1;
        d->cells.len = 0;
        uint32_t cols[FT_MAX_COUNTERS_LIMIT], nc = 0;
        for (uint32_t c = 0; c < v.ncols; c++)
            if (ft_col_meta_present(ft_snap_col_meta(&v, c)))
                cols[nc++] = c;
        free(d->cell_off);
        free(d->stale);
        d->cell_off = calloc(((size_t)v.nrows + 1) * (nc + 1), sizeof(size_t));
        d->stale = calloc((size_t)v.nrows + 1, 1);
        d->ncols = nc;
        d->nrows = 0;
        char name[FT_NAME_MAX + 1];
        put_cell(d, 0, "switch_id", 9);
        for (uint32_t i = 0; i < nc; i++)
            put_cell(d, i + 1, name, ft_snap_col_name(&v, cols[i], name));
        int64_t want = only ? ft_snap_find_row(&v, only, strlen(only)) : -1;
        for (uint32_t r = 0; r < v.nrows; r++)
            if (ft_snap_row_live(&v, r) && (!only || (int64_t)r == want))
                copy_row(d, &v, r, cols, nc);
        d->gen = v.gen;
        d->collected_ns = ft_snap_hdr(&v, FT_SLOT_COLLECTED_NS);
        if (!ft_snap_retry(&v) && !d->cells.failed)
            return 0;
        (*retries)++;
    }
}

static void print_header(const ft_shm_t *shm)
{
    const ft_shm_header_t *h = shm->hdr;
    uint64_t gen = ft_shm_generation(shm), now = ft_now_ns();
    uint64_t pid = ft_shm_writer_pid(shm);
    char created[32];
    ft_fmt_iso8601(created, h->created_ns);
    printf("segment       %s (%" PRIu64 " bytes, created %s)\n", shm->name, h->total_size, created);
    printf("layout        version %u, epoch %016" PRIx64 "\n", h->layout_version, h->epoch);
    printf("generation    %" PRIu64 "\n", gen);
    if (ft_shm_confirmed_ns(shm) != 0)
        printf("data age      %.3f s (source last confirmed the data)\n", (double)ft_shm_data_age_ms(shm, now) / 1e3);
    else
        printf("data age      no data yet\n");
    printf("writer        %s (pid %" PRIu64 "), ingest %s\n", pid ? "running" : "none", pid,
           ft_shm_ingest_failing(shm) ? "failing" : "ok");
    printf("capacity      %u switches, %u counters, %u slots, text %" PRIu64 " B, body %" PRIu64 " B per slot\n", h->max_switches,
           h->max_counters, h->nslots, h->text_bytes, h->body_bytes);
    printf("slots        ");
    for (uint32_t i = 0; i < h->nslots; i++) {
        ft_snap_t slot;
        ft_snap_at(&slot, shm, i); /* slot i holds the generations g with g % nslots == i */
        uint64_t g = ft_snap_hdr(&slot, FT_SLOT_GEN);
        printf(" [%u] gen %" PRIu64 "%s", i, g, g == gen && gen ? " (current)" : g ? "" : " (empty)");
    }
    printf("\n");
    if (gen) {
        ft_snap_t v;
        ft_snap_at(&v, shm, gen);
        printf("in use        %" PRIu64 " switches (%u rows), %u counters, text %" PRIu64 " B, body %" PRIu64 " B, stale %" PRIu64
               ", rejected %" PRIu64 "\n",
               ft_snap_hdr(&v, FT_SLOT_NSWITCHES), v.nrows, v.ncols, ft_snap_hdr(&v, FT_SLOT_TEXT_USED),
               ft_snap_hdr(&v, FT_SLOT_BODY_LEN), ft_snap_hdr(&v, FT_SLOT_STALE_ROWS), ft_snap_hdr(&v, FT_SLOT_ROWS_REJECTED));
    }
    ft_ingest_summary_t s;
    if (ft_ingest_stats_read(ft_shm_ingest_stats(shm), now, &s) == 0)
        printf("ingest 24h    %" PRIu64 " ok (%" PRIu64 " unchanged), %" PRIu64 " failed, %" PRIu64 " rows rejected, duration ms min %.3f avg %.3f max %.3f\n",
               s.count, s.unchanged, s.failures, s.rows_rejected, (double)s.dur_min_us / 1000,
               s.attempts ? (double)s.dur_sum_us / (double)s.attempts / 1000 : 0.0, (double)s.dur_max_us / 1000);
    shmdump_history_header(shm);
}

/* Ingest figures (data segment) and apid's per-worker figures (the "-api" segment), both read-only. */
static void print_stats(const ft_shm_t *shm)
{
    uint64_t now = ft_now_ns();
    ft_ingest_summary_t in;
    if (ft_ingest_stats_read(ft_shm_ingest_stats(shm), now, &in) == 0) {
        printf("\ningest (lifetime)  %" PRIu64 " ok (%" PRIu64 " unchanged), %" PRIu64 " failed, %" PRIu64 " rows rejected\n",
               in.total_count, in.total_unchanged, in.total_failures, in.total_rows_rejected);
        printf("failures by cause ");
        for (int c = 0; c < FT_FAIL_KNOWN; c++)
            printf(" %s=%" PRIu64, ft_fail_cause_label(c), in.failures_by_cause[c]);
        printf("\ningest 24h p50/p99 %.3f / %.3f ms\n", (double)ft_lathist_quantile_us(in.hist, 0.5) / 1000,
               (double)ft_lathist_quantile_us(in.hist, 0.99) / 1000);
    }
    ft_api_seg_t seg;
    char why[400];
    int r = ft_api_seg_open(&seg, shm->name, why, sizeof(why));
    if (r == -ENOENT) {
        printf("\napid               no stats segment %s (apid not running)\n", seg.name);
        return;
    }
    if (r != 0) {
        printf("\napid               %s\n", why);
        return;
    }
    const ft_api_stats_header_t *h = seg.hdr;
    printf("\napid               master pid %" PRIu64 ", %" PRIu64 " of %" PRIu64 " workers alive, %" PRIu64 " restarts\n",
           (uint64_t)atomic_load(&h->master_pid), (uint64_t)atomic_load(&h->workers_alive), h->nworkers_max,
           (uint64_t)atomic_load(&h->restarts));
    printf("%-7s %-8s %12s %10s %8s %8s %9s %9s %9s\n", "worker", "pid", "requests", "24h", "5xx", "4xx", "p50 ms", "p99 ms",
           "retries");
    ft_api_summary_t all;
    ft_api_summary_init(&all);
    for (uint64_t i = 0; i < h->nworkers_max; i++) {
        const ft_api_worker_stats_t *w = ft_api_seg_worker(h, (unsigned)i);
        ft_api_summary_t one;
        ft_api_summary_init(&one);
        if (ft_api_stats_merge(w, now, &one) != 0 || ft_api_stats_merge(w, now, &all) != 0)
            continue;
        printf("%-7" PRIu64 " %-8" PRIu64 " %12" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9.3f %9.3f %9" PRIu64 "\n", i,
               (uint64_t)atomic_load(&w->pid), one.requests_total, one.requests, one.failures, one.client_errors,
               (double)ft_lathist_quantile_us(one.hist, 0.5) / 1000, (double)ft_lathist_quantile_us(one.hist, 0.99) / 1000,
               one.seqlock_retries);
    }
    printf("%-7s %-8s %12" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9.3f %9.3f %9" PRIu64 "\n", "all", "", all.requests_total,
           all.requests, all.failures, all.client_errors, (double)ft_lathist_quantile_us(all.hist, 0.5) / 1000,
           (double)ft_lathist_quantile_us(all.hist, 0.99) / 1000, all.seqlock_retries);
    ft_api_seg_close(&seg, 0);
}

static void print_table(const dump_t *d)
{
    size_t w[FT_MAX_COUNTERS_LIMIT + 2] = {0};
    for (uint32_t r = 0; r <= d->nrows; r++)
        for (uint32_t c = 0; c <= d->ncols; c++) {
            size_t l = strlen(cell_at(d, r, c));
            if (l > w[c])
                w[c] = l;
        }
    for (uint32_t r = 0; r <= d->nrows; r++) {
        for (uint32_t c = 0; c <= d->ncols; c++) {
            char q[600];
            const char *s = cell_at(d, r, c);
            /* Names come from the source: show control bytes escaped, never raw. */
            if (!ft_utf8_is_printable(s, strlen(s)))
                s = ft_log_quote(q, sizeof(q), s, strlen(s));
            printf("%s%-*s", c ? "  " : "", (int)w[c], s);
        }
        printf("%s\n", r > 0 && d->stale[r] ? "  (stale)" : "");
    }
}

static void print_csv_field(const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const dump_t *d)
{
    for (uint32_t r = 0; r <= d->nrows; r++) {
        for (uint32_t c = 0; c <= d->ncols; c++) {
            if (c)
                putchar(',');
            print_csv_field(cell_at(d, r, c));
        }
        putchar('\n');
    }
}

static int print_json(const ft_shm_t *shm, const char *only)
{
    ft_buf_t b;
    ft_buf_init(&b);
    for (;;) {
        ft_snap_t v;
        if (ft_snap_begin(&v, shm) != 0)
            return -1;
        b.len = 0;
        uint32_t row;
        ft_render_filter_t f = {.limit = UINT64_MAX};
        if (only) {
            int64_t r = ft_snap_find_row(&v, only, strlen(only));
            row = r < 0 ? UINT32_MAX : (uint32_t)r;
            f.rows = &row;
            f.nrows = 1;
        }
        ft_render_list(&b, &v, &f);
        if (!ft_snap_retry(&v))
            break;
    }
    fwrite(b.data, 1, b.len, stdout);
    putchar('\n');
    ft_buf_destroy(&b);
    return 0;
}

static volatile sig_atomic_t watch_stop;

static void on_int(int sig)
{
    (void)sig;
    watch_stop = 1;
}

/* Like top: header, figures and the table, redrawn in place every `seconds` until Ctrl-C. */
static int watch_loop(const ft_shm_t *shm, const char *only, double seconds, int stats)
{
    signal(SIGINT, on_int);
    signal(SIGTERM, on_int);
    while (!watch_stop) {
        printf("\033[H\033[2J");
        print_header(shm);
        if (stats)
            print_stats(shm);
        dump_t d = {0};
        ft_buf_init(&d.cells);
        uint64_t retries = 0;
        if (ft_shm_generation(shm) != 0 && copy_snapshot(shm, only, &d, &retries) == 0) {
            printf("\n");
            print_table(&d);
        }
        free(d.cell_off);
        free(d.stale);
        ft_buf_destroy(&d.cells);
        fflush(stdout);
        struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *shm_name = "/fabtel", *only = NULL;
    int json = 0, csv = 0, header_only = 0, stats = 0, export = 0;
    shmdump_hist_args_t ha = {0};
    double watch = 0;
    const ft_opt_t opts[] = {
        {"shm-name", FT_OPT_STR, &shm_name, "NAME", "data segment to read", 0, 0},
        {"json", FT_OPT_BOOL, &json, "", "print the snapshot as JSON (the ListMetrics form)", 0, 0},
        {"csv", FT_OPT_BOOL, &csv, "", "print the snapshot as CSV", 0, 0},
        {"switch", FT_OPT_STR, &only, "ID", "print only this switch", 0, 0},
        {"header", FT_OPT_BOOL, &header_only, "", "print only the segment header", 0, 0},
        {"stats", FT_OPT_BOOL, &stats, "", "also print ingest and per-worker API figures", 0, 0},
        {"watch", FT_OPT_F64, &watch, "[SECONDS]", "refresh in place every SECONDS (1 when given alone) until Ctrl-C", 0, 3600},
        {"history", FT_OPT_STR, &ha.switch_id, "SWITCH METRIC", "print a series' points from the history file (all incarnations)", 0, 0},
        {"history-metric", FT_OPT_STR, &ha.metric, "METRIC", "(the METRIC of --history)", 0, 0},
        {"from", FT_OPT_STR, &ha.from, "TIME", "--history: from (RFC 3339 or Unix seconds; default 15 min before --to)", 0, 0},
        {"to", FT_OPT_STR, &ha.to, "TIME", "--history: to (default now)", 0, 0},
        {"history-export", FT_OPT_BOOL, &export, "", "write all of history as CSV (samples and rollup minutes): its backup", 0, 0},
    };
    /* --watch takes an optional value: a bare --watch means every second. */
    char *args[64];
    int nargs = 0;
    for (int a = 0; a < argc && nargs < 62; a++) {
        args[nargs++] = argv[a];
        if (strcmp(argv[a], "--watch") == 0 && (a + 1 >= argc || strncmp(argv[a + 1], "--", 2) == 0))
            args[nargs++] = "1";
        if (strcmp(argv[a], "--history") == 0 && a + 2 < argc) { /* --history SWITCH METRIC */
            args[nargs++] = argv[++a];
            args[nargs++] = "--history-metric";
        }
    }
    argc = nargs;
    argv = args;
    int r = ft_opt_parse("shmdump", "FABTEL_SHMDUMP", "Prints a fabtel data segment (read-only).", opts, sizeof(opts) / sizeof(opts[0]),
                         argc, argv);
    if (r != 0)
        return r == -ECANCELED ? 0 : 2;
    ft_shm_t shm;
    char why[300];
    if ((r = ft_shm_open_reader(&shm, shm_name, why, sizeof(why))) != 0) {
        fprintf(stderr, "shmdump: %s\n", why);
        return 1;
    }
    if (watch > 0)
        return watch_loop(&shm, only, watch, stats);
    if (ha.switch_id != NULL || export) {
        if (ha.switch_id != NULL && ha.metric == NULL) {
            fprintf(stderr, "shmdump: --history takes a switch and a metric: --history SWITCH METRIC\n");
            ft_shm_close(&shm);
            return 2;
        }
        ha.json = json, ha.csv = csv;
        r = export ? shmdump_history_export(&shm) : shmdump_history_print(&shm, &ha);
        ft_shm_close(&shm);
        return r;
    }
    int rc = 0;
    dump_t d = {0};
    ft_buf_init(&d.cells);
    uint64_t retries = 0;
    if (!json && !csv)
        print_header(&shm);
    if (stats && !json && !csv)
        print_stats(&shm);
    if (header_only)
        goto out;
    if (ft_shm_generation(&shm) == 0) {
        fprintf(stderr, "shmdump: segment %s holds no snapshot yet\n", shm_name);
        rc = 1;
    } else if (json) {
        rc = print_json(&shm, only) == 0 ? 0 : 1;
    } else if (copy_snapshot(&shm, only, &d, &retries) != 0) {
        rc = 1;
    } else if (only && d.nrows == 0) {
        fprintf(stderr, "shmdump: no switch '%s' in generation %" PRIu64 "\n", only, d.gen);
        rc = 1;
    } else if (csv) {
        print_csv(&d);
    } else {
        char ts[32];
        ft_fmt_iso8601(ts, d.collected_ns);
        printf("\ngeneration %" PRIu64 " collected at %s, %u switches (read retries: %" PRIu64 ")\n\n", d.gen, ts, d.nrows, retries);
        print_table(&d);
    }
out:
    free(d.cell_off);
    free(d.stale);
    ft_buf_destroy(&d.cells);
    ft_shm_close(&shm);
    return rc;
}
