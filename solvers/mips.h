/* solvers/mips.h — the vectors an index is built on, and the MIPS-to-L2 reduction.
 *
 * Metrics (what a query ranks items by):
 *   ip      x . y_i + b_i   recommend's score (b_i: the item bias, when the model has one)
 *   cosine  (x/|x|) . (y_i/|y_i|)   similar's score (a zero row stays zero: cosine 0)
 * The index vector of item i is v_i = [y_i, b_i] (ip with biases, dim k + 1), y_i (ip without,
 * dim k) or y_i/|y_i| (cosine, dim k); a query is x with an implicit 1 in the bias coordinate,
 * or x/|x| for cosine, so the score is always q . v_i.
 *
 * Why the reduction (measured on the item factors of an iALS model trained on generated data
 * with a Zipf popularity, 200k x 64: norms from 0.003 to 37, median 0.12).  k-means clusters in
 * L2, but a query wants the largest inner product, which favours long vectors wherever they
 * lie.  Every item gets one more coordinate e_i = sqrt(M^2 - |v_i|^2), M the largest norm, so
 * all augmented items have norm M, and for a query q' = [q, 0]:
 *     |q' - v'_i|^2 = |q|^2 + M^2 - 2 q . v_i,
 * the nearest item in L2 is the best in inner product.  k-means then clusters the augmented
 * rows, and a query probes the lists whose centroid c is nearest: argmax q . c - |c|^2 / 2
 * (c's extra coordinate meets the query's 0).  Faiss IVF, 1024 lists, 10k user queries on
 * those factors: recall@10 0.95 needs nprobe 64 with plain inner product, 32 (recall 0.999)
 * with the reduction.  For cosine every vector has norm 1 and the extra coordinate is 0.
 *
 * All functions are local and allocation-free; norms are accumulated in double. */
#ifndef HR_SOLVERS_MIPS_H
#define HR_SOLVERS_MIPS_H

#include <stdint.h>

typedef enum { HR_METRIC_IP = 1, HR_METRIC_COSINE = 2 } hr_metric;

const char *hr_metric_name(hr_metric m);
/* "ip" or "cosine": 0, else -1. */
int hr_metric_parse(const char *s, hr_metric *out);
/* Whether the metric uses item biases at all (ip does, when the model has them). */
int hr_mips_uses_bias(hr_metric m, int model_has_bias);
/* Dimension of the index vectors (without the extra coordinate). */
int hr_mips_dim(hr_metric m, int k, int has_bias);

/* Squared norm of item i's index vector; b may be NULL (no bias).  cosine: 1, or 0 for a zero row. */
double hr_mips_norm2(hr_metric m, const float *y, const float *b, int k);
/* Augmented k-means row of one item: its index vector, then sqrt(max(0, M2 - |v|^2)), where M2
 * is the square of the largest norm over all items: hr_mips_dim() + 1 floats into out. */
void hr_mips_augment_row(hr_metric m, const float *y, const float *b, int k, double M2, float *out);
/* The row a scan multiplies (k floats): ip: y as is; cosine: y/|y| (zero stays zero), computed
 * as `similar` normalises, so the scores equal the exact path's.  out may equal y. */
void hr_mips_scan_row(hr_metric m, const float *y, int k, float *out);

#endif
