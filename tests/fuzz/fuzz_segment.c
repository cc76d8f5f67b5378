/*
 * libFuzzer target: the segment validator and the readers' view. Mode 0 feeds
 * the input as a whole segment image to ft_shm_validate. Mode 1 builds a valid
 * header for a tiny capacity and fills every slot and the stats region from
 * the input, then reads it as apid and shmdump would: nothing a slot holds may
 * make a reader leave the mapping (ASan watches).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_read.h"
#include "render.h"
#include "segment.h"
#include "snapshot.h"
#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    char why[256];
    if (data[0] % 2 == 0) {
        size_t n = size - 1;
        void *img = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
        memcpy(img, data + 1, n);
        ft_shm_validate(img, n, why, sizeof(why));
        free(img);
        return 0;
    }
    ft_shm_capacity_t cap = {4, 3, 2, 64, 256};
    ft_shm_layout_t l;
    ft_shm_layout_compute(&cap, &l);
    unsigned char *img = aligned_alloc(4096, l.total_size);
    memset(img, 0, l.total_size);
    /* Fill everything past the header with the input, repeated. */
    for (uint64_t i = FT_SHM_HEADER_SIZE, k = 1; i < l.total_size; i++, k = k + 1 < size ? k + 1 : 1)
        img[i] = data[k];
    ft_shm_header_t *h = (ft_shm_header_t *)img;
    h->layout_version = FT_SHM_LAYOUT_VERSION;
    h->header_size = FT_SHM_HEADER_SIZE;
    h->epoch = 1;
    h->total_size = l.total_size;
    h->max_switches = cap.max_switches;
    h->max_counters = cap.max_counters;
    h->nslots = cap.nslots;
    h->hash_size = l.hash_size;
    h->text_bytes = cap.text_bytes;
    h->body_bytes = cap.body_bytes;
    h->stats_off = l.stats_off;
    h->stats_size = l.stats_size;
    h->slot_off = l.slot_off;
    h->slot_size = l.slot_size;
    h->sl_cols_off = l.sl_cols_off;
    h->sl_rows_off = l.sl_rows_off;
    h->sl_hash_off = l.sl_hash_off;
    h->sl_vals_off = l.sl_vals_off;
    h->sl_text_off = l.sl_text_off;
    h->sl_body_off = l.sl_body_off;
    atomic_store(&h->magic, FT_SHM_MAGIC);
    atomic_store(&h->gen, size > 1 ? data[1] : 1);
    if (ft_shm_validate(img, l.total_size, why, sizeof(why)) != 0)
        abort(); /* the header built above is valid by construction */
    ft_shm_t shm = {.base = img, .size = l.total_size, .hdr = h};
    fuzz_read_all(&shm);
    ft_ingest_summary_t s;
    ft_ingest_stats_read(ft_shm_ingest_stats(&shm), 1800000000ULL * 1000000000ULL, &s);
    free(img);
    return 0;
}
