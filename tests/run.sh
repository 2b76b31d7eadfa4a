#!/bin/bash
# tests/run.sh — run every test tier and print one closing line "N passed, N failed, N skipped".
#   (no args)      unit tests, fuzz corpus replay, multi-rank and pipeline tests
#   --unit         unit tests only (cmocka binaries)
#   --fuzz-replay  add the fuzz corpus replay
#   --only PATTERN run only shell test scripts whose name matches PATTERN
# Shell test scripts run HR_TEST_JOBS at a time (default: the CPUs, 2 to 4; see below).
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
    # Scripts run HR_TEST_JOBS at a time (default: the CPUs, 2 to 4; 1: one by one): most of a script's wall
    # time is mpirun start-up and teardown with the CPUs idle, so two scripts side by side
    # fill them.  Scripts that share machine-wide state (the local Slurm cluster, network
    # namespaces) or measure memory run one after another in a lane of their own, beside
    # the others.  Each script's output is kept and printed whole when it ends; the summary lists
    # every script's wall, user and system seconds (user and sys include its children: ranks,
    # mpirun, daemons it waited for).  A script that exits non-zero without a "not ok" line
    # (a syntax error, a crash of the script itself) counts as one failure.
    if [ -n "${HR_TEST_JOBS:-}" ]; then
        jobs=$HR_TEST_JOBS
        [ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
    else
        jobs=$(nproc 2>/dev/null || echo 2)
        [ "$jobs" -ge 2 ] 2>/dev/null || jobs=2
        [ "$jobs" -le 4 ] || jobs=4
    fi
    serial_re='test_slurm\.sh|test_multihost|test_netshape|test_scale_memory'
    run_dir=$(mktemp -d)
    serial=() pool=()
    for t in tests/mpi/*.sh tests/integration/*.sh; do
        [ -f "$t" ] || continue
        [ -n "$only" ] && [[ "$t" != *$only* ]] && continue
        if [[ "$t" =~ $serial_re ]]; then serial+=("$t"); else pool+=("$t"); fi
    done
    # the longest scripts (CPU seconds measured on a loaded machine: 55-140) start first, so
    # that the lanes end together instead of one long script running alone at the end
    first_re='test_checkpoint\.sh|test_ingest_ranks|test_train_ranks|test_ease\.sh|test_edges'
    long=() rest=()
    for t in "${pool[@]}"; do if [[ "$t" =~ $first_re ]]; then long+=("$t"); else rest+=("$t"); fi; done
    pool=("${long[@]}" "${rest[@]}")
    all=("${serial[@]}" "${pool[@]}")
    [ "${#all[@]}" -lt "$jobs" ] && jobs=${#all[@]}
    printf '%s\n' "${pool[@]}" >"$run_dir/queue"
    echo 0 >"$run_dir/next"
    run_one() {   # run_one SCRIPT: output to run_dir/N.log, "wall user sys rc" to run_dir/N.time
        local t=$1 n
        n=$(echo "$t" | tr / _)
        local TIMEFORMAT='%R %U %S'
        { time bash "$t" >"$run_dir/$n.log" 2>&1; echo $? >"$run_dir/$n.rc"; } 2>"$run_dir/$n.time"
        # one lock for the terminal: a finished script's output is printed whole
        ( flock 9; echo "== $t"; cat "$run_dir/$n.log" ) 9>"$run_dir/print.lock"
    }
    lane() {      # lane N: scripts from the shared queue; lane S: the serial scripts only
        local t i
        if [ "$1" = S ]; then for t in "${serial[@]}"; do run_one "$t"; done; return; fi
        while :; do
            i=$( ( flock 9; i=$(cat "$run_dir/next"); echo $((i + 1)) >"$run_dir/next"; echo "$i" ) 9>"$run_dir/queue.lock")
            t=$(sed -n "$((i + 1))p" "$run_dir/queue")
            [ -n "$t" ] || break
            run_one "$t"
        done
    }
    if [ "${#all[@]}" -gt 0 ]; then
        # the serial scripts get a lane of their own beside the pool's: they mostly wait (the
        # Slurm test for its daemons and jobs: a third of one CPU over its six minutes), so the
        # pool keeps both CPUs busy meanwhile
        [ "${#serial[@]}" -gt 0 ] && lane S &
        for ((l = 0; l < jobs; l++)); do lane "$l" & done
        wait
    fi
    echo "== shell tests: $jobs at a time; seconds per script (user and sys include children)"
    printf '%-44s %8s %8s %8s %4s %4s %4s\n' script wall user sys ok fail skip
    tw=0 tu=0 ts=0
    for t in "${all[@]}"; do
        n=$(echo "$t" | tr / _)
        touch "$run_dir/$n.log"
        read -r w u sy <"$run_dir/$n.time" 2>/dev/null || { w=0 u=0 sy=0; }
        rc=$(cat "$run_dir/$n.rc" 2>/dev/null || echo 1)
        p=$(grep -c '^ok ' "$run_dir/$n.log"); f=$(grep -c '^not ok ' "$run_dir/$n.log"); s=$(grep -c '^skip ' "$run_dir/$n.log")
        if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
            if [ "$rc" = 77 ] && [ "$p" = 0 ]; then
                s=$((s + 1)); echo "skip $t: $(tail -n 1 "$run_dir/$n.log")"
            else
                f=1; echo "not ok $t (exited $rc without a 'not ok' line)"; tail -n 20 "$run_dir/$n.log" | sed 's/^/    | /'
            fi
        fi
        passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
        printf '%-44s %8s %8s %8s %4d %4d %4d\n' "$t" "$w" "$u" "$sy" "$p" "$f" "$s"
        tw=$(awk -v a="$tw" -v b="$w" 'BEGIN { print a + b }'); tu=$(awk -v a="$tu" -v b="$u" 'BEGIN { print a + b }')
        ts=$(awk -v a="$ts" -v b="$sy" 'BEGIN { print a + b }')
    done
    printf '%-44s %8s %8s %8s  (sum over scripts)\n' total "$tw" "$tu" "$ts"
    rm -rf "$run_dir"
fi
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
