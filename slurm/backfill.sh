#!/bin/bash
# slurm/backfill.sh — submit the nightly job for every day from START to END.
#
# Usage: slurm/backfill.sh START END [--independent] [--retry-refused] [--dry-run]
#                          [--config FILE] [--set KEY=VALUE ...] [--key-name VALUE ...]
#   START, END       days YYYY-MM-DD (inclusive); START = END submits a single nightly run
#   (default)        a chain: each day's job waits for the day before (--dependency=afterok),
#                    so every day warm-starts from the model published the day before
#   --independent    one job array, days in parallel, each trained cold (WARM_START=no)
#   --retry-refused  also resubmit days the evaluation gate refused before
#   --dry-run        print the sbatch commands, submit nothing
# Configuration: slurm/hpcrec.conf (or --config FILE), then the overrides; the resources
# (PARTITION, ACCOUNT, QOS, NODES, RANKS_PER_NODE, CPUS_PER_RANK, MEM_PER_NODE, TIME_LIMIT,
# SIGNAL_LEAD, SBATCH_ARGS) become sbatch options, and the effective configuration is saved
# under WORK_ROOT/.backfill/ and handed to every job.
#
# Idempotent.  Per day, in order:
#   published   MODEL_ROOT/DAY verifies (marker, manifest sizes, `hpcrec inspect` of the
#               model's checksums): skipped
#   refused     WORK_ROOT/DAY/REFUSED (the gate said no earlier): skipped, unless --retry-refused
#   queued      the job recorded in WORK_ROOT/DAY/jobid is still pending or running: not
#               submitted again; the next day is chained after it
#   otherwise   submitted; a day that failed before resumes from what it left (its done steps,
#               its training checkpoint).  After a failure in a chain, the later days are
#               cancelled by Slurm; fix the cause and run the same command again.
# Job output: WORK_ROOT/DAY/slurm-JOBID.out (arrays: WORK_ROOT/slurm-ARRAY_TASK.out).
# Prints one line per day and "backfill: N submitted, ..."; exit 0 unless a day could not be
# checked or submitted (1) or the arguments are wrong (2).
set -euo pipefail
HR_PROG=backfill
here=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=slurm/lib.sh
source "$here/lib.sh"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$here/backfill.sh"; }

independent=0 retry_refused=0 dry=0 days_arg=()
while [ $# -gt 0 ]; do
    case "$1" in
        --independent) independent=1; shift ;;
        --retry-refused) retry_refused=1; shift ;;
        --dry-run) dry=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) hr_opt "$@" || { usage >&2; hr_die 2 "unknown option $1"; }; shift "$HR_SHIFT" ;;
        *) days_arg+=("$1"); shift ;;
    esac
