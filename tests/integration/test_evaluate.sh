#!/bin/bash
# tests/integration/test_evaluate.sh — `hpcrec evaluate`: the metric keys of the --json summary
# for --k 10,20 (rating keys only for rating models), the pop.-prefixed keys of --baseline pop,
# a tiny train/test pair whose precision/recall/NDCG/MAP/HR/MRR/coverage are computed by hand
# below (popularity ranking, ties by lower item id, training items excluded), and bad --k /
# --baseline values (exit 2).  Runs on generated and hand-written data only.
source "$(dirname "$0")/../lib.sh"
NP=2
TO=${HR_TIMEOUT:-60}

# data KIND: generated KIND (ratings|counts) data, split 80/20, in $HR_TMP/KIND-{train,test}.
data() {
    local kind=$1
    [ -f "$HR_TMP/$kind.ok" ] && return 0
    hrt $NP gen --out "$HR_TMP/$kind-raw" --users 400 --items 300 --interactions 12000 --kind "$kind" --factors 4 \
        --seed 11 >/dev/null || fail "gen $kind"
    hrt $NP ingest --input "$HR_TMP/$kind-raw" --out "$HR_TMP/$kind" >/dev/null || fail "ingest $kind"
    hrt $NP split --data "$HR_TMP/$kind" --train "$HR_TMP/$kind-train" --test "$HR_TMP/$kind-test" --random 0.2 --seed 1 \
        >/dev/null || fail "split $kind"
    touch "$HR_TMP/$kind.ok"
}

# check_keys FILE RATING(0|1) PREFIX: every documented key for K = 10, 20, with values in range
# and the invariants that hold by definition (a longer list never has fewer hits).
check_keys() {
    python3 - "$1" "$2" "$3" <<'EOF' || fail "keys of $1 (prefix '$3')"
import json, sys
s, rating, p = json.load(open(sys.argv[1])), sys.argv[2] == "1", sys.argv[3]
num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
for K in (10, 20):
    for m in ("precision", "recall", "ndcg", "map", "hr", "coverage"):
        key = "%s%s@%d" % (p, m, K)
        assert key in s, "missing " + key
        assert num(s[key]) and 0 <= s[key] <= 1, (key, s[key])
for key in ("mrr", "users_evaluated"):
    assert p + key in s, "missing " + p + key
assert isinstance(s[p + "users_evaluated"], int) and s[p + "users_evaluated"] > 0, s[p + "users_evaluated"]
assert num(s[p + "mrr"]) and 0 <= s[p + "mrr"] <= 1
for m in ("recall", "hr", "coverage"):
    assert s[p + m + "@20"] >= s[p + m + "@10"], m
assert s[p + "hr@10"] >= s[p + "precision@10"] and s[p + "recall@10"] > 0, "hits"
if rating:
    for key in ("rmse", "mae"):
        assert num(s.get(p + key)) and s[p + key] > 0, "missing or bad " + p + key
    assert s[p + "mae"] <= s[p + "rmse"], "mae > rmse"
else:
    assert p + "rmse" not in s and p + "mae" not in s, "rating metrics for a model that predicts no ratings"
EOF
}

case_keys_als() {
    data ratings
    hrt $NP train --data "$HR_TMP/ratings-train" --out "$HR_TMP/als.tar" --algo als --factors 8 --iters 5 >/dev/null \
        || fail "train als"
    hrt $NP evaluate --model "$HR_TMP/als.tar" --train "$HR_TMP/ratings-train" --test "$HR_TMP/ratings-test" --k 10,20 \
        --json "$HR_TMP/als-eval.json" || fail "evaluate"
    check_keys "$HR_TMP/als-eval.json" 1 ""
    jtrue 'not any(k.startswith("pop.") for k in a)' "$HR_TMP/als-eval.json"
    jtrue 'a["algo"] == "als"' "$HR_TMP/als-eval.json"
}

