#!/bin/bash
# tests/integration/test_slurm_trust.sh — the trust boundaries of the Slurm scripts (issue "Slurm
# jobs on a shared cluster: trust boundaries, permissions, and a rollback that stays rolled
# back"), with a second, untrusted user (nobody) on the same file systems.  No Slurm daemon
# is needed: every case is refused or handled before anything would be submitted (sbatch and
# squeue are replaced by stand-ins that record calls).  The daemon-based cases (rollback
# markers, published modes, a bundled job surviving an upgrade, the links lock) are in
# test_slurm.sh.
#   roots        a WORK_ROOT made by nobody in a sticky shared directory (the /tmp default
#                of old) and one under a directory writable by others: backfill.sh and
#                nightly.sbatch exit 2 before any work, nothing created or submitted; a
#                group-writable parent only with SHARED_GROUP
#   symlinks     a day directory planted as a symlink to a victim directory, one owned by
#                nobody: refused (exit 2), the victim untouched; a configuration file or
#                HPCREC_BIN of nobody or writable by others: refused
#   files        the library's file helpers: a symlink planted at WORK_ROOT/DAY/init is
#                replaced, not followed; publish.log as a symlink is refused; private
#                directories; key files (secret) must be 0600; KEEP_DAYS pruning never
#                prunes current, previous or a rollback target
#   config       "\x" keeps its backslash; ENV names of the scripts, the shell or the loader
#                are refused; the roots have no default; dry run: --kill-on-invalid-dep=yes
#                and a % of WORK_ROOT written %% in --output
#   exit-codes   nightly.sbatch without Slurm (mpirun): a HPCREC_BIN that is missing is a
#                configuration error found before work (exit 2); an INGEST_ARGS option that
#                hpcrec refuses (its exit 2) comes from a step, so the job exits 1 and names
#                the key
#   squeue       squeue failing (controller timeout): backfill exits 1, sbatch never called
#   disk-full    a full WORK_ROOT (tmpfs): exit 1, no half-written configuration left
#   cluster-dir  local-cluster.sh refuses a state directory owned by nobody or writable by
#                others; `down` never deletes a /dev/shm path planted in a state directory
# Skipped (one line) when not root (chown, setpriv, mount need it).
source "$(dirname "$0")/../lib.sh"
SL=$HR_ROOT/slurm
D1=2026-11-01 D2=2026-11-02

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
    echo "skip slurm-trust: needs root, setpriv and the user nobody"
    exit 0
fi
# a shared directory like /tmp (root-owned, sticky, writable by all): nobody can reach it
S=$(mktemp -d /tmp/hpcrec-shared.XXXXXX)
chmod 1777 "$S"
SHM_PROBE=/dev/shm/hpcrec-slurm-$$
cleanup() {
    rm -rf "$S" "$SHM_PROBE"
    if [ -n "${HR_KEEP_TMP:-}" ]; then echo "# kept $HR_TMP"; else rm -rf "$HR_TMP"; fi
}
trap cleanup EXIT
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
# stand-ins for sbatch and squeue: record every call; squeue answers an empty queue
STUB=$HR_TMP/stub
mkdir -p "$STUB"
printf '#!/bin/sh\necho "sbatch $*" >>"%s/calls"\necho 4242\n' "$STUB" >"$STUB/sbatch"
printf '#!/bin/sh\necho "squeue $*" >>"%s/calls"\n' "$STUB" >"$STUB/squeue"
chmod 755 "$STUB/sbatch" "$STUB/squeue"
export PATH="$STUB:$PATH"
# a victim: what an attacker would like the job to delete, fill or truncate
V=$S/victim
mkdir -p "$V/data"
echo precious >"$V/data/keep"
echo precious >"$V/target"
victim_ok() {
    [ "$(cat "$V/data/keep" 2>/dev/null)" = precious ] && [ "$(cat "$V/target")" = precious ] &&
        [ "$(find "$V" | wc -l)" = 4 ] || fail "the victim directory was changed: $(find "$V" -printf '%p %s\n')"
}
# conf FILE ROOT: a configuration with roots under ROOT (data: a real day directory)
mkdir -p "$HR_TMP/logs/$D1" "$HR_TMP/logs/$D2"
conf() {
    {
        printf 'HPCREC_BIN="%s"\nDATA_ROOT="%s"\n' "$HR_BIN" "$HR_TMP/logs"
        printf 'MODEL_ROOT="%s/models"\nWORK_ROOT="%s/work"\n' "$2" "$2"
    } >"$1"
}
no_submission() { [ ! -s "$STUB/calls" ] || ! grep -q '^sbatch' "$STUB/calls" || fail "sbatch was called: $(cat "$STUB/calls")"; }

