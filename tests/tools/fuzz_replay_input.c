/* tests/tools/fuzz_replay_input.c — the compressed-input fuzz target as a plain replay driver.
 * Usage: fuzz_replay_input FILE...  (tests/fuzz/replay_main.h) */
#include "../fuzz/fuzz_input.c"
#define REPLAY_NAME "fuzz_replay_input"
#include "../fuzz/replay_main.h"
