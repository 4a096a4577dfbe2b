"""The measurement report: one self-contained HTML file plus a Markdown file.

Compute first, render second. :func:`build_report` reads a measurement directory (written by
``hetero measure``) and, optionally, training directories (written by ``hetero train``)
into a :class:`Report`; :func:`render_figures` draws its figures as PNG bytes with
:mod:`hetero.plotting`; :func:`render_html` and :func:`render_markdown` turn the report and
its figures into text with the standard library only; :func:`write_report` does all of it
and writes the files atomically, after everything was read and rendered (bad input never
leaves a partial report behind).

Read from the measurement directory ``DIR``:

- ``modality.json`` (required) and ``interaction.json``: symmetric distance matrices
  (completed entries flagged in their provenance);
- ``modality_transfer.json`` / ``interaction_transfer.json``: directed transfer matrices
  with std/count; their provenance holds per-entry standard errors, significance flags and
  the unclipped ``T12 + T21``;
- ``check.json`` (metric checks; recomputed when absent), ``plan.json``, ``measure.json``
  (learner, estimator, seeds, runs, test-retest reliability) and ``runs.sqlite``.

Read from each training directory: ``metrics.json`` (per-task test metrics and parameter
counts) and, when present, ``config.json``.

Written to ``OUT`` (default ``DIR``): ``report.html`` (figures embedded as base64
``data:`` URIs, no external assets), ``report.md`` and ``report_figures/*.png``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import atomic_write_dir, atomic_write_text, read_json
from hetero.errors import HeteroError

__all__ = [
    "Figure",
    "LevelReport",
    "Report",
    "ReportPaths",
    "TrainRun",
    "build_report",
    "read_train_dir",
    "render_figures",
    "render_html",
    "render_markdown",
    "write_report",
]

LEVELS = ("modality", "interaction")
FIGURE_DIR = "report_figures"
#: Above this many units the full matrix tables are left out (the figures remain).
MAX_TABLE_UNITS = 24


# ------------------------------------------------------------------------------ data model
@dataclass
class LevelReport:
    """Everything the report shows about one level (``"modality"`` or ``"interaction"``).

    Attributes
    ----------
    level : str
    distance : HeterogeneityMatrix
        Symmetric distances (completed where the design was sampled).
    transfer : HeterogeneityMatrix or None
        Directed transfer ``T[i, j]`` (source ``i``, target ``j``) with std/count.
    se : ndarray or None
        Standard error of each transfer entry (NaN where unknown).
    significant : ndarray of bool or None
        Entries whose interval ``T +- z se`` excludes zero.
    z : float
        z value behind ``significant``.
    unclipped_sum, unclipped_sum_se : ndarray or None
        ``T12 + T21`` before clipping and its standard error.
    completed : ndarray of bool
        Distance entries filled by completion rather than measured.
    check : dict or None
        Metric-check report (the core's ``MetricReport.to_dict()``).
    check_source : str
        ``"check.json"`` or ``"computed"``.
    spectrum : (ndarray, ndarray) or None
        Singular values of the distance matrix and their cumulative explained fraction.
    groups : list of list of str or None
        The plan's groups of this level.
    summary : dict
        This level's entry of ``measure.json`` (runs, seeds, retest, ...).
    stability : dict or None
        Co-assignment stability of the plan (from the plan's provenance).
    """

    level: str
    distance: Any
    transfer: Any | None = None
    se: np.ndarray | None = None
    significant: np.ndarray | None = None
    z: float = 1.96
    unclipped_sum: np.ndarray | None = None
    unclipped_sum_se: np.ndarray | None = None
    completed: np.ndarray | None = None
    check: dict[str, Any] | None = None
    check_source: str = "check.json"
    spectrum: tuple[np.ndarray, np.ndarray] | None = None
    groups: list[list[str]] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    stability: dict[str, Any] | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.distance.labels)

    @property
    def n(self) -> int:
        return len(self.distance.labels)

    @property
    def n_measured(self) -> int:
        """Off-diagonal transfer entries with a value."""
        if self.transfer is None:
            return 0
        obs = np.isfinite(self.transfer.values)
        np.fill_diagonal(obs, False)
        return int(obs.sum())

    @property
    def n_significant(self) -> int:
        if self.significant is None:
            return 0
        sig = self.significant.copy()
        np.fill_diagonal(sig, False)
        return int(sig.sum())

    @property
    def n_with_se(self) -> int:
        """Off-diagonal entries with a finite standard error (at least two seeds)."""
        if self.se is None:
            return 0
        ok = np.isfinite(self.se)
        np.fill_diagonal(ok, False)
        return int(ok.sum())

    @property
    def n_completed(self) -> int:
        """Completed unordered pairs (upper triangle)."""
        if self.completed is None:
            return 0
        return int(np.triu(self.completed, 1).sum())

    def significant_entries(self) -> list[dict[str, Any]]:
        """Significant transfer entries, largest ``|T| / se`` first."""
        if self.transfer is None or self.significant is None or self.se is None:
            return []
        out = []
        t = self.transfer.values
        for i, j in zip(*np.nonzero(self.significant), strict=True):
            if i == j:
                continue
            se = float(self.se[i, j])
            out.append(
                {
                    "source": self.labels[i],
                    "target": self.labels[j],
                    "T": float(t[i, j]),
                    "se": se,
                    "z": float(t[i, j]) / se if se > 0 else math.inf,
                }
            )
        out.sort(key=lambda e: -abs(e["z"]))
        return out


@dataclass
class TrainRun:
    """Test results of one ``hetero train`` output directory.

    Attributes
    ----------
    name : str
        Display name (the directory name).
    path : Path
    sharing : str
        ``"share-all"``, ``"share-none"`` or ``"plan"`` (``"unknown"`` if not recorded).
    groups : dict of str -> int
        Number of groups per shareable kind (``{"unimodal": 3, "crossmodal": 2}``).
    tasks : dict of str -> dict of str -> float
        Per-task test metrics.
    primary : dict of str -> str
        Per-task main metric name (the task's own metric when recorded).
    higher_is_better : dict of str -> bool
    params_total : int or None
    params_shared : dict of str -> int
        Parameters in each shareable kind's group copies (all groups together).
    """

    name: str
    path: Path
    sharing: str = "unknown"
    groups: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, dict[str, float]] = field(default_factory=dict)
    primary: dict[str, str] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    params_total: int | None = None
    params_shared: dict[str, int] = field(default_factory=dict)

    @property
    def description(self) -> str:
        if self.sharing == "plan" and self.groups:
            parts = ", ".join(f"{n} {k}" for k, n in self.groups.items())
            return f"grouped ({parts} groups)"
        return self.sharing


@dataclass
class Report:
    """A measurement report, ready to render.

    Attributes
    ----------
    directory : Path
        The measurement directory.
    title : str
    levels : list of LevelReport
    plan : GroupingPlan or None
    measure : dict
        ``measure.json`` (empty when absent).
    runs : dict or None
        Counts from ``runs.sqlite``: ``{"by_level": {level: {kind: {status: n}}}, "total",
        "ok", "failed", "wall_time", "converged_fraction"}``.
    train : list of TrainRun
    reliable : bool or None
        Test-retest verdict of the modality matrix (None: unknown).
    verdict : str
        The plain statement on whether the matrix can be acted on.
    notes : list of str
        Other plain statements (missing inputs, failed runs, no plan, ...).
    created : str
        UTC time the report was built.
    """

    directory: Path
    title: str
    levels: list[LevelReport]
    plan: Any | None = None
    measure: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, Any] | None = None
    train: list[TrainRun] = field(default_factory=list)
    reliable: bool | None = None
    verdict: str = ""
    actionable: bool = False
    notes: list[str] = field(default_factory=list)
    created: str = ""

    def level(self, name: str) -> LevelReport | None:
        for lev in self.levels:
            if lev.level == name:
                return lev
        return None


@dataclass(frozen=True)
class Figure:
    """One rendered figure: a file stem, a caption and the PNG bytes."""

    name: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`write_report` wrote its files."""

    html: Path
    markdown: Path
    figures: tuple[Path, ...]


# ------------------------------------------------------------------------------ reading
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
    from hetero.metric import check_metric

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
        z = tprov.get("z", 1.96)
        rep.z = float(z) if isinstance(z, (int, float)) else 1.96
        rep.significant = _array(
            tprov.get("significant"), n, dtype=bool, source=tpath, name="significant"
        )
        if rep.significant is None and rep.se is not None:
            with np.errstate(invalid="ignore"):
                rep.significant = np.abs(transfer.values) > rep.z * rep.se
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

    # metric checks: check.json holds the modality report at top level and the interaction
    # report under "interaction"
    check = None
    if check_all is not None:
        check = check_all.get("interaction") if level == "interaction" else check_all
        if check is not None and not isinstance(check, Mapping):
            raise HeteroError(f"'{level}': expected a metric-check object", source="check.json")
        if check is not None and not check:
            check = None
    if check is not None:
        rep.check = {k: v for k, v in check.items() if k != "interaction"}
        rep.check_source = "check.json"
    elif distance.observed.any():
        rep.check = check_metric(distance).to_dict()
        rep.check_source = "computed"
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
    for r in records:
        by_level.setdefault(r.level, {}).setdefault(r.kind, {})
        counts = by_level[r.level][r.kind]
        counts[r.status] = counts.get(r.status, 0) + 1
        wall += float(r.wall_time or 0.0)
        if r.status == "ok" and r.converged is not None:
            converged.append(bool(r.converged))
    ok = sum(1 for r in records if r.status == "ok")
    return {
        "by_level": by_level,
        "total": len(records),
        "ok": ok,
        "failed": len(records) - ok,
        "wall_time": wall,
        "converged_fraction": float(np.mean(converged)) if converged else None,
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


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


_PRIMARY = (("accuracy", True), ("f1_macro", True), ("auroc", True), ("mse", False))


def _sharing(groups: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """``share-all`` / ``share-none`` / ``plan`` and the group count per kind."""
    counts: dict[str, int] = {}
    sizes: list[int] = []
    for key, value in groups.items():
        if not isinstance(value, list):
            continue
        kind = str(key).removesuffix("_groups")
        nonempty = [g for g in value if isinstance(g, list) and g]
        if nonempty:
            counts[kind] = len(nonempty)
            sizes += [len(g) for g in nonempty]
    if not counts:
        return "unknown", counts
    if all(n == 1 for n in counts.values()):
        return "share-all", counts
    if all(s == 1 for s in sizes):
        return "share-none", counts
    return "plan", counts


def read_train_dir(path: str | os.PathLike) -> TrainRun:
    """Read the test results of a ``hetero train`` output directory.

    ``metrics.json`` (written by ``hetero train``) holds ``test`` (``{task: {metric:
    value}}``), ``parameters`` (the model's parameter report: one entry per grouped block
    with ``kind``, ``groups`` and ``total``, plus ``other`` and ``total``) and ``groups``
    (``{"unimodal_groups": [[label, ...]], "crossmodal_groups": [...]}``).

    Parameters
    ----------
    path : path-like
        Directory holding ``metrics.json``.

    Returns
    -------
    TrainRun
    """
    path = Path(path)
    if not path.is_dir():
        raise HeteroError("training output directory not found", source=path)
    mpath = path / "metrics.json"
    data = read_json(mpath)
    if not isinstance(data, dict):
        raise HeteroError("expected a JSON object", source=mpath)
    run = TrainRun(name=path.name, path=path)
    test = data.get("test")
    if not isinstance(test, Mapping) or not test:
        raise HeteroError(
            "'test': expected per-task test metrics ({task: {metric: number}})", source=mpath
        )
    for task, metrics in test.items():
        if not isinstance(metrics, Mapping):
            raise HeteroError(f"test.{task}: expected an object of metric -> number", source=mpath)
        run.tasks[str(task)] = {
            str(k): math.nan if v is None else float(v)
            for k, v in metrics.items()
            if v is None or _num(v) is not None
        }
        for name, higher in _PRIMARY:
            if name in run.tasks[str(task)]:
                run.primary[str(task)] = name
                run.higher_is_better[str(task)] = higher
                break
    params = data.get("parameters")
    if isinstance(params, Mapping):
        if _num(params.get("total")) is not None:
            run.params_total = int(params["total"])
        for name, block in params.items():
            if isinstance(block, Mapping) and _num(block.get("total")) is not None:
                kind = str(block.get("kind", name))
                run.params_shared[kind] = run.params_shared.get(kind, 0) + int(block["total"])
    elif _num(params) is not None:
        run.params_total = int(params)
    groups = data.get("groups")
    if isinstance(groups, Mapping):
        run.sharing, run.groups = _sharing(groups)
    return run


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


def build_report(
    directory: str | os.PathLike,
    train_dirs: Iterable[str | os.PathLike] = (),
    *,
    title: str | None = None,
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
    runs = _runs_summary(directory)
    train = [read_train_dir(p) for p in train_dirs]
    reliable, actionable, verdict = _verdict(levels, measure)
    notes = []
    if plan is None:
        notes.append("No plan.json: some entries could not be measured, so no plan was made.")
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
        if lev.check_source == "computed":
            notes.append(f"No metric checks for {lev.level} in check.json: computed here.")
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
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )


# ------------------------------------------------------------------------------ layout
# The report is laid out once as a list of blocks; the HTML and Markdown renderers only
# translate blocks, so both files always say the same thing.
@dataclass(frozen=True)
class _Cell:
    text: str
    strong: bool = False
    em: bool = False
    title: str = ""


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Para:
    text: str


@dataclass(frozen=True)
class _Callout:
    text: str
    ok: bool


@dataclass(frozen=True)
class _Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: tuple[tuple[_Cell, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class _FigRef:
    name: str


def _fmt(x: Any, digits: int = 3) -> str:
    """A number for a table: ``-`` for missing/NaN, ``inf``, else ``digits`` significant."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** (digits + 1) or abs(v) < 10 ** (-digits):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}f}"


def _fix(x: Any, digits: int = 2) -> str:
    """Fixed decimals (``-`` for missing/NaN)."""
    v = _num(x)
    return "-" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _secs(x: Any) -> str:
    """Seconds, with minutes from 2 minutes on."""
    v = _num(x)
    if v is None or math.isnan(v):
        return "-"
    return f"{v:.1f} s" if v < 120 else f"{v:.0f} s ({v / 60:.1f} min)"


def _pct(x: Any) -> str:
    v = _num(x)
    return "-" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def _cells(*values: Any) -> tuple[_Cell, ...]:
    return tuple(v if isinstance(v, _Cell) else _Cell(str(v)) for v in values)


def _level_title(level: str) -> str:
    return {"modality": "Modality heterogeneity", "interaction": "Interaction heterogeneity"}.get(
        level, level
    )


def _summary_blocks(report: Report) -> list[Any]:
    m = report.measure
    out: list[Any] = [_Heading(2, "Summary")]
    facts = []
    if m.get("suite"):
        facts.append(f"suite {m['suite']}")
    if m.get("learner"):
        facts.append(f"learner {m['learner']}")
    est = m.get("estimator")
    if isinstance(est, Mapping) and est.get("name"):
        facts.append(f"estimator {est['name']}")
    if m.get("sampled"):
        facts.append("sampled design with completion")
    if m.get("auto_seeds"):
        facts.append("seeds added automatically where entries were undecided")
    if facts:
        out.append(_Para("Measured with " + ", ".join(facts) + "."))
    rows = []
    for lev in report.levels:
        s = lev.summary
        rt = s.get("retest") if isinstance(s.get("retest"), Mapping) else {}
        stab = s.get("stability") if isinstance(s.get("stability"), Mapping) else {}
        seeds_t = s.get("transfer_seeds")
        seeds_b = s.get("baseline_seeds")
        pairs = (
            f"{s['measured_pairs']}/{s['ordered_pairs']}"
            if "measured_pairs" in s and "ordered_pairs" in s
            else f"{lev.n_measured}/{lev.n * (lev.n - 1)}"
        )
        rows.append(
            _cells(
                lev.level,
                lev.n,
                pairs,
                lev.n_completed,
                "-" if seeds_t is None else len(seeds_t),
                "-" if seeds_b is None else len(seeds_b),
                f"{lev.n_significant}/{lev.n_with_se}",
                _pct(s.get("converged_fraction")),
                _fix(rt.get("spearman_d")) + f" ({_fix(rt.get('spearman_d_full'))})" if rt else "-",
                _fix(rt.get("plan_ari")) if rt else "-",
                _fix(stab.get("mean_stability")) if stab else "-",
            )
        )
    out.append(
        _Table(
            (
                "level",
                "units",
                "ordered pairs measured",
                "entries completed",
                "transfer seeds",
                "baseline seeds",
                "significant / with s.e.",
                "runs converged before the epoch cap",
                "retest Spearman d (projected)",
                "retest plan ARI",
                "plan stability",
            ),
            tuple(rows),
            caption="Significant: the interval T ± z·s.e. excludes zero. Retest: split-half "
            "Spearman correlation of the distances between two disjoint halves of the seeds, "
            "projected to all seeds (Spearman-Brown). Plan stability: mean over unit pairs of "
            "how consistently bootstrap samples of the seeds put them together or apart.",
        )
    )
    runs = report.runs
    run_stats = m.get("runs") if isinstance(m.get("runs"), Mapping) else {}
    if runs is not None:
        parts = []
        for level, kinds in sorted(runs["by_level"].items()):
            ktxt = ", ".join(
                f"{sum(st.values())} {kind}"
                + (f" ({st.get('failed', 0)} failed)" if st.get("failed") else "")
                for kind, st in sorted(kinds.items())
            )
            parts.append(f"{level}: {ktxt}")
        text = f"{runs['total']} runs in runs.sqlite ({'; '.join(parts)})"
        text += f", {_secs(runs['wall_time'])} of training in total (all workers)"
        if runs["converged_fraction"] is not None:
            text += f", {_pct(runs['converged_fraction'])} converged before the epoch cap"
        if run_stats:
            text += (
                f"; the last `hetero measure` trained {run_stats.get('trained', '-')}, "
                f"reused {run_stats.get('cached', '-')} from the store and took "
                f"{_secs(run_stats.get('wall_time'))}"
            )
        out.append(_Para(text + "."))
        completed = sum(lev.n_completed for lev in report.levels)
        measured = sum(lev.n_measured for lev in report.levels)
        out.append(
            _Para(
                f"Entries: {measured} ordered transfer entries measured, {completed} distance "
                "entries completed (not measured)."
            )
        )
    return out


def _plan_blocks(report: Report) -> list[Any]:
    out: list[Any] = [_Heading(2, "Grouping plan")]
    if report.plan is None:
        out.append(_Para("No plan (plan.json is absent)."))
        return out
    out.append(
        _Para(
            f"{report.plan.n_unimodal_groups} unimodal group(s) and "
            f"{report.plan.n_crossmodal_groups} crossmodal group(s): units in one group share "
            "one copy of the corresponding HighMMT block."
        )
    )
    for lev in report.levels:
        if not lev.groups:
            continue
        kind = "unimodal" if lev.level == "modality" else "crossmodal"
        rows = tuple(_cells(str(g), len(m), ", ".join(m)) for g, m in enumerate(lev.groups))
        caption = ""
        if lev.stability and _num(lev.stability.get("mean_stability")) is not None:
            caption = (
                f"Plan stability over {lev.stability.get('n_boot', '?')} bootstrap samples of "
                f"the seeds: {_fix(lev.stability['mean_stability'])} (1 = always the same)."
            )
        out.append(_Heading(3, f"{kind.capitalize()} groups ({lev.level} units)"))
        out.append(_Table(("group", "size", "units"), rows, caption=caption))
    return out


def _check_blocks(lev: LevelReport) -> list[Any]:
    c = lev.check
    if not c:
        return []
    out: list[Any] = [_Heading(3, "Metric checks")]
    min_c = "inf" if c.get("min_c_infinite") else _fmt(c.get("min_c"), 4)
    rows = (
        _cells("symmetric", _fmt(c.get("symmetric"))),
        _cells("max |d_ij - d_ji|", _fmt(c.get("max_asymmetry"), 4)),
        _cells("non-negative", _fmt(c.get("nonnegative"))),
        _cells("zero diagonal", _fmt(c.get("zero_diagonal"))),
        _cells("triples checked", _fmt(c.get("n_triples"))),
        _cells("triangle inequality, exact", _pct(c.get("triangle_exact"))),
        _cells(
            f"triangle inequality, relaxed (c = {_fmt(c.get('c'))})",
            _pct(c.get("triangle_relaxed")),
        ),
        _cells("smallest c for all triples", min_c),
    )
    src = "" if lev.check_source == "check.json" else " (computed by the report)"
    out.append(_Table(("check", "value"), rows, caption=f"From check.json{src}."))
    worst = c.get("worst") or []
    if worst:
        wrows = tuple(
            _cells(
                f"{w.get('i')} → {w.get('j')} → {w.get('k')}",
                _fmt(w.get("d_ik"), 3),
                _fmt(w.get("d_ij"), 3),
                _fmt(w.get("d_jk"), 3),
                _fmt(w.get("ratio"), 3) if w.get("ratio") is not None else "inf",
            )
            for w in worst[:10]
            if isinstance(w, Mapping)
        )
        out.append(
            _Table(
                ("worst triples i → j → k", "d_ik", "d_ij", "d_jk", "d_ik / (d_ij + d_jk)"),
                wrows,
            )
        )
    return out


def _spectrum_blocks(lev: LevelReport, figures: Mapping[str, Figure]) -> list[Any]:
    if lev.spectrum is None:
        return []
    s, cum = lev.spectrum
    out: list[Any] = [_Heading(3, "Singular-value spectrum")]
    if f"{lev.level}_spectrum" in figures:
        out.append(_FigRef(f"{lev.level}_spectrum"))
    k = min(len(s), 8)
    rank90 = int(np.searchsorted(cum, 0.9) + 1) if len(cum) else 0
    out.append(
        _Table(
            ("rank", *[str(r + 1) for r in range(k)]),
            (
                _cells("singular value", *[_fmt(v, 3) for v in s[:k]]),
                _cells("cumulative explained", *[_pct(v) for v in cum[:k]]),
            ),
            caption=f"Rank {rank90} captures 90% of the squared norm of the distance matrix.",
        )
    )
    return out


def _matrix_table(
    lev: LevelReport,
    values: np.ndarray,
    *,
    se: np.ndarray | None,
    marks: np.ndarray | None,
    em: np.ndarray | None = None,
    upper: bool = False,
) -> _Table:
    labels = lev.labels
    rows = []
    for i, row_label in enumerate(labels):
        cells: list[_Cell] = [_Cell(row_label, strong=True)]
        for j in range(len(labels)):
            if i == j or (upper and j < i):
                cells.append(_Cell(""))
                continue
            v = values[i, j]
            txt = f"{v:.3f}" if np.isfinite(v) else "-"
            if se is not None and np.isfinite(se[i, j]) and np.isfinite(v):
                txt += f" ± {se[i, j]:.3f}"
            strong = bool(marks is not None and marks[i, j])
            if strong:
                txt += " *"
            italic = bool(em is not None and em[i, j])
            if italic:
                txt += " (c)"
            cells.append(_Cell(txt, strong=strong, em=italic))
        rows.append(tuple(cells))
    short = [str(j + 1) for j in range(len(labels))]
    header = ("row → column", *short)
    rows = [(_Cell(f"{i + 1}. {r[0].text}", strong=True), *r[1:]) for i, r in enumerate(rows)]
    return _Table(header, tuple(rows))


def _level_blocks(report: Report, lev: LevelReport, figures: Mapping[str, Figure]) -> list[Any]:
    out: list[Any] = [_Heading(2, _level_title(lev.level))]
    out.append(
        _Para(
            f"{lev.n} {'interaction ' if lev.level == 'interaction' else ''}units. "
            "T(i → j) = L(i → j) − L(j): the target's validation loss after transfer from the "
            "source minus its loss trained from scratch (negative: the source helps). The "
            "distance is d = max(T(i → j), 0) + max(T(j → i), 0)."
        )
    )
    for name in (f"{lev.level}_distance", f"{lev.level}_transfer"):
        if name in figures:
            out.append(_FigRef(name))
    for name in (f"{lev.level}_dendrogram", f"{lev.level}_clustermap", f"{lev.level}_graph"):
        if name in figures:
            out.append(_FigRef(name))
    out += _check_blocks(lev)
    out += _spectrum_blocks(lev, figures)

    out.append(_Heading(3, "Standard errors and significance"))
    if lev.transfer is None:
        out.append(_Para(f"No {lev.level}_transfer.json: no standard errors to show."))
    else:
        sig = lev.significant
        out.append(
            _Para(
                f"{lev.n_significant} of {lev.n_measured} measured transfer entries differ "
                f"from zero significantly (|T| > {_fmt(lev.z)} s.e.); {lev.n_with_se} have a "
                "standard error (entries from a single seed have none)."
            )
        )
        entries = lev.significant_entries()
        if entries:
            rows = tuple(
                _cells(e["source"], e["target"], _fmt(e["T"], 3), _fmt(e["se"], 2), _fmt(e["z"], 3))
                for e in entries[:20]
            )
            more = f" (the 20 largest of {len(entries)})" if len(entries) > 20 else ""
            out.append(
                _Table(
                    ("source", "target", "T", "s.e.", "T / s.e."),
                    rows,
                    caption=f"Significant entries{more}, largest |T| / s.e. first.",
                )
            )
        if lev.n <= MAX_TABLE_UNITS:
            table = _matrix_table(lev, lev.transfer.values, se=lev.se, marks=sig)
            out.append(
                _Table(
                    table.header,
                    table.rows,
                    caption="T ± s.e. (rows: source, columns: target); * marks a significant "
                    "entry; - not measured.",
                )
            )
        if lev.unclipped_sum is not None and lev.n <= MAX_TABLE_UNITS:
            with np.errstate(invalid="ignore"):
                marks = (
                    np.abs(lev.unclipped_sum) > lev.z * lev.unclipped_sum_se
                    if lev.unclipped_sum_se is not None
                    else None
                )
            table = _matrix_table(
                lev, lev.unclipped_sum, se=lev.unclipped_sum_se, marks=marks, upper=True
            )
            out.append(
                _Table(
                    table.header,
                    table.rows,
                    caption="Unclipped T(i → j) + T(j → i) ± s.e. (before the distance clips "
                    "negative transfer to zero); * significant.",
                )
            )
    if lev.n <= MAX_TABLE_UNITS:
        table = _matrix_table(
            lev, lev.distance.values, se=None, marks=None, em=lev.completed, upper=True
        )
        out.append(
            _Table(
                table.header,
                table.rows,
                caption="Distances d; (c) marks an entry completed rather than measured.",
            )
        )
    rt = lev.summary.get("retest")
    if isinstance(rt, Mapping):
        out.append(_Heading(3, "Test-retest"))
        rows = (
            _cells("Spearman of T between halves", _fix(rt.get("spearman_T"))),
            _cells("Spearman of d between halves", _fix(rt.get("spearman_d"))),
            _cells("projected to all seeds (T)", _fix(rt.get("spearman_T_full"))),
            _cells("projected to all seeds (d)", _fix(rt.get("spearman_d_full"))),
            _cells("plan ARI between halves", _fix(rt.get("plan_ari"))),
        )
        statement = lev.summary.get("reliability") or rt.get("statement") or ""
        out.append(_Table(("retest", "value"), rows, caption=str(statement)))
    return out


def _train_blocks(report: Report) -> list[Any]:
    if not report.train:
        return []
    out: list[Any] = [_Heading(2, "Training results")]
    runs = report.train
    base = next((t for t in runs if t.sharing == "share-all"), None)
    out.append(
        _Para(
            "Test-split results of the HighMMT models trained with `hetero train`: "
            + "; ".join(f"{t.name} = {t.description}" for t in runs)
            + ". Each is one training run (one seed): differences between them carry no "
            "standard error."
            + (
                ""
                if report.actionable
                else " The plan comes from a matrix that is not shown to be reliable (see "
                "above), so a difference need not reflect the measured heterogeneity."
            )
        )
    )
    tasks: list[str] = []
    for t in runs:
        tasks += [k for k in t.tasks if k not in tasks]
    header = ["task", "metric"] + [t.name for t in runs]
    others = [t for t in runs if t is not base]
    if base is not None:
        header += [f"{t.name} − {base.name}" for t in others]
    rows = []
    for task in tasks:
        metric = next((t.primary[task] for t in runs if task in t.primary), None)
        for name in ([metric] if metric else []) + ["loss"]:
            vals = [t.tasks.get(task, {}).get(name) for t in runs]
            cells: list[Any] = [task, name] + [_fmt(v, 4) for v in vals]
            if base is not None:
                bv = base.tasks.get(task, {}).get(name)
                for t in others:
                    v = t.tasks.get(task, {}).get(name)
                    if v is None or bv is None or math.isnan(v) or math.isnan(bv):
                        cells.append("-")
                        continue
                    diff = v - bv
                    higher = True if name != "loss" else False
                    if name == metric:
                        higher = next(
                            (r.higher_is_better[task] for r in runs if task in r.higher_is_better),
                            True,
                        )
                    better = diff > 0 if higher else diff < 0
                    cells.append(_Cell(f"{diff:+.4f}", strong=better and diff != 0))
            rows.append(_cells(*cells))
    out.append(
        _Table(
            tuple(header),
            tuple(rows),
            caption="Differences in bold favour the grouped model (higher metric or lower loss).",
        )
    )
    prow = [
        _cells("total", *[_fmt(t.params_total) for t in runs]),
    ]
    kinds: list[str] = []
    for t in runs:
        kinds += [k for k in t.params_shared if k not in kinds]
    for kind in kinds:
        prow.append(
            _cells(
                f"{kind} blocks (all copies)",
                *[
                    f"{_fmt(t.params_shared.get(kind))}"
                    + (f" in {t.groups[kind]} group(s)" if kind in t.groups else "")
                    for t in runs
                ],
            )
        )
    out.append(_Table(("parameters", *[t.name for t in runs]), tuple(prow)))
    return out


def _layout(report: Report, figures: Mapping[str, Figure]) -> list[Any]:
    blocks: list[Any] = [_Heading(1, report.title)]
    blocks.append(
        _Para(f"Measurement directory {report.directory}; report created {report.created}.")
    )
    blocks.append(_Callout(report.verdict, report.actionable))
    if report.notes:
        blocks.append(_Bullets(tuple(report.notes)))
    blocks += _summary_blocks(report)
    blocks += _plan_blocks(report)
    for lev in report.levels:
        blocks += _level_blocks(report, lev, figures)
    blocks += _train_blocks(report)
    prov = report.measure.get("provenance")
    if isinstance(prov, Mapping):
        facts = [f"{k} {prov[k]}" for k in ("hetero_version", "python", "numpy") if k in prov]
        if facts:
            blocks.append(_Heading(2, "Provenance"))
            blocks.append(_Para("Measured with " + ", ".join(facts) + "."))
        cfg = report.measure.get("learner_config")
        if isinstance(cfg, Mapping) and cfg:
            blocks.append(
                _Para(
                    "Learner configuration: "
                    + ", ".join(f"{k}={v}" for k, v in sorted(cfg.items()))
                    + "."
                )
            )
    return blocks


# ------------------------------------------------------------------------------ rendering
_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.8em 0;font-size:.86em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}
caption{caption-side:bottom;text-align:left;font-size:.9em;color:#555;padding-top:.3em}
.callout{padding:.8em 1em;border-radius:4px;margin:1em 0;font-weight:600}
.ok{background:#e8f5e9;border-left:5px solid #2e7d32}
.warn{background:#fff3e0;border-left:5px solid #e65100}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}.scroll{overflow-x:auto}
"""


def _is_number(text: str) -> bool:
    head = text.split(" ")[0].lstrip("+-")
    return bool(head) and (head[0].isdigit() or head in ("inf", "-"))


def _html_cell(c: _Cell, tag: str = "td") -> str:
    text = html.escape(c.text)
    if c.strong:
        text = f"<strong>{text}</strong>"
    if c.em:
        text = f"<em>{text}</em>"
    cls = ' class="n"' if tag == "td" and _is_number(c.text) else ""
    title = f' title="{html.escape(c.title)}"' if c.title else ""
    return f"<{tag}{cls}{title}>{text}</{tag}>"


def _html_text(text: str) -> str:
    """Escape, and turn `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


def render_html(report: Report, figures: Sequence[Figure] = ()) -> str:
    """The report as one self-contained HTML page (figures as base64 ``data:`` URIs).

    Parameters
    ----------
    report : Report
    figures : sequence of Figure
        From :func:`render_figures`.

    Returns
    -------
    str
    """
    figs = {f.name: f for f in figures}
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    for block in _layout(report, figs):
        if isinstance(block, _Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, _Para):
            out.append(f"<p>{_html_text(block.text)}</p>")
        elif isinstance(block, _Callout):
            cls = "ok" if block.ok else "warn"
            out.append(f'<div class="callout {cls}">{_html_text(block.text)}</div>')
        elif isinstance(block, _Bullets):
            items = "".join(f"<li>{_html_text(i)}</li>" for i in block.items)
            out.append(f"<ul>{items}</ul>")
        elif isinstance(block, _Table):
            rows = ["<tr>" + "".join(_html_cell(_Cell(h), "th") for h in block.header) + "</tr>"]
            rows += ["<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in block.rows]
            cap = f"<caption>{_html_text(block.caption)}</caption>" if block.caption else ""
            out.append(f'<div class="scroll"><table>{cap}{"".join(rows)}</table></div>')
        elif isinstance(block, _FigRef):
            fig = figs[block.name]
            data = base64.b64encode(fig.png).decode("ascii")
            out.append(
                f'<figure><img alt="{html.escape(fig.caption)}" '
                f'src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def _md_cell(c: _Cell) -> str:
    text = _md_escape(c.text) if c.text else " "
    if c.strong and c.text:
        text = f"**{text}**"
    if c.em and c.text:
        text = f"_{text}_"
    return text


def render_markdown(
    report: Report, figures: Sequence[Figure] = (), *, figure_dir: str = FIGURE_DIR
) -> str:
    """The report as Markdown; figures are linked as ``figure_dir/<name>.png``.

    Parameters
    ----------
    report : Report
    figures : sequence of Figure
    figure_dir : str
        Folder of the figure files, relative to the Markdown file.

    Returns
    -------
    str
    """
    figs = {f.name: f for f in figures}
    out: list[str] = []
    for block in _layout(report, figs):
        if isinstance(block, _Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, _Para):
            out.append(block.text)
        elif isinstance(block, _Callout):
            out.append(f"> **{'OK' if block.ok else 'Caution'}:** {block.text}")
        elif isinstance(block, _Bullets):
            out.append("\n".join(f"- {i}" for i in block.items))
        elif isinstance(block, _Table):
            lines = [
                "| " + " | ".join(_md_escape(h) for h in block.header) + " |",
                "|" + "|".join("---" for _ in block.header) + "|",
            ]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            if block.caption:
                lines += ["", f"_{_md_escape(block.caption)}_"]
            out.append("\n".join(lines))
        elif isinstance(block, _FigRef):
            fig = figs[block.name]
            out.append(f"![{fig.caption}]({figure_dir}/{fig.name}.png)\n\n_{fig.caption}_")
    return "\n\n".join(out) + "\n"


# ------------------------------------------------------------------------------ figures
def _png(fig: Any, *, dpi: int = 110) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _unclip(fig: Any) -> Any:
    """Let node labels reach past the axes (the saved image grows to hold them)."""
    for ax in fig.axes:
        for text in ax.texts:
            text.set_clip_on(False)
    return fig


def _new_figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _dendrogram(linkage: np.ndarray, labels: Sequence[str], k: int | None, title: str) -> Any:
    """``plotting.plot_dendrogram`` tall enough for the rotated labels, legend outside."""
    from hetero import plotting

    longest = max((len(str(lab)) for lab in labels), default=0)
    fig, ax = _new_figure(max(6.0, 0.45 * len(labels) + 2.5), 3.5 + 0.08 * longest)
    plotting.plot_dendrogram(linkage, labels, n_groups=k, ax=ax)
    if ax.get_legend() is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(f"average-linkage dendrogram of the {title}")
    return fig


def _heatmap(
    matrix: Any,
    plan: Any | None = None,
    *,
    diverging: bool = False,
    boxed: np.ndarray | None = None,
    title: str = "",
    cbar_label: str = "",
) -> Any:
    """``plotting.plot_heatmap`` on a figure sized for the labels, two-decimal annotations.

    ``diverging`` centres a red-blue map at zero; ``boxed`` outlines entries (in the
    matrix's own order, before any plan reordering).
    """
    from matplotlib.patches import Rectangle

    from hetero import plotting

    n = matrix.n
    longest = max((len(str(lab)) for lab in matrix.labels), default=0)
    cell, char = 0.55, 0.075
    fig, ax = _new_figure(cell * n + char * longest + 1.8, cell * n + char * longest + 0.9)
    plotting.plot_heatmap(
        matrix, plan, ax=ax, annot=n <= 20, cmap="RdBu_r" if diverging else "viridis"
    )
    shown = [t.get_text() for t in ax.get_yticklabels()]  # labels in drawing order
    order = (
        [matrix.labels.index(lab) for lab in shown]
        if sorted(shown) == sorted(matrix.labels)
        else list(range(n))
    )
    values = np.asarray(matrix.values, dtype=float)[np.ix_(order, order)]
    mesh = ax.collections[0]
    if diverging:
        off = np.isfinite(values) & ~np.eye(n, dtype=bool)
        vmax = float(np.max(np.abs(values[off]))) if off.any() else 1.0
        mesh.set_clim(-(vmax or 1.0), vmax or 1.0)
    for text in ax.texts:
        x, y = text.get_position()
        i, j = int(y), int(x)
        if not (0 <= i < n and 0 <= j < n and np.isfinite(values[i, j])):
            continue
        v = values[i, j]
        text.set_text("0" if abs(v) < 0.005 else f"{v:.2f}")
        r, g, b, _ = mesh.cmap(mesh.norm(v))
        text.set_color("black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.408 else "white")
    if boxed is not None:
        marks = np.asarray(boxed, dtype=bool)[np.ix_(order, order)]
        for i, j in zip(*np.nonzero(marks), strict=True):
            if i != j:
                ax.add_patch(
                    Rectangle((j, i), 1, 1, fill=False, edgecolor="black", lw=1.6, clip_on=False)
                )
    if title:
        ax.set_title(title)
    if cbar_label and len(fig.axes) > 1:
        fig.axes[1].set_ylabel(cbar_label)
    return fig


def render_figures(report: Report) -> list[Figure]:
    """Draw the report's figures with :mod:`hetero.plotting` (PNG bytes, Agg canvases).

    Per level: the distance heatmap with the plan's group boundaries, the transfer heatmap
    with significant entries boxed, a graph of the closest units coloured by group and,
    when the distances are complete, the dendrogram with the plan's cut, the clustermap and
    the singular-value spectrum.

    Returns
    -------
    list of Figure
    """
    from hetero import plotting
    from hetero.grouping import cluster

    figures: list[Figure] = []
    plan = report.plan
    for lev in report.levels:
        what = lev.level
        d = lev.distance
        figures.append(
            Figure(
                f"{what}_distance",
                f"{what.capitalize()} distances d"
                + (
                    " (ordered by plan group; white lines mark group boundaries)."
                    if lev.groups
                    else "."
                ),
                _png(
                    _heatmap(
                        d,
                        plan if lev.groups else None,
                        title=f"{what} distances d",
                        cbar_label="d",
                    )
                ),
            )
        )
        if lev.transfer is not None:
            figures.append(
                Figure(
                    f"{what}_transfer",
                    f"Directed {what} transfer T (rows: source, columns: target): negative "
                    "values mean the source helps the target; boxed entries differ from zero "
                    "significantly.",
                    _png(
                        _heatmap(
                            lev.transfer,
                            diverging=True,
                            boxed=lev.significant,
                            title=f"{what} transfer T (boxed: significant)",
                            cbar_label="T = L(source → target) − L(target)",
                        )
                    ),
                )
            )
        complete = bool(d.observed.all())
        if complete and lev.n >= 3:
            _, Z = cluster(d, n_groups=1)
            k = len(lev.groups) if lev.groups else None
            figures.append(
                Figure(
                    f"{what}_dendrogram",
                    f"Average-linkage dendrogram of the {what} distances"
                    + (f" with the cut into {k} groups." if k else "."),
                    _png(_dendrogram(Z, d.labels, k, f"{what} units")),
                )
            )
            figures.append(
                Figure(
                    f"{what}_clustermap",
                    f"Clustermap of the {what} distances.",
                    _png(plotting.plot_clustermap(d, Z)),
                )
            )
        if lev.n >= 2:
            figures.append(
                Figure(
                    f"{what}_graph",
                    f"Units linked where their {what} distance is among the smallest quarter, "
                    "coloured by plan group.",
                    _png(_unclip(plotting.plot_graph(d, plan if lev.groups else None))),
                )
            )
        if lev.spectrum is not None:
            s, cum = lev.spectrum
            figures.append(
                Figure(
                    f"{what}_spectrum",
                    f"Singular values of the {what} distance matrix and the cumulative "
                    "fraction of its squared norm they explain.",
                    _png(plotting.plot_spectrum(s, cum, rank=min(3, len(s)))),
                )
            )
    return figures


def write_report(
    directory: str | os.PathLike,
    train_dirs: Iterable[str | os.PathLike] = (),
    out: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    figures: bool = True,
) -> ReportPaths:
    """Build, render and write the report of a measurement directory.

    Everything is read and rendered in memory first; files are written atomically only
    after that succeeded, so bad input never leaves a partial report behind.

    Parameters
    ----------
    directory : path-like
        Output directory of ``hetero measure``.
    train_dirs : iterable of path-like
        Output directories of ``hetero train`` (grouped and share-all models).
    out : path-like, optional
        Output directory of the report (default: ``directory``).
    title : str, optional
    figures : bool
        Draw figures (False: tables only, no matplotlib needed).

    Returns
    -------
    ReportPaths
    """
    report = build_report(directory, train_dirs, title=title)
    figs = render_figures(report) if figures else []
    page = render_html(report, figs)
    text = render_markdown(report, figs)
    out_dir = Path(out) if out is not None else Path(directory)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # the figure set is swapped in whole (an earlier report's extra figures go with it);
        # the pages, written last, only ever link a complete set
        fig_dir = out_dir / FIGURE_DIR
        if figs:
            fig_paths = tuple(atomic_write_dir(fig_dir, {f"{f.name}.png": f.png for f in figs}))
        else:
            fig_paths = ()
            shutil.rmtree(fig_dir, ignore_errors=True)  # an earlier report's, now unlinked
        md = atomic_write_text(out_dir / "report.md", text)
        page_path = atomic_write_text(out_dir / "report.html", page)
    except OSError as exc:
        raise HeteroError(
            f"cannot write the report ({exc.strerror or exc})", source=exc.filename or out_dir
        ) from None
    return ReportPaths(html=page_path, markdown=md, figures=fig_paths)
