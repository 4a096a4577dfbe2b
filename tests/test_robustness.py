"""No lost or wasted work, no wrong success: locks, read-only readers, outputs checked first,
figure sets swapped whole, failures reported by the exit code, warnings on odd matrices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import HeteroError, HeteroWarning
from hetero.matrix import HeterogeneityMatrix
from hetero.measure.driver import LOCK_FILE, measure
from hetero.measure.synthetic import planted_suite

TINY = {"hidden": 8, "max_epochs": 4, "patience": 2}
KW = dict(learner="reference", learner_config=TINY, estimator="frozen", seeds=1,
          baseline_seeds=1, interactions=False, stability_boot=0, executor="serial")  # fmt: skip


def _run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _suite():
    return planted_suite(1, 2, n_noise=1, n_samples=120, width=6, latent=3, seed=0)[0]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("measured")
    measure(_suite(), out, figures=True, **KW)
    return out


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
    """The lock is an OS lock held by another process; a killed holder frees it."""
    tmp_path.mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import filelock, sys, time; l = filelock.FileLock(sys.argv[1]); l.acquire(); "
         "print('held', flush=True); time.sleep(60)", str(tmp_path / LOCK_FILE)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(HeteroError, match="another hetero measure is writing to this folder"):
            measure(_suite(), tmp_path, **KW)
        assert not (tmp_path / "runs.sqlite").exists()  # refused before the store was made
    finally:
        holder.kill()
        holder.wait()
    res = measure(_suite(), tmp_path, figures=False, **KW)  # the dead holder's lock is free
    assert res.stats.failed == 0 and (tmp_path / "modality.json").is_file()


def test_workers_zero_fails_before_any_file(tmp_path):
    res = _run("measure", "mini", "-o", tmp_path / "o", "--workers", "0")
    assert res.exit_code == 2 and "workers: expected at least 1, got 0" in res.output
    assert not (tmp_path / "o").exists()


def test_readers_leave_no_files(measured, tmp_path):
    before = _files(measured)
    assert not any(f.endswith(("-wal", "-shm")) for f in before)
    assert _run("runs", measured).exit_code == 0
    assert _run("runs", measured, "--csv").exit_code == 0
    res = _run("report", measured, "-o", tmp_path / "rep", "--no-figures")
    assert res.exit_code == 0, res.output
    assert _files(measured) == before


def test_figures_are_replaced_as_a_set(measured, tmp_path, monkeypatch):
    """A failure while figures are written leaves the earlier complete set."""
    import hetero._io as io_mod

    figs = measured / "figures"
    before = {p.name: p.read_bytes() for p in figs.iterdir()}
    assert len(before) >= 5
    real = io_mod.atomic_write_bytes
    calls = []

    def flaky(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if killed mid-set
        return real(path, data)

    monkeypatch.setattr(io_mod, "atomic_write_bytes", flaky)
    with pytest.raises(KeyboardInterrupt):
        io_mod.atomic_write_dir(figs, {f"new{i}.png": b"x" for i in range(5)})
    assert {p.name: p.read_bytes() for p in figs.iterdir()} == before
    monkeypatch.setattr(io_mod, "atomic_write_bytes", real)
    io_mod.atomic_write_dir(figs, {"a.png": b"1"})
    assert [p.name for p in figs.iterdir()] == ["a.png"]
    assert not list(measured.glob(".figures.*"))  # no hidden leftovers


def test_every_run_failing_is_an_error_not_empty_matrices(tmp_path, monkeypatch):
    from hetero.learners.reference import ReferenceLearner

    def fit(self, task, unit, **kw):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(ReferenceLearner, "fit", fit)
    res = _run("measure", "mini", "-o", tmp_path / "o", "--learner", "reference",
               "--executor", "serial", "--seeds", "1", "-q", "--no-figures",
               "--no-interactions", "--retries", "0")  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "nothing was measured" in res.output and "planted failure" in res.output
    assert res.output.count("\n") == 1
    assert not (tmp_path / "o" / "modality.json").exists()


def test_learner_options_are_type_checked_before_any_run(tmp_path):
    res = _run("measure", "mini", "-o", tmp_path / "o", "--learner", "reference",
               "-L", "lr=abc", "-q")  # fmt: skip
    assert res.exit_code == 2
    assert "option lr='abc': expected float" in res.output
    assert not (tmp_path / "o").exists()  # refused before the folder was made
    res = _run("measure", "mini", "-o", tmp_path / "o", "--learner", "reference",
               "-L", "max_epochs=2.5", "-q")  # fmt: skip
    assert res.exit_code == 2 and "expected int" in res.output


def test_some_runs_failing_exit_1_after_writing_what_was_measured(tmp_path, monkeypatch):
    from hetero.learners.reference import ReferenceLearner

    real_fit = ReferenceLearner.fit

    def fit(self, task, unit, **kw):
        if kw.get("init_state") is not None and str(unit).endswith("noise0"):
            raise RuntimeError("planted failure")
        return real_fit(self, task, unit, **kw)

    monkeypatch.setattr(ReferenceLearner, "fit", fit)
    suite = _suite()
    path = tmp_path / "suite.yaml"
    task = suite.tasks[0]
    np.savez(tmp_path / "p.npz", y=task.data.y, **task.data.arrays)
    mods = ", ".join(f"{{name: {m}, kind: table}}" for m in task.data.arrays)
    path.write_text(f"tasks:\n  - name: p\n    data: p.npz\n    target: multiclass\n"
                    f"    modalities: [{mods}]\n")  # fmt: skip
    res = _run("measure", path, "-o", tmp_path / "o", "--learner", "reference", "-L",
               "max_epochs=3", "--executor", "serial", "--seeds", "1", "-q", "--no-figures",
               "--retries", "0")  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "runs failed past their retries" in res.output
    m = HeterogeneityMatrix.read(tmp_path / "o" / "modality_transfer.json")
    off = ~np.eye(len(m.labels), dtype=bool)
    assert np.isnan(m.values[off]).any() and np.isfinite(m.values[off]).any()


def test_plan_warns_on_asymmetric_and_negative_matrices(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"kind": "modality", "labels": ["a/x", "b/y", "c/z"],
                                "values": [[0, 1, -2], [3, 0, 1], [-2, 1, 0]]}))  # fmt: skip
    res = _run("plan", path, "-o", tmp_path / "p.json", "--unimodal-groups", "2")
    assert res.exit_code == 0
    warnings = [ln for ln in res.output.splitlines() if ln.startswith("warning: ")]
    assert len(warnings) == 2
    assert "not symmetric (max |D[i,j] - D[j,i]| = 2 at [0][1])" in warnings[0]
    assert "2 off-diagonal distances are negative" in warnings[1]
    from hetero.grouping import cluster

    with pytest.warns(HeteroWarning, match="not symmetric"):
        cluster(np.array([[0.0, 1.0], [2.0, 0.0]]), n_groups=1)


def test_nan_tokens_and_one_sided_entries_are_explicit(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"kind": "modality", "labels": ["a/x", "b/y"], "values": [[0, NaN], [1, 0]]}')
    res = _run("check", path)
    assert res.exit_code == 2
    assert "NaN is not valid JSON; expected a number, or null for a missing value" in res.output
    path.write_text(json.dumps({"kind": "modality", "labels": ["a/x", "b/y", "c/z"],
                                "values": [[0, 1, None], [1, 0, 1], [2, 1, 0]]}))  # fmt: skip
    res = _run("check", path)
    assert (
        "symmetric: no" in res.output and "1 pair(s) measured in one direction only" in res.output
    )


def test_train_refuses_an_existing_file_as_output_before_training(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "taken"
    out.write_text("keep me")
    res = _run("train", "mini", "-o", out, "--pretrain-epochs", "50")
    assert res.exit_code == 2 and "exists and is not a directory" in res.output
    assert out.read_text() == "keep me"


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(monkeypatch, tmp_path):
    import hetero.metric

    def boom(*a, **k):
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr(hetero.metric, "check_metric", boom)
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"kind": "modality", "labels": ["a/x", "b/y"],
                                "values": [[0, 1], [1, 0]]}))  # fmt: skip
    res = _run("check", path)
    assert res.exit_code == 70
    assert res.output.startswith("error: internal error ZeroDivisionError: planted bug")
    assert res.output.count("\n") == 1 and "--debug" in res.output
    res = _run("--debug", "check", path)
    assert isinstance(res.exception, ZeroDivisionError)


def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path):
    """Files and the swapped-in figure folder follow the umask (no umask probe at import)."""
    code = (
        "import os, sys; os.umask(0o027); from hetero._io import atomic_write_bytes, "
        "atomic_write_dir; d = sys.argv[1]; atomic_write_bytes(d + '/f.txt', b'x'); "
        "atomic_write_dir(d + '/figs', {'a.png': b'1'})"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "figs").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "figs" / "a.png").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "figs"]


def test_a_missing_optional_dependency_names_its_extra(monkeypatch, tmp_path):
    import hetero.metric

    def needs_torch(*a, **k):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(hetero.metric, "check_metric", needs_torch)
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"kind": "modality", "labels": ["a/x", "b/y"],
                                "values": [[0, 1], [1, 0]]}))  # fmt: skip
    res = _run("check", path)
    assert res.exit_code == 2
    assert "needs torch, which is not installed: pip install 'hetero[models]'" in res.output
