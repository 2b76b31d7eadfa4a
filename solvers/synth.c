/* solvers/synth.c — the planted rank-R model of `hpcrec gen` (see synth.h for the model). */
#include "solvers/synth.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

/* One alias-table slot holds the item ids themselves, not indices into a member list, so the
 * common draw touches a single 12-byte slot: on catalogues larger than the cache that is one
 * miss per event instead of three. */
typedef struct synth_slot {
    uint32_t thresh;      /* take `item` when the top 32 random bits are below this */
    uint32_t item;
    uint32_t alias_item;
} synth_slot;

struct hr_synth_model {
    hr_synth_params p;
    uint32_t cap, max_user, capacity;
    uint32_t *events;    /* per user index (normal users, then bots) */
    uint8_t *cluster;    /* per item; R <= 256 */
    double *weight;      /* per item, sum 1 */
    uint64_t *coff;      /* R + 1 offsets of each cluster's slots */
    synth_slot *slots;   /* items grouped by cluster, most popular first within a cluster */
    uint64_t *hsize;     /* per cluster: slots in the head table (the rest form the tail) */
    double *phead;       /* per cluster: weight share of the head */
    double *W;           /* per cluster */
};

struct hr_synth_scratch {
    int R, last;         /* last: highest non-empty cluster (rounding fallback) */
    double *p, *cdf, *z, *extra, *taken_w, *rem;
    uint32_t *taken_n;
    uint64_t *set;       /* open addressing; slot = stamp << 32 | item, stale stamps are empty */
    uint64_t mask;
    int shift;
    uint32_t stamp;
};

enum { SUB_ACTIVITY = 0, SUB_AFFINITY = 1, SUB_EVENTS = 2, SUB_FAULTS = 3 };

/* Consecutive rejections before a user switches to exact without-replacement sampling. */
enum { REJECT_LIMIT = 32, CLUSTER_REJECT_LIMIT = 16 };

/* Alias slots are picked uniformly, so on a large catalogue nearly every draw misses the cache.
 * Each cluster therefore has two tables: a head of its HEAD_SLOTS / R most popular items
 * (all heads together stay in L2) and a tail for the rest.  Under Zipf weights the head
 * holds most of the mass (~70% of a 60k-item cluster), so most draws stay in cache. */
enum { HEAD_SLOTS = 32768, HEAD_MIN = 256 };

static hr_rng user_stream(const hr_synth_model *m, uint64_t u, int sub)
{
    return hr_rng_stream(m->p.seed, HR_STREAM_GEN, 4 * u + (uint64_t)sub);
}

void hr_synth_params_defaults(hr_synth_params *p)
{
    memset(p, 0, sizeof *p);
    p->factors = 16;
    p->kind = HR_SYNTH_RATINGS;
    p->span = 30 * 86400;
    p->seed = 1;
}

uint32_t hr_synth_user_cap(uint64_t items)
{
    uint64_t c = items / 2 < HR_SYNTH_USER_CAP ? items / 2 : HR_SYNTH_USER_CAP;
    return c < 1 ? 1 : (uint32_t)c;
}

