#!/bin/bash
# tests/netns-cluster.sh — several "hosts" on one machine for real multi-host MPI runs.
#
#   netns-cluster.sh up DIR [HOSTS]    make hosts h1..hHOSTS (default 3); root only
#   netns-cluster.sh down DIR          kill what runs in them, remove them
#
# Each host is a network namespace with its own address (NET.1 .. NET.HOSTS on a /24), joined
# by a bridge that lives in a namespace of its own, so nothing is added to the machine's own
# network.  Open MPI starts its daemons on the other hosts through DIR/bin/agent (used like
# ssh) and the ranks talk TCP between hosts, as on a cluster; the file system is shared, as a
# cluster's would be.  Helpers in DIR/bin:
#   nsrun HOST CMD...      run CMD on HOST (its network namespace, hostname HOST)
#   kill-host HOST         SIGKILL every process on HOST (a node dies)
#   cut HOST / heal HOST   take HOST's link down / up (a network partition)
#   shape HOST RATE|off    limit what HOST sends to RATE (tc tbf, e.g. 1gbit) / remove it
# DIR/env.sh points Open MPI at them (agent, hostfile, the eth0 interfaces) and sets TCP
# keepalive so that a lost host ends a job in seconds instead of hanging.
# Namespace names: hrn-sw, hrn-h1.. (HR_NETNS_PREFIX); addresses 10.231.47.x (HR_NETNS_NET).
set -euo pipefail
cmd=${1:-}
D=${2:-}
[ -n "$cmd" ] && [ -n "$D" ] || { echo "usage: netns-cluster.sh up|down DIR [HOSTS]" >&2; exit 2; }
prefix=${HR_NETNS_PREFIX:-hrn}
net=${HR_NETNS_NET:-10.231.47}
sw=$prefix-sw

down() {
    [ -f "$D/namespaces" ] || return 0
    local ns pids
    for ns in $(grep -v -- '-sw$' "$D/namespaces") $sw; do
        ip netns list | awk '{print $1}' | grep -qx "$ns" || continue
        for _ in 1 2 3 4 5; do   # again: a daemon may still be starting ranks while we kill
            pids=$(ip netns pids "$ns")
            [ -z "$pids" ] && break
            kill -KILL $pids 2>/dev/null || true
            sleep 0.2
        done
        ip netns del "$ns"
        rm -rf "/etc/netns/$ns"
    done
    rm -rf "/dev/shm/hpcrec-netns-$prefix" "$D/namespaces" "$D/bin" "$D/env.sh" "$D/hostfile"
}

case "$cmd" in
down) down; exit 0 ;;
up) ;;
*) echo "usage: netns-cluster.sh up|down DIR [HOSTS]" >&2; exit 2 ;;
esac

hosts=${3:-3}
[ "$(id -u)" = 0 ] || { echo "netns-cluster.sh: needs root" >&2; exit 1; }
mkdir -p "$D"
D=$(cd "$D" && pwd)
down
trap 'echo "netns-cluster.sh: failed at line $LINENO" >&2; down' ERR
mkdir -p "$D/bin"
: >"$D/namespaces"
ip netns add "$sw"
echo "$sw" >>"$D/namespaces"
ip -n "$sw" link set lo up
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
: >"$D/hostfile"
for i in $(seq 1 "$hosts"); do
    h=$prefix-h$i
    ip netns add "$h"
    echo "$h" >>"$D/namespaces"
    ip -n "$sw" link add "v$i" type veth peer name eth0 netns "$h"
    ip -n "$sw" link set "v$i" master br0 up
    ip -n "$h" link set lo up
    ip -n "$h" addr add "$net.$i/24" dev eth0
    ip -n "$h" link set eth0 up
    mkdir -p "/etc/netns/$h"   # ip netns exec bind-mounts this over /etc/hosts
    { echo "127.0.0.1 localhost"; for j in $(seq 1 "$hosts"); do echo "$net.$j h$j"; done; } >"/etc/netns/$h/hosts"
    echo "h$i slots=1" >>"$D/hostfile"
done

# HOST (h3 or NET.3) -> namespace; shared by the helpers
cat >"$D/bin/_host" <<EOF
case "\$1" in h[0-9]*) i=\${1#h} ;; $net.*) i=\${1##*.} ;; *) echo "unknown host: \$1" >&2; exit 255 ;; esac
ns=$prefix-h\$i
ip netns list | awk '{print \$1}' | grep -qx "\$ns" || { echo "unknown host: \$1" >&2; exit 255; }
EOF
cat >"$D/bin/nsrun" <<EOF
#!/bin/sh
. "$D/bin/_host"
shift
exec ip netns exec "\$ns" unshare --uts /bin/sh -c 'hostname "\$0" && exec "\$@"' "h\$i" "\$@"
EOF
# Open MPI calls the agent like ssh: agent HOST WORDS...; the words are one shell command.
cat >"$D/bin/agent" <<EOF
#!/bin/sh
. "$D/bin/_host"
shift
exec ip netns exec "\$ns" unshare --uts /bin/sh -c 'hostname "\$0" && exec /bin/sh -c "\$1"' "h\$i" "\$*"
EOF
cat >"$D/bin/kill-host" <<EOF
#!/bin/sh
. "$D/bin/_host"
pids=\$(ip netns pids "\$ns")
[ -z "\$pids" ] || kill -KILL \$pids
EOF
cat >"$D/bin/cut" <<EOF
#!/bin/sh
. "$D/bin/_host"
exec ip -n $sw link set "v\$i" down
EOF
cat >"$D/bin/heal" <<EOF
#!/bin/sh
. "$D/bin/_host"
exec ip -n $sw link set "v\$i" up
EOF
cat >"$D/bin/shape" <<EOF
#!/bin/sh
. "$D/bin/_host"
ip netns exec "\$ns" tc qdisc del dev eth0 root 2>/dev/null
[ "\$2" = off ] && exit 0
# burst: a few ms at the rate, so that the bucket, not the scheduler tick, sets the pace
exec ip netns exec "\$ns" tc qdisc add dev eth0 root tbf rate "\$2" burst 4mb latency 500ms
EOF
chmod 755 "$D"/bin/*
mkdir -p "/dev/shm/hpcrec-netns-$prefix"
cat >"$D/env.sh" <<EOF
export OMPI_MCA_plm_rsh_agent=$D/bin/agent OMPI_MCA_orte_default_hostfile=$D/hostfile
export OMPI_MCA_btl_tcp_if_include=eth0 OMPI_MCA_oob_tcp_if_include=eth0
export OMPI_MCA_btl_vader_backing_directory=/dev/shm/hpcrec-netns-$prefix
export OMPI_MCA_oob_tcp_keepalive_time=3 OMPI_MCA_oob_tcp_keepalive_intvl=1 OMPI_MCA_oob_tcp_keepalive_probes=3
export OMPI_MCA_mpi_yield_when_idle=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PATH=$D/bin:\$PATH
EOF
# h1 must reach every other host: a TCP connect to a closed port answered "refused" proves the path
for i in $(seq 2 "$hosts"); do
    ok=0
    for _ in $(seq 1 20); do
        out=$(timeout 2 ip netns exec "$prefix-h1" bash -c "exec 3<>/dev/tcp/$net.$i/9" 2>&1 || true)
        if grep -qi refused <<<"$out"; then ok=1; break; fi
        sleep 0.1
    done
    [ "$ok" = 1 ] || { echo "netns-cluster.sh: h1 cannot reach h$i" >&2; down; exit 1; }
done
trap - ERR
echo "netns-cluster.sh: hosts h1..h$hosts up ($net.1..$net.$hosts)"
