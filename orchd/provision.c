#include "provision.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"
#include "util.h"

static int64_t now_ms(void)
{
    return (int64_t)(ft_now_ns() / 1000000);
}

int orch_prov_init(orch_prov_t *p, const char *kind, const char *url, h2o_context_t *ctx, orch_store_t *store, char *why, size_t whysz)
{
    memset(p, 0, sizeof(*p));
    p->store = store;
    if (strcmp(kind, "none") == 0)
        return 0;
    if (strcmp(kind, "producer") != 0) {
        snprintf(why, whysz, "unknown provisioner '%s' (producer or none)", kind);
        return -EINVAL;
    }
    snprintf(p->url_text, sizeof(p->url_text), "%s", url ? url : "");
    if (h2o_url_parse(p->url_text, SIZE_MAX, &p->url) != 0 || p->url.scheme != &H2O_URL_SCHEME_HTTP || p->url.host.len == 0) {
        snprintf(why, whysz, "--producer '%s' is not an http://HOST:PORT URL", p->url_text);
        return -EINVAL;
    }
    p->kind = ORCH_PROV_PRODUCER;
    return ft_httpc_init(&p->http, ctx, 5.0);
}

void orch_prov_destroy(orch_prov_t *p)
{
    if (p->kind == ORCH_PROV_PRODUCER)
        ft_httpc_destroy(&p->http);
    free(p->have);
    free(p->ops);
    memset(p, 0, sizeof(*p));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const orch_prov_switch_t *)a)->name, ((const orch_prov_switch_t *)b)->name);
}

static int by_hostname(const void *a, const void *b)
{
    return strcmp(((const orch_node_ref_t *)a)->hostname, ((const orch_node_ref_t *)b)->hostname);
}

/* switch-{deployment}-{NNN}: orchd's naming; the deployment id, or 0 for a name orchd does not manage. */
static int64_t orchd_named(const char *name)
{
    long long dep;
    unsigned idx;
    char tail;
    return sscanf(name, "switch-%lld-%u%c", &dep, &idx, &tail) == 2 && dep > 0 ? dep : 0;
}

/* GET /switches's answer into p->have, sorted. -EPROTO for anything else. */
static int parse_list(orch_prov_t *p, const char *body, size_t len)
{
    orch_prov_switch_t *have;
    size_t n;
    int r = orch_parse_switches(body, len, &have, &n);
    if (r != 0)
        return r;
    free(p->have);
    p->have = have, p->nhave = n;
    return 0;
}

static void end_round(orch_prov_t *p)
{
    p->busy = 0;
    p->nops = p->next = 0;
}

static void on_op(void *data, int status, const char *body, size_t len, const char *etag, const char *err);

/* Keep up to ORCH_PROV_PARALLEL calls in flight; the round ends when all are answered. */
static void pump(orch_prov_t *p)
{
    while (p->inflight < ORCH_PROV_PARALLEL && p->next < p->nops) {
        orch_prov_op_t *op = &p->ops[p->next++];
        char path[128], body[64];
        snprintf(path, sizeof(path), "/switches/%s", op->name);
        int r;
        if (op->del) {
            r = ft_httpc_request(&p->http, &p->url, "DELETE", path, NULL, NULL, 0, on_op, op);
        } else {
            int n = snprintf(body, sizeof(body), "{\"node_id\":%" PRId64 "}", op->node);
            r = ft_httpc_request(&p->http, &p->url, "PUT", path, "Content-Type: application/json\r\n", body, (size_t)n, on_op, op);
        }
        if (r == 0)
            p->inflight++, p->stats.calls++;
    }
    if (p->inflight == 0 && p->next == p->nops)
        end_round(p);
}

static void op_failed(orch_prov_t *p, const orch_prov_op_t *op, int status, const char *err)
{
    char why[512];
    snprintf(why, sizeof(why), "provisioner %s %s/switches/%s failed: %s%s", op->del ? "DELETE" : "PUT", p->url_text, op->name,
             status ? "HTTP " : "", status ? "" : (err ? err : "no answer"));
    if (status)
        snprintf(why + strlen(why), sizeof(why) - strlen(why), "%d", status);
    p->stats.failures++;
    p->stats.failing = 1;
    ft_warn("event=provision_failed node=%" PRId64 " switch=%s reason=\"%s\"", op->node, op->name, why);
    if (!op->del)
        orch_store_note_error(p->store, op->node, why, now_ms());
}

