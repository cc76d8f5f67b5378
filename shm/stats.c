#include "stats.h"

#include <errno.h>
#include <string.h>

#include "seqlock.h"

#define READ_TRIES 64

uint32_t ft_lathist_index(uint64_t us)
{
    if (us < 4)
        return (uint32_t)us;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(us); /* 2^e <= us < 2^(e+1), e >= 2 */
    uint32_t i = 4 * (e - 1) + (uint32_t)((us >> (e - 2)) & 3);
    return i < FT_HIST_BUCKETS ? i : FT_HIST_BUCKETS - 1;
}

uint64_t ft_lathist_upper_us(uint32_t i)
{
    if (i < 4)
        return i + 1;
    uint32_t e = i / 4 + 1, sub = i % 4;
    if (e >= 63)
        return UINT64_MAX;
    return (1ULL << e) + ((uint64_t)(sub + 1) << (e - 2));
}

uint64_t ft_lathist_quantile_us(const uint64_t *hist, double q)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < FT_HIST_BUCKETS; i++)
        total += hist[i];
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)total + 0.999999), seen = 0;
    if (rank == 0)
        rank = 1;
    for (uint32_t i = 0; i < FT_HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank)
            return ft_lathist_upper_us(i);
    }
    return ft_lathist_upper_us(FT_HIST_BUCKETS - 1);
}

static inline void add(_Atomic uint64_t *w, uint64_t d)
{
    ft_seq_store(w, ft_seq_load(w) + d);
}

/* Make bucket b hold `minute`, clearing what an older minute left there (inside the writer's seqcount). */
static void claim_minute(_Atomic uint64_t *words, size_t nwords, uint64_t minute)
{
    if (ft_seq_load(&words[0]) == minute)
        return;
    for (size_t i = 1; i < nwords; i++)
        ft_seq_store(&words[i], 0);
    ft_seq_store(&words[0], minute);
}

void ft_ingest_stats_record(ft_ingest_stats_t *st, uint64_t now_ns, ft_ingest_outcome_t outcome, int cause, uint64_t dur_us,
                            uint64_t rows_rejected)
{
    uint64_t minute = now_ns / 60000000000ULL;
    ft_ingest_bucket_t *b = &st->minutes[minute % FT_MINUTES];
    ft_seqcount_write_begin(&st->seq);
    claim_minute((_Atomic uint64_t *)b, sizeof(*b) / 8, minute);
    if (outcome == FT_INGEST_FAILED) {
        add(&b->failures, 1);
        add(&st->total_failures, 1);
        add(&st->consecutive_failures, 1);
        ft_seq_store(&st->last_failure_ns, now_ns);
        if (cause >= 0 && cause < FT_FAIL_CAUSES)
            add(&st->failures_by_cause[cause], 1);
    } else {
        add(&b->count, 1);
        add(&st->total_count, 1);
        ft_seq_store(&st->consecutive_failures, 0);
        ft_seq_store(&st->last_ok_ns, now_ns);
        if (outcome == FT_INGEST_UNCHANGED) {
            add(&b->unchanged, 1);
            add(&st->total_unchanged, 1);
        }
    }
    add(&st->total_dur_sum_us, dur_us);
    add(&st->hist_total[ft_lathist_index(dur_us)], 1);
    add(&b->rows_rejected, rows_rejected);
    add(&st->total_rows_rejected, rows_rejected);
    uint64_t n = ft_seq_load(&b->count) + ft_seq_load(&b->failures);
    add(&b->dur_sum_us, dur_us);
    if (n == 1 || dur_us < ft_seq_load(&b->dur_min_us))
        ft_seq_store(&b->dur_min_us, dur_us);
    if (dur_us > ft_seq_load(&b->dur_max_us))
        ft_seq_store(&b->dur_max_us, dur_us);
    add(&b->hist[ft_lathist_index(dur_us)], 1);
    ft_seq_store(&st->last_duration_us, dur_us);
    ft_seqcount_write_end(&st->seq);
}

