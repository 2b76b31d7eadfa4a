#!/bin/bash
# tests/integration/test_formats.sh — one small CSV stored as plain, .gz, .zst, .zip, .tar.gz,
# .tar.zst, .tar.xz, .bz2 and .xz must give the identical dataset (sorted `inspect --dump` and
# byte-identical dictionaries); truncated or corrupt inputs fail naming the file; a corrupted
# shard, a truncated dictionary and an unknown manifest version are detected and named.
# The archives are built with the system tools; a missing tool skips its case (nothing is
# installed here: tests/deps.sh installs them).
source "$(dirname "$0")/../lib.sh"
NP=2
# A failing run otherwise costs ~2 s of mpirun teardown (see test_ingest.sh).
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-0}

W=$HR_TMP/fmt
mkdir -p "$W"
# The CSV: header, quoted IDs with embedded commas, half-star values, a few repeated pairs.
python3 - "$W/s.csv" "$W/part1.csv" "$W/part2.csv" <<'EOF'
import random, sys
r = random.Random(20261123)
rows = ['user%d,"it,%d",%s,%d' % (r.randrange(300), r.randrange(500), r.randrange(1, 11) / 2,
                                   1500000000 + r.randrange(10**7)) for _ in range(4000)]
hdr = 'user,item,rating,timestamp'
open(sys.argv[1], 'w').write('\n'.join([hdr] + rows) + '\n')
open(sys.argv[2], 'w').write('\n'.join([hdr] + rows[:1500]) + '\n')
open(sys.argv[3], 'w').write('\n'.join([hdr] + rows[1500:]) + '\n')
EOF

# dump NP DATASET OUT: every interaction, sorted.
dump() {
    rm -f "$3".part.*
    hr "$1" inspect "$2" --dump "$3.part" >/dev/null || fail "inspect --dump $2 failed"
    cat "$3".part.*.tsv | LC_ALL=C sort >"$3"
    rm -f "$3".part.*
}
counts() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(" ".join("%s=%s" % (k, d[k]) for k in sorted(d) if k.startswith("rows_") and k != "rows_per_second" or k.startswith("rejected_") or k in ("users", "items")))' "$1"; }
need_tool() { for t in "$@"; do command -v "$t" >/dev/null || { echo "tool '$t' not installed (tests/deps.sh installs it); case skipped"; exit 77; }; done; }

# The reference: the plain file.
ref_ready=0
reference() {
    [ "$ref_ready" = 1 ] && return 0
    hr $NP ingest --input "$W/s.csv" --out "$W/ref" --on-error skip --json "$W/ref.json" >/dev/null 2>&1 || return 1
    dump $NP "$W/ref" "$W/ref.dump"
    [ "$(wc -l <"$W/ref.dump")" -gt 3500 ] || return 1
    ref_ready=1
}
reference || { echo "not ok formats-reference (plain CSV ingest failed)"; exit 1; }

# same_as_reference INPUT...: ingest INPUT and compare content, dictionaries and counts.
same_as_reference() {
    local d=$W/ds.$RANDOM
    hr $NP ingest --input "$@" --out "$d" --on-error skip --json "$d.json" || fail "ingest $*"
    dump $NP "$d" "$d.dump"
    cmp -s "$d.dump" "$W/ref.dump" || fail "content differs from the plain CSV: $(diff "$d.dump" "$W/ref.dump" | head -6)"
    for f in users.dict.zst items.dict.zst; do
        assert_eq "$(md5sum <"$d/$f")" "$(md5sum <"$W/ref/$f")" "$f"
    done
    assert_eq "$(counts "$d.json")" "$(counts "$W/ref.json")" "summary counts"
    assert_json "$d.json" header_lines "${HEADERS:-1}"    # one per file or archive member
    rm -rf "$d" "$d.dump" "$d.json"
}

