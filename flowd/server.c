#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "query.h"
#include "util.h"

/* The writer's finished jobs, carried to the event loop. */
typedef struct done_msg {
    h2o_multithread_message_t super;
    flow_job_t *jobs;
} done_msg_t;

static const int CAUSES[] = {400, 401, 409, 413, 415, 422};

static void count_rejected(flow_server_t *s, int status)
{
    for (size_t i = 0; i < sizeof(CAUSES) / sizeof(CAUSES[0]); i++)
        s->rejected[i] += CAUSES[i] == status;
}

static void send_buf(h2o_req_t *req, int status, const char *ctype, const ft_buf_t *b)
{
    ft_httpd_send(req, status, ctype, b->data, b->len);
}

/* ---- POST /flows ---- */

static void on_writer_done(void *ctx, flow_job_t *jobs)
{
    flow_server_t *s = ctx;
    done_msg_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort(); /* cannot answer the requests any more: better a restart than silence */
    m->jobs = jobs;
    h2o_multithread_send_message(&s->done_receiver, &m->super);
}

static void answer_job(flow_server_t *s, flow_job_t *j)
{
    h2o_req_t *req = j->data;
    if (j->status == 201 || (j->status < 300 && j->answer.len))
        send_buf(req, j->status, "application/json", &j->answer);
    else if (j->status == 409)
        ft_httpd_send_error(req, 409, "bytes_rx", -1, "a sum would pass 2^63-1; nothing of the batch was applied");
    else if (j->status == 422)
        ft_httpd_send_error(req, 422, "Idempotency-Key", -1, "this Idempotency-Key was used with another body");
    else if (j->status == 507)
        ft_httpd_send_error(req, 507, NULL, -1, "the store's disk is full; nothing of the batch was applied");
    else
        ft_httpd_send_error(req, 500, NULL, -1, "the store failed; nothing of the batch was applied");
    if (j->status >= 400)
        count_rejected(s, j->status);
    flow_batch_free(&j->batch);
    ft_buf_destroy(&j->answer);
    free(j);
}

static void on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    flow_server_t *s = H2O_STRUCT_FROM_MEMBER(flow_server_t, done_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        done_msg_t *m = H2O_STRUCT_FROM_MEMBER(done_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        for (flow_job_t *j = m->jobs, *next; j != NULL; j = next) {
            next = j->next;
            answer_job(s, j);
        }
        free(m);
    }
}

/* Content type, token, size: 0, or the refusal sent. */
static int guard(flow_server_t *s, h2o_req_t *req)
{
    return ft_httpd_guard_write(req, s->cfg.auth_token, s->cfg.max_body, "a flow batch");
}

static void post_flows(flow_server_t *s, h2o_req_t *req)
{
    int r;
    if ((r = guard(s, req)) != 0)
        return count_rejected(s, r);
    flow_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return ft_httpd_send_error(req, 500, NULL, -1, "out of memory");
    flow_error_t err;
    r = flow_parse(req->entity.base ? req->entity.base : "", req->entity.len, s->cfg.max_batch, &j->batch, &err);
    if (r != 0) {
        free(j);
        count_rejected(s, r);
        return ft_httpd_send_error(req, r, err.field, err.index, "%s", err.message);
    }
    size_t kl;
    const char *key = ft_httpd_header(req, "idempotency-key", &kl);
    if (key != NULL && (kl == 0 || kl >= sizeof(j->key))) {
        flow_batch_free(&j->batch);
        free(j);
        count_rejected(s, 400);
        return ft_httpd_send_error(req, 400, "Idempotency-Key", -1, "an Idempotency-Key is 1 to %zu bytes", sizeof(j->key) - 1);
    }
    if (key != NULL) { /* the body's hash tells a retry from another batch under the same key */
        memcpy(j->key, key, kl);
        SHA256((const unsigned char *)(req->entity.base ? req->entity.base : ""), req->entity.len, j->hash);
    }
    ft_buf_init(&j->answer);
    j->data = req;
    flow_writer_submit(&s->writer, j); /* answered from on_done, once committed */
}

/* ---- reads ---- */

