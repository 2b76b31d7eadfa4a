#!/bin/bash
# tests/integration/test_coldstart.sh — users the model does not know, folded in without
# retraining (recommend --data / --fold-in-min, evaluate --fold-in, split --new-users).
#   split-new-users   held-out users leave train's dictionary; their events split into fold-in
#                     and test by FRAC2; train-all = train + fold-in; counts add up
#   als-fold-in       explicit ALS folds an unknown user in too (source fold-in)
#   ml100k-fold-in    MovieLens 100K, ials, 10% of users held out, half of their events given
#                     to fold-in: NDCG@10 on the other half >= 1.5x the popularity fallback's
#                     and within 15% of those users' NDCG@10 when they were in training;
#                     evaluate --fold-in equals evaluate on train-all (same rows, same solve)
#   fold-in-ranks     evaluate --fold-in on 1-4 ranks (als-fold-in compares recommend's lists
#                     on 2 and 3 ranks)
#   cold-items        split --cold-items moves every interaction of the drawn items to test;
#                     evaluate --cold-items on planted genres: features files with malformed,
#                     duplicate, empty and non-UTF-8 lines counted; content beats random and
#                     feature popularity; the same numbers on 1-4 ranks, and with the content
#                     map forced onto the ScaLAPACK grid (--features-grid yes, blocks of 4
#                     features so every rank holds tiles) on 2 and 4 ranks; bad options refused
#   lastfm-cold       Last.fm 2K, artist tags, 10% cold artists: content-mapped scores beat both
#                     baselines on recall@10 with a bootstrap verdict of "better"
#   ml-latest-cold    MovieLens latest-small, genres + tags, 10% cold movies: the table
source "$(dirname "$0")/../lib.sh"
NP=2
W=$HR_TMP/cold
mkdir -p "$W"
lines() { zstdcat "$1"/part-*.tsv.zst | grep -v $'^user\t' | LC_ALL=C sort; }

# ---- small generated data ----------------------------------------------------------------
small() {
    [ -f "$W/small.ok" ] && return 0
    python3 - "$W/g.csv" <<'PY' || fail "data"
import random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    f.write("user,item,rating\n")
    for u in range(300):
        for i in r.sample(range(80), 20):
            f.write("%d,%d,%d\n" % (u, i, 1 + (u + i) % 5))
PY
    hrt $NP ingest --input "$W/g.csv" --out "$W/g" >/dev/null || fail "ingest"
    touch "$W/small.ok"
}

case_split_new_users() {
    small
    hrt $NP split --data "$W/g" --train "$W/tr" --test "$W/te" --new-users 0.2 --fold-in 0.5 --fold-in-data "$W/fo" \
        --train-all "$W/ta" --seed 5 --json "$W/sp.json" >/dev/null || fail "split"
    for d in g tr te fo ta; do hrt 1 inspect "$W/$d" --dump "$W/$d.d" >/dev/null || fail "dump $d"; done
    python3 - "$W" "$W/sp.json" <<'PY' || fail "split --new-users"
import glob, json, sys
w = sys.argv[1]
def rows(d):
    return sorted(tuple(l.split("\t")[:3]) for f in glob.glob(w + "/" + d + ".d.*.tsv") for l in open(f))
g, tr, te, fo, ta = (rows(d) for d in ("g", "tr", "te", "fo", "ta"))
held = {r[0] for r in te} | {r[0] for r in fo}
assert held and not held & {r[0] for r in tr}, "held-out users must not be in train"
assert sorted(tr + te + fo) == g, "train + test + fold-in is the input"
assert sorted(tr + fo) == ta, "train-all is train + fold-in"
from collections import Counter
nf, nt = Counter(r[0] for r in fo), Counter(r[0] for r in te)
for u in held:   # half of each held-out user's events (round), at least one on each side
    n = nf[u] + nt[u]
    assert nf[u] == min(max(round(0.5 * n), 1), n - 1) or (n == 1 and nt[u] == 1), (u, nf[u], nt[u])
users = len({r[0] for r in g})
assert 0.1 * users < len(held) < 0.3 * users, len(held)
s = json.load(open(sys.argv[2]))
assert s["fold_in_interactions"] == len(fo) and s["test_interactions"] == len(te) and s["mode"] == "new-users", s
PY
    expect_fail 2 "--fold-in" hrt 1 split --data "$W/g" --train "$W/x1" --test "$W/x2" --new-users 0.1
    expect_fail 2 "--new-users" hrt 1 split --data "$W/g" --train "$W/x1" --test "$W/x2" --random 0.1 --train-all "$W/x3"
}

