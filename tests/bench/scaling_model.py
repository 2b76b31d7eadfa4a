#!/usr/bin/python3
"""The scaling model of docs/scaling.md, as code, so that its numbers can be recomputed.

    scaling_model.py check MEASURED.json      predicted vs measured for `make bench` (scaling)
    scaling_model.py big [--cores C] [--gflops F] [--gbit G] [--latency-us L]
                                              the 1B-interaction prediction table (markdown)

Inputs everywhere: users U, items I, interactions N, factors k, ranks P (ranks_per_node c per
node), per-core compute rate F (useful FLOP/s a rank reaches in the solver), network bandwidth
B per node (bytes/s) and latency alpha (s per message).  Needs numpy (/usr/bin/python3).

Distinct rows.  The `needed` exchange moves, per rank and half, the distinct other-side rows its
block references.  A rank holding m interactions whose other ends are drawn from a popularity
distribution p (sum 1) references E[distinct] = sum_j (1 - exp(-m p_j)) rows (Poisson
approximation of drawing without replacement per row; exact enough at these sizes).  Item
popularity is Zipf (p_j ~ 1/j^s, s = 1, gen's HR_SYNTH_ZIPF); user activity is Pareto(1.2),
capped (gen's HR_SYNTH_ACTIVITY_SHAPE, HR_SYNTH_USER_CAP): the two distributions of
solvers/synth.h, which is also what real logs look like.
"""
import argparse
import json
import math
import sys

import numpy as np

MB = 1 << 20


class Dist:
    """A popularity distribution over n rows, as (probability, how many rows have it) pairs:
    exact for the head, grouped in the long tail, so that 100M rows cost a few MB."""
    def __init__(self, p, w):
        self.p, self.w = p, w


def zipf(n, s=1.0, exact=100_000, groups=20_000):
    head = np.arange(1, min(n, exact) + 1, dtype=np.float64)
    p, w = [head ** -s], [np.ones_like(head)]
    if n > exact:   # geometric groups of ranks exact+1 .. n, each at its middle rank
        edges = np.unique(np.geomspace(exact + 1, n + 1, groups).astype(np.int64))
        mid = (edges[:-1] + edges[1:] - 1) / 2.0
        p.append(mid ** -s)
        w.append((edges[1:] - edges[:-1]).astype(np.float64))
    p, w = np.concatenate(p), np.concatenate(w)
    return Dist(p / np.sum(p * w), w)


def pareto(n, shape=1.2, cap=500.0, points=100_000):
    k = min(n, points)
    q = (np.arange(k, dtype=np.float64) + 0.5) / k
    a = np.minimum((1.0 - q) ** (-1.0 / shape), cap)
    w = np.full(k, n / k)
    return Dist(a / np.sum(a * w), w)


def distinct(m, d):
    """Expected distinct rows among m draws from d (Poisson approximation)."""
    return float(np.sum(-np.expm1(-m * d.p) * d.w))


def flops_per_iteration(algo, U, I, N, k, cg_steps=3):
    """Useful FLOPs of one iteration, both halves (solvers/als.h's counts)."""
    if algo == "als":   # ssyrk of the gathered rows + Cholesky per row, each half
        return 2 * (2 * N * k * k) + (U + I) * k ** 3 / 3.0
    # ials CG: (s + 1) (2 n k^2 + 4 nnz k) per half, plus the Gram of the other side
    return (cg_steps + 1) * (2 * (U + I) * k * k + 8 * N * k) + (U + I) * k * k


def exchange_rows(U, I, N, P, exchange, pu, pi):
    """Rows a rank receives per iteration (both halves), and the total over ranks."""
    own = 1.0 / P
    if exchange == "allgather":
        per_rank = (U + I) * (1 - own)
    else:
        m = N / P
        # user half: the items its users touch; item half: the users its items touch; minus
        # the rank's own rows (a fraction 1/P of them, on average)
        per_rank = (distinct(m, pi) + distinct(m, pu)) * (1 - own)
    return per_rank, per_rank * P


def train_memory(U, I, N, k, P, exchange, pu, pi, algo="ials"):
    """Bytes per rank at the training peak (the terms of docs/scaling.md)."""
    base = 40 * MB                                   # MPI, libraries (RSS only; not in the allocator's count)
    fixed = 4 * MB                                   # allocator: small arrays, big blocks rounded to 2 MiB
    # CSR + CSC (idx 4, val 4, ts 8 B, each side) + column maps (4 + 4 B) = 40 B per interaction,
    # and the loading transient (a shard's file and decoded bytes beside the blocks): 56 B in all,
    # fitted to the bench (1..16 ranks: within 10%)
    data = 56.0 * N / P
    ids = 24.0 * (U + I)                             # dictionaries (8 B id + 8 B count) + partition tables (8 B)
    width = k + (1 if algo == "als" else 0)
    own = 4.0 * width * (U + I) / P                  # the rank's factor rows
    rows, _ = exchange_rows(U, I, N, P, exchange, pu, pi)
    recv = 4.0 * width * (rows + (U + I) / P)        # receive buffers (own rows included)
    send = 4.0 * width * (0 if exchange == "allgather" else rows)   # needed: packing space
    return base + fixed + data + ids + own + recv + send


