#!/bin/bash
# tests/integration/test_ingest.sh — `hpcrec ingest` on the real datasets (published counts and
# full content against an independent Python oracle) and on small hand-written inputs: every
# reject reason, keep-latest, bots, --on-error fail naming file:line (also inside the second
# byte range of a file cut with --split-bytes), rejects files, string / 64-bit IDs, ISO-8601
# times, quoted CSV, header detection, blank lines, directory trees, globs and several inputs.
# Expectations come from the dataset READMEs or are computed here from the raw text.
source "$(dirname "$0")/../lib.sh"
NP=2
# A failing run otherwise costs ~2 s of mpirun teardown (its SIGTERM -> SIGKILL grace); the
# ranks have already agreed on the error and rank 0 has printed it when they exit.
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-0}

# ---- helpers ---------------------------------------------------------------------------
# dump NP DATASET OUT: every interaction of DATASET as "user\titem\tvalue\tts", sorted (C locale).
dump() {
    local np=$1 ds=$2 out=$3
    rm -f "$out".part.*
    hr "$np" inspect "$ds" --dump "$out.part" >/dev/null || fail "inspect --dump $ds failed"
    cat "$out".part.*.tsv | LC_ALL=C sort >"$out"
    rm -f "$out".part.*
}
# rejects DATASET: every reject record (header lines dropped) as "source\tline\treason\tdetail\trow".
rejects() { cat "$1"/rejects/part-*.tsv 2>/dev/null | grep -v $'^source\tline\treason\t' || true; }
# same_file A B WHAT: byte-identical or fail with the first differences.
same_file() { cmp -s "$1" "$2" || fail "$3 differ: $(diff "$1" "$2" | head -8)"; }

# The oracle: what a dataset must contain, computed from the raw file without hpcrec.
#   oracle.py FILE SEP(tab|comma|space) HEADER(0|1) COLS JSON > expected-dump
# COLS: u,i,v,t,d,- (t = Unix seconds, d = YYYY-MM-DD).  Policy as documented in docs/ingest.md:
# per (user, item) the distinct (time, value) events; the largest (time, value) is kept, the
# other distinct ones are conflicts, repeated copies are duplicates.
cat >"$HR_TMP/oracle.py" <<'EOF'
import calendar, json, struct, sys
path, sep, header, cols, jout = sys.argv[1:6]
cols = cols.split(',')
f32 = lambda x: struct.unpack('f', struct.pack('f', x))[0]
ev, rows, vcount = {}, 0, {}
with open(path, newline='') as fh:
    for k, line in enumerate(fh):
        line = line.rstrip('\n').rstrip('\r')
        if (k == 0 and header == '1') or line == '':
            continue
        parts = line.split() if sep == 'space' else line.split('\t' if sep == 'tab' else ',')
        assert len(parts) == len(cols), (k, line)
        u = i = None; v = 1.0; t = 0
        for c, p in zip(cols, parts):
            if c == 'u': u = p
            elif c == 'i': i = p
            elif c == 'v': v = f32(float(p))
            elif c == 't': t = int(p)
            elif c == 'd':
                y, m, d = map(int, p.split('-')); t = calendar.timegm((y, m, d, 0, 0, 0))
        rows += 1
        vcount['%.9g' % v] = vcount.get('%.9g' % v, 0) + 1
        ev.setdefault((u, i), []).append((t, v))
dup = conf = 0
out = []
for (u, i), e in ev.items():
    s = set(e)
    dup += len(e) - len(s); conf += len(s) - 1
    t, v = max(s)
    out.append('%s\t%s\t%.9g\t%d' % (u, i, v, t))
sys.stdout.write('\n'.join(out) + '\n')
ts = [max(set(e))[0] for e in ev.values()]
json.dump({'rows': rows, 'duplicate': dup, 'conflict': conf, 'pairs': len(ev),
           'users': len({u for u, _ in ev}), 'items': len({i for _, i in ev}),
           'tmin': min(ts), 'tmax': max(ts), 'values': vcount}, open(jout, 'w'))
