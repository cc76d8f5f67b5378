#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "control.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define SWEEP_MS 20

typedef enum { WAIT_POLL, WAIT_SLOW } wait_kind_t;

/* A request held open (long poll or slow fault); lives in the request's pool. */
typedef struct prod_waiter {
    h2o_linklist_t link;
    h2o_req_t *req;
    uint64_t deadline_ms;
    wait_kind_t kind;
    int mode;
    prod_view_t view; /* which body, which shard */
} prod_waiter_t;

static h2o_generator_t generator = {NULL, NULL};

int prod_fault_parse(const char *s, size_t len)
{
    static const struct {
        const char *name;
        int mode;
    } names[] = {{"none", PROD_FAULT_NONE},       {"error500", PROD_FAULT_ERROR500}, {"error_500", PROD_FAULT_ERROR500},
                 {"corrupt", PROD_FAULT_CORRUPT}, {"truncate", PROD_FAULT_TRUNCATE}, {"slow", PROD_FAULT_SLOW},
                 {"empty", PROD_FAULT_EMPTY}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, s, len) == 0)
            return names[i].mode;
    return -1;
}

static void send_text(h2o_req_t *req, int status, const char *reason, const char *body)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_send_inline(req, body, strlen(body));
}

/* Garble some rows: every 7th from the 4th gets an unparsable cell, every 11th from the 6th loses a field. */
static h2o_iovec_t corrupt_copy(h2o_req_t *req, const prod_snapshot_t *snap)
{
    char *out = h2o_mem_alloc_pool(&req->pool, snap->len + 64);
    size_t o = 0, row = 0;
    const char *p = snap->data, *end = snap->data + snap->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (row > 0 && row % 11 == 6) {
            const char *comma = memrchr(p, ',', len);
            len = comma ? (size_t)(comma - p) : len;
        }
        memcpy(out + o, p, len);
        o += len;
        if (row > 0 && row % 7 == 4) {
            /* Replace the last cell with garbage. */
            char *comma = memrchr(out + o - len, ',', len);
            if (comma != NULL) {
                o = (size_t)(comma - out) + 1;
                memcpy(out + o, "#garbled!", 9);
                o += 9;
            }
        }
        out[o++] = '\n';
        row++;
        p = nl ? nl + 1 : end;
    }
    return h2o_iovec_init(out, o);
}

static prod_snapshot_t *body_of(const prod_server_t *s, int xset)
{
    return xset ? s->xcur : s->cur;
}

/* A shard's ETag: the body's, naming the shard ("…-s1of4"). */
static h2o_iovec_t etag_of(h2o_req_t *req, const prod_snapshot_t *snap, prod_view_t view)
{
    if (view.shards <= 1)
        return h2o_iovec_init(snap->etag, snap->etag_len);
    char *e = h2o_mem_alloc_pool(&req->pool, snap->etag_len + 32);
    int n = snprintf(e, snap->etag_len + 32, "%.*s-s%uof%u\"", (int)snap->etag_len - 1, snap->etag, view.shard, view.shards);
    return h2o_iovec_init(e, (size_t)n);
}

/*
 * The rows of one shard (num_shards, shard): the header, then the lines whose key column hashes to it (ft_shard_of:
 * the switch name; UFM's rows by their node GUID, so a switch's ports stay together).
 */
