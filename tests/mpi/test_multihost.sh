#!/bin/bash
# tests/mpi/test_multihost.sh — training across hosts that talk TCP, and a host that dies.
# Three hosts are network namespaces on this machine (tests/netns-cluster.sh): one rank each,
# daemons started through a launch agent as ssh would, ranks exchanging factors over TCP.
#   three-hosts   ials trained on h1..h3 = the same model bit for bit as on 2 local ranks
#   host-dies     every process of h3 SIGKILLed mid-training (checkpoints every 2 iterations):
#                 mpirun ends with an error within 30 s, no process is left on any host, and
#                 --resume on the two hosts left gives the uninterrupted model bit for bit
#   link-cut      h2's network link taken down mid-training: the same, then the link comes
#                 back and the resume runs on all three hosts
# Needs root and `ip netns` (CI has both); skipped with the reason otherwise.
source "$(dirname "$0")/../lib.sh"
TO=${HR_TIMEOUT:-120}
MODEL_DIFF=${HR_MODEL_DIFF:-$HR_ROOT/${HR_BUILD:-build}/tools/model_diff}
NS=$HR_TMP/netns
CLUSTER=$HR_ROOT/tests/netns-cluster.sh
export HR_NETNS_PREFIX=hrt$$ HR_NETNS_NET=10.231.$(( $$ % 200 + 20 ))
trap 'bash "$CLUSTER" down "$NS" >/dev/null 2>&1; rm -rf "$HR_TMP"' EXIT
TRAIN="--algo ials --factors 32 --iters 24 --seed 5"

can_netns() {
    [ "$(id -u)" = 0 ] || { echo "needs root for network namespaces"; return 1; }
    command -v ip >/dev/null || { echo "needs ip (iproute2)"; return 1; }
    ip netns add "hrprobe$$" 2>/dev/null || { echo "cannot create a network namespace here"; return 1; }
    ip netns del "hrprobe$$"
}
setup() {
    [ -f "$HR_TMP/setup.ok" ] && return 0
    local why
    why=$(can_netns) || { echo "$why"; exit 77; }
    bash "$CLUSTER" up "$NS" 3 >/dev/null || fail "cluster up"
    hrt 2 gen --out "$HR_TMP/raw" --users 20000 --items 4000 --interactions 600000 --kind counts --seed 9 >/dev/null || fail "gen"
    hrt 2 ingest --input "$HR_TMP/raw" --out "$HR_TMP/ds" >/dev/null || fail "ingest"
    hrt 2 train --data "$HR_TMP/ds" --out "$HR_TMP/ref.tar" $TRAIN >/dev/null || fail "reference training"
    touch "$HR_TMP/setup.ok"
}
# on HOSTS NP args...: hpcrec under an mpirun started on h1, one rank per host of HOSTS.
on() {
    local hosts=$1 np=$2; shift 2
    ( source "$NS/env.sh"
      timeout -k 5 "$TO" nsrun h1 mpirun --bind-to none --host "$hosts" -np "$np" "$HR_BIN" "$@" )
}
left_on_hosts() {
    local ns n=0
    for ns in $(grep -v -- '-sw$' "$NS/namespaces"); do n=$((n + $(ip netns pids "$ns" | wc -l))); done
    echo "$n"
}
same_model() {
    "$MODEL_DIFF" "$1" "$2" --exact >"$HR_TMP/diff.out" 2>&1 || fail "$2 differs from $1: $(tail -2 "$HR_TMP/diff.out")"
}

