/* jobs/drift_recs.c — day-over-day change of the outputs: recommendation overlap per user,
 * coverage and popularity bias per side, and the change of every item's nearest neighbours
 * (jobs/drift.h).
 *
 * Recommendations: rank r reads parts r, r + P, ... of each side; every line is sent to the rank
 * hash(user) mod P (one all-to-all per side), which then holds each of its users' whole lists
 * of both sides and compares them.  Item ids are compared by a 64-bit hash of their exact bytes
 * (users likewise): a collision needs ~2^32 distinct ids to become likely.  Distinct
 * recommended items are counted where hash(item) mod P lands.  Per-user values are summed as
 * fixed-point integers, so the means do not depend on the rank count.
 *
 * Neighbours: the new model's item block of this rank is the query set for both models; the
 * base model's rows of those items are fetched by id (jobs/rowfetch.h) and scored round the base
 * model's ring, the new rows round the new model's ring (jobs/ringscore.h, as `similar` does);
 * base neighbour ids are mapped to new ids through the two item dictionaries (an item the new
 * model lacks matches nothing).  No rank holds more than one block of either model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/model.h"
#include "io/recsread.h"
#include "jobs/drift.h"
#include "jobs/ringscore.h"
#include "jobs/rowfetch.h"

#define SEED_USER 0x6472696674u   /* "drift" */
#define SEED_ITEM 0x6974656du     /* "item" */

typedef struct rec_ent {
    uint64_t user, item;
    uint32_t rank, pad;
} rec_ent;

typedef struct read_ctx {
    rec_ent *v;
    uint64_t n, cap;
    const hr_drift_catalog *cat;
    uint64_t pop_sum, unmatched, exposure[HR_DRIFT_LOG_BUCKETS];
} read_ctx;

