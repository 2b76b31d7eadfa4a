# shellcheck shell=bash
# slurm/lib/models.sh — published days, the links lock, rollback markers, pruning (loaded by
# slurm/lib.sh).
#
# MODEL_ROOT layout:
#   DAY/                 a published day: model.tar, MANIFEST and PUBLISHED (written last,
#                        before the directory is renamed into place); never modified after that
#   current, previous    relative symlinks to days, replaced by renaming a temporary symlink
#   .links.lock          flock: held by whoever renames a day into MODEL_ROOT, moves the links,
#                        blocks, unblocks or prunes; never held through long work (deletes, steps)
#   .blocked/DAY         a rollback marker: DAY was rolled back ("to=", "at=", "by=" lines).
#                        A blocked day is never chosen for a warm start, never linked, never
#                        counted as published-and-usable; only `rollback.sh --unblock DAY` lifts it
#   .pruned/DAY          DAY was deleted by KEEP_DAYS pruning: backfill does not redo it
#   publish.log          one line per publish, refusal, rollback, block, unblock, prune, repair
# Rules for code that changes MODEL_ROOT: take hr_links_lock first, re-read the links and the
# markers under it, release it (hr_links_unlock) before deleting anything large.

HR_LINKS_FD=""

# hr_published_days ROOT: the published days (marker and model present, not a symlink), oldest first
hr_published_days() {
    local d
    for d in "$1"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]; do
        [ ! -L "$d" ] && [ -f "$d/PUBLISHED" ] && [ -f "$d/model.tar" ] && basename "$d"
    done | LC_ALL=C sort
}
# hr_blocked ROOT DAY: DAY carries a rollback marker
hr_blocked() { [ -e "$1/.blocked/$2" ]; }
# hr_usable_days ROOT: published days without a rollback marker, oldest first
hr_usable_days() {
    local d
    for d in $(hr_published_days "$1"); do hr_blocked "$1" "$d" || echo "$d"; done
}
# hr_block_target ROOT DAY: the day DAY was rolled back to (from its marker), or nothing
hr_block_target() {
    local t
    t=$(sed -n 's/^to=//p' "$1/.blocked/$2" 2>/dev/null | head -n 1)
    hr_day_ok "$t" && printf '%s' "$t"
}
# hr_block ROOT DAY TO WHO: mark DAY rolled back (to TO, by WHO); under the links lock
hr_block() {
    mkdir -p -- "$1/.blocked" || return 1
    hr_write_file "$1/.blocked/$2" "to=$3
at=$(date '+%F %T')
by=$4" || return 1
    hr_publish_log "$1" "block $2 rolled back to $3 by $4"
}
# hr_unblock ROOT DAY WHO: lift the marker of DAY; under the links lock
hr_unblock() {
    hr_blocked "$1" "$2" || return 0
    rm -f -- "$1/.blocked/$2" && hr_publish_log "$1" "unblock $2 by $3"
}

# hr_publish_log ROOT TEXT: one dated line in ROOT/publish.log (never through a symlink)
hr_publish_log() { hr_append "$1/publish.log" "$(date '+%F %T') $2"; }

# hr_links_lock ROOT [SECONDS]: take ROOT/.links.lock (default: wait 60 s); hr_die 1 when busy
hr_links_lock() {
    [ -z "$HR_LINKS_FD" ] || return 0
    hr_lock "$1/.links.lock" "${2:-60}" HR_LINKS_FD ||
        hr_die 1 "$HR_WHY (another publish, rollback or backfill repair)"
}
hr_links_unlock() { hr_unlock "$HR_LINKS_FD"; HR_LINKS_FD=""; }