EOF
oracle() { python3 "$HR_TMP/oracle.py" "$@" | LC_ALL=C sort; }
ojson() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# manifest_get DATASET a.b: nested manifest value
manifest_get() { python3 -c 'import json,sys
v = json.load(open(sys.argv[1] + "/manifest.json"))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"; }
# check_counts JSON READ REJECTED USERS ITEMS
check_counts() {
    local j=$1
    assert_json "$j" rows_read "$2"
    assert_json "$j" rows_rejected "$3"
    local acc; acc=$(json_get "$j" rows_accepted)
    assert_eq "$((acc + $3))" "$2" "rows_accepted + rows_rejected == rows_read"
    assert_json "$j" users "$4"
    assert_json "$j" items "$5"
    # rejects files hold exactly one record per rejected row
    local n; n=$(rejects "$(json_get "$j" out)" | wc -l)
    assert_eq "$n" "$3" "reject records in rejects/part-*.tsv"
}

# ---- real datasets ------------------------------------------------------------------------
case_ml100k() {
    need_data ml-100k
    local f=$HR_DATA/ml-100k/u.data d=$HR_TMP/ml100k
    hr $NP ingest --input "$f" --out "$d" --json "$d.json" || fail "ingest"
    # README: 100,000 ratings, 943 users, 1,682 items, no duplicate pairs
    check_counts "$d.json" 100000 0 943 1682
    assert_json "$d.json" header_lines 0
    assert_eq "$(manifest_get "$d" time.min)" 874724710 "first timestamp (README)"
    assert_eq "$(manifest_get "$d" time.max)" 893286638 "last timestamp (README)"
    oracle "$f" tab 0 u,i,v,t "$d.oracle.json" >"$d.expect"
    dump $NP "$d" "$d.dump"
    same_file "$d.dump" "$d.expect" "ml-100k content vs raw u.data"
    # README rating histogram
    assert_eq "$(cut -f3 "$d.dump" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')" \
        "1:6110 2:11370 3:27145 4:34174 5:21201 " "rating histogram"
}

case_ml_latest_small() {   # header row, CRLF line endings, half-star values from 0.5
    need_data ml-latest-small
    local f=$HR_DATA/ml-latest-small/ratings.csv d=$HR_TMP/mls
    hr $NP ingest --input "$f" --out "$d" --value-range 0.5:5 --json "$d.json" || fail "ingest"
    check_counts "$d.json" 100836 0 610 9724
    assert_json "$d.json" header_lines 1
    assert_eq "$(manifest_get "$d" time.min)" 828124615 "first timestamp (README)"
    assert_eq "$(manifest_get "$d" time.max)" 1537799250 "last timestamp (README)"
    oracle "$f" comma 1 u,i,v,t "$d.oracle.json" >"$d.expect"
    dump $NP "$d" "$d.dump"
    same_file "$d.dump" "$d.expect" "ml-latest-small content vs raw ratings.csv"
    grep -q $'\r' "$d.dump" && fail "a CR survived into the dataset"
    assert_eq "$(cut -f3 "$d.dump" | sort -g | uniq -c | awk '{printf "%s:%s ", $2, $1}')" \
        "0.5:1370 1:2811 1.5:1791 2:7551 2.5:5550 3:20047 3.5:13136 4:26818 4.5:8551 5:13211 " "rating histogram (README)"
}

case_lastfm() {   # header row, CRLF, implicit play counts, no timestamps
    need_data hetrec2011-lastfm-2k
    local f=$HR_DATA/hetrec2011-lastfm-2k/user_artists.dat d=$HR_TMP/lfm
    hr $NP ingest --input "$f" --out "$d" --json "$d.json" || fail "ingest"
    check_counts "$d.json" 92834 0 1892 17632
    assert_json "$d.json" header_lines 1
    oracle "$f" tab 1 u,i,v "$d.oracle.json" >"$d.expect"
    dump $NP "$d" "$d.dump"
    same_file "$d.dump" "$d.expect" "Last.fm content vs raw user_artists.dat"
    assert_eq "$(awk -F'\t' '{s += $3} END {print s}' "$d.dump")" \
        "$(tr -d '\r' <"$f" | awk -F'\t' 'NR > 1 {s += $3} END {print s}')" "sum of play counts"
}

case_filmtrust() {   # 3 duplicate pairs for user 308: 1 exact copy, 2 conflicts (no timestamps)
    need_data filmtrust
    local f=$HR_DATA/filmtrust/ratings.txt d=$HR_TMP/ft
    hr $NP ingest --input "$f" --out "$d" --on-error skip --json "$d.json" || fail "ingest"
    check_counts "$d.json" 35497 3 1508 2071
    assert_json "$d.json" rejected_duplicate 1
    assert_json "$d.json" rejected_conflict 2
    # Each reject names a line of ratings.txt holding the pair it reports.
    local src line reason rest n=0
    while IFS=$'\t' read -r src line reason rest; do
        assert_eq "$src" "$f" "reject source"
        local raw; raw=$(sed -n "${line}p" "$f")
        case "$(echo "$raw" | awk '{print $1" "$2}'):$reason" in
            "308 12:duplicate" | "308 207:conflict" | "308 235:conflict") n=$((n + 1)) ;;
            *) fail "unexpected reject: line $line ($raw) as $reason" ;;
        esac
    done < <(rejects "$d")
    assert_eq "$n" 3 "reject records"
    dump $NP "$d" "$d.dump"
    # README: (308,207) rated 3.5 and 3; (308,235) 4 and 1.5; (308,12) 4 and 4 -> no time, so
    # keep-latest falls back to the larger value.
    grep -qx $'308\t207\t3.5\t0' "$d.dump" || fail "(308,207) should keep 3.5"
    grep -qx $'308\t235\t4\t0' "$d.dump" || fail "(308,235) should keep 4"
    assert_eq "$(grep -c $'^308\t12\t' "$d.dump")" 1 "(308,12) kept once"
    oracle "$f" space 0 u,i,v "$d.oracle.json" >"$d.expect"
    same_file "$d.dump" "$d.expect" "FilmTrust content vs raw ratings.txt"
}

