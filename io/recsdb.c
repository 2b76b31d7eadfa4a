#include "io/recsdb.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/recsread.h"
#include "partition/dict.h"

/* Rows per INSERT: one statement step per BATCH rows amortises SQLite's per-statement work
 * (the VDBE program's start and halt, the reset), about a third of the load's time. */
#define BATCH 64
/* Rows per chunk handed from the reading thread to the inserting one (a multiple of BATCH),
 * and chunks in flight: the reader runs at most NCHUNK - 1 chunks ahead. */
#define CHUNK_ROWS 8192
#define NCHUNK 4

/* A parsed row waiting for its batch: ids as integers or as text in the chunk's arena. */
typedef struct row {
    int64_t user, item, rank;
    uint32_t uoff, ulen, ioff, ilen, soff, slen;
    double score;
} row;

/* Parsed rows on their way from the reader to SQLite.  `end`: the last chunk (the reader
 * stopped: every part read, or an error in rc / err). */
typedef struct chunk {
    row rows[CHUNK_ROWS];
    int n, end, rc;
    char *arena;                       /* the rows' text ids and sources */
    size_t alen, acap;
    hr_error err;
} chunk;

struct hr_recsdb {
    sqlite3 *db;
    sqlite3_stmt *ins, *ins1, *meta;   /* ins: BATCH rows per statement; ins1: one row */
    char *path;
    int user_int, item_int;
    /* the reader thread's hand-over: chunk q % NCHUNK is filled for q < filled, consumed for
     * q < used; stop asks the reader to quit (SQLite failed) */
    chunk *ch;
    uint64_t filled, used;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* An SQLite failure as an hr_error naming the file; a full disk is HR_ERR_NOSPACE. */
static int db_error(hr_recsdb *d, int code, const char *what, hr_error *err)
{
    const char *msg = d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(code);
    if (code == SQLITE_FULL)
        return hr_error_set(err, HR_ERR_NOSPACE, "%s: %s: No space left on device (%s)", d->path, what, msg);
    return hr_error_set(err, HR_ERR_IO, "%s: %s: %s", d->path, what, msg);
}

static int exec(hr_recsdb *d, const char *sql, hr_error *err)
{
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_error(d, rc, sql, err);
}

static void free_chunks(hr_recsdb *d)
{
    for (int x = 0; d->ch && x < NCHUNK; x++) hr_free(d->ch[x].arena);
    hr_free(d->ch);
    d->ch = NULL;
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}

int hr_recsdb_create(const char *path, int user_int, int item_int, hr_recsdb **out, hr_error *err)
{
    hr_recsdb *d = hr_calloc(1, sizeof *d);
    d->path = hr_strdup(path);
    d->user_int = user_int;
    d->item_int = item_int;
    d->ch = hr_calloc(NCHUNK, sizeof *d->ch);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    unlink(path);
    /* One connection used by one thread: no per-call mutexes (Debian builds SQLite
     * serialized), no allocation statistics (a global mutex per malloc).  Both settings take
     * effect only before SQLite initialises, i.e. in the first export of the process. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    int rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(d, rc, "cannot create the database", err);
        hr_recsdb_abort(d);
        return rc;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE recommendations(user %s NOT NULL, rank INTEGER NOT NULL, item %s NOT NULL, score REAL NOT NULL, "
             "source TEXT NOT NULL);"
             "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);",
             user_int ? "INTEGER" : "TEXT", item_int ? "INTEGER" : "TEXT");
    /* Bulk-load settings: large pages (fewer B-tree nodes to split), no rollback journal and
     * no syncs while loading (the file is a temporary until renamed; hr_recsdb_finish
     * fsyncs it), the sorter for the index on worker threads. */
    rc = exec(d, "PRAGMA page_size=65536; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;"
                 "PRAGMA cache_size=-65536; PRAGMA threads=2;", err);
    if (rc == 0) rc = exec(d, "BEGIN", err);
    if (rc == 0) rc = exec(d, sql, err);
    char *multi = hr_malloc(64 + 12 * BATCH);
    strcpy(multi, "INSERT INTO recommendations VALUES(?,?,?,?,?)");
    for (int r = 1; r < BATCH; r++) strcat(multi, ",(?,?,?,?,?)");
    if (rc == 0 && sqlite3_prepare_v2(d->db, multi, -1, &d->ins, NULL) != SQLITE_OK)
        rc = db_error(d, sqlite3_errcode(d->db), "prepare insert", err);
    hr_free(multi);
    if (rc == 0 && sqlite3_prepare_v2(d->db, "INSERT INTO recommendations VALUES(?,?,?,?,?)", -1, &d->ins1, NULL) != SQLITE_OK)
        rc = db_error(d, sqlite3_errcode(d->db), "prepare insert", err);
    if (rc == 0 && sqlite3_prepare_v2(d->db, "INSERT INTO meta VALUES(?,?)", -1, &d->meta, NULL) != SQLITE_OK)
        rc = db_error(d, sqlite3_errcode(d->db), "prepare meta", err);
    if (rc < 0) {
        hr_recsdb_abort(d);
        return rc;
    }
    *out = d;
    return 0;
}


/* Parse an id field into chunk c: an integer column takes canonical integers only; text
 * goes to the chunk's arena. */
static int parse_id(chunk *c, int as_int, const char *s, size_t n, int64_t *v, uint32_t *off, uint32_t *len,
                    const char *what, const char *file, uint64_t line, hr_error *err)
{
    if (!as_int) {
        if (c->alen + n > c->acap) c->arena = hr_realloc(c->arena, c->acap = (c->alen + n) * 2 + 4096);
        memcpy(c->arena + c->alen, s, n);
        *off = (uint32_t)c->alen;
        *len = (uint32_t)n;
        c->alen += n;
        return 0;
    }
    if (!hr_dict_canonical_int(s, n, v))
        return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: %s '%.*s' is not an integer, but the recommendations' %s ids are", file,
                            (unsigned long long)line, what, (int)(n < 200 ? n : 200), s, what);
    return 0;
}

