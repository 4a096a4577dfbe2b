"""``measure()``: from a suite to transfer matrices, distances, a metric check and a plan.

The orchestrator of the public stages: :class:`~hetero.measure.config.MeasureConfig`
(validated once) -> run plan (:class:`~hetero.measure.planner.RunPlanner`) -> executor ->
:class:`~hetero.measure.store.RunStore` -> :class:`~hetero.measure.analysis.LevelResult`
per level -> grouping plan -> outputs (:mod:`hetero.measure.outputs`).

Output directory layout (written atomically, after all training finished)::

    DIR/runs.sqlite                 run store (written during training; resumable)
    DIR/modality_transfer.json      directed T with std/count (+ se, significance in provenance)
    DIR/modality.json               symmetric distances (completed entries flagged)
    DIR/interaction_transfer.json   the same for interaction units (with interactions)
    DIR/interaction.json
    DIR/modality_long.csv           one row per ordered pair: T, se, df, interval, d, flags
    DIR/interaction_long.csv        (also for the interaction level)
    DIR/check.json                  metric checks with their null models (``interaction`` key)
    DIR/controls.json               with controls: per-unit twin / shuffled-copy ranks
    DIR/plan.json                   grouping plan with its stability over seed bootstraps
    DIR/measure.json                summary: learner, estimator, seeds, runs, reliability,
                                    controls, quality gate
    DIR/figures/                    heatmaps, dendrograms, spectra (PNG; replaced as a set)
    DIR/.hetero.lock                held while a measure runs: a second writer is refused
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import LOCK_FILE, check_output_dir, exclusive_folder
from hetero.errors import HeteroError, HeteroWarning, LearnerError
from hetero.measure import analysis as A
from hetero.measure.config import MeasureConfig
from hetero.measure.controls import (
    control_labels,
    control_mask,
    control_rows,
    controls_summary,
    with_controls,
)
from hetero.measure.estimators import estimate_transfer
from hetero.measure.executors import ExecutorHandle, RunEvent, RunStats, make_executor, run_specs
from hetero.measure.outputs import (
    MeasureResult,
    check_something_measured,
    convergence_report,
    convergence_warnings,
    retest_recorded,
    summarize,
    write_outputs,
)
from hetero.measure.planner import LevelRuns, RunPlanner, design_mask
from hetero.measure.stability import co_assignment, plan_stability, split_half_retest
from hetero.measure.store import RunStore

__all__ = ["LOCK_FILE", "LevelResult", "MeasureResult", "measure", "plan_runs"]

LevelResult = A.LevelResult  # re-exported: where users found it before the analysis module

STORE_FILE = "runs.sqlite"
SIDES = {"modality": "unimodal", "interaction": "crossmodal"}  # level -> plan side


def measure(
    suite: Any,
    out_dir: str | os.PathLike | None = None,
    config: MeasureConfig | None = None,
    *,
    on_event: Callable[[RunEvent], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    progress: bool | None = None,
    figure_formats: str | Sequence[str] = "png",
    dpi: int | None = None,
    **options: Any,
) -> MeasureResult:
    """Measure modality (and interaction) heterogeneity of ``suite`` by transfer.

    Parameters
    ----------
    suite : Suite or path
        The suite (a YAML path is loaded and validated before anything trains).
    out_dir : path-like, optional
        Output directory (created); holds the run store, so re-running resumes. Without it
        the run store lives in a temporary directory and nothing else is written.
    config : MeasureConfig, optional
        All settings; ``**options`` (any :class:`MeasureConfig` field, e.g. ``learner=``,
        ``seeds=``, ``estimator=``, ``executor=``) replace single fields of it.
    on_event, on_start : callable, optional
        Progress hooks: ``on_start(total_runs)`` before each training batch, ``on_event``
        after each run (a :class:`~hetero.measure.executors.RunEvent`).
    progress : bool, optional
        Show a progress line on stderr (:class:`~hetero.measure.progress.ProgressLine`).
        Default: in a Jupyter notebook yes, elsewhere (scripts, library use) no.
    figure_formats : str or sequence of str
        Formats of ``figures/`` (``png``, ``svg``, ``pdf``; several allowed).
    dpi : int, optional
        Resolution of PNG figures (default :data:`hetero.plotting.DEFAULT_DPI`).

    Returns
    -------
    MeasureResult
        Per level the transfer matrix, distances, checks and reliability; the plan; the
        run statistics and the summary written to ``measure.json``.

    Notes
    -----
    Re-running in a folder whose ``measure.json`` holds a test-retest result computes it
    again (from the stored runs, no training) even without ``retest=True``, and a report
    left in the folder is marked stale (:func:`hetero.report.stale.mark_stale`).
    """
    from hetero.measure.progress import ProgressLine, combine, want_progress
    from hetero.plotting._common import check_dpi, check_formats
    from hetero.suite import Suite, load_suite

    t_start = time.perf_counter()
    cfg = MeasureConfig.from_options(config, **options)
    figure_formats = check_formats(figure_formats)  # bad figure options fail before training
    dpi = None if dpi is None else check_dpi(dpi)
    if out_dir is not None and not cfg.retest and retest_recorded(Path(out_dir)):
        cfg = MeasureConfig.from_options(cfg, retest=True)  # keep what the folder reported
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    bar = ProgressLine() if want_progress(progress) else None
    if bar is not None:
        on_event, on_start = combine(on_event, bar.event), combine(on_start, bar.start)
    job = _Measurement(suite, cfg, on_event=on_event, on_start=on_start)  # validates all
    try:
        with _output_folder(out_dir) as (out_path, store_path):
            with RunStore(store_path) as store, _executor(cfg) as handle:
                results, plan = job.run(store, handle, t_start)
            result = job.result(results, plan, out_path, time.perf_counter() - t_start)
            if out_path is not None:
                write_outputs(
                    result, out_path, figures=cfg.figures, figure_formats=figure_formats, dpi=dpi
                )
    finally:
        if bar is not None:
            bar.close()
    return result


def plan_runs(suite: Any, config: MeasureConfig | None = None, **options: Any) -> dict[str, Any]:
    """The runs :func:`measure` would train, per level (``LevelRuns`` with content keys),
    without training anything; e.g. to read a measurement's runs back from a store."""
    cfg = MeasureConfig.from_options(config, **options)
    return _Measurement(suite, cfg, on_event=None, on_start=None).levels