# hr_link_day ROOT NAME: the day a symlink (current, previous) points at, or nothing
hr_link_day() {
    local t
    t=$(readlink "$1/$2" 2>/dev/null) || return 1
    t=${t%/}; t=${t##*/}
    hr_day_ok "$t" && printf '%s' "$t"
}
# hr_set_link ROOT NAME TARGET: atomically point ROOT/NAME at TARGET (a new temporary symlink
# with an unpredictable name, renamed over NAME)
hr_set_link() {
    local tmp
    tmp=$(mktemp -u "$1/.$2.XXXXXX") && ln -s -- "$3" "$tmp" && mv -T -f -- "$tmp" "$1/$2"
}
# hr_init_day ROOT DAY: the warm-start day for DAY: the newest usable (published, not
# blocked) day before DAY; nothing when there is none
hr_init_day() {
    local d best=""
    for d in $(hr_usable_days "$1"); do [[ "$d" < "$2" ]] && best=$d; done
    printf '%s' "$best"
}
# hr_links_repair ROOT WHO: under the links lock: when a usable day newer than `current`
# exists (a publish killed between its rename and the links), point current at the newest
# such day and previous at the old current.  Prints what it did.
hr_links_repair() {
    local cur newest
    cur=$(hr_link_day "$1" current || true)
    newest=$(hr_usable_days "$1" | tail -n 1)
    [ -n "$newest" ] || return 0
    if [ -z "$cur" ] || [[ "$newest" > "$cur" ]]; then
        [ -z "$cur" ] || hr_set_link "$1" previous "$cur"
        hr_set_link "$1" current "$newest"
        hr_publish_log "$1" "repair current $newest previous ${cur:--} by $2 (published but never linked)"
        echo "links: current -> $newest${cur:+, previous -> $cur} ($newest was published but current was never moved to it)"
    fi
}

# hr_prune ROOT KEEP JOB: under the links lock: keep the KEEP newest published days up to
# `current`, and always current, previous, every day a rollback marker names as its target,
# and every day newer than current; rename each other published day to ROOT/.prune-DAY.XXXXXX,
# leave ROOT/.pruned/DAY, log it, and print the renamed paths (the caller deletes them after
# hr_links_unlock).  KEEP 0 or no current: nothing.
hr_prune() {
    local root=$1 keep=$2 cur prev d f t n=0 tmp
    [ "$keep" -gt 0 ] || return 0
    cur=$(hr_link_day "$root" current || true)
    [ -n "$cur" ] || return 0
    prev=$(hr_link_day "$root" previous || true)
    local -A hold=([$cur]=1)
    [ -z "$prev" ] || hold[$prev]=1
    for f in "$root"/.blocked/*; do
        [ -f "$f" ] || continue
        t=$(hr_block_target "$root" "${f##*/}") && hold[$t]=1
    done
    for d in $(hr_published_days "$root" | LC_ALL=C sort -r); do
        [[ "$d" > "$cur" ]] && continue
        n=$((n + 1))
        [ "$n" -le "$keep" ] && continue
        [ -z "${hold[$d]:-}" ] || continue
        tmp=$(mktemp -d "$root/.prune-$d.XXXXXX") && mv -T -- "$root/$d" "$tmp" || return 1
        mkdir -p -- "$root/.pruned" && hr_write_file "$root/.pruned/$d" "at=$(date '+%F %T')
by=$3" || return 1
        hr_publish_log "$root" "prune $d (KEEP_DAYS=$keep) job $3"
        printf '%s\n' "$tmp"
    done
}

# hr_verify_published DIR [BIN]: DIR is a complete published day: the marker, every file the
# manifest lists with its size, and (when BIN is given) `hpcrec inspect` of the model, which
# verifies its checksums.  Prints the reason on failure.
hr_verify_published() {
    local d=$1 bin=${2:-} size name got
    [ ! -L "$d" ] || { echo "it is a symbolic link"; return 1; }
    [ -f "$d/PUBLISHED" ] || { echo "no PUBLISHED marker"; return 1; }
    [ -f "$d/model.tar" ] || { echo "no model.tar"; return 1; }
    if [ -f "$d/MANIFEST" ]; then
        while read -r size name; do
            [ -n "$name" ] || continue
            got=$(stat -c %s -- "$d/$name" 2>/dev/null) || { echo "$name missing"; return 1; }
            [ "$got" = "$size" ] || { echo "$name has $got bytes, the manifest says $size"; return 1; }
        done <"$d/MANIFEST"
    fi
    if [ -n "$bin" ]; then
        local out
        out=$(timeout 300 "$bin" inspect "$d/model.tar" 2>&1) || { echo "inspect: ${out##*$'\n'}"; return 1; }
    fi
    return 0
}
