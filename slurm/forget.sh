#!/bin/bash
# slurm/forget.sh — erase users from every day under WORK_ROOT and MODEL_ROOT (right to
# erasure; docs/operations.md, Erasure).
#
# Usage: slurm/forget.sh [--users FILE] [--config FILE] [--set KEY=VALUE ...]
#   --users FILE   add these ids (one a line) to FORGET_LIST first, then apply the whole list
# Needs FORGET_LIST (the forget list, hpcrec forget --list) and FORGET_KEY (the site key, mode
# 0600) in the configuration.  Then:
#   WORK_ROOT/DAY  each day's datasets (data, train, test), model.tar and checkpoints are
#                  rewritten in place by `hpcrec forget` (each artifact replaced atomically),
#                  under the day's lock (a day whose nightly job is running is waited for, 60 s,
#                  then refused: run again later)
#   MODEL_ROOT/DAY a published day is immutable, so it is replaced: a complete copy of the day
#                  is staged in MODEL_ROOT/.forget-DAY.XXXXXX, `hpcrec forget` removes the users
#                  from its model.tar and recommendations/, recommendations.sqlite is exported
#                  again and the ANN indexes are built again (they name the model's manifest),
#                  MANIFEST is written again; then, under the links lock, the day is renamed
#                  away, the copy renamed into its place, `current` / `previous` pointed at it
#                  again when they named it, and the change logged in publish.log; the old copy
#                  is deleted after the lock is released (the erasure is not done while it
#                  exists: its path is printed if it cannot be removed).  A day holding none of
#                  the users is left as it is.  Blocked (rolled back) days are scrubbed too.
# Backfill and rollback see the replaced day as the published day (same name, PUBLISHED kept).
# The model's item factors were trained with the erased users' data: `hpcrec inspect` says so,
# and the next nightly retraining (whose ingest applies the list) is the answer.
# Exit: 0 done, 1 a step failed (what was done stays done; run it again), 2 usage, a bad
# configuration or an unsafe root.
set -euo pipefail
HR_PROG=forget
here=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=slurm/lib.sh
source "$here/lib.sh"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$here/forget.sh"; }

