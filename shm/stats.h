/*
 * shm/stats — 24 h of per-minute statistics in shared memory: ingest figures
 * (written by ingestd into the data segment) and API figures (written by
 * each apid worker into its own slot of the API stats segment).
 *
 * Each block has one writer and a plain seqcount (shm/seqlock.h); readers
 * copy a block and retry when the writer was inside it, a bounded number of
 * times, and never wait. "Last 24 h" means the 1440 buckets whose minute is
 * within 24 h of now: a bucket is reused when its minute comes round again.
 *
 * Latency histograms are log-linear: four buckets per power of two of
 * microseconds (about 19 % wide), FT_HIST_BUCKETS of them, so a p99 computed
 * from merged histograms is exact to within one bucket.
 *
 * Errors: readers return 0, or -EAGAIN when every retry saw the writer busy.
 */
#ifndef FT_SHM_STATS_H
#define FT_SHM_STATS_H

#include <stdint.h>

#include "layout.h"

uint32_t ft_lathist_index(uint64_t us);
/* Upper bound, in microseconds, of what bucket i holds. */
uint64_t ft_lathist_upper_us(uint32_t i);
/* The q-quantile (0 < q <= 1) of a histogram, as its bucket's upper bound; 0 when empty. */
uint64_t ft_lathist_quantile_us(const uint64_t *hist, double q);

typedef enum { FT_INGEST_PUBLISHED, FT_INGEST_UNCHANGED, FT_INGEST_FAILED } ft_ingest_outcome_t;

/* Writer (ingestd). cause is an FT_FAIL_* for failures, ignored otherwise. */
void ft_ingest_stats_record(ft_ingest_stats_t *st, uint64_t now_ns, ft_ingest_outcome_t outcome, int cause, uint64_t dur_us,
                            uint64_t rows_rejected);

typedef struct ft_ingest_summary {
    uint64_t count, failures, unchanged, rows_rejected;
    uint64_t dur_sum_us, dur_min_us, dur_max_us, attempts; /* attempts = count + failures */
    uint64_t hist[FT_HIST_BUCKETS];
    uint64_t total_count, total_failures, total_rows_rejected, last_ok_ns, last_failure_ns, consecutive_failures;
    uint64_t failures_by_cause[FT_FAIL_CAUSES];
    uint64_t total_unchanged, total_dur_sum_us, hist_total[FT_HIST_BUCKETS];
} ft_ingest_summary_t;

int ft_ingest_stats_read(const ft_ingest_stats_t *st, uint64_t now_ns, ft_ingest_summary_t *out);

/* Writer (one apid worker, its own slot). route is an index into apid's route table, below FT_ROUTES. */
void ft_api_stats_record(ft_api_worker_stats_t *w, uint64_t now_ns, int route, int status, uint64_t lat_us);
int ft_status_class(int status);
const char *ft_status_class_label(int cls);

typedef struct ft_api_summary {
    uint64_t requests, failures, client_errors, not_modified, lat_sum_us, lat_min_us, lat_max_us;
    uint64_t hist[FT_HIST_BUCKETS];
    uint64_t requests_total, seqlock_retries, lat_sum_us_total;
    uint64_t by_route_status[FT_ROUTES][FT_STATUS_CLASSES];
    uint64_t hist_total[FT_HIST_BUCKETS];
} ft_api_summary_t;

/* Adds one worker's last 24 h into *out (call ft_api_summary_init first). */
void ft_api_summary_init(ft_api_summary_t *out);
int ft_api_stats_merge(const ft_api_worker_stats_t *w, uint64_t now_ns, ft_api_summary_t *out);

#endif
