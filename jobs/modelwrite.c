#include "jobs/modelwrite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/bundle.h"
#include "io/bundlefmt.h"
#include "io/dictbuf.h"
#include "io/iiblock.h"
#include "io/manifest.h"
#include "io/output.h"
#include "mpi/pfile.h"

typedef struct mw {
    hr_job *job;
    const hr_model *hdr;
    const hr_model_src *src;
    hr_model_layout L;
    int P, me, pass;
    int64_t mtime;
    uint32_t *writer;                /* per member: the rank that packs it */
    uint64_t *stored, *raw, *xxh3;   /* per member (pass 0 fills its own, then summed) */
    uint64_t *offset;                /* per member: where its header goes (pass 1) */
    hr_packer *pk;
    float *mbuf;                     /* the member being assembled */
    size_t mcap;
    char *send, *recv;               /* exchange buffers */
    size_t scap, rcap;
    uint64_t *scount, *rcount;       /* P each */
    uint64_t local;                  /* members this rank packed */
    hr_pfile *f;
} mw;

static const hr_rows_src *rows_src(const mw *w, const char *name)
{
    const hr_model_src *s = w->src;
    if (!strcmp(name, "user_factors.f32")) return &s->user_factors;
    if (!strcmp(name, "item_factors.f32")) return &s->item_factors;
    if (!strcmp(name, "user_bias.f32")) return &s->user_bias;
    if (!strcmp(name, "item_bias.f32")) return &s->item_bias;
    if (!strncmp(name, "content", 7)) {   /* the content map: whole in hdr, no source */
        static const hr_rows_src none;
        return &none;
    }
    return &s->item_scores;
}

static void *grow(void *p, size_t *cap, size_t need)
{
    if (need <= *cap) return p;
    hr_free(p);
    *cap = need;
    return hr_malloc(need);
}

/* Who packs each member: the owner of its first row for distributed rows (so a balanced
 * partition's members are mostly local), round robin for rows any rank can produce. */
static void assign_writers(mw *w)
{
    for (int x = 0; x < w->L.n; x++) {
        const hr_marray *a = &w->L.a[x];
        const hr_rows_src *rs = a->type == HR_MARRAY_F32 ? rows_src(w, a->name) : NULL;
        for (uint64_t j = a->first; j < a->first + a->members; j++) {
            uint64_t lo = (j - a->first) * a->block;
            w->writer[j] = rs && rs->part ? rs->part->owner[lo]
                           : a->type == HR_MARRAY_IIBLK ? (uint32_t)((j - a->first) % (uint64_t)w->P)   /* the contract of make */
                                                        : (uint32_t)(j % (uint64_t)w->P);
        }
    }
}

/* Rows lo..hi-1 of a distributed array into w->mbuf, for the members every rank packs in this
 * round (round_member[q]: the member rank q packs, UINT64_MAX for none).  All-to-all: each rank
 * sends, in gid order, its rows of every member of the round. */
static int exchange_rows(mw *w, const hr_marray *a, const hr_rows_src *rs, const uint64_t *round_member)
{
    const hr_part *p = rs->part;
    const size_t rb = (size_t)a->cols * sizeof(float);
    uint64_t nsend = 0, nrecv = 0;
    for (int q = 0; q < w->P; q++) w->scount[q] = w->rcount[q] = 0;
    for (int q = 0; q < w->P; q++) {
        uint64_t j = round_member[q];
        if (j == UINT64_MAX) continue;
        uint64_t lo = (j - a->first) * a->block, hi = lo + a->block < a->rows ? lo + a->block : a->rows;
        for (uint64_t g = lo; g < hi; g++) {
            if (p->owner[g] == (uint32_t)w->me) w->scount[q]++;
            if (q == w->me) w->rcount[p->owner[g]]++;
        }
        nsend += w->scount[q];
    }
    for (int q = 0; q < w->P; q++) nrecv += w->rcount[q];
    w->send = grow(w->send, &w->scap, nsend * rb + 1);
    w->recv = grow(w->recv, &w->rcap, nrecv * rb + 1);
    char *s = w->send;
    for (int q = 0; q < w->P; q++) {
        uint64_t j = round_member[q];
        if (j == UINT64_MAX || w->scount[q] == 0) continue;
        uint64_t lo = (j - a->first) * a->block, hi = lo + a->block < a->rows ? lo + a->block : a->rows;
        for (uint64_t g = lo; g < hi; g++)
            if (p->owner[g] == (uint32_t)w->me) {
                memcpy(s, rs->rows + (uint64_t)p->local[g] * a->cols, rb);
                s += rb;
            }
    }
    HR_TRY(hr_comm_alltoallv_into(w->job->comm, w->send, w->scount, w->recv, w->rcount, rb));
    uint64_t j = round_member[w->me];
    if (j == UINT64_MAX) return 0;
    /* rows from source s arrive in gid order: a cursor per source */
    uint64_t lo = (j - a->first) * a->block, hi = lo + a->block < a->rows ? lo + a->block : a->rows, at = 0;
    for (int q = 0; q < w->P; q++) {
        uint64_t c = w->rcount[q];
        w->rcount[q] = at;
        at += c;
    }
    for (uint64_t g = lo; g < hi; g++) memcpy((char *)w->mbuf + (g - lo) * rb, w->recv + w->rcount[p->owner[g]]++ * rb, rb);
    return 0;
}

