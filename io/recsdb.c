#include "io/recsdb.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/input.h"
#include "io/lines.h"
#include "partition/dict.h"

/* Rows per INSERT: one statement step per BATCH rows amortises SQLite's per-statement work
 * (the VDBE program's start and halt, the reset), about a third of the load's time. */
#define BATCH 64

/* A parsed row waiting for its batch: ids as integers or as text in the arena. */
typedef struct row {
    int64_t user, item, rank;
    uint32_t uoff, ulen, ioff, ilen, soff, slen;
    double score;
} row;

struct hr_recsdb {
    sqlite3 *db;
    sqlite3_stmt *ins, *ins1, *meta;   /* ins: BATCH rows per statement; ins1: one row */
    row rows[BATCH];                   /* parsed, not yet inserted */
    int pending;
    char *arena;                       /* their text ids */
    size_t alen, acap;
    char *path;
    int user_int, item_int;
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

int hr_recsdb_create(const char *path, int user_int, int item_int, hr_recsdb **out, hr_error *err)
{
    hr_recsdb *d = hr_calloc(1, sizeof *d);
    d->path = hr_strdup(path);
    d->user_int = user_int;
    d->item_int = item_int;
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


/* Parse an id field: an integer column takes canonical integers only. */
static int parse_id(hr_recsdb *d, int as_int, const char *s, size_t n, int64_t *v, uint32_t *off, uint32_t *len,
                    const char *what, const char *file, uint64_t line, hr_error *err)
{
    if (!as_int) {
        if (d->alen + n > d->acap) d->arena = hr_realloc(d->arena, d->acap = (d->alen + n) * 2 + 4096);
        memcpy(d->arena + d->alen, s, n);
        *off = (uint32_t)d->alen;
        *len = (uint32_t)n;
        d->alen += n;
        return 0;
    }
    if (!hr_dict_canonical_int(s, n, v))
        return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: %s '%.*s' is not an integer, but the recommendations' %s ids are", file,
                            (unsigned long long)line, what, (int)(n < 200 ? n : 200), s, what);
    return 0;
}

/* Bind pending row r to statement st at parameter base + 1.. (texts: the arena, valid
 * until the step). */
static void bind_row(hr_recsdb *d, sqlite3_stmt *st, int base, const row *r)
{
    if (d->user_int) sqlite3_bind_int64(st, base + 1, r->user);
    else sqlite3_bind_text(st, base + 1, d->arena + r->uoff, (int)r->ulen, SQLITE_STATIC);
    sqlite3_bind_int64(st, base + 2, r->rank);
    if (d->item_int) sqlite3_bind_int64(st, base + 3, r->item);
    else sqlite3_bind_text(st, base + 3, d->arena + r->ioff, (int)r->ilen, SQLITE_STATIC);
    sqlite3_bind_double(st, base + 4, r->score);
    sqlite3_bind_text(st, base + 5, d->arena + r->soff, (int)r->slen, SQLITE_STATIC);
}

/* Insert the pending rows: one step of the batch statement when it is full, else row by row. */
static int flush(hr_recsdb *d, hr_error *err)
{
    int rc = SQLITE_DONE;
    if (d->pending == BATCH) {
        for (int r = 0; r < BATCH; r++) bind_row(d, d->ins, 5 * r, &d->rows[r]);
        rc = sqlite3_step(d->ins);
        sqlite3_reset(d->ins);
    } else {
        for (int r = 0; r < d->pending && rc == SQLITE_DONE; r++) {
            bind_row(d, d->ins1, 0, &d->rows[r]);
            rc = sqlite3_step(d->ins1);
            sqlite3_reset(d->ins1);
        }
    }
    d->pending = 0;
    d->alen = 0;
    return rc == SQLITE_DONE ? 0 : db_error(d, rc, "insert", err);
}

/* One data line: user rank item score source. */
static int load_line(hr_recsdb *d, char *line, size_t len, const char *file, uint64_t lineno, hr_error *err)
{
    char *f[5], *end = line + len;
    size_t n[5];
    char *p = line;
    for (int c = 0; c < 5; c++) {
        char *t = c < 4 ? memchr(p, '\t', (size_t)(end - p)) : NULL;
        if (c < 4 && !t) return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: expected 5 tab-separated fields (user rank item score source)", file, (unsigned long long)lineno);
        if (c == 4 && memchr(p, '\t', (size_t)(end - p)))
            return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: more than 5 fields", file, (unsigned long long)lineno);
        f[c] = p;
        n[c] = (size_t)((c < 4 ? t : end) - p);
        p = c < 4 ? t + 1 : end;
    }
    row *r = &d->rows[d->pending];
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
    parse_id(d, 0, f[4], n[4], &unused, &r->soff, &r->slen, "source", file, lineno, err);
    HR_TRY(parse_id(d, d->user_int, f[0], n[0], &r->user, &r->uoff, &r->ulen, "user", file, lineno, err));
    HR_TRY(parse_id(d, d->item_int, f[2], n[2], &r->item, &r->ioff, &r->ilen, "item", file, lineno, err));
    return ++d->pending == BATCH ? flush(d, err) : 0;
}

int hr_recsdb_load_part(hr_recsdb *d, const char *path, uint64_t xxh3, uint64_t bytes, uint64_t *rows, hr_error *err)
{
    uint64_t h, b;
    HR_TRY(hr_checksum_file(path, &h, &b, err));
    if (h != xxh3 || b != bytes)
        return hr_error_set(err, HR_ERR_CHECKSUM, "%s: checksum or size does not match the manifest (%llu bytes on disk, %llu listed)",
                            path, (unsigned long long)b, (unsigned long long)bytes);
    hr_input *in;
    HR_TRY(hr_input_open(path, &in, err));
    const char *name;
    int rc = hr_input_next(in, &name, err);
    *rows = 0;
    if (rc == 0) rc = hr_error_set(err, HR_ERR_FORMAT, "%s: empty", path);
    if (rc < 0) {
        hr_input_close(in);
        return rc;
    }
    hr_lines *l = hr_lines_new(in);
    char *line;
    size_t len;
    uint64_t lineno = 0;
    rc = 0;
    while (rc == 0 && (rc = hr_lines_next(l, &line, &len, err)) == 1) {
        lineno++;
        rc = 0;
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        if (lineno == 1) {
            static const char header[] = "user\trank\titem\tscore\tsource";
            if (len != sizeof header - 1 || memcmp(line, header, len))
                rc = hr_error_set(err, HR_ERR_FORMAT, "%s:1: expected the header line 'user rank item score source' (tab-separated)", path);
            continue;
        }
        rc = load_line(d, line, len, path, lineno, err);
        if (rc == 0) ++*rows;
    }
    hr_lines_free(l);
    hr_input_close(in);
    return rc < 0 ? rc : 0;
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
    int frc = flush(d, err);
    if (frc < 0) {
        hr_recsdb_abort(d);
        return frc;
    }
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
    hr_free(d->arena);
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
    hr_free(d->arena);
    hr_free(d->path);
    hr_free(d);
}
