"""The end of a measurement: :class:`MeasureResult`, its summary and the files written.

Everything is computed before anything is written; every file is written atomically and
the figure folder is replaced as a whole (see :func:`hetero._io.atomic_write_dir`).

Next to each level's JSON matrices, ``<level>_long.csv`` holds one row per ordered pair
(:data:`LONG_COLUMNS`, :func:`long_rows`) for pandas, R or a spreadsheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import atomic_write_text, write_json
from hetero._provenance import provenance
from hetero.errors import HeteroError
from hetero.export import LONG_COLUMNS, csv_text
from hetero.export import long_rows as _long_rows
from hetero.measure.analysis import LEVEL, LevelResult, seeds_of
from hetero.measure.estimators import VALIDITY_STATEMENT, Estimator
from hetero.measure.executors import RunStats
from hetero.measure.stability import reliability_statement

__all__ = [
    "LONG_COLUMNS",
    "MeasureResult",
    "check_something_measured",
    "convergence_report",
    "convergence_warnings",
    "long_csv",
    "long_rows",
    "retest_recorded",
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

    def __repr__(self) -> str:
        from hetero.report.display import measure_repr

        return measure_repr(self)

    def _repr_html_(self) -> str:
        """Notebook display: verdict, per-level facts, runs, plan, distances."""
        from hetero.report.display import measure_html

        return measure_html(self)


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
        "validity": VALIDITY_STATEMENT,
        "plan": None
        if plan is None
        else {
            "unimodal_groups": plan.n_unimodal_groups,
            "crossmodal_groups": plan.n_crossmodal_groups,
        },
    }


def write_outputs(
    result: MeasureResult,
    out: Path,
    *,
    figures: bool,
    figure_formats: Any = "png",
    dpi: int | None = None,
) -> None:
    """Write every output file of a measurement into ``out`` (figures in ``figure_formats``
    at ``dpi``); a report already in ``out`` is marked stale (:mod:`hetero.report.stale`)."""
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
        write_figures(result, out / "figures", formats=figure_formats, dpi=dpi)
    from hetero.report.stale import mark_stale

    mark_stale(out, "hetero measure wrote new matrices, plan and measure.json")


def convergence_report(levels: Any, store: Any) -> dict[str, dict[str, Any]]:
    """Per level, how many finished runs stopped by patience before the epoch cap, counted
    apart for the scratch runs (trained to convergence: the baselines and sources) and the
    transfers (which the short estimators cap at a few epochs by design, so that they
    rarely converge says nothing about the measurement).

    Parameters
    ----------
    levels : mapping of str -> LevelRuns
    store : RunStore

    Returns
    -------
    dict
        ``{level: {"scratch": {"runs", "converged", "fraction"}, "transfer": {...}}}``;
        ``fraction`` is None when no finished run reports convergence.
    """
    out: dict[str, dict[str, Any]] = {}
    for level, runs in levels.items():
        entry: dict[str, Any] = {}
        for kind, specs in (
            ("scratch", runs.scratch.values()),
            ("transfer", runs.transfer.values()),
        ):
            flags = []
            for key in dict.fromkeys(s.key for s in specs):
                rec = store.get(key)
                if rec is not None and rec.ok and rec.converged is not None:
                    flags.append(bool(rec.converged))
            entry[kind] = {
                "runs": len(flags),
                "converged": int(sum(flags)),
                "fraction": float(np.mean(flags)) if flags else None,
            }
        out[level] = entry
    return out


def convergence_warnings(summary: dict[str, Any]) -> list[str]:
    """One message per level where most scratch runs stopped at the epoch cap instead of
    by patience: their losses (the baselines of T, the bodies transferred) are those of
    undertrained models."""
    out = []
    for level, info in (summary.get("levels") or {}).items():
        scratch = ((info or {}).get("convergence") or {}).get("scratch") or {}
        n, conv = scratch.get("runs") or 0, scratch.get("converged") or 0
        if n and conv < n / 2:
            what = "every one" if conv == 0 else f"{n - conv} of {n}"
            out.append(
                f"{level}: {what} of the {n} scratch runs stopped at the epoch cap before their "
                "validation loss stopped improving, so the baselines and the transferred "
                "bodies are undertrained; raise the cap (--max-epochs) and measure again"
                if conv == 0
                else f"{level}: {what} scratch runs stopped at the epoch cap before their "
                "validation loss stopped improving (undertrained baselines and bodies); "
                "consider a higher cap (--max-epochs)"
            )
    return out


def retest_recorded(out: Path) -> bool:
    """Whether ``out/measure.json`` (an earlier measurement there) holds a test-retest
    result for some level: a re-run in the same folder computes it again, from the stored
    runs, instead of dropping it (unreadable or absent: False)."""
    from hetero._io import read_json

    path = Path(out) / "measure.json"
    if not path.exists():
        return False
    try:
        levels = read_json(path).get("levels") or {}
        return any(isinstance(v, dict) and v.get("retest") for v in levels.values())
    except (HeteroError, AttributeError):
        return False


def long_rows(res: LevelResult) -> list[dict[str, Any]]:
    """One dict per ordered pair ``source != target`` of a level, in matrix order
    (:func:`hetero.export.long_rows`, the one implementation ``hetero export`` shares).

    ``T``, ``se``, ``df`` and the 95 % t interval ``ci_low``/``ci_high`` (``T -+
    half_width``) and ``significant`` come from the transfer matrix's provenance;
    ``d`` is the symmetric distance (filled in for a completed entry, ``completed`` True);
    ``measured`` tells whether the ordered pair was planned for training. Missing numbers
    are NaN (an unmeasured pair; an interval with fewer than two seeds).
    """
    prov = res.transfer.provenance or {}

    def pick(stored: Any, fallback: Any) -> Any:
        return fallback if stored is None else stored

    return _long_rows(
        res.transfer.labels,
        res.transfer.values,
        res.distance.values,
        se=pick(prov.get("se"), res.estimate.se),
        df=pick(prov.get("df"), res.estimate.df),
        half_width=prov.get("half_width"),
        significant=prov.get("significant"),
        completed=pick((res.distance.provenance or {}).get("completed"), res.completed),
        measured=pick(prov.get("measured"), res.runs.mask),
    )


def long_csv(res: LevelResult) -> str:
    """:func:`long_rows` as CSV text (NaN as an empty cell, booleans as True/False,
    ``df`` as an integer; :func:`hetero.export.csv_text`): what ``pandas.read_csv`` reads
    back."""
    return csv_text(long_rows(res), LONG_COLUMNS)


def _level_check(res: LevelResult) -> dict[str, Any]:
    """The check.json entry of a level: the metric report, with its null models."""
    out: dict[str, Any] = {} if res.check is None else dict(res.check.to_dict())
    if res.null is not None:
        out["null"] = res.null.to_dict()
    return out


def write_figures(
    result: MeasureResult, fig_dir: Path, *, formats: Any = "png", dpi: int | None = None
) -> None:
    """Heatmaps (distances and signed T), graphs, dendrograms, clustermaps and spectra of
    each level, from the one renderer (:func:`hetero.plotting.render_measurement`), in
    each of ``formats`` (png, svg, pdf) at ``dpi`` (default
    :data:`hetero.plotting.DEFAULT_DPI`).

    All figures are rendered in memory, then the folder is replaced whole, so an interrupted
    run leaves the previous complete set (or none), never half of one.
    """
    from hetero import plotting
    from hetero._io import atomic_write_dir

    levels = {"modality": result.modality}
    if result.interaction is not None:
        levels["interaction"] = result.interaction
    files = plotting.render_measurement(
        {level: (res.transfer, res.distance) for level, res in levels.items()},
        result.plan,
        formats=formats,
        dpi=plotting.DEFAULT_DPI if dpi is None else dpi,
    )
    atomic_write_dir(fig_dir, files)
