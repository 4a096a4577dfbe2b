"""`hetero report --compare`: the plan comparison's section, figures and suite check."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.compare import CompareResult
from tests.test_report import measured  # noqa: F401  (the measurement fixture)

runner = CliRunner()


def _compare_dir(path, tasks, scores):
    rows = []
    for name, per_seed in scores.items():
        for seed, s in enumerate(per_seed):
            for task in tasks:
                rows.append(
                    {"candidate": name, "kind": "plan" if name == "measured" else "share_all",
                     "seed": seed, "task": task, "metric": "accuracy", "value": s,
                     "higher_is_better": True, "parameters": 1000}
                )  # fmt: skip
    cands = [
        {"name": "measured", "kind": "plan", "parameters": 1000},
        {"name": "share-all", "kind": "share_all", "parameters": 500},
    ]
    CompareResult(rows, cands, reference="measured", stop_reason="fixed").write(path)
    return path


def test_report_shows_the_comparison(measured, tmp_path):  # noqa: F811
    labels = json.loads((measured / "modality.json").read_text())["labels"]
    tasks = sorted({label.split("/")[0] for label in labels})
    cmp_dir = _compare_dir(
        tmp_path / "cmp", tasks, {"measured": [0.9, 0.92, 0.91], "share-all": [0.85, 0.86, 0.86]}
    )
    out = tmp_path / "report"
    res = runner.invoke(app, ["report", str(measured), "--compare", str(cmp_dir), "-o", str(out)])
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text()
    assert "## Plan comparison" in md
    assert "measured beats share-all by 0.053" in md
    assert (out / "report_figures" / "compare_forest.png").is_file()
    html = (out / "report.html").read_text()
    assert "against the number of parameters" in html and "Plan comparison" in html


def test_report_refuses_a_comparison_of_other_tasks(measured, tmp_path):  # noqa: F811
    cmp_dir = _compare_dir(
        tmp_path / "cmp", ["elsewhere"], {"measured": [1, 1], "share-all": [0, 0]}
    )
    res = runner.invoke(app, ["report", str(measured), "--compare", str(cmp_dir), "-o",
                              str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 2
    assert "--compare: the comparison trained other tasks" in res.output
