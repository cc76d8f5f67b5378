#include "histread.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqlock.h"
#include "snapshot.h"

#define BLOCK_WORDS (FT_HIST_BLOCK / 8)
#define COPY_TRIES 64

static inline uint64_t ld(const _Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }
static inline uint64_t ld_acq(const _Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_acquire); }

int ft_hist_reader_open(ft_hist_reader_t *r, const char *path, char *why, size_t whysz)
{
    memset(r, 0, sizeof(*r));
    int rc = ft_hist_map_reader(&r->map, path, why, whysz);
    if (rc != 0)
        return rc;
    uint32_t size = 1024;
    while (size < 2 * r->map.hdr->max_entries)
        size <<= 1;
    r->by_name_size = size;
    r->by_name = calloc(size, sizeof(uint32_t));
    r->older = calloc(r->map.hdr->max_entries, sizeof(uint32_t));
    r->verified[0] = calloc(r->map.hdr->raw_blocks, sizeof(struct ft_hist_verified));
    r->verified[1] = calloc(r->map.hdr->roll_blocks, sizeof(struct ft_hist_verified));
    if (r->by_name == NULL || r->older == NULL || r->verified[0] == NULL || r->verified[1] == NULL) {
        ft_hist_reader_close(r);
        return -ENOMEM;
    }
    return 0;
}

void ft_hist_reader_close(ft_hist_reader_t *r)
{
    ft_hist_unmap(&r->map);
    free(r->by_name);
    free(r->older);
    free(r->blocks);
    free(r->verified[0]);
    free(r->verified[1]);
    memset(r, 0, sizeof(*r));
}

/* ---- catalogues ---- */

uint32_t ft_hist_nentries(const ft_hist_reader_t *r)
{
    uint64_t n = ld_acq(&r->map.hdr->nentries); /* pairs with the writer's release: entries below n are whole */
    return n < r->map.hdr->max_entries ? (uint32_t)n : r->map.hdr->max_entries;
}

int ft_hist_entry_info(const ft_hist_reader_t *r, uint32_t id, ft_hist_entry_info_t *out)
{
    if (id >= ft_hist_nentries(r))
        return -ENOENT;
    const _Atomic uint64_t *e = ft_hist_entry_words(&r->map, id);
    uint64_t meta = ld(e + FT_HE_META);
    ft_seq_load_words(out->name, e + FT_HE_NAME, FT_NAME_WORDS);
    out->len = (uint32_t)(meta & 0xff) > FT_NAME_MAX ? FT_NAME_MAX : (uint32_t)(meta & 0xff);
    out->name[out->len] = 0;
    out->incarnation = (uint32_t)(meta >> 32);
    out->created_t = (int64_t)ld(e + FT_HE_CREATED_T);
    out->closed_t = (int64_t)ld(e + FT_HE_CLOSED_T);
    out->last_t = (int64_t)ld(e + FT_HE_LAST_T);
    return 0;
}

/* Index the entries written since the last call (entries never change name). */
static void index_new(ft_hist_reader_t *r)
{
    uint32_t n = ft_hist_nentries(r), mask = r->by_name_size - 1;
    for (; r->indexed < n; r->indexed++) {
        ft_hist_entry_info_t e;
        ft_hist_entry_info(r, r->indexed, &e);
        for (uint64_t i = ft_snap_name_hash(e.name, e.len) & mask;; i = (i + 1) & mask) {
            uint32_t *s = &r->by_name[i];
            ft_hist_entry_info_t o;
            if (*s != 0 && (ft_hist_entry_info(r, *s - 1, &o) != 0 || o.len != e.len || memcmp(o.name, e.name, e.len) != 0))
                continue;
            r->older[r->indexed] = *s;
            *s = r->indexed + 1;
            break;
        }
    }
}

