"""Experiment 10: cross-modal retrieval trained alone against trained with classification tasks.

HighMMT (the paper, section 6 and appendix B.7) trains fusion tasks and cross-modal
retrieval (CIFAR-ESC) together and reports that the retrieval task gains from multitask
training. Here, on the built-in `mini_retrieval` suite (package data only), the retrieval
task `mfeat_pairs` (pixel image <-> Fourier coefficients of the same UCI Multiple Features
character, 240 gallery items per test split) is trained

* alone: a HighMMT (preset small) holding only the retrieval task, and
* multitask: one fully shared HighMMT on all tasks of `mini_retrieval` (the retrieval task,
  `mfeat` and `digits`, which share the modality names `image` and `fourier` with it),

with the same seeds (seed s: initial weights drawn from s, batch order from s), the same
epochs and the same checkpoint rule: the epoch with the best validation recall@1 of the
retrieval task (the multitask model's other tasks get evaluation weight 0, as in the
paper's few-shot protocol). Test-split recall@1 in both directions and the mean reciprocal
rank are reported per arm with t intervals over seeds (df = seeds - 1) and as paired
differences (multitask - alone) with their intervals and verdicts
(:mod:`hetero.compare.stats`).

Usage::

    python examples/experiments/exp10_retrieval.py --out DIR [--seeds 5] [--epochs 30]
        [--jobs 2] [--quick]

Writes ``OUT/exp10_rows.csv`` (one row per seed and arm), ``OUT/exp10_table.csv`` / ``.md``
(summary), ``OUT/exp10_curves.csv`` (validation curves) and, for a full run, copies of the
rows and the table to ``examples/experiments/data/``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C

HERE = Path(__file__).resolve().parent
RETRIEVAL = "mfeat_pairs"
ARMS = ("alone", "multitask")
#: metrics of the summary (test split of the retrieval task)
METRICS = ("recall@1_a2b", "recall@1_b2a", "recall@1", "mrr")
#: half-width below which a paired difference counts as "no difference" (recall points)
RESOLUTION = 0.02


def build_suite(quick: bool):
    from hetero.datasets import get_suite, load_task
    from hetero.suite import Suite

    if not quick:
        return get_suite("mini_retrieval")
    return Suite(
        [
            load_task(RETRIEVAL, views=["image", "fourier"], image_pool=2, max_samples=120),
            load_task("mfeat", views=["image", "fourier"], image_pool=2, max_samples=120),
        ],
        name="quick_retrieval",
    )


def run_one(job: tuple[str, int, dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train one arm with one seed; return its test row and its validation curve."""
    import torch

    from hetero.suite import Suite
    from hetero_models import create_model
    from hetero_models.trainer import Trainer, seeded_init

    arm, seed, cfg = job
    torch.set_num_threads(int(cfg["threads"]))
    full = build_suite(cfg["quick"])
    suite = Suite([full.task(RETRIEVAL)], name="alone") if arm == "alone" else full
    start = time.perf_counter()
    with seeded_init(seed):
        model = create_model("highmmt", suite, **cfg["hparams"])
    trainer = Trainer(
        model,
        suite,
        epochs=cfg["epochs"],
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        eval_weights={t: float(t == RETRIEVAL) for t in suite.task_names},
        device="cpu",
        seed=seed,
        **C.TRAINER_BEFORE_EXP14,
    ).fit()
    test = trainer.evaluate("test")
    row: dict[str, Any] = {"arm": arm, "seed": seed, "best_epoch": trainer.best_epoch_}
    row.update({k: test[RETRIEVAL][k] for k in (*METRICS, "recall@5", "recall@10", "loss")})
    for name in suite.task_names:
        if name != RETRIEVAL:
            row[f"{name}_accuracy"] = test[name]["accuracy"]
    row["epochs"] = len(trainer.history_)
    row["time_s"] = round(time.perf_counter() - start, 1)
    curve = [
        {
            "arm": arm,
            "seed": seed,
            "epoch": h["epoch"],
            "train_loss": h["train_loss"],
            "val_loss": h[f"val/{RETRIEVAL}/loss"],
            "val_recall@1": h[f"val/{RETRIEVAL}/recall@1"],
            "val_mrr": h[f"val/{RETRIEVAL}/mrr"],
        }
        for h in trainer.history_
    ]
    C.log(f"{arm} seed {seed}: test recall@1 {row['recall@1']:.3f} mrr {row['mrr']:.3f} "
          f"(best epoch {row['best_epoch']}, {row['time_s']} s)")  # fmt: skip
    return row, curve


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per metric: each arm's mean [t interval], the paired difference and its verdict."""
    from hetero.compare.stats import mean_interval, paired_difference, verdict

    table = []
    for metric in METRICS:
        per = {arm: {int(r["seed"]): float(r[metric]) for r in rows if r["arm"] == arm}
               for arm in ARMS}  # fmt: skip
        alone = mean_interval(list(per["alone"].values()))
        multi = mean_interval(list(per["multitask"].values()))
        diff = paired_difference(per["multitask"], per["alone"])
        table.append(
            {
                "metric": metric,
                "alone_mean": alone.mean,
                "alone_lo": alone.lo,
                "alone_hi": alone.hi,
                "multitask_mean": multi.mean,
                "multitask_lo": multi.lo,
                "multitask_hi": multi.hi,
                "diff_mean": diff.mean,
                "diff_lo": diff.lo,
                "diff_hi": diff.hi,
                "n_seeds": diff.n,
                "verdict": verdict("multitask", "alone", diff, RESOLUTION),
            }
        )
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny settings (CI smoke run)")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--seeds", type=int, default=5, help="paired seeds (>= 3 for intervals)")
    ap.add_argument("--epochs", type=int, default=30, help="training epochs of both arms")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-4)
    ap.add_argument("--jobs", type=int, default=2, help="runs trained in parallel")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--no-data-copy", action="store_true",
                    help="do not copy the rows to examples/experiments/data/")  # fmt: skip
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.jobs = 2, 2, 1
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = {
        "quick": args.quick,
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "hparams": C.QUICK_MODEL if args.quick else C.REAL_MODEL,
    }
    jobs = [(arm, seed, cfg) for seed in range(args.seeds) for arm in ARMS]
    start = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_one, jobs))
    else:
        results = [run_one(job) for job in jobs]
    rows = [r for r, _ in results]
    curves = [point for _, c in results for point in c]
    C.write_table(rows, args.out, "exp10_rows", title="Experiment 10: per-seed test rows")
    C.write_table(curves, args.out, "exp10_curves", title="Experiment 10: validation curves")
    table = summarise(rows)
    C.write_table(
        table,
        args.out,
        "exp10_table",
        title=f"Experiment 10: retrieval alone vs multitask ({args.seeds} paired seeds, "
        f"{args.epochs} epochs; mean and 95 % t interval)",
    )
    for r in table:
        C.log(f"{r['metric']}: {r['verdict']}")
    C.log(f"done in {time.perf_counter() - start:.0f} s")
    if not args.quick and not args.no_data_copy:
        for name in ("exp10_rows", "exp10_table"):
            shutil.copyfile(args.out / f"{name}.csv", HERE / "data" / f"{name}.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
