"""``measure()``: from a suite to transfer matrices, distances, a metric check and a plan.

Output directory layout (written atomically, after all training finished)::

    DIR/runs.sqlite                 run store (written during training; resumable)
    DIR/modality_transfer.json      directed T with std/count (+ se, significance in provenance)
    DIR/modality.json               symmetric distances (completed entries flagged)
    DIR/interaction_transfer.json   the same for interaction units (with interactions)
    DIR/interaction.json
    DIR/check.json                  metric-check report (``interaction`` key when present)
    DIR/plan.json                   grouping plan (stability in its provenance)
    DIR/measure.json                summary: learner, estimator, seeds, runs, reliability
    DIR/figures/                    heatmaps, dendrograms, spectra (PNG; replaced as a set)
    DIR/.hetero.lock                held while a measure runs: a second writer is refused
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import check_output_dir, write_json
from hetero._provenance import provenance
from hetero.errors import HeteroError, LearnerError
from hetero.learners.base import Learner
from hetero.learners.registry import default_learner_name, get_learner
from hetero.measure.estimators import (
    DEFAULT_ESTIMATOR,
    Estimator,
    TransferEstimate,
    estimate_transfer,
    get_estimator,
)
from hetero.measure.executors import (
    EXECUTORS,
    ExecutorHandle,
    RunEvent,
    RunStats,
    make_executor,
    run_specs,
)
from hetero.measure.planner import LevelRuns, RunPlanner, baseline_seed_count, design_mask
from hetero.measure.stability import co_assignment, reliability_statement, split_half_retest
from hetero.measure.store import RunStore

__all__ = ["LOCK_FILE", "LevelResult", "MeasureResult", "measure"]

#: Lock file that a running ``measure`` holds in its output folder.
LOCK_FILE = ".hetero.lock"

#: z value of the significance flags and of ``auto`` seed decisions (two-sided 95 %).
Z_SIGNIFICANT = 1.96


@dataclass
class LevelResult:
    """Result of one level (``"modality"`` or ``"interaction"``).

    Attributes
    ----------
    transfer : HeterogeneityMatrix
        Directed ``T`` (NaN where not measured), with std and count.
    distance : HeterogeneityMatrix
        Symmetric distances, completed when a sampled design was used.
    estimate : TransferEstimate
        Per-entry means, standard errors, per-seed matrices.
    completed : ndarray of bool
        Distance entries filled by completion.
    check : MetricReport
    runs : LevelRuns
    """

    level: str
    transfer: Any
    distance: Any
    estimate: TransferEstimate
    completed: np.ndarray
    check: Any
    runs: LevelRuns
    retest: dict[str, Any] | None = None
    stability: dict[str, Any] | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.runs.labels)


@dataclass
class MeasureResult:
    """What :func:`measure` returns (and writes when given a directory)."""

    modality: LevelResult
    interaction: LevelResult | None
    plan: Any
    learner: str
    learner_config: dict[str, Any]
    estimator: Estimator
    stats: RunStats
    summary: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None


def _check_something_measured(
    results: dict[str, LevelResult], stats: RunStats, store_path: Path
) -> None:
    """Refuse to write all-empty matrices: when no entry could be measured, say why."""
    for res in results.values():
        values = res.transfer.values
        off = ~np.eye(len(values), dtype=bool)
        if np.isfinite(values[off]).any():
            return
    if stats.failures:
        unit, error = stats.failures[0]
        raise HeteroError(
            f"nothing was measured: {stats.failed} runs failed past their retries (first: "
            f"{unit}: {error}); they are recorded in {store_path.name} and retried by the next "
            "measure"
        )
    raise HeteroError("no entry could be measured; nothing was written")


@contextlib.contextmanager
def _exclusive(out_dir: Path | None) -> Iterator[None]:
    """Hold ``out_dir/.hetero.lock`` exclusively; refuse at once if another process does.

    An OS-level lock: a killed run releases it with its process, so resuming never waits.
    """
    if out_dir is None:
        yield
        return
    import filelock

    lock = filelock.FileLock(out_dir / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise HeteroError(
            "another hetero measure is writing to this folder (it holds "
            f"{LOCK_FILE}); wait for it to finish or choose another --out",
            source=out_dir,
        ) from None
    try:
        yield
    finally:
        lock.release()


def _resolve_learner(
    learner: str | Learner | None, config: dict[str, Any] | None, max_epochs: int | None
) -> tuple[str, dict[str, Any], Learner]:
    if isinstance(learner, Learner):
        name = learner.name
        cfg = {**learner.get_config(), **(config or {})}
    else:
        name = learner or default_learner_name()
        cfg = dict(config or {})
    if max_epochs is not None:
        if max_epochs < 1:
            raise HeteroError(f"max_epochs: expected at least 1, got {max_epochs}")
        cfg["max_epochs"] = int(max_epochs)
    if isinstance(learner, Learner):  # an instance: workers rebuild it from its class
        try:
            obj = type(learner)(**cfg)
        except TypeError as exc:
            raise LearnerError(f"learner {name!r}: bad config {sorted(cfg)} ({exc})") from None
    else:
        obj = get_learner(name, **cfg)  # validates name and config
    return name, obj.get_config(), obj


def _unit_task(suite: Any, label: str) -> Any:
    """The unit's task holding only the unit's modalities (what a worker needs)."""
    from hetero.suite import Task, TaskData

    unit = suite.unit(label)
    task = suite.task(unit.task)
    data = task.data
    if set(unit.modalities) == set(data.arrays):
        return task
    sub = TaskData(
        {m: data.arrays[m] for m in unit.modalities},
        data.y,
        data.train_idx,
        data.val_idx,
        data.test_idx,
    )
    return Task(
        task.name,
        [task.modality(m) for m in unit.modalities],
        task.target,
        sub,
        n_outputs=task.n_outputs,
        loss=task.loss,
        metric=task.metric,
        higher_is_better=task.higher_is_better,
        source=task.source,
    )


def _scores(
    runs: LevelRuns, records: dict[str, Any], est: Estimator
) -> tuple[dict[tuple[str, str, int], float], dict[tuple[str, int], float]]:
    tscores: dict[tuple[str, str, int], float] = {}
    bscores: dict[tuple[str, int], float] = {}
    for (src, tgt, seed), spec in runs.transfer.items():
        rec = records.get(spec.key)
        if rec is not None and rec.ok:
            tscores[(src, tgt, seed)] = est.run_score(rec.val_loss, rec.curve)
    for (tgt, seed), spec in runs.baseline.items():
        rec = records.get(spec.key)
        if rec is not None and rec.ok:
            bscores[(tgt, seed)] = est.run_score(rec.val_loss, rec.curve)
    return tscores, bscores


def _seeds_of(runs: LevelRuns) -> tuple[list[int], list[int]]:
    return (
        sorted({s for (_, _, s) in runs.transfer}),
        sorted({s for (_, s) in runs.baseline}),
    )


class _Analysis:
    """T -> d -> completion -> clustering with fixed settings (reused for re-tests)."""

    def __init__(self, labels: list[str], kind: str, completion: str | None, seed: int):
        self.labels = labels
        self.kind = kind
        self.completion = completion
        self.seed = seed
        self.n_groups: int | None = None

    def matrix(self, values: np.ndarray, **kw: Any) -> Any:
        from hetero.matrix import HeterogeneityMatrix

        return HeterogeneityMatrix(self.labels, values, kind=self.kind, **kw)

    def distance(self, t_values: np.ndarray) -> np.ndarray:
        from hetero.distance import transfer_to_distance

        d = transfer_to_distance(self.matrix(t_values))
        return self.complete(d).values

    def complete(self, d: Any) -> Any:
        if self.completion is None or d.observed.all() or len(self.labels) < 3:
            return d
        from hetero.completion import complete_matrix

        return complete_matrix(d, method=self.completion, seed=self.seed)

    def groups(self, d_values: np.ndarray) -> np.ndarray:
        from hetero.grouping import cluster

        labels, _ = cluster(self.matrix(d_values), n_groups=self.n_groups)
        return np.asarray(labels)


def _level_result(
    runs: LevelRuns,
    records: dict[str, Any],
    est: Estimator,
    analysis: _Analysis,
    base_config: dict[str, Any],
) -> LevelResult:
    from hetero.distance import transfer_to_distance
    from hetero.metric import check_metric

    tscores, bscores = _scores(runs, records, est)
    e = estimate_transfer(runs.labels, tscores, bscores)
    sig = e.significant(Z_SIGNIFICANT)
    total, total_se = e.symmetric_sum()
    converged = [
        bool(records[s.key].converged)
        for s in runs.specs()
        if s.key in records and records[s.key].ok
    ]
    prov = provenance(
        **base_config,
        level=runs.level,
        seeds=_seeds_of(runs)[0],
        baseline_seeds=_seeds_of(runs)[1],
    )
    prov.update(
        {
            "se": e.se,
            "significant": sig,
            "z": Z_SIGNIFICANT,
            "unclipped_sum": total,
            "unclipped_sum_se": total_se,
            "baseline_loss": dict(zip(runs.labels, e.baseline.tolist(), strict=True)),
            "baseline_count": dict(zip(runs.labels, e.baseline_count.tolist(), strict=True)),
            "measured": runs.mask,
            "converged_fraction": float(np.mean(converged)) if converged else None,
        }
    )
    std = np.where(np.isfinite(e.std), e.std, np.nan)
    transfer = analysis.matrix(e.values, std=std, count=e.count, provenance=prov)
    d_measured = transfer_to_distance(transfer)
    d = analysis.complete(d_measured)
    completed = ~d_measured.observed & d.observed
    d.provenance = dict(d.provenance)
    d.provenance["completed"] = completed
    d.provenance["n_completed"] = int(np.triu(completed, 1).sum())
    d.provenance["significant_sum"] = np.abs(total) > Z_SIGNIFICANT * total_se
    check = check_metric(d) if d.observed.any() else None
    return LevelResult(runs.level, transfer, d, e, completed, check, runs)


def _uncertain_pairs(
    res: LevelResult, cut: float | None, tolerance: float = 0.0
) -> list[tuple[int, int]]:
    """Measured entries whose interval straddles zero or the cluster cut.

    An interval narrower than ``tolerance`` (half-width ``z se``) counts as decided: the
    entry is practically equal to the decision value and more seeds would not change it.
    """
    e = res.estimate
    mask = res.runs.mask
    out = []
    d = res.distance.values
    d_se = np.sqrt(e.se**2 + e.se.T**2)
    for i, j in zip(*np.nonzero(mask), strict=True):
        se = e.se[i, j]
        if not np.isfinite(se) or e.count[i, j] < 2:
            out.append((int(i), int(j)))
            continue
        if Z_SIGNIFICANT * se < tolerance:
            continue
        if abs(e.values[i, j]) <= Z_SIGNIFICANT * se:
            out.append((int(i), int(j)))
        elif (
            cut is not None
            and np.isfinite(d[i, j])
            and abs(d[i, j] - cut) <= Z_SIGNIFICANT * d_se[i, j]
        ):
            out.append((int(i), int(j)))
    return out


def _cut_height(linkage: Any, n_groups: int | None) -> float | None:
    """Height between the merges that give ``n_groups`` and ``n_groups - 1`` groups."""
    if linkage is None or n_groups is None:
        return None
    z = np.asarray(linkage)
    n = z.shape[0] + 1
    if not 1 < n_groups <= n:
        return None
    lo = z[n - n_groups - 1, 2] if n - n_groups - 1 >= 0 else 0.0
    hi = z[n - n_groups, 2]
    return float((lo + hi) / 2)


def measure(
    suite: Any,
    out_dir: str | os.PathLike | None = None,
    *,
    learner: str | Learner | None = None,
    learner_config: dict[str, Any] | None = None,
    estimator: str | Estimator = DEFAULT_ESTIMATOR,
    interactions: bool | None = None,
    fraction: float | None = None,
    budget: int | None = None,
    seeds: int | str = 2,
    baseline_seeds: int | None = None,
    executor: str | ExecutorHandle = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    max_epochs: int | None = None,
    retries: int = 2,
    keep_head: bool = False,
    unimodal_groups: int | None = None,
    crossmodal_groups: int | None = None,
    retest: bool = False,
    max_runs: int | None = None,
    max_time: float | None = None,
    max_seeds: int = 16,
    auto_tolerance: float = 0.005,
    design_seed: int = 0,
    completion: str = "symmetric",
    figures: bool = True,
    stability_boot: int = 50,
    on_event: Callable[[RunEvent], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> MeasureResult:
    """Measure modality (and interaction) heterogeneity of ``suite`` by transfer.

    Parameters
    ----------
    suite : Suite or path
        The suite (a YAML path is loaded and validated before anything trains).
    out_dir : path-like, optional
        Output directory (created); holds the run store, so re-running resumes. Without it
        the run store lives in a temporary directory and nothing else is written.
    learner : str or Learner, optional
        Registered learner name or instance (default: ``"highmmt"`` when available, else
        ``"reference"``); ``learner_config`` updates its config.
    estimator : str or Estimator
        ``"finetune"``, ``"budgeted"``, ``"frozen"`` or ``"frozen_short"`` (the default; see
        :mod:`hetero.measure.estimators`).
    interactions : bool, optional
        Measure interaction units too; None: when the learner supports them and some task
        has two modalities. True with a learner that cannot raises LearnerError.
    fraction, budget : optional
        Measure only a sampled design of ordered pairs (fraction of them, or a count per
        level) and complete the rest.
    seeds : int or "auto"
        Transfer seeds per entry; ``"auto"`` starts at 2 and adds seeds to entries whose
        interval straddles zero or the cluster cut until ``max_runs``/``max_time``/
        ``max_seeds`` is reached or no entry is undecided (an interval narrower than
        ``auto_tolerance``, in loss units, counts as decided).
    baseline_seeds : int, optional
        Seeds of each baseline (default twice the transfer seeds).
    executor : {"serial", "process", "dask"} or ExecutorHandle
    workers, scheduler
        Worker processes; dask scheduler address.
    max_epochs : int, optional
        Epoch cap (part of the learner config).
    retries : int
        Retries of a failed run.
    keep_head : bool
        Keep the transferred head for transfers within a task (recorded in the run keys).
    unimodal_groups, crossmodal_groups : int, optional
        Groups of the plan (default: the core's choice).
    retest : bool
        Report split-half test-retest reliability.
    on_event, on_start : callable, optional
        Progress hooks: ``on_start(total_runs)`` before each training batch, ``on_event``
        after each run.
    """
    from hetero.suite import Suite, load_suite

    t_start = time.perf_counter()
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    est = get_estimator(estimator)
    name, config, learner_obj = _resolve_learner(learner, learner_config, max_epochs)
    auto = seeds == "auto"
    if auto:
        n_seeds = 2
    else:
        try:
            n_seeds = int(seeds)
        except (TypeError, ValueError):
            raise HeteroError(
                f"seeds: expected a positive integer or 'auto', got {seeds!r}"
            ) from None
    n_base = baseline_seed_count(n_seeds, baseline_seeds)
    if isinstance(executor, str):
        if executor not in EXECUTORS:
            raise HeteroError(f"unknown executor {executor!r} (valid: {', '.join(EXECUTORS)})")
        if scheduler is not None and executor != "dask":
            raise HeteroError("--scheduler needs --executor dask")
    if workers is not None and workers < 1:
        raise HeteroError(f"workers: expected at least 1, got {workers}")
    if retries < 0:
        raise HeteroError(f"retries: expected >= 0, got {retries}")
    if fraction is not None and budget is not None:
        raise HeteroError("give either fraction or budget, not both")
    if fraction is not None and not 0 < fraction <= 1:
        raise HeteroError(f"fraction: expected a number in (0, 1], got {fraction}")

    units = [u.label for u in suite.units()]
    if len(units) < 2:
        raise HeteroError(
            f"suite '{suite.name}' has {len(units)} unit; transfer needs at least 2",
            source=suite.source,
        )
    inter_units = [u.label for u in suite.interaction_units()]
    if interactions is None:
        interactions = bool(learner_obj.supports_interactions and len(inter_units) >= 2)
    elif interactions:
        if not learner_obj.supports_interactions:
            raise LearnerError(
                f"learner {name!r} does not support interaction units; "
                "use --no-interactions or a learner that does"
            )
        if len(inter_units) < 2:
            raise HeteroError(
                f"suite '{suite.name}' has {len(inter_units)} interaction unit(s); interaction "
                "measurement needs at least 2 (tasks with two or more modalities)",
                source=suite.source,
            )

    # output and store: fail before training
    tmp = None
    if out_dir is not None:
        out_path = Path(out_dir)
        check_output_dir(out_path)
        store_path = out_path / "runs.sqlite"
    else:
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="hetero-measure-")
        out_path = None
        store_path = Path(tmp.name) / "runs.sqlite"
    with _exclusive(out_path):  # a second writer of this folder is refused
        store = RunStore(store_path)

        planner = RunPlanner(suite, name, config, est, keep_head=keep_head)
        seed_list = list(range(n_seeds))
        base_list = list(range(n_base))
        levels: dict[str, LevelRuns] = {}
        sampled = fraction is not None or budget is not None
        for level, labels in (
            ("modality", units),
            ("interaction", inter_units if interactions else []),
        ):
            if not labels:
                continue
            mask = design_mask(len(labels), fraction=fraction, budget=budget, seed=design_seed)
            levels[level] = planner.plan_level(
                level, labels, seeds=seed_list, baseline_seeds=base_list, mask=mask
            )

        task_cache: dict[str, Any] = {}

        def task_for(label: str) -> Any:
            if label not in task_cache:
                task_cache[label] = _unit_task(suite, label)
            return task_cache[label]

        own_handle = not isinstance(executor, ExecutorHandle)
        handle = (
            make_executor(executor, workers=workers, scheduler=scheduler)
            if own_handle
            else executor
        )
        total_stats = RunStats()

        def run(specs: list[Any]) -> None:
            if on_start is not None:
                on_start(len({s.key for s in specs}))
            st = run_specs(
                specs, store, handle, learner_name=name, learner_config=config,
                task_for=task_for, retries=retries, on_event=on_event,
                learner_factory=type(learner_obj),
            )  # fmt: skip
            for attr in ("total", "cached", "trained", "failed", "skipped", "retried"):
                setattr(total_stats, attr, getattr(total_stats, attr) + getattr(st, attr))
            total_stats.failures += st.failures

        base_config = {
            "suite": suite.name,
            "learner": name,
            "learner_config": config,
            "estimator": est.to_dict(),
            "keep_head": bool(keep_head),
            "fraction": fraction,
            "budget": budget,
            "design_seed": design_seed,
        }
        analyses = {
            level: _Analysis(r.labels, level, completion if sampled else None, design_seed)
            for level, r in levels.items()
        }
        interrupted = False
        try:
            run([s for r in levels.values() for s in r.specs()])
            results = _analyse(levels, store, est, analyses, base_config)
            plan = _make_plan(results, unimodal_groups, crossmodal_groups, base_config)
            _set_groups(analyses, plan)
            if auto:
                spent_runs = total_stats.trained
                next_seed = (
                    n_seeds  # baseline seeds beyond the transfer seeds already have scratch runs
                )
                while next_seed < max_seeds:
                    if max_runs is not None and spent_runs >= max_runs:
                        break
                    if max_time is not None and time.perf_counter() - t_start >= max_time:
                        break
                    added = []
                    for level, res in results.items():
                        linkage = None
                        if plan is not None:
                            linkage = (
                                plan.unimodal_linkage
                                if level == "modality"
                                else plan.crossmodal_linkage
                            )
                        cut = _cut_height(linkage, analyses[level].n_groups)
                        pairs = _uncertain_pairs(res, cut, auto_tolerance)
                        if pairs:
                            added += planner.add_seed(levels[level], pairs, next_seed)
                    if not added:
                        break
                    before = total_stats.trained
                    run(added)
                    spent_runs += total_stats.trained - before
                    next_seed += 1
                    results = _analyse(levels, store, est, analyses, base_config)
                    plan = _make_plan(results, unimodal_groups, crossmodal_groups, base_config)
                    _set_groups(analyses, plan)
            # reliability
            records = {r.key: r for r in store.records()}
            for level, res in results.items():
                tscores, bscores = _scores(res.runs, records, est)
                ts, bs = _seeds_of(res.runs)
                an = analyses[level]
                can_cluster = an.n_groups is not None and res.distance.observed.all()
                if retest:
                    res.retest = split_half_retest(
                        res.labels, tscores, bscores, seeds=ts, baseline_seeds=bs,
                        to_distance=an.distance, to_groups=an.groups if can_cluster else None,
                    )  # fmt: skip
                if can_cluster and stability_boot > 0:
                    res.stability = co_assignment(
                        res.labels, tscores, bscores, seeds=ts, baseline_seeds=bs,
                        to_distance=an.distance, to_groups=an.groups, n_boot=stability_boot,
                        seed=design_seed,
                    )  # fmt: skip
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            if own_handle:
                handle.close(cancel=interrupted)
            store.close()
            if tmp is not None and interrupted:
                tmp.cleanup()

        total_stats.wall_time = time.perf_counter() - t_start
        _check_something_measured(results, total_stats, store_path)
        summary = _summary(results, plan, total_stats, name, config, est, suite, sampled, auto)
        if plan is not None:
            plan.provenance = dict(plan.provenance or {})
            plan.provenance["stability"] = {
                level: res.stability for level, res in results.items() if res.stability is not None
            }
            plan.provenance["measure"] = {"reliability": summary["reliability"]}
        result = MeasureResult(
            modality=results["modality"],
            interaction=results.get("interaction"),
            plan=plan,
            learner=name,
            learner_config=config,
            estimator=est,
            stats=total_stats,
            summary=summary,
            out_dir=out_path,
        )
        if out_path is not None:
            _write_outputs(result, out_path, figures=figures)
        if tmp is not None:
            tmp.cleanup()
        return result


def _analyse(
    levels: dict[str, LevelRuns],
    store: RunStore,
    est: Estimator,
    analyses: dict[str, _Analysis],
    base_config: dict[str, Any],
) -> dict[str, LevelResult]:
    records = {r.key: r for r in store.records()}
    return {
        level: _level_result(runs, records, est, analyses[level], base_config)
        for level, runs in levels.items()
    }


def _set_groups(analyses: dict[str, _Analysis], plan: Any) -> None:
    if plan is None:
        return
    analyses["modality"].n_groups = plan.n_unimodal_groups
    if "interaction" in analyses:
        analyses["interaction"].n_groups = plan.n_crossmodal_groups or None


def _make_plan(
    results: dict[str, LevelResult],
    unimodal_groups: int | None,
    crossmodal_groups: int | None,
    base_config: dict[str, Any],
) -> Any:
    from hetero.grouping import make_plan

    mod = results["modality"].distance
    inter = results["interaction"].distance if "interaction" in results else None
    if not mod.observed.all() or (inter is not None and not inter.observed.all()):
        return None  # some entry could not be measured (failed runs): no plan
    kwargs: dict[str, Any] = {}
    if unimodal_groups is not None:
        kwargs["unimodal_groups"] = unimodal_groups
    if crossmodal_groups is not None and inter is not None:
        kwargs["crossmodal_groups"] = crossmodal_groups
    plan = make_plan(mod, inter, **kwargs)
    return plan


def _summary(
    results: dict[str, LevelResult],
    plan: Any,
    stats: RunStats,
    learner: str,
    config: dict[str, Any],
    est: Estimator,
    suite: Any,
    sampled: bool,
    auto: bool,
) -> dict[str, Any]:
    levels = {}
    for level, res in results.items():
        n = len(res.labels)
        measured_pairs = int(res.runs.mask.sum())
        ts, bs = _seeds_of(res.runs)
        levels[level] = {
            "units": n,
            "ordered_pairs": n * (n - 1),
            "measured_pairs": measured_pairs,
            "entries_completed": int(np.triu(res.completed, 1).sum()),
            "transfer_seeds": ts,
            "baseline_seeds": bs,
            "significant_entries": int(res.estimate.significant(Z_SIGNIFICANT).sum()),
            "converged_fraction": res.transfer.provenance.get("converged_fraction"),
            "retest": res.retest,
            "reliability": reliability_statement(res.retest),
            "stability": None
            if res.stability is None
            else {
                "mean_stability": res.stability["mean_stability"],
                "n_boot": res.stability["n_boot"],
            },
        }
    mod = results["modality"]
    return {
        "suite": suite.name,
        "learner": learner,
        "learner_config": config,
        "estimator": est.to_dict(),
        "sampled": sampled,
        "auto_seeds": auto,
        "runs": stats.to_dict(),
        "failures": [{"unit": u, "error": e} for u, e in stats.failures],
        "levels": levels,
        "reliability": reliability_statement(mod.retest),
        "plan": None
        if plan is None
        else {
            "unimodal_groups": plan.n_unimodal_groups,
            "crossmodal_groups": plan.n_crossmodal_groups,
        },
    }


def _write_outputs(result: MeasureResult, out: Path, *, figures: bool) -> None:
    levels = {"modality": result.modality}
    if result.interaction is not None:
        levels["interaction"] = result.interaction
    for level, res in levels.items():
        res.transfer.write(out / f"{level}_transfer.json")
        res.distance.write(out / f"{level}.json")
    check: dict[str, Any] = {}
    if result.modality.check is not None:
        check = dict(result.modality.check.to_dict())
    if result.interaction is not None and result.interaction.check is not None:
        check["interaction"] = result.interaction.check.to_dict()
    write_json(out / "check.json", check)
    if result.plan is not None:
        result.plan.write(out / "plan.json")
    write_json(out / "measure.json", {**result.summary, "provenance": provenance()})
    if figures:
        _write_figures(result, out / "figures")


def _write_figures(result: MeasureResult, fig_dir: Path) -> None:
    """Heatmaps, graphs, dendrograms, clustermaps and spectra of each level (PNG).

    All figures are rendered in memory, then the folder is replaced whole, so an interrupted
    run leaves the previous complete set (or none), never half of one.
    """
    import io

    import matplotlib.pyplot as plt

    from hetero import plotting
    from hetero._io import atomic_write_dir

    levels = {"modality": result.modality}
    if result.interaction is not None:
        levels["interaction"] = result.interaction
    files: dict[str, bytes] = {}
    for level, res in levels.items():
        for name, png in plotting.render_all(res.distance, result.plan).items():
            files[f"{level}_{name}"] = png
        fig = plotting.plot_heatmap(res.transfer)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        files[f"{level}_transfer_heatmap.png"] = buf.getvalue()
    atomic_write_dir(fig_dir, files)
