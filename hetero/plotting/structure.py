"""The structure behind a matrix: dendrogram, graph of close units, singular-value spectrum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan
from hetero.plotting._common import (
    cut_height,
    draw_dendrogram,
    group_colours,
    groups_of,
    label_groups,
    link_colours,
    new_axes,
)

__all__ = ["plot_dendrogram", "plot_graph", "plot_spectrum"]


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


def plot_graph(
    matrix: HeterogeneityMatrix,
    plan: GroupingPlan | None = None,
    *,
    quantile: float = 0.25,
    ax: Any = None,
    seed: int = 0,
    title: str | None = None,
) -> Any:
    """Graph of units: edges for distances at or below the ``quantile`` of the observed
    off-diagonal distances, nodes coloured by plan group (spring layout, seeded).

    Parameters
    ----------
    matrix : HeterogeneityMatrix
        Distances.
    plan : GroupingPlan, optional
        Colours the nodes by group (with a legend); units outside the plan are grey.
    quantile : float
    ax : matplotlib Axes, optional
    seed : int
        Seed of the spring layout.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import networkx as nx
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    D = matrix.values
    n = matrix.n
    off = matrix.observed & ~np.eye(n, dtype=bool)
    G = nx.Graph()
    G.add_nodes_from(matrix.labels)
    if off.any():
        cutoff = float(np.quantile(D[off], quantile))
        for i, j in zip(*np.nonzero(np.triu(off, 1)), strict=True):
            if D[i, j] <= cutoff:
                G.add_edge(matrix.labels[i], matrix.labels[j], weight=float(D[i, j]))
    groups = groups_of(matrix, plan)
    colours = group_colours(matrix.labels, groups)
    fig, ax = new_axes(ax, (7.0, 6.0))
    # networkx only lays the graph out: its drawing functions go through pyplot, which
    # would pick a global backend
    pos = nx.spring_layout(G, seed=seed)
    xy = np.array([pos[label] for label in matrix.labels]).reshape(n, 2)
    ax.scatter(xy[:, 0], xy[:, 1], s=300, c=colours, zorder=2)
    segments = [(pos[a], pos[b]) for a, b in G.edges]
    ax.add_collection(LineCollection(segments, colors="0.6", linewidths=1.0, zorder=1))
    for label, (x, y) in zip(matrix.labels, xy, strict=True):
        # labels may reach past the axes; the saved image grows to hold them
        ax.text(x, y, label, fontsize=7, ha="center", va="center", zorder=3, clip_on=False)
    ax.margins(0.12)
    if groups and len(groups) <= 20:
        first = [matrix.labels.index(g[0]) for g in groups]
        handles = [
            Line2D([], [], ls="", marker="o", color=colours[i], label=f"group {g}")
            for g, i in enumerate(first)
        ]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_axis_off()
    ax.set_title(title or f"units linked at distance <= {int(quantile * 100)}th percentile")
    return fig
