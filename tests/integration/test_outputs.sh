#!/bin/bash
# tests/integration/test_outputs.sh — every command writes its output like a dataset
# (jobs/publish.h, io/outdir.h):
#   refuse    an output that is, contains or lies inside an input (any spelling, through a
#             link) is refused with exit 2 before anything is touched; a directory that is not
#             an output of the command's kind is never replaced;
#   rerun     a rerun (fewer ranks, no rejects now, fewer days) leaves no stale file: the
#             directory holds exactly the manifest's files;
#   killed    a rank killed after writing its files, before the agreed publish
#             (HR_TEST_KILL_RANK_BEFORE_PUBLISH), leaves the previous output whole and
#             byte-identical; the next run removes the killed run's temporary directory;
#   dump      inspect --dump creates a missing folder and prunes the parts of an earlier dump.
source "$(dirname "$0")/../lib.sh"
W=$HR_TMP/out
mkdir -p "$W"

python3 - "$W/clean.csv" "$W/dirty.csv" <<'EOF'
import random, sys
r = random.Random(15)
pairs = r.sample([(u, i) for u in range(40) for i in range(60)], 600)
rows = ['u%d,i%d,%d,%d' % (u, i, r.randrange(1, 6), 1600000000 + k) for k, (u, i) in enumerate(pairs)]
open(sys.argv[1], 'w').write('user,item,rating,timestamp\n' + '\n'.join(rows) + '\n')
open(sys.argv[2], 'w').write('user,item,rating,timestamp\n' + '\n'.join(rows + ['u1,i1,abc,5', ',i2,3,4']) + '\n')
EOF

# snapshot DIR: every file's path and checksum (to prove a directory was not touched).
snapshot() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum); }
# exactly DIR [MARKER [EXTRA...]]: the files of DIR equal the manifest's list plus the marker
# (manifest.json) and EXTRA (files a manifest does not list by design).
exactly() {
    python3 - "$1" "${2:-manifest.json}" "${@:3}" <<'PY' || fail "$1 holds files its manifest does not list"
import json, os, sys
d, marker = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(d, marker)))
want = set(m["files"]) | {marker} | set(sys.argv[3:])
got = {os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs}
if got != want:
    print("extra:", sorted(got - want), "missing:", sorted(want - got), file=sys.stderr)
    sys.exit(1)
PY
}
no_leftovers() { local l; l=$(ls -A "$1" | grep -E '^\..*\.(tmp|old)-' || true); [ -z "$l" ] || fail "leftovers in $1: $l"; }

base() {
    [ -f "$W/base.ok" ] && return 0
    hrt 2 ingest --input "$W/clean.csv" --out "$W/ds" >/dev/null || fail "ingest"
    hrt 1 train --data "$W/ds" --out "$W/pop.tar" --algo pop >/dev/null || fail "train pop"
    touch "$W/base.ok"
}

case_refuse() {
    base
    local before ds_snap; ds_snap=$(snapshot "$W/ds")
    # recommend / similar / split writing over their input, spelled several ways
    expect_fail 2 "--out .* is the input --data" hrt 1 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/ds"
    expect_fail 2 "is the input --data" hrt 1 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/./ds/"
    ln -sfn ds "$W/dslink"
    expect_fail 2 "is the input --data" hrt 1 recommend --model "$W/pop.tar" --data "$W/dslink" --out "$W/ds"
    expect_fail 2 "lies inside the input --data" hrt 1 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/ds/recs"
    expect_fail 2 "is the input --data" hrt 1 similar --data "$W/ds" --out "$W/ds"
    expect_fail 2 "--train .* is the input --data" hrt 1 split --data "$W/ds" --train "$W/ds" --test "$W/te" --last 1
    expect_fail 2 "--test .* lies inside the input --data" hrt 1 split --data "$W/ds" --train "$W/tr" --test "$W/ds/te" --last 1
    expect_fail 2 "contains the input --data" hrt 1 split --data "$W/ds" --train "$W" --test "$W/te" --last 1
    expect_fail 2 "is the same path as the output" hrt 1 split --data "$W/ds" --train "$W/tt" --test "$W/./tt" --last 1
    # train: the bundle and checkpoints never go into the dataset or over the warm start
    expect_fail 2 "--out .* lies inside the input --data" hrt 1 train --data "$W/ds" --out "$W/ds/m.tar" --algo pop
    expect_fail 2 "--checkpoint-dir .* is the input --data" hrt 1 train --data "$W/ds" --out "$W/m.tar" --algo als --checkpoint-dir "$W/ds"
    expect_fail 2 "--out .* is the input --init-from" hrt 1 train --data "$W/ds" --out "$W/pop.tar" --init-from "$W/pop.tar" --algo als
    expect_fail 2 "--dump .* lies inside the input" hrt 1 inspect "$W/ds" --dump "$W/ds/x"
    expect_fail 2 "--json .* lies inside the input --data" hrt 1 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/r" --json "$W/ds/manifest.json"
    assert_eq "$(snapshot "$W/ds")" "$ds_snap" "the dataset after refused runs"
    # ingest --input logs --out logs/ds: refused, and the dataset there is left whole
    mkdir -p "$W/logs"
    cp "$W/clean.csv" "$W/logs/a.csv"
    hrt 1 ingest --input "$W/logs/a.csv" --out "$W/logs/ds" >/dev/null || fail "ingest into logs/ds"
    before=$(snapshot "$W/logs/ds")
    expect_fail 2 "--out .* lies inside the input --input" hrt 1 ingest --input "$W/logs" --out "$W/logs/ds"
    assert_eq "$(snapshot "$W/logs/ds")" "$before" "logs/ds after the refused ingest"
    hrt 1 inspect "$W/logs/ds" >/dev/null || fail "logs/ds no longer verifies"
    expect_fail 2 "--out .* contains the input --input" hrt 1 ingest --input "$W/logs/a.csv" --out "$W/logs"
    # a directory that is not an output of this kind is never replaced
    mkdir -p "$W/home" && echo precious >"$W/home/notes.txt"
    expect_fail 2 "exists and is not empty" hrt 1 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/home"
    expect_fail 2 "holds a 'hpcrec-dataset'" hrt 1 recommend --model "$W/pop.tar" --data "$W/logs/ds" --out "$W/ds"
    [ "$(cat "$W/home/notes.txt")" = precious ] || fail "notes.txt touched"
    assert_eq "$(snapshot "$W/ds")" "$ds_snap" "the dataset after refused runs"
}

