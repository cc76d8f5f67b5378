/* libFuzzer target: the query-string parser, JSON escaping of whatever it decodes, and the shard spec "I/N" of each value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ft_query_t q;
    char why[160];
    if (ft_query_parse(&q, (const char *)data, size, why, sizeof(why)) != 0) {
        if (why[0] == '\0')
            abort(); /* a refusal always says why */
        return 0;
    }
    for (size_t i = 0; i < q.n; i++) {
        char *out = malloc(ft_json_escape_bound(q.p[i].value_len) + 1);
        size_t n = ft_json_escape(out, q.p[i].value, q.p[i].value_len);
        if (ft_utf8_valid_prefix(out, n) != n) /* escaping always yields valid UTF-8 */
            abort();
        free(out);
        char spec[64];
        uint32_t si, sn;
        snprintf(spec, sizeof(spec), "%.*s", (int)(q.p[i].value_len < 63 ? q.p[i].value_len : 63), q.p[i].value);
        if (ft_shard_parse(spec, &si, &sn) == 0 && (sn < 1 || sn > 65536 || si >= sn || ft_shard_of(spec, strlen(spec), sn) >= sn))
            abort(); /* an accepted spec is a shard of N, and every key lands in one */
    }
    return 0;
}
