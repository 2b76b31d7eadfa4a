#!/bin/bash
# tests/integration/test_ease.sh — the dense models on ScaLAPACK: `train --algo ease` (item-item
# model kind) and `train --algo svd` (PureSVD factor model with fold-in), `--init svd`.
#   reference  tests/tools/dense_check: G, P = (G + lambda I)^-1 and B assembled / factorised /
#              inverted on grids 1x1, 1x2, 1x3, 2x2, 4x1 (many assembly rounds) against LAPACK on
#              one rank (1e-6); lambda 0 with an empty item fails; the randomized SVD against
#              dgesdd on 1 and 3 ranks
#   ranks      ease trained on 1, 2, 3, 4 ranks and with another block size: the same B (1e-6);
#              recommend with them: the same lists; every list against brute force (rec_oracle)
#   top-M      --ease-topm: sparse blocks (at most M per column), smaller model, brute-force lists;
#              its recall next to the dense model's is printed
#   similar    similar of an ease model = the largest weights of B's columns (checked in Python)
#   bundle     the model written by 4 ranks together (format 2): rank 0 no heavier than the
#              others, inspect verifies it, the same bytes as the single-process writer
#   quality    MovieLens 100K u1: ease, svd, ials and popularity side by side (recall@10/20,
#              ndcg@10, printed as a table): ease >= ials on recall@20, svd > popularity
#   fold-in    an svd model scores a user it does not know from the user's row (x V) V^T, on 1 and
#              3 ranks, checked by brute force
#   errors     lambda 0 with an item without training interactions (not positive definite, names
#              the item), an empty training set, a catalogue too large for the Slurm allocation
#              and for MemAvailable (refused before allocating, exit 4), bad options (exit 2)
#   signals    a stop after each phase (test hook) and a real SIGUSR1: exit 75, no model; the rerun
#              with --resume gives the uninterrupted model bit for bit
#   init svd   als and ials --init svd train; the loss per iteration against random starts is
#              printed ("# init-svd" lines)
source "$(dirname "$0")/../lib.sh"
NP=2
TO=${HR_TIMEOUT:-60}
W=$HR_TMP/ease
TOOLS=$HR_ROOT/${HR_BUILD:-build}/tools
mkdir -p "$W"
# tool NP BINARY args...: a tests/tools program under mpirun, bounded like hrt
tool() { local np=$1; shift; timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np "$np" "$@"; }

# small: generated counts, 700 users x 300 items, split 80/20; its train rows as SEEN lines.
small() {
    [ -f "$W/small.ok" ] && return 0
    hrt $NP gen --out "$W/raw" --users 700 --items 300 --interactions 20000 --kind counts --factors 4 --seed 9 >/dev/null \
        || fail "gen"
    hrt $NP ingest --input "$W/raw" --out "$W/all" >/dev/null || fail "ingest"
    hrt $NP split --data "$W/all" --train "$W/tr" --test "$W/te" --random 0.2 --seed 1 >/dev/null || fail "split"
    hrt 1 inspect "$W/tr" --dump "$W/tr-dump" >/dev/null || fail "inspect --dump"
    touch "$W/small.ok"
}
# seen FILE: user<TAB>item<TAB>value lines of the dumped train set
seen() { zstdcat -f "$W"/tr-dump* 2>/dev/null | awk -F'\t' 'NF >= 3 && $1 != "user" {print $1 "\t" $2 "\t" $3}' > "$1"; }
lines() { zstdcat "$1"/part-*.tsv.zst | grep -v $'^user\t' | grep -v $'^item\t' | LC_ALL=C sort; }
recs_text() { zstdcat "$1"/part-*.tsv.zst | awk 'NR == 1 || $1 != "user"' > "$2"; }

