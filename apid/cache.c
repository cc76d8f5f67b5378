#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "reply.h"

#define CACHE_SLOTS 1024
#define CACHE_URI_MAX 240

typedef struct cache_entry {
    uint64_t epoch, gen, hash;
    int gzip;      /* the request accepted gzip (part of the key) */
    int body_gzip; /* the stored body is gzip-encoded */
    int vary_encoding;
    size_t uri_len;
    char uri[CACHE_URI_MAX]; /* path '?' query */
    char etag[64];
    api_body_t *body;
} cache_entry_t;

struct api_cache {
    cache_entry_t e[CACHE_SLOTS];
    uint64_t hits, misses;
};

struct api_cache *api_cache_create(void)
{
    return calloc(1, sizeof(struct api_cache));
}

void api_cache_destroy(struct api_cache *c)
{
    for (size_t i = 0; c != NULL && i < CACHE_SLOTS; i++)
        api_body_release(c->e[i].body);
    free(c);
}

void api_cache_counts(const struct api_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}

static int uri_eq(const cache_entry_t *e, const api_request_t *req)
{
    return e->uri_len == req->path_len + 1 + req->query_len && memcmp(e->uri, req->path, req->path_len) == 0 &&
           e->uri[req->path_len] == '?' && memcmp(e->uri + req->path_len + 1, req->query, req->query_len) == 0;
}

int api_cache_lookup(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    uint64_t h = api_variant_hash(req);
    cache_entry_t *e = &ctx->cache->e[h % CACHE_SLOTS];
    uint64_t g = ft_shm_generation(&ctx->shm);
    if (e->body == NULL || e->gen != g || e->hash != h || e->epoch != ctx->shm.hdr->epoch || e->gzip != req->accept_gzip ||
        !uri_eq(e, req))
        return 0;
    ctx->cache->hits++;
    memcpy(res->etag, e->etag, sizeof(res->etag));
    res->gen = g;
    if (api_etag_matches(req, res->etag)) {
        api_reply_not_modified(res);
        return 1;
    }
    e->body->refcnt++;
    res->shared = e->body;
    res->status = 200;
    res->body = e->body->data;
    res->body_len = e->body->len;
    res->gzip = e->body_gzip;
    res->vary_encoding = e->vary_encoding;
    return 1;
}

void api_cache_store(api_ctx_t *ctx, const api_request_t *req, api_response_t *res)
{
    if (res->status != 200 || res->gen == 0 || req->path_len + 1 + req->query_len > CACHE_URI_MAX)
        return;
    api_body_t *b = res->shared;
    if (b == NULL) {
        if ((b = malloc(sizeof(*b) + res->body_len)) == NULL)
            return;
        b->refcnt = 1; /* the response's reference */
        b->len = res->body_len;
        memcpy(b->data, res->body, res->body_len);
        res->shared = b;
        res->body = b->data;
    }
    uint64_t h = api_variant_hash(req);
    cache_entry_t *e = &ctx->cache->e[h % CACHE_SLOTS];
    api_body_release(e->body);
    b->refcnt++; /* the cache's reference */
    e->body = b;
    e->epoch = ctx->shm.hdr->epoch;
    e->gen = res->gen;
    e->hash = h;
    e->gzip = req->accept_gzip;
    e->body_gzip = res->gzip;
    e->vary_encoding = res->vary_encoding;
    e->uri_len = req->path_len + 1 + req->query_len;
    memcpy(e->uri, req->path, req->path_len);
    e->uri[req->path_len] = '?';
    memcpy(e->uri + req->path_len + 1, req->query, req->query_len);
    memcpy(e->etag, res->etag, sizeof(e->etag));
    ctx->cache->misses++;
}
