/* tests/unit/test_features.c — io/features.h: every format's lines, the reject counters
 * (malformed, non-UTF-8, duplicate, empty set) and the weights (binary rows of unit length,
 * TF-IDF for counting formats). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "io/features.h"

static void feed(hr_features *fs, hr_feat_format fmt, int file, const char *text)
{
    fs->counting = hr_realloc(fs->counting, (size_t)file + 1);
    fs->counting[file] = fmt == HR_FEAT_MLL_TAGS || fmt == HR_FEAT_LASTFM_TAGS;
    if (fs->files <= file) fs->files = file + 1;
    uint64_t ln = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        hr_features_line(fs, fmt, file, p, n, ++ln);
        p += n + (e != NULL);
    }
}

static float weight(const hr_features *fs, const char *item, const char *token)
{
    int64_t i = hr_features_item(fs, item, strlen(item));
    if (i < 0) return -1;
    for (uint64_t e = fs->ptr[i]; e < fs->ptr[i + 1]; e++)
        if (strcmp(fs->tokens[fs->col[e]], token) == 0) return fs->val[e];
    return 0;
}

static void test_tokens_rejects(void **state)
{
    (void)state;
    hr_features fs;
    hr_features_init(&fs);
    feed(&fs, HR_FEAT_TOKENS, 0,
         "i1\tAction comedy\n"      /* 2 tokens, lowercased */
         "i2\t\n"                   /* empty set: counted, item known */
         "i1\tAction comedy\n"      /* duplicate line */
         "\tx\n"                    /* empty id: malformed */
         "notab\n"                  /* malformed */
         "i\xff\ttok\n"             /* non-UTF-8 id */
         "i5\tt\xc3\x28x\n"         /* non-UTF-8 token */
         "i3\tdrama|war,sci-fi\n"
         "\n");
    hr_features_finish(&fs);
    assert_int_equal(fs.rejects[HR_FEAT_MALFORMED], 2);
    assert_int_equal(fs.first_reject[HR_FEAT_MALFORMED], 4);
    assert_int_equal(fs.rejects[HR_FEAT_NON_UTF8], 2);
    assert_int_equal(fs.rejects[HR_FEAT_DUPLICATE], 1);
    assert_int_equal(fs.first_reject[HR_FEAT_DUPLICATE], 3);
    assert_int_equal(fs.rejects[HR_FEAT_EMPTY], 1);
    assert_int_equal(fs.n_items, 3);
    assert_true(fabsf(weight(&fs, "i1", "0:action") - (float)M_SQRT1_2) < 1e-6f);   /* the duplicate adds nothing */
    assert_true(fabsf(weight(&fs, "i3", "0:sci-fi") - 1.0f / sqrtf(3)) < 1e-6f);
    int64_t i2 = hr_features_item(&fs, "i2", 2);
    assert_true(i2 >= 0);
    assert_int_equal(fs.ptr[i2 + 1] - fs.ptr[i2], 0);
    hr_features_free(&fs);
}

static void test_formats_and_tfidf(void **state)
{
    (void)state;
    hr_features fs;
    hr_features_init(&fs);
    feed(&fs, HR_FEAT_ML_GENRES, 0,
         "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
         "2|T\xe9l\xe9|d||u|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"   /* Latin-1 title: not read */
         "3|bad|d||u|0|2|0\n");
    feed(&fs, HR_FEAT_LASTFM_TAGS, 1,
         "userID\tartistID\ttagID\tday\tmonth\tyear\n"
         "2\t1\t13\t1\t4\t2009\n"
         "3\t1\t13\t1\t4\t2009\n"
         "3\t1\t14\t1\t4\t2009\n"
         "2\t2\t14\t1\t4\t2009\n"
         "2\tx\t1\n");
    feed(&fs, HR_FEAT_MLL_GENRES, 2, "movieId,title,genres\n7,\"Hey, you (1999)\",(no genres listed)\n8,x\n");
    hr_features_finish(&fs);
    assert_int_equal(fs.rejects[HR_FEAT_MALFORMED], 3);   /* u.item field count, lastfm id, movies.csv fields */
    assert_int_equal(fs.rejects[HR_FEAT_EMPTY], 1);
    assert_true(fabsf(weight(&fs, "1", "0:animation") - 1.0f / sqrtf(3)) < 1e-6f);
    assert_true(weight(&fs, "2", "0:action") > 0.99f);
    /* item 1: tag 13 twice (df 1 of 2 artists), tag 14 once (df 2: idf 0 -> kept weak);
     * the Last.fm part of item 1's row is of unit length beside its genre part */
    float w13 = weight(&fs, "1", "1:13"), w14 = weight(&fs, "1", "1:14");
    assert_true(w13 > 0.99f && w14 > 0 && w14 < 0.01f);
    assert_true(fabsf(w13 * w13 + w14 * w14 - 1.0f) < 1e-5f);
    hr_features_free(&fs);
}

/* The IDF as computed (log(N / df), 0 for non-counting files) and, given before finish, used
 * instead of this data's document frequencies (recommend weighs new items as training did). */
static void test_given_idf(void **state)
{
    (void)state;
    static const char *const tags = "userID\tartistID\ttagID\n2\t1\t13\n3\t1\t13\n3\t1\t14\n2\t2\t14\n";
    hr_features fs;
    hr_features_init(&fs);
    feed(&fs, HR_FEAT_LASTFM_TAGS, 0, tags);
    hr_features_finish(&fs);
    assert_int_equal(fs.file_items[0], 2);
    for (uint32_t t = 0; t < fs.n_tokens; t++)
        assert_true(fabsf(fs.idf[t] - (strcmp(fs.tokens[t], "0:13") ? 0.0f : logf(2.0f))) < 1e-6f);
    hr_features_free(&fs);
    hr_features_init(&fs);
    feed(&fs, HR_FEAT_LASTFM_TAGS, 0, tags);
    fs.idf = hr_malloc(fs.n_tokens * sizeof *fs.idf);
    for (uint32_t t = 0; t < fs.n_tokens; t++) fs.idf[t] = 2.0f;   /* both tags weigh alike */
    hr_features_finish(&fs);
    /* item 1: tag 13 twice, 14 once: weights log(3) : log(2), unit length */
    float w13 = weight(&fs, "1", "0:13"), w14 = weight(&fs, "1", "0:14");
    assert_true(fabsf(w13 / w14 - logf(3.0f) / logf(2.0f)) < 1e-5f);
    assert_true(fabsf(w13 * w13 + w14 * w14 - 1.0f) < 1e-5f);
    assert_true(fs.idf[0] == 2.0f);   /* kept as given */
    hr_features_free(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_rejects),
        cmocka_unit_test(test_formats_and_tfidf),
        cmocka_unit_test(test_given_idf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
