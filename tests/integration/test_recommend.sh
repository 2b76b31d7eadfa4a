#!/bin/bash
# tests/integration/test_recommend.sh — `hpcrec recommend` and `hpcrec similar`: exclusions,
# popularity fallback for users the model does not know, --users, --exclude, --diversify, the
# output format, rank-count invariance (1-4 ranks), every list against brute force
# (tests/tools/rec_oracle); similar from factors and from co-occurrence against values computed
# by hand.
source "$(dirname "$0")/../lib.sh"
NP=2
W=$HR_TMP/rec

# Hand-made data: users 1..4 in the training set, user 5 only in the "today" data.
fixture() {
    [ -f "$W/ok" ] && return 0
    mkdir -p "$W"
    cat > "$W/train.csv" <<'CSV'
user,item,rating
1,10,1
1,20,1
2,10,1
2,30,1
3,10,1
3,20,1
3,40,1
4,20,1
4,50,1
CSV
    { cat "$W/train.csv"; printf '5,10,1\n'; } > "$W/today.csv"
    hrt $NP ingest --input "$W/train.csv" --out "$W/tr" >/dev/null || fail "ingest train"
    hrt $NP ingest --input "$W/today.csv" --out "$W/today" >/dev/null || fail "ingest today"
    hrt $NP train --data "$W/tr" --out "$W/pop.tar" --algo pop >/dev/null || fail "train pop"
    hrt $NP train --data "$W/tr" --out "$W/ials.tar" --algo ials --factors 4 --iters 5 >/dev/null || fail "train ials"
    touch "$W/ok"
}
lines() { zstdcat "$1"/part-*.tsv.zst | grep -v $'^user\t' | grep -v $'^item\t' | LC_ALL=C sort; }

case_pop_exclusions_fallback() {
    fixture
    hrt $NP recommend --model "$W/pop.tar" --data "$W/today" --out "$W/r1" --top 2 --json "$W/r1.json" >/dev/null || fail "recommend"
    # popularity: 10 (3 users) > 20 (3, higher id) > 30, 40, 50 (1 each; lower id first)
    # user 1 has 10, 20 -> 30, 40; user 4 has 20, 50 -> 10, 30; user 5 (unknown to the model,
    # knows 10 in today's data) -> popular, 20, 30
    local got
    got=$(lines "$W/r1" | awk -F'\t' '{print $1, $2, $3, $5}')
    echo "$got" | grep -qx '1 1 30 model' || fail "user 1 rank 1: $got"
    echo "$got" | grep -qx '1 2 40 model' || fail "user 1 rank 2: $got"
    echo "$got" | grep -qx '4 1 10 model' || fail "user 4 rank 1: $got"
    echo "$got" | grep -qx '5 1 20 popular' || fail "user 5 (unknown) rank 1: $got"
    echo "$got" | grep -qx '5 2 30 popular' || fail "user 5 rank 2: $got"
    assert_json "$W/r1.json" users 5
    assert_json "$W/r1.json" users_fallback 1
    assert_json "$W/r1.json" users_scored 0     # a popularity model scores nobody: no flops counted
    assert_json "$W/r1.json" lines 10
    # a factor model scores the users it knows; the unknown user 5 (one event today) is folded
    # in from that row (source fold-in), or below --fold-in-min gets the popular list
    hrt $NP recommend --model "$W/ials.tar" --data "$W/today" --out "$W/r1f" --top 2 --json "$W/r1f.json" >/dev/null \
        || fail "recommend (ials)"
    assert_json "$W/r1f.json" users_scored 5
    assert_json "$W/r1f.json" users_fallback 0
    assert_json "$W/r1f.json" users_fold_in 1
    [ "$(lines "$W/r1f" | awk -F'\t' '$1 == 5 && $5 == "fold-in"' | wc -l)" = 2 ] || fail "user 5 folded in: $(lines "$W/r1f")"
    hrt $NP recommend --model "$W/ials.tar" --data "$W/today" --out "$W/r1g" --top 2 --fold-in-min 2 --json "$W/r1g.json" >/dev/null \
        || fail "recommend (ials, --fold-in-min 2)"
    assert_json "$W/r1g.json" users_scored 4
    assert_json "$W/r1g.json" users_fallback 1
    assert_json "$W/r1g.json" users_fold_in 0
    # header, five columns, manifest
    [ "$(zstdcat "$W"/r1/part-00000.tsv.zst | head -1)" = "$(printf 'user\trank\titem\tscore\tsource')" ] || fail "header"
    [ "$(zstdcat "$W"/r1/part-*.tsv.zst | awk -F'\t' 'NF != 5' | wc -l)" = 0 ] || fail "every line has 5 columns"
    python3 - "$W/r1/manifest.json" "$W/r1" <<'PY' || fail "manifest"
import json, os, sys
m = json.load(open(sys.argv[1]))
assert m["format"] == "hpcrec-recommendations" and m["lines"] == 10 and m["users_fallback"] == 1, m
for f, e in m["files"].items():
    assert os.path.getsize(os.path.join(sys.argv[2], f)) == e["bytes"], f
PY
}

