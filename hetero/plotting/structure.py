"""The structure behind a matrix: dendrogram, graph of close units, singular-value spectrum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan
from hetero.plotting._common import (
    UNGROUPED,
    cut_height,
    draw_dendrogram,
    group_colours,
    groups_of,
    label_groups,
    link_colours,
    new_axes,
)

__all__ = [
    "graph_edges",
    "layout_positions",
    "plot_dendrogram",
    "plot_graph",
    "plot_spectrum",
]


def _cut_groups(Z: np.ndarray, labels: list[str], n_groups: int) -> list[list[str]]:
    """The groups of cutting the tree into ``n_groups``, numbered left to right."""
    from scipy.cluster.hierarchy import fcluster, leaves_list

    assign = fcluster(Z, n_groups, criterion="maxclust")
    groups: dict[int, list[str]] = {}
    for leaf in leaves_list(Z):
        groups.setdefault(int(assign[leaf]), []).append(labels[leaf])
    return list(groups.values())


def plot_dendrogram(
    linkage: np.ndarray,
    labels: Any,
    *,
    n_groups: int | None = None,
    threshold: float | None = None,
    groups: Sequence[Sequence[str]] | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Dendrogram of a linkage matrix, coloured by group, with the cut giving the groups.

    Parameters
    ----------
    linkage : ndarray of shape (n - 1, 4)
        scipy linkage over ``labels``.
    labels : sequence of str
    n_groups : int, optional
        Draw the cut that leaves this many groups (default: the number of ``groups``).
    threshold : float, optional
        Draw the cut at this height instead.
    groups : sequence of sequence of str, optional
        The plan's groups: a link whose units all lie in one group takes that group's colour
        (the same colour as in the heatmap, graph and clustermap), the others are grey; the
        leaf labels take their group's colour. Default: the cut into ``n_groups``.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = [str(label) for label in labels]
    Z = np.asarray(linkage, dtype=float)
    n = len(labels)
    longest = max((len(label) for label in labels), default=0)
    fig, ax = new_axes(ax, (max(6.0, 0.45 * n + 2.5), 3.5 + 0.08 * longest))
    if n < 2:
        ax.text(0.5, 0.5, "one unit: nothing to cluster", ha="center", va="center")
        ax.set_axis_off()
        return fig
    if groups is None and n_groups is not None and 1 < n_groups <= n:
        groups = _cut_groups(Z, labels, n_groups)
    if n_groups is None and groups:
        n_groups = len(groups)
    nodes = link_colours(Z, labels, groups)
    draw_dendrogram(Z, ax, labels=labels, leaf_rotation=90, link_color_func=nodes.__getitem__)
    if label_groups(groups):
        by_label = dict(zip(labels, group_colours(labels, groups), strict=True))
        for text in ax.get_xticklabels():
            text.set_color(by_label[text.get_text()])
    cut = threshold if threshold is not None else cut_height(Z, n_groups)
    if cut is not None:
        what = f"{n_groups} groups" if threshold is None else f"height {cut:.3g}"
        ax.axhline(cut, color="crimson", ls="--", lw=1.2, label=f"cut ({what})")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_ylabel("merge distance")
    ax.set_title(title or "dendrogram")
    return fig


def plot_spectrum(
    singular_values: np.ndarray,
    cumulative: np.ndarray | None = None,
    *,
    rank: int | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Singular values (bars) and cumulative explained fraction (line, right axis).

    Parameters
    ----------
    singular_values : ndarray
        Descending.
    cumulative : ndarray, optional
        Cumulative fraction of the squared norm (default: from ``singular_values``).
    rank : int, optional
        Mark this rank and the fraction it explains.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.ticker import MaxNLocator

    s = np.asarray(singular_values, dtype=float)
    if cumulative is None:
        total = float(np.sum(s**2))
        cumulative = np.cumsum(s**2) / total if total > 0 else np.ones_like(s)
    cumulative = np.asarray(cumulative, dtype=float)
    fig, ax = new_axes(ax, (6.0, 4.0))
    idx = np.arange(1, len(s) + 1)
    ax.bar(idx, s, color="steelblue")
    ax.set_xlabel("rank")
    ax.set_ylabel("singular value")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    ax2.plot(idx, cumulative, "o-", color="darkorange")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("cumulative explained fraction")
    if rank is not None and 1 <= rank <= len(s):
        ax2.axvline(rank, color="grey", ls=":")
        ax2.annotate(
            f"top {rank}: {100 * cumulative[rank - 1]:.1f}%",
            (rank, cumulative[rank - 1]),
            textcoords="offset points",
            xytext=(6, -16),
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )
    ax.set_title(title or "singular-value spectrum")
    return fig


def _classical_mds(D: np.ndarray) -> np.ndarray:
    """Classical (Torgerson) MDS of a symmetric distance matrix into 2-D, signs fixed so
    that the largest coordinate of each axis is positive (deterministic)."""
    n = len(D)
    J = np.eye(n) - 1.0 / n
    w, V = np.linalg.eigh(-0.5 * J @ (D**2) @ J)
    top = np.argsort(w)[::-1][:2]
    xy = V[:, top] * np.sqrt(np.clip(w[top], 0.0, None))
    flip = np.sign(xy[np.argmax(np.abs(xy), axis=0), [0, 1]])
    return xy * np.where(flip == 0, 1.0, flip)


def _smacof(D: np.ndarray, xy: np.ndarray, n_iter: int = 200) -> np.ndarray:
    """Metric MDS by stress majorization (Guttman transforms) from ``xy``."""
    n = len(D)
    for _ in range(n_iter):
        dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
        with np.errstate(divide="ignore", invalid="ignore"):
            B = np.where(dist > 1e-12, -D / dist, 0.0)
        np.fill_diagonal(B, 0.0)
        np.fill_diagonal(B, -B.sum(axis=1))
        new = B @ xy / n
        if np.abs(new - xy).max() <= 1e-7 * max(1.0, float(np.abs(xy).max())):
            return new
        xy = new
    return xy


def layout_positions(matrix: HeterogeneityMatrix, graph: Any = None, seed: int = 0) -> np.ndarray:
    """Node positions (n, 2) of :func:`plot_graph`.

    A complete matrix of three or more units: metric MDS of ``d`` (classical MDS refined by
    stress majorization; deterministic), with distances below a quarter of the median
    off-diagonal distance raised to it, so that units that are nearly identical stay apart
    on the page instead of hiding each other. Otherwise a seeded spring layout of
    ``graph`` (the units without edges spread apart).
    """
    n = matrix.n
    D = np.asarray(matrix.values, dtype=float)
    if n >= 3 and matrix.is_complete:
        D = np.abs(0.5 * (D + D.T))
        off = D[~np.eye(n, dtype=bool)]
        floor = 0.25 * float(np.median(off))
        if floor > 0:
            D = np.maximum(D, floor)
            np.fill_diagonal(D, 0.0)
            return _smacof(D, _classical_mds(D))
    import networkx as nx

    if graph is None:
        graph = nx.Graph()
        graph.add_nodes_from(matrix.labels)
    pos = nx.spring_layout(graph, seed=seed)
    return np.array([pos[label] for label in matrix.labels], dtype=float).reshape(n, 2)


def graph_edges(
    matrix: HeterogeneityMatrix, quantile: float = 0.25, neighbours: int = 3
) -> tuple[list[tuple[int, int]], float | None]:
    """The pairs ``(i, j)``, ``i < j``, that :func:`plot_graph` links, and the cutoff.

    A pair is linked when its distance is at most the ``quantile`` of the observed
    off-diagonal distances and one of the two is among the other's ``neighbours`` nearest
    units: the graph shows each unit's closest company rather than every small distance
    of a large matrix.
    """
    D = np.asarray(matrix.values, dtype=float)
    n = matrix.n
    off = matrix.observed & ~np.eye(n, dtype=bool)
    if not off.any():
        return [], None
    cutoff = float(np.quantile(D[off], quantile))
    ranked = np.where(off, D, np.inf)
    near = np.zeros((n, n), dtype=bool)
    for i in range(n):
        order = np.argsort(ranked[i], kind="stable")[: max(0, neighbours)]
        near[i, order] = np.isfinite(ranked[i, order])
    near |= near.T
    pairs = [
        (int(i), int(j))
        for i, j in zip(*np.nonzero(np.triu(off & near, 1)), strict=True)
        if D[i, j] <= cutoff
    ]
    return pairs, cutoff


def plot_graph(
    matrix: HeterogeneityMatrix,
    plan: GroupingPlan | None = None,
    *,
    quantile: float = 0.25,
    neighbours: int = 3,
    ax: Any = None,
    seed: int = 0,
    title: str | None = None,
    numbered: bool | None = None,
) -> Any:
    """Graph of units placed by their distances, linked to their closest units, coloured by
    plan group, with a legend.

    Parameters
    ----------
    matrix : HeterogeneityMatrix
        Distances.
    plan : GroupingPlan, optional
        Colours the nodes by group (with a legend); units outside the plan are grey.
    quantile, neighbours
        Edges: see :func:`graph_edges`.
    ax : matplotlib Axes, optional
    seed : int
        Seed of the spring layout (incomplete matrices; see :func:`layout_positions`).
    title : str, optional
    numbered : bool, optional
        Write numbers beside the nodes and list ``number label`` in the legend, instead of
        writing the labels beside the nodes (default: more than 12 units).

    Returns
    -------
    matplotlib.figure.Figure
        Labels (or numbers) sit beside their node, pushed away from its nearest nodes on
        the page, never over the node.
    """
    import networkx as nx
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    n = matrix.n
    labels = list(matrix.labels)
    pairs, cutoff = graph_edges(matrix, quantile, neighbours)
    G = nx.Graph()
    G.add_nodes_from(labels)
    G.add_edges_from((labels[i], labels[j]) for i, j in pairs)
    groups = groups_of(matrix, plan)
    colours = group_colours(labels, groups)
    numbered = n > 12 if numbered is None else numbered
    side = min(8.0, max(4.5, 0.15 * n + 4.0))  # grows with the number of units
    own = ax is None
    fig, ax = new_axes(ax, (side + 2.4 + (0.06 * max(map(len, labels)) if numbered else 0), side))
    # networkx only lays out a graph without distances; its drawing goes through pyplot
    xy = layout_positions(matrix, G, seed)
    ax.scatter(xy[:, 0], xy[:, 1], s=140 if n <= 30 else 80, c=colours, zorder=2,
               edgecolors="white", linewidths=0.8)  # fmt: skip
    ax.add_collection(
        LineCollection([(xy[i], xy[j]) for i, j in pairs], colors="0.6", linewidths=0.9, zorder=1)
    )
    span = float(np.ptp(xy, axis=0).max()) if n else 0.0
    page = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(page, np.inf)
    for k, (label, (x, y)) in enumerate(zip(labels, xy, strict=True)):
        # beside the node, away from its nearest nodes on the page: it stays visible and
        # its label points out of its cluster
        close = np.argsort(page[k], kind="stable")[: min(3, n - 1)]
        away = np.array([x, y]) - (xy[close].mean(axis=0) if len(close) else xy.mean(axis=0))
        length = float(np.hypot(*away))
        dx, dy = (away / length) if length > 1e-9 * max(span, 1e-300) else (0.0, 1.0)
        ax.annotate(
            str(k + 1) if numbered else label,
            (x, y),
            xytext=(8 * dx, 8 * dy),
            textcoords="offset points",
            ha="left" if dx > 0.38 else "right" if dx < -0.38 else "center",
            va="bottom" if dy > 0.38 else "top" if dy < -0.38 else "center",
            fontsize=7,
            zorder=3,
            annotation_clip=False,
        )
    if span > 0:
        ax.set_xlim(xy[:, 0].min() - 0.12 * span, xy[:, 0].max() + 0.12 * span)
        ax.set_ylim(xy[:, 1].min() - 0.12 * span, xy[:, 1].max() + 0.12 * span)
    ax.set_aspect("equal", adjustable="box")  # the limits stay; the box follows them
    handles = []
    if groups and len(groups) <= 20:
        first = [labels.index(g[0]) for g in groups]
        handles += [
            Line2D(
                [], [], ls="", marker="o", color=colours[i], label=f"group {g} ({len(groups[g])})"
            )
            for g, i in enumerate(first)
        ]
        if UNGROUPED in colours:
            handles.append(Line2D([], [], ls="", marker="o", color=UNGROUPED, label="no group"))
    if pairs and cutoff is not None:
        handles.append(
            Line2D([], [], color="0.6", lw=0.9, label=f"d <= {cutoff:.3g}, {neighbours} nearest")
        )
    if numbered:
        if handles:
            handles.append(Line2D([], [], ls="", label=" "))  # a gap before the key
        handles += [
            Line2D([], [], ls="", marker="o", ms=4, color=colours[k], label=f"{k + 1}  {label}")
            for k, label in enumerate(labels)
        ]
    if handles:
        style = {"handles": handles, "frameon": False, "fontsize": 7,
                 "ncols": 1 if len(handles) <= 40 else 2}  # fmt: skip
        if own:  # beside everything the axes drew, its labels included (constrained layout)
            fig.legend(loc="outside right upper", **style)
        else:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), **style)
    ax.set_axis_off()
    where = "metric MDS of d" if matrix.is_complete and n >= 3 else "spring layout"
    ax.set_title(title or f"closest units linked (placed by {where})", fontsize=10)
    return fig
