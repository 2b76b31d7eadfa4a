#!/bin/bash
# tests/integration/test_evaluate_full.sh — the full offline evaluation of `hpcrec evaluate`
# (docs/evaluation.md): true MRR, beyond-accuracy keys, activity and head/tail segments, the
# pop and random baselines, --compare with paired-bootstrap verdicts, time-split cold users and
# items, rank-count invariance.  Hand-computed values on a tiny dataset; real-data cases
# (MovieLens latest-small, Last.fm 2K) skip cleanly without $HR_DATA.
source "$(dirname "$0")/../lib.sh"
NP=2
TO=${HR_TIMEOUT:-120}

# check_all_keys FILE PREFIXES KS FACTOR(0|1) RATING(0|1): every documented key of every
# scorer prefix and segment is present, numeric and in its range; definitional invariants.
check_all_keys() {
    python3 - "$@" <<'EOF' || fail "keys of $1"
import json, math, sys
path, prefixes, ks, factor, rating = sys.argv[1], sys.argv[2].split(","), [int(k) for k in sys.argv[3].split(",")], \
    sys.argv[4] == "1", sys.argv[5] == "1"
s = json.load(open(path))
num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
def need(key, lo, hi):
    assert key in s, "missing " + key
    assert num(s[key]) and lo <= s[key] <= hi, (key, s[key], lo, hi)
    return s[key]
n_users = s["users_evaluated"]
for key in ("users_cold", "test_events_cold_item", "items_cold", "catalogue_items", "head_items",
            "activity_cut_light", "activity_cut_medium", "test_events_unknown_user", "test_events_unknown_item"):
    assert isinstance(s.get(key), int) and s[key] >= 0, (key, s.get(key))
assert s["activity_cut_light"] <= s["activity_cut_medium"]
assert 0 < s["head_items"] <= s["catalogue_items"]
for p in [("" if q == "model" else q + ".") for q in prefixes]:
    assert s[p + "users_evaluated"] == n_users, p
    for seg in ("", "light.", "medium.", "heavy.", "head.", "tail."):
        need(p + seg + "mrr", 0, 1)
        assert isinstance(s.get(p + seg + "users_evaluated"), int), p + seg
        for K in ks:
            for m in ("precision", "recall", "ndcg", "map", "hr", "mrr", "coverage"):
                need("%s%s%s@%d" % (p, seg, m, K), 0, 1)
            # a longer list never has fewer hits; precision <= hr; the full-list MRR is at
            # least the truncated one
            assert s["%s%shr@%d" % (p, seg, K)] >= s["%s%sprecision@%d" % (p, seg, K)] - 1e-12
            assert s[p + seg + "mrr"] >= s["%s%smrr@%d" % (p, seg, K)] - 1e-12, (p, seg, K)
    # segments partition the users; every user has a relevant item in head or tail
    assert sum(s[p + g + ".users_evaluated"] for g in ("light", "medium", "heavy")) == n_users, p
    assert max(s[p + "head.users_evaluated"], s[p + "tail.users_evaluated"]) <= n_users
    assert s[p + "head.users_evaluated"] + s[p + "tail.users_evaluated"] >= n_users
    for K in ks:
        need("%snovelty@%d" % (p, K), 0, 64)
        need("%sarp@%d" % (p, K), 0, 1e12)
        need("%sgini@%d" % (p, K), 0, 1)
        need("%stail@%d" % (p, K), 0, 1)
        if factor:
            need("%sild@%d" % (p, K), 0, 2)
        else:
            assert "%sild@%d" % (p, K) not in s, "ild without item factors"
    for m in ("recall", "hr", "coverage"):
        assert s["%s%s@%d" % (p, m, ks[-1])] >= s["%s%s@%d" % (p, m, ks[0])] - 1e-12, (p, m)
if rating:
    assert num(s.get("rmse")) and 0 < s["mae"] <= s["rmse"], "rmse/mae"
else:
    assert "rmse" not in s and "mae" not in s
EOF
}

