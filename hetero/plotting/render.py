"""Figure sets as PNG bytes: one matrix (``hetero plot``) or a whole measurement.

:func:`render_measurement` draws what ``hetero measure`` writes to ``figures/`` and what
``hetero report`` embeds; :func:`render_all` draws the figures of one matrix. Both read the
tree and the groups from the plan; only :func:`render_all` clusters, and only when it is
given no plan linkage to draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan
from hetero.plotting._common import (
    groups_of,
    plan_tree,
    provenance_mask,
    to_png,
)
from hetero.plotting.heatmaps import plot_clustermap, plot_heatmap
from hetero.plotting.structure import plot_dendrogram, plot_graph, plot_spectrum

__all__ = [
    "MEASUREMENT_FIGURES",
    "linkage_method",
    "render_all",
    "render_measurement",
    "spectrum_rank",
]

#: File-name suffixes of a measurement's figures per level, in drawing order
#: (``modality_heatmap.png``, ``modality_transfer_heatmap.png``, ...).
MEASUREMENT_FIGURES = (
    "heatmap",
    "transfer_heatmap",
    "dendrogram",
    "clustermap",
    "graph",
    "spectrum",
)


def spectrum_rank(cumulative: np.ndarray, fraction: float = 0.9) -> int:
    """Smallest rank whose cumulative explained fraction reaches ``fraction``."""
    cum = np.asarray(cumulative, dtype=float)
    return int(min(np.searchsorted(cum, fraction - 1e-12) + 1, len(cum)))


def linkage_method(plan: GroupingPlan | None) -> str:
    """The linkage method the plan was clustered with (from its provenance; "average")."""
    config = ((plan.provenance or {}).get("config") or {}) if plan is not None else {}
    method = config.get("method") if isinstance(config, Mapping) else None
    return method if isinstance(method, str) else "average"


def _structure(
    distance: HeterogeneityMatrix,
    plan: GroupingPlan | None,
    tree: tuple[np.ndarray, list[str]] | None,
    what: str,
) -> dict[str, Any]:
    """Dendrogram, clustermap (given a tree) and spectrum (complete matrix) figures of the
    ``what`` level ("modality" or "interaction")."""
    figures: dict[str, Any] = {}
    groups = groups_of(distance, plan)
    if tree is not None and distance.n >= 2:
        Z, leaves = tree
        method = linkage_method(plan)
        figures["dendrogram"] = plot_dendrogram(
            Z,
            leaves,
            groups=groups,
            title=f"{method}-linkage dendrogram of the {what} units",
        )
        figures["clustermap"] = plot_clustermap(
            distance.reorder(leaves), Z, plan=plan if groups else None
        )
    if distance.is_complete and distance.n >= 2:
        from hetero.completion import singular_spectrum

        s, cum = singular_spectrum(distance)
        figures["spectrum"] = plot_spectrum(
            s, cum, rank=spectrum_rank(cum), title=f"singular values of the {what} distances"
        )
    return figures


def render_all(matrix: HeterogeneityMatrix, plan: GroupingPlan | None = None) -> dict[str, bytes]:
    """Render every figure of one matrix (and ``plan``) to PNG bytes, keyed by file name.

    ``heatmap.png`` and ``graph.png`` always; ``dendrogram.png``, ``clustermap.png`` and
    ``spectrum.png`` for a complete matrix of two or more units. The tree is the plan's
    linkage when it covers the matrix (coloured by the plan's groups), else an
    average-linkage clustering of the matrix.

    Parameters
    ----------
    matrix : HeterogeneityMatrix
        Distances (a signed matrix is drawn with a diverging colormap).
    plan : GroupingPlan, optional

    Returns
    -------
    dict of str -> bytes
    """
    figures: dict[str, Any] = {
        "heatmap": plot_heatmap(matrix, plan, italic=provenance_mask(matrix, "completed")),
        "graph": plot_graph(matrix, plan),
    }
    if matrix.is_complete and matrix.n >= 2:
        tree = plan_tree(matrix, plan)
        if tree is None:
            from hetero.grouping import cluster

            _, Z = cluster(matrix, n_groups=1)
            tree = (Z, list(matrix.labels))
        figures.update(_structure(matrix, plan, tree, matrix.kind))
    order = ("heatmap", "dendrogram", "clustermap", "spectrum", "graph")
    return {f"{name}.png": to_png(figures[name]) for name in order if name in figures}


def render_measurement(
    levels: Mapping[str, tuple[HeterogeneityMatrix | None, HeterogeneityMatrix]],
    plan: GroupingPlan | None = None,
) -> dict[str, bytes]:
    """Render the figure set of a measurement to PNG bytes, keyed by file name.

    Per level ``L`` (``modality``, ``interaction``):

    - ``L_heatmap.png``: distances ordered by plan group with the group boundaries;
      completed entries (``completed`` in the distance matrix's provenance) in italics;
    - ``L_transfer_heatmap.png`` (with a transfer matrix): the signed transfer T on a
      diverging colormap centred at zero, in the same order, entries flagged
      ``significant`` in its provenance boxed;
    - ``L_dendrogram.png`` and ``L_clustermap.png`` (when the plan holds this level's
      linkage): the plan's tree, coloured by the plan's groups, with its cut;
    - ``L_graph.png``: units linked where they are closest, coloured by plan group;
    - ``L_spectrum.png`` (complete distances): singular values, the rank reaching 90%
      marked.

    Nothing is clustered here: without the plan's linkage there is no dendrogram.

    Parameters
    ----------
    levels : mapping of str -> (HeterogeneityMatrix or None, HeterogeneityMatrix)
        Level name -> ``(transfer, distance)`` as ``hetero measure`` writes them
        (``L_transfer.json``, ``L.json``); the transfer may be None.
    plan : GroupingPlan, optional

    Returns
    -------
    dict of str -> bytes
        In :data:`MEASUREMENT_FIGURES` order within each level.
    """
    files: dict[str, bytes] = {}
    for level, (transfer, distance) in levels.items():
        figures: dict[str, Any] = {
            "heatmap": plot_heatmap(
                distance,
                plan,
                signed=False,
                italic=provenance_mask(distance, "completed"),
                title=f"{level} distances d",
            )
        }
        if transfer is not None:
            # ordered like the distances (same plan order: the two maps read side by side)
            figures["transfer_heatmap"] = plot_heatmap(
                transfer.copy(kind=distance.kind),
                plan,
                signed=True,
                boxed=provenance_mask(transfer, "significant"),
            )
        figures["graph"] = plot_graph(distance, plan)
        figures.update(_structure(distance, plan, plan_tree(distance, plan), level))
        for name in MEASUREMENT_FIGURES:
            if name in figures:
                files[f"{level}_{name}.png"] = to_png(figures[name])
    return files
