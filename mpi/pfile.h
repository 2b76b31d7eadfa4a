/* mpi/pfile.h — one file written by every rank at once (MPI-IO), for bytes io/ formatted.
 *
 * The collective model writer (jobs/modelwrite.c) knows, before writing, where every piece of
 * the file goes (a prefix sum of the pieces' sizes that every rank computes), so each rank
 * writes its own pieces at their offsets into the one shared file: no rank gathers the file's
 * contents.  Writes go through MPI_File_write_at_all (collective buffering lets the MPI-IO
 * layer aggregate small pieces into large stripe-aligned writes on a parallel file system;
 * on a local disk it is a plain pwrite) or MPI_File_write_at (one rank's piece).
 *
 * All functions are collective unless marked local; path and every size marked [global] must
 * agree.  Nothing here renames or removes files (io/ does that on rank 0 once all ranks agree).
 * Errors: HR_ERR_NOSPACE (the MPI-IO layer reports no space or quota), HR_ERR_IO (open, write,
 * sync, close), both naming the file; ranks must agree (hr_comm_agree) afterwards. */
#ifndef HR_MPI_PFILE_H
#define HR_MPI_PFILE_H

#include <stdint.h>

#include "core/error.h"
#include "mpi/comm.h"

typedef struct hr_pfile hr_pfile;

/* Create (or truncate) path [global] for writing by every rank. */
int hr_pfile_create(hr_comm *c, const char *path, hr_pfile **out, hr_error *err);
/* Collective: every rank writes its n [local] bytes at its offset [local] (n may be 0). */
int hr_pfile_write_all(hr_pfile *f, uint64_t offset, const void *buf, uint64_t n, hr_error *err);
/* Local: this rank writes n bytes at offset. */
int hr_pfile_write(hr_pfile *f, uint64_t offset, const void *buf, uint64_t n, hr_error *err);
/* Set the size [global], flush to stable storage and close.  f is freed in every case. */
int hr_pfile_close(hr_pfile *f, uint64_t size, hr_error *err);
/* Close without syncing after a failure (still collective); accepts NULL on every rank. */
void hr_pfile_abort(hr_pfile *f);

#endif
