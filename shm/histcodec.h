/*
 * shm/histcodec — how records are laid out inside a history block's payload
 * (shm/history.h). Pure functions over private buffers: the writer encodes
 * into a scratch buffer and then stores it into the block, readers decode a
 * private copy of a block. Nothing here touches shared memory.
 *
 * Raw record (one sample of every column the block lists):
 *   varint  zz(dt - previous dt) << 3 | gap << 2 | sync << 1 | has_absent   dt: ms since the previous record (0 for the first)
 *   [varint] sync records only: ms since the block's FIRST_T, then the generation less the block's FIRST_GEN; the
 *            codec starts over here (dt 0, previous values 0), so a reader may begin at a sync record
 *            (shm/history.h: the header's sync points find them)
 *   [varint] gap records only: generations skipped. A record's generation is otherwise the previous record's + 1
 *            (the block's FIRST_GEN for the first): a switch present at every generation costs nothing for it.
 *   [bitmap] ceil(ncols / 8) bytes, bit c set: column c absent      (only when has_absent)
 *   per present column:
 *     integer: varint zz(v - previous v), 64-bit wrapping, so every value round-trips exactly
 *     float:   the decimal the CSV most likely said: x = m / 10^e with |m| < 2^53, checked to give back
 *              the very same double. varint zz(m - previous m) << 1 at the column's current e; or an
 *              escape varint (e' << 1 | 1) followed by varint zz(m) (e' in 0..15, the new current e), or
 *              by the 8 raw bytes of the double (e' = 16: no short decimal, e.g. 1.5e-12 or -0.0).
 * Rollup record (one minute of every column the block lists):
 *   varint  minute - previous minute (0 for the first; the block's FIRST_T is its minute)
 *   per column: varint count; when count > 0:
 *     integer: zz(first - previous last), zz(min - first), zz(max - first), zz(last - first),
 *              zz(sum of (x - first)), 8 bytes double sum of (x - first)^2, counter: varint increase
 *     float:   varint e (the decimal exponent of first, min, max and last; 16: none, raw doubles follow), then
 *              zz(first - previous last at the same e, else first), zz(min - first), zz(max - first),
 *              zz(last - first) in units of 10^-e (or the four raw doubles); then 8-byte doubles sum of (x - first),
 *              sum of (x - first)^2, counter: increase
 *   Sums are kept relative to the minute's first value: exact for integers and stable for the variance.
 *
 * Errors: decoders return 0 at a clean end, 1 for a record, -EPROTO for bytes
 * that are not a record (a corrupt block: the caller cuts there).
 */
#ifndef FT_SHM_HISTCODEC_H
#define FT_SHM_HISTCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"

#define FT_HIST_E_RAW 16u
/* Largest raw and rollup record for FT_HIST_MAX_COLS columns. */
#define FT_HIST_RAW_REC_MAX (30 + FT_HIST_MAX_COLS / 8 + FT_HIST_MAX_COLS * 12)
#define FT_HIST_ROLL_REC_MAX (10 + FT_HIST_MAX_COLS * (10 + 7 * 10 + 8))

/* Per-column running state, the same for encoding and decoding. */
typedef struct ft_hist_codec {
    uint32_t ncols;
    uint32_t cols[FT_HIST_MAX_COLS]; /* ft_hist_col() words */
    int64_t t, dt;                   /* raw: last record's time and interval; rollup: t is the last minute */
    uint64_t prev[FT_HIST_MAX_COLS]; /* raw: last integer bits or last mantissa; rollup: last `last` */
    uint8_t e[FT_HIST_MAX_COLS];     /* raw floats: current decimal exponent, FT_HIST_E_RAW after raw bytes */
    int first;                       /* no record yet */
    int64_t base;                    /* raw: the block's FIRST_T, which sync records count from */
    int last_sync;                   /* the record just decoded was a sync record */
    uint64_t gen, base_gen;          /* raw: last record's generation; the block's FIRST_GEN (set after init) */
} ft_hist_codec_t;

/* One column's minute. Values are cell bits (int64 or double); dsum is int64 bits for integers, double bits for floats. */
typedef struct ft_hist_agg {
    uint64_t count;
    uint64_t first, min, max, last, dsum;
    double dsq;
    uint64_t inc; /* counters: reset-aware increase (u64 for integers, double bits for floats) */
} ft_hist_agg_t;