static h2o_iovec_t shard_copy(h2o_req_t *req, const prod_snapshot_t *snap, int key_col, prod_view_t view)
{
    char *out = h2o_mem_alloc_pool(&req->pool, snap->len + 1);
    size_t o = 0;
    const char *p = snap->data, *end = snap->data + snap->len;
    for (int row = 0; p < end; row++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        const char *k = p;
        for (int c = 0; c < key_col && k < p + len; c++) {
            const char *comma = memchr(k, ',', (size_t)(p + len - k));
            k = comma ? comma + 1 : p + len;
        }
        const char *kend = memchr(k, ',', (size_t)(p + len - k));
        if (kend == NULL)
            kend = p + len - (nl ? 1 : 0);
        if (row == 0 || ft_shard_of(k, (size_t)(kend - k), view.shards) == view.shard) {
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    return h2o_iovec_init(out, o);
}

static void respond(prod_server_t *s, h2o_req_t *req, int mode, prod_view_t view)
{
    prod_snapshot_t *snap = body_of(s, view.xset);
    h2o_iovec_t body = h2o_iovec_init(snap->data, snap->len);
    size_t content_length = snap->len;
    h2o_mem_link_shared(&req->pool, snap); /* the body stays valid however long the send takes */
    if (view.shards > 1) {
        int key_col = s->cfg.format != PROD_FORMAT_UFM ? 0 : view.xset ? 2 : 3; /* switch_id; node_guid; Node_GUID */
        body = shard_copy(req, snap, key_col, view);
        content_length = body.len;
    }
    if (mode == PROD_FAULT_CORRUPT) {
        body = corrupt_copy(req, snap);
        content_length = body.len;
    } else if (mode == PROD_FAULT_EMPTY) {
        const char *nl = memchr(body.base, '\n', body.len);
        body.len = content_length = nl ? (size_t)(nl - body.base) + 1 : body.len;
    } else if (mode == PROD_FAULT_TRUNCATE) {
        body.len = content_length / 2; /* announce it all, send half, then close */
        req->http1_is_persistent = 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = content_length;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/csv; charset=utf-8"));
    h2o_iovec_t etag = etag_of(req, snap, view);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag.base, etag.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

static void respond_304(prod_server_t *s, h2o_req_t *req, prod_view_t view)
{
    const prod_snapshot_t *snap = body_of(s, view.xset);
    req->res.status = 304;
    req->res.reason = "Not Modified";
    h2o_iovec_t etag = etag_of(req, snap, view);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag.base, etag.len);
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

static void waiter_dispose(void *p)
{
    prod_waiter_t *w = p;
    if (h2o_linklist_is_linked(&w->link))
        h2o_linklist_unlink(&w->link);
}

static void hold(prod_server_t *s, h2o_req_t *req, wait_kind_t kind, int mode, prod_view_t view, double seconds)
{
    if (s->http.stopping) { /* a request read while stopping is answered at once, never held */
        if (kind == WAIT_POLL)
            respond_304(s, req, view);
        else
            respond(s, req, mode, view);
        return;
    }
    prod_waiter_t *w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), waiter_dispose);
    memset(&w->link, 0, sizeof(w->link));
    w->req = req;
    w->kind = kind;
    w->mode = mode;
    w->view = view;
    w->deadline_ms = h2o_now(s->http.ctx.loop) + (uint64_t)(seconds * 1000);
    h2o_linklist_insert(&s->waiters, &w->link);
    if (!h2o_timeout_is_linked(&s->sweep))
        h2o_timeout_link(s->http.ctx.loop, &s->sweep_timeout, &s->sweep);
}

/* Answer held requests: long polls when a snapshot arrives (new_snapshot) or at their deadline, slow ones at theirs. */
static void release_waiters(prod_server_t *s, int new_snapshot)
{
    uint64_t now = h2o_now(s->http.ctx.loop);
    h2o_linklist_t *node = s->waiters.next;
    while (node != &s->waiters) {
        prod_waiter_t *w = H2O_STRUCT_FROM_MEMBER(prod_waiter_t, link, node);
        node = node->next;
        int due = now >= w->deadline_ms;
        if (!(due || (new_snapshot && w->kind == WAIT_POLL)))
            continue;
        h2o_linklist_unlink(&w->link);
        if (w->kind == WAIT_POLL && !new_snapshot)
            respond_304(s, w->req, w->view);
        else
            respond(s, w->req, w->mode, w->view);
    }
}

static void on_sweep(h2o_timeout_entry_t *entry)
{
    prod_server_t *s = H2O_STRUCT_FROM_MEMBER(prod_server_t, sweep, entry);
    release_waiters(s, 0);
    if (!h2o_linklist_is_empty(&s->waiters))
        h2o_timeout_link(s->http.ctx.loop, &s->sweep_timeout, &s->sweep);
}

static int query_param(h2o_req_t *req, const char *name, h2o_iovec_t *out)
{
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nl = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) > nl && memcmp(q, name, nl) == 0 && q[nl] == '=') {
            *out = h2o_iovec_init(q + nl + 1, (size_t)(stop - q - nl - 1));
            return 1;
        }
        q = stop + 1;
    }
    return 0;
}

