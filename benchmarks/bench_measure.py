"""Benchmark of the measurement engine (issue: measurement engine).

Three parts, each printed as a Markdown table (and saved as JSON with ``--json``):

1. Reliability per estimator and seed allocation on a real suite of 8 units (UCI Multiple
   Features views: image, fourier, zernike, profile; smart-watch accelerometer and gyroscope
   for two labels), from package-shipped data (``hetero.datasets`` loaders, the ``mini``
   suite's first three tasks). One measurement per estimator with ``2 S`` transfer and ``2 B``
   baseline seeds is split into two disjoint-seed halves (even / odd seeds), i.e. two
   independent measurements with ``S`` transfer and ``B`` baseline seeds each; smaller
   allocations use subsets of the same seeds. Reported: Spearman of T (also column-centred)
   and of d between the halves, ARI of the plans (K groups), and the compute of one half
   (sum of the wall times of the runs it uses, i.e. single-core seconds).
2. Wall time of the serial executor vs a 2-worker process pool on a fixed small suite (the
   same 8 units, frozen estimator, one seed: 72 runs; ``--exec-config`` sets the learner).
3. A planted M = 20 suite (4 groups of 5 transforms, one task per group): the plan from 35 % measured pairs + completion against the plan
   from the full measurement (ARI) and against the planted groups, the relative error of
   the completed entries, and the number of runs saved.

Usage::

    python benchmarks/bench_measure.py [--max-seeds 4] [--parts 1,2,3] [--json out.json]
        [--learner reference] [--work DIR]

Runs are stored under ``--work`` (a temporary directory by default), so re-running with the
same ``--work`` reuses finished runs (delete it for timings).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ESTIMATORS = ("finetune", "budgeted", "frozen", "frozen_short")


def real_suite():
    """mfeat (4 views) + watch + watch_side (accelerometer, gyroscope): 8 units."""
    from hetero.datasets import get_suite
    from hetero.suite import Suite

    mini = get_suite("mini")
    tasks = [mini.task(name) for name in ("mfeat", "watch", "watch_side")]
    return Suite(tasks, name="mfeat+watch")


def _cluster(labels, d, k):
    from hetero.grouping import cluster
    from hetero.matrix import HeterogeneityMatrix

    groups, _ = cluster(HeterogeneityMatrix(labels, d), n_groups=k)
    return np.asarray(groups)


def _d(t):
    p = np.where(np.isnan(t), np.nan, np.maximum(t, 0.0))
    d = p + p.T
    np.fill_diagonal(d, 0.0)
    return d


def _centre(t):
    t = t.copy()
    off = ~np.eye(t.shape[0], dtype=bool)
    for j in range(t.shape[1]):
        col = off[:, j] & np.isfinite(t[:, j])
        t[col, j] -= t[col, j].mean()
    return t


def reliability(args, work: Path) -> list[dict]:
    from sklearn.metrics import adjusted_rand_score

    from hetero.measure.analysis import run_scores
    from hetero.measure.driver import measure
    from hetero.measure.estimators import estimate_transfer, get_estimator
    from hetero.measure.stability import offdiag_spearman
    from hetero.measure.store import RunStore

    suite = real_suite()
    s_max = args.max_seeds
    rows = []
    for name in ESTIMATORS:
        est = get_estimator(name)
        t0 = time.perf_counter()
        res = measure(suite, work / "real", learner=args.learner, estimator=name,
                      seeds=2 * s_max, baseline_seeds=4 * s_max, interactions=False,
                      executor=args.executor, workers=args.workers, figures=False,
                      stability_boot=0)  # fmt: skip
        wall = time.perf_counter() - t0
        runs = res.modality.runs
        with RunStore(work / "real" / "runs.sqlite") as store:
            records = {r.key: r for r in store.records()}
        tscores, bscores = run_scores(runs, records, est)
        labels = runs.labels
        print(f"[{name}] measured in {wall:.0f} s ({res.stats.trained} runs trained)",
              file=sys.stderr)  # fmt: skip
        allocations = sorted({(s, b) for s in (1, 2, s_max) if s <= s_max for b in (s, 2 * s)})
        for s, b in allocations:
            halves = []
            for parity in (0, 1):
                ts = list(range(parity, 2 * s, 2))
                bs = list(range(parity, 2 * b, 2))
                e = estimate_transfer(labels, tscores, bscores, seeds=ts, baseline_seeds=bs)
                keys = {runs.transfer[k].key for k in runs.transfer if k[2] in ts}
                keys |= {runs.baseline[k].key for k in runs.baseline if k[1] in bs}
                keys |= {runs.scratch[k].key for k in runs.scratch if k[1] in set(ts) | set(bs)}
                cost = sum(records[k].wall_time or 0.0 for k in keys if k in records)
                halves.append((e.values, cost, len(keys)))
            (ta, ca, na), (tb, cb, nb) = halves
            da, db = _d(ta), _d(tb)
            row = {
                "estimator": name,
                "transfer_seeds": s,
                "baseline_seeds": b,
                "spearman_T": offdiag_spearman(ta, tb),
                "spearman_T_centred": offdiag_spearman(_centre(ta), _centre(tb)),
                "spearman_d": offdiag_spearman(da, db, upper=True),
                "plan_ari": float(
                    adjusted_rand_score(_cluster(labels, da, args.k), _cluster(labels, db, args.k))
                ),
                "runs_per_measurement": (na + nb) / 2,
                "core_seconds_per_measurement": (ca + cb) / 2,
            }
            rows.append(row)
    return rows


def executors(args, work: Path) -> dict:
    """Serial vs a 2-worker process pool on the real suite (frozen, 1 seed: 72 runs)."""
    from hetero.measure.driver import measure

    suite = real_suite()
    out = {}
    for kind, workers in (("serial", None), ("process", 2)):
        d = work / f"exec-{kind}"
        shutil.rmtree(d, ignore_errors=True)
        t0 = time.perf_counter()
        res = measure(suite, d, learner=args.learner, learner_config=args.exec_config,
                      estimator="frozen", seeds=1, baseline_seeds=1, interactions=False,
                      executor=kind, workers=workers, figures=False, stability_boot=0)  # fmt: skip
        out[kind] = {"wall_s": time.perf_counter() - t0, "runs": res.stats.trained}
    out["speedup"] = out["serial"]["wall_s"] / out["process"]["wall_s"]
    return out


def planted(args, work: Path) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from hetero.measure.driver import measure
    from hetero.measure.synthetic import planted_suite

    suite, truth = planted_suite(4, 5, n_noise=0, n_samples=400, width=12, latent=3,
                                 noise=0.5, task_per_group=True, seed=0)  # fmt: skip
    kw = dict(learner="reference", learner_config={"hidden": 8, "max_epochs": 30},
              estimator=args.planted_estimator, seeds=args.planted_seeds,
              baseline_seeds=2 * args.planted_seeds, interactions=False,
              executor=args.executor, workers=args.workers, figures=False,
              stability_boot=0, unimodal_groups=4)  # fmt: skip
    t0 = time.perf_counter()
    full = measure(suite, work / "planted", **kw)
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    part = measure(suite, work / "planted", fraction=0.35, **kw)  # reuses the stored runs
    labels = list(full.modality.distance.labels)
    true_groups = np.array([truth[lab] for lab in labels])

    def groups(plan):
        g = {lab: i for i, grp in enumerate(plan.unimodal_groups) for lab in grp}
        return np.array([g[lab] for lab in labels])

    d_full = full.modality.distance.values
    d_part = part.modality.distance.values
    hidden = part.modality.completed
    rel = float(np.linalg.norm((d_part - d_full)[hidden]) / np.linalg.norm(d_full[hidden]))
    return {
        "units": len(labels),
        "estimator": args.planted_estimator,
        "seeds": args.planted_seeds,
        "runs_full": full.stats.total,
        "runs_sampled": part.stats.total,
        "runs_saved": full.stats.total - part.stats.total,
        "measured_pairs": int(part.modality.runs.mask.sum()),
        "entries_completed": int(np.triu(hidden, 1).sum()),
        "ari_sampled_vs_full": float(adjusted_rand_score(groups(full.plan), groups(part.plan))),
        "ari_full_vs_planted": float(adjusted_rand_score(true_groups, groups(full.plan))),
        "ari_sampled_vs_planted": float(adjusted_rand_score(true_groups, groups(part.plan))),
        "relative_error_completed": rel,
        "wall_full_s": t_full,
        "wall_sampled_analysis_s": time.perf_counter() - t0,
    }


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-seeds", type=int, default=4, help="largest S (transfer seeds)")
    ap.add_argument("--parts", default="1,2,3")
    ap.add_argument("--learner", default="reference")
    ap.add_argument("--executor", default="process")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--k", type=int, default=3, help="plan groups for the ARI")
    ap.add_argument("--planted-estimator", default="frozen")
    ap.add_argument("--planted-seeds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--exec-config", type=json.loads, default={"hidden": 64},
                    help="learner config (JSON) of the executor comparison")  # fmt: skip
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-measure-")
        work = Path(tmp.name)
    else:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
    results: dict = {"learner": args.learner, "executor": args.executor, "workers": args.workers}
    if 1 in parts:
        rows = reliability(args, work)
        results["reliability"] = rows
        print("## Test-retest reliability (mfeat + watch, 8 units)\n")
        print(_table(rows), "\n")
        best = {}
        for r in rows:
            if not np.isfinite(r["spearman_d"]):
                continue
            key = (r["transfer_seeds"], r["baseline_seeds"])
            if key not in best or r["spearman_d"] > best[key]["spearman_d"]:
                best[key] = r
        results["best_by_allocation"] = {f"{k[0]}/{k[1]}": v["estimator"] for k, v in best.items()}
        print("best estimator per allocation (Spearman of d):", results["best_by_allocation"], "\n")
    if 2 in parts:
        ex = executors(args, work)
        results["executors"] = ex
        print("## Serial vs 2-worker process pool (mfeat + watch, 8 units, frozen, 1 seed)\n")
        print(_table([{"executor": k, **v} for k, v in ex.items() if k != "speedup"]))
        print(f"\nspeedup: {ex['speedup']:.2f}x\n")
    if 3 in parts:
        pl = planted(args, work)
        results["planted"] = pl
        print("## Planted M = 20: 35 % measured + completion vs full\n")
        print(_table([pl]), "\n")
    if args.json is not None:
        from hetero._io import write_json

        write_json(args.json, results)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