static void on_op(void *data, int status, const char *body, size_t len, const char *etag, const char *err)
{
    (void)body, (void)len, (void)etag;
    orch_prov_op_t *op = data;
    orch_prov_t *p = op->owner;
    p->inflight--;
    if (op->del && (status == 204 || status == 404)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Node %" PRId64 " left the fabric (%s)", op->node, op->name);
        if (status == 204 && orch_store_event(p->store, op->dep, op->node, "NODE_LEFT_FABRIC", msg, NULL, now_ms()) == 0)
            p->stats.left++;
        ft_info("event=node_left_fabric node=%" PRId64 " switch=%s", op->node, op->name);
        p->stats.failing = 0;
    } else if (!op->del && (status == 200 || status == 201)) {
        if (op->joins && orch_store_set_in_fabric(p->store, op->node, 1, now_ms()) == 0) {
            p->stats.joined++;
            ft_info("event=node_joined_fabric node=%" PRId64 " switch=%s", op->node, op->name);
        }
        p->stats.failing = 0;
    } else {
        op_failed(p, op, status, err);
    }
    pump(p);
}

static orch_prov_op_t *add_op(orch_prov_t *p, size_t *cap)
{
    if (p->nops == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        orch_prov_op_t *o = realloc(p->ops, c * sizeof(*o));
        if (o == NULL)
            return NULL;
        p->ops = o, *cap = c;
    }
    orch_prov_op_t *op = &p->ops[p->nops++];
    memset(op, 0, sizeof(*op));
    op->owner = p;
    return op;
}

/* This round's calls: PUT what should run and is missing, DELETE what runs and should not. */
static int plan(orch_prov_t *p)
{
    orch_node_ref_t *run;
    size_t nrun, cap = 0;
    int r = orch_store_running(p->store, 0, &run, &nrun);
    if (r != 0)
        return r;
    if (nrun > 1)
        qsort(run, nrun, sizeof(*run), by_hostname);
    p->nops = p->next = 0;
    for (size_t i = 0; i < nrun && r == 0; i++) {
        orch_prov_switch_t key;
        snprintf(key.name, sizeof(key.name), "%s", run[i].hostname);
        if (p->nhave > 0 && bsearch(&key, p->have, p->nhave, sizeof(*p->have), by_name) != NULL) {
            if (!run[i].in_fabric && orch_store_set_in_fabric(p->store, run[i].id, 1, now_ms()) == 0)
                p->stats.joined++; /* the producer had it already (orchd was killed before it heard the answer) */
            continue;
        }
        orch_prov_op_t *op = add_op(p, &cap);
        if (op == NULL) {
            r = -ENOMEM;
            break;
        }
        op->node = run[i].id, op->dep = run[i].deployment_id, op->joins = !run[i].in_fabric;
        snprintf(op->name, sizeof(op->name), "%s", run[i].hostname);
    }
    for (size_t i = 0; i < p->nhave && r == 0; i++) {
        int64_t dep = orchd_named(p->have[i].name);
        orch_node_ref_t key;
        snprintf(key.hostname, sizeof(key.hostname), "%s", p->have[i].name);
        if (dep == 0 || (nrun > 0 && bsearch(&key, run, nrun, sizeof(*run), by_hostname) != NULL))
            continue;
        orch_prov_op_t *op = add_op(p, &cap);
        if (op == NULL) {
            r = -ENOMEM;
            break;
        }
        op->del = 1, op->node = p->have[i].node_id, op->dep = dep;
        snprintf(op->name, sizeof(op->name), "%s", p->have[i].name);
    }
    free(run);
    return r;
}

/* The producer could not be asked: each RUNNING node still waiting to join gets its ERROR event (once). */
static void note_waiting(orch_prov_t *p, const char *why)
{
    orch_node_ref_t *run;
    size_t n;
    if (orch_store_running(p->store, 0, &run, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (!run[i].in_fabric)
            orch_store_note_error(p->store, run[i].id, why, now_ms());
    free(run);
}

static void on_list(void *data, int status, const char *body, size_t len, const char *etag, const char *err)
{
    orch_prov_t *p = data;
    int r = status == 304 ? 0 : status == 200 ? parse_list(p, body, len) : -EIO;
    if (r == 0 && status == 200)
        snprintf(p->etag, sizeof(p->etag), "%s", etag ? etag : "");
    if (r != 0) {
        p->stats.failures++;
        p->stats.failing = 1;
        p->etag[0] = '\0';
        char why[512];
        snprintf(why, sizeof(why), "provisioner GET %s/switches failed: %s (HTTP %d)", p->url_text,
                 status == 0 ? (err ? err : "no answer") : r == -EPROTO ? "not a switch list" : "unexpected status", status);
        ft_warn("event=provision_failed reason=\"%s\"", why);
        note_waiting(p, why);
        end_round(p);
        return;
    }
    if (plan(p) != 0) {
        end_round(p);
        return;
    }
    pump(p);
}

void orch_prov_reconcile(orch_prov_t *p)
{
    if (p->kind != ORCH_PROV_PRODUCER || p->busy)
        return;
    p->busy = 1;
    p->stats.rounds++;
    char hdr[200] = "";
    if (p->etag[0])
        snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", p->etag);
    if (ft_httpc_request(&p->http, &p->url, "GET", "/switches", hdr[0] ? hdr : NULL, NULL, 0, on_list, p) != 0)
        end_round(p);
}
