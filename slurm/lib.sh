# shellcheck shell=bash
# slurm/lib.sh — shared by nightly.sbatch, backfill.sh and rollback.sh (sourced, never run).
#
# Configuration: built-in defaults, then one KEY=VALUE file (--config FILE, else $HPCREC_CONF,
# else slurm/hpcrec.conf beside this file), then command-line overrides in order
# (--set KEY=VALUE or --key-name VALUE).  The file is parsed here, line by line; it is never
# sourced or evaluated, so a value cannot run anything.  The result is the associative
# array CONF; hr_words KEY splits a list value into the array WORDS (no globbing).
# Also: logging, day arithmetic, flat-JSON reading, published-model checks and symlinks.

HR_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Keys in the order a snapshot is written; defaults as in slurm/hpcrec.conf.
HR_KEYS=(HPCREC_BIN DATA_ROOT MODEL_ROOT WORK_ROOT
         PARTITION ACCOUNT QOS NODES RANKS_PER_NODE CPUS_PER_RANK THREADS_PER_RANK MEM_PER_NODE TIME_LIMIT
         SIGNAL_LEAD MAX_REQUEUES JOB_NAME SBATCH_ARGS
         MODULES LAUNCHER SRUN_ARGS MPIRUN_ARGS ENV
         WINDOW_DAYS INGEST_ARGS SPLIT_ARGS ALGO FACTORS ITERS TRAIN_ARGS CHECKPOINT_EVERY WARM_START
         EVAL_K GATE GATE_METRIC GATE_TOLERANCE RECOMMEND_TOP RECOMMEND_ARGS SIMILAR SIMILAR_TOP CLEAN_WORK
         INDEX_MIN_ITEMS)
declare -A CONF=(
    [HPCREC_BIN]=$HR_LIB_DIR/../bin/hpcrec [DATA_ROOT]=/tmp/hpcrec-local/logs
    [MODEL_ROOT]=/tmp/hpcrec-local/models [WORK_ROOT]=/tmp/hpcrec-local/work
    [PARTITION]="" [ACCOUNT]="" [QOS]="" [NODES]=2 [RANKS_PER_NODE]=1 [CPUS_PER_RANK]=1
    [THREADS_PER_RANK]=1 [MEM_PER_NODE]="" [TIME_LIMIT]=00:30:00 [SIGNAL_LEAD]=120 [MAX_REQUEUES]=5
    [JOB_NAME]=hpcrec-nightly [SBATCH_ARGS]="" [MODULES]="" [LAUNCHER]=srun [SRUN_ARGS]=--mpi=pmix
    [MPIRUN_ARGS]="--bind-to none" [ENV]="OMPI_MCA_mpi_yield_when_idle=1 PMIX_MCA_gds=hash OMPI_MCA_oob_tcp_keepalive_time=10 OMPI_MCA_oob_tcp_keepalive_intvl=2 OMPI_MCA_oob_tcp_keepalive_probes=5"
    [WINDOW_DAYS]=1 [INGEST_ARGS]="" [SPLIT_ARGS]="--last 1" [ALGO]=ials [FACTORS]=32 [ITERS]=10
    [TRAIN_ARGS]="" [CHECKPOINT_EVERY]=2 [WARM_START]=yes [EVAL_K]=10,20 [GATE]=yes
    [GATE_METRIC]=ndcg@10 [GATE_TOLERANCE]=0.01 [RECOMMEND_TOP]=20 [RECOMMEND_ARGS]=""
    [SIMILAR]=auto [SIMILAR_TOP]=20 [CLEAN_WORK]=yes [INDEX_MIN_ITEMS]=500000)
HR_CONFIG=""          # the configuration file read (absolute), after hr_conf_load
HR_OVERRIDES=()       # KEY=VALUE from the command line, applied in order
HR_SHIFT=0

hr_log() { printf '[%s] %s\n' "$(date '+%F %T')" "$*"; }
hr_err() { printf '%s: error: %s\n' "${HR_PROG:-hpcrec-slurm}" "$*" >&2; }
# hr_die CODE MESSAGE: print and exit with CODE (exit codes as in docs/exit-codes.md)
hr_die() { local c=$1; shift; hr_err "$*"; exit "$c"; }

hr_is_key() { [[ " ${HR_KEYS[*]} " == *" $1 "* ]]; }

# hr_opt ARGS...: consume one configuration option from the front of ARGS; sets HR_SHIFT.
# Returns 1 when $1 is not a configuration option.
hr_opt() {
    local key
    case "$1" in
        --config)
            [ $# -ge 2 ] || hr_die 2 "--config needs a file"
            HR_CONFIG=$2; HR_SHIFT=2 ;;
        --set)
            [ $# -ge 2 ] || hr_die 2 "--set needs KEY=VALUE"
            [[ $2 == *=* ]] || hr_die 2 "--set needs KEY=VALUE, got '$2'"
            hr_is_key "${2%%=*}" || hr_die 2 "--set: unknown key '${2%%=*}' (keys: ${HR_KEYS[*]})"
            HR_OVERRIDES+=("$2"); HR_SHIFT=2 ;;
        --[a-z]*)
            key=${1#--}; key=${key//-/_}; key=${key^^}
            hr_is_key "$key" || return 1
            [ $# -ge 2 ] || hr_die 2 "$1 needs a value"
            HR_OVERRIDES+=("$key=$2"); HR_SHIFT=2 ;;
        *) return 1 ;;
    esac
}

