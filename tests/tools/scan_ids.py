#!/usr/bin/env python3
"""tests/tools/scan_ids.py — look for user ids in everything under some roots.

    scan_ids.py IDS_FILE ROOT...

Walks every regular file under the ROOTs (symbolic links are not followed), decompressing zstd
files and the members of tar files (model bundles), and reports each place where one of the ids
appears AS A USER ID:
  - dictionaries (HRDICT01, the user side: `users.dict*`, dataset or bundle member);
  - recommendation parts (zstd TSV whose header starts with `user`): the first column;
  - ingest's rejects (`rejects/*.tsv`): the user field of policy rejects, any field of a row that
    did not parse;
  - plain interaction logs (csv/tsv/log files, zstd or not): the first field of each line;
  - SQLite databases (export --recs): the `user` column of `recommendations`.
Prints one line per hit and `hits N`; exits 1 when N > 0.  Standard library and the `zstd`
command only.
"""
import io, os, re, struct, subprocess, sys, tarfile

def unzstd(b):
    return subprocess.run(["zstd", "-dcq"], input=b, stdout=subprocess.PIPE, check=True).stdout

def dict_ids(raw):
    out, pos = [], 0
    while pos + 24 <= len(raw) and raw[pos:pos + 8] == b"HRDICT01":
        _, _, is_int, n = struct.unpack_from("<8sIIQ", raw, pos)
        p = pos + 24
        if is_int:
            out += [str(v) for v in struct.unpack_from("<%dq" % n, raw, p)]
            p += 8 * n
        else:
            offs = struct.unpack_from("<%dQ" % (n + 1), raw, p)
            p += 8 * (n + 1)
            keys = raw[p:p + offs[n]]
            out += [keys[offs[g]:offs[g + 1]].decode("utf-8", "replace") for g in range(n)]
            p += offs[n]
        pos = p + 8 * n   # nnz
    return out

SEP = re.compile(r"[,\t;| :]")

def scan_text(name, text, ids, hits):
    lines = text.decode("utf-8", "replace").split("\n")
    if not lines:
        return
    if "rejects/" in name:
        for ln in lines[1:]:
            f = ln.split("\t", 4)
            if len(f) < 5:
                continue
            row = f[4].encode().decode("unicode_escape")
            if f[2] in ("duplicate", "conflict", "bot_user"):
                fields = [row.split(",")[0]]
            else:
                fields = [x.strip("\"'") for x in SEP.split(row)]
            for x in fields:
                if x in ids:
                    hits.append("%s: reject of user %s" % (name, x))
        return
    header = lines[0].split("\t")
    start = 1 if header and header[0] in ("user", "item", "query") else 0
    if start and header[0] != "user":
        return
    for ln in lines[start:]:
        x = SEP.split(ln, 1)[0]
        if x in ids:
            hits.append("%s: line of user %s" % (name, x))

def scan_blob(name, b, ids, hits):
    if name.endswith(".zst"):
        b = unzstd(b)
        name = name[:-4]
    base = os.path.basename(name)
    if b[:16] == b"SQLite format 3\x00":
        import sqlite3, tempfile
        with tempfile.NamedTemporaryFile(suffix=".sqlite") as t:
            t.write(b)
            t.flush()
            db = sqlite3.connect(t.name)
            for (u,) in db.execute("SELECT DISTINCT user FROM recommendations"):
                if str(u) in ids:
                    hits.append("%s: database row of user %s" % (name, u))
            db.close()
        return
    if b[:8] == b"HRDICT01":
        if base.startswith("users.dict"):
            for x in dict_ids(b):
                if x in ids:
                    hits.append("%s: dictionary holds user %s" % (name, x))
        return
    if name.endswith(".tar"):
        with tarfile.open(fileobj=io.BytesIO(b)) as t:
            for m in t.getmembers():
                if m.isfile():
                    scan_blob(name + ":" + m.name, t.extractfile(m).read(), ids, hits)
        return
    if base.endswith((".tsv", ".csv", ".log", ".txt", ".dat")):
        scan_text(name, b, ids, hits)

def main():
    ids = {l.strip() for l in open(sys.argv[1]) if l.strip()}
    hits, files = [], 0
    for root in sys.argv[2:]:
        for d, dirs, fs in os.walk(root):
            for f in fs:
                p = os.path.join(d, f)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                files += 1
                with open(p, "rb") as fh:
                    scan_blob(p, fh.read(), ids, hits)
    for h in hits:
        print(h)
    print("files %d hits %d" % (files, len(hits)))
    sys.exit(1 if hits else 0)

main()
