#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "util.h"

#define TICK_S 2.0

static const int CAUSES[] = {400, 401, 409, 413, 415};

static int64_t wall_ms(void)
{
    return (int64_t)(ft_now_ns() / 1000000);
}

static int64_t mono_ms(void)
{
    return (int64_t)(ft_mono_ns() / 1000000);
}

static void count_rejected(orch_server_t *s, int status)
{
    for (size_t i = 0; i < sizeof(CAUSES) / sizeof(CAUSES[0]); i++)
        if (CAUSES[i] == status)
            s->rejected[i]++;
}

/* fabtel's JSON error, counted. */
static void refuse(orch_server_t *s, h2o_req_t *req, int status, const char *field, const char *fmt, const char *arg)
{
    count_rejected(s, status);
    ft_httpd_send_error(req, status, field, -1, fmt, arg);
}

static void send_out(orch_server_t *s, h2o_req_t *req, int status)
{
    if (s->out.failed) {
        ft_httpd_send_error(req, 500, NULL, -1, "out of memory building the answer");
        return;
    }
    ft_httpd_send(req, status, "application/json", s->out.data, s->out.len);
}

static void store_failed(h2o_req_t *req, int r)
{
    if (r == -ENOSPC)
        ft_httpd_send_error(req, 507, NULL, -1, "the disk holding orchd.sqlite is full; nothing was written");
    else
        ft_httpd_send_error(req, 500, NULL, -1, "the database failed (see orchd's log); nothing was written");
}

/* ---- query parameters ---- */

/* An integer parameter within [lo, hi] (def when absent): 0, or 1 after a 400 was sent. */
static int int_param(orch_server_t *s, h2o_req_t *req, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    const char *const names[] = {name, NULL};
    const ft_param_t *p = ft_query_get(&s->query, names);
    *out = def;
    if (p == NULL)
        return 0;
    char msg[160];
    snprintf(msg, sizeof(msg), "'%s' is an integer from %" PRId64 " to %" PRId64, name, lo, hi);
    if (ft_parse_i64(p->value, p->value_len, out) != 0 || *out < lo || *out > hi) {
        refuse(s, req, 400, name, "%s", msg);
        return 1;
    }
    return 0;
}

/* An ISO 8601 time (a zone-less one is UTC, as the reference's) or Unix seconds; 0 or 1 after a 400. */
static int time_param(orch_server_t *s, h2o_req_t *req, const char *name, int64_t def, int64_t *out)
{
    const char *const names[] = {name, NULL};
    const ft_param_t *p = ft_query_get(&s->query, names);
    *out = def;
    if (p == NULL)
        return 0;
    char tmp[80];
    int ok = ft_parse_time_ms(p->value, p->value_len, out) == 0;
    if (!ok && p->value_len > 0 && p->value_len < sizeof(tmp) - 1) {
        memcpy(tmp, p->value, p->value_len);
        tmp[p->value_len] = 'Z';
        ok = ft_parse_time_ms(tmp, p->value_len + 1, out) == 0;
    }
    if (!ok)
        refuse(s, req, 400, name, "'%s' is an ISO 8601 time (2026-12-06T10:00:00Z) or Unix seconds", name);
    return !ok;
}

/* ---- the deployments API ---- */

typedef struct args {
    int64_t id; /* the {id} of the path, when it has one */
} args_t;

/*
 * Would the fabric still fit in ingestd's segment? Its switches now, plus the nodes that will join (not failed,
 * not in yet), plus these. Without a segment (no ingestd running) there is nothing to check against.
 */
static int fits(orch_server_t *s, h2o_req_t *req, int64_t more)
{
    uint32_t max, live;
    orch_counts_t c;
    if (orch_fabric_capacity(&s->fabric, &max, &live) != 0 || orch_store_counts(&s->store, &c) != 0)
        return 1;
    int64_t want = (int64_t)live + (s->prov.kind == ORCH_PROV_PRODUCER ? c.not_in_fabric : 0) + more;
    if (want <= (int64_t)max)
        return 1;
    char msg[200];
    snprintf(msg, sizeof(msg), "the fabric would carry %" PRId64 " switches; ingestd's segment holds %u (--max-switches)", want, max);
    refuse(s, req, 409, "target_node_count", "%s", msg);
    return 0;
}

