"""User frictions fixed together: ``--learner module:Class``, the ``__main__`` guard of the
process pool, ``hetero runs --csv`` columns, the long-format CSV of each level."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import os
import subprocess
import sys
import textwrap
import types
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.errors import HeteroError, LearnerError
from hetero.learners import Learner, ReferenceLearner, get_learner
from hetero.learners.registry import import_learner
from hetero.measure.executors import (
    ExecutorHandle,
    make_executor,
    run_specs,
    unguarded_main_script,
)
from hetero.measure.outputs import LONG_COLUMNS, long_rows
from hetero.measure.store import RUN_COLUMNS, RunRecord, iso_utc

HETERO_SCRIPT = Path(sys.executable).parent / "hetero"

LEARNER_MODULE = """
from hetero.learners import ReferenceLearner


class MyLearner(ReferenceLearner):
    name = "mine"


class NotALearner:
    pass


def factory(**config):
    return MyLearner(**config)
"""

SUITE_YAML = """
name: pairs
tasks:
  - name: pairs
    data: pairs.npz
    target: multiclass
    modalities:
      - {name: wave, kind: audio}
      - {name: scan, kind: image}
    split: {val: 0.25, test: 0.25, seed: 0}
"""


def _write_suite(folder: Path) -> Path:
    """A two-unit suite whose modalities carry one signal that decides the class."""
    rng = np.random.default_rng(0)
    n = 160
    z = rng.normal(size=(n, 3))
    np.savez(
        folder / "pairs.npz",
        wave=(z @ rng.normal(size=(3, 8)) + 0.3 * rng.normal(size=(n, 8))).reshape(n, 4, 2),
        scan=z @ rng.normal(size=(3, 6)) + 0.3 * rng.normal(size=(n, 6)),
        y=(z[:, 0] > 0).astype(int) + (z[:, 1] > 0),
    )
    path = folder / "pairs.yaml"
    path.write_text(SUITE_YAML, encoding="utf-8")
    return path


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture
def learner_module(tmp_path, monkeypatch):
    """A module ``usab_learners_<n>`` in the current directory (cwd = tmp_path); sys.path and
    sys.modules restored afterwards."""
    name = f"usab_learners_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(LEARNER_MODULE, encoding="utf-8")
    (tmp_path / "usab_broken.py").write_text("raise ValueError('bad\\nmodule')\n", "utf-8")
    (tmp_path / "usab_needs_missing.py").write_text("import usab_not_there_xyz\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield name
    for mod in (name, "usab_broken", "usab_needs_missing"):
        sys.modules.pop(mod, None)


# ----------------------------------------------------------------------------- 1. module:Class


def test_import_learner_from_the_current_directory(learner_module):
    cls = import_learner(f"{learner_module}:MyLearner")
    assert issubclass(cls, Learner) and cls.__name__ == "MyLearner"
    assert os.getcwd() in sys.path  # spawned workers inherit it
    learner = get_learner(f"{learner_module}:MyLearner", hidden=8, max_epochs=3)
    assert isinstance(learner, ReferenceLearner) and learner.get_config()["hidden"] == 8
    with pytest.raises(LearnerError, match="expected int"):
        get_learner(f"{learner_module}:MyLearner", hidden="wide")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("usab_no_such_module_xyz:MyLearner", "no module named 'usab_no_such_module_xyz'"),
        ("{mod}:Missing", "has no attribute 'Missing'"),
        ("{mod}:NotALearner", "class NotALearner, not a subclass of hetero.learners.Learner"),
        ("{mod}:factory", "is a function, not a subclass"),
        ("usab_broken:X", "importing 'usab_broken' failed (ValueError: bad module)"),
        ("usab_needs_missing:X", "importing 'usab_needs_missing' failed (ModuleNotFoundError"),
        (":MyLearner", "expected MODULE:CLASS"),
        ("{mod}:", "expected MODULE:CLASS"),
    ],
)
def test_import_learner_errors_are_one_line(learner_module, spec, expected):
    spec = spec.format(mod=learner_module)
    with pytest.raises(LearnerError) as info:
        get_learner(spec)
    msg = _one_line(info.value)
    assert expected in msg and repr(spec) in msg


def test_cli_learner_errors_exit_2_with_one_line(learner_module, tmp_path):
    from hetero.cli.main import app

    suite = _write_suite(tmp_path)
    for spec in ("usab_no_such_module_xyz:A", f"{learner_module}:NotALearner"):
        args = ["measure", str(suite), "-o", "out", "--learner", spec, "--executor", "serial",
                "-q"]  # fmt: skip
        result = CliRunner().invoke(app, args, prog_name="hetero")
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: learner"), result.stderr
        assert not (tmp_path / "out" / "runs.sqlite").exists()


@pytest.mark.skipif(not HETERO_SCRIPT.exists(), reason="hetero console script not installed")
def test_cli_custom_learner_in_process_pool(tmp_path):
    """`hetero measure --learner mod:Class` from the folder holding mod.py, in spawned workers
    (the console script does not put the current directory on sys.path itself)."""
    (tmp_path / "usab_cli_learner.py").write_text(LEARNER_MODULE, encoding="utf-8")
    suite = _write_suite(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    args = [str(HETERO_SCRIPT), "measure", str(suite), "-o", "out", "--learner",
            "usab_cli_learner:MyLearner", "-L", "max_epochs=3", "-L", "hidden=8",
            "--executor", "process", "--workers", "2", "--no-interactions", "--no-figures",
            "-q"]  # fmt: skip
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    from hetero.measure.store import RunStore

    with RunStore(tmp_path / "out" / "runs.sqlite", readonly=True) as store:
        records = store.records()
    assert records and all(r.ok for r in records)
    assert {r.learner for r in records} == {"usab_cli_learner:MyLearner"}
    assert {r.versions["learner_class"] for r in records} == {"usab_cli_learner.MyLearner"}


# ----------------------------------------------------------------------------- 2. main guard

SCRIPT = """
from hetero.learners import ReferenceLearner
from hetero.measure import measure
from hetero.measure.synthetic import planted_suite


