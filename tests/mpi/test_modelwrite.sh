#!/bin/bash
# tests/mpi/test_modelwrite.sh — model bundles of format 2 written by every rank together
# (jobs/modelwrite.h, docs/formats.md "Model bundle"):
#   - one fixed model (with a content map) written from 1, 2, 3 and 4 ranks (balanced partition cut mid-member) and
#     from 3 ranks under the hash partition (every member assembled from every rank) gives the
#     same bytes, and the same bytes as the single-process hr_model_save (build/tools/
#     modelwrite_check, SOURCE_DATE_EPOCH fixed);
#   - inspect verifies the bundle (every member's checksum and place);
#   - a non-finite factor is refused with exit 3 and leaves neither the bundle nor a temporary;
#   - train on 1 and 3 ranks: every member of the two bundles is byte-identical (the manifests
#     differ only in created, ranks, timings and the loss summed in another order), and a
#     model of format 1 (what hpcrec wrote before) still passes inspect.
source "$(dirname "$0")/../lib.sh"
CHECK=$HR_ROOT/${HR_BUILD:-build}/tools/modelwrite_check
export SOURCE_DATE_EPOCH=1790000000

case_bytes() {
    [ -x "$CHECK" ] || fail "$CHECK not built (make)"
    timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np 1 "$CHECK" "$HR_TMP/w1.tar" --serial "$HR_TMP/serial.tar" \
        || fail "modelwrite_check on 1 rank"
    for np in 2 3 4; do
        timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np $np "$CHECK" "$HR_TMP/w$np.tar" || fail "on $np ranks"
    done
    timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np 3 "$CHECK" "$HR_TMP/h3.tar" --hash || fail "hash partition"
    for f in w1 w2 w3 w4 h3; do
        cmp "$HR_TMP/serial.tar" "$HR_TMP/$f.tar" || fail "$f.tar differs from the single-process bundle"
    done
    echo "5 collective writes and hr_model_save: $(md5sum <"$HR_TMP/serial.tar" | cut -c1-16), $(stat -c %s "$HR_TMP/serial.tar") bytes"
    hrt 2 inspect "$HR_TMP/w3.tar" --json "$HR_TMP/inspect.json" || fail "inspect"
    jtrue 'a["members_verified"] == 23 and a["format_version"] == 2' "$HR_TMP/inspect.json"
}

case_nan_refused() {
    [ -x "$CHECK" ] || fail "$CHECK not built (make)"
    local rc=0
    timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np 3 "$CHECK" "$HR_TMP/nan.tar" --nan 2>"$HR_TMP/nan.err" || rc=$?
    [ "$rc" = 3 ] || fail "exit $rc, expected 3"
    grep -q "non-finite value in user_factors.f32 (row 12345)" "$HR_TMP/nan.err" || fail "message: $(head -2 "$HR_TMP/nan.err")"
    ls "$HR_TMP" | grep -q '^nan\.tar' && fail "left $(ls "$HR_TMP" | grep '^nan\.tar')"
    return 0
}

# member NAME -> sha256 of a bundle's members (manifest separately: keys that vary removed)
members_of() {
    /usr/bin/python3 - "$1" <<'EOF'
import hashlib, json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        data = t.extractfile(m).read()
        if m.name == "manifest.json":
            j = json.loads(data)
            for k in ("created", "ranks", "seconds_per_iteration", "final_loss", "train_rmse"):
                j.pop(k, None)
            print("manifest", hashlib.sha256(json.dumps(j, sort_keys=True).encode()).hexdigest())
        else:
            print(m.name, hashlib.sha256(data).hexdigest())
EOF
}

case_train_members() {
    hrt 2 gen --out "$HR_TMP/g" --users 2000 --items 900 --interactions 40000 --kind counts --factors 8 --seed 3 >/dev/null \
        || fail "gen"
    hrt 2 ingest --input "$HR_TMP/g" --out "$HR_TMP/gd" >/dev/null || fail "ingest"
    for np in 1 3; do
        hrt $np train --data "$HR_TMP/gd" --out "$HR_TMP/t$np.tar" --algo ials --factors 16 --iters 2 >/dev/null \
            || fail "train on $np ranks"
    done
    members_of "$HR_TMP/t1.tar" >"$HR_TMP/t1.list"
    members_of "$HR_TMP/t3.tar" >"$HR_TMP/t3.list"
    diff "$HR_TMP/t1.list" "$HR_TMP/t3.list" || fail "members differ between 1 and 3 ranks"
    grep -c . "$HR_TMP/t1.list"
    # a format-1 model (the fuzz corpus keeps some) still loads for recommend
    local v1=$HR_ROOT/tests/fuzz/corpus/model/ials
    [ -f "$v1" ] || fail "no format-1 model in the corpus"
    /usr/bin/python3 -c 'import json,sys,tarfile; t=tarfile.open(sys.argv[1]); assert json.load(t.extractfile("manifest.json"))["version"] == 1' "$v1" \
        || fail "$v1 is not format 1"
    hrt 2 inspect "$v1" >/dev/null || fail "inspect of a format-1 model"
}

tcase modelwrite-bytes-any-ranks case_bytes
tcase modelwrite-nonfinite-refused case_nan_refused
tcase modelwrite-train-members-any-ranks case_train_members
[ "$_fails" = 0 ]
