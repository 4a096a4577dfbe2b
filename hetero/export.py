"""Long-format tables of a measurement: one row per ordered pair and level.

:func:`long_rows` builds the rows of one level from its matrices (the one implementation
behind ``hetero measure``'s ``<level>_long.csv`` and ``hetero export``);
:func:`export_rows` reads a measurement folder (through :mod:`hetero.report.reader`, so the
same standard errors, intervals and significance the report shows) into the rows of every
level, with the plan group of each unit when ``plan.json`` exists; :func:`csv_text`,
:func:`latex_table` and :func:`parquet_bytes` turn rows into file contents and
:func:`write_export` writes one file atomically. Torch-free; parquet needs pyarrow (the
``parquet`` extra), the rest the standard library and numpy.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hetero._io import atomic_write_bytes, atomic_write_text
from hetero.errors import HeteroError

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_LEVELS",
    "GROUP_COLUMNS",
    "LONG_COLUMNS",
    "csv_text",
    "export_columns",
    "export_rows",
    "export_text",
    "latex_escape",
    "latex_table",
    "long_rows",
    "parquet_bytes",
    "require_parquet",
    "write_export",
]

#: Columns of one level's long table (``<level>_long.csv``): one row per ordered pair.
LONG_COLUMNS: tuple[str, ...] = (
    "source", "target", "T", "se", "df", "ci_low", "ci_high", "significant", "d", "completed",
    "measured",
)  # fmt: skip
#: Plan-group columns added by :func:`export_rows` when the measurement has a plan.
GROUP_COLUMNS: tuple[str, ...] = ("source_group", "target_group")
#: File formats of ``hetero export`` and their file-name suffixes.
EXPORT_FORMATS: dict[str, str] = {"csv": ".csv", "parquet": ".parquet", "latex": ".tex"}
#: Levels ``hetero export --level`` accepts.
EXPORT_LEVELS = ("modality", "interaction", "all")


def _matrix(value: Any, n: int, dtype: Any) -> np.ndarray:
    """``value`` as an (n, n) array; None gives NaN (numbers) or False (flags)."""
    if value is None:
        return np.full((n, n), np.nan if dtype is float else False, dtype=dtype)
    return np.asarray(value, dtype=dtype).reshape(n, n)


def long_rows(
    labels: Sequence[str],
    transfer: Any,
    distance: Any,
    *,
    se: Any = None,
    df: Any = None,
    half_width: Any = None,
    significant: Any = None,
    completed: Any = None,
    measured: Any = None,
) -> list[dict[str, Any]]:
    """One dict per ordered pair ``source != target`` of a level, in matrix order.

    Parameters
    ----------
    labels : sequence of str
        The units, in matrix order.
    transfer, distance : array-like of shape (n, n) or None
        Directed transfer ``T[source, target]`` and symmetric distances ``d`` (None: NaN).
    se, df, half_width : array-like of shape (n, n), optional
        Standard error, degrees of freedom and half-width of each entry's 95 % t interval
        (missing: NaN).
    significant, completed, measured : array-like of bool, optional
        Whether the interval excludes 0, whether ``d`` was filled in by completion, whether
        the ordered pair was trained (missing: False).

    Returns
    -------
    list of dict
        Keys :data:`LONG_COLUMNS`; ``ci_low``/``ci_high`` are ``T -+ half_width``; missing
        numbers are NaN.
    """
    labels = [str(label) for label in labels]
    n = len(labels)
    t = _matrix(transfer, n, float)
    d = _matrix(distance, n, float)
    se_, df_, half = (_matrix(v, n, float) for v in (se, df, half_width))
    sig, comp, meas = (_matrix(v, n, bool) for v in (significant, completed, measured))
    rows = []
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            rows.append(
                {
                    "source": labels[i],
                    "target": labels[j],
                    "T": float(t[i, j]),
                    "se": float(se_[i, j]),
                    "df": float(df_[i, j]),
                    "ci_low": float(t[i, j] - half[i, j]),
                    "ci_high": float(t[i, j] + half[i, j]),
                    "significant": bool(sig[i, j]),
                    "d": float(d[i, j]),
                    "completed": bool(comp[i, j]),
                    "measured": bool(meas[i, j]),
                }
            )
    return rows


def _level_rows(lev: Any, plan: Any) -> list[dict[str, Any]]:
    """Rows of one :class:`~hetero.report.model.LevelReport` (level and groups added)."""
    transfer = lev.transfer
    t = None if transfer is None else transfer.values
    prov = {} if transfer is None else (transfer.provenance or {})
    measured = prov.get("measured")
    if measured is None and t is not None:  # files without the mask: the pairs with a value
        measured = np.isfinite(np.asarray(t, dtype=float))
    rows = long_rows(
        lev.labels,
        t,
        lev.distance.values,
        se=lev.se,
        df=lev.df,
        half_width=lev.half_width,
        significant=lev.significant,
        completed=lev.completed,
        measured=None if measured is None else [[bool(v) for v in r] for r in measured],
    )
    group = None
    if plan is not None:
        group = {label: g for g, members in enumerate(lev.groups or ()) for label in members}
    for row in rows:
        row["level"] = lev.level
        if group is not None:
            row["source_group"] = group.get(row["source"])
            row["target_group"] = group.get(row["target"])
    return rows


def export_columns(with_groups: bool) -> tuple[str, ...]:
    """Columns of :func:`export_rows`: ``level``, :data:`LONG_COLUMNS` and, with a plan,
    :data:`GROUP_COLUMNS`."""
    return ("level", *LONG_COLUMNS, *(GROUP_COLUMNS if with_groups else ()))


def export_rows(
    directory: str | os.PathLike, level: str = "all"
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The long table of a measurement folder written by ``hetero measure``.

    Parameters
    ----------
    directory : path-like
        Holds ``modality.json`` (required), ``interaction.json`` and the transfer matrices;
        ``check.json`` and ``plan.json`` are read and checked when present.
    level : {"all", "modality", "interaction"}

    Returns
    -------
    rows : list of dict
        One row per ordered pair and level (modality first), as :func:`long_rows` plus
        ``level`` and, when ``plan.json`` exists, ``source_group`` / ``target_group`` (the
        0-based index of the unit's plan group; None for a unit no group names).
    columns : tuple of str
        :func:`export_columns`.

    Raises
    ------
    HeteroError
        Not a measurement folder, a malformed file (naming it), or ``level`` not measured.
    """
    from hetero.report.reader import read_measurement

    if level not in EXPORT_LEVELS:
        raise HeteroError(f"--level: expected one of {', '.join(EXPORT_LEVELS)}, got {level!r}")
    levels, plan, _ = read_measurement(directory)
    chosen = [lev for lev in levels if level in ("all", lev.level)]
    if not chosen:
        raise HeteroError(
            f"no {level} level in this measurement ({level}.json missing)", source=directory
        )
    rows = [row for lev in chosen for row in _level_rows(lev, plan)]
    return rows, export_columns(plan is not None)


