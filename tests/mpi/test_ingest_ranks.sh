#!/bin/bash
# tests/mpi/test_ingest_ranks.sh — rank-count independence of ingest, dataset loading and split.
#   * generated dirty inputs (fixed seed; a 3.7 MB plain file cut into byte ranges, a file
#     without a final newline, a CRLF .gz) ingested on 1, 2, 3 and 4 ranks: identical content
#     (sorted `inspect --dump`), byte-identical dictionaries, identical JSON counts; the same
#     for MovieLens latest-small when $HR_DATA has it;
#   * a dataset written on 3 ranks loads on 2 and 4 ranks;
#   * reject records name the same rows on every rank count;
#   * split: train ∩ test = ∅ and train ∪ test = input for --before (Unix time, ISO date, pNN),
#     --last 2 and --random 0.2; per-mode properties and users/items_only_in_test checked
#     against values computed here from the dumps; --random with one seed is identical on 1 and
#     3 ranks.
source "$(dirname "$0")/../lib.sh"
# A failing run otherwise costs ~2 s of mpirun teardown (see tests/integration/test_ingest.sh).
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-0}
G=$HR_TMP/gen
mkdir -p "$G/in"

# dump NP DATASET OUT: every interaction ("user\titem\tvalue\tts"), sorted.
dump() {
    rm -f "$3".part.*
    hr "$1" inspect "$2" --dump "$3.part" >/dev/null || fail "inspect --dump $2 on $1 ranks failed"
    cat "$3".part.*.tsv | LC_ALL=C sort >"$3"
    rm -f "$3".part.*
}
counts() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(" ".join("%s=%s" % (k, d[k]) for k in sorted(d) if k.startswith(("rows_read", "rows_acc", "rows_rej", "rejected_"))
      or k in ("users", "items", "header_lines", "blank_lines", "bytes_read", "input_files", "interactions")))' "$1"; }
same_file() { cmp -s "$1" "$2" || fail "$3 differ: $(diff "$1" "$2" | head -6)"; }

# Inputs: good rows with ~2% dirt (bad columns, nan, negative, missing id, text value, blank
# lines, exact copies and conflicting re-ratings of earlier rows, also across files).
python3 - "$G/in" <<'EOF'
import gzip, random, sys
out = sys.argv[1]
r = random.Random(777)
hdr = 'user,item,rating,timestamp'
seen = []
def good():
    u, i = 'u%d' % r.randrange(2500), r.randrange(1800)
    v, t = r.randrange(1, 11) / 2, 1600000000 + r.randrange(10**8)
    if r.random() < 0.005:   # users and items that only appear after 2023-07
        u, i, t = 'late%d' % r.randrange(50), 5000 + r.randrange(40), 1690000000 + r.randrange(10**7)
    seen.append((u, i, v, t))
    return '%s,%d,%s,%d' % (u, i, v, t)
def dirty():
    k = r.randrange(9)
    if k == 0: return 'u1,2,3,4,5'
    if k == 1: return 'u%d,%d,nan,1600000000' % (r.randrange(2500), r.randrange(1800))
    if k == 2: return 'u%d,%d,-1,1600000000' % (r.randrange(2500), r.randrange(1800))
    if k == 3: return ',%d,3,1600000000' % r.randrange(1800)
    if k == 4: return 'u7,%d,three,1600000000' % r.randrange(1800)
    if k == 5: return ''
    u, i, v, t = r.choice(seen)
    if k in (6, 7): return '%s,%d,%s,%d' % (u, i, v, t)
    return '%s,%d,%s,%d' % (u, i, 5.5 - v, t + r.randrange(-10**6, 10**6))
def lines(n):
    return [hdr] + [dirty() if seen and r.random() < 0.02 else good() for _ in range(n)]
open(out + '/a.csv', 'w').write('\n'.join(lines(150000)) + '\n')
open(out + '/b.csv', 'w').write('\n'.join(lines(20000)))                                  # no final newline
with gzip.open(out + '/c.csv.gz', 'wt') as f: f.write('\r\n'.join(lines(20000)) + '\r\n')  # CRLF, compressed
EOF

