/* jobs/similar_content.h — similar --item-features: items with mapped factors among the
 * neighbours (jobs/similar.c; the map: jobs/content.h).
 *
 * The content items (new to the model, or known with no training interactions) and their
 * normalised mapped rows, held whole by every rank.  Known ones replace their factor row as
 * queries; new ones (ids n_items + x) are queries of the rank whose share they fall in.  As
 * candidates, every content item is scored here, by one formula on every rank (the ring skips
 * the known ones), so content pairs do not depend on the rank count and equal mapped rows tie
 * exactly, the lower id first. */
#ifndef HR_JOBS_SIMILAR_CONTENT_H
#define HR_JOBS_SIMILAR_CONTENT_H

#include <stdint.h>

#include "jobs/content.h"
#include "solvers/topk.h"

typedef struct hr_sim_content {
    hr_content_items ci;
    uint64_t n;            /* the catalogue */
    float *N;              /* ci.n x k, normalised */
    uint8_t *known;        /* n flags: a known item scored from content */
    uint64_t nk;           /* known content items (ci's first nk) */
    int k;
    uint64_t lines;        /* lines written with source content (this rank) */
} hr_sim_content;

/* Collective (reads the features files); m: dictionaries and content map. */
int hr_sim_content_init(hr_job *job, const hr_content_opts *o, const hr_model *m, hr_sim_content *sc);
void hr_sim_content_free(hr_sim_content *sc);
/* y (k floats) scaled to unit length (0 stays 0) into out. */
void hr_sim_normalise(const float *y, int k, float *out);
/* The external id of item g: a new item's from the features file, else the dictionary's. */
const char *hr_sim_content_id(const hr_dict *items, const hr_sim_content *sc, uint32_t g, char *tmp, size_t *len);
/* Item g is scored from content (sc may be NULL). */
int hr_sim_is_content(const hr_sim_content *sc, uint32_t g);
/* The best `top` content items for the query row q (normalised, k), item `self` excluded, into
 * ids / scores, best first; st: top entries of scratch. */
uint32_t hr_sim_content_best(const hr_sim_content *sc, const float *q, uint32_t self, uint32_t top, hr_topk_entry *st, uint32_t *ids,
                             float *scores);

#endif
