/* io/input.h — one byte-stream interface over every input encoding.
 *
 * Backends, chosen by magic bytes, not by file name: plain files (read, or a byte range);
 * zstd, gzip, bzip2 and xz through io/decode.h (each stream's integrity checks enforced, a cut
 * file and bytes after the last stream refused); containers through libarchive: tar (plain, or
 * inside any of those four codecs: tar.gz, tar.zst, ...), zip, 7z and cpio, and lz4.
 * An input yields one or more *members*: a plain or compressed file has exactly one (named
 * after the file); an archive has one per regular entry ("a.tar:day1/part.csv").
 * Parsers see only bytes; a truncated or corrupt stream is an error naming the file and the
 * problem (HR_ERR_IO).  A zip must end with its end-of-central-directory record (a zip cut
 * short, or with bytes appended, is refused).  Not checked: data after the end-of-archive
 * blocks of a tar (tar pads records with them by design) and after an lz4 frame (libarchive's
 * reader stops there).
 *
 * Expansion guard (hr_input_limit, off unless set): a compressed input that decompresses to
 * more than max_ratio times the compressed bytes read so far (once past 1 MiB), or to more
 * than max_bytes in all (every member together), fails with HR_ERR_FORMAT; the messages name
 * ingest's --max-expansion and --max-input-bytes, the options that set them. */
#ifndef HR_IO_INPUT_H
#define HR_IO_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Never renumbered.  ARCHIVE: read by libarchive from the file (zip, 7z, cpio, tar, lz4). */
typedef enum {
    HR_CODEC_PLAIN = 0, HR_CODEC_ZSTD = 1, HR_CODEC_ARCHIVE = 2, HR_CODEC_GZIP = 3, HR_CODEC_BZIP2 = 4, HR_CODEC_XZ = 5
} hr_codec;

typedef struct hr_input hr_input;

/* Sniff the codec of a file from its first bytes. */
int hr_input_codec(const char *path, hr_codec *codec, hr_error *err);
int hr_input_open(const char *path, hr_input **out, hr_error *err);
/* Plain files only: a stream starting at byte `offset` up to end of file (the line reader
 * decides where a range ends; see io/lines.h). */
int hr_input_open_at(const char *path, uint64_t offset, hr_input **out, hr_error *err);
/* Advance to the next member: 1 = a member is ready (its display name in *name, valid until
 * the next call), 0 = no more members, < 0 = error. */
int hr_input_next(hr_input *in, const char **name, hr_error *err);
/* Read up to n bytes of the current member: > 0 bytes, 0 = end of member, < 0 = error. */
long hr_input_read(hr_input *in, void *buf, size_t n, hr_error *err);
/* Expansion guard of a compressed input (see above); 0 turns a limit off.  Call after open. */
#define HR_INPUT_RATIO_FLOOR ((uint64_t)1 << 20)
void hr_input_limit(hr_input *in, double max_ratio, uint64_t max_bytes);
void hr_input_close(hr_input *in); /* accepts NULL */

/* Read a whole (single-member) file into memory: any codec.  *data is hr_malloc'd. */
int hr_input_slurp(const char *path, void **data, size_t *len, hr_error *err);

#endif
