"""The :class:`Completer` interface, its input check and held-out rank selection."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from hetero.errors import HeteroError, MatrixFormatError
from hetero.matrix import square_values

__all__ = ["Completer", "select_rank"]


def _check_input(X: Any) -> np.ndarray:
    """A float copy of ``X``: square, no inf (:func:`hetero.matrix.square_values`), and at
    least one observed off-diagonal entry."""
    values, _, source = square_values(X, name="completion")
    n = values.shape[0]
    if n > 1 and not (~np.isnan(values) & ~np.eye(n, dtype=bool)).any():
        raise MatrixFormatError(
            "completion: no observed off-diagonal entry to complete from", source=source
        )
    return values


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
    #: Smallest rank (0 where a rank-0 model means something, e.g. main effects alone).
    min_rank: ClassVar[int] = 1
    max_auto_rank: ClassVar[int] = 8

    def __init__(self, rank: int | None = None, seed: int = 0):
        low = type(self).min_rank
        if rank is not None and (not isinstance(rank, (int, np.integer)) or rank < low):
            what = "a positive integer" if low == 1 else f"an integer >= {low}"
            raise HeteroError(f"rank: expected {what} or None, got {rank!r}")
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
        ranks = list(range(type(completer).min_rank, limit + 1))
    n_hide = round(holdout * n_pairs)
    if len(ranks) == 1 or n_hide < 1:
        return int(ranks[0]), {}
    rng = np.random.default_rng(seed)
    errors: dict[int, list[float]] = {r: [] for r in ranks}
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
