#!/bin/bash
# tests/integration/test_index.sh — the ANN index: `hpcrec index build|query`, `recommend --index`,
# `similar --index`, `inspect INDEX`.
#   recall        generated clustered item vectors with skewed norms (tests/tools/ann_tool model):
#                 recall@10 >= 0.95 at --probe 64 of 256 lists (the setting documented in
#                 docs/operations.md); an iALS model trained on `gen` data (clustered, Zipf
#                 popularity): recall@10 >= 0.95 for every user at the calibrated default probe,
#                 and for item queries on a cosine index; every returned score is the exact score
#   ranks         built on 1, 2 and 3 ranks (4 parts, sampled k-means training): identical files
#                 after decompression and the same manifest but for time and build figures;
#                 an index built on 3 ranks queried on 4 gives the lists of 1 rank
#   recommend     recommend --index: never a seen or --exclude'd item, every user gets N
#                 (one user has seen 95% of the catalogue: widened to every list), recall vs
#                 the exact recommend; similar --index: never the item itself, K each, recall
#   damaged       the index of another model, a truncated part, a flipped byte: clear errors
#                 from recommend, similar, query and inspect
#   parameters    more lists than items, --top larger than the catalogue, a query vector of
#                 the wrong dimension, --probe 0, --probe past the lists, wrong metric, unknown
#                 ids: clear errors with the right exit codes
source "$(dirname "$0")/../lib.sh"
W=$HR_TMP/ix
TOOL=$HR_ROOT/${HR_BUILD:-build}/tools/ann_tool
mkdir -p "$W"

# text of an output directory (header line first, the other parts' headers dropped)
text() { zstdcat "$1"/part-*.tsv.zst | awk 'NR == 1 || ($2 != "rank")'; }
# recall KEYS EXACT_DIR APPROX_DIR K MIN: recall of APPROX's lists against EXACT's, and every key
# of EXACT has K lines in APPROX
recall_vs() {
    python3 - "$1" "$2" "$3" "$4" <<'PY' || fail "recall of $2 vs $1 below $4"
import subprocess, sys, collections
def load(d):
    out = collections.defaultdict(list)
    for l in subprocess.run("zstdcat %s/part-*.tsv.zst" % d, shell=True, capture_output=True, text=True).stdout.splitlines():
        f = l.split("\t")
        if f[1] != "rank": out[f[0]].append(f[2])
    return out
ex, ap, K, mn = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
short = [u for u in ex if len(ap.get(u, [])) != len(ex[u])]
rec = sum(len(set(ex[u][:K]) & set(ap[u][:K])) for u in ex) / sum(min(K, len(ex[u])) for u in ex)
print("# recall@%d %.4f over %d keys vs %s; %d lists of another length" % (K, rec, len(ex), sys.argv[1], len(short)))
sys.exit(0 if rec >= mn and not short else 1)
PY
}

# Fixtures, made once: a synthetic model, and gen data with an iALS model.
fixture() {
    [ -f "$W/ok" ] && return 0
    "$TOOL" model "$W/syn.tar" 20000 2000 32 64 7 bias || fail "ann_tool model"
    seq 1 2000 > "$W/syn-users.txt"
    hrt 2 gen --out "$W/logs" --users 4000 --items 6000 --interactions 160000 --kind counts --days 1 --seed 11 >/dev/null || fail "gen"
    # user 999999 has seen 95% of the catalogue, user 999998 all but 5 items
    { echo "user,item,count,timestamp"; seq 1 6000 | awk 'NR % 20 != 0 {print "999999," $1 ",1,1764547200"}';
      seq 1 6000 | awk 'NR % 1200 != 7 {print "999998," $1 ",1,1764547200"}'; } > "$W/logs/heavy.csv"
    hrt 2 ingest --input "$W/logs" --out "$W/ds" >/dev/null || fail "ingest"
    hrt 2 train --data "$W/ds" --out "$W/m.tar" --algo ials --factors 16 --iters 4 >/dev/null || fail "train"
    hrt 2 train --data "$W/ds" --out "$W/m2.tar" --algo ials --factors 16 --iters 3 --seed 5 >/dev/null || fail "train 2"
    hrt 2 index build --model "$W/m.tar" --out "$W/ix" --target-recall 0.97 --json "$W/ixb.json" >/dev/null || fail "index build"
    hrt 2 index build --model "$W/m.tar" --out "$W/ixc" --metric cosine --target-recall 0.97 >/dev/null || fail "index build cosine"
    hrt 2 inspect "$W/ds" --dump "$W/seen" >/dev/null || fail "dump"
    awk -F'\t' '{print $1}' "$W"/seen.*.tsv | sort -u > "$W/users.txt"
    seq 1 3 6000 > "$W/items.txt"
    touch "$W/ok"
}

