"""Do HighMMT and its probes learn? Test metrics against classical baselines.

Two tables, each printed as Markdown (and saved with ``--json``):

1. **Per task** of a suite: the test metric (``task.metric``) of

   * HighMMT share-all: one fully shared model trained on all tasks at once (homogeneous
     pre-training, as ``hetero train SUITE`` without a plan);
   * HighMMT share-none: an independent HighMMT per task (same preset and epochs);
   * HighMMT plan: ``hetero train SUITE --plan PLAN`` (the same pre-training, then as many
     epochs of fine-tuning with a measured plan: by default the plans committed with the
     experiments, ``exp8_mini_plan.json`` for ``mini`` and ``exp11_plan_linkage.json``
     for ``full``; ``--plan SUITE=PLAN`` to change);
   * logistic regression, a random forest and an MLP from scikit-learn on the
     concatenated, flattened features of all the task's modalities (standardised with
     train statistics, except modalities declared ``standardize: false``, which the models
     leave unscaled too; fitted on the train split, the validation split unused).

2. **Per unit** (every single-modality and interaction unit): the scratch HighMMT probe
   (``hetero measure``'s default learner, default settings) against a logistic
   regression on that unit's features alone.

Every cell is the mean +- standard deviation over ``--seeds`` seeds, with a 95 %
t-interval of the mean in brackets. The seed sets the initial weights and the batch order
(HighMMT, probes) or ``random_state`` (scikit-learn; logistic regression is deterministic).

A third table gives, per task, each HighMMT column minus the best baseline (the best mean;
for a lower-is-better metric the gap is negated, so a negative gap is always the worse
one), seed means, with a 95 % t interval for new seeds and a new test set (each model's
seed-to-seed variance plus the test samples' sampling variance, Welch-Satterthwaite
degrees of freedom: :func:`hetero.compare.stats.seed_and_sample_interval`; which samples
each model got right are saved in the JSON, per seed, for re-analysis) and a verdict
against the goal (``--goal``; 0.02 on ``mini``, 0.03 on ``full``): ``within`` when the
whole interval lies above ``-goal``, ``misses`` when it lies below, else ``inconclusive``;
``n/a`` for tasks not scored by accuracy (no interval). The JSON also keeps the interval
for the test set alone with the trained models fixed (``lo_fixed``/``hi_fixed``, a paired
bootstrap). Each task's interval is a separate 95 % interval, and both treat test samples
as independent (on ``watch`` and ``watch_side`` the test windows come from two subjects,
so they are narrower than the truth there). ``--render`` recomputes the gaps of a saved
run from its per-sample hits.

Usage::

    python benchmarks/bench_quality.py [--suite mini] [--suite full] [--seeds 3]
        [--epochs 10] [--preset large] [--quick] [--json out.json] [--threads N]
        [--parts tasks,units] [--data-dir DIR] [--plan SUITE=PLAN] [--jobs N]
        [--task-sampling proportional|balanced] [--lr-schedule constant|cosine]
        [--goal GAP]
    python benchmarks/bench_quality.py --render out.json [--goal GAP]   # tables of a saved run

``--jobs N`` runs the cells (one column of one seed, or one unit's probe at one seed) in N
processes with one torch thread each (``--threads`` to change); given the same threads per
cell the numbers do not depend on N. The plan column trains twice the epochs of share-all
(pre-training plus fine-tuning, as ``hetero train`` does with and without a plan): the two
are not matched in budget. ``--task-sampling`` and ``--lr-schedule`` train the HighMMT
columns with other than the trainer's defaults (recorded in the settings either way).

Without ``--suite`` it runs ``mini``, and ``full`` as well when ``../shared/data`` (or
``--data-dir``) holds its local datasets. ``--quick``: ``mini`` only, 3 seeds, the ``small``
preset for 3 epochs, probes capped at 8 epochs, 100 trees.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path

import numpy as np

from hetero.malloc import tune_malloc

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


HIGHMMT_COLUMNS = ("HighMMT share-all", "HighMMT share-none", "HighMMT plan")
BASELINE_COLUMNS = ("logistic regression", "random forest", "mlp", "ridge")


def gaps(row: dict, hits: dict[str, dict[int, str | None]], higher_is_better: bool = True) -> dict:
    """Each HighMMT column minus the best scikit-learn baseline of a task (best by mean
    metric), as seed means with two 95 % intervals (accuracy tasks only, else none):
    ``lo``/``hi`` for new seeds and a new test set
    (:func:`hetero.compare.stats.seed_and_sample_interval`, what the verdict reads) and
    ``lo_fixed``/``hi_fixed`` for the test set alone with the trained models held fixed
    (:func:`hetero.compare.stats.paired_bootstrap`). A lower-is-better metric's gap is
    negated: a negative gap is always the worse one.
    """
    from hetero.compare.stats import paired_bootstrap, seed_and_sample_interval

    baselines = [c for c in BASELINE_COLUMNS if c in row]
    if not baselines:
        return {}
    sign = 1.0 if higher_is_better else -1.0
    best = max(baselines, key=lambda c: sign * row[c]["mean"])
    out = {}
    for col in HIGHMMT_COLUMNS:
        if col not in row:
            continue
        gap: dict = {"baseline": best, "mean": sign * (row[col]["mean"] - row[best]["mean"])}
        a, b = hits.get(col, {}), hits.get(best, {})
        if a and b and all(v is not None for v in [*a.values(), *b.values()]):
            rows = [[[int(ch) for ch in h] for _, h in sorted(d.items())] for d in (a, b)]
            both, fixed = seed_and_sample_interval(*rows), paired_bootstrap(*rows)
            gap.update(lo=both.lo, hi=both.hi, lo_fixed=fixed.lo, hi_fixed=fixed.hi, n_test=both.n)
        out[col] = gap
    return out


def regap(result: dict) -> dict:
    """``result`` with every task's gaps recomputed from its saved per-sample hits (a run
    saved before the gaps read both sources of noise gets today's intervals)."""
    from hetero.suite._checks import METRICS

    for task, row in result["tasks"].items():
        hits = {
            col: {int(seed): h for seed, h in by_seed.items()}
            for col, by_seed in result.get("samples", {}).get(task, {}).items()
        }
        higher = METRICS.get(row["metric"], (True,))[0]
        row["gaps"] = gaps({k: v for k, v in row.items() if k != "gaps"}, hits, higher)
    return result


