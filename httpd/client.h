/*
 * httpd/client — one HTTP/1.1 request at a time from a daemon's event loop to
 * another daemon, with libh2o's client: a fresh connection per request
 * (Connection: close), a deadline on every step, the whole answer gathered
 * (up to 64 MiB) and handed to one callback, exactly once.
 *
 *     ft_httpc_t c;  ft_httpc_init(&c, &server.ctx, timeout_s);
 *     ft_httpc_request(&c, &url, "PUT", "/switches/x", "Content-Type: application/json\r\n", body, len, done, data);
 *     ... done(data, status, body, len, etag, err) runs later on the loop ...
 *     ft_httpc_destroy(&c);   only when no request is in flight (ft_httpc_inflight)
 *
 * The callback gets the status (0 when no answer came: err says why, e.g.
 * "connection refused", "timeout") and the body, valid only during the call.
 *
 * Who may call: the thread running the context's loop. Errors: 0 or a
 * negative errno.
 */
#ifndef FT_HTTPD_CLIENT_H
#define FT_HTTPD_CLIENT_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <h2o/http1client.h>

typedef void (*ft_httpc_done_fn)(void *data, int status, const char *body, size_t len, const char *etag, const char *err);

typedef struct ft_httpc {
    h2o_context_t *ctx;
    h2o_multithread_receiver_t getaddr_receiver;
    h2o_timeout_t io_timeout;
    h2o_http1client_ctx_t client_ctx;
    size_t inflight;
} ft_httpc_t;

int ft_httpc_init(ft_httpc_t *c, h2o_context_t *ctx, double timeout_s);
void ft_httpc_destroy(ft_httpc_t *c);
static inline size_t ft_httpc_inflight(const ft_httpc_t *c)
{
    return c->inflight;
}

/* extra_headers: whole "Name: value\r\n" lines or NULL. The body is copied. */
int ft_httpc_request(ft_httpc_t *c, const h2o_url_t *url, const char *method, const char *path, const char *extra_headers,
                     const void *body, size_t len, ft_httpc_done_fn done, void *data);

#endif
