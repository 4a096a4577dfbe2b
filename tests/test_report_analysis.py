"""`hetero report --analysis`: a section per ``hetero analyze`` result (table with
intervals, verdicts, figure) read by the torch-free core, and one-line errors for missing or
corrupt result files.

The results in ``tests/data/analyses/`` were written by ``hetero analyze overlap |
interference | few-shot | transfer`` (the quick runs of tests/test_analysis_cli.py on the
tiny synthetic suite; overlap's per-seed ``rows`` cut to six), so they have the exact schema
of :meth:`hetero.report.analysis.AnalysisResult.write`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import HeteroError
from hetero.report.analysis import (
    ANALYSIS_KINDS,
    AnalysisResult,
    read_analyses,
    read_result,
)
from tests.conftest import BLOCK_TORCH, REPO_ROOT
from tests.test_report import measured  # noqa: F401  (the measurement fixture)

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "analyses"
TITLES = {
    "overlap": "Parameter overlap between tasks",
    "interference": "Parameter interference",
    "few_shot": "Few-shot learning of a target task",
    "transfer": "Transfer to held-out tasks",
}


@pytest.fixture
def analyses(tmp_path) -> Path:
    """A `hetero analyze` output folder holding all four results."""
    folder = tmp_path / "analyses"
    shutil.copytree(DATA, folder)
    return folder


def _one_line_error(res) -> str:
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


def test_fixtures_have_the_writers_schema(tmp_path):
    for kind in ANALYSIS_KINDS:
        result = read_result(DATA / f"{kind}.json")
        assert result.kind == kind and type(result).__name__.endswith("Result")
        written = json.loads(result.write(tmp_path / kind, figure=False)["json"].read_text())
        assert written == json.loads((DATA / f"{kind}.json").read_text())


def test_report_has_a_section_per_analysis(measured, analyses, tmp_path):  # noqa: F811
    out = tmp_path / "report"
    res = runner.invoke(app, ["report", str(measured), "--analysis", str(analyses), "-o",
                              str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "## Analyses of the trained models" in md
    positions = [md.index(f"### {TITLES[k]}") for k in ANALYSIS_KINDS]
    assert positions == sorted(positions)  # overlap, interference, few-shot, transfer
    for kind in ANALYSIS_KINDS:
        data = json.loads((analyses / f"{kind}.json").read_text())
        assert f"<h3>{TITLES[kind]}</h3>" in html
        for verdict in data["verdicts"]:  # every verdict, worded as the analysis wrote it
            assert f"- {verdict}" in md
        assert (out / "report_figures" / f"analysis_{kind}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"](report_figures/analysis_{kind}.png)" in md
    # the tables carry the intervals of the summaries: overlap's first row, transfer's gain
    first = json.loads((analyses / "overlap.json").read_text())["tables"]["summary"][0]
    assert (f"| {first['arm']} | {first['component']} | {first['mean']:.3f} "
            f"[{first['low']:.3f}, {first['high']:.3f}] | 2 | 0.100 |") in md  # fmt: skip
    assert "| gamma | mse | pre-trained on 2 | 0.528 [-4.359, 5.415] | -0.149 [-1.008, 0.710]" in md
    assert "| 0.5 | 12 | 0.708 [0.179, 1.238] |" in md  # few-shot: fraction, samples, alone
    # figures embedded in the self-contained page
    sections = html.split("<h3>")[-4:]
    assert all("data:image/png;base64," in s for s in sections)


def test_analysis_json_file_and_repeated_kind(measured, tmp_path):  # noqa: F811
    out = tmp_path / "report"
    res = runner.invoke(app, ["report", str(measured), "--analysis", str(DATA / "transfer.json"),
                              "--analysis", str(DATA / "transfer.json"), "-o", str(out),
                              "--format", "svg"])  # fmt: skip
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text()
    assert md.count(f"### {TITLES['transfer']}") == 2
    names = sorted(p.name for p in (out / "report_figures").glob("analysis_*"))
    assert names == ["analysis_transfer.svg", "analysis_transfer_2.svg"]
    html = (out / "report.html").read_text()
    assert 'aria-label="Transfer to held-out tasks"' in html


def test_sections_render_without_torch_or_hetero_models(analyses, tmp_path):
    code = BLOCK_TORCH + (
        "from hetero.report.analysis import read_analyses, render_section\n"
        f"results = read_analyses({str(analyses)!r})\n"
        "assert [r.kind for r in results] == "
        "['overlap', 'interference', 'few_shot', 'transfer']\n"
        "for r in results:\n"
        "    assert render_section(r, 'html').count('data:image/png;base64,') == 1\n"
        "assert 'torch' not in sys.modules and 'hetero_models' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_hetero_models_uses_the_core_classes():
    pytest.importorskip("torch")
    from hetero.report import analysis as core
    from hetero_models.analysis import common, fewshot, heldout, interfere, overlap, report

    assert common.AnalysisResult is core.AnalysisResult
    assert overlap.OverlapResult is core.OverlapResult
    assert interfere.InterferenceResult is core.InterferenceResult
    assert fewshot.FewShotResult is core.FewShotResult
    assert heldout.TransferResult is core.TransferResult
    assert report.render_section is core.render_section


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("transfer.json", "{not json", r"transfer\.json: malformed JSON"),
        ("transfer.json", '{"kind": "transfer"}', r"transfer\.json: tables: missing"),
        ("overlap.json", '{"kind": "nope", "tables": {}}', r"overlap\.json: kind: unknown"),
        (
            "overlap.json",
            '{"kind": "overlap", "tables": {}, "config": [1]}',
            r"overlap\.json: config: expected an object",
        ),
        (
            "few_shot.json",
            '{"kind": "few_shot", "tables": {"summary": [{"arm": "alone"}]}, "config": {}}',
            r"few_shot\.json: malformed few_shot result: missing field 'fraction'",
        ),
    ],
)
def test_corrupt_analysis_is_one_line_naming_the_file(measured, tmp_path, name, text, expected):  # noqa: F811
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / name).write_text(text)
    out = tmp_path / "report"
    line = _one_line_error(
        runner.invoke(app, ["report", str(measured), "--analysis", str(folder), "-o", str(out)])
    )
    assert re.search(expected, line), line
    assert not out.exists()  # nothing written


def test_missing_analysis_is_one_line(measured, tmp_path):  # noqa: F811
    line = _one_line_error(runner.invoke(app, ["report", str(measured), "--analysis",
                                               str(tmp_path / "gone"), "-o", str(tmp_path / "r")]))  # fmt: skip
    assert "gone: analysis result not found" in line
    (tmp_path / "empty").mkdir()
    line = _one_line_error(runner.invoke(app, ["report", str(measured), "--analysis",
                                               str(tmp_path / "empty"), "-o", str(tmp_path / "r")]))  # fmt: skip
    assert "empty: no analysis result here" in line


def test_read_analyses_checks_what_the_section_needs(tmp_path):
    data = json.loads((DATA / "transfer.json").read_text())
    del data["tables"]["summary"][0]["config"]
    path = tmp_path / "transfer.json"
    path.write_text(json.dumps(data))
    with pytest.raises(HeteroError, match=r"transfer\.json: malformed transfer result: missing "
                                          r"field 'config'"):  # fmt: skip
        read_analyses(path)
    assert isinstance(read_analyses(DATA / "few_shot.json")[0], AnalysisResult)
