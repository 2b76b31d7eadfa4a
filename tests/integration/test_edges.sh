#!/bin/bash
# tests/integration/test_edges.sh — correctness at the edges: results, crashes and messages
# that only show with unusual input (each case is the regression test of one reported bug).
#   long-ids            ids of 600 bytes match exactly between dataset and model in recommend
#                       (a seen long item is excluded; a long user is known to the model),
#                       evaluate (nothing unknown), similar, train --init-from (all known),
#                       and are written whole by recommend, similar and inspect --dump
#   long-ids-few-items  4 items with 300-byte ids, recommend --include-seen (heap overflow)
#   dump-missing-dir    inspect --dump into a missing folder creates it; below a regular file:
#                       a clear error, no crash
#   evaluate-nothing    test set sharing no ids with train, and one whose events are all 0
#                       for an implicit model: exit 3, no rmse/mae/metric keys, a clear line
#   evaluate-unknown-users  test users absent from train are ranked by popularity (the
#                       documented fallback), counted, and evaluated
#   compressed-damage   gzip with a bad CRC, a cut gzip, bytes after a bzip2 stream: exit 3
#                       naming the file and the problem; concatenated xz streams read whole
#                       (every codec and damage: tests/unit/test_io_codecs.c)
#   compression-bomb    a 4 MiB zstd bomb stopped at the default 1000:1; --max-expansion 0 and
#                       --max-input-bytes
#   resume-rank0-chooses   rank 1 sees a stale LATEST (own mount namespace): every rank loads
#                       rank 0's choice; the model equals the uninterrupted one (skips without
#                       mount namespaces)
#   resume-all-fail-clean  every checkpoint damaged: factors start clean (log says so) and the
#                       model equals the uninterrupted one
# Two ranks; every mpirun bounded by `timeout`.
source "$(dirname "$0")/../lib.sh"
NP=2
W=$HR_TMP/edges
mkdir -p "$W"

# 60 short items, one item and one user with 600-byte ids; user 1 has the long item.
long_fixture() {
    [ -f "$W/long.ok" ] && return 0
    python3 - "$W" <<'PY'
import random, sys
w = sys.argv[1]
random.seed(5)
LI, LU = "I" * 599 + "x", "U" * 599 + "y"   # same 511-byte prefix as no other id, 600 bytes
rows = []
users = ["u%d" % k for k in range(1, 41)] + [LU]
for u in users:
    for i in random.sample(range(60), 12):
        rows.append((u, "i%02d" % i))
for u in ["u1", LU] + ["u%d" % k for k in range(2, 30)]:
    rows.append((u, LI))
rows = sorted(set(rows))
open(w + "/long.csv", "w").write("".join("%s,%s,1\n" % r for r in rows))
# a test set ingested on its own: the long user and the long item again
open(w + "/long_test.csv", "w").write("%s,i00,1\n%s,i01,1\nu35,%s,1\nu36,%s,1\n" % (LU, LU, LI, LI))
open(w + "/long_ids", "w").write(LI + "\n" + LU + "\n")
open(w + "/long_user", "w").write(LU + "\n")
PY
    hrt $NP ingest --input "$W/long.csv" --out "$W/long" >/dev/null || fail "ingest"
    hrt $NP ingest --input "$W/long_test.csv" --out "$W/long_test" >/dev/null || fail "ingest test"
    hrt $NP train --data "$W/long" --out "$W/long_pop.tar" --algo pop >/dev/null || fail "train pop"
    hrt $NP train --data "$W/long" --out "$W/long_ials.tar" --algo ials --factors 4 --iters 3 >/dev/null || fail "train ials"
    touch "$W/long.ok"
}

