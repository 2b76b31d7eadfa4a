/* jobs/signals.h — SIGTERM / SIGUSR1 mean "checkpoint and stop" (what Slurm sends before a
 * time limit or a preemption).  The handler only sets a flag; the training loop polls it after
 * every half-iteration and the ranks agree on it (one allreduce), so all stop together. */
#ifndef HR_JOBS_SIGNALS_H
#define HR_JOBS_SIGNALS_H

void hr_signals_install(void);
/* The signal received (0 = none), local to this rank. */
int hr_signals_pending(void);

#endif
