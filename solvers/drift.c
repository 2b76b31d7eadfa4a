/* solvers/drift.c — shift and overlap measures (see drift.h). */
#include "solvers/drift.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

const double HR_DRIFT_VALUE_EDGES[HR_DRIFT_VALUE_BUCKETS - 1] = { 0, 1, 2, 3, 4, 5, 10, 100, 1000 };

int hr_drift_log_bucket(uint64_t c)
{
    int b = 0;
    while (c > 1 && b < HR_DRIFT_LOG_BUCKETS - 1) {
        c >>= 1;
        b++;
    }
    return b;
}

int hr_drift_value_bucket(double v)
{
    int b = 0;
    while (b < HR_DRIFT_VALUE_BUCKETS - 1 && !(v <= HR_DRIFT_VALUE_EDGES[b])) b++;
    return b;
}

static double total(const uint64_t *h, int n)
{
    double s = 0;
    for (int b = 0; b < n; b++) s += (double)h[b];
    return s;
}

double hr_drift_psi(const uint64_t *base, const uint64_t *cur, int n)
{
    double sp = total(base, n), sq = total(cur, n), psi = 0;
    if (sp == 0 && sq == 0) return 0;
    for (int b = 0; b < n; b++) {
        if (base[b] == 0 && cur[b] == 0) continue;
        double p = sp > 0 ? (double)base[b] / sp : 0, q = sq > 0 ? (double)cur[b] / sq : 0;
        if (p < HR_DRIFT_EPS) p = HR_DRIFT_EPS;
        if (q < HR_DRIFT_EPS) q = HR_DRIFT_EPS;
        psi += (q - p) * log(q / p);
    }
    return psi;
}

double hr_drift_jsd(const uint64_t *base, const uint64_t *cur, int n)
{
    double sp = total(base, n), sq = total(cur, n), d = 0;
    if (sp == 0 || sq == 0) return 0;
    for (int b = 0; b < n; b++) {
        double p = (double)base[b] / sp, q = (double)cur[b] / sq, m = 0.5 * (p + q);
        if (p > 0) d += 0.5 * p * log2(p / m);
        if (q > 0) d += 0.5 * q * log2(q / m);
    }
    return d < 0 ? 0 : d > 1 ? 1 : d;
}

static int in_list(uint64_t x, const uint64_t *l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (l[i] == x) return 1;
    return 0;
}

double hr_drift_jaccard(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb)
{
    if (na == 0 && nb == 0) return 1;
    uint32_t both = 0;
    for (uint32_t i = 0; i < na; i++) both += (uint32_t)in_list(a[i], b, nb);
    return (double)both / (double)(na + nb - both);
}

double hr_drift_rbo(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb, double p)
{
    if (na == 0 && nb == 0) return 1;
    if (na == 0 || nb == 0) return 0;
    /* S the shorter list (length s), L the longer (length l) */
    const uint64_t *S = na <= nb ? a : b, *L = na <= nb ? b : a;
    uint32_t s = na <= nb ? na : nb, l = na <= nb ? nb : na;
    double sum = 0, pd = 1, x = 0, xs = 0;   /* x = X_d, the overlap at depth d */
    for (uint32_t d = 1; d <= l; d++) {
        pd *= p;
        /* X_d - X_{d-1}: the new element of L (in S's first min(d, s)) and, while d <= s, the
         * new element of S (in L's first d); an element equal in both counts once */
        if (d <= s) {
            uint64_t sd = S[d - 1], ld = L[d - 1];
            if (sd == ld) x += 1;
            else x += in_list(sd, L, d - 1) + in_list(ld, S, d - 1);
        } else {
            x += in_list(L[d - 1], S, s);
        }
        if (d == s) xs = x;
        sum += x / d * pd;
        if (d > s) sum += xs * (double)(d - s) / ((double)s * d) * pd;
    }
    double r = (1 - p) / p * sum + ((x - xs) / l + xs / s) * pd;
    return r < 0 ? 0 : r > 1 ? 1 : r;
}

static int cmp_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a < b) - (a > b);
}

double hr_drift_head_share(const uint64_t *counts, uint64_t n, double fraction)
{
    if (n == 0) return 0;
    uint64_t *c = hr_malloc(n * sizeof *c), tot = 0, head = 0;
    memcpy(c, counts, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_desc);
    uint64_t h = (uint64_t)ceil(fraction * (double)n);
    if (h < 1) h = 1;
    if (h > n) h = n;
    for (uint64_t i = 0; i < n; i++) {
        tot += c[i];
        if (i < h) head += c[i];
    }
    hr_free(c);
    return tot ? (double)head / (double)tot : 0;
}

uint64_t hr_drift_fix(double v)
{
    if (!(v > 0)) return 0;
    if (v > 1) v = 1;
    return (uint64_t)llround(v * (double)(1ULL << HR_DRIFT_FIX_BITS));
}

double hr_drift_unfix(uint64_t sum) { return (double)sum / (double)(1ULL << HR_DRIFT_FIX_BITS); }
