# shellcheck shell=bash
# slurm/lib/conf.sh — the configuration of the hpcrec Slurm scripts (loaded by slurm/lib.sh).
#
# Sources, in order: the registry's defaults, one KEY=VALUE file (--config FILE, else
# $HPCREC_CONF, else slurm/hpcrec.conf beside lib.sh), then command-line overrides in order
# (--set KEY=VALUE or --key-name VALUE).  The file is parsed here, line by line; it is never
# sourced or evaluated, so a value cannot expand or run anything by itself.  But some keys
# name code (HPCREC_BIN, MODULES, ENV, SRUN_ARGS, MPIRUN_ARGS, SBATCH_ARGS), so the file is as
# trusted as code: hr_conf_file refuses one that hr_trust_path refuses (owner, mode, folders).
# The result is the associative array CONF; hr_words KEY splits a list value into WORDS.
#
# HOW TO ADD A KEY
#   1. one line in the registry below:  hr_key NAME TYPE DEFAULT
#      Registration order is the order of a written configuration (hr_conf_text).
#   2. when the type's check is not enough, define hr_check_NAME (called by hr_conf_check
#      after the type checks, with the whole CONF loaded; die with hr_die 2 "message").
#   3. document it in slurm/hpcrec.conf and in the key table of docs/operations.md.
#   Types (the check runs in hr_conf_check; the path types are also checked by hr_conf_trust
#   before any work, so a new path key gets the ownership and mode checks for free):
#     indir      a directory the jobs read (DATA_ROOT): absolute (relative to the config
#                file's folder); must pass hr_trust_path when it exists
#     outdir     a directory the jobs write (MODEL_ROOT, WORK_ROOT): as indir, and created
#                (with UMASK) when missing
#     file       an optional file (empty: unused): must exist and pass hr_trust_path
#     secret     an optional key file: as file, and not readable by group or others (0600)
#     bin        a program: a path (absolute against the config folder when it holds a /)
#                or a command name looked up in PATH; must be an executable that passes
#                hr_trust_path
#     count      a whole number >= 1            uint     a whole number >= 0
#     number     a decimal number >= 0          words    a list of words (any text)
#     choice:A/B/C   one of the listed words    env      NAME=VALUE words for the steps
#     name       letters, digits and ._,- (may be empty: PARTITION, ACCOUNT, QOS)
#     jobname    letters, digits and ._- (not empty)
#     time       a Slurm time (01:30:00, 2-00:00:00)    mem   empty or e.g. 64G
#     modules    module names                   metric   name@K, e.g. ndcg@10
#     klist      cut-offs, e.g. 10,20           umask    an octal umask that keeps the owner's rwx
#     group      empty or an existing group
#   Every value must be one line.

HR_KEYS=()              # registration order
declare -A CONF=() HR_KEY_TYPE=()
HR_CONFIG=""            # the configuration file read (absolute), after hr_conf_load
HR_CONFIG_FROM=""       # where the configuration came from, for logs
HR_OVERRIDES=()         # KEY=VALUE from the command line, applied in order
HR_SHIFT=0

# hr_key NAME TYPE DEFAULT: register a key
hr_key() { HR_KEYS+=("$1"); HR_KEY_TYPE[$1]=$2; CONF[$1]=$3; }

