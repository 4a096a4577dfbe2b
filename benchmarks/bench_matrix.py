"""Benchmark of the matrix math: triangle check and every completer for M = 10 .. 500.

Input: a planted rank-3 symmetric distance matrix (squared distances of points on a line:
hollow, non-negative, rank 3) with 35 % of the off-diagonal pairs observed (chosen by
``hetero.design.measurement_design``, at least 4 per row). For each size M it times

- ``check_metric`` on the complete M x M matrix (all observed triples), and
- each completer at the true rank 3 (NuclearNorm has no rank), reporting the relative
  error on the hidden entries; ``symmetric (CV)`` also selects the rank by held-out
  entries.

At M = 10, 35 % of the pairs (15) are fewer than the degrees of freedom of a symmetric
rank-3 matrix (27), so no method can recover the hidden entries there.

NuclearNormMinimization solves a semidefinite program with O(M^2) variables and is only
run up to ``--nnm-max`` (default 50); the CV row up to ``--cv-max`` (default 200). Both
skips are printed. Output is a Markdown table (paste into docs/benchmarks.md).

    python benchmarks/bench_matrix.py            # M = 10, 50, 200, 500
    python benchmarks/bench_matrix.py --quick    # M = 10, 50: checks that it runs
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np

from hetero.completion import get_completer, list_completers
from hetero.design import measurement_design
from hetero.metric import check_metric


def planted(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=n)
    return (x[:, None] - x[None, :]) ** 2


def timed(fn, repeat: int = 1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200, 500])
    parser.add_argument("--quick", action="store_true", help="sizes 10 and 50 only")
    parser.add_argument("--methods", nargs="+", default=list_completers())
    parser.add_argument("--nnm-max", type=int, default=50)
    parser.add_argument("--cv-max", type=int, default=200)
    parser.add_argument("--fraction", type=float, default=0.35)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [10, 50] if args.quick else args.sizes
    warnings.filterwarnings("ignore", category=FutureWarning)

    print(
        f"# bench_matrix: python {platform.python_version()}, numpy {np.__version__},"
        f" {platform.machine()}, fraction observed {args.fraction}"
    )
    print()
    print("| M | step | seconds | rel. error (hidden) | note |")
    print("|---:|---|---:|---:|---|")
    notes = []
    # warm-up: imports and first-call costs are not part of the timings
    Xw = np.where(np.eye(6, k=1, dtype=bool) | np.eye(6, k=-1, dtype=bool), 1.0, np.nan)
    np.fill_diagonal(Xw, 0.0)
    check_metric(planted(6, 0))
    for method in args.methods:
        get_completer(method, rank=None if method == "nuclearnorm" else 1).fit_transform(Xw)
    for n in sizes:
        D = planted(n, args.seed)
        secs, report = timed(lambda D=D: check_metric(D), repeat=3)
        print(f"| {n} | triangle check ({report.n_triples} triples) | {secs:.4f} | | |", flush=True)
        mask = measurement_design(
            n,
            fraction=args.fraction,
            min_per_row=max(1, min(4, int(args.fraction * (n - 1)))),
            seed=args.seed,
        )
        np.fill_diagonal(mask, True)
        X = np.where(mask, D, np.nan)
        hidden = ~mask
        runs = [(m, 3 if m != "nuclearnorm" else None) for m in args.methods]
        if "symmetric" in args.methods:
            runs.append(("symmetric", None))
        for method, rank in runs:
            label = method if not (method == "symmetric" and rank is None) else "symmetric (CV)"
            if method == "nuclearnorm" and n > args.nnm_max:
                notes.append(f"nuclearnorm skipped at M = {n} (> --nnm-max {args.nnm_max})")
                continue
            if label == "symmetric (CV)" and n > args.cv_max:
                notes.append(f"symmetric (CV) skipped at M = {n} (> --cv-max {args.cv_max})")
                continue
            completer = get_completer(method, rank=rank, seed=args.seed)
            secs, Y = timed(lambda c=completer, X=X: c.fit_transform(X))
            err = np.linalg.norm(Y[hidden] - D[hidden]) / np.linalg.norm(D[hidden])
            note = f"rank {completer.rank_}" if rank is None and completer.rank_ else ""
            print(f"| {n} | {label} | {secs:.3f} | {err:.2e} | {note} |", flush=True)
    for note in notes:
        print(f"\nnote: {note}")


if __name__ == "__main__":
    main()
