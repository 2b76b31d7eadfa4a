# shellcheck shell=bash
# slurm/lib/trust.sh — who may have written a path, private directories, safe writes, locks,
# umask and group (loaded by slurm/lib.sh; slurm/local-cluster.sh sources it alone).
#
# The rule (as OpenSSH's StrictModes): a path is trusted when it and every directory above it
# are owned by the running user or root and are not writable by group or others, except
#   - a root-owned directory with the sticky bit (/tmp, /scratch): others cannot rename or
#     remove what they do not own in it, and
#   - a directory writable by the group HR_SHARED_GID (SHARED_GROUP, set by hr_conf_check):
#     the site trusts that group's members like the user.
# Symbolic links on the way are followed; each link must itself be owned by the user or root
# (the directory holding it is checked as well).  Messages go to HR_WHY; nothing here exits
# except hr_conf_trust.  Everything a script creates below a trusted root is owned by the
# user; per-day directories are private (hr_private_dir), and files are written through a
# temporary name and a rename (hr_write_file) or appended without following a symlink
# (hr_append), so a link planted by someone else is refused, never followed.
#
# Limits: the checks run before the work, not at every open; a member of SHARED_GROUP (or
# root) can still swap things afterwards.  This is the trust the site grants them.

HR_WHY=""
HR_SHARED_GID=${HR_SHARED_GID:-}

# _hr_owner_ok UID: the running user or root
_hr_owner_ok() { [ "$1" = "$EUID" ] || [ "$1" = 0 ]; }
_hr_user() { id -nu "$1" 2>/dev/null || echo "uid $1"; }

