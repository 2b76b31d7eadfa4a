#!/bin/bash
# make bench — end-to-end benchmarks on this machine; each line says what ran, the numbers, and
# PASSED/FAILED against the target.  Scratch in BENCH_DIR (default /tmp/hpcrec-bench).
#   BENCH_ROWS      ingest rows (default 10000000)
#   BENCH_ONLY      ingest | als | ials   (default: all)
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1
D=${BENCH_DIR:-/tmp/hpcrec-bench}
ROWS=${BENCH_ROWS:-10000000}
ONLY=${BENCH_ONLY:-all}
GIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$D"
hr() { local np=$1; shift; mpirun --oversubscribe --bind-to none -np "$np" ${HR_BENCH_BIN:-bin/hpcrec} "$@"; }
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
status=0
verdict() { if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then echo PASSED; else echo FAILED; status=1; fi; }

if [ "$ONLY" = all ] || [ "$ONLY" = ingest ]; then
    # One plain CSV of ROWS rows (read in parallel by byte ranges), and the same rows as
    # date-partitioned .csv.zst files (read in parallel by file).
    if [ ! -s "$D/ingest-$ROWS.csv" ]; then
        rm -rf "$D/gen-$ROWS"
        hr 2 gen --out "$D/gen-$ROWS" --users $((ROWS / 50)) --items $((ROWS / 200)) --interactions "$ROWS" --days 10 --seed 1 >/dev/null || exit 1
        { echo "user,item,rating,timestamp"; for f in "$D/gen-$ROWS"/20*/part-*.csv.zst; do zstdcat "$f" | tail -n +2; done; } > "$D/ingest-$ROWS.csv"
    fi
    cat "$D/ingest-$ROWS.csv" > /dev/null   # warm the page cache: measure ingest, not the disk
    for input in "$D/ingest-$ROWS.csv" "$D/gen-$ROWS"; do
        kind=plain-csv; [ -d "$input" ] && kind=csv.zst-files
        hr 2 ingest --input "$input" --out "$D/ds-$ROWS" --json "$D/ingest.json" > "$D/ingest.log" 2>&1 || { cat "$D/ingest.log"; exit 1; }
        rps=$(jget "$D/ingest.json" rows_per_second); mem=$(jget "$D/ingest.json" peak_rss_mb)
        printf 'bench ingest %-14s rows=%d ranks=2 %.2fs %.2fM rows/s peak-memory-per-rank %.0f MB git=%s target>=3M rows/s %s\n' \
            "$kind" "$ROWS" "$(jget "$D/ingest.json" seconds)" "$(python3 -c "print($rps/1e6)")" "$mem" "$GIT" "$(verdict "$rps >= 3e6")"
    done
fi
exit $status