# ---- hand-checked: the tiny train/test pair of test_evaluate.sh ----------------------------
# Train (user: items): u1: 7 30  u2: 7 100  u3: 7 30 200  u4: 1000.  Popularity 7:3 30:2, 1 each
# for 100 200 1000 (8 interactions).  Candidate order = popularity minus training items (ties
# by lower id):  u1: 100 200 1000   u2: 30 200 1000   u3: 100 1000   u4: 7 30 100 200.
# Test (scored): u1 {200}  u2 {30, 1000}  u3 {100}  u4 {100, 200}  u5 {7} (item 999 unknown).
# u5 is absent from train: ranked by popularity over the whole catalogue (7 30 100 200 1000), as
# a cold user; it has no training interactions (users_cold 1) and falls in the light tercile.
# True MRR: first relevant at rank 2, 1, 1, 3, 1 -> (1/2 + 1 + 1 + 1/3 + 1) / 5; with --k 1 the
# list holds only rank 1, so mrr@1 = (0 + 1 + 1 + 0 + 1) / 5 while mrr stays the full-list value.
# Activity counts 1 2 2 3 (train users): cut points = the ceil(4/3) = 2nd and ceil(8/3) = 3rd
# smallest = 2, 2: light (<= 2) = u1 u2 u4 u5, medium = none, heavy (> 2) = u3.
# Head: shortest popularity prefix with >= 0.2 * 8 interactions = {7}; only u5's test item is
# head: head has u5, tail = u1..u4.
# Top-1 lists: u1 100, u2 30, u3 100, u4 7, u5 7.  Exposure@1 over the 5 catalogue items: 7:2
# 30:1 100:2 200:0 1000:0 -> coverage 3/5; Gini of sorted (0 0 1 2 2) = (2*2 + 4*2) / (5*5).
# novelty@1 = mean -log2(pop / 4 users) = (2 + 1 + 2 + 2 log2(4/3)) / 5;  arp@1 = (1 + 2 + 1 + 3 + 3) / 5;
# tail@1 = 3/5.  light.coverage@1: {100, 30, 7} = 3/5; heavy: {100} = 1/5;
# tail.coverage@1: exposed tail items {30, 100} of 4 = 1/2; head.coverage@1: {7} of 1 = 1.
case_hand_checked() {
    printf 'user,item,rating\n1,7,5\n1,30,4\n2,7,3\n2,100,2\n3,7,4\n3,30,5\n3,200,1\n4,1000,3\n' >"$HR_TMP/t-train.csv"
    printf 'user,item,rating\n1,200,4\n2,30,5\n2,1000,1\n3,100,3\n4,100,2\n4,200,5\n4,999,4\n5,7,4\n' >"$HR_TMP/t-test.csv"
    hrt $NP ingest --input "$HR_TMP/t-train.csv" --out "$HR_TMP/t-train" >/dev/null || fail "ingest train"
    hrt $NP ingest --input "$HR_TMP/t-test.csv" --out "$HR_TMP/t-test" >/dev/null || fail "ingest test"
    hrt $NP train --data "$HR_TMP/t-train" --out "$HR_TMP/t-pop.tar" --algo pop >/dev/null || fail "train pop"
    local np
    for np in 1 3; do
        hrt $np evaluate --model "$HR_TMP/t-pop.tar" --train "$HR_TMP/t-train" --test "$HR_TMP/t-test" --k 1,2 \
            --baseline pop,random --seed 4 --json "$HR_TMP/t-$np.json" >/dev/null || fail "evaluate on $np ranks"
        python3 - "$HR_TMP/t-$np.json" <<'EOF' || fail "hand-computed metrics differ ($np ranks)"
import json, math, sys
s = json.load(open(sys.argv[1]))
l3 = math.log2(3)
want = {
    "mrr": (1 / 2 + 1 + 1 + 1 / 3 + 1) / 5, "mrr@1": (0 + 1 + 1 + 0 + 1) / 5, "mrr@2": (1 / 2 + 1 + 1 + 0 + 1) / 5,
    "users_evaluated": 5, "light.users_evaluated": 4, "medium.users_evaluated": 0, "heavy.users_evaluated": 1,
    "head.users_evaluated": 1, "tail.users_evaluated": 4, "users_unknown": 1,
    "activity_cut_light": 2, "activity_cut_medium": 2, "head_items": 1, "catalogue_items": 5,
    "heavy.ndcg@2": 1, "heavy.recall@1": 1, "heavy.mrr": 1,
    "light.ndcg@2": ((1 / l3) + 1 / (1 + 1 / l3) + 0 + 1) / 4, "light.mrr": (1 / 2 + 1 + 1 / 3 + 1) / 4,
    "tail.recall@2": (1 + 0.5 + 1 + 0) / 4, "tail.mrr": (1 / 2 + 1 + 1 + 1 / 3) / 4, "head.mrr": 1,
    "coverage@1": 3 / 5, "gini@1": 12 / 25, "novelty@1": (2 + 1 + 2 + 2 * math.log2(4 / 3)) / 5, "arp@1": 10 / 5,
    "tail@1": 3 / 5, "light.coverage@1": 3 / 5, "heavy.coverage@1": 1 / 5, "tail.coverage@1": 1 / 2,
    "head.coverage@1": 1, "users_cold": 1, "items_cold": 0,
}
bad = ["%s: got %r, expected %r" % (k, s.get(k), v) for k, v in want.items()
       if not isinstance(s.get(k), (int, float)) or abs(s[k] - v) > 1e-9]
# the pop model against the pop baseline: every shared key equal; no factors, so no ild
bad += ["pop.%s differs" % k for k in s if "pop." + k in s and abs(s[k] - s["pop." + k]) > 1e-12]
bad += [k for k in s if k.split(".")[-1].startswith("ild@")]
assert s.get("seed") == 4
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
    done
    # random scores depend on (seed, user, item) only: the same on 1 and 3 ranks (up to the
    # order in which per-rank sums are added)
    jtrue 'all(abs(a[k] - b[k]) < 1e-12 for k in a if k.startswith("random."))' "$HR_TMP/t-1.json" "$HR_TMP/t-3.json"
    jtrue 'sum(1 for k in a if k.startswith("random.")) >= 60' "$HR_TMP/t-1.json"
}

