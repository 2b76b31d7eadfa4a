#!/bin/bash
# tests/integration/test_hygiene.sh — input hygiene at the edges (docs/ingest.md):
#   bom           a UTF-8 byte-order mark is not part of the first id (data and --users files)
#   bad-id        ids with NUL, tab or other control bytes are rejected as bad_id
#   spellings     one file named three ways is read once
#   later-header  a later file's bad first row is a bad row, not a header (unless it equals
#                 the first file's header, or --header yes)
#   odd-paths     a tab or newline in an input path is escaped in rejects/ and in the error line
#   coverage      a manifest listing fewer shard blocks than it records is refused
#   messages      empty inputs, a forced --format the file does not use, --value-range 5:1,
#                 a one-column file and train --iters 0 get clear messages
source "$(dirname "$0")/../lib.sh"
W=$HR_TMP/edges
mkdir -p "$W"

dump1() { rm -f "$2".*.tsv; hrt 1 inspect "$1" --dump "$2" >/dev/null || fail "dump $1"; LC_ALL=C sort "$2".*.tsv; }

case_bom() {
    printf '\xEF\xBB\xBF1,10,5,100\n2,10,3,200\n2,20,4,300\n' >"$W/bom.csv"
    hrt 1 ingest --input "$W/bom.csv" --out "$W/bom" --json "$W/bom.json" >/dev/null || fail "ingest"
    assert_eq "$(dump1 "$W/bom" "$W/bom.d" | cut -f1 | tr '\n' ' ')" "1 2 2 " "user ids"
    assert_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user_ids"])' "$W/bom/manifest.json")" integer "user id kind"
    # a --users file written by a spreadsheet: user 1 is known (model), not a stranger (popular)
    hrt 1 train --data "$W/bom" --out "$W/bom.tar" --algo pop >/dev/null || fail "train"
    printf '\xEF\xBB\xBF1\r\n' >"$W/users.txt"
    hrt 1 recommend --model "$W/bom.tar" --data "$W/bom" --users "$W/users.txt" --out "$W/bom.r" --top 1 >/dev/null || fail "recommend"
    assert_eq "$(zstdcat "$W"/bom.r/part-*.tsv.zst | sed 1d | cut -f1,3,5)" "$(printf '1\t20\tmodel')" "--users with a BOM"
    # an id with a tab would break the output's columns: refused, naming the line
    printf '1\nx\ty\n' >"$W/users2.txt"
    expect_fail 3 "users2.txt:2: the id holds control byte 0x09 at byte 2" \
        hrt 1 recommend --model "$W/bom.tar" --data "$W/bom" --users "$W/users2.txt" --out "$W/bom.r2"
}

