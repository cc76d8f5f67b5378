/*
 * tests/stress_readers — the readers of a stress test, as processes (the production shape) or as threads (so
 * ThreadSanitizer can watch them): start N running fn(index), then join them all, checking that every reader
 * process exited 0. One copy for stress_seqlock and stress_history. Include after check.h.
 */
#ifndef FT_TEST_STRESS_READERS_H
#define FT_TEST_STRESS_READERS_H

#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define STRESS_MAX_READERS 16

typedef struct stress_readers {
    int n, threads;
    void (*fn)(int index);
    pid_t pids[STRESS_MAX_READERS];
    pthread_t tids[STRESS_MAX_READERS];
    struct stress_reader_arg {
        struct stress_readers *set;
        int index;
    } args[STRESS_MAX_READERS];
} stress_readers_t;

static void *stress_reader_thread(void *p)
{
    struct stress_reader_arg *a = p;
    a->set->fn(a->index);
    return NULL;
}

static inline void stress_readers_start(stress_readers_t *r, int n, int threads, void (*fn)(int index))
{
    r->n = n < STRESS_MAX_READERS ? n : STRESS_MAX_READERS, r->threads = threads, r->fn = fn;
    for (int i = 0; i < r->n; i++) {
        r->args[i] = (struct stress_reader_arg){r, i};
        if (threads) {
            pthread_create(&r->tids[i], NULL, stress_reader_thread, &r->args[i]);
        } else if ((r->pids[i] = fork()) == 0) {
            fn(i);
            _exit(0);
        }
    }
}

static inline void stress_readers_join(stress_readers_t *r)
{
    for (int i = 0; i < r->n; i++) {
        if (r->threads) {
            pthread_join(r->tids[i], NULL);
            continue;
        }
        int st = 0;
        waitpid(r->pids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader %d exited badly (status %d)", i, st);
    }
}

#endif
