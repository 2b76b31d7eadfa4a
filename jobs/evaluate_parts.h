/* jobs/evaluate_parts.h — the parts shared by the files of `hpcrec evaluate`; not an interface for other jobs.
 *
 *   evaluate.c          options, loading, id mapping, the global item / user context, order
 *   evaluate_run.c      one scorer over every local test user: ranking, accumulation, reduction
 *   evaluate_ring.c     factor models: the item blocks travel round the ring (no rank holds the
 *                       item matrix); item rows for ild@K fetched by id (jobs/rowfetch.h);
 *                       item-item models and fold-in use the ring of jobs/ringrows.h
 *   evaluate_report.c   the --json keys and the stdout tables
 *   evaluate_compare.c  --compare: per-user values gathered in global user order, bootstrap
 *
 * Everything is ranked in the TRAIN dataset's item order (train gid = row position), whatever
 * the model's own dictionaries: a model's score row is reordered when its item dictionary
 * differs, items it does not know get NaN (never a candidate).  Exact definitions of every
 * metric and key: docs/evaluation.md and solvers/metrics.h. */
#ifndef HR_JOBS_EVALUATE_PARTS_H
#define HR_JOBS_EVALUATE_PARTS_H

#include <stdint.h>

#include "io/model.h"
#include "jobs/dataset.h"
#include "jobs/job.h"
#include "solvers/metrics.h"
#include "solvers/topk.h"

/* Ranking-metric segments: all users, activity terciles, relevant items restricted to head or
 * tail items.  The exposure / beyond-accuracy arrays exist for the first EV_NEXPO only (the
 * item segments share the all-users lists). */
enum { EV_SEG_ALL = 0, EV_SEG_LIGHT, EV_SEG_MEDIUM, EV_SEG_HEAVY, EV_SEG_HEAD, EV_SEG_TAIL, EV_NSEG };
#define EV_NEXPO 4
extern const char *const ev_seg_names[EV_NSEG]; /* "", "light", "medium", "heavy", "head", "tail" */

/* Run context.  [global]: identical on every rank; [local]: this rank's users. */
typedef struct ev_data {
    uint32_t cut[HR_METRICS_MAX_CUTOFFS], ncut; /* [global] --k */
    uint32_t n_items;        /* [global] train item dictionary size = length of every score row */
    uint64_t n_users;        /* [global] train users (novelty denominator, >= 1) */
    const uint64_t *pop;     /* [global] training interactions per item */
    const float *popf;       /* [global] the same as scores: the pop baseline and the fallback */
    const uint8_t *cold;     /* [global] 1 = no training interactions: never a candidate */
    const uint8_t *is_head;  /* [global] hr_metrics_mark_head(pop, 0.2) */
    uint32_t n_cand;         /* [global] catalogue: items with >= 1 training interaction */
    uint32_t n_head, n_tail_cand; /* [global] head items; tail items that are candidates */
    uint64_t act_cuts[2];    /* [global] activity tercile cut points */
    float vmin, vmax;        /* [global] training value range (rating predictions are clipped) */
    uint64_t seed;           /* [global] random baseline and bootstrap */
    uint64_t fold_min;       /* [global] fold-in: least known items in a row (--fold-in-min) */
    const hr_dataset *tr;    /* [local] train rows (by_user) */
    const hr_block *te;      /* [local] test rows in train ids, row r = train row r */
    uint64_t n_eval_local;   /* [local] test rows with >= 1 event */
    uint64_t max_test_row;   /* [local] longest test row */
} ev_data;

typedef enum { EV_MODEL = 0, EV_POP = 1, EV_RANDOM = 2 } ev_kind;

/* A factor model's item side, spread over the ranks: rank r holds the model's items
 * hr_block_lo(n, P, r) .. hr_block_lo(n, P, r + 1) - 1 (jobs/rowfetch.h), the blocks that
 * travel round the ring.  [global] but for the rows themselves. */
typedef struct ev_items {
    const hr_model *m;        /* partial load: item rows lo..hi-1 (model ids), biases too */
    uint64_t n, lo, hi;       /* model items; this rank's block [local] */
    int k;
    const uint32_t *imap;     /* train gid -> model gid, UINT32_MAX when unknown */
    uint32_t *inv;            /* model gid -> train gid, UINT32_MAX when not a train item (owned) */
} ev_items;

typedef struct ev_scorer {
    const char *row;          /* table row: "model", "model2", "pop", "random" */
    const char *prefix;       /* key prefix: "", "model2.", "pop.", "random." */
    ev_kind kind;
    const hr_model *m;        /* EV_MODEL only */
    uint32_t *umap, *imap;    /* EV_MODEL: train gid -> model user row / model item gid, UINT32_MAX
                               * if unknown (owned) */
    float *pop_row;           /* EV_MODEL of kind pop: its item scores in train order (owned) */
    ev_items items;           /* EV_MODEL of kind factor: its item blocks */
    const ev_items *ild;      /* item factors for ild@K (this scorer's, or the main model's for
                               * scorers without factors), or NULL (no ild keys) */
    int rating;               /* rmse / mae */
    int keep_users;           /* keep per-user values for --compare */
} ev_scorer;

/* Per-user values kept for --compare (one row of EV_UV_N(ncut) doubles per user): precision,
 * recall, ndcg, map at every cutoff, then the true MRR, then the user's RMSE (rating models). */
enum { EV_UV_PRECISION = 0, EV_UV_RECALL = 1, EV_UV_NDCG = 2, EV_UV_MAP = 3, EV_UV_PER_CUT = 4 };
#define EV_UV_AT(c, m) ((size_t)(c) * EV_UV_PER_CUT + (size_t)(m))
#define EV_UV_MRR(nc)  ((size_t)(nc) * EV_UV_PER_CUT)
#define EV_UV_RMSE(nc) (EV_UV_MRR(nc) + 1)
#define EV_UV_N(nc)    (EV_UV_RMSE(nc) + 1)

