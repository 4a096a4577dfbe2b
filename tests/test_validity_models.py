"""Validity of estimators (issue 13): the shared-body ground truth and the closed-form
probes of the HighMMT probe, on planted suites whose sharing gains are known."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # the fits are tiny: more threads only contend on a shared machine

from hetero.errors import HeteroError, LearnerError  # noqa: E402
from hetero.measure import measure  # noqa: E402
from hetero.measure.synthetic import planted_sharing_suite  # noqa: E402
from hetero_models.probes import HighMMTProbe  # noqa: E402
from hetero_models.sharing import body_keys, fit_shared, sharing_gain, tie_body  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_validity as bv  # noqa: E402

#: A tiny probe: the planted units are 8 features wide.
TINY = dict(num_latents=4, latent_dim=16, latent_heads=2, dim_head=8, lr=3e-3,
            bn_calibration=128)  # fmt: skip


def _planted():
    return planted_sharing_suite(2, 2, n_samples=400, val=0.25, test=0.5, width=8)


def test_planted_sharing_suite_plants_families_with_own_samples():
    suite, families = _planted()
    assert families == {"share0_0/x": 0, "share0_1/x": 0, "share1_0/x": 1, "share1_1/x": 1}
    a, b = suite.task("share0_0"), suite.task("share0_1")
    assert a.n_samples == b.n_samples == 400 and len(a.data.train_idx) == 100
    assert not np.array_equal(a.data.arrays["x"], b.data.arrays["x"])  # fresh samples
    with pytest.raises(HeteroError, match="n_families <= width"):
        planted_sharing_suite(9, 1, width=8)


def test_tied_body_is_one_set_of_parameters_and_inputs_and_heads_stay_own():
    suite, _ = _planted()
    probe = HighMMTProbe(**TINY)
    units = [suite.unit("share0_0/x"), suite.unit("share1_0/x")]
    m0, m1 = (probe.new_model(suite.task(u.task), u, seed=k) for k, u in enumerate(units))
    names = body_keys(m0)
    assert names and not any(n.startswith("heads.") for n in names)
    assert not any(n.startswith("unimodal.") and ".cross_attn.attn.to_kv." in n for n in names)
    assert "unimodal.copies.0.layers.0.self_blocks.0.0.attn.to_kv.weight" in names
    assert tie_body(m1, m0) == len(names)
    for name in names:
        assert m1.get_parameter(name) is m0.get_parameter(name)
    assert m1.get_parameter("heads.0.1.weight") is not m0.get_parameter("heads.0.1.weight")
    kv = "unimodal.copies.0.layers.0.cross_attn.attn.to_kv.weight"
    assert m1.get_parameter(kv) is not m0.get_parameter(kv)
    other = HighMMTProbe(**{**TINY, "latent_dim": 8}).new_model(suite.task("share0_1"),
                                                                 suite.unit("share0_1/x"))  # fmt: skip
    with pytest.raises(HeteroError, match="probe sizes differ"):
        tie_body(other, m0)


@pytest.mark.slow
def test_fit_shared_reports_every_unit_and_refuses_bad_input():
    suite, _ = _planted()
    res = fit_shared(suite, ["share0_0/x", "share1_0/x"], probe=HighMMTProbe(**TINY),
                     seed=0, max_epochs=3)  # fmt: skip
    assert set(res.test_loss) == {"share0_0/x", "share1_0/x"} and res.epochs <= 3
    assert all(np.isfinite(v) and v > 0 for v in res.test_loss.values())
    assert all(1 <= e <= res.epochs for e in res.best_epoch.values())
    again = fit_shared(suite, ["share0_0/x", "share1_0/x"], probe=HighMMTProbe(**TINY),
                       seed=0, max_epochs=3)  # fmt: skip
    assert again.test_loss == res.test_loss  # deterministic for a seed
    few = fit_shared(suite, ["share0_0/x"], probe=HighMMTProbe(**TINY), seed=0, max_epochs=3,
                     max_train=20)  # fmt: skip
    alone = fit_shared(suite, ["share0_0/x"], probe=HighMMTProbe(**TINY), seed=0, max_epochs=3)
    assert few.test_loss != alone.test_loss  # trained on 20 of the 100 training samples
    with pytest.raises(HeteroError, match="max_train must be at least 2"):
        fit_shared(suite, ["share0_0/x"], max_train=1)
    with pytest.raises(HeteroError, match="appears twice"):
        fit_shared(suite, ["share0_0/x", "share0_0/x"])
    with pytest.raises(HeteroError, match="at least one unit"):
        fit_shared(suite, [])
    assert sharing_gain({"a": 2.0, "b": 1.0}, {"a": 1.0, "b": 1.5}) == pytest.approx(0.0)
    assert sharing_gain({"a": 2.0, "b": 1.0}, {"a": 1.0, "b": 0.5}) == pytest.approx(0.5)


@pytest.mark.slow
def test_ground_truth_recovers_the_planted_sharing_pairs():
    suite, families = _planted()
    labels = list(families)
    rows = bv.truth_rows(suite, labels, range(2), {**TINY, "max_epochs": 60, "patience": 5})
    truth = bv.truth_summary(rows, labels)
    G = truth["gain"]
    fam = np.array([families[u] for u in labels])
    same = (fam[:, None] == fam[None, :]) & ~np.eye(4, dtype=bool)
    within, between = G[np.triu(same, 1)], G[np.triu(~same, 1)]
    assert within.mean() - between.mean() > 0.03, (within, between)
    assert truth["pairs"][0][2:] in (("share0_0/x", "share0_1/x"), ("share1_0/x", "share1_1/x"))


def test_closed_form_modes_of_the_probe():
    suite, _ = _planted()
    probe = HighMMTProbe(**TINY, max_epochs=5)
    task, unit = suite.task("share0_0"), suite.unit("share0_0/x")
    state = probe.fit(task, unit, seed=0, return_state=True).state
    noise = np.random.default_rng(0)
    random_state = {k: noise.normal(size=v.shape).astype(v.dtype) if v.dtype.kind == "f" else v
                    for k, v in state.items()}  # fmt: skip
    for mode in ("ridge", "logme"):
        own = probe.fit(task, unit, seed=1, init_state=state, mode=mode)
        assert own.epochs == 1 and own.converged and own.info["closed_form"] == mode
        assert own.val_loss == probe.fit(task, unit, seed=1, init_state=state, mode=mode).val_loss
        assert own.val_loss < probe.fit(task, unit, seed=1, init_state=random_state,
                                        mode=mode).val_loss  # fmt: skip
        with pytest.raises(LearnerError, match="no head to evaluate"):
            probe.evaluate(task, unit)
        with pytest.raises(LearnerError, match="needs an init_state"):
            probe.fit(task, unit, mode=mode)
        with pytest.raises(LearnerError, match="no state to return"):
            probe.fit(task, unit, init_state=state, mode=mode, return_state=True)
    with pytest.raises(LearnerError, match="fit mode 'lasso'"):
        probe.fit(task, unit, init_state=state, mode="lasso")


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["ridge", "logme"])
def test_closed_form_estimators_recover_the_planted_pairs_and_pass_the_twin_control(
    tmp_path, estimator
):
    suite, families = _planted()
    res = measure(suite, tmp_path, learner="highmmt", learner_config={**TINY, "max_epochs": 20},
                  estimator=estimator, seeds=1, controls=True, interactions=False,
                  stability_boot=0, figures=False)  # fmt: skip
    ctl = res.modality.controls["summary"]
    assert ctl["passed"] and ctl["twin_nearest"] == ctl["units"] == 4
    labels = res.modality.labels
    D = np.asarray(res.modality.distance.values)
    fam = np.array([families[u] for u in labels])
    same = (fam[:, None] == fam[None, :]) & ~np.eye(4, dtype=bool)
    assert D[same].max() < D[~same & ~np.eye(4, dtype=bool)].min()
