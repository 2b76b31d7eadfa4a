#include "core/sysmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A positive integer environment variable, or 0. */
static uint64_t env_u64(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    return *end == '\0' || *end == 'M' ? (uint64_t)x : 0;
}

/* First unsigned number in a small file ("max" or unreadable: 0). */
static uint64_t file_u64(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long x = 0;
    if (fscanf(f, "%llu", &x) != 1) x = 0;
    fclose(f);
    return (uint64_t)x;
}

static uint64_t meminfo_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

uint64_t hr_sys_mem_limit(const char **source)
{
    uint64_t best = 0;
    const char *src = "unknown";
#define TAKE(v, s)                                         \
    do {                                                   \
        uint64_t v_ = (v);                                 \
        if (v_ && (!best || v_ < best)) { best = v_; src = (s); } \
    } while (0)
    uint64_t node = env_u64("SLURM_MEM_PER_NODE"), cpu = env_u64("SLURM_MEM_PER_CPU");
    uint64_t cpus = env_u64("SLURM_CPUS_ON_NODE");
    TAKE(node << 20, "the Slurm allocation (SLURM_MEM_PER_NODE)");
    TAKE((cpu * (cpus ? cpus : 1)) << 20, "the Slurm allocation (SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE)");
    /* cgroup v2: the process's own group (the common single-line /proc/self/cgroup "0::/path") */
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f) {
        char line[512], path[700];
        if (fgets(line, sizeof line, f) && strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", line + 3);
            uint64_t max = file_u64(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current", line + 3);
            uint64_t cur = file_u64(path);
            if (max > cur) TAKE(max - cur, "the cgroup memory limit");
        }
        fclose(f);
    }
    TAKE(meminfo_available(), "MemAvailable (/proc/meminfo)");
#undef TAKE
    if (source) *source = src;
    return best;
}
