/* tests/tools/fuzz_replay_shard.c — the shard fuzz target as a plain replay driver.
 * Usage: fuzz_replay_shard FILE...  (tests/fuzz/replay_main.h) */
#include "../fuzz/fuzz_shard.c"
#define REPLAY_NAME "fuzz_replay_shard"
#include "../fuzz/replay_main.h"
