/* tests/fuzz/replay_main.h — main() of a replay driver: run a libFuzzer target
 * (LLVMFuzzerTestOneInput, from the fuzz_*.c file included before this header) over files,
 * without libFuzzer, so tests/run.sh replays the checked-in corpus in every build (ASan
 * included).  Define REPLAY_NAME first.  Exit 0 when every file ran; a failed check aborts. */
#include <stdio.h>

#include "core/alloc.h"

int main(int argc, char **argv)
{
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "rb");
        if (!fp) {
            fprintf(stderr, REPLAY_NAME ": cannot open %s\n", argv[i]);
            failed = 1;
            continue;
        }
        size_t cap = 4096, len = 0;
        uint8_t *buf = hr_malloc(cap);
        size_t got;
        while ((got = fread(buf + len, 1, cap - len, fp)) > 0) {
            len += got;
            if (len == cap) buf = hr_realloc(buf, cap *= 2);
        }
        if (ferror(fp)) {
            fprintf(stderr, REPLAY_NAME ": read error on %s\n", argv[i]);
            failed = 1;
        } else {
            LLVMFuzzerTestOneInput(buf, len);
        }
        fclose(fp);
        hr_free(buf);
    }
    if (!failed) printf(REPLAY_NAME ": %d inputs ok\n", argc - 1);
    return failed;
}
