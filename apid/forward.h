/*
 * apid/forward — requests under /deployments and /flows go to the daemon
 * that owns them (orchd, flowd), from the worker's event loop, with libh2o's
 * HTTP client; the answer comes back as the upstream gave it.
 *
 * Passed on: method, path and query, body, and the headers that matter
 * (Content-Type, Idempotency-Key, If-None-Match, Authorization). Passed back:
 * status, body and Content-Type, ETag, Location, Retry-After, Cache-Control,
 * Allow. A write (POST, PUT, DELETE, PATCH) uses a fresh connection
 * ("Connection: close"), so it never lands on a pooled connection the
 * upstream has just closed, and is never sent twice. A read (GET, HEAD) uses
 * a pooled keep-alive connection (a fresh connection per request caps
 * loopback at a quarter of the upstream's rate), and is sent once more on a
 * fresh connection if the pooled one turns out dead. When the upstream
 * cannot be reached the answer is fabtel's JSON error: 503 (refused), 504
 * (silent for --forward-timeout), 502 (closed without a whole answer, or an
 * answer over 64 MiB).
 *
 * Who may call: an apid worker, on its loop thread. The forwarder lives as
 * long as the worker's h2o context and is destroyed before it.
 */
#ifndef API_FORWARD_H
#define API_FORWARD_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "api.h"

typedef struct api_forwarder api_forwarder_t;

/* Called once per forwarded request, after its answer was sent: status and microseconds taken. */
typedef void (*api_forward_done_fn)(void *data, int route, int status, uint64_t us);

api_forwarder_t *api_forwarder_create(h2o_context_t *ctx, const api_config_t *cfg, api_forward_done_fn done, void *data);
void api_forwarder_destroy(api_forwarder_t *f);

/* 0: the upstream URL is an http:// URL with a host (why says what is wrong otherwise). */
int api_upstream_check(const char *url, char *why, size_t whysz);

/* Forward req to upstream u (API_UPSTREAM_*); the answer is sent when it comes. route: for the statistics. */
void api_forward(api_forwarder_t *f, h2o_req_t *req, int u, int route);

#endif
