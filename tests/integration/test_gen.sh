#!/bin/bash
# tests/integration/test_gen.sh — `hpcrec gen`: layout and compressed files, headers, row counts
# against the summary and the manifest, the same lines on 1, 2 and 3 ranks, dirty-row
# accounting (checked against `hpcrec ingest`), memory flat in the number of interactions, and
# option errors (exit 2 with a clear message).
source "$(dirname "$0")/../lib.sh"

# data_lines DIR: every data line of every day file (headers stripped), sorted bytewise.
data_lines() {
    local f
    for f in "$1"/20*/part-*.csv.zst; do zstdcat "$f" | tail -n +2; done | LC_ALL=C sort
}

# check_tree DIR RANKS: every file against gen.json (size, rows), headers, timestamps inside
# their day directory, ids and values in range, clean rows without repeated (user, item).
check_tree() {
    python3 - "$1" "$2" <<'EOF'
import datetime, json, os, subprocess, sys
d, ranks = sys.argv[1], int(sys.argv[2])
m = json.load(open(os.path.join(d, "gen.json")))
assert m["format"] == "hpcrec-gen" and m["version"] == 1, m.get("format")
p, files = m["params"], m["files"]
kind = p["kind"]
header = "user,item,%s,timestamp" % ("rating" if kind == "ratings" else "count")
assert m["header"] == header
start = datetime.date.fromisoformat(p["start"])
days = [(start + datetime.timedelta(k)).isoformat() for k in range(p["days"])]
expect = {"%s/part-%05d.csv.zst" % (day, r) for day in days for r in range(ranks)}
expect |= {"_planted/items.tsv.zst"} | {"_planted/users-%05d.tsv.zst" % r for r in range(ranks)}
assert set(files) == expect, sorted(set(files) ^ expect)[:5]
total_users = p["users"] + p["bots"]
pairs, rows = set(), 0
for rel, e in files.items():
    path = os.path.join(d, rel)
    assert os.path.getsize(path) == e["bytes"], rel
    text = subprocess.run(["zstdcat", path], check=True, capture_output=True, text=True).stdout
    lines = text.splitlines()
    assert len(lines) - 1 == e["rows"], (rel, len(lines) - 1, e["rows"])
    if rel.startswith("_planted/items"):
        assert lines[0] == "item\tcluster\tweight" and len(lines) == p["items"] + 1
        assert abs(sum(float(l.split("\t")[2]) for l in lines[1:]) - 1) < 1e-6
        continue
    if rel.startswith("_planted/users"):
        assert lines[0].split("\t")[0] == "user" and len(lines[0].split("\t")) == p["factors"] + 1
        for l in lines[1:]:
            f = l.split("\t")
            assert int(f[0]) <= p["users"] and abs(sum(map(float, f[1:])) - 1) < 1e-6, l
        continue
    assert lines[0] == header, (rel, lines[0])
    day0 = int(datetime.datetime.fromisoformat(rel[:10] + "T00:00:00+00:00").timestamp())
    rows += len(lines) - 1
    if p["dirty"] > 0:
        continue  # faulty rows are checked through ingest
    for l in lines[1:]:
        u, i, v, t = l.split(",")
        assert 1 <= int(u) <= total_users and 1 <= int(i) <= p["items"], l
        assert (1 <= int(v) <= 5) if kind == "ratings" else int(v) >= 1, l
        assert day0 <= int(t) < day0 + 86400, (rel, l)
        assert (u, i) not in pairs, "repeated pair " + l
        pairs.add((u, i))
assert rows == m["counts"]["rows_written"], (rows, m["counts"]["rows_written"])
EOF
}

case_layout() {
    local d=$HR_TMP/layout j=$HR_TMP/layout.json
    hr 1 gen --out "$d" --users 200 --items 500 --interactions 3000 --days 3 --start 2028-02-28 --json "$j" || fail "gen failed"
    for day in 2028-02-28 2028-02-29 2028-03-01; do
        zstd -tq "$d/$day/part-00000.csv.zst" || fail "$day/part-00000.csv.zst is not a valid zstd file"
        assert_eq "$(zstdcat "$d/$day/part-00000.csv.zst" | head -n 1)" "user,item,rating,timestamp" "header of $day"
    done
    assert_eq "$(ls "$d" | grep -c '^20')" 3 "day directories"
    assert_json "$j" rows_written 3000
    assert_json "$j" clean_events 3000
    assert_json "$j" users 200
    assert_json "$j" items 500
    assert_json "$j" files 5
    assert_json "$j" bot_users 0
    assert_eq "$(data_lines "$d" | wc -l)" 3000 "data lines"
    check_tree "$d" 1 || fail "tree check"
}