static int minute_in_window(uint64_t m, uint64_t now_minute)
{
    return m != 0 && m <= now_minute && now_minute - m < FT_MINUTES;
}

int ft_ingest_stats_read(const ft_ingest_stats_t *st, uint64_t now_ns, ft_ingest_summary_t *out)
{
    uint64_t now_minute = now_ns / 60000000000ULL;
    for (int t = 0; t < READ_TRIES; t++) {
        uint64_t s = ft_seqcount_read_begin(&st->seq);
        memset(out, 0, sizeof(*out));
        out->total_count = ft_seq_load(&st->total_count);
        out->total_failures = ft_seq_load(&st->total_failures);
        out->total_rows_rejected = ft_seq_load(&st->total_rows_rejected);
        out->last_ok_ns = ft_seq_load(&st->last_ok_ns);
        out->last_failure_ns = ft_seq_load(&st->last_failure_ns);
        out->consecutive_failures = ft_seq_load(&st->consecutive_failures);
        for (int c = 0; c < FT_FAIL_CAUSES; c++)
            out->failures_by_cause[c] = ft_seq_load(&st->failures_by_cause[c]);
        out->total_unchanged = ft_seq_load(&st->total_unchanged);
        out->total_dur_sum_us = ft_seq_load(&st->total_dur_sum_us);
        ft_seq_load_words(out->hist_total, st->hist_total, FT_HIST_BUCKETS);
        for (uint32_t i = 0; i < FT_MINUTES; i++) {
            const ft_ingest_bucket_t *b = &st->minutes[i];
            if (!minute_in_window(ft_seq_load(&b->minute), now_minute))
                continue;
            uint64_t n = ft_seq_load(&b->count) + ft_seq_load(&b->failures);
            if (n == 0)
                continue;
            out->count += ft_seq_load(&b->count);
            out->failures += ft_seq_load(&b->failures);
            out->unchanged += ft_seq_load(&b->unchanged);
            out->rows_rejected += ft_seq_load(&b->rows_rejected);
            out->dur_sum_us += ft_seq_load(&b->dur_sum_us);
            uint64_t mn = ft_seq_load(&b->dur_min_us), mx = ft_seq_load(&b->dur_max_us);
            if (out->attempts == 0 || mn < out->dur_min_us)
                out->dur_min_us = mn;
            if (mx > out->dur_max_us)
                out->dur_max_us = mx;
            out->attempts += n;
            for (uint32_t h = 0; h < FT_HIST_BUCKETS; h++)
                out->hist[h] += ft_seq_load(&b->hist[h]);
        }
        if (!ft_seqcount_read_retry(&st->seq, s))
            return 0;
    }
    return -EAGAIN;
}

int ft_status_class(int status)
{
    switch (status) {
    case 304: return FT_STATUS_304;
    case 400: return FT_STATUS_400;
    case 404: return FT_STATUS_404;
    case 405: return FT_STATUS_405;
    case 414: return FT_STATUS_414;
    default: return status >= 500 ? FT_STATUS_5XX : status >= 400 ? FT_STATUS_4XX : FT_STATUS_200;
    }
}

const char *ft_status_class_label(int cls)
{
    static const char *const labels[FT_STATUS_CLASSES] = {"200", "304", "400", "404", "405", "414", "4xx", "5xx"};
    return cls >= 0 && cls < FT_STATUS_CLASSES ? labels[cls] : "other";
}

