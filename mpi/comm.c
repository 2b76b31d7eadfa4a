#include "mpi/comm_world.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"

struct hr_comm {
    MPI_Comm comm;
    int rank, size;
    uint64_t bytes_sent;
    uint64_t limit;   /* largest count in one MPI call (INT_MAX; lowered by tests) */
};

static hr_comm *abort_comm; /* for the out-of-memory hook */

static void oom_abort(void) { MPI_Abort(abort_comm ? abort_comm->comm : MPI_COMM_WORLD, 70); }

int hr_comm_rank(const hr_comm *c) { return c->rank; }
int hr_comm_size(const hr_comm *c) { return c->size; }
uint64_t hr_comm_bytes_sent(const hr_comm *c) { return c->bytes_sent; }
void hr_comm_reset_bytes(hr_comm *c) { c->bytes_sent = 0; }
MPI_Comm hr_comm_raw(const hr_comm *c) { return c->comm; }

#define MPI_OK(call)                                                   \
    do {                                                               \
        int mpi_rc_ = (call);                                          \
        if (mpi_rc_ != MPI_SUCCESS) return mpi_fail(#call, mpi_rc_);   \
    } while (0)

static int mpi_fail(const char *what, int code)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, s, &len);
    hr_log_error("%s failed: %s", what, s);
    return HR_ERR_MPI;
}

int hr_comm_create(MPI_Comm comm, hr_comm **out, hr_error *err)
{
    hr_comm *c = hr_calloc(1, sizeof *c);
    if (MPI_Comm_dup(comm, &c->comm) != MPI_SUCCESS) {
        hr_free(c);
        return hr_error_set(err, HR_ERR_MPI, "MPI_Comm_dup failed");
    }
    /* Errors come back as codes so we can report them; the default aborts silently. */
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    c->limit = (uint64_t)INT_MAX;
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    *out = c;
    return 0;
}

int hr_comm_init_world(int *argc, char ***argv, hr_comm **out)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "hpcrec: MPI_Init failed\n");
        return HR_ERR_MPI;
    }
    int rc = hr_comm_create(MPI_COMM_WORLD, out, NULL);
    if (rc < 0) return rc;
    abort_comm = *out;
    hr_log_init((*out)->rank, (*out)->size);
    hr_alloc_set_rank((*out)->rank);
    hr_alloc_set_fatal_hook(oom_abort);
    return 0;
}

void hr_comm_free(hr_comm *c)
{
    if (!c) return;
    if (abort_comm == c) abort_comm = NULL;
    MPI_Comm_free(&c->comm);
    hr_free(c);
}

void hr_comm_finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

void hr_comm_abort(hr_comm *c, int exit_code)
{
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(c ? c->comm : MPI_COMM_WORLD, exit_code);
    _exit(exit_code);
}

void hr_comm_set_count_limit(hr_comm *c, uint64_t limit) { c->limit = limit < 1 ? 1 : limit > (uint64_t)INT_MAX ? (uint64_t)INT_MAX : limit; }

int hr_comm_barrier(hr_comm *c)
{
    MPI_OK(MPI_Barrier(c->comm));
    return 0;
}

int hr_comm_agree(hr_comm *c, int status, hr_error *err)
{
    /* Lowest failing rank wins, so the message is deterministic. */
    int mine = status < 0 ? c->rank : c->size, first = c->size;
    MPI_OK(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->comm));
    if (first == c->size) return 0;
    struct { int code; char msg[sizeof err->msg]; } buf;
    memset(&buf, 0, sizeof buf);
    if (c->rank == first) {
        buf.code = status;
        if (err) memcpy(buf.msg, err->msg, sizeof buf.msg);
        else snprintf(buf.msg, sizeof buf.msg, "%s", hr_strerror(status));
    }
    MPI_OK(MPI_Bcast(&buf, sizeof buf, MPI_BYTE, first, c->comm));
    /* Other ranks learn which rank failed; the failing rank's own text stays as it was, so a
     * second agreement on the same error adds nothing. */
    if (err && c->rank != first) {
        err->code = buf.code;
        if (strncmp(buf.msg, "[rank ", 6) == 0) memcpy(err->msg, buf.msg, sizeof err->msg);
        else snprintf(err->msg, sizeof err->msg, "[rank %d] %s", first, buf.msg);
    }
    return buf.code < 0 ? buf.code : HR_ERR_REMOTE;
}

