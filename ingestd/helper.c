#include "helper.h"

#include <errno.h>
#include <string.h>

static void *loop(void *p)
{
    ingest_helper_t *h = p;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->state != 1 && h->state != 3)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->state == 3)
            break;
        pthread_mutex_unlock(&h->mu);
        h->fn(h->arg);
        pthread_mutex_lock(&h->mu);
        h->state = 2;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int ingest_helper_init(ingest_helper_t *h)
{
    memset(h, 0, sizeof(*h));
    if (pthread_mutex_init(&h->mu, NULL) != 0 || pthread_cond_init(&h->cv, NULL) != 0)
        return -ENOMEM;
    int r = pthread_create(&h->tid, NULL, loop, h);
    if (r != 0)
        return -r;
    h->started = 1;
    return 0;
}

void ingest_helper_destroy(ingest_helper_t *h)
{
    if (!h->started)
        return;
    pthread_mutex_lock(&h->mu);
    h->state = 3;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->tid, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    h->started = 0;
}

void ingest_helper_run(ingest_helper_t *h, void (*fn)(void *arg), void *arg)
{
    if (!h->started) {
        fn(arg);
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->fn = fn, h->arg = arg, h->state = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void ingest_helper_wait(ingest_helper_t *h)
{
    if (!h->started)
        return;
    pthread_mutex_lock(&h->mu);
    while (h->state == 1)
        pthread_cond_wait(&h->cv, &h->mu);
    h->state = 0;
    pthread_mutex_unlock(&h->mu);
}
