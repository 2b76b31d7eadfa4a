/* jobs/ingest_read.h — the parallel read phase of ingest.
 *
 * The input files are cut into work units (a whole file, or a byte range of a large plain
 * file), assigned to ranks by size (largest first to the least loaded rank: deterministic).
 * Each rank parses its units into triples holding *local* id numbers (partition/intern.h) and
 * records rejected rows with their text.  Line numbers are relative to the unit until
 * hr_ingest_fix_sources() turns them into file line numbers and source ids into global ones. */
#ifndef HR_JOBS_INGEST_READ_H
#define HR_JOBS_INGEST_READ_H

#include <stdint.h>

#include "io/paths.h"
#include "io/rowparse.h"
#include "jobs/job.h"
#include "partition/intern.h"
#include "partition/part.h"

typedef enum { HR_HEADER_AUTO, HR_HEADER_YES, HR_HEADER_NO } hr_header_mode;

typedef struct hr_unit {
    uint32_t file;
    int ranged;          /* byte range of a plain file */
    uint64_t off, len;
    int rank;
} hr_unit;

typedef struct hr_reject_log {
    uint32_t *src;
    uint64_t *line;
    uint8_t *reason;
    uint64_t *text_off;  /* n + 1 offsets into text: "detail\trow" */
    char *text;
    uint64_t n, cap, text_len, text_cap;
} hr_reject_log;

typedef struct hr_ingest_read {
    /* settings [global] */
    hr_rowfmt fmt;
    hr_header_mode header;
    char *hdr;            /* --header auto: the header line (the first non-blank line of the
                             inputs when it fails to parse as 'unparsable'), or NULL; a later
                             file's first line is a header only if it is this line exactly */
    size_t hdr_len;
    int skip_bad;
    double max_expansion;      /* compressed inputs: io/input.h expansion guard (0 = off) */
    uint64_t max_input_bytes;
    /* units [global] */
    hr_unit *units;
    uint32_t nunits;
    /* results [local] */
    hr_intern *users, *items;
    hr_triple *t;
    uint64_t n, cap;
    char **src_name;      /* local sources: one per member read */
    uint32_t *src_unit;
    uint32_t *src_ord;    /* member number inside its unit */
    uint32_t nsrc, src_cap;
    uint32_t *src_global; /* after fix: global id of each local source (input order) */
    hr_reject_log rejects;
    uint64_t counts[HR_REJECT__COUNT];
    uint64_t rows_read, header_lines, blank_lines, bytes_in;
    uint64_t *unit_lines; /* nunits, lines seen per unit (summed over ranks after the fix) */
    /* first error (fail mode) */
    int failed;
    uint32_t fail_unit;
    uint64_t fail_line;
    char fail_msg[600];
} hr_ingest_read;

/* Plan units over the files (every rank computes the same plan). */
int hr_ingest_plan(hr_job *job, hr_ingest_read *r, const hr_pathlist *files, uint64_t split_bytes);
/* Determine the row format from the first non-blank line of the inputs (rank 0 reads the files
 * in order until it finds one, all agree), and the header line (r->hdr).  Inputs without any
 * non-blank line are an error ("no data").  A forced --format whose separator the line lacks
 * is an error naming the separator the line seems to use.
 * format: auto|csv|tsv|space|movielens; columns may be NULL. */
int hr_ingest_detect_format(hr_job *job, hr_ingest_read *r, const hr_pathlist *files, const char *format,
                            const char *columns);
/* Parse this rank's units.  Collective only at the end (error agreement). */
int hr_ingest_parse(hr_job *job, hr_ingest_read *r, const hr_pathlist *files);
/* Global source ids and file line numbers (collective); fills *names with all source names. */
int hr_ingest_fix_sources(hr_job *job, hr_ingest_read *r, char ***names, uint32_t *nnames);
void hr_ingest_read_free(hr_ingest_read *r);

void hr_reject_log_add(hr_reject_log *l, uint32_t src, uint64_t line, int reason, const char *detail,
                       const char *row, size_t row_len);
void hr_reject_log_free(hr_reject_log *l);

#endif
