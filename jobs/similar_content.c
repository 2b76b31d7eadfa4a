/* jobs/similar_content.c — content items in similar's lists (jobs/similar_content.h). */
#include "jobs/similar_content.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

int hr_sim_content_init(hr_job *job, const hr_content_opts *o, const hr_model *m, hr_sim_content *sc)
{
    memset(sc, 0, sizeof *sc);
    HR_TRY(hr_content_items_build(job, o, m, &sc->ci));
    const int k = m->k;
    sc->n = m->n_items;
    sc->k = k;
    sc->known = hr_calloc(sc->n + 1, 1);
    sc->N = hr_malloc((sc->ci.n * (uint64_t)k + 1) * sizeof *sc->N);
    sc->nk = sc->ci.n - sc->ci.n_new;
    for (uint64_t c = 0; c < sc->ci.n; c++) {
        if (c < sc->nk) sc->known[sc->ci.gid[c]] = 1;
        hr_sim_normalise(sc->ci.Y + c * (uint64_t)sc->ci.width, k, sc->N + c * (uint64_t)k);
    }
    return 0;
}

void hr_sim_content_free(hr_sim_content *sc)
{
    hr_content_items_free(&sc->ci);
    hr_free(sc->N);
    hr_free(sc->known);
    memset(sc, 0, sizeof *sc);
}

void hr_sim_normalise(const float *y, int k, float *out)
{
    double s = 0;
    for (int j = 0; j < k; j++) s += (double)y[j] * y[j];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int j = 0; j < k; j++) out[j] = y[j] * inv;
}

const char *hr_sim_content_id(const hr_dict *items, const hr_sim_content *sc, uint32_t g, char *tmp, size_t *len)
{
    if (sc && g >= sc->n) {
        const char *id = sc->ci.id[sc->nk + (g - sc->n)];
        *len = strlen(id);
        return id;
    }
    return hr_dict_key(items, g, tmp, len);
}

int hr_sim_is_content(const hr_sim_content *sc, uint32_t g) { return sc && (g >= sc->n || sc->known[g]); }

uint32_t hr_sim_content_best(const hr_sim_content *sc, const float *q, uint32_t self, uint32_t top, hr_topk_entry *st, uint32_t *ids,
                             float *scores)
{
    hr_topk h;
    hr_topk_init(&h, st, top);
    for (uint64_t x = 0; x < sc->ci.n; x++) {
        uint32_t g = (uint32_t)sc->ci.gid[x];
        if (g == self) continue;
        const float *y = sc->N + x * (uint64_t)sc->k;
        double d = 0;
        for (int j = 0; j < sc->k; j++) d += (double)q[j] * y[j];
        hr_topk_push(&h, (float)d, g);
    }
    return hr_topk_sorted(&h, ids, scores);
}
