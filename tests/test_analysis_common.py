"""Analyses' torch-free parts: intervals and verdicts, training subsets, label corruption,
overlap arithmetic, result round trips and report sections (hetero_models.analysis)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from hetero.errors import HeteroError
from hetero.suite import Suite, Task
from hetero_models.analysis.common import (
    AnalysisResult,
    effect,
    interval,
    read_result,
    replace_train_labels,
    subsample_order,
    subsample_train,
    verdict,
)
from hetero_models.analysis.interfere import corrupt_labels
from hetero_models.analysis.overlap import involved_task_counts, overlap_matrix
from tests.conftest import BLOCK_TORCH, REPO_ROOT


def _suite(n: int = 40, target: str = "multiclass") -> Suite:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 4 if target == "multiclass" else rng.normal(size=n).astype(np.float32)
    t = Task.from_arrays(
        "t",
        {"x": rng.normal(size=(n, 3)).astype(np.float32)},
        y,
        target=target,
        train_idx=np.arange(0, 24),
        val_idx=np.arange(24, 32),
        test_idx=np.arange(32, n),
    )
    u = Task.from_arrays(
        "u",
        {"x": rng.normal(size=(n, 3)).astype(np.float32)},
        np.arange(n) % 2,
        target="binary",
        split={"val": 0.25, "test": 0.25, "seed": 0},
    )
    return Suite([t, u], name="s")


# ------------------------------------------------------------------- statistics


def test_interval_known_answer_and_degenerate_cases():
    r = interval([1.0, 2.0, 3.0])
    # t_{0.975}(2) = 4.3027; se = 1 / sqrt(3)
    assert r["n"] == 3 and r["mean"] == 2.0 and r["std"] == 1.0
    assert r["half_width"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert r["low"] == pytest.approx(2 - r["half_width"])
    one = interval([0.5, float("nan"), None])
    assert one["n"] == 1 and one["mean"] == 0.5 and math.isnan(one["half_width"])
    assert interval([])["n"] == 0


def test_verdicts_are_worded_by_the_interval():
    assert verdict([0.05, 0.06, 0.07], "A", "B").startswith("A beats B by 0.060 [0.035, 0.085]")
    assert verdict([-0.05, -0.06, -0.07], "A", "B").startswith("B beats A by 0.060 [0.035, 0.085]")
    assert "no difference larger than 0.002" in verdict([0.001, -0.001, 0.0], "A", "B")
    assert "inconclusive (underpowered)" in verdict([0.2, -0.3, 0.1], "A", "B")
    assert "fewer than 2" in verdict([0.3], "A", "B")
    assert effect([0.1, 0.12, 0.11], "x", "loses", "gains").startswith("x loses 0.110")
    assert effect([-0.1, -0.12, -0.11], "x", "loses", "gains").startswith("x gains 0.110")


# ------------------------------------------------------------------- suite edits


def test_subsample_is_deterministic_by_seed_nested_and_stratified():
    y = np.repeat(np.arange(4), 25)
    a, b, c = subsample_order(y, 3), subsample_order(y, 3), subsample_order(y, 4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert sorted(a.tolist()) == list(range(100))
    # every prefix of 20 holds 5 of each class (the classes are spread evenly)
    for m in (20, 40, 60):
        assert np.bincount(y[a[:m]], minlength=4).tolist() == [m // 4] * 4
    suite = _suite()
    quarter = subsample_train(suite, "t", fraction=0.25, seed=1)
    half = subsample_train(suite, "t", fraction=0.5, seed=1)
    again = subsample_train(suite, "t", fraction=0.5, seed=1)
    other = subsample_train(suite, "t", fraction=0.5, seed=2)
    q, h = quarter.task("t").data.train_idx, half.task("t").data.train_idx
    assert len(q) == 6 and len(h) == 12 and set(q) <= set(h)
    assert np.array_equal(h, again.task("t").data.train_idx)
    assert not np.array_equal(h, other.task("t").data.train_idx)
    assert set(h) <= set(range(24))
    t0, t1 = suite.task("t").data, half.task("t").data
    assert np.array_equal(t0.val_idx, t1.val_idx) and np.array_equal(t0.test_idx, t1.test_idx)
    assert half.task("u") is suite.task("u")  # other tasks untouched
    assert len(subsample_train(suite, "t", fraction=0.01, seed=0).task("t").data.train_idx) == 4
    with pytest.raises(HeteroError, match="fraction must be in"):
        subsample_train(suite, "t", fraction=1.5)


def test_replaced_and_corrupted_labels_touch_the_training_split_only():
    suite = _suite()
    y0 = np.asarray(suite.task("t").data.y)
    flipped = corrupt_labels(suite, "t", mode="flip").task("t").data.y
    assert np.array_equal(flipped[:24], (y0[:24] + 1) % 4)  # every training label moved on
    assert np.array_equal(flipped[24:], y0[24:])
    shuffled = corrupt_labels(suite, "t", mode="shuffle", seed=0).task("t").data.y
    assert sorted(shuffled[:24]) == sorted(y0[:24]) and not np.array_equal(shuffled, y0)
    assert np.array_equal(corrupt_labels(suite, "t", mode="none").task("t").data.y, y0)
    half = corrupt_labels(suite, "t", mode="flip", fraction=0.5, seed=1).task("t").data.y
    assert int((half[:24] != y0[:24]).sum()) == 12
    yb = np.asarray(suite.task("u").data.y)
    tb = suite.task("u").data.train_idx
    assert np.array_equal(corrupt_labels(suite, "u").task("u").data.y[tb], 1 - yb[tb])
    reg = _suite(target="regression")
    yr = np.asarray(reg.task("t").data.y)
    out = corrupt_labels(reg, "t").task("t").data.y
    assert np.allclose(out[:24], 2 * yr[:24].mean() - yr[:24], atol=1e-6)
    with pytest.raises(HeteroError, match="mode must be one of"):
        corrupt_labels(suite, "t", mode="bogus")
    with pytest.raises(HeteroError, match="expected \\(24,\\)"):
        replace_train_labels(suite, "t", np.zeros(3))


# ------------------------------------------------------------------- overlap arithmetic


def test_overlap_matrix_and_involved_counts_known_answers():
    a = np.array([5.0, 4, 3, 0, 0, 0, 0, 0, 0, 1])
    b = np.array([0.0, 4, 3, 5, 0, 0, 0, 0, 0, 0])
    m, k, sizes = overlap_matrix({"a": a, "b": b, "a2": a}, 0.3)
    assert k == 3 and sizes == {"a": 3, "b": 3, "a2": 3}
    assert m[0, 0] == m[1, 1] == m[0, 2] == 1.0  # a task (or its copy) with itself
    assert m[0, 1] == pytest.approx(2 / 3)
    # a task that touches fewer than k parameters: its set holds only those
    m2, k2, s2 = overlap_matrix({"a": a, "z": np.r_[1.0, np.zeros(9)]}, 0.5)
    assert k2 == 5 and s2["z"] == 1 and m2[0, 1] == pytest.approx(1 / 5)
    counts = involved_task_counts(
        {
            "a": np.array([1.0, 1, 0, 1]),
            "b": np.array([0.1, 1, 0, 0.3]),
            "c": np.array([0.0, 1, 0, 0]),
        },
        0.2,
    )
    # p0: a only (0.1 <= 0.2); p1: all three; p2: none (left out); p3: a and b
    assert counts.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])


# ------------------------------------------------------------------- results and report


def _fake_result(tmp_path):
    from hetero_models.analysis.heldout import TransferResult

    rows = [
        {
            "target": "t",
            "seed": s,
            "config": c,
            "n_sources": n,
            "metric": "accuracy",
            "value": v,
            "epochs_run": 5,
            "best_epoch": 3,
            "epoch_cap": 30,
            "stopped_early": True,
        }
        for s, (c, n, v) in enumerate([("alone", 0, 0.5), ("pre-trained on 1", 1, 0.6)])
    ]
    summary = [
        {"target": "t", "config": c, "quantity": "value", **interval(v)}
        for c, v in [("alone", [0.5, 0.6]), ("pre-trained on 1", [0.6, 0.7])]
    ]
    res = TransferResult(
        {
            "rows": rows,
            "summary": summary,
            "gains": [
                {
                    "target": "t",
                    "config": "pre-trained on 1",
                    "quantity": "gain",
                    **interval([0.1, 0.12]),
                }
            ],
        },
        ["t: a verdict"],
        {"patience": 3},
        {"created": "now"},
    )
    return res


def test_result_round_trip_and_report_section(tmp_path):
    res = _fake_result(tmp_path)
    paths = res.write(tmp_path / "out")
    assert {p.name for p in paths.values()} == {
        "transfer.json",
        "transfer_rows.csv",
        "transfer_summary.csv",
        "transfer_gains.csv",
        "transfer.png",
    }
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths["json"].read_text())
    assert data["kind"] == "transfer" and data["verdicts"] == ["t: a verdict"]
    back = read_result(tmp_path / "out")
    assert type(back).__name__ == "TransferResult" and back.rows == res.rows
    assert back.tables["gains"][0]["mean"] == pytest.approx(0.11)
    header = paths["rows"].read_text().splitlines()[0]
    assert header.startswith("target,seed,config,n_sources,metric,value")
    from hetero_models.analysis.report import analysis_blocks, render_section

    md = render_section(back, "markdown", figure_dir="figs")
    assert md.startswith("## Transfer to held-out tasks")
    assert "- t: a verdict" in md and "0.110 [" in md and "](figs/transfer.png)" in md
    html = render_section(back, "html")
    assert "<table>" in html and "data:image/png;base64," in html
    assert [type(b).__name__ for b in analysis_blocks(back)][:3] == ["Heading", "Para", "Bullets"]
    with pytest.raises(HeteroError, match="unknown analysis 'nope'"):
        AnalysisResult.from_dict({"kind": "nope", "tables": {}})
    (tmp_path / "bad.json").write_text('{"kind": "transfer"}')
    with pytest.raises(HeteroError, match=r"bad\.json: tables: missing"):
        read_result(tmp_path / "bad.json")


def test_cli_and_report_import_without_torch():
    code = BLOCK_TORCH + (
        "import typer\n"
        "from hetero_models.analysis.cli import register\n"
        "import hetero_models.analysis.report, hetero_models.analysis.common\n"
        "register(typer.Typer())\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


# ------------------------------------------------------------------- cap_train


def _retrieval(n: int = 40, match: str | None = None) -> Task:
    rng = np.random.default_rng(3)
    return Task.from_arrays(
        "look",
        {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 2))},
        None if match != "label" else np.arange(n) % 4,
        target="retrieval",
        match=match,
        train_idx=np.arange(0, 24),
        val_idx=np.arange(24, 32),
        test_idx=np.arange(32, n),
    )


def _fields(task: Task) -> dict:
    return {
        k: getattr(task, k)
        for k in ("name", "target", "n_outputs", "loss", "metric", "higher_is_better", "match")
    } | {"modalities": task.modalities, "source": task.source}


@pytest.mark.parametrize("sampling", ["stratified", "uniform"])
def test_cap_train_keeps_every_task_field(sampling):
    from hetero_models.analysis.common import cap_train

    suite = Suite([*_suite().tasks, _retrieval(match="label"), _retrieval(match=None).rename("p")])
    capped = cap_train(suite, 10, seed=1, sampling=sampling)
    assert capped.name == suite.name and capped.task_names == suite.task_names
    for before, after in zip(suite.tasks, capped.tasks, strict=True):
        assert _fields(after) == _fields(before)
        d0, d1 = before.data, after.data
        assert len(d1.train_idx) == min(10, len(d0.train_idx))
        assert set(d1.train_idx) <= set(d0.train_idx)
        assert np.array_equal(d1.val_idx, d0.val_idx) and np.array_equal(d1.test_idx, d0.test_idx)
    assert capped.task("look").match == "label" and capped.task("p").match == "pair"
    assert cap_train(suite, None) is suite and cap_train(suite, 0) is suite


def test_cap_train_stratified_and_uniform_draws():
    from hetero_models.analysis.common import cap_train

    suite = _suite()
    strat = cap_train(suite, 12, seed=0)
    t = strat.task("t")
    assert np.bincount(t.data.y[t.data.train_idx]).tolist() == [3, 3, 3, 3]  # 24 = 6 a class
    # uniform: one generator for the capped tasks in suite order (the experiments' draw)
    rng = np.random.default_rng(5)
    expected = {
        name: np.sort(rng.choice(suite.task(name).data.train_idx, size=12, replace=False))
        for name in ("t", "u")
    }
    uni = cap_train(suite, 12, seed=5, sampling="uniform")
    for name in ("t", "u"):
        assert np.array_equal(uni.task(name).data.train_idx, expected[name])
    with pytest.raises(HeteroError, match=r"^sampling: expected one of stratified, uniform"):
        cap_train(suite, 12, sampling="random")
    with pytest.raises(HeteroError, match=r"^max_train: expected an integer >= 1"):
        cap_train(suite, 2.5)


def test_experiments_cap_train_is_the_analysis_one_with_the_uniform_draw():
    from hetero_models.analysis.common import cap_train

    exp = REPO_ROOT / "examples" / "experiments"
    sys.path.insert(0, str(exp))
    try:
        import _common as C
    finally:
        sys.path.remove(str(exp))
    suite = Suite([*_suite().tasks, _retrieval(match="label")])
    ours = C.cap_train(suite, 9, seed=2)
    theirs = cap_train(suite, 9, seed=2, sampling="uniform")
    for a, b in zip(ours.tasks, theirs.tasks, strict=True):
        assert np.array_equal(a.data.train_idx, b.data.train_idx)
        assert _fields(a) == _fields(b)
    assert ours.task("look").match == "label"
