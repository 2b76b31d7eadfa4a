#!/usr/bin/python3
"""tests/bench/ann_peers.py — the ANN part of `make bench`: vectors, ground truth, recall of
hpcrec's outputs, and the peers (hnswlib, Faiss) on the same vectors with the same thread count.

Run by tests/bench/run.sh under /usr/bin/python3 (numpy, hnswlib and faiss are Debian packages
the bench installs; a peer that does not import is reported as skipped).  Never imported by hpcrec.

  ann_peers.py prep MODEL.tar DIR NQ        items.f32, queries.f32 (NQ users, every n/NQ-th),
                                            queries.txt (their ids), gt.npy (exact top 10)
  ann_peers.py recall DIR RESULTS_DIR       recall@10 of an `index query` output against gt.npy
  ann_peers.py compare EXACT_DIR APPROX_DIR [KEYS_FILE]
                                            recall@10 of APPROX's lists against EXACT's (both
                                            recommend/similar outputs), over EXACT's keys (or KEYS)
  ann_peers.py peers DIR THREADS LISTS      hnswlib and Faiss curves; one line per setting:
                                            "peer NAME build_s=B setting=S recall=R qps=Q mem_mb=M"
"""
import json
import os
import struct
import subprocess
import sys
import tarfile
import time

import numpy as np

K = 10


def members(model, name):
    """The decompressed members of array `name`, in order (docs/formats.md, "Model bundle"):
    version 1 has one member NAME.zst, version 2 members NAME.000000.zst, NAME.000001.zst, ..."""
    with tarfile.open(model) as t:
        names = t.getnames()
        ns = [name + ".zst"] if name + ".zst" in names else \
            sorted(x for x in names if x.startswith(name + ".") and x[len(name) + 1:-4].isdigit() and x.endswith(".zst"))
        assert ns, "%s: no member %s" % (model, name)
        return [subprocess.run(["zstd", "-dcq"], input=t.extractfile(x).read(), capture_output=True, check=True).stdout for x in ns]


def member(model, name):
    return b"".join(members(model, name))


def dict_ids(model, name):
    """External ids of an integer dictionary (io/shard.h: HRDICT01 | u32 version | u32 is_int | u64 n | i64 ids[n] ...);
    a version-2 bundle holds one such dictionary per member."""
    out = []
    for b in members(model, name):
        assert b[:8] == b"HRDICT01" and struct.unpack_from("<I", b, 12)[0] == 1, "integer ids expected"
        n = struct.unpack_from("<Q", b, 16)[0]
        out.append(np.frombuffer(b, dtype=np.int64, count=n, offset=24))
    return np.concatenate(out)


def exact_top(Q, Y, k=K, skip_self=None):
    out = np.empty((len(Q), k), dtype=np.int64)
    for i in range(0, len(Q), 500):
        S = Q[i:i + 500] @ Y.T
        if skip_self is not None:
            S[np.arange(len(S)), skip_self[i:i + 500]] = -np.inf
        top = np.argpartition(-S, k, axis=1)[:, :k]
        out[i:i + 500] = top
    return out


