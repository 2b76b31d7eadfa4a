/* The dataset layout a fresh ingest would write without the forgotten users (jobs/forget.h,
 * hr_forget_ingest_layout).
 *
 * Ingest (jobs/ingest.c) builds its dictionaries from every accepted row BEFORE its duplicate /
 * conflict / bot policy, weighs the balanced user partition by those events, and only then drops
 * the ids the policy left without events (renumbering in order, the partition remapped, not
 * rebuilt).  A dataset keeps the events after the policy; its rejects/ files hold the rows the
 * policy removed (user,item,value,time).  From both, the layout of a fresh ingest of the input
 * without the users is rebuilt exactly: dictionaries from the remaining keys plus the keys of
 * the remaining users' policy rejects (so the integer / string kind is decided on the same set),
 * weights = events after the policy + policy rejects, the partition built, then the ids without
 * events dropped.  Limit: a string user id holding a comma is read from a reject row up to its
 * first comma (the row is written unquoted), so such ids may weigh differently. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "jobs/dataset.h"
#include "jobs/forget.h"
#include "partition/block.h"
#include "partition/intern.h"

/* This rank's share of DIR/rejects/: policy rejects of users not in s, keys interned, rows
 * counted per user key (*cnt grows with the intern table). */
static int read_policy_rejects(hr_job *job, hr_forget_set *s, const char *dir, hr_intern *ui, hr_intern *ii, uint64_t **cnt,
                               uint64_t *cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rejects", dir);
    struct dirent **ents;
    int k = scandir(path, &ents, NULL, alphasort), rc = 0, idx = 0;
    for (int j = 0; j < (k > 0 ? k : 0); j++) {
        const char *nm = ents[j]->d_name;
        int mine = nm[0] != '.' && idx++ % job->size == job->rank;
        FILE *f = NULL;
        if (mine && rc == 0) {
            snprintf(path, sizeof path, "%s/rejects/%s", dir, nm);
            if (!(f = fopen(path, "rb"))) rc = hr_error_set(&job->err, HR_ERR_IO, "%s: cannot open", path);
        }
        char *line = NULL;
        size_t lcap = 0;
        ssize_t len;
        while (f && (len = getline(&line, &lcap, f)) >= 0) {
            if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
            char *fld[5] = { line }, *p = line;
            int nf = 1;
            while (nf < 5 && (p = strchr(p, '\t'))) {
                *p++ = '\0';
                fld[nf++] = p;
            }
            if (nf < 5 || (strcmp(fld[2], "duplicate") && strcmp(fld[2], "conflict") && strcmp(fld[2], "bot_user"))) continue;
            /* user,item,value,time: value and time hold no comma */
            char *row = fld[4], *c1 = strchr(row, ','), *c3 = strrchr(row, ',');
            if (!c1 || c3 == c1) continue;
            *c3 = '\0';
            char *c2 = strrchr(row, ',');
            if (!c2 || c2 == c1) continue;
            size_t ul = (size_t)(c1 - row), il = (size_t)(c2 - c1 - 1);
            if (hr_forget_has(s, row, ul)) continue;
            uint32_t u = hr_intern_get(ui, row, ul);
            if (u >= *cap) {
                uint64_t nc = (u + 1) * 2;
                *cnt = hr_realloc(*cnt, nc * sizeof **cnt);
                memset(*cnt + *cap, 0, (nc - *cap) * sizeof **cnt);
                *cap = nc;
            }
            (*cnt)[u]++;
            hr_intern_get(ii, c1 + 1, il);
        }
        free(line);
        if (f) fclose(f);
        free(ents[j]);
    }
    if (k > 0) free(ents);
    return rc;
}

int hr_forget_ingest_layout(hr_job *job, hr_forget_set *s, const char *dir, hr_part_scheme scheme, hr_dict *users,
                            hr_dict *items, hr_triple **t, uint64_t *n, hr_part *hp)
{
    hr_intern *ui = hr_intern_new(), *ii = hr_intern_new();
    uint64_t *rcnt = NULL, rcap = 0;
    char tmp[HR_DICT_INT_CHARS];
    size_t len;
    for (uint64_t g = (uint64_t)job->rank; g < users->n; g += (uint64_t)job->size) {
        const char *key = hr_dict_key(users, g, tmp, &len);
        hr_intern_get(ui, key, len);
    }
    for (uint64_t g = (uint64_t)job->rank; g < items->n; g += (uint64_t)job->size) {
        const char *key = hr_dict_key(items, g, tmp, &len);
        hr_intern_get(ii, key, len);
    }
    int rc = read_policy_rejects(job, s, dir, ui, ii, &rcnt, &rcap);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    hr_dict ue = { 0 }, ie = { 0 };
    uint32_t *umap = NULL, *imap = NULL, *mu = NULL, *mi = NULL, *ku = NULL, *ki = NULL;
    uint64_t *w = NULL;
    if (rc == 0) rc = hr_dataset_build_dict(job, ui, &ue, &umap);
    if (rc == 0) rc = hr_dataset_build_dict(job, ii, &ie, &imap);
    if (rc == 0) {
        /* per ext user: weight (events + policy rejects), events; per ext item: events */
        w = hr_calloc(2 * ue.n + ie.n + 1, sizeof *w);
        mu = hr_dict_match(users, &ue, NULL);
        mi = hr_dict_match(items, &ie, NULL);
        for (uint64_t k = 0; k < *n; k++) {
            w[mu[(*t)[k].u]]++;
            w[ue.n + mu[(*t)[k].u]]++;
            w[2 * ue.n + mi[(*t)[k].i]]++;
        }
        for (uint32_t l = 0; l < hr_intern_count(ui); l++)
            if (l < rcap) w[umap[l]] += rcnt[l];
        rc = hr_comm_allreduce_sum_u64(job->comm, w, 2 * ue.n + ie.n);
    }
    if (rc == 0) {
        hr_part_build(hp, scheme, job->size, ue.n, w);
        uint8_t *keep = hr_malloc(ue.n + ie.n + 1);
        for (uint64_t g = 0; g < ue.n; g++) keep[g] = w[ue.n + g] != 0;
        for (uint64_t g = 0; g < ie.n; g++) keep[ue.n + g] = w[2 * ue.n + g] != 0;
        uint64_t nue = ue.n;   /* hr_dict_keep shrinks ue.n */
        ku = hr_dict_keep(&ue, keep);
        ki = hr_dict_keep(&ie, keep + nue);
        hr_free(keep);
        hr_part_remap(hp, ku, ue.n);
        for (uint64_t k = 0; k < *n; k++) {
            (*t)[k].u = ku[mu[(*t)[k].u]];
            (*t)[k].i = ki[mi[(*t)[k].i]];
        }
        hr_dict_free(users);
        hr_dict_free(items);
        *users = ue;
        *items = ie;
        memset(&ue, 0, sizeof ue);
        memset(&ie, 0, sizeof ie);
        rc = hr_part_shuffle(job->comm, hp, 0, t, n);
        if (rc == 0) hr_triples_sort(*t, *n, hp, job->rank, 0);
        else hr_part_free(hp);
    }
    hr_free(w);
    hr_free(umap);
    hr_free(imap);
    hr_free(mu);
    hr_free(mi);
    hr_free(ku);
    hr_free(ki);
    hr_free(rcnt);
    hr_dict_free(&ue);
    hr_dict_free(&ie);
    hr_intern_free(ui);
    hr_intern_free(ii);
    return rc;
}
