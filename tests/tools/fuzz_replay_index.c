/* tests/tools/fuzz_replay_index.c — the index-file fuzz target as a plain replay driver.
 * Usage: fuzz_replay_index FILE...  (tests/fuzz/replay_main.h) */
#include "../fuzz/fuzz_index.c"
#define REPLAY_NAME "fuzz_replay_index"
#include "../fuzz/replay_main.h"
