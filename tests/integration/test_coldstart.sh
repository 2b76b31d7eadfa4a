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
#   content-map       train --item-features stores the content map (inspect lists it; its members
#                     the same bytes on 1 and 3 ranks); recommend --item-features lists new items
#                     and items without training interactions (source content), --exclude and
#                     seen items apply, equal features tie to the lower id, --cold-slots caps and
#                     guarantees; similar --item-features; 1 vs 3 ranks; refusals (no map, other
#                     formats, non-factor algorithms)
source "$(dirname "$0")/../lib.sh"
NP=2
W=$HR_TMP/cold
mkdir -p "$W"
lines() { zstdcat "$1"/part-*.tsv.zst | grep -v $'^user\t' | LC_ALL=C sort; }
slines() { zstdcat "$1"/part-*.tsv.zst | grep -v -e $'^user\t' -e $'^item\t' | LC_ALL=C sort; }   # recommend's or similar's

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
cold_data() {   # 400 users, 200 items in 5 planted genres; 20% of the items cold
    [ -f "$W/cold.ok" ] && return 0
    # a user draws its items from its two genres
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
    touch "$W/cold.ok"
}

case_cold_items() {
    cold_data
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

# ---- the content map in the bundle -------------------------------------------------------
case_content_map() {
    cold_data
    hrt 1 inspect "$W/cte" --dump "$W/cm.te" >/dev/null || fail "dump"
    # the cold items (no training interactions); new items 1000..1009, and 1010 with the same
    # features as the first cold item (the same mapped row: ties go to the lower id)
    local cold
    cold=$(cut -f2 "$W"/cm.te.*.tsv | sort -un | head -1)
    { cat "$W/c.feat"
      for i in $(seq 1000 1009); do printf '%d\tg%d x%d\n' "$i" $((i % 5)) $((i % 7)); done
      printf '1010\tg%d x%d\n' $((cold % 5)) $((cold % 7)); } > "$W/n.feat"
    local np
    for np in 1 3; do
        hrt $np train --data "$W/ctr" --out "$W/cm$np.tar" --algo ials --factors 8 --iters 6 --item-features "$W/c.feat" \
            --features-format tokens --json "$W/cmt$np.json" >/dev/null || fail "train --item-features on $np ranks"
        mkdir -p "$W/cmx$np" && tar -xf "$W/cm$np.tar" -C "$W/cmx$np" || fail "untar"
    done
    for f in content.dict.000000.zst content_idf.f32.000000.zst content_map.f32.000000.zst; do
        cmp "$W/cmx1/$f" "$W/cmx3/$f" || fail "$f differs between 1 and 3 ranks"
    done
    jtrue 'a["content.features"] == 12 and a["content.warm_items_fitted"] > 100 and a["content.features_rejected_duplicate"] == 1' "$W/cmt1.json"
    hrt 1 inspect "$W/cm1.tar" > "$W/cmi.txt" || fail "inspect"
    grep -q "^content    map of 12 features" "$W/cmi.txt" || fail "inspect shows no content map: $(cat "$W/cmi.txt")"
    grep -q "content_map.f32 *13 x 8" "$W/cmi.txt" || fail "inspect: content_map.f32 13 x 8"
    hrt 2 train --data "$W/ctr" --out "$W/cma.tar" --algo als --factors 8 --iters 4 --item-features "$W/c.feat" >/dev/null || fail "train als"
    hrt 1 inspect "$W/cma.tar" | grep -q "content_map.f32 *13 x 9" || fail "als: the map's last column is the item bias"
    hrt 2 train --data "$W/ctr" --out "$W/cmplain.tar" --algo ials --factors 8 --iters 2 >/dev/null || fail "train without features"
    # recommend and similar: content lines; 1 and 3 ranks
    for np in 1 3; do
        hrt $np recommend --model "$W/cm1.tar" --data "$W/ctr" --out "$W/cmr$np" --top 10 --item-features "$W/n.feat" \
            --json "$W/cmr$np.json" > "$W/cmr$np.log" 2>&1 || fail "recommend --item-features on $np ranks"
        hrt $np similar --model "$W/cm1.tar" --out "$W/cms$np" --top 5 --item-features "$W/n.feat" --json "$W/cms$np.json" >/dev/null \
            || fail "similar --item-features on $np ranks"
    done
    grep -q "recommend  content: [0-9]* items mapped" "$W/cmr1.log" || fail "the progress line counts content items: $(cat "$W/cmr1.log")"
    jtrue 'a["content_items_new"] == 12 and a["content_items"] > 12 and a["content_lines"] > 0' "$W/cmr1.json"
    [ "$(lines "$W/cmr1" | awk -F'\t' '$5 == "content"' | wc -l)" = "$(json_get "$W/cmr1.json" content_lines)" ] || fail "content_lines"
    lines "$W/cmr1" | awk -F'\t' '$5 == "content" && $3 >= 1000' | grep -q . || fail "no new item listed"
    lines "$W/cmr1" | awk -F'\t' -v c="$cold" '$5 == "content" && $3 == c' | grep -q . || fail "the cold item is not listed"
    diff <(lines "$W/cmr1" | grep -P '\tcontent$') <(lines "$W/cmr3" | grep -P '\tcontent$') >/dev/null || fail "content lines: 1 vs 3 ranks"
    diff <(slines "$W/cms1" | grep -P '\tcontent$') <(slines "$W/cms3" | grep -P '\tcontent$') >/dev/null || fail "similar content lines: 1 vs 3 ranks"
    local t
    for t in r s; do   # the catalogue's scores within the rounding of differently blocked SGEMMs
        python3 - <(slines "$W/cm${t}1") <(slines "$W/cm${t}3") <<'PY' || fail "cm$t: 1 vs 3 ranks"
import sys
def load(f): return {(l.split("\t")[0], l.split("\t")[1]): float(l.split("\t")[3]) for l in open(f)}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 1e-4
PY
    done
    # equal features: the same score, the cold item (lower id) first
    python3 - <(lines "$W/cmr1") "$cold" <<'PY' || fail "tie of equal mapped rows"
import sys
lists = {}
for l in open(sys.argv[1]):
    u, r, i, s, src = l.rstrip("\n").split("\t")
    lists.setdefault(u, {})[i] = (int(r), s)
both = [d for d in lists.values() if sys.argv[2] in d and "1010" in d]
assert both, "no list holds both"
for d in both:
    assert d[sys.argv[2]][1] == d["1010"][1] and d[sys.argv[2]][0] < d["1010"][0], d
PY
    # similar: new items have neighbours and are neighbours
    slines "$W/cms1" | awk -F'\t' '$1 >= 1000 && $5 == "content"' | grep -q . || fail "similar: a new item has no neighbours"
    slines "$W/cms1" | awk -F'\t' '$3 >= 1000 && $1 < 1000 && $5 == "content"' | grep -q . || fail "similar: no new item is a neighbour"
    # --exclude and seen items apply to content items (--cold-slots: the test users' training items
    # would fill their lists)
    printf '1000\n%s\n' "$cold" > "$W/cm.excl"
    hrt 2 recommend --model "$W/cm1.tar" --data "$W/cte" --out "$W/cme" --top 10 --item-features "$W/n.feat" --exclude "$W/cm.excl" --cold-slots 5 \
        >/dev/null || fail "recommend --exclude"
    lines "$W/cme" | awk -F'\t' -v c="$cold" '$3 == 1000 || $3 == c' | grep -q . && fail "--exclude ignored for content items"
    python3 - <(lines "$W/cme") "$W" <<'PY' || fail "a seen content item listed"
import glob, sys
seen = {tuple(l.split("\t")[:2]) for f in glob.glob(sys.argv[2] + "/cm.te.*.tsv") for l in open(f)}
rows = [l.split("\t") for l in open(sys.argv[1])]
assert any(r[4].strip() == "content" for r in rows)
assert not [r for r in rows if (r[0], r[2]) in seen]
PY
    # --cold-slots: exactly S content items in every list, the best S
    local sl
    for sl in 1 3; do
        hrt 2 recommend --model "$W/cm1.tar" --data "$W/ctr" --out "$W/cmc$sl" --top 10 --item-features "$W/n.feat" --cold-slots $sl \
            >/dev/null || fail "--cold-slots $sl"
        [ "$(lines "$W/cmc$sl" | awk -F'\t' '$5 == "content" {c[$1]++} END {for (u in c) print c[u]}' | sort -u)" = "$sl" ] \
            || fail "--cold-slots $sl: not $sl content items in every list"
        [ "$(lines "$W/cmc$sl" | cut -f1 | sort -u | wc -l)" = 400 ] || fail "--cold-slots $sl: users"
    done
    diff <(lines "$W/cmc1" | awk -F'\t' '$5 == "content" {print $1, $3}' | sort) \
         <(lines "$W/cmc3" | sort -t$'\t' -k1,1 -k2,2n | awk -F'\t' '$5 == "content" && !s[$1]++ {print $1, $3}' | sort) >/dev/null \
        || fail "--cold-slots 1 is not the best content item"
    # refusals
    expect_fail 2 "has no content map" hrt 1 recommend --model "$W/cmplain.tar" --data "$W/ctr" --out "$W/cmf" --item-features "$W/n.feat" --cold-slots 2
    expect_fail 2 "cold-slots: .*has no content map" hrt 1 recommend --model "$W/cmplain.tar" --data "$W/ctr" --out "$W/cmf" --cold-slots 2
    expect_fail 2 "needs --item-features" hrt 1 recommend --model "$W/cm1.tar" --data "$W/ctr" --out "$W/cmf" --cold-slots 2
    expect_fail 2 "has no content map" hrt 1 similar --model "$W/cmplain.tar" --out "$W/cmf" --item-features "$W/n.feat"
    expect_fail 2 "trained on 1 file" hrt 1 recommend --model "$W/cm1.tar" --data "$W/ctr" --out "$W/cmf" --item-features "$W/n.feat" \
        --features-format lastfm-tags
    expect_fail 2 "use als or ials" hrt 1 train --data "$W/ctr" --out "$W/cmf.tar" --algo pop --item-features "$W/c.feat"
    expect_fail 2 "need --item-features" hrt 1 train --data "$W/ctr" --out "$W/cmf.tar" --algo ials --features-max 10
}

tcase split-new-users case_split_new_users
tcase als-fold-in case_als_fold_in
tcase ml100k-fold-in case_ml100k_fold_in
tcase fold-in-ranks case_fold_in_ranks
tcase cold-items case_cold_items
tcase content-map case_content_map
tcase lastfm-cold case_lastfm_cold
tcase ml-latest-cold case_ml_latest_cold
[ "$_fails" = 0 ]
