"""``additive``: per-unit main effects plus a symmetric low-rank residual.

Measured distance matrices are mostly ``d_ij = a_i + a_j``: one number per unit ("far from
everything") explains 60-99.7 % of their variance (docs/results.md, experiments 2 and 3).
A hollow additive matrix has full rank, so the ``symmetric`` completer (low rank with the
zero diagonal as data) cannot represent it and fills hidden entries of real matrices worse
than the additive fit alone. This model adds the main effects explicitly and leaves the
diagonal free (it is set to 0 afterwards):

    d_ij = a_i + a_j + (U S U^T)_ij    (i != j)

with ``U`` (n x r) and a symmetric, sign-indefinite core ``S``; rank 0 is the main-effects
model alone. A hollow low-rank matrix is the special case ``a = 0`` (its diagonal is then
simply not fitted), so nothing representable by ``symmetric`` is lost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hetero.completion.base import Completer
from hetero.completion.registry import register_completer
from hetero.completion.symmetric import _signature_eigh

__all__ = ["AdditiveCompleter", "AutoCompleter", "fit_main_effects"]


def fit_main_effects(D: np.ndarray, W: np.ndarray, ridge: float = 1e-8) -> np.ndarray:
    """Least-squares ``a`` of ``D_ij ~ a_i + a_j`` over the pairs ``i < j`` with ``W > 0``."""
    n = D.shape[0]
    i, j = np.nonzero(np.triu(W > 0, k=1))
    X = np.zeros((len(i), n))
    X[np.arange(len(i)), i] = 1.0
    X[np.arange(len(i)), j] = 1.0
    # a tiny ridge keeps units without observed pairs at 0 instead of undetermined
    A = X.T @ X + ridge * np.eye(n)
    return np.linalg.solve(A, X.T @ D[i, j])


@register_completer("additive")
class AdditiveCompleter(Completer):
    """Main effects plus a symmetric rank-r residual (see the module docstring).

    The loss is the squared error over the observed off-diagonal pairs (each unordered
    pair once; the mean of ``d_ij`` and ``d_ji`` when both are observed) plus a small ridge
    on the residual's factors, minimised with L-BFGS from one start per eigenvalue
    signature of ``S`` (main effects by least squares, then ``n_warm`` sweeps of
    symmetric hard impute on the residual). The result is symmetrised, clipped at 0 and
    given a zero diagonal; observed entries are put back unchanged.

    Parameters
    ----------
    rank : int or None
        Rank r of the residual (0: main effects only); None selects it by held-out
        observed entries among 0 to :attr:`max_auto_rank`.
    seed : int, default=0
    max_iter : int, default=1000
        L-BFGS iterations per start.
    ridge : float, default=1e-2
        Ridge penalty on the residual's factors (the data are scaled to unit RMS first).
        With the diagonal free, rows with few observed pairs leave the factors loosely
        tied; at 1e-6 a rank-1 fit of a real matrix extrapolated hidden entries to 7 times
        their size, while 1e-2 costs nothing measurable on exactly low-rank matrices.
    n_warm : int, default=30
        Hard-impute sweeps of each start.

    Attributes
    ----------
    main_effects_ : ndarray (n,)
        Fitted ``a`` of the last completion.
    factors_ : tuple (U, S) or None
        Fitted residual factors (None at rank 0).
    """

    name = "additive"
    min_rank = 0
    max_auto_rank = 6

    def __init__(
        self,
        rank: int | None = None,
        seed: int = 0,
        max_iter: int = 1000,
        ridge: float = 1e-2,
        n_warm: int = 30,
    ):
        super().__init__(rank=rank, seed=seed)
        self.max_iter = int(max_iter)
        self.ridge = float(ridge)
        self.n_warm = int(n_warm)

    def _complete(self, X: np.ndarray, rank: int | None) -> np.ndarray:
        n = X.shape[0]
        obs = ~np.isnan(X)
        Xz = np.where(obs, X, 0.0)
        cnt = obs.astype(float) + obs.T
        W = (cnt > 0).astype(float)
        np.fill_diagonal(W, 0.0)  # the diagonal is not data here
        D = np.where(W > 0, (Xz + Xz.T) / np.maximum(cnt, 1), 0.0)
        scale = float(np.sqrt((D[W > 0] ** 2).mean())) if (W > 0).any() else 1.0
        scale = scale or 1.0
        D = D / scale
        a = fit_main_effects(D, W)
        r = int(min(rank or 0, max(n - 2, 0)))
        self.factors_ = None
        if r > 0:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1, user_api="blas"):
                a, U, S = self._fit(D, W, a, r)
            R = U @ S @ U.T
            self.factors_ = (U * np.sqrt(scale), S)
        else:
            R = 0.0
        Y = (a[:, None] + a[None, :] + R) * scale
        Y = np.maximum(0.5 * (Y + Y.T), 0.0)
        np.fill_diagonal(Y, 0.0)
        self.main_effects_ = a * scale
        return Y

    def _fit(
        self, D: np.ndarray, W: np.ndarray, a0: np.ndarray, r: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best ``(a, U, S)`` at rank r over one start per eigenvalue signature."""
        from scipy.optimize import minimize

        n = D.shape[0]
        iu = np.triu_indices(r)
        pair_weight = np.where(iu[0] == iu[1], 1.0, 2.0)

        def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            a = theta[:n]
            U = theta[n : n + n * r].reshape(n, r)
            S = np.zeros((r, r))
            S[iu] = theta[n + n * r :]
            return a, U, S + np.triu(S, 1).T

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            a, U, S = unpack(theta)
            US = U @ S
            R = W * (a[:, None] + a[None, :] + US @ U.T - D)  # symmetric residual
            f = 0.5 * float(np.sum(R * R)) + 0.5 * self.ridge * (np.sum(U * U) + np.sum(S * S))
            ga = 2.0 * R.sum(axis=1)
            gU = 2.0 * R @ US + self.ridge * U
            gS = (U.T @ R @ U)[iu] * pair_weight + self.ridge * S[iu] * pair_weight
            return f, np.concatenate([ga, gU.ravel(), gS])

        resid = np.where(W > 0, D - a0[:, None] - a0[None, :], 0.0)
        best: tuple[float, np.ndarray] | None = None
        for n_pos in range(r, -1, -1):  # residuals may have either sign
            Z = resid.copy()
            for _ in range(self.n_warm + 1):  # symmetric hard impute, diagonal free
                w, V = _signature_eigh(Z, n_pos, r - n_pos)
                low = (V * w[None, :]) @ V.T
                Z = np.where(W > 0, resid, low)
            U0 = V * np.sqrt(np.abs(w))[None, :]
            S0 = np.diag(np.where(np.arange(r) < n_pos, 1.0, -1.0))
            theta0 = np.concatenate([a0, U0.ravel(), S0[iu]])
            res = minimize(loss, theta0, jac=True, method="L-BFGS-B",
                           options={"maxiter": self.max_iter})  # fmt: skip
            if best is None or res.fun < best[0]:
                best = (float(res.fun), res.x)
        assert best is not None
        return unpack(best[1])


