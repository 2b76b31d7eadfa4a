/* core/timer.h — monotonic wall clock in seconds. */
#ifndef HR_CORE_TIMER_H
#define HR_CORE_TIMER_H

double hr_now(void);

#endif