/* Bind row r of chunk c to statement st at parameter base + 1.. (texts: the chunk's arena,
 * valid until the chunk is handed back). */
static void bind_row(hr_recsdb *d, const chunk *c, sqlite3_stmt *st, int base, const row *r)
{
    if (d->user_int) sqlite3_bind_int64(st, base + 1, r->user);
    else sqlite3_bind_text(st, base + 1, c->arena + r->uoff, (int)r->ulen, SQLITE_STATIC);
    sqlite3_bind_int64(st, base + 2, r->rank);
    if (d->item_int) sqlite3_bind_int64(st, base + 3, r->item);
    else sqlite3_bind_text(st, base + 3, c->arena + r->ioff, (int)r->ilen, SQLITE_STATIC);
    sqlite3_bind_double(st, base + 4, r->score);
    sqlite3_bind_text(st, base + 5, c->arena + r->soff, (int)r->slen, SQLITE_STATIC);
}

/* Insert a chunk's rows: one step of the batch statement per BATCH rows, the rest row by row. */
static int insert_chunk(hr_recsdb *d, const chunk *c, hr_error *err)
{
    int rc = SQLITE_DONE, x = 0;
    for (; x + BATCH <= c->n && rc == SQLITE_DONE; x += BATCH) {
        for (int r = 0; r < BATCH; r++) bind_row(d, c, d->ins, 5 * r, &c->rows[x + r]);
        rc = sqlite3_step(d->ins);
        sqlite3_reset(d->ins);
    }
    for (; x < c->n && rc == SQLITE_DONE; x++) {
        bind_row(d, c, d->ins1, 0, &c->rows[x]);
        rc = sqlite3_step(d->ins1);
        sqlite3_reset(d->ins1);
    }
    return rc == SQLITE_DONE ? 0 : db_error(d, rc, "insert", err);
}

