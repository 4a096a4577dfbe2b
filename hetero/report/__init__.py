"""The measurement report: one self-contained HTML file plus a Markdown file.

Compute first, render second. :func:`build_report` reads a measurement directory (written by
``hetero measure``) and, optionally, training directories (written by ``hetero train``)
into a :class:`Report`; :func:`render_figures` draws its figures as PNG bytes with
:func:`hetero.plotting.render_measurement` (the renderer of ``hetero measure``'s
``figures/``); :func:`render_html` and :func:`render_markdown` turn the report and its
figures into text with the standard library only; :func:`write_report` does all of it and
writes the files atomically, after everything was read and rendered (bad input never leaves
a partial report behind).

Read from the measurement directory ``DIR`` (never recomputed):

- ``modality.json`` (required) and ``interaction.json``: symmetric distance matrices
  (completed entries flagged in their provenance);
- ``modality_transfer.json`` / ``interaction_transfer.json``: directed transfer matrices
  with std/count; their provenance holds per-entry standard errors, significance flags and
  the unclipped ``T12 + T21``;
- ``check.json`` (metric checks; a level without one shows none), ``plan.json`` (groups,
  tree, stability), ``measure.json`` (learner, estimator, seeds, runs, test-retest
  reliability) and ``runs.sqlite`` (opened read-only).

Read from each training directory: ``metrics.json`` (per-task test metrics, parameter
counts and groups); from a ``hetero compare`` directory: ``compare.json``; from each
``hetero analyze`` folder: its ``<kind>.json`` results (:mod:`~hetero.report.analysis`).

Written to ``OUT`` (default ``DIR``): ``report.html`` (PNG figures embedded as base64
``data:`` URIs, SVG figures inline, no external assets), ``report.md`` and
``report_figures/`` (every figure in each format asked for: PNG, SVG, PDF). A later
``hetero measure`` into ``DIR`` marks the report in ``DIR`` stale (a banner at its top,
:mod:`~hetero.report.stale`) until ``hetero report`` writes it again.

Modules: :mod:`~hetero.report.model` (result types), :mod:`~hetero.report.reader` and
:mod:`~hetero.report.training` (reading), :mod:`~hetero.report.blocks` and
:mod:`~hetero.report.layout` (the block model), :mod:`~hetero.report.html` and
:mod:`~hetero.report.markdown` (rendering), :mod:`~hetero.report.figures`,
:mod:`~hetero.report.compare` and :mod:`~hetero.report.analysis` (the comparison and
analysis sections) and :mod:`~hetero.report.writer`.
"""

from __future__ import annotations

from hetero.report.figures import render_figures
from hetero.report.html import render_html
from hetero.report.markdown import render_markdown
from hetero.report.model import Figure, LevelReport, Report, ReportPaths, TrainRun
from hetero.report.reader import build_report
from hetero.report.stale import is_stale, mark_stale
from hetero.report.training import read_train_dir
from hetero.report.writer import write_report

__all__ = [
    "Figure",
    "LevelReport",
    "Report",
    "ReportPaths",
    "TrainRun",
    "build_report",
    "is_stale",
    "mark_stale",
    "read_train_dir",
    "render_figures",
    "render_html",
    "render_markdown",
    "write_report",
]
