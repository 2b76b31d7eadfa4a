#include "core/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

static _Atomic uint64_t live_bytes, peak_bytes;
static _Atomic long alloc_count;
static long fail_at = -1; /* from HR_FAIL_ALLOC_AT, read once */
static int fail_init, alloc_rank;
static void (*fatal_hook)(void);

void hr_alloc_set_fatal_hook(void (*hook)(void)) { fatal_hook = hook; }
void hr_alloc_set_rank(int rank) { alloc_rank = rank; }

static void account(void *p, long sign)
{
    if (!p) return;
    uint64_t n = malloc_usable_size(p);
    if (sign > 0) {
        uint64_t now = atomic_fetch_add(&live_bytes, n) + n;
        uint64_t peak = atomic_load(&peak_bytes);
        while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {}
    } else {
        atomic_fetch_sub(&live_bytes, n);
    }
}

static int should_fail(void)
{
    if (!fail_init) {
        const char *s = getenv("HR_FAIL_ALLOC_AT");
        fail_at = s ? atol(s) : -1;
        fail_init = 1;
    }
    long k = atomic_fetch_add(&alloc_count, 1) + 1;
    return fail_at > 0 && k == fail_at;
}

static void oom(size_t n)
{
    fprintf(stderr, "hpcrec: [rank %d] out of memory allocating %zu bytes (%.1f MiB live)\n",
            alloc_rank, n, (double)atomic_load(&live_bytes) / (1 << 20));
    fflush(stderr);
    if (fatal_hook) fatal_hook();
    abort();
}

void *hr_try_malloc(size_t n)
{
    if (should_fail()) return NULL;
    void *p = malloc(n ? n : 1);
    account(p, 1);
    return p;
}

void *hr_try_malloc_huge(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n < 2 * huge) return hr_try_malloc(n);
    if (should_fail()) return NULL;
    void *p = NULL;
    size_t len = (n + huge - 1) / huge * huge;
    if (posix_memalign(&p, huge, len) != 0) return NULL;
    madvise(p, len, MADV_HUGEPAGE);   /* advice only: without THP it is plain memory */
    account(p, 1);
    return p;
}

void *hr_malloc_huge(size_t n)
{
    void *p = hr_try_malloc_huge(n);
    if (!p) oom(n);
    return p;
}

void *hr_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    account(p, 1);
    return p;
}

void *hr_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    account(p, 1);
    return p;
}

void *hr_realloc(void *p, size_t n)
{
    account(p, -1);
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    account(q, 1);
    return q;
}

char *hr_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hr_malloc(n);
    memcpy(d, s, n);
    return d;
}

void hr_free(void *p)
{
    account(p, -1);
    free(p);
}

uint64_t hr_alloc_live_bytes(void) { return atomic_load(&live_bytes); }
uint64_t hr_alloc_peak_bytes(void) { return atomic_load(&peak_bytes); }

uint64_t hr_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;
}
