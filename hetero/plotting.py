"""Figures of heterogeneity matrices and grouping plans (compute first, plot second).

Every function takes already computed objects (matrix, plan, linkage, spectrum), draws on
``ax`` when given (otherwise on a new figure) and returns the :class:`~matplotlib.figure.Figure`.
Figures are created without pyplot (Agg canvas), so nothing needs a display; only the
clustermap goes through seaborn/pyplot, with the Agg backend selected when pyplot was not
imported yet.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import numpy as np

from hetero.errors import PlanError
from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan

__all__ = [
    "plot_clustermap",
    "plot_dendrogram",
    "plot_graph",
    "plot_heatmap",
    "plot_spectrum",
    "render_all",
]


def _new_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _plan_order(
    matrix: HeterogeneityMatrix, plan: GroupingPlan | None
) -> tuple[list[str], list[int]]:
    """Labels ordered by plan group (unplanned labels last) and the group sizes."""
    if plan is None:
        return list(matrix.labels), []
    groups = plan.crossmodal_groups if matrix.kind == "interaction" else plan.unimodal_groups
    present = set(matrix.labels)
    order: list[str] = []
    sizes: list[int] = []
    for group in groups:
        members = [label for label in group if label in present]
        if members:
            order += members
            sizes.append(len(members))
    rest = [label for label in matrix.labels if label not in set(order)]
    if rest:
        order += rest
        sizes.append(len(rest))
    return order, sizes


def plot_heatmap(
    matrix: HeterogeneityMatrix,
    plan: GroupingPlan | None = None,
    *,
    ax: Any = None,
    annot: bool | None = None,
    cmap: str = "viridis",
) -> Any:
    """Annotated heatmap; with a plan, rows are ordered by group and boundaries drawn.

    Unmeasured entries are left blank. ``annot`` defaults to True for up to 20 labels.
    """
    import seaborn as sns

    order, sizes = _plan_order(matrix, plan)
    m = matrix.reorder(order)
    n = m.n
    fig, ax = _new_axes(ax, (max(5.0, 0.45 * n + 2), max(4.0, 0.4 * n + 1.5)))
    annot = n <= 20 if annot is None else annot
    sns.heatmap(
        m.to_frame(),
        ax=ax,
        mask=~m.observed,
        annot=annot,
        fmt=".2g",
        cmap=cmap,
        square=True,
        cbar_kws={"label": "distance" if plan is not None else "value"},
        annot_kws={"fontsize": 7},
    )
    edge = 0
    for size in sizes[:-1]:
        edge += size
        ax.axhline(edge, color="white", lw=2)
        ax.axvline(edge, color="white", lw=2)
    ax.set_title(f"{matrix.kind} heterogeneity")
    return fig


def plot_dendrogram(
    linkage: np.ndarray,
    labels: Any,
    *,
    n_groups: int | None = None,
    threshold: float | None = None,
    ax: Any = None,
) -> Any:
    """Dendrogram of a linkage matrix with the cut giving ``n_groups`` (or at ``threshold``)."""
    from scipy.cluster.hierarchy import dendrogram

    labels = list(labels)
    Z = np.asarray(linkage, dtype=float)
    n = len(labels)
    fig, ax = _new_axes(ax, (max(6.0, 0.35 * n + 2), 4.5))
    if n < 2:
        ax.text(0.5, 0.5, "one unit: nothing to cluster", ha="center", va="center")
        return fig
    cut = threshold
    if cut is None and n_groups is not None and 1 < n_groups <= n:
        heights = Z[:, 2]
        lo = heights[n - n_groups - 1] if n - n_groups - 1 >= 0 else 0.0
        hi = heights[n - n_groups]
        cut = 0.5 * (lo + hi)
    dendrogram(
        Z, labels=labels, ax=ax, leaf_rotation=90, color_threshold=cut if cut is not None else 0
    )
    if cut is not None:
        ax.axhline(cut, color="crimson", ls="--", lw=1.2, label=f"cut ({n_groups or ''} groups)")
        ax.legend(loc="upper right")
    ax.set_ylabel("merge distance")
    return fig


def plot_clustermap(
    matrix: HeterogeneityMatrix, linkage: np.ndarray | None = None, *, method: str = "average"
) -> Any:
    """Seaborn clustermap of a complete matrix (seaborn makes its own figure: no ``ax``)."""
    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from hetero.grouping import cluster

    if linkage is None:
        _, linkage = cluster(matrix, n_groups=1, method=method)
    n = matrix.n
    size = max(5.0, 0.4 * n + 3)
    grid = sns.clustermap(
        matrix.to_frame(),
        row_linkage=linkage,
        col_linkage=linkage,
        cmap="viridis",
        figsize=(size, size),
    )
    fig = grid.figure
    plt.close(fig)  # keep pyplot's registry empty; the figure can still be saved
    return fig


def plot_spectrum(
    singular_values: np.ndarray,
    cumulative: np.ndarray | None = None,
    *,
    rank: int | None = None,
    ax: Any = None,
) -> Any:
    """Singular values (bars) and cumulative explained variance (line, right axis)."""
    s = np.asarray(singular_values, dtype=float)
    if cumulative is None:
        total = float(np.sum(s**2))
        cumulative = np.cumsum(s**2) / total if total > 0 else np.ones_like(s)
    fig, ax = _new_axes(ax, (6.0, 4.0))
    idx = np.arange(1, len(s) + 1)
    ax.bar(idx, s, color="steelblue")
    ax.set_xlabel("index")
    ax.set_ylabel("singular value")
    ax2 = ax.twinx()
    ax2.plot(idx, cumulative, "o-", color="darkorange")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("cumulative explained variance")
    if rank is not None and 1 <= rank <= len(s):
        ax2.axvline(rank, color="grey", ls=":")
        ax2.annotate(
            f"top {rank}: {100 * cumulative[rank - 1]:.1f}%",
            (rank, cumulative[rank - 1]),
            textcoords="offset points",
            xytext=(5, -15),
        )
    ax.set_title("singular-value spectrum")
    return fig


def plot_graph(
    matrix: HeterogeneityMatrix,
    plan: GroupingPlan | None = None,
    *,
    quantile: float = 0.25,
    ax: Any = None,
    seed: int = 0,
) -> Any:
    """Graph of units: edges for distances at or below the ``quantile`` of the observed
    off-diagonal distances, nodes coloured by plan group (spring layout, seeded)."""
    import networkx as nx
    from matplotlib import colormaps

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
    colors = []
    palette = colormaps["tab10"]
    for label in matrix.labels:
        try:
            g = plan.group_of(label) if plan is not None else 0
        except PlanError:  # label not in the plan
            g = -1
        colors.append(palette(g % 10) if g >= 0 else (0.6, 0.6, 0.6, 1.0))
    fig, ax = _new_axes(ax, (7.0, 6.0))
    pos = nx.spring_layout(G, seed=seed)
    nx.draw_networkx(
        G, pos=pos, ax=ax, node_color=colors, font_size=7, edge_color="0.6", node_size=300
    )
    ax.set_axis_off()
    ax.set_title(f"units linked at distance <= {int(quantile * 100)}th percentile")
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def render_all(matrix: HeterogeneityMatrix, plan: GroupingPlan | None = None) -> dict[str, bytes]:
    """Render every figure of ``matrix`` (and ``plan``) to PNG bytes, keyed by file name.

    heatmap and graph always; dendrogram, clustermap and spectrum need a complete matrix
    (they are left out otherwise). The dendrogram's cut is the plan's number of groups.
    """
    from hetero.completion import singular_spectrum
    from hetero.grouping import cluster

    images = {
        "heatmap.png": _png(plot_heatmap(matrix, plan)),
        "graph.png": _png(plot_graph(matrix, plan)),
    }
    if matrix.is_complete and matrix.n >= 2:
        _, Z = cluster(matrix, n_groups=1)
        k = None
        if plan is not None:
            k = plan.n_crossmodal_groups if matrix.kind == "interaction" else plan.n_unimodal_groups
            k = k if k and k <= matrix.n else None
        images["dendrogram.png"] = _png(plot_dendrogram(Z, matrix.labels, n_groups=k))
        images["clustermap.png"] = _png(plot_clustermap(matrix, Z))
        s, cum = singular_spectrum(matrix)
        images["spectrum.png"] = _png(plot_spectrum(s, cum, rank=min(3, len(s))))
    return images