# ---- roots ---------------------------------------------------------------------------------
case_roots() {
    local c=$HR_TMP/a.conf
    # (a) nobody made WORK_ROOT (and a configuration in it) in the shared directory first
    as_nobody mkdir -m 777 "$S/a" "$S/a/work" "$S/a/work/.backfill"
    as_nobody sh -c 'echo "HPCREC_BIN=/bin/sh" >"$1/a/work/.backfill/x.conf"' _ "$S"
    conf "$c" "$S/a"
    : >"$STUB/calls"
    expect_fail 2 "(MODEL|WORK)_ROOT $S/a/(models|work): $S/a is owned by nobody" "$SL/backfill.sh" $D1 $D1 --config "$c"
    expect_fail 2 "owned by nobody" bash "$SL/nightly.sbatch" --day $D1 --config "$c" --launcher mpirun
    no_submission
    [ ! -e "$S/a/models" ] && [ "$(ls -A "$S/a/work")" = .backfill ] && [ "$(ls -A "$S/a/work/.backfill")" = x.conf ] ||
        fail "something was created before the refusal: $(find "$S/a")"
    # (b) a root-owned directory that others can write (no sticky bit) above the roots
    mkdir -m 777 "$S/b"
    conf "$c" "$S/b/site"
    expect_fail 2 "MODEL_ROOT $S/b/site/models: $S/b is writable by others" "$SL/backfill.sh" $D1 $D1 --config "$c"
    [ ! -e "$S/b/site" ] || fail "a root was created under an unsafe directory"
    # a sticky directory is fine above a root, not as the root itself
    expect_fail 2 "WORK_ROOT $S: $S is writable by others .*a root must not be" "$SL/backfill.sh" $D1 $D1 --config "$c" --dry-run --model-root "$HR_TMP/m-ok" --work-root "$S"
    # (c) a project directory writable by its group: only when that group is SHARED_GROUP
    mkdir "$S/p"; chgrp daemon "$S/p"; chmod 2770 "$S/p"
    conf "$c" "$S/p/site"
    expect_fail 2 "$S/p is writable by its group daemon" "$SL/backfill.sh" $D1 $D1 --config "$c" --dry-run
    "$SL/backfill.sh" $D1 $D1 --config "$c" --dry-run --shared-group daemon >"$HR_TMP/p.out" 2>&1 ||
        fail "SHARED_GROUP=daemon: $(cat "$HR_TMP/p.out")"
    no_submission
}

