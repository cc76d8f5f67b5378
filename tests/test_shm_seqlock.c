/* tests for shm/seqlock and shm/stats: when a reader must retry, and the 24 h buckets. */
#include <stdlib.h>

#include "check.h"
#include "seqlock.h"
#include "stats.h"

static void test_latch_window(void)
{
    _Atomic uint64_t gen = 10;
    uint64_t g = ft_seq_read_begin(&gen);
    CHECK(!ft_seq_read_retry(&gen, g, 4), "no publish: no retry");
    atomic_store(&gen, 12);
    CHECK(!ft_seq_read_retry(&gen, g, 4), "K=4, two publishes: slot g%%4 not yet being rewritten, no retry");
    atomic_store(&gen, 13);
    CHECK(ft_seq_read_retry(&gen, g, 4), "K=4, three publishes: the writer may be rewriting slot g%%4, must retry");
    atomic_store(&gen, 10);
    g = ft_seq_read_begin(&gen);
    atomic_store(&gen, 11);
    CHECK(ft_seq_read_retry(&gen, g, 2), "K=2, one publish: must retry");
    atomic_store(&gen, 10);
    CHECK(!ft_seq_read_retry(&gen, g, 2), "K=2, no publish: no retry");
}

static void test_seqcount(void)
{
    _Atomic uint64_t seq = 0;
    uint64_t s = ft_seqcount_read_begin(&seq);
    CHECK(!ft_seqcount_read_retry(&seq, s), "quiet: no retry");
    ft_seqcount_write_begin(&seq);
    CHECK(atomic_load(&seq) & 1, "odd while writing");
    uint64_t s2 = ft_seqcount_read_begin(&seq);
    CHECK(ft_seqcount_read_retry(&seq, s2), "a read begun inside a write must retry");
    ft_seqcount_write_end(&seq);
    CHECK(ft_seqcount_read_retry(&seq, s), "a read spanning a write must retry");
    /* A writer killed inside its section leaves seq odd; the next writer recovers. */
    ft_seqcount_write_begin(&seq);
    ft_seqcount_write_begin(&seq);
    ft_seqcount_write_end(&seq);
    CHECK((atomic_load(&seq) & 1) == 0, "seq even after recovery");
}

static void test_bytes(void)
{
    _Atomic uint64_t region[8] = {0};
    ft_seq_store_bytes(region, 8, "hello, world", 12);
    char out[16] = {0};
    ft_seq_load_bytes(out, region, 8, 12);
    CHECK_EQ_STR(out, "hello, world");
    memset(out, 0, sizeof(out));
    ft_seq_load_bytes(out, region, 11, 5);
    CHECK_EQ_STR(out, "lo, w");
}

static void test_hist(void)
{
    uint32_t prev = 0;
    for (uint64_t us = 0; us < 5000000; us = us * 2 + 1) {
        uint32_t i = ft_lathist_index(us);
        CHECK(i >= prev, "index not monotonic at %" PRIu64, us);
        CHECK(ft_lathist_upper_us(i) > us, "bucket %u upper %" PRIu64 " must exceed %" PRIu64, i, ft_lathist_upper_us(i), us);
        CHECK(i == 0 || ft_lathist_upper_us(i - 1) <= us, "bucket %u lower bound above %" PRIu64, i, us);
        prev = i;
    }
    uint64_t h[FT_HIST_BUCKETS] = {0};
    for (int k = 0; k < 99; k++)
        h[ft_lathist_index(100)]++;
    h[ft_lathist_index(10000)]++;
    uint64_t p50 = ft_lathist_quantile_us(h, 0.5), p99 = ft_lathist_quantile_us(h, 0.99), p100 = ft_lathist_quantile_us(h, 1.0);
    CHECK(p50 > 100 && p50 <= 120, "p50 of 99x100us + 1x10ms: got %" PRIu64, p50);
    CHECK(p99 > 100 && p99 <= 120, "p99: 99 of 100 samples are 100us, got %" PRIu64, p99);
    CHECK(p100 > 10000 && p100 <= 12000, "max bucket: got %" PRIu64, p100);
}