users=""
while [ $# -gt 0 ]; do
    case "$1" in
        --users) [ $# -ge 2 ] || hr_die 2 "--users needs a file"; users=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) hr_opt "$@" || { usage >&2; hr_die 2 "unknown argument $1"; }; shift "$HR_SHIFT" ;;
    esac
done
hr_conf_load
hr_umask_apply
hr_lib_trust
M=${CONF[MODEL_ROOT]} WR=${CONF[WORK_ROOT]} BIN=${CONF[HPCREC_BIN]}
LIST=${CONF[FORGET_LIST]} KEY=${CONF[FORGET_KEY]}
[ -n "$LIST" ] && [ -n "$KEY" ] || hr_die 2 "FORGET_LIST and FORGET_KEY must be set in the configuration"
[ -z "$users" ] || [ -f "$users" ] || hr_die 2 "--users $users: no such file"
hr_conf_trust MODEL_ROOT WORK_ROOT HPCREC_BIN FORGET_LIST FORGET_KEY
who=$(id -un)
LOG=$WR/forget-logs
hr_private_dir "$LOG" || hr_die 2 "$HR_WHY"
run=$LOG/$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -m 700 -- "$run"
n=0
# hf NAME ARGS...: hpcrec ARGS, summary in $run/NAME.json, output in $run/NAME.log
hf() {
    local name=$1; shift
    n=$((n + 1))
    "$BIN" "$@" --json "$run/$n-$name.json" >"$run/$n-$name.log" 2>&1 ||
        { cat "$run/$n-$name.log" >&2; hr_die 1 "hpcrec $1 failed for $name (log: $run/$n-$name.log)"; }
    J=$run/$n-$name.json
}

if [ -n "$users" ]; then
    hf list forget --users "$users" --list "$LIST" --key "$KEY"
    hr_log "forget list $LIST: $(hr_json "$J" ids_new) new ids, $(hr_json "$J" ids) listed"
fi

# ---- WORK_ROOT: every day, in place, under the day's lock ---------------------------------------
total_rows=0 total_days=0
for W in "$WR"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]; do
    [ -d "$W" ] && [ ! -L "$W" ] || continue
    day=${W##*/}
    hr_private_dir "$W" || hr_die 2 "the work directory of $day is refused: $HR_WHY"
    DAY_FD=""
    hr_lock "$W/.lock" 60 DAY_FD || hr_die 1 "$HR_WHY (the nightly job of $day is running: run forget.sh again when it is done)"
    args=()
    for ds in data train test; do [ -f "$W/$ds/manifest.json" ] && args+=(--data "$W/$ds"); done
    [ -f "$W/model.tar" ] && args+=(--model "$W/model.tar")
    [ -d "$W/ckpt" ] && args+=(--checkpoint-dir "$W/ckpt")
    if [ ${#args[@]} -gt 0 ]; then
        hf "work-$day" forget --list "$LIST" --key "$KEY" "${args[@]}"
        r=$(hr_json "$J" rows_removed) a=$(hr_json "$J" artifacts_rewritten)
        total_rows=$((total_rows + r))
        [ "$a" = 0 ] || { total_days=$((total_days + 1)); hr_log "work $day: $a artifacts rewritten, $r interactions removed"; }
    fi
    hr_unlock "$DAY_FD"
done

# ---- MODEL_ROOT: every published day, replaced by a scrubbed copy ---------------------------------
replaced=0 S=""
# a copy that was not renamed into place holds the users' data: it never outlives the script
trap '[ -z "$S" ] || rm -rf -- "$S"' EXIT
for day in $(hr_published_days "$M"); do
    D=$M/$day
    S=$(mktemp -d "$M/.forget-$day.XXXXXX") || hr_die 1 "cannot create a staging directory in $M"
    cp -a -- "$D/." "$S/" || { rm -rf -- "$S"; hr_die 1 "cannot copy $D"; }
    args=(--model "$S/model.tar")
    [ -f "$S/recommendations/manifest.json" ] && args+=(--recs "$S/recommendations")
    hf "model-$day" forget --list "$LIST" --key "$KEY" "${args[@]}"
    if [ "$(hr_json "$J" artifacts_rewritten)" = 0 ]; then
        rm -rf -- "$S"
        S=""
        continue
    fi
    u=$(hr_json "$J" users_removed) l=$(hr_json "$J" recs_lines_removed) h=$(hr_json "$J" list_hmac)
    if [ -f "$S/recommendations.sqlite" ]; then
        rm -f -- "$S/recommendations.sqlite"
        hf "export-$day" export --recs "$S/recommendations" --out "$S/recommendations.sqlite" --day "$day"
    fi
    for ix in index:ip index-cosine:cosine; do
        if [ -f "$S/${ix%%:*}/manifest.json" ]; then
            rm -rf -- "${S:?}/${ix%%:*}"
            hf "index-$day" index build --model "$S/model.tar" --out "$S/${ix%%:*}" --metric "${ix#*:}"
        fi
    done
    listing=$(cd "$S" && find . -type f ! -name MANIFEST ! -name PUBLISHED -printf '%s %P\n' | LC_ALL=C sort -k2) &&
        hr_write_file "$S/MANIFEST" "$listing" || hr_die 1 "cannot write $S/MANIFEST"
    hr_publish_modes "$S" || hr_die 1 "cannot set the modes or the group of $S"
    why=$(hr_verify_published "$S" "$BIN") || hr_die 1 "the scrubbed copy of $day does not verify: $why"
    sync -f "$S/PUBLISHED" 2>/dev/null || true
    hr_links_lock "$M"
    cur=$(hr_link_day "$M" current || true) prev=$(hr_link_day "$M" previous || true)
    old=$(mktemp -u "$M/.forget-old-$day.XXXXXX")
    # two renames: readers that open the day in between get "no such file" for that instant,
    # never a day that mixes copies (each is complete)
    mv -T -- "$D" "$old" || { hr_links_unlock; hr_die 1 "cannot rename $D"; }
    mv -T -- "$S" "$D" || { mv -T -- "$old" "$D"; hr_links_unlock; hr_die 1 "cannot rename $S to $D"; }
    S=""
    [ "$cur" != "$day" ] || hr_set_link "$M" current "$day"
    [ "$prev" != "$day" ] || hr_set_link "$M" previous "$day"
    hr_publish_log "$M" "forget $day replaced: $u users and $l recommendation lines removed (list ${h:0:16}) by $who" || true
    hr_links_unlock
    rm -rf -- "$old"
    [ ! -e "$old" ] || hr_die 1 "the old copy of $day is still in $old: the erasure is not done until it is removed"
    replaced=$((replaced + 1))
    hr_log "published $day: replaced ($u users, $l recommendation lines removed)"
done
hr_log "forget: $total_rows interactions removed from $total_days work days; $replaced published days replaced (summaries in $run)"
