/* io/fileverify.c — a file against its manifest entry (see fileverify.h). */
#include "io/fileverify.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/hash.h"

int hr_file_verify(const char *path, uint64_t expect, uint64_t expect_bytes, hr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return hr_error_set(err, HR_ERR_IO, "%s: %s", path, errno == ENOENT ? "missing" : strerror(errno));
    if (expect_bytes != UINT64_MAX && (uint64_t)st.st_size < expect_bytes)
        return hr_error_set(err, HR_ERR_CHECKSUM, "%s: truncated (%lld of %llu bytes)", path, (long long)st.st_size,
                            (unsigned long long)expect_bytes);
    if (expect_bytes != UINT64_MAX && (uint64_t)st.st_size > expect_bytes)
        return hr_error_set(err, HR_ERR_CHECKSUM, "%s: %lld bytes, the manifest says %llu (replaced or appended to)", path,
                            (long long)st.st_size, (unsigned long long)expect_bytes);
    uint64_t h, bytes;
    HR_TRY(hr_checksum_file(path, &h, &bytes, err));
    if (h != expect) {
        char a[17], b[17];
        hr_checksum_hex(h, a);
        hr_checksum_hex(expect, b);
        return hr_error_set(err, HR_ERR_CHECKSUM, "%s: checksum mismatch (file %s, manifest %s): corrupted or replaced",
                            path, a, b);
    }
    return 0;
}
