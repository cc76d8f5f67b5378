/*
 * bench-refserver — the reference for the GetMetric benchmark: a minimal
 * libh2o server that answers every request with one constant JSON body
 * (read from --body-file), with the same response headers apid sends. It is
 * the ceiling an HTTP server on this machine can reach for such an answer.
 */
#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "opt.h"
#include "util.h"

typedef struct ref {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_iovec_t body;
} ref_t;

typedef struct ref_handler {
    h2o_handler_t super;
    ref_t *r;
} ref_handler_t;

static h2o_generator_t generator = {NULL, NULL};
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    ref_t *r = ((ref_handler_t *)self)->r;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = r->body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, H2O_STRLIT("\"0123456789abcdef-1-0123456789abcdef\""));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_start_response(req, &generator);
    h2o_send(req, &r->body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    ref_t *r = listener->data;
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&r->accept_ctx, sock);
}

static int serve(int fd, h2o_iovec_t body)
{
    ref_t *r = calloc(1, sizeof(*r));
    r->body = body;
    h2o_config_init(&r->config);
    h2o_hostconf_t *host = h2o_config_register_host(&r->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    ref_handler_t *h = (ref_handler_t *)h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*h));
    h->super.on_req = on_req;
    h->r = r;
    h2o_context_init(&r->ctx, h2o_evloop_create(), &r->config);
    r->accept_ctx.ctx = &r->ctx;
    r->accept_ctx.hosts = r->config.hosts;
    h2o_socket_t *sock = h2o_evloop_socket_create(r->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = r;
    h2o_socket_read_start(sock, on_accept);
    while (!stop && getppid() != 1)
        h2o_evloop_run(r->ctx.loop, 500);
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0", *body_file = NULL;
    int64_t workers = 2;
    const ft_opt_t opts[] = {
        {"listen", FT_OPT_STR, &listen, "ADDR:PORT", "where to listen", 0, 0},
        {"body-file", FT_OPT_STR, &body_file, "PATH", "the constant body", 0, 0},
        {"workers", FT_OPT_I64, &workers, "N", "worker processes, one SO_REUSEPORT socket each (as apid)", 1, 64},
    };
    int rc = ft_opt_parse("bench-refserver", "FABTEL_BENCH_REFSERVER", "Answers every request with a constant body.", opts, 3, argc, argv);
    if (rc != 0)
        return rc == -ECANCELED ? 0 : 2;
    FILE *f = body_file ? fopen(body_file, "rb") : NULL;
    if (f == NULL) {
        fprintf(stderr, "bench-refserver: --body-file is required and must be readable\n");
        return 2;
    }
    static char buf[1 << 24];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    ft_log_init("refserver", "info", NULL);
    char bound[64], spec[80];
    snprintf(spec, sizeof(spec), "%s", listen);
    int fds[64];
    for (int i = 0; i < workers; i++) {
        if ((fds[i] = ft_listen(spec, 1, bound, sizeof(bound))) < 0)
            return 1;
        snprintf(spec, sizeof(spec), "%s", bound);
    }
    ft_info("event=listening listen=%s workers=%d bytes=%zu", bound, (int)workers, n);
    pid_t pids[64];
    for (int i = 0; i < workers; i++)
        if ((pids[i] = fork()) == 0)
            return serve(fds[i], h2o_iovec_init(buf, n));
    while (!stop)
        pause();
    for (int i = 0; i < workers; i++)
        kill(pids[i], SIGTERM);
    while (wait(NULL) > 0)
        ;
    return 0;
}