/* The raw bytes of member j (this rank packs it), rows already in w->mbuf for distributed arrays. */
static void member_bytes(mw *w, const hr_marray *a, uint64_t j, const void **raw, size_t *len, void **owned)
{
    uint64_t lo = (j - a->first) * a->block, hi = lo + a->block < a->rows ? lo + a->block : a->rows;
    *owned = NULL;
    if (a->side == 2) {   /* the content map: whole on every rank, in hdr */
        if (a->type == HR_MARRAY_DICT) {
            hr_model_dict_member(&w->hdr->content_tokens, lo, hi, owned, len);
            *raw = *owned;
        } else {
            *raw = (strcmp(a->name, "content_idf.f32") ? w->hdr->content_map : w->hdr->content_idf) + lo * a->cols;
            *len = (size_t)((hi - lo) * a->cols * sizeof(float));
        }
        return;
    }
    if (a->type == HR_MARRAY_DICT) {
        const hr_dict *d = a->side ? w->src->items : w->src->users;
        if (d) {
            hr_model_dict_member(d, lo, hi, owned, len);
        } else {
            hr_dict v = { 1, hi - lo, hr_malloc((hi - lo + 1) * sizeof(int64_t)), NULL, NULL, NULL };
            w->src->ids_fill(w->src->ids_ctx, a->side, lo, hi, v.ints);
            hr_dictbuf_encode(&v, owned, len);
            hr_free(v.ints);
        }
        *raw = *owned;
        return;
    }
    const hr_rows_src *rs = rows_src(w, a->name);
    if (rs->fill) rs->fill(rs->ctx, lo, hi, w->mbuf);
    *raw = w->mbuf;
    *len = (size_t)((hi - lo) * a->cols * sizeof(float));
}

/* The raw bytes of item-item member j: block *b encoded into w->mbuf. */
static void ii_member_bytes(mw *w, const hr_iiblock *b, const void **raw, size_t *len)
{
    size_t need = hr_iiblock_size(b);
    if (need > w->mcap) {
        hr_free(w->mbuf);
        w->mbuf = hr_malloc(need);
        w->mcap = need;
    }
    hr_iiblock_encode_into(b, w->mbuf);
    *raw = w->mbuf;
    *len = need;
}

/* A diverged model is never written (as hr_model_save refuses it): checked member by member. */
static int check_finite(mw *w, const hr_marray *a, uint64_t j, const void *raw, size_t len)
{
    const float *f = raw;
    for (size_t e = 0; e < len / sizeof(float); e++)
        if (!isfinite(f[e]))
            return hr_error_set(&w->job->err, HR_ERR_NUMERIC,
                                "refusing to save a model with a non-finite value in %s (row %llu): training diverged?",
                                a->name, (unsigned long long)((j - a->first) * a->block + e / a->cols));
    return 0;
}