/* Reductions: chunked so that counts stay below INT_MAX. */
static int allreduce(hr_comm *c, void *buf, size_t n, MPI_Datatype t, size_t esz, MPI_Op op)
{
    char *p = buf;
    while (n > 0) {
        int k = n > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)n;
        MPI_OK(MPI_Allreduce(MPI_IN_PLACE, p, k, t, op, c->comm));
        if (c->size > 1) c->bytes_sent += (uint64_t)k * esz;   /* one rank sends nothing */
        p += (size_t)k * esz;
        n -= (size_t)k;
    }
    return 0;
}

int hr_comm_allreduce_sum_u64(hr_comm *c, uint64_t *b, size_t n) { return allreduce(c, b, n, MPI_UINT64_T, 8, MPI_SUM); }
int hr_comm_allreduce_sum_i64(hr_comm *c, int64_t *b, size_t n) { return allreduce(c, b, n, MPI_INT64_T, 8, MPI_SUM); }
int hr_comm_allreduce_sum_f64(hr_comm *c, double *b, size_t n) { return allreduce(c, b, n, MPI_DOUBLE, 8, MPI_SUM); }
int hr_comm_allreduce_sum_f32(hr_comm *c, float *b, size_t n) { return allreduce(c, b, n, MPI_FLOAT, 4, MPI_SUM); }
int hr_comm_allreduce_max_u64(hr_comm *c, uint64_t *b, size_t n) { return allreduce(c, b, n, MPI_UINT64_T, 8, MPI_MAX); }
int hr_comm_allreduce_max_i64(hr_comm *c, int64_t *b, size_t n) { return allreduce(c, b, n, MPI_INT64_T, 8, MPI_MAX); }
int hr_comm_allreduce_min_i64(hr_comm *c, int64_t *b, size_t n) { return allreduce(c, b, n, MPI_INT64_T, 8, MPI_MIN); }
int hr_comm_allreduce_max_f64(hr_comm *c, double *b, size_t n) { return allreduce(c, b, n, MPI_DOUBLE, 8, MPI_MAX); }
int hr_comm_allreduce_min_f64(hr_comm *c, double *b, size_t n) { return allreduce(c, b, n, MPI_DOUBLE, 8, MPI_MIN); }

int hr_comm_exscan_sum_u64(hr_comm *c, uint64_t v, uint64_t *out)
{
    uint64_t r = 0;
    MPI_OK(MPI_Exscan(&v, &r, 1, MPI_UINT64_T, MPI_SUM, c->comm));
    *out = c->rank == 0 ? 0 : r;
    return 0;
}

int hr_comm_bcast(hr_comm *c, void *buf, size_t bytes, int root)
{
    char *p = buf;
    while (bytes > 0) {
        int k = bytes > c->limit ? (int)c->limit : (int)bytes;
        MPI_OK(MPI_Bcast(p, k, MPI_BYTE, root, c->comm));
        if (c->rank == root) c->bytes_sent += (uint64_t)k * (uint64_t)(c->size - 1);
        p += k;
        bytes -= (size_t)k;
    }
    return 0;
}

int hr_comm_allgather_u64(hr_comm *c, uint64_t v, uint64_t *out)
{
    MPI_OK(MPI_Allgather(&v, 1, MPI_UINT64_T, out, 1, MPI_UINT64_T, c->comm));
    c->bytes_sent += 8u * (uint64_t)(c->size - 1);
    return 0;
}

/* Variable exchanges use a contiguous datatype of the element size so that counts are in
 * elements.  When a count or displacement would still exceed INT_MAX, the exchange runs in
 * rounds of point-to-point messages of at most CHUNK elements per peer; almost every call
 * takes the single MPI_Alltoallv path. */
