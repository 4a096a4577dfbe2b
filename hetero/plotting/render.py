"""Figure sets as file bytes: one matrix (``hetero plot``) or a whole measurement.

:func:`render_measurement` draws what ``hetero measure`` writes to ``figures/`` and what
``hetero report`` embeds; :func:`render_all` draws the figures of one matrix. Both use the
same drawing functions (one heatmap renderer: a signed T on a diverging map centred at 0
with its significant entries marked, distances on a sequential map), read the tree and the
groups from the plan, and save each figure in every format asked for (PNG, SVG, PDF) with a
tight bounding box. Only :func:`render_all` clusters, and only when it is given no plan
linkage to draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan
from hetero.plotting._common import (
    DEFAULT_DPI,
    check_dpi,
    check_formats,
    groups_of,
    plan_tree,
    provenance_mask,
    save_figure,
)
from hetero.plotting.heatmaps import plot_clustermap, plot_heatmap
from hetero.plotting.structure import plot_dendrogram, plot_graph, plot_spectrum

__all__ = [
    "MEASUREMENT_FIGURES",
    "is_directed",
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


def is_directed(matrix: HeterogeneityMatrix) -> bool:
    """Whether ``matrix`` is a directed transfer matrix rather than distances: it has a
    negative entry or is not symmetric (entries measured both ways that differ)."""
    values = np.asarray(matrix.values, dtype=float)
    finite = np.isfinite(values)
    if np.any(values[finite] < 0):
        return True
    both = finite & finite.T
    return bool(
        np.any(
            np.abs(values - values.T)[both]
            > 1e-12 * max(1.0, np.abs(values[both]).max(initial=0.0))
        )
    )


def _save(
    figures: Mapping[str, Any], names: Any, formats: tuple[str, ...], dpi: int
) -> dict[str, bytes]:
    """``{name.fmt: bytes}`` for each figure in ``names`` order, each format in turn."""
    return {
        f"{name}.{fmt}": save_figure(figures[name], fmt, dpi=dpi)
        for name in names
        if name in figures
        for fmt in formats
    }


def render_all(
    matrix: HeterogeneityMatrix,
    plan: GroupingPlan | None = None,
    *,
    formats: str | Sequence[str] = "png",
    dpi: int = DEFAULT_DPI,
) -> dict[str, bytes]:
    """Render every figure of one matrix (and ``plan``), keyed by file name.

    ``heatmap`` and ``graph`` always; ``dendrogram``, ``clustermap`` and ``spectrum`` for
    a complete matrix of two or more units; each as ``NAME.FORMAT`` for every format. The
    tree is the plan's linkage when it covers the matrix (coloured by the plan's groups),
    else an average-linkage clustering of the matrix.

    A directed transfer matrix (:func:`is_directed`: negative or asymmetric entries, e.g.
    ``modality_transfer.json``) gets its signed heatmap (diverging map centred at 0, the
    entries flagged ``significant`` in its provenance framed and starred); the other
    figures are drawn from its distances ``d = max(T_ij, 0) + max(T_ji, 0)``.

    Parameters
    ----------
    matrix : HeterogeneityMatrix
        Distances or a directed transfer matrix.
    plan : GroupingPlan, optional
    formats : str or sequence of str
        ``png``, ``svg`` and/or ``pdf`` (default PNG).
    dpi : int
        Resolution of PNG files (and of raster parts of vector files).

    Returns
    -------
    dict of str -> bytes
    """
    formats = check_formats(formats)
    dpi = check_dpi(dpi)
    distance = matrix
    if is_directed(matrix):
        from hetero.distance import transfer_to_distance

        heatmap = plot_heatmap(
            matrix, plan, signed=True, boxed=provenance_mask(matrix, "significant")
        )
        distance = transfer_to_distance(matrix.copy(std=None, count=None))
    else:
        heatmap = plot_heatmap(matrix, plan, italic=provenance_mask(matrix, "completed"))
    figures: dict[str, Any] = {"heatmap": heatmap, "graph": plot_graph(distance, plan)}
    if distance.is_complete and distance.n >= 2:
        tree = plan_tree(distance, plan)
        if tree is None:
            from hetero.grouping import cluster

            _, Z = cluster(distance, n_groups=1)
            tree = (Z, list(distance.labels))
        figures.update(_structure(distance, plan, tree, distance.kind))
    return _save(
        figures, ("heatmap", "dendrogram", "clustermap", "spectrum", "graph"), formats, dpi
    )


def render_measurement(
    levels: Mapping[str, tuple[HeterogeneityMatrix | None, HeterogeneityMatrix]],
    plan: GroupingPlan | None = None,
    *,
    formats: str | Sequence[str] = "png",
    dpi: int = DEFAULT_DPI,
) -> dict[str, bytes]:
    """Render the figure set of a measurement, keyed by file name.

    Per level ``L`` (``modality``, ``interaction``), each as ``L_NAME.FORMAT``:

    - ``L_heatmap``: distances d on a sequential map, ordered by plan group with the group
      boundaries; completed entries (``completed`` in the distance matrix's provenance) in
      italics;
    - ``L_transfer_heatmap`` (with a transfer matrix): the signed transfer T on a
      diverging colormap centred at zero with a labelled colour bar, in the same order;
      entries flagged ``significant`` in its provenance (their interval excludes 0)
      framed and starred;
    - ``L_dendrogram`` and ``L_clustermap`` (when the plan holds this level's linkage):
      the plan's tree, coloured by the plan's groups, with its cut;
    - ``L_graph``: units placed by their distances, linked where they are closest,
      coloured by plan group, with a legend;
    - ``L_spectrum`` (complete distances): singular values, the rank reaching 90% marked.

    Nothing is clustered here: without the plan's linkage there is no dendrogram.

    Parameters
    ----------
    levels : mapping of str -> (HeterogeneityMatrix or None, HeterogeneityMatrix)
        Level name -> ``(transfer, distance)`` as ``hetero measure`` writes them
        (``L_transfer.json``, ``L.json``); the transfer may be None.
    plan : GroupingPlan, optional
    formats : str or sequence of str
        ``png``, ``svg`` and/or ``pdf`` (default PNG).
    dpi : int
        Resolution of PNG files (and of raster parts of vector files).

    Returns
    -------
    dict of str -> bytes
        In :data:`MEASUREMENT_FIGURES` order within each level, formats in the order given.
    """
    formats = check_formats(formats)
    dpi = check_dpi(dpi)
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
        saved = _save(figures, MEASUREMENT_FIGURES, formats, dpi)
        files.update({f"{level}_{name}": data for name, data in saved.items()})
    return files
