"""Shared helpers of the experiment scripts (``examples/experiments/exp*.py``).

Everything here uses the public APIs of :mod:`hetero` and :mod:`hetero_models` (plus the
run store, to read measured runs back). The scripts are run from the repository root::

    .venv/bin/python examples/experiments/exp0_reliability.py --quick --out /tmp/exp0

Measurement settings shared by experiments 0-3 (the "campaign"): the HighMMT probe learner
(``highmmt``) with its default sizes and an epoch cap ``max_epochs``; estimators
``frozen`` (the product default) and ``finetune`` (the paper's converged fine-tuning gap,
used as the naive one-seed estimator). Measurements are stored as run records (one JSON
line per run, gzipped) so that the analysis can recombine any subset of seeds.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "add_common_args",
    "campaign_levels",
    "level_estimate",
    "load_records",
    "load_suite",
    "mean_std",
    "quick_suite",
    "save_records",
    "write_table",
]

DATA_DIR_DEFAULT = "/work/shared/data"

#: Probe config of the campaign (the HighMMT probe's defaults; only the epoch cap varies).
#: The committed records predate BatchNorm recalibration (bn_calibration=0 reproduces them
#: and their run keys; docs/benchmarks.md, quality benchmark).
PROBE = {"max_epochs": 30, "bn_calibration": 0}
QUICK_PROBE = {"max_epochs": 3, "num_latents": 4, "latent_dim": 16, "dim_head": 8}
#: Campaign stage (campaign.py) that measures each estimator experiments 1-3 can read.
STAGE_OF = {"logme": "s7", "frozen": "s1"}


# --------------------------------------------------------------------------- arguments


def add_common_args(ap: argparse.ArgumentParser, *, seeds: int = 3) -> argparse.ArgumentParser:
    ap.add_argument("--quick", action="store_true", help="tiny settings (CI smoke run, < 20 s)")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--seeds", type=int, default=seeds, help="seeds of the real run")
    ap.add_argument("--suite", default="full", help="'full', 'mini' (ignored with --quick)")
    ap.add_argument(
        "--data-dir",
        default=os.environ.get("HETERO_DATA_DIR", DATA_DIR_DEFAULT),
        help="folder of the full suite's local data copies",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    return ap


def add_measurement_args(
    ap: argparse.ArgumentParser, *, rescoring: bool = False
) -> argparse.ArgumentParser:
    """Options of the experiments that read (or make) a measurement campaign's run records.

    ``rescoring`` adds ``--estimator``, ``--score-cap`` and ``--epochs`` (experiments 1-3).
    """
    ap.add_argument("--records", type=Path, nargs="*", default=None)
    ap.add_argument("--workers", type=int, default=1)
    if rescoring:
        ap.add_argument(
            "--estimator",
            choices=sorted(STAGE_OF),
            default="logme",
            help="logme (the product default; campaign stage s7) or frozen (stage s1)",
        )
        ap.add_argument(
            "--score-cap",
            type=int,
            default=None,
            help="re-score target-side runs at this epoch cap (see exp0)",
        )
        ap.add_argument("--epochs", type=int, default=30, help="probe epoch cap of the measurement")
    return ap


def setup(args: argparse.Namespace) -> None:
    if getattr(args, "score_cap", None) is not None and getattr(args, "estimator", "") == "logme":
        raise SystemExit("--score-cap re-scores trained probes; logme trains none")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        import torch

        torch.set_num_threads(int(args.threads))
    except ImportError:  # pragma: no cover - analysis-only scripts
        pass


def log(*parts: Any) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- suites


def quick_suite(n: int = 100, *, small: bool = False):
    """A tiny package-data suite for ``--quick``: mfeat (image, fourier) and the watch
    exercise task (accelerometer, gyroscope), ``n`` samples each; ``small`` drops the
    gyroscope (3 units, one interaction unit)."""
    from hetero.datasets import load_task
    from hetero.suite import Suite

    watch = ["accelerometer"] if small else ["accelerometer", "gyroscope"]
    tasks = [
        load_task("mfeat", views=["image", "fourier"], image_pool=2, max_samples=n),
        load_task("watch", target="exercise", window=32, step=32, downsample=4,
                  max_samples=n, modalities=watch),
    ]  # fmt: skip
    return Suite(tasks, name="quick")


def load_suite(
    args: argparse.Namespace, *, tasks: Sequence[str] | None = None, small: bool = False
):
    """The experiment's suite: ``quick_suite()`` with ``--quick``, else the built-in one.

    A pickled suite (``$HETERO_SUITE_PICKLE``, written by ``campaign.py --dump-suite``) is
    used when set, so that a machine without the data copies measures the same arrays.
    """
    from hetero.suite import Suite

    if args.quick:
        suite = quick_suite(small=small)
    else:
        pickled = os.environ.get("HETERO_SUITE_PICKLE")
        if pickled:
            import pickle

            with gzip.open(pickled, "rb") as fh:
                suite = pickle.load(fh)  # our own file (campaign.py --dump-suite)
        else:
            from hetero.datasets import get_suite

            suite = get_suite(args.suite, data_dir=args.data_dir)
    if tasks is not None:
        suite = Suite([suite.task(t) for t in tasks], name=f"{suite.name}-subset")
    return suite


# --------------------------------------------------------------------------- tables


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return "nan"
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean, sample std (0 for one value) and count of the finite values."""
    a = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if a.size == 0:
        return float("nan"), float("nan"), 0
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0, int(a.size)