case_recall() {
    fixture
    hrt 2 index build --model "$W/syn.tar" --out "$W/sx" --lists 256 --probe 64 --json "$W/sxb.json" >/dev/null || fail "build"
    jtrue 'a["lists"] == 256 and a["probe"] == 64 and a["list_balance"] >= 1 and a["peak_rss_mb"] > 0 and isnum(a["seconds_build"])' "$W/sxb.json"
    hrt 2 index query --index "$W/sx" --model "$W/syn.tar" --users "$W/syn-users.txt" --top 10 --out "$W/sq" --json "$W/sq.json" >/dev/null ||
        fail "query"
    jtrue 'a["queries"] == 2000 and a["lines"] == 20000 and a["index_probe"] == 64' "$W/sq.json"
    text "$W/sq" > "$W/sq.tsv"
    "$TOOL" recall "$W/syn.tar" "$W/sq.tsv" 10 0.95 users || fail "synthetic recall"
    # the trained model at its calibrated probe, every user
    jtrue 'a["calibrated_recall"] >= 0.97 and a["probe"] == a["probe_for_target"] and a["probe"] < a["lists"]' "$W/ixb.json"
    hrt 2 index query --index "$W/ix" --model "$W/m.tar" --users "$W/users.txt" --top 10 --out "$W/tq" >/dev/null || fail "query trained"
    text "$W/tq" > "$W/tq.tsv"
    "$TOOL" recall "$W/m.tar" "$W/tq.tsv" 10 0.95 users || fail "trained recall"
    hrt 3 index query --index "$W/ixc" --model "$W/m.tar" --items "$W/items.txt" --top 10 --out "$W/cq" >/dev/null || fail "query items"
    text "$W/cq" > "$W/cq.tsv"
    [ "$(head -1 "$W/cq.tsv")" = "$(printf 'item\trank\tsimilar\tscore\tsource')" ] || fail "header of item queries"
    [ "$(awk -F'\t' 'NR > 1 && $5 != "index"' "$W/cq.tsv" | wc -l)" = 0 ] || fail "source column"
    "$TOOL" recall "$W/m.tar" "$W/cq.tsv" 10 0.95 items || fail "item recall"
}

# md5 of each file after decompression, and the manifest without time, build and model path
digest() {
    (cd "$1" && for f in quantizer.bin.zst part-*.bin.zst; do echo "$f $(zstd -dc "$f" | md5sum | cut -c1-32)"; done)
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); [m.pop(k) for k in ("created","build")]; print(json.dumps(m, sort_keys=True))' "$1/manifest.json"
}

case_ranks() {
    fixture
    local np
    for np in 1 2 3; do
        hrt $np index build --model "$W/syn.tar" --out "$W/r$np" --parts 4 --lists 128 --train-per-list 40 --iters 6 >/dev/null || fail "build on $np"
        digest "$W/r$np" > "$W/r$np.digest"
    done
    [ "$(grep -c '^part-' "$W/r1.digest")" = 4 ] || fail "4 parts: $(cat "$W/r1.digest")"
    cmp -s "$W/r1.digest" "$W/r2.digest" || fail "2 ranks differ: $(diff "$W/r1.digest" "$W/r2.digest")"
    cmp -s "$W/r1.digest" "$W/r3.digest" || fail "3 ranks differ: $(diff "$W/r1.digest" "$W/r3.digest")"
    hrt 1 inspect "$W/r3" >/dev/null || fail "inspect"
    hrt 4 index query --index "$W/r3" --model "$W/syn.tar" --users "$W/syn-users.txt" --top 10 --out "$W/rq4" >/dev/null || fail "query on 4"
    hrt 1 index query --index "$W/r1" --model "$W/syn.tar" --users "$W/syn-users.txt" --top 10 --out "$W/rq1" >/dev/null || fail "query on 1"
    python3 - <(text "$W/rq1") <(text "$W/rq4") <<'PY' || fail "lists on 4 ranks differ from 1 rank"
import sys
def load(f): return {tuple(l.split("\t")[:3]): float(l.split("\t")[3]) for l in open(f) if not l.startswith("user\t")}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys(), "different (user, rank, item) lines"
assert max(abs(a[k] - b[k]) for k in a) < 1e-4
PY
}