case_counts_kind() {
    local d=$HR_TMP/counts j=$HR_TMP/counts.json
    hr 2 gen --out "$d" --users 300 --items 400 --interactions 5000 --kind counts --factors 4 --days 2 --json "$j" || fail "gen failed"
    assert_eq "$(zstdcat "$d/2026-11-02/part-00001.csv.zst" | head -n 1)" "user,item,count,timestamp" "header"
    assert_json "$j" rows_written 5000
    check_tree "$d" 2 || fail "tree check"
    # implicit feedback: counts >= 1, and some above 1
    [ "$(data_lines "$d" | awk -F, '$3 > 1' | wc -l)" -gt 100 ] || fail "no play counts above 1"
}

case_rank_independent() {
    local args="--users 700 --items 2500 --interactions 9000 --days 4 --dirty 0.1 --seed 99"
    local np
    for np in 1 2 3; do
        hr $np gen --out "$HR_TMP/r$np" $args --json "$HR_TMP/r$np.json" || fail "gen on $np ranks failed"
    done
    data_lines "$HR_TMP/r1" >"$HR_TMP/r1.lines"
    [ "$(wc -l <"$HR_TMP/r1.lines")" -gt 9000 ] || fail "too few lines"
    for np in 2 3; do
        data_lines "$HR_TMP/r$np" | cmp -s - "$HR_TMP/r1.lines" || fail "$np ranks wrote other lines than 1 rank"
        for key in rows_written clean_events bot_events dirty_conflict dirty_duplicate max_user_events; do
            assert_eq "$(json_get "$HR_TMP/r$np.json" $key)" "$(json_get "$HR_TMP/r1.json" $key)" "$key on $np ranks"
        done
        assert_json "$HR_TMP/r$np.json" files $((4 * np + np + 1))
        check_tree "$HR_TMP/r$np" $np || fail "tree check on $np ranks"
    done
    # the same run twice gives byte-identical files (same checksums in the manifest)
    hr 1 gen --out "$HR_TMP/r1b" $args || fail "second run failed"
    python3 -c 'import json,sys; a,b=(json.load(open(f))["files"] for f in sys.argv[1:]); sys.exit(a != b)' \
        "$HR_TMP/r1/gen.json" "$HR_TMP/r1b/gen.json" || fail "checksums differ between identical runs"
}

case_empty_day_files() {
    # 3 users, 3 events over 40 days on 2 ranks: most files hold only the header
    local d=$HR_TMP/sparse
    hr 2 gen --out "$d" --users 3 --items 10 --interactions 3 --days 40 --json "$HR_TMP/sparse.json" || fail "gen failed"
    assert_eq "$(ls "$d"/20*/part-*.csv.zst | wc -l)" 80 "day files"
    local empty=0 f
    for f in "$d"/20*/part-*.csv.zst; do
        [ "$(zstdcat "$f")" = "user,item,rating,timestamp" ] && empty=$((empty + 1))
    done
    [ "$empty" -ge 77 ] || fail "expected >= 77 header-only files, got $empty"
    assert_json "$HR_TMP/sparse.json" rows_written 3
}

case_dirty_accounting() {
    local d=$HR_TMP/dirty j=$HR_TMP/dirty.json
    hr 2 gen --out "$d" --users 500 --items 3000 --interactions 10000 --days 2 --dirty 0.2 --json "$j" || fail "gen failed"
    assert_json "$j" clean_events 10000
    assert_json "$j" bot_users 2
    python3 - "$j" <<'EOF' || fail "dirty counts do not add up"
import json, sys
s = json.load(open(sys.argv[1]))
kinds = ["wrong_columns", "unparsable", "nonfinite", "out_of_range", "missing_id", "duplicate", "conflict"]
dirty = sum(s["dirty_" + k] for k in kinds)
assert s["rows_written"] == s["clean_events"] + dirty + s["bot_events"], s
assert all(s["dirty_" + k] > 150 for k in kinds), s          # ~2000 faults, 7 kinds
assert 1500 < dirty < 2500, dirty
assert 2 * 2001 <= s["bot_events"] <= 2 * 5000, s["bot_events"]
assert s["max_user_events"] <= 500
EOF
    assert_eq "$(data_lines "$d" | wc -l)" "$(json_get "$j" rows_written)" "data lines"
    # Each fault kind maps to exactly one ingest rejection reason; bots are caught by the cap.
    hr 2 ingest --input "$d" --out "$HR_TMP/dirty-ds" --on-error skip --max-user-events 1000 --json "$HR_TMP/ingest.json" \
        || fail "ingest failed"
    local k
    for k in wrong_columns unparsable nonfinite out_of_range missing_id duplicate conflict; do
        assert_eq "$(json_get "$HR_TMP/ingest.json" rejected_$k)" "$(json_get "$j" dirty_$k)" "rejected_$k vs dirty_$k"
    done
    assert_eq "$(json_get "$HR_TMP/ingest.json" rejected_bot_user)" "$(json_get "$j" bot_events)" "bot rows"
    assert_json "$HR_TMP/ingest.json" rows_accepted 10000
    assert_json "$HR_TMP/ingest.json" rows_read "$(json_get "$j" rows_written)"
}

