"""Figures of heterogeneity matrices and grouping plans (compute first, plot second).

Every ``plot_*`` function takes already computed objects (matrix, plan, linkage, spectrum),
draws on ``ax`` when given (otherwise on a new figure sized for the labels) and returns the
:class:`~matplotlib.figure.Figure`. Figures are made without pyplot, on an Agg canvas: no
backend is switched, nothing needs a display and nothing needs closing. The plan's groups
colour every figure the same way (heatmap tick labels, dendrogram links and leaves,
clustermap strips, graph nodes).

:func:`render_measurement` draws a measurement's whole figure set (``hetero measure``'s
``figures/`` and ``hetero report``'s ``report_figures/``); :func:`render_all` draws the
figures of one matrix (``hetero plot``). Both return ``{file name: bytes}`` in the formats
asked for (:data:`FORMATS`: PNG, SVG, PDF; tight bounding boxes, ``dpi`` for PNG), and
:func:`save_figure` saves any one figure the same way.
"""

from __future__ import annotations

from hetero.plotting._common import DEFAULT_DPI, FORMATS, save_figure, to_png
from hetero.plotting.heatmaps import plot_clustermap, plot_heatmap
from hetero.plotting.render import (
    MEASUREMENT_FIGURES,
    is_directed,
    render_all,
    render_measurement,
    spectrum_rank,
)
from hetero.plotting.structure import plot_dendrogram, plot_graph, plot_spectrum

__all__ = [
    "DEFAULT_DPI",
    "FORMATS",
    "MEASUREMENT_FIGURES",
    "is_directed",
    "plot_clustermap",
    "plot_dendrogram",
    "plot_graph",
    "plot_heatmap",
    "plot_spectrum",
    "render_all",
    "render_measurement",
    "save_figure",
    "spectrum_rank",
    "to_png",
]