case_long_ids() {
    long_fixture
    local LI LU
    LI=$(sed -n 1p "$W/long_ids"); LU=$(sed -n 2p "$W/long_ids")
    # recommend (pop): every item for user 1 but the ones seen, the long one included
    hrt $NP recommend --model "$W/long_pop.tar" --data "$W/long" --out "$W/lr" --top 100 --json "$W/lr.json" >/dev/null \
        || fail "recommend pop"
    zstdcat "$W"/lr/part-*.tsv.zst > "$W/lr.tsv"
    awk -F'\t' -v u=u1 -v i="$LI" '$1 == u && $3 == i' "$W/lr.tsv" | grep -q . && fail "user 1 was recommended the long item it has seen"
    local want=$(( $(cut -d, -f2 "$W/long.csv" | sort -u | wc -l) - $(grep -c '^u1,' "$W/long.csv") ))
    [ "$(awk -F'\t' '$1 == "u1"' "$W/lr.tsv" | wc -l)" = "$want" ] || fail "user 1: expected every unseen item ($want)"
    awk -F'\t' -v u="$LU" '$1 == u && $5 == "model"' "$W/lr.tsv" | grep -q . || fail "the long user is not known to the model"
    awk -F'\t' -v i="$LI" '$3 == i' "$W/lr.tsv" | grep -q . || fail "the long item id is not written whole"
    assert_json "$W/lr.json" users_fallback 0
    # recommend (ials) for the long user: model source, whole id
    hrt $NP recommend --model "$W/long_ials.tar" --data "$W/long" --out "$W/lr2" --top 5 --users "$W/long_user" \
        --json "$W/lr2.json" >/dev/null || fail "recommend ials"
    assert_json "$W/lr2.json" users_fallback 0
    zstdcat "$W"/lr2/part-*.tsv.zst | awk -F'\t' -v u="$LU" '$1 == u && $5 == "model"' | grep -q . || fail "ials: long user"
    # similar: the long item's own list, under its whole id
    hrt $NP similar --model "$W/long_ials.tar" --out "$W/ls" --top 3 >/dev/null || fail "similar"
    zstdcat "$W"/ls/part-*.tsv.zst | awk -F'\t' -v i="$LI" '$1 == i' | grep -q . || fail "similar: long item id not whole"
    # evaluate: a test set ingested on its own maps the long ids
    hrt $NP evaluate --model "$W/long_ials.tar" --train "$W/long" --test "$W/long_test" --k 5 --json "$W/le.json" >/dev/null \
        || fail "evaluate"
    assert_json "$W/le.json" test_events_unknown_user 0
    assert_json "$W/le.json" test_events_unknown_item 0
    # warm start: every user and item known
    hrt $NP train --data "$W/long" --out "$W/long_warm.tar" --algo ials --factors 4 --iters 1 --init-from "$W/long_ials.tar" \
        --json "$W/lw.json" >/dev/null || fail "warm start"
    jtrue 'a["warm_users_new"] == 0 and a["warm_items_new"] == 0 and a["warm_users_dropped"] == 0 and a["warm_items_dropped"] == 0' "$W/lw.json"
    # inspect --dump writes the ids whole
    hrt $NP inspect "$W/long" --dump "$W/ld" >/dev/null || fail "inspect --dump"
    [ "$(cat "$W"/ld.*.tsv | awk -F'\t' -v u="$LU" -v i="$LI" '$1 == u && $2 == i' | wc -l)" = 1 ] \
        || fail "dump lacks (long user, long item)"
}

case_long_ids_few_items() {
    python3 -c '
import sys
ids = [c * 300 for c in "abcd"]
print("".join("u%d,%s,1\n" % (u, ids[(u + j) % 4]) for u in range(8) for j in range(2)), end="")' > "$W/few.csv"
    hrt $NP ingest --input "$W/few.csv" --out "$W/few" >/dev/null || fail "ingest"
    hrt $NP train --data "$W/few" --out "$W/few.tar" --algo pop >/dev/null || fail "train"
    hrt $NP recommend --model "$W/few.tar" --data "$W/few" --out "$W/fr" --top 4 --include-seen --json "$W/fr.json" \
        || fail "recommend crashed or failed"
    assert_json "$W/fr.json" lines 32
    [ "$(zstdcat "$W"/fr/part-*.tsv.zst | awk -F'\t' 'NR > 1 && length($3) == 300' | wc -l)" -ge 32 ] || fail "item ids not whole"
}

