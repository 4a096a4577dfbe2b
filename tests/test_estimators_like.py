"""The like-for-like frozen estimator ``frozen_fresh``: both terms of T start alike.

A self-transfer baseline and a transfer from a foreign source take only the body from the
source state; the input projection and the head keep a fresh initialisation drawn from
``seed + FRESH_SEED_OFFSET`` (not the draw the baseline's own body was trained from), so the
two terms differ in nothing but the body (HighMMT probe and reference learner). Under
``frozen`` the probe's self-transfer starts from the unit's own trained input projection
instead, and the head of either learner from the draw its body was trained with.
"""

from __future__ import annotations

import numpy as np
import pytest

from hetero.errors import LearnerError
from hetero.learners import ReferenceLearner
from hetero.learners.reference import FRESH_SEED_OFFSET, FROZEN_FRESH
from hetero.measure.estimators import DEFAULT_ESTIMATOR, ESTIMATORS, get_estimator
from hetero.measure.planner import RunPlanner
from hetero.suite import Unit
from tests.test_models_helpers import make_suite

SUITE = make_suite(n=64)


def _roles_state(learner, roles: set[str]) -> dict[str, np.ndarray]:
    """Exported parameters of the given roles (BatchNorm buffers left out: recalibrated)."""
    state = learner.export_state()
    return {
        k: state[k]
        for k, r in learner.parameter_roles().items()
        if r in roles and "running_" not in k and "num_batches" not in k and k in state
    }


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a and set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# -- registry ----------------------------------------------------------------------------------


def test_registered_like_for_like_and_not_the_default():
    assert "frozen_fresh" in ESTIMATORS
    est = get_estimator("frozen_fresh")
    assert est.transfer_mode == FROZEN_FRESH and est.baseline == "self"
    assert est.score == "best" and est.transfer_max_epochs is None  # learner's cap and patience
    assert "like-for-like" in est.description
    assert DEFAULT_ESTIMATOR != "frozen_fresh"


def test_planner_fits_baseline_and_transfers_the_same_way():
    planner = RunPlanner(SUITE, "reference", {"hidden": 4}, get_estimator("frozen_fresh"))
    base = planner.baseline("alpha/img", 1)
    foreign = planner.transfer("beta/tab", "alpha/img", 1)
    assert base.kind == foreign.kind == "transfer" and base.source == "alpha/img"
    assert base.mode == foreign.mode == FROZEN_FRESH
    assert base.max_epochs == foreign.max_epochs and base.keep_head == foreign.keep_head
    assert base.source_key == planner.scratch("alpha/img", 1).key  # own scratch body
    # other estimators' runs keep their keys: the mode is part of the key
    old = RunPlanner(SUITE, "reference", {"hidden": 4}, get_estimator("frozen"))
    assert old.baseline("alpha/img", 1).key != base.key


def test_unknown_mode_still_refused_and_frozen_fresh_needs_a_state():
    learner = ReferenceLearner(hidden=4, max_epochs=1)
    task, unit = SUITE.task("alpha"), Unit("alpha", ("img",))
    with pytest.raises(LearnerError, match="not one of"):
        learner.fit(task, unit, mode="thawed")
    with pytest.raises(LearnerError, match="needs an init_state"):
        learner.fit(task, unit, mode=FROZEN_FRESH)


# -- reference learner -------------------------------------------------------------------------


