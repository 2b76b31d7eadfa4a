#!/bin/bash
# tests/mpi/test_checkpoint_ranks.sh — checkpoints re-shard onto another rank count.
#   * als (ratings) and ials (counts): a run on 2 ranks stopped after the user half of iteration 5
#     (checkpoint "4 + user half") is resumed on 1, 3 and 4 ranks; each final model is within
#     1e-4 relative (build/tools/model_diff --rtol 1e-4) of the uninterrupted 2-rank model, and
#     the resume says "written on 2 ranks, loaded on N";
#   * a checkpoint written on 3 ranks (stopped after iteration 5) resumed on 2 ranks: within
#     1e-4 of the uninterrupted 2-rank and 3-rank models;
#   * the comparison can fail: a 5-iteration model is not within 1e-4 of the 10-iteration one.
# Every mpirun is bounded by `timeout` (HR_TIMEOUT, 60 s).
source "$(dirname "$0")/../lib.sh"
TO=${HR_TIMEOUT:-60}
MD=${HR_MODEL_DIFF:-$HR_ROOT/build/tools/model_diff}
TRAIN="--factors 16 --iters 10"

need_md() { [ -x "$MD" ] || { echo "model_diff not built ($MD): run make"; exit 77; }; }
# close A.tar B.tar: within 1e-4 relative (model_diff's output on failure).
close() {
    local out rc=0
    out=$("$MD" "$1" "$2" --rtol 1e-4 2>&1) || rc=$?
    [ "$rc" = 0 ] || fail "model_diff $1 $2 --rtol 1e-4: exit $rc
$out"
}
data_of() { [ "$1" = als ] && echo "$HR_TMP/rd" || echo "$HR_TMP/cd"; }

# Datasets and uninterrupted references on 2 and 3 ranks.
fixture() {
    [ -f "$HR_TMP/fx.ok" ] && return 0
    hrt 2 gen --out "$HR_TMP/r" --users 3000 --items 800 --interactions 120000 --kind ratings --seed 3 >/dev/null \
        || fail "gen (ratings)"
    hrt 2 ingest --input "$HR_TMP/r" --out "$HR_TMP/rd" >/dev/null || fail "ingest (ratings)"
    hrt 2 gen --out "$HR_TMP/c" --users 3000 --items 800 --interactions 120000 --kind counts --seed 4 >/dev/null \
        || fail "gen (counts)"
    hrt 2 ingest --input "$HR_TMP/c" --out "$HR_TMP/cd" >/dev/null || fail "ingest (counts)"
    local a np
    for a in als ials; do
        for np in 2 3; do
            hrt $np train --data "$(data_of $a)" --out "$HR_TMP/ref$np-$a.tar" --algo $a $TRAIN >/dev/null 2>&1 \
                || fail "uninterrupted $a on $np ranks"
        done
    done
    touch "$HR_TMP/fx.ok"
}
# stop_on NP ALGO HALVES DIR: a run on NP ranks stopped after HALVES half-iterations (exit 75).
stop_on() {
    local rc=0
    HR_TEST_STOP_AFTER_HALVES=$3 hrt $1 train --data "$(data_of $2)" --out "$HR_TMP/unused.tar" --algo $2 $TRAIN \
        --checkpoint-dir "$4" >"$4.log" 2>&1 || rc=$?
    [ "$rc" = 75 ] || fail "stopped run on $1 ranks: exit $rc: $(tail -3 "$4.log")"
}
# resume_on NP ALGO SRC OUT: copy checkpoint dir SRC, resume it on NP ranks into OUT.tar.
resume_on() {
    local d=$4.ck
    cp -r "$3" "$d"
    hrt $1 train --data "$(data_of $2)" --out "$4.tar" --algo $2 $TRAIN --checkpoint-dir "$d" --resume \
        >"$4.log" 2>&1 || fail "resume on $1 ranks failed: $(tail -3 "$4.log")"
}

case_sensitive() {
    need_md; fixture
    hrt 2 train --data "$HR_TMP/rd" --out "$HR_TMP/short.tar" --algo als --factors 16 --iters 5 >/dev/null 2>&1 || fail "train"
    ! "$MD" "$HR_TMP/ref2-als.tar" "$HR_TMP/short.tar" --rtol 1e-4 >/dev/null 2>&1 || fail "model_diff: 5 vs 10 iterations within 1e-4"
}

# from2 ALGO: written on 2 ranks, resumed on 1, 3, 4.
from2() {
    local a=$1 np
    need_md; fixture
    stop_on 2 $a 9 "$HR_TMP/w2-$a"
    assert_eq "$(cat "$HR_TMP/w2-$a/LATEST")" ckpt-000004 "LATEST"
    assert_json "$HR_TMP/w2-$a/ckpt-000004/manifest.json" ranks 2
    assert_json "$HR_TMP/w2-$a/ckpt-000004/manifest.json" half 1
    for np in 1 3 4; do
        resume_on $np $a "$HR_TMP/w2-$a" "$HR_TMP/w2-$a-on$np"
        grep -Eq "resume +from .*ckpt-000004: iteration 4 \(\+ user half\), written on 2 ranks, loaded on $np" \
            "$HR_TMP/w2-$a-on$np.log" || fail "resume line on $np ranks: $(grep resume "$HR_TMP/w2-$a-on$np.log")"
        close "$HR_TMP/ref2-$a.tar" "$HR_TMP/w2-$a-on$np.tar"
    done
}

# from3 ALGO: written on 3 ranks, resumed on 2.
from3() {
    local a=$1
    need_md; fixture
    stop_on 3 $a 10 "$HR_TMP/w3-$a"
    assert_eq "$(cat "$HR_TMP/w3-$a/LATEST")" ckpt-000005 "LATEST"
    assert_json "$HR_TMP/w3-$a/ckpt-000005/manifest.json" ranks 3
    assert_eq "$(ls "$HR_TMP/w3-$a/ckpt-000005" | grep -c 'f32\.zst$')" 6 "factor files of a 3-rank checkpoint"
    resume_on 2 $a "$HR_TMP/w3-$a" "$HR_TMP/w3-$a-on2"
    grep -Eq 'resume +from .*ckpt-000005: iteration 5, written on 3 ranks, loaded on 2' "$HR_TMP/w3-$a-on2.log" \
        || fail "resume line: $(grep resume "$HR_TMP/w3-$a-on2.log")"
    close "$HR_TMP/ref2-$a.tar" "$HR_TMP/w3-$a-on2.tar"
    close "$HR_TMP/ref3-$a.tar" "$HR_TMP/w3-$a-on2.tar"
}

tcase model-diff-is-sensitive case_sensitive
for a in als ials; do
    tcase "checkpoint-2-ranks-resumed-on-1-3-4-$a" from2 $a
    tcase "checkpoint-3-ranks-resumed-on-2-$a" from3 $a
done
[ "$_fails" = 0 ]