case_dump_missing_dir() {
    long_fixture
    hrt $NP inspect "$W/long" --dump "$W/nodir/x" >/dev/null || fail "dump into a missing folder"
    assert_eq "$(cat "$W"/nodir/x.*.tsv | wc -l)" 522 "dumped rows"
    : >"$W/afile"
    expect_fail 1 "afile.*Not a directory" hrt $NP inspect "$W/long" --dump "$W/afile/x"
}

# 30 users x 20 items with ratings 1..5; models als (rating) and ials (implicit).
eval_fixture() {
    [ -f "$W/ev.ok" ] && return 0
    python3 - "$W" <<'PY'
import random, sys
w = sys.argv[1]
random.seed(9)
rows = sorted({(u, i) for u in range(1, 31) for i in random.sample(range(100, 120), 8)})
open(w + "/ev.csv", "w").write("".join("%d,%d,%d\n" % (u, i, random.randint(1, 5)) for u, i in rows))
# no id in common with train
open(w + "/ev_disjoint.csv", "w").write("".join("%d,%d,3\n" % (u, i) for u in range(500, 505) for i in range(900, 903)))
# users unknown to train, items known
open(w + "/ev_newusers.csv", "w").write("".join("%d,%d,4\n" % (u, i) for u in range(500, 506) for i in (100 + u % 7, 110 + u % 5)))
# known users and items, every value 0 (impressions without a click)
open(w + "/ev_zero.csv", "w").write("".join("%d,%d,0\n" % (u, 119 - u % 3) for u in range(1, 6)))
PY
    local f
    for f in ev ev_disjoint ev_newusers ev_zero; do
        hrt $NP ingest --input "$W/$f.csv" --out "$W/$f" >/dev/null || fail "ingest $f"
    done
    hrt $NP train --data "$W/ev" --out "$W/ev_als.tar" --algo als --factors 4 --iters 3 >/dev/null || fail "train als"
    hrt $NP train --data "$W/ev" --out "$W/ev_ials.tar" --algo ials --factors 4 --iters 3 >/dev/null || fail "train ials"
    touch "$W/ev.ok"
}

# nothing_evaluated ALGO TEST: exit 3, a line saying so, users_evaluated 0 and no metric key.
nothing_evaluated() {
    rm -f "$W/en.json"
    expect_fail 3 "nothing evaluated" hrt $NP evaluate --model "$W/ev_$1.tar" --train "$W/ev" --test "$W/$2" --k 5 \
        --baseline pop --json "$W/en.json"
    jtrue 'a["users_evaluated"] == 0 and not [k for k in a if k.startswith(("rmse", "mae", "ndcg", "recall", "precision", "mrr", "pop."))]' "$W/en.json"
}

case_evaluate_nothing() {
    eval_fixture
    nothing_evaluated als ev_disjoint
    nothing_evaluated ials ev_disjoint
    nothing_evaluated ials ev_zero
    assert_json "$W/en.json" test_events_not_relevant 5
    # for a rating model a 0 is a rating like any other: evaluated
    hrt $NP evaluate --model "$W/ev_als.tar" --train "$W/ev" --test "$W/ev_zero" --k 5 --json "$W/ez.json" >/dev/null \
        || fail "als on zero ratings"
    jtrue 'a["users_evaluated"] == 5 and a["test_events_not_relevant"] == 0 and a["rmse"] > 0' "$W/ez.json"
}

