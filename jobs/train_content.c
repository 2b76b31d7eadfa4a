/* jobs/train_content.c — train --item-features: after an als / ials run, the content map
 * (jobs/content.h) fitted on the warm items' trained factors and stored in the bundle.
 * Each rank's rows are the items it owns (ds->ipart) with training interactions; the fit is
 * collective (jobs/content_ridge.h) and W is the same on every rank, so every rank's header
 * holds the whole map for the writer (jobs/modelwrite.c packs it like any array). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "jobs/content.h"
#include "jobs/content_ridge.h"
#include "jobs/train.h"

int hr_train_content(hr_job *job, const hr_content_opts *o, const hr_dataset *ds, const float *F, const float *bias, int k,
                     hr_model *hdr, json_t *info)
{
    hr_features fs;
    HR_TRY(hr_content_read(job, o, NULL, &fs));
    uint32_t *sel;
    const uint32_t nf = hr_content_select(&fs, o->features_max, &sel), NF = nf + 1;
    const int width = k + (bias != NULL);
    /* this rank's warm items, in gid order (their local rows ascend with the gid) */
    const uint64_t n = ds->items.n;
    uint64_t warm = 0, cap = 0;
    for (uint64_t g = 0; g < n; g++)
        warm += ds->ipart.owner[g] == (uint32_t)job->rank && ds->items.nnz[g] > 0;
    cap = warm + fs.ptr[fs.n_items] + 1;
    uint64_t *ptr = hr_calloc(warm + 1, sizeof *ptr), w = 0, z = 0, with_features = 0;
    uint32_t *col = hr_malloc(cap * sizeof *col);
    float *val = hr_malloc(cap * sizeof *val), *Y = hr_malloc((warm * (uint64_t)width + 1) * sizeof *Y);
    char key[HR_DICT_INT_CHARS];
    for (uint64_t g = 0; g < n; g++) {
        if (ds->ipart.owner[g] != (uint32_t)job->rank || ds->items.nnz[g] == 0) continue;
        size_t len;
        const char *id = hr_dict_key(&ds->items, g, key, &len);
        const uint64_t l = ds->ipart.local[g], z0 = z;
        hr_content_row(&fs, hr_features_item(&fs, id, len), sel, nf, col, val, &z);
        with_features += z - z0 > 1;
        memcpy(Y + w * (uint64_t)width, F + l * (uint64_t)k, (size_t)k * sizeof *Y);
        if (bias) Y[w * (uint64_t)width + (uint64_t)k] = bias[l];
        ptr[++w] = z;
    }
    float *W = hr_malloc((size_t)NF * width * sizeof *W);
    double secs = 0;
    int grid = 0;
    int rc = hr_content_ridge(job, ptr, col, val, warm, Y, width, NF, o->lambda, W, &secs, &grid);
    uint64_t sums[2] = { warm, with_features };
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, sums, 2);
    if (rc == 0) {
        hr_content_store(&fs, sel, nf, W, width, hdr);
        json_t *sec = hr_content_manifest(o, &fs, nf, sums[0], width);
        json_object_set_new(sec, "warm_items_with_features", json_integer((json_int_t)sums[1]));
        json_object_set_new(info, "content", sec);
        hr_job_set_int(job, "content.features", nf);
        hr_job_set_int(job, "content.features_total", fs.n_tokens);
        hr_job_set_int(job, "content.warm_items_fitted", (int64_t)sums[0]);
        hr_job_set_int(job, "content.warm_items_with_features", (int64_t)sums[1]);
        hr_job_set_real(job, "content.lambda", o->lambda);
        hr_job_set_real(job, "content.seconds_fit", secs);
        hr_job_set_int(job, "content.ridge_grid", grid);
        for (int r = 0; r < HR_FEAT_NREJECT; r++) {
            char kb[64];
            snprintf(kb, sizeof kb, "content.features_rejected_%s", hr_feat_reject_names[r]);
            hr_job_set_int(job, kb, (int64_t)fs.rejects[r]);
        }
        hr_progress("content    map of %u features + intercept to %d columns, fitted on %llu warm items (%llu with features) "
                    "in %.3fs (lambda %g)", nf, width, (unsigned long long)sums[0], (unsigned long long)sums[1], secs, o->lambda);
    }
    hr_free(ptr); hr_free(col); hr_free(val); hr_free(Y); hr_free(W); hr_free(sel);
    hr_features_free(&fs);
    return hr_comm_agree(job->comm, rc, &job->err);
}
