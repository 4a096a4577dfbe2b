"""Task metrics: one implementation, known answers, unsupported names refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetero.errors import HeteroError
from hetero.scoring import predictions, task_metric, task_metrics


def test_known_answers():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 3.0, 0.0], [0.0, 1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    m = task_metrics("multiclass", logits, y)
    assert m["accuracy"] == 0.75 and set(m) == {"accuracy", "balanced_accuracy", "f1_macro",
                                                "f1_micro"}  # fmt: skip
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    pred = np.array([1.0, 2.0, 4.0])
    truth = np.array([1.0, 3.0, 5.0])
    r = task_metrics("regression", pred, truth)
    assert r["mse"] == pytest.approx(2 / 3) and r["mae"] == pytest.approx(2 / 3)
    assert r["r2"] == pytest.approx(1 - (2 / 3) / np.var(truth))
    assert task_metric("auroc", "binary", np.array([0.3, -1.0, 2.0]), np.array([1, 0, 1])) == 1.0
    assert math.isnan(task_metric("auroc", "binary", np.array([0.3, 1.0]), np.array([1, 1])))
    assert math.isnan(task_metric("r2", "regression", np.array([1.0, 2.0]), np.array([3.0, 3.0])))
    two_col = np.array([[0.0, 1.0], [1.0, 0.0]])  # binary as two logits
    assert task_metric("accuracy", "binary", two_col, np.array([1, 0])) == 1.0


def test_unsupported_names_raise():
    with pytest.raises(HeteroError, match="metric 'r2' is not defined for multiclass tasks"):
        task_metric("r2", "multiclass", np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(HeteroError, match="unknown target 'ranking'"):
        task_metrics("ranking", np.zeros(2), np.zeros(2))


def test_reference_learner_reports_the_task_metric_and_trains_l1():
    """It once reported MSE for r2 and trained l1 as MSE."""
    from hetero.learners import get_learner
    from hetero.suite import Task

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=120)).astype(np.float32)
    for loss, metric in (("mse", "r2"), ("l1", "mae")):
        task = Task.from_arrays("reg", {"x": x}, y, target="regression", loss=loss, metric=metric,
                                modalities=[{"name": "x", "kind": "table", "positional_axes": 0}])  # fmt: skip
        learner = get_learner("reference", hidden=16, max_epochs=40)
        res = learner.fit(task, task.units()[0], seed=0)
        _, val_metric = learner.evaluate(task, task.units()[0], "val")
        assert val_metric == pytest.approx(res.val_metric)
        if metric == "r2":
            assert 0.5 < res.val_metric <= 1.0  # R^2, not an MSE
        else:
            assert res.val_loss == pytest.approx(res.val_metric, rel=1e-6)  # l1 loss = MAE


def test_predictions_follow_each_target_rule():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]])
    pred, scores = predictions("multiclass", logits)
    assert pred.tolist() == [1, 0] and scores is None
    two = np.array([[0.0, 1.0], [2.0, -1.0]])  # binary as two logits: their difference
    pred, scores = predictions("binary", two)
    assert pred.tolist() == [1, 0] and scores.tolist() == [1.0, -3.0]
    pred, _ = predictions("binary", np.array([[-0.5], [0.25]]))
    assert pred.tolist() == [0, 1]
    pred, _ = predictions("multilabel", np.array([[1.0, -1.0], [-2.0, 0.5]]))
    assert pred.tolist() == [[1, 0], [0, 1]]
    with pytest.raises(HeteroError, match=r"classification target.*got 'regression'"):
        predictions("regression", np.zeros((2, 1)))
