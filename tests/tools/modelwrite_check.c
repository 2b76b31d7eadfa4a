/* tests/tools/modelwrite_check.c — writes one fixed model through the collective writer
 * (jobs/modelwrite.h) from however many ranks it runs on, so tests/mpi/test_modelwrite.sh can
 * compare the bytes across rank counts and with the single-process hr_model_save.
 *
 *   mpirun -np P modelwrite_check OUT.tar [--hash] [--serial SERIAL.tar] [--nan]
 * The model: 300000 integer user ids (five dictionary members), 5000 string item ids, k = 8
 * (32768 rows per member: ten user-factor members), user and item biases; every value a function of (array, row,
 * column) only; a content map of 3000 features (content.dict, content_idf.f32, content_map.f32:
 * whole on every rank, packed by the ranks in turn).  Rows are spread over the ranks by the balanced partition (random weights), or
 * by the hash partition with --hash (every member's rows then come from every rank).  --serial
 * also writes the whole model from rank 0 with hr_model_save; --nan puts a NaN in one user row
 * (the writer must refuse).  Set SOURCE_DATE_EPOCH for reproducible bytes.  Exit 0 on success,
 * 3 (data) or 1 with the error on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/model.h"
#include "jobs/job.h"
#include "jobs/modelwrite.h"
#include "mpi/comm.h"

enum { NU = 300000, NI = 5000, K = 8, NF = 3000 };

static float value(int array, uint64_t row, uint64_t col)
{
    uint64_t h = hr_mix64((uint64_t)array * 0x9e3779b97f4a7c15ull ^ (row << 8) ^ col);
    return (float)((double)(h >> 40) / (double)(1u << 24) - 0.5);
}

static float *owned_rows(const hr_part *p, int rank, int array, int width, uint64_t bad_row)
{
    uint32_t *gids = hr_part_owned(p, rank);
    uint64_t n = p->rows[rank];
    float *a = hr_malloc((n ? n : 1) * (size_t)width * sizeof *a);
    for (uint64_t r = 0; r < n; r++)
        for (int c = 0; c < width; c++)
            a[r * (uint64_t)width + (uint64_t)c] = gids[r] == bad_row && c == 1 ? NAN : value(array, gids[r], (uint64_t)c);
    hr_free(gids);
    return a;
}

static float *whole_rows(uint64_t n, int array, int width)
{
    float *a = hr_malloc(n * (size_t)width * sizeof *a);
    for (uint64_t r = 0; r < n; r++)
        for (int c = 0; c < width; c++) a[r * (uint64_t)width + (uint64_t)c] = value(array, r, (uint64_t)c);
    return a;
}

static void dicts(hr_dict *u, hr_dict *i)
{
    memset(u, 0, sizeof *u);
    memset(i, 0, sizeof *i);
    u->is_int = 1;
    u->n = NU;
    u->ints = hr_malloc(NU * sizeof *u->ints);
    u->nnz = hr_malloc(NU * sizeof *u->nnz);
    for (uint64_t g = 0; g < NU; g++) {
        u->ints[g] = (int64_t)g * 3 - 1000;
        u->nnz[g] = g % 11;
    }
    i->n = NI;
    i->offs = hr_malloc((NI + 1) * sizeof *i->offs);
    i->bytes = hr_malloc(NI * 8 + 1);
    i->nnz = hr_malloc(NI * sizeof *i->nnz);
    i->offs[0] = 0;
    for (uint64_t g = 0; g < NI; g++) {
        i->offs[g + 1] = i->offs[g] + (uint64_t)snprintf(i->bytes + i->offs[g], 9, "i%06llu", (unsigned long long)g);
        i->nnz[g] = g % 5;
    }
}

int main(int argc, char **argv)
{
    hr_comm *comm;
    if (hr_comm_init_world(&argc, &argv, &comm) != 0) return 1;
    hr_job job;
    hr_job_init(&job, comm, "modelwrite_check");
    const char *out = argc > 1 ? argv[1] : NULL, *serial = NULL;
    int hash = 0;
    uint64_t bad = UINT64_MAX;
    for (int a = 2; a < argc; a++) {
        if (!strcmp(argv[a], "--hash")) hash = 1;
        else if (!strcmp(argv[a], "--nan")) bad = 12345;
        else if (!strcmp(argv[a], "--serial") && a + 1 < argc) serial = argv[++a];
    }
    if (!out) {
        fprintf(stderr, "usage: modelwrite_check OUT.tar [--hash] [--serial SERIAL.tar] [--nan]\n");
        hr_comm_abort(comm, 2);
    }
    hr_model hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.kind = HR_MODEL_FACTOR;
    snprintf(hdr.algo, sizeof hdr.algo, "als");
    hdr.k = K;
    hdr.n_users = NU;
    hdr.n_items = NI;
    hdr.global_mean = 3.25f;
    dicts(&hdr.users, &hdr.items);
    /* the content map: tokens "0:fNNNNN" (ascending), IDF, (NF + 1) x (K + 1) weights */
    hr_dict *cd = &hdr.content_tokens;
    cd->n = NF;
    cd->offs = hr_malloc((NF + 1) * sizeof *cd->offs);
    cd->bytes = hr_malloc(NF * 9 + 1);
    cd->offs[0] = 0;
    for (uint64_t t = 0; t < NF; t++)
        cd->offs[t + 1] = cd->offs[t] + (uint64_t)snprintf(cd->bytes + cd->offs[t], 10, "0:f%05llu", (unsigned long long)t);
    hdr.content_nf = NF;
    hdr.content_width = K + 1;
    hdr.content_idf = whole_rows(NF, 4, 1);
    hdr.content_map = whole_rows(NF + 1, 5, K + 1);
    /* weights that make the balanced cut points fall mid-member */
    uint64_t *wu = hr_malloc(NU * sizeof *wu), *wi = hr_malloc(NI * sizeof *wi);
    for (uint64_t g = 0; g < NU; g++) wu[g] = 1 + hr_mix64(g) % 7;
    for (uint64_t g = 0; g < NI; g++) wi[g] = 1 + hr_mix64(g + NU) % 3;
    hr_part up, ip;
    hr_part_build(&up, hash ? HR_PART_HASH : HR_PART_BALANCED, job.size, NU, wu);
    hr_part_build(&ip, hash ? HR_PART_HASH : HR_PART_BALANCED, job.size, NI, wi);
    float *uf = owned_rows(&up, job.rank, 0, K, bad), *itf = owned_rows(&ip, job.rank, 1, K, UINT64_MAX);
    float *ub = owned_rows(&up, job.rank, 2, 1, UINT64_MAX), *ib = owned_rows(&ip, job.rank, 3, 1, UINT64_MAX);
    hr_model_src src;
    memset(&src, 0, sizeof src);
    src.users = &hdr.users;
    src.items = &hdr.items;
    src.user_factors = (hr_rows_src){ &up, uf, NULL, NULL };
    src.item_factors = (hr_rows_src){ &ip, itf, NULL, NULL };
    src.user_bias = (hr_rows_src){ &up, ub, NULL, NULL };
    src.item_bias = (hr_rows_src){ &ip, ib, NULL, NULL };
    hdr.partial = 1;
    json_t *info = json_pack("{s:s}", "note", "modelwrite_check");
    hr_model_write_stats st;
    int rc = hr_model_write(&job, out, &hdr, &src, info, &st);
    if (rc == 0 && job.rank == 0)
        printf("wrote %s: %llu bytes, %llu members, rank 0 packed %llu\n", out, (unsigned long long)st.bytes,
               (unsigned long long)st.members, (unsigned long long)st.members_local);
    if (rc == 0 && serial && job.rank == 0) {
        hr_model whole = hdr;
        whole.partial = 0;
        whole.user_factors = whole_rows(NU, 0, K);
        whole.item_factors = whole_rows(NI, 1, K);
        whole.user_bias = whole_rows(NU, 2, 1);
        whole.item_bias = whole_rows(NI, 3, 1);
        rc = hr_model_save(serial, &whole, info, &job.err);
        hr_free(whole.user_factors);
        hr_free(whole.item_factors);
        hr_free(whole.user_bias);
        hr_free(whole.item_bias);
    }
    rc = hr_comm_agree(comm, rc, &job.err);
    if (rc < 0 && job.rank == 0) fprintf(stderr, "modelwrite_check: %s\n", job.err.msg);
    json_decref(info);
    hr_free(uf);
    hr_free(itf);
    hr_free(ub);
    hr_free(ib);
    hr_free(wu);
    hr_free(wi);
    hr_part_free(&up);
    hr_part_free(&ip);
    hr_dict_free(&hdr.users);
    hr_dict_free(&hdr.items);
    hr_dict_free(&hdr.content_tokens);
    hr_free(hdr.content_idf);
    hr_free(hdr.content_map);
    hr_job_free(&job);
    hr_comm_free(comm);
    hr_comm_finalize();
    return rc == 0 ? 0 : rc == HR_ERR_NUMERIC || rc == HR_ERR_FORMAT ? 3 : 1;
}