case_plain() { same_as_reference "$W/s.csv"; }
case_gz() { need_tool gzip; gzip -c "$W/s.csv" >"$W/s.csv.gz"; same_as_reference "$W/s.csv.gz"; }
case_zst() { need_tool zstd; zstd -q -c "$W/s.csv" >"$W/s.csv.zst"; same_as_reference "$W/s.csv.zst"; }
case_bz2() { need_tool bzip2; bzip2 -c "$W/s.csv" >"$W/s.csv.bz2"; same_as_reference "$W/s.csv.bz2"; }
case_xz() { need_tool xz; xz -c "$W/s.csv" >"$W/s.csv.xz"; same_as_reference "$W/s.csv.xz"; }
case_zip() { need_tool zip; (cd "$W" && zip -q s.zip s.csv) || fail "zip"; same_as_reference "$W/s.zip"; }
case_tar_gz() { need_tool tar gzip; tar -C "$W" -czf "$W/s.tar.gz" s.csv || fail "tar"; same_as_reference "$W/s.tar.gz"; }
case_tar_xz() { need_tool tar xz; tar -C "$W" -cJf "$W/s.tar.xz" s.csv || fail "tar"; same_as_reference "$W/s.tar.xz"; }
case_tar_zst() {
    need_tool zstd
    if command -v bsdtar >/dev/null; then bsdtar -C "$W" --zstd -cf "$W/s.tar.zst" s.csv || fail "bsdtar"
    elif tar --help 2>/dev/null | grep -q -- --zstd; then tar -C "$W" --zstd -cf "$W/s.tar.zst" s.csv || fail "tar"
    else echo "neither bsdtar nor a tar with --zstd; case skipped"; exit 77; fi
    same_as_reference "$W/s.tar.zst"
}
case_tar_members() {   # one archive, two members in sub-directories (each with its header)
    need_tool tar gzip
    mkdir -p "$W/m/day1" "$W/m/day2"; cp "$W/part1.csv" "$W/m/day1/p.csv"; cp "$W/part2.csv" "$W/m/day2/p.csv"
    tar -C "$W/m" -czf "$W/m.tar.gz" day1 day2 || fail "tar"
    HEADERS=2 same_as_reference "$W/m.tar.gz"
    # a mix of codecs in one run: plain + zst members of a directory
    need_tool zstd
    mkdir -p "$W/mix"; cp "$W/part1.csv" "$W/mix/a.csv"; zstd -q -c "$W/part2.csv" >"$W/mix/b.csv.zst"
    HEADERS=2 same_as_reference "$W/mix"
}

# Broken inputs: exit != 0 and the message names the file.
case_truncated_gz() {
    need_tool gzip
    gzip -c "$W/s.csv" >"$W/s.csv.gz"
    head -c $(($(stat -c %s "$W/s.csv.gz") * 2 / 3)) "$W/s.csv.gz" >"$W/trunc.csv.gz"
    local out rc=0
    out=$(hr $NP ingest --input "$W/trunc.csv.gz" --out "$W/bad" --on-error skip 2>&1) || rc=$?
    [ "$rc" != 0 ] || fail "truncated .gz accepted"
    echo "$out" | grep -q "trunc\.csv\.gz" || fail "message does not name the file: $out"
    [ -f "$W/bad/manifest.json" ] && fail "a manifest was written"
    return 0
}
case_truncated_zst() {
    need_tool zstd
    zstd -q -c "$W/s.csv" >"$W/s.csv.zst"
    head -c $(($(stat -c %s "$W/s.csv.zst") * 2 / 3)) "$W/s.csv.zst" >"$W/trunc.csv.zst"
    expect_fail 3 "trunc\.csv\.zst.*truncated" hr $NP ingest --input "$W/trunc.csv.zst" --out "$W/bad" --on-error skip
}
case_corrupt_zip() {
    need_tool zip
    (cd "$W" && rm -f c.zip && zip -q c.zip s.csv) || fail "zip"
    # overwrite 64 bytes in the middle of the deflated data
    python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read()); m = len(b) // 2
