/*
 * ingestd/helper — one helper thread that runs one job at a time beside the
 * main loop: ingest_helper_run() hands it a job and returns at once,
 * ingest_helper_wait() returns when the job is done. ingestd uses it to
 * record a generation into history while the same generation's ListMetrics
 * is rendered, so a publish waits for the longer of the two, not their sum.
 *
 * The job and the main thread must not write anything the other reads
 * between run and wait; the mutex hand-off orders everything the job wrote
 * before wait returns. Who may call: one thread (ingestd's loop, or a test).
 * Errors: ingest_helper_init returns 0 or a negative errno; without a thread
 * (init failed or never called) run does the job itself, so nothing is lost.
 */
#ifndef INGEST_HELPER_H
#define INGEST_HELPER_H

#include <pthread.h>

typedef struct ingest_helper {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, state; /* state: 0 idle, 1 job given, 2 job done, 3 stop */
    void (*fn)(void *arg);
    void *arg;
} ingest_helper_t;

int ingest_helper_init(ingest_helper_t *h);
void ingest_helper_destroy(ingest_helper_t *h);
void ingest_helper_run(ingest_helper_t *h, void (*fn)(void *arg), void *arg);
void ingest_helper_wait(ingest_helper_t *h);

#endif