static int is_method(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* A body (the matrix, UFM's metrics, or UFM's xcset), with the fault modes and the long poll. */
/* ?num_shards=N&shard=I (UFM's parameters; sharding_field, when given, must name the key fabtel hashes): 0, or 1 after a 400. */
static int parse_shard(h2o_req_t *req, prod_view_t *view)
{
    h2o_iovec_t n, i, f;
    int has_n = query_param(req, "num_shards", &n), has_i = query_param(req, "shard", &i);
    if (!has_n && !has_i)
        return 0;
    char spec[48];
    uint32_t si, sn;
    snprintf(spec, sizeof(spec), "%.*s/%.*s", has_i ? (int)(i.len > 20 ? 20 : i.len) : 0, has_i ? i.base : "",
             has_n ? (int)(n.len > 20 ? 20 : n.len) : 0, has_n ? n.base : "");
    if (!has_n || !has_i || ft_shard_parse(spec, &si, &sn) != 0) {
        send_text(req, 400, "Bad Request", "num_shards=N&shard=I with 0 <= I < N <= 65536\n");
        return 1;
    }
    if (query_param(req, "sharding_field", &f) && !h2o_memis(f.base, f.len, H2O_STRLIT("switch_id")) &&
        !h2o_memis(f.base, f.len, H2O_STRLIT("node_guid")) && !h2o_memis(f.base, f.len, H2O_STRLIT("Node_GUID"))) {
        send_text(req, 400, "Bad Request", "sharding_field: rows are sharded by switch_id (UFM: node_guid)\n");
        return 1;
    }
    view->shard = si, view->shards = sn;
    return 0;
}

static void on_body(prod_server_t *s, h2o_req_t *req, int xset)
{
    prod_view_t view = {xset, 0, 0};
    if (parse_shard(req, &view))
        return;
    int mode = s->cfg.fault;
    double wait = 0;
    h2o_iovec_t v;
    if (query_param(req, "mode", &v) && (mode = prod_fault_parse(v.base, v.len)) < 0) {
        send_text(req, 400, "Bad Request", "unknown mode (none, error500, corrupt, truncate, slow, empty)\n");
        return;
    }
    if (query_param(req, "wait", &v)) {
        char tmp[32];
        char *end;
        snprintf(tmp, sizeof(tmp), "%.*s", (int)v.len, v.base);
        wait = strtod(tmp, &end);
        if (end == tmp || *end != '\0' || !(wait >= 0 && wait <= 3600)) {
            send_text(req, 400, "Bad Request", "wait must be a number of seconds from 0 to 3600\n");
            return;
        }
    }
    if (mode == PROD_FAULT_ERROR500) {
        send_text(req, 500, "Internal Server Error", "injected fault: error500\n");
        return;
    }
    if (mode == PROD_FAULT_SLOW) {
        /* Past the client's own deadline: a long-polling client gives up after its wait plus its timeout. */
        hold(s, req, WAIT_SLOW, PROD_FAULT_NONE, view, wait + s->cfg.slow_s);
        return;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    h2o_iovec_t etag = etag_of(req, body_of(s, xset), view);
    if (i >= 0 && h2o_memis(req->headers.entries[i].value.base, req->headers.entries[i].value.len, etag.base, etag.len)) {
        if (wait > 0)
            hold(s, req, WAIT_POLL, mode, view, wait);
        else
            respond_304(s, req, view);
        return;
    }
    respond(s, req, mode, view);
}


/* ---- the control API: the nodes orchd adds (producer/sim.h) ---- */

static void send_json(h2o_req_t *req, int status, const ft_buf_t *b)
{
    ft_httpd_send(req, status, "application/json", b->data, b->len);
}

static void switches_etag(const prod_server_t *s, char *out, size_t outsz)
{
    snprintf(out, outsz, "\"%08x-n%" PRIu64 "\"", s->run_id, s->sim.nodes_version);
}

/* GET /switches: {"switches":[{"name":…,"node_id":N},…],"simulated":N}, in the order added, with an ETag. */
static void on_switches_list(prod_server_t *s, h2o_req_t *req)
{
    char etag[48];
    switches_etag(s, etag, sizeof(etag));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag, strlen(etag));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i >= 0 && h2o_memis(req->headers.entries[i].value.base, req->headers.entries[i].value.len, etag, strlen(etag))) {
        ft_httpd_send(req, 304, NULL, NULL, 0);
        return;
    }
    ft_buf_t b;
    ft_buf_init(&b);
    ft_buf_puts(&b, "{\"switches\":[");
    for (uint32_t k = 0; k < s->sim.nnodes; k++) {
        ft_buf_puts(&b, k ? ",{\"name\":" : "{\"name\":");
        ft_json_put_string(&b, s->sim.nodes[k].name, s->sim.nodes[k].len);
        ft_buf_appendf(&b, ",\"node_id\":%" PRId64 "}", s->sim.nodes[k].node_id);
    }
    ft_buf_appendf(&b, "],\"simulated\":%u}", s->sim.n);
    send_json(req, 200, &b);
    ft_buf_destroy(&b);
}