def test_reference_self_and_foreign_transfer_start_alike():
    target, unit = SUITE.task("alpha"), Unit("alpha", ("img",))
    own = ReferenceLearner(hidden=6, max_epochs=3).fit(target, unit, seed=3, return_state=True)
    other = ReferenceLearner(hidden=6, max_epochs=3).fit(
        SUITE.task("beta"), Unit("beta", ("tab",)), seed=3, return_state=True
    )
    lr0 = {"hidden": 6, "max_epochs": 1, "lr": 0.0}  # lr 0: the initialisation as is
    fresh = ReferenceLearner(**lr0)
    fresh.fit(target, unit, seed=3 + FRESH_SEED_OFFSET)
    start = _roles_state(fresh, {"input", "head"})
    own_start = ReferenceLearner(**lr0)
    own_start.fit(target, unit, seed=3)  # the draw the target's own body was trained from
    for state in (own.state, other.state):
        probe = ReferenceLearner(**lr0)
        probe.fit(target, unit, seed=3, init_state=state, mode=FROZEN_FRESH)
        _assert_same(_roles_state(probe, {"input", "head"}), start)
        np.testing.assert_array_equal(probe.export_state()["body.W2"], state["body.W2"])
        assert not np.array_equal(probe.export_state()["head.W"], own_start.params_["head.W"])
    # under "frozen" the self-transfer's head is the draw its body was trained from
    old = ReferenceLearner(**lr0)
    old.fit(target, unit, seed=3, init_state=own.state, mode="frozen")
    np.testing.assert_array_equal(old.params_["head.W"], own_start.params_["head.W"])


# -- HighMMT probe -----------------------------------------------------------------------------

SMALL = {"num_latents": 4, "latent_dim": 16, "latent_heads": 2, "dim_head": 8}


@pytest.fixture(scope="module")
def probe_states():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from hetero_models.probes import HighMMTProbe

    def scratch(task, mod):
        probe = HighMMTProbe(**SMALL, max_epochs=2)
        return probe.fit(SUITE.task(task), Unit(task, (mod,)), seed=0, return_state=True).state

    return HighMMTProbe, scratch("alpha", "img"), scratch("beta", "tab")


def test_probe_frozen_fresh_reinitialises_input_and_head_for_self_and_foreign(probe_states):
    probe_cls, own, foreign = probe_states
    task, unit = SUITE.task("alpha"), Unit("alpha", ("img",))
    lr0 = {**SMALL, "max_epochs": 1, "lr": 0.0}  # lr 0: the initialisation as is
    fresh = probe_cls(**lr0)
    fresh.fit(task, unit, seed=FRESH_SEED_OFFSET)
    start = _roles_state(fresh, {"input", "head"})
    scratch_start = probe_cls(**lr0)
    scratch_start.fit(task, unit, seed=0)  # the draw the target's own body (seed 0) started from
    co_trained = _roles_state(scratch_start, {"input"})
    for state in (own, foreign):
        probe = probe_cls(**lr0)
        probe.fit(task, unit, seed=0, init_state=state, mode=FROZEN_FRESH)
        _assert_same(_roles_state(probe, {"input", "head"}), start)
        body = _roles_state(probe, {"body"})
        assert body and all(np.array_equal(body[k], state[k]) for k in body if k in state)
        inp = _roles_state(probe, {"input"})
        kv = [k for k in inp if ".to_kv." in k]  # (LayerNorms start at 1 and 0 anyway)
        assert kv and all(not np.array_equal(inp[k], co_trained[k]) for k in kv)


def test_probe_frozen_self_transfer_inherits_its_trained_input(probe_states):
    """The asymmetry ``frozen_fresh`` removes: under ``frozen`` the baseline (self-transfer)
    starts from its own trained input projection, a fresh model does not."""
    probe_cls, own, _ = probe_states
    task, unit = SUITE.task("alpha"), Unit("alpha", ("img",))
    lr0 = {**SMALL, "max_epochs": 1, "lr": 0.0}
    probe = probe_cls(**lr0)
    probe.fit(task, unit, seed=5, init_state=own, mode="frozen")
    inp = _roles_state(probe, {"input"})
    assert inp and all(np.array_equal(inp[k], own[k]) for k in inp)
    fresh = probe_cls(**lr0)
    fresh.fit(task, unit, seed=5, init_state=own, mode=FROZEN_FRESH)
    other = _roles_state(fresh, {"input"})
    assert any(not np.array_equal(other[k], own[k]) for k in other)
    with pytest.raises(LearnerError, match="needs an init_state"):
        fresh.fit(task, unit, mode=FROZEN_FRESH)
