"""hetero.suite: data model, layout rule, splits, fingerprints, YAML + npz loading, errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hetero
from hetero.errors import SuiteError
from hetero.suite import (
    MODALITY_KINDS,
    Modality,
    Suite,
    Task,
    TaskData,
    Unit,
    fraction_split,
    load_suite,
)
from hetero.suite.dataset_registry import DATASETS
from tests.conftest import REPO_ROOT

ISSUE_YAML = """\
tasks:
  - name: speech
    data: speech.npz          # arrays: audio, lips, y; optional train_idx, val_idx, test_idx
    target: multiclass        # multiclass | binary | multilabel | regression
    modalities:
      - {name: audio, kind: audio}
      - {name: lips, kind: video}
    split: {val: 0.2, test: 0.2, seed: 0}   # used when the npz has no index arrays
"""


def speech_arrays(n: int = 60, k: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "audio": rng.normal(size=(n, 10, 4)),
        "lips": rng.normal(size=(n, 12)),
        "y": np.arange(n) % k,
    }


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def write_yaml(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def speech_task(**kw) -> Task:
    a = speech_arrays()
    y = a.pop("y")
    kw.setdefault("target", "multiclass")
    kw.setdefault("modalities", [Modality("audio", "audio"), Modality("lips", "video")])
    return Task.from_arrays("speech", a, y, **kw)


# --------------------------------------------------------------------------- the issue's example


def test_issue_yaml_example_validates(tmp_path):
    write_npz(tmp_path / "speech.npz", **speech_arrays(n=60, k=3))
    suite = load_suite(write_yaml(tmp_path, ISSUE_YAML))
    assert suite.name == "suite"  # file stem
    task = suite.task("speech")
    assert task.target == "multiclass" and task.n_outputs == 3
    assert (task.loss, task.metric, task.higher_is_better) == ("cross_entropy", "accuracy", True)
    assert task.modality("audio") == Modality("audio", "audio", (10, 4))
    assert task.modality("lips").kind == "video"
    d = task.data
    assert (len(d.train_idx), len(d.val_idx), len(d.test_idx)) == (36, 12, 12)
    assert d.arrays["audio"].dtype == np.float32 and d.arrays["audio"].flags.c_contiguous
    assert d.y.dtype == np.int64
    assert task.source == str(tmp_path / "speech.npz")
    assert [u.label for u in suite.units()] == ["speech/audio", "speech/lips"]
    assert [u.label for u in suite.interaction_units()] == ["speech/audio+lips"]


def _example_module():
    path = REPO_ROOT / "examples" / "suites" / "make_example_data.py"
    spec = importlib.util.spec_from_file_location("make_example_data", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_file_is_the_issue_text_and_generator_works(tmp_path):
    example = REPO_ROOT / "examples" / "suites" / "speech_example.yaml"
    assert example.read_text() == ISSUE_YAML
    _example_module().write_example_data(tmp_path, n_samples=80, seed=1)
    (tmp_path / "speech.yaml").write_text(example.read_text())
    suite = Suite.from_yaml(tmp_path / "speech.yaml")
    task = suite.task("speech")
    assert task.n_samples == 80 and task.n_outputs == 4
    assert task.modality("audio").positions == (32,) and task.modality("audio").channels == 4
    assert task.modality("lips").positions == (24,) and task.modality("lips").channels == 1
    # every class is in every split (stratified)
    for s in ("train", "val", "test"):
        _, y = task.data.split(s)
        assert set(y.tolist()) == {0, 1, 2, 3}


def test_two_task_example_validates(tmp_path):
    _example_module().write_example_data(tmp_path, n_samples=50, seed=0)
    text = (REPO_ROOT / "examples" / "suites" / "two_task_example.yaml").read_text()
    (tmp_path / "two.yaml").write_text(text)
    suite = load_suite(tmp_path / "two.yaml")
    assert suite.name == "two-task-example"
    assert suite.modality_names() == ["audio", "lips"]
    loud = suite.task("loudness")
    assert loud.target == "regression" and loud.metric == "mae" and not loud.higher_is_better
    with np.load(tmp_path / "loudness.npz") as z:
        np.testing.assert_array_equal(loud.data.test_idx, z["test_idx"])
    assert [u.label for u in suite.units()] == ["speech/audio", "speech/lips", "loudness/audio"]


def test_task_and_suite_pickle_round_trip():
    import pickle

    suite = Suite([speech_task()], name="p")
    fp = suite.task("speech").fingerprint()
    back = pickle.loads(pickle.dumps(suite))
    assert back == suite
    assert back.task("speech").fingerprint() == fp
    back.task("speech")._fingerprints.clear()  # recomputed, not just the cached value
    assert back.task("speech").fingerprint() == fp


def test_npz_index_arrays_take_precedence_over_split(tmp_path):
    a = speech_arrays(n=30)
    idx = np.arange(30)
    write_npz(
        tmp_path / "speech.npz", **a, train_idx=idx[:18], val_idx=idx[18:24], test_idx=idx[24:]
    )
    task = load_suite(write_yaml(tmp_path, ISSUE_YAML)).task("speech")
    np.testing.assert_array_equal(task.data.train_idx, idx[:18])
    np.testing.assert_array_equal(task.data.val_idx, idx[18:24])
    np.testing.assert_array_equal(task.data.test_idx, idx[24:])
    arrays, y = task.data.split("val")
    np.testing.assert_array_equal(y, a["y"][18:24])
    np.testing.assert_allclose(arrays["lips"], a["lips"][18:24].astype(np.float32))


def test_python_declared_suite_equals_yaml_declared(tmp_path):
    a = speech_arrays(n=40)
    write_npz(tmp_path / "speech.npz", **a)
    yaml_suite = load_suite(write_yaml(tmp_path, "name: demo\n" + ISSUE_YAML))
    y = a.pop("y")
    task = Task.from_arrays(
        "speech",
        a,
        y,
        target="multiclass",
        modalities=[Modality("audio", "audio"), {"name": "lips", "kind": "video"}],
        split={"val": 0.2, "test": 0.2, "seed": 0},
    )
    py_suite = Suite([task], name="demo")
    assert py_suite == yaml_suite
    assert py_suite.task("speech").fingerprint() == yaml_suite.task("speech").fingerprint()
    other = Task.from_arrays(
        "speech", a, y, target="multiclass", modalities=["audio", "lips"], split={"seed": 1}
    )
    assert Suite([other], name="demo") != yaml_suite


def test_top_level_name_and_multiple_tasks_and_array_key(tmp_path):
    rng = np.random.default_rng(0)
    write_npz(tmp_path / "a.npz", **speech_arrays(n=30))
    sub = tmp_path / "sub"
    sub.mkdir()
    write_npz(sub / "b.npz", mfcc=rng.normal(size=(25, 4)), y=rng.normal(size=25))
    path = write_yaml(
        tmp_path,
        """\
        name: two
        tasks:
          - name: speech
            data: a.npz
            target: multiclass
            modalities: [{name: audio, kind: audio}, {name: lips, kind: video}]
          - name: loud
            data: sub/b.npz
            target: regression
            modalities: [{name: audio, kind: audio, array: mfcc, positional_axes: 0}]
            metric: mae
        """,
    )
    suite = load_suite(path)
    assert suite.name == "two" and suite.task_names == ("speech", "loud")
    loud = suite.task("loud")
    assert loud.modality("audio").positions == () and loud.modality("audio").channels == 4
    assert loud.data.y.dtype == np.float32 and loud.n_outputs == 1
    assert (loud.loss, loud.metric, loud.higher_is_better) == ("mse", "mae", False)
    assert suite.modality_names() == ["audio", "lips"]
    assert suite.modality_index("lips") == 1
    assert [u.label for u in suite.units()] == ["speech/audio", "speech/lips", "loud/audio"]
    summary = suite.summary()
    json.dumps(summary)  # JSON-able
    assert summary["n_units"] == 3 and summary["n_interaction_units"] == 1
    assert summary["modalities"][0] == {
        "name": "audio",
        "kind": "audio",
        "channels": 4,
        "tasks": ["speech", "loud"],
    }
    assert "loud" in suite.describe() and "channels 4" in suite.describe()


# --------------------------------------------------------------------------- targets


def test_target_defaults_and_outputs():
    rng = np.random.default_rng(0)
    x = {"x": rng.normal(size=(40, 5))}
    binary = Task.from_arrays("b", x, np.arange(40) % 2, target="binary")
    assert binary.n_outputs == 1
    assert (binary.loss, binary.metric, binary.higher_is_better) == (
        "binary_cross_entropy",
        "accuracy",
        True,
    )
    ml = Task.from_arrays("m", x, (rng.random((40, 3)) < 0.5).astype(float), target="multilabel")
    assert ml.n_outputs == 3 and ml.data.y.dtype == np.int64
    assert (ml.loss, ml.metric) == ("binary_cross_entropy", "f1_macro")
    reg = Task.from_arrays("r", x, rng.normal(size=(40, 2)), target="regression")
    assert reg.n_outputs == 2 and reg.data.y.dtype == np.float32
    assert (reg.loss, reg.metric, reg.higher_is_better) == ("mse", "mse", False)
    mc = Task.from_arrays("c", x, (np.arange(40) % 5).astype(float), target="multiclass")
    assert mc.n_outputs == 5 and mc.data.y.dtype == np.int64
    over = Task.from_arrays("c", x, np.arange(40) % 5, target="multiclass", metric="f1_macro")
    assert over.metric == "f1_macro" and over.higher_is_better is True
    auroc = Task.from_arrays("b", x, np.arange(40) % 2, target="binary", metric="auroc")
    assert auroc.metric == "auroc"


def test_inputs_are_float32_contiguous_copies_and_read_only():
    src = np.asfortranarray(np.arange(60, dtype=np.float64).reshape(20, 3))
    f32 = np.ones((20, 2), dtype=np.float32)
    t = Task.from_arrays("t", {"a": src, "b": f32}, np.arange(20) % 2, target="binary")
    for arr in t.data.arrays.values():
        assert arr.dtype == np.float32 and arr.flags.c_contiguous and not arr.flags.writeable
    f32[:] = 5.0  # the caller's array stays the caller's
    assert float(t.data.arrays["b"].max()) == 1.0
    arrays, _ = t.data.split("train")
    assert arrays["a"].flags.writeable  # split copies are the caller's to modify
    assert t.modality("a").kind == "other"  # default declaration from the arrays' keys


# --------------------------------------------------------------------------- layout rule


@pytest.mark.parametrize(
    ("shape", "positional_axes", "positions", "channels"),
    [
        ((), None, (), 1),
        ((7,), None, (7,), 1),  # (samples, F): F positions, one channel
        ((7,), 0, (), 7),  # a feature vector
        ((7,), 1, (7,), 1),
        ((10, 3), None, (10,), 3),  # sequence of 10 steps with 3 channels
        ((8, 9), 2, (8, 9), 1),  # a grey image: H x W grid, one channel
        ((8, 9, 3), None, (8, 9), 3),  # an RGB image
        ((8, 9, 3), 1, (8,), 27),
        ((4, 8, 9, 3), None, (4, 8, 9), 3),  # video
        ((4, 8, 9, 3), 0, (), 864),
    ],
)
def test_layout_rule(shape, positional_axes, positions, channels):
    m = Modality("m", "other", shape, positional_axes)
    assert m.positions == positions
    assert m.channels == channels
    assert m.n_positions == int(np.prod(positions))
    # the same through from_arrays, which fills the shape from the data
    x = np.zeros((6, *shape), dtype=np.float32)
    t = Task.from_arrays(
        "t",
        {"m": x},
        np.arange(6) % 2,
        target="binary",
        modalities=[{"name": "m", "positional_axes": positional_axes}],
        split={"val": 0.2, "test": 0.2},
    )
    assert t.modality("m").shape == shape
    assert (t.modality("m").positions, t.modality("m").channels) == (positions, channels)


def test_table_vector_is_one_feature_vector_by_default():
    # a 1-D per-sample shape of kind table is ONE token of F channels, of any other kind a
    # sequence of F positions; positional_axes overrides either way
    assert (Modality("t", "table", (13,)).positions, Modality("t", "table", (13,)).channels) == (
        (),
        13,
    )
    assert Modality("s", "timeseries", (13,)).positions == (13,)
    assert Modality("t", "table", (13,), 1).positions == (13,)
    assert Modality("t", "table", (4, 3)).positions == (4,)  # 2-D per sample: the usual rule
    x = np.random.default_rng(0).normal(size=(30, 13)).astype(np.float32)
    t = Task.from_arrays(
        "wine",
        {"x": x},
        np.arange(30) % 3,
        target="multiclass",
        modalities=[{"name": "x", "kind": "table"}],
        split={"val": 0.2, "test": 0.2},
    )
    assert (t.modality("x").positions, t.modality("x").channels) == ((), 13)
    assert t.modality("x").to_dict()["channels"] == 13


def test_standardize_field(tmp_path):
    write_npz(tmp_path / "speech.npz", **speech_arrays())
    text = "tasks:\n" + BASE_TASK.replace(
        "{name: lips, kind: video}", "{name: lips, kind: video, standardize: false}"
    )
    task = load_suite(write_yaml(tmp_path, text)).task("speech")
    assert task.modality("lips").standardize is False
    assert task.modality("audio").standardize is True
    assert task.modality("lips").to_dict()["standardize"] is False
    # the default leaves fingerprints as they were; opting out changes what a learner sees
    plain = load_suite(write_yaml(tmp_path, "tasks:\n" + BASE_TASK, "plain.yaml"))
    assert plain.task("speech").fingerprint(["audio"]) == task.fingerprint(["audio"])
    assert plain.task("speech").fingerprint(["lips"]) != task.fingerprint(["lips"])
    msg = yaml_error(tmp_path, text.replace("standardize: false", "standardize: maybe"))
    assert "modalities[1].standardize: expected true or false, got 'maybe'" in msg
    with pytest.raises(SuiteError, match="standardize"):
        Modality("m", standardize=1)


def test_yaml_modality_fields(tmp_path):
    write_npz(tmp_path / "speech.npz", **speech_arrays())
    text = "tasks:\n" + BASE_TASK.replace(
        "{name: audio, kind: audio}",
        "{name: audio, kind: audio, shape: [10, 4], num_freq_bands: 3, max_freq: 4.5}",
    ).replace("{name: lips, kind: video}", "{name: lips, kind: video, positional_axes: 0}")
    task = load_suite(write_yaml(tmp_path, text)).task("speech")
    assert task.modality("audio") == Modality("audio", "audio", (10, 4), None, 3, 4.5)
    assert task.modality("lips").positions == () and task.modality("lips").channels == 12
    # the layout is part of the fingerprint (a learner sees different tokens)
    plain = load_suite(write_yaml(tmp_path, "tasks:\n" + BASE_TASK, "plain.yaml"))
    assert plain.task("speech").fingerprint(["audio"]) == task.fingerprint(["audio"])
    assert plain.task("speech").fingerprint(["lips"]) != task.fingerprint(["lips"])
    msg = yaml_error(tmp_path, text.replace("shape: [10, 4]", "shape: [4, 10]"))
    assert (
        "modalities[0].shape: declared (4, 10) but array 'audio' has per-sample shape (10, 4)"
        in msg
    )
    msg = yaml_error(tmp_path, text.replace("positional_axes: 0", "positional_axes: 2"))
    assert "modalities[1].positional_axes: 2 exceeds the 1 per-sample axes of array 'lips'" in msg


def test_modality_field_errors():
    with pytest.raises(SuiteError) as e:
        Modality("m", "sound")
    msg = one_line(e)
    assert "kind" in msg and "'sound'" in msg
    for kind in MODALITY_KINDS:
        assert kind in msg
    with pytest.raises(SuiteError, match="positional_axes"):
        Modality("m", "other", (3,), 2)
    with pytest.raises(SuiteError, match="invalid name"):
        Modality("a+b")
    with pytest.raises(SuiteError, match="reserved"):
        Modality("y")


# --------------------------------------------------------------------------- units


def test_units_interaction_units_and_lookup():
    rng = np.random.default_rng(0)
    y = np.arange(30) % 2
    t1 = Task.from_arrays(
        "t1",
        {
            "zeta": rng.normal(size=(30, 3)),
            "alpha": rng.normal(size=(30, 3)),
            "mid": rng.normal(size=(30, 2)),
        },
        y,
        target="binary",
        modalities=["zeta", "alpha", "mid"],
    )
    t2 = Task.from_arrays("t2", {"alpha": rng.normal(size=(30, 5))}, y, target="binary")
    suite = Suite([t1, t2], name="s")
    assert [u.label for u in suite.units()] == ["t1/zeta", "t1/alpha", "t1/mid", "t2/alpha"]
    # pairs in declaration order, names within a label alphabetical
    assert [u.label for u in suite.interaction_units()] == [
        "t1/alpha+zeta",
        "t1/mid+zeta",
        "t1/alpha+mid",
    ]
    assert all(u.is_interaction for u in suite.interaction_units())
    assert not any(u.is_interaction for u in suite.units())
    assert suite.modality_names() == ["alpha", "mid", "zeta"]
    assert Unit("t1", ("zeta", "alpha")) == Unit.parse("t1/alpha+zeta")
    assert Unit.parse("t2/alpha") == Unit("t2", ("alpha",))
    assert suite.unit("t1/zeta+mid") == Unit("t1", ("mid", "zeta"))
    for u in suite.units() + suite.interaction_units():
        assert Unit.parse(u.label) == u and suite.unit(u.label) == u
    with pytest.raises(SuiteError) as e:
        suite.unit("t2/alpha+zeta")
    assert "no modality 'zeta'" in one_line(e)
    with pytest.raises(SuiteError) as e:
        suite.unit("t3/alpha")
    assert "no task 't3'" in one_line(e) and "t1, t2" in one_line(e)
    for bad in ("t1", "t1/a+b+c", "t1/", "/a", "t1/a+a"):
        with pytest.raises(SuiteError):
            Unit.parse(bad)


# --------------------------------------------------------------------------- splits


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 300),
    n_classes=st.integers(1, 6),
    val=st.floats(0.05, 0.45),
    test=st.floats(0.05, 0.45),
    seed=st.integers(0, 2**31 - 1),
    data=st.data(),
)
def test_fraction_split_properties(n, n_classes, val, test, seed, data):
    labels = np.array(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)))
    tr, va, te = fraction_split(n, val, test, seed, labels)
    all_idx = np.concatenate([tr, va, te])
    assert sorted(all_idx.tolist()) == list(range(n))  # disjoint and covering
    for part in (tr, va, te):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)
    # every class keeps a sample in train
    assert set(labels[tr].tolist()) == set(labels.tolist())
    # seeded: same seed, same split
    again = fraction_split(n, val, test, seed, labels)
    for a, b in zip((tr, va, te), again, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(10, 60), min_size=1, max_size=5),
    val=st.floats(0.05, 0.3),
    test=st.floats(0.05, 0.3),
    seed=st.integers(0, 10_000),
)
def test_fraction_split_is_stratified_and_sized(sizes, val, test, seed):
    labels = np.repeat(np.arange(len(sizes)), sizes)
    labels = np.random.default_rng(seed).permutation(labels)
    n = len(labels)
    _, va, te = fraction_split(n, val, test, seed, labels)
    assert len(te) == max(1, round(test * n)) and len(va) == max(1, round(val * n))
    for c, size in enumerate(sizes):
        assert abs(np.sum(labels[te] == c) - test * size) < 1
        assert abs(np.sum(labels[va] == c) - val * size) < 1


def test_fraction_split_depends_on_seed():
    a = fraction_split(200, 0.2, 0.2, 0)
    b = fraction_split(200, 0.2, 0.2, 1)
    assert not np.array_equal(a[2], b[2])


def test_default_split_is_val_test_02_seed_0():
    t = speech_task()
    ref = fraction_split(60, 0.2, 0.2, 0, t.data.y)
    np.testing.assert_array_equal(t.data.test_idx, ref[2])
    assert len(t.data.val_idx) == 12 and len(t.data.test_idx) == 12


def test_split_accessor():
    t = speech_task()
    arrays, y = t.data.split("test", modalities=["lips"])
    assert list(arrays) == ["lips"]
    np.testing.assert_array_equal(y, t.data.y[t.data.test_idx])
    with pytest.raises(SuiteError, match="unknown split 'dev'"):
        t.data.split("dev")


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_stable_and_sensitive():
    a = speech_arrays()
    y = a.pop("y")
    base = Task.from_arrays("speech", a, y, target="multiclass")
    fp = base.fingerprint()
    assert fp == base.fingerprint() and len(fp) == 64
    same = Task.from_arrays("other-name", dict(a), y.copy(), target="multiclass")
    assert same.fingerprint() == fp  # content, not the task name
    assert base.fingerprint(["lips", "audio"]) == fp  # order of the argument is irrelevant
    assert base.fingerprint(["audio"]) != fp != base.fingerprint(["lips"])
    changed = dict(a)
    changed["lips"] = a["lips"].copy()
    changed["lips"][3, 4] += 1e-3
    assert Task.from_arrays("speech", changed, y, target="multiclass").fingerprint() != fp
    assert Task.from_arrays("speech", changed, y, target="multiclass").fingerprint(
        ["audio"]
    ) == base.fingerprint(["audio"])
    y2 = y.copy()
    y2[[0, 1]] = y2[[1, 0]]
    assert Task.from_arrays("speech", a, y2, target="multiclass").fingerprint() != fp
    resplit = Task.from_arrays("speech", a, y, target="multiclass", split={"seed": 7})
    assert resplit.fingerprint() != fp
    with pytest.raises(SuiteError, match="no modality 'video'"):
        base.fingerprint(["video"])


def test_fingerprint_stable_across_processes(tmp_path):
    write_npz(tmp_path / "speech.npz", **speech_arrays())
    path = write_yaml(tmp_path, ISSUE_YAML)
    here = load_suite(path).task("speech").fingerprint()
    code = "import sys, hetero; print(hetero.load_suite(sys.argv[1]).task('speech').fingerprint())"
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here


# --------------------------------------------------------------------------- error messages

BASE_TASK = """\
    - name: speech
      data: speech.npz
      target: multiclass
      modalities:
        - {name: audio, kind: audio}
        - {name: lips, kind: video}
