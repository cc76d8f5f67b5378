/*
 * apid/prom — GET /metrics in the Prometheus text exposition format (0.0.4).
 *
 * The service's own figures (answers by route and status, request latency
 * and ingest duration histograms, ingest outcomes and failures by cause, rows
 * rejected, generation, data age, workers alive, restarts, seqlock retries),
 * all lifetime counters or gauges so rates work; then the fabric itself: one
 * series per switch and numeric counter, e.g.
 * fabtel_switch_latency{switch_id="sw-05"}, with HELP and TYPE lines. Columns
 * named in --prom-counters (cumulative values) are typed counter and get the
 * _total suffix; others are gauges; text columns are left out.
 *
 * Who may call: apid/api, in one worker. Errors: 0 or -ENOMEM.
 */
#ifndef API_PROM_H
#define API_PROM_H

#include <stdint.h>

#include "api.h"

int api_prom_render(api_ctx_t *ctx, ft_buf_t *b, uint64_t now_ns);

#endif