def prep(model, d, nq):
    os.makedirs(d, exist_ok=True)
    man = subprocess.run("tar -xOf '%s' manifest.json" % model, shell=True, capture_output=True, check=True).stdout
    k = json.loads(man)["k"]
    Y = np.frombuffer(member(model, "item_factors.f32"), dtype=np.float32).reshape(-1, k)
    X = np.frombuffer(member(model, "user_factors.f32"), dtype=np.float32).reshape(-1, k)
    uids = dict_ids(model, "users.dict")
    step = max(1, len(X) // nq)
    pick = np.arange(0, step * nq, step)[:nq]
    Q = np.ascontiguousarray(X[pick])
    t = time.time()
    gt = exact_top(Q, Y)
    Y.tofile(os.path.join(d, "items.f32"))
    Q.tofile(os.path.join(d, "queries.f32"))
    np.save(os.path.join(d, "gt.npy"), gt)
    np.save(os.path.join(d, "iids.npy"), dict_ids(model, "items.dict"))
    with open(os.path.join(d, "queries.txt"), "w") as f:
        f.write("".join("%d\n" % u for u in uids[pick]))
    with open(os.path.join(d, "k"), "w") as f:
        f.write(str(k))
    print("prep items=%d k=%d queries=%d exact_top10_s=%.1f" % (len(Y), k, len(Q), time.time() - t))


def read_lists(res):
    out = {}
    txt = subprocess.run("zstdcat '%s'/part-*.tsv.zst" % res, shell=True, capture_output=True, text=True, check=True).stdout
    for line in txt.splitlines():
        f = line.split("\t")
        if f[1] == "rank":
            continue
        out.setdefault(f[0], []).append(f[2])
    return out


def recall_of(d, res):
    gt = np.load(os.path.join(d, "gt.npy"))
    iids = np.load(os.path.join(d, "iids.npy"))
    qs = [l.strip() for l in open(os.path.join(d, "queries.txt"))]
    lists = read_lists(res)
    hit = 0
    for q, row in zip(qs, gt):
        truth = set(int(iids[t]) for t in row)
        hit += len(truth & set(int(x) for x in lists.get(q, [])[:K]))
    return hit / (len(qs) * K)


def compare(exact, approx, keys=None):
    a, b = read_lists(exact), read_lists(approx)
    ks = [l.strip() for l in open(keys)] if keys else list(a)
    ks = [k for k in ks if k in a]
    hit = sum(len(set(a[k][:K]) & set(b.get(k, [])[:K])) for k in ks)
    tot = sum(min(K, len(a[k])) for k in ks)
    short = sum(1 for k in ks if len(b.get(k, [])) < min(K, len(a[k])))
    print("compare recall=%.4f keys=%d short=%d" % (hit / max(1, tot), len(ks), short))


def peers(d, threads, lists):
    k = int(open(os.path.join(d, "k")).read())
    Y = np.fromfile(os.path.join(d, "items.f32"), dtype=np.float32).reshape(-1, k)
    Q = np.fromfile(os.path.join(d, "queries.f32"), dtype=np.float32).reshape(-1, k)
    gt = np.load(os.path.join(d, "gt.npy"))

    def rec(I):
        return float(np.mean([len(set(a) & set(g)) / K for a, g in zip(I, gt)]))

    try:
        import hnswlib
        p = hnswlib.Index(space="ip", dim=k)
        p.set_num_threads(threads)
        t = time.time()
        p.init_index(max_elements=len(Y), ef_construction=200, M=16)
        p.add_items(Y)
        tb = time.time() - t
        for ef in (10, 20, 40, 80, 160, 320):
            p.set_ef(ef)
            t = time.time()
            I, _ = p.knn_query(Q, k=K)
            ts = time.time() - t
            print("peer hnswlib build_s=%.1f setting=ef%d recall=%.4f qps=%.0f mem_mb=%.0f" % (tb, ef, rec(I), len(Q) / ts,
                                                                                              len(Y) * (4 * k + 16 * 2 * 4) / 2**20), flush=True)
    except ImportError as e:
        print("peer hnswlib skipped (%s)" % e)
    try:
        import faiss
        faiss.omp_set_num_threads(threads)
        nrm = np.linalg.norm(Y, axis=1)
        M = nrm.max()
        Ya = np.hstack([Y, np.sqrt(np.maximum(M * M - nrm ** 2, 0))[:, None]]).astype(np.float32)
        Qa = np.hstack([Q, np.zeros((len(Q), 1), np.float32)]).astype(np.float32)
        for name, make, bytes_per in (("faiss-ivf-flat", lambda q: faiss.IndexIVFFlat(q, k + 1, lists, faiss.METRIC_L2), 4 * (k + 1) + 8),
                                      ("faiss-ivf-sq8", lambda q: faiss.IndexIVFScalarQuantizer(q, k + 1, lists, faiss.ScalarQuantizer.QT_8bit,
                                                                                              faiss.METRIC_L2), (k + 1) + 8)):
            idx = make(faiss.IndexFlatL2(k + 1))
            t = time.time()
            idx.train(Ya)
            idx.add(Ya)
            tb = time.time() - t
            for nprobe in (1, 2, 4, 8, 16, 32, 64):
                idx.nprobe = nprobe
                t = time.time()
                _, I = idx.search(Qa, K)
                ts = time.time() - t
                print("peer %s build_s=%.1f setting=nprobe%d recall=%.4f qps=%.0f mem_mb=%.0f" % (name, tb, nprobe, rec(I), len(Q) / ts,
                                                                                                 len(Y) * bytes_per / 2**20), flush=True)
    except ImportError as e:
        print("peer faiss skipped (%s)" % e)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "prep":
        prep(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "recall":
        print("recall=%.4f" % recall_of(sys.argv[2], sys.argv[3]))
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif cmd == "peers":
        peers(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
