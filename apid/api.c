#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "log.h"
#include "query.h"
#include "reply.h"
#include "routes.h"
#include "stats.h"
#include "util.h"

struct api_list_filter *api_list_filter_create(void); /* telemetry.c: the filter's size is its business */

void api_body_release(api_body_t *b)
{
    if (b != NULL && --b->refcnt == 0)
        free(b);
}

int api_ctx_init(api_ctx_t *ctx, const api_config_t *cfg)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->cfg = *cfg;
    ctx->last_attach_err = 1; /* "not attached" is the starting state; the first failure is logged */
    ft_buf_init(&ctx->scratch);
    ctx->query = malloc(sizeof(*ctx->query));
    ctx->filter = api_list_filter_create();
    ctx->cache = api_cache_create();
    if (ctx->query == NULL || ctx->filter == NULL || ctx->cache == NULL)
        return -ENOMEM;
    return ft_buf_reserve(&ctx->scratch, 64 * 1024);
}

static void drop_list_copies(api_ctx_t *ctx)
{
    for (int k = 0; k < 2; k++) {
        api_body_release(ctx->list_cache[k]);
        ctx->list_cache[k] = NULL;
    }
}

void api_ctx_destroy(api_ctx_t *ctx)
{
    drop_list_copies(ctx);
    ft_buf_destroy(&ctx->scratch);
    api_cache_destroy(ctx->cache);
    free(ctx->query);
    free(ctx->filter);
    ctx->cache = NULL;
    ctx->query = NULL;
    ctx->filter = NULL;
    if (ctx->attached)
        ft_shm_close(&ctx->shm);
    ctx->attached = 0;
}

void api_ctx_poll_segment(api_ctx_t *ctx)
{
    if (ctx->attached) {
        if (!ft_shm_changed(&ctx->shm))
            return;
        ft_info("event=segment_changed shm=%s epoch=%016" PRIx64 " reason=\"removed or re-created\"", ctx->cfg.shm_name,
                ctx->shm.hdr->epoch);
        ft_shm_close(&ctx->shm);
        ctx->attached = 0;
        drop_list_copies(ctx);
    }
    char why[300];
    int r = ft_shm_open_reader(&ctx->shm, ctx->cfg.shm_name, why, sizeof(why));
    if (r == 0) {
        ctx->attached = 1;
        ctx->last_attach_err = 0;
        ft_info("event=segment_attached shm=%s epoch=%016" PRIx64 " generation=%" PRIu64, ctx->cfg.shm_name, ctx->shm.hdr->epoch,
                ft_shm_generation(&ctx->shm));
        return;
    }
    if (r != ctx->last_attach_err) /* once per change of state */
        ft_log(r == -EPROTO ? FT_LOG_ERROR : FT_LOG_INFO, "event=segment_unavailable shm=%s reason=\"%s\"", ctx->cfg.shm_name, why);
    ctx->last_attach_err = r;
}

/*
 * A worker that has not attached yet tries again now rather than at its next
 * poll, so that once one worker answers with data every worker does (the
 * kernel spreads a client's connections over all of them). At most once a
 * millisecond, so a flood of requests before ingestd starts stays cheap.
 */
static void attach_now(api_ctx_t *ctx)
{
    uint64_t now = ft_mono_ns();
    if (ctx->attached || now - ctx->last_attach_try_ns < 1000000)
        return;
    ctx->last_attach_try_ns = now;
    api_ctx_poll_segment(ctx);
}

void api_record(api_ctx_t *ctx, uint64_t now_ns, int route, int status, uint64_t lat_us)
{
    if (ctx->my_stats == NULL)
        return;
    ft_api_stats_record(ctx->my_stats, now_ns, route, status, lat_us);
    atomic_store_explicit(&ctx->my_stats->seqlock_retries, ctx->retries, memory_order_relaxed);
}

int api_method_bit(const char *m, size_t len)
{
    static const struct {
        const char *name;
        int bit;
    } methods[] = {{"GET", API_GET}, {"HEAD", API_HEAD}, {"POST", API_POST}, {"PUT", API_PUT}, {"DELETE", API_DELETE},
                   {"PATCH", API_PATCH}};
    for (size_t i = 0; m != NULL && i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, m, len) == 0)
            return methods[i].bit;
    return API_OTHER_METHOD;
}

/* No query, path or body are empty strings from here on (memcmp/memcpy never see NULL). */
static void normalise(api_request_t *r)
{
    if (r->query == NULL)
        r->query = "", r->query_len = 0;
    if (r->path == NULL)
        r->path = "", r->path_len = 0;
    if (r->body == NULL)
        r->body = "", r->body_len = 0;
}

void api_handle(api_ctx_t *ctx, const api_request_t *in, api_response_t *res)
{
    api_request_t local = *in;
    const api_request_t *req = &local;
    normalise(&local);
    memset(res, 0, sizeof(*res));
    const api_route_t *rt = api_route_find(req->path, req->path_len, &res->route);
    if (req->path_len + req->query_len > ctx->cfg.max_uri)
        return api_reply_error(ctx, res, 414, "URI longer than %zu bytes", ctx->cfg.max_uri);
    if (rt == NULL)
        return api_reply_error(ctx, res, 404, "no such path '%.*s'", api_quote_len(req->path_len), req->path);
    if ((api_method_bit(req->method, req->method_len) & rt->methods) == 0) {
        res->allow = rt->allow;
        return api_reply_error(ctx, res, 405, "method '%.*s' not allowed: use %s", api_quote_len(req->method_len),
                               req->method ? req->method : "", rt->allow);
    }
    attach_now(ctx);
    if (rt->cacheable && api_has_data(ctx) && api_cache_lookup(ctx, req, res))
        return;
    char why[160];
    if (rt->needs_query && api_query_parse(ctx->query, req->query, req->query_len, why, sizeof(why)) != 0)
        return api_reply_error(ctx, res, 400, "%s", why);
    rt->handler(ctx, req, res);
    if (rt->cacheable)
        api_cache_store(ctx, req, res);
}
