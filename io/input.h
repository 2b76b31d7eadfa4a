/* io/input.h — one byte-stream interface over every input encoding.
 *
 * Backends: plain files (read or pread of a byte range), zstd (libzstd, multi-frame), and
 * everything libarchive reads: gzip/bzip2/xz/lz4 filters and zip/tar/7z/cpio containers
 * (tar.gz, tar.zst, ...).  The backend is chosen by magic bytes, not by file name.
 * An input yields one or more *members*: a plain or compressed file has exactly one (named
 * after the file); an archive has one per regular entry ("a.tar:day1/part.csv").
 * Parsers see only bytes; a truncated or corrupt stream is an error naming the file. */
#ifndef HR_IO_INPUT_H
#define HR_IO_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum { HR_CODEC_PLAIN = 0, HR_CODEC_ZSTD = 1, HR_CODEC_ARCHIVE = 2 } hr_codec;

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
void hr_input_close(hr_input *in); /* accepts NULL */

/* Read a whole (single-member) file into memory: zstd or plain.  *data is hr_malloc'd. */
int hr_input_slurp(const char *path, void **data, size_t *len, hr_error *err);

#endif
