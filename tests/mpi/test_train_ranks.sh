#!/bin/bash
# tests/mpi/test_train_ranks.sh — distributed training gives the same model on any rank count
# (DESIGN.md "Correct on any rank count"; issue "Distributed ALS training"):
#   - the same dataset and seed trained on 1, 2, 3 and 4 ranks: the same model within 1e-4
#     relative (build/tools/model_diff: per array, max |a-b| / max |a|), for explicit ALS
#     (MovieLens 100K u1.base) and implicit ALS with --solver cg and --solver cholesky (Last.fm
#     2K, seeded 20% holdout), all at default settings; the same on generated data, which
#     needs no dataset and so always runs;
#   - implicit at k = 40, whose received rows are split (32 + 8 floats): the same on 1 and 3
#     ranks and on both exchanges;
#   - --exchange allgather and --exchange needed (partition/route.c) give the same model
#     within 1e-4, and bit-identical ones on the same rank count (reported as its own case);
#   - the same run twice is bit-identical (model_diff --exact);
#   - train's JSON "ranks" is the rank count; the exchange it reports is the one asked for;
#   - evaluate's metrics on 1 and 3 ranks agree within 1e-6.
source "$(dirname "$0")/../lib.sh"
TO=${HR_TIMEOUT:-60}
MODEL_DIFF=${HR_MODEL_DIFF:-$HR_ROOT/${HR_BUILD:-build}/tools/model_diff}

need_tool() { [ -x "$MODEL_DIFF" ] || fail "$MODEL_DIFF not built (make)"; }
# same_model A B [--exact]: model_diff within 1e-4 relative (or bit-identical with --exact).
same_model() {
    local out rc=0
    out=$("$MODEL_DIFF" "$1" "$2" --rtol 1e-4 ${3:-}) || rc=$?
    echo "$out"
    [ "$rc" = 0 ] || fail "$(basename "$1") vs $(basename "$2")${3:+ ($3)}: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
}

# ---- fixtures ----------------------------------------------------------------------------
ml_data() {
    need_data ml-100k
    [ -f "$HR_TMP/ml.ok" ] && return 0
    hrt 2 ingest --input "$HR_DATA/ml-100k/u1.base" --out "$HR_TMP/ml" >/dev/null || fail "ingest u1.base"
    hrt 2 ingest --input "$HR_DATA/ml-100k/u1.test" --out "$HR_TMP/ml-test" >/dev/null || fail "ingest u1.test"
    touch "$HR_TMP/ml.ok"
}
lfm_data() {
    need_data hetrec2011-lastfm-2k
    [ -f "$HR_TMP/lfm.ok" ] && return 0
    hrt 2 ingest --input "$HR_DATA/hetrec2011-lastfm-2k/user_artists.dat" --out "$HR_TMP/lfm-all" >/dev/null || fail "ingest"
    hrt 2 split --data "$HR_TMP/lfm-all" --train "$HR_TMP/lfm" --test "$HR_TMP/lfm-test" --random 0.2 --seed 1 >/dev/null \
        || fail "split"
    touch "$HR_TMP/lfm.ok"
}
gen_data() {
    [ -f "$HR_TMP/gen.ok" ] && return 0
    local kind
    for kind in ratings counts; do
        hrt 2 gen --out "$HR_TMP/gen-$kind-raw" --users 3000 --items 1500 --interactions 60000 --kind $kind --factors 8 \
            --seed 7 >/dev/null || fail "gen $kind"
        hrt 2 ingest --input "$HR_TMP/gen-$kind-raw" --out "$HR_TMP/gen-$kind" >/dev/null || fail "ingest $kind"
    done
    touch "$HR_TMP/gen.ok"
}
# model NAME NP DATASET train-args...: train once into $HR_TMP/NAME.tar (summary NAME.json);
# checks that the summary's "ranks" is NP.
model() {
    local name=$1 np=$2 data=$3; shift 3
    [ -f "$HR_TMP/$name.tar" ] && return 0
    hrt "$np" train --data "$data" --out "$HR_TMP/$name.tar" --json "$HR_TMP/$name.json" "$@" >"$HR_TMP/$name.log" 2>&1 \
        || { cat "$HR_TMP/$name.log"; fail "train $* on $np ranks failed"; }
    local r
    r=$(json_get "$HR_TMP/$name.json" ranks)
    assert_eq "$r" "$np" "train JSON ranks of $name"
}
# across_ranks TAG DATASET train-args...: train on 1..4 ranks, every model equal to the 1-rank one.
across_ranks() {
    local tag=$1 data=$2 np; shift 2
    need_tool
    for np in 1 2 3 4; do model "$tag-np$np" $np "$data" "$@"; done
    local bad=""
    for np in 2 3 4; do
        echo "== $tag: 1 vs $np ranks"
        ( same_model "$HR_TMP/$tag-np1.tar" "$HR_TMP/$tag-np$np.tar" ) 2>&1 || bad="$bad $np"
    done
    [ -z "$bad" ] || fail "$tag: the model on$bad ranks differs from the 1-rank model by more than 1e-4"
}