int ft_hist_find_switch(ft_hist_reader_t *r, const char *name, size_t len, uint32_t *ids, int max)
{
    index_new(r);
    uint32_t mask = r->by_name_size - 1;
    for (uint64_t i = ft_snap_name_hash(name, len) & mask;; i = (i + 1) & mask) {
        uint32_t s = r->by_name[i];
        if (s == 0)
            return 0;
        ft_hist_entry_info_t o;
        if (ft_hist_entry_info(r, s - 1, &o) != 0 || o.len != len || memcmp(o.name, name, len) != 0)
            continue;
        int n = 0;
        for (; s != 0 && n < max; s = r->older[s - 1])
            ids[n++] = s - 1;
        return n;
    }
}

uint32_t ft_hist_ncounters(const ft_hist_reader_t *r)
{
    uint64_t n = ld_acq(&r->map.hdr->ncounters);
    return n < FT_HIST_MAX_COUNTERS ? (uint32_t)n : FT_HIST_MAX_COUNTERS;
}

int ft_hist_counter_name(const ft_hist_reader_t *r, uint32_t id, char *out)
{
    if (id >= ft_hist_ncounters(r))
        return -ENOENT;
    const _Atomic uint64_t *c = ft_hist_ctr_words(&r->map, id);
    ft_seq_load_words(out, c + FT_HC_NAME, FT_NAME_WORDS);
    uint32_t len = (uint32_t)(ld(c + FT_HC_META) & 0xff);
    out[len > FT_NAME_MAX ? FT_NAME_MAX : len] = 0;
    return (int)len;
}

int64_t ft_hist_find_counter(const ft_hist_reader_t *r, const char *name, size_t len, uint32_t *type, int *counter,
                             uint32_t *scale)
{
    uint32_t n = ft_hist_ncounters(r);
    for (uint32_t id = 0; id < n; id++) {
        char other[FT_NAME_WORDS * 8];
        if (ft_hist_counter_name(r, id, other) != (int)len || memcmp(other, name, len) != 0)
            continue;
        uint64_t meta = ld(ft_hist_ctr_words(&r->map, id) + FT_HC_META);
        *type = (uint32_t)(meta >> 8 & 0xff);
        *counter = (int)(meta >> 16 & 1);
        *scale = (uint32_t)(meta >> 32) > 1 ? (uint32_t)(meta >> 32) : 1;
        return id;
    }
    return -ENOENT;
}

/* ---- blocks ---- */

static uint64_t *copy_slot(ft_hist_reader_t *r, size_t i)
{
    if (i >= r->nblocks_cap) {
        size_t cap = r->nblocks_cap ? r->nblocks_cap * 2 : 16;
        uint64_t *b = realloc(r->blocks, cap * FT_HIST_BLOCK);
        if (b == NULL)
            return NULL;
        r->blocks = b, r->nblocks_cap = cap;
    }
    return r->blocks + i * BLOCK_WORDS;
}

/*
 * A whole, private copy of block `pos` of a ring that belongs to `entry`:
 * 0, or -1 when it cannot be trusted (the chain is cut there).
 * Orderings: the seqcount's begin (acquire) and re-check (acquire fence,
 * then the SEQ word again) bracket the copy, so a copy that passes saw no
 * store of an append or a re-use (shm/seqlock.h); the CRC then proves the
 * bytes are the ones the writer meant even across a power loss.
 */
