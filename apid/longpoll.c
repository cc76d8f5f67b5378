#include "longpoll.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "segment.h"
#include "util.h"

#define SWEEP_MS 50
#define THREAD_TICK_MS 250

typedef struct held {
    h2o_linklist_t link;
    h2o_req_t *req;
    uint64_t deadline_mono;
} held_t;

struct api_longpoll {
    h2o_loop_t *loop;
    api_longpoll_fn fn;
    void *data;
    h2o_linklist_t held;
    size_t nheld;
    h2o_timeout_t sweep_timeout;
    h2o_timeout_entry_t sweep;
    int efd;
    h2o_socket_t *wake_sock;
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    char shm_name[256];
};

/* ---- the waiter thread ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void wake_loop(api_longpoll_t *lp)
{
    uint64_t one = 1;
    if (write(lp->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        ft_warn("event=longpoll_wake_failed reason=\"%s\"", strerror(errno));
}

static void *waiter(void *arg)
{
    api_longpoll_t *lp = arg;
    ft_shm_t shm;
    int attached = 0;
    uint64_t seen = 0;
    while (!atomic_load_explicit(&lp->stop, memory_order_relaxed)) {
        if (!attached) {
            if (ft_shm_open_reader(&shm, lp->shm_name, NULL, 0) != 0) {
                sleep_ms(THREAD_TICK_MS);
                continue;
            }
            attached = 1;
            seen = ft_shm_generation(&shm);
            wake_loop(lp); /* a segment (re)appeared: held requests may now be answerable */
        }
        if (ft_shm_changed(&shm)) {
            ft_shm_close(&shm);
            attached = 0;
            continue;
        }
        uint64_t g = ft_shm_generation(&shm);
        if (g != seen) {
            seen = g;
            wake_loop(lp);
        }
        ft_shm_wait_generation(&shm, seen, THREAD_TICK_MS);
    }
    if (attached)
        ft_shm_close(&shm);
    return NULL;
}

/* ---- the loop side ---- */

static void give_back(api_longpoll_t *lp, held_t *h, double remaining_s)
{
    h2o_linklist_unlink(&h->link);
    lp->nheld--;
    lp->fn(lp->data, h->req, remaining_s);
}

/* A new generation (or segment): every held request is answered afresh, or held again by the callback. */
static void on_wake(h2o_socket_t *sock, const char *err)
{
    api_longpoll_t *lp = sock->data;
    if (err != NULL)
        return;
    h2o_buffer_consume(&sock->input, sock->input->size);
    uint64_t now = ft_mono_ns();
    h2o_linklist_t batch;
    h2o_linklist_init_anchor(&batch);
    /* Move them out first: the callback may hold a request again, and must not meet it twice in this round. */
    while (!h2o_linklist_is_empty(&lp->held)) {
        h2o_linklist_t *n = lp->held.next;
        h2o_linklist_unlink(n);
        h2o_linklist_insert(&batch, n);
    }
    while (!h2o_linklist_is_empty(&batch)) {
        held_t *h = H2O_STRUCT_FROM_MEMBER(held_t, link, batch.next);
        double remaining = h->deadline_mono > now ? (double)(h->deadline_mono - now) / 1e9 : 0;
        give_back(lp, h, remaining > 0 ? remaining : 1e-9);
    }
}

static void on_sweep(h2o_timeout_entry_t *entry)
{
    api_longpoll_t *lp = H2O_STRUCT_FROM_MEMBER(api_longpoll_t, sweep, entry);
    uint64_t now = ft_mono_ns();
    h2o_linklist_t *n = lp->held.next;
    while (n != &lp->held) {
        held_t *h = H2O_STRUCT_FROM_MEMBER(held_t, link, n);
        n = n->next;
        if (h->deadline_mono <= now)
            give_back(lp, h, 0);
    }
    if (lp->nheld > 0)
        h2o_timeout_link(lp->loop, &lp->sweep_timeout, &lp->sweep);
}

api_longpoll_t *api_longpoll_create(h2o_loop_t *loop, const char *shm_name, api_longpoll_fn fn, void *data)
{
    api_longpoll_t *lp = calloc(1, sizeof(*lp));
    if (lp == NULL)
        return NULL;
    lp->loop = loop;
    lp->fn = fn;
    lp->data = data;
    snprintf(lp->shm_name, sizeof(lp->shm_name), "%s", shm_name);
    h2o_linklist_init_anchor(&lp->held);
    h2o_timeout_init(loop, &lp->sweep_timeout, SWEEP_MS);
    lp->sweep.cb = on_sweep;
    lp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (lp->efd < 0) {
        free(lp);
        return NULL;
    }
    lp->wake_sock = h2o_evloop_socket_create(loop, lp->efd, 0);
    lp->wake_sock->data = lp;
    h2o_socket_read_start(lp->wake_sock, on_wake);
    if (pthread_create(&lp->thread, NULL, waiter, lp) != 0) {
        ft_error("event=longpoll_thread_failed reason=\"%s\"", strerror(errno));
        api_longpoll_destroy(lp);
        return NULL;
    }
    lp->thread_started = 1;
    return lp;
}

void api_longpoll_destroy(api_longpoll_t *lp)
{
    if (lp == NULL)
        return;
    atomic_store_explicit(&lp->stop, 1, memory_order_relaxed);
    if (lp->thread_started)
        pthread_join(lp->thread, NULL); /* within one tick */
    if (h2o_timeout_is_linked(&lp->sweep))
        h2o_timeout_unlink(&lp->sweep);
    h2o_timeout_dispose(lp->loop, &lp->sweep_timeout);
    h2o_socket_read_stop(lp->wake_sock);
    h2o_socket_close(lp->wake_sock); /* closes the eventfd */
    free(lp);
}

void api_longpoll_hold(api_longpoll_t *lp, h2o_req_t *req, double wait_s)
{
    held_t *h = h2o_mem_alloc_pool(&req->pool, sizeof(*h));
    memset(h, 0, sizeof(*h)); /* an unlinked node: h2o_linklist_insert checks it */
    h->req = req;
    h->deadline_mono = ft_mono_ns() + (uint64_t)(wait_s * 1e9);
    h2o_linklist_insert(&lp->held, &h->link);
    lp->nheld++;
    if (!h2o_timeout_is_linked(&lp->sweep))
        h2o_timeout_link(lp->loop, &lp->sweep_timeout, &lp->sweep);
}

void api_longpoll_release_all(api_longpoll_t *lp)
{
    while (!h2o_linklist_is_empty(&lp->held))
        give_back(lp, H2O_STRUCT_FROM_MEMBER(held_t, link, lp->held.next), 0);
}

size_t api_longpoll_held(const api_longpoll_t *lp)
{
    return lp->nheld;
}
