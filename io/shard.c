#include "io/shard.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/input.h"
#include "io/output.h"

/* A cursor over a decoded buffer that refuses to read past its end. */
typedef struct { const char *p; size_t left; const char *path; } cursor;

static int take(cursor *c, void *dst, size_t n, hr_error *err)
{
    if (n > c->left) return hr_error_set(err, HR_ERR_FORMAT, "%s: file is truncated or its header is corrupt", c->path);
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static void *take_array(cursor *c, uint64_t count, size_t esz, hr_error *err)
{
    if (count > c->left / esz) {
        hr_error_set(err, HR_ERR_FORMAT, "%s: file is truncated or its header is corrupt", c->path);
        return NULL;
    }
    void *a = hr_malloc(count ? count * esz : 1);
    take(c, a, count * esz, err);
    return a;
}

int hr_shard_write(const char *path, const hr_block *b, int by_item, int level,
                   uint64_t *checksum, uint64_t *bytes, hr_error *err)
{
    hr_output *o;
    HR_TRY(hr_output_open(path, level, 1, &o, err));
    uint32_t hdr32[2] = { 1, (uint32_t)by_item };
    uint64_t hdr64[2] = { b->nrows, b->nnz };
    int rc = 0;
    HR_CHECK(hr_output_write(o, "HRSHARD1", 8, err));
    HR_CHECK(hr_output_write(o, hdr32, sizeof hdr32, err));
    HR_CHECK(hr_output_write(o, hdr64, sizeof hdr64, err));
    HR_CHECK(hr_output_write(o, b->gid, b->nrows * sizeof *b->gid, err));
    HR_CHECK(hr_output_write(o, b->ptr, (b->nrows + 1) * sizeof *b->ptr, err));
    HR_CHECK(hr_output_write(o, b->idx, b->nnz * sizeof *b->idx, err));
    HR_CHECK(hr_output_write(o, b->val, b->nnz * sizeof *b->val, err));
    HR_CHECK(hr_output_write(o, b->ts, b->nnz * sizeof *b->ts, err));
    return hr_output_commit(o, checksum, bytes, err);
fail:
    hr_output_abort(o);
    return rc;
}

/* The same bytes as hr_block_from_triples + hr_shard_write, without the block: ptr from the
 * row counts (rows + 1 words), then idx, val and ts streamed column by column from the triples
 * through a small staging buffer.  zstd's streaming output does not depend on how the input is
 * cut into calls (frames are cut by its own block size), so the file is byte-identical, and
 * the 16 bytes per entry of a block's arrays are never allocated: at 10M entries per rank that
 * is 160 MB of fresh memory the kernel would have to zero, and one write pass over it. */
int hr_shard_write_triples(const char *path, const hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item,
                           int level, uint64_t *checksum, uint64_t *bytes, hr_error *err)
{
    enum { STAGE = 16384 };   /* entries per staged chunk: 128 KiB of i64, stays in L2 */
    const uint64_t rows = p->rows[rank];
    uint32_t *gid = hr_part_owned(p, rank);
    uint64_t *ptr = hr_calloc(rows + 1, sizeof *ptr);
    for (uint64_t k = 0; k < n; k++) ptr[p->local[by_item ? t[k].i : t[k].u] + 1]++;
    for (uint64_t r = 0; r < rows; r++) ptr[r + 1] += ptr[r];
    int64_t *stage = hr_malloc(STAGE * sizeof *stage);
    hr_output *o;
    int rc = hr_output_open(path, level, 1, &o, err);
    if (rc < 0) goto done;
    uint32_t hdr32[2] = { 1, (uint32_t)by_item };
    uint64_t hdr64[2] = { rows, n };
    HR_CHECK(hr_output_write(o, "HRSHARD1", 8, err));
    HR_CHECK(hr_output_write(o, hdr32, sizeof hdr32, err));
    HR_CHECK(hr_output_write(o, hdr64, sizeof hdr64, err));
    HR_CHECK(hr_output_write(o, gid, rows * sizeof *gid, err));
    HR_CHECK(hr_output_write(o, ptr, (rows + 1) * sizeof *ptr, err));
    for (int col = 0; col < 3; col++)
        for (uint64_t a = 0; a < n; a += STAGE) {
            uint64_t m = n - a < STAGE ? n - a : STAGE;
            const hr_triple *x = t + a;
            size_t esz;
            if (col == 0) {
                uint32_t *d = (uint32_t *)stage;
                for (uint64_t j = 0; j < m; j++) d[j] = by_item ? x[j].u : x[j].i;
                esz = sizeof *d;
            } else if (col == 1) {
                float *d = (float *)stage;
                for (uint64_t j = 0; j < m; j++) d[j] = x[j].v;
                esz = sizeof *d;
            } else {
                for (uint64_t j = 0; j < m; j++) stage[j] = x[j].ts;
                esz = sizeof *stage;
            }
            HR_CHECK(hr_output_write(o, stage, m * esz, err));
        }
    rc = hr_output_commit(o, checksum, bytes, err);
    goto done;
fail:
    hr_output_abort(o);
done:
    hr_free(stage);
    hr_free(ptr);
    hr_free(gid);
    return rc;
}

int hr_shard_read(const char *path, uint64_t expect, uint64_t n_rows_global, uint64_t n_other,
                  hr_block *b, int *by_item, hr_error *err)
{
    memset(b, 0, sizeof *b);
    HR_TRY(hr_file_verify(path, expect, UINT64_MAX, err));
    void *data;
    size_t len;
    HR_TRY(hr_input_slurp(path, &data, &len, err));
    cursor c = { data, len, path };
    char magic[8];
    uint32_t h32[2];
    uint64_t h64[2];
    int rc = 0;
    HR_CHECK(take(&c, magic, 8, err));
    HR_CHECK(take(&c, h32, sizeof h32, err));
    HR_CHECK(take(&c, h64, sizeof h64, err));
    if (memcmp(magic, "HRSHARD1", 8) != 0) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec shard", path);
        goto fail;
    }
    if (h32[0] != 1) {
        rc = hr_error_set(err, HR_ERR_VERSION, "%s: shard version %u is not supported (this hpcrec reads 1)", path, h32[0]);
        goto fail;
    }
    *by_item = (int)h32[1];
    b->nrows = h64[0];
    b->nnz = h64[1];
    if (!(b->gid = take_array(&c, b->nrows, 4, err)) || !(b->ptr = take_array(&c, b->nrows + 1, 8, err)) ||
        !(b->idx = take_array(&c, b->nnz, 4, err)) || !(b->val = take_array(&c, b->nnz, 4, err)) ||
        !(b->ts = take_array(&c, b->nnz, 8, err))) {
        rc = HR_ERR_FORMAT;
        goto fail;
    }
    if (c.left != 0 || b->ptr[0] != 0 || b->ptr[b->nrows] != b->nnz) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: inconsistent shard (sizes do not add up)", path);
        goto fail;
    }
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] < b->ptr[r] || b->gid[r] >= n_rows_global || (r && b->gid[r] <= b->gid[r - 1])) {
            rc = hr_error_set(err, HR_ERR_FORMAT, "%s: inconsistent shard (row %llu)", path, (unsigned long long)r);
            goto fail;
        }
    for (uint64_t e = 0; e < b->nnz; e++)
        if (b->idx[e] >= n_other) {
            rc = hr_error_set(err, HR_ERR_FORMAT, "%s: inconsistent shard (id out of range at entry %llu)", path,
                              (unsigned long long)e);
            goto fail;
        }
    hr_free(data);
    return 0;
