/* io/bundle_impl.h — shared by the bundle's writer and streamed reader (io/bundle.c), its
 * random-access reader (io/bundle_at.c) and the member checks both readers make
 * (io/bundle_member.c); not an interface for other modules (use io/bundle.h). */
#ifndef HR_IO_BUNDLE_IMPL_H
#define HR_IO_BUNDLE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "io/bundle.h"

struct archive;

/* Longest member name; the ".zst" suffix marks a compressed member's tar name and is reserved. */
enum { HR_BUNDLE_NAME_MAX = 200 };
#define HR_BUNDLE_ZST ".zst"
#define HR_BUNDLE_MANIFEST_MAX ((size_t)64 << 20)

/* A member's manifest entry: stored bytes, raw (decompressed) bytes, checksum of the stored
 * bytes, compressed or not, offset of its tar header after the manifest member (-1: format 1,
 * none listed). */
typedef struct { uint64_t bytes, raw, xxh3; int zstd; int64_t offset; } hr_bundle_listing;

/* Where a streamed member's stored bytes come from: the tar stream (libarchive), or pread at a
 * known offset (random access). */
typedef struct hr_bundle_src {
    struct archive *a;     /* tar stream, or NULL */
    int fd;                /* random access: file and next offset */
    uint64_t off;
} hr_bundle_src;

/* libarchive's error on a as HR_ERR_FORMAT (damaged data) or HR_ERR_IO (the system's). */
int hr_bundle_read_error(struct archive *a, const char *path, hr_error *err);
/* The file is a regular file of whole tar blocks ending in the end-of-archive marker; *size
 * its size. */
int hr_bundle_check_tail(const char *path, uint64_t *size, hr_error *err);
/* The manifest m says `format`, a version in 1..max_version, and has a members object. */
int hr_bundle_check_format(json_t *m, const char *path, const char *format, int max_version, hr_error *err);
/* Member `name`'s entry of the manifest's members object into *l, checked for shape. */
int hr_bundle_parse_listing(json_t *members, const char *path, const char *name, hr_bundle_listing *l, hr_error *err);
/* A pick fits a member of l->raw bytes (whole rows, rows in range and increasing); *keep the
 * rows it keeps. */
int hr_bundle_pick_check(const char *path, const char *tarname, const hr_bundle_listing *l, const hr_bundle_pick *p,
                         uint64_t *keep, hr_error *err);
/* Stream a member's stored bytes from src through its checksum and (zst) decompressor,
 * keeping the picked rows packed in order in out; the whole member is never in memory. */
int hr_bundle_stream_pick(hr_bundle_src *src, const char *path, const char *tarname, const hr_bundle_listing *l, int zst,
                          const hr_bundle_pick *p, char *out, hr_error *err);

#endif