case_bad_id() {
    printf 'user,item,rating,timestamp\n"a\tb",i1,1,1\nu\001,i1,1,2\nu2,i\0003,1,3\nu3,i1,1,4\n' >"$W/ctl.csv"
    hrt 1 ingest --input "$W/ctl.csv" --out "$W/ctl" --on-error skip --json "$W/ctl.json" >/dev/null || fail "ingest"
    assert_json "$W/ctl.json" rejected_bad_id 3
    assert_json "$W/ctl.json" rows_accepted 1
    # every reject record keeps its five columns; the raw row is escaped
    [ "$(awk -F'\t' 'NF != 5' "$W"/ctl/rejects/*.tsv | wc -l)" = 0 ] || fail "records with != 5 fields: $(cat -A "$W"/ctl/rejects/*.tsv)"
    grep -qF '"a\tb",i1,1,1' "$W"/ctl/rejects/*.tsv || fail "escaped row: $(cat "$W"/ctl/rejects/*.tsv)"
    grep -qF 'i\x003,1,3' "$W"/ctl/rejects/*.tsv || fail "escaped NUL: $(cat "$W"/ctl/rejects/*.tsv)"
    expect_fail 3 "ctl.csv:2: bad_id: user field 1 holds control byte 0x09" hrt 1 ingest --input "$W/ctl.csv" --out "$W/ctl2"
}

case_spellings() {
    mkdir -p "$W/in"
    printf '1,1,1,1\n2,2,2,2\n' >"$W/in/x.csv"
    (cd "$W" && hrt 1 ingest --input in/x.csv --input ./in/x.csv --input in//x.csv --out sp --json sp.json >/dev/null) || fail "ingest"
    assert_json "$W/sp.json" input_files 1
    assert_json "$W/sp.json" rows_read 2
    assert_json "$W/sp.json" rows_rejected 0
}

case_later_header() {
    mkdir -p "$W/lh"
    printf 'user,item,rating,timestamp\n1,1,1,1\n' >"$W/lh/a.csv"
    printf 'x,y,z,w\n2,2,2,2\n' >"$W/lh/b.csv"
    expect_fail 3 "b.csv:1: unparsable" hrt 1 ingest --input "$W/lh" --out "$W/lh1"
    printf 'user,item,rating,timestamp\n2,2,2,2\n' >"$W/lh/b.csv"
    hrt 1 ingest --input "$W/lh" --out "$W/lh2" --json "$W/lh2.json" >/dev/null || fail "same header"
    assert_json "$W/lh2.json" header_lines 2
    assert_json "$W/lh2.json" rows_read 2
    printf 'u,i,r,t\n2,2,2,2\n' >"$W/lh/b.csv"
    hrt 1 ingest --input "$W/lh" --out "$W/lh3" --header yes --json "$W/lh3.json" >/dev/null || fail "--header yes"
    assert_json "$W/lh3.json" header_lines 2
    assert_json "$W/lh3.json" rows_accepted 2
}

case_odd_paths() {
    mkdir -p "$W/odd"
    printf '1,1,1,1\n2,2,x,2\n' >"$W/odd/t"$'\t'"ab.csv"
    printf '3,3,3,3\n' >"$W/odd/n"$'\n'"l.csv"
    hrt 1 ingest --input "$W/odd" --out "$W/odd.ds" --on-error skip --json "$W/odd.json" >/dev/null || fail "ingest"
    assert_json "$W/odd.json" rows_accepted 2
    [ "$(sed 1d "$W"/odd.ds/rejects/*.tsv | awk -F'\t' 'NF != 5' | wc -l)" = 0 ] || fail "broken record: $(cat -A "$W"/odd.ds/rejects/*.tsv)"
    sed 1d "$W"/odd.ds/rejects/*.tsv | cut -f1 | grep -qxF "$W/odd/t\\tab.csv" || fail "source not escaped: $(cat -A "$W"/odd.ds/rejects/*.tsv)"
    local out rc=0
    out=$(hrt 1 ingest --input "$W/odd" --out "$W/odd2" 2>&1) || rc=$?
    assert_eq "$rc" 3 "exit of a bad row"
    echo "$out" | grep -qF "odd/t\\tab.csv:2: unparsable" || fail "one-line error: $out"
}

case_coverage() {
    printf '1,1,1,1\n2,2,2,2\n3,3,3,3\n4,4,4,4\n5,5,5,5\n6,6,6,6\n' >"$W/cov.csv"
    hrt 2 ingest --input "$W/cov.csv" --out "$W/cov" >/dev/null || fail "ingest"
    cp -r "$W/cov" "$W/cov1"
    python3 - "$W/cov1/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for side in ("by_user", "by_item"): m["shards"][side] = m["shards"][side][:1]
json.dump(m, open(sys.argv[1], "w"))
EOF
    expect_fail 3 "lists 1 by_user shards, but the partition has 2 blocks" hrt 2 train --data "$W/cov1" --out "$W/c.tar" --algo pop
    python3 - "$W/cov1/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["partition"]["blocks"] = 1
json.dump(m, open(sys.argv[1], "w"))
EOF
    expect_fail 3 "shards hold [0-9]+ interactions, the manifest records 6" hrt 2 train --data "$W/cov1" --out "$W/c.tar" --algo pop
    hrt 2 train --data "$W/cov" --out "$W/c.tar" --algo pop >/dev/null || fail "the untouched dataset"
}

case_messages() {
    : >"$W/empty.csv"
    printf '\n\n' >"$W/blank.csv"
    expect_fail 3 "no data: the 2 input file\(s\) are empty or hold only blank lines" hrt 1 ingest --input "$W/empty.csv" --input "$W/blank.csv" --out "$W/e"
    printf 'a,b,1,1\n' >"$W/comma.csv"
    expect_fail 2 "--format tsv: the first line of .*comma.csv \('a,b,1,1'\) has no tab; it looks comma-separated" \
        hrt 1 ingest --input "$W/comma.csv" --out "$W/e" --format tsv
    expect_fail 2 "--value-range 5:1: the low end 5 is above the high end 1" hrt 1 ingest --input "$W/comma.csv" --out "$W/e" --value-range 5:1
    printf 'abc\n' >"$W/one.csv"
    expect_fail 3 "one.csv: the first line \('abc'\) has one field" hrt 1 ingest --input "$W/one.csv" --out "$W/e"
    [ ! -e "$W/e" ] || fail "a refused ingest created --out"
    hrt 1 ingest --input "$W/comma.csv" --out "$W/e1" >/dev/null || fail "ingest"
    expect_fail 2 "--iters: '0' is not an integer in \[1, " hrt 1 train --data "$W/e1" --out "$W/e.tar" --algo als --iters 0
    [ ! -e "$W/e.tar" ] || fail "train --iters 0 wrote a model"
}

tcase edges-bom case_bom
tcase edges-bad-id case_bad_id
tcase edges-same-file-spellings case_spellings
tcase edges-later-file-header case_later_header
tcase edges-odd-paths-escaped case_odd_paths
tcase edges-manifest-coverage case_coverage
tcase edges-clear-messages case_messages
[ "$_fails" = 0 ]
