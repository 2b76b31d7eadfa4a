#include "io/forgetlist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/alloc.h"
#include "io/output.h"

static const char KEY_CHECK_MSG[] = "hpcrec-forget-key-check";

void hr_forget_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t k = 0; k < n; k++) {
        out[2 * k] = hx[p[k] >> 4];
        out[2 * k + 1] = hx[p[k] & 15];
    }
    out[2 * n] = '\0';
}

void hr_forget_mac(hr_forget_set *s, const void *msg, size_t len, uint8_t out[32])
{
    /* The context keeps the key: init with NULL reuses it (OpenSSL 3 EVP_MAC_init). */
    EVP_MAC_CTX *c = s->mac;
    size_t ol = 0;
    if (!EVP_MAC_init(c, NULL, 0, NULL) || !EVP_MAC_update(c, msg, len) || !EVP_MAC_final(c, out, &ol, 32) || ol != 32) {
        fprintf(stderr, "hpcrec: OpenSSL HMAC-SHA256 failed\n");
        abort();   /* a MAC that cannot be computed would let an id through: never continue */
    }
}

int hr_forget_open(hr_forget_set *s, const char *key_path, hr_error *err)
{
    memset(s, 0, sizeof *s);
    int fd = open(key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open the forget key: %s", key_path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hr_error_set(err, HR_ERR_ARG, "%s: the forget key is not a regular file", key_path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return hr_error_set(err, HR_ERR_ARG, "%s: the forget key has mode %04o; it must grant nothing to group and others (chmod 600 %s)",
                            key_path, (unsigned)(st.st_mode & 07777), key_path);
    }
    ssize_t got = read(fd, s->key, sizeof s->key);
    char extra;
    ssize_t more = got == (ssize_t)sizeof s->key ? read(fd, &extra, 1) : 0;
    close(fd);
    if (got < 16 || more != 0)
        return hr_error_set(err, HR_ERR_ARG, "%s: a forget key must hold 16..%d bytes (e.g. head -c 32 /dev/urandom)", key_path, HR_FORGET_KEY_MAX);
    s->keylen = (size_t)got;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    EVP_MAC_free(m);   /* the context holds its own reference */
    char digest[] = "SHA256";
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end() };
    if (!c || !EVP_MAC_init(c, s->key, s->keylen, params)) {
        EVP_MAC_CTX_free(c);
        return hr_error_set(err, HR_ERR_STATE, "OpenSSL has no HMAC-SHA256 (libcrypto)");
    }
    s->mac = c;
    return 0;
}

void hr_forget_close(hr_forget_set *s)
{
    if (!s) return;
    EVP_MAC_CTX_free(s->mac);
    hr_free(s->dig);
    memset(s, 0, sizeof *s);   /* the key does not outlive the set */
}

static void push(hr_forget_set *s, const uint8_t d[32])
{
    if ((s->n & (s->n - 1)) == 0) s->dig = hr_realloc(s->dig, (s->n ? 2 * s->n : 1) * sizeof *s->dig);
    memcpy(s->dig[s->n++], d, 32);
}

int hr_forget_add_ids(hr_forget_set *s, const char *path, hr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return hr_error_set(err, HR_ERR_IO, "%s: cannot open the user list: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t ln = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        /* as the dictionaries hold ids: no byte-order mark (spreadsheets write one), no
         * surrounding spaces (ingest trims unquoted fields) */
        char *id = line;
        if (ln++ == 0 && len >= 3 && !memcmp(id, "\xEF\xBB\xBF", 3)) {
            id += 3;
            len -= 3;
        }
        while (len > 0 && (id[len - 1] == '\n' || id[len - 1] == '\r' || id[len - 1] == ' ')) len--;
        while (len > 0 && id[0] == ' ') {
            id++;
            len--;
        }
        if (len == 0) continue;
        uint8_t d[32];
        hr_forget_mac(s, id, (size_t)len, d);
        push(s, d);
        s->lines++;
    }
    int bad = ferror(f);
    free(line);
    fclose(f);
    if (bad) return hr_error_set(err, HR_ERR_IO, "%s: read error", path);
    return 0;
}