#define CHUNK ((uint64_t)1 << 28)

static int make_type(size_t elem_size, MPI_Datatype *t)
{
    MPI_OK(MPI_Type_contiguous((int)elem_size, MPI_BYTE, t));
    MPI_OK(MPI_Type_commit(t));
    return 0;
}

int hr_comm_alltoallv_into(hr_comm *c, const void *send, const uint64_t *sendcounts,
                           void *recv, const uint64_t *recvcounts, size_t elem_size)
{
    int P = c->size, rc = 0;
    MPI_Datatype t;
    HR_TRY(make_type(elem_size, &t));
    int *sc = hr_malloc(4 * sizeof(int) * (size_t)P), *sd = sc + P, *rcn = sd + P, *rd = rcn + P;
    uint64_t *soff = hr_malloc(2 * sizeof(uint64_t) * (size_t)P), *roff = soff + P;
    uint64_t s = 0, r = 0, m[2] = { 0, 0 };   /* largest per-peer count, larger total */
    for (int d = 0; d < P; d++) {
        soff[d] = s; s += sendcounts[d];
        roff[d] = r; r += recvcounts[d];
        if (sendcounts[d] > m[0]) m[0] = sendcounts[d];
        if (recvcounts[d] > m[0]) m[0] = recvcounts[d];
    }
    m[1] = s > r ? s : r;
    /* The protocol is chosen from the maxima over every rank, never from this rank's own
     * sizes: one rank in MPI_Alltoallv and another in point-to-point rounds wait for each
     * other forever. */
    if (MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_UINT64_T, MPI_MAX, c->comm) != MPI_SUCCESS) rc = HR_ERR_MPI;
    const uint64_t chunk = CHUNK < c->limit ? CHUNK : c->limit;
    uint64_t rounds = m[0] == 0 ? 0 : (m[0] + chunk - 1) / chunk;
    if (rc == 0 && m[1] < c->limit) {   /* every count and displacement of every rank fits */
        for (int d = 0; d < P; d++) {
            sc[d] = (int)sendcounts[d]; sd[d] = (int)soff[d];
            rcn[d] = (int)recvcounts[d]; rd[d] = (int)roff[d];
        }
        if (rounds > 0) {
            int e = MPI_Alltoallv(send, sc, sd, t, recv, rcn, rd, t, c->comm);
            if (e != MPI_SUCCESS) rc = mpi_fail("MPI_Alltoallv", e);
        }
    } else if (rc == 0) {
        /* Round-based: per round, point-to-point pieces of at most `chunk` elements per peer
         * (no P*CHUNK staging buffer); every rank runs the same number of rounds. */
        MPI_Request *req = hr_malloc(2 * sizeof(MPI_Request) * (size_t)P);
        for (uint64_t k = 0; k < rounds && rc == 0; k++) {
            int nreq = 0;
            uint64_t lo = k * chunk;
            for (int d = 0; d < P; d++)
                if (recvcounts[d] > lo) {
                    uint64_t n = recvcounts[d] - lo < chunk ? recvcounts[d] - lo : chunk;
                    MPI_Irecv((char *)recv + (roff[d] + lo) * elem_size, (int)n, t, d, 77, c->comm, &req[nreq++]);
                }
            for (int d = 0; d < P; d++)
                if (sendcounts[d] > lo) {
                    uint64_t n = sendcounts[d] - lo < chunk ? sendcounts[d] - lo : chunk;
                    MPI_Isend((const char *)send + (soff[d] + lo) * elem_size, (int)n, t, d, 77, c->comm, &req[nreq++]);
                }
            int e = MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
            if (e != MPI_SUCCESS) rc = mpi_fail("MPI_Waitall", e);
        }
        hr_free(req);
    }
    for (int d = 0; d < P; d++)
        if (d != c->rank) c->bytes_sent += sendcounts[d] * elem_size;
    MPI_Type_free(&t);
    hr_free(sc);
    hr_free(soff);
    return rc;
}