case_bad_options() {
    printf 'user,item\n1,7\n1,30\n2,7\n' >"$HR_TMP/b.csv"
    hrt 1 ingest --input "$HR_TMP/b.csv" --out "$HR_TMP/b" >/dev/null || fail "ingest"
    hrt 1 train --data "$HR_TMP/b" --out "$HR_TMP/b.tar" --algo pop >/dev/null || fail "train"
    local args=(--model "$HR_TMP/b.tar" --train "$HR_TMP/b" --test "$HR_TMP/b")
    expect_fail 2 "--baseline" hrt 1 evaluate "${args[@]}" --baseline pop,pop
    expect_fail 2 "--baseline" hrt 1 evaluate "${args[@]}" --baseline pop,
    expect_fail 2 "--baseline" hrt 1 evaluate "${args[@]}" --baseline popular
    expect_fail 2 "--seed" hrt 1 evaluate "${args[@]}" --baseline pop --seed -1
    expect_fail 1 "no-such\.tar" hrt 1 evaluate "${args[@]}" --compare "$HR_TMP/no-such.tar"
}

# ---- MovieLens latest-small, split by time at the 80th percentile ---------------------------
ml_time_split() {
    [ -f "$HR_TMP/ml.ok" ] && return 0
    need_data ml-latest-small
    hrt $NP ingest --input "$HR_DATA/ml-latest-small/ratings.csv" --out "$HR_TMP/ml" --value-range 0.5:5 >/dev/null \
        || fail "ingest"
    hrt $NP split --data "$HR_TMP/ml" --train "$HR_TMP/ml-tr" --test "$HR_TMP/ml-te" --before p80 >/dev/null || fail "split"
    touch "$HR_TMP/ml.ok"
}