static int on_line(void *p, const char *user, size_t ulen, uint32_t rank, const char *item, size_t ilen)
{
    read_ctx *c = p;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4096;
        c->v = hr_realloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = (rec_ent){ hr_hash_bytes(user, ulen, SEED_USER), hr_hash_bytes(item, ilen, SEED_ITEM), rank, 0 };
    if (c->cat->dict) {
        int64_t g = hr_dict_find(c->cat->dict, item, ilen);
        if (g < 0) {
            c->unmatched++;
        } else {
            uint64_t pop = c->cat->nnz[g];
            c->pop_sum += pop;
            c->exposure[hr_drift_log_bucket(pop)]++;
        }
    }
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    const rec_ent *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Send each element to the rank key(e) mod P; *out (hr_malloc'd) gets this rank's. */
static int route(hr_job *job, const rec_ent *v, uint64_t n, int by_item, rec_ent **out, uint64_t *nout)
{
    int P = job->size;
    uint64_t *cnt = hr_calloc((size_t)P, sizeof *cnt), *pos = hr_calloc((size_t)P, sizeof *pos);
    uint64_t *rc_ = hr_calloc((size_t)P, sizeof *rc_);
    for (uint64_t x = 0; x < n; x++) cnt[(by_item ? v[x].item : v[x].user) % (uint64_t)P]++;
    for (int r = 1; r < P; r++) pos[r] = pos[r - 1] + cnt[r - 1];
    rec_ent *s = hr_malloc((n + 1) * sizeof *s);
    for (uint64_t x = 0; x < n; x++) s[pos[(by_item ? v[x].item : v[x].user) % (uint64_t)P]++] = v[x];
    void *recv = NULL;
    int rc = hr_comm_alltoallv(job->comm, s, cnt, sizeof *s, &recv, rc_, nout);
    *out = recv;
    hr_free(s);
    hr_free(cnt);
    hr_free(pos);
    hr_free(rc_);
    return rc;
}

/* Read side s on every rank, route by user; counts exposure and distinct items. */
static int read_side(hr_job *job, const char *dir, const hr_drift_catalog *cat, int s, hr_drift_recs *out, rec_ent **mine,
                     uint64_t *nmine, int64_t *top)
{
    hr_recs_dir d;
    int rc = hr_recs_open(dir, &d, &job->err);
    read_ctx c;
    memset(&c, 0, sizeof c);
    c.cat = cat;
    for (size_t x = (size_t)job->rank; rc == 0 && x < d.nparts; x += (size_t)job->size) {
        uint64_t lines;
        rc = hr_recs_read_part(&d, x, on_line, &c, &lines, &job->err);
    }
    *top = d.top;
    hr_recs_close(&d);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    uint64_t sums[3 + HR_DRIFT_LOG_BUCKETS] = { c.n, c.pop_sum, c.unmatched };
    memcpy(sums + 3, c.exposure, sizeof c.exposure);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, sums, 3 + HR_DRIFT_LOG_BUCKETS);
    /* distinct items: each item hash counted once where it lands */
    rec_ent *byi = NULL;
    uint64_t nbyi = 0, distinct = 0;
    if (rc == 0) rc = route(job, c.v, c.n, 1, &byi, &nbyi);
    if (rc == 0) {
        uint64_t *h = hr_malloc((nbyi + 1) * sizeof *h);
        for (uint64_t x = 0; x < nbyi; x++) h[x] = byi[x].item;
        qsort(h, nbyi, sizeof *h, cmp_u64);
        for (uint64_t x = 0; x < nbyi; x++) distinct += x == 0 || h[x] != h[x - 1];
        hr_free(h);
        rc = hr_comm_allreduce_sum_u64(job->comm, &distinct, 1);
    }
    hr_free(byi);
    if (rc == 0) rc = route(job, c.v, c.n, 0, mine, nmine);
    hr_free(c.v);
    if (rc < 0) return rc;
    qsort(*mine, *nmine, sizeof **mine, cmp_ent);
    uint64_t users = 0;
    for (uint64_t x = 0; x < *nmine; x++) users += x == 0 || (*mine)[x].user != (*mine)[x - 1].user;
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, &users, 1));
    out->lines[s] = sums[0];
    out->users[s] = users;
    out->distinct_items[s] = distinct;
    out->coverage[s] = cat->items ? (double)distinct / (double)cat->items : 0;
    out->unmatched[s] = sums[2];
    memcpy(out->exposure[s], sums + 3, sizeof out->exposure[s]);
    if (cat->dict && cat->nnz && sums[0] > sums[2]) {
        uint64_t tot = 0;
        for (uint64_t i = 0; i < cat->dict->n; i++) tot += cat->nnz[i];
        double per_item = cat->dict->n ? (double)tot / (double)cat->dict->n : 0;
        out->has_bias[s] = per_item > 0;
        out->popularity_bias[s] = per_item > 0 ? (double)sums[1] / (double)(sums[0] - sums[2]) / per_item : 0;
    }
    return 0;
}