int hr_comm_alltoallv(hr_comm *c, const void *send, const uint64_t *sendcounts, size_t elem_size,
                      void **recv, uint64_t *recvcounts, uint64_t *nrecv)
{
    MPI_OK(MPI_Alltoall(sendcounts, 1, MPI_UINT64_T, recvcounts, 1, MPI_UINT64_T, c->comm));
    uint64_t n = 0;
    for (int s = 0; s < c->size; s++) n += recvcounts[s];
    void *buf = hr_try_malloc(n * elem_size);
    int ok = buf ? 0 : HR_ERR_NOMEM;
    hr_error e;
    if (!buf) hr_error_set(&e, HR_ERR_NOMEM, "cannot allocate %llu bytes for an all-to-all exchange",
                           (unsigned long long)(n * elem_size));
    int rc = hr_comm_agree(c, ok, &e);
    if (rc < 0) {
        hr_free(buf);
        hr_log_error("%s", e.msg);
        return rc;
    }
    rc = hr_comm_alltoallv_into(c, send, sendcounts, buf, recvcounts, elem_size);
    if (rc < 0) {
        hr_free(buf);
        return rc;
    }
    *recv = buf;
    *nrecv = n;
    return 0;
}

int hr_comm_allgatherv_into(hr_comm *c, const void *send, uint64_t n, void *recv,
                            const uint64_t *counts, size_t elem_size)
{
    int P = c->size, rc = 0;
    uint64_t total = 0;
    for (int r = 0; r < P; r++) total += counts[r];
    if (total < c->limit) {   /* counts are [global]: every rank takes the same branch */
        MPI_Datatype t;
        HR_TRY(make_type(elem_size, &t));
        int *cn = hr_malloc(2 * sizeof(int) * (size_t)P), *dp = cn + P;
        uint64_t off = 0;
        for (int r = 0; r < P; r++) { cn[r] = (int)counts[r]; dp[r] = (int)off; off += counts[r]; }
        int m = MPI_Allgatherv(send, (int)n, t, recv, cn, dp, t, c->comm);
        if (m != MPI_SUCCESS) rc = mpi_fail("MPI_Allgatherv", m);
        hr_free(cn);
        MPI_Type_free(&t);
    } else {
        /* Huge: one broadcast per rank (each below the chunked bcast limit). */
        uint64_t off = 0;
        for (int r = 0; r < P && rc == 0; r++) {
            if (r == c->rank) memcpy((char *)recv + off * elem_size, send, n * elem_size);
            rc = hr_comm_bcast(c, (char *)recv + off * elem_size, counts[r] * elem_size, r);
            off += counts[r];
        }
        return rc;
    }
    c->bytes_sent += n * elem_size * (uint64_t)(P - 1);
    return rc;
}

int hr_comm_allgatherv(hr_comm *c, const void *send, uint64_t n, size_t elem_size,
                       void **recv, uint64_t *counts, uint64_t *ntotal)
{
    HR_TRY(hr_comm_allgather_u64(c, n, counts));
    uint64_t total = 0;
    for (int r = 0; r < c->size; r++) total += counts[r];
    void *buf = hr_malloc(total * elem_size);
    int rc = hr_comm_allgatherv_into(c, send, n, buf, counts, elem_size);
    if (rc < 0) {
        hr_free(buf);
        return rc;
    }
    *recv = buf;
    *ntotal = total;
    return 0;
}

