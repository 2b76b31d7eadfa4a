/* core/timer.h — monotonic wall clock and this process's CPU time, in seconds.  On a shared
 * machine the CPU time of a kernel is what stays comparable between runs: benchmarks report
 * rates per CPU-second next to rates per wall second. */
#ifndef HR_CORE_TIMER_H
#define HR_CORE_TIMER_H

double hr_now(void);
double hr_cpu_now(void);   /* user + system time of the whole process (all threads) */

#endif
