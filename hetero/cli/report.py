"""``hetero report``: an HTML + Markdown report of a measurement (and training runs, a plan
comparison)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hetero.cli._common import add_command

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
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
) -> None:
    """Write DIR/report.html (self-contained) and report.md with its figures."""
    from hetero.report import write_report

    paths = write_report(
        directory, train or [], out, title=title, figures=figures, compare_dir=compare
    )
    if not quiet:
        typer.echo(f"wrote {paths.html}")
        typer.echo(f"wrote {paths.markdown} ({len(paths.figures)} figures)")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``hetero`` app."""
    add_command(app, "report", report_cmd)
