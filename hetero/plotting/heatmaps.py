"""Heatmaps of a matrix: annotated (ordered by plan group) and clustered (with dendrograms)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan
from hetero.plotting._common import (
    draw_dendrogram,
    group_colours,
    groups_of,
    label_groups,
    link_colours,
    new_axes,
    new_figure,
    plan_order,
)

__all__ = ["plot_clustermap", "plot_heatmap"]

#: Label of a signed transfer matrix's colour bar.
TRANSFER_LABEL = "T = L(source → target) − L(target)"
DISTANCE_LABEL = "distance d"
_NOT_MEASURED = "0.88"  # background of cells without a value


def _decimals(values: np.ndarray) -> int:
    """Decimals that show the largest finite entry with two significant digits or more."""
    finite = np.abs(values[np.isfinite(values)])
    scale = float(finite.max()) if finite.size else 1.0
    if scale == 0 or scale >= 0.1:
        return 2
    return min(6, 1 - math.floor(math.log10(scale)))


def annotation(value: float, decimals: int) -> str:
    """The text of one heatmap cell: ``"0"`` for what rounds to zero, else fixed decimals."""
    return "0" if round(value, decimals) == 0 else f"{value:.{decimals}f}"


def _norm(values: np.ndarray, signed: bool) -> Any:
    from matplotlib.colors import Normalize

    finite = values[np.isfinite(values)]
    if signed:
        # centred at 0 with the same reach both ways: white is "no transfer"
        off = np.isfinite(values) & ~np.eye(len(values), dtype=bool)
        vmax = float(np.max(np.abs(values[off]))) if off.any() else 0.0
        vmax = vmax or 1.0
        return Normalize(-vmax, vmax)
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    lo = min(lo, 0.0)
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def _ink(rgba: Any) -> str:
    """Black or white text, whichever reads better on ``rgba`` (relative luminance)."""
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.408 else "white"


def plot_heatmap(
    matrix: HeterogeneityMatrix,
    plan: GroupingPlan | None = None,
    *,
    ax: Any = None,
    annot: bool | None = None,
    cmap: str | None = None,
    signed: bool | None = None,
    boxed: np.ndarray | None = None,
    italic: np.ndarray | None = None,
    title: str | None = None,
    cbar_label: str | None = None,
) -> Any:
    """Annotated heatmap; with a plan, rows and columns are ordered by group and the group
    boundaries drawn, and the tick labels take the group colours of the other figures.

    Parameters
    ----------
    matrix : HeterogeneityMatrix
        Distances, or a signed (directed) transfer matrix.
    plan : GroupingPlan, optional
    ax : matplotlib Axes, optional
        Draw here (default: a new figure sized for the labels).
    annot : bool, optional
        Write the values in the cells (default: up to 20 labels).
    cmap : str, optional
        Colormap (default: ``"RdBu_r"`` when signed, else ``"viridis"``).
    signed : bool, optional
        Draw a signed matrix: a diverging colormap centred at zero with symmetric limits.
        Default: whether any value is negative.
    boxed : ndarray of bool, optional
        Entries to mark (e.g. the transfer entries whose interval excludes 0), in the
        matrix's own label order: framed inside their cell, and starred when annotated.
    italic : ndarray of bool, optional
        Entries whose annotation is set in italics (e.g. completed distances).
    title, cbar_label : str, optional
        Defaults name the matrix kind and what is drawn (transfer T or distance d).

    Returns
    -------
    matplotlib.figure.Figure
        Unmeasured (NaN) entries are left blank on a grey background.
    """
    from matplotlib.patches import Rectangle

    order, sizes = plan_order(matrix, plan)
    idx = [matrix.index(label) for label in order]
    values = np.asarray(matrix.values, dtype=float)[np.ix_(idx, idx)]
    n = len(order)
    if signed is None:
        signed = bool(np.any(values[np.isfinite(values)] < 0))
    annot = n <= 20 if annot is None else annot
    longest = max((len(label) for label in order), default=0)
    cell, char = (0.55, 0.075) if annot else (0.3, 0.075)
    # at least big enough for the title and the colour bar's label (tiny matrices)
    side = cell * n + char * longest
    fig, ax = new_axes(ax, (max(4.2, side + 1.9), max(3.4, side + 0.9)))
    norm = _norm(values, signed)
    mesh = ax.pcolormesh(
        np.ma.masked_invalid(values),
        cmap=cmap or ("RdBu_r" if signed else "viridis"),
        norm=norm,
    )
    ax.set_facecolor(_NOT_MEASURED)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)  # first row on top
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(n) + 0.5, order, rotation=90)
    ax.set_yticks(np.arange(n) + 0.5, order)
    ax.tick_params(length=2)
    groups = label_groups(groups_of(matrix, plan))
    if groups:
        for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            for text, colour in zip(tick_labels, group_colours(order, groups), strict=True):
                text.set_color(colour)
    kind = "interaction" if matrix.kind == "interaction" else "modality"
    # an inset follows the drawn (square) cells, where a colorbar stealing from ``ax`` would
    # span the whole cell of the layout
    cax = ax.inset_axes((1.04, 0.0, 0.035 * min(3.0, max(1.0, 10 / max(n, 1))), 1.0))
    fig.colorbar(mesh, cax=cax, label=cbar_label or (TRANSFER_LABEL if signed else DISTANCE_LABEL))
    marks = None
    if boxed is not None:
        marks = np.asarray(boxed, dtype=bool)[np.ix_(idx, idx)] & ~np.eye(n, dtype=bool)
    if annot:
        decimals = _decimals(values)
        slanted = None if italic is None else np.asarray(italic, dtype=bool)[np.ix_(idx, idx)]
        for i, j in zip(*np.nonzero(np.isfinite(values)), strict=True):
            v = float(values[i, j])
            star = "*" if marks is not None and marks[i, j] else ""
            ax.text(
                j + 0.5,
                i + 0.5,
                annotation(v, decimals) + star,
                ha="center",
                va="center",
                fontsize=7,
                color=_ink(mesh.cmap(norm(v))),
                fontstyle="italic" if slanted is not None and slanted[i, j] else "normal",
            )
    edge = 0
    line = "0.15" if signed else "white"  # white would vanish in a diverging map's middle
    for size in sizes[:-1]:
        edge += size
        ax.axhline(edge, color=line, lw=2)
        ax.axvline(edge, color=line, lw=2)
    if marks is not None:
        # a frame inside the cell, so that it never merges with a group boundary line
        inset = 0.08
        for i, j in zip(*np.nonzero(marks), strict=True):
            v = float(values[i, j])
            ax.add_patch(
                Rectangle(
                    (j + inset, i + inset),
                    1 - 2 * inset,
                    1 - 2 * inset,
                    fill=False,
                    edgecolor=_ink(mesh.cmap(norm(v))) if np.isfinite(v) else "black",
                    lw=1.3 if annot else 0.9,
                )
            )
    if title is None:
        title = f"{kind} transfer T" if signed else f"{kind} distances d"
        if marks is not None and marks.any():
            title += " (framed" + (", *" if annot else "") + ": significant)"
    ax.set_title(title)
    return fig


def _leaves(linkage: np.ndarray, n: int) -> list[int]:
    from scipy.cluster.hierarchy import leaves_list

    return [int(i) for i in leaves_list(linkage)] if n > 1 else list(range(n))


def plot_clustermap(
    matrix: HeterogeneityMatrix,
    linkage: np.ndarray | None = None,
    *,
    method: str = "average",
    plan: GroupingPlan | None = None,
    title: str | None = None,
) -> Any:
    """The matrix in dendrogram order, with the dendrogram above and to the left
    (a signed matrix on a diverging map centred at zero, like :func:`plot_heatmap`).

    Parameters
    ----------
    matrix : HeterogeneityMatrix
    linkage : ndarray, optional
        scipy linkage over ``matrix.labels`` (in that order), e.g. the plan's. Default:
        clustered here with ``method``.
    method : str
        Linkage method when ``linkage`` is not given.
    plan : GroupingPlan, optional
        Adds a strip of group colours along both axes.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if linkage is None:
        from hetero.grouping import cluster

        _, linkage = cluster(matrix, n_groups=1, method=method)
    Z = np.asarray(linkage, dtype=float)
    n = matrix.n
    leaves = _leaves(Z, n)
    labels = [matrix.labels[i] for i in leaves]
    values = np.asarray(matrix.values, dtype=float)[np.ix_(leaves, leaves)]
    groups = groups_of(matrix, plan)
    longest = max((len(label) for label in labels), default=0)
    size = max(4.0, 0.4 * n) + 0.075 * longest + 1.6
    fig, _ = new_figure(size, size, axes=False)
    strip = 0.04 if groups else 0.001
    grid = fig.add_gridspec(
        3,
        4,
        width_ratios=(0.2, strip, 1.0, 0.04),
        height_ratios=(0.2, strip, 1.0),
        wspace=0.01,
        hspace=0.01,
    )
    ax = fig.add_subplot(grid[2, 2])
    top = fig.add_subplot(grid[0, 2])
    left = fig.add_subplot(grid[2, 0])
    if n > 1:
        nodes = link_colours(Z, list(matrix.labels), groups)
        # scipy puts leaf k at 10 k + 5; both dendrogram axes span the heatmap's 10 n
        for where, orientation in ((top, "top"), (left, "left")):
            draw_dendrogram(
                Z,
                where,
                orientation=orientation,
                no_labels=True,
                link_color_func=nodes.__getitem__,
            )
        top.set_xlim(0, 10 * n)
        left.set_ylim(10 * n, 0)  # first leaf on top, like the heatmap's first row
    for where in (top, left):
        where.set_axis_off()
    signed = bool(np.any(values[np.isfinite(values)] < 0))
    norm = _norm(values, signed)
    mesh = ax.pcolormesh(
        np.ma.masked_invalid(values), cmap="RdBu_r" if signed else "viridis", norm=norm
    )
    ax.set_facecolor(_NOT_MEASURED)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_xticks(np.arange(n) + 0.5, labels, rotation=90)
    ax.yaxis.tick_right()
    ax.set_yticks(np.arange(n) + 0.5, labels)
    ax.tick_params(length=2)
    if groups:
        colours = np.array(group_colours(labels, groups))
        row = fig.add_subplot(grid[2, 1])
        col = fig.add_subplot(grid[1, 2])
        row.imshow(colours[:, None, :], aspect="auto", extent=(0, 1, n, 0))
        col.imshow(colours[None, :, :], aspect="auto", extent=(0, n, 1, 0))
        for where in (row, col):
            where.set_axis_off()
    if label_groups(groups):
        for tick_labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            for text, colour in zip(tick_labels, colours, strict=True):
                text.set_color(colour)
    label = TRANSFER_LABEL if signed else DISTANCE_LABEL
    fig.colorbar(mesh, cax=fig.add_subplot(grid[2, 3]), label=label)
    kind = "interaction" if matrix.kind == "interaction" else "modality"
    what = "transfer T" if signed else "distances"
    fig.suptitle(title or f"{kind} {what} in dendrogram order")
    return fig