case_ciaodvd() {   # 6 columns, dates, no final newline, 320 extra rows in 303 repeated pairs
    need_data ciaodvd
    local f=$HR_DATA/ciaodvd/movie-ratings.txt d=$HR_TMP/ciao
    [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ] || fail "premise: file should lack a final newline"
    hr $NP ingest --input "$f" --out "$d" --columns user,item,-,-,rating,timestamp --on-error skip \
        --json "$d.json" || fail "ingest"
    check_counts "$d.json" 72665 320 17615 16121
    oracle "$f" comma 0 u,i,-,-,v,d "$d.oracle.json" >"$d.expect"
    assert_eq "$(ojson "$d.oracle.json" pairs)" 72345 "oracle premise: 72665 - 320 pairs"
    assert_json "$d.json" rejected_duplicate "$(ojson "$d.oracle.json" duplicate)"
    assert_json "$d.json" rejected_conflict "$(ojson "$d.oracle.json" conflict)"
    assert_eq "$(manifest_get "$d" time.min)" 959731200 "2000-05-31 (README)"
    assert_eq "$(manifest_get "$d" time.max)" 1385596800 "2013-11-28 (README)"
    dump $NP "$d" "$d.dump"
    same_file "$d.dump" "$d.expect" "CiaoDVD content (keep-latest) vs raw movie-ratings.txt"
    # the last line (no newline after it) is in: its pair is present
    local last; last=$(tail -n 1 "$f" | awk -F, '{print $1"\t"$2"\t"}')
    grep -q "^$last" "$d.dump" || fail "pair of the unterminated last line missing"
}

