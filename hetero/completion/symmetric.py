"""``symmetric``: our symmetric, hollow, non-negative low-rank completer."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from hetero.completion.base import Completer
from hetero.completion.registry import register_completer

__all__ = ["SymmetricCompleter"]


def _signature_eigh(Z: np.ndarray, n_pos: int, n_neg: int) -> tuple[np.ndarray, np.ndarray]:
    """The n_pos largest positive and n_neg most negative eigenpairs of symmetric Z.

    Eigenvalues of the wrong sign are set to 0, so that ``V diag(w) V^T`` is the nearest
    matrix (Frobenius) with at most n_pos positive and n_neg negative eigenvalues.
    """
    from scipy.linalg import eigh

    Z = 0.5 * (Z + Z.T)
    n = Z.shape[0]
    parts_w, parts_v = [], []
    if n_pos:
        w, v = eigh(Z, subset_by_index=[n - n_pos, n - 1])
        parts_w.append(np.maximum(w[::-1], 0.0))
        parts_v.append(v[:, ::-1])
    if n_neg:
        w, v = eigh(Z, subset_by_index=[0, n_neg - 1])
        parts_w.append(np.minimum(w, 0.0))
        parts_v.append(v)
    return np.concatenate(parts_w), np.concatenate(parts_v, axis=1)


@register_completer("symmetric")
class SymmetricCompleter(Completer):
    """Symmetric, hollow, non-negative rank-r completion (our own).

    Model ``X = U S U^T`` with ``U`` (n x r) and a symmetric, sign-indefinite core ``S``
    (r x r): distance matrices are hollow, so their trace is 0 and they always have both
    positive and negative eigenvalues. The loss is the squared error over the observed
    off-diagonal pairs (each unordered pair once; the mean of ``d_ij`` and ``d_ji`` when
    both are observed) and over the diagonal as observed zeros, plus ``nonneg_weight``
    times the squared negative part of every off-diagonal entry, plus a small ridge on the
    factors. It is minimised with L-BFGS from several starts, keeping the lowest loss
    (and stopping early once the observed entries are fitted to 0.1 % of their RMS):

    - a "lifted" start (``lift > 0``): the same fit at rank ``r + lift`` (over-
      parameterised fits rarely stop in poor local minima), projected back to rank r
      with each signature;
    - for each eigenvalue signature of ``S`` (``p`` positive, ``r - p`` negative), a
      start from ``n_warm`` sweeps of symmetric hard impute (fill the missing entries,
      project onto the rank-r matrices of that signature, refill).

    The result is symmetrised, clipped at 0 and given a zero diagonal; observed entries
    are put back unchanged by :meth:`Completer.fit_transform`.

    Parameters
    ----------
    rank : int or None
        Rank r; None selects it by held-out observed entries.
    seed : int, default=0
    n_init : int, default=1
        Starts per signature: the hard-impute one plus ``n_init - 1`` random
        perturbations of it.
    max_iter : int, default=2000
        L-BFGS iterations per start.
    ridge : float, default=1e-8
        Ridge penalty on the factors (the data are scaled to unit RMS first).
    nonneg_weight : float, default=1.0
        Weight of the penalty on negative entries.
    n_warm : int, default=50
        Hard-impute sweeps of each start.
    lift : int, default=1
        Extra rank of the lifted start; 0 disables it.

    Attributes
    ----------
    factors_ : tuple (U, S)
        Fitted factors of the last completion (``U S U^T`` before clipping).
    loss_ : float
        Final loss (on the unit-RMS scale).
    """

    name = "symmetric"
    max_auto_rank = 8

    def __init__(
        self,
        rank: int | None = None,
        seed: int = 0,
        n_init: int = 1,
        max_iter: int = 2000,
        ridge: float = 1e-8,
        nonneg_weight: float = 1.0,
        n_warm: int = 50,
        lift: int = 1,
    ):
        super().__init__(rank=rank, seed=seed)
        self.n_init = int(n_init)
        self.max_iter = int(max_iter)
        self.ridge = float(ridge)
        self.nonneg_weight = float(nonneg_weight)
        self.n_warm = int(n_warm)
        self.lift = int(lift)

    def _cv_clone(self, rank: int) -> Completer:
        # rank selection compares held-out errors; a looser optimisation is enough
        params = self.get_params()
        params.update(rank=rank, max_iter=min(self.max_iter, 300))
        return type(self)(**params)

    def _complete(self, X: np.ndarray, rank: int | None) -> np.ndarray:
        n = X.shape[0]
        if n == 1:
            return np.zeros((1, 1))
        r = int(min(rank or 1, n))
        obs = ~np.isnan(X)
        Xz = np.where(obs, X, 0.0)
        cnt = obs.astype(float) + obs.T
        W = (cnt > 0).astype(float)
        D = np.where(cnt > 0, (Xz + Xz.T) / np.maximum(cnt, 1), 0.0)
        np.fill_diagonal(D, 0.0)
        np.fill_diagonal(W, 1.0)  # the zero diagonal is an observed constraint
        scale = float(np.sqrt((D[W > 0] ** 2).mean())) or 1.0
        D = D / scale
        rng = np.random.default_rng(self.seed)
        # The products are small (n x r): BLAS threads only add overhead, and on a busy
        # machine they make each L-BFGS step tens of times slower.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            loss, U, S = self._fit(D, W, r, rng, lift=self.lift)
        Y = U @ S @ U.T * scale
        Y = 0.5 * (Y + Y.T)
        Y = np.maximum(Y, 0.0)
        np.fill_diagonal(Y, 0.0)
        self.factors_ = (U * math.sqrt(scale), S)
        self.loss_ = loss
        return Y

    def _fit(
        self, D: np.ndarray, W: np.ndarray, r: int, rng: np.random.Generator, lift: int
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Best (loss, U, S) at rank r over all starts."""
        from scipy.optimize import minimize

        n = D.shape[0]
        offdiag = 1.0 - np.eye(n)
        iu = np.triu_indices(r)
        pair_weight = np.where(iu[0] == iu[1], 1.0, 2.0)

        def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            U = theta[: n * r].reshape(n, r)
            S = np.zeros((r, r))
            S[iu] = theta[n * r :]
            return U, S + np.triu(S, 1).T

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            U, S = unpack(theta)
            US = U @ S
            Y = US @ U.T
            R = W * (Y - D)
            neg = self.nonneg_weight * offdiag * np.minimum(Y, 0.0)
            G = R + neg  # d loss / d Y, symmetric
            f = 0.5 * (np.sum(R * R) + np.sum(neg * np.minimum(Y, 0.0)))
            f += 0.5 * self.ridge * (np.sum(U * U) + np.sum(S * S))
            gU = 2.0 * G @ US + self.ridge * U
            gS = (U.T @ G @ U)[iu] * pair_weight + self.ridge * S[iu] * pair_weight
            return f, np.concatenate([gU.ravel(), gS])

        def hard_impute(Z: np.ndarray, n_pos: int, sweeps: int) -> tuple[np.ndarray, np.ndarray]:
            for _ in range(sweeps + 1):
                evals, evecs = _signature_eigh(Z, n_pos, r - n_pos)
                Z = np.where(W > 0, D, (evecs * evals[None, :]) @ evecs.T)
            U0 = evecs * np.sqrt(np.abs(evals))[None, :]
            return U0, np.diag(np.where(np.arange(r) < n_pos, 1.0, -1.0))

        def starts() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            signatures = list(range(1, r)) if r > 1 else [1]
            if lift > 0 and r + lift < n:
                _, Ul, Sl = self._fit(D, W, r + lift, rng, lift=0)
                Yl = Ul @ Sl @ Ul.T
                for n_pos in signatures:
                    yield hard_impute(np.where(W > 0, D, Yl), n_pos, 0)
            observed_off = (W > 0) & (offdiag > 0)
            Z0 = np.where(W > 0, D, D[observed_off].mean() if observed_off.any() else 0.0)
            np.fill_diagonal(Z0, 0.0)
            for n_pos in signatures:
                U0, S0 = hard_impute(Z0, n_pos, self.n_warm)
                yield U0, S0
                for _ in range(self.n_init - 1):
                    noise = 0.3 * (np.abs(U0).mean() + 1e-3) * rng.standard_normal(U0.shape)
                    yield U0 + noise, S0

        # A fit whose RMS residual on the observed entries is below 0.1 % of the data RMS
        # (the data have unit RMS) is exact for all purposes: skip the remaining starts.
        good_enough = 0.5 * 1e-6 * float(W.sum())
        best: tuple[float, np.ndarray] | None = None
        for U0, S0 in starts():
            res = minimize(
                loss,
                np.concatenate([U0.ravel(), S0[iu]]),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": self.max_iter, "ftol": 1e-11, "gtol": 1e-8},
            )
            if best is None or res.fun < best[0]:
                best = (float(res.fun), res.x)
            if best[0] <= good_enough:
                break
        assert best is not None
        U, S = unpack(best[1])
        return best[0], U, S