int hr_synth_params_check(const hr_synth_params *p, hr_error *err)
{
    const unsigned long long U = p->users, I = p->items, N = p->interactions, B = p->bots;
    if (U < 1 || U > HR_SYNTH_MAX_IDS)
        return hr_error_set(err, HR_ERR_ARG, "--users %llu: must be in [1, %u]", U, HR_SYNTH_MAX_IDS);
    if (I < 1 || I > HR_SYNTH_MAX_IDS)
        return hr_error_set(err, HR_ERR_ARG, "--items %llu: must be in [1, %u]", I, HR_SYNTH_MAX_IDS);
    if (B > HR_SYNTH_MAX_IDS - U)
        return hr_error_set(err, HR_ERR_ARG, "--users %llu plus --bots %llu exceeds %u user ids", U, B, HR_SYNTH_MAX_IDS);
    if (p->factors < 1 || p->factors > HR_SYNTH_MAX_FACTORS)
        return hr_error_set(err, HR_ERR_ARG, "--factors %d: must be in [1, %d]", p->factors, HR_SYNTH_MAX_FACTORS);
    if (p->kind != HR_SYNTH_RATINGS && p->kind != HR_SYNTH_COUNTS)
        return hr_error_set(err, HR_ERR_ARG, "--kind: must be ratings or counts");
    if (p->span < 1) return hr_error_set(err, HR_ERR_ARG, "time span %lld s: must be >= 1", (long long)p->span);
    if (!(p->dirty >= 0 && p->dirty <= 0.5))
        return hr_error_set(err, HR_ERR_ARG, "--dirty %g: must be in [0, 0.5]", p->dirty);
    if (N < U)
        return hr_error_set(err, HR_ERR_ARG,
                            "--interactions %llu is less than --users %llu: every user has at least one event", N, U);
    const uint32_t cap = hr_synth_user_cap(I);
    if (N > U * cap)
        return hr_error_set(err, HR_ERR_ARG,
                            "--interactions %llu exceeds --users x per-user cap = %llu x %u = %llu "
                            "(cap = min(%d, items/2)): raise --users or --items",
                            N, U, cap, U * cap, HR_SYNTH_USER_CAP);
    if (B > 0 && I < HR_SYNTH_BOT_MIN)
        return hr_error_set(err, HR_ERR_ARG,
                            "--bots %llu needs --items >= %d (each bot has %d-%d distinct items); "
                            "pass --bots 0 (--dirty implies --bots 2) or more items",
                            B, HR_SYNTH_BOT_MIN, HR_SYNTH_BOT_MIN, HR_SYNTH_BOT_MAX);
    return 0;
}

