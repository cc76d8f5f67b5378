#include "worker.h"

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "forward.h"
#include "httpd.h"
#include "log.h"
#include "longpoll.h"
#include "probe.h"
#include "util.h"

#define POLL_MS 250

typedef struct worker {
    api_ctx_t api;
    pid_t master;
    ft_httpd_t http;
    h2o_timeout_t poll_timeout;
    h2o_timeout_entry_t poll;
    api_forwarder_t *fwd; /* requests for orchd and flowd */
    api_longpoll_t *lp;   /* reads held for the next generation */
    api_probe_t *probe;   /* orchd's and flowd's health, for /health */
} worker_t;


static h2o_generator_t generator = {NULL, NULL};

static void release_body(void *p)
{
    api_body_release(*(api_body_t **)p);
}

/* The header's value, or NULL and 0 when the request has none. */
static const char *header(h2o_req_t *req, const h2o_token_t *token, size_t *len)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    *len = i >= 0 ? req->headers.entries[i].value.len : 0;
    return i >= 0 ? req->headers.entries[i].value.base : NULL;
}

/* What api_handle needs of libh2o's request (pointers into it: valid for this callback). */
static void read_request(h2o_req_t *req, api_request_t *r)
{
    memset(r, 0, sizeof(*r));
    r->method = req->method.base;
    r->method_len = req->method.len;
    r->path = req->path_normalized.base;
    r->path_len = req->path_normalized.len;
    if (req->query_at != SIZE_MAX) {
        r->query = req->path.base + req->query_at + 1;
        r->query_len = req->path.len - req->query_at - 1;
    }
    r->if_none_match = header(req, H2O_TOKEN_IF_NONE_MATCH, &r->if_none_match_len);
    ssize_t oi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1); /* no token for it in libh2o 2.2 */
    r->origin = oi >= 0 ? req->headers.entries[oi].value.base : NULL;
    r->origin_len = oi >= 0 ? req->headers.entries[oi].value.len : 0;
    r->authorization = header(req, H2O_TOKEN_AUTHORIZATION, &r->authorization_len);
    r->host = req->authority.base;
    r->host_len = req->authority.len;
    r->content_type = header(req, H2O_TOKEN_CONTENT_TYPE, &r->content_type_len);
    size_t alen;
    const char *ae = header(req, H2O_TOKEN_ACCEPT_ENCODING, &alen);
    r->accept_gzip = ae != NULL && h2o_contains_token(ae, alen, H2O_STRLIT("gzip"), ',');
    r->body = req->entity.base;
    r->body_len = req->entity.len;
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, strlen(value));
}

static void response_headers(h2o_req_t *req, const api_response_t *res)
{
    req->res.status = res->status;
    req->res.reason = ft_httpd_reason(res->status);
    if (res->etag[0] != '\0') {
        add_header(req, H2O_TOKEN_ETAG, res->etag);
        add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    }
    if (res->vary_encoding)
        add_header(req, H2O_TOKEN_VARY, "Accept-Encoding");
    if (res->gzip && res->status == 200)
        add_header(req, H2O_TOKEN_CONTENT_ENCODING, "gzip");
    if (res->allow != NULL)
        add_header(req, H2O_TOKEN_ALLOW, res->allow);
    if (res->retry_after)
        add_header(req, H2O_TOKEN_RETRY_AFTER, "1");
    if (res->www_authenticate != NULL)
        add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, res->www_authenticate);
    if (res->location != NULL)
        add_header(req, H2O_TOKEN_LOCATION, res->location);
    if (res->status != 304)
        add_header(req, H2O_TOKEN_CONTENT_TYPE, res->content_type ? res->content_type : "application/json");
}

/* The body h2o will send: a reference to a shared body, or a copy in the request's pool (never scratch or the segment). */
static h2o_iovec_t response_body(h2o_req_t *req, const api_response_t *res)
{
    if (res->status == 304)
        return h2o_iovec_init(NULL, 0);
    if (res->shared != NULL) {
        /* The shared body lives until the send completes: the request's pool holds a reference. */
        api_body_t **holder = h2o_mem_alloc_shared(&req->pool, sizeof(*holder), release_body);
        *holder = res->shared;
        return h2o_iovec_init(res->shared->data, res->shared->len);
    }
    h2o_iovec_t body = h2o_iovec_init(h2o_mem_alloc_pool(&req->pool, res->body_len), res->body_len);
    memcpy(body.base, res->body, res->body_len);
    return body;
}

/*
 * Answer one request (a new one, or a held one given back). hold_budget_s:
 * how long it may still be held (0: it may not; a held 304 is then sent).
 */
static void answer(worker_t *w, h2o_req_t *req, double hold_budget_s)
{
    uint64_t t0 = ft_mono_ns();
    api_request_t r;
    read_request(req, &r);
    api_response_t res;
    api_handle(&w->api, &r, &res);
    if (res.forward >= 0) {
        api_forward(w->fwd, req, res.forward, res.route); /* answered, and recorded, when the upstream answers */
        return;
    }
    if (res.hold_s > 0 && hold_budget_s > 0 && !w->http.stopping) {
        api_longpoll_hold(w->lp, req, res.hold_s < hold_budget_s ? res.hold_s : hold_budget_s);
        return;
    }
    response_headers(req, &res);
    h2o_iovec_t body = response_body(req, &res);
    if (res.status != 304)
        req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, body.len ? 1 : 0, H2O_SEND_STATE_FINAL);
    /* Latency is the time spent answering, not the time a long poll was held. */
    api_record(&w->api, ft_now_ns(), res.route, res.status, (ft_mono_ns() - t0) / 1000);
}