# ---- the registry (defaults as in slurm/hpcrec.conf) ---------------------------------------
hr_key HPCREC_BIN       bin       "$HR_LIB_DIR/../bin/hpcrec"
hr_key DATA_ROOT        indir     ""
hr_key MODEL_ROOT       outdir    ""
hr_key WORK_ROOT        outdir    ""
hr_key UMASK            umask     027
hr_key GROUP            group     ""
hr_key SHARED_GROUP     group     ""
hr_key KEEP_DAYS        uint      0
hr_key PARTITION        name      ""
hr_key ACCOUNT          name      ""
hr_key QOS              name      ""
hr_key NODES            count     2
hr_key RANKS_PER_NODE   count     1
hr_key CPUS_PER_RANK    count     1
hr_key THREADS_PER_RANK count     1
hr_key MEM_PER_NODE     mem       ""
hr_key TIME_LIMIT       time      00:30:00
hr_key SIGNAL_LEAD      uint      120
hr_key MAX_REQUEUES     uint      5
hr_key JOB_NAME         jobname   hpcrec-nightly
hr_key SBATCH_ARGS      words     ""
hr_key MODULES          modules   ""
hr_key LAUNCHER         choice:srun/mpirun srun
hr_key SRUN_ARGS        words     --mpi=pmix
hr_key MPIRUN_ARGS      words     "--bind-to none"
hr_key ENV              env       "OMPI_MCA_mpi_yield_when_idle=1 PMIX_MCA_gds=hash OMPI_MCA_oob_tcp_keepalive_time=10 OMPI_MCA_oob_tcp_keepalive_intvl=2 OMPI_MCA_oob_tcp_keepalive_probes=5"
hr_key WINDOW_DAYS      count     1
hr_key INGEST_ARGS      words     ""
hr_key SPLIT_ARGS       words     "--last 1"
hr_key ALGO             choice:als/ials ials
hr_key FACTORS          count     32
hr_key ITERS            count     10
hr_key TRAIN_ARGS       words     ""
hr_key CHECKPOINT_EVERY uint      2
hr_key WARM_START       choice:yes/no yes
hr_key EVAL_K           klist     10,20
hr_key GATE             choice:yes/no yes
hr_key GATE_METRIC      metric    ndcg@10
hr_key GATE_TOLERANCE   number    0.01
hr_key RECOMMEND_TOP    count     20
hr_key RECOMMEND_ARGS   words     ""
hr_key SIMILAR          choice:auto/yes/no auto
hr_key SIMILAR_TOP      count     20
hr_key EXPORT_SQLITE    choice:yes/no no
hr_key CLEAN_WORK       choice:yes/no yes
hr_key INDEX_MIN_ITEMS  uint      500000
hr_key FORGET_LIST      file      ""
hr_key FORGET_KEY       secret    ""
hr_key DRIFT_MAX_PSI    number    0
hr_key DRIFT_MIN_OVERLAP number   0
hr_key DRIFT_NEIGHBOURS uint      10
hr_key REPORT           choice:yes/no yes

# ENV names that are refused: the shell's and the dynamic loader's own variables, Slurm's
# option variables, the library's prefixes, the thread counts THREADS_PER_RANK sets, and the
# scripts' own globals (ENV reaches only the steps' environment, never the scripts' shell,
# but a name the scripts use would still be read as a mistake)
HR_ENV_DENY_PREFIX='^(LD_|BASH_|HR_|HPCREC_|SLURM_|SRUN_|SBATCH_|SALLOC_)'
HR_ENV_DENY=" ENV BASH_ENV IFS PATH CDPATH GLOBIGNORE SHELLOPTS BASHOPTS PS4 PROMPT_COMMAND
  SHELL HOME GCONV_PATH LOCPATH NLSPATH HOSTALIASES RESOLV_HOST_CONF OPENBLAS_NUM_THREADS
  OMP_NUM_THREADS CONF WORDS DAY START BIN M W WR JOB RESTARTS NTASKS STEP STEP_PID SIGNALS
  PREEMPT TERMINATING LAUNCH RC S "

hr_is_key() { [ -n "${HR_KEY_TYPE[$1]+x}" ]; }

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