# ---- every reject reason on a hand-written file ------------------------------------------
write_bad() {   # line numbers matter: see the expected list below
    printf '%s\n' \
        'u1,i1,4,1000' \
        'u1,i2,3,1001,extra' \
        'u1,i3,abc,1002' \
        'u1,i4,nan,1003' \
        '' \
        'u1,i5,-inf,1004' \
        'u1,i6,11,1005' \
        ',i7,3,1006' \
        'u2,,3,1007' \
        'u1,i1,4,1000' \
        'u2,i1,2,2000' \
        'u2,i1,5,1500' \
        'u1,i8,3,notatime' \
        $'u1,i9,3,-5\r' \
        $'\r' \
        'u3,i1,2,3000' \
        'u3,i1,4,3000' \
        'u4,i2,1,50' \
        'u4,i2,3,60' \
        'bot,a,1,1' 'bot,b,1,2' 'bot,c,1,3' 'bot,d,1,4' \
        'edge,a,1,1' 'edge,b,1,2' 'edge,c,1,3' 'edge,c,1,3' \
        'u5,i1,"3",7' \
        'u5,i2,"3,5",8' \
        'u5,i3,3,"7' \
        >"$1"
}
BAD_EXPECT='2 wrong_columns
3 unparsable
4 nonfinite
6 nonfinite
7 out_of_range
8 missing_id
9 missing_id
10 duplicate
12 conflict
13 unparsable
14 out_of_range
16 conflict
18 conflict
20 bot_user
21 bot_user
22 bot_user
23 bot_user
27 duplicate
29 unparsable
30 unparsable'

case_bad_rows_skip() {
    local f=$HR_TMP/bad.csv d=$HR_TMP/bad
    write_bad "$f"
    hr $NP ingest --input "$f" --out "$d" --on-error skip --value-range 0:10 --max-user-events 3 \
        --json "$d.json" || fail "ingest"
    local nbad; nbad=$(echo "$BAD_EXPECT" | wc -l)
    assert_json "$d.json" rows_read 28        # 30 lines, 2 blank
    assert_json "$d.json" blank_lines 2
    assert_json "$d.json" header_lines 0
    assert_json "$d.json" rows_rejected "$nbad"
    assert_json "$d.json" rows_accepted $((28 - nbad))
    for r in wrong_columns unparsable nonfinite out_of_range missing_id duplicate conflict bot_user; do
        assert_json "$d.json" "rejected_$r" "$(echo "$BAD_EXPECT" | grep -c " $r\$")"
    done
    # one record per rejected row, each naming the source file, its line and the reason
    rejects "$d" | awk -F'\t' -v src="$f" 'NF < 5 || $1 != src || $2 !~ /^[0-9]+$/ {print "bad record: " $0; bad = 1}
        END {exit bad}' || fail "malformed reject records"
    assert_eq "$(rejects "$d" | awk -F'\t' '{print $2, $3}' | sort -n)" "$BAD_EXPECT" "rejected (line, reason)"
    # kept rows: keep-latest keeps the later time (u2, u4) whatever the file order, a time tie
    # keeps the larger value (u3); "edge" has exactly --max-user-events distinct events.
    dump $NP "$d" "$d.dump"
    assert_eq "$(cat "$d.dump")" "$(printf '%s\n' $'edge\ta\t1\t1' $'edge\tb\t1\t2' $'edge\tc\t1\t3' \
        $'u1\ti1\t4\t1000' $'u2\ti1\t2\t2000' $'u3\ti1\t4\t3000' $'u4\ti2\t3\t60' $'u5\ti1\t3\t7' | LC_ALL=C sort)" "kept rows"
}

