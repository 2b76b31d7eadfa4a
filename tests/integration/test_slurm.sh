#!/bin/bash
# tests/integration/test_slurm.sh — the Slurm jobs (slurm/) on a real local Slurm cluster
# (issues "Slurm jobs: nightly retraining, historical backfill and preemption" and "Slurm jobs
# on a shared cluster: trust boundaries, permissions, and a rollback that stays rolled back";
# the cases of the second that need no daemon are in test_slurm_trust.sh).
#   cluster          slurm/local-cluster.sh up: 2 nodes idle; `up` again is a no-op; status;
#                    state directory 0711, munge key 0400, munged without --force, no
#                    kill_invalid_depend (jobs ask for --kill-on-invalid-dep themselves)
#   config           slurm/lib.sh parsing: quotes, comments, a value that looks like a command
#                    stays text (nothing runs), an unknown key is refused with file:line, --set
#                    and --key-name override; backfill --dry-run shows the sbatch options
#   nightly          3 days one after another, roots with a % in their path, GROUP=daemon:
#                    day 1 through `sbatch slurm/nightly.sbatch`: first of a copy of slurm/ whose
#                    lib.sh changed after the submission (exit 2 before any work), then of
#                    slurm/ (cold start, published, current -> day 1; every published file 0640,
#                    directories 2750, group daemon; hpcrec's own files in WORK_ROOT 0640);
#                    day 2 through backfill.sh D D of the copy, held while the copy's lib.sh is
#                    poisoned and the saved configuration rewritten to run another binary: the
#                    job runs what was submitted; its CLEAN_WORK is held (an rm stand-in) while
#                    the links lock is checked free (warm start: warm_users_known > 0, compared
#                    with day 1 by the gate, current -> day 2, previous -> day 1); day 3 with
#                    TRAIN_ARGS=--lambda 1000 (a degraded model): exit 76, nothing published,
#                    current still day 2, REFUSED and publish.log say why; rollback.sh: day 2
#                    blocked; a rerun of day 2 and of day 3 (whose training recorded day 2)
#                    leave current at day 1, day 3 trains again from day 1; backfill does not
#                    relink day 2; a second rollback.sh refuses; --unblock D2 --to D2 serves it
#   publish-killed   the state a job killed between its rename into MODEL_ROOT and the links
#                    leaves (day published, current older): backfill.sh links it
#   backfill         5 days chained (afterok) with day 3's log replaced by garbage: days 1-2
#                    published, day 3 fails with exit 3, days 4-5 never run; the log fixed, the
#                    same backfill.sh resubmits days 3-5 only, each warm-started from the day
#                    before; KEEP_DAYS=4 prunes day 1 only; a third run submits nothing (day 1
#                    "pruned"); day 2 bit-identical to the nightly case's (same data, same
#                    settings, other jobs).  The cluster has no kill_invalid_depend: days 4-5
#                    are cancelled because backfill.sh asks for --kill-on-invalid-dep=yes
#   preempt          a bigger day trained twice at once: one job gets `scancel --batch
#                    --signal=USR1` mid-training -> the batch script forwards it, the training
#                    checkpoints (exit 75), the job requeues itself and resumes
#                    (resumed_from_iteration > 0); its factors are bit-identical (md5 of the
#                    tar members) to the uninterrupted job's
#   independent      backfill.sh --independent: one array job, 2 days in parallel, cold starts
#   index            INDEX_MIN_ITEMS below the catalogue: the day is published with an ip and a
#                    cosine index beside the model (listed in MANIFEST, inspect verifies them),
#                    recommend and similar took their candidates from them; the default
#                    (500000) builds none and says so
#   down             local-cluster.sh down leaves no process of the cluster; down again is fine
# Skipped (one "skip" line) when not root or Slurm / munge are not installed, or the cluster
# cannot start here.  The cluster is always torn down (trap).  Every wait is bounded.
source "$(dirname "$0")/../lib.sh"
SL=$HR_ROOT/slurm
# the cluster's state directory: munged needs every directory above its socket executable by
# all, which $HR_TMP (0700) is not
CL=$(mktemp -d /tmp/hpcrec-slurm.XXXXXX)
R="$HR_TMP/site root"          # data, models, work: a path with a space
WAIT=${HR_SLURM_WAIT:-150}     # seconds any one wait for jobs may take
D1=2026-11-01 D2=2026-11-02 D3=2026-11-03 D4=2026-11-04 D5=2026-11-05

cleanup() {
    "$SL/local-cluster.sh" down --purge "$CL" >/dev/null 2>&1 || true
    rm -rf "$CL"
    if [ -n "${HR_KEEP_TMP:-}" ]; then echo "# kept $HR_TMP"; else rm -rf "$HR_TMP"; fi
}
trap cleanup EXIT

why=""
if [ "$(id -u)" != 0 ]; then why="needs root (slurmd)"
else
    for b in slurmctld slurmd munged sbatch unshare; do
        command -v "$b" >/dev/null || { why="$b is not installed (tests/deps.sh installs slurm-wlm and munge)"; break; }
    done