case_als_fold_in() {
    small
    [ -d "$W/tr" ] || case_split_new_users
    hrt $NP train --data "$W/tr" --out "$W/als.tar" --algo als --factors 8 --iters 5 >/dev/null || fail "train als"
    hrt 1 train --data "$W/tr" --out "$W/pop.tar" --algo pop >/dev/null || fail "train pop"
    hrt $NP recommend --model "$W/als.tar" --data "$W/fo" --out "$W/ra" --top 5 --json "$W/ra.json" >/dev/null || fail "recommend"
    local held
    held=$(lines "$W/ra" | awk -F'\t' '$5 == "fold-in" {print $1}' | sort -u | wc -l)
    [ "$held" -gt 0 ] || fail "no folded-in user"
    assert_json "$W/ra.json" users_fold_in "$held"
    assert_json "$W/ra.json" users_fallback 0
    # every folded-in list is a list of 5 distinct items the user does not have in fold-in
    [ "$(lines "$W/ra" | awk -F'\t' '$5 == "fold-in"' | wc -l)" = $((held * 5)) ] || fail "short lists"
    [ "$(lines "$W/ra" | awk -F'\t' '$4 != $4 + 0 || $4 == "nan"' | wc -l)" = 0 ] || fail "non-numeric scores"
    grep -q "fold-in: $held users" <(hrt 1 recommend --model "$W/als.tar" --data "$W/fo" --out "$W/ra1" 2>&1) \
        || fail "the progress line counts the folded-in users"
    # --fold-in DATASET: the rows a user is folded in from come from there (here: today's
    # --data is the test side); with --include-seen the folded-in lists are the same
    hrt 3 recommend --model "$W/als.tar" --data "$W/fo" --out "$W/rb" --top 5 --include-seen >/dev/null || fail "recommend"
    hrt 2 recommend --model "$W/als.tar" --data "$W/te" --fold-in "$W/fo" --out "$W/rc" --top 5 --include-seen \
        --json "$W/rc.json" >/dev/null || fail "recommend --fold-in"
    diff <(lines "$W/rb" | awk -F'\t' '$5 == "fold-in" {print $1, $2, $3}') \
         <(lines "$W/rc" | awk -F'\t' '$5 == "fold-in" {print $1, $2, $3}') >/dev/null || fail "--fold-in rows differ from --data rows"
    assert_json "$W/rc.json" users_fold_in "$held"
    expect_fail 2 "only als / ials" hrt 1 recommend --model "$W/pop.tar" --data "$W/te" --fold-in "$W/fo" --out "$W/rd"
}

# ---- MovieLens 100K ----------------------------------------------------------------------
ml() {
    [ -f "$W/ml.ok" ] && return 0
    need_data ml-100k
    hrt $NP ingest --input "$HR_DATA/ml-100k/u.data" --out "$W/ml" >/dev/null || fail "ingest"
    hrt $NP split --data "$W/ml" --train "$W/mtr" --test "$W/mte" --new-users 0.1 --fold-in 0.5 --fold-in-data "$W/mfo" \
        --train-all "$W/mta" --seed 42 >/dev/null || fail "split"
    # the same hyper-parameters for the model without the held-out users and the reference
    hrt $NP train --data "$W/mtr" --out "$W/m.tar" --algo ials --factors 32 >/dev/null || fail "train"
    hrt $NP train --data "$W/mta" --out "$W/ma.tar" --algo ials --factors 32 >/dev/null || fail "train reference"
    touch "$W/ml.ok"
}

