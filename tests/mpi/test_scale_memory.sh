#!/bin/bash
# tests/mpi/test_scale_memory.sh — no rank holds the whole model (docs/scaling.md):
# on 4 ranks, a model whose factor matrices are several times one rank's share (10000 users and
# 60000 items at k = 64: 2.6 MB + 15.4 MB of factors, 4.5 MB per rank), rank 0's peak
# allocation (core/alloc.h's own counter, not RSS: the summary keys peak_alloc_mb_rank0 and
# peak_alloc_mb_others) is within 15% of the largest other rank's for
#   - gen, whose planted model (k = 64) every rank now writes its share of,
#   - train (ials), whose bundle every rank now writes its share of,
#   - evaluate (with the pop and random baselines), whose item side travels round the ring;
# and evaluate's largest rank stays below the model's item matrix plus one score row per user
# batch, what every rank held before (the item matrix whole, and 64 x items scores).
# Each case prints the numbers.
source "$(dirname "$0")/../lib.sh"
TO=${HR_TIMEOUT:-120}
NP=4

fixture() {
    [ -f "$HR_TMP/fx.ok" ] && return 0
    hrt $NP gen --out "$HR_TMP/g" --users 10000 --items 60000 --interactions 100000 --kind counts --factors 64 --seed 5 \
        --json "$HR_TMP/gen.json" >/dev/null || fail "gen"
    hrt $NP ingest --input "$HR_TMP/g" --out "$HR_TMP/d" >/dev/null || fail "ingest"
    hrt $NP split --data "$HR_TMP/d" --train "$HR_TMP/tr" --test "$HR_TMP/te" --random 0.2 --seed 1 >/dev/null || fail "split"
    touch "$HR_TMP/fx.ok"
}

# balanced NAME JSON: rank 0 within 15% of the largest other rank; the numbers printed
balanced() {
    python3 - "$1" "$2" "$HR_TMP/numbers.txt" <<'EOF' || fail "$1: rank 0 holds more than the others"
import json, sys
name, j = sys.argv[1], json.load(open(sys.argv[2]))
r0, oth, mn = j["peak_alloc_mb_rank0"], j["peak_alloc_mb_others"], j["peak_alloc_mb_min"]
line = ("%s: peak allocation rank 0 %.1f MB, other ranks up to %.1f MB (smallest %.1f MB), ratio %.3f"
        % (name, r0, oth, mn, r0 / oth))
print(line)
open(sys.argv[3], "a").write("# " + line + "\n")
sys.exit(0 if r0 <= 1.15 * oth else 1)
EOF
}

case_gen() {
    fixture
    balanced gen "$HR_TMP/gen.json"
}

case_train() {
    fixture
    hrt $NP train --data "$HR_TMP/tr" --out "$HR_TMP/m.tar" --algo ials --factors 64 --iters 2 --json "$HR_TMP/train.json" \
        >/dev/null || fail "train"
    balanced train "$HR_TMP/train.json"
}

case_evaluate() {
    fixture
    [ -f "$HR_TMP/m.tar" ] || hrt $NP train --data "$HR_TMP/tr" --out "$HR_TMP/m.tar" --algo ials --factors 64 --iters 2 \
        >/dev/null || fail "train"
    hrt $NP evaluate --model "$HR_TMP/m.tar" --train "$HR_TMP/tr" --test "$HR_TMP/te" --k 10,20 --baseline pop,random \
        --json "$HR_TMP/eval.json" >/dev/null || fail "evaluate"
    balanced evaluate "$HR_TMP/eval.json"
    python3 - "$HR_TMP/eval.json" "$HR_TMP/numbers.txt" <<'EOF' || fail "an evaluate rank holds as much as the whole item side"
import json, sys
j = json.load(open(sys.argv[1]))
items, k = 60000, 64
before = (items * k * 4 + 64 * items * 4) / 2**20   # item matrix + one 64-user score block
line = ("evaluate: largest rank %.1f MB; the item matrix and a 64-user score block alone were %.1f MB per rank"
        % (j["peak_alloc_mb"], before))
print(line)
open(sys.argv[2], "a").write("# " + line + "\n")
sys.exit(0 if j["peak_alloc_mb"] < before else 1)
EOF
}

tcase scale-memory-gen-rank0 case_gen
tcase scale-memory-train-rank0 case_train
tcase scale-memory-evaluate-rank0 case_evaluate
cat "$HR_TMP/numbers.txt" 2>/dev/null
[ "$_fails" = 0 ]
