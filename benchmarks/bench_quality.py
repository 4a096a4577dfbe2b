"""Do HighMMT and its probes learn? Test metrics against classical baselines.

Two tables, each printed as Markdown (and saved with ``--json``):

1. **Per task** of a suite: the test metric (``task.metric``) of

   * HighMMT share-all: one fully shared model trained on all tasks at once (homogeneous
     pre-training, as ``hetero train SUITE`` without a plan);
   * HighMMT share-none: an independent HighMMT per task (same preset and epochs);
   * logistic regression, a random forest and an MLP from scikit-learn on the
     concatenated, flattened features of all the task's modalities (standardised with
     train statistics; fitted on the train split, the validation split unused).

2. **Per unit** (every single-modality and interaction unit): the scratch HighMMT probe
   (``hetero measure``'s default learner, default settings) against a logistic
   regression on that unit's features alone.

Every cell is the mean +- standard deviation over ``--seeds`` seeds, with a 95 %
t-interval of the mean in brackets. The seed sets the initial weights and the batch order
(HighMMT, probes) or ``random_state`` (scikit-learn; logistic regression is deterministic).

Usage::

    python benchmarks/bench_quality.py [--suite mini] [--suite full] [--seeds 3]
        [--epochs 10] [--preset large] [--quick] [--json out.json] [--threads N]
        [--parts tasks,units] [--data-dir DIR]

Without ``--suite`` it runs ``mini``, and ``full`` as well when ``../shared/data`` (or
``--data-dir``) holds its local datasets. ``--quick``: ``mini`` only, 3 seeds, the ``small``
preset for 3 epochs, probes capped at 8 epochs, 100 trees.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


# ---------------------------------------------------------------------------- statistics


def summarise(values: list[float]) -> dict:
    """Mean, sample standard deviation and the 95 % t-interval of the mean."""
    from scipy import stats

    a = np.asarray(values, dtype=float)
    n = len(a)
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if n > 1 else float("nan")
    half = float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else float("nan")
    return {
        "mean": mean,
        "std": std,
        "lo": mean - half,
        "hi": mean + half,
        "n": n,
        "values": list(a),
    }


def cell(s: dict) -> str:
    return f"{s['mean']:.3f} +- {s['std']:.3f} [{s['lo']:.3f}, {s['hi']:.3f}]"


# ---------------------------------------------------------------------------- scikit-learn


def _features(task, modalities, split):
    arrays, y = task.data.split(split, list(modalities))
    x = np.concatenate([np.asarray(arrays[m]).reshape(len(y), -1) for m in modalities], axis=1)
    return x.astype(np.float64), np.asarray(y)


def _sk_outputs(model, x, target):
    """Outputs in the form hetero_models.trainer.compute_metrics reads (logit-like)."""
    if target == "regression":
        return np.asarray(model.predict(x), dtype=float)
    proba = model.predict_proba(x)
    if target == "multilabel":
        proba = np.stack([p[:, 1] for p in proba], 1) if isinstance(proba, list) else proba
        proba = np.clip(proba, 1e-7, 1 - 1e-7)
        return np.log(proba) - np.log1p(-proba)
    return np.log(np.clip(proba, 1e-12, None))


def sklearn_models(target: str, seed: int, trees: int) -> dict:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if target == "regression":
        return {
            "ridge": Ridge(alpha=1.0),
            "random forest": RandomForestRegressor(trees, random_state=seed, n_jobs=1),
            "mlp": MLPRegressor((256,), early_stopping=True, max_iter=300, random_state=seed),
        }
    logreg = LogisticRegression(max_iter=3000)
    return {
        "logistic regression": OneVsRestClassifier(logreg) if target == "multilabel" else logreg,
        "random forest": RandomForestClassifier(trees, random_state=seed, n_jobs=1),
        "mlp": MLPClassifier((256,), early_stopping=True, max_iter=300, random_state=seed),
    }


def sklearn_scores(task, modalities, seed: int, trees: int, only: str | None = None) -> dict:
    """Test metric of each scikit-learn baseline on the concatenated features."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hetero_models.trainer import compute_metrics

    x_tr, y_tr = _features(task, modalities, "train")
    x_te, y_te = _features(task, modalities, "test")
    out = {}
    for name, est in sklearn_models(task.target, seed, trees).items():
        if only is not None and name != only:
            continue
        model = make_pipeline(StandardScaler(), est)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_tr, y_tr)
        metrics = compute_metrics(task.target, _sk_outputs(model, x_te, task.target), y_te)
        out[name] = metrics[task.metric]
    return out


# ---------------------------------------------------------------------------- HighMMT


def highmmt_scores(suite, seed: int, epochs: int, preset: str) -> dict:
    """Share-all: one model on all tasks; returns {task: test metric}."""
    from hetero_models.trainer import Trainer, train_two_stage

    net, _ = train_two_stage(
        suite, None, hparams={"preset": preset}, pretrain_epochs=epochs, seed=seed, device="cpu"
    )
    test = Trainer(net, suite, device="cpu").evaluate("test")
    return {t.name: test[t.name][t.metric] for t in suite.tasks}


def share_none_scores(suite, seed: int, epochs: int, preset: str) -> dict:
    """Share-none: an independent HighMMT per task."""
    from hetero.suite import Suite

    out = {}
    for task in suite.tasks:
        out.update(highmmt_scores(Suite([task], name=task.name), seed, epochs, preset))
    return out