case_recommend() {
    fixture
    hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/rx" --top 10 >/dev/null || fail "exact recommend"
    printf '17\n4000\n' > "$W/exclude.txt"
    hrt 3 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/ri" --top 10 --index "$W/ix" --exclude "$W/exclude.txt" \
        --probe 1 --json "$W/ri.json" >/dev/null || fail "recommend --index --probe 1"
    # user 999998 can only get its 5 unseen items: widened to every list, the exact answer
    jtrue 'a["queries_widened"] > 0 and a["queries_exhaustive"] >= 1 and a["index_rounds"] >= 2 and a["index_probe"] == 1 and a["users_short_list"] == 1' "$W/ri.json"
    assert_eq "$(text "$W/ri" | awk -F'\t' '$1 == 999998 {print $3}' | sort -n | tr '\n' ' ')" "7 1207 2407 3607 4807 " "the user with 5 unseen items"
    # every other user has 10 lines, none of them seen or excluded
    local users
    users=$(sort -u "$W/users.txt" | wc -l)
    assert_eq "$(text "$W/ri" | awk 'NR > 1' | wc -l)" $(((users - 1) * 10 + 5)) "lines of recommend --index"
    assert_eq "$(text "$W/ri" | awk -F'\t' 'NR > 1 && $1 != 999998 {n[$1]++} END {for (u in n) if (n[u] != 10) print u}' | wc -l)" 0 "users with other than 10"
    [ -z "$(text "$W/ri" | awk -F'\t' 'NR > 1 {print $1 "\t" $3}' | LC_ALL=C sort | LC_ALL=C comm -12 - <(awk -F'\t' '{print $1 "\t" $2}' "$W"/seen.*.tsv | LC_ALL=C sort))" ] ||
        fail "a seen item was recommended"
    [ "$(text "$W/ri" | awk -F'\t' 'NR > 1 && ($3 == 17 || $3 == 4000)' | wc -l)" = 0 ] || fail "an --exclude'd item was recommended"
    [ "$(text "$W/ri" | awk -F'\t' '$1 == 999999' | wc -l)" = 10 ] || fail "the heavy user"
    # at the calibrated default probe, against exact
    hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/rd" --top 10 --index "$W/ix" --json "$W/rd.json" >/dev/null || fail "recommend --index"
    [ "$(head -1 <(text "$W/rd"))" = "$(head -1 <(text "$W/rx"))" ] || fail "header differs from the exact path"
    [ "$(text "$W/rd" | awk -F'\t' 'NR > 1 && $5 != "model"' | wc -l)" = 0 ] || fail "source column differs from the exact path"
    recall_vs "$W/rx" "$W/rd" 10 0.95
    # similar
    hrt 2 similar --model "$W/m.tar" --out "$W/sxe" --top 10 >/dev/null || fail "exact similar"
    hrt 3 similar --model "$W/m.tar" --out "$W/si" --top 10 --index "$W/ixc" --json "$W/si.json" >/dev/null || fail "similar --index"
    [ "$(text "$W/si" | awk -F'\t' 'NR > 1 && $1 == $3' | wc -l)" = 0 ] || fail "an item is its own neighbour"
    assert_eq "$(text "$W/si" | awk 'NR > 1' | wc -l)" "$(text "$W/sxe" | awk 'NR > 1' | wc -l)" "lines of similar --index"
    recall_vs "$W/sxe" "$W/si" 10 0.95
    # similar --items: the listed items only, as the full run lists them
    hrt 2 similar --model "$W/m.tar" --out "$W/sl" --top 10 --items "$W/items.txt" >/dev/null || fail "similar --items"
    assert_eq "$(text "$W/sl" | awk -F'\t' 'NR > 1 {print $1}' | sort -u | wc -l)" 2000 "items of similar --items"
    # the same lists as the full run, score by score; SGEMM rounds a row by its place in the block,
    # so scores may differ in the last printed digit and near-tied neighbours may swap
    python3 - <(text "$W/sl") <(text "$W/sxe") <<'PY' || fail "similar --items differs"
import sys
def load(p, keep):
    d = {}
    for l in open(p).read().splitlines()[1:]:
        f = l.split("\t")
        if keep(int(f[0])): d[(f[0], int(f[1]))] = (f[2], float(f[3]))
    return d
a, b = load(sys.argv[1], lambda i: True), load(sys.argv[2], lambda i: (i - 1) % 3 == 0)
if a.keys() != b.keys(): sys.exit("different (item, rank) keys: %d vs %d" % (len(a), len(b)))
bad = [k for k in a if abs(a[k][1] - b[k][1]) > 1e-5 * max(1.0, abs(b[k][1]))]
swap = [k for k in a if a[k][0] != b[k][0]]   # equal scores at the same rank: a tie broken otherwise
print("# similar --items vs full: %d scores off, %d near-tied neighbours swapped" % (len(bad), len(swap)))
sys.exit(1 if bad else 0)
PY
}

