/*
 * apid/query — a request's query string, percent-decoded into parameters.
 *
 * Owns: a fixed table of at most API_QUERY_MAX parameters whose decoded
 * names and values live in the struct's own buffer (no allocation; a query
 * longer than the buffer is refused). '+' decodes to a space. Values are
 * byte strings (they may hold any byte, %00 included); callers compare them
 * by length and escape them wherever they are shown.
 *
 * Errors (api_query_parse): 0, or -EINVAL with `why` set to a sentence for a
 * 400 answer: broken percent-encoding, a parameter given twice, too many
 * parameters, or a query too long.
 */
#ifndef API_QUERY_H
#define API_QUERY_H

#include <stddef.h>

#define API_QUERY_MAX 32
#define API_QUERY_BYTES 8192

typedef struct api_param {
    const char *name, *value;
    size_t name_len, value_len;
} api_param_t;

typedef struct api_query {
    api_param_t p[API_QUERY_MAX];
    size_t n;
    char buf[API_QUERY_BYTES];
} api_query_t;

int api_query_parse(api_query_t *q, const char *s, size_t len, char *why, size_t whysz);
/* The first parameter named any of the NULL-terminated names; NULL when absent. */
const api_param_t *api_query_get(const api_query_t *q, const char *const *names);

#endif
