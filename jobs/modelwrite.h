/* jobs/modelwrite.h — a model bundle (format 2, io/model.h) written by every rank together.
 *
 * No rank ever holds the whole model: each rank packs the members (fixed row ranges, io/model.h
 * layout) whose first row it owns, after receiving the few rows of those members that other
 * ranks own (an all-to-all per round of members, one member per rank per round), and writes
 * them with MPI-IO (mpi/pfile.h) at offsets that every rank computes from the members' stored
 * sizes.  Those sizes are known only after compression, and the manifest, the first member of
 * the tar, lists them all, so the writer makes two passes over the members: the first packs
 * each member to learn its size and checksum (and throws the bytes away), the second packs it
 * again and writes it.  Memory per rank: the rows it owns (the caller's) plus about three
 * members (the member being assembled, its compressed form, the rows it sends), a few MiB,
 * plus 24 bytes per member of the whole bundle (sizes and checksums); packing twice costs one
 * more compression of the rank's share (zstd level 3 on floats: a few hundred MB/s per rank).
 * Because the layout and the packer are the ones hr_model_save uses, the file is byte for byte
 * the same as a single process would write, on any rank count (tests/mpi/test_modelwrite.sh).
 *
 * Where rows come from, per array:
 *   part + rows  the partition (every rank's owner/local tables, partition/part.h) and this
 *                rank's rows in local order (width = the array's columns): train's factors;
 *   fill         any rank can compute any rows (gen's planted model; popularity counts every
 *                rank holds): fill(ctx, lo, hi, out) writes rows lo..hi-1 (width floats each).
 *   item_item    item-item models (hdr->kind HR_MODEL_ITEMITEM, hdr->ii_cols, ii_topm,
 *                row_weight set): B's column blocks come from make(ctx, blocks, out, err), a
 *                COLLECTIVE call made once per round by every rank: blocks[q] is the column
 *                block rank q packs in this round (block c goes to rank c mod P, so round t
 *                packs blocks tP .. tP + P - 1), UINT64_MAX when q packs none; make fills *out
 *                with this rank's block (valid until the next call).  Both passes make every
 *                block, in the same rounds, and must get the same block both times.  So no
 *                rank holds more of B than the blocks of one round (EASE: a panel of P each).
 * Dictionaries come whole from hdr->users / hdr->items (every rank holds them), or, for
 * integer ids, from ids_fill(ctx, side, lo, hi, out) when the dictionary pointer is NULL.
 *
 * Collective; hdr's header fields (kind, algo, k, counts, global_mean) and the sources'
 * presence are [global]; info is read on rank 0 only.  Errors (agreed on every rank): those of
 * hr_model_check (rank 0), HR_ERR_NOSPACE / HR_ERR_IO from the file system, HR_ERR_MPI. */
#ifndef HR_JOBS_MODELWRITE_H
#define HR_JOBS_MODELWRITE_H

#include <jansson.h>

#include "io/model.h"
#include "jobs/job.h"
#include "partition/part.h"

typedef struct hr_rows_src {
    const hr_part *part;     /* rows held under this partition ... */
    const float *rows;       /* ... this rank's, in local order */
    void (*fill)(void *ctx, uint64_t lo, uint64_t hi, float *out);   /* ... or computed */
    void *ctx;
} hr_rows_src;

typedef struct hr_ii_src {
    int (*make)(void *ctx, const uint64_t *blocks, hr_iiblock *out, hr_error *err);
    void *ctx;
} hr_ii_src;

typedef struct hr_model_src {
    const hr_dict *users, *items;   /* whole dictionaries, or NULL with ids_fill */
    void (*ids_fill)(void *ctx, int side, uint64_t lo, uint64_t hi, int64_t *out);
    void *ids_ctx;
    /* absent arrays: part == NULL and fill == NULL */
    hr_rows_src user_factors, item_factors, user_bias, item_bias, item_scores;
    hr_ii_src item_item;     /* item-item models only */
} hr_model_src;

typedef struct hr_model_write_stats {
    uint64_t bytes;          /* the bundle's size */
    uint64_t members;        /* members in the bundle */
    uint64_t members_local;  /* members this rank packed */
    double seconds;
} hr_model_write_stats;

int hr_model_write(hr_job *job, const char *path, const hr_model *hdr, const hr_model_src *src, json_t *info,
                   hr_model_write_stats *stats);

#endif
