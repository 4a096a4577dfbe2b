"""Reading a measurement directory (written by ``hetero measure``) into a :class:`Report`.

Everything shown is read from the directory, never recomputed: the matrices and their
per-entry standard errors, significance flags and unclipped sums (``L.json``,
``L_transfer.json`` and their provenance), the metric checks (``check.json``), the groups,
the tree and their stability (``plan.json``), the summary and the test-retest
(``measure.json``) and the run counts (``runs.sqlite``, opened read-only). Only what no file
stores is derived here: the singular-value spectrum of a complete distance matrix, and, for
transfer files without them, standard errors from ``std``/``count`` and the significance
and unclipped sums that follow.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import read_json
from hetero.errors import HeteroError
from hetero.measure.estimators import t_half_width
from hetero.report.model import LEVELS, LevelReport, Report
from hetero.report.training import read_train_dir

__all__ = ["build_report", "read_measurement"]


def _array(value: Any, n: int, *, dtype: Any, source: Path, name: str) -> np.ndarray | None:
    """A provenance matrix (nested lists, ``None`` = NaN) as an (n, n) array, or None."""
    if value is None:
        return None
    try:
        if dtype is bool:
            arr = np.array(
                [[bool(v) if v is not None else False for v in row] for row in value], dtype=bool
            )
        else:
            arr = np.array(
                [[np.nan if v is None else float(v) for v in row] for row in value], dtype=float
            )
    except (TypeError, ValueError):
        raise HeteroError(
            f"provenance.{name}: expected an {n}x{n} matrix of numbers", source=source
        ) from None
    if arr.shape != (n, n):
        raise HeteroError(
            f"provenance.{name}: expected an {n}x{n} matrix, got shape {arr.shape}", source=source
        )
    return arr


def _read_matrix(path: Path) -> Any:
    from hetero.matrix import HeterogeneityMatrix

    return HeterogeneityMatrix.read(path)


def _read_level(
    directory: Path, level: str, measure: Mapping[str, Any], check_all: Mapping[str, Any] | None
) -> LevelReport | None:
    from hetero.completion import singular_spectrum

    dpath = directory / f"{level}.json"
    if not dpath.exists():
        return None
    distance = _read_matrix(dpath)
    n = distance.n
    rep = LevelReport(level=level, distance=distance)
    dprov = distance.provenance or {}
    rep.completed = _array(dprov.get("completed"), n, dtype=bool, source=dpath, name="completed")
    if rep.completed is None:
        rep.completed = np.zeros((n, n), dtype=bool)

    tpath = directory / f"{level}_transfer.json"
    if tpath.exists():
        transfer = _read_matrix(tpath)
        if list(transfer.labels) != list(distance.labels):
            raise HeteroError(
                f"labels differ from {dpath.name}'s (expected the same units in the same order)",
                source=tpath,
            )
        rep.transfer = transfer
        tprov = transfer.provenance or {}
        rep.se = _array(tprov.get("se"), n, dtype=float, source=tpath, name="se")
        if rep.se is None and transfer.std is not None and transfer.count is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                cnt = np.asarray(transfer.count, dtype=float)
                rep.se = np.where(cnt >= 2, transfer.std / np.sqrt(cnt), np.nan)
        conf = tprov.get("confidence", 0.95)
        rep.confidence = float(conf) if isinstance(conf, (int, float)) else 0.95
        df = _array(tprov.get("df"), n, dtype=float, source=tpath, name="df")
        rep.half_width = _array(
            tprov.get("half_width"), n, dtype=float, source=tpath, name="half_width"
        )
        z = tprov.get("z")
        if rep.half_width is None and rep.se is not None:
            if isinstance(z, (int, float)):  # written before t intervals: a normal quantile
                rep.interval = "z"
                rep.half_width = float(z) * rep.se
            else:
                if df is None and transfer.count is not None:
                    cnt = np.asarray(transfer.count, dtype=float)
                    df = np.where(cnt >= 2, cnt - 1, np.nan)
                if df is not None:
                    rep.half_width = t_half_width(rep.se, df, rep.confidence)
        rep.df = df
        rep.significant = _array(
            tprov.get("significant"), n, dtype=bool, source=tpath, name="significant"
        )
        if rep.significant is None and rep.half_width is not None:
            with np.errstate(invalid="ignore"):
                rep.significant = np.abs(transfer.values) > rep.half_width
        rep.unclipped_sum = _array(
            tprov.get("unclipped_sum"), n, dtype=float, source=tpath, name="unclipped_sum"
        )
        rep.unclipped_sum_se = _array(
            tprov.get("unclipped_sum_se"), n, dtype=float, source=tpath, name="unclipped_sum_se"
        )
        if rep.unclipped_sum is None:
            rep.unclipped_sum = transfer.values + transfer.values.T
            if rep.se is not None:
                rep.unclipped_sum_se = np.sqrt(rep.se**2 + rep.se.T**2)
        # as measure flagged it (the distance file), else from the same kind of interval
        rep.unclipped_sum_significant = _array(
            (distance.provenance or {}).get("significant_sum"),
            n,
            dtype=bool,
            source=dpath,
            name="significant_sum",
        )
        if rep.unclipped_sum_significant is None and rep.unclipped_sum_se is not None:
            if rep.interval == "z" and isinstance(z, (int, float)):
                half = float(z) * rep.unclipped_sum_se
            elif df is not None:
                half = t_half_width(rep.unclipped_sum_se, np.fmin(df, df.T), rep.confidence)
            else:
                half = None
            if half is not None:
                with np.errstate(invalid="ignore"):
                    rep.unclipped_sum_significant = np.abs(rep.unclipped_sum) > half

    # metric checks, as measured: check.json holds the modality report at top level and the
    # interaction report under "interaction"; a level without one shows none
    check = None
    if check_all is not None:
        check = check_all.get("interaction") if level == "interaction" else check_all
        if check is not None and not isinstance(check, Mapping):
            raise HeteroError(f"'{level}': expected a metric-check object", source="check.json")
    check = {k: v for k, v in (check or {}).items() if k != "interaction"}
    rep.check = check or None
    rep.check_source = "check.json" if check else "missing"
    # the spectrum is not stored: derived from the distances (an SVD, no fitting)
    if distance.observed.all():
        rep.spectrum = singular_spectrum(distance)
    rep.summary = dict((measure.get("levels") or {}).get(level) or {})
    return rep


def _measure_summary(directory: Path) -> dict[str, Any]:
    path = directory / "measure.json"
    if not path.exists():
        return {}
    data = read_json(path)
    if not isinstance(data, dict):
        raise HeteroError("expected a JSON object", source=path)
    levels = data.get("levels")
    if levels is not None and not isinstance(levels, dict):
        raise HeteroError("'levels': expected an object keyed by level", source=path)
    return data


def _runs_summary(directory: Path) -> dict[str, Any] | None:
    path = directory / "runs.sqlite"
    if not path.exists():
        return None
    from hetero.measure.store import RunStore

    with RunStore(path, readonly=True) as store:
        records = store.records()
    by_level: dict[str, dict[str, dict[str, int]]] = {}
    wall = 0.0
    converged = []
    by_kind: dict[str, list[bool]] = {}
    for r in records:
        by_level.setdefault(r.level, {}).setdefault(r.kind, {})
        counts = by_level[r.level][r.kind]
        counts[r.status] = counts.get(r.status, 0) + 1
        wall += float(r.wall_time or 0.0)
        if r.status == "ok" and r.converged is not None:
            converged.append(bool(r.converged))
            by_kind.setdefault(r.kind, []).append(bool(r.converged))
    ok = sum(1 for r in records if r.status == "ok")
    return {
        "by_level": by_level,
        "total": len(records),
        "ok": ok,
        "failed": len(records) - ok,
        "wall_time": wall,
        "converged_fraction": float(np.mean(converged)) if converged else None,
        # scratch runs train to convergence; short estimators cap transfers by design
        "converged_by_kind": {k: float(np.mean(v)) for k, v in sorted(by_kind.items())},
    }


def _read_plan(directory: Path, levels: Sequence[LevelReport]) -> Any | None:
    path = directory / "plan.json"
    if not path.exists():
        return None
    from hetero.plan import GroupingPlan

    plan = GroupingPlan.read(path)
    for lev, groups in zip(
        ("modality", "interaction"), (plan.unimodal_groups, plan.crossmodal_groups), strict=True
    ):
        rep = next((r for r in levels if r.level == lev), None)
        members = [label for g in groups for label in g]
        if rep is None:
            continue
        missing = sorted(set(members) - set(rep.labels))
        if missing:
            raise HeteroError(
                f"plan groups name unit(s) not in {lev}.json: {', '.join(missing[:5])}",
                source=path,
            )
        rep.groups = [list(g) for g in groups]
        stab = (plan.provenance or {}).get("stability") or {}
        if isinstance(stab, Mapping) and isinstance(stab.get(lev), Mapping):
            rep.stability = dict(stab[lev])
    return plan


def _read_analyses(paths: Iterable[str | os.PathLike]) -> list[tuple[str, Any]]:
    """The analysis results at ``paths``, each with a unique figure name."""
    from hetero.report.analysis import read_analyses

    out: list[tuple[str, Any]] = []
    seen: dict[str, int] = {}
    for path in paths:
        for result in read_analyses(path):
            seen[result.kind] = seen.get(result.kind, 0) + 1
            count = seen[result.kind]
            name = f"analysis_{result.kind}" + (f"_{count}" if count > 1 else "")
            out.append((name, result))
    return out


def _verdict(
    levels: Sequence[LevelReport], measure: Mapping[str, Any]
) -> tuple[bool | None, bool, str]:
    """(reliable, actionable, statement) from the retest and the significance counts."""
    mod = levels[0]
    retest = (mod.summary or {}).get("retest")
    statement = measure.get("reliability") or (mod.summary or {}).get("reliability")
    reliable: bool | None = None
    if isinstance(retest, Mapping) and isinstance(retest.get("reliable"), bool):
        reliable = retest["reliable"]
    if mod.transfer is not None and mod.n_measured and mod.n_with_se and not mod.n_significant:
        return (
            reliable,
            False,
            "NOT reliable enough to act on: no transfer entry differs significantly from zero "
            f"({mod.n_with_se} entries with a standard error), so the distances and the plan "
            "are indistinguishable from noise; measure with more seeds or a lower-noise "
            "estimator before acting on them.",
        )
    if reliable is True:
        return True, True, f"Reliable enough to act on: {statement}."
    if reliable is False:
        text = statement or "split-half test-retest below the reliability threshold"
        if not text.startswith("NOT"):
            text = f"NOT reliable enough to act on: {text}"
        return False, False, text + "."
    if statement:
        text = statement
    else:
        text = "reliability unknown: no test-retest in this measurement"
    return (
        None,
        False,
        f"Not shown to be reliable ({text}); run `hetero measure --retest` with 2 or more seeds "
        "before acting on the plan.",
    )


def read_measurement(
    directory: str | os.PathLike,
) -> tuple[list[LevelReport], Any | None, dict[str, Any]]:
    """Read the matrices, checks, plan and summary of a measurement directory.

    What :func:`build_report` and ``hetero export`` (:func:`hetero.export.export_rows`)
    share: every level's :class:`LevelReport` (standard errors, intervals and significance
    from the stored provenance, derived from ``std``/``count`` for older files), the plan
    (its groups checked against the matrices) and ``measure.json``.

    Parameters
    ----------
    directory : path-like
        Output directory of ``hetero measure`` (must hold ``modality.json``).

    Returns
    -------
    levels : list of LevelReport
        Modality first, then interaction when measured.
    plan : GroupingPlan or None
        ``plan.json`` when present.
    measure : dict
        ``measure.json`` (empty when absent).

    Raises
    ------
    HeteroError
        A missing directory or ``modality.json``, or a malformed file (one line naming it).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise HeteroError("measurement directory not found", source=directory)
    if not (directory / "modality.json").is_file():
        raise HeteroError(
            "not a measurement directory: modality.json missing (run `hetero measure` first)",
            source=directory,
        )
    measure = _measure_summary(directory)
    check_all = None
    cpath = directory / "check.json"
    if cpath.exists():
        check_all = read_json(cpath)
        if not isinstance(check_all, dict):
            raise HeteroError("expected a JSON object", source=cpath)
    levels = []
    for level in LEVELS:
        try:
            rep = _read_level(directory, level, measure, check_all)
        except HeteroError as exc:
            if exc.source is None:
                raise HeteroError(exc.detail, source=directory / "check.json") from None
            raise
        if rep is not None:
            levels.append(rep)
    plan = _read_plan(directory, levels)
    return levels, plan, measure


