#!/bin/bash
# tests/integration/test_userknn.sh — `train --algo userknn` (user neighbourhood model: sparse
# per-user neighbour lists, user blocks round the ring), evaluate and recommend on it.
# Hand-computed similarities are the unit test (tests/unit/test_knn_user.c); here:
#   ranks      explicit (pearson-baseline) and implicit (bm25, capped rows) models on 4000 users
#              (4 user blocks), 1 and 3 ranks: bit-identical (model_diff --exact); evaluate's
#              metrics (ranking and rmse) the same on 1 and 3 ranks; --predict-neighbors 3 is
#              stored and changes the rmse; recommend's lists the same
#              bytes on 1 and 3 ranks
#   fallback   a user who shares no item with anyone has no neighbours: ranked by popularity
#              (users_fallback), its ratings the baseline (predictions_fallback)
#   recommend  jaccard on 50 users: every positive score equals the sum of the Jaccard
#              similarities of the neighbours holding the item (computed here), seen items never
#              listed; the isolated user gets "popular" lists
#   errors     --neighbors 0, an unknown measure, pearson on implicit data without values,
#              recommend without --data: exit 2; similar on a userknn bundle: exit 2, clear
#   quality    MovieLens 100K u1 rmse <= 0.94 (pearson-baseline, KNNBaseline's rule); Last.fm 2K
#              (random 20 %, seed 1) recall@10 printed beside popularity
# One-rank runs and argument errors run as MPI singletons (no mpirun launch: the test's wall time
# is mostly launches); ranks 3 where identity across rank counts is the point.
source "$(dirname "$0")/../lib.sh"
NP=2
W=$HR_TMP/userknn
TOOLS=$HR_ROOT/${HR_BUILD:-build}/tools
mkdir -p "$W"

# hpcrec as a one-rank MPI singleton, killed after $TO seconds
hr1() { timeout -k 5 "$TO" "$HR_BIN" "$@"; }

data() {
    [ -f "$W/data.ok" ] && return 0
    # one generated rating set: the explicit models use the ratings, the implicit ones the same
    # rows as implicit feedback (--feedback implicit)
    hr1 gen --out "$W/raw" --users 4000 --items 600 --interactions 24000 --kind ratings --factors 4 --seed 5 >/dev/null || fail "gen"
    hr1 ingest --input "$W/raw" --out "$W/all" >/dev/null || fail "ingest"
    hr1 split --data "$W/all" --train "$W/tr" --test "$W/te" --random 0.2 --seed 1 >/dev/null || fail "split"
    touch "$W/data.ok"
}

# sorted lines of a recommend output's parts
recs() { zstdcat "$1"/part-*.tsv.zst | grep -v '^user' | LC_ALL=C sort; }

