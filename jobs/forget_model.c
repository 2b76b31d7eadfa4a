/* hpcrec forget --model (jobs/forget_model.h). */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "io/model.h"
#include "io/modelread.h"
#include "jobs/forget.h"
#include "jobs/forget_model.h"
#include "jobs/modelwrite.h"

/* The keys io/model.c writes itself (an info object may not carry them). */
static const char *const OWN[] = { "format", "version", "kind", "algo", "k", "users", "items", "global_mean", "software",
                                   "created", "members", "arrays", "row_weight", "fold_in", "item_item", "user_user" };

static void fill_scores(void *ctx, uint64_t lo, uint64_t hi, float *out)
{
    memcpy(out, (const float *)ctx + lo, (hi - lo) * sizeof *out);
}

/* Item-item blocks come from the old bundle, one block per rank per round. */
typedef struct {
    const char *path;
    hr_model *dicts;   /* the header (kind, ii_cols, counts) */
    int rank;
    hr_model cur;
} ii_ctx;

static int ii_make(void *ctx, const uint64_t *blocks, hr_iiblock *out, hr_error *err)
{
    ii_ctx *c = ctx;
    hr_model_free(&c->cur);
    uint64_t b = blocks[c->rank];
    if (b == UINT64_MAX) return 0;
    HR_TRY(hr_model_load_dicts(c->path, &c->cur, err));
    uint64_t lo = b * c->cur.ii_cols, hi = lo + c->cur.ii_cols < c->cur.n_items ? lo + c->cur.ii_cols : c->cur.n_items;
    hr_model_part p = { NULL, 0, lo, hi, NULL, 0 };
    HR_TRY(hr_model_load_part(c->path, &c->cur, &p, err));
    if (c->cur.ii_count != 1) return hr_error_set(err, HR_ERR_STATE, "%s: item-item block %llu not found", c->path, (unsigned long long)b);
    *out = c->cur.ii[0];
    return 0;
}

/* User-user blocks are rebuilt: new block c holds the kept users' neighbour lists (new ids
 * c*W ..), read from the old bundle's blocks, without the entries naming a removed user (a
 * list can so end shorter than top_m: the next retraining refills it), rows renumbered by the
 * order-preserving map old -> new id, so each column stays ascending. */
typedef struct {
    hr_model_reader *r;
    const uint32_t *map;      /* old user id -> new, UINT32_MAX: removed */
    const uint64_t *old_of;   /* new user id -> old */
    uint64_t n_new, W;
    int rank;
    void *bytes;              /* the old block in hand */
    uint64_t have;
    hr_iiblock old;
    uint64_t *ptr;            /* the new block */
    uint32_t *row;
    float *val;
    uint64_t cap;
} uu_ctx;

static int uu_make(void *ctx, const uint64_t *blocks, hr_iiblock *out, hr_error *err)
{
    uu_ctx *c = ctx;
    uint64_t b = blocks[c->rank];
    if (b == UINT64_MAX) return 0;
    const uint64_t c0 = b * c->W, c1 = c0 + c->W < c->n_new ? c0 + c->W : c->n_new;
    uint64_t z = 0;
    c->ptr[0] = 0;
    for (uint64_t j = c0; j < c1; j++) {
        const uint64_t g = c->old_of[j], ob = g / c->W;
        if (c->have != ob) {
            hr_free(c->bytes);
            c->bytes = NULL;
            c->have = UINT64_MAX;
            HR_TRY(hr_model_reader_iiblock(c->r, ob, &c->bytes, &c->old, err));
            c->have = ob;
        }
        const hr_iiblock *o = &c->old;
        const uint64_t e0 = o->ptr[g - o->c0], e1 = o->ptr[g - o->c0 + 1];
        if (z + (e1 - e0) > c->cap) {
            c->cap = 2 * (z + (e1 - e0)) + 1024;
            c->row = hr_realloc(c->row, c->cap * sizeof *c->row);
            c->val = hr_realloc(c->val, c->cap * sizeof *c->val);
        }
        for (uint64_t e = e0; e < e1; e++)
            if (c->map[o->row[e]] != UINT32_MAX) {
                c->row[z] = c->map[o->row[e]];
                c->val[z++] = o->val[e];
            }
        c->ptr[j - c0 + 1] = z;
    }
    *out = (hr_iiblock){ c->n_new, c0, c1, z, 0, c->ptr, c->row, c->val };
    return 0;
}

