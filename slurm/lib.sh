# shellcheck shell=bash
# slurm/lib.sh — the library of the hpcrec Slurm scripts (nightly.sbatch, backfill.sh,
# rollback.sh).  Sourced, never run; source this file only, it loads slurm/lib/*.sh.
#
# API, by file (each file's header has the details):
#   lib.sh          logging (hr_log, hr_err, hr_die), days (hr_day_ok, hr_day_add), flat-JSON
#                   reading (hr_json), the library's own check (hr_lib_trust) and hr_bundle
#   lib/conf.sh     the configuration: the key registry (hr_key), parsing (hr_opt,
#                   hr_conf_load), checks by key type, hr_words, hr_conf_text / hr_conf_write.
#                   HOW TO ADD A KEY: see the header of lib/conf.sh.
#   lib/trust.sh    who may have written a path (hr_trust_path, StrictModes-like), the roots and
#                   file keys of the configuration (hr_conf_trust), private per-day directories
#                   (hr_private_dir), writes that never follow a planted symlink (hr_write_file,
#                   hr_append), locks (hr_lock, hr_unlock), umask and group (hr_umask_apply,
#                   hr_publish_modes, hr_group_dir)
#   lib/models.sh   published days (hr_published_days, hr_usable_days, hr_verify_published),
#                   the links lock (hr_links_lock, hr_links_unlock), links (hr_link_day,
#                   hr_set_link, hr_links_repair), rollback markers (hr_block, hr_blocked,
#                   hr_unblock), warm-start choice (hr_init_day), pruning (hr_prune, KEEP_DAYS)
#
# How a new step or script gets the checks:
#   - a script calls hr_conf_load (the configuration file must pass hr_trust_path: it is as
#     trusted as code), hr_umask_apply, then hr_conf_trust before any work: every key of type
#     indir/outdir/file/secret/bin is checked (outdir created), so a new key of those types is
#     checked everywhere without more code;
#   - per-day state goes under hr_private_dir "$WORK_ROOT/DAY" (0700, owned by the user);
#   - files the scripts write themselves go through hr_write_file (temporary + rename) or
#     hr_append (never follows a symlink); anything that changes MODEL_ROOT's links, renames a
#     day into MODEL_ROOT or removes one holds hr_links_lock, and skips days hr_blocked names;
#   - a new hpcrec step in nightly.sbatch is one `step NAME ARGS...; check NAME` pair: it runs
#     under UMASK with ENV in its environment only, and its exit codes are mapped (a step's
#     exit 2 is not a configuration error found before work: the job exits 1).
#
# Exit codes of the scripts (docs/operations.md): 1 failure, 2 bad configuration or an unsafe
# file or directory, found before any work, 3 bad input data, 4 out of memory or disk,
# 75 checkpointed and requeued, 76 refused by the gate.
#
# Bundling: backfill.sh submits nightly.sbatch with this library and the effective
# configuration inlined (hr_bundle), so a queued job runs the code and settings it was
# submitted with, whatever happens to this folder or WORK_ROOT before it starts.

if [ -z "${HR_BUNDLED:-}" ]; then
    HR_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fi
HR_LIB_PARTS=(conf trust models)

hr_log() { printf '[%s] %s\n' "$(date '+%F %T')" "$*"; }
hr_err() { printf '%s: error: %s\n' "${HR_PROG:-hpcrec-slurm}" "$*" >&2; }
# hr_die CODE MESSAGE: print and exit with CODE (exit codes as above)
hr_die() { local c=$1; shift; hr_err "$*"; exit "$c"; }

# ---- days --------------------------------------------------------------------------------
# hr_day_ok DAY: DAY is a real calendar date written YYYY-MM-DD
hr_day_ok() {
    [[ $1 =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] && [ "$(date -u -d "$1" +%F 2>/dev/null)" = "$1" ]
}
# hr_day_add DAY N: the day N days later (N may be negative)
hr_day_add() { date -u -d "$1 $2 days" +%F; }

# ---- flat JSON summaries (hpcrec writes them indented, one key per line) ----------------
# hr_json FILE KEY: the value of top-level KEY (strings without quotes); status 1 when absent
hr_json() {
    [ -f "$1" ] || return 1
    awk -v k="\"$2\":" '
        { l = $0; sub(/^[ \t]+/, "", l) }
        index(l, k) == 1 { v = substr(l, length(k) + 1); sub(/^[ \t]+/, "", v); sub(/,[ \t]*$/, "", v);
                           if (v ~ /^".*"$/) v = substr(v, 2, length(v) - 2); print v; found = 1; exit }
        END { exit found ? 0 : 1 }' "$1"
}

# ---- the library itself ------------------------------------------------------------------
# hr_lib_files: the files of the library, in bundling order, into the array HR_LIB_FILES
hr_lib_files() {
    local p
    HR_LIB_FILES=("$HR_LIB_DIR/lib.sh")
    for p in "${HR_LIB_PARTS[@]}"; do HR_LIB_FILES+=("$HR_LIB_DIR/lib/$p.sh"); done
}
# hr_lib_trust: the library, nightly.sbatch and their folders pass hr_trust_path (they are
# code: whoever can write them runs code as this user).  Dies with exit 2 otherwise.
hr_lib_trust() {
    local f
    [ -z "${HR_BUNDLED:-}" ] || return 0
    hr_lib_files
    _HR_ST=() _HR_BATCH=1
    hr_trust_prefetch "${HR_LIB_FILES[@]}" "$HR_LIB_DIR/nightly.sbatch"
    for f in "${HR_LIB_FILES[@]}" "$HR_LIB_DIR/nightly.sbatch"; do
        hr_trust_path "$f" file || hr_die 2 "the hpcrec Slurm scripts are not safe to run: $HR_WHY"
    done
    _HR_BATCH=0
}

# hr_bundle NIGHTLY CONF_TEXT: print NIGHTLY (nightly.sbatch) with the block between its
# "#@lib-begin" and "#@lib-end" lines replaced by this library and CONF_TEXT (the output of
# hr_conf_text), so the submitted script needs nothing from this folder or the config file
# at run time.  The configuration stays data: a quoted here-document that is parsed, never run.
hr_bundle() {
    local nightly=$1 text=$2 delim f line
    delim=HPCREC_CONF_END_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    while IFS= read -r line; do
        [ "$line" != "$delim" ] || hr_die 1 "configuration text holds the bundle delimiter"
    done <<<"$text"
    grep -qx '#@lib-begin' "$nightly" && grep -qx '#@lib-end' "$nightly" ||
        hr_die 1 "$nightly has no #@lib-begin / #@lib-end block"
    sed -n '1,/^#@lib-begin$/p' "$nightly"
    printf 'HR_BUNDLED=1\nHR_LIB_DIR=%q\n' "$HR_LIB_DIR"
    hr_lib_files
    for f in "${HR_LIB_FILES[@]}"; do
        printf '# ---- %s (bundled) ----\n' "${f#"$HR_LIB_DIR"/}"
        cat "$f"
    done
    printf "IFS= read -r -d '' HR_BUNDLED_CONF <<'%s' || true\n%s\n%s\n" "$delim" "$text" "$delim"
    sed -n '/^#@lib-end$/,$p' "$nightly"
}

if [ -z "${HR_BUNDLED:-}" ]; then
    for _hr_part in "${HR_LIB_PARTS[@]}"; do
        # shellcheck source=/dev/null
        source "$HR_LIB_DIR/lib/$_hr_part.sh"
    done
    unset _hr_part
fi
