/*
 * bench-history: what history costs ingest, and what the budget keeps.
 *
 *   bench-history --switches N [--generations G] [--history-bytes B]
 *   bench-history --prefill DIR --hours H [--switches N] [--nodes K] [--history-bytes B]
 *
 * The simulated fabric (producer/sim, one sample a second) is rendered to
 * CSV and put through ingestd's own model into two private segments in
 * the same run, alternating: one with history off, one recording into a
 * history file. Prints the medians of parse+apply+publish and of publish
 * alone for both, their ratios, then the bytes per sample of the file's
 * full blocks and the windows the budget keeps at this fabric's rate.
 * Nothing listens; everything is removed at the end.
 *
 * --prefill writes DIR/history.ft with H hours of the simulated fabric up to
 * now, through the same pipeline, and keeps it: the query benchmark starts
 * ingestd on it (bench.py case 8). --nodes K adds K nodes of deployment 1 as
 * orchd would (switch-1-001 … with node_id 1 …, the seed-003 hardware model):
 * orchd's bottleneck benchmark reads them (bench.py case 10).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "bench_stats.h"
#include "histread.h"
#include "model.h"
#include "sim.h"

typedef struct side {
    ingest_model_t m;
    ingest_batch_t b;
    ft_shm_t shm;
    char name[64];
    ft_hist_writer_t hist;
    double *total_ms, *publish_ms, *cpu_ms;
} side_t;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* every thread of the process: the history helper's work counts */
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}


static int side_init(side_t *s, const char *tag, uint32_t n, const char *hist_path, uint64_t hist_bytes, size_t gens)
{
    ft_shm_capacity_t cap = {n + 16, 64, 4, (uint64_t)(n + 16) * 128, (uint64_t)(n + 16) * 1024};
    char why[300];
    int created;
    snprintf(s->name, sizeof(s->name), "/fabtel-bench-hist-%d-%s", (int)getpid(), tag);
    if (ingest_model_init(&s->m, &cap, 3600e9) != 0 || ingest_batch_init(&s->b, 1u << 30) != 0 ||
        ingest_model_set_kinds(&s->m, "port_xmit_data,port_rcv_data,symbol_error,link_downed", "", why, sizeof(why)) != 0 ||
        ft_shm_writer_open(&s->shm, s->name, &cap, &created, why, sizeof(why)) != 0) {
        fprintf(stderr, "bench-history: %s: %s\n", tag, why);
        return -1;
    }
    if (hist_path != NULL) {
        uint64_t recovered;
        if (ft_hist_writer_open(&s->hist, hist_path, hist_bytes, cap.max_switches, 0, &created, &recovered, why, sizeof(why)) != 0) {
            fprintf(stderr, "bench-history: %s\n", why);
            return -1;
        }
        s->m.hist = &s->hist;
    }
    s->total_ms = calloc(gens, sizeof(double));
    s->publish_ms = calloc(gens, sizeof(double));
    s->cpu_ms = calloc(gens, sizeof(double));
    return 0;
}

static void side_run(side_t *s, const ft_buf_t *csv, uint64_t now_ns, size_t i)
{
    ingest_result_t res;
    double c0 = cpu_ms(), t0 = mono_ms();
    ingest_batch_parse(&s->b, csv->data, csv->len);
    ingest_model_apply(&s->m, &s->b, now_ns, &res);
    double t1 = mono_ms();
    ingest_model_publish(&s->m, &s->shm, now_ns);
    double t2 = mono_ms();
    s->total_ms[i] = t2 - t0;
    s->publish_ms[i] = t2 - t1;
    s->cpu_ms[i] = cpu_ms() - c0;
}

static void side_destroy(side_t *s)
{
    if (s->m.hist != NULL)
        ft_hist_writer_close(&s->hist);
    ingest_model_destroy(&s->m);
    ingest_batch_destroy(&s->b);
    ft_shm_close(&s->shm);
    ft_shm_unlink_all(s->name);
    free(s->total_ms);
    free(s->publish_ms);
    free(s->cpu_ms);
}

