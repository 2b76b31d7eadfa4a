/* jobs/train_lineage.c — the "lineage" object every trained model's manifest carries: which
 * dataset (path, manifest checksum, interactions, dictionary fingerprints) it was trained on
 * (jobs/train.h). */
#include <jansson.h>

#include "core/hash.h"
#include "jobs/dataset.h"
#include "jobs/train.h"

json_t *hr_train_lineage(hr_job *job, const char *data, const hr_dataset *ds, uint64_t nnz)
{
    char mpath[4096], hex[17];
    uint64_t mcs = 0;
    hr_dataset_manifest_path(data, mpath, sizeof mpath);
    /* the dataset was just loaded and verified: an unreadable manifest now leaves the checksum 0 */
    if (hr_checksum_file(mpath, &mcs, NULL, &job->err) < 0) mcs = 0;
    hr_checksum_hex(mcs, hex);
    return json_pack("{s:s,s:s,s:I,s:I,s:I}", "dataset", data, "dataset_manifest_xxh3", hex, "interactions", (json_int_t)nnz,
                     "users_fingerprint", (json_int_t)(hr_dict_fingerprint(&ds->users) >> 1),
                     "items_fingerprint", (json_int_t)(hr_dict_fingerprint(&ds->items) >> 1));
}