def pm(values: Iterable[float], digits: int = 3) -> str:
    m, s, n = mean_std(values)
    if n == 0:
        return "n/a"
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def write_table(rows: list[dict[str, Any]], out: Path, name: str, *, title: str = "") -> Path:
    """Write ``rows`` as ``out/name.csv`` and ``out/name.md``; returns the CSV path."""
    from hetero._io import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: _fmt(r.get(c, "")) if r.get(c, "") != "" else "" for c in cols})
    csv_path = out / f"{name}.csv"
    atomic_write_text(csv_path, buf.getvalue())
    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |")
    atomic_write_text(out / f"{name}.md", "\n".join(lines) + "\n")
    return csv_path


def save_png(fig: Any, path: Path, dpi: int = 90) -> None:
    import io

    import matplotlib.pyplot as plt

    from hetero._io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------- run records


def save_records(store_path: Path, out: Path) -> int:
    """Export the run records of a run store (no states) to gzipped JSON lines."""
    from hetero.measure.store import RunStore

    with RunStore(store_path, readonly=True) as store:
        recs = [r.to_dict() for r in store.records()]
    tmp = out.with_name(out.name + ".tmp")
    with gzip.open(tmp, "wt") as fh:
        for r in recs:
            fh.write(json.dumps(r, default=float) + "\n")
    os.replace(tmp, out)
    return len(recs)


def load_records(paths: Iterable[Path]) -> dict[str, Any]:
    """Run records by key from one or more exported files (later files win)."""
    from hetero.measure.store import RunRecord

    out: dict[str, Any] = {}
    for p in paths:
        with gzip.open(p, "rt") as fh:
            for line in fh:
                d = json.loads(line)
                out[d["key"]] = RunRecord(**d)
    return out


def campaign_levels(
    suite: Any,
    *,
    estimator: str,
    probe: dict[str, Any],
    seeds: Sequence[int],
    baseline_seeds: Sequence[int],
    interactions: bool = True,
) -> dict[str, Any]:
    """Run specs (with content keys) of a measurement, per level, without training."""
    from hetero.measure import plan_runs

    return plan_runs(
        suite,
        learner="highmmt",
        learner_config=probe,
        estimator=estimator,
        seeds=len(seeds),
        baseline_seeds=len(baseline_seeds),
        interactions=None if interactions else False,
    )


def level_estimate(
    runs: Any,
    records: dict[str, Any],
    estimator: str,
    *,
    seeds: Sequence[int] | None = None,
    baseline_seeds: Sequence[int] | None = None,
    epoch_cap: int | None = None,
):
    """``TransferEstimate`` of one level from stored records (subset of seeds optional).

    ``epoch_cap`` re-scores every transfer and baseline run as if it had been capped at
    that many epochs: the best validation loss among its first ``epoch_cap`` epochs (a run
    with the same seed and a smaller cap follows the same trajectory up to the cap, since
    early stopping only looks back). Source bodies keep their full training.
    """
    from hetero.measure.analysis import run_scores
    from hetero.measure.estimators import estimate_transfer, get_estimator

    est = get_estimator(estimator)

    def capped(rec):
        return (
            float(min(rec.curve[:epoch_cap]))
            if rec.curve
            else est.run_score(rec.val_loss, rec.curve)
        )

    score = capped if epoch_cap is not None else None
    tscores, bscores = run_scores(runs, records, est, score=score)
    return estimate_transfer(
        runs.labels, tscores, bscores, seeds=seeds, baseline_seeds=baseline_seeds
    )