static void post_deployment(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    (void)a;
    int g = ft_httpd_guard_write(req, s->cfg.auth_token, s->cfg.max_body, "a deployment");
    if (g != 0) {
        count_rejected(s, g);
        return;
    }
    orch_deployment_body_t *body = &s->body;
    const char *field;
    char why[300];
    int64_t id;
    if (orch_parse_deployment(req->entity.base, req->entity.len, body, &field, why, sizeof(why)) != 0) {
        refuse(s, req, 400, field, "%s", why);
        return;
    }
    if (!fits(s, req, body->d.target_node_count))
        return;
    int r = orch_store_create(&s->store, &body->d, wall_ms(), &id, &s->out);
    if (r != 0) {
        store_failed(req, r);
        return;
    }
    ft_info("event=deployment_created id=%" PRId64 " nodes=%" PRId64, id, body->d.target_node_count);
    send_out(s, req, 201);
}

static void list_deployments(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    (void)a;
    int64_t skip, limit;
    if (int_param(s, req, "skip", 0, 0, INT64_MAX, &skip) || int_param(s, req, "limit", 100, 1, 1000, &limit))
        return;
    int r = orch_store_list(&s->store, skip, limit, &s->out);
    if (r != 0)
        store_failed(req, r);
    else
        send_out(s, req, 200);
}

static void not_found(h2o_req_t *req, int64_t id)
{
    char msg[80];
    snprintf(msg, sizeof(msg), "Deployment %" PRId64 " not found", id);
    ft_httpd_send_error(req, 404, "id", -1, "%s", msg);
}

/* A read's outcome: the answer, a 404 for a deployment that is not there, or a 500. */
static void answer(orch_server_t *s, h2o_req_t *req, int r, int64_t id)
{
    if (r == 0)
        send_out(s, req, 200);
    else if (r == -ENOENT)
        not_found(req, id);
    else
        store_failed(req, r);
}

static void get_deployment(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    answer(s, req, orch_store_get(&s->store, a->id, &s->out), a->id);
}

static void get_nodes(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    answer(s, req, orch_store_nodes(&s->store, a->id, &s->out), a->id);
}

static void get_events(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    int64_t skip, limit;
    if (int_param(s, req, "skip", 0, 0, INT64_MAX, &skip) || int_param(s, req, "limit", 100, 1, 1000, &limit))
        return;
    answer(s, req, orch_store_events(&s->store, a->id, skip, limit, &s->out), a->id);
}

static void delete_deployment(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    if (s->cfg.auth_token != NULL) {
        size_t n;
        const char *v = ft_httpd_header(req, "authorization", &n);
        if (!ft_httpd_bearer_ok(v, n, s->cfg.auth_token)) {
            refuse(s, req, 401, "Authorization", "%s", "a write needs 'Authorization: Bearer <token>'");
            return;
        }
    }
    int r = orch_store_delete(&s->store, a->id, wall_ms());
    if (r != 0) {
        answer(s, req, r, a->id);
        return;
    }
    ft_info("event=deployment_deleted id=%" PRId64, a->id);
    ft_httpd_send(req, 204, NULL, NULL, 0);
    orch_prov_reconcile(&s->prov); /* its switches leave now, not at the next tick */
}

/* The running nodes of deployment id; 1 after an answer (404, 500) was sent. */
static int running_of(orch_server_t *s, h2o_req_t *req, int64_t id, orch_node_ref_t **nodes, size_t *n)
{
    int e = orch_store_exists(&s->store, id);
    if (e != 1) {
        answer(s, req, e == 0 ? -ENOENT : e, id);
        return 1;
    }
    int r = orch_store_running(&s->store, id, nodes, n);
    if (r != 0)
        store_failed(req, r);
    return r != 0;
}