int hr_drift_recs_compare(hr_job *job, const char *const recs[2], const hr_drift_catalog cat[2], uint32_t top, double rbo_p,
                          hr_drift_recs *out)
{
    memset(out, 0, sizeof *out);
    rec_ent *mine[2] = { NULL, NULL };
    uint64_t n[2] = { 0, 0 };
    int64_t tops[2] = { 0, 0 };
    int rc = 0;
    for (int s = 0; rc == 0 && s < 2; s++)
        if (recs[s]) rc = read_side(job, recs[s], &cat[s], s, out, &mine[s], &n[s], &tops[s]);
    if (rc == 0 && recs[0] && recs[1]) {
        if (!top) top = (uint32_t)(tops[0] && tops[1] ? (tops[0] < tops[1] ? tops[0] : tops[1]) : tops[0] ? tops[0] : tops[1]);
        if (!top) top = 10;
        out->top = top;
        uint64_t *la = hr_malloc((size_t)top * sizeof *la), *lb = hr_malloc((size_t)top * sizeof *lb);
        uint64_t a = 0, b = 0, cnt[3] = { 0, 0, 0 }, sj = 0, sr = 0;
        while (a < n[0] || b < n[1]) {
            uint64_t ua = a < n[0] ? mine[0][a].user : UINT64_MAX, ub = b < n[1] ? mine[1][b].user : UINT64_MAX;
            uint64_t u = ua < ub ? ua : ub;
            uint32_t na = 0, nb = 0;
            int ina = a < n[0] && ua == u, inb = b < n[1] && ub == u;
            for (; a < n[0] && mine[0][a].user == u; a++)
                if (na < top && mine[0][a].rank <= top) la[na++] = mine[0][a].item;
            for (; b < n[1] && mine[1][b].user == u; b++)
                if (nb < top && mine[1][b].rank <= top) lb[nb++] = mine[1][b].item;
            if (ina && inb) {
                cnt[0]++;
                sj += hr_drift_fix(hr_drift_jaccard(la, na, lb, nb));
                sr += hr_drift_fix(hr_drift_rbo(la, na, lb, nb, rbo_p));
            } else {
                cnt[ina ? 1 : 2]++;
            }
        }
        hr_free(la);
        hr_free(lb);
        uint64_t all[5] = { cnt[0], cnt[1], cnt[2], sj, sr };
        rc = hr_comm_allreduce_sum_u64(job->comm, all, 5);
        out->users_both = all[0], out->users_only_base = all[1], out->users_only_new = all[2];
        out->jaccard = all[0] ? hr_drift_unfix(all[3]) / (double)all[0] : 0;
        out->rbo = all[0] ? hr_drift_unfix(all[4]) / (double)all[0] : 0;
    }
    hr_free(mine[0]);
    hr_free(mine[1]);
    return rc;
}

/* ---- nearest neighbours ------------------------------------------------------------------ */

/* Normalise rows in place (cosine); a zero row stays zero. */
static void normalise(float *r, uint64_t n, int k)
{
    for (uint64_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)r[i * (uint64_t)k + (uint64_t)j] * r[i * (uint64_t)k + (uint64_t)j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int j = 0; j < k; j++) r[i * (uint64_t)k + (uint64_t)j] *= inv;
    }
}

/* The K neighbours (model gids, UINT32_MAX padding) of nq query rows Q against model m's ring;
 * self[x]: the query's own gid in m (excluded) or UINT32_MAX. */
static int neighbours_of(hr_job *job, const float *block, uint64_t n, int k, const float *Q, const uint32_t *self, uint64_t nq,
                         uint32_t K, uint32_t *out)
{
    uint32_t **excl = hr_malloc((nq + 1) * sizeof *excl), *nexcl = hr_malloc((nq + 1) * sizeof *nexcl);
    hr_topbuf *heaps = hr_malloc((nq + 1) * sizeof *heaps);
    hr_topkey *store = hr_malloc((nq * K + 1) * sizeof *store);
    for (uint64_t x = 0; x < nq; x++) {
        excl[x] = (uint32_t *)&self[x];
        nexcl[x] = self[x] != UINT32_MAX;
        hr_topbuf_init(&heaps[x], store + x * K, K, K);
    }
    hr_ring_query q = { nq, Q, excl, nexcl, heaps };
    double ts, tc;
    int rc = hr_ring_score(job, block, NULL, NULL, n, k, &q, &ts, &tc);
    float *sc = hr_malloc((K + 1) * sizeof *sc);
    for (uint64_t x = 0; rc == 0 && x < nq; x++) {
        uint32_t got = hr_topbuf_sorted(&heaps[x], out + x * K, sc);
        for (uint32_t r = 0; r < got; r++)
            if (!isfinite(sc[r])) out[x * K + r] = UINT32_MAX;
        for (uint32_t r = got; r < K; r++) out[x * K + r] = UINT32_MAX;
    }
    hr_free(sc);
    hr_free(excl);
    hr_free(nexcl);
    hr_free(heaps);
    hr_free(store);
    return rc;
}

static int load_block(hr_job *job, const char *path, hr_model *m, uint64_t *lo, uint64_t *hi)
{
    int rc = hr_model_load_dicts(path, m, &job->err);
    if (rc == 0 && m->kind != HR_MODEL_FACTOR)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "%s: a %s model has no item factors to compare neighbours by", path, m->algo);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) return rc;
    *lo = hr_block_lo(m->n_items, job->size, job->rank);
    *hi = hr_block_lo(m->n_items, job->size, job->rank + 1);
    hr_model_part part = { NULL, 0, *lo, *hi, NULL, 0 };
    rc = hr_model_load_part(path, m, &part, &job->err);
    if (rc == 0) normalise(m->item_factors, *hi - *lo, m->k);
    return hr_comm_agree(job->comm, rc, &job->err);
}