#: The issue's goals: every task within this much of the best baseline.
GOALS = {"mini": 0.02, "full": 0.03}
#: The goal of a suite not in :data:`GOALS`.
OTHER_GOAL = 0.03


def default_goal(suite: str) -> float:
    """The goal a run of ``suite`` is judged by unless ``--goal`` says otherwise."""
    return GOALS.get(suite, OTHER_GOAL)


def goal_verdict(gap: dict, goal: float) -> str:
    """``within`` the goal (the whole interval above ``-goal``), ``misses`` it (the whole
    interval below), else ``inconclusive``; ``n/a`` without an interval."""
    if "lo" not in gap:
        return "n/a"
    lo, hi = gap["lo"], gap["hi"]
    if lo >= -goal:
        return "within"
    if hi < -goal:
        return "misses"
    return "inconclusive"


def gap_cell(g: dict, goal: float) -> str:
    text = (
        f"{g['mean']:+.3f}"
        if "lo" not in g
        else f"{g['mean']:+.3f} [{g['lo']:+.3f}, {g['hi']:+.3f}]"
    )
    return f"{text} {goal_verdict(g, goal)}"


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


def per_sample(task, outputs, y) -> str | None:
    """Which test samples a model got right, as a string of 0/1 in split order, for tasks
    scored by accuracy (None for other metrics)."""
    from hetero.scoring import predictions

    if task.metric != "accuracy":
        return None
    pred, _ = predictions(task.target, np.asarray(outputs))
    return "".join("1" if hit else "0" for hit in pred == np.asarray(y).reshape(-1))


def sklearn_scores(
    task,
    modalities,
    seed: int,
    trees: int,
    only: str | None = None,
    samples: dict | None = None,
) -> dict:
    """Test metric of each scikit-learn baseline on the concatenated features (and, into
    ``samples``, which test samples each got right: :func:`per_sample`)."""
    import warnings

    from sklearn.compose import ColumnTransformer
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
        # modalities declared standardize: false stay unscaled, as the models leave them
        cols = np.flatnonzero(task.standardized_columns(modalities))
        if len(cols) == x_tr.shape[1]:  # (a column transformer would reorder the memory
            scale = StandardScaler()  # and move the solvers' results by a test sample)
        else:
            scale = ColumnTransformer([("scale", StandardScaler(), cols)], remainder="passthrough")
        model = make_pipeline(scale, est)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_tr, y_tr)
        outputs = _sk_outputs(model, x_te, task.target)
        out[name] = compute_metrics(task.target, outputs, y_te)[task.metric]
        if samples is not None:
            samples[name] = per_sample(task, outputs, y_te)
    return out


