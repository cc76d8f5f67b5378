/*
 * libFuzzer target: the CSV ingest path. Each input is a body: parsed by
 * ingestd/batch, judged and applied by ingestd/model, published into a real
 * segment, then read back and rendered through the readers' view. Consecutive
 * inputs build on each other's model, as bodies do in ingestd. A body with
 * UFM's header goes ingestd's UFM way (ingestd/ufm: the rewrite to a row per
 * port, UFM's rules) into a model of its own.
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
#include "ufm.h"

static ft_shm_t shm, ufm_shm;
static ingest_model_t model, ufm_model;
static ingest_batch_t batch, ufm_batch;
static uint64_t now = 1800000000ULL * 1000000000ULL;

static void cleanup(void)
{
    ft_shm_unlink_all(shm.name);
    ft_shm_unlink_all(ufm_shm.name);
}

static void setup(void)
{
    char name[64], uname[80], why[256];
    int created;
    snprintf(name, sizeof(name), "/fabtel-fuzz-csv-%d", (int)getpid());
    snprintf(uname, sizeof(uname), "%s-ufm", name);
    ft_shm_capacity_t cap = {32, 8, 2, 512, 8192};
    ft_shm_unlink_all(name);
    ft_shm_unlink_all(uname);
    if (ft_shm_writer_open(&shm, name, &cap, &created, why, sizeof(why)) != 0 ||
        ft_shm_writer_open(&ufm_shm, uname, &cap, &created, why, sizeof(why)) != 0 || ingest_model_init(&model, &cap, 5e9) != 0 ||
        ingest_model_init(&ufm_model, &cap, 5e9) != 0 || ingest_batch_init(&batch, 1 << 20) != 0 ||
        ingest_batch_init(&ufm_batch, SIZE_MAX) != 0)
        abort();
    ingest_model_set_rules(&ufm_model, &INGEST_UFM_RULES);
    ingest_model_set_kinds(&ufm_model, INGEST_UFM_COUNTERS, INGEST_UFM_SCALES, why, sizeof(why));
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (shm.base == NULL)
        setup();
    now += 1000000000ULL;
    ingest_result_t res;
    char why[200];
    if (ingest_batch_parse(&batch, data, size) != 0)
        return 0;
    if (ingest_ufm_detect(&batch)) { /* UFM's way, into a segment of its own */
        if (ingest_ufm_translate(&batch, &ufm_batch, why, sizeof(why)) == 0 && ingest_model_apply(&ufm_model, &ufm_batch, now, &res) == 0)
            ingest_model_publish(&ufm_model, &ufm_shm, now);
        fuzz_read_all(&ufm_shm);
        return 0;
    } else if (ingest_model_apply(&model, &batch, now, &res) == 0) {
        ingest_model_publish(&model, &shm, now);
    }
    fuzz_read_all(&shm);
    return 0;
}
