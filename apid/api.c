#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "httpd.h"
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
    api_history_detach(ctx);
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
    if (r->host == NULL)
        r->host = "", r->host_len = 0;
}

static int is_write(int method)
{
    return (method & (API_POST | API_PUT | API_DELETE | API_PATCH)) != 0;
}

/* The page's origin is apid's own: "http://" or "https://" followed by the Host the browser asked. */
static int same_origin(const api_request_t *req)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(schemes[i]);
        if (req->origin_len == sl + req->host_len && memcmp(req->origin, schemes[i], sl) == 0 &&
            memcmp(req->origin + sl, req->host, req->host_len) == 0)
            return 1;
    }
    return 0;
}

/*
 * What every request must pass before its route runs: size, then, for a
 * write, the browser's origin (a page of another site must not be able to
 * post here), the token, and a JSON body. 1 when the answer is made (refused).
 */
static int guard(api_ctx_t *ctx, const api_request_t *req, int method, api_response_t *res)
{
    if (req->body_len > ctx->cfg.max_body) {
        api_reply_error_at(ctx, res, 413, "body", -1, "request body of %zu bytes; this route takes at most %zu (--max-body-bytes)",
                           req->body_len, ctx->cfg.max_body);
        return 1;
    }
    int write = is_write(method);
    if (write && req->origin != NULL && !same_origin(req)) {
        api_reply_error_at(ctx, res, 403, "Origin", -1, "cross-origin write refused: Origin '%.*s' is not this server",
                           api_quote_len(req->origin_len), req->origin);
        return 1;
    }
    if (ctx->cfg.auth_token != NULL && (write || ctx->cfg.auth_reads) && !ft_httpd_bearer_ok(req->authorization, req->authorization_len, ctx->cfg.auth_token)) {
        api_reply_error_at(ctx, res, 401, "Authorization", -1, "this %s needs 'Authorization: Bearer <token>' (--auth-token-file)",
                           write ? "write" : "read");
        res->www_authenticate = "Bearer realm=\"fabtel\"";
        return 1;
    }
    if (write && req->body_len > 0 && !ft_httpd_is_json(req->content_type, req->content_type_len)) {
        api_reply_error_at(ctx, res, 415, "Content-Type", -1, "a request body must be application/json, not '%.*s'",
                           api_quote_len(req->content_type_len), req->content_type ? req->content_type : "");
        return 1;
    }
    return 0;
}

/*
 * ?wait=S asks how long to hold a conditional read; it is not part of the
 * question, so it is taken out of the query before anything else sees it
 * (the ETag, the answer cache and the handler all key on the rest). The
 * stripped query lives in ctx->query_buf. 1 when the query named wait.
 */
static int strip_wait(api_ctx_t *ctx, api_request_t *req)
{
    const char *q = req->query, *end = q + req->query_len;
    if (req->query_len < 5 || memmem(q, req->query_len, "wait=", 5) == NULL)
        return 0;
    size_t o = 0;
    int found = 0;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) >= 5 && memcmp(q, "wait=", 5) == 0) {
            found = 1;
            if (req->wait == NULL) {
                req->wait = q + 5;
                req->wait_len = (size_t)(stop - q - 5);
            }
        } else if (stop > q && o + (size_t)(stop - q) + 1 <= sizeof(ctx->query_buf)) {
            if (o)
                ctx->query_buf[o++] = '&';
            memcpy(ctx->query_buf + o, q, (size_t)(stop - q));
            o += (size_t)(stop - q);
        }
        q = stop + 1;
    }
    req->query = ctx->query_buf;
    req->query_len = o;
    return found;
}

/* A conditional read may ask to be held: ?wait=S, 0 <= S <= 60 (0: not held). 0, or -1 with a 400 made. */
static int long_poll_wait(api_ctx_t *ctx, const api_request_t *req, double *wait, api_response_t *res)
{
    if (req->wait == NULL)
        return 0;
    char tmp[32], *end;
    size_t n = req->wait_len < sizeof(tmp) - 1 ? req->wait_len : sizeof(tmp) - 1;
    memcpy(tmp, req->wait, n);
    tmp[n] = '\0';
    double w = strtod(tmp, &end);
    if (req->wait_len == 0 || req->wait_len >= sizeof(tmp) || *end != '\0' || !(w >= 0 && w <= API_MAX_WAIT_S)) {
        api_reply_error_at(ctx, res, 400, "wait", -1, "'wait' must be a number of seconds from 0 to %g", API_MAX_WAIT_S);
        return -1;
    }
    *wait = w;
    return 0;
}

static void run_handler(api_ctx_t *ctx, const api_request_t *req, const api_route_t *rt, api_response_t *res)
{
    char why[160];
    if (rt->needs_query && ft_query_parse(ctx->query, req->query, req->query_len, why, sizeof(why)) != 0)
        return api_reply_error_at(ctx, res, 400, "query", -1, "%s", why);
    rt->handler(ctx, req, res);
    if (rt->cacheable)
        api_cache_store(ctx, req, res);
}

void api_handle(api_ctx_t *ctx, const api_request_t *in, api_response_t *res)
{
    api_request_t local = *in;
    const api_request_t *req = &local;
    normalise(&local);
    memset(res, 0, sizeof(*res));
    res->forward = -1;
    const api_route_t *rt = api_route_find(req->path, req->path_len, &res->route);
    if (req->path_len + req->query_len > ctx->cfg.max_uri)
        return api_reply_error(ctx, res, 414, "URI longer than %zu bytes", ctx->cfg.max_uri);
    if (rt == NULL)
        return api_reply_error(ctx, res, 404, "no such path '%.*s'", api_quote_len(req->path_len), req->path);
    int method = api_method_bit(req->method, req->method_len);
    if ((method & rt->methods) == 0) {
        res->allow = rt->allow;
        return api_reply_error(ctx, res, 405, "method '%.*s' not allowed: use %s", api_quote_len(req->method_len),
                               req->method ? req->method : "", rt->allow);
    }
    if (guard(ctx, req, method, res))
        return;
    if (rt->upstream >= 0) {
        res->forward = rt->upstream; /* the worker takes it from here */
        return;
    }
    attach_now(ctx);
    double wait = 0;
    if (rt->cacheable && strip_wait(ctx, &local) && long_poll_wait(ctx, req, &wait, res) != 0)
        return;
    if (!(rt->cacheable && api_has_data(ctx) && api_cache_lookup(ctx, req, res)))
        run_handler(ctx, req, rt, res);
    if (res->status == 304)
        res->hold_s = wait;
}
