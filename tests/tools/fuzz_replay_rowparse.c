/* tests/tools/fuzz_replay_rowparse.c — run the rowparse fuzz target over files without
 * libFuzzer, so `tests/run.sh` replays the checked-in corpus in every build (ASan included).
 * Usage: fuzz_replay_rowparse FILE...  Exit 0 when every file ran; a failed invariant aborts. */
#include "../fuzz/fuzz_rowparse.c"

int main(int argc, char **argv)
{
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "rb");
        if (!fp) {
            fprintf(stderr, "fuzz_replay_rowparse: cannot open %s\n", argv[i]);
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
            fprintf(stderr, "fuzz_replay_rowparse: read error on %s\n", argv[i]);
            failed = 1;
        } else {
            LLVMFuzzerTestOneInput(buf, len);
        }
        fclose(fp);
        hr_free(buf);
    }
    if (!failed) printf("fuzz_replay_rowparse: %d inputs ok\n", argc - 1);
    return failed;
}
