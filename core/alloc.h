/* core/alloc.h — the one allocation chokepoint.
 *
 * Every module allocates through these.  They count live and peak bytes (reported as memory
 * per rank) and, on failure, print the size and the rank and call the fatal hook that jobs/
 * installs (MPI_Abort), because a rank that silently runs out of memory would hang the others.
 * Tests can make the Nth allocation fail with HR_FAIL_ALLOC_AT=N (then hr_malloc returns NULL
 * only through hr_try_malloc; the aborting variants still abort). */
#ifndef HR_CORE_ALLOC_H
#define HR_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *hr_malloc(size_t n);                 /* aborts on failure; n == 0 returns a valid pointer */
void *hr_calloc(size_t count, size_t size);
void *hr_realloc(void *p, size_t n);
void *hr_try_malloc(size_t n);             /* returns NULL on failure (large optional buffers) */
char *hr_strdup(const char *s);
void  hr_free(void *p);

/* Frees *pp and sets it to NULL. */
#define HR_FREE(pp) do { hr_free(*(pp)); *(pp) = NULL; } while (0)

uint64_t hr_alloc_live_bytes(void);
uint64_t hr_alloc_peak_bytes(void);
/* Peak resident set of this process in bytes (getrusage), what the OS actually saw. */
uint64_t hr_peak_rss_bytes(void);

/* Installed by jobs/: called after the out-of-memory message; must not return. */
void hr_alloc_set_fatal_hook(void (*hook)(void));
void hr_alloc_set_rank(int rank);

#endif
