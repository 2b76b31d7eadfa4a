#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/alloc.h"
#include "core/error.h"

uint64_t hr_hash_bytes(const void *p, size_t n, uint64_t seed) { return XXH3_64bits_withSeed(p, n, seed); }

uint64_t hr_hash_checksum(const void *p, size_t n) { return XXH3_64bits(p, n); }

void hr_checksum_init(hr_checksum *c)
{
    c->state = XXH3_createState();
    XXH3_64bits_reset(c->state);
}

void hr_checksum_update(hr_checksum *c, const void *p, size_t n) { XXH3_64bits_update(c->state, p, n); }

uint64_t hr_checksum_final(hr_checksum *c)
{
    uint64_t h = XXH3_64bits_digest(c->state);
    XXH3_freeState(c->state);
    c->state = NULL;
    return h;
}

void hr_checksum_hex(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }

int hr_checksum_file(const char *path, uint64_t *out, uint64_t *bytes, hr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    hr_checksum c;
    hr_checksum_init(&c);
    size_t bufsz = 1 << 20;
    char *buf = hr_malloc(bufsz);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, bufsz);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            hr_free(buf);
            close(fd);
            hr_checksum_final(&c);
            return hr_error_set(err, HR_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (n == 0) break;
        hr_checksum_update(&c, buf, (size_t)n);
        total += (uint64_t)n;
    }
    hr_free(buf);
    close(fd);
    *out = hr_checksum_final(&c);
    if (bytes) *bytes = total;
    return 0;
}
