/*
 * shm/snapshot — a bounds-checked, read-only view of one snapshot slot.
 *
 * Every reader (apid workers, shmdump, ingestd's own renderer and restart
 * path) reads a snapshot through this view and the seqlock:
 *
 *     ft_snap_t v;
 *     do {
 *         if (ft_snap_begin(&v, shm) != 0) → no data yet
 *         ... ft_snap_find_row / ft_snap_cell / ft_snap_text ... (copy out)
 *     } while (ft_snap_retry(&v));
 *
 * Nothing read between begin and a successful retry check may be acted on
 * (other than copying), because it may be torn; every index and offset that
 * comes out of the slot is clamped or checked here, so even a torn or
 * corrupt slot cannot make a reader touch memory outside the mapping.
 *
 * Thread/process safety: a view is private to its thread; any number of views
 * may read concurrently with the writer. Nothing here writes.
 * Errors: 0 or a negative errno (-EAGAIN: nothing published yet).
 */
#ifndef FT_SHM_SNAPSHOT_H
#define FT_SHM_SNAPSHOT_H

#include <stdint.h>

#include "segment.h"
#include "seqlock.h"

typedef struct ft_snap {
    const ft_shm_t *shm;
    uint64_t gen;
    const _Atomic uint64_t *slot, *cols, *rows, *hash, *vals, *text, *body;
    uint32_t nrows, ncols; /* clamped to the capacity */
    uint32_t max_counters, hash_size;
    uint64_t text_bytes, body_bytes;
} ft_snap_t;

int ft_snap_begin(ft_snap_t *v, const ft_shm_t *shm);
/* Same as ft_snap_begin but for a given generation's slot (the writer reading its own, or tests). */
void ft_snap_at(ft_snap_t *v, const ft_shm_t *shm, uint64_t gen);
static inline int ft_snap_retry(const ft_snap_t *v)
{
    return ft_seq_read_retry(&v->shm->hdr->gen, v->gen, v->shm->hdr->nslots);
}

static inline uint64_t ft_snap_hdr(const ft_snap_t *v, unsigned word)
{
    return ft_seq_load(&v->slot[word]);
}

/* Row/column records. Names are copied into out (>= FT_NAME_MAX + 1 bytes, NUL-terminated). */
uint64_t ft_snap_row_meta(const ft_snap_t *v, uint32_t row);
uint32_t ft_snap_row_name(const ft_snap_t *v, uint32_t row, char *out);
uint64_t ft_snap_col_meta(const ft_snap_t *v, uint32_t col);
uint32_t ft_snap_col_name(const ft_snap_t *v, uint32_t col, char *out);

/* Index lookups: the row or column index, or -1. Bounded work whatever the slot holds. */
int64_t ft_snap_find_row(const ft_snap_t *v, const char *name, size_t len);
int64_t ft_snap_find_col(const ft_snap_t *v, const char *name, size_t len);

static inline uint64_t ft_snap_cell(const ft_snap_t *v, uint32_t row, uint32_t col)
{
    return ft_seq_load(&v->vals[(uint64_t)row * v->max_counters + col]);
}

/*
 * Where the pre-rendered unfiltered ListMetrics is in the body region:
 * gzip 0 for the JSON, 1 for its gzip form. 0 with *off and *len set, or
 * -ENOENT when this slot has none (shm/writer.c lays it out).
 */
int ft_snap_body(const ft_snap_t *v, int gzip, uint64_t *off, uint64_t *len);

/* The row names a switch present in this generation (shm/layout.h, ft_row_meta_live). */
static inline int ft_snap_row_live(const ft_snap_t *v, uint32_t row)
{
    return ft_row_meta_live(ft_seq_load(&v->rows[(uint64_t)row * FT_REC_WORDS + FT_NAME_WORDS]));
}

/* The row is shown: live, or absent but kept visible (ft_row_meta_shown); its cells mean something only when live. */
static inline int ft_snap_row_shown(const ft_snap_t *v, uint32_t row)
{
    return ft_row_meta_shown(ft_seq_load(&v->rows[(uint64_t)row * FT_REC_WORDS + FT_NAME_WORDS]));
}

/* Row identity over time: the row's incarnation (shm/layout.h). */
static inline uint32_t ft_snap_row_incarnation(const ft_snap_t *v, uint32_t row)
{
    return ft_row_meta_incarnation(ft_seq_load(&v->rows[(uint64_t)row * FT_REC_WORDS + FT_NAME_WORDS]));
}

/* Copy the text a cell refers to into out (outsz bytes); returns its length, or -1 when the ref is out of bounds or too long. */
int ft_snap_text(const ft_snap_t *v, uint64_t ref, char *out, size_t outsz);

/* Name compare helper (the hash index hashes exactly these bytes). */
static inline uint64_t ft_snap_name_hash(const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
