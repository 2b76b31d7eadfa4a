/* io/jsonl.h — a JSON-lines file: one compact JSON object per line, flushed after each line so
 * a reader (a dashboard, `hpcrec report`) sees every finished line even while the writer runs.
 * Used by `train --history FILE` (one line per iteration; docs/evaluation.md, "Training
 * history").  Opened for writing (truncate) or appending (a resumed run continues the file). */
#ifndef HR_IO_JSONL_H
#define HR_IO_JSONL_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"

typedef struct hr_jsonl hr_jsonl;

int hr_jsonl_open(const char *path, int append, hr_jsonl **out, hr_error *err);
/* Writes obj (not stolen) as one line. */
int hr_jsonl_write(hr_jsonl *w, json_t *obj, hr_error *err);
int hr_jsonl_close(hr_jsonl *w, hr_error *err);   /* accepts NULL */

/* Readers (hpcrec report).  A file that does not exist is no error: *out = NULL, return 0.
 * A JSON file that does not parse: HR_ERR_FORMAT naming the file and line.  A JSON-lines file
 * becomes an array of its objects; a line that does not parse (a writer killed mid-line) is
 * skipped and counted in *bad (may be NULL). */
int hr_json_read_opt(const char *path, json_t **out, hr_error *err);
int hr_jsonl_read_opt(const char *path, json_t **out, uint64_t *bad, hr_error *err);

#endif