case_ml100k_fold_in() {
    ml
    hrt $NP evaluate --model "$W/m.tar" --train "$W/mtr" --test "$W/mte" --fold-in "$W/mfo" --k 10 --baseline pop \
        --json "$W/e.json" >/dev/null || fail "evaluate --fold-in"
    hrt $NP evaluate --model "$W/m.tar" --train "$W/mta" --test "$W/mte" --k 10 --json "$W/e2.json" >/dev/null \
        || fail "evaluate on train-all"
    hrt $NP evaluate --model "$W/ma.tar" --train "$W/mta" --test "$W/mte" --k 10 --json "$W/eref.json" >/dev/null \
        || fail "evaluate the reference"
    # fold-in refused for rows below --fold-in-min: everyone on popularity (the fallback)
    hrt $NP evaluate --model "$W/m.tar" --train "$W/mtr" --test "$W/mte" --fold-in "$W/mfo" --k 10 --fold-in-min 100000 \
        --json "$W/efb.json" >/dev/null || fail "evaluate, fallback"
    jtrue 'a["users_fold_in"] == a["users_evaluated"] > 50 and a["users_fallback"] == 0' "$W/e.json"
    jtrue 'a["ndcg@10"] >= 1.5 * a["pop.ndcg@10"]' "$W/e.json"
    jtrue 'abs(b["ndcg@10"] - a["pop.ndcg@10"]) < 1e-12 and b["users_fallback"] == b["users_evaluated"]' "$W/e.json" "$W/efb.json"
    jtrue 'a["ndcg@10"] >= 0.85 * b["ndcg@10"]' "$W/e.json" "$W/eref.json"
    jtrue 'abs(a["ndcg@10"] - b["ndcg@10"]) < 1e-12 and a["users_fold_in"] == b["users_fold_in"]' "$W/e.json" "$W/e2.json"
    python3 - "$W/e.json" "$W/eref.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
print("  ml100k fold-in: ndcg@10 %.4f (popularity %.4f, x%.2f; in training %.4f, %.1f%%), %d users, fold-in %.3fs"
      % (a["ndcg@10"], a["pop.ndcg@10"], a["ndcg@10"] / a["pop.ndcg@10"], b["ndcg@10"],
         100 * a["ndcg@10"] / b["ndcg@10"], a["users_fold_in"], a["seconds_fold_in"]))
PY
}

case_fold_in_ranks() {
    small
    [ -f "$W/als.tar" ] || case_als_fold_in
    local np
    for np in 1 2 3 4; do
        hrt $np evaluate --model "$W/als.tar" --train "$W/tr" --test "$W/te" --fold-in "$W/fo" --k 5 \
            --json "$W/er$np.json" >/dev/null || fail "evaluate on $np ranks"
    done
    jtrue 'a["users_fold_in"] > 20 and a["users_fold_in"] == a["users_evaluated"]' "$W/er1.json"
    for np in 2 3 4; do
        jtrue 'abs(a["ndcg@5"] - b["ndcg@5"]) < 1e-12 and a["users_fold_in"] == b["users_fold_in"]' "$W/er1.json" "$W/er$np.json"
    done
}