case_no_training_items() {
    fixture
    hrt $NP recommend --model "$W/ials.tar" --data "$W/tr" --out "$W/r2" --top 3 >/dev/null || fail "recommend"
    hrt $NP inspect "$W/tr" --dump "$W/trd" >/dev/null || fail "dump"
    local seen
    seen=$(cat "$W"/trd.*.tsv | awk -F'\t' '{print $1 "\t" $2}' | LC_ALL=C sort)
    [ -z "$(lines "$W/r2" | awk -F'\t' '{print $1 "\t" $3}' | LC_ALL=C comm -12 - <(echo "$seen"))" ] || fail "a training item was recommended"
    hrt $NP recommend --model "$W/ials.tar" --data "$W/tr" --out "$W/r2b" --top 3 --include-seen >/dev/null || fail "include-seen"
    [ -n "$(lines "$W/r2b" | awk -F'\t' '{print $1 "\t" $3}' | LC_ALL=C comm -12 - <(echo "$seen"))" ] \
        || fail "--include-seen should allow training items"
}

case_users_and_exclude() {
    fixture
    printf '3\n99\n' > "$W/users.txt"
    printf '10\n30\n' > "$W/exclude.txt"
    hrt $NP recommend --model "$W/pop.tar" --data "$W/tr" --out "$W/r3" --top 2 --users "$W/users.txt" --exclude "$W/exclude.txt" \
        >/dev/null || fail "recommend"
    # user 3 has 10, 20, 40; 10 and 30 are banned -> 50 only; user 99 is nowhere -> popular: 20, 40
    local got
    got=$(lines "$W/r3" | awk -F'\t' '{print $1, $2, $3, $5}' | tr '\n' ';')
    assert_eq "$got" "3 1 50 model;99 1 20 popular;99 2 40 popular;" "--users / --exclude"
}

case_diversify() {
    fixture
    hrt $NP recommend --model "$W/ials.tar" --data "$W/tr" --out "$W/r4" --top 2 --include-seen >/dev/null || fail "plain"
    hrt $NP recommend --model "$W/ials.tar" --data "$W/tr" --out "$W/r5" --top 2 --include-seen --diversify 0.9 >/dev/null \
        || fail "diversify"
    # MMR keeps the best item first and draws the rest from the top 5N candidates
    [ "$(lines "$W/r4" | awk -F'\t' '$2 == 1 {print $1, $3}')" = "$(lines "$W/r5" | awk -F'\t' '$2 == 1 {print $1, $3}')" ] \
        || fail "the first item should stay"
    [ "$(lines "$W/r5" | wc -l)" = "$(lines "$W/r4" | wc -l)" ] || fail "same list lengths"
    expect_fail 2 "--diversify" hrt 1 recommend --model "$W/ials.tar" --data "$W/tr" --out "$W/r6" --diversify 2
}

