#include "io/factors.h"

#include <string.h>

#include "core/alloc.h"
#include "io/input.h"
#include "io/output.h"
#include "io/shard.h"

int hr_factors_write(const char *path, const uint32_t *gid, const float *rows, uint64_t nrows, uint32_t width,
                     int level, int workers, uint64_t *checksum, uint64_t *bytes, uint64_t *raw_bytes, hr_error *err)
{
    hr_output *o;
    HR_TRY(hr_output_open(path, level, workers, &o, err));
    uint32_t h32[2] = { 1, width };
    int rc = 0;
    HR_CHECK(hr_output_write(o, "HRFACT01", 8, err));
    HR_CHECK(hr_output_write(o, h32, sizeof h32, err));
    HR_CHECK(hr_output_write(o, &nrows, 8, err));
    HR_CHECK(hr_output_write(o, gid, nrows * sizeof *gid, err));
    HR_CHECK(hr_output_write(o, rows, nrows * width * sizeof *rows, err));
    if (raw_bytes) *raw_bytes = hr_output_raw_bytes(o);
    return hr_output_commit(o, checksum, bytes, err);
fail:
    hr_output_abort(o);
    return rc;
}

int hr_factors_read(const char *path, uint64_t expect, uint64_t expect_bytes, uint32_t expect_width, uint32_t **gid,
                    float **rows, uint64_t *nrows, hr_error *err)
{
    HR_TRY(hr_file_verify(path, expect, expect_bytes, err));
    void *data;
    size_t len;
    HR_TRY(hr_input_slurp(path, &data, &len, err));
    const char *p = data;
    uint32_t h32[2];
    uint64_t n;
    int rc = 0;
    if (len < 24 || memcmp(p, "HRFACT01", 8) != 0) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec factor block", path);
        goto done;
    }
    memcpy(h32, p + 8, sizeof h32);
    memcpy(&n, p + 16, 8);
    if (h32[0] != 1) {
        rc = hr_error_set(err, HR_ERR_VERSION, "%s: factor block version %u is not supported (this hpcrec reads 1)", path, h32[0]);
        goto done;
    }
    if (h32[1] != expect_width) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: rows of %u values, expected %u (other factors or algorithm)", path, h32[1],
                          expect_width);
        goto done;
    }
    if (n > (len - 24) / (4 + 4 * (uint64_t)expect_width) || len - 24 != n * (4 + 4 * (uint64_t)expect_width)) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: sizes do not add up (truncated or corrupt)", path);
        goto done;
    }
    *gid = hr_malloc((n ? n : 1) * sizeof **gid);
    *rows = hr_malloc((n ? n * expect_width : 1) * sizeof **rows);
    memcpy(*gid, p + 24, n * 4);
    memcpy(*rows, p + 24 + n * 4, n * expect_width * 4);
    *nrows = n;
done:
    hr_free(data);
    return rc;
}
