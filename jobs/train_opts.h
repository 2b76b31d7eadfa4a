/* jobs/train_opts.h — the options `hpcrec train` (jobs/train.c) hands to its algorithm files. */
#ifndef HR_JOBS_TRAIN_OPTS_H
#define HR_JOBS_TRAIN_OPTS_H

#include <stdint.h>

#include "io/model.h"
#include "solvers/knn.h"

typedef enum { HR_ALGO_ALS, HR_ALGO_IALS, HR_ALGO_POP, HR_ALGO_EASE, HR_ALGO_SVD, HR_ALGO_ITEMKNN, HR_ALGO_USERKNN } hr_algo;

/* Options of the dense models on the BLACS grid (jobs/train_ease.c, jobs/train_svd.c) and of
 * `--init svd` (jobs/train_svd.c). */
typedef struct hr_dense_opts {
    const char *data, *out;
    double lambda;            /* ease --lambda; < 0: the default rule (train_ease.c) */
    hr_row_weight weight;     /* ease --ease-weight, svd --svd-weight */
    uint32_t topm;            /* ease --ease-topm: entries kept per column of B (0: dense) */
    int block;                /* --block-size: ScaLAPACK block NB (0: the algorithm's default) */
    int k;                    /* svd --factors */
    int power_iters;          /* svd --power-iters */
    int oversample;           /* svd --oversample: extra columns of the test matrix */
    uint64_t seed;
} hr_dense_opts;

/* Options of `--algo itemknn` (jobs/train_knn.c). */
typedef struct hr_knn_train_opts {
    const char *data, *out;
    hr_knn_opts knn;
    int have_sim, have_feedback, have_shrink, have_center, have_neighbors;
    uint32_t max_user_items;  /* --max-user-items: items of a user entering the pair counts (0: all) */
    uint32_t predict_neighbors; /* --predict-neighbors: Surprise's k of a rating prediction (0: all stored) */
} hr_knn_train_opts;

#endif
