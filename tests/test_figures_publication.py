"""Publication figures: formats, resolution, tight boxes, the signed heatmap's marks, the
graph's layout and labels, integer spectrum ticks, and no library warnings on tiny input."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import HeteroError
from hetero.grouping import make_plan
from hetero.matrix import HeterogeneityMatrix
from hetero.plotting import (
    is_directed,
    plot_graph,
    plot_heatmap,
    plot_spectrum,
    render_all,
    render_measurement,
    save_figure,
)
from hetero.plotting._common import check_dpi, check_formats
from hetero.plotting.structure import graph_edges, layout_positions

runner = CliRunner()


def _planted(n_groups: int = 3, per: int = 4, seed: int = 0) -> HeterogeneityMatrix:
    """Distances 0.2 within a planted group and 1.0 between, plus small noise."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    D = np.where(g[:, None] == g[None, :], 0.2, 1.0) + 0.05 * rng.random((len(g), len(g)))
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0)
    labels = [f"task{i // 2}/a_rather_long_modality_name_{i}" for i in range(len(g))]
    return HeterogeneityMatrix(labels, D)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG")
    return struct.unpack(">II", data[16:24])


# ------------------------------------------------------------------------- formats and dpi
def test_save_figure_formats_are_real_and_reproducible():
    fig = plot_heatmap(_planted())
    png, svg, pdf = (save_figure(fig, fmt) for fmt in ("png", "svg", "pdf"))
    assert png.startswith(b"\x89PNG")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    assert pdf.startswith(b"%PDF")
    # vector files carry no date: the same figure gives the same bytes
    assert save_figure(fig, "svg") == svg and save_figure(fig, "pdf") == pdf
    assert b"/FontFile2" in pdf  # TrueType (Type 42) fonts embedded, not Type 3


def test_dpi_scales_png_and_the_box_is_tight():
    fig = plot_heatmap(_planted())
    w100, h100 = _png_size(save_figure(fig, "png", dpi=100))
    w200, h200 = _png_size(save_figure(fig, "png", dpi=200))
    assert abs(w200 - 2 * w100) <= 3 and abs(h200 - 2 * h100) <= 3
    # saved to the drawn content (tick labels included) plus the 0.05 in padding
    renderer = fig.canvas.get_renderer()
    box = fig.get_tightbbox(renderer)
    assert w100 == pytest.approx((box.width + 0.1) * 100, rel=0.01)  # text hinting: ~1 %
    assert h100 == pytest.approx((box.height + 0.1) * 100, rel=0.01)
    labels = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels()]
    assert min(b.y0 for b in labels) >= box.y0 * fig.dpi - 1  # the bottom label is inside


def test_format_and_dpi_checks():
    assert check_formats("png,PDF") == ("png", "pdf")
    assert check_formats(["svg", ".png", "svg"]) == ("svg", "png")
    with pytest.raises(HeteroError, match="--format: expected png, svg or pdf, got 'jpg'"):
        check_formats(["png", "jpg"])
    with pytest.raises(HeteroError, match="--dpi: expected an integer from 10 to 1200"):
        check_dpi(5)
    with pytest.raises(HeteroError, match="--dpi"):
        check_dpi(True)


@pytest.mark.slow
def test_render_sets_in_every_format():
    m = _planted()
    files = render_all(m, make_plan(m, unimodal_groups=3), formats=["png", "pdf"], dpi=60)
    names = ["heatmap", "dendrogram", "clustermap", "spectrum", "graph"]
    assert list(files) == [f"{n}.{fmt}" for n in names for fmt in ("png", "pdf")]
    measured = render_measurement({"modality": (None, m)}, formats="svg")
    assert list(measured) == [
        "modality_heatmap.svg",
        "modality_graph.svg",
        "modality_spectrum.svg",
    ]


def test_sizes_grow_with_the_units():
    small, large = _planted(2, 2), _planted(6, 5)
    for draw in (plot_heatmap, plot_graph):
        w0, h0 = draw(small).get_size_inches()
        w1, h1 = draw(large).get_size_inches()
        assert w1 > w0 and h1 > h0


# ------------------------------------------------------------------------------- heatmaps
def test_signed_heatmap_marks_significant_entries_inside_their_cells():
    m = _planted(2, 2)
    T = m.copy(values=m.values - 0.5)
    np.fill_diagonal(T.values, 0)
    sig = np.zeros((4, 4), dtype=bool)
    sig[0, 2] = sig[3, 1] = True
    ax = plot_heatmap(T, make_plan(m, unimodal_groups=2), boxed=sig).axes[0]
    assert ax.collections[0].cmap.name == "RdBu_r"
    assert ax.collections[0].norm.vmin == -ax.collections[0].norm.vmax
    starred = [t for t in ax.texts if t.get_text().endswith("*")]
    assert len(starred) == 2 == len(ax.patches)
    for frame in ax.patches:  # inside one cell: never on a group boundary line
        x, y = frame.get_x(), frame.get_y()
        assert 0 < x % 1 < 0.5 and 0 < y % 1 < 0.5 and frame.get_width() < 1
    assert "significant" in ax.get_title()


