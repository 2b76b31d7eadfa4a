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
# SIGNAL_LEAD, SBATCH_ARGS) become sbatch options.  Each job is submitted as nightly.sbatch
# with slurm/lib.sh and the effective configuration inlined: what runs is what was checked
# here, whatever happens to this folder, the configuration file or WORK_ROOT before the job
# starts.  A copy of the configuration is kept in WORK_ROOT/.backfill/ (a record only).
# Before anything: the configuration file, this folder, HPCREC_BIN and the roots must pass the
# ownership and mode checks of slurm/lib/trust.sh (exit 2); the umask is UMASK (the jobs get it).
#
# Idempotent.  First, a day published but never linked (a job killed between its rename and
# the links) becomes `current` again (see rollback markers below).  Then per day, in order:
#   published   MODEL_ROOT/DAY verifies (marker, manifest sizes, `hpcrec inspect` of the
#               model's checksums): skipped; also a day blocked by a rollback (never linked)
#   pruned      MODEL_ROOT/.pruned/DAY (deleted by KEEP_DAYS): skipped
#   refused     WORK_ROOT/DAY/REFUSED (the gate said no earlier): skipped, unless --retry-refused
#   queued      the job recorded in WORK_ROOT/DAY/jobid is still pending or running: not
#               submitted again; the next day is chained after it.  One that can never run
#               (DependencyNeverSatisfied) is cancelled and submitted again.  When squeue fails,
#               nothing is submitted (exit 1): a duplicate could run the same day twice.
#   otherwise   submitted (--kill-on-invalid-dep=yes); a day that failed before resumes from
#               what it left (its done steps, its training checkpoint).  After a failure in a
#               chain, Slurm cancels the later days; fix the cause and run the same command again.
# Job output: WORK_ROOT/DAY/slurm-JOBID.out (arrays: WORK_ROOT/slurm-ARRAY_TASK.out).
# Prints one line per day and "backfill: N submitted, ..."; exit 0, or 1 when a day could
# not be checked or submitted, or 2 for wrong arguments, a bad configuration or an unsafe file
# or directory (before anything is submitted, or at the day that is unsafe).
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
hr_umask_apply
hr_lib_trust

BIN=${CONF[HPCREC_BIN]}
M=${CONF[MODEL_ROOT]}
WR=${CONF[WORK_ROOT]}
command -v sbatch >/dev/null || hr_die 1 "sbatch not found: is Slurm set up here (SLURM_CONF)?"
if [ "$dry" = 1 ]; then
    hr_conf_trust
else
    hr_conf_trust --create
    hr_group_dir "$M" || hr_die 2 "GROUP: cannot give $M the group ${CONF[GROUP]}"
    hr_private_dir "$WR/.backfill" || hr_die 2 "WORK_ROOT refused: $HR_WHY"
    BF_FD=""
    hr_lock "$WR/.backfill/lock" 60 BF_FD || hr_die 1 "$HR_WHY (another backfill.sh?)"
fi

