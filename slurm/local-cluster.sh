#!/bin/bash
# slurm/local-cluster.sh — a private Slurm cluster on this one machine, for trying the hpcrec
# jobs and for the Slurm integration tests (tests/integration/test_slurm.sh).
#
# Usage: local-cluster.sh up     [-n NODES] [-c CPUS] [-m MEM_MB] [-p PORT] [-w WAIT_S] [DIR]
#        local-cluster.sh down   [--purge] [DIR]
#        local-cluster.sh status [DIR]
#   DIR        all state (config, munge key and socket, spool, TmpFS, logs, pid files);
#              default /tmp/hpcrec-slurm; must not contain spaces (slurm.conf cannot quote).
#              It must be root's: a missing DIR is created with mode 0711 (only root can list
#              or write it; the execute bit for all is what munged requires on every directory
#              above its socket, so it runs without --force); an existing DIR, and every
#              directory above it, must be owned by root and not writable by group or others
#              (root-owned sticky directories such as /tmp excepted), else up, down and status
#              refuse it.  Every up writes a new munge key (umask 077), never reusing one.
#   -n NODES   slurmd "nodes" n1..nNODES (default 2)
#   -c CPUS    CPUs each node claims (default 2: the scheduler's view, not a reservation)
#   -m MEM_MB  RealMemory each node claims (default 4096)
#   -p PORT    first TCP port on 127.0.0.1: slurmctld PORT, node i PORT+i (default 17817;
#              moves up by 100 while the block is busy)
#   -w WAIT_S  seconds to wait for every node to be idle (default 60)
#
# up      starts munged (private key and socket), slurmctld and one slurmd per node, each in
#         its own UTS namespace (hostname = node name) with its own port, spool and TmpFS.
#         Open MPI's shared-memory files go to a new mktemp -d directory under /dev/shm.
#         Idempotent: a cluster that is fully up is only reported; a partial one is stopped
#         and started afresh (stale spool/TmpFS of the nodes and the controller state wiped).
#         Writes DIR/env.sh: `source DIR/env.sh` sets SLURM_CONF and the Open MPI / PMIx
#         settings jobs need here (yield when idle, PMIX_MCA_gds=hash, TCP on lo, 1 BLAS thread).
# down    cancels the jobs, stops the slurmds and whatever still runs in their namespaces
#         (slurmstepd, job tasks), then slurmctld and munged: only processes this script
#         started (pid files, checked against /proc), each TERM then KILL. Safe to repeat.
#         --purge also deletes DIR.
# status  daemons, nodes (sinfo) and jobs (squeue); exit 0 only when everything is up.
# Needs root (slurmd), util-linux unshare, Slurm 22.05 and munge (tests/deps.sh installs them).
set -euo pipefail
# shellcheck source=slurm/lib/trust.sh
source "$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/lib/trust.sh"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "local-cluster: $*" >&2; exit 1; }

cmd=${1:-}
[ $# -gt 0 ] && shift
nodes=2 cpus=2 mem=4096 base=17817 wait_s=60 purge=0
case "$cmd" in
    up)
        while getopts "n:c:m:p:w:h" opt; do
            case "$opt" in
                n) nodes=$OPTARG ;; c) cpus=$OPTARG ;; m) mem=$OPTARG ;; p) base=$OPTARG ;; w) wait_s=$OPTARG ;;
                h) usage; exit 0 ;;
                *) usage >&2; exit 2 ;;
            esac
        done
        shift $((OPTIND - 1)) ;;
    down)
        while [ $# -gt 0 ]; do
            case "$1" in --purge) purge=1; shift ;; -h|--help) usage; exit 0 ;; *) break ;; esac
        done ;;
    status) ;;
    -h|--help|help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
for v in nodes cpus mem base wait_s; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "local-cluster: -${v:0:1} needs a number, got '${!v}'" >&2; exit 2; }
done
[ "$nodes" -ge 1 ] && [ "$nodes" -le 32 ] || { echo "local-cluster: NODES must be 1..32" >&2; exit 2; }

