/* solvers/ivf.h — the inverted-file index, in three parts (as Faiss keeps them apart):
 *
 *   quantizer   the coarse centroids and the probe: the nprobe lists nearest each query
 *               (hr_ivf_quantizer, hr_ivf_probe)
 *   lists       list storage in memory: a block of items sorted into lists, one contiguous
 *               buffer that can travel between ranks as it is (hr_ivf_lists_pack / _view); on
 *               disk an index keeps only each item's list (io/ivffile.h), the rows come from
 *               the model
 *   scan        a batch of queries grouped by probed list (hr_ivf_group), then per list one
 *               small SGEMM of its queries against its rows, candidates into each query's
 *               bounded selection (hr_ivf_scan)
 *
 * Why an IVF scanned with GEMMs (measured; numbers in docs/operations.md "ANN index"): a batch
 * job has every query at once, so grouping the queries by probed list turns the scan into
 * matrix products that run near the machine's SGEMM peak, which a graph index (HNSW) cannot do:
 * it walks one query at a time through cache misses.  List entries are the float factor rows:
 * the scan's scores are then the exact float scores (x . y + b, as the exact path computes
 * them), so no re-ranking pass is needed; 8-bit codes would save scan bandwidth but the exact
 * re-score needs the float rows in memory anyway, so they would add memory, not save it.
 *
 * Scores and ids: a candidate enters a selection with its global item id, so ties break by the
 * lower id as everywhere in hpcrec (solvers/topk.h), and results do not depend on the rank count.
 * Probe scores: q . C_c + beta_c with beta_c = (bias coordinate of C_c) - |C_c|^2 / 2, the L2
 * ranking of centroids for the MIPS-reduced vectors (solvers/mips.h).
 *
 * Ownership: a quantizer owns its arrays (hr_ivf_quantizer_free); lists views borrow the packed
 * buffer; groups and scan work are caller-owned buffers of the sizes given below.
 * Limits: item ids and list counts below 2^32; k below 2^16. */
#ifndef HR_SOLVERS_IVF_H
#define HR_SOLVERS_IVF_H

#include <stddef.h>
#include <stdint.h>

#include "solvers/kmeans.h"
#include "solvers/mips.h"
#include "solvers/topk.h"

/* ---- quantizer ---- */
typedef struct hr_ivf_quantizer {
    uint32_t nlist;
    int k;          /* query dimension: the model's factors */
    float *C;       /* nlist x k: the centroids' factor coordinates */
    float *beta;    /* nlist: the centroids' bias coordinate (0 without) - |centroid|^2 / 2 */
} hr_ivf_quantizer;

/* From augmented centroids cent (nlist x (dim + 1): factor coordinates, the bias coordinate when
 * dim == k + 1, the reduction coordinate). */
void hr_ivf_quantizer_init(hr_ivf_quantizer *q, const float *cent, uint32_t nlist, int k, int dim);
void hr_ivf_quantizer_free(hr_ivf_quantizer *q);   /* accepts a zeroed struct */
/* The nprobe (<= nlist) lists of best probe score per query, best first (ties: lower list id),
 * into probes[x * nprobe ..].  Query x is row map[x] of Q (row x when map is NULL); rows are
 * k floats in hr_mips_scan_row form. */
void hr_ivf_probe(const hr_ivf_quantizer *q, const float *Q, const uint32_t *map, uint64_t nq, uint32_t nprobe, uint32_t *probes);

/* ---- list storage: a packed block ---- */
typedef struct hr_ivf_lists {
    uint32_t nlist;
    int k;
    uint64_t n, lo;          /* items lo..lo+n-1 of the catalogue */
    const uint32_t *off;     /* nlist + 1: list c is rows off[c]..off[c+1]-1 */
    const uint32_t *ids;     /* n: global item id of each row (increasing within a list) */
    const float *bias;       /* n, or NULL */
    const float *rows;       /* n x k */
} hr_ivf_lists;

/* Bytes of a packed block of n items. */
size_t hr_ivf_lists_bytes(uint32_t nlist, uint64_t n, int k, int has_bias);
/* Pack items lo..lo+n-1 (model rows Y, n x k; bias n or NULL; assign: their lists) into buf
 * (hr_ivf_lists_bytes, 64-byte aligned): rows sorted by list, by id within a list, each row in
 * hr_mips_scan_row form for the metric. */
void hr_ivf_lists_pack(void *buf, hr_metric metric, const float *Y, const float *bias, const uint32_t *assign, uint64_t lo,
                       uint64_t n, uint32_t nlist, int k);
/* A view of a packed buffer (ours, or one received from another rank). */
void hr_ivf_lists_view(const void *buf, hr_ivf_lists *L);
/* Bytes the packed buffer at buf occupies (from its header). */
size_t hr_ivf_lists_used(const void *buf);

/* ---- batched scan ---- */
typedef struct hr_ivf_groups {
    uint32_t nlist;
    uint32_t *off;   /* nlist + 1 (caller buffer) */
    uint32_t *q;     /* nq * nprobe (caller buffer): batch query indices, grouped by list, increasing */
} hr_ivf_groups;
/* Invert a batch's probe lists: the queries (0..nq-1) probing each list. */
void hr_ivf_group(hr_ivf_groups *g, const uint32_t *probes, uint32_t nq, uint32_t nprobe);

typedef struct hr_ivf_batch {
    const float *Q;                /* query rows, k floats each */
    hr_topbuf *heaps;              /* selections (pushable: a working buffer borrowed) */
    uint32_t *const *excl;         /* per query: sorted item ids never to return, or NULL */
    const uint32_t *nexcl;
    const uint8_t *banned;         /* catalogue-wide flags, or NULL */
    const uint32_t *map;           /* batch query x is entry map[x] of Q, heaps, excl (NULL: x) */
} hr_ivf_batch;

/* Scratch floats hr_ivf_scan needs for dimension k. */
size_t hr_ivf_scan_work_floats(int k);
/* Every probed (query, row) pair of L: scores q . y (+ b) by SGEMM, pushed into the query's
 * selection unless excluded.  Returns the number of scores computed (2k FLOP each). */
uint64_t hr_ivf_scan(const hr_ivf_lists *L, const hr_ivf_groups *g, const hr_ivf_batch *b, float *work);

/* ---- calibration: the recall of every probe setting, measured without searching ---- */
/* The exact best items of queries Q (nq x dim, the same on every rank) among items lo..lo+n-1
 * (rows V, n x ld floats of which the first dim are multiplied: the index vectors), pushed into
 * the queries' selections sel[nq] (pushable).  Items go
 * through SGEMM in windows aligned on their id (solvers/kmeans.h), so a score does not depend
 * on which rank or block holds the item.  self: per query an item id never to return, or NULL. */
void hr_ivf_exact_topk(const float *V, int ld, int dim, uint64_t lo, uint64_t n, const float *Q, uint32_t nq, const uint32_t *self,
                       hr_topbuf *sel);

#endif