typedef struct ev_result {
    hr_rank_acc rank[EV_NSEG];        /* reduced */
    hr_beyond_acc beyond[EV_NEXPO];   /* reduced (ILD only in [EV_SEG_ALL]) */
    hr_rating_acc rating;             /* reduced */
    uint64_t *exposure;               /* reduced: EV_NEXPO x ncut x n_items */
    uint64_t fallback;                /* reduced: users ranked by popularity instead */
    uint64_t pred_fallback;           /* reduced: ratings predicted without the user's factors */
    uint64_t folded;                  /* reduced: users unknown to the model, folded in from their row */
    double seconds_fold_in;           /* the slowest rank's time in the fold-in solves */
    double *uval;                     /* [local] keep_users: n_uval rows of EV_UV_N(ncut) */
    uint32_t *ugid;                   /* [local] keep_users: train gid of each row */
    uint64_t n_uval;
} ev_result;

/* Collective.  Rank every local test user with s, accumulate, reduce.  out is zeroed first;
 * free it with ev_result_free (also after an error).  Users go in chunks whose working memory
 * stays within EV_CHUNK_BYTES (heaps, exclusion lists, ild rows); every rank runs as many
 * chunks as the rank with the most users. */
#define EV_CHUNK_BYTES ((uint64_t)64 << 20)
int ev_run(hr_job *job, const ev_data *d, const ev_scorer *s, ev_result *out);

/* One chunk's users ranked against a factor model's item blocks (evaluate_ring.c). */
typedef struct ev_chunk {
    uint32_t n;               /* users */
    const uint64_t *rows;     /* their local rows (train and test) */
    hr_topk_entry *heap;      /* n x kmax */
    uint32_t *len;            /* per user: entries ranked (after ev_ring_rank: best first in idx) */
    uint32_t *idx;            /* n x kmax train item ids, best first */
    uint64_t *rk;             /* n x 2: rank of the best head / tail relevant item (0: none) */
    double *user_sq;          /* n: squared rating errors of the user (rating models) */
    uint64_t *user_n;         /* n: their count */
    const float *fold;        /* fold-in models: n x k projected rows x_u V of the users ... */
    const uint8_t *folded;    /* ... flagged here (the model does not know them), or NULL */
} ev_chunk;
/* Collective: two trips of s's item blocks round the ring (top-K and the best relevant items,
 * then the rank of those among all candidates), ratings predicted on the way (out->rating).
 * Users whose factors are unknown are skipped (the caller ranks them by popularity). */
int ev_ring_rank(hr_job *job, const ev_data *d, const ev_scorer *s, ev_chunk *c, ev_result *out);
/* Collective: rows[x] = src's factor row of train item ids[x] (zeros when the model does not
 * know it), via hr_fetch_rows. */
int ev_fetch_items(hr_job *job, const ev_items *src, const uint32_t *ids, uint64_t n, float *rows);
void ev_result_free(ev_result *r);
/* Collective: ratings of the chunk's test events from an item-item model with rating
 * baselines (itemknn, explicit), into out->rating and c->user_sq / user_n (evaluate_knn.c). */
int ev_ii_rate(hr_job *job, const ev_data *d, const ev_scorer *s, ev_chunk *c, ev_result *out, double *ts, double *tc);
/* The model's --knn-center: 0 none, 1 mean, 2 baseline. */
int ev_ii_center(const hr_model *m);
/* User-user models (evaluate_userknn.c), collective: the chunk's score rows S (n x n_items,
 * model item order; has[x] = 0: no neighbours, rank by popularity) and, when s->rating, its
 * rating predictions into out, from the training rows travelling round the ring. */
int ev_uu_score(hr_job *job, const ev_data *d, const ev_scorer *s, ev_chunk *c, float *S, uint8_t *has, ev_result *out,
                double *ts, double *tc);

/* Rows of the stdout tables, collected while reporting and printed once at the end. */
#define EV_TABLE_ROWS 48
typedef struct ev_table {
    uint32_t n;
    struct ev_row {
        char name[24];
        int beyond;          /* also a row of the beyond-accuracy table */
        int has_ild;
        double at[HR_METRICS_MAX_CUTOFFS][12];  /* EV_COL_* */
        double mrr;
        uint64_t users;
    } rows[EV_TABLE_ROWS];
} ev_table;
enum { EV_COL_P, EV_COL_R, EV_COL_NDCG, EV_COL_MAP, EV_COL_HR, EV_COL_COV,
       EV_COL_NOV, EV_COL_ILD, EV_COL_ARP, EV_COL_GINI, EV_COL_TAIL, EV_NCOL };

/* Set the keys of one scorer (all segments) and add its rows to t.  Local (no MPI): every
 * input is already reduced; rank 0's keys are the ones written. */
void ev_report(hr_job *job, const ev_data *d, const ev_scorer *s, const ev_result *r, ev_table *t);
/* Print the tables on rank 0. */
void ev_table_print(const hr_job *job, const ev_data *d, const ev_table *t);

/* Collective.  Paired comparison of b against a (b - a) over the users both evaluated, in
 * global user order; sets compare.* keys and prints the verdict lines on rank 0.  rating: also
 * compare per-user RMSE (lower is better, so the verdict is flipped). */
int ev_compare(hr_job *job, const ev_data *d, const char *path_a, const char *path_b,
               const ev_result *a, const ev_result *b, int rating);

#endif
