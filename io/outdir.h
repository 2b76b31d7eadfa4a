/* io/outdir.h — outputs that never touch inputs, and output directories published whole.
 *
 * Every hpcrec command that writes writes its output like a dataset.  This header is the
 * file-system half (no MPI); jobs/publish.h runs it under MPI (rank 0 acts, all ranks agree)
 * and is what a command calls.  The rules, for every command present and to come (gen,
 * ingest, split, recommend, similar, inspect --dump, train; index, export, forget, drift,
 * report):
 *
 * 1. Check before touching anything (hr_paths_check): list the command's inputs and outputs
 *    as hr_pathspec entries.  Paths are compared in canonical form (hr_path_canonical:
 *    absolute, symbolic links resolved, ".", ".." and "//" folded; a path that does not exist
 *    yet is resolved as far as it exists).  Refused, with HR_ERR_ARG (exit 2) and a message
 *    naming both options and both paths:
 *      HR_OUT_DIR / HR_OUT_FILE  (replaced or written whole): an output that is, contains or
 *                                lies inside any input, or overlaps another output;
 *      HR_OUT_INTO               (a directory the command adds its own files to and never
 *                                replaces, e.g. --checkpoint-dir): one that is or lies inside
 *                                an input, or is another output.  It may contain inputs and
 *                                other outputs.
 *
 * 2. Stage (hr_outdir_stage): the output PARENT/NAME (canonical; a symbolic link to a
 *    directory is followed, so the directory it names is the one replaced) may be replaced
 *    only if it is absent, an empty directory, or a directory whose MARKER file (manifest.json,
 *    gen.json) is a JSON object with one of the expected "format" values; anything else is
 *    refused (HR_ERR_ARG), so a mistyped --out never deletes a home directory.  Leftovers of
 *    killed runs (PARENT/.NAME.tmp-TAG and PARENT/.NAME.old-TAG) are removed, then a fresh
 *    PARENT/.NAME.tmp-TAG is created.  TAG must be unique per run (jobs/publish.c: rank 0's
 *    pid and clock), so a rank of a killed run that is still writing never writes into the
 *    new run's directory.
 *
 * 3. Write every file under od->tmp (through io/output.h, manifest last).
 *
 * 4. Publish (hr_outdir_publish): directories are fsynced, then the temporary directory
 *    replaces PARENT/NAME: atomically exchanged with an existing output (renameat2
 *    RENAME_EXCHANGE; readers see the whole old output or the whole new one), the old one
 *    removed.  Where the file system cannot exchange, the old output is first renamed to
 *    PARENT/.NAME.old-TAG (a reader may then briefly find no output, never a mixed one).
 *    No file of the old output survives: old shards of a larger rank count, old rejects/,
 *    old part files.
 *
 * 5. On failure (hr_outdir_abort): the temporary directory is removed (or kept, to show what
 *    a failed run produced); the old output is untouched and still verifies.
 *
 * A run killed between 2 and 4 leaves PARENT/.NAME.tmp-TAG, which the next run into the same
 * output removes.  Two concurrent runs into one output are not supported: the later one's
 * stage removes the earlier one's temporary directory, so the earlier one fails; neither
 * publishes a mix.
 *
 * Files that are not one directory (inspect --dump PREFIX writes PREFIX.RRRRR.tsv per rank)
 * are committed one by one (io/output.h) and hr_outdir_prune_parts removes part files of an
 * earlier run that the new run did not write. */
#ifndef HR_IO_OUTDIR_H
#define HR_IO_OUTDIR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Canonical absolute form of PATH, existing or not (see above); *out is hr_malloc'd.
 * HR_ERR_ARG for an empty path, HR_ERR_IO when a component cannot be examined (EACCES, ELOOP). */
int hr_path_canonical(const char *path, char **out, hr_error *err);

typedef enum { HR_PATH_APART = 0, HR_PATH_SAME, HR_PATH_INSIDE, HR_PATH_CONTAINS } hr_path_rel;
/* How canonical path a stands to canonical path b: SAME, INSIDE (a lies under b), CONTAINS
 * (b lies under a) or APART.  Component-wise: "/d/ab" is not inside "/d/a". */
hr_path_rel hr_path_relate(const char *a, const char *b);

typedef enum {
    HR_IN = 0,      /* read by the command (file or directory) */
    HR_OUT_DIR,     /* a directory written whole (published by rename) */
    HR_OUT_FILE,    /* a file written whole (model bundle, --json summary, dump part) */
    HR_OUT_INTO,    /* a directory the command adds its own files to (checkpoints) */
} hr_path_role;

typedef struct hr_pathspec {
    const char *opt;    /* option or argument as the user wrote it: "--out", "--data", "DATASET" */
    const char *path;   /* NULL: entry ignored (option not given) */
    hr_path_role role;
} hr_pathspec;

/* The check of rule 1 over n entries. */
int hr_paths_check(const hr_pathspec *spec, size_t n, hr_error *err);

typedef struct hr_outdir {
    char *final;  /* canonical PARENT/NAME */
    char *tmp;    /* PARENT/.NAME.tmp-TAG: write here */
} hr_outdir;

/* Rule 2.  marker: file name inside an output that identifies it ("manifest.json");
 * formats: NULL-terminated list of accepted "format" values of that marker.
 * tag: [A-Za-z0-9-]+, unique per run.  Errors: HR_ERR_ARG (not replaceable), HR_ERR_IO /
 * HR_ERR_NOSPACE (cannot create).  On error od is left empty. */
int hr_outdir_stage(const char *path, const char *marker, const char *const *formats, const char *tag,
                    hr_outdir *od, hr_error *err);
/* Rule 4.  On failure the temporary directory is removed and the old output left in place.
 * Frees od's strings in every case. */
int hr_outdir_publish(hr_outdir *od, hr_error *err);
/* Rule 5.  keep != 0 leaves the temporary directory for inspection (the next run removes it).
 * Frees od's strings; accepts an empty od. */
void hr_outdir_abort(hr_outdir *od, int keep);

/* rm -r that never follows symbolic links (they are removed, not their targets).  Returns 0
 * or -1 (errno of the first failure); removing what can be removed either way. */
int hr_remove_tree(const char *path);

/* Remove files named PREFIX.NNNNN<suffix> (NNNNN: decimal, 5 digits or more) whose number
 * is >= first (first = 0: all of them).  Returns the number removed. */
uint64_t hr_outdir_prune_parts(const char *prefix, const char *suffix, uint64_t first);

#endif