case_ml_time_ials_vs_pop() {
    ml_time_split
    # 610 users, 80k training ratings: 16 factors (the 64 default over-fits this small set; on
    # this split 88 of the 116 test users are new and get the same popularity list from both, so
    # the comparison rests on 28 users and is checked for three seeds below).
    hrt $NP train --data "$HR_TMP/ml-tr" --out "$HR_TMP/ml-ials.tar" --algo ials --factors 16 >/dev/null || fail "train ials"
    hrt $NP evaluate --model "$HR_TMP/ml-ials.tar" --train "$HR_TMP/ml-tr" --test "$HR_TMP/ml-te" --k 10,20 \
        --baseline pop --json "$HR_TMP/ml-eval.json" | grep -v '^\[' || fail "evaluate"
    check_all_keys "$HR_TMP/ml-eval.json" model,pop 10,20 1 0
    # users and items that only appear after the cut, counted from the dumps independently
    hrt $NP inspect "$HR_TMP/ml-tr" --dump "$HR_TMP/ml-trd" >/dev/null || fail "dump train"
    hrt $NP inspect "$HR_TMP/ml-te" --dump "$HR_TMP/ml-ted" >/dev/null || fail "dump test"
    python3 - "$HR_TMP/ml-eval.json" "$HR_TMP"/ml-trd.*.tsv -- "$HR_TMP"/ml-ted.*.tsv <<'EOF' || fail "cold counts"
import json, sys
args = sys.argv[2:]
cut = args.index("--")
def load(files):
    rows = [l.split("\t")[:2] for f in files for l in open(f)]
    return rows
tr, te = load(args[:cut]), load(args[cut + 1:])
tr_users, tr_items = {u for u, _ in tr}, {i for _, i in tr}
s = json.load(open(sys.argv[1]))
te_users = {u for u, _ in te}
want = {"users_evaluated": len(te_users), "users_cold": len(te_users - tr_users),
        "items_cold": len({i for _, i in te} - tr_items), "test_events_cold_item": sum(i not in tr_items for _, i in te)}
bad = ["%s: got %r, expected %r" % (k, s.get(k), v) for k, v in want.items() if s.get(k) != v]
assert not bad, bad
assert want["users_cold"] > 0 and want["items_cold"] > 0, "a p80 time split should leave new users and items"
# cold users are ranked by popularity, so they count as fallbacks
assert s["users_fallback"] >= s["users_cold"], (s["users_fallback"], s["users_cold"])
print("ml-latest-small p80: users %d (cold %d), ials ndcg@10 %.4f recall@10 %.4f | pop ndcg@10 %.4f recall@10 %.4f" % (
    s["users_evaluated"], s["users_cold"], s["ndcg@10"], s["recall@10"], s["pop.ndcg@10"], s["pop.recall@10"]))
EOF
    # the issue's bar: ials beats popularity on both, for the default seed and two others
    jtrue 'a["recall@10"] > a["pop.recall@10"]' "$HR_TMP/ml-eval.json"
    jtrue 'a["ndcg@10"] > a["pop.ndcg@10"]' "$HR_TMP/ml-eval.json"
    local seed
    for seed in 1 2; do
        hrt $NP train --data "$HR_TMP/ml-tr" --out "$HR_TMP/ml-ials$seed.tar" --algo ials --factors 16 --seed $seed >/dev/null \
            || fail "train ials seed $seed"
        hrt $NP evaluate --model "$HR_TMP/ml-ials$seed.tar" --train "$HR_TMP/ml-tr" --test "$HR_TMP/ml-te" --k 10 \
            --baseline pop --json "$HR_TMP/ml-eval$seed.json" >/dev/null || fail "evaluate seed $seed"
        jtrue 'a["recall@10"] > a["pop.recall@10"] and a["ndcg@10"] > a["pop.ndcg@10"]' "$HR_TMP/ml-eval$seed.json"
    done
}

case_ml_rating_compare() {
    ml_time_split
    hrt $NP train --data "$HR_TMP/ml-tr" --out "$HR_TMP/ml-als.tar" --algo als --iters 5 >/dev/null || fail "train als"
    hrt $NP evaluate --model "$HR_TMP/ml-als.tar" --train "$HR_TMP/ml-tr" --test "$HR_TMP/ml-te" --k 10 \
        --compare "$HR_TMP/ml-als.tar" --seed 2 --json "$HR_TMP/ml-als.json" >"$HR_TMP/ml-als.out" || fail "evaluate"
    check_all_keys "$HR_TMP/ml-als.json" model,model2 10 1 1
    # a rating model compared with itself: per-user rmse differences are all 0
    jtrue 'a["compare.rmse.mean"] == 0 and a["compare.rmse.lo"] == 0 and a["compare.rmse.hi"] == 0' "$HR_TMP/ml-als.json"
    jtrue 'a["compare.rmse.verdict"] == "no_difference" and a["model2.rmse"] == a["rmse"]' "$HR_TMP/ml-als.json"
}

