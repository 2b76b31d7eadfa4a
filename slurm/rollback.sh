#!/bin/bash
# slurm/rollback.sh — serve an earlier published model again, and keep the bad one out.
#
# Usage: slurm/rollback.sh [--to DAY] [--unblock DAY] [--config FILE] [--set KEY=VALUE ...]
#   (default)      MODEL_ROOT/current -> the day `previous` names, previous -> the old current
#   --to DAY       current -> MODEL_ROOT/DAY (a published day, not blocked), previous -> the
#                  old current
#   --unblock DAY  lift the rollback marker of DAY; alone it moves no link, with --to DAY it
#                  serves DAY again
# With REPORT=yes, MODEL_ROOT/report.html (if there is one) is rewritten for the new current.
# Moving current back from day C to an older day T blocks C and every published day after T
# up to C: a marker MODEL_ROOT/.blocked/DAY for each.  A blocked day is never linked again (a
# rerun or a requeue of it leaves current alone), never used to warm-start (a later day whose
# training recorded it trains again from T's lineage), and backfill.sh does not relink it.
# Only --unblock lifts a marker, so a second plain rollback.sh refuses the blocked day instead
# of undoing the first.  The target must verify (PUBLISHED marker, manifest sizes, `hpcrec
# inspect` of model.tar).  All of it under MODEL_ROOT/.links.lock; each symlink is replaced by
# renaming a temporary one (atomic for readers); every change goes to MODEL_ROOT/publish.log.
# Exit: 0 done (or nothing to do), 1 no such, broken or blocked target, 2 usage, a bad
# configuration or an unsafe MODEL_ROOT.
set -euo pipefail
HR_PROG=rollback
here=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=slurm/lib.sh
source "$here/lib.sh"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$here/rollback.sh"; }

to="" unblock=""
while [ $# -gt 0 ]; do
    case "$1" in
        --to) [ $# -ge 2 ] || hr_die 2 "--to needs a day"; to=$2; shift 2 ;;
        --unblock) [ $# -ge 2 ] || hr_die 2 "--unblock needs a day"; unblock=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) hr_opt "$@" || { usage >&2; hr_die 2 "unknown argument $1"; }; shift "$HR_SHIFT" ;;
    esac
done
[ -z "$to" ] || hr_day_ok "$to" || hr_die 2 "'$to' is not a day YYYY-MM-DD"
[ -z "$unblock" ] || hr_day_ok "$unblock" || hr_die 2 "'$unblock' is not a day YYYY-MM-DD"
hr_conf_load
hr_umask_apply
M=${CONF[MODEL_ROOT]}
[ -d "$M" ] || hr_die 1 "MODEL_ROOT $M does not exist"
hr_conf_trust MODEL_ROOT HPCREC_BIN
hr_group_dir "$M" || hr_die 2 "GROUP: cannot give $M the group ${CONF[GROUP]}"
who=$(id -un)

hr_links_lock "$M"
if [ -n "$unblock" ]; then
    if hr_blocked "$M" "$unblock"; then
        hr_unblock "$M" "$unblock" "$who" || hr_die 1 "cannot remove $M/.blocked/$unblock"
        echo "rollback: $unblock is no longer blocked"
    else
        echo "rollback: $unblock was not blocked"
    fi
    [ -n "$to" ] || exit 0
fi
cur=$(hr_link_day "$M" current || true)
if [ -z "$to" ]; then
    to=$(hr_link_day "$M" previous || true)
    [ -n "$to" ] || hr_die 1 "$M/previous does not name a day: nothing to roll back to (use --to DAY)"
fi
[ "$to" != "$cur" ] || { echo "rollback: current is already $to"; exit 0; }
if hr_blocked "$M" "$to"; then
    hr_die 1 "$to was rolled back ($(tr '\n' ' ' <"$M/.blocked/$to")); to serve it again: rollback.sh --unblock $to --to $to"
fi
why=$(hr_verify_published "$M/$to" "${CONF[HPCREC_BIN]}") || hr_die 1 "$M/$to cannot be served: $why"
marked=()
if [ -n "$cur" ] && [[ "$to" < "$cur" ]]; then
    for d in $(hr_published_days "$M"); do
        if [[ "$d" > "$to" ]] && ! [[ "$d" > "$cur" ]] && ! hr_blocked "$M" "$d"; then
            hr_block "$M" "$d" "$to" "$who" || hr_die 1 "cannot write the rollback marker of $d"
            marked+=("$d")
        fi
    done
fi
[ -z "$cur" ] || hr_set_link "$M" previous "$cur"
hr_set_link "$M" current "$to"
hr_publish_log "$M" "rollback current $to previous ${cur:--} by $who" || true
hr_links_unlock
echo "rollback: current -> $to${cur:+ (was $cur; previous -> $cur)}${marked[*]:+; blocked: ${marked[*]}}"
# REPORT=yes: MODEL_ROOT/report.html shows the new current (hpcrec report reads files only and
# runs as one process here); a failure leaves the old page and says so
if [ "${CONF[REPORT]}" = yes ] && [ -f "$M/report.html" ]; then
    "${CONF[HPCREC_BIN]}" report --root "$M" --out "$M/report.html" >/dev/null 2>&1 ||
        echo "rollback: $M/report.html not rewritten (run: hpcrec report --root $M --out $M/report.html)" >&2
fi
