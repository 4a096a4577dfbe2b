"""The analysis stage of a measurement: stored runs -> ``LevelResult`` -> ``GroupingPlan``.

Public so that experiments, the report and users build on the same steps as
:func:`hetero.measure.measure`: scores from run records (:func:`run_scores`), the transfer
estimate with its standard errors, T -> d with completion of unmeasured entries, metric
checks (:func:`analyse_level`), clustering into a plan (:func:`plan_from_levels`), and the
decision of which entries need more seeds (:func:`uncertain_pairs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetero._provenance import provenance
from hetero.measure.estimators import (
    CONFIDENCE,
    Estimator,
    TransferEstimate,
    estimate_transfer,
    t_half_width,
)
from hetero.measure.planner import LevelRuns
from hetero.nulls import null_models

__all__ = [
    "LEVEL",
    "LevelAnalysis",
    "LevelResult",
    "analyse_level",
    "analyse_levels",
    "cut_height",
    "plan_from_levels",
    "run_scores",
    "seeds_of",
    "set_groups",
    "uncertain_pairs",
]

#: Level of the t intervals behind the significance flags and ``auto`` seed decisions.
LEVEL = CONFIDENCE


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
    null : NullReport or None
        Triangle and low-rank statistics next to their permutation and main-effects nulls
        (complete matrices only).
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
    null: Any = None
    controls: dict[str, Any] | None = None

    @property
    def labels(self) -> list[str]:
        """Unit labels of the level, in matrix order."""
        return list(self.runs.labels)

    def __repr__(self) -> str:
        from hetero.report.display import level_repr

        return level_repr(self)

    def _repr_html_(self) -> str:
        """Notebook display (:func:`hetero.report.display.level_html`)."""
        from hetero.report.display import level_html

        return level_html(self)


def run_scores(
    runs: LevelRuns,
    records: dict[str, Any],
    est: Estimator,
    score: Callable[[Any], float] | None = None,
) -> tuple[dict[tuple[str, str, int], float], dict[tuple[str, int], float]]:
    """Per-run scores of a level's finished runs: ``{(source, target, seed): score}`` for
    transfers and ``{(target, seed): score}`` for scratch baselines (failed runs left out).

    ``score(record)`` replaces the estimator's own score (e.g. to re-score runs as if they
    had been capped at fewer epochs).
    """
    if score is None:

        def score(rec: Any) -> float:
            return est.run_score(rec.val_loss, rec.curve)

    tscores: dict[tuple[str, str, int], float] = {}
    bscores: dict[tuple[str, int], float] = {}
    for (src, tgt, seed), spec in runs.transfer.items():
        rec = records.get(spec.key)
        if rec is not None and rec.ok:
            tscores[(src, tgt, seed)] = score(rec)
    for (tgt, seed), spec in runs.baseline.items():
        rec = records.get(spec.key)
        if rec is not None and rec.ok:
            bscores[(tgt, seed)] = score(rec)
    return tscores, bscores


def seeds_of(runs: LevelRuns) -> tuple[list[int], list[int]]:
    """Transfer seeds and baseline seeds planned for a level."""
    return (
        sorted({s for (_, _, s) in runs.transfer}),
        sorted({s for (_, s) in runs.baseline}),
    )


class LevelAnalysis:
    """T -> d -> completion -> clustering with fixed settings (reused for re-tests).

    Parameters
    ----------
    labels : list of str
        Unit labels in matrix order.
    kind : {"modality", "interaction"}
    completion : str or None
        Completer filling unmeasured distances (None: leave them missing).
    seed : int
        Seed of the completion.
    """

    def __init__(self, labels: list[str], kind: str, completion: str | None, seed: int):
        self.labels = labels
        self.kind = kind
        self.completion = completion
        self.seed = seed
        self.n_groups: int | None = None
        #: :func:`hetero.grouping.assign_groups` options of the plan (search, method, ...)
        self.plan_options: dict[str, Any] = {}

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
        from hetero.grouping import assign_groups

        labels, _, _ = assign_groups(self.matrix(d_values), self.n_groups, **self.plan_options)
        return np.asarray(labels)


def analyse_level(
    runs: LevelRuns,
    records: dict[str, Any],
    est: Estimator,
    analysis: LevelAnalysis,
    base_config: dict[str, Any],
) -> LevelResult:
    """Transfer estimate, T and d (completed), and the metric check of one level.

    ``records`` maps run keys to stored runs; ``base_config`` goes into the provenance.
    """
    from hetero.distance import transfer_to_distance
    from hetero.metric import check_metric

    tscores, bscores = run_scores(runs, records, est)
    e = estimate_transfer(runs.labels, tscores, bscores)
    sig = e.significant(LEVEL)
    half = e.half_width(LEVEL)
    total, total_se = e.symmetric_sum()
    total_half = t_half_width(total_se, e.symmetric_df(), LEVEL)
    converged = [
        bool(records[s.key].converged)
        for s in runs.specs()
        if s.key in records and records[s.key].ok
    ]
    prov = provenance(
        **base_config,
        level=runs.level,
        seeds=seeds_of(runs)[0],
        baseline_seeds=seeds_of(runs)[1],
    )
    prov.update(
        {
            "se": e.se,
            "df": e.df,
            "confidence": LEVEL,
            # half-width of the t interval T +- t(df) se (inf with fewer than 2 seeds)
            "half_width": np.where(np.isfinite(half), half, np.nan),
            "significant": sig,
            "unclipped_sum": total,
            "unclipped_sum_se": total_se,
            "baseline_loss": dict(zip(runs.labels, np.asarray(e.baseline).tolist(), strict=True)),
            "baseline_count": dict(
                zip(runs.labels, np.asarray(e.baseline_count).tolist(), strict=True)
            ),
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
    d.provenance["significant_sum"] = np.abs(total) > total_half
    check = check_metric(d) if d.observed.any() else None
    null = null_models(d, seed=analysis.seed) if d.observed.all() else None
    return LevelResult(runs.level, transfer, d, e, completed, check, runs, null=null)


def uncertain_pairs(
    res: LevelResult, cut: float | None, tolerance: float = 0.0
) -> list[tuple[int, int]]:
    """Measured entries whose interval straddles zero or the cluster cut.

    Intervals are the ``LEVEL`` t intervals of the entries (and of ``T_ij + T_ji`` for the
    cut). An interval narrower than ``tolerance`` (its half-width) counts as decided: the
    entry is practically equal to the decision value and more seeds would not change it.
    """
    e = res.estimate
    mask = res.runs.mask
    out = []
    d = res.distance.values
    half = e.half_width(LEVEL)
    d_half = t_half_width(np.sqrt(e.se**2 + e.se.T**2), e.symmetric_df(), LEVEL)
    for i, j in zip(*np.nonzero(mask), strict=True):
        if not np.isfinite(half[i, j]):
            out.append((int(i), int(j)))
            continue
        if half[i, j] < tolerance:
            continue
        if abs(e.values[i, j]) <= half[i, j]:
            out.append((int(i), int(j)))
        elif cut is not None and np.isfinite(d[i, j]) and abs(d[i, j] - cut) <= d_half[i, j]:
            out.append((int(i), int(j)))
    return out


def cut_height(linkage: Any, n_groups: int | None) -> float | None:
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


def analyse_levels(
    levels: dict[str, LevelRuns],
    records: dict[str, Any],
    est: Estimator,
    analyses: dict[str, LevelAnalysis],
    base_config: dict[str, Any],
) -> dict[str, LevelResult]:
    """:func:`analyse_level` for each level, from the run records keyed by run key."""
    return {
        level: analyse_level(runs, records, est, analyses[level], base_config)
        for level, runs in levels.items()
    }


def set_groups(analyses: dict[str, LevelAnalysis], plan: Any) -> None:
    """Fix each level's number of groups to the plan's (used by re-tests and bootstraps)."""
    if plan is None:
        return
    analyses["modality"].n_groups = plan.n_unimodal_groups
    if "interaction" in analyses:
        analyses["interaction"].n_groups = plan.n_crossmodal_groups or None


def plan_from_levels(
    results: dict[str, LevelResult],
    unimodal_groups: int | None = None,
    crossmodal_groups: int | None = None,
    **options: Any,
) -> Any:
    """The grouping plan of the levels' distances; None when an entry is missing.

    ``options`` go to :func:`hetero.grouping.make_plan` (``search``, ``method``,
    ``min_group_size``, ``remove_main_effects``, ``seed``).
    """
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
    return make_plan(mod, inter, **kwargs, **options)