# ---- Last.fm 2K, random 20% split ---------------------------------------------------------
lfm() {
    [ -f "$HR_TMP/lfm.ok" ] && return 0
    need_data hetrec2011-lastfm-2k
    hrt $NP ingest --input "$HR_DATA/hetrec2011-lastfm-2k/user_artists.dat" --out "$HR_TMP/lfm" >/dev/null || fail "ingest"
    hrt $NP split --data "$HR_TMP/lfm" --train "$HR_TMP/lfm-tr" --test "$HR_TMP/lfm-te" --random 0.2 --seed 1 >/dev/null \
        || fail "split"
    hrt $NP train --data "$HR_TMP/lfm-tr" --out "$HR_TMP/lfm-ials.tar" --algo ials >/dev/null || fail "train ials"
    hrt $NP train --data "$HR_TMP/lfm-tr" --out "$HR_TMP/lfm-pop.tar" --algo pop >/dev/null || fail "train pop"
    touch "$HR_TMP/lfm.ok"
}

case_lfm_exclusion() {
    lfm
    hrt $NP evaluate --model "$HR_TMP/lfm-ials.tar" --train "$HR_TMP/lfm-tr" --test "$HR_TMP/lfm-te" --k 10 \
        --json "$HR_TMP/lfm-10.json" >/dev/null || fail "evaluate"
    hrt $NP recommend --model "$HR_TMP/lfm-ials.tar" --data "$HR_TMP/lfm-tr" --out "$HR_TMP/lfm-rec" --top 10 >/dev/null \
        || fail "recommend"
    hrt $NP inspect "$HR_TMP/lfm-tr" --dump "$HR_TMP/lfm-trd" >/dev/null || fail "dump train"
    hrt $NP inspect "$HR_TMP/lfm-te" --dump "$HR_TMP/lfm-ted" >/dev/null || fail "dump test"
    python3 - "$HR_TMP" <<'EOF' || fail "recommendations vs training items"
import collections, glob, json, subprocess, sys
d = sys.argv[1]
def sets(pattern):
    out = collections.defaultdict(set)
    for f in glob.glob(pattern):
        for l in open(f):
            u, i = l.split("\t")[:2]
            out[u].add(i)
    return out
tr, te = sets(d + "/lfm-trd.*.tsv"), sets(d + "/lfm-ted.*.tsv")
rec = collections.defaultdict(list)
for f in glob.glob(d + "/lfm-rec/part-*.tsv.zst"):
    lines = subprocess.run(["zstdcat", f], check=True, capture_output=True, text=True).stdout.splitlines()
    for l in lines[1:]:
        u, r, i = l.split("\t")[:3]
        rec[u].append((int(r), i))
leaks = [(u, i) for u in rec for _, i in rec[u] if i in tr[u]]
assert not leaks, "training items recommended: %r" % leaks[:5]
assert sum(len(v) for v in rec.values()) == 10 * len(rec) and len(rec) >= len(te), "every user gets 10"
# the same lists scored by hand give evaluate's precision@10; scores come from differently
# blocked SGEMMs, so a near-tie may swap: one swap moves the mean by 1 / (10 * users)
users = [u for u in te if te[u]]
prec = sum(len({i for _, i in rec[u]} & te[u]) for u in users) / (10.0 * len(users))
s = json.load(open(d + "/lfm-10.json"))
assert s["users_evaluated"] == len(users), (s["users_evaluated"], len(users))
assert abs(prec - s["precision@10"]) <= 5.0 / (10 * len(users)), (prec, s["precision@10"])
EOF
    # the true MRR ranks the whole candidate set: for the pop model it is checked by brute force
    # (candidates = items with training interactions minus the user's; popularity order, ties
    # by the lower id, which is the numeric order for these integer ids); --k 5 truncates the
    # list so that most first hits lie beyond it
    hrt $NP evaluate --model "$HR_TMP/lfm-pop.tar" --train "$HR_TMP/lfm-tr" --test "$HR_TMP/lfm-te" --k 5 \
        --json "$HR_TMP/lfm-popmrr.json" >/dev/null || fail "evaluate pop"
    python3 - "$HR_TMP" <<'EOF' || fail "true MRR"
import collections, glob, json, sys
d = sys.argv[1]
def sets(pattern):
    out = collections.defaultdict(set)
    for f in glob.glob(pattern):
        for l in open(f):
            u, i = l.split("\t")[:2]
            out[u].add(int(i))
    return out
tr, te = sets(d + "/lfm-trd.*.tsv"), sets(d + "/lfm-ted.*.tsv")
pop = collections.Counter(i for u in tr for i in tr[u])
pos = {i: r for r, i in enumerate(sorted(pop, key=lambda i: (-pop[i], i)))}
total = 0.0
for u in te:
    rel = [i for i in te[u] if i in pos and i not in tr[u]]
    if rel:
        best = min(rel, key=lambda i: pos[i])
        total += 1.0 / (1 + pos[best] - sum(1 for i in tr[u] if pos[i] < pos[best]))
s = json.load(open(d + "/lfm-popmrr.json"))
want = total / len(te)
assert abs(s["mrr"] - want) < 1e-9, (s["mrr"], want)
assert s["mrr"] > s["mrr@5"] + 0.01, "the full-list MRR should exceed the truncated one"
EOF
    # evaluate excludes training items too: scored against its own training set nothing is hit
    hrt $NP evaluate --model "$HR_TMP/lfm-ials.tar" --train "$HR_TMP/lfm-tr" --test "$HR_TMP/lfm-tr" --k 10 \
        --baseline pop --json "$HR_TMP/lfm-self.json" >/dev/null || fail "evaluate train vs train"
    jtrue 'a["users_evaluated"] > 0 and all(a[p + m] == 0 for p in ("", "pop.") for m in ("hr@10", "recall@10", "mrr"))' \
        "$HR_TMP/lfm-self.json"
}