case_day_windows() {
    # 100 days fit one window of open zstd streams at level 1 but need three at level 6
    # (users regenerated per window): the lines must not change.
    local args="--users 1500 --items 2500 --interactions 20000 --days 100 --dirty 0.2"
    hr 2 gen --out "$HR_TMP/w1" $args --zstd-level 1 || fail "level 1"
    hr 2 gen --out "$HR_TMP/w6" $args --zstd-level 6 --json "$HR_TMP/w6.json" | tee "$HR_TMP/w6.log" || fail "level 6"
    grep -q "3 windows of 36 days" "$HR_TMP/w6.log" || fail "level 6 did not use day windows"
    data_lines "$HR_TMP/w1" >"$HR_TMP/w1.lines"
    data_lines "$HR_TMP/w6" | cmp -s - "$HR_TMP/w1.lines" || fail "windowed generation wrote other lines"
    assert_eq "$(wc -l <"$HR_TMP/w1.lines")" "$(json_get "$HR_TMP/w6.json" rows_written)" "rows"
}

case_memory_flat() {
    # 4x the interactions on the same users and items must not need more memory.  Few days,
    # so both runs write enough per day file for zstd to have touched all of its stream
    # memory (~2 MiB per open day at level 1, resident only as it fills).
    local small large
    hr 2 gen --out "$HR_TMP/m1" --users 20000 --items 20000 --interactions 2000000 --days 5 --json "$HR_TMP/m1.json" || fail "small"
    hr 2 gen --out "$HR_TMP/m2" --users 20000 --items 20000 --interactions 8000000 --days 5 --json "$HR_TMP/m2.json" || fail "large"
    small=$(json_get "$HR_TMP/m1.json" peak_rss_mb)
    large=$(json_get "$HR_TMP/m2.json" peak_rss_mb)
    echo "peak RSS: $small MiB (2M rows), $large MiB (8M rows)"
    python3 -c 'import sys; s,l=map(float,sys.argv[1:]); sys.exit(0 if l < s + 4 else 1)' "$small" "$large" \
        || fail "peak memory grew with interactions: $small -> $large MiB"
    rm -rf "$HR_TMP/m1" "$HR_TMP/m2"
}

case_bad_options() {
    # Option errors run as MPI singletons: a failing mpirun takes seconds to tear down.  The
    # --bots and non-empty --out cases go through mpirun on 2 ranks, where the ranks must agree.
    local o=$HR_TMP/bad base="--users 10 --items 100 --interactions 100"
    solo() { "$HR_BIN" "$@"; }
    expect_fail 2 "--out DIR is required" solo gen $base
    expect_fail 2 "--users, --items and --interactions are required" solo gen --out "$o" --users 10 --items 100
    expect_fail 2 "--users: '0' is not an integer" solo gen --out "$o" --users 0 --items 100 --interactions 100
    expect_fail 2 "--interactions 5 is less than --users 10" solo gen --out "$o" --users 10 --items 100 --interactions 5
    expect_fail 2 "--interactions 501 exceeds --users x per-user cap" solo gen --out "$o" --users 10 --items 100 --interactions 501
    expect_fail 2 "--factors: '0' is not an integer in \[1, 256\]" solo gen --out "$o" $base --factors 0
    expect_fail 2 "--factors: '257'" solo gen --out "$o" $base --factors 257
    expect_fail 2 "--days: '3661'" solo gen --out "$o" $base --days 3661
    expect_fail 2 "--dirty: '0.6' is not a number in \[0, 0.5\]" solo gen --out "$o" $base --dirty 0.6
    expect_fail 2 "--start: '2026-02-30' is not a date" solo gen --out "$o" $base --start 2026-02-30
    expect_fail 2 "--start: '26-11-01' is not a date" solo gen --out "$o" $base --start 26-11-01
    expect_fail 2 "runs past 2100-01-01" solo gen --out "$o" $base --start 2099-12-20 --days 30
    expect_fail 2 "--kind: 'stars' is not ratings or counts" solo gen --out "$o" $base --kind stars
    expect_fail 2 "--bots 2 needs --items >= 2001" hr 2 gen --out "$o" $base --dirty 0.1
    expect_fail 2 "--zstd-level: '20'" solo gen --out "$o" $base --zstd-level 20
    expect_fail 2 "'--bogus': unknown option" solo gen --out "$o" $base --bogus 3
    [ ! -e "$o" ] || fail "a failed run created --out"
    mkdir -p "$o" && touch "$o/old"
    expect_fail 2 "exists and is not empty" hr 2 gen --out "$o" $base
}

tcase gen-layout case_layout
tcase gen-counts-kind case_counts_kind
tcase gen-rank-independent case_rank_independent
tcase gen-empty-day-files case_empty_day_files
tcase gen-dirty-accounting case_dirty_accounting
tcase gen-day-windows case_day_windows
tcase gen-memory-flat case_memory_flat
tcase gen-bad-options case_bad_options
[ "$_fails" = 0 ]