# ---------------------------------------------------------------------------- HighMMT


def highmmt_scores(
    suite,
    seed: int,
    epochs: int,
    preset: str,
    plan=None,
    trainer: dict | None = None,
    samples: dict | None = None,
) -> dict:
    """One HighMMT on all tasks, as ``hetero train`` trains it: share-all (no plan: the
    pre-training alone) or ``epochs`` of pre-training then ``epochs`` of fine-tuning with
    ``plan``; ``trainer``: more :class:`Trainer` options; returns {task: test metric} (and,
    into ``samples``, {task: :func:`per_sample`})."""
    from hetero_models.trainer import Trainer, train_two_stage

    net, _ = train_two_stage(
        suite,
        plan,
        hparams={"preset": preset},
        pretrain_epochs=epochs,
        finetune_epochs=epochs,
        seed=seed,
        device="cpu",
        **(trainer or {}),
    )
    runner = Trainer(net, suite, device="cpu")
    outputs = runner.predict("test")
    metrics = runner.metrics(outputs)
    if samples is not None:
        for name, (logits, y) in outputs.items():
            samples[name] = per_sample(suite.task(name), logits.cpu().numpy(), y.cpu().numpy())
    # an empty test split has only a NaN loss
    return {t.name: metrics[t.name].get(t.metric, float("nan")) for t in suite.tasks}


def share_none_scores(
    suite,
    seed: int,
    epochs: int,
    preset: str,
    trainer: dict | None = None,
    samples: dict | None = None,
) -> dict:
    """Share-none: an independent HighMMT per task."""
    from hetero.suite import Suite

    out = {}
    for task in suite.tasks:
        single = Suite([task], name=task.name)
        out.update(highmmt_scores(single, seed, epochs, preset, None, trainer, samples))
    return out


def probe_score(task, unit, seed: int, max_epochs: int | None) -> float:
    from hetero_models.probes import HighMMTProbe

    probe = HighMMTProbe() if max_epochs is None else HighMMTProbe(max_epochs=max_epochs)
    probe.fit(task, unit, seed=seed)
    return float(probe.evaluate(task, unit, "test")[1])


# ---------------------------------------------------------------------------- driver

#: measured plans committed with the experiments, used for the "HighMMT plan" column
DEFAULT_PLANS = {
    "mini": ROOT / "examples" / "experiments" / "data" / "exp8_mini_plan.json",
    "full": ROOT / "examples" / "experiments" / "data" / "exp11_plan_linkage.json",
}
TASK_COLUMNS = ("HighMMT share-all", "HighMMT share-none", "HighMMT plan", "scikit-learn")

_SUITES: dict = {}


def _suite(name: str, data_dir: str | None):
    """The suite ``name``, loaded once per process."""
    from hetero.datasets import get_suite

    if name not in _SUITES:
        _SUITES[name] = get_suite(name, data_dir=data_dir) if name == "full" else get_suite(name)
    return _SUITES[name]


def _job(job: tuple, settings: dict) -> tuple[tuple, dict, dict, float]:
    """Run one cell of the benchmark (in this process or a worker): ``job`` is
    ``("tasks", column, seed)`` or ``("units", task, unit label, seed)``; returns it with
    ``{row label: {column: value}}``, ``{task: {column: per-sample hits}}`` (tasks only)
    and its seconds."""
    import torch

    if settings["threads"]:
        torch.set_num_threads(settings["threads"])
    suite = _suite(settings["suite"], settings["data_dir"])
    epochs, preset, trees = settings["epochs"], settings["preset"], settings["trees"]
    t0 = time.perf_counter()
    out: dict[str, dict[str, float]] = {}
    samples: dict[str, dict[str, str | None]] = {}
    if job[0] == "tasks":
        _, column, seed = job
        if column == "scikit-learn":
            for task in suite.tasks:
                hits = samples[task.name] = {}
                out[task.name] = sklearn_scores(
                    task, task.modality_names, seed, trees, samples=hits
                )
        else:
            trainer = settings["trainer"]
            hits = {}
            if column == "HighMMT share-none":
                scores = share_none_scores(suite, seed, epochs, preset, trainer, hits)
            else:
                from hetero.plan import read_plan

                plan = read_plan(settings["plan"]) if column == "HighMMT plan" else None
                scores = highmmt_scores(suite, seed, epochs, preset, plan, trainer, hits)
            out = {task: {column: v} for task, v in scores.items()}
            samples = {task: {column: v} for task, v in hits.items()}
    else:
        _, task_name, label, seed = job
        task = suite.task(task_name)
        unit = next(u for u in [*task.units(), *task.interaction_units()] if u.label == label)
        out[label] = {"probe (scratch)": probe_score(task, unit, seed, settings["probe_epochs"])}
        if seed == 0:  # the linear model is deterministic: one fit
            linear = "ridge" if task.target == "regression" else "logistic regression"
            out[label]["logistic regression"] = sklearn_scores(
                task, unit.modalities, seed, trees, only=linear
            )[linear]
    return job, out, samples, time.perf_counter() - t0


