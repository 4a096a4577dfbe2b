"""Plots: each returns a Figure, draws on a given ax, and shows the computed structure."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from hetero.completion import singular_spectrum
from hetero.grouping import cluster, make_plan
from hetero.matrix import HeterogeneityMatrix
from hetero.plotting import (
    MEASUREMENT_FIGURES,
    plot_clustermap,
    plot_dendrogram,
    plot_graph,
    plot_heatmap,
    plot_spectrum,
    render_all,
    render_measurement,
)
from hetero.plotting.heatmaps import DISTANCE_LABEL, TRANSFER_LABEL

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
    plan = make_plan(matrix, unimodal_groups=3)
    cm = plot_clustermap(matrix, plan.unimodal_linkage, plan=plan)
    assert isinstance(cm, Figure)
    heat = next(ax for ax in cm.axes if ax.get_yticklabels() and ax.collections)
    rows = [t.get_text() for t in heat.get_yticklabels()]
    # rows in the tree's leaf order: each planted group contiguous
    assert sorted(rows) == sorted(LABELS)
    truth = [TRUTH[LABELS.index(r)] for r in rows]
    assert sum(a != b for a, b in itertools.pairwise(truth)) == len(set(truth)) - 1
    shown = heat.collections[0].get_array().reshape(5, 5)
    idx = [LABELS.index(r) for r in rows]
    assert np.allclose(shown, matrix.values[np.ix_(idx, idx)])


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


def _transfer(matrix):
    """A signed, directed matrix: negative entries within the planted groups."""
    T = matrix.values - 0.4 + 0.05 * np.arange(5)[None, :]
    np.fill_diagonal(T, 0)
    return matrix.copy(values=T)


def test_signed_transfer_heatmap_is_centred_at_zero(matrix):
    T = _transfer(matrix)
    sig = np.abs(T.values) > 0.3
    fig = plot_heatmap(T, boxed=sig)  # signed detected from the negative entries
    (ax,) = fig.axes
    (cbar,) = ax.child_axes  # the colour bar is an inset beside the cells
    mesh = ax.collections[0]
    assert mesh.cmap.name == "RdBu_r"
    lo, hi = mesh.norm.vmin, mesh.norm.vmax
    assert lo == -hi and hi == pytest.approx(np.abs(T.values).max())  # white = no transfer
    assert cbar.get_ylabel() == TRANSFER_LABEL
    assert len(ax.patches) == int((sig & ~np.eye(5, dtype=bool)).sum())
    assert "transfer T" in ax.get_title()
    dist = plot_heatmap(matrix)
    assert dist.axes[0].collections[0].cmap.name == "viridis"
    assert dist.axes[0].child_axes[0].get_ylabel() == DISTANCE_LABEL
    assert dist.axes[0].collections[0].norm.vmin == 0


def test_dendrogram_colours_follow_the_plan_groups(matrix):
    from matplotlib.colors import to_hex

    # groups that are not the tree's own cut: colours follow the plan, not the heights
    groups = [["a/p", "a/q", "b/r"], ["b/s"], ["c/t"]]
    _, Z = cluster(matrix, n_groups=1)
    fig = plot_dendrogram(Z, LABELS, groups=groups)
    ax = fig.axes[0]
    ticks = {t.get_text(): to_hex(t.get_color()) for t in ax.get_xticklabels()}
    assert ticks["a/p"] == ticks["a/q"] == ticks["b/r"]
    assert len({ticks["a/p"], ticks["b/s"], ticks["c/t"]}) == 3
    links = {to_hex(c) for coll in ax.collections for c in coll.get_colors()}
    # links inside group 0 take its colour; links joining groups are grey
    assert ticks["a/p"] in links and "#595959" in links
    assert ticks["b/s"] not in links  # a one-unit group has no link of its own
    cut = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(cut) == 1  # the cut into len(groups) groups


def test_render_measurement_names_and_conditions(matrix, monkeypatch):
    import hetero.grouping

    plan = make_plan(matrix, unimodal_groups=3)

    def refuse(*args, **kwargs):
        raise AssertionError("render_measurement must draw the plan's tree, not re-cluster")

    monkeypatch.setattr(hetero.grouping, "cluster", refuse)
    T = _transfer(matrix)
    T.provenance["significant"] = (np.abs(T.values) > 0.3).tolist()
    files = render_measurement({"modality": (T, matrix)}, plan)
    assert list(files) == [f"modality_{name}.png" for name in MEASUREMENT_FIGURES]
    assert all(data.startswith(b"\x89PNG") for data in files.values())
    # no plan: no tree to draw (and none is computed); no transfer: no transfer map
    assert list(render_measurement({"modality": (None, matrix)})) == [
        "modality_heatmap.png",
        "modality_graph.png",
        "modality_spectrum.png",
    ]
    partial = matrix.copy(values=np.where(np.eye(5, k=1, dtype=bool), np.nan, matrix.values))
    assert "modality_spectrum.png" not in render_measurement({"modality": (T, partial)}, plan)


def test_figures_leave_pyplot_alone():
    """pyplot is never imported, so no backend is picked and no figure registered."""

    code = """
import sys
import numpy as np
from hetero.grouping import make_plan
from hetero.matrix import HeterogeneityMatrix
from hetero.plotting import render_all, render_measurement
D = np.abs(np.subtract.outer(np.arange(5.0), np.arange(5.0)))
m = HeterogeneityMatrix(["a/p", "a/q", "b/r", "b/s", "c/t"], D)
plan = make_plan(m, unimodal_groups=2)
render_all(m)
render_measurement({"modality": (m.copy(values=-D), m)}, plan)
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