case_lfm_full() {
    lfm
    local np
    for np in 1 3; do
        hrt $np evaluate --model "$HR_TMP/lfm-ials.tar" --train "$HR_TMP/lfm-tr" --test "$HR_TMP/lfm-te" --k 10,20 \
            --baseline pop,random --seed 7 --compare "$HR_TMP/lfm-pop.tar" --json "$HR_TMP/lfm-$np.json" \
            >"$HR_TMP/lfm-$np.out" || fail "evaluate on $np ranks"
    done
    check_all_keys "$HR_TMP/lfm-3.json" model,model2,pop,random 10,20 1 0
    # rank-count invariance of every number (the random baseline and the bootstrap included)
    python3 - "$HR_TMP/lfm-1.json" "$HR_TMP/lfm-3.json" <<'EOF' || fail "1 vs 3 ranks differ"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
skip = {"ranks", "seconds", "peak_rss_mb", "peak_rss_mb_mean", "minor_faults", "minor_faults_max", "system_seconds",
        "system_seconds_max", "user_seconds", "peak_alloc_mb", "peak_alloc_mb_rank0", "peak_alloc_mb_others", "peak_alloc_mb_min"}
bad = [(k, a[k], b.get(k)) for k in a if k not in skip and
       (b.get(k) is None or (abs(a[k] - b[k]) > 1e-6 if isinstance(a[k], float) else a[k] != b[k]))]
assert set(a) == set(b), set(a) ^ set(b)
assert not bad, bad[:10]
EOF
    # coverage: ials spreads its lists far wider than popularity; random is worse than pop
    jtrue 'a["coverage@10"] >= 5 * a["pop.coverage@10"] > 0' "$HR_TMP/lfm-3.json"
    jtrue 'a["random.ndcg@10"] < a["pop.ndcg@10"] and a["random.recall@10"] < a["pop.recall@10"]' "$HR_TMP/lfm-3.json"
    jtrue 'a["ndcg@10"] > a["pop.ndcg@10"] and a["model2.ndcg@10"] == a["pop.ndcg@10"]' "$HR_TMP/lfm-3.json"
    # --compare MODEL2=pop against MODEL=ials: pop is worse, and the verdict line says so
    jtrue 'a["compare.ndcg@10.verdict"] == "worse" and a["compare.ndcg@10.hi"] < 0' "$HR_TMP/lfm-3.json"
    jtrue 'a["compare.ndcg@10.lo"] <= a["compare.ndcg@10.mean"] <= a["compare.ndcg@10.hi"]' "$HR_TMP/lfm-3.json"
    jtrue 'abs(a["compare.ndcg@10.mean"] - (a["model2.ndcg@10"] - a["ndcg@10"])) < 1e-9' "$HR_TMP/lfm-3.json"
    jtrue 'a["compare.users"] == a["users_evaluated"] and a["compare.verdict"] == a["compare.ndcg@10.verdict"]' \
        "$HR_TMP/lfm-3.json"
    grep -Eq '^verdict: .*lfm-pop\.tar vs .*lfm-ials\.tar ndcg@10 -[0-9.]+ \[-[0-9.]+, -[0-9.]+\] worse$' "$HR_TMP/lfm-3.out" \
        || fail "no verdict line: $(grep verdict "$HR_TMP/lfm-3.out")"
    # the table: one row per scorer and segment, aligned
    grep -Eq '^random\.tail +0\.[0-9]{4}' "$HR_TMP/lfm-3.out" || fail "table rows missing"
}