case_lapack_reference() {
    # one launch per rank count: 1x1, 1x2, 1x3, 2x2 and 4x1 grids, binary and value weights,
    # lambda 0 with an empty item, the randomized SVD; the 4-rank run in many assembly rounds
    local np checks
    for np in 1 2 3 4; do
        case $np in
            1) checks="ease:300:200:1:16:0:0:5:value svd:80:150:6:3:6" ;;
            2) checks="ease:300:200:2:16:0:0:5:binary ease:300:200:5:16:2:1:0:binary:7" ;;
            3) checks="ease:257:150:3:8:0:0:2:value ease:300:200:6:16:0:0:0:value:150 svd:80:150:6:3:6 svd:90:130:8:4:5" ;;
            4) checks="ease:300:200:4:32:0:0:5:binary ease:300:200:7:16:4:1:5:binary" ;;
        esac
        HR_EASE_ROUND_WORDS=$([ $np = 4 ] && echo 2000 || echo 0) tool $np -x HR_EASE_ROUND_WORDS "$TOOLS/dense_check" $checks \
            > "$W/dc.log" 2>&1 || { cat "$W/dc.log"; fail "dense_check on $np ranks"; }
        grep -v '^\[' "$W/dc.log"
        [ "$(grep -c PASSED "$W/dc.log")" = "$(echo $checks | wc -w)" ] || fail "dense_check on $np ranks: not every check passed"
    done
    grep -Eq 'grid=4x1 .*assembly rounds ([2-9]|[1-9][0-9]+)\)' "$W/dc.log" || fail "expected several assembly rounds on 4x1"
}

case_ranks() {
    small
    local np
    for np in 1 2 3 4; do   # 3 ranks also with another ScaLAPACK block size
        hrt $np train --data "$W/tr" --out "$W/e$np.tar" --algo ease --json "$W/e$np.json" $([ $np = 3 ] && echo --block-size 8) \
            >/dev/null || fail "ease on $np ranks"
        hrt $np recommend --model "$W/e$np.tar" --data "$W/tr" --out "$W/r$np" --top 15 >/dev/null || fail "recommend ($np)"
    done
    jtrue 'a["grid_rows"] == 1 and a["grid_cols"] == 1 and b["grid_rows"] == 2 and b["grid_cols"] == 2' "$W/e1.json" "$W/e4.json"
    jtrue 'c["grid_rows"] * c["grid_cols"] == 3 and a["lambda"] == c["lambda"] > 0' "$W/e1.json" "$W/e4.json" "$W/e3.json"
    jtrue 'all(isnum(a[k]) and a[k] >= 0 for k in ("assembly_seconds", "assembly_gflops", "factorization_seconds",
           "factorization_gflops", "inversion_seconds", "inversion_gflops")) and a["algo"] == "ease"' "$W/e4.json"
    jtrue 'a["block_size"] == 8' "$W/e3.json"
    for np in 2 3 4; do
        "$TOOLS/model_diff" "$W/e1.tar" "$W/e$np.tar" --rtol 1e-6 || fail "B on $np ranks differs from 1 rank"
    done
    for np in 2 3 4; do
        [ "$(lines "$W/r$np" | md5sum)" = "$(lines "$W/r1" | md5sum)" ] || fail "recommendations on $np ranks differ"
    done
    seen "$W/seen.tsv"
    [ -s "$W/seen.tsv" ] || fail "no dumped training rows"
    for np in 1 3; do
        recs_text "$W/r$np" "$W/r.tsv"
        "$TOOLS/rec_oracle" "$W/e$np.tar" "$W/seen.tsv" "$W/r.tsv" 15 || fail "ease lists on $np ranks vs brute force"
    done
    # the bundle: item-item kind, B in column blocks of the documented width
    python3 - "$W/e1.tar" <<'EOF' || fail "ease bundle layout"
import json, tarfile, sys
t = tarfile.open(sys.argv[1])
man = json.load(t.extractfile("manifest.json"))
assert man["kind"] == "itemitem" and man["algo"] == "ease" and man["k"] == 0 and man["row_weight"] == "binary", man
ii = man["item_item"]
assert ii["top_m"] == 0 and ii["blocks"] == -(-man["items"] // ii["columns_per_block"]), ii
assert sorted(m for m in man["members"] if m.startswith("item_item.")) == ["item_item.%06d" % c for c in range(ii["blocks"])]
EOF
}

