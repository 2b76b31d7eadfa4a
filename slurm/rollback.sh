#!/bin/bash
# slurm/rollback.sh — serve an earlier published model again.
#
# Usage: slurm/rollback.sh [--to DAY] [--config FILE] [--set KEY=VALUE ...] [--model-root DIR]
#   (default)   MODEL_ROOT/current -> the day `previous` names, and previous -> the day that
#               was current (so running it twice undoes it)
#   --to DAY    current -> MODEL_ROOT/DAY (any published day), previous -> the old current
# The target must verify (PUBLISHED marker, manifest sizes, `hpcrec inspect` of model.tar).
# Each symlink is replaced by renaming a temporary one (atomic for readers). The change is
# appended to MODEL_ROOT/publish.log. The next nightly run warm-starts from the rolled-back
# model (the model `current` names when it is older than the day being trained).
# Exit: 0 done (or nothing to do), 1 no such or broken target, 2 usage.
set -euo pipefail
HR_PROG=rollback
here=$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=slurm/lib.sh
source "$here/lib.sh"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$here/rollback.sh"; }

to=""
while [ $# -gt 0 ]; do
    case "$1" in
        --to) [ $# -ge 2 ] || hr_die 2 "--to needs a day"; to=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) hr_opt "$@" || { usage >&2; hr_die 2 "unknown argument $1"; }; shift "$HR_SHIFT" ;;
    esac
done
hr_conf_load
M=${CONF[MODEL_ROOT]}
[ -d "$M" ] || hr_die 1 "MODEL_ROOT $M does not exist"
exec 9>>"$M/.links.lock"
flock -w 60 9 || hr_die 1 "$M/.links.lock is held by another publish or rollback"

cur=$(hr_link_day "$M" current || true)
if [ -z "$to" ]; then
    to=$(hr_link_day "$M" previous || true)
    [ -n "$to" ] || hr_die 1 "$M/previous does not name a day: nothing to roll back to (use --to DAY)"
fi
hr_day_ok "$to" || hr_die 2 "'$to' is not a day YYYY-MM-DD"
[ "$to" != "$cur" ] || { echo "rollback: current is already $to"; exit 0; }
why=$(hr_verify_published "$M/$to" "${CONF[HPCREC_BIN]}") || hr_die 1 "$M/$to cannot be served: $why"
[ -z "$cur" ] || hr_set_link "$M" previous "$cur"
hr_set_link "$M" current "$to"
printf '%s rollback current %s previous %s by %s\n' "$(date '+%F %T')" "$to" "${cur:--}" "${USER:-$(id -un)}" >>"$M/publish.log"
echo "rollback: current -> $to${cur:+ (was $cur; previous -> $cur)}"