fail:
    hr_free(data);
    hr_block_free(b);
    return rc;
}

int hr_dictfile_write(const char *path, const hr_dict *d, int level, uint64_t *checksum, uint64_t *bytes, hr_error *err)
{
    hr_output *o;
    HR_TRY(hr_output_open(path, level, 1, &o, err));
    uint32_t h32[2] = { 1, (uint32_t)d->is_int };
    int rc = 0;
    HR_CHECK(hr_output_write(o, "HRDICT01", 8, err));
    HR_CHECK(hr_output_write(o, h32, sizeof h32, err));
    HR_CHECK(hr_output_write(o, &d->n, 8, err));
    if (d->is_int) {
        HR_CHECK(hr_output_write(o, d->ints, d->n * 8, err));
    } else {
        HR_CHECK(hr_output_write(o, d->offs, (d->n + 1) * 8, err));
        HR_CHECK(hr_output_write(o, d->bytes, d->offs[d->n], err));
    }
    for (uint64_t g = 0; g < d->n; g++) {
        uint64_t z = d->nnz ? d->nnz[g] : 0;
        HR_CHECK(hr_output_write(o, &z, 8, err));
    }
    return hr_output_commit(o, checksum, bytes, err);
fail:
    hr_output_abort(o);
    return rc;
}

int hr_dictfile_read(const char *path, uint64_t expect, hr_dict *d, hr_error *err)
{
    memset(d, 0, sizeof *d);
    HR_TRY(hr_file_verify(path, expect, UINT64_MAX, err));
    void *data;
    size_t len;
    HR_TRY(hr_input_slurp(path, &data, &len, err));
    cursor c = { data, len, path };
    char magic[8];
    uint32_t h32[2];
    int rc = 0;
    HR_CHECK(take(&c, magic, 8, err));
    HR_CHECK(take(&c, h32, sizeof h32, err));
    HR_CHECK(take(&c, &d->n, 8, err));
    if (memcmp(magic, "HRDICT01", 8) != 0 || h32[0] != 1) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec dictionary (version 1)", path);
        goto fail;
    }
    d->is_int = (int)h32[1];
    if (d->is_int) {
        if (!(d->ints = take_array(&c, d->n, 8, err))) { rc = HR_ERR_FORMAT; goto fail; }
    } else {
        if (!(d->offs = take_array(&c, d->n + 1, 8, err))) { rc = HR_ERR_FORMAT; goto fail; }
        if (d->offs[0] != 0 || !(d->bytes = take_array(&c, d->offs[d->n], 1, err))) { rc = HR_ERR_FORMAT; goto fail; }
    }
    if (!(d->nnz = take_array(&c, d->n, 8, err)) || c.left != 0) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: inconsistent dictionary", path);
        goto fail;
    }
    hr_free(data);
    return 0;
fail:
    hr_free(data);
    hr_dict_free(d);
    return rc;
}