def _cell(key: str, value: Any) -> Any:
    """A CSV cell: NaN and None empty, an integral ``df`` or group as an integer."""
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if key == "df" and value.is_integer():
            return int(value)
    return value


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV text (header ``columns``; NaN as an empty cell, booleans as True/False,
    ``df`` as an integer): what ``pandas.read_csv`` reads back."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(k, row.get(k)) for k in columns])
    return buf.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    r"""``text`` with LaTeX's special characters escaped (``_`` -> ``\_``, ...).

    >>> latex_escape("mfeat/fourier_2 & 50%")
    'mfeat/fourier\\_2 \\& 50\\%'
    """
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _num(value: Any, digits: int = 4) -> str:
    if value is None or not math.isfinite(float(value)):
        return "--"
    return f"{float(value):.{digits}f}"


def latex_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    caption: str = "Heterogeneity per ordered pair (95 % t intervals over seeds).",
    label: str = "tab:hetero-long",
) -> str:
    r"""Rows as a LaTeX ``table`` with a booktabs ``tabular`` (needs ``\usepackage{booktabs}``).

    One line per row: level, source, target, ``T``, its standard error, degrees of
    freedom, its 95 % t interval, whether it is significant, ``d``, completed, measured
    and, when among ``columns``, the plan groups; a rule between levels; ``--`` for a
    missing number. Text is escaped with :func:`latex_escape`.
    """
    groups = all(c in columns for c in GROUP_COLUMNS)
    header = ["level", "source", "target", "$T$", "s.e.", "df", r"95\,\% CI", "sig.", "$d$",
              "completed", "measured"]  # fmt: skip
    spec = "lllrrrcl" + "rll"
    if groups:
        header += ["source group", "target group"]
        spec += "rr"
    yes = {True: "yes", False: "no"}
    lines = [
        "% hetero export: requires \\usepackage{booktabs}",
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    previous = None
    for row in rows:
        if previous is not None and row.get("level") != previous:
            lines.append(r"\midrule")
        previous = row.get("level")
        lo, hi = row.get("ci_low"), row.get("ci_high")
        ci = "--"
        if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
            ci = f"[{lo:.4f}, {hi:.4f}]"
        df = row.get("df")
        cells = [
            latex_escape(row.get("level", "")),
            latex_escape(row["source"]),
            latex_escape(row["target"]),
            _num(row.get("T")),
            _num(row.get("se")),
            "--" if df is None or not math.isfinite(df) else f"{df:g}",
            ci,
            yes[bool(row.get("significant"))],
            _num(row.get("d")),
            yes[bool(row.get("completed"))],
            yes[bool(row.get("measured"))],
        ]
        if groups:
            cells += ["--" if row.get(c) is None else str(row[c]) for c in GROUP_COLUMNS]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def require_parquet() -> None:
    """Raise a one-line :class:`HeteroError` unless pyarrow (the ``parquet`` extra) is
    importable."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise HeteroError(
            "--format parquet needs pyarrow, which is not installed: "
            "pip install 'hetero[parquet]' (or use --format csv)"
        )


def parquet_bytes(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    """Rows as a Parquet file (pandas + pyarrow; group columns as nullable integers)."""
    require_parquet()
    import pandas as pd

    frame = pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=list(columns))
    for c in GROUP_COLUMNS:
        if c in frame:
            frame[c] = frame[c].astype("Int64")
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def export_text(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], format: str
) -> str | bytes:
    """The file contents of ``rows`` in ``format`` (:data:`EXPORT_FORMATS`)."""
    if format == "csv":
        return csv_text(rows, columns)
    if format == "latex":
        return latex_table(rows, columns)
    if format == "parquet":
        return parquet_bytes(rows, columns)
    raise HeteroError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {format!r}")


def write_export(
    directory: str | os.PathLike,
    path: str | os.PathLike,
    format: str = "csv",
    *,
    level: str = "all",
) -> tuple[Path, int]:
    """Read a measurement folder and write its long table to ``path`` atomically.

    Parameters
    ----------
    directory : path-like
        Output folder of ``hetero measure``.
    path : path-like
        The file to write.
    format : {"csv", "parquet", "latex"}
    level : {"all", "modality", "interaction"}

    Returns
    -------
    (Path, int)
        The file written and its number of rows.
    """
    if format not in EXPORT_FORMATS:
        raise HeteroError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    if format == "parquet":
        require_parquet()
    rows, columns = export_rows(directory, level)
    data = export_text(rows, columns, format)
    if isinstance(data, bytes):
        return atomic_write_bytes(path, data), len(rows)
    return atomic_write_text(path, data), len(rows)