class _Measurement:
    """One measurement's planned runs and the steps over them (validated at construction)."""

    def __init__(self, suite: Any, cfg: MeasureConfig, *, on_event: Any, on_start: Any):
        self.suite, self.cfg = suite, cfg
        self.on_event, self.on_start = on_event, on_start
        self.name, self.config, self.learner = cfg.build_learner()
        self.est = cfg.build_estimator(self.learner)
        self.control_tasks: list[str] = []
        self.all_tasks = suite  # the suite plus its control tasks (runs find their data here)
        if cfg.controls:
            named = None if isinstance(cfg.controls, bool) else list(cfg.controls)
            self.all_tasks, self.control_tasks = with_controls(suite, named, cfg.design_seed)
        self.levels = self._plan_levels()
        self._check_group_counts()
        self.control_levels = {
            level: self._plan_controls(level, runs.labels) for level, runs in self.levels.items()
        } if self.control_tasks else {}  # fmt: skip
        self.analyses = {
            level: A.LevelAnalysis(
                r.labels, level, cfg.completion if cfg.sampled else None, cfg.design_seed
            )
            for level, r in self.levels.items()
        }
        self.base_config = {
            "suite": suite.name,
            "learner": self.name,
            "learner_config": self.config,
            "estimator": self.est.to_dict(),
            "keep_head": bool(cfg.keep_head),
            "fraction": cfg.fraction,
            "budget": cfg.budget,
            "design_seed": cfg.design_seed,
        }
        self.stats = RunStats()
        self.gate: dict[str, Any] = {}
        self.convergence: dict[str, Any] = {}  # per level: scratch and transfer runs apart
        self._tasks: dict[str, Any] = {}

    def _plan_levels(self) -> dict[str, LevelRuns]:
        suite, cfg = self.suite, self.cfg
        units = [u.label for u in suite.units()]
        if len(units) < 2:
            raise HeteroError(
                f"suite '{suite.name}' has {len(units)} unit; transfer needs at least 2",
                source=suite.source,
            )
        inter_units = [u.label for u in suite.interaction_units()]
        interactions = cfg.interactions
        if interactions is None:
            interactions = bool(self.learner.supports_interactions and len(inter_units) >= 2)
        elif interactions and not self.learner.supports_interactions:
            raise LearnerError(
                f"learner {self.name!r} does not support interaction units; "
                "use --no-interactions or a learner that does"
            )
        elif interactions and len(inter_units) < 2:
            raise HeteroError(
                f"suite '{suite.name}' has {len(inter_units)} interaction unit(s); interaction "
                "measurement needs at least 2 (tasks with two or more modalities)",
                source=suite.source,
            )
        self.planner = RunPlanner(
            self.all_tasks,
            self.name,
            type(self.learner).key_config(self.config),
            self.est,
            keep_head=cfg.keep_head,
        )
        levels: dict[str, LevelRuns] = {}
        for level, labels in (("modality", units), ("interaction", inter_units)):
            if not labels or (level == "interaction" and not interactions):
                continue
            mask = design_mask(
                len(labels), fraction=cfg.fraction, budget=cfg.budget, seed=cfg.design_seed
            )
            levels[level] = self.planner.plan_level(
                level,
                labels,
                seeds=list(range(cfg.n_seeds)),
                baseline_seeds=list(range(cfg.n_baseline_seeds)),
                mask=mask,
            )
        return levels

    def _check_group_counts(self) -> None:
        """A plan size that cannot be cut fails before anything trains (not after)."""
        for level, option, n_groups in (
            ("modality", "unimodal_groups", self.cfg.unimodal_groups),
            ("interaction", "crossmodal_groups", self.cfg.crossmodal_groups),
        ):
            if n_groups is None:
                continue
            runs = self.levels.get(level)
            if runs is None:
                warnings.warn(
                    f"{option}={n_groups} is ignored: this measurement has no interaction "
                    "level (interactions off, or a learner or suite without them)",
                    HeteroWarning,
                    stacklevel=4,
                )
            elif not 1 <= n_groups <= runs.n:
                raise HeteroError(
                    f"{option}: expected between 1 and the number of {level} units "
                    f"({runs.n}), got {n_groups}",
                    source=self.suite.source,
                )

    def _plan_controls(self, level: str, labels: list[str]) -> LevelRuns:
        """Each unit of a controlled task with its twin and shuffled copy (both directions)."""
        all_labels = control_labels(labels, self.control_tasks)
        return self.planner.plan_level(
            level,
            all_labels,
            seeds=list(range(self.cfg.n_seeds)),
            baseline_seeds=list(range(self.cfg.n_baseline_seeds)),
            mask=control_mask(all_labels),
        )

    # ------------------------------------------------------------------ running
    def _task_for(self, label: str) -> Any:
        if label not in self._tasks:
            self._tasks[label] = _unit_task(self.all_tasks, label)
        return self._tasks[label]

    def _train(self, specs: list[Any], store: RunStore, handle: ExecutorHandle) -> None:
        if self.on_start is not None:
            self.on_start(len({s.key for s in specs}))
        st = run_specs(
            specs, store, handle, learner_name=self.name, learner_config=self.config,
            task_for=self._task_for, retries=self.cfg.retries, on_event=self.on_event,
            learner_factory=type(self.learner),
            peers=[s for r in self._all_levels() for s in r.scratch.values()],
            ungated={f"{t}.null" for t in self.control_tasks},  # learn nothing by design
        )  # fmt: skip
        self.stats.add(st)

    def _all_levels(self) -> list[LevelRuns]:
        return [*self.levels.values(), *self.control_levels.values()]

    def _analyse(self, store: RunStore) -> tuple[dict[str, A.LevelResult], Any]:
        records = {r.key: r for r in store.records()}
        results = A.analyse_levels(self.levels, records, self.est, self.analyses, self.base_config)
        plan = A.plan_from_levels(results, self.cfg.unimodal_groups, self.cfg.crossmodal_groups)
        A.set_groups(self.analyses, plan)
        return results, plan

    def run(
        self, store: RunStore, handle: ExecutorHandle, t_start: float
    ) -> tuple[dict[str, A.LevelResult], Any]:
        """Train every planned run, analyse, add seeds (``seeds="auto"``), add reliability
        and the controls' verdict."""
        levels = [*self.levels.values(), *self.control_levels.values()]
        self._train([s for r in levels for s in r.specs()], store, handle)
        results, plan = self._analyse(store)
        if self.cfg.auto_seeds:
            results, plan = self._add_seeds(store, handle, results, plan, t_start)
        self._add_reliability(store, results, plan)
        self._add_controls(store, results)
        self.gate = self._gate_report(store)
        self.convergence = convergence_report(self.levels, store)
        return results, plan

    def _gate_report(self, store: RunStore) -> dict[str, Any]:
        """Scratch bodies that failed the quality gate after their retries: at the prior's
        loss (``reason`` "prior") or far worse than their unit's other seeds ("outlier").
        From the stored runs, so a resumed measurement reports them too."""
        from hetero.measure.quality import GATE_RATIO, OUTLIER_FACTOR, OUTLIER_SHARE

        failed = []
        for runs in self.levels.values():
            for (label, seed), spec in runs.scratch.items():
                rec = store.get(spec.key)
                g = (rec.info or {}).get("gate") if rec is not None and rec.ok else None
                if g and g.get("passed") is False:
                    failed.append({
                        "unit": label, "seed": seed, "ratio": g.get("ratio"),
                        "reason": "outlier" if g.get("outlier") else "prior",
                        "reseeds": g.get("reseed", 0),
                    })  # fmt: skip
        n = sum(len(r.scratch) for r in self.levels.values())
        return {
            "ratio": GATE_RATIO,
            "outlier_factor": OUTLIER_FACTOR,
            "outlier_share": OUTLIER_SHARE,
            "scratch_runs": n,
            "failed": failed,
        }

    def _add_controls(self, store: RunStore, results: dict[str, A.LevelResult]) -> None:
        """Rank each unit's twin and shuffled copy among the real units by distance."""
        if not self.control_levels:
            return
        records = {r.key: r for r in store.records()}
        for level, runs in self.control_levels.items():
            res = results[level]
            tscores, bscores = A.run_scores(runs, records, self.est)
            e = estimate_transfer(runs.labels, tscores, bscores)
            pairs = {}
            for i, j in zip(*np.nonzero(runs.mask), strict=True):
                if i < len(res.labels):  # a real unit with one of its controls
                    pairs[(runs.labels[i], runs.labels[j])] = (e.values[i, j], e.values[j, i])
            rows = control_rows(res.labels, res.distance.values, pairs)
            res.controls = {"rows": rows, "summary": controls_summary(rows)}

    def _add_seeds(self, store, handle, results, plan, t_start):
        """Add a seed at a time to undecided entries until the budget or nothing is left."""
        cfg = self.cfg
        spent = self.stats.trained
        next_seed = cfg.n_seeds  # baseline seeds beyond the transfer seeds have scratch runs
        while next_seed < cfg.max_seeds:
            if cfg.max_runs is not None and spent >= cfg.max_runs:
                break
            if cfg.max_time is not None and time.perf_counter() - t_start >= cfg.max_time:
                break
            added = []
            for level, res in results.items():
                linkage = None
                if plan is not None:
                    linkage = (
                        plan.unimodal_linkage if level == "modality" else plan.crossmodal_linkage
                    )
                cut = A.cut_height(linkage, self.analyses[level].n_groups)
                pairs = A.uncertain_pairs(res, cut, cfg.auto_tolerance)
                if pairs:
                    added += self.planner.add_seed(self.levels[level], pairs, next_seed)
            if not added:
                break
            before = self.stats.trained
            self._train(added, store, handle)
            spent += self.stats.trained - before
            next_seed += 1
            results, plan = self._analyse(store)
        return results, plan

    def _add_reliability(
        self, store: RunStore, results: dict[str, A.LevelResult], plan: Any = None
    ) -> None:
        """Split-half re-test (``retest``) and plan stability over seed bootstraps (the
        bootstrap plans compared with ``plan``)."""
        cfg = self.cfg
        records = {r.key: r for r in store.records()}
        for level, res in results.items():
            tscores, bscores = A.run_scores(res.runs, records, self.est)
            ts, bs = A.seeds_of(res.runs)
            an = self.analyses[level]
            can_cluster = an.n_groups is not None and res.distance.observed.all()
            if cfg.retest:
                res.retest = split_half_retest(
                    res.labels, tscores, bscores, seeds=ts, baseline_seeds=bs,
                    to_distance=an.distance, to_groups=an.groups if can_cluster else None,
                )  # fmt: skip
            if can_cluster and cfg.stability_boot > 0:
                res.stability = co_assignment(
                    res.labels, tscores, bscores, seeds=ts, baseline_seeds=bs,
                    to_distance=an.distance, to_groups=an.groups, n_boot=cfg.stability_boot,
                    seed=cfg.design_seed,
                    reference=None if plan is None else [plan.group_of(x) for x in res.labels],
                )  # fmt: skip

    def result(self, results, plan, out_path: Path | None, wall_time: float) -> MeasureResult:
        """The :class:`MeasureResult` (refused when nothing at all could be measured)."""
        self.stats.wall_time = wall_time
        check_something_measured(results, self.stats, Path(STORE_FILE))
        summary = summarize(
            results, plan, self.stats, self.name, self.config, self.est, self.suite,
            self.cfg.sampled, self.cfg.auto_seeds,
        )  # fmt: skip
        summary["quality_gate"] = self.gate
        for level, conv in self.convergence.items():
            summary["levels"][level]["convergence"] = conv
        for message in convergence_warnings(summary):
            warnings.warn(message, HeteroWarning, stacklevel=3)
        if plan is not None:
            plan.provenance = dict(plan.provenance or {})
            stab = {lev: r.stability for lev, r in results.items() if r.stability is not None}
            # the plan file's stability section holds the co-assignment matrices; the
            # provenance keeps the summary numbers (what the report reads)
            plan.stability = {
                SIDES[lev]: plan_stability(st, seed=self.cfg.design_seed)
                for lev, st in stab.items()
            }
            plan.provenance["stability"] = {
                lev: {k: v for k, v in st.items() if k != "frequency"} for lev, st in stab.items()
            }
            plan.provenance["measure"] = {"reliability": summary["reliability"]}
        return MeasureResult(
            modality=results["modality"],
            interaction=results.get("interaction"),
            plan=plan,
            learner=self.name,
            learner_config=self.config,
            estimator=self.est,
            stats=self.stats,
            summary=summary,
            out_dir=out_path,
        )


