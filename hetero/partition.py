"""Budgeted partition search: ``k`` groups of least within-group heterogeneity.

Objective
---------
For a partition ``P`` of ``n`` items into groups, the **within-group heterogeneity** is

    W(P) = sum over groups g of sum over pairs i < j in g of d_ij,

the total distance of the pairs that end up sharing parameters. ``d_ij`` is what one pair
pays for sharing (the loss increase when either unit's parameters serve the other), so
``W`` is the total cost of the sharing a plan imposes. It is linear in the pair
indicators, hence solvable exactly as an integer program, and, unlike linkage heights, it
looks at every pair of a group, not only at the closest or farthest one. At a fixed number
of groups it grows with the square of a group's size, so it balances groups instead of
splitting off outliers (what average linkage does on distances dominated by per-unit main
effects). It is *not* invariant to adding a constant to ``d`` (a constant adds
``c * sum_g C(n_g, 2)``, a balance penalty), so which representation is searched matters:
:func:`hetero.grouping.make_plan` with ``remove_main_effects`` searches
``d_ij - (e_i - e) - (e_j - e)``: the per-unit main effects ``e_i`` replaced by their mean,
so that no unit is cheap to isolate for being far from everything, while the mean distance
(and with it the balance penalty of the raw distances) is kept.

The mean within-group distance (weighted by group size) would not favour balance and is
not linear; with ``W`` a parameter budget maps directly onto ``k`` (:func:`groups_for_budget`).

Searches
--------
- :func:`exact_partition`: mixed-integer program solved by HiGHS (``scipy.optimize.milp``)
  in the transitivity (clique-partitioning) formulation: a binary ``y_ij`` per pair
  (``1`` = same group), the triangle constraints ``y_ij + y_jl - y_il <= 1`` (in all three
  orientations) that make "same group" transitive, and a representative indicator ``r_i``
  (item ``i`` is the lowest-numbered member of its group) with ``sum r_i = k``. The
  formulation has no label symmetry (groups are not numbered) and a tight relaxation. A
  minimum group size ``m`` is ``sum_j y_ij >= m - 1`` for every ``i``. Up to
  :data:`EXACT_MAX_N` items (the ``3 C(n, 3)`` triangle constraints grow as ``n^3``);
  optimality is proven unless the time limit stops the solver first.
- :func:`local_partition`: seeded multi-start steepest descent over single-item moves and
  pairwise swaps (keeping every group at least ``m`` large), each start a random
  feasible assignment; optional warm starts (e.g. a linkage cut).
- :func:`partition`: ``search="auto"`` uses the exact program up to :data:`EXACT_MAX_N`
  items and the local search beyond; when the program stops at its time limit the better
  of its incumbent and the local search is returned.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetero.errors import PlanError

__all__ = [
    "EXACT_MAX_N",
    "PARTITION_SEARCHES",
    "PartitionResult",
    "canonical_labels",
    "exact_partition",
    "groups_for_budget",
    "local_partition",
    "partition",
    "within_cost",
]

#: Largest number of items :func:`partition` (``search="auto"``) solves exactly. On
#: unstructured (uniform random) distances, the hardest case, HiGHS proves the optimum of
#: 12 items in 3 groups in about 3 s on one core, of 16 items in 8-17 s (docs/concepts.md).
EXACT_MAX_N = 12

#: Searches of :func:`partition`.
PARTITION_SEARCHES = ("auto", "exact", "local")


@dataclass
class PartitionResult:
    """Result of a partition search.

    Attributes
    ----------
    labels : ndarray of int, shape (n,)
        Group of each item, numbered by first member (group 0 holds item 0).
    cost : float
        Within-group heterogeneity :func:`within_cost` of ``labels``.
    search : {"exact", "local"}
        Which search produced ``labels``.
    optimal : bool
        True when the exact program proved ``labels`` optimal.
    bound : float
        Lower bound on the optimal cost (the solver's dual bound; ``cost`` when optimal,
        ``-inf`` for the local search).
    n_starts : int
        Local-search starts (0 for the exact program alone).
    """

    labels: np.ndarray
    cost: float
    search: str
    optimal: bool
    bound: float
    n_starts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the labels)."""
        return {
            "search": self.search,
            "cost": float(self.cost),
            "optimal": bool(self.optimal),
            "bound": float(self.bound) if np.isfinite(self.bound) else None,
            "n_starts": int(self.n_starts),
        }