@register_completer("auto")
class AutoCompleter(Completer):
    """The better of ``symmetric`` and ``additive`` on held-out observed entries.

    Each candidate chooses its rank by :func:`~hetero.completion.base.select_rank`; the
    candidate whose chosen rank has the smaller median held-out RMSE completes the matrix
    (``symmetric`` on a tie). Neither model wins everywhere: ``additive`` fills matrices
    dominated by per-unit main effects far better, ``symmetric`` hollow low-rank ones
    (docs/concepts.md, completion).

    Attributes
    ----------
    chosen_ : str
        Name of the completer used by the last :meth:`fit_transform`.
    scores_ : dict of str to float
        Held-out RMSE of each candidate at its chosen rank.
    """

    name = "auto"
    candidates: tuple[str, ...] = ("symmetric", "additive")

    def fit_transform(self, X: Any) -> np.ndarray:
        from hetero.completion.base import _check_input, select_rank
        from hetero.completion.registry import get_completer

        X = _check_input(X)
        fitted: dict[str, tuple[float, Completer, int]] = {}
        for name in self.candidates:
            comp = get_completer(name, rank=self.rank, seed=self.seed)
            scores: dict[int, float] = {}
            if comp.rank is not None:
                rank = comp.rank
            else:
                rank, scores = select_rank(comp, X, seed=self.seed)
            fitted[name] = (scores.get(rank, np.inf) if scores else np.inf, comp, rank)
        self.scores_ = {k: float(v[0]) for k, v in fitted.items()}
        name = min(self.candidates, key=lambda k: (fitted[k][0], self.candidates.index(k)))
        _, comp, rank = fitted[name]
        self.chosen_ = name
        out = comp._with_rank(rank).fit_transform(X) if rank is not None else comp.fit_transform(X)
        self.rank_ = rank
        self.rank_scores_ = None
        return out
