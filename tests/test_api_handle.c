/*
 * tests for apid's request handler, called directly (no HTTP server): the
 * route table (paths, aliases, methods, 404/405/414), every telemetry and
 * service answer against a snapshot published through shm's writer side
 * (tests/fixture_shm.h), ETags and 304, the answer cache, and the 503 before
 * any data.
 */
#include <jansson.h>
#include <stdlib.h>

#include "api.h"
#include "cache.h"
#include "check.h"
#include "fixture_shm.h"
#include "render.h"
#include "routes.h"

typedef struct call {
    api_response_t res;
    char body[16384];
} call_t;

/* One request; the answer's body is copied out (it may point into scratch or a shared body). */
static call_t *call(api_ctx_t *ctx, const char *method, const char *uri, const char *inm)
{
    static call_t c;
    api_request_t req = {.method = method, .method_len = strlen(method)};
    const char *q = strchr(uri, '?');
    req.path = uri;
    req.path_len = q ? (size_t)(q - uri) : strlen(uri);
    req.query = q ? q + 1 : NULL;
    req.query_len = q ? strlen(q + 1) : 0;
    req.if_none_match = inm;
    req.if_none_match_len = inm ? strlen(inm) : 0;
    api_handle(ctx, &req, &c.res);
    size_t n = c.res.body_len < sizeof(c.body) - 1 ? c.res.body_len : sizeof(c.body) - 1;
    memcpy(c.body, c.res.body ? c.res.body : "", n);
    c.body[n] = '\0';
    api_body_release(c.res.shared);
    c.res.shared = NULL;
    return &c;
}

static void expect(api_ctx_t *ctx, const char *method, const char *uri, int status, const char *fragment)
{
    call_t *c = call(ctx, method, uri, NULL);
    CHECK(c->res.status == status && strstr(c->body, fragment) != NULL, "%s %s: expected %d with '%s', got %d %s", method, uri,
          status, fragment, c->res.status, c->body);
}

static void test_before_data(void)
{
    api_ctx_t ctx;
    api_config_t cfg = {.shm_name = "/fabtel-test-api-none", .stale_after_s = 30, .max_uri = 8192, .prom_counters = "",
                        .max_body = 1024};
    CHECK(api_ctx_init(&ctx, &cfg) == 0, "init");
    call_t *c = call(&ctx, "GET", "/health", NULL);
    CHECK(c->res.status == 503 && strstr(c->body, "\"status\":\"down\"") != NULL, "health before data: %d %s", c->res.status, c->body);
    c = call(&ctx, "GET", "/telemetry/GetMetric?switch_id=sw-1&metric=temperature", NULL);
    CHECK(c->res.status == 503 && c->res.retry_after == 1 && strstr(c->body, "\"error\":{\"status\":503") != NULL,
          "GetMetric before data: %d %s", c->res.status, c->body);
    api_ctx_destroy(&ctx);
}

static void test_routes(api_ctx_t *ctx)
{
    expect(ctx, "GET", "/nope", 404, "no such path '/nope'");
    CHECK_EQ_STR(api_route_label(call(ctx, "GET", "/nope", NULL)->res.route), "other");
    call_t *c = call(ctx, "POST", "/telemetry/GetMetric?switch_id=sw-1&metric=temperature", NULL);
    CHECK(c->res.status == 405 && c->res.allow != NULL && strcmp(c->res.allow, "GET, HEAD") == 0,
          "POST to a read-only route: 405 with Allow, got %d %s", c->res.status, c->res.allow ? c->res.allow : "(none)");
    expect(ctx, "BREW", "/health", 405, "method 'BREW' not allowed");
    char uri[9000] = "/health?x=";
    memset(uri + 10, 'a', sizeof(uri) - 11);
    uri[sizeof(uri) - 1] = '\0';
    expect(ctx, "GET", uri, 414, "URI longer than 8192 bytes");
    expect(ctx, "GET", "/telemetry/GetMetric?switch_id=%zz", 400, "percent");
    c = call(ctx, "HEAD", "/telemetry/counters", NULL);
    CHECK(c->res.status == 200, "HEAD is answered like GET: %d", c->res.status);
    CHECK_EQ_STR(api_route_label(c->res.route), "counters");
}