case_damaged() {
    fixture
    local d=$W/dm
    rm -rf "$d"
    cp -r "$W/ix" "$d"
    expect_fail 1 "was built from another model .*rebuild it with hpcrec index build --model" \
        hrt 2 recommend --model "$W/m2.tar" --data "$W/ds" --out "$W/o1" --index "$d"
    expect_fail 1 "built from another model" hrt 2 index query --index "$W/ixc" --model "$W/m2.tar" --items "$W/items.txt" --out "$W/o2"
    local part=$d/part-00000.bin.zst
    cp "$part" "$W/part.keep"
    head -c $(( $(stat -c %s "$part") - 10 )) "$W/part.keep" > "$part"
    expect_fail 3 "part-00000.bin.zst: truncated" hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/o3" --index "$d"
    expect_fail 3 "truncated" hrt 2 inspect "$d"
    python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 4; open(sys.argv[2], "wb").write(b)' "$W/part.keep" "$part"
    expect_fail 3 "part-00000.bin.zst: checksum mismatch" hrt 3 index query --index "$d" --model "$W/m.tar" --users "$W/users.txt" --out "$W/o4"
    expect_fail 3 "checksum mismatch" hrt 2 inspect "$d"
    cp "$W/part.keep" "$part"
    python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-5] ^= 1; open(sys.argv[1], "wb").write(b)' "$d/quantizer.bin.zst"
    expect_fail 3 "quantizer.bin.zst: checksum mismatch" hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/o5" --index "$d"
    expect_fail 3 "1 file\\(s\\) failed verification" hrt 1 inspect "$d"
    expect_fail 1 "none/manifest.json: cannot read manifest" hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/o6" --index "$W/none"
}

