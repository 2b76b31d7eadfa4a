#include "partition/part.h"

#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/hash.h"

const char *hr_part_scheme_name(hr_part_scheme s) { return s == HR_PART_HASH ? "hash" : "balanced"; }

int hr_part_scheme_parse(const char *s, hr_part_scheme *out)
{
    if (!strcasecmp(s, "balanced")) *out = HR_PART_BALANCED;
    else if (!strcasecmp(s, "hash")) *out = HR_PART_HASH;
    else return -1;
    return 0;
}

void hr_part_build(hr_part *p, hr_part_scheme scheme, int nparts, uint64_t n, const uint64_t *weights)
{
    memset(p, 0, sizeof *p);
    p->scheme = scheme;
    p->nparts = nparts;
    p->n = n;
    p->owner = hr_malloc((n ? n : 1) * sizeof *p->owner);
    p->local = hr_malloc((n ? n : 1) * sizeof *p->local);
    p->rows = hr_calloc((size_t)nparts, sizeof *p->rows);
    p->weight = hr_calloc((size_t)nparts, sizeof *p->weight);
    if (scheme == HR_PART_HASH) {
        for (uint64_t g = 0; g < n; g++) p->owner[g] = (uint32_t)(hr_mix64(g) % (uint64_t)nparts);
    } else {
        /* Cut where the running weight passes r/P of the total; each row costs its weight plus
         * one (so empty rows still spread out).  Deterministic in (n, P, weights). */
        unsigned __int128 total = 0;
        for (uint64_t g = 0; g < n; g++) total += (weights ? weights[g] : 0) + 1;
        unsigned __int128 run = 0;
        for (uint64_t g = 0; g < n; g++) {
            uint64_t w = (weights ? weights[g] : 0) + 1;
            /* owner = floor(P * (run + w/2) / total): rows go to the part containing their middle */
            unsigned __int128 mid = run * 2 + w;
            uint64_t r = (uint64_t)(mid * (unsigned __int128)nparts / (total * 2));
            p->owner[g] = (uint32_t)(r >= (uint64_t)nparts ? (uint64_t)nparts - 1 : r);
            run += w;
        }
    }
    for (uint64_t g = 0; g < n; g++) {
        uint32_t r = p->owner[g];
        p->local[g] = (uint32_t)p->rows[r]++;
        p->weight[r] += weights ? weights[g] : 1;
    }
}

void hr_part_from_owned(hr_part *p, hr_part_scheme scheme, int nparts, uint64_t n, const uint32_t *gids,
                        const uint64_t *offsets)
{
    memset(p, 0, sizeof *p);
    p->scheme = scheme;
    p->nparts = nparts;
    p->n = n;
    p->owner = hr_calloc(n ? n : 1, sizeof *p->owner);
    p->local = hr_calloc(n ? n : 1, sizeof *p->local);
    p->rows = hr_calloc((size_t)nparts, sizeof *p->rows);
    p->weight = hr_calloc((size_t)nparts, sizeof *p->weight);
    for (int r = 0; r < nparts; r++)
        for (uint64_t k = offsets[r]; k < offsets[r + 1]; k++) {
            p->owner[gids[k]] = (uint32_t)r;
            p->local[gids[k]] = (uint32_t)p->rows[r]++;
            p->weight[r]++;
        }
}

void hr_part_append(hr_part *p, uint64_t extra)
{
    uint64_t n = p->n + extra;
    p->owner = hr_realloc(p->owner, (n ? n : 1) * sizeof *p->owner);
    p->local = hr_realloc(p->local, (n ? n : 1) * sizeof *p->local);
    for (uint64_t j = 0; j < extra; j++) {
        uint32_t r = (uint32_t)(j % (uint64_t)p->nparts);
        p->owner[p->n + j] = r;
        p->local[p->n + j] = (uint32_t)p->rows[r]++;
    }
    p->n = n;
}

void hr_part_remap(hr_part *p, const uint32_t *map, uint64_t n_new)
{
    uint32_t *owner = hr_malloc((n_new ? n_new : 1) * sizeof *owner), *local = hr_malloc((n_new ? n_new : 1) * sizeof *local);
    memset(p->rows, 0, (size_t)p->nparts * sizeof *p->rows);
    for (uint64_t g = 0; g < p->n; g++) {
        if (map[g] == UINT32_MAX) continue;
        uint32_t r = p->owner[g];
        owner[map[g]] = r;
        local[map[g]] = (uint32_t)p->rows[r]++;
    }
    hr_free(p->owner);
    hr_free(p->local);
    p->owner = owner;
    p->local = local;
    p->n = n_new;
}

void hr_part_free(hr_part *p)
{
    if (!p) return;
    hr_free(p->owner);
    hr_free(p->local);
    hr_free(p->rows);
    hr_free(p->weight);
    memset(p, 0, sizeof *p);
}

uint32_t *hr_part_owned(const hr_part *p, int r)
{
    uint32_t *g = hr_malloc((p->rows[r] ? p->rows[r] : 1) * sizeof *g);
    uint64_t k = 0;
    for (uint64_t x = 0; x < p->n; x++)
        if (p->owner[x] == (uint32_t)r) g[k++] = (uint32_t)x;
    return g;
}

double hr_part_imbalance(const hr_part *p)
{
    uint64_t mx = 0, sum = 0;
    for (int r = 0; r < p->nparts; r++) {
        if (p->weight[r] > mx) mx = p->weight[r];
        sum += p->weight[r];
    }
    return sum ? (double)mx * p->nparts / (double)sum : 1.0;
}

int hr_part_shuffle(hr_comm *c, const hr_part *p, int by_item, hr_triple **t, uint64_t *n)
{
    int P = hr_comm_size(c);
    uint64_t *cnt = hr_calloc((size_t)P * 2, sizeof *cnt), *recvcnt = cnt + P;
    hr_triple *in = *t;
    for (uint64_t k = 0; k < *n; k++) cnt[p->owner[by_item ? in[k].i : in[k].u]]++;
    /* Bucket in place order-stably into a send buffer. */
    uint64_t *pos = hr_malloc((size_t)P * sizeof *pos), off = 0;
    for (int r = 0; r < P; r++) {
        pos[r] = off;
        off += cnt[r];
    }
    hr_triple *send = hr_malloc((*n ? *n : 1) * sizeof *send);
    for (uint64_t k = 0; k < *n; k++) send[pos[p->owner[by_item ? in[k].i : in[k].u]]++] = in[k];
    hr_free(pos);
    hr_free(in);
    *t = NULL;
    void *recv = NULL;
    uint64_t nrecv = 0;
    int rc = hr_comm_alltoallv(c, send, cnt, sizeof(hr_triple), &recv, recvcnt, &nrecv);
    hr_free(send);
    hr_free(cnt);
    if (rc < 0) return rc;
    *t = recv;
    *n = nrecv;
    return 0;
}
