#!/bin/bash
# tests/integration/test_forget.sh — right to erasure (`hpcrec forget`, `ingest --forget`;
# docs/operations.md, Erasure).
#   hmac-vector     the list holds HMAC-SHA256(key, id): RFC 4231 test case 1
#   key-refusals    a key file readable by group or others, a short key, a list written under
#                   another key: refused (exit 2) by forget and by ingest --forget
#   bit-identical   forget on a dataset = ingest of the input without those users (decompressed
#                   shards and dictionaries equal), and so is ingest --forget LIST; models trained
#                   on both are bit-identical (model_diff --exact); clean input on 2 ranks,
#                   dirty input (duplicates, conflicts, bots, a string id that makes the
#                   dictionary integer once erased) on 3 ranks, balanced and hash
#   artifacts       dataset + model + recommendations + checkpoints: a scan of every file
#                   (zstd, tar members) finds none of the ids as a user id; rows before = rows
#                   after + rows removed; kept users' and all items' rows are unchanged; inspect
#                   says the model was trained with erased users; revision and erasures recorded,
#                   no id in them; applying the same list again changes nothing
#   knn-models      itemknn (with baselines) and userknn bundles: forget on 3 ranks = on 1 rank
#                   (model_diff --exact); the item baselines unchanged; a userknn bundle's lists
#                   (export) = the old lists without the lines naming an erased user
#   edge-lists      ids the data never had, an empty list, one id twice: counts say so and no
#                   file changes (except the one real erasure)
source "$(dirname "$0")/../lib.sh"
W=$HR_TMP/fg
PY=/usr/bin/python3
SCAN="python3 $HR_ROOT/tests/tools/scan_ids.py"
DIFF=$HR_ROOT/${HR_BUILD:-build}/tools/model_diff
export SOURCE_DATE_EPOCH=1700000000

# 60 users x 80 items, 10 events each, no duplicate (user, item); two rows that do not parse
# (one names user 7); user 7 and 13 are erased; 1003 is a user no input has.
fixture() {
    [ -f "$W/ok" ] && return 0
    mkdir -p "$W"
    python3 - "$W" <<'PYEOF'
import random, sys
w = sys.argv[1]
r = random.Random(11)
rows = []
for u in range(1, 61):
    for i in r.sample(range(1, 81), 10):
        rows.append("%d,%d,%d,%d" % (u, i, r.randint(1, 5), 1600000000 + r.randint(0, 10**6)))
rows.append("7,55,x,y")
rows.append("8,56,x,y")
r.shuffle(rows)
open(w + "/all.csv", "w").write("\n".join(rows) + "\n")
gone = {"7", "13"}
open(w + "/without.csv", "w").write("\n".join(x for x in rows if x.split(",")[0] not in gone) + "\n")
open(w + "/ids", "w").write("7\n13\n")
# dirty: exact duplicates, conflicts (same user and item, later event), two bots (over
# --max-user-events 25; one with items nobody else has), and a user "abc" whose string id
# makes the user dictionary a string one until it is erased
dirty = list(rows)
good = [x for x in rows if not x.endswith(",x,y")]
dirty += [r.choice(good) for _ in range(30)]
for x in r.sample(good, 12):
    u, i, v, t = x.split(",")
    dirty.append("%s,%s,%d,%d" % (u, i, int(v) % 5 + 1, int(t) + 7))
dirty += ["99,%d,1,%d" % (i, 1600000000 + i) for i in range(1, 31)]
dirty += ["98,%d,1,%d" % (i, 1600000000 + i) for i in range(200, 231)]
dirty += ["abc,%d,3,1600000100" % i for i in (1, 2, 3, 300)] + ["abc,2,3,1600000100"]
r.shuffle(dirty)
open(w + "/dirty.csv", "w").write("\n".join(dirty) + "\n")
dgone = {"7", "13", "abc"}
open(w + "/dirty-without.csv", "w").write("\n".join(x for x in dirty if x.split(",")[0] not in dgone) + "\n")
open(w + "/dirty-ids", "w").write("7\nabc\n13\n")
PYEOF
    [ -s "$W/dirty-ids" ] || fail "fixture"
    (umask 077; head -c 32 /dev/urandom >"$W/key")
    touch "$W/ok"
}

