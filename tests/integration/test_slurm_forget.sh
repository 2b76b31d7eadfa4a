#!/bin/bash
# tests/integration/test_slurm_forget.sh — slurm/forget.sh over a site whose days nightly.sbatch
# published (run without Slurm: LAUNCHER=mpirun, as its header allows; the scripts' erasure
# path has no Slurm-specific part).  docs/operations.md, Erasure.
#   site        a day published by nightly.sbatch (CLEAN_WORK=no: datasets, checkpoints and
#               the model stay in WORK_ROOT; EXPORT_SQLITE=yes; an ANN index), an empty list
#   forget      forget.sh --users: a scan of every file under WORK_ROOT and MODEL_ROOT
#               (decompressing zstd, tar members, the SQLite database) finds none of the ids as
#               a user id; for every dataset, rows before = rows after + rows removed; the
#               published day replaced (publish.log), current still names it and verifies, the
#               rebuilt index serves it; no staging or old copy left; inspect warns that the
#               model was trained with erased users; a second run replaces nothing
#   next-day    the next nightly ingests with the list (rows_forgotten counted; the ids absent
#               everywhere) and publishes: current -> it, previous -> the replaced day
source "$(dirname "$0")/../lib.sh"
SL=$HR_ROOT/slurm
SCAN="python3 $HR_ROOT/tests/tools/scan_ids.py"
R=$HR_TMP/site
D1=2026-10-01 D2=2026-10-02
export OMPI_MCA_rmaps_base_oversubscribe=1

setup() {
    [ -f "$R/ok" ] && return 0
    mkdir -p "$R"
    hrt 2 gen --out "$R/logs" --users 200 --items 150 --interactions 3000 --days 2 --start $D1 --seed 9 >/dev/null || fail "gen"
    (umask 077; head -c 32 /dev/urandom >"$R/forget.key")
    : >"$R/none"
    "$HR_BIN" forget --users "$R/none" --list "$R/forget.list" --key "$R/forget.key" >/dev/null || fail "empty list"
    {
        printf 'HPCREC_BIN="%s"\nDATA_ROOT="%s/logs"\nMODEL_ROOT="%s/models"\nWORK_ROOT="%s/work"\n' "$HR_BIN" "$R" "$R" "$R"
        printf 'FORGET_LIST="%s/forget.list"\nFORGET_KEY="%s/forget.key"\n' "$R" "$R"
        printf 'LAUNCHER=mpirun\nNODES=1\nRANKS_PER_NODE=2\nFACTORS=4\nITERS=2\nCHECKPOINT_EVERY=1\nGATE=no\n'
        printf 'SIMILAR=no\nEXPORT_SQLITE=yes\nINDEX_MIN_ITEMS=1\nCLEAN_WORK=no\nRECOMMEND_TOP=5\nMPIRUN_ARGS="--bind-to none --oversubscribe"\n'
    } >"$R/site.conf"
    chmod 600 "$R/site.conf"
    bash "$SL/nightly.sbatch" --day $D1 --config "$R/site.conf" >"$R/nightly-$D1.log" 2>&1 || { tail -20 "$R/nightly-$D1.log"; fail "nightly $D1"; }
    touch "$R/ok"
}

case_forget() {
    setup
    # two users the day recommends to, and one the data never had
    zstd -dcq "$R/models/$D1/recommendations/part-00000.tsv.zst" | awk -F'\t' 'NR > 1 { print $1 }' | uniq | head -n 2 >"$R/ids"
    [ "$(wc -l <"$R/ids")" = 2 ] || fail "no users in the recommendations"
    $SCAN "$R/ids" "$R/work" "$R/models" >/dev/null && fail "the site holds none of the ids"
    echo 999999 >>"$R/ids"
    local before=$HR_TMP/before
    for f in "$R"/work/*/{data,train,test}/manifest.json; do echo "$f $(json_get "$f" interactions)"; done >"$before"
    bash "$SL/forget.sh" --users "$R/ids" --config "$R/site.conf" >"$R/forget.log" 2>&1 || { cat "$R/forget.log"; fail "forget.sh"; }
    $SCAN "$R/ids" "$R/work" "$R/models" || fail "forgotten ids remain"
    # rows before = rows after + rows removed, per dataset (the summaries of the run)
    local f b a removed
    while read -r f b; do
        a=$(json_get "$f" interactions)
        removed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["erasures"][-1]["rows_removed"])' "$f")
        [ "$b" = $((a + removed)) ] || fail "$f: $b rows before, $a after + $removed removed"
        [ "$removed" -gt 0 ] || [[ $f == */test/* ]] || fail "$f: nothing removed"
    done <"$before"
    [ "$(grep -c "forget $D1 replaced: 2 users" "$R/models/publish.log")" = 1 ] || fail "publish.log: $(cat "$R/models/publish.log")"
    assert_eq "$(readlink "$R/models/current")" $D1 "current"
    ls -A "$R/models" | grep -q '^\.forget' && fail "a staging or old copy is left: $(ls -A "$R/models")"
    "$HR_BIN" inspect "$R/models/current/model.tar" | grep -q "trained with the data of the 2 erased users" || fail "inspect does not warn"
    # the rebuilt index serves the replaced model
    hrt 2 recommend --model "$R/models/current/model.tar" --data "$R/work/$D1/data" --index "$R/models/current/index" \
        --out "$HR_TMP/r" --top 5 >/dev/null || fail "recommend with the rebuilt index"
    # a second run: nothing left to erase, nothing replaced
    bash "$SL/forget.sh" --config "$R/site.conf" >"$R/forget2.log" 2>&1 || { cat "$R/forget2.log"; fail "forget.sh again"; }
    grep -q "0 published days replaced" "$R/forget2.log" || fail "second run: $(tail -3 "$R/forget2.log")"
}

case_next_day() {
    setup
    [ -s "$R/ids" ] || fail "needs the forget case"
    bash "$SL/nightly.sbatch" --day $D2 --config "$R/site.conf" >"$R/nightly-$D2.log" 2>&1 || { tail -20 "$R/nightly-$D2.log"; fail "nightly $D2"; }
    jtrue 'a["rows_forgotten"] > 0 and a["rows_read"] == a["rows_accepted"] + a["rows_rejected"] + a["rows_forgotten"]' "$R/work/$D2/ingest.json"
    $SCAN "$R/ids" "$R/work" "$R/models" || fail "the next day brought ids back"
    assert_eq "$(readlink "$R/models/current")" $D2 "current"
    assert_eq "$(readlink "$R/models/previous")" $D1 "previous"
}

tcase slurm-forget case_forget
tcase slurm-forget-next-day case_next_day
[ "$_fails" = 0 ]