def probe_score(task, unit, seed: int, max_epochs: int | None) -> float:
    from hetero_models.probes import HighMMTProbe

    probe = HighMMTProbe() if max_epochs is None else HighMMTProbe(max_epochs=max_epochs)
    probe.fit(task, unit, seed=seed)
    return float(probe.evaluate(task, unit, "test")[1])


# ---------------------------------------------------------------------------- driver


def run_suite(name: str, args, log) -> dict:
    from hetero.datasets import get_suite

    data_dir = args.data_dir or (str(SHARED_DATA) if SHARED_DATA.is_dir() else None)
    suite = get_suite(name, data_dir=data_dir) if name == "full" else get_suite(name)
    seeds = list(range(args.seeds))
    result: dict = {"suite": name, "tasks": {}, "units": {}}
    if "tasks" in args.parts:
        raw: dict[str, dict[str, list[float]]] = {t.name: {} for t in suite.tasks}
        times: dict[str, float] = {}
        for seed in seeds:
            for label, fn in (
                ("HighMMT share-all", highmmt_scores),
                ("HighMMT share-none", share_none_scores),
            ):
                t0 = time.perf_counter()
                scores = fn(suite, seed, args.epochs, args.preset)
                times[label] = times.get(label, 0.0) + time.perf_counter() - t0
                for task, v in scores.items():
                    raw[task].setdefault(label, []).append(v)
                log(
                    f"[{name}] seed {seed} {label}: "
                    + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
                )
            t0 = time.perf_counter()
            for task in suite.tasks:
                for label, v in sklearn_scores(task, task.modality_names, seed, args.trees).items():
                    raw[task.name].setdefault(label, []).append(v)
            times["scikit-learn"] = times.get("scikit-learn", 0.0) + time.perf_counter() - t0
        for task in suite.tasks:
            result["tasks"][task.name] = {
                "metric": task.metric,
                **{label: summarise(v) for label, v in raw[task.name].items()},
            }
        result["task_seconds"] = {k: round(v, 1) for k, v in times.items()}
    if "units" in args.parts:
        t0 = time.perf_counter()
        for task in suite.tasks:
            for unit in [*task.units(), *task.interaction_units()]:
                probe = [probe_score(task, unit, s, args.probe_epochs) for s in seeds]
                lr = [
                    sklearn_scores(
                        task, unit.modalities, s, args.trees, only="logistic regression"
                    )["logistic regression"]
                    for s in seeds[:1]  # deterministic: one fit
                ]
                result["units"][unit.label] = {
                    "metric": task.metric,
                    "probe (scratch)": summarise(probe),
                    "logistic regression": summarise(lr * len(seeds)),
                }
                log(
                    f"[{name}] {unit.label}: probe {np.mean(probe):.3f} (min {min(probe):.3f}), LR {lr[0]:.3f}"
                )
        result["unit_seconds"] = round(time.perf_counter() - t0, 1)
    return result


def markdown(result: dict) -> str:
    lines = []
    if result["tasks"]:
        cols = [
            "HighMMT share-all",
            "HighMMT share-none",
            "logistic regression",
            "random forest",
            "mlp",
        ]
        first = next(iter(result["tasks"].values()))
        cols = [c for c in cols if c in first] + [
            c for c in first if c not in cols and c != "metric"
        ]
        lines.append(f"| {result['suite']} task | metric | " + " | ".join(cols) + " |")
        lines.append("|---|---|" + "---|" * len(cols))
        for task, row in result["tasks"].items():
            lines.append(
                f"| {task} | {row['metric']} | " + " | ".join(cell(row[c]) for c in cols) + " |"
            )
        lines.append("")
    if result["units"]:
        lines.append(f"| {result['suite']} unit | metric | probe (scratch) | logistic regression |")
        lines.append("|---|---|---|---|")
        for unit, row in result["units"].items():
            lines.append(
                f"| {unit} | {row['metric']} | {cell(row['probe (scratch)'])} | "
                f"{row['logistic regression']['mean']:.3f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", action="append", help="suite name or YAML (repeatable)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10, help="HighMMT training epochs")
    ap.add_argument("--preset", default="large")
    ap.add_argument("--probe-epochs", type=int, default=None, help="probe epoch cap")
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--parts", default="tasks,units")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.seeds < 2:
        ap.error("--seeds must be >= 2 for a standard deviation")
    if args.quick:
        args.suite = args.suite or ["mini"]
        args.epochs, args.preset, args.trees = 3, "small", 100
        args.probe_epochs = args.probe_epochs or 8
    if not args.suite:
        args.suite = ["mini"]
        if args.data_dir or SHARED_DATA.is_dir():
            args.suite.append("full")
    args.parts = set(args.parts.split(","))
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = []
    for name in args.suite:
        t0 = time.perf_counter()
        res = run_suite(name, args, log)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["settings"] = {
            "seeds": args.seeds,
            "epochs": args.epochs,
            "preset": args.preset,
            "probe_epochs": args.probe_epochs,
            "trees": args.trees,
            "threads": torch.get_num_threads(),
        }
        results.append(res)
        print(markdown(res))
        print(f"({name}: {res['seconds']} s, settings {res['settings']})\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
