/*
 * The engine limit for flowd's benchmark: the same upserts into SQLite (flowd/store, WAL, synchronous=FULL), one
 * commit per batch of the given size, no HTTP, one thread. Prints records/s.
 *
 *     bench-flow-engine DIR BATCH SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: bench-flow-engine DIR BATCH SECONDS\n"), 2;
    size_t batch = (size_t)atoi(argv[2]);
    double seconds = atof(argv[3]);
    char path[4096], why[300];
    snprintf(path, sizeof(path), "%s/engine.sqlite", argv[1]);
    flow_store_t s;
    if (flow_store_open(&s, path, 0, why, sizeof(why)) != 0)
        return fprintf(stderr, "%s\n", why), 1;
    flow_batch_t b = {calloc(batch, sizeof(flow_record_t)), batch, batch};
    ft_buf_t answer;
    ft_buf_init(&answer);
    uint8_t hash[32] = {0};
    uint64_t t0 = ft_mono_ns(), end = t0 + (uint64_t)(seconds * 1e9), records = 0;
    unsigned seed = 1;
    while (ft_mono_ns() < end) {
        for (size_t i = 0; i < batch; i++) {
            flow_record_t *r = &b.rec[i];
            snprintf(r->src_app, sizeof(r->src_app), "app%d", rand_r(&seed) % 1000);
            snprintf(r->dest_app, sizeof(r->dest_app), "dst%d", (int)i);
            strcpy(r->vpc_id, "vpc-0");
            r->hour = rand_r(&seed) % 24;
            r->bytes_rx = 100, r->bytes_tx = 200;
        }
        int replayed;
        if (flow_store_begin(&s) != 0 || flow_store_apply(&s, &b, NULL, hash, 0, &answer, &replayed) != 201 || flow_store_commit(&s) != 0)
            return fprintf(stderr, "store failed\n"), 1;
        records += batch;
    }
    printf("%.1f\n", (double)records / ((double)(ft_mono_ns() - t0) / 1e9));
    flow_store_close(&s);
    return 0;
}