case_topm() {
    small
    [ -f "$W/e2.tar" ] || hrt 2 train --data "$W/tr" --out "$W/e2.tar" --algo ease >/dev/null || fail "ease"
    hrt 2 train --data "$W/tr" --out "$W/t20.tar" --algo ease --ease-topm 20 --json "$W/t20.json" >/dev/null || fail "ease --ease-topm 20"
    jtrue 'a["ease_topm"] == 20 and 0 < a["ease_weights_stored"] <= 20 * a["items"]' "$W/t20.json"
    local dense sparse
    dense=$(stat -c %s "$W/e2.tar"); sparse=$(stat -c %s "$W/t20.tar")
    [ "$sparse" -lt "$dense" ] || fail "top-20 model ($sparse bytes) not smaller than dense ($dense)"
    ! "$TOOLS/model_diff" "$W/e2.tar" "$W/t20.tar" >/dev/null 2>&1 || fail "top-M model equals the dense one"
    hrt 3 recommend --model "$W/t20.tar" --data "$W/tr" --out "$W/rt" --top 10 >/dev/null || fail "recommend top-M"
    seen "$W/seen.tsv"
    recs_text "$W/rt" "$W/rt.tsv"
    "$TOOLS/rec_oracle" "$W/t20.tar" "$W/seen.tsv" "$W/rt.tsv" 10 || fail "top-M lists vs brute force"
    hrt 2 evaluate --model "$W/e2.tar" --train "$W/tr" --test "$W/te" --k 10,20 --json "$W/ed.json" >/dev/null || fail "evaluate dense"
    hrt 2 evaluate --model "$W/t20.tar" --train "$W/tr" --test "$W/te" --k 10,20 --json "$W/et.json" >/dev/null || fail "evaluate top-M"
    python3 -c "import json,sys; a,b=json.load(open(sys.argv[1])),json.load(open(sys.argv[2])); print('# ease-topm: dense %d bytes recall@20 %.4f; top-20 %d bytes recall@20 %.4f' % (int(sys.argv[3]), a['recall@20'], int(sys.argv[4]), b['recall@20']))" \
        "$W/ed.json" "$W/et.json" "$dense" "$sparse"
    jtrue 'b["recall@20"] > 0 and b["users_evaluated"] == a["users_evaluated"]' "$W/ed.json" "$W/et.json"
}

case_similar() {
    small
    [ -f "$W/e2.tar" ] || hrt 2 train --data "$W/tr" --out "$W/e2.tar" --algo ease >/dev/null || fail "ease"
    hrt 3 similar --model "$W/e2.tar" --out "$W/s" --top 5 >/dev/null || fail "similar"
    lines "$W/s" > "$W/s.tsv"
    python3 - "$W/e2.tar" "$W/s.tsv" <<'EOF' || fail "similar is not the largest weights of B's columns"
import json, struct, subprocess, sys, tarfile
t = tarfile.open(sys.argv[1]); man = json.load(t.extractfile("manifest.json")); n = man["items"]
def member(stem):
    name = [x for x in t.getnames() if x.split(".zst")[0] == stem][0]
    return subprocess.run(["zstd", "-dc"], input=t.extractfile(name).read(), capture_output=True, check=True).stdout
raw = member("items.dict.000000")   # one dictionary member below 65536 ids (format 2: NAME.NNNNNN)
ids = struct.unpack("<%dq" % n, raw[24:24 + 8 * n])   # integer dictionary (io/shard.h layout)
cols = {}
for c in range(man["item_item"]["blocks"]):
    b = member("item_item.%06d" % c)
    dense, = struct.unpack("<I", b[12:16]); nn, c0, c1, nnz = struct.unpack("<4Q", b[16:48])
    assert dense == 1 and nn == n
    vals = struct.unpack("<%df" % nnz, b[48:])
    for j in range(c0, c1): cols[j] = vals[(j - c0) * n:(j - c0 + 1) * n]
got = {}
for l in open(sys.argv[2]):
    item, rank, sim, score, src = l.rstrip("\n").split("\t")
    assert src == "itemitem", src
    got.setdefault(int(item), []).append((int(rank), int(sim), float(score)))
assert len(got) == n, (len(got), n)
for j in range(n):
    best = sorted(((-cols[j][i], i) for i in range(n) if i != j))[:5]
    mine = sorted(got[ids[j]])
    for (r, sim, score), (nv, i) in zip(mine, best):
        assert abs(score + nv) < 1e-5 * max(1.0, abs(nv)), (j, r, score, -nv)
    assert len(mine) == 5
EOF
}