class ScriptLearner(ReferenceLearner):
    name = "script"


suite, _ = planted_suite(n_groups=1, per_group=2, n_noise=0, n_samples=100, seed=0)
{guard}
{indent}r = measure(suite, "out", learner=ScriptLearner(max_epochs=3), executor="process",
{indent}            workers=2, figures=False, interactions=False)
{indent}print("trained", r.stats.trained)
"""


def _run_script(tmp_path: Path, guarded: bool) -> subprocess.CompletedProcess:
    text = SCRIPT.format(
        guard='if __name__ == "__main__":' if guarded else "", indent="    " if guarded else ""
    )
    (tmp_path / "script.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)  # fmt: skip


def test_script_without_main_guard_gets_one_line_error(tmp_path):
    proc = _run_script(tmp_path, guarded=False)
    assert proc.returncode != 0
    assert "BrokenProcessPool" not in proc.stderr
    last = proc.stderr.strip().split("\n")[-1]
    assert last.startswith("hetero.errors.HeteroError: executor 'process'"), proc.stderr
    assert 'if __name__ == "__main__":' in last and "script.py" in last
    store = tmp_path / "out" / "runs.sqlite"
    if store.exists():  # refused before anything trained
        from hetero.measure.store import RunStore

        with RunStore(store, readonly=True) as runs:
            assert len(runs) == 0


def test_guarded_script_with_its_own_learner_class_runs_in_the_pool(tmp_path):
    proc = _run_script(tmp_path, guarded=True)
    assert proc.returncode == 0, proc.stderr
    assert "trained 20" in proc.stdout


def _main_module(monkeypatch, tmp_path, source: str | None, spec_name: str | None = None):
    mod = types.ModuleType("__main__")
    if source is not None:
        path = tmp_path / "main_script.py"
        path.write_text(source, encoding="utf-8")
        mod.__file__ = str(path)
    mod.__spec__ = types.SimpleNamespace(name=spec_name) if spec_name else None  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", mod)
    return mod


@pytest.mark.parametrize(
    ("source", "spec_name", "unguarded"),
    [
        ("measure(suite)\n", None, True),
        ("def main():\n    measure(suite)\nmain()\n", None, True),
        ('if __name__ == "__main__":\n    measure(suite)\n', None, False),
        ("if '__main__' == __name__:\n    main()\n", None, False),
        ("measure(suite)\n", "mytool", True),  # python -m mytool: re-imported by name
        ("measure(suite)\n", "mypkg.__main__", False),  # python -m mypkg: not re-imported
        ("def broken(:\n", None, False),  # unreadable: no claim
        (None, None, False),  # interactive / python -c
    ],
)
def test_unguarded_main_script(monkeypatch, tmp_path, source, spec_name, unguarded):
    mod = _main_module(monkeypatch, tmp_path, source, spec_name)
    assert unguarded_main_script() == (mod.__file__ if unguarded else None)


def test_make_executor_refuses_process_pool_for_unguarded_script(monkeypatch, tmp_path):
    _main_module(monkeypatch, tmp_path, "measure(suite)\n")
    with pytest.raises(HeteroError) as info:
        make_executor("process", workers=1)
    assert 'if __name__ == "__main__":' in _one_line(info.value)
    make_executor("serial").close()  # the serial executor does not care


class _BrokenPool(cf.Executor):
    """Every submitted run's worker 'dies': the future fails with BrokenProcessPool."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        fut.set_exception(BrokenProcessPool("A child process terminated abruptly"))
        return fut


