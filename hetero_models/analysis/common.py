"""Shared pieces of the analyses: the result object, t-interval summaries and verdicts, suite
edits (a subset of a training split, replaced training labels) and trained models (loaded
from ``hetero train`` folders or trained here with paired seeds).

torch is imported inside the functions that train or load models only, so results can be
read, summarised and rendered without it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import read_json
from hetero.errors import HeteroError

# the results, their files and report sections need no torch: they live in the core
from hetero.report.analysis import ARMS, AnalysisResult, fmt_interval, read_result
from hetero_models.training_options import EARLIER_DEFAULTS

__all__ = [
    "ARMS",
    "CAP_SAMPLING",
    "TRAINER_DEFAULTS",
    "AnalysisResult",
    "TrainedModel",
    "arm_of",
    "cap_train",
    "effect",
    "fmt_interval",
    "interval",
    "load_trained",
    "paired_differences",
    "read_result",
    "replace_train_labels",
    "subsample_order",
    "subsample_train",
    "summarise",
    "train_models",
    "trainer_options",
    "verdict",
]


# --------------------------------------------------------------------------- statistics


def interval(values: Iterable[float | None]) -> dict[str, float]:
    """Mean of the finite ``values`` and its 95 % t interval (df = n - 1).

    Returns ``{"n", "mean", "std", "half_width", "low", "high"}``; with fewer than two
    values the spread and the interval are NaN (one seed says nothing about the spread).

    >>> r = interval([1.0, 2.0, 3.0])
    >>> r["mean"], round(r["half_width"], 3)
    (2.0, 2.484)
    """
    from hetero.measure.estimators import t_half_width

    a = np.array([float(v) for v in values if v is not None and math.isfinite(float(v))])
    n = int(a.size)
    if n == 0:
        nan = float("nan")
        return {"n": 0, "mean": nan, "std": nan, "half_width": nan, "low": nan, "high": nan}
    mean = float(a.mean())
    if n < 2:
        nan = float("nan")
        return {"n": 1, "mean": mean, "std": nan, "half_width": nan, "low": nan, "high": nan}
    std = float(a.std(ddof=1))
    half = float(t_half_width(np.array(std / math.sqrt(n)), np.array(n - 1)))
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "half_width": half,
        "low": mean - half,
        "high": mean + half,
    }


def verdict(
    diffs: Sequence[float],
    a: str,
    b: str,
    *,
    verb: str = "beats",
    resolution: float = 0.02,
    digits: int = 3,
) -> str:
    """Word a paired comparison by the t interval of the differences ``a - b``.

    Positive differences mean ``a`` is ahead. The interval excluding 0 gives "``a verb b``
    by d [lo, hi]" (or the reverse); one including 0 gives "no difference larger than B"
    when B (the larger bound in absolute value) is at most ``resolution``, else
    "inconclusive (underpowered)" with the interval.

    >>> verdict([0.05, 0.06, 0.07], "pre-trained", "alone")
    'pre-trained beats alone by 0.060 [0.035, 0.085] (3 seeds)'
    """
    s = interval(diffs)
    n = s["n"]
    seeds = f"({n} seed{'s' if n != 1 else ''})"
    if n < 2:
        return f"{a} vs {b}: inconclusive (fewer than 2 paired seeds) {seeds}"
    m, lo, hi = s["mean"], s["low"], s["high"]
    f = f".{digits}f"
    if lo > 0:
        return f"{a} {verb} {b} by {m:{f}} [{lo:{f}}, {hi:{f}}] {seeds}"
    if hi < 0:
        return f"{b} {verb} {a} by {-m:{f}} [{-hi:{f}}, {-lo:{f}}] {seeds}"
    bound = max(abs(lo), abs(hi))
    if bound <= resolution:
        return f"{a} vs {b}: no difference larger than {bound:{f}} {seeds}"
    return (
        f"{a} vs {b}: inconclusive (underpowered), difference {m:{f}} [{lo:{f}}, {hi:{f}}] {seeds}"
    )


def effect(
    values: Sequence[float],
    subject: str,
    up: str,
    down: str,
    *,
    resolution: float = 0.02,
    digits: int = 3,
) -> str:
    """Word a one-sample effect by its t interval against 0: "``subject up`` d [lo, hi]"
    when the interval is above 0, "``subject down`` ..." when below, else "no ... larger
    than B" or "inconclusive (underpowered)" as in :func:`verdict`.

    >>> effect([0.1, 0.12, 0.11], "other tasks", "lose", "gain")
    'other tasks lose 0.110 [0.085, 0.135] (3 seeds)'
    """
    s = interval(values)
    n = s["n"]
    seeds = f"({n} seed{'s' if n != 1 else ''})"
    f = f".{digits}f"
    if n < 2:
        return f"{subject}: inconclusive (fewer than 2 seeds) {seeds}"
    m, lo, hi = s["mean"], s["low"], s["high"]
    if lo > 0:
        return f"{subject} {up} {m:{f}} [{lo:{f}}, {hi:{f}}] {seeds}"
    if hi < 0:
        return f"{subject} {down} {-m:{f}} [{-hi:{f}}, {-lo:{f}}] {seeds}"
    bound = max(abs(lo), abs(hi))
    if bound <= resolution:
        return f"{subject}: no change larger than {bound:{f}} {seeds}"
    return f"{subject}: inconclusive (underpowered), {m:{f}} [{lo:{f}}, {hi:{f}}] {seeds}"


def summarise(
    rows: Sequence[Mapping[str, Any]], keys: Sequence[str], value: str
) -> list[dict[str, Any]]:
    """One row per distinct ``keys`` combination (first-seen order): the keys, ``n`` and the
    :func:`interval` of ``value`` over the rows (the seeds)."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r[value])
    out = []
    for key, values in groups.items():
        out.append({**dict(zip(keys, key, strict=True)), "quantity": value, **interval(values)})
    return out


