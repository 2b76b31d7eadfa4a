/* io/tables.h — the bytes of flat tables other tools read: NumPy .npy headers and rows, and
 * TSV text of factor rows and id maps (hpcrec export, docs/formats.md "Exports").
 *
 * Every function here formats into a caller's growable buffer (hr_tbuf) and never touches a
 * file: the exporter hands the bytes to mpi/pfile.h, which writes each rank's rows at the
 * offset agreed by a prefix sum of the lengths.  So a file is the concatenation of
 *   [header (rank 0)] [rows lo..hi-1 of chunk 0] [chunk 1] ...
 * whoever formatted each chunk, and its bytes do not depend on the rank count.
 *
 * .npy: format version 1.0 (magic "\x93NUMPY", 1, 0, u16 header length, the header dict
 * "{'descr': '<f4', 'fortran_order': False, 'shape': (R, C), }" padded with spaces and a
 * final newline so the data starts at a multiple of 64 bytes), then the rows little-endian,
 * row-major; a vector (cols = 0 asks for one) has shape (R,).  numpy.load reads it as
 * float32 without copying a header of ours.
 * TSV: a header line, then one line per row: "row<TAB>value<TAB>value..." for factors
 * (floats as %.9g, which reads back to the same float32), "row<TAB>id" for id maps.  Ids are
 * written as they are; an id holding a tab, a newline or a carriage return cannot be written
 * as TSV and is refused (HR_ERR_FORMAT naming the id's row), since a reader would misparse it.
 *
 * Errors: HR_ERR_ARG for a shape whose header would exceed 65535 bytes (impossible for two
 * 64-bit dimensions, checked anyway); HR_ERR_FORMAT as above. */
#ifndef HR_IO_TABLES_H
#define HR_IO_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "partition/dict.h"

/* A growable byte buffer (hr_malloc'd; reused across chunks so a long export allocates a
 * few times, not once per chunk).  Zero-initialise; hr_tbuf_free releases it. */
typedef struct hr_tbuf {
    char *p;
    size_t len, cap;
} hr_tbuf;
void hr_tbuf_reserve(hr_tbuf *b, size_t more);
void hr_tbuf_free(hr_tbuf *b);

/* The .npy header of a float32 array of rows x cols (cols = 0: a vector of rows), replacing
 * b's contents.  Its length is a multiple of 64. */
int hr_npy_header(hr_tbuf *b, uint64_t rows, uint64_t cols, hr_error *err);
/* Append rows (n x cols float32, host order) as .npy data: little-endian bytes. */
void hr_npy_rows(hr_tbuf *b, const float *rows, uint64_t n, uint64_t cols);

/* Append the TSV header "row\tc0\tc1..." (names: `prefix`0.. ; one column named `prefix`
 * when cols == 1) or, for id maps, "row\t<name>". */
void hr_tsv_header(hr_tbuf *b, const char *prefix, uint64_t cols);
/* Append rows first..first+n-1 (n x cols floats). */
void hr_tsv_rows(hr_tbuf *b, uint64_t first, const float *rows, uint64_t n, uint64_t cols);
/* Append the id map lines of ids 0..d->n-1 of d, numbered from `first` (the global id of
 * d's first id).  what: for messages (the bundle and array). */
int hr_tsv_ids(hr_tbuf *b, uint64_t first, const hr_dict *d, const char *what, hr_error *err);

/* Item-item neighbour lists (docs/formats.md "Exports"): append one line
 * "item<TAB>neighbor<TAB>weight" per entry, item = the external id of row `item` of `items`,
 * neighbor = that of row[x], weight val[x] as %.9g.  Ids as for hr_tsv_ids (a tab or line
 * break in an id: HR_ERR_FORMAT naming its row). */
int hr_tsv_neighbors(hr_tbuf *b, const hr_dict *items, uint64_t item, const uint32_t *row, const float *val, uint32_t n,
                     const char *what, hr_error *err);
/* Append src's bytes to dst as part of a zstd frame (level 3, one thread: the same bytes fed in
 * the same pieces give the same frame on every rank; frames concatenate into one valid
 * stream); end = 1 closes the frame.  *cctx: NULL at first (created here), reused across
 * frames, released by hr_tbuf_zstd_free. */
int hr_tbuf_zstd(hr_tbuf *dst, void **cctx, const char *src, size_t len, int end, hr_error *err);
void hr_tbuf_zstd_free(void *cctx);

#endif
