#!/bin/bash
# tests/integration/test_checkpoint.sh — checkpoints, resume, stop signals and warm starts of
# `hpcrec train` (issue "Compressed, restartable checkpoints, warm starts, and surviving a dead
# rank or a Slurm time limit").  All on 2 ranks; rank-count changes are tests/mpi/test_checkpoint_ranks.sh.
#   resume     a run stopped (HR_TEST_STOP_AFTER_HALVES) after a user half and after an item half,
#              als and ials, resumed: model members bit-identical (md5) to an uninterrupted run;
#              a stop at iteration 6 resumed with --iters 10 runs exactly iterations 7..10
#   layout     --checkpoint-every 2 --keep 3 keeps the newest 3 dirs, LATEST names the newest,
#              manifests say hpcrec-checkpoint v1 and their iteration; --keep 1; checkpoints of an
#              earlier run numbered above the new ones do not make the new ones vanish
#   damage     a flipped byte / a truncated file (reported as truncated) in the newest
#              checkpoint, a ckpt dir without manifest.json, a leftover .ckpt-NNNNNN.tmp (removed
#              once a checkpoint is written): named, skipped, resume falls back and still ends
#              with the bit-identical model; --keep does not count a damaged checkpoint
#   foreign    a checkpoint of another --lambda / another dataset: exit 1 "belongs to another
#              run", directory untouched; accepted with --force-resume
#   signals    SIGUSR1 from pkill to the ranks of a running training (~0.3-1 s per iteration):
#              exit 75, checkpoint, resume bit-identical; the same signal during set-up (before
#              the first iteration); SIGKILL of one rank: mpirun ends within 15 s, non-zero, no
#              rank left, --resume completes bit-identical
#   disk full  a small tmpfs (root only, else skip): exit 4, "not written (the previous
#              checkpoint is intact)", no temp dir left, --resume uses the previous checkpoint
#   warm start model A on days 1..4, dataset B on days 2..5: known/new/dropped users and items
#              equal to sort/comm over `inspect --dump` of both datasets; warm reaches the cold
#              run's final loss (15 iterations, within 0.5%) in at most half the iterations (the
#              numbers are printed as a "# warm-start" line); an --init-from of another k refused
# Every mpirun is bounded by `timeout` (HR_TIMEOUT, 60 s).
source "$(dirname "$0")/../lib.sh"
NP=2
TO=${HR_TIMEOUT:-60}
# A failing run otherwise costs ~2 s of mpirun teardown (the ranks have agreed on the error).
# The SIGKILL case runs with Open MPI's default instead.

