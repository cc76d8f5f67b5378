#include "parse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(flow_error_t *err, int status, const char *field, int64_t index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(flow_error_t *err, int status, const char *field, int64_t index, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->field = field;
    err->index = index;
    return status;
}

static int get_string(json_t *o, const char *key, char *out, flow_error_t *err, int64_t i)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return fail(err, 400, key, i, "flow %lld: '%s' is missing", (long long)i, key);
    size_t len = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || len == 0 || len > FLOW_STR_MAX || memchr(json_string_value(v), '\0', len) != NULL)
        return fail(err, 400, key, i, "flow %lld: '%s' must be a string of 1 to %d bytes", (long long)i, key, FLOW_STR_MAX);
    memcpy(out, json_string_value(v), len + 1); /* jansson has checked the UTF-8 */
    return 0;
}

static int get_int(json_t *o, const char *key, int64_t *out, flow_error_t *err, int64_t i)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return fail(err, 400, key, i, "flow %lld: '%s' is missing", (long long)i, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(err, 400, key, i, "flow %lld: '%s' must be a whole number from 0 to 9223372036854775807", (long long)i, key);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int one(json_t *o, flow_record_t *r, flow_error_t *err, int64_t i)
{
    if (!json_is_object(o))
        return fail(err, 400, NULL, i, "flow %lld is not an object", (long long)i);
    int s;
    if ((s = get_string(o, "src_app", r->src_app, err, i)) || (s = get_string(o, "dest_app", r->dest_app, err, i)) ||
        (s = get_string(o, "vpc_id", r->vpc_id, err, i)) || (s = get_int(o, "hour", &r->hour, err, i)) ||
        (s = get_int(o, "bytes_rx", &r->bytes_rx, err, i)) || (s = get_int(o, "bytes_tx", &r->bytes_tx, err, i)))
        return s;
    return 0;
}

int flow_key_cmp(const flow_record_t *a, const flow_record_t *b)
{
    int c;
    if ((c = strcmp(a->src_app, b->src_app)) || (c = strcmp(a->dest_app, b->dest_app)) || (c = strcmp(a->vpc_id, b->vpc_id)))
        return c;
    return a->hour < b->hour ? -1 : a->hour > b->hour;
}

static int cmp_ptr(const void *a, const void *b)
{
    return flow_key_cmp(*(const flow_record_t *const *)a, *(const flow_record_t *const *)b);
}

/*
 * Sort by key and add up the records that share one; 409 when a sum passes 2^63-1. Records are ~800 bytes:
 * pointers are sorted, and each record is moved once, into its place.
 */
static int merge(flow_batch_t *b, flow_error_t *err)
{
    if (b->n < 2) /* (an empty batch has no array at all: no qsort on NULL) */
        return 0;
    flow_record_t **p = malloc(b->n * sizeof(*p)), *out = malloc(b->n * sizeof(*out));
    if (p == NULL || out == NULL) {
        free(p), free(out);
        return fail(err, 500, NULL, -1, "out of memory");
    }
    for (size_t i = 0; i < b->n; i++)
        p[i] = &b->rec[i];
    qsort(p, b->n, sizeof(*p), cmp_ptr);
    size_t o = 0;
    int status = 0;
    for (size_t i = 0; i < b->n && status == 0; i++) {
        if (o > 0 && flow_key_cmp(&out[o - 1], p[i]) == 0) {
            flow_record_t *d = &out[o - 1];
            if (d->bytes_rx > INT64_MAX - p[i]->bytes_rx || d->bytes_tx > INT64_MAX - p[i]->bytes_tx) {
                status = fail(err, 409, "bytes_rx", -1, "the batch's own sums for %s/%s/%s hour %lld pass 2^63-1", d->src_app,
                              d->dest_app, d->vpc_id, (long long)d->hour);
                break;
            }
            d->bytes_rx += p[i]->bytes_rx;
            d->bytes_tx += p[i]->bytes_tx;
        } else {
            out[o++] = *p[i];
        }
    }
    free(p);
    free(b->rec);
    b->rec = out;
    b->n = o;
    return status;
}

int flow_parse(const char *body, size_t len, size_t max_batch, flow_batch_t *out, flow_error_t *err)
{
    memset(out, 0, sizeof(*out));
    err->field = NULL;
    err->index = -1;
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return fail(err, 400, NULL, -1, "malformed JSON at byte %d: %s", je.position, je.text);
    size_t n = json_is_array(doc) ? json_array_size(doc) : json_is_object(doc) ? 1 : 0;
    int status = 0;
    if (!json_is_array(doc) && !json_is_object(doc))
        status = fail(err, 400, NULL, -1, "the body must be a JSON array of flows, or one flow object");
    else if (n > max_batch)
        status = fail(err, 413, NULL, -1, "%zu flows in one batch; at most %zu (--max-batch)", n, max_batch);
    else if (n > 0 && (out->rec = calloc(n, sizeof(*out->rec))) == NULL)
        status = fail(err, 500, NULL, -1, "out of memory");
    for (size_t i = 0; status == 0 && i < n; i++)
        status = one(json_is_array(doc) ? json_array_get(doc, i) : doc, &out->rec[i], err, (int64_t)i);
    json_decref(doc);
    out->n = out->received = n;
    if (status == 0)
        status = merge(out, err);
    if (status != 0)
        flow_batch_free(out);
    return status;
}

void flow_batch_free(flow_batch_t *b)
{
    free(b->rec);
    b->rec = NULL;
    b->n = 0;
}