b[m:m + 64] = bytes((x ^ 0x5a) for x in b[m:m + 64]); open(sys.argv[1], "wb").write(b)' "$W/c.zip"
    local out rc=0
    out=$(hr $NP ingest --input "$W/c.zip" --out "$W/bad" --on-error skip 2>&1) || rc=$?
    [ "$rc" != 0 ] || fail "corrupt .zip accepted"
    echo "$out" | grep -q "c\.zip" || fail "message does not name the file: $out"
    return 0
}

# Broken datasets.
copy_ref() { rm -rf "$1"; cp -r "$W/ref" "$1"; }
flip_byte() { python3 -c 'import sys
p, off = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read())
off = off if off >= 0 else len(b) // 2
b[off] ^= 0xff; open(p, "wb").write(b)' "$1" "${2:--1}"; }

case_corrupt_shard() {
    local d=$W/cs
    copy_ref "$d"
    hr $NP inspect "$d" >/dev/null || fail "intact copy does not verify"
    flip_byte "$d/by-user/part-00001.bin.zst"
    expect_fail 3 "by-user/part-00001\.bin\.zst.*checksum mismatch" hr $NP inspect "$d"
    expect_fail 3 "by-user/part-00001\.bin\.zst" hr 1 inspect "$d"
    # and loading it (split reads by-user shards) refuses it too, on the same and another rank count
    expect_fail 3 "by-user/part-00001\.bin\.zst" hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --last 1
    expect_fail 3 "by-user/part-00001\.bin\.zst" hr 3 split --data "$d" --train "$W/tr" --test "$W/te" --last 1
    # a missing shard is named as well
    copy_ref "$d"; rm "$d/by-item/part-00000.bin.zst"
    expect_fail 3 "by-item/part-00000\.bin\.zst.*missing" hr $NP inspect "$d"
}
case_truncated_dictionary() {
    local d=$W/td
    copy_ref "$d"
    head -c $(($(stat -c %s "$d/users.dict.zst") / 2)) "$W/ref/users.dict.zst" >"$d/users.dict.zst"
    expect_fail 3 "users\.dict\.zst" hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --random 0.2
    copy_ref "$d"; : >"$d/items.dict.zst"
    expect_fail 3 "items\.dict\.zst" hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --random 0.2
    expect_fail 3 "items\.dict\.zst" hr $NP inspect "$d"
}
case_manifest_version() {
    local d=$W/mv
    copy_ref "$d"
    set_manifest() { python3 -c 'import json,sys; p = sys.argv[1] + "/manifest.json"; m = json.load(open(p))
m[sys.argv[2]] = json.loads(sys.argv[3]); json.dump(m, open(p, "w"))' "$d" "$1" "$2"; }
    set_manifest version 99
    expect_fail 3 "version 99 is not supported" hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --last 1
    expect_fail 3 "version 99" hr $NP inspect "$d"
    [ -f "$W/tr/manifest.json" ] && fail "split wrote a train set from a refused dataset"
    set_manifest version 0
    expect_fail 3 "version 0 is not supported" hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --last 1
    set_manifest version '"1"'
    expect_fail 3 "manifest" hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --last 1
    copy_ref "$d"; set_manifest format '"hpcrec-model"'
    expect_fail 3 "hpcrec-model" hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --last 1
    # the intact copy still splits
    copy_ref "$d"
    hr $NP split --data "$d" --train "$W/tr" --test "$W/te" --last 1 >/dev/null || fail "intact dataset does not split"
}

tcase formats-plain case_plain
tcase formats-gz case_gz
tcase formats-zst case_zst
tcase formats-zip case_zip
tcase formats-tar-gz case_tar_gz
tcase formats-tar-zst case_tar_zst
tcase formats-tar-xz case_tar_xz
tcase formats-bz2 case_bz2
tcase formats-xz case_xz
tcase formats-tar-members-and-mixed-dir case_tar_members
tcase formats-truncated-gz case_truncated_gz
tcase formats-truncated-zst case_truncated_zst
tcase formats-corrupt-zip case_corrupt_zip
tcase formats-corrupt-shard case_corrupt_shard
tcase formats-truncated-dictionary case_truncated_dictionary
tcase formats-manifest-version case_manifest_version
[ "$_fails" = 0 ]