"""


def yaml_error(tmp_path, text: str, **arrays) -> str:
    if arrays:
        write_npz(tmp_path / "speech.npz", **arrays)
    path = write_yaml(tmp_path, text)
    with pytest.raises(SuiteError) as e:
        load_suite(path)
    return one_line(e)


def test_error_missing_array_lists_found(tmp_path):
    a = speech_arrays()
    del a["lips"]
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert msg == (
        f"{tmp_path / 'speech.npz'}: task 'speech': modalities[1].name: "
        "array 'lips' not found (found: audio, y)"
    )


def test_error_missing_y(tmp_path):
    a = speech_arrays()
    del a["y"]
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert "task 'speech': y:" in msg and "'y' not found" in msg and "audio, lips" in msg


def test_error_sample_count_mismatch(tmp_path):
    a = speech_arrays()
    a["lips"] = a["lips"][:-1]
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert "modalities[1].name" in msg and "'lips' has 59 samples but y has 60" in msg


def test_error_nan_and_inf(tmp_path):
    a = speech_arrays()
    a["audio"][0, 0, 0] = np.nan
    a["audio"][1, 0, 0] = np.nan
    a["audio"][2, 0, 0] = np.inf
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert "array 'audio' has 2 NaN and 1 inf values" in msg and "expected finite" in msg


def test_error_labels_out_of_range(tmp_path):
    a = speech_arrays()
    a["y"] = a["y"].copy()
    a["y"][5] = -1
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert "y: label -1 at sample 5 out of range" in msg and "expected class ids 0..2" in msg
    a["y"][5] = 7
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK + "      n_classes: 3\n", **a)
    assert "label 7 at sample 5 out of range" in msg and "0..2" in msg
    with pytest.raises(SuiteError) as e:
        Task.from_arrays("b", {"x": np.zeros((10, 2))}, np.arange(10) % 3, target="binary")
    assert "label 2" in one_line(e) and "expected 0 or 1 for binary" in one_line(e)


def test_error_non_integer_labels(tmp_path):
    a = speech_arrays()
    a["y"] = a["y"].astype(float)
    a["y"][4] = 1.5
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert "non-integer label 1.5 at sample 4" in msg and "expected integer class ids" in msg
    a["y"] = np.array(["a", "b", "c"] * 20)
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert "y holds dtype <U1" in msg and "numeric" in msg


def test_error_multilabel_not_binary():
    y = np.zeros((20, 3))
    y[:, 0] = 1
    y[0, 1] = 2
    with pytest.raises(SuiteError) as e:
        Task.from_arrays("m", {"x": np.zeros((20, 2))}, y, target="multilabel")
    assert "1 values are not 0/1 (e.g. 2.0)" in one_line(e)
    with pytest.raises(SuiteError) as e:
        Task.from_arrays("m", {"x": np.zeros((20, 2))}, np.ones(20), target="multilabel")
    assert "expected a (samples, labels) 0/1 matrix" in one_line(e)


def test_error_class_absent_from_train(tmp_path):
    a = speech_arrays(n=30)
    a["y"] = np.zeros(30, dtype=int)
    a["y"][[25, 26]] = 1
    a["y"][[27, 28, 29]] = 2
    idx = np.arange(30)
    msg = yaml_error(
        tmp_path,
        "tasks:\n" + BASE_TASK,
        **a,
        train_idx=idx[:24],
        val_idx=idx[24:27],
        test_idx=idx[27:],
    )
    assert "class 1 has no sample in the train split (present only in val" in msg
    a["y"] = np.where(a["y"] == 1, 3, a["y"])  # labels 0, 2, 3: class 1 nowhere
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **a)
    assert "class 1 has no sample in the train split (absent from every split" in msg
    y = np.zeros((20, 2))
    y[:, 0] = 1
    with pytest.raises(SuiteError) as e:
        Task.from_arrays("m", {"x": np.zeros((20, 2))}, y, target="multilabel")
    assert "label column 1 has no positive sample in the train split" in one_line(e)


def test_error_empty_split(tmp_path):
    idx = np.arange(60)
    msg = yaml_error(
        tmp_path,
        "tasks:\n" + BASE_TASK,
        **speech_arrays(),
        train_idx=idx[:50],
        val_idx=idx[:0],
        test_idx=idx[50:],
    )
    assert "val_idx: the val split is empty" in msg
    with pytest.raises(SuiteError) as e:
        Task.from_arrays("t", {"x": np.zeros((2, 3))}, np.arange(2) % 2, target="regression")
    assert "split is empty" in one_line(e)
    msg = yaml_error(
        tmp_path, "tasks:\n" + BASE_TASK + "      split: {val: 0, test: 0.2}\n", **speech_arrays()
    )
    assert "split.val: expected a fraction strictly between 0 and 1, got 0" in msg


def test_error_overlapping_and_out_of_range_indices(tmp_path):
    idx = np.arange(60)
    msg = yaml_error(
        tmp_path,
        "tasks:\n" + BASE_TASK,
        **speech_arrays(),
        train_idx=idx[:40],
        val_idx=idx[35:50],
        test_idx=idx[50:],
    )
    assert "val_idx: 5 indices (e.g. 35) also appear in an earlier split" in msg
    msg = yaml_error(
        tmp_path,
        "tasks:\n" + BASE_TASK,
        **speech_arrays(),
        train_idx=idx[:40],
        val_idx=idx[40:50],
        test_idx=np.array([50, 60, 61]),
    )
    assert "test_idx: 2 indices out of range (e.g. 60); expected 0..59" in msg
    msg = yaml_error(
        tmp_path,
        "tasks:\n" + BASE_TASK,
        **speech_arrays(),
        train_idx=idx[:40],
        val_idx=idx[40:50].astype(float),
        test_idx=idx[50:],
    )
    assert "val_idx has dtype float64; expected integer sample indices" in msg
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK, **speech_arrays(), train_idx=idx[:40])
    assert "found train_idx but not val_idx, test_idx" in msg


def test_error_duplicate_task_names(tmp_path):
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK + BASE_TASK, **speech_arrays())
    assert msg == (
        f"{tmp_path / 'suite.yaml'}: tasks[1].name: duplicate task name 'speech' (also tasks[0])"
    )
    t = speech_task()
    with pytest.raises(SuiteError) as e:
        Suite([t, t])
    assert "duplicate task name 'speech'" in one_line(e)


def test_error_duplicate_modality_names(tmp_path):
    text = "tasks:\n" + BASE_TASK + "        - {name: lips, kind: video}\n"
    msg = yaml_error(tmp_path, text, **speech_arrays())
    assert "task 'speech': modalities[2].name: duplicate modality name 'lips'" in msg


def test_error_unknown_target(tmp_path):
    msg = yaml_error(
        tmp_path, "tasks:\n" + BASE_TASK.replace("multiclass", "classification"), **speech_arrays()
    )
    assert "task 'speech': target: unknown target 'classification'" in msg
    assert "multiclass, binary, multilabel, regression" in msg


def test_error_unknown_keys(tmp_path):
    write_npz(tmp_path / "speech.npz", **speech_arrays())
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK.replace("modalities:", "modalites:"))
    assert "task 'speech': unknown key 'modalites' (did you mean 'modalities'?)" in msg
    assert "valid keys: data, dataset" not in msg and "modalities" in msg
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK.replace("kind: video", "knd: video"))
    assert "modalities[1]: unknown key 'knd' (did you mean 'kind'?)" in msg
    msg = yaml_error(tmp_path, "task:\n" + BASE_TASK)
    assert "unknown key 'task' (did you mean 'tasks'?); valid keys: description, name, tasks" in msg
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK + "      split: {val: 0.2, tset: 0.2}\n")
    assert "split: unknown key 'tset' (did you mean 'test'?)" in msg


def test_error_no_modalities_and_unknown_kind(tmp_path):
    write_npz(tmp_path / "speech.npz", **speech_arrays())
    text = "tasks:\n  - {name: speech, data: speech.npz, target: multiclass, modalities: []}\n"
    msg = yaml_error(tmp_path, text)
    assert "task 'speech': modalities: no modalities; expected a list" in msg
    msg = yaml_error(tmp_path, text.replace(", modalities: []", ""))
    assert "modalities: no modalities" in msg
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK.replace("kind: video", "kind: movie"))
    assert "modalities[1].kind: unknown kind 'movie'; expected one of: image, video" in msg
    with pytest.raises(SuiteError) as e:
        Task.from_arrays("t", {}, np.arange(10) % 2, target="binary")
    assert "no modalities" in one_line(e)


def test_error_npz_missing_unreadable_and_object_arrays(tmp_path):
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK)
    assert msg.startswith(f"{tmp_path / 'suite.yaml'}: task 'speech': data: file not found")
    (tmp_path / "speech.npz").write_bytes(b"this is not a zip file")
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK)
    assert "speech.npz: task 'speech': data: not a zip archive; expected an .npz file" in msg
    assert "pickle" not in msg  # numpy's own message points at allow_pickle
    a = speech_arrays()
    a["lips"] = np.array([[1.0], "text", None] * 20, dtype=object)
    write_npz(tmp_path / "speech.npz", **a)  # numpy pickles the object array
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK)
    assert "array 'lips' holds Python objects (dtype object)" in msg and "never unpickled" in msg
    # the member's own message, once (not wrapped in "cannot read npz (...)")
    assert msg.count("task 'speech': data:") == 1 and "cannot read npz" not in msg


def test_npz_is_never_unpickled(tmp_path, monkeypatch):
    import pickle

    calls = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(a))
    a = speech_arrays()
    a["y"] = np.array(list(a["y"]), dtype=object)
    write_npz(tmp_path / "speech.npz", **a)
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK)
    assert "array 'y' holds Python objects" in msg
    assert calls == []


def test_error_yaml_malformed_and_missing(tmp_path):
    msg = yaml_error(tmp_path, "tasks:\n  - name: [speech\n")
    assert "malformed YAML at line" in msg
    with pytest.raises(SuiteError) as e:
        load_suite(tmp_path / "nope.yaml")
    assert one_line(e) == f"{tmp_path / 'nope.yaml'}: suite file not found"
    msg = yaml_error(tmp_path, "- just a list\n")
    assert "expected a mapping with a 'tasks' list" in msg
    msg = yaml_error(tmp_path, "tasks: []\n")
    assert "tasks: expected a non-empty list" in msg


def test_error_shared_modality_must_agree(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    t1 = Task.from_arrays("a", {"x": rng.normal(size=(20, 5, 3))}, y, target="binary")
    t2 = Task.from_arrays("b", {"x": rng.normal(size=(20, 9, 3))}, y, target="binary")
    Suite([t1, t2])  # positions may differ, channels agree
    t3 = Task.from_arrays("c", {"x": rng.normal(size=(20, 5, 4))}, y, target="binary")
    with pytest.raises(SuiteError) as e:
        Suite([t1, t3])
    assert "task 'c': modality 'x': channels 4 differs from 3 in task 'a'" in one_line(e)
    t4 = Task.from_arrays(
        "d",
        {"x": rng.normal(size=(20, 5, 3))},
        y,
        target="binary",
        modalities=[Modality("x", "audio")],
    )
    with pytest.raises(SuiteError) as e:
        Suite([t1, t4])
    assert "kind 'audio' differs from 'other'" in one_line(e)


def test_error_objective_and_declared_shape():
    with pytest.raises(SuiteError) as e:
        speech_task(loss="mse")
    assert (
        "loss: loss 'mse' does not apply to multiclass; expected one of: cross_entropy"
        in one_line(e)
    )
    with pytest.raises(SuiteError) as e:
        speech_task(metric="acc")
    assert "metric: unknown metric 'acc'" in one_line(e)
    with pytest.raises(SuiteError) as e:
        speech_task(modalities=[Modality("audio", "audio", (10, 5)), "lips"])
    assert (
        "modalities[0].shape: declared (10, 5) but array 'audio' has per-sample shape (10, 4)"
        in one_line(e)
    )


def test_yaml_objective_errors_name_the_yaml_file(tmp_path):
    write_npz(tmp_path / "speech.npz", **speech_arrays())
    yml = tmp_path / "suite.yaml"
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK + "      higher_is_better: maybe\n")
    assert msg == f"{yml}: task 'speech': higher_is_better: expected true or false, got 'maybe'"
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK + "      metric: mse\n")
    assert msg.startswith(
        f"{yml}: task 'speech': metric: metric 'mse' does not apply to multiclass"
    )
    msg = yaml_error(tmp_path, "tasks:\n" + BASE_TASK + "      n_classes: 1\n")
    assert msg.startswith(f"{yml}: task 'speech': n_classes: expected an int >= 2")
    suite = load_suite(write_yaml(tmp_path, "tasks:\n" + BASE_TASK + "      n_classes: 3\n"))
    assert suite.task("speech").n_outputs == 3


# --------------------------------------------------------------------------- dataset tasks


class ToyDataset:
    """A registry entry as the suite loader sees it: ``options()`` and ``load_task()``."""

    def __init__(self, name="toy", *, takes_data_dir=False, fail=None, returns=None):
        self.name, self.takes_data_dir, self.fail, self.returns = (
            name,
            takes_data_dir,
            fail,
            returns,
        )
        self.calls = []

    def options(self):
        return {"n": 30, "seed": 0, **({"data_dir": None} if self.takes_data_dir else {})}

    def load_task(self, *, n=30, seed=0, data_dir=None):
        self.calls.append({"n": n, "seed": seed, "data_dir": data_dir})
        if self.fail is not None:
            raise hetero.HeteroError(self.fail)
        if self.returns is not None:
            return self.returns
        rng = np.random.default_rng(seed)
        return Task.from_arrays(
            self.name, {"v": rng.normal(size=(n, 4))}, np.arange(n) % 3, target="multiclass"
        )


def test_dataset_task_through_the_registry(tmp_path):
    toy = ToyDataset()
    with DATASETS.registered("toy", toy):
        path = write_yaml(
            tmp_path,
            """\
            tasks:
              - {dataset: toy, options: {n: 24, seed: 3}}
              - {name: toy2, dataset: toy}
            """,
        )
        suite = load_suite(path)
        assert suite.task_names == ("toy", "toy2")
        assert toy.calls == [
            {"n": 24, "seed": 3, "data_dir": None},
            {"n": 30, "seed": 0, "data_dir": None},
        ]
        assert suite.task("toy").n_samples == 24
        msg = yaml_error(tmp_path, "tasks:\n  - {dataset: toy, options: {size: 3}}\n")
        assert "task 'tasks[0]': options: invalid options for dataset 'toy'" in msg
        msg = yaml_error(tmp_path, "tasks:\n  - {dataset: toy, target: binary}\n")
        assert "key 'target' is not valid with 'dataset:'" in msg
    assert "toy" not in DATASETS


def test_dataset_loader_errors_carry_the_yaml_source(tmp_path):
    source = tmp_path / "suite.yaml"
    with DATASETS.registered("broken", ToyDataset(fail="no data here")):
        msg = yaml_error(tmp_path, "tasks:\n  - {name: x, dataset: broken}\n")
    assert msg == f"{source}: task 'x': dataset: no data here"
    with DATASETS.registered("odd", ToyDataset(returns={"not": "a task"})):
        msg = yaml_error(tmp_path, "tasks:\n  - {name: x, dataset: odd}\n")
    assert "loader for 'odd' returned dict; expected a Task" in msg
    with DATASETS.registered("bare", object()):
        msg = yaml_error(tmp_path, "tasks:\n  - {name: x, dataset: bare}\n")
    assert "dataset 'bare' is registered as a object; expected an entry with load_task()" in msg


def test_unknown_dataset_lists_valid_names_and_suggests(tmp_path):
    msg = yaml_error(tmp_path, "tasks:\n  - {name: d, dataset: mfet}\n")
    assert msg.startswith(f"{tmp_path / 'suite.yaml'}: task 'd': dataset: unknown dataset 'mfet'")
    assert "(valid: " in msg and "mfeat" in msg and msg.endswith("did you mean 'mfeat'?")


def test_data_dir_goes_to_the_loaders_that_take_one(tmp_path, monkeypatch):
    from hetero.datasets import DATA_DIR_ENV, DatasetError

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    local, plain = ToyDataset(takes_data_dir=True), ToyDataset()
    text = """\
        name: local-copies
        tasks:
          - {name: a, dataset: local}
          - {name: b, dataset: plain}
          - {name: c, dataset: local, options: {data_dir: own}}
        """
    with DATASETS.registered("local", local), DATASETS.registered("plain", plain):
        path = write_yaml(tmp_path, text)
        with pytest.raises(DatasetError) as e:
            load_suite(path)
        assert one_line(e) == (
            f"{path}: suite 'local-copies' reads local copies of public datasets (tasks: a): "
            f"pass data_dir=... (--data-dir) or set {DATA_DIR_ENV} to a folder holding their data"
        )
        assert local.calls == [] and plain.calls == []  # refused before any data is read
        load_suite(path, data_dir=tmp_path / "data")
        assert [c["data_dir"] for c in local.calls] == [str(tmp_path / "data"), "own"]
        assert plain.calls == [{"n": 30, "seed": 0, "data_dir": None}]
        monkeypatch.setenv(DATA_DIR_ENV, "from-env")
        Suite.from_yaml(path)
        assert local.calls[-2]["data_dir"] == "from-env"


def test_suite_does_not_import_the_datasets_package():
    code = (
        "import sys, hetero.suite; hetero.suite.Suite, hetero.suite.load_suite; "
        "assert 'hetero.datasets' not in sys.modules, 'hetero.datasets imported'; "
        "assert 'torch' not in sys.modules; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# --------------------------------------------------------------------------- misc


def test_public_names_exported():
    for name in ("Modality", "Task", "TaskData", "Suite", "Unit", "load_suite"):
        assert getattr(hetero, name) is getattr(sys.modules["hetero.suite"], name)
    assert load_suite(Suite([speech_task()])).task_names == ("speech",)
    assert isinstance(speech_task().data, TaskData)
