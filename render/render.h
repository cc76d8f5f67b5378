/*
 * render — the JSON answers built from a snapshot view (shm/snapshot.h).
 *
 * One renderer serves ingestd (which pre-renders the unfiltered ListMetrics
 * body into each slot once per generation) and apid (filtered lists,
 * GetMetric), so both produce byte-identical JSON. The renderer reads the
 * slot through the view only; it may read a torn slot, so callers render into
 * a private buffer and discard it when ft_snap_retry() says so.
 *
 * apid's telemetry answers are rendered here (fast, allocation-free
 * on the hot path, straight from the slot); its service documents (health,
 * performance) are built with jansson.
 *
 * Format: numbers are JSON numbers (64-bit integers exactly, doubles in their
 * shortest round-trip form), text columns JSON strings, names escaped, an
 * absent value `null`; a stale row carries "stale":true.
 *
 * Thread safety: reentrant. Errors: 0, or -ENOMEM when the buffer could not grow.
 */
#ifndef FT_RENDER_H
#define FT_RENDER_H

#include <stdint.h>

#include "buf.h"
#include "json.h"
#include "snapshot.h"

typedef struct ft_render_filter {
    const uint32_t *cols; /* column indices to show, in this order; NULL: every present column */
    uint32_t ncols;
    const uint32_t *rows; /* row indices to show, in this order; NULL: every present row by index */
    uint32_t nrows;
    uint64_t offset, limit; /* a page of the selected rows; limit UINT64_MAX: all */
} ft_render_filter_t;

/* {"generation":N,"collected_at":"…Z","metrics":[{...},...]} (plus "total" and "offset" when paged). */
int ft_render_list(ft_buf_t *b, const ft_snap_t *v, const ft_render_filter_t *f);

/* The JSON value of one cell ("null" for an absent one). */
int ft_render_cell(ft_buf_t *b, const ft_snap_t *v, uint32_t type, uint64_t cell);

/* {"switch_id":…,"metric":…,"value":…,"timestamp":…,"collected_at":…,"generation":N[,"stale":true]} */
/* A row shown while absent (shm/layout.h FT_ROW_SHOWN_ABSENT) answers "value":null,"present":false. */
int ft_render_metric(ft_buf_t *b, const ft_snap_t *v, uint32_t row, uint32_t col);

/*
 * {"generation":N,"counters":[{"name":…,"type":"int"|"float"|"text"[,"kind":"counter"|"gauge","scale":N]},…]}:
 * the present columns; numeric ones say whether they are cumulative and what a unit is worth.
 */
int ft_render_counters(ft_buf_t *b, const ft_snap_t *v);

/* Column index of the switch's own sample time ("timestamp"), or -1. */
int64_t ft_render_timestamp_col(const ft_snap_t *v);

#endif
