#!/bin/bash
# tests/integration/test_export.sh — `hpcrec export` (docs/formats.md, "Exports").
#   ranks      a factor model of several members per array exported on 1, 2, 3 and 4 ranks:
#              byte-identical files; the .npy files load with numpy.load and equal the
#              bundle's rows read by tests/tools/read_model.py (tar + zstd + numpy, from the
#              documented format alone); --format tsv the same values
#   scores     that reader reproduces recommend's scores for 100 users to 1e-5 and their top-10
#              lists up to ties
#   sqlite     export --recs: every user's list from SELECT item ... ORDER BY rank equals the
#              TSV's; INTEGER columns for integer ids, TEXT for string ids (a pop model, whose
#              TSV export is checked too); meta rows
#   itemitem   EASE (dense, and sparse --ease-topm) on 1,600 items: item_neighbors.tsv.zst
#              byte-identical on 1 and 3 ranks, equal to the top-N of B's columns read from the
#              bundle by read_model.py (default 100 for dense, every entry for sparse,
#              --neighbors 300 / 5); --neighbors refused for other models and --recs
#   refusals   a non-empty folder that is no export, an existing database file, a bundle of
#              version 3, a damaged part: clear errors (exit 2 / 3), nothing written or left;
#              an earlier export is replaced
#   disk full  a small tmpfs (root only, else skip): exit 4 naming the file, nothing left; the
#              same for train's collective model write
# Python: Debian's /usr/bin/python3 with python3-numpy (tests/deps.sh).
source "$(dirname "$0")/../lib.sh"
NP=2
W=$HR_TMP/ex
PY=/usr/bin/python3
READ="$PY $HR_ROOT/tests/tools/read_model.py"
export SOURCE_DATE_EPOCH=1700000000   # model.json's "created": the same on every run

# 6000 users x 5000 items at k = 64: members of 4096 rows, so 2 user and 2 item members.
fixture() {
    [ -f "$W/ok" ] && return 0
    mkdir -p "$W"
    "$PY" -c 'import numpy' 2>/dev/null || { echo "python3-numpy missing (tests/deps.sh installs it)"; exit 77; }
    hrt $NP gen --out "$W/g" --users 6000 --items 5000 --interactions 60000 --days 1 --seed 4 >/dev/null || fail "gen"
    hrt $NP ingest --input "$W/g" --out "$W/ds" >/dev/null || fail "ingest"
    hrt $NP train --data "$W/ds" --out "$W/als.tar" --algo als --factors 64 --iters 2 >/dev/null || fail "train"
    [ "$(tar -tf "$W/als.tar" | grep -c '^user_factors.f32\.')" = 2 ] || fail "expected 2 user factor members"
    touch "$W/ok"
}

case_ranks() {
    fixture
    local np f
    for np in 1 2 3 4; do
        hrt $np export --model "$W/als.tar" --out "$W/e$np" >/dev/null || fail "export on $np ranks"
    done
    for np in 2 3 4; do
        for f in "$W"/e1/*; do cmp "$f" "$W/e$np/${f##*/}" || fail "${f##*/}: $np ranks differ from 1"; done
    done
    assert_eq "$(ls "$W/e1" | tr '\n' ' ')" "item_bias.npy items.npy items.tsv model.json user_bias.npy users.npy users.tsv " "files"
    $READ export "$W/als.tar" "$W/e3" || fail "npy export"
    hrt 3 export --model "$W/als.tar" --out "$W/t3" --format tsv >/dev/null || fail "tsv export"
    $READ export "$W/als.tar" "$W/t3" || fail "tsv export"
}

case_scores() {
    fixture
    hrt $NP recommend --model "$W/als.tar" --data "$W/ds" --out "$W/rs" --top 10 --include-seen >/dev/null || fail "recommend"
    $READ scores "$W/als.tar" "$W/rs" 100 || fail "scores"
}