case_ranks() {
    data
    local np run
    for np in 1 3; do
        run="hrt $np"; [ $np = 1 ] && run=hr1
        $run train --data "$W/tr" --out "$W/e$np.tar" --algo userknn --neighbors 30 --json "$W/e$np.json" >/dev/null \
            || fail "explicit userknn on $np ranks"
        $run train --data "$W/tr" --out "$W/i$np.tar" --algo userknn --feedback implicit --knn-weight bm25 --max-user-items 5 \
            --json "$W/i$np.json" >/dev/null || fail "implicit userknn on $np ranks"
    done
    jtrue 'a["algo"] == "userknn" and a["knn_sim"] == "pearson-baseline" and a["knn_neighbours_stored"] > 0' "$W/e1.json"
    jtrue 'a["knn_sim"] == "dot" and a["knn_interactions_kept"] < a["interactions"] and a["feedback"] == "implicit"' "$W/i1.json"
    "$TOOLS/model_diff" --exact "$W/e1.tar" "$W/e3.tar" >/dev/null || fail "explicit model on 3 ranks differs from 1 rank"
    "$TOOLS/model_diff" --exact "$W/i1.tar" "$W/i3.tar" >/dev/null || fail "implicit model on 3 ranks differs from 1 rank"
    hr1 evaluate --model "$W/e3.tar" --train "$W/tr" --test "$W/te" --json "$W/ee1.json" >/dev/null || fail "evaluate e 1"
    hrt 3 evaluate --model "$W/e3.tar" --train "$W/tr" --test "$W/te" --json "$W/ee3.json" >/dev/null || fail "evaluate e 3"
    hrt 3 evaluate --model "$W/i3.tar" --train "$W/tr" --test "$W/te" --json "$W/ei3.json" >/dev/null || fail "evaluate i 3"
    # the scores are the same bits; the metrics' sums over ranks differ in the last digits only
    jtrue '(all(abs(a[k] - b[k]) < 1e-12 for k in ("rmse", "mae", "ndcg@10", "recall@10")) and a["predictions_fallback"] == b["predictions_fallback"]
           and 0 < a["rmse"] < 2)' "$W/ee1.json" "$W/ee3.json"
    jtrue 'a["recall@10"] > 0 and "rmse" not in a' "$W/ei3.json"
    # --predict-neighbors: stored, and a prediction from 3 neighbours differs from one from 40
    hr1 train --data "$W/tr" --out "$W/p3.tar" --algo userknn --neighbors 30 --predict-neighbors 3 --json "$W/p3.json" >/dev/null \
        || fail "userknn --predict-neighbors 3"
    hr1 evaluate --model "$W/p3.tar" --train "$W/tr" --test "$W/te" --json "$W/ep3.json" >/dev/null || fail "evaluate p3"
    jtrue 'a["predict_neighbors"] == 3 and b["predict_neighbors"] == 40' "$W/p3.json" "$W/e1.json"
    jtrue 'abs(a["rmse"] - b["rmse"]) > 1e-4 and a["predictions_fallback"] == b["predictions_fallback"]' "$W/ep3.json" "$W/ee1.json"
    # recommend from the neighbours' --data rows: the same lists on 1 and 3 ranks
    hr1 recommend --model "$W/i3.tar" --data "$W/tr" --out "$W/r1" --top 5 --json "$W/r1.json" >/dev/null || fail "recommend 1"
    hrt 3 recommend --model "$W/i3.tar" --data "$W/tr" --out "$W/r3" --top 5 --json "$W/r3.json" >/dev/null || fail "recommend 3"
    recs "$W/r1" > "$W/r1.tsv"
    recs "$W/r3" > "$W/r3.tsv"
    cmp -s "$W/r1.tsv" "$W/r3.tsv" || fail "recommend on 3 ranks differs from 1 rank"
    jtrue 'a["users"] == b["users"] > 3000 and a["lines"] == 5 * a["users"] and a["users_fallback"] == b["users_fallback"] < a["users"]' \
        "$W/r1.json" "$W/r3.json"
    awk -F'\t' '$5 == "model" && $4 > 0 { n++ } END { exit !(n > 10000) }' "$W/r1.tsv" || fail "few lists scored from neighbours"
}

case_fallback() {
    # 60 users over items 0..29; user 999 alone has items 500, 501 (nobody else): no neighbours
    awk 'BEGIN { srand(7); print "user,item,rating"; for (u = 0; u < 60; u++) for (k = 0; k < 8; k++) print u "," int(30 * rand()) "," 1 + int(5 * rand());
                 print "999,500,4"; print "999,501,2" }' > "$W/fb-tr.csv"
    printf 'user,item,rating\n999,3,5\n999,7,3\n1,5,4\n' > "$W/fb-te.csv"
    hr1 ingest --input "$W/fb-tr.csv" --out "$W/fb-tr" >/dev/null || fail "ingest"
    hr1 ingest --input "$W/fb-te.csv" --out "$W/fb-te" >/dev/null || fail "ingest"
    hrt 2 train --data "$W/fb-tr" --out "$W/fb.tar" --algo userknn --knn-measure cosine >/dev/null || fail "train"
    hrt 2 evaluate --model "$W/fb.tar" --train "$W/fb-tr" --test "$W/fb-te" --json "$W/fb.json" >/dev/null || fail "evaluate"
    jtrue 'a["users_fallback"] == 1 and a["predictions_fallback"] >= 2 and isnum(a["rmse"])' "$W/fb.json"
}

case_recommend() {
    # 50 users x 5 distinct items of 40, no values; user 999 alone has items 500, 501
    awk 'BEGIN { srand(3); for (u = 0; u < 50; u++) { split("", s); for (k = 0; k < 5; ) { i = int(40 * rand()); if (!(i in s)) { s[i]; k++; print u "," i } } }
                 print "999,500"; print "999,501" }' > "$W/bin.csv"
    hr1 ingest --input "$W/bin.csv" --out "$W/bin" >/dev/null || fail "ingest binary"
    expect_fail 2 "pearson on implicit data without values" hr1 train --data "$W/bin" --out "$W/x.tar" --algo userknn --knn-measure pearson
    [ ! -e "$W/x.tar" ] || fail "a refused run wrote a model"
    hr1 train --data "$W/bin" --out "$W/x.tar" --algo userknn --knn-measure jaccard --neighbors 100 >/dev/null || fail "jaccard on binary data"
    expect_fail 2 "--data" hr1 recommend --model "$W/x.tar" --out "$W/rec"
    hrt 2 recommend --model "$W/x.tar" --data "$W/bin" --out "$W/rec" --top 42 --json "$W/rec.json" >/dev/null || fail "recommend"
    jtrue 'a["users"] == 51 and a["users_fallback"] == 1' "$W/rec.json"
    recs "$W/rec" > "$W/rec.tsv"
    python3 - "$W/bin.csv" "$W/rec.tsv" <<'PY' || fail "recommend's scores differ from the Jaccard neighbours' sums"