case_on_error_fail() {   # default mode: exit 3 naming file:line and the reason of the FIRST bad row
    local f=$HR_TMP/bad.csv
    write_bad "$f"
    expect_fail 3 "bad\.csv:2: wrong_columns" hr $NP ingest --input "$f" --out "$HR_TMP/badf"
    [ -f "$HR_TMP/badf/manifest.json" ] && fail "a failed ingest left a manifest"
    # drop lines until the first bad row is each kind in turn (line numbers shift accordingly)
    sed -n '3,$p' "$f" >"$HR_TMP/b3.csv"; sed -i '1i u0,i0,1,1' "$HR_TMP/b3.csv"   # bad row now line 2
    expect_fail 3 "b3\.csv:2: unparsable" hr $NP ingest --input "$HR_TMP/b3.csv" --out "$HR_TMP/badf"
    printf 'user,item,rating,timestamp\nu,i,1,1\n\n\nu,j,1,1\nu,k,inf,1\n' >"$HR_TMP/b4.csv"  # header + blanks count
    expect_fail 3 "b4\.csv:6: nonfinite" hr $NP ingest --input "$HR_TMP/b4.csv" --out "$HR_TMP/badf"
    printf 'u,i,1,1\nu,j,1,1\n,k,2,1\n' >"$HR_TMP/b5.csv"
    expect_fail 3 "b5\.csv:3: missing_id" hr 1 ingest --input "$HR_TMP/b5.csv" --out "$HR_TMP/badf"
    printf 'u,i,1,1\nu,j,-2,1\n' >"$HR_TMP/b6.csv"
    expect_fail 3 "b6\.csv:2: out_of_range" hr $NP ingest --input "$HR_TMP/b6.csv" --out "$HR_TMP/badf"
}

# A plain file of 131072 fixed-width lines (32 bytes each: 4 MiB).  With --split-bytes 65536 on
# 2 ranks it is read as 64 byte ranges of 2048 lines; lines 2049, 4097, ... start exactly on a
# range boundary.  big BAD_LINES...: write it with an unparsable row at each listed line.
big() {
    python3 - "$HR_TMP/big.csv" "$@" <<'EOF'
import sys
bad = set(int(x) for x in sys.argv[2:])
with open(sys.argv[1], 'w') as f:
    for k in range(1, 131073):
        if k in bad: f.write('u%06d,i%07d,x,%012d\n' % (k % 997, k, 1600000000))
        else: f.write('u%06d,i%07d,%d,%012d\n' % (k % 997, k, k % 5 + 1, 1600000000 + k))
EOF
    [ "$(stat -c %s "$HR_TMP/big.csv")" = 4194304 ] || fail "big.csv has the wrong size"
}
case_fail_line_in_byte_range() {
    local o=(ingest --input "$HR_TMP/big.csv" --out "$HR_TMP/bigd" --split-bytes 65536)
    big 3000
    expect_fail 3 "big\.csv:3000: unparsable" hr 2 "${o[@]}"
    big 2049 5000            # first line of the second range, on a boundary
    expect_fail 3 "big\.csv:2049: unparsable" hr 2 "${o[@]}"
    big 2048 2049 70000      # last line of the first range wins
    expect_fail 3 "big\.csv:2048: unparsable" hr 2 "${o[@]}"
    big 100001 131072        # far into the file; the last line too
    expect_fail 3 "big\.csv:100001: unparsable" hr 2 "${o[@]}"
    big 131072
    expect_fail 3 "big\.csv:131072: unparsable" hr 2 "${o[@]}"
}
case_skip_lines_in_byte_ranges() {   # variable-width lines: ranges cut lines anywhere
    local f=$HR_TMP/var.csv d=$HR_TMP/vard
    python3 - "$f" "$HR_TMP/var.expect" <<'EOF'
import random, sys
r = random.Random(4242)
n = 110000
bad = set(r.sample(range(1, n + 1), 300))
lines, off, starts = [], 0, []
for k in range(1, n + 1):
    pad = 'x' * r.randrange(0, 40)
    lines.append('u%d%s,i%d,%d,%d' % (r.randrange(3000), pad, r.randrange(5000), r.randrange(1, 6), 1500000000 + k))
    starts.append(off); off += len(lines[-1]) + 1
# also every line holding or following a multiple of 65536 (a range boundary in most cuts)
import bisect
for b in range(65536, off, 65536):
    j = bisect.bisect_right(starts, b) - 1      # 0-based line holding byte b
    bad.update({j + 1, j + 2})
bad = {b for b in bad if 1 <= b <= n}
for b in bad: lines[b - 1] = 'u1,i1,bad%d,5' % b
open(sys.argv[1], 'w').write('\n'.join(lines) + '\n')
open(sys.argv[2], 'w').write(''.join('%d unparsable\n' % b for b in sorted(bad)))
EOF
    for np in 2 3; do
        hr $np ingest --input "$f" --out "$d" --split-bytes 65536 --on-error skip --json "$d.json" || fail "ingest"
        assert_json "$d.json" rows_read 110000
        assert_json "$d.json" rejected_unparsable "$(wc -l <"$HR_TMP/var.expect")"
        rejects "$d" | awk -F'\t' '$3 == "unparsable" {print $2, $3}' | sort -n >"$d.got"
        same_file "$d.got" "$HR_TMP/var.expect" "rejected lines on $np ranks"
        # each record's row text is the file's line at that number
        rejects "$d" | awk -F'\t' '$3 == "unparsable" {print $2"\t"$5}' | sort -n | head -50 >"$d.rows"
        while IFS=$'\t' read -r line row; do
            assert_eq "$(sed -n "${line}p" "$f")" "$row" "row text of line $line"
        done <"$d.rows"
    done
}

