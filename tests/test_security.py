"""Nothing is unpickled unless the person running the command asked for it.

A pickle whose payload writes a marker file stands in for an attacker's file: a suite YAML
may point at it and even set ``trust_pickle: true`` in its options, and no command or API
call may run it without the caller's own ``--trust-pickle`` / ``trust_pickle=True``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import HeteroError


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker proves code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def evil(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps(_Payload(marker)))
    return pkl, marker


def _suite(tmp_path: Path, pkl: Path, *, in_file_trust: bool) -> Path:
    opts = f"path: {pkl}" + (", trust_pickle: true" if in_file_trust else "")
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: evil\ntasks:\n  - dataset: affect\n    options: {{{opts}}}\n")
    return path


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("in_file_trust", [True, False])
@pytest.mark.parametrize(
    "command",
    [
        ["datasets", "show"],
        ["measure", "-q", "--executor", "serial", "-o", "OUT"],
    ],
)
def test_suite_file_cannot_unpickle(tmp_path, evil, command, in_file_trust):
    pkl, marker = evil
    suite = _suite(tmp_path, pkl, in_file_trust=in_file_trust)
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    res = _run(*args[:2], str(suite), *args[2:])
    assert not marker.exists(), "the pickle's payload ran"
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and "Traceback" not in res.output
    if in_file_trust:
        assert "options.trust_pickle: a suite file cannot allow unpickling" in res.output
        assert str(suite) in res.output
    else:
        assert "--trust-pickle" in res.output
    assert not (tmp_path / "out").exists()


def test_train_cannot_unpickle_from_suite_file(tmp_path, evil):
    pytest.importorskip("torch")
    pkl, marker = evil
    suite = _suite(tmp_path, pkl, in_file_trust=True)
    res = _run("train", str(suite), "-o", str(tmp_path / "out"))
    assert not marker.exists()
    assert res.exit_code == 2 and "cannot allow unpickling" in res.output


def test_option_flag_not_a_loader_option(tmp_path, evil):
    pkl, marker = evil
    res = _run("datasets", "show", "affect", "-O", f"path={pkl}", "-O", "trust_pickle=true")
    assert res.exit_code == 2 and "use the --trust-pickle flag" in res.output
    assert not marker.exists()


def test_python_api_cannot_be_opted_in_by_the_file(tmp_path, evil):
    from hetero.datasets import get_suite
    from hetero.suite import load_suite

    pkl, marker = evil
    suite = _suite(tmp_path, pkl, in_file_trust=True)
    for load in (load_suite, get_suite):
        with pytest.raises(HeteroError, match="cannot allow unpickling"):
            load(suite)
    assert not marker.exists()


def test_caller_opt_in_reaches_the_loader(tmp_path):
    """The flag and the argument do unpickle a trusted file (of the suite's tasks)."""
    from hetero.datasets import get_suite
    from hetero.suite import load_suite

    pkl = tmp_path / "affect.pkl"
    rng = np.random.default_rng(0)
    data = {
        s: {
            "vision": rng.normal(size=(6, 2, 2)),
            "audio": rng.normal(size=(6, 2, 2)),
            "text": rng.normal(size=(6, 2, 2)),
            "labels": np.array([1.0, -1.0, 2.0, -2.0, 0.5, -0.5]),
        }
        for s in ("train", "valid", "test")
    }
    pkl.write_bytes(pickle.dumps(data))
    suite = _suite(tmp_path, pkl, in_file_trust=False)
    with pytest.raises(HeteroError, match="--trust-pickle"):
        load_suite(suite)
    for load in (load_suite, get_suite):
        s = load(suite, trust_pickle=True)
        assert s.task_names == ("affect",) and len(s.units()) == 3
    res = _run("datasets", "show", str(suite), "--trust-pickle")
    assert res.exit_code == 0, res.output
    assert "affect" in res.output


def test_no_pickle_load_outside_the_opt_in():
    """Only the opt-in helper (and the one trusted wheel file) may unpickle."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for path in list((root / "hetero").rglob("*.py")) + list(
        (root / "hetero_models").rglob("*.py")
    ):
        text = path.read_text(encoding="utf-8")
        rel = os.fspath(path.relative_to(root))
        for needle in ("pickle.load(", "pickle.loads(", "allow_pickle=True", "torch.load("):
            for line in text.splitlines():
                if needle in line and not line.lstrip().startswith("#"):
                    offenders.append((rel, line.strip()))
    allowed = {
        ("hetero/datasets/multibench.py", "return pickle.load(fh)"),
        (
            "hetero/datasets/packaged.py",
            "data = np.load(path, allow_pickle=True).item()  # trusted: shipped in the seglearn wheel",
        ),
    }
    assert [o for o in offenders if o not in allowed and "``" not in o[1]] == []
