/* hpcrec forget --model (jobs/forget_model.h). */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "io/model.h"
#include "jobs/forget.h"
#include "jobs/forget_model.h"
#include "jobs/modelwrite.h"

/* The keys io/model.c writes itself (an info object may not carry them). */
static const char *const OWN[] = { "format", "version", "kind", "algo", "k", "users", "items", "global_mean", "software",
                                   "created", "members", "arrays", "row_weight", "fold_in", "item_item" };

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
    hr_free(map);
    hr_free(gone);
    hr_model_part part = { uid, nu, 0, 0, m.kind == HR_MODEL_ITEMITEM ? NULL : iid, m.kind == HR_MODEL_ITEMITEM ? 0 : ni };
    if (m.kind == HR_MODEL_ITEMITEM) part.item_lo = part.item_hi = 0;
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
        if (m.item_bias) src.item_bias = (hr_rows_src){ &ip, m.item_bias, NULL, NULL };
        if (m.item_scores) src.item_scores = (hr_rows_src){ NULL, NULL, fill_scores, m.item_scores };
        ii_ctx ic = { path, &m, job->rank, { 0 } };
        if (m.kind == HR_MODEL_ITEMITEM) src.item_item = (hr_ii_src){ ii_make, &ic };
        hr_model_write_stats ws = { 0, 0, 0, 0 };
        rc = hr_model_write(job, path, &hdr, &src, info, &ws);
        hr_model_free(&ic.cur);
        if (rc == 0) {
            *users_removed = ngone;
            hr_progress("forget     %s: %llu of %llu users removed (item rows keep their training: retrain)", path,
                        (unsigned long long)ngone, (unsigned long long)n_old);
        }
    }
    json_decref(info);
    hr_free(uid);
    hr_free(iid);
    hr_part_free(&up);
    hr_part_free(&ip);
    hr_dict_free(&kept);
    hr_model_free(&m);
    return rc;
}
