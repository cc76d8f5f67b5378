#include "probe.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "log.h"

#define PROBE_MS 1000

typedef struct target {
    struct api_probe *p;
    int index, busy, parsed;
    h2o_url_t url;
} target_t;

struct api_probe {
    h2o_context_t *ctx;
    api_ctx_t *api;
    ft_httpc_t http;
    h2o_timeout_t every;
    h2o_timeout_entry_t tick;
    target_t t[API_UPSTREAMS];
};

/* orchd's /health: {"status", "database", "active_deployments", "active_workers", ...}; flowd's says less. */
static void on_health(void *data, int status, const char *body, size_t len, const char *etag, const char *err)
{
    (void)etag, (void)err;
    target_t *t = data;
    api_component_t *c = &t->p->api->components[t->index];
    t->busy = 0;
    json_t *doc = status ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(doc)) {
        if (c->state != -1)
            ft_info("event=upstream_down upstream=%s status=%d", t->p->api->cfg.upstreams[t->index].name, status);
        *c = (api_component_t){-1, 0, -1, -1};
        json_decref(doc);
        return;
    }
    json_t *db = json_object_get(doc, "database"), *ad = json_object_get(doc, "active_deployments"),
           *aw = json_object_get(doc, "active_workers");
    *c = (api_component_t){1, json_is_string(db) && strcmp(json_string_value(db), "healthy") == 0,
                           json_is_integer(ad) ? json_integer_value(ad) : -1, json_is_integer(aw) ? json_integer_value(aw) : -1};
    json_decref(doc);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    api_probe_t *p = H2O_STRUCT_FROM_MEMBER(api_probe_t, tick, entry);
    h2o_timeout_link(p->ctx->loop, &p->every, &p->tick);
    for (int i = 0; i < API_UPSTREAMS; i++)
        if (p->t[i].parsed && !p->t[i].busy && ft_httpc_request(&p->http, &p->t[i].url, "GET", "/health", NULL, NULL, 0, on_health, &p->t[i]) == 0)
            p->t[i].busy = 1;
}

api_probe_t *api_probe_create(h2o_context_t *ctx, api_ctx_t *api)
{
    api_probe_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->ctx = ctx;
    p->api = api;
    ft_httpc_init(&p->http, ctx, PROBE_MS / 1000.0);
    for (int i = 0; i < API_UPSTREAMS; i++) {
        p->t[i].p = p;
        p->t[i].index = i;
        const char *url = api->cfg.upstreams[i].url;
        p->t[i].parsed = url != NULL && h2o_url_parse(url, SIZE_MAX, &p->t[i].url) == 0;
    }
    h2o_timeout_init(ctx->loop, &p->every, PROBE_MS);
    p->tick.cb = on_tick;
    on_tick(&p->tick); /* ask at once: /health knows within a moment of the start */
    return p;
}

void api_probe_destroy(api_probe_t *p)
{
    if (p == NULL)
        return;
    h2o_timeout_unlink(&p->tick);
    for (int k = 0; k < 40 && ft_httpc_inflight(&p->http) > 0; k++)
        h2o_evloop_run(p->ctx->loop, 50);
    h2o_timeout_dispose(p->ctx->loop, &p->every);
    ft_httpc_destroy(&p->http);
    free(p);
}
