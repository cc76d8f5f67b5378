/*
 * common/query — a request's query string, percent-decoded into parameters (apid, flowd, orchd).
 *
 * Owns: a fixed table of at most FT_QUERY_MAX parameters whose decoded
 * names and values live in the struct's own buffer (no allocation; a query
 * longer than the buffer is refused). '+' decodes to a space. Values are
 * byte strings (they may hold any byte, %00 included); callers compare them
 * by length and escape them wherever they are shown.
 *
 * Errors (ft_query_parse): 0, or -EINVAL with `why` set to a sentence for a
 * 400 answer: broken percent-encoding, a parameter given twice, too many
 * parameters, or a query too long.
 */
#ifndef FT_QUERY_H
#define FT_QUERY_H

#include <stddef.h>

#define FT_QUERY_MAX 32
#define FT_QUERY_BYTES 8192

typedef struct ft_param {
    const char *name, *value;
    size_t name_len, value_len;
} ft_param_t;

typedef struct ft_query {
    ft_param_t p[FT_QUERY_MAX];
    size_t n;
    char buf[FT_QUERY_BYTES];
} ft_query_t;

int ft_query_parse(ft_query_t *q, const char *s, size_t len, char *why, size_t whysz);
/* The first parameter named any of the NULL-terminated names; NULL when absent. */
const ft_param_t *ft_query_get(const ft_query_t *q, const char *const *names);

#endif
