#!/bin/bash
# tests/integration/test_userknn.sh — `train --algo userknn` (user neighbourhood model: sparse
# per-user neighbour lists, user blocks round the ring) and evaluate on it.  Hand-computed
# similarities are the unit test (tests/unit/test_knn_user.c); here:
#   ranks      explicit (pearson-baseline; 1, 3 ranks) and implicit (bm25, capped rows; 1, 2, 4
#              ranks) models on 4000 users (4 user blocks): bit-identical (model_diff --exact);
#              evaluate's metrics (ranking and rmse) the same on 1 and 3 ranks
#   fallback   a user who shares no item with anyone has no neighbours: ranked by popularity
#              (users_fallback), its ratings the baseline (predictions_fallback)
#   errors     --neighbors 0, an unknown measure, pearson on implicit data without values: exit 2;
#              recommend / similar on a userknn bundle: exit 2, clear
#   quality    MovieLens 100K u1 rmse <= 0.94 (pearson-baseline, KNNBaseline's rule); Last.fm 2K
#              (random 20 %, seed 1) recall@10 printed beside popularity
source "$(dirname "$0")/../lib.sh"
NP=2
W=$HR_TMP/userknn
TOOLS=$HR_ROOT/${HR_BUILD:-build}/tools
mkdir -p "$W"

data() {
    [ -f "$W/data.ok" ] && return 0
    local k
    for k in ratings counts; do
        hrt $NP gen --out "$W/raw-$k" --users 4000 --items 600 --interactions 24000 --kind $k --factors 4 --seed 5 >/dev/null || fail "gen $k"
        hrt $NP ingest --input "$W/raw-$k" --out "$W/all-$k" >/dev/null || fail "ingest $k"
        hrt $NP split --data "$W/all-$k" --train "$W/tr-$k" --test "$W/te-$k" --random 0.2 --seed 1 >/dev/null || fail "split $k"
    done
    touch "$W/data.ok"
}

case_ranks() {
    data
    local np
    for np in 1 3; do
        hrt $np train --data "$W/tr-ratings" --out "$W/e$np.tar" --algo userknn --neighbors 30 --json "$W/e$np.json" >/dev/null \
            || fail "explicit userknn on $np ranks"
    done
    for np in 1 2 4; do
        hrt $np train --data "$W/tr-counts" --out "$W/i$np.tar" --algo userknn --knn-weight bm25 --max-user-items 5 \
            --json "$W/i$np.json" >/dev/null || fail "implicit userknn on $np ranks"
    done
    jtrue 'a["algo"] == "userknn" and a["knn_sim"] == "pearson-baseline" and a["knn_neighbours_stored"] > 0' "$W/e1.json"
    jtrue 'a["knn_sim"] == "dot" and a["knn_interactions_kept"] < a["interactions"]' "$W/i1.json"
    "$TOOLS/model_diff" --exact "$W/e1.tar" "$W/e3.tar" >/dev/null || fail "explicit model on 3 ranks differs from 1 rank"
    for np in 2 4; do
        "$TOOLS/model_diff" --exact "$W/i1.tar" "$W/i$np.tar" >/dev/null || fail "implicit model on $np ranks differs from 1 rank"
    done
    for np in 1 3; do
        hrt $np evaluate --model "$W/e3.tar" --train "$W/tr-ratings" --test "$W/te-ratings" --json "$W/ee$np.json" >/dev/null || fail "evaluate e $np"
        hrt $np evaluate --model "$W/i2.tar" --train "$W/tr-counts" --test "$W/te-counts" --json "$W/ei$np.json" >/dev/null || fail "evaluate i $np"
    done
    # the scores are the same bits; the metrics' sums over ranks differ in the last digits only
    jtrue '(all(abs(a[k] - b[k]) < 1e-12 for k in ("rmse", "mae", "ndcg@10", "recall@10")) and a["predictions_fallback"] == b["predictions_fallback"]
           and 0 < a["rmse"] < 2)' "$W/ee1.json" "$W/ee3.json"
    jtrue 'all(abs(a[k] - b[k]) < 1e-12 for k in ("ndcg@10", "recall@10")) and a["users_fallback"] == b["users_fallback"] and a["recall@10"] > 0 and "rmse" not in a' \
        "$W/ei1.json" "$W/ei3.json"
}

