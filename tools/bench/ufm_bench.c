/*
 * bench-ufm: ingest of NVIDIA UFM Telemetry's CSV at scale, without HTTP: the producer's UFM body (a row per
 * port, 31 counters) through ingestd's own path — libcsv parse, the rewrite into a row per port (ingestd/ufm),
 * judge and apply, publish — into two private segments in the same run, alternating: one pre-rendering the
 * whole ListMetrics into every slot (and its gzip), one not (readers render it then); with --history-bytes B a
 * third, not pre-rendering, records every sample into a history file too (as ingestd does by default). Medians of
 * the rounds.
 *
 *   bench-ufm [--switches 5000] [--ports 40] [--rounds 5] [--history-bytes B]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"

#include "batch.h"
#include "histwrite.h"
#include "model.h"
#include "sim.h"
#include "ufm.h"

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}


typedef struct side {
    char name[64];
    ft_shm_t shm;
    ingest_model_t m;
    ft_hist_writer_t hist;
    char hist_path[128];
    double parse[64], rewrite[64], apply[64], publish[64], total[64];
} side_t;

static int side_init(side_t *s, const char *tag, uint32_t rows, int prerender, uint64_t hist_bytes)
{
    ft_shm_capacity_t cap = {rows + 16, 64, 4, (uint64_t)(rows + 16) * 160, prerender ? (uint64_t)(rows + 16) * 2048 : 4096};
    char why[300];
    int created;
    snprintf(s->name, sizeof(s->name), "/fabtel-bench-ufm-%d-%s", (int)getpid(), tag);
    if (ingest_model_init(&s->m, &cap, 3600e9) != 0 || ft_shm_writer_open(&s->shm, s->name, &cap, &created, why, sizeof(why)) != 0) {
        fprintf(stderr, "bench-ufm: %s: %s\n", tag, why);
        return -1;
    }
    ingest_model_set_rules(&s->m, &INGEST_UFM_RULES);
    ingest_model_set_kinds(&s->m, INGEST_UFM_COUNTERS, INGEST_UFM_SCALES, why, sizeof(why));
    s->m.prerender_max_rows = prerender ? 0 : 1;
    if (hist_bytes) {
        uint64_t recovered;
        snprintf(s->hist_path, sizeof(s->hist_path), "/tmp/fabtel-bench-ufm-%d.ft", (int)getpid());
        unlink(s->hist_path);
        if (ft_hist_writer_open(&s->hist, s->hist_path, hist_bytes, cap.max_switches, 0, &created, &recovered, why, sizeof(why)) != 0) {
            fprintf(stderr, "bench-ufm: %s\n", why);
            return -1;
        }
        s->m.hist = &s->hist;
    }
    return 0;
}

static void side_run(side_t *s, ingest_batch_t *b, ingest_batch_t *u, const ft_buf_t *csv, uint64_t now, int i)
{
    ingest_result_t res;
    char why[200];
    double t0 = mono_ms();
    ingest_batch_parse(b, csv->data, csv->len);
    double t1 = mono_ms();
    ingest_ufm_translate(b, u, why, sizeof(why));
    double t2 = mono_ms();
    if (ingest_model_apply(&s->m, u, now, &res) != 0)
        fprintf(stderr, "bench-ufm: rejected: %s\n", res.why);
    double t3 = mono_ms();
    ingest_model_publish(&s->m, &s->shm, now);
    double t4 = mono_ms();
    s->parse[i] = t1 - t0, s->rewrite[i] = t2 - t1, s->apply[i] = t3 - t2, s->publish[i] = t4 - t3, s->total[i] = t4 - t0;
}

int main(int argc, char **argv)
{
    uint32_t switches = 5000, ports = 40;
    int rounds = 5;
    uint64_t hist_bytes = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--switches") == 0)
            switches = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ports") == 0)
            ports = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--history-bytes") == 0)
            hist_bytes = strtoull(argv[i + 1], NULL, 10);
    }
    if (rounds < 1 || rounds > 60)
        rounds = 5;
    prod_sim_t sim;
    static side_t on, off, hist;
    ingest_batch_t b, u;
    int nsides = hist_bytes ? 3 : 2;
    if (prod_sim_init(&sim, switches, 1, 1, 1.0) != 0 || side_init(&on, "on", switches * ports, 1, 0) != 0 ||
        side_init(&off, "off", switches * ports, 0, 0) != 0 || (hist_bytes && side_init(&hist, "hist", switches * ports, 0, hist_bytes) != 0) ||
        ingest_batch_init(&b, SIZE_MAX) != 0 || ingest_batch_init(&u, SIZE_MAX) != 0)
        return 1;
    ft_buf_t csv;
    ft_buf_init(&csv);
    uint64_t t0 = 1796500000000000000ULL;
    int warm = 1; /* the first round creates the rows and first-touches the pages: left out of the medians */
    for (int g = 0; g < rounds + warm; g++) {
        uint64_t now = t0 + (uint64_t)g * 1000000000ULL;
        prod_sim_step(&sim, now);
        prod_sim_ufm_step(&sim);
        prod_sim_render_ufm(&sim, ports, 0, &csv);
        int i = g < warm ? 0 : g - warm;
        if (g % 2)
            side_run(&off, &b, &u, &csv, now, i), side_run(&on, &b, &u, &csv, now, i);
        else
            side_run(&on, &b, &u, &csv, now, i), side_run(&off, &b, &u, &csv, now, i);
        if (hist_bytes)
            side_run(&hist, &b, &u, &csv, now, i);
    }
    printf("ports %u (%u switches x %u), counters 31, body %.1f MB, medians of %d rounds\n", switches * ports, switches, ports,
           (double)csv.len / 1e6, rounds);
    side_t *sides[3] = {&on, &off, &hist};
    const char *names[3] = {"pre-rendered", "not pre-rendered", "+ history"};
    for (int k = 0; k < nsides; k++) {
        side_t *s = sides[k];
        printf("%-17s parse %7.1f ms  rewrite %6.1f ms  apply %6.1f ms  publish %7.1f ms  total %7.1f ms\n", names[k],
               bench_median(s->parse, (size_t)rounds), bench_median(s->rewrite, (size_t)rounds), bench_median(s->apply, (size_t)rounds), bench_median(s->publish, (size_t)rounds),
               bench_median(s->total, (size_t)rounds));
    }
    printf("total_prerendered_ms %.1f\ntotal_not_prerendered_ms %.1f\n", bench_median(on.total, (size_t)rounds), bench_median(off.total, (size_t)rounds));
    if (hist_bytes)
        printf("total_history_ms %.1f\n", bench_median(hist.total, (size_t)rounds));
    for (int k = 0; k < nsides; k++) {
        if (sides[k]->m.hist != NULL) {
            ft_hist_writer_close(&sides[k]->hist);
            unlink(sides[k]->hist_path);
        }
        ingest_model_destroy(&sides[k]->m);
        ft_shm_close(&sides[k]->shm);
        ft_shm_unlink_all(sides[k]->name);
    }
    ingest_batch_destroy(&b);
    ingest_batch_destroy(&u);
    prod_sim_destroy(&sim);
    ft_buf_destroy(&csv);
    return 0;
}
