/*
 * apid/longpoll — telemetry requests held until the next generation.
 *
 * A GET of a telemetry answer with If-None-Match of its current ETag and
 * ?wait=S (0 < S <= 60) is not answered 304 at once: the worker holds it
 * here until a new generation is published, then answers it afresh, or
 * answers 304 after S seconds — the contract the producer offers ingestd.
 *
 * How a worker learns of a new generation without spending CPU: one thread
 * per worker sleeps in ft_shm_wait_generation() (a futex on the generation
 * word that ingestd wakes after each publish; shm/segment.h) on a read-only
 * mapping of its own, and wakes the worker's event loop through an eventfd.
 * The thread touches nothing else of the worker, so the worker may re-attach
 * its own mapping at any time. It also wakes every 250 ms to notice a stop or
 * a re-created segment. Expired holds are swept every 50 ms while any are held.
 *
 * Who may call: an apid worker, on its loop thread (the thread is internal).
 * Held requests live in their own h2o pools; each is given back exactly once
 * through the retry callback.
 */
#ifndef API_LONGPOLL_H
#define API_LONGPOLL_H

#define H2O_USE_LIBUV 0
#include <h2o.h>


typedef struct api_longpoll api_longpoll_t;

/* A held request given back: remaining_s > 0 after a new generation (answer it, or hold it again), 0 when its wait is over. */
typedef void (*api_longpoll_fn)(void *data, h2o_req_t *req, double remaining_s);

api_longpoll_t *api_longpoll_create(h2o_loop_t *loop, const char *shm_name, api_longpoll_fn fn, void *data);
/* Stops the thread and gives back nothing: call api_longpoll_release_all() first. */
void api_longpoll_destroy(api_longpoll_t *lp);

void api_longpoll_hold(api_longpoll_t *lp, h2o_req_t *req, double wait_s);
/* Give every held request back as expired (a stopping worker answers them 304). */
void api_longpoll_release_all(api_longpoll_t *lp);
size_t api_longpoll_held(const api_longpoll_t *lp);

#endif