static int copy_block(ft_hist_reader_t *r, int rollup, uint64_t pos, uint32_t entry, uint64_t *dst)
{
    const _Atomic uint64_t *blk = ft_hist_block(&r->map, rollup, pos);
    for (int tries = 0; tries < COPY_TRIES; tries++) {
        uint64_t s = ft_seqcount_read_begin(&blk[FT_HB_SEQ]);
        ft_seq_load_words(dst, blk, FT_HB_WORDS);
        uint32_t ncols = ft_hist_owner_ncols(dst[FT_HB_OWNER]), used = (uint32_t)dst[FT_HB_USED];
        if (ncols > FT_HIST_MAX_COLS || used > FT_HIST_BLOCK - ft_hist_payload_off(ncols))
            return -1;
        ft_seq_load_words(dst + FT_HB_WORDS, blk + FT_HB_WORDS, (ft_hist_payload_off(ncols) + used + 7) / 8 - FT_HB_WORDS);
#ifndef FT_HIST_NO_RECHECK
        if (ft_seqcount_read_retry(&blk[FT_HB_SEQ], s)) {
            r->torn_retries++;
            continue;
        }
#else
        (void)s;
#endif
#ifndef FT_HIST_NO_RECHECK
        if (dst[FT_HB_POS] != pos || ft_hist_owner_entry(dst[FT_HB_OWNER]) != entry ||
            ft_hist_owner_kind(dst[FT_HB_OWNER]) != (rollup ? FT_HIST_KIND_ROLLUP : FT_HIST_KIND_RAW))
            return -1;
        struct ft_hist_verified *v = &r->verified[rollup != 0][pos % (rollup ? r->map.hdr->roll_blocks : r->map.hdr->raw_blocks)];
        if (v->pos == pos + 1 && v->seq == s && v->used == dst[FT_HB_USED])
            return 0; /* summed before, unchanged since (same seq: the writer has not touched it) */
        if (ft_hist_block_crc(dst, used) != (uint32_t)(dst[FT_HB_USED] >> 32))
            return -1;
        *v = (struct ft_hist_verified){pos + 1, s, dst[FT_HB_USED]};
#else
        (void)entry;
#endif
        return 0;
    }
    return -1;
}

/*
 * Walk an entry's chain newest to oldest until a block starts before `from`
 * (it holds the sample just before from, for rates) or the chain ends or is
 * cut. The copies are left in r->blocks, newest first; returns how many.
 */
static size_t collect(ft_hist_reader_t *r, int rollup, uint32_t entry, int64_t from, int64_t to, int *cut)
{
    uint64_t pos1 = ld_acq(ft_hist_entry_words(&r->map, entry) + (rollup ? FT_HE_ROLL_LAST : FT_HE_RAW_LAST));
    uint64_t limit = rollup ? r->map.hdr->roll_blocks : r->map.hdr->raw_blocks;
    size_t n = 0;
    *cut = 0;
    for (uint64_t steps = 0; pos1 != 0 && steps < limit; steps++) {
        uint64_t *dst = copy_slot(r, n);
        if (dst == NULL || copy_block(r, rollup, pos1 - 1, entry, dst) != 0) {
            *cut = 1;
            break;
        }
        if ((int64_t)dst[FT_HB_FIRST_T] <= to)
            n++; /* else a block wholly after the window: not kept */
        if ((int64_t)dst[FT_HB_FIRST_T] < from)
            break;
        if (dst[FT_HB_PREV] >= pos1) { /* chains only go back */
            *cut = 1;
            break;
        }
        pos1 = dst[FT_HB_PREV];
    }
    return n;
}

static int col_index(const uint64_t *blk, uint32_t ctr, uint32_t *cols, uint32_t *ncols)
{
    *ncols = ft_hist_owner_ncols(blk[FT_HB_OWNER]);
    memcpy(cols, &blk[FT_HB_WORDS], *ncols * sizeof(uint32_t));
    for (uint32_t i = 0; i < *ncols; i++)
        if (ft_hist_col_ctr(cols[i]) == ctr)
            return (int)i;
    return -1;
}

static int push_point(ft_hist_points_t *o, int64_t t, uint64_t gen, uint64_t v)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        ft_hist_point_t *p = realloc(o->p, cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        o->p = p, o->cap = cap;
    }
    o->p[o->n++] = (ft_hist_point_t){t, gen, v};
    return 0;
}

