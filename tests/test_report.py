"""`hetero report`: a report built from a real measurement of a planted suite.

The measurement directory comes from the real ``measure()`` driver with the numpy reference
learner; the training directories hold ``metrics.json`` files in the format ``hetero train``
writes (test metrics per task, the model's parameter report, its groups).
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import HeteroError
from hetero.report import build_report, read_train_dir, write_report

runner = CliRunner()


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> Path:
    """A real measurement (modality + interaction levels, re-test) of a planted suite."""
    from hetero.measure import measure
    from hetero.measure.synthetic import planted_suite

    suite, _ = planted_suite(2, 2, n_noise=0, n_samples=240, seed=0)
    out = tmp_path_factory.mktemp("measure")
    measure(
        suite,
        out,
        learner="reference",
        seeds=2,
        retest=True,
        figures=False,
        max_epochs=20,
        stability_boot=10,
    )
    return out


def _params(groups: dict[str, list[list[str]]], per_copy: dict[str, int]) -> dict:
    """A parameter report shaped like ``GroupedModel.parameter_report()``."""
    report: dict = {}
    total = 1000  # parameters outside the grouped blocks
    for kind, field in (("unimodal", "unimodal_groups"), ("crossmodal", "crossmodal_groups")):
        copies = {str(g): per_copy[kind] for g in range(len(groups[field]))}
        report[kind] = {"kind": kind, "groups": copies, "total": sum(copies.values())}
        total += sum(copies.values())
    report["other"] = 1000
    report["total"] = total
    return report


def _write_train_dir(path: Path, groups: dict, accuracy: float, loss: float) -> Path:
    """A training output directory with metrics.json as ``hetero train`` writes it."""
    path.mkdir(parents=True)
    test = {
        "planted": {
            "loss": loss,
            "accuracy": accuracy,
            "balanced_accuracy": accuracy,
            "f1_macro": accuracy - 0.01,
            "f1_micro": accuracy,
        }
    }
    metrics = {
        "test": test,
        "val": test,
        "parameters": _params(groups, {"unimodal": 5000, "crossmodal": 7000}),
        "groups": groups,
        "provenance": {"config": {"plan": None}},
    }
    (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def train_dirs(measured, tmp_path_factory) -> tuple[Path, Path]:
    plan = json.loads((measured / "plan.json").read_text())
    base = tmp_path_factory.mktemp("train")
    grouped = _write_train_dir(
        base / "train-grouped",
        {
            "unimodal_groups": plan["unimodal"]["groups"],
            "crossmodal_groups": plan["crossmodal"]["groups"],
        },
        accuracy=0.8125,
        loss=0.5432,
    )
    labels = json.loads((measured / "modality.json").read_text())["labels"]
    inter = json.loads((measured / "interaction.json").read_text())["labels"]
    share = _write_train_dir(
        base / "train-share-all",
        {"unimodal_groups": [labels], "crossmodal_groups": [inter]},
        accuracy=0.75,
        loss=0.6,
    )
    return grouped, share


@pytest.fixture(scope="module")
def rendered(measured, train_dirs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    args = ["report", str(measured), "-o", str(out)]
    for d in train_dirs:
        args += ["--train", str(d)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("report*"))
    return dst


# ------------------------------------------------------------------------------ content
def test_html_is_self_contained(rendered):
    page = (rendered / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<link" not in page and "<script" not in page
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert len(srcs) >= 6  # heatmaps, transfer maps, dendrograms, spectra of two levels
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_shows_labels_plan_and_checks(measured, rendered):
    raw = (rendered / "report.html").read_text(encoding="utf-8")
    page = html.unescape(raw)
    for level in ("modality", "interaction"):
        for label in json.loads((measured / f"{level}.json").read_text())["labels"]:
            assert label in page
    plan = json.loads((measured / "plan.json").read_text())
    for group in plan["unimodal"]["groups"] + plan["crossmodal"]["groups"]:
        assert ", ".join(group) in page
    check = json.loads((measured / "check.json").read_text())
    for c in (check, check["interaction"]):
        assert f"{100 * c['triangle_exact']:.1f}%" in page
        assert f"{100 * c['triangle_relaxed']:.1f}%" in page
        assert f'<td>triples checked</td><td class="n">{c["n_triples"]}</td>' in raw


def test_report_counts_significant_entries(measured, rendered):
    page = html.unescape((rendered / "report.html").read_text(encoding="utf-8"))
    for level in ("modality", "interaction"):
        prov = json.loads((measured / f"{level}_transfer.json").read_text())["provenance"]
        sig = np.array(prov["significant"], dtype=bool)
        np.fill_diagonal(sig, False)
        measured_entries = int((~np.eye(len(sig), dtype=bool)).sum())
        assert f"{int(sig.sum())} of {measured_entries} measured transfer entries" in page
    summary = json.loads((measured / "measure.json").read_text())
    assert summary["reliability"] in page


def test_report_shows_training_results(rendered, train_dirs):
    page = html.unescape((rendered / "report.html").read_text(encoding="utf-8"))
    assert "Training results" in page
    assert "0.8125" in page and "0.75" in page  # grouped vs share-all accuracy
    assert "+0.0625" in page  # the difference, grouped minus share-all
    assert "share-all" in page and "grouped (" in page
    grouped = json.loads((train_dirs[0] / "metrics.json").read_text())
    assert str(grouped["parameters"]["total"]) in page


def test_markdown_and_figure_files(rendered):
    md = (rendered / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links
    for link in links:
        assert link.startswith("report_figures/")
        assert (rendered / link).read_bytes()[:4] == b"\x89PNG"
    assert "## Grouping plan" in md and "### Metric checks" in md
    assert "data:image" not in md


def test_report_defaults_to_the_measurement_directory(measured, tmp_path):
    d = _copy(measured, tmp_path / "m")
    result = runner.invoke(app, ["report", str(d), "--no-figures"])
    assert result.exit_code == 0, result.output
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "<img" not in page
    assert (d / "report.md").is_file() and not (d / "report_figures").exists()


# ------------------------------------------------------------------------------ verdicts
def _set_retest(directory: Path, reliable: bool) -> None:
    path = directory / "measure.json"
    summary = json.loads(path.read_text())
    rt = summary["levels"]["modality"]["retest"]
    rt["reliable"] = reliable
    summary["reliability"] = "stated by the test"
    path.write_text(json.dumps(summary))


def test_verdict_follows_the_retest(measured, tmp_path):
    good = _copy(measured, tmp_path / "good")
    _set_retest(good, True)
    report = build_report(good)
    if report.level("modality").n_significant:
        assert report.actionable and report.verdict.startswith("Reliable enough to act on")
    bad = _copy(measured, tmp_path / "bad")
    _set_retest(bad, False)
    report = build_report(bad)
    assert not report.actionable
    assert report.verdict.startswith("NOT reliable enough to act on")


def test_verdict_without_significant_entries(measured, tmp_path):
    d = _copy(measured, tmp_path / "flat")
    _set_retest(d, True)
    path = d / "modality_transfer.json"
    data = json.loads(path.read_text())
    n = len(data["labels"])
    data["provenance"]["significant"] = [[False] * n for _ in range(n)]
    path.write_text(json.dumps(data))
    report = build_report(d)
    assert not report.actionable
    assert "no transfer entry differs significantly from zero" in report.verdict
    paths = write_report(d, figures=False)
    assert "NOT reliable enough to act on" in paths.html.read_text(encoding="utf-8")


def test_verdict_without_retest(measured, tmp_path):
    d = _copy(measured, tmp_path / "noretest")
    path = d / "measure.json"
    summary = json.loads(path.read_text())
    for info in summary["levels"].values():
        info["retest"] = None
    summary["reliability"] = None
    path.write_text(json.dumps(summary))
    # one significant entry, so that the missing re-test (not the lack of any significant
    # entry, which is checked first) decides the verdict
    tpath = d / "modality_transfer.json"
    t = json.loads(tpath.read_text())
    t["provenance"]["significant"][0][1] = True
    tpath.write_text(json.dumps(t))
    report = build_report(d)
    assert report.reliable is None and not report.actionable
    assert "--retest" in report.verdict


# ------------------------------------------------------------------------------ train dirs
def test_read_train_dir_recognises_the_sharing(train_dirs, tmp_path):
    grouped, share = (read_train_dir(d) for d in train_dirs)
    assert share.sharing == "share-all"
    assert grouped.sharing in ("plan", "share-none")
    assert grouped.tasks["planted"]["accuracy"] == pytest.approx(0.8125)
    assert grouped.primary["planted"] == "accuracy"
    assert share.params_total == 1000 + 5000 + 7000
    labels = ["t/a", "t/b", "t/c"]
    none = _write_train_dir(
        tmp_path / "none",
        {"unimodal_groups": [[x] for x in labels], "crossmodal_groups": []},
        accuracy=0.5,
        loss=1.0,
    )
    assert read_train_dir(none).sharing == "share-none"


# ------------------------------------------------------------------------------ errors
def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_missing_directory(tmp_path):
    line = _one_line_error(runner.invoke(app, ["report", str(tmp_path / "nope")]))
    assert "not found" in line


def test_directory_without_matrices(tmp_path):
    line = _one_line_error(runner.invoke(app, ["report", str(tmp_path)]))
    assert "modality.json" in line
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("check.json", "{not json", "check.json: malformed JSON"),
        ("modality.json", '{"labels": ["a"]}', "modality.json: missing field 'values'"),
        ("plan.json", "[1, 2", "plan.json: malformed JSON"),
        ("measure.json", "[]", "measure.json: expected a JSON object"),
    ],
)
def test_malformed_input_writes_nothing(measured, tmp_path, name, text, expected):
    d = _copy(measured, tmp_path / "m")
    (d / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    line = _one_line_error(runner.invoke(app, ["report", str(d), "-o", str(out)]))
    assert expected in line
    assert not (out / "report.html").exists() and not (out / "report.md").exists()
    assert not (d / "report.html").exists()


def test_bad_train_directory(measured, tmp_path):
    d = _copy(measured, tmp_path / "m")
    empty = tmp_path / "train"
    empty.mkdir()
    line = _one_line_error(runner.invoke(app, ["report", str(d), "--train", str(empty)]))
    assert "metrics.json: file not found" in line
    (empty / "metrics.json").write_text('{"test": {"t": 3}}', encoding="utf-8")
    line = _one_line_error(runner.invoke(app, ["report", str(d), "--train", str(empty)]))
    assert "test.t: expected an object" in line
    assert not (d / "report.html").exists()


def test_heatmap_annotations_follow_the_plan_order(measured):
    from hetero.plotting import plot_heatmap

    report = build_report(measured)
    lev = report.level("interaction")
    fig = plot_heatmap(lev.distance, report.plan, boxed=lev.significant)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    flat = [label for g in report.plan.crossmodal_groups for label in g]
    assert rows == cols == flat  # ordered by plan group
    d = lev.distance
    assert len(ax.texts) == d.n * d.n
    sig = lev.significant & ~np.eye(d.n, dtype=bool)
    for text in ax.texts:
        x, y = text.get_position()
        i, j = d.index(rows[int(y)]), d.index(cols[int(x)])
        v = d.values[i, j]
        star = "*" if sig[i, j] else ""  # significant entries are starred as well as framed
        assert text.get_text() == ("0" if round(v, 2) == 0 else f"{v:.2f}") + star
    assert len(ax.patches) == int(sig.sum())
    for box in ax.patches:  # each box sits on a significant entry, after the reordering
        i, j = d.index(rows[int(box.get_y())]), d.index(cols[int(box.get_x())])
        assert sig[i, j]


def test_report_figures_are_the_measurement_figure_set(rendered):
    """The report draws what `hetero measure` draws into figures/: same renderer, same names."""
    from hetero.plotting import MEASUREMENT_FIGURES

    names = sorted(p.name for p in (rendered / "report_figures").iterdir())
    # a complete measurement with a plan and transfer files: every figure of both levels
    expected = [
        f"{lev}_{suffix}.png"
        for lev in ("modality", "interaction")
        for suffix in MEASUREMENT_FIGURES
    ]
    assert names == sorted(expected)
    page = html.unescape((rendered / "report.html").read_text(encoding="utf-8"))
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert len(captions) == len(expected)
    assert sum("framed entries (starred where values are shown) differ" in c for c in captions) == 2
    assert sum("The plan's average-linkage tree" in c for c in captions) == 2


def test_report_reads_checks_and_tree_instead_of_recomputing(measured, tmp_path, monkeypatch):
    """Checks come from check.json and the tree from plan.json: neither is recomputed."""
    import hetero.grouping
    import hetero.metric

    def refuse(*args, **kwargs):
        raise AssertionError("the report must read what `hetero measure` stored")

    monkeypatch.setattr(hetero.metric, "check_metric", refuse)
    monkeypatch.setattr(hetero.grouping, "cluster", refuse)
    d = _copy(measured, tmp_path / "m")
    check = json.loads((d / "check.json").read_text())
    check["triangle_exact"] = 0.123456  # a value only check.json can hold
    del check["interaction"]
    (d / "check.json").write_text(json.dumps(check))
    report = build_report(d)
    mod, inter = report.level("modality"), report.level("interaction")
    assert mod.check["triangle_exact"] == 0.123456 and mod.check_source == "check.json"
    assert inter.check is None and inter.check_source == "missing"
    assert any("No metric checks for interaction in check.json" in n for n in report.notes)
    paths = write_report(d)  # figures drawn from the plan's linkage, without clustering
    page = html.unescape(paths.html.read_text(encoding="utf-8"))
    assert "12.3%" in page
    assert page.count("Metric checks") == 1  # only the modality level has checks
    assert any(p.name == "interaction_dendrogram.png" for p in paths.figures)


def test_rerun_without_figures_drops_stale_figure_files(measured, tmp_path):
    d = _copy(measured, tmp_path / "m")
    first = write_report(d)
    assert first.figures and all(p.is_file() for p in first.figures)
    second = write_report(d, figures=False)
    assert second.figures == ()
    assert not list((d / "report_figures").glob("*.png"))
    assert "report_figures/" not in second.markdown.read_text(encoding="utf-8")


def test_a_model_of_another_suite_is_refused(measured, train_dirs, tmp_path):
    other = _copy(train_dirs[0], tmp_path / "other-suite")
    m = json.loads((other / "metrics.json").read_text())
    m["groups"]["unimodal_groups"] = [["elsewhere/a"], ["elsewhere/b"]]
    (other / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(HeteroError, match="trained on other units than this measurement"):
        build_report(measured, [other])
    assert build_report(measured, [train_dirs[0]]).train  # the matching one is accepted


# ------------------------------------------------------------------------------ formats
def test_svg_figures_are_inline_and_pdf_written_beside(measured, tmp_path):
    from hetero.plotting import MEASUREMENT_FIGURES

    out = tmp_path / "svg"
    res = runner.invoke(app, ["report", str(measured), "-o", str(out), "--format", "svg",
                              "--format", "pdf"])  # fmt: skip
    assert res.exit_code == 0, res.output
    stems = [f"{lev}_{s}" for lev in ("modality", "interaction") for s in MEASUREMENT_FIGURES]
    names = sorted(p.name for p in (out / "report_figures").iterdir())
    assert names == sorted(f"{s}.{fmt}" for s in stems for fmt in ("svg", "pdf"))
    assert (out / "report_figures" / "modality_heatmap.pdf").read_bytes()[:5] == b"%PDF-"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img" not in page and page.count("<svg") == len(stems)
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # several inline figures, no id shared
    refs = set(re.findall(r'href="#([^"]+)"', page)) | set(re.findall(r"url\(#([^)]+)\)", page))
    assert refs <= set(ids)  # every reference still finds its element
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "](report_figures/modality_heatmap.svg)" in md


def test_pdf_only_embeds_png_and_dpi_sets_the_resolution(measured, tmp_path):
    import struct

    def width(path: Path) -> int:
        return struct.unpack(">I", path.read_bytes()[16:20])[0]  # PNG IHDR width

    low, high = tmp_path / "low", tmp_path / "high"
    for out, dpi in ((low, "55"), (high, "110")):
        res = runner.invoke(app, ["report", str(measured), "-o", str(out), "--format", "pdf",
                                  "--dpi", dpi])  # fmt: skip
        assert res.exit_code == 0, res.output
    figs = low / "report_figures"
    assert (figs / "modality_heatmap.png").is_file() and (figs / "modality_heatmap.pdf").is_file()
    assert "data:image/png;base64," in (low / "report.html").read_text(encoding="utf-8")
    ratio = width(high / "report_figures/modality_heatmap.png") / width(
        figs / "modality_heatmap.png"
    )
    assert ratio == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize(
    "args,expected",
    [(["--format", "gif"], "--format: expected png, svg or pdf, got 'gif'"),
     (["--dpi", "5"], "--dpi: expected an integer from 10 to 1200, got 5")],
)  # fmt: skip
def test_bad_figure_options_fail_before_reading(tmp_path, args, expected):
    line = _one_line_error(runner.invoke(app, ["report", str(tmp_path / "nope"), *args]))
    assert expected in line