def build_report(
    directory: str | os.PathLike,
    train_dirs: Iterable[str | os.PathLike] = (),
    *,
    title: str | None = None,
    compare_dir: str | os.PathLike | None = None,
    analysis_dirs: Iterable[str | os.PathLike] = (),
) -> Report:
    """Read a measurement directory (and training directories) into a :class:`Report`.

    Parameters
    ----------
    directory : path-like
        Output directory of ``hetero measure`` (must hold ``modality.json``).
    train_dirs : iterable of path-like
        Output directories of ``hetero train`` (each with ``metrics.json``).
    title : str, optional
        Report title (default: from the suite name).
    compare_dir : path-like, optional
        Output directory of ``hetero compare`` (its ``compare.json``).
    analysis_dirs : iterable of path-like
        Output folders of ``hetero analyze`` (or their result JSON files): one report
        section per result (:func:`hetero.report.analysis.read_analyses`).

    Returns
    -------
    Report

    Raises
    ------
    HeteroError
        A missing directory or ``modality.json``, or a malformed input file (one line
        naming the file).
    """
    directory = Path(directory)
    levels, plan, measure = read_measurement(directory)
    runs = _runs_summary(directory)
    controls = None
    if (directory / "controls.json").exists():
        controls = read_json(directory / "controls.json")
        if not isinstance(controls, dict) or not all(
            isinstance(v, Mapping) and isinstance(v.get("summary"), Mapping)
            for v in controls.values()
        ):
            raise HeteroError(
                "expected {level: {rows, summary}} (hetero measure --controls)",
                source=directory / "controls.json",
            )
    train = [read_train_dir(p) for p in train_dirs]
    compare = None
    if compare_dir is not None:
        from hetero.compare import read_compare

        compare = read_compare(compare_dir)
    analyses = _read_analyses(analysis_dirs)
    measured = set(levels[0].labels) if levels else set()
    for run in train:  # a model of another suite cannot be compared with this measurement
        if run.units and measured and run.units != measured:
            other = sorted(run.units ^ measured)
            raise HeteroError(
                f"--train: the model was trained on other units than this measurement's "
                f"({len(run.units)} vs {len(measured)}; e.g. {', '.join(other[:3])}); "
                "expected a hetero train output of the same suite",
                source=run.path,
            )
    if compare is not None and measured:  # the same check for a comparison
        tasks = {label.split("/", 1)[0] for label in measured}
        compared = {str(r["task"]) for r in compare.rows}
        if compared and compared != tasks:
            raise HeteroError(
                f"--compare: the comparison trained other tasks than this measurement's "
                f"({', '.join(sorted(compared ^ tasks)[:3])} differ); expected a hetero "
                "compare output of the same suite",
                source=compare_dir,
            )
    reliable, actionable, verdict = _verdict(levels, measure)
    notes = []
    if plan is None:
        notes.append("No plan.json: some entries could not be measured, so no plan was made.")
    from hetero.measure.estimators import VALIDITY_STATEMENT

    validity = measure.get("validity") or VALIDITY_STATEMENT  # also for older measurements
    notes.append(f"Validity: {validity}.")
    from hetero.measure.quality import describe

    gate = measure.get("quality_gate")
    gate_text = describe(gate) if isinstance(gate, Mapping) else None
    if gate_text:
        notes.append(f"Quality gate: {gate_text}; distances involving them measure little.")
    for f in (measure.get("failures") or [])[:10]:
        if isinstance(f, Mapping):
            notes.append(f"Failed run on {f.get('unit')}: {f.get('error')}")
    if runs is not None and runs["failed"]:
        notes.append(f"{runs['failed']} run(s) failed (see `hetero runs {directory}`).")
    for lev in levels:
        if lev.transfer is None:
            notes.append(
                f"No {lev.level}_transfer.json: standard errors and significance are unavailable."
            )
        if lev.check is None:
            notes.append(
                f"No metric checks for {lev.level} in check.json "
                f"(`hetero check {lev.level}.json` computes them)."
            )
    for lev in levels[1:]:
        statement = lev.summary.get("reliability")
        if isinstance(statement, str) and statement:
            notes.append(f"{lev.level.capitalize()} matrix: {statement}.")
    if train and not any(t.sharing == "share-all" for t in train):
        notes.append("No share-all training run was given: the grouped model has no baseline.")
    suite = measure.get("suite")
    return Report(
        directory=directory,
        title=title or (f"hetero report: {suite}" if suite else "hetero report"),
        levels=levels,
        plan=plan,
        measure=measure,
        runs=runs,
        train=train,
        reliable=reliable,
        verdict=verdict,
        actionable=actionable,
        notes=notes,
        controls=controls,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        compare=compare,
        analyses=analyses,
    )
