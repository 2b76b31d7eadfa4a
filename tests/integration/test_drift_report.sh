#!/bin/bash
# tests/integration/test_drift_report.sh — `hpcrec drift`, `train --history`, `hpcrec report`
# and the nightly job's drift gate and reports (docs/evaluation.md, "Drift", "Report").
#   drift-self     a dataset, its profile.json, a model and its recommendations against
#                  themselves: every shift (PSI, JSD, changes, new/lost) 0, every overlap
#                  (Jaccard@N, RBO, neighbours) 1; a dataset against a model is refused (exit 2)
#   drift-ranks    two different days (datasets with recommendations, then models with their
#                  neighbours) on 1, 2, 3 and 4 ranks: the same summary, key by key
#   history        train --history: one JSON line per iteration with loss and seconds; the
#                  --json summary stays flat
#   nightly-report nightly.sbatch without Slurm (mpirun) over three days: days 1 and 2
#                  published with profile.json, drift.json, history.jsonl and report.html, day 3
#                  refused by DRIFT_MAX_PSI (exit 76, REFUSED says drift); rollback.sh blocks
#                  day 2 and rewrites MODEL_ROOT/report.html; `hpcrec report` over the root (on 2
#                  ranks) shows the refused and the rolled-back day.
#                  Debian's chromium (headless) loads the page from file:// with no console
#                  message, the screenshot is not blank, and the rendered DOM holds one loss point
#                  per training iteration and one bar per ingest reject reason (skipped with the
#                  reason when chromium is missing or cannot start)
source "$(dirname "$0")/../lib.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
W=$HR_TMP/dr
SKIP_KEYS='seconds|ranks|peak_|minor_faults|system_seconds|user_seconds|base$|new$'

fixture() {
    [ -f "$W/ok" ] && return 0
    mkdir -p "$W"
    hrt 2 gen --out "$W/g" --users 300 --items 200 --interactions 6000 --days 2 --seed 3 >/dev/null || fail gen
    local d1 d2
    d1=$(ls "$W/g" | grep -E '^[0-9]{4}-' | head -n 1); d2=$(ls "$W/g" | grep -E '^[0-9]{4}-' | tail -n 1)
    hrt 2 ingest --input "$W/g/$d1" --out "$W/d1" >/dev/null || fail ingest
    hrt 2 ingest --input "$W/g/$d1" "$W/g/$d2" --out "$W/d2" >/dev/null || fail ingest
    hrt 2 train --data "$W/d1" --out "$W/m1.tar" --algo als --factors 8 --iters 3 >/dev/null || fail train
    hrt 2 train --data "$W/d2" --out "$W/m2.tar" --algo als --factors 8 --iters 4 --history "$W/h.jsonl" --json "$W/t.json" \
        >/dev/null || fail train
    hrt 2 recommend --model "$W/m1.tar" --data "$W/d1" --out "$W/r1" --top 10 >/dev/null || fail recommend
    hrt 2 recommend --model "$W/m2.tar" --data "$W/d2" --out "$W/r2" --top 10 >/dev/null || fail recommend
    touch "$W/ok"
}

case_drift_self() {
    fixture
    hrt 2 drift --base "$W/d2" --new "$W/d2" --recs-base "$W/r2" --recs-new "$W/r2" --write-profile "$W/p2.json" \
        --json "$W/self.json" >"$W/self.out" || fail "drift: $(cat "$W/self.out")"
    grep -q "recs.jaccard@10" "$W/self.out" || fail "no table: $(cat "$W/self.out")"
    jtrue 'all(v == 0 for k, v in a.items() if k.endswith((".psi", ".jsd", ".change", ".new", ".lost")))' "$W/self.json"
    jtrue 'len([k for k in a if k.endswith((".psi", ".jsd"))]) == 6 and a["users.new"] == 0 and a["items.lost"] == 0' "$W/self.json"
    jtrue 'a["recs.jaccard@10"] == 1 and a["recs.rbo"] == 1 and a["recs.users_both"] == a["new.users"] and a["recs.users_only_new"] == 0' "$W/self.json"
    # the profile stands for its dataset: the same data keys
    hrt 1 drift --base "$W/p2.json" --new "$W/d2" --json "$W/selfp.json" >/dev/null || fail "drift with a profile"
    jtrue 'all(a[k] == b[k] for k in b if k.endswith((".psi", ".jsd", ".change")) or k.startswith(("base.", "new.")))' "$W/self.json" "$W/selfp.json"
    hrt 2 drift --base "$W/m2.tar" --new "$W/m2.tar" --neighbours 5 --json "$W/selfm.json" >/dev/null || fail "drift of a model"
    jtrue 'a["neighbours.jaccard@5"] == 1 and a["neighbours.items_both"] == a["new.items"] and a["users.lost"] == 0' "$W/selfm.json"
    expect_fail 2 "compare like with like" hrt 1 drift --base "$W/d1" --new "$W/m2.tar" --json "$W/x.json"
}