static void test_get_metric(api_ctx_t *ctx, const ft_snap_t *v)
{
    ft_buf_t want;
    ft_buf_init(&want);
    ft_render_metric(&want, v, 0, 1);
    ft_buf_append(&want, "", 1);
    call_t *c = call(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-1&metric=temperature", NULL);
    CHECK(c->res.status == 200 && c->res.gen == 1, "GetMetric: %d", c->res.status);
    CHECK_EQ_STR(c->body, want.data);
    CHECK_EQ_STR(api_route_label(c->res.route), "GetMetric");
    char etag[64];
    memcpy(etag, c->res.etag, sizeof(etag));
    CHECK(etag[0] == '"', "a strong ETag: %s", etag);
    c = call(ctx, "GET", "/telemetry/get_metric?switch_name=sw-1&metric_name=temperature", NULL);
    CHECK(c->res.status == 200 && strcmp(c->body, want.data) == 0, "the aliases give the same answer: %s", c->body);
    c = call(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-1&metric=temperature", etag);
    CHECK(c->res.status == 304 && c->res.body_len == 0, "If-None-Match of the current ETag: 304, got %d", c->res.status);
    expect(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-9&metric=temperature", 404, "unknown switch 'sw-9'");
    expect(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-old&metric=temperature", 404, "unknown switch 'sw-old'");
    expect(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-1&metric=gone", 404, "unknown metric 'gone'");
    expect(ctx, "GET", "/telemetry/GetMetric?metric=temperature", 400, "missing parameter 'switch_id'");
    expect(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-2&metric=note", 200, "\"value\":null");
    ft_buf_destroy(&want);
}

static void test_list_and_counters(api_ctx_t *ctx, const ft_snap_t *v)
{
    /* The whole list is the body the writer put in the slot, byte for byte (the fixture's marker). */
    call_t *c = call(ctx, "GET", "/telemetry/ListMetrics", NULL);
    CHECK(c->res.status == 200 && strcmp(c->body, "{\"prerendered\":true}") == 0, "whole list from the slot: %s", c->body);
    CHECK(c->res.vary_encoding, "the whole list varies by encoding");
    /* A filtered one is rendered here. */
    c = call(ctx, "GET", "/telemetry/ListMetrics?metric=temperature&switch_id=sw-2", NULL);
    CHECK(c->res.status == 200 && strstr(c->body, "\"metrics\":[{\"switch_id\":\"sw-2\",\"temperature\":-3.25,\"stale\":true}]"),
          "filtered list: %s", c->body);
    expect(ctx, "GET", "/telemetry/ListMetrics?switch_id=sw-1,sw-old", 404, "unknown switch 'sw-old'");
    expect(ctx, "GET", "/telemetry/ListMetrics?limit=x", 400, "'limit' must be a whole number");
    expect(ctx, "GET", "/telemetry/ListMetrics?limit=1&offset=1", 200, "\"total\":2,\"offset\":1");
    ft_buf_t want;
    ft_buf_init(&want);
    ft_render_counters(&want, v);
    ft_buf_append(&want, "", 1);
    c = call(ctx, "GET", "/telemetry/counters", NULL);
    CHECK(c->res.status == 200, "counters: %d", c->res.status);
    CHECK_EQ_STR(c->body, want.data);
    ft_buf_destroy(&want);
}

static void test_service(api_ctx_t *ctx)
{
    call_t *c = call(ctx, "GET", "/health", NULL);
    json_t *doc = json_loads(c->body, 0, NULL);
    CHECK(c->res.status == 200 && doc != NULL && json_integer_value(json_object_get(doc, "generation")) == 1 &&
              strcmp(json_string_value(json_object_get(doc, "status")), "ok") == 0,
          "health: %d %s", c->res.status, c->body);
    json_decref(doc);
    c = call(ctx, "GET", "/telemetry/performance", NULL);
    doc = json_loads(c->body, 0, NULL);
    CHECK(c->res.status == 200 && doc != NULL && json_integer_value(json_object_get(doc, "generation")) == 1 &&
              json_object_get(doc, "p99_api_latency_ms") != NULL,
          "performance: %d %s", c->res.status, c->body);
    json_decref(doc);
    c = call(ctx, "GET", "/metrics", NULL);
    CHECK(c->res.status == 200 && c->res.content_type && strncmp(c->res.content_type, "text/plain", 10) == 0, "metrics: %d",
          c->res.status);
    CHECK(strstr(c->body, "fabtel_switch_temperature{switch_id=\"sw-1\"} 41.5\n") != NULL, "a series per switch: %s", c->body);
    /* The segment says port_xmit_data is a counter of 4-byte units: a _total counter, in bytes (2^53 + 1 times 4, exact). */
    CHECK(strstr(c->body, "# TYPE fabtel_switch_port_xmit_data_total counter\n") != NULL &&
              strstr(c->body, "fabtel_switch_port_xmit_data_total{switch_id=\"sw-1\"} 36028797018963972\n") != NULL &&
              strstr(c->body, "fabtel_switch_port_xmit_data_total{switch_id=\"sw-2\"} 28\n") != NULL,
          "a counter column, scaled: %s", c->body);
    /* An absent row has no samples, only its presence (0) while it is remembered; an absent column nothing. */
    const char *old = strstr(c->body, "sw-old");
    CHECK(old != NULL && strstr(old + 1, "sw-old") == NULL && strstr(c->body, "fabtel_switch_present{switch_id=\"sw-old\"} 0\n") != NULL &&
              strstr(c->body, "fabtel_switch_present{switch_id=\"sw-1\"} 1\n") != NULL && strstr(c->body, "fabtel_switch_gone") == NULL,
          "absent rows only as fabtel_switch_present 0, absent columns left out: %s", c->body);
}

/* A request with the headers the guards read. */
static call_t *call_write(api_ctx_t *ctx, const char *method, const char *uri, const char *ctype, const char *origin, const char *auth,
                          const char *body)
{
    static call_t c;
    api_request_t req = {.method = method, .method_len = strlen(method), .path = uri, .path_len = strlen(uri)};
    req.content_type = ctype, req.content_type_len = ctype ? strlen(ctype) : 0;
    req.origin = origin, req.origin_len = origin ? strlen(origin) : 0;
    req.authorization = auth, req.authorization_len = auth ? strlen(auth) : 0;
    req.host = "127.0.0.1:8080", req.host_len = 14;
    req.body = body, req.body_len = body ? strlen(body) : 0;
    api_handle(ctx, &req, &c.res);
    size_t n = c.res.body_len < sizeof(c.body) - 1 ? c.res.body_len : sizeof(c.body) - 1;
    memcpy(c.body, c.res.body ? c.res.body : "", n);
    c.body[n] = '\0';
    return &c;
}

/* Writes go to their owner only past the guards: body size, origin, token, JSON. */
static void test_forward_and_guards(api_ctx_t *ctx)
{
    const char *J = "application/json; charset=utf-8", *ok = "Bearer s3cret";
    call_t *c = call_write(ctx, "POST", "/deployments", J, NULL, ok, "{}");
    CHECK(c->res.forward == API_UPSTREAM_ORCHD && c->res.status == 0, "a good write is forwarded to orchd: %d %d", c->res.forward,
          c->res.status);
    CHECK_EQ_STR(api_route_label(c->res.route), "deployments");
    c = call_write(ctx, "GET", "/flows/hours", NULL, NULL, NULL, NULL);
    CHECK(c->res.forward == API_UPSTREAM_FLOWD, "a read under /flows goes to flowd without a token: %d %d", c->res.forward, c->res.status);
    c = call_write(ctx, "POST", "/deployments", J, "http://127.0.0.1:8080", ok, "{}");
    CHECK(c->res.forward == API_UPSTREAM_ORCHD, "same origin passes: %d", c->res.status);
    c = call_write(ctx, "POST", "/deployments", J, "https://evil.example", ok, "{}");
    CHECK(c->res.forward < 0 && c->res.status == 403 && strstr(c->body, "\"field\":\"Origin\"") != NULL, "cross origin: %d %s",
          c->res.status, c->body);
    c = call_write(ctx, "DELETE", "/deployments/3", NULL, NULL, NULL, NULL);
    CHECK(c->res.status == 401 && c->res.www_authenticate != NULL, "a write without the token: 401, got %d", c->res.status);
    c = call_write(ctx, "DELETE", "/deployments/3", NULL, NULL, "Bearer s3cre", NULL);
    CHECK(c->res.status == 401, "a token one byte short: 401, got %d", c->res.status);
    c = call_write(ctx, "PUT", "/deployments/3", "text/plain", NULL, ok, "x");
    CHECK(c->res.status == 415 && strstr(c->body, "\"field\":\"Content-Type\"") != NULL, "not JSON: 415, got %d %s", c->res.status,
          c->body);
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    c = call_write(ctx, "POST", "/deployments", J, NULL, ok, big);
    CHECK(c->res.status == 413 && strstr(c->body, "\"field\":\"body\"") != NULL, "over --max-body-bytes: 413, got %d", c->res.status);
    c = call_write(ctx, "POST", "/flowsx", J, NULL, ok, "{}");
    CHECK(c->res.status == 404, "/flowsx is no route: %d", c->res.status);
}

/* ?wait= is not part of the question: the ETag with and without it is the same; a 304 may then be held. */
static void test_wait(api_ctx_t *ctx)
{
    const char *uri = "/telemetry/GetMetric?switch_id=sw-1&metric=temperature";
    call_t *c = call(ctx, "GET", uri, NULL);
    char etag[64];
    memcpy(etag, c->res.etag, sizeof(etag));
    c = call(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-1&wait=12.5&metric=temperature", etag);
    CHECK(c->res.status == 304 && c->res.hold_s == 12.5, "a conditional read with wait: 304 to hold 12.5 s, got %d %g", c->res.status,
          c->res.hold_s);
    c = call(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-1&metric=temperature&wait=61", etag);
    CHECK(c->res.status == 400 && strstr(c->body, "\"field\":\"wait\"") != NULL, "wait over 60: 400, got %d %s", c->res.status,
          c->body);
    c = call(ctx, "GET", "/telemetry/GetMetric?switch_id=sw-1&metric=temperature&wait=2", NULL);
    CHECK(c->res.status == 200 && strcmp(c->res.etag, etag) == 0 && c->res.hold_s == 0, "without If-None-Match: 200, same ETag");
    c = call(ctx, "GET", uri, etag);
    CHECK(c->res.status == 304 && c->res.hold_s == 0, "a 304 without wait is not held");
}

/* A repeated question is answered from the cache until the next generation, whose answer differs in ETag. */
static void test_cache(api_ctx_t *ctx, fx_t *f)
{
    uint64_t h0, m0, h1, m1;
    const char *uri = "/telemetry/GetMetric?switch_id=sw-2&metric=temperature";
    call_t *c = call(ctx, "GET", uri, NULL);
    char etag1[64];
    memcpy(etag1, c->res.etag, sizeof(etag1));
    api_cache_counts(ctx->cache, &h0, &m0);
    c = call(ctx, "GET", uri, NULL);
    api_cache_counts(ctx->cache, &h1, &m1);
    CHECK(h1 == h0 + 1 && m1 == m0 && c->res.status == 200, "the same question is a cache hit (hits %llu -> %llu)",
          (unsigned long long)h0, (unsigned long long)h1);
    fx_publish(f, NULL);
    c = call(ctx, "GET", uri, etag1);
    CHECK(c->res.status == 200 && c->res.gen == 2 && strcmp(c->res.etag, etag1) != 0,
          "a new generation answers 200 with a new ETag to the old one: %d gen %llu", c->res.status, (unsigned long long)c->res.gen);
    c = call(ctx, "GET", "/telemetry/ListMetrics", NULL);
    CHECK(c->res.status == 200 && strstr(c->body, "\"generation\":2") != NULL, "no pre-rendered body: rendered here: %.80s", c->body);
}

int main(void)
{
    test_before_data();
    fx_t f;
    fx_open(&f);
    fx_publish(&f, "{\"prerendered\":true}");
    api_ctx_t ctx;
    api_config_t cfg = {.shm_name = f.name, .stale_after_s = 30, .max_uri = 8192, .prom_counters = "",
                        .max_body = 1024, .upstreams = {{"orchd", "http://127.0.0.1:1"}, {"flowd", "http://127.0.0.1:2"}}};
    CHECK(api_ctx_init(&ctx, &cfg) == 0, "init");
    ft_snap_t v;
    ft_snap_begin(&v, &f.shm);
    test_routes(&ctx);
    test_get_metric(&ctx, &v);
    test_list_and_counters(&ctx, &v);
    test_service(&ctx);
    test_wait(&ctx);
    test_cache(&ctx, &f);
    api_ctx_destroy(&ctx);
    cfg.auth_token = "s3cret";
    CHECK(api_ctx_init(&ctx, &cfg) == 0, "init");
    test_forward_and_guards(&ctx);
    api_ctx_destroy(&ctx);
    fx_close(&f);
    return check_report("test_api_handle");
}