# members ALGO MODEL.tar: md5 of each factor (and bias) array's members, one line.
members() {
    local m out=""
    local list="user_factors item_factors"
    [ "$1" = als ] && list="$list user_bias item_bias"
    for m in $list; do   # an array's members, in order (format 2: NAME.f32.000000.zst, ...)
        local names
        names=$(tar -tf "$2" | grep -E "^$m\.f32\.[0-9]+\.zst\$") || fail "$2 lacks $m.f32 members"
        out="$out $m=$(for n in $names; do tar -xOf "$2" "$n"; done | md5sum | cut -c1-32)"
    done
    echo "$out"
}
# same_model ALGO A.tar B.tar: bit-identical factor members (and biases for als).
same_model() {
    local a b
    a=$(members "$1" "$2"); b=$(members "$1" "$3")
    [ "$a" = "$b" ] || fail "models differ: $2 vs $3:
  $a
  $b"
}
latest() { cat "$1/LATEST" 2>/dev/null; }
ckdirs() { (cd "$1" && ls -d ckpt-* 2>/dev/null | tr '\n' ' '); }
# flip_byte FILE: invert one byte in the middle of FILE.
flip_byte() { python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xFF; open(p, "wb").write(b)' "$1"; }

# ---- fixtures (built once, shared by the cases; each case runs in a subshell) -----------
# Small ratings (als) and counts (ials) datasets, and the uninterrupted 10-iteration models.
TRAIN="--factors 16 --iters 10"
data_of() { [ "$1" = als ] && echo "$HR_TMP/rd" || echo "$HR_TMP/cd"; }
small() {
    [ -f "$HR_TMP/small.ok" ] && return 0
    hrt $NP gen --out "$HR_TMP/r" --users 3000 --items 800 --interactions 120000 --kind ratings --days 6 --seed 3 \
        >/dev/null || fail "gen (ratings) failed"
    hrt $NP ingest --input "$HR_TMP/r" --out "$HR_TMP/rd" >/dev/null || fail "ingest (ratings) failed"
    hrt $NP gen --out "$HR_TMP/c" --users 3000 --items 800 --interactions 120000 --kind counts --seed 4 \
        >/dev/null || fail "gen (counts) failed"
    hrt $NP ingest --input "$HR_TMP/c" --out "$HR_TMP/cd" >/dev/null || fail "ingest (counts) failed"
    local a
    for a in als ials; do
        hrt $NP train --data "$(data_of $a)" --out "$HR_TMP/ref-$a.tar" --algo $a $TRAIN >/dev/null 2>&1 \
            || fail "uninterrupted $a training failed"
    done
    touch "$HR_TMP/small.ok"
}
# stopped ALGO HALVES DIR [train args...]: a run stopped after HALVES half-iterations, checkpoints in DIR.
stopped() {
    local a=$1 n=$2 dir=$3 rc=0; shift 3
    HR_TEST_STOP_AFTER_HALVES=$n hrt $NP train --data "$(data_of $a)" --out "$HR_TMP/unused.tar" --algo $a $TRAIN \
        --checkpoint-dir "$dir" "$@" >"$dir.stop.log" 2>&1 || rc=$?
    [ "$rc" = 75 ] || fail "stopped run: exit $rc, expected 75: $(tail -5 "$dir.stop.log")"
    grep -q 'stopped by a signal' "$dir.stop.log" || fail "stopped run: no 'stopped by a signal' message"
}
# resumed ALGO DIR OUT.tar [train args...]: --resume from DIR (must succeed); log in OUT.log, JSON in OUT.json.
resumed() {
    local a=$1 dir=$2 out=$3; shift 3
    hrt $NP train --data "$(data_of $a)" --out "$out" --algo $a $TRAIN --checkpoint-dir "$dir" --resume \
        --json "${out%.tar}.json" "$@" >"${out%.tar}.log" 2>&1 || fail "resume failed: $(tail -5 "${out%.tar}.log")"
}

# ---- resume ------------------------------------------------------------------------------
# The comparison can fail: a model one iteration short is not "the same".
case_compare_sensitive() {
    small
    hrt $NP train --data "$HR_TMP/rd" --out "$HR_TMP/short.tar" --algo als --factors 16 --iters 9 >/dev/null 2>&1 \
        || fail "train --iters 9"
    ! (same_model als "$HR_TMP/ref-als.tar" "$HR_TMP/short.tar") 2>/dev/null || fail "9 and 10 iterations compare equal"
}

# resume_bitwise ALGO HALVES: stop after HALVES halves (11: user half of iteration 6; 12: item
# half of iteration 6), resume, compare with the uninterrupted model.
resume_bitwise() {
    local a=$1 n=$2 d=$HR_TMP/bw-$1-$2
    small
    stopped $a $n "$d"
    local want_it=$(( n / 2 )) want_half=$(( n % 2 ))
    assert_eq "$(latest "$d")" "$(printf 'ckpt-%06d' $want_it)" "LATEST after a stop after half $n"
    local man=$d/$(latest "$d")/manifest.json
    assert_json "$man" iteration $want_it
    assert_json "$man" half $want_half
    assert_json "$man" format hpcrec-checkpoint
    resumed $a "$d" "$d.tar"
    assert_json "$d.json" resumed_from_iteration $want_it
    assert_json "$d.json" iterations 10
    same_model $a "$HR_TMP/ref-$a.tar" "$d.tar"
}

# Stopped at iteration 6, resumed with --iters 10: iterations 7..10 run, nothing else.
case_resume_runs_7_to_10() {
    small
    local d=$HR_TMP/r7
    stopped als 12 "$d"
    assert_eq "$(latest "$d")" ckpt-000006 "LATEST"
    cp -r "$d" "$d.copy"
    resumed als "$d" "$d.tar"
    assert_json "$d.json" resumed_from_iteration 6
    # iterations this run timed (progress lines with a rate); 6 only as "restored"
    local ran
    ran=$(grep -E 'iter +[0-9]+ .*GFLOP/s' "$d.log" | grep -Eo 'iter +[0-9]+' | awk '{print $2}' | tr '\n' ' ')
    assert_eq "$ran" "7 8 9 10 " "iterations run by the resumed job"
    grep -Eq 'iter +6 .*restored from the checkpoint' "$d.log" || fail "no 'iter 6 ... restored' line: $(grep iter "$d.log")"
    ! grep -Eq 'iter +([1-5]|1[1-9]) ' "$d.log" || fail "progress lines outside 6..10: $(grep iter "$d.log")"
    # the first iteration it runs is 7: stopping it after one iteration checkpoints 7
    local rc=0
    HR_TEST_STOP_AFTER_HALVES=2 hrt $NP train --data "$HR_TMP/rd" --out "$HR_TMP/unused.tar" --algo als $TRAIN \
        --checkpoint-dir "$d.copy" --resume >"$d.copy.log" 2>&1 || rc=$?
    assert_eq "$rc" 75 "exit of a resumed run stopped after 2 halves"
    assert_eq "$(latest "$d.copy")" ckpt-000007 "LATEST after one more iteration"
    same_model als "$HR_TMP/ref-als.tar" "$d.tar"
}

# ---- layout ------------------------------------------------------------------------------
case_keep_latest() {
    small
    local d=$HR_TMP/keep3 m
    hrt $NP train --data "$HR_TMP/rd" --out "$d.tar" --algo als $TRAIN --checkpoint-dir "$d" --checkpoint-every 2 \
        --keep 3 --json "$d.json" >"$d.log" 2>&1 || fail "train with checkpoints failed: $(tail -3 "$d.log")"
    assert_eq "$(ckdirs "$d")" "ckpt-000006 ckpt-000008 ckpt-000010 " "checkpoint dirs with --keep 3"
    assert_eq "$(latest "$d")" ckpt-000010 "LATEST"
    assert_eq "$(ls -A "$d" | grep -c '\.tmp')" 0 "temporary names left"
    assert_eq "$(grep -c 'checkpoint .*ckpt-0000[0-9][0-9]: iteration' "$d.log")" 5 "checkpoint progress lines"
    for m in 6 8 10; do
        local man=$d/$(printf 'ckpt-%06d' $m)/manifest.json
        assert_json "$man" format hpcrec-checkpoint
        assert_json "$man" version 1
        assert_json "$man" iteration $m
        assert_json "$man" ranks 2
        assert_eq "$(ls "$(dirname "$man")" | tr '\n' ' ')" \
            "items-00000.f32.zst items-00001.f32.zst manifest.json users-00000.f32.zst users-00001.f32.zst " "files of $m"
    done
    # checkpoints do not change the model
    same_model als "$HR_TMP/ref-als.tar" "$d.tar"
    d=$HR_TMP/keep1
    hrt $NP train --data "$HR_TMP/rd" --out "$d.tar" --algo als $TRAIN --checkpoint-dir "$d" --checkpoint-every 3 \
        --keep 1 >/dev/null 2>&1 || fail "train --keep 1 failed"
    assert_eq "$(ckdirs "$d")" "ckpt-000009 " "checkpoint dirs with --keep 1 --checkpoint-every 3"
    assert_eq "$(latest "$d")" ckpt-000009 "LATEST with --keep 1"
}

# A directory holding an earlier run's checkpoints 5 and 10 (say, yesterday's nightly run): a new
# run's checkpoints 2 and 3 are kept (not pruned as "older"), LATEST names 3, and a requeued
# --resume continues the new run instead of being refused by the stale ones.
case_stale_checkpoints_of_earlier_run() {
    small
    local d=$HR_TMP/stale
    hrt $NP train --data "$HR_TMP/rd" --out "$d-old.tar" --algo als $TRAIN --checkpoint-dir "$d" >/dev/null 2>&1 \
        || fail "earlier run failed"
    assert_eq "$(ckdirs "$d")" "ckpt-000005 ckpt-000010 " "earlier run's checkpoints"
    stopped als 6 "$d" --lambda 0.2 --checkpoint-every 1
    assert_eq "$(latest "$d")" ckpt-000003 "LATEST after the new run stopped"
    [ -f "$d/ckpt-000003/manifest.json" ] || fail "the new run's checkpoint 3 was removed: $(ckdirs "$d")"
    resumed als "$d" "$d.tar" --lambda 0.2
    assert_json "$d.json" resumed_from_iteration 3
    hrt $NP train --data "$HR_TMP/rd" --out "$d-ref.tar" --algo als $TRAIN --lambda 0.2 >/dev/null 2>&1 || fail "reference"
    same_model als "$d-ref.tar" "$d.tar"
}

# ---- damage ------------------------------------------------------------------------------
# damaged_base: checkpoints 6 and 7 of an als run (every 2, keep 2, stopped after iteration 7).
damaged_base() {
    small
    [ -d "$HR_TMP/dmg-base" ] && return 0
    stopped als 14 "$HR_TMP/dmg-base" --checkpoint-every 2
    assert_eq "$(ckdirs "$HR_TMP/dmg-base")" "ckpt-000006 ckpt-000007 " "base checkpoints"
}
# falls_back DIR PATTERN: --resume from DIR warns with PATTERN, resumes from ckpt 6, same model.
falls_back() {
    local d=$1
    resumed als "$d" "$d.tar"
    grep -Eq "skipping checkpoint: .*$2" "$d.log" || fail "no 'skipping checkpoint: ...$2' warning: $(grep -i 'skip\|warn\|resume' "$d.log")"
    grep -Eq 'resume +from .*ckpt-000006: iteration 6' "$d.log" || fail "did not resume from ckpt-000006: $(grep resume "$d.log")"
    assert_json "$d.json" resumed_from_iteration 6
    same_model als "$HR_TMP/ref-als.tar" "$d.tar"
}
case_corrupted_newest() {
    damaged_base
    local d=$HR_TMP/dmg-flip
    cp -r "$HR_TMP/dmg-base" "$d"
    flip_byte "$d/ckpt-000007/items-00001.f32.zst"
    falls_back "$d" 'ckpt-000007/items-00001\.f32\.zst'
}
case_truncated_file() {
    damaged_base
    local d=$HR_TMP/dmg-trunc
    cp -r "$HR_TMP/dmg-base" "$d"
    truncate -s 1000 "$d/ckpt-000007/users-00000.f32.zst"
    falls_back "$d" 'ckpt-000007/users-00000\.f32\.zst: truncated \(1000 of [0-9]+ bytes\)'
}
# --keep counts intact checkpoints only: with 7 damaged, a resumed run that writes 8 keeps 8 and
# 6 (the one it could fall back to again) and leaves 7 for a later prune.  Once two intact ones
# are newer (10), 7 and 6 go.
case_keep_skips_damaged() {
    damaged_base
    local d=$HR_TMP/dmg-keep
    cp -r "$HR_TMP/dmg-base" "$d"
    truncate -s 1000 "$d/ckpt-000007/users-00000.f32.zst"
    stopped als 4 "$d" --checkpoint-every 2 --keep 2 --resume
    assert_eq "$(ckdirs "$d")" "ckpt-000006 ckpt-000007 ckpt-000008 " "after writing 8 with 7 damaged"
    grep -q 'ckpt-000007 is damaged.*truncated\|ckpt-000007 is damaged.*size differs' "$d.stop.log" \
        || fail "no 'damaged' warning: $(grep -i warn "$d.stop.log")"
    stopped als 4 "$d" --checkpoint-every 2 --keep 2 --resume
    assert_eq "$(ckdirs "$d")" "ckpt-000008 ckpt-000010 " "after writing 10"
}
case_missing_manifest() {
    damaged_base
    local d=$HR_TMP/dmg-noman
    cp -r "$HR_TMP/dmg-base" "$d"
    rm "$d/ckpt-000007/manifest.json"
    falls_back "$d" 'ckpt-000007/manifest\.json'
}
# A run killed while writing checkpoint 9 leaves .ckpt-000009.tmp (never renamed, LATEST
# unchanged): ignored.  A ckpt-000008 without manifest.json (as a hand-made copy would be) and
# LATEST lost: the newest dir is tried, named, skipped.
case_half_written() {
    damaged_base
    local d=$HR_TMP/dmg-tmp
    cp -r "$HR_TMP/dmg-base" "$d"
    mkdir "$d/.ckpt-000009.tmp"
    cp "$d"/ckpt-000007/*.f32.zst "$d/.ckpt-000009.tmp/"
    head -c 100 "$d/ckpt-000007/manifest.json" >"$d/.ckpt-000009.tmp/manifest.json"
    resumed als "$d" "$d.tar"
    ! grep -q 'resume.*ckpt-000009\|skipping.*ckpt-000009' "$d.log" || fail "the temporary checkpoint was looked at: $(grep 000009 "$d.log")"
    [ ! -e "$d/.ckpt-000009.tmp" ] || fail "the killed run's .ckpt-000009.tmp was left after a checkpoint was written"
    grep -Eq 'resume +from .*ckpt-000007: iteration 7' "$d.log" || fail "did not resume from ckpt-000007: $(grep resume "$d.log")"
    same_model als "$HR_TMP/ref-als.tar" "$d.tar"
    d=$HR_TMP/dmg-noman8
    cp -r "$HR_TMP/dmg-base" "$d"
    mkdir "$d/ckpt-000008"
    cp "$d"/ckpt-000007/*.f32.zst "$d/ckpt-000008/"
    rm "$d/LATEST"
    resumed als "$d" "$d.tar"
    grep -Eq 'skipping checkpoint: .*ckpt-000008/manifest\.json' "$d.log" || fail "ckpt-000008 not skipped by name: $(grep -i 'skip\|resume' "$d.log")"
    grep -Eq 'resume +from .*ckpt-000007: iteration 7' "$d.log" || fail "did not resume from ckpt-000007: $(grep resume "$d.log")"
    same_model als "$HR_TMP/ref-als.tar" "$d.tar"
}

# ---- foreign -----------------------------------------------------------------------------
case_foreign_checkpoint() {
    damaged_base
    local d=$HR_TMP/foreign before
    cp -r "$HR_TMP/dmg-base" "$d"
    before=$(cd "$d" && find . -type f | sort | xargs md5sum)
    expect_fail 1 'ckpt-000007 belongs to another run.*"lambda":0\.2.*--force-resume' \
        hrt $NP train --data "$HR_TMP/rd" --out "$d.tar" --algo als $TRAIN --lambda 0.2 --checkpoint-dir "$d" --resume
    # another dataset: days 1..5 of the same generator
    hrt $NP ingest --input $(ls -d "$HR_TMP"/r/20*-*-* | sort | head -5) --out "$HR_TMP/rd5" >/dev/null || fail "ingest rd5"
    expect_fail 1 'belongs to another run.*"dataset"' \
        hrt $NP train --data "$HR_TMP/rd5" --out "$d.tar" --algo als $TRAIN --checkpoint-dir "$d" --resume
    [ ! -e "$d.tar" ] || fail "a refused run wrote a model"
    assert_eq "$(cd "$d" && find . -type f | sort | xargs md5sum)" "$before" "checkpoint dir after refusals"
    hrt $NP train --data "$HR_TMP/rd" --out "$d.tar" --algo als $TRAIN --lambda 0.2 --checkpoint-dir "$d" --resume \
        --force-resume --json "$d.json" >"$d.log" 2>&1 || fail "--force-resume (lambda) failed: $(tail -3 "$d.log")"
    grep -q 'identity differs.*resuming anyway (--force-resume)' "$d.log" || fail "no --force-resume warning"
    assert_json "$d.json" resumed_from_iteration 7
    cp -r "$HR_TMP/dmg-base" "$d.2"
    hrt $NP train --data "$HR_TMP/rd5" --out "$d.2.tar" --algo als $TRAIN --checkpoint-dir "$d.2" --resume \
        --force-resume --json "$d.2.json" >/dev/null 2>&1 || fail "--force-resume (dataset) failed"
    assert_json "$d.2.json" resumed_from_iteration 7
}

# ---- signals -----------------------------------------------------------------------------
# big: 200k users x 20k items x 3M counts (an ials k=16 iteration takes ~0.3-1 s on 2 ranks),
# and the uninterrupted 5-iteration model.
BIGTRAIN="--algo ials --factors 16 --iters 5"
big() {
    [ -f "$HR_TMP/big.ok" ] && return 0
    hrt $NP gen --out "$HR_TMP/big-raw" --users 200000 --items 20000 --interactions 3000000 --kind counts --seed 7 \
        >/dev/null || fail "gen (big) failed"
    hrt $NP ingest --input "$HR_TMP/big-raw" --out "$HR_TMP/big" >/dev/null || fail "ingest (big) failed"
    rm -rf "$HR_TMP/big-raw"
    hrt $NP train --data "$HR_TMP/big" --out "$HR_TMP/big-ref.tar" $BIGTRAIN >/dev/null 2>&1 || fail "big reference"
    touch "$HR_TMP/big.ok"
}
# The ranks of a training on the big dataset (not mpirun, not other engineers' runs).
RANKS_RE() { echo "^$HR_BIN train --data $HR_TMP/big "; }
# wait_for FILE REGEX SECONDS: until a line matches (fail on timeout).
wait_for() {
    local i
    for i in $(seq $(( $3 * 50 ))); do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.02
    done
    fail "no /$2/ in $1 after $3 s: $(tail -3 "$1")"
}
# bg_train DIR args...: start the big training in the background (pid in $BG); log DIR.log, exit code DIR.rc.
bg_train() {
    local d=$1; shift
    ( hrt $NP train --data "$HR_TMP/big" --out "$d.tar" $BIGTRAIN --checkpoint-dir "$d" "$@" >"$d.log" 2>&1
      echo $? >"$d.rc" ) &
    BG=$!
}
big_resume() {
    local d=$1
    hrt $NP train --data "$HR_TMP/big" --out "$d.tar" $BIGTRAIN --checkpoint-dir "$d" --resume --json "$d.json" \
        >"$d.resume.log" 2>&1 || fail "resume failed: $(tail -3 "$d.resume.log")"
    same_model ials "$HR_TMP/big-ref.tar" "$d.tar"
}

case_sigusr1_running() {
    big
    local d=$HR_TMP/usr1
    bg_train "$d" --checkpoint-every 0
    wait_for "$d.log" 'iter +2 ' 40
    pkill -USR1 -f "$(RANKS_RE)" || fail "no rank to signal"
    wait $BG
    assert_eq "$(cat "$d.rc")" 75 "exit after SIGUSR1 ($(tail -2 "$d.log"))"
    grep -q 'stopped by a signal after iteration [2-4]' "$d.log" || fail "no stop message: $(tail -3 "$d.log")"
    [ -f "$d/$(latest "$d")/manifest.json" ] || fail "no checkpoint after SIGUSR1: $(ls -A "$d")"
    big_resume "$d"
    local from
    from=$(json_get "$d.json" resumed_from_iteration)
    [ "$from" -ge 2 ] && [ "$from" -lt 5 ] || fail "resumed_from_iteration $from"
}

# The signal arrives during set-up (after the dataset load, before the first iteration).
case_sigusr1_during_setup() {
    big
    local d=$HR_TMP/usr1-setup
    bg_train "$d" --checkpoint-every 0
    wait_for "$d.log" '\] load ' 40
    pkill -USR1 -f "$(RANKS_RE)" || fail "no rank to signal"
    wait $BG
    assert_eq "$(cat "$d.rc")" 75 "exit after SIGUSR1 during set-up (138 = killed by it): $(tail -2 "$d.log")"
    [ -f "$d/$(latest "$d")/manifest.json" ] || fail "no checkpoint: $(ls -A "$d")"
    big_resume "$d"
}

case_sigkill_one_rank() {
    big
    local d=$HR_TMP/kill pids t0 t1 left
    unset OMPI_MCA_odls_base_sigkill_timeout   # Open MPI's own teardown, as on a cluster
    bg_train "$d" --checkpoint-every 2
    wait_for "$d.log" 'checkpoint .*ckpt-000002' 40
    pids=$(pgrep -f "$(RANKS_RE)" | tr '\n' ' ')
    [ "$(echo $pids | wc -w)" = 2 ] || fail "expected 2 ranks, found '$pids'"
    t0=$(date +%s.%N)
    kill -9 $(echo $pids | awk '{print $2}')
    wait $BG
    t1=$(date +%s.%N)
    local rc; rc=$(cat "$d.rc")
    python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) <= 15 else 1)" "$t0" "$t1" \
        || fail "mpirun took $(python3 -c "print(round($t1 - $t0, 1))") s to end after SIGKILL of one rank"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "mpirun exit $rc after a rank died"
    sleep 0.2
    left=$(pgrep -f "$(RANKS_RE)" | tr '\n' ' ')
    [ -z "$left" ] || { kill -9 $left 2>/dev/null; fail "processes left after the dead rank: $left"; }
    echo "# sigkill: mpirun exit $rc, ended $(python3 -c "print(round($t1 - $t0, 2))") s after the SIGKILL of one rank" \
        >"$HR_TMP/kill.note"
    big_resume "$d"
    [ "$(json_get "$d.json" resumed_from_iteration)" -ge 2 ] || fail "did not resume from a checkpoint"
}

# ---- disk full ---------------------------------------------------------------------------
case_disk_full() {
    small
    local mnt=$HR_TMP/mnt d
    mkdir -p "$mnt"
    [ "$(id -u)" = 0 ] || { echo "mounting a tmpfs needs root"; exit 77; }
    mount -t tmpfs -o size=400k tmpfs "$mnt" 2>/dev/null || { echo "mount -t tmpfs not permitted here"; exit 77; }
    trap 'umount "$HR_TMP/mnt"' EXIT
    d=$mnt/ck
    # a checkpoint is ~0.25 MB: the first fits, the second does not
    expect_fail 4 'checkpoint .*ckpt-000004 not written \(the previous checkpoint is intact\).*No space left' \
        hrt $NP train --data "$HR_TMP/rd" --out "$HR_TMP/full.tar" --algo als $TRAIN --checkpoint-dir "$d" \
        --checkpoint-every 2
    assert_eq "$(ls -A "$d" | tr '\n' ' ')" "LATEST ckpt-000002 " "checkpoint dir after the failed write"
    assert_eq "$(latest "$d")" ckpt-000002 "LATEST"
    hrt $NP train --data "$HR_TMP/rd" --out "$HR_TMP/full.tar" --algo als $TRAIN --checkpoint-dir "$d" \
        --checkpoint-every 0 --resume --json "$HR_TMP/full.json" >"$HR_TMP/full.log" 2>&1 || fail "resume failed"
    assert_json "$HR_TMP/full.json" resumed_from_iteration 2
    same_model als "$HR_TMP/ref-als.tar" "$HR_TMP/full.tar"
}

# ---- warm start --------------------------------------------------------------------------
# first_within FILE LOSS: first iteration whose loss is within 0.5% of LOSS.
first_within() {
    grep -Eo 'iter +[0-9]+ +loss [0-9.e+-]+' "$1" | awk -v L="$2" '$4 <= L * 1.005 { print $2; exit }'
}
case_warm_start() {
    local w=$HR_TMP/w days
    hrt $NP gen --out "$w" --users 10000 --items 8000 --interactions 150000 --kind counts --days 8 --seed 11 \
        >/dev/null || fail "gen (days) failed"
    days=($(ls -d "$w"/20*-*-* | sort))
    [ "${#days[@]}" = 8 ] || fail "gen --days 8 wrote ${#days[@]} day dirs"
    hrt $NP ingest --input "${days[@]:0:4}" --out "$w-a" >/dev/null || fail "ingest days 1..4"
    hrt $NP ingest --input "${days[@]:1:4}" --out "$w-b" >/dev/null || fail "ingest days 2..5"
    # expected counts, independently: external ids of both datasets
    local s
    for s in a b; do
        hrt $NP inspect "$w-$s" --dump "$w-$s.dump" >/dev/null || fail "inspect --dump $s"
        cat "$w-$s".dump.*.tsv | cut -f1 | LC_ALL=C sort -u >"$w-$s.users"
        cat "$w-$s".dump.*.tsv | cut -f2 | LC_ALL=C sort -u >"$w-$s.items"
    done
    local exp=() side
    for side in users items; do
        exp+=($(LC_ALL=C comm -12 "$w-a.$side" "$w-b.$side" | wc -l) $(LC_ALL=C comm -13 "$w-a.$side" "$w-b.$side" | wc -l) \
              $(LC_ALL=C comm -23 "$w-a.$side" "$w-b.$side" | wc -l))
    done
    [ "${exp[1]}" -gt 0 ] && [ "${exp[2]}" -gt 0 ] && [ "${exp[4]}" -gt 0 ] && [ "${exp[5]}" -gt 0 ] \
        || fail "fixture: no new or dropped users/items (${exp[*]})"
    local T="--algo ials --factors 16 --iters 15"
    hrt $NP train --data "$w-a" --out "$w-A.tar" $T >/dev/null 2>&1 || fail "train A"
    hrt $NP train --data "$w-b" --out "$w-cold.tar" $T --json "$w-cold.json" >"$w-cold.log" 2>&1 || fail "cold train on B"
    hrt $NP train --data "$w-b" --out "$w-warm.tar" $T --init-from "$w-A.tar" --json "$w-warm.json" >"$w-warm.log" 2>&1 \
        || fail "warm train on B: $(tail -3 "$w-warm.log")"
    local keys=(warm_users_known warm_users_new warm_users_dropped warm_items_known warm_items_new warm_items_dropped) k
    for k in 0 1 2 3 4 5; do assert_json "$w-warm.json" ${keys[$k]} ${exp[$k]}; done
    grep -q "warm start from .*users ${exp[0]} known, ${exp[1]} new, ${exp[2]} dropped; items ${exp[3]} known, ${exp[4]} new, ${exp[5]} dropped" \
        "$w-warm.log" || fail "warm start progress line: $(grep 'warm start' "$w-warm.log")"
    local L wi ci
    L=$(json_get "$w-cold.json" final_loss)
    wi=$(first_within "$w-warm.log" "$L"); ci=$(first_within "$w-cold.log" "$L")
    [ -n "$wi" ] && [ -n "$ci" ] || fail "losses never within 0.5% of $L (warm '$wi', cold '$ci')"
    echo "# warm-start: users ${exp[0]}/${exp[1]}/${exp[2]} items ${exp[3]}/${exp[4]}/${exp[5]} known/new/dropped;" \
        "within 0.5% of the cold 15-iteration loss $L: warm at iteration $wi, cold at $ci" >"$HR_TMP/warm.note"
    [ $(( wi * 2 )) -le "$ci" ] || fail "warm start needs $wi iterations, cold $ci: not clearly fewer"
    # another k: refused
    expect_fail 1 'k=16 cannot warm-start ials with --factors 8' \
        hrt $NP train --data "$w-b" --out "$w-k8.tar" --algo ials --factors 8 --iters 2 --init-from "$w-A.tar"
}

tcase compare-is-sensitive case_compare_sensitive
for a in als ials; do
    tcase "resume-bitwise-$a-after-user-half" resume_bitwise $a 11
    tcase "resume-bitwise-$a-after-item-half" resume_bitwise $a 12
done
tcase resume-runs-iterations-7-to-10 case_resume_runs_7_to_10
tcase keep-and-latest case_keep_latest
tcase stale-checkpoints-of-an-earlier-run case_stale_checkpoints_of_earlier_run
tcase corrupted-newest-falls-back case_corrupted_newest
tcase truncated-file-skipped case_truncated_file
tcase keep-skips-damaged case_keep_skips_damaged
tcase missing-manifest-skipped case_missing_manifest
tcase half-written-checkpoints-skipped case_half_written
tcase foreign-checkpoint-refused case_foreign_checkpoint
tcase sigusr1-running-training case_sigusr1_running
tcase sigusr1-during-setup case_sigusr1_during_setup
tcase sigkill-one-rank case_sigkill_one_rank
tcase disk-full case_disk_full
tcase warm-start case_warm_start
cat "$HR_TMP"/*.note 2>/dev/null
[ "$_fails" = 0 ]