import sys
rows = {}
for line in open(sys.argv[1]).read().split():
    u, i = line.split(",")
    rows.setdefault(u, set()).add(i)
ref = {}
for u, a in rows.items():
    for v, b in rows.items():
        if v != u and a & b:
            for j in b - a:
                ref[u, j] = ref.get((u, j), 0.0) + len(a & b) / len(a | b)
got, bad = {}, []
for line in open(sys.argv[2]):
    u, r, j, s, src = line.rstrip("\n").split("\t")
    if j in rows[u]: bad.append("seen item listed: " + line)
    if src != ("popular" if u == "999" else "model"): bad.append("source: " + line)
    if u != "999" and float(s) > 0: got[u, j] = float(s)
if got.keys() != ref.keys(): bad.append("positive-score items differ: %d vs %d" % (len(got), len(ref)))
bad += ["%s %s: %g, reference %g" % (k + (got[k], ref[k])) for k in got if k in ref and abs(got[k] - ref[k]) > 2e-6]
print("\n".join(bad[:10]))
sys.exit(1 if bad else 0)
PY
}

case_errors() {
    data
    expect_fail 2 "neighbors 0" hr1 train --data "$W/tr" --out "$W/x.tar" --algo userknn --neighbors 0
    expect_fail 2 "unknown measure 'msd'" hr1 train --data "$W/tr" --out "$W/x.tar" --algo userknn --knn-measure msd
    expect_fail 2 "holds user neighbours, not item similarities" hr1 similar --model "$W/e1.tar" --out "$W/sim"
}

case_ml100k() {
    need_data ml-100k
    local d=$HR_DATA/ml-100k
    hr1 ingest --input "$d/u1.base" --out "$W/ml-tr" >/dev/null || fail "ingest u1.base"
    hr1 ingest --input "$d/u1.test" --out "$W/ml-te" >/dev/null || fail "ingest u1.test"
    hrt $NP train --data "$W/ml-tr" --out "$W/ml.tar" --algo userknn >/dev/null || fail "train"
    hrt $NP evaluate --model "$W/ml.tar" --train "$W/ml-tr" --test "$W/ml-te" --json "$W/ml.json" >/dev/null || fail "evaluate"
    echo "# MovieLens 100K u1 userknn (pearson-baseline, K 300 stored, k 40) rmse $(json_get "$W/ml.json" rmse);" \
         "Surprise 5-fold KNNBaseline 0.931"
    jtrue 'a["rmse"] <= 0.94' "$W/ml.json"
}

case_lastfm() {
    need_data hetrec2011-lastfm-2k
    hr1 ingest --input "$HR_DATA/hetrec2011-lastfm-2k/user_artists.dat" --out "$W/lf" >/dev/null || fail "ingest"
    hr1 split --data "$W/lf" --train "$W/lf-tr" --test "$W/lf-te" --random 0.2 --seed 1 >/dev/null || fail "split"
    hrt $NP train --data "$W/lf-tr" --out "$W/lf.tar" --algo userknn --knn-weight bm25 >/dev/null || fail "train"
    hrt $NP evaluate --model "$W/lf.tar" --train "$W/lf-tr" --test "$W/lf-te" --baseline pop --json "$W/lf.json" >/dev/null || fail "evaluate"
    echo "# Last.fm 2K userknn bm25 recall@10 $(json_get "$W/lf.json" recall@10), pop $(json_get "$W/lf.json" pop.recall@10)"
    jtrue 'a["recall@10"] > a["pop.recall@10"] and "rmse" not in a' "$W/lf.json"
}

tcase userknn-ranks case_ranks
tcase userknn-fallback case_fallback
tcase userknn-recommend case_recommend
tcase userknn-errors case_errors
tcase userknn-ml100k case_ml100k
tcase userknn-lastfm case_lastfm
[ "$_fails" = 0 ]
