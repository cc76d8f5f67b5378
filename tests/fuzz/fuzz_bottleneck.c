/*
 * libFuzzer target: the bottleneck module's metrics list (it comes from a query string), and the analysis on
 * moments made of the input's bytes: whatever they are, every number out is finite and the ranking is ordered.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bottleneck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    ft_bn_metric_t m[FT_BN_MAX_METRICS];
    uint32_t nm;
    char why[160];
    if (ft_bn_parse_metrics((const char *)data, slen, m, &nm, why, sizeof(why)) != 0) {
        if (why[0] == '\0')
            abort(); /* a refusal always says why */
        nm = ft_bn_default_metrics(m);
    }
    const uint8_t *rest = nul ? nul + 1 : data + size;
    size_t rlen = (size_t)(data + size - rest);
    uint32_t ne = (uint32_t)(rlen / (nm * 3) + 1);
    if (ne > 64)
        ne = 64;
    ft_bn_moments_t *mo = calloc((size_t)ne * nm, sizeof(*mo));
    ft_bn_result_t *r = calloc(ne, sizeof(*r));
    for (size_t i = 0; i < (size_t)ne * nm; i++) {
        uint8_t a = i * 3 < rlen ? rest[i * 3] : 0, b = i * 3 + 1 < rlen ? rest[i * 3 + 1] : 0, c = i * 3 + 2 < rlen ? rest[i * 3 + 2] : 0;
        double v = (double)(int8_t)b * pow(10, (c % 13) - 6);
        mo[i] = (ft_bn_moments_t){a % 16, v * (a % 16), v * v * (a % 16)};
    }
    for (int method = 0; method < 2; method++) {
        if (ft_bn_analyze((ft_bn_method_t)method, NAN, m, nm, mo, ne, r) != 0)
            abort();
        for (uint32_t e = 0; e < ne; e++) {
            if (!isfinite(r[e].score) || !isfinite(r[e].max_z) || (e > 0 && r[e].score > r[e - 1].score))
                abort();
            for (uint32_t k = 0; k < nm; k++)
                if (!isfinite(r[e].z[k]) || !isfinite(r[e].mean[k]))
                    abort();
        }
    }
    free(mo);
    free(r);
    return 0;
}