def test_broken_pool_is_a_one_line_error(tmp_path):
    from hetero.measure.estimators import get_estimator
    from hetero.measure.planner import RunPlanner
    from hetero.measure.store import RunStore
    from hetero.measure.synthetic import planted_suite

    suite, _ = planted_suite(n_groups=1, per_group=2, n_noise=0, n_samples=100, seed=0)
    labels = [u.label for u in suite.units()]
    planner = RunPlanner(suite, "reference", {}, get_estimator("finetune"))
    runs = planner.plan_level("modality", labels, seeds=[0], baseline_seeds=[0], mask=None)
    handle = ExecutorHandle(_BrokenPool(), "process", 1)
    with RunStore(tmp_path / "runs.sqlite") as store, pytest.raises(HeteroError) as info:
        run_specs(runs.specs(), store, handle, learner_name="reference", learner_config={},
                  task_for=lambda label: suite.task(label.split("/")[0]))  # fmt: skip
    msg = _one_line(info.value)
    assert "worker process died abruptly" in msg and "resumes" in msg


# ----------------------------------------------------------------------------- shared measurement


def _measure(out: Path, **options):
    from hetero.measure import measure
    from hetero.measure.synthetic import planted_suite

    n_groups = options.pop("n_groups")
    suite, _ = planted_suite(n_groups=n_groups, per_group=2, n_noise=1, n_samples=100, seed=0)
    return measure(suite, out, learner="reference", learner_config={"max_epochs": 3},
                   baseline_seeds=2, stability_boot=0, figures=False, **options)  # fmt: skip


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A full measurement of 3 units, both levels."""
    out = tmp_path_factory.mktemp("usability") / "out"
    return _measure(out, n_groups=1), out


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """A sampled measurement of 5 units (modality level), some entries completed."""
    out = tmp_path_factory.mktemp("usability") / "out"
    return _measure(out, n_groups=2, fraction=0.8, interactions=False), out


# ----------------------------------------------------------------------------- 3. runs --csv


def test_iso_utc():
    assert iso_utc(0.0) == "" and iso_utc(None) == ""
    assert iso_utc(1_700_000_000.25) == "2023-11-14T22:13:20.250+00:00"


def test_runs_csv_times_and_modes(measured):
    import pandas as pd

    from hetero.cli.main import app

    _, out = measured
    res = CliRunner().invoke(app, ["runs", str(out), "--csv"], prog_name="hetero")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert tuple(rows[0]) == RUN_COLUMNS
    now = datetime.now(timezone.utc)
    for row in rows:
        when = datetime.fromisoformat(row["finished"])
        assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 0
        assert abs((now - when).total_seconds()) < 3600
        if row["kind"] == "transfer":
            assert row["mode"] in ("finetune", "frozen", "logme")
        else:
            assert row["mode"] == ""
    assert {r["kind"] for r in rows} == {"scratch", "transfer"}
    # the table shows the same modes (`-` where the CSV is empty)
    table = CliRunner().invoke(app, ["runs", str(out)], prog_name="hetero").stdout.split("\n")
    header = table[1].split()
    by_key = {}
    for line in table[2:]:
        if line.strip():
            cells = line.split()
            by_key[cells[0]] = cells[header.index("mode")]
    for row in rows:
        assert by_key[row["key"][:10]] == (row["mode"] or "-")
    frame = pd.read_csv(io.StringIO(res.stdout), parse_dates=["finished"])
    assert str(frame["finished"].dt.tz) == "UTC" and len(frame) == len(rows)


def test_csv_cells_of_a_scratch_record():
    rec = RunRecord(key="k", status="ok", kind="scratch", level="modality", unit="t/a", seed=0,
                    learner="reference", learner_config={"b": 1, "a": 2}, curve=[0.5],
                    finished=1_700_000_000.0)  # fmt: skip
    cells = dict(zip(RUN_COLUMNS, rec.csv_cells(), strict=True))
    assert cells["mode"] == "" and cells["finished"] == "2023-11-14T22:13:20.000+00:00"
    assert cells["learner_config"] == '{"a": 2, "b": 1}' and cells["curve"] == "[0.5]"


# ----------------------------------------------------------------------------- 4. long CSV


@pytest.mark.parametrize("level", ["modality", "interaction"])
def test_long_csv_one_row_per_ordered_pair(measured, level):
    import pandas as pd

    result, out = measured
    res = getattr(result, level)
    assert res is not None
    frame = pd.read_csv(out / f"{level}_long.csv")
    assert tuple(frame.columns) == LONG_COLUMNS
    n = len(res.labels)
    assert len(frame) == n * (n - 1)
    for col in ("significant", "completed", "measured"):
        assert frame[col].dtype == bool
    for col in ("T", "se", "df", "ci_low", "ci_high", "d"):
        assert np.issubdtype(frame[col].dtype, np.floating) or np.issubdtype(
            frame[col].dtype, np.integer
        )
    idx = {label: i for i, label in enumerate(res.labels)}
    i = frame["source"].map(idx).to_numpy()
    j = frame["target"].map(idx).to_numpy()
    prov = res.transfer.provenance
    t = res.transfer.values[i, j]
    np.testing.assert_allclose(frame["T"], t, equal_nan=True)
    np.testing.assert_allclose(frame["d"], res.distance.values[i, j], equal_nan=True)
    np.testing.assert_allclose(frame["se"], np.asarray(prov["se"])[i, j], equal_nan=True)
    np.testing.assert_allclose(frame["df"], np.asarray(prov["df"])[i, j], equal_nan=True)
    half = np.asarray(prov["half_width"], dtype=float)[i, j]
    np.testing.assert_allclose(frame["ci_low"], t - half, equal_nan=True)
    np.testing.assert_allclose(frame["ci_high"], t + half, equal_nan=True)
    assert (frame["significant"] == np.asarray(prov["significant"])[i, j]).all()
    assert (frame["measured"] == res.runs.mask[i, j]).all()
    assert (frame["completed"] == res.distance.provenance["completed"][i, j]).all()
    # an unmeasured pair has no T; a completed entry has a d all the same
    assert frame.loc[~frame["measured"], "T"].isna().all()
    assert frame.loc[frame["completed"], "d"].notna().all()


def test_long_csv_covers_measured_and_completed_pairs(sampled):
    import pandas as pd

    _, out = sampled
    assert not (out / "interaction_long.csv").exists()
    frame = pd.read_csv(out / "modality_long.csv")
    assert len(frame) == 20 and frame["df"].dtype == float  # NaN where not measured
    assert frame["measured"].any() and not frame["measured"].all()  # a sampled design
    assert frame["completed"].any()
    assert frame.loc[frame["measured"], "T"].notna().all()


def test_long_rows_without_provenance(sampled):
    """A LevelResult built elsewhere, with a bare provenance, still gives every row."""
    import copy

    result, _ = sampled
    res = copy.copy(result.modality)
    res.transfer = copy.copy(res.transfer)
    res.transfer.provenance = {}
    res.distance = copy.copy(res.distance)
    res.distance.provenance = {}
    rows = long_rows(res)
    n = len(res.labels)
    assert len(rows) == n * (n - 1) and set(rows[0]) == set(LONG_COLUMNS)
    assert [r["completed"] for r in rows] == [
        bool(res.completed[i, j]) for i in range(n) for j in range(n) if i != j
    ]
