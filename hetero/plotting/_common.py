"""Shared pieces of the figures: figure creation, PNG bytes, plan groups and their colours.

Figures are :class:`matplotlib.figure.Figure` objects with an Agg canvas, made without
pyplot: no backend is selected, nothing is registered globally and no ``close`` is needed.
matplotlib is imported inside the functions so that ``import hetero.plotting`` stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from hetero.errors import HeteroError
from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan

__all__ = [
    "DEFAULT_DPI",
    "FORMATS",
    "UNGROUPED",
    "check_dpi",
    "check_formats",
    "cut_height",
    "draw_dendrogram",
    "group_colours",
    "groups_of",
    "label_groups",
    "link_colours",
    "new_axes",
    "new_figure",
    "plan_order",
    "plan_tree",
    "provenance_mask",
    "save_figure",
    "to_png",
]

#: File formats a figure can be saved in (``--format``).
FORMATS = ("png", "svg", "pdf")
#: Resolution of raster (PNG) figures written to files; the report embeds them at 110.
DEFAULT_DPI = 150

#: Colour of a unit that no plan group names.
UNGROUPED = (0.62, 0.62, 0.62, 1.0)
#: Colour of every unit when there is no plan.
_PLAIN = (0.27, 0.51, 0.71, 1.0)  # steelblue


def new_figure(width: float, height: float, *, axes: bool = True) -> tuple[Any, Any]:
    """A new Agg-backed figure of ``width`` x ``height`` inches and one axes (or None)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot() if axes else None


def new_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """``(ax.figure, ax)`` when ``ax`` is given, else a new figure of ``figsize``."""
    if ax is not None:
        return ax.figure, ax
    return new_figure(*figsize)


def check_formats(formats: str | Sequence[str]) -> tuple[str, ...]:
    """``formats`` as a tuple of known formats, each once, in the order given.

    Accepts one name, names separated by commas (``"png,pdf"``) or a sequence of them;
    case-insensitive, a leading dot allowed.
    """
    items = [formats] if isinstance(formats, str) else list(formats)
    names = [part.strip().lower().lstrip(".") for item in items for part in str(item).split(",")]
    names = [name for name in names if name]
    if not names:
        raise HeteroError(f"--format: expected one or more of {', '.join(FORMATS)}, got none")
    for name in names:
        if name not in FORMATS:
            raise HeteroError(f"--format: expected png, svg or pdf, got {name!r}")
    return tuple(dict.fromkeys(names))


def check_dpi(dpi: int) -> int:
    """``dpi`` when it is a resolution matplotlib can render (10 to 1200 dots per inch)."""
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer)) or not 10 <= dpi <= 1200:
        raise HeteroError(f"--dpi: expected an integer from 10 to 1200, got {dpi!r}")
    return int(dpi)


def save_figure(fig: Any, fmt: str = "png", *, dpi: int = DEFAULT_DPI) -> bytes:
    """The figure as bytes in ``fmt`` (``png``, ``svg`` or ``pdf``), cropped to its drawn
    content (tight bounding box: no label is cut).

    Vector formats carry no creation date (the same figure gives the same bytes) and PDF
    embeds its fonts as TrueType (Type 42), which journals and editors accept; ``dpi`` sets
    the resolution of PNG and of any raster part of a vector file.
    """
    import matplotlib

    (fmt,) = check_formats(fmt)
    metadata = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    buf = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42, "svg.hashsalt": "hetero"}):
        fig.savefig(
            buf,
            format=fmt,
            dpi=check_dpi(dpi),
            bbox_inches="tight",
            pad_inches=0.05,
            metadata=metadata,
        )
    return buf.getvalue()