def canonical_labels(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Renumber groups by first member (group 0 holds item 0, the next new group is 1...)."""
    numbering: dict[int, int] = {}
    return np.array([numbering.setdefault(int(g), len(numbering)) for g in labels], dtype=int)


def within_cost(distance: np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Within-group heterogeneity ``sum_g sum_{i<j in g} d_ij`` of a partition.

    ``distance`` is a square array (its symmetric part is used, the diagonal ignored).
    """
    D = _square(distance)
    g = np.asarray(labels)
    same = g[:, None] == g[None, :]
    iu = np.triu_indices(len(g), 1)
    return float(D[iu][same[iu]].sum())


def groups_for_budget(
    parameters: int, *, per_group: int, fixed: int = 0, n_items: int | None = None
) -> int:
    """Number of groups a parameter budget pays for.

    Every group is one copy of a shared block of ``per_group`` parameters and ``fixed``
    parameters are spent whatever the grouping (input projections, heads), so
    ``k = floor((parameters - fixed) / per_group)``, capped at ``n_items``.

    Raises
    ------
    PlanError
        The budget does not pay for one group, or non-positive sizes.
    """
    for name, v in (("parameters", parameters), ("per_group", per_group), ("fixed", fixed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise PlanError(f"{name}: expected a non-negative integer, got {v!r}")
    if per_group < 1:
        raise PlanError(f"per_group: expected a positive number of parameters, got {per_group}")
    k = (int(parameters) - int(fixed)) // int(per_group)
    if k < 1:
        raise PlanError(
            f"a budget of {parameters} parameters does not pay for one group of {per_group}"
            f" (plus {fixed} fixed)"
        )
    return min(k, n_items) if n_items is not None else k


# --------------------------------------------------------------------------- checks


def _square(distance: Any) -> np.ndarray:
    D = np.asarray(distance, dtype=float)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise PlanError(f"distance: expected a square array, got shape {D.shape}")
    if not np.isfinite(D).all():
        raise PlanError("distance: expected finite numbers (complete the matrix first)")
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    return D


def _check_k(n: int, n_groups: Any, min_group_size: Any) -> tuple[int, int]:
    for name, v in (("number of groups", n_groups), ("min_group_size", min_group_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise PlanError(f"{name}: expected a positive integer, got {v!r}")
    if n_groups > n:
        raise PlanError(
            f"number of groups {n_groups} must be between 1 and the number of units ({n})"
        )
    if n_groups * min_group_size > n:
        raise PlanError(
            f"{n_groups} groups of at least {min_group_size} need {n_groups * min_group_size}"
            f" units, there are {n}"
        )
    return int(n_groups), int(min_group_size)


# --------------------------------------------------------------------------- exact


class _NoSolution(PlanError):
    """The exact program stopped at its time limit without a feasible partition."""


def _min_pairs(n: int, k: int) -> int:
    """Fewest within-group pairs of a partition of ``n`` items into ``k`` groups."""
    q, r = divmod(n, k)
    return r * (q + 1) * q // 2 + (k - r) * q * (q - 1) // 2


def exact_partition(
    distance: np.ndarray,
    n_groups: int,
    *,
    min_group_size: int = 1,
    time_limit: float | None = 30.0,
) -> PartitionResult:
    """Minimum within-group heterogeneity partition into exactly ``n_groups`` groups (MILP).

    Parameters
    ----------
    distance : array of shape (n, n)
        Finite; symmetrised, diagonal ignored. Entries may be negative (e.g. distances
        with their main effects removed).
    n_groups : int
        Number of groups ``k``, ``1 <= k <= n``.
    min_group_size : int, default=1
        Every group has at least this many items.
    time_limit : float or None, default=30
        Seconds for the solver; when it stops early the best partition found is returned
        with ``optimal=False``.

    Returns
    -------
    PartitionResult

    Raises
    ------
    PlanError
        Infeasible sizes, or no feasible partition found within the time limit.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    D = _square(distance)
    n = D.shape[0]
    k, m = _check_k(n, n_groups, min_group_size)
    if k == 1 or k == n:
        labels = np.zeros(n, dtype=int) if k == 1 else np.arange(n)
        value = within_cost(D, labels)
        return PartitionResult(labels, value, "exact", True, value)
    iu, ju = np.triu_indices(n, 1)
    n_pairs = len(iu)
    pair = np.full((n, n), -1, dtype=int)
    pair[iu, ju] = np.arange(n_pairs)
    pair[ju, iu] = np.arange(n_pairs)
    n_var = n_pairs + n  # y_ij (i < j), then r_i
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add(entries: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(lo)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lo.append(low)
        hi.append(high)

    for i, j, el in itertools.combinations(range(n), 3):
        a, b, c = pair[i, j], pair[j, el], pair[i, el]
        add([(a, 1.0), (b, 1.0), (c, -1.0)], -np.inf, 1.0)
        add([(a, 1.0), (c, 1.0), (b, -1.0)], -np.inf, 1.0)
        add([(b, 1.0), (c, 1.0), (a, -1.0)], -np.inf, 1.0)
    for i in range(n):
        r_i = n_pairs + i
        earlier = [(int(pair[j, i]), 1.0) for j in range(i)]
        for c, _ in earlier:  # i shares a group with an earlier item: not a representative
            add([(r_i, 1.0), (c, 1.0)], -np.inf, 1.0)
        add([(r_i, 1.0), *earlier], 1.0, np.inf)  # ... otherwise it is one
        if m > 1:
            add([(int(pair[i, j]), 1.0) for j in range(n) if j != i], m - 1, np.inf)
    add([(n_pairs + i, 1.0) for i in range(n)], k, k)
    # k groups of n items hold at least the pairs of the most balanced sizes: a valid cut
    # that keeps the relaxation from spreading "same group" thinly over all pairs
    add([(c, 1.0) for c in range(n_pairs)], _min_pairs(n, k), np.inf)
    A = coo_array((vals, (rows, cols)), shape=(len(lo), n_var)).tocsr()
    cost = np.concatenate([D[iu, ju], np.zeros(n)])
    integrality = np.concatenate([np.ones(n_pairs), np.zeros(n)])
    options: dict[str, Any] = {"disp": False}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    res = milp(
        cost,
        constraints=LinearConstraint(A, np.array(lo), np.array(hi)),
        integrality=integrality,
        bounds=Bounds(0.0, 1.0),
        options=options,
    )
    if res.x is None:
        raise _NoSolution(
            f"exact partition search found no solution within its time limit ({time_limit} s);"
            " use search='local'"
        )
    y = np.round(res.x[:n_pairs]).astype(bool)
    same = np.eye(n, dtype=bool)
    same[iu[y], ju[y]] = True
    same[ju[y], iu[y]] = True
    labels = canonical_labels(np.argmax(same, axis=1))  # first member of each item's group
    value = within_cost(D, labels)
    optimal = bool(res.status == 0)
    bound = getattr(res, "mip_dual_bound", None)
    bound = value if optimal else (float(bound) if bound is not None else -np.inf)
    return PartitionResult(labels, value, "exact", optimal, bound)


# --------------------------------------------------------------------------- local


def _random_start(n: int, k: int, m: int, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(n)
    labels = np.empty(n, dtype=int)
    labels[order[: k * m]] = np.repeat(np.arange(k), m)
    labels[order[k * m :]] = rng.integers(0, k, size=n - k * m)
    return labels


def _descend(D: np.ndarray, labels: np.ndarray, k: int, m: int) -> np.ndarray:
    """Steepest descent over moves and swaps until no step lowers the cost."""
    n = len(labels)
    labels = labels.copy()
    idx = np.arange(n)
    tol = 1e-12 * max(float(np.abs(D).max()), 1e-300)
    for _ in range(50 * n * n):  # each step strictly lowers the cost; a generous cap
        onehot = np.zeros((n, k))
        onehot[idx, labels] = 1.0
        A = D @ onehot  # A[i, g] = sum of d_ij over the members j of group g
        size = onehot.sum(axis=0)
        own = A[idx, labels]
        move = A - own[:, None]  # move i to group h
        move[idx, labels] = np.inf
        move[size[labels] <= m, :] = np.inf  # would leave a group too small
        # swap i and j (different groups): i joins g_j minus j, j joins g_i minus i
        swap = A[:, labels] - own[:, None]
        swap = swap + swap.T - 2.0 * D
        swap[labels[:, None] == labels[None, :]] = np.inf
        best_move, best_swap = float(move.min()), float(swap.min())
        if min(best_move, best_swap) >= -tol:
            return labels
        if best_move <= best_swap:
            i, h = np.unravel_index(int(np.argmin(move)), move.shape)
            labels[i] = h
        else:
            i, j = np.unravel_index(int(np.argmin(swap)), swap.shape)
            labels[i], labels[j] = labels[j], labels[i]
    return labels


def local_partition(
    distance: np.ndarray,
    n_groups: int,
    *,
    min_group_size: int = 1,
    n_starts: int = 50,
    seed: int = 0,
    init: Sequence[Sequence[int] | np.ndarray] = (),
) -> PartitionResult:
    """Multi-start local search for the minimum within-group heterogeneity partition.

    Each start is a random assignment with every group at least ``min_group_size`` large,
    improved by steepest descent over moving one item to another group and swapping two
    items of different groups; the best local optimum over the starts is returned.

    Parameters
    ----------
    distance : array of shape (n, n)
    n_groups : int
    min_group_size : int, default=1
    n_starts : int, default=50
        Random starts.
    seed : int, default=0
        Seed of the random starts.
    init : sequence of label arrays, optional
        Extra starts (each with exactly ``n_groups`` groups of at least ``min_group_size``;
        others are skipped), e.g. a linkage cut, so that the result is never worse.

    Returns
    -------
    PartitionResult
        ``optimal`` is False (a local search proves nothing).
    """
    D = _square(distance)
    n = D.shape[0]
    k, m = _check_k(n, n_groups, min_group_size)
    if isinstance(n_starts, bool) or not isinstance(n_starts, (int, np.integer)) or n_starts < 1:
        raise PlanError(f"n_starts: expected a positive integer, got {n_starts!r}")
    rng = np.random.default_rng(seed)
    starts = []
    for start in init:
        s = canonical_labels(start)
        if len(s) == n and s.max() + 1 == k and np.bincount(s, minlength=k).min() >= m:
            starts.append(s)
    starts += [_random_start(n, k, m, rng) for _ in range(int(n_starts))]
    best: np.ndarray | None = None
    best_cost = np.inf
    for start in starts:
        labels = _descend(D, start, k, m)
        c = within_cost(D, labels)
        if best is None or c < best_cost - 1e-12 * max(abs(best_cost), 1.0):
            best, best_cost = labels, c
    assert best is not None
    return PartitionResult(
        canonical_labels(best), float(best_cost), "local", False, -np.inf, len(starts)
    )


def partition(
    distance: np.ndarray,
    n_groups: int,
    *,
    min_group_size: int = 1,
    search: str = "auto",
    seed: int = 0,
    n_starts: int = 50,
    time_limit: float | None = 30.0,
    init: Sequence[Sequence[int] | np.ndarray] = (),
) -> PartitionResult:
    """Minimum within-group heterogeneity partition (exact or local search).

    Parameters
    ----------
    distance : array of shape (n, n)
    n_groups : int
    min_group_size : int, default=1
    search : {"auto", "exact", "local"}
        ``auto``: exact up to :data:`EXACT_MAX_N` items, local search beyond.
    seed, n_starts, init
        Of the local search (:func:`local_partition`).
    time_limit : float or None
        Of the exact program (:func:`exact_partition`); when it stops early, the local
        search runs too and the better partition is returned.
    """
    if search not in PARTITION_SEARCHES:
        raise PlanError(
            f"unknown partition search {search!r} (expected one of {', '.join(PARTITION_SEARCHES)})"
        )
    n = np.asarray(distance).shape[0]
    if search == "exact" or (search == "auto" and n <= EXACT_MAX_N):
        try:
            res = exact_partition(
                distance, n_groups, min_group_size=min_group_size, time_limit=time_limit
            )
        except _NoSolution:
            res = None
        if res is not None and res.optimal:
            return res
        alt = local_partition(
            distance, n_groups, min_group_size=min_group_size, n_starts=n_starts, seed=seed,
            init=[*init] if res is None else [res.labels, *init],
        )  # fmt: skip
        if res is None:
            return alt
        alt.bound = res.bound
        return alt if alt.cost < res.cost else res
    return local_partition(
        distance, n_groups, min_group_size=min_group_size, n_starts=n_starts, seed=seed, init=init
    )
