/* jobs/recommend_content.h — recommend --item-features: items scored from their content
 * (jobs/content.h) next to the catalogue.
 *
 * The content items (new to the model, or known with no training interactions) get mapped
 * factors y = f W from the model's content map; every rank holds all of them (they are few
 * next to the catalogue).  A user scored by factors gets each content item's score
 * x_u . y (+ the mapped bias), the same formula as the catalogue's, and its list is the merge
 * of the catalogue's best and the content items' best by score (ties: lower item id; content
 * items have ids after the catalogue's, known ones keep theirs).  --cold-slots S > 0: at most S
 * content items, and the best S of them always get a place (the last slots when their scores
 * did not earn one).  --exclude and the user's seen items apply to content items too. */
#ifndef HR_JOBS_RECOMMEND_CONTENT_H
#define HR_JOBS_RECOMMEND_CONTENT_H

#include <stdint.h>

#include "jobs/content.h"
#include "jobs/dataset.h"

typedef struct hr_rec_content {
    hr_content_items ci;
    uint32_t slots;        /* --cold-slots (0: compete on score alone) */
    uint64_t n_items;      /* the model's catalogue: content ids >= it are new items */
    uint8_t *excluded;     /* per content item: listed in --exclude */
    uint32_t *by_data;     /* --data item gid -> content index + 1 (0: none) */
    float *score;          /* scratch: one score per content item */
    uint32_t *order;       /* scratch */
    uint64_t lines;        /* lines written with source content (this rank) */
} hr_rec_content;

/* Collective (reads the features files).  excl: the --exclude ids (n_excl); known content items
 * are flagged in ring_banned (n_items flags) so the catalogue never scores them by their
 * untrained factors. */
int hr_rec_content_init(hr_job *job, const hr_content_opts *o, const hr_model *m, const hr_dataset *ds, char *const *excl,
                        uint64_t n_excl, uint8_t *ring_banned, hr_rec_content *rc);
/* The final list of one user: u (k factors), seen (content indices the user has in --data,
 * sorted), the catalogue's list idx/sco (n, best first).  Out: up to top entries of out_id
 * (model ids; n_items + x for new item x), out_score, out_content (1: a content item). */
uint32_t hr_rec_content_merge(hr_rec_content *rc, const float *u, int k, const uint32_t *seen, uint32_t nseen, const uint32_t *idx,
                              const float *sco, uint32_t n, uint32_t top, uint32_t *out_id, float *out_score, uint8_t *out_content);
/* The external id of content item with id g (>= n_items: a new one) or NULL for a catalogue id. */
const char *hr_rec_content_id(const hr_rec_content *rc, uint32_t g);
void hr_rec_content_free(hr_rec_content *rc);

#endif
