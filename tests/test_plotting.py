"""Plots: each returns a Figure, draws on a given ax, and shows the computed structure."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from hetero.completion import singular_spectrum
from hetero.grouping import cluster, make_plan
from hetero.matrix import HeterogeneityMatrix
from hetero.plotting import (
    plot_clustermap,
    plot_dendrogram,
    plot_graph,
    plot_heatmap,
    plot_spectrum,
    render_all,
)

LABELS = ["a/p", "a/q", "b/r", "b/s", "c/t"]
TRUTH = np.array([0, 0, 1, 1, 2])


@pytest.fixture
def matrix():
    D = np.where(TRUTH[:, None] == TRUTH[None, :], 0.1, 1.0) + 0.01 * np.arange(5)[:, None]
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0)
    return HeterogeneityMatrix(LABELS, D)


def _axes():
    fig = Figure()
    return fig, fig.add_subplot()


def test_heatmap_orders_by_plan_and_draws_boundaries(matrix):
    plan = make_plan(matrix.reorder(["c/t", "a/p", "b/r", "a/q", "b/s"]), unimodal_groups=3)
    fig = plot_heatmap(matrix, plan)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == [label for group in plan.unimodal_groups for label in group]
    assert len(ax.lines) == 4  # two boundaries, horizontal + vertical
    assert len(ax.texts) == 25  # annotated
    fig2, ax2 = _axes()
    assert plot_heatmap(matrix, ax=ax2) is fig2 and not ax2.lines


def test_heatmap_blanks_unmeasured(matrix):
    partial = matrix.copy(values=np.where(np.eye(5, k=1, dtype=bool), np.nan, matrix.values))
    ax = plot_heatmap(partial).axes[0]
    assert len(ax.texts) == 21


def test_dendrogram_cut_line(matrix):
    _, Z = cluster(matrix, n_groups=1)
    fig = plot_dendrogram(Z, LABELS, n_groups=3)
    ax = fig.axes[0]
    cut = [line for line in ax.lines if line.get_linestyle() == "--"]
    (y,) = set(cut[0].get_ydata())
    assert Z[1, 2] < y < Z[2, 2]  # between the 2nd and 3rd merges: 3 groups
    fig2, ax2 = _axes()
    assert plot_dendrogram(Z, LABELS, ax=ax2) is fig2


def test_spectrum_and_clustermap(matrix):
    s, cum = singular_spectrum(matrix)
    fig = plot_spectrum(s, cum, rank=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert np.allclose(heights, s)
    cm = plot_clustermap(matrix)
    assert isinstance(cm, Figure)


def test_graph_edges_and_colours(matrix):
    plan = make_plan(matrix, unimodal_groups=3)
    fig, ax = _axes()
    assert plot_graph(matrix, plan, quantile=0.2, ax=ax) is fig
    colours = ax.collections[0].get_facecolor()
    assert len({tuple(c) for c in colours}) == 3  # one colour per group
    assert np.allclose(colours[0], colours[1]) and not np.allclose(colours[0], colours[2])


def test_render_all(matrix):
    images = render_all(matrix, make_plan(matrix, unimodal_groups=3))
    assert set(images) == {
        "heatmap.png",
        "graph.png",
        "dendrogram.png",
        "clustermap.png",
        "spectrum.png",
    }
    assert all(data.startswith(b"\x89PNG") for data in images.values())
    partial = matrix.copy(values=np.where(np.eye(5, k=1, dtype=bool), np.nan, matrix.values))
    assert set(render_all(partial)) == {"heatmap.png", "graph.png"}