# ---- IDs, times, quoting, headers, blank lines ---------------------------------------------
case_string_and_64bit_ids() {
    local f=$HR_TMP/ids.csv d=$HR_TMP/ids
    printf '%s\n' 'alice,9223372036854775807,1,10' 'bob,-9223372036854775808,2,20' 'carol,0,3,30' \
        'alice,-1,4,40' 'bob,9223372036854775807,5,50' >"$f"
    hr $NP ingest --input "$f" --out "$d" --json "$d.json" || fail "ingest"
    assert_eq "$(manifest_get "$d" user_ids)" string "user id kind"
    assert_eq "$(manifest_get "$d" item_ids)" integer "item id kind"
    check_counts "$d.json" 5 0 3 4
    dump $NP "$d" "$d.dump"
    assert_eq "$(cat "$d.dump")" "$(awk -F, '{print $1"\t"$2"\t"$3"\t"$4}' "$f" | LC_ALL=C sort)" "ids round trip"
    # "007" is not the integer 7: the item dictionary becomes a string one with both
    printf 'u,007,1,1\nu,7,2,1\nv,07,3,1\n' >"$f"
    hr $NP ingest --input "$f" --out "$d" --json "$d.json" || fail "ingest 007"
    assert_eq "$(manifest_get "$d" item_ids)" string "item id kind with 007"
    assert_json "$d.json" items 3
    dump $NP "$d" "$d.dump"
    assert_eq "$(cut -f2 "$d.dump" | LC_ALL=C sort | tr '\n' ' ')" "007 07 7 " "ids kept verbatim"
}