@contextlib.contextmanager
def _output_folder(out_dir: str | os.PathLike | None) -> Iterator[tuple[Path | None, Path]]:
    """``(output folder or None, run store path)``, checked and locked; a temporary folder
    holds the store when there is no output folder (removed afterwards)."""
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="hetero-measure-") as tmp:
            yield None, Path(tmp) / STORE_FILE
        return
    out_path = check_output_dir(Path(out_dir))
    with exclusive_folder(out_path, "hetero measure"):  # a second writer of this folder is refused
        yield out_path, out_path / STORE_FILE


@contextlib.contextmanager
def _executor(cfg: MeasureConfig) -> Iterator[ExecutorHandle]:
    """The configured executor, closed afterwards (pending work cancelled on Ctrl-C)."""
    if isinstance(cfg.executor, ExecutorHandle):  # the caller's: the caller closes it
        yield cfg.executor
        return
    handle = make_executor(cfg.executor, workers=cfg.workers, scheduler=cfg.scheduler)
    cancel = False
    try:
        yield handle
    except KeyboardInterrupt:
        cancel = True
        raise
    finally:
        handle.close(cancel=cancel)


def _unit_task(suite: Any, label: str) -> Any:
    """The unit's task holding only the unit's modalities (what a worker needs)."""
    from hetero.suite import Task, TaskData

    unit = suite.unit(label)
    task = suite.task(unit.task)
    data = task.data
    if set(unit.modalities) == set(data.arrays) or task.target == "retrieval":
        return task  # a retrieval unit's loss reads both modalities
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
