/* solvers/kmeans.c — rank-count-independent k-means steps (see kmeans.h for why each detail). */
#include "solvers/kmeans.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/blas.h"

void hr_km_work_init(hr_km_work *w, int d)
{
    w->d = d;
    w->win = hr_malloc((size_t)HR_KM_WINDOW * (size_t)d * sizeof *w->win);
    w->S = hr_malloc((size_t)HR_KM_WINDOW * HR_KM_CHUNK * sizeof *w->S);
}

void hr_km_work_free(hr_km_work *w)
{
    HR_FREE(&w->win);
    HR_FREE(&w->S);
}

void hr_km_half_norms(const float *C, uint32_t nlist, int d, float *hn)
{
    for (uint32_t c = 0; c < nlist; c++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)C[(uint64_t)c * (uint64_t)d + (uint64_t)j] * C[(uint64_t)c * (uint64_t)d + (uint64_t)j];
        hn[c] = (float)(0.5 * s);
    }
}

void hr_km_assign(const float *X, uint64_t t0, uint64_t n, int d, const float *C, const float *hn, uint32_t nlist,
                  uint32_t *assign, float *dist, hr_km_work *w)
{
    const uint64_t W = HR_KM_WINDOW, ud = (uint64_t)d;
    float best[HR_KM_WINDOW];
    uint32_t arg[HR_KM_WINDOW];
    uint64_t x = 0;
    while (x < n) {
        /* the window holding position t0 + x, and the rows of ours inside it */
        uint64_t base = (t0 + x) / W * W, s0 = t0 + x - base;
        uint64_t cnt = W - s0 < n - x ? W - s0 : n - x;
        memset(w->win, 0, W * ud * sizeof *w->win);
        memcpy(w->win + s0 * ud, X + x * ud, cnt * ud * sizeof *w->win);
        for (uint64_t s = 0; s < W; s++) {
            best[s] = INFINITY;
            arg[s] = 0;
        }
        for (uint32_t c0 = 0; c0 < nlist; c0 += HR_KM_CHUNK) {
            uint32_t nc = nlist - c0 < HR_KM_CHUNK ? nlist - c0 : HR_KM_CHUNK;
            /* always HR_KM_CHUNK columns apart in S, and the same call shape for every window */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)W, (int)nc, d, 1.0f, w->win, d, C + (uint64_t)c0 * ud, d, 0.0f,
                        w->S, HR_KM_CHUNK);
            for (uint64_t s = s0; s < s0 + cnt; s++) {
                const float *row = w->S + s * HR_KM_CHUNK;
                float b = best[s];
                uint32_t a = arg[s];
                for (uint32_t c = 0; c < nc; c++) {
                    float v = hn[c0 + c] - row[c];
                    if (v < b) {   /* strict: an equal distance keeps the lower id */
                        b = v;
                        a = c0 + c;
                    }
                }
                best[s] = b;
                arg[s] = a;
            }
        }
        for (uint64_t s = s0; s < s0 + cnt; s++) {
            assign[x + s - s0] = arg[s];
            if (dist) dist[x + s - s0] = best[s];
        }
        x += cnt;
    }
}

int hr_km_fixed_exponent(double maxabs)
{
    if (!(maxabs > 0) || !isfinite(maxabs)) return 0;
    int ex;
    frexp(maxabs, &ex);   /* maxabs < 2^ex */
    return 30 - ex;
}

void hr_km_accumulate(const float *X, uint64_t n, int d, const uint32_t *assign, int e, int64_t *sums, int64_t *counts)
{
    const uint64_t ud = (uint64_t)d;
    for (uint64_t x = 0; x < n; x++) {
        int64_t *s = sums + (uint64_t)assign[x] * ud;
        const float *r = X + x * ud;
        for (uint64_t j = 0; j < ud; j++) s[j] += (int64_t)llrint(ldexp((double)r[j], e));
        counts[assign[x]]++;
    }
}

uint32_t hr_km_update(const int64_t *sums, const int64_t *counts, uint32_t nlist, int d, int e, float *C)
{
    const uint64_t ud = (uint64_t)d;
    int64_t *cnt = hr_malloc((nlist ? nlist : 1) * sizeof *cnt);
    memcpy(cnt, counts, nlist * sizeof *cnt);
    for (uint32_t c = 0; c < nlist; c++) {
        if (!cnt[c]) continue;
        for (uint64_t j = 0; j < ud; j++) C[c * ud + j] = (float)(ldexp((double)sums[c * ud + j], -e) / (double)cnt[c]);
    }
    uint32_t splits = 0;
    for (uint32_t c = 0; c < nlist; c++) {
        if (cnt[c]) continue;
        uint32_t big = 0;
        for (uint32_t b = 1; b < nlist; b++)
            if (cnt[b] > cnt[big]) big = b;
        if (cnt[big] < 2) break;   /* nothing left to split: fewer rows than lists */
        const float eps = 1.0f / 1024.0f;
        for (uint64_t j = 0; j < ud; j++) {
            float v = C[big * ud + j];
            C[(uint64_t)c * ud + j] = v * (j % 2 ? 1 - eps : 1 + eps);
            C[big * ud + j] = v * (j % 2 ? 1 + eps : 1 - eps);
        }
        cnt[c] = cnt[big] / 2;
        cnt[big] -= cnt[c];
        splits++;
    }
    hr_free(cnt);
    return splits;
}

uint64_t hr_km_priority(uint64_t seed, int purpose, uint64_t item)
{
    hr_rng r = hr_rng_stream(seed, HR_STREAM_INDEX, item * 4 + (uint64_t)purpose);
    return hr_rng_u64(&r);
}
