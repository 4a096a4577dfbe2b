"""HighMMT probes as hetero learners: protocol, roles, transfer modes, entry point."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hetero.errors import LearnerError
from hetero.learners import get_learner, state_from_bytes, state_to_bytes
from hetero.suite import Unit
from hetero_models.probes import HighMMTProbe
from tests.test_models_helpers import make_suite

torch.set_num_threads(1)

SUITE = make_suite(n=64)
SMALL = {"num_latents": 4, "latent_dim": 16, "latent_heads": 2, "dim_head": 8, "max_epochs": 3}


def test_registered_through_the_entry_point():
    from importlib.metadata import entry_points

    if "highmmt" not in {ep.name for ep in entry_points(group="hetero.learners")}:
        pytest.skip("package metadata not installed (pip install -e . registers the entry point)")
    learner = get_learner("highmmt", max_epochs=2)
    assert isinstance(learner, HighMMTProbe) and learner.supports_interactions
    assert learner.get_config()["max_epochs"] == 2
    assert learner.clone(lr=0.01).lr == 0.01


def test_unimodal_fit_state_and_roles():
    probe = HighMMTProbe(**SMALL)
    res = probe.fit(SUITE.task("alpha"), Unit("alpha", ("img",)), seed=0, return_state=True)
    assert res.epochs == len(res.curve) <= 3 and 1 <= res.best_epoch <= res.epochs
    assert res.val_loss == pytest.approx(min(res.curve), rel=1e-5)
    assert 0.0 <= res.val_metric <= 1.0
    state = state_from_bytes(state_to_bytes(res.state))  # numpy only, no pickle
    roles = probe.parameter_roles()
    assert set(roles) == set(state)
    assert {r for r in roles.values()} == {"input", "body", "head"}
    assert all(k.startswith("heads.") for k, r in roles.items() if r == "head")
    assert "unimodal.copies.0.latents" in state and roles["unimodal.copies.0.latents"] == "body"
    loss, metric = probe.evaluate(SUITE.task("alpha"), Unit("alpha", ("img",)), "val")
    assert loss == pytest.approx(res.val_loss, rel=1e-5)
    assert metric == pytest.approx(res.val_metric)


def test_same_seed_same_run():
    unit = Unit("beta", ("vec",))
    a = HighMMTProbe(**SMALL).fit(SUITE.task("beta"), unit, seed=4)
    b = HighMMTProbe(**SMALL).fit(SUITE.task("beta"), unit, seed=4)
    assert a.curve == b.curve


def test_frozen_transfer_keeps_the_body_and_aligns_the_input():
    src = HighMMTProbe(**SMALL)
    res = src.fit(SUITE.task("alpha"), Unit("alpha", ("img",)), seed=0, return_state=True)
    dst = HighMMTProbe(**SMALL)
    dst.fit(SUITE.task("beta"), Unit("beta", ("tab",)), seed=1, init_state=res.state, mode="frozen")
    out = dst.export_state()
    roles = dst.parameter_roles()
    body = [k for k, r in roles.items() if r == "body" and k in res.state]
    assert body and all(np.array_equal(out[k], res.state[k]) for k in body)
    # the input projection has another width; its channel block starts from the source's
    key = "unimodal.copies.0.layers.0.cross_attn.attn.to_kv.weight"
    assert out[key].shape != res.state[key].shape
    with pytest.raises(LearnerError, match="needs an init_state"):
        dst.fit(SUITE.task("beta"), Unit("beta", ("tab",)), mode="frozen")


def test_interaction_probe_transfers_the_crossmodal_block():
    src = HighMMTProbe(**SMALL)
    res = src.fit(SUITE.task("alpha"), Unit("alpha", ("img", "seq")), seed=0, return_state=True)
    assert any(k.startswith("crossmodal.") for k in res.state)
    dst = HighMMTProbe(**{**SMALL, "max_epochs": 1, "lr": 0.0})
    dst.fit(SUITE.task("beta"), Unit("beta", ("seq", "tab")), seed=0, init_state=res.state)
    out = dst.export_state()
    cm = [k for k in res.state if k.startswith("crossmodal.")]
    assert all(np.array_equal(out[k], res.state[k]) for k in cm)  # lr 0: copied as is
    with pytest.raises(LearnerError, match="keep_head"):
        dst.fit(
            SUITE.task("beta"), Unit("beta", ("seq", "tab")), init_state=res.state, keep_head=True
        )
