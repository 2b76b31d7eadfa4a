/* solvers/synth.h — the planted model behind `hpcrec gen`: pure math, no I/O, no MPI.
 *
 * The model has exact rank R (= factors):
 *   - item i has a cluster c(i) in [0, R) (balanced: sizes differ by at most one) and a
 *     popularity weight w_i = 1 / rank_i^HR_SYNTH_ZIPF, rank_i a random permutation of
 *     1..items (so popularity is not the id order), normalised so that sum_i w_i = 1;
 *   - normal user u has a non-negative affinity p_u over the R clusters: a sparse
 *     Dirichlet(1) over 1-3 dominant clusters (probabilities 0.5 / 0.3 / 0.2), mixed with a
 *     uniform floor, p_u = (1 - F) * dirichlet + F / R with F = HR_SYNTH_AFFINITY_FLOOR, so
 *     every cluster keeps some mass (a user can always find enough distinct items);
 *   - P(i | u) is proportional to p_u[c(i)] * w_i.  An event picks a cluster c with
 *     probability proportional to p_u[c] * W_c (W_c = sum of weights in c), then an item in c
 *     proportional to w_i (Vose alias tables per cluster).  A user's items are distinct: a
 *     repeated item is rejected and redrawn, which is sampling without replacement from
 *     P(. | u), so the first event of every user follows P(i | u) exactly.
 *
 * Activity: a_u is Pareto(shape HR_SYNTH_ACTIVITY_SHAPE); event counts are
 * n_u = clamp(s * a_u, 1, cap) with s found by bisection, rounded by cumulative rounding and
 * corrected so that sum_u n_u == interactions exactly.  cap = min(HR_SYNTH_USER_CAP, items/2)
 * (at least 1): ordinary users stay far below bot level.
 *
 * Values: ratings = clamp(round(3 + 1.2 z + e), 1, 5), e ~ N(0, HR_SYNTH_NOISE_SD^2), where
 * z = (p_u[c] - mean) / sd standardises the user's affinity for the item's cluster, mean and
 * sd taken over the user's own cluster-choice distribution (so z has mean 0 and variance 1
 * over the user's events: clusters the user rarely visits get low ratings).  Counts (implicit
 * feedback) = 1 + Geometric with mean 4 * p_u[c] / max_c p_u[c] (capped at 10^6).  Times are
 * uniform offsets in [0, span) seconds.
 *
 * Bots (user indices users .. users+bots-1): HR_SYNTH_BOT_MIN..HR_SYNTH_BOT_MAX distinct
 * items chosen uniformly (Floyd's algorithm), ratings uniform in 1..5 or counts
 * 1 + Geometric(mean 1); clean-looking rows.
 *
 * Determinism: every random number comes from hr_rng_stream(seed, HR_STREAM_GEN, which) with
 * which = 4u + {0 activity, 1 affinity, 2 events, 3 faults} for user u and
 * HR_SYNTH_ITEM_STREAM - {0, 1} for the item permutations, so a user's events do not depend
 * on which rank generates them, nor on --dirty (faults have their own stream).  Every rank
 * builds the same model (O(users + items) memory, no communication). */
#ifndef HR_SOLVERS_SYNTH_H
#define HR_SOLVERS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"

#define HR_SYNTH_MAX_FACTORS 256
#define HR_SYNTH_MAX_IDS 2147483647u  /* users + bots and items (ids are 1-based int32) */
#define HR_SYNTH_USER_CAP 500         /* clean events per normal user, at most */
#define HR_SYNTH_BOT_MIN 2001         /* > 2000, so --max-user-events 2000 flags every bot */
#define HR_SYNTH_BOT_MAX 5000
#define HR_SYNTH_ZIPF 1.0
#define HR_SYNTH_ACTIVITY_SHAPE 1.2
#define HR_SYNTH_AFFINITY_FLOOR 0.05
#define HR_SYNTH_NOISE_SD 0.7
#define HR_SYNTH_ITEM_STREAM UINT64_MAX

typedef enum { HR_SYNTH_RATINGS = 0, HR_SYNTH_COUNTS = 1 } hr_synth_kind;

typedef struct hr_synth_params {
    uint64_t users;         /* normal users, >= 1 */
    uint64_t items;         /* >= 1 */
    uint64_t interactions;  /* clean events of normal users, exactly; users <= it <= users*cap */
    uint64_t bots;          /* extra bot users; needs items >= HR_SYNTH_BOT_MIN */
    int factors;            /* R, 1..HR_SYNTH_MAX_FACTORS */
    hr_synth_kind kind;
    int64_t span;           /* event times are in [0, span) seconds; >= 1 */
    double dirty;           /* probability of one faulty row per clean event, [0, 0.5] */
    uint64_t seed;
} hr_synth_params;

