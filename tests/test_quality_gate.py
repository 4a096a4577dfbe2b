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
