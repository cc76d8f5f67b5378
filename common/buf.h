/*
 * common/buf — a growable byte buffer (like redis's sds, but caller-owned).
 *
 * ft_buf_init/ft_buf_destroy own the memory; appends grow it geometrically.
 * Not thread-safe. Errors: appends return 0 or -ENOMEM, and after a failed
 * append the buffer is marked failed (b->failed) so a long render can check
 * once at the end instead of after every append.
 */
#ifndef FT_BUF_H
#define FT_BUF_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ft_buf {
    char *data;
    size_t len, cap;
    int failed;
} ft_buf_t;

static inline void ft_buf_init(ft_buf_t *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

static inline void ft_buf_destroy(ft_buf_t *b)
{
    free(b->data);
    ft_buf_init(b);
}

/* Make room for `more` bytes past len. */
static inline int ft_buf_reserve(ft_buf_t *b, size_t more)
{
    if (b->failed)
        return -ENOMEM;
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    char *p = (char *)realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int ft_buf_append(ft_buf_t *b, const void *p, size_t n)
{
    if (n == 0) /* nothing to copy (and an empty buffer may have no memory yet: memcpy from or to NULL is undefined) */
        return b->failed ? -ENOMEM : 0;
    if (ft_buf_reserve(b, n) != 0)
        return -ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int ft_buf_puts(ft_buf_t *b, const char *s)
{
    return ft_buf_append(b, s, strlen(s));
}

/* printf onto the end (short pieces: a JSON key, a number); -ENOMEM like append. */
static inline int ft_buf_appendf(ft_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int ft_buf_appendf(ft_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ft_buf_reserve(b, (size_t)n + 1) != 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

#endif