/* Decode one raw block copy, keeping column ci's samples in [from, to] (from the newest sync point before from). */
static int decode_raw(const uint64_t *blk, int ci, uint32_t type, int64_t from, int64_t to, ft_hist_points_t *o)
{
    ft_hist_cursor_t k;
    ft_hist_cursor_init(&k, blk, from);
    uint64_t cells[FT_HIST_MAX_COLS];
    uint64_t null = type == FT_COL_FLOAT ? FT_CELL_NULL_FLOAT : FT_CELL_NULL_INT;
    const uint8_t *bitmap;
    int64_t t;
    int rc;
    while ((rc = ft_hist_cursor_next(&k, &t, &bitmap)) == 1 && t <= to) {
        if (ft_hist_cursor_values(&k, bitmap, 1ULL << ci, 1ULL << ci, cells) != 0)
            return -EPROTO;
        if (cells[ci] == null)
            continue;
        if (t < from) {
            o->before = (ft_hist_point_t){t, k.c.gen, cells[ci]}, o->have_before = 1;
            continue;
        }
        if (push_point(o, t, k.c.gen, cells[ci]) != 0)
            return -ENOMEM;
    }
    return rc < 0 ? -EPROTO : 0;
}

int ft_hist_read_raw(ft_hist_reader_t *r, uint32_t entry, uint32_t ctr, int64_t from, int64_t to, ft_hist_points_t *out)
{
    out->oldest_t = INT64_MAX;
    if (entry >= ft_hist_nentries(r))
        return -ENOENT;
    int cut;
    size_t n = collect(r, 0, entry, from, to, &cut);
    for (size_t k = n; k-- > 0;) { /* oldest first */
        const uint64_t *blk = r->blocks + k * BLOCK_WORDS;
        if (k == n - 1)
            out->oldest_t = (int64_t)blk[FT_HB_FIRST_T];
        uint32_t cols[FT_HIST_MAX_COLS], ncols;
        int ci = col_index(blk, ctr, cols, &ncols);
        if (ci < 0)
            continue;
        out->type = ft_hist_col_type(cols[ci]);
        if (decode_raw(blk, ci, out->type, from, to, out) == -ENOMEM)
            return -ENOMEM;
    }
    return 0;
}

int ft_hist_read_minutes(ft_hist_reader_t *r, uint32_t entry, uint32_t ctr, int64_t from_min, int64_t to_min, ft_hist_minutes_t *out)
{
    if (entry >= ft_hist_nentries(r))
        return -ENOENT;
    int cut;
    size_t n = collect(r, 1, entry, from_min * 60000, to_min * 60000, &cut);
    ft_hist_agg_t agg;
    for (size_t k = n; k-- > 0;) {
        const uint64_t *blk = r->blocks + k * BLOCK_WORDS;
        uint32_t cols[FT_HIST_MAX_COLS], ncols;
        int ci = col_index(blk, ctr, cols, &ncols);
        if (ci < 0)
            continue;
        ft_hist_codec_t c;
        ft_hist_codec_init(&c, cols, ncols, (int64_t)blk[FT_HB_FIRST_T] / 60000);
        const uint8_t *p = (const uint8_t *)blk + ft_hist_payload_off(ncols), *end = p + (uint32_t)blk[FT_HB_USED];
        int64_t minute;
        while (ft_hist_dec_roll_one(&c, &p, end, (uint32_t)ci, &minute, &agg) == 1) {
            if (minute > to_min)
                break;
            if (minute < from_min || agg.count == 0)
                continue;
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 64;
                ft_hist_minute_t *m = realloc(out->m, cap * sizeof(*m));
                if (m == NULL)
                    return -ENOMEM;
                out->m = m, out->cap = cap;
            }
            out->m[out->n++] = (ft_hist_minute_t){minute, agg, ft_hist_col_type(cols[ci])};
        }
    }
    return 0;
}

