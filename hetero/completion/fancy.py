"""fancyimpute solvers as completers: ``softimpute``, ``iterativesvd``,
``matrixfactorization`` and ``nuclearnorm`` (fancyimpute and cvxpy imported lazily)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hetero.completion.base import Completer
from hetero.completion.registry import register_completer
from hetero.errors import HeteroError

__all__ = [
    "FancyImputeCompleter",
    "IterativeSVDCompleter",
    "MatrixFactorizationCompleter",
    "NuclearNormCompleter",
    "SoftImputeCompleter",
]


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
    except ImportError as exc:  # the optional `completion` extra is not installed
        raise HeteroError(
            f"fancyimpute is not importable ({exc}); install the completion extra: "
            "pip install 'hetero[completion]'"
        ) from None
    return fancyimpute


@register_completer("softimpute")
class SoftImputeCompleter(FancyImputeCompleter):
    """fancyimpute ``SoftImpute`` (nuclear-norm shrinkage); ``rank`` caps the SVD rank."""

    name = "softimpute"

    def __init__(self, rank: int | None = None, seed: int = 0, max_iters: int = 100):
        super().__init__(rank=rank, seed=seed)
        self.max_iters = int(max_iters)

    def _solver(self, rank: int | None, n: int) -> Any:
        return _fancyimpute().SoftImpute(max_rank=rank, max_iters=self.max_iters, verbose=False)


@register_completer("iterativesvd")
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


@register_completer("matrixfactorization")
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


@register_completer("nuclearnorm")
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
        base = _fancyimpute().NuclearNormMinimization  # first: a one-line error without it
        import cvxpy  # a dependency of fancyimpute

        solver_name = self.solver.upper()
        if solver_name not in cvxpy.installed_solvers():
            raise HeteroError(
                f"nuclearnorm: cvxpy solver {self.solver!r} is not installed"
                f" (installed: {', '.join(cvxpy.installed_solvers())})"
            )

        class _Solver(base):  # type: ignore[valid-type,misc]  # fancyimpute's objective and constraints, our solver choice
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
