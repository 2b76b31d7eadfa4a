/* io/html.h — a self-contained HTML page with inline SVG charts (hpcrec report).
 *
 * One file, no scripts, no fonts or images fetched: CSS in a <style> element, every chart an
 * inline <svg>.  Every drawn value carries an SVG <title> child (its number on hover) and the
 * same numbers appear in a table beside the chart.  Marks carry a class naming their series
 * (class="pt-SERIES" for line-chart points, "bar-SERIES" for bars) so a test can count them in
 * the rendered DOM.  Text is escaped (& < > " ').  Writes go to a FILE held by the writer;
 * hr_html_close reports the first write error. */
#ifndef HR_IO_HTML_H
#define HR_IO_HTML_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct hr_html {
    FILE *f;
    char *path;
    int charts;
} hr_html;

int hr_html_open(hr_html *h, const char *path, const char *title, hr_error *err);
int hr_html_close(hr_html *h, hr_error *err);   /* writes the closing tags */

/* Escaped text; printf-style raw markup (the caller escapes what it formats). */
void hr_html_text(hr_html *h, const char *s);
void hr_html_raw(hr_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hr_html_h(hr_html *h, int level, const char *s);
void hr_html_p(hr_html *h, const char *cls, const char *s);

/* Tables: begin with the header cells, then rows of cells (NULL cell: empty). */
void hr_html_table(hr_html *h, const char *cls, int ncol, const char *const *head);
void hr_html_row(hr_html *h, const char *cls, int ncol, const char *const *cells);
void hr_html_table_end(hr_html *h);
/* A row left open after its cells (the caller adds raw cells, e.g. links, and "</tr>"). */
void hr_html_row_open(hr_html *h, const char *cls, int ncol, const char *const *cells);

/* A line chart of nseries series over n points (x labels xl[0..n)); y[s][i] NaN: no point.
 * Points get class "pt-<name[s]>" and a <title> "xl[i] name[s]: value". */
void hr_svg_lines(hr_html *h, const char *title, int n, const char *const *xl, int nseries, const char *const *name,
                  const double *const *y, const char *yfmt);
/* Horizontal bars, one per label: class "bar-<series>", <title> "label: value". */
void hr_svg_hbars(hr_html *h, const char *title, int n, const char *const *label, const double *v, const char *series,
                  const char *vfmt);
/* Vertical grouped bars: n groups (labels xl) of nseries bars; class "bar-<name[s]>". */
void hr_svg_groups(hr_html *h, const char *title, int n, const char *const *xl, int nseries, const char *const *name,
                   const double *const *v, const char *vfmt);
/* Intervals: one row per label, a dot at mean and a whisker lo..hi around a zero line;
 * class "ci-<series>". */
void hr_svg_intervals(hr_html *h, const char *title, int n, const char *const *label, const double *mean, const double *lo,
                      const double *hi, const char *series);

/* Format v with fmt (a printf format of one double) into buf; NaN -> "–". */
const char *hr_html_num(char *buf, size_t cap, const char *fmt, double v);

#endif