void ft_hist_raw_extent(ft_hist_reader_t *r, uint32_t entry, int64_t from, int64_t to, uint64_t *max_samples, int64_t *oldest_t)
{
    *max_samples = 0;
    *oldest_t = INT64_MAX;
    if (entry >= ft_hist_nentries(r))
        return;
    uint64_t pos1 = ld_acq(ft_hist_entry_words(&r->map, entry) + FT_HE_RAW_LAST), hdr[FT_HB_WORDS];
    for (uint64_t steps = 0; pos1 != 0 && steps < r->map.hdr->raw_blocks; steps++) {
        const _Atomic uint64_t *blk = ft_hist_block(&r->map, 0, pos1 - 1);
        uint64_t s = ft_seqcount_read_begin(&blk[FT_HB_SEQ]);
        ft_seq_load_words(hdr, blk, FT_HB_WORDS);
        if (ft_seqcount_read_retry(&blk[FT_HB_SEQ], s) || hdr[FT_HB_POS] != pos1 - 1 || ft_hist_owner_entry(hdr[FT_HB_OWNER]) != entry ||
            hdr[FT_HB_PREV] >= pos1)
            break;
        *oldest_t = (int64_t)hdr[FT_HB_FIRST_T];
        if ((int64_t)hdr[FT_HB_FIRST_T] <= to && (int64_t)hdr[FT_HB_LAST_T] >= from)
            *max_samples += hdr[FT_HB_NREC];
        if ((int64_t)hdr[FT_HB_FIRST_T] < from)
            break;
        pos1 = hdr[FT_HB_PREV];
    }
}

/* ---- steps ---- */

double ft_hist_value(uint32_t type, uint64_t bits)
{
    if (type == FT_COL_FLOAT) {
        double d;
        memcpy(&d, &bits, 8);
        return d;
    }
    return type == FT_COL_UINT ? (double)bits : (double)(int64_t)bits;
}

static void bucket_add(ft_hist_bucket_t *b, double v, uint64_t count, double sum, double min, double max)
{
    if (b->count == 0 || min < b->min)
        b->min = min;
    if (b->count == 0 || max > b->max)
        b->max = max;
    b->count += count;
    b->sum += sum;
    b->last = v;
}

/* The per-second rate from prev to p, or -1 when there is none (a reset, or no time between). */
static double rate_of(uint32_t type, const ft_hist_point_t *prev, const ft_hist_point_t *p, double scale)
{
    if (p->t <= prev->t)
        return -1;
    double d;
    if (type == FT_COL_FLOAT) {
        d = ft_hist_value(type, p->v) - ft_hist_value(type, prev->v);
        if (d < 0)
            return -1;
    } else {
        if (p->v < prev->v) /* a counter that went down was reset: the series rebases here */
            return -1;
        d = (double)(p->v - prev->v); /* the exact 64-bit difference, then one rounding */
    }
    return d * scale * 1000.0 / (double)(p->t - prev->t);
}

static void fold_minutes(const ft_hist_minutes_t *ms, int64_t from, int64_t step_ms, size_t nb, int rate, double scale,
                         int64_t before_t, ft_hist_bucket_t *b)
{
    for (size_t i = 0; i < ms->n; i++) {
        const ft_hist_minute_t *m = &ms->m[i];
        int64_t t = m->minute * 60000;
        if (t < from || t + 60000 > before_t)
            continue;
        size_t k = (size_t)((t - from) / step_ms);
        if (k >= nb)
            continue;
        const ft_hist_agg_t *a = &m->a;
        if (rate) {
            double inc = m->type == FT_COL_FLOAT ? ft_hist_value(FT_COL_FLOAT, a->inc) : (double)a->inc;
            double v = inc * scale / 60.0;
            bucket_add(&b[k], v, 1, v, v, v);
            continue;
        }
        double first = ft_hist_value(m->type, a->first);
        double dsum = m->type == FT_COL_FLOAT ? ft_hist_value(FT_COL_FLOAT, a->dsum) : (double)(int64_t)a->dsum;
        bucket_add(&b[k], ft_hist_value(m->type, a->last), a->count, first * (double)a->count + dsum, ft_hist_value(m->type, a->min),
                   ft_hist_value(m->type, a->max));
    }
}

