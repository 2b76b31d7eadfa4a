#!/bin/bash
# tests/mpi/test_netshape.sh — the communication term of docs/scaling.md against a real link.
# Three hosts (network namespaces, tests/netns-cluster.sh), one rank each; every host's outgoing
# link limited by tc's tbf qdisc to 5, 1 and 0.2 Gbit/s (netem does not exist on this kernel:
# the latency is the unshaped link's).  build/tools/exchange_bench runs train's allgather
# exchange alone (16 MB of factor rows per rank, sent to both other ranks); the model predicts
# its time as bytes sent per rank / min(link rate, the unshaped link's rate) + latency (both from
# the unshaped run: namespaces share this machine's CPU, which sets their top rate).  At each
# rate that binds (below the unshaped rate) the measured time must lie within 0.7x .. 2x of the
# prediction (0.2 Gbit/s binds even when a busy machine holds the unshaped link below 1 Gbit/s;
# a machine too busy for that skips).  (`make bench` runs a
# training on the shaped hosts too: BENCH_ONLY=netshape.)  Skipped with the reason without
# root, `ip netns` or tc's tbf.
source "$(dirname "$0")/../lib.sh"
TO=${HR_TIMEOUT:-180}
NS=$HR_TMP/netns
CLUSTER=$HR_ROOT/tests/netns-cluster.sh
export HR_NETNS_PREFIX=hrs$$ HR_NETNS_NET=10.232.$(( $$ % 200 + 20 ))
trap 'bash "$CLUSTER" down "$NS" >/dev/null 2>&1; rm -rf "$HR_TMP"' EXIT
BENCH=$HR_ROOT/${HR_BUILD:-build}/tools/exchange_bench

can_shape() {
    [ "$(id -u)" = 0 ] || { echo "needs root for network namespaces and tc"; return 1; }
    command -v ip >/dev/null || { echo "needs ip (iproute2)"; return 1; }
    command -v tc >/dev/null || { echo "needs tc (iproute2)"; return 1; }
    ip netns add "hrsprobe$$" 2>/dev/null || { echo "cannot create a network namespace here"; return 1; }
    local ok=0
    ip netns exec "hrsprobe$$" ip link add hrsp0 type veth peer name hrsp1 2>/dev/null &&
        ip netns exec "hrsprobe$$" tc qdisc add dev hrsp0 root tbf rate 1gbit burst 4mb latency 500ms 2>/dev/null && ok=1
    ip netns del "hrsprobe$$"
    [ "$ok" = 1 ] || { echo "tc tbf is not available on this kernel"; return 1; }
}

on3x() {
    ( source "$NS/env.sh"
      timeout -k 5 "$TO" nsrun h1 mpirun --bind-to none --host h1,h2,h3 -np 3 "$@" )
}

shape_all() {
    local h
    for h in h1 h2 h3; do "$NS/bin/shape" $h "$1" || fail "shape $h $1"; done
}

case_shaped() {
    local why
    why=$(can_shape) || { echo "$why"; exit 77; }
    [ -x "$BENCH" ] || fail "$BENCH not built (make)"
    bash "$CLUSTER" up "$NS" 3 >/dev/null || fail "cluster up"
    local r
    for r in off 5gbit 1gbit 200mbit; do
        shape_all $r
        on3x "$BENCH" 32768 128 3 >"$HR_TMP/x-$r.json" || fail "exchange_bench at $r"
    done
    python3 - "$HR_TMP" <<'EOF' | tee -a "$HR_TMP/notes"
import json, sys
d = sys.argv[1]
m = {r: json.load(open("%s/x-%s.json" % (d, r))) for r in ("off", "5gbit", "1gbit", "200mbit")}
# the unshaped link (veth pairs between namespaces: the machine's CPU sets its rate) gives the
# latency and the ceiling a shaped link cannot exceed
lat = m["off"]["latency_seconds"]
top = m["off"]["bytes_sent_per_rank"] * 8 / max(m["off"]["seconds"] - lat, 1e-9)
ok = True
print("# netshape unshaped: %.1f MB per rank in %.3f s (%.2f Gbit/s), latency %.0f us per exchange"
      % (m["off"]["bytes_sent_per_rank"] / 1e6, m["off"]["seconds"], top / 1e9, lat * 1e6))
binding = 0
for r, bps in (("5gbit", 5e9), ("1gbit", 1e9), ("200mbit", 2e8)):
    j = m[r]
    pred = j["bytes_sent_per_rank"] * 8 / min(bps, top) + lat
    ratio = j["seconds"] / pred
    binds = bps < 0.8 * top   # the shaper, not the machine, sets the rate
    print("# netshape %s: %.1f MB sent per rank per exchange, predicted %.3f s, measured %.3f s (x%.2f)%s"
          % (r, j["bytes_sent_per_rank"] / 1e6, pred, j["seconds"], ratio, "" if binds else " (not binding: the unshaped link is slower)"))
    if binds:
        binding += 1
        ok = ok and 0.7 <= ratio <= 2.0
if not binding:
    print("# netshape: no rate binds (the unshaped link runs at %.2f Gbit/s on this busy machine)" % (top / 1e9))
    sys.exit(77)
sys.exit(0 if ok else 1)
EOF
    local st=${PIPESTATUS[0]}
    [ "$st" = 77 ] && { echo "no shaped rate binds: the machine is too busy"; exit 77; }
    [ "$st" = 0 ] || fail "exchange time against the link rate"
}

tcase netshape-exchange-vs-link-rate case_shaped
cat "$HR_TMP/notes" 2>/dev/null
[ "$_fails" = 0 ]