int hr_comm_ring_shift(hr_comm *c, const void *send, uint64_t bytes, void *recv, uint64_t cap, uint64_t *got)
{
    int next = (c->rank + 1) % c->size, prev = (c->rank + c->size - 1) % c->size;
    uint64_t in = 0;
    MPI_OK(MPI_Sendrecv(&bytes, 1, MPI_UINT64_T, next, 91, &in, 1, MPI_UINT64_T, prev, 91, c->comm, MPI_STATUS_IGNORE));
    /* Agree before the payload: the largest block anywhere fixes the number of chunks (a rank
     * that looped fewer times than its neighbour would leave it waiting), and a receive buffer
     * too small on one rank stops every rank here instead of leaving the others blocked. */
    uint64_t m[2] = { bytes > in ? bytes : in, in > cap };
    if (in > cap)
        hr_log_error("ring shift: %llu bytes arrive, buffer holds %llu", (unsigned long long)in, (unsigned long long)cap);
    MPI_OK(MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_UINT64_T, MPI_MAX, c->comm));
    if (m[1]) return HR_ERR_STATE;
    const uint64_t steps = (m[0] + c->limit - 1) / c->limit;
    uint64_t off_s = 0, off_r = 0;
    for (uint64_t k = 0; k < steps; k++) {   /* pieces may be empty: the counts still pair up */
        int ks = bytes - off_s > c->limit ? (int)c->limit : (int)(bytes - off_s);
        int kr = in - off_r > c->limit ? (int)c->limit : (int)(in - off_r);
        MPI_OK(MPI_Sendrecv((const char *)send + off_s, ks, MPI_BYTE, next, 92, (char *)recv + off_r, kr, MPI_BYTE, prev, 92,
                            c->comm, MPI_STATUS_IGNORE));
        off_s += (uint64_t)ks;
        off_r += (uint64_t)kr;
    }
    c->bytes_sent += bytes;
    *got = in;
    return 0;
}

int hr_comm_pair_swap(hr_comm *c, void *buf, uint64_t out, uint64_t in)
{
    if (c->size != 2) return HR_ERR_STATE;
    int peer = 1 - c->rank;
    /* pieces of 1 MiB: small enough to stay in cache on the way through the bounce buffer */
    uint64_t piece = c->limit < ((uint64_t)1 << 20) ? c->limit : ((uint64_t)1 << 20);
    uint64_t most = out > in ? out : in;
    char *bounce = hr_malloc(piece), *b = buf;
    for (uint64_t off = 0; off < most; off += piece) {   /* both ranks loop max(out, in) / piece times */
        int ks = out > off ? (int)(out - off < piece ? out - off : piece) : 0;
        int kr = in > off ? (int)(in - off < piece ? in - off : piece) : 0;
        int e = MPI_Sendrecv(b + off, ks, MPI_BYTE, peer, 93, bounce, kr, MPI_BYTE, peer, 93, c->comm, MPI_STATUS_IGNORE);
        if (e != MPI_SUCCESS) {
            hr_free(bounce);
            MPI_OK(e);
        }
        memcpy(b + off, bounce, (size_t)kr);
    }
    hr_free(bounce);
    c->bytes_sent += out;
    return 0;
}