/* An hour read now, filters NULL: any (filt NULL: none at all). */
static void read_hour(flow_server_t *s, h2o_req_t *req, int64_t hour, const char *const *filt)
{
    static const char *const none[3] = {NULL, NULL, NULL};
    const char *const *f = filt != NULL ? filt : none;
    ft_buf_t b;
    ft_buf_init(&b);
    if (flow_store_read_hour(&s->reader, hour, f[0], f[1], f[2], &b) != 0)
        ft_httpd_send_error(req, 500, NULL, -1, "the store could not be read");
    else
        send_buf(req, 200, "application/json", &b);
    ft_buf_destroy(&b);
}

/*
 * An hour's whole answer, kept until the writer commits again: dashboards ask for the same hours over and
 * over. The version is read before the store, so an answer can only be tagged older than what it shows, never
 * newer (a commit in between makes the next request read again): read-your-writes holds.
 */
static void cached_hour(flow_server_t *s, h2o_req_t *req, int64_t hour)
{
    if (flow_store_shared(&s->reader)) /* other front ends commit too: this writer's version says nothing of theirs */
        return read_hour(s, req, hour, NULL);
    uint64_t v = atomic_load_explicit(&s->writer.version, memory_order_acquire) + 1; /* +1: 0 means empty */
    for (unsigned i = 0; i < sizeof(s->cache) / sizeof(s->cache[0]); i++)
        if (s->cache[i].version == v && s->cache[i].hour == hour)
            return send_buf(req, 200, "application/json", &s->cache[i].body);
    struct flow_hour_cache *c = &s->cache[s->cache_next++ % (sizeof(s->cache) / sizeof(s->cache[0]))];
    c->version = 0;
    c->body.len = 0;
    c->body.failed = 0;
    if (flow_store_read_hour(&s->reader, hour, NULL, NULL, NULL, &c->body) != 0)
        return ft_httpd_send_error(req, 500, NULL, -1, "the store could not be read");
    c->hour = hour;
    c->version = v;
    send_buf(req, 200, "application/json", &c->body);
}

static void get_flows(flow_server_t *s, h2o_req_t *req)
{
    static const char *const P_HOUR[] = {"hour", NULL}, *const P_SRC[] = {"src_app", NULL}, *const P_DEST[] = {"dest_app", NULL},
                                    *const P_VPC[] = {"vpc_id", NULL};
    ft_query_t *q = malloc(sizeof(*q));
    char why[160];
    const char *qs = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
    size_t ql = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    if (q == NULL || ft_query_parse(q, qs, ql, why, sizeof(why)) != 0) {
        free(q);
        return ft_httpd_send_error(req, 400, "query", -1, "%s", q ? why : "out of memory");
    }
    const ft_param_t *h = ft_query_get(q, P_HOUR);
    int64_t hour;
    if (h == NULL || ft_parse_i64(h->value, h->value_len, &hour) != 0 || hour < 0) {
        free(q);
        return ft_httpd_send_error(req, 400, "hour", -1, "'hour' must be a whole number >= 0");
    }
    char f[3][FLOW_STR_MAX + 1];
    const char *filt[3] = {NULL, NULL, NULL};
    const ft_param_t *p[3] = {ft_query_get(q, P_SRC), ft_query_get(q, P_DEST), ft_query_get(q, P_VPC)};
    static const char *const names[3] = {"src_app", "dest_app", "vpc_id"};
    for (int i = 0; i < 3; i++) {
        if (p[i] == NULL)
            continue;
        if (p[i]->value_len == 0 || p[i]->value_len > FLOW_STR_MAX || memchr(p[i]->value, '\0', p[i]->value_len) != NULL) {
            free(q); /* no flow has such a name: saying so beats answering as if there were no filter */
            return ft_httpd_send_error(req, 400, names[i], -1, "'%s' must be 1 to %d bytes without NUL", names[i], FLOW_STR_MAX);
        }
        memcpy(f[i], p[i]->value, p[i]->value_len);
        f[i][p[i]->value_len] = '\0';
        filt[i] = f[i];
    }
    free(q);
    if (filt[0] == NULL && filt[1] == NULL && filt[2] == NULL)
        return cached_hour(s, req, hour);
    read_hour(s, req, hour, filt);
}

