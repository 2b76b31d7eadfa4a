#!/usr/bin/python3
"""Read hpcrec's files from docs/formats.md alone (tar, the zstd command, numpy) and check the
exports against them.

    read_model.py scores MODEL.tar RECS_DIR USERS     recommend's scores and top-N lists for
                                                      USERS sampled users (run with --include-seen)
    read_model.py export MODEL.tar EXPORT_DIR         the .npy (or TSV) files equal the bundle
    read_model.py sqlite RECS_DIR FILE.sqlite         the database answers every user's list
                                                      exactly as the TSV parts

The reader (read_bundle) is the one docs/formats.md shows: it knows nothing of hpcrec's code.
Exit 0 when every check holds, 1 with a message otherwise.
"""
import io, json, random, sqlite3, struct, subprocess, sys, tarfile
import numpy as np


# ---- the reader of docs/formats.md, "Reading a model in Python" ---------------------------
def read_dict(raw):
    magic, version, is_int, n = struct.unpack_from("<8sIIQ", raw, 0)
    assert magic == b"HRDICT01" and version == 1, "not a version-1 dictionary"
    if is_int:
        return [int(v) for v in np.frombuffer(raw, "<i8", n, 24)]
    offs = np.frombuffer(raw, "<u8", n + 1, 24)
    keys = raw[24 + 8 * (n + 1):]
    return [keys[offs[g]:offs[g + 1]].decode() for g in range(n)]


def read_iiblock(raw):
    """An item-item column block as a dense n x (c1 - c0) float32 matrix (absent entries 0)."""
    magic, version, dense, n, c0, c1, nnz = struct.unpack_from("<8sIIQQQQ", raw, 0)
    assert magic == b"HRIIBLK1" and version == 1, "not a version-1 item-item block"
    if dense:
        return np.frombuffer(raw, "<f4", nnz, 48).reshape(c1 - c0, n).T
    ptr = np.frombuffer(raw, "<u8", c1 - c0 + 1, 48)
    row = np.frombuffer(raw, "<u4", nnz, 48 + 8 * (c1 - c0 + 1))
    val = np.frombuffer(raw, "<f4", nnz, 48 + 8 * (c1 - c0 + 1) + 4 * nnz)
    out = np.zeros((n, c1 - c0), "<f4")
    out[row, np.repeat(np.arange(c1 - c0), np.diff(ptr).astype(np.int64))] = val
    return out


def read_bundle(path):
    tar = tarfile.open(path)
    man = json.load(tar.extractfile("manifest.json"))
    assert man["format"] == "hpcrec-model" and man["version"] == 2, "a format-2 model bundle"
    out = {}
    for name, a in man["arrays"].items():
        parts = []
        for j in range(a["members"]):
            member = "%s.%06d" % (name, j)
            raw = subprocess.run(["zstd", "-dcq"], input=tar.extractfile(member + ".zst").read(),
                                 check=True, stdout=subprocess.PIPE).stdout
            assert len(raw) == man["members"][member]["raw_bytes"], member
            parts.append(read_dict(raw) if a["type"] == "dict" else
                         read_iiblock(raw) if a["type"] == "iiblock" else np.frombuffer(raw, "<f4"))
        if a["type"] == "iiblock":   # B: items x items, B[i, j] = weight of item i in item j's score
            out[name] = np.concatenate(parts, axis=1)
        elif a["type"] == "dict":
            out[name] = [k for p in parts for k in p]
        else:
            out[name] = np.concatenate(parts).reshape(a["rows"], a["cols"]) if parts else np.zeros((0, a["cols"]), "<f4")
    return man, out
# -------------------------------------------------------------------------------------------


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def tsv_lines(recs):
    """user -> [(rank, item, score, source)] from the zstd TSV parts a manifest lists."""
    man = json.load(open(recs + "/manifest.json"))
    lists = {}
    for f in sorted(man["files"]):
        text = subprocess.run(["zstd", "-dcq", recs + "/" + f], check=True, stdout=subprocess.PIPE).stdout.decode()
        rows = text.split("\n")
        if rows[0] != "user\trank\titem\tscore\tsource":
            fail(f + ": header " + rows[0])
        for line in rows[1:]:
            if line:
                u, r, i, s, src = line.split("\t")
                lists.setdefault(u, []).append((int(r), i, float(s), src))
    return lists


def check_scores(model, recs, nusers):
    man, a = read_bundle(model)
    users = {str(k): g for g, k in enumerate(a["users.dict"])}
    items = [str(k) for k in a["items.dict"]]
    lists = tsv_lines(recs)
    Y = a["item_factors.f32"].astype(np.float64)
    b = a["item_bias.f32"][:, 0].astype(np.float64) if "item_bias.f32" in a else np.zeros(len(items))
    picked = random.Random(7).sample(sorted(lists), min(nusers, len(lists)))
    tol = 1e-5
    for u in picked:
        got = sorted(lists[u])
        s = Y @ a["user_factors.f32"][users[u]].astype(np.float64) + b   # recommend's score
        idx = {k: i for i, k in enumerate(items)}
        for r, item, score, src in got:
            if abs(s[idx[item]] - score) > tol:
                fail("user %s rank %d item %s: recommend %.6f, from the bundle %.6f" % (u, r, item, score, s[idx[item]]))
        # the list is the top N up to ties within tol: sorted, and nothing left out scores higher
        sc = [x[2] for x in got]
        if any(sc[j] < sc[j + 1] - tol for j in range(len(sc) - 1)):
            fail("user %s: scores not descending: %s" % (u, sc))
        listed = {x[1] for x in got}
        best_out = max((s[i] for i, k in enumerate(items) if k not in listed), default=-np.inf)
        if best_out > sc[-1] + tol:
            fail("user %s: an item outside the list scores %.6f > the last listed %.6f" % (u, best_out, sc[-1]))
    print("scores: %d users, %d items, top %d: recommend's scores and lists reproduced to %g" % (len(picked), len(items), len(got), tol))