def test_plot_of_a_transfer_matrix_is_signed_and_quiet():
    m = _planted(2, 2)
    T = m.copy(values=m.values - 0.3 + 0.05 * np.triu(np.ones((4, 4)), 1))
    np.fill_diagonal(T.values, 0)
    T.provenance["significant"] = (np.abs(T.values) > 0.5).tolist()
    assert is_directed(T) and not is_directed(m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not symmetric" warning: d is derived first
        files = render_all(T)
    assert set(files) == {f"{n}.png" for n in ("heatmap", "dendrogram", "clustermap",
                                               "spectrum", "graph")}  # fmt: skip


# ---------------------------------------------------------------------------------- graph
def test_graph_layout_follows_the_distances_and_labels_sit_beside_nodes():
    m = _planted(3, 4)
    plan = make_plan(m, unimodal_groups=3)
    fig = plot_graph(m, plan, numbered=False)
    ax = fig.axes[0]
    xy = ax.collections[0].get_offsets()
    page = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    g = np.repeat(np.arange(3), 4)
    same = (g[:, None] == g[None]) & ~np.eye(12, dtype=bool)
    assert page[same].max() < page[g[:, None] != g[None]].min()  # groups apart on the page
    assert page[~np.eye(12, dtype=bool)].min() > 0  # nearly equal units do not overlap
    renderer = fig.canvas.get_renderer()
    centres = ax.transData.transform(xy)
    for text, centre in zip(ax.texts, centres, strict=True):
        box = text.get_window_extent(renderer)
        assert not box.contains(*centre)  # the label is beside its node, not over it
    legend = fig.legends[0]
    entries = [t.get_text() for t in legend.get_texts()]
    assert entries[:3] == ["group 0 (4)", "group 1 (4)", "group 2 (4)"]
    assert entries[3].startswith("d <= ")


def test_graph_edges_link_each_unit_to_its_close_company():
    m = _planted(4, 3)
    pairs, cutoff = graph_edges(m, quantile=0.5, neighbours=2)
    g = np.repeat(np.arange(4), 3)
    assert pairs and all(g[i] == g[j] for i, j in pairs)  # 2 nearest are in the group
    assert cutoff == pytest.approx(np.quantile(m.values[~np.eye(12, dtype=bool)], 0.5))
    assert graph_edges(m.copy(values=np.full((12, 12), np.nan)))[0] == []


def test_many_units_are_numbered_with_a_key():
    m = _planted(6, 5)
    fig = plot_graph(m, make_plan(m, unimodal_groups=6))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == [str(k + 1) for k in range(30)]
    entries = [t.get_text() for t in fig.legends[0].get_texts()]
    assert f"30  {m.labels[29]}" in entries


def test_layout_without_complete_distances_is_seeded():
    m = _planted(2, 2)
    partial = m.copy(values=np.where(np.eye(4, k=1, dtype=bool), np.nan, m.values))
    a, b = layout_positions(partial, seed=3), layout_positions(partial, seed=3)
    assert np.array_equal(a, b)


# ------------------------------------------------------------------------------- spectrum
def test_spectrum_ticks_are_integer_ranks():
    fig = plot_spectrum(np.array([3.0, 2.0, 1.0, 0.5, 0.1]), rank=2)
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


# ------------------------------------------------------------------- tiny and odd inputs
@pytest.mark.parametrize(
    ("n", "kind"), [(1, "ones"), (2, "zeros"), (2, "gaps"), (3, "ones"), (3, "gaps")]
)
def test_tiny_matrices_draw_without_library_warnings(n, kind):
    D = np.ones((n, n)) if kind != "zeros" else np.zeros((n, n))
    np.fill_diagonal(D, 0)
    if kind == "gaps" and n > 1:
        D[0, 1] = D[1, 0] = np.nan
    m = HeterogeneityMatrix([f"t/m{i}" for i in range(n)], D)
    plan = make_plan(m, unimodal_groups=min(2, n)) if m.is_complete and n > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy, matplotlib, networkx, numpy: none may leak
        render_all(m, plan, formats=["png", "svg"], dpi=30)
        render_measurement({"modality": (m.copy(values=-D), m)}, plan, dpi=30)


# ------------------------------------------------------------------------------------ CLI
@pytest.mark.slow
def test_cli_plot_formats_and_dpi(tmp_path):
    m = _planted(2, 2)
    path = tmp_path / "d.json"
    m.write(path)
    out = tmp_path / "figs"
    out.mkdir()
    res = runner.invoke(app, ["plot", str(path), "-o", str(out), "--format", "svg,pdf",
                              "--format", "png", "--dpi", "80"])  # fmt: skip
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 15 and "heatmap.svg" in names and "graph.pdf" in names
    w, h = _png_size((out / "heatmap.png").read_bytes())
    from hetero.plotting import render_all as again  # the CLI's --dpi is the renderer's dpi

    assert (w, h) == _png_size(again(m, formats="png", dpi=80)["heatmap.png"])
    bad = runner.invoke(app, ["plot", str(path), "-o", str(tmp_path / "c"), "--format", "jpg"])
    assert bad.exit_code == 2
    assert "--format: expected png, svg or pdf, got 'jpg'" in bad.output
    assert not (tmp_path / "c").exists()  # checked before any work
