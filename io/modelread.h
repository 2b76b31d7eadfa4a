/* io/modelread.h — a model bundle read a chunk of rows at a time (hpcrec export).
 *
 * The reader serves any rows of any array without holding the model: for format 2 each call
 * reads (pread, checksum, streamed zstd) just the members holding the rows asked for, so
 * memory is the caller's chunk plus one member's compressed bytes.  Chunks of `block` rows
 * starting at a multiple of `block` (hr_model_reader_array) are whole members, the cheapest
 * reads.  A format-1 bundle has no member offsets; its reader loads the whole model once at
 * open (what every reader of format 1 does) and serves slices of it.
 *
 * Usage:
 *   hr_model_reader *r;  hr_model_reader_open(path, &r, err);
 *   const hr_model *h = hr_model_reader_header(r);     // kind, algo, k, counts, mean, manifest
 *   if (hr_model_reader_array(r, "user_factors.f32", &rows, &cols, &block)) ...
 *   hr_model_reader_rows(r, "user_factors.f32", lo, hi, buf, err);   // (hi-lo) x cols floats
 *   hr_model_reader_ids(r, 0, lo, hi, &dict, err);   // users lo..hi-1 as a dictionary
 *   hr_model_reader_close(r);
 * Arrays are named as in the bundle (io/model.h): users.dict, items.dict, user_factors.f32,
 * item_factors.f32, user_bias.f32, item_bias.f32, item_scores.f32, item_item (iiblock columns).
 *
 * Errors: those of hr_model_load (HR_ERR_VERSION for a bundle of a version this hpcrec does
 * not read, naming it; HR_ERR_FORMAT, HR_ERR_CHECKSUM, HR_ERR_IO), HR_ERR_ARG for rows
 * outside the array or an absent array. */
#ifndef HR_IO_MODELREAD_H
#define HR_IO_MODELREAD_H

#include <stdint.h>

#include "core/error.h"
#include "io/model.h"
#include "partition/dict.h"

typedef struct hr_model_reader hr_model_reader;

int hr_model_reader_open(const char *path, hr_model_reader **out, hr_error *err);
/* The header: kind, algo, k, n_users, n_items, global_mean, manifest (borrowed); no arrays. */
const hr_model *hr_model_reader_header(const hr_model_reader *r);
/* 1 when the bundle has the array (then its shape and rows per member), else 0. */
int hr_model_reader_array(const hr_model_reader *r, const char *name, uint64_t *rows, uint64_t *cols, uint64_t *block);
/* 1 when side's (0 users, 1 items) ids are integers. */
int hr_model_reader_ids_int(const hr_model_reader *r, int side);
int hr_model_reader_rows(hr_model_reader *r, const char *name, uint64_t lo, uint64_t hi, float *out, hr_error *err);
/* Ids lo..hi-1 of side as a fresh dictionary (release with hr_dict_free); lo and hi must be
 * member boundaries (multiples of the dictionary's block, or hi = its row count). */
int hr_model_reader_ids(hr_model_reader *r, int side, uint64_t lo, uint64_t hi, hr_dict *out, hr_error *err);
/* Item-item models: block c of B (columns c*W .. of the item_item array, W its block), decoded
 * and checked; *bytes (hr_malloc'd; the caller frees it, also after a failure) holds what
 * *blk points into.  HR_ERR_ARG when the model has no item_item array or c is past it. */
int hr_model_reader_iiblock(hr_model_reader *r, uint64_t c, void **bytes, hr_iiblock *blk, hr_error *err);
void hr_model_reader_close(hr_model_reader *r);   /* accepts NULL */

#endif
