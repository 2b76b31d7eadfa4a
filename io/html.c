/* io/html.c — HTML page and inline SVG charts (see html.h). */
#include "io/html.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/alloc.h"

static const char *const COLORS[] = { "#2b6cb0", "#dd6b20", "#2f855a", "#9b2c2c", "#6b46c1", "#718096" };
#define NCOLORS 6

static const char CSS[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1100px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #cbd5e0;padding-bottom:4px;margin-top:32px}"
    "h3{font-size:15px}table{border-collapse:collapse;margin:8px 0}"
    "td,th{border:1px solid #e2e8f0;padding:3px 8px;text-align:right}th{background:#f7fafc}"
    "td:first-child,th:first-child{text-align:left}"
    "tr.refused td{background:#fed7d7}tr.rolledback td{background:#feebc8}tr.current td{background:#c6f6d5}"
    ".note{color:#4a5568}.warn{color:#9b2c2c;font-weight:600}"
    "svg{background:#fff;border:1px solid #e2e8f0;margin:6px 0;display:block}"
    "svg text{font:11px system-ui,sans-serif;fill:#2d3748}svg .axis{stroke:#a0aec0;stroke-width:1}"
    "svg .grid{stroke:#edf2f7}.legend span{display:inline-block;margin-right:14px}"
    ".legend i{display:inline-block;width:10px;height:10px;margin-right:4px}";

int hr_html_open(hr_html *h, const char *path, const char *title, hr_error *err)
{
    memset(h, 0, sizeof *h);
    h->f = fopen(path, "w");
    if (!h->f) return hr_error_set(err, HR_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    size_t n = strlen(path);
    h->path = hr_malloc(n + 1);
    memcpy(h->path, path, n + 1);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
          "<title>", h->f);
    hr_html_text(h, title);
    fprintf(h->f, "</title><style>%s</style></head><body>\n", CSS);
    return 0;
}

int hr_html_close(hr_html *h, hr_error *err)
{
    if (!h->f) return 0;
    fputs("</body></html>\n", h->f);
    int bad = ferror(h->f);
    int e = errno;
    if (fclose(h->f) != 0) bad = 1, e = errno;
    h->f = NULL;
    int rc = bad ? hr_error_set(err, e == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: write failed: %s", h->path, strerror(e)) : 0;
    hr_free(h->path);
    h->path = NULL;
    return rc;
}

void hr_html_text(hr_html *h, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", h->f); break;
        case '<': fputs("&lt;", h->f); break;
        case '>': fputs("&gt;", h->f); break;
        case '"': fputs("&quot;", h->f); break;
        case '\'': fputs("&#39;", h->f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc('?', h->f);
            else fputc(*s, h->f);
        }
    }
}

void hr_html_raw(hr_html *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(h->f, fmt, ap);
    va_end(ap);
}

void hr_html_h(hr_html *h, int level, const char *s)
{
    fprintf(h->f, "<h%d>", level);
    hr_html_text(h, s);
    fprintf(h->f, "</h%d>\n", level);
}

void hr_html_p(hr_html *h, const char *cls, const char *s)
{
    if (cls) fprintf(h->f, "<p class=\"%s\">", cls);
    else fputs("<p>", h->f);
    hr_html_text(h, s);
    fputs("</p>\n", h->f);
}

void hr_html_table(hr_html *h, const char *cls, int ncol, const char *const *head)
{
    if (cls) fprintf(h->f, "<table class=\"%s\"><tr>", cls);
    else fputs("<table><tr>", h->f);
    for (int c = 0; c < ncol; c++) {
        fputs("<th>", h->f);
        hr_html_text(h, head[c]);
        fputs("</th>", h->f);
    }
    fputs("</tr>\n", h->f);
}

void hr_html_row(hr_html *h, const char *cls, int ncol, const char *const *cells)
{
    hr_html_row_open(h, cls, ncol, cells);
    fputs("</tr>\n", h->f);
}

void hr_html_row_open(hr_html *h, const char *cls, int ncol, const char *const *cells)
{
    if (cls) fprintf(h->f, "<tr class=\"%s\">", cls);
    else fputs("<tr>", h->f);
    for (int c = 0; c < ncol; c++) {
        fputs("<td>", h->f);
        hr_html_text(h, cells[c] ? cells[c] : "");
        fputs("</td>", h->f);
    }
}

void hr_html_table_end(hr_html *h) { fputs("</table>\n", h->f); }

const char *hr_html_num(char *buf, size_t cap, const char *fmt, double v)
{
    if (isnan(v)) snprintf(buf, cap, "–");
    else {
        /* formats come from this program only (html.h: "a printf format of one double") */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(buf, cap, fmt, v);
#pragma GCC diagnostic pop
    }
    return buf;
}

/* ---- charts ---------------------------------------------------------------------------------- */

#define W 720
#define ML 70
#define MR 20
#define MT 28
#define MB 40

static void legend(hr_html *h, int nseries, const char *const *name)
{
    fputs("<div class=\"legend\">", h->f);
    for (int s = 0; s < nseries; s++) {
        fprintf(h->f, "<span><i style=\"background:%s\"></i>", COLORS[s % NCOLORS]);
        hr_html_text(h, name[s]);
        fputs("</span>", h->f);
    }
    fputs("</div>\n", h->f);
}

static void svg_begin(hr_html *h, const char *title, int height)
{
    fprintf(h->f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
            W, height, W, height);
    fputs("<title>", h->f);
    hr_html_text(h, title);
    fprintf(h->f, "</title><text x=\"%d\" y=\"16\" font-weight=\"600\">", ML);
    hr_html_text(h, title);
    fputs("</text>", h->f);
    h->charts++;
}

static void range_of(int n, int nseries, const double *const *y, double *lo, double *hi, int zero)
{
    *lo = zero ? 0 : INFINITY, *hi = zero ? 0 : -INFINITY;
    for (int s = 0; s < nseries; s++)
        for (int i = 0; i < n; i++)
            if (isfinite(y[s][i])) {
                if (y[s][i] < *lo) *lo = y[s][i];
                if (y[s][i] > *hi) *hi = y[s][i];
            }
    if (!isfinite(*lo)) *lo = 0, *hi = 1;
    if (*hi <= *lo) *hi = *lo + (*lo != 0 ? fabs(*lo) * 0.1 : 1);
}

static void yaxis(hr_html *h, double lo, double hi, int height, const char *fmt)
{
    char b[64];
    for (int t = 0; t <= 4; t++) {
        double v = lo + (hi - lo) * t / 4, y = height - MB - (double)(height - MT - MB) * t / 4;
        fprintf(h->f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, W - MR, y, y);
        fprintf(h->f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", ML - 4, y + 4, hr_html_num(b, sizeof b, fmt, v));
    }
    fprintf(h->f, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", ML, ML, MT, height - MB);
    fprintf(h->f, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", ML, W - MR, height - MB, height - MB);
}

void hr_svg_lines(hr_html *h, const char *title, int n, const char *const *xl, int nseries, const char *const *name,
                  const double *const *y, const char *yfmt)
{
    const int H = 240;
    double lo, hi;
    range_of(n, nseries, y, &lo, &hi, 0);
    svg_begin(h, title, H);
    yaxis(h, lo, hi, H, yfmt);
    double dx = n > 1 ? (double)(W - ML - MR - 20) / (n - 1) : 0;
    int every = n > 12 ? (n + 11) / 12 : 1;
    for (int i = 0; i < n; i += every) {
        fprintf(h->f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + 10 + dx * i, H - MB + 16);
        hr_html_text(h, xl[i]);
        fputs("</text>", h->f);
    }
    char b[64];
    for (int s = 0; s < nseries; s++) {
        const char *col = COLORS[s % NCOLORS];
        fprintf(h->f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
        for (int i = 0; i < n; i++)
            if (isfinite(y[s][i]))
                fprintf(h->f, "%.1f,%.1f ", ML + 10 + dx * i, H - MB - (y[s][i] - lo) / (hi - lo) * (H - MT - MB));
        fputs("\"/>", h->f);
        for (int i = 0; i < n; i++) {
            if (!isfinite(y[s][i])) continue;
            fprintf(h->f, "<circle class=\"pt-%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>", name[s], ML + 10 + dx * i,
                    H - MB - (y[s][i] - lo) / (hi - lo) * (H - MT - MB), col);
            hr_html_text(h, xl[i]);
            fputc(' ', h->f);
            hr_html_text(h, name[s]);
            fprintf(h->f, ": %s</title></circle>", hr_html_num(b, sizeof b, yfmt, y[s][i]));
        }
    }
    fputs("</svg>\n", h->f);
    if (nseries > 1) legend(h, nseries, name);
}

void hr_svg_hbars(hr_html *h, const char *title, int n, const char *const *label, const double *v, const char *series,
                  const char *vfmt)
{
    const int row = 22, LW = 200, H = MT + 10 + row * (n > 0 ? n : 1);
    double hi = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]) && v[i] > hi) hi = v[i];
    if (hi <= 0) hi = 1;
    svg_begin(h, title, H);
    char b[64];
    for (int i = 0; i < n; i++) {
        double y = MT + 4 + row * i, w = isfinite(v[i]) && v[i] > 0 ? v[i] / hi * (W - LW - 90) : 0;
        fprintf(h->f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LW - 6, y + 14);
        hr_html_text(h, label[i]);
        fprintf(h->f, "</text><rect class=\"bar-%s\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>", series, LW,
                y + 2, w < 1 ? 1 : w, row - 6, COLORS[0]);
        hr_html_text(h, label[i]);
        fprintf(h->f, ": %s</title></rect>", hr_html_num(b, sizeof b, vfmt, v[i]));
        fprintf(h->f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", LW + (w < 1 ? 1 : w) + 4, y + 14, b);
    }
    fputs("</svg>\n", h->f);
}

void hr_svg_groups(hr_html *h, const char *title, int n, const char *const *xl, int nseries, const char *const *name,
                   const double *const *v, const char *vfmt)
{
    const int H = 260;
    double lo, hi;
    range_of(n, nseries, v, &lo, &hi, 1);
    svg_begin(h, title, H);
    yaxis(h, lo, hi, H, vfmt);
    double gw = n ? (double)(W - ML - MR) / n : 0, bw = gw * 0.8 / (nseries ? nseries : 1);
    char b[64];
    for (int i = 0; i < n; i++) {
        double x0 = ML + gw * i + gw * 0.1;
        fprintf(h->f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + gw * i + gw / 2, H - MB + 16);
        hr_html_text(h, xl[i]);
        fputs("</text>", h->f);
        for (int s = 0; s < nseries; s++) {
            double val = isfinite(v[s][i]) ? v[s][i] : 0, y0 = H - MB - (0 - lo) / (hi - lo) * (H - MT - MB);
            double y1 = H - MB - (val - lo) / (hi - lo) * (H - MT - MB);
            fprintf(h->f, "<rect class=\"bar-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", name[s],
                    x0 + bw * s, y1 < y0 ? y1 : y0, bw, fabs(y0 - y1) < 0.5 ? 0.5 : fabs(y0 - y1), COLORS[s % NCOLORS]);
            hr_html_text(h, xl[i]);
            fputc(' ', h->f);
            hr_html_text(h, name[s]);
            fprintf(h->f, ": %s</title></rect>", hr_html_num(b, sizeof b, vfmt, v[s][i]));
        }
    }
    fputs("</svg>\n", h->f);
    legend(h, nseries, name);
}

void hr_svg_intervals(hr_html *h, const char *title, int n, const char *const *label, const double *mean, const double *lo,
                      const double *hi, const char *series)
{
    const int row = 24, LW = 200, H = MT + 24 + row * (n > 0 ? n : 1);
    double a = 0, z = 0;
    for (int i = 0; i < n; i++) {
        double c[3] = { mean[i], lo[i], hi[i] };
        for (int j = 0; j < 3; j++)
            if (isfinite(c[j])) a = c[j] < a ? c[j] : a, z = c[j] > z ? c[j] : z;
    }
    double m = fabs(a) > fabs(z) ? fabs(a) : fabs(z);
    if (m <= 0) m = 1;
    svg_begin(h, title, H);
    const double x0 = LW + (W - LW - MR) / 2.0, half = (W - LW - MR) / 2.0 - 10;
    fprintf(h->f, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>", x0, x0, MT, H - 10);
    char b[3][64];
    for (int i = 0; i < n; i++) {
        double y = MT + 12 + row * i;
        fprintf(h->f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LW - 6, y + 4);
        hr_html_text(h, label[i]);
        fputs("</text>", h->f);
        if (!isfinite(mean[i])) continue;
        double xl = isfinite(lo[i]) ? x0 + lo[i] / m * half : x0, xh = isfinite(hi[i]) ? x0 + hi[i] / m * half : x0;
        fprintf(h->f, "<g class=\"ci-%s\"><title>", series);
        hr_html_text(h, label[i]);
        fprintf(h->f, ": %s [%s, %s]</title><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>",
                hr_html_num(b[0], 64, "%+.4g", mean[i]), hr_html_num(b[1], 64, "%+.4g", lo[i]), hr_html_num(b[2], 64, "%+.4g", hi[i]), xl, xh,
                y, y, COLORS[0]);
        fprintf(h->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/></g>", x0 + mean[i] / m * half, y, COLORS[1]);
    }
    fputs("</svg>\n", h->f);
}
