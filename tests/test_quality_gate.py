"""The quality gate: a scratch body that stays at the class-prior loss is retrained from
another seed and, if it still fails, counted and reported."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetero.learners import LEARNERS
from hetero.learners.base import FitResult, Learner
from hetero.measure import measure
from hetero.measure.quality import gate, prior_loss
from hetero.measure.synthetic import planted_suite
from hetero.suite import Task


def test_prior_loss_known_values():
    y = np.array([0, 1, 2, 0, 1, 2] * 10)
    x = np.zeros((60, 2), dtype=np.float32)
    task = Task.from_arrays("t", {"x": x}, y, target="multiclass",
                            modalities=[{"name": "x", "positional_axes": 0}])  # fmt: skip
    assert prior_loss(task) == pytest.approx(math.log(3), abs=0.05)
    yr = np.arange(60, dtype=np.float32)
    reg = Task.from_arrays("r", {"x": x}, yr, target="regression",
                           modalities=[{"name": "x", "positional_axes": 0}])  # fmt: skip
    tr, va = reg.data.train_idx, reg.data.val_idx
    assert prior_loss(reg) == pytest.approx(np.mean((yr[va] - yr[tr].mean()) ** 2), rel=1e-6)
    assert gate(task, 0.5 * math.log(3))["passed"] and not gate(task, math.log(3))["passed"]


class _Broken(Learner):
    """Learns nothing from its first seed (loss = the prior's) unless ``fixable`` and
    retrained from another seed."""

    name = "broken-test"
    fixable = True

    def fit(self, task, unit, *, seed=0, init_state=None, mode="finetune", keep_head=False,
            max_epochs=None, return_state=False):  # fmt: skip
        prior = prior_loss(task)
        learned = self.fixable and seed >= 100_000  # a reseeded retry
        loss = 0.5 * prior if (learned or init_state is not None) else 1.01 * prior
        state = {"w": np.zeros(1)}
        self._state = state
        return FitResult(val_loss=loss, val_metric=0.0, curve=[loss], epochs=1, best_epoch=1,
                         converged=True, state=state if return_state else None)  # fmt: skip

    def export_state(self):
        return dict(self._state)


class _Hopeless(_Broken):
    name = "hopeless-test"
    fixable = False


def _suite():
    return planted_suite(1, 2, n_noise=0, n_samples=90, width=4, latent=2, seed=0)[0]


def test_a_body_that_learned_nothing_is_retrained_from_another_seed(tmp_path):
    with LEARNERS.registered("broken-test", _Broken):
        res = measure(_suite(), tmp_path, learner="broken-test", estimator="finetune", seeds=1,
                      interactions=False, stability_boot=0, figures=False)  # fmt: skip
    # 2 units x 2 baseline seeds, each retrained once from another seed
    assert res.stats.gate_retried == 4 and res.stats.gate_failed == 0
    assert res.summary["quality_gate"]["failed"] == []


def test_a_hopeless_body_is_kept_counted_and_reported(tmp_path):
    with LEARNERS.registered("hopeless-test", _Hopeless):
        res = measure(_suite(), tmp_path, learner="hopeless-test", estimator="finetune",
                      seeds=1, retries=1, interactions=False, stability_boot=0,
                      figures=False)  # fmt: skip
        failed = res.summary["quality_gate"]["failed"]
        assert len(failed) == 4 and {f["unit"] for f in failed} == set(res.modality.labels)
        assert res.stats.gate_retried == 4  # one retry each (retries=1), then kept
        # a resumed measurement still reports them (from the stored runs)
        again = measure(_suite(), tmp_path, learner="hopeless-test", estimator="finetune",
                        seeds=1, retries=1, interactions=False, stability_boot=0,
                        figures=False)  # fmt: skip
    assert again.stats.trained == 0 and len(again.summary["quality_gate"]["failed"]) == 4
    from hetero.report import build_report

    notes = build_report(tmp_path).notes
    assert any(n.startswith("Quality gate: 4 of 4 scratch bodies") for n in notes)


def test_outlier_known_values():
    from hetero.measure.quality import outlier

    # halfway rule and factor rule both hold: far worse than the other seeds
    assert outlier(1.5, [0.3, 0.35], 2.3) == {
        "peer_loss": pytest.approx(0.325),
        "peer_share": pytest.approx((1.5 - 0.325) / (2.3 - 0.325)),
        "outlier": True,
    }
    assert not outlier(0.5, [0.3, 0.35], 2.3)["outlier"]  # 1.5x the median, not halfway
    # a weak unit: every seed just below the prior; noise is not an outlier
    assert not outlier(0.67, [0.62, 0.63], 0.69)["outlier"]
    # nothing to compare with
    assert outlier(1.0, [], 2.3) is None and outlier(1.0, [0.3], None) is None
    assert outlier(1.0, [2.5, float("nan")], 2.3) is None  # the others learned nothing


class _Outlier(Learner):
    """Seed 0's body reaches only 0.85 x the prior's loss, every other seed 0.1 x; a
    reseeded retry of seed 0 learns unless the class says it cannot. A transfer reports the
    seed of the body it started from."""

    name = "outlier-test"
    fixable = True

    def fit(self, task, unit, *, seed=0, init_state=None, mode="finetune", keep_head=False,
            max_epochs=None, return_state=False):  # fmt: skip
        prior = prior_loss(task)
        info = {}
        if init_state is not None:
            loss, info["source_seed"] = 0.5 * prior, int(init_state["w"][0])
        elif seed == 0 or (not self.fixable and seed % 100_003 == 0):
            loss = 0.85 * prior
        else:
            loss = 0.1 * prior
        self._state = {"w": np.array([seed])}
        return FitResult(val_loss=loss, val_metric=0.0, curve=[loss], epochs=1, best_epoch=1,
                         converged=True, state=self._state if return_state else None,
                         info=info)  # fmt: skip

    def export_state(self):
        return dict(self._state)


class _HopelessOutlier(_Outlier):
    name = "hopeless-outlier-test"
    fixable = False


def _measure_outliers(path, learner, retries):
    return measure(_suite(), path, learner=learner, estimator="finetune", seeds=3,
                   retries=retries, interactions=False, stability_boot=0,
                   figures=False)  # fmt: skip


def _transfer_sources(path) -> set[int]:
    from hetero.measure.store import RunStore

    with RunStore(path / "runs.sqlite") as store:
        return {r.info["source_seed"] for r in store.records() if r.kind == "transfer"}


def test_a_body_far_worse_than_its_other_seeds_is_retrained_before_anything_uses_it(tmp_path):
    with LEARNERS.registered("outlier-test", _Outlier):
        res = _measure_outliers(tmp_path, "outlier-test", retries=1)
    # seed 0 of each of the 2 units passes the prior check (0.85 < 0.9) but not its peers'
    assert res.stats.gate_retried == 2 and res.stats.gate_failed == 0
    assert res.summary["quality_gate"]["failed"] == []
    # every transfer (and self-transfer baseline) started from a body that learned
    assert _transfer_sources(tmp_path) == {100_003, 1, 2}


def test_a_hopeless_outlier_is_kept_reported_and_retried_by_a_rerun_with_more_retries(tmp_path):
    with LEARNERS.registered("hopeless-outlier-test", _HopelessOutlier):
        res = _measure_outliers(tmp_path, "hopeless-outlier-test", retries=1)
    failed = res.summary["quality_gate"]["failed"]
    assert res.stats.gate_retried == 2 and res.stats.gate_failed == 2
    assert {(f["seed"], f["reason"], f["reseeds"]) for f in failed} == {(0, "outlier", 1)}
    assert len(failed) == 2 and 0 in {s % 100_003 for s in _transfer_sources(tmp_path)}
    from hetero.measure.quality import describe

    text = describe(res.summary["quality_gate"])
    assert text.startswith(
        "2 of 12 scratch bodies failed the quality gate after up to 1 retraining(s) each"
    )
    assert "2 far worse than their unit's other seeds" in text and "class-prior" not in text
    from hetero.report import build_report

    assert any(n.startswith(f"Quality gate: {text}") for n in build_report(tmp_path).notes)
    # the same measurement with a learner that can fix the body and more retries: the
    # stored outliers and every run that transferred from them are trained again
    with LEARNERS.registered("hopeless-outlier-test", _Outlier):
        again = _measure_outliers(tmp_path, "hopeless-outlier-test", retries=2)
    assert again.stats.gate_retried == 2 and again.summary["quality_gate"]["failed"] == []
    assert _transfer_sources(tmp_path) == {2 * 100_003, 1, 2}
    assert again.stats.trained == 4  # the 2 bodies and the 2 transfers from them


def test_a_rerun_with_more_retries_retrains_bodies_stored_at_the_prior_loss(tmp_path):
    kw = dict(learner="broken-test", estimator="finetune", seeds=1, interactions=False,
              stability_boot=0, figures=False)  # fmt: skip
    with LEARNERS.registered("broken-test", _Hopeless):
        first = measure(_suite(), tmp_path, retries=0, **kw)
    assert first.stats.gate_retried == 0 and len(first.summary["quality_gate"]["failed"]) == 4
    from hetero.measure.quality import describe

    assert "failed the quality gate without a retry (4 not below 0.9 x" in describe(
        first.summary["quality_gate"]
    )
    with LEARNERS.registered("broken-test", _Broken):
        again = measure(_suite(), tmp_path, retries=1, **kw)
    assert again.stats.gate_retried == 4 and again.summary["quality_gate"]["failed"] == []


def test_stored_transfers_from_a_retrained_body_that_are_not_in_the_call_become_stale(tmp_path):
    from hetero.measure.estimators import get_estimator
    from hetero.measure.executors import make_executor, run_specs
    from hetero.measure.planner import RunPlanner
    from hetero.measure.store import RunStore

    suite = _suite()
    labels = [u.label for u in suite.units()]
    runs = RunPlanner(suite, "broken-test", {}, get_estimator("finetune")).plan_level(
        "modality", labels, seeds=[0], baseline_seeds=[0], mask=None
    )
    kw = dict(learner_name="broken-test", learner_config={}, handle=make_executor("serial"),
              task_for=lambda label: suite.task(label.split("/")[0]))  # fmt: skip
    with RunStore(tmp_path / "runs.sqlite") as store:
        with LEARNERS.registered("broken-test", _Hopeless):
            first = run_specs(runs.specs(), store, retries=0, **kw)
        assert first.gate_failed == 2 and first.trained == 4  # 2 bodies, 2 transfers
        # a later call holds only the bodies (as a rerun of part of a measurement would)
        with LEARNERS.registered("broken-test", _Broken):
            again = run_specs(list(runs.scratch.values()), store, retries=1, **kw)
        assert again.gate_retried == 2 and again.gate_failed == 0
        statuses = {r.kind: set() for r in store.records()}
        for r in store.records():
            statuses[r.kind].add(r.status)
    assert statuses == {"scratch": {"ok"}, "transfer": {"stale"}}
    # the full plan again: the stale transfers are trained anew, the bodies reused
    with RunStore(tmp_path / "runs.sqlite") as store, LEARNERS.registered("broken-test", _Broken):
        last = run_specs(runs.specs(), store, retries=1, **kw)
        assert (last.cached, last.trained) == (2, 2)
        assert {r.status for r in store.records()} == {"ok"}


def test_negative_controls_are_not_retrained_by_the_gate(tmp_path):
    from hetero.measure.store import RunStore

    with LEARNERS.registered("broken-test", _Broken):
        res = measure(_suite(), tmp_path, learner="broken-test", estimator="finetune", seeds=1,
                      controls=True, interactions=False, stability_boot=0,
                      figures=False)  # fmt: skip
    with RunStore(tmp_path / "runs.sqlite") as store:
        bodies = [
            (r.unit, r.info["gate"]["reseed"]) for r in store.records() if r.kind == "scratch"
        ]
    nulls = [n for u, n in bodies if u.split("/")[0].endswith(".null")]
    others = [n for u, n in bodies if not u.split("/")[0].endswith(".null")]
    assert len(nulls) == 4 and set(nulls) == {0}  # labels shuffled: kept as they are
    assert len(others) == 8 and set(others) == {1}  # real units and twins: retrained once
    assert res.stats.gate_retried == 8 and res.stats.gate_failed == 0