# _hr_mode_ok PATH TYPE UID GID MODE(octal text): the write rule above; sets HR_WHY
_hr_mode_ok() {
    local p=$1 type=$2 uid=$3 gid=$4 m=$((8#$5))
    if ! _hr_owner_ok "$uid"; then
        HR_WHY="$p is owned by $(_hr_user "$uid"), not by $(_hr_user "$EUID")$([ "$EUID" = 0 ] || echo " or root")"; return 1
    fi
    (( (m & 8#022) != 0 )) || return 0
    if [ "$type" = directory ] && [ "$uid" = 0 ] && (( (m & 8#1000) != 0 )); then return 0; fi
    if (( (m & 8#002) == 0 )) && [ -n "$HR_SHARED_GID" ] && [ "$gid" = "$HR_SHARED_GID" ]; then return 0; fi
    HR_WHY="$p is writable by $( (( (m & 8#002) != 0 )) && echo others || echo "its group $(getent group "$gid" | cut -d: -f1)") (mode $(printf '%04o' "$m"))"
    HR_WHY+="; allowed: owned by the user or root and not writable by group or others, a root-owned directory with the sticky bit, or group-writable by SHARED_GROUP"
    return 1
}

# _hr_stat PATH...: lstat each PATH not yet known into _HR_ST[PATH]="type|uid|gid|mode", with
# one stat(1) for all of them (a fork costs ~0.1 s on a loaded node); missing paths stay
# unknown.  The cache serves one hr_trust_path call, or all the calls of one hr_conf_trust /
# hr_lib_trust (_HR_BATCH=1), so a chmod between two checks is always seen.
declare -A _HR_ST=()
_HR_BATCH=0
_hr_stat() {
    local -a need=()
    local p u g m t n
    for p; do [ -n "${_HR_ST[$p]+x}" ] || need+=("$p"); done
    [ ${#need[@]} -gt 0 ] || return 0
    while IFS='|' read -r u g m t n; do
        _HR_ST[$n]="$t|$u|$g|$m"
    done < <(stat -c '%u|%g|%a|%F|%n' -- "${need[@]}" 2>/dev/null)
}
# _hr_prefixes PATH: the directories leading to PATH and PATH itself, literally (into PFX)
_hr_prefixes() {
    local cur="" c
    local -a parts
    PFX=(/)
    IFS=/ read -r -a parts <<<"${1#/}" || true
    for c in ${parts[@]+"${parts[@]}"}; do
        [ -n "$c" ] && [ "$c" != . ] || continue
        cur=$cur/$c
        PFX+=("$cur")
    done
}
# hr_trust_prefetch PATH...: _hr_stat every prefix of every PATH in one go
hr_trust_prefetch() {
    local p
    local -a all=()
    for p; do _hr_prefixes "$p"; all+=("${PFX[@]}"); done
    _hr_stat "${all[@]}"
}

# hr_trust_path PATH KIND: PATH (absolute) is trusted (see above) and is
#   dir     a directory
#   root    a directory that others cannot write even with the sticky bit: the roots, where
#           the scripts use fixed names (publish.log, .blocked/, day directories)
#   file    a regular file
#   secret  a regular file not readable, writable or executable by group or others
#   exec    an executable regular file
# Status 0, or 1 with the reason in HR_WHY.
hr_trust_path() {
    local path=$1 kind=$2 cur="" comp next type uid gid mode hops=0 t i=0 last
    local -a todo tl
    case "$path" in /*) ;; *) HR_WHY="'$path' is not an absolute path"; return 1 ;; esac
    [ "$_HR_BATCH" = 1 ] || _HR_ST=()
    hr_trust_prefetch "$path"
    [ -n "${_HR_ST[/]+x}" ] || { HR_WHY="cannot stat /"; return 1; }
    IFS='|' read -r type uid gid mode <<<"${_HR_ST[/]}"
    _hr_mode_ok / directory "$uid" "$gid" "$mode" || return 1
    IFS=/ read -r -a todo <<<"${path#/}" || true
    while [ "$i" -lt "${#todo[@]}" ]; do
        comp=${todo[i]}; i=$((i + 1))
        case "$comp" in ""|.) continue ;; ..) cur=${cur%/*}; continue ;; esac
        next=$cur/$comp
        _hr_stat "$next"
        [ -n "${_HR_ST[$next]+x}" ] || { HR_WHY="$next does not exist"; return 1; }
        IFS='|' read -r type uid gid mode <<<"${_HR_ST[$next]}"
        if [ "$type" = "symbolic link" ]; then
            _hr_owner_ok "$uid" || { HR_WHY="$next is a symbolic link owned by $(_hr_user "$uid")"; return 1; }
            hops=$((hops + 1))
            [ "$hops" -le 40 ] || { HR_WHY="$path: too many symbolic links"; return 1; }
            t=$(readlink -- "$next")
            tl=()
            IFS=/ read -r -a tl <<<"${t#/}" || true
            todo=(${tl[@]+"${tl[@]}"} "${todo[@]:i}"); i=0
            case "$t" in /*) cur="" ;; esac
            continue
        fi
        # the last component is PATH itself
        last=1
        for t in "${todo[@]:i}"; do case "$t" in ""|.) ;; *) last=0; break ;; esac; done
        if [ "$last" = 0 ] || [ "$kind" = dir ] || [ "$kind" = root ]; then
            [ "$type" = directory ] || { HR_WHY="$next is not a directory"; return 1; }
        else
            [[ $type == "regular file" || $type == "regular empty file" ]] || { HR_WHY="$next is not a regular file"; return 1; }
        fi
        _hr_mode_ok "$next" "$type" "$uid" "$gid" "$mode" || return 1
        if [ "$last" = 1 ]; then
            case "$kind" in
                root) (( (8#$mode & 8#002) == 0 )) || { HR_WHY="$next is writable by others (mode $mode): a root must not be, even with the sticky bit (others could make its fixed names first)"; return 1; } ;;
                secret) (( (8#$mode & 8#077) == 0 )) || { HR_WHY="$next is readable by group or others (mode $mode; it must be 0600 or 0400)"; return 1; } ;;
                exec) (( (8#$mode & 8#111) != 0 )) || { HR_WHY="$next is not executable"; return 1; } ;;
            esac
        fi
        cur=$next
    done
    [ -n "$cur" ] || [ "$kind" = dir ] || [ "$kind" = root ] || { HR_WHY="$path is not a file"; return 1; }
    return 0
}

# hr_trust_missing PATH: the deepest existing directory above or at PATH is trusted (for a
# path about to be created there)
hr_trust_missing() {
    local p=$1
    while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=${p%/*}; p=${p:-/}; done
    hr_trust_path "$p" dir
}

# hr_conf_trust [--create] [KEY...]: the path keys of the configuration (all of type indir,
# outdir, file, secret, bin; or the KEYs given) pass hr_trust_path; a missing outdir is made
# (mkdir -p under the umask) with --create, else only the folders above it are checked.
# Exit 2 with the key and the reason otherwise.  Run it after hr_umask_apply, before any work.
hr_conf_trust() {
    local create=0 k v p
    [ "${1:-}" != --create ] || { create=1; shift; }
    local -a keys=("$@") paths=() missing=()
    [ ${#keys[@]} -gt 0 ] || keys=("${HR_KEYS[@]}")
    for k in "${keys[@]}"; do
        case "${HR_KEY_TYPE[$k]}:${CONF[$k]}" in indir:/*|outdir:/*|file:/*|secret:/*|bin:/*) paths+=("${CONF[$k]}") ;; esac
    done
    _HR_ST=() _HR_BATCH=1
    [ ${#paths[@]} -eq 0 ] || hr_trust_prefetch "${paths[@]}"
    # every check first, so that nothing is created when any of them fails
    for k in "${keys[@]}"; do
        v=${CONF[$k]}
        case "${HR_KEY_TYPE[$k]}" in
            indir|outdir)
                if [ -e "$v" ] || [ -L "$v" ]; then
                    hr_trust_path "$v" root || hr_die 2 "$k $v: $HR_WHY"
                else
                    hr_trust_missing "$v" || hr_die 2 "$k $v: $HR_WHY"
                    [ "${HR_KEY_TYPE[$k]}" = indir ] || missing+=("$k")
                fi ;;
            file|secret)
                [ -z "$v" ] || hr_trust_path "$v" "${HR_KEY_TYPE[$k]}" || hr_die 2 "$k $v: $HR_WHY" ;;
            bin)
                p=$v
                if [[ $v != */* ]]; then
                    p=$(type -P -- "$v") || hr_die 2 "$k '$v' is not a command found in PATH"
                fi
                hr_trust_path "$p" exec || hr_die 2 "$k $v: $HR_WHY" ;;
        esac
    done
    _HR_BATCH=0
    [ "$create" = 1 ] || return 0
    for k in ${missing[@]+"${missing[@]}"}; do
        mkdir -p -- "${CONF[$k]}" || hr_die 2 "$k: cannot create ${CONF[$k]}"
        hr_trust_path "${CONF[$k]}" root || hr_die 2 "$k ${CONF[$k]}: $HR_WHY"
    done
}

# hr_private_dir DIR: DIR is a directory of this user, not a symbolic link, that group and
# others cannot write (made 0700 when missing; an existing one is set to 0700).  Status 1 with
# HR_WHY otherwise: someone else made it or could have planted something in it.
hr_private_dir() {
    local d=$1 info type uid m
    if [ ! -e "$d" ] && [ ! -L "$d" ]; then
        mkdir -m 700 -- "$d" 2>/dev/null || [ -d "$d" ] || { HR_WHY="cannot create $d"; return 1; }
    fi
    [ ! -L "$d" ] || { HR_WHY="$d is a symbolic link (to $(readlink -- "$d"))"; return 1; }
    info=$(stat -c '%F|%u|%a' -- "$d") || { HR_WHY="cannot stat $d"; return 1; }
    IFS='|' read -r type uid m <<<"$info"
    [ "$type" = directory ] || { HR_WHY="$d is not a directory"; return 1; }
    [ "$uid" = "$EUID" ] || { HR_WHY="$d is owned by $(_hr_user "$uid"), not by $(_hr_user "$EUID")"; return 1; }
    (( (8#$m & 8#022) == 0 )) || { HR_WHY="$d is writable by group or others (mode $m): something may have been planted in it; check it, then chmod 700 it"; return 1; }
    [ "$m" = 700 ] || chmod 700 -- "$d"
}

# hr_write_file PATH CONTENT: write CONTENT to PATH all or nothing: a new temporary file
# beside it (mktemp), then a rename over PATH (a symlink at PATH is replaced, not followed).
# Mode from the umask.  Status 1 (temporary removed, message printed) when it cannot be
# written completely, e.g. on a full disk.
hr_write_file() {
    local f=$1 d tmp
    d=$(dirname -- "$f")
    tmp=$(mktemp "$d/.${f##*/}.XXXXXX" 2>/dev/null) || { hr_err "cannot create a file in $d"; return 1; }
    if ! { printf '%s\n' "$2" >"$tmp"; } 2>/dev/null || ! chmod "$(hr_file_mode)" -- "$tmp" ||
       ! mv -fT -- "$tmp" "$f"; then
        rm -f -- "$tmp"
        hr_err "cannot write $f (disk full or not writable?)"
        return 1
    fi
}

# hr_append FILE LINE: append LINE to FILE (created when missing, mode from the umask),
# refusing a symbolic link or a file of another user at FILE
hr_append() {
    [ ! -e "$1" ] || [ -O "$1" ] || { hr_err "$1 is owned by another user: not appending to it"; return 1; }
    printf '%s\n' "$2" | dd of="$1" oflag=append,nofollow conv=notrunc status=none 2>/dev/null ||
        { hr_err "cannot append to $1 (a symbolic link, or not writable)"; return 1; }
}

# hr_lock FILE SECONDS VAR: open FILE (never through a symlink) on a new descriptor, stored
# in VAR, and take an exclusive flock, waiting up to SECONDS.  Status 1 with HR_WHY.
# hr_unlock FD closes it.  Child processes inherit the descriptor: unlock before starting
# anything long that must not hold the lock.
hr_lock() {
    local f=$1 fd
    [ ! -L "$f" ] || { HR_WHY="$f is a symbolic link"; return 1; }
    [ ! -e "$f" ] || { [ -f "$f" ] && [ -O "$f" ]; } || { HR_WHY="$f is not a regular file of $(_hr_user "$EUID")"; return 1; }
    exec {fd}>>"$f" || { HR_WHY="cannot open $f"; return 1; }
    if ! flock -w "$2" "$fd"; then
        exec {fd}>&-
        HR_WHY="$f is held by another process (waited $2 s)"
        return 1
    fi
    printf -v "$3" '%s' "$fd"
}
hr_unlock() { [[ ${1:-} =~ ^[0-9]+$ ]] && eval "exec $1>&-"; return 0; }

# ---- umask and group -----------------------------------------------------------------------
# UMASK applies to every file the scripts, Slurm (job output) and hpcrec (srun passes the
# umask to the tasks) create; published days get their modes set again from it before the
# rename (hr_publish_modes), whatever launcher wrote them.  GROUP is the group of MODEL_ROOT
# and of every published file, so consumers in it can read (UMASK 027: group read, no write).
# srun hands the tasks the umask in SLURM_UMASK, which sbatch set from the submitter's umask:
# it is set here too, so a plain `sbatch nightly.sbatch` from a shell with umask 022 still
# gives hpcrec's files UMASK.
hr_umask_apply() { umask "${CONF[UMASK]}" && export SLURM_UMASK; SLURM_UMASK=$(umask); }
hr_file_mode() { printf '%04o' $(( 8#666 & ~8#$(umask) )); }
hr_dir_mode() { printf '%04o' $(( 8#777 & ~8#$(umask) )); }
# hr_group_dir DIR: give DIR (owned by this user) the group GROUP and the setgid bit, so what
# is created in it gets GROUP; nothing when GROUP is empty
hr_group_dir() {
    local g=${CONF[GROUP]:-}
    [ -n "$g" ] && [ -O "$1" ] || return 0
    [ "$(stat -c %G -- "$1")" = "$g" ] || chgrp -- "$g" "$1" || return 1
    [ -g "$1" ] || chmod g+s -- "$1"
}
# hr_publish_modes DIR: every directory under DIR (and DIR) gets the directory mode of the
# umask, every file the file mode, all of it the group GROUP (directories setgid)
hr_publish_modes() {
    local d=$1 dm fm g=${CONF[GROUP]:-}
    dm=$(hr_dir_mode) fm=$(hr_file_mode)
    [ -z "$g" ] || chgrp -R -- "$g" "$d" || return 1
    find "$d" -type d -exec chmod "$dm" {} + && find "$d" -type f -exec chmod "$fm" {} + || return 1
    [ -z "$g" ] || find "$d" -type d -exec chmod g+s {} +
}