case_three_hosts() {
    setup
    local hosts
    hosts=$(source "$NS/env.sh"; timeout 30 nsrun h1 mpirun --host h1,h2,h3 -np 3 hostname | sort | tr '\n' ' ')
    [ "$hosts" = "h1 h2 h3 " ] || fail "ranks not one per host: $hosts"
    on h1,h2,h3 3 train --data "$HR_TMP/ds" --out "$HR_TMP/3h.tar" $TRAIN --json "$HR_TMP/3h.json" >"$HR_TMP/3h.log" 2>&1 \
        || fail "training on 3 hosts: $(tail -5 "$HR_TMP/3h.log")"
    jtrue 'a["ranks"] == 3' "$HR_TMP/3h.json"
    same_model "$HR_TMP/ref.tar" "$HR_TMP/3h.tar"
}

# fault NAME FAULT-COMMAND: train on 3 hosts with checkpoints, apply the fault once checkpoint
# 4 exists, expect mpirun to fail within 30 s and leave nothing behind.
fault() {
    local name=$1 c=$HR_TMP/$1-ckpt pid t0 rc=0; shift
    on h1,h2,h3 3 train --data "$HR_TMP/ds" --out "$HR_TMP/$name-unused.tar" $TRAIN --checkpoint-dir "$c" \
        --checkpoint-every 2 >"$HR_TMP/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
        grep -q 'ckpt-00000[4-9]\|ckpt-0000[1-9]' "$c/LATEST" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q 'ckpt-' "$c/LATEST" 2>/dev/null || fail "no checkpoint before the fault: $(tail -5 "$HR_TMP/$name.log")"
    kill -0 "$pid" 2>/dev/null || fail "training ended before the fault (make it longer)"
    t0=$(date +%s)
    "$@"
    while kill -0 "$pid" 2>/dev/null && [ $(( $(date +%s) - t0 )) -lt 30 ]; do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        fail "mpirun still running 30 s after the fault"
    fi
    wait "$pid" || rc=$?
    [ "$rc" != 0 ] || fail "mpirun exited 0 after the fault"
    echo "# multihost $name: mpirun exit $rc, $(( $(date +%s) - t0 )) s after the fault; last checkpoint $(cat "$c/LATEST")" \
        >"$HR_TMP/$name.note"
}

case_host_dies() {
    setup
    fault dies "$NS/bin/kill-host" h3
    sleep 1
    [ "$(left_on_hosts)" = 0 ] || fail "$(left_on_hosts) processes left on the hosts"
    on h1,h2 2 train --data "$HR_TMP/ds" --out "$HR_TMP/dies.tar" $TRAIN --checkpoint-dir "$HR_TMP/dies-ckpt" --resume \
        >"$HR_TMP/dies-resume.log" 2>&1 || fail "resume on 2 hosts: $(tail -5 "$HR_TMP/dies-resume.log")"
    grep -Eo 'resume +from .*' "$HR_TMP/dies-resume.log" | sed 's/^/# multihost dies: /' >>"$HR_TMP/dies.note"
    same_model "$HR_TMP/ref.tar" "$HR_TMP/dies.tar"
}

case_link_cut() {
    setup
    fault cut "$NS/bin/cut" h2
    "$NS/bin/heal" h2
    sleep 2
    [ "$(left_on_hosts)" = 0 ] || fail "$(left_on_hosts) processes left on the hosts"
    on h1,h2,h3 3 train --data "$HR_TMP/ds" --out "$HR_TMP/cut.tar" $TRAIN --checkpoint-dir "$HR_TMP/cut-ckpt" --resume \
        >"$HR_TMP/cut-resume.log" 2>&1 || fail "resume on 3 hosts: $(tail -5 "$HR_TMP/cut-resume.log")"
    grep -Eo 'resume +from .*' "$HR_TMP/cut-resume.log" | sed 's/^/# multihost cut: /' >>"$HR_TMP/cut.note"
    same_model "$HR_TMP/ref.tar" "$HR_TMP/cut.tar"
}

tcase multihost-three-hosts case_three_hosts
tcase multihost-host-dies-resume case_host_dies
tcase multihost-link-cut-resume case_link_cut
cat "$HR_TMP"/*.note 2>/dev/null
[ "$_fails" = 0 ]