case_sqlite() {
    fixture
    hrt $NP recommend --model "$W/als.tar" --data "$W/ds" --out "$W/r" --top 10 >/dev/null || fail "recommend"
    hrt $NP export --recs "$W/r" --out "$W/r.sqlite" --day 2026-11-30 --json "$W/x.json" >/dev/null || fail "export --recs"
    $READ sqlite "$W/r" "$W/r.sqlite" || fail "sqlite"
    assert_json "$W/x.json" rows 60000
    assert_eq "$(sqlite3 "$W/r.sqlite" "SELECT typeof(user), typeof(item) FROM recommendations LIMIT 1")" "integer|integer" "types"
    assert_eq "$(sqlite3 "$W/r.sqlite" "SELECT value FROM meta WHERE key='day'")" "2026-11-30" "meta day"
    # string ids: TEXT columns; a popularity model exported as TSV
    mkdir -p "$W/s"
    printf 'user,item\nu1,apple\nu1,pear\nu2,apple\nu3,fig\nu3,apple\n' >"$W/s/in.csv"
    hrt 1 ingest --input "$W/s/in.csv" --out "$W/s/ds" >/dev/null || fail "ingest strings"
    hrt 1 train --data "$W/s/ds" --out "$W/s/pop.tar" --algo pop >/dev/null || fail "train pop"
    hrt 2 recommend --model "$W/s/pop.tar" --data "$W/s/ds" --out "$W/s/r" --top 2 --include-seen >/dev/null || fail "recommend pop"
    hrt 2 export --recs "$W/s/r" --out "$W/s/r.sqlite" >/dev/null || fail "export strings"
    $READ sqlite "$W/s/r" "$W/s/r.sqlite" || fail "sqlite strings"
    assert_eq "$(sqlite3 "$W/s/r.sqlite" "SELECT typeof(user), typeof(item) FROM recommendations LIMIT 1")" "text|text" "types"
    assert_eq "$(sqlite3 "$W/s/r.sqlite" "SELECT item FROM recommendations WHERE user='u2' ORDER BY rank" | tr '\n' ' ')" "apple fig " "u2"
    hrt 2 export --model "$W/s/pop.tar" --out "$W/s/e" --format tsv >/dev/null || fail "export pop"
    $READ export "$W/s/pop.tar" "$W/s/e" || fail "pop export"
    assert_eq "$(ls "$W/s/e" | tr '\n' ' ')" "item_scores.tsv items.tsv model.json users.tsv " "pop files"
}

# nothing_left DIR: no temporary of export in DIR
nothing_left() { [ -z "$(ls -A "$1" | grep '\.tmp-')" ] || fail "left in $1: $(ls -A "$1")"; }

# item-item models: 1,600 items, so B has two column blocks (1024 columns each)
case_itemitem() {
    fixture
    local d=$W/ii np f
    mkdir -p "$d"
    hrt 2 gen --out "$d/g" --users 1500 --items 1600 --interactions 30000 --days 1 --seed 7 >/dev/null || fail "gen"
    hrt 2 ingest --input "$d/g" --out "$d/ds" >/dev/null || fail "ingest"
    hrt 2 train --data "$d/ds" --out "$d/dense.tar" --algo ease >/dev/null || fail "train ease"
    hrt 2 train --data "$d/ds" --out "$d/sparse.tar" --algo ease --ease-topm 20 >/dev/null || fail "train ease --ease-topm"
    jtrue 'a["items"] > 1024' <(tar -xOf "$d/dense.tar" manifest.json) || fail "expected two column blocks"
    # dense: the default top 100 per item; --neighbors 300 cuts a block into two chunks;
    # sparse: every stored entry, then --neighbors 5; 1 and 3 ranks byte-identical
    for np in 1 3; do
        hrt $np export --model "$d/dense.tar" --out "$d/d$np" --json "$d/d$np.json" >/dev/null || fail "export dense on $np ranks"
        hrt $np export --model "$d/dense.tar" --out "$d/w$np" --neighbors 300 >/dev/null || fail "export --neighbors 300 on $np ranks"
        hrt $np export --model "$d/sparse.tar" --out "$d/s$np" >/dev/null || fail "export sparse on $np ranks"
    done
    hrt 3 export --model "$d/sparse.tar" --out "$d/n5" --neighbors 5 >/dev/null || fail "export --neighbors 5"
    for f in d w s; do
        for x in "$d/${f}1"/*; do cmp "$x" "$d/${f}3/${x##*/}" || fail "${x##*/} ($f): 3 ranks differ from 1"; done
    done
    assert_eq "$(ls "$d/d1" | tr '\n' ' ')" "item_neighbors.tsv.zst items.tsv model.json users.tsv " "item-item files"
    jtrue 'a["neighbors"] == 100 and a["neighbor_lines"] == 100 * a["items"]' "$d/d1.json"
    $READ export "$d/dense.tar" "$d/d3" || fail "dense top 100"
    $READ export "$d/dense.tar" "$d/w3" || fail "dense top 300"
    $READ export "$d/sparse.tar" "$d/s3" || fail "sparse, all entries"
    $READ export "$d/sparse.tar" "$d/n5" || fail "sparse top 5"
    jtrue 'a["kind"] == "itemitem" and a["neighbors"] == 0 and a["top_m"] == 20' "$d/s3/model.json"
    expect_fail 2 "neighbors applies to item-item and user-user models" hrt 1 export --model "$W/als.tar" --out "$d/x" --neighbors 5
    expect_fail 2 "neighbors applies to --model exports" hrt 1 export --recs "$d" --out "$d/x.sqlite" --neighbors 5
}