def to_png(fig: Any, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (cropped to its drawn content)."""
    return save_figure(fig, "png", dpi=dpi)


def groups_of(matrix: HeterogeneityMatrix, plan: GroupingPlan | None) -> list[list[str]] | None:
    """The plan's groups of the matrix's kind, restricted to its labels (None: no groups).

    Interaction matrices take the crossmodal groups, modality matrices the unimodal ones.
    An empty section (one shared crossmodal group) counts as no groups.
    """
    if plan is None:
        return None
    groups = plan.crossmodal_groups if matrix.kind == "interaction" else plan.unimodal_groups
    present = set(matrix.labels)
    kept = [[label for label in g if label in present] for g in groups]
    kept = [g for g in kept if g]
    return kept or None


def plan_order(
    matrix: HeterogeneityMatrix, plan: GroupingPlan | None
) -> tuple[list[str], list[int]]:
    """Labels ordered by plan group (unplanned labels last) and the group sizes."""
    groups = groups_of(matrix, plan)
    if groups is None:
        return list(matrix.labels), []
    order = [label for g in groups for label in g]
    sizes = [len(g) for g in groups]
    placed = set(order)
    rest = [label for label in matrix.labels if label not in placed]
    if rest:
        order += rest
        sizes.append(len(rest))
    return order, sizes


def group_colours(
    labels: Sequence[str], groups: Sequence[Sequence[str]] | None
) -> list[tuple[float, float, float, float]]:
    """One RGBA colour per label: its group's palette colour (every figure uses the same)."""
    from matplotlib import colormaps

    if not groups:
        return [_PLAIN] * len(labels)
    # tab10 while it has a colour per group; beyond that tab20 (repeating past 20 groups)
    palette = colormaps["tab10" if len(groups) <= 10 else "tab20"]
    size = 10 if len(groups) <= 10 else 20
    index = {label: g for g, members in enumerate(groups) for label in members}
    return [
        tuple(palette(index[label] % size))[:4] if label in index else UNGROUPED  # type: ignore[misc]
        for label in labels
    ]


def label_groups(groups: Sequence[Sequence[str]] | None) -> Sequence[Sequence[str]] | None:
    """The groups whose colours tick labels take: none past 10 groups, where the paler half
    of tab20 would make the text hard to read (nodes, links and strips still show them)."""
    return groups if groups and len(groups) <= 10 else None


def link_colours(
    linkage: np.ndarray, labels: Sequence[str], groups: Sequence[Sequence[str]] | None
) -> list[str]:
    """A colour per tree node (leaves first, then scipy's merge ids ``n + i``): the group's
    colour where every leaf below the node lies in that one group, else grey."""
    from matplotlib.colors import to_hex

    mixed = "#595959"
    if not groups:
        return [mixed] * (2 * len(labels) - 1)
    colours = [to_hex(c) for c in group_colours(labels, groups)]
    ungrouped = to_hex(UNGROUPED)
    nodes = [mixed if c == ungrouped else c for c in colours]
    for a, b, *_ in np.asarray(linkage, dtype=float):
        ca, cb = nodes[int(a)], nodes[int(b)]
        nodes.append(ca if ca == cb else mixed)
    return nodes


def draw_dendrogram(linkage: np.ndarray, ax: Any, **kwargs: Any) -> dict[str, Any]:
    """``scipy.cluster.hierarchy.dendrogram`` on ``ax``, quiet about an all-zero tree."""
    import warnings

    from scipy.cluster.hierarchy import dendrogram

    with warnings.catch_warnings():
        # all merge heights 0 (identical units): scipy sets equal axis limits, which
        # matplotlib widens with a warning; the drawing is right
        warnings.filterwarnings("ignore", message="Attempting to set identical")
        return dendrogram(np.asarray(linkage, dtype=float), ax=ax, **kwargs)


def plan_tree(
    matrix: HeterogeneityMatrix, plan: GroupingPlan | None
) -> tuple[np.ndarray, list[str]] | None:
    """The plan's linkage of the matrix's kind and its leaf labels, when it covers the matrix.

    The linkage is over the returned labels (the order the plan was made in), which are the
    matrix's labels, possibly in another order. None when the plan holds no linkage or one
    over other units.
    """
    if plan is None:
        return None
    if matrix.kind == "interaction":
        Z, labels = plan.crossmodal_linkage, plan.crossmodal_labels
    else:
        Z, labels = plan.unimodal_linkage, plan.unimodal_labels
    if Z is None or labels is None:
        return None
    names = list(labels)
    if sorted(names) != sorted(matrix.labels):
        return None
    return np.asarray(Z, dtype=float), names


def cut_height(linkage: np.ndarray, n_groups: int | None) -> float | None:
    """Height halfway between the merges that leave ``n_groups`` and ``n_groups - 1`` groups."""
    Z = np.asarray(linkage, dtype=float)
    n = Z.shape[0] + 1
    if n_groups is None or not 1 < n_groups <= n:
        return None
    lo = Z[n - n_groups - 1, 2] if n - n_groups - 1 >= 0 else 0.0
    hi = Z[n - n_groups, 2]
    return float(0.5 * (lo + hi))


def provenance_mask(matrix: HeterogeneityMatrix | None, key: str) -> np.ndarray | None:
    """A boolean (n, n) matrix stored in the provenance under ``key`` (None if absent/bad).

    ``hetero measure`` stores ``significant`` in a transfer matrix's provenance and
    ``completed`` in a distance matrix's; ``None`` entries count as False.
    """
    if matrix is None:
        return None
    value = (matrix.provenance or {}).get(key)
    if value is None:
        return None
    try:
        mask = np.array([[bool(v) for v in row] for row in value], dtype=bool)
    except TypeError:
        return None
    return mask if mask.shape == (matrix.n, matrix.n) else None