case_rerun() {
    base
    # ingest: 3 ranks with rejects, then 1 rank without: no rejects/, no part-00001/2
    hrt 3 ingest --input "$W/dirty.csv" --out "$W/d" --on-error skip --json "$W/d1.json" >/dev/null || fail "ingest dirty"
    [ -d "$W/d/rejects" ] || fail "premise: rejects written"
    hrt 1 ingest --input "$W/clean.csv" --out "$W/d" --json "$W/d2.json" >/dev/null || fail "ingest clean"
    assert_json "$W/d2.json" rows_rejected 0
    [ -z "$(ls -A "$W/d/rejects" 2>/dev/null)" ] || fail "stale rejects/ after a clean rerun: $(ls "$W/d/rejects")"
    exactly "$W/d"
    no_leftovers "$W"
    # recommend on 3 ranks, then 2
    hrt 3 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/r" --top 3 >/dev/null || fail "recommend 3"
    hrt 2 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/r" --top 3 >/dev/null || fail "recommend 2"
    exactly "$W/r"
    [ ! -e "$W/r/part-00002.tsv.zst" ] || fail "stale part-00002"
    # split: 2 ranks then 1
    hrt 2 split --data "$W/ds" --train "$W/tr" --test "$W/te" --last 1 >/dev/null || fail "split 2"
    hrt 1 split --data "$W/ds" --train "$W/tr" --test "$W/te" --last 1 >/dev/null || fail "split 1"
    exactly "$W/tr"
    exactly "$W/te"
    # gen: a rerun with fewer days replaces the earlier output whole
    hrt 2 gen --out "$W/g" --users 20 --items 30 --interactions 200 --days 3 >/dev/null || fail "gen 3 days"
    hrt 1 gen --out "$W/g" --users 20 --items 30 --interactions 200 --days 1 >/dev/null || fail "gen rerun"
    exactly "$W/g" gen.json _planted/model.tar
    no_leftovers "$W"
}

case_killed_rank() {
    base
    hrt 1 ingest --input "$W/clean.csv" --out "$W/k" >/dev/null || fail "ingest"
    hrt 1 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/kr" >/dev/null || fail "recommend"
    local ds_before rec_before rc=0
    ds_before=$(snapshot "$W/k")
    rec_before=$(snapshot "$W/kr")
    # rank 1 dies with its shards written, before the publish is agreed
    HR_TEST_KILL_RANK_BEFORE_PUBLISH=1 hrt 2 ingest --input "$W/dirty.csv" --out "$W/k" --on-error skip >"$W/k.log" 2>&1 || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "ingest with a killed rank: exit $rc"
    assert_eq "$(snapshot "$W/k")" "$ds_before" "the dataset after a run whose rank was killed"
    hrt 1 inspect "$W/k" >/dev/null || fail "the old dataset no longer verifies"
    rc=0
    HR_TEST_KILL_RANK_BEFORE_PUBLISH=1 hrt 2 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/kr" --top 2 >"$W/kr.log" 2>&1 || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "recommend with a killed rank: exit $rc"
    assert_eq "$(snapshot "$W/kr")" "$rec_before" "the recommendations after a failed run"
    # the next runs publish, and clean up the killed runs' temporary directories
    hrt 2 ingest --input "$W/dirty.csv" --out "$W/k" --on-error skip >/dev/null || fail "ingest rerun"
    hrt 2 recommend --model "$W/pop.tar" --data "$W/ds" --out "$W/kr" --top 2 >/dev/null || fail "recommend rerun"
    assert_eq "$(manifest_blocks "$W/k")" 2 "blocks of the rerun"
    exactly "$W/kr"
    no_leftovers "$W"
}
manifest_blocks() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1] + "/manifest.json"))["partition"]["blocks"])' "$1"; }

case_dump() {
    base
    hrt 2 inspect "$W/ds" --dump "$W/new/folder/d" >/dev/null || fail "dump into a missing folder"
    [ -f "$W/new/folder/d.00001.tsv" ] || fail "no part 1"
    hrt 1 inspect "$W/ds" --dump "$W/new/folder/d" >/dev/null || fail "dump on 1 rank"
    assert_eq "$(ls "$W/new/folder")" "d.00000.tsv" "parts after a dump on fewer ranks"
    assert_eq "$(wc -l <"$W/new/folder/d.00000.tsv")" 600 "rows dumped"
}

tcase outputs-refuse-inputs case_refuse
tcase outputs-rerun-no-stale case_rerun
tcase outputs-killed-rank-publishes-nothing case_killed_rank
tcase outputs-dump-folder-and-stale-parts case_dump
[ "$_fails" = 0 ]