# ---- cases -------------------------------------------------------------------------------
case_als_ml() { ml_data; across_ranks als-ml "$HR_TMP/ml" --algo als; }
case_ials_cg_lfm() { lfm_data; across_ranks cg-lfm "$HR_TMP/lfm" --algo ials --solver cg; }
case_ials_chol_lfm() { lfm_data; across_ranks chol-lfm "$HR_TMP/lfm" --algo ials --solver cholesky; }

case_generated() {
    gen_data
    need_tool
    local np
    for np in 1 3 4; do
        model gen-als-np$np $np "$HR_TMP/gen-ratings" --algo als --factors 16
        model gen-cg-np$np $np "$HR_TMP/gen-counts" --algo ials --factors 16 --solver cg
        model gen-chol-np$np $np "$HR_TMP/gen-counts" --algo ials --factors 16 --solver cholesky
    done
    for np in 3 4; do
        same_model "$HR_TMP/gen-als-np1.tar" "$HR_TMP/gen-als-np$np.tar"
        same_model "$HR_TMP/gen-cg-np1.tar" "$HR_TMP/gen-cg-np$np.tar"
        same_model "$HR_TMP/gen-chol-np1.tar" "$HR_TMP/gen-chol-np$np.tar"
    done
}

# k = 40 implicit: the received rows travel and sit split, 32 floats and 8 (hr_als_split_ky,
# hr_route_exchange_cols): 1 vs 3 ranks within 1e-4, allgather vs needed bit-identical.
case_split_rows() {
    gen_data
    need_tool
    local np x
    for np in 1 3; do model split-np$np $np "$HR_TMP/gen-counts" --algo ials --factors 40 --iters 3; done
    for x in allgather needed; do
        model split-$x 3 "$HR_TMP/gen-counts" --algo ials --factors 40 --iters 3 --exchange $x
    done
    same_model "$HR_TMP/split-np1.tar" "$HR_TMP/split-np3.tar"
    same_model "$HR_TMP/split-allgather.tar" "$HR_TMP/split-needed.tar" --exact
}
# exchange_pair TAG DATASET train-args...: 3 ranks, --exchange allgather and needed.
exchange_pair() {
    local tag=$1 data=$2 x; shift 2
    for x in allgather needed; do
        model "$tag-$x" 3 "$data" "$@" --exchange $x
        assert_eq "$(json_get "$HR_TMP/$tag-$x.json" exchange_users)" $x "exchange_users of $tag-$x"
        assert_eq "$(json_get "$HR_TMP/$tag-$x.json" exchange_items)" $x "exchange_items of $tag-$x"
    done
    # needed moves only referenced rows: never more than allgather
    python3 -c 'import json,sys; a,b=(json.load(open(f))["bytes_exchanged_per_iteration"] for f in sys.argv[1:]); sys.exit(0 if 0 < b <= a else 1)' \
        "$HR_TMP/$tag-allgather.json" "$HR_TMP/$tag-needed.json" || fail "$tag: needed exchanged more bytes than allgather"
}
exchange_data() {   # the real datasets when present, else generated data
    if [ -d "$HR_DATA/ml-100k" ] && [ -d "$HR_DATA/hetrec2011-lastfm-2k" ]; then
        ml_data; lfm_data
        EX_RATINGS=$HR_TMP/ml EX_COUNTS=$HR_TMP/lfm
    else
        gen_data
        EX_RATINGS=$HR_TMP/gen-ratings EX_COUNTS=$HR_TMP/gen-counts
    fi
}
case_exchange_tolerance() {
    exchange_data
    need_tool
    exchange_pair ex-als "$EX_RATINGS" --algo als
    exchange_pair ex-ials "$EX_COUNTS" --algo ials
    same_model "$HR_TMP/ex-als-allgather.tar" "$HR_TMP/ex-als-needed.tar"
    same_model "$HR_TMP/ex-ials-allgather.tar" "$HR_TMP/ex-ials-needed.tar"
}
case_exchange_exact() {
    exchange_data
    need_tool
    exchange_pair ex-als "$EX_RATINGS" --algo als
    exchange_pair ex-ials "$EX_COUNTS" --algo ials
    same_model "$HR_TMP/ex-als-allgather.tar" "$HR_TMP/ex-als-needed.tar" --exact
    same_model "$HR_TMP/ex-ials-allgather.tar" "$HR_TMP/ex-ials-needed.tar" --exact
}
case_repeat_exact() {
    exchange_data
    need_tool
    exchange_pair ex-als "$EX_RATINGS" --algo als
    exchange_pair ex-ials "$EX_COUNTS" --algo ials
    model rep-als 3 "$EX_RATINGS" --algo als --exchange needed
    model rep-ials 3 "$EX_COUNTS" --algo ials --exchange needed
    same_model "$HR_TMP/ex-als-needed.tar" "$HR_TMP/rep-als.tar" --exact
    same_model "$HR_TMP/ex-ials-needed.tar" "$HR_TMP/rep-ials.tar" --exact
}