def load_tsv_table(path):
    rows = open(path).read().rstrip("\n").split("\n")
    return rows[0].split("\t"), [line.split("\t") for line in rows[1:]]


def check_export(model, out):
    man, a = read_bundle(model)
    meta = json.load(open(out + "/model.json"))
    if meta["format"] != "hpcrec-export" or meta["version"] != 1:
        fail("model.json: " + str(meta))
    for side in ("users", "items"):
        head, rows = load_tsv_table("%s/%s.tsv" % (out, side))
        if head != ["row", side[:-1]] or [int(r[0]) for r in rows] != list(range(len(rows))):
            fail(side + ".tsv: header or row numbers")
        if [r[1] for r in rows] != [str(k) for k in a[side + ".dict"]]:
            fail(side + ".tsv: ids differ from the bundle's dictionary")
    arrays = {f: e for f, e in meta["files"].items() if "dtype" in e}
    want = {n for n in a if n.endswith(".f32")}
    if {e["array"] for e in arrays.values()} != want:
        fail("exported arrays %s, bundle arrays %s" % (sorted(arrays), sorted(want)))
    for f, e in arrays.items():
        ref = a[e["array"]]
        if f.endswith(".npy"):
            x = np.load(out + "/" + f)
            x = x if x.ndim == 2 else x.reshape(-1, 1)
        else:
            head, rows = load_tsv_table(out + "/" + f)
            x = np.array([[np.float32(v) for v in r[1:]] for r in rows], dtype=np.float32).reshape(-1, ref.shape[1])
        if x.dtype != np.float32 or x.shape != ref.shape or not np.array_equal(x, ref):
            fail("%s differs from the bundle's %s" % (f, e["array"]))
        if e["bytes"] != len(open(out + "/" + f, "rb").read()):
            fail(f + ": size differs from model.json")
    if man["kind"] == "itemitem":
        check_neighbors(a, meta, out)
    print("export: %s equal the bundle's arrays and dictionaries" % ", ".join(sorted(meta["files"])))


def check_neighbors(a, meta, out):
    """item_neighbors.tsv.zst = per item j, B's column j: the non-zero entries, the
    `neighbors` of largest |weight| (0: all), larger |weight| first, ties by lower row."""
    f = out + "/item_neighbors.tsv.zst"
    text = subprocess.run(["zstd", "-dcq", f], check=True, stdout=subprocess.PIPE).stdout.decode()
    lines = text.rstrip("\n").split("\n")
    if lines[0] != "item\tneighbor\tweight":
        fail("item_neighbors.tsv.zst: header " + lines[0])
    B, ids, N = a["item_item"], [str(k) for k in a["items.dict"]], meta["neighbors"]
    want = []
    for j in range(B.shape[1]):
        rows = np.nonzero(B[:, j])[0]
        order = rows[np.lexsort((rows, -np.abs(B[rows, j])))]
        want.extend((ids[j], ids[i], B[i, j]) for i in (order[:N] if N else order))
    got = [l.split("\t") for l in lines[1:]]
    if len(got) != len(want) or meta["files"]["item_neighbors.tsv.zst"]["rows"] != len(want):
        fail("item_neighbors.tsv.zst: %d lines (model.json %d), the bundle's B gives %d"
             % (len(got), meta["files"]["item_neighbors.tsv.zst"]["rows"], len(want)))
    for g, w in zip(got, want):
        if g[0] != w[0] or g[1] != w[1] or np.float32(g[2]) != w[2]:
            fail("item_neighbors.tsv.zst: line %s, expected %s" % (g, w))
    if meta["files"]["item_neighbors.tsv.zst"]["bytes"] != len(open(f, "rb").read()):
        fail("item_neighbors.tsv.zst: size differs from model.json")
    print("neighbors: %d items, %d lines (%s per item) equal the bundle's B" % (B.shape[1], len(want), N or "all"))


def check_sqlite(recs, db):
    lists = tsv_lines(recs)
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM recommendations").fetchone()[0]
    if n != sum(len(v) for v in lists.values()):
        fail("%d rows in the database, %d lines in the TSV" % (n, sum(len(v) for v in lists.values())))
    for u, got in lists.items():
        key = int(u) if con.execute("SELECT typeof(user) FROM recommendations LIMIT 1").fetchone()[0] == "integer" else u
        items = [str(r[0]) for r in con.execute("SELECT item FROM recommendations WHERE user=? ORDER BY rank", (key,))]
        if items != [x[1] for x in sorted(got)]:
            fail("user %s: database %s, TSV %s" % (u, items, [x[1] for x in sorted(got)]))
    idx = con.execute("SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='recommendations'").fetchall()
    if not any("UNIQUE" in (s or "") and "user, rank" in (s or "") for (s,) in idx):
        fail("no UNIQUE index on (user, rank): %s" % idx)
    meta = dict(con.execute("SELECT key, value FROM meta"))
    for k in ("model", "day", "manifest_xxh3", "rows"):
        if k not in meta:
            fail("meta lacks " + k)
    print("sqlite: %d users, %d rows answer as the TSV lists" % (len(lists), n))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "scores":
        check_scores(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "export":
        check_export(sys.argv[2], sys.argv[3])
    elif cmd == "sqlite":
        check_sqlite(sys.argv[2], sys.argv[3])
    else:
        fail("unknown command " + cmd)
