#!/bin/bash
# The whole pipeline end to end on small generated data, every subcommand once: gen -> ingest ->
# split -> train (als, ials with checkpoints, resume, warm start, pop) -> evaluate -> recommend
# (with MMR) -> similar (factors, co-occurrence) -> inspect.  `make asan` runs it with the
# sanitizer build (HR_BIN), which is how the jobs (not only the modules) stay ASan/UBSan-clean.
source "$(dirname "$0")/../lib.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
W=$HR_TMP/pipe
run() { timeout -k 5 300 mpirun --oversubscribe --bind-to none -np 2 "$HR_BIN" "$@" > "$W/last.log" 2>&1 || { cat "$W/last.log"; fail "hpcrec $1 failed"; }; }

case_pipeline() {
    mkdir -p "$W"
    run gen --out "$W/logs" --users 2000 --items 2500 --interactions 40000 --kind counts --dirty 0.02 --days 3 --seed 4
    run ingest --input "$W/logs" --out "$W/all" --on-error skip --max-user-events 1000 --json "$W/ingest.json"
    [ "$(json_get "$W/ingest.json" rows_accepted)" = 40000 ] || fail "accepted rows"
    run split --data "$W/all" --train "$W/tr" --test "$W/te" --random 0.2 --seed 2
    run train --data "$W/tr" --out "$W/i.tar" --algo ials --iters 3 --checkpoint-dir "$W/ck" --checkpoint-every 1
    run train --data "$W/tr" --out "$W/i2.tar" --algo ials --iters 4 --checkpoint-dir "$W/ck" --resume
    run train --data "$W/tr" --out "$W/w.tar" --algo ials --iters 2 --init-from "$W/i.tar"
    run train --data "$W/tr" --out "$W/a.tar" --algo als --iters 3
    run train --data "$W/tr" --out "$W/p.tar" --algo pop
    run evaluate --model "$W/i2.tar" --train "$W/tr" --test "$W/te" --k 5,10 --baseline pop --json "$W/eval.json"
    python3 - "$W/eval.json" <<'PY' || fail "ials should beat popularity on planted data"
import json, sys
e = json.load(open(sys.argv[1]))
assert e["recall@10"] > e["pop.recall@10"], (e["recall@10"], e["pop.recall@10"])
PY
    run evaluate --model "$W/a.tar" --train "$W/tr" --test "$W/te" --k 5
    run recommend --model "$W/i2.tar" --data "$W/tr" --out "$W/recs" --top 10 --diversify 0.3 --json "$W/rec.json"
    [ "$(json_get "$W/rec.json" lines)" = "$(zstdcat "$W"/recs/part-*.tsv.zst | grep -vc $'^user\t')" ] || fail "recommendation lines"
    run recommend --model "$W/p.tar" --data "$W/tr" --out "$W/recs2" --top 5
    run similar --model "$W/i2.tar" --out "$W/sim" --top 5
    run similar --data "$W/tr" --out "$W/co" --top 5 --measure jaccard
    run inspect "$W/all" --dump "$W/dump"
    run inspect "$W/i2.tar"
    run inspect "$W/ck/ckpt-000003"
}

tcase pipeline-end-to-end case_pipeline
[ "$_fails" = 0 ]
