/* io/decode.h — checked decompression of one file: zstd, gzip, bzip2, xz (used by io/input.c).
 *
 * libarchive's filters verify too little for "nothing lost silently": its gzip reader ignores
 * the CRC-32 and the length in each member's trailer, stops quietly at bytes after the last
 * gzip or bzip2 stream, and reports a cut file without a message.  These decoders call the
 * codec libraries directly (libzstd, zlib, libbz2, liblzma: Debian's own, the same libraries
 * libarchive links) and enforce, for every codec:
 *   - the format's integrity checks: zstd content checksums (when the frame has one), gzip
 *     CRC-32 and ISIZE of every member, bzip2 block and stream CRCs, the xz check;
 *   - concatenated streams (several gzip members, bzip2 streams, xz streams, zstd frames, as
 *     `cat a.gz b.gz` or pigz/pbzip2 write them) are one stream;
 *   - the file must end exactly where a stream ends: a file that ends inside one is
 *     "truncated", bytes after the last one that do not start another are "trailing data";
 *     xz stream padding (zeros) is allowed, as the xz format defines it.
 * Every error names the file, the codec, the byte offset and the problem: HR_ERR_FORMAT for
 * damaged data (exit 3, bad input), HR_ERR_IO when reading the file fails.
 *
 * Ownership: hr_decoder_open returns a decoder the caller releases with hr_decoder_close,
 * which accepts NULL. */
#ifndef HR_IO_DECODE_H
#define HR_IO_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum { HR_DEC_ZSTD, HR_DEC_GZIP, HR_DEC_BZIP2, HR_DEC_XZ } hr_dec_kind;

typedef struct hr_decoder hr_decoder;

int hr_decoder_open(const char *path, hr_dec_kind kind, hr_decoder **out, hr_error *err);
/* Up to n decompressed bytes: > 0 bytes, 0 = the end (every check passed), < 0 an error
 * (sticky: later calls return it again). */
long hr_decoder_read(hr_decoder *d, void *buf, size_t n, hr_error *err);
/* Compressed bytes consumed so far (for the expansion guard of io/input.h). */
uint64_t hr_decoder_in_bytes(const hr_decoder *d);
const char *hr_decoder_name(hr_dec_kind kind);   /* "zstd", "gzip", "bzip2", "xz" */
void hr_decoder_close(hr_decoder *d);

#endif
