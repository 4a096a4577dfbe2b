"""`hetero check / complete / plan / plot` through typer's CliRunner, errors included."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.matrix import HeterogeneityMatrix
from hetero.plan import GroupingPlan

runner = CliRunner()
UNITS = [f"t{i // 3}/m{i % 3}" for i in range(9)]
TRUTH = np.repeat([0, 1, 2], 3)


def _distances(n_groups_truth=TRUTH):
    D = np.where(n_groups_truth[:, None] == n_groups_truth[None, :], 0.1, 1.0)
    D = D + 0.01 * np.add.outer(np.arange(len(D)), np.arange(len(D)))
    np.fill_diagonal(D, 0)
    return D


@pytest.fixture
def files(tmp_path):
    mod = HeterogeneityMatrix(UNITS, _distances())
    mod.write(tmp_path / "mod.json")
    inter_labels = [f"t{i}/m0+m1" for i in range(4)]
    HeterogeneityMatrix(inter_labels, _distances(np.array([0, 0, 1, 1])), kind="interaction").write(
        tmp_path / "inter.json"
    )
    mask = np.ones((9, 9), dtype=bool)
    mask[[0, 1, 4, 7], [5, 8, 2, 3]] = False
    mask &= mask.T
    mod.copy(values=np.where(mask, mod.values, np.nan)).write(tmp_path / "partial.json")
    return tmp_path


def _ok(args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def _bad(args, message, output=None):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in result.output
    assert message in err, err
    if output is not None:
        assert not output.exists()
    return err


def test_check_json_and_text(files):
    result = _ok(["check", files / "mod.json", "--c", "2", "--json"])
    report = json.loads(result.stdout)
    assert report["symmetric"] and report["nonnegative"] and report["c"] == 2.0
    for key in ("triangle_exact", "triangle_relaxed", "min_c"):
        assert 0 <= report[key]
    assert report["n_triples"] == 9 * 8 * 7 // 2
    text = _ok(["check", files / "partial.json"]).stdout
    assert "triangle inequality, exact" in text and "relaxed (c = 5)" in text


def test_complete(files):
    out = files / "out" / "done.json"
    result = _ok(["complete", files / "partial.json", "--rank", "3", "-o", out])
    assert "completed 8 entries" in result.stdout
    done = HeterogeneityMatrix.read(out)
    assert done.is_complete and done.labels == tuple(UNITS)
    assert None not in [v for row in json.loads(out.read_text())["values"] for v in row]


def test_complete_with_a_fancyimpute_method(files):
    pytest.importorskip("fancyimpute")  # the `completion` extra
    _ok(
        [
            "complete",
            files / "partial.json",
            "--method",
            "iterativesvd",
            "--rank",
            "2",
            "-o",
            files / "svd.json",
        ]
    )
    assert HeterogeneityMatrix.read(files / "svd.json").is_complete


def test_plan_and_plot(files):
    plan_path = files / "plan.json"
    _ok(
        [
            "plan",
            files / "mod.json",
            "--interaction",
            files / "inter.json",
            "--unimodal-groups",
            "3",
            "--crossmodal-groups",
            "2",
            "--method",
            "complete",
            "-o",
            plan_path,
        ]
    )
    plan = GroupingPlan.read(plan_path)
    assert plan.n_unimodal_groups == 3 and plan.n_crossmodal_groups == 2
    assert [plan.group_of(u) for u in UNITS] == list(TRUTH)
    raw = json.loads(plan_path.read_text())
    assert raw["version"] == 1 and raw["provenance"]["config"]["method"] == "complete"
    _ok(["plan", files / "mod.json", "-o", files / "auto.json"])  # groups by largest gap
    assert GroupingPlan.read(files / "auto.json").n_unimodal_groups == 3
    figs = files / "figs"
    result = _ok(["plot", files / "mod.json", "--plan", plan_path, "-o", figs])
    names = sorted(p.name for p in figs.iterdir())
    assert names == ["clustermap.png", "dendrogram.png", "graph.png", "heatmap.png", "spectrum.png"]
    assert "wrote" in result.stdout


def test_errors_exit_2_one_line_no_output(files, tmp_path):
    out = tmp_path / "never.json"
    _bad(["check", tmp_path / "missing.json"], "missing.json: file not found")
    (tmp_path / "bad.json").write_text('{"labels": ["a"], ')
    _bad(["complete", tmp_path / "bad.json", "-o", out], "malformed JSON", out)
    (tmp_path / "nonsq.json").write_text(
        json.dumps({"labels": ["a", "b"], "values": [[0, 1], [1]]})
    )
    _bad(["plan", tmp_path / "nonsq.json", "-o", out], "matrix is not square", out)
    (tmp_path / "len.json").write_text(
        json.dumps({"labels": ["a", "b", "c"], "values": [[0, 1], [1, 0]]})
    )
    _bad(["check", tmp_path / "len.json"], "2 rows do not match 3 labels")
    _bad(
        ["complete", files / "partial.json", "--method", "magic", "-o", out],
        "unknown completion method 'magic'",
        out,
    )
    _bad(
        ["plan", files / "mod.json", "--unimodal-groups", "10", "-o", out],
        "number of groups 10 must be between 1 and the number of units (9)",
        out,
    )
    _bad(["plan", files / "mod.json", "--method", "ward", "-o", out], "unknown linkage", out)
    _bad(["plan", files / "partial.json", "-o", out], "complete it first", out)
    _bad(["plan", files / "inter.json", "-o", out], "expected kind 'modality'", out)
    _bad(
        ["plot", files / "mod.json", "--plan", tmp_path / "nope.json", "-o", tmp_path / "d"],
        "nope.json: file not found",
        tmp_path / "d",
    )
    _bad(["complete", files / "partial.json", "--rank", "0", "-o", out], "--rank", out)
