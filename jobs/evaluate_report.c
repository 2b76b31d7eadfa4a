/* jobs/evaluate_report.c — the --json keys and the stdout tables of `hpcrec evaluate`.
 *
 * Key scheme (flat; docs/evaluation.md defines every one):
 *   PREFIX SEG METRIC@K     PREFIX = "" (the model), "model2.", "pop.", "random.";
 *                           SEG = "" or "light." "medium." "heavy." "head." "tail."
 * so a dashboard finds any number by string concatenation, and the DESIGN.md keys
 * (precision@K ..., pop.precision@K ...) are the SEG = "" case. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "jobs/evaluate_parts.h"

static void set_real(hr_job *job, const char *prefix, const char *seg, const char *stem, uint32_t k, double v)
{
    char key[128];
    if (k) snprintf(key, sizeof key, "%s%s%s%s@%u", prefix, seg, seg[0] ? "." : "", stem, k);
    else snprintf(key, sizeof key, "%s%s%s%s", prefix, seg, seg[0] ? "." : "", stem);
    hr_job_set_real(job, key, v);
}

static void set_int(hr_job *job, const char *prefix, const char *seg, const char *stem, uint64_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s%s%s%s", prefix, seg, seg[0] ? "." : "", stem);
    hr_job_set_int(job, key, (int64_t)v);
}

/* Fraction of the items i with want[i] (and not cold) whose exposure is > 0. */
static double coverage_of(const ev_data *d, const uint64_t *exp, int head_only, int tail_only)
{
    uint64_t seen = 0, of = 0;
    for (uint32_t i = 0; i < d->n_items; i++) {
        if (d->cold[i] || (head_only && !d->is_head[i]) || (tail_only && d->is_head[i])) continue;
        of++;
        seen += exp[i] > 0;
    }
    return of ? (double)seen / (double)of : 0.0;
}