case_fallback() {
    # 60 users over items 0..29; user 999 alone has items 500, 501 (nobody else): no neighbours
    awk 'BEGIN { srand(7); print "user,item,rating"; for (u = 0; u < 60; u++) for (k = 0; k < 8; k++) print u "," int(30 * rand()) "," 1 + int(5 * rand());
                 print "999,500,4"; print "999,501,2" }' > "$W/fb-tr.csv"
    printf 'user,item,rating\n999,3,5\n999,7,3\n1,5,4\n' > "$W/fb-te.csv"
    hrt 1 ingest --input "$W/fb-tr.csv" --out "$W/fb-tr" >/dev/null || fail "ingest"
    hrt 1 ingest --input "$W/fb-te.csv" --out "$W/fb-te" >/dev/null || fail "ingest"
    hrt 2 train --data "$W/fb-tr" --out "$W/fb.tar" --algo userknn --knn-measure cosine >/dev/null || fail "train"
    hrt 2 evaluate --model "$W/fb.tar" --train "$W/fb-tr" --test "$W/fb-te" --json "$W/fb.json" >/dev/null || fail "evaluate"
    jtrue 'a["users_fallback"] == 1 and a["predictions_fallback"] >= 2 and isnum(a["rmse"])' "$W/fb.json"
}

case_errors() {
    data
    expect_fail 2 "neighbors 0" hrt 1 train --data "$W/tr-ratings" --out "$W/x.tar" --algo userknn --neighbors 0
    expect_fail 2 "unknown measure 'msd'" hrt 1 train --data "$W/tr-ratings" --out "$W/x.tar" --algo userknn --knn-measure msd
    awk 'BEGIN { srand(3); print "user,item"; for (u = 0; u < 50; u++) for (k = 0; k < 5; k++) print u "," int(40 * rand()) }' > "$W/bin.csv"
    hrt 1 ingest --input "$W/bin.csv" --out "$W/bin" >/dev/null || fail "ingest binary"
    expect_fail 2 "pearson on implicit data without values" hrt 1 train --data "$W/bin" --out "$W/x.tar" --algo userknn --knn-measure pearson
    [ ! -e "$W/x.tar" ] || fail "a refused run wrote a model"
    hrt 1 train --data "$W/bin" --out "$W/x.tar" --algo userknn --knn-measure jaccard >/dev/null || fail "jaccard on binary data"
    expect_fail 2 "recommend does not serve it yet" hrt 1 recommend --model "$W/x.tar" --data "$W/bin" --out "$W/rec"
    expect_fail 2 "holds user neighbours, not item similarities" hrt 1 similar --model "$W/x.tar" --out "$W/sim"
}

case_ml100k() {
    need_data ml-100k
    local d=$HR_DATA/ml-100k
    hrt $NP ingest --input "$d/u1.base" --out "$W/ml-tr" >/dev/null || fail "ingest u1.base"
    hrt $NP ingest --input "$d/u1.test" --out "$W/ml-te" >/dev/null || fail "ingest u1.test"
    hrt $NP train --data "$W/ml-tr" --out "$W/ml.tar" --algo userknn >/dev/null || fail "train"
    hrt $NP evaluate --model "$W/ml.tar" --train "$W/ml-tr" --test "$W/ml-te" --json "$W/ml.json" >/dev/null || fail "evaluate"
    echo "# MovieLens 100K u1 userknn (pearson-baseline, K 300 stored, k 40) rmse $(json_get "$W/ml.json" rmse);" \
         "Surprise 5-fold KNNBaseline 0.931"
    jtrue 'a["rmse"] <= 0.94' "$W/ml.json"
}

case_lastfm() {
    need_data hetrec2011-lastfm-2k
    hrt $NP ingest --input "$HR_DATA/hetrec2011-lastfm-2k/user_artists.dat" --out "$W/lf" >/dev/null || fail "ingest"
    hrt $NP split --data "$W/lf" --train "$W/lf-tr" --test "$W/lf-te" --random 0.2 --seed 1 >/dev/null || fail "split"
    hrt $NP train --data "$W/lf-tr" --out "$W/lf.tar" --algo userknn --knn-weight bm25 >/dev/null || fail "train"
    hrt $NP evaluate --model "$W/lf.tar" --train "$W/lf-tr" --test "$W/lf-te" --baseline pop --json "$W/lf.json" >/dev/null || fail "evaluate"
    echo "# Last.fm 2K userknn bm25 recall@10 $(json_get "$W/lf.json" recall@10), pop $(json_get "$W/lf.json" pop.recall@10)"
    jtrue 'a["recall@10"] > a["pop.recall@10"] and "rmse" not in a' "$W/lf.json"
}

tcase userknn-ranks case_ranks
tcase userknn-fallback case_fallback
tcase userknn-errors case_errors
tcase userknn-ml100k case_ml100k
tcase userknn-lastfm case_lastfm
[ "$_fails" = 0 ]
