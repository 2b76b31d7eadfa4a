/* io/features.h — item content features from text files (genres, tags, categories).
 *
 * Formats (--features-format):
 *   tokens             ITEM <TAB> TOKEN[ TOKEN ...]  (tokens separated by spaces, '|' or ',');
 *                      every token weighs 1; an item on several lines gets the union
 *   movielens-genres   MovieLens 100K u.item: id|title|date|video|url|19 genre flags (0/1); the
 *                      title is not read (it is Latin-1 there, and not a feature)
 *   ml-latest-genres   MovieLens latest movies.csv: movieId,title,genres with genres split on
 *                      '|' ("(no genres listed)": an empty set); header line skipped
 *   ml-latest-tags     MovieLens latest tags.csv: userId,movieId,tag,timestamp (tag quoted when
 *                      it holds commas); a tag's count per movie = how many lines give it
 *   lastfm-tags        HetRec Last.fm user_taggedartists.dat: userID<TAB>artistID<TAB>tagID...;
 *                      count per artist = how many users gave the tag
 * Counting formats (the two *-tags) give TF-IDF weights at hr_features_finish; the others 1.
 * Tags are lowercased; every token is prefixed by the file's index ("0:action") so several
 * files (genres and tags) never mix their vocabularies.
 *
 * Bad lines are counted and skipped, never fatal (as ingest's rejects): malformed (missing
 * fields, a flag not 0/1, an empty item id, a control byte in an id or token), non-UTF-8 (bytes
 * that are not UTF-8 in the item id or the tokens), duplicate (a line identical to an earlier
 * one of the same file: the second adds nothing); an item line with no feature at all (empty
 * set) is counted as empty and the item is still known (scored from the intercept alone).
 * Each counter keeps the first such line's number for the message.
 *
 * Ownership: hr_features owns everything; hr_features_free releases.  No MPI, no math beyond
 * the weights.  Errors: those of opening / reading the file (io/input.h), HR_ERR_ARG for an
 * unknown format name. */
#ifndef HR_IO_FEATURES_H
#define HR_IO_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum {
    HR_FEAT_TOKENS = 0, HR_FEAT_ML_GENRES, HR_FEAT_MLL_GENRES, HR_FEAT_MLL_TAGS, HR_FEAT_LASTFM_TAGS, HR_FEAT_NFORMATS
} hr_feat_format;

enum { HR_FEAT_MALFORMED = 0, HR_FEAT_NON_UTF8, HR_FEAT_DUPLICATE, HR_FEAT_EMPTY, HR_FEAT_NREJECT };
extern const char *const hr_feat_reject_names[HR_FEAT_NREJECT]; /* "malformed", "non_utf8", ... */

typedef struct hr_feat_entry {
    uint32_t item, token;   /* indices into items[] / tokens[]; token UINT32_MAX: an empty set */
    float count;
    uint64_t line_hash;     /* duplicate detection (file index mixed in) */
    uint64_t line;
} hr_feat_entry;

typedef struct hr_features {
    /* while reading: entries, item and token strings (interned by hash tables) */
    hr_feat_entry *e;
    uint64_t n, cap;
    char **items, **tokens;
    uint32_t n_items, n_tokens, items_cap, tokens_cap;
    uint32_t *item_ht, *token_ht;   /* open addressing, index + 1, 0 = empty */
    uint32_t item_ht_cap, token_ht_cap;
    uint64_t lines, rejects[HR_FEAT_NREJECT], first_reject[HR_FEAT_NREJECT];
    int files;
    uint8_t *counting;              /* per file: a counting format (TF-IDF) */
    /* IDF of each token (counting files; 0 for the others) and items per file (files entries).
     * Given idf (n_tokens floats, hr_malloc'd, then owned here) before hr_features_finish, the
     * weights use it instead of this data's document frequencies (new items weighed as the
     * training items were); otherwise finish computes both. */
    float *idf;
    uint64_t *file_items;
    /* after hr_features_finish: CSR by item (n_items rows), columns = token ids, weights */
    uint64_t *ptr;
    uint32_t *col;
    float *val;
} hr_features;

int hr_feat_format_parse(const char *name, hr_feat_format *out);
/* The --features-format name of fmt. */
const char *hr_feat_format_name(hr_feat_format fmt);
void hr_features_init(hr_features *fs);
void hr_features_free(hr_features *fs);
/* One line (no newline) of file index `file` in format fmt. */
void hr_features_line(hr_features *fs, hr_feat_format fmt, int file, const char *line, size_t len, uint64_t lineno);
/* A whole file (any compression io/input.h reads); the next file index. */
int hr_features_read(hr_features *fs, const char *path, hr_feat_format fmt, hr_error *err);
/* Drop duplicate lines, build the CSR: weights 1 (TF-IDF log(1 + count) * log(N / df) for the
 * counting formats, N = items of that file, or log(1 + count) * idf[t] when idf was given), each
 * file's part of a row scaled to unit length. */
void hr_features_finish(hr_features *fs);
/* Index of an item id, or -1. */
int64_t hr_features_item(const hr_features *fs, const char *id, size_t len);

#endif
