/* solvers/mips.c — index vectors and the MIPS-to-L2 reduction (see mips.h). */
#include "solvers/mips.h"

#include <math.h>
#include <string.h>

const char *hr_metric_name(hr_metric m) { return m == HR_METRIC_COSINE ? "cosine" : "ip"; }

int hr_metric_parse(const char *s, hr_metric *out)
{
    if (!strcmp(s, "ip")) *out = HR_METRIC_IP;
    else if (!strcmp(s, "cosine")) *out = HR_METRIC_COSINE;
    else return -1;
    return 0;
}

int hr_mips_uses_bias(hr_metric m, int model_has_bias) { return m == HR_METRIC_IP && model_has_bias; }

int hr_mips_dim(hr_metric m, int k, int has_bias) { return k + (hr_mips_uses_bias(m, has_bias) ? 1 : 0); }

static double sq(const float *y, int k)
{
    double s = 0;
    for (int j = 0; j < k; j++) s += (double)y[j] * y[j];
    return s;
}

double hr_mips_norm2(hr_metric m, const float *y, const float *b, int k)
{
    if (m == HR_METRIC_COSINE) return sq(y, k) > 0 ? 1.0 : 0.0;
    return sq(y, k) + (b ? (double)*b * *b : 0.0);
}

void hr_mips_scan_row(hr_metric m, const float *y, int k, float *out)
{
    if (m == HR_METRIC_IP) {
        if (out != y) memcpy(out, y, (size_t)k * sizeof *out);
        return;
    }
    double s = sq(y, k);
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int j = 0; j < k; j++) out[j] = y[j] * inv;
}

void hr_mips_augment_row(hr_metric m, const float *y, const float *b, int k, double M2, float *out)
{
    hr_mips_scan_row(m, y, k, out);
    int d = k;
    if (m == HR_METRIC_IP && b) out[d++] = *b;
    double e = M2 - hr_mips_norm2(m, y, b, k);
    out[d] = e > 0 ? (float)sqrt(e) : 0.0f;
}
