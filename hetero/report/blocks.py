"""The report's block model: the report is laid out once as a list of blocks.

The HTML and Markdown renderers only translate blocks, so both files always say the same
thing. This module holds the block types and the number formatting of table cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetero.report.model import as_number

__all__ = [
    "Block",
    "Bullets",
    "Callout",
    "Cell",
    "FigRef",
    "Heading",
    "Para",
    "Table",
    "fix",
    "fmt",
    "make_row",
    "pct",
    "secs",
]


@dataclass(frozen=True)
class Cell:
    """One table cell (``title``: hover text in HTML)."""

    text: str
    strong: bool = False
    em: bool = False
    title: str = ""


@dataclass(frozen=True)
class Heading:
    """A heading of ``level`` 1-3."""

    level: int
    text: str


@dataclass(frozen=True)
class Para:
    """A paragraph (`code` spans allowed)."""

    text: str


@dataclass(frozen=True)
class Callout:
    """The verdict box (``ok``: green, else orange)."""

    text: str
    ok: bool


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table with a caption under it."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class FigRef:
    """A figure, by its name (the file stem)."""

    name: str


def fmt(x: Any, digits: int = 3) -> str:
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


def fix(x: Any, digits: int = 2) -> str:
    """Fixed decimals (``-`` for missing/NaN)."""
    v = as_number(x)
    return "-" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def secs(x: Any) -> str:
    """Seconds, with minutes from 2 minutes on."""
    v = as_number(x)
    if v is None or math.isnan(v):
        return "-"
    return f"{v:.1f} s" if v < 120 else f"{v:.0f} s ({v / 60:.1f} min)"


def pct(x: Any) -> str:
    v = as_number(x)
    return "-" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def make_row(*values: Any) -> tuple[Cell, ...]:
    return tuple(v if isinstance(v, Cell) else Cell(str(v)) for v in values)


#: Any block of a laid-out report.
Block = Heading | Para | Callout | Bullets | Table | FigRef