static void test_ingest_window(void)
{
    ft_ingest_stats_t *st = calloc(1, sizeof(*st));
    uint64_t now = 1800000000ULL * 1000000000ULL;
    uint64_t hour = 3600ULL * 1000000000ULL;
    ft_ingest_stats_record(st, now - 25 * hour, FT_INGEST_PUBLISHED, 0, 999, 7); /* outside the window */
    ft_ingest_stats_record(st, now - 23 * hour, FT_INGEST_PUBLISHED, 0, 100, 2);
    ft_ingest_stats_record(st, now - 60000000000ULL, FT_INGEST_FAILED, FT_FAIL_TIMEOUT, 5000, 0);
    ft_ingest_stats_record(st, now, FT_INGEST_UNCHANGED, 0, 50, 0);
    ft_ingest_summary_t s;
    CHECK(ft_ingest_stats_read(st, now, &s) == 0, "read");
    CHECK_EQ_U64(s.count, 2);
    CHECK_EQ_U64(s.failures, 1);
    CHECK_EQ_U64(s.unchanged, 1);
    CHECK_EQ_U64(s.rows_rejected, 2);
    CHECK_EQ_U64(s.dur_min_us, 50);
    CHECK_EQ_U64(s.dur_max_us, 5000);
    CHECK_EQ_U64(s.dur_sum_us, 5150);
    CHECK_EQ_U64(s.total_count, 3);
    CHECK_EQ_U64(s.failures_by_cause[FT_FAIL_TIMEOUT], 1);
    /* A minute reused a day later forgets what it held. */
    ft_ingest_stats_record(st, now + 24 * hour, FT_INGEST_PUBLISHED, 0, 10, 0);
    CHECK(ft_ingest_stats_read(st, now + 24 * hour, &s) == 0, "read");
    CHECK_EQ_U64(s.count, 1);
    CHECK_EQ_U64(s.dur_max_us, 10);
    free(st);
}

static void test_api_merge(void)
{
    /* Route numbers are apid's; the segment keeps counts for any index below FT_ROUTES, and drops others. */
    enum { ROUTE_A = 0, ROUTE_B = 1, ROUTE_LAST = FT_ROUTES - 1 };
    ft_api_worker_stats_t *w = calloc(2, sizeof(*w));
    uint64_t now = 1800000000ULL * 1000000000ULL;
    for (int i = 0; i < 98; i++)
        ft_api_stats_record(&w[0], now, ROUTE_A, 200, 100);
    ft_api_stats_record(&w[1], now, ROUTE_A, 404, 200);
    ft_api_stats_record(&w[1], now, ROUTE_B, 503, 50000);
    ft_api_stats_record(&w[1], now, ROUTE_LAST, 200, 100);
    ft_api_stats_record(&w[1], now, FT_ROUTES, 200, 100); /* out of range: counted as a request, by no route */
    ft_api_summary_t s;
    ft_api_summary_init(&s);
    CHECK(ft_api_stats_merge(&w[0], now, &s) == 0 && ft_api_stats_merge(&w[1], now, &s) == 0, "merge");
    CHECK_EQ_U64(s.requests, 102);
    CHECK_EQ_U64(s.failures, 1);
    CHECK_EQ_U64(s.client_errors, 1);
    CHECK_EQ_U64(s.lat_min_us, 100);
    CHECK_EQ_U64(s.lat_max_us, 50000);
    CHECK_EQ_U64(s.by_route_status[ROUTE_A][FT_STATUS_200], 98);
    CHECK_EQ_U64(s.by_route_status[ROUTE_A][FT_STATUS_404], 1);
    CHECK_EQ_U64(s.by_route_status[ROUTE_B][FT_STATUS_5XX], 1);
    CHECK_EQ_U64(s.by_route_status[ROUTE_LAST][FT_STATUS_200], 1);
    CHECK_EQ_U64(s.lat_sum_us_total, 98 * 100 + 200 + 50000 + 200);
    uint64_t p99 = ft_lathist_quantile_us(s.hist, 0.99);
    CHECK(p99 >= 200 && p99 < 260, "p99 from merged histograms: 101 of 102 under ~200us, got %" PRIu64, p99);
    free(w);
}

int main(void)
{
    test_latch_window();
    test_seqcount();
    test_bytes();
    test_hist();
    test_ingest_window();
    test_api_merge();
    return check_report("test_shm_seqlock");
}