static int unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t k = 0; k < 2 * n; k++) {
        char ch = h[k];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0) return -1;
        out[k / 2] = (uint8_t)(k & 1 ? (out[k / 2] | v) : v << 4);
    }
    return 0;
}

static void key_check(hr_forget_set *s, char hex[17])
{
    uint8_t d[32];
    hr_forget_mac(s, KEY_CHECK_MSG, sizeof KEY_CHECK_MSG - 1, d);
    hr_forget_hex(d, 8, hex);
}

int hr_forget_add_list(hr_forget_set *s, const char *path, hr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return hr_error_set(err, HR_ERR_IO, "%s: cannot open the forget list: %s", path, strerror(errno));
    char *line = NULL, check[17];
    size_t cap = 0;
    ssize_t len;
    uint64_t ln = 0;
    int rc = 0;
    key_check(s, check);
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        ln++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (ln == 1) {
            if (strcmp(line, "hpcrec-forget-list 1") != 0)
                rc = hr_error_set(err, HR_ERR_FORMAT, "%s:1: not an hpcrec forget list (expected 'hpcrec-forget-list 1')", path);
            continue;
        }
        if (ln == 2) {
            if (strncmp(line, "key ", 4) != 0 || strlen(line) != 20)
                rc = hr_error_set(err, HR_ERR_FORMAT, "%s:2: expected 'key' and 16 hex digits", path);
            else if (strcmp(line + 4, check) != 0)
                rc = hr_error_set(err, HR_ERR_ARG, "%s: the list was written under another key (key check %s, this key's %s)", path, line + 4, check);
            continue;
        }
        uint8_t d[32];
        if (len != 64 || unhex(line, d, 32) != 0) {
            rc = hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: not 64 lowercase hex digits", path, (unsigned long long)ln);
            break;
        }
        push(s, d);
        s->lines++;
    }
    if (rc == 0 && ferror(f)) rc = hr_error_set(err, HR_ERR_IO, "%s: read error", path);
    if (rc == 0 && ln < 2) rc = hr_error_set(err, HR_ERR_FORMAT, "%s: truncated forget list (no key line)", path);
    free(line);
    fclose(f);
    return rc;
}

static int cmp32(const void *a, const void *b) { return memcmp(a, b, 32); }

void hr_forget_finish(hr_forget_set *s)
{
    if (s->n == 0) return;
    qsort(s->dig, s->n, 32, cmp32);
    uint64_t w = 1;
    for (uint64_t k = 1; k < s->n; k++)
        if (memcmp(s->dig[k], s->dig[w - 1], 32) != 0) memcpy(s->dig[w++], s->dig[k], 32);
    s->n = w;
}

int hr_forget_has(hr_forget_set *s, const char *id, size_t len)
{
    if (s->n == 0) return 0;
    uint8_t d[32];
    hr_forget_mac(s, id, len, d);
    return bsearch(d, s->dig, s->n, 32, cmp32) != NULL;
}

int hr_forget_write_list(hr_forget_set *s, const char *path, hr_error *err)
{
    hr_output *o;
    HR_TRY(hr_output_open(path, 0, 1, &o, err));
    char check[17], hex[65];
    key_check(s, check);
    int rc = hr_output_printf(o, err, "hpcrec-forget-list 1\nkey %s\n", check);
    for (uint64_t k = 0; rc == 0 && k < s->n; k++) {
        hr_forget_hex(s->dig[k], 32, hex);
        rc = hr_output_printf(o, err, "%s\n", hex);
    }
    if (rc < 0) {
        hr_output_abort(o);
        return rc;
    }
    return hr_output_commit(o, NULL, NULL, err);
}

void hr_forget_set_hmac(hr_forget_set *s, char hex[65])
{
    uint8_t d[32];
    hr_forget_mac(s, s->n ? (const void *)s->dig : "", s->n * 32, d);
    hr_forget_hex(d, 32, hex);
}
