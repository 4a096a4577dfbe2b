"""The end of a measurement: :class:`MeasureResult`, its summary and the files written.

Everything is computed before anything is written; every file is written atomically and
the figure folder is replaced as a whole (see :func:`hetero._io.atomic_write_dir`).

Next to each level's JSON matrices, ``<level>_long.csv`` holds one row per ordered pair
(:data:`LONG_COLUMNS`, :func:`long_rows`) for pandas, R or a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import atomic_write_text, write_json
from hetero._provenance import provenance
from hetero.errors import HeteroError
from hetero.measure.analysis import LEVEL, LevelResult, seeds_of
from hetero.measure.estimators import Estimator
from hetero.measure.executors import RunStats
from hetero.measure.stability import reliability_statement

__all__ = [
    "LONG_COLUMNS",
    "MeasureResult",
    "check_something_measured",
    "long_csv",
    "long_rows",
    "summarize",
    "write_figures",
    "write_outputs",
]


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


def check_something_measured(
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


def summarize(
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
        ts, bs = seeds_of(res.runs)
        levels[level] = {
            "units": n,
            "ordered_pairs": n * (n - 1),
            "measured_pairs": measured_pairs,
            "entries_completed": int(np.triu(res.completed, 1).sum()),
            "transfer_seeds": ts,
            "baseline_seeds": bs,
            "significant_entries": int(res.estimate.significant(LEVEL).sum()),
            "main_effect_share": None if res.null is None else res.null.main_effect_share,
            "confidence": LEVEL,
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
        "controls": {
            level: res.controls["summary"] for level, res in results.items() if res.controls
        }
        or None,
        "reliability": reliability_statement(mod.retest),
        "plan": None
        if plan is None
        else {
            "unimodal_groups": plan.n_unimodal_groups,
            "crossmodal_groups": plan.n_crossmodal_groups,
        },
    }


def write_outputs(result: MeasureResult, out: Path, *, figures: bool) -> None:
    levels = {"modality": result.modality}
    if result.interaction is not None:
        levels["interaction"] = result.interaction
    for level, res in levels.items():
        res.transfer.write(out / f"{level}_transfer.json")
        res.distance.write(out / f"{level}.json")
        atomic_write_text(out / f"{level}_long.csv", long_csv(res))
    check: dict[str, Any] = _level_check(result.modality)
    if result.interaction is not None:
        inter = _level_check(result.interaction)
        if inter:
            check["interaction"] = inter
    write_json(out / "check.json", check)
    controls = {level: res.controls for level, res in levels.items() if res.controls}
    if controls:
        write_json(out / "controls.json", controls)
    else:
        (out / "controls.json").unlink(missing_ok=True)  # not from an earlier measure
    if result.plan is not None:
        result.plan.write(out / "plan.json")
    write_json(out / "measure.json", {**result.summary, "provenance": provenance()})
    if figures:
        write_figures(result, out / "figures")


#: Columns of ``<level>_long.csv``: one row per ordered pair (source -> target).
LONG_COLUMNS: tuple[str, ...] = (
    "source", "target", "T", "se", "df", "ci_low", "ci_high", "significant", "d", "completed",
    "measured",
)  # fmt: skip


def long_rows(res: LevelResult) -> list[dict[str, Any]]:
    """One dict per ordered pair ``source != target`` of a level, in matrix order.

    ``T``, ``se``, ``df`` and the 95 % t interval ``ci_low``/``ci_high`` (``T -+
    half_width``) and ``significant`` come from the transfer matrix's provenance;
    ``d`` is the symmetric distance (filled in for a completed entry, ``completed`` True);
    ``measured`` tells whether the ordered pair was planned for training. Missing numbers
    are NaN (an unmeasured pair; an interval with fewer than two seeds).
    """
    labels = list(res.transfer.labels)
    n = len(labels)
    prov = res.transfer.provenance or {}
    est = res.estimate

    def arr(value: Any, fallback: Any, dtype: Any = float) -> np.ndarray:
        value = fallback if value is None else value
        if value is None:
            return np.full((n, n), np.nan if dtype is float else False, dtype=dtype)
        return np.asarray(value, dtype=dtype).reshape(n, n)

    t = np.asarray(res.transfer.values, dtype=float)
    se = arr(prov.get("se"), est.se)
    df = arr(prov.get("df"), est.df)
    half = arr(prov.get("half_width"), None)
    significant = arr(prov.get("significant"), None, bool)
    measured = arr(prov.get("measured"), res.runs.mask, bool)
    d = np.asarray(res.distance.values, dtype=float)
    completed = arr((res.distance.provenance or {}).get("completed"), res.completed, bool)
    rows = []
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            rows.append(
                {
                    "source": labels[i],
                    "target": labels[j],
                    "T": float(t[i, j]),
                    "se": float(se[i, j]),
                    "df": float(df[i, j]),
                    "ci_low": float(t[i, j] - half[i, j]),
                    "ci_high": float(t[i, j] + half[i, j]),
                    "significant": bool(significant[i, j]),
                    "d": float(d[i, j]),
                    "completed": bool(completed[i, j]),
                    "measured": bool(measured[i, j]),
                }
            )
    return rows


def long_csv(res: LevelResult) -> str:
    """:func:`long_rows` as CSV text (NaN as an empty cell, booleans as True/False,
    ``df`` as an integer): what ``pandas.read_csv`` reads back."""

    def cell(key: str, value: Any) -> Any:
        if isinstance(value, float):
            if not np.isfinite(value):
                return ""
            if key == "df" and value.is_integer():
                return int(value)
        return value

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    for row in long_rows(res):
        writer.writerow([cell(k, row[k]) for k in LONG_COLUMNS])
    return buf.getvalue()


def _level_check(res: LevelResult) -> dict[str, Any]:
    """The check.json entry of a level: the metric report, with its null models."""
    out: dict[str, Any] = {} if res.check is None else dict(res.check.to_dict())
    if res.null is not None:
        out["null"] = res.null.to_dict()
    return out


def write_figures(result: MeasureResult, fig_dir: Path) -> None:
    """Heatmaps (distances and signed T), graphs, dendrograms, clustermaps and spectra of
    each level (PNG), from the one renderer (:func:`hetero.plotting.render_measurement`).

    All figures are rendered in memory, then the folder is replaced whole, so an interrupted
    run leaves the previous complete set (or none), never half of one.
    """
    from hetero import plotting
    from hetero._io import atomic_write_dir

    levels = {"modality": result.modality}
    if result.interaction is not None:
        levels["interaction"] = result.interaction
    pngs = plotting.render_measurement(
        {level: (res.transfer, res.distance) for level, res in levels.items()}, result.plan
    )
    atomic_write_dir(fig_dir, pngs)
