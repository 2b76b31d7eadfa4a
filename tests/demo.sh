#!/bin/bash
# The main pipeline on generated data, locally under mpirun (what `make run` does):
# gen -> ingest -> split -> train (ials) -> evaluate against the popularity baseline ->
# recommend (top 10 per user) -> similar items.
# RANKS (default 2), WORK (default /tmp/hpcrec-demo), SIZE (interactions, default 2000000).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1
RANKS=${RANKS:-2} WORK=${WORK:-/tmp/hpcrec-demo} SIZE=${SIZE:-2000000}
run() { echo "+ hpcrec $*"; mpirun --oversubscribe --bind-to none -np "$RANKS" bin/hpcrec "$@"; }
rm -rf "$WORK" && mkdir -p "$WORK"
run gen --out "$WORK/logs" --users 50000 --items 10000 --interactions "$SIZE" --kind counts --factors 16 --days 14 --dirty 0.001 --seed 7 --json "$WORK/gen.json"
run ingest --input "$WORK/logs" --out "$WORK/data" --on-error skip --max-user-events 1000 --json "$WORK/ingest.json"
run split --data "$WORK/data" --train "$WORK/train" --test "$WORK/test" --random 0.2 --seed 1
run train --data "$WORK/train" --out "$WORK/model.tar" --algo ials --factors 32 --iters 10 --json "$WORK/train.json"
run evaluate --model "$WORK/model.tar" --train "$WORK/train" --test "$WORK/test" --k 10,20 --baseline pop --json "$WORK/eval.json"
run recommend --model "$WORK/model.tar" --data "$WORK/train" --out "$WORK/recs" --top 10 --json "$WORK/recommend.json"
run similar --model "$WORK/model.tar" --out "$WORK/similar" --top 10 --json "$WORK/similar.json"
echo
echo "First recommendations ($WORK/recs/part-*.tsv.zst):"
(zstdcat "$WORK"/recs/part-00000.tsv.zst | head -n 6) || true   # head closes the pipe early
echo "Summaries (JSON) in $WORK: gen ingest train eval recommend similar; model: $WORK/model.tar"
