/* jobs/recommend_content.c — content items in recommend's lists (jobs/recommend_content.h). */
#include "jobs/recommend_content.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "solvers/topk.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int hr_rec_content_init(hr_job *job, const hr_content_opts *o, const hr_model *m, const hr_dataset *ds, char *const *excl,
                        uint64_t n_excl, uint8_t *ring_banned, hr_rec_content *rc)
{
    memset(rc, 0, sizeof *rc);
    HR_TRY(hr_content_items_build(job, o, m, &rc->ci));
    const hr_content_items *ci = &rc->ci;
    if (m->n_items + ci->n_new > UINT32_MAX - 2) {
        hr_content_items_free(&rc->ci);
        return hr_error_set(&job->err, HR_ERR_ARG, "--item-features: %llu new items past a catalogue of %llu: too many ids",
                            (unsigned long long)ci->n_new, (unsigned long long)m->n_items);
    }
    rc->slots = (uint32_t)o->cold_slots;
    rc->n_items = m->n_items;
    rc->excluded = hr_calloc(ci->n + 1, 1);
    rc->score = hr_malloc((ci->n + 1) * sizeof *rc->score);
    rc->order = hr_malloc((ci->n + 1) * sizeof *rc->order);
    rc->by_data = hr_calloc(ds->items.n + 1, sizeof *rc->by_data);
    char **sorted = hr_malloc((n_excl + 1) * sizeof *sorted);
    memcpy(sorted, excl, n_excl * sizeof *sorted);
    qsort(sorted, n_excl, sizeof *sorted, cmp_str);
    for (uint64_t c = 0; c < ci->n; c++) {
        if (ci->gid[c] < m->n_items) ring_banned[ci->gid[c]] = 1;   /* scored from content, not its factors */
        rc->excluded[c] = n_excl && bsearch(&ci->id[c], sorted, n_excl, sizeof *sorted, cmp_str) != NULL;
        int64_t dg = hr_dict_find(&ds->items, ci->id[c], strlen(ci->id[c]));
        if (dg >= 0) rc->by_data[dg] = (uint32_t)c + 1;
    }
    hr_free(sorted);
    return 0;
}

uint32_t hr_rec_content_merge(hr_rec_content *rc, const float *u, int k, const uint32_t *seen, uint32_t nseen, const uint32_t *idx,
                              const float *sco, uint32_t n, uint32_t top, uint32_t *out_id, float *out_score, uint8_t *out_content)
{
    const hr_content_items *ci = &rc->ci;
    const uint32_t want = rc->slots && rc->slots < top ? rc->slots : top;
    hr_topk_entry *st = hr_malloc(((size_t)want + 1) * sizeof *st);
    hr_topk h;
    hr_topk_init(&h, st, want);
    for (uint64_t c = 0; c < ci->n; c++) {
        if (rc->excluded[c] || (nseen && bsearch(&(uint32_t){ (uint32_t)c }, seen, nseen, sizeof *seen, cmp_u32))) continue;
        const float *y = ci->Y + c * (uint64_t)ci->width;
        double s = ci->width > k ? y[k] : 0.0;
        for (int j = 0; j < k; j++) s += (double)u[j] * y[j];
        hr_topk_push(&h, (float)s, (uint32_t)ci->gid[c]);
    }
    uint32_t *cid = rc->order;
    float *csc = rc->score;
    uint32_t nc = hr_topk_sorted(&h, cid, csc);
    hr_free(st);
    /* --cold-slots: the catalogue keeps the slots the content items do not take */
    uint32_t nm = rc->slots && n + nc > top ? (top > nc ? top - nc : 0) : n;
    if (nm > n) nm = n;
    uint32_t got = hr_topk_merge_lists(idx, sco, nm, cid, csc, nc, top, out_id, out_score);
    for (uint32_t r = 0; r < got; r++) {
        out_content[r] = 0;
        for (uint32_t x = 0; x < nc && !out_content[r]; x++) out_content[r] = cid[x] == out_id[r];
        rc->lines += out_content[r];
    }
    return got;
}

const char *hr_rec_content_id(const hr_rec_content *rc, uint32_t g)
{
    if (g < rc->n_items) return NULL;
    return rc->ci.id[(rc->ci.n - rc->ci.n_new) + (g - rc->n_items)];
}

void hr_rec_content_free(hr_rec_content *rc)
{
    hr_content_items_free(&rc->ci);
    hr_free(rc->excluded);
    hr_free(rc->by_data);
    hr_free(rc->score);
    hr_free(rc->order);
    memset(rc, 0, sizeof *rc);
}