same_dataset() {   # same_dataset A B: dictionaries and every shard equal after decompression
    local f
    for f in users.dict.zst items.dict.zst $(cd "$1" && ls by-user/* by-item/*); do
        cmp <(zstd -dcq "$1/$f") <(zstd -dcq "$2/$f") || fail "$1 and $2 differ in $f"
    done
    assert_eq "$(cd "$1" && ls by-user by-item | tr '\n' ' ')" "$(cd "$2" && ls by-user by-item | tr '\n' ' ')" "shard lists"
}

case_hmac_vector() {
    fixture
    # RFC 4231, test case 1: key = 20 bytes 0x0b, data "Hi There"
    (umask 077; printf '\x0b%.0s' $(seq 20) >"$W/rfc.key")
    printf 'Hi There\n' >"$W/rfc.ids"
    "$HR_BIN" forget --users "$W/rfc.ids" --list "$W/rfc.list" --key "$W/rfc.key" >/dev/null || fail "forget --list"
    assert_eq "$(sed -n 3p "$W/rfc.list")" b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7 "HMAC-SHA256"
    assert_eq "$(head -1 "$W/rfc.list")" "hpcrec-forget-list 1" "list header"
    grep -q "Hi There" "$W/rfc.list" && fail "the list holds the id itself"
    true
}

case_key_refusals() {
    fixture
    cp "$W/key" "$W/key644"; chmod 644 "$W/key644"
    expect_fail 2 "key644.*mode 0644.*chmod 600" "$HR_BIN" forget --users "$W/ids" --key "$W/key644"
    "$HR_BIN" forget --users "$W/ids" --list "$W/ref.list" --key "$W/key" >/dev/null || fail "list"
    expect_fail 2 "key644.*mode 0644" hrt 2 ingest --input "$W/all.csv" --out "$W/ref" --on-error skip --forget "$W/ref.list" --forget-key "$W/key644"
    [ -e "$W/ref" ] && fail "ingest wrote a dataset with a refused key"
    (umask 077; head -c 8 /dev/urandom >"$W/short.key")
    expect_fail 2 "16\.\.1024 bytes" "$HR_BIN" forget --users "$W/ids" --key "$W/short.key"
    (umask 077; head -c 32 /dev/urandom >"$W/other.key")
    expect_fail 2 "written under another key" "$HR_BIN" forget --list "$W/ref.list" --key "$W/other.key"
    expect_fail 2 "--key KEY is required" "$HR_BIN" forget --users "$W/ids"
}

case_bit_identical() {
    fixture
    local np scheme d
    # clean input on 2 ranks (balanced); dirty input (policy rejects, a dictionary that turns
    # from string to integer ids) on 3 ranks under both schemes
    for case in all:2:balanced dirty:3:hash dirty:3:balanced; do
        IFS=: read -r in np scheme <<<"$case"
        d=$W/bi-$in-$np-$scheme
        local ids=$W/ids opts=(--on-error skip --partition "$scheme")
        [ "$in" = all ] || { ids=$W/dirty-ids; opts+=(--max-user-events 25); }
        local without=$W/without.csv
        [ "$in" = all ] || without=$W/dirty-without.csv
        mkdir -p "$d"
        hrt "$np" ingest --input "$W/$in.csv" --out "$d/all" "${opts[@]}" >/dev/null || fail "ingest all"
        hrt "$np" ingest --input "$without" --out "$d/fresh" "${opts[@]}" >/dev/null || fail "ingest without"
        cp -r "$d/all" "$d/forgot"
        hrt "$np" forget --users "$ids" --list "$d/list" --key "$W/key" --data "$d/forgot" --json "$d/f.json" >/dev/null || fail "forget"
        same_dataset "$d/fresh" "$d/forgot"
        jtrue 'a["partition"] == b["partition"] and a["user_ids"] == b["user_ids"] == "integer"' "$d/fresh/manifest.json" "$d/forgot/manifest.json"
        hrt "$np" ingest --input "$W/$in.csv" --out "$d/ingf" "${opts[@]}" --forget "$d/list" \
            --forget-key "$W/key" --json "$d/i.json" >/dev/null || fail "ingest --forget"
        same_dataset "$d/fresh" "$d/ingf"
        # the rows of the erased users (and the row of 7 that did not parse) are forgotten
        jtrue 'a["rows_read"] == a["rows_accepted"] + a["rows_rejected"] + a["rows_forgotten"] and a["rows_rejected"] == 1 + sum(v for k, v in a.items() if k in ("rejected_duplicate", "rejected_conflict", "rejected_bot_user"))' "$d/i.json"
        [ "$in" = dirty ] || jtrue 'a["rows_forgotten"] == 21' "$d/i.json"
        [ "$in" = all ] || jtrue 'all(a["ingest"]["rejected_" + k] > 0 for k in ("bot_user", "duplicate", "conflict")) and a["user_ids"] == "string"' "$d/all/manifest.json"
        for ds in fresh forgot; do
            hrt "$np" train --data "$d/$ds" --out "$d/$ds.tar" --algo als --factors 6 --iters 3 >/dev/null || fail "train $ds"
        done
        "$DIFF" "$d/fresh.tar" "$d/forgot.tar" --exact || fail "$np ranks $scheme: models differ"
    done
}

case_artifacts() {
    fixture
    local d=$W/art
    mkdir -p "$d"
    hrt 2 ingest --input "$W/all.csv" --out "$d/ds" --on-error skip >/dev/null || fail "ingest"
    hrt 2 train --data "$d/ds" --out "$d/m.tar" --algo als --factors 6 --iters 2 --checkpoint-dir "$d/ck" --checkpoint-every 1 >/dev/null || fail "train"
    hrt 2 recommend --model "$d/m.tar" --data "$d/ds" --out "$d/recs" --top 5 >/dev/null || fail "recommend"
    cp "$d/m.tar" "$d/orig.tar"
    $SCAN "$W/ids" "$d/ds" "$d/m.tar" "$d/recs" >"$d/scan0" && fail "the fixture holds no forgotten id"
    "$HR_BIN" forget --users "$W/ids" --list "$d/list" --key "$W/key" >/dev/null || fail "list"
    hrt 3 forget --list "$d/list" --key "$W/key" --data "$d/ds" --model "$d/m.tar" --recs "$d/recs" --checkpoint-dir "$d/ck" \
        --json "$d/f.json" >/dev/null || fail "forget"
    $SCAN "$W/ids" "$d/ds" "$d/m.tar" "$d/recs" "$d/ck" || fail "forgotten ids remain"
    # counts reconcile: rows before = rows after + rows removed
    local after
    after=$(json_get "$d/ds/manifest.json" interactions)
    jtrue 'a["rows_before"] == '"$after"' + a["rows_removed"] and a["rows_removed"] == 20 and a["users_removed"] == 4' "$d/f.json"
    jtrue 'a["recs_lines_removed"] == 10 and a["rejects_removed"] == 1 and a["checkpoints_removed"] >= 1 and a["artifacts_rewritten"] == 3' "$d/f.json"
    jtrue 'a["revision"] == 1 and a["erasures"][0]["rows_removed"] == 20 and a["erasures"][0]["users_removed"] == 2 and len(a["erasures"][0]["list_hmac"]) == 64' "$d/ds/manifest.json"
    jtrue 'a["revision"] == 1 and a["lines"] == 290 and a["users"] == 58' "$d/recs/manifest.json"
    [ -e "$d/ck/LATEST" ] && fail "a checkpoint is left"
    "$HR_BIN" inspect "$d/ds" >/dev/null || fail "inspect dataset"
    "$HR_BIN" inspect "$d/m.tar" --json "$d/in.json" >"$d/in.txt" || fail "inspect model"
    grep -q "trained with the data of the 2 erased users; retrain" "$d/in.txt" || fail "inspect does not warn: $(cat "$d/in.txt")"
    jtrue 'a["revision"] == 1 and a["trained_with_erased_users"] == 1 and a["users"] == 58' "$d/in.json"
    # kept users' rows and every item row as they were
    $PY - "$HR_ROOT/tests/tools" "$d/orig.tar" "$d/m.tar" <<'PYEOF' || fail "model rows changed"
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from read_model import read_bundle
_, a = read_bundle(sys.argv[2])
man, b = read_bundle(sys.argv[3])
keep = [g for g, u in enumerate(a["users.dict"]) if u not in (7, 13)]
assert b["users.dict"] == [a["users.dict"][g] for g in keep]
for arr in ("user_factors.f32", "user_bias.f32"):
    assert np.array_equal(a[arr][keep], b[arr]), arr
for arr in ("items.dict", "item_factors.f32", "item_bias.f32"):
    assert np.array_equal(np.asarray(a[arr]), np.asarray(b[arr])), arr
assert "7" not in str(man.get("erasures")).replace("'", " ").split()
PYEOF
    # the same list again: nothing to do, nothing rewritten
    local before
    before=$(cd "$d" && find ds m.tar recs -type f | sort | xargs sha256sum)
    hrt 2 forget --list "$d/list" --key "$W/key" --data "$d/ds" --model "$d/m.tar" --recs "$d/recs" --json "$d/g.json" >/dev/null || fail "again"
    jtrue 'a["users_removed"] == 0 and a["rows_removed"] == 0 and a["artifacts_rewritten"] == 0' "$d/g.json"
    assert_eq "$(cd "$d" && find ds m.tar recs -type f | sort | xargs sha256sum)" "$before" "files after a second run"
}

case_knn_models() {
    fixture
    local d=$W/knn a
    mkdir -p "$d"
    "$HR_BIN" ingest --input "$W/all.csv" --out "$d/ds" --on-error skip >/dev/null || fail "ingest"
    "$HR_BIN" train --data "$d/ds" --out "$d/ik.tar" --algo itemknn --neighbors 10 >/dev/null || fail "itemknn"
    "$HR_BIN" train --data "$d/ds" --out "$d/uk.tar" --algo userknn --neighbors 10 >/dev/null || fail "userknn"
    "$HR_BIN" export --model "$d/uk.tar" --out "$d/ex0" --format tsv >/dev/null || fail "export before"
    for a in ik uk; do
        cp "$d/$a.tar" "$d/${a}1.tar"
        cp "$d/$a.tar" "$d/${a}3.tar"
        "$HR_BIN" forget --users "$W/ids" --key "$W/key" --model "$d/${a}1.tar" >/dev/null || fail "forget $a on 1 rank"
        hrt 3 forget --users "$W/ids" --key "$W/key" --model "$d/${a}3.tar" >/dev/null || fail "forget $a on 3 ranks"
        "$DIFF" --exact "$d/${a}1.tar" "$d/${a}3.tar" >/dev/null || fail "forget of a $a model: 3 ranks differ from 1"
    done
    $PY - "$HR_ROOT/tests/tools" "$d/ik.tar" "$d/ik3.tar" <<'PYEOF' || fail "itemknn item baselines changed"
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from read_model import read_bundle
_, a = read_bundle(sys.argv[2])
_, b = read_bundle(sys.argv[3])
assert np.array_equal(np.asarray(a["item_bias.f32"]), np.asarray(b["item_bias.f32"]))
PYEOF
    hrt 2 export --model "$d/uk3.tar" --out "$d/ex3" --format tsv >/dev/null || fail "export after"
    jtrue 'a["kind"] == "useruser" and a["files"]["user_neighbors.tsv.zst"]["columns"][0] == "user"' "$d/ex3/model.json"
    cmp <(zstdcat "$d/ex0/user_neighbors.tsv.zst" | awk -F'\t' 'NR > 1 && $1 != 7 && $1 != 13 && $2 != 7 && $2 != 13' | LC_ALL=C sort) \
        <(zstdcat "$d/ex3/user_neighbors.tsv.zst" | tail -n +2 | LC_ALL=C sort) >/dev/null || fail "userknn lists after forget"
    [ "$(zstdcat "$d/ex3/user_neighbors.tsv.zst" | wc -l)" -gt 100 ] || fail "userknn lists empty"
}

case_edge_lists() {
    fixture
    local d=$W/edge before
    mkdir -p "$d"
    hrt 2 ingest --input "$W/all.csv" --out "$d/ds" --on-error skip >/dev/null || fail "ingest"
    printf '1003\nnobody\n' >"$d/never"; : >"$d/empty"; printf '13\n13\n' >"$d/twice"
    before=$(cd "$d/ds" && find . -type f | sort | xargs sha256sum)
    hrt 2 forget --users "$d/never" --key "$W/key" --data "$d/ds" --json "$d/n.json" >/dev/null || fail "never"
    jtrue 'a["ids"] == 2 and a["users_removed"] == 0 and a["rows_removed"] == 0 and a["artifacts_rewritten"] == 0 and a["rows_before"] == 600' "$d/n.json"
    hrt 2 forget --users "$d/empty" --list "$d/list" --key "$W/key" --data "$d/ds" --json "$d/e.json" >/dev/null || fail "empty"
    jtrue 'a["ids"] == 0 and a["ids_read"] == 0 and a["ids_new"] == 0 and a["users_removed"] == 0 and a["artifacts_rewritten"] == 0' "$d/e.json"
    assert_eq "$(cat "$d/list" | wc -l)" 2 "an empty list: header and key line"
    assert_eq "$(cd "$d/ds" && find . -type f | sort | xargs sha256sum)" "$before" "files after lists that match nothing"
    hrt 2 forget --users "$d/twice" --list "$d/list" --key "$W/key" --data "$d/ds" --json "$d/t.json" >/dev/null || fail "twice"
    jtrue 'a["ids_read"] == 2 and a["ids"] == 1 and a["ids_new"] == 1 and a["users_removed"] == 1 and a["rows_removed"] == 10' "$d/t.json"
    assert_eq "$(cat "$d/list" | wc -l)" 3 "one digest for the id given twice"
    jtrue 'a["interactions"] == 590 and a["users"] == 59 and a["revision"] == 1' "$d/ds/manifest.json"
}

tcase forget-hmac-vector case_hmac_vector
tcase forget-key-refusals case_key_refusals
tcase forget-bit-identical case_bit_identical
tcase forget-artifacts case_artifacts
tcase forget-knn-models case_knn_models
tcase forget-edge-lists case_edge_lists
[ "$_fails" = 0 ]