case_quality_ml100k() {
    need_data ml-100k
    local d=$HR_DATA/ml-100k a
    hrt $NP ingest --input "$d/u1.base" --out "$W/ml-base" >/dev/null || fail "ingest u1.base"
    hrt $NP ingest --input "$d/u1.test" --out "$W/ml-test" >/dev/null || fail "ingest u1.test"
    for a in ease svd ials; do
        hrt $NP train --data "$W/ml-base" --out "$W/ml-$a.tar" --algo $a --json "$W/ml-$a-train.json" >/dev/null \
            || fail "train --algo $a"
        hrt $NP evaluate --model "$W/ml-$a.tar" --train "$W/ml-base" --test "$W/ml-test" --k 10,20 --baseline pop \
            --json "$W/ml-$a.json" >/dev/null || fail "evaluate $a"
    done
    python3 - "$W"/ml-{ease,svd,ials}.json <<'EOF'
import json, sys
rows = [(n, json.load(open(f))) for n, f in zip(("ease", "svd", "ials"), sys.argv[1:])]
rows.append(("pop", {k[4:]: v for k, v in rows[0][1].items() if k.startswith("pop.")}))
print("# quality MovieLens 100K u1 (%d users)       recall@10  recall@20  ndcg@10" % rows[0][1]["users_evaluated"])
for n, s in rows:
    print("# quality   %-6s                             %.4f     %.4f     %.4f" % (n, s["recall@10"], s["recall@20"], s["ndcg@10"]))
EOF
    jtrue 'a["recall@20"] >= c["recall@20"]' "$W/ml-ease.json" "$W/ml-svd.json" "$W/ml-ials.json"
    jtrue 'all(b[m] > b["pop." + m] for m in ("recall@10", "recall@20", "ndcg@10"))' "$W/ml-ease.json" "$W/ml-svd.json"
    jtrue 'a["algo"] == "svd" and a["factors"] == 64 and a["iterations"] == 2' "$W/ml-svd-train.json"
}

