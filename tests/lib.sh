# tests/lib.sh — shared helpers for the shell-level tests (sourced).
# Each test script runs cases with `tcase NAME cmd...`; the runner counts "ok"/"not ok"/"skip"
# lines.  Paths: HR_BIN (the binary), HR_DATA (the real datasets, default ../shared/data).
set -u
HR_ROOT=${HR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
HR_BIN=${HR_BIN:-$HR_ROOT/bin/hpcrec}
case "$HR_BIN" in /*) ;; *) HR_BIN=$HR_ROOT/$HR_BIN ;; esac
HR_DATA=${HR_DATA:-$HR_ROOT/../shared/data}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# ob1 is the messaging layer Open MPI picks on these machines anyway; naming it spares every
# start the probing of the cm layer's psm/psm2 components: ~14% of a 2-rank start's CPU time
# (0.69 -> 0.59 s), and the suite starts mpirun several hundred times.
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}

# mpirun wrapper: hr_mpi NP cmd...
hr_mpi() {
    local np=$1; shift
    mpirun --oversubscribe --bind-to none -np "$np" "$@"
}
# hpcrec under mpirun: hr NP subcommand args...
hr() {
    local np=$1; shift
    hr_mpi "$np" "$HR_BIN" "$@"
}

HR_TMP=$(mktemp -d /tmp/hpcrec-test.XXXXXX)
trap 'rm -rf "$HR_TMP"' EXIT
# Open MPI's session directories under this script's own folder: scripts run side by side, and
# an mpirun that ends removes the shared /tmp/ompi.HOST.UID when it looks empty, which another
# script's mpirun may be creating its pid.N folder in at that moment ("A call to mkdir was
# unable to create the desired directory", seen in a full test run).
export OMPI_MCA_orte_tmpdir_base=$HR_TMP

# A failing run otherwise costs ~2 s of mpirun teardown; the ranks have agreed on the error.
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-0}
TO=${HR_TIMEOUT:-60}
# hrt NP subcommand args...: hpcrec under mpirun, killed after $TO seconds (scripts may set TO).
hrt() {
    local np=$1; shift
    timeout -k 5 "$TO" mpirun --oversubscribe --bind-to none -np "$np" "$HR_BIN" "$@"
}
# jtrue EXPR FILE...: the Python expression EXPR over the JSON files bound to a, b, c... holds.
jtrue() {
    local expr=$1; shift
    python3 - "$expr" "$@" <<'EOF' || fail "does not hold: $expr"
import json, sys
expr, files = sys.argv[1], sys.argv[2:]
env = {n: json.load(open(f)) for n, f in zip("abcdef", files)}
glb = dict(env, isnum=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
try:
    ok = eval(expr, glb)
except Exception as e:
    print("cannot evaluate %s: %r" % (expr, e), file=sys.stderr)
    ok = False
if not ok:
    for n, f in zip("abcdef", files):
        s = env[n]   # long summaries: segment keys (dotted) left out, comparison kept
        keys = sorted(s) if len(s) < 80 else [k for k in sorted(s) if "." not in k or k.startswith("compare.")]
        print("  %s = %s: %s" % (n, f, json.dumps({k: s[k] for k in keys})), file=sys.stderr)
    sys.exit(1)
EOF
}

_fails=0
tcase() {
    local name=$1; shift
    local log=$HR_TMP/case.log
    if ( "$@" ) >"$log" 2>&1; then
        echo "ok $name"
    else
        local rc=$?
        if [ "$rc" = 77 ]; then
            echo "skip $name: $(tail -n 1 "$log")"
        else
            echo "not ok $name (exit $rc)"
            sed 's/^/    | /' "$log" | tail -n 40
            _fails=$((_fails + 1))
        fi
    fi
}
# skip_unless_data SUBDIR: exit 77 (skip) with a clear message when a dataset is absent.
need_data() {
    [ -d "$HR_DATA/$1" ] || { echo "dataset $1 not found under HR_DATA=$HR_DATA (set HR_DATA to ../shared/data)"; exit 77; }
}
fail() { echo "FAIL: $*" >&2; exit 1; }
# json_get FILE KEY: print a top-level key of a JSON summary.
json_get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("null" if v is None else v)' "$1" "$2"; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', expected '$2'"; }
assert_json() { local v; v=$(json_get "$1" "$2"); assert_eq "$v" "$3" "$2 in $1"; }
# expect_fail CODE PATTERN cmd...: cmd must exit CODE and print PATTERN (grep -E) on stderr/stdout.
expect_fail() {
    local code=$1 pat=$2; shift 2
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" = "$code" ] || fail "expected exit $code, got $rc: $out"
    echo "$out" | grep -Eq -- "$pat" || fail "output lacks /$pat/: $out"
}
