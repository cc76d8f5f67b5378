/*
 * shm/histread — the readers' half of the history file (shm/history.h):
 * find a switch's incarnations and a counter, read a series' samples or
 * minutes, and fold them into steps. Used by apid workers, orchd and shmdump.
 *
 * Readers never write, lock or wait for the writer. A block is read as a
 * private copy taken between the seqcount's begin and re-check (the block
 * changed under the copy: copy again, a bounded number of times, then cut),
 * and a copy is trusted only when its pos is the one the chain expects (the
 * ring did not give it away), its owner is the series' entry and its CRC
 * matches (no torn write survived a power loss). A series is cut at the
 * first block that fails, newest to oldest: what is served is always what
 * was written, maybe less of it.
 *
 * Building with FT_HIST_NO_RECHECK compiles every check of a copy out (the
 * seqcount re-check, pos and owner, the CRC); only the torn-read stress test
 * does that, to prove they are needed.
 *
 * Thread safety: a reader is private to its thread. Errors: 0 or a negative
 * errno (-ENOENT no such switch or counter, -EPROTO a file refused).
 */
#ifndef FT_SHM_HISTREAD_H
#define FT_SHM_HISTREAD_H

#include <stddef.h>
#include <stdint.h>

#include "histcodec.h"
#include "history.h"

typedef struct ft_hist_reader {
    ft_hist_map_t map;
    uint32_t *by_name; /* newest entry id + 1 per name */
    uint32_t *older;   /* per entry: the previous incarnation's id + 1 */
    uint32_t by_name_size, indexed;
    uint64_t *blocks; /* private copies of the blocks being read */
    size_t nblocks_cap;
    uint64_t torn_retries; /* copies taken again because the writer changed the block under them */
    /* Blocks whose CRC this reader checked, one slot per block of each ring: a block changes only under a new
     * seq, so a block read again (every query over a day reads the same rollup blocks) is not summed again. */
    struct ft_hist_verified {
        uint64_t pos, seq, used;
    } *verified[2];
} ft_hist_reader_t;

int ft_hist_reader_open(ft_hist_reader_t *r, const char *path, char *why, size_t whysz);
void ft_hist_reader_close(ft_hist_reader_t *r);

typedef struct ft_hist_entry_info {
    char name[FT_NAME_MAX + 1];
    uint32_t len, incarnation;
    int64_t created_t, closed_t, last_t; /* ms; closed_t 0 while the switch exists */
} ft_hist_entry_info_t;

/* The entries named `name`, newest incarnation first, into ids (up to max). Returns how many. */
int ft_hist_find_switch(ft_hist_reader_t *r, const char *name, size_t len, uint32_t *ids, int max);
int ft_hist_entry_info(const ft_hist_reader_t *r, uint32_t id, ft_hist_entry_info_t *out);
uint32_t ft_hist_nentries(const ft_hist_reader_t *r);

/* A counter by name: its id, or -ENOENT. *type FT_COL_*, *counter 1 for a cumulative counter, *scale its unit. */
int64_t ft_hist_find_counter(const ft_hist_reader_t *r, const char *name, size_t len, uint32_t *type, int *counter,
                             uint32_t *scale);
uint32_t ft_hist_ncounters(const ft_hist_reader_t *r);
int ft_hist_counter_name(const ft_hist_reader_t *r, uint32_t id, char *out);

typedef struct ft_hist_point {
    int64_t t;    /* ms */
    uint64_t gen; /* the generation it was published in */
    uint64_t v;   /* cell bits: int64, or double for float columns */
} ft_hist_point_t;

typedef struct ft_hist_points {
    ft_hist_point_t *p;
    size_t n, cap;
    uint32_t type;        /* FT_COL_INT or FT_COL_FLOAT (of the newest block carrying the counter) */
    int have_before;      /* `before` holds the newest sample older than `from` (for a rate at the first point) */
    ft_hist_point_t before;
    int64_t oldest_t;     /* the oldest time full resolution still covers for this series; INT64_MAX: none */
} ft_hist_points_t;

/* Samples of (entry, counter) with from <= t <= to, oldest first. Appends to out (reset by the caller). */
int ft_hist_read_raw(ft_hist_reader_t *r, uint32_t entry, uint32_t ctr, int64_t from, int64_t to, ft_hist_points_t *out);

/*
 * Without decoding: at most how many samples (of any counter) an entry has in [from, to], from block
 * headers, and the oldest time full resolution still covers (INT64_MAX: none). For choosing a step.
 */
void ft_hist_raw_extent(ft_hist_reader_t *r, uint32_t entry, int64_t from, int64_t to, uint64_t *max_samples, int64_t *oldest_t);

typedef struct ft_hist_minute {
    int64_t minute; /* Unix minute */
    ft_hist_agg_t a;
    uint32_t type;
} ft_hist_minute_t;

typedef struct ft_hist_minutes {
    ft_hist_minute_t *m;
    size_t n, cap;
} ft_hist_minutes_t;

/* Rollup minutes of (entry, counter) within [from_min, to_min], oldest first. */
int ft_hist_read_minutes(ft_hist_reader_t *r, uint32_t entry, uint32_t ctr, int64_t from_min, int64_t to_min, ft_hist_minutes_t *out);

/* Steps. One bucket per step [t, t + step): what `agg` needs. */
typedef struct ft_hist_bucket {
    uint64_t count;
    double sum, min, max, last;
} ft_hist_bucket_t;

/*
 * Fold one series into nb buckets of step_ms from `from`. Steps of whole
 * minutes (from on a minute too) come from the rollup minutes and from the
 * samples after the newest rolled-up minute (the minute being gathered);
 * other steps from samples only. rate: per-second rates of a counter,
 * times `scale` (a decrease is a reset: no rate for that interval; a rollup
 * minute's rate is its increase over 60 s). 0, or a negative errno.
 */
int ft_hist_fold(ft_hist_reader_t *r, uint32_t entry, uint32_t ctr, int64_t from, int64_t step_ms, size_t nb, int rate,
                 double scale, ft_hist_bucket_t *b);

/* The value of a bucket for an aggregation: "avg", "min", "max", "last", "sum", "count". */
double ft_hist_bucket_value(const ft_hist_bucket_t *b, const char *agg);

/* A sample's value as a double (exact for integers up to 2^53). */
double ft_hist_value(uint32_t type, uint64_t bits);

/* Moments of one counter's samples in a window (what the statistics module takes); at most FT_HIST_MOMENTS_MAX at once. */
#define FT_HIST_MOMENTS_MAX 8
typedef struct ft_hist_moments {
    uint64_t count;
    double sum, sumsq;
} ft_hist_moments_t;

/*
 * The moments of n counters of one entry over [from, to]: whole minutes from the rollups, the edges (before
 * the first whole minute, and after the newest rolled-up one) from samples, so a day costs about what ten
 * minutes do. One walk of each ring; samples blocks outside the edges are passed by their headers. out[k] for
 * ctrs[k]; a counter the entry does not record stays at count 0.
 */
int ft_hist_window_moments(ft_hist_reader_t *r, uint32_t entry, const uint32_t *ctrs, uint32_t n, int64_t from, int64_t to,
                           ft_hist_moments_t *out);

/* The windows the budget keeps at the current rate, from the file's own header and oldest blocks (seconds; 0 unknown). */
typedef struct ft_hist_windows {
    double raw_s, rollup_s, bytes_per_sample;
    uint64_t samples, entries, counters, gen, total_bytes;
} ft_hist_windows_t;
void ft_hist_windows(ft_hist_reader_t *r, int64_t now_ms, ft_hist_windows_t *out);

#endif
