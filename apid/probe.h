/*
 * apid/probe — each worker asks orchd's and flowd's /health once a second, in
 * the background on its own loop (httpd/client.h), and keeps the last answer
 * in api_ctx_t.components, so that apid's /health reports them without ever
 * waiting for them: telemetry's health does not depend on a daemon that is
 * down, and a load balancer's probe stays instant.
 *
 * Who may call: the worker's loop thread. Errors: NULL from create (ENOMEM).
 */
#ifndef API_PROBE_H
#define API_PROBE_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "api.h"

typedef struct api_probe api_probe_t;

api_probe_t *api_probe_create(h2o_context_t *ctx, api_ctx_t *api);
/* Stop asking; waits (on the loop) for questions in flight, at most their 1 s deadline. */
void api_probe_destroy(api_probe_t *p);

#endif