static int on_req(void *data, h2o_req_t *req)
{
    answer(data, req, API_MAX_WAIT_S);
    return 0;
}

/* A held read given back: a new generation (answer it, or hold it for the rest of its wait), or its wait is over (304). */
static void on_held(void *data, h2o_req_t *req, double remaining_s)
{
    answer(data, req, remaining_s);
}

static void on_forward_done(void *data, int route, int status, uint64_t us)
{
    worker_t *w = data;
    api_record(&w->api, ft_now_ns(), route, status, us);
}

static void on_poll(h2o_timeout_entry_t *entry)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, poll, entry);
    api_ctx_poll_segment(&w->api);
    h2o_timeout_link(w->http.ctx.loop, &w->poll_timeout, &w->poll);
}

/*
 * A clean stop. libh2o 2.2 cannot close an idle HTTP/1 connection from
 * outside (its http1 request_shutdown callback is empty), and every timeout
 * entry still linked when the loop is destroyed aborts the process. So:
 *  1. close the listener: no new connections;
 *  2. shrink the keep-alive/request-read timeout to 0: http1 itself closes
 *     every idle connection on the next loop turn, through its own path;
 *  3. answers still being sent finish (each now says "Connection: close");
 *     the loop runs until no connection is left, or the grace period ends;
 *  4. only then are the timeouts disposed and the loop destroyed.
 * Connections still open after the grace period (a client that stopped
 * reading a large answer) cannot be closed cleanly: the worker logs it and
 * leaves with _exit(0) without tearing the loop down (the kernel closes the
 * sockets; exit() would run leak checks over a loop that is still live).
 */
static void serve(worker_t *w, const api_worker_config_t *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reopen)
{
    while (!*stop) {
        if (getppid() != w->master) { /* the master is gone: do not keep the port */
            ft_warn("event=worker_orphaned index=%u pid=%d", cfg->index, (int)getpid());
            break;
        }
        if (*reopen) {
            *reopen = 0;
            ft_log_reopen();
        }
        h2o_evloop_run(w->http.ctx.loop, POLL_MS);
    }
}

int api_worker_run(const api_worker_config_t *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reopen)
{
    worker_t *w = calloc(1, sizeof(*w)); /* the worker process's context; lives until the process exits */
    if (w == NULL)
        return 1;
    w->master = cfg->master;
    char component[32];
    snprintf(component, sizeof(component), "apid.w%u", cfg->index);
    ft_log_init(component, NULL, NULL);
    if (api_ctx_init(&w->api, &cfg->api) != 0)
        return 1;
    w->api.stats_hdr = cfg->stats_hdr;
    w->api.my_stats = cfg->stats;
    /* libh2o's own limit (its plain 413) sits a little above the largest body a route takes (fabtel's JSON 413). */
    /* The dashboard (web/): its own files only, no other origin, no inline code (uPlot's styles are set through the CSSOM). */
    static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                              "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
    const ft_httpd_files_t files = {"/ui", cfg->api.web_root, csp};
    ft_httpd_init_files(&w->http, cfg->listen_fd, cfg->api.max_body + 65536, cfg->request_timeout_s, on_req, w,
                        cfg->api.web_root ? &files : NULL);
    h2o_loop_t *loop = w->http.ctx.loop;
    w->fwd = api_forwarder_create(&w->http.ctx, &cfg->api, on_forward_done, w);
    w->lp = api_longpoll_create(loop, cfg->api.shm_name, on_held, w);
    w->probe = api_probe_create(&w->http.ctx, &w->api);
    if (w->fwd == NULL || w->lp == NULL || w->probe == NULL)
        return 1;
    h2o_timeout_init(loop, &w->poll_timeout, POLL_MS);
    w->poll.cb = on_poll;
    api_ctx_poll_segment(&w->api);
    h2o_timeout_link(loop, &w->poll_timeout, &w->poll);
    ft_debug("event=worker_started index=%u pid=%d", cfg->index, (int)getpid());
    serve(w, cfg, stop, reopen);
    h2o_timeout_unlink(&w->poll);
    w->http.stopping = 1;
    api_longpoll_release_all(w->lp); /* held reads are answered 304 now; their clients ask again elsewhere */
    if (ft_httpd_drain(&w->http, cfg->shutdown_grace_s) != 0)
        _exit(0); /* see httpd/httpd.h: a loop with connections left is not torn down */
    /* Tear down in reverse, so a sanitizer build reports only real leaks at exit. */
    api_probe_destroy(w->probe);
    h2o_timeout_dispose(loop, &w->poll_timeout);
    api_forwarder_destroy(w->fwd);
    api_longpoll_destroy(w->lp);
    ft_httpd_destroy(&w->http);
    api_ctx_destroy(&w->api);
    free(w);
    ft_debug("event=worker_stopped index=%u", cfg->index);
    return 0;
}
