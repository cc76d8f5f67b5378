#include "writer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define KEYS_KEPT_S (24 * 3600 + 3600) /* idempotency keys: at least 24 h */

const double flow_commit_bounds_s[FLOW_COMMIT_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5};
const double flow_group_bounds[FLOW_GROUP_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 1024};

static unsigned bucket(const double *bounds, unsigned n, double v)
{
    unsigned i = 0;
    while (i < n && v > bounds[i])
        i++;
    return i; /* n: +Inf */
}

static int64_t now_s(void)
{
    return (int64_t)(ft_now_ns() / 1000000000ULL);
}

/* Apply every job of a group inside one transaction; their statuses are final only if the commit succeeds. */
static int apply_once(flow_writer_t *w, flow_job_t *jobs)
{
    for (flow_job_t *j = jobs; j != NULL; j = j->next)
        flow_store_touch(&w->store, &j->batch);
    int r = flow_store_begin(&w->store);
    int64_t now = now_s();
    for (flow_job_t *j = jobs; r == 0 && j != NULL; j = j->next) {
        int replayed;
        j->status = flow_store_apply(&w->store, &j->batch, j->key[0] ? j->key : NULL, j->hash, now, &j->answer, &replayed);
        if (j->status < 0)
            r = j->status;
    }
    if (r == 0)
        r = flow_store_commit(&w->store);
    else
        flow_store_rollback(&w->store);
    if (r == 0) /* release: a reader that sees the new version reads after the commit (read your writes) */
        atomic_fetch_add_explicit(&w->version, 1, memory_order_release);
    return r;
}

/*
 * A group, run again when its transaction was aborted by a deadlock with another front end's (PostgreSQL):
 * nothing of it was committed, so running it whole again is what a client's retry would do, sooner.
 */
static int apply_group(flow_writer_t *w, flow_job_t *jobs)
{
    int r = apply_once(w, jobs);
    for (int tries = 1; r != 0 && tries < 8 && flow_store_retryable(&w->store); tries++) {
        ft_warn("event=commit_retry reason=\"%s\" try=%d", flow_store_errmsg(&w->store), tries);
        r = apply_once(w, jobs);
    }
    if (r != 0) {
        for (flow_job_t *j = jobs; j != NULL; j = j->next)
            if (j->status == 201 || j->status < 0) /* what would have been applied was not */
                j->status = r == -ENOSPC ? 507 : 500;
        ft_error("event=commit_failed reason=\"%s\"", r == -ENOSPC ? "disk full" : flow_store_errmsg(&w->store));
    }
    return r;
}

/* Retention once a second when it is on (indexed), once a minute for the idempotency keys alone. */
static void expire(flow_writer_t *w)
{
    int64_t now = now_s();
    int64_t before = w->retain_hours > 0 ? now - (int64_t)(w->retain_hours * 3600) : 0;
    if (flow_store_begin(&w->store) == 0 && flow_store_expire(&w->store, before, now - KEYS_KEPT_S) == 0) {
        if (flow_store_commit(&w->store) == 0)
            atomic_fetch_add_explicit(&w->version, 1, memory_order_release);
    } else
        flow_store_rollback(&w->store);
}

static void *run(void *arg)
{
    flow_writer_t *w = arg;
    uint64_t next_expire = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == NULL && !w->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&w->wake, &w->lock, &ts);
            if (w->head == NULL && ft_mono_ns() >= next_expire)
                break;
        }
        flow_job_t *jobs = w->head;
        size_t n = w->queued;
        w->head = w->tail = NULL;
        w->queued = 0;
        int stopping = w->stop;
        pthread_mutex_unlock(&w->lock);
        if (jobs != NULL) {
            uint64_t t0 = ft_mono_ns();
            int r = apply_group(w, jobs);
            uint64_t us = (ft_mono_ns() - t0) / 1000;
            pthread_mutex_lock(&w->lock);
            w->stats.commits++;
            w->stats.failed_commits += r != 0;
            w->stats.batches += n;
            w->stats.last_batches = n;
            w->stats.commit_us_total += us;
            w->stats.commit_hist[bucket(flow_commit_bounds_s, FLOW_COMMIT_BUCKETS, (double)us / 1e6)]++;
            w->stats.group_hist[bucket(flow_group_bounds, FLOW_GROUP_BUCKETS, (double)n)]++;
            if (us > w->stats.commit_us_max)
                w->stats.commit_us_max = us;
            for (flow_job_t *j = jobs; j; j = j->next)
                w->stats.records += j->status == 201 ? j->batch.received : 0;
            pthread_mutex_unlock(&w->lock);
            w->done(w->ctx, jobs); /* only now: the transaction holding them is durable */
        } else if (ft_mono_ns() >= next_expire) {
            expire(w);
            next_expire = ft_mono_ns() + (w->retain_hours > 0 ? 1000000000ULL : 60000000000ULL);
        }
        pthread_mutex_lock(&w->lock);
        if (stopping && w->head == NULL)
            break;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int flow_writer_start(flow_writer_t *w, const char *path, double retain_hours, uint64_t max_store_bytes, flow_done_fn done, void *ctx,
                      char *why, size_t whysz)
{
    memset(w, 0, sizeof(*w));
    w->retain_hours = retain_hours;
    w->done = done;
    w->ctx = ctx;
    int r = flow_store_open(&w->store, path, 0, why, whysz);
    if (r == 0 && (r = flow_store_limit(&w->store, max_store_bytes)) != 0)
        snprintf(why, whysz, "cannot cap %s at %llu bytes", path, (unsigned long long)max_store_bytes);
    if (r == 0 && (r = flow_store_retention_index(&w->store, retain_hours > 0)) != 0)
        snprintf(why, whysz, "cannot set up retention in %s", path);
    if (r != 0)
        return r;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(why, whysz, "cannot start the writer thread: %s", strerror(errno));
        flow_store_close(&w->store);
        return -EAGAIN;
    }
    w->started = 1;
    return 0;
}

void flow_writer_submit(flow_writer_t *w, flow_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->queued++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void flow_writer_stop(flow_writer_t *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    flow_store_close(&w->store);
    w->started = 0;
}

void flow_writer_stats(flow_writer_t *w, flow_writer_stats_t *out, size_t *queued)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    *queued = w->queued;
    pthread_mutex_unlock(&w->lock);
}
