"""Learner protocol, registry and the numpy reference learner."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hetero.registry
from hetero.errors import LearnerError
from hetero.learners import (
    LEARNERS,
    FitResult,
    Learner,
    ReferenceLearner,
    get_learner,
    list_learners,
    register_learner,
    state_from_bytes,
    state_to_bytes,
)
from hetero.registry import Registry
from hetero.suite import Task, Unit
from tests.conftest import BLOCK_TORCH, REPO_ROOT

FAST = {"hidden": 8, "max_epochs": 30, "patience": 4}


def _task(target: str = "multiclass", n: int = 240, seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    arrays = {
        "a": (z @ rng.normal(size=(3, 6)) + 0.2 * rng.normal(size=(n, 6))).astype(np.float32),
        "b": np.tanh(z @ rng.normal(size=(3, 5))).astype(np.float32),
    }
    if target == "multiclass":
        y = (z @ rng.normal(size=(3, 3))).argmax(axis=1)
    elif target == "binary":
        y = (z[:, 0] > 0).astype(int)
    else:
        y = (z[:, 0] + 0.5 * z[:, 1]).astype(np.float32)
    mods = [{"name": m, "positional_axes": 0} for m in arrays]
    return Task.from_arrays(
        "t", arrays, y, target=target, modalities=mods, split={"val": 0.25, "test": 0.2, "seed": 0}
    )


# -- registry --------------------------------------------------------------------------------
def test_registry_lists_reference_and_unknown_name_lists_valid_names():
    assert "reference" in list_learners()
    with pytest.raises(
        LearnerError,
        match=r"unknown learner 'refrence' \(valid: .*reference.*did you mean 'reference'",
    ):
        get_learner("refrence")


def test_get_learner_passes_config_and_rejects_unknown_keys():
    learner = get_learner("reference", hidden=7)
    assert isinstance(learner, ReferenceLearner)
    assert learner.get_config()["hidden"] == 7
    json.dumps(learner.get_config())  # JSON-able
    with pytest.raises(LearnerError, match="bad config"):
        get_learner("reference", no_such_option=1)
    assert learner.clone(hidden=9).get_config() == {**learner.get_config(), "hidden": 9}
    with pytest.raises(LearnerError, match="unknown parameter"):
        learner.clone(nope=1)


def test_register_custom_learner_and_duplicate_name():
    class Constant(Learner):
        name = "constant-test"

        def __init__(self, value: float = 1.0):
            self.value = value

    register_learner("constant-test", Constant)
    try:
        assert get_learner("constant-test", value=2.0).get_config() == {"value": 2.0}
        assert "constant-test" in list_learners()
        with pytest.raises(LearnerError, match="already registered"):
            register_learner("constant-test", ReferenceLearner)
        register_learner("constant-test", Constant)  # the same class again is fine
    finally:
        LEARNERS.unregister("constant-test")
    assert "constant-test" not in list_learners()
    with LEARNERS.registered("constant-test", Constant):
        assert isinstance(get_learner("constant-test"), Constant)
    assert "constant-test" not in list_learners()


def test_entry_point_learner_is_loaded_lazily(monkeypatch):
    """A registry configured like LEARNERS lists entry points unloaded and names a broken one."""

    class FakeEP:
        name = "ep-learner"
        value = "hetero.learners.reference:ReferenceLearner"

        def load(self):
            return ReferenceLearner

    class BrokenEP(FakeEP):
        name = "ep-broken"
        value = "missing_pkg:Thing"

        def load(self):
            raise ImportError("No module named 'missing_pkg'")

    groups = []

    def fake_entry_points(group):
        groups.append(group)
        return [FakeEP(), BrokenEP()]

    monkeypatch.setattr(hetero.registry, "entry_points", fake_entry_points)
    fresh: Registry = Registry(
        LEARNERS.kind, group=LEARNERS.group, builtins=LEARNERS.builtins, error=LEARNERS.error
    )
    assert fresh.names() == ["ep-broken", "ep-learner"] and groups == ["hetero.learners"]
    assert fresh.get("ep-learner") is ReferenceLearner
    with pytest.raises(LearnerError, match=r"ep-broken.*cannot be loaded.*missing_pkg"):
        fresh.get("ep-broken")


def test_listing_learners_imports_no_plug_in():
    """The installed ``highmmt`` entry point is listed without torch; using it needs torch."""
    code = BLOCK_TORCH + textwrap.dedent(
        """
        from hetero.errors import LearnerError
        from hetero.learners import get_learner, list_learners
        names = list_learners()
        assert "torch" not in sys.modules
        if "highmmt" in names:
            try:
                get_learner("highmmt")
            except LearnerError as exc:
                assert "cannot be loaded" in str(exc), exc
            else:
                raise AssertionError("highmmt loaded without torch")
        print("ok", " ".join(names))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok") and "reference" in out.stdout