case_ranks() {
    need_data hetrec2011-lastfm-2k
    local np
    hrt 2 ingest --input "$HR_DATA/hetrec2011-lastfm-2k/user_artists.dat" --out "$W/lf" >/dev/null || fail "ingest"
    hrt 2 train --data "$W/lf" --out "$W/lf.tar" --algo ials --factors 16 --iters 3 >/dev/null || fail "train"
    for np in 1 2 3 4; do
        hrt $np recommend --model "$W/lf.tar" --data "$W/lf" --out "$W/lr$np" --top 10 >/dev/null || fail "recommend $np"
        hrt $np similar --data "$W/lf" --out "$W/ls$np" --top 5 --measure cosine --min-support 2 >/dev/null || fail "similar $np"
    done
    for np in 2 3 4; do
        # same (user, rank) scores within float rounding of differently blocked SGEMMs
        python3 - <(lines "$W/lr1") <(lines "$W/lr$np") <<'PY' || fail "recommendations on $np vs 1 ranks"
import sys
def load(f): return {(l.split("\t")[0], l.split("\t")[1]): float(l.split("\t")[3]) for l in open(f)}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys(), "different (user, rank) sets"
worst = max(abs(a[k] - b[k]) for k in a)
assert worst < 1e-4, worst
PY
        [ "$(lines "$W/ls$np" | md5sum)" = "$(lines "$W/ls1" | md5sum)" ] || fail "co-occurrence on $np vs 1 ranks"
    done
    # Brute force: every list equals the exact ranking of the unseen items (scores in double),
    # for an ials model and an als model with biases, on 1 and 3 ranks (the sweep's pruning and
    # probe bar must never drop a true top item).
    awk 'NR > 1 {print $1 "\t" $2}' "$HR_DATA/hetrec2011-lastfm-2k/user_artists.dat" > "$W/lf.seen"
    hrt 2 train --data "$W/lf" --out "$W/lfa.tar" --algo als --factors 16 --iters 3 >/dev/null || fail "train als"
    local model
    for model in lf lfa; do
        for np in 1 3; do
            hrt $np recommend --model "$W/$model.tar" --data "$W/lf" --out "$W/lo$model$np" --top 25 >/dev/null || fail "recommend"
            zstdcat "$W/lo$model$np"/part-*.tsv.zst | awk 'NR == 1 || $1 != "user"' > "$W/lo.tsv"
            "$HR_ROOT/${HR_BUILD:-build}/tools/rec_oracle" "$W/$model.tar" "$W/lf.seen" "$W/lo.tsv" 25 || fail "$model on $np ranks vs brute force"
        done
    done
}

case_similar_by_hand() {
    fixture
    hrt $NP similar --data "$W/tr" --out "$W/s1" --top 3 --measure jaccard >/dev/null || fail "jaccard"
    hrt $NP similar --data "$W/tr" --out "$W/s2" --top 3 --measure cosine --min-support 2 >/dev/null || fail "cosine"
    # users per item: 10:{1,2,3} 20:{1,3,4} 30:{2} 40:{3} 50:{4}
    # jaccard(10,20) = |{1,3}| / |{1,2,3,4}| = 0.5; jaccard(10,30) = 1/3; jaccard(20,50) = 1/3
    local j
    j=$(lines "$W/s1" | awk -F'\t' '$1 == 10 && $3 == 20 {print $4}')
    assert_eq "$j" "0.500000" "jaccard(10,20)"
    j=$(lines "$W/s1" | awk -F'\t' '$1 == 20 && $3 == 50 {print $4}')
    assert_eq "$j" "0.333333" "jaccard(20,50)"
    # cosine with min support 2: only the pair (10,20): 2 / sqrt(3 * 3)
    assert_eq "$(lines "$W/s2" | awk -F'\t' '{print $1, $3, $4}' | tr '\n' ';')" "10 20 0.666667;20 10 0.666667;" "cosine, support >= 2"
    [ "$(lines "$W/s1" | awk -F'\t' '$1 == $3' | wc -l)" = 0 ] || fail "an item is its own neighbour"
    hrt $NP similar --model "$W/ials.tar" --out "$W/s3" --top 2 >/dev/null || fail "from factors"
    [ "$(lines "$W/s3" | awk -F'\t' '$1 == $3' | wc -l)" = 0 ] || fail "an item is its own neighbour (factors)"
    [ "$(lines "$W/s3" | awk -F'\t' '$4 > 1.000001 || $4 < -1.000001' | wc -l)" = 0 ] || fail "cosine outside [-1, 1]"
    [ "$(lines "$W/s3" | wc -l)" = 10 ] || fail "5 items x top 2"
    expect_fail 2 "exactly one" hrt 1 similar --out "$W/s4"
    expect_fail 2 "--measure" hrt 1 similar --data "$W/tr" --out "$W/s4" --measure dice
}

tcase recommend-pop-exclusions-fallback case_pop_exclusions_fallback
tcase recommend-no-training-items case_no_training_items
tcase recommend-users-exclude case_users_and_exclude
tcase recommend-diversify case_diversify
tcase recommend-similar-ranks case_ranks
tcase similar-by-hand case_similar_by_hand
[ "$_fails" = 0 ]