int ft_hist_fold(ft_hist_reader_t *r, uint32_t entry, uint32_t ctr, int64_t from, int64_t step_ms, size_t nb, int rate,
                 double scale, ft_hist_bucket_t *b)
{
    if (step_ms <= 0 || nb == 0)
        return -EINVAL;
    int64_t to = from + step_ms * (int64_t)nb - 1, raw_from = from;
    int rc = 0;
    if (step_ms % 60000 == 0 && from % 60000 == 0) {
        /* Whole minutes: every rolled-up minute from its rollup (a few bytes each, whatever the sample rate),
         * samples only after the newest one (the minute still being gathered). */
        ft_hist_minutes_t ms = {0};
        rc = ft_hist_read_minutes(r, entry, ctr, from / 60000, to / 60000, &ms);
        if (rc == 0 && ms.n > 0) {
            raw_from = (ms.m[ms.n - 1].minute + 1) * 60000;
            fold_minutes(&ms, from, step_ms, nb, rate, scale, raw_from, b);
        }
        free(ms.m);
    }
    ft_hist_points_t pts = {0};
    if (rc == 0 && raw_from <= to)
        rc = ft_hist_read_raw(r, entry, ctr, raw_from, to, &pts);
    for (size_t i = 0; rc == 0 && i < pts.n; i++) {
        const ft_hist_point_t *p = &pts.p[i];
        size_t k = (size_t)((p->t - from) / step_ms);
        if (k >= nb)
            continue;
        double v = ft_hist_value(pts.type, p->v);
        if (rate) {
            const ft_hist_point_t *prev = i > 0 ? &pts.p[i - 1] : pts.have_before ? &pts.before : NULL;
            if (prev == NULL || (v = rate_of(pts.type, prev, p, scale)) < 0)
                continue;
        }
        bucket_add(&b[k], v, 1, v, v, v);
    }
    free(pts.p);
    return rc;
}

double ft_hist_bucket_value(const ft_hist_bucket_t *b, const char *agg)
{
    if (strcmp(agg, "min") == 0)
        return b->min;
    if (strcmp(agg, "max") == 0)
        return b->max;
    if (strcmp(agg, "last") == 0)
        return b->last;
    if (strcmp(agg, "sum") == 0)
        return b->sum;
    if (strcmp(agg, "count") == 0)
        return (double)b->count;
    return b->count ? b->sum / (double)b->count : 0;
}

/* ---- window moments ---- */

/* For each asked counter, its column in a block (-1: not there). */
static void map_columns(const uint64_t *blk, const uint32_t *ctrs, uint32_t n, int *ci, uint32_t *cols, uint32_t *ncols)
{
    *ncols = ft_hist_owner_ncols(blk[FT_HB_OWNER]);
    memcpy(cols, &blk[FT_HB_WORDS], *ncols * sizeof(uint32_t));
    for (uint32_t k = 0; k < n; k++) {
        ci[k] = -1;
        for (uint32_t i = 0; i < *ncols; i++)
            if (ft_hist_col_ctr(cols[i]) == ctrs[k])
                ci[k] = (int)i;
    }
}

static void add_minute(ft_hist_moments_t *m, uint32_t type, const ft_hist_agg_t *a)
{
    double f = ft_hist_value(type, a->first), c = (double)a->count;
    double d = type == FT_COL_FLOAT ? ft_hist_value(FT_COL_FLOAT, a->dsum) : (double)(int64_t)a->dsum;
    m->count += a->count;
    m->sum += c * f + d;
    m->sumsq += c * f * f + 2 * f * d + a->dsq; /* sum of (f + x - f)^2 */
}

