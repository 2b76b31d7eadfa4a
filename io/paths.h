/* io/paths.h — turn the --input arguments into a sorted list of files.
 *
 * Each argument may be a file, a directory (walked recursively: date-partitioned trees like
 * logs/2026-11-01/part-00000.csv.zst), or a glob pattern (quoted so the shell leaves it).
 * Hidden files (".name"), "_SUCCESS"-style markers and files ending in .json, .md or .crc
 * are skipped in directories.  The result is sorted bytewise and de-duplicated, so every rank
 * computes the same list. */
#ifndef HR_IO_PATHS_H
#define HR_IO_PATHS_H

#include <stdint.h>

#include "core/error.h"

typedef struct hr_pathlist {
    char **path;
    uint64_t *size;
    uint64_t n;
} hr_pathlist;

int hr_paths_expand(char *const *args, int nargs, hr_pathlist *out, hr_error *err);
void hr_paths_free(hr_pathlist *l);

#endif
