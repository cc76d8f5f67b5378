/*
 * httpd — the libh2o HTTP/1 server every fabtel daemon runs: one loop, one
 * listening socket, one handler for every path, a request-body limit, a clean
 * stop, and the answers every daemon sends the same way (JSON errors).
 *
 *     ft_httpd_t s;
 *     ft_httpd_init(&s, fd, max_body, on_req, data);  listen fd from ft_listen()
 *     while (!stop) h2o_evloop_run(s.ctx.loop, ms);
 *     ft_httpd_drain(&s, grace_s);                      see below
 *     ... dispose the daemon's own timeouts and sockets on s.ctx.loop ...
 *     ft_httpd_destroy(&s);
 *
 * A clean stop (ft_httpd_drain). libh2o 2.2 cannot close an idle HTTP/1
 * connection from outside (its http1 request_shutdown callback is empty),
 * and every timeout entry still linked when the loop is destroyed aborts the
 * process. So a drain
 *  1. closes the listener: no new connections;
 *  2. shrinks the keep-alive / request-read timeout to 0: libh2o itself
 *     closes every idle connection on the next loop turn, through its own path;
 *  3. lets answers being sent finish (each now says "Connection: close");
 *     the loop runs until no connection is left, or the grace period ends.
 * Connections still open after the grace period (a client that stopped
 * reading a large answer) cannot be closed cleanly: drain logs it and
 * returns -ETIMEDOUT, and the daemon should leave with _exit(0) without
 * tearing the loop down (the kernel closes the sockets; exit() would run
 * leak checks over a loop that is still live).
 *
 * Who may call: one thread per server (its loop's). Errors: 0 or a negative
 * errno (logged).
 */
#ifndef FT_HTTPD_H
#define FT_HTTPD_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <stdint.h>

typedef int (*ft_httpd_fn)(void *data, h2o_req_t *req);

/*
 * Static files beside the handler (apid's dashboard): every path under `prefix` is a file of `dir`, served by
 * libh2o's file handler (ETags, ranges, If-None-Match, precompressed .gz variants, index.html for a directory), and
 * every such answer carries the headers below (a Content-Security-Policy among them). The strings must outlive
 * the server.
 */
typedef struct ft_httpd_files {
    const char *prefix, *dir;
    const char *csp; /* Content-Security-Policy */
} ft_httpd_files_t;

typedef struct ft_httpd {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    ft_httpd_fn fn;
    void *data;
    int stopping; /* set by drain: answers from then on close their connection */
    h2o_headers_command_t file_headers[5]; /* the static files' headers (libh2o keeps pointers to these) */
    h2o_iovec_t file_header_names[3];
} ft_httpd_t;

/*
 * max_body: the largest request body libh2o reads (larger: its own plain 413 and a closed connection).
 * request_timeout_s: a request (headers and body) not read whole within it, or a keep-alive connection
 * idle that long, is closed (a body that trickles in is not read forever).
 */
int ft_httpd_init(ft_httpd_t *s, int listen_fd, size_t max_body, double request_timeout_s, ft_httpd_fn fn, void *data);
/* The same with static files under files->prefix (NULL: none). */
int ft_httpd_init_files(ft_httpd_t *s, int listen_fd, size_t max_body, double request_timeout_s, ft_httpd_fn fn, void *data,
                        const ft_httpd_files_t *files);
int ft_httpd_drain(ft_httpd_t *s, double grace_s);
void ft_httpd_destroy(ft_httpd_t *s);

/* Header checks every daemon's write guard makes (pure; NULL headers are absent ones). */
/* Content-Type is application/json, with or without parameters (charset). */
int ft_httpd_is_json(const char *content_type, size_t len);
/* Authorization is "Bearer <token>" (the scheme case-insensitive), the token compared in constant time. */
int ft_httpd_bearer_ok(const char *authorization, size_t len, const char *token);

/* A request header's value by (lower-case) name, NULL when absent. */
const char *ft_httpd_header(h2o_req_t *req, const char *name, size_t *len);

/*
 * The guard every daemon's write passes (after apid's, which also checks the origin): a JSON Content-Type (415),
 * the bearer token when one is set (401), a body within max_body (413). 0, or the status of the refusal it sent.
 * what: the body named in the 415 message ("a flow batch").
 */
int ft_httpd_guard_write(h2o_req_t *req, const char *auth_token, size_t max_body, const char *what);

/* The reason phrase of a status. */
const char *ft_httpd_reason(int status);

/* Send a whole answer (the body is copied into the request's pool); Content-Type as given (NULL: none). */
void ft_httpd_send(h2o_req_t *req, int status, const char *content_type, const void *body, size_t len);
/* {"error":{"status":N,"message":…[,"field":…][,"index":N]}} (common/json.h). */
void ft_httpd_send_error(h2o_req_t *req, int status, const char *field, int64_t index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