# ---- cold items ----------------------------------------------------------------------------
case_cold_items() {
    # 400 users, 200 items in 5 planted genres; a user draws its items from its two genres
    python3 - "$W/c.csv" "$W/c.feat" <<'PY' || fail "data"
import random, sys
r = random.Random(11)
genre = {i: i % 5 for i in range(200)}
with open(sys.argv[1], "w") as f:
    f.write("user,item,count\n")
    for u in range(400):
        likes = (u % 5, (u // 5) % 5)
        items = [i for i in range(200) if genre[i] in likes]
        for i in r.sample(items, 15):
            f.write("%d,%d,%d\n" % (u, i, 1 + r.randrange(3)))
with open(sys.argv[2], "wb") as f:
    for i in range(200):
        f.write(("%d\tg%d %s\n" % (i, genre[i], "x%d" % (i % 7))).encode())
    f.write(b"5\tg0 x5\n")            # duplicate of item 5's line
    f.write(b"notab\n")                # malformed
    f.write(b"999\t\n")                # empty set (an item no dataset has)
    f.write(b"7\tg\xff\n")             # non-UTF-8 token
PY
    hrt $NP ingest --input "$W/c.csv" --out "$W/c" >/dev/null || fail "ingest"
    hrt $NP split --data "$W/c" --train "$W/ctr" --test "$W/cte" --cold-items 0.2 --seed 3 >/dev/null || fail "split"
    for d in ctr cte; do hrt 1 inspect "$W/$d" --dump "$W/$d.d" >/dev/null || fail "dump $d"; done
    python3 - "$W" <<'PY' || fail "split --cold-items"
import glob, sys
w = sys.argv[1]
rows = lambda d: [l.split("\t")[:2] for f in glob.glob(w + "/" + d + ".d.*.tsv") for l in open(f)]
tr, te = rows("ctr"), rows("cte")
ti, ei = {i for _, i in tr}, {i for _, i in te}
assert ei and not ti & ei, "a cold item keeps interactions in train"
assert 20 < len(ei) < 60, len(ei)
PY
    hrt $NP train --data "$W/ctr" --out "$W/c.tar" --algo ials --factors 8 --iters 8 >/dev/null || fail "train"
    local np
    for np in 1 2 3 4; do
        hrt $np evaluate --model "$W/c.tar" --train "$W/ctr" --test "$W/cte" --cold-items --item-features "$W/c.feat" \
            --features-format tokens --k 5,10 --json "$W/ce$np.json" >/dev/null || fail "evaluate --cold-items on $np ranks"
    done
    jtrue '(a["cold.features_rejected_malformed"] == 1 and a["cold.features_rejected_duplicate"] == 1
           and a["cold.features_rejected_empty"] == 1 and a["cold.features_rejected_non_utf8"] == 1)' "$W/ce1.json"
    jtrue '(a["cold.users_evaluated"] > 100 and a["cold.content.recall@5"] > 2 * a["cold.random.recall@5"]
           and a["cold.vs_random.recall@5.verdict"] == "better" and a["cold.vs_feature_pop.recall@5.verdict"] == "better")' "$W/ce1.json"
    for np in 2 3 4; do
        jtrue '(all(abs(a[k] - b[k]) < 1e-12 if isinstance(a[k], float) else a[k] == b[k]
                    for k in a if k.startswith("cold.") and "seconds" not in k))' "$W/ce1.json" "$W/ce$np.json"
    done
    for np in 2 4; do
        HR_RIDGE_BLOCK=4 hrt $np evaluate --model "$W/c.tar" --train "$W/ctr" --test "$W/cte" --cold-items --item-features "$W/c.feat" \
            --features-format tokens --k 5,10 --features-grid yes --json "$W/cg$np.json" >/dev/null || fail "--features-grid yes on $np ranks"
        jtrue '(a["cold.ridge_grid"] == 0 and b["cold.ridge_grid"] == 1
                and all(abs(a[k] - b[k]) < 1e-9 if isinstance(a[k], float) else a[k] == b[k]
                        for k in a if k.startswith("cold.") and "seconds" not in k and k != "cold.ridge_grid"))' "$W/ce1.json" "$W/cg$np.json"
    done
    expect_fail 2 "is not auto, yes or no" hrt 1 evaluate --model "$W/c.tar" --train "$W/ctr" --test "$W/cte" --cold-items \
        --item-features "$W/c.feat" --features-grid maybe
    expect_fail 2 "go together" hrt 1 evaluate --model "$W/c.tar" --train "$W/ctr" --test "$W/cte" --cold-items
    expect_fail 2 "after its --item-features" hrt 1 evaluate --model "$W/c.tar" --train "$W/ctr" --test "$W/cte" --cold-items \
        --features-format tokens --item-features "$W/c.feat"
    expect_fail 2 "is not tokens" hrt 1 evaluate --model "$W/c.tar" --train "$W/ctr" --test "$W/cte" --cold-items \
        --item-features "$W/c.feat" --features-format genres
}

