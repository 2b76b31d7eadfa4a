/* io/lines.h — split a member of an hr_input into lines.
 *
 * LF or CRLF endings (the CR is removed), last line with or without a newline, lines of any
 * length (the buffer grows).  Line numbers count from 1 in the member.  A UTF-8 byte-order
 * mark (EF BB BF) at the start of a member is dropped (spreadsheet exports write one).
 *
 * Byte ranges (parallel reading of one plain file): a line belongs to the range in which it
 * starts.  A reader over range [start, start+len) is opened on an input positioned at
 * start-1 (or 0) with hr_lines_set_range(): when start > 0 it skips through the first '\n'
 * (the previous range owns that line) and it stops after the last line that starts before
 * start+len.  Line numbers are then relative to the range; the caller shifts them by the
 * number of lines in earlier ranges. */
#ifndef HR_IO_LINES_H
#define HR_IO_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/input.h"

typedef struct hr_lines hr_lines;

hr_lines *hr_lines_new(hr_input *in);
/* Input opened at byte `opened_at` = max(start-1, 0); range [start, start+len). */
void hr_lines_set_range(hr_lines *l, uint64_t start, uint64_t len);
/* 1 = a line (NUL-terminated, without its end-of-line bytes, valid until the next call),
 * 0 = end of member or range, < 0 = read error. */
int hr_lines_next(hr_lines *l, char **line, size_t *len, hr_error *err);
uint64_t hr_lines_lineno(const hr_lines *l);
/* Start a new member of the same input (resets line numbers). */
void hr_lines_reset(hr_lines *l);
void hr_lines_free(hr_lines *l);

#endif
