/*
 * bottleneck — which entities (switches, a deployment's nodes) deviate from
 * their peers, by how much, worst first. Pure functions over window moments;
 * shared by apid (the fabric's bottlenecks) and orchd (a deployment's).
 *
 * Input, per entity and metric: the samples in the analysis window as
 * moments (count, sum, sum of squares); a metric has a direction (+1: higher
 * is worse, latency, error rate; -1: lower is worse, throughput) and a
 * weight. An entity needs FT_BN_MIN_SAMPLES samples of every metric to be
 * judged; others are reported unjudged (z 0, never flagged).
 *
 * Two methods:
 *  - FT_BN_ZSCORE, the seed-003 reference exactly: per metric, the baseline
 *    mean and sample standard deviation (n-1) over all samples of the window;
 *    z = direction * (entity mean - baseline mean) / sd (0 when sd is 0);
 *    flagged when any z >= 2.0; score = sum of weight * max(0, z). Kept for
 *    compatibility, and it cannot do the job: a bad entity inflates the
 *    baseline it is measured against, so one bad node among five never
 *    reaches 2.0 (z tends to 1.98 as samples grow) and two bad among five can
 *    never be flagged whatever the data (the squares of the z's sum below n).
 *  - FT_BN_ROBUST, the default: per metric, the median of the judged
 *    entities' means and their median absolute deviation (MAD); the modified
 *    z (Iglewicz-Hoaglin) = direction * 0.6745 * (mean - median) / MAD', with
 *    MAD' = max(MAD, 1% of |median|, the metric's absolute floor) so that
 *    identical healthy peers do not make any tiny difference infinite and a
 *    zero median (error rates) stays finite; flagged when any z >= 3.5;
 *    score = sum of weight * min(10, max(0, z)) (a cap, so the metric with the
 *    least natural spread does not decide the ranking alone). A median is
 *    robust only while fewer than half the entities are bad: when most are,
 *    the median is bad and few are flagged.
 *
 * Ranking: score, then the largest uncapped directional z, then entity index.
 * Every number produced is finite.
 *
 * Reentrant; no allocation except in ft_bn_analyze (scratch, freed).
 * Errors: 0 or a negative errno (-EINVAL: bad arguments; -ENOMEM).
 */
#ifndef FT_BOTTLENECK_H
#define FT_BOTTLENECK_H

#include <stddef.h>
#include <stdint.h>

#define FT_BN_MAX_METRICS 8
#define FT_BN_MIN_SAMPLES 3
#define FT_BN_NAME_MAX 63

typedef enum { FT_BN_ROBUST = 0, FT_BN_ZSCORE = 1 } ft_bn_method_t;

typedef struct ft_bn_metric {
    char name[FT_BN_NAME_MAX + 1];
    int direction;  /* +1 higher is worse, -1 lower is worse */
    double weight;  /* >= 0 */
    double floor;   /* robust: the smallest MAD' (default 0.001 of the metric's unit) */
} ft_bn_metric_t;

typedef struct ft_bn_moments {
    uint64_t count;
    double sum, sumsq;
} ft_bn_moments_t;

typedef struct ft_bn_result {
    uint32_t entity;
    int judged, flagged;
    double score, max_z; /* max_z: the largest directional z, uncapped (0 when unjudged) */
    double mean[FT_BN_MAX_METRICS], z[FT_BN_MAX_METRICS];
} ft_bn_result_t;

/* The default threshold of a method (robust 3.5, zscore 2.0), and its name ("robust", "zscore"). */
double ft_bn_default_threshold(ft_bn_method_t method);
const char *ft_bn_method_name(ft_bn_method_t method);
/* "robust" or "zscore" (length-delimited); -EINVAL otherwise. */
int ft_bn_method_parse(const char *s, size_t len, ft_bn_method_t *out);

/*
 * The seed's default metrics over the fabric's columns: latency (+, 0.4), bandwidth_usage (-, 0.4, the
 * seed's throughput), error_rate (+, 0.2); floors 0.001.
 */
uint32_t ft_bn_default_metrics(ft_bn_metric_t *out);

/*
 * "name:+w,name:-w,…" (sign: direction, a space standing for '+' as a URL's '+' decodes to one; w: weight, a
 * finite number >= 0): at most FT_BN_MAX_METRICS,
 * names unique, 1..63 bytes of [A-Za-z0-9_.-]. 0 with *n set, or -EINVAL with `why` naming the element.
 */
int ft_bn_parse_metrics(const char *s, size_t len, ft_bn_metric_t *out, uint32_t *n, char *why, size_t whysz);

/*
 * Judge nentities entities over nmetrics metrics. m[e * nmetrics + k] holds entity e's moments of metric k.
 * threshold: the method's default when it is not finite. out: nentities results, ranked worst first.
 */
int ft_bn_analyze(ft_bn_method_t method, double threshold, const ft_bn_metric_t *metrics, uint32_t nmetrics,
                  const ft_bn_moments_t *m, uint32_t nentities, ft_bn_result_t *out);

#endif
