"""Measurement design: which ordered pairs ``i -> j`` to measure under a budget.

A full heterogeneity matrix costs ``n (n - 1)`` transfer runs. Low-rank completion needs
far fewer, provided every row keeps a few observed entries (a rank-r row needs at least r).
:func:`measurement_design` first guarantees ``min_per_row`` entries per row with a
circulant pattern over a random permutation of the units (a connected, near-regular
graph with the fewest possible pairs), then spends the rest of the budget on uniformly
random pairs.
"""

from __future__ import annotations

import math

import numpy as np

from hetero.errors import HeteroError

__all__ = ["measurement_design"]


def _cover_symmetric(n: int, m: int, perm: np.ndarray) -> np.ndarray:
    """Unordered pairs giving every node >= m neighbours with ceil(n m / 2) pairs."""
    mask = np.zeros((n, n), dtype=bool)
    if m == 0:
        return mask
    pos = np.arange(n)

    def link(a: np.ndarray, b: np.ndarray) -> None:
        mask[perm[a], perm[b]] = True
        mask[perm[b], perm[a]] = True

    for offset in range(1, m // 2 + 1):
        link(pos, (pos + offset) % n)
    if m % 2:
        if n % 2 == 0:  # the "diameter" chord: one more neighbour each
            link(pos[: n // 2], pos[: n // 2] + n // 2)
        else:  # n odd: match k with k + h (h = (n - 1) / 2), then the last node with h - 1
            h = (n - 1) // 2
            link(pos[:h], pos[:h] + h)
            link(np.array([n - 1]), np.array([h - 1]))
    return mask


def measurement_design(
    n: int,
    *,
    fraction: float | None = None,
    budget: int | None = None,
    min_per_row: int = 3,
    symmetric: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Choose which ordered pairs ``i -> j`` to measure.

    Parameters
    ----------
    n : int
        Number of units (rows of the matrix).
    fraction : float, optional
        Fraction of the ``n (n - 1)`` off-diagonal ordered pairs to measure, in (0, 1].
    budget : int, optional
        Number of ordered pairs to measure (give exactly one of ``fraction``/``budget``).
        With ``symmetric=True`` pairs come in both directions, so an odd budget is rounded
        down to an even number.
    min_per_row : int, default=3
        Every row (and, by construction, column) gets at least this many measured entries;
        use at least the rank you intend to complete with.
    symmetric : bool, default=True
        Measure ``j -> i`` whenever ``i -> j`` is measured (both directions are needed for
        the distance ``d_ij = max(T_ij, 0) + max(T_ji, 0)``).
    seed : int, default=0

    Returns
    -------
    ndarray of bool, shape (n, n)
        ``mask[i, j]`` is True when the transfer ``i -> j`` is to be measured; the
        diagonal is False.

    Raises
    ------
    HeteroError
        Both or neither of ``fraction``/``budget``, values out of range, or a budget too
        small to give every row ``min_per_row`` entries.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise HeteroError(f"design: n: expected a positive integer, got {n!r}")
    n = int(n)
    if isinstance(min_per_row, bool) or not isinstance(min_per_row, (int, np.integer)):
        raise HeteroError(f"design: min_per_row: expected an integer, got {min_per_row!r}")
    m = int(min_per_row)
    if m < 0 or m > n - 1:
        raise HeteroError(
            f"design: min_per_row={m} impossible with {n} units (each row has {n - 1}"
            " off-diagonal entries)"
        )
    total = n * (n - 1)
    if (fraction is None) == (budget is None):
        raise HeteroError("design: give exactly one of fraction and budget")
    if fraction is not None:
        if not (isinstance(fraction, (int, float)) and 0 < fraction <= 1):
            raise HeteroError(f"design: fraction: expected a number in (0, 1], got {fraction!r}")
        budget = round(fraction * total)
    assert budget is not None
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise HeteroError(f"design: budget: expected an integer, got {budget!r}")
    budget = int(budget)
    if budget < 0 or budget > total:
        raise HeteroError(
            f"design: budget {budget} out of range: {n} units have {total} ordered pairs"
        )
    if symmetric:
        budget -= budget % 2
        need = 2 * math.ceil(n * m / 2)
    else:
        need = n * m
    if budget < need:
        raise HeteroError(
            f"design: budget of {budget} ordered pairs is too small: at least {need} are"
            f" needed so that each of {n} rows has {m} measured entries"
            f"{' (in both directions)' if symmetric else ''}"
        )

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    if symmetric:
        mask = _cover_symmetric(n, m, perm)
        iu, ju = np.triu_indices(n, k=1)
        free = np.flatnonzero(~mask[iu, ju])
        extra = (budget - int(mask.sum())) // 2
        pick = rng.choice(free, size=min(extra, free.size), replace=False)
        mask[iu[pick], ju[pick]] = True
        mask[ju[pick], iu[pick]] = True
    else:
        mask = np.zeros((n, n), dtype=bool)
        pos = np.arange(n)
        for offset in range(1, m + 1):
            mask[perm[pos], perm[(pos + offset) % n]] = True
        off = ~np.eye(n, dtype=bool)
        free = np.flatnonzero((~mask & off).ravel())
        extra = budget - int(mask.sum())
        pick = rng.choice(free, size=min(extra, free.size), replace=False)
        mask.ravel()[pick] = True
    np.fill_diagonal(mask, False)
    return mask
