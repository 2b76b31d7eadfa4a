#!/bin/bash
# tests/mpi/test_ridge_grid.sh — the content ridge of evaluate --cold-items (jobs/content_ridge.h)
# on the ScaLAPACK grid against the dense reference (hr_ridge_accumulate + hr_ridge_solve of every
# item on one rank), build/tools/ridge_check on 1-4 ranks (grids 1x1, 1x2, 1x3, 2x2):
#   grid paths   blocks of 16 features (many tiles per rank), the targets' columns crossing a
#                block boundary, 33 targets, a tiny lambda, no items at all; W within 1e-4 of
#                the reference (relative to its largest entry) and the same bits on every rank
#   allreduce    the replicated path on the same problem
#   rounds       on 4 ranks the assembly in many bounded rounds (HR_EASE_ROUND_WORDS)
#   bad feature  a feature index >= nf on the last rank only: every rank returns the error
source "$(dirname "$0")/../lib.sh"
TOOL=$HR_ROOT/${HR_BUILD:-build}/tools/ridge_check

case_np() {
    [ -x "$TOOL" ] || fail "$TOOL not built (make)"
    local np=$1 words=0 out rc=0
    [ "$np" = 4 ] && words=500
    local checks="300:250:10:1:1:yes 300:250:10:1:1:no 500:130:33:2:0.01:yes 400:97:5:3:3:auto 0:50:4:3:1:yes bad:60:yes bad:60:no"
    out=$(HR_RIDGE_BLOCK=16 HR_EASE_ROUND_WORDS=$words timeout -k 5 60 mpirun --oversubscribe --bind-to none -np "$np" \
        -x HR_RIDGE_BLOCK -x HR_EASE_ROUND_WORDS "$TOOL" $checks 2>&1) || rc=$?
    echo "$out" | grep -v '^\['
    [ "$rc" = 0 ] || fail "ridge_check on $np ranks: exit $rc"
    [ "$(echo "$out" | grep -c PASSED)" = "$(echo $checks | wc -w)" ] || fail "ridge_check on $np ranks: not every check passed"
    if [ "$np" = 4 ]; then
        echo "$out" | grep -Eq '2 x 2 grid .*\(([2-9]|[1-9][0-9]+) rounds\)' || fail "expected several assembly rounds on the 2 x 2 grid"
    fi
}

for np in 1 2 3 4; do tcase "ridge-grid-np$np" case_np "$np"; done
[ "$_fails" = 0 ]
