"""``hetero export``: a measurement's long table (one row per ordered pair and level) as
CSV, Parquet or a LaTeX booktabs table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hetero.cli._common import add_command

__all__ = ["register"]


def _target(directory: Path, out: Path | None, fmt: str) -> Path:
    """The file to write: ``-o`` itself, or ``long.<ext>`` in ``-o`` (an existing folder)
    or in DIR."""
    from hetero.export import EXPORT_FORMATS

    name = f"long{EXPORT_FORMATS[fmt]}"
    if out is None:
        return directory / name
    if out.is_dir():
        return out / name
    return out


def export_cmd(
    directory: Annotated[
        Path, typer.Argument(help="Output directory of `hetero measure`.", metavar="DIR")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="File to write, or a folder to write long.csv / long.parquet / long.tex into "
            "(default: DIR).",
            metavar="PATH",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv, parquet (needs pyarrow: the parquet extra) or latex (a booktabs table); "
            "default: from the -o suffix (.csv, .parquet, .tex), else csv.",
            metavar="FMT",
        ),
    ] = None,
    level: Annotated[
        str,
        typer.Option("--level", help="modality, interaction or all.", metavar="LEVEL"),
    ] = "all",
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")] = False,
) -> None:
    """Write one long table of a measurement: one row per ordered pair and level with T,
    its standard error, df, 95 % t interval and significance, d, completed and measured
    flags, and the plan group of source and target when plan.json exists."""
    from hetero._io import check_output_file
    from hetero.errors import HeteroError
    from hetero.export import EXPORT_FORMATS, EXPORT_LEVELS, require_parquet, write_export

    if fmt is None:
        by_suffix = {suffix: name for name, suffix in EXPORT_FORMATS.items()}
        by_suffix[".pq"] = "parquet"
        fmt = by_suffix.get(out.suffix.lower(), "csv") if out is not None else "csv"
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise HeteroError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    if level not in EXPORT_LEVELS:
        raise HeteroError(f"--level: expected one of {', '.join(EXPORT_LEVELS)}, got {level!r}")
    if fmt == "parquet":
        require_parquet()
    path = check_output_file(_target(directory, out, fmt))  # before any reading
    written, n = write_export(directory, path, fmt, level=level)
    if not quiet:
        typer.echo(f"wrote {written} ({n} rows, {fmt})")


def register(app: typer.Typer) -> None:
    """Add ``export`` to the ``hetero`` app."""
    add_command(app, "export", export_cmd)
