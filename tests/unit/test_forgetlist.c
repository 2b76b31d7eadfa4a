/* tests/unit/test_forgetlist.c — io/forgetlist.h and the line matching of jobs/forget.h:
 * HMAC-SHA256 against RFC 4231, key file checks, list round trip (sorted, unique, key check),
 * and which raw rows / rejects lines are scrubbed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/forgetlist.h"
#include "jobs/forget.h"
#include "testutil.h"

static void write_key(const char *path, const void *k, size_t n, int mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(k, 1, n, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static void test_rfc4231(void **state)
{
    (void)state;
    char path[512], hex[65];
    snprintf(path, sizeof path, "%s/k1", hr_test_dir);
    uint8_t key[20], d[32];
    memset(key, 0x0b, sizeof key);
    write_key(path, key, sizeof key, 0600);
    hr_forget_set s;
    hr_error err = { 0 };
    assert_int_equal(hr_forget_open(&s, path, &err), 0);
    hr_forget_mac(&s, "Hi There", 8, d);
    hr_forget_hex(d, 32, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* the keyed context is reused: the same message again gives the same MAC */
    hr_forget_mac(&s, "Hi There", 8, d);
    hr_forget_hex(d, 32, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hr_forget_close(&s);
}

static void test_key_checks(void **state)
{
    (void)state;
    char path[512];
    hr_forget_set s;
    hr_error err = { 0 };
    snprintf(path, sizeof path, "%s/k644", hr_test_dir);
    write_key(path, "0123456789abcdef0123", 20, 0644);
    assert_int_equal(hr_forget_open(&s, path, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, "mode 0644"));
    snprintf(path, sizeof path, "%s/kshort", hr_test_dir);
    write_key(path, "short", 5, 0600);
    assert_int_equal(hr_forget_open(&s, path, &err), HR_ERR_ARG);
    snprintf(path, sizeof path, "%s/k400", hr_test_dir);
    write_key(path, "0123456789abcdef0123", 20, 0400);
    assert_int_equal(hr_forget_open(&s, path, &err), 0);
    hr_forget_close(&s);
}

static void test_list_round_trip(void **state)
{
    (void)state;
    char kp[512], ids[512], lp[512], kp2[512];
    snprintf(kp, sizeof kp, "%s/key", hr_test_dir);
    snprintf(kp2, sizeof kp2, "%s/key2", hr_test_dir);
    snprintf(ids, sizeof ids, "%s/ids", hr_test_dir);
    snprintf(lp, sizeof lp, "%s/list", hr_test_dir);
    write_key(kp, "site-secret-key-0123456789", 26, 0600);
    write_key(kp2, "another-secret-key-0123456", 26, 0600);
    FILE *f = fopen(ids, "w");
    fputs("\xEF\xBB\xBF" "7\r\n 13 \n\n7\nalice\n", f);
    fclose(f);
    hr_forget_set s, t, u;
    hr_error err = { 0 };
    assert_int_equal(hr_forget_open(&s, kp, &err), 0);
    assert_int_equal(hr_forget_add_ids(&s, ids, &err), 0);
    hr_forget_finish(&s);
    assert_int_equal(s.lines, 4);
    assert_int_equal(s.n, 3);
    assert_true(hr_forget_has(&s, "7", 1));
    assert_true(hr_forget_has(&s, "alice", 5));
    assert_false(hr_forget_has(&s, "07", 2));
    assert_false(hr_forget_has(&s, "1", 1));
    assert_int_equal(hr_forget_write_list(&s, lp, &err), 0);
    assert_int_equal(hr_forget_open(&t, kp, &err), 0);
    assert_int_equal(hr_forget_add_list(&t, lp, &err), 0);
    hr_forget_finish(&t);
    assert_int_equal(t.n, 3);
    assert_true(hr_forget_has(&t, "13", 2));
    char h1[65], h2[65];
    hr_forget_set_hmac(&s, h1);
    hr_forget_set_hmac(&t, h2);
    assert_string_equal(h1, h2);
    /* the list does not hold the ids */
    f = fopen(lp, "r");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_null(strstr(buf, "alice"));
    assert_int_equal(hr_forget_open(&u, kp2, &err), 0);
    assert_int_equal(hr_forget_add_list(&u, lp, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, "another key"));
    hr_forget_close(&s);
    hr_forget_close(&t);
    hr_forget_close(&u);
}

static void test_lines(void **state)
{
    (void)state;
    char kp[512], ids[512];
    snprintf(kp, sizeof kp, "%s/keyl", hr_test_dir);
    snprintf(ids, sizeof ids, "%s/idsl", hr_test_dir);
    write_key(kp, "site-secret-key-0123456789", 26, 0600);
    FILE *f = fopen(ids, "w");
    fputs("7\nbob,x\n", f);
    fclose(f);
    hr_forget_set s;
    hr_error err = { 0 };
    assert_int_equal(hr_forget_open(&s, kp, &err), 0);
    assert_int_equal(hr_forget_add_ids(&s, ids, &err), 0);
    hr_forget_finish(&s);
    /* raw rows: any field */
    assert_true(hr_forget_raw_row(&s, "7,3,4.5,100", 11));
    assert_true(hr_forget_raw_row(&s, "3::7::x", 7));
    assert_true(hr_forget_raw_row(&s, "\"7\"\t1", 5));
    assert_false(hr_forget_raw_row(&s, "17,3,4.5,100", 12));
    /* rejects lines: policy rejects by the user field (a string id may hold a comma) */
    const char *dup = "a.csv\t3\tduplicate\texact copy\t7,5,1,100";
    assert_true(hr_forget_reject_line(&s, dup, strlen(dup)));
    const char *dup2 = "a.csv\t3\tduplicate\texact copy\t5,7,1,100";
    assert_false(hr_forget_reject_line(&s, dup2, strlen(dup2)));
    const char *str = "a.csv\t3\tconflict\tlater\tbob,x,item,1,100";
    assert_true(hr_forget_reject_line(&s, str, strlen(str)));
    /* a row that did not parse: any field, escapes undone */
    const char *bad = "a.csv\t9\tunparsable\tfield 3\t5\\t7\\tx";
    assert_true(hr_forget_reject_line(&s, bad, strlen(bad)));
    const char *ok = "a.csv\t9\tunparsable\tfield 3\t5,8,x";
    assert_false(hr_forget_reject_line(&s, ok, strlen(ok)));
    hr_forget_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231), cmocka_unit_test(test_key_checks), cmocka_unit_test(test_list_round_trip),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