static struct ev_row *add_row(ev_table *t, const char *row, const char *seg)
{
    if (t->n == EV_TABLE_ROWS) return NULL;
    struct ev_row *w = &t->rows[t->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s%s%s", row, seg[0] ? "." : "", seg);
    return w;
}

void ev_report(hr_job *job, const ev_data *d, const ev_scorer *s, const ev_result *r, ev_table *t)
{
    const uint32_t nc = d->ncut, n = d->n_items;
    const size_t plane = (size_t)nc * n;
    const char *p = s->prefix;
    /* Coverage and Gini over the catalogue only: items without training interactions can
     * never be recommended, so counting them would only dilute both. */
    uint64_t *compact = hr_malloc(((size_t)nc * d->n_cand + 1) * sizeof *compact);
    for (uint32_t c = 0; c < nc; c++) {
        uint64_t *dst = compact + (size_t)c * d->n_cand;
        const uint64_t *src = r->exposure + (size_t)c * n;
        for (uint32_t i = 0, j = 0; i < n; i++)
            if (!d->cold[i]) dst[j++] = src[i];
    }
    hr_beyond_means bm;
    hr_metrics_finalize_beyond(&r->beyond[EV_SEG_ALL], compact, d->n_cand, &bm);
    hr_free(compact);

    for (int g = 0; g < EV_NSEG; g++) {
        const char *seg = ev_seg_names[g];
        hr_rank_means rm;
        hr_metrics_finalize_rank(&r->rank[g], &rm);
        struct ev_row *w = add_row(t, s->row, seg);
        if (w) {
            w->beyond = g == EV_SEG_ALL;
            w->has_ild = s->ild != NULL;
            w->mrr = rm.mrr;
            w->users = rm.users_evaluated;
        }
        for (uint32_t c = 0; c < nc; c++) {
            const uint32_t K = d->cut[c];
            for (int mt = 0; mt < HR_RANK_NMETRIC; mt++)
                set_real(job, p, seg, hr_metrics_rank_name((hr_rank_metric)mt), K, rm.at[c][mt]);
            double cov;
            if (g == EV_SEG_ALL) cov = bm.coverage[c];
            else if (g < EV_NEXPO) cov = coverage_of(d, r->exposure + (size_t)g * plane + (size_t)c * n, 0, 0);
            else cov = coverage_of(d, r->exposure + (size_t)c * n, g == EV_SEG_HEAD, g == EV_SEG_TAIL);
            set_real(job, p, seg, "coverage", K, cov);
            if (g == EV_SEG_ALL) {
                set_real(job, p, seg, "novelty", K, bm.novelty[c]);
                set_real(job, p, seg, "arp", K, bm.arp[c]);
                set_real(job, p, seg, "gini", K, bm.gini[c]);
                set_real(job, p, seg, "tail", K, bm.tail[c]);
                if (s->ild) set_real(job, p, seg, "ild", K, bm.ild[c]);
            }
            if (w) {
                double *a = w->at[c];
                a[EV_COL_P] = rm.at[c][HR_RANK_PRECISION];
                a[EV_COL_R] = rm.at[c][HR_RANK_RECALL];
                a[EV_COL_NDCG] = rm.at[c][HR_RANK_NDCG];
                a[EV_COL_MAP] = rm.at[c][HR_RANK_MAP];
                a[EV_COL_HR] = rm.at[c][HR_RANK_HIT];
                a[EV_COL_COV] = cov;
                a[EV_COL_NOV] = bm.novelty[c];
                a[EV_COL_ILD] = bm.ild[c];
                a[EV_COL_ARP] = bm.arp[c];
                a[EV_COL_GINI] = bm.gini[c];
                a[EV_COL_TAIL] = bm.tail[c];
            }
        }
        set_real(job, p, seg, "mrr", 0, rm.mrr);
        set_int(job, p, seg, "users_evaluated", rm.users_evaluated);
    }
    if (s->kind == EV_MODEL && s->m->kind != HR_MODEL_POP) set_int(job, p, "", "users_fallback", r->fallback);
    if (s->kind == EV_MODEL && s->m->kind == HR_MODEL_FACTOR && (s->m->fold_in || r->folded)) {
        set_int(job, p, "", "users_fold_in", r->folded);
        set_real(job, p, "", "seconds_fold_in", 0, r->seconds_fold_in);
    }
    if (s->rating && r->rating.count > 0) {   /* no rating predicted: no rmse (0 would read as perfect) */
        double rmse, mae;
        hr_metrics_finalize_rating(&r->rating, &rmse, &mae);
        set_real(job, p, "", "rmse", 0, rmse);
        set_real(job, p, "", "mae", 0, mae);
        set_int(job, p, "", "predictions_fallback", r->pred_fallback);
    }
}

/* Eight characters for any metric value: fractions with 4 decimals, popularity counts
 * (arp) and self-information (novelty, bits) with fewer. */
static void cell(char *buf, size_t cap, double v)
{
    if (v >= 1000) snprintf(buf, cap, " %7.0f", v);
    else if (v >= 10) snprintf(buf, cap, " %7.2f", v);
    else snprintf(buf, cap, " %7.4f", v);
}

void ev_table_print(const hr_job *job, const ev_data *d, const ev_table *t)
{
    if (job->rank != 0) return;
    static const char *const acc_cols[] = { "P", "R", "NDCG", "MAP", "HR", "COV" };
    static const char *const bey_cols[] = { "NOV", "ILD", "ARP", "GINI", "TAIL" };
    char hdr[32], buf[32];
    printf("%-16s", "accuracy");
    for (uint32_t c = 0; c < d->ncut; c++)
        for (int j = 0; j < 6; j++) {
            snprintf(hdr, sizeof hdr, "%s@%u", acc_cols[j], d->cut[c]);
            printf(" %7s", hdr);
        }
    printf(" %7s %7s\n", "MRR", "users");
    for (uint32_t i = 0; i < t->n; i++) {
        const struct ev_row *w = &t->rows[i];
        printf("%-16s", w->name);
        for (uint32_t c = 0; c < d->ncut; c++)
            for (int j = EV_COL_P; j <= EV_COL_COV; j++) {
                cell(buf, sizeof buf, w->at[c][j]);
                fputs(buf, stdout);
            }
        cell(buf, sizeof buf, w->mrr);
        printf("%s %7llu\n", buf, (unsigned long long)w->users);
    }
    printf("%-16s", "beyond accuracy");
    for (uint32_t c = 0; c < d->ncut; c++)
        for (int j = 0; j < 5; j++) {
            snprintf(hdr, sizeof hdr, "%s@%u", bey_cols[j], d->cut[c]);
            printf(" %7s", hdr);
        }
    putchar('\n');
    for (uint32_t i = 0; i < t->n; i++) {
        const struct ev_row *w = &t->rows[i];
        if (!w->beyond) continue;
        printf("%-16s", w->name);
        for (uint32_t c = 0; c < d->ncut; c++)
            for (int j = EV_COL_NOV; j <= EV_COL_TAIL; j++) {
                if (j == EV_COL_ILD && !w->has_ild) printf(" %7s", "-");
                else {
                    cell(buf, sizeof buf, w->at[c][j]);
                    fputs(buf, stdout);
                }
            }
        putchar('\n');
    }
    fflush(stdout);
}
