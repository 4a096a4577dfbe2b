"""Completers side by side on real and planted distance matrices: error on hidden entries.

For each matrix and each fraction of unordered pairs measured (the product's measurement
design, ``--designs`` seeds), the hidden entries are completed by each completer (rank
chosen by held-out entries) and scored by the relative error
``||completed - true||_F / ||true||_F`` over the hidden entries; the chosen ranks and the
seconds per completion are printed next to it. Real matrices come from ``--matrix`` (e.g.
experiment 1's ``modality.json`` / ``interaction.json``); the planted ones are built here:

* ``sqeuclid``: squared distances of 16 points in the plane (hollow, low rank: the model
  of ``symmetric``);
* ``additive``: ``a_i + a_j`` plus 0.3 times a rank-2 residual (the shape of real
  matrices, which ``additive`` models).

Usage::

    python benchmarks/bench_completion.py [--matrix modality.json ...] [--designs 3]
        [--fractions 0.3 0.5 0.8] [--methods symmetric additive auto]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hetero.completion import complete_matrix
from hetero.design import measurement_design
from hetero.matrix import HeterogeneityMatrix


def planted(n: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    sq = (x**2).sum(axis=1)
    euclid = sq[:, None] + sq[None, :] - 2 * x @ x.T
    a, u = rng.uniform(0, 1, n), rng.normal(size=(n, 2))
    additive = np.abs(a[:, None] + a[None, :] + 0.3 * u @ u.T)
    out = {"sqeuclid": euclid, "additive": additive}
    for m in out.values():
        np.fill_diagonal(m, 0.0)
    return out


def run(name: str, D: np.ndarray, methods, fractions, designs: int) -> list[dict]:
    n = len(D)
    labels = [f"u{i}" for i in range(n)]
    rows = []
    for f in fractions:
        for method in methods:
            errs, ranks, secs = [], [], []
            for seed in range(designs):
                mask = measurement_design(n, fraction=f, min_per_row=min(3, n - 1), seed=seed)
                mask = mask | np.eye(n, dtype=bool)
                hidden = ~mask
                M = HeterogeneityMatrix(labels, np.where(mask, D, np.nan), kind="modality")
                t0 = time.perf_counter()
                C = complete_matrix(M, method=method, seed=seed)
                secs.append(time.perf_counter() - t0)
                ranks.append(C.provenance["config"]["rank"])
                errs.append(np.linalg.norm((C.values - D)[hidden]) / np.linalg.norm(D[hidden]))
            rows.append({"matrix": name, "fraction": f, "method": method,
                         "rel_error_mean": float(np.mean(errs)),
                         "rel_error_max": float(np.max(errs)), "ranks": ranks,
                         "seconds": float(np.mean(secs))})  # fmt: skip
            r = rows[-1]
            print(f"| {name} | {f} | {method} | {r['rel_error_mean']:.3f} | "
                  f"{r['rel_error_max']:.3f} | {ranks} | {r['seconds']:.1f} |", flush=True)  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--matrix", type=Path, action="append", default=[])
    ap.add_argument("--designs", type=int, default=3)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.3, 0.5, 0.8])
    ap.add_argument("--methods", nargs="+", default=["symmetric", "additive", "auto"])
    args = ap.parse_args()
    mats = {p.parent.name + "/" + p.stem: HeterogeneityMatrix.read(p).values for p in args.matrix}
    mats.update(planted())
    print("| matrix | fraction | method | rel. error (mean) | max | ranks | s per completion |")
    print("|---|---|---|---|---|---|---|")
    for name, D in mats.items():
        run(name, np.asarray(D, dtype=float), args.methods, args.fractions, args.designs)


if __name__ == "__main__":
    main()
