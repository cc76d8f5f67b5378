/*
 * libFuzzer target: apid's request handler, called directly on a known
 * snapshot (tests/fixture_shm.h). An input is split at its first three NUL
 * bytes into method, path?query, If-None-Match and body, so every field a
 * client controls is fuzzed, together. Every answer must be a status the API
 * gives, with a JSON body when it is JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fixture_shm.h"

static fx_t fx;
static api_ctx_t ctx;

static void cleanup(void)
{
    api_ctx_destroy(&ctx);
    fx_close(&fx);
}

static void setup(void)
{
    fx_open(&fx);
    fx_publish(&fx, NULL);
    api_config_t cfg = {.shm_name = fx.name, .stale_after_s = 30, .max_uri = 8192, .prom_counters = "port_xmit_data",
                        .max_body = 4096, .auth_token = "s3cret", .upstreams = {{"orchd", "http://127.0.0.1:1"}, {"flowd", "http://127.0.0.1:2"}}};
    if (api_ctx_init(&ctx, &cfg) != 0)
        abort();
    api_ctx_poll_segment(&ctx);
    atexit(cleanup);
}

/* The next NUL-terminated field of the input (the rest when there is no NUL). */
static const char *field(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *z = memchr(s, '\0', (size_t)(end - s));
    *len = (size_t)((z ? z : end) - s);
    *p = z ? z + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ctx.cache == NULL)
        setup();
    const char *p = (const char *)data, *end = p + size;
    api_request_t req = {0};
    size_t ulen;
    req.method = field(&p, end, &req.method_len);
    const char *uri = field(&p, end, &ulen);
    req.if_none_match = field(&p, end, &req.if_none_match_len);
    req.body = p;
    req.body_len = (size_t)(end - p);
    const char *q = memchr(uri, '?', ulen);
    req.path = uri;
    req.path_len = q ? (size_t)(q - uri) : ulen;
    req.query = q ? q + 1 : NULL;
    req.query_len = q ? ulen - req.path_len - 1 : 0;
    req.accept_gzip = size & 1;
    api_response_t res;
    api_handle(&ctx, &req, &res);
    if (res.forward >= 0) /* passed every check: the worker would forward it */
        return res.forward < API_UPSTREAMS ? 0 : (abort(), 0);
    static const int statuses[] = {200, 304, 400, 401, 403, 404, 405, 413, 414, 415, 500, 503};
    int known = 0;
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        known |= res.status == statuses[i];
    if (!known)
        abort();
    if (res.status != 304 && res.content_type == NULL && !res.gzip) {
        json_t *doc = json_loadb(res.body, res.body_len, 0, NULL);
        if (doc == NULL)
            abort(); /* every JSON answer parses, whatever the request held */
        json_decref(doc);
    }
    api_body_release(res.shared);
    return 0;
}
