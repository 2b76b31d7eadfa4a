/* tests/tools/fuzz_replay_model.c — the model-bundle fuzz target as a plain replay driver.
 * Usage: fuzz_replay_model FILE...  (tests/fuzz/replay_main.h) */
#include "../fuzz/fuzz_model.c"
#define REPLAY_NAME "fuzz_replay_model"
#include "../fuzz/replay_main.h"