# ---- planted symlinks, other users' files ----------------------------------------------------
case_symlinks() {
    local c=$HR_TMP/d.conf w=$S/d/work
    mkdir -p "$w" "$S/d/models"
    # while WORK_ROOT was open (a mistake, since fixed), nobody planted day directories
    chmod 777 "$w"
    as_nobody ln -s "$V" "$w/$D1"
    as_nobody mkdir "$w/$D2"
    chmod 755 "$w"
    ln -s "$V/target" "$S/d/models/publish.log"
    conf "$c" "$S/d"
    expect_fail 2 "work directory is refused: $w/$D1 is a symbolic link" bash "$SL/nightly.sbatch" --day $D1 --config "$c" --launcher mpirun
    expect_fail 2 "work directory is refused: $w/$D2 is owned by nobody" bash "$SL/nightly.sbatch" --day $D2 --config "$c" --launcher mpirun
    : >"$STUB/calls"
    expect_fail 2 "$D1: refused: $w/$D1 is a symbolic link" "$SL/backfill.sh" $D1 $D2 --config "$c"
    no_submission
    victim_ok
    # the configuration file is as trusted as code; so is the binary
    cp "$c" "$S/nobody.conf"; chown nobody "$S/nobody.conf"
    expect_fail 2 "configuration file refused .*$S/nobody.conf is owned by nobody" "$SL/backfill.sh" $D1 $D1 --config "$S/nobody.conf" --dry-run
    cp "$c" "$HR_TMP/open.conf"; chmod 666 "$HR_TMP/open.conf"
    expect_fail 2 "open.conf is writable by others" "$SL/rollback.sh" --config "$HR_TMP/open.conf"
    cp "$HR_BIN" "$S/hpcrec"; chown nobody "$S/hpcrec"
    expect_fail 2 "HPCREC_BIN $S/hpcrec: $S/hpcrec is owned by nobody" "$SL/backfill.sh" $D1 $D1 --config "$c" --dry-run --hpcrec-bin "$S/hpcrec"
    # a symlink on the way that nobody owns (in the sticky directory) is refused too
    as_nobody ln -s "$HR_TMP" "$S/link-by-nobody"
    expect_fail 2 "$S/link-by-nobody is a symbolic link owned by nobody" "$SL/backfill.sh" $D1 $D1 --config "$c" --dry-run --data-root "$S/link-by-nobody/logs"
}

