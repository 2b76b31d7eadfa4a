/* io/paths.h — turn the --input arguments into a sorted list of files.
 *
 * Each argument may be a file, a directory (walked recursively: date-partitioned trees like
 * logs/2026-11-01/part-00000.csv.zst), or a glob pattern (quoted so the shell leaves it).
 * Hidden files (".name"), "_SUCCESS"-style markers and files ending in .json, .md or .crc
 * are skipped in directories.
 *
 * One file is read once, however it is named: "in/x", "./in/x", "in//x", a path through a
 * symbolic link and a second argument naming the same file all resolve to one canonical
 * path; arguments are tidied ("./in//x" is "in/x") and of several spellings the one kept
 * is the one not reached through a link met in a walk, then the shortest, then the first in
 * byte order.  The result is sorted bytewise by that spelling,
 * so every rank computes the same list.
 *
 * Symbolic links: an argument (or glob match) that is a link is followed wherever it points.
 * A link met during a directory walk is followed only when its target lies inside the tree
 * being walked (the canonical root): a link leading out of the tree is an error naming the
 * link and its target (name the target with --input, or use a glob, to read it), because
 * reading it would pull in data from outside the directory the operator named.  A link to
 * the directory it sits in, or to one above it inside the tree, is skipped: its files are
 * read through the tree itself.
 *
 * roots: the canonical path of every argument (every match of a glob); every listed file
 * lies at or under one of them (what ingest compares its --out against). */
#ifndef HR_IO_PATHS_H
#define HR_IO_PATHS_H

#include <stdint.h>

#include "core/error.h"

typedef struct hr_pathlist {
    char **path;
    uint64_t *size;
    uint64_t n;
    char **root;
    uint64_t nroot;
} hr_pathlist;

int hr_paths_expand(char *const *args, int nargs, hr_pathlist *out, hr_error *err);
void hr_paths_free(hr_pathlist *l);

#endif
