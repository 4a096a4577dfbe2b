"""``hetero analyze``: round trips on the tiny synthetic suite (``hetero train`` folders in,
JSON + CSV + PNG out) and one-line errors for bad inputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from hetero.cli.main import app  # noqa: E402
from hetero.plan import GroupingPlan  # noqa: E402
from tests.test_models_helpers import make_suite  # noqa: E402

torch.set_num_threads(1)
SUITE = make_suite()


def _write_suite(folder):
    """The tiny suite as a YAML file plus one .npz per task."""
    lines = ["name: tiny", "tasks:"]
    for task in SUITE.tasks:
        d = task.data
        np.savez(
            folder / f"{task.name}.npz",
            y=d.y,
            train_idx=d.train_idx,
            val_idx=d.val_idx,
            test_idx=d.test_idx,
            **{m: np.asarray(a) for m, a in d.arrays.items()},
        )
        lines += [
            f"  - name: {task.name}",
            f"    data: {task.name}.npz",
            f"    target: {task.target}",
            "    modalities:",
        ]
        for m in task.modalities:
            axes = "" if m.positional_axes is None else f", positional_axes: {m.positional_axes}"
            lines.append(
                f"      - {{name: {m.name}, kind: {m.kind}, num_freq_bands: "
                f"{m.num_freq_bands}, max_freq: {m.max_freq}{axes}}}"
            )
    path = folder / "suite.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyze")
    (root / "suite").mkdir()
    yaml_path = _write_suite(root / "suite")
    plan = GroupingPlan(
        [
            ["alpha/img", "gamma/img"],
            ["alpha/seq", "beta/seq"],
            ["beta/vec", "beta/tab", "gamma/tab"],
        ],
        [["alpha/img+seq", "gamma/img+tab"], ["beta/seq+tab", "beta/seq+vec", "beta/tab+vec"]],
    )
    plan.write(root / "plan.json")
    GroupingPlan.share_all(SUITE).write(root / "share_all.json")
    return root, yaml_path


def _invoke(args):
    return CliRunner().invoke(app, args)


def _train(root, yaml_path, plan_name, seed):
    out = root / f"{plan_name}-{seed}"
    res = _invoke(
        [
            "train",
            str(yaml_path),
            "--plan",
            str(root / f"{plan_name}.json"),
            "--preset",
            "small",
            "--pretrain-epochs",
            "1",
            "--finetune-epochs",
            "1",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--seed",
            str(seed),
            "-q",
            "-o",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    return out


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_overlap_and_interference_on_train_folders(setup):
    root, yaml_path = setup
    dirs = [_train(root, yaml_path, p, s) for s in (0, 1) for p in ("share_all", "plan")]
    out = root / "overlap"
    res = _invoke(
        [
            "analyze",
            "overlap",
            str(yaml_path),
            *map(str, dirs),
            "--max-samples",
            "6",
            "--device",
            "cpu",
            "-o",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "overlap.json").read_text())
    assert data["kind"] == "overlap" and data["config"]["suite"] == str(yaml_path)
    models = {(m["arm"], m["seed"]) for m in data["config"]["models"]}
    assert models == {("share-all", 0), ("share-all", 1), ("grouped", 0), ("grouped", 1)}
    summary = _csv(out / "overlap_summary.csv")
    assert {r["arm"] for r in summary} == {"share-all", "grouped"}
    assert all(r["n"] == "2" and float(r["low"]) <= float(r["mean"]) for r in summary)
    assert (out / "overlap.png").read_bytes()[:4] == b"\x89PNG"
    assert "share-all overlaps more than grouped" in res.output or "grouped overlaps" in res.output
    assert "wrote" in res.output.splitlines()[-1]

    out = root / "interference"
    res = _invoke(
        [
            "analyze",
            "interference",
            str(yaml_path),
            str(dirs[0]),
            str(dirs[1]),
            "--corrupt",
            "gamma",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "-q",
            "-o",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    rows = _csv(out / "interference_rows.csv")
    assert len(rows) == 2 * 3 and {r["corrupted"] for r in rows} == {"gamma"}
    assert {"clean", "corrupted_value", "change", "drop"} <= set(rows[0])
    assert res.output.count("\n") == 1  # -q: only the "wrote" line


@pytest.mark.slow
def test_few_shot_and_transfer_commands(setup):
    root, yaml_path = setup
    out = root / "few"
    res = _invoke(
        [
            "analyze",
            "few-shot",
            str(yaml_path),
            "--target",
            "alpha",
            "--fractions",
            "0.5,1",
            "--seeds",
            "2",
            "--pretrain-epochs",
            "1",
            "--finetune-epochs",
            "1",
            "--alone-epochs",
            "1",
            "--preset",
            "small",
            "--batch-size",
            "8",
            "--task-sampling",
            "balanced",
            "--lr-schedule",
            "cosine",
            "--device",
            "cpu",
            "-q",
            "-o",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    gains = _csv(out / "few_shot_gains.csv")
    assert [g["fraction"] for g in gains] == ["0.5", "1.0"] and gains[0]["n"] == "2"
    (written,) = out.glob("*.json")
    options = json.loads(written.read_text())["config"]["trainer_kwargs"]
    assert options == {
        "batch_size": 8,
        "lr": 8e-4,
        "task_sampling": "balanced",  # not the analyses' defaults
        "lr_schedule": "cosine",
    }
    out = root / "transfer"
    res = _invoke(
        [
            "analyze",
            "transfer",
            str(yaml_path),
            "--targets",
            "alpha,gamma",
            "--seeds",
            "2",
            "--pretrain-epochs",
            "1",
            "--finetune-epochs",
            "2",
            "--alone-epochs",
            "3",
            "--patience",
            "1",
            "--preset",
            "small",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "-o",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    rows = _csv(out / "transfer_rows.csv")
    assert {(r["target"], r["config"]) for r in rows} == {
        (t, c) for t in ("alpha", "gamma") for c in ("alone", "pre-trained on 2")
    }
    assert "mean over 2 targets" in res.output
    assert (out / "transfer.png").is_file() and (out / "transfer_convergence.csv").is_file()


def test_overlap_trains_its_own_models_when_given_none(setup, tmp_path):
    root, yaml_path = setup
    out = tmp_path / "own"
    res = _invoke(
        [
            "analyze",
            "overlap",
            str(yaml_path),
            "--plan",
            str(root / "plan.json"),
            "--seeds",
            "1",
            "--pretrain-epochs",
            "1",
            "--finetune-epochs",
            "0",
            "--preset",
            "small",
            "--max-samples",
            "4",
            "--device",
            "cpu",
            "-q",
            "-o",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    means = _csv(out / "overlap_means.csv")
    assert {r["arm"] for r in means} == {"share-all", "grouped"}
    assert {r["component"] for r in means} == {"unimodal", "crossmodal", "all"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["overlap", "{suite}", "{root}/missing"], "missing: model folder not found"),
        (["overlap", "{suite}", "{root}/suite"], "config.json not found"),
        (["overlap", "{suite}", "--top", "0"], "--top: expected a fraction in (0, 1]"),
        (["overlap", "{suite}", "--objective", "x"], "--objective: expected one of loss"),
        (["overlap", "{suite}", "--plan", "{root}/nope.json"], "nope.json"),
        (["interference", "{suite}", "--corrupt", "delta"], "--corrupt: unknown task 'delta'"),
        (["interference", "{suite}", "--mode", "rot"], "--mode: expected one of flip"),
        (["interference", "{suite}", "--part", "heads"], "--part: expected one of all"),
        (
            ["interference", "{suite}", "--task-sampling", "even"],
            "--task-sampling: expected one of proportional, balanced",
        ),
        (["overlap", "{suite}", "--lr-schedule", "step"], "--lr-schedule: expected one of"),
        (
            ["few-shot", "{suite}", "--target", "alpha", "--fractions", "0,1"],
            "--fractions: expected fractions in (0, 1]",
        ),
        (
            ["few-shot", "{suite}", "--target", "alpha", "--fractions", "a"],
            "--fractions: 'a' is not a number",
        ),
        (["few-shot", "{suite}", "--target", "zeta"], "--target: unknown task 'zeta'"),
        (["transfer", "{suite}", "--n-sources", "3"], "--n-sources: expected numbers between 1"),
        (["transfer", "{suite}", "--targets", "alpha", "--device", "tpu"], "device must be"),
        (["transfer", "{root}/none.yaml"], "none.yaml"),
        (["transfer", "{suite}", "--preset", "huge", "--targets", "alpha"], "unknown preset"),
        (["overlap", "{suite}", "--hparam", "bogus=1"], "unknown HighMMT hyperparameter"),
        (["few-shot", "{suite}", "--target", "alpha", "--hparam", "x"], "--hparam 'x': expected"),
    ],
)
def test_bad_inputs_fail_with_one_line(setup, tmp_path, args, message):
    root, yaml_path = setup
    out = tmp_path / "out"
    full = ["analyze", *(a.format(suite=yaml_path, root=root) for a in args), "-o", str(out)]
    res = _invoke(full)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.output
    assert not out.exists()


def test_output_path_is_checked_before_any_work(setup, tmp_path):
    _, yaml_path = setup
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = _invoke(["analyze", "transfer", str(yaml_path), "-o", str(blocker)])
    assert res.exit_code == 2 and "not a directory" in res.output


def test_analyze_is_listed():
    res = _invoke(["analyze", "--help"])
    assert res.exit_code == 0
    for name in ("overlap", "interference", "few-shot", "transfer"):
        assert name in res.output