def run_suite(name: str, args, log) -> dict:
    data_dir = args.data_dir or (str(SHARED_DATA) if SHARED_DATA.is_dir() else None)
    suite = _suite(name, data_dir)
    plan = args.plans.get(name, DEFAULT_PLANS.get(name))
    settings = {
        "suite": name,
        "data_dir": data_dir,
        "epochs": args.epochs,
        "preset": args.preset,
        "trees": args.trees,
        "probe_epochs": args.probe_epochs,
        "threads": args.threads or (1 if args.jobs > 1 else None),
        "plan": str(plan) if plan else None,
        "trainer": args.trainer,
    }
    seeds = list(range(args.seeds))
    jobs: list[tuple] = []
    if "tasks" in args.parts:
        columns = [c for c in TASK_COLUMNS if c != "HighMMT plan" or plan]
        jobs += [("tasks", c, seed) for seed in seeds for c in columns]
    if "units" in args.parts:
        jobs += [
            ("units", task.name, unit.label, seed)
            for task in suite.tasks
            for unit in [*task.units(), *task.interaction_units()]
            for seed in seeds
        ]
    # {part: {row: {column: {seed: value}}}}: parallel jobs finish in any order, the saved
    # values are listed by seed so that columns can be paired by seed
    raw: dict[str, dict[str, dict[str, dict[int, float]]]] = {"tasks": {}, "units": {}}
    # {task: {column: {seed: per-sample hits}}}
    hits: dict[str, dict[str, dict[int, str | None]]] = {}
    seconds: dict[str, float] = {}

    def collect(job, out, samples, took):
        part, seed = job[0], job[-1]
        label = job[1] if part == "tasks" else "probes"
        seconds[label] = seconds.get(label, 0.0) + took
        for row, values in out.items():
            for column, v in values.items():
                raw[part].setdefault(row, {}).setdefault(column, {})[seed] = v
        for row, values in samples.items():
            for column, v in values.items():
                hits.setdefault(row, {}).setdefault(column, {})[seed] = v
        log(
            f"[{name}] {job[1:]}: "
            + ", ".join(f"{r} {next(iter(v.values())):.3f}" for r, v in list(out.items())[:8])
        )

    if args.jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=args.jobs, mp_context=ctx, initializer=tune_malloc
        ) as ex:
            futures = [ex.submit(_job, job, settings) for job in jobs]
            try:
                for future in as_completed(futures):
                    collect(*future.result())
            except BaseException:
                ex.shutdown(cancel_futures=True)  # a failed cell stops the rest
                raise
    else:
        for job in jobs:
            collect(*_job(job, settings))

    def by_seed(values: dict[int, float]) -> list[float]:
        return [values[seed] for seed in sorted(values)]

    plan_name = settings["plan"]
    if plan_name and Path(plan_name).is_relative_to(ROOT):
        plan_name = str(Path(plan_name).relative_to(ROOT))  # no machine's paths in the rows
    result: dict = {"suite": name, "plan": plan_name, "tasks": {}, "units": {}, "samples": {}}
    for task in suite.tasks:
        if task.name in raw["tasks"]:
            result["tasks"][task.name] = {
                "metric": task.metric,
                **{col: summarise(by_seed(v)) for col, v in raw["tasks"][task.name].items()},
            }
            task_hits = hits.get(task.name, {})
            result["tasks"][task.name]["gaps"] = gaps(
                result["tasks"][task.name], task_hits, task.higher_is_better
            )
            result["samples"][task.name] = {
                col: {str(seed): h for seed, h in sorted(v.items())} for col, v in task_hits.items()
            }
        for unit in [*task.units(), *task.interaction_units()]:
            if unit.label in raw["units"]:
                row = raw["units"][unit.label]
                result["units"][unit.label] = {
                    "metric": task.metric,
                    "probe (scratch)": summarise(by_seed(row["probe (scratch)"])),
                    "logistic regression": summarise(
                        by_seed(row["logistic regression"]) * len(seeds)
                    ),
                }
    result["core_seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    return result


def markdown(result: dict) -> str:
    lines = []
    if result["tasks"]:
        cols = [*HIGHMMT_COLUMNS, *BASELINE_COLUMNS]
        first = next(iter(result["tasks"].values()))
        cols = [c for c in cols if c in first] + [
            c for c in first if c not in cols and c not in ("metric", "gaps")
        ]
        lines.append(f"| {result['suite']} task | metric | " + " | ".join(cols) + " |")
        lines.append("|---|---|" + "---|" * len(cols))
        for task, row in result["tasks"].items():
            lines.append(
                f"| {task} | {row['metric']} | " + " | ".join(cell(row[c]) for c in cols) + " |"
            )
        lines.append("")
        gap_cols = [c for c in HIGHMMT_COLUMNS if c in first.get("gaps", {})]
        goal = result.get("settings", {}).get("goal", default_goal(result["suite"]))
        if gap_cols:
            lines.append(
                f"Gap to the best baseline (seed means; 95 % t interval for new seeds and a "
                f"new test set) and its verdict against the goal of {goal}:"
            )
            lines.append("")
            lines.append(
                f"| {result['suite']} task | best baseline | "
                + " | ".join(f"{c} - best" for c in gap_cols)
                + " |"
            )
            lines.append("|---|---|" + "---|" * len(gap_cols))
            for task, row in result["tasks"].items():
                g = row["gaps"]
                base = next(iter(g.values()))["baseline"] if g else ""
                lines.append(
                    f"| {task} | {base} | "
                    + " | ".join(gap_cell(g[c], goal) if c in g else "" for c in gap_cols)
                    + " |"
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
    malloc = "tuned" if tune_malloc() else "system"  # as the hetero command: as fast as it
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
    ap.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="SUITE=PLAN",
        help="plan of the 'HighMMT plan' column (default: the committed measured plans)",
    )
    from hetero_models.trainer import Trainer
    from hetero_models.training_options import LR_SCHEDULES, TASK_SAMPLING

    defaults = inspect.signature(Trainer).parameters
    ap.add_argument(
        "--task-sampling",
        choices=TASK_SAMPLING,
        default=defaults["task_sampling"].default,
        help="HighMMT columns: batches per task and epoch (default: the trainer's)",
    )
    ap.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=defaults["lr_schedule"].default,
        help="HighMMT columns: learning rate over each stage (default: the trainer's)",
    )
    ap.add_argument("--jobs", type=int, default=1, help="cells run in parallel processes")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--goal",
        type=float,
        default=None,
        help="largest gap below the best baseline that counts as within reach "
        f"(default: {', '.join(f'{k} {v}' for k, v in GOALS.items())}, else {OTHER_GOAL})",
    )
    ap.add_argument(
        "--render", type=Path, default=None, help="print the tables of a saved --json and exit"
    )
    args = ap.parse_args(argv)
    if args.render:
        for res in json.loads(args.render.read_text()):
            if args.goal is not None:
                res.setdefault("settings", {})["goal"] = args.goal
            print(markdown(regap(res)))
        return 0
    if args.jobs < 1:
        ap.error(f"--jobs: expected at least 1, got {args.jobs}")
    args.plans = {}
    for item in args.plan:
        suite_name, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            ap.error(f"--plan {item!r}: expected SUITE=PLAN with an existing plan JSON")
        args.plans[suite_name] = Path(path)
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
    unused = sorted(set(args.plans) - set(args.suite))
    if unused:
        ap.error(f"--plan for {', '.join(unused)}: not among the suites run ({args.suite})")
    args.parts = set(args.parts.split(","))
    args.trainer = {"task_sampling": args.task_sampling, "lr_schedule": args.lr_schedule}
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
            "threads": args.threads or (1 if args.jobs > 1 else torch.get_num_threads()),
            "jobs": args.jobs,
            "malloc": malloc,
            "goal": args.goal if args.goal is not None else default_goal(name),
            **args.trainer,
        }
        results.append(res)
        print(markdown(res))
        print(f"({name}: {res['seconds']} s, settings {res['settings']})\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