int hr_drift_neighbours(hr_job *job, const char *base, const char *cur, uint32_t K, hr_drift_nbrs *out)
{
    memset(out, 0, sizeof *out);
    out->k = K;
    hr_model mb, mn;
    memset(&mb, 0, sizeof mb);
    memset(&mn, 0, sizeof mn);
    uint64_t blo, bhi, nlo, nhi;
    int rc = load_block(job, base, &mb, &blo, &bhi);
    if (rc == 0) rc = load_block(job, cur, &mn, &nlo, &nhi);
    if (rc < 0) {
        hr_model_free(&mb);
        hr_model_free(&mn);
        return rc;
    }
    uint64_t nq = nhi - nlo;
    uint32_t *n2b = hr_dict_match(&mn.items, &mb.items, NULL), *b2n = hr_dict_match(&mb.items, &mn.items, NULL);
    /* queries: this rank's new items that the base model also has */
    uint32_t *qn = hr_malloc((nq + 1) * sizeof *qn), *qb = hr_malloc((nq + 1) * sizeof *qb);
    uint64_t m = 0;
    for (uint64_t i = nlo; i < nhi; i++)
        if (n2b[i] != UINT32_MAX) qn[m] = (uint32_t)i, qb[m++] = n2b[i];
    int k = mn.k;
    float *Qn = hr_malloc((m * (uint64_t)k + 1) * sizeof *Qn), *Qb = hr_malloc((m * (uint64_t)mb.k + 1) * sizeof *Qb);
    for (uint64_t x = 0; x < m; x++) memcpy(Qn + x * (uint64_t)k, mn.item_factors + (qn[x] - nlo) * (uint64_t)k, (size_t)k * sizeof *Qn);
    rc = hr_fetch_rows(job, mb.item_factors, mb.n_items, mb.k, qb, m, Qb);
    uint32_t *ln = hr_malloc((m * K + 1) * sizeof *ln), *lb = hr_malloc((m * K + 1) * sizeof *lb);
    if (rc == 0) rc = neighbours_of(job, mn.item_factors, mn.n_items, k, Qn, qn, m, K, ln);
    if (rc == 0) rc = neighbours_of(job, mb.item_factors, mb.n_items, mb.k, Qb, qb, m, K, lb);
    uint64_t sums[2] = { m, 0 };
    if (rc == 0) {
        uint64_t *a = hr_malloc((K + 1) * sizeof *a), *b = hr_malloc((K + 1) * sizeof *b);
        for (uint64_t x = 0; x < m; x++) {
            uint32_t na = 0, nb = 0;
            /* base neighbours in new ids; one the new model lacks gets an id no new item has */
            for (uint32_t r = 0; r < K; r++) {
                uint32_t g = lb[x * K + r];
                if (g != UINT32_MAX) a[na++] = b2n[g] != UINT32_MAX ? b2n[g] : (uint64_t)UINT32_MAX + 1 + g;
                if (ln[x * K + r] != UINT32_MAX) b[nb++] = ln[x * K + r];
            }
            sums[1] += hr_drift_fix(hr_drift_jaccard(a, na, b, nb));
        }
        hr_free(a);
        hr_free(b);
        rc = hr_comm_allreduce_sum_u64(job->comm, sums, 2);
    }
    out->items_both = sums[0];
    out->jaccard = sums[0] ? hr_drift_unfix(sums[1]) / (double)sums[0] : 0;
    hr_free(ln);
    hr_free(lb);
    hr_free(Qn);
    hr_free(Qb);
    hr_free(qn);
    hr_free(qb);
    hr_free(n2b);
    hr_free(b2n);
    hr_model_free(&mb);
    hr_model_free(&mn);
    return rc;
}