def distance_matrix(labels: Sequence[str], t_values: np.ndarray, kind: str):
    """Symmetric distance matrix ``max(T12, 0) + max(T21, 0)`` as a HeterogeneityMatrix."""
    from hetero.distance import transfer_to_distance
    from hetero.measure.analysis import LevelAnalysis

    return transfer_to_distance(LevelAnalysis(list(labels), kind, None, 0).matrix(t_values))


def groups_of(labels: Sequence[str], d_values: np.ndarray, k: int) -> np.ndarray:
    """Plan groups of ``k`` clusters of distances ``d_values`` (the product's clustering)."""
    from hetero.measure.analysis import LevelAnalysis

    analysis = LevelAnalysis(list(labels), "modality", None, 0)
    analysis.n_groups = k
    return analysis.groups(d_values)


def measured_matrices(matrices_dir: Path):
    """``(modality, interaction)`` distance matrices written by exp1 / ``hetero measure``."""
    from hetero.matrix import HeterogeneityMatrix

    mod = HeterogeneityMatrix.read(matrices_dir / "modality.json")
    p = matrices_dir / "interaction.json"
    inter = HeterogeneityMatrix.read(p) if p.exists() else None
    return mod, inter


def available_seeds(runs: Any, records: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Transfer and baseline seeds of ``runs`` (planned over many seeds) whose runs are all
    stored: the largest ``range`` prefixes that are complete."""
    labels = runs.labels
    n_t = 0
    while all(
        (a, c, n_t) in runs.transfer and runs.transfer[(a, c, n_t)].key in records
        for a in labels
        for c in labels
        if a != c
    ):
        n_t += 1
    n_b = 0
    while all((u, n_b) in runs.baseline and runs.baseline[(u, n_b)].key in records
              for u in labels):  # fmt: skip
        n_b += 1
    return list(range(n_t)), list(range(n_b))


def campaign_estimates(
    suite: Any, records: dict[str, Any], *, estimator: str, probe: dict[str, Any],
    max_seeds: int = 16, epoch_cap: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Per level: ``{"runs", "estimate", "seeds", "baseline_seeds"}`` using every stored seed."""
    levels = campaign_levels(suite, estimator=estimator, probe=probe, seeds=range(max_seeds),
                             baseline_seeds=range(max_seeds))  # fmt: skip
    out = {}
    for level, runs in levels.items():
        ts, bs = available_seeds(runs, records)
        partial = False
        if not ts or len(bs) < len(ts):
            # incomplete measurement: use every stored run (entries may miss seeds or be
            # unmeasured; unmeasured distances are completed by ``level_distance``)
            ts = sorted({k[2] for k, sp in runs.transfer.items() if sp.key in records})
            bs = sorted({k[1] for k, sp in runs.baseline.items() if sp.key in records})
            partial = True
            if not ts or not bs:
                log(f"{level}: no runs in the records; skipped")
                continue
            log(f"{level}: incomplete measurement (seeds {ts}, baseline seeds {bs})")
        est = level_estimate(runs, records, estimator, seeds=ts, baseline_seeds=bs,
                             epoch_cap=epoch_cap)  # fmt: skip
        out[level] = {"runs": runs, "estimate": est, "seeds": ts, "baseline_seeds": bs,
                      "partial": partial}  # fmt: skip
    return out


def level_distance(lev: dict[str, Any], level: str, values: np.ndarray | None = None):
    """Distance matrix of a level (``values``: a T matrix, default the estimate), with
    unmeasured entries completed by the symmetric low-rank completer."""
    from hetero.measure.analysis import LevelAnalysis

    t = lev["estimate"].values if values is None else values
    analysis = LevelAnalysis(list(lev["runs"].labels), level, "symmetric", 0)
    return analysis.complete(distance_matrix(lev["runs"].labels, t, level))


def records_or_campaign(args: Any, suite: Any, stages: Sequence[str]) -> dict[str, Any]:
    """Records from ``--records`` files, or train the campaign ``stages`` into ``args.out``."""
    import campaign

    files = getattr(args, "records", None)
    if not files:
        campaign.run_campaign(suite, args.out / "campaign", stages=list(stages), quick=args.quick,
                              workers=getattr(args, "workers", 1), deadline=None)  # fmt: skip
        files = [args.out / "campaign" / "records.jsonl.gz"]
    return load_records(files)


# --------------------------------------------------------------------------- training

#: HighMMT sizes of the training experiments: the paper's "small" preset, or a tiny model
#: for ``--quick``.
QUICK_MODEL = {"preset": "small", "num_latents": 4, "latent_dim": 16, "cross_dim_head": 8,
               "latent_dim_head": 8, "latent_heads": 2}  # fmt: skip
REAL_MODEL = {"preset": "small"}


def add_training_args(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    ap.add_argument("--jobs", type=int, default=1, help="seeds trained in parallel processes")
    ap.add_argument("--pretrain-epochs", type=int, default=8)
    ap.add_argument("--finetune-epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-4)
    ap.add_argument("--max-train", type=int, default=None,
                    help="cap on training samples per task (subsampled, seeded)")  # fmt: skip
    ap.add_argument("--aggregate", action="store_true",
                    help="only rebuild the table from OUT/rows.jsonl")  # fmt: skip
    return ap


def model_hparams(args: Any) -> dict[str, Any]:
    return dict(QUICK_MODEL if args.quick else REAL_MODEL)


def cap_train(suite: Any, max_train: int | None, seed: int = 0) -> Any:
    """The suite with each task's training split cut to ``max_train`` samples (seeded).

    :func:`hetero_models.analysis.common.cap_train` with the uniform draw these experiments
    have always used (their recorded runs stay reproducible); every task field, a retrieval
    task's ``match`` included, is kept.
    """
    from hetero_models.analysis.common import cap_train as _cap_train

    return _cap_train(suite, max_train, seed, sampling="uniform")


#: The trainer's defaults before experiment 14 changed them: the experiments whose results
#: are committed ran with these, and keep running with them.
TRAINER_BEFORE_EXP14 = {"task_sampling": "proportional", "lr_schedule": "constant"}


def train(net: Any, suite: Any, *, epochs: int, seed: int, args: Any, tasks=None,
          stage: str = "train") -> Any:  # fmt: skip
    from hetero_models.trainer import Trainer

    tr = Trainer(net, suite, tasks=tasks, epochs=epochs, lr=args.lr, batch_size=args.batch_size,
                 device=args.device, seed=seed, stage=stage, **TRAINER_BEFORE_EXP14)  # fmt: skip
    if epochs > 0:
        tr.fit()
    return tr


def test_scores(tr: Any, suite: Any, tasks=None) -> dict[str, float]:
    """Test metric of each task (the task's own metric: accuracy here)."""
    res = tr.evaluate("test", tasks=tasks)
    return {name: float(res[name][suite.task(name).metric]) for name in res}


def new_model(suite: Any, args: Any, seed: int, name: str = "highmmt") -> Any:
    import torch

    from hetero_models.registry import create_model

    torch.manual_seed(seed)
    return create_model(name, suite, **model_hparams(args))


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row, default=float) + "\n")
        fh.flush()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill
            pass
    return out


def run_seeds(fn: Any, args: Any, seeds: Sequence[int]) -> None:
    """``fn(args, seed)`` for every seed, in ``args.jobs`` spawned processes."""
    if args.jobs <= 1 or len(seeds) <= 1:
        for s in seeds:
            fn(args, s)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as ex:
        for f in [ex.submit(fn, args, s) for s in seeds]:
            f.result()


def matrices_for_plans(args: Any, suite: Any):
    """Distance matrices the plans are cut from: ``--matrices DIR`` or a campaign run."""
    if getattr(args, "matrices", None):
        return measured_matrices(Path(args.matrices))
    import campaign

    records = records_or_campaign(args, suite, ["s1"])
    probe = campaign.probe_config(3 if args.quick else 30, args.quick)
    levels = campaign_estimates(suite, records, estimator="frozen", probe=probe)
    mats = [
        level_distance(levels[lv], lv) if lv in levels else None
        for lv in ("modality", "interaction")
    ]  # fmt: skip
    return mats[0], mats[1]


def summarise_rows(rows: list[dict[str, Any]], keys: Sequence[str], order: Sequence[str]):
    """Group per-seed rows by ``config`` into mean ± std rows (in ``order``)."""
    out = []
    configs = [c for c in order if any(r["config"] == c for r in rows)]
    configs += sorted({r["config"] for r in rows} - set(configs))
    for c in configs:
        rs = [r for r in rows if r["config"] == c]
        row: dict[str, Any] = {"config": c, "n_seeds": len(rs)}
        for k in ("unimodal_groups", "crossmodal_groups", "params"):
            if k in rs[0]:
                row[k] = rs[0][k]
        for k in keys:
            m, s, _ = mean_std([r.get(k, float("nan")) for r in rs])
            row[f"{k}_mean"] = m
            row[f"{k}_std"] = s
        out.append(row)
    return out