case_drift_ranks() {
    fixture
    local np
    for np in 1 2 3 4; do
        hrt $np drift --base "$W/d1" --new "$W/d2" --recs-base "$W/r1" --recs-new "$W/r2" --json "$W/dd$np.json" >/dev/null ||
            fail "data drift on $np ranks"
        hrt $np drift --base "$W/m1.tar" --new "$W/m2.tar" --neighbours 5 --json "$W/dm$np.json" >/dev/null ||
            fail "model drift on $np ranks"
    done
    jtrue 'a["popularity.psi"] > 0 and 0 < a["recs.jaccard"] < 1 and a["users.new"] > 0 and a["new.recs.popularity_bias"] > 0' "$W/dd1.json"
    jtrue '0 < a["neighbours.jaccard@5"] < 1' "$W/dm1.json"
    for np in 2 3 4; do
        for k in dd dm; do
            python3 - "$W/${k}1.json" "$W/$k$np.json" "$SKIP_KEYS" <<'PY' || fail "$k: $np ranks differ from 1"
import json, re, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
skip = re.compile(sys.argv[3])
bad = [(k, a.get(k), b.get(k)) for k in set(a) | set(b) if not skip.search(k) and a.get(k) != b.get(k)]
if bad: print(bad); sys.exit(1)
PY
        done
    done
}

case_history() {
    fixture
    assert_eq "$(wc -l <"$W/h.jsonl")" 4 "history lines"
    python3 - "$W/h.jsonl" <<'PY' || fail "history lines"
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
assert [l["iteration"] for l in ls] == [1, 2, 3, 4], ls
assert all(l["loss"] > 0 and l["seconds"] > 0 and l["restored"] is False for l in ls), ls
PY
    jtrue 'all(not isinstance(v, (dict, list)) for v in a.values()) and a["iterations"] == 4' "$W/t.json"
}