fi
if [ -z "$why" ] && ! "$SL/local-cluster.sh" up -n 2 -c 2 "$CL" >"$HR_TMP/up.log" 2>&1; then
    why="the local Slurm cluster did not start: $(tail -n 3 "$HR_TMP/up.log" | tr '\n' ' ')"
fi
if [ -n "$why" ]; then
    echo "skip slurm: $why"
    exit 0
fi
T0=$(date +%s)
# shellcheck disable=SC1091
source "$CL/env.sh"
mkdir -p "$R"

# ---- helpers -----------------------------------------------------------------------------
# wait_jobs ID...: until none of the jobs (or array tasks) is in the queue; fail after $WAIT s
wait_jobs() {
    local end=$(( $(date +%s) + WAIT )) q id left
    while :; do
        q=" $(squeue -h -r -o %i 2>/dev/null | tr '\n' ' ') "
        left=""
        for id in "$@"; do
            [[ "$q" == *" $id "* || "$q" == *" ${id}_"* ]] && left="$left $id"
        done
        [ -z "$left" ] && return 0
        [ "$(date +%s)" -lt "$end" ] || fail "jobs still queued after ${WAIT}s:$left ($(squeue -h -o '%i %T %R' | tr '\n' ';'))"
        sleep 0.5
    done
}
job_field() { scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
# expect_job ID STATE EXIT: the finished job's JobState and exit code
expect_job() {
    local st ex
    st=$(job_field "$1" JobState); ex=$(job_field "$1" ExitCode)
    [ "$st" = "$2" ] && [ "${ex%%:*}" = "$3" ] && return 0
    local out; out=$(job_field "$1" StdOut)
    fail "job $1: $st exit $ex, expected $2 exit $3; output:
$(tail -n 25 "$out" 2>/dev/null)"
}
# site NAME [KEY=VALUE...]: a configuration $R/NAME.conf for the roots "$R/NAME" (models,
# work) on the data in $R/logs (KEY=VALUE lines appended)
site() {
    local name=$1; shift
    mkdir -p "$R/$name"
    {
        printf 'HPCREC_BIN="%s"\n' "$HR_BIN"
        printf "DATA_ROOT='%s'\n" "$R/logs"
        printf "MODEL_ROOT='%s/models'\nWORK_ROOT='%s/work'\n" "$name" "$name"
        echo "FACTORS=16"
        echo "ITERS=6              # tiny"
        echo "CHECKPOINT_EVERY=2"
        echo "EVAL_K=10,20"
        echo "TIME_LIMIT=00:10:00"
        echo "SIGNAL_LEAD=60"
        echo "RECOMMEND_TOP=10"
        printf '%s\n' "$@"
    } >"$R/$name.conf"
}
link() { readlink "$R/$1/models/$2" 2>/dev/null || echo none; }
members() { local m; for m in user_factors item_factors; do tar -xOf "$1" "$m.f32.zst" | md5sum | cut -c1-32; done | tr '\n' ' '; }
# submitted OUTPUT: the job ids a backfill.sh run printed
submitted() { sed -n 's/.*: submitted job \([0-9_]*\).*/\1/p' "$1" | paste -sd ' ' -; }

# tiny date-partitioned logs: 3000 users, 1000 items, 5 days of ~12k events
hr 2 gen --out "$R/logs" --users 3000 --items 1000 --interactions 60000 --kind counts --days 5 --start $D1 \
    --seed 5 >"$HR_TMP/gen.log" 2>&1 || { echo "not ok slurm-fixture (gen failed)"; cat "$HR_TMP/gen.log"; exit 1; }
HAVE_SIMILAR=0
"$HR_BIN" similar --help >/dev/null 2>&1 && HAVE_SIMILAR=1

# ---- cluster -----------------------------------------------------------------------------
case_cluster() {
    local out
    out=$("$SL/local-cluster.sh" up -n 2 -c 2 "$CL") || fail "second up failed: $out"
    grep -q 'already running' <<<"$out" || fail "second up did not say 'already running': $out"
    assert_eq "$(sinfo -h -N -o '%N %T' | sort | tr '\n' ' ')" "n1 idle n2 idle " "nodes"
    "$SL/local-cluster.sh" status "$CL" >"$HR_TMP/status.out" || fail "status: $(cat "$HR_TMP/status.out")"
    grep -q '^slurmd n2  pid [0-9]' "$HR_TMP/status.out" || fail "status lacks n2: $(cat "$HR_TMP/status.out")"
    for k in SLURM_CONF PMIX_MCA_gds OMPI_MCA_mpi_yield_when_idle OPENBLAS_NUM_THREADS; do
        grep -q "export .*$k=" "$CL/env.sh" || fail "env.sh lacks $k"
    done
    grep -q '^AuthInfo=.*cred_expire=15' "$CL/slurm.conf" || fail "cred_expire"
    grep -q '^JobRequeue=1' "$CL/slurm.conf" || fail "JobRequeue"
    ! grep -q '^DependencyParameters=.*kill_invalid_depend' "$CL/slurm.conf" || fail "kill_invalid_depend is set"
    assert_eq "$(stat -c '%a %U' "$CL" "$CL/munge/munge.key" | tr '\n' ' ')" "711 root 400 root " "modes of the state directory and the key"
    ! tr '\0' ' ' <"/proc/$(cat "$CL/run/munged.pid")/cmdline" | grep -q -- --force || fail "munged runs with --force"
    # each node is its own host name (own UTS namespace)
    out=$(timeout 60 srun -N 2 --ntasks-per-node=1 hostname | sort | tr '\n' ' ')
    assert_eq "$out" "n1 n2 " "srun hostname"
}

# ---- configuration -------------------------------------------------------------------------
case_config() {
    local c="$R/cfg dir/x.conf" out
    mkdir -p "$R/cfg dir"
    cat >"$c" <<'EOF'
# comment
ALGO=als    # trailing comment
TRAIN_ARGS="--lambda 0.5 --alpha \"2\""
INGEST_ARGS='$(touch /tmp/hpcrec-pwned) `id` ; rm -rf /'
  PARTITION=gpu_a
MODEL_ROOT=models here
NODES=3
DATA_ROOT=logs
WORK_ROOT=work
EOF
    out=$(cd "$HR_TMP" && bash -c 'source "$1/lib.sh"; HR_CONFIG=$2; hr_opt --set NODES=4 && hr_opt --ranks-per-node 2 &&
        hr_conf_load; for k in ALGO TRAIN_ARGS INGEST_ARGS PARTITION MODEL_ROOT NODES RANKS_PER_NODE; do
        printf "%s=[%s]\n" "$k" "${CONF[$k]}"; done; hr_words TRAIN_ARGS; echo "words=${#WORDS[@]}"' _ "$SL" "$c") ||
        fail "parse: $out"
    [ ! -e /tmp/hpcrec-pwned ] || { rm -f /tmp/hpcrec-pwned; fail "a configuration value was executed"; }
    assert_eq "$out" "ALGO=[als]
TRAIN_ARGS=[--lambda 0.5 --alpha \"2\"]
INGEST_ARGS=[\$(touch /tmp/hpcrec-pwned) \`id\` ; rm -rf /]
PARTITION=[gpu_a]
MODEL_ROOT=[$R/cfg dir/models here]
NODES=[4]
RANKS_PER_NODE=[2]
words=4" "parsed configuration"
    echo "NODE=2" >>"$c"
    expect_fail 2 "x.conf:10: unknown key NODE" "$SL/backfill.sh" $D1 $D1 --config "$c"
    expect_fail 2 "NODES must be a whole number" "$SL/backfill.sh" $D1 $D1 --nodes two
    expect_fail 2 "not a date" "$SL/backfill.sh" 2026-02-30 2026-03-01
    expect_fail 2 "GATE_METRIC" "$SL/backfill.sh" $D1 $D1 --set EVAL_K=20
    site cfg "PARTITION=batch" "SBATCH_ARGS=--comment=x"
    out=$("$SL/backfill.sh" $D1 $D2 --config "$R/cfg.conf" --dry-run --time-limit 5) || fail "dry run: $out"
    grep -q -- "--time=5 .*--partition=batch .*--comment=x .*--job-name=hpcrec-nightly-$D1 " <<<"$out" || fail "dry run: $out"
    grep -q -- "--dependency=afterok:" <<<"$out" || fail "dry run: no dependency for day 2: $out"
    [ ! -e "$R/cfg/work/$D1/jobid" ] || fail "dry run submitted something"
}

# ---- nightly -------------------------------------------------------------------------------
# wait_file FILE WHAT: until FILE exists (bounded by $WAIT)
wait_file() {
    local end=$(( $(date +%s) + WAIT ))
    until [ -e "$1" ]; do
        [ "$(date +%s)" -lt "$end" ] || fail "no $2 after ${WAIT}s"
        sleep 0.1
    done
}
case_nightly() {
    site "n%j" "GROUP=daemon"
    local j1 j1a j2 j2b j3 j3b out sub bad f m="$R/n%j/models" w="$R/n%j/work" slc=$HR_TMP/slurm-copy
    local wo=${w//%/%%}           # $w as an sbatch --output pattern
    cp -a "$SL" "$slc"
    mkdir -p "$w"
    # day 1, first try: plain sbatch of the copy, whose lib.sh changes before the job starts
    j1a=$(sbatch --parsable --hold -o "$wo/day1-%j.out" "$slc/nightly.sbatch" --day $D1 --config "$R/n%j.conf") || fail "sbatch"
    # the job compares whole seconds (SubmitTime against the library's ctime), and file times
    # come from the kernel's coarse clock, which can lag date(1) by a tick: touch until the
    # file's own ctime is past the second of the submission
    sub=$(date +%s)
    until touch "$slc/lib.sh" && [ "$(stat -c %Z "$slc/lib.sh")" -gt "$sub" ]; do sleep 0.1; done
    scontrol release "$j1a" || fail "release"
    wait_jobs "$j1a"
    expect_job "$j1a" FAILED 2
    grep -q "changed after job $j1a was submitted" "$w/day1-$j1a.out" || fail "no version refusal: $(cat "$w/day1-$j1a.out")"
    [ ! -e "$w/$D1/logs/ingest.log" ] || fail "job $j1a did work"
    # second try, from slurm/ itself (plain sbatch, as a site crontab could do)
    j1=$(sbatch --parsable -o "$wo/day1-%j.out" "$SL/nightly.sbatch" --day $D1 --config "$R/n%j.conf") || fail "sbatch"
    wait_jobs "$j1"; expect_job "$j1" COMPLETED 0
    assert_eq "$(link "n%j" current)" $D1 "current after day 1"
    assert_json "$m/$D1/gate.json" decision publish
    assert_json "$m/$D1/train.json" resumed_from_iteration 0
    [ "$(json_get "$m/$D1/train.json" warm_users_known)" = null ] || fail "day 1 was warm-started"
    for f in model.tar ingest.json split.json train.json evaluate.json recommend.json PUBLISHED MANIFEST hpcrec.conf; do
        [ -s "$m/$D1/$f" ] || fail "day 1 lacks $f"
    done
    "$HR_BIN" inspect "$m/$D1/model.tar" >/dev/null || fail "inspect day 1"
    [ -d "$w/$D1/ckpt" ] && fail "work dir not cleaned after publishing"
    # UMASK 027, GROUP daemon: on everything published (whoever wrote it) and on what hpcrec
    # wrote on the nodes (srun passed the umask on); the day's work directory is private
    bad=$(find "$m" \( -type f ! -perm 0640 \) -o \( -type d ! -perm 2750 \) -o \( ! -type l ! -group daemon \) | head -n 5)
    [ -z "$bad" ] || fail "published with other modes or groups: $(while IFS= read -r f; do stat -c '%A %G %n' "$f"; done <<<"$bad")"
    assert_eq "$(stat -c %a "$w/$D1" "$w/$D1/train.json" "$w/$D1/logs/train.log" "$w/day1-$j1.out" | tr '\n' ' ')" "700 640 640 640 " \
        "modes of the work directory, hpcrec's summary, a step log and the job output"
    # day 2: the cron recipe, backfill.sh DAY DAY, from the copy of slurm/; held while the copy's
    # library is poisoned and the configuration saved in WORK_ROOT rewritten to run another
    # binary: the job runs the library and configuration it was submitted with
    cp -a "$SL/." "$slc/"
    local evil=$HR_TMP/evil-hpcrec shim=$HR_TMP/rm-shim
    printf '#!/bin/sh\ntouch "%s/pwned"\nexec "%s" "$@"\n' "$HR_TMP" "$HR_BIN" >"$evil"
    chmod 755 "$evil"
    # an rm that holds the job's CLEAN_WORK (the delete that names test/ and ckpt/) until told
    mkdir -p "$shim"
    printf '%s\n' '#!/bin/bash' \
        'case " $* " in *"/test "*"/ckpt "*)' \
        '    if [ -n "${HR_TEST_RM_GATE:-}" ]; then' \
        '        touch "$HR_TEST_RM_GATE.waiting"' \
        '        for _ in $(seq 1 1500); do [ -e "$HR_TEST_RM_GATE.go" ] && break; sleep 0.1; done' \
        '    fi ;;' \
        'esac' \
        'exec /bin/rm "$@"' >"$shim/rm"
    chmod 755 "$shim/rm"
    PATH="$shim:$PATH" HR_TEST_RM_GATE=$HR_TMP/rmgate "$slc/backfill.sh" $D2 $D2 --config "$R/n%j.conf" \
        --set SBATCH_ARGS=--hold --set EXPORT_SQLITE=yes >"$HR_TMP/n2.out" || fail "backfill: $(cat "$HR_TMP/n2.out")"
    j2=$(submitted "$HR_TMP/n2.out")
    [ -n "$j2" ] || fail "day 2 not submitted: $(cat "$HR_TMP/n2.out")"
    printf 'echo "poisoned library" >&2; exit 42\n' >"$slc/lib.sh"
    for f in "$w/.backfill/"*.conf; do printf 'HPCREC_BIN=%s\n' "$evil" >"$f"; done
    scontrol release "$j2" || fail "release"
    wait_file "$HR_TMP/rmgate.waiting" "CLEAN_WORK of job $j2"
    flock -n "$m/.links.lock" true || fail "the links lock is held while job $j2 deletes its work files"
    touch "$HR_TMP/rmgate.go"
    wait_jobs "$j2"; expect_job "$j2" COMPLETED 0
    [ ! -e "$HR_TMP/pwned" ] || fail "the job ran the binary of a configuration rewritten after its submission"
    cp -a "$SL/." "$slc/"
    assert_eq "$(link "n%j" current)/$(link "n%j" previous)" "$D2/$D1" "current/previous after day 2"
    local known
    known=$(json_get "$m/$D2/train.json" warm_users_known)
    [ "$known" -gt 0 ] 2>/dev/null || fail "day 2 warm_users_known = $known"
    assert_json "$m/$D2/gate.json" previous_day $D1
    assert_json "$m/$D2/gate.json" decision publish
    [ "$(json_get "$m/$D2/evaluate.json" compare.ndcg@10.verdict)" != null ] || fail "day 2 evaluated without --compare"
    [ -n "$(ls "$m/$D2/recommendations")" ] || fail "no recommendations"
    # EXPORT_SQLITE=yes on day 2 only: the database beside the TSV files, as many rows
    [ ! -e "$m/$D1/recommendations.sqlite" ] || fail "day 1 exported without EXPORT_SQLITE"
    assert_eq "$(sqlite3 "$m/$D2/recommendations.sqlite" 'SELECT count(*) FROM recommendations')" \
        "$(json_get "$m/$D2/recommend.json" lines)" "rows of recommendations.sqlite"
    assert_eq "$(sqlite3 "$m/$D2/recommendations.sqlite" "SELECT value FROM meta WHERE key='day'")" "$D2" "meta day"
    if [ "$HAVE_SIMILAR" = 1 ]; then [ -d "$m/$D2/similar" ] || fail "similar exists but did not run"
    else [ ! -e "$m/$D2/similar" ] || fail "similar output without the command"; fi
    # day 3, degraded on purpose: refused, nothing published
    "$SL/backfill.sh" $D3 $D3 --config "$R/n%j.conf" --set "TRAIN_ARGS=--lambda 1000" >"$HR_TMP/n3.out" ||
        fail "backfill: $(cat "$HR_TMP/n3.out")"
    j3=$(submitted "$HR_TMP/n3.out")
    wait_jobs $j3; expect_job $j3 FAILED 76
    assert_eq "$(link "n%j" current)/$(link "n%j" previous)" "$D2/$D1" "current/previous after the refused day 3"
    [ ! -e "$m/$D3" ] || fail "day 3 was published"
    ! compgen -G "$m/.staging-*" >/dev/null || fail "staging directory left: $(ls -A "$m")"
    assert_json "$w/$D3/REFUSED" decision refuse
    assert_json "$w/$D3/REFUSED" verdict worse
    grep -q "refuse $D3 .*ndcg@10 of the new model is worse than $D2's" "$m/publish.log" || fail "publish.log: $(cat "$m/publish.log")"
    grep -q "gate REFUSED" "$w/$D3"/slurm-*.out || fail "no refusal in the job output"
    # backfill now skips the refused day
    out=$("$SL/backfill.sh" $D1 $D3 --config "$R/n%j.conf") || fail "backfill rerun: $out"
    grep -q "$D3: refused by the gate earlier (ndcg@10 of the new model is worse" <<<"$out" || fail "rerun: $out"
    grep -q ": 0 submitted, 2 published before, 1 refused before" <<<"$out" || fail "rerun: $out"
    # rollback: day 2 is blocked; a rerun of day 2 and of day 3 (whose training recorded day 2
    # as its warm start) leave current at day 1
    out=$("$SL/rollback.sh" --config "$R/n%j.conf") || fail "rollback: $out"
    grep -q "blocked: $D2" <<<"$out" || fail "rollback: $out"
    assert_eq "$(link "n%j" current)/$(link "n%j" previous)" "$D1/$D2" "after rollback"
    j2b=$(sbatch --parsable -o "$wo/day2b-%j.out" "$SL/nightly.sbatch" --day $D2 --config "$R/n%j.conf") || fail "sbatch"
    "$SL/backfill.sh" $D3 $D3 --config "$R/n%j.conf" --retry-refused --set "TRAIN_ARGS=--lambda 1000" >"$HR_TMP/n3b.out" ||
        fail "backfill: $(cat "$HR_TMP/n3b.out")"
    j3b=$(submitted "$HR_TMP/n3b.out")
    wait_jobs "$j2b" "$j3b"
    expect_job "$j2b" COMPLETED 0
    expect_job "$j3b" FAILED 76
    assert_eq "$(link "n%j" current)/$(link "n%j" previous)" "$D1/$D2" "after the reruns of the rolled-back day and the next"
    grep -q "$D2 is blocked by a rollback" "$w/day2b-$j2b.out" || fail "rerun of day 2: $(cat "$w/day2b-$j2b.out")"
    grep -q "recorded warm-start model $D2 was rolled back" "$w/$D3/slurm-$j3b.out" || fail "rerun of day 3: $(cat "$w/$D3/slurm-$j3b.out")"
    assert_json "$w/$D3/REFUSED" previous_day $D1
    out=$("$SL/backfill.sh" $D1 $D3 --config "$R/n%j.conf") || fail "backfill after the rollback: $out"
    grep -q "$D2: published, but rolled back to $D1" <<<"$out" || fail "backfill after the rollback: $out"
    ! grep -q "^links:" <<<"$out" || fail "backfill relinked: $out"
    assert_eq "$(link "n%j" current)" $D1 "current after a backfill over the rolled-back day"
    expect_fail 1 "$D2 was rolled back .*--unblock $D2 --to $D2" "$SL/rollback.sh" --config "$R/n%j.conf"
    "$SL/rollback.sh" --config "$R/n%j.conf" --unblock $D2 --to $D2 >/dev/null || fail "unblock"
    assert_eq "$(link "n%j" current)/$(link "n%j" previous)" "$D2/$D1" "after --unblock $D2 --to $D2"
    [ ! -e "$m/.blocked/$D2" ] || fail "marker left after --unblock"
    expect_fail 1 "cannot be served" "$SL/rollback.sh" --config "$R/n%j.conf" --to $D3
    echo "$j1 $j2 $j3" >"$HR_TMP/nightly.jobs"
}

# ---- a publish killed between its rename and the links ------------------------------------------
# With the links lock held from the rename to the links, a kill -9 in between is the only way
# to this state; it is made here by copying two published days of the nightly case.
case_publish_killed() {
    local m=$R/r/models out
    [ -d "$R/n%j/models/$D2" ] || fail "needs the days of the nightly case"
    site r
    mkdir -p "$m"
    cp -a "$R/n%j/models/$D1" "$R/n%j/models/$D2" "$m/"
    ln -s $D1 "$m/current"
    out=$("$SL/backfill.sh" $D1 $D2 --config "$R/r.conf") || fail "backfill: $out"
    grep -qF "links: current -> $D2, previous -> $D1 ($D2 was published but current was never moved to it)" <<<"$out" || fail "$out"
    grep -q ": 0 submitted, 2 published before" <<<"$out" || fail "$out"
    assert_eq "$(link r current)/$(link r previous)" "$D2/$D1" "links after the repair"
    grep -q "repair current $D2 previous $D1" "$m/publish.log" || fail "publish.log: $(cat "$m/publish.log")"
}

# ---- backfill ------------------------------------------------------------------------------
case_backfill() {
    site b KEEP_DAYS=4
    local part="$R/logs/$D3/part-00000.csv.zst" m=$R/b/models w=$R/b/work ids d out i
    cp "$part" "$HR_TMP/part.keep"
    printf 'user,item,count,timestamp\n1,2,3,x-not-a-time\n' | zstd -q >"$part"
    "$SL/backfill.sh" $D1 $D5 --config "$R/b.conf" >"$HR_TMP/b1.out" || fail "backfill: $(cat "$HR_TMP/b1.out")"
    read -r -a ids <<<"$(submitted "$HR_TMP/b1.out")"
    assert_eq "${#ids[@]}" 5 "jobs submitted"
    grep -q "$D2: submitted job ${ids[1]} (after job ${ids[0]})" "$HR_TMP/b1.out" || fail "chain: $(cat "$HR_TMP/b1.out")"
    wait_jobs "${ids[@]}"
    expect_job "${ids[0]}" COMPLETED 0; expect_job "${ids[1]}" COMPLETED 0
    expect_job "${ids[2]}" FAILED 3
    for i in 3 4; do
        assert_eq "$(job_field "${ids[$i]}" JobState)" CANCELLED "day $((i + 1)) after the failed day"
        [ ! -e "$w/$(date -u -d "$D1 $i days" +%F)/logs" ] || fail "day $((i + 1)) ran"
    done
    grep -q "$D3/part-00000.csv.zst:2" "$w/$D3/logs/ingest.log" || fail "ingest error does not name file:line: $(tail -3 "$w/$D3/logs/ingest.log")"
    assert_eq "$(link b current)" $D2 "current after the failure"
    # fixed: the same command resubmits days 3..5 only
    cp "$HR_TMP/part.keep" "$part"
    "$SL/backfill.sh" $D1 $D5 --config "$R/b.conf" >"$HR_TMP/b2.out" || fail "backfill: $(cat "$HR_TMP/b2.out")"
    read -r -a ids <<<"$(submitted "$HR_TMP/b2.out")"
    assert_eq "${#ids[@]}" 3 "jobs resubmitted ($(cat "$HR_TMP/b2.out"))"
    grep -q "$D3: submitted" "$HR_TMP/b2.out" || fail "day 3 not resubmitted"
    grep -q ": 3 submitted, 2 published before" "$HR_TMP/b2.out" || fail "$(cat "$HR_TMP/b2.out")"
    wait_jobs "${ids[@]}"
    for i in 0 1 2; do expect_job "${ids[$i]}" COMPLETED 0; done
    assert_eq "$(link b current)/$(link b previous)" "$D5/$D4" "current/previous after the backfill"
    for d in $D2 $D3 $D4 $D5; do
        assert_eq "$(json_get "$m/$d/PUBLISHED" warm_start_from)" "$(date -u -d "$d -1 day" +%F)" "$d warm start"
        [ "$(json_get "$m/$d/train.json" warm_users_known)" -gt 0 ] || fail "$d not warm-started"
    done
    # KEEP_DAYS=4: day 1 deleted when day 5 was published, and remembered
    [ ! -e "$m/$D1" ] && [ -f "$m/.pruned/$D1" ] || fail "day 1 not pruned: $(ls -A "$m")"
    ! compgen -G "$m/.prune-*" >/dev/null || fail "pruned day left behind: $(ls -A "$m")"
    grep -q "prune $D1 (KEEP_DAYS=4)" "$m/publish.log" || fail "publish.log: $(cat "$m/publish.log")"
    # nothing left to do
    out=$("$SL/backfill.sh" $D1 $D5 --config "$R/b.conf") || fail "third backfill: $out"
    grep -q ": 0 submitted, 4 published before, 0 refused before, 0 already queued, 1 pruned" <<<"$out" || fail "third backfill: $out"
    # the same day, data and settings in two job runs: the same model
    if [ -f "$R/n%j/models/$D2/model.tar" ]; then
        assert_eq "$(members "$m/$D2/model.tar")" "$(members "$R/n%j/models/$D2/model.tar")" "$D2 in the nightly and the backfill run"
    fi
}

# ---- preemption ----------------------------------------------------------------------------
case_preempt() {
    hr 2 gen --out "$R/big" --users 50000 --items 10000 --interactions 1000000 --kind counts --days 1 --start $D1 \
        --seed 9 >/dev/null 2>&1 || fail "gen big"
    # long enough that the signals land mid-training however fast the solver runs: at 60
    # iterations (10 s of training here) a run finished before the batch script's USR1 came
    local iters=150
    local extra=("DATA_ROOT='$R/big'" "FACTORS=32" "ITERS=$iters" "CHECKPOINT_EVERY=0" "SIMILAR=no")
    site p "${extra[@]}"
    site q "${extra[@]}"
    site k "${extra[@]}" "CHECKPOINT_EVERY=5"
    local jp jq jk jk2 t0 t1 from out
    jp=$(submitted <("$SL/backfill.sh" $D1 $D1 --config "$R/p.conf"))
    jq=$(submitted <("$SL/backfill.sh" $D1 $D1 --config "$R/q.conf"))
    jk=$(submitted <("$SL/backfill.sh" $D1 $D1 --config "$R/k.conf"))
    [ -n "$jp" ] && [ -n "$jq" ] && [ -n "$jk" ] || fail "submissions: '$jp' '$jq' '$jk'"
    local tl="$R/p/work/$D1/logs/train.log" kl="$R/k/work/$D1/logs/train.log"
    # p: SIGUSR1 to the batch script (as --signal=B:USR1@N sends it) during iteration 3 or so
    wait_line "$tl" 'iter +3 ' "training of job $jp at iteration 3"
    t0=$(date +%s)
    scancel --batch --signal=USR1 "$jp" || fail "scancel --batch --signal=USR1"
    # k: cancelled outright after its checkpoint 5; backfill.sh resubmits it, it resumes
    wait_line "$kl" 'checkpoint .*ckpt-000005' "checkpoint 5 of job $jk"
    scancel "$jk" || fail "scancel"
    wait_jobs "$jk"
    assert_eq "$(job_field "$jk" JobState)" CANCELLED "state of the cancelled job"
    out=$("$SL/backfill.sh" $D1 $D1 --config "$R/k.conf") || fail "backfill after the cancel: $out"
    jk2=$(submitted <(echo "$out"))
    [ -n "$jk2" ] || fail "the cancelled day was not resubmitted: $out"
    # p again, after its requeue: now SIGUSR1 straight to the ranks (scancel without --batch)
    wait_line "$tl" 'restart 1: hpcrec train' "restarted training of job $jp"
    wait_line "$tl" 'resume +from' "resume of job $jp"
    scancel --signal=USR1 "$jp" || fail "scancel --signal=USR1"
    wait_jobs $jp $jq $jk2
    t1=$(date +%s)
    expect_job $jq COMPLETED 0
    expect_job $jp COMPLETED 0
    expect_job $jk2 COMPLETED 0
    assert_eq "$(job_field $jp Restarts)" 2 "restarts of job $jp"
    out=$R/p/work/$D1/slurm-$jp.out
    grep -q "SIGUSR1: asking the training to checkpoint" "$out" || fail "no forwarding: $(cat "$out")"
    # both stops were the training's own (exit 75), before the requeue
    assert_eq "$(grep -c "train: exit 75 " "$out")" 2 "checkpointed exits in $(cat "$out")"
    grep -q "train: cold start, resuming from ckpt-0000" "$out" || fail "no resume: $(cat "$out")"
    assert_eq "$(grep -c "requeueing job $jp" "$out")" 2 "requeues in $(cat "$out")"
    grep -q "job $jp (restart 2)" "$out" || fail "no second restart: $(cat "$out")"
    assert_eq "$(grep -c "stopped by a signal after iteration" "$tl")" 2 "checkpointed stops of job $jp"
    from=$(json_get "$R/p/models/$D1/train.json" resumed_from_iteration)
    [ "$from" -gt 3 ] && [ "$from" -lt $iters ] || fail "resumed_from_iteration $from"
    assert_json "$R/p/models/$D1/PUBLISHED" restarts 2
    local kfrom
    kfrom=$(json_get "$R/k/models/$D1/train.json" resumed_from_iteration)
    [ "$kfrom" -ge 5 ] || fail "the resubmitted day resumed from iteration $kfrom"
    local ref
    ref=$(members "$R/q/models/$D1/model.tar")
    assert_eq "$(members "$R/p/models/$D1/model.tar")" "$ref" "factors of the twice preempted and the uninterrupted job"
    assert_eq "$(members "$R/k/models/$D1/model.tar")" "$ref" "factors of the cancelled+resubmitted and the uninterrupted job"
    echo "# preempt: two signals, requeued twice, finally resumed from iteration $from, done $((t1 - t0)) s after the first;" \
        "cancelled job resubmitted by backfill.sh resumed from iteration $kfrom" >"$HR_TMP/preempt.note"
}
# wait_line FILE REGEX WHAT: until a line of FILE matches (bounded by $WAIT)
wait_line() {
    local end=$(( $(date +%s) + WAIT ))
    until grep -Eq -- "$2" "$1" 2>/dev/null; do
        [ "$(date +%s)" -lt "$end" ] || fail "no $3 after ${WAIT}s: $(tail -n 3 "$1" 2>&1)"
        sleep 0.1
    done
}

# ---- independent days ------------------------------------------------------------------------
case_independent() {
    site i
    local out ids d
    out=$("$SL/backfill.sh" $D4 $D5 --config "$R/i.conf" --independent) || fail "backfill: $out"
    read -r -a ids <<<"$(submitted <(echo "$out"))"
    assert_eq "${#ids[@]}" 2 "array tasks ($out)"
    [[ ${ids[0]} == *_0 && ${ids[1]} == *_1 && ${ids[0]%_*} == "${ids[1]%_*}" ]] || fail "not one array: ${ids[*]}"
    wait_jobs "${ids[0]%_*}"
    for d in $D4 $D5; do
        [ -f "$R/i/models/$d/PUBLISHED" ] || fail "$d not published: $(tail -5 "$R/i/work"/slurm-*.out)"
        assert_json "$R/i/models/$d/PUBLISHED" warm_start_from null
        assert_json "$R/i/models/$d/gate.json" decision publish
    done
    assert_eq "$(link i current)" $D5 "current after the array"
}

# ---- ANN index ---------------------------------------------------------------------------------
case_index() {
    site x "INDEX_MIN_ITEMS=500"   # the test catalogue has 1000 items
    local j m=$R/x/models/$D1 out
    mkdir -p "$R/x/work"
    j=$(sbatch --parsable -o "$R/x/work/day1-%j.out" "$SL/nightly.sbatch" --day $D1 --config "$R/x.conf") || fail "sbatch"
    wait_jobs "$j"; expect_job "$j" COMPLETED 0
    for f in index/manifest.json index/quantizer.bin.zst index-cosine/manifest.json index.json; do
        [ -s "$m/$f" ] || fail "the published day lacks $f: $(ls -R "$m" | head -30)"
    done
    grep -q ' index/part-00000.bin.zst$' "$m/MANIFEST" || fail "MANIFEST does not list the index"
    "$HR_BIN" inspect "$m/index" >/dev/null || fail "inspect of the published index"
    assert_json "$m/index/manifest.json" metric ip
    assert_json "$m/index-cosine/manifest.json" metric cosine
    [ "$(json_get "$m/recommend.json" index_probe)" -ge 1 ] 2>/dev/null || fail "recommend did not use the index: $(cat "$m/recommend.json")"
    assert_json "$m/recommend.json" users_short_list 0
    if [ "$HAVE_SIMILAR" = 1 ]; then
        assert_json "$m/similar.json" index_metric cosine
    fi
    # the default threshold (case_nightly's site): no index for this catalogue, and the log says why
    [[ slurm-nightly-warm-start-gate-rollback =~ ${HR_SLURM_CASES:-.} ]] || return 0
    out=$(cat "$R"/n%j/work/day1-*.out 2>/dev/null)
    [ ! -e "$R/n%j/models/$D1/index" ] || fail "an index for a catalogue below INDEX_MIN_ITEMS"
    grep -q "index: not built (.*INDEX_MIN_ITEMS=500000" <<<"$out" || fail "no 'index: not built' line in the nightly output"
}

case_down() {
    "$SL/local-cluster.sh" down "$CL" >"$HR_TMP/down.out" 2>&1 || fail "down: $(cat "$HR_TMP/down.out")"
    local left
    left=$(grep -lzxF "HPCREC_LOCAL_SLURM=$CL" /proc/[0-9]*/environ 2>/dev/null | wc -l)
    assert_eq "$left" 0 "processes of the cluster left"
    "$SL/local-cluster.sh" down "$CL" >/dev/null || fail "second down"
}

# HR_SLURM_CASES=REGEX runs only the cases whose name matches (and the cluster's up and down)
# (each case's time goes to the closing notes)
scase() {
    [[ $1 =~ ${HR_SLURM_CASES:-.} ]] || return 0
    local t0=$SECONDS
    tcase "$@"
    echo "# $1: $((SECONDS - t0)) s" >>"$HR_TMP/times.note"
}
tcase slurm-cluster case_cluster
scase slurm-config case_config
scase slurm-nightly-warm-start-gate-rollback case_nightly
scase slurm-publish-killed-before-links case_publish_killed
scase slurm-backfill-chain-failure-resume case_backfill
scase slurm-preempt-requeue-resume case_preempt
scase slurm-backfill-independent case_independent
scase slurm-nightly-index case_index
tcase slurm-cluster-down case_down
cat "$HR_TMP"/*.note 2>/dev/null || true
echo "# slurm tests: $(( $(date +%s) - T0 )) s after the cluster was up"
[ "$_fails" = 0 ]