/* What the file keeps at this fabric's rate: full blocks' bytes per sample, and the windows both rings hold. */
static void report_windows(const char *path, uint64_t budget)
{
    ft_hist_reader_t r;
    char why[300];
    if (ft_hist_reader_open(&r, path, why, sizeof(why)) != 0) {
        fprintf(stderr, "bench-history: %s\n", why);
        return;
    }
    const ft_hist_header_t *h = r.map.hdr;
    uint64_t sc = atomic_load(&h->samples_closed), bc = atomic_load(&h->bytes_closed);
    uint32_t ncols = ft_hist_ncounters(&r);
    double bps = sc ? (double)bc / (double)sc : 0;
    printf("bytes per sample (full blocks, headers included)   %.3f B   (%" PRIu64 " samples in full blocks, %u counters)\n", bps, sc,
           ncols);
    /* rollups: payload bytes per switch-minute, plus the block header and column list each block carries */
    uint64_t rr = atomic_load(&h->roll_records), rb = atomic_load(&h->roll_bytes);
    double roll_bpm = rr ? (double)rb / (double)rr * FT_HIST_BLOCK / (FT_HIST_BLOCK - ft_hist_payload_off(ncols)) : 0;
    printf("rollup bytes per switch-minute (blocks counted whole) %.1f B\n", roll_bpm);
    const uint64_t budgets[] = {budget, 512ULL << 20, 2ULL << 30};
    const uint32_t fabrics[] = {50, 10000, 100000};
    for (size_t b = 0; b < 3; b++)
        for (size_t f = 0; f < 3; f++) {
            ft_hist_geometry_t g;
            uint32_t entries = fabrics[f] * 4 < budgets[b] / 16384 ? fabrics[f] * 4 : (uint32_t)(budgets[b] / 16384);
            if (ft_hist_geometry(budgets[b], entries < 1024 ? 1024 : entries, &g) != 0 || bps == 0)
                continue;
            /* each switch keeps one block of each ring open: that room holds no closed history */
            double raw_bytes = (double)g.raw_blocks * FT_HIST_BLOCK - (double)fabrics[f] * FT_HIST_BLOCK / 2;
            double roll_bytes = (double)g.roll_blocks * FT_HIST_BLOCK - (double)fabrics[f] * FT_HIST_BLOCK / 2;
            double raw_s = raw_bytes > 0 ? raw_bytes / (bps * ncols * fabrics[f]) : 0;
            double roll_s = roll_bytes > 0 && roll_bpm > 0 ? roll_bytes / (roll_bpm * fabrics[f]) * 60 : 0;
            printf("budget %6.0f MiB, %6u switches x %u counters at 1/s: full resolution %8.1f h, rollups %8.1f h%s\n",
                   (double)budgets[b] / (1 << 20), fabrics[f], ncols, raw_s / 3600, roll_s / 3600,
                   raw_bytes <= 0 ? "  (too small: the open blocks alone do not fit)" : "");
        }
    ft_hist_reader_close(&r);
}

