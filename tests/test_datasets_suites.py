"""Built-in suites (mini, full), their YAML copies in examples/suites, and `hetero datasets`."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from hetero.datasets import (
    DATA_DIR_ENV,
    DatasetError,
    get_suite,
    list_datasets,
    list_suites,
    load_raw,
    suite_path,
)
from hetero.suite import Suite
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def mini():
    return get_suite("mini")


def _yaml_options(suite: str, task: str) -> tuple[str, dict]:
    spec = yaml.safe_load(suite_path(suite).read_text())
    td = next(t for t in spec["tasks"] if t["name"] == task)
    return td["dataset"], dict(td.get("options") or {})


def test_builtin_suites_listed():
    assert list_suites() == ["full", "mini", "mini_retrieval"]
    assert {
        "mfeat",
        "mfeat_pairs",
        "watch",
        "digits",
        "fsdd",
        "citeseer",
        "avmnist",
        "affect",
        "mimic",
    } <= set(list_datasets())


def test_mini_suite_shape(mini):
    assert isinstance(mini, Suite) and mini.name == "mini"
    assert mini.task_names == ("mfeat", "watch", "watch_side", "digits")
    assert all(len(t.modalities) >= 2 for t in mini.tasks)
    # at least two modality kinds appear in two tasks
    kinds: dict[str, set[str]] = {}
    for t in mini.tasks:
        for m in t.modalities:
            kinds.setdefault(m.kind, set()).add(t.name)
    assert sum(len(v) >= 2 for v in kinds.values()) >= 2
    # shared names are the same signal
    shared = {m["name"]: m["tasks"] for m in mini.summary()["modalities"] if len(m["tasks"]) > 1}
    assert shared == {
        "image": ["mfeat", "digits"],
        "accelerometer": ["watch", "watch_side"],
        "gyroscope": ["watch", "watch_side"],
    }
    assert len(mini.units()) == 10 and len(mini.interaction_units()) == 9
    # sizes stay small enough for the demo's budget
    for t in mini.tasks:
        assert t.n_samples <= 1200
        assert all(m.n_positions <= 64 for m in t.modalities)


def test_mini_splits_disjoint_and_every_class_everywhere(mini):
    for t in mini.tasks:
        tr, va, te = (set(t.data.indices(s).tolist()) for s in ("train", "val", "test"))
        assert not (tr & va or tr & te or va & te), t.name
        assert len(tr | va | te) == t.n_samples
        n_classes = 2 if t.target == "binary" else t.n_outputs
        for split in ("train", "val", "test"):
            _, y = t.data.split(split)
            assert len(np.unique(y)) == n_classes, (t.name, split)


@pytest.mark.parametrize("task", ["watch", "watch_side"])
def test_mini_watch_has_no_subject_in_two_splits(mini, task):
    dataset, options = _yaml_options("mini", task)
    raw = load_raw(dataset, **options)
    t = mini.task(task)
    assert np.array_equal(raw.arrays["accelerometer"], t.data.arrays["accelerometer"])
    subjects = [set(raw.groups[idx].tolist()) for idx in raw.splits().values()]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])


def test_examples_copies_match_builtin():
    for name in ("mini", "mini_retrieval", "full"):
        assert (REPO_ROOT / "examples" / "suites" / f"{name}.yaml").read_text() == suite_path(
            name
        ).read_text()


def test_full_suite_needs_a_data_dir(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(DatasetError) as info:
        get_suite("full")
    msg = str(info.value)
    assert (
        DATA_DIR_ENV in msg and "spoken_digits, racketsports, citeseer" in msg and "\n" not in msg
    )


def test_full_suite_on_shared_data(shared_data):
    full = get_suite("full", data_dir=shared_data)
    assert full.task_names[:4] == ("mfeat", "watch", "watch_side", "digits")
    assert full.task_names[4:] == ("spoken_digits", "racketsports", "citeseer")
    kinds = {m.kind for t in full.tasks for m in t.modalities}
    assert {"image", "table", "timeseries", "audio", "text", "graph"} <= kinds
    shared = {m["name"]: m["tasks"] for m in full.summary()["modalities"] if len(m["tasks"]) > 1}
    assert shared["image"] == ["mfeat", "digits", "spoken_digits"]
    assert shared["accelerometer"] == ["watch", "watch_side", "racketsports"]


def test_get_suite_from_a_yaml_file_and_errors(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: tiny\ntasks:\n"
        "  - {name: side, dataset: watch, options: {target: side, max_samples: 150}}\n"
        "  - {name: pix, dataset: mfeat, options: {views: [pix, zer], max_samples: 100, image_pool: 2}}\n"
    )
    suite = get_suite(path)
    assert suite.task_names == ("side", "pix")
    assert suite.task("side").target == "binary" and suite.task("pix").n_samples <= 100
    assert Suite.from_yaml(path).task("pix").modality_names == ("image", "zernike")
    with pytest.raises(DatasetError, match="unknown suite 'tiny'"):
        get_suite("tiny")
    with pytest.raises(DatasetError, match="suite file not found"):
        get_suite(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  - {name: x, dataset: mfeat, options: {views: [nope]}}\n")
    with pytest.raises(Exception, match=r"task 'x'.*unknown \['nope'\]"):
        get_suite(bad)


def test_mini_splits_are_pinned(mini):
    """The splits of the built-in suite do not move (a change here re-splits every study)."""
    h = hashlib.sha256()
    for t in mini.tasks:
        for split in ("train", "val", "test"):
            h.update(np.ascontiguousarray(t.data.indices(split), dtype="<i8").tobytes())
    assert h.hexdigest()[:16] == "6273103e2145d7d7"


def test_loaders_split_with_the_suite_implementation():
    from hetero.datasets import _common
    from hetero.suite import splits

    y = np.repeat(np.arange(4), [3, 10, 25, 1])
    for fractions in [(0.6, 0.2, 0.2), (0.8, 0.2, 0.0)]:
        ours = _common.stratified_split(y, fractions, 5)
        theirs = splits.stratified_split(y, fractions, 5)
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
        assert np.array_equal(np.sort(np.concatenate(ours)), np.arange(len(y)))
    with pytest.raises(DatasetError, match="three shares summing to 1"):
        _common.stratified_split(y, (0.5, 0.5, 0.5), 0)


def test_dataset_registry_lists_suggests_and_takes_plug_ins(tmp_path):
    from hetero.datasets import DATASETS, DatasetInfo, dataset_info, load_task

    assert list_datasets() == DATASETS.names()
    with pytest.raises(
        DatasetError, match=r"unknown dataset 'mfet' \(valid: .*\); did you mean 'mfeat'"
    ):
        dataset_info("mfet")
    info = DatasetInfo(
        "tiny_digits", "hetero.datasets.packaged", "load_sklearn_digits", "package", "", "plug-in"
    )
    with DATASETS.registered("tiny_digits", info):
        assert "tiny_digits" in list_datasets() and dataset_info("tiny_digits") is info
        task = load_task("tiny_digits", max_samples=90)
        path = tmp_path / "s.yaml"
        path.write_text("tasks:\n  - {dataset: tiny_digits, options: {max_samples: 90}}\n")
        assert get_suite(path).tasks[0] == task
    assert "tiny_digits" not in list_datasets()


def test_get_suite_is_load_suite_on_the_builtin_file(mini):
    from hetero.suite import load_suite

    assert load_suite(suite_path("mini")) == mini


# ------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def cli():
    from hetero.cli.datasets import register

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["datasets", *args])


def test_cli_list(cli):
    res = cli("list")
    assert res.exit_code == 0
    for name in list_datasets():
        assert f"  {name} " in res.output
    assert "mini            4 tasks: mfeat, watch, watch_side, digits" in res.output
    data = json.loads(cli("list", "--json").output)
    assert data["suites"]["mini"] == ["mfeat", "watch", "watch_side", "digits"]


def test_cli_show_says_which_modalities_are_not_standardised(cli, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "t.npz", a=rng.random((30, 4)), b=rng.random((30, 3)),
             y=np.arange(30) % 2)  # fmt: skip
    (tmp_path / "s.yaml").write_text(
        "name: s\ntasks:\n  - name: t\n    data: t.npz\n    target: binary\n"
        "    modalities: [{name: a, kind: table}, {name: b, kind: table, standardize: false}]\n"
    )
    out = cli("show", str(tmp_path / "s.yaml")).output
    assert "    a              table      1 positions x 4 channels\n" in out
    assert "    b              table      1 positions x 3 channels  (not standardised)\n" in out


def test_cli_show_dataset_and_suite(cli):
    res = cli("show", "mfeat", "-O", "views=[pix, fou]", "-O", "image_pool=2")
    assert res.exit_code == 0, res.output
    assert "samples  2000: train 1200, val 400, test 400" in res.output
    assert "image          image      shape (8, 8): 8x8 positions x 1 channels" in res.output
    assert "fourier        table      shape (76,): 1 positions x 76 channels" in res.output
    assert "train per class: [120, 120, 120, 120, 120, 120, 120, 120, 120, 120]" in res.output
    res = cli("show", "mini")
    assert res.exit_code == 0
    assert "suite mini: 4 tasks, 10 units, 9 interaction units" in res.output
    assert "shared modalities: accelerometer (watch, watch_side)" in res.output
    data = json.loads(cli("show", "watch", "--json", "-O", "target=side").output)
    assert data["target"] == "binary" and data["classes"] == ["0", "1"]
    assert data["modalities"][0]["shape"] == [64, 3]


def test_cli_show_errors(cli, tmp_path, monkeypatch):
    res = cli("show", "mfet")
    assert res.exit_code == 2
    assert "did you mean 'mfeat'?" in res.output and res.output.count("\n") == 1
    res = cli("show", "mfeat", "-O", "views")
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.output
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    res = cli("show", "racketsports")
    assert res.exit_code == 2 and DATA_DIR_ENV in res.output
    path = tmp_path / "m.pkl"
    with open(path, "wb") as fh:
        pickle.dump(
            {
                s: {
                    "vision": np.ones((4, 2, 2)),
                    "audio": np.ones((4, 2, 2)),
                    "text": np.ones((4, 2, 2)),
                    "labels": np.array([1.0, -1.0, 2.0, -2.0]),
                }
                for s in ("train", "valid", "test")
            },
            fh,
        )
    res = cli("show", "affect", "-O", f"path={path}")
    assert res.exit_code == 2 and "--trust-pickle" in res.output
    res = cli("show", "affect", "-O", f"path={path}", "--trust-pickle")
    assert res.exit_code == 0, res.output
    assert "samples  12: train 4, val 4, test 4" in res.output


def test_cli_show_full_with_data_dir(cli, shared_data):
    res = cli("show", "racketsports", "--data-dir", str(shared_data))
    assert res.exit_code == 0
    assert "Badminton_Smash" in res.output and "train 120, val 31, test 152" in res.output
