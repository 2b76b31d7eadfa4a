#include "mpi/pfile.h"

#include <limits.h>
#include <string.h>

#include "core/alloc.h"
#include "mpi/comm_world.h"

struct hr_pfile {
    MPI_File fh;
    MPI_Comm comm;   /* borrowed from the hr_comm */
    char *path;
};

/* An MPI error on a file, as an hr_error naming the file. */
static int file_error(const char *path, const char *what, int code, hr_error *err)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0, cls = 0;
    MPI_Error_string(code, s, &len);
    MPI_Error_class(code, &cls);
    int hc = cls == MPI_ERR_NO_SPACE || cls == MPI_ERR_QUOTA ? HR_ERR_NOSPACE : HR_ERR_IO;
    return hr_error_set(err, hc, "%s: %s failed: %s", path, what, s);
}

int hr_pfile_create(hr_comm *c, const char *path, hr_pfile **out, hr_error *err)
{
    hr_pfile *f = hr_calloc(1, sizeof *f);
    int rc = MPI_File_open(hr_comm_raw(c), path, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &f->fh);
    if (rc != MPI_SUCCESS) {
        hr_free(f);
        return file_error(path, "MPI_File_open", rc, err);
    }
    f->comm = hr_comm_raw(c);
    f->path = hr_strdup(path);
    *out = f;
    return 0;
}

/* Open MPI's ompio reports a write that hit a full disk by printing the errno and returning
 * MPI_SUCCESS with a short count, so the count is what tells: fewer bytes than asked is a
 * failed write (a full disk or a quota, the only causes of a short regular-file write). */
static int short_write(const hr_pfile *f, MPI_Status *st, uint64_t offset, int len, hr_error *err)
{
    int got = 0;
    if (MPI_Get_count(st, MPI_BYTE, &got) != MPI_SUCCESS || got == MPI_UNDEFINED) got = -1;
    if (got == len) return 0;
    return hr_error_set(err, HR_ERR_NOSPACE, "%s: only %d of %d bytes written at offset %llu: No space left on device (or quota exceeded)",
                        f->path, got < 0 ? 0 : got, len, (unsigned long long)offset);
}

/* Writes go in pieces of at most 1 GiB so that counts fit an int. */
#define PIECE ((uint64_t)1 << 30)

int hr_pfile_write_all(hr_pfile *f, uint64_t offset, const void *buf, uint64_t n, hr_error *err)
{
    /* Every rank makes the same number of collective calls: the longest write decides. */
    uint64_t calls = (n + PIECE - 1) / PIECE, most = calls;
    int rc = MPI_Allreduce(&calls, &most, 1, MPI_UINT64_T, MPI_MAX, f->comm), first_bad = MPI_SUCCESS;
    if (rc != MPI_SUCCESS) return file_error(f->path, "MPI_Allreduce", rc, err);
    rc = 0;
    for (uint64_t k = 0; k < most; k++) {
        uint64_t lo = k * PIECE, len = lo < n ? (n - lo < PIECE ? n - lo : PIECE) : 0;
        MPI_Status st;
        int r = MPI_File_write_at_all(f->fh, (MPI_Offset)(offset + lo), len ? (const char *)buf + lo : (const void *)&f->comm, (int)len,
                                      MPI_BYTE, &st);
        if (r != MPI_SUCCESS && first_bad == MPI_SUCCESS) first_bad = r;
        if (r == MPI_SUCCESS && rc == 0) rc = short_write(f, &st, offset + lo, (int)len, err);
    }
    return first_bad == MPI_SUCCESS ? rc : file_error(f->path, "MPI_File_write_at_all", first_bad, err);
}

int hr_pfile_write(hr_pfile *f, uint64_t offset, const void *buf, uint64_t n, hr_error *err)
{
    for (uint64_t lo = 0; lo < n; lo += PIECE) {
        uint64_t len = n - lo < PIECE ? n - lo : PIECE;
        MPI_Status st;
        int r = MPI_File_write_at(f->fh, (MPI_Offset)(offset + lo), (const char *)buf + lo, (int)len, MPI_BYTE, &st);
        if (r != MPI_SUCCESS) return file_error(f->path, "MPI_File_write_at", r, err);
        HR_TRY(short_write(f, &st, offset + lo, (int)len, err));
    }
    return 0;
}

int hr_pfile_close(hr_pfile *f, uint64_t size, hr_error *err)
{
    int rc = MPI_File_set_size(f->fh, (MPI_Offset)size);
    const char *what = "MPI_File_set_size";
    if (rc == MPI_SUCCESS) {
        rc = MPI_File_sync(f->fh);
        what = "MPI_File_sync";
    }
    int crc = MPI_File_close(&f->fh);
    if (rc == MPI_SUCCESS && crc != MPI_SUCCESS) {
        rc = crc;
        what = "MPI_File_close";
    }
    int out = rc == MPI_SUCCESS ? 0 : file_error(f->path, what, rc, err);
    hr_free(f->path);
    hr_free(f);
    return out;
}

void hr_pfile_abort(hr_pfile *f)
{
    if (!f) return;
    MPI_File_close(&f->fh);
    hr_free(f->path);
    hr_free(f);
}
