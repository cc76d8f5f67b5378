/* tests for apid/query: decoding, aliases, and every malformed form refused with a reason. */
#include <errno.h>

#include "check.h"
#include "query.h"

static ft_query_t q;
static char why[160];

static const char *value(const char *name, size_t *len)
{
    const char *names[] = {name, NULL};
    const ft_param_t *p = ft_query_get(&q, names);
    if (p == NULL)
        return NULL;
    *len = p->value_len;
    return p->value;
}

static int parse(const char *s)
{
    why[0] = '\0';
    return ft_query_parse(&q, s, strlen(s), why, sizeof(why));
}

int main(void)
{
    size_t len;
    CHECK(parse("switch_id=sw-05&metric=latency") == 0, "plain: %s", why);
    CHECK(q.n == 2, "two params, got %zu", q.n);
    const char *v = value("metric", &len);
    CHECK(v && len == 7 && memcmp(v, "latency", 7) == 0, "metric value");

    CHECK(parse("switch_name=sw%2D05+x&metric_name=a%2cb") == 0, "encoded: %s", why);
    const char *aliases[] = {"switch_id", "switch_name", NULL};
    const ft_param_t *p = ft_query_get(&q, aliases);
    CHECK(p && p->value_len == 7 && memcmp(p->value, "sw-05 x", 7) == 0, "%%2D and + decode");
    v = value("metric_name", &len);
    CHECK(v && len == 3 && memcmp(v, "a,b", 3) == 0, "%%2c decodes to a comma");

    CHECK(parse("a=%00b") == 0, "NUL byte is a value byte: %s", why);
    v = value("a", &len);
    CHECK(v && len == 2 && v[0] == '\0' && v[1] == 'b', "value keeps its NUL byte by length");

    CHECK(parse("") == 0 && q.n == 0, "empty query");
    CHECK(parse("&&a=1&&") == 0 && q.n == 1, "empty pieces skipped, got %zu", q.n);
    CHECK(parse("flag") == 0 && value("flag", &len) && len == 0, "a name without '=' has an empty value");

    CHECK(parse("a=%zz") == -EINVAL && strstr(why, "percent-encoding"), "bad hex refused: %s", why);
    CHECK(parse("a=%4") == -EINVAL, "truncated escape refused");
    CHECK(parse("a=%") == -EINVAL, "lone %% refused");
    CHECK(parse("%g1=x") == -EINVAL && strstr(why, "name"), "bad escape in a name refused: %s", why);
    CHECK(parse("a=1&b=2&a=3") == -EINVAL && strstr(why, "more than once"), "repeated parameter refused: %s", why);

    char many[400] = "";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "p%d=1&", i);
    CHECK(parse(many) == -EINVAL && strstr(why, "more than"), "too many parameters refused: %s", why);
    static char big[FT_QUERY_BYTES + 10];
    memset(big, 'a', sizeof(big) - 1);
    CHECK(parse(big) == -EINVAL && strstr(why, "longer"), "overlong query refused: %s", why);
    return check_report("test_query");
}
