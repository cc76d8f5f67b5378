#include "forward.h"

#include <h2o/http1client.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "httpd.h"
#include "log.h"
#include "json.h"
#include "util.h"

#define MAX_ANSWER (64u << 20)

typedef struct upstream {
    const char *name, *url;
    h2o_url_t parsed;
    h2o_socketpool_t pool; /* keep-alive connections for reads (GET, HEAD) */
    int pooled;
} upstream_t;

struct api_forwarder {
    h2o_context_t *ctx;
    h2o_multithread_receiver_t getaddr_receiver;
    h2o_timeout_t io_timeout;
    h2o_http1client_ctx_t client_ctx;
    upstream_t up[API_UPSTREAMS];
    api_forward_done_fn done;
    void *data;
};

/* One request on its way: lives in the request's pool until the answer is sent. */
typedef struct forward {
    api_forwarder_t *f;
    h2o_req_t *req;
    const upstream_t *up;
    int route;
    uint64_t t0;
    h2o_iovec_t reqbufs[2];
    h2o_http1client_t *client;
    int idempotent; /* a read: sent on a pooled connection, and sent again once on a fresh one if that one was dead */
    int attempts;
    int status;
    h2o_headers_t headers; /* passed back */
    ft_buf_t body;
} forward_t;

static h2o_generator_t generator = {NULL, NULL};

int api_upstream_check(const char *url, char *why, size_t whysz)
{
    h2o_url_t u;
    if (url == NULL || h2o_url_parse(url, SIZE_MAX, &u) != 0 || u.scheme != &H2O_URL_SCHEME_HTTP || u.host.len == 0) {
        snprintf(why, whysz, "'%s' is not an http://HOST:PORT URL", url ? url : "");
        return -1;
    }
    return 0;
}

api_forwarder_t *api_forwarder_create(h2o_context_t *ctx, const api_config_t *cfg, api_forward_done_fn done, void *data)
{
    api_forwarder_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->ctx = ctx;
    f->done = done;
    f->data = data;
    for (int i = 0; i < API_UPSTREAMS; i++) {
        f->up[i].name = cfg->upstreams[i].name;
        f->up[i].url = cfg->upstreams[i].url;
        if (f->up[i].url == NULL || h2o_url_parse(f->up[i].url, SIZE_MAX, &f->up[i].parsed) != 0) {
            f->up[i].url = NULL; /* checked at start-up (api_upstream_check); here: answer 503 */
            continue;
        }
        h2o_socketpool_init_by_hostport(&f->up[i].pool, f->up[i].parsed.host, h2o_url_get_port(&f->up[i].parsed), 0, 64);
        /* Idle pooled connections are closed well before a server's usual keep-alive timeout (5 s and up). */
        h2o_socketpool_set_timeout(&f->up[i].pool, ctx->loop, 2000);
        f->up[i].pooled = 1;
    }
    h2o_multithread_register_receiver(ctx->queue, &f->getaddr_receiver, h2o_hostinfo_getaddr_receiver);
    h2o_timeout_init(ctx->loop, &f->io_timeout, (uint64_t)(cfg->forward_timeout_s * 1000));
    f->client_ctx.loop = ctx->loop;
    f->client_ctx.getaddr_receiver = &f->getaddr_receiver;
    f->client_ctx.io_timeout = &f->io_timeout;
    return f;
}

void api_forwarder_destroy(api_forwarder_t *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < API_UPSTREAMS; i++)
        if (f->up[i].pooled)
            h2o_socketpool_dispose(&f->up[i].pool);
    h2o_timeout_dispose(f->ctx->loop, &f->io_timeout);
    h2o_multithread_unregister_receiver(f->ctx->queue, &f->getaddr_receiver);
    free(f);
}

/* ---- answering ---- */

static void finish(forward_t *fw, int status, h2o_iovec_t body, const char *content_type)
{
    h2o_req_t *req = fw->req;
    req->res.status = status;
    req->res.reason = ft_httpd_reason(status);
    for (size_t i = 0; i < fw->headers.size; i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, fw->headers.entries[i].name->base, fw->headers.entries[i].name->len, 0,
                              NULL, fw->headers.entries[i].value.base, fw->headers.entries[i].value.len);
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, body.len ? 1 : 0, H2O_SEND_STATE_FINAL);
    fw->f->done(fw->f->data, fw->route, status, (ft_mono_ns() - fw->t0) / 1000);
}

