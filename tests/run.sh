#!/bin/bash
# tests/run.sh — run every test tier and print one closing line "N passed, N failed, N skipped".
#   (no args)      unit tests, fuzz corpus replay, multi-rank and pipeline tests
#   --unit         unit tests only (cmocka binaries)
#   --fuzz-replay  add the fuzz corpus replay
#   --only PATTERN run only shell test scripts whose name matches PATTERN
# HR_BUILD (default build) selects the build tree, HR_BIN the binary.
set -u
cd "$(dirname "$0")/.."
BUILD=${HR_BUILD:-build}
export HR_BIN=${HR_BIN:-bin/hpcrec}
export HR_DATA=${HR_DATA:-$(cd .. && pwd)/shared/data}
unit=1 fuzz=1 shell=1 only=""
if [ $# -gt 0 ]; then
    unit=0 fuzz=0 shell=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --unit) unit=1 ;;
            --fuzz-replay) fuzz=1 ;;
            --shell) shell=1 ;;
            --only) shell=1; only=$2; shift ;;
            *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
    done
fi
passed=0 failed=0 skipped=0
count_lines() {   # reads "ok"/"not ok"/"skip" lines from a log
    local p f s
    p=$(grep -c '^ok ' "$1"); f=$(grep -c '^not ok ' "$1"); s=$(grep -c '^skip ' "$1")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}
log=$(mktemp)
if [ "$unit" = 1 ]; then
    echo "== unit tests ($BUILD/tests)"
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        if CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$log" 2>&1; then st=ok; else st=fail; fi
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
        s=$(grep -c '^\[  SKIPPED \]' "$log")
        p=${p:-0}; f=${f:-0}
        if [ "$st" = fail ] && [ "$f" = 0 ]; then f=1; fi   # crashed before reporting
        passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
        printf '%-28s %3d passed %3d failed\n' "$name" "$p" "$f"
        [ "$f" = 0 ] || sed 's/^/    | /' "$log" | grep -v '^    | \[ \(RUN\|       OK\) ' | tail -n 30
    done
fi
if [ "$fuzz" = 1 ]; then
    echo "== fuzz corpus replay"
    for drv in "$BUILD"/tools/fuzz_replay_*; do
        [ -x "$drv" ] || continue
        target=${drv##*fuzz_replay_}
        if "$drv" tests/fuzz/corpus/"$target"/* >"$log" 2>&1; then
            echo "ok fuzz-replay-$target ($(ls tests/fuzz/corpus/"$target" | wc -l) inputs)" | tee -a "$log.all"
        else
            echo "not ok fuzz-replay-$target" | tee -a "$log.all"; tail -20 "$log"
        fi
    done
    [ -f "$log.all" ] && count_lines "$log.all" && rm -f "$log.all"
fi
if [ "$shell" = 1 ]; then
    for t in tests/mpi/*.sh tests/integration/*.sh; do
        [ -f "$t" ] || continue
        [ -n "$only" ] && [[ "$t" != *$only* ]] && continue
        echo "== $t"
        bash "$t" 2>&1 | tee "$log"
        count_lines "$log"
    done
fi
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