case_ingest_ranks() {
    for np in 1 2 3 4; do
        hr $np ingest --input "$G/in" --out "$G/d$np" --split-bytes 65536 --on-error skip --json "$G/d$np.json" \
            || fail "ingest on $np ranks"
        dump $np "$G/d$np" "$G/d$np.dump"
    done
    [ "$(json_get "$G/d1.json" rows_rejected)" -gt 1000 ] || fail "premise: the input should be dirty"
    [ "$(json_get "$G/d1.json" rejected_duplicate)" -gt 100 ] || fail "premise: duplicates expected"
    assert_json "$G/d1.json" header_lines 3
    for np in 2 3 4; do
        same_file "$G/d$np.dump" "$G/d1.dump" "content on $np vs 1 ranks"
        for f in users.dict.zst items.dict.zst; do
            cmp -s "$G/d$np/$f" "$G/d1/$f" || fail "$f on $np ranks differs from 1 rank"
        done
        assert_eq "$(counts "$G/d$np.json")" "$(counts "$G/d1.json")" "summary counts on $np ranks"
        assert_eq "$(cat "$G/d$np"/rejects/part-*.tsv | grep -vc $'^source\t')" "$(json_get "$G/d$np.json" rows_rejected)" \
            "reject records on $np ranks"
    done
    # rows read = every non-blank, non-header line of the three files (computed with awk)
    local lines; lines=$( { cat "$G/in/a.csv" "$G/in/b.csv"; echo; gzip -dc "$G/in/c.csv.gz" | tr -d '\r'; } | awk 'NF' | grep -vc '^user,item')
    assert_json "$G/d1.json" rows_read "$lines"
}

case_ml_latest_small_ranks() {
    need_data ml-latest-small
    local f=$HR_DATA/ml-latest-small/ratings.csv
    for np in 1 2 3 4; do
        hr $np ingest --input "$f" --out "$G/m$np" --value-range 0.5:5 --split-bytes 65536 --json "$G/m$np.json" \
            || fail "ingest on $np ranks"
        assert_json "$G/m$np.json" rows_read 100836
        assert_json "$G/m$np.json" header_lines 1
        dump $np "$G/m$np" "$G/m$np.dump"
        [ "$np" = 1 ] && continue
        same_file "$G/m$np.dump" "$G/m1.dump" "ml-latest-small content on $np vs 1 ranks"
        for d in users.dict.zst items.dict.zst; do cmp -s "$G/m$np/$d" "$G/m1/$d" || fail "$d on $np ranks"; done
        assert_eq "$(counts "$G/m$np.json")" "$(counts "$G/m1.json")" "summary counts on $np ranks"
    done
    assert_eq "$(wc -l <"$G/m1.dump")" 100836 "interactions"
}

case_load_other_rank_counts() {   # written on 3 ranks (3 shards per side), read on 2 and 4
    [ -f "$G/d1.dump" ] || fail "needs ingest-ranks to have run"
    hr 3 ingest --input "$G/in" --out "$G/w3" --split-bytes 65536 --on-error skip >/dev/null || fail "ingest on 3 ranks"
    assert_eq "$(ls "$G/w3/by-user" | wc -l)" 3 "by-user shards"
    for np in 2 4; do
        dump $np "$G/w3" "$G/w3.$np.dump"
        same_file "$G/w3.$np.dump" "$G/d1.dump" "3-rank dataset read on $np ranks"
    done
    hr 4 inspect "$G/w3" >/dev/null || fail "inspect on 4 ranks"
}

# The split checker: properties of one split, computed from the dumps.
cat >"$HR_TMP/split_check.py" <<'EOF'
import json, math, sys
mode, arg, inp, tr, te, summ = sys.argv[1:7]
rd = lambda p: [l.rstrip('\n').split('\t') for l in open(p)]
I, A, B, S = rd(inp), rd(tr), rd(te), json.load(open(summ))
errs = []
def check(c, msg):
    if not c: errs.append(msg)