case_evaluate_unknown_users() {
    eval_fixture
    local a
    for a in als ials; do
        hrt $NP evaluate --model "$W/ev_$a.tar" --train "$W/ev" --test "$W/ev_newusers" --k 5 --baseline pop \
            --json "$W/eu.json" >/dev/null || fail "$a: evaluate"
        # six users absent from train: evaluated by the popularity fallback, exactly as pop ranks them
        jtrue '(a["users_evaluated"] == 6 and a["users_unknown"] == 6 and a["users_fallback"] == 6 and a["users_cold"] == 6
               and a["test_events_unknown_user"] == 12 and a["test_events_unknown_item"] == 0
               and a["ndcg@5"] == a["pop.ndcg@5"] and a["recall@5"] == a["pop.recall@5"] and a["mrr"] == a["pop.mrr"])' "$W/eu.json"
    done
    # the rating model predicts them from the global mean and the item biases
    hrt $NP evaluate --model "$W/ev_als.tar" --train "$W/ev" --test "$W/ev_newusers" --k 5 --json "$W/eu.json" >/dev/null \
        || fail "als: evaluate"
    jtrue 'a["predictions_fallback"] == 12 and a["rmse"] > 0' "$W/eu.json"
}

# Damaged compressed inputs made by the standard tools: exit 3, the file and the problem named.
case_compressed_damage() {
    local d=$W/cz
    mkdir -p "$d"
    printf '1,2,3\n4,5,1\n' | gzip -n >"$d/c.gz"
    # the byte 8 from the end is in the CRC-32: gzip -t says "crc error"
    python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-8] ^= 0xff; open(p, "wb").write(b)' "$d/c.gz"
    expect_fail 3 "c\.gz: corrupt gzip data.*CRC" hrt $NP ingest --input "$d/c.gz" --out "$d/o"
    printf '1,2,3\n4,5,1\n' | gzip -n >"$d/ok.gz"
    head -c 20 "$d/ok.gz" >"$d/cut.gz"
    expect_fail 3 "cut\.gz: truncated gzip stream" hrt $NP ingest --input "$d/cut.gz" --out "$d/o"
    # bytes after the stream; two streams back to back read whole (every codec: test_io_codecs)
    { printf '1,2,3\n' | bzip2 -c; printf 'junk\n'; } >"$d/junk.bz2"
    expect_fail 3 "junk\.bz2: .*trailing data after the end of the bzip2 stream" hrt $NP ingest --input "$d/junk.bz2" --out "$d/o"
    { printf '1,2,3\n' | xz -c; printf '4,5,1\n' | xz -c; } >"$d/two.xz"
    hrt $NP ingest --input "$d/two.xz" --out "$d/o2" --json "$d/two.json" >/dev/null || fail "xz: two streams"
    assert_json "$d/two.json" rows_accepted 2
    [ -e "$d/o/manifest.json" ] && fail "a failed ingest wrote a manifest"
    return 0
}

# A compression bomb is stopped (exit 3, the options named); the limits can be lifted or set.
case_compression_bomb() {
    local d=$W/bomb
    mkdir -p "$d"
    yes 1,2,3 | head -c $((4 << 20)) | zstd -q -19 -c >"$d/bomb.csv.zst"   # 4 MiB from ~300 bytes
    expect_fail 3 "bomb\.csv\.zst: expands more than 1000 times.*--max-expansion" \
        hrt $NP ingest --input "$d/bomb.csv.zst" --out "$d/o" --on-error skip
    hrt $NP ingest --input "$d/bomb.csv.zst" --out "$d/o" --on-error skip --max-expansion 0 --json "$d/b.json" >/dev/null \
        || fail "--max-expansion 0 did not lift the limit"
    assert_json "$d/b.json" rows_read 699051
    seq 1 3000 | awk '{print $1 "," $1 % 7 ",1"}' | gzip -c >"$d/ok.csv.gz"
    expect_fail 3 "ok\.csv\.gz: decompresses to more than 1000 bytes.*--max-input-bytes" \
        hrt $NP ingest --input "$d/ok.csv.gz" --out "$d/o4" --max-input-bytes 1000
}

