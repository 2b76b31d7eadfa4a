#!/usr/bin/python3
"""tests/bench/knn_peer.py -- the `implicit` library's item-item recommender (BM25Recommender,
benfred/implicit) on an hpcrec dataset, for `make bench`: the seconds of its fit (BM25 weighting
plus the all-pairs top-K similarity), to set beside `train --algo itemknn --knn-weight bm25`.

usage: knn_peer.py --train PREFIX --neighbors K [--threads T] [--rounds R] [--json FILE]

PREFIX names the text files of `hpcrec inspect DATASET --dump PREFIX` (PREFIX.RRRRR.tsv: user,
item, value, time).  `implicit` is not part of hpcrec: the benchmark finds a build of it through
HR_IMPLICIT, and this script runs under the Python that has numpy and scipy (/usr/bin/python3).
Same settings as hpcrec's defaults for --knn-weight bm25: K1 1.2, B 0.75, K neighbours per item,
the similarity the dot product of the weighted item columns.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from implicit_peer import index, read_dump  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--neighbors", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()

    import implicit
    from implicit.nearest_neighbours import BM25Recommender

    utab, itab = {}, {}
    u, i, v = read_dump(a.train)
    ru = index(u, utab)
    ri = index(i, itab)
    counts = sp.csr_matrix((v.astype(np.float32), (ru, ri)), shape=(len(utab), len(itab)), dtype=np.float32)
    counts.sum_duplicates()
    secs, cpus = [], []
    for _ in range(a.rounds):
        model = BM25Recommender(K=a.neighbors, K1=1.2, B=0.75, num_threads=a.threads)
        t0, c0 = time.time(), time.process_time()
        model.fit(counts, show_progress=False)
        secs.append(time.time() - t0)
        cpus.append(time.process_time() - c0)  # both threads: CPU-seconds of the fit
    out = {"library": "implicit " + implicit.__version__, "recommender": "BM25Recommender", "threads": a.threads,
           "neighbors": a.neighbors, "users": len(utab), "items": len(itab), "interactions": int(counts.nnz),
           "fit_seconds": secs, "median_fit_seconds": statistics.median(secs),
           "fit_cpu_seconds": cpus, "median_fit_cpu_seconds": statistics.median(cpus),
           "neighbours_stored": int(model.similarity.nnz)}
    text = json.dumps(out, indent=2)
    if a.json:
        with open(a.json, "w") as fh:
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
