#include "jobs/signals.h"

#include <signal.h>
#include <string.h>

/* The one piece of process-wide mutable state: a signal handler can reach nothing else. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

void hr_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int hr_signals_pending(void) { return (int)stop_signal; }
