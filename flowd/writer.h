/*
 * flowd/writer — the store's one writer, a thread of its own, with group
 * commit: batches that arrive while a commit is in flight wait in a queue
 * and all go into the next transaction, which commits once (one fsync for
 * all of them). Each job's result is known only after the transaction
 * holding it has committed, and only then handed back (done callback, on the
 * writer thread), so an answer is never sent for a batch that could still be
 * lost. SQLite does not merge concurrent commits by itself; one writer with a
 * queue does.
 *
 * A failed commit fails every batch that would have been applied in it
 * (507 when the disk is full, 500 otherwise): nothing is half-applied.
 * Once a second the writer also expires what retention drops.
 *
 * Who may call: flow_writer_submit from any thread (the event loop); start and
 * stop from the owner. Errors: 0 or a negative errno (why says it).
 */
#ifndef FLOW_WRITER_H
#define FLOW_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "parse.h"
#include "store.h"

typedef struct flow_job {
    flow_batch_t batch;
    char key[256]; /* Idempotency-Key, "" when none */
    uint8_t hash[32];
    int status;    /* the answer: 201, a replayed status, 409, 422, 500, 507 */
    ft_buf_t answer;
    void *data;    /* the caller's (the request) */
    struct flow_job *next;
} flow_job_t;

/* Called on the writer thread with the jobs of one committed transaction (a list linked by next). */
typedef void (*flow_done_fn)(void *ctx, flow_job_t *jobs);

/* Histogram bounds: commit time (seconds) and batches per commit (the group commit at work). */
#define FLOW_COMMIT_BUCKETS 12
#define FLOW_GROUP_BUCKETS 10
extern const double flow_commit_bounds_s[FLOW_COMMIT_BUCKETS];
extern const double flow_group_bounds[FLOW_GROUP_BUCKETS];

typedef struct flow_writer_stats {
    uint64_t commits, batches, records, failed_commits, last_batches;
    uint64_t commit_us_total, commit_us_max;
    uint64_t commit_hist[FLOW_COMMIT_BUCKETS + 1], group_hist[FLOW_GROUP_BUCKETS + 1]; /* last: +Inf */
} flow_writer_stats_t;

typedef struct flow_writer {
    flow_store_t store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    flow_job_t *head, *tail; /* the queue */
    size_t queued;
    int stop, started;
    double retain_hours;
    flow_done_fn done;
    void *ctx;
    flow_writer_stats_t stats; /* under lock */
    _Atomic uint64_t version;  /* grows after every commit that may have changed the store (readers' caches key on it) */
} flow_writer_t;

/* max_store_bytes: flow_store_limit (0: no cap but the disk's). */
int flow_writer_start(flow_writer_t *w, const char *path, double retain_hours, uint64_t max_store_bytes, flow_done_fn done, void *ctx,
                      char *why, size_t whysz);
void flow_writer_submit(flow_writer_t *w, flow_job_t *job);
/* Everything queued is committed and handed back, then the thread ends and the store closes. */
void flow_writer_stop(flow_writer_t *w);
void flow_writer_stats(flow_writer_t *w, flow_writer_stats_t *out, size_t *queued);

#endif
