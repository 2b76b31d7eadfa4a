#!/usr/bin/python3
"""tests/bench/implicit_peer.py -- the `implicit` library's CPU ALS (benfred/implicit) on an hpcrec
dataset, for `make bench`: seconds per iteration, and recall@K on a test split.

usage: implicit_peer.py --train PREFIX [--test PREFIX] --factors K --lambda L --alpha A --iters N
                        [--cg-steps S | --cholesky] [--threads T] [--k 10] [--json FILE]

PREFIX names the text files of `hpcrec inspect DATASET --dump PREFIX` (PREFIX.RRRRR.tsv: user,
item, value, time).  `implicit` is not part of hpcrec: the benchmark finds a build of it through
HR_IMPLICIT (a folder holding the `implicit` package), and this script runs under the Python that
has numpy and scipy (/usr/bin/python3).

Settings as hpcrec's `train --algo ials --epsilon 0`: confidence c = 1 + alpha * value (implicit
takes the confidence itself as its input, with its own alpha = 1), regularisation lambda * I, the
same CG step count.  Stored zeros are left out: unobserved, as in hpcrec.
Recall@K follows docs/evaluation.md: a user's candidates are the items with training interactions
minus the user's own; recall = hits in the top K / the user's distinct test items; the mean over
users with test items.  Users with test items but no training interactions are left out here
(hpcrec evaluates them with x = 0, which lowers its recall slightly, never raises it).
"""
import argparse
import glob
import json
import statistics
import sys
import time

import numpy as np
import scipy.sparse as sp


def read_dump(prefix):
    users, items, vals = [], [], []
    files = sorted(glob.glob(prefix + ".*.tsv"))
    if not files:
        sys.exit("implicit_peer: no files %s.*.tsv" % prefix)
    for f in files:
        with open(f) as fh:
            for line in fh:
                u, i, v, _ = line.split("\t")
                users.append(u)
                items.append(i)
                vals.append(float(v))
    return users, items, np.asarray(vals, dtype=np.float64)


def index(keys, table):
    out = np.empty(len(keys), dtype=np.int64)
    for n, key in enumerate(keys):
        out[n] = table.setdefault(key, len(table))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=10.0)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--cg-steps", type=int, default=3)
    ap.add_argument("--cholesky", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--json")
    a = ap.parse_args()

    from implicit.cpu.als import AlternatingLeastSquares
    import implicit

    utab, itab = {}, {}
    u, i, v = read_dump(a.train)
    keep = v != 0.0
    ru = index([x for x, k in zip(u, keep) if k], utab)
    ri = index([x for x, k in zip(i, keep) if k], itab)
    conf = (1.0 + a.alpha * v[keep]).astype(np.float32)
    cui = sp.csr_matrix((conf, (ru, ri)), shape=(len(utab), len(itab)), dtype=np.float32)
    cui.sum_duplicates()

    model = AlternatingLeastSquares(factors=a.factors, regularization=a.lam, alpha=1.0, dtype=np.float32,
                                    use_cg=not a.cholesky, iterations=a.iters, num_threads=a.threads,
                                    random_state=42)
    model.cg_steps = a.cg_steps
    secs = []
    model.fit(cui, show_progress=False, callback=lambda it, elapsed, loss: secs.append(elapsed))
    tail = secs[2:8] if len(secs) >= 8 else secs[len(secs) // 2:]
    out = {"library": "implicit " + implicit.__version__, "solver": "cholesky" if a.cholesky else "cg",
           "cg_steps": a.cg_steps, "threads": a.threads, "factors": a.factors, "users": len(utab),
           "items": len(itab), "interactions": int(cui.nnz), "iteration_seconds": secs,
           "median_seconds_iterations_3_8": statistics.median(tail)}

    if a.test:
        tu, ti, tv = read_dump(a.test)
        X = model.user_factors
        Y = model.item_factors
        test, unknown = {}, {}
        for uu, ii in zip(tu, ti):
            if uu in utab:
                # an item unknown to train is relevant but can never be hit
                test.setdefault(utab[uu], set()).add(itab[ii] if ii in itab else unknown.setdefault(ii, -1 - len(unknown)))
        users = np.fromiter(test.keys(), dtype=np.int64)
        hits_sum, t0 = 0.0, time.time()
        for s in range(0, len(users), 2048):
            blk = users[s:s + 2048]
            scores = X[blk] @ Y.T
            seen = cui[blk]
            scores[np.repeat(np.arange(len(blk)), np.diff(seen.indptr)), seen.indices] = -np.inf
            top = np.argpartition(-scores, a.k, axis=1)[:, :a.k]
            for r, uu in enumerate(blk):
                t = test[uu]
                hits_sum += sum(1 for x in top[r] if x in t) / len(t)
        out["recall@%d" % a.k] = hits_sum / len(users)
        out["users_evaluated"] = int(len(users))
        out["seconds_evaluate"] = time.time() - t0
    text = json.dumps(out, indent=2)
    if a.json:
        with open(a.json, "w") as fh:
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