int hr_comm_gatherv(hr_comm *c, const void *send, uint64_t n, size_t elem_size, int root, void **recv,
                    uint64_t *counts, uint64_t *ntotal)
{
    /* Every rank learns every count, so all take the same path: MPI_Gatherv when every count
     * and displacement fits, else point-to-point pieces to the root. */
    MPI_OK(MPI_Allgather(&n, 1, MPI_UINT64_T, counts, 1, MPI_UINT64_T, c->comm));
    MPI_Datatype t;
    HR_TRY(make_type(elem_size, &t));
    int P = c->size, rc = 0;
    uint64_t total = 0;
    for (int r = 0; r < P; r++) total += counts[r];
    void *buf = c->rank == root ? hr_malloc(total ? total * elem_size : 1) : NULL;
    if (total < c->limit) {
        int *cn = NULL, *dp = NULL;
        if (c->rank == root) {
            cn = hr_malloc(2 * sizeof(int) * (size_t)P);
            dp = cn + P;
            uint64_t off = 0;
            for (int r = 0; r < P; r++) {
                cn[r] = (int)counts[r];
                dp[r] = (int)off;
                off += counts[r];
            }
        }
        int e = MPI_Gatherv(send, (int)n, t, buf, cn, dp, t, root, c->comm);
        if (e != MPI_SUCCESS) rc = mpi_fail("MPI_Gatherv", e);
        hr_free(cn);
    } else if (c->rank == root) {
        uint64_t off = 0;
        for (int r = 0; r < P && rc == 0; r++) {
            char *dst = (char *)buf + off * elem_size;
            if (r == root) memcpy(dst, send, n * elem_size);
            for (uint64_t k = 0; r != root && k < counts[r] && rc == 0; k += c->limit) {
                uint64_t m = counts[r] - k < c->limit ? counts[r] - k : c->limit;
                int e = MPI_Recv(dst + k * elem_size, (int)m, t, r, 93, c->comm, MPI_STATUS_IGNORE);
                if (e != MPI_SUCCESS) rc = mpi_fail("MPI_Recv", e);
            }
            off += counts[r];
        }
    } else {
        for (uint64_t k = 0; k < n && rc == 0; k += c->limit) {
            uint64_t m = n - k < c->limit ? n - k : c->limit;
            int e = MPI_Send((const char *)send + k * elem_size, (int)m, t, root, 93, c->comm);
            if (e != MPI_SUCCESS) rc = mpi_fail("MPI_Send", e);
        }
    }
    if (c->rank != root) c->bytes_sent += n * elem_size;
    MPI_Type_free(&t);
    if (rc < 0) {
        hr_free(buf);
        return rc;
    }
    *recv = buf;
    if (ntotal) *ntotal = c->rank == root ? total : 0;
    return 0;
}

int hr_comm_alltoall_u64(hr_comm *c, const uint64_t *send, uint64_t *recv)
{
    MPI_OK(MPI_Alltoall(send, 1, MPI_UINT64_T, recv, 1, MPI_UINT64_T, c->comm));
    c->bytes_sent += 8u * (uint64_t)(c->size - 1);
    return 0;
}

int hr_comm_gatherv_into(hr_comm *c, const void *send, uint64_t n, size_t elem_size, int root, void *recv,
                         const uint64_t *counts)
{
    int P = c->size, rc = 0;
    MPI_Datatype t;
    HR_TRY(make_type(elem_size, &t));
    int *cn = NULL, *dp = NULL;
    if (c->rank == root) {
        cn = hr_malloc(2 * sizeof(int) * (size_t)P);
        dp = cn + P;
        uint64_t total = 0;
        for (int r = 0; r < P; r++) {
            if (counts[r] > (uint64_t)INT_MAX || total > (uint64_t)INT_MAX) rc = HR_ERR_ARG;
            cn[r] = (int)counts[r];
            dp[r] = (int)total;
            total += counts[r];
        }
    }
    if (n > (uint64_t)INT_MAX) rc = HR_ERR_ARG;
    /* a bad count on one rank must not leave the others in the gather */
    int64_t bad = rc < 0;
    HR_TRY(hr_comm_allreduce_max_i64(c, &bad, 1));
    if (bad) {
        rc = HR_ERR_ARG;
        hr_log_error("gatherv: a block exceeds %d elements", INT_MAX);
    } else {
        int m = MPI_Gatherv(send, (int)n, t, recv, cn, dp, t, root, c->comm);
        if (m != MPI_SUCCESS) rc = mpi_fail("MPI_Gatherv", m);
    }
    if (c->rank != root) c->bytes_sent += n * elem_size;
    MPI_Type_free(&t);
    hr_free(cn);
    return rc;
}

int hr_comm_node_sum_u64(hr_comm *c, uint64_t v, uint64_t *sum, int *nlocal)
{
    MPI_Comm node;
    MPI_OK(MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node));
    int rc = 0, m = MPI_Allreduce(&v, sum, 1, MPI_UINT64_T, MPI_SUM, node);
    if (m != MPI_SUCCESS) rc = mpi_fail("MPI_Allreduce", m);
    if (rc == 0) MPI_Comm_size(node, nlocal);
    MPI_Comm_free(&node);
    return rc;
}
