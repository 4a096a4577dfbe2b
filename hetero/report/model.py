"""The report's data model: what is read from a measurement and training directories.

:class:`Report` holds one :class:`LevelReport` per level, the plan, the summaries and the
training runs; :class:`Figure` is one rendered figure; :class:`ReportPaths` says where
:func:`~hetero.report.write_report` wrote its files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FIGURE_DIR",
    "LEVELS",
    "MAX_TABLE_UNITS",
    "PAGE_FORMATS",
    "Figure",
    "LevelReport",
    "Report",
    "ReportPaths",
    "TrainRun",
    "as_number",
    "page_formats",
]

LEVELS = ("modality", "interaction")
FIGURE_DIR = "report_figures"
#: Above this many units the full matrix tables are left out (the figures remain).
MAX_TABLE_UNITS = 24


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
        Entries whose interval excludes zero.
    df : ndarray or None
        Degrees of freedom of each entry's t interval (transfer seeds - 1; NaN: none).
    half_width : ndarray or None
        Half-width of each entry's interval (NaN: fewer than two seeds).
    confidence : float
        Level of the intervals (0.95).
    interval : str
        ``"t"``, or ``"z"`` for files written before t intervals.
    unclipped_sum, unclipped_sum_se : ndarray or None
        ``T12 + T21`` before clipping and its standard error.
    completed : ndarray of bool
        Distance entries filled by completion rather than measured.
    check : dict or None
        Metric-check report as ``hetero measure`` wrote it to ``check.json`` (the core's
        ``MetricReport.to_dict()``); None when check.json holds none for this level.
    check_source : str
        ``"check.json"``, or ``"missing"`` when there is no check (it is not recomputed).
    spectrum : (ndarray, ndarray) or None
        Singular values of the complete distance matrix and their cumulative explained
        fraction (derived from ``L.json``: ``hetero measure`` does not store them).
    groups : list of list of str or None
        The plan's groups of this level (from ``plan.json``).
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
    df: np.ndarray | None = None  # degrees of freedom of each entry's t interval
    half_width: np.ndarray | None = None  # of each entry's t interval (NaN: no interval)
    confidence: float = 0.95
    interval: str = "t"  # "t" (df = seeds - 1) or "z" (files written before t intervals)
    unclipped_sum: np.ndarray | None = None
    unclipped_sum_se: np.ndarray | None = None
    unclipped_sum_significant: np.ndarray | None = None
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

    @property
    def interval_text(self) -> str:
        """How the significance flags were decided, for captions."""
        pct = f"{100 * self.confidence:g} %"
        if self.interval == "z":
            return f"its {pct} normal interval (T ± 1.96 s.e.) excludes zero"
        return f"its {pct} t interval (T ± t(seeds - 1) s.e.) excludes zero"

    def significant_entries(self) -> list[dict[str, Any]]:
        """Significant transfer entries with their interval, largest ``|T| / se`` first."""
        if self.transfer is None or self.significant is None or self.se is None:
            return []
        out = []
        t = self.transfer.values
        for i, j in zip(*np.nonzero(self.significant), strict=True):
            if i == j:
                continue
            se = float(self.se[i, j])
            half = float(self.half_width[i, j]) if self.half_width is not None else math.nan
            out.append(
                {
                    "source": self.labels[i],
                    "target": self.labels[j],
                    "T": float(t[i, j]),
                    "se": se,
                    "ratio": float(t[i, j]) / se if se > 0 else math.inf,
                    "lo": float(t[i, j]) - half,
                    "hi": float(t[i, j]) + half,
                }
            )
        out.sort(key=lambda e: -abs(e["ratio"]))
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
    units : set of str
        The unit labels the model was trained on (from its unimodal groups; empty when not
        recorded).
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
    units: set[str] = field(default_factory=set)

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
        "ok", "failed", "wall_time", "converged_fraction", "converged_by_kind"}`` (the
        fraction of finished runs that stopped by patience, over all runs and per kind).
    train : list of TrainRun
    reliable : bool or None
        Test-retest verdict of the modality matrix (None: unknown).
    verdict : str
        The plain statement on whether the matrix can be acted on.
    actionable : bool
        Whether the verdict says the matrix (and the plan) can be acted on.
    notes : list of str
        Other plain statements (missing inputs, failed runs, no plan, ...).
    controls : dict or None
        ``controls.json`` (per level: per-unit rows and a summary) when the measurement ran
        with controls.
    created : str
        UTC time the report was built.
    compare : hetero.compare.CompareResult or None
        A plan comparison (``hetero compare`` output) to report.
    analyses : list of (str, AnalysisResult)
        Analysis results (``hetero analyze`` outputs, :mod:`hetero.report.analysis`), each
        with the name of its figure (``analysis_<kind>``, numbered when a kind repeats).
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
    controls: dict[str, Any] | None = None
    created: str = ""
    compare: Any | None = None
    analyses: list[tuple[str, Any]] = field(default_factory=list)

    def level(self, name: str) -> LevelReport | None:
        for lev in self.levels:
            if lev.level == name:
                return lev
        return None


#: Formats a page can show a figure in, by preference: PNG (embedded as a ``data:`` URI),
#: else SVG (inline). A PDF is only written next to the report.
PAGE_FORMATS = ("png", "svg")


@dataclass(frozen=True)
class Figure:
    """One rendered figure: a file stem, a caption and its bytes in each format.

    Attributes
    ----------
    name : str
        File stem (``modality_heatmap``); the files are ``name.FORMAT``.
    caption : str
    files : dict of str -> bytes
        Format (``png``, ``svg``, ``pdf``) -> file bytes, holding at least one of
        :data:`PAGE_FORMATS`.
    """

    name: str
    caption: str
    files: Mapping[str, bytes]

    @property
    def page_format(self) -> str:
        """The format the pages show: ``png`` when rendered, else ``svg``."""
        for fmt in PAGE_FORMATS:
            if fmt in self.files:
                return fmt
        raise ValueError(f"figure {self.name!r} has no PNG or SVG rendering")

    @property
    def page_bytes(self) -> bytes:
        """The bytes of :attr:`page_format`."""
        return self.files[self.page_format]


def page_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` with a format the pages can show: PNG is added first when neither PNG
    nor SVG was asked for (``--format pdf`` writes PDF files and embeds PNG)."""
    formats = tuple(formats)
    if not any(f in PAGE_FORMATS for f in formats):
        return ("png", *formats)
    return formats


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`write_report` wrote its files."""

    html: Path
    markdown: Path
    figures: tuple[Path, ...]


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
