/* io/forgetlist.h — the set of user ids to erase, and the persistent forget list.
 *
 * Why a keyed hash.  A forget list must survive (so that re-ingesting raw history never brings
 * erased users back) without itself holding the ids.  Plain or salted hashes of numeric ids
 * are reversed by enumeration in seconds; HMAC-SHA256 under a site secret key is not without
 * the key.  The MAC comes from OpenSSL's libcrypto (EVP_MAC "HMAC" with SHA-256): Debian's
 * most widely deployed, audited crypto library, already on every HPC node (ssh, munge and
 * Open MPI's transports pull it in), with a one-context API we reuse for every id.
 *
 * Key file: a regular file of 16..1024 bytes, used as bytes (no decoding); refused unless its
 * mode grants nothing to group and others (0600 or 0400).  Make one with
 *     (umask 077; head -c 32 /dev/urandom > /etc/hpcrec/forget.key)
 *
 * List file (text, written atomically, sorted, no duplicates):
 *     hpcrec-forget-list 1
 *     key CHECK            16 hex: HMAC(key, "hpcrec-forget-key-check"), truncated
 *     <64 hex>             HMAC-SHA256(key, id) per forgotten id, ascending
 * A list read with another key is refused (its key check differs), never silently useless.
 *
 * Ids are matched as dictionaries spell them: the exact bytes of a string id, the canonical
 * decimal of an integer id ("7", never "007").
 *
 * A hr_forget_set answers "is this id forgotten?" in O(log n) after one HMAC.  It is built
 * from plain ids (--users FILE) or from a list, and holds only digests.  Errors name the file:
 * HR_ERR_IO (unreadable), HR_ERR_FORMAT (bad list line), HR_ERR_ARG (key mode, key size,
 * list under another key). */
#ifndef HR_IO_FORGETLIST_H
#define HR_IO_FORGETLIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define HR_FORGET_KEY_MAX 1024

typedef struct hr_forget_set {
    uint8_t key[HR_FORGET_KEY_MAX];
    size_t keylen;
    void *mac;            /* OpenSSL EVP_MAC_CTX, keyed once */
    uint8_t (*dig)[32];   /* n digests, ascending, unique */
    uint64_t n;
    uint64_t lines;       /* ids read from --users (with repeats), or digests in a list */
} hr_forget_set;

/* Read and check a key file (mode, size) into s and key the MAC.  s is zeroed first. */
int hr_forget_open(hr_forget_set *s, const char *key_path, hr_error *err);
void hr_forget_close(hr_forget_set *s);
/* HMAC-SHA256(key, msg). */
void hr_forget_mac(hr_forget_set *s, const void *msg, size_t len, uint8_t out[32]);
/* Add the ids of a text file (one a line; a UTF-8 byte-order mark, CR and surrounding spaces
 * stripped, blank lines skipped). */
int hr_forget_add_ids(hr_forget_set *s, const char *path, hr_error *err);
/* Add the digests of a list file (refused when its key check is not this key's). */
int hr_forget_add_list(hr_forget_set *s, const char *path, hr_error *err);
/* Sort and drop repeats (after the adds, before lookups). */
void hr_forget_finish(hr_forget_set *s);
/* 1 when the id is in the set. */
int hr_forget_has(hr_forget_set *s, const char *id, size_t len);
/* Write the set as a list file, atomically (temp + fsync + rename). */
int hr_forget_write_list(hr_forget_set *s, const char *path, hr_error *err);
/* The keyed hash of the whole set that lineage records: 64 hex of HMAC(key, digests in order). */
void hr_forget_set_hmac(hr_forget_set *s, char hex[65]);
/* Lowercase hex of n bytes into out (2n + 1 chars). */
void hr_forget_hex(const uint8_t *p, size_t n, char *out);

#endif