/* Defaults: factors 16, ratings, span 30 days, no dirt, no bots, seed 1 (sizes left 0). */
void hr_synth_params_defaults(hr_synth_params *p);
/* Per-user event cap for a catalogue: min(HR_SYNTH_USER_CAP, items / 2), at least 1. */
uint32_t hr_synth_user_cap(uint64_t items);
/* Checks every field and the cross-field rules; the message names the gen option. */
int hr_synth_params_check(const hr_synth_params *p, hr_error *err);

typedef struct hr_synth_model hr_synth_model;

/* Builds the item tables and every user's event count (O(users + items) time and memory;
 * about 25 bytes per item and 4 per user).  Checks p first (HR_ERR_ARG). */
int  hr_synth_model_create(const hr_synth_params *p, hr_synth_model **out, hr_error *err);
void hr_synth_model_free(hr_synth_model *m);  /* accepts NULL */

const hr_synth_params *hr_synth_model_params(const hr_synth_model *m);
/* users + bots: user indices are 0 .. total-1, bots last. */
uint64_t hr_synth_total_users(const hr_synth_model *m);
int      hr_synth_is_bot(const hr_synth_model *m, uint64_t u);
/* Events of user u (clean events for normal users, bot events for bots). */
uint32_t hr_synth_user_events(const hr_synth_model *m, uint64_t u);
/* Largest event count of a normal user (the `max_user_events` of the summary). */
uint32_t hr_synth_max_user_events(const hr_synth_model *m);
/* Capacity an event buffer needs for any user (normal or bot). */
uint32_t hr_synth_event_capacity(const hr_synth_model *m);

int    hr_synth_item_cluster(const hr_synth_model *m, uint64_t i);
double hr_synth_item_weight(const hr_synth_model *m, uint64_t i);
/* W_c: the summed weight of cluster c's items. */
double hr_synth_cluster_weight(const hr_synth_model *m, int c);
/* The planted affinity p_u of a normal user into p[factors] (sums to 1). */
void   hr_synth_user_affinity(const hr_synth_model *m, uint64_t u, double *p);

typedef struct hr_synth_event {
    uint32_t item;   /* 0-based */
    int32_t value;   /* rating 1..5 or count >= 1 */
    int64_t t;       /* offset in [0, span) */
} hr_synth_event;

/* Per-thread working memory (per-user hash set, profile): reused across users; O(R) plus a
 * few KiB.  One scratch must not be used by two threads at once. */
typedef struct hr_synth_scratch hr_synth_scratch;
hr_synth_scratch *hr_synth_scratch_create(const hr_synth_model *m);
void hr_synth_scratch_free(hr_synth_scratch *s);  /* accepts NULL */

/* All events of user u into ev (capacity hr_synth_event_capacity); returns their number.
 * Items are distinct; the result depends only on (model parameters, u). */
uint32_t hr_synth_user_generate(const hr_synth_model *m, uint64_t u, hr_synth_scratch *s, hr_synth_event *ev);

/* Faulty rows for --dirty.  Each kind maps to exactly one ingest rejection reason. */
typedef enum {
    HR_FAULT_NONE = 0,
    HR_FAULT_WRONG_COLUMNS,  /* last field cut off                       -> wrong_columns */
    HR_FAULT_UNPARSABLE,     /* value "abc" / "x<value>"                 -> unparsable */
    HR_FAULT_NONFINITE,      /* value "nan" / "inf"                      -> nonfinite */
    HR_FAULT_OUT_OF_RANGE,   /* value "-3" / "1e12"                      -> out_of_range */
    HR_FAULT_MISSING_ID,     /* empty user (variant 0) or item field     -> missing_id */
    HR_FAULT_DUPLICATE,      /* the same line again, same day            -> duplicate */
    HR_FAULT_CONFLICT,       /* same user+item, other value, later time  -> conflict */
    HR_FAULT__COUNT
} hr_synth_fault_kind;

typedef struct hr_synth_fault {
    hr_synth_fault_kind kind;
    int variant;     /* 0 or 1: which junk text / which id is missing */
    int32_t value;   /* conflict: the new value (differs from the event's) */
    int64_t t;       /* conflict: the new time (> the event's, < span) */
} hr_synth_fault;

/* The fault stream of user u; draw once per clean event, in event order.  Kinds are equally
 * likely; a conflict that cannot be later (event in the last second) becomes a duplicate. */
hr_rng hr_synth_fault_stream(const hr_synth_model *m, uint64_t u);
void   hr_synth_fault_draw(const hr_synth_model *m, hr_rng *r, const hr_synth_event *e, hr_synth_fault *f);

#endif
