"""The default estimator (``logme``): chosen by the controls and reliability rule, and
available with every built-in learner (the reference learner's closed-form modes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.errors import LearnerError
from hetero.learners.reference import ReferenceLearner
from hetero.measure import MeasureConfig, measure
from hetero.measure.estimators import DEFAULT_ESTIMATOR, get_estimator
from hetero.measure.synthetic import planted_suite
from hetero.suite import Unit


def _planted():
    return planted_suite(2, 2, n_noise=1, n_samples=200, width=8, latent=3, seed=0)[0]


def test_the_default_is_the_closed_form_logme_estimator():
    assert DEFAULT_ESTIMATOR == "logme"
    est = get_estimator(DEFAULT_ESTIMATOR)
    assert est.transfer_mode == "logme" and est.baseline == "self"
    assert MeasureConfig().build_estimator(ReferenceLearner()).name == "logme"


@pytest.mark.parametrize("mode", ["logme", "ridge"])
def test_reference_learner_closed_form_modes(mode):
    suite = _planted()
    task, unit = suite.task("planted"), Unit("planted", ("g0m0",))
    learner = ReferenceLearner(hidden=16, max_epochs=40)
    own = learner.fit(task, unit, seed=0, return_state=True).state
    other = learner.fit(task, Unit("planted", ("noise0",)), seed=0, return_state=True).state
    res = learner.fit(task, unit, seed=1, init_state=own, mode=mode)
    assert res.epochs == 1 and res.converged and res.info["closed_form"] == mode
    assert res.curve == [res.val_loss] and np.isnan(res.val_metric)
    # deterministic: nothing is trained, so a repeat gives the same score
    assert learner.fit(task, unit, seed=1, init_state=own, mode=mode).val_loss == res.val_loss
    # the unit's own body describes its targets better than a body of pure noise
    assert res.val_loss < learner.fit(task, unit, seed=1, init_state=other, mode=mode).val_loss
    with pytest.raises(LearnerError, match="not fitted"):
        learner.evaluate(task, unit)
    with pytest.raises(LearnerError, match="needs an init_state"):
        learner.fit(task, unit, mode=mode)


def test_the_default_passes_the_twin_control_with_the_reference_learner(tmp_path):
    res = measure(_planted(), tmp_path, learner="reference", learner_config={"hidden": 16},
                  seeds=2, controls=True, interactions=False, stability_boot=0,
                  figures=False, progress=False)  # fmt: skip
    ctl = res.modality.controls["summary"]
    assert ctl["passed"] and ctl["twin_nearest"] == ctl["twin_before_null"] == ctl["units"] == 5


def test_cli_measures_with_the_default_and_says_so(tmp_path):
    task = _planted().tasks[0]
    np.savez(tmp_path / "p.npz", y=task.data.y, **task.data.arrays)
    mods = ", ".join(f"{{name: {m}, kind: table}}" for m in task.data.arrays)
    (tmp_path / "s.yaml").write_text(
        f"tasks:\n  - name: p\n    data: p.npz\n    target: multiclass\n    modalities: [{mods}]\n"
    )
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["measure", str(tmp_path / "s.yaml"), "--learner", "reference",
                                 "-L", "hidden=8", "--seeds", "2", "--executor", "serial",
                                 "--no-figures", "-o", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0] == "learner: reference; estimator: logme (default)"
    summary = json.loads((out / "measure.json").read_text())
    assert summary["estimator"]["name"] == "logme"


class _BaseModesOnly(ReferenceLearner):
    """A learner with the protocol's base modes only (as most custom learners)."""

    name = "base-modes-test"

    @staticmethod
    def check_mode(mode: str) -> str:
        from hetero.learners.base import Learner

        return Learner.check_mode(mode)


def test_a_learner_without_the_closed_form_mode_gets_the_fallback(tmp_path):
    from hetero.learners import LEARNERS
    from hetero.measure.estimators import FALLBACK_ESTIMATOR, default_estimator

    learner = _BaseModesOnly(hidden=8)
    assert default_estimator(learner) == FALLBACK_ESTIMATOR == "frozen_short"
    assert default_estimator(ReferenceLearner()) == "logme" == default_estimator()
    with LEARNERS.registered(_BaseModesOnly.name, _BaseModesOnly):
        res = measure(_planted(), tmp_path / "a", learner=_BaseModesOnly.name,
                      learner_config={"hidden": 8}, seeds=1,
                      interactions=False, stability_boot=0, figures=False, progress=False)  # fmt: skip
        assert res.estimator.name == "frozen_short"
        # naming the closed-form estimator for it fails before any run or output
        with pytest.raises(LearnerError, match="needs transfer mode 'logme', which learner"):
            measure(_planted(), tmp_path / "b", learner=_BaseModesOnly.name, estimator="logme",
                    seeds=1, interactions=False, figures=False, progress=False)  # fmt: skip
    assert not (tmp_path / "b").exists()