D=${1:-/tmp/hpcrec-slurm}
case "$D" in *[[:space:]]*) echo "local-cluster: DIR must not contain white space: '$D'" >&2; exit 2 ;; esac
MARK=.hpcrec-local-cluster

# ---- helpers ---------------------------------------------------------------------------------
# pid_of FILE NAME: the pid in FILE if it is a live process called NAME started for this DIR
pid_of() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(tr -dc '0-9' <"$1")
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "HPCREC_LOCAL_SLURM=$D" || return 1
    echo "$pid"
}
alive() { local s; s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]; }
# stop_pids GRACE PID...: TERM, up to GRACE s, then KILL what is left
stop_pids() {
    local grace=$1 p left=() _; shift
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 1 $((grace * 10))); do
        left=()
        for p in "$@"; do alive "$p" && left+=("$p"); done
        [ ${#left[@]} -eq 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${left[@]}" 2>/dev/null || true
    sleep 0.2
}
# marked_pids: every live process carrying this cluster's marker (daemons, slurmstepd, tasks),
# except this script and its ancestors
marked_pids() {
    local me=" " a=$$ f p
    while [ -n "$a" ] && [ "$a" -gt 1 ] 2>/dev/null; do
        me+="$a "
        a=$(awk '/^PPid:/ { print $2 }' "/proc/$a/status" 2>/dev/null)
    done
    for f in $(grep -lzxF "HPCREC_LOCAL_SLURM=$D" /proc/[0-9]*/environ 2>/dev/null); do
        p=${f#/proc/}; p=${p%%/*}
        [[ "$me" == *" $p "* ]] || ! alive "$p" || echo "$p"
    done
}
# pids_in_uts NSLINK: processes in that UTS namespace that carry the marker
pids_in_uts() {
    local link path p
    [ -n "$1" ] && [ "$1" != "$(readlink /proc/self/ns/uts)" ] || return 0
    while read -r link path; do
        [ "$link" = "$1" ] || continue
        p=${path#/proc/}; p=${p%%/*}
        { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "HPCREC_LOCAL_SLURM=$D" && echo "$p"
    done < <(find /proc/[0-9]*/ns/uts -maxdepth 0 -printf '%l %p\n' 2>/dev/null)
}
node_list() { seq 1 "$1" | sed 's/^/n/'; }
# dir_ok: DIR is a real directory (not a symlink) that only root can write, on a trusted path
# (lib/trust.sh as root: every directory above owned by root and not writable by others)
dir_ok() {
    [ ! -L "$D" ] || die "$D is a symbolic link; not using it"
    hr_trust_path "$D" root || die "refusing the state directory: $HR_WHY"
    [ "$(stat -c %u -- "$D")" = 0 ] || die "refusing the state directory: $D is not owned by root"
}
# shm_dir: the /dev/shm directory this cluster made (recorded in DIR/run, which only root can
# write), or nothing when the record is missing or does not name such a directory
shm_dir() {
    local f
    [ -f "$D/run/shmdir" ] || return 1
    f=$(head -n 1 "$D/run/shmdir")
    [[ $f =~ ^/dev/shm/hpcrec-slurm\.[A-Za-z0-9]{10}$ ]] && [ -d "$f" ] && [ ! -L "$f" ] &&
        [ "$(stat -c %u -- "$f")" = 0 ] || return 1
    printf '%s' "$f"
}
ctl() { SLURM_CONF=$D/slurm.conf timeout 10 "$@"; }

all_up() {
    [ -f "$D/$MARK" ] && [ -s "$D/run/nodes" ] || return 1
    local n nd
    n=$(cat "$D/run/nodes")
    [ "$cmd" != up ] || [ "$n" = "$nodes" ] || return 1
    pid_of "$D/run/munged.pid" munged >/dev/null || return 1
    pid_of "$D/run/slurmctld.pid" slurmctld >/dev/null || return 1
    for nd in $(node_list "$n"); do pid_of "$D/run/slurmd-$nd.pid" slurmd >/dev/null || return 1; done
}

do_down() {
    [ -d "$D" ] || { echo "local-cluster: $D does not exist; nothing to stop"; return 0; }
    dir_ok
    [ -f "$D/$MARK" ] || die "$D was not made by local-cluster.sh; not touching it"
    local stopped=0 ctld nd pid jobs rest=() sd=() left=() f _
    declare -A uts=()
    ctld=$(pid_of "$D/run/slurmctld.pid" slurmctld || true)
    # 1. jobs, while the controller can still reach the nodes
    if [ -n "$ctld" ]; then
        jobs=$(ctl squeue -h -o %i 2>/dev/null | tr '\n' ' ' || true)
        if [ -n "${jobs// /}" ]; then
            # shellcheck disable=SC2086  # job ids are digits and _ only
            ctl scancel $jobs 2>/dev/null || true
            for _ in $(seq 1 50); do
                [ -z "$(ctl squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    # 2. nodes: slurmd, then what is left in its UTS namespace (slurmstepd, tasks)
    for f in "$D"/run/slurmd-*.pid "$D"/run/*.uts; do
        [ -e "$f" ] || continue
        nd=$(basename "$f"); nd=${nd#slurmd-}; nd=${nd%.pid}; nd=${nd%.uts}
        if pid=$(pid_of "$D/run/slurmd-$nd.pid" slurmd); then
            sd+=("$pid"); uts[$nd]=$(readlink "/proc/$pid/ns/uts" 2>/dev/null || true)
        elif [ -s "$D/run/$nd.uts" ]; then
            uts[$nd]=$(cat "$D/run/$nd.uts")
        fi
    done
    stop_pids 10 "${sd[@]}"
    stopped=$((stopped + ${#sd[@]}))
    for nd in "${!uts[@]}"; do
        mapfile -t -O "${#rest[@]}" rest < <(pids_in_uts "${uts[$nd]}")
        rm -f "$D/run/slurmd-$nd.pid" "$D/run/$nd.uts"
    done
    stop_pids 5 "${rest[@]}"
    stopped=$((stopped + ${#rest[@]}))
    # 3. controller, munge
    if [ -n "$ctld" ]; then stop_pids 10 "$ctld"; stopped=$((stopped + 1)); fi
    if pid=$(pid_of "$D/run/munged.pid" munged); then stop_pids 10 "$pid"; stopped=$((stopped + 1)); fi
    # 4. anything else still carrying the marker
    mapfile -t left < <(marked_pids)
    if [ ${#left[@]} -gt 0 ]; then stop_pids 5 "${left[@]}"; stopped=$((stopped + ${#left[@]})); fi
    mapfile -t left < <(marked_pids)
    [ ${#left[@]} -eq 0 ] || die "could not stop process(es) ${left[*]}"
    if f=$(shm_dir); then rm -rf -- "$f"; fi
    rm -rf -- "${D:?}/run" "${D:?}/spool" "${D:?}/tmp" "$D/munge/munge.socket" "$D/munge/munge.socket.lock"
    if [ "$purge" = 1 ]; then
        rm -rf -- "${D:?}"
        echo "local-cluster: stopped $stopped process(es), removed $D"
    else
        echo "local-cluster: stopped $stopped process(es); logs kept in $D/log"
    fi
}

do_status() {
    [ -d "$D" ] || { echo "local-cluster: no cluster in $D"; return 1; }
    dir_ok
    [ -f "$D/$MARK" ] || { echo "local-cluster: no cluster in $D"; return 1; }
    local n=0 nd up=1 p
    [ -s "$D/run/nodes" ] && n=$(cat "$D/run/nodes")
    p=$(pid_of "$D/run/munged.pid" munged || echo -); [ "$p" != - ] || up=0
    echo "munged     pid $p"
    p=$(pid_of "$D/run/slurmctld.pid" slurmctld || echo -); [ "$p" != - ] || up=0
    echo "slurmctld  pid $p  ($(sed -n 's/^SlurmctldPort=//p' "$D/slurm.conf" 2>/dev/null || echo '?') on 127.0.0.1)"
    for nd in $(node_list "$n"); do
        p=$(pid_of "$D/run/slurmd-$nd.pid" slurmd || echo -); [ "$p" != - ] || up=0
        echo "slurmd $nd  pid $p"
    done
    [ "$n" -gt 0 ] || up=0
    if [ "$up" = 1 ]; then
        echo "-- nodes"; ctl sinfo -N -o '%N %T %c %m %P' || true
        echo "-- jobs";  ctl squeue -o '%i %j %T %M %l %D %R' || true
        echo "local-cluster: up ($n nodes); source $D/env.sh to use it"
        return 0
    fi
    echo "local-cluster: not (fully) up"
    return 1
}

# ---- up ------------------------------------------------------------------------------------
do_up() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (slurmd starts job processes as their user)"
    local b
    for b in munged slurmctld slurmd sinfo scontrol squeue scancel unshare ss; do
        command -v "$b" >/dev/null || die "$b not found (install: tests/deps.sh, or apt-get install slurm-wlm munge)"
    done
    if [ ! -e "$D" ] && [ ! -L "$D" ]; then
        hr_trust_missing "$D" || die "refusing to create the state directory $D: $HR_WHY"
        mkdir -p -- "$(dirname -- "$D")"
        mkdir -m 0711 -- "$D" || die "cannot create $D"
    fi
    D=$(cd "$D" && pwd)
    dir_ok
    if all_up; then
        echo "local-cluster: already running"
        do_status
        return 0
    fi
    [ -f "$D/$MARK" ] && do_down >/dev/null
    [ -z "$(ls -A "$D" 2>/dev/null | grep -vxE 'log|munge|state|slurm.conf|env.sh|task_prolog.sh|'"$MARK")" ] ||
        die "$D holds other files; use an empty or a local-cluster directory"
    local t0 p busy nd ok shm
    t0=$(date +%s.%N)
    for _ in $(seq 0 20); do
        busy=0
        for p in $(seq "$base" $((base + nodes))); do
            [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] || { busy=1; break; }
        done
        [ "$busy" = 0 ] && break
        base=$((base + 100))
    done
    [ "$busy" = 0 ] || die "no free block of $((nodes + 1)) TCP ports found"

    fail_up() {
        echo "local-cluster: $*" >&2
        local f
        for f in "$D"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 6 "$f" >&2; }; done
        do_down >/dev/null 2>&1 || true
        exit 1
    }
    rm -rf -- "${D:?}/state" "${D:?}/spool" "${D:?}/tmp" "${D:?}/run" "${D:?}/munge"
    # modes munged accepts without --force: the socket directory and every directory above it
    # executable by all (not readable, not writable); the key, pid, log and seed directories
    # writable by root only
    mkdir -p "$D/log"
    mkdir -m 0700 "$D/state" "$D/run"
    mkdir -m 0711 "$D/munge" "$D/tmp" "$D/spool"
    chmod 0700 "$D/log"
    chmod 0711 "$D"
    touch "$D/$MARK"
    echo "$nodes" >"$D/run/nodes"
    export HPCREC_LOCAL_SLURM=$D   # marks every process of this cluster (inherited by slurmstepd)

    # a new key on every start, never readable by anyone but root, not even while written
    ( umask 077 && head -c 1024 /dev/urandom >"$D/munge/munge.key" ) || fail_up "cannot write the munge key"
    chmod 400 "$D/munge/munge.key"
    munged --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" \
        --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed" \
        </dev/null >>"$D/log/munged.log" 2>&1 || fail_up "munged did not start"
    for _ in $(seq 1 50); do [ -S "$D/munge/munge.socket" ] && break; sleep 0.1; done
    pid_of "$D/run/munged.pid" munged >/dev/null || fail_up "munged did not stay up"

    # Open MPI's shared-memory files go to a new directory of this cluster (removed by down);
    # sticky and world-writable like /dev/shm itself, for jobs of any user
    shm=$(mktemp -d /dev/shm/hpcrec-slurm.XXXXXXXXXX) || fail_up "cannot create a directory in /dev/shm"
    chmod 1777 "$shm"
    echo "$shm" >"$D/run/shmdir"
    cat >"$D/task_prolog.sh" <<EOF
#!/bin/sh
# TaskProlog: "export NAME=VALUE" lines enter every task's environment
echo "export HPCREC_LOCAL_SLURM=$D"
echo "export TMPDIR=$D/tmp/\${SLURMD_NODENAME}"
echo "export OMPI_MCA_btl_vader_backing_directory=$shm"
EOF
    chmod 755 "$D/task_prolog.sh"
    {
        cat <<EOF
# written by slurm/local-cluster.sh: one host, each node a slurmd on 127.0.0.1
ClusterName=hpcrec$(( base % 1000 ))
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$base
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket,cred_expire=15
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
TmpFS=$D/tmp/%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TaskProlog=$D/task_prolog.sh
JobContainerType=job_container/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=pmix
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
# no DependencyParameters=kill_invalid_depend, as on most sites: jobs that must be cancelled
# when their dependency fails ask for it (sbatch --kill-on-invalid-dep=yes)
JobRequeue=1
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
KillOnBadExit=1
PropagateResourceLimits=NONE
FirstJobId=$(( (RANDOM % 900 + 100) * 1000 ))
EOF
        for nd in $(node_list "$nodes"); do
            echo "NodeName=$nd NodeHostname=$nd NodeAddr=127.0.0.1 Port=$((base + ${nd#n})) CPUs=$cpus RealMemory=$mem State=UNKNOWN"
        done
        echo "PartitionName=batch Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    } >"$D/slurm.conf"
    {
        echo "# source this file to use the local Slurm cluster in $D"
        printf 'export SLURM_CONF=%q\n' "$D/slurm.conf"
        echo "# more ranks than cores: yield instead of busy-polling (else 4-15x slower)"
        echo "export OMPI_MCA_mpi_yield_when_idle=1"
        echo "# srun across nodes crashes or hangs in MPI_Init in a few % of runs without this"
        echo "export PMIX_MCA_gds=hash"
        echo "export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo"
        echo "export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1"
        echo "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
    } >"$D/env.sh"
    export SLURM_CONF=$D/slurm.conf

    slurmctld -f "$D/slurm.conf" </dev/null >/dev/null 2>&1 || fail_up "slurmctld did not start"
    ok=0
    for _ in $(seq 1 100); do
        if ctl scontrol ping 2>/dev/null | grep -q ' is UP'; then ok=1; break; fi
        sleep 0.1
    done
    [ "$ok" = 1 ] || fail_up "slurmctld does not answer"
    for nd in $(node_list "$nodes"); do
        mkdir -m 0711 "$D/spool/$nd"
        mkdir -m 1777 "$D/tmp/$nd"
        unshare --uts /bin/sh -c 'hostname "$1" && exec slurmd -f "$2" -N "$1"' sh "$nd" "$D/slurm.conf" \
            </dev/null >/dev/null 2>&1 || fail_up "slurmd $nd did not start (unshare --uts needs CAP_SYS_ADMIN)"
    done
    for nd in $(node_list "$nodes"); do
        for _ in $(seq 1 100); do pid_of "$D/run/slurmd-$nd.pid" slurmd >/dev/null && break; sleep 0.1; done
        p=$(pid_of "$D/run/slurmd-$nd.pid" slurmd) || fail_up "slurmd $nd did not stay up"
        readlink "/proc/$p/ns/uts" >"$D/run/$nd.uts"
    done
    local deadline states
    deadline=$(( $(date +%s) + wait_s ))
    while :; do
        states=$(ctl sinfo -h -N -o '%T' 2>/dev/null | sort -u | tr '\n' ' ')
        [ "$states" = "idle " ] && break
        [ "$(date +%s)" -lt "$deadline" ] || fail_up "nodes not idle after ${wait_s}s (states: $states)"
        sleep 0.2
    done
    awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$nodes" -v d="$D" \
        'BEGIN { printf "local-cluster: %d node(s) up in %.1fs; source %s/env.sh to use it\n", n, b - a, d }'
}

case "$cmd" in
    up) do_up ;;
    down) if [ -d "$D" ]; then D=$(cd "$D" && pwd); fi; do_down ;;
    status) if [ -d "$D" ]; then D=$(cd "$D" && pwd); fi; do_status ;;
esac