case_svd_ranks_foldin() {
    small
    local np
    for np in 1 2 3; do
        hrt $np train --data "$W/tr" --out "$W/v$np.tar" --algo svd --factors 8 >/dev/null || fail "svd on $np ranks"
        hrt $np recommend --model "$W/v$np.tar" --data "$W/tr" --out "$W/vr$np" --top 10 >/dev/null || fail "recommend svd ($np)"
    done
    for np in 2 3; do
        python3 - <(lines "$W/vr1") <(lines "$W/vr$np") <<'PY' || fail "svd recommendations on $np vs 1 ranks"
import sys
def load(f): return {(l.split("\t")[0], l.split("\t")[1]): float(l.split("\t")[3]) for l in open(f)}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys(), "different (user, rank) sets"
worst = max(abs(a[k] - b[k]) for k in a)
assert worst < 1e-3, worst
PY
    done
    # today's data: the training rows plus 30 users the model has never seen (copies of
    # training users under new ids): folded in from their rows (source "model", none by
    # popularity), and every list exact against brute force
    seen "$W/seen.tsv"
    { cat "$W/seen.tsv"; awk -F'\t' '$1 < 30 {print 1000000 + $1 "\t" $2 "\t" $3}' "$W/seen.tsv"; } > "$W/today.tsv"
    hrt $NP ingest --input "$W/today.tsv" --format tsv --columns user,item,rating --header no --out "$W/today" >/dev/null \
        || fail "ingest today"
    local users new
    users=$(cut -f1 "$W/today.tsv" | sort -u | wc -l); new=$(awk -F'\t' '$1 >= 1000000 {print $1}' "$W/today.tsv" | sort -u | wc -l)
    [ "$new" -gt 10 ] || fail "only $new new users"
    for np in 1 3; do
        hrt $np recommend --model "$W/v$np.tar" --data "$W/today" --out "$W/vt$np" --top 10 --json "$W/vt$np.json" >/dev/null \
            || fail "recommend today ($np)"
        jtrue "a['users_fallback'] == 0 and a['users'] == $users" "$W/vt$np.json"
        [ "$(lines "$W/vt$np" | awk -F'\t' '$1 >= 1000000 && $5 == "model"' | wc -l)" = $((10 * new)) ] || fail "new users not folded in"
        recs_text "$W/vt$np" "$W/vr.tsv"
        "$TOOLS/rec_oracle" "$W/v$np.tar" "$W/today.tsv" "$W/vr.tsv" 10 || fail "svd lists (with fold-in) on $np ranks vs brute force"
    done
}

