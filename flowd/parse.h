/*
 * flowd/parse — a POST /flows body into flow records, all or nothing.
 *
 * The body is a JSON array of flow objects, or one object (a batch of one):
 *   {"src_app": s, "dest_app": s, "vpc_id": s, "hour": n, "bytes_rx": n, "bytes_tx": n}
 * all six required, other keys ignored. Strings: 1..255 bytes of UTF-8
 * without NUL; hour: an integer >= 0; byte counts: integers 0..2^63-1.
 * 1.5, "100", true, null, a missing key, a negative number, a duplicate key:
 * invalid. One invalid element rejects the whole batch, naming its index and
 * field. Records with the same key are merged (their sums added); a merged
 * sum past 2^63-1 is an overflow (409), like one against the store.
 *
 * Reentrant. Errors: 0 with *out (caller frees with flow_batch_free), or an
 * HTTP status (400 malformed/invalid, 413 too many elements, 409 overflow)
 * with err filled.
 */
#ifndef FLOW_PARSE_H
#define FLOW_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define FLOW_STR_MAX 255

typedef struct flow_record {
    char src_app[FLOW_STR_MAX + 1], dest_app[FLOW_STR_MAX + 1], vpc_id[FLOW_STR_MAX + 1];
    int64_t hour, bytes_rx, bytes_tx;
} flow_record_t;

typedef struct flow_batch {
    flow_record_t *rec; /* merged by key, sorted by key */
    size_t n;
    size_t received;    /* elements in the body (what "accepted" reports) */
} flow_batch_t;

typedef struct flow_error {
    char message[256];
    const char *field; /* NULL: none */
    int64_t index;     /* -1: none */
} flow_error_t;

int flow_parse(const char *body, size_t len, size_t max_batch, flow_batch_t *out, flow_error_t *err);
void flow_batch_free(flow_batch_t *b);

/* Key order (src_app, dest_app, vpc_id, hour) by bytes; the store reads back in the same order. */
int flow_key_cmp(const flow_record_t *a, const flow_record_t *b);

#endif