# -- state serialisation ----------------------------------------------------------------------
def test_state_round_trip_and_validation():
    state = {"body.W1": np.arange(6.0).reshape(2, 3), "body.b1": np.zeros(3, dtype=np.float32)}
    back = state_from_bytes(state_to_bytes(state))
    assert set(back) == set(state)
    for k in state:
        np.testing.assert_array_equal(back[k], state[k])
        assert back[k].dtype == state[k].dtype
    with pytest.raises(LearnerError, match="numeric numpy array"):
        state_to_bytes({"x": [1, 2]})
    with pytest.raises(LearnerError, match="non-finite"):
        FitResult(
            val_loss=float("nan"), val_metric=0, curve=[], epochs=0, best_epoch=0, converged=False
        )


# -- reference learner -----------------------------------------------------------------------
def test_reference_leaves_a_modality_declared_unscaled_as_it_is():
    base = _task()
    arrays = {m: base.data.arrays[m] for m in ("a", "b")}
    mods = [
        {"name": "a", "positional_axes": 0},
        {"name": "b", "positional_axes": 0, "standardize": False},
    ]
    task = Task.from_arrays(
        "t", arrays, base.data.y, target="multiclass", modalities=mods,
        split={"val": 0.25, "test": 0.2, "seed": 0},
    )  # fmt: skip
    assert task.standardized_columns(["a", "b"]).tolist() == [True] * 6 + [False] * 5
    assert task.standardized_columns(["b", "a"]).tolist() == [False] * 5 + [True] * 6
    learner = ReferenceLearner(**FAST)
    learner.fit(task, Unit("t", ("a", "b")), seed=0)
    x_tr, _ = task.data.split("train", ["a", "b"])
    np.testing.assert_allclose(learner.mean_[:6], x_tr["a"].mean(axis=0), rtol=1e-5)
    assert not np.allclose(learner.scale_[:6], 1.0)
    assert np.array_equal(learner.mean_[6:], np.zeros(5))  # b: 5 columns, unscaled
    assert np.array_equal(learner.scale_[6:], np.ones(5))


@pytest.mark.parametrize("target", ["multiclass", "binary", "regression"])
def test_reference_learns_each_target(target):
    task = _task(target)
    learner = ReferenceLearner(**FAST)
    res = learner.fit(task, Unit("t", ("a",)), seed=0)
    assert res.epochs == len(res.curve) >= 1
    assert 1 <= res.best_epoch <= res.epochs
    assert res.val_loss == pytest.approx(min(res.curve), abs=1e-9)
    loss, metric = learner.evaluate(task, Unit("t", ("a",)), "val")
    assert loss == pytest.approx(res.val_loss) and metric == pytest.approx(res.val_metric)
    if target == "multiclass":
        assert res.val_loss < np.log(3) * 0.8 and res.val_metric > 0.6
    elif target == "binary":
        assert res.val_loss < np.log(2) * 0.8 and res.val_metric > 0.75
    else:
        assert res.val_loss < 0.5 * float(np.var(task.data.y))


def test_reference_is_deterministic_per_seed_and_seeds_differ():
    task = _task()
    unit = Unit("t", ("a",))
    r1 = ReferenceLearner(**FAST).fit(task, unit, seed=3, return_state=True)
    r2 = ReferenceLearner(**FAST).fit(task, unit, seed=3, return_state=True)
    r3 = ReferenceLearner(**FAST).fit(task, unit, seed=4)
    assert r1.curve == r2.curve
    for k in r1.state:
        np.testing.assert_array_equal(r1.state[k], r2.state[k])
    assert r1.curve != r3.curve


def test_epoch_cap_means_not_converged():
    res = ReferenceLearner(**{**FAST, "max_epochs": 1}).fit(_task(), Unit("t", ("a",)), seed=0)
    assert res.epochs == 1 and res.converged is False
    res = ReferenceLearner(**{**FAST, "max_epochs": 500, "patience": 2}).fit(
        _task(), Unit("t", ("a",)), seed=0
    )
    assert res.converged is True and res.epochs < 500


