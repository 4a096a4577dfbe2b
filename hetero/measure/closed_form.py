"""Closed-form probes of a frozen body's features: ridge regression and LogME evidence.

The ``ridge`` and ``logme`` estimators (:mod:`hetero.measure.estimators`) score a transfer
``i -> j`` by a probe fitted *in closed form* on the features that the source's frozen
encoder computes from the target's inputs, instead of a probe trained by SGD: no epoch
cap, no learning rate, no batch order, so the only noise left is that of the bodies
themselves (their training seeds). A learner that supports these modes computes the
features (the HighMMT probe: the encoder's representation before the head) and calls the
functions below; they need numpy only.

``ridge``
    Ridge regression of the targets (one column per class for a classification task, the
    target columns otherwise) on the standardised training features; the penalty is chosen
    from a fixed grid by the exact leave-one-out error on the training split
    (:func:`ridge_loo`). Score: the validation *relative squared error*
    ``sum ||Y - Y_hat||^2 / sum ||Y - mean_train(Y)||^2`` (0 perfect, about 1 for features
    that carry nothing, above 1 for features that mislead).
``logme``
    The log marginal likelihood (evidence) of the targets under Bayesian linear regression
    on the standardised training features, maximised over the prior precision ``alpha``
    and the noise precision ``beta`` (You et al., *LogME*, ICML 2021): per sample and
    target column, negated so that lower is better like a loss (:func:`logme_evidence`).
    It reads the training split only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hetero.errors import HeteroError

__all__ = [
    "CLOSED_FORM_MODES",
    "LOGME",
    "RIDGE",
    "RidgeFit",
    "closed_form_score",
    "logme_evidence",
    "ridge_loo",
    "standardize_features",
    "target_matrix",
]

#: Transfer mode of the ``ridge`` estimator (a learner's ``fit(..., mode=RIDGE)``).
RIDGE = "ridge"
#: Transfer mode of the ``logme`` estimator.
LOGME = "logme"
#: Modes scored by a closed-form probe on the frozen source encoder's features.
CLOSED_FORM_MODES: tuple[str, ...] = (RIDGE, LOGME)

#: Ridge penalties tried, relative to the largest squared singular value of the features.
RIDGE_GRID = np.logspace(-6, 2, 33)


def standardize_features(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Centre and scale every column by the training split's mean and standard deviation
    (constant columns are only centred); returns ``[train, *others]`` transformed."""
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return [(np.asarray(a, dtype=np.float64) - mean) / std for a in (train, *others)]


def target_matrix(y: np.ndarray, loss: str, n_outputs: int) -> np.ndarray:
    """Targets as an ``(n, k)`` float matrix: one-hot columns for ``cross_entropy``, the
    target columns for every other loss."""
    y = np.asarray(y)
    if loss == "cross_entropy":
        labels = y.astype(np.int64).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= n_outputs):
            raise HeteroError(f"class ids must lie in [0, {n_outputs}), got {labels.max()}")
        out = np.zeros((labels.size, int(n_outputs)))
        out[np.arange(labels.size), labels] = 1.0
        return out
    return y.astype(np.float64).reshape(y.shape[0], -1)


@dataclass
class RidgeFit:
    """A ridge regression fitted by :func:`ridge_loo`.

    Attributes
    ----------
    coef : ndarray (p, k)
        Weights on the (already standardised) features.
    intercept : ndarray (k,)
        Unpenalised intercept (the training mean of the targets).
    alpha : float
        Chosen penalty.
    loo_error : float
        Mean squared leave-one-out residual at ``alpha`` (per sample and column).
    """

    coef: np.ndarray
    intercept: np.ndarray
    alpha: float
    loo_error: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept


def ridge_loo(X: np.ndarray, Y: np.ndarray, alphas: np.ndarray | None = None) -> RidgeFit:
    """Ridge regression with an unpenalised intercept, penalty chosen by exact leave-one-out.

    For each penalty ``a`` the leave-one-out residual of sample ``i`` is
    ``(y_i - yhat_i) / (1 - h_ii)`` with ``h_ii`` the diagonal of the hat matrix
    ``1/n + U diag(s^2 / (s^2 + a)) U^T`` (``X - mean = U S V^T``): the residual of the fit
    without sample ``i``, computed from one SVD.

    Parameters
    ----------
    X : ndarray (n, p)
    Y : ndarray (n, k) or (n,)
    alphas : ndarray, optional
        Penalties to try (absolute). Default: :data:`RIDGE_GRID` times the largest squared
        singular value of the centred ``X``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    n = X.shape[0]
    if n < 3 or Y.shape[0] != n:
        raise HeteroError(f"ridge needs at least 3 samples and one target row each, got {n}")
    xm, ym = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - xm, Y - ym
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    s2 = s**2
    if alphas is None:
        alphas = RIDGE_GRID * max(float(s2.max()) if s2.size else 1.0, 1e-12)
    UtY = U.T @ Yc
    best: tuple[float, float] | None = None
    for a in np.asarray(alphas, dtype=np.float64):
        shrink = s2 / (s2 + a)
        fitted = U @ (shrink[:, None] * UtY)
        h = 1.0 / n + (U**2) @ shrink
        loo = (Yc - fitted) / np.maximum(1.0 - h, 1e-12)[:, None]
        err = float(np.mean(loo**2))
        if best is None or err < best[1]:
            best = (float(a), err)
    assert best is not None
    a = best[0]
    coef = Vt.T @ ((s / (s2 + a))[:, None] * UtY)
    return RidgeFit(coef=coef, intercept=ym - xm @ coef, alpha=a, loo_error=best[1])


def logme_evidence(
    F: np.ndarray, Y: np.ndarray, *, max_iter: int = 100, tol: float = 1e-6
) -> tuple[float, np.ndarray, np.ndarray]:
    """LogME: maximum log evidence of Bayesian linear regression, per sample and column.

    For each target column ``y`` the model is ``y = F w + e``, ``w ~ N(0, I/alpha)``,
    ``e ~ N(0, I/beta)``; the evidence ``log p(y | F, alpha, beta)`` is maximised by the
    fixed-point iteration of MacKay (``gamma = sum beta s_i^2 / (alpha + beta s_i^2)``,
    ``alpha = gamma / |m|^2``, ``beta = (n - gamma) / |y - F m|^2``) from one SVD of ``F``.

    Returns
    -------
    evidence : float
        Mean over columns of the maximised log evidence divided by ``n``.
    alpha, beta : ndarray (k,)
        The maximising precisions per column.
    """
    F = np.asarray(F, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    n, p = F.shape
    if n < 2 or Y.shape[0] != n:
        raise HeteroError(f"LogME needs at least 2 samples and one target row each, got {n}")
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    s2 = s**2
    alphas, betas, evidences = [], [], []
    for y in Y.T:
        z = U.T @ y  # coordinates of y in the column space of F
        resid_out = max(float(y @ y - z @ z), 0.0)  # part of |y|^2 outside that space
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            t = beta * s2 / (alpha + beta * s2)
            gamma = float(t.sum())
            m2 = float(np.sum((beta * s * z / (alpha + beta * s2)) ** 2))
            res2 = float(np.sum((alpha * z / (alpha + beta * s2)) ** 2)) + resid_out
            new_alpha = gamma / max(m2, 1e-12)
            new_beta = (n - gamma) / max(res2, 1e-12)
            done = abs(new_alpha - alpha) / alpha < tol and abs(new_beta - beta) / beta < tol
            alpha, beta = new_alpha, new_beta
            if done:
                break
        alphas.append(alpha)
        betas.append(beta)
        evidences.append(_log_evidence(s2, z, resid_out, n, p, alpha, beta) / n)
    return float(np.mean(evidences)), np.array(alphas), np.array(betas)


def _log_evidence(
    s2: np.ndarray, z: np.ndarray, resid_out: float, n: int, p: int, alpha: float, beta: float
) -> float:
    """``log N(y; 0, F F^T / alpha + I / beta)`` from the SVD coordinates of ``y``."""
    # eigenvalues of the covariance: s2/alpha + 1/beta in the column space of F, 1/beta in
    # the remaining n - rank directions
    lam = s2 / alpha + 1.0 / beta
    quad = float(np.sum(z**2 / lam)) + beta * resid_out
    logdet = float(np.sum(np.log(lam))) + (n - s2.size) * math.log(1.0 / beta)
    return -0.5 * (n * math.log(2 * math.pi) + logdet + quad)


def closed_form_score(
    mode: str,
    train_features: np.ndarray,
    train_targets: np.ndarray,
    val_features: np.ndarray,
    val_targets: np.ndarray,
) -> tuple[float, dict[str, float]]:
    """Score of a closed-form probe (lower is better) and details for the run record.

    Parameters
    ----------
    mode : {"ridge", "logme"}
    train_features, val_features : ndarray (n, p)
        Raw features (standardised here with the training statistics).
    train_targets, val_targets : ndarray (n, k)
        From :func:`target_matrix`.
    """
    ftr, fva = standardize_features(train_features, val_features)
    if mode == RIDGE:
        fit = ridge_loo(ftr, train_targets)
        pred = fit.predict(fva)
        total = float(np.sum((val_targets - fit.intercept) ** 2))
        score = float(np.sum((val_targets - pred) ** 2)) / max(total, 1e-12)
        return score, {"ridge_alpha": fit.alpha, "ridge_loo_error": fit.loo_error}
    if mode == LOGME:
        yc = train_targets - train_targets.mean(axis=0)
        evidence, alpha, beta = logme_evidence(ftr, yc)
        return -evidence, {
            "logme_alpha": float(np.mean(alpha)),
            "logme_beta": float(np.mean(beta)),
        }
    raise HeteroError(
        f"closed-form mode must be one of {', '.join(CLOSED_FORM_MODES)}, got {mode!r}"
    )