static void get_telemetry(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    orch_sample_query_t q = {.dep = a->id};
    if (int_param(s, req, "node_id", 0, 1, INT64_MAX, &q.node) || time_param(s, req, "start_time", INT64_MIN, &q.from) ||
        time_param(s, req, "end_time", INT64_MAX, &q.to) || int_param(s, req, "limit", 100, 1, 1000, &q.limit))
        return;
    orch_node_ref_t *nodes = NULL;
    size_t n = 0;
    if (running_of(s, req, a->id, &nodes, &n))
        return;
    int r = orch_fabric_samples(&s->fabric, nodes, n, &q, &s->out);
    free(nodes);
    if (r != 0)
        ft_httpd_send_error(req, 500, NULL, -1, "reading the history failed (%s)", strerror(-r));
    else
        send_out(s, req, 200);
}

static void get_bottlenecks(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    orch_bn_query_t q = {.dep = a->id, .method = FT_BN_ROBUST};
    static const char *const P_METHOD[] = {"method", NULL}, *const P_THRESHOLD[] = {"threshold", NULL};
    if (int_param(s, req, "analysis_window_minutes", 10, 1, 60, &q.window_min))
        return;
    const ft_param_t *me = ft_query_get(&s->query, P_METHOD), *t = ft_query_get(&s->query, P_THRESHOLD);
    if (me != NULL && ft_bn_method_parse(me->value, me->value_len, &q.method) != 0)
        return refuse(s, req, 400, "method", "%s", "'method' is robust (the default) or zscore");
    q.threshold = ft_bn_default_threshold(q.method);
    if (t != NULL && (ft_parse_f64(t->value, t->value_len, &q.threshold) != 0 || !(q.threshold > 0) || q.threshold > 1e6))
        return refuse(s, req, 400, "threshold", "%s", "'threshold' is a number above 0");
    orch_node_ref_t *nodes = NULL;
    size_t n = 0;
    if (running_of(s, req, a->id, &nodes, &n))
        return;
    int r = orch_fabric_bottlenecks(&s->fabric, nodes, n, &q, wall_ms(), &s->out);
    free(nodes);
    if (r != 0)
        ft_httpd_send_error(req, 500, NULL, -1, "judging the nodes failed (%s)", strerror(-r));
    else
        send_out(s, req, 200);
}

/* ---- service ---- */

/* Workers alive: the lifecycle tick (ticked within three periods) and, with a provisioner, reconcile (not failing). */
static int workers_alive(orch_server_t *s, int *lifecycle, int *prov)
{
    *lifecycle = s->ticks.last_ms != 0 && mono_ms() - s->ticks.last_ms <= 3 * s->tick_ms + 1000;
    *prov = s->prov.kind == ORCH_PROV_PRODUCER && !s->prov.stats.failing;
    return *lifecycle + *prov;
}

static void health(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    (void)a;
    orch_counts_t c;
    int db = orch_store_counts(&s->store, &c) == 0, lc, pv;
    int workers = workers_alive(s, &lc, &pv);
    int healthy = db && lc && (s->prov.kind == ORCH_PROV_NONE || pv);
    char ts[32];
    ft_fmt_iso8601(ts, ft_now_ns());
    s->out.len = 0, s->out.failed = 0;
    ft_buf_appendf(&s->out, "{\"status\":\"%s\",\"timestamp\":\"%s\",\"database\":\"%s\",\"active_deployments\":%" PRId64
                            ",\"active_workers\":%d,\"provisioner\":\"%s\"}",
                   healthy ? "healthy" : "degraded", ts, db ? "healthy" : "unhealthy", db ? c.deployments : 0, workers,
                   s->prov.kind == ORCH_PROV_NONE ? "none" : pv ? "ok" : "failing");
    send_out(s, req, healthy ? 200 : 503);
}