def test_transfer_modes_frozen_keeps_body_and_finetune_changes_it():
    task = _task()
    src = ReferenceLearner(**FAST).fit(task, Unit("t", ("a",)), seed=0, return_state=True).state
    roles = ReferenceLearner().parameter_roles()
    assert set(roles) == set(src) and set(roles.values()) == {"input", "body", "head"}
    frozen = ReferenceLearner(**FAST)
    frozen.fit(task, Unit("t", ("b",)), seed=0, init_state=src, mode="frozen")
    after = frozen.export_state()
    # unit b has 5 features, a has 6: rows aligned by index
    np.testing.assert_array_equal(after["body.W1"], src["body.W1"][:5])
    for k in ("body.b1", "body.W2", "body.b2"):
        np.testing.assert_array_equal(after[k], src[k])
    ft = ReferenceLearner(**FAST)
    ft.fit(task, Unit("t", ("b",)), seed=0, init_state=src, mode="finetune")
    assert not np.array_equal(ft.export_state()["body.W2"], src["body.W2"])


def test_keep_head_copies_head_and_default_reinitialises_it():
    task = _task()
    src = ReferenceLearner(**FAST).fit(task, Unit("t", ("a",)), seed=0, return_state=True).state
    cap = {**FAST, "max_epochs": 1, "lr": 1e-12, "weight_decay": 0.0}  # (almost) no training
    kept = ReferenceLearner(**cap)
    kept.fit(task, Unit("t", ("b",)), seed=1, init_state=src, keep_head=True)
    np.testing.assert_allclose(kept.export_state()["head.W"], src["head.W"], atol=1e-9)
    fresh = ReferenceLearner(**cap)
    fresh.fit(task, Unit("t", ("b",)), seed=1, init_state=src)
    assert not np.allclose(fresh.export_state()["head.W"], src["head.W"])


def test_interaction_unit_and_errors():
    task = _task()
    learner = ReferenceLearner(**FAST)
    res = learner.fit(task, Unit("t", ("a", "b")), seed=0, return_state=True)
    assert res.state["input.a"].shape == (11,)  # 6 + 5 features concatenated
    with pytest.raises(LearnerError, match="needs an init_state"):
        learner.fit(task, Unit("t", ("a",)), mode="frozen")
    with pytest.raises(LearnerError, match="fit mode 'nope'"):
        learner.fit(task, Unit("t", ("a",)), mode="nope")
    with pytest.raises(LearnerError, match="does not belong to task"):
        learner.fit(task, Unit("other", ("a",)))
    with pytest.raises(LearnerError, match="hidden sizes must agree"):
        ReferenceLearner(**{**FAST, "hidden": 4}).fit(
            task, Unit("t", ("a",)), init_state=res.state, mode="finetune"
        )
    with pytest.raises(LearnerError, match="not fitted"):
        ReferenceLearner().export_state()

    class Unimodal(Learner):
        name = "unimodal-only"

    with pytest.raises(LearnerError, match="does not support interaction units"):
        Unimodal().check_unit(task, Unit("t", ("a", "b")))


def test_key_neutral_parameters_keep_stored_run_keys():
    """A parameter added after runs were stored, at the value that reproduces them, does
    not enter run keys: the stored runs are found again (the committed campaign records)."""
    pytest.importorskip("torch")
    from hetero.measure import plan_runs
    from hetero.measure.estimators import get_estimator
    from hetero.measure.planner import RunPlanner
    from hetero.measure.synthetic import planted_suite
    from hetero_models.probes import HighMMTProbe

    assert HighMMTProbe.key_config({"lr": 1e-3, "bn_calibration": 0}) == {"lr": 1e-3}
    assert HighMMTProbe.key_config({"bn_calibration": 256}) == {"bn_calibration": 256}
    suite = planted_suite(1, 2, n_noise=0, n_samples=60, width=4, latent=2, seed=0)[0]
    levels = plan_runs(suite, learner="highmmt", learner_config={"bn_calibration": 0},
                       seeds=1, interactions=False)  # fmt: skip
    cfg = get_learner("highmmt", bn_calibration=0).get_config()
    cfg.pop("bn_calibration")  # the config as it was before the parameter existed
    old = RunPlanner(suite, "highmmt", cfg, get_estimator("frozen_short"))
    label = suite.units()[0].label
    assert levels["modality"].scratch[(label, 0)].key == old.scratch(label, 0).key