# hr_conf_file FILE: check FILE with hr_trust_path (exit 2 when unsafe), read it into CONF
hr_conf_file() {
    local f=$1 dir
    [ -f "$f" ] && [ -r "$f" ] || hr_die 2 "configuration file '$f' not found or not readable"
    dir=$(cd "$(dirname "$f")" && pwd)
    hr_trust_path "$dir/$(basename "$f")" file ||
        hr_die 2 "configuration file refused (it is as trusted as code): $HR_WHY"
    hr_conf_lines "$f" "$dir" <"$f"
}
# hr_conf_lines NAME BASE: read KEY=VALUE lines from stdin (NAME for messages; relative paths
# against BASE)
hr_conf_lines() {
    local f=$1 dir=$2 n=0 line key raw val re_sq re_dq
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
    done
}
# hr_conf_put KEY VALUE BASE: set KEY; path keys are made absolute against BASE, and so is a
# bin key when it holds a / (a bare command name is looked up in PATH)
hr_conf_put() {
    local v=$2
    [[ $v != *$'\n'* ]] || hr_die 2 "$1: a value must be one line"
    case "${HR_KEY_TYPE[$1]}" in
        indir|outdir|file|secret) v=$(hr_abs "$v" "$3") ;;
        bin) [[ $v == */* ]] && v=$(hr_abs "$v" "$3") ;;
    esac
    CONF[$1]=$v
}
# hr_unescape TEXT: the inside of a "double-quoted" value: \" and \\ are the only escapes;
# any other backslash stays as it is (\x is backslash, x)
hr_unescape() {
    local s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [ "$c" = '\' ] && [ $((i + 1)) -lt ${#s} ] && [[ ${s:i+1:1} == [\"\\] ]]; then
            i=$((i + 1)); c=${s:i:1}
        fi
        out+=$c
    done
    printf '%s' "$out"
}

# hr_conf_load: defaults, the configuration (the one bundled into a submitted job, else the
# file), the overrides; then hr_conf_check.  Exit 2 on any error.
hr_conf_load() {
    local f=${HR_CONFIG:-${HPCREC_CONF:-$HR_LIB_DIR/hpcrec.conf}} kv
    if [ -n "${HR_BUNDLED_CONF+x}" ]; then
        # written by hr_conf_text at submission: every path is absolute already
        hr_conf_lines "(submitted configuration)" / <<<"$HR_BUNDLED_CONF"
        HR_CONFIG_FROM="the configuration bundled at submission ($(sed -n 's/^# from //p' <<<"$HR_BUNDLED_CONF" | head -n 1))"
    elif [ -n "$HR_CONFIG" ] || [ -n "${HPCREC_CONF:-}" ] || [ -f "$f" ]; then
        hr_conf_file "$f"
        HR_CONFIG=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
        HR_CONFIG_FROM=$HR_CONFIG
    else
        HR_CONFIG_FROM="built-in defaults"
    fi
    for kv in ${HR_OVERRIDES[@]+"${HR_OVERRIDES[@]}"}; do
        hr_conf_put "${kv%%=*}" "${kv#*=}" "$PWD"
    done
    hr_conf_check
}

# hr_conf_check: every key by its type, then the hr_check_KEY hooks; sets HR_SHARED_GID
hr_conf_check() {
    local k t v w
    for k in "${HR_KEYS[@]}"; do
        t=${HR_KEY_TYPE[$k]} v=${CONF[$k]}
        case "$t" in
            indir|outdir)
                [[ $v != *\\* ]] || hr_die 2 "$k must not hold a backslash (Slurm's --output cannot escape it): '$v'" ;;
            bin) ;;
            file|secret) ;;
            count) [[ $v =~ ^[1-9][0-9]{0,8}$ ]] || hr_die 2 "$k must be a whole number >= 1, got '$v'" ;;
            uint) [[ $v =~ ^[0-9]{1,9}$ ]] || hr_die 2 "$k must be a whole number >= 0, got '$v'" ;;
            number) [[ $v =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] || hr_die 2 "$k must be a number >= 0, got '$v'" ;;
            choice:*) [ -n "$v" ] && [[ /${t#choice:}/ == */"$v"/* ]] || hr_die 2 "$k must be one of ${t#choice:}, got '$v'" ;;
            words) ;;
            name) [[ $v =~ ^[A-Za-z0-9._,-]*$ ]] || hr_die 2 "$k may hold letters, digits and ._,- only" ;;
            jobname) [[ $v =~ ^[A-Za-z0-9._-]+$ ]] || hr_die 2 "$k may hold letters, digits and ._- only" ;;
            time) [[ $v =~ ^[0-9]+([-:][0-9]+){0,3}$ ]] || hr_die 2 "$k must be a Slurm time (e.g. 01:30:00), got '$v'" ;;
            mem) [ -z "$v" ] || [[ $v =~ ^[0-9]+[KMGT]?$ ]] || hr_die 2 "$k must look like 64G, got '$v'" ;;
            metric) [[ $v =~ ^[a-z0-9_]+@[0-9]+$ ]] || hr_die 2 "$k must look like ndcg@10, got '$v'" ;;
            klist) [[ $v =~ ^[0-9]+(,[0-9]+)*$ ]] || hr_die 2 "$k must look like 10,20, got '$v'" ;;
            umask)
                [[ $v =~ ^0?[0-7]{3}$ ]] || hr_die 2 "$k must be an octal umask like 027, got '$v'"
                (( (8#$v & 8#700) == 0 )) || hr_die 2 "$k must leave the owner read, write and execute ($v takes them away)" ;;
            group) [ -z "$v" ] || getent group "$v" >/dev/null || hr_die 2 "$k: no group '$v' on this host" ;;
            modules)
                hr_words "$k"
                for w in ${WORDS[@]+"${WORDS[@]}"}; do
                    [[ $w =~ ^[A-Za-z0-9._/+-]+$ ]] || hr_die 2 "$k: '$w' is not a module name"
                done ;;
            env)
                hr_words "$k"
                for w in ${WORDS[@]+"${WORDS[@]}"}; do
                    [[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || hr_die 2 "$k: '$w' is not NAME=VALUE"
                    v=${w%%=*}
                    ! [[ $v =~ $HR_ENV_DENY_PREFIX ]] && [[ $HR_ENV_DENY != *[[:space:]]${v}[[:space:]]* ]] ||
                        hr_die 2 "$k: $v is refused (a name the shell, the loader, Slurm or these scripts use)"
                done ;;
            *) hr_die 2 "internal: key $k has unknown type $t" ;;
        esac
    done
    HR_SHARED_GID=""
    [ -z "${CONF[SHARED_GROUP]}" ] || HR_SHARED_GID=$(getent group "${CONF[SHARED_GROUP]}" | cut -d: -f3)
    for k in "${HR_KEYS[@]}"; do
        if declare -F "hr_check_$k" >/dev/null; then "hr_check_$k"; fi
    done
    # required values last: a wrong value is the more useful message
    for k in "${HR_KEYS[@]}"; do
        case "${HR_KEY_TYPE[$k]}" in
            indir|outdir) [ -n "${CONF[$k]}" ] || hr_die 2 "$k must be set (a directory; there is no default)" ;;
            bin) [ -n "${CONF[$k]}" ] || hr_die 2 "$k must not be empty" ;;
        esac
    done
    return 0
}
# cross-key checks
hr_check_EVAL_K() {
    [[ ,${CONF[EVAL_K]}, == *,${CONF[GATE_METRIC]#*@},* ]] ||
        hr_die 2 "EVAL_K (${CONF[EVAL_K]}) must include the cut-off of GATE_METRIC (${CONF[GATE_METRIC]})"
}
hr_check_GROUP() {
    local g=${CONF[GROUP]}
    [ -n "$g" ] && [ "$EUID" != 0 ] || return 0
    id -Gn | tr ' ' '\n' | grep -qxF -- "$g" || hr_die 2 "GROUP: $(id -un) is not a member of group '$g'"
}

# hr_words KEY: the list value of KEY split on white space into the array WORDS (no globbing)
hr_words() {
    WORDS=()
    local IFS=$' \t\n'
    read -r -a WORDS <<<"${CONF[$1]}" || true
}

# hr_conf_text: the effective configuration, as text hr_conf_lines reads back
hr_conf_text() {
    local k v
    echo "# effective hpcrec Slurm configuration, written $(date '+%F %T') by ${HR_PROG:-hpcrec}"
    printf '# from %s\n' "${HR_CONFIG_FROM//$'\n'/ } and the command line"
    for k in "${HR_KEYS[@]}"; do
        v=${CONF[$k]}
        if [[ $v != *"'"* ]]; then
            printf "%s='%s'\n" "$k" "$v"
        else
            v=${v//\\/\\\\}; v=${v//\"/\\\"}
            printf '%s="%s"\n' "$k" "$v"
        fi
    done
}
# hr_conf_write FILE: hr_conf_text into FILE (hr_write_file: all or nothing)
hr_conf_write() { hr_write_file "$1" "$(hr_conf_text)"; }