/* Start a block's state: its columns and its FIRST_T (raw: ms; rollup: ms of its first minute); raw: then base_gen = FIRST_GEN. */
void ft_hist_codec_init(ft_hist_codec_t *c, const uint32_t *cols, uint32_t ncols, int64_t first_t);

/* Start over at time t (a sync point), keeping the columns. */
void ft_hist_codec_restart(ft_hist_codec_t *c, int64_t t);

/*
 * Encode one raw record into out (>= FT_HIST_RAW_REC_MAX bytes); cells[i] for column i, FT_CELL_NULL_* when
 * absent; gen its generation (> the previous record's, >= base_gen). sync: make it a sync record (the codec
 * starts over; its time and generation are written from the block's start). Returns bytes.
 */
size_t ft_hist_enc_raw(ft_hist_codec_t *c, uint8_t *out, int64_t t, uint64_t gen, const uint64_t *cells, int sync);
/* Decode the next raw record from [*p, end): its time and cells (absent: the NULL sentinel of the column's type); c->gen its generation. */
int ft_hist_dec_raw(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, int64_t *t, uint64_t *cells);


/*
 * The same in two steps, for a reader that wants only some records and columns: the record's time first,
 * then its values, materializing only the columns in `want` (bit i: column i) into cells[i]; the other
 * columns of `keep` (a superset) only move the codec along (an integer add; a float's mantissa, without the
 * division), and the rest are stepped over: their state is lost, so a reader passes the same keep to every
 * record it reads of a block.
 */
int ft_hist_dec_raw_time(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, int64_t *t, const uint8_t **bitmap);
int ft_hist_dec_raw_values(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, const uint8_t *bitmap, uint64_t keep,
                           uint64_t want, uint64_t *cells);

/*
 * Reading a raw block (a private whole copy) with its sync points: init starts at the newest sync point
 * strictly before `from` (INT64_MIN: the block start), so the records before `from` it passes are at most a
 * minute's; next gives each record's time; values as above. The header's index is only a hint: a word that
 * fails its check ends it, and a jump is taken only when the payload (under the CRC) has a sync record there
 * with the index's time; otherwise reading starts at the block's start. Sync records themselves are in the
 * payload, so reading from the start never depends on the index.
 */
typedef struct ft_hist_cursor {
    ft_hist_codec_t c;
    const uint8_t *base, *p, *end;
    uint32_t off[FT_HIST_NSYNC];
    int64_t t[FT_HIST_NSYNC];
    uint32_t n;
} ft_hist_cursor_t;
void ft_hist_cursor_init(ft_hist_cursor_t *k, const uint64_t *blk, int64_t from);
int ft_hist_cursor_next(ft_hist_cursor_t *k, int64_t *t, const uint8_t **bitmap);
static inline int ft_hist_cursor_values(ft_hist_cursor_t *k, const uint8_t *bitmap, uint64_t keep, uint64_t want, uint64_t *cells)
{
    return ft_hist_dec_raw_values(&k->c, &k->p, k->end, bitmap, keep, want, cells);
}

size_t ft_hist_enc_roll(ft_hist_codec_t *c, uint8_t *out, int64_t minute, const ft_hist_agg_t *aggs);
int ft_hist_dec_roll(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, int64_t *minute, ft_hist_agg_t *aggs);
/* Decoding only the columns in `keep` (bit i: column i) into aggs[i]; the others are stepped over (their state is lost). */
int ft_hist_dec_roll_sel(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, uint64_t keep, int64_t *minute, ft_hist_agg_t *aggs);
int ft_hist_dec_roll_one(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, uint32_t ci, int64_t *minute, ft_hist_agg_t *agg);

/* Fold one sample into a minute (prev: the column's previous sample, for counters' increase; have_prev 0 when none). */
void ft_hist_agg_add(ft_hist_agg_t *a, uint32_t col, uint64_t v, int have_prev, uint64_t prev);

/* A counter's increase from prev to v: a decrease is a reset and counts 0 (the series rebases there). */
static inline uint64_t ft_hist_increase_u64(uint64_t prev, uint64_t v)
{
    return v >= prev ? v - prev : 0;
}

#endif