/* One data line into chunk c: user rank item score source. */
static int parse_line(const hr_recsdb *d, chunk *c, char *line, size_t len, const char *file, uint64_t lineno, hr_error *err)
{
    char *f[5], *end = line + len;
    size_t n[5];
    char *p = line;
    for (int k = 0; k < 5; k++) {
        char *t = k < 4 ? memchr(p, '\t', (size_t)(end - p)) : NULL;
        if (k < 4 && !t) return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: expected 5 tab-separated fields (user rank item score source)", file, (unsigned long long)lineno);
        if (k == 4 && memchr(p, '\t', (size_t)(end - p)))
            return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: more than 5 fields", file, (unsigned long long)lineno);
        f[k] = p;
        n[k] = (size_t)((k < 4 ? t : end) - p);
        p = k < 4 ? t + 1 : end;
    }
    row *r = &c->rows[c->n];
    if (!hr_dict_canonical_int(f[1], n[1], &r->rank) || r->rank < 1)
        return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: rank '%.*s' is not a positive integer", file, (unsigned long long)lineno,
                            (int)(n[1] < 40 ? n[1] : 40), f[1]);
    f[3][n[3]] = '\0';   /* the tab after the score; the line's own end is left alone */
    char *e;
    r->score = strtod(f[3], &e);
    if (n[3] == 0 || e != f[3] + n[3] || !isfinite(r->score))
        return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: score '%s' is not a finite number", file, (unsigned long long)lineno, f[3]);
    if (n[4] == 0) return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: empty source", file, (unsigned long long)lineno);
    int64_t unused;
    parse_id(c, 0, f[4], n[4], &unused, &r->soff, &r->slen, "source", file, lineno, err);
    HR_TRY(parse_id(c, d->user_int, f[0], n[0], &r->user, &r->uoff, &r->ulen, "user", file, lineno, err));
    HR_TRY(parse_id(c, d->item_int, f[2], n[2], &r->item, &r->ioff, &r->ilen, "item", file, lineno, err));
    c->n++;
    return 0;
}

/* ---- the reader thread: checksums, decompresses and parses the parts into chunks, while the
 * caller's thread inserts the chunks before (SQLite's work and the parsing take about the
 * same time per row, so the two overlap on two cores). */

typedef struct reader {
    hr_recsdb *d;
    int n;
    const hr_recsdb_part *parts;
    uint64_t *rows;      /* per part */
} reader;

/* The next free chunk (blocks while NCHUNK are in flight); NULL when asked to stop. */
static chunk *take_free(hr_recsdb *d)
{
    pthread_mutex_lock(&d->mu);
    while (d->filled - d->used >= NCHUNK && !d->stop) pthread_cond_wait(&d->cv, &d->mu);
    chunk *c = d->stop ? NULL : &d->ch[d->filled % NCHUNK];
    pthread_mutex_unlock(&d->mu);
    if (c) c->n = 0, c->alen = 0, c->end = 0, c->rc = 0;
    return c;
}

static void hand_over(hr_recsdb *d)
{
    pthread_mutex_lock(&d->mu);
    d->filled++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static int read_part(hr_recsdb *d, const hr_recsdb_part *pt, uint64_t *rows, chunk **cur, hr_error *err)
{
    hr_input *in;
    hr_lines *l;
    *rows = 0;
    HR_TRY(hr_recs_part_open(pt->path, pt->xxh3, pt->bytes, &in, &l, err));
    char *line;
    size_t len;
    uint64_t lineno = 1;
    int rc = 0;
    while (rc == 0 && (rc = hr_lines_next(l, &line, &len, err)) == 1) {
        lineno++;
        rc = 0;
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        rc = parse_line(d, *cur, line, len, pt->path, lineno, err);
        if (rc < 0) break;
        ++*rows;
        if ((*cur)->n == CHUNK_ROWS) {
            hand_over(d);
            if (!(*cur = take_free(d))) rc = HR_ERR_STATE;   /* the inserter stopped: its error stands */
        }
    }
    hr_lines_free(l);
    hr_input_close(in);
    return rc < 0 ? rc : 0;
}

static void *reader_main(void *arg)
{
    reader *a = arg;
    hr_recsdb *d = a->d;
    chunk *cur = take_free(d);
    hr_error err = { 0 };
    int rc = cur ? 0 : HR_ERR_STATE;
    for (int x = 0; x < a->n && rc == 0; x++) rc = read_part(d, &a->parts[x], &a->rows[x], &cur, &err);
    if (cur) {   /* the last chunk: the rows left and the outcome */
        cur->end = 1;
        cur->rc = rc;
        cur->err = err;
        hand_over(d);
    }
    return NULL;
}

int hr_recsdb_load_parts(hr_recsdb *d, int n, const hr_recsdb_part *parts, uint64_t *rows, hr_error *err)
{
    reader a = { d, n, parts, rows };
    for (int x = 0; x < n; x++) rows[x] = 0;
    d->filled = d->used = 0;
    d->stop = 0;
    pthread_t th;
    int prc = pthread_create(&th, NULL, reader_main, &a);
    if (prc != 0) return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot start the reading thread: %s", d->path, strerror(prc));
    int rc = 0;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (d->used == d->filled) pthread_cond_wait(&d->cv, &d->mu);
        pthread_mutex_unlock(&d->mu);
        chunk *c = &d->ch[d->used % NCHUNK];
        rc = insert_chunk(d, c, err);
        const int end = c->end;
        if (rc == 0 && end && c->rc < 0) {
            *err = c->err;
            rc = c->rc;
        }
        pthread_mutex_lock(&d->mu);
        d->used++;
        if (rc < 0) d->stop = 1;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        if (end || rc < 0) break;
    }
    pthread_join(th, NULL);
    return rc;
}