/* One pass over every member: pack (pass 0: record size and checksum; pass 1: write). */
static int run_pass(mw *w)
{
    hr_job *job = w->job;
    uint64_t *cnt = hr_calloc((size_t)w->P + 1, sizeof *cnt), *list = hr_malloc((w->L.members + 1) * sizeof *list);
    uint64_t *round_member = hr_malloc((size_t)w->P * sizeof *round_member);
    int rc = 0;
    for (int x = 0; x < w->L.n && rc == 0; x++) {
        const hr_marray *a = &w->L.a[x];
        const hr_rows_src *rs = a->type == HR_MARRAY_F32 ? rows_src(w, a->name) : NULL;
        const int dist = rs && rs->part;
        /* members of this array per rank (counting sort by writer), rounds = the longest list */
        memset(cnt, 0, ((size_t)w->P + 1) * sizeof *cnt);
        for (uint64_t j = a->first; j < a->first + a->members; j++) cnt[w->writer[j] + 1]++;
        uint64_t rounds = 0;
        for (int q = 0; q < w->P; q++) {
            if (cnt[q + 1] > rounds) rounds = cnt[q + 1];
            cnt[q + 1] += cnt[q];
        }
        for (uint64_t j = a->first; j < a->first + a->members; j++) list[cnt[w->writer[j]]++] = j;
        for (int q = w->P; q > 0; q--) cnt[q] = cnt[q - 1];
        cnt[0] = 0;
        if (a->type == HR_MARRAY_F32) {
            size_t need = (size_t)(a->block * a->cols * sizeof(float));
            if (need > w->mcap) {
                hr_free(w->mbuf);
                w->mbuf = hr_malloc(need);
                w->mcap = need;
            }
        }
        for (uint64_t t = 0; t < rounds && rc == 0; t++) {
            for (int q = 0; q < w->P; q++) round_member[q] = cnt[q] + t < cnt[q + 1] ? list[cnt[q] + t] : UINT64_MAX;
            hr_iiblock blk;
            if (dist) rc = exchange_rows(w, a, rs, round_member);
            if (a->type == HR_MARRAY_IIBLK) {
                for (int q = 0; q < w->P; q++)   /* member -> column block */
                    if (round_member[q] != UINT64_MAX) round_member[q] -= a->first;
                rc = w->src->item_item.make(w->src->item_item.ctx, round_member, &blk, &job->err);
                for (int q = 0; q < w->P; q++)
                    if (round_member[q] != UINT64_MAX) round_member[q] += a->first;
            }
            rc = hr_comm_agree(job->comm, rc, &job->err);
            if (rc < 0) break;
            const uint64_t j = round_member[w->me];
            const unsigned char *piece = NULL;
            size_t plen = 0;
            if (j != UINT64_MAX) {
                const void *raw;
                size_t len;
                void *owned;
                char name[80];
                owned = NULL;
                if (a->type == HR_MARRAY_IIBLK) ii_member_bytes(w, &blk, &raw, &len);
                else member_bytes(w, a, j, &raw, &len, &owned);
                hr_model_member_name(&w->L, j, name, sizeof name);
                if (w->pass == 0 && a->type == HR_MARRAY_F32) rc = check_finite(w, a, j, raw, len);
                if (w->pass == 0 && a->type == HR_MARRAY_IIBLK) rc = hr_model_ii_check(w->hdr, j - a->first, &blk, name, HR_ERR_ARG, &job->err);
                strcat(name, ".zst");
                uint64_t st, h;
                if (rc == 0) rc = hr_packer_pack(w->pk, raw, len, name, w->mtime, &piece, &plen, &st, &h, &job->err);
                hr_free(owned);
                if (rc == 0 && w->pass == 0) {
                    w->stored[j] = st;
                    w->raw[j] = len;
                    w->xxh3[j] = h;
                    w->local++;
                } else if (rc == 0 && (st != w->stored[j] || h != w->xxh3[j])) {
                    rc = hr_error_set(&job->err, HR_ERR_STATE, "model member %s packed to other bytes the second time", name);
                }
            }
            if (w->pass == 1) {
                int wrc = hr_pfile_write_all(w->f, j != UINT64_MAX ? w->offset[j] : 0, piece, rc == 0 ? plen : 0, &job->err);
                if (rc == 0) rc = wrc;
            }
            rc = hr_comm_agree(job->comm, rc, &job->err);
        }
    }
    hr_free(cnt);
    hr_free(list);
    hr_free(round_member);
    return rc;
}

static void mw_free(mw *w)
{
    hr_free(w->writer);
    hr_free(w->stored);
    hr_free(w->raw);
    hr_free(w->xxh3);
    hr_free(w->offset);
    hr_packer_free(w->pk);
    hr_free(w->mbuf);
    hr_free(w->send);
    hr_free(w->recv);
    hr_free(w->scount);
    hr_free(w->rcount);
}

