#include "core/alloc.h"

#include <malloc.h>
#include <pthread.h>
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

/* ---- big blocks: mappings of their own, backed by transparent huge pages ------------------
 * Big arrays (triples, blocks, exchange buffers) are written once in full right after they
 * are allocated, so on 4 KiB pages every 4 KiB of them costs a page fault (about 10 us in a
 * virtual machine): 320 MB of triples, 80,000 faults.  Asking for transparent huge pages
 * (madvise MADV_HUGEPAGE: the kernel's "madvise" THP mode, the common default, honours it for
 * the region asked) makes that 160 faults of 2 MiB.  A block of at least BIG_MIN bytes is
 * therefore its own anonymous mapping, 2 MiB-aligned, advised, grown in place by mremap; the
 * freed ones are kept (up to CACHE_MAX blocks, CACHE_BYTES in all) for the next big request
 * they fit, so a phase that frees a buffer and the next that allocates one of about the same
 * size reuse memory that is already mapped and faulted.  Where the kernel has THP off the
 * advice is ignored and only the reuse remains. */
enum { BIG_MIN = 1 << 21, HUGE_PAGE = 1 << 21, CACHE_MAX = 4 };
static const size_t CACHE_BYTES = (size_t)1 << 30;

typedef struct big { void *p; size_t len; } big;   /* len: mapped bytes */
static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static big *live_big;                               /* live big blocks (a small table) */
static size_t nlive, caplive;
static big cache[CACHE_MAX];
static size_t ncache;

static size_t round_huge(size_t n) { return (n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE; }

/* A fresh 2 MiB-aligned mapping of len bytes (a multiple of 2 MiB), advised for huge pages. */
static void *map_big(size_t len)
{
    size_t want = len + HUGE_PAGE;
    char *raw = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (raw + want > p + len) munmap(p + len, (size_t)(raw + want - (p + len)));
    madvise(p, len, MADV_HUGEPAGE);
    return p;
}

static int live_find(const void *p)
{
    for (size_t i = 0; i < nlive; i++)
        if (live_big[i].p == p) return (int)i;
    return -1;
}

static void live_add(void *p, size_t len)
{
    if (nlive == caplive) {
        size_t cap = caplive ? caplive * 2 : 64;
        big *t = realloc(live_big, cap * sizeof *t);
        if (!t) abort();
        live_big = t;
        caplive = cap;
    }
    live_big[nlive++] = (big){ p, len };
}

/* A big block of at least n bytes: the smallest cached one that fits without wasting more than
 * half of it, or a new mapping.  *len: its mapped size.  Called with big_lock held. */
static void *big_get(size_t n, size_t *len, int *zeroed)
{
    size_t best = CACHE_MAX;
    for (size_t i = 0; i < ncache; i++)
        if (cache[i].len >= n && cache[i].len / 2 <= n && (best == CACHE_MAX || cache[i].len < cache[best].len)) best = i;
    if (best != CACHE_MAX) {
        big b = cache[best];
        cache[best] = cache[--ncache];
        *len = b.len;
        *zeroed = 0;
        return b.p;
    }
    *len = round_huge(n);
    *zeroed = 1;
    return map_big(*len);
}

/* Retire a big block: into the cache (evicting the oldest when full) or unmapped.  The cache
 * holds at most CACHE_BYTES and at most the larger of half the live memory and the gap between
 * the job's peak and its live memory: resident memory never passes the high-water mark the job
 * already reached by more than half again its live memory.  The gap term is what lets a
 * shuffle's send buffer (freed right after the exchange, when only the received array is
 * live) serve the next phase's scratch array instead of being unmapped and its replacement
 * zeroed by the kernel page by page (ingest: 2 x 400 MB per shuffle at 20M rows). */
static void big_put(void *p, size_t len)
{
    uint64_t live = atomic_load(&live_bytes), peak = atomic_load(&peak_bytes);
    size_t held = len, limit = (size_t)(live / 2);
    if (peak > live && peak - live > limit) limit = (size_t)(peak - live);
    if (limit > CACHE_BYTES) limit = CACHE_BYTES;
    for (size_t i = 0; i < ncache; i++) held += cache[i].len;
    while (ncache > 0 && (ncache == CACHE_MAX || held > limit)) {
        held -= cache[0].len;
        munmap(cache[0].p, cache[0].len);
        memmove(cache, cache + 1, --ncache * sizeof *cache);
    }
    if (len <= limit) cache[ncache++] = (big){ p, len };
    else munmap(p, len);
}

static void account_n(uint64_t n, long sign)
{
    if (sign > 0) {
        uint64_t now = atomic_fetch_add(&live_bytes, n) + n;
        uint64_t peak = atomic_load(&peak_bytes);
        while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {}
    } else {
        atomic_fetch_sub(&live_bytes, n);
    }
}

static void account(void *p, long sign)
{
    if (p) account_n(malloc_usable_size(p), sign);
}

static void *big_alloc(size_t n, int zero)
{
    pthread_mutex_lock(&big_lock);
    size_t len;
    int zeroed;
    void *p = big_get(n, &len, &zeroed);
    if (p) live_add(p, len);
    pthread_mutex_unlock(&big_lock);
    if (!p) return NULL;
    if (zero && !zeroed) memset(p, 0, n);
    account_n(len, 1);
    return p;
}

/* 1 and the block's mapped size when p is a big block, else 0. */
static int big_size(const void *p, size_t *len)
{
    pthread_mutex_lock(&big_lock);
    int i = p ? live_find(p) : -1;
    if (i >= 0) *len = live_big[i].len;
    pthread_mutex_unlock(&big_lock);
    return i >= 0;
}

static int big_free(void *p)
{
    pthread_mutex_lock(&big_lock);
    int i = p ? live_find(p) : -1;
    size_t len = 0;
    if (i >= 0) {
        len = live_big[i].len;
        live_big[i] = live_big[--nlive];
        account_n(len, -1);
        big_put(p, len);
    }
    pthread_mutex_unlock(&big_lock);
    return i >= 0;
}

/* ---- the API ------------------------------------------------------------------------------ */

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

static void *any_alloc(size_t n, int zero)
{
    if (n >= BIG_MIN) return big_alloc(n, zero);
    void *p = zero ? calloc(1, n ? n : 1) : malloc(n ? n : 1);
    account(p, 1);
    return p;
}

void *hr_try_malloc(size_t n)
{
    if (should_fail()) return NULL;
    return any_alloc(n, 0);
}

void *hr_malloc(size_t n)
{
    void *p = any_alloc(n, 0);
    if (!p) oom(n);
    return p;
}

void *hr_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) oom(SIZE_MAX);
    void *p = any_alloc(count * size, 1);
    if (!p) oom(count * size);
    return p;
}

