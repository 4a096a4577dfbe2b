"""``hetero report``: an HTML + Markdown report of a measurement (and training runs, a plan
comparison)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hetero.cli._common import Dpi, FigureFormats, add_command, figure_options

__all__ = ["register"]


def report_cmd(
    directory: Annotated[
        Path, typer.Argument(help="Output directory of `hetero measure`.", metavar="DIR")
    ],
    train: Annotated[
        list[Path] | None,
        typer.Option(
            "--train",
            help="Output directory of `hetero train` (repeatable: grouped and share-all).",
            metavar="DIR",
        ),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option("--compare", help="Output directory of `hetero compare`.", metavar="DIR"),
    ] = None,
    analysis: Annotated[
        list[Path] | None,
        typer.Option(
            "--analysis",
            help="Output folder of `hetero analyze` (or its result JSON; repeatable): a "
            "section per analysis with its table, verdicts and figure.",
            metavar="PATH",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out", help="Directory of the report files (default: DIR).", metavar="DIR"
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Report title.", metavar="TEXT")
    ] = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw figures.")] = True,
    formats: FigureFormats = None,
    dpi: Dpi = 110,  # hetero.report.figures.REPORT_DPI (not imported: the CLI loads lazily)
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
) -> None:
    """Write DIR/report.html (self-contained) and report.md with its figures.

    Figures go to report_figures/ in every --format; report.html embeds the PNG (or, when
    only SVG is asked for, the SVG inline), report.md links it.
    """
    from hetero.report import write_report

    fmts, dpi = figure_options(formats, dpi)  # checked before anything is read
    paths = write_report(
        directory,
        train or [],
        out,
        title=title,
        figures=figures,
        compare_dir=compare,
        analysis_dirs=analysis or [],
        figure_formats=fmts,
        dpi=dpi,
    )
    if not quiet:
        typer.echo(f"wrote {paths.html}")
        typer.echo(f"wrote {paths.markdown} ({len(paths.figures)} figure files)")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``hetero`` app."""
    add_command(app, "report", report_cmd)
