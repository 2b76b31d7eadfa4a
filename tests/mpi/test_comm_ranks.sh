#!/bin/bash
# tests/mpi/test_comm_ranks.sh — collectives whose protocol depends on sizes agree on it on
# every rank (mpi/comm.c): build/tools/comm_check on 2, 3 and 4 ranks with the per-call count
# limit lowered to 64 elements, so a rank whose totals pass the limit meets ranks whose totals
# do not (the all-to-all, the gathers, the ring's chunk loop, a receive buffer too small on one
# rank).  Before the ranks agreed, these cases hung: each run is bounded by 30 s.
source "$(dirname "$0")/../lib.sh"
TOOL=$HR_ROOT/${HR_BUILD:-build}/tools/comm_check

case_np() {
    [ -x "$TOOL" ] || fail "$TOOL not built (make)"
    local out rc=0
    out=$(timeout -k 5 30 mpirun --oversubscribe --bind-to none -np "$1" "$TOOL" 64 2>&1) || rc=$?
    echo "$out"
    [ "$rc" = 124 ] && fail "hung on $1 ranks (killed after 30 s)"
    [ "$rc" = 0 ] || fail "exit $rc on $1 ranks"
    [ "$(echo "$out" | grep -c '^ok ')" = 6 ] || fail "expected 6 ok lines"
}

for np in 2 3 4; do tcase "comm-protocol-agreement-np$np" case_np "$np"; done