/* fabtel's JSON error, naming the upstream. */
static void fail(forward_t *fw, int status, const char *what)
{
    char msg[400];
    int n = snprintf(msg, sizeof(msg), "upstream %s (%s) %s", fw->up->name, fw->up->url ? fw->up->url : "not configured", what);
    ft_buf_t b;
    ft_buf_init(&b);
    ft_json_put_error(&b, status, msg, n < 0 ? 0 : (size_t)n, "upstream", -1);
    h2o_iovec_t body = h2o_iovec_init(h2o_mem_alloc_pool(&fw->req->pool, b.len), b.len);
    memcpy(body.base, b.data, b.len);
    ft_buf_destroy(&b);
    ft_buf_destroy(&fw->body);
    fw->headers.size = 0;
    ft_log(status == 504 ? FT_LOG_WARN : FT_LOG_INFO, "event=forward_failed upstream=%s status=%d reason=\"%s\"", fw->up->name,
           status, what);
    finish(fw, status, body, "application/json");
}

static int is_timeout(const char *errstr)
{
    return errstr != NULL && strstr(errstr, "timeout") != NULL;
}

/* ---- the exchange ---- */

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    forward_t *fw = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        fail(fw, is_timeout(errstr) ? 504 : 502, is_timeout(errstr) ? "did not finish its answer in time" : "broke off its answer");
        return -1;
    }
    h2o_buffer_t *in = client->sock->input;
    if (in->size > 0) {
        ft_buf_append(&fw->body, in->bytes, in->size);
        h2o_buffer_consume(&client->sock->input, in->size);
        if (fw->body.len > MAX_ANSWER || fw->body.failed) {
            fail(fw, 502, "sent an answer over 64 MiB");
            return -1;
        }
    }
    if (errstr == h2o_http1client_error_is_eos) {
        h2o_iovec_t body = h2o_iovec_init(h2o_mem_alloc_pool(&fw->req->pool, fw->body.len), fw->body.len);
        if (fw->body.len)
            memcpy(body.base, fw->body.data, fw->body.len);
        ft_buf_destroy(&fw->body);
        finish(fw, fw->status, body, NULL);
    }
    return 0;
}

/* The upstream headers passed back to the client (the rest are hop-by-hop or apid's own). */
static int passed_back(const h2o_iovec_t *name)
{
    static const h2o_token_t *const tokens[] = {H2O_TOKEN_CONTENT_TYPE, H2O_TOKEN_ETAG, H2O_TOKEN_LOCATION, H2O_TOKEN_RETRY_AFTER,
                                                H2O_TOKEN_CACHE_CONTROL, H2O_TOKEN_ALLOW, H2O_TOKEN_WWW_AUTHENTICATE};
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
        if (name == &tokens[i]->buf)
            return 1;
    return h2o_lcstris(name->base, name->len, H2O_STRLIT("idempotent-replayed"));
}

static void send_upstream(forward_t *fw);

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                       h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    (void)minor_version, (void)msg, (void)rlen;
    forward_t *fw = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos && fw->idempotent && fw->attempts == 1 && !is_timeout(errstr)) {
        send_upstream(fw); /* a pooled connection the upstream had closed: a read is sent again, once, on a fresh one */
        return NULL;
    }
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        fail(fw, is_timeout(errstr) ? 504 : 502, is_timeout(errstr) ? "did not answer in time" : "closed the connection without an answer");
        return NULL;
    }
    fw->status = status;
    for (size_t i = 0; i < num_headers; i++)
        if (passed_back(headers[i].name)) {
            h2o_vector_reserve(&fw->req->pool, &fw->headers, fw->headers.size + 1);
            h2o_header_t *h = &fw->headers.entries[fw->headers.size++];
            *h = headers[i];
            h->name = h2o_mem_alloc_pool(&fw->req->pool, sizeof(*h->name));
            *h->name = h2o_strdup(&fw->req->pool, headers[i].name->base, headers[i].name->len);
            h->value = h2o_strdup(&fw->req->pool, headers[i].value.base, headers[i].value.len);
        }
    if (errstr == h2o_http1client_error_is_eos) { /* an answer with no body */
        finish(fw, status, h2o_iovec_init(NULL, 0), NULL);
        return NULL;
    }
    return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                          int *method_is_head)
{
    forward_t *fw = client->data;
    if (errstr != NULL) {
        fail(fw, is_timeout(errstr) ? 504 : 503, is_timeout(errstr) ? "did not accept the connection in time" : "refused the connection");
        return NULL;
    }
    *reqbufs = fw->reqbufs;
    *reqbufcnt = fw->reqbufs[1].len ? 2 : 1;
    *method_is_head = h2o_memis(fw->req->method.base, fw->req->method.len, H2O_STRLIT("HEAD"));
    return on_head;
}