key = lambda r: '\t'.join(r)
ka, kb, ki = [key(r) for r in A], [key(r) for r in B], [key(r) for r in I]
check(not (set(ka) & set(kb)), 'train and test share %d events' % len(set(ka) & set(kb)))
check(sorted(ka + kb) == sorted(ki), 'train + test != input (%d + %d vs %d)' % (len(ka), len(kb), len(ki)))
check(S['train_interactions'] == len(A) and S['test_interactions'] == len(B), 'summary train/test counts')
ua, ub = {r[0] for r in A}, {r[0] for r in B}
ia, ib = {r[1] for r in A}, {r[1] for r in B}
check(S['users_only_in_test'] == len(ub - ua), 'users_only_in_test %s, computed %d' % (S['users_only_in_test'], len(ub - ua)))
check(S['items_only_in_test'] == len(ib - ia), 'items_only_in_test %s, computed %d' % (S['items_only_in_test'], len(ib - ia)))
ts = lambda rows: [int(r[3]) for r in rows]
per_user = {}
for r in I: per_user[r[0]] = per_user.get(r[0], 0) + 1
cnt = lambda rows: __import__('collections').Counter(r[0] for r in rows)
if mode == 'before':
    cut = int(arg)
    check(all(t < cut for t in ts(A)) and all(t >= cut for t in ts(B)), 'events on the wrong side of %d' % cut)
elif mode == 'pct':
    q, allts = float(arg) / 100, sorted(ts(I))
    T = allts[max(1, math.ceil(q * len(allts))) - 1]
    check(len(A) == sum(1 for t in allts if t <= T), 'train should be the %d events at or before p%s = %d' % (sum(1 for t in allts if t <= T), arg, T))
    check(all(t <= T for t in ts(A)) and all(t > T for t in ts(B)), 'events on the wrong side of p%s = %d' % (arg, T))
elif mode in ('last', 'random'):
    k = int(arg) if mode == 'last' else None
    cb = cnt(B)
    for u, n in per_user.items():
        want = min(k, n - 1) if mode == 'last' else (min(math.floor(float(arg) * n + 0.5), n - 1) if n >= 2 else 0)
        if cb.get(u, 0) != want: errs.append('user %s: %d of %d events in test, expected %d' % (u, cb.get(u, 0), n, want)); break
    if mode == 'last':
        first_test, last_train = {}, {}
        for r in B: first_test[r[0]] = min(first_test.get(r[0], 1 << 62), int(r[3]))
        for r in A: last_train[r[0]] = max(last_train.get(r[0], -1), int(r[3]))
        bad = [u for u in first_test if last_train.get(u, -1) > first_test[u]]
        check(not bad, '%d users have a train event later than a test event' % len(bad))
