#include "reply.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

void api_reply_scratch(api_ctx_t *ctx, api_response_t *res, int status)
{
    res->status = status;
    res->body = ctx->scratch.data;
    res->body_len = ctx->scratch.len;
}

static void error_v(api_ctx_t *ctx, api_response_t *res, int status, const char *field, int64_t index, const char *fmt, va_list ap)
{
    char msg[512];
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n;
    ctx->scratch.len = 0;
    ctx->scratch.failed = 0;
    ft_json_put_error(&ctx->scratch, status, msg, len, field, index);
    res->etag[0] = '\0';
    api_reply_scratch(ctx, res, status);
}

void api_reply_error(api_ctx_t *ctx, api_response_t *res, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_v(ctx, res, status, NULL, -1, fmt, ap);
    va_end(ap);
}

void api_reply_error_at(api_ctx_t *ctx, api_response_t *res, int status, const char *field, int64_t index, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_v(ctx, res, status, field, index, fmt, ap);
    va_end(ap);
}

void api_reply_json(api_ctx_t *ctx, api_response_t *res, int status, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(doc);
    if (s == NULL)
        return api_reply_error(ctx, res, 500, "out of memory");
    ctx->scratch.len = 0;
    ctx->scratch.failed = 0;
    ft_buf_puts(&ctx->scratch, s);
    free(s);
    res->etag[0] = '\0';
    api_reply_scratch(ctx, res, ctx->scratch.failed ? 500 : status);
}

void api_reply_no_data(api_ctx_t *ctx, api_response_t *res)
{
    api_reply_error(ctx, res, 503, "no data yet: ingestd has not published a snapshot to %s", ctx->cfg.shm_name);
    res->retry_after = 1;
}

void api_reply_not_modified(api_response_t *res)
{
    res->status = 304;
    res->body = NULL;
    res->body_len = 0;
}

int api_has_data(const api_ctx_t *ctx)
{
    return ctx->attached && ft_shm_generation(&ctx->shm) != 0;
}

uint64_t api_variant_hash(const api_request_t *req)
{
    uint64_t h = ft_snap_name_hash(req->path, req->path_len) ^ (ft_snap_name_hash(req->query, req->query_len) * 31);
    return req->accept_gzip ? h ^ 0x9e3779b97f4a7c15ULL : h;
}

void api_etag_make(const api_ctx_t *ctx, const api_request_t *req, uint64_t gen, char out[64])
{
    snprintf(out, 64, "\"%016" PRIx64 "-%" PRIu64 "-%016" PRIx64 "\"", ctx->shm.hdr->epoch, gen, api_variant_hash(req));
}

int api_etag_matches(const api_request_t *req, const char *etag)
{
    if (req->if_none_match == NULL)
        return 0;
    const char *p = req->if_none_match, *end = p + req->if_none_match_len;
    size_t el = strlen(etag);
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (p >= end)
            break;
        const char *q = memchr(p, ',', (size_t)(end - p));
        const char *stop = q ? q : end;
        const char *t = stop;
        while (t > p && t[-1] == ' ')
            t--;
        if (((size_t)(t - p) == el && memcmp(p, etag, el) == 0) || (t - p == 1 && *p == '*'))
            return 1;
        p = stop;
    }
    return 0;
}

int api_begin_read(api_ctx_t *ctx, const api_request_t *req, ft_snap_t *v, api_response_t *res)
{
    ft_snap_begin(v, &ctx->shm);
    api_etag_make(ctx, req, v->gen, res->etag);
    res->gen = v->gen;
    if (!api_etag_matches(req, res->etag))
        return 0;
    api_reply_not_modified(res);
    return 1;
}
