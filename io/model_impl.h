/* io/model_impl.h — shared by io/model.c (the model's checks and helpers), io/model_load.c (the
 * load dispatch and format 1) and io/model_v2.c (format 2); not an interface for other modules. */
#ifndef HR_IO_MODEL_IMPL_H
#define HR_IO_MODEL_IMPL_H

#include "io/bundle.h"
#include "io/model.h"

/* One float array of a model: its member name, where it lives in the struct, its row count
 * and width. */
typedef struct hr_model_farray {
    const char *name;
    float **slot;
    uint64_t rows;
    int width;
    int optional; /* biases: absent = 0 */
} hr_model_farray;
/* The float arrays a model of m's kind holds (at most 5), for hr_model_check and the format-1
 * reader (io/model_load.c). */
size_t hr_model_arrays(hr_model *m, hr_model_farray out[5]);
/* First non-finite row of a rows x width array, or UINT64_MAX. */
uint64_t hr_model_first_bad_row(const float *a, uint64_t rows, uint64_t width);
/* rows x width x 4 bytes fits in size_t. */
int hr_model_size_ok(uint64_t rows, uint64_t width);
/* kind, algo, k, users, items, global_mean of a manifest into m. */
int hr_model_read_header(const char *path, json_t *man, hr_model *m, hr_error *err);
/* The manifest keys a model writes itself (info + header), created = Unix time. */
json_t *hr_model_base_manifest(const hr_model *m, json_t *info, int version, int64_t created);
/* The float array of m that a layout array names (NULL slot for dictionaries). */
float **hr_model_array_slot(hr_model *m, const char *name);
/* First position of a sorted array whose value is >= v. */
uint64_t hr_model_lower_bound(const uint64_t *a, uint64_t n, uint64_t v);
/* Sorted, de-duplicated copy of ids (hr_malloc'd, *n updated). */
uint64_t *hr_model_sorted_ids(const uint64_t *ids, uint64_t *n);

/* Format 2 readers (io/model_v2.c), on a bundle opened for random access.  what: 1 = header +
 * dictionaries, 2 = arrays (part NULL: whole), 3 = both.  Failure leaves m to the caller. */
int hr_model_v2_load(hr_bundle_at *b, hr_model *m, const hr_model_part *part, int what, hr_error *err);
/* The array table of a format-2 manifest, checked against the header m and the member table. */
int hr_model_v2_layout(const char *path, json_t *man, const hr_model *m, hr_model_layout *L, hr_error *err);
/* Rows lo..hi-1 of f32 array L->a[x] into out ((hi - lo) x cols floats), checked finite. */
int hr_model_v2_rows(hr_bundle_at *b, const hr_model_layout *L, int x, uint64_t lo, uint64_t hi, float *out, hr_error *err);
/* Ids lo..hi-1 of dictionary array L->a[x] (whole members: lo and hi multiples of its block,
 * or hi its row count) as one dictionary (*d: fresh; empty after a failure). */
int hr_model_v2_ids(hr_bundle_at *b, const hr_model_layout *L, int x, uint64_t lo, uint64_t hi, int is_int, hr_dict *d,
                    hr_error *err);
/* Item-item block c of item_item array L->a[x], decoded and checked against the header h:
 * *bytes (hr_malloc'd, caller frees, also on failure) holds what *blk points into. */
int hr_model_v2_iiblock(hr_bundle_at *b, const hr_model_layout *L, int x, const hr_model *h, uint64_t c, void **bytes,
                        hr_iiblock *blk, hr_error *err);

#endif
