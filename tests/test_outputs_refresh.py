"""Re-measuring a folder: the report left there is marked stale, the test-retest is kept,
figures follow the asked formats; progress in Python; rich display of the results."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from hetero.errors import HeteroWarning
from hetero.matrix import HeterogeneityMatrix
from hetero.measure.progress import ProgressLine, combine, in_notebook, want_progress
from hetero.report.display import MAX_CELLS_UNITS, matrix_html
from hetero.report.stale import STALE_MARK, is_stale, mark_stale


# ------------------------------------------------------------------------------ progress
class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_progress_line_counts_and_estimates():
    clock, stream = _Clock(), io.StringIO()
    bar = ProgressLine(stream, min_interval=0.0, clock=clock)
    bar.start(4)
    for status, dt in (("cached", 0.0), ("ok", 10.0), ("retry", 5.0), ("ok", 5.0)):
        clock.t += dt
        bar.event(SimpleNamespace(status=status))
    # 3 done of 4 (the retry is not a finished run); 2 trained in 20 s: 10 s each left
    assert bar.done_ == 3 and bar.counts_ == {"cached": 1, "ok": 2}
    assert bar.line() == "runs 3/4 (1 cached) 0:20 eta 0:10"
    bar.start(2)  # a second batch (added seeds) extends the total
    clock.t += 70
    bar.event(SimpleNamespace(status="failed"))
    assert bar.line().startswith("runs 4/6 (1 cached, 1 failed) 1:30 eta")
    bar.close()
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1  # one line, redrawn with \r
    assert text.split("\r")[-1].rstrip() == "runs 4/6 (1 cached, 1 failed) 1:30 eta 1:00"


def test_progress_is_throttled_and_quiet_by_default_outside_notebooks():
    clock, stream = _Clock(), io.StringIO()
    bar = ProgressLine(stream, min_interval=1.0, clock=clock)
    bar.start(100)
    for _ in range(50):
        bar.event(SimpleNamespace(status="ok"))  # no time passes: no redraw
    assert stream.getvalue().count("\r") == 1
    assert not in_notebook() and want_progress(None) is False
    assert want_progress(True) and not want_progress(False)
    seen: list = []
    hook = combine(None, seen.append, lambda ev: seen.append(-ev))
    assert hook is not None
    hook(2)
    assert seen == [2, -2] and combine(None, None) is None


# --------------------------------------------------------------------------- convergence
def _runs(scratch: dict, transfer: dict) -> SimpleNamespace:
    return SimpleNamespace(
        scratch={(k, 0): SimpleNamespace(key=k) for k in scratch},
        transfer={(k, "t", 0): SimpleNamespace(key=k) for k in transfer},
    )


class _Store:
    def __init__(self, flags: dict) -> None:
        self.flags = flags

    def get(self, key: str):
        conv = self.flags.get(key)
        if conv == "failed":
            return SimpleNamespace(ok=False, converged=None)
        return None if key not in self.flags else SimpleNamespace(ok=True, converged=conv)


def test_convergence_counts_scratch_runs_apart_from_capped_transfers():
    from hetero.measure.outputs import convergence_report, convergence_warnings

    flags = {"s1": True, "s2": True, "s3": False, "s4": "failed",
             "t1": False, "t2": False, "t3": True, "t4": None}  # fmt: skip
    levels = {"modality": _runs({"s1": 0, "s2": 0, "s3": 0, "s4": 0}, dict.fromkeys(flags))}
    rep = convergence_report(levels, _Store(flags))["modality"]
    # the scratch fraction is that of the scratch runs only (failed runs left out)
    assert rep["scratch"] == {"runs": 3, "converged": 2, "fraction": pytest.approx(2 / 3)}
    # transfers: t4 reports no convergence, s-keys listed as transfers count too here
    assert rep["transfer"]["runs"] == 6 and rep["transfer"]["converged"] == 3
    assert convergence_warnings({"levels": {"modality": {"convergence": rep}}}) == []
    capped = {"scratch": {"runs": 4, "converged": 0, "fraction": 0.0}}
    most = {"scratch": {"runs": 4, "converged": 1, "fraction": 0.25}}
    (every,) = convergence_warnings({"levels": {"modality": {"convergence": capped}}})
    assert every.startswith("modality: every one of the 4 scratch runs stopped at the epoch cap")
    (three,) = convergence_warnings({"levels": {"interaction": {"convergence": most}}})
    assert three.startswith("interaction: 3 of 4 scratch runs stopped at the epoch cap")


# --------------------------------------------------------------------------------- stale
def test_mark_stale_puts_one_banner_on_both_files(tmp_path):
    page = "<!DOCTYPE html><html><head></head><body>\n<h1>Report</h1></body></html>\n"
    (tmp_path / "report.html").write_text(page, encoding="utf-8")
    (tmp_path / "report.md").write_text("# Report\n\ntext\n", encoding="utf-8")
    assert not is_stale(tmp_path)
    marked = mark_stale(tmp_path, "first reason")
    assert sorted(p.name for p in marked) == ["report.html", "report.md"]
    mark_stale(tmp_path, "second reason")  # marking again replaces the banner
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert html.count(f"<!-- {STALE_MARK} -->") == 1 and "second reason" in html
    assert "first reason" not in html
    assert html.replace(html[html.index("\n<!--") : html.index("-->\n<h1>") + 3], "") == page
    assert md.count(STALE_MARK) == 1 and md.endswith("# Report\n\ntext\n")
    assert f"<code>hetero report {tmp_path}</code>" in html
    assert is_stale(tmp_path)


def test_mark_stale_leaves_other_files_alone(tmp_path):
    assert mark_stale(tmp_path, "x") == []  # no report: nothing to mark
    (tmp_path / "report.html").write_bytes(b"\xff\xfe not utf-8")
    assert mark_stale(tmp_path, "x") == []
    assert (tmp_path / "report.html").read_bytes() == b"\xff\xfe not utf-8"


# ------------------------------------------------------------------------------- display
def test_matrix_html_shows_cells_signs_and_significance():
    T = np.array([[0.0, -0.2, 0.3], [0.1, 0.0, np.nan], [0.4, 0.05, 0.0]])
    sig = np.abs(np.nan_to_num(T)) > 0.25
    m = HeterogeneityMatrix(["a/x", "a/y", "b/z"], T, provenance={"significant": sig.tolist()})
    html = m._repr_html_()
    assert "transfer T (signed)" in html and "8/9 entries observed" in html
    assert "2 significant (*)" in html
    assert html.count("*</td>") == 2 and "-0.200" in html and "0.300*" in html
    assert "<script" not in html
    n = MAX_CELLS_UNITS + 1
    big = HeterogeneityMatrix([f"t/m{i}" for i in range(n)], np.ones((n, n)) - np.eye(n))
    summary = matrix_html(big)
    assert "<table" not in summary and f"{n} units" in summary


# --------------------------------------------------------------------- a real re-measure
@pytest.mark.slow
def test_re_measuring_marks_the_report_stale_and_keeps_the_retest(tmp_path, capsys):
    from hetero.measure import measure
    from hetero.measure.synthetic import planted_suite
    from hetero.report import write_report

    suite, _ = planted_suite(2, 2, n_noise=0, n_samples=200, seed=1)
    opts = {"learner": "reference", "seeds": 2, "max_epochs": 8, "interactions": False,
            "stability_boot": 0}  # fmt: skip
    capped = pytest.warns(HeteroWarning, match="scratch runs stopped at the epoch cap")
    with capped:  # 8 epochs are too few for most scratch runs: the measurement says so
        first = measure(suite, tmp_path, retest=True, figures=False, **opts)
    assert first.modality.retest is not None
    write_report(tmp_path, figures=False)
    assert not is_stale(tmp_path)
    capsys.readouterr()

    # re-plan into two groups, without --retest, figures as SVG; a progress line asked for
    with pytest.warns(HeteroWarning, match="scratch runs stopped at the epoch cap"):
        again = measure(
            suite, tmp_path, progress=True, unimodal_groups=2, figure_formats=["svg"], dpi=50,
            **opts,
        )  # fmt: skip
    err = capsys.readouterr().err
    total = again.stats.total
    assert f"runs {total}/{total} ({total} cached)" in err and err.endswith("\n")
    assert again.stats.trained == 0
    summary = json.loads((tmp_path / "measure.json").read_text())
    assert summary["levels"]["modality"]["retest"]["spearman_d"] is not None  # kept
    assert is_stale(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("> **Stale report**") and "hetero measure wrote" in md
    conv = summary["levels"]["modality"]["convergence"]
    assert conv["scratch"]["runs"] == 4 * 4  # 4 units x 4 baseline seeds
    assert "of the scratch runs converged before the epoch cap" in md
    figures = sorted(p.suffix for p in (tmp_path / "figures").iterdir())
    assert figures and set(figures) == {".svg"}
    write_report(tmp_path, figures=False)  # a fresh report has no banner
    assert not is_stale(tmp_path)

    # rich display: one-line reprs, HTML with the facts
    text = repr(again)
    assert "\n" not in text and len(text) < 400 and "learner='reference'" in text
    assert repr(again.modality).startswith("LevelResult(level='modality', units=4")
    html = again._repr_html_()
    assert "MeasureResult" in html and "GroupingPlan" in html and "pairs measured" in html
    assert "12/12" in again.modality._repr_html_()


def test_re_planning_a_measurement_marks_its_report_stale(tmp_path):
    from typer.testing import CliRunner

    from hetero.cli.main import app
    from hetero.matrix import HeterogeneityMatrix

    labels = ("a/x", "a/y", "b/x", "b/y")
    d = np.array([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]], dtype=float)
    HeterogeneityMatrix(labels, d, kind="modality").write(tmp_path / "modality.json")
    (tmp_path / "measure.json").write_text("{}")
    (tmp_path / "report.html").write_text("<html><body><h1>R</h1></body></html>")
    res = CliRunner().invoke(
        app,
        ["plan", str(tmp_path / "modality.json"), "--unimodal-groups", "2",
         "-o", str(tmp_path / "plan.json")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert is_stale(tmp_path) and "run hetero report again" in res.output
    # a plan written elsewhere leaves the report alone
    (tmp_path / "report.html").write_text("<html><body><h1>R</h1></body></html>")
    res = CliRunner().invoke(
        app,
        ["plan", str(tmp_path / "modality.json"), "--unimodal-groups", "2",
         "-o", str(tmp_path / "other.json")],
    )  # fmt: skip
    assert res.exit_code == 0 and not is_stale(tmp_path)


def test_plan_has_a_rich_display():
    from hetero.plan import GroupingPlan

    html = GroupingPlan([["a/x", "b/x"], ["a/y"]])._repr_html_()
    assert "a/x" in html and "<" in html
