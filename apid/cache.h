/*
 * apid/cache — a worker's answer cache. Within one generation of one
 * segment the same question gets the same answer, so a worker keeps the last
 * answers it rendered, keyed by (epoch, generation, URI, encoding), in a
 * direct-mapped table: a repeated query costs one atomic load, one hash and
 * one compare, and its body is sent from the refcounted copy without
 * rendering or copying. An entry is only stored from a read the seqlock
 * validated, and a new generation misses by key, so nothing is invalidated.
 *
 * Who may call: apid/api, for routes the table marks cacheable; one worker,
 * one thread. Allocation failures only make a miss.
 */
#ifndef API_CACHE_H
#define API_CACHE_H

#include <stdint.h>

#include "api.h"

struct api_cache *api_cache_create(void);
void api_cache_destroy(struct api_cache *c);

/* 1 when the answer (a 200 or a 304) was made from the cache. */
int api_cache_lookup(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);
/* Keep a fresh 200 answer for the rest of its generation; the response then sends the kept copy. */
void api_cache_store(api_ctx_t *ctx, const api_request_t *req, api_response_t *res);

/* Figures for tests and benchmarks. */
void api_cache_counts(const struct api_cache *c, uint64_t *hits, uint64_t *misses);

#endif
