"""Closed-form probes of the ``ridge`` and ``logme`` estimators against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hetero.errors import HeteroError
from hetero.measure.closed_form import (
    CLOSED_FORM_MODES,
    closed_form_score,
    logme_evidence,
    ridge_loo,
    standardize_features,
    target_matrix,
)
from hetero.measure.estimators import ESTIMATORS, get_estimator


def test_ridge_on_a_hand_computed_example():
    # X = [0, 1, 2], y = [0, 1, 3], penalty 1: centred x = [-1, 0, 1], centred y =
    # [-4/3, -1/3, 5/3]; slope = sum(xc yc) / (sum(xc^2) + 1) = 3 / 3 = 1; intercept
    # = mean(y) - slope mean(x) = 4/3 - 1 = 1/3.
    fit = ridge_loo(np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 1.0, 3.0]), alphas=[1.0])
    assert fit.coef[0, 0] == pytest.approx(1.0)
    assert fit.intercept[0] == pytest.approx(1.0 / 3.0)
    assert fit.alpha == 1.0
    np.testing.assert_allclose(fit.predict(np.array([[3.0]])), [[10.0 / 3.0]])


def test_ridge_leave_one_out_error_equals_refitting_without_each_sample():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    Y = X @ rng.normal(size=(3, 2)) + 0.3 * rng.normal(size=(12, 2))
    a = 0.7
    fit = ridge_loo(X, Y, alphas=[a])
    errs = []
    for i in range(12):
        keep = np.arange(12) != i
        sub = ridge_loo(X[keep], Y[keep], alphas=[a])
        errs.append((Y[i] - sub.predict(X[i : i + 1])[0]) ** 2)
    assert fit.loo_error == pytest.approx(float(np.mean(errs)), rel=1e-10)


def test_ridge_picks_the_penalty_with_the_smallest_leave_one_out_error():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 5))
    y = X[:, 0] + 0.1 * rng.normal(size=30)
    grid = [1e-3, 1e3]
    fits = [ridge_loo(X, y, alphas=[a]) for a in grid]
    best = ridge_loo(X, y, alphas=grid)
    assert best.alpha == grid[int(np.argmin([f.loo_error for f in fits]))] == 1e-3
    with pytest.raises(HeteroError, match="at least 3 samples"):
        ridge_loo(X[:2], y[:2])


def test_logme_evidence_is_the_gaussian_marginal_likelihood_at_its_maximum():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(2)
    F = rng.normal(size=(25, 4))
    y = F @ np.array([1.0, -0.5, 0.0, 0.2]) + 0.4 * rng.normal(size=25)
    ev, alpha, beta = logme_evidence(F, y)
    cov = F @ F.T / alpha[0] + np.eye(25) / beta[0]
    exact = multivariate_normal(mean=np.zeros(25), cov=cov).logpdf(y) / 25
    assert ev == pytest.approx(exact, rel=1e-9)

    def evidence(a: float, b: float) -> float:
        c = F @ F.T / a + np.eye(25) / b
        return multivariate_normal(mean=np.zeros(25), cov=c).logpdf(y) / 25

    for fa, fb in ((1.05, 1), (0.95, 1), (1, 1.05), (1, 0.95)):  # a maximum in both
        assert evidence(alpha[0] * fa, beta[0] * fb) < ev


def test_logme_prefers_informative_features():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 3))
    y = target_matrix((z[:, 0] > 0).astype(int) + (z[:, 1] > 0), "cross_entropy", 3)
    good, _, _ = logme_evidence(standardize_features(z)[0], y - y.mean(0))
    bad, _, _ = logme_evidence(standardize_features(rng.normal(size=(200, 3)))[0], y - y.mean(0))
    assert good > bad


def test_target_matrix_and_standardisation():
    np.testing.assert_array_equal(
        target_matrix(np.array([2, 0]), "cross_entropy", 3), [[0, 0, 1], [1, 0, 0]]
    )
    np.testing.assert_array_equal(target_matrix(np.array([1, 0]), "binary_cross_entropy", 1),
                                  [[1.0], [0.0]])  # fmt: skip
    with pytest.raises(HeteroError, match=r"class ids must lie in \[0, 2\)"):
        target_matrix(np.array([2]), "cross_entropy", 2)
    tr, va = standardize_features(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(tr, [[-1.0, 0.0], [1.0, 0.0]])  # constant column centred only
    np.testing.assert_allclose(va, [[0.0, 1.0]])


def test_closed_form_scores_order_informative_and_useless_features():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(300, 4))
    labels = (z[:, 0] > 0).astype(int) + (z[:, 1] > 0.5)
    Y = target_matrix(labels, "cross_entropy", 3)
    noise = rng.normal(size=(300, 4))
    for mode in CLOSED_FORM_MODES:
        good, info = closed_form_score(mode, z[:200], Y[:200], z[200:], Y[200:])
        bad, _ = closed_form_score(mode, noise[:200], Y[:200], noise[200:], Y[200:])
        assert good < bad, mode
        assert all(math.isfinite(v) for v in info.values())
    bad, _ = closed_form_score("ridge", noise[:200], Y[:200], noise[200:], Y[200:])
    assert 0.95 < bad < 1.1  # features that carry nothing: about the variance of the target
    with pytest.raises(HeteroError, match="closed-form mode must be one of ridge, logme"):
        closed_form_score("lasso", z, Y, z, Y)


def test_closed_form_estimators_are_registered_with_a_self_baseline():
    for name in CLOSED_FORM_MODES:
        assert name in ESTIMATORS
        est = get_estimator(name)
        assert est.transfer_mode == name and est.baseline == "self" and est.score == "best"
        assert est.transfer_max_epochs is None