# ---- checkpoint resume: rank 0 chooses -------------------------------------------------------
MODEL_DIFF=$HR_ROOT/${HR_BUILD:-build}/tools/model_diff
# A 6-iteration ials run with checkpoints at 2, 4 and 6, and the uninterrupted 8-iteration model.
ckpt_fixture() {
    eval_fixture
    [ -f "$W/ck.ok" ] && return 0
    hrt $NP train --data "$W/ev" --out "$W/ck6.tar" --algo ials --factors 4 --iters 6 --checkpoint-dir "$W/ck" \
        --checkpoint-every 2 --keep 3 >/dev/null || fail "train with checkpoints"
    hrt $NP train --data "$W/ev" --out "$W/ref8.tar" --algo ials --factors 4 --iters 8 >/dev/null || fail "reference"
    touch "$W/ck.ok"
}
same_as_ref() { "$MODEL_DIFF" "$W/ref8.tar" "$1" --exact >/dev/null || fail "$1 differs from the uninterrupted model"; }

# Rank 1 sees a stale LATEST (a shared file system's cached directory, seconds after a kill):
# its own mount namespace shows a copy of the checkpoint directory whose LATEST names
# ckpt-000002.  Rank 0's choice (ckpt-000006) must be the one every rank loads.
case_resume_rank0_chooses() {
    ckpt_fixture
    unshare -m true 2>/dev/null || { echo "needs unshare -m (mount namespaces, root)"; exit 77; }
    rm -rf "$W/ck_view"; cp -a "$W/ck" "$W/ck_view"
    echo ckpt-000002 >"$W/ck_view/LATEST"
    local args="train --data $W/ev --out $W/resumed.tar --algo ials --factors 4 --iters 8 --resume --checkpoint-dir $W/ck --checkpoint-every 0"
    timeout -k 5 30 mpirun --oversubscribe --bind-to none -np 2 sh -c '
        if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec unshare -m sh -c "mount --bind $1 $2 && exec $3 $4"; fi
        exec $3 $4' sh "$W/ck_view" "$W/ck" "$HR_BIN" "$args" >"$W/resumed.log" 2>&1 || { cat "$W/resumed.log"; fail "resume failed or hung"; }
    grep -q "resume     from $W/ck/ckpt-000006: iteration 6" "$W/resumed.log" || { cat "$W/resumed.log"; fail "not resumed from ckpt-000006"; }
    same_as_ref "$W/resumed.tar"
}

# Every checkpoint fails (its item rows damaged after the user rows loaded): the run starts from
# freshly initialised factors, says so, and ends with exactly the uninterrupted model.
case_resume_all_fail_clean() {
    ckpt_fixture
    rm -rf "$W/ck_bad"; mkdir -p "$W/ck_bad"
    cp -a "$W/ck/ckpt-000004" "$W/ck_bad/"; echo ckpt-000004 >"$W/ck_bad/LATEST"
    python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff; open(p, "wb").write(b)' \
        "$W/ck_bad/ckpt-000004/items-00001.f32.zst"
    hrt $NP train --data "$W/ev" --out "$W/clean.tar" --algo ials --factors 4 --iters 8 --resume --checkpoint-dir "$W/ck_bad" \
        --checkpoint-every 0 >"$W/clean.log" 2>&1 || { cat "$W/clean.log"; fail "resume failed"; }
    same_as_ref "$W/clean.tar"
    grep -q "skipping checkpoint.*ckpt-000004" "$W/clean.log" || fail "the damaged checkpoint is not named"
    grep -q "no usable checkpoint.*freshly initialised factors" "$W/clean.log" || { cat "$W/clean.log"; fail "the log does not say the factors start clean"; }
}

tcase long-ids case_long_ids
tcase long-ids-few-items case_long_ids_few_items
tcase dump-missing-dir case_dump_missing_dir
tcase evaluate-nothing case_evaluate_nothing
tcase evaluate-unknown-users case_evaluate_unknown_users
tcase compressed-damage case_compressed_damage
tcase compression-bomb case_compression_bomb
tcase resume-rank0-chooses case_resume_rank0_chooses
tcase resume-all-fail-clean case_resume_all_fail_clean
