/* tests/tools/fuzz_replay_features.c — the features fuzz target as a plain replay driver.
 * Usage: fuzz_replay_features FILE...  (tests/fuzz/replay_main.h) */
#include "../fuzz/fuzz_features.c"
#define REPLAY_NAME "fuzz_replay_features"
#include "../fuzz/replay_main.h"