int hr_model_write(hr_job *job, const char *path, const hr_model *hdr, const hr_model_src *src, json_t *info,
                   hr_model_write_stats *stats)
{
    const double t0 = hr_now();
    mw w;
    memset(&w, 0, sizeof w);
    w.job = job;
    w.hdr = hdr;
    w.src = src;
    w.P = job->size;
    w.me = job->rank;
    hr_model_layout_build(&w.L, hdr->kind, hdr->k, hdr->n_users, hdr->n_items,
                          src->user_bias.part || src->user_bias.fill, src->item_bias.part || src->item_bias.fill);
    if (hdr->kind == HR_MODEL_ITEMITEM) hr_model_layout_item_item(&w.L, hdr->n_items, hdr->ii_cols);
    if (hdr->kind == HR_MODEL_USERUSER) hr_model_layout_user_user(&w.L, hdr->n_users, hdr->ii_cols);
    hr_model_layout_content(&w.L, hdr->content_nf, (uint64_t)hdr->content_width);
    int rc = 0;
    char *text = NULL;
    size_t tlen = 0;
    /* rank 0 checks what a single-process save would refuse, picks the time and the
     * temporary's name; everyone learns them */
    int64_t agreed[2] = { hr_manifest_epoch(), (int64_t)getpid() };
    if (job->rank == 0) rc = hr_model_check(path, hdr, info, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_comm_bcast(job->comm, agreed, sizeof agreed, 0);
    if (rc < 0) return rc;
    w.mtime = agreed[0];
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%lld", path, (long long)agreed[1]);
    const uint64_t nm = w.L.members + 1;
    w.writer = hr_malloc(nm * sizeof *w.writer);
    w.stored = hr_calloc(nm, sizeof *w.stored);
    w.raw = hr_calloc(nm, sizeof *w.raw);
    w.xxh3 = hr_calloc(nm, sizeof *w.xxh3);
    w.offset = hr_calloc(nm, sizeof *w.offset);
    w.scount = hr_calloc((size_t)w.P, sizeof *w.scount);
    w.rcount = hr_calloc((size_t)w.P, sizeof *w.rcount);
    w.pk = hr_packer_create();
    assign_writers(&w);
    /* pass 0: sizes and checksums, summed (each member has exactly one packer) */
    HR_CHECK(run_pass(&w));
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, w.stored, w.L.members));
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, w.raw, w.L.members));
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, w.xxh3, w.L.members));
    uint64_t mlen = 0;
    if (job->rank == 0) {
        text = hr_model_manifest_text(hdr, info, &w.L, w.stored, w.raw, w.xxh3, w.mtime, &tlen);
        if (!text) rc = hr_error_set(&job->err, HR_ERR_NOMEM, "%s: cannot serialise the model manifest", path);
        mlen = tlen;
        hr_file_discard(tmp);
    }
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    HR_CHECK(hr_comm_bcast(job->comm, &mlen, sizeof mlen, 0));
    /* where everything goes: the manifest member, then the members in order, then the marker */
    uint64_t at = hr_tar_span(mlen);
    for (uint64_t j = 0; j < w.L.members; j++) {
        w.offset[j] = at;
        at += hr_tar_span(w.stored[j]);
    }
    const uint64_t total = at + 2 * HR_TAR_BLOCK;
    rc = hr_pfile_create(job->comm, tmp, &w.f, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        w.f = NULL;   /* a rank that opened it closes it below */
        goto fail;
    }
    if (job->rank == 0) {
        const unsigned char *piece;
        size_t plen;
        uint64_t h;
        static const unsigned char zeros[2 * HR_TAR_BLOCK];
        rc = hr_packer_plain(w.pk, text, tlen, HR_BUNDLE_MANIFEST, w.mtime, &piece, &plen, &h, &job->err);
        if (rc == 0) rc = hr_pfile_write(w.f, 0, piece, plen, &job->err);
        if (rc == 0) rc = hr_pfile_write(w.f, at, zeros, sizeof zeros, &job->err);
    }
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    w.pass = 1;
    HR_CHECK(run_pass(&w));
    hr_pfile *f = w.f;
    w.f = NULL;
    rc = hr_pfile_close(f, total, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0 && job->rank == 0) rc = hr_file_install(tmp, path, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) goto fail;
    if (stats) {
        stats->bytes = total;
        stats->members = w.L.members;
        stats->members_local = w.local;
        stats->seconds = hr_now() - t0;
    }
    free(text);
    mw_free(&w);
    return 0;
fail:
    /* collective on every path that reaches here: all ranks agreed on rc */
    hr_pfile_abort(w.f);
    if (job->rank == 0) hr_file_discard(tmp);
    free(text);
    mw_free(&w);
    return rc;
}