case_lfm_compare() {
    lfm
    # the issue's direction: ials as MODEL2 against pop as MODEL is better
    hrt $NP evaluate --model "$HR_TMP/lfm-pop.tar" --train "$HR_TMP/lfm-tr" --test "$HR_TMP/lfm-te" --k 10 \
        --compare "$HR_TMP/lfm-ials.tar" --json "$HR_TMP/lfm-up.json" >"$HR_TMP/lfm-up.out" || fail "evaluate --compare"
    jtrue 'a["compare.ndcg@10.verdict"] == "better" and a["compare.ndcg@10.lo"] > 0' "$HR_TMP/lfm-up.json"
    jtrue 'a["compare.model"].endswith("lfm-ials.tar") and a["compare.recall@10.verdict"] == "better"' "$HR_TMP/lfm-up.json"
    grep -Eq '^verdict: .*lfm-ials\.tar vs .*lfm-pop\.tar ndcg@10 \+[0-9.]+ \[\+[0-9.]+, \+[0-9.]+\] better$' \
        "$HR_TMP/lfm-up.out" || fail "no 'better' verdict line"
    # a model against itself: every per-user difference is 0
    hrt $NP evaluate --model "$HR_TMP/lfm-ials.tar" --train "$HR_TMP/lfm-tr" --test "$HR_TMP/lfm-te" --k 10 \
        --compare "$HR_TMP/lfm-ials.tar" --json "$HR_TMP/lfm-same.json" >/dev/null || fail "evaluate --compare self"
    jtrue 'all(a["compare.%s.%s" % (m, f)] == 0 for m in ("ndcg@10", "recall@10", "precision@10", "map@10", "mrr")
               for f in ("mean", "lo", "hi"))' "$HR_TMP/lfm-same.json"
    jtrue 'all(a[k] == "no_difference" for k in a if k.endswith(".verdict"))' "$HR_TMP/lfm-same.json"
}

tcase evaluate-full-hand-checked case_hand_checked
tcase evaluate-full-bad-options case_bad_options
tcase evaluate-full-ml-time-ials-vs-pop case_ml_time_ials_vs_pop
tcase evaluate-full-ml-rating-compare case_ml_rating_compare
tcase evaluate-full-lastfm-exclusion case_lfm_exclusion
tcase evaluate-full-lastfm-metrics case_lfm_full
tcase evaluate-full-lastfm-compare case_lfm_compare
[ "$_fails" = 0 ]