cold_table() {   # the table of a cold-items evaluation
    python3 - "$1" "$2" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
print("  %s: %d cold items, %d users, %d features" % (sys.argv[2], a["cold.items"], a["cold.users_evaluated"], a["cold.features"]))
for s in ("content", "random", "feature_pop"):
    print("  %-12s recall@10 %.4f  ndcg@10 %.4f" % (s, a["cold.%s.recall@10" % s], a["cold.%s.ndcg@10" % s]))
for b in ("random", "feature_pop"):
    print("  content vs %-11s recall@10 %+.4f [%+.4f, %+.4f] %s" % (b, a["cold.vs_%s.recall@10.delta" % b],
          a["cold.vs_%s.recall@10.ci_low" % b], a["cold.vs_%s.recall@10.ci_high" % b], a["cold.vs_%s.recall@10.verdict" % b]))
PY
}

case_lastfm_cold() {
    need_data hetrec2011-lastfm-2k
    local d=$HR_DATA/hetrec2011-lastfm-2k
    hrt $NP ingest --input "$d/user_artists.dat" --out "$W/lf" >/dev/null || fail "ingest"
    hrt $NP split --data "$W/lf" --train "$W/lftr" --test "$W/lfte" --cold-items 0.1 >/dev/null || fail "split"
    hrt $NP train --data "$W/lftr" --out "$W/lf.tar" --algo ials --factors 32 >/dev/null || fail "train"
    hrt $NP evaluate --model "$W/lf.tar" --train "$W/lftr" --test "$W/lfte" --cold-items --item-features "$d/user_taggedartists.dat" \
        --features-format lastfm-tags --k 10 --json "$W/lfc.json" >/dev/null || fail "evaluate --cold-items"
    cold_table "$W/lfc.json" "Last.fm 2K artist tags"
    jtrue '(a["cold.vs_random.recall@10.verdict"] == "better" and a["cold.vs_feature_pop.recall@10.verdict"] == "better"
            and a["cold.content.recall@10"] > max(a["cold.random.recall@10"], a["cold.feature_pop.recall@10"]))' "$W/lfc.json"
}

case_ml_latest_cold() {
    need_data ml-latest-small
    local d=$HR_DATA/ml-latest-small
    hrt $NP ingest --input "$d/ratings.csv" --out "$W/mls" --value-range 0.5:5 >/dev/null || fail "ingest"
    hrt $NP split --data "$W/mls" --train "$W/mlstr" --test "$W/mlste" --cold-items 0.1 >/dev/null || fail "split"
    hrt $NP train --data "$W/mlstr" --out "$W/mls.tar" --algo ials --factors 32 >/dev/null || fail "train"
    hrt $NP evaluate --model "$W/mls.tar" --train "$W/mlstr" --test "$W/mlste" --cold-items --k 10 --json "$W/mlc.json" \
        --item-features "$d/movies.csv" --features-format ml-latest-genres --item-features "$d/tags.csv" --features-format ml-latest-tags \
        >/dev/null || fail "evaluate --cold-items"
    cold_table "$W/mlc.json" "MovieLens latest-small genres + tags"
    # "(no genres listed)" movies are counted as empty feature sets
    jtrue 'a["cold.features_rejected_empty"] > 0 and a["cold.users_evaluated"] > 100' "$W/mlc.json"
}

tcase split-new-users case_split_new_users
tcase als-fold-in case_als_fold_in
tcase ml100k-fold-in case_ml100k_fold_in
tcase fold-in-ranks case_fold_in_ranks
tcase cold-items case_cold_items
tcase lastfm-cold case_lastfm_cold
tcase ml-latest-cold case_ml_latest_cold
[ "$_fails" = 0 ]