def recommend_model(U, I, N, k, P, top, F, B, alpha):
    flops = 2.0 * U * I * k
    t_comp = flops / (P * F)
    ring = (P - 1) / P * I * (k + 1) * 4.0           # every block passes every rank once
    t_comm = ring / B + alpha * (P - 1)
    # selections + user rows, two ring blocks, the by-user block as loaded (CSR 16 B and the
    # loading transient: 36 B per interaction, fitted to the bench), dictionaries, the
    # allocator's 3 MB
    mem = 43 * MB + (U / P) * (8 * top + 4 * k) + 2 * (I / P) * (k + 1) * 4 + 36.0 * N / P + 24.0 * (U + I)
    return t_comp, t_comm, ring, mem


def check(path):
    """Predicted vs measured for the scaling bench: one JSON list of runs."""
    runs = json.load(open(path))
    out = []
    for r in runs:
        U, I, N, k, P = r["users"], r["items"], r["interactions"], r["factors"], r["ranks"]
        pu, pi = pareto(U, cap=min(500.0, I / 2)), zipf(I)
        if r["command"] == "train":
            rows, total = exchange_rows(U, I, N, P, r["exchange"], pu, pi)
            need_rows, need_total = exchange_rows(U, I, N, P, "needed", pu, pi)
            mem = train_memory(U, I, N, k, P, r["exchange"], pu, pi, r["algo"]) / MB
            out.append(dict(r, pred_rows_total=total, pred_needed_total=need_total, pred_mem_mb=mem))
        else:
            _, _, ring, mem = recommend_model(U, I, N, k, P, r["top"], 1, 1, 0)
            out.append(dict(r, pred_ring_bytes=ring, pred_mem_mb=mem / MB))
    json.dump(out, sys.stdout, indent=1)


def big(args):
    U, I, N, k = 100_000_000, 10_000_000, 1_000_000_000, 128
    c, F = args.cores, args.gflops * 1e9
    B, alpha = args.gbit * 1e9 / 8, args.latency_us * 1e-6
    pu, pi = pareto(U, cap=500.0), zipf(I)
    print("| nodes | ranks | algo | exchange | compute s | exchange s | s/iter | GB in per node | memory per rank | memory per node | bottleneck |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for nodes in (16, 64, 256):
        P = nodes * c
        for algo in ("als", "ials"):
            t_comp = flops_per_iteration(algo, U, I, N, k) / (P * F)
            for ex in ("allgather", "needed"):
                rows, _ = exchange_rows(U, I, N, P, ex, pu, pi)
                width = k + (1 if algo == "als" else 0)
                node_bytes = c * rows * width * 4.0          # what crosses the node's link
                msgs = math.log2(P) if ex == "allgather" else P - 1
                t_comm = node_bytes / B + 2 * alpha * msgs
                if algo == "ials":
                    t_comm += 2 * (2 * 8 * k * k / B + alpha * math.log2(P))   # Gram allreduce, each half
                mem = train_memory(U, I, N, k, P, ex, pu, pi, algo)
                t = t_comp + t_comm
                neck = "memory" if mem * c > 512e9 else ("network" if t_comm > t_comp else "compute")
                print("| %d | %d | %s | %s | %.2f | %.2f | %.2f | %.1f | %.1f GB | %.0f GB | %s |"
                      % (nodes, P, algo, ex, t_comp, t_comm, t, node_bytes / 1e9, mem / 1e9, mem * c / 1e9, neck))
    print()
    print("| nodes | recommend top-100: compute s | ring s | memory per rank |")
    print("|---|---|---|---|")
    for nodes in (16, 64, 256):
        P = nodes * c
        tc, tr, _, mem = recommend_model(U, I, N, k, P, 100, F, B / c, alpha)
        print("| %d | %.0f | %.1f | %.2f GB |" % (nodes, tc, tr, mem / 1e9))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("measured")
    b = sub.add_parser("big")
    b.add_argument("--cores", type=int, default=64)
    b.add_argument("--gflops", type=float, default=60.0, help="useful GFLOP/s per core in the solver")
    b.add_argument("--gbit", type=float, default=100.0)
    b.add_argument("--latency-us", type=float, default=2.0)
    a = ap.parse_args()
    if a.cmd == "check":
        check(a.measured)
    else:
        big(a)


if __name__ == "__main__":
    main()
