/* io/recwriter.h — the TSV outputs of recommend and similar, written fast.
 *
 * Lines "key<TAB>rank<TAB>item<TAB>score<TAB>source" after a header line naming the columns
 * (so pandas.read_csv(sep="\t") and zstdcat both read it), zstd-compressed.  A job writes
 * hundreds of millions of lines, so numbers are formatted by hand (printf would dominate the
 * job): scores with 6 decimals when |score| < 1e9, else %.6e. */
#ifndef HR_IO_RECWRITER_H
#define HR_IO_RECWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct hr_recwriter hr_recwriter;

int hr_recwriter_open(const char *path, const char *header, int zstd_level, hr_recwriter **out, hr_error *err);
/* key / item: external ids as text (not NUL-terminated, lengths given). */
int hr_recwriter_line(hr_recwriter *w, const char *key, size_t key_len, uint32_t rank, const char *item, size_t item_len,
                      float score, const char *source, hr_error *err);
/* Frees w; checksum/bytes of the file on disk. */
int hr_recwriter_close(hr_recwriter *w, uint64_t *checksum, uint64_t *bytes, uint64_t *lines, hr_error *err);
void hr_recwriter_abort(hr_recwriter *w);
/* Format helpers (exposed for tests): return characters written (no NUL). */
size_t hr_fmt_u64(char *out, uint64_t v);
size_t hr_fmt_score(char *out, float v);

#endif