static void get_hours(flow_server_t *s, h2o_req_t *req)
{
    ft_buf_t b;
    ft_buf_init(&b);
    if (flow_store_read_hours(&s->reader, &b) != 0)
        ft_httpd_send_error(req, 500, NULL, -1, "the store could not be read");
    else
        send_buf(req, 200, "application/json", &b);
    ft_buf_destroy(&b);
}

static void health(flow_server_t *s, h2o_req_t *req)
{
    ft_buf_t b;
    ft_buf_init(&b);
    int ok = flow_store_read_hours(&s->reader, &b) == 0;
    b.len = 0;
    ft_buf_puts(&b, ok ? "{\"status\":\"ok\",\"store\":\"ok\"}" : "{\"status\":\"down\",\"store\":\"unreadable\"}");
    send_buf(req, ok ? 200 : 503, "application/json", &b);
    ft_buf_destroy(&b);
}

/* A Prometheus histogram from cumulative-free buckets (the last is +Inf). */
static void histogram(ft_buf_t *b, const char *name, const char *help, const double *bounds, unsigned n, const uint64_t *counts,
                      double sum)
{
    char line[200];
    uint64_t cum = 0;
    ft_buf_append(b, line, (size_t)snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s histogram\n", name, help, name));
    for (unsigned i = 0; i <= n; i++) {
        cum += counts[i];
        if (i < n)
            ft_buf_append(b, line, (size_t)snprintf(line, sizeof(line), "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum));
        else
            ft_buf_append(b, line, (size_t)snprintf(line, sizeof(line), "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum));
    }
    ft_buf_append(b, line, (size_t)snprintf(line, sizeof(line), "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, sum, name, cum));
}

static void counter(ft_buf_t *b, const char *name, const char *type, const char *help, const char *labels, uint64_t v)
{
    char line[300];
    if (help != NULL)
        ft_buf_append(b, line, (size_t)snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type));
    ft_buf_append(b, line, (size_t)snprintf(line, sizeof(line), "%s%s %" PRIu64 "\n", name, labels, v));
}

static void metrics(flow_server_t *s, h2o_req_t *req)
{
    flow_writer_stats_t st;
    size_t queued;
    flow_writer_stats(&s->writer, &st, &queued);
    ft_buf_t b;
    ft_buf_init(&b);
    counter(&b, "fabtel_flowd_records_total", "counter", "Flow records accepted.", "", st.records);
    counter(&b, "fabtel_flowd_batches_total", "counter", "Batches through the writer (any outcome).", "", st.batches);
    counter(&b, "fabtel_flowd_commits_total", "counter", "Transactions committed (group commit: several batches each).", "", st.commits);
    counter(&b, "fabtel_flowd_commits_failed_total", "counter", "Transactions that failed (their batches answered 507 or 500).", "",
            st.failed_commits);
    counter(&b, "fabtel_flowd_queue_depth", "gauge", "Batches waiting for the next commit.", "", queued);
    char labels[40];
    for (size_t i = 0; i < sizeof(CAUSES) / sizeof(CAUSES[0]); i++) {
        snprintf(labels, sizeof(labels), "{status=\"%d\"}", CAUSES[i]);
        counter(&b, "fabtel_flowd_rejected_total", "counter", i == 0 ? "Batches refused, by status." : NULL, labels, s->rejected[i]);
    }
    histogram(&b, "fabtel_flowd_commit_seconds", "Time one transaction took, fsync included.", flow_commit_bounds_s, FLOW_COMMIT_BUCKETS,
              st.commit_hist, (double)st.commit_us_total / 1e6);
    histogram(&b, "fabtel_flowd_commit_batches", "Batches committed together in one transaction.", flow_group_bounds, FLOW_GROUP_BUCKETS,
              st.group_hist, (double)st.batches);
    send_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    ft_buf_destroy(&b);
}

/* ---- routing: one row per route ---- */

typedef struct route {
    const char *method, *path;
    void (*fn)(flow_server_t *, h2o_req_t *);
} route_t;

static const route_t ROUTES[] = {
    {"POST", "/flows", post_flows}, {"GET", "/flows", get_flows}, {"GET", "/flows/hours", get_hours},
    {"GET", "/health", health},     {"GET", "/metrics", metrics},
};

static int on_req(void *data, h2o_req_t *req)
{
    flow_server_t *s = data;
    int path_known = 0;
    for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, ROUTES[i].path, strlen(ROUTES[i].path)))
            continue;
        path_known = 1;
        if (h2o_memis(req->method.base, req->method.len, ROUTES[i].method, strlen(ROUTES[i].method)) ||
            (strcmp(ROUTES[i].method, "GET") == 0 && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))) {
            ROUTES[i].fn(s, req);
            return 0;
        }
    }
    if (!path_known) {
        ft_httpd_send_error(req, 404, NULL, -1, "no such path");
        return 0;
    }
    int flows = h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/flows"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, flows ? "GET, HEAD, POST" : "GET, HEAD",
                   flows ? 15 : 9);
    ft_httpd_send_error(req, 405, NULL, -1, "method not allowed here");
    return 0;
}

/* ---- life ---- */

/* The part of a store's URL after any credentials, for logs. */
static const char *store_shown(const char *where)
{
    const char *at = strrchr(where, '@');
    return at != NULL ? at + 1 : where;
}

static int open_store(flow_server_t *s)
{
    char why[600];
    int r = 0;
    if (flow_pg_is_url(s->cfg.store)) { /* a shared database: many front ends, no state of their own */
        snprintf(s->path, sizeof(s->path), "%s", s->cfg.store);
        if (s->cfg.max_store_bytes != 0) {
            snprintf(why, sizeof(why), "--max-store-bytes is for the SQLite store; PostgreSQL's disk is managed there");
            r = -EINVAL;
        }
    } else if (s->cfg.store != NULL && s->cfg.store[0] != '\0' && strcmp(s->cfg.store, "sqlite") != 0) {
        snprintf(why, sizeof(why), "--store is 'sqlite' or a postgresql:// URL, not '%s'", store_shown(s->cfg.store));
        r = -EINVAL;
    } else {
        r = ft_state_claim(&s->dir, s->cfg.state_dir, "flows.sqlite", &s->lock_fd, s->path, sizeof(s->path), why, sizeof(why));
    }
    if (r != 0 ||
        (r = flow_writer_start(&s->writer, s->path, s->cfg.retain_hours, s->cfg.max_store_bytes, on_writer_done, s, why,
                                         sizeof(why))) != 0 ||
        (r = flow_store_open(&s->reader, s->path, 1, why, sizeof(why))) != 0) {
        ft_error("event=start_refused reason=\"%s\"", why);
        return r < 0 ? r : -EIO;
    }
    ft_info("event=store_opened store=%s path=%s", flow_store_shared(&s->reader) ? "postgresql" : "sqlite", store_shown(s->path));
    return 0;
}

int flow_server_init(flow_server_t *s, const flow_config_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->lock_fd = -1;
    int r = open_store(s);
    if (r != 0)
        return r;
    int fd = ft_listen(cfg->listen, 0, s->bound, sizeof(s->bound));
    if (fd < 0) {
        ft_error("event=listen_failed listen=%s reason=\"%s\"", cfg->listen, strerror(-fd));
        return fd;
    }
    ft_httpd_init(&s->http, fd, cfg->max_body + 65536, cfg->request_timeout_s, on_req, s);
    h2o_multithread_register_receiver(s->http.ctx.queue, &s->done_receiver, on_done);
    ft_info("event=listening listen=%s", s->bound);
    return 0;
}

void flow_server_destroy(flow_server_t *s)
{
    if (s->http.ctx.loop != NULL) {
        s->http.stopping = 1;
        int forced = ft_httpd_drain(&s->http, s->cfg.shutdown_grace_s); /* answers in flight: their commits land meanwhile */
        flow_writer_stop(&s->writer);
        if (forced)
            _exit(0); /* httpd/httpd.h */
        h2o_evloop_run(s->http.ctx.loop, 0); /* the last answers of the writer, if any */
        h2o_multithread_unregister_receiver(s->http.ctx.queue, &s->done_receiver);
        ft_httpd_destroy(&s->http);
    } else {
        flow_writer_stop(&s->writer);
    }
    flow_store_close(&s->reader);
    for (unsigned i = 0; i < sizeof(s->cache) / sizeof(s->cache[0]); i++)
        ft_buf_destroy(&s->cache[i].body);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    ft_info("event=stopped");
}