/* Whole minutes [mfrom, mto] from the rollups; returns the newest minute rolled up (mfrom - 1 when none). */
static int64_t window_minutes(ft_hist_reader_t *r, uint32_t entry, const uint32_t *ctrs, uint32_t n, int64_t mfrom, int64_t mto,
                              ft_hist_moments_t *out)
{
    int cut, ci[FT_HIST_MOMENTS_MAX];
    int64_t newest = mfrom - 1;
    size_t nb = collect(r, 1, entry, mfrom * 60000, mto * 60000, &cut);
    ft_hist_agg_t aggs[FT_HIST_MAX_COLS];
    for (size_t k = nb; k-- > 0;) {
        const uint64_t *blk = r->blocks + k * BLOCK_WORDS;
        uint32_t cols[FT_HIST_MAX_COLS], ncols;
        map_columns(blk, ctrs, n, ci, cols, &ncols);
        ft_hist_codec_t c;
        ft_hist_codec_init(&c, cols, ncols, (int64_t)blk[FT_HB_FIRST_T] / 60000);
        const uint8_t *p = (const uint8_t *)blk + ft_hist_payload_off(ncols), *end = p + (uint32_t)blk[FT_HB_USED];
        int64_t minute;
        uint64_t keep = 0;
        for (uint32_t j = 0; j < n; j++)
            keep |= ci[j] >= 0 ? 1ULL << ci[j] : 0;
        while (ft_hist_dec_roll_sel(&c, &p, end, keep, &minute, aggs) == 1 && minute <= mto) {
            if (minute < mfrom)
                continue;
            newest = minute;
            for (uint32_t j = 0; j < n; j++)
                if (ci[j] >= 0 && aggs[ci[j]].count > 0)
                    add_minute(&out[j], ft_hist_col_type(cols[ci[j]]), &aggs[ci[j]]);
        }
    }
    return newest;
}

/* The asked columns' samples of one block in [lo, hi], read from the newest sync point before lo. */
static void edge_samples(const uint64_t *blk, const int *ci, const uint32_t *cols, uint32_t n, int64_t lo, int64_t hi,
                         ft_hist_moments_t *out)
{
    uint64_t want = 0, cells[FT_HIST_MAX_COLS];
    for (uint32_t j = 0; j < n; j++)
        want |= ci[j] >= 0 ? 1ULL << ci[j] : 0;
    ft_hist_cursor_t k;
    ft_hist_cursor_init(&k, blk, lo);
    const uint8_t *bitmap;
    int64_t t;
    while (ft_hist_cursor_next(&k, &t, &bitmap) == 1 && t <= hi) {
        int in = t >= lo; /* only these samples are materialized */
        if (ft_hist_cursor_values(&k, bitmap, want, in ? want : 0, cells) != 0)
            return;
        for (uint32_t j = 0; in && j < n; j++) {
            uint32_t type = ci[j] >= 0 ? ft_hist_col_type(cols[ci[j]]) : 0;
            if (ci[j] < 0 || cells[ci[j]] == (type == FT_COL_FLOAT ? FT_CELL_NULL_FLOAT : FT_CELL_NULL_INT))
                continue;
            double x = ft_hist_value(type, cells[ci[j]]);
            out[j].count++, out[j].sum += x, out[j].sumsq += x * x;
        }
    }
}

/* Samples in [from, a) and [b, to], walking the samples ring once and decoding only blocks that reach them. */
static void window_edges(ft_hist_reader_t *r, uint32_t entry, const uint32_t *ctrs, uint32_t n, int64_t from, int64_t a, int64_t b,
                         int64_t to, ft_hist_moments_t *out)
{
    uint64_t pos1 = ld_acq(ft_hist_entry_words(&r->map, entry) + FT_HE_RAW_LAST), hdr[FT_HB_WORDS];
    uint64_t *dst = copy_slot(r, 0);
    int ci[FT_HIST_MOMENTS_MAX];
    for (uint64_t steps = 0; dst != NULL && pos1 != 0 && steps < r->map.hdr->raw_blocks; steps++) {
        const _Atomic uint64_t *blk = ft_hist_block(&r->map, 0, pos1 - 1);
        uint64_t s = ft_seqcount_read_begin(&blk[FT_HB_SEQ]);
        ft_seq_load_words(hdr, blk, FT_HB_WORDS);
        if (ft_seqcount_read_retry(&blk[FT_HB_SEQ], s) || hdr[FT_HB_POS] != pos1 - 1 || hdr[FT_HB_PREV] >= pos1)
            return;
        int64_t f = (int64_t)hdr[FT_HB_FIRST_T], l = (int64_t)hdr[FT_HB_LAST_T];
        if ((f < a && l >= from) || (l >= b && f <= to)) {
            if (copy_block(r, 0, pos1 - 1, entry, dst) != 0)
                return;
            uint32_t cols[FT_HIST_MAX_COLS], ncols;
            map_columns(dst, ctrs, n, ci, cols, &ncols);
            if (f < a && l >= from) /* the first edge, from the sync point before it */
                edge_samples(dst, ci, cols, n, from, a - 1, out);
            if (l >= b && f <= to) /* the last edge: the minute still being gathered */
                edge_samples(dst, ci, cols, n, b > from ? b : from, to, out);
        }
        if (f < from)
            return;
        pos1 = hdr[FT_HB_PREV];
    }
}

