#include "layout.h"

#include <errno.h>

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

int ft_shm_layout_compute(const ft_shm_capacity_t *cap, ft_shm_layout_t *out)
{
    if (cap->max_switches < 1 || cap->max_switches > FT_MAX_SWITCHES_LIMIT || cap->max_counters < 1 ||
        cap->max_counters > FT_MAX_COUNTERS_LIMIT || cap->nslots < 2 || cap->nslots > FT_MAX_SLOTS_LIMIT ||
        cap->text_bytes > FT_TEXT_BYTES_LIMIT || cap->body_bytes > FT_BODY_BYTES_LIMIT)
        return -EINVAL;
    /* Within these limits every product below fits comfortably in 64 bits. */
    uint32_t hs = 16;
    while (hs < 2u * cap->max_switches)
        hs <<= 1;
    out->hash_size = hs;
    out->sl_cols_off = FT_SLOT_HDR_WORDS * 8;
    out->sl_rows_off = out->sl_cols_off + (uint64_t)cap->max_counters * FT_REC_WORDS * 8;
    out->sl_hash_off = out->sl_rows_off + (uint64_t)cap->max_switches * FT_REC_WORDS * 8;
    out->sl_vals_off = out->sl_hash_off + (uint64_t)hs * 8;
    out->sl_text_off = out->sl_vals_off + (uint64_t)cap->max_switches * cap->max_counters * 8;
    out->sl_body_off = out->sl_text_off + round_up(cap->text_bytes, 8);
    out->slot_size = round_up(out->sl_body_off + round_up(cap->body_bytes, 8), 4096);
    out->stats_off = FT_SHM_HEADER_SIZE;
    out->stats_size = round_up(sizeof(ft_ingest_stats_t), 4096);
    out->slot_off = out->stats_off + out->stats_size;
    out->total_size = out->slot_off + (uint64_t)cap->nslots * out->slot_size;
    return 0;
}

const char *ft_fail_cause_label(int cause)
{
    static const char *const labels[FT_FAIL_KNOWN] = {
        [FT_FAIL_CONNECT] = "connect", [FT_FAIL_HTTP] = "http",   [FT_FAIL_TIMEOUT] = "timeout",
        [FT_FAIL_TRUNCATED] = "truncated", [FT_FAIL_PARSE] = "parse", [FT_FAIL_CAPACITY] = "capacity",
    };
    return cause >= 0 && cause < FT_FAIL_KNOWN ? labels[cause] : "unknown";
}