static void metric(ft_buf_t *b, const char *name, const char *type, const char *help)
{
    ft_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics(orch_server_t *s, h2o_req_t *req, const args_t *a)
{
    (void)a;
    orch_counts_t c;
    int db = orch_store_counts(&s->store, &c) == 0;
    ft_buf_t *b = &s->out;
    b->len = 0, b->failed = 0;
    metric(b, "fabtel_orchd_up", "gauge", "1 when the database answers.");
    ft_buf_appendf(b, "fabtel_orchd_up %d\n", db);
    metric(b, "fabtel_orchd_deployments", "gauge", "Deployments that exist.");
    ft_buf_appendf(b, "fabtel_orchd_deployments %" PRId64 "\n", db ? c.deployments : 0);
    metric(b, "fabtel_orchd_nodes", "gauge", "Nodes by state.");
    for (int k = 0; k < ORCH_NSTATES; k++)
        ft_buf_appendf(b, "fabtel_orchd_nodes{state=\"%s\"} %" PRId64 "\n", orch_state_name((orch_state_t)k), db ? c.by_state[k] : 0);
    metric(b, "fabtel_orchd_transitions_total", "counter", "Lifecycle transitions committed since start, by the state entered.");
    for (int k = 1; k < ORCH_NSTATES; k++)
        ft_buf_appendf(b, "fabtel_orchd_transitions_total{to=\"%s\"} %" PRIu64 "\n", orch_state_name((orch_state_t)k),
                       s->store.transitions[k]);
    metric(b, "fabtel_orchd_tick_seconds", "summary", "Time one lifecycle tick took (its transaction included).");
    ft_buf_appendf(b, "fabtel_orchd_tick_seconds_sum %.6f\nfabtel_orchd_tick_seconds_count %" PRIu64 "\n", (double)s->ticks.us_total / 1e6,
                   s->ticks.ticks);
    metric(b, "fabtel_orchd_tick_seconds_max", "gauge", "The longest tick since start.");
    ft_buf_appendf(b, "fabtel_orchd_tick_seconds_max %.6f\n", (double)s->ticks.us_max / 1e6);
    metric(b, "fabtel_orchd_ticks_failed_total", "counter", "Ticks whose transaction failed (retried at the next).");
    ft_buf_appendf(b, "fabtel_orchd_ticks_failed_total %" PRIu64 "\n", s->ticks.failed);
    const orch_prov_stats_t *p = &s->prov.stats;
    metric(b, "fabtel_orchd_provision_calls_total", "counter", "Calls to the provisioner (PUT, DELETE).");
    ft_buf_appendf(b, "fabtel_orchd_provision_calls_total %" PRIu64 "\n", p->calls);
    metric(b, "fabtel_orchd_provision_failures_total", "counter", "Provisioner calls that failed (GET /switches included).");
    ft_buf_appendf(b, "fabtel_orchd_provision_failures_total %" PRIu64 "\n", p->failures);
    metric(b, "fabtel_orchd_nodes_joined_total", "counter", "Nodes that joined the fabric since start.");
    ft_buf_appendf(b, "fabtel_orchd_nodes_joined_total %" PRIu64 "\n", p->joined);
    metric(b, "fabtel_orchd_nodes_left_total", "counter", "Switches of deleted deployments removed from the fabric since start.");
    ft_buf_appendf(b, "fabtel_orchd_nodes_left_total %" PRIu64 "\n", p->left);
    metric(b, "fabtel_orchd_rejected_total", "counter", "Requests refused, by status.");
    for (size_t i = 0; i < sizeof(CAUSES) / sizeof(CAUSES[0]); i++)
        ft_buf_appendf(b, "fabtel_orchd_rejected_total{status=\"%d\"} %" PRIu64 "\n", CAUSES[i], s->rejected[i]);
    ft_httpd_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b->data, b->len);
}

/* ---- routing: one row per route; {id} is a path segment holding a deployment id ---- */

typedef struct route {
    const char *method, *path;
    void (*fn)(orch_server_t *, h2o_req_t *, const args_t *);
} route_t;

static const route_t ROUTES[] = {
    {"POST", "/deployments", post_deployment},
    {"GET", "/deployments", list_deployments},
    {"GET", "/deployments/{id}", get_deployment},
    {"DELETE", "/deployments/{id}", delete_deployment},
    {"GET", "/deployments/{id}/nodes", get_nodes},
    {"GET", "/deployments/{id}/telemetry", get_telemetry},
    {"GET", "/deployments/{id}/bottlenecks", get_bottlenecks},
    {"GET", "/deployments/{id}/events", get_events},
    {"GET", "/health", health},
    {"GET", "/metrics", metrics},
};