/* H hours of the fabric, one sample a second, ending now, into dir/history.ft (kept). */
static int prefill(const char *dir, double hours, uint32_t n, uint32_t nodes, uint64_t bytes)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, FT_HIST_FILE);
    size_t gens = (size_t)(hours * 3600);
    prod_sim_t sim;
    side_t on = {0};
    if (prod_sim_init(&sim, n, 1, 1, 1.0) != 0 || side_init(&on, "prefill", n + nodes, path, bytes, 1) != 0)
        return 1;
    for (uint32_t i = 1; i <= nodes; i++) {
        char name[32];
        int len = snprintf(name, sizeof(name), "switch-1-%03u", i);
        if (prod_sim_node_put(&sim, name, (size_t)len, i, nodes) != 1)
            return 1;
    }
    ft_buf_t csv;
    ft_buf_init(&csv);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t end = (uint64_t)ts.tv_sec * 1000000000ULL, start = end - (uint64_t)gens * 1000000000ULL;
    for (size_t g = 0; g < gens; g++) {
        uint64_t now = start + (uint64_t)g * 1000000000ULL;
        prod_sim_step(&sim, now);
        csv.len = 0;
        prod_sim_render(&sim, &csv);
        side_run(&on, &csv, now, 0);
    }
    printf("prefilled %s: %u switches and %u nodes, %zu generations (%.1f h) ending now\n", path, n, nodes, gens, hours);
    side_destroy(&on);
    prod_sim_destroy(&sim);
    ft_buf_destroy(&csv);
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t n = 10000, nodes = 0;
    size_t gens = 12;
    uint64_t bytes = 0;
    const char *prefill_dir = NULL;
    double hours = 24;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--prefill") == 0)
            prefill_dir = argv[i + 1];
        else if (strcmp(argv[i], "--hours") == 0)
            hours = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--switches") == 0)
            n = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--nodes") == 0)
            nodes = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--generations") == 0)
            gens = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--history-bytes") == 0)
            bytes = strtoull(argv[i + 1], NULL, 10);
    }
    if (prefill_dir != NULL)
        return prefill(prefill_dir, hours, n, nodes, bytes ? bytes : 512ULL << 20);
    if (bytes == 0)
        bytes = (uint64_t)n * 4 * FT_HIST_BLOCK > (64ULL << 20) ? (uint64_t)n * 4 * FT_HIST_BLOCK : 64ULL << 20; /* reserved on disk */
    char dir[] = "/tmp/fabtel-bench-history-XXXXXX", path[128];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/%s", dir, FT_HIST_FILE);
    prod_sim_t sim;
    side_t off = {0}, on = {0};
    if (prod_sim_init(&sim, n, 1, 1, 1.0) != 0 || side_init(&off, "off", n, NULL, 0, gens) != 0 ||
        side_init(&on, "on", n, path, bytes, gens) != 0)
        return 1;
    ft_buf_t csv;
    ft_buf_init(&csv);
    uint64_t t0 = 1796500000000000000ULL;
    for (size_t g = 0; g < gens; g++) {
        uint64_t now = t0 + (uint64_t)g * 1000000000ULL; /* one sample a second */
        prod_sim_step(&sim, now);
        csv.len = 0;
        prod_sim_render(&sim, &csv);
        if (g % 2) /* alternate which side goes first, so neither always meets a warm cache */
            side_run(&off, &csv, now, g), side_run(&on, &csv, now, g);
        else
            side_run(&on, &csv, now, g), side_run(&off, &csv, now, g);
    }
    /* the first two generations create rows and first-touch pages: the medians are over the rest */
    size_t skip = gens > 4 ? 2 : 0;
    double off_total = bench_median(off.total_ms + skip, gens - skip), on_total = bench_median(on.total_ms + skip, gens - skip);
    double off_pub = bench_median(off.publish_ms + skip, gens - skip), on_pub = bench_median(on.publish_ms + skip, gens - skip);
    printf("switches %u, generations %zu (medians of the last %zu), CSV %zu bytes, history file %" PRIu64 " MiB\n", n, gens, gens - skip,
           csv.len, bytes >> 20);
    printf("parse+apply+publish   history off %9.3f ms   on %9.3f ms   ratio on/off %.3f\n", off_total, on_total, on_total / off_total);
    printf("publish alone         history off %9.3f ms   on %9.3f ms   ratio on/off %.3f\n", off_pub, on_pub, on_pub / off_pub);
    double off_cpu = bench_median(off.cpu_ms + skip, gens - skip), on_cpu = bench_median(on.cpu_ms + skip, gens - skip);
    printf("CPU time (all threads) history off %9.3f ms   on %9.3f ms   ratio on/off %.3f (history runs beside the render)\n", off_cpu,
           on_cpu, on_cpu / off_cpu);
    side_destroy(&off);
    side_destroy(&on);
    report_windows(path, bytes);
    prod_sim_destroy(&sim);
    ft_buf_destroy(&csv);
    unlink(path);
    rmdir(dir);
    return 0;
}