# ---- the library's file helpers ----------------------------------------------------------------
case_files() {
    local w=$HR_TMP/w out
    mkdir -m 700 "$w"
    ln -s "$V/target" "$w/init"
    ln -s "$V/target" "$w/publish.log"
    mkdir -m 777 "$w/open"
    as_nobody mkdir "$S/theirs"
    echo k >"$w/key"; chmod 640 "$w/key"
    out=$(bash -c 'source "$1/lib.sh"; W=$2 S=$3
        hr_write_file "$W/init" none && echo "init=$(cat "$W/init") link=$([ -L "$W/init" ] && echo yes || echo no)"
        hr_append "$W/publish.log" "line" 2>/dev/null && echo "append followed a symlink" || echo "append refused"
        hr_private_dir "$W/publish.log" || echo "private: $HR_WHY"
        hr_private_dir "$W/open" || echo "private: $HR_WHY"
        hr_private_dir "$S/theirs" || echo "private: $HR_WHY"
        hr_private_dir "$W/new" && echo "new: $(stat -c %a "$W/new")"
        hr_trust_path "$W/key" secret || echo "secret: $HR_WHY"
        chmod 600 "$W/key"; hr_trust_path "$W/key" secret && echo "secret 0600 ok"' _ "$SL" "$w" "$S" 2>&1) || fail "$out"
    grep -qx "init=none link=no" <<<"$out" || fail "hr_write_file over a symlink: $out"
    grep -qx "append refused" <<<"$out" || fail "hr_append: $out"
    grep -q "private: $w/publish.log is a symbolic link" <<<"$out" || fail "$out"
    grep -q "private: $w/open is writable by group or others" <<<"$out" || fail "$out"
    grep -q "private: $S/theirs is owned by nobody" <<<"$out" || fail "$out"
    grep -qx "new: 700" <<<"$out" || fail "$out"
    grep -q "secret: $w/key is readable by group or others" <<<"$out" || fail "$out"
    grep -qx "secret 0600 ok" <<<"$out" || fail "$out"
    victim_ok
    # KEEP_DAYS: days 01..07 published; current 06, previous 05; 03 rolled back to 01 (a
    # rollback target); 07 newer than current (blocked).  Keep 2: 06 05 (newest), 01 (target).
    local m=$HR_TMP/m d
    mkdir -p "$m/.blocked"
    for d in 01 02 03 04 05 06 07; do mkdir "$m/2026-11-$d"; touch "$m/2026-11-$d/PUBLISHED" "$m/2026-11-$d/model.tar"; done
    ln -s 2026-11-06 "$m/current"; ln -s 2026-11-05 "$m/previous"
    printf 'to=2026-11-01\n' >"$m/.blocked/2026-11-03"
    printf 'to=2026-11-06\n' >"$m/.blocked/2026-11-07"
    out=$(bash -c 'source "$1/lib.sh"; hr_links_lock "$2"; hr_prune "$2" 2 job1 | wc -l; hr_links_unlock' _ "$SL" "$m" 2>&1) || fail "prune: $out"
    assert_eq "$out" 3 "days pruned"
    assert_eq "$(cd "$m" && ls -d 2026-* | tr '\n' ' ')" "2026-11-01 2026-11-05 2026-11-06 2026-11-07 " "days kept"
    assert_eq "$(ls "$m/.pruned" | tr '\n' ' ')" "2026-11-02 2026-11-03 2026-11-04 " "prune markers"
    assert_eq "$(grep -c ' prune ' "$m/publish.log")" 3 "prune lines in publish.log"
}

# ---- configuration -------------------------------------------------------------------------
case_config() {
    local c=$HR_TMP/c.conf out
    conf "$c" "$HR_TMP/c"
    printf '%s\n' 'TRAIN_ARGS="--a \x --b \"q\" --c \\"' >>"$c"
    out=$(bash -c 'source "$1/lib.sh"; HR_CONFIG=$2; hr_conf_load; printf "%s" "${CONF[TRAIN_ARGS]}"' _ "$SL" "$c") || fail "$out"
    assert_eq "$out" '--a \x --b "q" --c \' "double-quoted value"
    # ENV reaches the steps only; names of the scripts, the shell, the loader, Slurm are refused
    local e envs=("M=/elsewhere" "W=/x" "LD_PRELOAD=/x.so" "IFS=x" "PATH=/x" "BASH_ENV=/x" "SLURM_JOB_ID=1" "ENV=/x")
    out=$(bash -c 'source "$1/lib.sh"; HR_CONFIG=$2; hr_conf_load; shift 2
        for e; do ( CONF[ENV]="A=1 $e"; hr_conf_check && echo "accepted $e" ) 2>&1; done
        CONF[ENV]="OMPI_MCA_x=1 GLIBC_TUNABLES=glibc.malloc.hugetlb=1"; hr_conf_check && echo "plain names accepted"' \
        _ "$SL" "$c" "${envs[@]}") || fail "$out"
    for e in "${envs[@]}"; do grep -q "error: ENV: ${e%%=*} is refused" <<<"$out" || fail "ENV $e: $out"; done
    grep -qx "plain names accepted" <<<"$out" || fail "$out"
    expect_fail 2 "MODEL_ROOT must be set" "$SL/backfill.sh" $D1 $D1 --dry-run --config "$c" --model-root ""
    expect_fail 2 "UMASK must leave the owner" "$SL/backfill.sh" $D1 $D1 --dry-run --config "$c" --umask 0277
    expect_fail 2 "GROUP: no group" "$SL/backfill.sh" $D1 $D1 --dry-run --config "$c" --group no-such-group-x
    expect_fail 2 "WORK_ROOT must not hold a backslash" "$SL/backfill.sh" $D1 $D1 --dry-run --config "$c" --work-root "$HR_TMP/a\\b"
    out=$("$SL/backfill.sh" $D1 $D2 --config "$c" --dry-run --work-root "$HR_TMP/w%j x") || fail "$out"
    grep -qF -- "--kill-on-invalid-dep=yes" <<<"$out" || fail "no --kill-on-invalid-dep=yes: $out"
    grep -qF -- "--output=$HR_TMP/w%%j\\ x/$D1/slurm-%j.out" <<<"$out" || fail "--output not escaped: $out"
}

# ---- exit codes: 2 only for what is found before work ------------------------------------------
case_exit_codes() {
    local c=$HR_TMP/e.conf
    conf "$c" "$HR_TMP/e"
    expect_fail 2 "HPCREC_BIN $HR_TMP/no-such-hpcrec: $HR_TMP/no-such-hpcrec does not exist" \
        bash "$SL/nightly.sbatch" --day $D1 --config "$c" --launcher mpirun --hpcrec-bin "$HR_TMP/no-such-hpcrec"
    expect_fail 1 "step ingest exited 2: a usage error of hpcrec \(check INGEST_ARGS\)" \
        bash "$SL/nightly.sbatch" --day $D1 --config "$c" --launcher mpirun --set INGEST_ARGS=--no-such-option
    grep -q "no-such-option" "$HR_TMP/e/work/$D1/logs/ingest.log" || fail "ingest log: $(cat "$HR_TMP/e/work/$D1/logs/ingest.log")"
}

# ---- squeue failing ------------------------------------------------------------------------
case_squeue() {
    local c=$HR_TMP/q.conf out rc=0 st=$HR_TMP/stub-squeue
    conf "$c" "$HR_TMP/q"
    mkdir -p "$st" "$HR_TMP/q/work/$D1"
    chmod 700 "$HR_TMP/q/work/$D1"
    echo 123456 >"$HR_TMP/q/work/$D1/jobid"      # the day's job, which squeue would show
    printf '#!/bin/sh\necho "squeue: error: Socket timed out on send/recv operation" >&2\nexit 1\n' >"$st/squeue"
    chmod 755 "$st/squeue"
    : >"$STUB/calls"
    out=$(PATH="$st:$PATH" "$SL/backfill.sh" $D1 $D1 --config "$c" 2>&1) || rc=$?
    assert_eq "$rc" 1 "exit of backfill when squeue fails ($out)"
    grep -q "squeue failed.*Socket timed out" <<<"$out" || fail "$out"
    no_submission
}

# ---- a full WORK_ROOT --------------------------------------------------------------------------
case_disk_full() {
    local mnt=$HR_TMP/full c=$HR_TMP/f.conf out rc=0
    mkdir -p "$mnt"
    mount -t tmpfs -o size=64k tmpfs "$mnt" 2>/dev/null || { echo "mount -t tmpfs not permitted here"; exit 77; }
    trap "umount '$mnt'" EXIT
    conf "$c" "$mnt"
    mkdir -p "$mnt/work" "$mnt/models"
    dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null || true
    : >"$STUB/calls"
    out=$("$SL/backfill.sh" $D1 $D1 --config "$c" 2>&1) || rc=$?
    assert_eq "$rc" 1 "exit on a full WORK_ROOT ($out)"
    grep -q "cannot write $mnt/work/.backfill/.*conf" <<<"$out" || fail "$out"
    assert_eq "$(ls -A "$mnt/work/.backfill" | tr '\n' ' ')" "lock " "files left in .backfill"
    no_submission
}

# ---- local-cluster.sh state directories ------------------------------------------------------
case_cluster_dir() {
    local f victim=$HR_TMP/victim-shm
    f=$(mktemp -d "$S/cluster.XXXXXX")
    chown nobody "$f"
    expect_fail 1 "$f is not owned by root|owned by nobody" "$SL/local-cluster.sh" up "$f"
    [ -z "$(ls -A "$f")" ] || fail "up wrote into a foreign directory: $(ls -A "$f")"
    chown root "$f"; chmod 1777 "$f"
    expect_fail 1 "$f is writable by others" "$SL/local-cluster.sh" up "$f"
    chmod 777 "$f"
    expect_fail 1 "$f is writable by others" "$SL/local-cluster.sh" up "$f"
    expect_fail 1 "is writable by others" "$SL/local-cluster.sh" down "$f"
    # a state directory with the marker and a planted /dev/shm path that climbs out of /dev/shm
    mkdir -p "$victim" "$SHM_PROBE"; touch "$victim/keep"
    chmod 755 "$f"; mkdir -p "$f/run"
    touch "$f/.hpcrec-local-cluster"
    echo "$SHM_PROBE/../..$victim" >"$f/run/shmdir"
    "$SL/local-cluster.sh" down "$f" >"$HR_TMP/down.out" 2>&1 || fail "down: $(cat "$HR_TMP/down.out")"
    [ -f "$victim/keep" ] || fail "down deleted the planted path $SHM_PROBE/../..$victim"
}

tcase slurm-trust-roots case_roots
tcase slurm-trust-symlinks case_symlinks
tcase slurm-trust-files case_files
tcase slurm-trust-config case_config
tcase slurm-trust-exit-codes case_exit_codes
tcase slurm-trust-squeue-fails case_squeue
tcase slurm-trust-disk-full case_disk_full
tcase slurm-trust-cluster-dir case_cluster_dir
[ "$_fails" = 0 ]
