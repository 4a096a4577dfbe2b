"""Low-rank completion of partially measured heterogeneity matrices.

Measuring every ordered pair costs ``M (M - 1)`` transfer runs; heterogeneity matrices are
close to low rank (HighMMT appendix A.2: the top 3 singular values explain >= 97 % of the
variance), so a sampled subset of entries plus a low-rank completion recovers the rest.

All completers share one interface, :class:`Completer`: ``fit_transform(X)`` takes a square
array with NaN for missing entries and returns a full array in which every observed entry
is kept as given. Backends:

``symmetric`` (:class:`SymmetricCompleter`, ours, the default)
    Fits ``X = U S U^T`` (``U`` of shape (n, r), ``S`` symmetric r x r, sign-indefinite:
    distance matrices are not positive semi-definite) to the observed entries, with the
    zero diagonal treated as observed, a penalty on negative entries, and L-BFGS on the
    factors. Output is symmetric, hollow and non-negative.
``softimpute``, ``iterativesvd``, ``matrixfactorization``, ``nuclearnorm``
    fancyimpute 0.7.0 solvers (imported lazily: the package is slow to import). They
    ignore symmetry, the zero diagonal and non-negativity. ``nuclearnorm`` solves a convex
    program with cvxpy and is only practical for small matrices (M up to about 50).

When ``rank`` is None it is chosen by held-out observed entries (:func:`select_rank`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np

from hetero.errors import HeteroError, MatrixFormatError
from hetero.matrix import HeterogeneityMatrix

__all__ = [
    "Completer",
    "FancyImputeCompleter",
    "IterativeSVDCompleter",
    "MatrixFactorizationCompleter",
    "NuclearNormCompleter",
    "SoftImputeCompleter",
    "SymmetricCompleter",
    "complete_matrix",
    "get_completer",
    "list_completers",
    "select_rank",
    "singular_spectrum",
]


def _check_input(X: Any) -> np.ndarray:
    X = np.array(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != X.shape[1]:
        raise MatrixFormatError(f"completion: expected a square matrix, got shape {X.shape}")
    if np.isinf(X).any():
        raise MatrixFormatError("completion: expected finite values or NaN, found inf")
    if X.shape[0] > 1 and not (~np.isnan(X) & ~np.eye(X.shape[0], dtype=bool)).any():
        raise MatrixFormatError("completion: no observed off-diagonal entry to complete from")
    return X


class Completer:
    """Base class: fill the NaN entries of a square matrix, keeping the observed ones.

    Subclasses implement :meth:`_complete`; :meth:`fit_transform` validates the input,
    calls it and copies the observed entries back.

    Parameters
    ----------
    rank : int or None
        Target rank; None chooses it by held-out observed entries (where supported).
    seed : int, default=0
        Seed of every random choice (initialisation, rank-selection folds).

    Attributes
    ----------
    rank_ : int or None
        Rank used by the last :meth:`fit_transform`.
    rank_scores_ : dict[int, float] or None
        Held-out RMSE per candidate rank when the rank was chosen automatically.
    """

    name: ClassVar[str] = ""
    supports_rank: ClassVar[bool] = True
    max_auto_rank: ClassVar[int] = 8

    def __init__(self, rank: int | None = None, seed: int = 0):
        if rank is not None and (not isinstance(rank, (int, np.integer)) or rank < 1):
            raise HeteroError(f"rank: expected a positive integer or None, got {rank!r}")
        self.rank = None if rank is None else int(rank)
        self.seed = int(seed)

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (used to clone the completer for rank selection)."""
        import inspect

        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self" and hasattr(self, k)}

    def _with_rank(self, rank: int) -> Completer:
        params = self.get_params()
        params["rank"] = rank
        return type(self)(**params)

    def _cv_clone(self, rank: int) -> Completer:
        """The completer used for held-out rank selection (may be cheaper)."""
        return self._with_rank(rank)

    def fit_transform(self, X: Any) -> np.ndarray:
        """Complete ``X`` (NaN = missing); observed entries are returned unchanged.

        Parameters
        ----------
        X : array-like of shape (n, n)

        Returns
        -------
        ndarray of shape (n, n) without NaN.
        """
        X = _check_input(X)
        obs = ~np.isnan(X)
        self.rank_scores_: dict[int, float] | None = None
        if obs.all():
            self.rank_ = self.rank
            return X.copy()
        rank = self.rank if self.supports_rank else None  # e.g. nuclear norm: no rank
        if rank is None and self.supports_rank:
            rank, self.rank_scores_ = select_rank(self, X, seed=self.seed)
        self.rank_ = rank
        out = self._complete(X, rank)
        out = np.asarray(out, dtype=float)
        out[obs] = X[obs]
        if not np.isfinite(out).all():
            raise HeteroError(
                f"completion with {self.name!r} produced non-finite values;"
                " try another --method or a smaller rank"
            )
        return out

    def _complete(self, X: np.ndarray, rank: int | None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


# ---------------------------------------------------------------------------- ours
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
        clone = self._with_rank(rank)
        clone.max_iter = min(self.max_iter, 300)
        return clone

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


# ---------------------------------------------------------------------------- fancyimpute
class FancyImputeCompleter(Completer):
    """Adapter around a fancyimpute solver (imported lazily).

    fancyimpute 0.7.0 draws from numpy's global random state; the adapter seeds it with
    ``seed`` for the call and restores the previous state afterwards, so results are
    reproducible without side effects. Data are scaled to unit RMS for the solver (its
    tolerances and learning rates are absolute) and scaled back. Its ``force_all_finite`` FutureWarning (scikit-learn
    1.6/1.7) is silenced inside the call.
    """

    def _solver(self, rank: int | None, n: int) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _complete(self, X: np.ndarray, rank: int | None) -> np.ndarray:
        n = X.shape[0]
        if rank is not None:
            rank = int(min(rank, max(1, n - 1)))
        solver = self._solver(rank, n)
        # unit RMS scale: the solvers' tolerances and step sizes are absolute
        scale = float(np.sqrt(np.nanmean(X**2))) or 1.0
        # fancyimpute draws from the legacy global RNG; seed it for this call only
        state = np.random.get_state()  # noqa: NPY002
        np.random.seed(self.seed)  # noqa: NPY002
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*force_all_finite.*")
                warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")
                out = solver.fit_transform(X / scale) * scale
        except Exception as exc:  # a third-party solver failing (cvxpy SolverError, ...)
            raise HeteroError(
                f"completion method {self.name!r} failed: {' '.join(str(exc).split())}"
            ) from None
        finally:
            np.random.set_state(state)  # noqa: NPY002
        return np.asarray(out, dtype=float)


def _fancyimpute() -> Any:
    try:
        import fancyimpute
    except ImportError as exc:  # pragma: no cover - a required dependency
        raise HeteroError(
            f"fancyimpute is not importable ({exc}); install hetero's dependencies"
        ) from None
    return fancyimpute


class SoftImputeCompleter(FancyImputeCompleter):
    """fancyimpute ``SoftImpute`` (nuclear-norm shrinkage); ``rank`` caps the SVD rank."""

    name = "softimpute"

    def __init__(self, rank: int | None = None, seed: int = 0, max_iters: int = 100):
        super().__init__(rank=rank, seed=seed)
        self.max_iters = int(max_iters)

    def _solver(self, rank: int | None, n: int) -> Any:
        return _fancyimpute().SoftImpute(max_rank=rank, max_iters=self.max_iters, verbose=False)


class IterativeSVDCompleter(FancyImputeCompleter):
    """fancyimpute ``IterativeSVD`` (hard impute with a rank-r truncated SVD)."""

    name = "iterativesvd"

    def __init__(self, rank: int | None = None, seed: int = 0, max_iters: int = 200):
        super().__init__(rank=rank, seed=seed)
        self.max_iters = int(max_iters)

    def _solver(self, rank: int | None, n: int) -> Any:
        return _fancyimpute().IterativeSVD(
            rank=rank or 3, max_iters=self.max_iters, svd_algorithm="randomized", verbose=False
        )


class MatrixFactorizationCompleter(FancyImputeCompleter):
    """fancyimpute ``MatrixFactorization`` (biased factorisation fitted by SGD).

    Defaults (100 epochs, learning rate 0.05) suit the unit-RMS scaling of the adapter;
    fancyimpute's own (50, 0.01) underfit. Pure-Python SGD: slow for large matrices.
    """

    name = "matrixfactorization"

    def __init__(
        self,
        rank: int | None = None,
        seed: int = 0,
        max_iters: int = 100,
        learning_rate: float = 0.05,
    ):
        super().__init__(rank=rank, seed=seed)
        self.max_iters = int(max_iters)
        self.learning_rate = float(learning_rate)

    def _solver(self, rank: int | None, n: int) -> Any:
        return _fancyimpute().MatrixFactorization(
            rank=rank or 3,
            max_iters=self.max_iters,
            learning_rate=self.learning_rate,
            verbose=False,
        )


class NuclearNormCompleter(FancyImputeCompleter):
    """fancyimpute ``NuclearNormMinimization`` (convex, cvxpy); no rank parameter.

    fancyimpute's problem (minimise the nuclear norm subject to matching the observed
    entries within ``error_tolerance``, optionally symmetric) solved with a selectable
    cvxpy solver: fancyimpute hard-codes CVXOPT, which fails on many hollow distance
    matrices, so the default here is SCS. The problem has ``O(n^2)`` variables and a
    semidefinite cone: practical up to about M = 50.
    """

    name = "nuclearnorm"
    supports_rank = False

    def __init__(
        self,
        rank: int | None = None,
        seed: int = 0,
        symmetric: bool = True,
        solver: str = "SCS",
        error_tolerance: float = 1e-4,
    ):
        super().__init__(rank=rank, seed=seed)
        self.symmetric = bool(symmetric)
        self.solver = str(solver)
        self.error_tolerance = float(error_tolerance)

    def _solver(self, rank: int | None, n: int) -> Any:
        import cvxpy

        base = _fancyimpute().NuclearNormMinimization
        solver_name = self.solver.upper()
        if solver_name not in cvxpy.installed_solvers():
            raise HeteroError(
                f"nuclearnorm: cvxpy solver {self.solver!r} is not installed"
                f" (installed: {', '.join(cvxpy.installed_solvers())})"
            )

        class _Solver(base):  # fancyimpute's objective and constraints, our solver choice
            def solve(self, X: np.ndarray, missing_mask: np.ndarray) -> np.ndarray:
                S, objective = self._create_objective(*X.shape)
                constraints = self._constraints(
                    X=X, missing_mask=missing_mask, S=S, error_tolerance=self.error_tolerance
                )
                cvxpy.Problem(objective, constraints).solve(solver=solver_name)
                if S.value is None:
                    raise ArithmeticError(f"cvxpy solver {solver_name} found no solution")
                return np.asarray(S.value)

        return _Solver(
            require_symmetric_solution=self.symmetric,
            error_tolerance=self.error_tolerance,
            verbose=False,
        )


# ---------------------------------------------------------------------------- registry
_REGISTRY: dict[str, Callable[..., Completer]] = {
    "symmetric": SymmetricCompleter,
    "softimpute": SoftImputeCompleter,
    "iterativesvd": IterativeSVDCompleter,
    "matrixfactorization": MatrixFactorizationCompleter,
    "nuclearnorm": NuclearNormCompleter,
}


def list_completers() -> list[str]:
    """Names accepted by :func:`get_completer`."""
    return list(_REGISTRY)


def get_completer(name: str, **params: Any) -> Completer:
    """Create a completer by name (case and ``-``/``_`` insensitive).

    Raises
    ------
    HeteroError
        Unknown name (the message lists the valid ones) or bad parameters.
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in _REGISTRY:
        raise HeteroError(
            f"unknown completion method {name!r} (expected one of {', '.join(_REGISTRY)})"
        )
    try:
        return _REGISTRY[key](**params)
    except TypeError as exc:
        raise HeteroError(f"completion method {name!r}: {exc}") from None


# ---------------------------------------------------------------------------- helpers
def select_rank(
    completer: Completer,
    X: np.ndarray,
    *,
    ranks: list[int] | None = None,
    n_folds: int = 3,
    holdout: float = 0.15,
    tolerance: float = 0.05,
    seed: int = 0,
) -> tuple[int, dict[int, float]]:
    """Choose a rank by completing with observed entries held out.

    Each fold hides a random ``holdout`` fraction of the observed off-diagonal unordered
    pairs (both directions; a pair is only hidden while both its rows keep more than
    ``max(ranks) + 1`` observed entries), completes with each candidate rank and records the RMSE on the
    hidden entries. The chosen rank is the smallest whose median RMSE over folds is within
    ``tolerance`` (relative, plus 0.1 % of the data's RMS) of the best one, which prefers simple models when several
    ranks fit equally well.

    Returns
    -------
    rank : int
    scores : dict[int, float]
        Mean held-out RMSE per candidate rank.
    """
    n = X.shape[0]
    obs = ~np.isnan(X)
    pair = np.triu(obs | obs.T, k=1)
    pi, pj = np.nonzero(pair)
    n_pairs = len(pi)
    if ranks is None:
        # a rank-r symmetric model has about n r parameters; keep it below the data size
        limit = max(1, min(type(completer).max_auto_rank, n - 1, n_pairs // max(n, 1)))
        ranks = list(range(1, limit + 1))
    n_hide = round(holdout * n_pairs)
    if len(ranks) == 1 or n_hide < 1:
        return int(ranks[0]), {}
    rng = np.random.default_rng(seed)
    errors = {r: [] for r in ranks}
    offdiag_obs = (obs | obs.T) & ~np.eye(n, dtype=bool)
    min_keep = max(ranks) + 1
    for _ in range(n_folds):
        # hide random pairs, but never below min_keep observed entries in a row: a row with
        # fewer than r entries is undetermined at rank r whatever the rank
        left = offdiag_obs.sum(axis=1)
        hide_list = []
        for t in rng.permutation(n_pairs):
            a, b = pi[t], pj[t]
            if left[a] > min_keep and left[b] > min_keep:
                hide_list.append(t)
                left[a] -= 1
                left[b] -= 1
                if len(hide_list) == n_hide:
                    break
        if not hide_list:
            break
        hide = np.array(hide_list)
        Xtr = X.copy()
        hi, hj = pi[hide], pj[hide]
        Xtr[hi, hj] = np.nan
        Xtr[hj, hi] = np.nan
        truth_mask = np.zeros_like(obs)
        truth_mask[hi, hj] = obs[hi, hj]
        truth_mask[hj, hi] = obs[hj, hi]
        for r in ranks:
            est = completer._cv_clone(r)
            try:
                pred = est._complete(Xtr, r)
            except HeteroError:
                errors[r].append(math.inf)
                continue
            err = pred[truth_mask] - X[truth_mask]
            errors[r].append(float(np.sqrt(np.mean(err**2))))
    if not errors[ranks[0]]:  # rows too sparse to hold anything out
        return int(ranks[-1] if len(ranks) < 4 else ranks[2]), {}
    scores = {r: float(np.median(v)) for r, v in errors.items()}
    best = min(scores.values())
    # errors below 0.1 % of the data's RMS count as equal (numerical noise of the solvers)
    floor = 1e-3 * float(np.sqrt(np.mean(X[obs] ** 2)))
    for r in ranks:
        if scores[r] <= best * (1 + tolerance) + floor:
            return int(r), scores
    return int(ranks[0]), scores  # pragma: no cover


def singular_spectrum(values: HeterogeneityMatrix | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values of a complete matrix and the cumulative variance they explain.

    Parameters
    ----------
    values : HeterogeneityMatrix or array of shape (n, n)
        Must be complete (complete it first with :func:`complete_matrix`).

    Returns
    -------
    singular_values : ndarray of shape (n,)
        Descending.
    cumulative_explained : ndarray of shape (n,)
        ``cumsum(s**2) / sum(s**2)``: entry ``r - 1`` is the fraction of the squared
        Frobenius norm captured by the best rank-r approximation.
    """
    A = values.values if isinstance(values, HeterogeneityMatrix) else np.asarray(values, float)
    if A.ndim != 2:
        raise MatrixFormatError(f"spectrum: expected a 2-D matrix, got shape {A.shape}")
    if not np.isfinite(A).all():
        raise MatrixFormatError(
            "spectrum: matrix has unmeasured (NaN) entries; complete it first",
            source=getattr(values, "source", None),
        )
    s = np.linalg.svd(A, compute_uv=False)
    total = float(np.sum(s**2))
    cum = np.cumsum(s**2) / total if total > 0 else np.ones_like(s)
    return s, cum


def complete_matrix(
    matrix: HeterogeneityMatrix,
    method: str = "symmetric",
    rank: int | None = None,
    seed: int = 0,
    **params: Any,
) -> HeterogeneityMatrix:
    """Fill the unmeasured entries of ``matrix``.

    Parameters
    ----------
    matrix : HeterogeneityMatrix
    method : str, default="symmetric"
        A name from :func:`list_completers`.
    rank : int, optional
        Rank of the completion; None chooses it by held-out observed entries.
    seed : int, default=0
    **params
        Further parameters of the completer.

    Returns
    -------
    HeterogeneityMatrix
        No NaN values; observed entries unchanged; ``count`` (if present) is 0 on completed
        entries; ``std`` is dropped (completed entries have none). ``provenance`` records
        the method, rank and number of completed entries.
    """
    from hetero._provenance import provenance as _provenance

    completer = get_completer(method, rank=rank, seed=seed, **params)
    observed = matrix.observed
    values = completer.fit_transform(matrix.values)
    prov = _provenance(
        step="complete",
        method=completer.name,
        rank=completer.rank_,
        rank_requested=rank,
        rank_scores=completer.rank_scores_,
        seed=seed,
        n_completed=int((~observed).sum()),
    )
    if matrix.provenance:
        prov["input"] = matrix.provenance
    count = None if matrix.count is None else np.where(observed, matrix.count, 0)
    return HeterogeneityMatrix(
        matrix.labels,
        values,
        kind=matrix.kind,
        count=count,
        provenance=prov,
        source=matrix.source,
    )