case_keys_ials() {
    data counts
    hrt $NP train --data "$HR_TMP/counts-train" --out "$HR_TMP/ials.tar" --algo ials --factors 8 --iters 5 >/dev/null \
        || fail "train ials"
    hrt $NP evaluate --model "$HR_TMP/ials.tar" --train "$HR_TMP/counts-train" --test "$HR_TMP/counts-test" --k 10,20 \
        --json "$HR_TMP/ials-eval.json" || fail "evaluate"
    check_keys "$HR_TMP/ials-eval.json" 0 ""
}

case_baseline_pop() {
    data ratings
    [ -f "$HR_TMP/als.tar" ] || hrt $NP train --data "$HR_TMP/ratings-train" --out "$HR_TMP/als.tar" --algo als \
        --factors 8 --iters 5 >/dev/null || fail "train als"
    hrt $NP evaluate --model "$HR_TMP/als.tar" --train "$HR_TMP/ratings-train" --test "$HR_TMP/ratings-test" --k 10,20 \
        --baseline pop --json "$HR_TMP/base.json" || fail "evaluate --baseline pop"
    check_keys "$HR_TMP/base.json" 1 ""
    check_keys "$HR_TMP/base.json" 0 "pop."       # popularity predicts no ratings: no pop.rmse
    jtrue 'a["pop.users_evaluated"] == a["users_evaluated"]' "$HR_TMP/base.json"
    # a pop model evaluated against the pop baseline: both are the training popularity, so
    # every metric must be equal
    hrt $NP train --data "$HR_TMP/ratings-train" --out "$HR_TMP/pop.tar" --algo pop >/dev/null || fail "train pop"
    hrt $NP evaluate --model "$HR_TMP/pop.tar" --train "$HR_TMP/ratings-train" --test "$HR_TMP/ratings-test" --k 10,20 \
        --baseline pop --json "$HR_TMP/pop-base.json" || fail "evaluate pop --baseline pop"
    check_keys "$HR_TMP/pop-base.json" 0 ""
    jtrue 'all(abs(a[k] - a["pop." + k]) < 1e-12 for k in a if "pop." + k in a)' "$HR_TMP/pop-base.json"
    jtrue 'sum(1 for k in a if k.startswith("pop.")) >= 14' "$HR_TMP/pop-base.json"
}

