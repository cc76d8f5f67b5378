#include "bottleneck.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROBUST_K 0.6745 /* the normal distribution's MAD in standard deviations (Iglewicz-Hoaglin) */
#define ROBUST_CAP 10.0 /* a z counts at most this much in the score */

double ft_bn_default_threshold(ft_bn_method_t method)
{
    return method == FT_BN_ZSCORE ? 2.0 : 3.5;
}

const char *ft_bn_method_name(ft_bn_method_t method)
{
    return method == FT_BN_ZSCORE ? "zscore" : "robust";
}

int ft_bn_method_parse(const char *s, size_t len, ft_bn_method_t *out)
{
    if (len == 6 && memcmp(s, "robust", 6) == 0)
        *out = FT_BN_ROBUST;
    else if (len == 6 && memcmp(s, "zscore", 6) == 0)
        *out = FT_BN_ZSCORE;
    else
        return -EINVAL;
    return 0;
}

static void set_metric(ft_bn_metric_t *m, const char *name, size_t len, int direction, double weight)
{
    memset(m, 0, sizeof(*m));
    memcpy(m->name, name, len);
    m->direction = direction;
    m->weight = weight;
    m->floor = 0.001;
}

uint32_t ft_bn_default_metrics(ft_bn_metric_t *out)
{
    set_metric(&out[0], "latency", 7, +1, 0.4);
    set_metric(&out[1], "bandwidth_usage", 15, -1, 0.4);
    set_metric(&out[2], "error_rate", 10, +1, 0.2);
    return 3;
}

