/*
 * bench-orch: orchd's work without HTTP, each a median of runs.
 *
 *   bench-orch tick DIR DEPLOYMENTS NODES ROUNDS
 *       one lifecycle tick over DEPLOYMENTS x NODES nodes in a fresh store: every node due (PENDING ->
 *       PROVISIONING, the largest tick), then a tick with nothing due (the steady state between transitions)
 *   bench-orch bottlenecks HISTORY_FILE NODES MINUTES ROUNDS
 *       a deployment's bottlenecks (robust) over NODES running nodes switch-1-001 … and a MINUTES window of the
 *       history file (bench-history --prefill --nodes writes one)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"

#include "fabric.h"
#include "store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static int bench_tick(const char *dir, int deployments, int nodes, int rounds)
{
    double due[64], none[64], create[64];
    uint64_t moved = 0;
    for (int r = 0; r < rounds && r < 64; r++) {
        char path[4200], why[300];
        snprintf(path, sizeof(path), "%s/bench-orch-%d.sqlite", dir, (int)getpid());
        unlink(path);
        orch_store_t s;
        if (orch_store_open(&s, path, why, sizeof(why)) != 0) {
            fprintf(stderr, "bench-orch: %s\n", why);
            return 1;
        }
        ft_buf_t out;
        ft_buf_init(&out);
        int64_t id, t = 1796500000000;
        orch_new_deployment_t d = {"bench", NULL, 5, 0, nodes};
        double t0 = now_s();
        for (int k = 0; k < deployments; k++)
            orch_store_create(&s, &d, t, &id, &out);
        create[r] = (now_s() - t0) / deployments;
        t0 = now_s();
        orch_store_tick(&s, t + 1, 1.0, &moved);
        due[r] = now_s() - t0;
        uint64_t idle;
        t0 = now_s();
        orch_store_tick(&s, t + 2, 1.0, &idle);
        none[r] = now_s() - t0;
        ft_buf_destroy(&out);
        orch_store_close(&s);
        const char *sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p[4300];
            snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
            unlink(p);
        }
    }
    printf("create_%d_nodes_s %.6f\ntick_all_due_s %.6f moved %" PRIu64 "\ntick_none_due_s %.6f\n", nodes, bench_median(create, (size_t)rounds),
           bench_median(due, (size_t)rounds), moved, bench_median(none, (size_t)rounds));
    return 0;
}

static int bench_bottlenecks(const char *path, int nodes, int minutes, int rounds)
{
    orch_fabric_t f;
    orch_fabric_init(&f, "/fabtel-bench-none");
    if (orch_fabric_open_history(&f, path) != 0)
        return 1;
    orch_node_ref_t *refs = calloc((size_t)nodes, sizeof(*refs));
    for (int i = 0; i < nodes; i++) {
        refs[i].id = i + 1, refs[i].deployment_id = 1;
        snprintf(refs[i].hostname, sizeof(refs[i].hostname), "switch-1-%03d", i + 1);
        snprintf(refs[i].node_id, sizeof(refs[i].node_id), "node-%03d", i + 1);
    }
    orch_bn_query_t q = {.dep = 1, .window_min = minutes, .method = FT_BN_ROBUST, .threshold = ft_bn_default_threshold(FT_BN_ROBUST)};
    double took[64];
    ft_buf_t out;
    ft_buf_init(&out);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t end = (int64_t)ts.tv_sec * 1000;
    for (int r = 0; r < rounds && r < 64; r++) {
        double t0 = now_s();
        if (orch_fabric_bottlenecks(&f, refs, (size_t)nodes, &q, end, &out) != 0)
            return 1;
        took[r] = now_s() - t0;
    }
    ft_buf_append(&out, "", 1);
    const char *tb = strstr(out.data, "\"total_bottlenecks\":");
    printf("bottlenecks_s %.6f flagged %d\n", bench_median(took, (size_t)rounds), tb ? atoi(tb + 20) : -1);
    ft_buf_destroy(&out);
    free(refs);
    orch_fabric_destroy(&f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "tick") == 0)
        return bench_tick(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc == 6 && strcmp(argv[1], "bottlenecks") == 0)
        return bench_bottlenecks(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: bench-orch tick DIR DEPLOYMENTS NODES ROUNDS | bottlenecks HISTORY_FILE NODES MINUTES ROUNDS\n");
    return 2;
}
