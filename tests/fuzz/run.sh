#!/bin/bash
# tests/fuzz/run.sh — build every libFuzzer target tests/fuzz/fuzz_*.c and run each one for
# FUZZ_SECONDS (default 60) over a scratch copy of its corpus tests/fuzz/corpus/<name>/.
#   FUZZ_SECONDS=N   time per target          FUZZ_ONLY=name   run only fuzz_<name>.c
#   FUZZ_JOBS=N      libFuzzer -jobs/-workers (default 1; the build machine is shared)
# A target may list the sources it needs in a line "fuzz-sources: a.c dir b.c" (paths from the
# repository root; a directory stands for its .c files); otherwise it is linked with every
# core/ and io/ source; "fuzz-pkgs: a b" adds pkg-config packages to the link (e.g. ompi-c when
# a partition/ source is listed).  "fuzz-max-len: N" sets libFuzzer's -max_len (default 512).  New interesting
# inputs stay under build/fuzz/<name>/corpus and crashers under build/fuzz/<name>/; copy the
# ones worth keeping into tests/fuzz/corpus/<name>/ by hand (nothing is committed here).
# Exit status: 0 when every target built and ran without finding a failure.
set -u
cd "$(dirname "$0")/../.."
SECONDS_PER=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-1}
CC=${FUZZ_CC:-clang}
PKGS="libzstd libarchive jansson libxxhash zlib liblzma"
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
FLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
FLAGS="$FLAGS -DHR_VERSION=\"$VERSION\" -DHR_GIT=\"fuzz\""
status=0
for src in tests/fuzz/fuzz_*.c; do
    [ -f "$src" ] || continue
    name=$(basename "$src" .c); name=${name#fuzz_}
    [ -n "${FUZZ_ONLY:-}" ] && [ "$name" != "$FUZZ_ONLY" ] && continue
    work=build/fuzz/$name
    mkdir -p "$work/corpus"
    deps=""
    for d in $(sed -n 's/.*fuzz-sources:\([^*]*\).*/\1/p' "$src" | head -1); do
        if [ -d "$d" ]; then deps="$deps $(ls "$d"/*.c | tr '\n' ' ')"; else deps="$deps $d"; fi
    done
    [ -n "$deps" ] || deps=$(ls core/*.c io/*.c)
    extra=$(sed -n 's/.*fuzz-pkgs:\([^*]*\).*/\1/p' "$src" | head -1)
    # shellcheck disable=SC2086  # package lists
    libs=$(pkg-config --cflags --libs $PKGS $extra)
    maxlen=$(sed -n 's/.*fuzz-max-len: *\([0-9]*\).*/\1/p' "$src" | head -1)
    echo "== fuzz $name: building"
    # shellcheck disable=SC2086  # word splitting of the flag and source lists is intended
    if ! $CC $FLAGS "$src" $deps $libs -lbz2 -lm -o "$work/fuzzer"; then
        echo "not ok fuzz-$name (build failed)"; status=1; continue
    fi
    if [ -d "tests/fuzz/corpus/$name" ]; then cp -n tests/fuzz/corpus/"$name"/* "$work/corpus/" 2>/dev/null; fi
    echo "== fuzz $name: running ${SECONDS_PER}s over $(ls "$work/corpus" | wc -l) inputs"
    extra=(); [ -f "tests/fuzz/$name.dict" ] && extra+=(-dict="tests/fuzz/$name.dict")
    # With -jobs libFuzzer writes per-job logs (fuzz-N.log) into the current directory.
    [ "$JOBS" -gt 1 ] && extra+=(-jobs="$JOBS" -workers="$JOBS")
    if "$work/fuzzer" "$work/corpus" -max_total_time="$SECONDS_PER" -max_len="${maxlen:-512}" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/" "${extra[@]}" \
        >"$work/log" 2>&1; then
        echo "ok fuzz-$name ($(ls "$work/corpus" | wc -l) inputs in $work/corpus)"
    else
        echo "not ok fuzz-$name: see $work/log; crashers:"; ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
        tail -40 "$work/log"; status=1
    fi
done
exit $status