def paired_differences(
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    value: str,
    *,
    by: str,
    a: Any,
    b: Any,
    seed_key: str = "seed",
) -> dict[tuple, list[float]]:
    """``{keys: [row(by=a)[value] - row(by=b)[value] for each seed with both]}``."""
    cells: dict[tuple, dict[Any, dict[Any, float]]] = {}
    for r in rows:
        cells.setdefault(tuple(r[k] for k in keys), {}).setdefault(r[seed_key], {})[r[by]] = r[
            value
        ]
    out = {}
    for key, seeds in cells.items():
        out[key] = [v[a] - v[b] for _, v in sorted(seeds.items()) if a in v and b in v]
    return out


# --------------------------------------------------------------------------- results


def base_provenance(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Provenance of an analysis result (with torch's version when it is loaded)."""
    import sys

    from hetero._provenance import provenance

    prov = provenance(analysis=kind, **config)
    torch = sys.modules.get("torch")
    if torch is not None:
        prov["torch"] = torch.__version__
    return prov


# --------------------------------------------------------------------------- suite edits


def _replace_task(suite: Any, task: Any) -> Any:
    from hetero.suite import Suite

    return Suite([task if t.name == task.name else t for t in suite.tasks], name=suite.name)


def _rebuild(task: Any, data: Any) -> Any:
    """``task`` with other data: every other field kept (objective, source, ``match``)."""
    from hetero.suite import Task

    return Task(
        task.name,
        list(task.modalities),
        task.target,
        data,
        n_outputs=task.n_outputs,
        loss=task.loss,
        metric=task.metric,
        higher_is_better=task.higher_is_better,
        source=task.source,
        match=task.match,
    )


def subsample_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of the positions ``0..len(y)-1`` whose prefixes are (about) stratified.

    For class labels (1-D integers) every class is shuffled and spread evenly over the
    order, so the first ``m`` positions hold about ``m * n_c / n`` of class ``c``; other
    targets get a plain permutation. Prefixes of one order are nested: a larger fraction
    keeps every sample of a smaller one.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    n = len(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        return rng.permutation(n)
    key = np.empty(n)
    jitter = rng.random(n)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        rank = rng.permutation(len(members))
        key[members] = (rank + jitter[members]) / len(members)
    return np.argsort(key, kind="stable")


def subsample_train(
    suite: Any,
    task: str,
    *,
    fraction: float | None = None,
    n: int | None = None,
    seed: int = 0,
    min_samples: int = 4,
) -> Any:
    """``suite`` with ``task``'s training split cut to ``fraction`` (or ``n``) of its samples.

    The samples are the first of :func:`subsample_order` (seeded, stratified by class,
    nested across fractions); at least ``min_samples`` are kept. Validation and test splits
    are untouched. Returns a new suite sharing the arrays.
    """
    t = suite.task(task)
    train = np.asarray(t.data.train_idx)
    if (fraction is None) == (n is None):
        raise HeteroError("subsample_train: give exactly one of fraction and n")
    if fraction is not None:
        if not 0 < float(fraction) <= 1:
            raise HeteroError(f"fraction must be in (0, 1], got {fraction}")
        n = math.ceil(float(fraction) * len(train))
    assert n is not None
    if n < 1:
        raise HeteroError(f"n must be >= 1, got {n}")
    keep = min(len(train), max(int(n), int(min_samples)))
    order = subsample_order(np.asarray(t.data.y)[train], seed)
    idx = np.sort(train[order[:keep]])
    from hetero.suite import TaskData

    d = t.data
    return _replace_task(suite, _rebuild(t, TaskData(d.arrays, d.y, idx, d.val_idx, d.test_idx)))


def replace_train_labels(suite: Any, task: str, y_train: np.ndarray) -> Any:
    """``suite`` with ``task``'s training labels replaced by ``y_train`` (in the order of
    its ``train_idx``); validation and test labels are untouched."""
    from hetero.suite import TaskData

    t = suite.task(task)
    d = t.data
    y = np.array(d.y, copy=True)
    y_train = np.asarray(y_train, dtype=y.dtype)
    if y_train.shape != y[d.train_idx].shape:
        raise HeteroError(
            f"task {task!r}: replacement labels have shape {y_train.shape}, "
            f"expected {y[d.train_idx].shape}"
        )
    y[d.train_idx] = y_train
    return _replace_task(
        suite, _rebuild(t, TaskData(d.arrays, y, d.train_idx, d.val_idx, d.test_idx))
    )


#: How :func:`cap_train` picks the training samples it keeps.
CAP_SAMPLING = ("stratified", "uniform")


def cap_train(
    suite: Any, max_train: int | None, seed: int = 0, *, sampling: str = "stratified"
) -> Any:
    """Every task's training split cut to at most ``max_train`` samples (seeded).

    Parameters
    ----------
    suite : Suite
    max_train : int or None
        None or 0: ``suite`` unchanged. Tasks with at most ``max_train`` training samples
        are kept as they are.
    seed : int
    sampling : {"stratified", "uniform"}
        ``"stratified"`` (default): per task, the first ``max_train`` positions of
        :func:`subsample_order` seeded with ``seed`` (class-stratified, nested across
        caps). ``"uniform"``: a uniform draw without replacement from one generator seeded
        with ``seed`` and used by the capped tasks in suite order (the draw of the
        recorded example experiments, ``examples/experiments/_common.py``).

    Returns
    -------
    Suite
        A new suite (arrays shared) whose tasks keep every field but ``train_idx``: name,
        modalities, target, objective, source and a retrieval task's ``match``; validation
        and test splits are untouched.

    Examples
    --------
    >>> from hetero.suite import Suite, Task
    >>> t = Task.from_arrays("t", {"x": np.zeros((10, 2))}, [0, 1] * 5, target="multiclass",
    ...                      train_idx=range(8), val_idx=[8], test_idx=[9])
    >>> capped = cap_train(Suite([t]), 4, seed=0)
    >>> len(capped.task("t").data.train_idx), np.bincount(capped.task("t").data.y[
    ...     capped.task("t").data.train_idx]).tolist()
    (4, [2, 2])
    """
    if sampling not in CAP_SAMPLING:
        raise HeteroError(f"sampling: expected one of {', '.join(CAP_SAMPLING)}, got {sampling!r}")
    if not max_train:
        return suite
    if isinstance(max_train, bool) or not isinstance(max_train, int | np.integer) or max_train < 1:
        raise HeteroError(f"max_train: expected an integer >= 1 or None, got {max_train!r}")
    max_train = int(max_train)
    if sampling == "stratified":
        for t in suite.tasks:
            if len(t.data.train_idx) > max_train:
                suite = subsample_train(suite, t.name, n=max_train, seed=seed)
        return suite
    from hetero.suite import TaskData

    rng = np.random.default_rng(seed)
    for t in suite.tasks:
        d = t.data
        if len(d.train_idx) > max_train:
            idx = np.sort(rng.choice(d.train_idx, size=max_train, replace=False))
            suite = _replace_task(
                suite, _rebuild(t, TaskData(d.arrays, d.y, idx, d.val_idx, d.test_idx))
            )
    return suite


# --------------------------------------------------------------------------- models


@dataclass
class TrainedModel:
    """A trained model and what it is: sharing arm, seed and where it came from."""

    model: Any
    arm: str
    seed: int
    source: str | None = None


def arm_of(model: Any) -> str:
    """``"share-all"`` (one copy of every block), ``"share-none"`` (one group per unit) or
    ``"grouped"`` (anything else), from ``model.groups()``."""
    counts, sizes = [], []
    for groups in model.groups().values():
        nonempty = [g for g in groups if g]
        if nonempty:
            counts.append(len(nonempty))
            sizes += [len(g) for g in nonempty]
    if all(c <= 1 for c in counts):
        return "share-all"
    if all(s == 1 for s in sizes):
        return "share-none"
    return "grouped"


def check_model_suite(model: Any, suite: Any, source: Any = None) -> None:
    """Raise when ``model`` was not built for the tasks and modalities of ``suite``."""
    from hetero_models.inputs import ModelSpec

    have = ModelSpec.from_suite(suite)
    for spec in model.spec.tasks:
        if spec.name not in have.task_names:
            raise HeteroError(
                f"the model has task {spec.name!r}, which the suite does not "
                f"(suite tasks: {', '.join(have.task_names)})",
                source=source,
            )
        if have.task(spec.name) != spec:
            raise HeteroError(
                f"task {spec.name!r}: the model was built for other modalities or outputs "
                "than the suite's (expected the suite it was trained on)",
                source=source,
            )


def load_trained(
    directories: Sequence[str | Path], suite: Any, *, device: str = "cpu"
) -> list[TrainedModel]:
    """Load ``hetero train`` output folders, checked against ``suite``.

    The arm comes from the model's groups (:func:`arm_of`), the seed from
    ``metrics.json`` (``provenance.config.seed``; the folder's position when absent).
    Two folders of the same arm and seed are an error (they would count twice).
    """
    from hetero_models.registry import load_model

    out: list[TrainedModel] = []
    for i, directory in enumerate(directories):
        directory = Path(directory)
        if not directory.is_dir():
            raise HeteroError(
                "model folder not found (expected a `hetero train` output folder)", source=directory
            )
        if not (directory / "config.json").is_file():
            raise HeteroError(
                "config.json not found (expected a `hetero train` output folder)", source=directory
            )
        model = load_model(directory, device=device)
        check_model_suite(model, suite, source=directory)
        seed = i
        metrics = directory / "metrics.json"
        if metrics.is_file():
            cfg = (read_json(metrics).get("provenance") or {}).get("config") or {}
            if isinstance(cfg.get("seed"), int):
                seed = int(cfg["seed"])
        out.append(TrainedModel(model, arm_of(model), seed, str(directory)))
    seen: dict[tuple[str, int], str | None] = {}
    for m in out:
        if (m.arm, m.seed) in seen:
            raise HeteroError(
                f"two {m.arm} models with seed {m.seed} ({seen[(m.arm, m.seed)]} "
                f"and {m.source}); expected one per arm and seed"
            )
        seen[(m.arm, m.seed)] = m.source
    return out


def new_model(suite: Any, seed: int, model: str = "highmmt", hparams: Mapping | None = None):
    """``create_model(model, suite, **hparams)`` with weights that depend on ``seed`` only."""
    from hetero_models.registry import create_model
    from hetero_models.trainer import seeded_init

    with seeded_init(seed):
        return create_model(model, suite, **dict(hparams or {}))


#: Trainer settings of the analyses where ``trainer_kwargs`` does not set them. Their
#: designs compare arms of different lengths or data (an epoch cap with early stopping
#: against fine-tuning, a few-shot target subset trained beside whole source tasks, a short
#: continuation under corrupted labels): balanced sampling would repeat a small subset to
#: the sources' length, and a cosine rate would tie each arm's rate to its cap. Experiment
#: 14, which made those the trainer's defaults, tested single-stage shared training only.
TRAINER_DEFAULTS = dict(EARLIER_DEFAULTS)


def trainer_options(trainer_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """``trainer_kwargs`` over :data:`TRAINER_DEFAULTS`: what the analyses train with (and
    record)."""
    return {**TRAINER_DEFAULTS, **dict(trainer_kwargs or {})}


def fit(
    net: Any,
    suite: Any,
    *,
    epochs: int,
    seed: int,
    tasks: Sequence[str] | None = None,
    stage: str = "train",
    device: str = "auto",
    trainer_kwargs: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """A :class:`~hetero_models.trainer.Trainer` for ``net``, fitted when ``epochs > 0``."""
    from hetero_models.trainer import Trainer

    options = {**trainer_options(trainer_kwargs), **kwargs}
    trainer = Trainer(
        net, suite, tasks=tasks, epochs=epochs, seed=seed, stage=stage, device=device, **options
    )
    if epochs > 0:
        trainer.fit()
    return trainer


def scores_on_test(
    trainer: Any, suite: Any, tasks: Sequence[str] | None = None
) -> dict[str, float]:
    """Test value of each task's own metric (``task.metric``)."""
    res = trainer.evaluate("test", tasks=tasks)
    return {name: float(res[name].get(suite.task(name).metric, math.nan)) for name in res}


def train_models(
    suite: Any,
    plan: Any = None,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    pretrain_epochs: int = 4,
    finetune_epochs: int = 4,
    model: str = "highmmt",
    hparams: Mapping[str, Any] | None = None,
    device: str = "auto",
    trainer_kwargs: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[TrainedModel]:
    """Train the share-all model (and the ``plan``'s grouped model) per seed, paired.

    Per seed, one fully shared model is pre-trained (initialisation from the seed, batches
    from the seed) and then fine-tuned twice for ``finetune_epochs`` (batches from seed + 1):
    once with every unit in one group (share-all) and once split by ``plan`` (grouped). Each
    arm is exactly what :func:`~hetero_models.trainer.train_two_stage` trains with the same
    trainer options (``trainer_kwargs`` over :data:`TRAINER_DEFAULTS`; ``hetero train``
    likewise, with the share-all plan for share-all); the pre-training is done once.
    """
    from hetero.plan import GroupingPlan

    arms = [("share-all", GroupingPlan.share_all(suite))]
    if plan is not None:
        if arm_of_plan(plan) == "share-all":
            raise HeteroError("the plan puts every unit in one group: it is the share-all arm")
        arms.append((arm_of_plan(plan), plan))
    out = []
    for seed in seeds:
        net = new_model(suite, seed, model, hparams)
        fit(
            net,
            suite,
            epochs=pretrain_epochs,
            seed=seed,
            stage="pretrain",
            device=device,
            trainer_kwargs=trainer_kwargs,
        )
        for arm, arm_plan in arms:
            m = copy.deepcopy(net)
            m.apply_plan(arm_plan)
            fit(
                m,
                suite,
                epochs=finetune_epochs,
                seed=seed + 1,
                stage="finetune",
                device=device,
                trainer_kwargs=trainer_kwargs,
            )
            out.append(TrainedModel(m.cpu(), arm_of(m), seed))
            if log:
                log(f"trained {arm} model, seed {seed}")
    return out


def arm_of_plan(plan: Any) -> str:
    """The arm a plan gives (:func:`arm_of` of a model split by it)."""

    class _Groups:
        def groups(self) -> dict[str, list[list[str]]]:
            if isinstance(plan, Mapping):
                return {
                    k: list(plan.get(k) or []) for k in ("unimodal_groups", "crossmodal_groups")
                }
            return {
                "unimodal_groups": plan.unimodal_groups,
                "crossmodal_groups": plan.crossmodal_groups,
            }

    return arm_of(_Groups())


def component_of(model: Any) -> Callable[[str], str]:
    """``name -> component`` for the model's parameter names: the kind of the grouped block
    holding it (``"unimodal"`` / ``"crossmodal"``), else ``"other"`` (heads, embeddings)."""
    prefixes = [(f"{name}.", block.kind) for name, block in model.grouped_blocks().items()]

    def component(name: str) -> str:
        for prefix, kind in prefixes:
            if name.startswith(prefix):
                return kind
        return "other"

    return component