void ft_api_stats_record(ft_api_worker_stats_t *w, uint64_t now_ns, int route, int status, uint64_t lat_us)
{
    uint64_t minute = now_ns / 60000000000ULL;
    ft_api_bucket_t *b = &w->minutes[minute % FT_MINUTES];
    ft_seqcount_write_begin(&w->seq);
    claim_minute((_Atomic uint64_t *)b, sizeof(*b) / 8, minute);
    add(&b->requests, 1);
    add(&w->requests_total, 1);
    if (status >= 500)
        add(&b->failures, 1);
    else if (status >= 400)
        add(&b->client_errors, 1);
    else if (status == 304)
        add(&b->not_modified, 1);
    add(&b->lat_sum_us, lat_us);
    if (ft_seq_load(&b->requests) == 1 || lat_us < ft_seq_load(&b->lat_min_us))
        ft_seq_store(&b->lat_min_us, lat_us);
    if (lat_us > ft_seq_load(&b->lat_max_us))
        ft_seq_store(&b->lat_max_us, lat_us);
    add(&b->hist[ft_lathist_index(lat_us)], 1);
    if (route >= 0 && (unsigned)route < FT_ROUTES)
        add(&w->by_route_status[route][ft_status_class(status)], 1);
    add(&w->hist_total[ft_lathist_index(lat_us)], 1);
    add(&w->lat_sum_us_total, lat_us);
    ft_seqcount_write_end(&w->seq);
}

void ft_api_summary_init(ft_api_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    out->lat_min_us = UINT64_MAX;
}

int ft_api_stats_merge(const ft_api_worker_stats_t *w, uint64_t now_ns, ft_api_summary_t *out)
{
    uint64_t now_minute = now_ns / 60000000000ULL;
    for (int t = 0; t < READ_TRIES; t++) {
        ft_api_summary_t one;
        ft_api_summary_init(&one);
        uint64_t s = ft_seqcount_read_begin(&w->seq);
        one.requests_total = ft_seq_load(&w->requests_total);
        one.seqlock_retries = ft_seq_load(&w->seqlock_retries);
        one.lat_sum_us_total = ft_seq_load(&w->lat_sum_us_total);
        ft_seq_load_words(one.by_route_status, &w->by_route_status[0][0], FT_ROUTES * FT_STATUS_CLASSES);
        ft_seq_load_words(one.hist_total, w->hist_total, FT_HIST_BUCKETS);
        for (uint32_t i = 0; i < FT_MINUTES; i++) {
            const ft_api_bucket_t *b = &w->minutes[i];
            if (!minute_in_window(ft_seq_load(&b->minute), now_minute) || ft_seq_load(&b->requests) == 0)
                continue;
            one.requests += ft_seq_load(&b->requests);
            one.failures += ft_seq_load(&b->failures);
            one.client_errors += ft_seq_load(&b->client_errors);
            one.not_modified += ft_seq_load(&b->not_modified);
            one.lat_sum_us += ft_seq_load(&b->lat_sum_us);
            uint64_t mn = ft_seq_load(&b->lat_min_us), mx = ft_seq_load(&b->lat_max_us);
            if (mn < one.lat_min_us)
                one.lat_min_us = mn;
            if (mx > one.lat_max_us)
                one.lat_max_us = mx;
            for (uint32_t h = 0; h < FT_HIST_BUCKETS; h++)
                one.hist[h] += ft_seq_load(&b->hist[h]);
        }
        if (ft_seqcount_read_retry(&w->seq, s))
            continue;
        out->requests += one.requests;
        out->failures += one.failures;
        out->client_errors += one.client_errors;
        out->not_modified += one.not_modified;
        out->lat_sum_us += one.lat_sum_us;
        if (one.lat_min_us < out->lat_min_us)
            out->lat_min_us = one.lat_min_us;
        if (one.lat_max_us > out->lat_max_us)
            out->lat_max_us = one.lat_max_us;
        for (uint32_t h = 0; h < FT_HIST_BUCKETS; h++)
            out->hist[h] += one.hist[h];
        out->requests_total += one.requests_total;
        out->seqlock_retries += one.seqlock_retries;
        out->lat_sum_us_total += one.lat_sum_us_total;
        for (uint32_t r = 0; r < FT_ROUTES; r++)
            for (int c = 0; c < FT_STATUS_CLASSES; c++)
                out->by_route_status[r][c] += one.by_route_status[r][c];
        for (uint32_t h = 0; h < FT_HIST_BUCKETS; h++)
            out->hist_total[h] += one.hist_total[h];
        return 0;
    }
    return -EAGAIN;
}
