"""Built-in controls: a relabelled twin (must be nearest) and a label-shuffled copy."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hetero.cli.main import app
from hetero.learners import LEARNERS
from hetero.learners.base import FitResult, Learner
from hetero.measure import measure
from hetero.measure.controls import control_tasks
from hetero.measure.synthetic import planted_suite


def _suite():
    return planted_suite(1, 2, n_noise=1, n_samples=120, width=6, latent=3, seed=0)[0]


def _inputs_hash(task, unit) -> float:
    """A number that identifies a unit's inputs up to the order of the rows."""
    a = np.asarray(task.data.arrays[unit.modalities[0]], dtype=np.float64)
    rows = a.reshape(len(a), -1)
    rows = rows[np.lexsort(rows.T[::-1])]
    return int(hashlib.sha256(rows.tobytes()).hexdigest()[:8], 16) / 2**32


class _Oracle(Learner):
    """Knows the answer: a body helps a target exactly when it saw the same inputs with
    informative labels; one trained on shuffled labels costs more than any stranger."""

    name = "oracle-test"

    def __init__(self, noise: float = 0.0):
        self.noise = noise

    def fit(self, task, unit, *, seed=0, init_state=None, mode="finetune", keep_head=False,
            max_epochs=None, return_state=False):  # fmt: skip
        informative = not task.name.endswith(".null")
        loss = 1.0 if informative else 2.0
        if init_state is not None and informative:
            same = float(init_state["inputs"][0]) == _inputs_hash(task, unit)
            if not init_state["informative"][0]:
                loss += 0.3  # a body that learned nothing, whatever inputs it saw
            elif not same:
                loss += 0.1
        loss += self.noise * np.random.default_rng([seed, len(task.name)]).normal()
        state = {"inputs": np.array([_inputs_hash(task, unit)]),
                 "informative": np.array([float(informative)])}  # fmt: skip
        self._state = state
        return FitResult(val_loss=loss, val_metric=0.0, curve=[loss], epochs=1, best_epoch=1,
                         converged=True, state=state if return_state else None)  # fmt: skip

    def export_state(self):
        return dict(self._state)


class _Random(_Oracle):
    name = "random-test"

    def fit(self, task, unit, *, seed=0, init_state=None, **kw):
        res = super().fit(task, unit, seed=seed, init_state=init_state, **kw)
        rng = np.random.default_rng([seed, len(task.name), len(unit.label), init_state is None])
        res.val_loss = float(rng.uniform(0, 3))
        return res


def _measure(tmp_path, learner_cls, **kw):
    with LEARNERS.registered(learner_cls.name, learner_cls):
        return measure(_suite(), tmp_path, learner=learner_cls.name, estimator="finetune",
                       seeds=2, controls=True, interactions=False, stability_boot=0,
                       figures=False, **kw)  # fmt: skip


def test_the_controls_of_an_oracle_pass_and_are_reported(tmp_path):
    res = _measure(tmp_path, _Oracle)
    summary = res.modality.controls["summary"]
    assert summary["passed"] and summary["twin_nearest"] == summary["units"] == 3
    controls = json.loads((tmp_path / "controls.json").read_text())
    assert controls["modality"]["summary"]["passed"]
    assert json.loads((tmp_path / "measure.json").read_text())["controls"]["modality"]["passed"]
    # the controls never enter the matrices or the plan
    labels = json.loads((tmp_path / "modality.json").read_text())["labels"]
    assert not any(".twin" in lab or ".null" in lab for lab in labels) and len(labels) == 3


def test_a_learner_returning_random_losses_fails_the_controls(tmp_path):
    assert not _measure(tmp_path, _Random).modality.controls["summary"]["passed"]


def test_controls_leave_the_real_measurement_unchanged(tmp_path):
    kw = dict(learner="reference", learner_config={"hidden": 8, "max_epochs": 4},
              estimator="frozen", seeds=1, interactions=False, stability_boot=0)  # fmt: skip
    plain = measure(_suite(), None, **kw)
    with_ctl = measure(_suite(), None, controls=True, **kw)
    np.testing.assert_array_equal(plain.modality.transfer.values, with_ctl.modality.transfer.values)
    assert plain.modality.controls is None and with_ctl.modality.controls is not None


@pytest.mark.parametrize("target", ["multiclass", "binary", "regression"])
def test_control_tasks_keep_inputs_and_splits_and_relabel(target):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    y = {"multiclass": rng.integers(0, 3, 60), "binary": rng.integers(0, 2, 60),
         "regression": rng.normal(size=60).astype(np.float32)}[target]  # fmt: skip
    from hetero.suite import Task

    task = Task.from_arrays("t", {"x": x}, y, target=target,
                            modalities=[{"name": "x", "positional_axes": 0}])  # fmt: skip
    twin, null = control_tasks(task, seed=1)
    assert (twin.name, null.name) == ("t.twin", "t.null")
    for split in ("train", "val", "test"):
        (a, ya), (b, yb) = task.data.split(split), twin.data.split(split)
        order_a, order_b = np.argsort(a["x"][:, 0]), np.argsort(b["x"][:, 0])
        np.testing.assert_array_equal(a["x"][order_a], b["x"][order_b])  # same rows, same split
        pairs = set(zip(ya[order_a].tolist(), yb[order_b].tolist(), strict=True))
        if target != "regression":
            assert len(pairs) == len({p[0] for p in pairs})  # labels relabelled one-to-one
        _, yn = null.data.split(split)
        assert sorted(yn.tolist()) == sorted(ya.tolist())  # shuffled within the split


def test_cli_controls_lead_the_summary(tmp_path):
    with LEARNERS.registered("oracle-test", _Oracle):
        from hetero.measure.synthetic import planted_suite as ps

        s = ps(1, 2, n_noise=1, n_samples=120, width=6, latent=3, seed=0)[0]
        task = s.tasks[0]
        np.savez(tmp_path / "p.npz", y=task.data.y, **task.data.arrays)
        mods = ", ".join(f"{{name: {m}, kind: table}}" for m in task.data.arrays)
        (tmp_path / "s.yaml").write_text(
            f"tasks:\n  - name: p\n    data: p.npz\n    target: multiclass\n    modalities: [{mods}]\n"
        )
        res = CliRunner().invoke(app, ["measure", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "o"),
                                       "--learner", "oracle-test", "--estimator", "finetune",
                                       "--executor", "serial", "--controls", "--no-figures"])  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("modality: controls"))
    assert lines[first].startswith("modality: controls passed")
    assert first < next(i for i, ln in enumerate(lines) if "hetero measure" in ln)  # leads
