#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MAX_ANSWER (64u << 20)

typedef struct call {
    ft_httpc_t *c;
    h2o_http1client_t *client;
    ft_buf_t out, in;
    h2o_iovec_t reqbuf;
    int status, method_is_head;
    char etag[128];
    ft_httpc_done_fn done;
    void *data;
} call_t;

int ft_httpc_init(ft_httpc_t *c, h2o_context_t *ctx, double timeout_s)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    h2o_multithread_register_receiver(ctx->queue, &c->getaddr_receiver, h2o_hostinfo_getaddr_receiver);
    h2o_timeout_init(ctx->loop, &c->io_timeout, (uint64_t)(timeout_s * 1000));
    c->client_ctx.loop = ctx->loop;
    c->client_ctx.getaddr_receiver = &c->getaddr_receiver;
    c->client_ctx.io_timeout = &c->io_timeout;
    return 0;
}

void ft_httpc_destroy(ft_httpc_t *c)
{
    if (c->ctx == NULL)
        return;
    h2o_timeout_dispose(c->ctx->loop, &c->io_timeout);
    h2o_multithread_unregister_receiver(c->ctx->queue, &c->getaddr_receiver);
    c->ctx = NULL;
}

/* The one way out of a call: the callback, then the call is freed. */
static void finish(call_t *k, int status, const char *err)
{
    k->c->inflight--;
    ft_buf_append(&k->in, "", 1); /* a terminating NUL, not counted */
    k->done(k->data, status, k->in.failed ? "" : k->in.data, k->in.failed ? 0 : k->in.len - 1, k->etag[0] ? k->etag : NULL, err);
    ft_buf_destroy(&k->in);
    ft_buf_destroy(&k->out);
    free(k);
}

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    call_t *k = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        finish(k, 0, errstr);
        return -1;
    }
    h2o_buffer_t *in = client->sock->input;
    if (in->size > 0) {
        ft_buf_append(&k->in, in->bytes, in->size);
        h2o_buffer_consume(&client->sock->input, in->size);
        if (k->in.len > MAX_ANSWER || k->in.failed) {
            finish(k, 0, "answer over 64 MiB");
            return -1;
        }
    }
    if (errstr == h2o_http1client_error_is_eos)
        finish(k, k->status, NULL);
    return 0;
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status, h2o_iovec_t msg,
                                       h2o_header_t *headers, size_t num_headers, int rlen)
{
    (void)minor_version, (void)msg, (void)rlen;
    call_t *k = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        finish(k, 0, errstr);
        return NULL;
    }
    k->status = status;
    for (size_t i = 0; i < num_headers; i++)
        if (headers[i].name == &H2O_TOKEN_ETAG->buf && headers[i].value.len < sizeof(k->etag)) {
            memcpy(k->etag, headers[i].value.base, headers[i].value.len);
            k->etag[headers[i].value.len] = '\0';
        }
    if (errstr == h2o_http1client_error_is_eos) {
        finish(k, status, NULL);
        return NULL;
    }
    return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                          int *method_is_head)
{
    call_t *k = client->data;
    if (errstr != NULL) {
        finish(k, 0, errstr);
        return NULL;
    }
    *reqbufs = &k->reqbuf;
    *reqbufcnt = 1;
    *method_is_head = k->method_is_head;
    return on_head;
}

int ft_httpc_request(ft_httpc_t *c, const h2o_url_t *url, const char *method, const char *path, const char *extra_headers,
                     const void *body, size_t len, ft_httpc_done_fn done, void *data)
{
    call_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    k->c = c;
    k->done = done;
    k->data = data;
    k->method_is_head = strcmp(method, "HEAD") == 0;
    ft_buf_init(&k->in);
    ft_buf_init(&k->out);
    ft_buf_appendf(&k->out, "%s %s HTTP/1.1\r\nHost: %.*s\r\nConnection: close\r\n", method, path, (int)url->authority.len,
                   url->authority.base);
    if (extra_headers != NULL)
        ft_buf_puts(&k->out, extra_headers);
    if (body != NULL || strcmp(method, "GET") != 0)
        ft_buf_appendf(&k->out, "Content-Length: %zu\r\n", len);
    ft_buf_append(&k->out, "\r\n", 2);
    if (len)
        ft_buf_append(&k->out, body, len);
    if (k->out.failed) {
        ft_buf_destroy(&k->out);
        free(k);
        return -ENOMEM;
    }
    k->reqbuf = h2o_iovec_init(k->out.data, k->out.len);
    c->inflight++;
    h2o_http1client_connect(&k->client, k, &c->client_ctx, url->host, h2o_url_get_port(url), 0, on_connect);
    return 0;
}