# ---- the nightly job and the report in a browser ---------------------------------------------------
case_nightly_report() {
    local R=$HR_TMP/site D1=2026-03-01 D2=2026-03-02 D3=2026-03-03 c rc
    mkdir -p "$R"
    chmod 755 "$R"
    c=$R/site.conf
    hrt 2 gen --out "$R/logs" --users 400 --items 150 --interactions 12000 --kind counts --days 3 --start $D1 --dirty 0.02 --bots 0 \
        --seed 8 >/dev/null || fail gen
    {
        printf 'HPCREC_BIN="%s"\nDATA_ROOT="%s/logs"\nMODEL_ROOT="%s/models"\nWORK_ROOT="%s/work"\n' "$HR_BIN" "$R" "$R" "$R"
        echo "NODES=1"; echo "RANKS_PER_NODE=2"; echo "LAUNCHER=mpirun"; echo "MPIRUN_ARGS=--oversubscribe --bind-to none"
        echo "FACTORS=8"; echo "ITERS=3"; echo "RECOMMEND_TOP=10"; echo "SIMILAR=no"; echo "INGEST_ARGS=--on-error skip"
        echo "GATE_TOLERANCE=1"; echo "CLEAN_WORK=yes"
    } >"$c"
    chmod 644 "$c"
    bash "$HR_ROOT/slurm/nightly.sbatch" --day $D1 --config "$c" >"$R/n1.out" 2>&1 || fail "day 1: $(tail -n 20 "$R/n1.out")"
    bash "$HR_ROOT/slurm/nightly.sbatch" --day $D2 --config "$c" >"$R/n2.out" 2>&1 || fail "day 2: $(tail -n 20 "$R/n2.out")"
    local m=$R/models
    for f in profile.json drift.json drift-model.json history.jsonl report.html; do
        [ -s "$m/$D2/$f" ] || fail "day 2 has no $f: $(ls "$m/$D2")"
    done
    grep -q " report.html$" "$m/$D2/MANIFEST" || fail "report.html is not in the day's MANIFEST"
    [ ! -e "$m/$D1/drift-model.json" ] || fail "day 1 compared its model with nothing"
    jtrue '"recs.jaccard" in a and "popularity.psi" in a and "neighbours.jaccard" in b' "$m/$D2/drift.json" "$m/$D2/drift-model.json"
    [ -s "$m/report.html" ] || fail "no MODEL_ROOT/report.html"
    # day 3 past a tiny popularity PSI limit: refused by drift, nothing published
    rc=0
    bash "$HR_ROOT/slurm/nightly.sbatch" --day $D3 --config "$c" --set DRIFT_MAX_PSI=0.0000001 >"$R/n3.out" 2>&1 || rc=$?
    assert_eq "$rc" 76 "day 3 exit ($(tail -n 5 "$R/n3.out"))"
    [ ! -e "$m/$D3" ] || fail "day 3 was published"
    assert_json "$R/work/$D3/REFUSED" refused_by drift
    grep -q "refuse $D3 .*drift: item popularity PSI" "$m/publish.log" || fail "publish.log: $(cat "$m/publish.log")"
    "$HR_ROOT/slurm/rollback.sh" --config "$c" >"$R/rb.out" 2>&1 || fail "rollback: $(cat "$R/rb.out")"
    # rollback.sh rewrote MODEL_ROOT/report.html for the new current
    grep -q "<tr class=\"rolledback\"><td>$D2</td>" "$m/report.html" || fail "rollback.sh did not rewrite report.html"
    hrt 2 report --root "$m" --out "$m/report.html" --json "$R/report.json" >/dev/null || fail report
    jtrue 'a["day"] == "'$D1'" and a["days_refused"] == 1 and a["days_rolled_back"] == 1 and a["days_published"] == 2' "$R/report.json"
    ! grep -qiE '<script|src="http|href="http|@import|url\(' "$m/report.html" || fail "the page loads something"
    # the browser
    command -v chromium >/dev/null || { echo "chromium is not installed (tests/deps.sh installs it)"; exit 77; }
    local dom=$R/dom.html png=$R/shot.png log=$R/chromium.log
    timeout 120 chromium --headless=new --no-sandbox --disable-gpu --no-first-run --enable-logging=stderr --v=0 \
        --window-size=1200,4000 --screenshot="$png" --dump-dom "file://$m/report.html" >"$dom" 2>"$log" || true
    if [ ! -s "$dom" ]; then echo "chromium cannot run here: $(grep -v dbus "$log" | tail -n 2)"; exit 77; fi
    ! grep -E 'CONSOLE|Uncaught|Refused to' "$log" || fail "console messages while loading the page"
    local iters reasons
    iters=$(wc -l <"$m/$D1/history.jsonl")
    assert_eq "$(grep -o 'class="pt-loss"' "$dom" | wc -l)" "$iters" "loss points in the DOM"
    reasons=$(python3 -c 'import json,sys; print(sum(1 for k in json.load(open(sys.argv[1])) if k.startswith("rejected_")))' "$m/$D1/ingest.json")
    [ "$reasons" -gt 0 ] || fail "day 1 ingest has no reject reasons (gen --dirty)"
    assert_eq "$(grep -o 'class="bar-reject"' "$dom" | wc -l)" "$reasons" "reject bars in the DOM"
    grep -q "<tr class=\"refused\"><td>$D3</td>" "$dom" || fail "the refused day is not shown"
    grep -q "<tr class=\"rolledback\"><td>$D2</td>" "$dom" || fail "the rolled-back day is not shown"
    grep -q "<tr class=\"current\"><td>$D1</td>" "$dom" || fail "current is not day 1"
    # not blank: the decoded screenshot has many distinct pixel values
    /usr/bin/python3 - "$png" <<'PY' || fail "blank screenshot"
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
p, idat = 8, b""
while p < len(d):
    n, t = struct.unpack(">I4s", d[p:p + 8])
    if t == b"IDAT": idat += d[p + 8:p + 8 + n]
    p += 12 + n
raw = zlib.decompress(idat)
assert len(set(raw[::7])) > 50, "only %d distinct byte values" % len(set(raw[::7]))
PY
}

tcase drift-self case_drift_self
tcase drift-ranks case_drift_ranks
tcase history case_history
tcase nightly-report case_nightly_report
[ "$_fails" = 0 ]