# evaluate the same model on 1 and 3 ranks: every metric within 1e-6 (absolute; all are in
# [0, 1] except rmse/mae, which are ~1).
eval_pair() {
    local tag=$1 m=$2 train=$3 test=$4 np
    for np in 1 3; do
        hrt $np evaluate --model "$m" --train "$train" --test "$test" --k 10,20 --baseline pop \
            --json "$HR_TMP/$tag-eval$np.json" >/dev/null || fail "evaluate $tag on $np ranks"
    done
    python3 - "$HR_TMP/$tag-eval1.json" "$HR_TMP/$tag-eval3.json" <<'EOF' || fail "$tag: metrics differ between 1 and 3 ranks"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
skip = {"seconds", "ranks", "peak_rss_mb", "peak_rss_mb_mean", "minor_faults", "minor_faults_max", "system_seconds",
        "system_seconds_max", "user_seconds", "peak_alloc_mb", "peak_alloc_mb_rank0", "peak_alloc_mb_others", "peak_alloc_mb_min"}
keys = [k for k, v in a.items() if isinstance(v, (int, float)) and k not in skip]
assert set(keys) == {k for k, v in b.items() if isinstance(v, (int, float)) and k not in skip}, "different keys"
assert "recall@10" in keys and "pop.recall@10" in keys and a["users_evaluated"] > 0
bad = [(k, a[k], b[k]) for k in keys if abs(a[k] - b[k]) > 1e-6]
assert not bad, bad
print("%d metrics agree" % len(keys))
EOF
}
case_evaluate_ranks() {
    if [ -d "$HR_DATA/ml-100k" ] && [ -d "$HR_DATA/hetrec2011-lastfm-2k" ]; then
        ml_data; lfm_data
        model als-ml-np2 2 "$HR_TMP/ml" --algo als
        model cg-lfm-np2 2 "$HR_TMP/lfm" --algo ials --solver cg
        eval_pair ml "$HR_TMP/als-ml-np2.tar" "$HR_TMP/ml" "$HR_TMP/ml-test"
        jtrue_rmse="$HR_TMP/ml-eval3.json"
        eval_pair lfm "$HR_TMP/cg-lfm-np2.tar" "$HR_TMP/lfm" "$HR_TMP/lfm-test"
    else
        gen_data
        hrt 2 split --data "$HR_TMP/gen-ratings" --train "$HR_TMP/gr-train" --test "$HR_TMP/gr-test" --random 0.2 --seed 1 \
            >/dev/null || fail "split"
        model gr-als 2 "$HR_TMP/gr-train" --algo als --factors 16
        eval_pair gr "$HR_TMP/gr-als.tar" "$HR_TMP/gr-train" "$HR_TMP/gr-test"
        jtrue_rmse="$HR_TMP/gr-eval3.json"
    fi
    [ "$(json_get "$jtrue_rmse" rmse)" != null ] || fail "no rmse in the als evaluation"
}

tcase train-ranks-als-ml100k case_als_ml
tcase train-ranks-ials-cg-lastfm case_ials_cg_lfm
tcase train-ranks-ials-cholesky-lastfm case_ials_chol_lfm
tcase train-ranks-generated case_generated
tcase train-ranks-split-rows case_split_rows
tcase train-exchange-same-model case_exchange_tolerance
tcase train-exchange-bit-identical case_exchange_exact
tcase train-repeat-bit-identical case_repeat_exact
tcase evaluate-ranks-agree case_evaluate_ranks
[ "$_fails" = 0 ]
