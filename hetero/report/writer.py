"""Writing a report: read, render in memory, then write the files atomically."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from hetero._io import atomic_write_dir, atomic_write_text
from hetero.errors import HeteroError
from hetero.report.figures import REPORT_DPI, render_figures
from hetero.report.html import render_html
from hetero.report.markdown import render_markdown
from hetero.report.model import FIGURE_DIR, ReportPaths
from hetero.report.reader import build_report

__all__ = ["write_report"]


def write_report(
    directory: str | os.PathLike,
    train_dirs: Iterable[str | os.PathLike] = (),
    out: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    figures: bool = True,
    compare_dir: str | os.PathLike | None = None,
    analysis_dirs: Iterable[str | os.PathLike] = (),
    figure_formats: str | Sequence[str] = "png",
    dpi: int = REPORT_DPI,
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
    compare_dir : path-like, optional
        Output directory of ``hetero compare`` (a section with its table and figures).
    analysis_dirs : iterable of path-like
        Output folders of ``hetero analyze`` (or their result JSON files): a section per
        analysis with its table, verdicts and figure.
    figure_formats : str or sequence of str
        ``png`` (default), ``svg`` and/or ``pdf``: every figure is written to
        ``report_figures/`` in each; the pages show the PNG (embedded as a ``data:`` URI)
        or, without PNG, the SVG (inline in the HTML); a PDF-only request adds the PNG.
    dpi : int
        Resolution of the PNG figures (default :data:`~hetero.report.figures.REPORT_DPI`).

    Returns
    -------
    ReportPaths
    """
    from hetero.plotting._common import check_dpi, check_formats

    formats = check_formats(figure_formats)  # bad options fail before anything is read
    dpi = check_dpi(dpi)
    report = build_report(
        directory,
        train_dirs,
        title=title,
        compare_dir=compare_dir,
        analysis_dirs=analysis_dirs,
    )
    figs = render_figures(report, formats=formats, dpi=dpi) if figures else []
    page = render_html(report, figs)
    text = render_markdown(report, figs)
    out_dir = Path(out) if out is not None else Path(directory)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # the figure set is swapped in whole (an earlier report's extra figures go with it);
        # the pages, written last, only ever link a complete set
        fig_dir = out_dir / FIGURE_DIR
        if figs:
            files = {f"{f.name}.{fmt}": data for f in figs for fmt, data in f.files.items()}
            fig_paths = tuple(atomic_write_dir(fig_dir, files))
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