case_parameters() {
    fixture
    local nl
    nl=$(json_get "$W/ix/manifest.json" lists)
    expect_fail 2 "--lists 9000: more lists than the model's 6000 items" hrt 2 index build --model "$W/m.tar" --out "$W/p1" --lists 9000
    expect_fail 2 "--top 7000: the catalogue has only 6000 items" \
        hrt 2 index query --index "$W/ix" --model "$W/m.tar" --users "$W/users.txt" --top 7000 --out "$W/p2"
    expect_fail 2 "--top 6000: the catalogue has only 6000 items \(the query item itself is left out\)" \
        hrt 2 index query --index "$W/ixc" --model "$W/m.tar" --items "$W/items.txt" --top 6000 --out "$W/p2"
    printf 'q1 %s\nq2 %s\n' "$(seq 1 16 | tr '\n' ' ')" "$(seq 1 15 | tr '\n' ' ')" > "$W/vec.txt"
    expect_fail 3 "vec.txt:2: a query of dimension 15; the index and its model have dimension 16" \
        hrt 2 index query --index "$W/ix" --model "$W/m.tar" --vectors "$W/vec.txt" --top 5 --out "$W/p3"
    head -1 "$W/vec.txt" > "$W/vec1.txt"
    hrt 2 index query --index "$W/ix" --model "$W/m.tar" --vectors "$W/vec1.txt" --top 5 --out "$W/p3" >/dev/null || fail "a good vector"
    assert_eq "$(text "$W/p3" | awk -F'\t' 'NR > 1 {print $1}' | sort | uniq -c | awk '{print $1, $2}')" "5 q1" "vector query"
    expect_fail 2 "--probe: '0' is not an integer" hrt 2 index query --index "$W/ix" --model "$W/m.tar" --users "$W/users.txt" --probe 0 --out "$W/p4"
    expect_fail 2 "--probe: '0' is not an integer" hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/p4" --index "$W/ix" --probe 0
    expect_fail 2 "--probe $((nl + 1)): the index has only $nl lists" \
        hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/p4" --index "$W/ix" --probe $((nl + 1))
    expect_fail 2 "--probe needs --index" hrt 1 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/p4" --probe 3
    expect_fail 2 "built with --metric ip; similar needs an index built with --metric cosine" \
        hrt 2 similar --model "$W/m.tar" --out "$W/p5" --index "$W/ix"
    expect_fail 2 "built with --metric cosine; recommend needs an index built with --metric ip" \
        hrt 2 recommend --model "$W/m.tar" --data "$W/ds" --out "$W/p5" --index "$W/ixc"
    printf '1\n2\nnobody\n' > "$W/bad-users.txt"
    expect_fail 3 "bad-users.txt:3: user 'nobody' is not in the model" \
        hrt 2 index query --index "$W/ix" --model "$W/m.tar" --users "$W/bad-users.txt" --out "$W/p6"
    printf '1\n\001x\n' > "$W/ctl-users.txt"   # ids are matched on their exact bytes; a control byte is no id
    expect_fail 3 "ctl-users.txt:2: the id holds control byte 0x01 at byte 1" \
        hrt 2 index query --index "$W/ix" --model "$W/m.tar" --users "$W/ctl-users.txt" --out "$W/p6"
    expect_fail 2 "--metric: 'l2' is not ip or cosine" hrt 1 index build --model "$W/m.tar" --out "$W/p7" --metric l2
    expect_fail 2 "say 'build' or 'query'" hrt 1 index frobnicate
    # the output directory: a previous result is replaced, anything else is refused
    mkdir -p "$W/p8" && echo keep > "$W/p8/mine.txt"
    expect_fail 2 "p8 exists and is not empty, and is not a 'hpcrec-index-results' output" \
        hrt 2 index query --index "$W/ix" --model "$W/m.tar" --vectors "$W/vec1.txt" --top 5 --out "$W/p8"
    [ -f "$W/p8/mine.txt" ] || fail "a foreign directory was touched"
    hrt 2 index query --index "$W/ix" --model "$W/m.tar" --vectors "$W/vec1.txt" --top 3 --out "$W/p3" >/dev/null || fail "replace a result"
    assert_eq "$(text "$W/p3" | awk 'NR > 1' | wc -l)" 3 "replaced result"
    [ -z "$(ls -d "$W"/p3.* "$W"/.p3.* 2>/dev/null)" ] || fail "temporary directories left: $(ls -d "$W"/p3.* "$W"/.p3.*)"
    expect_fail 2 "--out .*m.tar is the input --model .*m.tar: refusing to write there" \
        hrt 1 index build --model "$W/m.tar" --out "$W/m.tar"
    expect_fail 2 "ixb.json exists and is not a directory: refusing to replace it" \
        hrt 1 index build --model "$W/m.tar" --out "$W/ixb.json"
    expect_fail 2 "--out .*ix/ix is the input --index .*ix/ix: refusing to write there" \
        hrt 2 index query --index "$W/ix" --model "$W/m.tar" --users "$W/users.txt" --top 5 --out "$W/ix"
    hrt 2 index build --model "$W/m.tar" --out "$W/p9/" --lists 16 >/dev/null || fail "--out with a trailing slash"
    hrt 1 inspect "$W/p9" >/dev/null || fail "inspect p9"
    [ -z "$(ls -d "$W"/p9.* "$W"/.p9.* "$W"/p9/.tmp* 2>/dev/null)" ] || fail "temporary directories left: $(ls -d "$W"/p9.* "$W"/.p9.* "$W"/p9/.tmp*)"
}

tcase index-recall case_recall
tcase index-ranks-identical case_ranks
tcase index-recommend-similar case_recommend
tcase index-damaged case_damaged
tcase index-parameters case_parameters
[ "$_fails" = 0 ]