# hr_abs PATH BASE: PATH made absolute against BASE (a bare command name stays as it is)
hr_abs() {
    case "$1" in
        /*|"") printf '%s' "$1" ;;
        *) printf '%s/%s' "$2" "$1" ;;
    esac
}

# hr_conf_file FILE: read KEY=VALUE lines into CONF
hr_conf_file() {
    local f=$1 dir n=0 line key raw val re_sq re_dq
    [ -f "$f" ] && [ -r "$f" ] || hr_die 2 "configuration file '$f' not found or not readable"
    dir=$(cd "$(dirname "$f")" && pwd)
    re_sq="^'([^']*)'[[:space:]]*(#.*)?\$"
    re_dq='^"(([^"\\]|\\.)*)"[[:space:]]*(#.*)?$'
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
        [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
            hr_die 2 "$f:$n: expected KEY=VALUE, got: $line"
        key=${BASH_REMATCH[1]} raw=${BASH_REMATCH[2]}
        hr_is_key "$key" || hr_die 2 "$f:$n: unknown key $key (keys: ${HR_KEYS[*]})"
        if [[ $raw == \'* ]]; then
            [[ $raw =~ $re_sq ]] || hr_die 2 "$f:$n: unterminated '...' value"
            val=${BASH_REMATCH[1]}
        elif [[ $raw == \"* ]]; then
            [[ $raw =~ $re_dq ]] || hr_die 2 "$f:$n: unterminated \"...\" value"
            val=$(hr_unescape "${BASH_REMATCH[1]}")
        else
            val=${raw%%[[:space:]]#*}
            [[ $val == \#* ]] && val=""
            val=${val%"${val##*[![:space:]]}"}
        fi
        hr_conf_put "$key" "$val" "$dir"
    done <"$f"
}
# hr_conf_put KEY VALUE BASE: set KEY; relative roots are made absolute against BASE, and so
# is HPCREC_BIN when it holds a / (a bare command name is looked up in PATH)
hr_conf_put() {
    local v=$2
    [[ $v != *$'\n'* ]] || hr_die 2 "$1: a value must be one line"
    case "$1" in
        DATA_ROOT|MODEL_ROOT|WORK_ROOT) v=$(hr_abs "$v" "$3") ;;
        HPCREC_BIN) [[ $v == */* ]] && v=$(hr_abs "$v" "$3") ;;
    esac
    CONF[$1]=$v
}
hr_unescape() {
    local s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [ "$c" = '\' ] && [ $((i + 1)) -lt ${#s} ]; then i=$((i + 1)); c=${s:i:1}; fi
        out+=$c
    done
    printf '%s' "$out"
}

# hr_conf_load: defaults, the configuration file, the overrides; then validate
hr_conf_load() {
    local f=${HR_CONFIG:-${HPCREC_CONF:-$HR_LIB_DIR/hpcrec.conf}} kv
    if [ -n "$HR_CONFIG" ] || [ -n "${HPCREC_CONF:-}" ] || [ -f "$f" ]; then
        hr_conf_file "$f"
        HR_CONFIG=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
    fi
    for kv in ${HR_OVERRIDES[@]+"${HR_OVERRIDES[@]}"}; do
        hr_conf_put "${kv%%=*}" "${kv#*=}" "$PWD"
    done
    hr_conf_check
}

hr_conf_check() {
    local k v w
    for k in NODES RANKS_PER_NODE CPUS_PER_RANK THREADS_PER_RANK WINDOW_DAYS FACTORS ITERS RECOMMEND_TOP SIMILAR_TOP; do
        [[ ${CONF[$k]} =~ ^[1-9][0-9]{0,8}$ ]] || hr_die 2 "$k must be a whole number >= 1, got '${CONF[$k]}'"
    done
    for k in SIGNAL_LEAD MAX_REQUEUES CHECKPOINT_EVERY INDEX_MIN_ITEMS; do
        [[ ${CONF[$k]} =~ ^[0-9]{1,9}$ ]] || hr_die 2 "$k must be a whole number >= 0, got '${CONF[$k]}'"
    done
    [[ ${CONF[GATE_TOLERANCE]} =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] ||
        hr_die 2 "GATE_TOLERANCE must be a number >= 0, got '${CONF[GATE_TOLERANCE]}'"
    [[ ${CONF[GATE_METRIC]} =~ ^[a-z0-9_]+@([0-9]+)$ ]] || hr_die 2 "GATE_METRIC must look like ndcg@10, got '${CONF[GATE_METRIC]}'"
    [[ ,${CONF[EVAL_K]}, == *,${BASH_REMATCH[1]},* ]] ||
        hr_die 2 "EVAL_K (${CONF[EVAL_K]}) must include the cut-off of GATE_METRIC (${CONF[GATE_METRIC]})"
    [[ ${CONF[EVAL_K]} =~ ^[0-9]+(,[0-9]+)*$ ]] || hr_die 2 "EVAL_K must look like 10,20, got '${CONF[EVAL_K]}'"
    for k in LAUNCHER:srun/mpirun ALGO:als/ials WARM_START:yes/no GATE:yes/no SIMILAR:auto/yes/no CLEAN_WORK:yes/no; do
        v=${CONF[${k%%:*}]}
        [[ /${k#*:}/ == */"$v"/* ]] && [ -n "$v" ] || hr_die 2 "${k%%:*} must be one of ${k#*:}, got '$v'"
    done
    [[ ${CONF[JOB_NAME]} =~ ^[A-Za-z0-9._-]+$ ]] || hr_die 2 "JOB_NAME may hold letters, digits and ._- only"
    [[ ${CONF[TIME_LIMIT]} =~ ^[0-9]+([-:][0-9]+){0,3}$ ]] || hr_die 2 "TIME_LIMIT must be a Slurm time (e.g. 01:30:00), got '${CONF[TIME_LIMIT]}'"
    [ -z "${CONF[MEM_PER_NODE]}" ] || [[ ${CONF[MEM_PER_NODE]} =~ ^[0-9]+[KMGT]?$ ]] ||
        hr_die 2 "MEM_PER_NODE must look like 64G, got '${CONF[MEM_PER_NODE]}'"
    for k in PARTITION ACCOUNT QOS; do
        [[ ${CONF[$k]} =~ ^[A-Za-z0-9._,-]*$ ]] || hr_die 2 "$k may hold letters, digits and ._,- only"
    done
    hr_words MODULES
    for w in ${WORDS[@]+"${WORDS[@]}"}; do
        [[ $w =~ ^[A-Za-z0-9._/+-]+$ ]] || hr_die 2 "MODULES: '$w' is not a module name"
    done
    hr_words ENV
    for w in ${WORDS[@]+"${WORDS[@]}"}; do
        [[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]] || hr_die 2 "ENV: '$w' is not NAME=VALUE"
    done
    for k in HPCREC_BIN DATA_ROOT MODEL_ROOT WORK_ROOT; do
        [ -n "${CONF[$k]}" ] || hr_die 2 "$k must not be empty"
    done
}

# hr_words KEY: the list value of KEY split on white space into the array WORDS
hr_words() {
    WORDS=()
    local IFS=$' \t\n'
    read -r -a WORDS <<<"${CONF[$1]}" || true
}

# hr_conf_write FILE: the effective configuration as a file hr_conf_file reads back
hr_conf_write() {
    local k v
    {
        echo "# effective hpcrec Slurm configuration, written $(date '+%F %T') by ${HR_PROG:-hpcrec}"
        [ -n "$HR_CONFIG" ] && printf '# from %s and the command line\n' "${HR_CONFIG//$'\n'/ }"
        for k in "${HR_KEYS[@]}"; do
            v=${CONF[$k]}
            if [[ $v != *"'"* ]]; then
                printf "%s='%s'\n" "$k" "$v"
            else
                v=${v//\\/\\\\}; v=${v//\"/\\\"}
                printf '%s="%s"\n' "$k" "$v"
            fi
        done
    } >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

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

# ---- published models ------------------------------------------------------------------
# MODEL_ROOT/DAY/ is published when it holds model.tar and PUBLISHED (written last, before the
# directory is renamed into place); current and previous are relative symlinks to day dirs.

# hr_published_days ROOT: the published days, oldest first
hr_published_days() {
    local d
    for d in "$1"/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]; do
        [ -f "$d/PUBLISHED" ] && [ -f "$d/model.tar" ] && basename "$d"
    done | LC_ALL=C sort
}
# hr_link_day ROOT NAME: the day a symlink (current, previous) points at, or nothing
hr_link_day() {
    local t
    t=$(readlink "$1/$2" 2>/dev/null) || return 1
    t=${t%/}; t=${t##*/}
    hr_day_ok "$t" && printf '%s' "$t"
}
# hr_set_link ROOT NAME DAY: atomically point ROOT/NAME at DAY (rename of a temporary symlink)
hr_set_link() {
    local tmp="$1/.$2.tmp.$$"
    rm -f "$tmp"
    ln -s "$3" "$tmp" && mv -T -f "$tmp" "$1/$2"
}
# hr_verify_published DIR [BIN]: DIR is a complete published day: the marker, every file the
# manifest lists with its size, and (when BIN is given) `hpcrec inspect` of the model, which
# verifies its checksums.  Prints the reason on failure.
hr_verify_published() {
    local d=$1 bin=${2:-} size name got
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