void *hr_realloc(void *p, size_t n)
{
    size_t len;
    if (big_size(p, &len)) {
        /* a big block grows (or shrinks) where its pages are: mremap, no copy */
        size_t want = round_huge(n ? n : 1);
        if (want == len) return p;
        pthread_mutex_lock(&big_lock);
        void *q = mremap(p, len, want, MREMAP_MAYMOVE);
        if (q != MAP_FAILED) {
            int i = live_find(p);
            live_big[i] = (big){ q, want };
            if (want > len) madvise((char *)q + len, want - len, MADV_HUGEPAGE);
        }
        pthread_mutex_unlock(&big_lock);
        if (q == MAP_FAILED) oom(n);
        account_n(len, -1);
        account_n(want, 1);
        return q;
    }
    if (n >= BIG_MIN) {   /* a small block outgrows the heap */
        void *q = big_alloc(n, 0);
        if (!q) oom(n);
        if (p) {
            memcpy(q, p, malloc_usable_size(p));
            hr_free(p);
        }
        return q;
    }
    account(p, -1);
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    account(q, 1);
    return q;
}

void *hr_malloc_huge(size_t n)
{
    enum { HUGE = 2u << 20 };
    if (n < 2 * (size_t)HUGE) return hr_malloc(n);
    void *p = NULL;
    if (posix_memalign(&p, HUGE, n) != 0 || !p) oom(n);
    /* whole 2 MiB pages inside the block; a refusal (no THP) only costs the speed-up */
    (void)madvise(p, n / HUGE * HUGE, MADV_HUGEPAGE);
    account(p, 1);
    return p;
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
    if (!p || big_free(p)) return;
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