static void shuffle(uint32_t *a, uint64_t n, hr_rng *r)
{
    for (uint64_t i = 0; i < n; i++) a[i] = (uint32_t)i;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = hr_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Vose's alias method over one cluster's slots (weights w of their items). */
static void build_alias(synth_slot *sl, uint64_t n, const double *weight, double total, double *q,
                        uint32_t *small, uint32_t *large)
{
    uint64_t ns = 0, nl = 0;
    for (uint64_t k = 0; k < n; k++) {
        q[k] = weight[sl[k].item] * (double)n / total;
        if (q[k] < 1.0) small[ns++] = (uint32_t)k;
        else large[nl++] = (uint32_t)k;
    }
    while (ns > 0 && nl > 0) {
        uint32_t s = small[--ns], l = large[nl - 1];
        sl[s].thresh = (uint32_t)(q[s] * 4294967296.0);
        sl[s].alias_item = sl[l].item;
        q[l] = (q[l] + q[s]) - 1.0;
        if (q[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What is left has probability 1 up to rounding: always itself. */
    while (nl > 0) {
        uint32_t k = large[--nl];
        sl[k].thresh = UINT32_MAX;
        sl[k].alias_item = sl[k].item;
    }
    while (ns > 0) {
        uint32_t k = small[--ns];
        sl[k].thresh = UINT32_MAX;
        sl[k].alias_item = sl[k].item;
    }
}

static void build_items(hr_synth_model *m)
{
    const uint64_t I = m->p.items;
    const int R = m->p.factors;
    uint32_t *perm = hr_malloc(I * sizeof *perm), *by_rank = hr_malloc(I * sizeof *by_rank);
    hr_rng r = hr_rng_stream(m->p.seed, HR_STREAM_GEN, HR_SYNTH_ITEM_STREAM);
    shuffle(perm, I, &r);
    m->weight = hr_malloc(I * sizeof *m->weight);
    double sum = 0;
    for (uint64_t i = 0; i < I; i++) {
        m->weight[i] = pow((double)perm[i] + 1.0, -HR_SYNTH_ZIPF);
        sum += m->weight[i];
        by_rank[perm[i]] = (uint32_t)i;
    }
    for (uint64_t i = 0; i < I; i++) m->weight[i] /= sum;

    /* An independent permutation modulo R gives balanced clusters whose popularity profiles
     * are alike, with no link between an item's cluster and its popularity. */
    r = hr_rng_stream(m->p.seed, HR_STREAM_GEN, HR_SYNTH_ITEM_STREAM - 1);
    shuffle(perm, I, &r);
    m->cluster = hr_malloc(I);
    m->coff = hr_calloc((size_t)R + 1, sizeof *m->coff);
    for (uint64_t i = 0; i < I; i++) {
        m->cluster[i] = (uint8_t)(perm[i] % (uint32_t)R);
        m->coff[m->cluster[i] + 1]++;
    }
    hr_free(perm);
    uint64_t nmax = 0;
    for (int c = 0; c < R; c++) {
        if (m->coff[c + 1] > nmax) nmax = m->coff[c + 1];
        m->coff[c + 1] += m->coff[c];
    }
    m->slots = hr_malloc(I * sizeof *m->slots);
    uint64_t *fill = hr_malloc((size_t)R * sizeof *fill);
    memcpy(fill, m->coff, (size_t)R * sizeof *fill);
    for (uint64_t k = 0; k < I; k++) {
        const uint32_t i = by_rank[k];
        m->slots[fill[m->cluster[i]]++].item = i;
    }
    hr_free(fill);
    hr_free(by_rank);

    const uint64_t head = HEAD_SLOTS / R > HEAD_MIN ? HEAD_SLOTS / R : HEAD_MIN;
    m->W = hr_calloc((size_t)R, sizeof *m->W);
    m->hsize = hr_calloc((size_t)R, sizeof *m->hsize);
    m->phead = hr_calloc((size_t)R, sizeof *m->phead);
    double *q = hr_malloc(nmax * sizeof *q);
    uint32_t *small = hr_malloc(nmax * sizeof *small), *large = hr_malloc(nmax * sizeof *large);
    for (int c = 0; c < R; c++) {
        synth_slot *sl = m->slots + m->coff[c];
        const uint64_t n = m->coff[c + 1] - m->coff[c], h = n < head ? n : head;
        double wh = 0, wt = 0;
        for (uint64_t k = 0; k < h; k++) wh += m->weight[sl[k].item];
        for (uint64_t k = h; k < n; k++) wt += m->weight[sl[k].item];
        m->W[c] = wh + wt;
        m->hsize[c] = h;
        m->phead[c] = h == n ? 1.0 : wh / (wh + wt);
        if (h > 0) build_alias(sl, h, m->weight, wh, q, small, large);
        if (n > h) build_alias(sl + h, n - h, m->weight, wt, q, small, large);
    }
    hr_free(q);
    hr_free(small);
    hr_free(large);
}

static double activity_total(const double *a, uint64_t n, double s, double cap)
{
    double t = 0;
    for (uint64_t u = 0; u < n; u++) {
        double x = s * a[u];
        t += x < 1 ? 1 : x > cap ? cap : x;
    }
    return t;
}

/* Event counts summing to `interactions` exactly, each in [1, cap]. */
static void build_activity(hr_synth_model *m)
{
    const uint64_t U = m->p.users, N = m->p.interactions;
    const uint32_t cap = m->cap;
    uint32_t *n = m->events;
    if (N == U || N == U * cap) {
        for (uint64_t u = 0; u < U; u++) n[u] = N == U ? 1 : cap;
        return;
    }
    double *a = hr_malloc(U * sizeof *a), amin = INFINITY;
    for (uint64_t u = 0; u < U; u++) {
        hr_rng r = user_stream(m, u, SUB_ACTIVITY);
        a[u] = pow(1.0 - hr_rng_uniform(&r), -1.0 / HR_SYNTH_ACTIVITY_SHAPE);
        if (a[u] < amin) amin = a[u];
    }
    /* total(s) = sum clamp(s a_u, 1, cap) grows from U (s = 0) to U*cap (s = cap/amin). */
    double lo = 0, hi = cap / amin, s = hi;
    for (int it = 0; it < 200; it++) {
        s = 0.5 * (lo + hi);
        if (s <= lo || s >= hi) break;
        double t = activity_total(a, U, s, cap);
        if (fabs(t - (double)N) < 0.25) break;
        if (t < (double)N) lo = s;
        else hi = s;
    }
    /* Cumulative rounding keeps each count within one of its real value x_u in [1, cap]; the
     * clamp and the correction below absorb floating-point drift of the running sum. */
    double X = 0;
    int64_t prev = 0, total = 0;
    for (uint64_t u = 0; u < U; u++) {
        double x = s * a[u];
        X += x < 1 ? 1 : x > cap ? cap : x;
        int64_t cur = llround(X), k = cur - prev;
        prev = cur;
        n[u] = (uint32_t)(k < 1 ? 1 : k > cap ? cap : k);
        total += n[u];
    }
    hr_free(a);
    int64_t diff = (int64_t)N - total;
    while (diff > 0)
        for (uint64_t u = 0; u < U && diff > 0; u++)
            if (n[u] < cap) n[u]++, diff--;
    while (diff < 0)
        for (uint64_t u = 0; u < U && diff < 0; u++)
            if (n[u] > 1) n[u]--, diff++;
}

int hr_synth_model_create(const hr_synth_params *p, hr_synth_model **out, hr_error *err)
{
    HR_TRY(hr_synth_params_check(p, err));
    hr_synth_model *m = hr_calloc(1, sizeof *m);
    m->p = *p;
    m->cap = hr_synth_user_cap(p->items);
    build_items(m);
    const uint64_t total = p->users + p->bots;
    m->events = hr_malloc(total * sizeof *m->events);
    build_activity(m);
    for (uint64_t u = 0; u < p->users; u++)
        if (m->events[u] > m->max_user) m->max_user = m->events[u];
    m->capacity = m->max_user;
    for (uint64_t u = p->users; u < total; u++) {
        hr_rng r = user_stream(m, u, SUB_ACTIVITY);
        uint64_t k = HR_SYNTH_BOT_MIN + hr_rng_below(&r, HR_SYNTH_BOT_MAX - HR_SYNTH_BOT_MIN + 1);
        m->events[u] = (uint32_t)(k < p->items ? k : p->items);
        if (m->events[u] > m->capacity) m->capacity = m->events[u];
    }
    *out = m;
    return 0;
}

void hr_synth_model_free(hr_synth_model *m)
{
    if (!m) return;
    hr_free(m->events);
    hr_free(m->cluster);
    hr_free(m->weight);
    hr_free(m->coff);
    hr_free(m->slots);
    hr_free(m->hsize);
    hr_free(m->phead);
    hr_free(m->W);
    hr_free(m);
}

const hr_synth_params *hr_synth_model_params(const hr_synth_model *m) { return &m->p; }
uint64_t hr_synth_total_users(const hr_synth_model *m) { return m->p.users + m->p.bots; }
int hr_synth_is_bot(const hr_synth_model *m, uint64_t u) { return u >= m->p.users; }
uint32_t hr_synth_user_events(const hr_synth_model *m, uint64_t u)
{
    return u < hr_synth_total_users(m) ? m->events[u] : 0;
}
uint32_t hr_synth_max_user_events(const hr_synth_model *m) { return m->max_user; }
uint32_t hr_synth_event_capacity(const hr_synth_model *m) { return m->capacity; }
int hr_synth_item_cluster(const hr_synth_model *m, uint64_t i) { return m->cluster[i]; }
double hr_synth_item_weight(const hr_synth_model *m, uint64_t i) { return m->weight[i]; }
double hr_synth_cluster_weight(const hr_synth_model *m, int c) { return m->W[c]; }

void hr_synth_user_affinity(const hr_synth_model *m, uint64_t u, double *p)
{
    const int R = m->p.factors;
    hr_rng r = user_stream(m, u, SUB_AFFINITY);
    double v = hr_rng_uniform(&r);
    int k = v < 0.5 ? 1 : v < 0.8 ? 2 : 3;
    if (k > R) k = R;
    int chosen[3];
    double g[3], gs = 0;
    for (int j = 0; j < k; j++) {
        int c, dup;
        do {
            c = (int)hr_rng_below(&r, (uint64_t)R);
            dup = 0;
            for (int t = 0; t < j; t++) dup |= chosen[t] == c;
        } while (dup);
        chosen[j] = c;
        /* Exponential draws normalised = Dirichlet(1, ..., 1); the epsilon keeps gs > 0. */
        g[j] = -log(1.0 - hr_rng_uniform(&r)) + 1e-12;
        gs += g[j];
    }
    for (int c = 0; c < R; c++) p[c] = HR_SYNTH_AFFINITY_FLOOR / R;
    for (int j = 0; j < k; j++) p[chosen[j]] += (1.0 - HR_SYNTH_AFFINITY_FLOOR) * g[j] / gs;
}

hr_synth_scratch *hr_synth_scratch_create(const hr_synth_model *m)
{
    hr_synth_scratch *s = hr_calloc(1, sizeof *s);
    const int R = m->p.factors;
    s->R = R;
    double *d = hr_calloc((size_t)R * 6, sizeof *d);
    s->p = d, s->cdf = d + R, s->z = d + 2 * R, s->extra = d + 3 * R, s->taken_w = d + 4 * R, s->rem = d + 5 * R;
    s->taken_n = hr_calloc((size_t)R, sizeof *s->taken_n);
    /* Load factor <= 1/2 keeps probe chains short; 64 slots minimum. */
    int bits = 6;
    while (((uint64_t)1 << bits) < 2 * (uint64_t)m->capacity) bits++;
    s->set = hr_calloc((size_t)1 << bits, sizeof *s->set);
    s->mask = ((uint64_t)1 << bits) - 1;
    s->shift = 64 - bits;
    s->last = 0;
    for (int c = 0; c < R; c++)
        if (m->coff[c + 1] > m->coff[c]) s->last = c;
    return s;
}

void hr_synth_scratch_free(hr_synth_scratch *s)
{
    if (!s) return;
    hr_free(s->p);
    hr_free(s->taken_n);
    hr_free(s->set);
    hr_free(s);
}

static void set_reset(hr_synth_scratch *s)
{
    /* A new stamp empties the set in O(1); only a wrap-around needs a real clear. */
    if (++s->stamp == 0) {
        memset(s->set, 0, (size_t)(s->mask + 1) * sizeof *s->set);
        s->stamp = 1;
    }
}

static inline uint64_t set_slot(const hr_synth_scratch *s, uint32_t item)
{
    return ((uint64_t)item * 0x9e3779b97f4a7c15ull) >> s->shift;
}

/* Adds item; returns 1 if it was new, 0 if already present. */
static inline int set_add(hr_synth_scratch *s, uint32_t item)
{
    const uint64_t key = (uint64_t)s->stamp << 32 | item;
    for (uint64_t h = set_slot(s, item);; h = (h + 1) & s->mask) {
        const uint64_t v = s->set[h];
        if ((uint32_t)(v >> 32) != s->stamp) {
            s->set[h] = key;
            return 1;
        }
        if (v == key) return 0;
    }
}

static inline int set_has(const hr_synth_scratch *s, uint32_t item)
{
    const uint64_t key = (uint64_t)s->stamp << 32 | item;
    for (uint64_t h = set_slot(s, item);; h = (h + 1) & s->mask) {
        const uint64_t v = s->set[h];
        if ((uint32_t)(v >> 32) != s->stamp) return 0;
        if (v == key) return 1;
    }
}

/* Per-user cluster distribution, rating shifts and count means. */
static void user_profile(const hr_synth_model *m, uint64_t u, hr_synth_scratch *s)
{
    const int R = s->R;
    hr_synth_user_affinity(m, u, s->p);
    double total = 0, pmax = 0;
    for (int c = 0; c < R; c++) {
        total += s->p[c] * m->W[c];
        s->cdf[c] = total;
        if (s->p[c] > pmax) pmax = s->p[c];
    }
    double mean = 0, var = 0;
    for (int c = 0; c < R; c++) mean += s->p[c] * m->W[c] / total * s->p[c];
    for (int c = 0; c < R; c++) var += s->p[c] * m->W[c] / total * (s->p[c] - mean) * (s->p[c] - mean);
    const double sd = sqrt(var);
    for (int c = 0; c < R; c++) {
        s->z[c] = sd > 1e-12 ? (s->p[c] - mean) / sd : 0.0;
        s->extra[c] = 4.0 * s->p[c] / pmax;
        s->taken_w[c] = 0;
        s->taken_n[c] = 0;
    }
}

static inline int pick_cluster(const hr_synth_scratch *s, hr_rng *r)
{
    const double x = hr_rng_uniform(r) * s->cdf[s->R - 1];
    int lo = 0, hi = s->R; /* first c with cdf[c] > x: empty clusters (flat steps) never win */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->cdf[mid] > x) hi = mid;
        else lo = mid + 1;
    }
    return lo < s->R ? lo : s->last;
}

static inline uint32_t alias_draw(const hr_synth_model *m, int c, hr_rng *r)
{
    const uint64_t base = m->coff[c], h = m->hsize[c];
    const synth_slot *sl;
    if (m->phead[c] >= 1.0 || hr_rng_uniform(r) < m->phead[c])
        sl = m->slots + base + hr_rng_below(r, h);
    else
        sl = m->slots + base + h + hr_rng_below(r, m->coff[c + 1] - base - h);
    return (uint32_t)(hr_rng_u64(r) >> 32) < sl->thresh ? sl->item : sl->alias_item;
}

/* Sampling without replacement once rejection has become slow: the next item is drawn
 * from P(. | u) restricted to untaken items, cluster by remaining mass, then within the
 * cluster by rejection or, when that keeps failing, by a scan over the cluster. */
static uint32_t draw_exact(const hr_synth_model *m, hr_synth_scratch *s, hr_rng *r, int *cl)
{
    const int R = s->R;
    double tot = 0;
    int lastc = -1;
    for (int c = 0; c < R; c++) {
        const uint64_t size = m->coff[c + 1] - m->coff[c];
        double left = m->W[c] - s->taken_w[c];
        s->rem[c] = s->taken_n[c] >= size ? 0 : s->p[c] * (left > 1e-300 ? left : 1e-300);
        tot += s->rem[c];
        if (s->rem[c] > 0) lastc = c;
    }
    /* lastc >= 0: a normal user draws at most cap <= items/2 items, so some remain. */
    double x = hr_rng_uniform(r) * tot, acc = 0;
    int c = lastc;
    for (int k = 0; k < R; k++) {
        acc += s->rem[k];
        if (s->rem[k] > 0 && acc > x) {
            c = k;
            break;
        }
    }
    uint32_t item = UINT32_MAX;
    for (int t = 0; t < CLUSTER_REJECT_LIMIT && item == UINT32_MAX; t++) {
        uint32_t i = alias_draw(m, c, r);
        if (set_add(s, i)) item = i;
    }
    if (item == UINT32_MAX) {
        const double left = m->W[c] - s->taken_w[c];
        const double target = hr_rng_uniform(r) * (left > 0 ? left : 0);
        double a = 0;
        for (uint64_t k = m->coff[c]; k < m->coff[c + 1]; k++) {
            const uint32_t i = m->slots[k].item;
            if (set_has(s, i)) continue;
            item = i;  /* the last untaken one absorbs rounding at the end */
            a += m->weight[i];
            if (a > target) break;
        }
        set_add(s, item);
    }
    s->taken_w[c] += m->weight[item];
    s->taken_n[c]++;
    *cl = c;
    return item;
}

static uint32_t draw_item(const hr_synth_model *m, hr_synth_scratch *s, hr_rng *r, const hr_synth_event *ev,
                          uint32_t j, int *exact, int *cl)
{
    if (!*exact) {
        for (int t = 0; t < REJECT_LIMIT; t++) {
            const int c = pick_cluster(s, r);
            const uint32_t i = alias_draw(m, c, r);
            if (set_add(s, i)) {
                *cl = c;
                return i;
            }
        }
        /* Switching mode changes speed, not the distribution: both draw from P(. | u) over
         * the items not yet taken.  The exact mode needs the mass taken per cluster. */
        *exact = 1;
        for (uint32_t k = 0; k < j; k++) {
            const int c = m->cluster[ev[k].item];
            s->taken_w[c] += m->weight[ev[k].item];
            s->taken_n[c]++;
        }
    }
    return draw_exact(m, s, r, cl);
}

static int32_t geometric(hr_rng *r, double mean)
{
    if (mean <= 0) return 0;
    const double k = floor(log(1.0 - hr_rng_uniform(r)) / log(mean / (1.0 + mean)));
    return k < 1e6 ? (int32_t)k : 1000000;
}

static uint32_t generate_bot(const hr_synth_model *m, uint64_t u, hr_synth_scratch *s, hr_synth_event *ev)
{
    /* Floyd's algorithm: k distinct items uniformly in k steps, whatever k / items is. */
    const uint64_t n = m->events[u], I = m->p.items;
    hr_rng r = user_stream(m, u, SUB_EVENTS);
    uint32_t j = 0;
    for (uint64_t t = I - n; t < I; t++) {
        uint32_t x = (uint32_t)hr_rng_below(&r, t + 1);
        if (!set_add(s, x)) {
            x = (uint32_t)t;
            set_add(s, x);
        }
        ev[j].item = x;
        ev[j].value = m->p.kind == HR_SYNTH_RATINGS ? 1 + (int32_t)hr_rng_below(&r, 5) : 1 + geometric(&r, 1.0);
        ev[j].t = (int64_t)hr_rng_below(&r, (uint64_t)m->p.span);
        j++;
    }
    return j;
}

uint32_t hr_synth_user_generate(const hr_synth_model *m, uint64_t u, hr_synth_scratch *s, hr_synth_event *ev)
{
    if (u >= hr_synth_total_users(m)) return 0;
    set_reset(s);
    if (hr_synth_is_bot(m, u)) return generate_bot(m, u, s, ev);
    user_profile(m, u, s);
    const uint32_t n = m->events[u];
    hr_rng r = user_stream(m, u, SUB_EVENTS);
    int exact = 0;
    for (uint32_t j = 0; j < n; j++) {
        int c;
        ev[j].item = draw_item(m, s, &r, ev, j, &exact, &c);
        if (m->p.kind == HR_SYNTH_RATINGS) {
            const long v = lround(3.0 + 1.2 * s->z[c] + HR_SYNTH_NOISE_SD * hr_rng_normal(&r));
            ev[j].value = (int32_t)(v < 1 ? 1 : v > 5 ? 5 : v);
        } else {
            ev[j].value = 1 + geometric(&r, s->extra[c]);
        }
        ev[j].t = (int64_t)hr_rng_below(&r, (uint64_t)m->p.span);
    }
    return n;
}

hr_rng hr_synth_fault_stream(const hr_synth_model *m, uint64_t u) { return user_stream(m, u, SUB_FAULTS); }

void hr_synth_fault_draw(const hr_synth_model *m, hr_rng *r, const hr_synth_event *e, hr_synth_fault *f)
{
    memset(f, 0, sizeof *f);
    if (!(hr_rng_uniform(r) < m->p.dirty)) return;
    f->kind = (hr_synth_fault_kind)(1 + hr_rng_below(r, HR_FAULT__COUNT - 1));
    f->variant = (int)hr_rng_below(r, 2);
    if (f->kind != HR_FAULT_CONFLICT) return;
    const int64_t room = m->p.span - 1 - e->t;
    if (room < 1) {
        f->kind = HR_FAULT_DUPLICATE;
        return;
    }
    /* Later by up to three days, so a conflict often lands in another day's file. */
    f->t = e->t + 1 + (int64_t)hr_rng_below(r, (uint64_t)(room < 3 * 86400 ? room : 3 * 86400));
    if (m->p.kind == HR_SYNTH_RATINGS) f->value = 1 + (e->value - 1 + 1 + (int32_t)hr_rng_below(r, 4)) % 5;
    else f->value = e->value + 1 + (int32_t)hr_rng_below(r, 5);
}