days=()
d=$START
while :; do
    days+=("$d")
    [ "$d" = "$END" ] && break
    d=$(hr_day_add "$d" 1)
    [ ${#days[@]} -le 36600 ] || hr_die 2 "more than 100 years of days"
done

# the queue, once: the jobs of this user (array tasks one by one) with state and reason.  A
# failing squeue (controller down or slow) aborts: "not queued" would submit duplicates.
declare -A QUEUE=()
qout=$(squeue -h -r -u "$(id -un)" -o '%i %T %r' 2>&1) ||
    hr_die 1 "squeue failed, so whether a day is already queued is unknown; nothing submitted (run again when the controller answers): ${qout##*$'\n'}"
while read -r qid qst qreason; do
    [ -n "$qid" ] && QUEUE[$qid]="$qst ${qreason:-}"
done <<<"$qout"

# queued_job DAY: "ID STATE" of the job recorded for DAY when it is still in the queue
queued_job() {
    local f="$WR/$1/jobid" id st
    [ -f "$f" ] && [ ! -L "$f" ] && [ -O "$f" ] || return 1
    id=$(head -c 64 "$f" | tr -dc '0-9_')
    [ -n "$id" ] || return 1
    st=${QUEUE[$id]:-}
    case "${st%% *}" in
        ""|COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE|OUT_OF_MEMORY) return 1 ;;
    esac
    if [ "${st%% *}" = PENDING ] && [ "${st#* }" = DependencyNeverSatisfied ]; then
        echo "$1: job $id can never run (its dependency failed; DependencyNeverSatisfied): cancelling it" >&2
        [ "$dry" = 1 ] || scancel "$id" || hr_die 1 "scancel $id failed"
        return 1
    fi
    printf '%s %s' "$id" "${st%% *}"
}

# sbatch options from the configuration
sb=(--parsable --nodes="${CONF[NODES]}" --ntasks-per-node="${CONF[RANKS_PER_NODE]}"
    --cpus-per-task="${CONF[CPUS_PER_RANK]}" --time="${CONF[TIME_LIMIT]}"
    --signal="B:USR1@${CONF[SIGNAL_LEAD]}" --requeue --open-mode=append --kill-on-invalid-dep=yes)
[ -z "${CONF[PARTITION]}" ] || sb+=(--partition="${CONF[PARTITION]}")
[ -z "${CONF[ACCOUNT]}" ] || sb+=(--account="${CONF[ACCOUNT]}")
[ -z "${CONF[QOS]}" ] || sb+=(--qos="${CONF[QOS]}")
[ -z "${CONF[MEM_PER_NODE]}" ] || sb+=(--mem="${CONF[MEM_PER_NODE]}")
hr_words SBATCH_ARGS
sb+=(${WORDS[@]+"${WORDS[@]}"})
# sbatch expands %x patterns in --output: a % of the path is written %%
out_path() { printf '%s' "${1//%/%%}"; }

# the script submitted: nightly.sbatch with the library and the configuration inlined
conf_text=$(hr_conf_text)
script=$here/nightly.sbatch
if [ "$dry" = 1 ]; then
    echo "# dry run: nightly.sbatch is submitted with slurm/lib.sh and this configuration inlined"
else
    hr_conf_write "$WR/.backfill/$(date +%Y%m%dT%H%M%S)-$$.conf" || hr_die 1 "nothing submitted"
    bundle_dir=$(mktemp -d "${TMPDIR:-/tmp}/hpcrec-backfill.XXXXXX") || hr_die 1 "cannot create a temporary directory"
    trap 'rm -rf -- "$bundle_dir"' EXIT
    script=$bundle_dir/nightly.sbatch
    hr_write_file "$script" "$(hr_bundle "$here/nightly.sbatch" "$conf_text")" || hr_die 1 "nothing submitted"
fi
# show_cmd ARGS...: the sbatch command of a dry run
show_cmd() { printf 'sbatch'; printf ' %q' "$@"; echo; }

# a day published but never linked (killed between rename and links): link it now
if [ "$dry" = 0 ]; then
    hr_links_lock "$M"
    hr_links_repair "$M" "backfill.sh by $(id -un)"
    hr_links_unlock
fi

submitted=0 published=0 refused=0 queued=0 blocked=0 pruned=0 problems=0 unsafe=0
todo=()        # --independent: array indices (days after START)
prev=""        # chain: the job the next day waits for
# the day before START may still be queued (an earlier backfill or tonight's run): chain on it
if [ "$independent" = 0 ] && q=$(queued_job "$(hr_day_add "$START" -1)"); then prev=${q%% *}; fi

for day in "${days[@]}"; do
    W=$WR/$day
    if [ -e "$M/$day" ] || [ -L "$M/$day" ]; then
        if why=$(hr_verify_published "$M/$day" "$BIN"); then
            if hr_blocked "$M" "$day"; then
                echo "$day: published, but rolled back to $(hr_block_target "$M" "$day" || echo '?') (MODEL_ROOT/.blocked/$day): skipped, never linked"
                blocked=$((blocked + 1))
            else
                echo "$day: published, skipped"
                published=$((published + 1))
            fi
            continue
        fi
        echo "$day: $M/$day exists but does not verify ($why): move it away to redo the day; stopping here" >&2
        problems=$((problems + 1))
        break
    fi
    if [ -e "$M/.pruned/$day" ]; then
        echo "$day: deleted by KEEP_DAYS earlier (MODEL_ROOT/.pruned/$day), skipped"
        pruned=$((pruned + 1))
        continue
    fi
    if { [ "$dry" = 0 ] || [ -e "$W" ] || [ -L "$W" ]; } && ! hr_private_dir "$W"; then
        echo "$day: refused: $HR_WHY; stopping here" >&2
        unsafe=1
        break
    fi
    if [ -f "$W/REFUSED" ] && [ "$retry_refused" = 0 ]; then
        echo "$day: refused by the $(hr_json "$W/REFUSED" refused_by || echo gate) earlier ($(hr_json "$W/REFUSED" reason || echo "see $W/REFUSED")), skipped"
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
    args=("${sb[@]}" --job-name="${CONF[JOB_NAME]}-$day" --output="$(out_path "$W")/slurm-%j.out")
    [ -z "$prev" ] || args+=(--dependency="afterok:$prev")
    args+=("$script" --day "$day")
    if [ "$dry" = 1 ]; then
        show_cmd "${args[@]}"
        prev=DRYRUN
        continue
    fi
    if ! id=$(sbatch "${args[@]}"); then
        echo "$day: sbatch failed; stopping here" >&2
        problems=$((problems + 1))
        break
    fi
    id=${id%%;*}
    hr_write_file "$W/jobid" "$id" || echo "$day: job $id submitted, but $W/jobid could not be written" >&2
    echo "$day: submitted job $id${prev:+ (after job $prev)}"
    submitted=$((submitted + 1)); prev=$id
done

if [ "$independent" = 1 ] && [ ${#todo[@]} -gt 0 ] && [ "$problems" = 0 ] && [ "$unsafe" = 0 ]; then
    list=$(IFS=,; echo "${todo[*]}")
    args=("${sb[@]}" --array="$list" --job-name="${CONF[JOB_NAME]}-$START" --output="$(out_path "$WR")/slurm-%A_%a.out"
          "$script" --start "$START")
    if [ "$dry" = 1 ]; then
        show_cmd "${args[@]}"
    elif id=$(sbatch "${args[@]}"); then
        id=${id%%;*}
        for i in "${todo[@]}"; do
            day=$(hr_day_add "$START" "$i")
            hr_write_file "$WR/$day/jobid" "${id}_$i" || echo "$day: $WR/$day/jobid could not be written" >&2
            echo "$day: submitted job ${id}_$i"
        done
        submitted=${#todo[@]}
    else
        echo "sbatch --array failed" >&2
        problems=$((problems + 1))
    fi
fi
more=""
[ "$blocked" = 0 ] || more+=", $blocked blocked by a rollback"
[ "$pruned" = 0 ] || more+=", $pruned pruned"
[ "$problems" = 0 ] || more+=", $problems problem(s)"
[ "$unsafe" = 0 ] || more+=", stopped at an unsafe directory"
echo "backfill $START..$END: $submitted submitted, $published published before, $refused refused before, $queued already queued$more"
[ "$unsafe" = 0 ] || exit 2
[ "$problems" = 0 ]