int hr_recsdb_load_part(hr_recsdb *d, const char *path, uint64_t xxh3, uint64_t bytes, uint64_t *rows, hr_error *err)
{
    const hr_recsdb_part p = { path, xxh3, bytes };
    return hr_recsdb_load_parts(d, 1, &p, rows, err);
}

int hr_recsdb_meta(hr_recsdb *d, const char *key, const char *value, hr_error *err)
{
    sqlite3_bind_text(d->meta, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(d->meta, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(d->meta);
    sqlite3_reset(d->meta);
    return rc == SQLITE_DONE ? 0 : db_error(d, rc, "meta", err);
}

/* The first (user, rank) that occurs twice, for the message. */
static void first_duplicate(hr_recsdb *d, char *buf, size_t cap)
{
    sqlite3_stmt *q;
    snprintf(buf, cap, "?");
    if (sqlite3_prepare_v2(d->db, "SELECT user, rank FROM recommendations GROUP BY user, rank HAVING count(*) > 1 LIMIT 1", -1, &q,
                           NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(q) == SQLITE_ROW)
        snprintf(buf, cap, "user %s rank %lld", (const char *)sqlite3_column_text(q, 0), (long long)sqlite3_column_int64(q, 1));
    sqlite3_finalize(q);
}

int hr_recsdb_finish(hr_recsdb *d, hr_error *err)
{
    int rc = sqlite3_exec(d->db, "CREATE UNIQUE INDEX recommendations_user_rank ON recommendations(user, rank)", NULL, NULL, NULL);
    if (rc == SQLITE_CONSTRAINT) {
        char pair[300];
        first_duplicate(d, pair, sizeof pair);
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: two recommendations for %s (a rank must occur once per user)", d->path, pair);
    } else if (rc != SQLITE_OK) {
        rc = db_error(d, rc, "creating the index on (user, rank)", err);
    }
    if (rc == 0) rc = exec(d, "COMMIT", err);

    if (rc < 0) {
        hr_recsdb_abort(d);
        return rc;
    }
    sqlite3_finalize(d->ins);
    sqlite3_finalize(d->ins1);
    sqlite3_finalize(d->meta);
    d->ins = d->ins1 = d->meta = NULL;
    int crc = sqlite3_close(d->db);
    d->db = NULL;
    if (crc != SQLITE_OK) rc = hr_error_set(err, HR_ERR_IO, "%s: closing the database failed: %s", d->path, sqlite3_errstr(crc));
    /* synchronous=OFF left the durability to us: the data reaches the disk before the rename */
    int fd = rc == 0 ? open(d->path, O_RDONLY) : -1;
    if (rc == 0 && (fd < 0 || fsync(fd) != 0))
        rc = hr_error_set(err, errno == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: fsync failed: %s", d->path, strerror(errno));
    if (fd >= 0) close(fd);
    if (rc < 0) {
        hr_recsdb_abort(d);
        return rc;
    }
    free_chunks(d);
    hr_free(d->path);
    hr_free(d);
    return 0;
}

void hr_recsdb_abort(hr_recsdb *d)
{
    if (!d) return;
    sqlite3_finalize(d->ins);
    sqlite3_finalize(d->ins1);
    sqlite3_finalize(d->meta);
    if (d->db) sqlite3_close(d->db);
    unlink(d->path);
    free_chunks(d);
    hr_free(d->path);
    hr_free(d);
}
