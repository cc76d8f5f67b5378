/* tools/bench: the median the in-process benchmarks report (a copy of the samples is not kept: v is sorted). */
#ifndef FT_BENCH_STATS_H
#define FT_BENCH_STATS_H

#include <stdlib.h>

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), bench_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
