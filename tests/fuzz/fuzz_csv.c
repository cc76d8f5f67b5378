/*
 * libFuzzer target: the CSV ingest path. Each input is a body: parsed by
 * ingestd/batch, judged and applied by ingestd/model, published into a real
 * segment, then read back and rendered through the readers' view. Consecutive
 * inputs build on each other's model, as bodies do in ingestd.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "batch.h"
#include "model.h"
#include "fuzz_read.h"
#include "render.h"
#include "snapshot.h"

static ft_shm_t shm;
static ingest_model_t model;
static ingest_batch_t batch;
static uint64_t now = 1800000000ULL * 1000000000ULL;

static void cleanup(void)
{
    ft_shm_unlink_all(shm.name);
}

static void setup(void)
{
    char name[64], why[256];
    int created;
    snprintf(name, sizeof(name), "/fabtel-fuzz-csv-%d", (int)getpid());
    ft_shm_capacity_t cap = {32, 8, 2, 512, 8192};
    ft_shm_unlink_all(name);
    if (ft_shm_writer_open(&shm, name, &cap, &created, why, sizeof(why)) != 0 || ingest_model_init(&model, &cap, 5e9) != 0 ||
        ingest_batch_init(&batch, 1 << 20) != 0)
        abort();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (shm.base == NULL)
        setup();
    now += 1000000000ULL;
    ingest_result_t res;
    if (ingest_batch_parse(&batch, data, size) == 0 && ingest_model_apply(&model, &batch, now, &res) == 0)
        ingest_model_publish(&model, &shm, now);
    fuzz_read_all(&shm);
    return 0;
}