done
[ ${#days_arg[@]} -eq 2 ] || { usage >&2; hr_die 2 "give START and END (YYYY-MM-DD)"; }
START=${days_arg[0]} END=${days_arg[1]}
hr_day_ok "$START" || hr_die 2 "START '$START' is not a date YYYY-MM-DD"
hr_day_ok "$END" || hr_die 2 "END '$END' is not a date YYYY-MM-DD"
[[ "$START" < "$END" || "$START" == "$END" ]] || hr_die 2 "START $START is after END $END"
[ "$independent" = 0 ] || HR_OVERRIDES+=("WARM_START=no")
hr_conf_load

BIN=${CONF[HPCREC_BIN]}
M=${CONF[MODEL_ROOT]}
WR=${CONF[WORK_ROOT]}
command -v sbatch >/dev/null || hr_die 1 "sbatch not found: is Slurm set up here (SLURM_CONF)?"
[ -x "$BIN" ] || command -v "$BIN" >/dev/null || hr_die 1 "HPCREC_BIN '$BIN' is not an executable"
mkdir -p "$M" "$WR/.backfill"
exec 9>>"$WR/.backfill/lock"
flock -w 60 9 || hr_die 1 "another backfill.sh holds $WR/.backfill/lock"

days=()
d=$START
while :; do
    days+=("$d")
    [ "$d" = "$END" ] && break
    d=$(hr_day_add "$d" 1)
    [ ${#days[@]} -le 36600 ] || hr_die 2 "more than 100 years of days"
done

# a recorded job that is still in the queue (pending, running, requeued, ...)
queued_job() {
    local f="$WR/$1/jobid" id st
    [ -s "$f" ] || return 1
    id=$(tr -dc '0-9_' <"$f")
    [ -n "$id" ] || return 1
    st=$(squeue -h -j "$id" -o %T 2>/dev/null | head -n 1 || true)
    case "$st" in
        ""|COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE|OUT_OF_MEMORY) return 1 ;;
    esac
    printf '%s %s' "$id" "$st"
}

# sbatch options from the configuration
sb=(--parsable --nodes="${CONF[NODES]}" --ntasks-per-node="${CONF[RANKS_PER_NODE]}"
    --cpus-per-task="${CONF[CPUS_PER_RANK]}" --time="${CONF[TIME_LIMIT]}"
    --signal="B:USR1@${CONF[SIGNAL_LEAD]}" --requeue --open-mode=append)
[ -z "${CONF[PARTITION]}" ] || sb+=(--partition="${CONF[PARTITION]}")
[ -z "${CONF[ACCOUNT]}" ] || sb+=(--account="${CONF[ACCOUNT]}")
[ -z "${CONF[QOS]}" ] || sb+=(--qos="${CONF[QOS]}")
[ -z "${CONF[MEM_PER_NODE]}" ] || sb+=(--mem="${CONF[MEM_PER_NODE]}")
hr_words SBATCH_ARGS
sb+=(${WORDS[@]+"${WORDS[@]}"})

conf=$WR/.backfill/$(date +%Y%m%dT%H%M%S)-$$.conf
[ "$dry" = 1 ] || hr_conf_write "$conf"
export HPCREC_SLURM_DIR=$here

submitted=0 published=0 refused=0 queued=0 problems=0
todo=()        # --independent: array indices (days after START)
prev=""        # chain: the job the next day waits for
# the day before START may still be queued (an earlier backfill or tonight's run): chain on it
if [ "$independent" = 0 ] && q=$(queued_job "$(hr_day_add "$START" -1)"); then prev=${q%% *}; fi

for day in "${days[@]}"; do
    W=$WR/$day
    if [ -e "$M/$day" ]; then
        if why=$(hr_verify_published "$M/$day" "$BIN"); then
            echo "$day: published, skipped"
            published=$((published + 1))
            continue
        fi
        echo "$day: $M/$day exists but does not verify ($why): move it away to redo the day; stopping here" >&2
        problems=$((problems + 1))
        break
    fi
    if [ -f "$W/REFUSED" ] && [ "$retry_refused" = 0 ]; then
        echo "$day: refused by the gate earlier ($(hr_json "$W/REFUSED" reason || echo "see $W/REFUSED")), skipped"
        refused=$((refused + 1))
        continue
    fi
    if q=$(queued_job "$day"); then
        echo "$day: already queued as job ${q% *} (${q#* }), not submitted again"
        queued=$((queued + 1)); prev=${q%% *}
        continue
    fi
    if [ "$independent" = 1 ]; then
        todo+=("$(( ( $(date -u -d "$day" +%s) - $(date -u -d "$START" +%s) ) / 86400 ))")
        continue
    fi
    mkdir -p "$W"
    args=("${sb[@]}" --job-name="${CONF[JOB_NAME]}-$day" --output="$W/slurm-%j.out")
    [ -z "$prev" ] || args+=(--dependency="afterok:$prev")
    args+=("$here/nightly.sbatch" --day "$day" --config "$conf")
    if [ "$dry" = 1 ]; then
        printf 'sbatch'; printf ' %q' "${args[@]}"; echo
        prev=DRYRUN
        continue
    fi
    if ! id=$(sbatch "${args[@]}"); then
        echo "$day: sbatch failed; stopping here" >&2
        problems=$((problems + 1))
        break
    fi
    id=${id%%;*}
    printf '%s\n' "$id" >"$W/jobid"
    echo "$day: submitted job $id${prev:+ (after job $prev)}"
    submitted=$((submitted + 1)); prev=$id
done

if [ "$independent" = 1 ] && [ ${#todo[@]} -gt 0 ] && [ "$problems" = 0 ]; then
    list=$(IFS=,; echo "${todo[*]}")
    args=("${sb[@]}" --array="$list" --job-name="${CONF[JOB_NAME]}-$START" --output="$WR/slurm-%A_%a.out"
          "$here/nightly.sbatch" --start "$START" --config "$conf")
    if [ "$dry" = 1 ]; then
        printf 'sbatch'; printf ' %q' "${args[@]}"; echo
    elif id=$(sbatch "${args[@]}"); then
        id=${id%%;*}
        for i in "${todo[@]}"; do
            day=$(hr_day_add "$START" "$i")
            mkdir -p "$WR/$day"
            printf '%s_%s\n' "$id" "$i" >"$WR/$day/jobid"
            echo "$day: submitted job ${id}_$i"
        done
        submitted=${#todo[@]}
    else
        echo "sbatch --array failed" >&2
        problems=$((problems + 1))
    fi
fi
echo "backfill $START..$END: $submitted submitted, $published published before, $refused refused before, $queued already queued$([ "$problems" = 0 ] || echo ", $problems problem(s)")"
[ "$problems" = 0 ]