int ft_hist_window_moments(ft_hist_reader_t *r, uint32_t entry, const uint32_t *ctrs, uint32_t n, int64_t from, int64_t to,
                           ft_hist_moments_t *out)
{
    if (n > FT_HIST_MOMENTS_MAX || from > to || entry >= ft_hist_nentries(r))
        return -EINVAL;
    memset(out, 0, n * sizeof(*out));
    int64_t mfrom = (from + 59999) / 60000, mto = (to + 1) / 60000 - 1; /* minutes wholly inside [from, to] */
    int64_t a = to + 1, b = to + 1;                                       /* samples before a, and from b on */
    if (mfrom <= mto) {
        int64_t newest = window_minutes(r, entry, ctrs, n, mfrom, mto, out);
        a = mfrom * 60000, b = (newest + 1) * 60000;
    }
    window_edges(r, entry, ctrs, n, from, a, b, to, out);
    return 0;
}

/* ---- what the budget keeps ---- */

/* Seconds a ring covers at the rate it is being filled: the oldest block still in it, scaled up while it has not wrapped. */
static double ring_window(ft_hist_reader_t *r, int rollup, int64_t now_ms)
{
    uint64_t head = ld(rollup ? &r->map.hdr->roll_head : &r->map.hdr->raw_head);
    uint64_t n = rollup ? r->map.hdr->roll_blocks : r->map.hdr->raw_blocks;
    if (head == 0)
        return 0;
    uint64_t pos = head > n ? head - n + 1 : 0;
    uint64_t *dst = copy_slot(r, 0);
    const _Atomic uint64_t *blk = ft_hist_block(&r->map, rollup, pos);
    if (dst == NULL)
        return 0;
    uint64_t s = ft_seqcount_read_begin(&blk[FT_HB_SEQ]);
    ft_seq_load_words(dst, blk, FT_HB_WORDS);
    if (ft_seqcount_read_retry(&blk[FT_HB_SEQ], s) || dst[FT_HB_POS] != pos || (int64_t)dst[FT_HB_FIRST_T] >= now_ms)
        return 0;
    double span = (double)(now_ms - (int64_t)dst[FT_HB_FIRST_T]) / 1000.0;
    return span * (double)n / (double)(head - pos);
}

void ft_hist_windows(ft_hist_reader_t *r, int64_t now_ms, ft_hist_windows_t *out)
{
    const ft_hist_header_t *h = r->map.hdr;
    memset(out, 0, sizeof(*out));
    out->raw_s = ring_window(r, 0, now_ms);
    out->rollup_s = ring_window(r, 1, now_ms);
    uint64_t sc = ld(&h->samples_closed), bc = ld(&h->bytes_closed);
    out->samples = ld(&h->samples_total);
    /* Full blocks say it exactly; before any is full, every block handed out over every sample bounds it from above. */
    out->bytes_per_sample = sc                ? (double)bc / (double)sc
                            : out->samples ? (double)ld(&h->raw_head) * FT_HIST_BLOCK / (double)out->samples
                                           : 0;
    out->entries = ft_hist_nentries(r);
    out->counters = ft_hist_ncounters(r);
    out->gen = ld_acq(&h->gen);
    out->total_bytes = h->total_size;
}
