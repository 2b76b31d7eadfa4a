#include "partition/intern.h"

#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"

struct hr_intern {
    uint64_t *slots;     /* (hash high 32 bits << 32) | (id + 1); 0 = empty */
    uint64_t mask;
    uint64_t *off;       /* per id: offset of its bytes in arena */
    uint32_t *len;
    uint32_t n, cap_ids;
    char *arena;
    uint64_t arena_len, arena_cap;
};

hr_intern *hr_intern_new(void)
{
    hr_intern *t = hr_calloc(1, sizeof *t);
    t->mask = (1u << 16) - 1;
    t->slots = hr_calloc(t->mask + 1, sizeof *t->slots);
    t->cap_ids = 1 << 14;
    t->off = hr_malloc(t->cap_ids * sizeof *t->off);
    t->len = hr_malloc(t->cap_ids * sizeof *t->len);
    t->arena_cap = 1 << 18;
    t->arena = hr_malloc(t->arena_cap);
    return t;
}

void hr_intern_free(hr_intern *t)
{
    if (!t) return;
    hr_free(t->slots);
    hr_free(t->off);
    hr_free(t->len);
    hr_free(t->arena);
    hr_free(t);
}

static void grow(hr_intern *t)
{
    uint64_t nmask = t->mask * 2 + 1;
    uint64_t *ns = hr_calloc(nmask + 1, sizeof *ns);
    for (uint64_t s = 0; s <= t->mask; s++) {
        uint64_t v = t->slots[s];
        if (!v) continue;
        uint32_t id = (uint32_t)(v & 0xffffffffu) - 1;
        uint64_t h = hr_hash_bytes(t->arena + t->off[id], t->len[id], 0);
        uint64_t j = h & nmask;
        while (ns[j]) j = (j + 1) & nmask;
        ns[j] = v;
    }
    hr_free(t->slots);
    t->slots = ns;
    t->mask = nmask;
}

uint32_t hr_intern_get(hr_intern *t, const char *key, size_t len)
{
    uint64_t h = hr_hash_bytes(key, len, 0);
    uint64_t tag = h >> 32 << 32;
    for (uint64_t j = h & t->mask;; j = (j + 1) & t->mask) {
        uint64_t v = t->slots[j];
        if (!v) {
            uint32_t id = t->n++;
            if (id == t->cap_ids) {
                t->cap_ids *= 2;
                t->off = hr_realloc(t->off, t->cap_ids * sizeof *t->off);
                t->len = hr_realloc(t->len, t->cap_ids * sizeof *t->len);
            }
            while (t->arena_len + len > t->arena_cap) {
                t->arena_cap *= 2;
                t->arena = hr_realloc(t->arena, t->arena_cap);
            }
            memcpy(t->arena + t->arena_len, key, len);
            t->off[id] = t->arena_len;
            t->len[id] = (uint32_t)len;
            t->arena_len += len;
            t->slots[j] = tag | ((uint64_t)id + 1);
            if ((uint64_t)t->n * 2 > t->mask) grow(t);  /* load factor <= 1/2 */
            return id;
        }
        if ((v & ~0xffffffffull) == tag) {
            uint32_t id = (uint32_t)(v & 0xffffffffu) - 1;
            if (t->len[id] == len && memcmp(t->arena + t->off[id], key, len) == 0) return id;
        }
    }
}

uint32_t hr_intern_count(const hr_intern *t) { return t->n; }

const char *hr_intern_key(const hr_intern *t, uint32_t id, size_t *len)
{
    *len = t->len[id];
    return t->arena + t->off[id];
}

void hr_intern_pack(const hr_intern *t, char **buf, uint64_t *bytes)
{
    uint64_t total = (uint64_t)t->n * 4 + t->arena_len;
    char *b = hr_malloc(total), *p = b;
    for (uint32_t id = 0; id < t->n; id++) {
        memcpy(p, &t->len[id], 4);
        memcpy(p + 4, t->arena + t->off[id], t->len[id]);
        p += 4 + t->len[id];
    }
    *buf = b;
    *bytes = total;
}