case_iso_timestamps() {
    local f=$HR_TMP/iso.csv d=$HR_TMP/iso
    printf '%s\n' 'u,a,1,2020-01-02' 'u,b,1,2020-01-02T03:04:05Z' 'u,c,1,2020-01-02 03:04:05' \
        'u,d,1,2020-01-02T03:04:05+02:00' 'u,e,1,2020-01-02T03:04:05.75-01:30' 'u,f,1,2020-01-02T03:04' \
        'u,g,1,1577934245' 'u,h,1,2000-02-29' >"$f"
    hr $NP ingest --input "$f" --out "$d" --json "$d.json" || fail "ingest"
    assert_json "$d.json" rows_accepted 8
    dump $NP "$d" "$d.dump"
    local want; want=$(python3 -c '
import calendar as c
g = lambda *a: c.timegm(a + (0,) * (6 - len(a)))
for k, t in zip("abcdefgh", [g(2020,1,2), g(2020,1,2,3,4,5), g(2020,1,2,3,4,5), g(2020,1,2,1,4,5),
                             g(2020,1,2,4,34,5), g(2020,1,2,3,4), 1577934245, g(2000,2,29)]):
    print("u\t%s\t1\t%d" % (k, t))')
    assert_eq "$(cat "$d.dump")" "$want" "ISO-8601 times as Unix seconds"
}

case_quoted_csv() {
    local f=$HR_TMP/q.csv d=$HR_TMP/q
    printf '%s\n' 'user,item,rating,timestamp' '"Smith, John",item1,4,100' '"a ""q"" b","x,y,z",2.5,200' \
        ' spaced , item2 ,1,300' '"Smith, John","x,y,z",3,400' >"$f"
    hr $NP ingest --input "$f" --out "$d" --json "$d.json" || fail "ingest"
    check_counts "$d.json" 4 0 3 3
    assert_json "$d.json" header_lines 1
    dump $NP "$d" "$d.dump"
    assert_eq "$(cat "$d.dump")" "$(printf '%s\n' $'Smith, John\titem1\t4\t100' $'a "q" b\tx,y,z\t2.5\t200' \
        $'spaced\titem2\t1\t300' $'Smith, John\tx,y,z\t3\t400' | LC_ALL=C sort)" "quoted fields"
}

case_header_detection() {
    local d=$HR_TMP/h
    printf 'userId,movieId,rating,timestamp\n1,10,4,100\n2,20,3,200\n3,30,2,300\n' >"$HR_TMP/h1.csv"
    printf '1,10,4,100\n2,20,3,200\n3,30,2,300\n' >"$HR_TMP/h0.csv"
    hr $NP ingest --input "$HR_TMP/h1.csv" --out "$d" --json "$d.json" || fail "ingest with header"
    assert_json "$d.json" header_lines 1; assert_json "$d.json" rows_read 3
    hr $NP ingest --input "$HR_TMP/h0.csv" --out "$d" --json "$d.json" || fail "ingest without header"
    assert_json "$d.json" header_lines 0; assert_json "$d.json" rows_read 3
    # a tab file with a header whose names do not parse as numbers
    printf 'userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n' >"$HR_TMP/h.tsv"
    hr $NP ingest --input "$HR_TMP/h.tsv" --out "$d" --json "$d.json" || fail "ingest tsv header"
    assert_json "$d.json" header_lines 1; assert_json "$d.json" rows_accepted 2
    # every file of a directory has its own header
    mkdir -p "$HR_TMP/hdir"; cp "$HR_TMP/h1.csv" "$HR_TMP/hdir/a.csv"; sed 's/^1,10/9,90/' "$HR_TMP/h1.csv" >"$HR_TMP/hdir/b.csv"
    hr $NP ingest --input "$HR_TMP/hdir" --out "$d" --json "$d.json" || fail "ingest dir"
    assert_json "$d.json" header_lines 2; assert_json "$d.json" rows_read 6
    # forced: --header no makes the header a bad row; --header yes drops a real first row
    hr $NP ingest --input "$HR_TMP/h1.csv" --header no --on-error skip --out "$d" --json "$d.json" || fail "--header no"
    assert_json "$d.json" rows_read 4; assert_json "$d.json" rejected_unparsable 1
    hr $NP ingest --input "$HR_TMP/h0.csv" --header yes --out "$d" --json "$d.json" || fail "--header yes"
    assert_json "$d.json" header_lines 1; assert_json "$d.json" rows_read 2
}

case_blank_lines() {
    local f=$HR_TMP/blank.csv d=$HR_TMP/blank
    printf '\n\nu,a,1,1\n\r\nu,b,2,2\n\n\n\nu,c,oops,3\nu,d,4,4\n\n' >"$f"
    local blanks; blanks=$(tr -d '\r' <"$f" | grep -c '^$')
    hr $NP ingest --input "$f" --out "$d" --on-error skip --json "$d.json" || fail "ingest"
    assert_json "$d.json" blank_lines "$blanks"
    assert_json "$d.json" rows_read 4
    assert_eq "$(rejects "$d" | cut -f2,3)" "$(printf '9\tunparsable')" "line number counts blank lines"
}

case_inputs_tree_glob_list() {
    local t=$HR_TMP/logs d=$HR_TMP/tree
    mkdir -p "$t/2024-01-01" "$t/2024-01-02" "$t/2024-01-03/hour=07" "$t/.staging"
    printf 'u1,i1,1,100\nu2,i2,2,200\n' >"$t/2024-01-01/part-00000.csv"
    printf 'u3,i1,3,300\n' >"$t/2024-01-02/part-00000.csv"
    printf 'u4,i4,4,400\nu1,i4,5,500\n' >"$t/2024-01-03/hour=07/part-00001.csv"
    # not data: hidden files and directories, markers, metadata (fail mode would trip on them)
    for junk in "$t/.hidden.csv" "$t/_SUCCESS" "$t/README.md" "$t/2024-01-01/_meta.json" \
        "$t/2024-01-01/part-00000.csv.crc" "$t/.staging/part-9.csv"; do echo 'not,a,row,here,at,all' >"$junk"; done
    printf '%s\n' $'u1\ti1\t1\t100' $'u1\ti4\t5\t500' $'u2\ti2\t2\t200' $'u3\ti1\t3\t300' $'u4\ti4\t4\t400' >"$d.want"
    hr $NP ingest --input "$t" --out "$d" --json "$d.json" || fail "directory input"
    assert_json "$d.json" input_files 3; assert_json "$d.json" rows_read 5
    dump $NP "$d" "$d.dump"; same_file "$d.dump" "$d.want" "directory tree content"
    hr $NP ingest --input "$t/2024-01-0*" --out "$d" --json "$d.json" || fail "glob of directories"
    assert_json "$d.json" input_files 3
    dump $NP "$d" "$d.dump"; same_file "$d.dump" "$d.want" "glob content"
    hr $NP ingest --input "$t/*/part-*.csv" --out "$d" --json "$d.json" || fail "glob of files"
    assert_json "$d.json" input_files 2; assert_json "$d.json" rows_read 3
    # several paths: repeated --input, several after one --input, the same file twice (read once)
    hr $NP ingest --input "$t/2024-01-01/part-00000.csv" "$t/2024-01-02/part-00000.csv" \
        --input "$t/2024-01-03" --input "$t/2024-01-01/part-00000.csv" --out "$d" --json "$d.json" || fail "list input"
    assert_json "$d.json" input_files 3; assert_json "$d.json" rows_read 5
    dump $NP "$d" "$d.dump"; same_file "$d.dump" "$d.want" "input list content"
    # lineage lists every input file once
    assert_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["lineage"]["inputs"]))' "$d/manifest.json")" 3 "lineage inputs"
    expect_fail 1 "no file matches" hr $NP ingest --input "$t/nothing-*.csv" --out "$d"
}

tcase ingest-real-ml-100k case_ml100k
tcase ingest-real-ml-latest-small case_ml_latest_small
tcase ingest-real-lastfm case_lastfm
tcase ingest-real-filmtrust case_filmtrust
tcase ingest-real-ciaodvd case_ciaodvd
tcase ingest-bad-rows-skip case_bad_rows_skip
tcase ingest-on-error-fail case_on_error_fail
tcase ingest-fail-line-in-byte-range case_fail_line_in_byte_range
tcase ingest-skip-lines-in-byte-ranges case_skip_lines_in_byte_ranges
tcase ingest-string-and-64bit-ids case_string_and_64bit_ids
tcase ingest-iso-timestamps case_iso_timestamps
tcase ingest-quoted-csv case_quoted_csv
tcase ingest-header-detection case_header_detection
tcase ingest-blank-lines case_blank_lines
tcase ingest-inputs-tree-glob-list case_inputs_tree_glob_list
[ "$_fails" = 0 ]
