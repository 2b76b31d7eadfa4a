/* core/sysmem.h — how much memory this node can give a job, checked BEFORE a large allocation
 * (a dense model that does not fit must fail in a second with a clear message, not be killed by
 * the kernel or Slurm an hour later).
 *
 * The limit is the smallest of what applies:
 *   - the Slurm allocation on this node: SLURM_MEM_PER_NODE (MB), or SLURM_MEM_PER_CPU (MB)
 *     times SLURM_CPUS_ON_NODE (1 when unset);
 *   - a cgroup v2 limit of this process (memory.max minus memory.current);
 *   - MemAvailable of /proc/meminfo.
 * Returns 0 bytes when none can be read (then no check is possible).  *source names the one that
 * set the limit, for messages ("Slurm allocation (SLURM_MEM_PER_NODE)", "MemAvailable", ...). */
#ifndef HR_CORE_SYSMEM_H
#define HR_CORE_SYSMEM_H

#include <stdint.h>

uint64_t hr_sys_mem_limit(const char **source);

#endif