/* Does path match pattern? {id} takes one segment, returned in (*seg, *seglen). A trailing slash is allowed. */
static int match(const char *pattern, const char *path, size_t len, const char **seg, size_t *seglen)
{
    const char *p = path, *end = path + len;
    if (len > 1 && end[-1] == '/')
        end--;
    while (*pattern != '\0') {
        if (strncmp(pattern, "{id}", 4) == 0) {
            const char *slash = memchr(p, '/', (size_t)(end - p));
            const char *e = slash ? slash : end;
            if (e == p)
                return 0;
            *seg = p, *seglen = (size_t)(e - p);
            p = e, pattern += 4;
        } else {
            if (p >= end || *p != *pattern)
                return 0;
            p++, pattern++;
        }
    }
    return p == end;
}

static int method_is(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m)) ||
           (strcmp(m, "GET") == 0 && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")));
}

/* The {id} of a path: a positive integer, or a 400 naming it. */
static int parse_id(orch_server_t *s, h2o_req_t *req, const char *seg, size_t len, int64_t *id)
{
    if (ft_parse_i64(seg, len, id) == 0 && *id >= 1)
        return 0;
    refuse(s, req, 400, "id", "%s", "a deployment id is a positive integer");
    return -1;
}

static void not_allowed(orch_server_t *s, h2o_req_t *req, const char *path, size_t len)
{
    char allow[64] = "";
    const char *seg;
    size_t seglen;
    for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++)
        if (match(ROUTES[i].path, path, len, &seg, &seglen))
            snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s", allow[0] ? ", " : "", ROUTES[i].method);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    ft_httpd_send_error(req, 405, NULL, -1, "method not allowed here (allowed: %s)", allow);
    (void)s;
}

static int on_req(void *data, h2o_req_t *req)
{
    orch_server_t *s = data;
    const char *path = req->path_normalized.base, *seg = NULL;
    size_t len = req->path_normalized.len, seglen = 0;
    int known = 0;
    for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        if (!match(ROUTES[i].path, path, len, &seg, &seglen))
            continue;
        known = 1;
        if (!method_is(req, ROUTES[i].method))
            continue;
        args_t a = {0};
        char why[200];
        if (seg != NULL && parse_id(s, req, seg, seglen, &a.id) != 0)
            return 0;
        const char *q = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
        size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
        if (ft_query_parse(&s->query, q, qlen, why, sizeof(why)) != 0) {
            refuse(s, req, 400, "query", "%s", why);
            return 0;
        }
        s->out.len = 0, s->out.failed = 0;
        ROUTES[i].fn(s, req, &a);
        return 0;
    }
    if (known)
        not_allowed(s, req, path, len);
    else
        ft_httpd_send_error(req, 404, NULL, -1, "no such path (the API is under /deployments)");
    return 0;
}

/* ---- the clock ---- */