/* "METHOD target HTTP/1.1", Host, the headers that matter, Content-Length, Connection: close. */
static h2o_iovec_t request_head(forward_t *fw)
{
    static const char *const passed_on[] = {"content-type", "idempotency-key", "if-none-match", "authorization", "if-match"};
    h2o_req_t *req = fw->req;
    ft_buf_t b;
    ft_buf_init(&b);
    char line[64];
    ft_buf_append(&b, req->method.base, req->method.len);
    ft_buf_append(&b, " ", 1);
    ft_buf_append(&b, req->path.base, req->path.len);
    ft_buf_puts(&b, " HTTP/1.1\r\nHost: ");
    ft_buf_append(&b, fw->up->parsed.authority.base, fw->up->parsed.authority.len);
    ft_buf_puts(&b, fw->idempotent ? "\r\nX-Forwarded-By: fabtel-apid\r\n" : "\r\nConnection: close\r\nX-Forwarded-By: fabtel-apid\r\n");
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        for (size_t k = 0; k < sizeof(passed_on) / sizeof(passed_on[0]); k++)
            if (h2o_lcstris(h->name->base, h->name->len, passed_on[k], strlen(passed_on[k]))) {
                ft_buf_append(&b, h->name->base, h->name->len);
                ft_buf_append(&b, ": ", 2);
                ft_buf_append(&b, h->value.base, h->value.len);
                ft_buf_append(&b, "\r\n", 2);
            }
    }
    if (req->entity.base != NULL || !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        ft_buf_append(&b, line, (size_t)snprintf(line, sizeof(line), "Content-Length: %zu\r\n", req->entity.len));
    ft_buf_append(&b, "\r\n", 2);
    h2o_iovec_t out = h2o_iovec_init(h2o_mem_alloc_pool(&req->pool, b.len), b.len);
    memcpy(out.base, b.data, b.len);
    ft_buf_destroy(&b);
    return out;
}

void api_forward(api_forwarder_t *f, h2o_req_t *req, int u, int route)
{
    forward_t *fw = h2o_mem_alloc_pool(&req->pool, sizeof(*fw));
    memset(fw, 0, sizeof(*fw));
    fw->f = f;
    fw->req = req;
    fw->up = &f->up[u];
    fw->route = route;
    fw->t0 = ft_mono_ns();
    ft_buf_init(&fw->body);
    if (fw->up->url == NULL)
        return fail(fw, 503, "is not configured");
    fw->idempotent = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
                     h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    fw->reqbufs[0] = request_head(fw);
    fw->reqbufs[1] = h2o_iovec_init(req->entity.base, req->entity.base ? req->entity.len : 0);
    send_upstream(fw);
}

/* A read's first attempt reuses a pooled keep-alive connection; everything else gets a fresh one. */
static void send_upstream(forward_t *fw)
{
    api_forwarder_t *f = fw->f;
    upstream_t *up = &f->up[fw->up - f->up];
    if (fw->idempotent && fw->attempts++ == 0)
        h2o_http1client_connect_with_pool(&fw->client, fw, &f->client_ctx, &up->pool, on_connect);
    else
        h2o_http1client_connect(&fw->client, fw, &f->client_ctx, up->parsed.host, h2o_url_get_port(&up->parsed), 0, on_connect);
}