static int name_ok(const char *s, size_t len)
{
    if (len == 0 || len > FT_BN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* One "name:+w" element into m; 0 or -EINVAL. */
static int parse_one(const char *s, size_t len, ft_bn_metric_t *m)
{
    const char *colon = memchr(s, ':', len);
    if (colon == NULL || !name_ok(s, (size_t)(colon - s)))
        return -EINVAL;
    const char *w = colon + 1, *end = s + len;
    /* A '+' typed into a URL arrives as a space (form encoding): it is the sign all the same. */
    if (w >= end || (*w != '+' && *w != '-' && *w != ' '))
        return -EINVAL;
    char tmp[32], *stop;
    size_t wl = (size_t)(end - w - 1);
    if (wl == 0 || wl >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, w + 1, wl);
    tmp[wl] = '\0';
    double weight = strtod(tmp, &stop);
    if (*stop != '\0' || !isfinite(weight) || weight < 0 || tmp[0] == '+' || tmp[0] == '-' || tmp[0] == ' ')
        return -EINVAL;
    set_metric(m, s, (size_t)(colon - s), *w == '-' ? -1 : +1, weight);
    return 0;
}

int ft_bn_parse_metrics(const char *s, size_t len, ft_bn_metric_t *out, uint32_t *n, char *why, size_t whysz)
{
    const char *end = s + len;
    *n = 0;
    for (int64_t index = 0; s < end || index == 0; index++) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        if (*n == FT_BN_MAX_METRICS) {
            snprintf(why, whysz, "at most %d metrics", FT_BN_MAX_METRICS);
            return -EINVAL;
        }
        if (parse_one(s, (size_t)(stop - s), &out[*n]) != 0) {
            snprintf(why, whysz, "metric %lld is not NAME:+WEIGHT or NAME:-WEIGHT (sign: higher or lower is worse)", (long long)index);
            return -EINVAL;
        }
        for (uint32_t k = 0; k < *n; k++)
            if (strcmp(out[k].name, out[*n].name) == 0) {
                snprintf(why, whysz, "metric %lld names '%s' twice", (long long)index, out[*n].name);
                return -EINVAL;
            }
        (*n)++;
        s = comma ? stop + 1 : end;
        if (comma && s == end) {
            snprintf(why, whysz, "metric %lld is empty", (long long)index + 1);
            return -EINVAL;
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorted in place); the mean of the two middle values for an even count. */
static double median(double *v, uint32_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int judged(const ft_bn_moments_t *m, uint32_t e, uint32_t nmetrics)
{
    for (uint32_t k = 0; k < nmetrics; k++)
        if (m[(size_t)e * nmetrics + k].count < FT_BN_MIN_SAMPLES)
            return 0;
    return 1;
}

/* The reference: z against the mean and sample sd of every sample in the window. */
static void zscores(const ft_bn_metric_t *mt, uint32_t k, uint32_t nmetrics, const ft_bn_moments_t *m, ft_bn_result_t *out,
                    uint32_t nentities)
{
    double n = 0, sum = 0, sumsq = 0;
    for (uint32_t e = 0; e < nentities; e++) {
        const ft_bn_moments_t *x = &m[(size_t)e * nmetrics + k];
        n += (double)x->count, sum += x->sum, sumsq += x->sumsq;
    }
    double mean = n > 0 ? sum / n : 0;
    double var = n > 1 ? (sumsq - n * mean * mean) / (n - 1) : 0;
    double sd = var > 0 && isfinite(var) ? sqrt(var) : 0;
    /* Below ~1e-9 of the mean the variance is rounding, not spread: identical samples must give z 0. */
    if (sd <= 1e-9 * fabs(mean))
        sd = 0;
    for (uint32_t e = 0; e < nentities; e++)
        if (out[e].judged)
            out[e].z[k] = sd > 0 ? mt->direction * (out[e].mean[k] - mean) / sd : 0;
}

/* The default: modified z against the median and MAD of the judged entities' means. */
static int robust(const ft_bn_metric_t *mt, uint32_t k, ft_bn_result_t *out, uint32_t nentities, double *scratch)
{
    uint32_t n = 0;
    for (uint32_t e = 0; e < nentities; e++)
        if (out[e].judged)
            scratch[n++] = out[e].mean[k];
    if (n == 0)
        return 0;
    double med = median(scratch, n);
    n = 0;
    for (uint32_t e = 0; e < nentities; e++)
        if (out[e].judged)
            scratch[n++] = fabs(out[e].mean[k] - med);
    double mad = median(scratch, n);
    double madp = fmax(mad, fmax(0.01 * fabs(med), mt->floor > 0 ? mt->floor : 1e-12));
    for (uint32_t e = 0; e < nentities; e++)
        if (out[e].judged)
            out[e].z[k] = mt->direction * ROBUST_K * (out[e].mean[k] - med) / madp;
    return 0;
}

static void score(ft_bn_method_t method, double threshold, const ft_bn_metric_t *mt, uint32_t nmetrics, ft_bn_result_t *r)
{
    r->score = 0;
    r->max_z = 0;
    for (uint32_t k = 0; k < nmetrics; k++) {
        double z = isfinite(r->z[k]) ? r->z[k] : 0; /* finite always: sd and MAD' are > 0; kept as a guard */
        r->z[k] = z;
        double counted = z > 0 ? z : 0;
        if (method == FT_BN_ROBUST && counted > ROBUST_CAP)
            counted = ROBUST_CAP;
        r->score += mt[k].weight * counted;
        if (k == 0 || z > r->max_z)
            r->max_z = z;
        if (r->judged && z >= threshold)
            r->flagged = 1;
    }
}

static int cmp_result(const void *a, const void *b)
{
    const ft_bn_result_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->max_z != y->max_z)
        return x->max_z > y->max_z ? -1 : 1;
    return x->entity < y->entity ? -1 : x->entity > y->entity;
}

int ft_bn_analyze(ft_bn_method_t method, double threshold, const ft_bn_metric_t *metrics, uint32_t nmetrics,
                  const ft_bn_moments_t *m, uint32_t nentities, ft_bn_result_t *out)
{
    if (nmetrics == 0 || nmetrics > FT_BN_MAX_METRICS || (method != FT_BN_ROBUST && method != FT_BN_ZSCORE))
        return -EINVAL;
    if (!isfinite(threshold))
        threshold = ft_bn_default_threshold(method);
    double *scratch = malloc(((size_t)nentities + 1) * sizeof(double));
    if (scratch == NULL)
        return -ENOMEM;
    for (uint32_t e = 0; e < nentities; e++) {
        memset(&out[e], 0, sizeof(out[e]));
        out[e].entity = e;
        out[e].judged = judged(m, e, nmetrics);
        for (uint32_t k = 0; k < nmetrics && out[e].judged; k++) {
            const ft_bn_moments_t *x = &m[(size_t)e * nmetrics + k];
            out[e].mean[k] = x->sum / (double)x->count;
            if (!isfinite(out[e].mean[k]))
                out[e].judged = 0, out[e].mean[k] = 0;
        }
    }
    for (uint32_t k = 0; k < nmetrics; k++) {
        if (method == FT_BN_ZSCORE)
            zscores(&metrics[k], k, nmetrics, m, out, nentities);
        else
            robust(&metrics[k], k, out, nentities, scratch);
    }
    free(scratch);
    for (uint32_t e = 0; e < nentities; e++)
        score(method, threshold, metrics, nmetrics, &out[e]);
    qsort(out, nentities, sizeof(*out), cmp_result);
    return 0;
}
