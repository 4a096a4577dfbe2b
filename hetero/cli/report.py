"""``hetero report``: an HTML + Markdown report of a measurement (and training runs)."""

from __future__ import annotations

from pathlib import Path

import typer

from hetero.cli._common import handle_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``hetero`` app."""

    @app.command("report")
    @handle_errors
    def report_cmd(
        directory: Path = typer.Argument(..., help="Output directory of `hetero measure`."),
        train: list[Path] = typer.Option(
            [],
            "--train",
            help="Output directory of `hetero train` (repeatable: grouped and share-all).",
        ),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Directory of the report files (default: DIRECTORY)."
        ),
        title: str | None = typer.Option(None, "--title", help="Report title."),
        figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw figures."),
    ) -> None:
        """Write DIRECTORY/report.html (self-contained) and report.md with its figures."""
        from hetero.report import write_report

        paths = write_report(directory, train, out, title=title, figures=figures)
        typer.echo(f"wrote {paths.html}")
        typer.echo(f"wrote {paths.markdown} ({len(paths.figures)} figures)")