case_errors() {
    small
    # an item whose only event falls after the split: in the training dictionary, no interactions
    { echo "user,item,rating,timestamp"
      for u in $(seq 1 40); do for i in a b c d e f; do [ $(( (u * 7 + ${#i} * 3 + $(printf '%d' "'$i")) % 3 )) -eq 0 ] || echo "$u,$i,1,100"; done; done
      echo "1,lonely,1,1000"; } > "$W/lonely.csv"
    hrt $NP ingest --input "$W/lonely.csv" --out "$W/lonely" >/dev/null || fail "ingest lonely"
    hrt $NP split --data "$W/lonely" --train "$W/lonely-tr" --test "$W/lonely-te" --before 500 >/dev/null || fail "split lonely"
    expect_fail 1 "not positive definite.*raise --lambda" hrt $NP train --data "$W/lonely-tr" --out "$W/bad.tar" --algo ease --lambda 0
    [ ! -e "$W/bad.tar" ] || fail "a model was written after a failed factorization"
    hrt $NP train --data "$W/lonely-tr" --out "$W/ok.tar" --algo ease >/dev/null || fail "the default lambda fails on the same data"
    # empty training set
    hrt $NP split --data "$W/tr" --train "$W/empty" --test "$W/empty-te" --before 0 >/dev/null || fail "split empty"
    expect_fail 1 "no interactions" hrt $NP train --data "$W/empty" --out "$W/bad.tar" --algo ease
    expect_fail 1 "no interactions" hrt $NP train --data "$W/empty" --out "$W/bad.tar" --algo svd
    # too large: for the Slurm allocation (8 n^2 / P of 20k items on 2 ranks > 2000 MB) and for
    # MemAvailable (120k items: 115 GB)
    awk 'BEGIN { print "user,item"; for (i = 0; i < 20000; i++) print i % 50 "," i }' > "$W/wide.csv"
    hrt $NP ingest --input "$W/wide.csv" --out "$W/wide" >/dev/null || fail "ingest wide"
    local t0=$SECONDS
    expect_fail 4 "EASE on [0-9]+ items.*Slurm allocation \(SLURM_MEM_PER_NODE\)" \
        env SLURM_MEM_PER_NODE=2000 timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np 2 -x SLURM_MEM_PER_NODE \
        "$HR_BIN" train --data "$W/wide" --out "$W/bad.tar" --algo ease
    awk 'BEGIN { print "user,item"; for (i = 0; i < 120000; i++) print i % 50 "," i }' > "$W/huge.csv"
    hrt $NP ingest --input "$W/huge.csv" --out "$W/huge" >/dev/null || fail "ingest huge"
    expect_fail 4 "EASE on [0-9]+ items.*(MemAvailable|cgroup)" hrt $NP train --data "$W/huge" --out "$W/bad.tar" --algo ease
    [ $((SECONDS - t0)) -lt 50 ] || fail "refusing took $((SECONDS - t0)) s"
    [ ! -e "$W/bad.tar" ] || fail "a model was written"
    expect_fail 2 "--ease-weight.*bogus" hrt 1 train --data "$W/tr" --out "$W/bad.tar" --algo ease --ease-weight bogus
    expect_fail 2 "--init svd applies to als and ials" hrt 1 train --data "$W/tr" --out "$W/bad.tar" --algo ease --init svd
    expect_fail 2 "--factors 500.*at most" hrt 1 train --data "$W/tr" --out "$W/bad.tar" --algo svd --factors 500
}

case_signals() {
    small
    hrt $NP train --data "$W/tr" --out "$W/ref.tar" --algo ease >/dev/null || fail "reference"
    local p out
    for p in 1 2 3; do
        rm -f "$W/stop.tar"
        out=$(HR_TEST_STOP_AFTER_PHASE=$p timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np $NP -x HR_TEST_STOP_AFTER_PHASE \
              "$HR_BIN" train --data "$W/tr" --out "$W/stop.tar" --algo ease --checkpoint-dir "$W/ck" 2>&1) && fail "phase $p: not stopped"
        echo "$out" | tail -1
        echo "$out" | grep -q "stopped by a signal after the .*keeps no checkpoint" || fail "phase $p: message: $out"
        [ ! -e "$W/stop.tar" ] || fail "phase $p: a model was written"
        hrt $NP train --data "$W/tr" --out "$W/stop.tar" --algo ease --checkpoint-dir "$W/ck" --resume >/dev/null || fail "rerun after $p"
        "$TOOLS/model_diff" --exact "$W/ref.tar" "$W/stop.tar" >/dev/null || fail "phase $p: the rerun differs from the uninterrupted model"
    done
    # the exit code of a stop, and svd's stop point
    HR_TEST_STOP_AFTER_PHASE=1 timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np $NP -x HR_TEST_STOP_AFTER_PHASE \
        "$HR_BIN" train --data "$W/tr" --out "$W/stop.tar" --algo svd --factors 8 >/dev/null 2>&1
    assert_eq "$?" 75 "svd stopped after a power iteration"
    # a real SIGUSR1 while a 4000-item factorization runs
    awk 'BEGIN { srand(6); print "user,item"; for (u = 0; u < 3000; u++) for (k = 0; k < 40; k++) print u "," int(4000 * rand() ^ 2) }' \
        > "$W/mid.csv"
    hrt $NP ingest --input "$W/mid.csv" --out "$W/mid" >/dev/null || fail "ingest mid"
    ( timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np $NP "$HR_BIN" train --data "$W/mid" --out "$W/mid.tar" --algo ease \
        > "$W/mid.log" 2>&1; echo $? > "$W/mid.rc" ) &
    local bg=$! i
    for i in $(seq 1500); do grep -q 'ease       assembly' "$W/mid.log" 2>/dev/null && break; sleep 0.02; done
    pkill -USR1 -f "^$HR_BIN train --data $W/mid " || fail "no rank to signal"
    wait $bg
    assert_eq "$(cat "$W/mid.rc")" 75 "exit after SIGUSR1 ($(tail -2 "$W/mid.log"))"
    grep -q 'stopped by a signal after the \(factorization\|inversion\|Gram assembly\)' "$W/mid.log" || fail "message: $(tail -2 "$W/mid.log")"
    [ ! -e "$W/mid.tar" ] || fail "a model was written after SIGUSR1"
}

case_init_svd() {
    small
    local a
    for a in ials als; do
        hrt $NP train --data "$W/tr" --out "$W/cold-$a.tar" --algo $a --factors 8 --iters 8 > "$W/cold-$a.log" 2>&1 || fail "cold $a"
        hrt $NP train --data "$W/tr" --out "$W/init-$a.tar" --algo $a --factors 8 --iters 8 --init svd > "$W/init-$a.log" 2>&1 \
            || fail "$a --init svd: $(tail -3 "$W/init-$a.log")"
        grep -q '^\[.*\] init svd   K 8' "$W/init-$a.log" || fail "no init svd line"
        python3 - "$a" "$W/cold-$a.log" "$W/init-$a.log" <<'EOF' || fail "$a: no loss per iteration"
import re, sys
def losses(f): return [float(m.group(1)) for m in re.finditer(r"iter +\d+ +loss ([0-9.e+-]+)", open(f).read())]
cold, init = losses(sys.argv[2]), losses(sys.argv[3])
assert len(cold) == len(init) == 8, (len(cold), len(init))
first = next((i + 1 for i, l in enumerate(init) if l <= cold[-1]), None)
print("# init-svd %s: cold loss after 8 iterations %.6g; --init svd reaches it after %s iterations (loss after 1: %.6g vs %.6g)"
      % (sys.argv[1], cold[-1], first if first else "more than 8", init[0], cold[0]))
EOF
    done
}

# The bundle of an item-item model is written by every rank together (format 2): on 4 ranks a
# catalogue of 4 blocks (each rank makes one), rank 0's peak allocation within 15% of the
# others' (it used to gather every block and keep the whole compressed model), inspect verifies
# every member, and the single-process hr_model_save of the same model gives the same bytes.
case_collective_bundle() {
    local j="$W/big.json"
    hrt 2 gen --out "$W/big-raw" --users 3000 --items 3500 --interactions 60000 --kind counts --factors 4 --seed 4 >/dev/null \
        || fail "gen"
    hrt 2 ingest --input "$W/big-raw" --out "$W/big" >/dev/null || fail "ingest"
    SOURCE_DATE_EPOCH=1790000000 hrt 4 train --data "$W/big" --out "$W/big.tar" --algo ease --json "$j" >/dev/null || fail "ease on 4 ranks"
    python3 - "$j" <<'PY' || fail "rank 0 holds more than the others"
import json, sys
j = json.load(open(sys.argv[1]))
r0, oth = j["peak_alloc_mb_rank0"], j["peak_alloc_mb_others"]
print("# ease %d items on 4 ranks: model %.1f MB; peak allocation rank 0 %.1f MB, other ranks up to %.1f MB (ratio %.3f); estimate %.0f MB"
      % (j["items"], j["model_bytes"] / 1e6, r0, oth, r0 / oth, j["memory_estimate_mb_rank0"]))
assert j["items"] > 3 * 1024, j["items"]
sys.exit(0 if r0 <= 1.15 * oth else 1)
PY
    hrt 2 inspect "$W/big.tar" --json "$W/big-inspect.json" >/dev/null || fail "inspect"
    jtrue 'a["format_version"] == 2 and a["members_verified"] == 6' "$W/big-inspect.json"
    SOURCE_DATE_EPOCH=1790000000 "$TOOLS/model_diff" --resave "$W/big.tar" "$W/big-serial.tar" || fail "resave"
    cmp "$W/big.tar" "$W/big-serial.tar" || fail "the bundle written by 4 ranks differs from hr_model_save's"
}

tcase ease-lapack-reference case_lapack_reference
tcase ease-ranks case_ranks
tcase ease-topm case_topm
tcase ease-similar case_similar
tcase ease-collective-bundle case_collective_bundle
tcase ease-svd-quality-ml100k case_quality_ml100k
tcase svd-ranks-foldin case_svd_ranks_foldin
tcase ease-svd-errors case_errors
tcase ease-svd-signals case_signals
tcase init-svd case_init_svd
[ "$_fails" = 0 ]
