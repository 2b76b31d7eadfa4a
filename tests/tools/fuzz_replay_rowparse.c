/* tests/tools/fuzz_replay_rowparse.c — the rowparse fuzz target as a plain replay driver.
 * Usage: fuzz_replay_rowparse FILE...  (tests/fuzz/replay_main.h) */
#include "../fuzz/fuzz_rowparse.c"
#define REPLAY_NAME "fuzz_replay_rowparse"
#include "../fuzz/replay_main.h"
