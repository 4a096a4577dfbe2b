"""Shared pieces of the analyses: the result object, t-interval summaries and verdicts, suite
edits (a subset of a training split, replaced training labels) and trained models (loaded
from ``hetero train`` folders or trained here with paired seeds).

torch is imported inside the functions that train or load models only, so results can be
read, summarised and rendered without it.
"""

from __future__ import annotations

import copy
import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hetero._io import atomic_write_bytes, atomic_write_text, read_json, write_json
from hetero.errors import HeteroError

__all__ = [
    "ARMS",
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
    "verdict",
]

#: Sharing arms, in display order: one copy of every block, a plan's groups, one per unit.
ARMS = ("share-all", "grouped", "share-none")
RESULT_FORMAT = 1


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


def fmt_interval(stats: Mapping[str, Any], digits: int = 3) -> str:
    """``"0.812 [0.790, 0.834]"`` (the mean alone when there is no interval)."""
    mean, low, high = (stats.get(k) for k in ("mean", "low", "high"))
    if mean is None or not math.isfinite(float(mean)):
        return "n/a"
    if low is None or high is None or not math.isfinite(float(low)):
        return f"{float(mean):.{digits}f} (one seed)"
    return f"{float(mean):.{digits}f} [{float(low):.{digits}f}, {float(high):.{digits}f}]"


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


class AnalysisResult:
    """Outcome of one analysis: tables of per-seed rows and summaries, verdicts, config.

    Parameters
    ----------
    tables : dict of str -> list of dict
        ``"rows"`` (one row per seed and measured cell) and ``"summary"`` (means and t
        intervals over seeds) always; analyses may add more (e.g. ``"counts"``).
    verdicts : list of str
        Sentences worded by the intervals.
    config : dict
        The analysis' settings (seeds, epochs, inputs).
    provenance : dict, optional
        :func:`hetero._provenance.provenance` record.

    Subclasses set :attr:`kind` and implement :meth:`figure`.
    """

    kind: ClassVar[str] = "analysis"
    _types: ClassVar[dict[str, type[AnalysisResult]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        AnalysisResult._types[cls.kind] = cls

    def __init__(
        self,
        tables: Mapping[str, list[dict[str, Any]]],
        verdicts: Sequence[str] = (),
        config: Mapping[str, Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ):
        self.tables = {str(k): [dict(r) for r in v] for k, v in tables.items()}
        for name in ("rows", "summary"):
            self.tables.setdefault(name, [])
        self.verdicts = [str(v) for v in verdicts]
        self.config = dict(config or {})
        self.provenance = dict(provenance or {})

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Per-seed rows."""
        return self.tables["rows"]

    @property
    def summary(self) -> list[dict[str, Any]]:
        """Means and t intervals over seeds."""
        return self.tables["summary"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes null)."""
        return {
            "kind": self.kind,
            "format": RESULT_FORMAT,
            "config": self.config,
            "verdicts": self.verdicts,
            "tables": self.tables,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: Any, source: Any = None) -> AnalysisResult:
        """Rebuild a result (of the subclass named by ``d["kind"]``) from :meth:`to_dict`."""
        if not isinstance(d, Mapping) or not isinstance(d.get("tables"), Mapping):
            raise HeteroError("tables: missing (expected an analysis result JSON)", source=source)
        kind = d.get("kind")
        _import_result_types()
        sub = AnalysisResult._types.get(str(kind))
        if sub is None:
            known = ", ".join(sorted(k for k in AnalysisResult._types if k != "analysis"))
            raise HeteroError(
                f"kind: unknown analysis {kind!r}; expected one of: {known}", source=source
            )
        tables = {}
        for name, rows in d["tables"].items():
            if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
                raise HeteroError(f"tables.{name}: expected a list of objects", source=source)
            tables[name] = [{k: (math.nan if v is None else v) for k, v in r.items()} for r in rows]
        return sub(
            tables, d.get("verdicts") or [], d.get("config") or {}, d.get("provenance") or {}
        )

    def figure(self) -> Any:  # pragma: no cover - abstract
        """The analysis' figure (a matplotlib Figure on an Agg canvas)."""
        raise NotImplementedError

    def figure_png(self) -> bytes:
        """:meth:`figure` as PNG bytes."""
        from hetero.plotting._common import to_png

        return to_png(self.figure())

    def write(self, directory: str | Path, *, figure: bool = True) -> dict[str, Path]:
        """Write ``<kind>.json``, ``<kind>_<table>.csv`` per table and ``<kind>.png``.

        Returns the written paths by name (``json``, ``png`` and the table names).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {"json": write_json(directory / f"{self.kind}.json", self.to_dict())}
        for name, rows in self.tables.items():
            paths[name] = atomic_write_text(directory / f"{self.kind}_{name}.csv", to_csv(rows))
        if figure:
            paths["png"] = atomic_write_bytes(directory / f"{self.kind}.png", self.figure_png())
        return paths

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.tables.items())
        return f"{type(self).__name__}({sizes}, verdicts={len(self.verdicts)})"


def _import_result_types() -> None:
    import importlib

    for module in ("overlap", "interfere", "fewshot", "heldout"):
        importlib.import_module(f"hetero_models.analysis.{module}")


def read_result(path: str | Path) -> AnalysisResult:
    """Read a result written by :meth:`AnalysisResult.write` (its JSON file, or the folder
    holding exactly one ``<kind>.json``)."""
    path = Path(path)
    if path.is_dir():
        _import_result_types()
        found = [
            path / f"{k}.json" for k in AnalysisResult._types if (path / f"{k}.json").is_file()
        ]
        if len(found) != 1:
            raise HeteroError(
                "expected one analysis result (overlap.json, interference.json, "
                f"few_shot.json or transfer.json), found {len(found)}",
                source=path,
            )
        path = found[0]
    return AnalysisResult.from_dict(read_json(path), source=path)


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV text (columns: the union of the keys in first-seen order; NaN/None empty)."""
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        out = {}
        for c in cols:
            v = r.get(c)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out[c] = ""
            elif isinstance(v, (list, tuple)):
                out[c] = "+".join(str(x) for x in v)
            else:
                out[c] = v
        writer.writerow(out)
    return buf.getvalue()


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


def cap_train(suite: Any, max_train: int | None, seed: int = 0) -> Any:
    """Every task's training split cut to at most ``max_train`` samples (seeded, stratified)."""
    if not max_train:
        return suite
    for t in suite.tasks:
        if len(t.data.train_idx) > max_train:
            suite = subsample_train(suite, t.name, n=int(max_train), seed=seed)
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

    options = {**dict(trainer_kwargs or {}), **kwargs}
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
    arm is exactly what :func:`~hetero_models.trainer.train_two_stage` trains (and ``hetero
    train``, with the share-all plan for share-all); the pre-training is done once.
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