int hr_forget_model(hr_job *job, hr_forget_set *s, const char *path, uint64_t *users_removed)
{
    *users_removed = 0;
    hr_model m;
    memset(&m, 0, sizeof m);
    int rc = hr_model_load_dicts(path, &m, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_model_free(&m);
        return rc;
    }
    uint8_t *gone = NULL;
    uint64_t ngone = 0;
    rc = hr_forget_flags(job, s, &m.users, &gone, &ngone);
    if (rc < 0 || ngone == 0) {
        if (rc == 0) hr_progress("forget     %s: none of the %llu ids; unchanged", path, (unsigned long long)s->n);
        hr_free(gone);
        hr_model_free(&m);
        return rc;
    }
    uint64_t n_old = m.users.n;
    json_t *info = json_deep_copy(m.manifest);
    for (size_t k = 0; k < sizeof OWN / sizeof OWN[0]; k++) json_object_del(info, OWN[k]);
    for (uint64_t g = 0; g < n_old; g++) gone[g] = !gone[g];   /* now: keep */
    hr_dict kept = m.users;   /* hr_dict_keep works in place: the model's copy becomes the new one */
    uint32_t *map = hr_dict_keep(&kept, gone);
    const int uu = m.kind == HR_MODEL_USERUSER;
    uint64_t *old_of = NULL;   /* user-user models: new id -> old */
    if (uu) {
        old_of = hr_malloc((kept.n + 1) * sizeof *old_of);
        for (uint64_t g = 0; g < n_old; g++)
            if (map[g] != UINT32_MAX) old_of[map[g]] = g;
    }
    memset(&m.users, 0, sizeof m.users);
    /* This rank's share of the kept users and of the items, under unit-weight partitions (any
     * partition gives the same bytes: jobs/modelwrite.h). */
    hr_part up, ip;
    hr_part_build(&up, HR_PART_BALANCED, job->size, kept.n, NULL);
    hr_part_build(&ip, HR_PART_BALANCED, job->size, m.n_items, NULL);
    uint64_t nu = up.rows[job->rank], ni = ip.rows[job->rank];
    uint64_t *uid = hr_malloc((nu + 1) * sizeof *uid), *iid = hr_malloc((ni + 1) * sizeof *iid), a = 0, z = 0;
    for (uint64_t g = 0; g < n_old; g++)
        if (map[g] != UINT32_MAX && up.owner[map[g]] == (uint32_t)job->rank) uid[a++] = g;
    for (uint64_t i = 0; i < m.n_items; i++)
        if (ip.owner[i] == (uint32_t)job->rank) iid[z++] = i;
    hr_free(gone);
    /* blocked models: no item rows by id (their item baselines load whole); a user-user model's
     * blocks come from the old bundle in uu_make, the part's users' ones are not needed */
    const int blocked = hr_model_blocked(m.kind);
    hr_model_part part = { uid, nu, 0, 0, blocked ? NULL : iid, blocked ? 0 : ni };
    rc = hr_model_load_part(path, &m, &part, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    hr_forget_counts fc = { ngone, 0, 0 };
    if (rc == 0) {
        hr_forget_stamp(info, s, &fc);
        hr_model hdr = m;   /* header fields; the arrays come through src */
        hdr.users = kept;
        hdr.n_users = kept.n;
        hdr.manifest = NULL;
        hr_model_src src;
        memset(&src, 0, sizeof src);
        src.users = &kept;
        src.items = &m.items;
        if (m.user_factors) src.user_factors = (hr_rows_src){ &up, m.user_factors, NULL, NULL };
        if (m.user_bias) src.user_bias = (hr_rows_src){ &up, m.user_bias, NULL, NULL };
        if (m.item_factors) src.item_factors = (hr_rows_src){ &ip, m.item_factors, NULL, NULL };
        if (m.item_bias)   /* whole in a blocked model's part (io/model.h), the rank's share otherwise */
            src.item_bias = blocked ? (hr_rows_src){ NULL, NULL, fill_scores, m.item_bias } : (hr_rows_src){ &ip, m.item_bias, NULL, NULL };
        if (m.item_scores) src.item_scores = (hr_rows_src){ NULL, NULL, fill_scores, m.item_scores };
        ii_ctx ic = { path, &m, job->rank, { 0 } };
        if (m.kind == HR_MODEL_ITEMITEM) src.item_item = (hr_ii_src){ ii_make, &ic };
        uu_ctx uc = { NULL, map, old_of, kept.n, m.ii_cols ? m.ii_cols : 1, job->rank, NULL, UINT64_MAX, { 0 }, NULL, NULL, NULL, 0 };
        if (uu) {
            rc = hr_model_reader_open(path, &uc.r, &job->err);
            uc.ptr = hr_malloc((uc.W + 1) * sizeof *uc.ptr);
            src.item_item = (hr_ii_src){ uu_make, &uc };
        }
        rc = hr_comm_agree(job->comm, rc, &job->err);
        hr_model_write_stats ws = { 0, 0, 0, 0 };
        if (rc == 0) rc = hr_model_write(job, path, &hdr, &src, info, &ws);
        hr_model_free(&ic.cur);
        hr_model_reader_close(uc.r);
        hr_free(uc.bytes); hr_free(uc.ptr); hr_free(uc.row); hr_free(uc.val);
        if (rc == 0) {
            *users_removed = ngone;
            hr_progress("forget     %s: %llu of %llu users removed (item rows keep their training: retrain)", path,
                        (unsigned long long)ngone, (unsigned long long)n_old);
        }
    }
    json_decref(info);
    hr_free(map);
    hr_free(old_of);
    hr_free(uid);
    hr_free(iid);
    hr_part_free(&up);
    hr_part_free(&ip);
    hr_dict_free(&kept);
    hr_model_free(&m);
    return rc;
}
