/* solvers/bootstrap.c — paired bootstrap comparison of two models' per-user metric values
 * (definition and contract in metrics.h). */
#include "solvers/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"

static const char *const verdict_names[] = {
    [HR_CMP_NO_DIFFERENCE] = "no_difference",
    [HR_CMP_BETTER] = "better",
    [HR_CMP_WORSE] = "worse",
};

const char *hr_metrics_verdict_name(hr_cmp_verdict v)
{
    return (unsigned)v < sizeof verdict_names / sizeof verdict_names[0] ? verdict_names[v] : "?";
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile p of sorted[0..n) with linear interpolation at position p * (n - 1). */
static double quantile_sorted(const double *sorted, size_t n, double p)
{
    const double h = p * (double)(n - 1);
    const size_t i = (size_t)h;
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + (h - (double)i) * (sorted[i + 1] - sorted[i]);
}

int hr_metrics_compare_paired(const double *a, const double *b, size_t n, uint32_t n_resamples,
                              uint64_t seed, hr_paired_result *out, hr_error *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return hr_error_set(err, HR_ERR_ARG, "paired comparison: no users to compare");
    const uint32_t B = n_resamples ? n_resamples : HR_BOOTSTRAP_DEFAULT_RESAMPLES;

    /* The differences are formed once so that each resample is a pure gather-and-add: O(n) per
     * resample, no allocation inside the loop. */
    double *d = hr_malloc(n * sizeof *d);
    double total = 0;
    for (size_t u = 0; u < n; u++) {
        if (!isfinite(a[u]) || !isfinite(b[u])) {
            hr_free(d);
            return hr_error_set(err, HR_ERR_ARG,
                                "paired comparison: user #%zu has a non-finite metric value "
                                "(a=%g, b=%g)", u, a[u], b[u]);
        }
        d[u] = b[u] - a[u];
        total += d[u];
    }

    /* Resample r draws from its own stream (seed, BOOTSTRAP, r), so a resample's indices do not
     * depend on how many came before it: the result is reproducible and the loop could be
     * split across threads or ranks without changing a bit. */
    double *means = hr_malloc((size_t)B * sizeof *means);
    for (uint32_t r = 0; r < B; r++) {
        hr_rng g = hr_rng_stream(seed, HR_STREAM_BOOTSTRAP, r);
        double s = 0;
        for (size_t i = 0; i < n; i++) s += d[hr_rng_below(&g, n)];
        means[r] = s / (double)n;
    }
    qsort(means, B, sizeof *means, cmp_double);

    out->mean = total / (double)n;
    out->lo = quantile_sorted(means, B, 0.025);
    out->hi = quantile_sorted(means, B, 0.975);
    out->resamples = B;
    out->verdict = out->lo > 0 ? HR_CMP_BETTER : out->hi < 0 ? HR_CMP_WORSE : HR_CMP_NO_DIFFERENCE;
    hr_free(means);
    hr_free(d);
    return HR_OK;
}
