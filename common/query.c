#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len) into out; returns the decoded length or -1 on broken %-encoding. */
static long decode(char *out, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    return (long)o;
}

int ft_query_parse(ft_query_t *q, const char *s, size_t len, char *why, size_t whysz)
{
    q->n = 0;
    if (len > sizeof(q->buf)) {
        snprintf(why, whysz, "query string longer than %zu bytes", sizeof(q->buf));
        return -EINVAL;
    }
    size_t used = 0, i = 0;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i) { /* empty pieces ("a=1&&b=2") are skipped */
            const char *eq = memchr(s + i, '=', end - i);
            size_t nend = eq ? (size_t)(eq - s) : end;
            if (q->n == FT_QUERY_MAX) {
                snprintf(why, whysz, "more than %d query parameters", FT_QUERY_MAX);
                return -EINVAL;
            }
            ft_param_t *p = &q->p[q->n];
            long nl = decode(q->buf + used, s + i, nend - i);
            if (nl < 0) {
                snprintf(why, whysz, "broken percent-encoding in a parameter name");
                return -EINVAL;
            }
            p->name = q->buf + used;
            p->name_len = (size_t)nl;
            used += (size_t)nl;
            long vl = eq ? decode(q->buf + used, eq + 1, end - nend - 1) : 0;
            if (vl < 0) {
                snprintf(why, whysz, "broken percent-encoding in the value of '%.*s'", (int)(p->name_len > 40 ? 40 : p->name_len),
                         p->name);
                return -EINVAL;
            }
            p->value = q->buf + used;
            p->value_len = (size_t)vl;
            used += (size_t)vl;
            for (size_t k = 0; k < q->n; k++)
                if (q->p[k].name_len == p->name_len && memcmp(q->p[k].name, p->name, p->name_len) == 0) {
                    snprintf(why, whysz, "parameter '%.*s' given more than once", (int)(p->name_len > 40 ? 40 : p->name_len), p->name);
                    return -EINVAL;
                }
            q->n++;
        }
        i = end + 1;
    }
    return 0;
}

const ft_param_t *ft_query_get(const ft_query_t *q, const char *const *names)
{
    for (size_t k = 0; k < q->n; k++)
        for (const char *const *n = names; *n; n++)
            if (strlen(*n) == q->p[k].name_len && memcmp(*n, q->p[k].name, q->p[k].name_len) == 0)
                return &q->p[k];
    return NULL;
}