static void on_switch_put(prod_server_t *s, h2o_req_t *req, const char *name, size_t len)
{
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct < 0 || !ft_httpd_is_json(req->headers.entries[ct].value.base, req->headers.entries[ct].value.len)) {
        ft_httpd_send_error(req, 415, "Content-Type", -1, "the body must be application/json");
        return;
    }
    int64_t node_id;
    char why[300];
    if (prod_parse_node_id(req->entity.base, req->entity.len, &node_id, why, sizeof(why)) != 0) {
        ft_httpd_send_error(req, 400, "node_id", -1, "%s", why);
        return;
    }
    int r = prod_sim_node_put(&s->sim, name, len, node_id, s->cfg.max_nodes);
    if (r == -EINVAL) {
        ft_httpd_send_error(req, 400, "name", -1, "a switch name is 1..63 of [A-Za-z0-9_.-] and not a simulated switch's (sw-…)");
        return;
    }
    if (r == -ENOSPC || r == -ENOMEM) {
        ft_httpd_send_error(req, 409, "name", -1, "the producer carries its most nodes already (%u, --max-nodes)", s->cfg.max_nodes);
        return;
    }
    ft_info("event=node_%s name=%.*s node_id=%" PRId64 " nodes=%u", r ? "added" : "updated", (int)len, name, node_id, s->sim.nnodes);
    ft_buf_t b;
    ft_buf_init(&b);
    ft_buf_puts(&b, "{\"name\":");
    ft_json_put_string(&b, name, len);
    ft_buf_appendf(&b, ",\"node_id\":%" PRId64 "}", node_id);
    send_json(req, r ? 201 : 200, &b);
    ft_buf_destroy(&b);
}

static void on_switch_delete(prod_server_t *s, h2o_req_t *req, const char *name, size_t len)
{
    if (prod_sim_node_del(&s->sim, name, len) != 0) {
        ft_httpd_send_error(req, 404, "name", -1, "no node named '%.*s' (not found)", (int)(len > 63 ? 63 : len), name);
        return;
    }
    ft_info("event=node_removed name=%.*s nodes=%u", (int)len, name, s->sim.nnodes);
    ft_httpd_send(req, 204, NULL, NULL, 0);
}

static int on_req(void *data, h2o_req_t *req)
{
    prod_server_t *s = data;
    const char *p = req->path_normalized.base;
    size_t n = req->path_normalized.len;
    int read = is_method(req, "GET") || is_method(req, "HEAD");
    int ufm = s->cfg.format == PROD_FORMAT_UFM;
    int body = ufm ? (h2o_memis(p, n, H2O_STRLIT("/csv/metrics")) ? 0 : (n > 11 && (memcmp(p, "/csv/xcset/", 11) == 0)) ||
                                                                           (n > 10 && memcmp(p, "/csv/cset/", 10) == 0)
                                                                       ? 1
                                                                       : -1)
                   : (h2o_memis(p, n, H2O_STRLIT("/counters")) || h2o_memis(p, n, H2O_STRLIT("/counters/")) ? 0 : -1);
    if (body >= 0) {
        if (read)
            on_body(s, req, body);
        else
            send_text(req, 405, "Method Not Allowed", "only GET and HEAD\n");
    } else if (h2o_memis(p, n, H2O_STRLIT("/switches")) || h2o_memis(p, n, H2O_STRLIT("/switches/"))) {
        if (read)
            on_switches_list(s, req);
        else
            ft_httpd_send_error(req, 405, NULL, -1, "/switches takes GET; a switch is PUT or DELETE at /switches/NAME");
    } else if (n > 10 && memcmp(p, "/switches/", 10) == 0) {
        if (is_method(req, "PUT"))
            on_switch_put(s, req, p + 10, n - 10);
        else if (is_method(req, "DELETE"))
            on_switch_delete(s, req, p + 10, n - 10);
        else
            ft_httpd_send_error(req, 405, NULL, -1, "a switch is PUT or DELETE at /switches/NAME");
    } else {
        send_text(req, 404, "Not Found", ufm ? "the fabric is at /csv/metrics (and /csv/xcset/NAME; its nodes at /switches)\n"
                                             : "the fabric is at /counters (its nodes at /switches)\n");
    }
    return 0;
}

/* The rendered body as the snapshot of generation gen, replacing *slot (a response in flight keeps the old one). */
static void swap_in(prod_server_t *s, prod_snapshot_t **slot, uint64_t gen, const char *tag)
{
    prod_snapshot_t *snap = h2o_mem_alloc_shared(NULL, sizeof(*snap) + s->render.len, NULL);
    snap->gen = gen;
    snap->len = s->render.len;
    memcpy(snap->data, s->render.data, s->render.len);
    snap->etag_len = (size_t)snprintf(snap->etag, sizeof(snap->etag), "\"%08x-%" PRIu64 "%s\"", s->run_id, gen, tag);
    if (*slot != NULL)
        h2o_mem_release_shared(*slot);
    *slot = snap;
}

