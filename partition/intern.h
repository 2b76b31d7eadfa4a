/* partition/intern.h — give each distinct ID string a dense local number, fast.
 *
 * Ingest sees each ID once per row (hundreds of millions of lookups) but only once per
 * distinct ID stores it: an open-addressing table over an arena of bytes.  Local numbers are
 * in first-seen order; partition/dict.h later maps them to global ids that do not depend on
 * the rank count. */
#ifndef HR_PARTITION_INTERN_H
#define HR_PARTITION_INTERN_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_intern hr_intern;

hr_intern *hr_intern_new(void);
void hr_intern_free(hr_intern *t);
/* Local number of key (inserting it if new). */
uint32_t hr_intern_get(hr_intern *t, const char *key, size_t len);
uint32_t hr_intern_count(const hr_intern *t);
/* Key bytes of local number id. */
const char *hr_intern_key(const hr_intern *t, uint32_t id, size_t *len);
/* Serialize all keys as [u32 len][bytes]... in local-number order (buffer hr_malloc'd). */
void hr_intern_pack(const hr_intern *t, char **buf, uint64_t *bytes);

#endif