void orch_server_tick(orch_server_t *s)
{
    uint64_t t0 = ft_mono_ns(), changed = 0;
    int r = orch_store_tick(&s->store, wall_ms(), s->cfg.time_scale, &changed);
    uint64_t us = (ft_mono_ns() - t0) / 1000;
    s->ticks.ticks++;
    s->ticks.us_total += us, s->ticks.us_last = us;
    if (us > s->ticks.us_max)
        s->ticks.us_max = us;
    if (r != 0) {
        s->ticks.failed++;
        ft_error("event=tick_failed reason=\"%s\"", strerror(-r));
    } else {
        s->ticks.transitions += changed;
        s->ticks.last_ms = mono_ms();
        if (changed)
            ft_debug("event=tick transitions=%" PRIu64 " us=%" PRIu64, changed, us);
    }
    orch_prov_reconcile(&s->prov);
    int64_t now = mono_ms();
    if (s->cfg.events_retain_days > 0 && now - s->last_expiry_ms >= 60000) { /* retention: once a minute */
        int64_t dropped;
        s->last_expiry_ms = now;
        if (orch_store_expire_events(&s->store, wall_ms() - (int64_t)(s->cfg.events_retain_days * 86400000.0), &dropped) == 0 && dropped)
            ft_info("event=events_expired dropped=%" PRId64, dropped);
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    orch_server_t *s = H2O_STRUCT_FROM_MEMBER(orch_server_t, tick, entry);
    h2o_timeout_link(s->http.ctx.loop, &s->tick_timeout, &s->tick);
    orch_server_tick(s);
}

/* ---- life ---- */

static int open_store(orch_server_t *s)
{
    char why[600];
    int r;
    if ((r = ft_state_claim(&s->dir, s->cfg.state_dir, "orchd.sqlite", &s->lock_fd, s->path, sizeof(s->path), why, sizeof(why))) != 0 ||
        (r = orch_store_open(&s->store, s->path, why, sizeof(why))) != 0) {
        ft_error("event=start_refused reason=\"%s\"", why);
        return r < 0 ? r : -EIO;
    }
    ft_info("event=store_opened path=%s", s->path);
    return 0;
}

int orch_server_init(orch_server_t *s, const orch_config_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->lock_fd = -1;
    ft_buf_init(&s->out);
    orch_fabric_init(&s->fabric, cfg->shm_name);
    int r = open_store(s);
    if (r != 0)
        return r;
    int fd = ft_listen(cfg->listen, 0, s->bound, sizeof(s->bound));
    if (fd < 0) {
        ft_error("event=listen_failed listen=%s reason=\"%s\"", cfg->listen, strerror(-fd));
        return fd;
    }
    ft_httpd_init(&s->http, fd, cfg->max_body + 65536, cfg->request_timeout_s, on_req, s);
    char why[300];
    if ((r = orch_prov_init(&s->prov, cfg->provisioner, cfg->producer, &s->http.ctx, &s->store, why, sizeof(why))) != 0) {
        ft_error("event=start_refused reason=\"%s\"", why);
        return r;
    }
    s->tick_ms = (int64_t)llround(TICK_S * 1000 * cfg->time_scale);
    if (s->tick_ms < 10)
        s->tick_ms = 10;
    h2o_timeout_init(s->http.ctx.loop, &s->tick_timeout, (uint64_t)s->tick_ms);
    s->tick.cb = on_tick;
    orch_server_tick(s); /* the first tick now: a restarted orchd resumes at once */
    h2o_timeout_link(s->http.ctx.loop, &s->tick_timeout, &s->tick);
    ft_info("event=listening listen=%s provisioner=%s%s%s tick_ms=%" PRId64 " time_scale=%g", s->bound, cfg->provisioner,
            s->prov.kind ? " producer=" : "", s->prov.kind ? s->prov.url_text : "", s->tick_ms, cfg->time_scale);
    return 0;
}

void orch_server_destroy(orch_server_t *s)
{
    if (s->http.ctx.loop != NULL) {
        if (h2o_timeout_is_linked(&s->tick))
            h2o_timeout_unlink(&s->tick);
        s->http.stopping = 1;
        int forced = ft_httpd_drain(&s->http, s->cfg.shutdown_grace_s);
        /* Provisioning calls in flight finish (each has a 5 s deadline), so their outcome is recorded. */
        uint64_t deadline = ft_mono_ns() + 10000000000ULL;
        while (s->prov.kind == ORCH_PROV_PRODUCER && ft_httpc_inflight(&s->prov.http) > 0 && ft_mono_ns() < deadline)
            h2o_evloop_run(s->http.ctx.loop, 100);
        if (forced || (s->prov.kind == ORCH_PROV_PRODUCER && ft_httpc_inflight(&s->prov.http) > 0))
            _exit(0); /* httpd/httpd.h: a loop with connections left is not torn down */
        orch_prov_destroy(&s->prov);
        h2o_timeout_dispose(s->http.ctx.loop, &s->tick_timeout);
        ft_httpd_destroy(&s->http);
    }
    orch_fabric_destroy(&s->fabric);
    orch_store_close(&s->store);
    ft_buf_destroy(&s->out);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    ft_info("event=stopped");
}