print('\n'.join(errs)); sys.exit(1 if errs else 0)
EOF
# dict_ids FILE: md5 of a dictionary file's ids (docs/formats.md: header, ids, then n u64 counts).
dict_ids() { command -v zstd >/dev/null || { echo "no zstd tool"; return; }
    zstd -dc "$1" | python3 -c 'import hashlib, struct, sys
b = sys.stdin.buffer.read(); n = struct.unpack_from("<Q", b, 16)[0]
print(hashlib.md5(b[:len(b) - 8 * n]).hexdigest())'; }
# split_and_check NP MODE ARG SPLIT-ARGS...: split the 3-rank dataset on NP ranks and check it.
split_and_check() {
    local np=$1 mode=$2 arg=$3; shift 3
    local o=$G/sp.$np.$mode
    hr "$np" split --data "$G/w3" --train "$o.tr" --test "$o.te" "$@" --json "$o.json" || fail "split $* on $np ranks"
    dump "$np" "$o.tr" "$o.tr.dump"
    dump "$np" "$o.te" "$o.te.dump"
    python3 "$HR_TMP/split_check.py" "$mode" "$arg" "$G/d1.dump" "$o.tr.dump" "$o.te.dump" "$o.json" \
        || fail "split $* on $np ranks"
    # both sides keep the input's dictionaries (the ids; the per-id counts differ)
    local side f
    for side in tr te; do for f in users items; do
        assert_eq "$(dict_ids "$o.$side/$f.dict.zst")" "$(dict_ids "$G/w3/$f.dict.zst")" "$f dictionary of the $side side"
    done; done
}
case_split_before() {
    [ -f "$G/w3/manifest.json" ] || fail "needs the 3-rank dataset"
    split_and_check 2 before 1650000000 --before 1650000000
    split_and_check 4 before "$(python3 -c 'import calendar; print(calendar.timegm((2022, 1, 1, 0, 0, 0)))')" --before 2022-01-01
    [ "$(json_get "$G/sp.4.before.json" users_only_in_test)" -ge 50 ] || fail "premise: the 50 late users are only in test"
    [ "$(json_get "$G/sp.4.before.json" items_only_in_test)" -ge 40 ] || fail "premise: the 40 late items are only in test"
}
case_split_percentile() {
    [ -f "$G/w3/manifest.json" ] || fail "needs the 3-rank dataset"
    split_and_check 3 pct 37.5 --before p37.5
}
case_split_last() {
    [ -f "$G/w3/manifest.json" ] || fail "needs the 3-rank dataset"
    split_and_check 4 last 2 --last 2
}
case_split_random() {
    [ -f "$G/w3/manifest.json" ] || fail "needs the 3-rank dataset"
    split_and_check 1 random 0.2 --random 0.2 --seed 11
    cp "$G/sp.1.random.tr.dump" "$G/r1.tr"; cp "$G/sp.1.random.te.dump" "$G/r1.te"
    split_and_check 3 random 0.2 --random 0.2 --seed 11
    same_file "$G/sp.3.random.te.dump" "$G/r1.te" "--random test side on 3 vs 1 ranks"
    same_file "$G/sp.3.random.tr.dump" "$G/r1.tr" "--random train side on 3 vs 1 ranks"
    hr 3 split --data "$G/w3" --train "$G/s12.tr" --test "$G/s12.te" --random 0.2 --seed 12 >/dev/null || fail "split --seed 12"
    dump 3 "$G/s12.te" "$G/s12.te.dump"
    cmp -s "$G/s12.te.dump" "$G/r1.te" && fail "another seed gave the same split"
    return 0
}
# Reject records name the same rows whatever the rank count.  An exact copy: the LATER row is
# reported ("exact copy of an earlier event").  Lines 3000 and 5000 of a file cut into 2048-line
# ranges lie in the 2nd and 3rd range, which different ranks read.
case_rejects_rank_independent() {
    local f=$G/dup.csv
    python3 - "$f" <<'EOF'
import sys
row = lambda k: 'u%06d,i%07d,%d,%012d\n' % (k % 997, k, k % 5 + 1, 1600000000 + k)
with open(sys.argv[1], 'w') as f:
    for k in range(1, 131073): f.write(row(3000 if k == 5000 else k))
EOF
    [ "$(sed -n 5000p "$f")" = "$(sed -n 3000p "$f")" ] || fail "premise: lines 3000 and 5000 are equal"
    for np in 1 2; do
        hr $np ingest --input "$f" --out "$G/dup$np" --split-bytes 65536 --on-error skip --json "$G/dup$np.json" || fail "ingest"
        assert_json "$G/dup$np.json" rejected_duplicate 1
        assert_eq "$(cat "$G/dup$np"/rejects/part-*.tsv | grep -v $'^source\t' | cut -f2,3)" "$(printf '5000\tduplicate')" \
            "duplicate reported on $np ranks"
    done
    # and the whole reject list of the dirty inputs is the same on every rank count
    for np in 2 3 4; do
        [ -d "$G/d$np" ] || fail "needs ingest-ranks"
        assert_eq "$(cat "$G/d$np"/rejects/*.tsv | grep -v $'^source\t' | cut -f1-3 | LC_ALL=C sort | md5sum)" \
            "$(cat "$G/d1"/rejects/*.tsv | grep -v $'^source\t' | cut -f1-3 | LC_ALL=C sort | md5sum)" "reject records on $np vs 1 ranks"
    done
}

tcase ranks-ingest-1-2-3-4 case_ingest_ranks
tcase ranks-ml-latest-small-1-2-3-4 case_ml_latest_small_ranks
tcase ranks-load-3-on-2-4 case_load_other_rank_counts
tcase ranks-split-before case_split_before
tcase ranks-split-percentile case_split_percentile
tcase ranks-split-last case_split_last
tcase ranks-split-random-seeded case_split_random
tcase ranks-rejects-rank-independent case_rejects_rank_independent
[ "$_fails" = 0 ]