case_refusals() {
    fixture
    local d=$W/ref
    mkdir -p "$d/notes" && echo keep >"$d/notes/a.txt"
    expect_fail 2 "notes exists and is not empty, and is not a .hpcrec-export. output" \
        hrt $NP export --model "$W/als.tar" --out "$d/notes"
    assert_eq "$(ls "$d/notes")" "a.txt" "a refused folder is untouched"
    echo x >"$d/file"
    expect_fail 2 "exists and is not a directory" hrt $NP export --model "$W/als.tar" --out "$d/file"
    # an earlier export is replaced, whole
    hrt $NP export --model "$W/als.tar" --out "$d/e" >/dev/null || fail "first export"
    hrt $NP export --model "$W/als.tar" --out "$d/e" --format tsv >/dev/null || fail "export over an export"
    assert_eq "$(ls "$d/e" | tr '\n' ' ')" "item_bias.tsv item_factors.tsv items.tsv model.json user_bias.tsv user_factors.tsv users.tsv " "replaced whole"
    # an existing database is never overwritten
    hrt $NP recommend --model "$W/als.tar" --data "$W/ds" --out "$d/r" --top 3 >/dev/null || fail "recommend"
    echo old >"$d/r.sqlite"
    expect_fail 2 "r.sqlite already exists" hrt $NP export --recs "$d/r" --out "$d/r.sqlite"
    assert_eq "$(cat "$d/r.sqlite")" "old" "existing file untouched"
    expect_fail 2 "lies inside the input --recs" hrt $NP export --recs "$d/r" --out "$d/r/x.sqlite"
    expect_fail 2 "contains the input --model" hrt $NP export --model "$d/e/../../als.tar" --out "$W"
    # the temporary of a killed run into the same file is removed by the next run
    echo partial >"$d/.r2.sqlite.tmp-999"
    hrt $NP export --recs "$d/r" --out "$d/r2.sqlite" >/dev/null || fail "export --recs"
    [ ! -e "$d/.r2.sqlite.tmp-999" ] || fail "a killed run's temporary survived"
    # a bundle of a later version: the manifest says 3
    $PY - "$W/als.tar" "$d/v3.tar" <<'PY' || fail "make v3"
import io, json, sys, tarfile
src, dst = tarfile.open(sys.argv[1]), tarfile.open(sys.argv[2], "w", format=tarfile.USTAR_FORMAT)
for m in src.getmembers():
    data = src.extractfile(m).read()
    if m.name == "manifest.json":
        man = json.loads(data); man["version"] = 3; data = json.dumps(man).encode(); m.size = len(data)
    dst.addfile(m, io.BytesIO(data))
dst.close()
PY
    expect_fail 3 "version 3 is not supported by this hpcrec" hrt $NP export --model "$d/v3.tar" --out "$d/v3"
    [ ! -e "$d/v3" ] || fail "an output appeared for a refused bundle"
    # a damaged part: checksum error naming it, no database
    cp -r "$d/r" "$d/bad" && printf 'x' >>"$d/bad/part-00001.tsv.zst"
    expect_fail 3 "part-00001.tsv.zst: [0-9]+ bytes, the manifest says" hrt $NP export --recs "$d/bad" --out "$d/bad.sqlite"
    [ ! -e "$d/bad.sqlite" ] || fail "a database appeared for damaged input"
    rm -rf "$d/bad" && cp -r "$d/r" "$d/bad" && printf 'x' | dd of="$d/bad/part-00001.tsv.zst" bs=1 seek=100 conv=notrunc status=none
    expect_fail 3 "part-00001.tsv.zst: checksum mismatch" hrt $NP export --recs "$d/bad" --out "$d/bad.sqlite"
    [ ! -e "$d/bad.sqlite" ] || fail "a database appeared for damaged input"
    nothing_left "$d"
}

case_disk_full() {
    fixture
    local mnt=$HR_TMP/mnt
    mkdir -p "$mnt"
    [ "$(id -u)" = 0 ] || { echo "mounting a tmpfs needs root"; exit 77; }
    mount -t tmpfs -o size=600k tmpfs "$mnt" 2>/dev/null || { echo "mount -t tmpfs not permitted here"; exit 77; }
    trap 'umount "$HR_TMP/mnt"' EXIT
    # the factors take 1.6 MB + 1.3 MB
    expect_fail 4 "No space left on device" hrt $NP export --model "$W/als.tar" --out "$mnt/e"
    assert_eq "$(ls -A "$mnt")" "" "nothing left on the full disk"
    # the collective model writer (mpi/pfile.c) too: MPI-IO's short writes on a full disk were
    # taken for success and a model with holes was published
    expect_fail 4 "m.tar.*No space left on device" hrt $NP train --data "$W/ds" --out "$mnt/m.tar" --algo als --factors 64 --iters 1
    assert_eq "$(ls -A "$mnt")" "" "nothing left on the full disk"
    hrt $NP recommend --model "$W/als.tar" --data "$W/ds" --out "$W/rf" --top 20 >/dev/null || fail "recommend"
    expect_fail 4 "r.sqlite.*No space left on device" hrt $NP export --recs "$W/rf" --out "$mnt/r.sqlite"
    assert_eq "$(ls -A "$mnt")" "" "nothing left on the full disk"
}

tcase export-ranks case_ranks
tcase export-python-scores case_scores
tcase export-sqlite case_sqlite
tcase export-itemitem case_itemitem
tcase export-refusals case_refusals
tcase export-disk-full case_disk_full
[ "$_fails" = 0 ]