/* Build the next snapshot off to the side, then swap it in (UFM mode: the metrics and the xcset bodies). */
static int next_snapshot(prod_server_t *s)
{
    uint64_t gen = s->cur ? s->cur->gen + 1 : 1;
    prod_sim_step(&s->sim, ft_now_ns());
    if (s->cfg.format == PROD_FORMAT_UFM) {
        prod_sim_ufm_step(&s->sim);
        if (prod_sim_render_ufm(&s->sim, s->cfg.ports_per_switch, 1, &s->render) != 0)
            return -ENOMEM;
        swap_in(s, &s->xcur, gen, "x");
        if (prod_sim_render_ufm(&s->sim, s->cfg.ports_per_switch, 0, &s->render) != 0)
            return -ENOMEM;
    } else if (prod_sim_render(&s->sim, &s->render) != 0) {
        return -ENOMEM;
    }
    swap_in(s, &s->cur, gen, "");
    return 0;
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    prod_server_t *s = H2O_STRUCT_FROM_MEMBER(prod_server_t, tick, entry);
    h2o_timeout_link(s->http.ctx.loop, &s->interval_timeout, &s->tick);
    if (next_snapshot(s) != 0) {
        ft_error("event=snapshot_failed reason=\"out of memory\"");
        return;
    }
    ft_debug("event=snapshot generation=%" PRIu64 " bytes=%zu", s->cur->gen, s->cur->len);
    release_waiters(s, 1);
}

int prod_server_init(prod_server_t *s, const prod_config_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    h2o_linklist_init_anchor(&s->waiters);
    if (getrandom(&s->run_id, sizeof(s->run_id), 0) != sizeof(s->run_id))
        s->run_id = (uint32_t)getpid();
    if (prod_sim_init(&s->sim, cfg->switches, cfg->seeded ? cfg->seed : ft_now_ns(), cfg->seeded, cfg->interval_s) != 0)
        return -ENOMEM;
    int fd = ft_listen(cfg->listen, 0, s->bound, sizeof(s->bound));
    if (fd < 0) {
        ft_error("event=listen_failed listen=%s reason=\"%s\"", cfg->listen, strerror(-fd));
        return fd;
    }
    ft_httpd_init(&s->http, fd, 1 << 20, 10, on_req, s); /* the producer takes no bodies */
    if (next_snapshot(s) != 0)
        return -ENOMEM;
    h2o_timeout_init(s->http.ctx.loop, &s->interval_timeout, (uint64_t)llround(cfg->interval_s * 1000));
    h2o_timeout_init(s->http.ctx.loop, &s->sweep_timeout, SWEEP_MS);
    s->tick.cb = on_tick;
    s->sweep.cb = on_sweep;
    h2o_timeout_link(s->http.ctx.loop, &s->interval_timeout, &s->tick);
    ft_info("event=listening listen=%s switches=%u interval_s=%g fault=%d", s->bound, cfg->switches, cfg->interval_s, cfg->fault);
    return 0;
}

void prod_server_run_once(prod_server_t *s, int32_t max_wait_ms)
{
    h2o_evloop_run(s->http.ctx.loop, max_wait_ms);
}

void prod_server_destroy(prod_server_t *s, double grace_s)
{
    /* Held requests are answered now (long polls 304, slow ones their body), so their connections can close. */
    h2o_linklist_t *node = s->waiters.next;
    while (node != &s->waiters) {
        prod_waiter_t *w = H2O_STRUCT_FROM_MEMBER(prod_waiter_t, link, node);
        node = node->next;
        w->deadline_ms = 0;
    }
    release_waiters(s, 0);
    s->http.stopping = 1;
    int forced = ft_httpd_drain(&s->http, grace_s) != 0;
    ft_info("event=stopped generation=%" PRIu64, s->cur ? s->cur->gen : 0);
    if (forced)
        _exit(0); /* httpd/httpd.h: a loop with connections left is not torn down */
    if (h2o_timeout_is_linked(&s->tick))
        h2o_timeout_unlink(&s->tick);
    if (h2o_timeout_is_linked(&s->sweep))
        h2o_timeout_unlink(&s->sweep);
    h2o_timeout_dispose(s->http.ctx.loop, &s->interval_timeout);
    h2o_timeout_dispose(s->http.ctx.loop, &s->sweep_timeout);
    ft_httpd_destroy(&s->http);
    if (s->cur != NULL)
        h2o_mem_release_shared(s->cur);
    if (s->xcur != NULL)
        h2o_mem_release_shared(s->xcur);
    prod_sim_destroy(&s->sim);
    ft_buf_destroy(&s->render);
}