# Tiny case.  Training interactions (user: items), external item ids 7, 30, 100, 200, 1000:
#   u1: 7 30      u2: 7 100      u3: 7 30 200      u4: 1000
# Popularity: 7 -> 3, 30 -> 2, 100 / 200 / 1000 -> 1 each; ties by the lower item id, and ids
# are numeric, so 100 < 200 < 1000 (bytewise "1000" < "200" would give another order).
# Ranking = pop order minus the user's training items:
#   u1: 100 200 1000    u2: 30 200 1000    u3: 100 1000    u4: 7 30 100 200
# Test: u1 {200}; u2 {30, 1000}; u3 {100}; u4 {100, 200, 999}; u5 {7}.  999 and u5 are not in
# training: counted (test_events_unknown_*), not scored, so u4's relevant set is {100, 200}.
#   per user   hits@1  hits@2  P@1 P@2  R@1  R@2  NDCG@1 NDCG@2            AP@1 AP@2  RR@1 RR@2
#   u1 {200}     0       1      0  1/2   0    1     0    (1/l3)/1          0    1/2    0   1/2
#   u2 {30,1000} 1       1      1  1/2  1/2  1/2    1    1/(1+1/l3)        1    1/2    1    1
#   u3 {100}     1       1      1  1/2   1    1     1    1                 1    1      1    1
#   u4 {100,200} 0       0      0   0    0    0     0    0                 0    0      0    0
# (l3 = log2 3; IDCG@2 uses min(|T|, 2) positions; AP@K divides by min(|T|, K).)
# coverage@1: top-1 items {100, 30, 7} = 3/5; coverage@2: {100, 200, 30, 1000, 7} = 5/5.
case_hand_checked() {
    cat >"$HR_TMP/tiny-train.csv" <<'EOF'
user,item,rating
1,7,5
1,30,4
2,7,3
2,100,2
3,7,4
3,30,5
3,200,1
4,1000,3
EOF
    cat >"$HR_TMP/tiny-test.csv" <<'EOF'
user,item,rating
1,200,4
2,30,5
2,1000,1
3,100,3
4,100,2
4,200,5
4,999,4
5,7,4
EOF
    hrt $NP ingest --input "$HR_TMP/tiny-train.csv" --out "$HR_TMP/tiny-train" >/dev/null || fail "ingest train"
    hrt $NP ingest --input "$HR_TMP/tiny-test.csv" --out "$HR_TMP/tiny-test" >/dev/null || fail "ingest test"
    hrt $NP train --data "$HR_TMP/tiny-train" --out "$HR_TMP/tiny-pop.tar" --algo pop >/dev/null || fail "train pop"
    local np
    for np in 1 2; do
        hrt $np evaluate --model "$HR_TMP/tiny-pop.tar" --train "$HR_TMP/tiny-train" --test "$HR_TMP/tiny-test" \
            --k 1,2 --json "$HR_TMP/tiny-$np.json" || fail "evaluate on $np ranks"
        python3 - "$HR_TMP/tiny-$np.json" <<'EOF' || fail "hand-computed metrics differ ($np ranks)"
import json, math, sys
s = json.load(open(sys.argv[1]))
l3 = math.log2(3)
# user 5 is absent from train: ranked by popularity (7, 30, 100, 200, 1000), its test item 7 first
want = {
    "precision@1": (0 + 1 + 1 + 0 + 1) / 5,
    "precision@2": (0.5 + 0.5 + 0.5 + 0 + 0.5) / 5,
    "recall@1": (0 + 0.5 + 1 + 0 + 1) / 5,
    "recall@2": (1 + 0.5 + 1 + 0 + 1) / 5,
    "ndcg@1": (0 + 1 + 1 + 0 + 1) / 5,
    "ndcg@2": ((1 / l3) + 1 / (1 + 1 / l3) + 1 + 0 + 1) / 5,
    "map@1": (0 + 1 + 1 + 0 + 1) / 5,
    "map@2": (0.5 + 0.5 + 1 + 0 + 1) / 5,
    "hr@1": 3 / 5,
    "hr@2": 4 / 5,
    "mrr@1": (0 + 1 + 1 + 0 + 1) / 5,
    "mrr@2": (0.5 + 1 + 1 + 0 + 1) / 5,
    "coverage@1": 3 / 5,
    "coverage@2": 5 / 5,
    "users_evaluated": 5,
    "users_unknown": 1,
    "test_events_unknown_user": 1,
    "test_events_unknown_item": 1,
}
bad = ["%s: got %r, expected %r" % (k, s.get(k), v) for k, v in want.items()
       if not isinstance(s.get(k), (int, float)) or abs(s[k] - v) > 1e-9]
assert "mrr" in s and "rmse" not in s
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
    done
}

case_bad_k() {
    data counts
    local m=$HR_TMP/bk-pop.tar k
    hrt 1 train --data "$HR_TMP/counts-train" --out "$m" --algo pop >/dev/null || fail "train pop"
    local args=(--model "$m" --train "$HR_TMP/counts-train" --test "$HR_TMP/counts-test")
    for k in 0 -1 20,10 10,10 abc 10,,20 100001 1e3 "10;20" "" 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17; do
        expect_fail 2 "--k" hrt 1 evaluate "${args[@]}" --k "$k"
    done
    # options are checked before anything is loaded: a usage error wins over a missing model
    expect_fail 2 "--k" hrt 1 evaluate --model "$HR_TMP/no-such.tar" --train "$HR_TMP/counts-train" \
        --test "$HR_TMP/counts-test" --k ""
    expect_fail 2 "--baseline" hrt 1 evaluate "${args[@]}" --baseline bogus
    # the largest accepted cutoff count works
    hrt 1 evaluate "${args[@]}" --k 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 --json "$HR_TMP/k16.json" >/dev/null \
        || fail "16 cutoffs refused"
    jtrue '"precision@16" in a and "recall@1" in a' "$HR_TMP/k16.json"
}

tcase evaluate-keys-als case_keys_als
tcase evaluate-keys-ials case_keys_ials
tcase evaluate-baseline-pop case_baseline_pop
tcase evaluate-hand-checked case_hand_checked
tcase evaluate-bad-k case_bad_k
[ "$_fails" = 0 ]
