#include "httpd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "util.h"

typedef struct handler {
    h2o_handler_t super;
    ft_httpd_t *s;
} handler_t;

static h2o_generator_t generator = {NULL, NULL};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    ft_httpd_t *s = ((handler_t *)self)->s;
    if (s->stopping)
        req->http1_is_persistent = 0; /* "Connection: close": the client reconnects to a live server */
    return s->fn(s->data, req);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    ft_httpd_t *s = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&s->accept_ctx, sock);
}

/* libh2o's file handler under files->prefix, with the security headers every page answer carries. */
static void register_files(ft_httpd_t *s, h2o_hostconf_t *host, const ft_httpd_files_t *files)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, files->prefix, 0);
    h2o_headers_command_t *c = s->file_headers;
    h2o_iovec_t *n = s->file_header_names;
    n[0] = h2o_iovec_init(H2O_STRLIT("content-security-policy"));
    n[1] = h2o_iovec_init(H2O_STRLIT("x-content-type-options"));
    n[2] = h2o_iovec_init(H2O_STRLIT("referrer-policy"));
    c[0] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &n[0], h2o_iovec_init(files->csp, strlen(files->csp))};
    c[1] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &n[1], h2o_iovec_init(H2O_STRLIT("nosniff"))};
    c[2] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &n[2], h2o_iovec_init(H2O_STRLIT("no-referrer"))};
    c[3] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &H2O_TOKEN_CACHE_CONTROL->buf, h2o_iovec_init(H2O_STRLIT("no-cache"))};
    c[4] = (h2o_headers_command_t){H2O_HEADERS_CMD_NULL, NULL, {NULL, 0}};
    h2o_headers_register(pc, c);
    static const char *index_files[] = {"index.html", NULL};
    h2o_file_register(pc, files->dir, index_files, NULL, H2O_FILE_FLAG_SEND_COMPRESSED);
}

int ft_httpd_init(ft_httpd_t *s, int listen_fd, size_t max_body, double request_timeout_s, ft_httpd_fn fn, void *data)
{
    return ft_httpd_init_files(s, listen_fd, max_body, request_timeout_s, fn, data, NULL);
}

int ft_httpd_init_files(ft_httpd_t *s, int listen_fd, size_t max_body, double request_timeout_s, ft_httpd_fn fn, void *data,
                        const ft_httpd_files_t *files)
{
    memset(s, 0, sizeof(*s));
    s->fn = fn;
    s->data = data;
    h2o_config_init(&s->config);
    s->config.max_request_entity_size = max_body;
    s->config.http1.req_timeout = (uint64_t)(request_timeout_s * 1000);
    h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (files != NULL) /* libh2o 2.2 takes the first registered path that matches: the prefix before "/" */
        register_files(s, host, files);
    handler_t *h = (handler_t *)h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*h));
    h->super.on_req = on_req;
    h->s = s;
    h2o_context_init(&s->ctx, h2o_evloop_create(), &s->config);
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->config.hosts;
    s->listener = h2o_evloop_socket_create(s->ctx.loop, listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    s->listener->data = s;
    h2o_socket_read_start(s->listener, on_accept);
    return 0;
}

static size_t connections(const ft_httpd_t *s)
{
    size_t n = 0;
    for (const h2o_linklist_t *l = s->ctx.http1._conns.next; l != &s->ctx.http1._conns; l = l->next)
        n++;
    return n;
}

int ft_httpd_drain(ft_httpd_t *s, double grace_s)
{
    h2o_socket_read_stop(s->listener);
    h2o_socket_close(s->listener);
    s->listener = NULL;
    s->stopping = 1;
    s->ctx.http1.req_timeout.timeout = 0;
    uint64_t deadline = ft_mono_ns() + (uint64_t)(grace_s * 1e9);
    while (!h2o_linklist_is_empty(&s->ctx.http1._conns) && ft_mono_ns() < deadline)
        h2o_evloop_run(s->ctx.loop, 10);
    if (h2o_linklist_is_empty(&s->ctx.http1._conns))
        return 0;
    ft_warn("event=shutdown_forced connections=%zu grace_s=%g reason=\"answers still in flight at the end of the grace period\"",
            connections(s), grace_s);
    return -ETIMEDOUT;
}

void ft_httpd_destroy(ft_httpd_t *s)
{
    h2o_evloop_t *loop = s->ctx.loop;
    h2o_multithread_queue_t *queue = s->ctx.queue;
    if (s->listener != NULL)
        h2o_socket_close(s->listener);
    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    h2o_evloop_run(loop, 0); /* let the loop free the sockets closed above */
    free(queue);             /* libh2o 2.2's h2o_multithread_destroy_queue() closes the queue but does not free it */
    h2o_evloop_destroy(loop);
}

int ft_httpd_is_json(const char *ct, size_t len)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;
    return ct != NULL && len >= n && strncasecmp(ct, json, n) == 0 && (len == n || ct[n] == ';' || ct[n] == ' ');
}

int ft_httpd_bearer_ok(const char *auth, size_t len, const char *token)
{
    static const char scheme[] = "Bearer ";
    size_t sl = sizeof(scheme) - 1;
    if (auth == NULL || len <= sl || strncasecmp(auth, scheme, sl) != 0)
        return 0;
    return ft_equal_ct(auth + sl, len - sl, token, strlen(token));
}

const char *ft_httpd_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return status >= 500 ? "Internal Server Error" : status >= 400 ? "Bad Request" : "OK";
    }
}

void ft_httpd_send(h2o_req_t *req, int status, const char *content_type, const void *body, size_t len)
{
    req->res.status = status;
    req->res.reason = ft_httpd_reason(status);
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_iovec_t b = h2o_iovec_init(len ? h2o_mem_alloc_pool(&req->pool, len) : NULL, len);
    if (len)
        memcpy(b.base, body, len);
    req->res.content_length = len;
    h2o_start_response(req, &generator);
    h2o_send(req, &b, len ? 1 : 0, H2O_SEND_STATE_FINAL);
}

void ft_httpd_send_error(h2o_req_t *req, int status, const char *field, int64_t index, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n;
    ft_buf_t b;
    ft_buf_init(&b);
    ft_json_put_error(&b, status, msg, len, field, index);
    ft_httpd_send(req, status, "application/json", b.data, b.len);
    ft_buf_destroy(&b);
}

const char *ft_httpd_header(h2o_req_t *req, const char *name, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    *len = i >= 0 ? req->headers.entries[i].value.len : 0;
    return i >= 0 ? req->headers.entries[i].value.base : NULL;
}

int ft_httpd_guard_write(h2o_req_t *req, const char *auth_token, size_t max_body, const char *what)
{
    size_t n;
    const char *v = ft_httpd_header(req, "content-type", &n);
    if (!ft_httpd_is_json(v, n)) {
        ft_httpd_send_error(req, 415, "Content-Type", -1, "%s is application/json", what);
        return 415;
    }
    if (auth_token != NULL) {
        v = ft_httpd_header(req, "authorization", &n);
        if (!ft_httpd_bearer_ok(v, n, auth_token)) {
            ft_httpd_send_error(req, 401, "Authorization", -1, "a write needs 'Authorization: Bearer <token>'");
            return 401;
        }
    }
    if (req->entity.len > max_body) {
        ft_httpd_send_error(req, 413, "body", -1, "a body of %zu bytes; at most %zu (--max-body-bytes)", req->entity.len, max_body);
        return 413;
    }
    return 0;
}
